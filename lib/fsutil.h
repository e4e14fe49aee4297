/* SPDX-License-Identifier: GPL-3.0-or-later */
/* File system helpers shared by the daemons. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "compiler.h"

/*
 * mkdir -p: creates path and every missing parent with mode (as umask
 * allows); an existing directory is fine. GSLB_EOK or a negated errno.
 */
int gslb_mkdirs(const char *path, mode_t mode) GSLB_WARN_UNUSED;

/* The directory part of path, as dirname(1) but without touching path:
 * "/run/x.sock" gives "/run", "/x" gives "/", "x" gives ".". Truncated to
 * size. */
void gslb_dirname(const char *path, char *buf, size_t size);
