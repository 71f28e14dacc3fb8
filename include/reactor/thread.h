/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file reactor/thread.h
 * Lightweight threads and message passing.
 *
 * A lightweight thread is a unit of scheduling with its own message queue,
 * pollers (reactor/poller.h), fd events (reactor/fd.h) and I/O channels
 * (reactor/channel.h). Everything it owns is used only from it, so it needs
 * no lock; other threads talk to it with messages.
 *
 * When the reactor framework is running, reactor_thread_create() places the
 * new thread on a reactor whose core is in its CPU mask, and the reactor
 * polls it. Without the framework, a program drives threads itself: it
 * calls reactor_set_thread() on an OS thread and then reactor_thread_poll()
 * in its own loop.
 *
 * "On the thread" below means: inside a message, poller, fd callback or
 * event run by that lightweight thread, or on an OS thread that made it
 * current with reactor_set_thread().
 */
#ifndef REACTOR_THREAD_H
#define REACTOR_THREAD_H

#include <reactor/export.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

REACTOR_BEGIN_DECLS

struct reactor_thread;
struct reactor_cpuset;

/** A message function; receives the context given to reactor_thread_send_msg(). */
typedef void (*reactor_msg_fn)(void *ctx);

/**
 * Create a lightweight thread called @p name (copied; NULL gives "thread-ID").
 * @p cpumask restricts the reactors it may run on (copied; NULL: any).
 * With the framework running it is scheduled at once; otherwise it waits
 * for reactor_framework_start() or is driven by the caller.
 * Any thread. Returns NULL with errno ENOMEM, EINVAL (mask names no
 * reactor core), EAGAIN (the event pool or the chosen reactor's queue is
 * full: retry) or ESHUTDOWN (the framework is stopping).
 */
REACTOR_EXPORT struct reactor_thread *reactor_thread_create(const char *name,
							    const struct reactor_cpuset *cpumask);

/**
 * Begin the exit of @p thread. On the thread. The thread goes on running its
 * pollers, fds and messages until they are all released, then stops;
 * a reactor frees a thread it runs after that. If things are still
 * registered after the exit timeout, they are named in a log message and
 * released by force. Calling it twice is harmless.
 *
 * Lifetime: a reactor frees a thread it runs as soon as the thread has
 * exited, so its handle must not be used after that point (by any thread).
 * Code that may race with the exit should hold its own reference count or
 * stop sending before asking the thread to exit.
 */
REACTOR_EXPORT void reactor_thread_exit(struct reactor_thread *thread);

/**
 * Whether @p thread has finished exiting. Any thread, for a thread the
 * caller drives itself; for a thread run by a reactor only from that thread
 * (see the lifetime note of reactor_thread_exit()).
 */
REACTOR_EXPORT bool reactor_thread_is_exited(const struct reactor_thread *thread);

/**
 * Free a thread that the caller drives itself, after it has exited
 * (-EBUSY otherwise). Not for threads run by reactors (-EINVAL). Returns 0,
 * -EBUSY, or -EINVAL (NULL, or a reactor's thread).
 */
REACTOR_EXPORT int reactor_thread_destroy(struct reactor_thread *thread);

/**
 * Make @p thread the current lightweight thread of the calling OS thread
 * (NULL clears it). For programs that drive threads themselves.
 */
REACTOR_EXPORT void reactor_set_thread(struct reactor_thread *thread);

/** The current lightweight thread of the calling OS thread, or NULL. */
REACTOR_EXPORT struct reactor_thread *reactor_get_thread(void);

/** The first thread the app layer created (runs start_fn), or NULL. Any thread. */
REACTOR_EXPORT struct reactor_thread *reactor_thread_get_app_thread(void);

/** Name of @p thread. Valid while the thread lives. Any thread. */
REACTOR_EXPORT const char *reactor_thread_get_name(const struct reactor_thread *thread);
/** Unique, never reused id of @p thread (starts at 1). Any thread. */
REACTOR_EXPORT uint64_t reactor_thread_get_id(const struct reactor_thread *thread);

/**
 * Run @p fn(@p ctx) on @p thread, after the messages already queued to it
 * by the same sender. Any OS thread, including threads that are not
 * reactors. Returns 0, -EAGAIN (message pool or thread queue exhausted:
 * nothing was sent, retry later) or -ESHUTDOWN (thread exited).
 */
REACTOR_EXPORT int reactor_thread_send_msg(struct reactor_thread *thread, reactor_msg_fn fn, void *ctx);

/**
 * For callers that drive a thread themselves: run up to @p max_msgs
 * messages (0: a default batch), the due pollers and ready fds of @p thread
 * on the calling OS thread, as if current. Returns 1 if it did work, 0 if idle.
 */
REACTOR_EXPORT int reactor_thread_poll(struct reactor_thread *thread, uint32_t max_msgs);

/**
 * Send @p fn(@p ctx) to every live thread, one after another, then run
 * @p cpl(@p ctx) (may be NULL) on the calling thread. On a thread.
 * Returns 0, -EINVAL (no current thread, NULL fn) or -ENOMEM.
 */
REACTOR_EXPORT int reactor_for_each_thread(reactor_msg_fn fn, void *ctx, reactor_msg_fn cpl);

/** Counters of a thread. Fields may be added at the end. */
struct reactor_thread_stats {
	size_t stats_size;   /**< set by the caller: sizeof(struct reactor_thread_stats) */
	uint64_t busy_ticks; /**< ticks spent in polls that did work */
	uint64_t idle_ticks; /**< ticks spent in polls that found none */
	uint64_t msgs;       /**< messages run */
};

/**
 * Counters of @p thread (stats->stats_size must be set). Any thread; read
 * without locking. Returns 0 or -EINVAL.
 */
REACTOR_EXPORT int reactor_thread_get_stats(const struct reactor_thread *thread,
					    struct reactor_thread_stats *stats);

REACTOR_END_DECLS

#endif
