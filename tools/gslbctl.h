/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * gslbctl: what its commands share. gslbctl.c parses the command line and
 * holds the help texts, gslbctl_cmds.c runs the commands, gslbctl_http.c
 * talks to the overwatch's REST API (libcurl, UNIX socket or TCP), and
 * gslbctl_output.c prints tables, JSON and times.
 *
 * A CLI that cannot allocate has nothing useful left to do: the x*()
 * helpers print "out of memory" and exit.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "compiler.h"

/* Exit status. */
enum {
	CTL_OK = 0,
	CTL_REFUSED = 1,     /* the overwatch refused; invalid config file */
	CTL_USAGE = 2,       /* bad command line */
	CTL_UNREACHABLE = 3, /* no answer: refused, missing socket, time-out */
};

#define CTL_MAX_OPTS 8
#define CTL_MAX_ARGS 4

/* One invocation: the global options and the command's parsed line. */
struct ctl {
	/* Transport: exactly one of socket_path and api_url once resolved. */
	const char *socket_path;
	const char *api_url;
	const char *token; /* NULL: none */
	bool json;
	long timeout_ms;

	/* The command being run, for messages ("override set"). */
	const char *command;
	/* Its options' values in the order of its option list; a flag
	 * without value is "" when given. NULL: not given. */
	const char *opt[CTL_MAX_OPTS];
	char **args;
	int n_args;
};

/* ------------------------------------------------------------------------ */
/* Messages (gslbctl.c)                                                     */

/* "gslbctl: MESSAGE" on stderr. */
void ctl_error(const char *fmt, ...) GSLB_PRINTF(1, 2);
/* ctl_error(), then "Try 'gslbctl COMMAND --help'."; returns CTL_USAGE. */
int ctl_usage(const struct ctl *ctl, const char *fmt, ...) GSLB_PRINTF(2, 3);

/* Value of the command's option named name (it must be in its list). */
const char *ctl_opt(const struct ctl *ctl, const char *name);

/* ------------------------------------------------------------------------ */
/* Memory and strings (gslbctl_output.c)                                    */

void *xmalloc(size_t size) GSLB_MALLOC;
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s) GSLB_MALLOC;
char *xasprintf(const char *fmt, ...) GSLB_PRINTF(1, 2) GSLB_MALLOC;

/* A growing string; zero-initialised is empty. s is NUL-terminated once
 * anything was added. */
struct ctl_buf {
	char *s;
	size_t len;
	size_t cap;
};

void buf_addn(struct ctl_buf *b, const char *data, size_t n);
void buf_add(struct ctl_buf *b, const char *s);
void buf_addf(struct ctl_buf *b, const char *fmt, ...) GSLB_PRINTF(2, 3);
/* Percent-encodes s: every byte but letters, digits, "-._~" and ":". */
void buf_add_escaped(struct ctl_buf *b, const char *s);
/* "?name=value" the first time, "&name=value" after; value escaped. */
void buf_add_query(struct ctl_buf *b, const char *name, const char *value);
/* Takes the string (caller frees); the buffer is empty again. */
char *buf_take(struct ctl_buf *b);
void buf_clear(struct ctl_buf *b);

/* ------------------------------------------------------------------------ */
/* Output (gslbctl_output.c)                                                */

/* An aligned table: headers in capitals, columns two spaces apart. */
struct ctl_table;

struct ctl_table *table_new(size_t n_cols, const char *const *headers);
/* Adds a row of n_cols cells (copied; NULL prints as "-"). */
void table_add(struct ctl_table *t, const char *const *cells);
void table_print(const struct ctl_table *t, FILE *out);
/* The table on stdout, or the line empty when it has no rows. */
void table_print_or(const struct ctl_table *t, const char *empty);
void table_free(struct ctl_table *t);

/* Pretty JSON (2-space indent) and a newline on stdout. */
void ctl_print_json(const json_t *doc);

/* Fields of a JSON object; NULL/fallback when absent or of another type. */
const char *jstr(const json_t *obj, const char *key);
json_int_t jint(const json_t *obj, const char *key, json_int_t fallback);
/* 1 true, 0 false, -1 absent or not a boolean. */
int jbool(const json_t *obj, const char *key);

/* "ip:port", or "[ip]:port" for IPv6, into a new string. */
char *ctl_hostport(const char *address, json_int_t port);

/* RFC 3339 ("2026-11-28T05:51:43.123456789Z", or with an offset) to
 * seconds since the epoch; 0 or -1. */
int ctl_time_parse(const char *text, time_t *out);
/* An RFC 3339 time for a table: to the second, in UTC
 * ("2026-11-28T05:51:43Z"); the text as given if it cannot be parsed. */
const char *ctl_time_short(const char *text, char *buf, size_t len);
/* "1d 2h 3m", "2h 15m", "12m 5s", "45s". */
const char *ctl_duration(int64_t seconds, char *buf, size_t len);

/* Replaces control characters (a reason could hold an escape sequence)
 * with '?'; returns a new string. */
char *ctl_printable(const char *s);

/* ------------------------------------------------------------------------ */
/* The REST API (gslbctl_http.c)                                            */

struct ctl_reply {
	long status; /* HTTP status */
	json_t *doc; /* parsed body; NULL when it was empty */
};

void ctl_http_init(void);
void ctl_http_cleanup(void);

/*
 * One request: method, path (already escaped, with its query) and an
 * optional JSON body. CTL_OK once the overwatch answered, whatever the
 * status (the caller judges it; free reply->doc). Otherwise prints why
 * nothing came back and returns CTL_UNREACHABLE (or CTL_REFUSED for an
 * answer that is not JSON, CTL_USAGE for a bad --api URL).
 */
int ctl_http(const struct ctl *ctl, const char *method, const char *path,
	     const json_t *body, struct ctl_reply *reply) GSLB_WARN_UNUSED;

/*
 * ctl_http() where any status >= 400 is a refusal: prints it (with a hint
 * for 401 and 403) and returns CTL_REFUSED. On CTL_OK, *doc is the answer
 * (NULL for an empty body; caller frees) and *status its status if
 * status is not NULL.
 */
int ctl_call(const struct ctl *ctl, const char *method, const char *path,
	     const json_t *body, json_t **doc, long *status) GSLB_WARN_UNUSED;

/* Prints the overwatch's refusal in reply (see ctl_call). */
void ctl_print_refusal(const struct ctl *ctl, const struct ctl_reply *reply);
/* The "error" of a refusal, or a stand-in; valid while reply->doc is. */
const char *ctl_reply_error(const struct ctl_reply *reply);

/* ------------------------------------------------------------------------ */
/* Commands (gslbctl_cmds.c)                                                */

int cmd_status(struct ctl *ctl);
int cmd_backends(struct ctl *ctl);
int cmd_override_set(struct ctl *ctl);
int cmd_override_clear(struct ctl *ctl);
int cmd_override_list(struct ctl *ctl);
int cmd_audit(struct ctl *ctl);
int cmd_servers_list(struct ctl *ctl);
int cmd_servers_add(struct ctl *ctl);
int cmd_servers_remove(struct ctl *ctl);
int cmd_config_check(struct ctl *ctl);
int cmd_version(struct ctl *ctl);

/* gslbctl_dnssec.c */
int cmd_dnssec_ds(struct ctl *ctl);
int cmd_dnssec_status(struct ctl *ctl);
int cmd_dnssec_sync(struct ctl *ctl);

/* gslbctl_agents.c */
int cmd_agents_list(struct ctl *ctl);
int cmd_agents_show(struct ctl *ctl);
int cmd_agents_revoke(struct ctl *ctl);
