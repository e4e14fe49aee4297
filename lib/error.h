/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Library error codes: functions return 0 or a negative GSLB_E* code. */
#pragma once

#include <errno.h>

enum {
	GSLB_EOK = 0,
	GSLB_ENOMEM = -ENOMEM,
	GSLB_EINVAL = -EINVAL,
	GSLB_ENOENT = -ENOENT,
	GSLB_EEXIST = -EEXIST,
	GSLB_ERANGE = -ERANGE,
	GSLB_EACCES = -EACCES,
	GSLB_EIO = -EIO,
	GSLB_ERROR_BASE = -1000,
	GSLB_ECONFIG = GSLB_ERROR_BASE, /* configuration has errors */
	GSLB_EMALF,                     /* malformed input */
	GSLB_ENOHEALTHY,                /* no healthy candidate */
	GSLB_ESPACE,                    /* output buffer too small */
};

/* Text for a GSLB_E* code or a negated errno; never NULL. */
const char *gslb_strerror(int code);
