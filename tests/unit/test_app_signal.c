/* SPDX-License-Identifier: BSD-3-Clause */
/* Real signals to the process: SIGTERM/SIGINT -> shutdown_cb, SIGPIPE ignored, handle_signals=false. */
#include "helpers.h"

struct shut {
	atomic_int calls;
	struct reactor_thread *thread;
	struct reactor_thread *app_thread;
	uint32_t core;
	pthread_t pthread;
	void *ctx;
	int rc;
};

static void shutdown_cb(void *ctx)
{
	struct shut *s = ctx;

	s->ctx = ctx;
	s->thread = reactor_get_thread();
	s->app_thread = reactor_thread_get_app_thread();
	s->core = reactor_get_current_core();
	s->pthread = pthread_self();
	if (atomic_fetch_add(&s->calls, 1) == 0)
		reactor_app_stop(s->rc);
}

static void send_sigterm(void *ctx)
{
	(void)ctx;
	kill(getpid(), SIGTERM);
}

static void send_sigint(void *ctx)
{
	(void)ctx;
	kill(getpid(), SIGINT);
}

static void opts_with_signals(struct reactor_app_opts *opts)
{
	assert_true(h_app_opts(opts, h_allowed_cpu_count() >= 2 ? 2 : 1));
	opts->handle_signals = true;
}

static void check_shutdown_on_app_thread(struct shut *s, pthread_t app_caller)
{
	assert_int_equal(atomic_load(&s->calls), 1);
	assert_ptr_equal(s->ctx, s);
	assert_non_null(s->thread);
	assert_ptr_equal(s->thread, s->app_thread);
	assert_int_equal(s->core, h_app_cpu(0));
	/* the app thread lives on the main core, whose reactor is the start caller */
	assert_true(pthread_equal(s->pthread, app_caller));
}

static void test_sigterm_calls_shutdown_cb(void **state)
{
	struct reactor_app_opts opts;
	struct shut s = {.rc = 7};

	(void)state;
	H_BEGIN();
	opts_with_signals(&opts);
	opts.shutdown_cb = shutdown_cb;
	opts.shutdown_ctx = &s;
	assert_int_equal(h_app_run_trigger(&opts, send_sigterm, NULL, 10000, "SIGTERM"), 7);
	h_assert_no_failures();
	check_shutdown_on_app_thread(&s, pthread_self());
}

static void test_sigint_calls_shutdown_cb(void **state)
{
	struct reactor_app_opts opts;
	struct shut s = {.rc = 9};

	(void)state;
	H_BEGIN();
	opts_with_signals(&opts);
	opts.shutdown_cb = shutdown_cb;
	opts.shutdown_ctx = &s;
	assert_int_equal(h_app_run_trigger(&opts, send_sigint, NULL, 10000, "SIGINT"), 9);
	h_assert_no_failures();
	check_shutdown_on_app_thread(&s, pthread_self());
}

/* A second app in the same process handles signals again. */
static void test_sigterm_second_app(void **state)
{
	struct reactor_app_opts opts;
	struct shut s = {.rc = 12};

	(void)state;
	H_BEGIN();
	opts_with_signals(&opts);
	opts.shutdown_cb = shutdown_cb;
	opts.shutdown_ctx = &s;
	assert_int_equal(h_app_run_trigger(&opts, send_sigterm, NULL, 10000, "SIGTERM to a second app"), 12);
	h_assert_no_failures();
	assert_int_equal(atomic_load(&s.calls), 1);
}

static void test_sigterm_without_cb(void **state)
{
	struct reactor_app_opts opts;

	(void)state;
	H_BEGIN();
	opts_with_signals(&opts);
	assert_int_equal(h_app_run_trigger(&opts, send_sigterm, NULL, 10000, "SIGTERM (no shutdown_cb)"), 0);
	h_assert_no_failures();
	opts_with_signals(&opts);
	assert_int_equal(h_app_run_trigger(&opts, send_sigint, NULL, 10000, "SIGINT (no shutdown_cb)"), 0);
	h_assert_no_failures();
}

/* ---- SIGPIPE ------------------------------------------------------------------------------- */
struct pipe_result {
	ssize_t wrote;
	int err;
};

static void write_to_closed_pipe(void *arg)
{
	struct pipe_result *r = arg;
	int p[2];

	if (!H_CHECK(pipe(p) == 0))
		return;
	close(p[0]);
	errno = 0;
	r->wrote = write(p[1], "x", 1); /* SIGPIPE would kill the process here */
	r->err = errno;
	close(p[1]);
}

static void sigpipe_body(void *arg)
{
	struct pipe_result *r = arg;

	/* from a foreign pthread, and on the app thread (a reactor) */
	write_to_closed_pipe(&r[0]);
	h_call_on_thread(reactor_thread_get_app_thread(), write_to_closed_pipe, &r[1]);
}

static void test_sigpipe_ignored(void **state)
{
	struct reactor_app_opts opts;
	struct pipe_result r[2] = {{0, 0}, {0, 0}};
	struct sigaction dfl = {.sa_handler = SIG_DFL};

	(void)state;
	H_BEGIN();
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGPIPE, &dfl, NULL); /* make sure it would be fatal without the app */
	opts_with_signals(&opts);
	assert_int_equal(h_app_run(&opts, sigpipe_body, r), 0);
	h_assert_no_failures();
	assert_int_equal(r[0].wrote, -1);
	assert_int_equal(r[0].err, EPIPE);
	assert_int_equal(r[1].wrote, -1);
	assert_int_equal(r[1].err, EPIPE);
}

/* ---- handle_signals = false leaves the program's handlers alone -------------------------- */
static atomic_int my_term_count; /* lock-free: usable in a handler */

static void my_term_handler(int sig)
{
	(void)sig;
	atomic_fetch_add(&my_term_count, 1);
}

struct hands_off {
	struct shut s;
	void (*term_handler)(int);
	void (*pipe_handler)(int);
	int term_count_after_kill;
};

static void hands_off_body(void *arg)
{
	struct hands_off *h = arg;
	struct sigaction cur;
	uint64_t end;

	sigaction(SIGTERM, NULL, &cur);
	h->term_handler = cur.sa_handler;
	sigaction(SIGPIPE, NULL, &cur);
	h->pipe_handler = cur.sa_handler;
	kill(getpid(), SIGTERM);
	end = h_now_ns() + 5000000000ull;
	while (atomic_load(&my_term_count) == 0 && h_now_ns() < end)
		h_sleep_ms(1);
	h->term_count_after_kill = atomic_load(&my_term_count);
	h_sleep_ms(100); /* a shutdown_cb, if wrongly installed, would have run by now */
}

static void test_handle_signals_false(void **state)
{
	struct reactor_app_opts opts;
	struct hands_off h;
	struct sigaction mine = {.sa_handler = my_term_handler}, dfl = {.sa_handler = SIG_DFL}, old_term, old_pipe;

	(void)state;
	H_BEGIN();
	memset(&h, 0, sizeof(h));
	h.s.rc = 55;
	sigemptyset(&mine.sa_mask);
	sigemptyset(&dfl.sa_mask);
	assert_int_equal(sigaction(SIGTERM, &mine, &old_term), 0);
	assert_int_equal(sigaction(SIGPIPE, &dfl, &old_pipe), 0);
	atomic_store(&my_term_count, 0);
	assert_true(h_app_opts(&opts, 1));
	opts.handle_signals = false;
	opts.shutdown_cb = shutdown_cb;
	opts.shutdown_ctx = &h.s;
	assert_int_equal(h_app_run(&opts, hands_off_body, &h), 0);
	h_assert_no_failures();
	assert_true(h.term_handler == my_term_handler);
	assert_true(h.pipe_handler == SIG_DFL);
	assert_int_equal(h.term_count_after_kill, 1);
	assert_int_equal(atomic_load(&h.s.calls), 0);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_sigterm_calls_shutdown_cb), H_TEST(test_sigint_calls_shutdown_cb),
		H_TEST(test_sigterm_second_app),	H_TEST(test_sigterm_without_cb),
		H_TEST(test_sigpipe_ignored),		H_TEST(test_handle_signals_false),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
