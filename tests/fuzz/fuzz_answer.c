/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer harness for the DNS query path: any bytes as a UDP datagram and
 * as a TCP message, answered from snapshots with every kind of name, one
 * unsigned, one signed with an NSEC chain and one with NSEC3.
 * Build: make fuzz (clang); the corpus replays in make check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "answer.h"
#include "config.h"
#include "dnssec.h"
#include "registry.h"
#include "snapshot.h"

/*
 * A printf format: the overwatch.dnssec section, then the servers of
 * m.gslb.test. Answers of up to 8 of its 16 backends have too many
 * combinations to sign each: DO=1 answers pick among sampled signed sets.
 * c.gslb.test (2 of 5) has a signature for every combination.
 */
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
	"  gossip: {encryption_key: "
	"\"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=\"}\n"
	"  dnssec:\n"
	"%s"
	"regions:\n"
	"  - name: r\n"
	"    servers:\n"
	"      - { address: 192.0.2.1, service: a.gslb.test }\n"
	"      - { address: 192.0.2.2, service: a.gslb.test }\n"
	"      - { address: \"2001:db8::1\", service: a.gslb.test }\n"
	"      - { address: 192.0.2.3, weight: 0, service: w.gslb.test }\n"
	"      - { address: 192.0.2.4, service: w.gslb.test }\n"
	"      - { address: 192.0.2.5, service: f.x.gslb.test }\n"
	"      - { address: 198.51.100.1, weight: 10, service: c.gslb.test }\n"
	"      - { address: 198.51.100.2, weight: 20, service: c.gslb.test }\n"
	"      - { address: 198.51.100.3, weight: 30, service: c.gslb.test }\n"
	"      - { address: 198.51.100.4, weight: 40, service: c.gslb.test }\n"
	"      - { address: 198.51.100.5, weight: 50, service: c.gslb.test }\n"
	"%s"
	"domains:\n"
	"  - { name: a.gslb.test, regions: [r], max_records: 3 }\n"
	"  - { name: w.gslb.test, routing_algorithm: weighted, regions: [r] }\n"
	"  - { name: f.x.gslb.test, routing_algorithm: failover,"
	" regions: [r] }\n"
	"  - { name: gslb.test, regions: [r] }\n"
	"  - { name: c.gslb.test, routing_algorithm: weighted, regions: [r],"
	" max_records: 2 }\n"
	"  - { name: m.gslb.test, routing_algorithm: weighted, regions: [r],"
	" max_records: 8 }\n";

static const char *const DNSSEC[] = {
	"    enabled: false\n"
	"    security_acknowledgment: \"" GSLB_DNSSEC_ACK "\"\n",
	"    denial: nsec\n",
	"    denial: nsec3\n",
};
#define N_SNAPS (sizeof(DNSSEC) / sizeof(DNSSEC[0]))

static struct snapshot *snaps[N_SNAPS];
static struct zone_key *key;
static struct signer *signer;
static struct answer_ctx ctx;
static uint8_t out[65535];

static struct signer *signer_for(void *arg, const char *zone)
{
	(void)arg;
	(void)zone;
	return signer;
}

static void key_setup(void)
{
	char dir[] = "/tmp/gslb-fuzzkey-XXXXXX";
	uint8_t *pem = NULL;
	size_t len = 0;
	dnssec_global_init();
	if (mkdtemp(dir) == NULL ||
	    dnssec_key_generate(GSLB_DNSSEC_ED25519, dir, &pem, &len) != 0 ||
	    zone_key_load("gslb.test", GSLB_DNSSEC_ED25519, pem, len, 0, NULL,
			  &key) != 0 ||
	    signer_new(key, &signer) != 0) {
		abort();
	}
	free(pem);
	rmdir(dir);
}

static struct snapshot *snap_setup(const char *dnssec)
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
	char many[16 * 96] = "";
	for (int i = 0; i < 16; i++) {
		char line[96];
		snprintf(line, sizeof(line),
			 "      - { address: 203.0.113.%d, weight: %d,"
			 " service: m.gslb.test }\n",
			 i + 1, 10 * (i + 1));
		strcat(many, line);
	}
	fprintf(f, CONFIG, dnssec, many);
	fclose(f);
	chmod(path, 0600);

	struct gslb_config *cfg = NULL;
	struct gslb_config_errors errs = { 0 };
	struct gslb_registry *reg = NULL;
	struct snapshot *snap = NULL;
	struct snap_signing signing = { .signer_for = signer_for,
					.now = 1800000000 };
	if (gslb_config_load(path, GSLB_MODE_OVERWATCH, &cfg, &errs) != 0 ||
	    gslb_registry_new(GSLB_SEC, &reg) != 0 ||
	    gslb_registry_sync_static(reg, cfg, 0) != 0 ||
	    snapshot_build(cfg, reg, NULL,
			   cfg->overwatch.dnssec.enabled ? &signing : NULL, 1,
			   &snap) != 0) {
		abort();
	}
	/* The snapshot is self-contained. */
	gslb_registry_free(reg);
	gslb_config_free(cfg);
	unlink(path);
	rmdir(dir);
	return snap;
}

static void setup(void)
{
	key_setup();
	for (size_t i = 0; i < N_SNAPS; i++) {
		snaps[i] = snap_setup(DNSSEC[i]);
	}
	if (answer_ctx_init(&ctx, 1) != 0) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t query[65535];
	if (snaps[0] == NULL) {
		setup();
	}
	if (size > sizeof(query)) {
		return 0;
	}
	for (size_t i = 0; i < N_SNAPS; i++) {
		for (int tcp = 0; tcp <= 1; tcp++) {
			/* answer_query() may change the query in place. */
			memcpy(query, data, size);
			size_t max = tcp ? sizeof(out) : 4096;
			size_t len = answer_query(&ctx, snaps[i], query, size,
						  out, max, tcp);
			if (len > max) {
				abort();
			}
		}
	}
	return 0;
}
