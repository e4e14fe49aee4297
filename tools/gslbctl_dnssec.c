/* SPDX-License-Identifier: GPL-3.0-or-later */
/* gslbctl: the dnssec commands (DS records, key status, key sync). */
#include <stdlib.h>
#include <string.h>

#include "gslbctl.h"

/* Exit status 1 after saying so: there is nothing to show. */
static int disabled(const json_t *doc)
{
	const char *msg = jstr(doc, "message");
	char *text = ctl_printable(msg != NULL ? msg : "DNSSEC is disabled");
	ctl_error("%s on this overwatch", text);
	free(text);
	return CTL_REFUSED;
}

int cmd_dnssec_ds(struct ctl *ctl)
{
	const char *zone = ctl_opt(ctl, "zone");
	struct ctl_buf path = { 0 };
	buf_add(&path, "/api/v1/dnssec/ds");
	if (zone != NULL) {
		if (*zone == '\0') {
			buf_clear(&path);
			return ctl_usage(ctl, "--zone needs a zone name");
		}
		buf_add_query(&path, "zone", zone);
	}
	json_t *doc = NULL;
	int ret = ctl_call(ctl, "GET", path.s, NULL, &doc, NULL);
	buf_clear(&path);
	if (ret != CTL_OK) {
		return ret;
	}
	if (ctl->json) {
		ctl_print_json(doc);
	} else if (jbool(doc, "enabled") != 1) {
		ret = disabled(doc);
	} else {
		/* A zone-file snippet, ready for the parent zone. */
		size_t i;
		json_t *r;
		json_array_foreach(json_object_get(doc, "ds_records"), i, r)
		{
			const char *line = jstr(r, "ds_record");
			if (line != NULL) {
				char *text = ctl_printable(line);
				printf("%s\n", text);
				free(text);
			}
		}
	}
	json_decref(doc);
	return ret;
}

/* Its signer's cached signatures, for the zone's row. */
static char *cached_signatures(const json_t *doc, const char *zone)
{
	const json_t *s =
		json_object_get(json_object_get(doc, "signatures"), zone);
	if (s == NULL) {
		return NULL;
	}
	return xasprintf("%lld", (long long)jint(s, "cached", 0));
}

static void print_keys(const json_t *doc)
{
	static const char *const headers[] = { "ZONE",      "KEY-TAG",
					       "ALGORITHM", "CREATED",
					       "NODE",      "SIGNATURES" };
	struct ctl_table *t = table_new(6, headers);
	size_t i;
	json_t *k;
	json_array_foreach(json_object_get(doc, "keys"), i, k)
	{
		const char *zone = jstr(k, "zone");
		const char *created = jstr(k, "created_at");
		char when[64];
		char *tag = xasprintf("%lld", (long long)jint(k, "key_tag", 0));
		char *sigs = zone != NULL ? cached_signatures(doc, zone) : NULL;
		const char *row[] = {
			zone,
			tag,
			jstr(k, "algorithm_name"),
			created != NULL
				? ctl_time_short(created, when, sizeof(when))
				: NULL,
			jstr(k, "node_id"),
			sigs,
		};
		table_add(t, row);
		free(tag);
		free(sigs);
	}
	table_print_or(t, "No zone keys.");
	table_free(t);
}

static void print_sync(const json_t *sync)
{
	const json_t *peers = json_object_get(sync, "peers");
	const char *interval = jstr(sync, "poll_interval");
	if (jbool(sync, "running") != 1) {
		printf("\nKey sync:   not configured\n");
		return;
	}
	const size_t n = json_array_size(peers);
	printf("\nKey sync:   %zu peer%s, every %s\n\n", n, n == 1 ? "" : "s",
	       interval != NULL ? interval : "?");
	static const char *const headers[] = { "PEER", "LAST-SYNC",
					       "LAST-SUCCESS", "FAILURES",
					       "LAST-ERROR" };
	struct ctl_table *t = table_new(5, headers);
	size_t i;
	json_t *p;
	json_array_foreach(peers, i, p)
	{
		char synced[64], ok[64];
		const char *last = jstr(p, "last_sync");
		const char *success = jstr(p, "last_success");
		char *failures =
			xasprintf("%lld", (long long)jint(p, "failures", 0));
		const char *error = jstr(p, "last_error");
		char *err = error != NULL ? ctl_printable(error) : NULL;
		const char *row[] = {
			jstr(p, "peer"),
			last != NULL
				? ctl_time_short(last, synced, sizeof(synced))
				: "never",
			success != NULL
				? ctl_time_short(success, ok, sizeof(ok))
				: "never",
			failures,
			err,
		};
		table_add(t, row);
		free(failures);
		free(err);
	}
	table_print_or(t, "No peers.");
	table_free(t);
}

int cmd_dnssec_status(struct ctl *ctl)
{
	json_t *doc = NULL;
	int ret =
		ctl_call(ctl, "GET", "/api/v1/dnssec/status", NULL, &doc, NULL);
	if (ret != CTL_OK) {
		return ret;
	}
	if (ctl->json) {
		ctl_print_json(doc);
	} else if (jbool(doc, "enabled") != 1) {
		printf("DNSSEC:     disabled\n");
	} else {
		const char *alg = jstr(doc, "algorithm");
		const char *denial = jstr(doc, "denial");
		printf("DNSSEC:     enabled (new keys %s, denial %s)\n\n",
		       alg != NULL ? alg : "?", denial != NULL ? denial : "?");
		print_keys(doc);
		print_sync(json_object_get(doc, "sync"));
	}
	json_decref(doc);
	return ret;
}

int cmd_dnssec_sync(struct ctl *ctl)
{
	json_t *doc = NULL;
	int ret =
		ctl_call(ctl, "POST", "/api/v1/dnssec/sync", NULL, &doc, NULL);
	if (ret != CTL_OK) {
		return ret;
	}
	if (ctl->json) {
		ctl_print_json(doc);
	} else {
		printf("Key sync triggered: the peers are asked now; "
		       "'gslbctl dnssec status' shows what they answered.\n");
	}
	json_decref(doc);
	return ret;
}
