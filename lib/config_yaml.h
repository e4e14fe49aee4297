/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The YAML of one config file as a small tree of scalars, sequences and
 * mappings, each node remembering where it was written, so that the schema
 * walk in config.c can name file, line and column in every message.
 * Internal to lib/config*.c.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "compiler.h"

enum cfg_node_kind {
	CFG_NODE_SCALAR = 0,
	CFG_NODE_SEQ,
	CFG_NODE_MAP,
};

struct cfg_node {
	enum cfg_node_kind kind;
	bool plain;    /* scalar written without quotes */
	unsigned file; /* index of the file in the load */
	unsigned line; /* 1-based */
	unsigned col;  /* 1-based */
	char *text;    /* scalar value, NUL-terminated */
	/* seq: the items; map: key, value, key, value, ... (keys are scalars)
	 */
	struct cfg_node **kids;
	size_t n_kids;
	size_t cap;
};

/* Nesting deeper than this is refused (keeps the recursion bounded). */
#define CFG_YAML_MAX_DEPTH 64

/* Receives each problem found while parsing; line 0 means "no position". */
typedef void (*cfg_yaml_report_fn)(void *arg, unsigned line, unsigned col,
				   const char *msg);

/*
 * Parses len bytes of YAML. Returns 0 with *root the document (NULL when the
 * file has no document or an empty one); problems that do not spoil the
 * tree (aliases, tags, a second document) are reported and still return 0.
 * A syntax error is reported and returns GSLB_EMALF with *root NULL.
 */
int cfg_yaml_parse(const char *buf, size_t len, unsigned file,
		   cfg_yaml_report_fn report, void *arg, struct cfg_node **root)
	GSLB_NONNULL(1, 4, 6) GSLB_WARN_UNUSED;

void cfg_node_free(struct cfg_node *node);

/* A plain "", "~" or "null" (any YAML 1.1 spelling): the key is unset. */
bool cfg_node_is_null(const struct cfg_node *node);

/* Mapping accessors; n pairs, key i is a scalar. */
static inline size_t cfg_map_len(const struct cfg_node *map)
{
	return map->n_kids / 2;
}
static inline const struct cfg_node *cfg_map_key(const struct cfg_node *map,
						 size_t i)
{
	return map->kids[2 * i];
}
static inline const struct cfg_node *cfg_map_val(const struct cfg_node *map,
						 size_t i)
{
	return map->kids[2 * i + 1];
}

/* The value of the first key equal to key; NULL if absent or not a map. */
const struct cfg_node *cfg_map_get(const struct cfg_node *map, const char *key);
