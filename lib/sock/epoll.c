/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The epoll backend of socket groups (the default): each socket of a group
 * is an fd event of the group's thread (reactor/fd.h), so the thread's
 * reactor sees it in its epoll set and an adaptive reactor sleeps while all
 * are idle. Sends are sendmsg() calls made by sock_flush().
 */
#include "config.h"
#include "sock_internal.h"

#include <errno.h>

static int sock_fd_cb(void *arg, uint32_t events)
{
	sock_ready(arg, events);
	return REACTOR_POLLER_BUSY;
}

static int epoll_add(struct reactor_sock_group *g, struct reactor_sock *s)
{
	uint32_t events = REACTOR_FD_READ;

	(void)g;
	if (s->q_head != NULL)
		events |= REACTOR_FD_WRITE;
	s->fdev = reactor_fd_register(s->fd, events, sock_fd_cb, s,
				      s->state == SOCK_LISTENING ? "sock-listen" : "sock");
	if (s->fdev == NULL)
		return -errno;
	s->write_armed = (events & REACTOR_FD_WRITE) != 0;
	return 0;
}

static void epoll_remove(struct reactor_sock_group *g, struct reactor_sock *s)
{
	(void)g;
	reactor_fd_unregister(&s->fdev);
}

static void epoll_arm_write(struct reactor_sock *s, bool on)
{
	uint32_t events = REACTOR_FD_READ;

	if (s->fdev == NULL)
		return;
	if (on)
		events |= REACTOR_FD_WRITE;
	if (reactor_fd_set_events(s->fdev, events) == 0)
		s->write_armed = on;
}

const struct sock_group_ops sock_epoll_ops = {
	.name = "epoll",
	.add = epoll_add,
	.remove = epoll_remove,
	.arm_write = epoll_arm_write,
};
