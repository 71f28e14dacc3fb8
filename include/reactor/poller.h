/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file reactor/poller.h
 * Pollers: functions a thread runs on every loop iteration or on a timer.
 *
 * A poller belongs to the thread that registered it and runs only there.
 * All calls below are made on that thread. Unregistering, pausing and
 * resuming are safe from inside any callback of the thread, including the
 * poller's own.
 */
#ifndef REACTOR_POLLER_H
#define REACTOR_POLLER_H

#include <reactor/export.h>
#include <stdint.h>

REACTOR_BEGIN_DECLS

/** Return value of a poller that found nothing to do. */
#define REACTOR_POLLER_IDLE 0
/** Return value of a poller that did work (feeds busy/idle accounting). */
#define REACTOR_POLLER_BUSY 1

/** A poller function. Returns REACTOR_POLLER_BUSY or REACTOR_POLLER_IDLE. */
typedef int (*reactor_poller_fn)(void *arg);

struct reactor_poller;

/**
 * Register @p fn(@p arg) on the current thread, to run on every iteration
 * (@p period_us == 0) or every @p period_us microseconds. @p name (copied;
 * NULL gives the function's address) names it in stats and diagnostics.
 * Returns NULL with errno EINVAL (no current thread, NULL fn), ENOMEM or
 * ESHUTDOWN (the thread is exiting).
 */
REACTOR_EXPORT struct reactor_poller *reactor_poller_register_named(reactor_poller_fn fn, void *arg,
								    uint64_t period_us,
								    const char *name);

/** Register a poller named after its function. */
#define REACTOR_POLLER_REGISTER(fn, arg, period_us)                            \
	reactor_poller_register_named((fn), (arg), (period_us), #fn)

/** Register a poller without a name. */
REACTOR_EXPORT struct reactor_poller *reactor_poller_register(reactor_poller_fn fn, void *arg,
							      uint64_t period_us);

/**
 * Unregister *@p poller and set *@p poller to NULL. It never runs again
 * after this call returns. A NULL pointer or *poller == NULL is ignored, so
 * unregistering twice through the same pointer is safe.
 */
REACTOR_EXPORT void reactor_poller_unregister(struct reactor_poller **poller);

/** Stop running @p poller until reactor_poller_resume(). Idempotent. */
REACTOR_EXPORT void reactor_poller_pause(struct reactor_poller *poller);

/** Run a paused poller again (a timed one starts a new full period). Idempotent. */
REACTOR_EXPORT void reactor_poller_resume(struct reactor_poller *poller);

/** The poller's name. Valid while registered. */
REACTOR_EXPORT const char *reactor_poller_get_name(const struct reactor_poller *poller);

REACTOR_END_DECLS

#endif
