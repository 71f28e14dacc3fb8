/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Block devices: the registry, per-thread channels, I/O submission with
 * queueing, compare and compare-and-write built on read and write, range
 * locks, statistics. See bdev.h for the rules.
 */
#include "bdev.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define BDEV_MAX_LOCKS 32   /* compare-and-write ranges locked at once per device */
#define BDEV_IO_CHUNK 128   /* I/O structures a channel's pool grows by */

#define IO_F_INTERNAL 0x1u  /* a step of a compare or compare-and-write: no stats */
#define IO_F_BYPASS 0x2u    /* the owner's own write under its range lock */
#define IO_F_TRACKED 0x4u   /* on the channel's in-flight writes list */
#define IO_F_RETRY 0x8u     /* taken from the queue: may not jump it again */

struct bdev_range_lock {
	uint64_t start, end; /* blocks [start, end) */
	struct bdev_io *owner;
	struct reactor_thread *thread;
	struct reactor_io_channel_iter *wait_iter;
	bool releasing;
	TAILQ_ENTRY(bdev_range_lock) link;
};
TAILQ_HEAD(bdev_lock_list, bdev_range_lock);
_Static_assert(sizeof(struct bdev_range_lock) <= sizeof(((struct bdev_io *)0)->driver_ctx),
	       "range lock fits the driver area");

struct bdev {
	char name[BDEV_NAME_MAX];
	char uuid[37];
	uint32_t block_size;
	uint64_t num_blocks;
	const struct bdev_backend *backend;
	void *backend_ctx;
	_Atomic int refs;
	_Atomic bool deleting;
	bdev_delete_cb delete_cb;
	void *delete_arg;
	pthread_mutex_t lock; /* locks, pending, closed_stats */
	struct bdev_lock_list locks;
	struct bdev_lock_list pending;
	uint32_t nlocks;
	struct bdev_stats closed_stats; /* of channels already destroyed */
	TAILQ_ENTRY(bdev) link;
};

struct io_chunk {
	struct io_chunk *next;
	struct bdev_io ios[BDEV_IO_CHUNK];
};

TAILQ_HEAD(bdev_io_list, bdev_io);

struct bdev_channel {
	struct bdev *bdev;
	struct reactor_thread *thread;
	struct reactor_poller *poller;
	struct bdev_io_list free_ios;
	struct bdev_io_list queued;  /* the backend said -EAGAIN */
	struct bdev_io_list parked;  /* waiting for a range lock */
	struct bdev_io_list done;    /* deferred completions */
	struct bdev_io_list writes;  /* in-flight writes (range lock waits) */
	struct bdev_range_lock *locks[BDEV_MAX_LOCKS];
	uint32_t nlocks;
	struct bdev_range_lock *waiting[BDEV_MAX_LOCKS];
	uint32_t nwaiting;
	struct io_chunk *chunks;
	uint64_t outstanding;
	bool retrying;
	struct bdev_stats stats;
	uint64_t backend_ctx[]; /* 16-byte aligned: the channel buffer comes from calloc */
};

static pthread_mutex_t g_bdevs_lock = PTHREAD_MUTEX_INITIALIZER;
static TAILQ_HEAD(, bdev) g_bdevs = TAILQ_HEAD_INITIALIZER(g_bdevs);

static void io_submit_one(struct bdev_channel *ch, struct bdev_io *io);

/* ---- registry -------------------------------------------------------------- */

int bdev_check_block_size(uint32_t block_size)
{
	if (block_size < 512 || (block_size & (block_size - 1)) != 0)
		return -EINVAL;
	return 0;
}

static int uuid_parse_norm(const char *in, char out[37])
{
	static const int dash[] = {8, 13, 18, 23};
	size_t i;

	if (strlen(in) != 36)
		return -EINVAL;
	for (i = 0; i < 36; i++) {
		char c = in[i];
		bool is_dash = i == (size_t)dash[0] || i == (size_t)dash[1] || i == (size_t)dash[2] ||
			       i == (size_t)dash[3];

		if (is_dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
					   (c >= 'A' && c <= 'F')))
			return -EINVAL;
		out[i] = (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
	}
	out[36] = '\0';
	return 0;
}

static void uuid_generate_v4(char out[37])
{
	uint8_t b[16];
	size_t got = 0;

	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

		if (n <= 0) { /* practically never; fall back to something unique enough */
			uint64_t t = reactor_get_ticks();

			memcpy(b, &t, sizeof(t));
			t = (uint64_t)(uintptr_t)out ^ (t << 17);
			memcpy(b + 8, &t, sizeof(t));
			break;
		}
		got += (size_t)n;
	}
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static struct bdev *find_locked(const char *name)
{
	struct bdev *b;

	TAILQ_FOREACH(b, &g_bdevs, link)
		if (strcmp(b->name, name) == 0)
			return b;
	return NULL;
}

static int ch_create_cb(void *io_device, void *ctx_buf);
static void ch_destroy_cb(void *io_device, void *ctx_buf);

struct bdev *bdev_register(const char *name, uint32_t block_size, uint64_t num_blocks, const char *uuid,
			   const struct bdev_backend *backend, void *backend_ctx, int *rc)
{
	struct bdev *b;
	int err;

	if (name == NULL || name[0] == '\0' || strlen(name) >= BDEV_NAME_MAX) {
		REACTOR_ERRLOG("bdev name must be 1 to %d characters\n", BDEV_NAME_MAX - 1);
		*rc = -EINVAL;
		return NULL;
	}
	if (bdev_check_block_size(block_size) != 0) {
		REACTOR_ERRLOG("bdev %s: block size %" PRIu32 " is not a power of two >= 512\n", name,
			       block_size);
		*rc = -EINVAL;
		return NULL;
	}
	if (num_blocks == 0 || num_blocks > UINT64_MAX / block_size) {
		REACTOR_ERRLOG("bdev %s: bad number of blocks %" PRIu64 "\n", name, num_blocks);
		*rc = -EINVAL;
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (b == NULL) {
		*rc = -ENOMEM;
		return NULL;
	}
	if (uuid != NULL && uuid[0] != '\0') {
		if (uuid_parse_norm(uuid, b->uuid) != 0) {
			REACTOR_ERRLOG("bdev %s: '%s' is not a UUID\n", name, uuid);
			free(b);
			*rc = -EINVAL;
			return NULL;
		}
	} else {
		uuid_generate_v4(b->uuid);
	}
	snprintf(b->name, sizeof(b->name), "%s", name);
	b->block_size = block_size;
	b->num_blocks = num_blocks;
	b->backend = backend;
	b->backend_ctx = backend_ctx;
	atomic_init(&b->refs, 1);
	atomic_init(&b->deleting, false);
	pthread_mutex_init(&b->lock, NULL);
	TAILQ_INIT(&b->locks);
	TAILQ_INIT(&b->pending);

	pthread_mutex_lock(&g_bdevs_lock);
	if (find_locked(name) != NULL) {
		pthread_mutex_unlock(&g_bdevs_lock);
		REACTOR_ERRLOG("bdev %s already exists\n", name);
		pthread_mutex_destroy(&b->lock);
		free(b);
		*rc = -EEXIST;
		return NULL;
	}
	err = reactor_io_device_register(b, ch_create_cb, ch_destroy_cb,
					 (uint32_t)(sizeof(struct bdev_channel) + backend->ch_ctx_size), b->name);
	if (err != 0) {
		pthread_mutex_unlock(&g_bdevs_lock);
		REACTOR_ERRLOG("bdev %s: cannot register its I/O device: %s\n", name, strerror(-err));
		pthread_mutex_destroy(&b->lock);
		free(b);
		*rc = err;
		return NULL;
	}
	TAILQ_INSERT_TAIL(&g_bdevs, b, link);
	pthread_mutex_unlock(&g_bdevs_lock);
	*rc = 0;
	return b;
}

struct bdev *bdev_get_by_name(const char *name)
{
	struct bdev *b;

	pthread_mutex_lock(&g_bdevs_lock);
	b = find_locked(name);
	pthread_mutex_unlock(&g_bdevs_lock);
	return b;
}

void bdev_foreach(void (*fn)(struct bdev *bdev, void *ctx), void *ctx)
{
	struct bdev *b;

	pthread_mutex_lock(&g_bdevs_lock);
	TAILQ_FOREACH(b, &g_bdevs, link)
		fn(b, ctx);
	pthread_mutex_unlock(&g_bdevs_lock);
}

static void bdev_put(struct bdev *b)
{
	if (atomic_fetch_sub(&b->refs, 1) != 1)
		return;
	if (b->backend->destruct != NULL)
		b->backend->destruct(b);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

static void unregister_done(void *io_device)
{
	struct bdev *b = io_device;
	bdev_delete_cb cb = b->delete_cb;
	void *arg = b->delete_arg;

	bdev_put(b);
	if (cb != NULL)
		cb(arg, 0);
}

void bdev_delete(const char *name, const char *backend_name, bdev_delete_cb cb, void *cb_arg)
{
	struct bdev *b;
	int rc;

	pthread_mutex_lock(&g_bdevs_lock);
	b = find_locked(name);
	if (b == NULL || (backend_name != NULL && strcmp(b->backend->name, backend_name) != 0)) {
		pthread_mutex_unlock(&g_bdevs_lock);
		if (cb != NULL)
			cb(cb_arg, -ENOENT);
		return;
	}
	TAILQ_REMOVE(&g_bdevs, b, link);
	atomic_store(&b->deleting, true);
	b->delete_cb = cb;
	b->delete_arg = cb_arg;
	pthread_mutex_unlock(&g_bdevs_lock);
	rc = reactor_io_device_unregister(b, unregister_done);
	if (rc != 0) { /* not on a thread: cannot wait; should not happen */
		REACTOR_ERRLOG("bdev %s: cannot unregister: %s\n", name, strerror(-rc));
		if (cb != NULL)
			cb(cb_arg, rc);
	}
}

const char *bdev_get_name(const struct bdev *bdev) { return bdev->name; }
uint32_t bdev_get_block_size(const struct bdev *bdev) { return bdev->block_size; }
uint64_t bdev_get_num_blocks(const struct bdev *bdev) { return bdev->num_blocks; }
const char *bdev_get_uuid(const struct bdev *bdev) { return bdev->uuid; }
const struct bdev_backend *bdev_get_backend(const struct bdev *bdev) { return bdev->backend; }
void *bdev_get_backend_ctx(const struct bdev *bdev) { return bdev->backend_ctx; }

bool bdev_io_type_supported(struct bdev *bdev, enum bdev_io_type type)
{
	switch (type) {
	case BDEV_IO_READ:
	case BDEV_IO_WRITE:
	case BDEV_IO_COMPARE:
	case BDEV_IO_COMPARE_AND_WRITE:
		return true;
	default:
		return bdev->backend->supports != NULL && bdev->backend->supports(bdev, type);
	}
}

json_t *bdev_to_json(struct bdev *b)
{
	json_t *o, *types, *drv;

	types = json_pack("{s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b}", "read", 1, "write", 1, "unmap",
			  bdev_io_type_supported(b, BDEV_IO_UNMAP), "write_zeroes",
			  bdev_io_type_supported(b, BDEV_IO_WRITE_ZEROES), "flush",
			  bdev_io_type_supported(b, BDEV_IO_FLUSH), "reset", 0, "compare", 1,
			  "compare_and_write", 1);
	drv = json_object();
	if (b->backend->dump_info != NULL && drv != NULL)
		b->backend->dump_info(b, drv);
	o = json_pack("{s:s, s:[], s:s, s:I, s:I, s:s, s:b, s:b, s:o*, s:o*}", "name", b->name, "aliases",
		      "product_name", b->backend->product_name, "block_size", (json_int_t)b->block_size,
		      "num_blocks", (json_int_t)b->num_blocks, "uuid", b->uuid, "claimed", 0, "zoned", 0,
		      "supported_io_types", types, "driver_specific", drv);
	return o;
}

/* ---- channels -------------------------------------------------------------- */

static int ch_poll(void *arg);

static bool ranges_overlap(uint64_t s1, uint64_t e1, uint64_t s2, uint64_t e2)
{
	return s1 < e2 && s2 < e1;
}

static int ch_create_cb(void *io_device, void *ctx_buf)
{
	struct bdev_channel *ch = ctx_buf;
	struct bdev *b = io_device;
	struct bdev_range_lock *l;
	int rc;

	memset(ch, 0, sizeof(*ch));
	ch->bdev = b;
	ch->thread = reactor_get_thread();
	TAILQ_INIT(&ch->free_ios);
	TAILQ_INIT(&ch->queued);
	TAILQ_INIT(&ch->parked);
	TAILQ_INIT(&ch->done);
	TAILQ_INIT(&ch->writes);
	ch->poller = reactor_poller_register_named(ch_poll, ch, 0, "bdev_channel");
	if (ch->poller == NULL)
		return -errno;
	/* Ranges locked now apply to this channel too. */
	pthread_mutex_lock(&b->lock);
	TAILQ_FOREACH(l, &b->locks, link)
		if (!l->releasing)
			ch->locks[ch->nlocks++] = l;
	pthread_mutex_unlock(&b->lock);
	rc = b->backend->ch_create != NULL ? b->backend->ch_create(b, ch->backend_ctx) : 0;
	if (rc != 0) {
		reactor_poller_unregister(&ch->poller);
		return rc;
	}
	return 0;
}

static void stats_add(struct bdev_stats *d, const struct bdev_stats *s)
{
	d->num_read_ops += s->num_read_ops;
	d->bytes_read += s->bytes_read;
	d->read_latency_ticks += s->read_latency_ticks;
	if (s->max_read_latency_ticks > d->max_read_latency_ticks)
		d->max_read_latency_ticks = s->max_read_latency_ticks;
	d->num_write_ops += s->num_write_ops;
	d->bytes_written += s->bytes_written;
	d->write_latency_ticks += s->write_latency_ticks;
	if (s->max_write_latency_ticks > d->max_write_latency_ticks)
		d->max_write_latency_ticks = s->max_write_latency_ticks;
	d->num_unmap_ops += s->num_unmap_ops;
	d->bytes_unmapped += s->bytes_unmapped;
	d->unmap_latency_ticks += s->unmap_latency_ticks;
	d->num_write_zeroes_ops += s->num_write_zeroes_ops;
	d->bytes_zeroed += s->bytes_zeroed;
	d->num_flush_ops += s->num_flush_ops;
	d->num_compare_ops += s->num_compare_ops;
	d->num_caw_ops += s->num_caw_ops;
	d->num_miscompares += s->num_miscompares;
	d->num_errors += s->num_errors;
	d->num_queued += s->num_queued;
}

/* Complete the I/O deferred so far; what their callbacks submit waits for
 * the next poll, so a busy channel cannot keep the thread in here. */
static void run_done(struct bdev_channel *ch)
{
	struct bdev_io_list batch;
	struct bdev_io *io;

	TAILQ_INIT(&batch);
	TAILQ_CONCAT(&batch, &ch->done, link);
	while ((io = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, io, link);
		bdev_io_complete(io, io->status);
	}
}

static void ch_destroy_cb(void *io_device, void *ctx_buf)
{
	struct bdev_channel *ch = ctx_buf;
	struct bdev *b = io_device;
	struct io_chunk *c;

	run_done(ch);
	if (b->backend->ch_destroy != NULL)
		b->backend->ch_destroy(b, ch->backend_ctx); /* completes what it still has */
	run_done(ch);
	if (ch->outstanding != 0)
		REACTOR_ERRLOG("bdev %s: channel put with %" PRIu64 " I/O outstanding\n", b->name,
			       ch->outstanding);
	reactor_poller_unregister(&ch->poller);
	pthread_mutex_lock(&b->lock);
	stats_add(&b->closed_stats, &ch->stats);
	pthread_mutex_unlock(&b->lock);
	while ((c = ch->chunks) != NULL) {
		ch->chunks = c->next;
		free(c);
	}
}

struct reactor_io_channel *bdev_get_io_channel(struct bdev *bdev)
{
	if (atomic_load(&bdev->deleting)) {
		errno = ENOENT;
		return NULL;
	}
	return reactor_get_io_channel(bdev);
}

void bdev_put_io_channel(struct reactor_io_channel *ch)
{
	reactor_put_io_channel(ch);
}

struct reactor_thread *bdev_io_get_thread(struct bdev_io *io) { return io->ch->thread; }
struct bdev *bdev_io_get_bdev(struct bdev_io *io) { return io->ch->bdev; }

/* ---- completion ---------------------------------------------------------- */

static void record_stats(struct bdev_channel *ch, struct bdev_io *io, int status)
{
	struct bdev_stats *s = &ch->stats;
	uint64_t lat = reactor_get_ticks() - io->start_ticks;

	if (status != 0) {
		if (status == -EILSEQ)
			s->num_miscompares++;
		else
			s->num_errors++;
		return;
	}
	switch (io->type) {
	case BDEV_IO_READ:
		s->num_read_ops++;
		s->bytes_read += io->len;
		s->read_latency_ticks += lat;
		if (lat > s->max_read_latency_ticks)
			s->max_read_latency_ticks = lat;
		break;
	case BDEV_IO_WRITE:
		s->num_write_ops++;
		s->bytes_written += io->len;
		s->write_latency_ticks += lat;
		if (lat > s->max_write_latency_ticks)
			s->max_write_latency_ticks = lat;
		break;
	case BDEV_IO_UNMAP:
		s->num_unmap_ops++;
		s->bytes_unmapped += io->len;
		s->unmap_latency_ticks += lat;
		break;
	case BDEV_IO_WRITE_ZEROES:
		s->num_write_zeroes_ops++;
		s->bytes_zeroed += io->len;
		break;
	case BDEV_IO_FLUSH:
		s->num_flush_ops++;
		break;
	case BDEV_IO_COMPARE:
		s->num_compare_ops++;
		break;
	case BDEV_IO_COMPARE_AND_WRITE:
		s->num_caw_ops++;
		s->num_write_ops++;
		s->bytes_written += io->len;
		break;
	default:
		break;
	}
}

static bool has_overlapping_write(struct bdev_channel *ch, const struct bdev_range_lock *l)
{
	struct bdev_io *w;

	TAILQ_FOREACH(w, &ch->writes, write_link)
		if (w->lock != l &&
		    ranges_overlap(w->offset_blocks, w->offset_blocks + w->num_blocks, l->start, l->end))
			return true;
	return false;
}

static void retry_queued(struct bdev_channel *ch)
{
	struct bdev_io *io;

	if (ch->retrying)
		return;
	ch->retrying = true;
	while ((io = TAILQ_FIRST(&ch->queued)) != NULL) {
		int rc;

		TAILQ_REMOVE(&ch->queued, io, link);
		rc = ch->bdev->backend->submit(ch->backend_ctx, io);
		if (rc == -EAGAIN) {
			TAILQ_INSERT_HEAD(&ch->queued, io, link);
			break;
		}
		if (rc != 0)
			bdev_io_complete_deferred(io, rc);
	}
	ch->retrying = false;
}

void bdev_io_complete(struct bdev_io *io, int status)
{
	struct bdev_channel *ch = io->ch;
	bdev_io_cb cb = io->cb;
	void *cb_arg = io->cb_arg;

	if (io->flags & IO_F_TRACKED) {
		TAILQ_REMOVE(&ch->writes, io, write_link);
		/* Lock steps waiting for this channel's writes to a range. */
		for (uint32_t i = 0; i < ch->nwaiting;) {
			struct bdev_range_lock *l = ch->waiting[i];

			if (!has_overlapping_write(ch, l)) {
				struct reactor_io_channel_iter *it = l->wait_iter;

				ch->waiting[i] = ch->waiting[--ch->nwaiting];
				l->wait_iter = NULL;
				reactor_for_each_channel_continue(it, 0);
			} else {
				i++;
			}
		}
	}
	if (!(io->flags & IO_F_INTERNAL))
		record_stats(ch, io, status);
	ch->outstanding--;
	TAILQ_INSERT_HEAD(&ch->free_ios, io, link);
	cb(cb_arg, status);
	if (!TAILQ_EMPTY(&ch->queued))
		retry_queued(ch);
}

void bdev_io_complete_deferred(struct bdev_io *io, int status)
{
	io->status = status;
	TAILQ_INSERT_TAIL(&io->ch->done, io, link);
}

static int ch_poll(void *arg)
{
	struct bdev_channel *ch = arg;
	bool busy = !TAILQ_EMPTY(&ch->done);

	run_done(ch);
	if (!TAILQ_EMPTY(&ch->queued)) {
		retry_queued(ch);
		busy = true;
	}
	return busy ? REACTOR_POLLER_BUSY : REACTOR_POLLER_IDLE;
}

/* ---- submission ------------------------------------------------------------ */

static struct bdev_io *io_alloc(struct bdev_channel *ch)
{
	struct bdev_io *io = TAILQ_FIRST(&ch->free_ios);

	if (io == NULL) {
		struct io_chunk *c = malloc(sizeof(*c));

		if (c == NULL)
			return NULL;
		c->next = ch->chunks;
		ch->chunks = c;
		for (int i = 0; i < BDEV_IO_CHUNK; i++)
			TAILQ_INSERT_TAIL(&ch->free_ios, &c->ios[i], link);
		io = TAILQ_FIRST(&ch->free_ios);
	}
	TAILQ_REMOVE(&ch->free_ios, io, link);
	return io;
}

static uint64_t iov_len(const struct iovec *iovs, int iovcnt)
{
	uint64_t n = 0;

	for (int i = 0; i < iovcnt; i++)
		n += iovs[i].iov_len;
	return n;
}

static int io_prepare(struct reactor_io_channel *ioch, enum bdev_io_type type, uint64_t offset_blocks,
		      uint64_t num_blocks, bdev_io_cb cb, void *cb_arg, struct bdev_io **out)
{
	struct bdev_channel *ch = reactor_io_channel_get_ctx(ioch);
	struct bdev *b = ch->bdev;
	struct bdev_io *io;

	if (atomic_load_explicit(&b->deleting, memory_order_relaxed))
		return -ENODEV;
	if (num_blocks == 0 && type != BDEV_IO_FLUSH)
		return -EINVAL;
	if (offset_blocks > b->num_blocks || num_blocks > b->num_blocks - offset_blocks)
		return -ERANGE;
	if (type != BDEV_IO_READ && type != BDEV_IO_WRITE && !bdev_io_type_supported(b, type))
		return -ENOTSUP;
	io = io_alloc(ch);
	if (io == NULL)
		return -ENOMEM;
	io->type = type;
	io->offset_blocks = offset_blocks;
	io->num_blocks = num_blocks;
	io->offset = offset_blocks * b->block_size;
	io->len = num_blocks * b->block_size;
	io->iovs = NULL;
	io->iovcnt = 0;
	io->ch = ch;
	io->cb = cb;
	io->cb_arg = cb_arg;
	io->cmp_iovs = NULL;
	io->cmp_iovcnt = 0;
	io->bounce_iov.iov_base = NULL;
	io->parent = NULL;
	io->lock = NULL;
	io->start_ticks = reactor_get_ticks();
	io->flags = 0;
	io->status = 0;
	ch->outstanding++;
	*out = io;
	return 0;
}

static void io_release_unsubmitted(struct bdev_io *io)
{
	io->ch->outstanding--;
	TAILQ_INSERT_HEAD(&io->ch->free_ios, io, link);
}

static bool is_write_type(enum bdev_io_type t)
{
	return t == BDEV_IO_WRITE || t == BDEV_IO_WRITE_ZEROES || t == BDEV_IO_UNMAP;
}

static bool must_park(struct bdev_channel *ch, struct bdev_io *io)
{
	for (uint32_t i = 0; i < ch->nlocks; i++) {
		struct bdev_range_lock *l = ch->locks[i];

		if (l != io->lock &&
		    ranges_overlap(io->offset_blocks, io->offset_blocks + io->num_blocks, l->start, l->end))
			return true;
	}
	return false;
}

/* Hand a read/write/flush/zeroes/unmap to the backend (or park/queue it). */
static void io_submit_one(struct bdev_channel *ch, struct bdev_io *io)
{
	int rc;

	if (is_write_type(io->type)) {
		if (ch->nlocks != 0 && !(io->flags & IO_F_BYPASS) && must_park(ch, io)) {
			TAILQ_INSERT_TAIL(&ch->parked, io, link);
			return;
		}
		if (!(io->flags & IO_F_TRACKED)) {
			io->flags |= IO_F_TRACKED;
			TAILQ_INSERT_TAIL(&ch->writes, io, write_link);
		}
	}
	if (!TAILQ_EMPTY(&ch->queued)) { /* keep order behind what waits */
		TAILQ_INSERT_TAIL(&ch->queued, io, link);
		ch->stats.num_queued++;
		return;
	}
	rc = ch->bdev->backend->submit(ch->backend_ctx, io);
	if (rc == -EAGAIN) {
		TAILQ_INSERT_TAIL(&ch->queued, io, link);
		ch->stats.num_queued++;
	} else if (rc != 0) {
		bdev_io_complete_deferred(io, rc);
	}
}

static int check_iovs(struct bdev_channel *ch, const struct iovec *iovs, int iovcnt, uint64_t num_blocks)
{
	if (iovs == NULL || iovcnt <= 0)
		return -EINVAL;
	if (iov_len(iovs, iovcnt) != num_blocks * ch->bdev->block_size)
		return -EINVAL;
	return 0;
}

static int submit_rw(struct reactor_io_channel *ioch, enum bdev_io_type type, struct iovec *iovs, int iovcnt,
		     uint64_t offset_blocks, uint64_t num_blocks, bdev_io_cb cb, void *cb_arg)
{
	struct bdev_channel *ch = reactor_io_channel_get_ctx(ioch);
	struct bdev_io *io;
	int rc;

	rc = io_prepare(ioch, type, offset_blocks, num_blocks, cb, cb_arg, &io);
	if (rc != 0)
		return rc;
	if (type == BDEV_IO_READ || type == BDEV_IO_WRITE) {
		rc = check_iovs(ch, iovs, iovcnt, num_blocks);
		if (rc != 0) {
			io_release_unsubmitted(io);
			return rc;
		}
		io->iovs = iovs;
		io->iovcnt = iovcnt;
	}
	io_submit_one(ch, io);
	return 0;
}

int bdev_readv(struct reactor_io_channel *ch, struct iovec *iovs, int iovcnt, uint64_t offset_blocks,
	       uint64_t num_blocks, bdev_io_cb cb, void *cb_arg)
{
	return submit_rw(ch, BDEV_IO_READ, iovs, iovcnt, offset_blocks, num_blocks, cb, cb_arg);
}

int bdev_writev(struct reactor_io_channel *ch, struct iovec *iovs, int iovcnt, uint64_t offset_blocks,
		uint64_t num_blocks, bdev_io_cb cb, void *cb_arg)
{
	return submit_rw(ch, BDEV_IO_WRITE, iovs, iovcnt, offset_blocks, num_blocks, cb, cb_arg);
}

/* The single-buffer forms keep their iovec in the I/O's bounce_iov slot,
 * which plain reads and writes do not use. */
static int submit_buf(struct reactor_io_channel *ioch, enum bdev_io_type type, void *buf,
		      uint64_t offset_blocks, uint64_t num_blocks, bdev_io_cb cb, void *cb_arg)
{
	struct bdev_channel *ch = reactor_io_channel_get_ctx(ioch);
	struct bdev_io *io;
	int rc;

	if (buf == NULL)
		return -EINVAL;
	rc = io_prepare(ioch, type, offset_blocks, num_blocks, cb, cb_arg, &io);
	if (rc != 0)
		return rc;
	io->bounce_iov.iov_base = buf;
	io->bounce_iov.iov_len = io->len;
	io->iovs = &io->bounce_iov;
	io->iovcnt = 1;
	io_submit_one(ch, io);
	return 0;
}

int bdev_read(struct reactor_io_channel *ch, void *buf, uint64_t offset_blocks, uint64_t num_blocks,
	      bdev_io_cb cb, void *cb_arg)
{
	return submit_buf(ch, BDEV_IO_READ, buf, offset_blocks, num_blocks, cb, cb_arg);
}

int bdev_write(struct reactor_io_channel *ch, void *buf, uint64_t offset_blocks, uint64_t num_blocks,
	       bdev_io_cb cb, void *cb_arg)
{
	return submit_buf(ch, BDEV_IO_WRITE, buf, offset_blocks, num_blocks, cb, cb_arg);
}

int bdev_flush(struct reactor_io_channel *ch, uint64_t offset_blocks, uint64_t num_blocks, bdev_io_cb cb,
	       void *cb_arg)
{
	return submit_rw(ch, BDEV_IO_FLUSH, NULL, 0, offset_blocks, num_blocks, cb, cb_arg);
}

int bdev_write_zeroes(struct reactor_io_channel *ch, uint64_t offset_blocks, uint64_t num_blocks,
		      bdev_io_cb cb, void *cb_arg)
{
	return submit_rw(ch, BDEV_IO_WRITE_ZEROES, NULL, 0, offset_blocks, num_blocks, cb, cb_arg);
}

int bdev_unmap(struct reactor_io_channel *ch, uint64_t offset_blocks, uint64_t num_blocks, bdev_io_cb cb,
	       void *cb_arg)
{
	return submit_rw(ch, BDEV_IO_UNMAP, NULL, 0, offset_blocks, num_blocks, cb, cb_arg);
}

/* ---- compare ----------------------------------------------------------------- */

/* Whether @p buf (len bytes) equals the data of @p iovs. */
static bool iov_equal(const struct iovec *iovs, int iovcnt, const uint8_t *buf)
{
	for (int i = 0; i < iovcnt; i++) {
		if (memcmp(iovs[i].iov_base, buf, iovs[i].iov_len) != 0)
			return false;
		buf += iovs[i].iov_len;
	}
	return true;
}

/* Read @p parent's range into its bounce buffer; @p done runs with @p parent. */
static int read_into_bounce(struct bdev_io *parent, bdev_io_cb done)
{
	struct bdev_channel *ch = parent->ch;
	struct bdev_io *child = io_alloc(ch);
	void *buf = NULL;

	if (child == NULL || posix_memalign(&buf, 4096, parent->len) != 0) {
		if (child != NULL)
			TAILQ_INSERT_HEAD(&ch->free_ios, child, link);
		return -ENOMEM;
	}
	parent->bounce_iov.iov_base = buf;
	parent->bounce_iov.iov_len = parent->len;
	*child = (struct bdev_io){.type = BDEV_IO_READ,
				  .offset_blocks = parent->offset_blocks,
				  .num_blocks = parent->num_blocks,
				  .offset = parent->offset,
				  .len = parent->len,
				  .iovs = &parent->bounce_iov,
				  .iovcnt = 1,
				  .ch = ch,
				  .cb = done,
				  .cb_arg = parent,
				  .parent = parent,
				  .start_ticks = parent->start_ticks,
				  .flags = IO_F_INTERNAL};
	ch->outstanding++;
	io_submit_one(ch, child);
	return 0;
}

static void finish_parent(struct bdev_io *parent, int status)
{
	free(parent->bounce_iov.iov_base);
	parent->bounce_iov.iov_base = NULL;
	/* Completing from a child's callback: the parent never reached a
	 * backend, so this is an ordinary completion on the channel's thread. */
	bdev_io_complete(parent, status);
}

static void compare_read_done(void *arg, int status)
{
	struct bdev_io *parent = arg;

	if (status == 0 && !iov_equal(parent->iovs, parent->iovcnt, parent->bounce_iov.iov_base))
		status = -EILSEQ;
	finish_parent(parent, status);
}

int bdev_comparev(struct reactor_io_channel *ioch, struct iovec *iovs, int iovcnt, uint64_t offset_blocks,
		  uint64_t num_blocks, bdev_io_cb cb, void *cb_arg)
{
	struct bdev_channel *ch = reactor_io_channel_get_ctx(ioch);
	struct bdev_io *io;
	int rc;

	rc = io_prepare(ioch, BDEV_IO_COMPARE, offset_blocks, num_blocks, cb, cb_arg, &io);
	if (rc != 0)
		return rc;
	rc = check_iovs(ch, iovs, iovcnt, num_blocks);
	if (rc == 0) {
		io->iovs = iovs;
		io->iovcnt = iovcnt;
		rc = read_into_bounce(io, compare_read_done);
	}
	if (rc != 0) {
		io_release_unsubmitted(io);
		return rc;
	}
	return 0;
}

/* ---- compare-and-write: range locks ------------------------------------------- */

static void lock_walk(void *arg);

static void caw_write_done(void *arg, int status);
static void caw_unlock(struct bdev_io *parent, int status);

static void caw_compare_done(void *arg, int status)
{
	struct bdev_io *parent = arg;
	struct bdev_channel *ch = parent->ch;
	struct bdev_io *w;

	if (status == 0 && !iov_equal(parent->cmp_iovs, parent->cmp_iovcnt, parent->bounce_iov.iov_base))
		status = -EILSEQ;
	free(parent->bounce_iov.iov_base);
	parent->bounce_iov.iov_base = NULL;
	if (status != 0) {
		caw_unlock(parent, status);
		return;
	}
	w = io_alloc(ch);
	if (w == NULL) {
		caw_unlock(parent, -ENOMEM);
		return;
	}
	*w = (struct bdev_io){.type = BDEV_IO_WRITE,
			      .offset_blocks = parent->offset_blocks,
			      .num_blocks = parent->num_blocks,
			      .offset = parent->offset,
			      .len = parent->len,
			      .iovs = parent->iovs,
			      .iovcnt = parent->iovcnt,
			      .ch = ch,
			      .cb = caw_write_done,
			      .cb_arg = parent,
			      .parent = parent,
			      .lock = parent->lock,
			      .start_ticks = parent->start_ticks,
			      .flags = IO_F_INTERNAL | IO_F_BYPASS};
	ch->outstanding++;
	io_submit_one(ch, w);
}

static void caw_write_done(void *arg, int status)
{
	caw_unlock(arg, status);
}

static void lock_step(struct reactor_io_channel_iter *it)
{
	struct bdev_range_lock *l = reactor_io_channel_iter_get_ctx(it);
	struct bdev_channel *ch = reactor_io_channel_get_ctx(reactor_io_channel_iter_get_channel(it));
	bool present = false;

	for (uint32_t i = 0; i < ch->nlocks; i++)
		present |= ch->locks[i] == l;
	if (!present)
		ch->locks[ch->nlocks++] = l;
	if (has_overlapping_write(ch, l)) {
		l->wait_iter = it;
		ch->waiting[ch->nwaiting++] = l;
		return;
	}
	reactor_for_each_channel_continue(it, 0);
}

static void lock_walk_done(struct reactor_io_channel_iter *it, int status)
{
	struct bdev_range_lock *l = reactor_io_channel_iter_get_ctx(it);
	struct bdev_io *parent = l->owner;
	int rc = status;

	if (rc == 0)
		rc = read_into_bounce(parent, caw_compare_done);
	if (rc != 0)
		caw_unlock(parent, rc);
}

static void lock_walk(void *arg)
{
	struct bdev_range_lock *l = arg;
	int rc;

	rc = reactor_for_each_channel(l->owner->ch->bdev, lock_step, l, lock_walk_done);
	if (rc != 0)
		caw_unlock(l->owner, rc);
}

static void unlock_step(struct reactor_io_channel_iter *it)
{
	struct bdev_range_lock *l = reactor_io_channel_iter_get_ctx(it);
	struct bdev_channel *ch = reactor_io_channel_get_ctx(reactor_io_channel_iter_get_channel(it));
	struct bdev_io_list parked;
	struct bdev_io *io;

	for (uint32_t i = 0; i < ch->nlocks; i++) {
		if (ch->locks[i] == l) {
			ch->locks[i] = ch->locks[--ch->nlocks];
			break;
		}
	}
	/* Resubmit the parked writes in order; those still blocked park again. */
	TAILQ_INIT(&parked);
	TAILQ_CONCAT(&parked, &ch->parked, link);
	while ((io = TAILQ_FIRST(&parked)) != NULL) {
		TAILQ_REMOVE(&parked, io, link);
		io_submit_one(ch, io);
	}
	reactor_for_each_channel_continue(it, 0);
}

static void unlock_walk_done(struct reactor_io_channel_iter *it, int status)
{
	struct bdev_range_lock *l = reactor_io_channel_iter_get_ctx(it);
	struct bdev_io *parent = l->owner;
	struct bdev *b = parent->ch->bdev;
	struct bdev_range_lock *p, *tmp, *start[BDEV_MAX_LOCKS];
	uint32_t n = 0;

	(void)status;
	pthread_mutex_lock(&b->lock);
	TAILQ_REMOVE(&b->locks, l, link);
	b->nlocks--;
	/* Start the waiting locks that no longer overlap an active one. */
	for (p = TAILQ_FIRST(&b->pending); p != NULL; p = tmp) {
		struct bdev_range_lock *a;

		tmp = TAILQ_NEXT(p, link);
		bool busy = b->nlocks >= BDEV_MAX_LOCKS;
		TAILQ_FOREACH(a, &b->locks, link)
			busy |= ranges_overlap(a->start, a->end, p->start, p->end);
		if (busy)
			continue;
		TAILQ_REMOVE(&b->pending, p, link);
		TAILQ_INSERT_TAIL(&b->locks, p, link);
		b->nlocks++;
		start[n++] = p;
	}
	pthread_mutex_unlock(&b->lock);
	for (uint32_t i = 0; i < n; i++) {
		if (reactor_thread_send_msg(start[i]->thread, lock_walk, start[i]) != 0) {
			/* -EAGAIN: the message pool is exhausted; run the walk from
			 * here (reactor_for_each_channel works from any thread). */
			lock_walk(start[i]);
		}
	}
	finish_parent(parent, parent->status);
}

static void caw_unlock_retry(void *arg)
{
	struct bdev_io *parent = arg;

	caw_unlock(parent, parent->status);
}

static void caw_unlock(struct bdev_io *parent, int status)
{
	struct bdev_range_lock *l = parent->lock;
	struct bdev *b = parent->ch->bdev;

	parent->status = status;
	pthread_mutex_lock(&b->lock);
	l->releasing = true;
	pthread_mutex_unlock(&b->lock);
	if (reactor_for_each_channel(b, unlock_step, l, unlock_walk_done) == 0)
		return;
	/* Out of memory for the walk: try again from a message. */
	if (reactor_thread_send_msg(parent->ch->thread, caw_unlock_retry, parent) != 0)
		REACTOR_ERRLOG("bdev %s: cannot release a range lock: out of memory\n", b->name);
}

int bdev_compare_and_writev(struct reactor_io_channel *ioch, struct iovec *cmp_iovs, int cmp_iovcnt,
			    struct iovec *write_iovs, int write_iovcnt, uint64_t offset_blocks,
			    uint64_t num_blocks, bdev_io_cb cb, void *cb_arg)
{
	struct bdev_channel *ch = reactor_io_channel_get_ctx(ioch);
	struct bdev *b = ch->bdev;
	struct bdev_range_lock *l, *a;
	struct bdev_io *io;
	bool busy;
	int rc;

	rc = io_prepare(ioch, BDEV_IO_COMPARE_AND_WRITE, offset_blocks, num_blocks, cb, cb_arg, &io);
	if (rc != 0)
		return rc;
	if (check_iovs(ch, cmp_iovs, cmp_iovcnt, num_blocks) != 0 ||
	    check_iovs(ch, write_iovs, write_iovcnt, num_blocks) != 0) {
		io_release_unsubmitted(io);
		return -EINVAL;
	}
	io->cmp_iovs = cmp_iovs;
	io->cmp_iovcnt = cmp_iovcnt;
	io->iovs = write_iovs;
	io->iovcnt = write_iovcnt;
	l = (struct bdev_range_lock *)io->driver_ctx;
	*l = (struct bdev_range_lock){.start = offset_blocks,
				      .end = offset_blocks + num_blocks,
				      .owner = io,
				      .thread = ch->thread};
	io->lock = l;
	pthread_mutex_lock(&b->lock);
	busy = b->nlocks >= BDEV_MAX_LOCKS || !TAILQ_EMPTY(&b->pending);
	TAILQ_FOREACH(a, &b->locks, link)
		busy |= ranges_overlap(a->start, a->end, l->start, l->end);
	if (busy) {
		TAILQ_INSERT_TAIL(&b->pending, l, link);
	} else {
		TAILQ_INSERT_TAIL(&b->locks, l, link);
		b->nlocks++;
	}
	pthread_mutex_unlock(&b->lock);
	if (!busy)
		lock_walk(l);
	return 0;
}

/* ---- statistics ------------------------------------------------------------- */

struct stats_walk {
	struct bdev *bdev;
	struct bdev_stats sum;
	void (*cb)(struct bdev *bdev, const struct bdev_stats *stats, void *ctx);
	void *ctx;
};

static void stats_step(struct reactor_io_channel_iter *it)
{
	struct stats_walk *w = reactor_io_channel_iter_get_ctx(it);
	struct bdev_channel *ch = reactor_io_channel_get_ctx(reactor_io_channel_iter_get_channel(it));

	stats_add(&w->sum, &ch->stats);
	reactor_for_each_channel_continue(it, 0);
}

static void stats_done(struct reactor_io_channel_iter *it, int status)
{
	struct stats_walk *w = reactor_io_channel_iter_get_ctx(it);

	(void)status;
	pthread_mutex_lock(&w->bdev->lock);
	stats_add(&w->sum, &w->bdev->closed_stats);
	pthread_mutex_unlock(&w->bdev->lock);
	w->cb(w->bdev, &w->sum, w->ctx);
	bdev_put(w->bdev);
	free(w);
}

int bdev_get_stats(struct bdev *bdev, void (*cb)(struct bdev *bdev, const struct bdev_stats *stats, void *ctx),
		   void *ctx)
{
	struct stats_walk *w = calloc(1, sizeof(*w));
	int rc;

	if (w == NULL)
		return -ENOMEM;
	w->bdev = bdev;
	w->cb = cb;
	w->ctx = ctx;
	atomic_fetch_add(&bdev->refs, 1);
	rc = reactor_for_each_channel(bdev, stats_step, w, stats_done);
	if (rc != 0) {
		bdev_put(bdev);
		free(w);
	}
	return rc;
}
