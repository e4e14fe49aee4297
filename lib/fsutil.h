/* SPDX-License-Identifier: GPL-3.0-or-later */
/* File system helpers shared by the daemons. */
#pragma once

#include <sys/types.h>

#include "compiler.h"

/*
 * mkdir -p: creates path and every missing parent with mode (as umask
 * allows); an existing directory is fine. GSLB_EOK or a negated errno.
 */
int gslb_mkdirs(const char *path, mode_t mode) GSLB_WARN_UNUSED;
