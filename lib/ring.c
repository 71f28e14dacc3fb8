/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Lock-free bounded rings.
 *
 * Positions are 64-bit counters that never wrap in practice; slot i holds
 * position p when i == p & mask. Each slot carries a sequence number: a
 * producer publishes position p by storing seq = p + 1 (release) after
 * writing the pointer, so the consumer never waits on a shared producer
 * tail and producers never wait for each other (unlike a head/tail ring,
 * where a preempted producer blocks every later one).
 *
 * Producers learn how much room there is from cons_tail, which the single
 * consumer advances (release) after it has read a batch.
 */
#include "config.h"
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

struct ring_slot {
	_Atomic uint64_t seq;
	void *_Atomic obj;
};

struct reactor_ring {
	uint64_t mask;
	uint64_t capacity;
	enum reactor_ring_type type;

	alignas(REACTOR_CACHE_LINE) _Atomic uint64_t prod_head;
	/* Producers' last view of cons_tail. Reading cons_tail itself on every
	 * enqueue would pull the consumer's line across cores for each item;
	 * this copy is refreshed only when the ring looks full. */
	_Atomic uint64_t cons_tail_cache;
	alignas(REACTOR_CACHE_LINE) _Atomic uint64_t cons_tail;
	/* The consumer's private cursor. Atomic only so count() may read it. */
	alignas(REACTOR_CACHE_LINE) _Atomic uint64_t cons_head;

	alignas(REACTOR_CACHE_LINE) struct ring_slot slots[];
};

struct reactor_ring *reactor_ring_create(enum reactor_ring_type type, size_t count)
{
	struct reactor_ring *r;
	uint64_t cap = 2;

	if ((type != REACTOR_RING_MP_SC && type != REACTOR_RING_SP_SC) || count < 2 ||
	    count > (1ull << 31)) {
		errno = EINVAL;
		return NULL;
	}
	while (cap < count)
		cap <<= 1;
	if (posix_memalign((void **)&r, REACTOR_CACHE_LINE,
			   sizeof(*r) + cap * sizeof(struct ring_slot)) != 0) {
		errno = ENOMEM;
		return NULL;
	}
	r->mask = cap - 1;
	r->capacity = cap;
	r->type = type;
	atomic_init(&r->prod_head, 0);
	atomic_init(&r->cons_tail, 0);
	atomic_init(&r->cons_tail_cache, 0);
	atomic_init(&r->cons_head, 0);
	for (uint64_t i = 0; i < cap; i++) {
		/* seq == position - capacity + 1 means "empty for this lap". */
		atomic_init(&r->slots[i].seq, i - cap + 1);
		atomic_init(&r->slots[i].obj, NULL);
	}
	return r;
}

void reactor_ring_free(struct reactor_ring *ring)
{
	free(ring);
}

/* Room for producers at @p head, refreshing the cached consumer position
 * only when the cached one says there is not enough. */
static inline uint64_t ring_room(struct reactor_ring *r, uint64_t head, uint64_t want)
{
	/* Acquire/release on the copy too, so a producer that trusts another
	 * producer's refresh still happens-after the consumer freed the slots. */
	uint64_t tail = atomic_load_explicit(&r->cons_tail_cache, memory_order_acquire);
	uint64_t used = head - tail; /* a stale copy can exceed capacity */

	if (used >= r->capacity || r->capacity - used < want) {
		tail = atomic_load_explicit(&r->cons_tail, memory_order_acquire);
		atomic_store_explicit(&r->cons_tail_cache, tail, memory_order_release);
		used = head - tail;
	}
	return used >= r->capacity ? 0 : r->capacity - used;
}

size_t reactor_ring_enqueue(struct reactor_ring *r, void *const *objs, size_t count)
{
	uint64_t head, room, n;

	if (count == 0)
		return 0;
	head = atomic_load_explicit(&r->prod_head, memory_order_relaxed);
	if (r->type == REACTOR_RING_SP_SC) {
		room = ring_room(r, head, count);
		n = count < room ? count : room;
		if (n == 0)
			return 0;
		atomic_store_explicit(&r->prod_head, head + n, memory_order_relaxed);
	} else {
		do {
			room = ring_room(r, head, count);
			n = count < room ? count : room;
			if (n == 0)
				return 0;
			/* On failure head is reloaded and room recomputed. */
		} while (!atomic_compare_exchange_weak_explicit(&r->prod_head, &head, head + n,
								memory_order_relaxed,
								memory_order_relaxed));
	}
	for (uint64_t i = 0; i < n; i++) {
		struct ring_slot *s = &r->slots[(head + i) & r->mask];

		atomic_store_explicit(&s->obj, objs[i], memory_order_relaxed);
		atomic_store_explicit(&s->seq, head + i + 1, memory_order_release);
	}
	return (size_t)n;
}

size_t reactor_ring_dequeue(struct reactor_ring *r, void **objs, size_t count)
{
	uint64_t head = atomic_load_explicit(&r->cons_head, memory_order_relaxed);
	size_t n = 0;

	while (n < count) {
		struct ring_slot *s = &r->slots[(head + n) & r->mask];

		/* Stop at the first slot not yet published, keeping FIFO order. */
		if (atomic_load_explicit(&s->seq, memory_order_acquire) != head + n + 1)
			break;
		objs[n] = atomic_load_explicit(&s->obj, memory_order_relaxed);
		n++;
	}
	if (n > 0) {
		atomic_store_explicit(&r->cons_head, head + n, memory_order_relaxed);
		/* Release: our reads of the slots happen before producers reuse them. */
		atomic_store_explicit(&r->cons_tail, head + n, memory_order_release);
	}
	return n;
}

size_t reactor_ring_count(const struct reactor_ring *r)
{
	uint64_t prod = atomic_load_explicit(&((struct reactor_ring *)r)->prod_head,
					     memory_order_relaxed);
	uint64_t cons = atomic_load_explicit(&((struct reactor_ring *)r)->cons_head,
					     memory_order_relaxed);

	/* prod counts reserved (not yet published) slots too; clamp a race. */
	return prod > cons ? (size_t)(prod - cons > r->capacity ? r->capacity : prod - cons) : 0;
}

size_t reactor_ring_capacity(const struct reactor_ring *r)
{
	return (size_t)r->capacity;
}

bool ring_empty(const struct reactor_ring *r)
{
	uint64_t head = atomic_load_explicit(&((struct reactor_ring *)r)->cons_head,
					     memory_order_relaxed);

	return atomic_load_explicit(&((struct reactor_ring *)r)->slots[head & r->mask].seq,
				    memory_order_acquire) != head + 1;
}
