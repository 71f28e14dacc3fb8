/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The stall detector. A watchdog thread samples what each reactor is
 * running (struct stall_slot: the callback and a sequence number bumped
 * per callback). When the same callback is still running after the
 * threshold, it logs the callback's name and asks the stalled reactor for
 * a backtrace with a signal, so the trace shows where the callback is
 * stuck, not where it was called from. The reactors pay two relaxed stores
 * per callback; the watchdog parks while every reactor sleeps.
 */
#include "config.h"
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_EXECINFO_H
#include <execinfo.h>
#endif

REACTOR_TLS struct stall_slot *tls_stall;

/* At most this many reports per minute, process-wide. */
#define STALL_REPORTS_PER_MINUTE 10

static struct {
	pthread_t tid;
	bool running;
	_Atomic bool stop;
	_Atomic int parked;
	int efd;
	bool handler_installed;
	_Atomic uint32_t threshold_ms; /* changed at run time by stall_set_threshold() */
} g_wd = {.efd = -1};

/* Serialises starting and stopping the watchdog. */
static pthread_mutex_t g_wd_lock = PTHREAD_MUTEX_INITIALIZER;

static int stall_signal(void)
{
	return SIGRTMIN + 4;
}

/* Runs on the stalled reactor: capture the frames only (no formatting, no
 * locks); the watchdog turns them into log lines through the log system. */
static void backtrace_handler(int sig)
{
	struct reactor *r = tls_reactor;
	int saved = errno;

	(void)sig;
	if (r != NULL) {
#ifdef HAVE_BACKTRACE
		int n = backtrace(r->bt_frames, STALL_BT_FRAMES);

		atomic_store_explicit(&r->bt_count, n, memory_order_release);
#else
		atomic_store_explicit(&r->bt_count, 0, memory_order_release);
#endif
	}
	errno = saved;
}

/* Ask reactor @p r for its stack and log it; gives up after 100 ms (a
 * sanitizer may delay signal delivery until the callback returns). */
static void log_backtrace(struct reactor *r)
{
	int n = -1;

	atomic_store_explicit(&r->bt_count, -1, memory_order_relaxed);
	if (pthread_kill(r->tid, stall_signal()) != 0)
		return;
	for (int waited = 0; waited < 100; waited++) {
		struct timespec ms = {0, 1000 * 1000};

		n = atomic_load_explicit(&r->bt_count, memory_order_acquire);
		if (n >= 0)
			break;
		nanosleep(&ms, NULL);
	}
	if (n < 0) {
		REACTOR_WARNLOG("stall: reactor %u: no backtrace (signal not delivered in time)", r->core);
		return;
	}
#ifdef HAVE_BACKTRACE
	{
		char **syms = backtrace_symbols(r->bt_frames, n);

		for (int i = 0; i < n; i++)
			REACTOR_WARNLOG("stall: reactor %u:   #%d %s", r->core, i,
					syms ? syms[i] : "?");
		free(syms);
	}
#endif
}

void stall_install_handler(void)
{
	struct sigaction sa, old;

	/* Only take the signal if nobody else uses it. */
	if (sigaction(stall_signal(), NULL, &old) != 0 || old.sa_handler != SIG_DFL)
		return;
#ifdef HAVE_BACKTRACE
	{
		void *warm[1];

		backtrace(warm, 1); /* loads libgcc now, not inside the handler */
	}
#endif
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = backtrace_handler;
	g_wd.handler_installed = true;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(stall_signal(), &sa, NULL);
}

static void describe(void *fn, char *buf, size_t len)
{
	Dl_info info;
	bool found = dladdr(fn, &info) != 0;

	if (found && info.dli_sname != NULL)
		snprintf(buf, len, "%s (%s)", info.dli_sname,
			 info.dli_fname ? info.dli_fname : "?");
	else if (found && info.dli_fname != NULL)
		snprintf(buf, len, "%p (%s+0x%lx)", fn, info.dli_fname,
			 (unsigned long)((char *)fn - (char *)info.dli_fbase));
	else
		snprintf(buf, len, "%p", fn);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* CPU time a reactor's OS thread has used, in ms; 0 if unknown. */
static uint64_t thread_cpu_ms(pthread_t tid)
{
	struct timespec ts;
	clockid_t cid;

	if (pthread_getcpuclockid(tid, &cid) != 0 || clock_gettime(cid, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Whether the reactor's OS thread is runnable ('R'), as opposed to blocked
 * in the kernel (a callback sleeping or waiting on I/O). */
static bool thread_runnable(pid_t tid)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the name in parentheses may contain spaces */
	return p != NULL && p[1] == ' ' && p[2] == 'R';
}

/* Interned names: a fixed table, filled under a lock, never freed. */
#define INTERN_MAX 1024
static pthread_mutex_t g_intern_lock = PTHREAD_MUTEX_INITIALIZER;
static char *g_interned[INTERN_MAX];
static unsigned g_ninterned;

const char *stall_intern_name(const char *name)
{
	const char *found = NULL;

	pthread_mutex_lock(&g_intern_lock);
	for (unsigned i = 0; i < g_ninterned && found == NULL; i++)
		if (strcmp(g_interned[i], name) == 0)
			found = g_interned[i];
	if (found == NULL && g_ninterned < INTERN_MAX) {
		g_interned[g_ninterned] = strdup(name);
		if (g_interned[g_ninterned] != NULL)
			found = g_interned[g_ninterned++];
	}
	pthread_mutex_unlock(&g_intern_lock);
	return found;
}

static bool all_asleep(void)
{
	uint32_t c;

	REACTOR_FOREACH_CORE(c)
		if (!atomic_load(&g_fw.by_core[c]->sleeping))
			return false;
	return true;
}

static void *watchdog_main(void *arg)
{
	uint32_t n = g_fw.max_core, interval;
	uint64_t *last_seq = calloc(n, sizeof(uint64_t));
	uint64_t *since = calloc(n, sizeof(uint64_t));
	uint64_t *cpu_since = calloc(n, sizeof(uint64_t));
	bool *reported = calloc(n, sizeof(bool));
	uint64_t window_start = now_ms();
	unsigned reports = 0, suppressed = 0;

	(void)arg;
#ifdef HAVE_PTHREAD_SETNAME_NP
	pthread_setname_np(pthread_self(), "reactor_wdog");
#endif
	while (last_seq && since && cpu_since && reported && !atomic_load(&g_wd.stop)) {
		struct pollfd pfd = {.fd = g_wd.efd, .events = POLLIN};
		int timeout;
		uint64_t now;
		uint32_t c;

		interval = g_wd.threshold_ms / 2; /* the threshold may change at run time */
		timeout = interval ? (int)interval : 1;

		/* Park while every reactor sleeps; a waking reactor unparks us. */
		if (all_asleep()) {
			atomic_store(&g_wd.parked, 1);
			if (all_asleep())
				timeout = -1;
			else
				atomic_store(&g_wd.parked, 0);
		}
		if (poll(&pfd, 1, timeout) > 0) {
			uint64_t v;

			if (read(g_wd.efd, &v, sizeof(v)) < 0) {
				/* spurious wake; fine */
			}
		}
		atomic_store(&g_wd.parked, 0);
		now = now_ms();
		if (now - window_start >= 60000) {
			if (suppressed)
				REACTOR_WARNLOG("stall detector: %u more stall reports suppressed", suppressed);
			window_start = now;
			reports = suppressed = 0;
		}
		REACTOR_FOREACH_CORE(c) {
			struct reactor *r = g_fw.by_core[c];
			void *fn = atomic_load_explicit(&r->stall.fn, memory_order_relaxed);
			const char *pname = atomic_load_explicit(&r->stall.name, memory_order_relaxed);
			uint64_t seq = atomic_load_explicit(&r->stall.seq, memory_order_relaxed);
			char name[256];

			if (fn == NULL || seq != last_seq[c]) {
				last_seq[c] = seq;
				since[c] = now;
				cpu_since[c] = thread_cpu_ms(r->tid);
				reported[c] = false;
				continue;
			}
			if (reported[c] || now - since[c] < g_wd.threshold_ms)
				continue;
			/* A reactor that was runnable but not run (an overloaded host)
			 * has not stalled; one that computed or blocked in the kernel
			 * (sleep, I/O) has. */
			if (thread_cpu_ms(r->tid) - cpu_since[c] < g_wd.threshold_ms * 3 / 4 &&
			    thread_runnable(atomic_load(&r->os_tid)))
				continue;
			reported[c] = true;
			atomic_fetch_add_explicit(&r->stalls, 1, memory_order_relaxed);
			if (reports >= STALL_REPORTS_PER_MINUTE) {
				suppressed++;
				continue;
			}
			reports++;
			if (pname != NULL) {
				/* The lock orders our read after the strdup that made it. */
				pthread_mutex_lock(&g_intern_lock);
				snprintf(name, sizeof(name), "poller '%s'", pname);
				pthread_mutex_unlock(&g_intern_lock);
			} else {
				describe(fn, name, sizeof(name));
			}
			REACTOR_WARNLOG("stall: reactor %u has been running %s for %llu ms "
					"(stall threshold %u ms)", c, name,
					(unsigned long long)(now - since[c]), g_wd.threshold_ms);
			if (g_wd.handler_installed)
				log_backtrace(r);
		}
	}
	free(last_seq);
	free(since);
	free(cpu_since);
	free(reported);
	return NULL;
}

static int stall_start_locked(uint32_t threshold_ms)
{
	int rc;

	g_wd.threshold_ms = threshold_ms;
	atomic_store(&g_wd.stop, false);
	atomic_store(&g_wd.parked, 0);
	g_wd.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g_wd.efd < 0)
		return -errno;
	rc = pthread_create(&g_wd.tid, NULL, watchdog_main, NULL);
	if (rc != 0) {
		close(g_wd.efd);
		g_wd.efd = -1;
		return -rc;
	}
	g_wd.running = true;
	return 0;
}

static void wake_watchdog(void)
{
	uint64_t one = 1;

	if (write(g_wd.efd, &one, sizeof(one)) < 0) {
		/* counter saturated: it is awake anyway */
	}
}

void stall_reactor_woke(void)
{
	if (atomic_load(&g_wd.parked) && atomic_exchange(&g_wd.parked, 0))
		wake_watchdog();
}

static void stall_stop_locked(void)
{
	if (!g_wd.running)
		return;
	atomic_store(&g_wd.stop, true);
	wake_watchdog();
	pthread_join(g_wd.tid, NULL);
	close(g_wd.efd);
	g_wd.efd = -1;
	g_wd.running = false;
}

int stall_start(uint32_t threshold_ms)
{
	int rc;

	pthread_mutex_lock(&g_wd_lock);
	rc = stall_start_locked(threshold_ms);
	pthread_mutex_unlock(&g_wd_lock);
	return rc;
}

void stall_stop(void)
{
	pthread_mutex_lock(&g_wd_lock);
	stall_stop_locked();
	pthread_mutex_unlock(&g_wd_lock);
}

int stall_set_threshold(uint32_t threshold_ms)
{
	int rc = 0;

	if (!atomic_load(&g_fw.running))
		return -ENODEV;
	pthread_mutex_lock(&g_wd_lock);
	if (threshold_ms == 0)
		stall_stop_locked();
	else if (g_wd.running)
		g_wd.threshold_ms = threshold_ms;
	else
		rc = stall_start_locked(threshold_ms);
	pthread_mutex_unlock(&g_wd_lock);
	return rc;
}

uint32_t stall_get_threshold(void)
{
	uint32_t ms;

	pthread_mutex_lock(&g_wd_lock);
	ms = g_wd.running ? g_wd.threshold_ms : 0;
	pthread_mutex_unlock(&g_wd_lock);
	return ms;
}
