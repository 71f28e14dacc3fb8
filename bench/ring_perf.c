/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ring_perf: cost of moving one pointer through a reactor_ring, for SPSC and
 * MPSC rings, bursts of 1 and 32:
 * - same-core: one thread alternately enqueues a burst and dequeues it;
 * - cross-core: producer thread(s) pinned to the first CPU(s) of the mask,
 *   the consumer pinned to another one (MPSC uses 2 producers on 2 CPUs when
 *   3 CPUs are available, else 1). Each consumed item is checked for
 *   per-producer FIFO order.
 *
 *   ring_perf: type=spsc placement=same-core  producers=1 burst=1  ns_per_item=... items=...
 *
 * Needs no reactor; -m selects the CPUs (default: every allowed CPU).
 */
#include "bench_common.h"

#include <stdatomic.h>

#define PROG "ring_perf"
#define MAX_BURST 32u
#define MAX_PRODUCERS 2u
#define SEQ_BITS 48

struct config {
	double seconds; /* per configuration */
	uint32_t ring_size;
};

static struct config g_cfg = { .seconds = 0.25, .ring_size = 4096 };

struct cross_run {
	struct reactor_ring *ring;
	uint32_t burst;
	uint32_t nprod;
	uint32_t prod_cpu[MAX_PRODUCERS];
	uint32_t cons_cpu;
	_Atomic int ready;
	_Atomic int go __attribute__((aligned(BENCH_CACHE_LINE)));
	_Atomic int stop __attribute__((aligned(BENCH_CACHE_LINE)));
	_Atomic uint32_t prod_done __attribute__((aligned(BENCH_CACHE_LINE)));
	uint64_t produced[MAX_PRODUCERS];
	uint64_t consumed;
	uint64_t order_errors;
	uint64_t end_ns;
	int pin_error;
};

struct prod_arg {
	struct cross_run *run;
	uint32_t id;
};

static int parse_fn(int ch, char *arg, void *ctx)
{
	(void)ctx;
	switch (ch) {
	case 't':
		return bench_parse_seconds(PROG, "-t", arg, 0.001, 3600, &g_cfg.seconds);
	case 's':
		return bench_parse_u32(PROG, "-s", arg, 64, 1u << 24, &g_cfg.ring_size);
	default:
		return -EINVAL;
	}
}

static void usage_fn(FILE *out, void *ctx)
{
	(void)ctx;
	fprintf(out, "  -t, --time SECONDS        run time of each configuration (default 0.25)\n"
		     "  -s, --ring-size N         ring capacity (default 4096)\n"
		     "\nns per item through a reactor_ring: SPSC and MPSC, bursts of 1 and 32, same core\n"
		     "(one thread enqueues then dequeues) and cross core (producer on the first CPU of\n"
		     "the mask, consumer on the second; MPSC uses 2 producers when 3 CPUs are given).\n"
		     "-m selects the CPUs (default: every allowed CPU); no reactor is started.\n");
}

static const struct option g_long_opts[] = {
	{ "time", required_argument, NULL, 't' },
	{ "ring-size", required_argument, NULL, 's' },
	{ NULL, 0, NULL, 0 },
};

static const char *type_name(enum reactor_ring_type t)
{
	return t == REACTOR_RING_SP_SC ? "spsc" : "mpsc";
}

static void print_row(enum reactor_ring_type type, const char *placement, uint32_t nprod, uint32_t burst,
		      const char *cpus, uint64_t items, uint64_t ns)
{
	/* Padding after each value keeps the columns aligned and "key=value" whole. */
	printf(PROG ": type=%s placement=%-10s producers=%" PRIu32 " burst=%-2" PRIu32 " cpus=%-5s"
		    " ns_per_item=%-8.2f Mitems_per_sec=%-8.2f items=%" PRIu64 "\n",
	       type_name(type), placement, nprod, burst, cpus, (double)ns / (double)items,
	       (double)items * 1e3 / (double)ns, items);
	fflush(stdout);
}

/* One thread: enqueue a burst, dequeue it, repeat. */
static int run_same_core(enum reactor_ring_type type, uint32_t burst, uint32_t cpu)
{
	void *in[MAX_BURST], *out[MAX_BURST];
	struct reactor_ring *ring = reactor_ring_create(type, g_cfg.ring_size);
	uint64_t deadline, start, end, iters = 0;
	char cpus[16];
	uint32_t i;
	int k;

	if (ring == NULL) {
		fprintf(stderr, PROG ": reactor_ring_create failed: %s\n", strerror(errno));
		return -1;
	}
	for (i = 0; i < burst; i++)
		in[i] = (void *)(uintptr_t)(i + 1);
	start = bench_now_ns();
	deadline = start + (uint64_t)(g_cfg.seconds * 1e9);
	do {
		for (k = 0; k < 1024; k++) {
			if (reactor_ring_enqueue(ring, in, burst) != burst ||
			    reactor_ring_dequeue(ring, out, burst) != burst || out[0] != in[0]) {
				fprintf(stderr, PROG ": same-core %s burst %" PRIu32 ": ring lost or reordered items\n",
					type_name(type), burst);
				reactor_ring_free(ring);
				return -1;
			}
		}
		iters += 1024;
		end = bench_now_ns();
	} while (end < deadline);
	reactor_ring_free(ring);
	snprintf(cpus, sizeof(cpus), "%" PRIu32, cpu);
	print_row(type, "same-core", 1, burst, cpus, iters * burst, end - start);
	return 0;
}

static void wait_go(struct cross_run *run)
{
	atomic_fetch_add(&run->ready, 1);
	while (!atomic_load_explicit(&run->go, memory_order_acquire))
		bench_cpu_relax();
}

static void *producer_main(void *argp)
{
	struct prod_arg *pa = argp;
	struct cross_run *run = pa->run;
	uint64_t seq = 0, tag = (uint64_t)pa->id << SEQ_BITS;
	void *objs[MAX_BURST];
	uint32_t i, burst = run->burst;

	if (bench_pin_self(run->prod_cpu[pa->id]) != 0)
		run->pin_error = 1;
	wait_go(run);
	while (!atomic_load_explicit(&run->stop, memory_order_relaxed)) {
		size_t done = 0;

		for (i = 0; i < burst; i++)
			objs[i] = (void *)(uintptr_t)(tag | (seq + i + 1));
		while (done < burst) {
			size_t n = reactor_ring_enqueue(run->ring, objs + done, burst - done);

			if (n == 0)
				bench_cpu_relax();
			done += n;
		}
		seq += burst;
	}
	run->produced[pa->id] = seq;
	atomic_fetch_add_explicit(&run->prod_done, 1, memory_order_release);
	return NULL;
}

static void *consumer_main(void *argp)
{
	struct cross_run *run = argp;
	uint64_t last[MAX_PRODUCERS] = { 0 }, consumed = 0, errors = 0;
	void *objs[MAX_BURST];
	uint32_t burst = run->burst;
	bool all_done = false;

	if (bench_pin_self(run->cons_cpu) != 0)
		run->pin_error = 1;
	wait_go(run);
	for (;;) {
		size_t n = reactor_ring_dequeue(run->ring, objs, burst), i;

		if (n == 0) {
			/*
			 * Done when the ring is found empty after every producer
			 * said it finished (they enqueue everything first).
			 */
			if (all_done)
				break;
			if (atomic_load_explicit(&run->prod_done, memory_order_acquire) == run->nprod)
				all_done = true;
			else
				bench_cpu_relax();
			continue;
		}
		for (i = 0; i < n; i++) {
			uint64_t v = (uint64_t)(uintptr_t)objs[i];
			uint64_t id = v >> SEQ_BITS, seq = v & ((1ull << SEQ_BITS) - 1);

			if (id >= run->nprod || seq != last[id] + 1)
				errors++;
			else
				last[id] = seq;
		}
		consumed += n;
	}
	run->end_ns = bench_now_ns();
	run->consumed = consumed;
	run->order_errors = errors;
	return NULL;
}

static int run_cross_core(enum reactor_ring_type type, uint32_t burst, uint32_t nprod,
			  const uint32_t *prod_cpus, uint32_t cons_cpu)
{
	struct cross_run *run;
	struct prod_arg pa[MAX_PRODUCERS];
	pthread_t prod[MAX_PRODUCERS], cons;
	uint64_t start, produced = 0;
	char cpus[32];
	uint32_t i, started = 0;
	int rc = -1, err;

	if (posix_memalign((void **)&run, BENCH_CACHE_LINE, sizeof(*run)) != 0) {
		fprintf(stderr, PROG ": out of memory\n");
		return -1;
	}
	memset(run, 0, sizeof(*run));
	run->burst = burst;
	run->nprod = nprod;
	run->cons_cpu = cons_cpu;
	run->ring = reactor_ring_create(type, g_cfg.ring_size);
	if (run->ring == NULL) {
		fprintf(stderr, PROG ": reactor_ring_create failed: %s\n", strerror(errno));
		free(run);
		return -1;
	}
	err = pthread_create(&cons, NULL, consumer_main, run);
	if (err != 0) {
		fprintf(stderr, PROG ": pthread_create: %s\n", strerror(err));
		goto out;
	}
	for (i = 0; i < nprod; i++) {
		run->prod_cpu[i] = prod_cpus[i];
		pa[i].run = run;
		pa[i].id = i;
		err = pthread_create(&prod[i], NULL, producer_main, &pa[i]);
		if (err != 0) {
			fprintf(stderr, PROG ": pthread_create: %s\n", strerror(err));
			atomic_store(&run->stop, 1);
			atomic_fetch_add(&run->prod_done, nprod - i);
			break;
		}
		started++;
	}
	while (atomic_load(&run->ready) < (int)(started + 1))
		bench_sleep_ns(100000);
	start = bench_now_ns();
	atomic_store_explicit(&run->go, 1, memory_order_release);
	bench_sleep_ns((uint64_t)(g_cfg.seconds * 1e9));
	atomic_store(&run->stop, 1);
	for (i = 0; i < started; i++)
		pthread_join(prod[i], NULL);
	pthread_join(cons, NULL);
	if (started != nprod)
		goto out;
	if (run->pin_error) {
		fprintf(stderr, PROG ": cannot pin a thread to its CPU\n");
		goto out;
	}
	for (i = 0; i < nprod; i++)
		produced += run->produced[i];
	if (run->consumed != produced || run->order_errors != 0) {
		fprintf(stderr, PROG ": cross-core %s burst %" PRIu32 ": produced %" PRIu64 ", consumed %" PRIu64
				", %" PRIu64 " out of order\n",
			type_name(type), burst, produced, run->consumed, run->order_errors);
		goto out;
	}
	if (nprod == 2)
		snprintf(cpus, sizeof(cpus), "%" PRIu32 ",%" PRIu32 ">%" PRIu32, prod_cpus[0], prod_cpus[1],
			 cons_cpu);
	else
		snprintf(cpus, sizeof(cpus), "%" PRIu32 ">%" PRIu32, prod_cpus[0], cons_cpu);
	print_row(type, "cross-core", nprod, burst, cpus, run->consumed, run->end_ns - start);
	rc = 0;
out:
	reactor_ring_free(run->ring);
	free(run);
	return rc;
}

int main(int argc, char **argv)
{
	static const uint32_t bursts[] = { 1, MAX_BURST };
	static const enum reactor_ring_type types[] = { REACTOR_RING_SP_SC, REACTOR_RING_MP_SC };
	struct reactor_app_opts opts;
	uint32_t cpus[3];
	int ncpus, rc, failed = 0;
	size_t t, b;

	rc = bench_parse_args(argc, argv, &opts, PROG, "t:s:", g_long_opts, parse_fn, usage_fn, NULL);
	if (rc >= 0)
		return rc;
	ncpus = bench_cpu_list(PROG, opts.cpumask, cpus, 3);
	if (ncpus < 0)
		return BENCH_EXIT_USAGE;
	bench_watchdog_arm(g_cfg.seconds * 8 + 30);

	printf(PROG ": ring_size=%" PRIu32 " seconds_per_config=%.3f\n", g_cfg.ring_size, g_cfg.seconds);
	if (bench_pin_self(cpus[0]) != 0) {
		fprintf(stderr, PROG ": cannot pin to CPU %" PRIu32 "\n", cpus[0]);
		return BENCH_EXIT_FAIL;
	}
	for (t = 0; t < 2; t++)
		for (b = 0; b < 2; b++)
			failed |= run_same_core(types[t], bursts[b], cpus[0]) != 0;
	if (ncpus < 2) {
		printf(PROG ": placement=cross-core skipped: only one CPU available\n");
	} else {
		/* Let the producers and the consumer have their CPUs to themselves. */
		cpu_set_t all;
		int i;

		CPU_ZERO(&all);
		for (i = 0; i < ncpus; i++)
			CPU_SET(cpus[i], &all);
		pthread_setaffinity_np(pthread_self(), sizeof(all), &all);
		for (t = 0; t < 2; t++)
			for (b = 0; b < 2; b++) {
				if (types[t] == REACTOR_RING_MP_SC && ncpus >= 3)
					failed |= run_cross_core(types[t], bursts[b], 2, cpus, cpus[2]) != 0;
				else
					failed |= run_cross_core(types[t], bursts[b], 1, cpus, cpus[1]) != 0;
			}
		if (ncpus < 3)
			printf(PROG ": note: mpsc cross-core uses 1 producer (2 producers need 3 CPUs)\n");
	}
	bench_watchdog_disarm();
	return failed ? BENCH_EXIT_FAIL : BENCH_EXIT_OK;
}
