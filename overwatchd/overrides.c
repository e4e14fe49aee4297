/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "overrides.h"

/* Few overrides exist at a time (an operator sets them by hand), so a
 * sorted array scanned linearly is the simplest thing that is fast enough. */
struct overrides {
	struct store_override *items;
	size_t n;
	size_t cap;
};

int overrides_new(struct overrides **out)
{
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? GSLB_EOK : GSLB_ENOMEM;
}

void overrides_free(struct overrides *ov)
{
	if (ov == NULL) {
		return;
	}
	for (size_t i = 0; i < ov->n; i++) {
		store_override_clear(&ov->items[i]);
	}
	free(ov->items);
	free(ov);
}

size_t overrides_count(const struct overrides *ov)
{
	return ov->n;
}

const struct store_override *overrides_at(const struct overrides *ov, size_t i)
{
	return i < ov->n ? &ov->items[i] : NULL;
}

static int key_cmp(const struct store_override *o, const char *service,
		   const struct gslb_ip *ip, uint16_t port)
{
	int c = strcmp(o->service, service);
	if (c != 0) {
		return c;
	}
	if (o->ip.family != ip->family) {
		return o->ip.family == AF_INET ? -1 : 1;
	}
	c = memcmp(o->ip.addr, ip->addr, gslb_ip_len(ip));
	if (c != 0) {
		return c;
	}
	return (int)o->port - (int)port;
}

/* Index of the key, or where it would go (*found false). */
static size_t position(const struct overrides *ov, const char *service,
		       const struct gslb_ip *ip, uint16_t port, bool *found)
{
	size_t i = 0;
	*found = false;
	for (; i < ov->n; i++) {
		int c = key_cmp(&ov->items[i], service, ip, port);
		if (c >= 0) {
			*found = c == 0;
			break;
		}
	}
	return i;
}

const struct store_override *overrides_find(const struct overrides *ov,
					    const char *service,
					    const struct gslb_ip *ip,
					    uint16_t port)
{
	bool found;
	size_t i = position(ov, service, ip, port, &found);
	return found ? &ov->items[i] : NULL;
}

bool overrides_covers(const struct store_override *o,
		      const struct gslb_backend *b)
{
	return (o->port == 0 || o->port == b->port) &&
	       gslb_ip_equal(&o->ip, &b->ip) &&
	       strcmp(o->service, b->service) == 0;
}

const struct store_override *overrides_for(const struct overrides *ov,
					   const struct gslb_backend *b)
{
	const struct store_override *exact =
		overrides_find(ov, b->service, &b->ip, b->port);
	return exact != NULL ? exact
			     : overrides_find(ov, b->service, &b->ip, 0);
}

int overrides_put(struct overrides *ov, struct store_override *rec)
{
	bool found;
	size_t i = position(ov, rec->service, &rec->ip, rec->port, &found);
	if (found) {
		store_override_clear(&ov->items[i]);
		ov->items[i] = *rec;
		memset(rec, 0, sizeof(*rec));
		return GSLB_EOK;
	}
	if (ov->n == ov->cap) {
		size_t cap = ov->cap != 0 ? ov->cap * 2 : 8;
		struct store_override *items =
			realloc(ov->items, cap * sizeof(*items));
		if (items == NULL) {
			return GSLB_ENOMEM;
		}
		ov->items = items;
		ov->cap = cap;
	}
	memmove(&ov->items[i + 1], &ov->items[i],
		(ov->n - i) * sizeof(*ov->items));
	ov->items[i] = *rec;
	ov->n++;
	memset(rec, 0, sizeof(*rec));
	return GSLB_EOK;
}

bool overrides_remove(struct overrides *ov, const char *service,
		      const struct gslb_ip *ip, uint16_t port)
{
	bool found;
	size_t i = position(ov, service, ip, port, &found);
	if (found) {
		overrides_remove_at(ov, i);
	}
	return found;
}

void overrides_remove_at(struct overrides *ov, size_t i)
{
	store_override_clear(&ov->items[i]);
	memmove(&ov->items[i], &ov->items[i + 1],
		(ov->n - i - 1) * sizeof(*ov->items));
	ov->n--;
}

bool overrides_apply(const struct overrides *ov, struct gslb_registry *reg,
		     gslb_time_t now)
{
	bool changed = false;
	const size_t n = gslb_registry_count(reg);
	for (size_t i = 0; i < n; i++) {
		struct gslb_backend *b = gslb_registry_at(reg, i);
		const struct store_override *o =
			ov->n > 0 ? overrides_for(ov, b) : NULL;
		enum gslb_tristate want = o == NULL    ? GSLB_UNKNOWN
					  : o->healthy ? GSLB_YES
						       : GSLB_NO;
		if (b->override != want) {
			changed |=
				gslb_registry_set_override(reg, b, want, now);
		}
	}
	return changed;
}

gslb_time_t overrides_next_expiry(const struct overrides *ov)
{
	gslb_time_t next = 0;
	for (size_t i = 0; i < ov->n; i++) {
		gslb_time_t e = ov->items[i].expires;
		if (e != 0 && (next == 0 || e < next)) {
			next = e;
		}
	}
	return next;
}
