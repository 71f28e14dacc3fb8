/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The I/O workers: one lightweight thread per core of -m, each with its own
 * socket group and its share of the I/O queue pairs. A queue keeps QD
 * commands in flight: each completion records its latency in the queue's
 * histogram and submits the next command, until the end of the run.
 * Phases (connect, run, destroy) are started by the app thread with a
 * message per worker and answered with a message back.
 */
#include "perf.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct perf_worker {
	uint32_t core;
	struct reactor_thread *thread;
	struct reactor_sock_group *group;
	struct perf_conn **conns;
	uint32_t nconns;
	uint32_t pending;	/* conns still connecting / running */
	bool failed;
	bool answered;		/* this phase's answer is sent */
};

static struct {
	struct perf_worker *workers;
	uint32_t nworkers;
	uint32_t waiting;	/* app thread: workers yet to answer the current phase */
	int phase_rc;
	void (*phase_cb)(int rc);
	void (*destroy_cb)(void);
	uint64_t end_ticks;
	atomic_bool stop;
	struct reactor_thread *app_thread;
} g_io;

/* ---- app thread side -------------------------------------------------------------- */

static void send_or_die(struct reactor_thread *t, reactor_msg_fn fn, void *ctx)
{
	/* The pools are sized for far more than a few messages per worker;
	 * a failure here is a bug, not a load condition. */
	int rc;
	while ((rc = reactor_thread_send_msg(t, fn, ctx)) == -EAGAIN)
		;
	if (rc) {
		fprintf(stderr, "nvmf-perf: cannot message a thread: %s\n", strerror(-rc));
		abort();
	}
}

static void phase_answer(void *ctx)
{
	int rc = (int)(intptr_t)ctx;

	if (rc && !g_io.phase_rc) {
		g_io.phase_rc = rc;
		perf_workers_stop_early();	/* the others drain now instead of at the end */
	}
	if (--g_io.waiting == 0 && g_io.phase_cb) {
		void (*cb)(int) = g_io.phase_cb;
		g_io.phase_cb = NULL;
		cb(g_io.phase_rc);
	}
}

/* Each phase gets exactly one answer per worker; a failure outside a
 * phase (a connection lost between phases) stops the run directly. */
static void worker_answer(struct perf_worker *w, int rc)
{
	if (w->answered) {
		if (rc)
			perf_fail();
		return;
	}
	w->answered = true;
	send_or_die(g_io.app_thread, phase_answer, (void *)(intptr_t)rc);
}

int perf_workers_create(struct perf_conn *conns, uint32_t nconns)
{
	uint32_t core, n = reactor_get_core_count(), i = 0;

	g_io.app_thread = reactor_get_thread();
	g_io.workers = calloc(n, sizeof(*g_io.workers));
	if (!g_io.workers)
		return -ENOMEM;
	REACTOR_FOREACH_CORE(core) {
		struct perf_worker *w = &g_io.workers[i];
		g_io.nworkers = ++i;	/* as we go: destroy frees what was made */
		w->core = core;
		w->conns = calloc(nconns, sizeof(*w->conns));
		if (!w->conns)
			return -ENOMEM;
	}
	for (uint32_t c = 0; c < nconns; c++) {
		struct perf_worker *w = &g_io.workers[c % g_io.nworkers];
		conns[c].w = w;
		conns[c].core = w->core;
		w->conns[w->nconns++] = &conns[c];
	}
	for (i = 0; i < g_io.nworkers; i++) {
		struct perf_worker *w = &g_io.workers[i];
		struct reactor_cpuset *set = reactor_cpuset_create();
		char name[32];

		if (!set)
			return -ENOMEM;
		reactor_cpuset_set(set, w->core);
		snprintf(name, sizeof(name), "perf_worker_%u", w->core);
		w->thread = reactor_thread_create(name, set);
		reactor_cpuset_destroy(set);
		if (!w->thread) {
			int err = errno;
			fprintf(stderr, "nvmf-perf: cannot create a thread on core %u: %s\n", w->core,
				strerror(err));
			return -err;
		}
	}
	return 0;
}

static void start_phase(reactor_msg_fn fn, void (*cb)(int rc))
{
	g_io.phase_cb = cb;
	g_io.phase_rc = 0;
	g_io.waiting = 0;
	for (uint32_t i = 0; i < g_io.nworkers; i++)
		g_io.waiting += g_io.workers[i].thread != NULL;
	if (!g_io.waiting) {	/* no thread could be made: nothing to wait for */
		g_io.phase_cb = NULL;
		cb(-ENOMEM);
		return;
	}
	for (uint32_t i = 0; i < g_io.nworkers; i++)
		if (g_io.workers[i].thread)	/* a thread whose creation failed has nothing to do */
			send_or_die(g_io.workers[i].thread, fn, &g_io.workers[i]);
}

/* ---- I/O ---------------------------------------------------------------------------- */

static uint64_t next_rand(struct perf_conn *c)
{
	/* xorshift64*: cheap and good enough to spread offsets. */
	c->rng ^= c->rng >> 12;
	c->rng ^= c->rng << 25;
	c->rng ^= c->rng >> 27;
	return c->rng * 0x2545F4914F6CDD1Dull;
}

static void conn_drained(struct perf_conn *c)
{
	struct perf_worker *w = c->w;

	if (c->done)
		return;
	c->done = true;
	if (--w->pending == 0 && !w->failed)
		worker_answer(w, 0);
}

static void worker_fail(struct perf_worker *w)
{
	if (w->failed)
		return;
	w->failed = true;
	worker_answer(w, -EIO);
}

static void io_done(void *arg, struct hq_cmd *cmd, const struct nvme_cqe *cqe);

static void submit_io(struct perf_conn *c)
{
	uint64_t blocks_per_io = g_cfg.io_size / g_ctrlr.block_size;
	uint64_t slots = g_ctrlr.num_blocks / blocks_per_io;
	struct hq_cmd *cmd = hq_cmd_get(c->q);
	struct nvme_sqe sqe;
	uint64_t lba;
	bool is_read;

	if (!cmd)
		return;
	if (g_cfg.random) {
		lba = (next_rand(c) % slots) * blocks_per_io;
	} else {
		lba = c->next_lba;
		c->next_lba += blocks_per_io;
		if (c->next_lba + blocks_per_io > g_ctrlr.num_blocks)
			c->next_lba = 0;
	}
	is_read = g_cfg.read_pct == 100 ||
		  (g_cfg.read_pct != 0 && next_rand(c) % 100 < g_cfg.read_pct);
	memset(&sqe, 0, sizeof(sqe));
	sqe.opc = is_read ? NVME_OPC_READ : NVME_OPC_WRITE;
	sqe.nsid = g_cfg.nsid;
	sqe.cdw10 = (uint32_t)lba;
	sqe.cdw11 = (uint32_t)(lba >> 32);
	sqe.cdw12 = (uint32_t)(blocks_per_io - 1);
	cmd->user = lba;
	int rc = hq_submit(cmd, &sqe, is_read ? HQ_DIR_READ : HQ_DIR_WRITE, g_cfg.io_size, io_done, c);
	if (rc < 0) {
		fprintf(stderr, "nvmf-perf: qpair %u: cannot submit: %s\n", c->qid, strerror(-rc));
		worker_fail(c->w);
	}
}

static void io_done(void *arg, struct hq_cmd *cmd, const struct nvme_cqe *cqe)
{
	struct perf_conn *c = arg;
	uint64_t now = reactor_get_ticks();

	if (nvme_status_sc(cqe->status) || nvme_status_sct(cqe->status)) {
		char who[48], what[96];
		snprintf(who, sizeof(who), "qpair %u (core %u)", c->qid, c->core);
		snprintf(what, sizeof(what), "%s of %u bytes at LBA %llu",
			 cmd->sqe.opc == NVME_OPC_READ ? "read" : "write", g_cfg.io_size,
			 (unsigned long long)cmd->user);
		perf_print_status(who, what, cqe->status, false);
		worker_fail(c->w);
		return;
	}
	hist_add(&c->hist, now - cmd->submit_ticks);
	c->ios++;
	c->bytes += g_cfg.io_size;
	c->end_ticks = now;
	if (c->w->failed)
		return;
	if (now < g_io.end_ticks && !atomic_load_explicit(&g_io.stop, memory_order_relaxed))
		submit_io(c);
	else if (hq_outstanding(c->q) == 0)
		conn_drained(c);
}

/* ---- worker side ------------------------------------------------------------------------ */

static void io_connect_done(void *arg, struct hq_cmd *cmd, const struct nvme_cqe *cqe)
{
	struct perf_conn *c = arg;
	struct perf_worker *w = c->w;

	(void)cmd;
	if (nvme_status_sc(cqe->status) || nvme_status_sct(cqe->status)) {
		char who[48];
		snprintf(who, sizeof(who), "qpair %u (core %u)", c->qid, c->core);
		perf_print_status(who, "Connect (I/O queue)", cqe->status, true);
		worker_fail(w);
		return;
	}
	c->connected = true;
	if (--w->pending == 0 && !w->failed)
		worker_answer(w, 0);
}

static void conn_event(void *arg, struct hq *q, int status)
{
	struct perf_conn *c = arg;
	struct nvme_sqe sqe;

	if (status) {
		worker_fail(c->w);
		return;
	}
	struct hq_cmd *cmd = hq_cmd_get(q);
	if (!cmd) {
		worker_fail(c->w);
		return;
	}
	uint32_t entries = g_cfg.qd < g_ctrlr.mqes ? g_cfg.qd : g_ctrlr.mqes;
	if (entries < 2)
		entries = 2;	/* SQSIZE is 0's based and at least 1 (Base 2.0 §6.3) */
	perf_connect_sqe(&sqe, c->qid, (uint16_t)(entries - 1), 0, true);
	perf_connect_data(cmd->buf, g_ctrlr.cntlid);
	int rc = hq_submit(cmd, &sqe, HQ_DIR_WRITE, sizeof(struct nvme_connect_data),
			   io_connect_done, c);
	if (rc < 0) {
		fprintf(stderr, "nvmf-perf: qpair %u: cannot send Connect: %s\n", c->qid, strerror(-rc));
		worker_fail(c->w);
	}
}

static void worker_connect(void *ctx)
{
	struct perf_worker *w = ctx;
	uint32_t max_data = g_cfg.io_size > 1024 ? g_cfg.io_size : 1024;

	w->answered = false;
	w->group = reactor_sock_group_create();
	if (!w->group) {
		fprintf(stderr, "nvmf-perf: core %u: cannot create a socket group: %s\n", w->core,
			strerror(errno));
		worker_fail(w);
		return;
	}
	w->pending = w->nconns;
	if (w->nconns == 0) {
		worker_answer(w, 0);
		return;
	}
	for (uint32_t i = 0; i < w->nconns && !w->failed; i++) {
		struct perf_conn *c = w->conns[i];
		char name[32];
		snprintf(name, sizeof(name), "qpair %u (core %u)", c->qid, c->core);
		struct hq_opts o = {
			.name = name,
			.addr = g_cfg.trid.traddr,
			.port = g_cfg.trid.port,
			.depth = g_cfg.qd,
			.max_data = max_data,
			/* The Connect data goes in the capsule only where IOCCSZ allows it. */
			.icd_limit = g_ctrlr.icd_limit,
			.hdgst = g_cfg.hdgst,
			.ddgst = g_cfg.ddgst,
			.group = w->group,
			.on_event = conn_event,
			.event_arg = c,
		};
		hist_init(&c->hist);
		c->rng = 0x9E3779B97F4A7C15ull * (c->index + 1);
		if (!g_cfg.random) {
			uint64_t per = g_ctrlr.num_blocks / g_cfg.num_conns;
			uint64_t bpi = g_cfg.io_size / g_ctrlr.block_size;
			c->next_lba = per * c->index / bpi * bpi;
		}
		c->q = hq_create(&o);
		if (!c->q)
			worker_fail(w);
	}
}

void perf_workers_connect(void (*ready_cb)(int rc))
{
	start_phase(worker_connect, ready_cb);
}

static void worker_run(void *ctx)
{
	struct perf_worker *w = ctx;
	uint64_t now = reactor_get_ticks();

	w->answered = false;
	w->pending = w->nconns;
	if (w->nconns == 0 || w->failed) {
		worker_answer(w, w->failed ? -EIO : 0);
		return;
	}
	for (uint32_t i = 0; i < w->nconns; i++) {
		struct perf_conn *c = w->conns[i];
		c->done = false;
		c->start_ticks = c->end_ticks = now;
		for (uint32_t k = 0; k < g_cfg.qd && !w->failed; k++)
			submit_io(c);
	}
}

void perf_workers_run(uint64_t end_ticks, void (*done_cb)(int rc))
{
	g_io.end_ticks = end_ticks;
	start_phase(worker_run, done_cb);
}

void perf_workers_stop_early(void)
{
	atomic_store(&g_io.stop, true);
}

static void destroy_answer(int rc)
{
	(void)rc;
	for (uint32_t i = 0; i < g_io.nworkers; i++)
		free(g_io.workers[i].conns);	/* NULL unless its thread was never made */
	free(g_io.workers);
	g_io.nworkers = 0;
	g_io.workers = NULL;
	g_io.destroy_cb();
}

static void worker_destroy(void *ctx)
{
	struct perf_worker *w = ctx;
	struct reactor_thread *self = w->thread;	/* w is freed once the answer is in */

	for (uint32_t i = 0; i < w->nconns; i++)
		hq_destroy(&w->conns[i]->q);
	free(w->conns);
	w->conns = NULL;
	if (w->group)
		reactor_sock_group_close(&w->group);
	w->answered = false;
	worker_answer(w, 0);
	reactor_thread_exit(self);
}

void perf_workers_destroy(void (*cb)(void))
{
	g_io.destroy_cb = cb;
	start_phase(worker_destroy, destroy_answer);
}
