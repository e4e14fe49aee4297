/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Config loader: files (with includes, config_files.c) → node trees
 * (config_yaml.c) → schema tables walked into the typed structs of config.h
 * (config_schema.c) → defaults that depend on other keys and checks across
 * the merged result (here). Every problem becomes one message
 * "FILE:LINE:COL: key.path: what is wrong"; the load goes on after an error
 * so that one run shows them all.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include "config_internal.h"
#include "error.h"

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */

bool cfg_vec_reserve(struct cfg_loader *ld, void *arrp, size_t n, size_t size)
{
	void *arr;

	if (n != 0 && (n & (n - 1)) != 0) {
		return true;
	}
	memcpy(&arr, arrp, sizeof(arr));
	size_t cap = n == 0 ? 1 : 2 * n;
	void *grown = realloc(arr, cap * size);
	if (grown == NULL) {
		ld->oom = true;
		return false;
	}
	memcpy(arrp, &grown, sizeof(grown));
	return true;
}

char *cfg_strdup(struct cfg_loader *ld, const char *s)
{
	char *copy = strdup(s);
	if (copy == NULL) {
		ld->oom = true;
	}
	return copy;
}

static char *vfmt(const char *fmt, va_list ap) GSLB_PRINTF(1, 0);
static char *vfmt(const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int len = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (len < 0) {
		return NULL;
	}
	char *buf = malloc((size_t)len + 1);
	if (buf != NULL) {
		vsnprintf(buf, (size_t)len + 1, fmt, ap);
	}
	return buf;
}

char *cfg_fmt(const char *format, ...)
{
	va_list ap;
	va_start(ap, format);
	char *buf = vfmt(format, ap);
	va_end(ap);
	return buf;
}

void cfg_pfmt(char *out, size_t size, const char *format, ...)
{
	va_list ap;
	va_start(ap, format);
	vsnprintf(out, size, format, ap);
	va_end(ap);
}

void cfg_path_key(char out[CFG_PATH_LEN], const char *path, const char *key)
{
	cfg_pfmt(out, CFG_PATH_LEN, "%s%s%s", path, *path != '\0' ? "." : "",
		 key);
}

void cfg_path_idx(char out[CFG_PATH_LEN], const char *path, size_t i)
{
	cfg_pfmt(out, CFG_PATH_LEN, "%s[%zu]", path, i);
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */

void cfg_err_push(struct cfg_loader *ld, unsigned file, unsigned line,
		  unsigned col, char *msg)
{
	if (msg == NULL) {
		ld->oom = true;
		return;
	}
	struct cfg_error *e = VEC_PUSH(ld, ld->errs, ld->n_errs);
	if (e == NULL) {
		free(msg);
		return;
	}
	*e = (struct cfg_error){ .file = file,
				 .line = line,
				 .col = col,
				 .seq = ld->n_errs,
				 .msg = msg };
}

/* At node (NULL: the main file, no line), about the key at path. */
void cfg_err_at(struct cfg_loader *ld, const struct cfg_node *node,
		const char *path, const char *format, ...)
{
	va_list ap;
	va_start(ap, format);
	char *body = vfmt(format, ap);
	va_end(ap);
	if (body == NULL) {
		ld->oom = true;
		return;
	}
	const char *sep = *path != '\0' ? ": " : "";
	if (node != NULL) {
		cfg_err_push(ld, node->file, node->line, node->col,
			     cfg_fmt("%s:%u:%u: %s%s%s",
				     ld->files[node->file].path, node->line,
				     node->col, path, sep, body));
	} else {
		cfg_err_push(ld, 0, 0, 0,
			     cfg_fmt("%s: %s%s%s", ld->files[0].path, path, sep,
				     body));
	}
	free(body);
}

/*
 * About a file as a whole ("FILE: cannot open: ..."); behind the include
 * entry that named it, when there is one.
 */
void cfg_err_file(struct cfg_loader *ld, const struct cfg_node *entry,
		  const char *entry_path, const char *file, const char *format,
		  ...)
{
	va_list ap;
	va_start(ap, format);
	char *body = vfmt(format, ap);
	va_end(ap);
	if (body == NULL) {
		ld->oom = true;
		return;
	}
	if (entry != NULL) {
		cfg_err_at(ld, entry, entry_path, "%s: %s", file, body);
	} else {
		cfg_err_push(ld, 0, 0, 0, cfg_fmt("%s: %s", file, body));
	}
	free(body);
}

static int err_cmp(const void *a, const void *b)
{
	const struct cfg_error *x = a, *y = b;
	if (x->file != y->file) {
		return x->file < y->file ? -1 : 1;
	}
	if (x->line != y->line) {
		return x->line < y->line ? -1 : 1;
	}
	if (x->col != y->col) {
		return x->col < y->col ? -1 : 1;
	}
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void gslb_config_errors_clear(struct gslb_config_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		free(errs->msgs[i]);
	}
	free(errs->msgs);
	errs->msgs = NULL;
	errs->n = 0;
}

void gslb_config_errors_print(FILE *out, const char *path,
			      const struct gslb_config_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		fprintf(out, "%s\n", errs->msgs[i]);
	}
	fprintf(out, "%s: configuration has %zu error%s\n", path, errs->n,
		errs->n == 1 ? "" : "s");
}

void gslb_config_errors_log(const struct gslb_config_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		log_error("config", "%s", errs->msgs[i]);
	}
}

/* "a list", "a mapping" or the scalar as written. */
static const char *describe(const struct cfg_node *node, char *buf, size_t size)
{
	if (node->kind == CFG_NODE_SEQ) {
		return "a list";
	}
	if (node->kind == CFG_NODE_MAP) {
		return "a mapping";
	}
	if (cfg_node_is_null(node)) {
		return "an empty value";
	}
	snprintf(buf, size, "\"%s\"", node->text);
	return buf;
}

struct gslb_config_pos cfg_pos_of(struct cfg_loader *ld,
				  const struct cfg_node *node)
{
	return (struct gslb_config_pos){ .file = ld->files[node->file].path,
					 .line = node->line,
					 .column = node->col };
}

void cfg_err_type(struct cfg_loader *ld, const struct cfg_node *node,
		  const char *path, const char *expected)
{
	char buf[128];
	cfg_err_at(ld, node, path, "expected %s, found %s", expected,
		   describe(node, buf, sizeof(buf)));
}

/* The text of a scalar, or NULL after an error naming what was expected. */
const char *cfg_scalar(struct cfg_loader *ld, const struct cfg_node *node,
		       const char *path, const char *expected)
{
	if (node->kind != CFG_NODE_SCALAR) {
		cfg_err_type(ld, node, path, expected);
		return NULL;
	}
	return node->text;
}

/* Whether node is a list; if not, an error naming what was expected. */
bool cfg_is_seq(struct cfg_loader *ld, const struct cfg_node *node,
		const char *path, const char *expected)
{
	if (node->kind != CFG_NODE_SEQ) {
		cfg_err_type(ld, node, path, expected);
		return false;
	}
	return true;
}

/* ------------------------------------------------------------------------ */
/* Names and small helpers                                                  */

/* Lower case without the trailing dot; caller frees. */
char *cfg_name_normalize(struct cfg_loader *ld, const char *text)
{
	char *name = cfg_strdup(ld, text);
	if (name == NULL) {
		return NULL;
	}
	size_t len = strlen(name);
	if (len > 0 && name[len - 1] == '.') {
		name[len - 1] = '\0';
	}
	for (char *p = name; *p != '\0'; p++) {
		*p = (char)tolower((unsigned char)*p);
	}
	return name;
}

/* Why a normalized name is not a valid DNS name, or NULL if it is. */
const char *cfg_name_problem(const char *name, char buf[64])
{
	size_t len = strlen(name);
	if (len == 0) {
		return "the root zone is not allowed here";
	}
	if (len > 253) {
		return "longer than 253 characters";
	}
	size_t label = 0;
	for (const char *p = name;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0) {
				return "empty label";
			}
			if (label > 63) {
				return "label longer than 63 characters";
			}
			if (*p == '\0') {
				return NULL;
			}
			label = 0;
			continue;
		}
		unsigned char c = (unsigned char)*p;
		if (!isalnum(c) && c != '-' && c != '_') {
			if (isprint(c)) {
				snprintf(buf, 64, "invalid character '%c'", c);
			} else {
				snprintf(buf, 64, "invalid character \\x%02x",
					 c);
			}
			return buf;
		}
		label++;
	}
}

/* a == b or a is below b ("x.example.com" in "example.com"). */
bool cfg_name_in(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la == lb) {
		return strcmp(a, b) == 0;
	}
	return la > lb && a[la - lb - 1] == '.' && strcmp(a + la - lb, b) == 0;
}

/* Names compared ignoring case and one trailing dot. */
static bool name_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 0 && a[la - 1] == '.') {
		la--;
	}
	if (lb > 0 && b[lb - 1] == '.') {
		lb--;
	}
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* A required key: absent, null or "". */
bool cfg_unset(const struct cfg_node *map, const char *key)
{
	const struct cfg_node *val = cfg_map_get(map, key);
	return val == NULL || cfg_node_is_null(val) ||
	       (val->kind == CFG_NODE_SCALAR && val->text[0] == '\0');
}

/* For a list of strings: each item's text, or NULL after an error. */
const char *cfg_item_text(struct cfg_loader *ld, const struct cfg_node *item,
			  const char *ipath, const char *expected)
{
	if (cfg_node_is_null(item)) {
		cfg_err_type(ld, item, ipath, expected);
		return NULL;
	}
	return cfg_scalar(ld, item, ipath, expected);
}

/* ------------------------------------------------------------------------ */
/* Checks across the merged result                                          */

struct name_ix {
	const char *name;
	size_t idx;
};

static int name_ix_cmp(const void *a, const void *b)
{
	const struct name_ix *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c != 0) {
		return c;
	}
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int name_ix_key_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct name_ix *)elem)->name);
}

/* Sorted (name, index) pairs over the char * at name_off of each entry. */
static struct name_ix *index_build(struct cfg_loader *ld, const void *arr,
				   size_t n, size_t stride, size_t name_off,
				   size_t *count)
{
	struct name_ix *ix = calloc(n + 1, sizeof(*ix));
	*count = 0;
	if (ix == NULL) {
		ld->oom = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *name;
		memcpy(&name, (const char *)arr + i * stride + name_off,
		       sizeof(name));
		if (name != NULL) {
			ix[(*count)++] = (struct name_ix){ name, i };
		}
	}
	qsort(ix, *count, sizeof(*ix), name_ix_cmp);
	return ix;
}

/* Index of the first entry named name, or SIZE_MAX. */
static size_t index_find(const struct name_ix *ix, size_t n, const char *name)
{
	const struct name_ix *hit =
		n > 0 ? bsearch(name, ix, n, sizeof(*ix), name_ix_key_cmp)
		      : NULL;
	if (hit == NULL) {
		return SIZE_MAX;
	}
	while (hit > ix && strcmp(hit[-1].name, name) == 0) {
		hit--;
	}
	return hit->idx;
}

/* Reports every entry whose name an earlier entry already has. */
static void index_dups(struct cfg_loader *ld, const struct name_ix *ix,
		       size_t n, const struct cfg_ref *refs, const char *what)
{
	char kpath[CFG_PATH_LEN];
	for (size_t k = 1; k < n; k++) {
		if (strcmp(ix[k].name, ix[k - 1].name) != 0) {
			continue;
		}
		const struct cfg_ref *r = &refs[ix[k].idx];
		const struct cfg_node *at = cfg_map_get(r->node, "name");
		cfg_path_key(kpath, r->path, "name");
		cfg_err_at(ld, at != NULL ? at : r->node, kpath,
			   "duplicate %s name \"%s\"", what, ix[k].name);
	}
}

static const struct cfg_node *list_item(const struct cfg_node *map,
					const char *key, size_t i)
{
	const struct cfg_node *list = cfg_map_get(map, key);
	if (list == NULL || list->kind != CFG_NODE_SEQ || i >= list->n_kids) {
		return NULL;
	}
	return list->kids[i];
}

static void finish_listen(struct cfg_loader *ld)
{
	struct gslb_dns_config *dns = &ld->cfg->dns;
	if (dns->listen_address != NULL) {
		return;
	}
	struct gslb_ip any4 = { .family = AF_INET };
	struct gslb_ip any6 = { .family = AF_INET6 };
	cfg_listen_add(ld, NULL, "dns.listen_address", ":53", &any4, 53);
	cfg_listen_add(ld, NULL, "dns.listen_address", ":53", &any6, 53);
	dns->listen_address = cfg_strdup(ld, ":53");
}

/* ns1.<zone> answering at the listen addresses, when they are specific. */
static void zone_default_ns(struct cfg_loader *ld, struct gslb_zone *zone,
			    const struct cfg_ref *ref)
{
	struct gslb_dns_config *dns = &ld->cfg->dns;
	char kpath[CFG_PATH_LEN];
	bool specific = true;

	if (dns->n_listen == 0) {
		return; /* every listen address was refused, already reported */
	}

	for (size_t i = 0; i < dns->n_listen; i++) {
		struct gslb_ip ip;
		uint16_t port;
		cfg_sockaddr_ip(&dns->listen[i], &ip, &port);
		specific = specific && !cfg_ip_is_any(&ip);
	}
	if (!specific) {
		cfg_path_key(kpath, ref->path, "nameservers");
		cfg_err_at(
			ld, ref->node, kpath,
			"required when dns.listen_address is not a specific IP "
			"address (the default NS ns1.%s needs one)",
			zone->name);
		return;
	}
	struct gslb_nameserver *ns =
		VEC_PUSH(ld, zone->nameservers, zone->n_nameservers);
	if (ns == NULL) {
		return;
	}
	ns->name = cfg_fmt("ns1.%s", zone->name);
	if (ns->name == NULL) {
		ld->oom = true;
	}
	for (size_t i = 0; i < dns->n_listen; i++) {
		struct gslb_ip ip;
		uint16_t port;
		bool dup = false;
		cfg_sockaddr_ip(&dns->listen[i], &ip, &port);
		for (size_t j = 0; j < ns->n_addrs; j++) {
			dup = dup || gslb_ip_equal(&ns->addrs[j], &ip);
		}
		struct gslb_ip *slot =
			dup ? NULL : VEC_PUSH(ld, ns->addrs, ns->n_addrs);
		if (slot != NULL) {
			*slot = ip;
		}
	}
}

static void finish_zones(struct cfg_loader *ld)
{
	struct gslb_dns_config *dns = &ld->cfg->dns;
	char kpath[CFG_PATH_LEN];

	for (size_t i = 0; i < dns->n_zones; i++) {
		struct gslb_zone *zone = &dns->zones[i];
		const struct cfg_ref *ref = &ld->zones[i];
		const struct cfg_node *at = ref->node;
		if (zone->name == NULL) {
			continue;
		}
		if (at->kind == CFG_NODE_MAP) {
			at = cfg_map_get(at, "name");
			cfg_path_key(kpath, ref->path, "name");
		} else {
			cfg_pfmt(kpath, sizeof(kpath), "%s", ref->path);
		}
		for (size_t j = 0; j < i; j++) {
			const char *other = dns->zones[j].name;
			if (other == NULL) {
				continue;
			}
			if (strcmp(zone->name, other) == 0) {
				cfg_err_at(ld, at, kpath,
					   "duplicate zone name \"%s\"",
					   zone->name);
			} else if (cfg_name_in(zone->name, other) ||
				   cfg_name_in(other, zone->name)) {
				cfg_err_at(ld, at, kpath,
					   "zone \"%s\" overlaps zone \"%s\" "
					   "(%s); "
					   "nested zones are not supported",
					   zone->name, other,
					   ld->zones[j].path);
			}
		}
		if (zone->soa.rname == NULL) {
			zone->soa.rname = cfg_fmt("hostmaster.%s", zone->name);
			if (zone->soa.rname == NULL) {
				ld->oom = true;
			} else if (strlen(zone->soa.rname) > 253) {
				cfg_err_at(
					ld, at, kpath,
					"the default soa.rname \"%s\" is too "
					"long; set soa.rname",
					zone->soa.rname);
			}
		}
		if (zone->n_nameservers == 0 &&
		    cfg_unset(ref->node, "nameservers")) {
			zone_default_ns(ld, zone, ref);
		}
		if (zone->soa.mname == NULL && zone->n_nameservers > 0 &&
		    zone->nameservers[0].name != NULL) {
			zone->soa.mname =
				cfg_strdup(ld, zone->nameservers[0].name);
		}
	}
}

/* A server's own node, for messages after the merge. */
static const struct cfg_node *server_node(struct cfg_loader *ld, size_t r,
					  size_t s)
{
	const struct cfg_node *node =
		list_item(ld->regions[r].node, "servers", s);
	return node != NULL ? node : ld->regions[r].node;
}

struct server_key {
	const struct gslb_server *srv;
	size_t r, s, order;
};

static int server_key_cmp(const void *a, const void *b)
{
	const struct server_key *x = a, *y = b;
	int c = strcmp(x->srv->service, y->srv->service);
	if (c == 0 && x->srv->ip.family != y->srv->ip.family) {
		c = x->srv->ip.family < y->srv->ip.family ? -1 : 1;
	}
	if (c == 0) {
		c = memcmp(x->srv->ip.addr, y->srv->ip.addr, 16);
	}
	if (c == 0 && x->srv->port != y->srv->port) {
		c = x->srv->port < y->srv->port ? -1 : 1;
	}
	if (c == 0) {
		c = x->order < y->order ? -1 : x->order > y->order;
	}
	return c;
}

static bool server_same(const struct server_key *x, const struct server_key *y)
{
	return strcmp(x->srv->service, y->srv->service) == 0 &&
	       gslb_ip_equal(&x->srv->ip, &y->srv->ip) &&
	       x->srv->port == y->srv->port;
}

static void finish_servers(struct cfg_loader *ld, const struct name_ix *dx,
			   size_t n_dx)
{
	struct gslb_config *cfg = ld->cfg;
	char kpath[CFG_PATH_LEN], sub[CFG_PATH_LEN], ipbuf[GSLB_IP_STRLEN];
	struct server_key *keys = NULL;
	size_t n_keys = 0;

	for (size_t r = 0; r < cfg->n_regions; r++) {
		for (size_t s = 0; s < cfg->regions[r].n_servers; s++) {
			const struct gslb_server *srv =
				&cfg->regions[r].servers[s];
			if (srv->service == NULL) {
				continue;
			}
			if (index_find(dx, n_dx, srv->service) == SIZE_MAX) {
				const struct cfg_node *node =
					server_node(ld, r, s);
				const struct cfg_node *at =
					cfg_map_get(node, "service");
				snprintf(sub, sizeof(sub),
					 "servers[%zu].service", s);
				cfg_path_key(kpath, ld->regions[r].path, sub);
				cfg_err_at(
					ld, at != NULL ? at : node, kpath,
					"service \"%s\": domain not found. "
					"Ensure "
					"this domain is defined in the domains "
					"section",
					srv->service);
			}
			if (srv->address == NULL) {
				continue;
			}
			struct server_key *k = VEC_PUSH(ld, keys, n_keys);
			if (k != NULL) {
				*k = (struct server_key){ srv, r, s, n_keys };
			}
		}
	}
	if (n_keys > 1) {
		qsort(keys, n_keys, sizeof(*keys), server_key_cmp);
	}
	for (size_t i = 1, first = 0; i < n_keys; i++) {
		if (!server_same(&keys[i], &keys[first])) {
			first = i;
			continue;
		}
		const struct cfg_node *dup =
			server_node(ld, keys[i].r, keys[i].s);
		const struct cfg_node *orig =
			server_node(ld, keys[first].r, keys[first].s);
		snprintf(sub, sizeof(sub), "servers[%zu]", keys[i].s);
		cfg_path_key(kpath, ld->regions[keys[i].r].path, sub);
		cfg_err_at(ld, dup, kpath,
			   "server %s port %u for service \"%s\" is already "
			   "defined at %s:%u:%u",
			   gslb_ip_format(&keys[i].srv->ip, ipbuf),
			   (unsigned)keys[i].srv->port, keys[i].srv->service,
			   ld->files[orig->file].path, orig->line, orig->col);
	}
	free(keys);
}

static void finish_domains(struct cfg_loader *ld, const struct name_ix *rx,
			   size_t n_rx)
{
	struct gslb_config *cfg = ld->cfg;
	char kpath[CFG_PATH_LEN], sub[CFG_PATH_LEN];

	for (size_t i = 0; i < cfg->n_domains; i++) {
		struct gslb_domain *dom = &cfg->domains[i];
		const struct cfg_ref *ref = &ld->domains[i];
		if (dom->ttl == CFG_TTL_UNSET) {
			dom->ttl = cfg->dns.default_ttl;
		}
		for (size_t k = 0; k < dom->n_regions; k++) {
			if (dom->regions[k] == NULL ||
			    index_find(rx, n_rx, dom->regions[k]) != SIZE_MAX) {
				continue;
			}
			snprintf(sub, sizeof(sub), "regions[%zu]", k);
			cfg_path_key(kpath, ref->path, sub);
			const struct cfg_node *at =
				list_item(ref->node, "regions", k);
			cfg_err_at(ld, at != NULL ? at : ref->node, kpath,
				   "region \"%s\" not found", dom->regions[k]);
		}
		char buf[64];
		if (dom->name == NULL ||
		    cfg_name_problem(dom->name, buf) != NULL) {
			continue; /* already reported */
		}
		size_t best = SIZE_MAX;
		for (size_t z = 0; z < cfg->dns.n_zones; z++) {
			const char *zone = cfg->dns.zones[z].name;
			if (zone != NULL && cfg_name_in(dom->name, zone) &&
			    (best == SIZE_MAX ||
			     strlen(zone) >
				     strlen(cfg->dns.zones[best].name))) {
				best = z;
			}
		}
		if (best != SIZE_MAX) {
			dom->zone = best;
			continue;
		}
		cfg_path_key(kpath, ref->path, "name");
		const struct cfg_node *at = cfg_map_get(ref->node, "name");
		cfg_err_at(ld, at != NULL ? at : ref->node, kpath,
			   "name \"%s\": not inside any zone of dns.zones; add "
			   "its zone there",
			   dom->name);
	}
}

/* A name server's A/AAAA records would clash with the domain's answers. */
static void finish_ns_names(struct cfg_loader *ld, const struct name_ix *dx,
			    size_t n_dx)
{
	struct gslb_dns_config *dns = &ld->cfg->dns;
	char kpath[CFG_PATH_LEN], sub[CFG_PATH_LEN];

	for (size_t z = 0; z < dns->n_zones; z++) {
		const struct gslb_zone *zone = &dns->zones[z];
		for (size_t j = 0; j < zone->n_nameservers; j++) {
			const char *name = zone->nameservers[j].name;
			size_t d = name != NULL ? index_find(dx, n_dx, name)
						: SIZE_MAX;
			if (d == SIZE_MAX) {
				continue;
			}
			const struct cfg_node *at =
				list_item(ld->zones[z].node, "nameservers", j);
			snprintf(sub, sizeof(sub), "nameservers[%zu]", j);
			cfg_path_key(kpath, ld->zones[z].path, sub);
			cfg_err_at(ld, at != NULL ? at : ld->zones[z].node,
				   kpath,
				   "name server \"%s\" is also configured as a "
				   "domain (%s); use another name",
				   name, ld->domains[d].path);
		}
	}
}

static void finish_overwatch(struct cfg_loader *ld)
{
	struct gslb_config *cfg = ld->cfg;
	struct gslb_overwatch_config *ow = &cfg->overwatch;
	size_t n_dx = 0, n_rx = 0;

	finish_listen(ld);
	finish_zones(ld);
	struct name_ix *rx = index_build(
		ld, cfg->regions, cfg->n_regions, sizeof(*cfg->regions),
		offsetof(struct gslb_region, name), &n_rx);
	struct name_ix *dx = index_build(
		ld, cfg->domains, cfg->n_domains, sizeof(*cfg->domains),
		offsetof(struct gslb_domain, name), &n_dx);
	if (rx != NULL && dx != NULL) {
		index_dups(ld, rx, n_rx, ld->regions, "region");
		index_dups(ld, dx, n_dx, ld->domains, "domain");
		finish_domains(ld, rx, n_rx);
		finish_servers(ld, dx, n_dx);
		finish_ns_names(ld, dx, n_dx);
	}
	free(rx);
	free(dx);

	if (ow->node_id == NULL) {
		char host[256] = "localhost";
		if (gethostname(host, sizeof(host)) != 0) {
			strcpy(host, "localhost");
		}
		host[sizeof(host) - 1] = '\0';
		ow->node_id = cfg_strdup(ld, host);
	}
	if (ow->gossip.key_set && ow->gossip.bind_address == NULL) {
		ow->gossip.bind_address = cfg_strdup(ld, "0.0.0.0:7946");
	}
}

/* Node of root.k1.k2.k3 (NULL when absent), and the nearest one present. */
static const struct cfg_node *find3(const struct cfg_node *root, const char *k1,
				    const char *k2, const char *k3,
				    const struct cfg_node **nearest)
{
	const char *keys[] = { k1, k2, k3 };
	const struct cfg_node *node = root;
	*nearest = root;
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(keys) && keys[i] != NULL; i++) {
		node = cfg_map_get(node, keys[i]);
		if (node == NULL || cfg_node_is_null(node)) {
			return NULL;
		}
		*nearest = node;
	}
	return node;
}

bool gslb_token_equal(const char *sent, size_t sent_len, const char *token)
{
	const size_t len = strlen(token);
	unsigned char diff = sent_len != len;
	/* The loop runs over what was sent, whatever the token: the
	 * index wraps around the token (and its NUL). */
	for (size_t i = 0; i < sent_len; i++) {
		diff |= (unsigned char)sent[i] ^
			(unsigned char)token[i % (len + 1)];
	}
	return diff == 0;
}

bool gslb_agent_id_ok(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 64) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];
		if (!isalnum(c) && c != '.' && c != '_' && c != '-') {
			return false;
		}
	}
	return true;
}

#define GOSSIP_KEY_REQUIRED                                               \
	"encryption_key is required. OpenGSLB requires encrypted gossip " \
	"communication. Generate a key with: openssl rand -base64 32"

/*
 * Agents and overwatches speak only sealed gossip, and DNSSEC key sync
 * seals keys with the same key: no key, no start. (A file that is not a
 * mapping at all has said so already.)
 */
static void require_gossip_key(struct cfg_loader *ld)
{
	const struct cfg_node *near, *root = ld->files[0].root;
	/* An empty file has no root; another kind of root has its error. */
	if ((root == NULL || root->kind == CFG_NODE_MAP) &&
	    find3(root, "overwatch", "gossip", "encryption_key", &near) ==
		    NULL &&
	    !ld->cfg->overwatch.gossip.key_set) {
		cfg_err_at(ld, near, "overwatch.gossip", GOSSIP_KEY_REQUIRED);
	}
}

static void finish_agent(struct cfg_loader *ld)
{
	struct gslb_agent_config *agent = &ld->cfg->agent;
	const struct cfg_node *root = ld->files[0].root, *near, *node;
	char ipath[CFG_PATH_LEN];

	if (agent->identity.agent_id == NULL) {
		char host[256] = "agent";
		if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0') {
			strcpy(host, "agent");
		}
		host[64] = '\0';
		for (char *c = host; *c != '\0'; c++) {
			if (!isalnum((unsigned char)*c) && *c != '.' &&
			    *c != '_' && *c != '-') {
				*c = '-';
			}
		}
		agent->identity.agent_id = cfg_strdup(ld, host);
	}

	node = find3(root, "agent", "identity", "service_token", &near);
	if (node == NULL ||
	    (node->kind == CFG_NODE_SCALAR && node->text[0] == '\0')) {
		cfg_err_at(ld, near, "agent.identity",
			   "service_token is required");
	}
	node = find3(root, "agent", "backends", NULL, &near);
	if (agent->n_backends == 0 &&
	    (node == NULL ||
	     (node->kind == CFG_NODE_SEQ && node->n_kids == 0))) {
		cfg_err_at(ld, near, "agent.backends",
			   "at least one backend is required");
	}
	node = find3(root, "agent", "gossip", "encryption_key", &near);
	if (node == NULL) {
		cfg_err_at(ld, near, "agent.gossip", GOSSIP_KEY_REQUIRED);
	}
	node = find3(root, "agent", "gossip", "overwatch_nodes", &near);
	if (node == NULL || (node->kind == CFG_NODE_SEQ && node->n_kids == 0)) {
		cfg_err_at(ld, near,
			   node != NULL ? "agent.gossip.overwatch_nodes"
					: "agent.gossip",
			   "overwatch_nodes must have at least one address");
	}
	for (size_t i = 0; i < agent->n_backends; i++) {
		const struct gslb_agent_backend *be = &agent->backends[i];
		if (be->service == NULL || be->address == NULL) {
			continue;
		}
		for (size_t j = 0; j < i; j++) {
			const struct gslb_agent_backend *o =
				&agent->backends[j];
			if (o->service == NULL || o->address == NULL ||
			    strcmp(o->service, be->service) != 0 ||
			    strcasecmp(o->address, be->address) != 0 ||
			    o->port != be->port) {
				continue;
			}
			cfg_pfmt(ipath, sizeof(ipath), "%s",
				 ld->backends[i].path);
			cfg_err_at(ld, ld->backends[i].node, ipath,
				   "backend %s port %u for service \"%s\" is "
				   "already defined at %s:%u:%u",
				   be->address, (unsigned)be->port, be->service,
				   o->pos.file, o->pos.line, o->pos.column);
			break;
		}
	}
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */

static void config_init(struct cfg_loader *ld)
{
	struct gslb_config *cfg = ld->cfg;

	cfg->mode = ld->mode;
	cfg->logging.level = GSLB_LOG_INFO;
	cfg->logging.format = GSLB_LOG_TEXT;
	cfg->logging.output = GSLB_LOG_STDERR;
	cfg->logging.facility = LOG_DAEMON;
	cfg->metrics.address = cfg_strdup(ld, "127.0.0.1:9090");
	if (ld->mode == GSLB_MODE_AGENT) {
		struct gslb_agent_config *a = &cfg->agent;
		a->identity.cert_path =
			cfg_strdup(ld, GSLB_STATEDIR "/agent.crt");
		a->identity.key_path =
			cfg_strdup(ld, GSLB_STATEDIR "/agent.key");
		a->predictive.check_interval = 10 * GSLB_SEC;
		a->predictive.cpu_threshold = 90;
		a->predictive.cpu_bleed_duration = 30 * GSLB_SEC;
		a->predictive.memory_threshold = 85;
		a->predictive.memory_bleed_duration = 30 * GSLB_SEC;
		a->predictive.error_rate_threshold = 10;
		a->predictive.error_rate_window = 60 * GSLB_SEC;
		a->predictive.error_rate_bleed_duration = 30 * GSLB_SEC;
		a->heartbeat.interval = 10 * GSLB_SEC;
		a->heartbeat.missed_threshold = 3;
		return;
	}
	cfg->api.address = cfg_strdup(ld, "127.0.0.1:8080");
	cfg->api.socket = cfg_strdup(ld, GSLB_RUNDIR "/overwatch.sock");
	cfg->api.allowed_networks = calloc(2, sizeof(struct gslb_cidr));
	if (cfg->api.allowed_networks == NULL) {
		ld->oom = true;
	} else {
		gslb_cidr_parse("127.0.0.1/32", &cfg->api.allowed_networks[0]);
		gslb_cidr_parse("::1/128", &cfg->api.allowed_networks[1]);
		cfg->api.n_allowed_networks = 2;
	}
	cfg->dns.default_ttl = 60;
	cfg->dns.max_udp_payload = 1232;
	cfg->dns.tcp_max_connections = 256;
	cfg->dns.tcp_idle_timeout = 10 * GSLB_SEC;

	struct gslb_overwatch_config *ow = &cfg->overwatch;
	ow->validation.enabled = true;
	ow->validation.check_interval = 30 * GSLB_SEC;
	ow->validation.check_timeout = 5 * GSLB_SEC;
	ow->stale.threshold = 30 * GSLB_SEC;
	ow->stale.remove_after = 5 * 60 * GSLB_SEC;
	ow->dnssec.enabled = true;
	ow->dnssec.algorithm = GSLB_DNSSEC_ECDSAP256SHA256;
	ow->dnssec.key_sync_poll_interval = 3600 * GSLB_SEC;
	ow->dnssec.key_sync_timeout = 30 * GSLB_SEC;
	ow->data_dir = cfg_strdup(ld, GSLB_STATEDIR);
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i]);
	}
	free(v);
}

void gslb_config_free(struct gslb_config *cfg)
{
	if (cfg == NULL) {
		return;
	}
	strv_free(cfg->files, cfg->n_files);
	free(cfg->metrics.address);
	free(cfg->api.address);
	free(cfg->api.allowed_networks);
	for (size_t i = 0; i < cfg->api.n_tokens; i++) {
		free(cfg->api.tokens[i].name);
		free(cfg->api.tokens[i].token);
	}
	free(cfg->api.tokens);
	free(cfg->api.socket);
	free(cfg->process.user);
	free(cfg->process.group);

	free(cfg->dns.listen_address);
	free(cfg->dns.listen);
	for (size_t i = 0; i < cfg->dns.n_zones; i++) {
		struct gslb_zone *z = &cfg->dns.zones[i];
		free(z->name);
		free(z->soa.mname);
		free(z->soa.rname);
		for (size_t j = 0; j < z->n_nameservers; j++) {
			free(z->nameservers[j].name);
			free(z->nameservers[j].addrs);
		}
		free(z->nameservers);
	}
	free(cfg->dns.zones);
	for (size_t i = 0; i < cfg->n_regions; i++) {
		struct gslb_region *r = &cfg->regions[i];
		for (size_t j = 0; j < r->n_servers; j++) {
			free(r->servers[j].address);
			free(r->servers[j].service);
			free(r->servers[j].host);
		}
		free(r->servers);
		free(r->name);
		cfg_check_clear(&r->health_check);
	}
	free(cfg->regions);
	for (size_t i = 0; i < cfg->n_domains; i++) {
		free(cfg->domains[i].name);
		strv_free(cfg->domains[i].regions, cfg->domains[i].n_regions);
	}
	free(cfg->domains);

	struct gslb_overwatch_config *ow = &cfg->overwatch;
	free(ow->node_id);
	free(ow->region);
	for (size_t i = 0; i < ow->n_agent_tokens; i++) {
		free(ow->agent_tokens[i].service);
		free(ow->agent_tokens[i].token);
	}
	free(ow->agent_tokens);
	free(ow->gossip.bind_address);
	strv_free(ow->dnssec.key_sync_peers, ow->dnssec.n_key_sync_peers);
	free(ow->data_dir);

	struct gslb_agent_config *a = &cfg->agent;
	free(a->identity.service_token);
	free(a->identity.agent_id);
	free(a->identity.region);
	free(a->identity.cert_path);
	free(a->identity.key_path);
	for (size_t i = 0; i < a->n_backends; i++) {
		free(a->backends[i].service);
		free(a->backends[i].address);
		cfg_check_clear(&a->backends[i].health_check);
	}
	free(a->backends);
	strv_free(a->gossip.overwatch_nodes, a->gossip.n_overwatch_nodes);
	free(cfg);
}

static void loader_clear(struct cfg_loader *ld)
{
	for (size_t i = 0; i < ld->n_files; i++) {
		cfg_node_free(ld->files[i].root);
	}
	free(ld->files);
	for (size_t i = 0; i < ld->n_errs; i++) {
		free(ld->errs[i].msg);
	}
	free(ld->errs);
	free(ld->regions);
	free(ld->domains);
	free(ld->zones);
	free(ld->backends);
	free(ld->tokens);
}

/* Moves the messages, in file and line order, into errs. */
static void take_errors(struct cfg_loader *ld, struct gslb_config_errors *errs)
{
	if (ld->n_errs == 0) {
		return;
	}
	errs->msgs = calloc(ld->n_errs, sizeof(*errs->msgs));
	if (errs->msgs == NULL) {
		ld->oom = true;
		return;
	}
	qsort(ld->errs, ld->n_errs, sizeof(*ld->errs), err_cmp);
	for (size_t i = 0; i < ld->n_errs; i++) {
		errs->msgs[i] = ld->errs[i].msg;
	}
	errs->n = ld->n_errs;
	ld->n_errs = 0;
}

int gslb_config_load(const char *path, enum gslb_mode mode,
		     struct gslb_config **out, struct gslb_config_errors *errs)
{
	struct cfg_loader ld = { .mode = mode };

	*out = NULL;
	gslb_config_errors_clear(errs);
	if (mode != GSLB_MODE_OVERWATCH && mode != GSLB_MODE_AGENT) {
		return GSLB_EINVAL;
	}
	ld.cfg = calloc(1, sizeof(*ld.cfg));
	if (ld.cfg == NULL) {
		return GSLB_ENOMEM;
	}
	config_init(&ld);
	char *abs = cfg_path_abs(&ld, path);
	if (abs != NULL) {
		cfg_load_file(&ld, abs, SIZE_MAX, 0, NULL, "");
		free(abs);
	}
	for (size_t i = 0; i < ld.n_files; i++) {
		if (ld.files[i].root != NULL) {
			ld.in_include = i > 0;
			cfg_walk_root(&ld, ld.files[i].root);
		}
	}
	ld.in_include = false;
	if (!ld.incomplete && ld.n_files > 0) {
		if (mode == GSLB_MODE_OVERWATCH) {
			finish_overwatch(&ld);
			require_gossip_key(&ld);
		} else {
			finish_agent(&ld);
		}
	}
	take_errors(&ld, errs);

	int ret = GSLB_EOK;
	if (ld.oom) {
		gslb_config_errors_clear(errs);
		ret = GSLB_ENOMEM;
	} else if (errs->n > 0) {
		ret = GSLB_ECONFIG;
	}
	loader_clear(&ld);
	if (ret != GSLB_EOK) {
		gslb_config_free(ld.cfg);
		return ret;
	}
	*out = ld.cfg;
	return GSLB_EOK;
}

const struct gslb_region *gslb_config_region(const struct gslb_config *cfg,
					     const char *name)
{
	for (size_t i = 0; i < cfg->n_regions; i++) {
		if (cfg->regions[i].name != NULL &&
		    strcmp(cfg->regions[i].name, name) == 0) {
			return &cfg->regions[i];
		}
	}
	return NULL;
}

const struct gslb_domain *gslb_config_domain(const struct gslb_config *cfg,
					     const char *name)
{
	for (size_t i = 0; i < cfg->n_domains; i++) {
		if (cfg->domains[i].name != NULL &&
		    name_equal(cfg->domains[i].name, name)) {
			return &cfg->domains[i];
		}
	}
	return NULL;
}

const char *gslb_algorithm_name(enum gslb_algorithm alg)
{
	switch (alg) {
	case GSLB_ALG_ROUND_ROBIN:
		return "round-robin";
	case GSLB_ALG_WEIGHTED:
		return "weighted";
	case GSLB_ALG_FAILOVER:
		return "failover";
	}
	return "unknown";
}

const char *gslb_check_type_name(enum gslb_check_type type)
{
	switch (type) {
	case GSLB_CHECK_HTTP:
		return "http";
	case GSLB_CHECK_HTTPS:
		return "https";
	case GSLB_CHECK_TCP:
		return "tcp";
	}
	return "unknown";
}
