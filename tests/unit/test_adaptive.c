/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Adaptive idle policy: idle reactors sleep (little CPU), and wake for
 * events, messages, fds and timed pollers. Bounds are loose: the machine
 * may be small and busy.
 */
#include "helpers.h"

#include <sys/eventfd.h>

static unsigned int ncores(void)
{
	return h_allowed_cpu_count() >= 2 ? 2 : 1;
}

static void adaptive_opts(struct reactor_app_opts *opts)
{
	assert_true(h_app_opts(opts, ncores()));
	opts->idle_policy = REACTOR_IDLE_ADAPTIVE;
}

static struct reactor_stats stats_of(uint32_t core)
{
	struct reactor_stats st;

	memset(&st, 0, sizeof(st));
	st.stats_size = sizeof(st);
	if (reactor_get_stats(core, &st) != 0)
		H_FAIL("reactor_get_stats(%u) failed", core);
	return st;
}

/* CPU used by the whole process over @p ms of wall time, as a fraction of wall time. */
static double cpu_share(unsigned int ms)
{
	uint64_t c0 = h_process_cpu_ns(), t0 = h_now_ns();

	h_sleep_ms(ms);
	return (double)(h_process_cpu_ns() - c0) / (double)(h_now_ns() - t0);
}

/* ---- idle CPU: adaptive vs poll ---------------------------------------------------------- */
struct idle_result {
	double adaptive;
	double poll;
	double adaptive_again;
	uint64_t sleeps_before[2], sleeps_after[2];
};

static void idle_body(void *arg)
{
	struct idle_result *r = arg;
	uint32_t core;
	unsigned int i = 0;

	REACTOR_FOREACH_CORE(core)
	{
		H_CHECK_INT(reactor_get_idle_policy(core), ==, REACTOR_IDLE_ADAPTIVE);
	}
	h_sleep_ms(300); /* settle */
	i = 0;
	REACTOR_FOREACH_CORE(core)
	{
		if (i < 2)
			r->sleeps_before[i++] = stats_of(core).sleeps;
	}
	r->adaptive = cpu_share(1000);
	i = 0;
	REACTOR_FOREACH_CORE(core)
	{
		if (i < 2)
			r->sleeps_after[i++] = stats_of(core).sleeps;
	}

	/* the same reactors polling */
	REACTOR_FOREACH_CORE(core)
	{
		H_CHECK_INT(reactor_set_idle_policy(core, REACTOR_IDLE_POLL), ==, 0);
		H_CHECK_INT(reactor_get_idle_policy(core), ==, REACTOR_IDLE_POLL);
	}
	h_sleep_ms(200);
	r->poll = cpu_share(1000);

	/* and back: the change takes effect at run time */
	REACTOR_FOREACH_CORE(core)
	{
		H_CHECK_INT(reactor_set_idle_policy(core, REACTOR_IDLE_ADAPTIVE), ==, 0);
	}
	h_sleep_ms(300);
	r->adaptive_again = cpu_share(1000);
}

static void test_idle_cpu(void **state)
{
	struct reactor_app_opts opts;
	struct idle_result r;

	(void)state;
	H_BEGIN();
	memset(&r, 0, sizeof(r));
	adaptive_opts(&opts);
	assert_int_equal(h_app_run(&opts, idle_body, &r), 0);
	h_assert_no_failures();
	print_message("# %u idle reactors: adaptive %.1f%%, poll %.1f%%, adaptive again %.1f%% of one CPU\n",
		      ncores(), r.adaptive * 100, r.poll * 100, r.adaptive_again * 100);
	for (unsigned int i = 0; i < ncores(); i++)
		if (r.sleeps_after[i] == 0)
			fail_msg("reactor %u never slept (sleeps %" PRIu64 " -> %" PRIu64 ")", i, r.sleeps_before[i],
				 r.sleeps_after[i]);
	if (r.adaptive >= 0.10)
		fail_msg("idle adaptive reactors used %.1f%% CPU (want < 10%%)", r.adaptive * 100);
	if (r.adaptive_again >= 0.10)
		fail_msg("after switching back to adaptive: %.1f%% CPU (want < 10%%)", r.adaptive_again * 100);
	/* polling reactors spin: this is the difference the policy makes */
	if (r.poll < 0.30 || r.poll < 3 * r.adaptive)
		fail_msg("polling reactors used only %.1f%% CPU (adaptive %.1f%%)", r.poll * 100, r.adaptive * 100);
}

/* ---- waking up ------------------------------------------------------------------------------ */
static atomic_long event_ran;
static void wake_event(void *a1, void *a2)
{
	(void)a1;
	(void)a2;
	atomic_fetch_add(&event_ran, 1);
}

static atomic_long msg_ran;
static void wake_msg(void *arg)
{
	(void)arg;
	atomic_fetch_add(&msg_ran, 1);
}

struct fdw {
	int fd;
	struct reactor_fd_event *ev;
	atomic_long calls;
};

static int fdw_cb(void *arg, uint32_t events)
{
	struct fdw *w = arg;
	uint64_t v;

	(void)events;
	if (read(w->fd, &v, sizeof(v)) < 0)
		(void)0;
	atomic_fetch_add(&w->calls, 1);
	return REACTOR_POLLER_BUSY;
}

static void fdw_register(void *arg)
{
	struct fdw *w = arg;

	w->ev = reactor_fd_register(w->fd, REACTOR_FD_READ, fdw_cb, w, "wake-eventfd");
	H_CHECK(w->ev != NULL);
}

static void fdw_unregister(void *arg)
{
	reactor_fd_unregister(&((struct fdw *)arg)->ev);
}

/*
 * Wait until the reactor on @p core has gone to sleep after the last wake-up:
 * its sleeps counter passes @p before (read before that wake-up was caused),
 * then give it a little more idle time. Returns the counter to use next.
 */
static uint64_t wait_asleep(uint32_t core, uint64_t before)
{
	uint64_t end = h_now_ns() + 10000000000ull, now;

	h_waiting_for("reactor %u to sleep", core);
	while ((now = stats_of(core).sleeps) <= before && h_now_ns() < end)
		h_sleep_ms(1);
	if (now <= before)
		H_FAIL("reactor %u did not go to sleep within 10 s", core);
	h_sleep_ms(50);
	return stats_of(core).sleeps;
}

static void wake_body(void *arg)
{
	uint32_t core = h_app_cpu(ncores() - 1); /* not the main core when there are two */
	struct reactor_thread *t = h_thread_create_on("sleeper", core);
	struct fdw w = {.fd = eventfd(0, EFD_NONBLOCK)};
	struct reactor_event *ev;
	uint64_t wk0, t0, sl = 0;
	int rounds = 5;

	(void)arg;
	if (t == NULL || w.fd < 0)
		return;
	h_call_on_thread(t, fdw_register, &w);

	for (int i = 1; i <= rounds; i++) {
		/* an event */
		sl = wait_asleep(core, sl);
		wk0 = stats_of(core).wakeups;
		t0 = h_now_ns();
		ev = reactor_event_allocate(core, wake_event, NULL, NULL);
		if (!H_CHECK(ev != NULL) || !H_CHECK(reactor_event_call(ev) == 0))
			return;
		h_wait_ge(&event_ran, i, 5000, "an event to wake a sleeping reactor");
		if (i == 1)
			fprintf(stderr, "# event woke the reactor after %.2f ms\n", (double)(h_now_ns() - t0) / 1e6);
		H_CHECK_INT(stats_of(core).wakeups, >, wk0);

		/* a message from this foreign pthread */
		sl = wait_asleep(core, sl);
		wk0 = stats_of(core).wakeups;
		H_CHECK_INT(reactor_thread_send_msg(t, wake_msg, NULL), ==, 0);
		h_wait_ge(&msg_ran, i, 5000, "a message to wake a sleeping reactor");
		H_CHECK_INT(stats_of(core).wakeups, >, wk0);

		/* an fd written from this foreign pthread */
		sl = wait_asleep(core, sl);
		{
			uint64_t one = 1;

			H_CHECK(write(w.fd, &one, sizeof(one)) == sizeof(one));
		}
		h_wait_ge(&w.calls, i, 5000, "an eventfd to wake a sleeping reactor");
	}
	h_call_on_thread(t, fdw_unregister, &w);
	close(w.fd);
}

static void test_wakeups(void **state)
{
	struct reactor_app_opts opts;

	(void)state;
	H_BEGIN_TIMEOUT(120);
	atomic_store(&event_ran, 0);
	atomic_store(&msg_ran, 0);
	adaptive_opts(&opts);
	assert_int_equal(h_app_run(&opts, wake_body, NULL), 0);
	h_assert_no_failures();
}

/* ---- timed pollers while sleeping ---------------------------------------------------------- */
static atomic_long timed_runs;
static int timed_fn(void *arg)
{
	(void)arg;
	atomic_fetch_add(&timed_runs, 1);
	return REACTOR_POLLER_IDLE;
}

static void timed_register(void *arg)
{
	struct reactor_poller **p = arg;

	*p = reactor_poller_register_named(timed_fn, NULL, 50000, "timed_50ms");
	H_CHECK(*p != NULL);
}

static void timed_unregister(void *arg)
{
	reactor_poller_unregister(arg);
}

struct timed_result {
	long runs;
	double ms;
	double cpu;
	uint64_t sleeps;
};

static void timed_body(void *arg)
{
	struct timed_result *r = arg;
	uint32_t core = h_app_cpu(ncores() - 1);
	struct reactor_thread *t = h_thread_create_on("timed", core);
	struct reactor_poller *p = NULL;
	uint64_t t0, c0, s0;

	if (t == NULL)
		return;
	h_call_on_thread(t, timed_register, &p);
	h_sleep_ms(200);
	s0 = stats_of(core).sleeps;
	atomic_store(&timed_runs, 0);
	t0 = h_now_ns();
	c0 = h_process_cpu_ns();
	h_sleep_ms(1000);
	r->runs = atomic_load(&timed_runs);
	r->ms = (double)(h_now_ns() - t0) / 1e6;
	r->cpu = (double)(h_process_cpu_ns() - c0) / (double)(h_now_ns() - t0);
	r->sleeps = stats_of(core).sleeps - s0;
	h_call_on_thread(t, timed_unregister, &p);
}

static void test_timed_poller_wakes(void **state)
{
	struct reactor_app_opts opts;
	struct timed_result r = {0};

	(void)state;
	H_BEGIN();
	adaptive_opts(&opts);
	assert_int_equal(h_app_run(&opts, timed_body, &r), 0);
	h_assert_no_failures();
	print_message("# 50 ms poller on a sleeping reactor: %ld runs in %.0f ms, %" PRIu64
		      " sleeps, %.1f%% CPU\n",
		      r.runs, r.ms, r.sleeps, r.cpu * 100);
	/* ~20 expected; at least half, and never more often than its period */
	assert_true(r.runs >= 10);
	assert_true(r.runs <= (long)(r.ms / 50) + 2);
	/* it slept between runs */
	assert_true(r.sleeps >= 5);
	if (r.cpu >= 0.10)
		fail_msg("adaptive reactors with a 50 ms poller used %.1f%% CPU", r.cpu * 100);
}

/* ---- a busy period keeps it awake, then it sleeps again ---------------------------------- */
static void busy_body(void *arg)
{
	uint32_t core = h_app_cpu(0);
	uint64_t s0 = 0;
	long n = 2000;

	(void)arg;
	atomic_store(&event_ran, 0);
	/* a stream of events: each runs, whether the reactor sleeps between them or not */
	for (long i = 0; i < n; i++) {
		struct reactor_event *ev = reactor_event_allocate(core, wake_event, NULL, NULL);

		if (!H_CHECK(ev != NULL))
			return;
		if (i == n - 1)
			s0 = stats_of(core).sleeps;
		while (reactor_event_call(ev) == -EAGAIN)
			h_sleep_us(10);
		if (i % 100 == 0)
			h_sleep_us(200);
	}
	h_wait_ge(&event_ran, n, 10000, "a stream of events on an adaptive reactor");
	wait_asleep(core, s0); /* idle again after the last event: sleeps again */
}

static void test_busy_then_idle(void **state)
{
	struct reactor_app_opts opts;

	(void)state;
	H_BEGIN();
	adaptive_opts(&opts);
	assert_int_equal(h_app_run(&opts, busy_body, NULL), 0);
	h_assert_no_failures();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_idle_cpu),
		H_TEST(test_wakeups),
		H_TEST(test_timed_poller_wakes),
		H_TEST(test_busy_then_idle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
