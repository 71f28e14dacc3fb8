/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Lightweight threads: a message ring, pollers, fds and channels that only
 * the thread itself touches. thread_poll() is one scheduling slice; a
 * reactor calls it on every loop iteration, a program driving threads
 * itself calls reactor_thread_poll().
 */
#include "config.h"
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

REACTOR_TLS struct reactor_thread *tls_thread;

/* Every live thread, for lookups by id, for_each_thread and shutdown. */
static pthread_mutex_t g_threads_lock = PTHREAD_MUTEX_INITIALIZER;
static struct thread_list g_threads = TAILQ_HEAD_INITIALIZER(g_threads);
static _Atomic uint64_t g_next_thread_id = 1;

struct reactor_thread *reactor_thread_create(const char *name, const struct reactor_cpuset *cpumask)
{
	bool framework = atomic_load_explicit(&g_fw.initialized, memory_order_acquire);
	struct reactor_thread *t;
	struct reactor_event *ev;
	uint32_t ring_size = framework ? g_fw.opts.msg_ring_size : DEFAULT_MSG_RING_SIZE;
	int core;

	if (framework && atomic_load(&g_fw.stopping)) {
		errno = ESHUTDOWN;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->id = atomic_fetch_add(&g_next_thread_id, 1);
	if (name != NULL)
		snprintf(t->name, sizeof(t->name), "%s", name);
	else
		snprintf(t->name, sizeof(t->name), "thread-%llu", (unsigned long long)t->id);
	t->epfd = -1;
	TAILQ_INIT(&t->active_pollers);
	TAILQ_INIT(&t->timed_pollers);
	TAILQ_INIT(&t->paused_pollers);
	TAILQ_INIT(&t->fds);
	TAILQ_INIT(&t->dead_fds);
	TAILQ_INIT(&t->channels);
	atomic_init(&t->state, THREAD_RUNNING);
	atomic_init(&t->reactor, NULL);
	t->messages = reactor_ring_create(REACTOR_RING_MP_SC, ring_size);
	if (t->messages == NULL)
		goto fail;
	if (cpumask != NULL) {
		t->cpumask = reactor_cpuset_create();
		if (t->cpumask == NULL)
			goto fail;
		reactor_cpuset_copy(t->cpumask, cpumask);
	}

	pthread_mutex_lock(&g_threads_lock);
	TAILQ_INSERT_TAIL(&g_threads, t, global_link);
	pthread_mutex_unlock(&g_threads_lock);

	if (framework) {
		core = reactor_schedule_thread(t);
		if (core < 0) {
			REACTOR_ERRLOG("thread '%s': its CPU mask names no reactor core", t->name);
			errno = EINVAL;
			goto unlist;
		}
		ev = reactor_event_allocate((uint32_t)core, thread_add_event, t, NULL);
		if (ev == NULL || reactor_event_call(ev) != 0) {
			reactor_event_free(ev);
			errno = EAGAIN;
			goto unlist;
		}
	}
	return t;

unlist:
	pthread_mutex_lock(&g_threads_lock);
	TAILQ_REMOVE(&g_threads, t, global_link);
	pthread_mutex_unlock(&g_threads_lock);
fail:
	{
		int e = errno;

		reactor_ring_free(t->messages);
		reactor_cpuset_destroy(t->cpumask);
		free(t);
		errno = e ? e : ENOMEM;
	}
	return NULL;
}

void thread_add_event(void *arg, void *unused)
{
	struct reactor_thread *t = arg;
	struct reactor *r = tls_reactor;

	(void)unused;
	TAILQ_INSERT_TAIL(&r->threads, t, reactor_link);
	r->nthreads++;
}

void thread_set_exit_hook(struct reactor_thread *t, void (*fn)(void *), void *arg)
{
	t->exit_hook = fn;
	t->exit_hook_arg = arg;
}

void reactor_thread_exit(struct reactor_thread *t)
{
	uint32_t timeout_ms;

	if (t == NULL || atomic_load(&t->state) != THREAD_RUNNING)
		return;
	timeout_ms = atomic_load(&g_fw.initialized) ? g_fw.opts.thread_exit_timeout_ms
						       : DEFAULT_THREAD_EXIT_TIMEOUT_MS;
	atomic_store(&t->state, THREAD_EXITING);
	t->exit_deadline = reactor_get_ticks() + ticks_from_us((uint64_t)timeout_ms * 1000u);
	if (t->exit_hook != NULL) {
		void (*hook)(void *) = t->exit_hook;

		t->exit_hook = NULL;
		hook(t->exit_hook_arg);
	}
}

bool reactor_thread_is_exited(const struct reactor_thread *t)
{
	return t != NULL && atomic_load(&((struct reactor_thread *)t)->state) == THREAD_EXITED;
}

static void thread_finish_exit(struct reactor_thread *t, uint64_t now)
{
	char what[512] = "";
	size_t off;

	if (t->poller_count == 0 && t->fd_count == 0 && TAILQ_EMPTY(&t->channels) &&
	    ring_empty(t->messages)) {
		atomic_store_explicit(&t->state, THREAD_EXITED, memory_order_release);
		return;
	}
	if (now < t->exit_deadline)
		return;
	/* Bounded shutdown: name what is still registered, then release it.
	 * Channels go first: their destroy callbacks may unregister their own
	 * pollers and fds, which must still exist then. */
	channel_describe(t, what, sizeof(what));
	channel_force_release_all(t);
	off = strlen(what);
	pollers_free_all(t, true, what + off, sizeof(what) - off);
	off = strlen(what);
	fds_free_all(t, what + off, sizeof(what) - off);
	REACTOR_WARNLOG("thread '%s' did not finish exiting in time; still registered:%s",
			t->name, what[0] ? what : " (queued messages only)");
	atomic_store_explicit(&t->state, THREAD_EXITED, memory_order_release);
}

int thread_poll(struct reactor_thread *t, uint32_t max_msgs, uint64_t now)
{
	struct reactor_thread *prev = tls_thread;
	struct reactor_event *msgs[MSG_BATCH];
	uint32_t done = 0;
	int busy = 0;

	tls_thread = t;
	while (done < max_msgs) {
		uint32_t want = max_msgs - done < MSG_BATCH ? max_msgs - done : MSG_BATCH;
		size_t n = reactor_ring_dequeue(t->messages, (void **)msgs, want);

		for (size_t i = 0; i < n; i++) {
			struct reactor_event *m = msgs[i];
			reactor_msg_fn fn = m->fn.msg;
			void *ctx = m->arg1;

			/* Give the object back first: fn may send messages itself. */
			msg_put(m);
			stall_enter((void *)fn, NULL);
			fn(ctx);
		}
		done += (uint32_t)n;
		if (n < want)
			break;
	}
	if (done) {
		atomic_store_explicit(&t->msgs, atomic_load_explicit(&t->msgs, memory_order_relaxed) + done,
				      memory_order_relaxed);
		busy = 1;
	}

	busy |= pollers_run(t, now);
	if (t->fd_count > 0 && (t->fd_ready || atomic_load_explicit(&t->reactor, memory_order_relaxed) == NULL)) {
		t->fd_ready = false;
		busy |= fds_dispatch(t);
	}
	if (t->dead_pollers)
		pollers_reap(t);
	if (unlikely(atomic_load_explicit(&t->state, memory_order_relaxed) == THREAD_EXITING))
		thread_finish_exit(t, now);
	tls_thread = prev;
	return busy;
}

uint64_t thread_next_deadline(const struct reactor_thread *t)
{
	uint64_t d = pollers_next_deadline(t);

	if (atomic_load_explicit(&((struct reactor_thread *)t)->state, memory_order_relaxed) ==
		    THREAD_EXITING &&
	    t->exit_deadline < d)
		d = t->exit_deadline;
	return d;
}

bool thread_has_pending_msgs(const struct reactor_thread *t)
{
	return !ring_empty(t->messages);
}

void thread_free(struct reactor_thread *t)
{
	struct reactor_event *msgs[MSG_BATCH];
	size_t n, dropped = 0;

	pthread_mutex_lock(&g_threads_lock);
	TAILQ_REMOVE(&g_threads, t, global_link);
	pthread_mutex_unlock(&g_threads_lock);

	while ((n = reactor_ring_dequeue(t->messages, (void **)msgs, MSG_BATCH)) > 0) {
		for (size_t i = 0; i < n; i++)
			msg_put(msgs[i]);
		dropped += n;
	}
	if (dropped)
		REACTOR_NOTICELOG("thread '%s': %zu messages arrived after it exited; dropped",
				  t->name, dropped);
	pollers_free_all(t, false, NULL, 0);
	fds_free_all(t, NULL, 0);
	fds_reap(t);
	if (t->epfd >= 0)
		close(t->epfd);
	reactor_ring_free(t->messages);
	reactor_cpuset_destroy(t->cpumask);
	if (tls_thread == t)
		tls_thread = NULL;
	free(t);
}

int reactor_thread_destroy(struct reactor_thread *t)
{
	if (t == NULL || atomic_load(&t->reactor) != NULL)
		return -EINVAL; /* a reactor owns it and frees it */
	if (atomic_load(&t->state) != THREAD_EXITED)
		return -EBUSY;
	thread_free(t);
	return 0;
}

void reactor_set_thread(struct reactor_thread *t)
{
	tls_thread = t;
}

struct reactor_thread *reactor_get_thread(void)
{
	return tls_thread;
}

const char *reactor_thread_get_name(const struct reactor_thread *t)
{
	return t ? t->name : NULL;
}

uint64_t reactor_thread_get_id(const struct reactor_thread *t)
{
	return t ? t->id : 0;
}

int reactor_thread_send_msg(struct reactor_thread *t, reactor_msg_fn fn, void *ctx)
{
	struct reactor_event *m;
	struct reactor *r;

	if (t == NULL || fn == NULL)
		return -EINVAL;
	if (unlikely(atomic_load_explicit(&t->state, memory_order_acquire) == THREAD_EXITED))
		return -ESHUTDOWN;
	/* Read before enqueuing: once the message is in, the thread may run it,
	 * exit and be freed. Reactors themselves live until framework fini. */
	r = atomic_load_explicit(&t->reactor, memory_order_acquire);
	m = msg_get();
	if (unlikely(m == NULL))
		return -EAGAIN;
	m->fn.msg = fn;
	m->arg1 = ctx;
	if (unlikely(reactor_ring_enqueue(t->messages, (void *const *)&m, 1) == 0)) {
		msg_put(m);
		return -EAGAIN;
	}
	if (r != NULL)
		reactor_notify(r);
	return 0;
}

int reactor_thread_poll(struct reactor_thread *t, uint32_t max_msgs)
{
	uint64_t start, end;
	int rc;

	if (t == NULL)
		return 0;
	start = reactor_get_ticks();
	rc = thread_poll(t, max_msgs ? max_msgs : MSG_BATCH, start);
	end = reactor_get_ticks();
	if (rc)
		atomic_store_explicit(&t->busy_ticks,
				      atomic_load_explicit(&t->busy_ticks, memory_order_relaxed) + end - start,
				      memory_order_relaxed);
	else
		atomic_store_explicit(&t->idle_ticks,
				      atomic_load_explicit(&t->idle_ticks, memory_order_relaxed) + end - start,
				      memory_order_relaxed);
	return rc;
}

/* Send to a thread known by id; the lock keeps it from being freed meanwhile. */
int thread_send_by_id(uint64_t id, reactor_msg_fn fn, void *ctx)
{
	struct reactor_thread *t;
	int rc = -ESHUTDOWN;

	pthread_mutex_lock(&g_threads_lock);
	TAILQ_FOREACH(t, &g_threads, global_link) {
		if (t->id == id) {
			rc = reactor_thread_send_msg(t, fn, ctx);
			break;
		}
	}
	pthread_mutex_unlock(&g_threads_lock);
	return rc;
}

struct for_each_thread_ctx {
	reactor_msg_fn fn;
	reactor_msg_fn cpl;
	void *ctx;
	uint64_t origin;
	uint32_t next;
	uint32_t count;
	uint64_t ids[];
};

static void for_each_thread_done(void *arg)
{
	struct for_each_thread_ctx *it = arg;

	it->cpl(it->ctx);
	free(it);
}

static void for_each_thread_step(void *arg);

/* Move the walk to the next thread that still exists, or finish it. */
static void for_each_thread_advance(struct for_each_thread_ctx *it)
{
	while (it->next < it->count) {
		uint64_t id = it->ids[it->next++];

		if (thread_send_by_id(id, for_each_thread_step, it) == 0)
			return;
	}
	if (it->cpl == NULL || thread_send_by_id(it->origin, for_each_thread_done, it) != 0) {
		if (it->cpl != NULL)
			REACTOR_ERRLOG("for_each_thread: the calling thread is gone; completion dropped");
		free(it);
	}
}

static void for_each_thread_step(void *arg)
{
	struct for_each_thread_ctx *it = arg;

	it->fn(it->ctx);
	for_each_thread_advance(it);
}

int reactor_for_each_thread(reactor_msg_fn fn, void *ctx, reactor_msg_fn cpl)
{
	struct for_each_thread_ctx *it;
	struct reactor_thread *t;
	uint32_t n = 0;

	if (fn == NULL || tls_thread == NULL)
		return -EINVAL;
	pthread_mutex_lock(&g_threads_lock);
	TAILQ_FOREACH(t, &g_threads, global_link)
		n++;
	it = calloc(1, sizeof(*it) + n * sizeof(uint64_t));
	if (it == NULL) {
		pthread_mutex_unlock(&g_threads_lock);
		return -ENOMEM;
	}
	TAILQ_FOREACH(t, &g_threads, global_link)
		if (atomic_load(&t->state) != THREAD_EXITED)
			it->ids[it->count++] = t->id;
	pthread_mutex_unlock(&g_threads_lock);
	it->fn = fn;
	it->cpl = cpl;
	it->ctx = ctx;
	it->origin = tls_thread->id;
	for_each_thread_advance(it);
	return 0;
}

static void thread_exit_msg(void *arg)
{
	(void)arg;
	reactor_thread_exit(tls_thread);
}

void threads_stop_all(void)
{
	struct reactor_thread *t;

	pthread_mutex_lock(&g_threads_lock);
	TAILQ_FOREACH(t, &g_threads, global_link) {
		if (atomic_load(&t->reactor) == NULL)
			continue; /* driven by the caller, not ours to stop */
		for (int tries = 0; reactor_thread_send_msg(t, thread_exit_msg, NULL) == -EAGAIN; tries++) {
			if (tries == 1000) {
				REACTOR_ERRLOG("thread '%s': queue full, cannot ask it to exit", t->name);
				break;
			}
			sched_yield();
		}
	}
	pthread_mutex_unlock(&g_threads_lock);
}

int reactor_thread_get_stats(const struct reactor_thread *thread, struct reactor_thread_stats *stats)
{
	struct reactor_thread *t = (struct reactor_thread *)thread;
	struct reactor_thread_stats s;

	if (t == NULL || stats == NULL || stats->stats_size < sizeof(size_t))
		return -EINVAL;
	s.stats_size = stats->stats_size;
	s.busy_ticks = atomic_load_explicit(&t->busy_ticks, memory_order_relaxed);
	s.idle_ticks = atomic_load_explicit(&t->idle_ticks, memory_order_relaxed);
	s.msgs = atomic_load_explicit(&t->msgs, memory_order_relaxed);
	memcpy(stats, &s, stats->stats_size < sizeof(s) ? stats->stats_size : sizeof(s));
	return 0;
}
