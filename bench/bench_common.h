/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Helpers shared by the libreactor benchmarks: argument parsing on top of
 * reactor_app_parse_args(), timing, a run-time watchdog, CPU lists and
 * printing. Each benchmark is a single translation unit, so everything here
 * is static inline.
 *
 * Output convention: every result line starts with "<bench>: " followed by
 * space-separated key=value fields, so `grep '^event_perf:'` and
 * `grep -o 'total=[0-9.]*'` pick figures out of the output.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

/* Include this header first: the CPU affinity calls need _GNU_SOURCE. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <reactor.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Exit codes: 0 success, 1 run failure, 2 bad arguments, 3 watchdog fired. */
#define BENCH_EXIT_OK 0
#define BENCH_EXIT_FAIL 1
#define BENCH_EXIT_USAGE 2
#define BENCH_EXIT_WATCHDOG 3

/* Idle policies a benchmark should measure (-a/--policies). */
#define BENCH_POLICY_POLL 0x1u
#define BENCH_POLICY_ADAPTIVE 0x2u

#define BENCH_CACHE_LINE 64

/* ---- time ------------------------------------------------------------------ */

/** CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/** CPU time consumed by the whole process (all threads), in nanoseconds. */
static inline uint64_t bench_process_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/** Convert a reactor_get_ticks() difference to nanoseconds. */
static inline double bench_ticks_to_ns(uint64_t ticks)
{
	return (double)ticks * 1e9 / (double)reactor_get_ticks_hz();
}

static inline void bench_sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

static inline void bench_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* ---- watchdog: every benchmark stops by itself ------------------------------ */

static inline void bench_watchdog_handler(int sig)
{
	static const char msg[] = "bench: watchdog: the benchmark did not finish in time, aborting\n";
	ssize_t rc;

	(void)sig;
	rc = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)rc;
	_exit(BENCH_EXIT_WATCHDOG);
}

/**
 * Abort the process (exit code 3, message on stderr) if it is still running
 * after @p seconds. A safety net against a lost event or a stuck shutdown.
 */
static inline void bench_watchdog_arm(double seconds)
{
	struct sigaction sa;
	unsigned int s = (unsigned int)seconds + 1; /* rounded up; no libm */

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = bench_watchdog_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	alarm(s < 1 ? 1 : s);
}

static inline void bench_watchdog_disarm(void)
{
	alarm(0);
}

/**
 * Involuntary context switches of the whole process so far. A polled
 * benchmark that was preempted (other load on its CPUs) reads low: the
 * benchmarks print the count taken during the measurement.
 */
static inline uint64_t bench_preemptions(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (uint64_t)ru.ru_nivcsw;
}

/**
 * CPU time the process got per reactor during a polled run, as a share of
 * the wall time: about 1.0 when every polling reactor had its CPU to itself
 * (the stall watchdog and the like add a little); well below 1.0 when other
 * load took CPU time, and the figures of that run read low.
 */
static inline double bench_cpu_share(uint64_t cpu_ns, uint64_t wall_ns, uint32_t reactors)
{
	if (wall_ns == 0 || reactors == 0)
		return 0;
	return (double)cpu_ns / (double)wall_ns / (double)reactors;
}

/* ---- argument parsing ------------------------------------------------------- */

/*
 * Values for long-only options. The library uses 0x100 and up for its own
 * long-only options (not documented in app.h), so stay well above them.
 */
#define BENCH_OPT_IDLE_THRESHOLD 0x7001

/**
 * Parse an unsigned integer option value in [min, max]. Prints a message
 * naming the option and returns -EINVAL when it is not one.
 */
static inline int bench_parse_u64(const char *prog, const char *opt, const char *arg, uint64_t min,
				  uint64_t max, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v;

	errno = 0;
	if (arg == NULL || *arg == '\0' || *arg == '-' || *arg == '+')
		goto bad;
	v = strtoull(arg, &end, 0);
	if (errno != 0 || end == arg || *end != '\0' || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	fprintf(stderr, "%s: invalid value '%s' for %s: expected an integer in [%" PRIu64 ", %" PRIu64 "]\n",
		prog, arg ? arg : "", opt, min, max);
	return -EINVAL;
}

static inline int bench_parse_u32(const char *prog, const char *opt, const char *arg, uint32_t min,
				  uint32_t max, uint32_t *out)
{
	uint64_t v;
	int rc = bench_parse_u64(prog, opt, arg, min, max, &v);

	if (rc == 0)
		*out = (uint32_t)v;
	return rc;
}

/** Parse a duration in seconds (fractions allowed) in [min, max]. */
static inline int bench_parse_seconds(const char *prog, const char *opt, const char *arg, double min,
				      double max, double *out)
{
	char *end = NULL;
	double v;

	errno = 0;
	if (arg == NULL || *arg == '\0')
		goto bad;
	v = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !(v >= min && v <= max))
		goto bad;
	*out = v;
	return 0;
bad:
	fprintf(stderr, "%s: invalid value '%s' for %s: expected seconds in [%g, %g]\n", prog,
		arg ? arg : "", opt, min, max);
	return -EINVAL;
}

/** Parse "poll", "adaptive" or "both" into BENCH_POLICY_* bits. */
static inline int bench_parse_policies(const char *prog, const char *opt, const char *arg,
				       unsigned int *out)
{
	if (arg != NULL && strcmp(arg, "poll") == 0)
		*out = BENCH_POLICY_POLL;
	else if (arg != NULL && strcmp(arg, "adaptive") == 0)
		*out = BENCH_POLICY_ADAPTIVE;
	else if (arg != NULL && strcmp(arg, "both") == 0)
		*out = BENCH_POLICY_POLL | BENCH_POLICY_ADAPTIVE;
	else {
		fprintf(stderr, "%s: invalid value '%s' for %s: expected poll, adaptive or both\n",
			prog, arg ? arg : "", opt);
		return -EINVAL;
	}
	return 0;
}

static inline const char *bench_policy_name(enum reactor_idle_policy p)
{
	return p == REACTOR_IDLE_ADAPTIVE ? "adaptive" : "poll";
}

/**
 * Initialise @p opts and parse the command line: the standard options
 * (-m, -p, -L, --log-level, --idle-policy, --stall-threshold, -h, -v) plus
 * the benchmark's own. Returns -1 to go on, or the exit code to return from
 * main (0 after --help/--version, 2 on a bad argument).
 */
static inline int bench_parse_args(int argc, char **argv, struct reactor_app_opts *opts,
				   const char *name, const char *getopt_str,
				   const struct option *long_opts, reactor_app_parse_fn parse_fn,
				   reactor_app_usage_fn usage_fn, void *ctx)
{
	int rc;

	reactor_app_opts_init(opts, sizeof(*opts));
	opts->name = name;
	rc = reactor_app_parse_args(argc, argv, opts, getopt_str, long_opts, parse_fn, usage_fn, ctx);
	switch (rc) {
	case REACTOR_APP_PARSE_ARGS_SUCCESS:
		break;
	case REACTOR_APP_PARSE_ARGS_HELP:
		return BENCH_EXIT_OK;
	default: /* the library printed what is wrong */
		return BENCH_EXIT_USAGE;
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s' (see %s --help)\n", name, argv[optind],
			name);
		return BENCH_EXIT_USAGE;
	}
	return -1;
}

/* ---- CPUs ----------------------------------------------------------------- */

/**
 * The CPUs named by @p mask (NULL: every allowed CPU), in increasing order,
 * into @p cpus (at most @p max). Rejects CPUs outside the allowed set.
 * Returns the count, or -1 after printing why.
 */
static inline int bench_cpu_list(const char *prog, const char *mask, uint32_t *cpus, uint32_t max)
{
	struct reactor_cpuset *allowed = reactor_cpuset_create();
	struct reactor_cpuset *set = reactor_cpuset_create();
	char err[256];
	uint32_t c;
	int n = -1;

	if (allowed == NULL || set == NULL) {
		fprintf(stderr, "%s: out of memory\n", prog);
		goto out;
	}
	if (reactor_env_get_allowed_cpus(allowed) != 0) {
		fprintf(stderr, "%s: cannot read the allowed CPU set\n", prog);
		goto out;
	}
	if (mask == NULL) {
		reactor_cpuset_copy(set, allowed);
	} else if (reactor_cpuset_parse(set, mask, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: bad CPU mask: %s\n", prog, err);
		goto out;
	}
	n = 0;
	for (c = reactor_cpuset_next(set, UINT32_MAX); c != UINT32_MAX; c = reactor_cpuset_next(set, c)) {
		if (!reactor_cpuset_isset(allowed, c)) {
			fprintf(stderr, "%s: CPU %" PRIu32 " is not in the allowed CPU set\n", prog, c);
			n = -1;
			goto out;
		}
		if ((uint32_t)n < max)
			cpus[n++] = c;
	}
	if (n == 0) {
		fprintf(stderr, "%s: the CPU mask is empty\n", prog);
		n = -1;
	}
out:
	reactor_cpuset_destroy(set);
	reactor_cpuset_destroy(allowed);
	return n;
}

/**
 * For single-core benchmarks: when no -m was given, use only the first
 * allowed CPU (written into @p buf, which must outlive the run).
 * Returns 0 or -1 after printing why.
 */
/** Exit code for a reactor_app_start() failure (-EINVAL: bad options, the library said why). */
static inline int bench_start_failed(const char *prog, int rc)
{
	fprintf(stderr, "%s: reactor_app_start failed: %s\n", prog, strerror(-rc));
	return rc == -EINVAL ? BENCH_EXIT_USAGE : BENCH_EXIT_FAIL;
}

static inline int bench_default_one_core(const char *prog, struct reactor_app_opts *opts, char *buf,
					 size_t len)
{
	uint32_t cpu;

	if (opts->cpumask != NULL)
		return 0;
	if (bench_cpu_list(prog, NULL, &cpu, 1) != 1)
		return -1;
	/* List form: a bare "1" would be read as the hex mask 0x1. */
	snprintf(buf, len, "[%" PRIu32 "]", cpu);
	opts->cpumask = buf;
	return 0;
}

/** Pin the calling OS thread to @p cpu. Returns 0 or a positive errno. */
static inline int bench_pin_self(uint32_t cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/** Format the reactor cores (after init) as "0,1,...". */
static inline void bench_format_cores(char *buf, size_t len)
{
	uint32_t core;
	size_t off = 0;

	buf[0] = '\0';
	REACTOR_FOREACH_CORE(core)
	{
		int w = snprintf(buf + off, len - off, "%s%" PRIu32, off ? "," : "", core);

		if (w < 0 || (size_t)w >= len - off)
			break;
		off += (size_t)w;
	}
}

/* ---- statistics ------------------------------------------------------------- */

static inline int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/** Nearest-rank percentile @p p (0..100) of @p n sorted values. */
static inline uint64_t bench_percentile(const uint64_t *sorted, size_t n, double p)
{
	double r = p / 100.0 * (double)n;
	size_t rank;

	if (n == 0)
		return 0;
	rank = (size_t)r;
	if ((double)rank < r) /* ceil() without libm */
		rank++;
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

#endif
