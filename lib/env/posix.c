/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The POSIX environment: ticks, CPU discovery and I/O memory on ordinary
 * Linux. A DPDK environment would provide the same calls (lib/env/dpdk.c)
 * selected by configure, without touching the public API.
 */
#include "config.h"
#include "../internal.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define HAVE_TSC 1
#endif

static uint64_t g_ticks_hz;
bool g_env_use_tsc; /* read by ticks_fast() in internal.h */
static pthread_once_t g_ticks_once = PTHREAD_ONCE_INIT;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#ifdef HAVE_TSC
/* The TSC is usable only when it ticks at a constant rate across sleep
 * states and cores; the kernel tells us by choosing it as clocksource. */
static bool tsc_is_invariant(void)
{
	char buf[64] = "";
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");

	if (f == NULL)
		return false;
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	fclose(f);
	return strncmp(buf, "tsc", 3) == 0;
}
#endif

static void ticks_init(void)
{
	g_ticks_hz = 1000000000ull;
#ifdef HAVE_TSC
	if (getenv("REACTOR_NO_TSC") == NULL && tsc_is_invariant()) {
		/* Calibrate against CLOCK_MONOTONIC over 20 ms: precise enough
		 * for timers and statistics, short enough for start-up. */
		struct timespec d = {0, 20 * 1000 * 1000};
		uint64_t t0 = mono_ns(), c0 = __rdtsc(), t1, c1;

		nanosleep(&d, NULL);
		t1 = mono_ns();
		c1 = __rdtsc();
		if (t1 > t0 && c1 > c0) {
			g_ticks_hz = (uint64_t)((double)(c1 - c0) * 1e9 / (double)(t1 - t0));
			g_env_use_tsc = true;
		}
	}
#endif
}

uint64_t reactor_get_ticks(void)
{
#ifdef HAVE_TSC
	if (__builtin_expect(g_env_use_tsc, 1)) {
		/* lfence keeps rdtsc from running ahead of earlier loads (as the
		 * kernel's rdtsc_ordered does), so a time read after seeing another
		 * thread's write is never older than that thread's own reading. */
		_mm_lfence();
		return __rdtsc();
	}
#endif
	return mono_ns();
}

uint64_t reactor_get_ticks_hz(void)
{
	pthread_once(&g_ticks_once, ticks_init);
	return g_ticks_hz;
}

void env_init(void)
{
	pthread_once(&g_ticks_once, ticks_init);
}

__attribute__((constructor)) static void env_ctor(void)
{
	env_init();
}

int reactor_env_get_allowed_cpus(struct reactor_cpuset *set)
{
	cpu_set_t *cs;
	size_t size;
	int ncpu = 1024;

	if (set == NULL)
		return -EINVAL;
	/* Grow the kernel mask buffer until sched_getaffinity accepts it. */
	for (;;) {
		cs = CPU_ALLOC((size_t)ncpu);
		if (cs == NULL)
			return -ENOMEM;
		size = CPU_ALLOC_SIZE((size_t)ncpu);
		CPU_ZERO_S(size, cs);
		if (sched_getaffinity(0, size, cs) == 0)
			break;
		CPU_FREE(cs);
		if (errno != EINVAL || ncpu > (1 << 20))
			return -errno;
		ncpu *= 2;
	}
	reactor_cpuset_zero(set);
	for (int c = 0; c < ncpu && c < (int)REACTOR_CPUSET_MAX_CPUS; c++)
		if (CPU_ISSET_S((size_t)c, size, cs))
			reactor_cpuset_set(set, (uint32_t)c);
	CPU_FREE(cs);
	return 0;
}

/* Every allocation carries a header just before the returned pointer so
 * reactor_env_free() knows how it was made. */
struct mem_header {
	void *base;
	size_t map_len; /* 0: from posix_memalign */
	uint64_t magic;
	uint64_t pad;
};
#define MEM_MAGIC 0x72656163746f726dull /* "reactorm" */
#define HUGE_2M (2u * 1024 * 1024)

void *reactor_env_malloc(size_t size, size_t align, unsigned int flags)
{
	struct mem_header *h;
	size_t total;
	void *base;
	uintptr_t p;

	if (align == 0)
		align = 64;
	if ((align & (align - 1)) != 0 || size == 0 ||
	    (flags & ~(REACTOR_ENV_MEM_ZERO | REACTOR_ENV_MEM_HUGEPAGE)) != 0) {
		errno = EINVAL;
		return NULL;
	}
	if (align < sizeof(struct mem_header))
		align = sizeof(struct mem_header);
	if (size > SIZE_MAX / 2 - align) {
		errno = ENOMEM;
		return NULL;
	}
	total = size + align;

	if (flags & REACTOR_ENV_MEM_HUGEPAGE) {
		size_t len = (total + HUGE_2M - 1) & ~(size_t)(HUGE_2M - 1);

		base = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (base == MAP_FAILED) {
			errno = ENOMEM;
			return NULL;
		}
		p = ((uintptr_t)base + sizeof(*h) + align - 1) & ~(uintptr_t)(align - 1);
		h = (struct mem_header *)p - 1;
		h->map_len = len; /* hugetlb memory is already zeroed */
	} else {
		if (posix_memalign(&base, align, total) != 0) {
			errno = ENOMEM;
			return NULL;
		}
		p = (uintptr_t)base + align;
		h = (struct mem_header *)p - 1;
		h->map_len = 0;
		if (flags & REACTOR_ENV_MEM_ZERO)
			memset((void *)p, 0, size);
	}
	h->base = base;
	h->magic = MEM_MAGIC;
	return (void *)p;
}

void reactor_env_free(void *buf)
{
	struct mem_header *h;

	if (buf == NULL)
		return;
	h = (struct mem_header *)buf - 1;
	if (h->magic != MEM_MAGIC) {
		REACTOR_ERRLOG("reactor_env_free(%p): not from reactor_env_malloc; ignored", buf);
		return;
	}
	h->magic = 0;
	if (h->map_len)
		munmap(h->base, h->map_len);
	else
		free(h->base);
}
