/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The file backend: a regular file or a block device, read and written
 * through io_uring (liburing) or libaio, one ring / AIO context per
 * channel. Both engines signal an eventfd that the channel registers with
 * reactor_fd_register(), so an idle adaptive reactor sleeps and wakes on
 * a completion; a poller submits io_uring's prepared SQEs in one batch per
 * loop iteration and reaps while I/O is in flight, for poll-mode latency. bdev_uring_create falls back to libaio when io_uring cannot be
 * set up (containers often forbid it), with one log line.
 *
 * O_DIRECT: a second descriptor opened with O_DIRECT (when the file
 * system takes it) carries reads and writes whose buffers, offsets and
 * lengths are aligned; others go through the page cache. If the kernel
 * refuses a direct I/O (EINVAL), the device stops using O_DIRECT (logged
 * once) and the I/O is reissued buffered.
 *
 * Flush (fdatasync), write zeroes and unmap (fallocate or the block
 * device ioctls) are done synchronously inside submit, then completed
 * from the channel's poller: they are rare and short on the backends
 * this serves. Unmapped blocks of a regular file read back as zeroes
 * (hole punching); on a block device that depends on the device.
 */
#include "config.h"
#include "bdev.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LIBURING
#include <liburing.h>
#endif
#ifdef HAVE_LIBAIO
#include <libaio.h>
#endif

enum file_engine { ENGINE_URING, ENGINE_AIO };

struct file_disk {
	char filename[PATH_MAX];
	const char *created_as; /* "aio" or "uring": the RPC family that made it */
	enum file_engine engine;
	int fd;
	int fd_direct; /* -1: none */
	uint32_t dio_align;
	bool is_blockdev;
	bool user_block_size; /* block_size was given (save it) */
	atomic_bool direct_off;
};

/* Per-I/O area: which descriptor carried it (the aio iocb comes first). */
struct file_io {
#ifdef HAVE_LIBAIO
	struct iocb iocb;
#endif
	bool direct;
};
_Static_assert(sizeof(struct file_io) <= sizeof(((struct bdev_io *)0)->driver_ctx), "file_io fits");

struct file_ch {
	struct bdev *bdev;
	struct file_disk *d;
	int efd;
	struct reactor_fd_event *fdev;
	struct reactor_poller *poller;
	uint32_t inflight, depth;
#ifdef HAVE_LIBURING
	struct io_uring ring;
	bool ring_ok;
#endif
#ifdef HAVE_LIBAIO
	io_context_t aio;
	struct io_event *events;
#endif
};

static _Atomic uint32_t g_depth = 128;
static atomic_bool g_uring_fallback_logged __attribute__((unused)); /* with libaio only */

void bdev_file_set_queue_depth(uint32_t depth)
{
	atomic_store(&g_depth, depth == 0 ? 128 : depth);
}

static int file_submit(void *ch_ctx, struct bdev_io *io);

/* ---- completion -------------------------------------------------------------- */

static __attribute__((unused)) void file_done(struct file_ch *fc, struct bdev_io *io, long res)
{
	struct file_io *fio = (struct file_io *)io->driver_ctx;
	int status = 0;

	fc->inflight--;
	if (res == -EINVAL && fio->direct) {
		if (!atomic_exchange(&fc->d->direct_off, true))
			REACTOR_WARNLOG("bdev %s: O_DIRECT refused on %s; using the page cache\n",
					bdev_get_name(fc->bdev), fc->d->filename);
		if (file_submit(fc, io) == 0)
			return;
		res = -EIO;
	}
	if (res < 0)
		status = (int)res;
	else if ((io->type == BDEV_IO_READ || io->type == BDEV_IO_WRITE) && (uint64_t)res != io->len)
		status = -EIO; /* short transfer inside the checked range: the file shrank */
	bdev_io_complete(io, status);
}

static int file_reap(struct file_ch *fc)
{
	int n = 0;

	if (fc->inflight == 0)
		return 0;
#ifdef HAVE_LIBURING
	if (fc->d->engine == ENGINE_URING) {
		struct io_uring_cqe *cqe;

		if (io_uring_sq_ready(&fc->ring) > 0) {
			int rc = io_uring_submit(&fc->ring);

			/* -EAGAIN/-EBUSY: the SQEs stay in the ring for the next poll. */
			if (rc < 0 && rc != -EAGAIN && rc != -EBUSY && rc != -EINTR)
				REACTOR_ERRLOG("bdev %s: io_uring_submit: %s\n", bdev_get_name(fc->bdev),
					       strerror(-rc));
			n += rc > 0 ? rc : 0;
		}
		while (io_uring_peek_cqe(&fc->ring, &cqe) == 0) {
			struct bdev_io *io = io_uring_cqe_get_data(cqe);
			long res = cqe->res;

			io_uring_cqe_seen(&fc->ring, cqe);
			file_done(fc, io, res);
			n++;
		}
		return n;
	}
#endif
#ifdef HAVE_LIBAIO
	if (fc->d->engine == ENGINE_AIO) {
		struct timespec zero = {0, 0};
		int got = io_getevents(fc->aio, 0, (long)fc->depth, fc->events, &zero);

		for (int i = 0; i < got; i++)
			file_done(fc, fc->events[i].data, (long)fc->events[i].res);
		n = got > 0 ? got : 0;
	}
#endif
	return n;
}

static int file_poll(void *arg)
{
	return file_reap(arg) > 0 ? REACTOR_POLLER_BUSY : REACTOR_POLLER_IDLE;
}

static int file_efd_cb(void *arg, uint32_t events)
{
	struct file_ch *fc = arg;
	uint64_t v;

	(void)events;
	if (read(fc->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		REACTOR_ERRLOG("bdev %s: eventfd read: %s\n", bdev_get_name(fc->bdev), strerror(errno));
	file_reap(fc);
	return REACTOR_POLLER_BUSY;
}

/* ---- synchronous operations ----------------------------------------------------- */

static int zero_by_writing(struct file_disk *d, uint64_t off, uint64_t len)
{
	static const uint8_t zeroes[65536];

	while (len > 0) {
		size_t n = len < sizeof(zeroes) ? (size_t)len : sizeof(zeroes);
		ssize_t w = pwrite(d->fd, zeroes, n, (off_t)off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return 0;
}

static int file_sync_op(struct file_disk *d, struct bdev_io *io)
{
	uint64_t range[2] = {io->offset, io->len};

	switch (io->type) {
	case BDEV_IO_FLUSH:
		return fdatasync(d->fd) == 0 ? 0 : -errno;
	case BDEV_IO_WRITE_ZEROES:
		if (d->is_blockdev)
			return ioctl(d->fd, BLKZEROOUT, range) == 0 ? 0 : -errno;
		if (fallocate(d->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)io->offset,
			      (off_t)io->len) == 0)
			return 0;
		return zero_by_writing(d, io->offset, io->len);
	case BDEV_IO_UNMAP:
		if (d->is_blockdev)
			return ioctl(d->fd, BLKDISCARD, range) == 0 ? 0 : -errno;
		if (fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)io->offset,
			      (off_t)io->len) == 0)
			return 0;
		return zero_by_writing(d, io->offset, io->len);
	default:
		return -ENOTSUP;
	}
}

/* ---- submission ------------------------------------------------------------------ */

static bool io_aligned(const struct bdev_io *io, uint32_t align)
{
	uint64_t mask = align - 1;

	if ((io->offset & mask) || (io->len & mask))
		return false;
	for (int i = 0; i < io->iovcnt; i++)
		if (((uintptr_t)io->iovs[i].iov_base & mask) || (io->iovs[i].iov_len & mask))
			return false;
	return true;
}

static int file_submit(void *ch_ctx, struct bdev_io *io)
{
	struct file_ch *fc = ch_ctx;
	struct file_disk *d = fc->d;
	struct file_io *fio = (struct file_io *)io->driver_ctx;
	int fd;

	if (io->type != BDEV_IO_READ && io->type != BDEV_IO_WRITE) {
		int rc = file_sync_op(d, io);

		bdev_io_complete_deferred(io, rc);
		return 0;
	}
	if (fc->inflight >= fc->depth)
		return -EAGAIN;
	fio->direct = d->fd_direct >= 0 && !atomic_load_explicit(&d->direct_off, memory_order_relaxed) &&
		      io_aligned(io, d->dio_align);
	fd = fio->direct ? d->fd_direct : d->fd;
#ifdef HAVE_LIBURING
	if (d->engine == ENGINE_URING) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&fc->ring);
		int rc;

		if (sqe == NULL)
			return -EAGAIN;
		if (io->type == BDEV_IO_READ)
			io_uring_prep_readv(sqe, fd, io->iovs, (unsigned)io->iovcnt, io->offset);
		else
			io_uring_prep_writev(sqe, fd, io->iovs, (unsigned)io->iovcnt, io->offset);
		io_uring_sqe_set_data(sqe, io);
		fc->inflight++;
		/* Submitted in a batch by the channel's poller (file_reap), which
		 * runs before the reactor can go idle: one system call for all
		 * the SQEs a loop iteration prepared. */
		(void)rc;
		return 0;
	}
#endif
#ifdef HAVE_LIBAIO
	if (d->engine == ENGINE_AIO) {
		struct iocb *iocb = &fio->iocb;
		int rc;

		if (io->type == BDEV_IO_READ)
			io_prep_preadv(iocb, fd, io->iovs, io->iovcnt, (long long)io->offset);
		else
			io_prep_pwritev(iocb, fd, io->iovs, io->iovcnt, (long long)io->offset);
		io_set_eventfd(iocb, fc->efd);
		iocb->data = io;
		rc = io_submit(fc->aio, 1, &iocb);
		if (rc == 1) {
			fc->inflight++;
			return 0;
		}
		return rc == -EAGAIN || rc == 0 ? -EAGAIN : rc;
	}
#endif
	(void)fd;
	return -ENOTSUP;
}

/* ---- channels -------------------------------------------------------------------- */

static int file_ch_create(struct bdev *bdev, void *ctx)
{
	struct file_ch *fc = ctx;
	int rc = -ENOTSUP;

	memset(fc, 0, sizeof(*fc));
	fc->bdev = bdev;
	fc->d = bdev_get_backend_ctx(bdev);
	fc->depth = atomic_load(&g_depth);
	fc->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fc->efd < 0)
		return -errno;
#ifdef HAVE_LIBURING
	if (fc->d->engine == ENGINE_URING) {
		rc = io_uring_queue_init(fc->depth, &fc->ring, 0);
		if (rc == 0) {
			fc->ring_ok = true;
			rc = io_uring_register_eventfd(&fc->ring, fc->efd);
		}
		if (rc != 0)
			REACTOR_ERRLOG("bdev %s: io_uring setup: %s\n", bdev_get_name(bdev), strerror(-rc));
	}
#endif
#ifdef HAVE_LIBAIO
	if (fc->d->engine == ENGINE_AIO) {
		fc->events = calloc(fc->depth, sizeof(*fc->events));
		rc = fc->events == NULL ? -ENOMEM : io_setup((int)fc->depth, &fc->aio);
		if (rc != 0)
			REACTOR_ERRLOG("bdev %s: io_setup: %s\n", bdev_get_name(bdev), strerror(-rc));
	}
#endif
	if (rc == 0) {
		fc->fdev = reactor_fd_register(fc->efd, REACTOR_FD_READ, file_efd_cb, fc, "bdev_file_efd");
		fc->poller = fc->fdev ? reactor_poller_register_named(file_poll, fc, 0, "bdev_file") : NULL;
		if (fc->poller == NULL)
			rc = -errno;
	}
	if (rc != 0) {
		reactor_fd_unregister(&fc->fdev);
#ifdef HAVE_LIBURING
		if (fc->ring_ok)
			io_uring_queue_exit(&fc->ring);
#endif
#ifdef HAVE_LIBAIO
		if (fc->aio)
			io_destroy(fc->aio);
		free(fc->events);
#endif
		close(fc->efd);
	}
	return rc;
}

static void file_ch_destroy(struct bdev *bdev, void *ctx)
{
	struct file_ch *fc = ctx;
	uint64_t deadline = reactor_get_ticks() + 30 * reactor_get_ticks_hz();

	/* In-flight I/O completes before its ring goes away. */
	while (fc->inflight > 0 && reactor_get_ticks() < deadline) {
		if (file_reap(fc) == 0) {
			struct timespec ts = {0, 100000};

			nanosleep(&ts, NULL);
		}
	}
	if (fc->inflight > 0)
		REACTOR_ERRLOG("bdev %s: %" PRIu32 " I/O never completed\n", bdev_get_name(bdev), fc->inflight);
	reactor_poller_unregister(&fc->poller);
	reactor_fd_unregister(&fc->fdev);
#ifdef HAVE_LIBURING
	if (fc->ring_ok)
		io_uring_queue_exit(&fc->ring);
#endif
#ifdef HAVE_LIBAIO
	if (fc->aio)
		io_destroy(fc->aio);
	free(fc->events);
#endif
	close(fc->efd);
}

/* ---- device --------------------------------------------------------------------- */

static bool file_supports(struct bdev *bdev, enum bdev_io_type type)
{
	(void)bdev;
	return type == BDEV_IO_FLUSH || type == BDEV_IO_WRITE_ZEROES || type == BDEV_IO_UNMAP;
}

static bool file_unmap_zeroes(struct bdev *bdev)
{
	struct file_disk *d = bdev_get_backend_ctx(bdev);

	return !d->is_blockdev;
}

static void file_destruct(struct bdev *bdev)
{
	struct file_disk *d = bdev_get_backend_ctx(bdev);

	/* Writes a host never flushed must still reach the disk when the device
	 * goes away (delete, or the daemon's shutdown); one call covers both fds. */
	if (fdatasync(d->fd) != 0)
		REACTOR_ERRLOG("bdev %s: fdatasync on delete failed: %s\n", bdev_get_name(bdev), strerror(errno));
	if (d->fd_direct >= 0)
		close(d->fd_direct);
	close(d->fd);
	free(d);
}

static void file_write_config(struct bdev *bdev, json_t *calls)
{
	struct file_disk *d = bdev_get_backend_ctx(bdev);
	json_t *params = json_pack("{s:s, s:s}", "name", bdev_get_name(bdev), "filename", d->filename);

	if (params == NULL)
		return;
	if (d->user_block_size)
		json_object_set_new(params, "block_size", json_integer(bdev_get_block_size(bdev)));
	json_object_set_new(params, "uuid", json_string(bdev_get_uuid(bdev)));
	json_array_append_new(calls, json_pack("{s:s, s:o}", "method",
					       strcmp(d->created_as, "aio") == 0 ? "bdev_aio_create"
										 : "bdev_uring_create",
					       "params", params));
}

static void file_dump_info(struct bdev *bdev, json_t *drv)
{
	struct file_disk *d = bdev_get_backend_ctx(bdev);

	json_object_set_new(drv, d->created_as,
			    json_pack("{s:s, s:s, s:b}", "filename", d->filename, "engine",
				      bdev_file_engine(bdev), "direct",
				      d->fd_direct >= 0 && !atomic_load(&d->direct_off)));
}

static const struct bdev_backend g_aio_backend = {
	.name = "aio",
	.product_name = "AIO disk",
	.ch_ctx_size = sizeof(struct file_ch),
	.ch_create = file_ch_create,
	.ch_destroy = file_ch_destroy,
	.submit = file_submit,
	.supports = file_supports,
	.destruct = file_destruct,
	.write_config = file_write_config,
	.dump_info = file_dump_info,
	.unmap_zeroes = file_unmap_zeroes,
};

static const struct bdev_backend g_uring_backend = {
	.name = "uring",
	.product_name = "URING bdev",
	.ch_ctx_size = sizeof(struct file_ch),
	.ch_create = file_ch_create,
	.ch_destroy = file_ch_destroy,
	.submit = file_submit,
	.supports = file_supports,
	.destruct = file_destruct,
	.write_config = file_write_config,
	.dump_info = file_dump_info,
	.unmap_zeroes = file_unmap_zeroes,
};

const char *bdev_file_engine(struct bdev *bdev)
{
	struct file_disk *d = bdev_get_backend_ctx(bdev);

	return d->engine == ENGINE_URING ? "io_uring" : "libaio";
}

/* Pick the engine: io_uring if asked and it works here, else libaio. */
static int choose_engine(const char *name, bool want_uring, enum file_engine *engine)
{
	if (want_uring) {
#ifdef HAVE_LIBURING
		struct io_uring probe;
		int rc = io_uring_queue_init(4, &probe, 0);

		if (rc == 0) {
			io_uring_queue_exit(&probe);
			*engine = ENGINE_URING;
			return 0;
		}
#ifdef HAVE_LIBAIO
		if (!atomic_exchange(&g_uring_fallback_logged, true))
			REACTOR_WARNLOG("io_uring is not available (%s); file bdevs use libaio\n", strerror(-rc));
		*engine = ENGINE_AIO;
		return 0;
#else
		REACTOR_ERRLOG("bdev %s: io_uring is not available (%s) and libaio support is not built in\n",
			       name, strerror(-rc));
		return -ENOTSUP;
#endif
#elif defined(HAVE_LIBAIO)
		if (!atomic_exchange(&g_uring_fallback_logged, true))
			REACTOR_WARNLOG("built without liburing; file bdevs use libaio\n");
		*engine = ENGINE_AIO;
		return 0;
#endif
	} else {
#ifdef HAVE_LIBAIO
		*engine = ENGINE_AIO;
		return 0;
#endif
	}
	REACTOR_ERRLOG("bdev %s: built without %s (configure --with-liburing / --with-libaio)\n", name,
		       want_uring ? "liburing and libaio" : "libaio");
	return -ENOTSUP;
}

static int file_create(const char *name, const char *filename, uint32_t block_size, const char *uuid,
		       bool want_uring, struct bdev **out)
{
	struct file_disk *d;
	struct stat st;
	uint64_t size;
	uint32_t lbs = 512;
	struct bdev *b;
	int rc;

	if (name == NULL || filename == NULL || filename[0] == '\0')
		return -EINVAL;
	if (strlen(filename) >= PATH_MAX)
		return -ENAMETOOLONG;
	if (block_size != 0 && bdev_check_block_size(block_size) != 0) {
		REACTOR_ERRLOG("bdev %s: block size %" PRIu32 " is not a power of two >= 512\n", name, block_size);
		return -EINVAL;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	d->fd_direct = -1;
	d->created_as = want_uring ? "uring" : "aio";
	snprintf(d->filename, sizeof(d->filename), "%s", filename);
	rc = choose_engine(name, want_uring, &d->engine);
	if (rc != 0)
		goto err_free;
	d->fd = open(filename, O_RDWR | O_CLOEXEC);
	if (d->fd < 0) {
		rc = -errno;
		REACTOR_ERRLOG("bdev %s: cannot open %s: %s\n", name, filename, strerror(errno));
		goto err_free;
	}
	if (fstat(d->fd, &st) != 0) {
		rc = -errno;
		goto err_close;
	}
	if (S_ISBLK(st.st_mode)) {
		int ss = 0;

		d->is_blockdev = true;
		if (ioctl(d->fd, BLKGETSIZE64, &size) != 0) {
			rc = -errno;
			goto err_close;
		}
		if (ioctl(d->fd, BLKSSZGET, &ss) == 0 && ss > 0)
			lbs = (uint32_t)ss;
	} else if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else {
		REACTOR_ERRLOG("bdev %s: %s is neither a regular file nor a block device\n", name, filename);
		rc = -EINVAL;
		goto err_close;
	}
	d->user_block_size = block_size != 0;
	if (block_size == 0)
		block_size = lbs;
	if (block_size < lbs) {
		REACTOR_ERRLOG("bdev %s: block size %" PRIu32 " is below the device's logical block size %" PRIu32
			       "\n", name, block_size, lbs);
		rc = -EINVAL;
		goto err_close;
	}
	if (size == 0 || size % block_size != 0) {
		REACTOR_ERRLOG("bdev %s: size of %s (%" PRIu64 " bytes) is %s the block size %" PRIu32 "\n", name,
			       filename, size, size == 0 ? "zero, not a multiple of" : "not a multiple of",
			       block_size);
		rc = -EINVAL;
		goto err_close;
	}
	d->dio_align = lbs;
	d->fd_direct = open(filename, O_RDWR | O_CLOEXEC | O_DIRECT);
	b = bdev_register(name, block_size, size / block_size, uuid, want_uring ? &g_uring_backend : &g_aio_backend,
			  d, &rc);
	if (b == NULL)
		goto err_close;
	REACTOR_NOTICELOG("bdev %s: %s, %" PRIu64 " blocks of %" PRIu32 " bytes, %s%s\n", name, filename,
			  size / block_size, block_size, d->engine == ENGINE_URING ? "io_uring" : "libaio",
			  d->fd_direct >= 0 ? ", O_DIRECT when aligned" : "");
	if (out != NULL)
		*out = b;
	return 0;

err_close:
	if (d->fd_direct >= 0)
		close(d->fd_direct);
	close(d->fd);
err_free:
	free(d);
	return rc;
}

int bdev_aio_create(const char *name, const char *filename, uint32_t block_size, const char *uuid,
		    struct bdev **out)
{
	return file_create(name, filename, block_size, uuid, false, out);
}

int bdev_uring_create(const char *name, const char *filename, uint32_t block_size, const char *uuid,
		      struct bdev **out)
{
	return file_create(name, filename, block_size, uuid, true, out);
}
