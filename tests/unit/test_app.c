/* SPDX-License-Identifier: BSD-3-Clause */
/* The app layer: start/stop status, where start_fn runs, init failures, shutdown. */
#include "helpers.h"

struct start_info {
	atomic_int ran;
	pthread_t caller;
	pthread_t ran_on;
	uint32_t core;
	uint32_t main_core;
	uint32_t core_count;
	struct reactor_thread *thread;
	struct reactor_thread *app_thread;
	int stop_rc;
	int second_stop_rc;
	void *ctx_seen;
};

static void start_record(void *ctx)
{
	struct start_info *s = ctx;

	atomic_store(&s->ran, 1);
	s->ctx_seen = ctx;
	s->ran_on = pthread_self();
	s->core = reactor_get_current_core();
	s->main_core = reactor_get_main_core();
	s->core_count = reactor_get_core_count();
	s->thread = reactor_get_thread();
	s->app_thread = reactor_thread_get_app_thread();
	reactor_app_stop(s->stop_rc);
	if (s->second_stop_rc != 0)
		reactor_app_stop(s->second_stop_rc); /* only the first counts */
}

static void test_start_stop_rc(void **state)
{
	struct reactor_app_opts opts;
	static const int rcs[] = {0, 42, -5, 1};

	(void)state;
	H_BEGIN();
	for (size_t i = 0; i < sizeof(rcs) / sizeof(rcs[0]); i++) {
		struct start_info s = {.stop_rc = rcs[i], .caller = pthread_self()};

		assert_true(h_app_opts(&opts, 1));
		assert_int_equal(reactor_app_start(&opts, start_record, &s), rcs[i]);
		assert_int_equal(atomic_load(&s.ran), 1);
	}
	/* only the first stop's rc counts */
	{
		struct start_info s = {.stop_rc = 3, .second_stop_rc = 9};

		assert_true(h_app_opts(&opts, 1));
		assert_int_equal(reactor_app_start(&opts, start_record, &s), 3);
	}
	/* the framework is gone after start returned */
	assert_int_equal(reactor_get_core_count(), 0);
	assert_null(reactor_thread_get_app_thread());
}

static void test_start_fn_placement(void **state)
{
	struct reactor_app_opts opts;
	struct start_info s = {.caller = pthread_self()};
	unsigned int n = h_allowed_cpu_count() >= 2 ? 2 : 1;

	(void)state;
	H_BEGIN();
	assert_true(h_app_opts(&opts, n));
	assert_int_equal(reactor_app_start(&opts, start_record, &s), 0);
	assert_int_equal(atomic_load(&s.ran), 1);
	assert_ptr_equal(s.ctx_seen, &s);
	assert_true(pthread_equal(s.ran_on, s.caller)); /* the caller became the main reactor */
	assert_int_equal(s.core, h_app_cpu(0));
	assert_int_equal(s.main_core, h_app_cpu(0));
	assert_int_equal(s.core_count, n);
	assert_non_null(s.thread);
	assert_ptr_equal(s.thread, s.app_thread);

	/* main core chosen explicitly: the last CPU of the mask */
	if (n == 2) {
		struct start_info s2 = {.caller = pthread_self()};

		assert_true(h_app_opts(&opts, 2));
		opts.main_core = (int32_t)h_app_cpu(1);
		assert_int_equal(reactor_app_start(&opts, start_record, &s2), 0);
		assert_int_equal(s2.core, h_app_cpu(1));
		assert_int_equal(s2.main_core, h_app_cpu(1));
		assert_true(pthread_equal(s2.ran_on, s2.caller));
	}
}

/* ---- init failures: start_fn never runs ----------------------------------------------------- */
static void expect_init_failure(struct reactor_app_opts *opts, int want, const char *what)
{
	struct start_info s = {0};
	int rc;

	h_log_capture_start(REACTOR_LOG_DEBUG);
	rc = reactor_app_start(opts, start_record, &s);
	h_log_capture_stop();
	if (rc != want)
		fail_msg("%s: reactor_app_start = %d, want %d", what, rc, want);
	if (atomic_load(&s.ran))
		fail_msg("%s: start_fn ran although init failed", what);
	assert_int_equal(reactor_get_core_count(), 0);
	h_log_capture_reset();
}

static void test_init_failures(void **state)
{
	struct reactor_app_opts opts;
	struct reactor_cpuset *allowed = reactor_cpuset_create();
	char mask[64];
	uint32_t outside = REACTOR_CORE_INVALID;

	(void)state;
	H_BEGIN();
	assert_non_null(allowed);
	assert_int_equal(reactor_env_get_allowed_cpus(allowed), 0);
	for (uint32_t c = 0; c < REACTOR_CPUSET_MAX_CPUS; c++) {
		if (!reactor_cpuset_isset(allowed, c)) {
			outside = c;
			break;
		}
	}
	reactor_cpuset_destroy(allowed);

	assert_true(h_app_opts(&opts, 1));
	opts.cpumask = "0xZ";
	expect_init_failure(&opts, -EINVAL, "bad cpumask text");

	/* the bad mask text is named in the log */
	assert_true(h_app_opts(&opts, 1));
	opts.cpumask = "[0-3";
	h_log_capture_start(REACTOR_LOG_DEBUG);
	assert_int_equal(reactor_app_start(&opts, start_record, &(struct start_info){0}), -EINVAL);
	h_log_capture_stop();
	if (h_log_count("[0-3") < 1) {
		h_log_dump();
		fail_msg("the log does not name the bad cpumask");
	}
	h_log_capture_reset();

	if (outside != REACTOR_CORE_INVALID) {
		assert_true(h_app_opts(&opts, 1));
		snprintf(mask, sizeof(mask), "[%u]", outside);
		opts.cpumask = mask;
		expect_init_failure(&opts, -EINVAL, "CPU outside the allowed set");
	}
	assert_true(h_app_opts(&opts, 1));
	opts.cpumask = "0x0";
	expect_init_failure(&opts, -EINVAL, "empty cpumask");

	assert_true(h_app_opts(&opts, 1));
	opts.main_core = 1000;
	expect_init_failure(&opts, -EINVAL, "main core outside the mask");

	assert_true(h_app_opts(&opts, 1));
	opts.idle_policy = 7;
	expect_init_failure(&opts, -EINVAL, "unknown idle policy");

	assert_true(h_app_opts(&opts, 1));
	opts.opts_size = 0;
	expect_init_failure(&opts, -EINVAL, "opts_size 0");
	assert_true(h_app_opts(&opts, 1));
	opts.opts_size = sizeof(size_t) - 1;
	expect_init_failure(&opts, -EINVAL, "opts_size below sizeof(size_t)");
	assert_true(h_app_opts(&opts, 1));
	opts.opts_size = sizeof(opts) + 8;
	expect_init_failure(&opts, -EINVAL, "opts_size larger than the library's struct");

	/* after all those failures, a good start still works */
	{
		struct start_info s = {.stop_rc = 11};

		assert_true(h_app_opts(&opts, 1));
		assert_int_equal(reactor_app_start(&opts, start_record, &s), 11);
	}
}

/* ---- already running ------------------------------------------------------------------------- */
struct twice {
	int inner_rc;
	int foreign_rc;
	int framework_rc;
	atomic_int inner_ran;
};

static void inner_start(void *ctx)
{
	struct twice *t = ctx;

	atomic_store(&t->inner_ran, 1);
	reactor_app_stop(99);
}

static void start_again_inside(void *ctx)
{
	struct twice *t = ctx;
	struct reactor_app_opts opts;

	h_app_opts(&opts, 1);
	t->inner_rc = reactor_app_start(&opts, inner_start, t);
	{
		struct reactor_opts ro;

		reactor_opts_init(&ro, sizeof(ro));
		t->framework_rc = reactor_framework_init(&ro);
	}
}

static void twice_body(void *arg)
{
	struct twice *t = arg;
	struct reactor_app_opts opts;

	/* from inside a running app, on the app thread */
	h_call_on_thread(reactor_thread_get_app_thread(), start_again_inside, t);
	/* from another OS thread while the app runs */
	h_app_opts(&opts, 1);
	t->foreign_rc = reactor_app_start(&opts, inner_start, t);
}

static void test_start_twice(void **state)
{
	struct reactor_app_opts opts;
	struct twice t = {0};

	(void)state;
	H_BEGIN();
	assert_true(h_app_opts(&opts, 1));
	assert_int_equal(h_app_run(&opts, twice_body, &t), 0);
	h_assert_no_failures();
	assert_int_equal(t.inner_rc, -EALREADY);
	assert_int_equal(t.foreign_rc, -EALREADY);
	assert_int_equal(t.framework_rc, -EALREADY);
	assert_int_equal(atomic_load(&t.inner_ran), 0);
}

/* ---- reactor_app_start_shutdown ---------------------------------------------------------------- */
struct shut {
	atomic_int calls;
	struct reactor_thread *thread;
	struct reactor_thread *app_thread;
	void *ctx;
	int rc;
};

static void shutdown_cb(void *ctx)
{
	struct shut *s = ctx;

	s->ctx = ctx;
	s->thread = reactor_get_thread();
	s->app_thread = reactor_thread_get_app_thread();
	if (atomic_fetch_add(&s->calls, 1) == 0)
		reactor_app_stop(s->rc);
}

static void trigger_shutdown(void *ctx)
{
	(void)ctx;
	reactor_app_start_shutdown(); /* from a foreign pthread */
}

static int run_shutdown(struct reactor_app_opts *opts)
{
	int rc = h_app_run_trigger(opts, trigger_shutdown, NULL, 10000, "reactor_app_start_shutdown()");

	h_assert_no_failures();
	return rc;
}

static void test_start_shutdown(void **state)
{
	struct reactor_app_opts opts;
	struct shut s = {.rc = 3};

	(void)state;
	H_BEGIN();
	assert_true(h_app_opts(&opts, h_allowed_cpu_count() >= 2 ? 2 : 1));
	opts.shutdown_cb = shutdown_cb;
	opts.shutdown_ctx = &s;
	assert_int_equal(run_shutdown(&opts), 3);
	assert_int_equal(atomic_load(&s.calls), 1);
	assert_ptr_equal(s.ctx, &s);
	assert_non_null(s.thread);
	assert_ptr_equal(s.thread, s.app_thread);

	/* without shutdown_cb: stops with 0 */
	assert_true(h_app_opts(&opts, 1));
	assert_int_equal(run_shutdown(&opts), 0);
}

/* start_shutdown from inside a callback on a reactor */
static void shutdown_from_reactor(void *ctx)
{
	(void)ctx;
	reactor_app_start_shutdown();
}

static void test_start_shutdown_on_reactor(void **state)
{
	struct reactor_app_opts opts;
	struct shut s = {.rc = 8};

	(void)state;
	H_BEGIN();
	assert_true(h_app_opts(&opts, 1));
	opts.shutdown_cb = shutdown_cb;
	opts.shutdown_ctx = &s;
	assert_int_equal(reactor_app_start(&opts, shutdown_from_reactor, NULL), 8);
	assert_int_equal(atomic_load(&s.calls), 1);
}

/* ---- reactor_app_stop() from a foreign pthread ("Any thread") ----------------------------- */
static void *foreign_stopper(void *arg)
{
	reactor_app_stop((int)(intptr_t)arg);
	return NULL;
}

static pthread_t stopper_tid;
static void start_foreign_stopper(void *ctx)
{
	if (pthread_create(&stopper_tid, NULL, foreign_stopper, ctx) != 0)
		reactor_app_stop(-1);
}

/*
 * The stopping pthread races with the app's own shutdown (reactor_app_start
 * returning, the framework being freed): repeated to give a race detector
 * (TSan) a chance to see it.
 */
static void test_stop_from_foreign_pthread(void **state)
{
	struct reactor_app_opts opts;

	(void)state;
	H_BEGIN();
	for (int i = 0; i < 20; i++) {
		assert_true(h_app_opts(&opts, h_allowed_cpu_count() >= 2 ? 2 : 1));
		assert_int_equal(reactor_app_start(&opts, start_foreign_stopper, (void *)(intptr_t)(i + 1)), i + 1);
		pthread_join(stopper_tid, NULL);
	}
}

/* ---- shutdown with busy worker threads --------------------------------------------------------- */
static atomic_long busy_msgs;
static void busy_msg(void *arg)
{
	struct reactor_thread *t = arg;

	atomic_fetch_add(&busy_msgs, 1);
	/* keep a message chain going until the thread is asked to exit */
	if (reactor_thread_send_msg(t, busy_msg, t) != 0)
		return;
}

static void busy_start(void *ctx)
{
	(void)ctx;
	for (int i = 0; i < 4; i++) {
		struct reactor_thread *t = reactor_thread_create("busy", NULL);

		if (t != NULL)
			reactor_thread_send_msg(t, busy_msg, t);
	}
	reactor_app_stop(0);
}

static void test_stop_with_busy_threads(void **state)
{
	struct reactor_app_opts opts;

	(void)state;
	H_BEGIN();
	atomic_store(&busy_msgs, 0);
	assert_true(h_app_opts(&opts, h_allowed_cpu_count() >= 2 ? 2 : 1));
	assert_int_equal(reactor_app_start(&opts, busy_start, NULL), 0);
	assert_true(atomic_load(&busy_msgs) > 0);
}

/* ---- opts_init defaults -------------------------------------------------------------------------- */
static void test_opts_defaults(void **state)
{
	struct reactor_app_opts o;
	struct reactor_opts r;

	(void)state;
	H_BEGIN();
	memset(&o, 0x5a, sizeof(o));
	reactor_app_opts_init(&o, sizeof(o));
	assert_int_equal(o.opts_size, sizeof(o));
	assert_non_null(o.name);
	assert_string_equal(o.name, "reactor_app");
	assert_null(o.cpumask);
	assert_int_equal(o.main_core, -1);
	assert_int_equal(o.idle_policy, REACTOR_IDLE_POLL);
	assert_int_equal(o.idle_threshold_us, 100);
	assert_int_equal(o.stall_threshold_ms, 25);
	assert_true(o.handle_signals);
	assert_null(o.shutdown_cb);
	assert_null(o.shutdown_ctx);
	assert_int_equal(o.print_level, REACTOR_LOG_NOTICE);
	assert_int_equal(o.event_ring_size, 65536);
	assert_int_equal(o.msg_ring_size, 16384);
	assert_int_equal(o.msg_pool_size, 262144);
	assert_int_equal(o.thread_exit_timeout_ms, 5000);

	memset(&r, 0x5a, sizeof(r));
	reactor_opts_init(&r, sizeof(r));
	assert_int_equal(r.opts_size, sizeof(r));
	assert_null(r.cpumask);
	assert_int_equal(r.main_core, -1);
	assert_int_equal(r.idle_policy, REACTOR_IDLE_POLL);
	assert_int_equal(r.idle_threshold_us, 100);
	assert_int_equal(r.stall_threshold_ms, 25);
	assert_int_equal(r.event_ring_size, 65536);
	assert_int_equal(r.msg_ring_size, 16384);
	assert_int_equal(r.msg_pool_size, 262144);
	assert_int_equal(r.thread_exit_timeout_ms, 5000);
}

/* ---- the framework API directly, with reactor_framework_* ----------------------------------- */
static atomic_int fw_ran;
static void fw_msg(void *arg)
{
	(void)arg;
	atomic_store(&fw_ran, 1);
	if (reactor_get_current_core() == REACTOR_CORE_INVALID)
		H_FAIL("framework thread message not on a reactor");
	reactor_framework_stop();
}

static void test_framework_direct(void **state)
{
	struct reactor_opts o;
	struct reactor_thread *t;
	char mask[64];

	(void)state;
	H_BEGIN();
	assert_true(h_mask_of_n(1, mask, sizeof(mask), NULL));
	reactor_opts_init(&o, sizeof(o));
	o.cpumask = mask;
	assert_int_equal(reactor_framework_init(&o), 0);
	assert_int_equal(reactor_framework_init(&o), -EALREADY);
	assert_int_equal(reactor_get_core_count(), 1);
	/* created before start: runs once the reactors do */
	t = reactor_thread_create("pre-start", NULL);
	assert_non_null(t);
	assert_int_equal(reactor_thread_send_msg(t, fw_msg, NULL), 0);
	atomic_store(&fw_ran, 0);
	assert_int_equal(reactor_framework_start(), 0);
	assert_int_equal(atomic_load(&fw_ran), 1);
	reactor_framework_fini();
	assert_int_equal(reactor_get_core_count(), 0);
	h_assert_no_failures();
	/* and again */
	assert_int_equal(reactor_framework_init(&o), 0);
	t = reactor_thread_create("again", NULL);
	assert_non_null(t);
	assert_int_equal(reactor_thread_send_msg(t, fw_msg, NULL), 0);
	assert_int_equal(reactor_framework_start(), 0);
	reactor_framework_fini();
	o.cpumask = "0xZ";
	assert_int_equal(reactor_framework_init(&o), -EINVAL);
	o.cpumask = mask;
	o.opts_size = 0;
	assert_int_equal(reactor_framework_init(&o), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_opts_defaults),
		H_TEST(test_start_stop_rc),
		H_TEST(test_start_fn_placement),
		H_TEST(test_init_failures),
		H_TEST(test_start_twice),
		H_TEST(test_start_shutdown),
		H_TEST(test_start_shutdown_on_reactor),
		H_TEST(test_stop_from_foreign_pthread),
		H_TEST(test_stop_with_busy_threads),
		H_TEST(test_framework_direct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
