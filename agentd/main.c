/* SPDX-License-Identifier: GPL-3.0-or-later */
/* gslb-agentd: flags, configuration, then the agent loop. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "agent.h"
#include "config.h"
#include "daemon.h"
#include "error.h"
#include "fsutil.h"
#include "log.h"
#include "seal.h"

#ifndef GSLB_CONFDIR
#define GSLB_CONFDIR "/etc/opengslb"
#endif
#define DEFAULT_CONFIG GSLB_CONFDIR "/agent.yaml"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: gslb-agentd [-c FILE] [--check-config] "
		"[--rotate-identity]\n"
		"\n"
		"Checks local backends and reports them to the OpenGSLB "
		"overwatches.\n"
		"\n"
		"  -c, --config FILE      configuration file (default %s)\n"
		"  -C, --check-config     check the configuration and exit\n"
		"      --rotate-identity  replace the certificate at start "
		"(endorsed by the old)\n"
		"  -V, --version          print the version and exit\n"
		"  -h, --help             print this help and exit\n"
		"\n"
		"Signals: SIGHUP reloads, SIGTERM/SIGINT deregister and stop,\n"
		"SIGUSR1 drains every backend, SIGUSR2 ends that drain.\n"
		"\n"
		"Exit status: 0 success, 1 runtime error, 64 usage error,\n"
		"78 invalid configuration.\n",
		DEFAULT_CONFIG);
}

/* Before the identity is read or made: its files belong to the user that
 * will read them. */
static int leave_root(const struct gslb_config *cfg)
{
	char cert_dir[PATH_MAX], key_dir[PATH_MAX], why[256];
	gslb_dirname(cfg->agent.identity.cert_path, cert_dir, sizeof(cert_dir));
	gslb_dirname(cfg->agent.identity.key_path, key_dir, sizeof(key_dir));
	const char *dirs[2] = { cert_dir, key_dir };
	int ret = gslb_drop_privileges(cfg->process.user, cfg->process.group,
				       dirs, 2, why, sizeof(why));
	if (ret == GSLB_EOK) {
		return EXIT_SUCCESS;
	}
	log_error("main", "%s", why);
	return ret == GSLB_ECONFIG ? EX_CONFIG : EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	enum { OPT_ROTATE = 256 };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "rotate-identity", no_argument, NULL, OPT_ROTATE },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = DEFAULT_CONFIG;
	bool check_only = false;
	bool rotate = false;
	int c;
	while ((c = getopt_long(argc, argv, "c:CVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'C':
			check_only = true;
			break;
		case OPT_ROTATE:
			rotate = true;
			break;
		case 'V':
			printf("gslb-agentd (OpenGSLB) %s\n", PACKAGE_VERSION);
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
		fprintf(stderr, "gslb-agentd: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}

	struct gslb_config *cfg = NULL;
	struct gslb_config_errors errs = { 0 };
	int ret = gslb_config_load(config_path, GSLB_MODE_AGENT, &cfg, &errs);
	if (ret != GSLB_EOK) {
		gslb_config_errors_print(stderr, config_path, &errs);
		gslb_config_errors_clear(&errs);
		gslb_config_free(cfg);
		return EX_CONFIG;
	}
	if (check_only) {
		printf("%s: configuration is valid (agent id %s, %zu backends, "
		       "%zu overwatches)\n",
		       config_path, cfg->agent.identity.agent_id,
		       cfg->agent.n_backends,
		       cfg->agent.gossip.n_overwatch_nodes);
		gslb_config_free(cfg);
		return EXIT_SUCCESS;
	}

	gslb_log_setup(&cfg->logging, "gslb-agentd");
	log_info("main", "gslb-agentd %s starting, config %s", PACKAGE_VERSION,
		 config_path);
	ret = leave_root(cfg);
	if (ret != EXIT_SUCCESS) {
		gslb_config_free(cfg);
		return ret;
	}
	if (gslb_seal_init() != GSLB_EOK) {
		log_error("main", "cannot initialise libsodium");
		gslb_config_free(cfg);
		return EXIT_FAILURE;
	}
	return agent_run(config_path, cfg, rotate);
}
