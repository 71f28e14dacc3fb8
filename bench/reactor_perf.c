/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * reactor_perf: event throughput of one reactor sending to itself, the
 * method of SPDK's test/event/reactor_perf. -q events are in flight; each
 * one, when it runs, re-submits a new event to the same core. After -t
 * seconds a timed poller stops the re-submission and the program prints
 * events per second.
 *
 *   reactor_perf: core=0 queue_depth=1 seconds=1.000 events=... events_per_sec=...
 *
 * Default mask: the first allowed CPU (with -m, the main core is used).
 */
#include "bench_common.h"

#include <stdatomic.h>

#define PROG "reactor_perf"
#define MAX_QUEUE_DEPTH 4096u

struct config {
	double seconds;
	uint32_t queue_depth;
};

static struct config g_cfg = { .seconds = 1.0, .queue_depth = 1 };
static uint32_t g_core;
static uint64_t g_count; /* written by the one reactor only */
static _Atomic int g_stop __attribute__((aligned(BENCH_CACHE_LINE)));
static uint64_t g_outstanding; /* only the one reactor touches it */
static uint64_t g_errors;
static uint64_t g_start_ns, g_end_ns;
static uint32_t g_nreactors = 1; /* all spin, though only one is measured */
static uint64_t g_preempt_start, g_preempt_end, g_cpu_start, g_cpu_end;
static struct reactor_poller *g_end_poller;

static void submit(void);

static void event_retired(void)
{
	if (--g_outstanding != 0)
		return;
	/* All events are on this core, as is the app thread: no message needed. */
	reactor_poller_unregister(&g_end_poller);
	if (g_end_ns == 0) {
		g_end_ns = bench_now_ns();
		g_preempt_end = bench_preemptions();
		g_cpu_end = bench_process_cpu_ns();
	}
	reactor_app_stop(g_errors ? BENCH_EXIT_FAIL : 0);
}

static void event_fn(void *arg1, void *arg2)
{
	(void)arg1;
	(void)arg2;
	if (atomic_load_explicit(&g_stop, memory_order_relaxed)) {
		event_retired();
		return;
	}
	g_count++;
	submit();
}

static void submit(void)
{
	struct reactor_event *ev = reactor_event_allocate(g_core, event_fn, NULL, NULL);
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
	if (g_errors++ < 3)
		fprintf(stderr, PROG ": sending an event failed: %s\n", strerror(-rc));
	event_retired();
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
	uint32_t i;

	(void)ctx;
	g_core = reactor_get_current_core();
	g_nreactors = reactor_get_core_count();
	g_end_poller = reactor_poller_register_named(end_poller_fn, NULL,
						     (uint64_t)(g_cfg.seconds * 1e6), "reactor_perf_end");
	if (g_end_poller == NULL) {
		fprintf(stderr, PROG ": cannot register the end poller: %s\n", strerror(errno));
		reactor_app_stop(BENCH_EXIT_FAIL);
		return;
	}
	printf(PROG ": running %.3f s on core %" PRIu32 ", %" PRIu32 " event(s) in flight...\n",
	       g_cfg.seconds, g_core, g_cfg.queue_depth);
	fflush(stdout);
	/* The first g_count increments happen after this function returns. */
	g_outstanding = g_cfg.queue_depth;
	g_preempt_start = bench_preemptions();
	g_cpu_start = bench_process_cpu_ns();
	g_start_ns = bench_now_ns();
	for (i = 0; i < g_cfg.queue_depth; i++)
		submit();
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
		     "  -q, --queue-depth QD      events in flight (default 1, max %u)\n"
		     "\nThroughput of one reactor sending events to itself (SPDK reactor_perf method):\n"
		     "each event re-submits a new one to its own core. Runs on the main core; default\n"
		     "mask: the first allowed CPU. Prints events/s.\n",
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
	char maskbuf[32];
	double secs;
	int rc;

	rc = bench_parse_args(argc, argv, &opts, PROG, "t:q:", g_long_opts, parse_fn, usage_fn, NULL);
	if (rc >= 0)
		return rc;
	if (bench_default_one_core(PROG, &opts, maskbuf, sizeof(maskbuf)) != 0)
		return BENCH_EXIT_FAIL;
	opts.idle_policy = REACTOR_IDLE_POLL;
	bench_watchdog_arm(g_cfg.seconds + 30);

	rc = reactor_app_start(&opts, start_fn, NULL);
	bench_watchdog_disarm();
	if (rc < 0) {
		return bench_start_failed(PROG, rc);
	}
	if (rc != 0 || g_errors != 0 || g_end_ns <= g_start_ns) {
		fprintf(stderr, PROG ": FAILED (status %d, %" PRIu64 " event errors)\n", rc, g_errors);
		return BENCH_EXIT_FAIL;
	}
	secs = (double)(g_end_ns - g_start_ns) / 1e9;
	printf(PROG ": core=%" PRIu32 " queue_depth=%" PRIu32 " seconds=%.3f events=%" PRIu64
		    " events_per_sec=%.0f cpu_share=%.2f preemptions=%" PRIu64 "\n",
	       g_core, g_cfg.queue_depth, secs, g_count, (double)g_count / secs,
	       bench_cpu_share(g_cpu_end - g_cpu_start, g_end_ns - g_start_ns, g_nreactors),
	       g_preempt_end - g_preempt_start);
	return BENCH_EXIT_OK;
}
