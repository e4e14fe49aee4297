/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * gslbctl: HTTP/1.1 to the overwatch's REST API with libcurl, over its UNIX
 * socket (no access list, no token) or over TCP.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "gslbctl.h"

/* No answer of the API comes near this; more is not the overwatch. */
#define MAX_BODY (64u << 20)

void ctl_http_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void ctl_http_cleanup(void)
{
	curl_global_cleanup();
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct ctl_buf *b = arg;
	size_t len = size * n;
	if (b->len + len > MAX_BODY) {
		return 0; /* curl fails with CURLE_WRITE_ERROR */
	}
	buf_addn(b, data, len);
	return len;
}

/* What the user named: the socket's path or the API's URL. */
static const char *target(const struct ctl *ctl)
{
	return ctl->socket_path != NULL ? ctl->socket_path : ctl->api_url;
}

#define HINT "is gslb-overwatchd running? use --socket PATH or --api URL"

/* Why curl got no answer, in the user's terms. */
static int transport_error(const struct ctl *ctl, CURL *curl, CURLcode rc,
			   const char *detail)
{
	long os_errno = 0;
	curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);

	switch (rc) {
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return ctl_usage(ctl, "invalid --api URL '%s': %s",
				 ctl->api_url,
				 *detail ? detail : curl_easy_strerror(rc));
	case CURLE_OPERATION_TIMEDOUT:
		ctl_error("no answer from %s within %g s (%s, or raise "
			  "--timeout)",
			  target(ctl), (double)ctl->timeout_ms / 1000, HINT);
		return CTL_UNREACHABLE;
	case CURLE_COULDNT_RESOLVE_HOST:
		ctl_error("cannot connect to %s: %s (check the host name in "
			  "--api)",
			  target(ctl),
			  *detail ? detail : curl_easy_strerror(rc));
		return CTL_UNREACHABLE;
	case CURLE_COULDNT_CONNECT:
		if (os_errno == EACCES && ctl->socket_path != NULL) {
			ctl_error("cannot connect to %s: %s (run gslbctl as a "
				  "user allowed to use the socket, or use "
				  "--api URL)",
				  target(ctl), strerror((int)os_errno));
			return CTL_UNREACHABLE;
		}
		if (os_errno != 0) {
			ctl_error("cannot connect to %s: %s (%s)", target(ctl),
				  strerror((int)os_errno), HINT);
			return CTL_UNREACHABLE;
		}
		break;
	case CURLE_WRITE_ERROR:
		ctl_error("the answer of %s is larger than %u MiB: is it the "
			  "overwatch's API?",
			  target(ctl), MAX_BODY >> 20);
		return CTL_UNREACHABLE;
	default:
		break;
	}
	ctl_error("cannot talk to %s: %s (%s)", target(ctl),
		  *detail ? detail : curl_easy_strerror(rc), HINT);
	return CTL_UNREACHABLE;
}

/* The URL for path, or NULL after a usage error. */
static char *make_url(const struct ctl *ctl, const char *path)
{
	if (ctl->socket_path != NULL) {
		/* The host is only for the Host header. */
		return xasprintf("http://localhost%s", path);
	}
	const char *base = ctl->api_url;
	size_t len = strlen(base);
	while (len > 0 && base[len - 1] == '/') {
		len--;
	}
	if (strstr(base, "://") == NULL) {
		return xasprintf("http://%.*s%s", (int)len, base, path);
	}
	if (strncasecmp(base, "http://", 7) != 0 &&
	    strncasecmp(base, "https://", 8) != 0) {
		return NULL;
	}
	return xasprintf("%.*s%s", (int)len, base, path);
}

int ctl_http(const struct ctl *ctl, const char *method, const char *path,
	     const json_t *body, struct ctl_reply *reply)
{
	*reply = (struct ctl_reply){ 0 };
	char *url = make_url(ctl, path);
	if (url == NULL) {
		return ctl_usage(ctl,
				 "invalid --api URL '%s': only http:// "
				 "and https:// are supported",
				 ctl->api_url);
	}
	CURL *curl = curl_easy_init();
	if (curl == NULL) {
		free(url);
		ctl_error("cannot initialise libcurl");
		return CTL_UNREACHABLE;
	}

	char *text = NULL;
	struct curl_slist *headers = NULL;
	headers = curl_slist_append(headers, "Accept: application/json");
	/* Small bodies: no "100 Continue" round trip. */
	headers = curl_slist_append(headers, "Expect:");
	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT);
		if (text == NULL) {
			fputs("gslbctl: out of memory\n", stderr);
			exit(CTL_REFUSED);
		}
		headers = curl_slist_append(headers,
					    "Content-Type: application/json");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, text);
	}
	char *auth = NULL;
	if (ctl->token != NULL) {
		auth = xasprintf("Authorization: Bearer %s", ctl->token);
		headers = curl_slist_append(headers, auth);
	}

	struct ctl_buf answer = { 0 };
	char detail[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(curl, CURLOPT_URL, url);
	if (ctl->socket_path != NULL) {
		curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH,
				 ctl->socket_path);
	}
	if (strcmp(method, "GET") != 0 &&
	    !(strcmp(method, "POST") == 0 && body != NULL)) {
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "gslbctl/" PACKAGE_VERSION);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, ctl->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);

	int ret = CTL_OK;
	CURLcode rc = curl_easy_perform(curl);
	if (rc != CURLE_OK) {
		ret = transport_error(ctl, curl, rc, detail);
	} else {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->status);
		if (answer.len > 0) {
			json_error_t jerr;
			reply->doc = json_loadb(answer.s, answer.len,
						JSON_DECODE_ANY, &jerr);
		}
		if (answer.len > 0 && reply->doc == NULL &&
		    reply->status < 400) {
			char *line = ctl_printable(answer.s);
			ctl_error("the answer of %s to %s %s is not JSON "
				  "(HTTP %ld: %.80s): is it the overwatch's "
				  "API?",
				  target(ctl), method, path, reply->status,
				  line);
			free(line);
			ret = CTL_REFUSED;
		}
		if (reply->doc == NULL && reply->status >= 400 &&
		    answer.len > 0) {
			/* Keep some text to show (e.g. a proxy's page). */
			char *line = ctl_printable(answer.s);
			reply->doc = json_pack("{s:s%}", "error", line,
					       strnlen(line, 120));
			free(line);
		}
	}
	buf_clear(&answer);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	free(auth);
	free(text);
	free(url);
	return ret;
}

const char *ctl_reply_error(const struct ctl_reply *reply)
{
	const char *msg = jstr(reply->doc, "error");
	return msg != NULL ? msg : "no reason given";
}

void ctl_print_refusal(const struct ctl *ctl, const struct ctl_reply *reply)
{
	char *msg = ctl_printable(ctl_reply_error(reply));
	ctl_error("the overwatch refused: %s (%ld)", msg, reply->status);
	free(msg);
	if (reply->status == 401 && ctl->token != NULL) {
		fputs("gslbctl: the token given (--token or OPENGSLB_TOKEN) "
		      "is not one of the overwatch's api.tokens: check it, or "
		      "use the UNIX socket (--socket PATH)\n",
		      stderr);
	} else if (reply->status == 401) {
		fputs("gslbctl: changes over TCP need an API token: pass "
		      "--token TOKEN (or set OPENGSLB_TOKEN) with a token of "
		      "api.tokens, or use the UNIX socket (--socket PATH)\n",
		      stderr);
	} else if (reply->status == 403 && ctl->api_url != NULL) {
		fputs("gslbctl: this address is not in the overwatch's "
		      "api.allowed_networks: run gslbctl from an allowed "
		      "address, or use the UNIX socket (--socket PATH)\n",
		      stderr);
	}
}

int ctl_call(const struct ctl *ctl, const char *method, const char *path,
	     const json_t *body, json_t **doc, long *status)
{
	struct ctl_reply reply;
	*doc = NULL;
	int ret = ctl_http(ctl, method, path, body, &reply);
	if (ret != CTL_OK) {
		json_decref(reply.doc);
		return ret;
	}
	if (reply.status >= 400) {
		ctl_print_refusal(ctl, &reply);
		json_decref(reply.doc);
		return CTL_REFUSED;
	}
	if (status != NULL) {
		*status = reply.status;
	}
	*doc = reply.doc;
	return CTL_OK;
}
