/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Shared by the parts of the config loader (internal to lib/config*.c):
 * config.c drives a load, collects errors and checks the merged result;
 * config_schema.c walks each file's node tree into the typed structs;
 * config_files.c reads files and follows includes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "compiler.h"
#include "config.h"
#include "config_yaml.h"

#ifndef GSLB_STATEDIR
#define GSLB_STATEDIR "/var/lib/opengslb"
#endif

/* Longest key path kept for a message ("regions[3].servers[12].port"). */
#define CFG_PATH_LEN 256

/* Domain TTL not set yet: dns.default_ttl applies (valid TTLs are < 2^31). */
#define CFG_TTL_UNSET UINT32_MAX

struct cfg_file {
	char *path; /* owned by cfg->files */
	struct cfg_node *root;
	dev_t dev;
	ino_t ino;
	size_t parent; /* index of the including file; SIZE_MAX for the root */
};

struct cfg_error {
	unsigned file, line, col; /* sort key */
	size_t seq;
	char *msg;
};

/* Where a merged list entry was written: its node and its path there. */
struct cfg_ref {
	const struct cfg_node *node;
	char path[64];
};

struct cfg_loader {
	struct gslb_config *cfg;
	enum gslb_mode mode;
	struct cfg_file *files;
	size_t n_files;
	struct cfg_error *errs;
	size_t n_errs;
	bool oom;
	/* A file could not be read: cross-file checks would only mislead. */
	bool incomplete;
	bool in_include;
	struct cfg_ref *regions; /* parallel to cfg->regions, and so on */
	struct cfg_ref *domains;
	struct cfg_ref *zones;
	struct cfg_ref *backends;
	struct cfg_ref *tokens;
};

/* Grows *arrp (a T *) so that index n fits; capacities are powers of two. */
bool cfg_vec_reserve(struct cfg_loader *ld, void *arrp, size_t n, size_t size);

/* Appends a zeroed element to arr (length n); NULL when out of memory. */
#define VEC_PUSH(ld, arr, n)                                               \
	(cfg_vec_reserve((ld), &(arr), (n), sizeof(*(arr)))                \
		 ? (memset(&(arr)[(n)], 0, sizeof(*(arr))), &(arr)[(n)++]) \
		 : NULL)

/* strdup that marks the load out of memory on failure. */
char *cfg_strdup(struct cfg_loader *ld, const char *s);
/* A new formatted string (caller frees), NULL when out of memory. */
char *cfg_fmt(const char *format, ...) GSLB_PRINTF(1, 2);
/* snprintf for paths: a cut-off path in a message is acceptable. */
void cfg_pfmt(char *out, size_t size, const char *format, ...)
	GSLB_PRINTF(3, 4);
/* "path.key" and "path[i]". */
void cfg_path_key(char out[CFG_PATH_LEN], const char *path, const char *key);
void cfg_path_idx(char out[CFG_PATH_LEN], const char *path, size_t i);

/* Takes msg; sorted by (file, line, col) when the load ends. */
void cfg_err_push(struct cfg_loader *ld, unsigned file, unsigned line,
		  unsigned col, char *msg);
/* "FILE:LINE:COL: path: ..." at node; node NULL: the main file, no line. */
void cfg_err_at(struct cfg_loader *ld, const struct cfg_node *node,
		const char *path, const char *format, ...) GSLB_PRINTF(4, 5);
/* "FILE: ..." about a file as a whole, behind the include entry naming it. */
void cfg_err_file(struct cfg_loader *ld, const struct cfg_node *entry,
		  const char *entry_path, const char *file, const char *format,
		  ...) GSLB_PRINTF(5, 6);
/* "expected <expected>, found <what node is>". */
void cfg_err_type(struct cfg_loader *ld, const struct cfg_node *node,
		  const char *path, const char *expected);

/* The text of a scalar, or NULL after an error naming what was expected. */
const char *cfg_scalar(struct cfg_loader *ld, const struct cfg_node *node,
		       const char *path, const char *expected);
/* For a list item: as cfg_scalar, and an empty item is an error. */
const char *cfg_item_text(struct cfg_loader *ld, const struct cfg_node *item,
			  const char *ipath, const char *expected);
bool cfg_is_seq(struct cfg_loader *ld, const struct cfg_node *node,
		const char *path, const char *expected);
/* A required key of map is absent, null or "". */
bool cfg_unset(const struct cfg_node *map, const char *key);
struct gslb_config_pos cfg_pos_of(struct cfg_loader *ld,
				  const struct cfg_node *node);

/* Lower case without the trailing dot; caller frees. */
char *cfg_name_normalize(struct cfg_loader *ld, const char *text);
/* Why a normalized name is not a valid DNS name, or NULL if it is. */
const char *cfg_name_problem(const char *name, char buf[64]);
/* a == b or a is below b ("x.example.com" in "example.com"). */
bool cfg_name_in(const char *a, const char *b);

/* config_schema.c */
/* Decodes one file's top-level mapping into ld->cfg. */
void cfg_walk_root(struct cfg_loader *ld, const struct cfg_node *root);
void cfg_listen_add(struct cfg_loader *ld, const struct cfg_node *node,
		    const char *path, const char *text,
		    const struct gslb_ip *ip, uint16_t port);
void cfg_sockaddr_ip(const struct gslb_sockaddr *sa, struct gslb_ip *ip,
		     uint16_t *port);
bool cfg_ip_is_any(const struct gslb_ip *ip);
void cfg_check_clear(struct gslb_health_check *hc);

/* config_files.c */
/* The main file's path made absolute (no symlinks resolved); caller frees. */
char *cfg_path_abs(struct cfg_loader *ld, const char *path);
/*
 * Reads path and, depth first, every file it includes; parent is the index
 * of the including file (SIZE_MAX for the main file), entry the include
 * entry that named it.
 */
void cfg_load_file(struct cfg_loader *ld, const char *path, size_t parent,
		   unsigned depth, const struct cfg_node *entry,
		   const char *epath);
