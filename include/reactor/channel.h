/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file reactor/channel.h
 * I/O devices and per-thread I/O channels.
 *
 * An I/O device is any object (identified by its address) that threads use
 * concurrently. Each thread that uses it asks for a channel: the first
 * request on a thread calls the device's create callback with a context
 * buffer of the registered size; later requests on the same thread return
 * the same channel with a higher reference count. The channel is destroyed
 * on its thread when its last reference is put. Per-thread state lives in
 * the channel context, so the hot path needs no lock.
 */
#ifndef REACTOR_CHANNEL_H
#define REACTOR_CHANNEL_H

#include <reactor/export.h>
#include <stdint.h>

REACTOR_BEGIN_DECLS

struct reactor_io_channel;
struct reactor_io_channel_iter;
struct reactor_thread;

/** Build a channel's context; on the channel's thread. Return 0 or a negative errno. */
typedef int (*reactor_io_channel_create_cb)(void *io_device, void *ctx_buf);
/** Tear down a channel's context; on the channel's thread. */
typedef void (*reactor_io_channel_destroy_cb)(void *io_device, void *ctx_buf);
/** Completion of reactor_io_device_unregister(); on the thread that unregistered. */
typedef void (*reactor_io_device_unregister_cb)(void *io_device);

/**
 * Register @p io_device. @p ctx_size bytes of context are given to each
 * channel. @p name (copied) is used in diagnostics. Any thread.
 * Returns 0, -EEXIST (already registered) or -ENOMEM / -EINVAL.
 */
REACTOR_EXPORT int reactor_io_device_register(void *io_device, reactor_io_channel_create_cb create_cb,
					      reactor_io_channel_destroy_cb destroy_cb,
					      uint32_t ctx_size, const char *name);

/**
 * Unregister @p io_device. No new channel can be taken from then on;
 * @p cb (may be NULL) runs on the calling thread once the last existing
 * channel has been destroyed (at once if there is none). On a thread.
 * Returns 0 or -ENOENT.
 */
REACTOR_EXPORT int reactor_io_device_unregister(void *io_device, reactor_io_device_unregister_cb cb);

/**
 * Get the current thread's channel for @p io_device, creating it on first
 * use. On a thread. Returns NULL with errno ENOENT (not registered or being
 * unregistered), EINVAL (no current thread), ENOMEM, or the create
 * callback's error.
 */
REACTOR_EXPORT struct reactor_io_channel *reactor_get_io_channel(void *io_device);

/**
 * Drop one reference taken with reactor_get_io_channel(). On the channel's
 * thread. When the last reference goes, the destroy callback runs later on
 * this thread (not inside this call), so a caller may still use the
 * context until it returns to the loop.
 */
REACTOR_EXPORT void reactor_put_io_channel(struct reactor_io_channel *ch);

/** The channel's context buffer (ctx_size bytes). */
REACTOR_EXPORT void *reactor_io_channel_get_ctx(struct reactor_io_channel *ch);
/** The thread that owns the channel. */
REACTOR_EXPORT struct reactor_thread *reactor_io_channel_get_thread(struct reactor_io_channel *ch);
/** The device the channel belongs to. */
REACTOR_EXPORT void *reactor_io_channel_get_io_device(struct reactor_io_channel *ch);

/** Per-channel step of reactor_for_each_channel(); on the channel's thread. */
typedef void (*reactor_channel_msg)(struct reactor_io_channel_iter *iter);
/** Completion of reactor_for_each_channel(); on the thread that started it. */
typedef void (*reactor_channel_for_each_cpl)(struct reactor_io_channel_iter *iter, int status);

/**
 * Call @p fn on the thread of every channel of @p io_device, one after
 * another; each step must call reactor_for_each_channel_continue() (at once
 * or later). A non-zero status stops the walk. Then @p cpl runs on the
 * calling thread with the last status. On a thread. Returns 0 or -ENOMEM.
 */
REACTOR_EXPORT int reactor_for_each_channel(void *io_device, reactor_channel_msg fn, void *ctx,
					    reactor_channel_for_each_cpl cpl);
/** Finish the current step of a walk with @p status (0 goes on). */
REACTOR_EXPORT void reactor_for_each_channel_continue(struct reactor_io_channel_iter *iter, int status);
/** The device being walked. */
REACTOR_EXPORT void *reactor_io_channel_iter_get_io_device(struct reactor_io_channel_iter *iter);
/** The channel of the current step (NULL in the completion). */
REACTOR_EXPORT struct reactor_io_channel *reactor_io_channel_iter_get_channel(struct reactor_io_channel_iter *iter);
/** The @p ctx given to reactor_for_each_channel(). */
REACTOR_EXPORT void *reactor_io_channel_iter_get_ctx(struct reactor_io_channel_iter *iter);

REACTOR_END_DECLS

#endif
