/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * DNSSEC key sync: the /keys wire format with real keys from libdnssec,
 * everything a peer could get wrong or forge, and the requests against a
 * small HTTP responder on loopback (a thread that answers with canned
 * bytes and keeps what it was asked).
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "compiler.h"
#include "dnssec.h"
#include "error.h"
#include "keysync.h"
#include "seal.h"

#define ZONE    "example.com"
#define CREATED INT64_C(1700000000)
#define NODE    "overwatch-1"
/* The loop of a poller test gives up after this. */
#define LIMIT_MS 20000

static uint8_t key[GSLB_GOSSIP_KEY_LEN];
static uint8_t other_key[GSLB_GOSSIP_KEY_LEN];
/* Made once in main(): key generation is slow. */
static struct zone_key *zk;       /* ECDSAP256SHA256 for ZONE */
static struct zone_key *other_zk; /* another one, same zone */

static struct zone_key *make_key(int algorithm)
{
	char dir[] = "/tmp/gslb-keysync-XXXXXX";
	uint8_t *pem = NULL;
	size_t pem_len = 0;
	struct zone_key *k = NULL;
	if (mkdtemp(dir) == NULL ||
	    dnssec_key_generate(algorithm, dir, &pem, &pem_len) != GSLB_EOK ||
	    zone_key_load(ZONE, algorithm, pem, pem_len, CREATED, NODE, &k) !=
		    GSLB_EOK) {
		fprintf(stderr, "cannot make a test key\n");
		exit(EXIT_FAILURE);
	}
	rmdir(dir);
	free(pem);
	return k;
}

/* {"enabled":true,"keys":[o...]} as text (caller frees); takes the o. */
static char *body_of(json_t *o1, json_t *o2)
{
	json_t *arr = json_array();
	ck_assert_ptr_nonnull(arr);
	if (o1 != NULL) {
		json_array_append_new(arr, o1);
	}
	if (o2 != NULL) {
		json_array_append_new(arr, o2);
	}
	json_t *root = json_pack("{s:b, s:o}", "enabled", 1, "keys", arr);
	ck_assert_ptr_nonnull(root);
	char *text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	ck_assert_ptr_nonnull(text);
	return text;
}

static json_t *key_json(void)
{
	json_t *o = keysync_key_to_json(zk, key);
	ck_assert_ptr_nonnull(o);
	return o;
}

/* Parses body expecting no key and one reason that contains want. */
static void expect_refused(const char *body, const uint8_t *k, const char *want)
{
	struct keysync_key *keys = NULL;
	size_t n = 99;
	char *errors = NULL;
	ck_assert_int_eq(
		keysync_parse(body, strlen(body), k, &keys, &n, &errors),
		GSLB_EOK);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(keys);
	ck_assert_ptr_nonnull(errors);
	ck_assert_msg(strstr(errors, want) != NULL, "\"%s\" lacks \"%s\"",
		      errors, want);
	free(errors);
}

/* The one key's JSON with field set to v (NULL: removed). */
static char *body_with(const char *field, json_t *v)
{
	json_t *o = key_json();
	if (v != NULL) {
		json_object_set_new(o, field, v);
	} else {
		json_object_del(o, field);
	}
	return body_of(o, NULL);
}

/* ------------------------------------------------------------------------ */
/* The wire format                                                          */

START_TEST(to_json_fields)
{
	json_t *o = key_json();
	ck_assert_str_eq(json_string_value(json_object_get(o, "zone")), ZONE);
	ck_assert_str_eq(json_string_value(json_object_get(o, "algorithm")),
			 "ECDSAP256SHA256");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "flags")), 257);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "key_tag")),
			 zk->key_tag);
	ck_assert_str_eq(json_string_value(json_object_get(o, "key_id")),
			 zk->key_id);
	ck_assert_str_eq(json_string_value(json_object_get(o, "created_at")),
			 "2023-11-14T22:13:20Z");
	ck_assert_str_eq(json_string_value(json_object_get(o, "node_id")),
			 NODE);
	char *pub = zone_key_public_b64(zk);
	ck_assert_str_eq(json_string_value(json_object_get(o, "public_key")),
			 pub);
	free(pub);
	const char *sealed =
		json_string_value(json_object_get(o, "private_key_sealed"));
	ck_assert_ptr_nonnull(sealed);
	ck_assert_ptr_null(strstr(sealed, "PRIVATE"));
	ck_assert_uint_eq(json_object_size(o), 9);

	/* The seal is what the header says it is. */
	char ad[128];
	snprintf(ad, sizeof(ad), "opengslb-dnssec-key|%s|%s|%lld", ZONE,
		 zk->key_id, (long long)CREATED);
	uint8_t *pem = NULL;
	size_t pem_len = 0;
	ck_assert_int_eq(gslb_unseal_b64(key, ad, sealed, &pem, &pem_len),
			 GSLB_EOK);
	ck_assert_uint_eq(pem_len, zk->pem_len);
	ck_assert_mem_eq(pem, zk->pem, pem_len);
	free(pem);
	json_decref(o);
}
END_TEST

START_TEST(round_trip)
{
	char *body = body_of(key_json(), NULL);
	struct keysync_key *keys = NULL;
	size_t n = 0;
	char *errors = NULL;
	ck_assert_int_eq(
		keysync_parse(body, strlen(body), key, &keys, &n, &errors),
		GSLB_EOK);
	ck_assert_ptr_null(errors);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(keys[0].zone, ZONE);
	ck_assert_int_eq(keys[0].algorithm, 13);
	ck_assert_int_eq(keys[0].created, CREATED);
	ck_assert_str_eq(keys[0].node_id, NODE);
	ck_assert_uint_eq(keys[0].key_tag, zk->key_tag);
	ck_assert_uint_eq(keys[0].pem_len, zk->pem_len);
	ck_assert_mem_eq(keys[0].pem, zk->pem, zk->pem_len);
	char *pub = zone_key_public_b64(zk);
	ck_assert_str_eq(keys[0].public_key, pub);
	free(pub);

	/* What came over loads as the very same key. */
	struct zone_key *back = NULL;
	ck_assert_int_eq(zone_key_load(keys[0].zone, keys[0].algorithm,
				       keys[0].pem, keys[0].pem_len,
				       keys[0].created, keys[0].node_id, &back),
			 GSLB_EOK);
	ck_assert_str_eq(back->key_id, zk->key_id);
	zone_key_free(back);

	keysync_key_clear(&keys[0]);
	ck_assert_ptr_null(keys[0].pem);
	free(keys);
	free(body);
}
END_TEST

START_TEST(empty_list)
{
	static const char body[] = "{\"enabled\":false,\"keys\":[]}";
	struct keysync_key *keys = NULL;
	size_t n = 99;
	char *errors = NULL;
	ck_assert_int_eq(
		keysync_parse(body, strlen(body), key, &keys, &n, &errors),
		GSLB_EOK);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(errors);
}
END_TEST

START_TEST(tampered_seal)
{
	json_t *o = key_json();
	char *sealed = strdup(
		json_string_value(json_object_get(o, "private_key_sealed")));
	/* A different base64 digit in the middle: another bit pattern. */
	char *c = &sealed[strlen(sealed) / 2];
	*c = *c == 'A' ? 'B' : 'A';
	json_object_set_new(o, "private_key_sealed", json_string(sealed));
	free(sealed);
	char *body = body_of(o, NULL);
	expect_refused(body, key,
		       "keys[0] (zone example.com): "
		       "\"private_key_sealed\" does not open");
	free(body);

	body = body_with("private_key_sealed", json_string("%%% not b64"));
	expect_refused(body, key, "\"private_key_sealed\" does not open");
	free(body);
}
END_TEST

START_TEST(wrong_seal_key)
{
	char *body = body_of(key_json(), NULL);
	expect_refused(body, other_key, "does not open with our gossip key");
	free(body);
}
END_TEST

START_TEST(moved_elsewhere)
{
	/* The associated data binds zone, id and time to the sealed key. */
	char *body = body_with("zone", json_string("example.net"));
	expect_refused(body, key, "does not open");
	free(body);
	body = body_with("created_at", json_string("2023-11-14T22:13:21Z"));
	expect_refused(body, key, "does not open");
	free(body);
	char id[41];
	snprintf(id, sizeof(id), "%s", zk->key_id);
	id[0] = id[0] == 'a' ? 'b' : 'a';
	body = body_with("key_id", json_string(id));
	expect_refused(body, key, "does not open");
	free(body);
}
END_TEST

START_TEST(public_key_mismatch)
{
	char *pub = zone_key_public_b64(other_zk);
	char *body = body_with("public_key", json_string(pub));
	free(pub);
	expect_refused(body, key,
		       "\"public_key\" does not match the private key");
	free(body);

	body = body_with("key_tag", json_integer((zk->key_tag + 1) & 0xffff));
	expect_refused(body, key, "\"key_tag\"");
	free(body);
}
END_TEST

/* A sealed value made here with the right associated data: only the
 * check after unsealing can refuse it. */
static char *sealed_for(const uint8_t *pem, size_t len)
{
	char ad[128];
	snprintf(ad, sizeof(ad), "opengslb-dnssec-key|%s|%s|%lld", ZONE,
		 zk->key_id, (long long)CREATED);
	char *s = gslb_seal_b64(key, ad, pem, len);
	ck_assert_ptr_nonnull(s);
	return s;
}

START_TEST(bad_private_key)
{
	static const char junk[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n"
				   "-----END PRIVATE KEY-----\n";
	char *s = sealed_for((const uint8_t *)junk, sizeof(junk) - 1);
	char *body = body_with("private_key_sealed", json_string(s));
	free(s);
	expect_refused(body, key, "not a valid ECDSAP256SHA256 key");
	free(body);

	/* Another zone's key under this zone's name and id. */
	s = sealed_for(other_zk->pem, other_zk->pem_len);
	body = body_with("private_key_sealed", json_string(s));
	free(s);
	expect_refused(body, key, "does not match the private key");
	free(body);

	/* A P-256 key announced as P-384. */
	body = body_with("algorithm", json_string("ECDSAP384SHA384"));
	expect_refused(body, key, "not a valid ECDSAP384SHA384 key");
	free(body);
}
END_TEST

START_TEST(curve_mismatch)
{
	/* A P-256 key with everything else made consistent for P-384 (key
	 * tag, id): only the size of the public key gives it away. */
	struct zone_key *k384 = NULL;
	if (zone_key_load(ZONE, GSLB_DNSSEC_ECDSAP384SHA384, zk->pem,
			  zk->pem_len, CREATED, NODE, &k384) != GSLB_EOK) {
		return; /* refused already when loaded */
	}
	char *body = body_of(keysync_key_to_json(k384, key), NULL);
	zone_key_free(k384);
	expect_refused(body, key, "not a valid ECDSAP384SHA384 key");
	free(body);
}
END_TEST

START_TEST(bad_fields)
{
	static const struct {
		const char *field;
		const char *json; /* NULL: field removed */
		const char *want;
	} cases[] = {
		{ "zone", NULL, "\"zone\" is missing" },
		{ "zone", "5", "\"zone\" is not a string" },
		{ "zone", "\"Example.com\"", "not a lower-case domain name" },
		{ "zone", "\"example.com.\"", "not a domain name" },
		{ "zone", "\"\"", "empty" },
		{ "algorithm", "\"RSASHA1\"", "unknown algorithm \"RSASHA1\"" },
		{ "algorithm", "13", "\"algorithm\" is not a string" },
		{ "flags", "256", "flags 256 are not 257" },
		{ "flags", NULL, "\"flags\" is missing" },
		{ "key_tag", "\"1\"", "\"key_tag\" is not an integer" },
		{ "key_tag", "65536", "\"key_tag\" is not an integer" },
		{ "key_id", "\"xyz\"", "\"key_id\" is not 40" },
		{ "public_key", "null", "\"public_key\" is not a string" },
		{ "created_at", "\"yesterday\"", "is not RFC 3339" },
		{ "created_at", "1700000000",
		  "\"created_at\" is not a string" },
		{ "node_id", "[]", "\"node_id\" is not a string" },
		{ "node_id", "\"a\\nb\"", "control characters" },
		{ "private_key_sealed", NULL,
		  "\"private_key_sealed\" is missing" },
	};
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(cases); i++) {
		json_t *v = NULL;
		if (cases[i].json != NULL) {
			v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
			ck_assert_ptr_nonnull(v);
		}
		char *body = body_with(cases[i].field, v);
		expect_refused(body, key, cases[i].want);
		free(body);
	}

	/* Not an object at all. */
	static const char body[] = "{\"keys\":[\"key\"]}";
	expect_refused(body, key, "keys[0]: not a JSON object");
}
END_TEST

START_TEST(good_and_bad)
{
	json_t *bad = key_json();
	json_object_set_new(bad, "algorithm", json_string("GOST"));
	char *body = body_of(bad, key_json());
	struct keysync_key *keys = NULL;
	size_t n = 0;
	char *errors = NULL;
	ck_assert_int_eq(
		keysync_parse(body, strlen(body), key, &keys, &n, &errors),
		GSLB_EOK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(keys[0].zone, ZONE);
	ck_assert_str_eq(errors, "keys[0] (zone example.com): "
				 "unknown algorithm \"GOST\"");
	keysync_key_clear(&keys[0]);
	free(keys);
	free(errors);
	free(body);
}
END_TEST

START_TEST(not_the_format)
{
	static const char *const bodies[] = {
		"",
		"not json",
		"{\"keys\":[",
		"[]",
		"{}",
		"{\"keys\":{}}",
		"{\"keys\":null}",
		"\"keys\"",
		/* Duplicate members are refused, not the last one taken. */
		"{\"keys\":[],\"keys\":[]}",
	};
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(bodies); i++) {
		struct keysync_key *keys = NULL;
		size_t n = 99;
		char *errors = NULL;
		ck_assert_msg(keysync_parse(bodies[i], strlen(bodies[i]), key,
					    &keys, &n, &errors) == GSLB_EINVAL,
			      "%s", bodies[i]);
		ck_assert_ptr_null(keys);
		ck_assert_uint_eq(n, 0);
		ck_assert_ptr_nonnull(errors);
		free(errors);
	}
}
END_TEST

/* ------------------------------------------------------------------------ */
/* A small HTTP responder                                                   */

struct responder {
	int fd;
	uint16_t port;
	char url[64];
	pthread_t thread;
	atomic_bool stop;
	/* What to answer: bytes, or hang (read the request, say nothing). */
	const char *answer;
	size_t answer_len;
	bool hang;
	/* What it saw. */
	pthread_mutex_t lock;
	unsigned requests;
	char request[4096];
};

static void responder_serve(struct responder *r, int c)
{
	char buf[4096];
	size_t len = 0;
	while (len < sizeof(buf) - 1) {
		ssize_t n = recv(c, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0) {
			break;
		}
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL) {
			break;
		}
	}
	buf[len] = '\0';
	pthread_mutex_lock(&r->lock);
	r->requests++;
	memcpy(r->request, buf, len + 1);
	pthread_mutex_unlock(&r->lock);

	if (r->hang) {
		/* Until the client gives up or the test ends. */
		struct pollfd p = { .fd = c, .events = POLLIN };
		while (!atomic_load(&r->stop) && poll(&p, 1, 50) == 0) {
		}
		return;
	}
	size_t off = 0;
	while (off < r->answer_len) {
		ssize_t n = send(c, r->answer + off, r->answer_len - off,
				 MSG_NOSIGNAL);
		if (n <= 0) {
			break;
		}
		off += (size_t)n;
	}
}

static void *responder_main(void *arg)
{
	struct responder *r = arg;
	struct pollfd p = { .fd = r->fd, .events = POLLIN };
	while (!atomic_load(&r->stop)) {
		if (poll(&p, 1, 50) <= 0) {
			continue;
		}
		int c = accept(r->fd, NULL, NULL);
		if (c >= 0) {
			responder_serve(r, c);
			close(c);
		}
	}
	return NULL;
}

/* A loopback socket on a free port, bound and listening. */
static int listen_any(uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof(sa);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* An HTTP answer (caller frees); without Content-Length when no_length
 * is set, so that only the connection's end says where the body ends. */
static char *http_answer(int status, const char *body, size_t body_len,
			 bool no_length, size_t *len)
{
	char head[256];
	if (no_length) {
		snprintf(head, sizeof(head),
			 "HTTP/1.1 %d X\r\nConnection: close\r\n\r\n", status);
	} else {
		snprintf(head, sizeof(head),
			 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			 status, body_len);
	}
	const size_t hl = strlen(head);
	char *a = malloc(hl + body_len + 1);
	ck_assert_ptr_nonnull(a);
	memcpy(a, head, hl);
	memcpy(a + hl, body, body_len);
	a[hl + body_len] = '\0';
	*len = hl + body_len;
	return a;
}

static struct responder *responder_start(const char *answer, size_t len,
					 bool hang)
{
	struct responder *r = calloc(1, sizeof(*r));
	ck_assert_ptr_nonnull(r);
	r->fd = listen_any(&r->port);
	snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%u", r->port);
	r->answer = answer;
	r->answer_len = len;
	r->hang = hang;
	atomic_init(&r->stop, false);
	pthread_mutex_init(&r->lock, NULL);
	ck_assert_int_eq(pthread_create(&r->thread, NULL, responder_main, r),
			 0);
	return r;
}

static unsigned responder_requests(struct responder *r)
{
	pthread_mutex_lock(&r->lock);
	unsigned n = r->requests;
	pthread_mutex_unlock(&r->lock);
	return n;
}

static void responder_stop(struct responder *r)
{
	atomic_store(&r->stop, true);
	pthread_join(r->thread, NULL);
	close(r->fd);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* A URL where nothing listens. */
static void closed_url(char *url, size_t size)
{
	uint16_t port;
	int fd = listen_any(&port);
	close(fd);
	snprintf(url, size, "http://127.0.0.1:%u", port);
}

/* ------------------------------------------------------------------------ */
/* One request                                                              */

START_TEST(fetch_ok)
{
	char *body = body_of(key_json(), NULL);
	size_t len;
	char *answer = http_answer(200, body, strlen(body), false, &len);
	struct responder *r = responder_start(answer, len, false);

	/* A trailing slash in the configured URL is not doubled. */
	char peer[80];
	snprintf(peer, sizeof(peer), "%s/", r->url);
	struct keysync_key *keys = NULL;
	size_t n = 0;
	char *error = NULL;
	ck_assert_int_eq(
		keysync_fetch_once(peer, 5 * GSLB_SEC, key, &keys, &n, &error),
		GSLB_EOK);
	ck_assert_ptr_null(error);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(keys[0].zone, ZONE);
	keysync_key_clear(&keys[0]);
	free(keys);

	ck_assert_uint_eq(responder_requests(r), 1);
	ck_assert_msg(strncmp(r->request,
			      "GET /api/v1/dnssec/keys HTTP/1.1\r\n", 34) == 0,
		      "%s", r->request);
	ck_assert_ptr_nonnull(
		strstr(r->request, "\r\nAccept: application/json\r\n"));
	ck_assert_ptr_nonnull(
		strstr(r->request, "\r\nUser-Agent: OpenGSLB-KeySync/1.0\r\n"));
	responder_stop(r);
	free(answer);
	free(body);
}
END_TEST

START_TEST(fetch_error_status)
{
	static const char msg[] = "database is on fire\n";
	size_t len;
	char *answer = http_answer(500, msg, sizeof(msg) - 1, false, &len);
	struct responder *r = responder_start(answer, len, false);
	struct keysync_key *keys = NULL;
	size_t n = 0;
	char *error = NULL;
	ck_assert_int_eq(keysync_fetch_once(r->url, 5 * GSLB_SEC, key, &keys,
					    &n, &error),
			 GSLB_EIO);
	ck_assert_str_eq(error,
			 "peer returned status 500: database is on fire");
	ck_assert_uint_eq(n, 0);
	free(error);
	responder_stop(r);
	free(answer);

	/* A long body is cut to 200 bytes. */
	char big[1000];
	memset(big, 'x', sizeof(big));
	answer = http_answer(404, big, sizeof(big), false, &len);
	r = responder_start(answer, len, false);
	ck_assert_int_eq(keysync_fetch_once(r->url, 5 * GSLB_SEC, key, &keys,
					    &n, &error),
			 GSLB_EIO);
	ck_assert_uint_eq(strlen(error),
			  strlen("peer returned status 404: ") + 200 + 3);
	free(error);
	responder_stop(r);
	free(answer);
}
END_TEST

START_TEST(fetch_refused)
{
	char url[64];
	closed_url(url, sizeof(url));
	struct keysync_key *keys = NULL;
	size_t n = 0;
	char *error = NULL;
	ck_assert_int_eq(
		keysync_fetch_once(url, 5 * GSLB_SEC, key, &keys, &n, &error),
		GSLB_EIO);
	ck_assert_ptr_nonnull(error);
	/* Which URL, and that nobody answered. */
	ck_assert_msg(strstr(error, "/api/v1/dnssec/keys: ") != NULL &&
			      strstr(error, "Failed to connect") != NULL,
		      "%s", error);
	free(error);
}
END_TEST

START_TEST(fetch_timeout)
{
	struct responder *r = responder_start(NULL, 0, true);
	struct keysync_key *keys = NULL;
	size_t n = 0;
	char *error = NULL;
	ck_assert_int_eq(keysync_fetch_once(r->url, 300 * GSLB_MSEC, key, &keys,
					    &n, &error),
			 -ETIMEDOUT);
	ck_assert_msg(strstr(error, "no answer within 300 ms") != NULL, "%s",
		      error);
	ck_assert_uint_eq(responder_requests(r), 1);
	free(error);
	responder_stop(r);
}
END_TEST

START_TEST(fetch_too_big)
{
	const size_t big_len = 1024 * 1024 + 1;
	char *big = malloc(big_len);
	ck_assert_ptr_nonnull(big);
	memset(big, ' ', big_len);
	for (int no_length = 0; no_length <= 1; no_length++) {
		size_t len;
		char *answer =
			http_answer(200, big, big_len, no_length != 0, &len);
		struct responder *r = responder_start(answer, len, false);
		struct keysync_key *keys = NULL;
		size_t n = 0;
		char *error = NULL;
		ck_assert_int_eq(keysync_fetch_once(r->url, 5 * GSLB_SEC, key,
						    &keys, &n, &error),
				 GSLB_ERANGE);
		ck_assert_msg(strstr(error, "larger than 1048576 bytes") !=
				      NULL,
			      "%s", error);
		free(error);
		responder_stop(r);
		free(answer);
	}
	free(big);
}
END_TEST

START_TEST(fetch_not_json)
{
	static const char page[] = "<html>hello</html>";
	size_t len;
	char *answer = http_answer(200, page, sizeof(page) - 1, false, &len);
	struct responder *r = responder_start(answer, len, false);
	struct keysync_key *keys = NULL;
	size_t n = 0;
	char *error = NULL;
	ck_assert_int_eq(keysync_fetch_once(r->url, 5 * GSLB_SEC, key, &keys,
					    &n, &error),
			 GSLB_EINVAL);
	ck_assert_msg(strncmp(error, "invalid answer: not JSON", 24) == 0, "%s",
		      error);
	free(error);
	responder_stop(r);
	free(answer);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The poller                                                               */

struct poll_ctx {
	struct event_base *base;
	struct keysync *ks;
	unsigned calls;
	char peer[80];
	size_t n_keys;
	char zone[64];
	bool main_thread_ok;
	pthread_t main_thread;
	/* When the loop may stop. */
	bool (*done)(struct poll_ctx *);
};

static void on_keys(const char *peer, const struct keysync_key *keys, size_t n,
		    void *arg)
{
	struct poll_ctx *pc = arg;
	pc->calls++;
	pc->main_thread_ok = pthread_equal(pthread_self(), pc->main_thread);
	snprintf(pc->peer, sizeof(pc->peer), "%s", peer);
	pc->n_keys = n;
	if (n > 0) {
		snprintf(pc->zone, sizeof(pc->zone), "%s", keys[0].zone);
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct poll_ctx *pc = arg;
	if (pc->done(pc)) {
		event_base_loopbreak(pc->base);
	}
}

static void on_limit(evutil_socket_t fd, short what, void *arg)
{
	ck_abort_msg("the poller did not get there in time");
}

/* Runs the loop until pc->done() holds. */
static void run_until(struct poll_ctx *pc)
{
	struct event *tick = event_new(pc->base, -1, EV_PERSIST, on_tick, pc);
	struct event *limit = evtimer_new(pc->base, on_limit, pc);
	struct timeval t10 = { 0, 10000 };
	struct timeval lim = { LIMIT_MS / 1000, 0 };
	event_add(tick, &t10);
	evtimer_add(limit, &lim);
	event_base_dispatch(pc->base);
	event_free(tick);
	event_free(limit);
}

/* Both peers asked, the good one answered. */
static bool first_round_done(struct poll_ctx *pc)
{
	struct keysync_peer_status st;
	keysync_peer_status(pc->ks, 1, &st);
	return pc->calls >= 1 && st.failures >= 1;
}

static bool second_round_done(struct poll_ctx *pc)
{
	struct keysync_peer_status st;
	keysync_peer_status(pc->ks, 1, &st);
	return pc->calls >= 2 && st.failures >= 2;
}

static void config_for(struct gslb_config *cfg, char **peers, size_t n,
		       gslb_duration_t timeout)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = GSLB_MODE_OVERWATCH;
	cfg->overwatch.gossip.key_set = true;
	memcpy(cfg->overwatch.gossip.key, key, sizeof(key));
	cfg->overwatch.dnssec.enabled = true;
	cfg->overwatch.dnssec.key_sync_peers = peers;
	cfg->overwatch.dnssec.n_key_sync_peers = n;
	cfg->overwatch.dnssec.key_sync_poll_interval = 3600 * GSLB_SEC;
	cfg->overwatch.dnssec.key_sync_timeout = timeout;
}

START_TEST(poller_rounds)
{
	char *body = body_of(key_json(), NULL);
	size_t len;
	char *answer = http_answer(200, body, strlen(body), false, &len);
	struct responder *r = responder_start(answer, len, false);
	char bad[64];
	closed_url(bad, sizeof(bad));
	char *peers[] = { r->url, bad };
	struct gslb_config cfg;
	config_for(&cfg, peers, 2, 5 * GSLB_SEC);

	struct poll_ctx pc = { .main_thread = pthread_self() };
	pc.base = event_base_new();
	ck_assert_ptr_nonnull(pc.base);
	ck_assert_int_eq(keysync_start(pc.base, &cfg, on_keys, &pc, &pc.ks),
			 GSLB_EOK);
	ck_assert_uint_eq(keysync_peer_count(pc.ks), 2);
	ck_assert_int_eq(keysync_poll_interval(pc.ks), 3600 * GSLB_SEC);
	struct keysync_peer_status st;
	keysync_peer_status(pc.ks, 0, &st);
	ck_assert_str_eq(st.peer, r->url);
	ck_assert_int_eq(st.last_sync, 0);

	/* The first round needs no trigger. */
	pc.done = first_round_done;
	run_until(&pc);
	ck_assert_uint_eq(pc.calls, 1);
	ck_assert(pc.main_thread_ok);
	ck_assert_str_eq(pc.peer, r->url);
	ck_assert_uint_eq(pc.n_keys, 1);
	ck_assert_str_eq(pc.zone, ZONE);
	keysync_peer_status(pc.ks, 0, &st);
	ck_assert_int_ne(st.last_sync, 0);
	ck_assert_int_eq(st.last_success, st.last_sync);
	ck_assert_ptr_null(st.last_error);
	ck_assert_uint_eq(st.failures, 0);
	keysync_peer_status(pc.ks, 1, &st);
	ck_assert_str_eq(st.peer, bad);
	ck_assert_int_ne(st.last_sync, 0);
	ck_assert_int_eq(st.last_success, 0);
	ck_assert_uint_eq(st.failures, 1);
	ck_assert_msg(strstr(st.last_error, "Failed to connect") != NULL, "%s",
		      st.last_error);

	/* The interval is an hour: only a trigger brings the second. */
	keysync_trigger(pc.ks);
	pc.done = second_round_done;
	run_until(&pc);
	ck_assert_uint_eq(pc.calls, 2);
	ck_assert_uint_eq(responder_requests(r), 2);
	keysync_peer_status(pc.ks, 1, &st);
	ck_assert_uint_eq(st.failures, 2);

	/* A reload without the bad peer keeps the good one's history. */
	keysync_peer_status(pc.ks, 0, &st);
	const gslb_time_t success = st.last_success;
	config_for(&cfg, peers, 1, 5 * GSLB_SEC);
	cfg.overwatch.dnssec.key_sync_poll_interval = 600 * GSLB_SEC;
	ck_assert_int_eq(keysync_reconfigure(pc.ks, &cfg), GSLB_EOK);
	ck_assert_uint_eq(keysync_peer_count(pc.ks), 1);
	ck_assert_int_eq(keysync_poll_interval(pc.ks), 600 * GSLB_SEC);
	keysync_peer_status(pc.ks, 0, &st);
	ck_assert_str_eq(st.peer, r->url);
	ck_assert_int_eq(st.last_success, success);

	keysync_stop(pc.ks);
	event_base_free(pc.base);
	responder_stop(r);
	free(answer);
	free(body);
}
END_TEST

START_TEST(poller_stop_in_flight)
{
	/* The peer never answers and the timeout is a minute: stop must
	 * not wait for it (this test's own limit is shorter). */
	struct responder *r = responder_start(NULL, 0, true);
	char *peers[] = { r->url };
	struct gslb_config cfg;
	config_for(&cfg, peers, 1, 60 * GSLB_SEC);
	struct event_base *base = event_base_new();
	struct keysync *ks = NULL;
	ck_assert_int_eq(keysync_start(base, &cfg, NULL, NULL, &ks), GSLB_EOK);
	while (responder_requests(r) == 0) {
		usleep(10000);
	}
	keysync_stop(ks);
	event_base_free(base);
	responder_stop(r);
}
END_TEST

START_TEST(poller_needs_key)
{
	char url[] = "http://127.0.0.1:1";
	char *peers[] = { url };
	struct gslb_config cfg;
	config_for(&cfg, peers, 1, 5 * GSLB_SEC);
	cfg.overwatch.gossip.key_set = false;
	struct event_base *base = event_base_new();
	struct keysync *ks = NULL;
	ck_assert_int_eq(keysync_start(base, &cfg, NULL, NULL, &ks),
			 GSLB_EINVAL);
	ck_assert_ptr_null(ks);
	event_base_free(base);
}
END_TEST

int main(void)
{
	dnssec_global_init();
	if (gslb_seal_init() != GSLB_EOK) {
		return EXIT_FAILURE;
	}
	for (size_t i = 0; i < sizeof(key); i++) {
		key[i] = (uint8_t)(0xa5 ^ i);
		other_key[i] = (uint8_t)(0x5a ^ i);
	}
	zk = make_key(GSLB_DNSSEC_ECDSAP256SHA256);
	other_zk = make_key(GSLB_DNSSEC_ECDSAP256SHA256);

	Suite *s = suite_create("keysync");
	TCase *tc = tcase_create("format");
	tcase_add_test(tc, to_json_fields);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, empty_list);
	tcase_add_test(tc, tampered_seal);
	tcase_add_test(tc, wrong_seal_key);
	tcase_add_test(tc, moved_elsewhere);
	tcase_add_test(tc, public_key_mismatch);
	tcase_add_test(tc, bad_private_key);
	tcase_add_test(tc, curve_mismatch);
	tcase_add_test(tc, bad_fields);
	tcase_add_test(tc, good_and_bad);
	tcase_add_test(tc, not_the_format);
	suite_add_tcase(s, tc);
	tc = tcase_create("fetch");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, fetch_ok);
	tcase_add_test(tc, fetch_error_status);
	tcase_add_test(tc, fetch_refused);
	tcase_add_test(tc, fetch_timeout);
	tcase_add_test(tc, fetch_too_big);
	tcase_add_test(tc, fetch_not_json);
	suite_add_tcase(s, tc);
	tc = tcase_create("poller");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, poller_rounds);
	tcase_add_test(tc, poller_stop_in_flight);
	tcase_add_test(tc, poller_needs_key);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	zone_key_free(zk);
	zone_key_free(other_zk);
	dnssec_global_cleanup();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
