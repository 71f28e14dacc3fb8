/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Subsystems: dependency order, errors for cycles and unknown
 * dependencies, fini in reverse, asynchronous init and fini, an init
 * failure (the start fails with its error, those already initialised are
 * finalised), a stop during init, registration rules.
 *
 * The registry lives as long as the process, so each scenario runs in a
 * fresh child process (this program run with the scenario's name).
 */
#include "helpers.h"

/* ---- the child's side -------------------------------------------------------- */

static pthread_mutex_t g_trace_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_trace[1024];

static void trace(const char *what, const char *name)
{
	pthread_mutex_lock(&g_trace_lock);
	snprintf(g_trace + strlen(g_trace), sizeof(g_trace) - strlen(g_trace), "%s%s:%s",
		 g_trace[0] ? " " : "", what, name);
	pthread_mutex_unlock(&g_trace_lock);
}

static int g_failed;

#define EXPECT(cond)                                                           \
	do {                                                                   \
		if (!(cond)) {                                                 \
			printf("EXPECT FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			g_failed = 1;                                          \
		}                                                              \
	} while (0)

static void expect_trace(const char *want)
{
	if (strcmp(g_trace, want) != 0) {
		printf("EXPECT FAILED: trace\n  got:  %s\n  want: %s\n", g_trace, want);
		g_failed = 1;
	}
}

/* Synchronous init/fini that record their subsystem's name. */
#define SYNC_SUBSYSTEM(id, ...)                                                \
	static void init_##id(void)                                            \
	{                                                                      \
		trace("init", #id);                                            \
		reactor_subsystem_init_done(0);                                \
	}                                                                      \
	static void fini_##id(void)                                            \
	{                                                                      \
		trace("fini", #id);                                            \
		reactor_subsystem_fini_done();                                 \
	}                                                                      \
	static const char *const deps_##id[] = {__VA_ARGS__};                  \
	static const struct reactor_subsystem sub_##id = {                     \
		.size = sizeof(struct reactor_subsystem),                      \
		.name = #id,                                                   \
		.depends_on = deps_##id,                                       \
		.init = init_##id,                                             \
		.fini = fini_##id,                                             \
	}

SYNC_SUBSYSTEM(a, NULL);
SYNC_SUBSYSTEM(b, "a", NULL);
SYNC_SUBSYSTEM(c, "b", NULL);
SYNC_SUBSYSTEM(d, NULL);
SYNC_SUBSYSTEM(cyc_a, "cyc_b", NULL);
SYNC_SUBSYSTEM(cyc_b, "cyc_c", NULL);
SYNC_SUBSYSTEM(cyc_c, "cyc_a", NULL);
SYNC_SUBSYSTEM(orphan, "ghost", NULL);
SYNC_SUBSYSTEM(selfish, "selfish", NULL);

static void start_and_stop(void *arg)
{
	(void)arg;
	trace("start", "app");
	reactor_app_stop(0);
}

static int run_app(void)
{
	struct reactor_app_opts o;

	if (!h_app_opts(&o, 1))
		return -999;
	return reactor_app_start(&o, start_and_stop, NULL);
}

static void scenario_order(void)
{
	/* Registered out of order: c needs b needs a; d needs nothing. */
	EXPECT(reactor_subsystem_register(&sub_c) == 0);
	EXPECT(reactor_subsystem_register(&sub_b) == 0);
	EXPECT(reactor_subsystem_register(&sub_d) == 0);
	EXPECT(reactor_subsystem_register(&sub_a) == 0);
	/* Each goes as early as its dependencies allow, ties in registration order. */
	EXPECT(run_app() == 0);
	expect_trace("init:d init:a init:b init:c start:app fini:c fini:b fini:a fini:d");
	/* Again: the same order, the registry is reusable after the app. */
	g_trace[0] = '\0';
	EXPECT(run_app() == 0);
	expect_trace("init:d init:a init:b init:c start:app fini:c fini:b fini:a fini:d");
}

static void scenario_cycle(void)
{
	EXPECT(reactor_subsystem_register(&sub_cyc_a) == 0);
	EXPECT(reactor_subsystem_register(&sub_cyc_b) == 0);
	EXPECT(reactor_subsystem_register(&sub_cyc_c) == 0);
	EXPECT(reactor_subsystem_register(&sub_d) == 0);
	h_log_capture_start(REACTOR_LOG_ERROR);
	EXPECT(run_app() == -EINVAL);
	h_log_capture_stop();
	EXPECT(h_log_count2("cycle", "cyc_a -> cyc_b -> cyc_c -> cyc_a") == 1);
	expect_trace(""); /* nothing ran, not even start_fn */
}

static void scenario_unknown(void)
{
	EXPECT(reactor_subsystem_register(&sub_a) == 0);
	EXPECT(reactor_subsystem_register(&sub_orphan) == 0);
	EXPECT(reactor_subsystem_register(&sub_selfish) == 0);
	h_log_capture_start(REACTOR_LOG_ERROR);
	EXPECT(run_app() == -EINVAL);
	h_log_capture_stop();
	EXPECT(h_log_count2("'orphan' depends on 'ghost'", "not registered") == 1);
	EXPECT(h_log_count("'selfish' depends on itself") == 1);
	expect_trace("");
}

/* ---- asynchronous init/fini: done from another pthread, later ------------------ */

struct later {
	int rc;
	bool fini;
	unsigned int delay_ms;
};

static void *later_main(void *arg)
{
	struct later *l = arg;

	h_sleep_ms(l->delay_ms);
	if (l->fini)
		reactor_subsystem_fini_done();
	else
		reactor_subsystem_init_done(l->rc);
	free(l);
	return NULL;
}

static void finish_later(int rc, bool fini, unsigned int delay_ms)
{
	struct later *l = calloc(1, sizeof(*l));
	pthread_t t;

	l->rc = rc;
	l->fini = fini;
	l->delay_ms = delay_ms;
	pthread_create(&t, NULL, later_main, l);
	pthread_detach(t);
}

static void init_slow(void)
{
	trace("init", "slow");
	finish_later(0, false, 50);
}

static void fini_slow(void)
{
	trace("fini", "slow");
	finish_later(0, true, 50);
}

static void init_failing(void)
{
	trace("init", "failing");
	finish_later(-EIO, false, 20);
}

static const char *const deps_slow[] = {"a", NULL};
static const struct reactor_subsystem sub_slow = {
	.size = sizeof(struct reactor_subsystem),
	.name = "slow",
	.depends_on = deps_slow,
	.init = init_slow,
	.fini = fini_slow,
};
static const struct reactor_subsystem sub_failing = {
	.size = sizeof(struct reactor_subsystem),
	.name = "failing",
	.depends_on = deps_slow,
	.init = init_failing,
	.fini = fini_slow, /* must not run */
};

static void scenario_async(void)
{
	EXPECT(reactor_subsystem_register(&sub_a) == 0);
	EXPECT(reactor_subsystem_register(&sub_slow) == 0);
	EXPECT(reactor_subsystem_register(&sub_d) == 0);
	/* d registered after slow: it waits for slow's init to finish. */
	EXPECT(run_app() == 0);
	expect_trace("init:a init:slow init:d start:app fini:d fini:slow fini:a");
}

static void scenario_fail(void)
{
	static const char *const deps_c2[] = {"failing", NULL};
	static const struct reactor_subsystem sub_after = {
		.size = sizeof(struct reactor_subsystem),
		.name = "after",
		.depends_on = deps_c2,
		.init = init_d,
		.fini = fini_d,
	};

	EXPECT(reactor_subsystem_register(&sub_a) == 0);
	EXPECT(reactor_subsystem_register(&sub_failing) == 0);
	EXPECT(reactor_subsystem_register(&sub_after) == 0);
	h_log_capture_start(REACTOR_LOG_ERROR);
	EXPECT(run_app() == -EIO);
	h_log_capture_stop();
	EXPECT(h_log_count2("'failing'", "failed to initialise") == 1);
	/* start_fn never ran; only a (initialised) was finalised. */
	expect_trace("init:a init:failing fini:a");
}

/* ---- a stop while a subsystem's init is in flight --------------------------------- */

static atomic_int g_release;

static void *parked_init_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&g_release))
		h_sleep_ms(1);
	reactor_subsystem_init_done(0);
	return NULL;
}

static void init_parked(void)
{
	pthread_t t;

	trace("init", "parked");
	pthread_create(&t, NULL, parked_init_main, NULL);
	pthread_detach(t);
}

static void *stopper_main(void *arg)
{
	uint64_t end = h_now_ns() + 30000000000ull;

	(void)arg;
	/* Stop while parked's init is in flight. */
	for (;;) {
		bool in_flight;

		pthread_mutex_lock(&g_trace_lock);
		in_flight = strstr(g_trace, "init:parked") != NULL;
		pthread_mutex_unlock(&g_trace_lock);
		if (in_flight || h_now_ns() > end)
			break;
		h_sleep_ms(1);
	}
	reactor_app_stop(42);
	h_sleep_ms(20);
	atomic_store(&g_release, 1);
	return NULL;
}

static void scenario_stop_during_init(void)
{
	static const struct reactor_subsystem sub_parked = {
		.size = sizeof(struct reactor_subsystem),
		.name = "parked",
		.depends_on = deps_slow,
		.init = init_parked,
		.fini = fini_b,
	};
	pthread_t t;

	EXPECT(reactor_subsystem_register(&sub_a) == 0);
	EXPECT(reactor_subsystem_register(&sub_parked) == 0);
	EXPECT(reactor_subsystem_register(&sub_d) == 0);
	pthread_create(&t, NULL, stopper_main, NULL);
	EXPECT(run_app() == 42);
	pthread_join(t, NULL);
	/* parked finished its init, so it is finalised (its fini traces "b"); d never started. */
	expect_trace("init:a init:parked fini:b fini:a");
}

/* ---- registration rules ------------------------------------------------------------- */

static atomic_int g_busy_rc;

static void start_register(void *arg)
{
	(void)arg;
	atomic_store(&g_busy_rc, reactor_subsystem_register(&sub_d));
	reactor_app_stop(0);
}

static void scenario_register(void)
{
	struct reactor_subsystem small = {.size = sizeof(size_t), .name = "small"};
	struct reactor_subsystem noname = {.size = sizeof(struct reactor_subsystem)};
	struct reactor_app_opts o;

	EXPECT(reactor_subsystem_register(NULL) == -EINVAL);
	EXPECT(reactor_subsystem_register(&small) == -EINVAL);
	EXPECT(reactor_subsystem_register(&noname) == -EINVAL);
	EXPECT(reactor_subsystem_register(&sub_a) == 0);
	EXPECT(reactor_subsystem_register(&sub_a) == -EEXIST);
	/* The library's own subsystem exists already. */
	{
		static const struct reactor_subsystem dup = {
			.size = sizeof(struct reactor_subsystem), .name = "reactor"};

		EXPECT(reactor_subsystem_register(&dup) == -EEXIST);
	}
	EXPECT(h_app_opts(&o, 1));
	EXPECT(reactor_app_start(&o, start_register, NULL) == 0);
	EXPECT(atomic_load(&g_busy_rc) == -EBUSY);
	EXPECT(reactor_subsystem_register(&sub_d) == 0); /* fine once the app has ended */
}

static int run_scenario(const char *name)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} scenarios[] = {
		{"order", scenario_order},
		{"cycle", scenario_cycle},
		{"unknown", scenario_unknown},
		{"async", scenario_async},
		{"fail", scenario_fail},
		{"stop_during_init", scenario_stop_during_init},
		{"register", scenario_register},
	};

	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		if (strcmp(scenarios[i].name, name) == 0) {
			h_watchdog_arm(name, 60);
			scenarios[i].fn();
			if (h_failures() != 0)
				g_failed = 1;
			printf("SCENARIO %s: %s\n", name, g_failed ? "FAILED" : "passed");
			fflush(stdout);
			return g_failed;
		}
	}
	printf("no scenario %s\n", name);
	return 2;
}

/* ---- the parent's side ------------------------------------------------------------ */

static void run_child(const char *scenario)
{
	char *out = NULL;
	int rc = h_spawn_self(scenario, NULL, &out);

	if (rc != 0)
		print_error("scenario %s exited with %d; its output:\n%s\n", scenario, rc,
			    out ? out : "");
	free(out);
	assert_int_equal(rc, 0);
}

#define SCENARIO_TEST(name)                                                    \
	static void test_##name(void **state)                                  \
	{                                                                      \
		(void)state;                                                   \
		H_BEGIN_TIMEOUT(150);                                          \
		run_child(#name);                                              \
	}

SCENARIO_TEST(order)
SCENARIO_TEST(cycle)
SCENARIO_TEST(unknown)
SCENARIO_TEST(async)
SCENARIO_TEST(fail)
SCENARIO_TEST(stop_during_init)
SCENARIO_TEST(register)

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_order),
		H_TEST(test_cycle),
		H_TEST(test_unknown),
		H_TEST(test_async),
		H_TEST(test_fail),
		H_TEST(test_stop_during_init),
		H_TEST(test_register),
	};

	if (argc > 1)
		return run_scenario(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
