/* SPDX-License-Identifier: BSD-3-Clause */
/* CPU sets: a fixed bitmap behind an opaque type, parsed from and formatted
 * to the text forms users type ("0x3", "[0-3,8]", "0-3,8"). */
#include "config.h"
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORD_BITS 64u
#define NWORDS (REACTOR_CPUSET_MAX_CPUS / WORD_BITS)

struct reactor_cpuset {
	uint64_t bits[NWORDS];
};

struct reactor_cpuset *reactor_cpuset_create(void)
{
	return calloc(1, sizeof(struct reactor_cpuset));
}

void reactor_cpuset_destroy(struct reactor_cpuset *set)
{
	free(set);
}

void reactor_cpuset_zero(struct reactor_cpuset *set)
{
	memset(set->bits, 0, sizeof(set->bits));
}

int reactor_cpuset_set(struct reactor_cpuset *set, uint32_t cpu)
{
	if (cpu >= REACTOR_CPUSET_MAX_CPUS)
		return -EINVAL;
	set->bits[cpu / WORD_BITS] |= 1ull << (cpu % WORD_BITS);
	return 0;
}

void reactor_cpuset_clear(struct reactor_cpuset *set, uint32_t cpu)
{
	if (cpu < REACTOR_CPUSET_MAX_CPUS)
		set->bits[cpu / WORD_BITS] &= ~(1ull << (cpu % WORD_BITS));
}

bool reactor_cpuset_isset(const struct reactor_cpuset *set, uint32_t cpu)
{
	return cpu < REACTOR_CPUSET_MAX_CPUS && (set->bits[cpu / WORD_BITS] >> (cpu % WORD_BITS)) & 1u;
}

uint32_t reactor_cpuset_count(const struct reactor_cpuset *set)
{
	uint32_t n = 0;

	for (unsigned i = 0; i < NWORDS; i++)
		n += (uint32_t)__builtin_popcountll(set->bits[i]);
	return n;
}

uint32_t reactor_cpuset_next(const struct reactor_cpuset *set, uint32_t prev)
{
	uint32_t cpu = prev == UINT32_MAX ? 0 : prev + 1;

	while (cpu < REACTOR_CPUSET_MAX_CPUS) {
		uint64_t w = set->bits[cpu / WORD_BITS] >> (cpu % WORD_BITS);

		if (w != 0)
			return cpu + (uint32_t)__builtin_ctzll(w);
		cpu = (cpu / WORD_BITS + 1) * WORD_BITS;
	}
	return UINT32_MAX;
}

void reactor_cpuset_copy(struct reactor_cpuset *dst, const struct reactor_cpuset *src)
{
	memcpy(dst->bits, src->bits, sizeof(dst->bits));
}

bool reactor_cpuset_equal(const struct reactor_cpuset *a, const struct reactor_cpuset *b)
{
	return memcmp(a->bits, b->bits, sizeof(a->bits)) == 0;
}

void reactor_cpuset_and(struct reactor_cpuset *dst, const struct reactor_cpuset *src)
{
	for (unsigned i = 0; i < NWORDS; i++)
		dst->bits[i] &= src->bits[i];
}

void reactor_cpuset_or(struct reactor_cpuset *dst, const struct reactor_cpuset *src)
{
	for (unsigned i = 0; i < NWORDS; i++)
		dst->bits[i] |= src->bits[i];
}

static int parse_error(char *err, size_t err_len, const char *text, const char *why)
{
	if (err != NULL && err_len > 0)
		snprintf(err, err_len, "invalid CPU mask '%s': %s", text, why);
	return -EINVAL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int parse_hex(struct reactor_cpuset *out, const char *text, const char *digits, size_t n,
		     char *err, size_t err_len)
{
	uint32_t bit = 0;

	if (n == 0)
		return parse_error(err, err_len, text, "no hex digits after 0x");
	/* Walk from the least significant digit. */
	for (size_t i = n; i-- > 0; bit += 4) {
		int v = hexval(digits[i]);

		if (v < 0) {
			char why[48];

			snprintf(why, sizeof(why), "'%c' is not a hex digit", digits[i]);
			return parse_error(err, err_len, text, why);
		}
		for (int b = 0; b < 4; b++) {
			if (!(v & (1 << b)))
				continue;
			if (bit + (uint32_t)b >= REACTOR_CPUSET_MAX_CPUS) {
				char why[64];

				snprintf(why, sizeof(why), "CPU %u is beyond the limit of %u",
					 bit + (uint32_t)b, REACTOR_CPUSET_MAX_CPUS - 1);
				return parse_error(err, err_len, text, why);
			}
			reactor_cpuset_set(out, bit + (uint32_t)b);
		}
	}
	return 0;
}

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && isspace((unsigned char)*p))
		p++;
	return p;
}

/* Parse an unsigned CPU number; returns the end or NULL. */
static const char *parse_cpu(const char *p, const char *end, uint32_t *cpu)
{
	uint64_t v = 0;
	const char *start = p;

	while (p < end && isdigit((unsigned char)*p)) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return NULL;
		p++;
	}
	if (p == start)
		return NULL;
	*cpu = (uint32_t)v;
	return p;
}

static int parse_list(struct reactor_cpuset *out, const char *text, const char *p, const char *end,
		      char *err, size_t err_len)
{
	char why[96];

	if (skip_space(p, end) == end)
		return parse_error(err, err_len, text, "empty list");
	while (p < end) {
		uint32_t lo, hi;
		const char *item = skip_space(p, end);

		p = parse_cpu(item, end, &lo);
		if (p == NULL) {
			snprintf(why, sizeof(why), "expected a CPU number at '%.20s'", item);
			return parse_error(err, err_len, text, why);
		}
		hi = lo;
		p = skip_space(p, end);
		if (p < end && *p == '-') {
			const char *second = skip_space(p + 1, end);

			p = parse_cpu(second, end, &hi);
			if (p == NULL) {
				snprintf(why, sizeof(why), "expected a CPU number after '-' at '%.20s'",
					 item);
				return parse_error(err, err_len, text, why);
			}
			p = skip_space(p, end);
		}
		if (hi < lo) {
			snprintf(why, sizeof(why), "range %u-%u goes backwards", lo, hi);
			return parse_error(err, err_len, text, why);
		}
		if (hi >= REACTOR_CPUSET_MAX_CPUS) {
			snprintf(why, sizeof(why), "CPU %u is beyond the limit of %u", hi,
				 REACTOR_CPUSET_MAX_CPUS - 1);
			return parse_error(err, err_len, text, why);
		}
		for (uint32_t c = lo; c <= hi; c++)
			reactor_cpuset_set(out, c);
		if (p == end)
			break;
		if (*p != ',') {
			snprintf(why, sizeof(why), "unexpected '%c'", *p);
			return parse_error(err, err_len, text, why);
		}
		p++;
		if (skip_space(p, end) == end)
			return parse_error(err, err_len, text, "trailing ','");
	}
	return 0;
}

int reactor_cpuset_parse(struct reactor_cpuset *set, const char *text, char *err, size_t err_len)
{
	struct reactor_cpuset tmp;
	const char *p, *end;
	int rc;

	if (set == NULL)
		return -EINVAL;
	if (text == NULL)
		return parse_error(err, err_len, "(null)", "no text");
	memset(&tmp, 0, sizeof(tmp));
	p = skip_space(text, text + strlen(text));
	end = text + strlen(text);
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	if (p == end)
		return parse_error(err, err_len, text, "empty");

	if (*p == '[') {
		if (end[-1] != ']')
			return parse_error(err, err_len, text, "missing closing ']'");
		rc = parse_list(&tmp, text, p + 1, end - 1, err, err_len);
	} else if (end - p >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		rc = parse_hex(&tmp, text, p + 2, (size_t)(end - p - 2), err, err_len);
	} else if (memchr(p, ',', (size_t)(end - p)) || memchr(p, '-', (size_t)(end - p))) {
		rc = parse_list(&tmp, text, p, end, err, err_len);
	} else {
		/* A bare word: a hex mask as SPDK and taskset read it ("3" = CPUs 0,1). */
		rc = parse_hex(&tmp, text, p, (size_t)(end - p), err, err_len);
	}
	if (rc == 0)
		*set = tmp;
	return rc;
}

int reactor_cpuset_format_mask(const struct reactor_cpuset *set, char *buf, size_t len)
{
	char tmp[REACTOR_CPUSET_MAX_CPUS / 4 + 3];
	size_t n = 0;
	int top = -1;

	for (int i = (int)NWORDS - 1; i >= 0; i--) {
		if (set->bits[i] != 0) {
			top = i;
			break;
		}
	}
	n += (size_t)snprintf(tmp, sizeof(tmp), "0x");
	if (top < 0) {
		n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "0");
	} else {
		n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%llx",
				      (unsigned long long)set->bits[top]);
		for (int i = top - 1; i >= 0; i--)
			n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%016llx",
					      (unsigned long long)set->bits[i]);
	}
	if (buf != NULL && len > 0)
		snprintf(buf, len, "%s", tmp);
	return (int)n;
}

int reactor_cpuset_format_list(const struct reactor_cpuset *set, char *buf, size_t len)
{
	size_t n = 0;
	uint32_t c = reactor_cpuset_next(set, UINT32_MAX);
	char item[32];

	if (buf != NULL && len > 0)
		buf[0] = '\0';
	while (c != UINT32_MAX) {
		uint32_t last = c, nx;
		int k;

		while ((nx = reactor_cpuset_next(set, last)) == last + 1)
			last = nx;
		if (last == c)
			k = snprintf(item, sizeof(item), "%s%u", n ? "," : "", c);
		else
			k = snprintf(item, sizeof(item), "%s%u-%u", n ? "," : "", c, last);
		if (buf != NULL && n + (size_t)k < len)
			memcpy(buf + n, item, (size_t)k + 1);
		else if (buf != NULL && len > 0 && n < len) {
			memcpy(buf + n, item, len - n - 1);
			buf[len - 1] = '\0';
		}
		n += (size_t)k;
		c = nx;
	}
	return (int)n;
}
