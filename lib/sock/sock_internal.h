/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The socket layer's private objects. sock.c holds what every backend
 * shares (addresses, options, connect/listen/accept, the send queue);
 * group.c the socket groups and the choice of backend; epoll.c and
 * uring.c the backends (how a group learns that a socket is ready, and
 * how its sends reach the kernel).
 */
#ifndef REACTOR_SOCK_INTERNAL_H
#define REACTOR_SOCK_INTERNAL_H

#include <reactor.h>
#include <reactor/sock.h>

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/uio.h>

/* iovecs handed to one sendmsg(): several requests go out together. */
#define SOCK_SEND_IOV 64

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

	/* group membership (group.c) and the backend's state */
	struct reactor_sock_group *group;
	reactor_sock_cb cb;
	void *cb_arg;
	struct reactor_fd_event *fdev; /* epoll */
	uint32_t slot;		       /* uring: index of its slot */
	bool uring_send_pending;       /* uring: a send's completion is not handled yet */
	size_t uring_send_len;	       /* uring: bytes that send was given */
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

/* A group backend. */
struct sock_group_ops {
	const char *name;
	/* Set up g->impl; a negative errno makes the group fall back to epoll. */
	int (*init)(struct reactor_sock_group *g);
	void (*fini)(struct reactor_sock_group *g);
	/* Start reporting @p s's readiness to sock_ready(). */
	int (*add)(struct reactor_sock_group *g, struct reactor_sock *s);
	void (*remove)(struct reactor_sock_group *g, struct reactor_sock *s);
	/* Report writability of @p s (on) or stop (off). */
	void (*arm_write)(struct reactor_sock *s, bool on);
	/* Send @p s's queue through the backend; NULL: sendmsg() in sock_flush(). */
	int (*flush)(struct reactor_sock *s, bool now);
	/* Once per iteration after the flush list: submit and reap. Returns busy. */
	int (*poll)(struct reactor_sock_group *g);
};

struct reactor_sock_group {
	const struct sock_group_ops *ops;
	void *impl;
	struct reactor_thread *thread;
	struct reactor_poller *flusher;
	TAILQ_HEAD(, reactor_sock) socks;
	TAILQ_HEAD(, reactor_sock) flush;
	unsigned int count;
	unsigned int nflush; /* sockets in the flush list */
	unsigned int depth;  /* inside the group's callbacks: it cannot be closed */
};

extern const struct sock_group_ops sock_epoll_ops;
#ifdef HAVE_LIBURING
extern const struct sock_group_ops sock_uring_ops;
#endif

/* sock.c */
void sock_hold(struct reactor_sock *s);
void sock_put(struct reactor_sock *s);
/* Send what the kernel takes; 0 or the error that failed the queue. */
int sock_flush(struct reactor_sock *s);
/* Read zero-copy notifications and complete released requests. */
void sock_zc_reap(struct reactor_sock *s);
/* A backend saw @p events (REACTOR_FD_*) on @p s: flush, reap, call the user. */
void sock_ready(struct reactor_sock *s, uint32_t events);
/* The queue from the head's offset as at most @p max iovecs; returns the count. */
int sock_send_iov(struct reactor_sock *s, struct iovec *iov, int max);
/* @p n bytes of the queue went out (completing finished requests). */
void sock_sent(struct reactor_sock *s, size_t n);
/* The send failed with @p rc: sticky error, one log line, fail the queue. */
void sock_send_failed(struct reactor_sock *s, int rc);
/* The flags every send uses. */
int sock_send_flags(const struct reactor_sock *s);

/* group.c */
/* The queue of @p s gained requests: flush it this iteration. */
void sock_group_want_flush(struct reactor_sock *s);
/* Watch (or stop watching) @p s for writability. */
void sock_group_arm_write(struct reactor_sock *s, bool on);

#endif
