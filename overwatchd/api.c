/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The REST API. One evhttp on the main event base, listening on TCP and on
 * a UNIX socket; every request goes through one dispatcher (access list,
 * route, method, token) so that every answer, errors included, is JSON.
 * Answers that wait: POST /api/v1/overwatch/validate for its checks, and
 * changes (api_state.c) for their commit.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/queue.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <libknot/version.h>

#include "error.h"
#include "api_internal.h"
#include "httpd.h"
#include "log.h"
#include "overrides.h"
#include "server.h"

/* evhttp refuses larger bodies itself (with an HTML page); between this
 * and API_MAX_BODY the handlers refuse them in JSON. */
#define HTTPD_MAX_BODY (1024 * 1024)
/* Go's encoder prints the shortest exact form; 15 digits is close. */
#define JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* A POST validate waiting for its checks. */
struct pending {
	struct api *api;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct event *watch; /* notices the client going away */
	struct validator_request *vreq;
	const char *message;
	bool starting;  /* inside validator_check_now() */
	bool completed; /* done ran while starting */
	struct pending *prev;
	struct pending *next;
};

typedef void (*handler_fn)(struct api *api, struct evhttp_request *req,
			   const char *query);

struct route {
	const char *path;
	enum evhttp_cmd_type method;
	const char *allow; /* the Allow header of a 405 */
	bool acl;
	handler_fn fn;
	/* For paths below path, and methods the handler sorts out: */
	api_handler_fn tree;
};

/* ------------------------------------------------------------------------ */
/* Answers                                                                  */

static void count(struct api *api, int code)
{
	if (code >= 100 && code < 600) {
		api->stats.by_class[code / 100]++;
	}
	switch (code) {
	case HTTP_BADREQUEST:
		api->stats.bad_request++;
		break;
	case 401:
		api->stats.unauthorized++;
		break;
	case 403:
		api->stats.forbidden++;
		break;
	case HTTP_NOTFOUND:
		api->stats.not_found++;
		break;
	case HTTP_BADMETHOD:
		api->stats.bad_method++;
		break;
	default:
		break;
	}
}

/* Sends body (taken over) as the answer; NULL means out of memory. */
void api_send_json(struct api *api, struct evhttp_request *req, int code,
		   json_t *body)
{
	static const char oom[] = "{\"error\":\"out of memory\",\"code\":500}";
	char *text = body != NULL ? json_dumps(body, JSON_FLAGS) : NULL;
	json_decref(body);

	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	evbuffer_drain(out, evbuffer_get_length(out));
	if (text == NULL || evbuffer_add(out, text, strlen(text)) != 0) {
		evbuffer_drain(out, evbuffer_get_length(out));
		evbuffer_add(out, oom, sizeof(oom) - 1);
		code = HTTP_INTERNAL;
	}
	free(text);
	evbuffer_add(out, "\n", 1);
	/* libevent 2.1 would send a body after HEAD too. */
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		evbuffer_drain(out, evbuffer_get_length(out));
	}
	struct evkeyvalq *hdrs = evhttp_request_get_output_headers(req);
	evhttp_remove_header(hdrs, "Content-Type");
	evhttp_add_header(hdrs, "Content-Type", "application/json");
	count(api, code);
	evhttp_send_reply(req, code, NULL, NULL);
}

void api_send_text(struct api *api, struct evhttp_request *req, int code,
		   const char *text)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	evbuffer_drain(out, evbuffer_get_length(out));
	if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD &&
	    evbuffer_add(out, text, strlen(text)) != 0) {
		api_send_json(api, req, HTTP_INTERNAL, NULL);
		return;
	}
	struct evkeyvalq *hdrs = evhttp_request_get_output_headers(req);
	evhttp_remove_header(hdrs, "Content-Type");
	evhttp_add_header(hdrs, "Content-Type", "text/plain; charset=utf-8");
	count(api, code);
	evhttp_send_reply(req, code, NULL, NULL);
}

void api_send_error(struct api *api, struct evhttp_request *req, int code,
		    const char *message)
{
	api_send_json(api, req, code,
		      json_pack("{s:s, s:i}", "error", message, "code", code));
}

void api_send_bad_method(struct api *api, struct evhttp_request *req,
			 const char *allow)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
			  allow);
	api_send_error(api, req, HTTP_BADMETHOD, "method not allowed");
}

void api_send_no_content(struct api *api, struct evhttp_request *req)
{
	count(api, HTTP_NOCONTENT);
	evhttp_send_reply(req, HTTP_NOCONTENT, "No Content", NULL);
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

/* RFC 3339 text of a wall-clock time into buf; NULL (omit) when never. */
const char *api_wall_text(gslb_time_t wall, char buf[GSLB_RFC3339_LEN])
{
	return wall == 0 ? NULL : gslb_time_rfc3339(wall, buf);
}

/* The same for a monotonic time from the registry. */
const char *api_mono_text(gslb_time_t mono, char buf[GSLB_RFC3339_LEN])
{
	return mono == 0
		       ? NULL
		       : gslb_time_rfc3339(gslb_clock_mono_to_wall(mono), buf);
}

const char *api_generated_at(char buf[GSLB_RFC3339_LEN])
{
	return gslb_time_rfc3339(gslb_clock_wall(), buf);
}

/* The validator's view of b; false (and info zeroed) when not checked. */
static bool check_info(const struct api *api, const struct gslb_backend *b,
		       struct gslb_health_info *info)
{
	memset(info, 0, sizeof(*info));
	if (api->srv->validator == NULL ||
	    !validator_backend_info(api->srv->validator, b, info)) {
		memset(info, 0, sizeof(*info));
		info->last_error = "";
		return false;
	}
	if (info->last_error == NULL) {
		info->last_error = "";
	}
	return true;
}

static bool validation_on(const struct api *api)
{
	return api->srv->validator != NULL &&
	       validator_enabled(api->srv->validator);
}

/* Registry service names are lower case without the final dot. */
char *api_service_key(const char *text)
{
	char *s = strdup(text);
	if (s == NULL) {
		return NULL;
	}
	size_t len = strlen(s);
	if (len > 1 && s[len - 1] == '.') {
		s[len - 1] = '\0';
	}
	for (char *p = s; *p != '\0'; p++) {
		*p = (char)tolower((unsigned char)*p);
	}
	return s;
}

/* Parses the query string into kv; false if evhttp cannot. */
bool api_parse_query(const char *query, struct evkeyvalq *kv)
{
	TAILQ_INIT(kv);
	if (query == NULL) {
		return true;
	}
	if (evhttp_parse_query_str(query, kv) != 0) {
		evhttp_clear_headers(kv);
		return false;
	}
	return true;
}

/* A query parameter, or NULL when absent or empty. */
const char *api_param(struct evkeyvalq *kv, const char *name)
{
	const char *v = evhttp_find_header(kv, name);
	return v != NULL && *v != '\0' ? v : NULL;
}

/* ------------------------------------------------------------------------ */
/* Access list                                                              */

static bool sockaddr_ip(const struct sockaddr *sa, struct gslb_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (sa == NULL) {
		return false;
	}
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;
		ip->family = AF_INET;
		memcpy(ip->addr, &sin->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;
		/* A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d,
		 * which the IPv4 entries of the list must still match. */
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			ip->family = AF_INET;
			memcpy(ip->addr, sin6->sin6_addr.s6_addr + 12, 4);
		} else {
			ip->family = AF_INET6;
			memcpy(ip->addr, &sin6->sin6_addr, 16);
		}
		return true;
	}
	return false;
}

/* The first comma-separated element of value, trimmed, as an IP. */
static bool header_ip(const char *value, struct gslb_ip *ip)
{
	if (value == NULL) {
		return false;
	}
	size_t len = strcspn(value, ",");
	while (len > 0 && isspace((unsigned char)*value)) {
		value++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)value[len - 1])) {
		len--;
	}
	char buf[GSLB_IP_STRLEN];
	if (len == 0 || len >= sizeof(buf)) {
		return false;
	}
	memcpy(buf, value, len);
	buf[len] = '\0';
	return gslb_ip_parse(buf, ip) == GSLB_EOK;
}

static bool client_ip(const struct gslb_config *cfg, struct evhttp_request *req,
		      struct gslb_ip *ip)
{
	if (cfg->api.trust_proxy_headers) {
		struct evkeyvalq *in = evhttp_request_get_input_headers(req);
		if (header_ip(evhttp_find_header(in, "X-Forwarded-For"), ip) ||
		    header_ip(evhttp_find_header(in, "X-Real-IP"), ip)) {
			return true;
		}
	}
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	return evcon != NULL &&
	       sockaddr_ip(evhttp_connection_get_addr(evcon), ip);
}

static bool allowed(const struct api *api, struct evhttp_request *req)
{
	/* Read at request time: a reload may have replaced the config. */
	const struct gslb_config *cfg = api->srv->cfg;
	struct gslb_ip ip = { 0 };
	if (client_ip(cfg, req, &ip)) {
		for (size_t i = 0; i < cfg->api.n_allowed_networks; i++) {
			if (gslb_cidr_contains(&cfg->api.allowed_networks[i],
					       &ip)) {
				return true;
			}
		}
	}
	char text[GSLB_IP_STRLEN] = "unknown";
	if (ip.family != 0) {
		gslb_ip_format(&ip, text);
	}
	log_neterr("api", "denied %s: not in api.allowed_networks", text);
	return false;
}

/* ------------------------------------------------------------------------ */
/* Health                                                                   */

static json_t *server_json(const struct api *api, const struct gslb_backend *b)
{
	struct gslb_health_info info;
	bool checked = check_info(api, b, &info);
	enum gslb_health_state state =
		checked ? info.track.state : GSLB_HEALTH_UNKNOWN;
	char addr[GSLB_IP_STRLEN];
	char last_check[GSLB_RFC3339_LEN];
	char last_healthy[GSLB_RFC3339_LEN];
	json_t *latency = NULL;
	if (checked && info.last_check != 0) {
		/* Milliseconds with microsecond precision. */
		latency = json_real((double)(info.last_latency / GSLB_USEC) /
				    1000.0);
	}
	return json_pack(
		"{s:s, s:i, s:s, s:s, s:b, s:s, s:s*, s:s*, s:I, s:I, s:s*, "
		"s:o*}",
		"address", gslb_ip_format(&b->ip, addr), "port", (int)b->port,
		"service", b->service, "region",
		b->region != NULL ? b->region : "", "healthy",
		state == GSLB_HEALTH_HEALTHY, "status",
		gslb_health_state_name(state), "last_check",
		api_wall_text(info.last_check, last_check), "last_healthy",
		api_wall_text(info.last_healthy, last_healthy),
		"consecutive_failures",
		(json_int_t)info.track.consecutive_failures,
		"consecutive_successes",
		(json_int_t)info.track.consecutive_successes, "last_error",
		info.last_error[0] != '\0' ? info.last_error : NULL,
		"latency_ms", latency);
}

static void handle_health_servers(struct api *api, struct evhttp_request *req,
				  const char *query)
{
	json_t *list = json_array();
	const struct gslb_registry *reg = api->srv->reg;
	const size_t n = gslb_registry_count(reg);
	for (size_t i = 0; list != NULL && i < n; i++) {
		const struct gslb_backend *b = gslb_registry_at(reg, i);
		if (b->source != GSLB_SOURCE_STATIC) {
			continue;
		}
		if (json_array_append_new(list, server_json(api, b)) != 0) {
			json_decref(list);
			list = NULL;
		}
	}
	char now[GSLB_RFC3339_LEN];
	api_send_json(api, req, HTTP_OK,
		      json_pack("{s:o, s:s}", "servers", list, "generated_at",
				api_generated_at(now)));
}

static void handle_regions(struct api *api, struct evhttp_request *req,
			   const char *query)
{
	const struct gslb_config *cfg = api->srv->cfg;
	const struct gslb_registry *reg = api->srv->reg;
	const size_t n = gslb_registry_count(reg);
	json_t *list = json_array();

	for (size_t r = 0; list != NULL && r < cfg->n_regions; r++) {
		const char *name = cfg->regions[r].name;
		json_int_t total = 0, healthy = 0;
		for (size_t i = 0; i < n; i++) {
			const struct gslb_backend *b = gslb_registry_at(reg, i);
			struct gslb_health_info info;
			if (b->source != GSLB_SOURCE_STATIC ||
			    b->region == NULL || strcmp(b->region, name) != 0) {
				continue;
			}
			total++;
			/* Not checked (unknown) counts as unhealthy. */
			if (check_info(api, b, &info) &&
			    info.track.state == GSLB_HEALTH_HEALTHY) {
				healthy++;
			}
		}
		double percent =
			total > 0 ? 100.0 * (double)healthy / (double)total
				  : 0.0;
		json_t *o =
			json_pack("{s:s, s:I, s:I, s:I, s:f}", "name", name,
				  "total_servers", total, "healthy_count",
				  healthy, "unhealthy_count", total - healthy,
				  "health_percent", percent);
		if (json_array_append_new(list, o) != 0) {
			json_decref(list);
			list = NULL;
		}
	}
	char now[GSLB_RFC3339_LEN];
	api_send_json(api, req, HTTP_OK,
		      json_pack("{s:o, s:s}", "regions", list, "generated_at",
				api_generated_at(now)));
}

static void handle_ready(struct api *api, struct evhttp_request *req,
			 const char *query)
{
	const struct server *srv = api->srv;
	bool dns = srv->dns_ready;
	bool health = srv->validator == NULL || validator_ready(srv->validator);
	const char *message = NULL;
	if (!dns && !health) {
		message = "DNS server not ready; health checks not ready";
	} else if (!dns) {
		message = "DNS server not ready";
	} else if (!health) {
		message = "health checks not ready";
	}
	api_send_json(api, req, dns && health ? HTTP_OK : HTTP_SERVUNAVAIL,
		      json_pack("{s:b, s:s*, s:b, s:b}", "ready", dns && health,
				"message", message, "dns_ready", dns,
				"health_ready", health));
}

static void handle_live(struct api *api, struct evhttp_request *req,
			const char *query)
{
	api_send_json(api, req, HTTP_OK, json_pack("{s:b}", "alive", 1));
}

static void handle_version(struct api *api, struct evhttp_request *req,
			   const char *query)
{
	const struct server *srv = api->srv;
	char knot[32];
	char started[GSLB_RFC3339_LEN];
	snprintf(knot, sizeof(knot), "%d.%d.%d", KNOT_VERSION_MAJOR,
		 KNOT_VERSION_MINOR, KNOT_VERSION_PATCH);
	const char *node = srv->cfg->overwatch.node_id;
	api_send_json(api, req, HTTP_OK,
		      json_pack("{s:s, s:s, s:s, s:s*}", "version",
				PACKAGE_VERSION, "libknot", knot, "node_id",
				node != NULL ? node : "", "started_at",
				api_wall_text(srv->started, started)));
}

/* ------------------------------------------------------------------------ */
/* Overwatch: backends and stats                                            */

json_t *api_backend_json(const struct api *api, const struct gslb_backend *b)
{
	char addr[GSLB_IP_STRLEN];
	char seen[GSLB_RFC3339_LEN];
	json_t *o = json_pack(
		"{s:s, s:s, s:i, s:I, s:s, s:s, s:s, s:s, s:b, s:s*}",
		"service", b->service, "address", gslb_ip_format(&b->ip, addr),
		"port", (int)b->port, "weight", (json_int_t)b->weight,
		"agent_id", b->agent_id != NULL ? b->agent_id : "", "region",
		b->region != NULL ? b->region : "", "source",
		gslb_source_name(b->source), "effective_status",
		gslb_status_name(b->status), "agent_healthy",
		(int)b->agent_healthy, "agent_last_seen",
		api_mono_text(b->agent_last_seen, seen));
	if (o == NULL) {
		return NULL;
	}
	int err = 0;
	if (b->validation != GSLB_UNKNOWN) {
		struct gslb_health_info info;
		char last[GSLB_RFC3339_LEN];
		/* The check itself is more recent than the last change of
		 * the validation fact. */
		const char *when =
			check_info(api, b, &info) && info.last_check != 0
				? api_wall_text(info.last_check, last)
				: api_mono_text(b->validation_last_check, last);
		err |= json_object_set_new(
			o, "validation_healthy",
			json_boolean(b->validation == GSLB_YES));
		if (when != NULL) {
			err |= json_object_set_new(o, "validation_last_check",
						   json_string(when));
		}
		err |= json_object_set_new(o, "validation_error",
					   json_string(info.last_error));
	}
	const struct store_override *ov =
		b->override != GSLB_UNKNOWN
			? overrides_for(state_overrides(api->srv->state), b)
			: NULL;
	if (ov != NULL) {
		char at[GSLB_RFC3339_LEN];
		err |= json_object_set_new(o, "override_status",
					   json_boolean(ov->healthy));
		err |= json_object_set_new(o, "override_reason",
					   json_string(ov->reason));
		err |= json_object_set_new(
			o, "override_by",
			json_string(ov->set_by != NULL ? ov->set_by : ""));
		err |= json_object_set_new(
			o, "override_at",
			json_string(gslb_time_rfc3339(ov->created, at)));
	}
	if (err != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static void handle_backends(struct api *api, struct evhttp_request *req,
			    const char *query)
{
	struct evkeyvalq kv;
	if (!api_parse_query(query, &kv)) {
		api_send_error(api, req, HTTP_BADREQUEST, "invalid query");
		return;
	}
	const char *service = api_param(&kv, "service");
	const char *region = api_param(&kv, "region");
	const char *status = api_param(&kv, "status");
	char *svc = NULL;
	json_t *list = json_array();
	if (service != NULL && (svc = api_service_key(service)) == NULL) {
		json_decref(list);
		list = NULL;
	}

	const struct gslb_registry *reg = api->srv->reg;
	const size_t n = gslb_registry_count(reg);
	for (size_t i = 0; list != NULL && i < n; i++) {
		const struct gslb_backend *b = gslb_registry_at(reg, i);
		if ((svc != NULL && strcmp(b->service, svc) != 0) ||
		    (region != NULL &&
		     strcmp(b->region != NULL ? b->region : "", region) != 0) ||
		    (status != NULL &&
		     strcmp(gslb_status_name(b->status), status) != 0)) {
			continue;
		}
		if (json_array_append_new(list, api_backend_json(api, b)) !=
		    0) {
			json_decref(list);
			list = NULL;
		}
	}
	free(svc);
	evhttp_clear_headers(&kv);
	char now[GSLB_RFC3339_LEN];
	api_send_json(api, req, HTTP_OK,
		      json_pack("{s:o, s:s}", "backends", list, "generated_at",
				api_generated_at(now)));
}

/* Adds one to the count under key. */
static int bump(json_t *counts, const char *key)
{
	json_t *v = json_object_get(counts, key);
	if (v != NULL) {
		return json_integer_set(v, json_integer_value(v) + 1);
	}
	return json_object_set_new(counts, key, json_integer(1));
}

static void handle_stats(struct api *api, struct evhttp_request *req,
			 const char *query)
{
	const struct gslb_registry *reg = api->srv->reg;
	const size_t n = gslb_registry_count(reg);
	json_int_t healthy = 0, unhealthy = 0, stale = 0, draining = 0;
	json_int_t overrides = 0, validated = 0, disagree = 0;
	json_t *by_service = json_object();
	json_t *by_region = json_object();
	json_t *by_agent = json_object();
	int err = by_service == NULL || by_region == NULL || by_agent == NULL;

	for (size_t i = 0; !err && i < n; i++) {
		const struct gslb_backend *b = gslb_registry_at(reg, i);
		switch (b->status) {
		case GSLB_STATUS_HEALTHY:
			healthy++;
			break;
		case GSLB_STATUS_UNHEALTHY:
			unhealthy++;
			break;
		case GSLB_STATUS_STALE:
			stale++;
			break;
		case GSLB_STATUS_DRAINING:
			draining++;
			break;
		}
		overrides += b->override != GSLB_UNKNOWN;
		if (b->validation != GSLB_UNKNOWN) {
			validated++;
			/* Only agents claim anything to disagree with. */
			if (b->source == GSLB_SOURCE_AGENT &&
			    (b->validation == GSLB_YES) != b->agent_healthy) {
				disagree++;
			}
		}
		err |= bump(by_service, b->service);
		err |= bump(by_region, b->region != NULL ? b->region : "");
		if (b->source == GSLB_SOURCE_AGENT && b->agent_id != NULL) {
			err |= bump(by_agent, b->agent_id);
		}
	}
	const json_int_t agents = (json_int_t)json_object_size(by_agent);
	json_decref(by_agent);
	if (err) {
		json_decref(by_service);
		json_decref(by_region);
		api_send_json(api, req, HTTP_INTERNAL, NULL);
		return;
	}
	const struct store *store = state_store(api->srv->state);
	const char *store_error = store_last_error(store);
	json_t *store_json =
		json_pack("{s:s, s:b, s:s*}", "path", store_path(store), "ok",
			  store_error == NULL, "error", store_error);
	char now[GSLB_RFC3339_LEN];
	api_send_json(
		api, req, HTTP_OK,
		json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:I, s:I, s:I, "
			  "s:I, s:o, s:o, s:o, s:s}",
			  "total_backends", (json_int_t)n, "healthy_backends",
			  healthy, "unhealthy_backends", unhealthy,
			  "stale_backends", stale, "draining_backends",
			  draining, "active_overrides", overrides,
			  "validation_enabled", validation_on(api),
			  "validated_backends", validated, "disagreement_count",
			  disagree, "active_agents", agents, "unique_services",
			  (json_int_t)json_object_size(by_service),
			  "backends_by_service", by_service,
			  "backends_by_region", by_region, "store", store_json,
			  "generated_at", api_generated_at(now)));
}

/* ------------------------------------------------------------------------ */
/* Overwatch: validate                                                      */

static void pending_release(struct pending *p, bool cancel)
{
	struct api *api = p->api;
	if (cancel && p->vreq != NULL) {
		validator_request_cancel(p->vreq);
	}
	evhttp_connection_set_closecb(p->evcon, NULL, NULL);
	if (p->watch != NULL) {
		event_free(p->watch);
	}
	if (p->prev != NULL) {
		p->prev->next = p->next;
	} else {
		api->pending = p->next;
	}
	if (p->next != NULL) {
		p->next->prev = p->prev;
	}
	free(p);
}

static void pending_finish(struct pending *p)
{
	struct api *api = p->api;
	struct evhttp_request *req = p->req;
	const char *message = p->message;
	pending_release(p, false);
	api_send_json(
		api, req, HTTP_OK,
		json_pack("{s:b, s:s}", "success", 1, "message", message));
}

static void on_validated(void *arg)
{
	struct pending *p = arg;
	if (p->starting) {
		p->completed = true;
		return;
	}
	p->vreq = NULL;
	pending_finish(p);
}

/* evhttp frees the connection, and with it the request we hold. */
static void on_client_close(struct evhttp_connection *evcon, void *arg)
{
	pending_release(arg, true);
}

/*
 * libevent 2.1 stops reading a connection while its request is being
 * answered, so it only notices a client that left when the answer is
 * written. Peek at the socket to cancel the checks as soon as it leaves.
 */
static void on_client_readable(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK);
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR))) {
		/* A pipelined request: evhttp reads it after our answer. */
		return;
	}
	struct evhttp_connection *evcon = p->evcon;
	log_debug("api", "client left before validation completed");
	pending_release(p, true);
	evhttp_connection_free(evcon);
}

static void validate_start(struct api *api, struct evhttp_request *req,
			   const struct gslb_backend *b)
{
	struct pending *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		api_send_json(api, req, HTTP_INTERNAL, NULL);
		return;
	}
	p->api = api;
	p->req = req;
	p->evcon = evhttp_request_get_connection(req);
	p->message = b != NULL ? "Validation triggered for specific backend"
			       : "Validation triggered for all backends";
	p->next = api->pending;
	if (api->pending != NULL) {
		api->pending->prev = p;
	}
	api->pending = p;
	evhttp_connection_set_closecb(p->evcon, on_client_close, p);
	struct bufferevent *bev = evhttp_connection_get_bufferevent(p->evcon);
	evutil_socket_t fd = bev != NULL ? bufferevent_getfd(bev) : -1;
	if (fd >= 0) {
		/* Without it the client leaving is noticed later; fine. */
		p->watch = event_new(api->srv->base, fd, EV_READ,
				     on_client_readable, p);
		if (p->watch != NULL) {
			event_add(p->watch, NULL);
		}
	}

	p->starting = true;
	struct validator_request *vreq =
		validator_check_now(api->srv->validator, b, on_validated, p);
	p->starting = false;
	if (p->completed) {
		pending_finish(p);
		return;
	}
	if (vreq == NULL) {
		pending_release(p, false);
		api_send_json(api, req, HTTP_INTERNAL, NULL);
		return;
	}
	p->vreq = vreq;
}

bool api_port_parse(const char *text, uint16_t *port)
{
	unsigned long v = 0;
	if (*text == '\0' || strlen(text) > 5) {
		return false;
	}
	for (const char *c = text; *c != '\0'; c++) {
		if (*c < '0' || *c > '9') {
			return false;
		}
		v = v * 10 + (unsigned long)(*c - '0');
	}
	if (v < 1 || v > 65535) {
		return false;
	}
	*port = (uint16_t)v;
	return true;
}

static void handle_validate(struct api *api, struct evhttp_request *req,
			    const char *query)
{
	if (!validation_on(api)) {
		api_send_error(api, req, HTTP_SERVUNAVAIL,
			       "validator not available");
		return;
	}
	struct evkeyvalq kv;
	if (!api_parse_query(query, &kv)) {
		api_send_error(api, req, HTTP_BADREQUEST, "invalid query");
		return;
	}
	const char *service = api_param(&kv, "service");
	const char *address = api_param(&kv, "address");
	const char *port_text = api_param(&kv, "port");
	int given = (service != NULL) + (address != NULL) + (port_text != NULL);
	const struct gslb_backend *b = NULL;
	uint16_t port = 0;
	struct gslb_ip ip;

	if (given == 0) {
		evhttp_clear_headers(&kv);
		validate_start(api, req, NULL);
		return;
	}
	if (given != 3) {
		api_send_error(api, req, HTTP_BADREQUEST,
			       "service, address and port go together");
	} else if (!api_port_parse(port_text, &port)) {
		api_send_error(api, req, HTTP_BADREQUEST, "invalid port");
	} else if (gslb_ip_parse(address, &ip) != GSLB_EOK) {
		api_send_error(api, req, HTTP_BADREQUEST, "invalid address");
	} else {
		char *svc = api_service_key(service);
		if (svc == NULL) {
			api_send_json(api, req, HTTP_INTERNAL, NULL);
			evhttp_clear_headers(&kv);
			return;
		}
		b = gslb_registry_find(api->srv->reg, svc, &ip, port);
		free(svc);
		if (b == NULL) {
			char msg[512];
			snprintf(msg, sizeof(msg),
				 "backend not found: %s:%s:%s", service,
				 address, port_text);
			api_send_error(api, req, HTTP_NOTFOUND, msg);
		} else {
			validate_start(api, req, b);
		}
	}
	evhttp_clear_headers(&kv);
}

/* ------------------------------------------------------------------------ */
/* Dispatch                                                                 */

static const struct route routes[] = {
	{ "/api/v1/health/servers", EVHTTP_REQ_GET, "GET, HEAD", true,
	  handle_health_servers, NULL },
	{ "/api/v1/health/regions", EVHTTP_REQ_GET, "GET, HEAD", true,
	  handle_regions, NULL },
	{ "/api/v1/ready", EVHTTP_REQ_GET, "GET, HEAD", false, handle_ready,
	  NULL },
	{ "/api/v1/live", EVHTTP_REQ_GET, "GET, HEAD", false, handle_live,
	  NULL },
	{ "/api/v1/overwatch/backends", EVHTTP_REQ_GET, "GET, HEAD", true,
	  handle_backends, api_handle_backend_override },
	{ "/api/v1/overwatch/stats", EVHTTP_REQ_GET, "GET, HEAD", true,
	  handle_stats, NULL },
	{ "/api/v1/overwatch/validate", EVHTTP_REQ_POST, "POST", true,
	  handle_validate, NULL },
	{ "/api/v1/overwatch/agents", 0, NULL, true, NULL, api_handle_agents },
	{ "/api/v1/overrides", 0, NULL, true, NULL, api_handle_overrides },
	{ "/api/v1/servers", 0, NULL, true, NULL, api_handle_servers },
	{ "/api/v1/audit-logs", 0, NULL, true, NULL, api_handle_audit },
	{ "/api/v1/dnssec", 0, NULL, true, NULL, api_handle_dnssec },
	{ "/api/v1/version", EVHTTP_REQ_GET, "GET, HEAD", false, handle_version,
	  NULL },
};

/* The route for path; *rest is what follows its path ("" for the path
 * itself, which goes to fn when the route has one). */
static const struct route *route_find(const char *path, const char **rest)
{
	for (size_t i = 0; path != NULL && i < GSLB_ARRAY_SIZE(routes); i++) {
		const struct route *r = &routes[i];
		size_t len = strlen(r->path);
		if (strncmp(path, r->path, len) != 0) {
			continue;
		}
		if (path[len] == '\0') {
			*rest = "";
			return r;
		}
		if (path[len] == '/' && r->tree != NULL) {
			*rest = path + len + 1;
			return r;
		}
	}
	return NULL;
}

static bool is_write(enum evhttp_cmd_type cmd)
{
	return cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD;
}

/* The name of the api.tokens entry the request's bearer token matches;
 * NULL (and *sent false when there was none) otherwise. */
static const char *token_name(const struct gslb_config *cfg,
			      struct evhttp_request *req, bool *sent)
{
	const char *auth = evhttp_find_header(
		evhttp_request_get_input_headers(req), "Authorization");
	*sent = false;
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0) {
		return NULL;
	}
	const char *token = auth + 7;
	while (*token == ' ') {
		token++;
	}
	*sent = *token != '\0';
	const char *name = NULL;
	/* Every entry is compared, so the time does not tell which one. */
	for (size_t i = 0; i < cfg->api.n_tokens; i++) {
		if (gslb_token_equal(token, strlen(token),
				     cfg->api.tokens[i].token)) {
			name = cfg->api.tokens[i].name;
		}
	}
	return name;
}

static void caller_init(struct api_caller *c, const struct gslb_config *cfg,
			struct evhttp_request *req)
{
	memset(c, 0, sizeof(*c));
	c->local = httpd_is_unix(req);
	if (c->local) {
		struct evhttp_connection *evcon =
			evhttp_request_get_connection(req);
		struct bufferevent *bev =
			evhttp_connection_get_bufferevent(evcon);
		struct ucred cred;
		socklen_t len = sizeof(cred);
		if (getsockopt(bufferevent_getfd(bev), SOL_SOCKET, SO_PEERCRED,
			       &cred, &len) == 0) {
			snprintf(c->client, sizeof(c->client), "unix (uid %u)",
				 (unsigned)cred.uid);
		} else {
			snprintf(c->client, sizeof(c->client), "unix");
		}
	} else {
		struct gslb_ip ip;
		char text[GSLB_IP_STRLEN] = "unknown";
		if (client_ip(cfg, req, &ip)) {
			gslb_ip_format(&ip, text);
		}
		snprintf(c->client, sizeof(c->client), "%s", text);
	}
	c->actor.client = c->client;
}

/* Writes over TCP need a token when api.tokens has any; false (answered
 * 401) when the request lacks a good one. */
static bool authenticate(struct api *api, struct evhttp_request *req,
			 struct api_caller *c)
{
	const struct gslb_config *cfg = api->srv->cfg;
	if (c->local || cfg->api.n_tokens == 0 ||
	    !is_write(evhttp_request_get_command(req))) {
		return true;
	}
	bool sent;
	c->actor.name = token_name(cfg, req, &sent);
	if (c->actor.name != NULL) {
		return true;
	}
	log_neterr("api", "refused a write from %s: %s", c->client,
		   sent ? "invalid token" : "no token");
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "WWW-Authenticate", "Bearer realm=\"opengslb\"");
	api_send_error(api, req, 401,
		       sent ? "invalid token"
			    : "authentication required: send \"Authorization: "
			      "Bearer TOKEN\" with a token from api.tokens");
	return false;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct api *api = arg;
	api->stats.requests++;

	struct api_caller caller;
	caller_init(&caller, api->srv->cfg, req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	const char *rest = "";
	const struct route *route = route_find(path, &rest);
	/* Unknown paths too: a denied client learns nothing of the API.
	 * The local socket's file permissions did the checking already. */
	if (!caller.local && (route == NULL || route->acl) &&
	    !allowed(api, req)) {
		api_send_error(api, req, 403, "forbidden");
		return;
	}
	if (route == NULL) {
		api_send_error(api, req, HTTP_NOTFOUND, "not found");
		return;
	}
	if (!authenticate(api, req, &caller)) {
		return;
	}
	const char *query = evhttp_uri_get_query(uri);
	if (*rest != '\0' || route->fn == NULL) {
		route->tree(api, req, rest, query, &caller);
		return;
	}
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	/* HEAD is GET without the body (RFC 9110), as load balancers'
	 * probes expect. */
	if (cmd != route->method &&
	    !(cmd == EVHTTP_REQ_HEAD && route->method == EVHTTP_REQ_GET)) {
		api_send_bad_method(api, req, route->allow);
		return;
	}
	route->fn(api, req, query);
}

/* ------------------------------------------------------------------------ */
/* Start and stop                                                           */

/* Whether every address of "host:port" is a loopback one. */
static bool api_address_is_loopback(const char *address)
{
	char *host = NULL;
	uint16_t port;
	struct gslb_ip ip;
	bool loopback = false;
	if (gslb_hostport_split(address, &host, &port) == GSLB_EOK &&
	    gslb_ip_parse(host, &ip) == GSLB_EOK) {
		loopback = ip.family == AF_INET
				   ? ip.addr[0] == 127
				   : IN6_IS_ADDR_LOOPBACK(
					     (struct in6_addr *)ip.addr);
	} else if (host != NULL && strcmp(host, "localhost") == 0) {
		loopback = true;
	}
	free(host);
	return loopback;
}

int api_start(struct server *srv, struct api **out)
{
	*out = NULL;
	if (!srv->cfg->api.enabled) {
		return GSLB_EOK;
	}
	const char *address = srv->cfg->api.address;
	struct api *api = calloc(1, sizeof(*api));
	if (api == NULL) {
		return GSLB_ENOMEM;
	}
	api->srv = srv;
	api->http = httpd_new(srv->base, "api", "api.address", address,
			      HTTPD_MAX_BODY, on_request, api);
	if (api->http == NULL) {
		free(api);
		return GSLB_EINVAL;
	}
	const char *socket = srv->cfg->api.socket;
	if (socket != NULL && httpd_add_unix(api->http, "api", "api.socket",
					     socket) != GSLB_EOK) {
		evhttp_free(api->http);
		free(api);
		return GSLB_EINVAL;
	}
	api->socket = socket != NULL ? strdup(socket) : NULL;
	if (srv->cfg->api.n_tokens == 0 && !api_address_is_loopback(address)) {
		log_warn("api",
			 "api.address %s is not loopback and api.tokens "
			 "is empty: writes need no token",
			 address);
	}
	log_info("api", "REST API listening on %s%s%s", address,
		 socket != NULL ? " and " : "", socket != NULL ? socket : "");
	*out = api;
	return GSLB_EOK;
}

void api_free(struct api *api)
{
	if (api == NULL) {
		return;
	}
	while (api->pending != NULL) {
		pending_release(api->pending, true);
	}
	api_writes_abandon(api);
	evhttp_free(api->http);
	if (api->socket != NULL) {
		unlink(api->socket);
		free(api->socket);
	}
	const struct api_stats *st = &api->stats;
	log_info("api",
		 "answered %" PRIu64 " requests: 2xx %" PRIu64 ", 4xx %" PRIu64
		 " (400 %" PRIu64 ", 401 %" PRIu64 ", 403 %" PRIu64
		 ", 404 %" PRIu64 ", 405 %" PRIu64 "), 5xx %" PRIu64,
		 st->requests, st->by_class[2], st->by_class[4],
		 st->bad_request, st->unauthorized, st->forbidden,
		 st->not_found, st->bad_method, st->by_class[5]);
	free(api);
}

void api_responses(const struct api *api, uint64_t by_class[API_STATUS_CLASSES])
{
	memcpy(by_class, api->stats.by_class, sizeof(api->stats.by_class));
}
