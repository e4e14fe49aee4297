/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The DNSSEC endpoints: DS records for the parent zone (JSON or zone-file
 * text), the keys' and signer's status, the keys for key sync peers (the
 * private part sealed with the gossip key, never in clear), and a sync
 * round on demand.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "api_internal.h"
#include "dnssec.h"
#include "error.h"
#include "keys.h"
#include "keysync.h"
#include "server.h"

#define DISABLED "DNSSEC is disabled"

/* Key times are whole seconds: "2026-11-28T05:51:43Z", as in /keys. */
static const char *created_text(int64_t secs, char buf[GSLB_RFC3339_LEN])
{
	time_t t = (time_t)secs;
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, GSLB_RFC3339_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		return gslb_time_rfc3339(secs * GSLB_SEC, buf);
	}
	return buf;
}

/* "1h", "30m", "1h30m", "10s", "1.5s", "250ms", as Go prints durations
 * (without its "0m0s" tails). */
static const char *duration_text(gslb_duration_t d, char *buf, size_t len)
{
	if (d <= 0) {
		snprintf(buf, len, "0s");
		return buf;
	}
	if (d < GSLB_SEC) {
		snprintf(buf, len, "%" PRId64 "ms", (int64_t)(d / GSLB_MSEC));
		return buf;
	}
	int64_t h = d / (3600 * GSLB_SEC);
	int64_t m = d / (60 * GSLB_SEC) % 60;
	int64_t s = d / GSLB_SEC % 60;
	int64_t ms = d / GSLB_MSEC % 1000;
	size_t n = 0;
	buf[0] = '\0';
	if (h > 0) {
		n += (size_t)snprintf(buf + n, len - n, "%" PRId64 "h", h);
	}
	if (m > 0 && n < len) {
		n += (size_t)snprintf(buf + n, len - n, "%" PRId64 "m", m);
	}
	if ((s > 0 || ms > 0) && n < len) {
		if (ms > 0) {
			snprintf(buf + n, len - n, "%" PRId64 ".%03" PRId64 "s",
				 s, ms);
		} else {
			snprintf(buf + n, len - n, "%" PRId64 "s", s);
		}
	}
	return buf;
}

/* The zone named by ?zone= (any case, trailing dot or not) when it is
 * configured; *given says whether there was one. */
static const char *zone_param(const struct gslb_config *cfg,
			      struct evkeyvalq *kv, bool *given,
			      char **normalized)
{
	const char *text = api_param(kv, "zone");
	*given = text != NULL;
	*normalized = NULL;
	if (text == NULL) {
		return NULL;
	}
	char *z = api_service_key(text);
	if (z == NULL) {
		return NULL;
	}
	*normalized = z;
	for (size_t i = 0; i < cfg->dns.n_zones; i++) {
		if (strcmp(cfg->dns.zones[i].name, z) == 0) {
			return cfg->dns.zones[i].name;
		}
	}
	return NULL;
}

static json_t *ds_json(const struct zone_key *key)
{
	char created[GSLB_RFC3339_LEN];
	char *digest = zone_key_ds_digest_hex(key);
	char *ds = zone_key_ds_text(key);
	char *dnskey = zone_key_dnskey_text(key);
	json_t *o = NULL;
	if (digest != NULL && ds != NULL && dnskey != NULL) {
		o = json_pack("{s:s, s:i, s:i, s:i, s:s, s:s, s:s, s:s}",
			      "zone", key->zone, "key_tag", (int)key->key_tag,
			      "algorithm", key->algorithm, "digest_type",
			      DNSSEC_DS_SHA256, "digest", digest, "ds_record",
			      ds, "dnskey_record", dnskey, "created_at",
			      created_text(key->created, created));
	}
	free(digest);
	free(ds);
	free(dnskey);
	return o;
}

/* Whether the client asked for zone-file text rather than JSON; false
 * (and answered) for a format we do not have. */
static bool want_text(struct api *api, struct evhttp_request *req,
		      struct evkeyvalq *kv, bool *text)
{
	const char *format = api_param(kv, "format");
	*text = false;
	if (format != NULL) {
		if (strcasecmp(format, "text") == 0) {
			*text = true;
		} else if (strcasecmp(format, "json") != 0) {
			api_send_error(api, req, HTTP_BADREQUEST,
				       "format must be json or text");
			return false;
		}
		return true;
	}
	const char *accept = evhttp_find_header(
		evhttp_request_get_input_headers(req), "Accept");
	*text = accept != NULL && strcasestr(accept, "text/plain") != NULL &&
		strcasestr(accept, "application/json") == NULL;
	return true;
}

/* The DS records of every zone, or of zone alone (not NULL). */
static void send_ds(struct api *api, struct evhttp_request *req,
		    const char *zone, bool text)
{
	const struct gslb_config *cfg = api->srv->cfg;
	struct keys *keys = api->srv->keys;
	json_t *list = json_array();
	struct evbuffer *lines = evbuffer_new();
	bool oom = list == NULL || lines == NULL;
	for (size_t i = 0; !oom && i < cfg->dns.n_zones; i++) {
		const char *name = cfg->dns.zones[i].name;
		const struct zone_key *key = keys_key(keys, name);
		if (key == NULL || (zone != NULL && strcmp(zone, name) != 0)) {
			continue;
		}
		if (text) {
			char *ds = zone_key_ds_text(key);
			oom = ds == NULL ||
			      evbuffer_add_printf(lines, "%s\n", ds) < 0;
			free(ds);
		} else {
			oom = json_array_append_new(list, ds_json(key)) != 0;
		}
	}
	char *body = NULL;
	if (!oom && text) {
		size_t len = evbuffer_get_length(lines);
		body = malloc(len + 1);
		oom = body == NULL;
		if (body != NULL) {
			evbuffer_remove(lines, body, len);
			body[len] = '\0';
		}
	}
	if (lines != NULL) {
		evbuffer_free(lines);
	}
	if (oom) {
		json_decref(list);
		api_send_json(api, req, HTTP_INTERNAL, NULL);
	} else if (text) {
		json_decref(list);
		api_send_text(api, req, HTTP_OK, body);
	} else {
		api_send_json(api, req, HTTP_OK,
			      json_pack("{s:b, s:o}", "enabled", 1,
					"ds_records", list));
	}
	free(body);
}

static void handle_ds(struct api *api, struct evhttp_request *req,
		      const char *query)
{
	struct evkeyvalq kv;
	if (!api_parse_query(query, &kv)) {
		api_send_error(api, req, HTTP_BADREQUEST, "invalid query");
		return;
	}
	bool text = false, given = false;
	char *asked = NULL;
	if (!want_text(api, req, &kv, &text)) {
		/* answered */
	} else if (!keys_enabled(api->srv->keys)) {
		if (text) {
			api_send_text(api, req, HTTP_OK, "; " DISABLED "\n");
		} else {
			api_send_json(api, req, HTTP_OK,
				      json_pack("{s:b, s:s}", "enabled", 0,
						"message", DISABLED));
		}
	} else {
		const char *zone =
			zone_param(api->srv->cfg, &kv, &given, &asked);
		if (given && zone == NULL && asked == NULL) {
			api_send_json(api, req, HTTP_INTERNAL, NULL);
		} else if (given && zone == NULL) {
			char msg[512];
			snprintf(msg, sizeof(msg), "zone not found: %s", asked);
			api_send_error(api, req, HTTP_NOTFOUND, msg);
		} else {
			send_ds(api, req, zone, text);
		}
	}
	free(asked);
	evhttp_clear_headers(&kv);
}

static json_t *key_status_json(const struct zone_key *key, int64_t now)
{
	char created[GSLB_RFC3339_LEN];
	char *pub = zone_key_public_b64(key);
	json_t *o = NULL;
	if (pub != NULL) {
		o = json_pack(
			"{s:s, s:i, s:s, s:i, s:s, s:i, s:s, s:s, s:s*, "
			"s:b, s:I, s:b}",
			"zone", key->zone, "key_tag", (int)key->key_tag,
			"key_id", key->key_id, "algorithm", key->algorithm,
			"algorithm_name", dnssec_algorithm_name(key->algorithm),
			"flags", 257, "public_key", pub, "created_at",
			created_text(key->created, created), "node_id",
			key->node_id, "can_sign", 1, "age_seconds",
			(json_int_t)(now > key->created ? now - key->created
							: 0),
			"active", 1);
	}
	free(pub);
	return o;
}

static json_t *signer_json(const struct signer *s)
{
	struct signer_stats st;
	char when[GSLB_RFC3339_LEN];
	signer_get_stats(s, &st);
	return json_pack(
		"{s:I, s:I, s:I, s:I, s:s*}", "signed",
		(json_int_t)st.signed_new, "cache_hits",
		(json_int_t)st.cache_hits, "failures", (json_int_t)st.failures,
		"cached", (json_int_t)st.cached, "next_refresh",
		st.next_refresh != 0 ? created_text(st.next_refresh, when)
				     : NULL);
}

static json_t *sync_json(const struct gslb_config *cfg,
			 const struct keysync *ks)
{
	char interval[32];
	gslb_duration_t d =
		ks != NULL ? keysync_poll_interval(ks)
			   : cfg->overwatch.dnssec.key_sync_poll_interval;
	json_t *peers = json_array();
	for (size_t i = 0;
	     ks != NULL && peers != NULL && i < keysync_peer_count(ks); i++) {
		struct keysync_peer_status ps;
		char last[GSLB_RFC3339_LEN], ok[GSLB_RFC3339_LEN];
		keysync_peer_status(ks, i, &ps);
		/* What never happened is left out, as everywhere. */
		json_t *o = json_pack(
			"{s:s, s:s*, s:s*, s:s*, s:I}", "peer", ps.peer,
			"last_sync", api_wall_text(ps.last_sync, last),
			"last_success", api_wall_text(ps.last_success, ok),
			"last_error", ps.last_error, "failures",
			(json_int_t)ps.failures);
		if (json_array_append_new(peers, o) != 0) {
			json_decref(peers);
			peers = NULL;
		}
	}
	return json_pack(
		"{s:b, s:s, s:o}", "running", ks != NULL, "poll_interval",
		duration_text(d, interval, sizeof(interval)), "peers", peers);
}

static void handle_status(struct api *api, struct evhttp_request *req)
{
	const struct gslb_config *cfg = api->srv->cfg;
	struct keys *keys = api->srv->keys;
	const bool enabled = keys_enabled(keys);
	const int64_t now = gslb_clock_wall() / GSLB_SEC;
	json_t *list = json_array();
	json_t *sigs = json_object();
	for (size_t i = 0;
	     enabled && list != NULL && sigs != NULL && i < cfg->dns.n_zones;
	     i++) {
		const char *zone = cfg->dns.zones[i].name;
		const struct zone_key *key = keys_key(keys, zone);
		const struct signer *s = keys_signer(keys, zone);
		if (key == NULL) {
			continue;
		}
		if (json_array_append_new(list, key_status_json(key, now)) !=
			    0 ||
		    (s != NULL &&
		     json_object_set_new(sigs, zone, signer_json(s)) != 0)) {
			json_decref(list);
			list = NULL;
		}
	}
	api_send_json(api, req, HTTP_OK,
		      json_pack("{s:b, s:s*, s:s, s:s, s:o, s:o, s:o}",
				"enabled", enabled, "message",
				enabled ? NULL : DISABLED, "algorithm",
				dnssec_algorithm_name(
					(int)cfg->overwatch.dnssec.algorithm),
				"denial",
				cfg->overwatch.dnssec.nsec3 ? "nsec3" : "nsec",
				"keys", list, "signatures", sigs, "sync",
				sync_json(cfg, keys_sync(keys))));
}

static void handle_keys(struct api *api, struct evhttp_request *req)
{
	const struct gslb_config *cfg = api->srv->cfg;
	struct keys *keys = api->srv->keys;
	if (!keys_enabled(keys)) {
		/* An empty list: a peer with DNSSEC off offers nothing. */
		api_send_json(api, req, HTTP_OK,
			      json_pack("{s:b, s:s, s:[]}", "enabled", 0,
					"message", DISABLED, "keys"));
		return;
	}
	if (!cfg->overwatch.gossip.key_set) {
		/* Private keys never leave in clear. */
		api_send_error(
			api, req, 409,
			"key sync needs overwatch.gossip.encryption_key");
		return;
	}
	json_t *list = json_array();
	for (size_t i = 0; list != NULL && i < cfg->dns.n_zones; i++) {
		const struct zone_key *key =
			keys_key(keys, cfg->dns.zones[i].name);
		if (key == NULL) {
			continue;
		}
		json_t *o = keysync_key_to_json(key, cfg->overwatch.gossip.key);
		if (json_array_append_new(list, o) != 0) {
			json_decref(list);
			list = NULL;
		}
	}
	api_send_json(api, req, HTTP_OK,
		      json_pack("{s:b, s:o}", "enabled", 1, "keys", list));
}

static void handle_sync(struct api *api, struct evhttp_request *req)
{
	struct keys *keys = api->srv->keys;
	if (!keys_enabled(keys)) {
		api_send_error(api, req, HTTP_BADREQUEST, DISABLED);
		return;
	}
	struct keysync *ks = keys_sync(keys);
	if (ks == NULL) {
		api_send_error(api, req, HTTP_BADREQUEST,
			       "key sync is not configured");
		return;
	}
	keysync_trigger(ks);
	api_send_json(api, req, HTTP_OK,
		      json_pack("{s:s, s:s}", "status", "ok", "message",
				"key sync triggered"));
}

void api_handle_dnssec(struct api *api, struct evhttp_request *req,
		       const char *rest, const char *query,
		       const struct api_caller *caller)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const bool get = cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;
	const bool status = *rest == '\0' || strcmp(rest, "status") == 0;

	if (status || strcmp(rest, "ds") == 0 || strcmp(rest, "keys") == 0) {
		if (!get) {
			api_send_bad_method(api, req, "GET, HEAD");
		} else if (status) {
			handle_status(api, req);
		} else if (rest[0] == 'd') {
			handle_ds(api, req, query);
		} else {
			handle_keys(api, req);
		}
	} else if (strcmp(rest, "sync") == 0) {
		if (cmd != EVHTTP_REQ_POST) {
			api_send_bad_method(api, req, "POST");
		} else {
			handle_sync(api, req);
		}
	} else {
		api_send_error(api, req, HTTP_NOTFOUND, "endpoint not found");
	}
}
