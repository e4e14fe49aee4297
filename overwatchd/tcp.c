/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * DNS over TCP (RFC 7766): two-byte length framing, several queries per
 * connection answered in order, an idle timeout, and a cap on connections.
 * One thread runs its own libevent loop for all of it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "answer.h"
#include "error.h"
#include "log.h"
#include "server.h"

#define TCP_BACKLOG 128
#define TCP_MSG_MAX 65535
#define TICK_MS     100
/* A client that does not read its answers stops being read from. */
#define OUTPUT_HIGH_WATER (256 * 1024)

struct tcp_conn {
	struct tcp_server *t;
	struct bufferevent *bev;
	struct tcp_conn *prev;
	struct tcp_conn *next;
};

struct tcp_server {
	struct server *srv;
	struct reader *reader;
	struct event_base *base;
	struct evconnlistener **listeners;
	size_t n_listeners;
	struct event *tick;
	struct answer_ctx ctx;
	struct tcp_conn *conns; /* open connections, freed at stop */
	unsigned connections;
	unsigned max_connections;
	struct timeval idle;
	uint8_t query[TCP_MSG_MAX];
	uint8_t answer[2 + TCP_MSG_MAX];
};

static void conn_close(struct tcp_conn *c)
{
	struct tcp_server *t = c->t;
	if (c->prev != NULL) {
		c->prev->next = c->next;
	} else {
		t->conns = c->next;
	}
	if (c->next != NULL) {
		c->next->prev = c->prev;
	}
	bufferevent_free(c->bev);
	free(c);
	t->connections--;
}

static void conn_read(struct bufferevent *bev, void *arg);
static void conn_event(struct bufferevent *bev, short what, void *arg);

static void conn_drained(struct bufferevent *bev, void *arg)
{
	/* Everything sent: read the next queries. */
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		bufferevent_setcb(bev, conn_read, NULL, conn_event, arg);
		bufferevent_enable(bev, EV_READ);
		/* Queries may already wait in the input buffer. */
		conn_read(bev, arg);
	}
}

static void conn_closed_after_flush(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		conn_close(arg);
	}
}

static void conn_event(struct bufferevent *bev, short what, void *arg)
{
	if ((what & BEV_EVENT_EOF) &&
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
		/* The client closed its side: finish sending, then close. */
		bufferevent_disable(bev, EV_READ);
		bufferevent_setcb(bev, NULL, conn_closed_after_flush,
				  conn_event, arg);
		return;
	}
	conn_close(arg);
}

static void conn_read(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *c = arg;
	struct tcp_server *t = c->t;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(bev);
	const struct snapshot *snap = reader_enter(t->srv);
	for (;;) {
		uint8_t hdr[2];
		if (evbuffer_copyout(in, hdr, 2) < 2) {
			break;
		}
		size_t len = knot_wire_read_u16(hdr);
		if (evbuffer_get_length(in) < 2 + len) {
			break;
		}
		evbuffer_drain(in, 2);
		evbuffer_remove(in, t->query, len);
		size_t alen = answer_query(&t->ctx, snap, t->query, len,
					   t->answer + 2, TCP_MSG_MAX, true);
		if (alen == 0) {
			continue;
		}
		knot_wire_write_u16(t->answer, (uint16_t)alen);
		evbuffer_add(out, t->answer, alen + 2);
		if (evbuffer_get_length(out) > OUTPUT_HIGH_WATER) {
			bufferevent_disable(bev, EV_READ);
			bufferevent_setcb(bev, conn_read, conn_drained,
					  conn_event, c);
			break;
		}
	}
	reader_done(t->reader, snap);
}

static void tcp_accept(struct evconnlistener *l, evutil_socket_t fd,
		       struct sockaddr *addr, int len, void *arg)
{
	struct tcp_server *t = arg;
	if (t->connections >= t->max_connections) {
		log_neterr("dns", "TCP connection refused: limit of %u reached",
			   t->max_connections);
		evutil_closesocket(fd);
		return;
	}
	struct tcp_conn *c = calloc(1, sizeof(*c));
	struct bufferevent *bev =
		bufferevent_socket_new(t->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c == NULL || bev == NULL) {
		free(c);
		if (bev != NULL) {
			bufferevent_free(bev);
		} else {
			evutil_closesocket(fd);
		}
		return;
	}
	c->t = t;
	c->bev = bev;
	c->next = t->conns;
	if (t->conns != NULL) {
		t->conns->prev = c;
	}
	t->conns = c;
	t->connections++;
	bufferevent_setcb(bev, conn_read, NULL, conn_event, c);
	bufferevent_set_timeouts(bev, &t->idle, &t->idle);
	bufferevent_enable(bev, EV_READ);
}

static void tcp_tick(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_server *t = arg;
	if (atomic_load(&t->srv->stopping)) {
		event_base_loopbreak(t->base);
		return;
	}
	/* Idle loop: this thread holds no snapshot now. */
	reader_done(t->reader, reader_enter(t->srv));
}

static void *tcp_main(void *arg)
{
	struct tcp_server *t = arg;
	event_base_dispatch(t->base);
	return NULL;
}

static int tcp_listen(const struct gslb_sockaddr *sa)
{
	int fd = socket(sa->ss.ss_family,
			SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		return -errno;
	}
	int on = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (sa->ss.ss_family == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	}
	if (bind(fd, (const struct sockaddr *)&sa->ss, sa->len) != 0 ||
	    listen(fd, TCP_BACKLOG) != 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int tcp_start(struct server *srv)
{
	const struct gslb_dns_config *dns = &srv->cfg->dns;
	struct tcp_server *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		return GSLB_ENOMEM;
	}
	srv->tcp = t;
	t->srv = srv;
	t->reader = &srv->readers[srv->n_readers++];
	t->max_connections = dns->tcp_max_connections;
	t->idle.tv_sec = dns->tcp_idle_timeout / GSLB_SEC;
	t->idle.tv_usec = (dns->tcp_idle_timeout % GSLB_SEC) / GSLB_USEC;
	t->base = event_base_new();
	t->listeners = calloc(dns->n_listen, sizeof(*t->listeners));
	if (t->base == NULL || t->listeners == NULL ||
	    answer_ctx_init(&t->ctx, (uint64_t)time(NULL)) != GSLB_EOK) {
		return GSLB_ENOMEM;
	}
	for (size_t i = 0; i < dns->n_listen; i++) {
		int fd = tcp_listen(&dns->listen[i]);
		if (fd < 0) {
			char where[GSLB_SOCKADDR_STRLEN];
			log_error("dns", "cannot listen on TCP %s: %s",
				  gslb_sockaddr_format(&dns->listen[i], where),
				  strerror(-fd));
			return fd;
		}
		t->listeners[i] = evconnlistener_new(
			t->base, tcp_accept, t, LEV_OPT_CLOSE_ON_FREE, -1, fd);
		if (t->listeners[i] == NULL) {
			close(fd);
			return GSLB_ENOMEM;
		}
		t->n_listeners++;
	}
	struct timeval tick = { 0, TICK_MS * 1000 };
	t->tick = event_new(t->base, -1, EV_PERSIST, tcp_tick, t);
	if (t->tick == NULL || event_add(t->tick, &tick) != 0) {
		return GSLB_ENOMEM;
	}
	int ret = pthread_create(&srv->threads[srv->n_threads], NULL, tcp_main,
				 t);
	if (ret != 0) {
		return -ret;
	}
	srv->n_threads++;
	return GSLB_EOK;
}

void tcp_stats(struct server *srv, struct answer_stats *sum)
{
	if (srv->tcp != NULL) {
		answer_stats_add(sum, &srv->tcp->ctx.stats);
	}
}

void tcp_stop(struct server *srv, struct answer_stats *sum)
{
	struct tcp_server *t = srv->tcp;
	if (t == NULL) {
		return;
	}
	answer_stats_add(sum, &t->ctx.stats);
	while (t->conns != NULL) {
		conn_close(t->conns);
	}
	for (size_t i = 0; i < t->n_listeners; i++) {
		evconnlistener_free(t->listeners[i]);
	}
	if (t->tick != NULL) {
		event_free(t->tick);
	}
	if (t->base != NULL) {
		event_base_free(t->base);
	}
	answer_ctx_clear(&t->ctx);
	free(t->listeners);
	free(t);
	srv->tcp = NULL;
}
