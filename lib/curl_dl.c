/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "compiler.h"
#include "curl_dl.h"
#include "error.h"

struct gslb_curl gslb_curl;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char failure[256]; /* empty once opened */

/* Each function pointer, by the name libcurl exports it under. */
#define SYMBOL(field, name)                             \
	{                                               \
		offsetof(struct gslb_curl, field), name \
	}
static const struct {
	size_t offset;
	const char *name;
} SYMBOLS[] = {
	SYMBOL(global_init, "curl_global_init"),
	SYMBOL(global_cleanup, "curl_global_cleanup"),
	SYMBOL(easy_init, "curl_easy_init"),
	SYMBOL(easy_setopt, "curl_easy_setopt"),
	SYMBOL(easy_getinfo, "curl_easy_getinfo"),
	SYMBOL(easy_perform, "curl_easy_perform"),
	SYMBOL(easy_reset, "curl_easy_reset"),
	SYMBOL(easy_cleanup, "curl_easy_cleanup"),
	SYMBOL(easy_strerror, "curl_easy_strerror"),
	SYMBOL(multi_init, "curl_multi_init"),
	SYMBOL(multi_setopt, "curl_multi_setopt"),
	SYMBOL(multi_add_handle, "curl_multi_add_handle"),
	SYMBOL(multi_remove_handle, "curl_multi_remove_handle"),
	SYMBOL(multi_assign, "curl_multi_assign"),
	SYMBOL(multi_socket_action, "curl_multi_socket_action"),
	SYMBOL(multi_info_read, "curl_multi_info_read"),
	SYMBOL(multi_cleanup, "curl_multi_cleanup"),
	SYMBOL(multi_strerror, "curl_multi_strerror"),
	SYMBOL(slist_append, "curl_slist_append"),
	SYMBOL(slist_free_all, "curl_slist_free_all"),
};

static void open_once(void)
{
	/* Never closed: libcurl stays loaded for the life of the process. */
	void *lib = dlopen(GSLB_CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		snprintf(failure, sizeof(failure), "cannot load libcurl: %s",
			 dlerror());
		return;
	}
	struct gslb_curl found;
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(SYMBOLS); i++) {
		void *fn = dlsym(lib, SYMBOLS[i].name);
		if (fn == NULL) {
			snprintf(failure, sizeof(failure),
				 "cannot load libcurl: %s has no %s",
				 GSLB_CURL_SONAME, SYMBOLS[i].name);
			return;
		}
		/* POSIX guarantees a data pointer from dlsym converts to a
		 * function pointer; the struct holds only those. */
		memcpy((char *)&found + SYMBOLS[i].offset, &fn, sizeof(fn));
	}
	gslb_curl = found;
}

int gslb_curl_open(char *why, size_t len)
{
	pthread_once(&once, open_once);
	if (failure[0] != '\0') {
		snprintf(why, len, "%s", failure);
		return GSLB_ENOENT;
	}
	return GSLB_EOK;
}
