/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * DNSSEC key sync between overwatches (overwatch.dnssec.key_sync): the wire
 * format of GET /api/v1/dnssec/keys (both ends live here, so the format is
 * in one place) and the poller that fetches it from every peer.
 *
 * The poller runs blocking libcurl requests on its own thread, one peer
 * after another, every poll_interval and when triggered; results come back
 * on the main loop. A failed peer is logged, counted and retried at the
 * next round; it never touches DNS.
 *
 * A key's private part travels sealed (lib/seal.h) with the gossip key and
 * the associated data "opengslb-dnssec-key|<zone>|<key_id>|<created>", so
 * it cannot be read without the key nor moved to another zone.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "clock.h"
#include "compiler.h"
#include "config.h"
#include "dnssec.h"

struct event_base;

/* A key as a peer offered it, after unsealing and checking. */
struct keysync_key {
	char *zone; /* lower case, no trailing dot */
	int algorithm;
	int64_t created; /* unix seconds */
	char *node_id;
	uint8_t *pem; /* private key, PKCS#8 PEM */
	size_t pem_len;
	uint16_t key_tag; /* as advertised; checked against the PEM */
	char *public_key; /* base64, as advertised; checked too */
};

void keysync_key_clear(struct keysync_key *k);

/*
 * The JSON object for one key in GET /api/v1/dnssec/keys:
 * {"zone","algorithm","flags","key_tag","key_id","public_key",
 *  "created_at" (RFC 3339),"node_id","private_key_sealed"}.
 */
json_t *keysync_key_to_json(const struct zone_key *key,
			    const uint8_t seal_key[GSLB_GOSSIP_KEY_LEN]);

/*
 * Parses a whole /keys body into keys (each unsealed with seal_key and
 * loaded with zone_key_load to prove the private part matches the
 * advertised public key). A bad key is skipped with its reason appended
 * to *errors (malloc'ed text, NULL when none). GSLB_EINVAL when the body
 * is not the expected JSON.
 */
int keysync_parse(const char *body, size_t len,
		  const uint8_t seal_key[GSLB_GOSSIP_KEY_LEN],
		  struct keysync_key **keys, size_t *n_keys,
		  char **errors) GSLB_WARN_UNUSED;

/* What one peer answered last. */
struct keysync_peer_status {
	const char *peer;         /* base URL as configured */
	gslb_time_t last_sync;    /* wall clock ns; 0: never tried */
	gslb_time_t last_success; /* 0: never */
	const char *last_error;   /* NULL after a success */
	uint64_t failures;
};

struct keysync;

/* Called on the main loop with the keys one peer offered. */
typedef void (*keysync_cb)(const char *peer, const struct keysync_key *keys,
			   size_t n_keys, void *arg);

/*
 * Starts polling the peers of cfg (dnssec.key_sync_*; the seal key is
 * overwatch.gossip.key). The first round starts at once.
 */
int keysync_start(struct event_base *base, const struct gslb_config *cfg,
		  keysync_cb cb, void *arg,
		  struct keysync **out) GSLB_WARN_UNUSED;
/* Takes new peers, interval, timeout and key after a reload. */
int keysync_reconfigure(struct keysync *ks, const struct gslb_config *cfg);
/* A round now (POST /api/v1/dnssec/sync). */
void keysync_trigger(struct keysync *ks);
/* Stops the thread; a request in flight is aborted within a second. */
void keysync_stop(struct keysync *ks);

size_t keysync_peer_count(const struct keysync *ks);
void keysync_peer_status(const struct keysync *ks, size_t i,
			 struct keysync_peer_status *st);
gslb_duration_t keysync_poll_interval(const struct keysync *ks);

/*
 * One blocking round against one peer, for the first start (before a key
 * is generated, so a new overwatch joins with its peers' key instead of
 * replacing it). Same results as the poller's.
 */
int keysync_fetch_once(const char *peer, gslb_duration_t timeout,
		       const uint8_t seal_key[GSLB_GOSSIP_KEY_LEN],
		       struct keysync_key **keys, size_t *n_keys,
		       char **error) GSLB_WARN_UNUSED;
