/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "curl_dl.h"
#include "error.h"
#include "keysync.h"
#include "log.h"
#include "seal.h"

#define SUBSYS "keysync"

#define KEYS_PATH  "/api/v1/dnssec/keys"
#define USER_AGENT "OpenGSLB-KeySync/1.0"
#define AD_PREFIX  "opengslb-dnssec-key|"
#define FLAGS_CSK  257
/* A peer's answer; more is not a key list of any sensible size. */
#define BODY_MAX (1024 * 1024)
/* How much of a failed answer's body goes into the error. */
#define ERROR_BODY_MAX 200
/* Untrusted strings quoted in messages are cut to this. */
#define QUOTE_MAX 64
/* Upper bounds for fields that have no business being long. */
#define NODE_ID_MAX    255
#define PUBLIC_KEY_MAX 1024
#define KEY_ID_LEN     40
/* A zero or tiny interval from a hand-built config must not spin. */
#define MIN_INTERVAL GSLB_SEC

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */

/* Untrusted text fit for a log line: printable ASCII, at most max bytes. */
static void printable(char *dst, size_t size, const char *src, size_t len,
		      size_t max)
{
	/* A body's final newline would only show as '?'. */
	while (len > 0 && isspace((unsigned char)src[len - 1])) {
		len--;
	}
	size_t n = len < max ? len : max;
	if (n > size - 4) {
		n = size - 4;
	}
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	while (o > 0 && dst[o - 1] == ' ') {
		o--;
	}
	if (n < len) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

static char *vformat(const char *fmt, va_list ap)
{
	char *s = NULL;
	return vasprintf(&s, fmt, ap) < 0 ? NULL : s;
}

static char *format(const char *fmt, ...) GSLB_PRINTF(1, 2);
static char *format(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = vformat(fmt, ap);
	va_end(ap);
	return s;
}

/* Appends "; " and the message to *list (left as it was when out of
 * memory: the reason is lost, not the key list). */
static void append_error(char **list, const char *fmt, ...) GSLB_PRINTF(2, 3);
static void append_error(char **list, const char *fmt, ...)
{
	if (list == NULL) {
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	char *msg = vformat(fmt, ap);
	va_end(ap);
	if (msg == NULL) {
		return;
	}
	if (*list == NULL) {
		*list = msg;
		return;
	}
	char *both = format("%s; %s", *list, msg);
	free(msg);
	if (both != NULL) {
		free(*list);
		*list = both;
	}
}

static char *seal_ad(const char *zone, const char *key_id, int64_t created)
{
	return format(AD_PREFIX "%s|%s|%" PRId64, zone, key_id, created);
}

/* RFC 3339 in whole seconds, as the original shows key times. */
static bool format_created(int64_t secs, char buf[GSLB_RFC3339_LEN])
{
	const time_t t = (time_t)secs;
	struct tm tm;
	return gmtime_r(&t, &tm) != NULL &&
	       strftime(buf, GSLB_RFC3339_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0;
}

/* Seconds of a wall-clock time, rounded down (also before 1970). */
static int64_t to_seconds(gslb_time_t wall)
{
	int64_t s = wall / GSLB_SEC;
	return wall % GSLB_SEC < 0 ? s - 1 : s;
}

/* Why zone is not a zone as keys name them (lower case, no trailing dot),
 * or NULL when it is one. */
static const char *zone_problem(const char *zone)
{
	const size_t len = strlen(zone);
	if (len == 0) {
		return "empty";
	}
	if (len > 253) {
		return "longer than 253 characters";
	}
	size_t label = 0;
	for (const char *p = zone;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63) {
				return "not a domain name";
			}
			if (*p == '\0') {
				return NULL;
			}
			label = 0;
			continue;
		}
		const unsigned char c = (unsigned char)*p;
		if (!(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') &&
		    c != '-' && c != '_') {
			return "not a lower-case domain name";
		}
		label++;
	}
}

static bool is_key_id(const char *s)
{
	size_t n = 0;
	for (; s[n] != '\0'; n++) {
		if (!isxdigit((unsigned char)s[n]) ||
		    isupper((unsigned char)s[n])) {
			return false;
		}
	}
	return n == KEY_ID_LEN;
}

static bool algorithm_from_name(const char *name, int *algorithm)
{
	static const int known[] = {
		GSLB_DNSSEC_ECDSAP256SHA256,
		GSLB_DNSSEC_ECDSAP384SHA384,
		GSLB_DNSSEC_ED25519,
	};
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(known); i++) {
		if (strcmp(name, dnssec_algorithm_name(known[i])) == 0) {
			*algorithm = known[i];
			return true;
		}
	}
	return false;
}

/* ------------------------------------------------------------------------ */
/* The wire format                                                          */

void keysync_key_clear(struct keysync_key *k)
{
	free(k->zone);
	free(k->node_id);
	if (k->pem != NULL) {
		explicit_bzero(k->pem, k->pem_len);
	}
	free(k->pem);
	free(k->public_key);
	memset(k, 0, sizeof(*k));
}

json_t *keysync_key_to_json(const struct zone_key *key,
			    const uint8_t seal_key[GSLB_GOSSIP_KEY_LEN])
{
	char created[GSLB_RFC3339_LEN];
	if (gslb_seal_init() != GSLB_EOK ||
	    !format_created(key->created, created)) {
		return NULL;
	}
	char *ad = seal_ad(key->zone, key->key_id, key->created);
	char *pub = zone_key_public_b64(key);
	char *sealed =
		ad != NULL ? gslb_seal_b64(seal_key, ad, key->pem, key->pem_len)
			   : NULL;
	json_t *o = NULL;
	if (pub != NULL && sealed != NULL) {
		o = json_pack("{s:s, s:s, s:i, s:i, s:s, s:s, s:s, s:s?, s:s}",
			      "zone", key->zone, "algorithm",
			      dnssec_algorithm_name(key->algorithm), "flags",
			      FLAGS_CSK, "key_tag", (int)key->key_tag, "key_id",
			      key->key_id, "public_key", pub, "created_at",
			      created, "node_id", key->node_id,
			      "private_key_sealed", sealed);
	}
	free(ad);
	free(pub);
	free(sealed);
	return o;
}

/* A string member, or NULL after saying why not in why. */
static const char *get_string(json_t *o, const char *name, char *why,
			      size_t why_len)
{
	json_t *v = json_object_get(o, name);
	if (v == NULL) {
		snprintf(why, why_len, "\"%s\" is missing", name);
		return NULL;
	}
	if (!json_is_string(v)) {
		snprintf(why, why_len, "\"%s\" is not a string", name);
		return NULL;
	}
	return json_string_value(v);
}

static bool get_int(json_t *o, const char *name, json_int_t min, json_int_t max,
		    json_int_t *out, char *why, size_t why_len)
{
	json_t *v = json_object_get(o, name);
	if (v == NULL) {
		snprintf(why, why_len, "\"%s\" is missing", name);
		return false;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max) {
		snprintf(why, why_len,
			 "\"%s\" is not an integer %" JSON_INTEGER_FORMAT
			 "..%" JSON_INTEGER_FORMAT,
			 name, min, max);
		return false;
	}
	*out = json_integer_value(v);
	return true;
}

/* The fields of one key as the peer sent them, checked for form. */
struct wire_key {
	const char *zone;
	int algorithm;
	json_int_t key_tag;
	const char *key_id;
	const char *public_key;
	int64_t created;
	const char *node_id; /* NULL: none */
	const char *sealed;
};

static bool read_fields(json_t *o, struct wire_key *w, char *why,
			size_t why_len)
{
	char q[QUOTE_MAX + 4];
	json_int_t flags;

	w->zone = get_string(o, "zone", why, why_len);
	if (w->zone == NULL) {
		return false;
	}
	const char *problem = zone_problem(w->zone);
	if (problem != NULL) {
		printable(q, sizeof(q), w->zone, strlen(w->zone), QUOTE_MAX);
		snprintf(why, why_len, "zone \"%s\": %s", q, problem);
		return false;
	}
	const char *alg = get_string(o, "algorithm", why, why_len);
	if (alg == NULL) {
		return false;
	}
	if (!algorithm_from_name(alg, &w->algorithm)) {
		printable(q, sizeof(q), alg, strlen(alg), QUOTE_MAX);
		snprintf(why, why_len, "unknown algorithm \"%s\"", q);
		return false;
	}
	if (!get_int(o, "flags", 0, 65535, &flags, why, why_len)) {
		return false;
	}
	if (flags != FLAGS_CSK) {
		snprintf(why, why_len,
			 "flags %" JSON_INTEGER_FORMAT " are not %d (a CSK)",
			 flags, FLAGS_CSK);
		return false;
	}
	if (!get_int(o, "key_tag", 0, 65535, &w->key_tag, why, why_len)) {
		return false;
	}
	w->key_id = get_string(o, "key_id", why, why_len);
	if (w->key_id == NULL) {
		return false;
	}
	if (!is_key_id(w->key_id)) {
		snprintf(why, why_len,
			 "\"key_id\" is not %d lower-case hex digits",
			 KEY_ID_LEN);
		return false;
	}
	w->public_key = get_string(o, "public_key", why, why_len);
	if (w->public_key == NULL) {
		return false;
	}
	if (w->public_key[0] == '\0' ||
	    strlen(w->public_key) > PUBLIC_KEY_MAX) {
		snprintf(why, why_len, "\"public_key\" is empty or too long");
		return false;
	}
	const char *created = get_string(o, "created_at", why, why_len);
	if (created == NULL) {
		return false;
	}
	gslb_time_t wall;
	if (gslb_time_parse_rfc3339(created, &wall) != 0) {
		printable(q, sizeof(q), created, strlen(created), QUOTE_MAX);
		snprintf(why, why_len, "\"created_at\" \"%s\" is not RFC 3339",
			 q);
		return false;
	}
	w->created = to_seconds(wall);
	json_t *node = json_object_get(o, "node_id");
	if (node != NULL && !json_is_null(node)) {
		w->node_id = json_string_value(node);
		if (w->node_id == NULL) {
			snprintf(why, why_len, "\"node_id\" is not a string");
			return false;
		}
		const size_t n = strlen(w->node_id);
		for (size_t i = 0; i < n; i++) {
			if (iscntrl((unsigned char)w->node_id[i])) {
				snprintf(why, why_len,
					 "\"node_id\" has control characters");
				return false;
			}
		}
		if (n > NODE_ID_MAX) {
			snprintf(why, why_len, "\"node_id\" is too long");
			return false;
		}
	} else {
		w->node_id = NULL;
	}
	w->sealed = get_string(o, "private_key_sealed", why, why_len);
	return w->sealed != NULL;
}

/*
 * One key: GSLB_EOK with out filled, GSLB_EINVAL with why, or
 * GSLB_ENOMEM.
 */
static int parse_key(json_t *o, const uint8_t seal_key[GSLB_GOSSIP_KEY_LEN],
		     struct keysync_key *out, char *why, size_t why_len)
{
	struct wire_key w;

	if (!json_is_object(o)) {
		snprintf(why, why_len, "not a JSON object");
		return GSLB_EINVAL;
	}
	if (!read_fields(o, &w, why, why_len)) {
		return GSLB_EINVAL;
	}

	char *ad = seal_ad(w.zone, w.key_id, w.created);
	if (ad == NULL) {
		return GSLB_ENOMEM;
	}
	uint8_t *pem = NULL;
	size_t pem_len = 0;
	int ret = gslb_unseal_b64(seal_key, ad, w.sealed, &pem, &pem_len);
	free(ad);
	if (ret == GSLB_EINVAL) {
		snprintf(why, why_len,
			 "\"private_key_sealed\" does not open with our "
			 "gossip key (another key, not base64, or altered)");
	}
	if (ret != GSLB_EOK) {
		return ret;
	}

	struct zone_key *zk = NULL;
	ret = zone_key_load(w.zone, w.algorithm, pem, pem_len, w.created,
			    w.node_id, &zk);
	char *pub = NULL;
	if (ret == GSLB_EINVAL) {
		snprintf(why, why_len, "the private key is not a valid %s key",
			 dnssec_algorithm_name(w.algorithm));
	} else if (ret == GSLB_EOK) {
		pub = zone_key_public_b64(zk);
		if (pub == NULL) {
			ret = GSLB_ENOMEM;
		} else if (zk->key_tag != w.key_tag) {
			snprintf(why, why_len,
				 "\"key_tag\" %u does not match the private "
				 "key's %u",
				 (unsigned)w.key_tag, (unsigned)zk->key_tag);
			ret = GSLB_EINVAL;
		} else if (strcmp(zk->key_id, w.key_id) != 0) {
			snprintf(why, why_len,
				 "\"key_id\" does not match the private key's "
				 "%s",
				 zk->key_id);
			ret = GSLB_EINVAL;
		} else if (strcmp(pub, w.public_key) != 0) {
			snprintf(why, why_len,
				 "\"public_key\" does not match the private "
				 "key");
			ret = GSLB_EINVAL;
		}
	}
	zone_key_free(zk);
	free(pub);

	if (ret == GSLB_EOK) {
		memset(out, 0, sizeof(*out));
		out->zone = strdup(w.zone);
		out->node_id = w.node_id != NULL ? strdup(w.node_id) : NULL;
		out->public_key = strdup(w.public_key);
		out->algorithm = w.algorithm;
		out->created = w.created;
		out->key_tag = (uint16_t)w.key_tag;
		out->pem = pem;
		out->pem_len = pem_len;
		pem = NULL;
		if (out->zone == NULL || out->public_key == NULL ||
		    (w.node_id != NULL && out->node_id == NULL)) {
			keysync_key_clear(out);
			ret = GSLB_ENOMEM;
		}
	}
	if (pem != NULL) {
		explicit_bzero(pem, pem_len);
		free(pem);
	}
	return ret;
}

static void free_keys(struct keysync_key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		keysync_key_clear(&keys[i]);
	}
	free(keys);
}

int keysync_parse(const char *body, size_t len,
		  const uint8_t seal_key[GSLB_GOSSIP_KEY_LEN],
		  struct keysync_key **keys, size_t *n_keys, char **errors)
{
	*keys = NULL;
	*n_keys = 0;
	if (errors != NULL) {
		*errors = NULL;
	}
	if (gslb_seal_init() != GSLB_EOK) {
		return GSLB_EIO;
	}

	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		append_error(errors, "not JSON: %s (line %d, column %d)",
			     jerr.text, jerr.line, jerr.column);
		return GSLB_EINVAL;
	}
	json_t *arr = json_object_get(root, "keys");
	if (!json_is_object(root) || !json_is_array(arr)) {
		append_error(errors, "not a JSON object with a \"keys\" array");
		json_decref(root);
		return GSLB_EINVAL;
	}

	const size_t n = json_array_size(arr);
	struct keysync_key *out = NULL;
	if (n > 0) {
		out = calloc(n, sizeof(*out));
		if (out == NULL) {
			json_decref(root);
			return GSLB_ENOMEM;
		}
	}
	size_t got = 0;
	int ret = GSLB_EOK;
	for (size_t i = 0; i < n && ret == GSLB_EOK; i++) {
		json_t *o = json_array_get(arr, i);
		char why[256];
		ret = parse_key(o, seal_key, &out[got], why, sizeof(why));
		if (ret == GSLB_EOK) {
			got++;
		} else if (ret == GSLB_EINVAL) {
			const char *zone =
				json_string_value(json_object_get(o, "zone"));
			if (zone != NULL) {
				char q[QUOTE_MAX + 4];
				printable(q, sizeof(q), zone, strlen(zone),
					  QUOTE_MAX);
				append_error(errors, "keys[%zu] (zone %s): %s",
					     i, q, why);
			} else {
				append_error(errors, "keys[%zu]: %s", i, why);
			}
			ret = GSLB_EOK;
		}
	}
	json_decref(root);
	if (ret != GSLB_EOK) {
		free_keys(out, got);
		if (errors != NULL) {
			free(*errors);
			*errors = NULL;
		}
		return ret;
	}
	if (got == 0) {
		free(out);
		out = NULL;
	}
	*keys = out;
	*n_keys = got;
	return GSLB_EOK;
}

/* ------------------------------------------------------------------------ */
/* One request                                                              */

struct fetch {
	char *body;
	size_t len;
	size_t cap;
	bool too_big;
	const atomic_bool *stop; /* NULL: cannot be stopped */
};

static size_t write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct fetch *f = arg;
	const size_t n = size * nmemb;
	if (n > BODY_MAX - f->len) {
		f->too_big = true;
		return 0; /* CURLE_WRITE_ERROR */
	}
	if (f->len + n + 1 > f->cap) {
		size_t cap = f->cap < 16384 ? 16384 : f->cap;
		while (cap < f->len + n + 1) {
			cap *= 2;
		}
		char *body = realloc(f->body, cap);
		if (body == NULL) {
			return 0;
		}
		f->body = body;
		f->cap = cap;
	}
	memcpy(f->body + f->len, data, n);
	f->len += n;
	f->body[f->len] = '\0';
	return n;
}

static int progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	const struct fetch *f = arg;
	return f->stop != NULL && atomic_load(f->stop) ? 1 : 0;
}

static char *keys_url(const char *peer)
{
	size_t len = strlen(peer);
	while (len > 0 && peer[len - 1] == '/') {
		len--;
	}
	return format("%.*s" KEYS_PATH, (int)len, peer);
}

/*
 * GET <peer>/api/v1/dnssec/keys: GSLB_EOK with the body (malloc'ed,
 * NUL-terminated) of a 200 answer, or a GSLB_E* code with *error.
 */
static int fetch(const char *peer, gslb_duration_t timeout,
		 const atomic_bool *stop, char **body, size_t *len,
		 char **error)
{
	*body = NULL;
	*len = 0;
	*error = NULL;

	char *url = keys_url(peer);
	struct curl_slist *headers =
		gslb_curl.slist_append(NULL, "Accept: application/json");
	CURL *e = gslb_curl.easy_init();
	if (url == NULL || headers == NULL || e == NULL) {
		free(url);
		gslb_curl.slist_free_all(headers);
		gslb_curl.easy_cleanup(e);
		*error = strdup("out of memory");
		return GSLB_ENOMEM;
	}

	struct fetch f = { .stop = stop };
	char errbuf[CURL_ERROR_SIZE] = "";
	long timeout_ms = (long)((timeout + GSLB_MSEC - 1) / GSLB_MSEC);
	if (timeout_ms <= 0) {
		timeout_ms = 1;
	}
	bool bad = false;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_URL, url) != CURLE_OK;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_HTTPGET, 1L) != CURLE_OK;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_HTTPHEADER, headers) !=
	       CURLE_OK;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT) !=
	       CURLE_OK;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf) !=
	       CURLE_OK;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb) !=
	       CURLE_OK;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_WRITEDATA, &f) != CURLE_OK;
	/* Stop aborts a transfer instead of waiting out its timeout. */
	bad |= gslb_curl.easy_setopt(e, CURLOPT_XFERINFOFUNCTION,
				     progress_cb) != CURLE_OK;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_XFERINFODATA, &f) != CURLE_OK;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_NOPROGRESS, 0L) != CURLE_OK;
	/* No signals: this runs on a thread of a daemon. */
	bad |= gslb_curl.easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms) !=
	       CURLE_OK;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
				     (curl_off_t)BODY_MAX) != CURLE_OK;
	/* Peers are named in the config: the environment's http_proxy must
	 * not reroute the keys (as for health checks). */
	bad |= gslb_curl.easy_setopt(e, CURLOPT_PROXY, "") != CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500
	bad |= gslb_curl.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") !=
	       CURLE_OK;
#else
	bad |= gslb_curl.easy_setopt(
		       e, CURLOPT_PROTOCOLS,
		       (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK;
#endif

	int ret = GSLB_EOK;
	CURLcode code = bad ? CURLE_OUT_OF_MEMORY : gslb_curl.easy_perform(e);
	long status = 0;
	if (code == CURLE_OK &&
	    gslb_curl.easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status) !=
		    CURLE_OK) {
		status = 0;
	}

	if (code == CURLE_OK && status == 200) {
		if (f.body == NULL) {
			f.body = strdup("");
			if (f.body == NULL) {
				ret = GSLB_ENOMEM;
				*error = strdup("out of memory");
			}
		}
		if (ret == GSLB_EOK) {
			*body = f.body;
			*len = f.len;
			f.body = NULL;
		}
	} else if (code == CURLE_OK) {
		char text[ERROR_BODY_MAX + 4];
		printable(text, sizeof(text), f.body != NULL ? f.body : "",
			  f.len, ERROR_BODY_MAX);
		*error = text[0] != '\0'
				 ? format("peer returned status %ld: %s",
					  status, text)
				 : format("peer returned status %ld", status);
		ret = GSLB_EIO;
	} else if (f.too_big || code == CURLE_FILESIZE_EXCEEDED) {
		*error = format("%s: the answer is larger than %d bytes", url,
				BODY_MAX);
		ret = GSLB_ERANGE;
	} else if (code == CURLE_ABORTED_BY_CALLBACK) {
		*error = strdup("stopped");
		ret = -ECANCELED;
	} else if (code == CURLE_OPERATION_TIMEDOUT) {
		*error = format("%s: no answer within %ld ms", url, timeout_ms);
		ret = -ETIMEDOUT;
	} else if (code == CURLE_OUT_OF_MEMORY) {
		*error = strdup("out of memory");
		ret = GSLB_ENOMEM;
	} else {
		size_t n = strlen(errbuf);
		while (n > 0 && errbuf[n - 1] == '\n') {
			errbuf[--n] = '\0';
		}
		*error = format("%s: %s", url,
				n > 0 ? errbuf : gslb_curl.easy_strerror(code));
		ret = GSLB_EIO;
	}
	if (ret != GSLB_EOK && *error == NULL) {
		ret = GSLB_ENOMEM;
	}
	free(f.body);
	gslb_curl.easy_cleanup(e);
	gslb_curl.slist_free_all(headers);
	free(url);
	return ret;
}

int keysync_fetch_once(const char *peer, gslb_duration_t timeout,
		       const uint8_t seal_key[GSLB_GOSSIP_KEY_LEN],
		       struct keysync_key **keys, size_t *n_keys, char **error)
{
	*keys = NULL;
	*n_keys = 0;
	*error = NULL;
	char failure[256];
	if (gslb_curl_open(failure, sizeof(failure)) != GSLB_EOK) {
		*error = strdup(failure);
		return GSLB_ENOENT;
	}
	if (gslb_curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		*error = strdup("libcurl initialization failed");
		return GSLB_ENOMEM;
	}
	char *body = NULL;
	size_t len = 0;
	int ret = fetch(peer, timeout, NULL, &body, &len, error);
	gslb_curl.global_cleanup();
	if (ret != GSLB_EOK) {
		return ret;
	}
	char *why = NULL;
	ret = keysync_parse(body, len, seal_key, keys, n_keys, &why);
	free(body);
	if (ret == GSLB_EINVAL) {
		*error = format("invalid answer: %s",
				why != NULL ? why : "not the expected JSON");
		free(why);
		return *error != NULL ? ret : GSLB_ENOMEM;
	}
	/* On success: the keys skipped, if any. */
	*error = why;
	return ret;
}

/* ------------------------------------------------------------------------ */
/* The poller                                                               */

/* What the main thread knows of a peer. */
struct peer {
	char *url;
	gslb_time_t last_sync;
	gslb_time_t last_success;
	char *last_error;
	uint64_t failures; /* in a row */
	char *skipped;     /* keys refused in the last answer, logged */
};

/* One answer, from the thread to the main loop. */
struct result {
	struct result *next;
	char *peer;
	gslb_time_t at; /* wall clock */
	int err;
	char *error;
	char *body;
	size_t len;
};

struct keysync {
	struct event_base *base;
	keysync_cb cb;
	void *arg;
	int efd;
	struct event *ev;

	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool sync_ready;
	bool curl_ready;

	/* Under lock: the thread's view of the config, and its output. */
	char **peers;
	size_t n_peers;
	gslb_duration_t interval;
	gslb_duration_t timeout;
	bool triggered;
	struct result *done, **done_tail;
	/* Also read by a transfer in flight, which then aborts. */
	atomic_bool stopping;

	/* The main thread's. */
	struct peer *status;
	size_t n_status;
	uint8_t key[GSLB_GOSSIP_KEY_LEN];
	gslb_duration_t main_interval;
};

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i]);
	}
	free(v);
}

static char **copy_strv(char *const *v, size_t n)
{
	char **c = calloc(n > 0 ? n : 1, sizeof(*c));
	if (c == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		c[i] = strdup(v[i]);
		if (c[i] == NULL) {
			free_strv(c, i);
			return NULL;
		}
	}
	return c;
}

static void result_free(struct result *r)
{
	free(r->peer);
	free(r->error);
	free(r->body);
	free(r);
}

static void peers_free(struct peer *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].url);
		free(p[i].last_error);
		free(p[i].skipped);
	}
	free(p);
}

static struct peer *find_peer(struct keysync *ks, const char *url)
{
	for (size_t i = 0; i < ks->n_status; i++) {
		if (strcmp(ks->status[i].url, url) == 0) {
			return &ks->status[i];
		}
	}
	return NULL;
}

static void mono_timespec(gslb_time_t t, struct timespec *ts)
{
	ts->tv_sec = (time_t)(t / GSLB_SEC);
	ts->tv_nsec = (long)(t % GSLB_SEC);
}

/* Hands r to the main loop. */
static void post(struct keysync *ks, struct result *r)
{
	r->next = NULL;
	pthread_mutex_lock(&ks->lock);
	*ks->done_tail = r;
	ks->done_tail = &r->next;
	pthread_mutex_unlock(&ks->lock);

	const uint64_t one = 1;
	ssize_t n;
	do {
		n = write(ks->efd, &one, sizeof(one));
	} while (n < 0 && errno == EINTR);
}

static void poll_peer(struct keysync *ks, const char *peer,
		      gslb_duration_t timeout)
{
	struct result *r = calloc(1, sizeof(*r));
	if (r == NULL || (r->peer = strdup(peer)) == NULL) {
		free(r);
		log_error(SUBSYS, "peer %s: out of memory", peer);
		return;
	}
	r->err = fetch(peer, timeout, &ks->stopping, &r->body, &r->len,
		       &r->error);
	r->at = gslb_clock_wall();
	if (r->err == -ECANCELED) {
		result_free(r);
		return;
	}
	post(ks, r);
}

static void *keysync_main(void *arg)
{
	struct keysync *ks = arg;
	bool first = true;
	gslb_time_t last_round = 0; /* monotonic */

	pthread_mutex_lock(&ks->lock);
	for (;;) {
		while (!atomic_load(&ks->stopping) && !first &&
		       !ks->triggered) {
			/* Read again after every wake-up: a reload may
			 * have changed the interval. */
			const gslb_time_t deadline = last_round + ks->interval;
			if (gslb_clock_mono() >= deadline) {
				break;
			}
			struct timespec ts;
			mono_timespec(deadline, &ts);
			pthread_cond_timedwait(&ks->cond, &ks->lock, &ts);
		}
		if (atomic_load(&ks->stopping)) {
			break;
		}
		first = false;
		ks->triggered = false;
		last_round = gslb_clock_mono();
		const size_t n = ks->n_peers;
		const gslb_duration_t timeout = ks->timeout;
		char **peers = copy_strv(ks->peers, n);
		pthread_mutex_unlock(&ks->lock);

		if (peers == NULL) {
			log_error(SUBSYS, "out of memory: round skipped");
		}
		for (size_t i = 0; peers != NULL && i < n; i++) {
			if (atomic_load(&ks->stopping)) {
				break;
			}
			poll_peer(ks, peers[i], timeout);
		}
		if (peers != NULL) {
			free_strv(peers, n);
		}
		pthread_mutex_lock(&ks->lock);
	}
	pthread_mutex_unlock(&ks->lock);
	return NULL;
}

static void peer_failed(struct peer *p, int err, const char *msg)
{
	if (msg == NULL) {
		msg = gslb_strerror(err);
	}
	/* A peer down for hours is one line, not one per round. */
	if (p->failures == 0) {
		log_warn(SUBSYS, "peer %s: key sync failed: %s", p->url, msg);
	} else {
		log_debug(SUBSYS, "peer %s: key sync failed again: %s", p->url,
			  msg);
	}
	p->failures++;
	char *copy = strdup(msg);
	if (copy != NULL) {
		free(p->last_error);
		p->last_error = copy;
	}
}

static void peer_succeeded(struct peer *p, gslb_time_t at, size_t n_keys,
			   char *skipped)
{
	if (p->failures > 0) {
		log_info(SUBSYS,
			 "peer %s: key sync works again after %" PRIu64
			 " failed attempts",
			 p->url, p->failures);
	}
	log_debug(SUBSYS, "peer %s: %zu keys", p->url, n_keys);
	p->failures = 0;
	p->last_success = at;
	free(p->last_error);
	p->last_error = NULL;
	/* Refused keys are logged when the reasons change, not each round. */
	if (skipped != NULL &&
	    (p->skipped == NULL || strcmp(p->skipped, skipped) != 0)) {
		log_warn(SUBSYS, "peer %s: keys ignored: %s", p->url, skipped);
	}
	free(p->skipped);
	p->skipped = skipped;
}

static void dispatch(struct keysync *ks)
{
	pthread_mutex_lock(&ks->lock);
	struct result *list = ks->done;
	ks->done = NULL;
	ks->done_tail = &ks->done;
	pthread_mutex_unlock(&ks->lock);

	while (list != NULL) {
		struct result *r = list;
		list = r->next;
		struct peer *p = find_peer(ks, r->peer);
		if (p == NULL) {
			/* Removed by a reload while it was asked. */
			result_free(r);
			continue;
		}
		p->last_sync = r->at;
		if (r->err != GSLB_EOK) {
			peer_failed(p, r->err, r->error);
			result_free(r);
			continue;
		}

		struct keysync_key *keys = NULL;
		size_t n = 0;
		char *why = NULL;
		int ret = keysync_parse(r->body, r->len, ks->key, &keys, &n,
					&why);
		if (ret != GSLB_EOK) {
			char *msg =
				format("invalid answer: %s",
				       why != NULL ? why : gslb_strerror(ret));
			peer_failed(p, ret, msg);
			free(msg);
			free(why);
			result_free(r);
			continue;
		}
		peer_succeeded(p, r->at, n, why);
		/* p may not outlive a reload in the callback: no more use. */
		if (ks->cb != NULL) {
			ks->cb(r->peer, keys, n, ks->arg);
		}
		free_keys(keys, n);
		result_free(r);
	}
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct keysync *ks = arg;
	uint64_t count;
	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN &&
	    errno != EINTR) {
		log_error(SUBSYS, "reading the wake-up event: %s",
			  strerror(errno));
	}
	dispatch(ks);
}

/* The parts of cfg the poller takes, checked. */
static int check_config(const struct gslb_config *cfg)
{
	const struct gslb_overwatch_config *ow = &cfg->overwatch;
	if (ow->dnssec.n_key_sync_peers > 0 && !ow->gossip.key_set) {
		log_error(SUBSYS, "overwatch.dnssec.key_sync.peers needs "
				  "overwatch.gossip.encryption_key: keys "
				  "travel sealed with it");
		return GSLB_EINVAL;
	}
	return GSLB_EOK;
}

static gslb_duration_t interval_of(const struct gslb_config *cfg)
{
	gslb_duration_t d = cfg->overwatch.dnssec.key_sync_poll_interval;
	return d < MIN_INTERVAL ? MIN_INTERVAL : d;
}

/* A status table for peers, keeping what is known of those already
 * there. */
static struct peer *status_for(const struct keysync *ks, char *const *peers,
			       size_t n)
{
	struct peer *st = calloc(n > 0 ? n : 1, sizeof(*st));
	if (st == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const struct peer *old = NULL;
		for (size_t j = 0; j < ks->n_status; j++) {
			if (strcmp(ks->status[j].url, peers[i]) == 0) {
				old = &ks->status[j];
				break;
			}
		}
		if (old != NULL) {
			st[i] = *old;
			st[i].last_error = NULL;
			st[i].skipped = NULL;
		}
		st[i].url = strdup(peers[i]);
		bool ok = st[i].url != NULL;
		if (old != NULL && old->last_error != NULL) {
			st[i].last_error = strdup(old->last_error);
			ok = ok && st[i].last_error != NULL;
		}
		if (old != NULL && old->skipped != NULL) {
			st[i].skipped = strdup(old->skipped);
			ok = ok && st[i].skipped != NULL;
		}
		if (!ok) {
			peers_free(st, i + 1);
			return NULL;
		}
	}
	return st;
}

static bool same_peers(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb) {
		return false;
	}
	for (size_t i = 0; i < na; i++) {
		if (strcmp(a[i], b[i]) != 0) {
			return false;
		}
	}
	return true;
}

int keysync_reconfigure(struct keysync *ks, const struct gslb_config *cfg)
{
	const struct gslb_overwatch_config *ow = &cfg->overwatch;
	int ret = check_config(cfg);
	if (ret != GSLB_EOK) {
		return ret;
	}
	const size_t n = ow->dnssec.n_key_sync_peers;
	char **peers = copy_strv(ow->dnssec.key_sync_peers, n);
	struct peer *st = status_for(ks, ow->dnssec.key_sync_peers, n);
	if (peers == NULL || st == NULL) {
		if (peers != NULL) {
			free_strv(peers, n);
		}
		return GSLB_ENOMEM;
	}
	peers_free(ks->status, ks->n_status);
	ks->status = st;
	ks->n_status = n;
	memcpy(ks->key, ow->gossip.key, sizeof(ks->key));
	ks->main_interval = interval_of(cfg);

	pthread_mutex_lock(&ks->lock);
	/* New peers should not wait an interval for their first round. */
	if (!same_peers(ks->peers, ks->n_peers, peers, n)) {
		ks->triggered = true;
	}
	free_strv(ks->peers, ks->n_peers);
	ks->peers = peers;
	ks->n_peers = n;
	ks->interval = ks->main_interval;
	ks->timeout = ow->dnssec.key_sync_timeout;
	pthread_cond_signal(&ks->cond);
	pthread_mutex_unlock(&ks->lock);
	return GSLB_EOK;
}

static int start_thread(struct keysync *ks)
{
	sigset_t all, old;

	/* Signals belong to the main loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int ret = pthread_create(&ks->thread, NULL, keysync_main, ks);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret != 0) {
		return -ret;
	}
	ks->thread_started = true;
	return GSLB_EOK;
}

static int init_sync(struct keysync *ks)
{
	pthread_condattr_t attr;
	if (pthread_mutex_init(&ks->lock, NULL) != 0) {
		return GSLB_ENOMEM;
	}
	/* Deadlines are monotonic: a clock step must not delay a round. */
	if (pthread_condattr_init(&attr) != 0) {
		pthread_mutex_destroy(&ks->lock);
		return GSLB_ENOMEM;
	}
	int ret = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (ret == 0) {
		ret = pthread_cond_init(&ks->cond, &attr);
	}
	pthread_condattr_destroy(&attr);
	if (ret != 0) {
		pthread_mutex_destroy(&ks->lock);
		return -ret;
	}
	ks->sync_ready = true;
	return GSLB_EOK;
}

int keysync_start(struct event_base *base, const struct gslb_config *cfg,
		  keysync_cb cb, void *arg, struct keysync **out)
{
	*out = NULL;
	int ret = check_config(cfg);
	if (ret != GSLB_EOK) {
		return ret;
	}
	ret = gslb_seal_init();
	if (ret != GSLB_EOK) {
		log_error(SUBSYS, "libsodium initialization failed");
		return ret;
	}

	struct keysync *ks = calloc(1, sizeof(*ks));
	if (ks == NULL) {
		return GSLB_ENOMEM;
	}
	ks->base = base;
	ks->cb = cb;
	ks->arg = arg;
	ks->efd = -1;
	ks->done_tail = &ks->done;
	atomic_init(&ks->stopping, false);

	ret = init_sync(ks);
	if (ret != GSLB_EOK) {
		goto fail;
	}
	ret = keysync_reconfigure(ks, cfg);
	if (ret != GSLB_EOK) {
		goto fail;
	}
	/* Before the thread: curl_global_init is not thread-safe
	 * everywhere. */
	char why[256];
	ret = gslb_curl_open(why, sizeof(why));
	if (ret != GSLB_EOK) {
		log_error(SUBSYS, "%s", why);
		goto fail;
	}
	if (gslb_curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error(SUBSYS, "libcurl initialization failed");
		ret = GSLB_ENOMEM;
		goto fail;
	}
	ks->curl_ready = true;
	ks->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ks->efd < 0) {
		ret = -errno;
		goto fail;
	}
	ks->ev = event_new(base, ks->efd, EV_READ | EV_PERSIST, on_done, ks);
	if (ks->ev == NULL || event_add(ks->ev, NULL) != 0) {
		ret = GSLB_ENOMEM;
		goto fail;
	}
	ret = start_thread(ks);
	if (ret != GSLB_EOK) {
		goto fail;
	}
	*out = ks;
	return GSLB_EOK;

fail:
	keysync_stop(ks);
	return ret;
}

void keysync_trigger(struct keysync *ks)
{
	pthread_mutex_lock(&ks->lock);
	ks->triggered = true;
	pthread_cond_signal(&ks->cond);
	pthread_mutex_unlock(&ks->lock);
}

void keysync_stop(struct keysync *ks)
{
	if (ks == NULL) {
		return;
	}
	if (ks->thread_started) {
		pthread_mutex_lock(&ks->lock);
		atomic_store(&ks->stopping, true);
		pthread_cond_signal(&ks->cond);
		pthread_mutex_unlock(&ks->lock);
		pthread_join(ks->thread, NULL);
	}
	/* Answers not yet dispatched are dropped: nobody waits for them. */
	while (ks->done != NULL) {
		struct result *r = ks->done;
		ks->done = r->next;
		result_free(r);
	}
	if (ks->ev != NULL) {
		event_free(ks->ev);
	}
	if (ks->efd >= 0) {
		close(ks->efd);
	}
	if (ks->curl_ready) {
		gslb_curl.global_cleanup();
	}
	if (ks->sync_ready) {
		pthread_cond_destroy(&ks->cond);
		pthread_mutex_destroy(&ks->lock);
	}
	free_strv(ks->peers, ks->n_peers);
	peers_free(ks->status, ks->n_status);
	explicit_bzero(ks->key, sizeof(ks->key));
	free(ks);
}

size_t keysync_peer_count(const struct keysync *ks)
{
	return ks->n_status;
}

void keysync_peer_status(const struct keysync *ks, size_t i,
			 struct keysync_peer_status *st)
{
	memset(st, 0, sizeof(*st));
	if (i >= ks->n_status) {
		return;
	}
	const struct peer *p = &ks->status[i];
	st->peer = p->url;
	st->last_sync = p->last_sync;
	st->last_success = p->last_success;
	st->last_error = p->last_error;
	st->failures = p->failures;
}

gslb_duration_t keysync_poll_interval(const struct keysync *ks)
{
	return ks->main_interval;
}
