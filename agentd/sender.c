/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "error.h"
#include "log.h"
#include "sender.h"

#define SUBSYS "gossip"

/* One configured overwatch. */
struct peer {
	struct sender *s;
	char *node; /* host:port as configured */
	char *host;
	uint16_t port;
	bool resolved;
	bool resolve_warned;
	bool dup; /* the address of an earlier entry: not used */
	struct gslb_sockaddr addr;
	char addr_text[GSLB_SOCKADDR_STRLEN];
	char node_id[GOSSIP_NODE_ID_MAX + 1]; /* "" until the first ACK */

	/* The session: the overwatch's key from its latest ACK. */
	bool have_kx;
	uint8_t kx[GOSSIP_KX_LEN];
	uint8_t key[GOSSIP_KEY_LEN];

	bool registered;
	uint64_t reg_seq;     /* our last REGISTER with this kx; 0: none */
	gslb_time_t reg_sent; /* monotonic */
	gslb_time_t refused;  /* monotonic, last refused REGISTER; 0 */
	gslb_time_t refused_logged[GOSSIP_R_COUNT]; /* monotonic */

	uint64_t acked_version; /* state version of the latest ACK */
	gslb_time_t last_ack;   /* monotonic; 0: none yet */
	unsigned unanswered;    /* heartbeats since the last ACK */
	bool silent;            /* logged as not answering */

	bool state_sent_any;
	uint64_t state_sent_version;
	gslb_time_t state_sent; /* monotonic */

	bool keep; /* still configured (reload) */
};

struct sender {
	struct event_base *base;
	const struct ident *ident;
	const struct sender_report *report;
	struct sender_config cfg;

	struct peer **peers;
	size_t n_peers;

	int fd4, fd6;
	struct event *ev4, *ev6;
	struct event *heartbeat;
	bool started;

	struct gossip_kx kx;    /* ours, for this process's life */
	uint64_t seq_first;     /* our first sequence number */
	uint64_t seq;           /* the next one */
	gslb_time_t started_at; /* monotonic */
	uint64_t ignored;       /* datagrams that were no ACK of ours */
};

static const char *peer_name(const struct peer *p, char *buf, size_t len)
{
	const char *where = p->resolved ? p->addr_text : "unresolved";
	if (p->node_id[0] != '\0') {
		snprintf(buf, len, "%s (%s)", p->node_id, where);
	} else if (p->resolved && strcmp(p->node, p->addr_text) == 0) {
		snprintf(buf, len, "%s", p->node);
	} else {
		snprintf(buf, len, "%s (%s)", p->node, where);
	}
	return buf;
}

#define NAME_LEN (GOSSIP_NODE_ID_MAX + GSLB_SOCKADDR_STRLEN + 300)

/* ------------------------------------------------------------------------ */
/* Sockets                                                                  */

static void on_read(evutil_socket_t fd, short what, void *arg);

/* The socket for family, made on first use. */
static int socket_for(struct sender *s, int family)
{
	int *fd = family == AF_INET ? &s->fd4 : &s->fd6;
	struct event **ev = family == AF_INET ? &s->ev4 : &s->ev6;
	if (*fd >= 0) {
		return *fd;
	}
	int sock = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		log_error(SUBSYS, "cannot open a UDP socket: %s",
			  strerror(errno));
		return -1;
	}
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		int on = 1;
		sin6->sin6_family = AF_INET6;
		len = sizeof(*sin6);
		setsockopt(sock, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	}
	if (bind(sock, (struct sockaddr *)&ss, len) != 0) {
		log_error(SUBSYS, "cannot bind a UDP socket: %s",
			  strerror(errno));
		close(sock);
		return -1;
	}
	*ev = event_new(s->base, sock, EV_READ | EV_PERSIST, on_read, s);
	if (*ev == NULL || event_add(*ev, NULL) != 0) {
		log_error(SUBSYS, "cannot watch a UDP socket");
		if (*ev != NULL) {
			event_free(*ev);
			*ev = NULL;
		}
		close(sock);
		return -1;
	}
	*fd = sock;
	return sock;
}

static bool same_addr(const struct sockaddr_storage *ss,
		      const struct gslb_sockaddr *b)
{
	if (ss->ss_family != b->ss.ss_family) {
		return false;
	}
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)ss;
		const struct sockaddr_in *y =
			(const struct sockaddr_in *)&b->ss;
		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)ss;
	const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)&b->ss;
	return x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

/* Resolves p's host (the first address getaddrinfo gives). */
static void resolve(struct peer *p)
{
	struct sender *s = p->s;
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res = NULL;
	char name[NAME_LEN];

	/* Literals never touch the resolver. */
	hints.ai_flags = AI_NUMERICHOST;
	int rc = getaddrinfo(p->host, NULL, &hints, &res);
	if (rc != 0) {
		hints.ai_flags = 0;
		rc = getaddrinfo(p->host, NULL, &hints, &res);
	}
	if (rc != 0 || res == NULL) {
		if (!p->resolve_warned) {
			log_warn(SUBSYS,
				 "cannot resolve overwatch %s: %s; trying "
				 "again every heartbeat",
				 p->node, gai_strerror(rc));
			p->resolve_warned = true;
		}
		return;
	}
	struct gslb_sockaddr sa = { 0 };
	memcpy(&sa.ss, res->ai_addr, res->ai_addrlen);
	sa.len = res->ai_addrlen;
	freeaddrinfo(res);
	if (sa.ss.ss_family == AF_INET) {
		((struct sockaddr_in *)&sa.ss)->sin_port = htons(p->port);
	} else if (sa.ss.ss_family == AF_INET6) {
		((struct sockaddr_in6 *)&sa.ss)->sin6_port = htons(p->port);
	} else {
		return;
	}
	p->addr = sa;
	p->resolved = true;
	gslb_sockaddr_format(&p->addr, p->addr_text);
	for (size_t i = 0; i < s->n_peers && s->peers[i] != p; i++) {
		const struct peer *o = s->peers[i];
		if (o->resolved && !o->dup &&
		    same_addr(&p->addr.ss, &o->addr)) {
			p->dup = true;
			if (strcmp(p->node, o->node) == 0) {
				log_warn(SUBSYS,
					 "overwatch %s is listed twice: "
					 "ignoring the second entry",
					 p->node);
			} else {
				log_warn(SUBSYS,
					 "overwatch %s is %s, as %s is: "
					 "ignoring it",
					 p->node, p->addr_text, o->node);
			}
			return;
		}
	}
	if (p->resolve_warned || strcmp(p->node, p->addr_text) != 0) {
		log_info(SUBSYS, "overwatch %s",
			 peer_name(p, name, sizeof(name)));
	}
	p->resolve_warned = false;
}

/* Seals inner and sends it to p. */
static int send_inner(struct peer *p, const uint8_t *inner, size_t len)
{
	struct sender *s = p->s;
	uint8_t dgram[GOSSIP_MAX_DATAGRAM];
	char name[NAME_LEN];
	int n = gossip_seal(s->cfg.key, inner, len, dgram, sizeof(dgram));
	if (n < 0) {
		log_error(SUBSYS, "cannot seal a message: %s",
			  gslb_strerror(n));
		return n;
	}
	int fd = socket_for(s, p->addr.ss.ss_family);
	if (fd < 0) {
		return GSLB_EIO;
	}
	ssize_t sent =
		sendto(fd, dgram, (size_t)n, 0,
		       (const struct sockaddr *)&p->addr.ss, p->addr.len);
	if (sent < 0) {
		log_neterr(SUBSYS, "cannot send to overwatch %s: %s",
			   peer_name(p, name, sizeof(name)), strerror(errno));
		return GSLB_EIO;
	}
	return GSLB_EOK;
}

/* A header for one datagram: the next sequence number, unless seq is
 * false (state fragments are numbered by the encoder). */
static void header_init(struct sender *s, struct gossip_header *h,
			enum gossip_type type, bool seq)
{
	*h = (struct gossip_header){
		.type = type,
		.seq = seq ? s->seq++ : s->seq,
		.time = gslb_clock_wall(),
	};
	snprintf(h->agent_id, sizeof(h->agent_id), "%s", s->cfg.agent_id);
}

static uint32_t interval_ms(const struct sender *s)
{
	gslb_duration_t ms = s->cfg.interval / GSLB_MSEC;
	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* ------------------------------------------------------------------------ */
/* Messages                                                                 */

static void send_heartbeat(struct peer *p)
{
	struct sender *s = p->s;
	uint8_t inner[GOSSIP_MAX_INNER];
	struct gossip_header h;
	struct gossip_heartbeat hb = {
		.state_version = s->report->state_version,
		.n_backends = (uint32_t)s->report->n_backends,
		.interval_ms = interval_ms(s),
		.missed_threshold = (uint16_t)s->cfg.missed_threshold,
	};
	header_init(s, &h, GOSSIP_HEARTBEAT, true);
	int n = gossip_encode_heartbeat(&h, &hb, inner, sizeof(inner));
	if (n < 0) {
		log_error(SUBSYS, "cannot encode a heartbeat: %s",
			  gslb_strerror(n));
		return;
	}
	size_t len = (size_t)n;
	if (p->have_kx &&
	    gossip_add_mac(inner, &len, sizeof(inner), p->key) != GSLB_EOK) {
		return;
	}
	send_inner(p, inner, len);
}

static void send_register(struct peer *p, gslb_time_t now)
{
	struct sender *s = p->s;
	const struct sender_report *r = s->report;
	const struct ident *id = s->ident;
	uint8_t inner[GOSSIP_MAX_INNER];
	uint8_t sig[GSLB_SIGNATURE_MAX];
	size_t sig_len = sizeof(sig);
	char name[NAME_LEN];

	if (!p->have_kx) {
		return; /* the overwatch's first ACK tells us its key */
	}
	gslb_duration_t gap =
		p->refused != 0 ? SENDER_REFUSED_GAP : SENDER_REGISTER_GAP;
	if (p->reg_sent != 0 && now - p->reg_sent < gap) {
		return;
	}
	struct gossip_register reg = {
		.token = s->cfg.token,
		.token_len = strlen(s->cfg.token),
		.interval_ms = interval_ms(s),
		.missed_threshold = (uint16_t)s->cfg.missed_threshold,
		.region = s->cfg.region != NULL ? s->cfg.region : "",
		.region_len = s->cfg.region != NULL ? strlen(s->cfg.region) : 0,
		.n_services = r->n_services,
		.prev_cert = id->prev_cert,
		.prev_cert_len = id->prev_cert_len,
		.endorsement = id->endorsement,
		.endorsement_len = id->endorsement_len,
	};
	reg.cert = gslb_identity_cert(id->id, &reg.cert_len);
	memcpy(reg.agent_kx, s->kx.pk, GOSSIP_KX_LEN);
	memcpy(reg.overwatch_kx, p->kx, GOSSIP_KX_LEN);
	for (size_t i = 0; i < r->n_services; i++) {
		reg.services[i] = r->services[i];
		reg.service_lens[i] = r->service_lens[i];
	}

	struct gossip_header h;
	header_init(s, &h, GOSSIP_REGISTER, true);
	int n = gossip_encode_register(&h, &reg, inner, sizeof(inner));
	if (n < 0) {
		log_neterr(SUBSYS,
			   "cannot encode the registration for overwatch %s: "
			   "%s",
			   peer_name(p, name, sizeof(name)), gslb_strerror(n));
		return;
	}
	size_t len = (size_t)n;
	gossip_sign_begin(inner, len);
	int ret = gslb_identity_sign(id->id, inner, len, sig, &sig_len);
	if (ret == GSLB_EOK) {
		ret = gossip_sign_end(inner, &len, sizeof(inner), sig, sig_len);
	}
	if (ret != GSLB_EOK) {
		log_neterr(SUBSYS, "cannot sign the registration: %s",
			   gslb_strerror(ret));
		return;
	}
	p->reg_seq = h.seq;
	p->reg_sent = now;
	log_debug(SUBSYS, "registering with overwatch %s",
		  peer_name(p, name, sizeof(name)));
	send_inner(p, inner, len);
}

struct emit_ctx {
	struct peer *p;
	size_t sent;
};

static int emit_state(uint8_t *inner, size_t len, size_t cap, void *arg)
{
	struct emit_ctx *ctx = arg;
	int ret = gossip_add_mac(inner, &len, cap, ctx->p->key);
	if (ret != GSLB_EOK) {
		return ret;
	}
	if (send_inner(ctx->p, inner, len) == GSLB_EOK) {
		ctx->sent++;
	}
	/* A fragment lost here is like one lost on the way: the overwatch
	 * asks again. */
	return GSLB_EOK;
}

/* The full state to p; unless force or it changed, not more often than
 * SENDER_STATE_GAP. */
static void send_state(struct peer *p, bool force, gslb_time_t now)
{
	struct sender *s = p->s;
	const struct sender_report *r = s->report;
	char name[NAME_LEN];

	if (!p->have_kx) {
		return;
	}
	if (!force && p->state_sent_any &&
	    p->state_sent_version == r->state_version &&
	    now - p->state_sent < SENDER_STATE_GAP) {
		return;
	}
	struct gossip_header h;
	header_init(s, &h, GOSSIP_STATE, false);
	struct emit_ctx ctx = { .p = p };
	int ret = gossip_encode_state(&h, &s->seq, r->state_version, &r->pred,
				      r->backends, r->n_backends,
				      GOSSIP_STATE_DATAGRAM - GOSSIP_OVERHEAD -
					      GOSSIP_MAC_LEN,
				      emit_state, &ctx);
	if (ret != GSLB_EOK) {
		log_neterr(
			SUBSYS, "cannot encode the state for overwatch %s: %s",
			peer_name(p, name, sizeof(name)), gslb_strerror(ret));
		return;
	}
	p->state_sent_any = true;
	p->state_sent_version = r->state_version;
	p->state_sent = now;
	log_debug(SUBSYS,
		  "state %" PRIu64 " (%zu backends, %zu datagrams) to "
		  "overwatch %s",
		  r->state_version, r->n_backends, ctx.sent,
		  peer_name(p, name, sizeof(name)));
}

static void send_deregister(struct peer *p)
{
	struct sender *s = p->s;
	uint8_t inner[GOSSIP_MAX_INNER];
	struct gossip_header h;

	header_init(s, &h, GOSSIP_DEREGISTER, true);
	int n = gossip_encode_deregister(&h, inner, sizeof(inner));
	if (n < 0) {
		return;
	}
	size_t len = (size_t)n;
	if (gossip_add_mac(inner, &len, sizeof(inner), p->key) == GSLB_EOK) {
		send_inner(p, inner, len);
	}
}

/* ------------------------------------------------------------------------ */
/* Acknowledgements                                                         */

/* Not registered: the next ACK leads to a registration. (reg_sent stays:
 * the rate limit holds across.) */
static void unregister(struct peer *p)
{
	p->registered = false;
	p->reg_seq = 0;
}

/* Returns true when the refusal was of our registration. */
static bool on_refused(struct peer *p, const struct gossip_ack *ack,
		       gslb_time_t now)
{
	char name[NAME_LEN];
	enum gossip_reject r =
		ack->reason < GOSSIP_R_COUNT ? ack->reason : GOSSIP_R_MALFORMED;
	if (p->refused_logged[r] == 0 ||
	    now - p->refused_logged[r] >= SENDER_REFUSED_LOG_GAP) {
		p->refused_logged[r] = now;
		log_warn(SUBSYS, "overwatch %s refused us: %s",
			 peer_name(p, name, sizeof(name)),
			 gossip_reject_name(r));
	}
	if (p->reg_seq != 0 && ack->acked_seq == p->reg_seq) {
		/* Our registration: wait before the next attempt. */
		p->refused = now;
		p->registered = false;
		p->reg_seq = 0;
		return true;
	}
	return false;
}

static void on_ack(struct peer *p, const struct gossip_ack *ack)
{
	struct sender *s = p->s;
	const gslb_time_t now = gslb_clock_mono();
	char name[NAME_LEN];
	bool learned = false;

	if (ack->node_id_len > 0) {
		size_t n = ack->node_id_len < GOSSIP_NODE_ID_MAX
				   ? ack->node_id_len
				   : GOSSIP_NODE_ID_MAX;
		memcpy(p->node_id, ack->node_id, n);
		p->node_id[n] = '\0';
	}
	if (!p->have_kx ||
	    memcmp(p->kx, ack->overwatch_kx, GOSSIP_KX_LEN) != 0) {
		uint8_t key[GOSSIP_KEY_LEN];
		if (gossip_session_agent(&s->kx, ack->overwatch_kx, key) !=
		    GSLB_EOK) {
			log_neterr(SUBSYS,
				   "overwatch %s sent an unusable session key",
				   peer_name(p, name, sizeof(name)));
			return;
		}
		if (p->have_kx) {
			log_info(SUBSYS,
				 "overwatch %s has a new session key (it "
				 "restarted?): registering again",
				 peer_name(p, name, sizeof(name)));
		}
		memcpy(p->kx, ack->overwatch_kx, GOSSIP_KX_LEN);
		memcpy(p->key, key, GOSSIP_KEY_LEN);
		p->have_kx = true;
		unregister(p);
		/* Another overwatch process: what the last one did is past. */
		p->refused = 0;
		p->reg_sent = 0;
		learned = true;
	}
	p->last_ack = now;
	p->unanswered = 0;
	if (p->silent) {
		p->silent = false;
		log_info(SUBSYS, "overwatch %s is answering again",
			 peer_name(p, name, sizeof(name)));
	}
	p->acked_version = ack->state_version;

	if ((ack->flags & GOSSIP_ACK_REFUSED) != 0 && on_refused(p, ack, now)) {
		return;
	}
	if ((ack->flags & GOSSIP_ACK_NEED_REGISTER) != 0) {
		if (!learned && p->reg_seq != 0 &&
		    ack->acked_seq < p->reg_seq) {
			/* It answers a message from before our registration,
			 * which is on its way. */
			return;
		}
		if (p->registered) {
			log_info(SUBSYS,
				 "overwatch %s lost our session: registering "
				 "again",
				 peer_name(p, name, sizeof(name)));
		}
		unregister(p);
		send_register(p, now);
		return;
	}
	if (!p->registered) {
		if (!learned && p->reg_seq != 0 &&
		    ack->acked_seq >= p->reg_seq) {
			/* It answers our registration, or a later message
			 * without asking for one: it holds our session. */
			p->registered = true;
			p->refused = 0;
			log_info(SUBSYS,
				 "registered with overwatch %s: %zu backends, "
				 "state %" PRIu64,
				 peer_name(p, name, sizeof(name)),
				 s->report->n_backends,
				 s->report->state_version);
			send_state(p, true, now);
			return;
		}
		send_register(p, now);
		return;
	}
	if ((ack->flags & GOSSIP_ACK_NEED_STATE) != 0 ||
	    ack->state_version != s->report->state_version) {
		send_state(p, false, now);
	}
}

static struct peer *peer_by_addr(struct sender *s,
				 const struct sockaddr_storage *ss)
{
	for (size_t i = 0; i < s->n_peers; i++) {
		struct peer *p = s->peers[i];
		if (p->resolved && !p->dup && same_addr(ss, &p->addr)) {
			return p;
		}
	}
	return NULL;
}

/* Returns false when the datagram is dropped. */
static bool on_datagram(struct sender *s, const uint8_t *dgram, size_t len,
			const struct sockaddr_storage *from)
{
	uint8_t inner[GOSSIP_MAX_DATAGRAM];
	size_t inner_len = 0;
	struct gossip_msg m;
	char name[NAME_LEN];

	struct peer *p = peer_by_addr(s, from);
	if (p == NULL) {
		struct gslb_sockaddr sa = { .ss = *from, .len = sizeof(*from) };
		char where[GSLB_SOCKADDR_STRLEN];
		log_neterr(SUBSYS,
			   "ignoring a datagram from %s: not an overwatch of "
			   "ours",
			   gslb_sockaddr_format(&sa, where));
		return false;
	}
	peer_name(p, name, sizeof(name));
	enum gossip_reject r =
		gossip_open(s->cfg.key, dgram, len, inner, &inner_len);
	if (r == GOSSIP_ACCEPTED) {
		r = gossip_decode(inner, inner_len, &m);
	}
	if (r != GOSSIP_ACCEPTED) {
		log_neterr(SUBSYS, "ignoring a datagram from overwatch %s: %s",
			   name, gossip_reject_name(r));
		return false;
	}
	if (m.hdr.type != GOSSIP_ACK) {
		log_neterr(SUBSYS,
			   "ignoring a datagram from overwatch %s: type %d "
			   "is not an acknowledgement",
			   name, (int)m.hdr.type);
		return false;
	}
	if (strcmp(m.hdr.agent_id, s->cfg.agent_id) != 0) {
		log_neterr(SUBSYS,
			   "ignoring an acknowledgement from overwatch %s for "
			   "agent %s",
			   name, m.hdr.agent_id);
		return false;
	}
	if (!gossip_time_ok(m.hdr.time, gslb_clock_wall())) {
		log_neterr(SUBSYS,
			   "ignoring an acknowledgement from overwatch %s: "
			   "its clock is more than %d s from ours",
			   name, (int)(GOSSIP_MAX_SKEW / GSLB_SEC));
		return false;
	}
	if (m.u.ack.acked_seq < s->seq_first || m.u.ack.acked_seq >= s->seq) {
		log_neterr(SUBSYS,
			   "ignoring an acknowledgement from overwatch %s of "
			   "a message we did not send",
			   name);
		return false;
	}
	on_ack(p, &m.u.ack);
	return true;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct sender *s = arg;
	uint8_t buf[GOSSIP_MAX_DATAGRAM + 1];
	(void)what;

	/* A bounded batch: the loop has other work. */
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0,
				     (struct sockaddr *)&from, &flen);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				/* ICMP errors of earlier sends show here. */
				log_debug(SUBSYS, "receive: %s",
					  strerror(errno));
				continue;
			}
			return;
		}
		if ((size_t)n > GOSSIP_MAX_DATAGRAM) {
			log_neterr(SUBSYS, "ignoring an oversized datagram");
			s->ignored++;
			continue;
		}
		if (!on_datagram(s, buf, (size_t)n, &from)) {
			s->ignored++;
		}
	}
}

/* ------------------------------------------------------------------------ */
/* Heartbeats                                                               */

static void heartbeat_peer(struct peer *p)
{
	struct sender *s = p->s;
	char name[NAME_LEN];

	if (!p->resolved) {
		resolve(p);
		if (!p->resolved) {
			return;
		}
	}
	if (p->dup) {
		return;
	}
	if (!p->silent && p->unanswered >= s->cfg.missed_threshold) {
		char since[GSLB_RFC3339_LEN];
		p->silent = true;
		if (p->last_ack != 0) {
			gslb_time_rfc3339(gslb_clock_mono_to_wall(p->last_ack),
					  since);
		} else {
			gslb_time_rfc3339(
				gslb_clock_mono_to_wall(s->started_at), since);
		}
		log_warn(
			SUBSYS,
			"overwatch %s not answering since %s (%u heartbeats%s)",
			peer_name(p, name, sizeof(name)), since, p->unanswered,
			p->last_ack != 0 ? "" : ", never answered");
		/* The next answer brings a new registration and state. */
		unregister(p);
	}
	send_heartbeat(p);
	p->unanswered++;
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct sender *s = arg;
	(void)fd;
	(void)what;
	for (size_t i = 0; i < s->n_peers; i++) {
		heartbeat_peer(s->peers[i]);
	}
}

static int arm_heartbeat(struct sender *s)
{
	struct timeval tv = {
		.tv_sec = (time_t)(s->cfg.interval / GSLB_SEC),
		.tv_usec =
			(suseconds_t)((s->cfg.interval % GSLB_SEC) / GSLB_USEC),
	};
	return event_add(s->heartbeat, &tv) == 0 ? GSLB_EOK : GSLB_ENOMEM;
}

/* ------------------------------------------------------------------------ */
/* Set-up                                                                   */

int sender_new(struct event_base *base, const struct ident *ident,
	       const struct sender_report *report, struct sender **out)
{
	struct sender *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return GSLB_ENOMEM;
	}
	s->base = base;
	s->ident = ident;
	s->report = report;
	s->fd4 = s->fd6 = -1;
	s->heartbeat = event_new(base, -1, EV_PERSIST, on_heartbeat, s);
	if (s->heartbeat == NULL) {
		free(s);
		return GSLB_ENOMEM;
	}
	gossip_kx_new(&s->kx);
	s->seq_first = s->seq = (uint64_t)gslb_clock_wall();
	s->started_at = gslb_clock_mono();
	*out = s;
	return GSLB_EOK;
}

static void peer_free(struct peer *p)
{
	free(p->node);
	free(p->host);
	free(p);
}

void sender_free(struct sender *s)
{
	if (s == NULL) {
		return;
	}
	for (size_t i = 0; i < s->n_peers; i++) {
		peer_free(s->peers[i]);
	}
	free(s->peers);
	if (s->ev4 != NULL) {
		event_free(s->ev4);
	}
	if (s->ev6 != NULL) {
		event_free(s->ev6);
	}
	if (s->fd4 >= 0) {
		close(s->fd4);
	}
	if (s->fd6 >= 0) {
		close(s->fd6);
	}
	event_free(s->heartbeat);
	gossip_kx_wipe(&s->kx);
	free(s);
}

static struct peer *peer_new(struct sender *s, const char *node)
{
	struct peer *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		return NULL;
	}
	p->s = s;
	p->node = strdup(node);
	if (p->node == NULL ||
	    gslb_hostport_split(node, &p->host, &p->port) != GSLB_EOK) {
		peer_free(p);
		return NULL;
	}
	return p;
}

int sender_configure(struct sender *s, const struct sender_config *cfg)
{
	bool token_changed =
		s->cfg.token != NULL && strcmp(s->cfg.token, cfg->token) != 0;
	bool interval_changed = s->cfg.interval != cfg->interval;
	struct peer **peers = calloc(cfg->n_nodes, sizeof(*peers));
	if (peers == NULL && cfg->n_nodes > 0) {
		return GSLB_ENOMEM;
	}
	for (size_t i = 0; i < s->n_peers; i++) {
		s->peers[i]->keep = false;
	}
	size_t n = 0;
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		struct peer *p = NULL;
		for (size_t j = 0; j < s->n_peers && p == NULL; j++) {
			if (!s->peers[j]->keep &&
			    strcmp(s->peers[j]->node, cfg->nodes[i]) == 0) {
				p = s->peers[j];
			}
		}
		if (p == NULL) {
			p = peer_new(s, cfg->nodes[i]);
			if (p == NULL) {
				for (size_t j = 0; j < n; j++) {
					if (!peers[j]->keep) {
						peer_free(peers[j]);
					}
				}
				for (size_t j = 0; j < s->n_peers; j++) {
					s->peers[j]->keep = false;
				}
				free(peers);
				return GSLB_ENOMEM;
			}
			p->keep = false;
		} else {
			p->keep = true;
		}
		peers[n++] = p;
	}
	/* Nothing can fail from here on. */
	s->cfg = *cfg;
	for (size_t i = 0; i < s->n_peers; i++) {
		struct peer *p = s->peers[i];
		if (!p->keep) {
			char name[NAME_LEN];
			if (p->resolved && !p->dup && p->have_kx) {
				send_deregister(p);
				send_deregister(p);
			}
			log_info(SUBSYS, "overwatch %s removed",
				 peer_name(p, name, sizeof(name)));
			peer_free(p);
		}
	}
	free(s->peers);
	s->peers = peers;
	s->n_peers = n;
	/* Entries that were duplicates may not be any more. */
	for (size_t i = 0; i < n; i++) {
		struct peer *p = peers[i];
		if (p->keep && p->dup) {
			p->dup = false;
			p->resolved = false;
			p->resolve_warned = false;
			resolve(p);
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct peer *p = peers[i];
		if (!p->keep) {
			p->keep = true;
			resolve(p);
			/* A new entry on reload: contact it now. */
			if (s->started && p->resolved && !p->dup) {
				send_heartbeat(p);
				p->unanswered++;
			}
		}
	}
	if (token_changed) {
		sender_reregister(s);
	}
	if (s->started && interval_changed) {
		return arm_heartbeat(s);
	}
	return GSLB_EOK;
}

int sender_start(struct sender *s)
{
	s->started = true;
	s->started_at = gslb_clock_mono();
	on_heartbeat(-1, 0, s);
	return arm_heartbeat(s);
}

void sender_state_changed(struct sender *s)
{
	const gslb_time_t now = gslb_clock_mono();
	for (size_t i = 0; i < s->n_peers; i++) {
		struct peer *p = s->peers[i];
		if (p->registered && !p->dup) {
			send_state(p, false, now);
		}
	}
}

void sender_reregister(struct sender *s)
{
	const gslb_time_t now = gslb_clock_mono();
	for (size_t i = 0; i < s->n_peers; i++) {
		struct peer *p = s->peers[i];
		unregister(p);
		p->refused = 0;
		p->reg_sent = 0;
		if (p->resolved && !p->dup) {
			send_register(p, now);
		}
	}
}

void sender_deregister(struct sender *s)
{
	char name[NAME_LEN];
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < s->n_peers; i++) {
			struct peer *p = s->peers[i];
			if (p->resolved && !p->dup && p->have_kx) {
				send_deregister(p);
				if (round == 0) {
					log_info(SUBSYS,
						 "deregistering from overwatch "
						 "%s",
						 peer_name(p, name,
							   sizeof(name)));
				}
			}
		}
	}
}

size_t sender_count(const struct sender *s)
{
	return s->n_peers;
}

uint64_t sender_ignored(const struct sender *s)
{
	return s->ignored;
}

size_t sender_registered(const struct sender *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n_peers; i++) {
		n += s->peers[i]->registered;
	}
	return n;
}
