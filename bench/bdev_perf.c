/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bdev_perf: I/O load on one block device of the daemon's bdev layer, one
 * lightweight thread per reactor core, like SPDK's bdevperf.
 *
 *   bdev_perf -b malloc|null|uring:FILE|aio:FILE [-s MiB] -q DEPTH -o BYTES
 *             -w read|write|randread|randwrite|verify -t SECONDS [-m CPUS]
 *
 * Each core keeps DEPTH I/Os of BYTES in flight for SECONDS and prints
 * "bdev_perf: core=C iops=.. mibs=.. avg_us=.. p99_us=..", then a total
 * line (p99 over every I/O). verify writes a pattern and reads it back in
 * each slot (disjoint ranges per slot), counting miscompares; each
 * write+read pair counts as two I/Os. Latency is submit to callback.
 */
#include <reactor.h>

#include "bdev.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 1400

enum pattern { P_READ, P_WRITE, P_RANDREAD, P_RANDWRITE, P_VERIFY };

static const char *g_spec = "malloc";
static uint64_t g_size_mib = 512;
static uint32_t g_qd = 32;
static uint32_t g_io_size = 4096;
static enum pattern g_pattern = P_RANDREAD;
static uint32_t g_seconds = 5;

static struct bdev *g_bdev;
static uint32_t g_ncores;
static atomic_uint g_jobs_done;
static uint64_t g_end_ticks;
static int g_rc;

struct job;

struct slot {
	struct job *job;
	uint32_t index; /* global slot number (verify ranges) */
	uint8_t *buf;
	uint64_t offset; /* blocks */
	uint64_t start;
	uint32_t seq;
	bool reading; /* verify: second half of the pair */
};

struct job {
	uint32_t core;
	struct reactor_thread *thread;
	struct reactor_io_channel *ch;
	struct slot *slots;
	uint32_t inflight;
	uint64_t ios, bytes, lat_ticks, miscompares, errors;
	uint64_t next_seq_block;
	uint64_t rng;
	uint32_t hist[NBUCKETS];
};

static struct job *g_jobs;

/* Log-linear latency buckets (about 3% wide). */
static uint32_t bucket_of(uint64_t ns)
{
	uint32_t msb, sub;

	if (ns < 64)
		return (uint32_t)ns;
	msb = 63u - (uint32_t)__builtin_clzll(ns);
	sub = (uint32_t)(ns >> (msb - 5)) & 31u;
	return 64u + (msb - 6u) * 32u + sub < NBUCKETS ? 64u + (msb - 6u) * 32u + sub : NBUCKETS - 1;
}

static uint64_t bucket_value(uint32_t b)
{
	uint32_t msb, sub;

	if (b < 64)
		return b;
	msb = (b - 64u) / 32u + 6u;
	sub = (b - 64u) % 32u;
	return ((uint64_t)(32u + sub) << (msb - 5));
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static void slot_submit(struct slot *s);

static void fill_pattern(struct slot *s)
{
	uint64_t *p = (uint64_t *)(void *)s->buf;

	for (size_t i = 0; i < g_io_size / 8; i++)
		p[i] = (s->offset << 20) ^ ((uint64_t)s->seq << 40) ^ i;
}

static bool check_pattern(struct slot *s)
{
	uint64_t *p = (uint64_t *)(void *)s->buf;

	for (size_t i = 0; i < g_io_size / 8; i++)
		if (p[i] != ((s->offset << 20) ^ ((uint64_t)s->seq << 40) ^ i))
			return false;
	return true;
}

static void job_finish(struct job *j)
{
	reactor_put_io_channel(j->ch);
	j->ch = NULL;
	atomic_fetch_add(&g_jobs_done, 1);
}

static void io_done(void *arg, int status)
{
	struct slot *s = arg;
	struct job *j = s->job;
	uint64_t now = reactor_get_ticks();
	uint64_t ns = (now - s->start) * 1000000000ull / reactor_get_ticks_hz();

	j->inflight--;
	if (status != 0) {
		j->errors++;
	} else {
		j->ios++;
		j->bytes += g_io_size;
		j->lat_ticks += now - s->start;
		j->hist[bucket_of(ns)]++;
	}
	if (g_pattern == P_VERIFY) {
		if (!s->reading && status == 0) {
			s->reading = true;
			memset(s->buf, 0, g_io_size);
			slot_submit(s);
			return;
		}
		if (s->reading && status == 0 && !check_pattern(s))
			j->miscompares++;
		s->reading = false;
	}
	if (now < g_end_ticks) {
		slot_submit(s);
		return;
	}
	if (j->inflight == 0)
		job_finish(j);
}

static void slot_submit(struct slot *s)
{
	struct job *j = s->job;
	uint64_t bs = bdev_get_block_size(g_bdev);
	uint64_t per_io = g_io_size / bs;
	uint64_t units = bdev_get_num_blocks(g_bdev) / per_io;
	bool write = false;
	int rc;

	if (!s->reading) {
		switch (g_pattern) {
		case P_READ:
		case P_WRITE:
			s->offset = (j->next_seq_block++ % units) * per_io;
			break;
		case P_RANDREAD:
		case P_RANDWRITE:
			s->offset = (xorshift(&j->rng) % units) * per_io;
			break;
		case P_VERIFY: {
			uint64_t nslots = (uint64_t)g_ncores * g_qd;

			s->offset = ((xorshift(&j->rng) % (units / nslots)) * nslots + s->index) * per_io;
			s->seq++;
			fill_pattern(s);
			break;
		}
		}
		write = g_pattern == P_WRITE || g_pattern == P_RANDWRITE || g_pattern == P_VERIFY;
	}
	s->start = reactor_get_ticks();
	j->inflight++;
	rc = write ? bdev_write(j->ch, s->buf, s->offset, per_io, io_done, s)
		   : bdev_read(j->ch, s->buf, s->offset, per_io, io_done, s);
	if (rc != 0) {
		fprintf(stderr, "bdev_perf: submit failed: %s\n", strerror(-rc));
		j->inflight--;
		j->errors++;
		if (j->inflight == 0)
			job_finish(j);
	}
}

static void job_start(void *arg)
{
	struct job *j = arg;

	j->ch = bdev_get_io_channel(g_bdev);
	if (j->ch == NULL) {
		fprintf(stderr, "bdev_perf: no channel: %s\n", strerror(errno));
		g_rc = 1;
		atomic_fetch_add(&g_jobs_done, 1);
		return;
	}
	for (uint32_t i = 0; i < g_qd; i++)
		slot_submit(&j->slots[i]);
}

static void report(void)
{
	uint64_t tot_ios = 0, tot_bytes = 0, tot_lat = 0, tot_mis = 0, tot_err = 0;
	static uint32_t hist[NBUCKETS];
	uint64_t hz = reactor_get_ticks_hz();

	for (uint32_t c = 0; c < g_ncores; c++) {
		struct job *j = &g_jobs[c];
		uint64_t cnt = 0, target = j->ios - j->ios / 100, p99 = 0;

		for (uint32_t b = 0; b < NBUCKETS; b++) {
			hist[b] += j->hist[b];
			cnt += j->hist[b];
			if (p99 == 0 && cnt >= target && j->ios > 0)
				p99 = bucket_value(b);
		}
		printf("bdev_perf: core=%" PRIu32 " iops=%.0f mibs=%.1f avg_us=%.2f p99_us=%.2f errors=%" PRIu64
		       " miscompares=%" PRIu64 "\n",
		       j->core, (double)j->ios / g_seconds, (double)j->bytes / g_seconds / 1048576.0,
		       j->ios ? (double)j->lat_ticks * 1e6 / (double)hz / (double)j->ios : 0.0, (double)p99 / 1000.0,
		       j->errors, j->miscompares);
		tot_ios += j->ios;
		tot_bytes += j->bytes;
		tot_lat += j->lat_ticks;
		tot_mis += j->miscompares;
		tot_err += j->errors;
	}
	{
		uint64_t cnt = 0, target = tot_ios - tot_ios / 100, p99 = 0;

		for (uint32_t b = 0; b < NBUCKETS && tot_ios > 0; b++) {
			cnt += hist[b];
			if (cnt >= target) {
				p99 = bucket_value(b);
				break;
			}
		}
		printf("bdev_perf: total backend=%s engine=%s qd=%" PRIu32 " io_size=%" PRIu32
		       " cores=%" PRIu32 " iops=%.0f mibs=%.1f avg_us=%.2f p99_us=%.2f errors=%" PRIu64
		       " miscompares=%" PRIu64 "\n",
		       bdev_get_backend(g_bdev)->name,
		       (strcmp(bdev_get_backend(g_bdev)->name, "uring") == 0 ||
			strcmp(bdev_get_backend(g_bdev)->name, "aio") == 0)
			       ? bdev_file_engine(g_bdev)
			       : "-",
		       g_qd, g_io_size, g_ncores, (double)tot_ios / g_seconds,
		       (double)tot_bytes / g_seconds / 1048576.0,
		       tot_ios ? (double)tot_lat * 1e6 / (double)hz / (double)tot_ios : 0.0, (double)p99 / 1000.0,
		       tot_err, tot_mis);
		if (tot_err || tot_mis)
			g_rc = 1;
	}
}

static void deleted(void *arg, int status)
{
	(void)arg;
	if (status != 0)
		g_rc = 1;
	reactor_app_stop(g_rc);
}

static int wait_poll(void *arg)
{
	struct reactor_poller **self = arg;

	if (atomic_load(&g_jobs_done) < g_ncores)
		return REACTOR_POLLER_IDLE;
	reactor_poller_unregister(self);
	report();
	bdev_delete(bdev_get_name(g_bdev), NULL, deleted, NULL);
	return REACTOR_POLLER_BUSY;
}

static struct reactor_poller *g_wait_poller;

static void start(void *arg)
{
	uint64_t blocks;
	uint32_t core, i = 0;
	int rc;

	(void)arg;
	if (strcmp(g_spec, "malloc") == 0 || strcmp(g_spec, "null") == 0) {
		blocks = (g_size_mib << 20) / 4096;
		rc = g_spec[0] == 'm' ? bdev_malloc_create("bench", blocks, 4096, NULL, &g_bdev)
				      : bdev_null_create("bench", blocks, 4096, NULL, &g_bdev);
	} else if (strncmp(g_spec, "uring:", 6) == 0) {
		rc = bdev_uring_create("bench", g_spec + 6, 0, NULL, &g_bdev);
	} else if (strncmp(g_spec, "aio:", 4) == 0) {
		rc = bdev_aio_create("bench", g_spec + 4, 0, NULL, &g_bdev);
	} else {
		fprintf(stderr, "bdev_perf: -b takes malloc, null, uring:FILE or aio:FILE\n");
		rc = -EINVAL;
	}
	if (rc == 0 && g_pattern == P_VERIFY && strcmp(g_spec, "null") == 0) {
		fprintf(stderr, "bdev_perf: -w verify needs a device that keeps data (null discards writes)\n");
		bdev_delete("bench", NULL, NULL, NULL);
		rc = -EINVAL;
	} else if (rc == 0 && g_io_size % bdev_get_block_size(g_bdev) != 0) {
		fprintf(stderr, "bdev_perf: -o %u is not a multiple of the block size %u\n", g_io_size,
			bdev_get_block_size(g_bdev));
		rc = -EINVAL;
	}
	if (rc != 0) {
		fprintf(stderr, "bdev_perf: cannot create the device: %s\n", strerror(-rc));
		reactor_app_stop(1);
		return;
	}
	g_ncores = reactor_get_core_count();
	g_jobs = calloc(g_ncores, sizeof(*g_jobs));
	g_end_ticks = reactor_get_ticks() + (uint64_t)g_seconds * reactor_get_ticks_hz();
	REACTOR_FOREACH_CORE(core) {
		struct job *j = &g_jobs[i];
		struct reactor_cpuset *m = reactor_cpuset_create();
		char name[32];

		j->core = core;
		j->rng = 0x9e3779b97f4a7c15ull * (core + 1);
		j->next_seq_block = (uint64_t)i * 1000003u;
		j->slots = calloc(g_qd, sizeof(*j->slots));
		for (uint32_t s = 0; s < g_qd; s++) {
			j->slots[s].job = j;
			j->slots[s].index = i * g_qd + s;
			j->slots[s].buf = aligned_alloc(4096, (g_io_size + 4095) / 4096 * 4096);
			memset(j->slots[s].buf, 0x5a, g_io_size);
		}
		snprintf(name, sizeof(name), "bdevperf_%u", core);
		reactor_cpuset_set(m, core);
		j->thread = reactor_thread_create(name, m);
		reactor_cpuset_destroy(m);
		reactor_thread_send_msg(j->thread, job_start, j);
		i++;
	}
	g_wait_poller = reactor_poller_register_named(wait_poll, &g_wait_poller, 10000, "bdevperf_wait");
}

static int parse(int ch, char *arg, void *ctx)
{
	(void)ctx;
	switch (ch) {
	case 'b':
		g_spec = arg;
		return 0;
	case 's':
		g_size_mib = strtoull(arg, NULL, 0);
		return g_size_mib ? 0 : -EINVAL;
	case 'q':
		g_qd = (uint32_t)strtoul(arg, NULL, 0);
		return g_qd ? 0 : -EINVAL;
	case 'o':
		g_io_size = (uint32_t)strtoul(arg, NULL, 0);
		return g_io_size && g_io_size % 512 == 0 ? 0 : -EINVAL;
	case 't':
		g_seconds = (uint32_t)strtoul(arg, NULL, 0);
		return g_seconds ? 0 : -EINVAL;
	case 'w':
		if (strcmp(arg, "read") == 0)
			g_pattern = P_READ;
		else if (strcmp(arg, "write") == 0)
			g_pattern = P_WRITE;
		else if (strcmp(arg, "randread") == 0)
			g_pattern = P_RANDREAD;
		else if (strcmp(arg, "randwrite") == 0)
			g_pattern = P_RANDWRITE;
		else if (strcmp(arg, "verify") == 0)
			g_pattern = P_VERIFY;
		else
			return -EINVAL;
		return 0;
	default:
		return -EINVAL;
	}
}

static void usage(FILE *out, void *ctx)
{
	(void)ctx;
	fprintf(out, " -b SPEC      malloc, null, uring:FILE or aio:FILE (default malloc)\n"
		     " -s MIB       size of a malloc/null device (default 512)\n"
		     " -q DEPTH     I/Os in flight per core (default 32)\n"
		     " -o BYTES     I/O size (default 4096)\n"
		     " -w PATTERN   read, write, randread, randwrite or verify (default randread)\n"
		     " -t SECONDS   run time (default 5)\n");
}

int main(int argc, char **argv)
{
	struct reactor_app_opts opts;
	int rc;

	reactor_app_opts_init(&opts, sizeof(opts));
	opts.name = "bdev_perf";
	rc = reactor_app_parse_args(argc, argv, &opts, "b:s:q:o:w:t:", NULL, parse, usage, NULL);
	if (rc != REACTOR_APP_PARSE_ARGS_SUCCESS)
		return rc == REACTOR_APP_PARSE_ARGS_HELP ? 0 : 2;
	rc = reactor_app_start(&opts, start, NULL);
	return rc == 0 ? 0 : 1;
}
