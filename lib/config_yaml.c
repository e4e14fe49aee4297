/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config_yaml.h"
#include "error.h"

struct builder {
	unsigned file;
	cfg_yaml_report_fn report;
	void *arg;
	struct cfg_node *stack[CFG_YAML_MAX_DEPTH];
	size_t depth;
	struct cfg_node *root;
	unsigned docs;
	bool alias_reported;
};

static void report(struct builder *b, const yaml_mark_t *mark, const char *msg)
{
	if (b->report != NULL) {
		b->report(b->arg, (unsigned)mark->line + 1,
			  (unsigned)mark->column + 1, msg);
	}
}

void cfg_node_free(struct cfg_node *node)
{
	if (node == NULL) {
		return;
	}
	for (size_t i = 0; i < node->n_kids; i++) {
		cfg_node_free(node->kids[i]);
	}
	free(node->kids);
	free(node->text);
	free(node);
}

bool cfg_node_is_null(const struct cfg_node *node)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

	if (node->kind != CFG_NODE_SCALAR || !node->plain) {
		return false;
	}
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(nulls); i++) {
		if (strcmp(node->text, nulls[i]) == 0) {
			return true;
		}
	}
	return false;
}

const struct cfg_node *cfg_map_get(const struct cfg_node *map, const char *key)
{
	if (map == NULL || map->kind != CFG_NODE_MAP) {
		return NULL;
	}
	for (size_t i = 0; i < cfg_map_len(map); i++) {
		const struct cfg_node *k = cfg_map_key(map, i);
		if (k->kind == CFG_NODE_SCALAR && strcmp(k->text, key) == 0) {
			return cfg_map_val(map, i);
		}
	}
	return NULL;
}

static struct cfg_node *node_new(struct builder *b, enum cfg_node_kind kind,
				 const yaml_mark_t *mark)
{
	struct cfg_node *node = calloc(1, sizeof(*node));
	if (node != NULL) {
		node->kind = kind;
		node->file = b->file;
		node->line = (unsigned)mark->line + 1;
		node->col = (unsigned)mark->column + 1;
	}
	return node;
}

/* Hands node to the open container (or makes it the root); takes it. */
static int attach(struct builder *b, struct cfg_node *node)
{
	if (b->depth == 0) {
		cfg_node_free(b->root);
		b->root = node;
		return GSLB_EOK;
	}
	struct cfg_node *parent = b->stack[b->depth - 1];
	if (parent->n_kids == parent->cap) {
		size_t cap = parent->cap == 0 ? 8 : parent->cap * 2;
		struct cfg_node **kids =
			realloc(parent->kids, cap * sizeof(*kids));
		if (kids == NULL) {
			cfg_node_free(node);
			return GSLB_ENOMEM;
		}
		parent->kids = kids;
		parent->cap = cap;
	}
	parent->kids[parent->n_kids++] = node;
	return GSLB_EOK;
}

/* Complex keys would have no key path to name them in a message. */
static void check_map_keys(struct builder *b, const struct cfg_node *map)
{
	for (size_t i = 0; i < map->n_kids; i += 2) {
		const struct cfg_node *key = map->kids[i];
		if (key->kind != CFG_NODE_SCALAR) {
			yaml_mark_t mark = { .line = key->line - 1,
					     .column = key->col - 1 };
			report(b, &mark,
			       "mapping keys must be plain strings, not a "
			       "list or a mapping");
		}
	}
}

static void no_alias(struct builder *b, const yaml_mark_t *mark,
		     const yaml_char_t *anchor)
{
	if (anchor != NULL && !b->alias_reported) {
		report(b, mark, "YAML aliases are not supported");
		b->alias_reported = true;
	}
}

static int on_event(struct builder *b, const yaml_event_t *ev, bool *done)
{
	const yaml_mark_t *mark = &ev->start_mark;
	struct cfg_node *node = NULL;
	int ret;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++b->docs > 1) {
			report(b, mark,
			       "more than one YAML document; a config file "
			       "holds exactly one");
			*done = true;
		}
		return GSLB_EOK;
	case YAML_ALIAS_EVENT:
		no_alias(b, mark, ev->data.alias.anchor);
		/* A null placeholder keeps the mapping's key/value pairing. */
		node = node_new(b, CFG_NODE_SCALAR, mark);
		if (node == NULL || (node->text = strdup("")) == NULL) {
			cfg_node_free(node);
			return GSLB_ENOMEM;
		}
		node->plain = true;
		return attach(b, node);
	case YAML_SCALAR_EVENT:
		no_alias(b, mark, ev->data.scalar.anchor);
		if (ev->data.scalar.tag != NULL) {
			report(b, mark, "YAML tags are not supported");
		}
		if (strlen((const char *)ev->data.scalar.value) !=
		    ev->data.scalar.length) {
			report(b, mark, "NUL characters are not allowed");
		}
		node = node_new(b, CFG_NODE_SCALAR, mark);
		if (node == NULL ||
		    (node->text = strdup(
			     (const char *)ev->data.scalar.value)) == NULL) {
			cfg_node_free(node);
			return GSLB_ENOMEM;
		}
		node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		return attach(b, node);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (ev->type == YAML_SEQUENCE_START_EVENT) {
			no_alias(b, mark, ev->data.sequence_start.anchor);
			if (ev->data.sequence_start.tag != NULL) {
				report(b, mark, "YAML tags are not supported");
			}
		} else {
			no_alias(b, mark, ev->data.mapping_start.anchor);
			if (ev->data.mapping_start.tag != NULL) {
				report(b, mark, "YAML tags are not supported");
			}
		}
		if (b->depth == CFG_YAML_MAX_DEPTH) {
			char msg[64];
			snprintf(msg, sizeof(msg),
				 "nesting deeper than %d levels",
				 CFG_YAML_MAX_DEPTH);
			report(b, mark, msg);
			return GSLB_EMALF;
		}
		node = node_new(b,
				ev->type == YAML_SEQUENCE_START_EVENT
					? CFG_NODE_SEQ
					: CFG_NODE_MAP,
				mark);
		if (node == NULL) {
			return GSLB_ENOMEM;
		}
		ret = attach(b, node);
		if (ret == GSLB_EOK) {
			b->stack[b->depth++] = node;
		}
		return ret;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		node = b->stack[--b->depth];
		if (node->kind == CFG_NODE_MAP) {
			check_map_keys(b, node);
		}
		return GSLB_EOK;
	case YAML_STREAM_END_EVENT:
		*done = true;
		return GSLB_EOK;
	default:
		return GSLB_EOK;
	}
}

/* Reader errors (bad UTF-8) come with a byte offset, not a mark. */
static yaml_mark_t offset_mark(const char *buf, size_t len, size_t offset)
{
	yaml_mark_t mark = { 0 };
	for (size_t i = 0; i < offset && i < len; i++) {
		if (buf[i] == '\n') {
			mark.line++;
			mark.column = 0;
		} else {
			mark.column++;
		}
	}
	return mark;
}

static void report_syntax(struct builder *b, const yaml_parser_t *parser,
			  const char *buf, size_t len)
{
	char msg[256];
	yaml_mark_t mark = parser->problem_mark;
	const char *problem =
		parser->problem != NULL ? parser->problem : "unknown problem";

	if (parser->error == YAML_READER_ERROR) {
		mark = offset_mark(buf, len, parser->problem_offset);
		snprintf(msg, sizeof(msg), "cannot read YAML: %s", problem);
	} else if (parser->context != NULL) {
		snprintf(msg, sizeof(msg),
			 "YAML syntax error: %s (%s at line %zu, column %zu)",
			 problem, parser->context,
			 (size_t)parser->context_mark.line + 1,
			 (size_t)parser->context_mark.column + 1);
	} else {
		snprintf(msg, sizeof(msg), "YAML syntax error: %s", problem);
	}
	report(b, &mark, msg);
}

int cfg_yaml_parse(const char *buf, size_t len, unsigned file,
		   cfg_yaml_report_fn report_fn, void *arg,
		   struct cfg_node **root)
{
	struct builder b = { .file = file, .report = report_fn, .arg = arg };
	yaml_parser_t parser;
	int ret = GSLB_EOK;
	bool done = false;

	*root = NULL;
	if (!yaml_parser_initialize(&parser)) {
		return GSLB_ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (!done && ret == GSLB_EOK) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			if (parser.error == YAML_MEMORY_ERROR) {
				ret = GSLB_ENOMEM;
			} else {
				report_syntax(&b, &parser, buf, len);
				ret = GSLB_EMALF;
			}
			break;
		}
		ret = on_event(&b, &ev, &done);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);

	if (ret != GSLB_EOK) {
		cfg_node_free(b.root);
		return ret;
	}
	if (b.root != NULL && cfg_node_is_null(b.root)) {
		cfg_node_free(b.root);
		b.root = NULL;
	}
	*root = b.root;
	return GSLB_EOK;
}
