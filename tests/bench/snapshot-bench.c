/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * snapshot-bench - how long gslb-overwatchd's main thread takes to build
 * the DNS answer snapshot for NAMES round-robin names of PER backends each
 * (one region, DNSSEC off: signing is sign-bench.py's subject). The daemon
 * builds one after every health change (at most every 20 ms), and its
 * event loop, health checks included, waits meanwhile.
 *
 * Usage: tests/bench/snapshot-bench [NAMES [PER [BUILDS]]]
 *        (default 2500 names x 4 backends, 50 builds)
 * Prints the minimum, median and maximum build time in milliseconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "registry.h"
#include "snapshot.h"

static int write_config(const char *path, long names, long per)
{
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		return -1;
	}
	fprintf(f, "mode: overwatch\n"
		   "dns:\n"
		   "  zones:\n"
		   "    - name: gslb.test\n"
		   "      nameservers:\n"
		   "        - { name: ns1.gslb.test, addresses: [127.0.0.1] }\n"
		   "overwatch:\n"
		   "  gossip: {encryption_key: "
		   "\"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=\"}\n"
		   "  dnssec:\n"
		   "    enabled: false\n"
		   "    security_acknowledgment: \"" GSLB_DNSSEC_ACK "\"\n"
		   "regions:\n"
		   "  - name: bench\n"
		   "    servers:\n");
	for (long i = 0; i < names * per; i++) {
		fprintf(f,
			"      - { address: 10.%ld.%ld.%ld, service: "
			"s%ld.gslb.test }\n",
			(i >> 16) & 255, (i >> 8) & 255, i & 255, i / per);
	}
	fprintf(f, "domains:\n");
	for (long i = 0; i < names; i++) {
		fprintf(f, "  - { name: s%ld.gslb.test, regions: [bench] }\n",
			i);
	}
	return fclose(f);
}

static int by_value(const void *a, const void *b)
{
	const gslb_duration_t x = *(const gslb_duration_t *)a;
	const gslb_duration_t y = *(const gslb_duration_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const long names = argc > 1 ? atol(argv[1]) : 2500;
	const long per = argc > 2 ? atol(argv[2]) : 4;
	const long builds = argc > 3 ? atol(argv[3]) : 50;
	if (names < 1 || per < 1 || builds < 1 || names * per > (1L << 24)) {
		fprintf(stderr, "usage: %s [NAMES [PER [BUILDS]]]\n", argv[0]);
		return 64;
	}

	char dir[] = "/tmp/snapshot-bench-XXXXXX";
	char path[64];
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/overwatch.yaml", dir);
	struct gslb_config *cfg = NULL;
	struct gslb_config_errors errs = { 0 };
	struct gslb_registry *reg = NULL;
	int ret = write_config(path, names, per) != 0 ? 1 : 0;
	if (ret == 0) {
		chmod(path, 0600);
		ret = gslb_config_load(path, GSLB_MODE_OVERWATCH, &cfg, &errs);
	}
	unlink(path);
	rmdir(dir);
	if (ret != 0 || gslb_registry_new(GSLB_SEC, &reg) != 0 ||
	    gslb_registry_sync_static(reg, cfg, 0) != 0) {
		fprintf(stderr, "snapshot-bench: cannot set up the config\n");
		return 1;
	}

	gslb_duration_t *took = calloc((size_t)builds, sizeof(*took));
	struct snapshot *prev = NULL;
	for (long i = 0; i < builds && took != NULL; i++) {
		struct snapshot *snap = NULL;
		const gslb_time_t start = gslb_clock_mono();
		if (snapshot_build(cfg, reg, prev, NULL, (uint64_t)i + 1,
				   &snap) != 0) {
			fprintf(stderr, "snapshot-bench: build failed\n");
			return 1;
		}
		took[i] = gslb_clock_mono() - start;
		snapshot_free(prev);
		prev = snap;
	}
	if (took == NULL) {
		return 1;
	}
	qsort(took, (size_t)builds, sizeof(*took), by_value);
	printf("%ld names x %ld backends, %ld builds: min %.2f ms, median "
	       "%.2f ms, max %.2f ms\n",
	       names, per, builds, (double)took[0] / GSLB_MSEC,
	       (double)took[builds / 2] / GSLB_MSEC,
	       (double)took[builds - 1] / GSLB_MSEC);
	snapshot_free(prev);
	free(took);
	gslb_registry_free(reg);
	gslb_config_free(cfg);
	return 0;
}
