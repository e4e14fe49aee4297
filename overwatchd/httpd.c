/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/http.h>

#include "error.h"
#include "httpd.h"
#include "log.h"
#include "netaddr.h"

#define TIMEOUT_S   10
#define MAX_HEADERS (16 * 1024)
#define BACKLOG     128

static int listen_on(const struct addrinfo *ai)
{
	int fd = socket(ai->ai_family,
			ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			ai->ai_protocol);
	if (fd < 0) {
		return -1;
	}
	int one = 1;
	/* A restart must not wait for TIME_WAIT connections of the last
	 * process; V6ONLY lets "::" and "0.0.0.0" both be bound for ":port". */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (ai->ai_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) !=
		     0) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(fd, BACKLOG) != 0) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/*
 * Binds every address host resolves to (all addresses when empty). Our own
 * sockets, not evhttp_bind_socket(): libevent resolves with AI_ADDRCONFIG,
 * which skips IPv6 on hosts whose only IPv6 address is ::1. On failure
 * *why says why.
 */
static int bind_all(struct evhttp *http, const char *host, uint16_t port,
		    const char **why)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	};
	struct addrinfo *res = NULL;
	char service[8];
	snprintf(service, sizeof(service), "%u", (unsigned)port);
	int gai =
		getaddrinfo(*host != '\0' ? host : NULL, service, &hints, &res);
	if (gai != 0) {
		*why = gai_strerror(gai);
		return GSLB_EINVAL;
	}
	size_t bound = 0;
	int ret = GSLB_EOK;
	int skipped = 0;
	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		int fd = listen_on(ai);
		if (fd < 0) {
			/* A family this host lacks is no reason to refuse
			 * when another address can be served. */
			if (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL) {
				skipped = errno;
				continue;
			}
			*why = strerror(errno);
			ret = -errno;
			break;
		}
		if (evhttp_accept_socket_with_handle(http, fd) == NULL) {
			close(fd);
			*why = strerror(ENOMEM);
			ret = GSLB_ENOMEM;
			break;
		}
		bound++;
	}
	freeaddrinfo(res);
	if (ret == GSLB_EOK && bound == 0) {
		*why = strerror(skipped != 0 ? skipped : EADDRNOTAVAIL);
		ret = skipped != 0 ? -skipped : -EADDRNOTAVAIL;
	}
	return ret;
}

struct evhttp *httpd_new(struct event_base *base, const char *subsystem,
			 const char *key, const char *address, size_t max_body,
			 void (*cb)(struct evhttp_request *req, void *arg),
			 void *arg)
{
	char *host = NULL;
	uint16_t port = 0;
	const char *why = "out of memory";
	struct evhttp *http = NULL;
	int ret = gslb_hostport_split(address, &host, &port);
	if (ret != GSLB_EOK) {
		why = gslb_strerror(ret);
	} else if ((http = evhttp_new(base)) != NULL) {
		evhttp_set_allowed_methods(
			http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
				      EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
				      EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
				      EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
				      EVHTTP_REQ_PATCH);
		evhttp_set_timeout(http, TIMEOUT_S);
		evhttp_set_max_headers_size(http, MAX_HEADERS);
		evhttp_set_max_body_size(http, max_body);
		evhttp_set_gencb(http, cb, arg);
		if (bind_all(http, host, port, &why) != GSLB_EOK) {
			/* Also closes any socket already bound. */
			evhttp_free(http);
			http = NULL;
		}
	}
	free(host);
	if (http == NULL) {
		log_error(subsystem, "cannot listen on %s %s: %s", key, address,
			  why);
	}
	return http;
}
