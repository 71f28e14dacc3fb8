/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reactors: one pinned loop per core.
 *
 * One iteration of the loop (reactor_run_once) does, in order:
 *   1. run up to EVENT_BATCH events from the reactor's ring;
 *   2. in poll mode, if any thread has fds, ask epoll (timeout 0) which
 *      threads have ready fds;
 *   3. poll every thread on the reactor (messages, pollers, fds);
 *   4. account busy/idle time and, in adaptive mode, go to sleep when idle
 *      for long enough.
 *
 * Sleeping is a Dekker handshake with producers (see reactor_notify()):
 * the reactor sets 'sleeping', fences, then re-checks every ring; a
 * producer publishes, fences, then reads 'sleeping'. At least one of them
 * sees the other, so no wake-up is lost and a busy reactor costs producers
 * no system call.
 */
#include "config.h"
#include "internal.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct framework g_fw;
/* Held by reactor_framework_stop() while it touches the reactors, and by
 * reactor_framework_fini() while it frees them: a stop requested from a
 * foreign thread may still be kicking reactors when the loops end. */
static pthread_mutex_t g_fw_lock = PTHREAD_MUTEX_INITIALIZER;
REACTOR_TLS struct reactor *tls_reactor;

void reactor_opts_init(struct reactor_opts *opts, size_t opts_size)
{
	struct reactor_opts d = {
		.opts_size = opts_size,
		.cpumask = NULL,
		.main_core = -1,
		.idle_policy = REACTOR_IDLE_POLL,
		.idle_threshold_us = DEFAULT_IDLE_THRESHOLD_US,
		.stall_threshold_ms = DEFAULT_STALL_THRESHOLD_MS,
		.event_ring_size = DEFAULT_EVENT_RING_SIZE,
		.msg_ring_size = DEFAULT_MSG_RING_SIZE,
		.msg_pool_size = DEFAULT_MSG_POOL_SIZE,
		.thread_exit_timeout_ms = DEFAULT_THREAD_EXIT_TIMEOUT_MS,
	};

	if (opts == NULL || opts_size < sizeof(size_t))
		return;
	memcpy(opts, &d, opts_size < sizeof(d) ? opts_size : sizeof(d));
}

/* Copy the fields the caller knows; the rest keep their defaults. */
static int opts_import(const struct reactor_opts *in, struct reactor_opts *out)
{
	if (in == NULL) {
		reactor_opts_init(out, sizeof(*out));
		return 0;
	}
	if (in->opts_size < sizeof(size_t) || in->opts_size > sizeof(*out)) {
		REACTOR_ERRLOG("reactor_opts: opts_size %zu is invalid (this library knows %zu bytes)",
			       in->opts_size, sizeof(*out));
		return -EINVAL;
	}
	reactor_opts_init(out, sizeof(*out));
	memcpy(out, in, in->opts_size);
	out->opts_size = sizeof(*out);
	return 0;
}

/*
 * Reactor objects and their wake-up eventfds are never freed: a thread that
 * is not a reactor may still be inside reactor_notify() for a message whose
 * handler stopped the app, while the app's thread finalises the framework.
 * They are kept per core and reused by the next framework_init().
 */
static struct reactor **g_reactor_store;
static uint32_t g_reactor_store_size;

static struct reactor *reactor_obtain(uint32_t core)
{
	struct reactor *r;

	if (core >= g_reactor_store_size) {
		struct reactor **n = realloc(g_reactor_store, (core + 1) * sizeof(*n));

		if (n == NULL)
			return NULL;
		memset(n + g_reactor_store_size, 0, (core + 1 - g_reactor_store_size) * sizeof(*n));
		g_reactor_store = n;
		g_reactor_store_size = core + 1;
	}
	r = g_reactor_store[core];
	if (r == NULL) {
		if (posix_memalign((void **)&r, REACTOR_CACHE_LINE, sizeof(*r)) != 0)
			return NULL;
		memset(r, 0, sizeof(*r));
		r->wake_fd = -1;
		g_reactor_store[core] = r;
	}
	return r;
}

static int reactor_create(struct reactor *r, uint32_t core, const struct reactor_opts *o)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	uint64_t drain;

	/* Reset field by field: a late notifier may still read the atomics. */
	r->core = core;
	r->epfd = -1;
	r->started = false;
	TAILQ_INIT(&r->threads);
	r->nthreads = 0;
	r->fd_threads = 0;
	r->fd_last_check = 0;
	r->fd_backoff = 0;
	r->idle_since = 0;
	atomic_store(&r->sleeping, 0);
	atomic_store(&r->wake_pending, 0);
	atomic_store(&r->sleep_not_before, 0);
	atomic_store(&r->busy_ticks, 0);
	atomic_store(&r->idle_ticks, 0);
	atomic_store(&r->events_run, 0);
	atomic_store(&r->sleeps, 0);
	atomic_store(&r->stalls, 0);
	atomic_store(&r->wakeups, 0);
	atomic_store(&r->stall.fn, NULL);
	atomic_store(&r->stall.name, NULL);
	r->events = reactor_ring_create(REACTOR_RING_MP_SC, o->event_ring_size);
	if (r->events == NULL)
		return -errno;
	if (r->wake_fd < 0)
		r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	else if (read(r->wake_fd, &drain, sizeof(drain)) < 0 && errno != EAGAIN)
		REACTOR_WARNLOG("reactor %u: eventfd drain: %s", core, strerror(errno));
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (r->wake_fd < 0 || r->epfd < 0 || epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->wake_fd, &ev) != 0) {
		int rc = -errno;

		REACTOR_ERRLOG("reactor %u: cannot set up its eventfd/epoll: %s", core, strerror(errno));
		return rc;
	}
	r->idle_threshold_ticks = ticks_from_us(o->idle_threshold_us);
	r->fd_max_backoff = ticks_from_us(FD_POLL_MAX_BACKOFF_US);
	atomic_store(&r->idle_policy, o->idle_policy);
	atomic_store(&r->sleep_enabled, o->idle_policy == REACTOR_IDLE_ADAPTIVE);
	return 0;
}

static void reactor_destroy(struct reactor *r)
{
	struct reactor_event *evs[EVENT_BATCH];
	size_t n, dropped = 0;

	if (r->events != NULL) {
		while ((n = reactor_ring_dequeue(r->events, (void **)evs, EVENT_BATCH)) > 0) {
			for (size_t i = 0; i < n; i++) {
				/* A thread created but never placed is ours to free. */
				if (evs[i]->fn.event == thread_add_event) {
					atomic_store(&((struct reactor_thread *)evs[i]->arg1)->state,
						     THREAD_EXITED);
					thread_free(evs[i]->arg1);
				} else {
					dropped++;
				}
				msg_put(evs[i]);
			}
		}
		if (dropped)
			REACTOR_NOTICELOG("reactor %u: %zu events were still queued at shutdown; dropped",
					  r->core, dropped);
		reactor_ring_free(r->events);
		r->events = NULL;
	}
	/* wake_fd and the object stay: see reactor_obtain(). */
	if (r->epfd >= 0)
		close(r->epfd);
	r->epfd = -1;
}

int reactor_framework_init(const struct reactor_opts *in)
{
	struct reactor_cpuset *mask = NULL, *allowed = NULL;
	struct reactor_opts o;
	char err[256], list[256];
	uint32_t c, max = 0;
	int rc;

	if (atomic_load(&g_fw.initialized)) {
		REACTOR_ERRLOG("reactor_framework_init: the framework is already initialised");
		return -EALREADY;
	}
	rc = opts_import(in, &o);
	if (rc != 0)
		return rc;
	if (o.idle_policy > REACTOR_IDLE_ADAPTIVE) {
		REACTOR_ERRLOG("reactor_opts: unknown idle policy %u", o.idle_policy);
		return -EINVAL;
	}
	if (o.event_ring_size < 2 || o.msg_ring_size < 2 || o.msg_pool_size < 2 * 128) {
		REACTOR_ERRLOG("reactor_opts: ring and pool sizes are too small (event ring %u, "
			       "message ring %u, pool %u)", o.event_ring_size, o.msg_ring_size,
			       o.msg_pool_size);
		return -EINVAL;
	}
	env_init();
	mask = reactor_cpuset_create();
	allowed = reactor_cpuset_create();
	if (mask == NULL || allowed == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = reactor_env_get_allowed_cpus(allowed);
	if (rc != 0) {
		REACTOR_ERRLOG("cannot read the allowed CPU set: %s", strerror(-rc));
		goto out;
	}
	reactor_cpuset_format_list(allowed, list, sizeof(list));
	if (o.cpumask == NULL) {
		reactor_cpuset_copy(mask, allowed);
	} else {
		rc = reactor_cpuset_parse(mask, o.cpumask, err, sizeof(err));
		if (rc != 0) {
			REACTOR_ERRLOG("%s", err);
			goto out;
		}
		for (c = reactor_cpuset_next(mask, UINT32_MAX); c != UINT32_MAX;
		     c = reactor_cpuset_next(mask, c)) {
			if (!reactor_cpuset_isset(allowed, c)) {
				REACTOR_ERRLOG("CPU mask '%s': CPU %u is not in the allowed set [%s] "
					       "(see taskset/cgroup cpuset)", o.cpumask, c, list);
				rc = -EINVAL;
				goto out;
			}
		}
	}
	if (reactor_cpuset_count(mask) == 0) {
		REACTOR_ERRLOG("CPU mask '%s' selects no CPU", o.cpumask ? o.cpumask : "(allowed set)");
		rc = -EINVAL;
		goto out;
	}
	if (o.main_core < 0) {
		o.main_core = (int32_t)reactor_cpuset_next(mask, UINT32_MAX);
	} else if (!reactor_cpuset_isset(mask, (uint32_t)o.main_core)) {
		reactor_cpuset_format_list(mask, list, sizeof(list));
		REACTOR_ERRLOG("main core %d is not in the CPU mask [%s]", o.main_core, list);
		rc = -EINVAL;
		goto out;
	}
	rc = msg_pool_init(o.msg_pool_size);
	if (rc != 0)
		goto out;

	for (c = reactor_cpuset_next(mask, UINT32_MAX); c != UINT32_MAX; c = reactor_cpuset_next(mask, c))
		max = c + 1;
	g_fw.by_core = calloc(max, sizeof(*g_fw.by_core));
	if (g_fw.by_core == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	g_fw.max_core = max;
	g_fw.count = 0;
	for (c = reactor_cpuset_next(mask, UINT32_MAX); c != UINT32_MAX;
	     c = reactor_cpuset_next(mask, c)) {
		struct reactor *r = reactor_obtain(c);

		if (r == NULL) {
			rc = -ENOMEM;
			goto fail;
		}
		g_fw.by_core[c] = r;
		rc = reactor_create(r, c, &o);
		if (rc != 0)
			goto fail;
		g_fw.count++;
	}
	g_fw.main_core = (uint32_t)o.main_core;
	g_fw.opts = o;
	g_fw.opts.cpumask = NULL; /* the caller's string may not outlive init */
	atomic_store(&g_fw.stopping, false);
	atomic_store(&g_fw.running, false);
	atomic_store_explicit(&g_fw.initialized, true, memory_order_release);
	rc = 0;
	goto out;
fail:
	for (c = 0; c < max; c++)
		if (g_fw.by_core[c] != NULL)
			reactor_destroy(g_fw.by_core[c]);
	free(g_fw.by_core);
	g_fw.by_core = NULL;
	g_fw.max_core = 0;
	g_fw.count = 0;
out:
	reactor_cpuset_destroy(mask);
	reactor_cpuset_destroy(allowed);
	return rc;
}

void reactor_kick(struct reactor *r)
{
	uint64_t one = 1;

	if (write(r->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		REACTOR_ERRLOG("reactor %u: cannot write its eventfd: %s", r->core, strerror(errno));
	atomic_fetch_add_explicit(&r->wakeups, 1, memory_order_relaxed);
}

static inline void stat_add(_Atomic uint64_t *s, uint64_t n)
{
	/* Only the owner writes: a load and a store, no locked instruction. */
	atomic_store_explicit(s, atomic_load_explicit(s, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/* Run up to EVENT_BATCH events. Handlers often send new events to this
 * core, so keep dequeuing until the budget is spent: the per-iteration
 * costs (thread polls, clock reads) are then shared by more events. */
static int run_events(struct reactor *r)
{
	struct reactor_event *evs[EVENT_BATCH];
	size_t n, total = 0;

	while (total < EVENT_BATCH &&
	       (n = reactor_ring_dequeue(r->events, (void **)evs, EVENT_BATCH - total)) > 0) {
		for (size_t i = 0; i < n; i++) {
			struct reactor_event *ev = evs[i];

			stall_enter((void *)ev->fn.event, NULL);
			ev->fn.event(ev->arg1, ev->arg2);
			msg_put(ev);
		}
		total += n;
	}
	if (total)
		stat_add(&r->events_run, total);
	return total > 0;
}

int reactor_watch_thread_fds(struct reactor *r, struct reactor_thread *t)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = t};

	if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, t->epfd, &ev) != 0)
		return -errno;
	r->fd_threads++;
	return 0;
}

void reactor_unwatch_thread_fds(struct reactor *r, struct reactor_thread *t)
{
	if (epoll_ctl(r->epfd, EPOLL_CTL_DEL, t->epfd, NULL) == 0)
		r->fd_threads--;
}

/* Collect readiness from the reactor's epoll; marks threads whose fds are
 * ready. Returns how many thread sets were ready. */
static int reactor_collect(struct reactor *r, int timeout_ms, const struct timespec *ts)
{
	struct epoll_event evs[FD_BATCH];
	int n;

#ifdef HAVE_EPOLL_PWAIT2
	static _Atomic bool pwait2_missing;

	if (ts != NULL && !atomic_load_explicit(&pwait2_missing, memory_order_relaxed)) {
		n = epoll_pwait2(r->epfd, evs, FD_BATCH, ts, NULL);
		if (n < 0 && errno == ENOSYS) {
			atomic_store(&pwait2_missing, true);
			n = epoll_wait(r->epfd, evs, FD_BATCH, timeout_ms);
		}
	} else
#endif
	{
		(void)ts;
		n = epoll_wait(r->epfd, evs, FD_BATCH, timeout_ms);
	}
	int ready = 0;

	for (int i = 0; i < n; i++) {
		struct reactor_thread *t = evs[i].data.ptr;

		if (t == NULL) {
			uint64_t v;

			/* Drain the eventfd; re-arm wake-ups for the next sleep. */
			if (read(r->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				REACTOR_ERRLOG("reactor %u: eventfd read: %s", r->core, strerror(errno));
		} else {
			t->fd_ready = true;
			ready++;
		}
	}
	return ready;
}

static bool reactor_has_pending_work(struct reactor *r)
{
	struct reactor_thread *t;

	if (!ring_empty(r->events) || atomic_load_explicit(&g_fw.stopping, memory_order_relaxed))
		return true;
	TAILQ_FOREACH(t, &r->threads, reactor_link)
		if (thread_has_pending_msgs(t) || t->fd_ready)
			return true;
	return false;
}

static void reactor_sleep(struct reactor *r, uint64_t now)
{
	uint64_t deadline = UINT64_MAX, hz = reactor_get_ticks_hz();
	struct reactor_thread *t;
	struct timespec ts, *tsp = NULL;
	int timeout_ms = -1;

	TAILQ_FOREACH(t, &r->threads, reactor_link) {
		uint64_t d = thread_next_deadline(t);

		if (d < deadline)
			deadline = d;
	}
	if (deadline != UINT64_MAX) {
		uint64_t delta = deadline > now ? deadline - now : 0;
		uint64_t ns = (uint64_t)((double)delta * 1e9 / (double)hz);

		if (ns == 0)
			return;
		ts.tv_sec = (time_t)(ns / 1000000000u);
		ts.tv_nsec = (long)(ns % 1000000000u);
		tsp = &ts;
		/* epoll_wait fallback: round up so we never wake early and spin. */
		timeout_ms = ns / 1000000u >= INT32_MAX ? INT32_MAX : (int)((ns + 999999u) / 1000000u);
	}

	atomic_store_explicit(&r->wake_pending, 0, memory_order_relaxed);
	/* Pairs with the RMW in reactor_notify(); see there. */
	atomic_exchange_explicit(&r->sleeping, 1, memory_order_seq_cst);
	if (reactor_has_pending_work(r)) {
		atomic_store_explicit(&r->sleeping, 0, memory_order_relaxed);
		return;
	}
	stall_idle();
	stat_add(&r->sleeps, 1);
	reactor_collect(r, timeout_ms, tsp);
	atomic_store_explicit(&r->sleeping, 0, memory_order_seq_cst);
	stall_reactor_woke();
}

/* One loop iteration. Returns 1 if it did work. */
static int reactor_run_once(struct reactor *r, uint64_t *last)
{
	struct reactor_thread *t, *tmp;
	uint64_t now = *last; /* the previous iteration's end: one clock read saved */
	int busy;

	busy = run_events(r);
	/* In poll mode, asking epoll is a system call: back off while it finds
	 * nothing (up to FD_POLL_MAX_BACKOFF_US), ask every time while busy. */
	if (r->fd_threads > 0 && now - r->fd_last_check >= r->fd_backoff) {
		r->fd_last_check = now;
		if (reactor_collect(r, 0, NULL) > 0) {
			r->fd_backoff = 0;
		} else {
			r->fd_backoff = r->fd_backoff ? r->fd_backoff * 2 : ticks_from_us(1) / 4 + 1;
			if (r->fd_backoff > r->fd_max_backoff)
				r->fd_backoff = r->fd_max_backoff;
		}
	}

	/* Each thread's slice ends where the next one starts: one clock read
	 * per thread, and the last one closes the iteration. */
	TAILQ_FOREACH_SAFE(t, &r->threads, reactor_link, tmp) {
		uint64_t end;
		int rc = thread_poll(t, MSG_BATCH, now);

		end = ticks_fast();
		stat_add(rc ? &t->busy_ticks : &t->idle_ticks, end - now);
		now = end;
		busy |= rc;
		if (atomic_load_explicit(&t->state, memory_order_relaxed) == THREAD_EXITED) {
			TAILQ_REMOVE(&r->threads, t, reactor_link);
			r->nthreads--;
			if (t->epfd >= 0)
				reactor_unwatch_thread_fds(r, t);
			atomic_store_explicit(&t->reactor, NULL, memory_order_release);
			thread_free(t);
		}
	}
	if (TAILQ_EMPTY(&r->threads))
		now = ticks_fast();
	stall_idle();
	stat_add(busy ? &r->busy_ticks : &r->idle_ticks, now - *last);
	*last = now;

	if (busy) {
		r->idle_since = 0;
	} else if (atomic_load_explicit(&r->idle_policy, memory_order_relaxed) == REACTOR_IDLE_ADAPTIVE) {
		if (r->idle_since == 0)
			r->idle_since = now;
		else if (now - r->idle_since >= r->idle_threshold_ticks &&
			 now >= atomic_load_explicit(&r->sleep_not_before, memory_order_relaxed)) {
			reactor_sleep(r, now);
			/* Time asleep is idle time, not part of the next iteration. */
			*last = ticks_fast();
			stat_add(&r->idle_ticks, *last - now);
		}
	}
	return busy;
}

static void reactor_loop(struct reactor *r)
{
	uint64_t last = ticks_fast();

	tls_reactor = r;
	tls_stall = &r->stall;
	atomic_store(&r->os_tid, (pid_t)syscall(SYS_gettid));
	for (;;) {
		reactor_run_once(r, &last);
		if (unlikely(atomic_load_explicit(&g_fw.stopping, memory_order_acquire)) &&
		    r->nthreads == 0 && ring_empty(r->events))
			break;
	}
	tls_stall = NULL;
	tls_reactor = NULL;
}

static int pin_to_core(pthread_t tid, uint32_t core)
{
	cpu_set_t cs;

	CPU_ZERO(&cs);
	CPU_SET(core, &cs);
	return pthread_setaffinity_np(tid, sizeof(cs), &cs);
}

static void *reactor_thread_main(void *arg)
{
	struct reactor *r = arg;
	char name[16];

	snprintf(name, sizeof(name), "reactor_%u", r->core);
#ifdef HAVE_PTHREAD_SETNAME_NP
	pthread_setname_np(pthread_self(), name);
#endif
	reactor_loop(r);
	return NULL;
}

int reactor_framework_start(void)
{
	struct reactor *main_r;
	cpu_set_t saved;
	bool have_saved;
	uint32_t c;
	int rc = 0;

	if (!atomic_load(&g_fw.initialized)) {
		REACTOR_ERRLOG("reactor_framework_start: call reactor_framework_init first");
		return -EINVAL;
	}
	if (atomic_exchange(&g_fw.running, true)) {
		REACTOR_ERRLOG("reactor_framework_start: the reactors are already running");
		return -EALREADY;
	}
	stall_install_handler();
	main_r = g_fw.by_core[g_fw.main_core];
	main_r->tid = pthread_self();
	have_saved = pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved) == 0;

	REACTOR_FOREACH_CORE(c) {
		struct reactor *r = g_fw.by_core[c];
		pthread_attr_t attr;
		cpu_set_t cs;

		if (c == g_fw.main_core)
			continue;
		pthread_attr_init(&attr);
		CPU_ZERO(&cs);
		CPU_SET(c, &cs);
		pthread_attr_setaffinity_np(&attr, sizeof(cs), &cs);
		rc = pthread_create(&r->tid, &attr, reactor_thread_main, r);
		pthread_attr_destroy(&attr);
		if (rc != 0) {
			REACTOR_ERRLOG("cannot start the reactor of core %u: %s", c, strerror(rc));
			rc = -rc;
			reactor_framework_stop();
			break;
		}
		r->started = true;
	}
	/* The watchdog inherits our affinity: start it before we pin ourselves,
	 * so it runs wherever there is room rather than preempting core main. */
	if (g_fw.opts.stall_threshold_ms > 0 && stall_start(g_fw.opts.stall_threshold_ms) != 0)
		REACTOR_WARNLOG("stall detector not started");
	if (rc == 0 && pin_to_core(pthread_self(), g_fw.main_core) != 0)
		REACTOR_WARNLOG("cannot pin the main reactor to core %u", g_fw.main_core);

	reactor_loop(main_r);

	REACTOR_FOREACH_CORE(c) {
		struct reactor *r = g_fw.by_core[c];

		if (c != g_fw.main_core && r->started) {
			pthread_join(r->tid, NULL);
			r->started = false;
		}
	}
	stall_stop();
	if (have_saved)
		pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
	atomic_store(&g_fw.running, false);
	return rc;
}

void reactor_framework_stop(void)
{
	uint32_t c;

	pthread_mutex_lock(&g_fw_lock);
	if (atomic_load(&g_fw.initialized) && !atomic_exchange(&g_fw.stopping, true)) {
		threads_stop_all();
		/* A reactor without threads still has to notice 'stopping'. */
		REACTOR_FOREACH_CORE(c)
			reactor_kick(g_fw.by_core[c]);
	}
	pthread_mutex_unlock(&g_fw_lock);
}

void reactor_framework_fini(void)
{
	pthread_mutex_lock(&g_fw_lock);
	if (!atomic_load(&g_fw.initialized)) {
		pthread_mutex_unlock(&g_fw_lock);
		return;
	}
	if (atomic_load(&g_fw.running)) {
		pthread_mutex_unlock(&g_fw_lock);
		REACTOR_ERRLOG("reactor_framework_fini: the reactors are still running");
		return;
	}
	atomic_store_explicit(&g_fw.initialized, false, memory_order_release);
	for (uint32_t c = 0; c < g_fw.max_core; c++) {
		struct reactor *r = g_fw.by_core[c];
		struct reactor_thread *t;

		if (r == NULL)
			continue;
		/* Threads created but never run (framework never started). */
		while ((t = TAILQ_FIRST(&r->threads)) != NULL) {
			TAILQ_REMOVE(&r->threads, t, reactor_link);
			atomic_store(&t->reactor, NULL);
			atomic_store(&t->state, THREAD_EXITED);
			thread_free(t);
		}
		reactor_destroy(r);
	}
	free(g_fw.by_core);
	g_fw.by_core = NULL;
	g_fw.max_core = 0;
	g_fw.count = 0;
	g_fw.main_core = REACTOR_CORE_INVALID;
	atomic_store(&g_fw.stopping, false);
	pthread_mutex_unlock(&g_fw_lock);
}

uint32_t reactor_get_current_core(void)
{
	return tls_reactor ? tls_reactor->core : REACTOR_CORE_INVALID;
}

uint32_t reactor_get_main_core(void)
{
	return atomic_load(&g_fw.initialized) ? g_fw.main_core : REACTOR_CORE_INVALID;
}

uint32_t reactor_get_core_count(void)
{
	return atomic_load(&g_fw.initialized) ? g_fw.count : 0;
}

uint32_t reactor_get_next_core(uint32_t prev)
{
	uint32_t c = prev == REACTOR_CORE_INVALID ? 0 : prev + 1;

	if (!atomic_load_explicit(&g_fw.initialized, memory_order_acquire))
		return REACTOR_CORE_INVALID;
	for (; c < g_fw.max_core; c++)
		if (g_fw.by_core[c] != NULL)
			return c;
	return REACTOR_CORE_INVALID;
}

int reactor_set_idle_policy(uint32_t core, enum reactor_idle_policy policy)
{
	struct reactor *r = reactor_by_core(core);

	if (r == NULL || (policy != REACTOR_IDLE_POLL && policy != REACTOR_IDLE_ADAPTIVE))
		return -EINVAL;
	if (policy == REACTOR_IDLE_ADAPTIVE && !atomic_load(&r->sleep_enabled)) {
		/* Producers that read sleep_enabled == 0 skipped their fence; give
		 * their stores time to become visible before the first sleep. */
		atomic_store(&r->sleep_not_before, reactor_get_ticks() + ticks_from_us(1000));
		atomic_store(&r->sleep_enabled, 1);
	}
	atomic_store(&r->idle_policy, policy);
	if (policy == REACTOR_IDLE_POLL) {
		atomic_store(&r->sleep_enabled, 0);
		reactor_kick(r);
	}
	return 0;
}

int reactor_get_idle_policy(uint32_t core)
{
	struct reactor *r = reactor_by_core(core);

	return r ? (int)atomic_load(&r->idle_policy) : -EINVAL;
}

int reactor_get_stats(uint32_t core, struct reactor_stats *stats)
{
	struct reactor *r = reactor_by_core(core);
	struct reactor_stats s;

	if (r == NULL || stats == NULL || stats->stats_size < sizeof(size_t))
		return -EINVAL;
	s.stats_size = stats->stats_size;
	s.busy_ticks = atomic_load_explicit(&r->busy_ticks, memory_order_relaxed);
	s.idle_ticks = atomic_load_explicit(&r->idle_ticks, memory_order_relaxed);
	s.events = atomic_load_explicit(&r->events_run, memory_order_relaxed);
	s.sleeps = atomic_load_explicit(&r->sleeps, memory_order_relaxed);
	s.wakeups = atomic_load_explicit(&r->wakeups, memory_order_relaxed);
	s.stalls = atomic_load_explicit(&r->stalls, memory_order_relaxed);
	memcpy(stats, &s, stats->stats_size < sizeof(s) ? stats->stats_size : sizeof(s));
	return 0;
}

int reactor_schedule_thread(struct reactor_thread *t)
{
	static _Atomic uint32_t rr;
	struct reactor *best = NULL;
	uint32_t c, n = 0, pick;

	/* Round-robin over the reactors the thread's mask allows. */
	REACTOR_FOREACH_CORE(c)
		if (t->cpumask == NULL || reactor_cpuset_isset(t->cpumask, c))
			n++;
	if (n == 0)
		return -EINVAL;
	pick = atomic_fetch_add_explicit(&rr, 1, memory_order_relaxed) % n;
	REACTOR_FOREACH_CORE(c) {
		if (t->cpumask == NULL || reactor_cpuset_isset(t->cpumask, c)) {
			if (pick-- == 0) {
				best = g_fw.by_core[c];
				break;
			}
		}
	}
	atomic_store_explicit(&t->reactor, best, memory_order_release);
	return (int)best->core;
}
