/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dnssec.h"
#include "error.h"
#include "fsutil.h"
#include "keys.h"
#include "keysync.h"
#include "log.h"
#include "server.h"
#include "state.h"
#include "store.h"

#define SUBSYS "dnssec"
/* Below overwatch.data_dir: where libdnssec writes a new key briefly. */
#define KEYGEN_DIR "dnssec-keygen"
/* DNSKEY flags of a combined signing key (KSK and ZSK in one). */
#define FLAGS_CSK 257
/* "2026-11-28T05:51:43Z" */
#define TIME_LEN 32

/* A configured zone and the key it signs with. */
struct slot {
	char *zone;
	struct zone_key *key; /* NULL: none yet */
	struct signer *signer;
	/* The newest key adopted from a peer and not yet committed; it is
	 * what later offers are compared with. */
	const struct zone_key *pending;
};

/* A peer's key on its way to the database. */
struct adoption {
	struct adoption *next;
	struct keys *k; /* NULL once the keys are gone: just free it */
	struct zone_key *key;
	char *peer;
};

struct keys {
	struct server *srv;
	struct slot *slots;
	size_t n_slots;
	/* Active rows of the database not loaded yet (zones not configured
	 * now may be configured by a reload). */
	struct store_dnssec_key *rows;
	size_t n_rows;
	struct keysync *sync;
	struct adoption *adoptions;
	struct keys_stats stats;
};

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

static const char *time_text(int64_t secs, char buf[TIME_LEN])
{
	time_t t = (time_t)secs;
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		snprintf(buf, TIME_LEN, "%" PRId64, secs);
	}
	return buf;
}

/* The order of keys that all overwatches agree on: the newer creation
 * time wins, and for equal times the larger key id. */
static bool newer(const struct zone_key *a, const struct zone_key *b)
{
	if (a->created != b->created) {
		return a->created > b->created;
	}
	return strcmp(a->key_id, b->key_id) > 0;
}

static bool zone_configured(const struct gslb_config *cfg, const char *zone)
{
	for (size_t i = 0; i < cfg->dns.n_zones; i++) {
		if (strcmp(cfg->dns.zones[i].name, zone) == 0) {
			return true;
		}
	}
	return false;
}

static struct slot *slot_find(const struct keys *k, const char *zone)
{
	for (size_t i = 0; i < k->n_slots; i++) {
		if (strcmp(k->slots[i].zone, zone) == 0) {
			return &k->slots[i];
		}
	}
	return NULL;
}

static struct slot *slot_get(struct keys *k, const char *zone)
{
	struct slot *s = slot_find(k, zone);
	if (s != NULL) {
		return s;
	}
	struct slot *v =
		reallocarray(k->slots, k->n_slots + 1, sizeof(*k->slots));
	if (v == NULL) {
		return NULL;
	}
	k->slots = v;
	s = &k->slots[k->n_slots];
	memset(s, 0, sizeof(*s));
	s->zone = strdup(zone);
	if (s->zone == NULL) {
		return NULL;
	}
	k->n_slots++;
	return s;
}

/*
 * Makes key (taken over) the zone's signing key, with a new signer. The
 * old key and signer go: published snapshots hold copies of what they
 * signed, not references.
 */
static int slot_install(struct keys *k, struct zone_key *key)
{
	struct signer *signer = NULL;
	struct slot *s = slot_get(k, key->zone);
	int ret = s != NULL ? signer_new(key, &signer) : GSLB_ENOMEM;
	if (ret != GSLB_EOK) {
		zone_key_free(key);
		return ret;
	}
	signer_free(s->signer);
	zone_key_free(s->key);
	s->key = key;
	s->signer = signer;
	return GSLB_EOK;
}

/* The database row of key (pointing into it: no copies). */
static struct store_dnssec_key row_of(const struct zone_key *key)
{
	return (struct store_dnssec_key){
		.zone = key->zone,
		.key_id = (char *)key->key_id,
		.algorithm = key->algorithm,
		.flags = FLAGS_CSK,
		.created_at = key->created,
		.node_id = key->node_id,
		.private_pem = key->pem,
		.private_pem_len = key->pem_len,
		.active = true,
	};
}

static void warn_algorithm(const struct zone_key *key,
			   const struct gslb_config *cfg)
{
	if (key->algorithm == (int)cfg->overwatch.dnssec.algorithm) {
		return;
	}
	log_warn(SUBSYS,
		 "zone %s: keeping its %s key (tag %u) although "
		 "overwatch.dnssec.algorithm is %s: key rollover is not "
		 "implemented",
		 key->zone, dnssec_algorithm_name(key->algorithm), key->key_tag,
		 dnssec_algorithm_name((int)cfg->overwatch.dnssec.algorithm));
}

/* ------------------------------------------------------------------------ */
/* Where a zone's key comes from                                            */

/*
 * The zone's key from the database: GSLB_EOK, GSLB_ENOENT when it has
 * none, or another error (logged, naming the zone) when the row is there
 * but unusable.
 */
static int take_stored(struct keys *k, const char *zone, struct zone_key **out)
{
	*out = NULL;
	for (size_t i = 0; i < k->n_rows; i++) {
		struct store_dnssec_key *r = &k->rows[i];
		if (strcmp(r->zone, zone) != 0) {
			continue;
		}
		int ret = zone_key_load(zone, r->algorithm, r->private_pem,
					r->private_pem_len, r->created_at,
					r->node_id, out);
		if (ret == GSLB_EOK && strcmp((*out)->key_id, r->key_id) != 0) {
			zone_key_free(*out);
			*out = NULL;
			ret = GSLB_EINVAL;
		}
		if (ret != GSLB_EOK) {
			log_error(SUBSYS,
				  "zone %s: its DNSSEC key %s (%s) in %s "
				  "cannot be loaded (%s); refusing to sign "
				  "with any other key. Restore the state "
				  "database, or delete that row of "
				  "dnssec_keys to make a new key (its DS "
				  "record changes)",
				  zone, r->key_id,
				  dnssec_algorithm_name(r->algorithm),
				  store_path(state_store(k->srv->state)),
				  gslb_strerror(ret));
			return ret;
		}
		store_dnssec_key_clear(r);
		k->rows[i] = k->rows[--k->n_rows];
		return GSLB_EOK;
	}
	return GSLB_ENOENT;
}

/* A private directory for libdnssec's keystore; caller frees. */
static char *keygen_dir(const struct gslb_config *cfg)
{
	const char *data = cfg->overwatch.data_dir;
	size_t len = strlen(data);
	char *dir = NULL;
	if (asprintf(&dir, "%s%s" KEYGEN_DIR, data,
		     len > 0 && data[len - 1] == '/' ? "" : "/") < 0) {
		return NULL;
	}
	int ret = gslb_mkdirs(dir, 0700);
	if (ret == GSLB_EOK && chmod(dir, 0700) != 0) {
		ret = -errno;
	}
	if (ret != GSLB_EOK) {
		log_error(SUBSYS, "%s: cannot create the directory: %s", dir,
			  gslb_strerror(ret));
		free(dir);
		return NULL;
	}
	return dir;
}

static int generate(const struct gslb_config *cfg, const char *zone,
		    struct zone_key **out)
{
	const int alg = (int)cfg->overwatch.dnssec.algorithm;
	char *dir = keygen_dir(cfg);
	if (dir == NULL) {
		return GSLB_EIO;
	}
	uint8_t *pem = NULL;
	size_t len = 0;
	int ret = dnssec_key_generate(alg, dir, &pem, &len);
	free(dir);
	if (ret == GSLB_EOK) {
		ret = zone_key_load(zone, alg, pem, len,
				    gslb_clock_wall() / GSLB_SEC,
				    cfg->overwatch.node_id, out);
	}
	if (pem != NULL) {
		explicit_bzero(pem, len);
		free(pem);
	}
	if (ret != GSLB_EOK) {
		log_error(SUBSYS, "zone %s: cannot make a %s key: %s", zone,
			  dnssec_algorithm_name(alg), gslb_strerror(ret));
	}
	return ret;
}

/* Keeps in found[i] the newest key the peer offers for every zone i of
 * cfg that is missing, and in from[i] the peer. */
static void ask_peer(const struct gslb_config *cfg, const char *peer,
		     const bool *missing, struct zone_key **found,
		     const char **from)
{
	const struct gslb_overwatch_config *ow = &cfg->overwatch;
	gslb_duration_t timeout = ow->dnssec.key_sync_timeout;
	if (timeout <= 0 || timeout > KEYS_START_FETCH_TIMEOUT) {
		timeout = KEYS_START_FETCH_TIMEOUT;
	}
	struct keysync_key *keys = NULL;
	size_t n = 0;
	char *error = NULL;
	int ret = keysync_fetch_once(peer, timeout, ow->gossip.key, &keys, &n,
				     &error);
	if (ret != GSLB_EOK) {
		log_warn(SUBSYS, "key sync: no keys from peer %s: %s", peer,
			 error != NULL ? error : gslb_strerror(ret));
		free(error);
		return;
	}
	if (error != NULL) {
		log_warn(SUBSYS, "key sync: peer %s: %s", peer, error);
		free(error);
	}
	for (size_t j = 0; j < n; j++) {
		const struct keysync_key *o = &keys[j];
		for (size_t i = 0; i < cfg->dns.n_zones; i++) {
			if (!missing[i] ||
			    strcmp(cfg->dns.zones[i].name, o->zone) != 0) {
				continue;
			}
			struct zone_key *key = NULL;
			if (zone_key_load(o->zone, o->algorithm, o->pem,
					  o->pem_len, o->created, o->node_id,
					  &key) != GSLB_EOK) {
				break; /* keysync_parse checked it already */
			}
			if (found[i] == NULL || newer(key, found[i])) {
				zone_key_free(found[i]);
				found[i] = key;
				from[i] = peer;
			} else {
				zone_key_free(key);
			}
			break;
		}
		keysync_key_clear(&keys[j]);
	}
	free(keys);
}

static void log_installed(const struct zone_key *key, const char *how,
			  const char *peer)
{
	char when[TIME_LEN];
	log_info(SUBSYS, "zone %s: %s key tag %u (%s) created %s%s%s",
		 key->zone, how, key->key_tag,
		 dnssec_algorithm_name(key->algorithm),
		 time_text(key->created, when),
		 peer != NULL ? " from peer " : "", peer != NULL ? peer : "");
}

/*
 * Gives every zone of cfg a key: its own, the database's, the peers'
 * (asked once each) or a new one. The new ones are committed before they
 * are used.
 */
static int ensure(struct keys *k, const struct gslb_config *cfg)
{
	const struct gslb_overwatch_config *ow = &cfg->overwatch;
	const size_t n = cfg->dns.n_zones;
	if (!ow->dnssec.enabled || n == 0) {
		return GSLB_EOK;
	}
	bool *missing = calloc(n, sizeof(*missing));
	struct zone_key **fresh = calloc(n, sizeof(*fresh));
	const char **from = calloc(n, sizeof(*from));
	struct store_txn *txn = NULL;
	size_t n_missing = 0;
	char err[1024] = "";
	int ret = GSLB_ENOMEM;
	if (missing == NULL || fresh == NULL || from == NULL) {
		goto out;
	}
	ret = GSLB_EOK;

	for (size_t i = 0; i < n; i++) {
		const char *zone = cfg->dns.zones[i].name;
		const struct slot *s = slot_find(k, zone);
		struct zone_key *key = NULL;
		if (s != NULL && s->key != NULL) {
			warn_algorithm(s->key, cfg);
			continue;
		}
		ret = take_stored(k, zone, &key);
		if (ret == GSLB_EOK) {
			log_installed(key, "signing with its stored", NULL);
			warn_algorithm(key, cfg);
			ret = slot_install(k, key);
		}
		if (ret == GSLB_ENOENT) {
			missing[i] = true;
			n_missing++;
			ret = GSLB_EOK;
		}
		if (ret != GSLB_EOK) {
			goto out;
		}
	}
	if (n_missing == 0) {
		goto out;
	}

	/* A new overwatch joins with its peers' keys, not new ones. */
	if (ow->gossip.key_set) {
		for (size_t p = 0; p < ow->dnssec.n_key_sync_peers; p++) {
			ask_peer(cfg, ow->dnssec.key_sync_peers[p], missing,
				 fresh, from);
		}
	}
	ret = GSLB_ENOMEM;
	txn = store_txn_new();
	if (txn == NULL) {
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!missing[i]) {
			continue;
		}
		if (fresh[i] == NULL) {
			ret = generate(cfg, cfg->dns.zones[i].name, &fresh[i]);
			if (ret != GSLB_EOK) {
				goto out;
			}
		}
		struct store_dnssec_key row = row_of(fresh[i]);
		ret = store_txn_put_dnssec_key(txn, &row);
		if (ret != GSLB_EOK) {
			goto out;
		}
	}
	/* On disk before DNS or the API can show it: the DS an operator
	 * copies must still be the zone's after kill -9. */
	ret = store_commit_wait(state_store_rw(k->srv->state), txn, err,
				sizeof(err));
	txn = NULL;
	if (ret != GSLB_EOK) {
		log_error(SUBSYS, "cannot save the zones' new keys: %s",
			  err[0] != '\0' ? err : gslb_strerror(ret));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (fresh[i] == NULL) {
			continue;
		}
		struct zone_key *key = fresh[i];
		fresh[i] = NULL;
		if (from[i] != NULL) {
			log_installed(key, "adopted", from[i]);
			k->stats.adopted++;
		} else {
			log_installed(key, "generated a new", NULL);
			k->stats.generated++;
			char *ds = zone_key_ds_text(key);
			if (ds != NULL) {
				log_info(SUBSYS,
					 "zone %s: publish its DS record at "
					 "the parent zone: %s",
					 key->zone, ds);
			}
			free(ds);
		}
		ret = slot_install(k, key);
		if (ret != GSLB_EOK) {
			goto out;
		}
	}

out:
	if (ret == GSLB_ENOMEM) {
		log_error(SUBSYS, "cannot set up the zone keys: %s",
			  gslb_strerror(ret));
	}
	store_txn_free(txn);
	for (size_t i = 0; fresh != NULL && i < n; i++) {
		zone_key_free(fresh[i]);
	}
	free(fresh);
	free(from);
	free(missing);
	return ret;
}

/* ------------------------------------------------------------------------ */
/* Key sync                                                                 */

static void adoption_free(struct adoption *a)
{
	zone_key_free(a->key);
	free(a->peer);
	free(a);
}

static void adoption_unlink(struct keys *k, struct adoption *a)
{
	for (struct adoption **p = &k->adoptions; *p != NULL; p = &(*p)->next) {
		if (*p == a) {
			*p = a->next;
			return;
		}
	}
}

/* An adopted key is on disk (or not): now it signs. */
static void on_adopted(void *arg, int err, const char *message)
{
	struct adoption *a = arg;
	struct keys *k = a->k;
	if (k == NULL) {
		adoption_free(a);
		return;
	}
	adoption_unlink(k, a);
	struct slot *s = slot_find(k, a->key->zone);
	const bool latest = s != NULL && s->pending == a->key;
	if (latest) {
		s->pending = NULL;
	}
	if (err != GSLB_EOK) {
		log_error(SUBSYS,
			  "zone %s: cannot save key tag %u from peer %s: %s; "
			  "still signing with the key before",
			  a->key->zone, a->key->key_tag, a->peer, message);
		k->stats.adopt_failures++;
		adoption_free(a);
		return;
	}
	if (!latest) {
		/* A newer one was offered meanwhile; it is committed next. */
		adoption_free(a);
		return;
	}
	struct zone_key *key = a->key;
	a->key = NULL;
	char when[TIME_LEN];
	const uint16_t tag = key->key_tag;
	const int alg = key->algorithm;
	time_text(key->created, when);
	int ret = slot_install(k, key);
	if (ret != GSLB_EOK) {
		log_error(SUBSYS,
			  "zone %s: cannot sign with key tag %u from peer %s "
			  "(%s); it is saved and signs after a restart",
			  s->zone, tag, a->peer, gslb_strerror(ret));
		k->stats.adopt_failures++;
	} else {
		log_info(SUBSYS,
			 "zone %s: adopted key tag %u (%s) created %s from "
			 "peer %s",
			 s->zone, tag, dnssec_algorithm_name(alg), when,
			 a->peer);
		k->stats.adopted++;
		server_zone_keys_changed(k->srv);
	}
	adoption_free(a);
}

static void adopt(struct keys *k, struct slot *s, struct zone_key *key,
		  const char *peer)
{
	struct adoption *a = calloc(1, sizeof(*a));
	struct store_txn *txn = store_txn_new();
	int ret = GSLB_ENOMEM;
	if (a != NULL && txn != NULL) {
		a->k = k;
		a->key = key;
		key = NULL;
		a->peer = strdup(peer);
		struct store_dnssec_key row = row_of(a->key);
		if (a->peer != NULL) {
			ret = store_txn_put_dnssec_key(txn, &row);
		}
	}
	if (ret != GSLB_EOK) {
		log_error(SUBSYS,
			  "zone %s: cannot adopt a key from peer %s: %s",
			  s->zone, peer, gslb_strerror(ret));
		k->stats.adopt_failures++;
		store_txn_free(txn);
		zone_key_free(key);
		if (a != NULL) {
			adoption_free(a);
		}
		return;
	}
	s->pending = a->key;
	a->next = k->adoptions;
	k->adoptions = a;
	store_commit(state_store_rw(k->srv->state), txn, on_adopted, a);
}

/* The keys one peer offers: newer ones are adopted. */
static void on_peer_keys(const char *peer, const struct keysync_key *keys,
			 size_t n_keys, void *arg)
{
	struct keys *k = arg;
	const struct gslb_config *cfg = k->srv->cfg;
	if (!cfg->overwatch.dnssec.enabled) {
		return;
	}
	for (size_t i = 0; i < n_keys; i++) {
		const struct keysync_key *o = &keys[i];
		if (!zone_configured(cfg, o->zone)) {
			log_debug(SUBSYS,
				  "key sync: peer %s offers a key for zone "
				  "%s, which is not configured here",
				  peer, o->zone);
			continue;
		}
		struct slot *s = slot_get(k, o->zone);
		struct zone_key *key = NULL;
		int ret = s != NULL
				  ? zone_key_load(o->zone, o->algorithm, o->pem,
						  o->pem_len, o->created,
						  o->node_id, &key)
				  : GSLB_ENOMEM;
		if (ret != GSLB_EOK) {
			log_warn(SUBSYS,
				 "key sync: peer %s: the key for zone %s "
				 "cannot be used: %s",
				 peer, o->zone, gslb_strerror(ret));
			k->stats.adopt_failures++;
			continue;
		}
		const struct zone_key *best =
			s->pending != NULL ? s->pending : s->key;
		if (best != NULL && !newer(key, best)) {
			if (strcmp(key->key_id, best->key_id) != 0) {
				log_debug(SUBSYS,
					  "key sync: peer %s offers an older "
					  "key for zone %s (tag %u); keeping "
					  "tag %u",
					  peer, o->zone, key->key_tag,
					  best->key_tag);
			}
			zone_key_free(key);
			continue;
		}
		adopt(k, s, key, peer);
	}
}

/* Starts, reconfigures or stops the poller as cfg says. */
static int sync_configure(struct keys *k, const struct gslb_config *cfg)
{
	const struct gslb_overwatch_config *ow = &cfg->overwatch;
	if (!ow->dnssec.enabled || ow->dnssec.n_key_sync_peers == 0) {
		if (k->sync != NULL) {
			keysync_stop(k->sync);
			k->sync = NULL;
			log_info(SUBSYS, "key sync stopped");
		}
		return GSLB_EOK;
	}
	if (k->sync != NULL) {
		return keysync_reconfigure(k->sync, cfg);
	}
	int ret = keysync_start(k->srv->base, cfg, on_peer_keys, k, &k->sync);
	if (ret != GSLB_EOK) {
		log_error(SUBSYS, "cannot start key sync: %s",
			  gslb_strerror(ret));
		return ret;
	}
	log_info(SUBSYS, "key sync with %zu peers, every %" PRId64 " s",
		 ow->dnssec.n_key_sync_peers,
		 (int64_t)(keysync_poll_interval(k->sync) / GSLB_SEC));
	return GSLB_EOK;
}

/* ------------------------------------------------------------------------ */
/* Open, reload, close                                                      */

int keys_open(struct server *srv, struct keys **out)
{
	*out = NULL;
	struct keys *k = calloc(1, sizeof(*k));
	if (k == NULL) {
		log_error(SUBSYS, "cannot set up the zone keys: %s",
			  gslb_strerror(GSLB_ENOMEM));
		return GSLB_ENOMEM;
	}
	k->srv = srv;
	state_take_dnssec_keys(srv->state, &k->rows, &k->n_rows);
	/* Only the active keys count; the others are history. */
	for (size_t i = 0; i < k->n_rows;) {
		if (k->rows[i].active) {
			i++;
			continue;
		}
		store_dnssec_key_clear(&k->rows[i]);
		k->rows[i] = k->rows[--k->n_rows];
	}
	int ret = ensure(k, srv->cfg);
	if (ret == GSLB_EOK) {
		ret = sync_configure(k, srv->cfg);
	}
	if (ret != GSLB_EOK) {
		keys_free(k);
		return ret;
	}
	*out = k;
	return GSLB_EOK;
}

int keys_reload(struct keys *k, const struct gslb_config *cfg)
{
	uint64_t made = k->stats.generated;
	int ret = ensure(k, cfg);
	if (ret == GSLB_EOK) {
		ret = sync_configure(k, cfg);
	}
	/* Peers that had the zone already will offer their older key in
	 * vain; but a peer that did not ask for ours yet should, soon. */
	if (ret == GSLB_EOK && k->sync != NULL && k->stats.generated > made) {
		keysync_trigger(k->sync);
	}
	return ret;
}

void keys_free(struct keys *k)
{
	if (k == NULL) {
		return;
	}
	keysync_stop(k->sync);
	/* The store still calls back: those free themselves. */
	for (struct adoption *a = k->adoptions; a != NULL; a = a->next) {
		a->k = NULL;
	}
	for (size_t i = 0; i < k->n_slots; i++) {
		signer_free(k->slots[i].signer);
		zone_key_free(k->slots[i].key);
		free(k->slots[i].zone);
	}
	free(k->slots);
	for (size_t i = 0; i < k->n_rows; i++) {
		store_dnssec_key_clear(&k->rows[i]);
	}
	free(k->rows);
	free(k);
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                  */

bool keys_enabled(const struct keys *k)
{
	return k != NULL && k->srv->cfg->overwatch.dnssec.enabled;
}

struct signer *keys_signer(struct keys *k, const char *zone)
{
	if (!keys_enabled(k)) {
		return NULL;
	}
	const struct slot *s = slot_find(k, zone);
	return s != NULL ? s->signer : NULL;
}

struct signer *keys_signer_for(void *arg, const char *zone)
{
	return keys_signer(arg, zone);
}

const struct zone_key *keys_key(const struct keys *k, const char *zone)
{
	if (!keys_enabled(k)) {
		return NULL;
	}
	const struct slot *s = slot_find(k, zone);
	return s != NULL ? s->key : NULL;
}

struct keysync *keys_sync(const struct keys *k)
{
	return k != NULL ? k->sync : NULL;
}

void keys_sweep(struct keys *k, int64_t keep_since)
{
	for (size_t i = 0; k != NULL && i < k->n_slots; i++) {
		if (k->slots[i].signer != NULL) {
			signer_sweep(k->slots[i].signer, keep_since);
		}
	}
}

void keys_get_stats(const struct keys *k, struct keys_stats *out)
{
	if (k == NULL) {
		memset(out, 0, sizeof(*out));
		return;
	}
	*out = k->stats;
}
