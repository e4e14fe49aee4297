/* SPDX-License-Identifier: GPL-3.0-or-later */
/* gslb-overwatchd: flags, configuration, then the server loop. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include <libknot/version.h>

#include "config.h"
#include "daemon.h"
#include "dnssec.h"
#include "error.h"
#include "fsutil.h"
#include "log.h"
#include "seal.h"
#include "server.h"

#ifndef GSLB_CONFDIR
#define GSLB_CONFDIR "/etc/opengslb"
#endif
#define DEFAULT_CONFIG GSLB_CONFDIR "/overwatch.yaml"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: gslb-overwatchd [-c FILE] [--check-config]\n"
		"\n"
		"Authoritative DNS for load-balanced names (OpenGSLB).\n"
		"\n"
		"  -c, --config FILE   configuration file (default %s)\n"
		"  -C, --check-config  check the configuration and exit\n"
		"  -V, --version       print the version and exit\n"
		"  -h, --help          print this help and exit\n"
		"\n"
		"Exit status: 0 success, 1 runtime error, 64 usage error,\n"
		"78 invalid configuration.\n",
		DEFAULT_CONFIG);
}

/* Before anything is opened: the state database and the API socket are
 * made by the user that will use them; ports come after, as that user. */
static int leave_root(const struct gslb_config *cfg)
{
	char sockdir[PATH_MAX] = "";
	const char *dirs[2] = { cfg->overwatch.data_dir, sockdir };
	if (cfg->api.enabled && cfg->api.socket != NULL) {
		gslb_dirname(cfg->api.socket, sockdir, sizeof(sockdir));
	}
	char why[256];
	int ret = gslb_drop_privileges(cfg->process.user, cfg->process.group,
				       dirs, sockdir[0] != '\0' ? 2 : 1, why,
				       sizeof(why));
	if (ret == GSLB_EOK) {
		return EXIT_SUCCESS;
	}
	log_error("main", "%s", why);
	return ret == GSLB_ECONFIG ? EX_CONFIG : EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = DEFAULT_CONFIG;
	bool check_only = false;
	int c;
	while ((c = getopt_long(argc, argv, "c:CVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'C':
			check_only = true;
			break;
		case 'V':
			printf("gslb-overwatchd (OpenGSLB) %s, libknot "
			       "%d.%d.%d\n",
			       PACKAGE_VERSION, KNOT_VERSION_MAJOR,
			       KNOT_VERSION_MINOR, KNOT_VERSION_PATCH);
			return EXIT_SUCCESS;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "gslb-overwatchd: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}

	struct gslb_config *cfg = NULL;
	struct gslb_config_errors errs = { 0 };
	if (gslb_config_load(config_path, GSLB_MODE_OVERWATCH, &cfg, &errs) !=
	    GSLB_EOK) {
		gslb_config_errors_print(stderr, config_path, &errs);
		gslb_config_errors_clear(&errs);
		return EX_CONFIG;
	}
	if (check_only) {
		printf("%s: configuration is valid (%zu zones, %zu domains, "
		       "%zu regions)\n",
		       config_path, cfg->dns.n_zones, cfg->n_domains,
		       cfg->n_regions);
		gslb_config_free(cfg);
		return EXIT_SUCCESS;
	}

	gslb_log_setup(&cfg->logging, "gslb-overwatchd");
	log_info("main",
		 "gslb-overwatchd %s starting (libknot %d.%d.%d), config %s",
		 PACKAGE_VERSION, KNOT_VERSION_MAJOR, KNOT_VERSION_MINOR,
		 KNOT_VERSION_PATCH, config_path);
	int ret = leave_root(cfg);
	if (ret != EXIT_SUCCESS) {
		gslb_config_free(cfg);
		return ret;
	}
	/* Before any thread: libdnssec initialises GnuTLS. */
	dnssec_global_init();
	if (gslb_seal_init() != GSLB_EOK) {
		log_error("main", "cannot initialise libsodium");
		return EXIT_FAILURE;
	}
	ret = server_run(config_path, cfg);
	dnssec_global_cleanup();
	return ret;
}
