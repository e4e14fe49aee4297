/* SPDX-License-Identifier: GPL-3.0-or-later */
/* gslbctl: the agents commands (pinned agents, their status, revocation). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gslbctl.h"

/* How much of a fingerprint the table shows; show prints all of it. */
#define FINGERPRINT_SHORT 16

/* "KEY:" padded so that values line up, then the value. */
static void field(const char *key, const char *fmt, ...) GSLB_PRINTF(2, 3);

static void field(const char *key, const char *fmt, ...)
{
	va_list ap;
	char label[32];
	snprintf(label, sizeof(label), "%s:", key);
	printf("%-15s", label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* The path of one agent, its id escaped; NULL (after saying so) for an
 * empty id. */
static char *agent_path(struct ctl *ctl, const char *id)
{
	if (*id == '\0') {
		ctl_usage(ctl, "ID must not be empty");
		return NULL;
	}
	struct ctl_buf path = { 0 };
	buf_add(&path, "/api/v1/overwatch/agents/");
	buf_add_escaped(&path, id);
	return buf_take(&path);
}

/*
 * One request about the agent id; a 404 says there is no such agent. On
 * CTL_OK, *doc is the answer (caller frees).
 */
static int call_agent(struct ctl *ctl, const char *method, const char *id,
		      json_t **doc)
{
	*doc = NULL;
	char *path = agent_path(ctl, id);
	if (path == NULL) {
		return CTL_USAGE;
	}
	struct ctl_reply reply;
	int ret = ctl_http(ctl, method, path, NULL, &reply);
	free(path);
	if (ret != CTL_OK) {
		json_decref(reply.doc);
		return ret;
	}
	if (reply.status == 404) {
		char *name = ctl_printable(id);
		char *msg = ctl_printable(ctl_reply_error(&reply));
		ctl_error("no agent '%s' (the overwatch says: %s)", name, msg);
		free(msg);
		free(name);
		ret = CTL_REFUSED;
	} else if (reply.status >= 400) {
		ctl_print_refusal(ctl, &reply);
		ret = CTL_REFUSED;
	}
	if (ret != CTL_OK) {
		json_decref(reply.doc);
		return ret;
	}
	*doc = reply.doc;
	return CTL_OK;
}

/* "3s ago", "12m 5s ago" from the RFC 3339 time when, as of now. */
static const char *age(const char *when, time_t now, char *buf, size_t len)
{
	time_t t;
	if (ctl_time_parse(when, &t) != 0) {
		snprintf(buf, len, "%s", when != NULL ? when : "never");
		return buf;
	}
	char d[64];
	snprintf(buf, len, "%s ago",
		 ctl_duration((int64_t)(now - t), d, sizeof(d)));
	return buf;
}

/* "no", or the reason it drains ("yes" when it gives none). */
static const char *drain_text(const json_t *a)
{
	if (jbool(a, "draining") != 1) {
		return "no";
	}
	const char *reason = jstr(a, "drain_reason");
	if (reason == NULL || *reason == '\0' || strcmp(reason, "none") == 0) {
		return "yes";
	}
	return reason;
}

/* ------------------------------------------------------------------------ */
/* agents list                                                              */

static void print_agents(const json_t *doc)
{
	static const char *const headers[] = { "AGENT-ID",  "REGION",
					       "STATUS",    "BACKENDS",
					       "LAST-SEEN", "FINGERPRINT",
					       "DRAIN" };
	/* Ages as of the overwatch's clock, which the times come from. */
	time_t now;
	if (ctl_time_parse(jstr(doc, "generated_at"), &now) != 0) {
		now = time(NULL);
	}
	struct ctl_table *t = table_new(7, headers);
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(doc, "agents"), i, a)
	{
		char seen[80];
		char *backends = xasprintf(
			"%lld/%lld", (long long)jint(a, "healthy_backends", 0),
			(long long)jint(a, "backends", 0));
		const char *fp = jstr(a, "fingerprint");
		char *fingerprint =
			fp == NULL ? NULL
			: strlen(fp) > FINGERPRINT_SHORT
				? xasprintf("%.*s…", FINGERPRINT_SHORT, fp)
				: xstrdup(fp);
		const char *region = jstr(a, "region");
		const char *row[] = {
			jstr(a, "agent_id"),
			region != NULL && *region ? region : NULL,
			jstr(a, "status"),
			backends,
			age(jstr(a, "last_seen"), now, seen, sizeof(seen)),
			fingerprint,
			drain_text(a),
		};
		table_add(t, row);
		free(backends);
		free(fingerprint);
	}
	table_print_or(t, "No agents.");
	table_free(t);

	/* For the eyes only, as audit's: a script gets the table. */
	const long long total = jint(doc, "total", 0);
	if (total > 0 && isatty(STDOUT_FILENO)) {
		const long long connected = jint(doc, "connected", 0);
		const long long stale = jint(doc, "stale", 0);
		const long long offline = total - connected - stale;
		printf("%lld agent%s: %lld connected, %lld stale, %lld "
		       "offline\n",
		       total, total == 1 ? "" : "s", connected, stale,
		       offline > 0 ? offline : 0);
	}
}

int cmd_agents_list(struct ctl *ctl)
{
	json_t *doc = NULL;
	int ret = ctl_call(ctl, "GET", "/api/v1/overwatch/agents", NULL, &doc,
			   NULL);
	if (ret != CTL_OK) {
		return ret;
	}
	if (ctl->json) {
		ctl_print_json(doc);
	} else {
		print_agents(doc);
	}
	json_decref(doc);
	return CTL_OK;
}

/* ------------------------------------------------------------------------ */
/* agents show                                                              */

/* The strings of array v joined with ", "; caller frees. */
static char *join(const json_t *v)
{
	struct ctl_buf b = { 0 };
	size_t i;
	json_t *s;
	json_array_foreach(v, i, s)
	{
		const char *text = json_string_value(s);
		if (text != NULL) {
			buf_add(&b, b.len > 0 ? ", " : "");
			buf_add(&b, text);
		}
	}
	char *joined = buf_take(&b);
	char *safe = ctl_printable(joined);
	free(joined);
	return safe;
}

/* A string field made printable, or "-" when absent or null. */
static char *text_of(const json_t *a, const char *key)
{
	const char *s = jstr(a, key);
	return ctl_printable(s != NULL && *s ? s : "-");
}

static void print_certificate(const json_t *a)
{
	char when[64], d[64];
	const char *not_after = jstr(a, "not_after");
	json_int_t hours = jint(a, "expires_in_hours", INT64_MIN);
	if (not_after == NULL) {
		field("Not after", "-");
	} else if (hours == INT64_MIN) {
		field("Not after", "%s",
		      ctl_time_short(not_after, when, sizeof(when)));
	} else if (hours < 0) {
		field("Not after", "%s (expired %s ago)",
		      ctl_time_short(not_after, when, sizeof(when)),
		      ctl_duration(-(int64_t)hours * 3600, d, sizeof(d)));
	} else {
		field("Not after", "%s (in %s)",
		      ctl_time_short(not_after, when, sizeof(when)),
		      ctl_duration((int64_t)hours * 3600, d, sizeof(d)));
	}
}

static void print_agent(const json_t *a)
{
	char when[64], ago[80];
	const time_t now = time(NULL);

	char *id = text_of(a, "agent_id");
	char *status = text_of(a, "status");
	char *address = text_of(a, "address");
	char *region = text_of(a, "region");
	char *services = join(json_object_get(a, "services"));
	char *drain = ctl_printable(drain_text(a));
	char *fingerprint = text_of(a, "fingerprint");

	field("Agent", "%s", id);
	field("Status", "%s", status);
	field("Address", "%s", address);
	field("Region", "%s", region);
	field("Services", "%s", *services ? services : "-");
	field("Backends", "%lld (%lld healthy)",
	      (long long)jint(a, "backends", 0),
	      (long long)jint(a, "healthy_backends", 0));
	field("Draining", "%s", drain);
	field("State version", "%lld", (long long)jint(a, "state_version", 0));
	const json_t *hb = json_object_get(a, "heartbeat_age_seconds");
	if (json_is_number(hb)) {
		field("Heartbeat", "%.1fs ago", json_number_value(hb));
	} else {
		field("Heartbeat", "none (not connected)");
	}
	const char *first = jstr(a, "first_seen");
	const char *last = jstr(a, "last_seen");
	field("First seen", "%s", ctl_time_short(first, when, sizeof(when)));
	field("Last seen", "%s (%s)", ctl_time_short(last, when, sizeof(when)),
	      age(last, now, ago, sizeof(ago)));
	field("Fingerprint", "%s", fingerprint);
	print_certificate(a);

	free(id);
	free(status);
	free(address);
	free(region);
	free(services);
	free(drain);
	free(fingerprint);
}

int cmd_agents_show(struct ctl *ctl)
{
	json_t *doc = NULL;
	int ret = call_agent(ctl, "GET", ctl->args[0], &doc);
	if (ret != CTL_OK) {
		return ret;
	}
	if (ctl->json) {
		ctl_print_json(doc);
	} else {
		print_agent(doc);
	}
	json_decref(doc);
	return CTL_OK;
}

/* ------------------------------------------------------------------------ */
/* agents revoke                                                            */

int cmd_agents_revoke(struct ctl *ctl)
{
	json_t *doc = NULL;
	int ret = call_agent(ctl, "DELETE", ctl->args[0], &doc);
	if (ret != CTL_OK) {
		return ret;
	}
	if (ctl->json) {
		ctl_print_json(doc);
	} else {
		const char *id = jstr(doc, "agent_id");
		char *name = ctl_printable(id != NULL ? id : ctl->args[0]);
		json_int_t n = jint(doc, "backends_removed", 0);
		printf("agent %s revoked: pin removed, %lld backend%s "
		       "removed\n",
		       name, (long long)n, n == 1 ? "" : "s");
		printf("Note: it is pinned again, to whatever certificate it "
		       "then shows, at its\nnext registration unless its "
		       "service token is changed first.\n");
		free(name);
	}
	json_decref(doc);
	return CTL_OK;
}
