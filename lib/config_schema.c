/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The config schema: one table of keys per mapping, each key with its type,
 * range and field, walked over a file's node tree. Values are checked here;
 * rules that need the whole merged config are in config.c.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <time.h>

#include "config_internal.h"
#include "error.h"
#include "routing.h"

#define TTL_MAX  INT64_C(2147483647)
#define KEY_HINT "Generate with: openssl rand -base64 32"

/*
 * The sample configs ship secrets that contain this marker (the gossip
 * key's bytes too), so that a copied sample cannot run with a key or token
 * everybody knows.
 */
#define PLACEHOLDER "CHANGE-ME"

static bool secret_is_placeholder(const void *secret, size_t len)
{
	return memmem(secret, len, PLACEHOLDER, strlen(PLACEHOLDER)) != NULL;
}

static void secret_check(struct cfg_loader *ld, const struct cfg_node *node,
			 const char *path, const void *secret, size_t len,
			 const char *hint)
{
	if (secret_is_placeholder(secret, len)) {
		cfg_err_at(ld, node, path,
			   "this is the sample configuration's placeholder: "
			   "replace it with a secret of your own (%s)",
			   hint);
	}
}

#define TOKEN_HINT "a long random string, e.g. openssl rand -base64 24"

static void set_str(char **field, char *value)
{
	free(*field);
	*field = value;
}

/* ------------------------------------------------------------------------ */
/* Value syntax: durations, integers, names, base64                         */

static const struct {
	const char *name;
	gslb_duration_t ns;
} duration_units[] = {
	{ "ns", 1 },
	{ "us", GSLB_USEC },
	{ "\xc2\xb5s", GSLB_USEC }, /* U+00B5 micro sign */
	{ "\xce\xbcs", GSLB_USEC }, /* U+03BC Greek mu */
	{ "ms", GSLB_MSEC },
	{ "s", GSLB_SEC },
	{ "m", 60 * GSLB_SEC },
	{ "h", 3600 * GSLB_SEC },
};

/* Go's time.ParseDuration: [-+]?([0-9]*(\.[0-9]*)?unit)+ or "0". */
int gslb_duration_parse(const char *text, gslb_duration_t *out)
{
	const char *s = text;
	uint64_t total = 0;
	bool neg = false;

	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	}
	if (strcmp(s, "0") == 0) {
		*out = 0;
		return GSLB_EOK;
	}
	if (*s == '\0') {
		return GSLB_EINVAL;
	}
	while (*s != '\0') {
		uint64_t v = 0, frac = 0;
		double scale = 1;
		bool pre = false, post = false;

		if (!(*s == '.' || isdigit((unsigned char)*s))) {
			return GSLB_EINVAL;
		}
		for (; isdigit((unsigned char)*s); s++, pre = true) {
			if (v > (UINT64_C(1) << 63) / 10) {
				return GSLB_ERANGE;
			}
			v = v * 10 + (uint64_t)(*s - '0');
			if (v > UINT64_C(1) << 63) {
				return GSLB_ERANGE;
			}
		}
		if (*s == '.') {
			s++;
			bool overflow = false;
			for (; isdigit((unsigned char)*s); s++, post = true) {
				if (overflow || frac > (UINT64_MAX - 9) / 10) {
					overflow =
						true; /* extra digits: ignore */
					continue;
				}
				frac = frac * 10 + (uint64_t)(*s - '0');
				scale *= 10;
			}
		}
		if (!pre && !post) {
			return GSLB_EINVAL;
		}
		size_t ulen = 0;
		while (s[ulen] != '\0' && s[ulen] != '.' &&
		       !isdigit((unsigned char)s[ulen])) {
			ulen++;
		}
		gslb_duration_t unit = 0;
		for (size_t i = 0; i < GSLB_ARRAY_SIZE(duration_units); i++) {
			if (strlen(duration_units[i].name) == ulen &&
			    strncmp(s, duration_units[i].name, ulen) == 0) {
				unit = duration_units[i].ns;
			}
		}
		if (unit == 0) {
			return GSLB_EINVAL;
		}
		s += ulen;
		if (v > (UINT64_C(1) << 63) / (uint64_t)unit) {
			return GSLB_ERANGE;
		}
		v *= (uint64_t)unit;
		if (frac > 0) {
			v += (uint64_t)((double)frac * ((double)unit / scale));
			if (v > UINT64_C(1) << 63) {
				return GSLB_ERANGE;
			}
		}
		total += v;
		if (total > UINT64_C(1) << 63) {
			return GSLB_ERANGE;
		}
	}
	if (neg) {
		*out = total == UINT64_C(1) << 63 ? INT64_MIN
						  : -(gslb_duration_t)total;
		return GSLB_EOK;
	}
	if (total > INT64_MAX) {
		return GSLB_ERANGE;
	}
	*out = (gslb_duration_t)total;
	return GSLB_EOK;
}

/* Shortest exact form for messages: "1h", "90s", "100ms". */
static const char *dur_fmt(gslb_duration_t d, char buf[32])
{
	static const struct {
		const char *unit;
		gslb_duration_t ns;
	} units[] = { { "h", 3600 * GSLB_SEC }, { "m", 60 * GSLB_SEC },
		      { "s", GSLB_SEC },        { "ms", GSLB_MSEC },
		      { "us", GSLB_USEC },      { "ns", 1 } };

	if (d == 0) {
		return "0s";
	}
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(units); i++) {
		if (d % units[i].ns == 0) {
			snprintf(buf, 32, "%" PRId64 "%s", d / units[i].ns,
				 units[i].unit);
			break;
		}
	}
	return buf;
}

/* Decimal only: YAML 1.1 octal/hex/sexagesimal forms are refused. */
static int int_parse(const char *s, int64_t *v)
{
	const char *digits = s + (*s == '-' || *s == '+');
	if (!isdigit((unsigned char)*digits)) {
		return GSLB_EINVAL;
	}
	for (const char *p = digits; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p)) {
			return GSLB_EINVAL;
		}
	}
	errno = 0;
	*v = strtoll(s, NULL, 10);
	return errno == ERANGE ? GSLB_ERANGE : GSLB_EOK;
}

static int float_parse(const char *s, double *v)
{
	if (*s == '\0' || strspn(s, "0123456789.eE+-") != strlen(s)) {
		return GSLB_EINVAL;
	}
	char *end = NULL;
	errno = 0;
	*v = strtod(s, &end);
	if (*end != '\0' || end == s || errno == ERANGE || !isfinite(*v)) {
		return GSLB_EINVAL;
	}
	return GSLB_EOK;
}

static int bool_parse(const char *s, bool *v)
{
	static const char *const yes[] = { "true", "True", "TRUE", "y",
					   "Y",    "yes",  "Yes",  "YES",
					   "on",   "On",   "ON" };
	static const char *const no[] = { "false", "False", "FALSE", "n",
					  "N",     "no",    "No",    "NO",
					  "off",   "Off",   "OFF" };
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(yes); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*v = true;
			return GSLB_EOK;
		}
	}
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(no); i++) {
		if (strcmp(s, no[i]) == 0) {
			*v = false;
			return GSLB_EOK;
		}
	}
	return GSLB_EINVAL;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z') {
		return c - 'A';
	}
	if (c >= 'a' && c <= 'z') {
		return c - 'a' + 26;
	}
	if (c >= '0' && c <= '9') {
		return c - '0' + 52;
	}
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/*
 * Standard padded base64 as Go's base64.StdEncoding reads it (line breaks
 * skipped). Writes at most cap bytes but counts them all into *len; on
 * invalid input returns GSLB_EINVAL with *bad the offending input offset.
 */
static int b64_decode(const char *s, uint8_t *out, size_t cap, size_t *len,
		      size_t *bad)
{
	int quad[4];
	size_t pos[4];
	size_t nq = 0, pad = 0, i;

	*len = 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '\r' || s[i] == '\n') {
			continue;
		}
		if (pad > 0 && nq == 0) {
			*bad = i; /* data after the padding */
			return GSLB_EINVAL;
		}
		if (s[i] == '=') {
			if (nq < 2 ||
			    (pad == 0 && nq == 2 && s[i + 1] != '=')) {
				*bad = i;
				return GSLB_EINVAL;
			}
			pad++;
			quad[nq] = 0;
		} else {
			if (pad > 0 || b64_value(s[i]) < 0) {
				*bad = i;
				return GSLB_EINVAL;
			}
			quad[nq] = b64_value(s[i]);
		}
		pos[nq++] = i;
		if (nq == 4) {
			uint32_t v = (uint32_t)quad[0] << 18 |
				     (uint32_t)quad[1] << 12 |
				     (uint32_t)quad[2] << 6 | (uint32_t)quad[3];
			for (size_t k = 0; k < 3 - pad; k++) {
				if (*len < cap) {
					out[*len] =
						(uint8_t)(v >> (16 - 8 * k));
				}
				(*len)++;
			}
			nq = 0;
		}
	}
	if (nq != 0) {
		*bad = pos[0];
		return GSLB_EINVAL;
	}
	return GSLB_EOK;
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[65];

	if (la > 64 || lb > 64) {
		return SIZE_MAX;
	}
	for (size_t j = 0; j <= lb; j++) {
		row[j] = j;
	}
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best) {
				best = up + 1;
			}
			if (row[j - 1] + 1 < best) {
				best = row[j - 1] + 1;
			}
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* ------------------------------------------------------------------------ */
/* Schema                                                                   */

enum kind {
	K_STR,      /* char *; "" is the same as unset */
	K_NAME,     /* char *, a DNS name, normalized */
	K_HOSTPORT, /* char *, "host:port" (host may be empty) */
	K_PATH,     /* char *, an absolute file system path */
	K_BOOL,     /* bool */
	K_UINT,     /* unsigned integer of .size bytes in .min...max */
	K_DUR,      /* gslb_duration_t in .min...max */
	K_DUR_SEC,  /* uint32_t seconds, from a whole-second duration */
	K_FLOAT,    /* double in .fmin...fmax */
	K_SECTION,  /* mapping walked with .sub over base + .off */
	K_FN,       /* .fn decodes the value itself */
};

enum {
	F_OW = 1 << 0,      /* only in overwatch mode */
	F_AGENT = 1 << 1,   /* only in agent mode */
	F_INC = 1 << 2,     /* allowed in an included file */
	F_PERCENT = 1 << 3, /* K_FLOAT: refuse fractions such as 0.85 */
	F_SECRET = 1 << 4,  /* K_STR: refuse the sample configs' placeholder */
};

struct item;
typedef void (*item_fn)(struct cfg_loader *ld, const struct cfg_node *node,
			void *base, const char *path);

struct item {
	const char *name;
	enum kind kind;
	unsigned flags;
	size_t off;
	size_t size;
	int64_t min, max; /* K_UINT, K_DUR, K_DUR_SEC; K_STR: min length */
	double fmin, fmax;
	const struct item *sub;
	item_fn fn;   /* K_FN */
	item_fn post; /* K_SECTION: runs after the walk, on the same base */
};

#define FIELD(T, f) .off = offsetof(T, f), .size = sizeof(((T *)0)->f)
#define STR(n, T, f)                                  \
	{                                             \
		.name = n, .kind = K_STR, FIELD(T, f) \
	}
#define NAME(n, T, f)                                  \
	{                                              \
		.name = n, .kind = K_NAME, FIELD(T, f) \
	}
#define HOSTPORT(n, T, f)                                  \
	{                                                  \
		.name = n, .kind = K_HOSTPORT, FIELD(T, f) \
	}
#define PATHNAME(n, T, f)                              \
	{                                              \
		.name = n, .kind = K_PATH, FIELD(T, f) \
	}
#define BOOL(n, T, f)                                  \
	{                                              \
		.name = n, .kind = K_BOOL, FIELD(T, f) \
	}
#define UINT(n, T, f, lo, hi)                                                \
	{                                                                    \
		.name = n, .kind = K_UINT, FIELD(T, f), .min = lo, .max = hi \
	}
#define DUR(n, T, f, lo)                                          \
	{                                                         \
		.name = n, .kind = K_DUR, FIELD(T, f), .min = lo, \
		.max = INT64_MAX                                  \
	}
#define DUR_SEC(n, T, f, lo)                                          \
	{                                                             \
		.name = n, .kind = K_DUR_SEC, FIELD(T, f), .min = lo, \
		.max = TTL_MAX                                        \
	}
#define FLOAT(n, T, f, lo, hi, fl)                                   \
	{                                                            \
		.name = n, .kind = K_FLOAT, FIELD(T, f), .fmin = lo, \
		.fmax = hi, .flags = fl                              \
	}
#define SECTION(n, fl, o, table, p)                                  \
	{                                                            \
		.name = n, .kind = K_SECTION, .flags = fl, .off = o, \
		.sub = table, .post = p                              \
	}
#define FN(n, fl, f)                                          \
	{                                                     \
		.name = n, .kind = K_FN, .flags = fl, .fn = f \
	}
#define END          \
	{            \
		NULL \
	}

static void walk_map(struct cfg_loader *ld, const struct cfg_node *node,
		     const struct item *table, void *base, const char *path);

/* Whether key i repeats an earlier key of the mapping. */
static bool map_dup(const struct cfg_node *map, size_t i)
{
	const struct cfg_node *key = cfg_map_key(map, i);
	for (size_t j = 0; j < i; j++) {
		const struct cfg_node *prev = cfg_map_key(map, j);
		if (prev->kind == CFG_NODE_SCALAR &&
		    strcmp(prev->text, key->text) == 0) {
			return true;
		}
	}
	return false;
}

static void unknown_key(struct cfg_loader *ld, const struct cfg_node *key,
			const struct item *table, const char *path)
{
	const char *best = NULL;
	size_t best_d = 3;

	for (const struct item *it = table; it->name != NULL; it++) {
		size_t d = edit_distance(key->text, it->name);
		if (d < best_d) {
			best_d = d;
			best = it->name;
		}
	}
	if (best != NULL) {
		cfg_err_at(ld, key, path,
			   "unknown key \"%s\" (did you mean \"%s\"?)",
			   key->text, best);
	} else {
		cfg_err_at(ld, key, path, "unknown key \"%s\"", key->text);
	}
}

static void decode_str(struct cfg_loader *ld, const struct item *it,
		       const struct cfg_node *node, char **field,
		       const char *path)
{
	const char *text = cfg_scalar(ld, node, path, "a string");
	if (text == NULL) {
		return;
	}
	size_t len = strlen(text);
	if (len == 0) {
		set_str(field, NULL);
		return;
	}
	if (it->min > 0 && len < (size_t)it->min) {
		cfg_err_at(ld, node, path,
			   "%s must be at least %" PRId64 " characters",
			   it->name, it->min);
	}
	if (it->max > 0 && len > (size_t)it->max) {
		cfg_err_at(ld, node, path,
			   "%s must be at most %" PRId64 " characters",
			   it->name, it->max);
	}
	if (it->flags & F_SECRET) {
		secret_check(ld, node, path, text, len, TOKEN_HINT);
	}
	set_str(field, cfg_strdup(ld, text));
}

static void decode_name(struct cfg_loader *ld, const struct item *it,
			const struct cfg_node *node, char **field,
			const char *path)
{
	char buf[64];
	const char *text = cfg_scalar(ld, node, path, "a DNS name");
	if (text == NULL || *text == '\0') {
		return;
	}
	char *name = cfg_name_normalize(ld, text);
	if (name == NULL) {
		return;
	}
	const char *problem = cfg_name_problem(name, buf);
	if (problem != NULL) {
		cfg_err_at(ld, node, path,
			   "%s \"%s\": not a valid DNS name (%s)", it->name,
			   text, problem);
	}
	/* Kept even when invalid, so that lookups do not cascade. */
	set_str(field, name);
}

/* Checks "host:port" for a listener or a peer; host may be a name. */
static bool hostport_ok(struct cfg_loader *ld, const struct cfg_node *node,
			const char *path, const char *what, const char *text,
			bool need_host)
{
	char *host = NULL;
	uint16_t port;
	char buf[64];

	int ret = gslb_hostport_split(text, &host, &port);
	if (ret == GSLB_ERANGE) {
		cfg_err_at(ld, node, path,
			   "%s \"%s\": port must be between 1 and 65535", what,
			   text);
		return false;
	}
	if (ret != GSLB_EOK) {
		cfg_err_at(
			ld, node, path,
			"%s \"%s\": must be host:port, e.g. \"127.0.0.1:8080\" "
			"or \"[::1]:8080\"",
			what, text);
		return false;
	}
	struct gslb_ip ip;
	bool ok = true;
	if (*host == '\0') {
		if (need_host) {
			cfg_err_at(ld, node, path, "%s \"%s\": host is missing",
				   what, text);
			ok = false;
		}
	} else if (gslb_ip_parse(host, &ip) != GSLB_EOK &&
		   cfg_name_problem(host, buf) != NULL) {
		cfg_err_at(
			ld, node, path,
			"%s \"%s\": host must be an IP address or a host name",
			what, text);
		ok = false;
	}
	free(host);
	return ok;
}

static void decode_uint(struct cfg_loader *ld, const struct item *it,
			const struct cfg_node *node, void *field,
			const char *path)
{
	const char *text = cfg_scalar(ld, node, path, "an integer");
	if (text == NULL) {
		return;
	}
	int64_t v = 0;
	int ret = int_parse(text, &v);
	if (ret == GSLB_EINVAL) {
		cfg_err_type(ld, node, path, "an integer");
		return;
	}
	if (ret != GSLB_EOK || v < it->min || v > it->max) {
		cfg_err_at(ld, node, path,
			   "%s must be between %" PRId64 " and %" PRId64
			   " (got %s)",
			   it->name, it->min, it->max, text);
		return;
	}
	switch (it->size) {
	case 1:
		*(uint8_t *)field = (uint8_t)v;
		break;
	case 2:
		*(uint16_t *)field = (uint16_t)v;
		break;
	case 4:
		*(uint32_t *)field = (uint32_t)v;
		break;
	default:
		*(uint64_t *)field = (uint64_t)v;
		break;
	}
}

/* A duration in [lo, hi], or false after an error. */
static bool dur_value(struct cfg_loader *ld, const struct cfg_node *node,
		      const char *path, const char *name, gslb_duration_t lo,
		      gslb_duration_t hi, gslb_duration_t *out)
{
	char a[32], b[32];
	const char *text = cfg_scalar(ld, node, path, "a duration");
	if (text == NULL) {
		return false;
	}
	int ret = gslb_duration_parse(text, out);
	if (ret == GSLB_EINVAL) {
		cfg_err_at(ld, node, path,
			   "expected a duration such as \"30s\" or \"1m30s\", "
			   "found \"%s\"",
			   text);
		return false;
	}
	if (ret != GSLB_EOK) {
		cfg_err_at(ld, node, path, "%s \"%s\" is too large", name,
			   text);
		return false;
	}
	if (*out < lo || *out > hi) {
		if (hi == INT64_MAX) {
			cfg_err_at(ld, node, path,
				   "%s must be at least %s (got %s)", name,
				   dur_fmt(lo, a), text);
		} else {
			cfg_err_at(ld, node, path,
				   "%s must be between %s and %s (got %s)",
				   name, dur_fmt(lo, a), dur_fmt(hi, b), text);
		}
		return false;
	}
	return true;
}

static void decode_float(struct cfg_loader *ld, const struct item *it,
			 const struct cfg_node *node, double *field,
			 const char *path)
{
	const char *text = cfg_scalar(ld, node, path, "a number");
	double v;
	if (text == NULL) {
		return;
	}
	if (float_parse(text, &v) != GSLB_EOK) {
		cfg_err_type(ld, node, path, "a number");
		return;
	}
	if (v < it->fmin || v > it->fmax) {
		cfg_err_at(ld, node, path,
			   "%s must be between %g and %g (got %s)", it->name,
			   it->fmin, it->fmax, text);
		return;
	}
	if ((it->flags & F_PERCENT) && v > 0 && v <= 1) {
		cfg_err_at(ld, node, path,
			   "%s %s looks like a fraction: thresholds are "
			   "percentages (e.g. 85, not 0.85)",
			   it->name, text);
		return;
	}
	*field = v;
}

static void decode(struct cfg_loader *ld, const struct item *it,
		   const struct cfg_node *node, void *base, const char *path)
{
	void *field = (char *)base + it->off;
	const char *text;
	gslb_duration_t d;

	switch (it->kind) {
	case K_STR:
		decode_str(ld, it, node, field, path);
		break;
	case K_NAME:
		decode_name(ld, it, node, field, path);
		break;
	case K_HOSTPORT:
		text = cfg_scalar(ld, node, path, "a host:port string");
		if (text != NULL &&
		    hostport_ok(ld, node, path, it->name, text, false)) {
			set_str(field, cfg_strdup(ld, text));
		}
		break;
	case K_PATH:
		text = cfg_scalar(ld, node, path, "a path");
		if (text != NULL && text[0] != '/') {
			cfg_err_at(ld, node, path,
				   "%s \"%s\": must be an absolute path",
				   it->name, text);
		} else if (text != NULL) {
			set_str(field, cfg_strdup(ld, text));
		}
		break;
	case K_BOOL:
		text = cfg_scalar(ld, node, path, "a boolean (true or false)");
		if (text != NULL && bool_parse(text, field) != GSLB_EOK) {
			cfg_err_type(ld, node, path,
				     "a boolean (true or false)");
		}
		break;
	case K_UINT:
		decode_uint(ld, it, node, field, path);
		break;
	case K_DUR:
		if (dur_value(ld, node, path, it->name, it->min, it->max, &d)) {
			*(gslb_duration_t *)field = d;
		}
		break;
	case K_DUR_SEC:
		/* SOA timers: plain seconds as in zone files, or a duration. */
		if (node->kind == CFG_NODE_SCALAR && node->text[0] != '\0' &&
		    strspn(node->text, "0123456789") == strlen(node->text)) {
			decode_uint(ld, it, node, field, path);
			break;
		}
		if (!dur_value(ld, node, path, it->name, it->min * GSLB_SEC,
			       it->max * GSLB_SEC, &d)) {
			break;
		}
		if (d % GSLB_SEC != 0) {
			cfg_err_at(
				ld, node, path,
				"%s must be a whole number of seconds (got %s)",
				it->name, node->text);
			break;
		}
		*(uint32_t *)field = (uint32_t)(d / GSLB_SEC);
		break;
	case K_FLOAT:
		decode_float(ld, it, node, field, path);
		break;
	case K_SECTION:
		walk_map(ld, node, it->sub, field, path);
		if (it->post != NULL && node->kind == CFG_NODE_MAP) {
			it->post(ld, node, field, path);
		}
		break;
	case K_FN:
		it->fn(ld, node, base, path);
		break;
	}
}

#define ONLY_IN_INCLUDES                                               \
	"only includes, regions, domains, overwatch.agent_tokens and " \
	"agent.backends are allowed in included files"

static void walk_map(struct cfg_loader *ld, const struct cfg_node *node,
		     const struct item *table, void *base, const char *path)
{
	char kpath[CFG_PATH_LEN];

	if (cfg_node_is_null(node)) {
		return;
	}
	if (node->kind != CFG_NODE_MAP) {
		cfg_err_type(ld, node, path, "a mapping");
		return;
	}
	for (size_t i = 0; i < cfg_map_len(node); i++) {
		const struct cfg_node *key = cfg_map_key(node, i);
		const struct cfg_node *val = cfg_map_val(node, i);
		if (key->kind != CFG_NODE_SCALAR) {
			continue; /* reported by the parser */
		}
		cfg_path_key(kpath, path, key->text);
		if (map_dup(node, i)) {
			cfg_err_at(ld, key, kpath, "duplicate key \"%s\"",
				   key->text);
			continue;
		}
		const struct item *it = table;
		while (it->name != NULL && strcmp(it->name, key->text) != 0) {
			it++;
		}
		if (it->name == NULL) {
			unknown_key(ld, key, table, kpath);
			continue;
		}
		if ((it->flags & F_OW) && ld->mode != GSLB_MODE_OVERWATCH) {
			cfg_err_at(ld, key, kpath,
				   "used only by gslb-overwatchd (mode: "
				   "overwatch), not in a gslb-agentd config");
			continue;
		}
		if ((it->flags & F_AGENT) && ld->mode != GSLB_MODE_AGENT) {
			cfg_err_at(ld, key, kpath,
				   "used only by gslb-agentd (mode: agent), "
				   "not in "
				   "a gslb-overwatchd config");
			continue;
		}
		if (ld->in_include && !(it->flags & F_INC)) {
			cfg_err_at(ld, key, kpath, ONLY_IN_INCLUDES);
			continue;
		}
		if (cfg_node_is_null(val)) {
			continue; /* same as leaving the key out */
		}
		/* Inside an allowed list, every key of its entries is fine. */
		bool in_include = ld->in_include;
		if (it->kind == K_FN && (it->flags & F_INC)) {
			ld->in_include = false;
		}
		decode(ld, it, val, base, kpath);
		ld->in_include = in_include;
	}
}

/* ------------------------------------------------------------------------ */
/* Shared item decoders                                                     */

static void fn_nothing(struct cfg_loader *ld, const struct cfg_node *node,
		       void *base, const char *path)
{
	/* mode and includes are read before the walk */
}

static void fn_log_level(struct cfg_loader *ld, const struct cfg_node *node,
			 void *base, const char *path)
{
	struct gslb_config *cfg = base;
	const char *text = cfg_scalar(ld, node, path, "a string");
	if (text != NULL &&
	    gslb_log_level_parse(text, &cfg->logging.level) != GSLB_EOK) {
		cfg_err_at(
			ld, node, path,
			"invalid level \"%s\": must be debug, info, warn, or "
			"error",
			text);
	}
}

static void fn_log_format(struct cfg_loader *ld, const struct cfg_node *node,
			  void *base, const char *path)
{
	struct gslb_config *cfg = base;
	const char *text = cfg_scalar(ld, node, path, "a string");
	if (text != NULL &&
	    gslb_log_format_parse(text, &cfg->logging.format) != GSLB_EOK) {
		cfg_err_at(ld, node, path,
			   "invalid format \"%s\": must be text or json", text);
	}
}

static void fn_log_output(struct cfg_loader *ld, const struct cfg_node *node,
			  void *base, const char *path)
{
	struct gslb_config *cfg = base;
	const char *text = cfg_scalar(ld, node, path, "a string");
	if (text != NULL &&
	    gslb_log_output_parse(text, &cfg->logging.output) != GSLB_EOK) {
		cfg_err_at(ld, node, path,
			   "invalid output \"%s\": must be stderr or syslog",
			   text);
	}
}

static void fn_log_facility(struct cfg_loader *ld, const struct cfg_node *node,
			    void *base, const char *path)
{
	struct gslb_config *cfg = base;
	const char *text = cfg_scalar(ld, node, path, "a string");
	if (text != NULL &&
	    gslb_log_facility_parse(text, &cfg->logging.facility) != GSLB_EOK) {
		cfg_err_at(ld, node, path,
			   "invalid facility \"%s\": must be daemon, user or "
			   "local0 to local7",
			   text);
	}
}

static void key_decode(struct cfg_loader *ld, const struct cfg_node *node,
		       const char *path, uint8_t key[GSLB_GOSSIP_KEY_LEN],
		       bool *key_set)
{
	const char *text = cfg_scalar(ld, node, path, "a base64 string");
	size_t len = 0, bad = 0;
	if (text == NULL) {
		return;
	}
	if (b64_decode(text, key, GSLB_GOSSIP_KEY_LEN, &len, &bad) !=
	    GSLB_EOK) {
		cfg_err_at(
			ld, node, path,
			"encryption_key must be valid base64: illegal base64 "
			"data at input byte %zu",
			bad);
	} else if (len != GSLB_GOSSIP_KEY_LEN) {
		cfg_err_at(ld, node, path,
			   "encryption_key must be exactly %d bytes (got %zu). "
			   "Ensure you're using a 256-bit key. " KEY_HINT,
			   GSLB_GOSSIP_KEY_LEN, len);
	} else if (secret_is_placeholder(key, len)) {
		secret_check(ld, node, path, key, len,
			     "openssl rand -base64 32");
	} else {
		*key_set = true;
		return;
	}
	memset(key, 0, GSLB_GOSSIP_KEY_LEN);
}

static void fn_check_type(struct cfg_loader *ld, const struct cfg_node *node,
			  void *base, const char *path)
{
	struct gslb_health_check *hc = base;
	const char *text = cfg_scalar(ld, node, path, "a string");
	if (text == NULL) {
		return;
	}
	for (int t = GSLB_CHECK_HTTP; t <= GSLB_CHECK_TCP; t++) {
		if (strcasecmp(text, gslb_check_type_name(t)) == 0) {
			hc->type = t;
			return;
		}
	}
	cfg_err_at(ld, node, path, "type \"%s\": must be http, https, or tcp",
		   text);
}

/* Text that goes into an HTTP request line or header as it is. */
static bool http_text_ok(const char *text)
{
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p <= ' ' || *p == 0x7f) {
			return false;
		}
	}
	return true;
}

static void fn_check_path(struct cfg_loader *ld, const struct cfg_node *node,
			  void *base, const char *path)
{
	struct gslb_health_check *hc = base;
	const char *text = cfg_scalar(ld, node, path, "a string");
	if (text == NULL) {
		return;
	}
	if (text[0] != '/') {
		cfg_err_at(ld, node, path, "path \"%s\": must start with \"/\"",
			   text);
		return;
	}
	if (!http_text_ok(text)) {
		cfg_err_at(ld, node, path,
			   "path \"%s\": spaces and control characters must "
			   "be percent-encoded",
			   text);
		return;
	}
	set_str(&hc->path, cfg_strdup(ld, text));
}

/* Host header and TLS name of health checks. */
static void decode_host(struct cfg_loader *ld, const struct cfg_node *node,
			const char *path, char **field)
{
	const char *text = cfg_scalar(ld, node, path, "a host name");
	if (text == NULL) {
		return;
	}
	if (text[0] == '\0' || !http_text_ok(text)) {
		cfg_err_at(ld, node, path,
			   "host \"%s\": must be a host name, without spaces "
			   "or control characters",
			   text);
		return;
	}
	set_str(field, cfg_strdup(ld, text));
}

static void fn_check_host(struct cfg_loader *ld, const struct cfg_node *node,
			  void *base, const char *path)
{
	decode_host(ld, node, path, &((struct gslb_health_check *)base)->host);
}

static void fn_server_host(struct cfg_loader *ld, const struct cfg_node *node,
			   void *base, const char *path)
{
	decode_host(ld, node, path, &((struct gslb_server *)base)->host);
}

/* `timeout` must be less than `interval`, as a check must end in time. */
static void timeout_vs_interval(struct cfg_loader *ld,
				const struct cfg_node *map, const char *path,
				const char *tkey, gslb_duration_t timeout,
				const char *ikey, gslb_duration_t interval)
{
	char a[32], b[32], kpath[CFG_PATH_LEN];
	if (timeout < interval) {
		return;
	}
	const struct cfg_node *at = cfg_map_get(map, tkey);
	const char *key = tkey;
	if (at == NULL || cfg_node_is_null(at)) {
		at = cfg_map_get(map, ikey);
		key = ikey;
	}
	cfg_path_key(kpath, path, key);
	cfg_err_at(ld, at != NULL ? at : map, kpath,
		   "%s (%s) must be less than %s (%s)", tkey,
		   dur_fmt(timeout, a), ikey, dur_fmt(interval, b));
}

/* "200", 200 or "200-299"; 0 when the text is none of those. */
static bool parse_status_range(const char *text, struct gslb_status_range *r)
{
	char *end;
	errno = 0;
	unsigned long first = strtoul(text, &end, 10);
	unsigned long last = first;
	if (end == text || errno != 0) {
		return false;
	}
	if (*end == '-') {
		const char *from = end + 1;
		last = strtoul(from, &end, 10);
		if (end == from || errno != 0) {
			return false;
		}
	}
	if (*end != '\0' || first < 100 || last > 599 || first > last) {
		return false;
	}
	r->first = (uint16_t)first;
	r->last = (uint16_t)last;
	return true;
}

static void fn_expected_status(struct cfg_loader *ld,
			       const struct cfg_node *node, void *base,
			       const char *path)
{
	struct gslb_health_check *hc = base;
	char ipath[CFG_PATH_LEN];

	if (!cfg_is_seq(
		    ld, node, path,
		    "a list of status codes or ranges (200, \"200-399\")")) {
		return;
	}
	free(hc->expected_status);
	hc->expected_status = NULL;
	hc->n_expected_status = 0;
	for (size_t i = 0; i < node->n_kids; i++) {
		cfg_path_idx(ipath, path, i);
		const char *text = cfg_item_text(ld, node->kids[i], ipath,
						 "a status code or range");
		struct gslb_status_range r;
		if (text == NULL) {
			continue;
		}
		if (!parse_status_range(text, &r)) {
			cfg_err_at(ld, node->kids[i], ipath,
				   "status \"%s\": expected a code 100-599 "
				   "or a range such as \"200-399\"",
				   text);
			continue;
		}
		struct gslb_status_range *slot = VEC_PUSH(
			ld, hc->expected_status, hc->n_expected_status);
		if (slot != NULL) {
			*slot = r;
		}
	}
}

/* key is set in map although the check type does not use it. */
static void unused_key(struct cfg_loader *ld, const struct cfg_node *map,
		       const char *path, const char *key, const char *types)
{
	const struct cfg_node *n = cfg_map_get(map, key);
	char kpath[CFG_PATH_LEN];
	if (n != NULL && !cfg_node_is_null(n)) {
		cfg_path_key(kpath, path, key);
		cfg_err_at(ld, n, kpath, "%s is used only by %s checks", key,
			   types);
	}
}

static void post_check(struct cfg_loader *ld, const struct cfg_node *node,
		       void *base, const char *path)
{
	struct gslb_health_check *hc = base;

	if (hc->type == GSLB_CHECK_TCP) {
		static const char *const http_only[] = { "path",
							 "expected_status",
							 "expected_body" };
		for (size_t i = 0; i < sizeof(http_only) / sizeof(*http_only);
		     i++) {
			unused_key(ld, node, path, http_only[i],
				   "http and https");
		}
		set_str(&hc->path, NULL);
	}
	if (hc->type != GSLB_CHECK_HTTPS) {
		unused_key(ld, node, path, "tls_ca_file", "https");
		unused_key(ld, node, path, "tls_skip_verify", "https");
	}
	timeout_vs_interval(ld, node, path, "timeout", hc->timeout, "interval",
			    hc->interval);
}

static const struct item check_items[] = {
	FN("type", 0, fn_check_type),
	DUR("interval", struct gslb_health_check, interval, GSLB_SEC),
	DUR("timeout", struct gslb_health_check, timeout, 100 * GSLB_MSEC),
	FN("path", 0, fn_check_path),
	FN("host", 0, fn_check_host),
	UINT("failure_threshold", struct gslb_health_check, failure_threshold,
	     1, 100),
	UINT("success_threshold", struct gslb_health_check, success_threshold,
	     1, 100),
	FN("expected_status", 0, fn_expected_status),
	STR("expected_body", struct gslb_health_check, expected_body),
	PATHNAME("tls_ca_file", struct gslb_health_check, tls_ca_file),
	BOOL("tls_skip_verify", struct gslb_health_check, tls_skip_verify),
	END,
};

static void check_init(struct cfg_loader *ld, struct gslb_health_check *hc)
{
	hc->type = GSLB_CHECK_HTTP;
	hc->interval = 30 * GSLB_SEC;
	hc->timeout = 5 * GSLB_SEC;
	hc->path = cfg_strdup(ld, "/health");
	hc->failure_threshold = 3;
	hc->success_threshold = 2;
}

void cfg_check_clear(struct gslb_health_check *hc)
{
	free(hc->path);
	free(hc->host);
	free(hc->expected_status);
	free(hc->expected_body);
	free(hc->tls_ca_file);
}

/* ------------------------------------------------------------------------ */
/* logging, metrics, api                                                    */

static void fn_allowed_networks(struct cfg_loader *ld,
				const struct cfg_node *node, void *base,
				const char *path)
{
	struct gslb_config *cfg = base;
	char ipath[CFG_PATH_LEN];

	if (!cfg_is_seq(ld, node, path, "a list of CIDR prefixes")) {
		return;
	}
	if (node->n_kids == 0) {
		cfg_err_at(
			ld, node, path,
			"at least one network required (the API would refuse "
			"every client)");
		return;
	}
	free(cfg->api.allowed_networks);
	cfg->api.allowed_networks = NULL;
	cfg->api.n_allowed_networks = 0;
	for (size_t i = 0; i < node->n_kids; i++) {
		cfg_path_idx(ipath, path, i);
		const char *text = cfg_item_text(ld, node->kids[i], ipath,
						 "a CIDR prefix");
		struct gslb_cidr cidr;
		if (text == NULL) {
			continue;
		}
		if (gslb_cidr_parse(text, &cidr) != GSLB_EOK) {
			cfg_err_at(ld, node->kids[i], ipath,
				   "invalid CIDR \"%s\"", text);
			continue;
		}
		struct gslb_cidr *slot = VEC_PUSH(ld, cfg->api.allowed_networks,
						  cfg->api.n_allowed_networks);
		if (slot != NULL) {
			*slot = cidr;
		}
	}
}

/* name: token. Tokens are secrets: the messages never quote them. */
static void fn_api_tokens(struct cfg_loader *ld, const struct cfg_node *node,
			  void *base, const char *path)
{
	struct gslb_config *cfg = base;
	char kpath[CFG_PATH_LEN];

	if (node->kind != CFG_NODE_MAP) {
		cfg_err_type(ld, node, path, "a mapping of name to token");
		return;
	}
	for (size_t i = 0; i < cfg_map_len(node); i++) {
		const struct cfg_node *key = cfg_map_key(node, i);
		const struct cfg_node *val = cfg_map_val(node, i);
		if (key->kind != CFG_NODE_SCALAR) {
			continue;
		}
		cfg_path_key(kpath, path, key->text);
		if (map_dup(node, i)) {
			cfg_err_at(ld, key, kpath, "duplicate key \"%s\"",
				   key->text);
			continue;
		}
		if (key->text[0] == '\0' ||
		    strspn(key->text,
			   "abcdefghijklmnopqrstuvwxyz"
			   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@") !=
			    strlen(key->text)) {
			cfg_err_at(ld, key, kpath,
				   "token name \"%s\": use letters, digits and "
				   "-_.@ only",
				   key->text);
			continue;
		}
		const char *token =
			cfg_item_text(ld, val, kpath, "a token string");
		if (token == NULL) {
			continue;
		}
		bool printable = true;
		for (const char *c = token; *c != '\0'; c++) {
			printable &= *c > ' ' && *c < 0x7f;
		}
		if (strlen(token) < 16 || !printable) {
			cfg_err_at(ld, val, kpath,
				   "token must be at least 16 printable "
				   "characters without spaces");
			continue;
		}
		secret_check(ld, val, kpath, token, strlen(token), TOKEN_HINT);
		bool dup = false;
		for (size_t j = 0; j < cfg->api.n_tokens; j++) {
			dup |= strcmp(cfg->api.tokens[j].token, token) == 0;
		}
		if (dup) {
			cfg_err_at(ld, val, kpath,
				   "the same token is given another name: each "
				   "name needs its own token");
			continue;
		}
		struct gslb_api_token *t =
			VEC_PUSH(ld, cfg->api.tokens, cfg->api.n_tokens);
		if (t == NULL) {
			return;
		}
		t->name = cfg_strdup(ld, key->text);
		t->token = cfg_strdup(ld, token);
	}
}

/* An absolute path that fits a sockaddr_un, or "" for no socket. */
static void fn_api_socket(struct cfg_loader *ld, const struct cfg_node *node,
			  void *base, const char *path)
{
	struct gslb_config *cfg = base;
	const struct sockaddr_un *sun = NULL;
	const char *text = cfg_scalar(ld, node, path, "a path");
	if (text == NULL) {
		return;
	}
	if (text[0] != '\0' && text[0] != '/') {
		cfg_err_at(ld, node, path,
			   "socket \"%s\": must be an absolute path (or \"\" "
			   "for no socket)",
			   text);
		return;
	}
	if (strlen(text) >= sizeof(sun->sun_path)) {
		cfg_err_at(ld, node, path,
			   "socket path is %zu characters; at most %zu fit",
			   strlen(text), sizeof(sun->sun_path) - 1);
		return;
	}
	free(cfg->api.socket);
	cfg->api.socket = text[0] != '\0' ? cfg_strdup(ld, text) : NULL;
}

static const struct item logging_items[] = {
	FN("level", 0, fn_log_level),
	FN("format", 0, fn_log_format),
	FN("output", 0, fn_log_output),
	FN("facility", 0, fn_log_facility),
	END,
};

/* Names only: whether they exist is for the start, not for the check. */
static const struct item process_items[] = {
	{ .name = "user",
	  .kind = K_STR,
	  FIELD(struct gslb_config, process.user),
	  .max = 32 },
	{ .name = "group",
	  .kind = K_STR,
	  FIELD(struct gslb_config, process.group),
	  .max = 32 },
	END,
};

static const struct item metrics_items[] = {
	BOOL("enabled", struct gslb_config, metrics.enabled),
	HOSTPORT("address", struct gslb_config, metrics.address),
	END,
};

static const struct item api_items[] = {
	BOOL("enabled", struct gslb_config, api.enabled),
	HOSTPORT("address", struct gslb_config, api.address),
	FN("allowed_networks", 0, fn_allowed_networks),
	BOOL("trust_proxy_headers", struct gslb_config,
	     api.trust_proxy_headers),
	FN("tokens", 0, fn_api_tokens),
	FN("socket", 0, fn_api_socket),
	END,
};

/* ------------------------------------------------------------------------ */
/* dns                                                                      */

bool cfg_ip_is_any(const struct gslb_ip *ip)
{
	for (unsigned i = 0; i < gslb_ip_len(ip); i++) {
		if (ip->addr[i] != 0) {
			return false;
		}
	}
	return true;
}

void cfg_sockaddr_ip(const struct gslb_sockaddr *sa, struct gslb_ip *ip,
		     uint16_t *port)
{
	memset(ip, 0, sizeof(*ip));
	if (sa->ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&sa->ss;
		ip->family = AF_INET;
		memcpy(ip->addr, &sin->sin_addr, 4);
		*port = ntohs(sin->sin_port);
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)&sa->ss;
		ip->family = AF_INET6;
		memcpy(ip->addr, &sin6->sin6_addr, 16);
		*port = ntohs(sin6->sin6_port);
	}
}

void cfg_listen_add(struct cfg_loader *ld, const struct cfg_node *node,
		    const char *path, const char *text,
		    const struct gslb_ip *ip, uint16_t port)
{
	struct gslb_dns_config *dns = &ld->cfg->dns;
	char buf[GSLB_IP_STRLEN];

	for (size_t i = 0; i < dns->n_listen; i++) {
		struct gslb_ip other;
		uint16_t oport;
		cfg_sockaddr_ip(&dns->listen[i], &other, &oport);
		if (other.family != ip->family || oport != port) {
			continue;
		}
		if (gslb_ip_equal(&other, ip)) {
			cfg_err_at(ld, node, path,
				   "duplicate listen address \"%s\"", text);
			return;
		}
		if (cfg_ip_is_any(&other) || cfg_ip_is_any(ip)) {
			cfg_err_at(
				ld, node, path,
				"listen address \"%s\" overlaps %s port %u: a "
				"wildcard address takes the whole port",
				text, gslb_ip_format(&other, buf),
				(unsigned)port);
			return;
		}
	}
	struct gslb_sockaddr *sa = VEC_PUSH(ld, dns->listen, dns->n_listen);
	if (sa != NULL) {
		gslb_sockaddr_from_ip(ip, port, sa);
	}
}

static void listen_one(struct cfg_loader *ld, const struct cfg_node *node,
		       const char *path)
{
	const char *text = cfg_item_text(ld, node, path, "a host:port string");
	char *host = NULL;
	uint16_t port;
	struct gslb_ip ip;

	if (text == NULL) {
		return;
	}
	int ret = gslb_hostport_split(text, &host, &port);
	if (ret != GSLB_EOK) {
		cfg_err_at(
			ld, node, path,
			ret == GSLB_ERANGE
				? "listen_address \"%s\": port must be between "
				  "1 and 65535"
				: "listen_address \"%s\": must be host:port, "
				  "e.g. \"127.0.0.1:53\", \"[::1]:53\" or "
				  "\":53\"",
			text);
		return;
	}
	if (*host == '\0') {
		struct gslb_ip any4 = { .family = AF_INET };
		struct gslb_ip any6 = { .family = AF_INET6 };
		cfg_listen_add(ld, node, path, text, &any4, port);
		cfg_listen_add(ld, node, path, text, &any6, port);
	} else if (gslb_ip_parse(host, &ip) == GSLB_EOK) {
		cfg_listen_add(ld, node, path, text, &ip, port);
	} else {
		cfg_err_at(
			ld, node, path,
			"listen_address \"%s\": host must be an IP address, or "
			"empty for all addresses (\":53\")",
			text);
	}
	free(host);
}

static void fn_listen(struct cfg_loader *ld, const struct cfg_node *node,
		      void *base, const char *path)
{
	struct gslb_dns_config *dns = &((struct gslb_config *)base)->dns;
	char ipath[CFG_PATH_LEN];
	const struct cfg_node *first = node;

	if (node->kind == CFG_NODE_SEQ) {
		if (node->n_kids == 0) {
			cfg_err_at(ld, node, path,
				   "at least one address required");
			return;
		}
		for (size_t i = 0; i < node->n_kids; i++) {
			cfg_path_idx(ipath, path, i);
			listen_one(ld, node->kids[i], ipath);
		}
		first = node->kids[0];
	} else if (node->kind == CFG_NODE_SCALAR) {
		listen_one(ld, node, path);
	} else {
		cfg_err_type(ld, node, path,
			     "a host:port string or a list of them");
		return;
	}
	if (first->kind == CFG_NODE_SCALAR) {
		set_str(&dns->listen_address, cfg_strdup(ld, first->text));
	}
}

static void fn_rname(struct cfg_loader *ld, const struct cfg_node *node,
		     void *base, const char *path)
{
	struct gslb_zone *zone = base;
	const char *text =
		cfg_scalar(ld, node, path, "a mailbox or a DNS name");
	char buf[64];
	if (text == NULL || *text == '\0') {
		return;
	}
	char *name = cfg_name_normalize(ld, text);
	if (name == NULL) {
		return;
	}
	/* "hostmaster@example.com" is the mailbox hostmaster.example.com */
	char *at = strchr(name, '@');
	if (at != NULL) {
		if (memchr(name, '.', (size_t)(at - name)) != NULL) {
			cfg_err_at(ld, node, path,
				   "rname \"%s\": the part before @ must not "
				   "contain dots",
				   text);
		}
		*at = '.';
	}
	const char *problem = cfg_name_problem(name, buf);
	if (problem != NULL) {
		cfg_err_at(ld, node, path,
			   "rname \"%s\": not a valid mailbox or DNS name (%s)",
			   text, problem);
	}
	set_str(&zone->soa.rname, name);
}

static void fn_ns_addresses(struct cfg_loader *ld, const struct cfg_node *node,
			    void *base, const char *path)
{
	struct gslb_nameserver *ns = base;
	char ipath[CFG_PATH_LEN];

	if (!cfg_is_seq(ld, node, path, "a list of IP addresses")) {
		return;
	}
	for (size_t i = 0; i < node->n_kids; i++) {
		struct gslb_ip ip;
		cfg_path_idx(ipath, path, i);
		const char *text = cfg_item_text(ld, node->kids[i], ipath,
						 "an IP address");
		if (text == NULL) {
			continue;
		}
		if (gslb_ip_parse(text, &ip) != GSLB_EOK) {
			cfg_err_at(ld, node->kids[i], ipath,
				   "address \"%s\": must be an IP address",
				   text);
			continue;
		}
		bool dup = false;
		for (size_t j = 0; j < ns->n_addrs; j++) {
			dup = dup || gslb_ip_equal(&ns->addrs[j], &ip);
		}
		if (dup) {
			cfg_err_at(ld, node->kids[i], ipath,
				   "duplicate address \"%s\"", text);
			continue;
		}
		struct gslb_ip *slot = VEC_PUSH(ld, ns->addrs, ns->n_addrs);
		if (slot != NULL) {
			*slot = ip;
		}
	}
}

static const struct item ns_items[] = {
	NAME("name", struct gslb_nameserver, name),
	FN("addresses", 0, fn_ns_addresses),
	END,
};

/* Every list entry gets a slot (even a bad one) so indices match. */
static void fn_nameservers(struct cfg_loader *ld, const struct cfg_node *node,
			   void *base, const char *path)
{
	struct gslb_zone *zone = base;
	char ipath[CFG_PATH_LEN];

	if (!cfg_is_seq(ld, node, path, "a list of name servers")) {
		return;
	}
	if (node->n_kids == 0) {
		cfg_err_at(
			ld, node, path,
			"at least one name server required (leave nameservers "
			"out for the default ns1.<zone>)");
		return;
	}
	for (size_t i = 0; i < node->n_kids; i++) {
		const struct cfg_node *item = node->kids[i];
		cfg_path_idx(ipath, path, i);
		struct gslb_nameserver *ns =
			VEC_PUSH(ld, zone->nameservers, zone->n_nameservers);
		if (ns == NULL) {
			return;
		}
		if (item->kind == CFG_NODE_MAP) {
			walk_map(ld, item, ns_items, ns, ipath);
			if (cfg_unset(item, "name")) {
				cfg_err_at(ld, item, ipath, "name is required");
			}
		} else if (item->kind == CFG_NODE_SCALAR &&
			   !cfg_node_is_null(item)) {
			static const struct item ns_name =
				NAME("name", struct gslb_nameserver, name);
			decode(ld, &ns_name, item, ns, ipath);
		} else {
			cfg_err_type(ld, item, ipath,
				     "a name server name or {name, addresses}");
		}
	}
}

static const struct item soa_items[] = {
	NAME("mname", struct gslb_zone, soa.mname),
	FN("rname", 0, fn_rname),
	UINT("serial", struct gslb_zone, soa.serial, 1, UINT32_MAX),
	DUR_SEC("refresh", struct gslb_zone, soa.refresh, 1),
	DUR_SEC("retry", struct gslb_zone, soa.retry, 1),
	DUR_SEC("expire", struct gslb_zone, soa.expire, 1),
	DUR_SEC("minimum", struct gslb_zone, soa.minimum, 0),
	END,
};

static const struct item zone_items[] = {
	NAME("name", struct gslb_zone, name),
	UINT("ttl", struct gslb_zone, ttl, 0, TTL_MAX),
	SECTION("soa", 0, 0, soa_items, NULL),
	FN("nameservers", 0, fn_nameservers),
	END,
};

/* Address rules that need the zone name, which may come after the list. */
static void zone_check_ns(struct cfg_loader *ld, const struct gslb_zone *zone,
			  const struct cfg_node *zone_node, const char *zpath)
{
	const struct cfg_node *list = cfg_map_get(zone_node, "nameservers");
	char ipath[CFG_PATH_LEN], npath[CFG_PATH_LEN];

	if (zone->name == NULL || list == NULL || list->kind != CFG_NODE_SEQ) {
		return;
	}
	cfg_path_key(npath, zpath, "nameservers");
	for (size_t i = 0; i < zone->n_nameservers && i < list->n_kids; i++) {
		const struct gslb_nameserver *ns = &zone->nameservers[i];
		cfg_path_idx(ipath, npath, i);
		if (ns->name == NULL) {
			continue;
		}
		for (size_t j = 0; j < i; j++) {
			if (zone->nameservers[j].name != NULL &&
			    strcmp(zone->nameservers[j].name, ns->name) == 0) {
				cfg_err_at(ld, list->kids[i], ipath,
					   "duplicate name server \"%s\"",
					   ns->name);
			}
		}
		bool inside = cfg_name_in(ns->name, zone->name);
		if (inside && cfg_unset(list->kids[i], "addresses")) {
			cfg_err_at(
				ld, list->kids[i], ipath,
				"\"%s\" is inside the zone and needs addresses "
				"(they are served as A/AAAA records)",
				ns->name);
		} else if (!inside && ns->n_addrs > 0) {
			cfg_err_at(ld, list->kids[i], ipath,
				   "\"%s\" is outside the zone: its addresses "
				   "are not served here, remove them",
				   ns->name);
		}
	}
}

static void fn_zones(struct cfg_loader *ld, const struct cfg_node *node,
		     void *base, const char *path)
{
	struct gslb_dns_config *dns = &((struct gslb_config *)base)->dns;
	char ipath[CFG_PATH_LEN];

	if (!cfg_is_seq(ld, node, path, "a list of zones")) {
		return;
	}
	for (size_t i = 0; i < node->n_kids; i++) {
		const struct cfg_node *item = node->kids[i];
		cfg_path_idx(ipath, path, i);
		bool is_map = item->kind == CFG_NODE_MAP;
		if (!is_map &&
		    (item->kind != CFG_NODE_SCALAR || cfg_node_is_null(item))) {
			cfg_err_type(ld, item, ipath,
				     "a zone name or a mapping");
			continue;
		}
		if (!cfg_vec_reserve(ld, &ld->zones, dns->n_zones,
				     sizeof(*ld->zones))) {
			return;
		}
		ld->zones[dns->n_zones].node = item;
		cfg_pfmt(ld->zones[dns->n_zones].path, sizeof(ld->zones->path),
			 "%s", ipath);
		struct gslb_zone *zone = VEC_PUSH(ld, dns->zones, dns->n_zones);
		if (zone == NULL) {
			return;
		}
		zone->ttl = 3600;
		zone->soa.serial = (uint32_t)time(NULL);
		zone->soa.refresh = 3600;
		zone->soa.retry = 600;
		zone->soa.expire = 1209600;
		zone->soa.minimum = 60;
		zone->pos = cfg_pos_of(ld, item);
		if (is_map) {
			walk_map(ld, item, zone_items, zone, ipath);
			if (cfg_unset(item, "name")) {
				cfg_err_at(ld, item, ipath, "name is required");
			}
			zone_check_ns(ld, zone, item, ipath);
		} else {
			decode(ld, &zone_items[0], item, zone, ipath);
		}
	}
}

static const struct item dns_items[] = {
	FN("listen_address", 0, fn_listen),
	UINT("default_ttl", struct gslb_config, dns.default_ttl, 0, TTL_MAX),
	BOOL("return_last_healthy", struct gslb_config,
	     dns.return_last_healthy),
	FN("zones", 0, fn_zones),
	UINT("workers", struct gslb_config, dns.workers, 0, 256),
	UINT("max_udp_payload", struct gslb_config, dns.max_udp_payload, 512,
	     4096),
	BOOL("nsid", struct gslb_config, dns.nsid),
	UINT("tcp_max_connections", struct gslb_config, dns.tcp_max_connections,
	     1, 65535),
	DUR("tcp_idle_timeout", struct gslb_config, dns.tcp_idle_timeout,
	    100 * GSLB_MSEC),
	END,
};

/* ------------------------------------------------------------------------ */
/* regions, domains                                                         */

static void fn_server_address(struct cfg_loader *ld,
			      const struct cfg_node *node, void *base,
			      const char *path)
{
	struct gslb_server *srv = base;
	const char *text = cfg_scalar(ld, node, path, "an IP address");
	if (text == NULL || *text == '\0') {
		return;
	}
	if (gslb_ip_parse(text, &srv->ip) != GSLB_EOK) {
		cfg_err_at(ld, node, path,
			   "address \"%s\": must be an IP address", text);
		return;
	}
	set_str(&srv->address, cfg_strdup(ld, text));
}

static const struct item server_items[] = {
	FN("address", 0, fn_server_address),
	UINT("port", struct gslb_server, port, 1, 65535),
	UINT("weight", struct gslb_server, weight, 0, 1000000),
	NAME("service", struct gslb_server, service),
	FN("host", 0, fn_server_host),
	END,
};

static void fn_servers(struct cfg_loader *ld, const struct cfg_node *node,
		       void *base, const char *path)
{
	struct gslb_region *region = base;
	char ipath[CFG_PATH_LEN];

	if (!cfg_is_seq(ld, node, path, "a list of servers")) {
		return;
	}
	if (node->n_kids == 0) {
		cfg_err_at(ld, node, path, "at least one server required");
	}
	for (size_t i = 0; i < node->n_kids; i++) {
		const struct cfg_node *item = node->kids[i];
		cfg_path_idx(ipath, path, i);
		struct gslb_server *srv =
			VEC_PUSH(ld, region->servers, region->n_servers);
		if (srv == NULL) {
			return;
		}
		srv->port = 80;
		srv->weight = 100;
		srv->pos = cfg_pos_of(ld, item);
		if (item->kind != CFG_NODE_MAP) {
			cfg_err_type(ld, item, ipath, "a mapping");
			continue;
		}
		walk_map(ld, item, server_items, srv, ipath);
		if (cfg_unset(item, "address")) {
			cfg_err_at(ld, item, ipath, "address is required");
		}
		if (cfg_unset(item, "service")) {
			cfg_err_at(
				ld, item, ipath,
				"service is required. Each server must specify "
				"which domain/service it belongs to. Example: "
				"service: webapp.example.com");
		}
	}
}

static const struct item region_items[] = {
	STR("name", struct gslb_region, name),
	FN("servers", 0, fn_servers),
	SECTION("health_check", 0, offsetof(struct gslb_region, health_check),
		check_items, post_check),
	END,
};

/* Records where merged list entry i was written. */
static bool ref_set(struct cfg_loader *ld, struct cfg_ref **refs, size_t i,
		    const struct cfg_node *node, const char *path)
{
	if (!cfg_vec_reserve(ld, refs, i, sizeof(**refs))) {
		return false;
	}
	(*refs)[i].node = node;
	cfg_pfmt((*refs)[i].path, sizeof((*refs)[i].path), "%s", path);
	return true;
}

static void fn_regions(struct cfg_loader *ld, const struct cfg_node *node,
		       void *base, const char *path)
{
	struct gslb_config *cfg = base;
	char ipath[CFG_PATH_LEN];

	if (!cfg_is_seq(ld, node, path, "a list of regions")) {
		return;
	}
	for (size_t i = 0; i < node->n_kids; i++) {
		const struct cfg_node *item = node->kids[i];
		cfg_path_idx(ipath, path, i);
		if (item->kind != CFG_NODE_MAP) {
			cfg_err_type(ld, item, ipath, "a mapping");
			continue;
		}
		if (!ref_set(ld, &ld->regions, cfg->n_regions, item, ipath)) {
			return;
		}
		struct gslb_region *region =
			VEC_PUSH(ld, cfg->regions, cfg->n_regions);
		if (region == NULL) {
			return;
		}
		check_init(ld, &region->health_check);
		region->pos = cfg_pos_of(ld, item);
		walk_map(ld, item, region_items, region, ipath);
		if (cfg_unset(item, "name")) {
			cfg_err_at(ld, item, ipath, "name is required");
		}
		if (cfg_map_get(item, "servers") == NULL ||
		    cfg_node_is_null(cfg_map_get(item, "servers"))) {
			cfg_err_at(ld, item, ipath,
				   "at least one server required");
		}
	}
}

static void fn_algorithm(struct cfg_loader *ld, const struct cfg_node *node,
			 void *base, const char *path)
{
	struct gslb_domain *dom = base;
	const char *text = cfg_scalar(ld, node, path, "a string");
	if (text == NULL) {
		return;
	}
	int ret = gslb_algorithm_parse(text, &dom->algorithm);
	if (ret == GSLB_ENOENT) {
		cfg_err_at(
			ld, node, path,
			"routing_algorithm \"%s\": not supported by this "
			"version (supported: round-robin, weighted, failover)",
			text);
	} else if (ret != GSLB_EOK) {
		cfg_err_at(ld, node, path,
			   "routing_algorithm \"%s\": must be round-robin, "
			   "weighted, or failover",
			   text);
	}
}

/* Every entry gets a slot (NULL when bad) so indices match the list. */
static void fn_domain_regions(struct cfg_loader *ld,
			      const struct cfg_node *node, void *base,
			      const char *path)
{
	struct gslb_domain *dom = base;
	char ipath[CFG_PATH_LEN];

	if (!cfg_is_seq(ld, node, path, "a list of region names")) {
		return;
	}
	if (node->n_kids == 0) {
		cfg_err_at(ld, node, path, "at least one region required");
		return;
	}
	for (size_t i = 0; i < node->n_kids; i++) {
		cfg_path_idx(ipath, path, i);
		const char *text = cfg_item_text(ld, node->kids[i], ipath,
						 "a region name");
		char **slot = VEC_PUSH(ld, dom->regions, dom->n_regions);
		if (slot == NULL) {
			return;
		}
		if (text == NULL) {
			continue;
		}
		for (size_t j = 0; j + 1 < dom->n_regions; j++) {
			if (dom->regions[j] != NULL &&
			    strcmp(dom->regions[j], text) == 0) {
				cfg_err_at(ld, node->kids[i], ipath,
					   "region \"%s\" listed twice", text);
				text = NULL;
				break;
			}
		}
		if (text != NULL) {
			*slot = cfg_strdup(ld, text);
		}
	}
}

static const struct item domain_items[] = {
	NAME("name", struct gslb_domain, name),
	FN("routing_algorithm", 0, fn_algorithm),
	FN("regions", 0, fn_domain_regions),
	UINT("ttl", struct gslb_domain, ttl, 0, TTL_MAX),
	UINT("max_records", struct gslb_domain, max_records, 1, 64),
	END,
};

/* Unset domain TTL until dns.default_ttl is known (valid TTLs are < 2^31). */
#define CFG_TTL_UNSET UINT32_MAX

static void fn_domains(struct cfg_loader *ld, const struct cfg_node *node,
		       void *base, const char *path)
{
	struct gslb_config *cfg = base;
	char ipath[CFG_PATH_LEN];

	if (!cfg_is_seq(ld, node, path, "a list of domains")) {
		return;
	}
	for (size_t i = 0; i < node->n_kids; i++) {
		const struct cfg_node *item = node->kids[i];
		cfg_path_idx(ipath, path, i);
		if (item->kind != CFG_NODE_MAP) {
			cfg_err_type(ld, item, ipath, "a mapping");
			continue;
		}
		if (!ref_set(ld, &ld->domains, cfg->n_domains, item, ipath)) {
			return;
		}
		struct gslb_domain *dom =
			VEC_PUSH(ld, cfg->domains, cfg->n_domains);
		if (dom == NULL) {
			return;
		}
		dom->algorithm = GSLB_ALG_ROUND_ROBIN;
		dom->ttl = CFG_TTL_UNSET;
		dom->max_records = 1;
		dom->pos = cfg_pos_of(ld, item);
		walk_map(ld, item, domain_items, dom, ipath);
		if (cfg_unset(item, "name")) {
			cfg_err_at(ld, item, ipath, "name is required");
		}
		if (cfg_map_get(item, "regions") == NULL ||
		    cfg_node_is_null(cfg_map_get(item, "regions"))) {
			cfg_err_at(ld, item, ipath,
				   "at least one region required");
		}
	}
}

/* ------------------------------------------------------------------------ */
/* overwatch                                                                */

static void fn_agent_tokens(struct cfg_loader *ld, const struct cfg_node *node,
			    void *base, const char *path)
{
	struct gslb_overwatch_config *ow =
		&((struct gslb_config *)base)->overwatch;
	char kpath[CFG_PATH_LEN], buf[64];

	if (node->kind != CFG_NODE_MAP) {
		cfg_err_type(ld, node, path, "a mapping of service to token");
		return;
	}
	for (size_t i = 0; i < cfg_map_len(node); i++) {
		const struct cfg_node *key = cfg_map_key(node, i);
		const struct cfg_node *val = cfg_map_val(node, i);
		if (key->kind != CFG_NODE_SCALAR) {
			continue;
		}
		cfg_path_key(kpath, path, key->text);
		if (map_dup(node, i)) {
			cfg_err_at(ld, key, kpath, "duplicate key \"%s\"",
				   key->text);
			continue;
		}
		const char *token =
			cfg_item_text(ld, val, kpath, "a token string");
		if (token != NULL && strlen(token) < 16) {
			cfg_err_at(ld, val, kpath,
				   "token must be at least 16 characters");
		} else if (token != NULL && strlen(token) > 255) {
			/* What an agent's registration can carry. */
			cfg_err_at(ld, val, kpath,
				   "token must be at most 255 characters");
		} else if (token != NULL) {
			secret_check(ld, val, kpath, token, strlen(token),
				     TOKEN_HINT);
		}
		char *service = cfg_name_normalize(ld, key->text);
		if (service == NULL) {
			return;
		}
		const char *problem = cfg_name_problem(service, buf);
		if (problem != NULL) {
			cfg_err_at(ld, key, kpath,
				   "service \"%s\": not a valid DNS name (%s)",
				   key->text, problem);
		}
		bool dup = false;
		for (size_t j = 0; j < ow->n_agent_tokens && !dup; j++) {
			if (strcmp(ow->agent_tokens[j].service, service) != 0) {
				continue;
			}
			const struct cfg_node *first = ld->tokens[j].node;
			cfg_err_at(
				ld, key, kpath,
				"token for service \"%s\" already defined at "
				"%s:%u:%u",
				service, ld->files[first->file].path,
				first->line, first->col);
			dup = true;
		}
		if (dup || token == NULL ||
		    !ref_set(ld, &ld->tokens, ow->n_agent_tokens, key, kpath)) {
			free(service);
			continue;
		}
		struct gslb_agent_token *t =
			VEC_PUSH(ld, ow->agent_tokens, ow->n_agent_tokens);
		if (t == NULL) {
			free(service);
			return;
		}
		t->service = service;
		t->token = cfg_strdup(ld, token);
	}
}

static void fn_ow_key(struct cfg_loader *ld, const struct cfg_node *node,
		      void *base, const char *path)
{
	struct gslb_overwatch_config *ow =
		&((struct gslb_config *)base)->overwatch;
	key_decode(ld, node, path, ow->gossip.key, &ow->gossip.key_set);
}

static void post_validation(struct cfg_loader *ld, const struct cfg_node *node,
			    void *base, const char *path)
{
	struct gslb_overwatch_config *ow =
		&((struct gslb_config *)base)->overwatch;
	timeout_vs_interval(ld, node, path, "check_timeout",
			    ow->validation.check_timeout, "check_interval",
			    ow->validation.check_interval);
}

static void post_stale(struct cfg_loader *ld, const struct cfg_node *node,
		       void *base, const char *path)
{
	struct gslb_overwatch_config *ow =
		&((struct gslb_config *)base)->overwatch;
	char a[32], b[32], kpath[CFG_PATH_LEN];

	if (ow->stale.remove_after > ow->stale.threshold) {
		return;
	}
	const char *key =
		cfg_unset(node, "remove_after") ? "threshold" : "remove_after";
	cfg_path_key(kpath, path, key);
	cfg_err_at(ld, cfg_map_get(node, key), kpath,
		   "remove_after (%s) must be greater than threshold (%s)",
		   dur_fmt(ow->stale.remove_after, a),
		   dur_fmt(ow->stale.threshold, b));
}

static void fn_string(struct cfg_loader *ld, const struct cfg_node *node,
		      void *base, const char *path)
{
	cfg_scalar(ld, node, path, "a string"); /* read by a section's post */
}

static void fn_dnssec_denial(struct cfg_loader *ld, const struct cfg_node *node,
			     void *base, const char *path)
{
	struct gslb_overwatch_config *ow =
		&((struct gslb_config *)base)->overwatch;
	const char *text = cfg_scalar(ld, node, path, "a string");
	if (text == NULL) {
		return;
	}
	if (strcasecmp(text, "nsec") == 0) {
		ow->dnssec.nsec3 = false;
	} else if (strcasecmp(text, "nsec3") == 0) {
		ow->dnssec.nsec3 = true;
	} else {
		cfg_err_at(ld, node, path,
			   "denial \"%s\": must be nsec or nsec3", text);
	}
}

static void fn_dnssec_algorithm(struct cfg_loader *ld,
				const struct cfg_node *node, void *base,
				const char *path)
{
	static const struct {
		const char *name;
		enum gslb_dnssec_algorithm alg;
	} algs[] = {
		{ "ECDSAP256SHA256", GSLB_DNSSEC_ECDSAP256SHA256 },
		{ "ECDSAP384SHA384", GSLB_DNSSEC_ECDSAP384SHA384 },
		{ "ED25519", GSLB_DNSSEC_ED25519 },
	};
	struct gslb_overwatch_config *ow =
		&((struct gslb_config *)base)->overwatch;
	const char *text = cfg_scalar(ld, node, path, "a string");
	if (text == NULL) {
		return;
	}
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(algs); i++) {
		if (strcasecmp(text, algs[i].name) == 0) {
			ow->dnssec.algorithm = algs[i].alg;
			return;
		}
	}
	cfg_err_at(
		ld, node, path,
		"algorithm \"%s\": must be ECDSAP256SHA256, ECDSAP384SHA384, "
		"or ED25519",
		text);
}

static void fn_key_sync_peers(struct cfg_loader *ld,
			      const struct cfg_node *node, void *base,
			      const char *path)
{
	struct gslb_overwatch_config *ow =
		&((struct gslb_config *)base)->overwatch;
	char ipath[CFG_PATH_LEN];

	if (!cfg_is_seq(ld, node, path, "a list of URLs")) {
		return;
	}
	for (size_t i = 0; i < node->n_kids; i++) {
		cfg_path_idx(ipath, path, i);
		const char *text =
			cfg_item_text(ld, node->kids[i], ipath, "a URL");
		if (text == NULL) {
			continue;
		}
		size_t skip = strncasecmp(text, "http://", 7) == 0    ? 7
			      : strncasecmp(text, "https://", 8) == 0 ? 8
								      : 0;
		if (skip == 0 || text[skip] == '\0' || text[skip] == '/') {
			cfg_err_at(ld, node->kids[i], ipath,
				   "\"%s\": must be a URL starting with "
				   "http:// or "
				   "https://",
				   text);
			continue;
		}
		char **slot = VEC_PUSH(ld, ow->dnssec.key_sync_peers,
				       ow->dnssec.n_key_sync_peers);
		if (slot != NULL) {
			*slot = cfg_strdup(ld, text);
		}
	}
}

static void post_dnssec(struct cfg_loader *ld, const struct cfg_node *node,
			void *base, const char *path)
{
	struct gslb_overwatch_config *ow =
		&((struct gslb_config *)base)->overwatch;
	const struct cfg_node *ack =
		cfg_map_get(node, "security_acknowledgment");
	char kpath[CFG_PATH_LEN];

	if (ow->dnssec.enabled) {
		return;
	}
	if (ack != NULL && ack->kind == CFG_NODE_SCALAR &&
	    strcmp(ack->text, GSLB_DNSSEC_ACK) == 0) {
		return;
	}
	cfg_path_key(kpath, path, "security_acknowledgment");
	cfg_err_at(ld, ack != NULL ? ack : cfg_map_get(node, "enabled"),
		   ack != NULL ? kpath : path,
		   "to disable DNSSEC, security_acknowledgment must be set to: "
		   "\"%s\"",
		   GSLB_DNSSEC_ACK);
}

static const struct item ow_identity_items[] = {
	STR("node_id", struct gslb_config, overwatch.node_id),
	STR("region", struct gslb_config, overwatch.region),
	END,
};

static const struct item ow_gossip_items[] = {
	HOSTPORT("bind_address", struct gslb_config,
		 overwatch.gossip.bind_address),
	FN("encryption_key", 0, fn_ow_key),
	END,
};

static const struct item validation_items[] = {
	BOOL("enabled", struct gslb_config, overwatch.validation.enabled),
	DUR("check_interval", struct gslb_config,
	    overwatch.validation.check_interval, GSLB_SEC),
	DUR("check_timeout", struct gslb_config,
	    overwatch.validation.check_timeout, 100 * GSLB_MSEC),
	END,
};

static const struct item stale_items[] = {
	DUR("threshold", struct gslb_config, overwatch.stale.threshold,
	    GSLB_SEC),
	DUR("remove_after", struct gslb_config, overwatch.stale.remove_after,
	    GSLB_SEC),
	END,
};

static const struct item key_sync_items[] = {
	FN("peers", 0, fn_key_sync_peers),
	DUR("poll_interval", struct gslb_config,
	    overwatch.dnssec.key_sync_poll_interval, GSLB_SEC),
	DUR("timeout", struct gslb_config, overwatch.dnssec.key_sync_timeout,
	    100 * GSLB_MSEC),
	END,
};

static const struct item dnssec_items[] = {
	BOOL("enabled", struct gslb_config, overwatch.dnssec.enabled),
	FN("security_acknowledgment", 0, fn_string),
	FN("algorithm", 0, fn_dnssec_algorithm),
	FN("denial", 0, fn_dnssec_denial),
	SECTION("key_sync", 0, 0, key_sync_items, NULL),
	END,
};

static const struct item overwatch_items[] = {
	SECTION("identity", 0, 0, ow_identity_items, NULL),
	FN("agent_tokens", F_INC, fn_agent_tokens),
	SECTION("gossip", 0, 0, ow_gossip_items, NULL),
	SECTION("validation", 0, 0, validation_items, post_validation),
	SECTION("stale", 0, 0, stale_items, post_stale),
	SECTION("dnssec", 0, 0, dnssec_items, post_dnssec),
	PATHNAME("data_dir", struct gslb_config, overwatch.data_dir),
	END,
};

/* ------------------------------------------------------------------------ */
/* agent                                                                    */

static void fn_backend_address(struct cfg_loader *ld,
			       const struct cfg_node *node, void *base,
			       const char *path)
{
	struct gslb_agent_backend *be = base;
	const char *text =
		cfg_scalar(ld, node, path, "an IP address or host name");
	struct gslb_ip ip;
	char buf[64];

	if (text == NULL || *text == '\0') {
		return;
	}
	/* Syntax only: resolving here would make the check depend on DNS. */
	if (gslb_ip_parse(text, &ip) != GSLB_EOK &&
	    cfg_name_problem(text, buf) != NULL) {
		cfg_err_at(ld, node, path,
			   "address \"%s\": invalid IP or hostname", text);
		return;
	}
	set_str(&be->address, cfg_strdup(ld, text));
}

static const struct item backend_items[] = {
	NAME("service", struct gslb_agent_backend, service),
	FN("address", 0, fn_backend_address),
	UINT("port", struct gslb_agent_backend, port, 1, 65535),
	UINT("weight", struct gslb_agent_backend, weight, 0, 1000000),
	SECTION("health_check", 0,
		offsetof(struct gslb_agent_backend, health_check), check_items,
		post_check),
	END,
};

static void fn_backends(struct cfg_loader *ld, const struct cfg_node *node,
			void *base, const char *path)
{
	struct gslb_agent_config *agent = &((struct gslb_config *)base)->agent;
	char ipath[CFG_PATH_LEN];

	if (!cfg_is_seq(ld, node, path, "a list of backends")) {
		return;
	}
	for (size_t i = 0; i < node->n_kids; i++) {
		const struct cfg_node *item = node->kids[i];
		cfg_path_idx(ipath, path, i);
		if (item->kind != CFG_NODE_MAP) {
			cfg_err_type(ld, item, ipath, "a mapping");
			continue;
		}
		if (!ref_set(ld, &ld->backends, agent->n_backends, item,
			     ipath)) {
			return;
		}
		struct gslb_agent_backend *be =
			VEC_PUSH(ld, agent->backends, agent->n_backends);
		if (be == NULL) {
			return;
		}
		be->weight = 100;
		check_init(ld, &be->health_check);
		be->pos = cfg_pos_of(ld, item);
		walk_map(ld, item, backend_items, be, ipath);
		if (cfg_unset(item, "service")) {
			cfg_err_at(ld, item, ipath, "service is required");
		}
		if (cfg_unset(item, "address")) {
			cfg_err_at(ld, item, ipath, "address is required");
		}
		if (cfg_unset(item, "port")) {
			cfg_err_at(ld, item, ipath, "port is required");
		}
	}
}

/* The agent id travels in every gossip message (GOSSIP_AGENT_ID_MAX). */
static void fn_agent_id(struct cfg_loader *ld, const struct cfg_node *node,
			void *base, const char *path)
{
	struct gslb_agent_config *agent = &((struct gslb_config *)base)->agent;
	const char *text = cfg_scalar(ld, node, path, "an agent id");
	if (text == NULL || *text == '\0') {
		return;
	}
	if (!gslb_agent_id_ok(text)) {
		cfg_err_at(ld, node, path,
			   "agent_id \"%s\": use 1 to 64 letters, digits, "
			   "'.', '_' or '-'",
			   text);
		return;
	}
	set_str(&agent->identity.agent_id, cfg_strdup(ld, text));
}

static void fn_agent_key(struct cfg_loader *ld, const struct cfg_node *node,
			 void *base, const char *path)
{
	struct gslb_agent_config *agent = &((struct gslb_config *)base)->agent;
	key_decode(ld, node, path, agent->gossip.key, &agent->gossip.key_set);
}

static void fn_overwatch_nodes(struct cfg_loader *ld,
			       const struct cfg_node *node, void *base,
			       const char *path)
{
	struct gslb_agent_config *agent = &((struct gslb_config *)base)->agent;
	char ipath[CFG_PATH_LEN];

	if (!cfg_is_seq(ld, node, path, "a list of host:port strings")) {
		return;
	}
	for (size_t i = 0; i < node->n_kids; i++) {
		cfg_path_idx(ipath, path, i);
		const char *text = cfg_item_text(ld, node->kids[i], ipath,
						 "a host:port string");
		if (text == NULL ||
		    !hostport_ok(ld, node->kids[i], ipath, "overwatch node",
				 text, true)) {
			continue;
		}
		char **slot = VEC_PUSH(ld, agent->gossip.overwatch_nodes,
				       agent->gossip.n_overwatch_nodes);
		if (slot != NULL) {
			*slot = cfg_strdup(ld, text);
		}
	}
}

static const struct item agent_identity_items[] = {
	/* The maxima are what a registration can carry (lib/gossip.h). */
	{ .name = "service_token",
	  .kind = K_STR,
	  FIELD(struct gslb_config, agent.identity.service_token),
	  .flags = F_SECRET,
	  .min = 16,
	  .max = 255 },
	FN("agent_id", 0, fn_agent_id),
	{ .name = "region",
	  .kind = K_STR,
	  FIELD(struct gslb_config, agent.identity.region),
	  .max = 63 },
	PATHNAME("cert_path", struct gslb_config, agent.identity.cert_path),
	PATHNAME("key_path", struct gslb_config, agent.identity.key_path),
	END,
};

static const struct item cpu_items[] = {
	FLOAT("threshold", struct gslb_config, agent.predictive.cpu_threshold,
	      0, 100, F_PERCENT),
	DUR("bleed_duration", struct gslb_config,
	    agent.predictive.cpu_bleed_duration, GSLB_SEC),
	END,
};

static const struct item memory_items[] = {
	FLOAT("threshold", struct gslb_config,
	      agent.predictive.memory_threshold, 0, 100, F_PERCENT),
	DUR("bleed_duration", struct gslb_config,
	    agent.predictive.memory_bleed_duration, GSLB_SEC),
	END,
};

static const struct item error_rate_items[] = {
	FLOAT("threshold", struct gslb_config,
	      agent.predictive.error_rate_threshold, 0, 1e6, 0),
	DUR("window", struct gslb_config, agent.predictive.error_rate_window,
	    GSLB_SEC),
	DUR("bleed_duration", struct gslb_config,
	    agent.predictive.error_rate_bleed_duration, GSLB_SEC),
	END,
};

static const struct item predictive_items[] = {
	BOOL("enabled", struct gslb_config, agent.predictive.enabled),
	DUR("check_interval", struct gslb_config,
	    agent.predictive.check_interval, GSLB_SEC),
	SECTION("cpu", 0, 0, cpu_items, NULL),
	SECTION("memory", 0, 0, memory_items, NULL),
	SECTION("error_rate", 0, 0, error_rate_items, NULL),
	END,
};

static const struct item agent_gossip_items[] = {
	FN("encryption_key", 0, fn_agent_key),
	FN("overwatch_nodes", 0, fn_overwatch_nodes),
	END,
};

static const struct item heartbeat_items[] = {
	DUR("interval", struct gslb_config, agent.heartbeat.interval, GSLB_SEC),
	UINT("missed_threshold", struct gslb_config,
	     agent.heartbeat.missed_threshold, 1, 100),
	END,
};

static const struct item agent_items[] = {
	SECTION("identity", 0, 0, agent_identity_items, NULL),
	FN("backends", F_INC, fn_backends),
	SECTION("predictive", 0, 0, predictive_items, NULL),
	SECTION("gossip", 0, 0, agent_gossip_items, NULL),
	SECTION("heartbeat", 0, 0, heartbeat_items, NULL),
	END,
};

static const struct item top_items[] = {
	FN("mode", 0, fn_nothing),
	FN("includes", F_INC, fn_nothing),
	SECTION("logging", 0, 0, logging_items, NULL),
	SECTION("process", 0, 0, process_items, NULL),
	SECTION("metrics", 0, 0, metrics_items, NULL),
	SECTION("api", F_OW, 0, api_items, NULL),
	SECTION("dns", F_OW, 0, dns_items, NULL),
	FN("regions", F_OW | F_INC, fn_regions),
	FN("domains", F_OW | F_INC, fn_domains),
	SECTION("overwatch", F_OW | F_INC, 0, overwatch_items, NULL),
	SECTION("agent", F_AGENT | F_INC, 0, agent_items, NULL),
	END,
};

void cfg_walk_root(struct cfg_loader *ld, const struct cfg_node *root)
{
	walk_map(ld, root, top_items, ld->cfg, "");
}
