/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "fsutil.h"

static int mkdir_one(const char *path, mode_t mode)
{
	struct stat sb;
	if (mkdir(path, mode) == 0) {
		return GSLB_EOK;
	}
	if (errno != EEXIST) {
		return -errno;
	}
	/* Something is there: fine only if it is a directory. */
	if (stat(path, &sb) != 0) {
		return -errno;
	}
	return S_ISDIR(sb.st_mode) ? GSLB_EOK : -ENOTDIR;
}

int gslb_mkdirs(const char *path, mode_t mode)
{
	char *copy = strdup(path);
	if (copy == NULL) {
		return GSLB_ENOMEM;
	}
	int ret = GSLB_EOK;
	/* Each parent in turn, from the root down; "//" and a final "/" are
	 * harmless. */
	for (char *p = copy + 1; ret == GSLB_EOK && *p != '\0'; p++) {
		if (*p == '/' && p[-1] != '/') {
			*p = '\0';
			ret = mkdir_one(copy, mode);
			*p = '/';
		}
	}
	if (ret == GSLB_EOK) {
		ret = mkdir_one(copy, mode);
	}
	free(copy);
	return ret;
}

void gslb_dirname(const char *path, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL) {
		snprintf(buf, size, ".");
	} else if (slash == path) {
		snprintf(buf, size, "/");
	} else {
		snprintf(buf, size, "%.*s", (int)(slash - path), path);
	}
}
