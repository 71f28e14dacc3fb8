/* SPDX-License-Identifier: BSD-3-Clause */
/* Logging: levels, sink, stderr printing, journal prefix, timestamps, flags. */
#include "helpers.h"

REACTOR_LOG_REGISTER_COMPONENT(test_log_macro_comp)

/* ---- a recording sink ----------------------------------------------------------- */
struct rec {
	int n;
	enum reactor_log_level level[16];
	char msg[16][256];
	char file[16][128];
	char func[16][64];
	int line[16];
	pthread_t tid[16];
};

static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;

static void rec_sink(enum reactor_log_level level, const char *file, int line, const char *func,
		     const char *message, void *ctx)
{
	struct rec *r = ctx;

	pthread_mutex_lock(&rec_lock);
	if (r->n < 16) {
		r->level[r->n] = level;
		snprintf(r->msg[r->n], sizeof(r->msg[0]), "%s", message);
		snprintf(r->file[r->n], sizeof(r->file[0]), "%s", file ? file : "");
		snprintf(r->func[r->n], sizeof(r->func[0]), "%s", func ? func : "");
		r->line[r->n] = line;
		r->tid[r->n] = pthread_self();
	}
	r->n++;
	pthread_mutex_unlock(&rec_lock);
}

static void restore_defaults(void)
{
	reactor_log_set_sink(NULL, NULL);
	reactor_log_set_level(REACTOR_LOG_NOTICE);
	reactor_log_set_print_level(REACTOR_LOG_NOTICE);
	reactor_log_set_timestamps(false);
	reactor_log_set_journal_prefix(-1);
}

/* Must run first: nothing has changed the settings yet. */
static void test_defaults(void **state)
{
	(void)state;
	H_BEGIN();
	assert_int_equal(reactor_log_get_level(), REACTOR_LOG_NOTICE);
	assert_int_equal(reactor_log_get_print_level(), REACTOR_LOG_NOTICE);
}

static void test_set_get_levels(void **state)
{
	(void)state;
	H_BEGIN();
	for (int l = REACTOR_LOG_DISABLED; l <= REACTOR_LOG_DEBUG; l++) {
		reactor_log_set_level((enum reactor_log_level)l);
		assert_int_equal(reactor_log_get_level(), l);
		reactor_log_set_print_level((enum reactor_log_level)(REACTOR_LOG_DEBUG - (l + 1)));
		assert_int_equal(reactor_log_get_print_level(), REACTOR_LOG_DEBUG - (l + 1));
	}
	restore_defaults();
}

static void test_parse_and_name(void **state)
{
	static const struct {
		const char *name;
		enum reactor_log_level level;
	} good[] = {
		{"error", REACTOR_LOG_ERROR},	{"ERROR", REACTOR_LOG_ERROR},	{"warn", REACTOR_LOG_WARN},
		{"warning", REACTOR_LOG_WARN},	{"Warning", REACTOR_LOG_WARN},	{"notice", REACTOR_LOG_NOTICE},
		{"info", REACTOR_LOG_INFO},	{"InFo", REACTOR_LOG_INFO},	{"debug", REACTOR_LOG_DEBUG},
		{"disabled", REACTOR_LOG_DISABLED}, {"DISABLED", REACTOR_LOG_DISABLED},
	};
	static const char *const bad[] = {"", "err", "errors", "warn ", " info", "verbose", "5", "-1"};
	enum reactor_log_level lv;

	(void)state;
	H_BEGIN();
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		lv = (enum reactor_log_level)99;
		if (reactor_log_level_parse(good[i].name, &lv) != 0 || lv != good[i].level)
			fail_msg("parse(\"%s\") gave %d, want %d", good[i].name, (int)lv, (int)good[i].level);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lv = REACTOR_LOG_INFO;
		if (reactor_log_level_parse(bad[i], &lv) != -EINVAL)
			fail_msg("parse(\"%s\") accepted", bad[i]);
		assert_int_equal(lv, REACTOR_LOG_INFO); /* untouched on error */
	}
	assert_string_equal(reactor_log_level_name(REACTOR_LOG_ERROR), "ERROR");
	/* every name parses back to its level, and names are distinct */
	for (int l = REACTOR_LOG_ERROR; l <= REACTOR_LOG_DEBUG; l++) {
		const char *n = reactor_log_level_name((enum reactor_log_level)l);

		assert_non_null(n);
		assert_int_equal(reactor_log_level_parse(n, &lv), 0);
		assert_int_equal(lv, l);
		for (int k = REACTOR_LOG_ERROR; k < l; k++)
			assert_string_not_equal(n, reactor_log_level_name((enum reactor_log_level)k));
	}
}

static void test_sink_threshold(void **state)
{
	struct rec r;
	int line;

	(void)state;
	H_BEGIN();
	memset(&r, 0, sizeof(r));
	reactor_log_set_print_level(REACTOR_LOG_DISABLED); /* keep stderr quiet */
	reactor_log_set_level(REACTOR_LOG_WARN);
	reactor_log_set_sink(rec_sink, &r);

	line = __LINE__ + 1;
	reactor_log(REACTOR_LOG_ERROR, __FILE__, line, __func__, "value=%d str=%s", 42, "abc");
	REACTOR_WARNLOG("warn %s", "passes");
	REACTOR_NOTICELOG("notice is filtered");
	REACTOR_INFOLOG("info is filtered");
	reactor_log(REACTOR_LOG_DEBUG, __FILE__, __LINE__, __func__, "debug is filtered");

	assert_int_equal(r.n, 2);
	assert_int_equal(r.level[0], REACTOR_LOG_ERROR);
	assert_non_null(strstr(r.msg[0], "value=42 str=abc"));
	assert_int_not_equal(r.msg[0][strlen(r.msg[0]) - 1], '\n');
	assert_string_equal(r.file[0], __FILE__);
	assert_int_equal(r.line[0], line);
	assert_string_equal(r.func[0], __func__);
	assert_int_equal(r.level[1], REACTOR_LOG_WARN);
	assert_non_null(strstr(r.msg[1], "warn passes"));

	/* lower the threshold: now NOTICE and INFO pass too */
	reactor_log_set_level(REACTOR_LOG_INFO);
	REACTOR_NOTICELOG("notice %d", 1);
	REACTOR_INFOLOG("info %d", 2);
	reactor_log(REACTOR_LOG_DEBUG, __FILE__, __LINE__, __func__, "debug still filtered");
	assert_int_equal(r.n, 4);
	assert_int_equal(r.level[2], REACTOR_LOG_NOTICE);
	assert_int_equal(r.level[3], REACTOR_LOG_INFO);

	/* DISABLED: nothing passes, not even errors */
	reactor_log_set_level(REACTOR_LOG_DISABLED);
	REACTOR_ERRLOG("error filtered when disabled");
	assert_int_equal(r.n, 4);

	/* sink removed: no more calls */
	reactor_log_set_level(REACTOR_LOG_DEBUG);
	reactor_log_set_sink(NULL, NULL);
	REACTOR_ERRLOG("no sink");
	assert_int_equal(r.n, 4);
	restore_defaults();
}

static void vlog_helper(struct rec *r, const char *fmt, ...) REACTOR_PRINTF(2, 3);
static void vlog_helper(struct rec *r, const char *fmt, ...)
{
	va_list ap;

	(void)r;
	va_start(ap, fmt);
	reactor_vlog(REACTOR_LOG_ERROR, "vfile.c", 7, "vfunc", fmt, ap);
	va_end(ap);
}

static void test_vlog(void **state)
{
	struct rec r;

	(void)state;
	H_BEGIN();
	memset(&r, 0, sizeof(r));
	reactor_log_set_print_level(REACTOR_LOG_DISABLED);
	reactor_log_set_sink(rec_sink, &r);
	vlog_helper(&r, "%s-%03d", "via", 5);
	assert_int_equal(r.n, 1);
	assert_non_null(strstr(r.msg[0], "via-005"));
	assert_string_equal(r.file[0], "vfile.c");
	assert_int_equal(r.line[0], 7);
	assert_string_equal(r.func[0], "vfunc");
	restore_defaults();
}

/* The sink runs on the thread that logged. */
static void *log_from_thread(void *arg)
{
	(void)arg;
	REACTOR_ERRLOG("from a pthread");
	return NULL;
}

static void test_sink_on_logging_thread(void **state)
{
	struct rec r;
	pthread_t tid;

	(void)state;
	H_BEGIN();
	memset(&r, 0, sizeof(r));
	reactor_log_set_print_level(REACTOR_LOG_DISABLED);
	reactor_log_set_sink(rec_sink, &r);
	assert_int_equal(pthread_create(&tid, NULL, log_from_thread, NULL), 0);
	pthread_join(tid, NULL);
	assert_int_equal(r.n, 1);
	assert_true(pthread_equal(r.tid[0], tid));
	restore_defaults();
}

/* Concurrent logging: every message reaches the sink exactly once. */
static atomic_long conc_count;
static void conc_sink(enum reactor_log_level level, const char *file, int line, const char *func,
		      const char *message, void *ctx)
{
	(void)level;
	(void)file;
	(void)line;
	(void)func;
	(void)ctx;
	if (strstr(message, "concurrent ") != NULL)
		atomic_fetch_add(&conc_count, 1);
}

static void *conc_main(void *arg)
{
	long n = (long)(intptr_t)arg;

	for (long i = 0; i < n; i++)
		REACTOR_WARNLOG("concurrent %ld", i);
	return NULL;
}

static void test_concurrent_logging(void **state)
{
	pthread_t tid[4];
	long n = (long)h_scaled(2000, 200);

	(void)state;
	H_BEGIN();
	atomic_store(&conc_count, 0);
	reactor_log_set_print_level(REACTOR_LOG_DISABLED);
	reactor_log_set_sink(conc_sink, NULL);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&tid[i], NULL, conc_main, (void *)(intptr_t)n), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(tid[i], NULL);
	assert_int_equal(atomic_load(&conc_count), 4 * n);
	restore_defaults();
}

/* ---- stderr ------------------------------------------------------------------------ */

/* Capture what logging at @p level prints to stderr. */
static char *printed(enum reactor_log_level level, const char *text)
{
	struct h_fd_capture cap;

	assert_true(h_fd_capture_begin(&cap, STDERR_FILENO));
	reactor_log(level, __FILE__, __LINE__, __func__, "%s", text);
	return h_fd_capture_end(&cap);
}

static void test_print_level(void **state)
{
	char *out;

	(void)state;
	H_BEGIN();
	reactor_log_set_journal_prefix(0);
	reactor_log_set_print_level(REACTOR_LOG_ERROR);
	out = printed(REACTOR_LOG_ERROR, "printed-error-line");
	assert_non_null(out);
	assert_non_null(strstr(out, "printed-error-line"));
	assert_non_null(strchr(out, '\n')); /* a whole line */
	free(out);
	out = printed(REACTOR_LOG_WARN, "filtered-warn-line");
	assert_string_equal(out, "");
	free(out);

	reactor_log_set_print_level(REACTOR_LOG_DEBUG);
	out = printed(REACTOR_LOG_DEBUG, "printed-debug-line");
	assert_non_null(strstr(out, "printed-debug-line"));
	free(out);

	reactor_log_set_print_level(REACTOR_LOG_DISABLED);
	out = printed(REACTOR_LOG_ERROR, "not-printed");
	assert_string_equal(out, "");
	free(out);

	/* print level and sink level are independent */
	{
		struct rec r;

		memset(&r, 0, sizeof(r));
		reactor_log_set_sink(rec_sink, &r);
		reactor_log_set_level(REACTOR_LOG_DEBUG);
		reactor_log_set_print_level(REACTOR_LOG_ERROR);
		out = printed(REACTOR_LOG_INFO, "info-to-sink-only");
		assert_string_equal(out, "");
		assert_int_equal(r.n, 1);
		free(out);
		reactor_log_set_level(REACTOR_LOG_DISABLED);
		out = printed(REACTOR_LOG_ERROR, "error-to-stderr-only");
		assert_non_null(strstr(out, "error-to-stderr-only"));
		assert_int_equal(r.n, 1);
		free(out);
	}
	restore_defaults();
}

static void test_journal_prefix_forced(void **state)
{
	static const struct {
		enum reactor_log_level level;
		const char *prefix;
	} prio[] = {
		{REACTOR_LOG_ERROR, "<3>"}, {REACTOR_LOG_WARN, "<4>"}, {REACTOR_LOG_NOTICE, "<5>"},
		{REACTOR_LOG_INFO, "<6>"},  {REACTOR_LOG_DEBUG, "<7>"},
	};
	char *out;

	(void)state;
	H_BEGIN();
	reactor_log_set_print_level(REACTOR_LOG_DEBUG);
	reactor_log_set_journal_prefix(1);
	for (size_t i = 0; i < sizeof(prio) / sizeof(prio[0]); i++) {
		out = printed(prio[i].level, "journal-line");
		assert_non_null(strstr(out, "journal-line"));
		if (strncmp(out, prio[i].prefix, 3) != 0)
			fail_msg("level %d: line \"%s\" does not start with %s", (int)prio[i].level, out,
				 prio[i].prefix);
		free(out);
	}
	reactor_log_set_journal_prefix(0);
	out = printed(REACTOR_LOG_ERROR, "plain-line");
	assert_non_null(strstr(out, "plain-line"));
	assert_int_not_equal(out[0], '<');
	assert_null(strstr(out, "<3>"));
	free(out);
	/* auto with JOURNAL_STREAM unset: no prefix */
	unsetenv("JOURNAL_STREAM");
	reactor_log_set_journal_prefix(-1);
	out = printed(REACTOR_LOG_ERROR, "auto-line");
	assert_non_null(strstr(out, "auto-line"));
	assert_null(strstr(out, "<3>"));
	free(out);
	restore_defaults();
}

/* ---- auto-detection in a fresh process (the library may cache it) ------------------- */
static int run_child(const char *journal_stream, char **out)
{
	char path[] = "/tmp/reactor_test_log_XXXXXX";
	int fd = mkstemp(path), status = -1;
	char envbuf[128], *envp[4], *argv[3];
	posix_spawn_file_actions_t fa;
	struct stat st;
	pid_t pid;
	int n = 0;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	if (journal_stream == NULL)
		snprintf(envbuf, sizeof(envbuf), "JOURNAL_STREAM=%lu:%lu", (unsigned long)st.st_dev,
			 (unsigned long)st.st_ino);
	else
		snprintf(envbuf, sizeof(envbuf), "JOURNAL_STREAM=%s", journal_stream);
	envp[n++] = envbuf;
	if (getenv("LD_LIBRARY_PATH") != NULL) {
		static char ld[4096];

		snprintf(ld, sizeof(ld), "LD_LIBRARY_PATH=%s", getenv("LD_LIBRARY_PATH"));
		envp[n++] = ld;
	}
	envp[n] = NULL;
	argv[0] = (char *)"test_log";
	argv[1] = (char *)"--journal-child";
	argv[2] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, STDERR_FILENO);
	assert_int_equal(posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, envp), 0);
	posix_spawn_file_actions_destroy(&fa);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	{
		off_t size = lseek(fd, 0, SEEK_END);

		*out = calloc(1, (size_t)size + 1);
		assert_non_null(*out);
		assert_int_equal(pread(fd, *out, (size_t)size, 0), size);
	}
	close(fd);
	unlink(path);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int journal_child(void)
{
	REACTOR_ERRLOG("child-error-line");
	REACTOR_WARNLOG("child-warn-line");
	return 0;
}

static void test_journal_prefix_auto(void **state)
{
	char *out = NULL;

	(void)state;
	H_BEGIN();
	/* JOURNAL_STREAM names the child's stderr: prefixed */
	assert_int_equal(run_child(NULL, &out), 0);
	if (strncmp(out, "<3>", 3) != 0 || strstr(out, "<4>") == NULL)
		fail_msg("auto-detected journal: output lacks <3>/<4> prefixes:\n%s", out);
	free(out);
	/* JOURNAL_STREAM names another file: not prefixed */
	assert_int_equal(run_child("1:1", &out), 0);
	assert_non_null(strstr(out, "child-error-line"));
	if (strstr(out, "<3>") != NULL)
		fail_msg("JOURNAL_STREAM for another file still gave a prefix:\n%s", out);
	free(out);
}

static void test_timestamps(void **state)
{
	char *plain, *stamped;
	const char *at;

	(void)state;
	H_BEGIN();
	reactor_log_set_journal_prefix(0);
	reactor_log_set_print_level(REACTOR_LOG_NOTICE);
	reactor_log_set_timestamps(false);
	plain = printed(REACTOR_LOG_ERROR, "ts-line");
	reactor_log_set_timestamps(true);
	stamped = printed(REACTOR_LOG_ERROR, "ts-line");
	reactor_log_set_timestamps(false);

	assert_non_null(strstr(plain, "ts-line"));
	at = strstr(stamped, "ts-line");
	assert_non_null(at);
	if (strlen(stamped) <= strlen(plain))
		fail_msg("timestamped line \"%s\" is not longer than \"%s\"", stamped, plain);
	/* the extra text holds digits, before the message */
	{
		bool digit = false;

		for (const char *p = stamped; p < at; p++)
			if (*p >= '0' && *p <= '9')
				digit = true;
		if (!digit)
			fail_msg("no timestamp digits before the message in \"%s\"", stamped);
	}
	/* turned off again: back to the plain form */
	{
		char *again = printed(REACTOR_LOG_ERROR, "ts-line");

		assert_string_equal(again, plain);
		free(again);
	}
	free(plain);
	free(stamped);
	restore_defaults();
}

/* ---- flags --------------------------------------------------------------------------- */
struct flag_walk {
	char names[256][64];
	bool enabled[256];
	int n;
};

static void walk_fn(const char *name, bool enabled, void *ctx)
{
	struct flag_walk *w = ctx;

	if (w->n < 256) {
		snprintf(w->names[w->n], sizeof(w->names[0]), "%s", name);
		w->enabled[w->n] = enabled;
	}
	w->n++;
}

static int walk_index(const struct flag_walk *w, const char *name)
{
	int found = -1;

	for (int i = 0; i < w->n && i < 256; i++) {
		if (strcmp(w->names[i], name) == 0) {
			if (found >= 0)
				return -2; /* listed twice */
			found = i;
		}
	}
	return found;
}

static void test_flags(void **state)
{
	struct reactor_log_flag *a, *b, *c;
	static struct flag_walk w;

	(void)state;
	H_BEGIN();
	a = reactor_log_flag_register("tflag_a");
	b = reactor_log_flag_register("tflag_b");
	c = reactor_log_flag_register("tflag_c");
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_ptr_not_equal(a, b);
	assert_ptr_equal(reactor_log_flag_register("tflag_a"), a); /* idempotent */
	assert_false(reactor_log_flag_enabled(a));
	assert_false(reactor_log_flag_enabled(NULL));
	assert_false(reactor_log_get_flag("tflag_a"));
	assert_false(reactor_log_get_flag("tflag_nonexistent"));

	assert_int_equal(reactor_log_set_flag("tflag_b"), 0);
	assert_true(reactor_log_flag_enabled(b));
	assert_true(reactor_log_get_flag("tflag_b"));
	assert_false(reactor_log_flag_enabled(a));
	assert_false(reactor_log_flag_enabled(c));
	assert_int_equal(reactor_log_clear_flag("tflag_b"), 0);
	assert_false(reactor_log_flag_enabled(b));
	assert_int_equal(reactor_log_clear_flag("tflag_never_registered"), -ENOENT);
	assert_int_equal(reactor_log_set_flag(""), -EINVAL);
	errno = 0;
	assert_null(reactor_log_flag_register(""));
	assert_int_equal(errno, EINVAL);

	/* set before register: the later registration sees it enabled */
	assert_int_equal(reactor_log_set_flag("tflag_early"), 0);
	assert_true(reactor_log_get_flag("tflag_early"));
	assert_true(reactor_log_flag_enabled(reactor_log_flag_register("tflag_early")));

	/* "all" */
	assert_int_equal(reactor_log_set_flag("all"), 0);
	assert_true(reactor_log_flag_enabled(a));
	assert_true(reactor_log_flag_enabled(b));
	assert_true(reactor_log_flag_enabled(c));
	assert_true(reactor_log_get_flag("test_log_macro_comp"));
	assert_int_equal(reactor_log_clear_flag("all"), 0);
	assert_false(reactor_log_flag_enabled(a));
	assert_false(reactor_log_flag_enabled(b));
	assert_false(reactor_log_flag_enabled(c));
	assert_false(reactor_log_get_flag("tflag_early"));

	/* foreach: registration order, each once, with its state */
	reactor_log_set_flag("tflag_c");
	memset(&w, 0, sizeof(w));
	reactor_log_foreach_flag(walk_fn, &w);
	{
		int ia = walk_index(&w, "tflag_a"), ib = walk_index(&w, "tflag_b");
		int ic = walk_index(&w, "tflag_c"), ie = walk_index(&w, "tflag_early");
		int im = walk_index(&w, "test_log_macro_comp");

		if (ia < 0 || ib < 0 || ic < 0 || ie < 0 || im < 0)
			fail_msg("foreach misses or repeats flags: a %d b %d c %d early %d macro %d (n=%d)", ia,
				 ib, ic, ie, im, w.n);
		assert_true(im < ia); /* registered by a constructor, before main */
		assert_true(ia < ib);
		assert_true(ib < ic);
		assert_true(ic < ie);
		assert_false(w.enabled[ia]);
		assert_true(w.enabled[ic]);
	}
	reactor_log_clear_flag("tflag_c");
}

static void test_debuglog_macro(void **state)
{
	struct rec r;

	(void)state;
	H_BEGIN();
	memset(&r, 0, sizeof(r));
	reactor_log_set_print_level(REACTOR_LOG_DISABLED);
	reactor_log_set_level(REACTOR_LOG_DEBUG);
	reactor_log_set_sink(rec_sink, &r);
	assert_non_null(reactor_log_flag_test_log_macro_comp);
	reactor_log_clear_flag("test_log_macro_comp");
	REACTOR_DEBUGLOG(test_log_macro_comp, "hidden %d", 1);
	assert_int_equal(r.n, 0);
	assert_int_equal(reactor_log_set_flag("test_log_macro_comp"), 0);
	REACTOR_DEBUGLOG(test_log_macro_comp, "shown %d", 2);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.level[0], REACTOR_LOG_DEBUG);
	assert_non_null(strstr(r.msg[0], "shown 2"));
	/* flag on but the sink threshold below DEBUG: still filtered */
	reactor_log_set_level(REACTOR_LOG_INFO);
	REACTOR_DEBUGLOG(test_log_macro_comp, "filtered %d", 3);
	assert_int_equal(r.n, 1);
	reactor_log_clear_flag("test_log_macro_comp");
	restore_defaults();
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_defaults),
		H_TEST(test_set_get_levels),
		H_TEST(test_parse_and_name),
		H_TEST(test_sink_threshold),
		H_TEST(test_vlog),
		H_TEST(test_sink_on_logging_thread),
		H_TEST(test_concurrent_logging),
		H_TEST(test_print_level),
		H_TEST(test_journal_prefix_forced),
		H_TEST(test_journal_prefix_auto),
		H_TEST(test_timestamps),
		H_TEST(test_flags),
		H_TEST(test_debuglog_macro),
	};

	if (argc > 1 && strcmp(argv[1], "--journal-child") == 0)
		return journal_child();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
