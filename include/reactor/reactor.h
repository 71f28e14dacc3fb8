/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file reactor/reactor.h
 * Reactors: one pinned event loop per CPU core of the application's mask.
 *
 * Each reactor owns a lock-free queue of events (reactor/event.h) and runs
 * the lightweight threads (reactor/thread.h) scheduled on it. Its idle
 * policy decides what it does when there is no work:
 * - REACTOR_IDLE_POLL: keep polling (lowest latency, one core at 100%);
 * - REACTOR_IDLE_ADAPTIVE: after idle_threshold_us without work, block in
 *   epoll_wait() on its wake-up eventfd and every registered fd, with a
 *   timeout until the next timed poller. Producers write the eventfd only
 *   when the reactor is asleep, so the busy path makes no system call.
 *
 * Most programs use the app layer (reactor/app.h), which calls these.
 * A program that wants its own main can call reactor_framework_init(),
 * create threads, then reactor_framework_start() (blocks) and, after it
 * returns, reactor_framework_fini().
 */
#ifndef REACTOR_REACTOR_H
#define REACTOR_REACTOR_H

#include <reactor/export.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

REACTOR_BEGIN_DECLS

/** What a reactor does when it has no work. */
enum reactor_idle_policy {
	REACTOR_IDLE_POLL = 0,
	REACTOR_IDLE_ADAPTIVE = 1,
};

/** Value of a core number that names no core. */
#define REACTOR_CORE_INVALID UINT32_MAX

/**
 * Options for reactor_framework_init(). Initialise with reactor_opts_init();
 * fields may be added at the end in later releases (opts_size tells the
 * library which ones the caller knows).
 */
struct reactor_opts {
	/** sizeof(struct reactor_opts) as the caller compiled it. */
	size_t opts_size;
	/** CPU set text ("0x3", "[0-3]", "0-3"); NULL: every allowed CPU. */
	const char *cpumask;
	/** Core that runs reactor_framework_start()'s caller; -1: first core of the mask. */
	int32_t main_core;
	/** enum reactor_idle_policy for every reactor (default REACTOR_IDLE_POLL). */
	uint32_t idle_policy;
	/** Adaptive policy: idle time before sleeping, in microseconds (default 100). */
	uint32_t idle_threshold_us;
	/**
	 * Stall detector: an event, message, poller or fd callback running (or
	 * blocked) longer than this is logged, while it still runs, with its name
	 * (a poller's registered name, else the function's symbol) and a backtrace
	 * of the reactor taken with signal SIGRTMIN+4 when that signal is unused.
	 * At most 10 reports a minute. 0 disables. Default 25 ms.
	 */
	uint32_t stall_threshold_ms;
	/** Capacity of each reactor's event ring (default 65536). */
	uint32_t event_ring_size;
	/** Capacity of each thread's message ring (default 16384). */
	uint32_t msg_ring_size;
	/**
	 * Number of event/message objects in the shared pool (default 262144).
	 * The pool is created once per process (by the first framework, or by
	 * the first message sent without one) and keeps its size afterwards.
	 */
	uint32_t msg_pool_size;
	/** How long thread exit waits for pollers, fds and channels (default 5000 ms). */
	uint32_t thread_exit_timeout_ms;
};

/** Fill @p opts with defaults; @p opts_size is sizeof(*opts). Any thread. */
REACTOR_EXPORT void reactor_opts_init(struct reactor_opts *opts, size_t opts_size);

/**
 * Create one reactor per core of the mask (not running yet). Returns 0, or
 * -EINVAL (bad option: the reason is logged, e.g. the bad mask text or a CPU
 * outside the allowed set), -EALREADY (already initialised), -ENOMEM.
 * Call from the thread that will call reactor_framework_start().
 */
REACTOR_EXPORT int reactor_framework_init(const struct reactor_opts *opts);

/**
 * Run the reactors: start one pinned OS thread per non-main core and run the
 * main core's loop on the calling thread. Blocks until
 * reactor_framework_stop() and until every lightweight thread has exited.
 * Returns 0, or a negative errno if the reactors could not start.
 */
REACTOR_EXPORT int reactor_framework_start(void);

/**
 * Ask every lightweight thread to exit (reactor_thread_exit()) and the
 * reactors to stop once they have. Any thread; returns at once.
 */
REACTOR_EXPORT void reactor_framework_stop(void);

/** Free the reactors after reactor_framework_start() returned. Same thread as init. */
REACTOR_EXPORT void reactor_framework_fini(void);

/** Core of the reactor running the calling OS thread, or REACTOR_CORE_INVALID. */
REACTOR_EXPORT uint32_t reactor_get_current_core(void);
/** The main core, or REACTOR_CORE_INVALID before init. */
REACTOR_EXPORT uint32_t reactor_get_main_core(void);
/** Number of reactors (0 before init). */
REACTOR_EXPORT uint32_t reactor_get_core_count(void);
/**
 * Next reactor core after @p prev (UINT32_MAX/REACTOR_CORE_INVALID gives the
 * first), or REACTOR_CORE_INVALID at the end. Any thread after init.
 */
REACTOR_EXPORT uint32_t reactor_get_next_core(uint32_t prev);

#define REACTOR_FOREACH_CORE(core)                                             \
	for ((core) = reactor_get_next_core(REACTOR_CORE_INVALID);             \
	     (core) != REACTOR_CORE_INVALID; (core) = reactor_get_next_core(core))

/**
 * Change a reactor's idle policy at run time. Any thread; takes effect on
 * the reactor's next loop iteration. Returns 0 or -EINVAL.
 */
REACTOR_EXPORT int reactor_set_idle_policy(uint32_t core, enum reactor_idle_policy policy);
/** A reactor's idle policy; -EINVAL for an unknown core. */
REACTOR_EXPORT int reactor_get_idle_policy(uint32_t core);

/** Counters of one reactor. Fields may be added at the end. */
struct reactor_stats {
	size_t stats_size;   /**< set by the caller: sizeof(struct reactor_stats) */
	uint64_t busy_ticks; /**< ticks spent in loop iterations that did work */
	uint64_t idle_ticks; /**< ticks spent in iterations that found none, and asleep */
	uint64_t events;     /**< events run */
	uint64_t sleeps;     /**< times it blocked in adaptive mode */
	uint64_t wakeups;    /**< eventfd writes that woke it */
	uint64_t stalls;     /**< callbacks reported by the stall detector */
};

/**
 * Copy a reactor's counters into @p stats (stats->stats_size must be set).
 * Any thread; values are read without locking and may be slightly stale.
 * Returns 0 or -EINVAL.
 */
REACTOR_EXPORT int reactor_get_stats(uint32_t core, struct reactor_stats *stats);

REACTOR_END_DECLS

#endif
