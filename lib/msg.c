/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The pool of event/message objects.
 *
 * Every OS thread keeps a small cache, so allocating and freeing an object
 * is a few instructions with no atomic operation. Caches move objects to
 * and from the shared stack in batches under a mutex; with batches of 64
 * the lock is taken once per 64 operations at most (a producer core
 * drains its cache, a consumer core fills its own).
 */
#include "config.h"
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

#define CACHE_SIZE 128u
#define CACHE_BATCH 64u

struct msg_cache {
	uint32_t count;
	bool registered; /* destructor armed for this OS thread */
	struct reactor_event *objs[CACHE_SIZE];
};

static struct {
	pthread_mutex_t lock;
	struct reactor_event *objects;
	struct reactor_event **free;
	uint32_t free_count;
	uint32_t size;
} g_pool = {.lock = PTHREAD_MUTEX_INITIALIZER};

static _Atomic bool g_pool_ready;
static pthread_key_t g_cache_key;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
static REACTOR_TLS struct msg_cache tls_cache;

static void cache_flush(struct msg_cache *c)
{
	pthread_mutex_lock(&g_pool.lock);
	for (uint32_t i = 0; i < c->count; i++)
		g_pool.free[g_pool.free_count++] = c->objs[i];
	pthread_mutex_unlock(&g_pool.lock);
	c->count = 0;
}

/* A thread that exits gives its cached objects back. */
static void cache_destructor(void *arg)
{
	cache_flush(arg);
}

static void key_init(void)
{
	pthread_key_create(&g_cache_key, cache_destructor);
}

int msg_pool_init(uint32_t size)
{
	int rc = 0;

	pthread_mutex_lock(&g_pool.lock);
	if (g_pool.objects == NULL) {
		if (size == 0)
			size = DEFAULT_MSG_POOL_SIZE;
		g_pool.objects = calloc(size, sizeof(*g_pool.objects));
		g_pool.free = calloc(size, sizeof(*g_pool.free));
		if (g_pool.objects == NULL || g_pool.free == NULL) {
			free(g_pool.objects);
			free(g_pool.free);
			g_pool.objects = NULL;
			g_pool.free = NULL;
			rc = -ENOMEM;
		} else {
			for (uint32_t i = 0; i < size; i++)
				g_pool.free[i] = &g_pool.objects[size - 1 - i];
			g_pool.free_count = size;
			g_pool.size = size;
			atomic_store_explicit(&g_pool_ready, true, memory_order_release);
		}
	} else if (size != 0 && size != g_pool.size) {
		REACTOR_NOTICELOG("message pool already has %u objects; keeping it (asked for %u)",
				  g_pool.size, size);
	}
	pthread_mutex_unlock(&g_pool.lock);
	pthread_once(&g_key_once, key_init);
	return rc;
}

static bool cache_refill(struct msg_cache *c)
{
	uint32_t n;

	if (unlikely(!atomic_load_explicit(&g_pool_ready, memory_order_acquire)) &&
	    msg_pool_init(0) != 0)
		return false;
	if (!c->registered) {
		pthread_setspecific(g_cache_key, c);
		c->registered = true;
	}
	pthread_mutex_lock(&g_pool.lock);
	n = g_pool.free_count < CACHE_BATCH ? g_pool.free_count : CACHE_BATCH;
	g_pool.free_count -= n;
	for (uint32_t i = 0; i < n; i++)
		c->objs[c->count++] = g_pool.free[g_pool.free_count + i];
	pthread_mutex_unlock(&g_pool.lock);
	return n > 0;
}

struct reactor_event *msg_get(void)
{
	struct msg_cache *c = &tls_cache;

	if (unlikely(c->count == 0) && !cache_refill(c)) {
		errno = EAGAIN;
		return NULL;
	}
	return c->objs[--c->count];
}

void msg_put(struct reactor_event *ev)
{
	struct msg_cache *c = &tls_cache;

	if (unlikely(c->count == CACHE_SIZE)) {
		if (!c->registered) {
			pthread_once(&g_key_once, key_init);
			pthread_setspecific(g_cache_key, c);
			c->registered = true;
		}
		pthread_mutex_lock(&g_pool.lock);
		for (uint32_t i = 0; i < CACHE_BATCH; i++)
			g_pool.free[g_pool.free_count++] = c->objs[--c->count];
		pthread_mutex_unlock(&g_pool.lock);
	}
	c->objs[c->count++] = ev;
}
