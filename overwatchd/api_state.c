/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The API endpoints that change state (overrides, servers) and the audit
 * log. A change is answered only once the state database has committed
 * it (state.c), so a 2xx survives kill -9; until then the request waits in
 * api->writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api_internal.h"
#include "error.h"
#include "log.h"
#include "overrides.h"
#include "server.h"

#define OVERRIDE_PATH_ERROR \
	"invalid path: expected /api/v1/overrides/{service}/{address}"
#define BACKEND_PATH_ERROR        \
	"invalid path: expected " \
	"/api/v1/overwatch/backends/{service}/{address}/{port}/override"
#define REASON_MAX      512
#define SOURCE_MAX      64
#define EXPIRES_MAX     (366 * 24 * 3600 * GSLB_SEC)
#define AUDIT_LIMIT_MAX 1000

enum write_kind {
	W_OVERRIDE_PUT,
	W_OVERRIDE_DELETE,
	W_BACKEND_OVERRIDE_SET,
	W_BACKEND_OVERRIDE_CLEAR,
	W_SERVER_ADD,
	W_SERVER_REMOVE,
	W_AGENT_REVOKE,
	W_AUDIT,
};

/* A request waiting for the state database. */
struct write {
	struct api *api;
	struct evhttp_request *req; /* NULL once nobody waits for the answer */
	struct evhttp_connection *evcon;
	enum write_kind kind;
	/* The key changed, to build the answer. */
	char *service;
	struct gslb_ip ip;
	uint16_t port;
	bool healthy;
	/* W_AGENT_REVOKE */
	size_t removed;
	/* W_AUDIT */
	size_t limit;
	size_t offset;
	struct write *prev;
	struct write *next;
};

/* ------------------------------------------------------------------------ */
/* Waiting                                                                  */

static void write_unlink(struct write *w)
{
	struct api *api = w->api;
	if (w->req != NULL) {
		evhttp_connection_set_closecb(w->evcon, NULL, NULL);
	}
	if (w->prev != NULL) {
		w->prev->next = w->next;
	} else if (api != NULL) {
		api->writes = w->next;
	}
	if (w->next != NULL) {
		w->next->prev = w->prev;
	}
	w->prev = w->next = NULL;
	w->api = NULL;
}

static void write_free(struct write *w)
{
	if (w->api != NULL) {
		write_unlink(w);
	}
	free(w->service);
	free(w);
}

/* evhttp frees the connection and the request: answer nobody. */
static void on_write_client_close(struct evhttp_connection *evcon, void *arg)
{
	struct write *w = arg;
	w->req = NULL;
	write_unlink(w);
}

static struct write *write_new(struct api *api, struct evhttp_request *req,
			       enum write_kind kind)
{
	struct write *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		return NULL;
	}
	w->api = api;
	w->req = req;
	w->evcon = evhttp_request_get_connection(req);
	w->kind = kind;
	w->next = api->writes;
	if (api->writes != NULL) {
		api->writes->prev = w;
	}
	api->writes = w;
	evhttp_connection_set_closecb(w->evcon, on_write_client_close, w);
	return w;
}

void api_writes_abandon(struct api *api)
{
	while (api->writes != NULL) {
		struct write *w = api->writes;
		write_unlink(w);
		w->req = NULL;
	}
}

/* The request to answer, or NULL when nobody waits; unlinks w. */
static struct evhttp_request *write_take(struct write *w, struct api **api)
{
	*api = w->api;
	struct evhttp_request *req = w->api != NULL ? w->req : NULL;
	if (w->api != NULL) {
		write_unlink(w);
	}
	return req;
}

/* The status for a change that did not happen. */
static int failure_code(int err)
{
	switch (err) {
	case GSLB_EEXIST:
		return 409;
	case GSLB_ENOMEM:
		return HTTP_INTERNAL;
	default:
		/* The database could not take it: try again later. */
		return HTTP_SERVUNAVAIL;
	}
}

/*
 * After a change's commit: the request to answer with its success, or NULL
 * when nobody waits or it failed (answered here, with why). w is freed
 * unless a request is returned.
 */
static struct evhttp_request *
write_outcome(struct write *w, int err, const char *message, struct api **api)
{
	struct evhttp_request *req = write_take(w, api);
	if (req != NULL && err != GSLB_EOK) {
		char msg[512];
		snprintf(msg, sizeof(msg), "not saved: %s",
			 message != NULL ? message : gslb_strerror(err));
		api_send_error(*api, req, failure_code(err), msg);
		req = NULL;
	}
	if (req == NULL) {
		write_free(w);
	}
	return req;
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                  */

/* The request's body as a JSON object; NULL after answering why not. */
static json_t *read_body(struct api *api, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	char msg[256];
	if (len > API_MAX_BODY) {
		snprintf(msg, sizeof(msg),
			 "request body too large: %zu bytes, at most %d", len,
			 API_MAX_BODY);
		api_send_error(api, req, 413, msg);
		return NULL;
	}
	if (len == 0) {
		api_send_error(api, req, HTTP_BADREQUEST,
			       "request body required: a JSON object");
		return NULL;
	}
	const char *text = (const char *)evbuffer_pullup(in, -1);
	json_error_t jerr;
	json_t *body = text != NULL ? json_loadb(text, len,
						 JSON_REJECT_DUPLICATES, &jerr)
				    : NULL;
	if (body == NULL) {
		snprintf(msg, sizeof(msg),
			 "invalid request body: %s (line %d, column %d)",
			 text != NULL ? jerr.text : "out of memory", jerr.line,
			 jerr.column);
		api_send_error(api, req, HTTP_BADREQUEST, msg);
		return NULL;
	}
	if (!json_is_object(body)) {
		json_decref(body);
		api_send_error(api, req, HTTP_BADREQUEST,
			       "request body must be a JSON object");
		return NULL;
	}
	return body;
}

/* NULL when every key of body is in allowed (NULL-terminated); else the
 * first that is not. */
static const char *unknown_field(json_t *body, const char *const *allowed)
{
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v)
	{
		bool known = false;
		for (const char *const *a = allowed; *a != NULL && !known;
		     a++) {
			known = strcmp(key, *a) == 0;
		}
		if (!known) {
			return key;
		}
	}
	return NULL;
}

static bool refuse_unknown(struct api *api, struct evhttp_request *req,
			   json_t *body, const char *const *allowed,
			   const char *list)
{
	const char *key = unknown_field(body, allowed);
	if (key == NULL) {
		return false;
	}
	char msg[512];
	snprintf(msg, sizeof(msg), "unknown field \"%.64s\" (fields: %s)", key,
		 list);
	api_send_error(api, req, HTTP_BADREQUEST, msg);
	return true;
}

/*
 * A string field: required or not, non-empty, at most max bytes, without
 * control characters. NULL after answering why not (*absent tells an
 * absent optional field apart).
 */
static const char *string_field(struct api *api, struct evhttp_request *req,
				json_t *body, const char *name, size_t max,
				bool required, bool *absent)
{
	json_t *v = json_object_get(body, name);
	char msg[256];
	*absent = v == NULL || json_is_null(v);
	if (*absent) {
		if (required) {
			snprintf(msg, sizeof(msg), "%s is required", name);
			api_send_error(api, req, HTTP_BADREQUEST, msg);
		}
		return NULL;
	}
	const char *s = json_string_value(v);
	const char *problem = NULL;
	if (s == NULL) {
		problem = "must be a string";
	} else if (*s == '\0') {
		problem = "must not be empty";
	} else if (strlen(s) > max) {
		problem = "is too long";
	} else {
		for (const char *c = s; *c != '\0'; c++) {
			if ((unsigned char)*c < ' ' || *c == 0x7f) {
				problem = "must not contain control characters";
				break;
			}
		}
	}
	if (problem != NULL) {
		*absent = false;
		snprintf(msg, sizeof(msg), "%s %s", name, problem);
		api_send_error(api, req, HTTP_BADREQUEST, msg);
		return NULL;
	}
	return s;
}

/* Decodes one path segment (caller frees); NULL when empty or bad. */
static char *segment_decode(const char *start, size_t len)
{
	char *raw = strndup(start, len);
	if (raw == NULL) {
		return NULL;
	}
	size_t out_len = 0;
	char *text = evhttp_uridecode(raw, 0, &out_len);
	free(raw);
	if (text != NULL && (out_len == 0 || strlen(text) != out_len)) {
		free(text);
		text = NULL;
	}
	return text;
}

/* "IP", "IP:PORT" or "[IPv6]:PORT"; port 0 for a bare IP. */
static bool address_parse(const char *text, struct gslb_ip *ip, uint16_t *port)
{
	if (gslb_ip_parse(text, ip) == GSLB_EOK) {
		*port = 0;
		return true;
	}
	char *host = NULL;
	bool ok = gslb_hostport_split(text, &host, port) == GSLB_EOK &&
		  gslb_ip_parse(host, ip) == GSLB_EOK;
	free(host);
	return ok;
}

/* The configured domain's registry name (caller frees); NULL after
 * answering 404 (or 500). */
static char *known_service(struct api *api, struct evhttp_request *req,
			   const char *text)
{
	char *svc = api_service_key(text);
	if (svc == NULL) {
		api_send_json(api, req, HTTP_INTERNAL, NULL);
		return NULL;
	}
	if (gslb_config_domain(api->srv->cfg, svc) == NULL) {
		char msg[512];
		snprintf(msg, sizeof(msg),
			 "unknown service \"%.300s\": not a domain of the "
			 "configuration",
			 text);
		api_send_error(api, req, HTTP_NOTFOUND, msg);
		free(svc);
		return NULL;
	}
	return svc;
}

/* Who set an override, as its set_by shows. */
static const char *setter(const struct api_caller *caller,
			  struct evhttp_request *req)
{
	if (caller->actor.name != NULL) {
		return caller->actor.name;
	}
	if (caller->local) {
		return "local";
	}
	const char *user = evhttp_find_header(
		evhttp_request_get_input_headers(req), "X-User");
	return user != NULL && *user != '\0' ? user : "api";
}

/* ------------------------------------------------------------------------ */
/* Overrides                                                                */

static void on_override_done(void *arg, int err, const char *message)
{
	struct write *w = arg;
	struct api *api;
	struct evhttp_request *req = write_outcome(w, err, message, &api);
	if (req == NULL) {
		return;
	}
	const struct state *st = api->srv->state;
	const struct store_override *o = overrides_find(
		state_overrides(st), w->service, &w->ip, w->port);
	switch (w->kind) {
	case W_OVERRIDE_PUT:
		if (o != NULL) {
			api_send_json(api, req, HTTP_OK,
				      state_override_json(st, o));
		} else {
			/* A DELETE queued behind it has taken it away. */
			api_send_no_content(api, req);
		}
		break;
	case W_BACKEND_OVERRIDE_SET:
		api_send_json(api, req, HTTP_OK,
			      json_pack("{s:b, s:s}", "success", 1, "message",
					w->healthy ? "Override set: backend "
						     "marked as healthy"
						   : "Override set: backend "
						     "marked as unhealthy"));
		break;
	case W_BACKEND_OVERRIDE_CLEAR:
		api_send_json(api, req, HTTP_OK,
			      json_pack("{s:b, s:s}", "success", 1, "message",
					"Override cleared"));
		break;
	default:
		api_send_no_content(api, req);
		break;
	}
	write_free(w);
}

/* The expiry from expires_in or expires_at; false after answering. */
static bool expiry_parse(struct api *api, struct evhttp_request *req,
			 json_t *body, gslb_time_t now, gslb_time_t *expires)
{
	json_t *in = json_object_get(body, "expires_in");
	json_t *at = json_object_get(body, "expires_at");
	gslb_duration_t d = 0;
	*expires = 0;
	if (in != NULL && !json_is_null(in) && at != NULL &&
	    !json_is_null(at)) {
		api_send_error(api, req, HTTP_BADREQUEST,
			       "give expires_in or expires_at, not both");
		return false;
	}
	if (in != NULL && !json_is_null(in)) {
		if (json_is_integer(in)) {
			json_int_t secs = json_integer_value(in);
			d = secs > 0 && secs <= EXPIRES_MAX / GSLB_SEC
				    ? (gslb_duration_t)secs * GSLB_SEC
				    : -1;
		} else if (!json_is_string(in) ||
			   gslb_duration_parse(json_string_value(in), &d) !=
				   GSLB_EOK) {
			d = -1;
		}
		if (d <= 0 || d > EXPIRES_MAX) {
			api_send_error(api, req, HTTP_BADREQUEST,
				       "expires_in must be a duration such as "
				       "\"30m\" or \"2h\", or seconds, between "
				       "1s and 366 days");
			return false;
		}
		*expires = now + d;
	} else if (at != NULL && !json_is_null(at)) {
		gslb_time_t t = 0;
		if (!json_is_string(at) ||
		    gslb_time_parse_rfc3339(json_string_value(at), &t) != 0) {
			api_send_error(api, req, HTTP_BADREQUEST,
				       "expires_at must be an RFC 3339 time "
				       "such as \"2026-12-01T08:00:00Z\"");
			return false;
		}
		if (t <= now || t - now > EXPIRES_MAX) {
			api_send_error(api, req, HTTP_BADREQUEST,
				       "expires_at must lie in the next 366 "
				       "days");
			return false;
		}
		*expires = t;
	}
	return true;
}

/* Whether the override key covers at least one backend of the service. */
static bool covers_any(const struct gslb_registry *reg,
		       const struct store_override *o)
{
	for (size_t i = 0; i < gslb_registry_count(reg); i++) {
		if (overrides_covers(o, gslb_registry_at(reg, i))) {
			return true;
		}
	}
	return false;
}

/* Checks and sets; takes over rec. */
static void override_submit(struct api *api, struct evhttp_request *req,
			    struct store_override *rec,
			    const struct api_caller *caller,
			    enum write_kind kind)
{
	char msg[512];
	if (!covers_any(api->srv->reg, rec)) {
		char addr[STATE_ADDRESS_LEN];
		snprintf(msg, sizeof(msg), "no backend %s in service %s",
			 state_address_text(&rec->ip, rec->port, addr),
			 rec->service);
		api_send_error(api, req, HTTP_NOTFOUND, msg);
		store_override_clear(rec);
		return;
	}
	struct write *w = write_new(api, req, kind);
	if (w == NULL || (w->service = strdup(rec->service)) == NULL) {
		if (w != NULL) {
			write_free(w);
		}
		store_override_clear(rec);
		api_send_json(api, req, HTTP_INTERNAL, NULL);
		return;
	}
	w->ip = rec->ip;
	w->port = rec->port;
	w->healthy = rec->healthy;
	state_override_set(api->srv->state, rec, &caller->actor,
			   on_override_done, w);
}

static void override_clear(struct api *api, struct evhttp_request *req,
			   const char *service, const struct gslb_ip *ip,
			   uint16_t port, const struct api_caller *caller,
			   enum write_kind kind)
{
	struct write *w = write_new(api, req, kind);
	if (w == NULL || (w->service = strdup(service)) == NULL) {
		if (w != NULL) {
			write_free(w);
		}
		api_send_json(api, req, HTTP_INTERNAL, NULL);
		return;
	}
	w->ip = *ip;
	w->port = port;
	int ret = state_override_clear(api->srv->state, service, ip, port,
				       &caller->actor, on_override_done, w);
	if (ret == GSLB_ENOENT) {
		struct evhttp_request *r = write_take(w, &api);
		write_free(w);
		if (kind == W_BACKEND_OVERRIDE_CLEAR) {
			/* The original answers 200 for nothing to clear. */
			api_send_json(api, r, HTTP_OK,
				      json_pack("{s:b, s:s}", "success", 1,
						"message", "Override cleared"));
		} else {
			api_send_error(api, r, HTTP_NOTFOUND,
				       "override not found");
		}
	}
}

static void override_put(struct api *api, struct evhttp_request *req,
			 const char *service, const char *address,
			 const struct api_caller *caller)
{
	static const char *const fields[] = { "healthy",    "reason",
					      "source",     "expires_in",
					      "expires_at", NULL };
	struct store_override rec = { 0 };
	const gslb_time_t now = gslb_clock_wall();
	bool absent;
	json_t *body = read_body(api, req);
	if (body == NULL ||
	    refuse_unknown(api, req, body, fields,
			   "healthy, reason, source, expires_in, "
			   "expires_at")) {
		json_decref(body);
		return;
	}
	json_t *healthy = json_object_get(body, "healthy");
	const char *reason = NULL, *source = NULL;
	if (!json_is_boolean(healthy)) {
		api_send_error(api, req, HTTP_BADREQUEST,
			       healthy == NULL ? "healthy is required (true or "
						 "false)"
					       : "healthy must be true or "
						 "false");
	} else if ((reason = string_field(api, req, body, "reason", REASON_MAX,
					  true, &absent)) == NULL) {
		/* answered */
	} else if ((source = string_field(api, req, body, "source", SOURCE_MAX,
					  true, &absent)) == NULL) {
		/* answered */
	} else if (!address_parse(address, &rec.ip, &rec.port)) {
		char msg[512];
		snprintf(msg, sizeof(msg),
			 "invalid address \"%.64s\": expected IP, IP:PORT or "
			 "[IPv6]:PORT",
			 address);
		api_send_error(api, req, HTTP_BADREQUEST, msg);
	} else if (expiry_parse(api, req, body, now, &rec.expires) &&
		   (rec.service = known_service(api, req, service)) != NULL) {
		rec.healthy = json_is_true(healthy);
		rec.reason = strdup(reason);
		rec.source = strdup(source);
		rec.set_by = strdup(setter(caller, req));
		rec.created = now;
		if (rec.reason == NULL || rec.source == NULL ||
		    rec.set_by == NULL) {
			store_override_clear(&rec);
			api_send_json(api, req, HTTP_INTERNAL, NULL);
		} else {
			override_submit(api, req, &rec, caller, W_OVERRIDE_PUT);
		}
	}
	json_decref(body);
}

static void overrides_list(struct api *api, struct evhttp_request *req)
{
	const struct state *st = api->srv->state;
	const struct overrides *ov = state_overrides(st);
	json_t *list = json_array();
	for (size_t i = 0; list != NULL && i < overrides_count(ov); i++) {
		if (json_array_append_new(
			    list, state_override_json(
					  st, overrides_at(ov, i))) != 0) {
			json_decref(list);
			list = NULL;
		}
	}
	char now[GSLB_RFC3339_LEN];
	api_send_json(api, req, HTTP_OK,
		      json_pack("{s:o, s:s}", "overrides", list, "generated_at",
				api_generated_at(now)));
}

void api_handle_overrides(struct api *api, struct evhttp_request *req,
			  const char *rest, const char *query,
			  const struct api_caller *caller)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	if (*rest == '\0') {
		if (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD) {
			overrides_list(api, req);
		} else {
			api_send_bad_method(api, req, "GET, HEAD");
		}
		return;
	}
	/* The address is everything after the service's slash. */
	const char *slash = strchr(rest, '/');
	char *service = slash != NULL
				? segment_decode(rest, (size_t)(slash - rest))
				: NULL;
	char *address = slash != NULL
				? segment_decode(slash + 1, strlen(slash + 1))
				: NULL;
	struct gslb_ip ip;
	uint16_t port;
	char *svc = NULL;
	const struct store_override *o;

	if (service == NULL || address == NULL) {
		api_send_error(api, req, HTTP_BADREQUEST, OVERRIDE_PATH_ERROR);
		goto out;
	}
	switch (cmd) {
	case EVHTTP_REQ_PUT:
		override_put(api, req, service, address, caller);
		break;
	case EVHTTP_REQ_GET:
	case EVHTTP_REQ_HEAD:
	case EVHTTP_REQ_DELETE:
		svc = api_service_key(service);
		if (svc == NULL) {
			api_send_json(api, req, HTTP_INTERNAL, NULL);
			break;
		}
		if (!address_parse(address, &ip, &port) ||
		    (o = overrides_find(state_overrides(api->srv->state), svc,
					&ip, port)) == NULL) {
			api_send_error(api, req, HTTP_NOTFOUND,
				       "override not found");
		} else if (cmd == EVHTTP_REQ_DELETE) {
			override_clear(api, req, svc, &ip, port, caller,
				       W_OVERRIDE_DELETE);
		} else {
			api_send_json(api, req, HTTP_OK,
				      state_override_json(api->srv->state, o));
		}
		break;
	default:
		api_send_bad_method(api, req, "GET, HEAD, PUT, DELETE");
		break;
	}
out:
	free(svc);
	free(service);
	free(address);
}

/* The original's body: {"healthy": bool, "reason": "..."}. */
static void backend_override_set(struct api *api, struct evhttp_request *req,
				 const char *svc, const struct gslb_ip *ip,
				 uint16_t port, const struct api_caller *caller)
{
	static const char *const fields[] = { "healthy", "reason", NULL };
	json_t *body = read_body(api, req);
	if (body == NULL ||
	    refuse_unknown(api, req, body, fields, "healthy, reason")) {
		json_decref(body);
		return;
	}
	json_t *healthy = json_object_get(body, "healthy");
	bool absent;
	const char *reason = string_field(api, req, body, "reason", REASON_MAX,
					  false, &absent);
	if (reason == NULL && !absent) {
		json_decref(body); /* answered */
		return;
	}
	if (!json_is_boolean(healthy)) {
		api_send_error(api, req, HTTP_BADREQUEST,
			       "invalid request body: healthy must be true or "
			       "false");
		json_decref(body);
		return;
	}
	struct store_override rec = {
		.service = strdup(svc),
		.ip = *ip,
		.port = port,
		.healthy = json_is_true(healthy),
		.reason = strdup(reason != NULL ? reason : ""),
		.source = strdup("api"),
		.set_by = strdup(setter(caller, req)),
		.created = gslb_clock_wall(),
	};
	json_decref(body);
	if (rec.service == NULL || rec.reason == NULL || rec.source == NULL ||
	    rec.set_by == NULL) {
		store_override_clear(&rec);
		api_send_json(api, req, HTTP_INTERNAL, NULL);
		return;
	}
	override_submit(api, req, &rec, caller, W_BACKEND_OVERRIDE_SET);
}

/* Splits "{service}/{address}/{port}/override" into part[0..2]. */
static bool backend_path_split(const char *rest, char *part[4])
{
	const char *p = rest;
	size_t n = 0;
	while (n < 4) {
		size_t len = strcspn(p, "/");
		part[n++] = segment_decode(p, len);
		if (p[len] != '/') {
			break;
		}
		p += len + 1;
		if (n == 4) {
			return false; /* more segments */
		}
	}
	return n == 4 && part[0] != NULL && part[1] != NULL &&
	       part[2] != NULL && part[3] != NULL &&
	       strcmp(part[3], "override") == 0;
}

/* POST/DELETE /api/v1/overwatch/backends/{service}/{address}/{port}/override */
void api_handle_backend_override(struct api *api, struct evhttp_request *req,
				 const char *rest, const char *query,
				 const struct api_caller *caller)
{
	char *part[4] = { NULL };
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct gslb_ip ip;
	uint16_t port = 0;
	char *svc = NULL;
	const struct gslb_backend *b = NULL;

	if (!backend_path_split(rest, part)) {
		api_send_error(api, req, HTTP_BADREQUEST, BACKEND_PATH_ERROR);
	} else if (cmd != EVHTTP_REQ_POST && cmd != EVHTTP_REQ_DELETE) {
		api_send_bad_method(api, req, "POST, DELETE");
	} else if (!api_port_parse(part[2], &port)) {
		api_send_error(api, req, HTTP_BADREQUEST, "invalid port");
	} else if ((svc = api_service_key(part[0])) == NULL) {
		api_send_json(api, req, HTTP_INTERNAL, NULL);
	} else if (gslb_ip_parse(part[1], &ip) != GSLB_EOK ||
		   (b = gslb_registry_find(api->srv->reg, svc, &ip, port)) ==
			   NULL) {
		char msg[512];
		snprintf(msg, sizeof(msg), "backend %.253s:%.64s:%u not found",
			 part[0], part[1], port);
		api_send_error(api, req, HTTP_NOTFOUND, msg);
	} else if (cmd == EVHTTP_REQ_DELETE) {
		override_clear(api, req, svc, &ip, port, caller,
			       W_BACKEND_OVERRIDE_CLEAR);
	} else {
		backend_override_set(api, req, svc, &ip, port, caller);
	}
	free(svc);
	for (size_t i = 0; i < 4; i++) {
		free(part[i]);
	}
}

/* ------------------------------------------------------------------------ */
/* Servers                                                                  */

#define SERVER_ID_LEN (256 + STATE_ADDRESS_LEN)

static const char *server_id(const struct gslb_backend *b,
			     char buf[SERVER_ID_LEN])
{
	char addr[STATE_ADDRESS_LEN];
	snprintf(buf, SERVER_ID_LEN, "%s:%s", b->service,
		 state_address_text(&b->ip, b->port, addr));
	return buf;
}

static json_t *server_json(const struct api *api, const struct gslb_backend *b)
{
	char id[SERVER_ID_LEN], addr[GSLB_IP_STRLEN], created[GSLB_RFC3339_LEN];
	const struct store_server *rec = state_server(api->srv->state, b);
	return json_pack(
		"{s:s, s:s, s:s, s:i, s:I, s:s, s:s, s:s, s:b, s:s*, s:s*}",
		"id", server_id(b, id), "service", b->service, "address",
		gslb_ip_format(&b->ip, addr), "port", (int)b->port, "weight",
		(json_int_t)b->weight, "region",
		b->region != NULL ? b->region : "", "source",
		gslb_source_name(b->source), "effective_status",
		gslb_status_name(b->status), "healthy",
		b->status == GSLB_STATUS_HEALTHY, "created_at",
		rec != NULL ? api_wall_text(rec->created, created) : NULL,
		"created_by", rec != NULL ? rec->created_by : NULL);
}

/* "service:address:port", the address of IPv6 in brackets. */
static const struct gslb_backend *server_find(struct api *api,
					      const char *id_text)
{
	const char *colon = strchr(id_text, ':');
	if (colon == NULL) {
		return NULL;
	}
	char *service = strndup(id_text, (size_t)(colon - id_text));
	char *svc = service != NULL ? api_service_key(service) : NULL;
	char *host = NULL;
	uint16_t port;
	struct gslb_ip ip;
	const struct gslb_backend *b = NULL;
	if (svc != NULL &&
	    gslb_hostport_split(colon + 1, &host, &port) == GSLB_EOK &&
	    gslb_ip_parse(host, &ip) == GSLB_EOK) {
		b = gslb_registry_find(api->srv->reg, svc, &ip, port);
	}
	free(host);
	free(svc);
	free(service);
	return b;
}

static void on_server_done(void *arg, int err, const char *message)
{
	struct write *w = arg;
	struct api *api;
	struct evhttp_request *req = write_outcome(w, err, message, &api);
	if (req == NULL) {
		return;
	}
	if (w->kind == W_SERVER_ADD) {
		const struct gslb_backend *b = gslb_registry_find(
			api->srv->reg, w->service, &w->ip, w->port);
		if (b != NULL) {
			api_send_json(api, req, 201,
				      json_pack("{s:o}", "server",
						server_json(api, b)));
		} else {
			api_send_no_content(api, req);
		}
	} else {
		api_send_no_content(api, req);
	}
	write_free(w);
}

/* Fills rec from the body; false after answering why not. */
static bool server_parse(struct api *api, struct evhttp_request *req,
			 json_t *body, struct store_server *rec)
{
	/* The original named the service "name" or metadata.service. */
	json_t *svc_v = json_object_get(body, "service");
	if (svc_v == NULL) {
		svc_v = json_object_get(json_object_get(body, "metadata"),
					"service");
	}
	if (svc_v == NULL) {
		svc_v = json_object_get(body, "name");
	}
	json_t *addr_v = json_object_get(body, "address");
	json_t *port_v = json_object_get(body, "port");
	json_t *weight_v = json_object_get(body, "weight");
	bool absent;
	const char *region =
		string_field(api, req, body, "region", 253, false, &absent);
	char msg[512];

	if (region == NULL && !absent) {
		return false; /* answered */
	}
	if (!json_is_string(svc_v)) {
		api_send_error(api, req, HTTP_BADREQUEST,
			       "service is required (a domain of the "
			       "configuration)");
		return false;
	}
	if (!json_is_string(addr_v) ||
	    gslb_ip_parse(json_string_value(addr_v), &rec->ip) != GSLB_EOK) {
		api_send_error(api, req, HTTP_BADREQUEST,
			       "address is required: an IPv4 or IPv6 address");
		return false;
	}
	if (!json_is_integer(port_v) || json_integer_value(port_v) < 1 ||
	    json_integer_value(port_v) > 65535) {
		api_send_error(api, req, HTTP_BADREQUEST,
			       "port is required: a number from 1 to 65535");
		return false;
	}
	rec->port = (uint16_t)json_integer_value(port_v);
	rec->weight = 100;
	if (weight_v != NULL) {
		if (!json_is_integer(weight_v) ||
		    json_integer_value(weight_v) < 0 ||
		    json_integer_value(weight_v) > 1000000) {
			api_send_error(api, req, HTTP_BADREQUEST,
				       "weight must be a number from 0 to "
				       "1000000");
			return false;
		}
		rec->weight = (uint32_t)json_integer_value(weight_v);
	}
	if (region != NULL &&
	    gslb_config_region(api->srv->cfg, region) == NULL) {
		snprintf(msg, sizeof(msg),
			 "unknown region \"%.253s\": not a region of the "
			 "configuration",
			 region);
		api_send_error(api, req, HTTP_NOTFOUND, msg);
		return false;
	}
	rec->service = known_service(api, req, json_string_value(svc_v));
	if (rec->service == NULL) {
		return false;
	}
	rec->region = region != NULL ? strdup(region) : NULL;
	if (region != NULL && rec->region == NULL) {
		api_send_json(api, req, HTTP_INTERNAL, NULL);
		return false;
	}
	return true;
}

static void server_add(struct api *api, struct evhttp_request *req,
		       const struct api_caller *caller)
{
	static const char *const fields[] = { "service", "name", "metadata",
					      "address", "port", "region",
					      "weight",  NULL };
	struct store_server rec = { 0 };
	json_t *body = read_body(api, req);
	bool ok = body != NULL &&
		  !refuse_unknown(api, req, body, fields,
				  "service, address, port, region, weight") &&
		  server_parse(api, req, body, &rec);
	json_decref(body);
	if (!ok) {
		store_server_clear(&rec);
		return;
	}
	rec.created_by = strdup(caller->actor.name != NULL ? caller->actor.name
				: caller->local            ? "local"
							   : "api");
	rec.created = gslb_clock_wall();
	struct write *w = write_new(api, req, W_SERVER_ADD);
	if (w != NULL) {
		w->service = strdup(rec.service);
		w->ip = rec.ip;
		w->port = rec.port;
	}
	if (w == NULL || w->service == NULL || rec.created_by == NULL) {
		if (w != NULL) {
			write_free(w);
		}
		store_server_clear(&rec);
		api_send_json(api, req, HTTP_INTERNAL, NULL);
		return;
	}
	if (state_server_add(api->srv->state, &rec, &caller->actor,
			     on_server_done, w) != GSLB_EEXIST) {
		return;
	}
	struct evhttp_request *r = write_take(w, &api);
	const struct gslb_backend *b =
		gslb_registry_find(api->srv->reg, w->service, &w->ip, w->port);
	char id[SERVER_ID_LEN], msg[512];
	snprintf(msg, sizeof(msg), "server %s exists already%s",
		 b != NULL ? server_id(b, id) : "",
		 b != NULL && b->source == GSLB_SOURCE_STATIC
			 ? " (in the configuration file)"
			 : "");
	write_free(w);
	api_send_error(api, r, 409, msg);
}

static void server_remove(struct api *api, struct evhttp_request *req,
			  const struct gslb_backend *b,
			  const struct api_caller *caller)
{
	char id[SERVER_ID_LEN], msg[512];
	if (b->source != GSLB_SOURCE_API) {
		snprintf(msg, sizeof(msg),
			 b->source == GSLB_SOURCE_STATIC
				 ? "server %s comes from the configuration "
				   "file: remove it there and reload"
				 : "server %s is reported by an agent: stop "
				   "the agent or revoke it",
			 server_id(b, id));
		api_send_error(api, req, 409, msg);
		return;
	}
	struct write *w = write_new(api, req, W_SERVER_REMOVE);
	if (w == NULL || state_server_remove(api->srv->state, b, &caller->actor,
					     on_server_done, w) != GSLB_EOK) {
		if (w != NULL) {
			write_free(w);
		}
		api_send_json(api, req, HTTP_INTERNAL, NULL);
	}
}

/* ------------------------------------------------------------------------ */
/* Agents                                                                   */

static void on_agent_revoked(void *arg, int err, const char *message)
{
	struct write *w = arg;
	struct api *api;
	struct evhttp_request *req = write_outcome(w, err, message, &api);
	if (req == NULL) {
		return;
	}
	api_send_json(api, req, HTTP_OK,
		      json_pack("{s:b, s:s, s:s, s:I}", "success", 1, "message",
				"Agent certificate deleted", "agent_id",
				w->service, "backends_removed",
				(json_int_t)w->removed));
	write_free(w);
}

void api_agent_revoke(struct api *api, struct evhttp_request *req,
		      const char *agent_id, const struct api_caller *caller)
{
	struct write *w = write_new(api, req, W_AGENT_REVOKE);
	if (w == NULL || (w->service = strdup(agent_id)) == NULL) {
		if (w != NULL) {
			write_free(w);
		}
		api_send_json(api, req, HTTP_INTERNAL, NULL);
		return;
	}
	int ret = agents_revoke(api->srv->agents, agent_id, &caller->actor,
				on_agent_revoked, w, &w->removed);
	if (ret != GSLB_EOK) {
		write_free(w);
		if (ret == GSLB_ENOENT) {
			api_send_error(api, req, HTTP_NOTFOUND,
				       "agent not found");
		} else {
			api_send_json(api, req, HTTP_INTERNAL, NULL);
		}
	}
}

void api_handle_servers(struct api *api, struct evhttp_request *req,
			const char *rest, const char *query,
			const struct api_caller *caller)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	if (*rest == '\0') {
		if (cmd == EVHTTP_REQ_POST) {
			server_add(api, req, caller);
			return;
		}
		if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
			api_send_bad_method(api, req, "GET, HEAD, POST");
			return;
		}
		const struct gslb_registry *reg = api->srv->reg;
		const size_t n = gslb_registry_count(reg);
		json_t *list = json_array();
		for (size_t i = 0; list != NULL && i < n; i++) {
			if (json_array_append_new(
				    list, server_json(api, gslb_registry_at(
								   reg, i))) !=
			    0) {
				json_decref(list);
				list = NULL;
			}
		}
		char now[GSLB_RFC3339_LEN];
		api_send_json(api, req, HTTP_OK,
			      json_pack("{s:o, s:I, s:s}", "servers", list,
					"total", (json_int_t)n, "generated_at",
					api_generated_at(now)));
		return;
	}
	char *id = segment_decode(rest, strlen(rest));
	const struct gslb_backend *b = id != NULL && strchr(id, '/') == NULL
					       ? server_find(api, id)
					       : NULL;
	free(id);
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD &&
	    cmd != EVHTTP_REQ_DELETE) {
		api_send_bad_method(api, req, "GET, HEAD, DELETE");
	} else if (b == NULL) {
		api_send_error(api, req, HTTP_NOTFOUND, "server not found");
	} else if (cmd == EVHTTP_REQ_DELETE) {
		server_remove(api, req, b, caller);
	} else {
		api_send_json(
			api, req, HTTP_OK,
			json_pack("{s:o}", "server", server_json(api, b)));
	}
}

/* ------------------------------------------------------------------------ */
/* Audit log                                                                */

/* JSON text from the database as a value (a string if it does not parse). */
static json_t *stored_json(const char *text)
{
	if (text == NULL) {
		return NULL;
	}
	json_t *v = json_loads(text, 0, NULL);
	return v != NULL ? v : json_string(text);
}

static void on_audit(void *arg, int err, const char *message,
		     const struct store_audit_entry *entries, size_t n,
		     uint64_t total)
{
	struct write *w = arg;
	struct api *api;
	struct evhttp_request *req = write_take(w, &api);
	if (req == NULL) {
		write_free(w);
		return;
	}
	if (err != GSLB_EOK) {
		char msg[512];
		snprintf(msg, sizeof(msg), "cannot read the audit log: %s",
			 message != NULL ? message : gslb_strerror(err));
		api_send_error(api, req, failure_code(err), msg);
		write_free(w);
		return;
	}
	json_t *list = json_array();
	for (size_t i = 0; list != NULL && i < n; i++) {
		const struct store_audit_entry *e = &entries[i];
		char when[GSLB_RFC3339_LEN];
		json_t *o = json_pack(
			"{s:I, s:s, s:s, s:s, s:s*, s:s, s:o*, s:o*}", "id",
			(json_int_t)e->id, "timestamp",
			gslb_time_rfc3339(e->time, when), "action", e->action,
			"resource", e->resource, "actor", e->actor,
			"client_address", e->client != NULL ? e->client : "",
			"before", stored_json(e->before), "after",
			stored_json(e->after));
		if (json_array_append_new(list, o) != 0) {
			json_decref(list);
			list = NULL;
		}
	}
	char now[GSLB_RFC3339_LEN];
	api_send_json(api, req, HTTP_OK,
		      json_pack("{s:o, s:I, s:I, s:I, s:s}", "entries", list,
				"total", (json_int_t)total, "limit",
				(json_int_t)w->limit, "offset",
				(json_int_t)w->offset, "generated_at",
				api_generated_at(now)));
	write_free(w);
}

/* A non-negative number of at most max; false when text is not one. */
static bool count_parse(const char *text, size_t max, size_t *out)
{
	size_t v = 0;
	if (*text == '\0' || strlen(text) > 9) {
		return false;
	}
	for (const char *c = text; *c != '\0'; c++) {
		if (*c < '0' || *c > '9') {
			return false;
		}
		v = v * 10 + (size_t)(*c - '0');
	}
	*out = v;
	return v <= max;
}

void api_handle_audit(struct api *api, struct evhttp_request *req,
		      const char *rest, const char *query,
		      const struct api_caller *caller)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	if (*rest != '\0') {
		api_send_error(api, req, HTTP_NOTFOUND, "not found");
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		api_send_bad_method(api, req, "GET, HEAD");
		return;
	}
	struct evkeyvalq kv;
	if (!api_parse_query(query, &kv)) {
		api_send_error(api, req, HTTP_BADREQUEST, "invalid query");
		return;
	}
	struct store_audit_query q = { .limit = 100 };
	const char *limit = api_param(&kv, "limit");
	const char *offset = api_param(&kv, "offset");
	const char *since = api_param(&kv, "since");
	q.action = api_param(&kv, "action");
	q.resource_prefix = api_param(&kv, "resource");
	if (limit != NULL &&
	    (!count_parse(limit, AUDIT_LIMIT_MAX, &q.limit) || q.limit == 0)) {
		api_send_error(api, req, HTTP_BADREQUEST,
			       "limit must be a number from 1 to 1000");
	} else if (offset != NULL &&
		   !count_parse(offset, 1000000000, &q.offset)) {
		api_send_error(api, req, HTTP_BADREQUEST,
			       "offset must be a non-negative number");
	} else if (since != NULL &&
		   gslb_time_parse_rfc3339(since, &q.since) != 0) {
		api_send_error(api, req, HTTP_BADREQUEST,
			       "since must be an RFC 3339 time");
	} else {
		struct write *w = write_new(api, req, W_AUDIT);
		if (w == NULL) {
			api_send_json(api, req, HTTP_INTERNAL, NULL);
		} else {
			w->limit = q.limit;
			w->offset = q.offset;
			/* The store copies the query. */
			state_audit_list(api->srv->state, &q, on_audit, w);
		}
	}
	evhttp_clear_headers(&kv);
}
