/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "agents.h"
#include "error.h"
#include "identity.h"
#include "log.h"
#include "server.h"

/* Datagrams read per wake-up, so a flood cannot starve the loop. */
#define READ_BURST 256
/* How often last-seen times go to the database. */
#define SAVE_INTERVAL (60 * GSLB_SEC)

struct agent {
	char id[GOSSIP_AGENT_ID_MAX + 1];

	/* The pin; pinned false once revoked (the record may live on while
	 * its backends are removed). */
	bool pinned;
	char fingerprint[GSLB_FINGERPRINT_LEN + 1];
	uint8_t *cert; /* DER */
	size_t cert_len;
	char *region;
	char *services; /* comma-separated, sorted: what the token covered */
	int64_t first_seen, last_seen, not_after; /* unix seconds */
	int64_t last_seen_saved;

	/* The session a registration set up. */
	bool session;
	uint8_t key[GOSSIP_KEY_LEN];
	struct gossip_replay replay;
	gslb_duration_t stale_after; /* interval x missed_threshold */
	gslb_time_t heard;           /* monotonic; 0: not since start */
	struct gslb_sockaddr addr;
	bool stale; /* as last logged */

	/* Its state and backends. */
	bool have_state;
	uint64_t state_version;
	struct gossip_reasm *reasm;
	struct gossip_predictive predictive;
	struct gslb_backend **backends; /* owned by the registry */
	size_t n_backends;
};

struct agents {
	struct server *srv;
	int fd;
	struct event *readable;
	struct gossip_kx kx;
	uint64_t seq; /* of our acknowledgements */

	struct agent **list; /* sorted by id */
	size_t n;
	gslb_time_t saved; /* monotonic, last save of last-seen times */

	/* Where the datagram being handled came to (IP_PKTINFO), so that
	 * its acknowledgement leaves from there on a multi-homed host. */
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	} reply_from;
	size_t reply_from_len; /* 0: none */

	struct agents_stats stats;
	uint8_t dgram[GOSSIP_MAX_DATAGRAM + 1];
	uint8_t inner[GOSSIP_MAX_DATAGRAM];
};

/* ------------------------------------------------------------------------ */
/* The agent table                                                          */

static size_t lower_bound(const struct agents *ag, const char *id)
{
	size_t lo = 0, hi = ag->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(ag->list[mid]->id, id) < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo;
}

static struct agent *agent_find(const struct agents *ag, const char *id)
{
	size_t i = lower_bound(ag, id);
	return i < ag->n && strcmp(ag->list[i]->id, id) == 0 ? ag->list[i]
							     : NULL;
}

static struct agent *agent_add(struct agents *ag, const char *id)
{
	struct agent **list = realloc(ag->list, (ag->n + 1) * sizeof(*list));
	if (list == NULL) {
		return NULL;
	}
	ag->list = list;
	struct agent *a = calloc(1, sizeof(*a));
	if (a == NULL) {
		return NULL;
	}
	snprintf(a->id, sizeof(a->id), "%s", id);
	size_t i = lower_bound(ag, id);
	memmove(&ag->list[i + 1], &ag->list[i], (ag->n - i) * sizeof(*list));
	ag->list[i] = a;
	ag->n++;
	return a;
}

static void pin_clear(struct agent *a)
{
	free(a->cert);
	free(a->region);
	free(a->services);
	a->cert = NULL;
	a->region = NULL;
	a->services = NULL;
	a->cert_len = 0;
	a->fingerprint[0] = '\0';
	a->pinned = false;
}

static void agent_free(struct agent *a)
{
	pin_clear(a);
	gossip_reasm_free(a->reasm);
	free(a->backends);
	explicit_bzero(a->key, sizeof(a->key));
	free(a);
}

/* ------------------------------------------------------------------------ */
/* Backends                                                                 */

/* Takes b out of the registry (and out of validation first). */
static void backend_drop(struct agents *ag, struct gslb_backend *b)
{
	validator_remove(ag->srv->validator, b);
	gslb_registry_remove(ag->srv->reg, b);
}

static size_t drop_backends(struct agents *ag, struct agent *a)
{
	size_t n = a->n_backends;
	/* Its next state starts afresh, even at a version applied before. */
	gossip_reasm_free(a->reasm);
	a->reasm = NULL;
	for (size_t i = 0; i < n; i++) {
		backend_drop(ag, a->backends[i]);
	}
	free(a->backends);
	a->backends = NULL;
	a->n_backends = 0;
	a->have_state = false;
	a->state_version = 0;
	if (n > 0) {
		server_backends_changed(ag->srv);
	}
	return n;
}

static bool service_listed(const char *services, const char *svc)
{
	size_t len = strlen(svc);
	for (const char *p = services; p != NULL && *p != '\0';) {
		const char *end = strchr(p, ',');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (n == len && memcmp(p, svc, n) == 0) {
			return true;
		}
		p = end != NULL ? end + 1 : NULL;
	}
	return false;
}

/* A service name from the wire as the registry keys it (lower case, no
 * final dot); false when it is not one. */
static bool service_key(const char *text, size_t len, char out[256])
{
	if (len == 0 || len > 253) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
	}
	if (len > 1 && out[len - 1] == '.') {
		len--;
	}
	out[len] = '\0';
	return true;
}

static int by_pointer(const void *x, const void *y)
{
	uintptr_t a = (uintptr_t) * (struct gslb_backend *const *)x;
	uintptr_t b = (uintptr_t) * (struct gslb_backend *const *)y;
	return a < b ? -1 : a > b;
}

/*
 * Makes the agent's backends those of its complete state: new ones join
 * the registry, gone ones leave, the rest take the new claim and weight.
 */
static void apply_state(struct agents *ag, struct agent *a)
{
	const struct gslb_config *cfg = ag->srv->cfg;
	struct gslb_registry *reg = ag->srv->reg;
	const gslb_time_t now = gslb_clock_mono();
	size_t total = 0, cap = 0, refused = 0;
	struct gslb_backend **next = NULL;
	bool changed = false;
	const struct gossip_state *first = gossip_reasm_fragment(a->reasm, 0);

	for (size_t f = 0; f < gossip_reasm_count(a->reasm); f++) {
		const struct gossip_state *st =
			gossip_reasm_fragment(a->reasm, f);
		struct gossip_state_iter it;
		struct gossip_backend gb;
		gossip_state_iter_init(&it, st);
		while (gossip_state_next(&it, &gb)) {
			char svc[256], addr[GSLB_IP_STRLEN];
			if (!service_key(gb.service, gb.service_len, svc) ||
			    !service_listed(a->services, svc) ||
			    gslb_config_domain(cfg, svc) == NULL) {
				ag->stats.rejected[GOSSIP_R_UNKNOWN_SERVICE]++;
				refused++;
				continue;
			}
			struct gslb_backend *b =
				gslb_registry_find(reg, svc, &gb.ip, gb.port);
			if (b != NULL && b->agent_id != a->id) {
				log_neterr(
					"gossip",
					"agent %s reports %s %s port %u, "
					"which %s already has; ignored",
					a->id, svc,
					gslb_ip_format(&gb.ip, addr),
					(unsigned)gb.port,
					b->agent_id != NULL
						? b->agent_id
						: gslb_source_name(b->source));
				continue;
			}
			const bool added = b == NULL;
			if (added) {
				int ret = gslb_registry_add(
					reg, GSLB_SOURCE_AGENT, svc, &gb.ip,
					gb.port, gb.weight, a->region, now, &b);
				if (ret != GSLB_EOK) {
					log_error("gossip",
						  "agent %s: cannot add a "
						  "backend: %s",
						  a->id, gslb_strerror(ret));
					continue;
				}
				b->agent_id = a->id;
				b->stale_after = a->stale_after;
				changed = true;
				if (validator_add(ag->srv->validator, cfg, b) !=
				    GSLB_EOK) {
					log_error("gossip",
						  "agent %s: cannot check %s",
						  a->id, svc);
				}
			}
			if (total == cap) {
				cap = cap != 0 ? cap * 2 : 16;
				struct gslb_backend **grown =
					realloc(next, cap * sizeof(*next));
				if (grown == NULL) {
					/* Keep the old set: nothing is lost
					 * but this update. */
					free(next);
					return;
				}
				next = grown;
			}
			next[total++] = b;
			gslb_registry_set_weight(reg, b, gb.weight);
			const bool claimed = b->agent_healthy;
			changed |= gslb_registry_set_agent_claim(
				reg, b, gb.healthy, now);
			if (added || b->agent_healthy != claimed) {
				validator_agent_claim(ag->srv->validator, b);
			}
			changed |= gslb_registry_set_draining(
				reg, b, first->predictive.draining, now);
		}
	}

	/* A backend listed twice is kept once. */
	qsort(next, total, sizeof(*next), by_pointer);
	size_t unique = 0;
	for (size_t i = 0; i < total; i++) {
		if (unique == 0 || next[unique - 1] != next[i]) {
			next[unique++] = next[i];
		}
	}
	total = unique;
	/* Backends the agent no longer reports. */
	for (size_t i = 0; i < a->n_backends; i++) {
		if (bsearch(&a->backends[i], next, total, sizeof(*next),
			    by_pointer) == NULL) {
			backend_drop(ag, a->backends[i]);
			changed = true;
		}
	}
	free(a->backends);
	a->backends = next;
	a->n_backends = total;
	if (first->predictive.draining &&
	    (!a->predictive.draining ||
	     a->predictive.reason != first->predictive.reason)) {
		log_info("gossip", "agent %s is draining (%s)", a->id,
			 gossip_drain_reason_name(first->predictive.reason));
	} else if (!first->predictive.draining && a->predictive.draining) {
		log_info("gossip", "agent %s stopped draining", a->id);
	}
	a->predictive = first->predictive;
	a->state_version = first->state_version;
	a->have_state = true;
	if (refused > 0) {
		log_neterr("gossip",
			   "agent %s: %zu backends refused: their service is "
			   "not a configured domain or not covered by its "
			   "token",
			   a->id, refused);
	}
	if (changed) {
		server_backends_changed(ag->srv);
	}
}

/* ------------------------------------------------------------------------ */
/* Sending                                                                  */

static void send_ack(struct agents *ag, const char *agent_id,
		     const struct gslb_sockaddr *to, uint64_t acked_seq,
		     const struct agent *a, uint8_t flags,
		     enum gossip_reject reason)
{
	const char *node = ag->srv->cfg->overwatch.node_id;
	struct gossip_header h = {
		.type = GOSSIP_ACK,
		.seq = ++ag->seq,
		.time = gslb_clock_wall(),
	};
	snprintf(h.agent_id, sizeof(h.agent_id), "%s", agent_id);
	struct gossip_ack ack = {
		.acked_seq = acked_seq,
		.state_version =
			a != NULL && a->have_state ? a->state_version : 0,
		.flags = flags,
		.reason = reason,
		.node_id = node != NULL ? node : "",
		.node_id_len = node != NULL ? strlen(node) : 0,
	};
	memcpy(ack.overwatch_kx, ag->kx.pk, sizeof(ack.overwatch_kx));
	if (ack.node_id_len > GOSSIP_NODE_ID_MAX) {
		ack.node_id_len = GOSSIP_NODE_ID_MAX;
	}
	uint8_t inner[512], out[512 + GOSSIP_OVERHEAD];
	int len = gossip_encode_ack(&h, &ack, inner, sizeof(inner));
	if (len < 0) {
		ag->stats.send_failures++;
		return;
	}
	int n = gossip_seal(ag->srv->cfg->overwatch.gossip.key, inner,
			    (size_t)len, out, sizeof(out));
	struct iovec iov = { .iov_base = out,
			     .iov_len = n > 0 ? (size_t)n : 0 };
	struct msghdr msg = {
		.msg_name = (void *)&to->ss,
		.msg_namelen = to->len,
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control =
			ag->reply_from_len > 0 ? ag->reply_from.buf : NULL,
		.msg_controllen = ag->reply_from_len,
	};
	if (n < 0 || sendmsg(ag->fd, &msg, 0) < 0) {
		ag->stats.send_failures++;
		return;
	}
	ag->stats.acks_sent++;
}

/* ------------------------------------------------------------------------ */
/* Persistence                                                              */

static void on_saved(void *arg, int err, const char *message)
{
	char *what = arg;
	if (err != GSLB_EOK) {
		log_error("gossip", "cannot save %s: %s", what,
			  message != NULL ? message : gslb_strerror(err));
	}
	free(what);
}

static json_t *pin_json(const struct agent *a)
{
	return json_pack("{s:s, s:s, s:s*, s:s}", "agent_id", a->id,
			 "fingerprint", a->fingerprint, "region", a->region,
			 "services", a->services != NULL ? a->services : "");
}

/* Queues the pin (and its audit entry) for the database. */
static void save_pin(struct agents *ag, const struct agent *a,
		     const char *action, json_t *before, const char *client)
{
	struct store_agent rec = {
		.agent_id = (char *)a->id,
		.fingerprint = (char *)a->fingerprint,
		.cert = a->cert,
		.cert_len = a->cert_len,
		.region = a->region,
		.services = a->services != NULL ? a->services : (char *)"",
		.first_seen = a->first_seen,
		.last_seen = a->last_seen,
		.not_after = a->not_after,
	};
	char resource[96];
	snprintf(resource, sizeof(resource), "agents/%s", a->id);
	json_t *after = pin_json(a);
	char *b_text =
		before != NULL
			? json_dumps(before, JSON_COMPACT | JSON_SORT_KEYS)
			: NULL;
	char *a_text =
		after != NULL ? json_dumps(after, JSON_COMPACT | JSON_SORT_KEYS)
			      : NULL;
	struct store_audit_entry e = {
		.time = gslb_clock_wall(),
		.action = (char *)action,
		.resource = resource,
		.before = b_text,
		.after = a_text,
		.client = (char *)client,
	};
	struct store_txn *txn = store_txn_new();
	char *what = NULL;
	if (asprintf(&what, "the pin of agent %s", a->id) < 0) {
		what = NULL;
	}
	if (txn == NULL || what == NULL ||
	    store_txn_put_agent(txn, &rec) != GSLB_EOK ||
	    store_txn_audit(txn, &e) != GSLB_EOK) {
		log_error("gossip", "cannot save the pin of agent %s: %s",
			  a->id, gslb_strerror(GSLB_ENOMEM));
		store_txn_free(txn);
		free(what);
	} else {
		store_commit(state_store_rw(ag->srv->state), txn, on_saved,
			     what);
	}
	json_decref(after);
	free(b_text);
	free(a_text);
}

/* ------------------------------------------------------------------------ */
/* Registration                                                             */

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/*
 * The services of a registration, checked: each a configured domain with
 * a token equal to the one presented. The sorted, comma-separated list,
 * or NULL with *why set.
 */
static char *check_services(struct agents *ag, const struct gossip_register *r,
			    enum gossip_reject *why, char *detail,
			    size_t detail_len)
{
	const struct gslb_config *cfg = ag->srv->cfg;
	const struct gslb_overwatch_config *ow = &cfg->overwatch;
	char *names[GOSSIP_SERVICES_MAX];
	size_t n = 0, len = 1;
	char *list = NULL;

	*why = GOSSIP_ACCEPTED;
	for (size_t i = 0; i < r->n_services && *why == GOSSIP_ACCEPTED; i++) {
		char svc[256];
		if (!service_key(r->services[i], r->service_lens[i], svc) ||
		    gslb_config_domain(cfg, svc) == NULL) {
			*why = GOSSIP_R_UNKNOWN_SERVICE;
			snprintf(detail, detail_len,
				 "service \"%.*s\" is not a configured domain",
				 (int)r->service_lens[i], r->services[i]);
			break;
		}
		const struct gslb_agent_token *tok = NULL;
		for (size_t j = 0; j < ow->n_agent_tokens; j++) {
			if (strcmp(ow->agent_tokens[j].service, svc) == 0) {
				tok = &ow->agent_tokens[j];
			}
		}
		if (tok == NULL ||
		    !gslb_token_equal(r->token, r->token_len, tok->token)) {
			*why = GOSSIP_R_BAD_TOKEN;
			snprintf(detail, detail_len,
				 tok == NULL ? "no agent token is configured "
					       "for service %s"
					     : "wrong service token for %s",
				 svc);
			break;
		}
		bool dup = false;
		for (size_t j = 0; j < n && !dup; j++) {
			dup = strcmp(names[j], svc) == 0;
		}
		if (!dup && (names[n] = strdup(svc)) != NULL) {
			len += strlen(svc) + 1;
			n++;
		}
	}
	if (*why == GOSSIP_ACCEPTED && (list = malloc(len)) != NULL) {
		qsort(names, n, sizeof(names[0]), cmp_str);
		list[0] = '\0';
		for (size_t i = 0; i < n; i++) {
			if (i > 0) {
				strcat(list, ",");
			}
			strcat(list, names[i]);
		}
	}
	for (size_t i = 0; i < n; i++) {
		free(names[i]);
	}
	return list;
}

/* Whether a registration's certificate may speak for a, and how. */
static enum gossip_reject check_pin(const struct agent *a,
				    const struct gossip_register *r,
				    const char *fp, bool *rotation)
{
	*rotation = false;
	if (a == NULL || !a->pinned) {
		return GOSSIP_ACCEPTED; /* first use */
	}
	if (strcmp(a->fingerprint, fp) == 0) {
		return GOSSIP_ACCEPTED;
	}
	/* Rotation: the new certificate, endorsed by the pinned one. */
	char prev_fp[GSLB_FINGERPRINT_LEN + 1];
	if (r->prev_cert_len == 0) {
		return GOSSIP_R_CERT_MISMATCH;
	}
	gslb_fingerprint(r->prev_cert, r->prev_cert_len, prev_fp);
	if (strcmp(prev_fp, a->fingerprint) != 0) {
		return GOSSIP_R_CERT_MISMATCH;
	}
	/* prev_cert is the pinned certificate (same fingerprint). */
	struct gslb_cert *pinned = NULL;
	if (gslb_cert_parse(r->prev_cert, r->prev_cert_len, &pinned) !=
	    GSLB_EOK) {
		return GOSSIP_R_CERT_MISMATCH;
	}
	uint8_t data[GOSSIP_CERT_MAX + 128];
	int len = gossip_endorsement_data(a->id, r->cert, r->cert_len, data,
					  sizeof(data));
	const bool endorsed =
		len >= 0 &&
		gslb_cert_verify(pinned, data, (size_t)len, r->endorsement,
				 r->endorsement_len);
	gslb_cert_free(pinned);
	if (!endorsed) {
		return GOSSIP_R_BAD_SIGNATURE;
	}
	*rotation = true;
	return GOSSIP_ACCEPTED;
}

static void dropped_replay(struct agents *ag, const struct gossip_msg *m,
			   const struct gslb_sockaddr *from)
{
	char where[GSLB_SOCKADDR_STRLEN];
	ag->stats.rejected[GOSSIP_R_REPLAYED]++;
	log_neterr("gossip",
		   "dropped a message for agent %s from %s: sequence number "
		   "%" PRIu64 " replayed or too old",
		   m->hdr.agent_id, gslb_sockaddr_format(from, where),
		   m->hdr.seq);
}

static void refuse(struct agents *ag, const struct gossip_msg *m,
		   const struct gslb_sockaddr *from, const struct agent *a,
		   enum gossip_reject why, const char *detail)
{
	char where[GSLB_SOCKADDR_STRLEN];
	ag->stats.rejected[why]++;
	log_neterr("gossip",
		   "refused the registration of agent %s from %s: "
		   "%s%s%s",
		   m->hdr.agent_id, gslb_sockaddr_format(from, where),
		   gossip_reject_name(why), detail[0] != '\0' ? ": " : "",
		   detail);
	send_ack(ag, m->hdr.agent_id, from, m->hdr.seq, a, GOSSIP_ACK_REFUSED,
		 why);
}

static void on_register(struct agents *ag, const struct gossip_msg *m,
			const struct gslb_sockaddr *from)
{
	const struct gossip_register *r = &m->u.reg;
	struct agent *a = agent_find(ag, m->hdr.agent_id);
	const int64_t now_s = gslb_clock_wall() / GSLB_SEC;
	char detail[256] = "", fp[GSLB_FINGERPRINT_LEN + 1];
	struct gslb_cert *cert = NULL;
	enum gossip_reject why;

	if (memcmp(r->overwatch_kx, ag->kx.pk, GOSSIP_KX_LEN) != 0) {
		/* Meant for this overwatch before a restart: ask again,
		 * with the key it has now. */
		send_ack(ag, m->hdr.agent_id, from, m->hdr.seq, a,
			 GOSSIP_ACK_NEED_REGISTER, GOSSIP_ACCEPTED);
		return;
	}
	if (a != NULL && !gossip_replay_fresh(&a->replay, m->hdr.seq)) {
		dropped_replay(ag, m, from);
		return;
	}
	if (gslb_cert_parse(r->cert, r->cert_len, &cert) != GSLB_EOK) {
		refuse(ag, m, from, a, GOSSIP_R_BAD_CERTIFICATE,
		       "not an X.509 certificate with a P-256 key");
		return;
	}
	if (gslb_cert_not_before(cert) > now_s + GOSSIP_MAX_SKEW / GSLB_SEC ||
	    gslb_cert_not_after(cert) < now_s) {
		gslb_cert_free(cert);
		refuse(ag, m, from, a, GOSSIP_R_BAD_CERTIFICATE,
		       "certificate expired or not yet valid");
		return;
	}
	if (!gslb_cert_verify(cert, m->authed, m->authed_len, m->sig,
			      m->sig_len)) {
		gslb_cert_free(cert);
		refuse(ag, m, from, a, GOSSIP_R_BAD_SIGNATURE, "");
		return;
	}
	gslb_fingerprint(r->cert, r->cert_len, fp);
	bool rotation = false;
	why = check_pin(a, r, fp, &rotation);
	if (why != GOSSIP_ACCEPTED) {
		snprintf(detail, sizeof(detail),
			 "certificate %.16s… is not the pinned %.16s… (revoke "
			 "the agent if it was replaced)",
			 fp, a->fingerprint);
		gslb_cert_free(cert);
		refuse(ag, m, from, a, why, detail);
		return;
	}
	char *services = check_services(ag, r, &why, detail, sizeof(detail));
	if (services == NULL) {
		gslb_cert_free(cert);
		refuse(ag, m, from, a,
		       why != GOSSIP_ACCEPTED ? why : GOSSIP_R_TOO_LARGE,
		       detail);
		return;
	}
	if (a == NULL && (a = agent_add(ag, m->hdr.agent_id)) == NULL) {
		gslb_cert_free(cert);
		free(services);
		return;
	}

	/* Accepted. The pin first: what the database will hold. */
	const bool first_use = !a->pinned;
	const bool pin_changed =
		first_use || rotation ||
		strcmp(a->services != NULL ? a->services : "", services) != 0 ||
		(a->region == NULL) != (r->region_len == 0) ||
		(a->region != NULL &&
		 (strlen(a->region) != r->region_len ||
		  memcmp(a->region, r->region, r->region_len) != 0));
	json_t *before = a->pinned ? pin_json(a) : NULL;
	if (rotation || first_use) {
		uint8_t *copy = malloc(r->cert_len);
		if (copy == NULL) {
			gslb_cert_free(cert);
			free(services);
			json_decref(before);
			return;
		}
		memcpy(copy, r->cert, r->cert_len);
		free(a->cert);
		a->cert = copy;
		a->cert_len = r->cert_len;
		memcpy(a->fingerprint, fp, sizeof(fp));
		a->not_after = gslb_cert_not_after(cert);
		if (first_use) {
			a->first_seen = now_s;
		}
	}
	gslb_cert_free(cert);
	free(a->services);
	a->services = services;
	free(a->region);
	a->region =
		r->region_len > 0 ? strndup(r->region, r->region_len) : NULL;
	a->pinned = true;
	a->last_seen = now_s;

	char where[GSLB_SOCKADDR_STRLEN];
	gslb_sockaddr_format(from, where);
	if (first_use) {
		ag->stats.pinned_new++;
		log_info("gossip",
			 "agent %s registered from %s: certificate %s pinned "
			 "(services %s)",
			 a->id, where, a->fingerprint, a->services);
	} else if (rotation) {
		ag->stats.rotations++;
		log_info("gossip",
			 "agent %s rotated its certificate: now %s pinned",
			 a->id, a->fingerprint);
	} else {
		log_info("gossip", "agent %s registered from %s", a->id, where);
	}
	if (pin_changed) {
		save_pin(ag, a,
			 first_use  ? "agent.pin"
			 : rotation ? "agent.rotate"
				    : "agent.update",
			 before, where);
		a->last_seen_saved = now_s;
	}
	json_decref(before);

	/* Then the session. */
	if (gossip_session_overwatch(&ag->kx, r->agent_kx, a->key) !=
	    GSLB_EOK) {
		a->session = false;
		refuse(ag, m, from, a, GOSSIP_R_MALFORMED, "bad session key");
		return;
	}
	a->session = true;
	gossip_replay_accept(&a->replay, m->hdr.seq);
	/* A new session (a restarted agent or overwatch): whatever state
	 * comes next is applied, whatever its version. */
	gossip_reasm_free(a->reasm);
	a->reasm = NULL;
	const gslb_duration_t stale_after =
		r->interval_ms > 0 && r->missed_threshold > 0
			? (gslb_duration_t)r->interval_ms * GSLB_MSEC *
				  r->missed_threshold
			: ag->srv->cfg->overwatch.stale.threshold;
	if (stale_after != a->stale_after) {
		a->stale_after = stale_after;
		for (size_t i = 0; i < a->n_backends; i++) {
			a->backends[i]->stale_after = stale_after;
		}
	}
	a->heard = gslb_clock_mono();
	a->addr = *from;
	ag->stats.registrations++;
	ag->stats.received[GOSSIP_REGISTER]++;
	send_ack(ag, a->id, from, m->hdr.seq, a,
		 a->have_state ? 0 : GOSSIP_ACK_NEED_STATE, GOSSIP_ACCEPTED);
}

/* ------------------------------------------------------------------------ */
/* Messages with a session                                                  */

/* The agent, when m is authentic and new for it; drops m otherwise. */
static struct agent *authenticate(struct agents *ag, const struct gossip_msg *m,
				  const struct gslb_sockaddr *from)
{
	struct agent *a = agent_find(ag, m->hdr.agent_id);
	if (a == NULL || !a->session || !a->pinned) {
		/* No session here (a restart, a revocation): the agent
		 * must register again. */
		send_ack(ag, m->hdr.agent_id, from, m->hdr.seq, NULL,
			 GOSSIP_ACK_NEED_REGISTER, GOSSIP_ACCEPTED);
		return NULL;
	}
	if (m->mac == NULL || !gossip_mac_ok(m, a->key)) {
		ag->stats.rejected[GOSSIP_R_UNAUTHENTICATED]++;
		char where[GSLB_SOCKADDR_STRLEN];
		log_neterr("gossip",
			   "dropped a %s for agent %s from %s: wrong MAC",
			   m->hdr.type == GOSSIP_STATE ? "state" : "message",
			   a->id, gslb_sockaddr_format(from, where));
		/* An agent that lost its session key (restarted) learns to
		 * register; an impostor learns nothing. */
		send_ack(ag, m->hdr.agent_id, from, m->hdr.seq, NULL,
			 GOSSIP_ACK_NEED_REGISTER, GOSSIP_ACCEPTED);
		return NULL;
	}
	if (!gossip_replay_fresh(&a->replay, m->hdr.seq)) {
		dropped_replay(ag, m, from);
		return NULL;
	}
	gossip_replay_accept(&a->replay, m->hdr.seq);
	a->heard = gslb_clock_mono();
	a->last_seen = gslb_clock_wall() / GSLB_SEC;
	a->addr = *from;
	ag->stats.received[m->hdr.type]++;
	return a;
}

/* The agent is alive: its backends' claims are fresh again. */
static void touch(struct agents *ag, struct agent *a)
{
	bool changed = false;
	for (size_t i = 0; i < a->n_backends; i++) {
		changed |= gslb_registry_touch_agent(ag->srv->reg,
						     a->backends[i], a->heard);
	}
	if (a->stale) {
		a->stale = false;
		log_info("gossip", "agent %s is heard from again", a->id);
	}
	if (changed) {
		server_backends_changed(ag->srv);
	}
}

static void on_heartbeat(struct agents *ag, const struct gossip_msg *m,
			 const struct gslb_sockaddr *from)
{
	if (m->mac == NULL) {
		/* A first contact: tell it our key. */
		ag->stats.received[GOSSIP_HEARTBEAT]++;
		send_ack(ag, m->hdr.agent_id, from, m->hdr.seq, NULL,
			 GOSSIP_ACK_NEED_REGISTER, GOSSIP_ACCEPTED);
		return;
	}
	struct agent *a = authenticate(ag, m, from);
	if (a == NULL) {
		return;
	}
	touch(ag, a);
	const bool behind = !a->have_state ||
			    a->state_version != m->u.heartbeat.state_version;
	send_ack(ag, a->id, from, m->hdr.seq, a,
		 behind ? GOSSIP_ACK_NEED_STATE : 0, GOSSIP_ACCEPTED);
}

static void on_state(struct agents *ag, const struct gossip_msg *m,
		     const struct gslb_sockaddr *from)
{
	struct agent *a = authenticate(ag, m, from);
	if (a == NULL) {
		return;
	}
	touch(ag, a);
	bool complete = false;
	enum gossip_reject why =
		gossip_reasm_add(&a->reasm, &m->u.state, &complete);
	if (why != GOSSIP_ACCEPTED) {
		ag->stats.rejected[why]++;
		log_neterr("gossip", "agent %s: state dropped: %s", a->id,
			   gossip_reject_name(why));
		return;
	}
	if (!complete) {
		return;
	}
	apply_state(ag, a);
	gossip_reasm_reset(a->reasm);
	send_ack(ag, a->id, from, m->hdr.seq, a, 0, GOSSIP_ACCEPTED);
}

static void on_deregister(struct agents *ag, const struct gossip_msg *m,
			  const struct gslb_sockaddr *from)
{
	struct agent *a = authenticate(ag, m, from);
	if (a == NULL) {
		return;
	}
	size_t n = drop_backends(ag, a);
	a->session = false;
	ag->stats.deregistrations++;
	log_info("gossip", "agent %s deregistered: %zu backends removed", a->id,
		 n);
	send_ack(ag, a->id, from, m->hdr.seq, a, 0, GOSSIP_ACCEPTED);
}

/* ------------------------------------------------------------------------ */
/* The socket                                                               */

static void receive(struct agents *ag, size_t len,
		    const struct gslb_sockaddr *from)
{
	const struct gslb_config *cfg = ag->srv->cfg;
	size_t inner_len = 0;
	struct gossip_msg m;
	enum gossip_reject why =
		gossip_open(cfg->overwatch.gossip.key, ag->dgram, len,
			    ag->inner, &inner_len);
	if (why == GOSSIP_ACCEPTED) {
		why = gossip_decode(ag->inner, inner_len, &m);
	}
	if (why == GOSSIP_ACCEPTED && m.hdr.type == GOSSIP_ACK) {
		why = GOSSIP_R_UNKNOWN_TYPE; /* ours to send, not to take */
	}
	if (why == GOSSIP_ACCEPTED &&
	    !gossip_time_ok(m.hdr.time, gslb_clock_wall())) {
		why = GOSSIP_R_CLOCK;
	}
	if (why != GOSSIP_ACCEPTED) {
		char where[GSLB_SOCKADDR_STRLEN];
		ag->stats.rejected[why]++;
		log_neterr("gossip", "dropped a datagram from %s: %s",
			   gslb_sockaddr_format(from, where),
			   gossip_reject_name(why));
		return;
	}
	switch (m.hdr.type) {
	case GOSSIP_HEARTBEAT:
		on_heartbeat(ag, &m, from);
		break;
	case GOSSIP_REGISTER:
		on_register(ag, &m, from);
		break;
	case GOSSIP_STATE:
		on_state(ag, &m, from);
		break;
	case GOSSIP_DEREGISTER:
		on_deregister(ag, &m, from);
		break;
	case GOSSIP_ACK:
		break;
	}
}

/* Keeps the destination address of a received datagram as the control
 * message that makes the reply leave from it. */
static void reply_from_set(struct agents *ag, struct msghdr *msg)
{
	ag->reply_from_len = 0;
	memset(ag->reply_from.buf, 0, sizeof(ag->reply_from.buf));
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL;
	     c = CMSG_NXTHDR(msg, c)) {
		struct cmsghdr *out = (struct cmsghdr *)ag->reply_from.buf;
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo in, reply = { 0 };
			memcpy(&in, CMSG_DATA(c), sizeof(in));
			reply.ipi_spec_dst = in.ipi_addr;
			out->cmsg_level = IPPROTO_IP;
			out->cmsg_type = IP_PKTINFO;
			out->cmsg_len = CMSG_LEN(sizeof(reply));
			memcpy(CMSG_DATA(out), &reply, sizeof(reply));
			ag->reply_from_len = CMSG_SPACE(sizeof(reply));
		} else if (c->cmsg_level == IPPROTO_IPV6 &&
			   c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo in6;
			memcpy(&in6, CMSG_DATA(c), sizeof(in6));
			out->cmsg_level = IPPROTO_IPV6;
			out->cmsg_type = IPV6_PKTINFO;
			out->cmsg_len = CMSG_LEN(sizeof(in6));
			memcpy(CMSG_DATA(out), &in6, sizeof(in6));
			ag->reply_from_len = CMSG_SPACE(sizeof(in6));
		}
	}
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct agents *ag = arg;
	(void)what;
	for (int i = 0; i < READ_BURST; i++) {
		struct gslb_sockaddr from = { .len = sizeof(from.ss) };
		union {
			struct cmsghdr align;
			uint8_t buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
				    CMSG_SPACE(sizeof(struct in_pktinfo))];
		} control;
		struct iovec iov = { .iov_base = ag->dgram,
				     .iov_len = sizeof(ag->dgram) };
		struct msghdr msg = {
			.msg_name = &from.ss,
			.msg_namelen = sizeof(from.ss),
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = control.buf,
			.msg_controllen = sizeof(control.buf),
		};
		ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
		from.len = msg.msg_namelen;
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				log_neterr("gossip", "receive: %s",
					   strerror(errno));
			}
			return;
		}
		if ((size_t)n > GOSSIP_MAX_DATAGRAM) {
			ag->stats.rejected[GOSSIP_R_MALFORMED]++;
			continue;
		}
		reply_from_set(ag, &msg);
		receive(ag, (size_t)n, &from);
	}
}

static int open_socket(struct agents *ag, const char *address)
{
	char *host = NULL, port[8];
	uint16_t portnum;
	int ret = gslb_hostport_split(address, &host, &portnum);
	if (ret != GSLB_EOK) {
		log_error("gossip", "overwatch.gossip.bind_address \"%s\": %s",
			  address, gslb_strerror(ret));
		return ret;
	}
	snprintf(port, sizeof(port), "%u", (unsigned)portnum);
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_DGRAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	}, *res = NULL;
	int gai =
		getaddrinfo(host[0] != '\0' ? host : NULL, port, &hints, &res);
	free(host);
	if (gai != 0) {
		log_error("gossip", "overwatch.gossip.bind_address \"%s\": %s",
			  address, gai_strerror(gai));
		return GSLB_EINVAL;
	}
	ag->fd = socket(res->ai_family,
			SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rcvbuf = 4 << 20, on = 1;
	if (ag->fd < 0 ||
	    setsockopt(ag->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		       sizeof(rcvbuf)) != 0 ||
	    (res->ai_family == AF_INET
		     ? setsockopt(ag->fd, IPPROTO_IP, IP_PKTINFO, &on,
				  sizeof(on))
		     : setsockopt(ag->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on,
				  sizeof(on))) != 0 ||
	    bind(ag->fd, res->ai_addr, res->ai_addrlen) != 0) {
		log_error("gossip", "cannot listen on %s (udp): %s", address,
			  strerror(errno));
		freeaddrinfo(res);
		return GSLB_EIO;
	}
	freeaddrinfo(res);
	ag->readable = event_new(ag->srv->base, ag->fd, EV_READ | EV_PERSIST,
				 on_readable, ag);
	if (ag->readable == NULL || event_add(ag->readable, NULL) != 0) {
		return GSLB_ENOMEM;
	}
	log_info("gossip", "receiving agents on %s (udp)", address);
	return GSLB_EOK;
}

/* ------------------------------------------------------------------------ */
/* Public                                                                   */

static int load_pins(struct agents *ag)
{
	struct store_agent *pins = NULL;
	size_t n = 0;
	int ret = GSLB_EOK;
	state_take_agents(ag->srv->state, &pins, &n);
	for (size_t i = 0; i < n; i++) {
		struct store_agent *p = &pins[i];
		struct agent *a = NULL;
		if (ret == GSLB_EOK && (!gslb_agent_id_ok(p->agent_id) ||
					agent_find(ag, p->agent_id) != NULL)) {
			log_warn("gossip", "ignoring a bad pinned agent row");
		} else if (ret == GSLB_EOK &&
			   (a = agent_add(ag, p->agent_id)) == NULL) {
			ret = GSLB_ENOMEM;
		} else if (a != NULL) {
			a->pinned = true;
			snprintf(a->fingerprint, sizeof(a->fingerprint), "%s",
				 p->fingerprint);
			a->cert = p->cert;
			a->cert_len = p->cert_len;
			a->region = p->region;
			a->services = p->services;
			a->first_seen = p->first_seen;
			a->last_seen = p->last_seen;
			a->last_seen_saved = p->last_seen;
			a->not_after = p->not_after;
			p->cert = NULL;
			p->region = NULL;
			p->services = NULL;
		}
		store_agent_clear(p);
	}
	free(pins);
	if (n > 0) {
		log_info("gossip", "%zu agents pinned", ag->n);
	}
	return ret;
}

int agents_open(struct server *srv, struct agents **out)
{
	*out = NULL;
	const struct gslb_overwatch_config *ow = &srv->cfg->overwatch;
	struct agents *ag = calloc(1, sizeof(*ag));
	if (ag == NULL) {
		return GSLB_ENOMEM;
	}
	ag->srv = srv;
	ag->fd = -1;
	ag->seq = (uint64_t)gslb_clock_wall();
	ag->saved = gslb_clock_mono();
	gossip_kx_new(&ag->kx);
	int ret = load_pins(ag);
	if (ret == GSLB_EOK && ow->gossip.key_set &&
	    ow->gossip.bind_address != NULL) {
		ret = open_socket(ag, ow->gossip.bind_address);
	}
	if (ret != GSLB_EOK) {
		agents_free(ag);
		return ret;
	}
	*out = ag;
	return GSLB_EOK;
}

/* Queues last-seen times that moved since they were last saved. */
static void save_last_seen(struct agents *ag)
{
	struct store_txn *txn = NULL;
	for (size_t i = 0; i < ag->n; i++) {
		struct agent *a = ag->list[i];
		if (!a->pinned || a->last_seen <= a->last_seen_saved) {
			continue;
		}
		if (txn == NULL && (txn = store_txn_new()) == NULL) {
			return;
		}
		if (store_txn_touch_agent(txn, a->id, a->last_seen) !=
		    GSLB_EOK) {
			store_txn_free(txn);
			return;
		}
		a->last_seen_saved = a->last_seen;
	}
	if (txn != NULL) {
		store_commit(state_store_rw(ag->srv->state), txn, on_saved,
			     strdup("the agents' last-seen times"));
	}
}

void agents_free(struct agents *ag)
{
	if (ag == NULL) {
		return;
	}
	if (ag->srv->state != NULL) {
		save_last_seen(ag);
	}
	/* The backends stay in the registry, which is freed next. */
	for (size_t i = 0; i < ag->n; i++) {
		agent_free(ag->list[i]);
	}
	free(ag->list);
	if (ag->readable != NULL) {
		event_free(ag->readable);
	}
	if (ag->fd >= 0) {
		close(ag->fd);
	}
	gossip_kx_wipe(&ag->kx);
	free(ag);
}

void agents_tick(struct agents *ag)
{
	const gslb_time_t now = gslb_clock_mono();
	const gslb_duration_t remove_after =
		ag->srv->cfg->overwatch.stale.remove_after;

	for (size_t i = 0; i < ag->n; i++) {
		struct agent *a = ag->list[i];
		if (a->heard == 0 || a->n_backends == 0) {
			continue;
		}
		const gslb_duration_t silent = now - a->heard;
		if (silent > remove_after) {
			size_t n = drop_backends(ag, a);
			ag->stats.removals++;
			log_warn("gossip",
				 "agent %s silent for %.0f s: its %zu "
				 "backends are removed",
				 a->id, (double)silent / GSLB_SEC, n);
			a->stale = false;
		} else if (!a->stale && silent > a->stale_after) {
			a->stale = true;
			ag->stats.stale_events++;
			log_warn("gossip",
				 "agent %s missed its heartbeats (silent "
				 "%.1f s): its backends are stale",
				 a->id, (double)silent / GSLB_SEC);
		}
	}
	if (now - ag->saved >= SAVE_INTERVAL) {
		ag->saved = now;
		save_last_seen(ag);
	}
}

static void info_of(const struct agent *a, struct agent_info *out)
{
	const gslb_time_t now = gslb_clock_mono();
	size_t healthy = 0;
	for (size_t i = 0; i < a->n_backends; i++) {
		healthy += a->backends[i]->status == GSLB_STATUS_HEALTHY;
	}
	*out = (struct agent_info){
		.agent_id = a->id,
		.fingerprint = a->fingerprint,
		.region = a->region,
		.services = a->services != NULL ? a->services : "",
		.first_seen = a->first_seen,
		.last_seen = a->last_seen,
		.not_after = a->not_after,
		.connected = a->session,
		.stale = a->session && a->heard != 0 &&
			 now - a->heard > a->stale_after,
		.backends = a->n_backends,
		.healthy_backends = healthy,
		.draining = a->have_state && a->predictive.draining,
		.drain_reason = a->have_state ? a->predictive.reason
					      : GOSSIP_DRAIN_NONE,
		.state_version = a->have_state ? a->state_version : 0,
		.heartbeat_age = a->heard != 0 ? now - a->heard : -1,
	};
	if (a->heard != 0) {
		gslb_sockaddr_format(&a->addr, out->address);
	}
}

void agents_foreach(const struct agents *ag,
		    void (*fn)(const struct agent_info *info, void *arg),
		    void *arg)
{
	struct agent_info info;
	for (size_t i = 0; i < ag->n; i++) {
		if (ag->list[i]->pinned) {
			info_of(ag->list[i], &info);
			fn(&info, arg);
		}
	}
}

bool agents_find(const struct agents *ag, const char *agent_id,
		 struct agent_info *out)
{
	const struct agent *a = agent_find(ag, agent_id);
	if (a == NULL || !a->pinned) {
		return false;
	}
	info_of(a, out);
	return true;
}

int agents_revoke(struct agents *ag, const char *agent_id,
		  const struct state_actor *who, state_done_fn done, void *arg,
		  size_t *backends_removed)
{
	struct agent *a = agent_find(ag, agent_id);
	if (a == NULL || !a->pinned) {
		return GSLB_ENOENT;
	}
	char resource[96];
	snprintf(resource, sizeof(resource), "agents/%s", a->id);
	json_t *before = pin_json(a);
	char *b_text =
		before != NULL
			? json_dumps(before, JSON_COMPACT | JSON_SORT_KEYS)
			: NULL;
	json_decref(before);
	struct store_audit_entry e = {
		.time = gslb_clock_wall(),
		.action = (char *)"agent.revoke",
		.resource = resource,
		.before = b_text,
		.client = (char *)(who != NULL ? who->client : NULL),
		.actor = (char *)(who != NULL ? who->name : NULL),
	};
	struct store_txn *txn = store_txn_new();
	if (txn == NULL || b_text == NULL ||
	    store_txn_delete_agent(txn, a->id) != GSLB_EOK ||
	    store_txn_audit(txn, &e) != GSLB_EOK) {
		store_txn_free(txn);
		free(b_text);
		return GSLB_ENOMEM;
	}
	free(b_text);
	*backends_removed = drop_backends(ag, a);
	a->session = false;
	pin_clear(a);
	log_info("gossip",
		 "agent %s revoked: pin removed, %zu backends removed",
		 agent_id, *backends_removed);
	store_commit(state_store_rw(ag->srv->state), txn, done, arg);
	return GSLB_EOK;
}

void agents_stats(const struct agents *ag, struct agents_stats *out)
{
	*out = ag->stats;
	const gslb_time_t now = gslb_clock_mono();
	for (size_t i = 0; i < ag->n; i++) {
		const struct agent *a = ag->list[i];
		out->pinned += a->pinned;
		out->connected += a->session;
		if (a->session && a->heard != 0 &&
		    now - a->heard > a->stale_after) {
			out->stale++;
		}
		for (size_t j = 0; j < a->n_backends; j++) {
			out->stale_backends +=
				a->backends[j]->status == GSLB_STATUS_STALE;
		}
	}
}
