/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Concurrent ring stress: several producer pthreads and one consumer move
 * millions of items. Every item encodes (producer id, sequence); each must
 * arrive exactly once and in its producer's order.
 *
 * Counts are scaled down under sanitizers (see h_scale()). Each run also
 * has a time budget: on a machine busy with other work (e.g. the polling
 * reactors of a test running in parallel) a tiny ring moves items only as
 * fast as threads get scheduled, so when the budget is spent the producers
 * stop where they are and the check covers every item they did produce.
 */
#include "helpers.h"

#define MAX_PRODUCERS 8
#define BUDGET_NS (8ull * 1000000000ull)

struct stress {
	struct reactor_ring *ring;
	unsigned int producers;
	uint64_t per_producer;
	size_t max_burst;
	atomic_int go;
	atomic_int stop;	/* budget spent: producers stop */
	atomic_long full_hits;
	atomic_uint done;	/* producers finished */
	_Atomic uint64_t sent[MAX_PRODUCERS];
};

/*
 * Waiting on a full or empty ring: yield a few times, then sleep briefly, so
 * that on a busy machine the other side gets to run.
 */
static void backoff(unsigned int *misses)
{
	if (++*misses < 16) {
		sched_yield();
	} else {
		h_sleep_us(20);
		*misses = 0;
	}
}

struct producer {
	struct stress *s;
	unsigned int id;
	pthread_t tid;
};

/* id in the top 8 bits, sequence + 1 below (never NULL). */
static void *encode(unsigned int id, uint64_t seq)
{
	return (void *)(uintptr_t)(((uint64_t)id << 56) | (seq + 1));
}

static void decode(void *p, unsigned int *id, uint64_t *seq)
{
	uint64_t v = (uint64_t)(uintptr_t)p;

	*id = (unsigned int)(v >> 56);
	*seq = (v & ((1ull << 56) - 1)) - 1;
}

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	struct stress *s = p->s;
	uint64_t seq = 0;
	unsigned int rnd = p->id * 2654435761u + 1, misses = 0;
	void *batch[64];

	while (!atomic_load(&s->go))
		sched_yield();
	while (seq < s->per_producer && !atomic_load(&s->stop)) {
		size_t want, n;

		rnd = rnd * 1103515245u + 12345u;
		want = s->max_burst == 1 ? 1 : 1 + (rnd >> 16) % s->max_burst;
		if (want > s->per_producer - seq)
			want = (size_t)(s->per_producer - seq);
		for (size_t i = 0; i < want; i++)
			batch[i] = encode(p->id, seq + i);
		n = reactor_ring_enqueue(s->ring, batch, want);
		if (n > want) {
			H_FAIL("enqueue returned %zu > %zu", n, want);
			break;
		}
		seq += n;
		atomic_store(&s->sent[p->id], seq);
		if (n < want) {
			atomic_fetch_add_explicit(&s->full_hits, 1, memory_order_relaxed);
			backoff(&misses);
		} else {
			misses = 0;
		}
	}
	atomic_fetch_add(&s->done, 1);
	return NULL;
}

static void run_stress(enum reactor_ring_type type, unsigned int producers, uint64_t per_producer,
		       size_t ring_size, size_t max_burst)
{
	struct stress s = {.producers = producers, .per_producer = per_producer, .max_burst = max_burst};
	struct producer p[MAX_PRODUCERS];
	uint64_t next[MAX_PRODUCERS] = {0};
	uint64_t got = 0, sent = 0, start = h_now_ns(), errors = 0;
	size_t cap;
	unsigned int misses = 0;
	void *out[128];

	assert_true(producers <= MAX_PRODUCERS);
	s.ring = reactor_ring_create(type, ring_size);
	assert_non_null(s.ring);
	cap = reactor_ring_capacity(s.ring);
	h_waiting_for("ring stress: type %d, %u producers x %" PRIu64, (int)type, producers, per_producer);

	for (unsigned int i = 0; i < producers; i++) {
		p[i].s = &s;
		p[i].id = i;
		assert_int_equal(pthread_create(&p[i].tid, NULL, producer_main, &p[i]), 0);
	}
	atomic_store(&s.go, 1);

	for (;;) {
		size_t want = 1 + (size_t)(got % 128);
		/* read before dequeueing: if all had finished, an empty ring means done */
		unsigned int done_before = atomic_load(&s.done);
		size_t n = reactor_ring_dequeue(s.ring, out, want);

		if (n > want) {
			print_error("dequeue returned %zu > %zu\n", n, want);
			errors++;
			atomic_store(&s.stop, 1);
			break;
		}
		if (n == 0) {
			size_t c = reactor_ring_count(s.ring);

			if (c > cap && errors++ < 5)
				print_error("count %zu > capacity %zu\n", c, cap);
			if (done_before == producers)
				break;
			if (h_now_ns() - start > BUDGET_NS)
				atomic_store(&s.stop, 1);
			backoff(&misses);
			continue;
		}
		misses = 0;
		for (size_t i = 0; i < n; i++) {
			unsigned int id;
			uint64_t seq;

			decode(out[i], &id, &seq);
			if (id >= producers || seq != next[id]) {
				if (errors++ < 10)
					print_error("item %p: producer %u seq %" PRIu64 ", expected seq %" PRIu64 "\n",
						    out[i], id, seq, id < producers ? next[id] : 0);
				if (id < producers && seq >= next[id])
					next[id] = seq + 1;
			} else {
				next[id]++;
			}
		}
		got += n;
		if ((got & 0xfff) < n && h_now_ns() - start > BUDGET_NS)
			atomic_store(&s.stop, 1);
	}
	for (unsigned int i = 0; i < producers; i++)
		pthread_join(p[i].tid, NULL);

	/* Nothing extra may be left behind. */
	if (reactor_ring_dequeue(s.ring, out, 1) != 0)
		errors++;
	for (unsigned int i = 0; i < producers; i++)
		sent += atomic_load(&s.sent[i]);
	print_message("# type %d: %u producers, %" PRIu64 " of %" PRIu64 " items through a %zu-slot ring "
		      "in %.2f s (%ld full hits)%s\n",
		      (int)type, producers, got, (uint64_t)producers * per_producer, cap,
		      (double)(h_now_ns() - start) / 1e9, atomic_load(&s.full_hits),
		      atomic_load(&s.stop) ? " [time budget spent: busy machine]" : "");
	reactor_ring_free(s.ring);

	if (got != sent)
		fail_msg("received %" PRIu64 " items, %" PRIu64 " were enqueued", got, sent);
	for (unsigned int i = 0; i < producers; i++)
		if (next[i] != atomic_load(&s.sent[i]))
			fail_msg("producer %u: %" PRIu64 " items received in order, %" PRIu64 " enqueued", i, next[i],
				 atomic_load(&s.sent[i]));
	if (errors != 0)
		fail_msg("%" PRIu64 " ordering/duplication errors", errors);
	/* a meaningful amount went through even on a busy machine */
	assert_true(got >= 1000 || got == (uint64_t)producers * per_producer);
	h_assert_no_failures();
}

/* 4 producers x 1M items through an MPSC ring, bursts of 1..16. */
static void test_mpsc_4x1m(void **state)
{
	(void)state;
	H_BEGIN_TIMEOUT(120);
	run_stress(REACTOR_RING_MP_SC, 4, h_scaled(1000000, 20000), 1024, 16);
}

/* Single-item enqueues on a tiny ring: maximal contention on full/empty. */
static void test_mpsc_tiny_ring(void **state)
{
	(void)state;
	H_BEGIN_TIMEOUT(120);
	run_stress(REACTOR_RING_MP_SC, 4, h_scaled(200000, 5000), 4, 1);
}

/* More producers than CPUs, with bursts larger than the ring. */
static void test_mpsc_oversubscribed(void **state)
{
	(void)state;
	H_BEGIN_TIMEOUT(120);
	run_stress(REACTOR_RING_MP_SC, 8, h_scaled(100000, 2000), 32, 48);
}

/* 1 producer x 4M items through an SPSC ring. */
static void test_spsc_1x4m(void **state)
{
	(void)state;
	H_BEGIN_TIMEOUT(120);
	run_stress(REACTOR_RING_SP_SC, 1, h_scaled(4000000, 50000), 1024, 32);
}

static void test_spsc_tiny_ring(void **state)
{
	(void)state;
	H_BEGIN_TIMEOUT(120);
	run_stress(REACTOR_RING_SP_SC, 1, h_scaled(500000, 10000), 2, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_mpsc_4x1m),  H_TEST(test_mpsc_tiny_ring), H_TEST(test_mpsc_oversubscribed),
		H_TEST(test_spsc_1x4m),  H_TEST(test_spsc_tiny_ring),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
