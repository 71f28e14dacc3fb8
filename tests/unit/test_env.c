/* SPDX-License-Identifier: BSD-3-Clause */
/* Environment: ticks, allowed CPUs, I/O memory. */
#include "helpers.h"

static void test_ticks_monotonic(void **state)
{
	uint64_t prev = reactor_get_ticks(), first = prev, now = prev;
	uint64_t end = h_now_ns() + 20000000ull; /* 20 ms of reads */
	long n = 0;

	(void)state;
	H_BEGIN();
	while (h_now_ns() < end) {
		now = reactor_get_ticks();
		if (now < prev)
			fail_msg("ticks went backwards: %" PRIu64 " then %" PRIu64, prev, now);
		prev = now;
		n++;
	}
	assert_true(now > first); /* 20 ms passed: it advanced */
	print_message("# %ld tick reads in 20 ms\n", n);
}

/* Ticks read on two CPUs never go backwards across a message handoff. */
struct cross {
	_Atomic uint64_t last;
	atomic_int turn;
	atomic_long errors;
	_Atomic uint64_t max_back;
	long rounds;
	int cpu;
};

/* The other side stored its ticks before handing over: ours must not be smaller. */
static void note_ticks(struct cross *x)
{
	uint64_t now = reactor_get_ticks(), last = atomic_load(&x->last);

	if (now < last) {
		atomic_fetch_add(&x->errors, 1);
		if (last - now > atomic_load(&x->max_back))
			atomic_store(&x->max_back, last - now);
	}
	atomic_store(&x->last, reactor_get_ticks());
}

static void *cross_main(void *arg)
{
	struct cross *x = arg;
	int me = x->cpu;
	uint64_t deadline = h_now_ns() + 20000000000ull;

	if (me >= 0) {
		cpu_set_t cs;

		CPU_ZERO(&cs);
		CPU_SET((unsigned)me, &cs);
		pthread_setaffinity_np(pthread_self(), sizeof(cs), &cs);
	}
	for (long i = 0; i < x->rounds; i++) {
		while (atomic_load(&x->turn) != 1) {
			if (h_now_ns() > deadline)
				return NULL;
			sched_yield();
		}
		note_ticks(x);
		atomic_store(&x->turn, 0);
	}
	return NULL;
}

static void test_ticks_across_cpus(void **state)
{
	struct cross x = {.rounds = (long)h_scaled(20000, 1000), .cpu = -1};
	uint32_t cpus[2];
	char mask[64];
	pthread_t tid;
	cpu_set_t saved;
	uint64_t deadline = h_now_ns() + 20000000000ull;

	(void)state;
	H_BEGIN();
	if (!h_mask_of_n(2, mask, sizeof(mask), cpus))
		H_SKIP("needs 2 CPUs");
	x.cpu = (int)cpus[1];
	assert_int_equal(sched_getaffinity(0, sizeof(saved), &saved), 0);
	{
		cpu_set_t cs;

		CPU_ZERO(&cs);
		CPU_SET(cpus[0], &cs);
		pthread_setaffinity_np(pthread_self(), sizeof(cs), &cs);
	}
	assert_int_equal(pthread_create(&tid, NULL, cross_main, &x), 0);
	for (long i = 0; i < x.rounds; i++) {
		while (atomic_load(&x.turn) != 0 && h_now_ns() < deadline)
			sched_yield();
		note_ticks(&x);
		atomic_store(&x.turn, 1);
	}
	pthread_join(tid, NULL);
	sched_setaffinity(0, sizeof(saved), &saved);
	if (atomic_load(&x.errors) != 0)
		fail_msg("ticks went backwards %ld times in %ld handoffs between CPUs (by up to %" PRIu64
			 " ticks at %" PRIu64 " Hz): reactor_get_ticks() is not ordered with memory accesses",
			 atomic_load(&x.errors), 2 * x.rounds, atomic_load(&x.max_back), reactor_get_ticks_hz());
}

static void test_ticks_hz(void **state)
{
	uint64_t hz = reactor_get_ticks_hz();
	double best = 1e9;

	(void)state;
	H_BEGIN();
	assert_int_equal(reactor_get_ticks_hz(), hz); /* constant */
	assert_true(hz >= 1000000u);			/* at least microsecond resolution */
	/* Compare with CLOCK_MONOTONIC over ~50 ms. The reads of the two clocks
	 * can be split by preemption, so take the best of a few attempts: a
	 * wrong hz misses on every attempt. */
	for (int attempt = 0; attempt < 5; attempt++) {
		uint64_t t0 = h_now_ns(), k0 = reactor_get_ticks(), t0b = h_now_ns();
		uint64_t t1, k1, t1b;
		double ns, err;

		h_sleep_ms(50);
		t1 = h_now_ns();
		k1 = reactor_get_ticks();
		t1b = h_now_ns();
		ns = (double)((t1 + t1b) / 2 - (t0 + t0b) / 2);
		err = ((double)(k1 - k0) / (double)hz * 1e9 - ns) / ns;
		if (err < 0)
			err = -err;
		if (err < best)
			best = err;
		if (best < 0.05)
			break;
	}
	if (best >= 0.05)
		fail_msg("ticks/hz disagree with CLOCK_MONOTONIC by %.1f%% (hz=%" PRIu64 ")", best * 100, hz);
}

static void test_allowed_cpus(void **state)
{
	struct reactor_cpuset *s = reactor_cpuset_create();
	cpu_set_t cs;
	unsigned int n = 0;

	(void)state;
	H_BEGIN();
	assert_non_null(s);
	reactor_cpuset_set(s, 1000); /* must be replaced */
	assert_int_equal(reactor_env_get_allowed_cpus(s), 0);
	assert_int_equal(sched_getaffinity(0, sizeof(cs), &cs), 0);
	for (unsigned int c = 0; c < REACTOR_CPUSET_MAX_CPUS && c < CPU_SETSIZE; c++) {
		if (CPU_ISSET(c, &cs) != reactor_cpuset_isset(s, c))
			fail_msg("cpu %u: sched_getaffinity %d, reactor %d", c, CPU_ISSET(c, &cs) != 0,
				 reactor_cpuset_isset(s, c));
		n += CPU_ISSET(c, &cs) != 0;
	}
	assert_int_equal(reactor_cpuset_count(s), n);
	assert_true(n >= 1);

	/* a narrower affinity is honoured */
	if (n >= 2) {
		cpu_set_t one, saved = cs;
		uint32_t first = reactor_cpuset_next(s, UINT32_MAX);

		CPU_ZERO(&one);
		CPU_SET(first, &one);
		assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
		assert_int_equal(reactor_env_get_allowed_cpus(s), 0);
		sched_setaffinity(0, sizeof(saved), &saved);
		assert_int_equal(reactor_cpuset_count(s), 1);
		assert_true(reactor_cpuset_isset(s, first));
	}
	reactor_cpuset_destroy(s);
}

static void test_malloc_alignment(void **state)
{
	static const size_t aligns[] = {0, 1, 2, 8, 64, 128, 4096, 65536, 2 * 1024 * 1024};

	(void)state;
	H_BEGIN();
	for (size_t i = 0; i < sizeof(aligns) / sizeof(aligns[0]); i++) {
		size_t want = aligns[i] == 0 ? 64 : aligns[i];

		for (size_t size = 1; size <= 100000; size *= 7) {
			unsigned char *p = reactor_env_malloc(size, aligns[i], 0);

			if (p == NULL)
				fail_msg("malloc(%zu, align %zu) failed: %s", size, aligns[i], strerror(errno));
			if ((uintptr_t)p % want != 0)
				fail_msg("malloc(%zu, align %zu) = %p, not %zu-aligned", size, aligns[i],
					 (void *)p, want);
			memset(p, 0xa5, size); /* writable over its whole size (ASan checks) */
			reactor_env_free(p);
		}
	}
	reactor_env_free(NULL);
}

static void test_malloc_zero(void **state)
{
	size_t size = 1 << 20;

	(void)state;
	H_BEGIN();
	/* dirty some memory first so a recycled block would show */
	for (int round = 0; round < 4; round++) {
		unsigned char *d = reactor_env_malloc(size, 4096, 0);
		unsigned char *z;

		assert_non_null(d);
		memset(d, 0xff, size);
		reactor_env_free(d);
		z = reactor_env_malloc(size, 4096, REACTOR_ENV_MEM_ZERO);
		assert_non_null(z);
		for (size_t i = 0; i < size; i++)
			if (z[i] != 0)
				fail_msg("byte %zu of a ZERO allocation is 0x%02x", i, z[i]);
		reactor_env_free(z);
	}
}

static void test_malloc_bad_align(void **state)
{
	static const size_t bad[] = {3, 48, 100, 4097, (size_t)1 << 63 | 1};

	(void)state;
	H_BEGIN();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		void *p;

		errno = 0;
		p = reactor_env_malloc(64, bad[i], 0);
		if (p != NULL || errno != EINVAL)
			fail_msg("malloc(64, align %zu): %p errno %d, want NULL/EINVAL", bad[i], p, errno);
	}
}

static void test_malloc_huge(void **state)
{
	void *p;

	(void)state;
	H_BEGIN();
#if defined(H_ASAN)
	H_SKIP("ASan aborts on impossible allocation sizes by default");
#endif
	errno = 0;
	p = reactor_env_malloc(SIZE_MAX / 2, 64, 0);
	assert_null(p);
	assert_int_equal(errno, ENOMEM);
}

/* HUGEPAGE either works (aligned, usable memory) or fails with ENOMEM. */
static void test_malloc_hugepage(void **state)
{
	static const size_t sizes[] = {4096, 2 * 1024 * 1024, 3 * 1024 * 1024};

	(void)state;
	H_BEGIN();
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned char *p;

		errno = 0;
		p = reactor_env_malloc(sizes[i], 0, REACTOR_ENV_MEM_HUGEPAGE | REACTOR_ENV_MEM_ZERO);
		if (p == NULL) {
			if (errno != ENOMEM)
				fail_msg("HUGEPAGE malloc(%zu) failed with errno %d, want ENOMEM", sizes[i], errno);
			print_message("# no hugepages for %zu bytes (ENOMEM)\n", sizes[i]);
			continue;
		}
		assert_int_equal((uintptr_t)p % 64, 0);
		for (size_t k = 0; k < sizes[i]; k += 4096)
			assert_int_equal(p[k], 0);
		memset(p, 0x5a, sizes[i]);
		reactor_env_free(p);
	}
}

/* Allocate on one thread, free on another. */
static void *free_main(void *arg)
{
	reactor_env_free(arg);
	return NULL;
}

static void test_free_other_thread(void **state)
{
	pthread_t tid;
	void *p = reactor_env_malloc(4096, 4096, REACTOR_ENV_MEM_ZERO);

	(void)state;
	H_BEGIN();
	assert_non_null(p);
	assert_int_equal(pthread_create(&tid, NULL, free_main, p), 0);
	pthread_join(tid, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_ticks_monotonic), H_TEST(test_ticks_across_cpus), H_TEST(test_ticks_hz),
		H_TEST(test_allowed_cpus),    H_TEST(test_malloc_alignment), H_TEST(test_malloc_zero),
		H_TEST(test_malloc_bad_align), H_TEST(test_malloc_huge),     H_TEST(test_malloc_hugepage),
		H_TEST(test_free_other_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
