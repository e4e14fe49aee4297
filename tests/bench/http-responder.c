/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * http-responder: the backends of tests/bench/health-bench.sh. One thread,
 * epoll, listening on 0.0.0.0:PORT so that every 127.x.y.z address is a
 * backend: each request gets "200 OK"; the connection stays open for the
 * next request (HTTP/1.1 keep-alive), or with "close" is closed after each
 * answer. Prints the number of requests answered, once a second, to stdout.
 *
 *   cc -O2 -o http-responder http-responder.c && ./http-responder 18080
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char reply_keep[] = "HTTP/1.1 200 OK\r\n"
				 "Content-Type: text/plain\r\n"
				 "Content-Length: 3\r\n"
				 "\r\n"
				 "ok\n";
static const char reply_close[] = "HTTP/1.1 200 OK\r\n"
				  "Content-Type: text/plain\r\n"
				  "Content-Length: 3\r\n"
				  "Connection: close\r\n"
				  "\r\n"
				  "ok\n";

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "close"))) {
		fprintf(stderr, "usage: %s PORT [close]\n", argv[0]);
		return 2;
	}
	const bool keep = argc == 2;
	const char *reply = keep ? reply_keep : reply_close;
	const size_t reply_len =
		keep ? sizeof(reply_keep) - 1 : sizeof(reply_close) - 1;
	signal(SIGPIPE, SIG_IGN);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)atoi(argv[1])) };
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(lfd, 4096) != 0) {
		perror("listen");
		return 1;
	}
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd };
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);

	unsigned long long answered = 0;
	time_t last = time(NULL);
	struct epoll_event evs[256];
	for (;;) {
		int n = epoll_wait(ep, evs, 256, 200);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				int c;
				while ((c = accept4(lfd, NULL, NULL,
						    SOCK_NONBLOCK)) >= 0) {
					struct epoll_event cev = {
						.events = EPOLLIN, .data.fd = c
					};
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
				}
				continue;
			}
			/* A health check's request fits one read. */
			char buf[4096];
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r > 0 && memmem(buf, (size_t)r, "\r\n\r\n", 4)) {
				if (write(fd, reply, reply_len) > 0) {
					answered++;
					if (keep) {
						continue;
					}
				}
			} else if (r < 0 && errno == EAGAIN) {
				continue;
			}
			close(fd);
		}
		time_t now = time(NULL);
		if (now != last) {
			printf("%ld %llu\n", (long)now, answered);
			fflush(stdout);
			last = now;
		}
	}
}
