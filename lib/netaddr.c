/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "netaddr.h"

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0,    0,
					     0, 0, 0, 0, 0xff, 0xff };

int gslb_ip_parse(const char *text, struct gslb_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (inet_pton(AF_INET, text, ip->addr) == 1) {
		ip->family = AF_INET;
		return GSLB_EOK;
	}
	if (inet_pton(AF_INET6, text, ip->addr) == 1) {
		ip->family = AF_INET6;
		if (memcmp(ip->addr, v4mapped_prefix, 12) == 0) {
			memmove(ip->addr, ip->addr + 12, 4);
			memset(ip->addr + 4, 0, 12);
			ip->family = AF_INET;
		}
		return GSLB_EOK;
	}
	return GSLB_EINVAL;
}

const char *gslb_ip_format(const struct gslb_ip *ip, char buf[GSLB_IP_STRLEN])
{
	if (inet_ntop(ip->family, ip->addr, buf, GSLB_IP_STRLEN) == NULL) {
		strcpy(buf, "?");
	}
	return buf;
}

bool gslb_ip_equal(const struct gslb_ip *a, const struct gslb_ip *b)
{
	return a->family == b->family &&
	       memcmp(a->addr, b->addr, gslb_ip_len(a)) == 0;
}

static int parse_port(const char *text, uint16_t *port)
{
	if (*text == '\0') {
		return GSLB_EINVAL;
	}
	char *end = NULL;
	unsigned long v = strtoul(text, &end, 10);
	if (*end != '\0' || v == 0 || v > 65535 || text[0] == '-' ||
	    text[0] == '+') {
		return GSLB_ERANGE;
	}
	*port = (uint16_t)v;
	return GSLB_EOK;
}

int gslb_hostport_split(const char *text, char **host, uint16_t *port)
{
	const char *colon;
	const char *hstart = text;
	size_t hlen;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL || close[1] != ':') {
			return GSLB_EINVAL;
		}
		hstart = text + 1;
		hlen = (size_t)(close - hstart);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL ||
		    memchr(text, ':', (size_t)(colon - text))) {
			/* none, or an IPv6 literal without brackets */
			return GSLB_EINVAL;
		}
		hlen = (size_t)(colon - text);
	}
	int ret = parse_port(colon + 1, port);
	if (ret != GSLB_EOK) {
		return ret;
	}
	*host = strndup(hstart, hlen);
	return *host == NULL ? GSLB_ENOMEM : GSLB_EOK;
}

int gslb_sockaddr_from_ip(const struct gslb_ip *ip, uint16_t port,
			  struct gslb_sockaddr *sa)
{
	memset(sa, 0, sizeof(*sa));
	if (ip->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&sa->ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, ip->addr, 4);
		sa->len = sizeof(*sin);
	} else if (ip->family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&sa->ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, ip->addr, 16);
		sa->len = sizeof(*sin6);
	} else {
		return GSLB_EINVAL;
	}
	return GSLB_EOK;
}

const char *gslb_sockaddr_format(const struct gslb_sockaddr *sa,
				 char buf[GSLB_SOCKADDR_STRLEN])
{
	char ip[GSLB_IP_STRLEN] = "?";
	unsigned port = 0;
	if (sa->ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&sa->ss;
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		port = ntohs(sin->sin_port);
		snprintf(buf, GSLB_SOCKADDR_STRLEN, "%s:%u", ip, port);
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)&sa->ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		port = ntohs(sin6->sin6_port);
		snprintf(buf, GSLB_SOCKADDR_STRLEN, "[%s]:%u", ip, port);
	}
	return buf;
}

int gslb_cidr_parse(const char *text, struct gslb_cidr *cidr)
{
	char buf[GSLB_IP_STRLEN + 8];
	if (strlen(text) >= sizeof(buf)) {
		return GSLB_EINVAL;
	}
	strcpy(buf, text);
	char *slash = strchr(buf, '/');
	long prefix = -1;
	if (slash != NULL) {
		*slash = '\0';
		char *end = NULL;
		if (slash[1] < '0' || slash[1] > '9') {
			return GSLB_EINVAL;
		}
		prefix = strtol(slash + 1, &end, 10);
		if (*end != '\0') {
			return GSLB_EINVAL;
		}
	}
	/* A mapped address in a CIDR would change the prefix meaning. */
	memset(cidr, 0, sizeof(*cidr));
	if (inet_pton(AF_INET, buf, cidr->ip.addr) == 1) {
		cidr->ip.family = AF_INET;
	} else if (inet_pton(AF_INET6, buf, cidr->ip.addr) == 1) {
		cidr->ip.family = AF_INET6;
	} else {
		return GSLB_EINVAL;
	}
	long max = cidr->ip.family == AF_INET ? 32 : 128;
	if (prefix < 0) {
		prefix = max;
	}
	if (prefix > max) {
		return GSLB_ERANGE;
	}
	cidr->prefix = (uint8_t)prefix;
	for (long bit = prefix; bit < max; bit++) {
		cidr->ip.addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
	}
	return GSLB_EOK;
}

bool gslb_cidr_contains(const struct gslb_cidr *cidr, const struct gslb_ip *ip)
{
	if (cidr->ip.family != ip->family) {
		return false;
	}
	unsigned full = cidr->prefix / 8;
	if (memcmp(cidr->ip.addr, ip->addr, full) != 0) {
		return false;
	}
	unsigned rest = cidr->prefix % 8;
	if (rest == 0) {
		return true;
	}
	uint8_t mask = (uint8_t)(0xff00u >> rest);
	return (cidr->ip.addr[full] & mask) == (ip->addr[full] & mask);
}
