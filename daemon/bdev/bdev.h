/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The daemon's block-device layer (internal: not part of libreactor's ABI).
 *
 * A bdev has a unique name, a block size (a power of two >= 512), a block
 * count and a UUID. Users take a per-thread channel (bdev_get_io_channel,
 * built on reactor_io_device_register: the struct bdev is the io_device)
 * and submit asynchronous I/O on it; the completion callback runs on the
 * submitting thread, never inside the submit call. I/O a backend cannot
 * take right now (-EAGAIN from the backend) is queued on the channel, in
 * order, and retried when an earlier I/O of that channel completes.
 *
 * Statuses given to completion callbacks: 0, -EILSEQ (compare or
 * compare-and-write miscompare), -ENOTSUP (the backend does not do that
 * type), or the backend's -errno. Submit calls return 0 (the callback will
 * run) or, without calling back: -EINVAL (length not a whole number of
 * blocks, zero blocks, iovecs shorter than the range), -ERANGE (past the
 * end of the device), -ENODEV (the device is being deleted).
 *
 * Compare-and-write serialisation: the range of a compare-and-write is
 * locked on every channel of the device (reactor_for_each_channel) before
 * the compare starts; each channel waits for its own in-flight writes to
 * that range to finish, and parks new writes (write, write zeroes, unmap,
 * another compare-and-write) that overlap it until the compare-and-write
 * has written and the lock is released. Overlapping compare-and-writes
 * wait for each other through a per-device list under a mutex that only
 * compare-and-write takes; plain I/O checks a per-channel list, lock-free.
 *
 * Threading: the registry (create, lookup, delete, iteration) may be used
 * from any thread; delete and I/O are made on lightweight threads. A
 * channel is used only on the thread that took it; put it only when its
 * I/O has completed.
 */
#ifndef DAEMON_BDEV_H
#define DAEMON_BDEV_H

#include <reactor.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/uio.h>

#define BDEV_NAME_MAX 64

enum bdev_io_type {
	BDEV_IO_READ,
	BDEV_IO_WRITE,
	BDEV_IO_FLUSH,
	BDEV_IO_WRITE_ZEROES,
	BDEV_IO_UNMAP,
	BDEV_IO_COMPARE,
	BDEV_IO_COMPARE_AND_WRITE,
	BDEV_IO_NTYPES
};

struct bdev;
struct bdev_io;
struct bdev_channel;

/** Completion of one I/O, on the submitting thread. */
typedef void (*bdev_io_cb)(void *cb_arg, int status);
/** Completion of bdev_delete(), on the thread that called it; status 0 or -errno. */
typedef void (*bdev_delete_cb)(void *cb_arg, int status);

/** Per-device or per-channel counters. Latencies in reactor ticks. */
struct bdev_stats {
	uint64_t num_read_ops, bytes_read, read_latency_ticks, max_read_latency_ticks;
	uint64_t num_write_ops, bytes_written, write_latency_ticks, max_write_latency_ticks;
	uint64_t num_unmap_ops, bytes_unmapped, unmap_latency_ticks;
	uint64_t num_write_zeroes_ops, bytes_zeroed;
	uint64_t num_flush_ops, num_compare_ops, num_caw_ops, num_miscompares;
	uint64_t num_errors, num_queued;
};

/* ---- backends ------------------------------------------------------------- */

/**
 * A backend. submit() gets an I/O whose range is checked; it returns 0 and
 * later calls bdev_io_complete() (on the channel's thread, not from
 * inside submit for asynchronous backends; synchronous backends may), or
 * -EAGAIN when it is full (the I/O is queued and retried), or another
 * -errno (the I/O completes with it). READ and WRITE always come;
 * COMPARE and COMPARE_AND_WRITE are built by the generic layer from READ
 * and WRITE; the others only if supports() says so.
 */
struct bdev_backend {
	const char *name;         /* "malloc", "null", "aio", "uring" */
	const char *product_name; /* SPDK's product_name in bdev_get_bdevs */
	uint32_t ch_ctx_size;     /* bytes of backend context in each channel */
	int (*ch_create)(struct bdev *bdev, void *ch_ctx);
	void (*ch_destroy)(struct bdev *bdev, void *ch_ctx);
	int (*submit)(void *ch_ctx, struct bdev_io *io);
	bool (*supports)(struct bdev *bdev, enum bdev_io_type type);
	/* Free the backend's resources; after the last channel is gone. */
	void (*destruct)(struct bdev *bdev);
	/* Append the create call to @p calls (save_config). */
	void (*write_config)(struct bdev *bdev, json_t *calls);
	/* Fill the backend's part of bdev_get_bdevs "driver_specific". May be NULL. */
	void (*dump_info)(struct bdev *bdev, json_t *driver_specific);
	/* Whether unmapped blocks read back as zeroes. */
	bool (*unmap_zeroes)(struct bdev *bdev);
};

/** One I/O as a backend sees it. */
struct bdev_io {
	enum bdev_io_type type;
	uint64_t offset_blocks, num_blocks;
	uint64_t offset, len;    /* the same in bytes */
	struct iovec *iovs;      /* data (READ, WRITE); NULL otherwise */
	int iovcnt;
	/* internal */
	struct bdev_channel *ch;
	bdev_io_cb cb;
	void *cb_arg;
	struct iovec *cmp_iovs;  /* compare-and-write: the data to compare */
	int cmp_iovcnt;
	struct iovec bounce_iov; /* compare: what was read */
	struct bdev_io *parent;  /* compare / compare-and-write step */
	struct bdev_range_lock *lock;
	uint64_t start_ticks;
	uint32_t flags;
	int status;
	TAILQ_ENTRY(bdev_io) link;        /* pool, queued, parked or done list */
	TAILQ_ENTRY(bdev_io) write_link;  /* channel's in-flight writes */
	/* The backend's per-I/O area (aligned). */
	uint64_t driver_ctx[16];
};

/** Complete @p io with @p status; on the channel's thread (calls back at once). */
void bdev_io_complete(struct bdev_io *io, int status);
/** Complete @p io later, from the channel's poller (for backends that finish inside submit). */
void bdev_io_complete_deferred(struct bdev_io *io, int status);
/** The thread of the channel @p io runs on. */
struct reactor_thread *bdev_io_get_thread(struct bdev_io *io);
/** The device of @p io. */
struct bdev *bdev_io_get_bdev(struct bdev_io *io);

/**
 * Register a new device (called by the backends' create functions, on any
 * thread). @p name is copied. @p uuid may be NULL (a random one is made)
 * or a textual UUID. Returns the device, or NULL with *@p rc: -EEXIST
 * (name taken), -EINVAL (empty or too long name, zero blocks, bad block
 * size or UUID), -ENOMEM.
 */
struct bdev *bdev_register(const char *name, uint32_t block_size, uint64_t num_blocks, const char *uuid,
			   const struct bdev_backend *backend, void *backend_ctx, int *rc);

/** Validate a block size: a power of two, at least 512. Returns 0 or -EINVAL. */
int bdev_check_block_size(uint32_t block_size);

/* ---- the registry --------------------------------------------------------- */

/** The device called @p name, or NULL. Any thread. */
struct bdev *bdev_get_by_name(const char *name);
/** Call @p fn on every device in creation order, under the registry lock (do not create or delete in it). */
void bdev_foreach(void (*fn)(struct bdev *bdev, void *ctx), void *ctx);

/**
 * Delete @p name: it leaves the registry at once (new channels fail),
 * then, once every channel has been put (their in-flight I/O completes
 * first), the backend is freed and @p cb(cb_arg, 0) runs on the calling
 * thread. -ENOENT (passed to cb, at once) when there is no such device.
 * Must be called on a lightweight thread.
 */
void bdev_delete(const char *name, const char *backend_name, bdev_delete_cb cb, void *cb_arg);

const char *bdev_get_name(const struct bdev *bdev);
uint32_t bdev_get_block_size(const struct bdev *bdev);
uint64_t bdev_get_num_blocks(const struct bdev *bdev);
const char *bdev_get_uuid(const struct bdev *bdev);
const struct bdev_backend *bdev_get_backend(const struct bdev *bdev);
void *bdev_get_backend_ctx(const struct bdev *bdev);
bool bdev_io_type_supported(struct bdev *bdev, enum bdev_io_type type);
/** The device's JSON description, as bdev_get_bdevs returns it (new reference). */
json_t *bdev_to_json(struct bdev *bdev);

/* ---- channels and I/O ---------------------------------------------------- */

/** This thread's channel of @p bdev (NULL with errno set: ENOENT, ENOMEM, or the backend's). */
struct reactor_io_channel *bdev_get_io_channel(struct bdev *bdev);
/** Put a channel once all its I/O has completed. */
void bdev_put_io_channel(struct reactor_io_channel *ch);

int bdev_readv(struct reactor_io_channel *ch, struct iovec *iovs, int iovcnt, uint64_t offset_blocks,
	       uint64_t num_blocks, bdev_io_cb cb, void *cb_arg);
int bdev_writev(struct reactor_io_channel *ch, struct iovec *iovs, int iovcnt, uint64_t offset_blocks,
		uint64_t num_blocks, bdev_io_cb cb, void *cb_arg);
int bdev_read(struct reactor_io_channel *ch, void *buf, uint64_t offset_blocks, uint64_t num_blocks,
	      bdev_io_cb cb, void *cb_arg);
int bdev_write(struct reactor_io_channel *ch, void *buf, uint64_t offset_blocks, uint64_t num_blocks,
	       bdev_io_cb cb, void *cb_arg);
int bdev_flush(struct reactor_io_channel *ch, uint64_t offset_blocks, uint64_t num_blocks, bdev_io_cb cb,
	       void *cb_arg);
int bdev_write_zeroes(struct reactor_io_channel *ch, uint64_t offset_blocks, uint64_t num_blocks,
		      bdev_io_cb cb, void *cb_arg);
int bdev_unmap(struct reactor_io_channel *ch, uint64_t offset_blocks, uint64_t num_blocks, bdev_io_cb cb,
	       void *cb_arg);
/** Complete with 0 if the range holds exactly @p iovs, -EILSEQ if not. */
int bdev_comparev(struct reactor_io_channel *ch, struct iovec *iovs, int iovcnt, uint64_t offset_blocks,
		  uint64_t num_blocks, bdev_io_cb cb, void *cb_arg);
/**
 * Atomically: if the range holds @p cmp_iovs, write @p write_iovs (status
 * 0), else write nothing (-EILSEQ). No other write to the range can come
 * in between (see the file comment).
 */
int bdev_compare_and_writev(struct reactor_io_channel *ch, struct iovec *cmp_iovs, int cmp_iovcnt,
			    struct iovec *write_iovs, int write_iovcnt, uint64_t offset_blocks,
			    uint64_t num_blocks, bdev_io_cb cb, void *cb_arg);

/**
 * Sum the statistics of every channel of @p bdev (and of the channels
 * already destroyed) into a struct given to @p cb on the calling thread.
 * On a lightweight thread. Returns 0 or -ENOMEM.
 */
int bdev_get_stats(struct bdev *bdev, void (*cb)(struct bdev *bdev, const struct bdev_stats *stats, void *ctx),
		   void *ctx);

/* ---- backends' create functions (malloc.c, null.c, file.c) --------------- */

int bdev_malloc_create(const char *name, uint64_t num_blocks, uint32_t block_size, const char *uuid,
		       struct bdev **out);
int bdev_null_create(const char *name, uint64_t num_blocks, uint32_t block_size, const char *uuid,
		     struct bdev **out);
/** io_uring depth / libaio queue size per channel (default 128); tests make it small. */
void bdev_file_set_queue_depth(uint32_t depth);
/**
 * A file backend on @p filename (regular file or block device).
 * block_size 0: the device's logical block size, or 512 for a file.
 * bdev_aio_create uses libaio; bdev_uring_create uses io_uring and falls
 * back to libaio (logged once) when io_uring cannot be set up. Errors:
 * -ENOENT, -EACCES (the open's errno), -EINVAL (size not a multiple of
 * the block size, bad block size, empty file), -ENOTSUP (built without
 * the needed library), plus bdev_register()'s.
 */
int bdev_aio_create(const char *name, const char *filename, uint32_t block_size, const char *uuid,
		    struct bdev **out);
int bdev_uring_create(const char *name, const char *filename, uint32_t block_size, const char *uuid,
		      struct bdev **out);
/** The engine the file device runs on: "io_uring" or "libaio". */
const char *bdev_file_engine(struct bdev *bdev);

/* ---- RPC and the "bdev" subsystem (rpc.c) --------------------------------- */

/**
 * Register the bdev_* RPC methods and the "bdev" subsystem (its fini
 * deletes every device; write_config saves them). Call before
 * reactor_app_start(); calling it again does nothing. Returns 0 or -errno.
 */
int bdev_module_init(void);

#endif /* DAEMON_BDEV_H */
