/* SPDX-License-Identifier: BSD-3-Clause */
/* reactor_app_parse_args(): standard and application options, help, version, errors. */
#include "helpers.h"

#define MAX_ARGS 32

struct argv_buf {
	int argc;
	char *argv[MAX_ARGS + 1];
};

/* Build a mutable argv from a NULL-terminated list of strings. */
static void make_argv(struct argv_buf *a, const char *const *args)
{
	a->argc = 0;
	while (args[a->argc] != NULL && a->argc < MAX_ARGS) {
		a->argv[a->argc] = strdup(args[a->argc]);
		assert_non_null(a->argv[a->argc]);
		a->argc++;
	}
	a->argv[a->argc] = NULL;
}

static void free_argv(struct argv_buf *a)
{
	for (int i = 0; i < a->argc; i++)
		free(a->argv[i]);
	a->argc = 0;
}

/* What the application's own option handler saw. */
struct app_seen {
	int n;
	int ch[8];
	char arg[8][32];
	void *ctx;
	int fail_on; /* return -EINVAL for this option */
	int usage_calls;
};

static int app_parse(int ch, char *arg, void *ctx)
{
	struct app_seen *s = ctx;

	if (s->n < 8) {
		s->ch[s->n] = ch;
		snprintf(s->arg[s->n], sizeof(s->arg[0]), "%s", arg ? arg : "(null)");
	}
	s->n++;
	s->ctx = ctx;
	return ch == s->fail_on ? -EINVAL : 0;
}

static void app_usage(FILE *out, void *ctx)
{
	struct app_seen *s = ctx;

	s->usage_calls++;
	fprintf(out, "  -x VAL   APP-USAGE-MARK\n");
}

static const struct option app_long[] = {
	{"extra", required_argument, NULL, 'e'},
	{"flag-only", no_argument, NULL, 'f'},
	{NULL, 0, NULL, 0},
};

struct parsed {
	int rc;
	char *out; /* stdout + stderr */
	int optind_after;
};

/* Parse @p args with fresh opts; captures stdout and stderr. */
static struct parsed parse(struct argv_buf *a, const char *const *args, struct reactor_app_opts *opts,
			   struct app_seen *seen)
{
	struct h_fd_capture out, err;
	struct parsed p;
	char *o, *e;

	make_argv(a, args);
	reactor_app_opts_init(opts, sizeof(*opts));
	optind = 0; /* full getopt re-initialisation between parses */
	assert_true(h_fd_capture_begin(&out, STDOUT_FILENO));
	assert_true(h_fd_capture_begin(&err, STDERR_FILENO));
	p.rc = reactor_app_parse_args(a->argc, a->argv, opts, "x:y", app_long, app_parse, app_usage, seen);
	p.optind_after = optind;
	e = h_fd_capture_end(&err);
	o = h_fd_capture_end(&out);
	assert_non_null(o);
	assert_non_null(e);
	p.out = malloc(strlen(o) + strlen(e) + 1);
	assert_non_null(p.out);
	strcpy(p.out, o);
	strcat(p.out, e);
	free(o);
	free(e);
	return p;
}

static void test_standard_options(void **state)
{
	static const char *const args[] = {"prog",	     "-m",	 "0x3",		   "-p",   "1",
					   "--log-level",    "debug",	 "--idle-policy",  "adaptive",
					   "--stall-threshold", "50",	 "file1",	   "file2", NULL};
	struct argv_buf a;
	struct reactor_app_opts opts;
	struct app_seen seen = {0};
	struct parsed p;

	(void)state;
	H_BEGIN();
	p = parse(&a, args, &opts, &seen);
	if (p.rc != REACTOR_APP_PARSE_ARGS_SUCCESS)
		fail_msg("parse returned %d: %s", p.rc, p.out);
	assert_non_null(opts.cpumask);
	assert_string_equal(opts.cpumask, "0x3");
	assert_ptr_equal(opts.cpumask, a.argv[2]); /* points into argv */
	assert_int_equal(opts.main_core, 1);
	assert_int_equal(opts.print_level, REACTOR_LOG_DEBUG);
	assert_int_equal(opts.idle_policy, REACTOR_IDLE_ADAPTIVE);
	assert_int_equal(opts.stall_threshold_ms, 50);
	/* optind indexes the first non-option argument */
	assert_true(p.optind_after < a.argc);
	assert_string_equal(a.argv[p.optind_after], "file1");
	assert_string_equal(a.argv[p.optind_after + 1], "file2");
	assert_int_equal(seen.n, 0);
	/* untouched options keep their defaults */
	assert_true(opts.handle_signals);
	assert_int_equal(opts.idle_threshold_us, 100);
	free(p.out);
	free_argv(&a);
}

static void test_long_forms(void **state)
{
	static const char *const args[] = {"prog", "--cpumask", "[0-1]", "--main-core", "0",
					   "--idle-policy", "poll", "--stall-threshold", "0",
					   "--log-level", "ERROR", NULL};
	struct argv_buf a;
	struct reactor_app_opts opts;
	struct app_seen seen = {0};
	struct parsed p;

	(void)state;
	H_BEGIN();
	p = parse(&a, args, &opts, &seen);
	if (p.rc != REACTOR_APP_PARSE_ARGS_SUCCESS)
		fail_msg("parse returned %d: %s", p.rc, p.out);
	assert_string_equal(opts.cpumask, "[0-1]");
	assert_int_equal(opts.main_core, 0);
	assert_int_equal(opts.idle_policy, REACTOR_IDLE_POLL);
	assert_int_equal(opts.stall_threshold_ms, 0);
	assert_int_equal(opts.print_level, REACTOR_LOG_ERROR);
	assert_int_equal(p.optind_after, a.argc);
	free(p.out);
	free_argv(&a);
}

static void test_logflags(void **state)
{
	static const char *const args[] = {"prog", "-L", "argflag_one", "--logflag", "argflag_two",
					   "-L", "argflag_three", NULL};
	struct argv_buf a;
	struct reactor_app_opts opts;
	struct app_seen seen = {0};
	struct parsed p;

	(void)state;
	H_BEGIN();
	assert_false(reactor_log_get_flag("argflag_one"));
	p = parse(&a, args, &opts, &seen);
	assert_int_equal(p.rc, REACTOR_APP_PARSE_ARGS_SUCCESS);
	assert_true(reactor_log_get_flag("argflag_one"));
	assert_true(reactor_log_get_flag("argflag_two"));
	assert_true(reactor_log_get_flag("argflag_three"));
	assert_false(reactor_log_get_flag("argflag_four"));
	reactor_log_clear_flag("argflag_one");
	reactor_log_clear_flag("argflag_two");
	reactor_log_clear_flag("argflag_three");
	free(p.out);
	free_argv(&a);
}

static void test_help_and_version(void **state)
{
	static const char *const help[] = {"prog", "-h", NULL};
	static const char *const help_long[] = {"prog", "--help", NULL};
	static const char *const version[] = {"prog", "-v", NULL};
	static const char *const version_long[] = {"prog", "--version", NULL};
	struct argv_buf a;
	struct reactor_app_opts opts;
	struct app_seen seen = {0};
	struct parsed p;

	(void)state;
	H_BEGIN();
	p = parse(&a, help, &opts, &seen);
	assert_int_equal(p.rc, REACTOR_APP_PARSE_ARGS_HELP);
	if (strstr(p.out, "--cpumask") == NULL || strstr(p.out, "APP-USAGE-MARK") == NULL)
		fail_msg("help lacks the standard or the application's options:\n%s", p.out);
	assert_int_equal(seen.usage_calls, 1);
	free(p.out);
	free_argv(&a);

	p = parse(&a, help_long, &opts, &seen);
	assert_int_equal(p.rc, REACTOR_APP_PARSE_ARGS_HELP);
	assert_non_null(strstr(p.out, "--idle-policy"));
	free(p.out);
	free_argv(&a);

	p = parse(&a, version, &opts, &seen);
	assert_int_equal(p.rc, REACTOR_APP_PARSE_ARGS_HELP);
	if (strstr(p.out, reactor_version_string()) == NULL)
		fail_msg("-v output lacks the version %s:\n%s", reactor_version_string(), p.out);
	free(p.out);
	free_argv(&a);

	p = parse(&a, version_long, &opts, &seen);
	assert_int_equal(p.rc, REACTOR_APP_PARSE_ARGS_HELP);
	assert_non_null(strstr(p.out, REACTOR_VERSION_STRING));
	free(p.out);
	free_argv(&a);
}

struct bad_case {
	const char *args[6];
	const char *named; /* the error output must contain this (NULL: any message) */
};

static void test_bad_arguments(void **state)
{
	static const struct bad_case cases[] = {
		{{"prog", "--bogus", NULL}, "bogus"},
		{{"prog", "-Z", NULL}, "Z"},
		{{"prog", "-m", NULL}, NULL},
		{{"prog", "--idle-policy", "fast", NULL}, "fast"},
		{{"prog", "--idle-policy", "", NULL}, "idle"},
		{{"prog", "--log-level", "loud", NULL}, "loud"},
		{{"prog", "--stall-threshold", "abc", NULL}, "abc"},
		{{"prog", "--stall-threshold", "-5", NULL}, "-5"},
		{{"prog", "--stall-threshold", "12x", NULL}, "12x"},
		{{"prog", "-p", "abc", NULL}, "abc"},
		{{"prog", "-p", "", NULL}, NULL},
		{{"prog", "--main-core", "99999999999999999999", NULL}, "99999999999999999999"},
	};
	struct argv_buf a;
	struct reactor_app_opts opts;
	struct app_seen seen = {0};

	(void)state;
	H_BEGIN();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct parsed p = parse(&a, cases[i].args, &opts, &seen);

		if (p.rc != REACTOR_APP_PARSE_ARGS_FAIL)
			fail_msg("%s %s: returned %d, want FAIL", cases[i].args[1],
				 cases[i].args[2] ? cases[i].args[2] : "", p.rc);
		if (p.out[0] == '\0')
			fail_msg("%s: no error message", cases[i].args[1]);
		if (cases[i].named != NULL && strstr(p.out, cases[i].named) == NULL)
			fail_msg("%s %s: the message does not name \"%s\":\n%s", cases[i].args[1],
				 cases[i].args[2] ? cases[i].args[2] : "", cases[i].named, p.out);
		print_message("# %s %s -> %s", cases[i].args[1], cases[i].args[2] ? cases[i].args[2] : "",
			      p.out[0] ? p.out : "(no output)\n");
		free(p.out);
		free_argv(&a);
	}
	assert_int_equal(seen.n, 0);
}

static void test_app_options(void **state)
{
	static const char *const args[] = {"prog", "-x", "val", "-y", "--extra", "v2", "-m", "0x1",
					   "--flag-only", "rest", NULL};
	static const char *const failing[] = {"prog", "-y", "-x", "bad", NULL};
	struct argv_buf a;
	struct reactor_app_opts opts;
	struct app_seen seen = {0};
	struct parsed p;

	(void)state;
	H_BEGIN();
	p = parse(&a, args, &opts, &seen);
	if (p.rc != REACTOR_APP_PARSE_ARGS_SUCCESS)
		fail_msg("parse returned %d: %s", p.rc, p.out);
	assert_int_equal(seen.n, 4);
	assert_ptr_equal(seen.ctx, &seen);
	assert_int_equal(seen.ch[0], 'x');
	assert_string_equal(seen.arg[0], "val");
	assert_int_equal(seen.ch[1], 'y');
	assert_string_equal(seen.arg[1], "(null)");
	assert_int_equal(seen.ch[2], 'e');
	assert_string_equal(seen.arg[2], "v2");
	assert_int_equal(seen.ch[3], 'f');
	assert_string_equal(opts.cpumask, "0x1"); /* standard options still handled */
	assert_string_equal(a.argv[p.optind_after], "rest");
	free(p.out);
	free_argv(&a);

	/* the application's handler rejects a value: FAIL */
	memset(&seen, 0, sizeof(seen));
	seen.fail_on = 'x';
	p = parse(&a, failing, &opts, &seen);
	assert_int_equal(p.rc, REACTOR_APP_PARSE_ARGS_FAIL);
	assert_int_equal(seen.n, 2);
	free(p.out);
	free_argv(&a);

	/* no application options at all */
	{
		static const char *const plain[] = {"prog", "-m", "0x1", "-x", NULL};
		struct h_fd_capture err;
		char *e;
		int rc;

		make_argv(&a, plain);
		reactor_app_opts_init(&opts, sizeof(opts));
		optind = 0;
		assert_true(h_fd_capture_begin(&err, STDERR_FILENO));
		rc = reactor_app_parse_args(a.argc, a.argv, &opts, NULL, NULL, NULL, NULL, NULL);
		e = h_fd_capture_end(&err);
		assert_int_equal(rc, REACTOR_APP_PARSE_ARGS_FAIL); /* -x is unknown now */
		free(e);
		free_argv(&a);
	}
}

static void test_double_dash_and_permutation(void **state)
{
	static const char *const dd[] = {"prog", "-p", "0", "--", "-m", "0x3", NULL};
	static const char *const perm[] = {"prog", "file1", "-m", "0x1", NULL};
	struct argv_buf a;
	struct reactor_app_opts opts;
	struct app_seen seen = {0};
	struct parsed p;

	(void)state;
	H_BEGIN();
	p = parse(&a, dd, &opts, &seen);
	assert_int_equal(p.rc, REACTOR_APP_PARSE_ARGS_SUCCESS);
	assert_null(opts.cpumask); /* after "--": not an option */
	assert_string_equal(a.argv[p.optind_after], "-m");
	free(p.out);
	free_argv(&a);

	p = parse(&a, perm, &opts, &seen);
	assert_int_equal(p.rc, REACTOR_APP_PARSE_ARGS_SUCCESS);
	assert_string_equal(opts.cpumask, "0x1");
	assert_true(p.optind_after < a.argc);
	assert_string_equal(a.argv[p.optind_after], "file1");
	free(p.out);
	free_argv(&a);
}

static void test_usage(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	H_BEGIN();
	assert_non_null(f);
	reactor_app_usage(f);
	fclose(f);
	assert_non_null(buf);
	for (const char *const *o = (const char *const[]){"-m", "--cpumask", "-p", "--main-core", "-L",
							     "--logflag", "--log-level", "--idle-policy",
							     "--stall-threshold", "-h", "--help", "-v",
							     "--version", NULL};
	     *o != NULL; o++)
		if (strstr(buf, *o) == NULL)
			fail_msg("reactor_app_usage() does not mention %s:\n%s", *o, buf);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_standard_options), H_TEST(test_long_forms),
		H_TEST(test_logflags),	       H_TEST(test_help_and_version),
		H_TEST(test_bad_arguments),    H_TEST(test_app_options),
		H_TEST(test_double_dash_and_permutation), H_TEST(test_usage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
