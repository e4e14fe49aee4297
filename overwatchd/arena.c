/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "error.h"

struct arena_chunk {
	struct arena_chunk *next;
	size_t size;
	size_t used;
	_Alignas(16) uint8_t data[];
};

static void *mm_alloc(void *ctx, size_t size)
{
	return arena_alloc(ctx, size);
}

static struct arena_chunk *chunk_new(size_t size)
{
	struct arena_chunk *c = malloc(sizeof(*c) + size);
	if (c != NULL) {
		c->next = NULL;
		c->size = size;
		c->used = 0;
	}
	return c;
}

int arena_init(struct arena *a, size_t chunk_size, size_t max_chunks)
{
	memset(a, 0, sizeof(*a));
	a->chunk_size = chunk_size;
	a->max_chunks = max_chunks;
	a->first = chunk_new(chunk_size);
	if (a->first == NULL) {
		return GSLB_ENOMEM;
	}
	a->head = a->first;
	a->n_chunks = 1;
	a->mm.ctx = a;
	a->mm.alloc = mm_alloc;
	a->mm.free = NULL; /* libknot skips frees when this is NULL */
	return GSLB_EOK;
}

static void free_after_first(struct arena *a)
{
	struct arena_chunk *c = a->first->next;
	while (c != NULL) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->first->next = NULL;
}

void arena_reset(struct arena *a)
{
	if (a->first->next != NULL) {
		free_after_first(a);
	}
	a->first->used = 0;
	a->head = a->first;
	a->n_chunks = 1;
}

void arena_clear(struct arena *a)
{
	if (a->first == NULL) {
		return;
	}
	free_after_first(a);
	free(a->first);
	memset(a, 0, sizeof(*a));
}

void *arena_alloc(struct arena *a, size_t size)
{
	size = (size + 15) & ~(size_t)15;
	struct arena_chunk *c = a->head;
	if (GSLB_UNLIKELY(c->used + size > c->size)) {
		if (a->max_chunks != 0 && a->n_chunks >= a->max_chunks) {
			return NULL;
		}
		size_t csize = size > a->chunk_size ? size : a->chunk_size;
		struct arena_chunk *n = chunk_new(csize);
		if (n == NULL) {
			return NULL;
		}
		c->next = n;
		a->head = n;
		a->n_chunks++;
		c = n;
	}
	void *p = c->data + c->used;
	c->used += size;
	return p;
}

void *arena_zalloc(struct arena *a, size_t size)
{
	void *p = arena_alloc(a, size);
	if (p != NULL) {
		memset(p, 0, size);
	}
	return p;
}

void *arena_memdup(struct arena *a, const void *src, size_t size)
{
	void *p = arena_alloc(a, size);
	if (p != NULL) {
		memcpy(p, src, size);
	}
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_memdup(a, s, strlen(s) + 1);
}
