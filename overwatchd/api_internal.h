/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What the API's files share: the api object, answers in JSON, and the
 * small parsers every handler needs. api.c dispatches; api_state.c has the
 * endpoints that change state (overrides, servers) and the audit log;
 * api_dnssec.c the DNSSEC keys and DS records.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <event2/http.h>
#include <jansson.h>

#include "api.h"
#include "clock.h"
#include "state.h"

struct evkeyvalq;
struct pending;
struct write;

/* Request bodies larger than this are refused with 413. */
#define API_MAX_BODY (64 * 1024)

struct api_stats {
	uint64_t requests;
	uint64_t by_class[API_STATUS_CLASSES]; /* [status / 100] */
	uint64_t unauthorized;
	uint64_t forbidden;
	uint64_t not_found;
	uint64_t bad_method;
	uint64_t bad_request;
};

struct api {
	struct server *srv;
	struct evhttp *http;
	struct pending *pending; /* validations waiting for their checks */
	struct write *writes;    /* changes waiting for their commit */
	char *socket;            /* api.socket's path, removed at exit */
	struct api_stats stats;
};

/* Who sent a request, for the audit log; strings valid with the request. */
struct api_caller {
	char client[64];          /* IP, or "unix" with the peer's uid */
	struct state_actor actor; /* client, and the name of the token sent */
	bool local;               /* over the UNIX socket */
};

/* A handler gets the path after its route's prefix, still URL-encoded. */
typedef void (*api_handler_fn)(struct api *api, struct evhttp_request *req,
			       const char *rest, const char *query,
			       const struct api_caller *caller);

/* Sends body (taken over) as the answer; NULL means out of memory. */
void api_send_json(struct api *api, struct evhttp_request *req, int code,
		   json_t *body);
void api_send_error(struct api *api, struct evhttp_request *req, int code,
		    const char *message);
/* Sends text (copied) as text/plain. */
void api_send_text(struct api *api, struct evhttp_request *req, int code,
		   const char *text);
/* 405 with the Allow header. */
void api_send_bad_method(struct api *api, struct evhttp_request *req,
			 const char *allow);
/* 204, no body. */
void api_send_no_content(struct api *api, struct evhttp_request *req);

/* RFC 3339 text of a wall-clock (or monotonic) time; NULL for 0. */
const char *api_wall_text(gslb_time_t wall, char buf[GSLB_RFC3339_LEN]);
const char *api_mono_text(gslb_time_t mono, char buf[GSLB_RFC3339_LEN]);
const char *api_generated_at(char buf[GSLB_RFC3339_LEN]);

/* A registry service name from text (lower case, no final dot); caller
 * frees; NULL when out of memory. */
char *api_service_key(const char *text);
bool api_parse_query(const char *query, struct evkeyvalq *kv);
const char *api_param(struct evkeyvalq *kv, const char *name);
bool api_port_parse(const char *text, uint16_t *port);

/* The backend as GET /api/v1/overwatch/backends shows it. */
json_t *api_backend_json(const struct api *api, const struct gslb_backend *b);

/* api_state.c */
void api_handle_overrides(struct api *api, struct evhttp_request *req,
			  const char *rest, const char *query,
			  const struct api_caller *caller);
void api_handle_backend_override(struct api *api, struct evhttp_request *req,
				 const char *rest, const char *query,
				 const struct api_caller *caller);
void api_handle_servers(struct api *api, struct evhttp_request *req,
			const char *rest, const char *query,
			const struct api_caller *caller);
void api_handle_audit(struct api *api, struct evhttp_request *req,
		      const char *rest, const char *query,
		      const struct api_caller *caller);
/* DELETE /api/v1/overwatch/agents/{id}: answered once the pin's removal
 * is committed. */
void api_agent_revoke(struct api *api, struct evhttp_request *req,
		      const char *agent_id, const struct api_caller *caller);
/* Answers nothing more: replies of changes still being committed are
 * dropped (the changes themselves complete). */
void api_writes_abandon(struct api *api);

/* api_agents.c: /api/v1/overwatch/agents[/{id}]. */
void api_handle_agents(struct api *api, struct evhttp_request *req,
		       const char *rest, const char *query,
		       const struct api_caller *caller);

/* api_dnssec.c: /api/v1/dnssec, /status, /ds, /keys and /sync. */
void api_handle_dnssec(struct api *api, struct evhttp_request *req,
		       const char *rest, const char *query,
		       const struct api_caller *caller);
