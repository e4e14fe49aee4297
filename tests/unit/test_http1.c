/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "http1.h"

#define BODY_MAX (1 << 16)
#define SEEDS    40

/* What a parse came to, as the health checker would see it. */
struct outcome {
	enum http1_state state;
	int status;
	bool keep_alive;
	const char *error;
	size_t consumed; /* bytes taken by http1_feed, all feeds together */
	bool eof;        /* what http1_eof() said, when it was called */
	unsigned body_calls;
	size_t body_len;
	uint8_t body[BODY_MAX];
};

enum split { WHOLE, BYTES, RANDOM };

static void collect(const uint8_t *data, size_t len, void *arg)
{
	struct outcome *o = arg;

	/* Called per body byte at times: no ck_assert (each one is logged). */
	if (len == 0 || len > BODY_MAX - o->body_len) {
		ck_abort_msg("body piece of %zu bytes after %zu", len,
			     o->body_len);
	}
	memcpy(o->body + o->body_len, data, len);
	o->body_len += len;
	o->body_calls++;
}

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64: reproducible splits without libc's generator. */
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * Field by field: padding and the line buffer past line_len are never
 * written, so the bytes of two copies need not be compared.
 */
static void assert_unchanged(const struct http1_response *p,
			     const struct http1_response *before)
{
	ck_assert_int_eq(p->state, before->state);
	ck_assert_int_eq(p->status, before->status);
	ck_assert_int_eq(p->keep_alive, before->keep_alive);
	ck_assert_ptr_eq(p->error, before->error);
	ck_assert_int_eq(p->minor, before->minor);
	ck_assert_int_eq(p->chunked, before->chunked);
	ck_assert_int_eq(p->have_te, before->have_te);
	ck_assert_int_eq(p->have_length, before->have_length);
	ck_assert_int_eq(p->close, before->close);
	ck_assert_int_eq(p->ka_token, before->ka_token);
	ck_assert_int_eq(p->no_body, before->no_body);
	ck_assert_uint_eq(p->remaining, before->remaining);
	ck_assert_uint_eq(p->n_headers, before->n_headers);
	ck_assert_uint_eq(p->line_len, before->line_len);
	ck_assert_int_eq(p->cr, before->cr);
	ck_assert_mem_eq(p->line, before->line, p->line_len);
}

/* The next piece to feed: of RANDOM ones, some are empty. */
static size_t piece_size(enum split split, uint64_t seed, uint64_t *rng,
			 size_t left)
{
	if (split == WHOLE) {
		return left;
	}
	if (split == BYTES) {
		return 1;
	}
	/* Small pieces for odd seeds, any size for even ones. */
	const size_t max = seed % 2 ? 16 : left;
	return (size_t)(rng_next(rng) % ((max < left ? max : left) + 1));
}

/* Feeds in pieces as split says, until the parser stops taking bytes. */
static void parse(const char *in, size_t len, enum split split, uint64_t seed,
		  bool eof, struct outcome *o)
{
	struct http1_response p;
	uint64_t rng = seed * 0x9e3779b97f4a7c15u + 1;
	const uint8_t *data = (const uint8_t *)in;

	memset(o, 0, offsetof(struct outcome, body));
	http1_init(&p);
	ck_assert_int_eq(p.state, HTTP1_STATUS);
	ck_assert_int_eq(p.status, 0);

	size_t off = 0;
	while (off < len) {
		const size_t n = piece_size(split, seed, &rng, len - off);
		if (n == 0) {
			/* An empty feed must change nothing. */
			struct http1_response before;
			memcpy(&before, &p, sizeof(p));
			ck_assert_uint_eq(
				http1_feed(&p, data + off, 0, collect, o), 0);
			assert_unchanged(&p, &before);
			continue;
		}
		const size_t got = http1_feed(&p, data + off, n, collect, o);
		off += got;
		if (got < n) {
			ck_assert(p.state == HTTP1_DONE ||
				  p.state == HTTP1_ERROR);
			break;
		}
		if (got > n) {
			ck_abort_msg("%zu bytes consumed of %zu", got, n);
		}
	}
	o->consumed = off;
	if (eof) {
		o->eof = http1_eof(&p);
	}
	o->state = p.state;
	o->status = p.status;
	o->keep_alive = p.keep_alive;
	o->error = p.error;
	if (p.state == HTTP1_ERROR) {
		ck_assert_ptr_nonnull(p.error);
	}
}

static void assert_same(const struct outcome *a, const struct outcome *b)
{
	ck_assert_int_eq(a->state, b->state);
	ck_assert_int_eq(a->status, b->status);
	ck_assert_uint_eq(a->consumed, b->consumed);
	ck_assert_int_eq(a->eof, b->eof);
	ck_assert_uint_eq(a->body_len, b->body_len);
	ck_assert_mem_eq(a->body, b->body, a->body_len);
	if (a->state == HTTP1_DONE) {
		ck_assert_int_eq(a->keep_alive, b->keep_alive);
	}
	if (a->state == HTTP1_ERROR) {
		ck_assert_str_eq(a->error, b->error);
	}
}

/*
 * Parses in one feed, byte by byte and in random pieces; all must agree.
 * Returns the one-feed outcome (static: valid until the next call).
 */
static const struct outcome *run(const char *in, size_t len, bool eof)
{
	static struct outcome whole, other;

	parse(in, len, WHOLE, 0, eof, &whole);
	parse(in, len, BYTES, 0, eof, &other);
	assert_same(&whole, &other);
	for (uint64_t seed = 1; seed <= SEEDS; seed++) {
		parse(in, len, RANDOM, seed, eof, &other);
		assert_same(&whole, &other);
	}
	return &whole;
}

#define RUN(lit)     run(lit, sizeof(lit) - 1, false)
#define RUN_EOF(lit) run(lit, sizeof(lit) - 1, true)

static void assert_done(const struct outcome *o, int status, const char *body,
			bool keep_alive)
{
	ck_assert_msg(o->state == HTTP1_DONE, "state %d, error %s", o->state,
		      o->error != NULL ? o->error : "none");
	ck_assert_int_eq(o->status, status);
	ck_assert_uint_eq(o->body_len, strlen(body));
	ck_assert_mem_eq(o->body, body, o->body_len);
	ck_assert_int_eq(o->keep_alive, keep_alive);
}

static void assert_error(const struct outcome *o, const char *error)
{
	ck_assert_int_eq(o->state, HTTP1_ERROR);
	ck_assert_str_eq(o->error, error);
}

START_TEST(content_length_body)
{
	const char in[] = "HTTP/1.1 200 OK\r\n"
			  "Content-Type: text/plain\r\n"
			  "Content-Length: 5\r\n"
			  "\r\n"
			  "hello";
	const struct outcome *o = RUN(in);

	assert_done(o, 200, "hello", true);
	ck_assert_uint_eq(o->consumed, sizeof(in) - 1);

	o = RUN("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_done(o, 200, "", true);
	ck_assert_uint_eq(o->body_calls, 0);

	/* Bare LF line ends, no reason phrase, an empty one, obs-text. */
	assert_done(RUN("HTTP/1.1 200 OK\nContent-Length: 2\n\nhi"), 200, "hi",
		    true);
	assert_done(RUN("HTTP/1.1 503\r\nContent-Length: 0\r\n\r\n"), 503, "",
		    true);
	assert_done(RUN("HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n"), 404, "",
		    true);
	assert_done(RUN("HTTP/1.1 200 \xc3\xa7\ta va\r\n"
			"Content-Length: 0\r\n\r\n"),
		    200, "", true);
	/* Any HTTP/1 minor version, and the extreme status codes. */
	assert_done(RUN("HTTP/1.9 599 X\r\nContent-Length: 0\r\n\r\n"), 599, "",
		    true);
	assert_done(RUN("HTTP/1.1 100 Continue\r\n\r\n"
			"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
		    200, "", true);
}
END_TEST

START_TEST(large_body_in_order)
{
	static char in[BODY_MAX];
	static char body[30000 + 1];
	int n = snprintf(in, sizeof(in),
			 "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
			 sizeof(body) - 1);

	for (size_t i = 0; i < sizeof(body) - 1; i++) {
		body[i] = (char)('a' + i * 7 % 26);
	}
	memcpy(in + n, body, sizeof(body) - 1);
	const struct outcome *o = run(in, (size_t)n + sizeof(body) - 1, false);
	assert_done(o, 200, body, true);

	/* Byte by byte, the body comes one byte a call. */
	struct outcome *b = malloc(sizeof(*b));
	ck_assert_ptr_nonnull(b);
	parse(in, (size_t)n + sizeof(body) - 1, BYTES, 0, false, b);
	ck_assert_uint_eq(b->body_calls, sizeof(body) - 1);
	free(b);
}
END_TEST

START_TEST(malformed_status_line)
{
	static const char *const bad[] = {
		"HTTP/1.1 20 OK\r\n",
		"HTTP/1.1 2000 OK\r\n",
		"HTTP/1.1 20x OK\r\n",
		"HTTP/1.1 200OK\r\n",
		"HTTP/1.1  200 OK\r\n",
		"HTTP/1.1\t200 OK\r\n",
		"HTTP/1.10 200 OK\r\n",
		"HTTP/1. 200 OK\r\n",
		"HTTP/1.x 200 OK\r\n",
		"HTTP/2 200 OK\r\n",
		"HTTP/2.0 200 OK\r\n",
		"HTTP/0.9 200 OK\r\n",
		"http/1.1 200 OK\r\n",
		" HTTP/1.1 200 OK\r\n",
		"\r\nHTTP/1.1 200 OK\r\n",
		"ICY 200 OK\r\n",
		"HTTP/1.1 099 Low\r\n",
		"HTTP/1.1 000 Zero\r\n",
		"HTTP/1.1 600 High\r\n",
		"HTTP/1.1 999 High\r\n",
		"HTTP/1.1 200 O\x01K\r\n",
		"HTTP/1.1 200 OK\rX\r\n",
		"HTTP/1.1 200 OK\r\r\n",
		"HTTP/1.1\r\n",
		"\n",
	};

	for (size_t i = 0; i < GSLB_ARRAY_SIZE(bad); i++) {
		const struct outcome *o = run(bad[i], strlen(bad[i]), false);
		ck_assert_msg(o->state == HTTP1_ERROR, "accepted %s", bad[i]);
		assert_error(o, "malformed status line");
		ck_assert_int_eq(o->status, 0);
	}

	/* A NUL byte inside the status line. */
	assert_error(RUN("HTTP/1.1 200 O\0K\r\n"), "malformed status line");
}
END_TEST

START_TEST(protocol_switch)
{
	const struct outcome *o = RUN("HTTP/1.1 101 Switching Protocols\r\n"
				      "Upgrade: websocket\r\n\r\n");

	assert_error(o, "unexpected protocol switch");
	ck_assert_int_eq(o->status, 101);
	/* The parse stops at the status line. */
	ck_assert_uint_eq(o->consumed,
			  sizeof("HTTP/1.1 101 Switching Protocols\r\n") - 1);
}
END_TEST

START_TEST(malformed_header_line)
{
	static const struct {
		const char *line;
		const char *error;
	} bad[] = {
		{ "Bad Name: x", "malformed header line" },
		{ "Name : x", "malformed header line" },
		{ ": x", "malformed header line" },
		{ "Name x", "malformed header line" },
		{ "Na(me): x", "malformed header line" },
		{ "Na\x01me: x", "malformed header line" },
		{ "Name: a\x01z", "malformed header line" },
		{ "Name: a\x7fz", "malformed header line" },
		{ "Name: a\rz", "malformed header line" },
		{ " Name: x", "folded header line" },
		{ "\tName: x", "folded header line" },
	};
	char in[256];

	for (size_t i = 0; i < GSLB_ARRAY_SIZE(bad); i++) {
		const int n = snprintf(in, sizeof(in),
				       "HTTP/1.1 200 OK\r\n"
				       "Content-Length: 0\r\n%s\r\n\r\n",
				       bad[i].line);
		const struct outcome *o = run(in, (size_t)n, false);
		ck_assert_msg(o->state == HTTP1_ERROR, "accepted %s",
			      bad[i].line);
		assert_error(o, bad[i].error);
		ck_assert_int_eq(o->status, 200);
	}

	/* obs-fold: a continuation of the previous field. */
	assert_error(RUN("HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\n\r\n"),
		     "folded header line");
	/* NUL in a value, in a name. */
	assert_error(RUN("HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n"),
		     "malformed header line");
	assert_error(RUN("HTTP/1.1 200 OK\r\nX\0A: b\r\n\r\n"),
		     "malformed header line");
	/* Token characters and an empty value are fine. */
	assert_done(RUN("HTTP/1.1 200 OK\r\n"
			"!#$%&'*+-.^_`|~09azAZ: \r\n"
			"X-Empty:\r\n"
			"X-Obs: caf\xc3\xa9\r\n"
			"Content-Length: 0\r\n\r\n"),
		    200, "", true);
}
END_TEST

/* A line of exactly len bytes before its CRLF: prefix, then 'a's. */
static size_t long_line(char *buf, const char *prefix, size_t len)
{
	const size_t n = strlen(prefix);

	memcpy(buf, prefix, n);
	memset(buf + n, 'a', len - n);
	memcpy(buf + len, "\r\n", 2);
	return len + 2;
}

START_TEST(line_limit)
{
	static char in[3 * HTTP1_LINE_MAX];
	const char *end = "Content-Length: 0\r\n\r\n";
	size_t n;

	/* The status line: HTTP1_LINE_MAX bytes is the most. */
	for (size_t extra = 0; extra <= 1; extra++) {
		n = long_line(in, "HTTP/1.1 200 ", HTTP1_LINE_MAX + extra);
		memcpy(in + n, end, strlen(end));
		n += strlen(end);
		const struct outcome *o = run(in, n, false);
		if (extra == 0) {
			assert_done(o, 200, "", true);
		} else {
			assert_error(o, "response headers too large");
			/* Stopped at the first byte too many. */
			ck_assert_uint_eq(o->consumed, HTTP1_LINE_MAX + 1);
		}
	}

	/* A header line, and a line with only its CR past the limit. */
	for (size_t extra = 0; extra <= 1; extra++) {
		n = strlen("HTTP/1.1 200 OK\r\n");
		memcpy(in, "HTTP/1.1 200 OK\r\n", n);
		n += long_line(in + n, "X-Long: ", HTTP1_LINE_MAX + extra);
		memcpy(in + n, end, strlen(end));
		n += strlen(end);
		const struct outcome *o = run(in, n, false);
		if (extra == 0) {
			assert_done(o, 200, "", true);
		} else {
			assert_error(o, "response headers too large");
		}
	}

	/* A trailer line. */
	for (size_t extra = 0; extra <= 1; extra++) {
		const char *head = "HTTP/1.1 200 OK\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n"
				   "0\r\n";
		n = strlen(head);
		memcpy(in, head, n);
		n += long_line(in + n, "X-Long: ", HTTP1_LINE_MAX + extra);
		memcpy(in + n, "\r\n", 2);
		n += 2;
		const struct outcome *o = run(in, n, false);
		if (extra == 0) {
			assert_done(o, 200, "", true);
		} else {
			assert_error(o, "response headers too large");
		}
	}

	/* A chunk-size line with a long extension. */
	for (size_t extra = 0; extra <= 1; extra++) {
		const char *head = "HTTP/1.1 200 OK\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n";
		n = strlen(head);
		memcpy(in, head, n);
		n += long_line(in + n, "1;x=", HTTP1_LINE_MAX + extra);
		memcpy(in + n, "Z\r\n0\r\n\r\n", 8);
		n += 8;
		const struct outcome *o = run(in, n, false);
		if (extra == 0) {
			assert_done(o, 200, "Z", true);
		} else {
			assert_error(o, "chunk line too long");
		}
	}
}
END_TEST

/* A response with count header lines, then the given tail. */
static size_t many_headers(char *buf, size_t size, unsigned count,
			   const char *framing, const char *tail)
{
	size_t n =
		(size_t)snprintf(buf, size, "HTTP/1.1 200 OK\r\n%s", framing);

	for (unsigned i = 1; i < count; i++) {
		n += (size_t)snprintf(buf + n, size - n, "X-H%u: %u\r\n", i, i);
		ck_assert_uint_lt(n, size);
	}
	n += (size_t)snprintf(buf + n, size - n, "\r\n%s", tail);
	ck_assert_uint_lt(n, size);
	return n;
}

START_TEST(header_count_limit)
{
	static char in[8192];
	size_t n;

	n = many_headers(in, sizeof(in), HTTP1_HEADERS_MAX,
			 "Content-Length: 2\r\n", "ok");
	assert_done(run(in, n, false), 200, "ok", true);
	n = many_headers(in, sizeof(in), HTTP1_HEADERS_MAX + 1,
			 "Content-Length: 2\r\n", "ok");
	assert_error(run(in, n, false), "response headers too large");

	/* Trailers count on from the headers. */
	n = many_headers(in, sizeof(in), HTTP1_HEADERS_MAX - 1,
			 "Transfer-Encoding: chunked\r\n",
			 "2\r\nok\r\n0\r\nX-T: 1\r\n\r\n");
	assert_done(run(in, n, false), 200, "ok", true);
	n = many_headers(in, sizeof(in), HTTP1_HEADERS_MAX - 1,
			 "Transfer-Encoding: chunked\r\n",
			 "2\r\nok\r\n0\r\nX-T: 1\r\nX-T: 2\r\n\r\n");
	assert_error(run(in, n, false), "response headers too large");
}
END_TEST

START_TEST(content_length_rules)
{
	static const char *const bad[] = {
		"", "abc", "-1", "+5", "1 2", "0x10", "5, 5", "5,", "1.0",
	};
	char in[256];

	for (size_t i = 0; i < GSLB_ARRAY_SIZE(bad); i++) {
		const int n = snprintf(in, sizeof(in),
				       "HTTP/1.1 200 OK\r\n"
				       "Content-Length: %s\r\n\r\n",
				       bad[i]);
		const struct outcome *o = run(in, (size_t)n, false);
		ck_assert_msg(o->state == HTTP1_ERROR, "accepted '%s'", bad[i]);
		assert_error(o, "malformed Content-Length");
	}

	/* Case-insensitive name, whitespace around the value, leading 0s. */
	assert_done(RUN("HTTP/1.1 200 OK\r\ncontent-LENGTH: \t 003 \t\r\n\r\n"
			"abc"),
		    200, "abc", true);

	/* 2^53 is the largest length. */
	const struct outcome *o = RUN("HTTP/1.1 200 OK\r\n"
				      "Content-Length: 9007199254740992\r\n\r\n"
				      "abc");
	ck_assert_int_eq(o->state, HTTP1_BODY_LENGTH);
	ck_assert_uint_eq(o->body_len, 3);
	assert_error(RUN("HTTP/1.1 200 OK\r\n"
			 "Content-Length: 9007199254740993\r\n\r\n"),
		     "Content-Length too large");
	assert_error(RUN("HTTP/1.1 200 OK\r\n"
			 "Content-Length: 99999999999999999999999999\r\n\r\n"),
		     "Content-Length too large");

	/* The same length twice is one length; two lengths are an error. */
	assert_done(RUN("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
			"Content-Length: 02\r\n\r\nhi"),
		    200, "hi", true);
	assert_error(RUN("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
			 "Content-Length: 3\r\n\r\nhi"),
		     "conflicting Content-Length");
	assert_error(RUN("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
			 "Content-Length: 1\r\n\r\n"),
		     "conflicting Content-Length");

	/* Only the length is read: the rest is not ours. */
	o = RUN("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiEXTRA");
	assert_done(o, 200, "hi", true);
	ck_assert_uint_eq(o->consumed, strlen("HTTP/1.1 200 OK\r\n"
					      "Content-Length: 2\r\n\r\nhi"));
}
END_TEST

START_TEST(transfer_encoding_rules)
{
	/* Transfer-Encoding wins over Content-Length, but no reuse. */
	assert_done(RUN("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
			"Transfer-Encoding: chunked\r\n\r\n"
			"2\r\nhi\r\n0\r\n\r\n"),
		    200, "hi", false);
	assert_done(RUN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
			"Content-Length: 100\r\n\r\n"
			"2\r\nhi\r\n0\r\n\r\n"),
		    200, "hi", false);

	/* The last coding decides, in any case, over several fields. */
	static const char *const chunked[] = {
		"chunked",
		"CHUNKED",
		"gzip, chunked",
		"gzip,chunked  ",
		"gzip, chunked,",
		"chunked\t, ",
		"chunked\r\nTransfer-Encoding: ",
		"gzip\r\nTransfer-Encoding: Chunked",
	};
	static const char *const not_chunked[] = {
		"gzip",
		"chunked, gzip",
		"chunked;q=1",
		"chunkedx",
		"",
		"chunked\r\nTransfer-Encoding: gzip",
	};
	char in[256];

	for (size_t i = 0; i < GSLB_ARRAY_SIZE(chunked); i++) {
		const int n = snprintf(in, sizeof(in),
				       "HTTP/1.1 200 OK\r\n"
				       "Transfer-Encoding: %s\r\n\r\n"
				       "2\r\nhi\r\n0\r\n\r\n",
				       chunked[i]);
		const struct outcome *o = run(in, (size_t)n, false);
		assert_done(o, 200, "hi", true);
	}
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(not_chunked); i++) {
		const int n = snprintf(in, sizeof(in),
				       "HTTP/1.1 200 OK\r\n"
				       "Content-Length: 3\r\n"
				       "Transfer-Encoding: %s\r\n\r\n"
				       "2\r\nhi\r\n0\r\n\r\n",
				       not_chunked[i]);
		const struct outcome *o = run(in, (size_t)n, false);
		ck_assert_int_eq(o->state, HTTP1_BODY_TO_CLOSE);
		ck_assert_uint_eq(o->body_len, strlen("2\r\nhi\r\n0\r\n\r\n"));
		o = run(in, (size_t)n, true);
		assert_done(o, 200, "2\r\nhi\r\n0\r\n\r\n", false);
		ck_assert(o->eof);
	}
}
END_TEST

START_TEST(connection_rules)
{
	static const struct {
		const char *version;
		const char *connection; /* NULL: no field */
		bool keep_alive;
	} cases[] = {
		{ "1.1", NULL, true },
		{ "1.1", "close", false },
		{ "1.1", "Close", false },
		{ "1.1", "foo, CLOSE", false },
		{ "1.1", "close,", false },
		{ "1.1", "close ,x", false },
		{ "1.1", "keep-alive", true },
		{ "1.1", "closed", true },
		{ "1.1", "upgrade", true },
		{ "1.0", NULL, false },
		{ "1.0", "keep-alive", true },
		{ "1.0", "Keep-Alive", true },
		{ "1.0", "te, keep-alive ", true },
		{ "1.0", "keep-alive\t,te", true },
		{ "1.0", "keep-alive, close", false },
		{ "1.0", "keep-alive\r\nConnection: close", false },
		{ "1.0", "keep-alives", false },
		{ "1.2", NULL, true },
	};
	char in[256];

	for (size_t i = 0; i < GSLB_ARRAY_SIZE(cases); i++) {
		char field[128] = "";
		if (cases[i].connection != NULL) {
			snprintf(field, sizeof(field), "Connection: %s\r\n",
				 cases[i].connection);
		}
		int n = snprintf(in, sizeof(in),
				 "HTTP/%s 200 OK\r\n%sContent-Length: 2\r\n\r\n"
				 "ok",
				 cases[i].version, field);
		const struct outcome *o = run(in, (size_t)n, false);
		ck_assert_msg(o->keep_alive == cases[i].keep_alive,
			      "HTTP/%s, Connection: %s", cases[i].version,
			      field);
		assert_done(o, 200, "ok", cases[i].keep_alive);

		/* Chunked framing allows reuse just the same. */
		n = snprintf(in, sizeof(in),
			     "HTTP/%s 200 OK\r\n%s"
			     "Transfer-Encoding: chunked\r\n\r\n"
			     "2\r\nok\r\n0\r\n\r\n",
			     cases[i].version, field);
		assert_done(run(in, (size_t)n, false), 200, "ok",
			    cases[i].keep_alive);

		/* A body to the close never does. */
		n = snprintf(in, sizeof(in), "HTTP/%s 200 OK\r\n%s\r\nok",
			     cases[i].version, field);
		assert_done(run(in, (size_t)n, true), 200, "ok", false);
	}
}
END_TEST

START_TEST(interim_responses)
{
	const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	const char in[] = "HTTP/1.1 100 Continue\r\n\r\n"
			  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	struct http1_response p;

	assert_done(RUN(in), 200, "ok", true);

	/* After the interim one, the parser waits for a status line. */
	http1_init(&p);
	ck_assert_uint_eq(http1_feed(&p, (const uint8_t *)cont,
				     sizeof(cont) - 1, NULL, NULL),
			  sizeof(cont) - 1);
	ck_assert_int_eq(p.state, HTTP1_STATUS);
	ck_assert_int_eq(p.status, 0);
	ck_assert(!http1_eof(&p));
	ck_assert_str_eq(p.error,
			 "connection closed before the response ended");

	/* Interim fields do not carry over to the final response. */
	assert_done(RUN("HTTP/1.1 103 Early Hints\r\n"
			"Connection: close\r\n"
			"Content-Length: 5\r\n"
			"Link: </style.css>; rel=preload\r\n\r\n"
			"HTTP/1.1 102 Processing\r\n\r\n"
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
		    200, "ok", true);
	assert_done(RUN("HTTP/1.1 100 Continue\r\n"
			"Transfer-Encoding: chunked\r\n\r\n"
			"HTTP/1.0 204 No Content\r\n"
			"Connection: keep-alive\r\n\r\n"),
		    204, "", true);
	/* The final response must still be well-formed. */
	assert_error(RUN("HTTP/1.1 100 Continue\r\n\r\nok\r\n"),
		     "malformed status line");
	assert_error(RUN("HTTP/1.1 100 Continue\r\n\r\n"
			 "HTTP/1.1 101 Switching Protocols\r\n\r\n"),
		     "unexpected protocol switch");

	/* An endless run of interim responses ends like too many headers. */
	static char many[(HTTP1_HEADERS_MAX + 1) * sizeof(cont)];
	size_t n = 0;
	for (unsigned i = 0; i < HTTP1_HEADERS_MAX + 1; i++) {
		memcpy(many + n, cont, sizeof(cont) - 1);
		n += sizeof(cont) - 1;
	}
	assert_error(run(many, n, false), "response headers too large");
	/* With a limit shared with their headers. */
	assert_error(RUN("HTTP/1.1 100 Continue\r\n\r\n"
			 "HTTP/1.1 100 Continue\r\n\r\n"
			 "HTTP/1.1 200 OK\r\n"
			 "A:1\r\nA:2\r\nA:3\r\nA:4\r\nA:5\r\nA:6\r\nA:7\r\n"
			 "A:1\r\nA:2\r\nA:3\r\nA:4\r\nA:5\r\nA:6\r\nA:7\r\n"
			 "A:1\r\nA:2\r\nA:3\r\nA:4\r\nA:5\r\nA:6\r\nA:7\r\n"
			 "A:1\r\nA:2\r\nA:3\r\nA:4\r\nA:5\r\nA:6\r\nA:7\r\n"
			 "A:1\r\nA:2\r\nA:3\r\nA:4\r\nA:5\r\nA:6\r\nA:7\r\n"
			 "A:1\r\nA:2\r\nA:3\r\nA:4\r\nA:5\r\nA:6\r\nA:7\r\n"
			 "A:1\r\nA:2\r\nA:3\r\nA:4\r\nA:5\r\nA:6\r\nA:7\r\n"
			 "A:1\r\nA:2\r\nA:3\r\nA:4\r\nA:5\r\nA:6\r\nA:7\r\n"
			 "A:1\r\nA:2\r\nA:3\r\nA:4\r\nA:5\r\nA:6\r\nA:7\r\n"
			 "A:1\r\nA:2\r\nA:3\r\nA:4\r\nA:5\r\nA:6\r\nA:7\r\n"
			 "A:1\r\nA:2\r\nA:3\r\nA:4\r\nA:5\r\nA:6\r\nA:7\r\n"
			 "A:1\r\nA:2\r\nA:3\r\nA:4\r\nA:5\r\nA:6\r\nA:7\r\n"
			 "A:1\r\nA:2\r\nA:3\r\nA:4\r\nA:5\r\nA:6\r\nA:7\r\n"
			 "A:1\r\nA:2\r\nA:3\r\nA:4\r\nA:5\r\nA:6\r\nA:7\r\n"
			 "Content-Length: 0\r\n\r\n"),
		     "response headers too large");
}
END_TEST

START_TEST(no_body_statuses)
{
	const char in[] = "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200";
	const struct outcome *o = RUN(in);

	assert_done(o, 204, "", true);
	ck_assert_uint_eq(o->consumed,
			  strlen("HTTP/1.1 204 No Content\r\n\r\n"));

	/* A length on 304 describes the resource, not this response. */
	o = RUN("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\nX");
	assert_done(o, 304, "", true);
	ck_assert_uint_eq(o->consumed, strlen("HTTP/1.1 304 Not Modified\r\n"
					      "Content-Length: 10\r\n\r\n"));

	/* Transfer-Encoding on one makes the framing doubtful. */
	assert_done(RUN("HTTP/1.1 204 No Content\r\n"
			"Transfer-Encoding: chunked\r\n\r\n"),
		    204, "", false);
	assert_done(RUN("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"),
		    204, "", false);
	assert_done(RUN("HTTP/1.0 304 Not Modified\r\n\r\n"), 304, "", false);
	/* Others without framing run to the close, even errors. */
	o = RUN("HTTP/1.1 205 Reset Content\r\n\r\n");
	ck_assert_int_eq(o->state, HTTP1_BODY_TO_CLOSE);
	o = RUN_EOF("HTTP/1.1 500 Oops\r\n\r\nbroken");
	assert_done(o, 500, "broken", false);
}
END_TEST

START_TEST(body_to_close)
{
	const char in[] = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"
			  "all of\r\nthis\r\n\r\nHTTP/1.1 200 OK\r\n\r\n";
	const char *body = "all of\r\nthis\r\n\r\nHTTP/1.1 200 OK\r\n\r\n";
	const struct outcome *o = RUN(in);

	ck_assert_int_eq(o->state, HTTP1_BODY_TO_CLOSE);
	ck_assert_int_eq(o->status, 200);
	ck_assert_uint_eq(o->consumed, sizeof(in) - 1);
	ck_assert_uint_eq(o->body_len, strlen(body));
	ck_assert_mem_eq(o->body, body, strlen(body));

	o = RUN_EOF(in);
	ck_assert(o->eof);
	assert_done(o, 200, body, false);

	/* Even keep-alive asked for: only the close ends the body. */
	o = RUN_EOF("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\nx");
	ck_assert(o->eof);
	assert_done(o, 200, "x", false);

	/* And an empty one. */
	o = RUN_EOF("HTTP/1.0 200 OK\r\n\r\n");
	ck_assert(o->eof);
	assert_done(o, 200, "", false);
}
END_TEST

START_TEST(chunked_body)
{
	const char in[] = "HTTP/1.1 200 OK\r\n"
			  "Transfer-Encoding: chunked\r\n\r\n"
			  "5;name=value;other\r\nhello\r\n"
			  "1 ; spaced = \"quoted\"\r\n,\r\n"
			  "B\r\n 0123456789\r\n"
			  "a\r\n0123456789\r\n"
			  "0;last\r\n"
			  "Expires: never\r\n"
			  "X-Trailer: yes\r\n"
			  "\r\n"
			  "HTTP/1.1 200 OK\r\n";
	const struct outcome *o = RUN(in);

	assert_done(o, 200, "hello, 01234567890123456789", true);
	ck_assert_uint_eq(o->consumed,
			  sizeof(in) - 1 - strlen("HTTP/1.1 200 OK\r\n"));

	/* Bare LFs, leading zeros, trailing whitespace after the size. */
	assert_done(RUN("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n"
			"0003 \nabc\n000\n\n"),
		    200, "abc", true);
	/* Fifteen hex digits is the most. */
	o = RUN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		"fffffffffffffff\r\nabc");
	ck_assert_int_eq(o->state, HTTP1_CHUNK_DATA);
	ck_assert_uint_eq(o->body_len, 3);
	assert_error(RUN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			 "0000000000000001\r\na\r\n0\r\n\r\n"),
		     "chunk too large");
	assert_error(RUN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			 "10000000000000000\r\n"),
		     "chunk too large");
}
END_TEST

START_TEST(malformed_chunks)
{
	static const char *const bad[] = {
		"\r\n",
		"z\r\n",
		"-1\r\n",
		"0x5\r\nhello\r\n0\r\n\r\n",
		"5 x\r\nhello\r\n0\r\n\r\n",
		" 5\r\nhello\r\n0\r\n\r\n",
		"5;a\x01\r\nhello\r\n0\r\n\r\n",
		"5\r\nhelloX\r\n0\r\n\r\n",
		"5\r\nhello\r\r\n0\r\n\r\n",
		"5\r\nhello\rX0\r\n\r\n",
		"5\r\nhello ",
		"5\rX\r\nhello\r\n0\r\n\r\n",
		"5\r\nhello\r\n\r\n",
	};
	char in[256];

	for (size_t i = 0; i < GSLB_ARRAY_SIZE(bad); i++) {
		const int n = snprintf(in, sizeof(in),
				       "HTTP/1.1 200 OK\r\n"
				       "Transfer-Encoding: chunked\r\n\r\n%s",
				       bad[i]);
		const struct outcome *o = run(in, (size_t)n, false);
		ck_assert_msg(o->state == HTTP1_ERROR, "accepted %s", bad[i]);
		assert_error(o, "malformed chunk");
	}

	/* Trailers are checked like headers. */
	assert_error(RUN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			 "0\r\nnot a trailer\r\n\r\n"),
		     "malformed header line");
	assert_error(RUN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			 "0\r\nX: a\r\n b\r\n\r\n"),
		     "folded header line");
	/* And change nothing: a trailing Connection or length is ignored. */
	assert_done(RUN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			"0\r\nConnection: close\r\nContent-Length: x\r\n\r\n"),
		    200, "", true);
}
END_TEST

START_TEST(eof_rules)
{
	static const char *const cut[] = {
		"",
		"HTTP/1.1 200",
		"HTTP/1.1 200 OK\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhell",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhe",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n"
		"hello\r",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
		"X: y\r\n",
		"HTTP/1.1 100 Continue\r\n\r\n",
	};

	for (size_t i = 0; i < GSLB_ARRAY_SIZE(cut); i++) {
		const struct outcome *o = run(cut[i], strlen(cut[i]), true);
		ck_assert(!o->eof);
		assert_error(o, "connection closed before the response ended");
	}

	/* Done stays done; an error keeps its reason. */
	const struct outcome *o =
		RUN_EOF("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	ck_assert(o->eof);
	assert_done(o, 200, "", true);
	o = RUN_EOF("HTTP/1.1 2000 OK\r\n");
	ck_assert(!o->eof);
	assert_error(o, "malformed status line");
}
END_TEST

START_TEST(nothing_after_the_end)
{
	const char two[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"
			   "HTTP/1.1 200 OK\r\n"
			   "Transfer-Encoding: chunked\r\n\r\n"
			   "3\r\ntwo\r\n0\r\n\r\n";
	const size_t first =
		strlen("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none");
	struct outcome *o = calloc(1, sizeof(*o));
	struct http1_response p;

	ck_assert_ptr_nonnull(o);
	http1_init(&p);
	ck_assert_uint_eq(http1_feed(&p, (const uint8_t *)two, sizeof(two) - 1,
				     collect, o),
			  first);
	ck_assert_int_eq(p.state, HTTP1_DONE);
	ck_assert(p.keep_alive);
	ck_assert_uint_eq(o->body_len, 3);
	ck_assert_mem_eq(o->body, "one", 3);

	/* Done: more bytes are refused and nothing moves. */
	struct http1_response done;
	memcpy(&done, &p, sizeof(p));
	ck_assert_uint_eq(http1_feed(&p, (const uint8_t *)two + first,
				     sizeof(two) - 1 - first, collect, o),
			  0);
	assert_unchanged(&p, &done);
	ck_assert_uint_eq(o->body_len, 3);
	ck_assert(http1_eof(&p));
	assert_unchanged(&p, &done);

	/* The next response on the same connection, with a fresh parser. */
	http1_init(&p);
	ck_assert_uint_eq(http1_feed(&p, (const uint8_t *)two + first,
				     sizeof(two) - 1 - first, collect, o),
			  sizeof(two) - 1 - first);
	ck_assert_int_eq(p.state, HTTP1_DONE);
	ck_assert_uint_eq(o->body_len, 6);
	ck_assert_mem_eq(o->body, "onetwo", 6);

	/* An error is as final. */
	http1_init(&p);
	ck_assert_uint_eq(
		http1_feed(&p, (const uint8_t *)"XTTP/1.1", 8, NULL, NULL), 8);
	ck_assert_uint_eq(
		http1_feed(&p, (const uint8_t *)"\r\n", 2, NULL, NULL), 2);
	ck_assert_int_eq(p.state, HTTP1_ERROR);
	struct http1_response failed;
	memcpy(&failed, &p, sizeof(p));
	ck_assert_uint_eq(http1_feed(&p, (const uint8_t *)two, sizeof(two) - 1,
				     collect, o),
			  0);
	assert_unchanged(&p, &failed);
	ck_assert(!http1_eof(&p));
	assert_unchanged(&p, &failed);
	free(o);
}
END_TEST

/* No callback is needed; the body is then skipped. */
START_TEST(null_callback)
{
	const char in[] =
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		"3\r\nabc\r\n0\r\n\r\nnext";
	struct http1_response p;

	http1_init(&p);
	ck_assert_uint_eq(
		http1_feed(&p, (const uint8_t *)in, sizeof(in) - 1, NULL, NULL),
		sizeof(in) - 1 - 4);
	ck_assert_int_eq(p.state, HTTP1_DONE);
	ck_assert_int_eq(p.status, 200);

	http1_init(&p);
	ck_assert_uint_eq(
		http1_feed(&p, (const uint8_t *)"HTTP/1.0 200 OK\r\n\r\nbody",
			   23, NULL, NULL),
		23);
	ck_assert(http1_eof(&p));
	ck_assert_int_eq(p.state, HTTP1_DONE);
	ck_assert(!p.keep_alive);
}
END_TEST

/*
 * Every cut of a few responses into two feeds agrees with one feed (run()
 * already tries random cuts; this tries them all).
 */
START_TEST(every_two_piece_split)
{
	static const char *const inputs[] = {
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
		"Content-Length: 4\r\n\r\nbodyX",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
		"4;x=y\r\nbody\r\n2\r\n!!\r\n0\r\nT: v\r\n\r\nX",
		"HTTP/1.0 200 OK\nConnection: keep-alive\nContent-Length: 1\n\n"
		"1",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		"4\r\nbody\r\r\n",
	};
	struct outcome *one = malloc(sizeof(*one));
	struct outcome *two = malloc(sizeof(*two));

	ck_assert_ptr_nonnull(one);
	ck_assert_ptr_nonnull(two);
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(inputs); i++) {
		const uint8_t *in = (const uint8_t *)inputs[i];
		const size_t len = strlen(inputs[i]);
		parse(inputs[i], len, WHOLE, 0, false, one);
		for (size_t cut = 0; cut <= len; cut++) {
			struct http1_response p;
			memset(two, 0, offsetof(struct outcome, body));
			http1_init(&p);
			size_t got = http1_feed(&p, in, cut, collect, two);
			if (got == cut) {
				got += http1_feed(&p, in + cut, len - cut,
						  collect, two);
			}
			ck_assert_uint_eq(got, one->consumed);
			ck_assert_int_eq(p.state, one->state);
			ck_assert_int_eq(p.status, one->status);
			ck_assert_int_eq(p.keep_alive, one->keep_alive);
			ck_assert_uint_eq(two->body_len, one->body_len);
			ck_assert_mem_eq(two->body, one->body, one->body_len);
		}
	}
	free(one);
	free(two);
}
END_TEST

static Suite *http1_suite(void)
{
	Suite *s = suite_create("http1");
	TCase *tc;

	tc = tcase_create("framing");
	tcase_add_test(tc, content_length_body);
	tcase_add_test(tc, large_body_in_order);
	tcase_add_test(tc, content_length_rules);
	tcase_add_test(tc, transfer_encoding_rules);
	tcase_add_test(tc, chunked_body);
	tcase_add_test(tc, malformed_chunks);
	tcase_add_test(tc, body_to_close);
	tcase_add_test(tc, no_body_statuses);
	tcase_add_test(tc, interim_responses);
	suite_add_tcase(s, tc);

	tc = tcase_create("syntax");
	tcase_add_test(tc, malformed_status_line);
	tcase_add_test(tc, protocol_switch);
	tcase_add_test(tc, malformed_header_line);
	tcase_add_test(tc, line_limit);
	tcase_add_test(tc, header_count_limit);
	suite_add_tcase(s, tc);

	tc = tcase_create("connection");
	tcase_add_test(tc, connection_rules);
	tcase_add_test(tc, eof_rules);
	tcase_add_test(tc, nothing_after_the_end);
	tcase_add_test(tc, null_callback);
	tcase_add_test(tc, every_two_piece_split);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(http1_suite());

	srunner_run_all(sr, CK_NORMAL);
	const int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
