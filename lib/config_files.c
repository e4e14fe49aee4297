/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Config files: permissions, reading, parsing, and includes (glob(3)
 * patterns, "**" for a directory tree) followed depth first with cycle,
 * repeat and depth checks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_internal.h"
#include "error.h"

#define MAX_INCLUDE_DEPTH 10
#define MAX_FILE_SIZE     (16 * 1024 * 1024)

struct strvec {
	char **v;
	size_t n;
};

static void strvec_clear(struct strvec *sv)
{
	for (size_t i = 0; i < sv->n; i++) {
		free(sv->v[i]);
	}
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

static void strvec_push(struct cfg_loader *ld, struct strvec *sv, char *s)
{
	char **slot = s != NULL ? VEC_PUSH(ld, sv->v, sv->n) : NULL;
	if (slot == NULL) {
		ld->oom = true;
		free(s);
		return;
	}
	*slot = s;
}

/* Collapses "//" and "/./" so that messages show one spelling per file. */
static void path_tidy(char *path)
{
	char *w = path;
	const char *r = path;
	bool abs = path[0] == '/';

	while (*r != '\0') {
		if (r[0] == '/' && r[1] == '/') {
			r++;
		} else if (r[0] == '/' && r[1] == '.' &&
			   (r[2] == '/' || r[2] == '\0')) {
			r += 2;
		} else {
			*w++ = *r++;
		}
	}
	if (w == path && abs) {
		*w++ = '/';
	}
	*w = '\0';
	size_t len = strlen(path);
	if (len > 1 && path[len - 1] == '/') {
		path[len - 1] = '\0';
	}
}

/* dir/rel, or rel when it is absolute; tidied; caller frees. */
static char *path_join(const char *dir, const char *rel)
{
	char *joined = rel[0] == '/' ? strdup(rel) : cfg_fmt("%s/%s", dir, rel);
	if (joined != NULL) {
		path_tidy(joined);
	}
	return joined;
}

static char *path_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL) {
		return strdup(".");
	}
	if (slash == path) {
		return strdup("/");
	}
	return strndup(path, (size_t)(slash - path));
}

static void glob_into(struct cfg_loader *ld, const char *pattern,
		      struct strvec *out)
{
	glob_t g;
	int ret = glob(pattern, GLOB_NOSORT, NULL, &g);
	if (ret == GLOB_NOSPACE) {
		ld->oom = true;
	}
	/* No match (or an unreadable directory) is not an error. */
	for (size_t i = 0; ret == 0 && i < g.gl_pathc; i++) {
		struct stat st;
		if (stat(g.gl_pathv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			continue;
		}
		char *match = cfg_strdup(ld, g.gl_pathv[i]);
		if (match != NULL) {
			path_tidy(match);
		}
		strvec_push(ld, out, match);
	}
	globfree(&g);
}

/* For "**": suffix globbed in dir and every directory below it. */
static void glob_tree(struct cfg_loader *ld, const char *dir,
		      const char *suffix, unsigned depth, struct strvec *out)
{
	char *pattern = path_join(dir, suffix);
	if (pattern == NULL) {
		ld->oom = true;
		return;
	}
	glob_into(ld, pattern, out);
	free(pattern);

	DIR *d = depth < CFG_YAML_MAX_DEPTH ? opendir(dir) : NULL;
	if (d == NULL) {
		return; /* a missing directory has no matches */
	}
	for (struct dirent *de = readdir(d); de != NULL; de = readdir(d)) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0) {
			continue;
		}
		char *sub = path_join(dir, de->d_name);
		struct stat st;
		/* lstat: symlinked directories are not followed (no loops). */
		if (sub != NULL && lstat(sub, &st) == 0 &&
		    S_ISDIR(st.st_mode)) {
			glob_tree(ld, sub, suffix, depth + 1, out);
		}
		free(sub);
	}
	closedir(d);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The "**" path segment in pattern, or NULL. */
static const char *find_globstar(const char *pattern)
{
	for (const char *p = strstr(pattern, "**"); p != NULL;
	     p = strstr(p + 1, "**")) {
		if ((p == pattern || p[-1] == '/') &&
		    (p[2] == '/' || p[2] == '\0')) {
			return p;
		}
	}
	return NULL;
}

static void expand(struct cfg_loader *ld, const char *dir, const char *pattern,
		   const struct cfg_node *entry, const char *epath,
		   struct strvec *out)
{
	char *full = path_join(dir, pattern);
	if (full == NULL) {
		ld->oom = true;
		return;
	}
	const char *star = find_globstar(full);
	if (star == NULL) {
		glob_into(ld, full, out);
	} else {
		const char *suffix = star[2] == '\0' ? "*" : star + 3;
		char *prefix = star == full
				       ? strdup("/")
				       : strndup(full, (size_t)(star - full));
		if (find_globstar(suffix) != NULL) {
			cfg_err_at(ld, entry, epath,
				   "invalid include pattern \"%s\": only one "
				   "\"**\" segment is allowed",
				   pattern);
		} else if (prefix != NULL) {
			glob_tree(ld, prefix, suffix, 0, out);
		} else {
			ld->oom = true;
		}
		free(prefix);
	}
	free(full);
	if (out->n > 1) {
		qsort(out->v, out->n, sizeof(*out->v), str_cmp);
	}
}

/*
 * Reads a config file after checking what it is and who may read it; false
 * after an error naming the file.
 */
static bool read_file(struct cfg_loader *ld, const char *path,
		      const struct cfg_node *entry, const char *epath,
		      char **buf, size_t *len, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		cfg_err_file(ld, entry, epath, path, "cannot open: %s",
			     strerror(errno));
		return false;
	}
	bool ok = false;
	if (fstat(fd, st) != 0) {
		cfg_err_file(ld, entry, epath, path, "cannot open: %s",
			     strerror(errno));
	} else if (!S_ISREG(st->st_mode)) {
		cfg_err_file(ld, entry, epath, path, "not a regular file");
	} else if (st->st_mode & 0006) {
		unsigned mode = st->st_mode & 07777;
		cfg_err_file(
			ld, entry, epath, path,
			"insecure permissions %04o (%s); run 'chmod 640 %s' "
			"or 'chmod 600 %s'",
			mode,
			(mode & 0006) == 0006 ? "world-readable and "
						"world-writable"
			: (mode & 0004)       ? "world-readable"
					      : "world-writable",
			path, path);
	} else if (st->st_size > MAX_FILE_SIZE) {
		cfg_err_file(ld, entry, epath, path, "larger than %d MiB",
			     MAX_FILE_SIZE >> 20);
	} else {
		ok = true;
	}
	if (!ok) {
		close(fd);
		return false;
	}
	size_t cap = (size_t)st->st_size + 1, used = 0;
	*buf = malloc(cap);
	if (*buf == NULL) {
		ld->oom = true;
		close(fd);
		return false;
	}
	for (;;) {
		ssize_t got = read(fd, *buf + used, cap - used);
		if (got < 0 && errno == EINTR) {
			continue;
		}
		if (got < 0) {
			cfg_err_file(ld, entry, epath, path, "cannot read: %s",
				     strerror(errno));
			free(*buf);
			*buf = NULL;
			close(fd);
			return false;
		}
		used += (size_t)got;
		if (got == 0 || used == cap) {
			break; /* a file that grew is cut at its stat size */
		}
	}
	close(fd);
	*len = used;
	return true;
}

struct yaml_arg {
	struct cfg_loader *ld;
	unsigned file;
};

static void on_yaml_problem(void *arg, unsigned line, unsigned col,
			    const char *msg)
{
	struct yaml_arg *ya = arg;
	const char *path = ya->ld->files[ya->file].path;
	if (line == 0) {
		cfg_err_push(ya->ld, ya->file, 0, 0,
			     cfg_fmt("%s: %s", path, msg));
	} else {
		cfg_err_push(ya->ld, ya->file, line, col,
			     cfg_fmt("%s:%u:%u: %s", path, line, col, msg));
	}
}

static const char *mode_name(enum gslb_mode mode)
{
	return mode == GSLB_MODE_AGENT ? "agent" : "overwatch";
}

static const char *daemon_name(enum gslb_mode mode)
{
	return mode == GSLB_MODE_AGENT ? "gslb-agentd" : "gslb-overwatchd";
}

/* False when the file is for the other daemon: nothing else is checked. */
static bool check_mode(struct cfg_loader *ld, const struct cfg_node *root)
{
	const struct cfg_node *node = cfg_map_get(root, "mode");
	enum gslb_mode mode;

	if (node == NULL || cfg_node_is_null(node)) {
		return true;
	}
	const char *text = cfg_scalar(ld, node, "mode", "a string");
	if (text == NULL) {
		return true;
	}
	if (strcasecmp(text, "overwatch") == 0) {
		mode = GSLB_MODE_OVERWATCH;
	} else if (strcasecmp(text, "agent") == 0) {
		mode = GSLB_MODE_AGENT;
	} else {
		cfg_err_at(
			ld, node, "mode",
			"invalid mode \"%s\": must be 'agent' or 'overwatch'",
			text);
		return true;
	}
	if (mode == ld->mode) {
		return true;
	}
	cfg_err_at(ld, node, "mode",
		   "this file is for %s (mode: %s); %s needs mode: %s",
		   daemon_name(mode), mode_name(mode), daemon_name(ld->mode),
		   mode_name(ld->mode));
	return false;
}

static void load_includes(struct cfg_loader *ld, size_t idx, unsigned depth)
{
	const struct cfg_node *list =
		cfg_map_get(ld->files[idx].root, "includes");
	char ipath[CFG_PATH_LEN];

	if (list == NULL || cfg_node_is_null(list) ||
	    !cfg_is_seq(ld, list, "includes", "a list of file patterns")) {
		return;
	}
	char *dir = path_dir(ld->files[idx].path);
	if (dir == NULL) {
		ld->oom = true;
		return;
	}
	for (size_t i = 0; i < list->n_kids; i++) {
		const struct cfg_node *item = list->kids[i];
		struct strvec matches = { 0 };
		cfg_path_idx(ipath, "includes", i);
		const char *pattern =
			cfg_item_text(ld, item, ipath, "a file pattern");
		if (pattern == NULL) {
			continue;
		}
		if (*pattern == '\0') {
			cfg_err_at(ld, item, ipath, "empty include pattern");
			continue;
		}
		expand(ld, dir, pattern, item, ipath, &matches);
		for (size_t m = 0; m < matches.n; m++) {
			cfg_load_file(ld, matches.v[m], idx, depth + 1, item,
				      ipath);
		}
		strvec_clear(&matches);
	}
	free(dir);
}

/* "circular include detected: /a.yaml -> /b.yaml -> /a.yaml" */
static void report_cycle(struct cfg_loader *ld, size_t parent, const char *path,
			 const struct cfg_node *entry, const char *epath)
{
	size_t chain[MAX_INCLUDE_DEPTH + 2], n = 0;
	for (size_t a = parent; a != SIZE_MAX && n < GSLB_ARRAY_SIZE(chain);
	     a = ld->files[a].parent) {
		chain[n++] = a;
	}
	size_t size = strlen(path) + 1;
	for (size_t i = 0; i < n; i++) {
		size += strlen(ld->files[chain[i]].path) + 4;
	}
	char *text = malloc(size);
	if (text == NULL) {
		ld->oom = true;
		return;
	}
	text[0] = '\0';
	for (size_t i = n; i-- > 0;) {
		strcat(text, ld->files[chain[i]].path);
		strcat(text, " -> ");
	}
	strcat(text, path);
	cfg_err_at(ld, entry, epath, "circular include detected: %s", text);
	free(text);
}

void cfg_load_file(struct cfg_loader *ld, const char *path, size_t parent,
		   unsigned depth, const struct cfg_node *entry,
		   const char *epath)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;

	if (depth > MAX_INCLUDE_DEPTH) {
		cfg_err_file(ld, entry, epath, path,
			     "maximum include depth (%d) exceeded",
			     MAX_INCLUDE_DEPTH);
		ld->incomplete = true;
		return;
	}
	if (!read_file(ld, path, entry, epath, &buf, &len, &st)) {
		ld->incomplete = true;
		return;
	}
	for (size_t a = parent; a != SIZE_MAX; a = ld->files[a].parent) {
		if (ld->files[a].dev == st.st_dev &&
		    ld->files[a].ino == st.st_ino) {
			report_cycle(ld, parent, path, entry, epath);
			ld->incomplete = true;
			free(buf);
			return;
		}
	}
	for (size_t i = 0; i < ld->n_files; i++) {
		if (ld->files[i].dev == st.st_dev &&
		    ld->files[i].ino == st.st_ino) {
			cfg_err_file(ld, entry, epath, path,
				     "included more than once (first included "
				     "from %s)",
				     ld->files[ld->files[i].parent].path);
			free(buf);
			return;
		}
	}

	struct gslb_config *cfg = ld->cfg;
	char *copy = cfg_strdup(ld, path);
	char **slot =
		copy != NULL ? VEC_PUSH(ld, cfg->files, cfg->n_files) : NULL;
	struct cfg_file *fe =
		slot != NULL ? VEC_PUSH(ld, ld->files, ld->n_files) : NULL;
	if (fe == NULL) {
		if (slot != NULL) {
			cfg->n_files--;
		}
		free(copy);
		free(buf);
		return;
	}
	*slot = copy;
	size_t idx = ld->n_files - 1;
	*fe = (struct cfg_file){ .path = copy,
				 .dev = st.st_dev,
				 .ino = st.st_ino,
				 .parent = parent };

	struct yaml_arg ya = { .ld = ld, .file = (unsigned)idx };
	struct cfg_node *root = NULL;
	int ret = cfg_yaml_parse(buf, len, (unsigned)idx, on_yaml_problem, &ya,
				 &root);
	free(buf);
	if (ret == GSLB_ENOMEM) {
		ld->oom = true;
	}
	if (ret != GSLB_EOK) {
		ld->incomplete = true;
		return;
	}
	if (root != NULL && root->kind != CFG_NODE_MAP) {
		cfg_err_type(ld, root, "",
			     "a mapping of keys at the top level");
		cfg_node_free(root);
		ld->incomplete = true;
		return;
	}
	ld->files[idx].root = root;
	if (root == NULL) {
		return;
	}
	if (parent == SIZE_MAX && !check_mode(ld, root)) {
		ld->incomplete = true;
		ld->files[idx].root = NULL; /* nothing else is checked */
		cfg_node_free(root);
		return;
	}
	load_includes(ld, idx, depth);
}

/* The main file's path made absolute (no symlinks resolved). */
char *cfg_path_abs(struct cfg_loader *ld, const char *path)
{
	char *abs;
	if (path[0] == '/') {
		abs = cfg_strdup(ld, path);
	} else {
		char *cwd = getcwd(NULL, 0);
		abs = cwd != NULL ? cfg_fmt("%s/%s", cwd, path) : strdup(path);
		free(cwd);
		if (abs == NULL) {
			ld->oom = true;
		}
	}
	if (abs != NULL) {
		path_tidy(abs);
	}
	return abs;
}
