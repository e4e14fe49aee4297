/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The zone key manager: one active DNSSEC key (a CSK) per configured zone,
 * kept in the state database, and the signer that signs with it.
 *
 * At start every zone gets its key: the active row of the database; else
 * its key sync peers' (so a new overwatch joins with their key instead of
 * replacing it); else a new one. A new key is committed to the database
 * before keys_open() returns, so neither DNS nor the DS API ever shows a
 * key that a restart (kill -9 included) would not find again.
 *
 * With key_sync peers, a poller fetches their keys; for each zone the
 * newest key wins (created_at, then the larger key_id), so every overwatch
 * converges on the same one. An adopted key is saved first, then signs,
 * then the snapshot is published again.
 *
 * Main thread only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "compiler.h"
#include "config.h"

struct keys;
struct keysync;
struct server;
struct signer;
struct zone_key;

/*
 * Takes the keys read from srv->state's database and makes sure every zone
 * of srv->cfg has one (when DNSSEC is enabled), then starts the key sync
 * poller when peers are configured. Blocks on the peers (each once, for
 * at most KEYS_START_FETCH_TIMEOUT) and on the database. Logs why on
 * failure: a stored key that cannot be loaded stops the start (the daemon
 * must not silently sign with another key).
 */
int keys_open(struct server *srv, struct keys **out) GSLB_WARN_UNUSED;

/* The longest a peer is waited for at start (less if key_sync.timeout). */
#define KEYS_START_FETCH_TIMEOUT (10 * GSLB_SEC)

/*
 * A reload: zones new in cfg get keys as at start (the database's, the
 * peers', or new ones: the reload waits for them); a zone whose key has
 * another algorithm than cfg keeps it (with a warning: rollover is not
 * implemented); the poller takes the new peers. On failure (logged)
 * nothing of cfg is taken but the keys made so far.
 */
int keys_reload(struct keys *k, const struct gslb_config *cfg) GSLB_WARN_UNUSED;

/* Stops the poller; adoptions still being committed are dropped. */
void keys_free(struct keys *k);

/* Whether the server's config has DNSSEC on. */
bool keys_enabled(const struct keys *k);

/*
 * The signer of a configured zone (lower case, no trailing dot); NULL when
 * DNSSEC is disabled or the zone has no key. It lives, with its signature
 * cache, until the zone's key changes.
 */
struct signer *keys_signer(struct keys *k, const char *zone);
/* keys_signer() as struct snap_signing's signer_for (arg: the keys). */
struct signer *keys_signer_for(void *arg, const char *zone);

/* The zone's active key; NULL as for keys_signer(). */
const struct zone_key *keys_key(const struct keys *k, const char *zone);

/* The poller; NULL when key sync is not running. */
struct keysync *keys_sync(const struct keys *k);

/* Forgets cached signatures not used since keep_since (unix seconds). */
void keys_sweep(struct keys *k, int64_t keep_since);

struct keys_stats {
	uint64_t generated;      /* keys made by this process */
	uint64_t adopted;        /* keys taken from peers */
	uint64_t adopt_failures; /* offered newer keys that could not be
				    taken (unusable or not saved) */
};
void keys_get_stats(const struct keys *k, struct keys_stats *out);
