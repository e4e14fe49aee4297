/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer harness for the health checker's HTTP/1 response parser: any
 * bytes as what a backend sends, fed in one piece, byte by byte and in
 * pieces cut by the input itself. All three must agree, and the parser's
 * promises (bytes consumed, body bytes handed out, final states) must hold.
 * Build: make fuzz (clang); the corpus replays in make check.
 */
#include <stdlib.h>
#include <string.h>

#include "http1.h"

struct outcome {
	enum http1_state state;
	int status;
	bool keep_alive;
	bool eof;
	size_t consumed;
	size_t body_len;
	uint64_t body_hash;
	/* The piece being fed, to check that body bytes come from it. */
	const uint8_t *piece;
	size_t piece_len;
};

static void on_body(const uint8_t *data, size_t len, void *arg)
{
	struct outcome *o = arg;

	if (len == 0 || data < o->piece ||
	    data + len > o->piece + o->piece_len) {
		abort();
	}
	for (size_t i = 0; i < len; i++) {
		o->body_hash = (o->body_hash ^ data[i]) * 0x100000001b3u;
	}
	o->body_len += len;
}

/* Piece sizes: 0 for one feed, 1 for bytes, else taken from the input. */
static void parse(const uint8_t *data, size_t size, int mode, struct outcome *o)
{
	struct http1_response p;
	size_t off = 0, k = 0;

	memset(o, 0, sizeof(*o));
	o->body_hash = 0xcbf29ce484222325u;
	http1_init(&p);
	while (off < size) {
		size_t n = size - off;
		if (mode == 1) {
			n = 1;
		} else if (mode == 2) {
			const size_t cut = data[k++ % size] % 32 + 1;
			n = cut < n ? cut : n;
		}
		o->piece = data + off;
		o->piece_len = n;
		const size_t got = http1_feed(&p, data + off, n, on_body, o);
		if (got > n) {
			abort();
		}
		off += got;
		if (got < n) {
			break;
		}
	}
	o->consumed = off;
	if (o->body_len > off) {
		abort();
	}

	/* Finished: nothing more is taken, nothing changes. */
	if (p.state == HTTP1_DONE || p.state == HTTP1_ERROR) {
		if (p.state == HTTP1_ERROR && p.error == NULL) {
			abort();
		}
		const enum http1_state state = p.state;
		const int status = p.status;
		const bool keep_alive = p.keep_alive;
		o->piece = data;
		o->piece_len = size;
		if (http1_feed(&p, data, size, on_body, o) != 0 ||
		    p.state != state || p.status != status ||
		    p.keep_alive != keep_alive) {
			abort();
		}
	} else if (off != size) {
		abort();
	}

	const enum http1_state before = p.state;
	o->eof = http1_eof(&p);
	if (o->eof != (before == HTTP1_BODY_TO_CLOSE || before == HTTP1_DONE) ||
	    (o->eof && p.state != HTTP1_DONE) ||
	    (!o->eof && (p.state != HTTP1_ERROR || p.error == NULL)) ||
	    (before == HTTP1_BODY_TO_CLOSE && p.keep_alive)) {
		abort();
	}
	if (p.state == HTTP1_DONE && (p.status < 200 || p.status > 599)) {
		abort();
	}
	o->state = p.state;
	o->status = p.status;
	o->keep_alive = p.keep_alive;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome ref, other;

	parse(data, size, 0, &ref);
	for (int mode = 1; mode <= 2; mode++) {
		parse(data, size, mode, &other);
		if (other.state != ref.state || other.status != ref.status ||
		    other.keep_alive != ref.keep_alive ||
		    other.eof != ref.eof || other.consumed != ref.consumed ||
		    other.body_len != ref.body_len ||
		    other.body_hash != ref.body_hash) {
			abort();
		}
	}
	return 0;
}
