/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The HTTP listeners of the overwatch (REST API, metrics): libevent evhttp
 * on the main event base, set up the same way for both.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct evhttp;
struct evhttp_request;

/*
 * A new evhttp on base listening on address ("host:port"; an empty host
 * means every address, IPv4 and IPv6; a host name, every address it has).
 * Every method reaches cb, so that the caller answers unknown ones itself;
 * requests time out after 10 s, headers are limited to 16 KiB and bodies
 * to max_body. On failure logs "cannot listen on KEY ADDRESS: why" under
 * subsystem and returns NULL.
 */
struct evhttp *httpd_new(struct event_base *base, const char *subsystem,
			 const char *key, const char *address, size_t max_body,
			 void (*cb)(struct evhttp_request *req, void *arg),
			 void *arg);

/*
 * Also listens on a UNIX socket at path (mode 0660: its file permissions
 * are the access control), creating the parent directory (0755) if
 * missing. A socket file left by a process that is gone is replaced; one
 * that still answers is not. On failure logs "cannot listen on KEY PATH:
 * why" under subsystem.
 */
int httpd_add_unix(struct evhttp *http, const char *subsystem, const char *key,
		   const char *path);

/* Whether req came in over a UNIX socket. */
bool httpd_is_unix(struct evhttp_request *req);
