/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared helpers for libreactor's cmocka unit tests.
 *
 * Rules the helpers enforce:
 * - cmocka assertions (longjmp) are used only on the test's main thread,
 *   outside any reactor callback. Inside callbacks and on helper pthreads,
 *   use H_CHECK*() which records the failure; the test then calls
 *   h_assert_no_failures() after the app/framework has returned.
 * - Every wait has a timeout. A process-wide watchdog thread bails out
 *   ("Bail out!" on stdout, exit 1) naming what was being waited for, so a
 *   broken library makes the test fail instead of hanging.
 * - Counts are scaled down under sanitizers or with REACTOR_TEST_SCALE.
 */
#ifndef REACTOR_TESTS_UNIT_HELPERS_H
#define REACTOR_TESTS_UNIT_HELPERS_H

/* Include this header first: the tests use GNU extensions (CPU_SET, strcasestr). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <reactor.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define H_UNUSED __attribute__((unused))

extern char **environ;

/* ---- sanitizer detection ------------------------------------------------- */
#if defined(__SANITIZE_THREAD__)
#define H_TSAN 1
#endif
#if defined(__SANITIZE_ADDRESS__)
#define H_ASAN 1
#endif
#if defined(__has_feature)
#if __has_feature(thread_sanitizer) && !defined(H_TSAN)
#define H_TSAN 1
#endif
#if __has_feature(address_sanitizer) && !defined(H_ASAN)
#define H_ASAN 1
#endif
#endif
#if defined(H_TSAN) || defined(H_ASAN)
#define H_SANITIZED 1
#endif

/* ---- time ------------------------------------------------------------------ */
static inline H_UNUSED uint64_t h_clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline H_UNUSED uint64_t h_now_ns(void)
{
	return h_clock_ns(CLOCK_MONOTONIC);
}

static inline H_UNUSED uint64_t h_now_ms(void)
{
	return h_now_ns() / 1000000ull;
}

/* CPU time used by the whole process (all threads), in ns. */
static inline H_UNUSED uint64_t h_process_cpu_ns(void)
{
	return h_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

/* CPU time used by the calling thread, in ns. */
static inline H_UNUSED uint64_t h_thread_cpu_ns(void)
{
	return h_clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

/* Process CPU time from getrusage (user + system), in ns. */
static inline H_UNUSED uint64_t h_rusage_cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ull +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ull;
}

static inline H_UNUSED void h_sleep_us(uint64_t us)
{
	struct timespec ts = {.tv_sec = (time_t)(us / 1000000u), .tv_nsec = (long)(us % 1000000u) * 1000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static inline H_UNUSED void h_sleep_ms(uint64_t ms)
{
	h_sleep_us(ms * 1000u);
}

/* Busy-wait (no sleeping) for @p ms of wall time. */
static inline H_UNUSED void h_spin_ms(uint64_t ms)
{
	uint64_t end = h_now_ns() + ms * 1000000ull;

	while (h_now_ns() < end)
		;
}

/* ---- scaling of work for sanitizers / slow machines -------------------------- */

/*
 * Factor applied to iteration counts: REACTOR_TEST_SCALE (e.g. "0.1") if set,
 * otherwise 1 for plain builds, 1/4 under ASan and 1/20 under TSan.
 */
static inline H_UNUSED double h_scale(void)
{
	const char *s = getenv("REACTOR_TEST_SCALE");

	if (s != NULL && *s != '\0') {
		double v = strtod(s, NULL);

		if (v > 0)
			return v;
	}
#if defined(H_TSAN)
	return 0.05;
#elif defined(H_ASAN)
	return 0.25;
#else
	return 1.0;
#endif
}

static inline H_UNUSED uint64_t h_scaled(uint64_t n, uint64_t min)
{
	double v = (double)n * h_scale();

	return v < (double)min ? min : (uint64_t)v;
}

/* Multiplier for timeouts (never for lower bounds of assertions). */
static inline H_UNUSED unsigned int h_timeout_factor(void)
{
#if defined(H_SANITIZED)
	return 3;
#else
	return 1;
#endif
}

/* ---- failure recording (usable on any thread) ------------------------------ */
static atomic_int h_fail_count;
static pthread_mutex_t h_fail_lock = PTHREAD_MUTEX_INITIALIZER;
static char h_fail_text[4096];

static H_UNUSED REACTOR_PRINTF(3, 4) void h_fail_at(const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	size_t used;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "# FAILED CHECK %s:%d: %s\n", file, line, msg);
	fflush(stderr);
	pthread_mutex_lock(&h_fail_lock);
	used = strlen(h_fail_text);
	if (used + 2 < sizeof(h_fail_text))
		snprintf(h_fail_text + used, sizeof(h_fail_text) - used, "%s:%d: %s\n", file, line, msg);
	pthread_mutex_unlock(&h_fail_lock);
	atomic_fetch_add(&h_fail_count, 1);
}

#define H_FAIL(...) h_fail_at(__FILE__, __LINE__, __VA_ARGS__)

/* Record a failure when @p cond is false; evaluates to cond (bool). */
#define H_CHECK(cond) ((cond) ? true : (h_fail_at(__FILE__, __LINE__, "check failed: %s", #cond), false))

#define H_CHECK_INT(a, op, b)                                                  \
	({                                                                     \
		long long h_a_ = (long long)(a), h_b_ = (long long)(b);        \
		bool h_ok_ = (h_a_ op h_b_);                                   \
		if (!h_ok_)                                                    \
			h_fail_at(__FILE__, __LINE__, "check failed: %s %s %s (%lld vs %lld)", #a, #op, #b, h_a_, h_b_); \
		h_ok_;                                                         \
	})

#define H_CHECK_PTR_EQ(a, b)                                                   \
	({                                                                     \
		const void *h_a_ = (const void *)(a), *h_b_ = (const void *)(b); \
		bool h_ok_ = (h_a_ == h_b_);                                   \
		if (!h_ok_)                                                    \
			h_fail_at(__FILE__, __LINE__, "check failed: %s == %s (%p vs %p)", #a, #b, h_a_, h_b_); \
		h_ok_;                                                         \
	})

static inline H_UNUSED void h_failures_reset(void)
{
	pthread_mutex_lock(&h_fail_lock);
	h_fail_text[0] = '\0';
	pthread_mutex_unlock(&h_fail_lock);
	atomic_store(&h_fail_count, 0);
}

static inline H_UNUSED int h_failures(void)
{
	return atomic_load(&h_fail_count);
}

/* On the test's main thread: fail the cmocka test if any H_CHECK failed. */
#define h_assert_no_failures()                                                 \
	do {                                                                   \
		if (h_failures() != 0) {                                       \
			pthread_mutex_lock(&h_fail_lock);                      \
			print_error("%d check(s) failed:\n%s", h_failures(), h_fail_text); \
			pthread_mutex_unlock(&h_fail_lock);                    \
			fail_msg("%d check(s) failed in callbacks/helper threads", h_failures()); \
		}                                                              \
	} while (0)

/* ---- watchdog ---------------------------------------------------------------- */
static pthread_mutex_t h_wd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t h_wd_cond = PTHREAD_COND_INITIALIZER;
static uint64_t h_wd_deadline_ns; /* 0: disarmed */
static char h_wd_test[128];
static char h_wd_what[256];
static bool h_wd_started;

static H_UNUSED void *h_watchdog_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&h_wd_lock);
	for (;;) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&h_wd_cond, &h_wd_lock, &ts);
		if (h_wd_deadline_ns != 0 && h_now_ns() > h_wd_deadline_ns) {
			char buf[600];
			int n = snprintf(buf, sizeof(buf),
					 "Bail out! watchdog: test '%s' timed out; last waiting for: %s\n",
					 h_wd_test, h_wd_what[0] ? h_wd_what : "(nothing recorded)");

			fflush(stdout);
			if (n > 0 && write(STDOUT_FILENO, buf, (size_t)n) < 0)
				(void)0;
			if (n > 0 && write(STDERR_FILENO, buf, (size_t)n) < 0)
				(void)0;
			_exit(1);
		}
	}
	return NULL;
}

/* Arm the watchdog: the current test must finish within @p seconds (scaled). */
static inline H_UNUSED void h_watchdog_arm(const char *test, unsigned int seconds)
{
	pthread_mutex_lock(&h_wd_lock);
	if (!h_wd_started) {
		pthread_t tid;
		pthread_attr_t attr;

		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&tid, &attr, h_watchdog_main, NULL) == 0)
			h_wd_started = true;
		pthread_attr_destroy(&attr);
	}
	snprintf(h_wd_test, sizeof(h_wd_test), "%s", test ? test : "?");
	h_wd_what[0] = '\0';
	h_wd_deadline_ns = h_now_ns() + (uint64_t)seconds * h_timeout_factor() * 1000000000ull;
	pthread_mutex_unlock(&h_wd_lock);
}

static inline H_UNUSED void h_watchdog_disarm(void)
{
	pthread_mutex_lock(&h_wd_lock);
	h_wd_deadline_ns = 0;
	pthread_mutex_unlock(&h_wd_lock);
}

/* Say what the test is waiting for now (shown if the watchdog fires). */
static inline H_UNUSED REACTOR_PRINTF(1, 2) void h_waiting_for(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&h_wd_lock);
	va_start(ap, fmt);
	vsnprintf(h_wd_what, sizeof(h_wd_what), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&h_wd_lock);
}

/* Standard per-test setup/teardown: reset failures, arm a 60 s watchdog. */
static H_UNUSED int h_setup(void **state)
{
	(void)state;
	h_failures_reset();
	h_watchdog_arm("(setup)", 60);
	return 0;
}

static H_UNUSED int h_teardown(void **state)
{
	(void)state;
	h_watchdog_disarm();
	return 0;
}

#define H_TEST(fn) cmocka_unit_test_setup_teardown(fn, h_setup, h_teardown)

/* Name the running test for the watchdog (call first in each test). */
#define H_BEGIN() h_watchdog_arm(__func__, 60)
#define H_BEGIN_TIMEOUT(sec) h_watchdog_arm(__func__, (sec))

/* A skipped check: cmocka 1.1 prints "not ok # SKIP", which TAP drivers
 * count as a failure, so skips are reported as a diagnostic and pass. */
#define H_SKIP(...)                                                            \
	do {                                                                   \
		fprintf(stderr, "# SKIP %s: ", __func__);                      \
		fprintf(stderr, __VA_ARGS__);                                  \
		fprintf(stderr, "\n");                                         \
		printf("# SKIP %s\n", __func__);                               \
		return;                                                        \
	} while (0)

/* ---- waiting with timeouts ----------------------------------------------------- */

/* Wait until @p pred(@p arg) is true, polling every ms. Records a failure
 * naming @p what on timeout and returns false. */
static inline H_UNUSED bool h_wait_until(bool (*pred)(void *), void *arg, unsigned int timeout_ms,
					 const char *what)
{
	uint64_t end = h_now_ns() + (uint64_t)timeout_ms * h_timeout_factor() * 1000000ull;

	h_waiting_for("%s", what);
	while (!pred(arg)) {
		if (h_now_ns() > end) {
			H_FAIL("timed out after %u ms waiting for %s", timeout_ms * h_timeout_factor(), what);
			return false;
		}
		h_sleep_us(500);
	}
	return true;
}

/* Wait until *v >= target. */
static inline H_UNUSED bool h_wait_ge(atomic_long *v, long target, unsigned int timeout_ms, const char *what)
{
	uint64_t end = h_now_ns() + (uint64_t)timeout_ms * h_timeout_factor() * 1000000ull;

	h_waiting_for("%s (want >= %ld)", what, target);
	while (atomic_load(v) < target) {
		if (h_now_ns() > end) {
			H_FAIL("timed out after %u ms waiting for %s: have %ld, want >= %ld",
			       timeout_ms * h_timeout_factor(), what, atomic_load(v), target);
			return false;
		}
		h_sleep_us(200);
	}
	return true;
}

/* Wait until *v == target. */
static inline H_UNUSED bool h_wait_eq(atomic_long *v, long target, unsigned int timeout_ms, const char *what)
{
	uint64_t end = h_now_ns() + (uint64_t)timeout_ms * h_timeout_factor() * 1000000ull;

	h_waiting_for("%s (want == %ld)", what, target);
	while (atomic_load(v) != target) {
		if (h_now_ns() > end) {
			H_FAIL("timed out after %u ms waiting for %s: have %ld, want %ld",
			       timeout_ms * h_timeout_factor(), what, atomic_load(v), target);
			return false;
		}
		h_sleep_us(200);
	}
	return true;
}

/* ---- CPU sets ------------------------------------------------------------------- */

/* The first @p n allowed CPUs as a hex mask in @p buf. False if fewer are allowed. */
static inline H_UNUSED bool h_mask_of_n(unsigned int n, char *buf, size_t len, uint32_t *cpus)
{
	struct reactor_cpuset *all = reactor_cpuset_create();
	struct reactor_cpuset *pick = reactor_cpuset_create();
	unsigned int got = 0;
	uint32_t c;
	bool ok = false;

	if (all == NULL || pick == NULL)
		goto out;
	if (reactor_env_get_allowed_cpus(all) != 0) {
		/* Fall back on sched_getaffinity directly. */
		cpu_set_t cs;

		reactor_cpuset_zero(all);
		if (sched_getaffinity(0, sizeof(cs), &cs) != 0)
			goto out;
		for (c = 0; c < CPU_SETSIZE && c < REACTOR_CPUSET_MAX_CPUS; c++)
			if (CPU_ISSET(c, &cs))
				reactor_cpuset_set(all, c);
	}
	for (c = reactor_cpuset_next(all, UINT32_MAX); c != UINT32_MAX && got < n;
	     c = reactor_cpuset_next(all, c)) {
		reactor_cpuset_set(pick, c);
		if (cpus != NULL)
			cpus[got] = c;
		got++;
	}
	if (got < n)
		goto out;
	ok = reactor_cpuset_format_mask(pick, buf, len) < (int)len;
out:
	reactor_cpuset_destroy(all);
	reactor_cpuset_destroy(pick);
	return ok;
}

/* Number of CPUs the process may run on. */
static inline H_UNUSED unsigned int h_allowed_cpu_count(void)
{
	cpu_set_t cs;

	if (sched_getaffinity(0, sizeof(cs), &cs) != 0)
		return 1;
	return (unsigned int)CPU_COUNT(&cs);
}

/* ---- running an app ------------------------------------------------------------- */

/*
 * Options for a test app on the first @p ncores allowed CPUs: signals not
 * handled, short thread exit timeout. Returns false (and leaves defaults)
 * when fewer CPUs are allowed. The mask text lives in a static buffer.
 */
static char h_app_mask_buf[300];
static uint32_t h_app_cpus[8];

static inline H_UNUSED bool h_app_opts(struct reactor_app_opts *opts, unsigned int ncores)
{
	reactor_app_opts_init(opts, sizeof(*opts));
	opts->name = "unit_test";
	opts->handle_signals = false;
	opts->thread_exit_timeout_ms = 2000;
	if (!h_mask_of_n(ncores, h_app_mask_buf, sizeof(h_app_mask_buf), h_app_cpus))
		return false;
	opts->cpumask = h_app_mask_buf;
	return true;
}

/* The i-th CPU of the mask chosen by the last h_app_opts(). */
static inline H_UNUSED uint32_t h_app_cpu(unsigned int i)
{
	return h_app_cpus[i];
}

struct h_app_run {
	void (*body)(void *);
	void *ctx;
	struct reactor_poller *stopper;
	pthread_t tid;
	atomic_int have_tid;
	atomic_int start_ran;
};

/*
 * How the body's end stops the app. The body pthread calls no library
 * function after it returns: it only raises h_stop_req, and a timed poller
 * on the app thread ("h_app_stopper") sees it, unregisters itself and calls
 * reactor_app_stop(0) -- or h_stop_fn, when a test wants to do something
 * else at that point. So the helper does not depend on messages or stops
 * from a foreign pthread racing with the app's shutdown (those are
 * exercised by tests of their own).
 */
static atomic_int h_stop_req;
static void (*h_stop_fn)(void *);
static void *h_stop_arg;

/* From the body: stop the app now by calling @p fn(@p arg) (NULL: reactor_app_stop(0)) on the app thread. */
static inline H_UNUSED void h_app_request_stop(void (*fn)(void *), void *arg)
{
	h_stop_fn = fn;
	h_stop_arg = arg;
	atomic_store(&h_stop_req, 1);
}

static H_UNUSED void h_stop_msg(void *arg)
{
	(void)arg;
	reactor_app_stop(0);
}

static H_UNUSED int h_app_stopper(void *arg)
{
	struct h_app_run *r = arg;

	if (!atomic_load(&h_stop_req))
		return REACTOR_POLLER_IDLE;
	reactor_poller_unregister(&r->stopper);
	if (h_stop_fn != NULL)
		h_stop_fn(h_stop_arg);
	else
		reactor_app_stop(0);
	return REACTOR_POLLER_BUSY;
}

static H_UNUSED void *h_app_body_main(void *arg)
{
	struct h_app_run *r = arg;

	r->body(r->ctx);
	atomic_store(&h_stop_req, 1);
	return NULL;
}

static H_UNUSED void h_app_start_fn(void *arg)
{
	struct h_app_run *r = arg;

	atomic_store(&r->start_ran, 1);
	if (r->body == NULL) {
		reactor_app_stop(0);
		return;
	}
	r->stopper = reactor_poller_register_named(h_app_stopper, r, 10000, "h_app_stopper");
	if (r->stopper == NULL) {
		H_FAIL("cannot register the stopper poller: %s", strerror(errno));
		reactor_app_stop(-1);
		return;
	}
	if (pthread_create(&r->tid, NULL, h_app_body_main, r) != 0) {
		H_FAIL("pthread_create for the test body failed");
		reactor_poller_unregister(&r->stopper);
		reactor_app_stop(-1);
		return;
	}
	atomic_store(&r->have_tid, 1);
}

/*
 * Start an app with @p opts. When it is running, @p body(@p ctx) runs on a
 * separate (non-reactor) pthread that may block and wait; when body returns
 * the app is stopped with 0 (see h_app_request_stop()).
 * Returns reactor_app_start()'s result.
 */
static inline H_UNUSED int h_app_run(const struct reactor_app_opts *opts, void (*body)(void *), void *ctx)
{
	struct h_app_run r = {.body = body, .ctx = ctx};
	int rc;

	atomic_store(&h_stop_req, 0);
	h_stop_fn = NULL;
	h_stop_arg = NULL;
	h_waiting_for("reactor_app_start() to return");
	rc = reactor_app_start(opts, h_app_start_fn, &r);
	if (atomic_load(&r.have_tid)) {
		h_waiting_for("the test body thread to finish after the app stopped");
		pthread_join(r.tid, NULL);
	}
	h_waiting_for("(test code after app)");
	return rc;
}

/*
 * Start an app whose start_fn launches a pthread that runs @p trigger(@p ctx)
 * (e.g. sends a signal or calls reactor_app_start_shutdown()) and then does
 * NOT stop the app: something the trigger caused must. The pthread waits for
 * reactor_app_start() to return; if that takes longer than @p timeout_ms it
 * records a failure and stops the app with 77 so the test fails, not hangs.
 */
struct h_trigger_run {
	void (*trigger)(void *);
	void *ctx;
	unsigned int timeout_ms;
	const char *what;
	pthread_t tid;
	atomic_int have_tid;
	atomic_int returned;
	atomic_int timed_out;
};

static H_UNUSED void *h_trigger_main(void *arg)
{
	struct h_trigger_run *r = arg;
	uint64_t end;

	r->trigger(r->ctx);
	end = h_now_ns() + (uint64_t)r->timeout_ms * h_timeout_factor() * 1000000ull;
	while (!atomic_load(&r->returned)) {
		if (h_now_ns() > end) {
			atomic_store(&r->timed_out, 1);
			H_FAIL("the app did not stop within %u ms after %s", r->timeout_ms * h_timeout_factor(),
			       r->what);
			reactor_app_stop(77);
			break;
		}
		h_sleep_ms(1);
	}
	return NULL;
}

static H_UNUSED void h_trigger_start(void *arg)
{
	struct h_trigger_run *r = arg;

	if (pthread_create(&r->tid, NULL, h_trigger_main, r) != 0) {
		H_FAIL("pthread_create");
		reactor_app_stop(-1);
		return;
	}
	atomic_store(&r->have_tid, 1);
}

static inline H_UNUSED int h_app_run_trigger(const struct reactor_app_opts *opts, void (*trigger)(void *),
					     void *ctx, unsigned int timeout_ms, const char *what)
{
	struct h_trigger_run r = {.trigger = trigger, .ctx = ctx, .timeout_ms = timeout_ms, .what = what};
	int rc;

	h_waiting_for("the app to stop after %s", what);
	rc = reactor_app_start(opts, h_trigger_start, &r);
	atomic_store(&r.returned, 1);
	if (atomic_load(&r.have_tid))
		pthread_join(r.tid, NULL);
	h_waiting_for("(test code after app)");
	return rc;
}

/* ---- synchronous calls from a foreign pthread ------------------------------------ */

struct h_call {
	void (*fn)(void *);
	void *arg;
	atomic_int done;
};

static H_UNUSED void h_call_trampoline(void *arg)
{
	struct h_call *c = arg;

	c->fn(c->arg);
	atomic_store(&c->done, 1);
}

static H_UNUSED void h_call_event_trampoline(void *arg1, void *arg2)
{
	(void)arg2;
	h_call_trampoline(arg1);
}

static inline H_UNUSED bool h_call_wait(struct h_call *c, uint64_t end, const char *what)
{
	while (!atomic_load(&c->done)) {
		if (h_now_ns() > end) {
			H_FAIL("timed out waiting for %s to run", what);
			return false; /* c is leaked on purpose: it may still run */
		}
		h_sleep_us(100);
	}
	free(c);
	return true;
}

/*
 * Run @p fn(@p arg) on lightweight thread @p t via a message and wait for it
 * (10 s timeout, -EAGAIN retried). Call from a pthread that is not a reactor.
 */
static inline H_UNUSED bool h_call_on_thread(struct reactor_thread *t, void (*fn)(void *), void *arg)
{
	struct h_call *c = calloc(1, sizeof(*c));
	uint64_t end = h_now_ns() + 10000ull * h_timeout_factor() * 1000000ull;
	int rc;

	if (c == NULL)
		return false;
	c->fn = fn;
	c->arg = arg;
	h_waiting_for("a message to thread %s", t ? reactor_thread_get_name(t) : "(null)");
	while ((rc = reactor_thread_send_msg(t, h_call_trampoline, c)) == -EAGAIN) {
		if (h_now_ns() > end)
			break;
		h_sleep_us(100);
	}
	if (rc != 0) {
		H_FAIL("reactor_thread_send_msg failed: %d", rc);
		free(c);
		return false;
	}
	return h_call_wait(c, end, "a message sent by h_call_on_thread");
}

/* Run @p fn(@p arg) on reactor @p core via an event and wait for it. */
static inline H_UNUSED bool h_call_on_core(uint32_t core, void (*fn)(void *), void *arg)
{
	struct h_call *c = calloc(1, sizeof(*c));
	uint64_t end = h_now_ns() + 10000ull * h_timeout_factor() * 1000000ull;
	struct reactor_event *ev;
	int rc;

	if (c == NULL)
		return false;
	c->fn = fn;
	c->arg = arg;
	h_waiting_for("an event to core %u", core);
	for (;;) {
		ev = reactor_event_allocate(core, h_call_event_trampoline, c, NULL);
		if (ev != NULL || errno != EAGAIN || h_now_ns() > end)
			break;
		h_sleep_us(100);
	}
	if (ev == NULL) {
		H_FAIL("reactor_event_allocate(core %u) failed: %s", core, strerror(errno));
		free(c);
		return false;
	}
	while ((rc = reactor_event_call(ev)) == -EAGAIN) {
		if (h_now_ns() > end)
			break;
		h_sleep_us(100);
	}
	if (rc != 0) {
		H_FAIL("reactor_event_call(core %u) failed: %d", core, rc);
		reactor_event_free(ev);
		free(c);
		return false;
	}
	return h_call_wait(c, end, "an event sent by h_call_on_core");
}

static H_UNUSED void h_noop(void *arg)
{
	(void)arg;
}

/*
 * Create a lightweight thread pinned to @p core (REACTOR_CORE_INVALID: any)
 * and wait until it has run a first message. NULL (failure recorded) on error.
 */
static inline H_UNUSED struct reactor_thread *h_thread_create_on(const char *name, uint32_t core)
{
	struct reactor_cpuset *mask = NULL;
	struct reactor_thread *t;

	if (core != REACTOR_CORE_INVALID) {
		mask = reactor_cpuset_create();
		if (mask == NULL)
			return NULL;
		reactor_cpuset_set(mask, core);
	}
	t = reactor_thread_create(name, mask);
	reactor_cpuset_destroy(mask);
	if (t == NULL) {
		H_FAIL("reactor_thread_create(%s, core %u) failed: %s", name, core, strerror(errno));
		return NULL;
	}
	if (!h_call_on_thread(t, h_noop, NULL))
		return NULL;
	return t;
}

static H_UNUSED void h_thread_exit_self(void *arg)
{
	(void)arg;
	reactor_thread_exit(reactor_get_thread());
}

/* Ask @p t to exit (from a foreign pthread). Do not use @p t afterwards. */
static inline H_UNUSED void h_thread_exit(struct reactor_thread *t)
{
	int rc;
	uint64_t end = h_now_ns() + 5000000000ull;

	if (t == NULL)
		return;
	while ((rc = reactor_thread_send_msg(t, h_thread_exit_self, NULL)) == -EAGAIN && h_now_ns() < end)
		h_sleep_us(100);
	if (rc != 0)
		H_FAIL("sending exit to a thread failed: %d", rc);
}

/* ---- capturing log messages ------------------------------------------------------- */

#define H_LOG_MAX 256
struct h_log_capture {
	pthread_mutex_t lock;
	int n;
	int dropped;
	enum reactor_log_level level[H_LOG_MAX];
	char *msg[H_LOG_MAX];
};

static struct h_log_capture h_log = {.lock = PTHREAD_MUTEX_INITIALIZER};

static H_UNUSED void h_log_sink(enum reactor_log_level level, const char *file, int line, const char *func,
		       const char *message, void *ctx)
{
	struct h_log_capture *c = ctx;

	(void)file;
	(void)line;
	(void)func;
	pthread_mutex_lock(&c->lock);
	if (c->n < H_LOG_MAX) {
		c->level[c->n] = level;
		c->msg[c->n] = strdup(message ? message : "(null)");
		c->n++;
	} else {
		c->dropped++;
	}
	pthread_mutex_unlock(&c->lock);
}

static inline H_UNUSED void h_log_capture_reset(void)
{
	pthread_mutex_lock(&h_log.lock);
	for (int i = 0; i < h_log.n; i++)
		free(h_log.msg[i]);
	h_log.n = 0;
	h_log.dropped = 0;
	pthread_mutex_unlock(&h_log.lock);
}

/* Start capturing messages at or above @p level through the user sink. */
static inline H_UNUSED void h_log_capture_start(enum reactor_log_level level)
{
	h_log_capture_reset();
	reactor_log_set_level(level);
	reactor_log_set_sink(h_log_sink, &h_log);
}

static inline H_UNUSED void h_log_capture_stop(void)
{
	reactor_log_set_sink(NULL, NULL);
	reactor_log_set_level(REACTOR_LOG_NOTICE);
}

/* Number of captured messages containing @p needle (case-insensitive). */
static inline H_UNUSED int h_log_count(const char *needle)
{
	int hits = 0;

	pthread_mutex_lock(&h_log.lock);
	for (int i = 0; i < h_log.n; i++)
		if (strcasestr(h_log.msg[i], needle) != NULL)
			hits++;
	pthread_mutex_unlock(&h_log.lock);
	return hits;
}

/* Number of captured messages containing both needles (case-insensitive). */
static inline H_UNUSED int h_log_count2(const char *n1, const char *n2)
{
	int hits = 0;

	pthread_mutex_lock(&h_log.lock);
	for (int i = 0; i < h_log.n; i++)
		if (strcasestr(h_log.msg[i], n1) != NULL && strcasestr(h_log.msg[i], n2) != NULL)
			hits++;
	pthread_mutex_unlock(&h_log.lock);
	return hits;
}

static inline H_UNUSED void h_log_dump(void)
{
	pthread_mutex_lock(&h_log.lock);
	for (int i = 0; i < h_log.n; i++)
		fprintf(stderr, "#   log[%d] %d: %s\n", i, (int)h_log.level[i], h_log.msg[i]);
	pthread_mutex_unlock(&h_log.lock);
}

/* ---- capturing a file descriptor (stdout/stderr) ------------------------------------ */

struct h_fd_capture {
	int fd;    /* the captured fd (1 or 2) */
	int saved; /* dup of the original */
	FILE *tmp; /* where output goes meanwhile */
};

/* Redirect @p fd into a temporary file until h_fd_capture_end(). */
static inline H_UNUSED bool h_fd_capture_begin(struct h_fd_capture *cap, int fd)
{
	fflush(stdout);
	fflush(stderr);
	cap->fd = fd;
	cap->saved = -1;
	cap->tmp = tmpfile();
	if (cap->tmp == NULL)
		return false;
	cap->saved = dup(fd);
	if (cap->saved < 0 || dup2(fileno(cap->tmp), fd) < 0) {
		fclose(cap->tmp);
		return false;
	}
	return true;
}

/* Restore the fd; returns what was written (malloc'd, NUL-terminated). */
static inline H_UNUSED char *h_fd_capture_end(struct h_fd_capture *cap)
{
	long size;
	char *buf;

	fflush(stdout);
	fflush(stderr);
	dup2(cap->saved, cap->fd);
	close(cap->saved);
	/* Output went through the fd, not the FILE: size it with lseek. */
	size = (long)lseek(fileno(cap->tmp), 0, SEEK_END);
	if (size < 0)
		size = 0;
	buf = calloc(1, (size_t)size + 1);
	if (buf != NULL && size > 0 && pread(fileno(cap->tmp), buf, (size_t)size, 0) != (ssize_t)size)
		buf[0] = '\0';
	fclose(cap->tmp);
	return buf;
}

/* ---- running this test program again in a fresh process ------------------------------ */

/*
 * Run /proc/self/exe with the single argument @p arg in a fresh process
 * (the library keeps some process-wide state, e.g. the message pool),
 * with @p env_extra ("NAME=value", may be NULL) added to the environment.
 * Its stdout and stderr go to *@p out (malloc'd). Returns its exit status,
 * or 128 + signal number. Times out (kills it) after 120 s.
 */
static inline H_UNUSED int h_spawn_self(const char *arg, const char *env_extra, char **out)
{
	char path[] = "/tmp/reactor_test_child_XXXXXX";
	int fd = mkstemp(path), status = 0;
	posix_spawn_file_actions_t fa;
	char *argv[3];
	char **envp;
	size_t n = 0;
	pid_t pid;
	uint64_t end = h_now_ns() + 120000000000ull * h_timeout_factor();
	off_t size;

	*out = NULL;
	if (fd < 0)
		return -1;
	unlink(path);
	for (char **e = environ; *e != NULL; e++)
		n++;
	envp = calloc(n + 2, sizeof(*envp));
	if (envp == NULL) {
		close(fd);
		return -1;
	}
	memcpy(envp, environ, n * sizeof(*envp));
	if (env_extra != NULL)
		envp[n++] = (char *)env_extra;
	envp[n] = NULL;
	argv[0] = (char *)"child";
	argv[1] = (char *)arg;
	argv[2] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, fd, STDERR_FILENO);
	h_waiting_for("child process '%s'", arg);
	if (posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, envp) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		free(envp);
		close(fd);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			break;
		if (h_now_ns() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		h_sleep_ms(5);
	}
	size = lseek(fd, 0, SEEK_END);
	if (size < 0)
		size = 0;
	*out = calloc(1, (size_t)size + 1);
	if (*out != NULL && size > 0 && pread(fd, *out, (size_t)size, 0) != size)
		(*out)[0] = '\0';
	close(fd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#endif /* REACTOR_TESTS_UNIT_HELPERS_H */
