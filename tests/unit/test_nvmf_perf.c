/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tools/nvmf-perf's pure parts: the latency histogram (percentiles within
 * the bucket width, merge, min/max/mean) and the transport ID parser
 * (SPDK's syntax, defaults, every refusal named).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"
#include "trid.h"

static struct hist g_h, g_h2;

/* The percentile may be above the true value by at most one bucket (1/128). */
static void assert_near(uint64_t got, uint64_t want)
{
	if (got < want || got > want + want / 128 + 1) {
		fprintf(stderr, "percentile %llu, want %llu (+1/128)\n", (unsigned long long)got,
			(unsigned long long)want);
		fail();
	}
}

static void test_hist_uniform(void **state)
{
	(void)state;
	hist_init(&g_h);
	assert_int_equal(hist_percentile(&g_h, 0.5), 0);
	for (uint64_t v = 1; v <= 100000; v++)
		hist_add(&g_h, v);
	assert_int_equal(g_h.count, 100000);
	assert_int_equal(g_h.min, 1);
	assert_int_equal(g_h.max, 100000);
	assert_int_equal(g_h.sum, 100000ull * 100001 / 2);
	assert_near(hist_percentile(&g_h, 0.50), 50001);
	assert_near(hist_percentile(&g_h, 0.99), 99001);
	assert_near(hist_percentile(&g_h, 0.999), 99901);
	assert_int_equal(hist_percentile(&g_h, 1.0), 100000);	/* never above max */
}

static void test_hist_small_values_exact(void **state)
{
	(void)state;
	hist_init(&g_h);
	for (int i = 0; i < 90; i++)
		hist_add(&g_h, 10);
	for (int i = 0; i < 10; i++)
		hist_add(&g_h, 100);
	assert_int_equal(hist_percentile(&g_h, 0.5), 10);
	assert_int_equal(hist_percentile(&g_h, 0.89), 10);
	assert_int_equal(hist_percentile(&g_h, 0.9), 100);
	assert_int_equal(hist_percentile(&g_h, 0.99), 100);
}

static void test_hist_extremes_and_merge(void **state)
{
	(void)state;
	hist_init(&g_h);
	hist_init(&g_h2);
	hist_add(&g_h, 0);
	hist_add(&g_h, UINT64_MAX / 2);
	hist_add(&g_h2, UINT64_MAX);
	hist_add(&g_h2, 5);
	hist_merge(&g_h, &g_h2);
	assert_int_equal(g_h.count, 4);
	assert_int_equal(g_h.min, 0);
	assert_true(g_h.max == UINT64_MAX);
	assert_int_equal(hist_percentile(&g_h, 0.0), 0);
	assert_int_equal(hist_percentile(&g_h, 0.3), 5);
	assert_true(hist_percentile(&g_h, 0.999) == UINT64_MAX);
}

static void test_trid_full(void **state)
{
	struct perf_trid t;
	char err[128];

	(void)state;
	assert_int_equal(perf_trid_parse("trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:4420 "
					 "subnqn:nqn.2016-06.io.spdk:cnode1", &t, err, sizeof(err)), 0);
	assert_string_equal(t.trtype, "TCP");
	assert_string_equal(t.adrfam, "IPv4");
	assert_string_equal(t.traddr, "127.0.0.1");
	assert_int_equal(t.port, 4420);
	assert_string_equal(t.subnqn, "nqn.2016-06.io.spdk:cnode1");	/* ':' inside the value */
}

static void test_trid_defaults_and_case(void **state)
{
	struct perf_trid t;
	char err[128];

	(void)state;
	assert_int_equal(perf_trid_parse("  TrAddr=::1\tSUBNQN=nqn.2014-08.org.nvmexpress.discovery ADRFAM:IPv6 ",
					 &t, err, sizeof(err)), 0);
	assert_string_equal(t.traddr, "::1");
	assert_string_equal(t.adrfam, "IPv6");
	assert_int_equal(t.port, 4420);
	assert_string_equal(t.trtype, "TCP");
}

static void refused(const char *text, const char *why)
{
	struct perf_trid t;
	char err[128] = "";

	if (perf_trid_parse(text, &t, err, sizeof(err)) != -1 || !strstr(err, why)) {
		fprintf(stderr, "'%s': got '%s', want '%s'\n", text, err, why);
		fail();
	}
}

static void test_trid_refusals(void **state)
{
	(void)state;
	refused("traddr:1.2.3.4", "required");
	refused("subnqn:nqn.x", "required");
	refused("trtype:RDMA traddr:1.2.3.4 subnqn:nqn.x", "RDMA not supported");
	refused("adrfam:IB traddr:1.2.3.4 subnqn:nqn.x", "IPv4 or IPv6");
	refused("traddr:1.2.3.4 subnqn:nqn.x trsvcid:0", "not a port");
	refused("traddr:1.2.3.4 subnqn:nqn.x trsvcid:65536", "not a port");
	refused("traddr:1.2.3.4 subnqn:nqn.x trsvcid:44x", "not a port");
	refused("traddr:1.2.3.4 subnqn:nqn.x color:blue", "unknown key 'color'");
	refused("traddr:1.2.3.4 subnqn:nqn.x lonely", "not key:value");
	refused("traddr: subnqn:nqn.x", "traddr: value missing");
	char longaddr[200];
	snprintf(longaddr, sizeof(longaddr), "subnqn:nqn.x traddr:%0100d", 1);
	refused(longaddr, "traddr: value too long");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hist_uniform),
		cmocka_unit_test(test_hist_small_values_exact),
		cmocka_unit_test(test_hist_extremes_and_merge),
		cmocka_unit_test(test_trid_full),
		cmocka_unit_test(test_trid_defaults_and_case),
		cmocka_unit_test(test_trid_refusals),
	};
	return cmocka_run_group_tests_name("nvmf_perf", tests, NULL, NULL);
}
