/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The epoll backend of socket groups: each socket of a group is an fd event
 * of the group's thread (reactor/fd.h), so the thread's reactor sees it in
 * its epoll set and an adaptive reactor sleeps while all are idle. A
 * per-group poller flushes the sockets that queued sends this iteration, so
 * requests queued together leave in one sendmsg().
 */
#include "config.h"
#include "sock_internal.h"

#include <errno.h>
#include <stdlib.h>

struct reactor_sock_group {
	struct reactor_thread *thread;
	struct reactor_poller *flusher;
	TAILQ_HEAD(, reactor_sock) socks;
	TAILQ_HEAD(, reactor_sock) flush;
	unsigned int count;
	unsigned int nflush; /* sockets in the flush list */
};

static int group_flush(void *arg)
{
	struct reactor_sock_group *g = arg;
	struct reactor_sock *s;
	int busy = REACTOR_POLLER_IDLE;

	/*
	 * Pop one at a time (a completion may close or add sockets), and only
	 * as many as were listed on entry: a socket that queues again from a
	 * completion goes out next iteration, so the thread is not trapped.
	 */
	for (unsigned int n = g->nflush; n > 0 && (s = TAILQ_FIRST(&g->flush)) != NULL; n--) {
		TAILQ_REMOVE(&g->flush, s, flink);
		g->nflush--;
		s->in_flush_list = false;
		sock_flush(s);
		busy = REACTOR_POLLER_BUSY;
	}
	return busy;
}

static int sock_fd_cb(void *arg, uint32_t events)
{
	struct reactor_sock *s = arg;

	sock_hold(s);
	if (events & REACTOR_FD_ERROR)
		sock_zc_reap(s);
	if (!s->closed && s->q_head != NULL &&
	    (events & (REACTOR_FD_WRITE | REACTOR_FD_ERROR | REACTOR_FD_HUP)))
		sock_flush(s);
	if (!s->closed && s->cb != NULL && (events & (REACTOR_FD_READ | REACTOR_FD_ERROR | REACTOR_FD_HUP)))
		s->cb(s->cb_arg, s->group, s);
	sock_put(s);
	return REACTOR_POLLER_BUSY;
}

struct reactor_sock_group *reactor_sock_group_create(void)
{
	struct reactor_sock_group *g;
	struct reactor_thread *t = reactor_get_thread();

	if (t == NULL) {
		errno = EINVAL;
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return NULL;
	g->thread = t;
	TAILQ_INIT(&g->socks);
	TAILQ_INIT(&g->flush);
	g->flusher = reactor_poller_register_named(group_flush, g, 0, "sock_group_flush");
	if (g->flusher == NULL) {
		int err = errno;

		free(g);
		errno = err;
		return NULL;
	}
	return g;
}

int reactor_sock_group_add_sock(struct reactor_sock_group *g, struct reactor_sock *s, reactor_sock_cb cb,
				void *cb_arg)
{
	uint32_t events = REACTOR_FD_READ;

	if (g == NULL || s == NULL || cb == NULL || s->closed || reactor_get_thread() != g->thread)
		return -EINVAL;
	if (s->group != NULL)
		return -EBUSY;
	if (s->state == SOCK_CONNECTING || s->state == SOCK_FAILED)
		return -ENOTCONN;
	if (s->q_head != NULL)
		events |= REACTOR_FD_WRITE;
	s->fdev = reactor_fd_register(s->fd, events, sock_fd_cb, s, s->state == SOCK_LISTENING ? "sock-listen" : "sock");
	if (s->fdev == NULL)
		return -errno;
	s->write_armed = (events & REACTOR_FD_WRITE) != 0;
	s->group = g;
	s->cb = cb;
	s->cb_arg = cb_arg;
	TAILQ_INSERT_TAIL(&g->socks, s, glink);
	g->count++;
	return 0;
}

int reactor_sock_group_remove_sock(struct reactor_sock_group *g, struct reactor_sock *s)
{
	if (g == NULL || s == NULL || s->group != g || reactor_get_thread() != g->thread)
		return -EINVAL;
	reactor_fd_unregister(&s->fdev);
	if (s->in_flush_list) {
		TAILQ_REMOVE(&g->flush, s, flink);
		g->nflush--;
		s->in_flush_list = false;
	}
	TAILQ_REMOVE(&g->socks, s, glink);
	g->count--;
	s->group = NULL;
	s->cb = NULL;
	s->cb_arg = NULL;
	s->write_armed = false;
	return 0;
}

int reactor_sock_group_close(struct reactor_sock_group **pg)
{
	struct reactor_sock_group *g;

	if (pg == NULL || *pg == NULL)
		return 0;
	g = *pg;
	if (reactor_get_thread() != g->thread)
		return -EINVAL;
	if (g->count != 0)
		return -EBUSY;
	reactor_poller_unregister(&g->flusher);
	free(g);
	*pg = NULL;
	return 0;
}

void sock_group_want_flush(struct reactor_sock *s)
{
	struct reactor_sock_group *g = s->group;

	/* Waiting for writability already: the fd event flushes it. */
	if (g == NULL || s->in_flush_list || s->write_armed)
		return;
	TAILQ_INSERT_TAIL(&g->flush, s, flink);
	g->nflush++;
	s->in_flush_list = true;
}

void sock_group_arm_write(struct reactor_sock *s, bool on)
{
	uint32_t events = REACTOR_FD_READ;

	if (s->fdev == NULL || s->write_armed == on)
		return;
	if (on)
		events |= REACTOR_FD_WRITE;
	if (reactor_fd_set_events(s->fdev, events) == 0)
		s->write_armed = on;
}
