/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Attributes used across the project, in one place. */
#pragma once

#define GSLB_NONNULL(...)     __attribute__((nonnull(__VA_ARGS__)))
#define GSLB_WARN_UNUSED      __attribute__((warn_unused_result))
#define GSLB_PRINTF(fmt, arg) __attribute__((format(printf, fmt, arg)))
#define GSLB_MALLOC           __attribute__((malloc))
#define GSLB_UNUSED           __attribute__((unused))
#define GSLB_NORETURN         __attribute__((noreturn))
#define GSLB_LIKELY(x)        __builtin_expect(!!(x), 1)
#define GSLB_UNLIKELY(x)      __builtin_expect(!!(x), 0)

#define GSLB_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
