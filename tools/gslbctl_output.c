/* SPDX-License-Identifier: GPL-3.0-or-later */
/* gslbctl: strings, tables, JSON and times for the terminal. */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "gslbctl.h"

static GSLB_NORETURN void out_of_memory(void)
{
	fputs("gslbctl: out of memory\n", stderr);
	exit(CTL_REFUSED);
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (p == NULL) {
		out_of_memory();
	}
	return p;
}

void *xrealloc(void *p, size_t size)
{
	void *q = realloc(p, size ? size : 1);
	if (q == NULL) {
		out_of_memory();
	}
	return q;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (p == NULL) {
		out_of_memory();
	}
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		out_of_memory();
	}
	return s;
}

/* ------------------------------------------------------------------------ */
/* Growing strings                                                          */

static void buf_reserve(struct ctl_buf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap) {
		return;
	}
	size_t cap = b->cap ? b->cap : 64;
	while (cap < b->len + more + 1) {
		cap *= 2;
	}
	b->s = xrealloc(b->s, cap);
	b->cap = cap;
}

void buf_addn(struct ctl_buf *b, const char *data, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->s + b->len, data, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void buf_add(struct ctl_buf *b, const char *s)
{
	buf_addn(b, s, strlen(s));
}

void buf_addf(struct ctl_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		return;
	}
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void buf_add_escaped(struct ctl_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || strchr("-._~:", *p) != NULL) {
			buf_addn(b, (const char *)p, 1);
		} else {
			char esc[3] = { '%', hex[*p >> 4], hex[*p & 15] };
			buf_addn(b, esc, 3);
		}
	}
}

void buf_add_query(struct ctl_buf *b, const char *name, const char *value)
{
	buf_add(b, b->s != NULL && strchr(b->s, '?') ? "&" : "?");
	buf_add_escaped(b, name);
	buf_add(b, "=");
	buf_add_escaped(b, value);
}

char *buf_take(struct ctl_buf *b)
{
	char *s = b->s ? b->s : xstrdup("");
	*b = (struct ctl_buf){ 0 };
	return s;
}

void buf_clear(struct ctl_buf *b)
{
	free(b->s);
	*b = (struct ctl_buf){ 0 };
}

char *ctl_printable(const char *s)
{
	char *out = xstrdup(s);
	for (unsigned char *p = (unsigned char *)out; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			*p = '?';
		}
	}
	return out;
}

/* ------------------------------------------------------------------------ */
/* Tables                                                                   */

struct ctl_table {
	size_t n_cols;
	size_t n_rows;
	char **cells; /* (n_rows + 1) * n_cols: the headers first */
};

/* Width on a terminal: UTF-8 continuation bytes take no column. */
static size_t text_width(const char *s)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		n += (*p & 0xc0) != 0x80;
	}
	return n;
}

struct ctl_table *table_new(size_t n_cols, const char *const *headers)
{
	struct ctl_table *t = xmalloc(sizeof(*t));
	*t = (struct ctl_table){ .n_cols = n_cols };
	t->cells = xmalloc(n_cols * sizeof(*t->cells));
	for (size_t i = 0; i < n_cols; i++) {
		t->cells[i] = xstrdup(headers[i]);
	}
	return t;
}

void table_add(struct ctl_table *t, const char *const *cells)
{
	size_t at = (t->n_rows + 1) * t->n_cols;
	t->cells = xrealloc(t->cells, (at + t->n_cols) * sizeof(*t->cells));
	for (size_t i = 0; i < t->n_cols; i++) {
		t->cells[at + i] = ctl_printable(cells[i] ? cells[i] : "-");
	}
	t->n_rows++;
}

void table_print_or(const struct ctl_table *t, const char *empty)
{
	if (t->n_rows == 0) {
		printf("%s\n", empty);
	} else {
		table_print(t, stdout);
	}
}

void table_print(const struct ctl_table *t, FILE *out)
{
	size_t *width = xmalloc(t->n_cols * sizeof(*width));
	for (size_t c = 0; c < t->n_cols; c++) {
		width[c] = 0;
		for (size_t r = 0; r <= t->n_rows; r++) {
			size_t w = text_width(t->cells[r * t->n_cols + c]);
			width[c] = w > width[c] ? w : width[c];
		}
	}
	for (size_t r = 0; r <= t->n_rows; r++) {
		for (size_t c = 0; c < t->n_cols; c++) {
			const char *cell = t->cells[r * t->n_cols + c];
			fputs(cell, out);
			if (c + 1 < t->n_cols) {
				fprintf(out, "%*s",
					(int)(width[c] - text_width(cell) + 2),
					"");
			}
		}
		fputc('\n', out);
	}
	free(width);
}

void table_free(struct ctl_table *t)
{
	if (t == NULL) {
		return;
	}
	for (size_t i = 0; i < (t->n_rows + 1) * t->n_cols; i++) {
		free(t->cells[i]);
	}
	free(t->cells);
	free(t);
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                     */

void ctl_print_json(const json_t *doc)
{
	if (doc == NULL) {
		fputs("null\n", stdout);
		return;
	}
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
	fputc('\n', stdout);
}

const char *jstr(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

json_int_t jint(const json_t *obj, const char *key, json_int_t fallback)
{
	json_t *v = json_object_get(obj, key);
	return json_is_integer(v) ? json_integer_value(v) : fallback;
}

int jbool(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_boolean(v) ? json_is_true(v) : -1;
}

char *ctl_hostport(const char *address, json_int_t port)
{
	if (address == NULL) {
		return xstrdup("-");
	}
	if (strchr(address, ':') != NULL) {
		return xasprintf("[%s]:%lld", address, (long long)port);
	}
	return xasprintf("%s:%lld", address, (long long)port);
}

/* ------------------------------------------------------------------------ */
/* Times                                                                    */

int ctl_time_parse(const char *text, time_t *out)
{
	struct tm tm = { 0 };
	const char *p = text ? strptime(text, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (p == NULL) {
		return -1;
	}
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			p++;
		}
	}
	long offset = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) &&
		   isdigit((unsigned char)p[2]) && p[3] == ':' &&
		   isdigit((unsigned char)p[4]) &&
		   isdigit((unsigned char)p[5])) {
		offset = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600L +
			 ((p[4] - '0') * 10 + (p[5] - '0')) * 60L;
		if (*p == '-') {
			offset = -offset;
		}
		p += 6;
	} else {
		return -1;
	}
	if (*p != '\0') {
		return -1;
	}
	*out = timegm(&tm) - offset;
	return 0;
}

const char *ctl_time_short(const char *text, char *buf, size_t len)
{
	time_t t;
	struct tm tm;
	if (text == NULL) {
		snprintf(buf, len, "-");
	} else if (ctl_time_parse(text, &t) != 0 || gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, len, "%s", text);
	} else {
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	return buf;
}

const char *ctl_duration(int64_t seconds, char *buf, size_t len)
{
	if (seconds < 0) {
		seconds = 0;
	}
	int64_t d = seconds / 86400, h = seconds / 3600 % 24,
		m = seconds / 60 % 60, s = seconds % 60;
	if (d > 0) {
		snprintf(buf, len, "%lldd %lldh %lldm", (long long)d,
			 (long long)h, (long long)m);
	} else if (h > 0) {
		snprintf(buf, len, "%lldh %lldm", (long long)h, (long long)m);
	} else if (m > 0) {
		snprintf(buf, len, "%lldm %llds", (long long)m, (long long)s);
	} else {
		snprintf(buf, len, "%llds", (long long)s);
	}
	return buf;
}
