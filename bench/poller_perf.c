/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * poller_perf: cost of one poller call, the method of SPDK's
 * test/thread/poller_perf. Registers -b pollers with period -l microseconds
 * (0: active pollers, run on every iteration) on the app thread, runs for
 * -t seconds, then divides the elapsed time by the total number of poller
 * calls:
 *
 *   poller_perf: pollers=1000 period_us=0 seconds=1.000 calls=... ns_per_call=... busy_ns_per_call=...
 *
 * busy_ns_per_call is SPDK's own figure (the thread's busy time divided by
 * the calls); ns_per_call uses wall time. Default mask: the first allowed CPU.
 */
#include "bench_common.h"

#define PROG "poller_perf"
#define MAX_POLLERS 1000000u

struct config {
	double seconds;
	uint32_t pollers;
	uint64_t period_us;
};

struct poller_ctx {
	uint64_t calls;
	struct reactor_poller *poller;
};

static struct config g_cfg = { .seconds = 1.0, .pollers = 1, .period_us = 0 };
static struct poller_ctx *g_ctx;
static struct reactor_poller *g_end_poller;
static struct reactor_thread_stats g_stats_start, g_stats_end;
static uint64_t g_start_ns, g_end_ns;
static uint32_t g_nreactors = 1; /* all spin, though only one is measured */
static uint64_t g_preempt_start, g_preempt_end, g_cpu_start, g_cpu_end;
static int g_failed;

static int bench_poller_fn(void *arg)
{
	struct poller_ctx *p = arg;

	p->calls++;
	return REACTOR_POLLER_BUSY;
}

static void unregister_all(void)
{
	uint32_t i;

	for (i = 0; i < g_cfg.pollers; i++)
		reactor_poller_unregister(&g_ctx[i].poller);
	reactor_poller_unregister(&g_end_poller);
}

static int end_poller_fn(void *arg)
{
	(void)arg;
	g_end_ns = bench_now_ns();
	g_preempt_end = bench_preemptions();
	g_cpu_end = bench_process_cpu_ns();
	g_stats_end.stats_size = sizeof(g_stats_end);
	if (reactor_thread_get_stats(reactor_get_thread(), &g_stats_end) != 0)
		g_stats_end.busy_ticks = 0;
	unregister_all();
	reactor_app_stop(0);
	return REACTOR_POLLER_BUSY;
}

static void start_fn(void *ctx)
{
	uint32_t i;

	(void)ctx;
	g_nreactors = reactor_get_core_count();
	for (i = 0; i < g_cfg.pollers; i++) {
		g_ctx[i].poller = reactor_poller_register_named(bench_poller_fn, &g_ctx[i],
								g_cfg.period_us, "bench_poller");
		if (g_ctx[i].poller == NULL) {
			fprintf(stderr, PROG ": registering poller %" PRIu32 " failed: %s\n", i,
				strerror(errno));
			g_failed = 1;
			unregister_all();
			reactor_app_stop(BENCH_EXIT_FAIL);
			return;
		}
	}
	g_end_poller = reactor_poller_register_named(end_poller_fn, NULL,
						     (uint64_t)(g_cfg.seconds * 1e6), "poller_perf_end");
	if (g_end_poller == NULL) {
		fprintf(stderr, PROG ": cannot register the end poller: %s\n", strerror(errno));
		g_failed = 1;
		unregister_all();
		reactor_app_stop(BENCH_EXIT_FAIL);
		return;
	}
	printf(PROG ": running %.3f s with %" PRIu32 " poller(s), period %" PRIu64 " us, on core %" PRIu32 "...\n",
	       g_cfg.seconds, g_cfg.pollers, g_cfg.period_us, reactor_get_current_core());
	fflush(stdout);
	g_stats_start.stats_size = sizeof(g_stats_start);
	if (reactor_thread_get_stats(reactor_get_thread(), &g_stats_start) != 0)
		g_stats_start.busy_ticks = 0;
	/* The pollers first run after this function returns. */
	g_preempt_start = bench_preemptions();
	g_cpu_start = bench_process_cpu_ns();
	g_start_ns = bench_now_ns();
}

static int parse_fn(int ch, char *arg, void *ctx)
{
	(void)ctx;
	switch (ch) {
	case 't':
		return bench_parse_seconds(PROG, "-t", arg, 0.001, 3600, &g_cfg.seconds);
	case 'b':
		return bench_parse_u32(PROG, "-b", arg, 1, MAX_POLLERS, &g_cfg.pollers);
	case 'l':
		return bench_parse_u64(PROG, "-l", arg, 0, 3600ull * 1000000ull, &g_cfg.period_us);
	default:
		return -EINVAL;
	}
}

static void usage_fn(FILE *out, void *ctx)
{
	(void)ctx;
	fprintf(out, "  -b, --pollers N           number of pollers (default 1, max %u)\n"
		     "  -l, --period US           poller period in microseconds; 0: active pollers (default 0)\n"
		     "  -t, --time SECONDS        run time (default 1; fractions allowed)\n"
		     "\nCost of one poller call (SPDK poller_perf method): elapsed time / total calls\n"
		     "(ns_per_call), and the thread's busy time / calls (busy_ns_per_call, SPDK's\n"
		     "poller_cost). Runs on the main core; default mask: the first allowed CPU.\n",
		MAX_POLLERS);
}

static const struct option g_long_opts[] = {
	{ "time", required_argument, NULL, 't' },
	{ "pollers", required_argument, NULL, 'b' },
	{ "period", required_argument, NULL, 'l' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	struct reactor_app_opts opts;
	char maskbuf[32];
	uint64_t calls = 0, busy;
	double ns, secs;
	uint32_t i;
	int rc;

	rc = bench_parse_args(argc, argv, &opts, PROG, "t:b:l:", g_long_opts, parse_fn, usage_fn, NULL);
	if (rc >= 0)
		return rc;
	if (bench_default_one_core(PROG, &opts, maskbuf, sizeof(maskbuf)) != 0)
		return BENCH_EXIT_FAIL;
	opts.idle_policy = REACTOR_IDLE_POLL;
	g_ctx = calloc(g_cfg.pollers, sizeof(*g_ctx));
	if (g_ctx == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		return BENCH_EXIT_FAIL;
	}
	bench_watchdog_arm(g_cfg.seconds + 30);

	rc = reactor_app_start(&opts, start_fn, NULL);
	bench_watchdog_disarm();
	if (rc < 0) {
		free(g_ctx);
		return bench_start_failed(PROG, rc);
	}
	for (i = 0; i < g_cfg.pollers; i++)
		calls += g_ctx[i].calls;
	free(g_ctx);
	if (rc != 0 || g_failed || g_end_ns <= g_start_ns || calls == 0) {
		fprintf(stderr, PROG ": FAILED (status %d, %" PRIu64 " calls)\n", rc, calls);
		return BENCH_EXIT_FAIL;
	}
	ns = (double)(g_end_ns - g_start_ns);
	secs = ns / 1e9;
	busy = g_stats_end.busy_ticks - g_stats_start.busy_ticks;
	printf(PROG ": pollers=%" PRIu32 " period_us=%" PRIu64 " seconds=%.3f calls=%" PRIu64
		    " calls_per_sec=%.0f ns_per_call=%.2f busy_ns_per_call=%.2f cpu_share=%.2f"
		    " preemptions=%" PRIu64 "\n",
	       g_cfg.pollers, g_cfg.period_us, secs, calls, (double)calls / secs, ns / (double)calls,
	       bench_ticks_to_ns(busy) / (double)calls,
	       bench_cpu_share(g_cpu_end - g_cpu_start, g_end_ns - g_start_ns, g_nreactors),
	       g_preempt_end - g_preempt_start);
	return BENCH_EXIT_OK;
}
