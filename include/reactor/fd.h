/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file reactor/fd.h
 * File-descriptor events: run a callback on the owning thread when an fd is
 * readable or writable. This is how sockets, eventfds and timerfds join the
 * loop; an adaptive reactor sleeps in epoll_wait() on all of them.
 *
 * Events are level-triggered. All calls are made on the owning thread.
 */
#ifndef REACTOR_FD_H
#define REACTOR_FD_H

#include <reactor/export.h>
#include <stdint.h>

REACTOR_BEGIN_DECLS

#define REACTOR_FD_READ 0x1u  /**< readable (EPOLLIN) */
#define REACTOR_FD_WRITE 0x2u /**< writable (EPOLLOUT) */
#define REACTOR_FD_ERROR 0x4u /**< error condition (EPOLLERR); always reported */
#define REACTOR_FD_HUP 0x8u   /**< hang-up (EPOLLHUP/EPOLLRDHUP); always reported */

/**
 * An fd callback. @p events says what happened (REACTOR_FD_* bits). Returns
 * REACTOR_POLLER_BUSY or REACTOR_POLLER_IDLE like a poller.
 */
typedef int (*reactor_fd_fn)(void *arg, uint32_t events);

struct reactor_fd_event;

/**
 * Watch @p fd for @p events (READ and/or WRITE) on the current thread. The
 * fd stays owned by the caller and must outlive the registration. @p name
 * (copied; may be NULL) names it in diagnostics. Returns NULL with errno
 * EINVAL (no current thread, bad fd or events), EEXIST (fd already
 * registered on this thread), ENOMEM, or epoll_ctl()'s error.
 */
REACTOR_EXPORT struct reactor_fd_event *reactor_fd_register(int fd, uint32_t events, reactor_fd_fn fn,
							    void *arg, const char *name);

/** Change the watched events (e.g. add WRITE while a send is pending). Returns 0 or -errno. */
REACTOR_EXPORT int reactor_fd_set_events(struct reactor_fd_event *ev, uint32_t events);

/**
 * Stop watching and free the registration; sets *@p ev to NULL. The callback
 * never runs again after this returns. NULL is ignored (double unregister
 * through the same pointer is safe). The fd is not closed.
 */
REACTOR_EXPORT void reactor_fd_unregister(struct reactor_fd_event **ev);

REACTOR_END_DECLS

#endif
