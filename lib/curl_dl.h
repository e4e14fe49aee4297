/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libcurl, opened the first time it is needed: by an https health check or
 * a DNSSEC key-sync peer. Plain http and tcp checks never use it, and
 * linking it would load some fifteen more libraries (Kerberos, LDAP, SSH,
 * OpenSSL's libcrypto...) into every daemon: about 3 MB of resident memory.
 *
 * Call gslb_curl_open() before anything else of gslb_curl; the functions
 * then behave as libcurl's own of the same name.
 */
#pragma once

#include <stddef.h>

#include <curl/curl.h>

struct gslb_curl {
	__typeof__(curl_global_init) *global_init;
	__typeof__(curl_global_cleanup) *global_cleanup;
	__typeof__(curl_easy_init) *easy_init;
	__typeof__(curl_easy_setopt) *easy_setopt;
	__typeof__(curl_easy_getinfo) *easy_getinfo;
	__typeof__(curl_easy_perform) *easy_perform;
	__typeof__(curl_easy_reset) *easy_reset;
	__typeof__(curl_easy_cleanup) *easy_cleanup;
	__typeof__(curl_easy_strerror) *easy_strerror;
	__typeof__(curl_multi_init) *multi_init;
	__typeof__(curl_multi_setopt) *multi_setopt;
	__typeof__(curl_multi_add_handle) *multi_add_handle;
	__typeof__(curl_multi_remove_handle) *multi_remove_handle;
	__typeof__(curl_multi_assign) *multi_assign;
	__typeof__(curl_multi_socket_action) *multi_socket_action;
	__typeof__(curl_multi_info_read) *multi_info_read;
	__typeof__(curl_multi_cleanup) *multi_cleanup;
	__typeof__(curl_multi_strerror) *multi_strerror;
	__typeof__(curl_slist_append) *slist_append;
	__typeof__(curl_slist_free_all) *slist_free_all;
};

extern struct gslb_curl gslb_curl;

/*
 * Opens libcurl (GSLB_CURL_SONAME) and finds its functions, once per
 * process; safe from any thread. GSLB_EOK, or GSLB_ENOENT with the reason
 * in why (the library is missing or lacks a function).
 */
int gslb_curl_open(char *why, size_t len);
