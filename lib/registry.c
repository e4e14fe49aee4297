/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "error.h"
#include "registry.h"

/* A backend plus what only the registry needs to know about it. */
struct entry {
	struct gslb_backend b; /* first: the public view */
	uint64_t hash;
	uint64_t sync_mark; /* last sync_static that found it in the config */
};

struct gslb_registry {
	gslb_duration_t stale_after;
	uint64_t generation;
	uint64_t sync_epoch;

	struct entry **items; /* insertion order */
	size_t n_items;
	size_t cap_items;

	/* Open addressing, linear probing, power-of-two size, load <= 1/2. */
	struct entry **slots;
	size_t n_slots;
};

enum gslb_status gslb_backend_status(const struct gslb_backend *b,
				     gslb_time_t now,
				     gslb_duration_t stale_after)
{
	if (b->override != GSLB_UNKNOWN) {
		return b->override == GSLB_NO ? GSLB_STATUS_UNHEALTHY
					      : GSLB_STATUS_HEALTHY;
	}
	if (b->draining) {
		return GSLB_STATUS_DRAINING;
	}
	/* Overwatch's own checks beat both staleness and the agent. */
	if (b->validation != GSLB_UNKNOWN) {
		return b->validation == GSLB_NO ? GSLB_STATUS_UNHEALTHY
						: GSLB_STATUS_HEALTHY;
	}
	if (b->source == GSLB_SOURCE_AGENT) {
		if (b->stale_after > 0) {
			stale_after = b->stale_after;
		}
		if (now - b->agent_last_seen > stale_after) {
			return GSLB_STATUS_STALE;
		}
		return b->agent_healthy ? GSLB_STATUS_HEALTHY
					: GSLB_STATUS_UNHEALTHY;
	}
	return GSLB_STATUS_HEALTHY;
}

const char *gslb_status_name(enum gslb_status status)
{
	switch (status) {
	case GSLB_STATUS_HEALTHY:
		return "healthy";
	case GSLB_STATUS_UNHEALTHY:
		return "unhealthy";
	case GSLB_STATUS_STALE:
		return "stale";
	case GSLB_STATUS_DRAINING:
		return "draining";
	}
	return "unknown";
}

const char *gslb_source_name(enum gslb_backend_source source)
{
	switch (source) {
	case GSLB_SOURCE_STATIC:
		return "static";
	case GSLB_SOURCE_AGENT:
		return "agent";
	case GSLB_SOURCE_API:
		return "api";
	}
	return "unknown";
}

/* FNV-1a over the key, finished with a 64-bit mixer for the low bits. */
static uint64_t hash_bytes(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static uint64_t key_hash(const char *service, const struct gslb_ip *ip,
			 uint16_t port)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	const unsigned char family = ip->family == AF_INET ? 4 : 6;
	const unsigned char port_be[2] = { (unsigned char)(port >> 8),
					   (unsigned char)port };

	/* The NUL separates the service from the address bytes. */
	h = hash_bytes(h, service, strlen(service) + 1);
	h = hash_bytes(h, &family, 1);
	h = hash_bytes(h, ip->addr, gslb_ip_len(ip));
	h = hash_bytes(h, port_be, sizeof(port_be));
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	return h;
}

static bool key_equal(const struct entry *e, uint64_t hash, const char *service,
		      const struct gslb_ip *ip, uint16_t port)
{
	return e->hash == hash && e->b.port == port &&
	       gslb_ip_equal(&e->b.ip, ip) &&
	       strcmp(e->b.service, service) == 0;
}

static int slots_resize(struct gslb_registry *reg, size_t n_slots)
{
	struct entry **slots = calloc(n_slots, sizeof(*slots));
	if (slots == NULL) {
		return GSLB_ENOMEM;
	}
	for (size_t i = 0; i < reg->n_items; i++) {
		struct entry *e = reg->items[i];
		size_t s = e->hash & (n_slots - 1);
		while (slots[s] != NULL) {
			s = (s + 1) & (n_slots - 1);
		}
		slots[s] = e;
	}
	free(reg->slots);
	reg->slots = slots;
	reg->n_slots = n_slots;
	return GSLB_EOK;
}

/* The slot holding the key, or the empty slot where it would go. */
static size_t slot_find(const struct gslb_registry *reg, uint64_t hash,
			const char *service, const struct gslb_ip *ip,
			uint16_t port)
{
	const size_t mask = reg->n_slots - 1;
	size_t s = hash & mask;

	while (reg->slots[s] != NULL &&
	       !key_equal(reg->slots[s], hash, service, ip, port)) {
		s = (s + 1) & mask;
	}
	return s;
}

/* Backward-shift deletion: the probe chains stay intact without tombstones. */
static void slot_remove(struct gslb_registry *reg, const struct entry *e)
{
	const size_t mask = reg->n_slots - 1;
	size_t hole = e->hash & mask;

	while (reg->slots[hole] != e) {
		hole = (hole + 1) & mask;
	}
	reg->slots[hole] = NULL;

	for (size_t s = (hole + 1) & mask; reg->slots[s] != NULL;
	     s = (s + 1) & mask) {
		const size_t home = reg->slots[s]->hash & mask;
		/* Move it back unless its home lies cyclically in (hole, s]. */
		const bool stays = hole <= s ? (hole < home && home <= s)
					     : (hole < home || home <= s);
		if (!stays) {
			reg->slots[hole] = reg->slots[s];
			reg->slots[s] = NULL;
			hole = s;
		}
	}
}

int gslb_registry_new(gslb_duration_t stale_after, struct gslb_registry **out)
{
	*out = NULL;
	if (stale_after < 0) {
		return GSLB_EINVAL;
	}
	struct gslb_registry *reg = calloc(1, sizeof(*reg));
	if (reg == NULL) {
		return GSLB_ENOMEM;
	}
	reg->stale_after = stale_after;
	if (slots_resize(reg, 16) != GSLB_EOK) {
		free(reg);
		return GSLB_ENOMEM;
	}
	*out = reg;
	return GSLB_EOK;
}

static void entry_free(struct entry *e)
{
	if (e == NULL) {
		return;
	}
	free(e->b.service);
	free(e->b.region);
	free(e);
}

void gslb_registry_free(struct gslb_registry *reg)
{
	if (reg == NULL) {
		return;
	}
	for (size_t i = 0; i < reg->n_items; i++) {
		entry_free(reg->items[i]);
	}
	free(reg->items);
	free(reg->slots);
	free(reg);
}

static char *strdup_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static bool str_equal_null(const char *a, const char *b)
{
	if (a == NULL || b == NULL) {
		return a == b;
	}
	return strcmp(a, b) == 0;
}

/* Room for one more backend in both the list and the index. */
static int reserve_one(struct gslb_registry *reg)
{
	if (reg->n_items == reg->cap_items) {
		size_t cap = reg->cap_items != 0 ? reg->cap_items * 2 : 16;
		struct entry **items =
			realloc(reg->items, cap * sizeof(*items));
		if (items == NULL) {
			return GSLB_ENOMEM;
		}
		reg->items = items;
		reg->cap_items = cap;
	}
	if ((reg->n_items + 1) * 2 > reg->n_slots) {
		return slots_resize(reg, reg->n_slots * 2);
	}
	return GSLB_EOK;
}

/* A new entry for the key, in both the list and the index. */
static int add_entry(struct gslb_registry *reg, const char *service,
		     const struct gslb_ip *ip, uint16_t port, uint32_t weight,
		     const char *region, enum gslb_backend_source source,
		     uint64_t hash, gslb_time_t now, struct entry **out)
{
	int ret = reserve_one(reg);
	if (ret != GSLB_EOK) {
		return ret;
	}
	struct entry *e = calloc(1, sizeof(*e));
	if (e == NULL) {
		return GSLB_ENOMEM;
	}
	e->b.service = strdup(service);
	e->b.region = strdup_null(region);
	if (e->b.service == NULL || (region != NULL && e->b.region == NULL)) {
		entry_free(e);
		return GSLB_ENOMEM;
	}
	e->b.ip = *ip;
	e->b.port = port;
	e->b.weight = weight;
	e->b.source = source;
	if (source == GSLB_SOURCE_AGENT) {
		e->b.agent_last_seen = now;
	}
	e->b.validation = GSLB_UNKNOWN;
	e->b.override = GSLB_UNKNOWN;
	e->b.status = gslb_backend_status(&e->b, now, reg->stale_after);
	e->hash = hash;

	const size_t s = slot_find(reg, hash, service, ip, port);
	reg->slots[s] = e;
	reg->items[reg->n_items++] = e;
	reg->generation++;
	*out = e;
	return GSLB_EOK;
}

/* Recomputes b's status; true (and a new generation) when it changed. */
static bool recompute(struct gslb_registry *reg, struct gslb_backend *b,
		      gslb_time_t now)
{
	const enum gslb_status status =
		gslb_backend_status(b, now, reg->stale_after);
	if (status == b->status) {
		return false;
	}
	b->status = status;
	reg->generation++;
	return true;
}

/* Brings an existing static backend in line with its config entry. */
static int update_static(struct gslb_registry *reg, struct entry *e,
			 const struct gslb_server *srv, const char *region)
{
	if (!str_equal_null(e->b.region, region)) {
		char *copy = strdup_null(region);
		if (region != NULL && copy == NULL) {
			return GSLB_ENOMEM;
		}
		free(e->b.region);
		e->b.region = copy;
		reg->generation++;
	}
	if (e->b.weight != srv->weight) {
		e->b.weight = srv->weight;
		reg->generation++;
	}
	e->b.server = srv;
	/* Health facts, and so the status, are not the config's business. */
	return GSLB_EOK;
}

/* Drops static backends the last sync did not see; keeps the order. */
static void remove_unseen_static(struct gslb_registry *reg)
{
	size_t kept = 0;

	for (size_t i = 0; i < reg->n_items; i++) {
		struct entry *e = reg->items[i];
		if (e->b.source == GSLB_SOURCE_STATIC &&
		    e->sync_mark != reg->sync_epoch) {
			slot_remove(reg, e);
			entry_free(e);
			reg->generation++;
			continue;
		}
		reg->items[kept++] = e;
	}
	reg->n_items = kept;
}

int gslb_registry_sync_static(struct gslb_registry *reg,
			      const struct gslb_config *cfg, gslb_time_t now)
{
	reg->sync_epoch++;

	for (size_t r = 0; r < cfg->n_regions; r++) {
		const struct gslb_region *region = &cfg->regions[r];

		for (size_t i = 0; i < region->n_servers; i++) {
			const struct gslb_server *srv = &region->servers[i];
			const char *service =
				srv->service != NULL ? srv->service : "";
			const uint64_t hash =
				key_hash(service, &srv->ip, srv->port);
			const size_t s = slot_find(reg, hash, service, &srv->ip,
						   srv->port);
			struct entry *e = reg->slots[s];
			int ret;

			if (e == NULL) {
				ret = add_entry(
					reg, service, &srv->ip, srv->port,
					srv->weight, region->name,
					GSLB_SOURCE_STATIC, hash, now, &e);
				if (ret != GSLB_EOK) {
					/* Nothing removed yet: a superset. */
					return ret;
				}
				e->b.server = srv;
			} else if (e->b.source != GSLB_SOURCE_STATIC ||
				   e->sync_mark == reg->sync_epoch) {
				/*
				 * An agent or API backend owns the key, or
				 * the config lists it twice (first wins).
				 */
				continue;
			} else {
				ret = update_static(reg, e, srv, region->name);
				if (ret != GSLB_EOK) {
					return ret;
				}
			}
			e->sync_mark = reg->sync_epoch;
		}
	}

	remove_unseen_static(reg);
	return GSLB_EOK;
}

int gslb_registry_add(struct gslb_registry *reg,
		      enum gslb_backend_source source, const char *service,
		      const struct gslb_ip *ip, uint16_t port, uint32_t weight,
		      const char *region, gslb_time_t now,
		      struct gslb_backend **out)
{
	*out = NULL;
	if (source == GSLB_SOURCE_STATIC) {
		return GSLB_EINVAL;
	}
	const uint64_t hash = key_hash(service, ip, port);
	if (reg->slots[slot_find(reg, hash, service, ip, port)] != NULL) {
		return GSLB_EEXIST;
	}
	struct entry *e = NULL;
	int ret = add_entry(reg, service, ip, port, weight, region, source,
			    hash, now, &e);
	if (ret == GSLB_EOK) {
		*out = &e->b;
	}
	return ret;
}

void gslb_registry_remove(struct gslb_registry *reg, struct gslb_backend *b)
{
	struct entry *e = (struct entry *)b;
	size_t kept = 0;
	for (size_t i = 0; i < reg->n_items; i++) {
		if (reg->items[i] != e) {
			reg->items[kept++] = reg->items[i];
		}
	}
	reg->n_items = kept;
	slot_remove(reg, e);
	entry_free(e);
	reg->generation++;
}

struct gslb_backend *gslb_registry_find(const struct gslb_registry *reg,
					const char *service,
					const struct gslb_ip *ip, uint16_t port)
{
	if (service == NULL || ip == NULL) {
		return NULL;
	}
	const uint64_t hash = key_hash(service, ip, port);
	struct entry *e = reg->slots[slot_find(reg, hash, service, ip, port)];
	return e != NULL ? &e->b : NULL;
}

size_t gslb_registry_count(const struct gslb_registry *reg)
{
	return reg->n_items;
}

struct gslb_backend *gslb_registry_at(const struct gslb_registry *reg, size_t i)
{
	return i < reg->n_items ? &reg->items[i]->b : NULL;
}

bool gslb_registry_set_override(struct gslb_registry *reg,
				struct gslb_backend *b,
				enum gslb_tristate healthy, gslb_time_t now)
{
	b->override = healthy;
	return recompute(reg, b, now);
}

bool gslb_registry_set_validation(struct gslb_registry *reg,
				  struct gslb_backend *b,
				  enum gslb_tristate healthy, gslb_time_t now)
{
	b->validation = healthy;
	b->validation_last_check = now;
	return recompute(reg, b, now);
}

bool gslb_registry_set_draining(struct gslb_registry *reg,
				struct gslb_backend *b, bool draining,
				gslb_time_t now)
{
	b->draining = draining;
	return recompute(reg, b, now);
}

bool gslb_registry_set_agent_claim(struct gslb_registry *reg,
				   struct gslb_backend *b, bool healthy,
				   gslb_time_t now)
{
	b->agent_healthy = healthy;
	b->agent_last_seen = now;
	return recompute(reg, b, now);
}

bool gslb_registry_touch_agent(struct gslb_registry *reg,
			       struct gslb_backend *b, gslb_time_t now)
{
	b->agent_last_seen = now;
	return recompute(reg, b, now);
}

void gslb_registry_set_weight(struct gslb_registry *reg, struct gslb_backend *b,
			      uint32_t weight)
{
	if (b->weight != weight) {
		b->weight = weight;
		reg->generation++;
	}
}

bool gslb_registry_refresh(struct gslb_registry *reg, gslb_time_t now)
{
	bool changed = false;

	for (size_t i = 0; i < reg->n_items; i++) {
		changed |= recompute(reg, &reg->items[i]->b, now);
	}
	return changed;
}

uint64_t gslb_registry_generation(const struct gslb_registry *reg)
{
	return reg->generation;
}
