/* SPDX-License-Identifier: BSD-3-Clause */
#include "hist.h"

#include <string.h>

/* Values below HIST_SUB map 1:1; above, the top HIST_SUB_BITS + 1 bits
 * select the bucket within the value's power-of-two range. */
static unsigned bucket_of(uint64_t v)
{
	if (v < HIST_SUB)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - HIST_SUB_BITS;
	return (shift + 1) * HIST_SUB + (unsigned)((v >> shift) & (HIST_SUB - 1));
}

static uint64_t bucket_upper(unsigned b)
{
	if (b < HIST_SUB)
		return b;
	unsigned shift = b / HIST_SUB - 1;
	uint64_t base = ((uint64_t)HIST_SUB | (b % HIST_SUB)) << shift;
	return base + ((1ull << shift) - 1);
}

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void hist_add(struct hist *h, uint64_t ticks)
{
	h->count++;
	h->sum += ticks;
	if (ticks < h->min)
		h->min = ticks;
	if (ticks > h->max)
		h->max = ticks;
	h->bucket[bucket_of(ticks)]++;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
}

uint64_t hist_percentile(const struct hist *h, double q)
{
	if (h->count == 0)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)h->count);
	if (rank >= h->count)
		rank = h->count - 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen > rank) {
			uint64_t v = bucket_upper(i);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}
