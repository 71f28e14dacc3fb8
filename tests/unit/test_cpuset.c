/* SPDX-License-Identifier: BSD-3-Clause */
/* CPU sets: parsing, formatting, set operations. */
#include "helpers.h"

static struct reactor_cpuset *set_of(const uint32_t *cpus, size_t n)
{
	struct reactor_cpuset *s = reactor_cpuset_create();

	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(reactor_cpuset_set(s, cpus[i]), 0);
	return s;
}

/* Assert @p s holds exactly @p cpus (sorted ascending). */
static void assert_set_is(const struct reactor_cpuset *s, const uint32_t *cpus, size_t n, const char *what)
{
	uint32_t c;
	size_t i = 0;

	if (reactor_cpuset_count(s) != n)
		fail_msg("%s: count %u, want %zu", what, reactor_cpuset_count(s), n);
	for (c = reactor_cpuset_next(s, UINT32_MAX); c != UINT32_MAX; c = reactor_cpuset_next(s, c), i++) {
		if (i >= n || c != cpus[i])
			fail_msg("%s: element %zu is %u, want %u", what, i, c, i < n ? cpus[i] : UINT32_MAX);
	}
	assert_int_equal(i, n);
}

static void test_create_basic(void **state)
{
	struct reactor_cpuset *s = reactor_cpuset_create();

	(void)state;
	H_BEGIN();
	assert_non_null(s);
	assert_int_equal(reactor_cpuset_count(s), 0);
	assert_int_equal(reactor_cpuset_next(s, UINT32_MAX), UINT32_MAX);
	assert_false(reactor_cpuset_isset(s, 0));

	assert_int_equal(reactor_cpuset_set(s, 0), 0);
	assert_int_equal(reactor_cpuset_set(s, 5), 0);
	assert_int_equal(reactor_cpuset_set(s, 1023), 0);
	assert_int_equal(reactor_cpuset_set(s, 5), 0); /* idempotent */
	assert_int_equal(reactor_cpuset_set(s, 1024), -EINVAL);
	assert_int_equal(reactor_cpuset_set(s, UINT32_MAX), -EINVAL);
	assert_int_equal(reactor_cpuset_count(s), 3);
	assert_true(reactor_cpuset_isset(s, 0));
	assert_true(reactor_cpuset_isset(s, 5));
	assert_true(reactor_cpuset_isset(s, 1023));
	assert_false(reactor_cpuset_isset(s, 1));
	assert_false(reactor_cpuset_isset(s, 1024));
	assert_false(reactor_cpuset_isset(s, 5000));
	assert_false(reactor_cpuset_isset(s, UINT32_MAX));

	assert_int_equal(reactor_cpuset_next(s, UINT32_MAX), 0);
	assert_int_equal(reactor_cpuset_next(s, 0), 5);
	assert_int_equal(reactor_cpuset_next(s, 4), 5);
	assert_int_equal(reactor_cpuset_next(s, 5), 1023);
	assert_int_equal(reactor_cpuset_next(s, 1023), UINT32_MAX);
	assert_int_equal(reactor_cpuset_next(s, 5000), UINT32_MAX);

	reactor_cpuset_clear(s, 5);
	reactor_cpuset_clear(s, 5);    /* absent: no-op */
	reactor_cpuset_clear(s, 4096); /* out of range: no-op */
	reactor_cpuset_clear(s, UINT32_MAX);
	assert_false(reactor_cpuset_isset(s, 5));
	assert_int_equal(reactor_cpuset_count(s), 2);

	reactor_cpuset_zero(s);
	assert_int_equal(reactor_cpuset_count(s), 0);
	assert_false(reactor_cpuset_isset(s, 0));
	assert_false(reactor_cpuset_isset(s, 1023));
	reactor_cpuset_destroy(s);
	reactor_cpuset_destroy(NULL);
}

static void test_all_cpus(void **state)
{
	struct reactor_cpuset *s = reactor_cpuset_create();
	uint32_t c, expect = 0;

	(void)state;
	H_BEGIN();
	assert_non_null(s);
	for (c = 0; c < REACTOR_CPUSET_MAX_CPUS; c++)
		assert_int_equal(reactor_cpuset_set(s, c), 0);
	assert_int_equal(reactor_cpuset_count(s), REACTOR_CPUSET_MAX_CPUS);
	for (c = reactor_cpuset_next(s, UINT32_MAX); c != UINT32_MAX; c = reactor_cpuset_next(s, c))
		assert_int_equal(c, expect++);
	assert_int_equal(expect, REACTOR_CPUSET_MAX_CPUS);
	reactor_cpuset_destroy(s);
}

static void test_set_ops(void **state)
{
	static const uint32_t a_cpus[] = {0, 1, 2, 63, 64, 700};
	static const uint32_t b_cpus[] = {1, 2, 3, 64, 1023};
	static const uint32_t and_cpus[] = {1, 2, 64};
	static const uint32_t or_cpus[] = {0, 1, 2, 3, 63, 64, 700, 1023};
	struct reactor_cpuset *a = set_of(a_cpus, 6), *b = set_of(b_cpus, 5);
	struct reactor_cpuset *t = reactor_cpuset_create();

	(void)state;
	H_BEGIN();
	assert_non_null(t);
	assert_false(reactor_cpuset_equal(a, b));
	assert_true(reactor_cpuset_equal(a, a));

	reactor_cpuset_copy(t, a);
	assert_true(reactor_cpuset_equal(t, a));
	assert_set_is(t, a_cpus, 6, "copy");
	reactor_cpuset_set(t, 9);
	assert_false(reactor_cpuset_equal(t, a));
	assert_false(reactor_cpuset_isset(a, 9)); /* a real copy, not shared storage */

	reactor_cpuset_copy(t, a);
	reactor_cpuset_and(t, b);
	assert_set_is(t, and_cpus, 3, "and");
	assert_set_is(b, b_cpus, 5, "and source unchanged");

	reactor_cpuset_copy(t, a);
	reactor_cpuset_or(t, b);
	assert_set_is(t, or_cpus, 8, "or");

	/* copy replaces: bits only in dst vanish */
	reactor_cpuset_copy(t, b);
	assert_set_is(t, b_cpus, 5, "copy replaces");

	/* equal on two empty sets; and with empty gives empty */
	reactor_cpuset_zero(t);
	{
		struct reactor_cpuset *e = reactor_cpuset_create();

		assert_non_null(e);
		assert_true(reactor_cpuset_equal(t, e));
		reactor_cpuset_copy(t, a);
		reactor_cpuset_and(t, e);
		assert_int_equal(reactor_cpuset_count(t), 0);
		reactor_cpuset_destroy(e);
	}
	/* sets differing only in the highest CPU are not equal */
	reactor_cpuset_copy(t, a);
	reactor_cpuset_set(t, 1023);
	assert_false(reactor_cpuset_equal(t, a));

	reactor_cpuset_destroy(a);
	reactor_cpuset_destroy(b);
	reactor_cpuset_destroy(t);
}

struct good_case {
	const char *text;
	uint32_t cpus[8];
	size_t n;
};

static void test_parse_good(void **state)
{
	static const struct good_case cases[] = {
		{"0x3", {0, 1}, 2},
		{"0X3", {0, 1}, 2},
		{"3", {0, 1}, 2}, /* all hex digits, not a list: a hex mask */
		{"0x1", {0}, 1},
		{"f0", {4, 5, 6, 7}, 4},
		{"0xA", {1, 3}, 2},
		{"0xa", {1, 3}, 2},
		{"1023", {0, 1, 5, 12}, 4}, /* hex 0x1023 */
		{"[0-3,8]", {0, 1, 2, 3, 8}, 5},
		{"0-3,8", {0, 1, 2, 3, 8}, 5},
		{"[0-3, 8]", {0, 1, 2, 3, 8}, 5},
		{" 1 , 2 ", {1, 2}, 2},
		{"[ 1 , 2 ]", {1, 2}, 2},
		{"[5]", {5}, 1},
		{"[1023]", {1023}, 1},
		{"1022-1023", {1022, 1023}, 2},
		{"2-2", {2}, 1},
		{"8,0-1", {0, 1, 8}, 3},
		{"1,1,1", {1}, 1},
		{"0x0000000000000000000000000000000000000000000000000000000000000003", {0, 1}, 2},
	};
	struct reactor_cpuset *s = reactor_cpuset_create();
	char err[256];

	(void)state;
	H_BEGIN();
	assert_non_null(s);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		reactor_cpuset_zero(s);
		reactor_cpuset_set(s, 77); /* parse replaces the content */
		err[0] = '\0';
		rc = reactor_cpuset_parse(s, cases[i].text, err, sizeof(err));
		if (rc != 0)
			fail_msg("parse(\"%s\") = %d (%s), want 0", cases[i].text, rc, err);
		assert_set_is(s, cases[i].cpus, cases[i].n, cases[i].text);
	}
	/* err may be NULL */
	assert_int_equal(reactor_cpuset_parse(s, "[0-1023]", NULL, 0), 0);
	assert_int_equal(reactor_cpuset_count(s), 1024);
	reactor_cpuset_destroy(s);
}

/* The highest CPU as a 256-digit hex mask works; one bit more does not. */
static void test_parse_wide_mask(void **state)
{
	struct reactor_cpuset *s = reactor_cpuset_create();
	char text[300], err[256];
	int rc;

	(void)state;
	H_BEGIN();
	assert_non_null(s);
	strcpy(text, "0x8");
	for (int i = 0; i < 255; i++)
		strcat(text, "0");
	assert_int_equal(reactor_cpuset_parse(s, text, err, sizeof(err)), 0);
	assert_int_equal(reactor_cpuset_count(s), 1);
	assert_true(reactor_cpuset_isset(s, 1023));

	/* bit 1024 */
	strcpy(text, "0x1");
	for (int i = 0; i < 256; i++)
		strcat(text, "0");
	reactor_cpuset_zero(s);
	reactor_cpuset_set(s, 3);
	err[0] = '\0';
	rc = reactor_cpuset_parse(s, text, err, sizeof(err));
	assert_int_equal(rc, -EINVAL);
	assert_int_equal(reactor_cpuset_count(s), 1);
	assert_true(reactor_cpuset_isset(s, 3));
	assert_true(strlen(err) > 0);
	reactor_cpuset_destroy(s);
}

struct bad_case {
	const char *text;
	/* the error message must contain the whole text or one of these */
	const char *tokens[3];
};

static void test_parse_bad(void **state)
{
	static const struct bad_case cases[] = {
		{"", {NULL}},
		{"   ", {NULL}},
		{"0x", {"0x"}},
		{"0xZ", {"Z"}},
		{"0x3g", {"g", "3g"}},
		{"[0-3", {"[0-3", "0-3"}},
		{"0-3]", {"]"}},
		{"3-1", {"3-1"}},
		{"1,,2", {",,", ",2", "1,,2"}},
		{"-1", {"-1"}},
		{"abc-", {"abc", "abc-"}},
		{"1-", {"1-"}},
		{"[1024]", {"1024"}},
		{"0-1024", {"1024", "0-1024"}},
		{"[4294967296]", {"4294967296"}},
		{"[99999999999999999999]", {"99999999999999999999"}},
		{"[1 2]", {"1 2"}},
		{"[a]", {"a"}},
		{"0x3,1", {"0x3"}},
		{",", {","}},
	};
	struct reactor_cpuset *s = reactor_cpuset_create();
	char err[256];

	(void)state;
	H_BEGIN();
	assert_non_null(s);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *c = &cases[i];
		int rc;
		bool named;

		reactor_cpuset_zero(s);
		reactor_cpuset_set(s, 5);
		reactor_cpuset_set(s, 900);
		memset(err, 0, sizeof(err));
		rc = reactor_cpuset_parse(s, c->text, err, sizeof(err));
		if (rc != -EINVAL)
			fail_msg("parse(\"%s\") = %d, want -EINVAL", c->text, rc);
		if (reactor_cpuset_count(s) != 2 || !reactor_cpuset_isset(s, 5) || !reactor_cpuset_isset(s, 900))
			fail_msg("parse(\"%s\") failed but changed the set (count %u)", c->text,
				 reactor_cpuset_count(s));
		if (err[0] == '\0')
			fail_msg("parse(\"%s\"): empty error message", c->text);
		named = c->text[0] != '\0' && strspn(c->text, " ") != strlen(c->text) && strstr(err, c->text) != NULL;
		for (int k = 0; k < 3 && c->tokens[k] != NULL; k++)
			if (strstr(err, c->tokens[k]) != NULL)
				named = true;
		if (c->tokens[0] == NULL && c->text[strspn(c->text, " ")] == '\0')
			named = true; /* empty input: nothing to name */
		if (!named)
			fail_msg("parse(\"%s\"): error message \"%s\" does not name the offending text", c->text, err);
		print_message("# parse(\"%s\") -> %s\n", c->text, err);
	}
	reactor_cpuset_destroy(s);
}

static void test_parse_err_truncation(void **state)
{
	struct reactor_cpuset *s = reactor_cpuset_create();
	char err[16];

	(void)state;
	H_BEGIN();
	assert_non_null(s);
	memset(err, 'X', sizeof(err));
	assert_int_equal(reactor_cpuset_parse(s, "[0-3,this-is-a-long-bad-item]", err, 8), -EINVAL);
	/* at most 8 bytes written, NUL-terminated */
	assert_true(memchr(err, '\0', 8) != NULL);
	for (size_t i = 8; i < sizeof(err); i++)
		assert_int_equal(err[i], 'X');
	/* err_len 0: nothing written */
	memset(err, 'X', sizeof(err));
	assert_int_equal(reactor_cpuset_parse(s, "0xZ", err, 0), -EINVAL);
	for (size_t i = 0; i < sizeof(err); i++)
		assert_int_equal(err[i], 'X');
	assert_int_equal(reactor_cpuset_parse(s, "0xZ", NULL, 0), -EINVAL);
	reactor_cpuset_destroy(s);
}

static void test_format(void **state)
{
	static const uint32_t c1[] = {0, 1, 2, 3, 8};
	static const uint32_t c2[] = {1, 3, 5};
	static const uint32_t c3[] = {4, 5, 6, 7, 10, 11, 12, 100};
	struct reactor_cpuset *s;
	char buf[400];

	(void)state;
	H_BEGIN();
	s = set_of(c1, 5);
	assert_int_equal(reactor_cpuset_format_mask(s, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "0x10f");
	assert_int_equal(reactor_cpuset_format_list(s, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "0-3,8");
	reactor_cpuset_destroy(s);

	s = set_of(c2, 3);
	assert_int_equal(reactor_cpuset_format_list(s, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "1,3,5");
	assert_int_equal(reactor_cpuset_format_mask(s, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "0x2a");
	reactor_cpuset_destroy(s);

	s = set_of(c3, 8);
	reactor_cpuset_format_list(s, buf, sizeof(buf));
	assert_string_equal(buf, "4-7,10-12,100");
	reactor_cpuset_destroy(s);

	/* empty */
	s = reactor_cpuset_create();
	assert_non_null(s);
	assert_int_equal(reactor_cpuset_format_mask(s, buf, sizeof(buf)), 3);
	assert_string_equal(buf, "0x0");
	memset(buf, 'X', 4);
	assert_int_equal(reactor_cpuset_format_list(s, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");

	/* only the highest CPU: 256 hex digits */
	reactor_cpuset_set(s, 1023);
	assert_int_equal(reactor_cpuset_format_mask(s, buf, sizeof(buf)), 258);
	assert_int_equal(strlen(buf), 258);
	assert_memory_equal(buf, "0x8000", 6);
	assert_int_equal(strspn(buf + 3, "0"), 255);
	assert_int_equal(reactor_cpuset_format_list(s, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "1023");

	/* everything */
	for (uint32_t c = 0; c < REACTOR_CPUSET_MAX_CPUS; c++)
		reactor_cpuset_set(s, c);
	assert_int_equal(reactor_cpuset_format_list(s, buf, sizeof(buf)), 6);
	assert_string_equal(buf, "0-1023");
	assert_int_equal(reactor_cpuset_format_mask(s, buf, sizeof(buf)), 258);
	assert_int_equal(strspn(buf + 2, "f"), 256);
	reactor_cpuset_destroy(s);
}

static void test_format_truncation(void **state)
{
	static const uint32_t c1[] = {0, 1, 2, 3, 8};
	struct reactor_cpuset *s = set_of(c1, 5);
	char buf[16];

	(void)state;
	H_BEGIN();
	/* "0x10f" needs 6 bytes: with 4 the return value still says 5 */
	memset(buf, 'X', sizeof(buf));
	assert_int_equal(reactor_cpuset_format_mask(s, buf, 4), 5);
	assert_string_equal(buf, "0x1");
	assert_int_equal(buf[4], 'X');
	memset(buf, 'X', sizeof(buf));
	assert_int_equal(reactor_cpuset_format_mask(s, buf, 6), 5); /* exactly fits */
	assert_string_equal(buf, "0x10f");
	memset(buf, 'X', sizeof(buf));
	assert_int_equal(reactor_cpuset_format_mask(s, buf, 5), 5); /* one short */
	assert_string_equal(buf, "0x10");

	memset(buf, 'X', sizeof(buf));
	assert_int_equal(reactor_cpuset_format_list(s, buf, 3), 5);
	assert_string_equal(buf, "0-");
	assert_int_equal(buf[3], 'X');
	memset(buf, 'X', sizeof(buf));
	assert_int_equal(reactor_cpuset_format_list(s, buf, 1), 5);
	assert_string_equal(buf, "");
	/* len 0: nothing written, length still reported */
	memset(buf, 'X', sizeof(buf));
	assert_int_equal(reactor_cpuset_format_list(s, buf, 0), 5);
	assert_int_equal(reactor_cpuset_format_mask(s, buf, 0), 5);
	assert_int_equal(buf[0], 'X');
	assert_int_equal(reactor_cpuset_format_list(s, NULL, 0), 5);
	assert_int_equal(reactor_cpuset_format_mask(s, NULL, 0), 5);
	reactor_cpuset_destroy(s);
}

/* format -> parse gives the same set, for many pseudo-random sets. */
static void test_round_trip(void **state)
{
	struct reactor_cpuset *s = reactor_cpuset_create(), *t = reactor_cpuset_create();
	static char buf[4096], text[4200], err[256];
	unsigned int rnd = 12345;

	(void)state;
	H_BEGIN();
	assert_non_null(s);
	assert_non_null(t);
	for (int iter = 0; iter < 500; iter++) {
		int n, density;

		reactor_cpuset_zero(s);
		rnd = rnd * 1103515245u + 12345u;
		density = 1 + (int)((rnd >> 16) % 64);
		for (uint32_t c = 0; c < REACTOR_CPUSET_MAX_CPUS; c++) {
			rnd = rnd * 1103515245u + 12345u;
			if ((int)((rnd >> 16) % 64) < density)
				reactor_cpuset_set(s, c);
		}
		if (reactor_cpuset_count(s) == 0)
			reactor_cpuset_set(s, (uint32_t)iter);

		n = reactor_cpuset_format_mask(s, buf, sizeof(buf));
		assert_true(n > 0 && (size_t)n < sizeof(buf));
		assert_int_equal((size_t)n, strlen(buf));
		reactor_cpuset_zero(t);
		if (reactor_cpuset_parse(t, buf, err, sizeof(err)) != 0)
			fail_msg("parse of formatted mask \"%s\" failed: %s", buf, err);
		if (!reactor_cpuset_equal(s, t))
			fail_msg("mask round trip differs for \"%s\"", buf);

		n = reactor_cpuset_format_list(s, buf, sizeof(buf));
		assert_true(n > 0 && (size_t)n < sizeof(buf));
		assert_int_equal((size_t)n, strlen(buf));
		/* bracketed, because a bare "12" would be read as a hex mask */
		snprintf(text, sizeof(text), "[%s]", buf);
		reactor_cpuset_zero(t);
		if (reactor_cpuset_parse(t, text, err, sizeof(err)) != 0)
			fail_msg("parse of formatted list \"%s\" failed: %s", text, err);
		if (!reactor_cpuset_equal(s, t))
			fail_msg("list round trip differs for \"%s\"", text);
		/* a list with a comma or dash also parses bare */
		if (strpbrk(buf, ",-") != NULL) {
			reactor_cpuset_zero(t);
			assert_int_equal(reactor_cpuset_parse(t, buf, err, sizeof(err)), 0);
			assert_true(reactor_cpuset_equal(s, t));
		}
	}
	reactor_cpuset_destroy(s);
	reactor_cpuset_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_create_basic),   H_TEST(test_all_cpus),
		H_TEST(test_set_ops),        H_TEST(test_parse_good),
		H_TEST(test_parse_wide_mask), H_TEST(test_parse_bad),
		H_TEST(test_parse_err_truncation), H_TEST(test_format),
		H_TEST(test_format_truncation), H_TEST(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
