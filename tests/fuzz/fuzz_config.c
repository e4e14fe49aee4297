/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer harness for configuration files: any bytes as the file that
 * --check-config loads, for gslb-overwatchd and for gslb-agentd, through
 * the real loader and validator, every error message printed. A file the
 * overwatch accepts then goes where the daemon takes it: into the registry
 * and an (unsigned) answer snapshot.
 *
 * Includes are followed, into a fixed tree written next to the file once:
 * fragments for both daemons, a cycle, a chain deeper than the limit,
 * unsafe permissions, bad YAML, keys not allowed there, a directory. So that no
 * run depends on the files of the machine, an input whose includes could leave
 * that tree (an absolute pattern, "..", a backslash escape, a bracket) is
 * refused, and a file loaded from elsewhere aborts. Build: make fuzz (clang);
 * the corpus replays in make check.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_yaml.h"
#include "error.h"
#include "registry.h"
#include "snapshot.h"

#define MAX_INPUT (1024 * 1024)

struct tree_file {
	const char *path; /* below the directory; a trailing / makes one */
	mode_t mode;
	const char *text;
};

static const struct tree_file TREE[] = {
	{ "conf.d/", 0755, NULL },
	{ "conf.d/regions.yaml", 0640,
	  "regions:\n"
	  "  - name: eu\n"
	  "    servers:\n"
	  "      - { address: 192.0.2.1, service: app.gslb.test }\n"
	  "      - { address: \"2001:db8::1\", port: 8080,"
	  " service: app.gslb.test }\n"
	  "    health_check: { type: tcp, interval: 10s }\n" },
	{ "conf.d/domains.yaml", 0600,
	  "domains:\n"
	  "  - { name: app.gslb.test, regions: [eu] }\n" },
	{ "conf.d/tokens.yaml", 0600,
	  "overwatch:\n"
	  "  agent_tokens: { app.gslb.test: \"a-long-service-token-1\" }\n" },
	{ "conf.d/nested/", 0755, NULL },
	{ "conf.d/nested/more.yaml", 0600, "includes: [more/*.yaml]\n" },
	{ "conf.d/nested/more/", 0755, NULL },
	{ "conf.d/nested/more/www.yaml", 0600,
	  "regions:\n"
	  "  - name: us\n"
	  "    servers: [{ address: 198.51.100.1, service: www.gslb.test }]\n"
	  "domains:\n"
	  "  - { name: www.gslb.test, routing_algorithm: failover,"
	  " regions: [us, eu] }\n" },
	{ "conf.d/dir.yaml/", 0755, NULL },
	{ "agent.d/", 0755, NULL },
	{ "agent.d/backends.yaml", 0600,
	  "agent:\n"
	  "  backends:\n"
	  "    - service: app.gslb.test\n"
	  "      address: 127.0.0.1\n"
	  "      port: 8081\n"
	  "      health_check: { type: http, path: /health }\n" },
	{ "cycle/", 0755, NULL },
	{ "cycle/a.yaml", 0600, "includes: [b.yaml]\n" },
	{ "cycle/b.yaml", 0600, "includes: [a.yaml]\n" },
	{ "deep/", 0755, NULL },
	{ "deep/0.yaml", 0600, "includes: [1.yaml]\n" },
	{ "deep/1.yaml", 0600, "includes: [2.yaml]\n" },
	{ "deep/2.yaml", 0600, "includes: [3.yaml]\n" },
	{ "deep/3.yaml", 0600, "includes: [4.yaml]\n" },
	{ "deep/4.yaml", 0600, "includes: [5.yaml]\n" },
	{ "deep/5.yaml", 0600, "includes: [6.yaml]\n" },
	{ "deep/6.yaml", 0600, "includes: [7.yaml]\n" },
	{ "deep/7.yaml", 0600, "includes: [8.yaml]\n" },
	{ "deep/8.yaml", 0600, "includes: [9.yaml]\n" },
	{ "deep/9.yaml", 0600, "includes: [10.yaml]\n" },
	{ "deep/10.yaml", 0600, "includes: [11.yaml]\n" },
	{ "deep/11.yaml", 0600, "domains: []\n" },
	{ "bad/", 0755, NULL },
	{ "bad/world.yaml", 0666, "domains: []\n" },
	{ "bad/syntax.yaml", 0600, "a: [b\n" },
	{ "bad/list.yaml", 0600, "- a\n- b\n" },
	{ "bad/mode.yaml", 0600, "mode: agent\n" },
	{ "bad/api.yaml", 0600, "api: { enabled: true }\n" },
	{ "bad/empty.yaml", 0600, "" },
	{ "bad/alias.yaml", 0600, "domains: &x []\nregions: *x\n" },
};

static char dir[64];
static char path[96];
static FILE *devnull;

static int remove_one(const char *p, const struct stat *sb, int flag,
		      struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(p);
	return 0;
}

static void teardown(void)
{
	nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "%s/gslb-fuzz-config-XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (mkdtemp(dir) == NULL) {
		abort();
	}
	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(TREE); i++) {
		char p[256];
		snprintf(p, sizeof(p), "%s/%s", dir, TREE[i].path);
		if (TREE[i].text == NULL) {
			if (mkdir(p, TREE[i].mode) != 0) {
				abort();
			}
			continue;
		}
		FILE *f = fopen(p, "w");
		if (f == NULL || fputs(TREE[i].text, f) < 0 || fclose(f) != 0 ||
		    chmod(p, TREE[i].mode) != 0) {
			abort();
		}
	}
	devnull = fopen("/dev/null", "w");
	if (devnull == NULL) {
		abort();
	}
	/* Only errors: a snapshot warns of every name without backends. */
	gslb_log_setup(&(struct gslb_log_config){ .level = GSLB_LOG_ERROR },
		       "fuzz_config");
	atexit(teardown);
}

/* Whether an include pattern stays below the directory. */
static bool pattern_safe(const char *p)
{
	return p[0] != '/' && strstr(p, "..") == NULL &&
	       strpbrk(p, "\\[") == NULL;
}

static void ignore(void *arg, unsigned line, unsigned col, const char *msg)
{
	(void)arg;
	(void)line;
	(void)col;
	(void)msg;
}

/* Whether every include pattern of the file stays below the directory,
 * as the loader will see them (it parses the same way). */
static bool includes_safe(const uint8_t *data, size_t size)
{
	struct cfg_node *root = NULL;
	bool safe = true;
	if (cfg_yaml_parse((const char *)data, size, 0, ignore, NULL, &root) !=
	    GSLB_EOK) {
		return true; /* nothing is included */
	}
	const struct cfg_node *list = cfg_map_get(root, "includes");
	if (list != NULL && list->kind == CFG_NODE_SEQ) {
		for (size_t i = 0; safe && i < list->n_kids; i++) {
			const struct cfg_node *item = list->kids[i];
			safe = item->kind != CFG_NODE_SCALAR ||
			       pattern_safe(item->text);
		}
	}
	cfg_node_free(root);
	return safe;
}

static void write_input(const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t)size) ||
	    close(fd) != 0) {
		abort();
	}
}

/* What the overwatch does with a config it accepted, but DNS and DNSSEC. */
static void use(const struct gslb_config *cfg)
{
	struct gslb_registry *reg = NULL;
	struct snapshot *snap = NULL;
	if (gslb_registry_new(cfg->overwatch.stale.threshold, &reg) !=
		    GSLB_EOK ||
	    gslb_registry_sync_static(reg, cfg, 0) != GSLB_EOK ||
	    snapshot_build(cfg, reg, NULL, NULL, 1, &snap) != GSLB_EOK) {
		abort();
	}
	snapshot_free(snap);
	gslb_registry_free(reg);
}

static void load(enum gslb_mode mode)
{
	struct gslb_config *cfg = NULL;
	struct gslb_config_errors errs = { 0 };
	int ret = gslb_config_load(path, mode, &cfg, &errs);
	if (ret != GSLB_EOK) {
		if (cfg != NULL || (ret == GSLB_ECONFIG && errs.n == 0)) {
			abort();
		}
		gslb_config_errors_print(devnull, path, &errs);
		gslb_config_errors_clear(&errs);
		return;
	}
	if (errs.n != 0 || cfg->n_files == 0 ||
	    strcmp(cfg->files[0], path) != 0) {
		abort();
	}
	for (size_t i = 0; i < cfg->n_files; i++) {
		if (strncmp(cfg->files[i], dir, strlen(dir)) != 0 ||
		    cfg->files[i][strlen(dir)] != '/') {
			abort(); /* includes_safe() let it out */
		}
	}
	if (mode == GSLB_MODE_OVERWATCH) {
		use(cfg);
	}
	gslb_config_free(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (devnull == NULL) {
		setup();
	}
	if (size > MAX_INPUT || !includes_safe(data, size)) {
		return -1;
	}
	write_input(data, size);
	load(GSLB_MODE_OVERWATCH);
	load(GSLB_MODE_AGENT);
	return 0;
}
