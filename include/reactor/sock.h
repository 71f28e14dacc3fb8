/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file reactor/sock.h
 * Non-blocking TCP sockets that fit the reactor: listen/accept/connect for
 * IPv4 and IPv6, per-thread socket groups driven by fd events, and an
 * asynchronous, batched send queue.
 *
 * Ownership and threads. A socket belongs to nobody until it is added to a
 * group; from then on it is used only on the group's thread. A socket that
 * is in no group may be handed to another thread (e.g. the acceptor gives a
 * new connection to a worker thread with a message), which then adds it to
 * its own group. A group (reactor_sock_group_create()) belongs to the
 * thread that created it; it registers its sockets' fds with that thread
 * (reactor/fd.h), so an adaptive reactor sleeps while its sockets are idle
 * and wakes when data arrives.
 *
 * Errors are values. Calls return a negative errno (or NULL with errno
 * set); a refused connect, a peer reset or an address in use reaches the
 * caller as -ECONNREFUSED, -ECONNRESET, -EADDRINUSE ... and is logged once
 * where the reason is known. Nothing here aborts or raises SIGPIPE.
 *
 * The hot path does not allocate: send requests belong to the caller.
 */
#ifndef REACTOR_SOCK_H
#define REACTOR_SOCK_H

#include <reactor/export.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

REACTOR_BEGIN_DECLS

struct reactor_sock;
struct reactor_sock_group;

/** Socket options. Initialise with reactor_sock_opts_init(); fields may be added at the end. */
struct reactor_sock_opts {
	/** sizeof(struct reactor_sock_opts) as the caller compiled it. */
	size_t opts_size;
	/** TCP_NODELAY (default true): small messages leave at once. */
	bool tcp_nodelay;
	/**
	 * Send with MSG_ZEROCOPY where the kernel offers it (default false:
	 * on loopback it costs more than it saves; see bench/sock_perf). Only
	 * the epoll backend uses it; in an io_uring group the socket sends
	 * with copies (logged once). With
	 * it, a request completes when the kernel has released its pages (read
	 * from the socket's error queue by its group, or by reactor_sock_flush()
	 * outside a group). A request cancelled by reactor_sock_close() may
	 * still be read by the kernel afterwards: do not rewrite its buffers
	 * while the connection could still be sending them.
	 */
	bool zero_copy;
	/** SO_RCVBUF in bytes; 0 (default) keeps the kernel's. */
	uint32_t recv_buf_size;
	/** SO_SNDBUF in bytes; 0 (default) keeps the kernel's. */
	uint32_t send_buf_size;
	/** SO_PRIORITY (0..6 without CAP_NET_ADMIN); -1 (default) leaves it. */
	int32_t priority;
	/** listen() backlog (default 128). */
	uint32_t backlog;
	/** Non-blocking connect: give up with -ETIMEDOUT after this many ms; 0 (default): the kernel's timeout. */
	uint32_t connect_timeout_ms;
};

/**
 * Fill @p opts with the defaults; @p opts_size is sizeof(*opts) as the
 * caller compiled it (only that much is written). Any thread.
 */
REACTOR_EXPORT void reactor_sock_opts_init(struct reactor_sock_opts *opts, size_t opts_size);

/**
 * Listen on @p addr (numeric IPv4 such as "127.0.0.1" or "0.0.0.0", or IPv6
 * such as "::1", "[::1]" or "::") and @p port (0: the kernel picks one; see
 * reactor_sock_getaddr()). @p opts may be NULL (defaults); accepted sockets
 * inherit its options. Any thread; the socket is in no group. Returns NULL
 * with errno EINVAL (not a numeric address), EADDRINUSE, EADDRNOTAVAIL,
 * EACCES, EAFNOSUPPORT, EMFILE ... (logged once).
 */
REACTOR_EXPORT struct reactor_sock *reactor_sock_listen(const char *addr, uint16_t port,
							const struct reactor_sock_opts *opts);

/**
 * Accept one pending connection of listening socket @p lsock, without
 * blocking. Returns the new socket (in no group), or NULL with errno EAGAIN
 * (none pending), EINVAL (not a listening socket), EMFILE, ENOMEM ... On the
 * thread that uses @p lsock. Add @p lsock to a group to be called when
 * connections are pending.
 */
REACTOR_EXPORT struct reactor_sock *reactor_sock_accept(struct reactor_sock *lsock);

/**
 * Completion of reactor_sock_connect(): @p status is 0 (connected) or a
 * negative errno (-ECONNREFUSED, -ETIMEDOUT, -ENETUNREACH, -ECANCELED when
 * the socket was closed first ...). Runs exactly once, on the thread that
 * called connect, never from inside reactor_sock_connect(). The socket
 * stays the caller's in every case: close it after a failure.
 */
typedef void (*reactor_sock_connect_fn)(void *cb_arg, struct reactor_sock *sock, int status);

/**
 * Start a non-blocking connect to @p addr (numeric, as for listen) and
 * @p port. @p opts may be NULL. On a lightweight thread (the completion
 * runs there). Returns the connecting socket, or NULL with errno EINVAL (no
 * current thread, bad address, NULL cb), EMFILE, ENOMEM, or an option's
 * setsockopt() error. Every failure of connect() itself, even one known at
 * once, reaches @p cb as its status. Until @p cb has run with status 0 the socket
 * cannot be added to a group or written. The choice of a non-blocking
 * connect is deliberate: a blocking one would stall every thread of the
 * reactor.
 */
REACTOR_EXPORT struct reactor_sock *reactor_sock_connect(const char *addr, uint16_t port,
							 const struct reactor_sock_opts *opts,
							 reactor_sock_connect_fn cb, void *cb_arg);

/**
 * Close *@p sock and set *@p sock to NULL (NULL is ignored). Removes it from
 * its group, completes every queued send request with -ECANCELED (exactly
 * once each, before this returns), completes a pending connect with
 * -ECANCELED, and closes the fd. On the socket's thread; safe from inside
 * any of its callbacks. Returns 0 or the close() error as -errno.
 */
REACTOR_EXPORT int reactor_sock_close(struct reactor_sock **sock);

/**
 * Receive up to @p len bytes. Returns the byte count, 0 for an orderly close
 * by the peer, or a negative errno: -EAGAIN (nothing to read now),
 * -ECONNRESET (the peer reset; logged once), -ENOTCONN, -EINVAL ... Never
 * blocks. On the socket's thread.
 */
REACTOR_EXPORT ssize_t reactor_sock_recv(struct reactor_sock *sock, void *buf, size_t len);

/** reactor_sock_recv() into @p iovcnt buffers. */
REACTOR_EXPORT ssize_t reactor_sock_readv(struct reactor_sock *sock, struct iovec *iov, int iovcnt);

/** Completion of a send request: @p status is 0 or a negative errno. */
typedef void (*reactor_sock_request_fn)(void *cb_arg, int status);

/**
 * A send request. Owned by the caller, who fills iov, iovcnt, cb_fn and
 * cb_arg; the buffers and the iovec array must stay unchanged until the
 * completion runs. The `internal` part belongs to the library while the
 * request is queued.
 */
struct reactor_sock_request {
	struct iovec *iov;
	int iovcnt;
	reactor_sock_request_fn cb_fn;
	void *cb_arg;
	struct {
		struct reactor_sock_request *next;
		size_t offset;	   /* bytes already sent */
		uint64_t zc_index; /* last MSG_ZEROCOPY send that carried it */
	} internal;
};

/**
 * Queue @p req for sending on @p sock. Returns 0 and then @p req->cb_fn runs
 * exactly once: with 0 when all its bytes have been handed to the kernel
 * (with zero_copy: when the kernel has released the pages), or with a
 * negative errno (-ECONNRESET, -EPIPE, -ECANCELED on close ...). Or returns a
 * negative errno at once and the callback never runs: -EINVAL (bad request),
 * -ENOTCONN (not connected yet, or a listener), or the socket's earlier
 * send error. Never calls the callback from inside this function.
 *
 * Queued requests are sent in order, several per sendmsg() (a writev that
 * does not raise SIGPIPE); a partial send resumes at the right iovec and
 * offset when the fd becomes writable. A socket in a group is flushed by
 * the group once per loop iteration (so requests queued together go out
 * together); outside a group call reactor_sock_flush(). On the socket's
 * thread.
 */
REACTOR_EXPORT int reactor_sock_writev_async(struct reactor_sock *sock, struct reactor_sock_request *req);

/**
 * Send what the kernel takes now of @p sock's queue (a bounded amount per
 * call, so completions that queue more cannot hold the thread), running the
 * completions of finished requests. Returns 0 (the rest, if any, stays
 * queued) or the send error as a negative errno (every queued request has
 * then been failed with it). On the socket's thread.
 */
REACTOR_EXPORT int reactor_sock_flush(struct reactor_sock *sock);

/**
 * Local and peer addresses of @p sock as numeric strings (IPv6 without
 * brackets) and ports. Any output pointer may be NULL; @p saddr / @p caddr
 * need 46 bytes (INET6_ADDRSTRLEN). Returns 0 or a negative errno.
 */
REACTOR_EXPORT int reactor_sock_getaddr(struct reactor_sock *sock, char *saddr, size_t slen,
					uint16_t *sport, char *caddr, size_t clen, uint16_t *cport);

/**
 * Called on the group's thread when @p sock is readable, has a pending
 * connection (a listener), or has an error or hang-up to report (recv then
 * returns it). Level-triggered: it runs again while data remains, and
 * again and again after recv has returned 0 or an error, so then close the
 * socket or remove it from the group.
 */
typedef void (*reactor_sock_cb)(void *cb_arg, struct reactor_sock_group *group,
				struct reactor_sock *sock);

/**
 * Choose the backend of the socket groups created from now on: "epoll"
 * (the default: each socket is an fd event of the group's thread) or
 * "uring" (one io_uring per group: the sends of all its sockets are
 * submitted together once per loop iteration, readiness comes from polls
 * on the ring; receives stay recv() calls). When the kernel refuses to
 * create a ring (io_uring is often blocked in containers), a "uring" group
 * falls back to epoll, with one log line per process. Any thread. Returns
 * 0, -EINVAL (unknown name) or -ENOTSUP (built without liburing).
 */
REACTOR_EXPORT int reactor_sock_set_default_impl(const char *name);

/** The backend @p group uses: "epoll" or "uring". Static string; NULL for a NULL group. */
REACTOR_EXPORT const char *reactor_sock_group_get_impl(const struct reactor_sock_group *group);

/**
 * Create a socket group on the current lightweight thread, with the
 * backend chosen by reactor_sock_set_default_impl(). Returns NULL with
 * errno EINVAL (no current thread), ENOMEM or ESHUTDOWN.
 */
REACTOR_EXPORT struct reactor_sock_group *reactor_sock_group_create(void);

/**
 * Add @p sock to @p group, with @p cb(@p cb_arg) as its readable callback.
 * On the group's thread. Returns 0, -EINVAL (NULL argument, wrong thread),
 * -EBUSY (already in a group), -ENOTCONN (a connect still in progress) or
 * the fd registration's error.
 */
REACTOR_EXPORT int reactor_sock_group_add_sock(struct reactor_sock_group *group,
					       struct reactor_sock *sock, reactor_sock_cb cb,
					       void *cb_arg);

/**
 * Remove @p sock from @p group (queued sends stay queued; they are flushed
 * by the next group or by reactor_sock_flush()). On the group's thread.
 * Returns 0 or -EINVAL (not in this group).
 */
REACTOR_EXPORT int reactor_sock_group_remove_sock(struct reactor_sock_group *group,
						  struct reactor_sock *sock);

/**
 * Destroy *@p group and set it to NULL. On the group's thread. Returns 0,
 * or -EBUSY while sockets remain in it (remove or close them first) or
 * when called from inside the group's own callbacks or send completions
 * (close it from a message or another callback).
 */
REACTOR_EXPORT int reactor_sock_group_close(struct reactor_sock_group **group);

REACTOR_END_DECLS

#endif
