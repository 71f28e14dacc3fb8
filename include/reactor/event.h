/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file reactor/event.h
 * Events: a function and two arguments, run once on one reactor core.
 *
 * Events sent to a core run there in the order they were enqueued
 * (first-in, first-out per producer). Event functions run on the reactor's
 * OS thread and must not block. Events come from a fixed pool shared by the
 * process, with a per-thread cache, so sending one allocates no memory.
 */
#ifndef REACTOR_EVENT_H
#define REACTOR_EVENT_H

#include <reactor/export.h>
#include <stdint.h>

REACTOR_BEGIN_DECLS

/** An event function; receives the two arguments given at allocation. */
typedef void (*reactor_event_fn)(void *arg1, void *arg2);

struct reactor_event;

/**
 * Take an event from the pool, aimed at reactor @p core. Any thread (also
 * threads that are not reactors) once the framework is initialised.
 * Returns NULL with errno EINVAL (no such core, no framework) or EAGAIN
 * (pool exhausted: retry later).
 */
REACTOR_EXPORT struct reactor_event *reactor_event_allocate(uint32_t core, reactor_event_fn fn,
							    void *arg1, void *arg2);

/**
 * Send @p ev to its core. On success (0) the event belongs to the framework
 * and is freed after it runs. On -EAGAIN (the core's ring is full) the
 * caller still owns it and may retry or reactor_event_free() it; -EINVAL
 * for NULL or when the framework is gone. Any thread.
 */
REACTOR_EXPORT int reactor_event_call(struct reactor_event *ev);

/** Give back an event that was allocated but not sent. NULL is ignored. */
REACTOR_EXPORT void reactor_event_free(struct reactor_event *ev);

REACTOR_END_DECLS

#endif
