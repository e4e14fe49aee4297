/* SPDX-License-Identifier: GPL-3.0-or-later */
/* gslbctl: the commands, each one or a few calls of the REST API. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "error.h"
#include "gslbctl.h"
#include "netaddr.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

/*
 * GETs a listing. With --json it prints the answer (and *doc is NULL);
 * otherwise *doc is the answer for a table, NULL after a failure.
 */
static int get_listing(struct ctl *ctl, const char *path, json_t **doc)
{
	int ret = ctl_call(ctl, "GET", path, NULL, doc, NULL);
	if (ret != CTL_OK) {
		*doc = NULL;
		return ret;
	}
	if (ctl->json) {
		ctl_print_json(*doc);
		json_decref(*doc);
		*doc = NULL;
	}
	return CTL_OK;
}

/* "KEY:" padded so that values line up, then the value. */
static void kv(const char *key, const char *fmt, ...) GSLB_PRINTF(2, 3);

static void kv(const char *key, const char *fmt, ...)
{
	va_list ap;
	char label[32];
	snprintf(label, sizeof(label), "%s:", key);
	printf("%-13s", label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* A whole decimal number in [min, max]. */
static int parse_number(const char *text, long long min, long long max,
			long long *out)
{
	char *end;
	if (text == NULL || !isdigit((unsigned char)*text)) {
		return -1;
	}
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max) {
		return -1;
	}
	*out = v;
	return 0;
}

/* "IP", "IP:PORT" or "[IPv6]:PORT", as the override paths take them. */
static bool valid_backend_address(const char *text)
{
	struct gslb_ip ip;
	char *host = NULL;
	uint16_t port;
	if (gslb_ip_parse(text, &ip) == GSLB_EOK) {
		return true;
	}
	if (gslb_hostport_split(text, &host, &port) != GSLB_EOK) {
		return false;
	}
	bool ok = gslb_ip_parse(host, &ip) == GSLB_EOK &&
		  (ip.family == AF_INET || text[0] == '[');
	free(host);
	return ok;
}

/* An IP address, brackets allowed, in canonical form into buf. */
static bool canonical_ip(const char *text, char buf[GSLB_IP_STRLEN])
{
	struct gslb_ip ip;
	char tmp[GSLB_IP_STRLEN + 2];
	size_t len = strlen(text);
	if (len >= 2 && text[0] == '[' && text[len - 1] == ']' &&
	    len - 2 < sizeof(tmp)) {
		memcpy(tmp, text + 1, len - 2);
		tmp[len - 2] = '\0';
		text = tmp;
	}
	if (gslb_ip_parse(text, &ip) != GSLB_EOK) {
		return false;
	}
	gslb_ip_format(&ip, buf);
	return true;
}

static bool is_true(const json_t *v)
{
	return json_is_true(v);
}

/* The path of one override, segments escaped. */
static char *override_path(const char *service, const char *address)
{
	struct ctl_buf path = { 0 };
	buf_add(&path, "/api/v1/overrides/");
	buf_add_escaped(&path, service);
	buf_add(&path, "/");
	buf_add_escaped(&path, address);
	return buf_take(&path);
}

/* ------------------------------------------------------------------------ */
/* status                                                                   */

static void print_status(const json_t *ready, const json_t *version,
			 const json_t *stats)
{
	char buf[64], when[64];

	if (is_true(json_object_get(ready, "ready"))) {
		kv("Status", "Healthy");
	} else {
		const char *msg = jstr(ready, "message");
		if (msg == NULL) {
			msg = jstr(ready, "error");
		}
		char *safe = ctl_printable(msg ? msg : "no reason given");
		kv("Status", "Not ready (%s)", safe);
		free(safe);
	}

	const char *v = jstr(version, "version");
	const char *knot = jstr(version, "libknot");
	const char *node = jstr(version, "node_id");
	kv("Version", "gslb-overwatchd %s (libknot %s), node %s", v ? v : "?",
	   knot ? knot : "?", node ? node : "?");

	const char *started = jstr(version, "started_at");
	time_t t0;
	if (ctl_time_parse(started, &t0) == 0) {
		kv("Uptime", "%s (since %s)",
		   ctl_duration((int64_t)(time(NULL) - t0), buf, sizeof(buf)),
		   ctl_time_short(started, when, sizeof(when)));
	} else {
		kv("Uptime", "unknown");
	}

	kv("Backends",
	   "%lld total, %lld healthy, %lld unhealthy, %lld stale, %lld "
	   "draining",
	   (long long)jint(stats, "total_backends", 0),
	   (long long)jint(stats, "healthy_backends", 0),
	   (long long)jint(stats, "unhealthy_backends", 0),
	   (long long)jint(stats, "stale_backends", 0),
	   (long long)jint(stats, "draining_backends", 0));
	kv("Overrides", "%lld active",
	   (long long)jint(stats, "active_overrides", 0));
	kv("Services", "%lld", (long long)jint(stats, "unique_services", 0));
	kv("Agents", "%lld active", (long long)jint(stats, "active_agents", 0));
	if (is_true(json_object_get(stats, "validation_enabled"))) {
		json_int_t n = jint(stats, "disagreement_count", 0);
		kv("Validation",
		   "on (%lld backends validated, %lld "
		   "disagreement%s with agents)",
		   (long long)jint(stats, "validated_backends", 0),
		   (long long)n, n == 1 ? "" : "s");
	} else {
		kv("Validation", "off");
	}

	const json_t *store = json_object_get(stats, "store");
	const char *path = jstr(store, "path");
	if (!json_is_object(store)) {
		kv("State store", "unknown");
	} else if (is_true(json_object_get(store, "ok"))) {
		kv("State store", "ok (%s)", path ? path : "?");
	} else {
		const char *err = jstr(store, "error");
		char *safe = ctl_printable(err ? err : "failing");
		kv("State store", "ERROR: %s (%s)", safe, path ? path : "?");
		free(safe);
	}
}

int cmd_status(struct ctl *ctl)
{
	struct ctl_reply ready;
	json_t *version = NULL, *stats = NULL;

	int ret = ctl_http(ctl, "GET", "/api/v1/ready", NULL, &ready);
	if (ret != CTL_OK) {
		json_decref(ready.doc);
		return ret;
	}
	/* 503 is an answer too: not ready (yet). */
	if (ready.status != 200 && ready.status != 503) {
		ctl_print_refusal(ctl, &ready);
		json_decref(ready.doc);
		return CTL_REFUSED;
	}
	ret = ctl_call(ctl, "GET", "/api/v1/version", NULL, &version, NULL);
	if (ret == CTL_OK) {
		ret = ctl_call(ctl, "GET", "/api/v1/overwatch/stats", NULL,
			       &stats, NULL);
	}
	if (ret == CTL_OK) {
		if (ctl->json) {
			json_t *all = json_pack("{s:O?,s:O?,s:O?}", "ready",
						ready.doc, "version", version,
						"stats", stats);
			ctl_print_json(all);
			json_decref(all);
		} else {
			print_status(ready.doc, version, stats);
		}
	}
	json_decref(ready.doc);
	json_decref(version);
	json_decref(stats);
	return ret;
}

/* ------------------------------------------------------------------------ */
/* backends                                                                 */

/* Who decides the backend's status, as the original CLI showed it. */
static const char *authority(const json_t *b)
{
	const json_t *o = json_object_get(b, "override_status");
	if (o != NULL && !json_is_null(o)) {
		return "override";
	}
	int v = jbool(b, "validation_healthy");
	if (v >= 0) {
		return v ? "overwatch" : "overwatch (veto)";
	}
	const char *status = jstr(b, "effective_status");
	if (status != NULL && strcmp(status, "stale") == 0) {
		return "stale";
	}
	const char *source = jstr(b, "source");
	if (source != NULL && strcmp(source, "agent") == 0) {
		return "agent";
	}
	return "default";
}

int cmd_backends(struct ctl *ctl)
{
	static const char *const filters[] = { "service", "status", "region" };
	struct ctl_buf path = { 0 };
	buf_add(&path, "/api/v1/overwatch/backends");
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(filters); i++) {
		const char *value = ctl_opt(ctl, filters[i]);
		if (value != NULL) {
			buf_add_query(&path, filters[i], value);
		}
	}
	json_t *doc;
	int ret = get_listing(ctl, path.s, &doc);
	buf_clear(&path);
	if (doc == NULL) {
		return ret;
	}

	static const char *const headers[] = { "SERVICE", "ADDRESS", "REGION",
					       "STATUS", "AUTHORITY" };
	struct ctl_table *t = table_new(5, headers);
	size_t i;
	json_t *b;
	json_array_foreach(json_object_get(doc, "backends"), i, b)
	{
		char *addr =
			ctl_hostport(jstr(b, "address"), jint(b, "port", 0));
		const char *region = jstr(b, "region");
		const char *row[] = { jstr(b, "service"), addr,
				      region && *region ? region : NULL,
				      jstr(b, "effective_status"),
				      authority(b) };
		table_add(t, row);
		free(addr);
	}
	table_print_or(t, "No backends.");
	table_free(t);
	json_decref(doc);
	return CTL_OK;
}

/* ------------------------------------------------------------------------ */
/* override                                                                 */

int cmd_override_set(struct ctl *ctl)
{
	const char *service = ctl->args[0];
	const char *address = ctl->args[1];
	bool healthy = ctl_opt(ctl, "healthy") != NULL;
	bool unhealthy = ctl_opt(ctl, "unhealthy") != NULL;
	const char *reason = ctl_opt(ctl, "reason");
	const char *expires = ctl_opt(ctl, "expires");
	const char *source = ctl_opt(ctl, "source");

	if (healthy == unhealthy) {
		return ctl_usage(ctl, "give exactly one of --healthy and "
				      "--unhealthy");
	}
	if (reason == NULL || *reason == '\0') {
		return ctl_usage(ctl, "--reason TEXT is required: say why, "
				      "for the audit log");
	}
	if (!valid_backend_address(address)) {
		return ctl_usage(ctl,
				 "ADDRESS must be IP:PORT, [IPv6]:PORT "
				 "or an IP address, not '%s'",
				 address);
	}
	if (source == NULL) {
		source = "gslbctl";
	}

	json_t *body = json_pack("{s:b,s:s,s:s}", "healthy", healthy, "reason",
				 reason, "source", source);
	if (body == NULL) {
		return ctl_usage(ctl, "--reason and --source must be UTF-8");
	}
	if (expires != NULL) {
		long long secs;
		gslb_duration_t d;
		if (parse_number(expires, 1, INT32_MAX, &secs) == 0) {
			json_object_set_new(body, "expires_in",
					    json_integer(secs));
		} else if (gslb_duration_parse(expires, &d) == GSLB_EOK &&
			   d >= GSLB_SEC) {
			json_object_set_new(body, "expires_in",
					    json_string(expires));
		} else {
			json_decref(body);
			return ctl_usage(ctl,
					 "--expires takes a duration of "
					 "at least 1s (\"30m\", \"2h\", "
					 "\"1h30m\") or seconds, not "
					 "'%s'",
					 expires);
		}
	}

	char *path = override_path(service, address);
	json_t *doc;
	int ret = ctl_call(ctl, "PUT", path, body, &doc, NULL);
	free(path);
	json_decref(body);
	if (ret != CTL_OK) {
		return ret;
	}
	if (ctl->json) {
		ctl_print_json(doc);
		json_decref(doc);
		return CTL_OK;
	}

	const char *svc = jstr(doc, "service");
	const char *addr = jstr(doc, "address");
	const char *why = jstr(doc, "reason");
	const char *until = jstr(doc, "expires_at");
	int h = jbool(doc, "healthy");
	json_int_t n = jint(doc, "backends", 1);
	char when[64];
	char *safe = ctl_printable(why ? why : reason);
	printf("Override set: %s %s is %s (reason: %s", svc ? svc : service,
	       addr ? addr : address,
	       (h >= 0 ? h : healthy) ? "healthy" : "unhealthy", safe);
	if (until != NULL) {
		printf(", expires %s",
		       ctl_time_short(until, when, sizeof(when)));
	}
	printf(")\n");
	if (n != 1) {
		printf("It covers %lld backend%s.\n", (long long)n,
		       n == 1 ? "" : "s");
	}
	free(safe);
	json_decref(doc);
	return CTL_OK;
}

int cmd_override_clear(struct ctl *ctl)
{
	const char *service = ctl->args[0];
	const char *address = ctl->args[1];
	if (!valid_backend_address(address)) {
		return ctl_usage(ctl,
				 "ADDRESS must be IP:PORT, [IPv6]:PORT "
				 "or an IP address, not '%s'",
				 address);
	}
	char *path = override_path(service, address);
	struct ctl_reply reply;
	int ret = ctl_http(ctl, "DELETE", path, NULL, &reply);
	free(path);
	if (ret != CTL_OK) {
		json_decref(reply.doc);
		return ret;
	}
	if (reply.status == 404) {
		char *msg = ctl_printable(ctl_reply_error(&reply));
		ctl_error("no override for %s %s (the overwatch says: %s)",
			  service, address, msg);
		free(msg);
		ret = CTL_REFUSED;
	} else if (reply.status >= 400) {
		ctl_print_refusal(ctl, &reply);
		ret = CTL_REFUSED;
	} else if (ctl->json) {
		json_t *doc = json_pack("{s:s,s:s,s:s}", "status", "cleared",
					"service", service, "address", address);
		ctl_print_json(doc);
		json_decref(doc);
	} else {
		printf("Override cleared: %s %s\n", service, address);
	}
	json_decref(reply.doc);
	return ret;
}

int cmd_override_list(struct ctl *ctl)
{
	json_t *doc;
	int ret = get_listing(ctl, "/api/v1/overrides", &doc);
	if (doc == NULL) {
		return ret;
	}
	static const char *const headers[] = {
		"SERVICE", "ADDRESS", "HEALTHY", "REASON", "SET-BY", "EXPIRES"
	};
	struct ctl_table *t = table_new(6, headers);
	size_t i;
	json_t *o;
	json_array_foreach(json_object_get(doc, "overrides"), i, o)
	{
		const char *by = jstr(o, "set_by");
		const char *source = jstr(o, "source");
		char *who;
		if (by != NULL && source != NULL && strcmp(by, source) != 0) {
			who = xasprintf("%s (%s)", by, source);
		} else {
			who = xstrdup(by ? by : source ? source : "-");
		}
		const char *until = jstr(o, "expires_at");
		char when[64];
		int h = jbool(o, "healthy");
		const char *row[] = {
			jstr(o, "service"),
			jstr(o, "address"),
			h < 0 ? NULL
			: h   ? "yes"
			      : "no",
			jstr(o, "reason"),
			who,
			until ? ctl_time_short(until, when, sizeof(when))
			      : "never",
		};
		table_add(t, row);
		free(who);
	}
	table_print_or(t, "No overrides.");
	table_free(t);
	json_decref(doc);
	return CTL_OK;
}

/* ------------------------------------------------------------------------ */
/* audit                                                                    */

int cmd_audit(struct ctl *ctl)
{
	const char *limit = ctl_opt(ctl, "limit");
	const char *offset = ctl_opt(ctl, "offset");
	const char *action = ctl_opt(ctl, "action");
	long long n;

	if (limit == NULL) {
		limit = "20";
	} else if (parse_number(limit, 1, 1000000, &n) != 0) {
		return ctl_usage(ctl,
				 "--limit takes a number above 0, not "
				 "'%s'",
				 limit);
	}
	if (offset != NULL && parse_number(offset, 0, INT64_MAX, &n) != 0) {
		return ctl_usage(ctl, "--offset takes a number, not '%s'",
				 offset);
	}

	struct ctl_buf path = { 0 };
	buf_add(&path, "/api/v1/audit-logs");
	buf_add_query(&path, "limit", limit);
	if (offset != NULL) {
		buf_add_query(&path, "offset", offset);
	}
	if (action != NULL) {
		buf_add_query(&path, "action", action);
	}
	json_t *doc;
	int ret = get_listing(ctl, path.s, &doc);
	buf_clear(&path);
	if (doc == NULL) {
		return ret;
	}

	static const char *const headers[] = { "TIME", "ACTION", "RESOURCE",
					       "ACTOR", "CLIENT" };
	struct ctl_table *t = table_new(5, headers);
	json_t *entries = json_object_get(doc, "entries");
	size_t i;
	json_t *e;
	json_array_foreach(entries, i, e)
	{
		char when[64];
		const char *row[] = {
			ctl_time_short(jstr(e, "timestamp"), when,
				       sizeof(when)),
			jstr(e, "action"),
			jstr(e, "resource"),
			jstr(e, "actor"),
			jstr(e, "client_address"),
		};
		table_add(t, row);
	}
	table_print_or(t, "No audit entries.");
	long long total = jint(doc, "total", 0);
	long long skipped = jint(doc, "offset", 0);
	long long shown = (long long)json_array_size(entries);
	/* For the eyes only: a script reading the table gets the table. */
	if (total > skipped + shown && shown > 0 && isatty(STDOUT_FILENO)) {
		printf("Entries %lld-%lld of %lld; --limit N and --offset N "
		       "show others.\n",
		       skipped + 1, skipped + shown, total);
	}
	table_free(t);
	json_decref(doc);
	return CTL_OK;
}

/* ------------------------------------------------------------------------ */
/* servers                                                                  */

int cmd_servers_list(struct ctl *ctl)
{
	json_t *doc;
	int ret = get_listing(ctl, "/api/v1/servers", &doc);
	if (doc == NULL) {
		return ret;
	}
	static const char *const headers[] = { "ID", "REGION", "WEIGHT",
					       "SOURCE", "STATUS" };
	struct ctl_table *t = table_new(5, headers);
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(doc, "servers"), i, s)
	{
		char weight[24];
		snprintf(weight, sizeof(weight), "%lld",
			 (long long)jint(s, "weight", 0));
		const char *region = jstr(s, "region");
		const char *row[] = { jstr(s, "id"),
				      region && *region ? region : NULL, weight,
				      jstr(s, "source"),
				      jstr(s, "effective_status") };
		table_add(t, row);
	}
	table_print_or(t, "No servers.");
	table_free(t);
	json_decref(doc);
	return CTL_OK;
}

int cmd_servers_add(struct ctl *ctl)
{
	const char *service = ctl_opt(ctl, "service");
	const char *address = ctl_opt(ctl, "address");
	const char *port = ctl_opt(ctl, "port");
	const char *region = ctl_opt(ctl, "region");
	const char *weight = ctl_opt(ctl, "weight");
	char ip[GSLB_IP_STRLEN];
	long long p, w = 0;

	if (service == NULL || address == NULL || port == NULL) {
		return ctl_usage(ctl, "--service, --address and --port are "
				      "required");
	}
	if (!canonical_ip(address, ip)) {
		return ctl_usage(ctl,
				 "--address takes an IPv4 or IPv6 "
				 "address, not '%s'",
				 address);
	}
	if (parse_number(port, 1, 65535, &p) != 0) {
		return ctl_usage(ctl,
				 "--port takes a number from 1 to 65535, "
				 "not '%s'",
				 port);
	}
	if (weight != NULL && parse_number(weight, 0, UINT32_MAX, &w) != 0) {
		return ctl_usage(ctl,
				 "--weight takes a number from 0 to "
				 "4294967295, not '%s'",
				 weight);
	}

	json_t *body = json_pack("{s:s,s:s,s:I}", "service", service, "address",
				 ip, "port", (json_int_t)p);
	if (body == NULL) {
		return ctl_usage(ctl, "--service must be UTF-8");
	}
	if (region != NULL) {
		json_object_set_new(body, "region", json_string(region));
	}
	if (weight != NULL) {
		json_object_set_new(body, "weight", json_integer(w));
	}
	json_t *doc;
	int ret = ctl_call(ctl, "POST", "/api/v1/servers", body, &doc, NULL);
	json_decref(body);
	if (ret != CTL_OK) {
		return ret;
	}
	if (ctl->json) {
		ctl_print_json(doc);
	} else {
		const json_t *s = json_object_get(doc, "server");
		const char *id = jstr(s, "id");
		const char *r = jstr(s, "region");
		printf("Server added: %s (region %s, weight %lld)\n",
		       id ? id : "?", r && *r ? r : "none",
		       (long long)jint(s, "weight", w));
	}
	json_decref(doc);
	return CTL_OK;
}

int cmd_servers_remove(struct ctl *ctl)
{
	char *id;
	if (ctl->n_args == 2) {
		return ctl_usage(ctl, "give an ID, or SERVICE ADDRESS PORT");
	}
	if (ctl->n_args == 3) {
		char ip[GSLB_IP_STRLEN];
		long long port;
		if (!canonical_ip(ctl->args[1], ip)) {
			return ctl_usage(ctl,
					 "ADDRESS must be an IPv4 or IPv6 "
					 "address, not '%s'",
					 ctl->args[1]);
		}
		if (parse_number(ctl->args[2], 1, 65535, &port) != 0) {
			return ctl_usage(ctl,
					 "PORT must be a number from 1 to "
					 "65535, not '%s'",
					 ctl->args[2]);
		}
		id = xasprintf(strchr(ip, ':') ? "%s:[%s]:%lld" : "%s:%s:%lld",
			       ctl->args[0], ip, port);
	} else {
		id = xstrdup(ctl->args[0]);
	}

	struct ctl_buf path = { 0 };
	buf_add(&path, "/api/v1/servers/");
	buf_add_escaped(&path, id);
	json_t *doc;
	int ret = ctl_call(ctl, "DELETE", path.s, NULL, &doc, NULL);
	buf_clear(&path);
	if (ret == CTL_OK) {
		if (ctl->json) {
			json_t *out = json_pack("{s:s,s:s}", "status",
						"removed", "id", id);
			ctl_print_json(out);
			json_decref(out);
		} else {
			printf("Server removed: %s\n", id);
		}
	}
	json_decref(doc);
	free(id);
	return ret;
}

/* ------------------------------------------------------------------------ */
/* config check                                                             */

int cmd_config_check(struct ctl *ctl)
{
	const char *file = ctl->args[0];
	bool agent = ctl_opt(ctl, "agent") != NULL;
	struct gslb_config *cfg = NULL;
	struct gslb_config_errors errs = { 0 };

	int rc = gslb_config_load(file,
				  agent ? GSLB_MODE_AGENT : GSLB_MODE_OVERWATCH,
				  &cfg, &errs);
	if (rc != GSLB_EOK && errs.n == 0) {
		/* Not one error of the file: the loader itself failed. */
		char *msg = xasprintf("%s: %s", file, gslb_strerror(rc));
		errs.msgs = xmalloc(sizeof(*errs.msgs));
		errs.msgs[0] = msg;
		errs.n = 1;
	}
	if (ctl->json) {
		json_t *list = json_array();
		for (size_t i = 0; i < errs.n; i++) {
			json_array_append_new(list, json_string(errs.msgs[i]));
		}
		json_t *doc = json_pack("{s:b,s:o}", "valid", rc == GSLB_EOK,
					"errors", list);
		ctl_print_json(doc);
		json_decref(doc);
	} else if (rc != GSLB_EOK) {
		gslb_config_errors_print(stderr, file, &errs);
	} else if (agent) {
		printf("%s: configuration OK\n", file);
		printf("agent: %zu backend%s\n", cfg->agent.n_backends,
		       cfg->agent.n_backends == 1 ? "" : "s");
	} else {
		size_t servers = 0;
		for (size_t i = 0; i < cfg->n_regions; i++) {
			servers += cfg->regions[i].n_servers;
		}
		printf("%s: configuration OK\n", file);
		printf("overwatch: %zu zone%s, %zu domain%s, %zu region%s, "
		       "%zu server%s\n",
		       cfg->dns.n_zones, cfg->dns.n_zones == 1 ? "" : "s",
		       cfg->n_domains, cfg->n_domains == 1 ? "" : "s",
		       cfg->n_regions, cfg->n_regions == 1 ? "" : "s", servers,
		       servers == 1 ? "" : "s");
	}
	gslb_config_errors_clear(&errs);
	gslb_config_free(cfg);
	return rc == GSLB_EOK ? CTL_OK : CTL_REFUSED;
}

/* ------------------------------------------------------------------------ */
/* version                                                                  */

int cmd_version(struct ctl *ctl)
{
	if (!ctl->json) {
		printf("gslbctl %s\n", PACKAGE_VERSION);
		fflush(stdout); /* before any message on stderr */
	}
	json_t *doc = NULL;
	int ret = ctl_call(ctl, "GET", "/api/v1/version", NULL, &doc, NULL);
	if (ctl->json) {
		json_t *all = json_pack("{s:s,s:O?}", "gslbctl",
					PACKAGE_VERSION, "overwatch", doc);
		ctl_print_json(all);
		json_decref(all);
	} else if (ret == CTL_OK) {
		const char *v = jstr(doc, "version");
		const char *knot = jstr(doc, "libknot");
		const char *node = jstr(doc, "node_id");
		printf("gslb-overwatchd %s (libknot %s), node %s\n",
		       v ? v : "?", knot ? knot : "?", node ? node : "?");
	}
	json_decref(doc);
	return ret;
}
