/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer harness for the DNS query path: any bytes as a UDP datagram and
 * as a TCP message, answered from a snapshot with every kind of name.
 * Build: make fuzz (clang); the corpus replays in make check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "answer.h"
#include "config.h"
#include "registry.h"
#include "snapshot.h"

static const char CONFIG[] =
	"dns:\n"
	"  listen_address: \"127.0.0.1:53\"\n"
	"  nsid: true\n"
	"  zones:\n"
	"    - name: gslb.test\n"
	"      nameservers:\n"
	"        - { name: ns1.gslb.test, addresses: [192.0.2.53, \"::1\"] }\n"
	"        - ns.other.example\n"
	"overwatch:\n"
	"  dnssec:\n"
	"    enabled: false\n"
	"    security_acknowledgment: \"" GSLB_DNSSEC_ACK "\"\n"
	"regions:\n"
	"  - name: r\n"
	"    servers:\n"
	"      - { address: 192.0.2.1, service: a.gslb.test }\n"
	"      - { address: 192.0.2.2, service: a.gslb.test }\n"
	"      - { address: \"2001:db8::1\", service: a.gslb.test }\n"
	"      - { address: 192.0.2.3, weight: 0, service: w.gslb.test }\n"
	"      - { address: 192.0.2.4, service: w.gslb.test }\n"
	"      - { address: 192.0.2.5, service: f.x.gslb.test }\n"
	"domains:\n"
	"  - { name: a.gslb.test, regions: [r], max_records: 3 }\n"
	"  - { name: w.gslb.test, routing_algorithm: weighted, regions: [r] }\n"
	"  - { name: f.x.gslb.test, routing_algorithm: failover,"
	" regions: [r] }\n"
	"  - { name: gslb.test, regions: [r] }\n";

static struct snapshot *snap;
static struct answer_ctx ctx;
static uint8_t out[65535];

static void setup(void)
{
	char dir[] = "/tmp/gslb-fuzz-XXXXXX";
	char path[64];
	if (mkdtemp(dir) == NULL) {
		abort();
	}
	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		abort();
	}
	fputs(CONFIG, f);
	fclose(f);
	chmod(path, 0600);

	struct gslb_config *cfg = NULL;
	struct gslb_config_errors errs = { 0 };
	struct gslb_registry *reg = NULL;
	if (gslb_config_load(path, GSLB_MODE_OVERWATCH, &cfg, &errs) != 0 ||
	    gslb_registry_new(GSLB_SEC, &reg) != 0 ||
	    gslb_registry_sync_static(reg, cfg, 0) != 0 ||
	    snapshot_build(cfg, reg, NULL, NULL, 1, &snap) != 0 ||
	    answer_ctx_init(&ctx, 1) != 0) {
		abort();
	}
	/* The snapshot is self-contained. */
	gslb_registry_free(reg);
	gslb_config_free(cfg);
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t query[65535];
	if (snap == NULL) {
		setup();
	}
	if (size > sizeof(query)) {
		return 0;
	}
	for (int tcp = 0; tcp <= 1; tcp++) {
		/* answer_query() may change the query in place. */
		memcpy(query, data, size);
		size_t len = answer_query(&ctx, snap, query, size, out,
					  tcp ? sizeof(out) : 4096, tcp);
		if (len > (tcp ? sizeof(out) : 4096)) {
			abort();
		}
	}
	return 0;
}
