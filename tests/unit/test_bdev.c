/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The daemon's block-device layer, in an app started in-process: every
 * backend with byte-exact data verification (patterns, compare and
 * miscompare, compare-and-write, write zeroes, unmap), concurrency from
 * lightweight threads on both reactors, compare-and-write atomicity
 * (concurrent increments of one counter block), queueing when the
 * io_uring/libaio depth is tiny, the file's data surviving delete and
 * re-create, every bad-input case, and the RPC methods over the socket.
 *
 * The test body runs on a plain pthread; each I/O step is sent to a
 * lightweight thread and waited for with a timeout.
 */
#include "rpc_helpers.h"

#include "bdev.h"

#include <sys/fsuid.h>

#define BS 512u

struct worker {
	struct reactor_thread *thread;
	struct reactor_io_channel *ch;
};

enum op_kind {
	OP_GET, OP_PUT, OP_READ, OP_WRITE, OP_FLUSH, OP_WZ, OP_UNMAP, OP_CMP, OP_CAW, OP_DELETE, OP_STATS,
	OP_BURST, OP_INCR, OP_READV_HALF, OP_HAMMER,
};

struct op {
	enum op_kind kind;
	struct worker *w;
	struct bdev *bdev;
	const char *name;
	void *buf, *buf2;
	uint64_t off, n;
	int submit_rc;
	int status;
	struct bdev_stats stats;
	/* OP_BURST / OP_INCR */
	int count, inflight, ok;
	uint8_t *bufs;
	uint32_t value;
	struct iovec iov[2];
	atomic_long done;
	atomic_long *stop; /* OP_HAMMER: write until set */
	long writes;
};

/* Blocks a counter op covers (n 0 means 1). */
static uint64_t incr_blocks(const struct op *op)
{
	return op->n ? op->n : 1;
}

static struct reactor_thread *g_threads[2];

static void op_cb(void *arg, int status)
{
	struct op *op = arg;

	op->status = status;
	atomic_store(&op->done, 1);
}

static void delete_cb(void *arg, int status)
{
	op_cb(arg, status);
}

static void stats_cb(struct bdev *bdev, const struct bdev_stats *s, void *arg)
{
	struct op *op = arg;

	(void)bdev;
	op->stats = *s;
	op_cb(op, 0);
}

/* OP_BURST: op->count writes of one block each, all submitted at once. */
static void burst_cb(void *arg, int status)
{
	struct op *op = arg;

	if (status != 0)
		op->status = status;
	if (--op->inflight == 0)
		atomic_store(&op->done, 1);
}

/*
 * OP_INCR: compare-and-write increments of the counter in block op->off
 * until op->count succeed. Only the counter block is read back; with
 * n == 2 the second block of buf holds what the caller knows is there.
 */
static void incr_step(struct op *op);

static void incr_read_done(void *arg, int status)
{
	struct op *op = arg;

	if (status != 0) {
		op->status = status;
		atomic_store(&op->done, 1);
		return;
	}
	incr_step(op);
}

static void incr_caw_done(void *arg, int status)
{
	struct op *op = arg;
	int rc;

	if (status == 0) {
		if (++op->ok == op->count) {
			atomic_store(&op->done, 1);
			return;
		}
		memcpy(op->buf, op->buf2, incr_blocks(op) * BS); /* what we wrote is the new expected value */
		incr_step(op);
		return;
	}
	if (status != -EILSEQ) {
		op->status = status;
		atomic_store(&op->done, 1);
		return;
	}
	op->inflight++; /* miscompares: someone else won; re-read */
	rc = bdev_read(op->w->ch, op->buf, op->off, 1, incr_read_done, op);
	if (rc != 0) {
		op->status = rc;
		atomic_store(&op->done, 1);
	}
}

static void incr_step(struct op *op)
{
	uint32_t v;
	int rc;

	memcpy(&v, op->buf, sizeof(v));
	memcpy(op->buf2, op->buf, incr_blocks(op) * BS);
	v++;
	memcpy(op->buf2, &v, sizeof(v));
	op->iov[0] = (struct iovec){op->buf, incr_blocks(op) * BS};
	op->iov[1] = (struct iovec){op->buf2, incr_blocks(op) * BS};
	rc = bdev_compare_and_writev(op->w->ch, &op->iov[0], 1, &op->iov[1], 1, op->off, incr_blocks(op),
				     incr_caw_done, op);
	if (rc != 0) {
		op->status = rc;
		atomic_store(&op->done, 1);
	}
}

/* OP_HAMMER: plain writes of op->buf to [off, off + n), one after another, until *stop. */
static void hammer_done(void *arg, int status)
{
	struct op *op = arg;
	int rc;

	op->writes++;
	if (status != 0 || atomic_load(op->stop)) {
		op->status = status;
		atomic_store(&op->done, 1);
		return;
	}
	rc = bdev_write(op->w->ch, op->buf, op->off, op->n, hammer_done, op);
	if (rc != 0) {
		op->status = rc;
		atomic_store(&op->done, 1);
	}
}

static void op_exec(void *arg)
{
	struct op *op = arg;
	struct worker *w = op->w;
	int rc = 0;

	switch (op->kind) {
	case OP_GET:
		w->ch = bdev_get_io_channel(op->bdev);
		op->status = w->ch ? 0 : -errno;
		atomic_store(&op->done, 1);
		return;
	case OP_PUT:
		bdev_put_io_channel(w->ch);
		w->ch = NULL;
		atomic_store(&op->done, 1);
		return;
	case OP_READ:
		rc = bdev_read(w->ch, op->buf, op->off, op->n, op_cb, op);
		break;
	case OP_WRITE:
		rc = bdev_write(w->ch, op->buf, op->off, op->n, op_cb, op);
		break;
	case OP_READV_HALF: /* a length that is not a whole number of blocks */
		op->iov[0] = (struct iovec){op->buf, BS / 2};
		rc = bdev_readv(w->ch, op->iov, 1, op->off, op->n, op_cb, op);
		break;
	case OP_FLUSH:
		rc = bdev_flush(w->ch, op->off, op->n, op_cb, op);
		break;
	case OP_WZ:
		rc = bdev_write_zeroes(w->ch, op->off, op->n, op_cb, op);
		break;
	case OP_UNMAP:
		rc = bdev_unmap(w->ch, op->off, op->n, op_cb, op);
		break;
	case OP_CMP:
		op->iov[0] = (struct iovec){op->buf, op->n * BS};
		rc = bdev_comparev(w->ch, op->iov, 1, op->off, op->n, op_cb, op);
		break;
	case OP_CAW:
		op->iov[0] = (struct iovec){op->buf, op->n * BS};
		op->iov[1] = (struct iovec){op->buf2, op->n * BS};
		rc = bdev_compare_and_writev(w->ch, &op->iov[0], 1, &op->iov[1], 1, op->off, op->n, op_cb, op);
		break;
	case OP_DELETE:
		bdev_delete(op->name, NULL, delete_cb, op);
		return;
	case OP_STATS:
		rc = bdev_get_stats(op->bdev, stats_cb, op);
		break;
	case OP_BURST:
		op->inflight = op->count;
		for (int i = 0; i < op->count; i++) {
			rc = bdev_write(w->ch, op->bufs + (size_t)i * BS, op->off + (uint64_t)i, 1, burst_cb, op);
			if (rc != 0) {
				op->submit_rc = rc;
				op->inflight -= op->count - i;
				if (op->inflight == 0)
					atomic_store(&op->done, 1);
				return;
			}
		}
		return;
	case OP_INCR:
		rc = bdev_read(w->ch, op->buf, op->off, 1, incr_read_done, op);
		break;
	case OP_HAMMER:
		rc = bdev_write(w->ch, op->buf, op->off, op->n, hammer_done, op);
		break;
	}
	if (rc != 0) {
		op->submit_rc = rc;
		atomic_store(&op->done, 1);
	}
}

/* Run @p op on its worker's thread and wait. Returns false on timeout. */
static bool run_op(struct op *op)
{
	atomic_store(&op->done, 0);
	op->submit_rc = 0;
	op->status = 0;
	if (reactor_thread_send_msg(op->w->thread, op_exec, op) != 0) {
		H_FAIL("send_msg");
		return false;
	}
	return h_wait_ge(&op->done, 1, 20000, "a bdev operation");
}

/* One synchronous I/O; returns the submit error or the completion status. */
static int io(struct worker *w, enum op_kind kind, void *buf, void *buf2, uint64_t off, uint64_t n)
{
	struct op op = {.kind = kind, .w = w, .buf = buf, .buf2 = buf2, .off = off, .n = n};

	if (!run_op(&op))
		return -ETIMEDOUT;
	return op.submit_rc != 0 ? op.submit_rc : op.status;
}

static int get_ch(struct worker *w, struct bdev *b)
{
	struct op op = {.kind = OP_GET, .w = w, .bdev = b};

	if (!run_op(&op))
		return -ETIMEDOUT;
	return op.status;
}

static void put_ch(struct worker *w)
{
	struct op op = {.kind = OP_PUT, .w = w};

	run_op(&op);
}

static int delete_bdev(struct worker *w, const char *name)
{
	struct op op = {.kind = OP_DELETE, .w = w, .name = name};

	if (!run_op(&op))
		return -ETIMEDOUT;
	return op.status;
}

static void *amalloc(size_t len)
{
	void *p = NULL;

	return posix_memalign(&p, 4096, len) == 0 ? p : NULL;
}

static void fill(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)((i * 131u + seed * 7u + (i >> 9)) ^ seed);
}

static bool is_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* ---- app plumbing ------------------------------------------------------------ */

/* Two workers, one per reactor; created from the body's pthread (any thread may). */
static void make_threads(void)
{
	for (int i = 0; i < 2; i++) {
		struct reactor_cpuset *m = reactor_cpuset_create();

		reactor_cpuset_set(m, h_app_cpu((unsigned)i));
		g_threads[i] = reactor_thread_create(i == 0 ? "bdev_w0" : "bdev_w1", m);
		reactor_cpuset_destroy(m);
	}
}

static void run_app(void (*body)(void *), void *ctx)
{
	struct reactor_app_opts o;

	assert_true(h_app_opts(&o, 2));
	g_threads[0] = g_threads[1] = NULL;
	assert_int_equal(h_app_run(&o, body, ctx), 0);
	h_assert_no_failures();
}

static void body_prologue(struct worker *w)
{
	make_threads();
	if (g_threads[0] == NULL || g_threads[1] == NULL)
		H_FAIL("worker threads not created: %s", strerror(errno));
	w[0] = (struct worker){.thread = g_threads[0]};
	w[1] = (struct worker){.thread = g_threads[1]};
}

/* ---- data verification common to every backend -------------------------------- */

static char g_file[128];

static void make_file(size_t size)
{
	int fd;

	snprintf(g_file, sizeof(g_file), "/var/tmp/test_bdev-%d.img", (int)getpid());
	fd = open(g_file, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	close(fd);
}

static void verify_backend(struct worker *w, struct bdev *b, bool data_kept, bool unmap_zeroes)
{
	uint64_t nb = bdev_get_num_blocks(b);
	size_t len = 8 * BS;
	uint8_t *a, *r, *c;

	if (posix_memalign((void **)&a, 4096, len) || posix_memalign((void **)&r, 4096, len) ||
	    posix_memalign((void **)&c, 4096, len)) {
		H_FAIL("memalign");
		return;
	}
	H_CHECK_INT(get_ch(&w[0], b), ==, 0);
	H_CHECK_INT(get_ch(&w[1], b), ==, 0);

	/* write on one reactor, read back on the other */
	fill(a, len, 1);
	H_CHECK_INT(io(&w[0], OP_WRITE, a, NULL, 8, 8), ==, 0);
	memset(r, 0xee, len);
	H_CHECK_INT(io(&w[1], OP_READ, r, NULL, 8, 8), ==, 0);
	if (data_kept)
		H_CHECK(memcmp(a, r, len) == 0);
	else
		H_CHECK(is_zero(r, len));
	/* last block of the device, and an unaligned buffer (page cache path) */
	H_CHECK_INT(io(&w[1], OP_WRITE, a + 1, NULL, nb - 1, 1), ==, 0);
	memset(r, 0, len);
	H_CHECK_INT(io(&w[0], OP_READ, r + 3, NULL, nb - 1, 1), ==, 0);
	if (data_kept)
		H_CHECK(memcmp(a + 1, r + 3, BS) == 0);

	/* compare: success and miscompare */
	if (data_kept) {
		H_CHECK_INT(io(&w[0], OP_CMP, a, NULL, 8, 8), ==, 0);
		memcpy(c, a, len);
		c[len - 1] ^= 0x40;
		H_CHECK_INT(io(&w[1], OP_CMP, c, NULL, 8, 8), ==, -EILSEQ);

		/* compare-and-write: a miscompare writes nothing, a match writes */
		fill(r, len, 9);
		H_CHECK_INT(io(&w[0], OP_CAW, c, r, 8, 8), ==, -EILSEQ);
		H_CHECK_INT(io(&w[0], OP_CMP, a, NULL, 8, 8), ==, 0);
		H_CHECK_INT(io(&w[1], OP_CAW, a, r, 8, 8), ==, 0);
		H_CHECK_INT(io(&w[0], OP_CMP, r, NULL, 8, 8), ==, 0);
	} else {
		memset(c, 0, len);
		H_CHECK_INT(io(&w[0], OP_CMP, c, NULL, 8, 8), ==, 0);
		H_CHECK_INT(io(&w[0], OP_CMP, a, NULL, 8, 8), ==, -EILSEQ);
	}

	/* write zeroes and unmap */
	fill(a, len, 3);
	H_CHECK_INT(io(&w[0], OP_WRITE, a, NULL, 32, 8), ==, 0);
	H_CHECK_INT(io(&w[1], OP_WZ, NULL, NULL, 33, 2), ==, 0);
	memset(r, 0xee, len);
	H_CHECK_INT(io(&w[0], OP_READ, r, NULL, 32, 8), ==, 0);
	if (data_kept) {
		H_CHECK(memcmp(r, a, BS) == 0);
		H_CHECK(is_zero(r + BS, 2 * BS));
		H_CHECK(memcmp(r + 3 * BS, a + 3 * BS, 5 * BS) == 0);
	}
	H_CHECK_INT(io(&w[1], OP_UNMAP, NULL, NULL, 32, 8), ==, 0);
	memset(r, 0xee, len);
	H_CHECK_INT(io(&w[0], OP_READ, r, NULL, 32, 8), ==, 0);
	if (unmap_zeroes)
		H_CHECK(is_zero(r, len));
	H_CHECK_INT(io(&w[0], OP_FLUSH, NULL, NULL, 0, nb), ==, 0);

	/* bad I/O: past the end, zero blocks, misaligned length */
	H_CHECK_INT(io(&w[0], OP_READ, r, NULL, nb, 1), ==, -ERANGE);
	H_CHECK_INT(io(&w[0], OP_WRITE, a, NULL, nb - 1, 2), ==, -ERANGE);
	H_CHECK_INT(io(&w[0], OP_READ, r, NULL, UINT64_MAX, 2), ==, -ERANGE);
	H_CHECK_INT(io(&w[0], OP_WRITE, a, NULL, 0, 0), ==, -EINVAL);
	H_CHECK_INT(io(&w[0], OP_READV_HALF, r, NULL, 0, 1), ==, -EINVAL);

	put_ch(&w[0]);
	put_ch(&w[1]);
	free(a);
	free(r);
	free(c);
}

struct backend_case {
	const char *kind;
	int rc;
};

static void body_backends(void *arg)
{
	struct worker w[2];
	struct bdev *b = NULL;

	(void)arg;
	body_prologue(w);

	H_CHECK_INT(bdev_malloc_create("m0", 4096, BS, NULL, &b), ==, 0);
	verify_backend(w, b, true, true);
	H_CHECK_INT(delete_bdev(&w[0], "m0"), ==, 0);

	H_CHECK_INT(bdev_null_create("n0", 4096, BS, NULL, &b), ==, 0);
	verify_backend(w, b, false, true);
	H_CHECK_INT(delete_bdev(&w[1], "n0"), ==, 0);

	H_CHECK_INT(bdev_uring_create("u0", g_file, 0, NULL, &b), ==, 0);
	verify_backend(w, b, true, true);
	H_CHECK_INT(delete_bdev(&w[0], "u0"), ==, 0);

	H_CHECK_INT(bdev_aio_create("a0", g_file, 4096, NULL, &b), ==, 0);
	if (b != NULL && bdev_get_block_size(b) != 4096)
		H_FAIL("aio block size");
	H_CHECK_INT(delete_bdev(&w[0], "a0"), ==, 0);
	H_CHECK_INT(bdev_aio_create("a0", g_file, BS, NULL, &b), ==, 0);
	verify_backend(w, b, true, true);
	H_CHECK_INT(delete_bdev(&w[0], "a0"), ==, 0);
}

static void test_backends(void **state)
{
	(void)state;
	H_BEGIN_TIMEOUT(120);
	make_file(1 << 20);
	run_app(body_backends, NULL);
	unlink(g_file);
}

/* ---- the file's data survives delete and re-create --------------------------- */

static void body_persist(void *arg)
{
	struct worker w[2];
	struct bdev *b = NULL;
	uint8_t *a, *r;

	(void)arg;
	body_prologue(w);
	a = aligned_alloc(4096, 64 * BS);
	r = aligned_alloc(4096, 64 * BS);
	fill(a, 64 * BS, 77);

	H_CHECK_INT(bdev_uring_create("f0", g_file, BS, NULL, &b), ==, 0);
	H_CHECK_INT(get_ch(&w[0], b), ==, 0);
	H_CHECK_INT(io(&w[0], OP_WRITE, a, NULL, 100, 64), ==, 0);
	H_CHECK_INT(io(&w[0], OP_FLUSH, NULL, NULL, 0, 0), ==, 0);
	put_ch(&w[0]);
	H_CHECK_INT(delete_bdev(&w[0], "f0"), ==, 0);

	H_CHECK_INT(bdev_aio_create("f0", g_file, BS, NULL, &b), ==, 0);
	H_CHECK_INT(get_ch(&w[1], b), ==, 0);
	memset(r, 0, 64 * BS);
	H_CHECK_INT(io(&w[1], OP_READ, r, NULL, 100, 64), ==, 0);
	H_CHECK(memcmp(a, r, 64 * BS) == 0);
	put_ch(&w[1]);
	H_CHECK_INT(delete_bdev(&w[1], "f0"), ==, 0);
	free(a);
	free(r);
}

static void test_file_persists(void **state)
{
	int fd;
	uint8_t *a = aligned_alloc(4096, 64 * BS), *r = aligned_alloc(4096, 64 * BS);

	(void)state;
	H_BEGIN();
	make_file(1 << 20);
	run_app(body_persist, NULL);
	/* and it is really in the file */
	fill(a, 64 * BS, 77);
	fd = open(g_file, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, r, 64 * BS, 100 * BS), 64 * BS);
	close(fd);
	assert_memory_equal(a, r, 64 * BS);
	unlink(g_file);
	free(a);
	free(r);
}

/* ---- queueing when the backend is full ------------------------------------------ */

static void body_queue(void *arg)
{
	const char *which = arg;
	struct worker w[2];
	struct bdev *b = NULL;
	struct op op = {.kind = OP_BURST, .count = 200, .off = 10};
	struct op st = {.kind = OP_STATS};
	uint8_t *bufs, *r;

	body_prologue(w);
	bufs = aligned_alloc(4096, 200 * BS);
	r = aligned_alloc(4096, 200 * BS);
	fill(bufs, 200 * BS, 5);
	bdev_file_set_queue_depth(2);
	H_CHECK_INT(strcmp(which, "uring") == 0 ? bdev_uring_create("q0", g_file, BS, NULL, &b)
						 : bdev_aio_create("q0", g_file, BS, NULL, &b), ==, 0);
	bdev_file_set_queue_depth(0);
	H_CHECK_INT(get_ch(&w[0], b), ==, 0);
	op.w = &w[0];
	op.bufs = bufs;
	run_op(&op);
	H_CHECK_INT(op.submit_rc, ==, 0);
	H_CHECK_INT(op.status, ==, 0);
	H_CHECK_INT(io(&w[0], OP_READ, r, NULL, 10, 200), ==, 0);
	H_CHECK(memcmp(bufs, r, 200 * BS) == 0);
	st.w = &w[0];
	st.bdev = b;
	run_op(&st);
	H_CHECK_INT(st.stats.num_write_ops, ==, 200);
	H_CHECK(st.stats.num_queued > 0);
	put_ch(&w[0]);
	H_CHECK_INT(delete_bdev(&w[0], "q0"), ==, 0);
	free(bufs);
	free(r);
}

static void test_queue_when_full(void **state)
{
	(void)state;
	H_BEGIN();
	make_file(1 << 20);
	run_app(body_queue, "uring");
	run_app(body_queue, "aio");
	unlink(g_file);
}

/* ---- concurrency: both reactors, several threads, compare-and-write counter ------- */

#define NW 4

struct conc {
	struct worker w[NW];
	struct op ops[NW];
};

static void body_concurrency(void *arg)
{
	const char *kind = arg;
	struct worker base[2];
	struct conc *c = calloc(1, sizeof(*c));
	struct bdev *b = NULL;
	uint8_t *zero = amalloc(BS), *r = aligned_alloc(4096, 64 * NW * BS);
	int per = (int)h_scaled(200, 20);
	uint32_t v;

	body_prologue(base);
	memset(zero, 0, BS);
	if (strcmp(kind, "malloc") == 0)
		H_CHECK_INT(bdev_malloc_create("c0", 1024, BS, NULL, &b), ==, 0);
	else
		H_CHECK_INT(bdev_uring_create("c0", g_file, BS, NULL, &b), ==, 0);
	/* NW lightweight threads, alternating between the two reactors */
	for (int i = 0; i < NW; i++) {
		struct reactor_cpuset *m = reactor_cpuset_create();

		reactor_cpuset_set(m, h_app_cpu((unsigned)(i % 2)));
		c->w[i].thread = reactor_thread_create(NULL, m);
		reactor_cpuset_destroy(m);
		H_CHECK(c->w[i].thread != NULL);
		H_CHECK_INT(get_ch(&c->w[i], b), ==, 0);
	}
	H_CHECK_INT(io(&c->w[0], OP_WRITE, zero, NULL, 0, 1), ==, 0);
	/* each thread: increments of the counter in block 0 by compare-and-write,
	 * while it also writes 64 private blocks in a burst */
	for (int i = 0; i < NW; i++) {
		struct op *op = &c->ops[i];

		*op = (struct op){.kind = OP_INCR, .w = &c->w[i], .off = 0, .count = per};
		op->buf = amalloc(BS);
		op->buf2 = amalloc(BS);
		atomic_store(&op->done, 0);
		H_CHECK(reactor_thread_send_msg(c->w[i].thread, op_exec, op) == 0);
	}
	{
		struct op bursts[NW];
		uint8_t *data = aligned_alloc(4096, 64 * NW * BS);

		fill(data, 64 * NW * BS, 11);
		for (int i = 0; i < NW; i++) {
			bursts[i] = (struct op){.kind = OP_BURST, .w = &c->w[i], .count = 64,
						.off = 1 + 64 * (uint64_t)i, .bufs = data + 64 * (size_t)i * BS};
			atomic_store(&bursts[i].done, 0);
			H_CHECK(reactor_thread_send_msg(c->w[i].thread, op_exec, &bursts[i]) == 0);
		}
		for (int i = 0; i < NW; i++) {
			h_wait_ge(&bursts[i].done, 1, 30000, "a write burst");
			H_CHECK_INT(bursts[i].status, ==, 0);
		}
		H_CHECK_INT(io(&c->w[1], OP_READ, r, NULL, 1, 64 * NW), ==, 0);
		H_CHECK(memcmp(r, data, 64 * NW * BS) == 0);
		free(data);
	}
	for (int i = 0; i < NW; i++) {
		h_wait_ge(&c->ops[i].done, 1, 60000, "compare-and-write increments");
		H_CHECK_INT(c->ops[i].status, ==, 0);
		H_CHECK_INT(c->ops[i].ok, ==, per);
	}
	H_CHECK_INT(io(&c->w[2], OP_READ, r, NULL, 0, 1), ==, 0);
	memcpy(&v, r, sizeof(v));
	H_CHECK_INT(v, ==, (uint32_t)(NW * per));
	for (int i = 0; i < NW; i++) {
		put_ch(&c->w[i]);
		free(c->ops[i].buf);
		free(c->ops[i].buf2);
	}
	H_CHECK_INT(delete_bdev(&base[0], "c0"), ==, 0);
	free(zero);
	free(r);
	free(c);
}

static void test_concurrency(void **state)
{
	(void)state;
	H_BEGIN_TIMEOUT(180);
	make_file(1 << 20);
	run_app(body_concurrency, "malloc");
	run_app(body_concurrency, "uring");
	unlink(g_file);
}

/* Compare-and-writes of two blocks (a counter in block 0) while plain writes
 * of the same pattern to block 1 keep coming from another thread: the plain
 * writes overlapping a locked range are parked, the lock waits for those in
 * flight; every increment lands exactly once and nothing hangs. Under TSan
 * this also checks that a compare-and-write's read and write never overlap
 * a plain write in time (the malloc backend's memcpy would race). */
static void body_caw_vs_writes(void *arg)
{
	struct worker w[NW];
	struct op incr[2], ham[1];
	atomic_long stop = 0;
	struct bdev *b = NULL;
	uint8_t *zero = amalloc(2 * BS), *r = amalloc(2 * BS), *pat = amalloc(BS);
	int per = (int)h_scaled(200, 20);
	uint32_t v;

	(void)arg;
	H_CHECK_INT(bdev_malloc_create("cw", 64, BS, NULL, &b), ==, 0);
	memset(zero, 0, 2 * BS);
	memset(pat, 0x77, BS);
	for (int i = 0; i < NW; i++) {
		struct reactor_cpuset *m = reactor_cpuset_create();

		reactor_cpuset_set(m, h_app_cpu((unsigned)(i % 2)));
		w[i] = (struct worker){.thread = reactor_thread_create(NULL, m)};
		reactor_cpuset_destroy(m);
		H_CHECK(w[i].thread != NULL);
		H_CHECK_INT(get_ch(&w[i], b), ==, 0);
	}
	memcpy(zero + BS, pat, BS);
	H_CHECK_INT(io(&w[0], OP_WRITE, zero, NULL, 0, 2), ==, 0); /* counter 0, then the pattern */
	/* one plain writer (two would race each other on the malloc memory) */
	for (int i = 0; i < 1; i++) {
		ham[i] = (struct op){.kind = OP_HAMMER, .w = &w[2 + i], .off = 1, .n = 1, .buf = pat, .stop = &stop};
		atomic_store(&ham[i].done, 0);
		H_CHECK(reactor_thread_send_msg(w[2 + i].thread, op_exec, &ham[i]) == 0);
	}
	for (int i = 0; i < 2; i++) {
		incr[i] = (struct op){.kind = OP_INCR, .w = &w[i], .off = 0, .n = 2, .count = per};
		incr[i].buf = amalloc(2 * BS);
		incr[i].buf2 = amalloc(2 * BS);
		memcpy(incr[i].buf + BS, pat, BS);
		atomic_store(&incr[i].done, 0);
		H_CHECK(reactor_thread_send_msg(w[i].thread, op_exec, &incr[i]) == 0);
	}
	for (int i = 0; i < 2; i++) {
		h_wait_ge(&incr[i].done, 1, 60000, "compare-and-writes racing plain writes");
		H_CHECK_INT(incr[i].status, ==, 0);
		H_CHECK_INT(incr[i].ok, ==, per);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 1; i++) {
		h_wait_ge(&ham[i].done, 1, 30000, "the plain writers to stop");
		H_CHECK_INT(ham[i].status, ==, 0);
		H_CHECK(ham[i].writes > 0);
	}
	H_CHECK_INT(io(&w[1], OP_READ, r, NULL, 0, 2), ==, 0);
	memcpy(&v, r, sizeof(v));
	H_CHECK_INT(v, ==, (uint32_t)(2 * per));
	H_CHECK(memcmp(r + BS, pat, BS) == 0);
	for (int i = 0; i < NW; i++)
		put_ch(&w[i]);
	for (int i = 0; i < 2; i++) {
		free(incr[i].buf);
		free(incr[i].buf2);
	}
	H_CHECK_INT(delete_bdev(&w[0], "cw"), ==, 0);
	free(zero);
	free(r);
	free(pat);
}

static void test_caw_vs_writes(void **state)
{
	(void)state;
	H_BEGIN_TIMEOUT(120);
	run_app(body_caw_vs_writes, NULL);
}

/* ---- bad input ------------------------------------------------------------------ */

struct del_wait {
	struct op op;
};

static void body_bad_input(void *arg)
{
	struct worker w[2];
	struct bdev *b = NULL;
	char path[160];
	int fd;

	(void)arg;
	body_prologue(w);
	H_CHECK_INT(bdev_malloc_create("d0", 16, BS, NULL, &b), ==, 0);
	H_CHECK_INT(bdev_malloc_create("d0", 16, BS, NULL, NULL), ==, -EEXIST);
	H_CHECK_INT(bdev_null_create("d0", 16, BS, NULL, NULL), ==, -EEXIST);
	H_CHECK_INT(bdev_malloc_create("z", 0, BS, NULL, NULL), ==, -EINVAL);
	H_CHECK_INT(bdev_null_create("z", 0, BS, NULL, NULL), ==, -EINVAL);
	H_CHECK_INT(bdev_malloc_create("z", 16, 1000, NULL, NULL), ==, -EINVAL);
	H_CHECK_INT(bdev_malloc_create("z", 16, 256, NULL, NULL), ==, -EINVAL);
	H_CHECK_INT(bdev_null_create("z", 16, 0, NULL, NULL), ==, -EINVAL);
	H_CHECK_INT(bdev_malloc_create("", 16, BS, NULL, NULL), ==, -EINVAL);
	H_CHECK_INT(bdev_malloc_create("z", 16, BS, "not-a-uuid", NULL), ==, -EINVAL);
	H_CHECK_INT(bdev_malloc_create("z", 16, BS, "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0", &b), ==, 0);
	if (b != NULL)
		H_CHECK(strcmp(bdev_get_uuid(b), "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0") == 0);
	H_CHECK_INT(delete_bdev(&w[0], "z"), ==, 0);
	H_CHECK_INT(delete_bdev(&w[0], "nope"), ==, -ENOENT);

	/* files */
	H_CHECK_INT(bdev_aio_create("f", "/nonexistent/dir/file", 0, NULL, NULL), ==, -ENOENT);
	H_CHECK_INT(bdev_uring_create("f", "/nonexistent/dir/file", 0, NULL, NULL), ==, -ENOENT);
	snprintf(path, sizeof(path), "%s.odd", g_file);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	H_CHECK(fd >= 0 && ftruncate(fd, 4096 + 100) == 0);
	close(fd);
	H_CHECK_INT(bdev_uring_create("f", path, 0, NULL, NULL), ==, -EINVAL);
	H_CHECK_INT(bdev_aio_create("f", path, 4096, NULL, NULL), ==, -EINVAL);
	fd = open(path, O_RDWR | O_TRUNC);
	close(fd);
	H_CHECK_INT(bdev_aio_create("f", path, 0, NULL, NULL), ==, -EINVAL); /* empty */
	H_CHECK_INT(bdev_aio_create("f", g_file, 1000, NULL, NULL), ==, -EINVAL);
	H_CHECK_INT(bdev_aio_create("f", "/dev/null", 0, NULL, NULL), ==, -EINVAL); /* not a file */
	H_CHECK_INT(bdev_aio_create("d0", g_file, 0, NULL, NULL), ==, -EEXIST);
	/* permission denied: a file only root may open, opened as nobody (fsuid
	 * is per OS thread, so only this pthread's open is affected) */
	chmod(path, 0600);
	setfsuid(65534);
	setfsgid(65534);
	H_CHECK_INT(bdev_aio_create("f", path, 0, NULL, NULL), ==, -EACCES);
	setfsuid(0);
	setfsgid(0);
	unlink(path);
	H_CHECK(bdev_get_by_name("f") == NULL);

	/* deleting a device in use waits for its channel */
	b = bdev_get_by_name("d0");
	H_CHECK_INT(get_ch(&w[0], b), ==, 0);
	{
		struct op del = {.kind = OP_DELETE, .w = &w[1], .name = "d0"};
		struct op rd = {.kind = OP_GET, .w = &w[1], .bdev = b};

		atomic_store(&del.done, 0);
		H_CHECK(reactor_thread_send_msg(w[1].thread, op_exec, &del) == 0);
		/* The delete leaves the registry at once but must not complete
		 * while the channel is held (a slow sanitizer run may take a while
		 * to get there: poll, bounded). */
		for (int waited = 0; waited < 10000 && bdev_get_by_name("d0") != NULL; waited++)
			h_sleep_ms(1);
		H_CHECK(bdev_get_by_name("d0") == NULL);
		h_sleep_ms(50);
		H_CHECK_INT(atomic_load(&del.done), ==, 0);
		/* no new channel; I/O on the existing channel is refused as the device goes */
		run_op(&rd);
		H_CHECK_INT(rd.status, ==, -ENOENT);
		H_CHECK_INT(io(&w[0], OP_READ, path, NULL, 0, 1), ==, -ENODEV);
		put_ch(&w[0]);
		h_wait_ge(&del.done, 1, 10000, "the delete of a device whose channel was put");
		H_CHECK_INT(del.status, ==, 0);
	}
}

static void test_bad_input(void **state)
{
	(void)state;
	H_BEGIN();
	make_file(1 << 20);
	run_app(body_bad_input, NULL);
	unlink(g_file);
}

/* ---- adaptive mode: idle with open file channels, woken by completions ---------- */

static void body_idle(void *arg)
{
	const char *which = arg;
	struct worker w[2];
	struct bdev *b = NULL;
	uint8_t *a = aligned_alloc(4096, 8 * BS), *r = aligned_alloc(4096, 8 * BS);
	uint64_t cpu0, t0, cpu_ns, wall_ns;

	body_prologue(w);
	H_CHECK_INT(strcmp(which, "uring") == 0 ? bdev_uring_create("i0", g_file, BS, NULL, &b)
						 : bdev_aio_create("i0", g_file, BS, NULL, &b), ==, 0);
	H_CHECK_INT(get_ch(&w[0], b), ==, 0);
	H_CHECK_INT(get_ch(&w[1], b), ==, 0);
	fill(a, 8 * BS, 21);
	/* each I/O completes while its reactor may be asleep: only the eventfd wakes it */
	for (int i = 0; i < 20; i++) {
		h_sleep_ms(2);
		H_CHECK_INT(io(&w[i % 2], OP_WRITE, a, NULL, 8 * (uint64_t)i, 8), ==, 0);
		H_CHECK_INT(io(&w[(i + 1) % 2], OP_READ, r, NULL, 8 * (uint64_t)i, 8), ==, 0);
		H_CHECK(memcmp(a, r, 8 * BS) == 0);
	}
	cpu0 = h_process_cpu_ns();
	t0 = h_now_ns();
	h_sleep_ms(500);
	cpu_ns = h_process_cpu_ns() - cpu0;
	wall_ns = h_now_ns() - t0;
	/* two reactors polling would burn ~200%; asleep it is a few percent */
	if (cpu_ns * 100 > wall_ns * 30)
		H_FAIL("idle with open %s channels: %.0f%% CPU", which, 100.0 * (double)cpu_ns / (double)wall_ns);
	put_ch(&w[0]);
	put_ch(&w[1]);
	H_CHECK_INT(delete_bdev(&w[0], "i0"), ==, 0);
	free(a);
	free(r);
}

static void test_adaptive_idle(void **state)
{
	struct reactor_app_opts o;

	(void)state;
	H_BEGIN();
	make_file(1 << 20);
	for (int i = 0; i < 2; i++) {
		assert_true(h_app_opts(&o, 2));
		o.idle_policy = REACTOR_IDLE_ADAPTIVE;
		g_threads[0] = g_threads[1] = NULL;
		assert_int_equal(h_app_run(&o, body_idle, i == 0 ? "uring" : "aio"), 0);
		h_assert_no_failures();
	}
	unlink(g_file);
}

/* ---- RPC: the methods over the app's socket ------------------------------------- */

static char g_sock[108];

static void body_rpc(void *arg)
{
	struct rpc_client c;
	json_t *resp, *cfg;
	const json_t *res;
	char params[512];

	(void)arg;
	/* the bdev methods are runtime methods: wait for the subsystems' init */
	for (int i = 0; i < 20000 && reactor_rpc_get_state() != REACTOR_RPC_RUNTIME; i++)
		h_sleep_us(500);
	if (!rpc_connect(&c, g_sock, 10000)) {
		H_FAIL("connect");
		return;
	}
	resp = rpc_call(&c, "bdev_malloc_create",
			json_pack("{s:s, s:i, s:i, s:s}", "name", "Malloc0", "num_blocks", 128, "block_size", 4096,
				  "uuid", "11111111-2222-3333-4444-555555555555"), 1);
	res = rpc_result(resp);
	H_CHECK(res != NULL && json_is_string(res) && strcmp(json_string_value(res), "Malloc0") == 0);
	json_decref(resp);
	resp = rpc_call(&c, "bdev_null_create",
			json_pack("{s:s, s:i, s:i}", "name", "Null0", "num_blocks", 64, "block_size", 512), 2);
	H_CHECK(rpc_result(resp) != NULL);
	json_decref(resp);
	resp = rpc_call(&c, "bdev_uring_create", json_pack("{s:s, s:s}", "name", "Uring0", "filename", g_file), 3);
	H_CHECK(rpc_result(resp) != NULL);
	json_decref(resp);
	resp = rpc_call(&c, "bdev_aio_create",
			json_pack("{s:s, s:s, s:i}", "name", "Aio0", "filename", g_file, "block_size", 4096), 4);
	H_CHECK(rpc_result(resp) != NULL);
	json_decref(resp);

	/* bad input: each a clear error */
	resp = rpc_call(&c, "bdev_malloc_create",
			json_pack("{s:s, s:i, s:i}", "name", "Malloc0", "num_blocks", 8, "block_size", 512), 5);
	RPC_CHECK_ERROR(resp, -EEXIST, "already exists");
	json_decref(resp);
	resp = rpc_call(&c, "bdev_malloc_create",
			json_pack("{s:s, s:i, s:i}", "name", "M1", "num_blocks", 0, "block_size", 512), 6);
	RPC_CHECK_ERROR(resp, REACTOR_RPC_INVALID_PARAMS, "num_blocks");
	json_decref(resp);
	resp = rpc_call(&c, "bdev_null_create",
			json_pack("{s:s, s:i, s:i}", "name", "M1", "num_blocks", 8, "block_size", 520), 7);
	RPC_CHECK_ERROR(resp, REACTOR_RPC_INVALID_PARAMS, "power of two");
	json_decref(resp);
	resp = rpc_call(&c, "bdev_aio_create", json_pack("{s:s, s:s}", "name", "A1", "filename", "/nonexistent/x"),
			8);
	RPC_CHECK_ERROR(resp, -ENOENT, "/nonexistent/x");
	json_decref(resp);
	resp = rpc_call(&c, "bdev_malloc_create", json_pack("{s:s, s:i}", "name", "M1", "num_blocks", 8), 9);
	RPC_CHECK_ERROR(resp, REACTOR_RPC_INVALID_PARAMS, "block_size");
	json_decref(resp);
	resp = rpc_call(&c, "bdev_malloc_delete", json_pack("{s:s}", "name", "Null0"), 10);
	RPC_CHECK_ERROR(resp, -ENODEV, "Null0");
	json_decref(resp);

	/* listing and stats */
	resp = rpc_call(&c, "bdev_get_bdevs", NULL, 11);
	res = rpc_result(resp);
	H_CHECK(res != NULL && json_array_size(res) == 4);
	json_decref(resp);
	resp = rpc_call(&c, "bdev_get_bdevs", json_pack("{s:s}", "name", "Malloc0"), 12);
	res = rpc_result(resp);
	H_CHECK(res != NULL && json_array_size(res) == 1);
	if (res != NULL && json_array_size(res) == 1) {
		json_t *d = json_array_get(res, 0);

		H_CHECK_INT(json_integer_value(json_object_get(d, "block_size")), ==, 4096);
		H_CHECK_INT(json_integer_value(json_object_get(d, "num_blocks")), ==, 128);
		H_CHECK(strcmp(json_string_value(json_object_get(d, "uuid")),
			       "11111111-2222-3333-4444-555555555555") == 0);
		H_CHECK(strcmp(json_string_value(json_object_get(d, "product_name")), "Malloc disk") == 0);
	}
	json_decref(resp);
	resp = rpc_call(&c, "bdev_get_bdevs", json_pack("{s:s}", "name", "nope"), 13);
	RPC_CHECK_ERROR(resp, -ENODEV, "nope");
	json_decref(resp);
	resp = rpc_call(&c, "bdev_get_iostat", NULL, 14);
	res = rpc_result(resp);
	H_CHECK(res != NULL && json_array_size(json_object_get(res, "bdevs")) == 4 &&
		json_integer_value(json_object_get(res, "tick_rate")) > 0);
	json_decref(resp);
	resp = rpc_call(&c, "bdev_get_iostat", json_pack("{s:s}", "name", "Aio0"), 15);
	res = rpc_result(resp);
	H_CHECK(res != NULL && json_array_size(json_object_get(res, "bdevs")) == 1);
	json_decref(resp);

	/* save_config holds the create calls, in order */
	resp = rpc_call(&c, "save_config", NULL, 16);
	res = rpc_result(resp);
	cfg = NULL;
	if (res != NULL) {
		json_t *subs = json_object_get(res, "subsystems");
		size_t i;
		json_t *s;

		json_array_foreach(subs, i, s)
			if (strcmp(json_string_value(json_object_get(s, "subsystem")), "bdev") == 0)
				cfg = json_object_get(s, "config");
	}
	H_CHECK(cfg != NULL && json_array_size(cfg) == 4);
	if (cfg != NULL && json_array_size(cfg) == 4) {
		H_CHECK(strcmp(json_string_value(json_object_get(json_array_get(cfg, 0), "method")),
			       "bdev_malloc_create") == 0);
		H_CHECK(strcmp(json_string_value(json_object_get(json_array_get(cfg, 2), "method")),
			       "bdev_uring_create") == 0);
		snprintf(params, sizeof(params), "%s",
			 json_string_value(json_object_get(json_object_get(json_array_get(cfg, 3), "params"),
							   "filename")));
		H_CHECK(strcmp(params, g_file) == 0);
	}
	json_decref(resp);

	resp = rpc_call(&c, "bdev_malloc_delete", json_pack("{s:s}", "name", "Malloc0"), 17);
	H_CHECK(json_is_true(rpc_result(resp)));
	json_decref(resp);
	resp = rpc_call(&c, "bdev_uring_delete", json_pack("{s:s}", "name", "Uring0"), 18);
	H_CHECK(json_is_true(rpc_result(resp)));
	json_decref(resp);
	resp = rpc_call(&c, "bdev_malloc_delete", json_pack("{s:s}", "name", "Malloc0"), 19);
	RPC_CHECK_ERROR(resp, -ENODEV, "Malloc0");
	json_decref(resp);
	/* Null0 and Aio0 are left for the subsystem's fini */
	rpc_close(&c);
}

static void test_rpc(void **state)
{
	struct reactor_app_opts o;

	(void)state;
	H_BEGIN();
	make_file(1 << 20);
	rpc_test_path(g_sock, sizeof(g_sock), "bdev");
	assert_true(h_app_opts(&o, 2));
	o.rpc_addr = g_sock;
	assert_int_equal(rpc_app_run(&o, body_rpc, NULL, NULL), 0);
	h_assert_no_failures();
	assert_null(bdev_get_by_name("Null0"));
	assert_null(bdev_get_by_name("Aio0"));
	unlink(g_file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_backends),    H_TEST(test_file_persists), H_TEST(test_queue_when_full),
		H_TEST(test_concurrency), H_TEST(test_caw_vs_writes), H_TEST(test_bad_input),     H_TEST(test_adaptive_idle),
		H_TEST(test_rpc),
	};

	if (bdev_module_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
