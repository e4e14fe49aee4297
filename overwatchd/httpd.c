/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/http.h>

#include "error.h"
#include "fsutil.h"
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

/* Whether something still accepts connections on the socket at path. */
static bool socket_alive(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return false;
	}
	bool alive =
		connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return alive;
}

static int unix_listen(const char *path, const char **why)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat sb;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		*why = "path too long";
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);

	char dir[sizeof(sun.sun_path)];
	memcpy(dir, path, strlen(path) + 1);
	char *slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		int ret = gslb_mkdirs(dir, 0755);
		if (ret != GSLB_EOK) {
			*why = gslb_strerror(ret);
			return -1;
		}
	}
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			*why = "exists and is not a socket";
			return -1;
		}
		if (socket_alive(&sun)) {
			*why = "in use by another process";
			return -1;
		}
		unlink(path);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*why = strerror(errno);
		return -1;
	}
	/* Not even briefly open to others: bind under a strict umask. */
	mode_t old = umask(0117);
	int ret = bind(fd, (const struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (ret != 0 || listen(fd, BACKLOG) != 0) {
		*why = strerror(errno);
		close(fd);
		return -1;
	}
	return fd;
}

int httpd_add_unix(struct evhttp *http, const char *subsystem, const char *key,
		   const char *path)
{
	const char *why = "out of memory";
	int fd = unix_listen(path, &why);
	if (fd >= 0 && evhttp_accept_socket_with_handle(http, fd) == NULL) {
		close(fd);
		unlink(path);
		fd = -1;
	}
	if (fd < 0) {
		log_error(subsystem, "cannot listen on %s %s: %s", key, path,
			  why);
		return GSLB_EINVAL;
	}
	return GSLB_EOK;
}

bool httpd_is_unix(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev =
		evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
	evutil_socket_t fd = bev != NULL ? bufferevent_getfd(bev) : -1;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	return fd >= 0 && getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
	       ss.ss_family == AF_UNIX;
}
