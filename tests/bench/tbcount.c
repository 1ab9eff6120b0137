// SPDX-License-Identifier: GPL-2.0
/*
 * QEMU TCG plugin for `make bench-insns` (tests/bench/run-insns.sh): how
 * many guest instructions each translated block ran, so that the cost of
 * a new flow can be split by kernel function and compared between
 * xfrm-nat, iptables and nftables without timing noise.
 *
 *   -plugin tbcount.so,mark=HEX,out=PREFIX
 *
 * Each time the guest executes the block at address `mark` (flowgen's
 * window_mark(), static at a fixed address), the counts so far go to
 * PREFIX.N (N = 0, 1, ...) as lines "ADDRESS INSNS EXECUTIONS", and start
 * again from zero; so do the last ones when QEMU exits.  Counting is an
 * inline add per block; the two vCPUs' adds may race and lose a few.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

/* A block as translated: QEMU may translate one address again, with as
 * many or fewer instructions; each version has its record. */
struct block {
	uint64_t vaddr;
	uint64_t insns;
	uint64_t runs;
	struct block *next;
};

#define BUCKETS (1u << 20)
static struct block *table[BUCKETS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t mark;
static const char *prefix = "tbcount";
static int dumps;

static unsigned int bucket(uint64_t vaddr)
{
	return (unsigned int)((vaddr * 0x9e3779b97f4a7c15ull) >> 44) & (BUCKETS - 1);
}

static void dump(void)
{
	char name[4096];
	FILE *f;

	pthread_mutex_lock(&table_lock);
	snprintf(name, sizeof(name), "%s.%d", prefix, dumps++);
	f = fopen(name, "w");
	for (unsigned int i = 0; i < BUCKETS; i++) {
		for (struct block *b = table[i]; b; b = b->next) {
			if (f && b->runs)
				fprintf(f, "%" PRIx64 " %" PRIu64 " %" PRIu64 "\n", b->vaddr, b->insns, b->runs);
			b->runs = 0;
		}
	}
	if (f)
		fclose(f);
	pthread_mutex_unlock(&table_lock);
}

static void on_mark(unsigned int vcpu, void *udata)
{
	dump();
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	uint64_t vaddr = qemu_plugin_tb_vaddr(tb), insns = qemu_plugin_tb_n_insns(tb);
	unsigned int i = bucket(vaddr);
	struct block *b;

	pthread_mutex_lock(&table_lock);
	for (b = table[i]; b; b = b->next)
		if (b->vaddr == vaddr && b->insns == insns)
			break;
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (b) {
			b->vaddr = vaddr;
			b->insns = insns;
			b->next = table[i];
			table[i] = b;
		}
	}
	pthread_mutex_unlock(&table_lock);
	/* Records are never freed: the inline add may target them at any time. */
	if (b)
		qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->runs, 1);
	if (vaddr == mark)
		qemu_plugin_register_vcpu_tb_exec_cb(tb, on_mark, QEMU_PLUGIN_CB_NO_REGS, NULL);
}

static void on_exit_qemu(qemu_plugin_id_t id, void *p)
{
	dump();
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "mark=", 5))
			mark = strtoull(argv[i] + 5, NULL, 16);
		else if (!strncmp(argv[i], "out=", 4))
			prefix = strdup(argv[i] + 4);
		else {
			fprintf(stderr, "tbcount: unknown argument %s (mark=HEX, out=PREFIX)\n", argv[i]);
			return -1;
		}
	}
	if (!mark) {
		fprintf(stderr, "tbcount: no mark=HEX\n");
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	qemu_plugin_register_atexit_cb(id, on_exit_qemu, NULL);
	return 0;
}
