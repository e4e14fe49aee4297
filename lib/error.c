/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <string.h>

#include "error.h"

const char *gslb_strerror(int code)
{
	switch (code) {
	case GSLB_EOK:
		return "no error";
	case GSLB_ECONFIG:
		return "invalid configuration";
	case GSLB_EMALF:
		return "malformed input";
	case GSLB_ENOHEALTHY:
		return "no healthy servers available";
	case GSLB_ESPACE:
		return "not enough space";
	default:
		if (code < 0 && code > GSLB_ERROR_BASE) {
			return strerror(-code);
		}
		return "unknown error";
	}
}
