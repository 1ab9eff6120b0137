// SPDX-License-Identifier: GPL-2.0
/*
 * UDP load for `make bench` (tests/bench/bench.sh), in C so that the
 * sender's own cost under TCG stays small next to the kernel's.
 *
 *   flowgen send HOST PORT SECONDS [new|one] [CURSOR]
 *       new (default): a new flow per datagram: socket(), bind() to the next
 *           source port, sendto(), close().  The flows go through the
 *           source ports 1024-65535 and the destination ports PORT to
 *           PORT+3 (258,048 tuples) from CURSOR on, so that a tuple comes
 *           back only after all the others: each datagram is a new
 *           conntrack entry as long as entries expire sooner than that.
 *           The 16 tuples with a source port PORT to PORT+3 are skipped:
 *           a sink in the sender's own namespace may hold those ports.
 *       one: one socket, one source port, sendto() in a loop.
 *       Ends after SECONDS and prints
 *       "sent N failed M seconds S next CURSOR [errno NAME COUNT]...".
 *   flowgen sink PORT
 *       binds UDP sockets on PORT to PORT+3 and sleeps without reading, so
 *       that datagrams are counted by the namespace's UDP counters
 *       (InDatagrams, then RcvbufErrors) and no ICMP port-unreachable is
 *       sent back.
 *
 * It measures nothing itself: bench.sh reads the receiver's counters.
 * insns.sh builds it static, at fixed addresses, and has QEMU's tbcount
 * plugin (tbcount.c) count the guest's instructions between the two calls
 * of window_mark() around the send loop.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SPORT_MIN 1024
#define SPORT_SPAN (65536 - SPORT_MIN)
#define DPORTS 4
#define TUPLES (SPORT_SPAN * DPORTS)

/* Empty, out of line, and called only around the send loop: executing it
 * is the signal for tbcount.c to write its counts and start again. */
__attribute__((noinline, used)) void window_mark(void)
{
	__asm__ volatile("" ::: "memory");
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long errs[256];

static void count_err(int e)
{
	errs[e > 0 && e < 256 ? e : 0]++;
}

static int do_send(const char *host, int port, double secs, int one, long cur)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in src = { .sin_family = AF_INET };
	char payload[32] = "xfrm-nat bench flow";
	long sent = 0, failed = 0, i;
	double t0, t1, end;
	int s = -1;

	if (inet_pton(AF_INET, host, &dst.sin_addr) != 1) {
		fprintf(stderr, "flowgen: bad IPv4 address %s\n", host);
		return 2;
	}
	if (cur < 0 || cur >= TUPLES)
		cur = 0;
	if (one) {
		s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		src.sin_port = htons(SPORT_MIN + cur % SPORT_SPAN);
		if (s < 0 || bind(s, (struct sockaddr *)&src, sizeof(src))) {
			perror("flowgen: socket/bind");
			return 2;
		}
	}
	window_mark();
	t0 = now();
	end = t0 + secs;
	for (i = 0;; i++) {
		if ((i & 63) == 0 && now() >= end)
			break;
		if (!one) {
			s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			if (s < 0) {
				count_err(errno);
				failed++;
				continue;
			}
			while (SPORT_MIN + cur % SPORT_SPAN >= port &&
			       SPORT_MIN + cur % SPORT_SPAN < port + DPORTS)
				cur = cur + 1 == TUPLES ? 0 : cur + 1;
			src.sin_port = htons(SPORT_MIN + cur % SPORT_SPAN);
			dst.sin_port = htons(port + cur / SPORT_SPAN);
			cur = cur + 1 == TUPLES ? 0 : cur + 1;
			if (bind(s, (struct sockaddr *)&src, sizeof(src))) {
				count_err(errno);
				failed++;
				close(s);
				continue;
			}
		}
		if (sendto(s, payload, sizeof(payload), 0, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
			count_err(errno);
			failed++;
		} else {
			sent++;
		}
		if (!one)
			close(s);
	}
	t1 = now();
	window_mark();
	printf("sent %ld failed %ld seconds %.3f next %ld", sent, failed, t1 - t0, cur);
	for (i = 0; i < 256; i++)
		if (errs[i])
			printf(" errno %s %ld", i && strerrorname_np(i) ? strerrorname_np(i) : "other", errs[i]);
	printf("\n");
	return 0;
}

static int do_sink(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int i, s;

	for (i = 0; i < DPORTS; i++) {
		a.sin_port = htons(port + i);
		s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a))) {
			perror("flowgen: sink");
			return 2;
		}
	}
	printf("sink %d\n", port);
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "send"))
		return do_send(argv[2], atoi(argv[3]), atof(argv[4]),
			       argc > 5 && !strcmp(argv[5], "one"),
			       argc > 6 ? atol(argv[6]) : 0);
	if (argc == 3 && !strcmp(argv[1], "sink"))
		return do_sink(atoi(argv[2]));
	fprintf(stderr, "usage: flowgen send HOST PORT SECONDS [new|one] [CURSOR] | flowgen sink PORT\n");
	return 2;
}
