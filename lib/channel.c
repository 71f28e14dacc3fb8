/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * I/O devices and per-thread channels. The device registry is global and
 * locked (it is touched when a thread first uses a device, not per I/O);
 * a channel is owned by its thread and used without a lock.
 */
#include "config.h"
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct io_device {
	TAILQ_ENTRY(io_device) link;
	void *io_device;
	reactor_io_channel_create_cb create_cb;
	reactor_io_channel_destroy_cb destroy_cb;
	uint32_t ctx_size;
	uint32_t channels;        /* live channels, under g_dev_lock */
	uint64_t *holders;        /* ids of the threads holding them */
	uint32_t nholders;
	uint32_t holders_cap;
	bool unregistered;
	uint64_t unregister_thread;
	reactor_io_device_unregister_cb unregister_cb;
	char name[64];
};

static pthread_mutex_t g_dev_lock = PTHREAD_MUTEX_INITIALIZER;
static TAILQ_HEAD(, io_device) g_devices = TAILQ_HEAD_INITIALIZER(g_devices);

static struct io_device *dev_find_locked(void *io_device)
{
	struct io_device *d;

	TAILQ_FOREACH(d, &g_devices, link)
		if (d->io_device == io_device)
			return d;
	return NULL;
}

int reactor_io_device_register(void *io_device, reactor_io_channel_create_cb create_cb,
			       reactor_io_channel_destroy_cb destroy_cb, uint32_t ctx_size,
			       const char *name)
{
	struct io_device *d;

	if (io_device == NULL || create_cb == NULL || destroy_cb == NULL)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	d->io_device = io_device;
	d->create_cb = create_cb;
	d->destroy_cb = destroy_cb;
	d->ctx_size = ctx_size;
	snprintf(d->name, sizeof(d->name), "%s", name ? name : "io_device");
	pthread_mutex_lock(&g_dev_lock);
	if (dev_find_locked(io_device) != NULL) {
		pthread_mutex_unlock(&g_dev_lock);
		REACTOR_ERRLOG("io_device %p ('%s') is already registered", io_device, d->name);
		free(d);
		return -EEXIST;
	}
	TAILQ_INSERT_TAIL(&g_devices, d, link);
	pthread_mutex_unlock(&g_dev_lock);
	return 0;
}

static void unregister_done(void *arg)
{
	struct io_device *d = arg;

	if (d->unregister_cb != NULL)
		d->unregister_cb(d->io_device);
	free(d->holders);
	free(d);
}

/* The device is gone from the registry and has no channel: complete it
 * on the thread that asked. Call with g_dev_lock held. */
static void dev_finish_locked(struct io_device *d)
{
	if (thread_send_by_id(d->unregister_thread, unregister_done, d) != 0) {
		REACTOR_ERRLOG("io_device '%s': the unregistering thread is gone; "
			       "completion dropped", d->name);
		free(d->holders);
		free(d);
	}
}

int reactor_io_device_unregister(void *io_device, reactor_io_device_unregister_cb cb)
{
	struct io_device *d;

	if (tls_thread == NULL)
		return -EINVAL;
	pthread_mutex_lock(&g_dev_lock);
	d = dev_find_locked(io_device);
	if (d == NULL || d->unregistered) {
		pthread_mutex_unlock(&g_dev_lock);
		return -ENOENT;
	}
	d->unregistered = true;
	d->unregister_cb = cb;
	d->unregister_thread = tls_thread->id;
	TAILQ_REMOVE(&g_devices, d, link);
	if (d->channels == 0)
		dev_finish_locked(d);
	pthread_mutex_unlock(&g_dev_lock);
	return 0;
}

static void channel_destroy(struct reactor_io_channel *ch);

struct reactor_io_channel *reactor_get_io_channel(void *io_device)
{
	struct reactor_thread *t = tls_thread;
	struct reactor_io_channel *ch;
	struct io_device *d;
	int rc;

	if (t == NULL) {
		errno = EINVAL;
		return NULL;
	}
	TAILQ_FOREACH(ch, &t->channels, link) {
		if (ch->dev->io_device == io_device && !ch->dev->unregistered) {
			ch->refs++;
			ch->destroy_pending = false;
			return ch;
		}
	}
	if (atomic_load_explicit(&t->state, memory_order_relaxed) != THREAD_RUNNING) {
		errno = ESHUTDOWN;
		return NULL;
	}
	pthread_mutex_lock(&g_dev_lock);
	d = dev_find_locked(io_device);
	if (d == NULL) {
		pthread_mutex_unlock(&g_dev_lock);
		errno = ENOENT;
		return NULL;
	}
	d->channels++; /* keeps d alive while create_cb runs unlocked */
	pthread_mutex_unlock(&g_dev_lock);

	ch = calloc(1, sizeof(*ch) + d->ctx_size);
	rc = ch ? d->create_cb(io_device, ch->ctx) : -ENOMEM;
	if (rc != 0) {
		free(ch);
		pthread_mutex_lock(&g_dev_lock);
		if (--d->channels == 0 && d->unregistered)
			dev_finish_locked(d);
		pthread_mutex_unlock(&g_dev_lock);
		errno = -rc;
		return NULL;
	}
	ch->dev = d;
	ch->thread = t;
	ch->refs = 1;
	pthread_mutex_lock(&g_dev_lock);
	if (d->nholders == d->holders_cap) {
		uint32_t cap = d->holders_cap ? d->holders_cap * 2 : 8;
		uint64_t *h = realloc(d->holders, cap * sizeof(*h));

		if (h == NULL) {
			pthread_mutex_unlock(&g_dev_lock);
			ch->refs = 0;
			TAILQ_INSERT_TAIL(&t->channels, ch, link);
			channel_destroy(ch);
			errno = ENOMEM;
			return NULL;
		}
		d->holders = h;
		d->holders_cap = cap;
	}
	d->holders[d->nholders++] = t->id;
	pthread_mutex_unlock(&g_dev_lock);
	TAILQ_INSERT_TAIL(&t->channels, ch, link);
	return ch;
}

static void channel_destroy(struct reactor_io_channel *ch)
{
	struct io_device *d = ch->dev;
	uint64_t id = ch->thread->id;

	TAILQ_REMOVE(&ch->thread->channels, ch, link);
	d->destroy_cb(d->io_device, ch->ctx);
	free(ch);
	pthread_mutex_lock(&g_dev_lock);
	for (uint32_t i = 0; i < d->nholders; i++) {
		if (d->holders[i] == id) {
			d->holders[i] = d->holders[--d->nholders];
			break;
		}
	}
	if (--d->channels == 0 && d->unregistered)
		dev_finish_locked(d);
	pthread_mutex_unlock(&g_dev_lock);
}

static void channel_destroy_msg(void *arg)
{
	struct reactor_io_channel *ch = arg;

	/* Someone may have taken it again since the put. */
	if (ch->refs == 0 && ch->destroy_pending)
		channel_destroy(ch);
}

void reactor_put_io_channel(struct reactor_io_channel *ch)
{
	if (ch == NULL)
		return;
	if (ch->thread != tls_thread) {
		REACTOR_ERRLOG("reactor_put_io_channel: channel of '%s' put from another thread; ignored",
			       ch->dev->name);
		return;
	}
	if (ch->refs == 0) {
		REACTOR_ERRLOG("reactor_put_io_channel: channel of '%s' put once too often", ch->dev->name);
		return;
	}
	if (--ch->refs > 0 || ch->destroy_pending)
		return;
	ch->destroy_pending = true;
	/* Deferred so the caller may still use the context until it returns. */
	if (reactor_thread_send_msg(ch->thread, channel_destroy_msg, ch) != 0)
		channel_destroy(ch);
}

void *reactor_io_channel_get_ctx(struct reactor_io_channel *ch)
{
	return ch ? ch->ctx : NULL;
}

struct reactor_thread *reactor_io_channel_get_thread(struct reactor_io_channel *ch)
{
	return ch ? ch->thread : NULL;
}

void *reactor_io_channel_get_io_device(struct reactor_io_channel *ch)
{
	return ch ? ch->dev->io_device : NULL;
}

const char *channel_device_name(const struct reactor_io_channel *ch)
{
	return ch->dev->name;
}

void channel_describe(struct reactor_thread *t, char *buf, size_t len)
{
	struct reactor_io_channel *ch;

	TAILQ_FOREACH(ch, &t->channels, link) {
		size_t off = strlen(buf);

		if (off < len)
			snprintf(buf + off, len - off, " channel of '%s' (%u refs)", ch->dev->name,
				 ch->refs);
	}
}

void channel_force_release_all(struct reactor_thread *t)
{
	struct reactor_io_channel *ch;

	while ((ch = TAILQ_FIRST(&t->channels)) != NULL)
		channel_destroy(ch);
}

/* ---- for_each_channel -------------------------------------------------- */

struct reactor_io_channel_iter {
	void *io_device;
	reactor_channel_msg fn;
	reactor_channel_for_each_cpl cpl;
	void *ctx;
	uint64_t origin;
	struct reactor_io_channel *ch;
	int status;
	uint32_t next;
	uint32_t count;
	uint64_t ids[];
};

static void iter_step(void *arg);

static void iter_done(void *arg)
{
	struct reactor_io_channel_iter *it = arg;

	it->ch = NULL;
	if (it->cpl != NULL)
		it->cpl(it, it->status);
	free(it);
}

static int iter_send(uint64_t id, reactor_msg_fn fn, struct reactor_io_channel_iter *it)
{
	return thread_send_by_id(id, fn, it);
}

static void iter_advance(struct reactor_io_channel_iter *it)
{
	if (it->status == 0) {
		while (it->next < it->count)
			if (iter_send(it->ids[it->next++], iter_step, it) == 0)
				return;
	}
	if (iter_send(it->origin, iter_done, it) != 0) {
		REACTOR_ERRLOG("for_each_channel: the calling thread is gone; completion dropped");
		free(it);
	}
}

static void iter_step(void *arg)
{
	struct reactor_io_channel_iter *it = arg;
	struct reactor_io_channel *ch;

	TAILQ_FOREACH(ch, &tls_thread->channels, link) {
		if (ch->dev->io_device == it->io_device && ch->refs > 0) {
			it->ch = ch;
			it->fn(it);
			return;
		}
	}
	iter_advance(it); /* the channel went away meanwhile: skip it */
}

void reactor_for_each_channel_continue(struct reactor_io_channel_iter *it, int status)
{
	it->ch = NULL;
	it->status = status;
	iter_advance(it);
}

int reactor_for_each_channel(void *io_device, reactor_channel_msg fn, void *ctx,
			     reactor_channel_for_each_cpl cpl)
{
	struct reactor_io_channel_iter *it;
	uint32_t n = 0;
	struct io_device *d;

	if (tls_thread == NULL || fn == NULL)
		return -EINVAL;
	/* Snapshot the threads holding a channel; each step then runs on one
	 * of them, skipping any that released theirs meanwhile. */
	pthread_mutex_lock(&g_dev_lock);
	d = dev_find_locked(io_device);
	n = d ? d->nholders : 0;
	it = calloc(1, sizeof(*it) + (size_t)n * sizeof(uint64_t));
	if (it == NULL) {
		pthread_mutex_unlock(&g_dev_lock);
		return -ENOMEM;
	}
	if (n > 0)
		memcpy(it->ids, d->holders, n * sizeof(uint64_t));
	it->count = n;
	pthread_mutex_unlock(&g_dev_lock);
	it->io_device = io_device;
	it->fn = fn;
	it->cpl = cpl;
	it->ctx = ctx;
	it->origin = tls_thread->id;
	iter_advance(it);
	return 0;
}

void *reactor_io_channel_iter_get_io_device(struct reactor_io_channel_iter *it)
{
	return it->io_device;
}

struct reactor_io_channel *reactor_io_channel_iter_get_channel(struct reactor_io_channel_iter *it)
{
	return it->ch;
}

void *reactor_io_channel_iter_get_ctx(struct reactor_io_channel_iter *it)
{
	return it->ctx;
}
