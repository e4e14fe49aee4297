/* SPDX-License-Identifier: GPL-3.0-or-later */
/* IP addresses, host:port pairs and CIDR prefixes as the config writes them. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define GSLB_IP_STRLEN INET6_ADDRSTRLEN

struct gslb_ip {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order; 4 bytes used for AF_INET */
};

struct gslb_cidr {
	struct gslb_ip ip; /* host bits cleared */
	uint8_t prefix;
};

struct gslb_sockaddr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* An IPv4 or IPv6 literal; IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes IPv4. */
int gslb_ip_parse(const char *text, struct gslb_ip *ip);
/* Canonical text (RFC 5952 for IPv6) into buf; returns buf. */
const char *gslb_ip_format(const struct gslb_ip *ip, char buf[GSLB_IP_STRLEN]);
bool gslb_ip_equal(const struct gslb_ip *a, const struct gslb_ip *b);
/* Length in bytes of the address (4 or 16). */
static inline unsigned gslb_ip_len(const struct gslb_ip *ip)
{
	return ip->family == AF_INET ? 4 : 16;
}

/*
 * "host:port", "[v6]:port" or ":port". *host is malloc'ed (caller frees),
 * empty for ":port". Port must be 1..65535.
 */
int gslb_hostport_split(const char *text, char **host, uint16_t *port);

/* A listen address: IP literal and port; an empty host is invalid here. */
int gslb_sockaddr_from_ip(const struct gslb_ip *ip, uint16_t port,
			  struct gslb_sockaddr *sa);

#define GSLB_SOCKADDR_STRLEN (GSLB_IP_STRLEN + 8)
/* "192.0.2.1:53" or "[2001:db8::1]:53" into buf; returns buf. */
const char *gslb_sockaddr_format(const struct gslb_sockaddr *sa,
				 char buf[GSLB_SOCKADDR_STRLEN]);

/* "a.b.c.d/n", "v6/n", or a bare address meaning /32 or /128. */
int gslb_cidr_parse(const char *text, struct gslb_cidr *cidr);
bool gslb_cidr_contains(const struct gslb_cidr *cidr, const struct gslb_ip *ip);
