/* SPDX-License-Identifier: BSD-3-Clause */
/* Lightweight threads: creation, placement, messages, for_each, user-driven mode, exit. */
#include "helpers.h"

#define MAX_SENDERS 6

static unsigned int two_or_one(void)
{
	return h_allowed_cpu_count() >= 2 ? 2 : 1;
}

/* ---- create: names, ids, current thread ------------------------------------------------ */
struct ident {
	struct reactor_thread *t;
	struct reactor_thread *seen;
	uint32_t core;
};

static void who_am_i(void *arg)
{
	struct ident *id = arg;

	id->seen = reactor_get_thread();
	id->core = reactor_get_current_core();
}

/* core := whether the current thread says it has exited (it is running: 0) */
static void is_exited_here(void *arg)
{
	struct ident *id = arg;

	id->core = reactor_thread_is_exited(reactor_get_thread()) ? 1 : 0;
}

static void names_body(void *arg)
{
	char name[32];
	struct reactor_thread *t1, *t2, *app;
	struct ident id = {0};

	(void)arg;
	H_CHECK(reactor_get_thread() == NULL); /* a foreign pthread has none */
	app = reactor_thread_get_app_thread();
	H_CHECK(app != NULL);

	strcpy(name, "worker");
	t1 = reactor_thread_create(name, NULL);
	if (!H_CHECK(t1 != NULL))
		return;
	strcpy(name, "changed"); /* the name was copied */
	H_CHECK(strcmp(reactor_thread_get_name(t1), "worker") == 0);
	t2 = reactor_thread_create(NULL, NULL);
	if (!H_CHECK(t2 != NULL))
		return;
	{
		char want[64];

		snprintf(want, sizeof(want), "thread-%" PRIu64, reactor_thread_get_id(t2));
		if (strcmp(reactor_thread_get_name(t2), want) != 0)
			H_FAIL("unnamed thread is called \"%s\", want \"%s\"", reactor_thread_get_name(t2), want);
	}
	H_CHECK_INT(reactor_thread_get_id(t1), >=, 1);
	H_CHECK_INT(reactor_thread_get_id(t2), >=, 1);
	H_CHECK(reactor_thread_get_id(t1) != reactor_thread_get_id(t2));
	H_CHECK(reactor_thread_get_id(app) != reactor_thread_get_id(t1));
	{
		/* a reactor's thread may only be asked from itself; a foreign thread's
		 * reactor_thread_destroy() is refused */
		struct ident alive = {0};

		h_call_on_thread(t1, is_exited_here, &alive);
		H_CHECK(alive.core == 0);
		H_CHECK_INT(reactor_thread_destroy(t1), ==, -EINVAL);
		H_CHECK_INT(reactor_thread_destroy(NULL), ==, -EINVAL);
	}

	id.t = t1;
	h_call_on_thread(t1, who_am_i, &id);
	H_CHECK_PTR_EQ(id.seen, t1);
	h_call_on_thread(t2, who_am_i, &id);
	H_CHECK_PTR_EQ(id.seen, t2);
	h_call_on_thread(app, who_am_i, &id);
	H_CHECK_PTR_EQ(id.seen, app);
	H_CHECK_INT(id.core, ==, reactor_get_main_core());
}

static void test_create_names_ids(void **state)
{
	struct reactor_app_opts opts;

	(void)state;
	H_BEGIN();
	assert_true(h_app_opts(&opts, two_or_one()));
	assert_int_equal(h_app_run(&opts, names_body, NULL), 0);
	h_assert_no_failures();
	/* ids are never reused: a new app's threads get new ids */
}

/* ---- placement by cpumask ---------------------------------------------------------------- */
static void placement_body(void *arg)
{
	unsigned int n = *(unsigned int *)arg;
	struct reactor_cpuset *m = reactor_cpuset_create();
	struct ident id = {0};

	if (!H_CHECK(m != NULL))
		return;
	for (unsigned int i = 0; i < n; i++) {
		struct reactor_thread *t;

		reactor_cpuset_zero(m);
		reactor_cpuset_set(m, h_app_cpu(i));
		t = reactor_thread_create("placed", m);
		if (!H_CHECK(t != NULL))
			continue;
		for (int k = 0; k < 5; k++) {
			id.core = REACTOR_CORE_INVALID;
			h_call_on_thread(t, who_am_i, &id);
			H_CHECK_INT(id.core, ==, h_app_cpu(i));
		}
	}
	/* a mask that names no reactor core */
	reactor_cpuset_zero(m);
	reactor_cpuset_set(m, 1023);
	errno = 0;
	H_CHECK(reactor_thread_create("nowhere", m) == NULL);
	H_CHECK_INT(errno, ==, EINVAL);
	reactor_cpuset_zero(m);
	errno = 0;
	H_CHECK(reactor_thread_create("empty-mask", m) == NULL);
	H_CHECK_INT(errno, ==, EINVAL);
	reactor_cpuset_destroy(m);
}

static void test_placement(void **state)
{
	struct reactor_app_opts opts;
	unsigned int n = two_or_one();

	(void)state;
	H_BEGIN();
	assert_true(h_app_opts(&opts, n));
	assert_int_equal(h_app_run(&opts, placement_body, &n), 0);
	h_assert_no_failures();
}

/* ---- message FIFO per sender --------------------------------------------------------------- */
struct fifo {
	struct reactor_thread *worker;
	long n;
	long next[MAX_SENDERS]; /* touched only on the worker */
	atomic_long ran;
	atomic_long errors;
	atomic_long wrong_thread;
};

struct fifo_msg {
	struct fifo *f;
	unsigned int sender;
	long seq;
};

static void fifo_msg_fn(void *arg)
{
	struct fifo_msg *m = arg;
	struct fifo *f = m->f;

	if (reactor_get_thread() != f->worker)
		atomic_fetch_add(&f->wrong_thread, 1);
	if (f->next[m->sender] != m->seq)
		atomic_fetch_add(&f->errors, 1);
	f->next[m->sender] = m->seq + 1;
	atomic_fetch_add(&f->ran, 1);
	free(m);
}

static void send_fifo(struct fifo *f, unsigned int sender, bool may_wait)
{
	uint64_t end = h_now_ns() + 30000000000ull * h_timeout_factor();

	for (long i = 0; i < f->n; i++) {
		struct fifo_msg *m = malloc(sizeof(*m));
		int rc;

		if (m == NULL)
			return;
		*m = (struct fifo_msg){.f = f, .sender = sender, .seq = i};
		while ((rc = reactor_thread_send_msg(f->worker, fifo_msg_fn, m)) == -EAGAIN && may_wait &&
		       h_now_ns() < end)
			sched_yield();
		if (rc != 0) {
			H_FAIL("sender %u: send_msg #%ld = %d", sender, i, rc);
			free(m);
			return;
		}
	}
}

static struct fifo *the_fifo;

/*
 * A sender on a reactor must not spin on a full queue (the receiver may
 * share its core): it sends what fits, then continues in a message to
 * itself, letting the loop run.
 */
struct reactor_sender {
	unsigned int id;
	long next;
	uint64_t deadline;
};

static void send_chunk(void *arg)
{
	struct reactor_sender *rs = arg;
	struct fifo *f = the_fifo;

	while (rs->next < f->n) {
		struct fifo_msg *m = malloc(sizeof(*m));
		int rc;

		if (m == NULL)
			return;
		*m = (struct fifo_msg){.f = f, .sender = rs->id, .seq = rs->next};
		rc = reactor_thread_send_msg(f->worker, fifo_msg_fn, m);
		if (rc == 0) {
			rs->next++;
			continue;
		}
		free(m);
		if (rc != -EAGAIN || h_now_ns() > rs->deadline) {
			H_FAIL("reactor sender %u: send_msg #%ld = %d", rs->id, rs->next, rc);
			return;
		}
		break;
	}
	if (rs->next < f->n && reactor_thread_send_msg(reactor_get_thread(), send_chunk, rs) != 0)
		H_FAIL("reactor sender %u could not continue", rs->id);
}

static struct reactor_sender reactor_senders[2];

static void send_from_reactor(void *arg)
{
	struct reactor_sender *rs = &reactor_senders[(uintptr_t)arg];

	rs->id = (unsigned int)(uintptr_t)arg;
	rs->next = 0;
	rs->deadline = h_now_ns() + 30000000000ull * h_timeout_factor();
	send_chunk(rs);
}

static void *sender_main(void *arg)
{
	send_fifo(the_fifo, (unsigned int)(uintptr_t)arg, true);
	return NULL;
}

static void fifo_body(void *arg)
{
	struct fifo *f = arg;
	struct reactor_thread *other;
	pthread_t tid[3];

	the_fifo = f;
	f->worker = h_thread_create_on("fifo-worker", h_app_cpu(0));
	other = h_thread_create_on("fifo-other", h_app_cpu(two_or_one() - 1));
	if (f->worker == NULL || other == NULL)
		return;
	/* sender 0: the app thread (a reactor); sender 1: a thread on the other core */
	if (reactor_thread_send_msg(reactor_thread_get_app_thread(), send_from_reactor, (void *)0) != 0)
		H_FAIL("send to app thread");
	if (reactor_thread_send_msg(other, send_from_reactor, (void *)1) != 0)
		H_FAIL("send to other thread");
	/* senders 2..4: foreign pthreads; sender 5: this pthread */
	for (uintptr_t i = 0; i < 3; i++)
		if (pthread_create(&tid[i], NULL, sender_main, (void *)(i + 2)) != 0)
			H_FAIL("pthread_create");
	send_fifo(f, 5, true);
	for (int i = 0; i < 3; i++)
		pthread_join(tid[i], NULL);
	h_wait_eq(&f->ran, MAX_SENDERS * f->n, 30000, "all messages to run");
	H_CHECK_INT(atomic_load(&f->errors), ==, 0);
	H_CHECK_INT(atomic_load(&f->wrong_thread), ==, 0);
	{
		struct reactor_thread_stats st = {.stats_size = sizeof(st)};

		H_CHECK_INT(reactor_thread_get_stats(f->worker, &st), ==, 0);
		H_CHECK_INT(st.msgs, >=, MAX_SENDERS * f->n);
		H_CHECK(st.busy_ticks > 0);
		st.stats_size = 0;
		H_CHECK_INT(reactor_thread_get_stats(f->worker, &st), ==, -EINVAL);
	}
}

static void test_msg_fifo(void **state)
{
	struct reactor_app_opts opts;
	static struct fifo f;

	(void)state;
	H_BEGIN();
	memset(&f, 0, sizeof(f));
	f.n = (long)h_scaled(5000, 500); /* 6 senders: more than the worker's queue holds */
	assert_true(h_app_opts(&opts, two_or_one()));
	opts.stall_threshold_ms = 0;
	assert_int_equal(h_app_run(&opts, fifo_body, &f), 0);
	h_assert_no_failures();
}

/* ---- for_each_thread ------------------------------------------------------------------------- */
struct walk {
	pthread_mutex_t lock;
	struct reactor_thread *visited[64];
	int nvisited;
	atomic_int inside;
	atomic_int overlap;
	atomic_int cpl_ran;
	int visited_at_cpl;
	struct reactor_thread *caller;
	struct reactor_thread *cpl_thread;
	int rc;
};

static void walk_fn(void *arg)
{
	struct walk *w = arg;

	if (atomic_fetch_add(&w->inside, 1) != 0)
		atomic_store(&w->overlap, 1);
	pthread_mutex_lock(&w->lock);
	if (w->nvisited < 64)
		w->visited[w->nvisited] = reactor_get_thread();
	w->nvisited++;
	pthread_mutex_unlock(&w->lock);
	h_sleep_us(200); /* widen any overlap window */
	atomic_fetch_sub(&w->inside, 1);
}

static void walk_cpl(void *arg)
{
	struct walk *w = arg;

	pthread_mutex_lock(&w->lock);
	w->visited_at_cpl = w->nvisited;
	pthread_mutex_unlock(&w->lock);
	w->cpl_thread = reactor_get_thread();
	atomic_store(&w->cpl_ran, 1);
}

static void start_walk(void *arg)
{
	struct walk *w = arg;

	w->caller = reactor_get_thread();
	w->rc = reactor_for_each_thread(walk_fn, w, walk_cpl);
}

/* for_each_thread without a completion, and its errors */
static atomic_long nocpl_visits;
static void nocpl_fn(void *arg)
{
	(void)arg;
	atomic_fetch_add(&nocpl_visits, 1);
}

static void start_walk_nocpl(void *arg)
{
	int *rc = arg;

	rc[0] = reactor_for_each_thread(nocpl_fn, NULL, NULL);
	rc[1] = reactor_for_each_thread(NULL, NULL, NULL);
}

static bool cpl_done(void *arg)
{
	return atomic_load(&((struct walk *)arg)->cpl_ran) != 0;
}

static void for_each_body(void *arg)
{
	struct walk *w = arg;
	struct reactor_thread *t[4];

	for (unsigned int i = 0; i < 4; i++)
		t[i] = h_thread_create_on("walked", h_app_cpu(i % two_or_one()));
	h_call_on_thread(t[1], start_walk, w);
	H_CHECK_INT(w->rc, ==, 0);
	h_wait_until(cpl_done, w, 20000, "for_each_thread completion");
	H_CHECK_PTR_EQ(w->cpl_thread, t[1]);
	H_CHECK_INT(atomic_load(&w->overlap), ==, 0);
	/* app thread + 4 workers, each once, all before the completion */
	H_CHECK_INT(w->visited_at_cpl, ==, w->nvisited);
	H_CHECK_INT(w->nvisited, >=, 5); /* library-internal threads may exist too */
	for (int i = 0; i < 4; i++) {
		int hits = 0;

		for (int k = 0; k < w->nvisited && k < 64; k++)
			hits += w->visited[k] == t[i];
		H_CHECK_INT(hits, ==, 1);
	}
	{
		int rc[2] = {1, 1};

		atomic_store(&nocpl_visits, 0);
		h_call_on_thread(t[0], start_walk_nocpl, rc);
		H_CHECK_INT(rc[0], ==, 0);
		H_CHECK_INT(rc[1], ==, -EINVAL);
		h_wait_ge(&nocpl_visits, 5, 10000, "a walk without completion");
		/* not on a thread */
		H_CHECK_INT(reactor_for_each_thread(nocpl_fn, NULL, NULL), ==, -EINVAL);
	}
}

static void test_for_each_thread(void **state)
{
	struct reactor_app_opts opts;
	static struct walk w;

	(void)state;
	H_BEGIN();
	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.lock, NULL);
	assert_true(h_app_opts(&opts, two_or_one()));
	assert_int_equal(h_app_run(&opts, for_each_body, &w), 0);
	h_assert_no_failures();
	pthread_mutex_destroy(&w.lock);
}

/* ---- exit requested by a message from a foreign pthread ---------------------------------------- */
/*
 * The usual way to end a reactor's thread from outside: send it a message
 * that calls reactor_thread_exit(). The sender must not be hurt by the
 * thread exiting (and being freed) right after the message is queued.
 */
static atomic_long exit_msgs_ran;
static void exit_self_counted(void *arg)
{
	(void)arg;
	atomic_fetch_add(&exit_msgs_ran, 1);
	reactor_thread_exit(reactor_get_thread());
}

static void exit_by_msg_body(void *arg)
{
	long n = (long)h_scaled(200, 20);

	(void)arg;
	for (long i = 0; i < n; i++) {
		struct reactor_thread *t = h_thread_create_on("exits-on-msg", h_app_cpu(i % two_or_one()));

		if (t == NULL)
			return;
		/* t must not be used after this call */
		H_CHECK_INT(reactor_thread_send_msg(t, exit_self_counted, NULL), ==, 0);
	}
	h_wait_eq(&exit_msgs_ran, n, 20000, "exit messages");
}

static void test_exit_by_foreign_message(void **state)
{
	struct reactor_app_opts opts;

	(void)state;
	H_BEGIN();
	atomic_store(&exit_msgs_ran, 0);
	assert_true(h_app_opts(&opts, two_or_one()));
	assert_int_equal(h_app_run(&opts, exit_by_msg_body, NULL), 0);
	h_assert_no_failures();
}

/* ---- exit timeout: a thread that never releases its poller is forced out -------------------- */
static int stuck_poller(void *arg)
{
	(void)arg;
	return REACTOR_POLLER_IDLE;
}

static void reg_stuck(void *arg)
{
	struct reactor_poller **p = arg;

	*p = reactor_poller_register_named(stuck_poller, NULL, 1000, "stuck_poller_xyz");
}

static uint64_t stop_called_ns;

static void stuck_body(void *arg)
{
	struct reactor_poller *p = NULL;
	struct reactor_thread *t = h_thread_create_on("stuck-thread", REACTOR_CORE_INVALID);

	(void)arg;
	if (t == NULL)
		return;
	h_call_on_thread(t, reg_stuck, &p);
	H_CHECK(p != NULL);
	stop_called_ns = h_now_ns();
	h_app_request_stop(NULL, NULL);
}

static void test_exit_timeout_forces(void **state)
{
	struct reactor_app_opts opts;
	uint64_t took_ms;

	(void)state;
	H_BEGIN();
	assert_true(h_app_opts(&opts, two_or_one()));
	opts.thread_exit_timeout_ms = 300;
	h_log_capture_start(REACTOR_LOG_DEBUG);
	assert_int_equal(h_app_run(&opts, stuck_body, NULL), 0);
	took_ms = (h_now_ns() - stop_called_ns) / 1000000u;
	h_log_capture_stop();
	h_assert_no_failures();
	print_message("# app with a stuck poller stopped %" PRIu64 " ms after reactor_app_stop\n", took_ms);
	/* it waited for the timeout, then named what it waited for */
	assert_true(took_ms >= 250);
	if (h_log_count("stuck_poller_xyz") < 1) {
		h_log_dump();
		fail_msg("no log message names the poller that blocked the thread's exit");
	}
	h_log_capture_reset();
}

/* ---- create while stopping ---------------------------------------------------------------------- */
static void create_while_stopping(void *arg)
{
	struct reactor_thread **out = arg;

	reactor_app_stop(0);
	errno = 0;
	*out = reactor_thread_create("late", NULL);
	if (*out == NULL)
		H_CHECK_INT(errno, ==, ESHUTDOWN);
}

static void late_body(void *arg)
{
	/* on the app thread: stop, then try to create a thread */
	h_app_request_stop(create_while_stopping, arg);
}

static void test_create_while_stopping(void **state)
{
	struct reactor_app_opts opts;
	struct reactor_thread *late = NULL;

	(void)state;
	H_BEGIN();
	assert_true(h_app_opts(&opts, 1));
	/* the app must still stop (watchdog otherwise), whatever create returned */
	assert_int_equal(h_app_run(&opts, late_body, &late), 0);
	h_assert_no_failures();
	if (late != NULL)
		print_message("# note: reactor_thread_create() after reactor_app_stop() succeeded\n");
}

/* ---- user-driven mode, without the framework -------------------------------------------------- */
static atomic_long ud_ran;
static struct reactor_thread *ud_expect;
static atomic_long ud_wrong;

static void ud_msg(void *arg)
{
	(void)arg;
	if (reactor_get_thread() != ud_expect)
		atomic_fetch_add(&ud_wrong, 1);
	atomic_fetch_add(&ud_ran, 1);
}

static void *ud_sender(void *arg)
{
	struct reactor_thread *t = arg;

	for (int i = 0; i < 10; i++)
		if (reactor_thread_send_msg(t, ud_msg, NULL) != 0)
			H_FAIL("send from a foreign pthread failed");
	return NULL;
}

static atomic_long ud_polls;
static int ud_poller(void *arg)
{
	(void)arg;
	atomic_fetch_add(&ud_polls, 1);
	return REACTOR_POLLER_IDLE;
}

/* poll @p t until @p pred or timeout; returns whether pred became true */
static bool poll_until(struct reactor_thread *t, bool (*pred)(void *), void *arg, const char *what)
{
	uint64_t end = h_now_ns() + 5000000000ull * h_timeout_factor();

	h_waiting_for("%s", what);
	while (!pred(arg)) {
		if (h_now_ns() > end) {
			H_FAIL("timed out polling for %s", what);
			return false;
		}
		reactor_thread_poll(t, 0);
		h_sleep_us(100);
	}
	return true;
}

static bool is_exited(void *arg)
{
	return reactor_thread_is_exited(arg);
}

static bool ran_ge(void *arg)
{
	return atomic_load(&ud_ran) >= (long)(intptr_t)arg;
}

static void test_user_driven(void **state)
{
	struct reactor_thread *t;
	struct reactor_poller *p;
	pthread_t tid;
	long before;

	(void)state;
	H_BEGIN();
	atomic_store(&ud_ran, 0);
	atomic_store(&ud_wrong, 0);
	atomic_store(&ud_polls, 0);
	assert_int_equal(reactor_get_core_count(), 0); /* no framework */
	assert_null(reactor_get_thread());
	t = reactor_thread_create("manual", NULL);
	assert_non_null(t);
	ud_expect = t;
	assert_string_equal(reactor_thread_get_name(t), "manual");
	assert_false(reactor_thread_is_exited(t));

	/* messages are queued until polled, then run as if current */
	for (int i = 0; i < 5; i++)
		assert_int_equal(reactor_thread_send_msg(t, ud_msg, NULL), 0);
	assert_int_equal(atomic_load(&ud_ran), 0);
	assert_int_equal(reactor_thread_poll(t, 1), 1);
	assert_int_equal(atomic_load(&ud_ran), 1); /* max_msgs honoured */
	assert_int_equal(reactor_thread_poll(t, 2), 1);
	assert_int_equal(atomic_load(&ud_ran), 3);
	assert_int_equal(reactor_thread_poll(t, 0), 1);
	assert_int_equal(atomic_load(&ud_ran), 5);
	assert_int_equal(reactor_thread_poll(t, 0), 0); /* idle */
	assert_int_equal(atomic_load(&ud_wrong), 0);
	assert_null(reactor_get_thread()); /* poll does not leave it current */

	/* from a foreign pthread */
	assert_int_equal(pthread_create(&tid, NULL, ud_sender, t), 0);
	pthread_join(tid, NULL);
	poll_until(t, ran_ge, (void *)(intptr_t)15, "15 messages");
	assert_int_equal(atomic_load(&ud_ran), 15);

	/* made current: pollers can be registered and polling runs them */
	reactor_set_thread(t);
	assert_ptr_equal(reactor_get_thread(), t);
	p = reactor_poller_register(ud_poller, NULL, 0);
	assert_non_null(p);
	before = atomic_load(&ud_polls);
	reactor_thread_poll(t, 0);
	reactor_thread_poll(t, 0);
	assert_true(atomic_load(&ud_polls) >= before + 2);

	/* destroy before exit: -EBUSY */
	assert_int_equal(reactor_thread_destroy(t), -EBUSY);

	/* exit waits for the poller and queued messages */
	assert_int_equal(reactor_thread_send_msg(t, ud_msg, NULL), 0);
	reactor_thread_exit(t);
	reactor_thread_exit(t); /* harmless twice */
	for (int i = 0; i < 20; i++) {
		reactor_thread_poll(t, 0);
		h_sleep_us(500);
	}
	assert_int_equal(atomic_load(&ud_ran), 16); /* the queued message ran */
	assert_false(reactor_thread_is_exited(t));  /* the poller is still registered */
	before = atomic_load(&ud_polls);
	reactor_thread_poll(t, 0);
	assert_true(atomic_load(&ud_polls) > before); /* and still runs */
	assert_int_equal(reactor_thread_destroy(t), -EBUSY);
	reactor_poller_unregister(&p);
	assert_null(p);
	poll_until(t, is_exited, t, "the thread to finish exiting");
	h_assert_no_failures();
	assert_true(reactor_thread_is_exited(t));

	/* an exited thread takes no messages */
	assert_int_equal(reactor_thread_send_msg(t, ud_msg, NULL), -ESHUTDOWN);
	reactor_set_thread(NULL);
	assert_null(reactor_get_thread());
	assert_int_equal(reactor_thread_destroy(t), 0);
}

/* A full message queue gives -EAGAIN (never aborts); everything accepted runs. */
static void test_user_driven_queue_full(void **state)
{
	struct reactor_thread *t;
	long sent = 0;
	int rc = 0;

	(void)state;
	H_BEGIN();
	atomic_store(&ud_ran, 0);
	atomic_store(&ud_wrong, 0);
	t = reactor_thread_create("full", NULL);
	assert_non_null(t);
	ud_expect = t;
	while (sent < 2000000) {
		rc = reactor_thread_send_msg(t, ud_msg, NULL);
		if (rc != 0)
			break;
		sent++;
	}
	assert_int_equal(rc, -EAGAIN);
	print_message("# queue took %ld messages before -EAGAIN\n", sent);
	assert_true(sent >= 1);
	poll_until(t, ran_ge, (void *)(intptr_t)sent, "queued messages to drain");
	assert_int_equal(atomic_load(&ud_ran), sent);
	assert_int_equal(atomic_load(&ud_wrong), 0);
	/* room again */
	assert_int_equal(reactor_thread_send_msg(t, ud_msg, NULL), 0);
	poll_until(t, ran_ge, (void *)(intptr_t)(sent + 1), "one more message");
	{
		struct reactor_thread_stats st = {.stats_size = sizeof(st)};

		assert_int_equal(reactor_thread_get_stats(t, &st), 0);
		assert_true(st.msgs >= (uint64_t)sent + 1);
	}
	reactor_set_thread(t);
	reactor_thread_exit(t);
	poll_until(t, is_exited, t, "exit");
	reactor_set_thread(NULL);
	assert_int_equal(reactor_thread_destroy(t), 0);
	h_assert_no_failures();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_create_names_ids),	 H_TEST(test_placement),
		H_TEST(test_msg_fifo),		 H_TEST(test_for_each_thread),
		H_TEST(test_exit_by_foreign_message), H_TEST(test_exit_timeout_forces),
		H_TEST(test_create_while_stopping),
		H_TEST(test_user_driven),	 H_TEST(test_user_driven_queue_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
