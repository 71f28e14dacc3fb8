/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The target: the global state, poll groups (one lightweight thread per
 * reactor core), transports, and the orderly shutdown.
 */
#include "nvmf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct nvmf_tgt g_nvmf = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.subsystems = TAILQ_HEAD_INITIALIZER(g_nvmf.subsystems),
	.transports = TAILQ_HEAD_INITIALIZER(g_nvmf.transports),
	.referrals = TAILQ_HEAD_INITIALIZER(g_nvmf.referrals),
};

#define NVMF_FINI_DRAIN_TIMEOUT_US (10u * 1000 * 1000)
#define NVMF_FINI_POLL_US 1000

/* ---- fan-out to every poll group -------------------------------------------- */

struct nvmf_pg_fanout {
	void (*fn)(struct nvmf_poll_group *pg, struct nvmf_pg_step *step);
	void (*done)(void *ctx, int rc);
	void *ctx;
	struct reactor_thread *origin;
	uint32_t pending;
	int rc;
};

struct nvmf_pg_step {
	struct nvmf_pg_fanout *fanout;
	struct nvmf_poll_group *pg;
	int rc;
};

static void pg_fanout_finish(struct nvmf_pg_fanout *f)
{
	void (*done)(void *ctx, int rc) = f->done;
	void *ctx = f->ctx;
	int rc = f->rc;

	free(f);
	if (done)
		done(ctx, rc);
}

/* On the origin thread: one group has answered. */
static void pg_step_answered(void *arg)
{
	struct nvmf_pg_step *step = arg;
	struct nvmf_pg_fanout *f = step->fanout;

	if (step->rc && !f->rc)
		f->rc = step->rc;
	free(step);
	if (--f->pending == 0)
		pg_fanout_finish(f);
}

static void pg_step_run(void *arg)
{
	struct nvmf_pg_step *step = arg;

	step->fanout->fn(step->pg, step);
}

void *nvmf_pg_step_ctx(struct nvmf_pg_step *step)
{
	return step->fanout->ctx;
}

/* Messages between our own threads fail with -EAGAIN only while the pools
 * are exhausted: retry later from a poller rather than lose the message (a
 * lost step hangs a shutdown or a namespace removal) or spin (the thread
 * that must drain the queue may share our reactor). */
struct msg_retry {
	struct reactor_thread *thread;
	reactor_msg_fn fn;
	void *ctx;
	struct reactor_poller *poller;
};

static int msg_retry_poll(void *arg)
{
	struct msg_retry *r = arg;
	int rc = reactor_thread_send_msg(r->thread, r->fn, r->ctx);

	if (rc == -EAGAIN)
		return REACTOR_POLLER_IDLE;
	if (rc)
		REACTOR_ERRLOG("cannot send a message to thread %s: %s; dropped",
			       reactor_thread_get_name(r->thread), strerror(-rc));
	reactor_poller_unregister(&r->poller);
	free(r);
	return REACTOR_POLLER_BUSY;
}

int nvmf_send_msg(struct reactor_thread *thread, reactor_msg_fn fn, void *ctx)
{
	struct msg_retry *r;
	int rc = reactor_thread_send_msg(thread, fn, ctx);

	if (rc != -EAGAIN || !reactor_get_thread())
		return rc;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->thread = thread;
	r->fn = fn;
	r->ctx = ctx;
	r->poller = reactor_poller_register_named(msg_retry_poll, r, 1000, "nvmf_msg_retry");
	if (!r->poller) {
		rc = -errno;
		free(r);
		return rc;
	}
	return 0;
}

static void send_msg_retry(struct reactor_thread *thread, reactor_msg_fn fn, void *ctx)
{
	int rc = nvmf_send_msg(thread, fn, ctx);

	if (rc)
		REACTOR_ERRLOG("cannot send a message to thread %s: %s", reactor_thread_get_name(thread),
			       strerror(-rc));
}

void nvmf_pg_step_done(struct nvmf_pg_step *step, int rc)
{
	step->rc = rc;
	send_msg_retry(step->fanout->origin, pg_step_answered, step);
}

int nvmf_pg_foreach(void (*fn)(struct nvmf_poll_group *pg, struct nvmf_pg_step *step), void *ctx,
		    void (*done)(void *ctx, int rc))
{
	struct nvmf_pg_fanout *f = calloc(1, sizeof(*f));
	struct nvmf_pg_step **steps;
	uint32_t i;

	if (!f)
		return -ENOMEM;
	steps = calloc(g_nvmf.num_pgs ? g_nvmf.num_pgs : 1, sizeof(*steps));
	if (!steps) {
		free(f);
		return -ENOMEM;
	}
	for (i = 0; i < g_nvmf.num_pgs; i++) {
		steps[i] = calloc(1, sizeof(**steps));
		if (!steps[i]) {
			while (i--)
				free(steps[i]);
			free(steps);
			free(f);
			return -ENOMEM;
		}
	}
	f->fn = fn;
	f->done = done;
	f->ctx = ctx;
	f->origin = reactor_get_thread();
	f->pending = g_nvmf.num_pgs;
	if (f->pending == 0) {
		free(steps);
		pg_fanout_finish(f);
		return 0;
	}
	for (i = 0; i < g_nvmf.num_pgs; i++) {
		steps[i]->fanout = f;
		steps[i]->pg = g_nvmf.pgs[i];
		send_msg_retry(g_nvmf.pgs[i]->thread, pg_step_run, steps[i]);
	}
	free(steps);
	return 0;
}

/* ---- poll groups ------------------------------------------------------------- */

static void pg_create_transport(struct nvmf_poll_group *pg, struct nvmf_transport *t)
{
	int rc = t->ops->pg_create(t, pg);

	if (rc)
		REACTOR_ERRLOG("poll group %u: transport %s: cannot create its group state: %s", pg->index,
			       t->ops->name, strerror(-rc));
}

struct pg_transport_msg {
	struct nvmf_poll_group *pg;
	struct nvmf_transport *transport;
};

static void pg_add_transport_msg(void *arg)
{
	struct pg_transport_msg *m = arg;

	pg_create_transport(m->pg, m->transport);
	free(m);
}

static void pg_start(struct nvmf_poll_group *pg, struct nvmf_pg_step *step)
{
	struct nvmf_transport *t;

	TAILQ_FOREACH(t, &g_nvmf.transports, link)
		pg_create_transport(pg, t);
	nvmf_pg_step_done(step, 0);
}

struct tgt_init_ctx {
	void (*cb)(void *ctx, int rc);
	void *ctx;
};

static void tgt_init_done(void *arg, int rc)
{
	struct tgt_init_ctx *c = arg;

	if (!rc)
		REACTOR_NOTICELOG("nvmf target: %u poll groups", g_nvmf.num_pgs);
	c->cb(c->ctx, rc);
	free(c);
}

void nvmf_tgt_init(void (*cb)(void *ctx, int rc), void *ctx)
{
	struct reactor_cpuset *mask = NULL;
	struct tgt_init_ctx *c = NULL;
	struct nvmf_subsystem *disc;
	uint32_t core, n = reactor_get_core_count();
	int rc = 0;

	if (g_nvmf.discovery) {
		cb(ctx, -EALREADY);
		return;
	}
	pthread_mutex_lock(&g_nvmf.lock);
	g_nvmf.stopping = false;
	pthread_mutex_unlock(&g_nvmf.lock);
	disc = nvmf_subsystem_create(NVME_DISCOVERY_NQN, NVMF_SUBTYPE_DISCOVERY, 0, &rc);
	if (!disc) {
		REACTOR_ERRLOG("cannot create the discovery subsystem: %s", strerror(-rc));
		cb(ctx, rc);
		return;
	}
	disc->allow_any_host = true;
	g_nvmf.discovery = disc;

	g_nvmf.pgs = calloc(n ? n : 1, sizeof(*g_nvmf.pgs));
	mask = reactor_cpuset_create();
	c = calloc(1, sizeof(*c));
	if (!g_nvmf.pgs || !mask || !c) {
		rc = -ENOMEM;
		goto fail;
	}
	REACTOR_FOREACH_CORE(core) {
		struct nvmf_poll_group *pg = calloc(1, sizeof(*pg));
		char name[32];

		if (!pg) {
			rc = -ENOMEM;
			goto fail;
		}
		pg->index = g_nvmf.num_pgs;
		TAILQ_INIT(&pg->qpairs);
		snprintf(name, sizeof(name), "nvmf_pg_%u", core);
		reactor_cpuset_zero(mask);
		reactor_cpuset_set(mask, core);
		pg->thread = reactor_thread_create(name, mask);
		if (!pg->thread) {
			rc = -errno;
			REACTOR_ERRLOG("cannot create poll group thread %s: %s", name, strerror(errno));
			free(pg);
			goto fail;
		}
		g_nvmf.pgs[g_nvmf.num_pgs++] = pg;
	}
	reactor_cpuset_destroy(mask);
	mask = NULL;
	c->cb = cb;
	c->ctx = ctx;
	rc = nvmf_pg_foreach(pg_start, c, tgt_init_done);
	if (rc)
		goto fail;
	return;
fail:
	/* Threads already made exit when the app stops; the groups are left
	 * registered so that nvmf_tgt_fini() can still tear them down. */
	reactor_cpuset_destroy(mask);
	free(c);
	cb(ctx, rc);
}

struct nvmf_poll_group *nvmf_tgt_next_poll_group(void)
{
	uint32_t i;

	if (g_nvmf.num_pgs == 0)
		return NULL;
	i = __atomic_fetch_add(&g_nvmf.next_pg, 1, __ATOMIC_RELAXED);
	return g_nvmf.pgs[i % g_nvmf.num_pgs];
}

/* ---- transports ----------------------------------------------------------------- */

struct nvmf_transport *nvmf_tgt_find_transport(const char *trtype)
{
	struct nvmf_transport *t;

	TAILQ_FOREACH(t, &g_nvmf.transports, link) {
		if (strcasecmp(t->ops->name, trtype) == 0)
			return t;
	}
	return NULL;
}

int nvmf_tgt_add_transport(const char *trtype, const struct nvmf_transport_opts *opts)
{
	const struct nvmf_transport_ops *ops = NULL;
	struct nvmf_transport *t;
	uint32_t i;

	if (!trtype)
		return -EINVAL;
	for (i = 0; nvmf_transport_types[i]; i++) {
		if (strcasecmp(nvmf_transport_types[i]->name, trtype) == 0)
			ops = nvmf_transport_types[i];
	}
	if (!ops) {
		REACTOR_ERRLOG("unknown transport type '%s'", trtype);
		return -EINVAL;
	}
	if (nvmf_tgt_find_transport(trtype)) {
		REACTOR_ERRLOG("transport %s already exists", ops->name);
		return -EEXIST;
	}
	t = ops->create(opts);
	if (!t) {
		int rc = errno ? -errno : -ENOMEM;

		REACTOR_ERRLOG("cannot create transport %s: %s", ops->name, strerror(-rc));
		return rc;
	}
	t->ops = ops;
	t->opts = *opts;
	pthread_mutex_lock(&g_nvmf.lock);
	TAILQ_INSERT_TAIL(&g_nvmf.transports, t, link);
	pthread_mutex_unlock(&g_nvmf.lock);
	for (i = 0; i < g_nvmf.num_pgs; i++) {
		struct pg_transport_msg *m = calloc(1, sizeof(*m));

		if (!m) {
			REACTOR_ERRLOG("poll group %u: out of memory adding transport %s", i, ops->name);
			continue;
		}
		m->pg = g_nvmf.pgs[i];
		m->transport = t;
		send_msg_retry(m->pg->thread, pg_add_transport_msg, m);
	}
	return 0;
}

/* ---- discovery changes ----------------------------------------------------------- */

static void discovery_ctrlr_note(struct nvmf_ctrlr *ctrlr, uintptr_t arg)
{
	(void)arg;
	nvmf_ctrlr_note_discovery_changed(ctrlr);
}

void nvmf_tgt_discovery_changed(void)
{
	pthread_mutex_lock(&g_nvmf.lock);
	g_nvmf.discovery_genctr++;
	pthread_mutex_unlock(&g_nvmf.lock);
	if (g_nvmf.discovery)
		nvmf_subsystem_foreach_ctrlr(g_nvmf.discovery, discovery_ctrlr_note, 0);
}

/* ---- shutdown ---------------------------------------------------------------------- */

struct tgt_fini_ctx {
	void (*cb)(void *ctx);
	void *ctx;
	uint32_t subsystems_left;
};

/* Per poll group, while draining its queue pairs. */
struct pg_drain {
	struct nvmf_poll_group *pg;
	struct nvmf_pg_step *step;
	struct reactor_poller *poller;
	uint64_t deadline;
};

static void pg_release(struct nvmf_poll_group *pg)
{
	struct nvmf_transport *t;
	uint32_t i, j;

	TAILQ_FOREACH(t, &g_nvmf.transports, link)
		t->ops->pg_destroy(t, pg);
	for (i = 0; i < NVMF_MAX_SUBSYSTEMS; i++) {
		struct nvmf_pg_subsystem *ps = pg->subsystems[i];

		if (!ps)
			continue;
		for (j = 0; j < ps->num_ns; j++) {
			if (ps->ns[j].ch)
				bdev_put_io_channel(ps->ns[j].ch);
			if (ps->ns[j].put_step)
				nvmf_pg_step_done(ps->ns[j].put_step, 0);
		}
		free(ps->ns);
		free(ps);
		pg->subsystems[i] = NULL;
	}
}

static void pg_disconnect_all(struct nvmf_poll_group *pg)
{
	struct nvmf_qpair *qpair, *tmp;

	/* The transport may unlink the qpair inside qpair_disconnect. */
	for (qpair = TAILQ_FIRST(&pg->qpairs); qpair; qpair = tmp) {
		tmp = TAILQ_NEXT(qpair, link);
		if (qpair->state != NVMF_QPAIR_DISCONNECTING)
			qpair->transport->ops->qpair_disconnect(qpair);
	}
}

static int pg_drain_poll(void *arg)
{
	struct pg_drain *d = arg;
	struct nvmf_poll_group *pg = d->pg;

	/* A connection accepted just before the listeners stopped may arrive late. */
	pg_disconnect_all(pg);
	if (!TAILQ_EMPTY(&pg->qpairs)) {
		if (reactor_get_ticks() < d->deadline)
			return REACTOR_POLLER_IDLE;
		REACTOR_ERRLOG("poll group %u: queue pairs still open after %u s; shutting down anyway",
			       pg->index, NVMF_FINI_DRAIN_TIMEOUT_US / 1000000);
	}
	reactor_poller_unregister(&d->poller);
	pg_release(pg);
	nvmf_pg_step_done(d->step, 0);
	free(d);
	return REACTOR_POLLER_BUSY;
}

static void pg_drain(struct nvmf_poll_group *pg, struct nvmf_pg_step *step)
{
	struct pg_drain *d;

	pg_disconnect_all(pg);
	d = calloc(1, sizeof(*d));
	if (d) {
		d->pg = pg;
		d->step = step;
		d->deadline = reactor_get_ticks() +
			      reactor_get_ticks_hz() * (NVMF_FINI_DRAIN_TIMEOUT_US / 1000000);
		d->poller = reactor_poller_register_named(pg_drain_poll, d, NVMF_FINI_POLL_US, "nvmf_pg_drain");
	}
	if (!d || !d->poller) {
		REACTOR_ERRLOG("poll group %u: cannot wait for its queue pairs; releasing now", pg->index);
		free(d);
		pg_release(pg);
		nvmf_pg_step_done(step, -ENOMEM);
	}
}

static void pg_thread_exit(void *arg)
{
	(void)arg;
	reactor_thread_exit(reactor_get_thread());
}

static void tgt_fini_finish(struct tgt_fini_ctx *c)
{
	struct nvmf_referral *r;
	struct nvmf_transport *t;

	while ((t = TAILQ_FIRST(&g_nvmf.transports))) {
		pthread_mutex_lock(&g_nvmf.lock);
		TAILQ_REMOVE(&g_nvmf.transports, t, link);
		pthread_mutex_unlock(&g_nvmf.lock);
		t->ops->destroy(t);
	}
	while ((r = TAILQ_FIRST(&g_nvmf.referrals))) {
		TAILQ_REMOVE(&g_nvmf.referrals, r, link);
		free(r);
	}
	g_nvmf.discovery = NULL;
	REACTOR_NOTICELOG("nvmf target stopped");
	c->cb(c->ctx);
	free(c);
}

static void tgt_fini_subsystem_done(void *arg, int rc)
{
	struct tgt_fini_ctx *c = arg;

	(void)rc;
	if (--c->subsystems_left == 0)
		tgt_fini_finish(c);
}

static void tgt_fini_pgs_drained(void *arg, int rc)
{
	struct tgt_fini_ctx *c = arg;
	struct nvmf_subsystem *s, *tmp;
	uint32_t i;

	(void)rc;
	for (i = 0; i < g_nvmf.num_pgs; i++) {
		send_msg_retry(g_nvmf.pgs[i]->thread, pg_thread_exit, NULL);
		free(g_nvmf.pgs[i]);
	}
	free(g_nvmf.pgs);
	g_nvmf.pgs = NULL;
	g_nvmf.num_pgs = 0;

	/* One extra count so that synchronous completions cannot finish early. */
	c->subsystems_left = 1;
	for (s = TAILQ_FIRST(&g_nvmf.subsystems); s; s = tmp) {
		tmp = TAILQ_NEXT(s, link);
		if (s->deleting)
			continue;
		c->subsystems_left++;
		nvmf_subsystem_destroy(s, tgt_fini_subsystem_done, c);
	}
	tgt_fini_subsystem_done(c, 0);
}

void nvmf_tgt_fini(void (*cb)(void *ctx), void *ctx)
{
	struct tgt_fini_ctx *c = calloc(1, sizeof(*c));
	struct nvmf_subsystem *s;
	int rc;

	if (!c) {
		REACTOR_ERRLOG("out of memory stopping the nvmf target");
		cb(ctx);
		return;
	}
	c->cb = cb;
	c->ctx = ctx;
	pthread_mutex_lock(&g_nvmf.lock);
	g_nvmf.stopping = true;
	pthread_mutex_unlock(&g_nvmf.lock);
	/* No new connections from here on. */
	TAILQ_FOREACH(s, &g_nvmf.subsystems, link) {
		struct nvmf_subsystem_listener *l;

		while ((l = TAILQ_FIRST(&s->listeners)))
			nvmf_subsystem_remove_listener(s, &l->addr);
	}
	rc = nvmf_pg_foreach(pg_drain, c, tgt_fini_pgs_drained);
	if (rc) {
		REACTOR_ERRLOG("cannot drain the poll groups: %s", strerror(-rc));
		tgt_fini_pgs_drained(c, rc);
	}
}
