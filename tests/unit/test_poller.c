/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Pollers: every-iteration and timed pollers, pause/resume, unregister from
 * inside callbacks, register while exiting. Timing checks are lower bounds
 * or averages over many periods, never tight.
 */
#include "helpers.h"

#define MAX_TIMES 512

struct pctx {
	const char *name;
	uint64_t period_us;
	struct reactor_thread *thread;
	struct reactor_poller *self;
	atomic_long runs;
	atomic_long wrong_thread;
	long pause_at;	    /* pause itself on this run */
	long unregister_at; /* unregister itself on this run */
	struct pctx *victim; /* unregister (or pause) the victim on the first run */
	bool victim_pause;
	atomic_long victim_runs_then;
	atomic_int self_null_after;
	uint64_t times[MAX_TIMES]; /* h_now_ns() of each run, written on the thread */
	atomic_int order;	   /* global order of the first run */
};

static atomic_int first_run_seq;

static int pfn(void *arg)
{
	struct pctx *c = arg;
	long n = atomic_load(&c->runs) + 1; /* only this thread writes runs */

	if (c->thread != NULL && reactor_get_thread() != c->thread)
		atomic_fetch_add(&c->wrong_thread, 1);
	if (n <= MAX_TIMES)
		c->times[n - 1] = h_now_ns();
	if (n == 1)
		atomic_store(&c->order, atomic_fetch_add(&first_run_seq, 1) + 1);
	atomic_store(&c->runs, n); /* publish after times[] */
	if (n == c->pause_at)
		reactor_poller_pause(c->self);
	if (n == c->unregister_at) {
		reactor_poller_unregister(&c->self);
		atomic_store(&c->self_null_after, c->self == NULL);
	}
	if (n == 1 && c->victim != NULL) {
		atomic_store(&c->victim_runs_then, atomic_load(&c->victim->runs));
		if (c->victim_pause)
			reactor_poller_pause(c->victim->self);
		else
			reactor_poller_unregister(&c->victim->self);
	}
	return REACTOR_POLLER_BUSY;
}

static void do_register(void *arg)
{
	struct pctx *c = arg;

	c->thread = reactor_get_thread();
	c->self = reactor_poller_register_named(pfn, c, c->period_us, c->name);
	if (c->self == NULL)
		H_FAIL("register %s failed: %s", c->name ? c->name : "?", strerror(errno));
}

/* Register several in one message (same loop iteration). */
struct many {
	struct pctx *c[4];
	int n;
};

static void do_register_many(void *arg)
{
	struct many *m = arg;

	for (int i = 0; i < m->n; i++)
		do_register(m->c[i]);
}

static void do_pause(void *arg)
{
	reactor_poller_pause(((struct pctx *)arg)->self);
}

static uint64_t resume_ns;
static void do_resume(void *arg)
{
	resume_ns = h_now_ns();
	reactor_poller_resume(((struct pctx *)arg)->self);
}

static void do_unregister(void *arg)
{
	struct pctx *c = arg;

	reactor_poller_unregister(&c->self);
	H_CHECK(c->self == NULL);
}

/* snapshot of two counters taken on the thread */
struct snap {
	struct pctx *a, *b;
	long ra, rb;
};

static void do_snap(void *arg)
{
	struct snap *s = arg;

	s->ra = atomic_load(&s->a->runs);
	s->rb = s->b ? atomic_load(&s->b->runs) : 0;
}

static struct reactor_thread *worker;

static void run_body(void (*fn)(void *), void *arg)
{
	struct reactor_app_opts opts;

	assert_true(h_app_opts(&opts, 1));
	assert_int_equal(h_app_run(&opts, fn, arg), 0);
	h_assert_no_failures();
}

static bool make_worker(void)
{
	worker = h_thread_create_on("poller-worker", REACTOR_CORE_INVALID);
	return worker != NULL;
}

/* ---- period 0 --------------------------------------------------------------------------- */
static void period0_body(void *arg)
{
	static struct pctx a, b;
	struct snap s = {.a = &a, .b = &b};

	(void)arg;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.name = "p0_a";
	b.name = "p0_b";
	if (!make_worker())
		return;
	{
		/* registered in the same message: from then on both run on every iteration */
		struct many m = {.c = {&a, &b}, .n = 2};

		h_call_on_thread(worker, do_register_many, &m);
	}
	h_wait_ge(&a.runs, 1000, 10000, "1000 runs of a period-0 poller");
	h_wait_ge(&b.runs, 1000, 10000, "1000 runs of another period-0 poller");
	/* both run on every iteration: seen from the thread they differ by at most one */
	for (int i = 0; i < 5; i++) {
		h_call_on_thread(worker, do_snap, &s);
		if (s.ra - s.rb > 1 || s.rb - s.ra > 1)
			H_FAIL("period-0 pollers diverge: %ld vs %ld", s.ra, s.rb);
	}
	H_CHECK_INT(atomic_load(&a.wrong_thread), ==, 0);
	h_call_on_thread(worker, do_unregister, &a);
	h_call_on_thread(worker, do_unregister, &b);
}

static void test_period_zero(void **state)
{
	(void)state;
	H_BEGIN();
	run_body(period0_body, NULL);
}

/* ---- timed pollers ------------------------------------------------------------------------- */
static void timed_body(void *arg)
{
	static struct pctx c;
	uint64_t t0, t1;
	long n;

	(void)arg;
	memset(&c, 0, sizeof(c));
	c.name = "timed_10ms";
	c.period_us = 10000;
	if (!make_worker())
		return;
	t0 = h_now_ns();
	h_call_on_thread(worker, do_register, &c);
	h_sleep_ms(1000);
	h_call_on_thread(worker, do_unregister, &c);
	t1 = h_now_ns();
	n = atomic_load(&c.runs);
	fprintf(stderr, "# 10 ms poller ran %ld times in %.0f ms\n", n, (double)(t1 - t0) / 1e6);
	/* never more often than its period (k-th run not before k periods) ... */
	H_CHECK_INT(n, <=, (long)((t1 - t0) / 10000000u) + 1);
	for (long k = 1; k <= n && k <= MAX_TIMES; k++) {
		/* 1 ms slack for tick rounding */
		if (c.times[k - 1] + 1000000u < t0 + (uint64_t)k * 10000000u) {
			H_FAIL("run %ld came %.2f ms after registration, before %ld periods", k,
			       (double)(c.times[k - 1] - t0) / 1e6, k);
			break;
		}
	}
	/* ... and at least once per 100 ms on average */
	H_CHECK_INT(n, >=, 10);
}

static void test_timed_period(void **state)
{
	(void)state;
	H_BEGIN();
	run_body(timed_body, NULL);
}

static void order_body(void *arg)
{
	static struct pctx slow, fast, p20, p50;
	struct many m = {.c = {&slow, &fast, &p20, &p50}, .n = 4};

	(void)arg;
	memset(&slow, 0, sizeof(slow));
	memset(&fast, 0, sizeof(fast));
	memset(&p20, 0, sizeof(p20));
	memset(&p50, 0, sizeof(p50));
	atomic_store(&first_run_seq, 0);
	slow.name = "slow_60ms";
	slow.period_us = 60000;
	fast.name = "fast_10ms";
	fast.period_us = 10000;
	p20.name = "p20";
	p20.period_us = 20000;
	p50.name = "p50";
	p50.period_us = 50000;
	if (!make_worker())
		return;
	h_call_on_thread(worker, do_register_many, &m);
	h_wait_ge(&slow.runs, 1, 10000, "the 60 ms poller's first run");
	h_wait_ge(&p50.runs, 8, 10000, "8 runs of the 50 ms poller");
	/* registered in the same iteration: the shorter period fires first */
	H_CHECK_INT(atomic_load(&fast.order), <, atomic_load(&slow.order));
	H_CHECK_INT(atomic_load(&p20.order), <, atomic_load(&p50.order));
	H_CHECK_INT(atomic_load(&fast.runs), >=, atomic_load(&p20.runs));
	H_CHECK_INT(atomic_load(&p20.runs), >=, atomic_load(&p50.runs));
	H_CHECK_INT(atomic_load(&p50.runs), >=, atomic_load(&slow.runs));
	for (int i = 0; i < 4; i++)
		h_call_on_thread(worker, do_unregister, m.c[i]);
}

static void test_timed_ordering(void **state)
{
	(void)state;
	H_BEGIN();
	run_body(order_body, NULL);
}

/* ---- pause / resume ------------------------------------------------------------------------ */
static void pause_body(void *arg)
{
	static struct pctx c, self, timed;
	struct snap s = {.a = &c};
	long frozen;

	(void)arg;
	memset(&c, 0, sizeof(c));
	memset(&self, 0, sizeof(self));
	memset(&timed, 0, sizeof(timed));
	if (!make_worker())
		return;

	/* paused from outside (a message on its thread) */
	c.name = "pausable";
	h_call_on_thread(worker, do_register, &c);
	h_wait_ge(&c.runs, 10, 10000, "10 runs before pause");
	h_call_on_thread(worker, do_pause, &c);
	h_call_on_thread(worker, do_pause, &c); /* idempotent */
	h_call_on_thread(worker, do_snap, &s);
	frozen = s.ra;
	h_sleep_ms(50);
	H_CHECK_INT(atomic_load(&c.runs), ==, frozen);
	h_call_on_thread(worker, do_resume, &c);
	h_wait_ge(&c.runs, frozen + 10, 10000, "10 runs after resume");
	h_call_on_thread(worker, do_resume, &c); /* idempotent */
	h_call_on_thread(worker, do_unregister, &c);

	/* paused from inside its own callback */
	self.name = "pauses_itself";
	self.pause_at = 5;
	h_call_on_thread(worker, do_register, &self);
	h_wait_ge(&self.runs, 5, 10000, "5 runs of the self-pausing poller");
	h_sleep_ms(50);
	H_CHECK_INT(atomic_load(&self.runs), ==, 5);
	h_call_on_thread(worker, do_resume, &self);
	h_wait_ge(&self.runs, 10, 10000, "runs after resuming a self-paused poller");
	h_call_on_thread(worker, do_unregister, &self);

	/* a timed poller resumed starts a new full period */
	timed.name = "timed_100ms";
	timed.period_us = 100000;
	timed.pause_at = 1;
	h_call_on_thread(worker, do_register, &timed);
	h_wait_ge(&timed.runs, 1, 10000, "first run of the 100 ms poller");
	h_sleep_ms(150); /* it is paused: would be overdue now */
	H_CHECK_INT(atomic_load(&timed.runs), ==, 1);
	h_call_on_thread(worker, do_resume, &timed);
	h_wait_ge(&timed.runs, 2, 10000, "run after resume");
	if (timed.times[1] + 5000000u < resume_ns + 100000000u)
		H_FAIL("resumed 100 ms poller ran %.1f ms after resume, before a full period",
		       (double)(timed.times[1] - resume_ns) / 1e6);
	h_call_on_thread(worker, do_unregister, &timed);
}

static void test_pause_resume(void **state)
{
	(void)state;
	H_BEGIN();
	run_body(pause_body, NULL);
}

/* ---- unregister inside callbacks ---------------------------------------------------------- */
static void unreg_body(void *arg)
{
	static struct pctx self, killer, victim, pauser, pvictim, timed_self;
	struct many m = {.c = {&killer, &victim}, .n = 2};
	struct many m2 = {.c = {&pauser, &pvictim}, .n = 2};

	(void)arg;
	memset(&self, 0, sizeof(self));
	memset(&killer, 0, sizeof(killer));
	memset(&victim, 0, sizeof(victim));
	memset(&pauser, 0, sizeof(pauser));
	memset(&pvictim, 0, sizeof(pvictim));
	memset(&timed_self, 0, sizeof(timed_self));
	if (!make_worker())
		return;

	/* itself, on its 3rd run */
	self.name = "unregisters_itself";
	self.unregister_at = 3;
	h_call_on_thread(worker, do_register, &self);
	h_wait_ge(&self.runs, 3, 10000, "3 runs");
	h_sleep_ms(50);
	H_CHECK_INT(atomic_load(&self.runs), ==, 3);
	H_CHECK_INT(atomic_load(&self.self_null_after), ==, 1);
	h_call_on_thread(worker, do_unregister, &self); /* pointer is NULL: ignored */

	/* a timed poller unregistering itself */
	timed_self.name = "timed_unregisters_itself";
	timed_self.period_us = 5000;
	timed_self.unregister_at = 2;
	h_call_on_thread(worker, do_register, &timed_self);
	h_wait_ge(&timed_self.runs, 2, 10000, "2 runs of the timed poller");
	h_sleep_ms(50);
	H_CHECK_INT(atomic_load(&timed_self.runs), ==, 2);

	/* another poller, from inside a callback */
	killer.name = "killer";
	killer.victim = &victim;
	victim.name = "victim";
	h_call_on_thread(worker, do_register_many, &m);
	h_wait_ge(&killer.runs, 100, 10000, "100 runs of the killer");
	H_CHECK_INT(atomic_load(&victim.runs), ==, atomic_load(&killer.victim_runs_then));
	{
		struct snap s = {.a = &victim};

		h_call_on_thread(worker, do_snap, &s);
		H_CHECK(victim.self == NULL);
	}
	h_call_on_thread(worker, do_unregister, &killer);

	/* another poller paused from inside a callback */
	pauser.name = "pauser";
	pauser.victim = &pvictim;
	pauser.victim_pause = true;
	pvictim.name = "paused_victim";
	h_call_on_thread(worker, do_register_many, &m2);
	h_wait_ge(&pauser.runs, 100, 10000, "100 runs of the pauser");
	H_CHECK_INT(atomic_load(&pvictim.runs), ==, atomic_load(&pauser.victim_runs_then));
	h_call_on_thread(worker, do_resume, &pvictim);
	h_wait_ge(&pvictim.runs, atomic_load(&pauser.victim_runs_then) + 10, 10000, "the victim resumed");
	h_call_on_thread(worker, do_unregister, &pauser);
	h_call_on_thread(worker, do_unregister, &pvictim);
}

static void test_unregister_in_callbacks(void **state)
{
	(void)state;
	H_BEGIN();
	run_body(unreg_body, NULL);
}

/* ---- misc API ------------------------------------------------------------------------------ */
static int named_poller_fn(void *arg)
{
	(void)arg;
	return REACTOR_POLLER_IDLE;
}

struct misc {
	int ok;
};

static void misc_on_thread(void *arg)
{
	struct reactor_poller *p, *q, *r;

	(void)arg;
	p = REACTOR_POLLER_REGISTER(named_poller_fn, NULL, 0);
	q = reactor_poller_register_named(named_poller_fn, NULL, 1000, "custom name");
	r = reactor_poller_register(named_poller_fn, NULL, 0);
	if (!H_CHECK(p != NULL && q != NULL && r != NULL))
		return;
	H_CHECK(strcmp(reactor_poller_get_name(p), "named_poller_fn") == 0);
	H_CHECK(strcmp(reactor_poller_get_name(q), "custom name") == 0);
	H_CHECK(reactor_poller_get_name(r) != NULL && reactor_poller_get_name(r)[0] != '\0');
	errno = 0;
	H_CHECK(reactor_poller_register(NULL, NULL, 0) == NULL);
	H_CHECK_INT(errno, ==, EINVAL);
	reactor_poller_unregister(&p);
	H_CHECK(p == NULL);
	reactor_poller_unregister(&p); /* twice through the same pointer */
	reactor_poller_unregister(NULL);
	reactor_poller_unregister(&q);
	reactor_poller_unregister(&r);
	H_CHECK(q == NULL && r == NULL);
}

/* exit the thread, then try to register: ESHUTDOWN */
struct exit_reg {
	struct reactor_thread *t;
	atomic_long done;
};

static void exit_then_register(void *arg)
{
	struct exit_reg *er = arg;
	struct reactor_poller *p;

	reactor_thread_exit(reactor_get_thread());
	errno = 0;
	p = reactor_poller_register(named_poller_fn, NULL, 0);
	H_CHECK(p == NULL);
	H_CHECK_INT(errno, ==, ESHUTDOWN);
	if (p != NULL)
		reactor_poller_unregister(&p);
	atomic_store(&er->done, 1);
}

/*
 * Sent from the app thread to a thread on the same core, so the sender is
 * done with the handle before the thread exits (the handle may not be used
 * after the exit).
 */
static void send_exit_from_app(void *arg)
{
	struct exit_reg *er = arg;

	H_CHECK_INT(reactor_thread_send_msg(er->t, exit_then_register, er), ==, 0);
}

static void misc_body(void *arg)
{
	struct exit_reg er = {0};

	(void)arg;
	if (!make_worker())
		return;
	h_call_on_thread(worker, misc_on_thread, NULL);
	/* no current thread */
	errno = 0;
	H_CHECK(reactor_poller_register(named_poller_fn, NULL, 0) == NULL);
	H_CHECK_INT(errno, ==, EINVAL);
	er.t = h_thread_create_on("exiting", reactor_get_main_core());
	if (er.t == NULL)
		return;
	h_call_on_thread(reactor_thread_get_app_thread(), send_exit_from_app, &er);
	h_wait_eq(&er.done, 1, 10000, "register after exit");
}

static void test_misc(void **state)
{
	(void)state;
	H_BEGIN();
	run_body(misc_body, NULL);
}

/* Pollers of a user-driven thread run in reactor_thread_poll(), timed ones when due. */
static void test_user_driven_pollers(void **state)
{
	static struct pctx every, timed;
	struct reactor_thread *t;
	uint64_t end;

	(void)state;
	H_BEGIN();
	memset(&every, 0, sizeof(every));
	memset(&timed, 0, sizeof(timed));
	t = reactor_thread_create("ud-pollers", NULL);
	assert_non_null(t);
	reactor_set_thread(t);
	every.name = "ud_every";
	timed.name = "ud_timed";
	timed.period_us = 20000;
	do_register(&every);
	do_register(&timed);
	assert_non_null(every.self);
	assert_non_null(timed.self);
	assert_int_equal(reactor_thread_poll(t, 0), 1); /* a BUSY poller ran */
	assert_int_equal(atomic_load(&every.runs), 1);
	assert_int_equal(atomic_load(&timed.runs), 0); /* not due yet */
	end = h_now_ns() + 200000000u;
	while (h_now_ns() < end) {
		reactor_thread_poll(t, 0);
		h_sleep_us(1000);
	}
	assert_true(atomic_load(&every.runs) > 10);
	assert_true(atomic_load(&timed.runs) >= 1);
	assert_true(atomic_load(&timed.runs) <= 200 / 20 + 1);
	reactor_poller_unregister(&every.self);
	reactor_poller_unregister(&timed.self);
	reactor_thread_exit(t);
	end = h_now_ns() + 5000000000ull;
	while (!reactor_thread_is_exited(t) && h_now_ns() < end)
		reactor_thread_poll(t, 0);
	assert_true(reactor_thread_is_exited(t));
	reactor_set_thread(NULL);
	assert_int_equal(reactor_thread_destroy(t), 0);
	h_assert_no_failures();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_period_zero),	     H_TEST(test_timed_period),
		H_TEST(test_timed_ordering),	     H_TEST(test_pause_resume),
		H_TEST(test_unregister_in_callbacks), H_TEST(test_misc),
		H_TEST(test_user_driven_pollers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
