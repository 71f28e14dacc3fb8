/* SPDX-License-Identifier: BSD-3-Clause */
/* The results table, in spdk_nvme_perf's layout plus percentile columns. */
#include "perf.h"

#include <stdio.h>

static double us(uint64_t ticks)
{
	return (double)ticks * 1e6 / (double)reactor_get_ticks_hz();
}

static void row(const char *label, double iops, double mibs, const struct hist *h)
{
	printf("%-56s: %10.2f %10.2f %10.2f %10.2f %10.2f %10.2f %10.2f %10.2f\n", label, iops, mibs,
	       h->count ? us(h->sum) / (double)h->count : 0.0, h->count ? us(h->min) : 0.0,
	       us(h->max), us(hist_percentile(h, 0.50)), us(hist_percentile(h, 0.99)),
	       us(hist_percentile(h, 0.999)));
}

void perf_report(const struct perf_conn *conns, uint32_t nconns)
{
	static struct hist total;	/* 58 KiB: not on the stack */
	double sum_iops = 0, sum_mibs = 0;
	char label[400];

	hist_init(&total);
	printf("========================================================\n");
	printf("%-56s  %54s\n", "", "Latency(us)");
	printf("%-56s: %10s %10s %10s %10s %10s %10s %10s %10s\n", "Device Information", "IOPS",
	       "MiB/s", "Average", "min", "max", "p50", "p99", "p99.9");
	for (uint32_t i = 0; i < nconns; i++) {
		const struct perf_conn *c = &conns[i];
		double secs = us(c->end_ticks - c->start_ticks) / 1e6;
		double iops = secs > 0 ? (double)c->ios / secs : 0;
		double mibs = secs > 0 ? (double)c->bytes / secs / (1024.0 * 1024.0) : 0;

		snprintf(label, sizeof(label), "TCP (addr:%s subnqn:%s) NSID %u qpair %u from core %2u",
			 g_cfg.trid.traddr, g_cfg.trid.subnqn, g_cfg.nsid, c->qid, c->core);
		row(label, iops, mibs, &c->hist);
		sum_iops += iops;
		sum_mibs += mibs;
		hist_merge(&total, &c->hist);
	}
	printf("========================================================\n");
	row("Total", sum_iops, sum_mibs, &total);
	fflush(stdout);
}
