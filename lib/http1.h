/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * An incremental HTTP/1.x response parser for health checks: status line,
 * the headers that frame the body (Content-Length, Transfer-Encoding:
 * chunked, Connection), and the body itself, handed out as it arrives. It
 * tells whether the connection may carry the next request.
 *
 * Input comes from backends and is not trusted: every length is bounded,
 * and anything malformed ends the parse with a short reason.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP1_LINE_MAX    4096 /* one status or header line */
#define HTTP1_HEADERS_MAX 100  /* header lines per response */

enum http1_state {
	HTTP1_STATUS = 0,    /* reading the status line */
	HTTP1_HEADERS,       /* reading header lines */
	HTTP1_BODY_LENGTH,   /* Content-Length bytes to go */
	HTTP1_CHUNK_SIZE,    /* a chunk-size line */
	HTTP1_CHUNK_DATA,    /* chunk bytes to go */
	HTTP1_CHUNK_END,     /* the CRLF after a chunk */
	HTTP1_TRAILERS,      /* trailer lines after the last chunk */
	HTTP1_BODY_TO_CLOSE, /* no framing: the body ends at the close */
	HTTP1_DONE,          /* a whole response was read */
	HTTP1_ERROR,         /* malformed; see error */
};

typedef void (*http1_body_cb)(const uint8_t *data, size_t len, void *arg);

struct http1_response {
	enum http1_state state;
	int status;        /* e.g. 200; 0 until the status line is read */
	bool keep_alive;   /* the connection may be reused after DONE */
	const char *error; /* static text, set in HTTP1_ERROR */

	/* Parser internals. */
	int minor;    /* HTTP/1.minor */
	bool chunked; /* the last transfer coding is chunked */
	bool have_te; /* Transfer-Encoding seen */
	bool have_length;
	bool close;         /* Connection: close */
	bool ka_token;      /* Connection: keep-alive (for HTTP/1.0) */
	bool no_body;       /* 1xx, 204, 304 */
	uint64_t remaining; /* body or chunk bytes to go */
	unsigned n_headers; /* header, trailer and interim status lines */
	size_t line_len;
	bool cr; /* the last byte was a CR; an LF must follow */
	char line[HTTP1_LINE_MAX];
};

/* Ready for a response to a GET. */
void http1_init(struct http1_response *p);

/*
 * Feeds the next bytes received. Body bytes are passed to on_body (may be
 * NULL). Returns the number of bytes consumed: all of them, unless the
 * response ended (HTTP1_DONE: the rest belongs to no request of ours) or
 * an error stopped the parse (HTTP1_ERROR).
 */
size_t http1_feed(struct http1_response *p, const uint8_t *data, size_t len,
		  http1_body_cb on_body, void *arg);

/*
 * The peer closed the connection. Returns true when that completes the
 * response (a body that runs to the close); otherwise the response was cut
 * short and the state becomes HTTP1_ERROR.
 */
bool http1_eof(struct http1_response *p);
