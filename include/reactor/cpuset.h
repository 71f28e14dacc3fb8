/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file reactor/cpuset.h
 * Sets of CPU numbers, parsed from and formatted to the usual text forms.
 *
 * A set is an opaque object so that its capacity can grow without an ABI
 * change; today it holds CPUs 0 .. REACTOR_CPUSET_MAX_CPUS - 1.
 * A set is not thread-safe: one thread uses it at a time.
 */
#ifndef REACTOR_CPUSET_H
#define REACTOR_CPUSET_H

#include <reactor/export.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

REACTOR_BEGIN_DECLS

/** Capacity of a set in this release (CPUs 0 .. 1023). */
#define REACTOR_CPUSET_MAX_CPUS 1024u

struct reactor_cpuset;

/** Allocate an empty set. NULL with errno ENOMEM. Any thread. */
REACTOR_EXPORT struct reactor_cpuset *reactor_cpuset_create(void);
/** Free a set. NULL is ignored. */
REACTOR_EXPORT void reactor_cpuset_destroy(struct reactor_cpuset *set);

/** Empty the set. */
REACTOR_EXPORT void reactor_cpuset_zero(struct reactor_cpuset *set);
/** Add @p cpu. Returns 0, or -EINVAL when cpu >= REACTOR_CPUSET_MAX_CPUS. */
REACTOR_EXPORT int reactor_cpuset_set(struct reactor_cpuset *set, uint32_t cpu);
/** Remove @p cpu (no-op when absent or out of range). */
REACTOR_EXPORT void reactor_cpuset_clear(struct reactor_cpuset *set, uint32_t cpu);
/** Whether @p cpu is in the set. */
REACTOR_EXPORT bool reactor_cpuset_isset(const struct reactor_cpuset *set, uint32_t cpu);
/** Number of CPUs in the set. */
REACTOR_EXPORT uint32_t reactor_cpuset_count(const struct reactor_cpuset *set);
/**
 * Lowest CPU greater than @p prev, or UINT32_MAX when none. Pass UINT32_MAX
 * as @p prev to get the first CPU:
 * `for (c = reactor_cpuset_next(s, UINT32_MAX); c != UINT32_MAX; c = reactor_cpuset_next(s, c))`
 */
REACTOR_EXPORT uint32_t reactor_cpuset_next(const struct reactor_cpuset *set, uint32_t prev);
/** Copy @p src into @p dst. */
REACTOR_EXPORT void reactor_cpuset_copy(struct reactor_cpuset *dst, const struct reactor_cpuset *src);
/** Whether both sets hold the same CPUs. */
REACTOR_EXPORT bool reactor_cpuset_equal(const struct reactor_cpuset *a, const struct reactor_cpuset *b);
/** dst = dst AND src. */
REACTOR_EXPORT void reactor_cpuset_and(struct reactor_cpuset *dst, const struct reactor_cpuset *src);
/** dst = dst OR src. */
REACTOR_EXPORT void reactor_cpuset_or(struct reactor_cpuset *dst, const struct reactor_cpuset *src);

/**
 * Parse @p text into @p set (replacing its content). Accepted forms:
 * a hex mask "0x3" (also without "0x" when it is all hex digits and not a
 * list), a bracketed list "[0-3,8]" or a bare list "0-3,8". Whitespace
 * around items is ignored.
 *
 * On error returns -EINVAL, leaves @p set unchanged, and when @p err is not
 * NULL writes a message naming the offending text (at most @p err_len bytes,
 * NUL-terminated).
 */
REACTOR_EXPORT int reactor_cpuset_parse(struct reactor_cpuset *set, const char *text, char *err,
					size_t err_len);

/**
 * Format as a hex mask ("0x3"; "0x0" when empty). Returns the length of the
 * full text (excluding NUL) like snprintf: if >= @p len the output was cut.
 */
REACTOR_EXPORT int reactor_cpuset_format_mask(const struct reactor_cpuset *set, char *buf, size_t len);
/** Format as a list of ranges ("0-3,8"; "" when empty). snprintf return convention. */
REACTOR_EXPORT int reactor_cpuset_format_list(const struct reactor_cpuset *set, char *buf, size_t len);

REACTOR_END_DECLS

#endif
