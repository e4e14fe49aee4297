/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "error.h"
#include "registry.h"

#define STALE (50 * GSLB_MSEC)
#define T0    ((gslb_time_t)1000 * GSLB_SEC)

/* Config values built by hand: regions of servers, nothing else. */
struct test_cfg {
	struct gslb_config cfg;
	struct gslb_region regions[4];
	struct gslb_server servers[4][8];
};

static void cfg_reset(struct test_cfg *tc)
{
	memset(tc, 0, sizeof(*tc));
	tc->cfg.regions = tc->regions;
}

/* Adds a server to region r (named name), creating the region as needed. */
static struct gslb_server *cfg_add(struct test_cfg *tc, size_t r,
				   const char *name, const char *service,
				   const char *addr, uint16_t port,
				   uint32_t weight)
{
	struct gslb_region *region = &tc->regions[r];

	ck_assert_uint_lt(r, GSLB_ARRAY_SIZE(tc->regions));
	ck_assert_uint_lt(region->n_servers, GSLB_ARRAY_SIZE(tc->servers[r]));
	region->name = (char *)name;
	region->servers = tc->servers[r];
	if (tc->cfg.n_regions < r + 1) {
		tc->cfg.n_regions = r + 1;
	}

	struct gslb_server *srv = &tc->servers[r][region->n_servers++];
	srv->address = (char *)addr;
	ck_assert_int_eq(gslb_ip_parse(addr, &srv->ip), 0);
	srv->port = port;
	srv->weight = weight;
	srv->service = (char *)service;
	return srv;
}

static struct gslb_registry *registry_new(void)
{
	struct gslb_registry *reg = NULL;
	ck_assert_int_eq(gslb_registry_new(STALE, &reg), 0);
	ck_assert_ptr_nonnull(reg);
	return reg;
}

static struct gslb_backend *find(const struct gslb_registry *reg,
				 const char *service, const char *addr,
				 uint16_t port)
{
	struct gslb_ip ip;
	ck_assert_int_eq(gslb_ip_parse(addr, &ip), 0);
	return gslb_registry_find(reg, service, &ip, port);
}

static void assert_backend(const struct gslb_backend *b, const char *service,
			   const char *addr, uint16_t port)
{
	char buf[GSLB_IP_STRLEN];

	ck_assert_ptr_nonnull(b);
	ck_assert_str_eq(b->service, service);
	ck_assert_str_eq(gslb_ip_format(&b->ip, buf), addr);
	ck_assert_uint_eq(b->port, port);
}

/*
 * One static backend, turned into an agent backend: the header has no
 * registration call for agents yet, and the fields are public.
 */
static struct gslb_backend *agent_backend(struct gslb_registry *reg,
					  struct test_cfg *tc)
{
	cfg_reset(tc);
	cfg_add(tc, 0, "eu", "app.example", "10.0.0.1", 80, 100);
	ck_assert_int_eq(gslb_registry_sync_static(reg, &tc->cfg, T0), 0);
	struct gslb_backend *b = find(reg, "app.example", "10.0.0.1", 80);
	ck_assert_ptr_nonnull(b);
	b->source = GSLB_SOURCE_AGENT;
	return b;
}

START_TEST(status_names)
{
	ck_assert_str_eq(gslb_status_name(GSLB_STATUS_HEALTHY), "healthy");
	ck_assert_str_eq(gslb_status_name(GSLB_STATUS_UNHEALTHY), "unhealthy");
	ck_assert_str_eq(gslb_status_name(GSLB_STATUS_STALE), "stale");
	ck_assert_str_eq(gslb_status_name(GSLB_STATUS_DRAINING), "draining");
}
END_TEST

/* gslb_backend_status on its own, one rule at a time. */
START_TEST(status_function_order)
{
	struct gslb_backend b = {
		.source = GSLB_SOURCE_AGENT,
		.agent_healthy = true,
		.agent_last_seen = T0,
		.validation = GSLB_UNKNOWN,
		.override = GSLB_UNKNOWN,
	};

	ck_assert_int_eq(gslb_backend_status(&b, T0, STALE),
			 GSLB_STATUS_HEALTHY);
	b.agent_healthy = false;
	ck_assert_int_eq(gslb_backend_status(&b, T0 + STALE, STALE),
			 GSLB_STATUS_UNHEALTHY);
	/* Silence strictly longer than the limit is stale. */
	ck_assert_int_eq(gslb_backend_status(&b, T0 + STALE + 1, STALE),
			 GSLB_STATUS_STALE);
	b.validation = GSLB_YES;
	ck_assert_int_eq(gslb_backend_status(&b, T0 + STALE + 1, STALE),
			 GSLB_STATUS_HEALTHY);
	b.validation = GSLB_NO;
	ck_assert_int_eq(gslb_backend_status(&b, T0, STALE),
			 GSLB_STATUS_UNHEALTHY);
	b.draining = true;
	ck_assert_int_eq(gslb_backend_status(&b, T0, STALE),
			 GSLB_STATUS_DRAINING);
	b.override = GSLB_YES;
	ck_assert_int_eq(gslb_backend_status(&b, T0, STALE),
			 GSLB_STATUS_HEALTHY);
	b.override = GSLB_NO;
	b.validation = GSLB_YES;
	b.draining = false;
	ck_assert_int_eq(gslb_backend_status(&b, T0, STALE),
			 GSLB_STATUS_UNHEALTHY);

	/* Static and API backends are healthy by default and never stale. */
	struct gslb_backend s = {
		.source = GSLB_SOURCE_STATIC,
		.validation = GSLB_UNKNOWN,
		.override = GSLB_UNKNOWN,
	};
	ck_assert_int_eq(gslb_backend_status(&s, T0 * 1000, STALE),
			 GSLB_STATUS_HEALTHY);
	s.source = GSLB_SOURCE_API;
	ck_assert_int_eq(gslb_backend_status(&s, T0 * 1000, STALE),
			 GSLB_STATUS_HEALTHY);
}
END_TEST

/* The original's TestRegistry_HealthAuthorityHierarchy, with explicit time. */
START_TEST(hierarchy_tested_sequence)
{
	struct gslb_registry *reg = registry_new();
	struct test_cfg tc;
	struct gslb_backend *b = agent_backend(reg, &tc);
	gslb_time_t now = T0 + GSLB_MSEC;

	/* 1. Agent says healthy. */
	gslb_registry_set_agent_claim(reg, b, true, now);
	ck_assert_int_eq(b->status, GSLB_STATUS_HEALTHY);

	/* 2. Overwatch validation fails. */
	ck_assert(gslb_registry_set_validation(reg, b, false, now));
	ck_assert_int_eq(b->status, GSLB_STATUS_UNHEALTHY);

	/* 3. Manual override says healthy. */
	ck_assert(gslb_registry_set_override(reg, b, GSLB_YES, now));
	ck_assert_int_eq(b->status, GSLB_STATUS_HEALTHY);

	/* 4. Override cleared: validation rules again. */
	ck_assert(gslb_registry_set_override(reg, b, GSLB_UNKNOWN, now));
	ck_assert_int_eq(b->status, GSLB_STATUS_UNHEALTHY);

	/* 5. The agent falls silent past the limit: validation beats stale. */
	now += 2 * STALE;
	ck_assert(!gslb_registry_refresh(reg, now));
	ck_assert_int_eq(b->status, GSLB_STATUS_UNHEALTHY);
	ck_assert_int_eq(gslb_backend_status(b, now, STALE),
			 GSLB_STATUS_UNHEALTHY);

	/* 6. Validation passes: recovered although still stale. */
	ck_assert(gslb_registry_set_validation(reg, b, true, now));
	ck_assert_int_eq(b->status, GSLB_STATUS_HEALTHY);
	ck_assert_int_eq(b->validation_last_check, now);

	gslb_registry_free(reg);
}
END_TEST

START_TEST(stale_without_validation)
{
	struct gslb_registry *reg = registry_new();
	struct test_cfg tc;
	struct gslb_backend *b = agent_backend(reg, &tc);

	ck_assert(!gslb_registry_set_agent_claim(reg, b, true, T0));
	ck_assert_int_eq(b->agent_last_seen, T0);

	/* At the limit, not yet stale. */
	ck_assert(!gslb_registry_refresh(reg, T0 + STALE));
	ck_assert_int_eq(b->status, GSLB_STATUS_HEALTHY);

	const uint64_t gen = gslb_registry_generation(reg);
	ck_assert(gslb_registry_refresh(reg, T0 + STALE + 1));
	ck_assert_int_eq(b->status, GSLB_STATUS_STALE);
	ck_assert_uint_gt(gslb_registry_generation(reg), gen);
	ck_assert(!gslb_registry_refresh(reg, T0 + 10 * STALE));

	/* An override wins over stale. */
	ck_assert(
		gslb_registry_set_override(reg, b, GSLB_YES, T0 + 10 * STALE));
	ck_assert_int_eq(b->status, GSLB_STATUS_HEALTHY);
	ck_assert(gslb_registry_set_override(reg, b, GSLB_UNKNOWN,
					     T0 + 10 * STALE));
	ck_assert_int_eq(b->status, GSLB_STATUS_STALE);

	/* Stale plus a failed validation is unhealthy. */
	ck_assert(gslb_registry_set_validation(reg, b, false, T0 + 10 * STALE));
	ck_assert_int_eq(b->status, GSLB_STATUS_UNHEALTHY);

	gslb_registry_free(reg);
}
END_TEST

START_TEST(agent_claim_refreshes)
{
	struct gslb_registry *reg = registry_new();
	struct test_cfg tc;
	struct gslb_backend *b = agent_backend(reg, &tc);

	gslb_registry_set_agent_claim(reg, b, true, T0);
	ck_assert(gslb_registry_refresh(reg, T0 + 2 * STALE));
	ck_assert_int_eq(b->status, GSLB_STATUS_STALE);

	/* A fresh claim ends staleness; an unhealthy one is believed. */
	ck_assert(gslb_registry_set_agent_claim(reg, b, false, T0 + 2 * STALE));
	ck_assert_int_eq(b->status, GSLB_STATUS_UNHEALTHY);
	ck_assert(gslb_registry_set_agent_claim(reg, b, true, T0 + 3 * STALE));
	ck_assert_int_eq(b->status, GSLB_STATUS_HEALTHY);
	ck_assert(!gslb_registry_refresh(reg, T0 + 4 * STALE));
	ck_assert(gslb_registry_refresh(reg, T0 + 4 * STALE + 1));
	ck_assert_int_eq(b->status, GSLB_STATUS_STALE);

	gslb_registry_free(reg);
}
END_TEST

/* refresh reports a change anywhere, not only in the last backend. */
START_TEST(refresh_reports_any_change)
{
	struct gslb_registry *reg = registry_new();
	struct test_cfg tc;

	cfg_reset(&tc);
	cfg_add(&tc, 0, "eu", "app.example", "10.0.0.1", 80, 100);
	cfg_add(&tc, 0, "eu", "app.example", "10.0.0.2", 80, 100);
	ck_assert_int_eq(gslb_registry_sync_static(reg, &tc.cfg, T0), 0);
	struct gslb_backend *a = gslb_registry_at(reg, 0);
	struct gslb_backend *b = gslb_registry_at(reg, 1);
	a->source = GSLB_SOURCE_AGENT;
	b->source = GSLB_SOURCE_AGENT;
	gslb_registry_set_agent_claim(reg, a, true, T0);
	gslb_registry_set_agent_claim(reg, b, true, T0 + STALE);

	ck_assert(gslb_registry_refresh(reg, T0 + STALE + 1));
	ck_assert_int_eq(a->status, GSLB_STATUS_STALE);
	ck_assert_int_eq(b->status, GSLB_STATUS_HEALTHY);
	ck_assert(!gslb_registry_refresh(reg, T0 + 2 * STALE));
	ck_assert(gslb_registry_refresh(reg, T0 + 2 * STALE + 1));
	ck_assert_int_eq(b->status, GSLB_STATUS_STALE);

	gslb_registry_free(reg);
}
END_TEST

START_TEST(draining_between_override_and_validation)
{
	struct gslb_registry *reg = registry_new();
	struct test_cfg tc;
	struct gslb_backend *b = agent_backend(reg, &tc);

	gslb_registry_set_agent_claim(reg, b, true, T0);
	ck_assert(!gslb_registry_set_validation(reg, b, true, T0));
	ck_assert_int_eq(b->status, GSLB_STATUS_HEALTHY);

	ck_assert(gslb_registry_set_draining(reg, b, true, T0));
	ck_assert_int_eq(b->status, GSLB_STATUS_DRAINING);
	/* Draining beats validation either way. */
	ck_assert(!gslb_registry_set_validation(reg, b, false, T0));
	ck_assert_int_eq(b->status, GSLB_STATUS_DRAINING);
	/* And loses to an override either way. */
	ck_assert(gslb_registry_set_override(reg, b, GSLB_NO, T0));
	ck_assert_int_eq(b->status, GSLB_STATUS_UNHEALTHY);
	ck_assert(gslb_registry_set_override(reg, b, GSLB_YES, T0));
	ck_assert_int_eq(b->status, GSLB_STATUS_HEALTHY);
	ck_assert(gslb_registry_set_override(reg, b, GSLB_UNKNOWN, T0));
	ck_assert_int_eq(b->status, GSLB_STATUS_DRAINING);
	/* Draining also hides staleness. */
	ck_assert(!gslb_registry_refresh(reg, T0 + 5 * STALE));
	ck_assert_int_eq(b->status, GSLB_STATUS_DRAINING);

	ck_assert(gslb_registry_set_draining(reg, b, false, T0 + 5 * STALE));
	ck_assert_int_eq(b->status, GSLB_STATUS_UNHEALTHY); /* validation */

	gslb_registry_free(reg);
}
END_TEST

START_TEST(static_never_stale)
{
	struct gslb_registry *reg = registry_new();
	struct test_cfg tc;

	cfg_reset(&tc);
	cfg_add(&tc, 0, "eu", "app.example", "10.0.0.1", 80, 100);
	ck_assert_int_eq(gslb_registry_sync_static(reg, &tc.cfg, T0), 0);
	struct gslb_backend *b = find(reg, "app.example", "10.0.0.1", 80);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(b->source, GSLB_SOURCE_STATIC);
	ck_assert_int_eq(b->status, GSLB_STATUS_HEALTHY);

	const uint64_t gen = gslb_registry_generation(reg);
	ck_assert(!gslb_registry_refresh(reg, T0 + 1000 * STALE));
	ck_assert_int_eq(b->status, GSLB_STATUS_HEALTHY);
	ck_assert_uint_eq(gslb_registry_generation(reg), gen);

	/* Validation still applies to static backends. */
	ck_assert(gslb_registry_set_validation(reg, b, false, T0));
	ck_assert_int_eq(b->status, GSLB_STATUS_UNHEALTHY);

	gslb_registry_free(reg);
}
END_TEST

START_TEST(setters_report_changes)
{
	struct gslb_registry *reg = registry_new();
	struct test_cfg tc;

	cfg_reset(&tc);
	cfg_add(&tc, 0, "eu", "app.example", "10.0.0.1", 80, 100);
	ck_assert_int_eq(gslb_registry_sync_static(reg, &tc.cfg, T0), 0);
	struct gslb_backend *b = find(reg, "app.example", "10.0.0.1", 80);
	uint64_t gen = gslb_registry_generation(reg);

	/* Facts that leave the status alone: false, generation kept. */
	ck_assert(!gslb_registry_set_validation(reg, b, true, T0));
	ck_assert_int_eq(b->validation, GSLB_YES);
	ck_assert(!gslb_registry_set_override(reg, b, GSLB_YES, T0));
	ck_assert_int_eq(b->override, GSLB_YES);
	ck_assert(!gslb_registry_set_draining(reg, b, true, T0));
	ck_assert(b->draining);
	ck_assert(!gslb_registry_set_agent_claim(reg, b, false, T0));
	ck_assert_uint_eq(gslb_registry_generation(reg), gen);

	/* Each real change: true and a new generation. */
	ck_assert(gslb_registry_set_override(reg, b, GSLB_UNKNOWN, T0));
	ck_assert_int_eq(b->status, GSLB_STATUS_DRAINING);
	ck_assert_uint_gt(gslb_registry_generation(reg), gen);
	gen = gslb_registry_generation(reg);
	ck_assert(!gslb_registry_set_draining(reg, b, true, T0));
	ck_assert_uint_eq(gslb_registry_generation(reg), gen);
	ck_assert(gslb_registry_set_draining(reg, b, false, T0));
	ck_assert_int_eq(b->status, GSLB_STATUS_HEALTHY);
	ck_assert_uint_gt(gslb_registry_generation(reg), gen);
	gen = gslb_registry_generation(reg);
	ck_assert(gslb_registry_set_validation(reg, b, false, T0));
	ck_assert_uint_gt(gslb_registry_generation(reg), gen);
	gen = gslb_registry_generation(reg);
	ck_assert(!gslb_registry_set_validation(reg, b, false, T0));
	ck_assert_uint_eq(gslb_registry_generation(reg), gen);

	gslb_registry_free(reg);
}
END_TEST

START_TEST(sync_static_lifecycle)
{
	struct gslb_registry *reg = registry_new();
	struct test_cfg tc;

	ck_assert_uint_eq(gslb_registry_count(reg), 0);
	ck_assert_uint_eq(gslb_registry_generation(reg), 0);
	ck_assert_ptr_null(gslb_registry_at(reg, 0));

	/* Add: config order, region by region. */
	cfg_reset(&tc);
	cfg_add(&tc, 0, "eu", "app.example", "10.0.0.1", 80, 100);
	cfg_add(&tc, 0, "eu", "app.example", "10.0.0.2", 80, 50);
	cfg_add(&tc, 1, "us", "app.example", "10.1.0.1", 8080, 0);
	cfg_add(&tc, 1, "us", "api.example", "2001:db8::1", 443, 100);
	ck_assert_int_eq(gslb_registry_sync_static(reg, &tc.cfg, T0), 0);
	ck_assert_uint_eq(gslb_registry_count(reg), 4);
	assert_backend(gslb_registry_at(reg, 0), "app.example", "10.0.0.1", 80);
	assert_backend(gslb_registry_at(reg, 1), "app.example", "10.0.0.2", 80);
	assert_backend(gslb_registry_at(reg, 2), "app.example", "10.1.0.1",
		       8080);
	assert_backend(gslb_registry_at(reg, 3), "api.example", "2001:db8::1",
		       443);
	ck_assert_ptr_null(gslb_registry_at(reg, 4));
	for (size_t i = 0; i < 4; i++) {
		const struct gslb_backend *b = gslb_registry_at(reg, i);
		ck_assert_int_eq(b->source, GSLB_SOURCE_STATIC);
		ck_assert_int_eq(b->status, GSLB_STATUS_HEALTHY);
		ck_assert_int_eq(b->validation, GSLB_UNKNOWN);
		ck_assert_int_eq(b->override, GSLB_UNKNOWN);
		ck_assert(!b->draining);
	}
	ck_assert_str_eq(gslb_registry_at(reg, 1)->region, "eu");
	ck_assert_str_eq(gslb_registry_at(reg, 2)->region, "us");
	ck_assert_uint_eq(gslb_registry_at(reg, 1)->weight, 50);
	ck_assert_uint_eq(gslb_registry_at(reg, 2)->weight, 0);
	uint64_t gen = gslb_registry_generation(reg);
	ck_assert_uint_gt(gen, 0);

	/* The same config again changes nothing. */
	ck_assert_int_eq(gslb_registry_sync_static(reg, &tc.cfg, T0 + 1), 0);
	ck_assert_uint_eq(gslb_registry_count(reg), 4);
	ck_assert_uint_eq(gslb_registry_generation(reg), gen);

	/* Health facts survive a sync; weight follows the config. */
	struct gslb_backend *b0 = find(reg, "app.example", "10.0.0.1", 80);
	struct gslb_backend *b1 = find(reg, "app.example", "10.0.0.2", 80);
	ck_assert(gslb_registry_set_validation(reg, b0, false, T0));
	ck_assert(!gslb_registry_set_override(reg, b1, GSLB_YES, T0));
	gen = gslb_registry_generation(reg);
	tc.servers[0][1].weight = 75;
	ck_assert_int_eq(gslb_registry_sync_static(reg, &tc.cfg, T0 + 2), 0);
	ck_assert_uint_eq(gslb_registry_generation(reg), gen + 1);
	ck_assert_ptr_eq(find(reg, "app.example", "10.0.0.2", 80), b1);
	ck_assert_uint_eq(b1->weight, 75);
	ck_assert_int_eq(b1->override, GSLB_YES);
	ck_assert_ptr_eq(find(reg, "app.example", "10.0.0.1", 80), b0);
	ck_assert_int_eq(b0->validation, GSLB_NO);
	ck_assert_int_eq(b0->status, GSLB_STATUS_UNHEALTHY);

	/* A region rename is a change too. */
	gen = gslb_registry_generation(reg);
	tc.regions[1].name = (char *)"us-east";
	ck_assert_int_eq(gslb_registry_sync_static(reg, &tc.cfg, T0 + 3), 0);
	ck_assert_uint_eq(gslb_registry_generation(reg), gen + 2);
	ck_assert_str_eq(gslb_registry_at(reg, 2)->region, "us-east");
	ck_assert_str_eq(gslb_registry_at(reg, 3)->region, "us-east");
	ck_assert_str_eq(gslb_registry_at(reg, 0)->region, "eu");

	/* Remove the second server: the others keep their order. */
	gen = gslb_registry_generation(reg);
	tc.servers[0][1] = tc.servers[0][0];
	tc.regions[0].servers = &tc.servers[0][1];
	tc.regions[0].n_servers = 1;
	ck_assert_int_eq(gslb_registry_sync_static(reg, &tc.cfg, T0 + 4), 0);
	ck_assert_uint_eq(gslb_registry_count(reg), 3);
	ck_assert_uint_eq(gslb_registry_generation(reg), gen + 1);
	ck_assert_ptr_null(find(reg, "app.example", "10.0.0.2", 80));
	ck_assert_ptr_eq(gslb_registry_at(reg, 0), b0);
	assert_backend(gslb_registry_at(reg, 1), "app.example", "10.1.0.1",
		       8080);
	assert_backend(gslb_registry_at(reg, 2), "api.example", "2001:db8::1",
		       443);
	ck_assert_int_eq(b0->validation, GSLB_NO);

	/* Add one back: appended at the end, healthy, no old facts. */
	gen = gslb_registry_generation(reg);
	cfg_add(&tc, 2, "ap", "app.example", "10.0.0.2", 80, 10);
	ck_assert_int_eq(gslb_registry_sync_static(reg, &tc.cfg, T0 + 5), 0);
	ck_assert_uint_eq(gslb_registry_count(reg), 4);
	ck_assert_uint_eq(gslb_registry_generation(reg), gen + 1);
	struct gslb_backend *again = gslb_registry_at(reg, 3);
	assert_backend(again, "app.example", "10.0.0.2", 80);
	ck_assert_ptr_eq(find(reg, "app.example", "10.0.0.2", 80), again);
	ck_assert_int_eq(again->override, GSLB_UNKNOWN);
	ck_assert_str_eq(again->region, "ap");
	ck_assert_uint_eq(again->weight, 10);

	/* An empty config removes every static backend. */
	cfg_reset(&tc);
	ck_assert_int_eq(gslb_registry_sync_static(reg, &tc.cfg, T0 + 6), 0);
	ck_assert_uint_eq(gslb_registry_count(reg), 0);
	ck_assert_ptr_null(find(reg, "app.example", "10.0.0.1", 80));

	gslb_registry_free(reg);
}
END_TEST

START_TEST(sync_static_leaves_others_alone)
{
	struct gslb_registry *reg = registry_new();
	struct test_cfg tc;

	cfg_reset(&tc);
	cfg_add(&tc, 0, "eu", "app.example", "10.0.0.1", 80, 100);
	cfg_add(&tc, 0, "eu", "app.example", "10.0.0.2", 80, 100);
	cfg_add(&tc, 0, "eu", "app.example", "10.0.0.3", 80, 100);
	ck_assert_int_eq(gslb_registry_sync_static(reg, &tc.cfg, T0), 0);
	struct gslb_backend *agent = find(reg, "app.example", "10.0.0.2", 80);
	agent->source = GSLB_SOURCE_AGENT;
	gslb_registry_set_agent_claim(reg, agent, true, T0);

	/* Gone from the config, but not a static backend: it stays. */
	tc.regions[0].n_servers = 1;
	ck_assert_int_eq(gslb_registry_sync_static(reg, &tc.cfg, T0), 0);
	ck_assert_uint_eq(gslb_registry_count(reg), 2);
	ck_assert_ptr_eq(gslb_registry_at(reg, 1), agent);
	ck_assert_ptr_null(find(reg, "app.example", "10.0.0.3", 80));

	/* Listed again with another weight: the agent's entry is kept. */
	tc.regions[0].n_servers = 2;
	tc.servers[0][1].weight = 5;
	tc.regions[0].name = (char *)"eu-west";
	const uint64_t gen = gslb_registry_generation(reg);
	ck_assert_int_eq(gslb_registry_sync_static(reg, &tc.cfg, T0), 0);
	ck_assert_uint_eq(gslb_registry_count(reg), 2);
	ck_assert_ptr_eq(find(reg, "app.example", "10.0.0.2", 80), agent);
	ck_assert_int_eq(agent->source, GSLB_SOURCE_AGENT);
	ck_assert_uint_eq(agent->weight, 100);
	ck_assert_str_eq(agent->region, "eu");
	/* Only the static backend's region changed. */
	ck_assert_uint_eq(gslb_registry_generation(reg), gen + 1);
	ck_assert_str_eq(gslb_registry_at(reg, 0)->region, "eu-west");

	gslb_registry_free(reg);
}
END_TEST

/* API backends: added healthy, keys unique across sources, removal keeps
 * the order of the others, and a sync of the config never touches them. */
START_TEST(add_and_remove)
{
	struct gslb_registry *reg = registry_new();
	struct test_cfg tc;
	struct gslb_backend *b = NULL;
	struct gslb_ip ip;

	cfg_reset(&tc);
	cfg_add(&tc, 0, "eu", "app.example", "10.0.0.1", 80, 100);
	ck_assert_int_eq(gslb_registry_sync_static(reg, &tc.cfg, T0), 0);

	ck_assert_int_eq(gslb_ip_parse("10.0.0.1", &ip), 0);
	uint64_t gen = gslb_registry_generation(reg);
	ck_assert_int_eq(gslb_registry_add(reg, GSLB_SOURCE_API, "app.example",
					   &ip, 80, 7, NULL, T0, &b),
			 GSLB_EEXIST);
	ck_assert_ptr_null(b);
	ck_assert_int_eq(gslb_registry_add(reg, GSLB_SOURCE_STATIC,
					   "app.example", &ip, 81, 7, NULL, T0,
					   &b),
			 GSLB_EINVAL);
	ck_assert_uint_eq(gslb_registry_generation(reg), gen);

	ck_assert_int_eq(gslb_registry_add(reg, GSLB_SOURCE_API, "app.example",
					   &ip, 8080, 7, "eu", T0, &b),
			 0);
	assert_backend(b, "app.example", "10.0.0.1", 8080);
	ck_assert_int_eq(b->source, GSLB_SOURCE_API);
	ck_assert_uint_eq(b->weight, 7);
	ck_assert_str_eq(b->region, "eu");
	ck_assert_int_eq(b->status, GSLB_STATUS_HEALTHY);
	ck_assert_uint_gt(gslb_registry_generation(reg), gen);
	ck_assert_ptr_eq(find(reg, "app.example", "10.0.0.1", 8080), b);

	struct gslb_backend *c = NULL;
	ck_assert_int_eq(gslb_ip_parse("2001:db8::1", &ip), 0);
	ck_assert_int_eq(gslb_registry_add(reg, GSLB_SOURCE_API, "app.example",
					   &ip, 80, 1, NULL, T0, &c),
			 0);
	ck_assert_ptr_null(c->region);

	/* The config no longer lists the static one; the API ones stay. */
	tc.regions[0].n_servers = 0;
	ck_assert_int_eq(gslb_registry_sync_static(reg, &tc.cfg, T0), 0);
	ck_assert_uint_eq(gslb_registry_count(reg), 2);

	gen = gslb_registry_generation(reg);
	gslb_registry_remove(reg, b);
	ck_assert_uint_gt(gslb_registry_generation(reg), gen);
	ck_assert_uint_eq(gslb_registry_count(reg), 1);
	ck_assert_ptr_eq(gslb_registry_at(reg, 0), c);
	ck_assert_ptr_null(find(reg, "app.example", "10.0.0.1", 8080));
	ck_assert_ptr_eq(find(reg, "app.example", "2001:db8::1", 80), c);

	gslb_registry_free(reg);
}
END_TEST

/*
 * An agent's backend: fresh when added, stale after the agent's own limit
 * (not the registry's) unless a heartbeat touches it; a new weight is a
 * change for DNS only when it differs.
 */
START_TEST(agent_backend_own_stale_limit)
{
	struct gslb_registry *reg = registry_new();
	struct gslb_backend *b = NULL;
	struct gslb_ip ip;
	ck_assert_int_eq(gslb_ip_parse("10.0.0.9", &ip), 0);
	ck_assert_int_eq(gslb_registry_add(reg, GSLB_SOURCE_AGENT,
					   "app.example", &ip, 80, 5, "eu", T0,
					   &b),
			 0);
	ck_assert_int_eq(b->agent_last_seen, T0);
	b->stale_after = 10 * STALE;
	/* Unhealthy until the agent claims otherwise. */
	ck_assert_int_eq(b->status, GSLB_STATUS_UNHEALTHY);
	ck_assert(gslb_registry_set_agent_claim(reg, b, true, T0));
	ck_assert_int_eq(b->status, GSLB_STATUS_HEALTHY);

	/* Past the registry's limit, within the agent's. */
	ck_assert(!gslb_registry_refresh(reg, T0 + 2 * STALE));
	ck_assert_int_eq(b->status, GSLB_STATUS_HEALTHY);
	/* A heartbeat keeps it fresh past its first limit. */
	ck_assert(!gslb_registry_touch_agent(reg, b, T0 + 9 * STALE));
	ck_assert(!gslb_registry_refresh(reg, T0 + 15 * STALE));
	ck_assert_int_eq(b->status, GSLB_STATUS_HEALTHY);
	ck_assert(gslb_registry_refresh(reg, T0 + 20 * STALE));
	ck_assert_int_eq(b->status, GSLB_STATUS_STALE);
	/* The next heartbeat brings it back. */
	ck_assert(gslb_registry_touch_agent(reg, b, T0 + 21 * STALE));
	ck_assert_int_eq(b->status, GSLB_STATUS_HEALTHY);

	uint64_t gen = gslb_registry_generation(reg);
	gslb_registry_set_weight(reg, b, 5);
	ck_assert_uint_eq(gslb_registry_generation(reg), gen);
	gslb_registry_set_weight(reg, b, 0);
	ck_assert_uint_gt(gslb_registry_generation(reg), gen);
	ck_assert_uint_eq(b->weight, 0);
	gslb_registry_free(reg);
}
END_TEST

/* A key listed twice: the first listing wins, and syncs stay quiet. */
START_TEST(sync_static_duplicate_key)
{
	struct gslb_registry *reg = registry_new();
	struct test_cfg tc;

	cfg_reset(&tc);
	cfg_add(&tc, 0, "eu", "app.example", "10.0.0.1", 80, 100);
	cfg_add(&tc, 1, "us", "app.example", "10.0.0.1", 80, 7);
	ck_assert_int_eq(gslb_registry_sync_static(reg, &tc.cfg, T0), 0);
	ck_assert_uint_eq(gslb_registry_count(reg), 1);
	const struct gslb_backend *b = gslb_registry_at(reg, 0);
	ck_assert_str_eq(b->region, "eu");
	ck_assert_uint_eq(b->weight, 100);

	const uint64_t gen = gslb_registry_generation(reg);
	ck_assert_int_eq(gslb_registry_sync_static(reg, &tc.cfg, T0), 0);
	ck_assert_int_eq(gslb_registry_sync_static(reg, &tc.cfg, T0), 0);
	ck_assert_uint_eq(gslb_registry_generation(reg), gen);
	ck_assert_str_eq(b->region, "eu");
	ck_assert_uint_eq(b->weight, 100);

	gslb_registry_free(reg);
}
END_TEST

START_TEST(find_by_key)
{
	struct gslb_registry *reg = registry_new();
	struct test_cfg tc;

	cfg_reset(&tc);
	cfg_add(&tc, 0, "eu", "app.example", "10.0.0.1", 80, 100);
	cfg_add(&tc, 0, "eu", "app.example", "10.0.0.1", 8080, 100);
	cfg_add(&tc, 0, "eu", "api.example", "10.0.0.1", 80, 100);
	cfg_add(&tc, 1, "us", "app.example", "2001:db8::1", 80, 100);
	cfg_add(&tc, 1, "us", "app.example", "::ffff:10.0.0.9", 80, 100);
	ck_assert_int_eq(gslb_registry_sync_static(reg, &tc.cfg, T0), 0);
	ck_assert_uint_eq(gslb_registry_count(reg), 5);

	ck_assert_ptr_eq(find(reg, "app.example", "10.0.0.1", 80),
			 gslb_registry_at(reg, 0));
	ck_assert_ptr_eq(find(reg, "app.example", "10.0.0.1", 8080),
			 gslb_registry_at(reg, 1));
	ck_assert_ptr_eq(find(reg, "api.example", "10.0.0.1", 80),
			 gslb_registry_at(reg, 2));
	/* IPv6 in any spelling of the same address. */
	ck_assert_ptr_eq(find(reg, "app.example", "2001:0db8:0:0::0001", 80),
			 gslb_registry_at(reg, 3));
	ck_assert_int_eq(gslb_registry_at(reg, 3)->ip.family, AF_INET6);
	/* A mapped address is its IPv4 form. */
	ck_assert_ptr_eq(find(reg, "app.example", "10.0.0.9", 80),
			 gslb_registry_at(reg, 4));

	ck_assert_ptr_null(find(reg, "app.example", "10.0.0.1", 81));
	ck_assert_ptr_null(find(reg, "app.example", "10.0.0.2", 80));
	ck_assert_ptr_null(find(reg, "api.example", "10.0.0.1", 8080));
	ck_assert_ptr_null(find(reg, "other.example", "10.0.0.1", 80));
	ck_assert_ptr_null(find(reg, "app.example", "2001:db8::2", 80));
	ck_assert_ptr_null(find(reg, "app.example", "2001:db8::1", 443));
	/* The service name compares exactly (names are normalized). */
	ck_assert_ptr_null(find(reg, "APP.example", "10.0.0.1", 80));
	ck_assert_ptr_null(find(reg, "app.example.", "10.0.0.1", 80));
	/* 10.0.0.1 and ::a00:1 share address bytes, not the family. */
	ck_assert_ptr_null(find(reg, "app.example", "::a00:1", 80));

	struct gslb_ip ip;
	ck_assert_int_eq(gslb_ip_parse("10.0.0.1", &ip), 0);
	ck_assert_ptr_null(gslb_registry_find(reg, NULL, &ip, 80));

	gslb_registry_free(reg);
}
END_TEST

/* Enough backends to grow the index and delete through long probe runs. */
START_TEST(find_many)
{
	enum { N = 2000 };
	struct gslb_registry *reg = registry_new();
	struct gslb_config cfg = { 0 };
	struct gslb_region region = { .name = (char *)"eu" };
	struct gslb_server *servers = calloc(N, sizeof(*servers));
	char(*services)[32] = calloc(N, sizeof(*services));

	ck_assert_ptr_nonnull(servers);
	ck_assert_ptr_nonnull(services);
	for (unsigned i = 0; i < N; i++) {
		char addr[32];
		snprintf(services[i], sizeof(services[i]), "s%u.example",
			 i % 10);
		snprintf(addr, sizeof(addr), "10.%u.%u.%u", i % 3, i / 256,
			 i % 256);
		ck_assert_int_eq(gslb_ip_parse(addr, &servers[i].ip), 0);
		servers[i].port = (uint16_t)(80 + i % 5);
		servers[i].weight = i;
		servers[i].service = services[i];
	}
	region.servers = servers;
	region.n_servers = N;
	cfg.regions = &region;
	cfg.n_regions = 1;

	ck_assert_int_eq(gslb_registry_sync_static(reg, &cfg, T0), 0);
	ck_assert_uint_eq(gslb_registry_count(reg), N);
	for (unsigned i = 0; i < N; i++) {
		struct gslb_backend *b = gslb_registry_find(
			reg, services[i], &servers[i].ip, servers[i].port);
		ck_assert_ptr_eq(b, gslb_registry_at(reg, i));
		ck_assert_uint_eq(b->weight, i);
	}

	/* Keep every third server; the rest must vanish from the index. */
	size_t kept = 0;
	for (unsigned i = 0; i < N; i += 3) {
		servers[kept] = servers[i];
		servers[kept].weight = i; /* unchanged */
		kept++;
	}
	region.n_servers = kept;
	ck_assert_int_eq(gslb_registry_sync_static(reg, &cfg, T0), 0);
	ck_assert_uint_eq(gslb_registry_count(reg), kept);
	for (size_t j = 0; j < kept; j++) {
		const unsigned i = (unsigned)j * 3;
		struct gslb_backend *b = gslb_registry_find(
			reg, services[i], &servers[j].ip, servers[j].port);
		ck_assert_ptr_eq(b, gslb_registry_at(reg, j));
		ck_assert_uint_eq(b->weight, i);
	}
	/* Removed ones: rebuild their keys from the same formula. */
	for (unsigned i = 0; i < N; i++) {
		char addr[32];
		struct gslb_ip ip;
		if (i % 3 == 0) {
			continue;
		}
		snprintf(addr, sizeof(addr), "10.%u.%u.%u", i % 3, i / 256,
			 i % 256);
		ck_assert_int_eq(gslb_ip_parse(addr, &ip), 0);
		ck_assert_ptr_null(gslb_registry_find(reg, services[i], &ip,
						      (uint16_t)(80 + i % 5)));
	}

	free(services);
	free(servers);
	gslb_registry_free(reg);
}
END_TEST

START_TEST(new_and_free)
{
	struct gslb_registry *reg = (struct gslb_registry *)&reg;

	ck_assert_int_eq(gslb_registry_new(-1, &reg), GSLB_EINVAL);
	ck_assert_ptr_null(reg);
	gslb_registry_free(NULL);
}
END_TEST

static Suite *registry_suite(void)
{
	Suite *s = suite_create("registry");
	TCase *tc;

	tc = tcase_create("status");
	tcase_add_test(tc, status_names);
	tcase_add_test(tc, status_function_order);
	tcase_add_test(tc, hierarchy_tested_sequence);
	tcase_add_test(tc, stale_without_validation);
	tcase_add_test(tc, agent_claim_refreshes);
	tcase_add_test(tc, refresh_reports_any_change);
	tcase_add_test(tc, draining_between_override_and_validation);
	tcase_add_test(tc, static_never_stale);
	tcase_add_test(tc, setters_report_changes);
	suite_add_tcase(s, tc);

	tc = tcase_create("sync");
	tcase_add_test(tc, sync_static_lifecycle);
	tcase_add_test(tc, sync_static_leaves_others_alone);
	tcase_add_test(tc, add_and_remove);
	tcase_add_test(tc, agent_backend_own_stale_limit);
	tcase_add_test(tc, sync_static_duplicate_key);
	suite_add_tcase(s, tc);

	tc = tcase_create("find");
	tcase_add_test(tc, find_by_key);
	tcase_add_test(tc, find_many);
	tcase_add_test(tc, new_and_free);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(registry_suite());

	srunner_run_all(sr, CK_NORMAL);
	const int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
