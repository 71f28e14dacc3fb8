/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * msg_latency: round-trip latency of reactor_thread_send_msg() between two
 * lightweight threads on two reactors (the same reactor when only one CPU is
 * available). The app thread ("ping", main core) sends a message to the
 * "pong" thread on the other core, which answers with a message back; the
 * round trip is timed with reactor_get_ticks().
 *
 * For each idle policy (poll, adaptive; switched at run time with
 * reactor_set_idle_policy()) two modes are measured:
 * - back-to-back: the next ping leaves as soon as the pong arrives;
 * - paced: one ping every -i microseconds (default 1000), so an adaptive
 *   reactor has time to fall asleep between pings.
 *
 *   msg_latency: policy=adaptive mode=paced ... p50_us=... p99_us=... max_us=...
 */
#include "bench_common.h"

#include <stdatomic.h>

#define PROG "msg_latency"

enum mode { MODE_B2B, MODE_PACED };

struct config {
	uint32_t samples;	 /* back-to-back */
	uint32_t paced_samples;
	uint64_t interval_us;
	unsigned int policies;
	uint32_t idle_threshold_us; /* 0: library default */
};

struct phase {
	enum reactor_idle_policy policy;
	enum mode mode;
	uint32_t samples;
	uint32_t warmup;
};

static struct config g_cfg = {
	.samples = 100000,
	.paced_samples = 1000,
	.interval_us = 1000,
	.policies = BENCH_POLICY_POLL | BENCH_POLICY_ADAPTIVE,
};

static struct phase g_phases[4];
static uint32_t g_nphases, g_cur;
static struct reactor_thread *g_ping, *g_pong;
static uint32_t g_ping_core, g_pong_core;
static struct reactor_poller *g_pace_poller, *g_settle_poller;
static uint64_t *g_samples;
static uint32_t g_nsamples, g_nwarm;
static uint64_t g_send_ticks;
static bool g_in_flight;
static _Atomic int g_failed; /* also set by the pong thread */
static struct reactor_stats g_pong_stats0, g_ping_stats0;
static uint64_t g_preempt0;

static void phase_begin(void);
static void send_ping(void);
static void finish(void);

static void fail(const char *what, int rc)
{
	fprintf(stderr, PROG ": %s failed: %s\n", what, strerror(rc < 0 ? -rc : rc));
	g_failed = 1;
	reactor_poller_unregister(&g_pace_poller);
	reactor_poller_unregister(&g_settle_poller);
	reactor_app_stop(BENCH_EXIT_FAIL);
}

static void get_stats(uint32_t core, struct reactor_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->stats_size = sizeof(*st);
	if (reactor_get_stats(core, st) != 0)
		memset(st, 0, sizeof(*st));
}

static void phase_end(void)
{
	const struct phase *ph = &g_phases[g_cur];
	struct reactor_stats pong_st, ping_st;
	uint64_t sum = 0;
	uint32_t i;

	reactor_poller_unregister(&g_pace_poller);
	get_stats(g_pong_core, &pong_st);
	get_stats(g_ping_core, &ping_st);
	qsort(g_samples, g_nsamples, sizeof(g_samples[0]), bench_cmp_u64);
	for (i = 0; i < g_nsamples; i++)
		sum += g_samples[i];
	printf(PROG ": policy=%s mode=%s interval_us=%" PRIu64 " cores=%" PRIu32 ">%" PRIu32
		    " samples=%" PRIu32 " min_us=%.2f p50_us=%.2f p99_us=%.2f p999_us=%.2f max_us=%.2f mean_us=%.2f"
		    " ping_core_sleeps=%" PRIu64 " pong_core_sleeps=%" PRIu64 " pong_core_wakeups=%" PRIu64
		    " preemptions=%" PRIu64 "\n",
	       bench_policy_name(ph->policy), ph->mode == MODE_B2B ? "back-to-back" : "paced",
	       ph->mode == MODE_B2B ? (uint64_t)0 : g_cfg.interval_us, g_ping_core, g_pong_core,
	       g_nsamples, bench_ticks_to_ns(g_samples[0]) / 1e3,
	       bench_ticks_to_ns(bench_percentile(g_samples, g_nsamples, 50)) / 1e3,
	       bench_ticks_to_ns(bench_percentile(g_samples, g_nsamples, 99)) / 1e3,
	       bench_ticks_to_ns(bench_percentile(g_samples, g_nsamples, 99.9)) / 1e3,
	       bench_ticks_to_ns(g_samples[g_nsamples - 1]) / 1e3,
	       bench_ticks_to_ns(sum) / 1e3 / (double)g_nsamples,
	       ping_st.sleeps - g_ping_stats0.sleeps, pong_st.sleeps - g_pong_stats0.sleeps,
	       pong_st.wakeups - g_pong_stats0.wakeups, bench_preemptions() - g_preempt0);
	fflush(stdout);

	if (++g_cur < g_nphases) {
		phase_begin();
		return;
	}
	finish();
}

/* On the main core (it runs the ping thread): everything is quiet, stop. */
static void stop_event_fn(void *arg1, void *arg2)
{
	(void)arg1;
	(void)arg2;
	reactor_app_stop(g_failed ? BENCH_EXIT_FAIL : 0);
}

/*
 * On the pong thread, after its last pong_fn send has returned: stop with an
 * event to the main core rather than a message to the ping thread. A
 * message whose handling ends in the target's exit (here: reactor_app_stop())
 * raced with the free of that thread in libreactor before ecc6e45, where
 * reactor_thread_send_msg() read the thread after publishing the message
 * (TSAN showed it). An event only touches the reactor, which lives on.
 */
static void fin_fn(void *ctx)
{
	struct reactor_event *ev = reactor_event_allocate(g_ping_core, stop_event_fn, NULL, NULL);

	(void)ctx;
	if (ev == NULL || reactor_event_call(ev) != 0) {
		reactor_event_free(ev);
		fprintf(stderr, PROG ": cannot send the stop event\n");
		g_failed = 1;
		reactor_app_stop(BENCH_EXIT_FAIL);
	}
}

/* On the ping thread: nothing is registered on it; the pong thread has nothing either. */
static void finish(void)
{
	int rc = reactor_thread_send_msg(g_pong, fin_fn, NULL);

	if (rc != 0)
		fail("sending the final message", rc);
}

/* On the ping (app) thread: the answer arrived. */
static void pong_fn(void *ctx)
{
	uint64_t dt = reactor_get_ticks() - g_send_ticks;

	(void)ctx;
	g_in_flight = false;
	if (g_failed)
		return;
	if (g_nwarm < g_phases[g_cur].warmup)
		g_nwarm++;
	else
		g_samples[g_nsamples++] = dt;
	if (g_nsamples == g_phases[g_cur].samples) {
		phase_end();
		return;
	}
	if (g_phases[g_cur].mode == MODE_B2B)
		send_ping();
}

/*
 * On the pong thread: answer. The thread to answer comes in @p ctx so the
 * pong side reads no global written by the ping side (no cache-line traffic
 * other than the library's own).
 */
static void ping_fn(void *ctx)
{
	int rc = reactor_thread_send_msg(ctx, pong_fn, NULL);

	if (rc != 0) {
		fprintf(stderr, PROG ": pong: reactor_thread_send_msg failed: %s\n", strerror(-rc));
		reactor_app_stop(BENCH_EXIT_FAIL);
	}
}

static void send_ping(void)
{
	int rc;

	g_in_flight = true;
	g_send_ticks = reactor_get_ticks();
	rc = reactor_thread_send_msg(g_pong, ping_fn, g_ping);
	if (rc != 0)
		fail("ping: reactor_thread_send_msg", rc);
}

static int pace_fn(void *arg)
{
	(void)arg;
	if (g_in_flight)
		return REACTOR_POLLER_IDLE;
	send_ping();
	return REACTOR_POLLER_BUSY;
}

/* The new policy is in effect: start sending. */
static int settle_fn(void *arg)
{
	(void)arg;
	reactor_poller_unregister(&g_settle_poller);
	get_stats(g_pong_core, &g_pong_stats0);
	get_stats(g_ping_core, &g_ping_stats0);
	g_preempt0 = bench_preemptions();
	if (g_phases[g_cur].mode == MODE_B2B) {
		send_ping();
	} else {
		g_pace_poller = reactor_poller_register_named(pace_fn, NULL, g_cfg.interval_us,
							      "msg_latency_pace");
		if (g_pace_poller == NULL)
			fail("registering the pacing poller", errno);
	}
	return REACTOR_POLLER_BUSY;
}

static void phase_begin(void)
{
	const struct phase *ph = &g_phases[g_cur];
	uint32_t core;
	int rc;

	REACTOR_FOREACH_CORE(core)
	{
		rc = reactor_set_idle_policy(core, ph->policy);
		if (rc != 0) {
			fail("reactor_set_idle_policy", rc);
			return;
		}
	}
	g_nsamples = 0;
	g_nwarm = 0;
	/* Give the reactors time to see the new policy (and to fall asleep). */
	g_settle_poller = reactor_poller_register_named(settle_fn, NULL, 20000, "msg_latency_settle");
	if (g_settle_poller == NULL)
		fail("registering the settle poller", errno);
}

static void start_fn(void *ctx)
{
	struct reactor_cpuset *set;
	uint32_t core;

	(void)ctx;
	g_ping = reactor_get_thread();
	g_ping_core = reactor_get_current_core();
	g_pong_core = g_ping_core;
	REACTOR_FOREACH_CORE(core)
	{
		if (core != g_ping_core) {
			g_pong_core = core;
			break;
		}
	}
	set = reactor_cpuset_create();
	if (set == NULL || reactor_cpuset_set(set, g_pong_core) != 0) {
		reactor_cpuset_destroy(set);
		fail("reactor_cpuset_create", -ENOMEM);
		return;
	}
	g_pong = reactor_thread_create("pong", set);
	reactor_cpuset_destroy(set);
	if (g_pong == NULL) {
		fail("reactor_thread_create", errno);
		return;
	}
	if (g_pong_core == g_ping_core)
		printf(PROG ": only one reactor core: ping and pong share core %" PRIu32 "\n", g_ping_core);
	printf(PROG ": ping thread on core %" PRIu32 ", pong thread on core %" PRIu32 "\n", g_ping_core,
	       g_pong_core);
	fflush(stdout);
	g_cur = 0;
	phase_begin();
}

static int parse_fn(int ch, char *arg, void *ctx)
{
	(void)ctx;
	switch (ch) {
	case 'n':
		return bench_parse_u32(PROG, "-n", arg, 1, 100000000, &g_cfg.samples);
	case 's':
		return bench_parse_u32(PROG, "-s", arg, 1, 1000000, &g_cfg.paced_samples);
	case 'i':
		return bench_parse_u64(PROG, "-i", arg, 1, 1000000, &g_cfg.interval_us);
	case 'a':
		return bench_parse_policies(PROG, "-a", arg, &g_cfg.policies);
	case BENCH_OPT_IDLE_THRESHOLD:
		return bench_parse_u32(PROG, "--idle-threshold", arg, 1, 10000000, &g_cfg.idle_threshold_us);
	default:
		return -EINVAL;
	}
}

static void usage_fn(FILE *out, void *ctx)
{
	(void)ctx;
	fprintf(out, "  -n, --samples N           back-to-back samples per policy (default 100000)\n"
		     "  -s, --paced-samples N     paced samples per policy (default 1000)\n"
		     "  -i, --interval US         pacing interval in microseconds (default 1000)\n"
		     "  -a, --policies P          poll, adaptive or both (default both)\n"
		     "      --idle-threshold US   adaptive: idle time before sleeping (default: library's)\n"
		     "\nRound trip of a reactor_thread_send_msg() ping-pong between two lightweight threads\n"
		     "on two reactors (the main core and the next core of the mask; default mask: every\n"
		     "allowed CPU), back-to-back and paced, for each idle policy. The policy is switched\n"
		     "at run time; --idle-policy only sets the initial one. Prints min/p50/p99/p99.9/max in us.\n");
}

static const struct option g_long_opts[] = {
	{ "samples", required_argument, NULL, 'n' },
	{ "paced-samples", required_argument, NULL, 's' },
	{ "interval", required_argument, NULL, 'i' },
	{ "policies", required_argument, NULL, 'a' },
	{ "idle-threshold", required_argument, NULL, BENCH_OPT_IDLE_THRESHOLD },
	{ NULL, 0, NULL, 0 },
};

static void add_phases(enum reactor_idle_policy policy)
{
	uint32_t warm_b2b = g_cfg.samples / 10 < 1000 ? g_cfg.samples / 10 : 1000;

	g_phases[g_nphases++] = (struct phase){ policy, MODE_B2B, g_cfg.samples, warm_b2b };
	g_phases[g_nphases++] = (struct phase){ policy, MODE_PACED, g_cfg.paced_samples, 3 };
}

int main(int argc, char **argv)
{
	struct reactor_app_opts opts;
	uint32_t max_samples;
	double est;
	int rc;

	rc = bench_parse_args(argc, argv, &opts, PROG, "n:s:i:a:", g_long_opts, parse_fn, usage_fn, NULL);
	if (rc >= 0)
		return rc;
	if (g_cfg.policies & BENCH_POLICY_POLL)
		add_phases(REACTOR_IDLE_POLL);
	if (g_cfg.policies & BENCH_POLICY_ADAPTIVE)
		add_phases(REACTOR_IDLE_ADAPTIVE);
	opts.idle_policy = g_phases[0].policy;
	if (g_cfg.idle_threshold_us != 0)
		opts.idle_threshold_us = g_cfg.idle_threshold_us;
	max_samples = g_cfg.samples > g_cfg.paced_samples ? g_cfg.samples : g_cfg.paced_samples;
	g_samples = calloc(max_samples, sizeof(*g_samples));
	if (g_samples == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		return BENCH_EXIT_FAIL;
	}
	/* Bound: paced phases take samples * interval; allow 1 ms per back-to-back sample. */
	est = (double)g_nphases / 2 *
	      ((double)(g_cfg.paced_samples + 3) * (double)g_cfg.interval_us / 1e6 * 1.5 +
	       (double)g_cfg.samples * 1e-3);
	bench_watchdog_arm(est + 30);

	rc = reactor_app_start(&opts, start_fn, NULL);
	bench_watchdog_disarm();
	free(g_samples);
	if (rc < 0) {
		return bench_start_failed(PROG, rc);
	}
	if (rc != 0 || g_failed || g_cur != g_nphases) {
		fprintf(stderr, PROG ": FAILED (status %d)\n", rc);
		return BENCH_EXIT_FAIL;
	}
	return BENCH_EXIT_OK;
}
