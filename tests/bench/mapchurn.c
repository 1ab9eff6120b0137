// SPDX-License-Identifier: GPL-2.0
/*
 * One xfrm_nat request per mapping, for the "10,000 children up at once"
 * figure of `make bench` (tests/bench/children.sh): what a daemon that
 * follows IKE events one by one sends.  In C, over one netlink socket, so
 * that the figure is the kernel's cost per request and not that of
 * starting a process per child (0.1-0.2 s each under TCG).
 *
 *   mapchurn map STEP <LINES      lines "REQID ADDR [NAME]": map-new of
 *                                  reqid=REQID to ADDR (named NAME)
 *   mapchurn unmap STEP <LINES    lines "REQID": map-del of reqid=REQID
 *
 * After every STEP requests, and after the last, it prints "DONE SECONDS":
 * the requests done so far and the seconds since the first was sent.  Each
 * request waits for its acknowledgement; the first refusal ends the run
 * with the kernel's errno (and extack message) and status 1.
 *
 * The command and attribute numbers come from the generated uapi
 * (module/logic/src/uapi.rs), passed by children.sh's build as -D flags:
 * XNAT_CMD_MAP_NEW, XNAT_CMD_MAP_DEL, XNAT_ATTR_REQID, XNAT_ATTR_ADDR, and
 * XNAT_ATTR_NAME where the contract has a mapping name.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#if !defined(XNAT_CMD_MAP_NEW) || !defined(XNAT_CMD_MAP_DEL) || \
	!defined(XNAT_ATTR_REQID) || !defined(XNAT_ATTR_ADDR)
#error "build with the -D flags of the generated uapi (see children.sh)"
#endif

#define FAMILY "xfrm_nat"
#define FAMILY_VERSION 1

static int sock;
static uint32_t seq;
static char msg[8192];
static char reply[65536];

static void die(const char *what)
{
	fprintf(stderr, "mapchurn: %s\n", what);
	exit(2);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* Starts a generic netlink message of command CMD to family FAMILY_ID. */
static struct nlmsghdr *start(uint16_t family_id, uint8_t cmd, uint8_t version)
{
	struct nlmsghdr *h = (struct nlmsghdr *)msg;
	struct genlmsghdr *g = NLMSG_DATA(h);

	memset(msg, 0, NLMSG_SPACE(GENL_HDRLEN));
	h->nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	h->nlmsg_type = family_id;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	h->nlmsg_seq = ++seq;
	g->cmd = cmd;
	g->version = version;
	return h;
}

static void put(struct nlmsghdr *h, uint16_t type, const void *data, size_t len)
{
	struct nlattr *a = (struct nlattr *)(msg + NLMSG_ALIGN(h->nlmsg_len));

	if (NLMSG_ALIGN(h->nlmsg_len) + NLA_HDRLEN + NLA_ALIGN(len) > sizeof(msg))
		die("request too long");
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	memset((char *)a + NLA_HDRLEN + len, 0, NLA_ALIGN(len) - len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + NLA_ALIGN(a->nla_len);
}

/* Sends the message and returns the kernel's first answer to it. */
static struct nlmsghdr *exchange(struct nlmsghdr *h)
{
	uint32_t want = h->nlmsg_seq;

	if (send(sock, h, h->nlmsg_len, 0) != (ssize_t)h->nlmsg_len)
		die("send failed");
	for (;;) {
		ssize_t n = recv(sock, reply, sizeof(reply), 0);
		struct nlmsghdr *r;

		if (n < 0)
			die("recv failed");
		for (r = (struct nlmsghdr *)reply; NLMSG_OK(r, n); r = NLMSG_NEXT(r, n))
			if (r->nlmsg_seq == want)
				return r;
	}
}

/* The payload of the attribute TYPE among the LEFT bytes from A, or NULL. */
static void *find_attr(struct nlattr *a, long left, uint16_t type)
{
	while (left >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= left) {
		if (a->nla_type == type)
			return (char *)a + NLA_HDRLEN;
		left -= NLA_ALIGN(a->nla_len);
		a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len));
	}
	return NULL;
}

/*
 * Sends the request and waits for its acknowledgement.  Returns 0, or the
 * errno the kernel answered (its extack message, if any, in *why).
 */
static int transact(struct nlmsghdr *h, const char **why)
{
	struct nlmsghdr *r = exchange(h);
	struct nlmsgerr *e = NLMSG_DATA(r);

	*why = NULL;
	if (r->nlmsg_type != NLMSG_ERROR)
		die("an answer other than the acknowledgement");
	/* NETLINK_CAP_ACK: the request is not echoed, the TLVs follow. */
	if (e->error && (r->nlmsg_flags & NLM_F_ACK_TLVS))
		*why = find_attr((struct nlattr *)(e + 1),
				 (char *)r + r->nlmsg_len - (char *)(e + 1), NLMSGERR_ATTR_MSG);
	return -e->error;
}

/* The family's id, asked of the generic netlink controller. */
static uint16_t family_id(void)
{
	struct nlmsghdr *h = start(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1), *r;
	uint16_t *id;

	put(h, CTRL_ATTR_FAMILY_NAME, FAMILY, sizeof(FAMILY));
	r = exchange(h);
	if (r->nlmsg_type == NLMSG_ERROR)
		die("no generic netlink family " FAMILY " (module not loaded?)");
	id = find_attr((struct nlattr *)((char *)NLMSG_DATA(r) + GENL_HDRLEN),
		       r->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN), CTRL_ATTR_FAMILY_ID);
	if (!id)
		die("the controller's answer has no family id");
	return *id;
}

/* Builds the request of one input line; 0 if the line is blank. */
static struct nlmsghdr *request(uint16_t fid, int map, char *line, long lineno)
{
	char *reqid_word = strtok(line, " \t\n"), *addr_word, *name, *end;
	unsigned long reqid;
	struct nlmsghdr *h;
	unsigned char addr[16];
	uint32_t r;

	if (!reqid_word)
		return NULL;
	errno = 0;
	reqid = strtoul(reqid_word, &end, 10);
	if (errno || *end || !reqid || reqid > UINT32_MAX) {
		fprintf(stderr, "mapchurn: line %ld: bad reqid '%s'\n", lineno, reqid_word);
		exit(2);
	}
	r = reqid;
	h = start(fid, map ? XNAT_CMD_MAP_NEW : XNAT_CMD_MAP_DEL, FAMILY_VERSION);
	put(h, XNAT_ATTR_REQID, &r, sizeof(r));
	if (!map)
		return h;
	addr_word = strtok(NULL, " \t\n");
	name = strtok(NULL, " \t\n");
	if (addr_word && inet_pton(AF_INET, addr_word, addr) == 1)
		put(h, XNAT_ATTR_ADDR, addr, 4);
	else if (addr_word && inet_pton(AF_INET6, addr_word, addr) == 1)
		put(h, XNAT_ATTR_ADDR, addr, 16);
	else {
		fprintf(stderr, "mapchurn: line %ld: no address\n", lineno);
		exit(2);
	}
	if (name) {
#ifdef XNAT_ATTR_NAME
		put(h, XNAT_ATTR_NAME, name, strlen(name) + 1);
#else
		fprintf(stderr, "mapchurn: line %ld: this uapi has no mapping name\n", lineno);
		exit(2);
#endif
	}
	return h;
}

int main(int argc, char **argv)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	char line[256];
	long step, done = 0, lineno = 0;
	double t0 = 0;
	int map, one = 1;
	uint16_t fid;

	if (argc != 3 || (strcmp(argv[1], "map") && strcmp(argv[1], "unmap")) ||
	    (step = atol(argv[2])) < 1)
		die("usage: mapchurn map|unmap STEP <LINES");
	map = !strcmp(argv[1], "map");
	sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (sock < 0 || connect(sock, (struct sockaddr *)&kernel, sizeof(kernel)))
		die("no generic netlink socket");
	/* Refusals carry the kernel's reason; the request need not come back. */
	setsockopt(sock, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(sock, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	fid = family_id();
	while (fgets(line, sizeof(line), stdin)) {
		struct nlmsghdr *h = request(fid, map, line, ++lineno);
		const char *why;
		int err;

		if (!h)
			continue;
		if (!done)
			t0 = now();
		err = transact(h, &why);
		if (err) {
			fprintf(stderr, "mapchurn: line %ld: %s%s%s\n", lineno, strerror(err),
				why ? ": " : "", why ? why : "");
			return 1;
		}
		/* Flushed, so that a long run shows its progress as it goes. */
		if (++done % step == 0 && printf("%ld %.6f\n", done, now() - t0) > 0)
			fflush(stdout);
	}
	if (done % step)
		printf("%ld %.6f\n", done, now() - t0);
	return 0;
}
