/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Binary compatibility of the size-carrying structs: a program compiled
 * against an older, smaller struct passes a smaller opts_size/stats_size.
 * The library must use defaults for the fields it was not given and never
 * read or write past the size it was told.
 */
#include "helpers.h"

#define SLACK 64

/* A buffer bigger than the struct, all 0xff: garbage after any prefix. */
static void *garbage_buffer(size_t size)
{
	void *p = malloc(size + SLACK);

	assert_non_null(p);
	memset(p, 0xff, size + SLACK);
	return p;
}

static void assert_untouched(const void *buf, size_t from, size_t to, unsigned char pattern, const char *what)
{
	const unsigned char *b = buf;

	for (size_t i = from; i < to; i++)
		if (b[i] != pattern)
			fail_msg("%s: byte %zu past the given size was written (0x%02x)", what, i, b[i]);
}

/* ---- opts_init writes only the prefix it was told ----------------------------------------- */
static void test_opts_init_prefix(void **state)
{
	static const size_t app_sizes[] = {
		sizeof(size_t),
		offsetof(struct reactor_app_opts, main_core),
		offsetof(struct reactor_app_opts, handle_signals),
		offsetof(struct reactor_app_opts, print_level),
		offsetof(struct reactor_app_opts, thread_exit_timeout_ms),
	};
	static const size_t fw_sizes[] = {
		sizeof(size_t),
		offsetof(struct reactor_opts, idle_policy),
		offsetof(struct reactor_opts, event_ring_size),
	};

	(void)state;
	H_BEGIN();
	for (size_t i = 0; i < sizeof(app_sizes) / sizeof(app_sizes[0]); i++) {
		struct reactor_app_opts *o = garbage_buffer(sizeof(*o));

		reactor_app_opts_init(o, app_sizes[i]);
		assert_int_equal(o->opts_size, app_sizes[i]);
		assert_untouched(o, app_sizes[i], sizeof(*o) + SLACK, 0xff, "reactor_app_opts_init");
		if (app_sizes[i] > offsetof(struct reactor_app_opts, cpumask))
			assert_null(o->cpumask);
		free(o);
	}
	for (size_t i = 0; i < sizeof(fw_sizes) / sizeof(fw_sizes[0]); i++) {
		struct reactor_opts *o = garbage_buffer(sizeof(*o));

		reactor_opts_init(o, fw_sizes[i]);
		assert_int_equal(o->opts_size, fw_sizes[i]);
		assert_untouched(o, fw_sizes[i], sizeof(*o) + SLACK, 0xff, "reactor_opts_init");
		free(o);
	}
}

/* ---- an old, smaller reactor_app_opts starts an app with defaults ----------------------------- */
struct compat_run {
	atomic_int started;
	atomic_long events;
	atomic_long msgs;
	uint32_t core;
	int stall_seen;
};

static void compat_event(void *a1, void *a2)
{
	struct compat_run *r = a1;

	(void)a2;
	atomic_fetch_add(&r->events, 1);
}

static void compat_msg(void *arg)
{
	struct compat_run *r = arg;

	atomic_fetch_add(&r->msgs, 1);
}

/* Use the rings and pool a bit: garbage sizes (0xffffffff) would have failed init. */
static void exercise(struct compat_run *r)
{
	struct reactor_thread *t = h_thread_create_on("compat", REACTOR_CORE_INVALID);

	atomic_store(&r->started, 1);
	for (int i = 0; i < 100; i++) {
		struct reactor_event *ev = reactor_event_allocate(reactor_get_main_core(), compat_event, r, NULL);

		if (!H_CHECK(ev != NULL) || !H_CHECK(reactor_event_call(ev) == 0))
			break;
		if (t != NULL)
			H_CHECK_INT(reactor_thread_send_msg(t, compat_msg, r), ==, 0);
	}
	h_wait_ge(&r->events, 100, 10000, "events");
	if (t != NULL) {
		h_wait_ge(&r->msgs, 100, 10000, "messages");
	}
}

static void compat_body(void *arg)
{
	exercise(arg);
}

/* The trigger for apps whose handle_signals was left to its default (true). */
static void compat_sigterm(void *arg)
{
	exercise(arg);
	kill(getpid(), SIGTERM);
}

static void run_app_prefix(size_t prefix)
{
	struct reactor_app_opts *o = garbage_buffer(sizeof(*o));
	struct compat_run r;
	char mask[64];
	int rc;

	memset(&r, 0, sizeof(r));
	h_failures_reset();
	reactor_app_opts_init(o, prefix);
	assert_true(h_mask_of_n(1, mask, sizeof(mask), NULL));
	if (prefix >= offsetof(struct reactor_app_opts, cpumask) + sizeof(o->cpumask))
		o->cpumask = mask;
	if (prefix >= offsetof(struct reactor_app_opts, handle_signals) + sizeof(o->handle_signals)) {
		o->handle_signals = false;
		rc = h_app_run(o, compat_body, &r);
	} else {
		/*
		 * handle_signals, shutdown_cb and shutdown_ctx are beyond the prefix:
		 * the defaults (handle signals, no callback) must apply, so SIGTERM
		 * stops the app with 0. A garbage shutdown_cb (0xffff...) would crash.
		 */
		rc = h_app_run_trigger(o, compat_sigterm, &r, 10000, "SIGTERM");
	}
	if (rc != 0)
		fail_msg("opts_size %zu: reactor_app_start returned %d", prefix, rc);
	h_assert_no_failures();
	assert_int_equal(atomic_load(&r.started), 1);
	/* the library did not write into the caller's struct past the prefix */
	assert_untouched(o, prefix, sizeof(*o) + SLACK, 0xff, "reactor_app_start");
	free(o);
}

static void test_app_opts_prefixes(void **state)
{
	static const size_t sizes[] = {
		sizeof(size_t),
		offsetof(struct reactor_app_opts, main_core),
		offsetof(struct reactor_app_opts, handle_signals),
		offsetof(struct reactor_app_opts, shutdown_cb),
		offsetof(struct reactor_app_opts, print_level),
		offsetof(struct reactor_app_opts, event_ring_size),
		offsetof(struct reactor_app_opts, thread_exit_timeout_ms),
		sizeof(struct reactor_app_opts),
	};

	(void)state;
	H_BEGIN_TIMEOUT(120);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		print_message("# reactor_app_opts with opts_size %zu of %zu\n", sizes[i], sizeof(struct reactor_app_opts));
		run_app_prefix(sizes[i]);
	}
}

/* ---- the same for struct reactor_opts with reactor_framework_init --------------------------- */
static atomic_int fw_ran;
static void fw_msg(void *arg)
{
	struct compat_run *r = arg;
	struct reactor_event *ev;

	atomic_store(&fw_ran, 1);
	/* the event ring and the pool work (garbage sizes would not) */
	ev = reactor_event_allocate(reactor_get_main_core(), compat_event, r, NULL);
	if (H_CHECK(ev != NULL))
		H_CHECK_INT(reactor_event_call(ev), ==, 0);
	H_CHECK_INT(reactor_get_idle_policy(reactor_get_main_core()), ==, REACTOR_IDLE_POLL);
	reactor_framework_stop();
}

static void test_framework_opts_prefixes(void **state)
{
	static const size_t sizes[] = {
		offsetof(struct reactor_opts, main_core),
		offsetof(struct reactor_opts, idle_policy),
		offsetof(struct reactor_opts, stall_threshold_ms),
		offsetof(struct reactor_opts, event_ring_size),
		offsetof(struct reactor_opts, thread_exit_timeout_ms),
	};
	char mask[64];

	(void)state;
	H_BEGIN();
	assert_true(h_mask_of_n(1, mask, sizeof(mask), NULL));
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct reactor_opts *o = garbage_buffer(sizeof(*o));
		struct compat_run r;
		struct reactor_thread *t;
		int rc;

		memset(&r, 0, sizeof(r));
		h_failures_reset();
		reactor_opts_init(o, sizes[i]);
		o->cpumask = mask;
		rc = reactor_framework_init(o);
		if (rc != 0)
			fail_msg("reactor_opts with opts_size %zu: reactor_framework_init = %d", sizes[i], rc);
		t = reactor_thread_create("fw-compat", NULL);
		assert_non_null(t);
		atomic_store(&fw_ran, 0);
		assert_int_equal(reactor_thread_send_msg(t, fw_msg, &r), 0);
		h_waiting_for("reactor_framework_start() to return (opts_size %zu)", sizes[i]);
		assert_int_equal(reactor_framework_start(), 0);
		reactor_framework_fini();
		h_assert_no_failures();
		assert_int_equal(atomic_load(&fw_ran), 1);
		assert_untouched(o, sizes[i], sizeof(*o) + SLACK, 0xff, "reactor_framework_init");
		free(o);
	}
}

/* ---- stats: a smaller stats_size gets only that prefix --------------------------------------- */
struct stats_check {
	struct reactor_thread *t;
	unsigned char rbuf[sizeof(struct reactor_stats) + SLACK];
	unsigned char tbuf[sizeof(struct reactor_thread_stats) + SLACK];
	int rrc, trc;
	size_t rsize, tsize;
};

static void stats_body(void *arg)
{
	struct stats_check *c = arg;
	struct reactor_stats *rs = (struct reactor_stats *)c->rbuf;
	struct reactor_thread_stats *ts = (struct reactor_thread_stats *)c->tbuf;

	c->t = h_thread_create_on("stats", REACTOR_CORE_INVALID);
	if (c->t == NULL)
		return;
	for (int i = 0; i < 10; i++)
		h_call_on_thread(c->t, h_noop, NULL);
	h_sleep_ms(20);
	memset(c->rbuf, 0xaa, sizeof(c->rbuf));
	rs->stats_size = c->rsize;
	c->rrc = reactor_get_stats(reactor_get_main_core(), rs);
	memset(c->tbuf, 0xaa, sizeof(c->tbuf));
	ts->stats_size = c->tsize;
	c->trc = reactor_thread_get_stats(c->t, ts);
}

static void test_stats_prefix(void **state)
{
	struct reactor_app_opts opts;
	static struct stats_check c;
	const uint64_t pattern = 0xaaaaaaaaaaaaaaaaull;

	(void)state;
	H_BEGIN();
	memset(&c, 0, sizeof(c));
	c.rsize = offsetof(struct reactor_stats, sleeps);
	c.tsize = offsetof(struct reactor_thread_stats, msgs);
	assert_true(h_app_opts(&opts, 1));
	assert_int_equal(h_app_run(&opts, stats_body, &c), 0);
	h_assert_no_failures();
	assert_int_equal(c.rrc, 0);
	assert_int_equal(c.trc, 0);
	{
		struct reactor_stats *rs = (struct reactor_stats *)c.rbuf;
		struct reactor_thread_stats *ts = (struct reactor_thread_stats *)c.tbuf;

		/* the prefix was filled in ... */
		assert_int_equal(rs->stats_size, c.rsize);
		assert_true(rs->busy_ticks != pattern && rs->idle_ticks != pattern && rs->events != pattern);
		assert_true(rs->busy_ticks + rs->idle_ticks > 0);
		assert_int_equal(ts->stats_size, c.tsize);
		assert_true(ts->busy_ticks != pattern && ts->idle_ticks != pattern);
		assert_true(ts->busy_ticks > 0);
	}
	/* ... and nothing after it */
	assert_untouched(c.rbuf, c.rsize, sizeof(c.rbuf), 0xaa, "reactor_get_stats");
	assert_untouched(c.tbuf, c.tsize, sizeof(c.tbuf), 0xaa, "reactor_thread_get_stats");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_opts_init_prefix),
		H_TEST(test_app_opts_prefixes),
		H_TEST(test_framework_opts_prefixes),
		H_TEST(test_stats_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
