/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Bump allocator. A snapshot lives in one arena and is freed in one go; each
 * DNS worker answers from a per-thread arena reset before every query, so
 * the query path never calls malloc.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <libknot/mm_ctx.h>

#include "compiler.h"

struct arena_chunk;

struct arena {
	struct arena_chunk *head;  /* chunk being filled */
	struct arena_chunk *first; /* kept across resets */
	size_t chunk_size;
	size_t max_chunks; /* 0 = unlimited; else alloc fails past the limit */
	size_t n_chunks;
	knot_mm_t mm; /* libknot view: alloc from this arena, free is a no-op */
};

/* chunk_size: bytes per chunk; max_chunks: 0 for unlimited. */
int arena_init(struct arena *a, size_t chunk_size, size_t max_chunks);
/* Frees all chunks but the first, which becomes empty. */
void arena_reset(struct arena *a);
void arena_clear(struct arena *a);

/* 16-byte aligned; NULL when out of memory or past max_chunks. */
void *arena_alloc(struct arena *a, size_t size) GSLB_MALLOC;
void *arena_zalloc(struct arena *a, size_t size) GSLB_MALLOC;
void *arena_memdup(struct arena *a, const void *src, size_t size);
char *arena_strdup(struct arena *a, const char *s);
