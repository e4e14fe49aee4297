/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The HTTP listeners of the overwatch (REST API, metrics): libevent evhttp
 * on the main event base, set up the same way for both.
 */
#pragma once

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
