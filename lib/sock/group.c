/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Socket groups: the sockets of one lightweight thread, the per-iteration
 * flush of their send queues (requests queued together leave together),
 * and the choice of backend, made when a group is created: epoll by
 * default, io_uring when asked for and available, epoll again (with one
 * log line) when the kernel refuses a ring, as container seccomp profiles
 * often do.
 */
#include "config.h"
#include "sock_internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static _Atomic(const struct sock_group_ops *) default_ops = &sock_epoll_ops;
static atomic_bool fallback_logged;

int reactor_sock_set_default_impl(const char *name)
{
	if (name == NULL)
		return -EINVAL;
	if (strcmp(name, "epoll") == 0) {
		atomic_store(&default_ops, &sock_epoll_ops);
		return 0;
	}
	if (strcmp(name, "uring") == 0 || strcmp(name, "io_uring") == 0) {
#ifdef HAVE_LIBURING
		atomic_store(&default_ops, &sock_uring_ops);
		return 0;
#else
		return -ENOTSUP;
#endif
	}
	return -EINVAL;
}

const char *reactor_sock_group_get_impl(const struct reactor_sock_group *g)
{
	return g != NULL ? g->ops->name : NULL;
}

static int group_flush(void *arg)
{
	struct reactor_sock_group *g = arg;
	struct reactor_sock *s;
	int busy = REACTOR_POLLER_IDLE;

	g->depth++;
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
	if (g->ops->poll != NULL && g->ops->poll(g) != 0)
		busy = REACTOR_POLLER_BUSY;
	g->depth--;
	return busy;
}

struct reactor_sock_group *reactor_sock_group_create(void)
{
	const struct sock_group_ops *ops = atomic_load(&default_ops);
	struct reactor_sock_group *g;
	int rc;

	if (reactor_get_thread() == NULL) {
		errno = EINVAL;
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return NULL;
	g->thread = reactor_get_thread();
	TAILQ_INIT(&g->socks);
	TAILQ_INIT(&g->flush);
	g->ops = ops;
	rc = ops->init != NULL ? ops->init(g) : 0;
	if (rc != 0 && ops != &sock_epoll_ops) {
		if (!atomic_exchange(&fallback_logged, true))
			REACTOR_NOTICELOG("sock: %s backend unavailable (%s): socket groups use epoll", ops->name,
					  strerror(-rc));
		g->ops = &sock_epoll_ops;
		rc = g->ops->init != NULL ? g->ops->init(g) : 0;
	}
	if (rc == 0) {
		g->flusher = reactor_poller_register_named(group_flush, g, 0, "sock_group_flush");
		if (g->flusher == NULL) {
			rc = -errno;
			if (g->ops->fini != NULL)
				g->ops->fini(g);
		}
	}
	if (rc != 0) {
		free(g);
		errno = -rc;
		return NULL;
	}
	return g;
}

int reactor_sock_group_add_sock(struct reactor_sock_group *g, struct reactor_sock *s, reactor_sock_cb cb,
				void *cb_arg)
{
	int rc;

	if (g == NULL || s == NULL || cb == NULL || s->closed || reactor_get_thread() != g->thread)
		return -EINVAL;
	if (s->group != NULL)
		return -EBUSY;
	if (s->state == SOCK_CONNECTING || s->state == SOCK_FAILED)
		return -ENOTCONN;
	s->group = g;
	s->cb = cb;
	s->cb_arg = cb_arg;
	s->write_armed = false;
	rc = g->ops->add(g, s);
	if (rc != 0) {
		s->group = NULL;
		s->cb = NULL;
		s->cb_arg = NULL;
		return rc;
	}
	TAILQ_INSERT_TAIL(&g->socks, s, glink);
	g->count++;
	if (s->q_head != NULL) /* queued before joining: send it */
		sock_group_want_flush(s);
	return 0;
}

int reactor_sock_group_remove_sock(struct reactor_sock_group *g, struct reactor_sock *s)
{
	if (g == NULL || s == NULL || s->group != g || reactor_get_thread() != g->thread)
		return -EINVAL;
	g->ops->remove(g, s);
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
	if (g->count != 0 || g->depth != 0)
		return -EBUSY;
	reactor_poller_unregister(&g->flusher);
	if (g->ops->fini != NULL)
		g->ops->fini(g);
	free(g);
	*pg = NULL;
	return 0;
}

void sock_group_want_flush(struct reactor_sock *s)
{
	struct reactor_sock_group *g = s->group;

	/* Waiting for writability already: that event flushes it. */
	if (g == NULL || s->in_flush_list || s->write_armed)
		return;
	TAILQ_INSERT_TAIL(&g->flush, s, flink);
	g->nflush++;
	s->in_flush_list = true;
}

void sock_group_arm_write(struct reactor_sock *s, bool on)
{
	if (s->group == NULL || s->write_armed == on)
		return;
	s->group->ops->arm_write(s, on);
}
