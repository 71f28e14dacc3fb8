/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fd events. Each thread has its own epoll set, created with its first fd;
 * a reactor watches the set itself (nested epoll), so a sleeping reactor
 * wakes for any fd of any of its threads, and a poll-mode reactor asks the
 * kernel once per iteration, not once per thread.
 */
#include "config.h"
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static uint32_t to_epoll(uint32_t events)
{
	uint32_t e = EPOLLRDHUP;

	if (events & REACTOR_FD_READ)
		e |= EPOLLIN;
	if (events & REACTOR_FD_WRITE)
		e |= EPOLLOUT;
	return e;
}

static uint32_t from_epoll(uint32_t e)
{
	uint32_t events = 0;

	if (e & (EPOLLIN | EPOLLPRI))
		events |= REACTOR_FD_READ;
	if (e & EPOLLOUT)
		events |= REACTOR_FD_WRITE;
	if (e & EPOLLERR)
		events |= REACTOR_FD_ERROR;
	if (e & (EPOLLHUP | EPOLLRDHUP))
		events |= REACTOR_FD_HUP;
	return events;
}

static int thread_epoll(struct reactor_thread *t)
{
	struct reactor *r;
	int rc;

	if (t->epfd >= 0)
		return 0;
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (t->epfd < 0)
		return -errno;
	r = atomic_load_explicit(&t->reactor, memory_order_relaxed);
	if (r != NULL && r == tls_reactor) {
		rc = reactor_watch_thread_fds(r, t);
		if (rc != 0) {
			close(t->epfd);
			t->epfd = -1;
			return rc;
		}
	}
	return 0;
}

struct reactor_fd_event *reactor_fd_register(int fd, uint32_t events, reactor_fd_fn fn, void *arg,
					     const char *name)
{
	struct reactor_thread *t = tls_thread;
	struct reactor_fd_event *e;
	struct epoll_event ee;
	int rc;

	if (t == NULL || fd < 0 || fn == NULL || events == 0 ||
	    (events & ~(REACTOR_FD_READ | REACTOR_FD_WRITE)) != 0) {
		errno = EINVAL;
		return NULL;
	}
	if (atomic_load_explicit(&t->state, memory_order_relaxed) != THREAD_RUNNING) {
		errno = ESHUTDOWN;
		return NULL;
	}
	TAILQ_FOREACH(e, &t->fds, link) {
		if (e->fd == fd) {
			errno = EEXIST;
			return NULL;
		}
	}
	rc = thread_epoll(t);
	if (rc != 0) {
		errno = -rc;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	e->thread = t;
	e->fd = fd;
	e->events = events;
	e->fn = fn;
	e->arg = arg;
	snprintf(e->name, sizeof(e->name), "%s", name ? name : "fd");
	ee.events = to_epoll(events);
	ee.data.ptr = e;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ee) != 0) {
		int err = errno;

		free(e);
		errno = err == EPERM ? EINVAL : err; /* EPERM: regular files cannot be polled */
		return NULL;
	}
	TAILQ_INSERT_TAIL(&t->fds, e, link);
	t->fd_count++;
	return e;
}

int reactor_fd_set_events(struct reactor_fd_event *e, uint32_t events)
{
	struct epoll_event ee;

	if (e == NULL || e->dead || events == 0 || (events & ~(REACTOR_FD_READ | REACTOR_FD_WRITE)))
		return -EINVAL;
	if (events == e->events)
		return 0;
	ee.events = to_epoll(events);
	ee.data.ptr = e;
	if (epoll_ctl(e->thread->epfd, EPOLL_CTL_MOD, e->fd, &ee) != 0)
		return -errno;
	e->events = events;
	return 0;
}

void reactor_fd_unregister(struct reactor_fd_event **pe)
{
	struct reactor_fd_event *e;
	struct reactor_thread *t;

	if (pe == NULL || *pe == NULL)
		return;
	e = *pe;
	*pe = NULL;
	if (e->dead)
		return;
	t = e->thread;
	/* Failure means the fd was closed first; epoll dropped it already. */
	epoll_ctl(t->epfd, EPOLL_CTL_DEL, e->fd, NULL);
	TAILQ_REMOVE(&t->fds, e, link);
	t->fd_count--;
	e->dead = true;
	if (t->in_fd_dispatch)
		TAILQ_INSERT_TAIL(&t->dead_fds, e, link); /* may still be in the event batch */
	else
		free(e);
}

void fds_reap(struct reactor_thread *t)
{
	struct reactor_fd_event *e;

	while ((e = TAILQ_FIRST(&t->dead_fds)) != NULL) {
		TAILQ_REMOVE(&t->dead_fds, e, link);
		free(e);
	}
}

int fds_dispatch(struct reactor_thread *t)
{
	struct epoll_event evs[FD_BATCH];
	int n, busy = 0;

	n = epoll_wait(t->epfd, evs, FD_BATCH, 0);
	if (n <= 0)
		return 0;
	t->in_fd_dispatch = true;
	for (int i = 0; i < n; i++) {
		struct reactor_fd_event *e = evs[i].data.ptr;

		if (e->dead)
			continue;
		stall_enter((void *)e->fn, NULL);
		if (e->fn(e->arg, from_epoll(evs[i].events)) > 0)
			busy = 1;
	}
	t->in_fd_dispatch = false;
	fds_reap(t);
	/* A full batch may mean more are ready: look again next iteration. */
	if (n == (int)FD_BATCH)
		t->fd_ready = true;
	return busy || n > 0;
}

void fds_free_all(struct reactor_thread *t, char *buf, size_t len)
{
	struct reactor_fd_event *e;

	while ((e = TAILQ_FIRST(&t->fds)) != NULL) {
		if (buf != NULL) {
			size_t off = strlen(buf);

			if (off < len)
				snprintf(buf + off, len - off, " fd %d '%s'", e->fd, e->name);
		}
		reactor_fd_unregister(&e);
	}
}
