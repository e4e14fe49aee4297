/* SPDX-License-Identifier: GPL-3.0-or-later */
/* /api/v1/overwatch/agents: the pinned agents, and their revocation. */
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "api_internal.h"
#include "server.h"

static json_t *agent_json(const struct agent_info *a)
{
	char first[GSLB_RFC3339_LEN], last[GSLB_RFC3339_LEN],
		expiry[GSLB_RFC3339_LEN];
	const int64_t now = gslb_clock_wall() / GSLB_SEC;
	json_t *services = json_array();
	for (const char *p = a->services; services != NULL && *p != '\0';) {
		const char *end = strchr(p, ',');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
		json_array_append_new(services, json_stringn(p, n));
		p = end != NULL ? end + 1 : p + n;
	}
	const char *status = !a->connected ? "offline"
			     : a->stale    ? "stale"
					   : "connected";
	json_t *o = json_pack(
		"{s:s, s:s, s:s*, s:o*, s:s*, s:s*, s:s*, s:I, s:s, s:s*, "
		"s:I, s:I, s:b, s:s, s:I}",
		"agent_id", a->agent_id, "fingerprint", a->fingerprint,
		"region", a->region, "services", services, "first_seen",
		api_wall_text(a->first_seen * GSLB_SEC, first), "last_seen",
		api_wall_text(a->last_seen * GSLB_SEC, last), "not_after",
		api_wall_text(a->not_after * GSLB_SEC, expiry),
		"expires_in_hours", (json_int_t)((a->not_after - now) / 3600),
		"status", status, "address",
		a->address[0] != '\0' ? a->address : NULL, "backends",
		(json_int_t)a->backends, "healthy_backends",
		(json_int_t)a->healthy_backends, "draining", a->draining,
		"drain_reason", gossip_drain_reason_name(a->drain_reason),
		"state_version", (json_int_t)a->state_version);
	if (o != NULL) {
		json_object_set_new(
			o, "heartbeat_age_seconds",
			a->heartbeat_age >= 0
				? json_real((double)a->heartbeat_age / GSLB_SEC)
				: json_null());
	}
	return o;
}

struct listing {
	json_t *list; /* NULL once out of memory */
	size_t connected, stale;
};

static void list_one(const struct agent_info *info, void *arg)
{
	struct listing *l = arg;
	l->connected += info->connected && !info->stale;
	l->stale += info->stale;
	if (l->list != NULL &&
	    json_array_append_new(l->list, agent_json(info)) != 0) {
		json_decref(l->list);
		l->list = NULL;
	}
}

static void handle_list(struct api *api, struct evhttp_request *req)
{
	char at[GSLB_RFC3339_LEN];
	struct listing l = { .list = json_array() };
	agents_foreach(api->srv->agents, list_one, &l);
	api_send_json(api, req, HTTP_OK,
		      l.list == NULL
			      ? NULL
			      : json_pack("{s:o, s:I, s:I, s:I, s:s}", "agents",
					  l.list, "total",
					  (json_int_t)json_array_size(l.list),
					  "connected", (json_int_t)l.connected,
					  "stale", (json_int_t)l.stale,
					  "generated_at",
					  api_generated_at(at)));
}

void api_handle_agents(struct api *api, struct evhttp_request *req,
		       const char *rest, const char *query,
		       const struct api_caller *caller)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const bool get = cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;
	(void)query;

	if (*rest == '\0') {
		if (get) {
			handle_list(api, req);
		} else {
			api_send_bad_method(api, req, "GET, HEAD");
		}
		return;
	}
	size_t len = 0;
	char *id = evhttp_uridecode(rest, 0, &len);
	if (id == NULL || len != strlen(id) || !gslb_agent_id_ok(id)) {
		api_send_error(api, req, HTTP_NOTFOUND, "agent not found");
	} else if (get) {
		struct agent_info info;
		if (agents_find(api->srv->agents, id, &info)) {
			api_send_json(api, req, HTTP_OK, agent_json(&info));
		} else {
			api_send_error(api, req, HTTP_NOTFOUND,
				       "agent not found");
		}
	} else if (cmd == EVHTTP_REQ_DELETE) {
		api_agent_revoke(api, req, id, caller);
	} else {
		api_send_bad_method(api, req, "GET, HEAD, DELETE");
	}
	free(id);
}
