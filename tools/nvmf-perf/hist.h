/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Latency histogram in ticks, log-linear: each power-of-two range is cut
 * into 2^HIST_SUB_BITS equal buckets, so the error of a percentile is
 * under 1/128 of the value, with a fixed array and no allocation per I/O.
 */
#ifndef NVMF_PERF_HIST_H
#define NVMF_PERF_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t sum;
	uint64_t min, max;
	uint64_t bucket[HIST_BUCKETS];
};

void hist_init(struct hist *h);
void hist_add(struct hist *h, uint64_t ticks);
void hist_merge(struct hist *dst, const struct hist *src);
/* The value (ticks) below which a fraction q (0..1) of samples fall: the
 * upper bound of the bucket holding that rank. 0 when empty. */
uint64_t hist_percentile(const struct hist *h, double q);

#endif
