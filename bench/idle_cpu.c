/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * idle_cpu: CPU used by an idle app (reactors on every core of the mask,
 * default every allowed CPU, nothing to do) over -t seconds, for the poll
 * and the adaptive idle policy (switched at run time with
 * reactor_set_idle_policy()). CPU time is the whole process's
 * (CLOCK_PROCESS_CPUTIME_ID, split into user/system with getrusage());
 * 100% is one full core.
 *
 *   idle_cpu: policy=adaptive cores=2 seconds=10.000 cpu_percent=0.05 cpu_percent_per_core=0.03 ...
 */
#include "bench_common.h"

#include <sys/resource.h>

#define PROG "idle_cpu"
#define SETTLE_US 200000u

struct config {
	double seconds;
	unsigned int policies;
	uint32_t idle_threshold_us; /* 0: library default */
};

struct snapshot {
	uint64_t wall_ns;
	uint64_t cpu_ns;
	uint64_t user_us;
	uint64_t sys_us;
	uint64_t sleeps;
	uint64_t wakeups;
};

static struct config g_cfg = {
	.seconds = 10.0,
	.policies = BENCH_POLICY_POLL | BENCH_POLICY_ADAPTIVE,
};

static enum reactor_idle_policy g_phases[2];
static uint32_t g_nphases, g_cur;
static struct reactor_poller *g_poller;
static struct snapshot g_snap0;
static uint32_t g_ncores;
static char g_cores[256];
static int g_failed;

static void phase_begin(void);

static void take_snapshot(struct snapshot *s)
{
	struct rusage ru;
	uint32_t core;

	memset(s, 0, sizeof(*s));
	REACTOR_FOREACH_CORE(core)
	{
		struct reactor_stats st;

		memset(&st, 0, sizeof(st));
		st.stats_size = sizeof(st);
		if (reactor_get_stats(core, &st) == 0) {
			s->sleeps += st.sleeps;
			s->wakeups += st.wakeups;
		}
	}
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		s->user_us = (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec;
		s->sys_us = (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
	}
	s->cpu_ns = bench_process_cpu_ns();
	s->wall_ns = bench_now_ns();
}

static void stop_failed(const char *what, int err)
{
	fprintf(stderr, PROG ": %s failed: %s\n", what, strerror(err < 0 ? -err : err));
	g_failed = 1;
	reactor_poller_unregister(&g_poller);
	reactor_app_stop(BENCH_EXIT_FAIL);
}

static int measure_end_fn(void *arg)
{
	struct snapshot s;
	double wall, cpu;

	(void)arg;
	take_snapshot(&s);
	reactor_poller_unregister(&g_poller);
	wall = (double)(s.wall_ns - g_snap0.wall_ns);
	cpu = (double)(s.cpu_ns - g_snap0.cpu_ns);
	printf(PROG ": policy=%s cores=%" PRIu32 " cpus=%s seconds=%.3f cpu_percent=%.2f"
		    " cpu_percent_per_core=%.2f user_percent=%.2f sys_percent=%.2f"
		    " sleeps=%" PRIu64 " wakeups=%" PRIu64 "\n",
	       bench_policy_name(g_phases[g_cur]), g_ncores, g_cores, wall / 1e9, 100.0 * cpu / wall,
	       100.0 * cpu / wall / g_ncores, 100.0 * (double)(s.user_us - g_snap0.user_us) * 1e3 / wall,
	       100.0 * (double)(s.sys_us - g_snap0.sys_us) * 1e3 / wall, s.sleeps - g_snap0.sleeps,
	       s.wakeups - g_snap0.wakeups);
	fflush(stdout);
	if (++g_cur < g_nphases)
		phase_begin();
	else
		reactor_app_stop(0);
	return REACTOR_POLLER_BUSY;
}

/* The policy is in effect and the reactors have settled: start measuring. */
static int settle_fn(void *arg)
{
	(void)arg;
	reactor_poller_unregister(&g_poller);
	g_poller = reactor_poller_register_named(measure_end_fn, NULL, (uint64_t)(g_cfg.seconds * 1e6),
						 "idle_cpu_measure");
	if (g_poller == NULL) {
		stop_failed("registering the measurement poller", errno);
		return REACTOR_POLLER_BUSY;
	}
	take_snapshot(&g_snap0);
	return REACTOR_POLLER_BUSY;
}

static void phase_begin(void)
{
	uint32_t core;
	int rc;

	REACTOR_FOREACH_CORE(core)
	{
		rc = reactor_set_idle_policy(core, g_phases[g_cur]);
		if (rc != 0) {
			stop_failed("reactor_set_idle_policy", rc);
			return;
		}
	}
	g_poller = reactor_poller_register_named(settle_fn, NULL, SETTLE_US, "idle_cpu_settle");
	if (g_poller == NULL)
		stop_failed("registering the settle poller", errno);
}

static void start_fn(void *ctx)
{
	(void)ctx;
	g_ncores = reactor_get_core_count();
	bench_format_cores(g_cores, sizeof(g_cores));
	printf(PROG ": %" PRIu32 " idle reactor(s) on CPUs %s, %.3f s per policy...\n", g_ncores, g_cores,
	       g_cfg.seconds);
	fflush(stdout);
	g_cur = 0;
	phase_begin();
}

static int parse_fn(int ch, char *arg, void *ctx)
{
	(void)ctx;
	switch (ch) {
	case 't':
		return bench_parse_seconds(PROG, "-t", arg, 0.01, 3600, &g_cfg.seconds);
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
	fprintf(out, "  -t, --time SECONDS        measurement time per policy (default 10)\n"
		     "  -a, --policies P          poll, adaptive or both (default both)\n"
		     "      --idle-threshold US   adaptive: idle time before sleeping (default: library's)\n"
		     "\nCPU used by an idle app on every core of the mask (default: every allowed CPU),\n"
		     "per idle policy, from CLOCK_PROCESS_CPUTIME_ID and getrusage(); 100%% is one full\n"
		     "core. The policy is switched at run time; --idle-policy only sets the initial one.\n");
}

static const struct option g_long_opts[] = {
	{ "time", required_argument, NULL, 't' },
	{ "policies", required_argument, NULL, 'a' },
	{ "idle-threshold", required_argument, NULL, BENCH_OPT_IDLE_THRESHOLD },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	struct reactor_app_opts opts;
	int rc;

	rc = bench_parse_args(argc, argv, &opts, PROG, "t:a:", g_long_opts, parse_fn, usage_fn, NULL);
	if (rc >= 0)
		return rc;
	if (g_cfg.policies & BENCH_POLICY_POLL)
		g_phases[g_nphases++] = REACTOR_IDLE_POLL;
	if (g_cfg.policies & BENCH_POLICY_ADAPTIVE)
		g_phases[g_nphases++] = REACTOR_IDLE_ADAPTIVE;
	opts.idle_policy = g_phases[0];
	if (g_cfg.idle_threshold_us != 0)
		opts.idle_threshold_us = g_cfg.idle_threshold_us;
	bench_watchdog_arm(g_nphases * (g_cfg.seconds + SETTLE_US / 1e6) * 1.2 + 30);

	rc = reactor_app_start(&opts, start_fn, NULL);
	bench_watchdog_disarm();
	if (rc < 0) {
		return bench_start_failed(PROG, rc);
	}
	if (rc != 0 || g_failed || g_cur != g_nphases) {
		fprintf(stderr, PROG ": FAILED (status %d)\n", rc);
		return BENCH_EXIT_FAIL;
	}
	return BENCH_EXIT_OK;
}
