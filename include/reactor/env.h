/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file reactor/env.h
 * The environment: CPU discovery, time in ticks, and memory for I/O.
 *
 * The default environment is plain POSIX: ordinary memory, the process's
 * allowed CPU set, and the CPU's time-stamp counter where it is invariant
 * (CLOCK_MONOTONIC otherwise). Hugepage memory is an option
 * (REACTOR_ENV_MEM_HUGEPAGE), never a requirement. Other environments (DPDK)
 * can be added behind the same calls.
 */
#ifndef REACTOR_ENV_H
#define REACTOR_ENV_H

#include <reactor/export.h>
#include <stddef.h>
#include <stdint.h>

REACTOR_BEGIN_DECLS

struct reactor_cpuset;

/** Current time in ticks; monotonic, cheap. Any thread. */
REACTOR_EXPORT uint64_t reactor_get_ticks(void);
/** Ticks per second. Constant for the life of the process. Any thread. */
REACTOR_EXPORT uint64_t reactor_get_ticks_hz(void);

/**
 * The CPUs this process may run on (sched_getaffinity), so cgroup cpusets
 * and taskset are honoured. Fills @p set; returns 0 or a negative errno.
 */
REACTOR_EXPORT int reactor_env_get_allowed_cpus(struct reactor_cpuset *set);

/** Flags for reactor_env_malloc(). */
#define REACTOR_ENV_MEM_ZERO 0x1u     /**< zero the memory */
#define REACTOR_ENV_MEM_HUGEPAGE 0x2u /**< back it with hugepages; fail (ENOMEM) if none are free */

/**
 * Allocate @p size bytes aligned to @p align (a power of two; 0 means 64)
 * for I/O buffers. NULL with errno EINVAL or ENOMEM. Any thread; free with
 * reactor_env_free() on any thread.
 */
REACTOR_EXPORT void *reactor_env_malloc(size_t size, size_t align, unsigned int flags);
/** Free memory from reactor_env_malloc(). NULL is ignored. */
REACTOR_EXPORT void reactor_env_free(void *buf);

REACTOR_END_DECLS

#endif
