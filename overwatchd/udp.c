/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "answer.h"
#include "error.h"
#include "log.h"
#include "server.h"

#define BATCH     64
#define UDP_IN    4096 /* larger queries arrive truncated and get FORMERR */
#define UDP_OUT   4096 /* dns.max_udp_payload is at most this */
#define CMSG_SIZE CMSG_SPACE(sizeof(struct in6_pktinfo))

/* Stop is noticed within this long when no query arrives. */
#define IDLE_WAKEUP_MS 100

struct udp_worker {
	struct server *srv;
	struct reader *reader;
	int fd;
	bool pktinfo; /* wildcard address: reply from the address asked */
	struct answer_ctx ctx;

	struct mmsghdr in[BATCH];
	struct mmsghdr out[BATCH];
	struct iovec in_iov[BATCH];
	struct iovec out_iov[BATCH];
	struct sockaddr_storage peer[BATCH];
	uint8_t in_cmsg[BATCH][CMSG_SIZE];
	uint8_t out_cmsg[BATCH][CMSG_SIZE];
	uint8_t in_buf[BATCH][UDP_IN];
	uint8_t out_buf[BATCH][UDP_OUT];
};

static bool is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;
		return sin->sin_addr.s_addr == htonl(INADDR_ANY);
	}
	const struct sockaddr_in6 *sin6 = (const void *)ss;
	return IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
}

static int udp_socket(const struct gslb_sockaddr *sa, bool *pktinfo)
{
	int fam = sa->ss.ss_family;
	int fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -errno;
	}
	int on = 1;
	struct timeval tv = { .tv_sec = 0, .tv_usec = IDLE_WAKEUP_MS * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* Path MTU discovery off (IP_PMTUDISC_OMIT): a forged ICMP "too big"
	 * cannot make answers fragment, and spoofed fragments are a way to
	 * poison a resolver. dns.max_udp_payload keeps answers small. */
	if (fam == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
		int omit = IPV6_PMTUDISC_OMIT;
		setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &omit,
			   sizeof(omit));
	} else {
		int omit = IP_PMTUDISC_OMIT;
		setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &omit,
			   sizeof(omit));
	}
	*pktinfo = is_wildcard(&sa->ss);
	if (*pktinfo) {
		if (fam == AF_INET) {
			setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
		} else {
			setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on,
				   sizeof(on));
		}
	}
	if (bind(fd, (const struct sockaddr *)&sa->ss, sa->len) != 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* The reply leaves from the address the query was sent to. */
static socklen_t reply_cmsg(const struct msghdr *in, uint8_t *out)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR((struct msghdr *)in); c != NULL;
	     c = CMSG_NXTHDR((struct msghdr *)in, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct cmsghdr *o = (struct cmsghdr *)out;
			memcpy(o, c, CMSG_SPACE(sizeof(struct in_pktinfo)));
			struct in_pktinfo *pi = (void *)CMSG_DATA(o);
			pi->ipi_spec_dst = pi->ipi_addr;
			pi->ipi_ifindex = 0;
			return CMSG_SPACE(sizeof(struct in_pktinfo));
		}
		if (c->cmsg_level == IPPROTO_IPV6 &&
		    c->cmsg_type == IPV6_PKTINFO) {
			memcpy(out, c, CMSG_SPACE(sizeof(struct in6_pktinfo)));
			return CMSG_SPACE(sizeof(struct in6_pktinfo));
		}
	}
	return 0;
}

/* The lengths and flags recvmmsg writes, in the first n headers: restored
 * after each batch for those only (resetting all BATCH cost a tenth of a
 * query's instructions). */
static void rearm_receive(struct udp_worker *w, int n)
{
	for (int i = 0; i < n; i++) {
		struct msghdr *h = &w->in[i].msg_hdr;
		h->msg_namelen = sizeof(w->peer[i]);
		h->msg_controllen = w->pktinfo ? CMSG_SIZE : 0;
		h->msg_flags = 0;
	}
}

static void prepare_receive(struct udp_worker *w)
{
	for (int i = 0; i < BATCH; i++) {
		w->in_iov[i] = (struct iovec){ w->in_buf[i], UDP_IN };
		struct msghdr *h = &w->in[i].msg_hdr;
		h->msg_name = &w->peer[i];
		h->msg_iov = &w->in_iov[i];
		h->msg_iovlen = 1;
		h->msg_control = w->pktinfo ? w->in_cmsg[i] : NULL;
	}
	rearm_receive(w, BATCH);
}

static void send_all(struct udp_worker *w, unsigned count)
{
	unsigned sent = 0;
	while (sent < count) {
		int r = sendmmsg(w->fd, w->out + sent, count - sent, 0);
		if (r < 0) {
			if (errno == EINTR) {
				continue;
			}
			/* A peer that cannot be reached is its problem; skip
			 * that one datagram and send the rest. */
			log_neterr("dns", "UDP send failed: %s",
				   strerror(errno));
			sent++;
			continue;
		}
		sent += (unsigned)r;
	}
}

static void *udp_main(void *arg)
{
	struct udp_worker *w = arg;
	struct server *srv = w->srv;
	prepare_receive(w);
	while (!atomic_load_explicit(&srv->stopping, memory_order_relaxed)) {
		int n = recvmmsg(w->fd, w->in, BATCH, MSG_WAITFORONE, NULL);
		const struct snapshot *snap = reader_enter(srv);
		if (n <= 0) {
			/* Idle (timeout) or interrupted: holding nothing. */
			reader_done(w->reader, snap);
			continue;
		}
		unsigned count = 0;
		for (int i = 0; i < n; i++) {
			struct msghdr *h = &w->in[i].msg_hdr;
			size_t len = answer_query(
				&w->ctx, snap, w->in_buf[i], w->in[i].msg_len,
				w->out_buf[count], UDP_OUT, false);
			if (len == 0) {
				continue;
			}
			struct msghdr *o = &w->out[count].msg_hdr;
			w->out_iov[count] =
				(struct iovec){ w->out_buf[count], len };
			o->msg_name = h->msg_name;
			o->msg_namelen = h->msg_namelen;
			o->msg_iov = &w->out_iov[count];
			o->msg_iovlen = 1;
			o->msg_flags = 0;
			o->msg_controllen =
				w->pktinfo ? reply_cmsg(h, w->out_cmsg[count])
					   : 0;
			o->msg_control = o->msg_controllen > 0
						 ? w->out_cmsg[count]
						 : NULL;
			count++;
		}
		reader_done(w->reader, snap);
		if (count > 0) {
			send_all(w, count);
		}
		rearm_receive(w, n);
	}
	return NULL;
}

size_t udp_thread_count(const struct gslb_config *cfg)
{
	size_t workers = cfg->dns.workers;
	if (workers == 0) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		workers = cores > 0 ? (size_t)cores : 1;
	}
	return workers * cfg->dns.n_listen;
}

int udp_start(struct server *srv)
{
	const struct gslb_dns_config *dns = &srv->cfg->dns;
	size_t n = udp_thread_count(srv->cfg);
	srv->udp = calloc(n, sizeof(*srv->udp));
	if (srv->udp == NULL) {
		return GSLB_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct udp_worker *w = &srv->udp[i];
		const struct gslb_sockaddr *sa =
			&dns->listen[i % dns->n_listen];
		w->srv = srv;
		w->reader = &srv->readers[srv->n_readers++];
		w->fd = udp_socket(sa, &w->pktinfo);
		if (w->fd < 0) {
			char where[GSLB_SOCKADDR_STRLEN];
			log_error("dns", "cannot listen on UDP %s: %s",
				  gslb_sockaddr_format(sa, where),
				  strerror(-w->fd));
			return w->fd;
		}
		srv->n_udp++;
		if (answer_ctx_init(&w->ctx, (uint64_t)time(NULL) ^
						     ((uint64_t)i << 32)) !=
		    GSLB_EOK) {
			return GSLB_ENOMEM;
		}
	}
	for (size_t i = 0; i < n; i++) {
		int ret = pthread_create(&srv->threads[srv->n_threads], NULL,
					 udp_main, &srv->udp[i]);
		if (ret != 0) {
			return -ret;
		}
		srv->n_threads++;
	}
	return GSLB_EOK;
}

void udp_stats(struct server *srv, struct answer_stats *sum)
{
	for (size_t i = 0; i < srv->n_udp; i++) {
		answer_stats_add(sum, &srv->udp[i].ctx.stats);
	}
}

void udp_stop(struct server *srv, struct answer_stats *sum)
{
	for (size_t i = 0; i < srv->n_udp; i++) {
		answer_stats_add(sum, &srv->udp[i].ctx.stats);
		close(srv->udp[i].fd);
		answer_ctx_clear(&srv->udp[i].ctx);
	}
	free(srv->udp);
	srv->udp = NULL;
	srv->n_udp = 0;
}
