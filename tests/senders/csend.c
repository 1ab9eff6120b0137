// SPDX-License-Identifier: GPL-2.0
/*
 * csend: one UDP request or one TCP connect from C, blocking or
 * non-blocking, reporting what the sender saw and what it cost.
 *
 *   csend udp|tcp HOST PORT MSG block|nonblock TIMEOUT
 *
 * block: a blocking socket (no O_NONBLOCK); UDP sendto() once, then
 * recv() with SO_RCVTIMEO; TCP connect() with SO_SNDTIMEO = TIMEOUT (a
 * blocking connect that gives up after TIMEOUT s, still blocking).
 *
 * nonblock: an O_NONBLOCK socket driven by poll(), the way an event loop
 * does it: a send (or the connect's completion) that fails with EAGAIN is
 * polled for POLLOUT and tried again, until TIMEOUT s have passed since
 * the start; UDP then polls POLLIN for the reply, TCP sends MSG and waits
 * for the echo.
 *
 * Prints "start T" (wall clock, as `date +%s.%N`) at once, "connected T"
 * when a TCP connect completed, and at the end one line:
 *
 *   result R elapsed S cpu C calls N
 *
 * R: "ok" (the reply came back), "timeout" (no reply or no connect within
 * TIMEOUT), or the errno name of the call that failed (EAGAIN, EPIPE...);
 * S: seconds from the start to the result; C: user+system CPU seconds of
 * the process (getrusage); N: send()/sendto()/connect() calls made.  Exit
 * status 0 for ok, 2 for an errno, 3 for a timeout.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static struct timespec t0;
static long calls;

static double now_mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
}

static double wall(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static const char *errname(int e)
{
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case EPIPE: return "EPIPE";
	case EINPROGRESS: return "EINPROGRESS";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ECONNRESET: return "ECONNRESET";
	case ECONNABORTED: return "ECONNABORTED";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case ENETUNREACH: return "ENETUNREACH";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EPERM: return "EPERM";
	case EINVAL: return "EINVAL";
	default: return strerrorname_np(e) ? strerrorname_np(e) : "E?";
	}
}

static int finish(const char *result, int rc)
{
	printf("result %s elapsed %.3f cpu %.3f calls %ld\n", result, now_mono(), cpu(), calls);
	return rc;
}

static int fail_errno(int e) { return finish(errname(e), 2); }
static int timed_out(void) { return finish("timeout", 3); }

/* wait_for FD EVENTS TIMEOUT: poll until EVENTS or the deadline; 1 if ready. */
static int wait_for(int fd, short events, double deadline)
{
	for (;;) {
		double left = deadline - now_mono();
		struct pollfd p = { .fd = fd, .events = events };
		int r;

		if (left <= 0)
			return 0;
		r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return 0;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int udp, nonblock, fd, e;
	double timeout, deadline;
	const char *msg;
	char buf[2048];
	ssize_t n;

	if (argc != 7) {
		fprintf(stderr, "usage: csend udp|tcp HOST PORT MSG block|nonblock TIMEOUT\n");
		return 64;
	}
	udp = !strcmp(argv[1], "udp");
	if (inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1) {
		fprintf(stderr, "csend: bad IPv4 address %s\n", argv[2]);
		return 64;
	}
	sa.sin_port = htons(atoi(argv[3]));
	msg = argv[4];
	nonblock = !strcmp(argv[5], "nonblock");
	timeout = atof(argv[6]);

	setvbuf(stdout, NULL, _IOLBF, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	deadline = timeout;
	printf("start %.6f\n", wall());

	fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return fail_errno(errno);
	if (!nonblock) {
		struct timeval tv = { .tv_sec = (time_t)timeout,
				      .tv_usec = (suseconds_t)((timeout - (time_t)timeout) * 1e6) };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}

	if (udp) {
		for (;;) {
			calls++;
			n = sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa, sizeof(sa));
			if (n >= 0)
				break;
			e = errno;
			if (!nonblock || e != EAGAIN)
				return fail_errno(e);
			/* "Would block": wait until writable, send again. */
			if (!wait_for(fd, POLLOUT, deadline))
				return timed_out();
		}
		if (nonblock && !wait_for(fd, POLLIN, deadline))
			return timed_out();
		n = recv(fd, buf, sizeof(buf) - 1, nonblock ? MSG_DONTWAIT : 0);
		if (n < 0)
			return errno == EAGAIN && !nonblock ? timed_out() : fail_errno(errno);
		return finish("ok", 0);
	}

	calls++;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		if (!nonblock) {
			/* SO_SNDTIMEO ran out: EINPROGRESS from a blocking connect. */
			return e == EINPROGRESS ? timed_out() : fail_errno(e);
		}
		if (e != EINPROGRESS)
			return fail_errno(e);
		if (!wait_for(fd, POLLOUT, deadline))
			return timed_out();
		socklen_t len = sizeof(e);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len);
		if (e)
			return fail_errno(e);
	}
	printf("connected %.6f\n", wall());
	calls++;
	if (send(fd, msg, strlen(msg), MSG_NOSIGNAL) < 0)
		return fail_errno(errno);
	if (nonblock && !wait_for(fd, POLLIN, deadline))
		return timed_out();
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return errno == EAGAIN && !nonblock ? timed_out() : fail_errno(errno);
	if (n == 0)
		return finish("EOF", 2);
	return finish("ok", 0);
}
