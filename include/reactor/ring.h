/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file reactor/ring.h
 * Lock-free bounded rings of pointers.
 *
 * Producers never wait for each other and never block: a full ring moves
 * fewer items (possibly none) and says so. Items from one producer arrive in
 * the order that producer enqueued them. The consumer side is single
 * threaded: only one thread at a time may dequeue.
 */
#ifndef REACTOR_RING_H
#define REACTOR_RING_H

#include <reactor/export.h>
#include <stddef.h>

REACTOR_BEGIN_DECLS

/** Who may use each end of the ring. */
enum reactor_ring_type {
	/** Any number of threads enqueue concurrently; one thread dequeues. */
	REACTOR_RING_MP_SC = 0,
	/** One thread enqueues; one thread dequeues. Cheapest. */
	REACTOR_RING_SP_SC = 1,
};

struct reactor_ring;

/**
 * Create a ring that holds at least @p count pointers (rounded up to a
 * power of two; 2 .. 2^31). NULL with errno EINVAL (bad type or count) or
 * ENOMEM. Any thread.
 */
REACTOR_EXPORT struct reactor_ring *reactor_ring_create(enum reactor_ring_type type, size_t count);

/** Free a ring. Items still in it are not freed. NULL is ignored. */
REACTOR_EXPORT void reactor_ring_free(struct reactor_ring *ring);

/**
 * Enqueue up to @p count pointers from @p objs, in order. Returns how many
 * were enqueued: the first N of @p objs (0 when full). Producer side only.
 */
REACTOR_EXPORT size_t reactor_ring_enqueue(struct reactor_ring *ring, void *const *objs, size_t count);

/**
 * Dequeue up to @p count pointers into @p objs, oldest first. Returns how
 * many were dequeued (0 when empty). Consumer thread only.
 */
REACTOR_EXPORT size_t reactor_ring_dequeue(struct reactor_ring *ring, void **objs, size_t count);

/** Approximate number of items in the ring (exact when no one is using it). Any thread. */
REACTOR_EXPORT size_t reactor_ring_count(const struct reactor_ring *ring);

/** Number of items the ring can hold. Any thread. */
REACTOR_EXPORT size_t reactor_ring_capacity(const struct reactor_ring *ring);

REACTOR_END_DECLS

#endif
