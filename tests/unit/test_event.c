/* SPDX-License-Identifier: BSD-3-Clause */
/* Events: per-core FIFO, core placement, bad cores, pool and ring limits. */
#include "helpers.h"

#define MAX_CORES 8
#define MAX_PRODUCERS 4

/* What one core saw. */
struct core_state {
	uint32_t core;
	atomic_long ran;
	atomic_long wrong_core;
	atomic_long out_of_order;
	long next[MAX_PRODUCERS]; /* only touched on the core itself */
};

static struct core_state cs[MAX_CORES];
static unsigned int ncores;
static pthread_t core_pthread[MAX_CORES];

static void reset_states(void)
{
	memset(cs, 0, sizeof(cs));
	ncores = 0;
}

/* arg2 encodes (producer << 32) | seq */
static void seq_event(void *arg1, void *arg2)
{
	struct core_state *s = arg1;
	uint64_t v = (uint64_t)(uintptr_t)arg2;
	unsigned int producer = (unsigned int)(v >> 32);
	long seq = (long)(v & 0xffffffffu);

	if (reactor_get_current_core() != s->core)
		atomic_fetch_add(&s->wrong_core, 1);
	if (producer >= MAX_PRODUCERS || s->next[producer] != seq)
		atomic_fetch_add(&s->out_of_order, 1);
	else
		s->next[producer]++;
	atomic_fetch_add(&s->ran, 1);
}

/* Send @p n events to @p s->core as @p producer; retries EAGAIN (not on a reactor). */
static long send_seq(struct core_state *s, unsigned int producer, long n, bool may_wait)
{
	uint64_t end = h_now_ns() + 30000000000ull * h_timeout_factor();

	for (long i = 0; i < n; i++) {
		void *arg2 = (void *)(uintptr_t)(((uint64_t)producer << 32) | (uint64_t)i);
		struct reactor_event *ev;
		int rc;

		while ((ev = reactor_event_allocate(s->core, seq_event, s, arg2)) == NULL) {
			if (errno != EAGAIN || !may_wait || h_now_ns() > end) {
				H_FAIL("event_allocate(core %u) #%ld failed: %s", s->core, i, strerror(errno));
				return i;
			}
			sched_yield();
		}
		while ((rc = reactor_event_call(ev)) != 0) {
			if (rc != -EAGAIN || !may_wait || h_now_ns() > end) {
				H_FAIL("event_call(core %u) #%ld failed: %d", s->core, i, rc);
				reactor_event_free(ev);
				return i;
			}
			sched_yield();
		}
	}
	return n;
}

static void collect_cores(void)
{
	uint32_t core;

	ncores = 0;
	REACTOR_FOREACH_CORE(core)
	{
		if (ncores < MAX_CORES)
			cs[ncores].core = core;
		ncores++;
	}
}

static void check_states(long expect_per_core, const char *what)
{
	for (unsigned int i = 0; i < ncores; i++) {
		char buf[128];

		snprintf(buf, sizeof(buf), "%s: events run on core %u", what, cs[i].core);
		h_wait_eq(&cs[i].ran, expect_per_core, 20000, buf);
		H_CHECK_INT(atomic_load(&cs[i].wrong_core), ==, 0);
		H_CHECK_INT(atomic_load(&cs[i].out_of_order), ==, 0);
	}
}

/* ---- before any framework -------------------------------------------------------- */
static void test_no_framework(void **state)
{
	struct reactor_stats st = {.stats_size = sizeof(st)};

	(void)state;
	H_BEGIN();
	assert_int_equal(reactor_get_core_count(), 0);
	assert_int_equal(reactor_get_main_core(), REACTOR_CORE_INVALID);
	assert_int_equal(reactor_get_current_core(), REACTOR_CORE_INVALID);
	assert_null(reactor_thread_get_app_thread());
	errno = 0;
	assert_null(reactor_event_allocate(0, seq_event, NULL, NULL));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(reactor_get_stats(0, &st), -EINVAL);
	reactor_event_free(NULL);
}

/* ---- core information --------------------------------------------------------------- */
struct info_ctx {
	unsigned int want_cores;
	pthread_t app_caller;
};

static void record_pthread(void *arg)
{
	unsigned int i = (unsigned int)(uintptr_t)arg;

	core_pthread[i] = pthread_self();
	H_CHECK_INT(reactor_get_current_core(), ==, cs[i].core);
}

static void info_body(void *arg)
{
	struct info_ctx *c = arg;

	H_CHECK_INT(reactor_get_core_count(), ==, c->want_cores);
	collect_cores();
	H_CHECK_INT(ncores, ==, c->want_cores);
	for (unsigned int i = 0; i < ncores && i < c->want_cores; i++)
		H_CHECK_INT(cs[i].core, ==, h_app_cpu(i));
	H_CHECK_INT(reactor_get_main_core(), ==, h_app_cpu(0));
	H_CHECK_INT(reactor_get_current_core(), ==, REACTOR_CORE_INVALID);
	H_CHECK_INT(reactor_get_next_core(cs[ncores - 1].core), ==, REACTOR_CORE_INVALID);
	for (unsigned int i = 0; i < ncores; i++) {
		h_call_on_core(cs[i].core, record_pthread, (void *)(uintptr_t)i);
		H_CHECK_INT(reactor_get_idle_policy(cs[i].core), ==, REACTOR_IDLE_POLL);
	}
	/* the main core's reactor is the thread that called reactor_app_start() */
	H_CHECK(pthread_equal(core_pthread[0], c->app_caller));
	if (ncores > 1)
		H_CHECK(!pthread_equal(core_pthread[0], core_pthread[1]));
}

static void test_core_info(void **state)
{
	struct reactor_app_opts opts;
	struct info_ctx c = {.want_cores = h_allowed_cpu_count() >= 2 ? 2 : 1, .app_caller = pthread_self()};

	(void)state;
	H_BEGIN();
	reset_states();
	assert_true(h_app_opts(&opts, c.want_cores));
	assert_int_equal(h_app_run(&opts, info_body, &c), 0);
	h_assert_no_failures();
}

/* ---- FIFO from one producer -------------------------------------------------------- */
static long fifo_n;

/* Runs on the main core: sends fifo_n events to every core (including itself). */
static void produce_from_reactor(void *arg)
{
	(void)arg;
	for (unsigned int i = 0; i < ncores; i++)
		send_seq(&cs[i], 0, fifo_n, false);
}

static void fifo_body(void *arg)
{
	(void)arg;
	collect_cores();
	/* from a reactor (stays below the ring size, no waiting there) */
	h_call_on_core(reactor_get_main_core(), produce_from_reactor, NULL);
	check_states(fifo_n, "from a reactor");
	/* from this foreign pthread */
	for (unsigned int i = 0; i < ncores; i++)
		send_seq(&cs[i], 1, fifo_n, true);
	check_states(2 * fifo_n, "from a foreign pthread");
	for (unsigned int i = 0; i < ncores; i++) {
		struct reactor_stats st = {.stats_size = sizeof(st)};

		H_CHECK_INT(reactor_get_stats(cs[i].core, &st), ==, 0);
		H_CHECK_INT(st.events, >=, 2 * fifo_n);
	}
}

static void test_fifo_one_producer(void **state)
{
	struct reactor_app_opts opts;

	(void)state;
	H_BEGIN();
	reset_states();
	fifo_n = (long)h_scaled(20000, 2000);
	assert_true(h_app_opts(&opts, h_allowed_cpu_count() >= 2 ? 2 : 1));
	opts.stall_threshold_ms = 0; /* one event sends them all: may take a while */
	assert_int_equal(h_app_run(&opts, fifo_body, NULL), 0);
	h_assert_no_failures();
}

/* ---- several foreign producers to one core ------------------------------------------ */
struct mp_arg {
	struct core_state *s;
	unsigned int id;
	long n;
};

static void *mp_main(void *arg)
{
	struct mp_arg *a = arg;

	send_seq(a->s, a->id, a->n, true);
	return NULL;
}

static void mp_body(void *arg)
{
	pthread_t tid[MAX_PRODUCERS];
	struct mp_arg a[MAX_PRODUCERS];
	long n = (long)h_scaled(50000, 2000);
	struct core_state *target;

	(void)arg;
	collect_cores();
	target = &cs[ncores - 1]; /* a non-main core when there are two */
	for (unsigned int i = 0; i < MAX_PRODUCERS; i++) {
		a[i] = (struct mp_arg){.s = target, .id = i, .n = n};
		if (pthread_create(&tid[i], NULL, mp_main, &a[i]) != 0)
			H_FAIL("pthread_create");
	}
	for (unsigned int i = 0; i < MAX_PRODUCERS; i++)
		pthread_join(tid[i], NULL);
	h_wait_eq(&target->ran, MAX_PRODUCERS * n, 20000, "events from 4 producers");
	H_CHECK_INT(atomic_load(&target->wrong_core), ==, 0);
	H_CHECK_INT(atomic_load(&target->out_of_order), ==, 0);
	for (unsigned int i = 0; i < MAX_PRODUCERS; i++)
		H_CHECK_INT(target->next[i], ==, n);
}

static void test_fifo_many_producers(void **state)
{
	struct reactor_app_opts opts;

	(void)state;
	H_BEGIN();
	reset_states();
	assert_true(h_app_opts(&opts, h_allowed_cpu_count() >= 2 ? 2 : 1));
	assert_int_equal(h_app_run(&opts, mp_body, NULL), 0);
	h_assert_no_failures();
}

/* ---- ping-pong between cores: events sent from events ---------------------------------- */
struct pingpong {
	uint32_t a, b;
	long left;
	atomic_long hops;
	atomic_long errors;
	atomic_int done;
};

static void pp_event(void *arg1, void *arg2)
{
	struct pingpong *p = arg1;
	uint32_t here = (uint32_t)(uintptr_t)arg2;
	uint32_t there = here == p->a ? p->b : p->a;
	struct reactor_event *ev;

	if (reactor_get_current_core() != here)
		atomic_fetch_add(&p->errors, 1);
	atomic_fetch_add(&p->hops, 1);
	if (--p->left <= 0) {
		atomic_store(&p->done, 1);
		return;
	}
	ev = reactor_event_allocate(there, pp_event, p, (void *)(uintptr_t)there);
	if (ev == NULL || reactor_event_call(ev) != 0) {
		atomic_fetch_add(&p->errors, 1);
		reactor_event_free(ev);
		atomic_store(&p->done, 1);
	}
}

static void pp_body(void *arg)
{
	struct pingpong *p = arg;
	struct reactor_event *ev;
	long want = p->left; /* read before the events start changing it */

	collect_cores();
	p->a = cs[0].core;
	p->b = cs[ncores - 1].core;
	ev = reactor_event_allocate(p->a, pp_event, p, (void *)(uintptr_t)p->a);
	if (!H_CHECK(ev != NULL))
		return;
	H_CHECK_INT(reactor_event_call(ev), ==, 0);
	h_wait_eq(&p->hops, want, 30000, "ping-pong hops");
	H_CHECK_INT(atomic_load(&p->errors), ==, 0);
}

static void test_pingpong(void **state)
{
	struct reactor_app_opts opts;
	struct pingpong p = {.left = (long)h_scaled(20000, 1000)};

	(void)state;
	H_BEGIN();
	reset_states();
	assert_true(h_app_opts(&opts, h_allowed_cpu_count() >= 2 ? 2 : 1));
	assert_int_equal(h_app_run(&opts, pp_body, &p), 0);
	h_assert_no_failures();
}

/* ---- bad cores, free ---------------------------------------------------------------------- */
static atomic_long never_ran;
static void must_not_run(void *arg1, void *arg2)
{
	(void)arg1;
	(void)arg2;
	atomic_fetch_add(&never_ran, 1);
}

static void bad_core_body(void *arg)
{
	uint32_t outside = *(uint32_t *)arg;
	struct reactor_event *ev;

	errno = 0;
	H_CHECK(reactor_event_allocate(REACTOR_CORE_INVALID, must_not_run, NULL, NULL) == NULL);
	H_CHECK_INT(errno, ==, EINVAL);
	errno = 0;
	H_CHECK(reactor_event_allocate(REACTOR_CPUSET_MAX_CPUS + 5, must_not_run, NULL, NULL) == NULL);
	H_CHECK_INT(errno, ==, EINVAL);
	if (outside != REACTOR_CORE_INVALID) {
		/* a CPU the process may use, but not in the app's mask */
		errno = 0;
		H_CHECK(reactor_event_allocate(outside, must_not_run, NULL, NULL) == NULL);
		H_CHECK_INT(errno, ==, EINVAL);
	}
	/* allocated then freed: never runs */
	ev = reactor_event_allocate(reactor_get_main_core(), must_not_run, NULL, NULL);
	if (H_CHECK(ev != NULL))
		reactor_event_free(ev);
	reactor_event_free(NULL);
	H_CHECK_INT(reactor_event_call(NULL), ==, -EINVAL);
	h_sleep_ms(50);
	H_CHECK_INT(atomic_load(&never_ran), ==, 0);
	H_CHECK_INT(reactor_set_idle_policy(REACTOR_CORE_INVALID, REACTOR_IDLE_POLL), ==, -EINVAL);
	H_CHECK_INT(reactor_get_idle_policy(REACTOR_CORE_INVALID), ==, -EINVAL);
	H_CHECK_INT(reactor_set_idle_policy(reactor_get_main_core(), (enum reactor_idle_policy)7), ==, -EINVAL);
	{
		struct reactor_stats st = {.stats_size = sizeof(st)};

		H_CHECK_INT(reactor_get_stats(REACTOR_CORE_INVALID, &st), ==, -EINVAL);
		if (outside != REACTOR_CORE_INVALID)
			H_CHECK_INT(reactor_get_stats(outside, &st), ==, -EINVAL);
	}
}

static void test_bad_core_and_free(void **state)
{
	struct reactor_app_opts opts;
	uint32_t outside = REACTOR_CORE_INVALID;
	uint32_t cpus[2];
	char mask[64];

	(void)state;
	H_BEGIN();
	atomic_store(&never_ran, 0);
	if (h_mask_of_n(2, mask, sizeof(mask), cpus))
		outside = cpus[1];
	assert_true(h_app_opts(&opts, 1));
	assert_int_equal(h_app_run(&opts, bad_core_body, &outside), 0);
	h_assert_no_failures();
	assert_int_equal(atomic_load(&never_ran), 0);
}

/*
 * The message pool is created by the first framework in a process and kept
 * (later apps reuse it), so the pool tests run in a fresh child process.
 */

/* allocate/free many more times than the pool holds: free gives events back */
static void pool_reuse_body(void *arg)
{
	long n = *(long *)arg;

	for (long i = 0; i < n; i++) {
		struct reactor_event *ev = reactor_event_allocate(reactor_get_main_core(), must_not_run, NULL, NULL);

		if (ev == NULL) {
			H_FAIL("allocation %ld failed (%s): reactor_event_free() leaks", i, strerror(errno));
			return;
		}
		reactor_event_free(ev);
	}
}

/* pool exhaustion: EAGAIN, never abort */
#define POOL_MAX_TRY 2000000
static struct reactor_event **held;

static void pool_body(void *arg)
{
	long limit = *(long *)arg, n = 0;
	struct reactor_event *ev;

	held = calloc(POOL_MAX_TRY, sizeof(*held));
	if (!H_CHECK(held != NULL))
		return;
	for (;;) {
		errno = 0;
		ev = reactor_event_allocate(reactor_get_main_core(), must_not_run, NULL, NULL);
		if (ev == NULL)
			break;
		held[n++] = ev;
		if (n >= POOL_MAX_TRY)
			break;
	}
	H_CHECK(ev == NULL);
	H_CHECK_INT(errno, ==, EAGAIN);
	H_CHECK_INT(n, >=, 1);
	/* the pool size is honoured, allowing for per-thread caches */
	H_CHECK_INT(n, <=, limit);
	fprintf(stderr, "# pool of %ld gave %ld events before EAGAIN\n", limit / 8, n);
	while (n > 0)
		reactor_event_free(held[--n]);
	/* usable again */
	ev = reactor_event_allocate(reactor_get_main_core(), must_not_run, NULL, NULL);
	H_CHECK(ev != NULL);
	reactor_event_free(ev);
	free(held);
}

/* In the child: both pool tests on a 1024-object pool. Exit status = failures. */
static int pool_child(void)
{
	struct reactor_app_opts opts;
	long n, limit;
	int rc;

	h_watchdog_arm("pool child", 60);
	if (!h_app_opts(&opts, 1))
		return 90;
	opts.msg_pool_size = 1024;
	n = 20 * (long)opts.msg_pool_size;
	rc = h_app_run(&opts, pool_reuse_body, &n);
	if (rc != 0)
		H_FAIL("app (reuse) returned %d", rc);
	limit = 8 * (long)opts.msg_pool_size;
	rc = h_app_run(&opts, pool_body, &limit);
	if (rc != 0)
		H_FAIL("app (exhaustion) returned %d", rc);
	if (atomic_load(&never_ran) != 0)
		H_FAIL("a freed event ran");
	return h_failures() > 100 ? 100 : h_failures();
}

static void test_pool_size(void **state)
{
	char *out = NULL;
	int rc;

	(void)state;
	H_BEGIN_TIMEOUT(180);
	rc = h_spawn_self("--pool-child", NULL, &out);
	if (out != NULL)
		fprintf(stderr, "%s", out);
	free(out);
	if (rc != 0)
		fail_msg("pool child exited with %d (number of failed checks, or 128+signal)", rc);
}

/* ---- a full event ring: -EAGAIN, the caller keeps the event --------------------------------- */
static atomic_int blocker_release;
static atomic_int blocker_running;
static atomic_long counted;

static void blocker_event(void *arg1, void *arg2)
{
	uint64_t end = h_now_ns() + 20000000000ull;

	(void)arg1;
	(void)arg2;
	atomic_store(&blocker_running, 1);
	while (!atomic_load(&blocker_release) && h_now_ns() < end)
		sched_yield();
}

static void count_event(void *arg1, void *arg2)
{
	(void)arg1;
	(void)arg2;
	atomic_fetch_add(&counted, 1);
}

static void ring_full_body(void *arg)
{
	uint32_t ring_size = *(uint32_t *)arg;
	uint32_t core;
	struct reactor_event *ev;
	long sent = 0;
	int rc = 0;

	collect_cores();
	core = cs[ncores - 1].core;
	ev = reactor_event_allocate(core, blocker_event, NULL, NULL);
	if (!H_CHECK(ev != NULL) || !H_CHECK(reactor_event_call(ev) == 0))
		return;
	h_waiting_for("the blocking event to start");
	for (uint64_t end = h_now_ns() + 10000000000ull; !atomic_load(&blocker_running) && h_now_ns() < end;)
		h_sleep_us(100);
	H_CHECK(atomic_load(&blocker_running));
	/* the blocked core cannot drain its ring: it fills */
	while (sent < 100 * (long)ring_size) {
		ev = reactor_event_allocate(core, count_event, NULL, NULL);
		if (ev == NULL) {
			H_FAIL("allocation failed (%s) before the ring was full", strerror(errno));
			break;
		}
		rc = reactor_event_call(ev);
		if (rc != 0)
			break;
		sent++;
	}
	H_CHECK_INT(rc, ==, -EAGAIN);
	H_CHECK_INT(sent, >=, (long)ring_size / 2);
	H_CHECK_INT(sent, <=, 2 * (long)ring_size);
	/* the caller still owns the event: retrying later works */
	atomic_store(&blocker_release, 1);
	if (ev != NULL && rc == -EAGAIN) {
		uint64_t end = h_now_ns() + 10000000000ull;

		while ((rc = reactor_event_call(ev)) == -EAGAIN && h_now_ns() < end)
			h_sleep_us(100);
		H_CHECK_INT(rc, ==, 0);
		if (rc == 0)
			sent++;
		else
			reactor_event_free(ev);
	}
	h_wait_eq(&counted, sent, 20000, "every accepted event to run");
}

static void test_ring_full(void **state)
{
	struct reactor_app_opts opts;
	uint32_t ring_size = 64;

	(void)state;
	H_BEGIN();
	reset_states();
	atomic_store(&blocker_release, 0);
	atomic_store(&blocker_running, 0);
	atomic_store(&counted, 0);
	assert_true(h_app_opts(&opts, h_allowed_cpu_count() >= 2 ? 2 : 1));
	opts.event_ring_size = ring_size;
	opts.stall_threshold_ms = 0; /* the blocking event is on purpose */
	assert_int_equal(h_app_run(&opts, ring_full_body, &ring_size), 0);
	h_assert_no_failures();
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_no_framework),	   H_TEST(test_core_info),
		H_TEST(test_fifo_one_producer),	   H_TEST(test_fifo_many_producers),
		H_TEST(test_pingpong),		   H_TEST(test_bad_core_and_free),
		H_TEST(test_pool_size),
		H_TEST(test_ring_full),
	};

	if (argc > 1 && strcmp(argv[1], "--pool-child") == 0)
		return pool_child();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
