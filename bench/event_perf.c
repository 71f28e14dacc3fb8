/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * event_perf: event throughput between reactors, the method of SPDK's
 * test/event/event_perf. Every reactor of the mask starts with -q events in
 * flight; each event, when it runs, sends a new event to the next core of
 * the mask (to itself on one core). After -t seconds the events stop
 * re-submitting, drain, and the program prints events per second per core
 * and in total.
 *
 *   event_perf: cores=2 queue_depth=4 seconds=1.000 events_per_sec_per_core=... total=...
 */
#include "bench_common.h"

#include <stdatomic.h>

#define PROG "event_perf"
#define MAX_QUEUE_DEPTH 4096u

/*
 * One per core, on its own cache line, touched only by that core while the
 * test runs: a sender never reads the receiver's context (only passes its
 * address), so the benchmark adds no cache-line traffic of its own.
 */
struct core_ctx {
	uint64_t count; /* events run on this core */
	uint32_t core;
	uint32_t next; /* core the events this core runs send to */
} __attribute__((aligned(BENCH_CACHE_LINE)));

struct config {
	double seconds;
	uint32_t queue_depth;
};

static struct config g_cfg = { .seconds = 1.0, .queue_depth = 4 };
static struct core_ctx g_cores[REACTOR_CPUSET_MAX_CPUS];
static uint32_t g_core_list[REACTOR_CPUSET_MAX_CPUS];
static uint32_t g_ncores;

static _Atomic int g_stop __attribute__((aligned(BENCH_CACHE_LINE)));
static _Atomic uint64_t g_outstanding __attribute__((aligned(BENCH_CACHE_LINE)));
static _Atomic uint64_t g_errors;
static _Atomic int g_finishing;
static uint64_t g_start_ns, g_end_ns;
static uint64_t g_preempt_start, g_preempt_end, g_cpu_start, g_cpu_end;
static struct reactor_poller *g_end_poller;

static void submit(uint32_t core);

/* On the app thread: everything drained (or failed). */
static void finish_msg(void *ctx)
{
	(void)ctx;
	reactor_poller_unregister(&g_end_poller);
	if (g_end_ns == 0) {
		g_end_ns = bench_now_ns();
		g_preempt_end = bench_preemptions();
		g_cpu_end = bench_process_cpu_ns();
	}
	reactor_app_stop(atomic_load(&g_errors) ? BENCH_EXIT_FAIL : 0);
}

/*
 * On the main core, which runs the app thread: hand over to it. Sending the
 * message from the app thread's own reactor means the send has returned
 * before the app thread runs it (and, through reactor_app_stop(), exits).
 */
static void finish_event_fn(void *arg1, void *arg2)
{
	(void)arg1;
	(void)arg2;
	if (reactor_thread_send_msg(reactor_thread_get_app_thread(), finish_msg, NULL) != 0) {
		fprintf(stderr, PROG ": cannot send the finish message to the app thread\n");
		atomic_fetch_add(&g_errors, 1);
		reactor_app_stop(BENCH_EXIT_FAIL);
	}
}

static void event_retired(void)
{
	struct reactor_event *ev;

	if (atomic_fetch_sub_explicit(&g_outstanding, 1, memory_order_acq_rel) != 1)
		return;
	if (atomic_exchange(&g_finishing, 1))
		return;
	/*
	 * An event to the main core rather than a message to the app thread
	 * from another core: the finish message ends in the app thread's exit,
	 * and reactor_thread_send_msg() before libreactor ecc6e45 read the thread
	 * after publishing the message (a use-after-free race TSAN showed). An
	 * event only touches the reactor, which lives until the end.
	 */
	ev = reactor_event_allocate(reactor_get_main_core(), finish_event_fn, NULL, NULL);
	if (ev == NULL || reactor_event_call(ev) != 0) {
		reactor_event_free(ev);
		fprintf(stderr, PROG ": cannot send the finish event to the main core\n");
		atomic_fetch_add(&g_errors, 1);
		reactor_app_stop(BENCH_EXIT_FAIL);
	}
}

static void event_fn(void *arg1, void *arg2)
{
	struct core_ctx *self = arg1;

	(void)arg2;
	if (atomic_load_explicit(&g_stop, memory_order_relaxed)) {
		event_retired();
		return;
	}
	self->count++;
	submit(self->next);
}

static void submit(uint32_t core)
{
	struct reactor_event *ev = reactor_event_allocate(core, event_fn, &g_cores[core], NULL);
	int rc;

	if (ev == NULL) {
		rc = -errno;
		goto fail;
	}
	rc = reactor_event_call(ev);
	if (rc == 0)
		return;
	reactor_event_free(ev);
fail:
	/* Report the first few failures; a benchmark that loses events fails. */
	if (atomic_fetch_add(&g_errors, 1) < 3)
		fprintf(stderr, PROG ": sending an event to core %" PRIu32 " failed: %s\n", core,
			strerror(-rc));
	event_retired();
}

/* Runs on each core once: put queue_depth events in flight towards the next core. */
static void kick_fn(void *arg1, void *arg2)
{
	struct core_ctx *self = arg1;
	uint32_t i;

	(void)arg2;
	for (i = 0; i < g_cfg.queue_depth; i++)
		submit(self->next);
}

static int end_poller_fn(void *arg)
{
	(void)arg;
	g_end_ns = bench_now_ns();
	g_preempt_end = bench_preemptions();
	g_cpu_end = bench_process_cpu_ns();
	atomic_store(&g_stop, 1);
	reactor_poller_unregister(&g_end_poller);
	return REACTOR_POLLER_BUSY;
}

static void start_fn(void *ctx)
{
	uint32_t core, i, first = REACTOR_CORE_INVALID;

	(void)ctx;
	g_ncores = 0;
	REACTOR_FOREACH_CORE(core)
	{
		if (first == REACTOR_CORE_INVALID)
			first = core;
		g_core_list[g_ncores++] = core;
		g_cores[core].core = core;
		g_cores[core].count = 0;
		g_cores[core].next = reactor_get_next_core(core);
		if (g_cores[core].next == REACTOR_CORE_INVALID)
			g_cores[core].next = first;
	}
	atomic_store(&g_outstanding, (uint64_t)g_ncores * g_cfg.queue_depth);

	g_end_poller = reactor_poller_register_named(end_poller_fn, NULL,
						     (uint64_t)(g_cfg.seconds * 1e6), "event_perf_end");
	if (g_end_poller == NULL) {
		fprintf(stderr, PROG ": cannot register the end poller: %s\n", strerror(errno));
		reactor_app_stop(BENCH_EXIT_FAIL);
		return;
	}
	printf(PROG ": running %.3f s on %" PRIu32 " core(s), %" PRIu32 " event(s) in flight per core...\n",
	       g_cfg.seconds, g_ncores, g_cfg.queue_depth);
	fflush(stdout);
	g_preempt_start = bench_preemptions();
	g_cpu_start = bench_process_cpu_ns();
	g_start_ns = bench_now_ns();
	for (i = 0; i < g_ncores; i++) {
		struct core_ctx *c = &g_cores[g_core_list[i]];
		struct reactor_event *ev = reactor_event_allocate(c->core, kick_fn, c, NULL);
		int rc = ev ? reactor_event_call(ev) : -errno;

		if (rc != 0) {
			uint32_t q;

			reactor_event_free(ev);
			fprintf(stderr, PROG ": cannot start core %" PRIu32 ": %s\n", c->core, strerror(-rc));
			atomic_fetch_add(&g_errors, 1);
			for (q = 0; q < g_cfg.queue_depth; q++)
				event_retired();
		}
	}
}

static int parse_fn(int ch, char *arg, void *ctx)
{
	(void)ctx;
	switch (ch) {
	case 't':
		return bench_parse_seconds(PROG, "-t", arg, 0.001, 3600, &g_cfg.seconds);
	case 'q':
		return bench_parse_u32(PROG, "-q", arg, 1, MAX_QUEUE_DEPTH, &g_cfg.queue_depth);
	default:
		return -EINVAL;
	}
}

static void usage_fn(FILE *out, void *ctx)
{
	(void)ctx;
	fprintf(out, "  -t, --time SECONDS        run time (default 1; fractions allowed)\n"
		     "  -q, --queue-depth QD      events in flight per core (default 4, max %u)\n"
		     "\nEvent throughput across the reactors of the mask (SPDK event_perf method): each\n"
		     "reactor keeps QD events in flight; each event, when it runs, sends a new one to the\n"
		     "next core of the mask (to itself on one core). Default mask: every allowed CPU.\n"
		     "Prints events/s per core and in total.\n",
		MAX_QUEUE_DEPTH);
}

static const struct option g_long_opts[] = {
	{ "time", required_argument, NULL, 't' },
	{ "queue-depth", required_argument, NULL, 'q' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	struct reactor_app_opts opts;
	uint64_t total = 0;
	double secs;
	uint32_t i;
	int rc;

	rc = bench_parse_args(argc, argv, &opts, PROG, "t:q:", g_long_opts, parse_fn, usage_fn, NULL);
	if (rc >= 0)
		return rc;
	opts.idle_policy = REACTOR_IDLE_POLL;
	bench_watchdog_arm(g_cfg.seconds + 30);

	rc = reactor_app_start(&opts, start_fn, NULL);
	bench_watchdog_disarm();
	if (rc < 0) {
		return bench_start_failed(PROG, rc);
	}
	if (rc != 0 || atomic_load(&g_errors) != 0 || g_end_ns <= g_start_ns) {
		fprintf(stderr, PROG ": FAILED (status %d, %" PRIu64 " event errors)\n", rc,
			(uint64_t)atomic_load(&g_errors));
		return BENCH_EXIT_FAIL;
	}

	secs = (double)(g_end_ns - g_start_ns) / 1e9;
	for (i = 0; i < g_ncores; i++) {
		const struct core_ctx *c = &g_cores[g_core_list[i]];

		printf(PROG ": core=%" PRIu32 " to_core=%" PRIu32 " events=%" PRIu64 " events_per_sec=%.0f\n",
		       c->core, c->next, c->count, (double)c->count / secs);
		total += c->count;
	}
	printf(PROG ": cores=%" PRIu32 " queue_depth=%" PRIu32 " seconds=%.3f events_per_sec_per_core=%.0f"
		    " total=%.0f cpu_share=%.2f preemptions=%" PRIu64 "\n",
	       g_ncores, g_cfg.queue_depth, secs, (double)total / secs / g_ncores, (double)total / secs,
	       bench_cpu_share(g_cpu_end - g_cpu_start, g_end_ns - g_start_ns, g_ncores),
	       g_preempt_end - g_preempt_start);
	return BENCH_EXIT_OK;
}
