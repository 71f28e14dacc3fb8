/* SPDX-License-Identifier: BSD-3-Clause */
/* Single-threaded semantics of reactor rings (MPSC and SPSC). */
#include "helpers.h"

static const enum reactor_ring_type ring_types[] = {REACTOR_RING_MP_SC, REACTOR_RING_SP_SC};

static void *item(uintptr_t v)
{
	return (void *)(v + 1); /* never NULL */
}

static size_t next_pow2(size_t v)
{
	size_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static void test_create_rounding(void **state)
{
	static const size_t counts[] = {2, 3, 4, 5, 7, 8, 9, 100, 1000, 1024, 1025, 65536};

	(void)state;
	H_BEGIN();
	for (size_t t = 0; t < 2; t++) {
		for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
			struct reactor_ring *r = reactor_ring_create(ring_types[t], counts[i]);
			size_t cap;

			assert_non_null(r);
			cap = reactor_ring_capacity(r);
			/* "holds at least count pointers (rounded up to a power of two)" */
			if (cap < counts[i] || cap > next_pow2(counts[i]))
				fail_msg("type %d count %zu: capacity %zu not in [%zu, %zu]", (int)ring_types[t],
					 counts[i], cap, counts[i], next_pow2(counts[i]));
			assert_int_equal(reactor_ring_count(r), 0);
			reactor_ring_free(r);
		}
	}
}

static void test_create_invalid(void **state)
{
	static const size_t bad_counts[] = {0, 1, ((size_t)1 << 31) + 1, (size_t)1 << 32, SIZE_MAX};

	(void)state;
	H_BEGIN();
	for (size_t t = 0; t < 2; t++) {
		for (size_t i = 0; i < sizeof(bad_counts) / sizeof(bad_counts[0]); i++) {
			struct reactor_ring *r;

			errno = 0;
			r = reactor_ring_create(ring_types[t], bad_counts[i]);
			reactor_ring_free(r); /* (a wrongly created ring is not leaked) */
			if (r != NULL || errno != EINVAL)
				fail_msg("ring_create(type %d, %zu): got %p errno %d, want NULL/EINVAL",
					 (int)ring_types[t], bad_counts[i], (void *)r, errno);
		}
	}
	errno = 0;
	assert_null(reactor_ring_create((enum reactor_ring_type)2, 16));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(reactor_ring_create((enum reactor_ring_type)-1, 16));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(reactor_ring_create((enum reactor_ring_type)0x7fffffff, 16));
	assert_int_equal(errno, EINVAL);
	reactor_ring_free(NULL); /* ignored */
}

static void fill_and_drain(enum reactor_ring_type type, size_t count)
{
	struct reactor_ring *r = reactor_ring_create(type, count);
	size_t cap, n;
	void **objs, **out;

	assert_non_null(r);
	cap = reactor_ring_capacity(r);
	objs = calloc(cap + 8, sizeof(*objs));
	out = calloc(cap + 8, sizeof(*out));
	assert_non_null(objs);
	assert_non_null(out);
	for (size_t i = 0; i < cap + 8; i++)
		objs[i] = item(i);

	/* A burst bigger than the ring: exactly capacity items go in, the first ones. */
	n = reactor_ring_enqueue(r, objs, cap + 8);
	assert_int_equal(n, cap);
	assert_int_equal(reactor_ring_count(r), cap);
	/* Full: nothing more. */
	assert_int_equal(reactor_ring_enqueue(r, &objs[cap], 1), 0);
	assert_int_equal(reactor_ring_enqueue(r, &objs[cap], 8), 0);
	/* Zero-sized calls are no-ops. */
	assert_int_equal(reactor_ring_enqueue(r, objs, 0), 0);
	assert_int_equal(reactor_ring_dequeue(r, out, 0), 0);
	assert_int_equal(reactor_ring_count(r), cap);

	/* Partial dequeue, oldest first. */
	n = reactor_ring_dequeue(r, out, 3);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < 3; i++)
		assert_ptr_equal(out[i], item(i));
	assert_int_equal(reactor_ring_count(r), cap - 3);

	/* Now exactly 3 slots are free: a burst of 5 moves 3 (the first 3). */
	n = reactor_ring_enqueue(r, &objs[cap], 5);
	assert_int_equal(n, 3);
	assert_int_equal(reactor_ring_count(r), cap);

	/* Dequeue more than present: gets all, in FIFO order (wraps around). */
	memset(out, 0, (cap + 8) * sizeof(*out));
	n = reactor_ring_dequeue(r, out, cap + 8);
	assert_int_equal(n, cap);
	for (size_t i = 0; i < cap; i++) {
		if (out[i] != item(i + 3))
			fail_msg("type %d cap %zu: out[%zu] = %p, want %p", (int)type, cap, i, out[i],
				 item(i + 3));
	}
	assert_int_equal(reactor_ring_count(r), 0);
	/* Empty. */
	assert_int_equal(reactor_ring_dequeue(r, out, 1), 0);
	assert_int_equal(reactor_ring_dequeue(r, out, cap), 0);

	free(objs);
	free(out);
	reactor_ring_free(r);
}

static void test_full_empty_partial(void **state)
{
	(void)state;
	H_BEGIN();
	for (size_t t = 0; t < 2; t++) {
		fill_and_drain(ring_types[t], 4);
		fill_and_drain(ring_types[t], 16);
		fill_and_drain(ring_types[t], 100);
		fill_and_drain(ring_types[t], 4096);
	}
}

/* Many laps around a small ring with odd burst sizes: order is preserved. */
static void test_fifo_wraparound(void **state)
{
	(void)state;
	H_BEGIN();
	for (size_t t = 0; t < 2; t++) {
		struct reactor_ring *r = reactor_ring_create(ring_types[t], 8);
		uintptr_t next_in = 0, next_out = 0;
		size_t cap;

		assert_non_null(r);
		cap = reactor_ring_capacity(r);
		for (int round = 0; round < 10000; round++) {
			void *in[7], *out[7];
			size_t want_in = (size_t)(round % 7) + 1, want_out = (size_t)((round * 3) % 7) + 1;
			size_t before = reactor_ring_count(r), n, m;

			for (size_t i = 0; i < want_in; i++)
				in[i] = item(next_in + i);
			n = reactor_ring_enqueue(r, in, want_in);
			assert_int_equal(n, want_in < cap - before ? want_in : cap - before);
			next_in += n;
			m = reactor_ring_dequeue(r, out, want_out);
			assert_int_equal(m, want_out < before + n ? want_out : before + n);
			for (size_t i = 0; i < m; i++) {
				if (out[i] != item(next_out))
					fail_msg("round %d: got %p want %p", round, out[i], item(next_out));
				next_out++;
			}
			assert_int_equal(reactor_ring_count(r), next_in - next_out);
		}
		reactor_ring_free(r);
	}
}

/* The ring stores pointers as given, including NULL and odd values. */
static void test_arbitrary_pointers(void **state)
{
	(void)state;
	H_BEGIN();
	for (size_t t = 0; t < 2; t++) {
		struct reactor_ring *r = reactor_ring_create(ring_types[t], 4);
		void *in[4] = {NULL, (void *)1, (void *)UINTPTR_MAX, &in};
		void *out[4] = {&out, &out, &out, &out};

		assert_non_null(r);
		assert_int_equal(reactor_ring_enqueue(r, in, 4), 4);
		assert_int_equal(reactor_ring_dequeue(r, out, 4), 4);
		for (int i = 0; i < 4; i++)
			assert_ptr_equal(out[i], in[i]);
		reactor_ring_free(r);
	}
}

/* Items left in a ring are not freed (ASan would report a double free). */
static void test_free_nonempty(void **state)
{
	void *p = malloc(16);
	struct reactor_ring *r = reactor_ring_create(REACTOR_RING_MP_SC, 4);

	(void)state;
	H_BEGIN();
	assert_non_null(p);
	assert_non_null(r);
	assert_int_equal(reactor_ring_enqueue(r, &p, 1), 1);
	reactor_ring_free(r);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_create_rounding),   H_TEST(test_create_invalid),
		H_TEST(test_full_empty_partial), H_TEST(test_fifo_wraparound),
		H_TEST(test_arbitrary_pointers), H_TEST(test_free_nonempty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
