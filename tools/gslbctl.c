/* SPDX-License-Identifier: GPL-3.0-or-later */
/* gslbctl: the command line, the help texts, and the transport's defaults. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gslbctl.h"

#ifndef GSLB_RUNDIR
#define GSLB_RUNDIR "/run/opengslb"
#endif
#define DEFAULT_SOCKET  GSLB_RUNDIR "/overwatch.sock"
#define DEFAULT_TIMEOUT 10
/* A synopsis' second line, under the first's arguments. */
#define SYNOPSIS_INDENT "               "

struct ctl_optdef {
	const char *name; /* long name, without "--" */
	const char *arg;  /* its value's name; NULL for a flag */
	const char *help;
};

struct ctl_cmd {
	const char *name;     /* "override set" */
	const char *synopsis; /* after "gslbctl " */
	const char *summary;  /* one line for the overview */
	const char *text;     /* what it does, for its --help */
	const char *subs;     /* a group's sub-commands, for messages */
	struct ctl_optdef opts[CTL_MAX_OPTS];
	int min_args;
	int max_args;
	const char *arg_names[CTL_MAX_ARGS]; /* for "missing ..." */
	bool daemon;                         /* talks to the overwatch */
	int (*run)(struct ctl *ctl);
};

static const struct ctl_cmd commands[] = {
	{
		.name = "status",
		.synopsis = "status",
		.summary = "readiness, version, uptime and backend counts",
		.text = "Shows whether the overwatch is ready, its version, "
			"node and uptime,\nits backends by status, active "
			"overrides, services, validation\nand the state "
			"database. --json prints one object with the "
			"answers of\n/api/v1/ready, /api/v1/version and "
			"/api/v1/overwatch/stats.",
		.daemon = true,
		.run = cmd_status,
	},
	{
		.name = "backends",
		.synopsis = "backends [--service NAME] [--status STATUS] "
			    "[--region NAME]",
		.summary = "every backend, its status and who decides it",
		.text = "Lists the backends of the overwatch's registry. "
			"AUTHORITY says what\ndecides a backend's status: "
			"an override, the overwatch's own check\n"
			"(\"overwatch\", or \"overwatch (veto)\" when it "
			"overrules the agent), a\nstale agent, the agent, or "
			"the default of a static server.",
		.opts = {
			{ "service", "NAME", "only the backends of this "
					     "service (domain name)" },
			{ "status", "STATUS", "only those with this status: "
					      "healthy, unhealthy, stale\n"
					      "or draining" },
			{ "region", "NAME", "only those of this region" },
		},
		.daemon = true,
		.run = cmd_backends,
	},
	{
		.name = "override",
		.synopsis = "override set|clear|list ...",
		.subs = "set, clear or list",
		.summary = "force a backend healthy or unhealthy",
		.text = "Manual overrides of backends' health; they take "
			"precedence over every\ncheck and survive restarts.",
	},
	{
		.name = "override set",
		.synopsis = "override set SERVICE ADDRESS (--healthy | "
			    "--unhealthy)\n" SYNOPSIS_INDENT
			    "--reason TEXT [--expires DURATION] [--source "
			    "NAME]",
		.summary = "set an override",
		.text = "Forces the backend ADDRESS of SERVICE healthy or "
			"unhealthy. ADDRESS is\nIP:PORT, [IPv6]:PORT, or an "
			"IP address alone for every port of it.\nAn override "
			"set again replaces the previous one.",
		.opts = {
			{ "healthy", NULL, "force it healthy" },
			{ "unhealthy", NULL, "force it unhealthy "
					     "(out of DNS answers)" },
			{ "reason", "TEXT", "why, for the audit log and "
					    "other operators (required)" },
			{ "expires", "DURATION", "remove it after DURATION "
						 "(\"30m\", \"2h\", \"1h30m\","
						 "\nor seconds); default: "
						 "never" },
			{ "source", "NAME", "the tool that set it (default "
					    "\"gslbctl\")" },
		},
		.min_args = 2,
		.max_args = 2,
		.arg_names = { "SERVICE", "ADDRESS" },
		.daemon = true,
		.run = cmd_override_set,
	},
	{
		.name = "override clear",
		.synopsis = "override clear SERVICE ADDRESS",
		.summary = "remove an override",
		.text = "Removes the override of ADDRESS in SERVICE (as "
			"given to 'override set'):\nthe checks decide its "
			"health again. Exit status 1 if there is none.",
		.min_args = 2,
		.max_args = 2,
		.arg_names = { "SERVICE", "ADDRESS" },
		.daemon = true,
		.run = cmd_override_clear,
	},
	{
		.name = "override list",
		.synopsis = "override list",
		.summary = "list the active overrides",
		.text = "Lists the active overrides: who set them, why, and "
			"when they expire.",
		.daemon = true,
		.run = cmd_override_list,
	},
	{
		.name = "audit",
		.synopsis = "audit [--limit N] [--offset N] [--action ACTION]",
		.summary = "the log of changes, newest first",
		.text = "Lists the audit log, newest first: overrides set, "
			"cleared or expired,\nservers added or removed, with "
			"the token (ACTOR) and the address\n(CLIENT) that "
			"made each change.",
		.opts = {
			{ "limit", "N", "at most N entries (default 20)" },
			{ "offset", "N", "skip the N newest entries" },
			{ "action", "ACTION", "only this action: "
					      "override.set, override.clear,\n"
					      "override.expire, server.add "
					      "or server.remove" },
		},
		.daemon = true,
		.run = cmd_audit,
	},
	{
		.name = "servers",
		.synopsis = "servers list|add|remove ...",
		.subs = "list, add or remove",
		.summary = "backends added and removed at run time",
		.text = "Backends added through the API, kept across "
			"restarts, next to those of\nthe configuration file.",
	},
	{
		.name = "servers list",
		.synopsis = "servers list",
		.summary = "list every server",
		.text = "Lists every server, from the configuration file "
			"(SOURCE static) and\nadded at run time (api), with "
			"the ID that 'servers remove' takes.",
		.daemon = true,
		.run = cmd_servers_list,
	},
	{
		.name = "servers add",
		.synopsis = "servers add --service NAME --address IP --port "
			    "PORT\n" SYNOPSIS_INDENT
			    "[--region NAME] [--weight N]",
		.summary = "add a server",
		.text = "Adds a backend to a configured service and prints "
			"its ID.",
		.opts = {
			{ "service", "NAME", "the service (domain name) it "
					     "serves (required)" },
			{ "address", "IP", "its IPv4 or IPv6 address "
					   "(required)" },
			{ "port", "PORT", "its port, 1-65535 (required)" },
			{ "region", "NAME", "its region (a configured one)" },
			{ "weight", "N", "its weight for weighted routing "
					 "(default 100)" },
		},
		.daemon = true,
		.run = cmd_servers_add,
	},
	{
		.name = "servers remove",
		.synopsis = "servers remove ID\n"
			    "   or: gslbctl servers remove SERVICE ADDRESS "
			    "PORT",
		.summary = "remove a server added at run time",
		.text = "Removes a server added at run time. ID is as "
			"'servers list' shows it\n(SERVICE:ADDRESS:PORT, an "
			"IPv6 address in brackets). Servers of the\n"
			"configuration file are removed by editing it.",
		.min_args = 1,
		.max_args = 3,
		.arg_names = { "ID" },
		.daemon = true,
		.run = cmd_servers_remove,
	},
	{
		.name = "config",
		.synopsis = "config check FILE [--agent]",
		.subs = "check",
		.summary = "check a configuration file",
		.text = "Configuration files.",
	},
	{
		.name = "config check",
		.synopsis = "config check FILE [--agent]",
		.summary = "check a configuration file (no daemon needed)",
		.text = "Checks FILE with the daemons' own loader, includes "
			"and all, as\ngslb-overwatchd --check-config does. "
			"Every error is printed on stderr\nas "
			"FILE:LINE:COLUMN: KEY: REASON; exit status 1 if "
			"there is any.\n--json prints {\"valid\": BOOL, "
			"\"errors\": [...]} instead.",
		.opts = {
			{ "agent", NULL, "check it as a gslb-agentd "
					 "configuration" },
		},
		.min_args = 1,
		.max_args = 1,
		.arg_names = { "FILE" },
		.run = cmd_config_check,
	},
	{
		.name = "dnssec",
		.synopsis = "dnssec ds|status|sync ...",
		.subs = "ds, status or sync",
		.summary = "DS records, zone keys and key sync",
		.text = "The zones' DNSSEC keys: the DS records to publish at "
			"the parent zone,\nthe keys and their signatures, and "
			"key sync with the other overwatches.",
	},
	{
		.name = "dnssec ds",
		.synopsis = "dnssec ds [--zone ZONE]",
		.summary = "the DS records to publish at the parent zone",
		.text = "Prints the DS record of every zone (or of ZONE) as "
			"zone-file lines, one\nper zone, to give to the "
			"parent zone's operator. --json prints the\nwhole "
			"answer (digest, DNSKEY record, creation time). Exit "
			"status 1 if\nDNSSEC is disabled or ZONE is not one "
			"of the overwatch's zones.",
		.opts = {
			{ "zone", "ZONE", "only this zone (a trailing dot is "
					  "fine)" },
		},
		.daemon = true,
		.run = cmd_dnssec_ds,
	},
	{
		.name = "dnssec status",
		.synopsis = "dnssec status",
		.summary = "zone keys, signatures and key sync peers",
		.text = "Shows every zone's key (tag, algorithm, when and on "
			"which overwatch it\nwas made), how many signatures "
			"its signer holds, and the key sync\npeers with "
			"their last answers.",
		.daemon = true,
		.run = cmd_dnssec_status,
	},
	{
		.name = "dnssec sync",
		.synopsis = "dnssec sync",
		.summary = "ask the key sync peers now",
		.text = "Starts a key sync round at once instead of at the "
			"next poll_interval.\nExit status 1 if DNSSEC is "
			"disabled or key sync is not configured.",
		.daemon = true,
		.run = cmd_dnssec_sync,
	},
	{
		.name = "agents",
		.synopsis = "agents list|show|revoke ...",
		.subs = "list, show or revoke",
		.summary = "agents, their pinned certificates and status",
		.text = "The agents the overwatch knows: each is pinned to the "
			"certificate it\nfirst registered with, and its "
			"backends are accepted from that\ncertificate only.",
	},
	{
		.name = "agents list",
		.synopsis = "agents list",
		.summary = "list the agents",
		.text = "Lists every pinned agent: its region, status "
			"(connected, stale or\noffline), backends (healthy/"
			"total), when it was last seen, the start\nof its "
			"certificate's fingerprint, and why it drains if it "
			"does.",
		.daemon = true,
		.run = cmd_agents_list,
	},
	{
		.name = "agents show",
		.synopsis = "agents show ID",
		.summary = "everything about one agent",
		.text = "Shows an agent: status, address, region, services, "
			"backends, draining,\nstate version, last heartbeat, "
			"when it was first and last seen, and its\n"
			"certificate's full fingerprint and expiry. Exit "
			"status 1 if there is no\nagent ID.",
		.min_args = 1,
		.max_args = 1,
		.arg_names = { "ID" },
		.daemon = true,
		.run = cmd_agents_show,
	},
	{
		.name = "agents revoke",
		.synopsis = "agents revoke ID",
		.summary = "remove an agent's pin and its backends",
		.text = "Deletes the agent's pinned certificate and removes "
			"its backends from the\nregistry. The agent is pinned "
			"again, with whatever certificate it then\nshows, at "
			"its next registration unless its service token is "
			"changed\nfirst. Exit status 1 if there is no agent "
			"ID.",
		.min_args = 1,
		.max_args = 1,
		.arg_names = { "ID" },
		.daemon = true,
		.run = cmd_agents_revoke,
	},
	{
		.name = "version",
		.synopsis = "version",
		.summary = "versions of gslbctl and of the overwatch",
		.text = "Prints gslbctl's version, then the overwatch's "
			"(exit status 3 if it\ncannot be reached).",
		.daemon = true,
		.run = cmd_version,
	},
	{
		.name = "help",
		.synopsis = "help [COMMAND [SUB-COMMAND]]",
		.summary = "help on a command",
		.text = "Prints the help of a command, or the overview.",
		.max_args = 2,
	},
};

/* The global options, accepted before or after the command. */
enum {
	G_SOCKET = 0,
	G_API,
	G_TOKEN,
	G_JSON,
	G_TIMEOUT,
	G_COUNT,
};

static const struct ctl_optdef global_opts[G_COUNT] = {
	[G_SOCKET] = { "socket", "PATH", NULL },
	[G_API] = { "api", "URL", NULL },
	[G_TOKEN] = { "token", "TOKEN", NULL },
	[G_JSON] = { "json", NULL, NULL },
	[G_TIMEOUT] = { "timeout", "SEC", NULL },
};

#define VAL_GLOBAL  0x200
#define VAL_COMMAND 0x100

/* What the command line set, before the environment fills the rest. */
struct globals {
	const char *socket;
	const char *api;
	const char *token;
	const char *timeout;
	bool json;
};

void ctl_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("gslbctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void try_help(const char *command)
{
	if (command != NULL) {
		fprintf(stderr, "Try 'gslbctl %s --help'.\n", command);
	} else {
		fputs("Try 'gslbctl --help'.\n", stderr);
	}
}

int ctl_usage(const struct ctl *ctl, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("gslbctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	try_help(ctl->command);
	return CTL_USAGE;
}

static const struct ctl_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(commands); i++) {
		if (strcmp(commands[i].name, name) == 0) {
			return &commands[i];
		}
	}
	return NULL;
}

static const struct ctl_cmd *current;

const char *ctl_opt(const struct ctl *ctl, const char *name)
{
	for (size_t i = 0; i < CTL_MAX_OPTS && current->opts[i].name; i++) {
		if (strcmp(current->opts[i].name, name) == 0) {
			return ctl->opt[i];
		}
	}
	abort(); /* a command asking for an option it does not have */
}

/* ------------------------------------------------------------------------ */
/* Help                                                                     */

#define HELP_COL 24

/* "  LABEL" then the help, continuation lines aligned. */
static void print_label(const char *label, const char *help)
{
	int n = printf("  %s", label);
	if (n >= HELP_COL - 1) {
		printf("\n%*s", HELP_COL, "");
	} else {
		printf("%*s", HELP_COL - n, "");
	}
	for (const char *p = help; *p; p++) {
		putchar(*p);
		if (*p == '\n') {
			printf("%*s", HELP_COL, "");
		}
	}
	putchar('\n');
}

static void print_option(const char *name, const char *arg, const char *help)
{
	char label[64];
	snprintf(label, sizeof(label), "--%s%s%s", name, arg ? " " : "",
		 arg ? arg : "");
	print_label(label, help);
}

static void print_global_options(bool daemon)
{
	printf("Global options (before or after the command):\n");
	if (!daemon) {
		print_option("json", NULL,
			     "print JSON instead of text, for scripts");
		print_label("-h, --help", "print help and exit");
		return;
	}
	print_option("socket", "PATH",
		     "the overwatch's UNIX socket (default "
		     "$OPENGSLB_SOCKET,\nelse " DEFAULT_SOCKET ")");
	print_option("api", "URL",
		     "its API over TCP instead, e.g. "
		     "http://127.0.0.1:8080\n(default $OPENGSLB_API)");
	print_option("token", "TOKEN",
		     "API token for changes over TCP (default\n"
		     "$OPENGSLB_TOKEN, which keeps it out of ps)");
	print_option("json", NULL, "print JSON instead of text, for scripts");
	print_option("timeout", "SEC",
		     "give up after SEC seconds (default 10)");
	print_label("-h, --help", "print help and exit");
}

static void print_overview(void)
{
	printf("Usage: gslbctl [OPTIONS] COMMAND [ARGS]\n"
	       "\n"
	       "Operates an OpenGSLB overwatch (gslb-overwatchd) through "
	       "its REST API.\n"
	       "\n"
	       "Commands:\n");
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(commands); i++) {
		const struct ctl_cmd *c = &commands[i];
		if (strcmp(c->name, "override") == 0 ||
		    strcmp(c->name, "servers") == 0 ||
		    strcmp(c->name, "config") == 0 ||
		    strcmp(c->name, "dnssec") == 0 ||
		    strcmp(c->name, "agents") == 0) {
			continue; /* their sub-commands are listed */
		}
		const char *arg = strcmp(c->name, "config check") == 0 ? " FILE"
				  : strcmp(c->name, "help") == 0 ? " [COMMAND]"
								 : "";
		char label[64];
		snprintf(label, sizeof(label), "%s%s", c->name, arg);
		printf("  %-*s%s\n", HELP_COL - 2, label, c->summary);
	}
	printf("\n");
	print_global_options(true);
	print_label("-V, --version", "print gslbctl's version and exit");
	printf("\n"
	       "Exit status: 0 success, 1 the overwatch refused (or the "
	       "file is invalid),\n"
	       "2 usage error, 3 the overwatch cannot be reached.\n"
	       "\n"
	       "Run 'gslbctl COMMAND --help' for a command's options.\n");
}

static void print_help(const struct ctl_cmd *c)
{
	if (c->run == NULL && strcmp(c->name, "help") != 0) {
		/* A group: its sub-commands. */
		printf("Usage: gslbctl %s\n\n%s\n\nSub-commands:\n",
		       c->synopsis, c->text);
		size_t len = strlen(c->name);
		for (size_t i = 0; i < GSLB_ARRAY_SIZE(commands); i++) {
			const struct ctl_cmd *s = &commands[i];
			if (strncmp(s->name, c->name, len) == 0 &&
			    s->name[len] == ' ') {
				printf("  %-*s%s\n", HELP_COL - 2,
				       s->name + len + 1, s->summary);
			}
		}
		printf("\nRun 'gslbctl %s SUB-COMMAND --help' for its "
		       "options.\n",
		       c->name);
		return;
	}
	printf("Usage: gslbctl %s\n\n%s\n\n", c->synopsis, c->text);
	if (c->opts[0].name != NULL) {
		printf("Options:\n");
		for (size_t i = 0; i < CTL_MAX_OPTS && c->opts[i].name; i++) {
			print_option(c->opts[i].name, c->opts[i].arg,
				     c->opts[i].help);
		}
		printf("\n");
	}
	print_global_options(c->daemon);
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                  */

static int global_option(struct globals *g, int which, const char *value)
{
	switch (which) {
	case G_SOCKET:
		g->socket = value;
		break;
	case G_API:
		g->api = value;
		break;
	case G_TOKEN:
		g->token = value;
		break;
	case G_JSON:
		g->json = true;
		break;
	case G_TIMEOUT:
		g->timeout = value;
		break;
	}
	return 0;
}

/* getopt's table: the command's options, the global ones, and --help. */
static void build_options(const struct ctl_cmd *c, struct option *out)
{
	size_t n = 0;
	for (size_t i = 0; c != NULL && i < CTL_MAX_OPTS && c->opts[i].name;
	     i++) {
		out[n++] = (struct option){ c->opts[i].name,
					    c->opts[i].arg ? required_argument
							   : no_argument,
					    NULL, VAL_COMMAND + (int)i };
	}
	for (int i = 0; i < G_COUNT; i++) {
		out[n++] =
			(struct option){ global_opts[i].name,
					 global_opts[i].arg ? required_argument
							    : no_argument,
					 NULL, VAL_GLOBAL + i };
	}
	out[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	if (c == NULL) {
		out[n++] = (struct option){ "version", no_argument, NULL, 'V' };
	}
	out[n] = (struct option){ NULL, 0, NULL, 0 };
}

/* The option getopt stopped at, for a message ("--foo", "-x"). */
static const char *bad_option(char **argv, char *buf, size_t len)
{
	if (optopt != 0 && optopt < VAL_COMMAND) {
		snprintf(buf, len, "-%c", optopt);
		return buf;
	}
	const char *arg = argv[optind - 1];
	size_t n = strcspn(arg, "=");
	snprintf(buf, len, "%.*s", (int)n, arg);
	return buf;
}

/*
 * Parses argv (argv[0] is the command's last word) for command c (NULL:
 * the global options before the command, stopping at the first word).
 * Returns -1 to go on, or the exit status.
 */
static int parse_options(const struct ctl_cmd *c, struct ctl *ctl,
			 struct globals *g, int argc, char **argv)
{
	struct option longopts[CTL_MAX_OPTS + G_COUNT + 3];
	build_options(c, longopts);
	const char *hint = c != NULL ? c->name : NULL;
	char errbuf[256] = "";
	bool help = false;
	bool version = false;
	int opt;

	optind = 0; /* glibc: start over, permuting again */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, c ? ":h" : "+:hV", longopts,
				  NULL)) != -1) {
		char name[64];
		if (opt == 'h') {
			help = true;
		} else if (opt == 'V') {
			version = true;
		} else if (opt >= VAL_GLOBAL) {
			global_option(g, opt - VAL_GLOBAL, optarg);
		} else if (opt >= VAL_COMMAND) {
			ctl->opt[opt - VAL_COMMAND] = optarg ? optarg : "";
		} else if (errbuf[0] != '\0') {
			continue; /* report the first problem only */
		} else if (opt == ':') {
			snprintf(errbuf, sizeof(errbuf),
				 "option '%s' needs a value",
				 bad_option(argv, name, sizeof(name)));
		} else {
			snprintf(errbuf, sizeof(errbuf),
				 "unknown option '%s'%s%s",
				 bad_option(argv, name, sizeof(name)),
				 c ? " for " : "", c ? c->name : "");
		}
	}
	if (help) {
		if (c != NULL) {
			print_help(c);
		} else {
			print_overview();
		}
		return CTL_OK;
	}
	if (errbuf[0] != '\0') {
		ctl_error("%s", errbuf);
		try_help(hint);
		return CTL_USAGE;
	}
	if (version) {
		printf("gslbctl %s\n", PACKAGE_VERSION);
		return CTL_OK;
	}
	return -1;
}

/* The command named by argv[0] (and argv[1] for a group); *used words. */
static const struct ctl_cmd *lookup(int argc, char **argv, int *used,
				    int *status)
{
	const struct ctl_cmd *c = find_command(argv[0]);
	*used = 1;
	if (c == NULL) {
		ctl_error("unknown command '%s'", argv[0]);
		try_help(NULL);
		*status = CTL_USAGE;
		return NULL;
	}
	if (c->run != NULL || strcmp(c->name, "help") == 0) {
		return c;
	}
	if (argc < 2) {
		ctl_error("'%s' needs a sub-command: %s", c->name, c->subs);
		try_help(c->name);
		*status = CTL_USAGE;
		return NULL;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		print_help(c);
		*status = CTL_OK;
		return NULL;
	}
	char name[128];
	snprintf(name, sizeof(name), "%s %s", c->name, argv[1]);
	const struct ctl_cmd *s = find_command(name);
	if (s == NULL || argv[1][0] == '\0') {
		ctl_error("unknown sub-command '%s' of '%s'", argv[1], c->name);
		try_help(c->name);
		*status = CTL_USAGE;
		return NULL;
	}
	*used = 2;
	return s;
}

static int help_command(struct ctl *ctl)
{
	if (ctl->n_args == 0) {
		print_overview();
		return CTL_OK;
	}
	char name[128];
	snprintf(name, sizeof(name), "%s%s%s", ctl->args[0],
		 ctl->n_args > 1 ? " " : "",
		 ctl->n_args > 1 ? ctl->args[1] : "");
	const struct ctl_cmd *c = find_command(name);
	if (c == NULL) {
		ctl_error("no command '%s'", name);
		try_help(NULL);
		return CTL_USAGE;
	}
	print_help(c);
	return CTL_OK;
}

/* Fills the transport from the command line, then the environment. */
static int resolve(struct ctl *ctl, const struct globals *g)
{
	const char *env;

	if (g->socket != NULL && g->api != NULL) {
		return ctl_usage(ctl, "--socket and --api cannot be used "
				      "together");
	}
	if (g->api != NULL) {
		ctl->api_url = g->api;
	} else if (g->socket != NULL) {
		ctl->socket_path = g->socket;
	} else if ((env = getenv("OPENGSLB_API")) != NULL && *env) {
		ctl->api_url = env;
	} else if ((env = getenv("OPENGSLB_SOCKET")) != NULL && *env) {
		ctl->socket_path = env;
	} else {
		ctl->socket_path = DEFAULT_SOCKET;
	}
	if (ctl->api_url != NULL && *ctl->api_url == '\0') {
		return ctl_usage(ctl, "--api needs a URL such as "
				      "http://127.0.0.1:8080");
	}
	if (ctl->socket_path != NULL && *ctl->socket_path == '\0') {
		return ctl_usage(ctl, "--socket needs a path");
	}

	ctl->token = g->token;
	if (ctl->token == NULL && (env = getenv("OPENGSLB_TOKEN")) != NULL &&
	    *env) {
		ctl->token = env;
	}
	if (ctl->token != NULL) {
		for (const char *p = ctl->token; *p; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				return ctl_usage(ctl, "the token holds a "
						      "control character");
			}
		}
	}

	ctl->json = g->json;
	ctl->timeout_ms = DEFAULT_TIMEOUT * 1000L;
	if (g->timeout != NULL) {
		char *end;
		double sec = strtod(g->timeout, &end);
		if (end == g->timeout || *end != '\0' || !(sec > 0) ||
		    sec > 86400) {
			return ctl_usage(ctl,
					 "--timeout takes a number of "
					 "seconds above 0, not '%s'",
					 g->timeout);
		}
		ctl->timeout_ms = (long)(sec * 1000);
		if (ctl->timeout_ms < 1) {
			ctl->timeout_ms = 1;
		}
	}
	return CTL_OK;
}

int main(int argc, char **argv)
{
	struct globals g = { 0 };
	struct ctl ctl = { 0 };
	int status = parse_options(NULL, &ctl, &g, argc, argv);
	if (status >= 0) {
		return status;
	}
	if (optind >= argc) {
		ctl_error("missing command");
		try_help(NULL);
		return CTL_USAGE;
	}

	int used;
	const struct ctl_cmd *c =
		lookup(argc - optind, argv + optind, &used, &status);
	if (c == NULL) {
		return status;
	}
	current = c;
	ctl.command = c->name;
	int first = optind + used - 1; /* argv[0] for getopt: the last word */
	status = parse_options(c, &ctl, &g, argc - first, argv + first);
	if (status >= 0) {
		return status;
	}
	ctl.args = argv + first + optind;
	ctl.n_args = argc - first - optind;
	if (ctl.n_args < c->min_args) {
		return ctl_usage(&ctl, "missing %s",
				 c->arg_names[ctl.n_args]
					 ? c->arg_names[ctl.n_args]
					 : "argument");
	}
	if (ctl.n_args > c->max_args) {
		return ctl_usage(&ctl, "unexpected argument '%s'",
				 ctl.args[c->max_args]);
	}
	status = resolve(&ctl, &g);
	if (status != CTL_OK) {
		return status;
	}
	if (c->run == NULL) {
		return help_command(&ctl);
	}
	if (!c->daemon) {
		return c->run(&ctl);
	}
	ctl_http_init();
	status = c->run(&ctl);
	ctl_http_cleanup();
	return status;
}
