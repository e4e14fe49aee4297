/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The REST API (libevent evhttp, JSON by jansson) on api.address when
 * api.enabled: health and readiness, the registry's backends and stats,
 * on-demand validation, version. Paths, fields and status codes are the
 * original OpenGSLB's (docs/api.md). Main thread only.
 */
#pragma once

#include "compiler.h"

struct api;
struct server;

#include <stdint.h>

#define API_STATUS_CLASSES 6 /* index: HTTP status / 100 */

/* Listens when srv->cfg->api.enabled; *out stays NULL otherwise. */
int api_start(struct server *srv, struct api **out) GSLB_WARN_UNUSED;
void api_free(struct api *api);

/* Responses sent so far, by status class (for metrics). */
void api_responses(const struct api *api,
		   uint64_t by_class[API_STATUS_CLASSES]);
