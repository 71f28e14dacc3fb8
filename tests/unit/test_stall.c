/* SPDX-License-Identifier: BSD-3-Clause */
/* The stall detector reports long callbacks while they still run, by name. */
#include "helpers.h"

#include <sys/eventfd.h>

#define POLLER_NAME "busy_poller_for_stall"

struct busy {
	long spin_ms;		 /* at least this long */
	long max_ms;		 /* ... and until a report was seen, at most this */
	struct reactor_poller *p;
	atomic_int done;
	atomic_int reported_while_running;
	atomic_long spun_ms;
};

static int stall_reports(void)
{
	return h_log_count("stall");
}

static void spin(struct busy *b)
{
	uint64_t t0 = h_now_ns(), min_end = t0 + (uint64_t)b->spin_ms * 1000000u;
	uint64_t max_end = t0 + (uint64_t)b->max_ms * 1000000u;

	for (;;) {
		uint64_t now = h_now_ns();

		if (now >= max_end)
			break;
		if (now >= min_end && (b->max_ms == b->spin_ms || stall_reports() > 0))
			break;
	}
	if (stall_reports() > 0)
		atomic_store(&b->reported_while_running, 1);
	atomic_store(&b->spun_ms, (long)((h_now_ns() - t0) / 1000000u));
}

static int busy_poller(void *arg)
{
	struct busy *b = arg;

	spin(b);
	reactor_poller_unregister(&b->p);
	atomic_store(&b->done, 1);
	return REACTOR_POLLER_BUSY;
}

static void reg_busy(void *arg)
{
	struct busy *b = arg;

	b->p = reactor_poller_register_named(busy_poller, b, 0, POLLER_NAME);
	H_CHECK(b->p != NULL);
}

static bool busy_done(void *arg)
{
	return atomic_load(&((struct busy *)arg)->done) != 0;
}

static void busy_body(void *arg)
{
	struct busy *b = arg;
	struct reactor_thread *t = h_thread_create_on("stall-thread", REACTOR_CORE_INVALID);

	if (t == NULL)
		return;
	h_call_on_thread(t, reg_busy, b);
	h_wait_until(busy_done, b, 20000, "the busy poller to finish");
	h_sleep_ms(100); /* a late report would arrive now */
}

static uint64_t total_stalls(void)
{
	uint64_t n = 0;
	uint32_t core;

	REACTOR_FOREACH_CORE(core)
	{
		struct reactor_stats st = {.stats_size = sizeof(st)};

		if (reactor_get_stats(core, &st) == 0)
			n += st.stalls;
	}
	return n;
}

static uint64_t stalls_seen;
static void busy_body_stats(void *arg)
{
	busy_body(arg);
	stalls_seen = total_stalls();
}

static void run_busy(struct busy *b, uint32_t threshold_ms, bool set_threshold)
{
	struct reactor_app_opts opts;

	assert_true(h_app_opts(&opts, h_allowed_cpu_count() >= 2 ? 2 : 1));
	if (set_threshold)
		opts.stall_threshold_ms = threshold_ms;
	stalls_seen = 0;
	h_log_capture_start(REACTOR_LOG_DEBUG);
	assert_int_equal(h_app_run(&opts, busy_body_stats, b), 0);
	h_log_capture_stop();
	h_assert_no_failures();
}

static void test_poller_stall_reported(void **state)
{
	struct busy b = {.spin_ms = 60, .max_ms = 2000};

	(void)state;
	H_BEGIN();
	run_busy(&b, 20, true);
	print_message("# busy poller spun %ld ms; %d stall messages, stalls counter %" PRIu64 "\n",
		      atomic_load(&b.spun_ms), stall_reports(), stalls_seen);
	if (stall_reports() < 1) {
		h_log_dump();
		fail_msg("no log message mentions a stall");
	}
	if (h_log_count2("stall", POLLER_NAME) < 1 && h_log_count(POLLER_NAME) < 1) {
		h_log_dump();
		fail_msg("the stall report does not name the poller '%s'", POLLER_NAME);
	}
	if (!atomic_load(&b.reported_while_running)) {
		h_log_dump();
		fail_msg("the stall was not reported while the poller was still running");
	}
	assert_true(stalls_seen >= 1);
	h_log_capture_reset();
}

/* The default threshold (25 ms) applies when the option is not touched. */
static void test_default_threshold(void **state)
{
	struct busy b = {.spin_ms = 80, .max_ms = 2000};

	(void)state;
	H_BEGIN();
	run_busy(&b, 0, false);
	if (stall_reports() < 1) {
		h_log_dump();
		fail_msg("an 80+ ms poller was not reported with the default threshold");
	}
	assert_true(stalls_seen >= 1);
	h_log_capture_reset();
}

static void test_threshold_zero_disables(void **state)
{
	struct busy b = {.spin_ms = 100, .max_ms = 100};

	(void)state;
	H_BEGIN();
	run_busy(&b, 0, true);
	if (stall_reports() != 0) {
		h_log_dump();
		fail_msg("stall reported although the detector was disabled");
	}
	assert_int_equal(stalls_seen, 0);
	h_log_capture_reset();
}

/* A callback shorter than the threshold is not reported. */
static void test_short_callback_not_reported(void **state)
{
	struct busy b = {.spin_ms = 5, .max_ms = 5};

	(void)state;
	H_BEGIN();
	run_busy(&b, 200, true);
	if (stall_reports() != 0) {
		h_log_dump();
		fail_msg("a 5 ms callback was reported with a 200 ms threshold");
	}
	assert_int_equal(stalls_seen, 0);
	h_log_capture_reset();
}

/* Events and messages are watched too. */
static atomic_int ev_done;
static struct busy ev_busy = {.spin_ms = 60, .max_ms = 2000};

static void busy_event(void *a1, void *a2)
{
	(void)a1;
	(void)a2;
	spin(&ev_busy);
	atomic_store(&ev_done, 1);
}

static void busy_msg(void *arg)
{
	spin(arg);
	atomic_store(&((struct busy *)arg)->done, 1);
}

static bool ev_finished(void *arg)
{
	(void)arg;
	return atomic_load(&ev_done) != 0;
}

static void event_msg_body(void *arg)
{
	struct busy *mb = arg;
	struct reactor_event *ev;
	struct reactor_thread *t;

	ev = reactor_event_allocate(reactor_get_main_core(), busy_event, NULL, NULL);
	if (!H_CHECK(ev != NULL) || !H_CHECK(reactor_event_call(ev) == 0))
		return;
	h_wait_until(ev_finished, NULL, 20000, "the busy event");
	h_sleep_ms(50);
	if (h_log_count("stall") < 1)
		H_FAIL("a 60 ms event was not reported");
	h_log_capture_reset();

	t = h_thread_create_on("stall-msg", REACTOR_CORE_INVALID);
	if (t == NULL)
		return;
	H_CHECK_INT(reactor_thread_send_msg(t, busy_msg, mb), ==, 0);
	h_wait_until(busy_done, mb, 20000, "the busy message");
	h_sleep_ms(50);
	if (h_log_count("stall") < 1)
		H_FAIL("a 60 ms message was not reported");
}

/* ... and fd callbacks */
struct fd_busy {
	int fd;
	struct reactor_fd_event *ev;
	struct busy b;
};

static int busy_fd_cb(void *arg, uint32_t events)
{
	struct fd_busy *f = arg;
	uint64_t v;

	(void)events;
	if (read(f->fd, &v, sizeof(v)) < 0)
		(void)0;
	spin(&f->b);
	reactor_fd_unregister(&f->ev);
	atomic_store(&f->b.done, 1);
	return REACTOR_POLLER_BUSY;
}

static void reg_busy_fd(void *arg)
{
	struct fd_busy *f = arg;

	f->ev = reactor_fd_register(f->fd, REACTOR_FD_READ, busy_fd_cb, f, "busy-fd");
	H_CHECK(f->ev != NULL);
}

static void fd_body(void *arg)
{
	struct fd_busy *f = arg;
	struct reactor_thread *t = h_thread_create_on("stall-fd", REACTOR_CORE_INVALID);
	uint64_t one = 1;

	if (t == NULL)
		return;
	h_call_on_thread(t, reg_busy_fd, f);
	H_CHECK(write(f->fd, &one, sizeof(one)) == sizeof(one));
	h_wait_until(busy_done, &f->b, 20000, "the busy fd callback");
	h_sleep_ms(50);
}

static void test_fd_callback_stall(void **state)
{
	struct reactor_app_opts opts;
	struct fd_busy f = {.fd = eventfd(0, EFD_NONBLOCK), .b = {.spin_ms = 60, .max_ms = 2000}};

	(void)state;
	H_BEGIN();
	assert_true(f.fd >= 0);
	assert_true(h_app_opts(&opts, 1));
	opts.stall_threshold_ms = 20;
	h_log_capture_start(REACTOR_LOG_DEBUG);
	assert_int_equal(h_app_run(&opts, fd_body, &f), 0);
	h_log_capture_stop();
	close(f.fd);
	h_assert_no_failures();
	if (h_log_count("stall") < 1) {
		h_log_dump();
		fail_msg("a 60 ms fd callback was not reported");
	}
	h_log_capture_reset();
}

static void test_event_and_message_stalls(void **state)
{
	struct reactor_app_opts opts;
	struct busy mb = {.spin_ms = 60, .max_ms = 2000};

	(void)state;
	H_BEGIN();
	atomic_store(&ev_done, 0);
	assert_true(h_app_opts(&opts, 1));
	opts.stall_threshold_ms = 20;
	h_log_capture_start(REACTOR_LOG_DEBUG);
	assert_int_equal(h_app_run(&opts, event_msg_body, &mb), 0);
	h_log_capture_stop();
	if (h_failures() != 0)
		h_log_dump();
	h_log_capture_reset();
	h_assert_no_failures();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_poller_stall_reported),
		H_TEST(test_default_threshold),
		H_TEST(test_threshold_zero_disables),
		H_TEST(test_short_callback_not_reported),
		H_TEST(test_event_and_message_stalls),
		H_TEST(test_fd_callback_stall),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
