/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Manual overrides: an operator's word on a backend's health, above every
 * other fact. One table keyed by service, IP and port, where port 0 covers
 * every port of the IP; each registry backend takes the override of its
 * exact key, else that of its IP. Main thread only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "registry.h"
#include "store.h"

struct overrides;

int overrides_new(struct overrides **out) GSLB_WARN_UNUSED;
void overrides_free(struct overrides *ov);

/* In order of service, address and port. */
size_t overrides_count(const struct overrides *ov);
const struct store_override *overrides_at(const struct overrides *ov, size_t i);

/* The override with exactly this key; NULL when none. */
const struct store_override *overrides_find(const struct overrides *ov,
					    const char *service,
					    const struct gslb_ip *ip,
					    uint16_t port);

/* The override that applies to b; NULL when none. */
const struct store_override *overrides_for(const struct overrides *ov,
					   const struct gslb_backend *b);

/* Whether o applies to b (same service and IP, o's port or any). */
bool overrides_covers(const struct store_override *o,
		      const struct gslb_backend *b);

/* Takes over rec's contents (rec is zeroed); replaces the same key. */
int overrides_put(struct overrides *ov,
		  struct store_override *rec) GSLB_WARN_UNUSED;

/* False when there was no such override. */
bool overrides_remove(struct overrides *ov, const char *service,
		      const struct gslb_ip *ip, uint16_t port);

/* Removes the i-th override. */
void overrides_remove_at(struct overrides *ov, size_t i);

/* Sets every backend's override fact from the table; true when an
 * effective status changed. */
bool overrides_apply(const struct overrides *ov, struct gslb_registry *reg,
		     gslb_time_t now);

/* The earliest expiry (wall clock); 0 when none expires. */
gslb_time_t overrides_next_expiry(const struct overrides *ov);
