/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The socket layer's private objects. sock.c holds what every backend
 * shares (addresses, options, connect/listen/accept, the send queue);
 * epoll.c is the group backend (fd events on the owning thread).
 */
#ifndef REACTOR_SOCK_INTERNAL_H
#define REACTOR_SOCK_INTERNAL_H

#include <reactor.h>
#include <reactor/sock.h>

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

enum sock_state {
	SOCK_CONNECTING,
	SOCK_CONNECTED,
	SOCK_LISTENING,
	SOCK_FAILED, /* connect failed */
};

struct reactor_sock {
	int fd;
	int family;
	enum sock_state state;
	struct reactor_sock_opts opts;
	bool zero_copy;	 /* SO_ZEROCOPY accepted by the kernel */
	bool closed;	 /* reactor_sock_close() ran; freed when busy drops to 0 */
	bool err_logged; /* the one log line about this socket's failure */
	int busy;	 /* callbacks in progress on this socket */
	int send_error;	 /* sticky: the send error that failed the queue */

	/* send queue: unsent (head may be partly sent), then sent and awaiting zero-copy release */
	struct reactor_sock_request *q_head, *q_tail;
	struct reactor_sock_request *zc_head, *zc_tail;
	uint64_t zc_next; /* index the kernel gives the next MSG_ZEROCOPY send */

	/* group membership (epoll.c) */
	struct reactor_sock_group *group;
	reactor_sock_cb cb;
	void *cb_arg;
	struct reactor_fd_event *fdev;
	bool write_armed;
	bool in_flush_list;
	TAILQ_ENTRY(reactor_sock) glink;
	TAILQ_ENTRY(reactor_sock) flink;

	/* non-blocking connect */
	reactor_sock_connect_fn ccb;
	void *ccb_arg;
	int cstatus; /* failure known at once, reported from cdefer */
	struct reactor_fd_event *cfdev;
	struct reactor_poller *ctimer;
	struct reactor_poller *cdefer;

	char peer[64]; /* "addr:port" for log messages */
};

/* sock.c */
void sock_hold(struct reactor_sock *s);
void sock_put(struct reactor_sock *s);
/* Send what the kernel takes; 0 or the error that failed the queue. */
int sock_flush(struct reactor_sock *s);
/* Read zero-copy notifications and complete released requests. */
void sock_zc_reap(struct reactor_sock *s);

/* epoll.c */
/* The queue of @p s gained requests: flush it this iteration. */
void sock_group_want_flush(struct reactor_sock *s);
/* Watch (or stop watching) @p s for writability. */
void sock_group_arm_write(struct reactor_sock *s, bool on);

#endif
