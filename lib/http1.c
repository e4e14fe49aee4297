/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The response is read a byte at a time through the line states (status,
 * headers, chunk sizes, trailers), so that a line split over any number of
 * reads parses like a whole one; body bytes go to the caller in runs.
 */
#include <string.h>

#include "http1.h"

#define CONTENT_LENGTH_MAX (UINT64_C(1) << 53)
#define CHUNK_DIGITS_MAX   15 /* 60 bits: cannot overflow */

static const char E_STATUS[] = "malformed status line";
static const char E_HEADER[] = "malformed header line";
static const char E_TOO_LARGE[] = "response headers too large";
static const char E_CHUNK[] = "malformed chunk";

static void fail(struct http1_response *p, const char *why)
{
	p->state = HTTP1_ERROR;
	p->error = why;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
	if (is_digit(c)) {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 9110 tchar. */
static bool is_tchar(char c)
{
	if (is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
		return true;
	}
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Control characters other than HTAB have no place in a field value. */
static bool has_ctl(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			return true;
		}
	}
	return false;
}

/* ASCII only: the locale must not change what a header name means. */
static bool token_eq(const char *s, size_t n, const char *lower)
{
	if (strlen(lower) != n) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z') {
			c = (char)(c - 'A' + 'a');
		}
		if (c != lower[i]) {
			return false;
		}
	}
	return true;
}

/*
 * The next element of a comma-separated list, without its surrounding
 * whitespace (possibly empty). False at the end of the list, where *s
 * becomes NULL.
 */
static bool list_next(const char **s, const char *end, const char **elem,
		      size_t *len)
{
	const char *c = *s;
	if (c == NULL) {
		return false;
	}
	while (c < end && is_ows(*c)) {
		c++;
	}
	const char *start = c;
	while (c < end && *c != ',') {
		c++;
	}
	const char *stop = c;
	while (stop > start && is_ows(stop[-1])) {
		stop--;
	}
	*elem = start;
	*len = (size_t)(stop - start);
	*s = c < end ? c + 1 : NULL;
	return true;
}

static bool persistent(const struct http1_response *p)
{
	return !p->close && (p->minor >= 1 || p->ka_token);
}

/* The only place keep_alive is set: it is false until the end. */
static void finish(struct http1_response *p)
{
	p->state = HTTP1_DONE;
	/*
	 * Transfer-Encoding with Content-Length, or on a response without a
	 * body, means the peer and we may disagree on where the response
	 * ends (RFC 9112 6.3): do not read another one from this connection.
	 */
	p->keep_alive = persistent(p) &&
			!(p->have_te && (p->have_length || p->no_body));
}

/* "HTTP/1.x NNN[ reason]" */
static void status_line(struct http1_response *p, const char *s, size_t n)
{
	static const char version[] = "HTTP/1.";
	const size_t v = sizeof(version) - 1;

	if (n < v + 5 || memcmp(s, version, v) != 0 || !is_digit(s[v]) ||
	    s[v + 1] != ' ' || !is_digit(s[v + 2]) || !is_digit(s[v + 3]) ||
	    !is_digit(s[v + 4]) || (n > v + 5 && s[v + 5] != ' ') ||
	    has_ctl(s, n)) {
		fail(p, E_STATUS);
		return;
	}
	const int status = (s[v + 2] - '0') * 100 + (s[v + 3] - '0') * 10 +
			   (s[v + 4] - '0');
	if (status < 100 || status > 599) {
		fail(p, E_STATUS);
		return;
	}
	p->status = status;
	if (status == 101) {
		fail(p, "unexpected protocol switch");
		return;
	}
	p->minor = s[v] - '0';
	p->no_body = status < 200 || status == 204 || status == 304;
	p->state = HTTP1_HEADERS;
}

static void content_length(struct http1_response *p, const char *s, size_t n)
{
	uint64_t len = 0;

	if (n == 0) {
		fail(p, "malformed Content-Length");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i])) {
			fail(p, "malformed Content-Length");
			return;
		}
		len = len * 10 + (uint64_t)(s[i] - '0');
		if (len > CONTENT_LENGTH_MAX) {
			fail(p, "Content-Length too large");
			return;
		}
	}
	if (p->have_length && p->remaining != len) {
		fail(p, "conflicting Content-Length");
		return;
	}
	p->have_length = true;
	p->remaining = len;
}

/* Several Transfer-Encoding fields make one list: the last coding counts. */
static void transfer_encoding(struct http1_response *p, const char *s, size_t n)
{
	const char *end = s + n, *elem;
	size_t len;

	p->have_te = true;
	while (list_next(&s, end, &elem, &len)) {
		if (len > 0) {
			p->chunked = token_eq(elem, len, "chunked");
		}
	}
}

static void connection(struct http1_response *p, const char *s, size_t n)
{
	const char *end = s + n, *elem;
	size_t len;

	while (list_next(&s, end, &elem, &len)) {
		if (token_eq(elem, len, "close")) {
			p->close = true;
		} else if (token_eq(elem, len, "keep-alive")) {
			p->ka_token = true;
		}
	}
}

/* "Name: value"; trailers are checked and counted, then ignored. */
static void header_line(struct http1_response *p, const char *s, size_t n,
			bool trailer)
{
	if (++p->n_headers > HTTP1_HEADERS_MAX) {
		fail(p, E_TOO_LARGE);
		return;
	}
	if (is_ows(s[0])) {
		fail(p, "folded header line");
		return;
	}
	size_t name_len = 0;
	while (name_len < n && is_tchar(s[name_len])) {
		name_len++;
	}
	if (name_len == 0 || name_len == n || s[name_len] != ':') {
		fail(p, E_HEADER);
		return;
	}
	const char *value = s + name_len + 1;
	size_t value_len = n - name_len - 1;
	while (value_len > 0 && is_ows(value[0])) {
		value++;
		value_len--;
	}
	while (value_len > 0 && is_ows(value[value_len - 1])) {
		value_len--;
	}
	if (has_ctl(value, value_len)) {
		fail(p, E_HEADER);
		return;
	}
	if (trailer) {
		return;
	}
	if (token_eq(s, name_len, "content-length")) {
		content_length(p, value, value_len);
	} else if (token_eq(s, name_len, "transfer-encoding")) {
		transfer_encoding(p, value, value_len);
	} else if (token_eq(s, name_len, "connection")) {
		connection(p, value, value_len);
	}
}

/* RFC 9112 6.3, in order, for a response to a GET. */
static void headers_end(struct http1_response *p)
{
	if (p->status < 200) {
		/*
		 * An interim response: the real one follows. The header count
		 * goes on (one more for this status line), so that an endless
		 * run of them still ends.
		 */
		const unsigned n_headers = p->n_headers + 1;
		http1_init(p);
		p->n_headers = n_headers;
		if (n_headers > HTTP1_HEADERS_MAX) {
			fail(p, E_TOO_LARGE);
		}
	} else if (p->no_body) {
		finish(p);
	} else if (p->have_te) {
		if (p->chunked) {
			p->state = HTTP1_CHUNK_SIZE;
		} else {
			p->state = HTTP1_BODY_TO_CLOSE;
		}
	} else if (p->have_length) {
		if (p->remaining == 0) {
			finish(p);
		} else {
			p->state = HTTP1_BODY_LENGTH;
		}
	} else {
		p->state = HTTP1_BODY_TO_CLOSE;
	}
}

/* "HEX[ ][;extension]" */
static void chunk_size_line(struct http1_response *p, const char *s, size_t n)
{
	uint64_t size = 0;
	size_t i = 0;
	int h;

	while (i < n && (h = hex_value(s[i])) >= 0) {
		if (i == CHUNK_DIGITS_MAX) {
			fail(p, "chunk too large");
			return;
		}
		size = size << 4 | (uint64_t)h;
		i++;
	}
	if (i == 0) {
		fail(p, E_CHUNK);
		return;
	}
	while (i < n && is_ows(s[i])) {
		i++;
	}
	if ((i < n && s[i] != ';') || has_ctl(s + i, n - i)) {
		fail(p, E_CHUNK);
		return;
	}
	if (size == 0) {
		p->state = HTTP1_TRAILERS;
	} else {
		p->remaining = size;
		p->state = HTTP1_CHUNK_DATA;
	}
}

/* Called in the line states only. */
static void line_end(struct http1_response *p)
{
	const size_t n = p->line_len;

	p->line_len = 0;
	p->cr = false;
	if (p->state == HTTP1_STATUS) {
		status_line(p, p->line, n);
	} else if (p->state == HTTP1_CHUNK_SIZE) {
		chunk_size_line(p, p->line, n);
	} else if (n > 0) {
		header_line(p, p->line, n, p->state == HTTP1_TRAILERS);
	} else if (p->state == HTTP1_HEADERS) {
		headers_end(p);
	} else {
		finish(p);
	}
}

/* One byte of a line: CRLF or a bare LF ends it; a bare CR is an error. */
static void line_byte(struct http1_response *p, uint8_t c)
{
	const bool chunk = p->state == HTTP1_CHUNK_SIZE;

	if (c == '\n') {
		line_end(p);
	} else if (p->cr) {
		fail(p, chunk                      ? E_CHUNK
			: p->state == HTTP1_STATUS ? E_STATUS
						   : E_HEADER);
	} else if (c == '\r') {
		p->cr = true;
	} else if (p->line_len == sizeof(p->line)) {
		fail(p, chunk ? "chunk line too long" : E_TOO_LARGE);
	} else {
		p->line[p->line_len++] = (char)c;
	}
}

void http1_init(struct http1_response *p)
{
	/* The line buffer needs no clearing. */
	memset(p, 0, offsetof(struct http1_response, line));
	p->state = HTTP1_STATUS;
}

size_t http1_feed(struct http1_response *p, const uint8_t *data, size_t len,
		  http1_body_cb on_body, void *arg)
{
	size_t i = 0;

	while (i < len) {
		switch (p->state) {
		case HTTP1_STATUS:
		case HTTP1_HEADERS:
		case HTTP1_CHUNK_SIZE:
		case HTTP1_TRAILERS:
			line_byte(p, data[i++]);
			break;
		case HTTP1_BODY_LENGTH:
		case HTTP1_CHUNK_DATA: {
			size_t n = len - i;
			if (n > p->remaining) {
				n = (size_t)p->remaining;
			}
			if (on_body != NULL) {
				on_body(data + i, n, arg);
			}
			i += n;
			p->remaining -= n;
			if (p->remaining > 0) {
				break;
			}
			if (p->state == HTTP1_BODY_LENGTH) {
				finish(p);
			} else {
				p->state = HTTP1_CHUNK_END;
			}
			break;
		}
		case HTTP1_CHUNK_END: {
			const uint8_t c = data[i++];
			if (c == '\n') {
				p->cr = false;
				p->state = HTTP1_CHUNK_SIZE;
			} else if (c == '\r' && !p->cr) {
				p->cr = true;
			} else {
				fail(p, E_CHUNK);
			}
			break;
		}
		case HTTP1_BODY_TO_CLOSE:
			if (on_body != NULL) {
				on_body(data + i, len - i, arg);
			}
			i = len;
			break;
		case HTTP1_DONE:
		case HTTP1_ERROR:
		default:
			return i;
		}
	}
	return i;
}

bool http1_eof(struct http1_response *p)
{
	switch (p->state) {
	case HTTP1_BODY_TO_CLOSE:
		p->state = HTTP1_DONE;
		return true;
	case HTTP1_DONE:
		return true;
	case HTTP1_ERROR:
		return false;
	default:
		fail(p, "connection closed before the response ended");
		return false;
	}
}
