/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sockets, the part every backend shares: addresses and options,
 * listen/accept/connect, receive, and the send queue (batched sendmsg,
 * resumed partial sends, MSG_ZEROCOPY notifications, cancel on close).
 */
#include "config.h"
#include "sock_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif
#ifndef SO_EE_ORIGIN_ZEROCOPY
#define SO_EE_ORIGIN_ZEROCOPY 5
#endif

/* sendmsg() calls per flush of one socket before the thread moves on. */
#define SOCK_FLUSH_ROUNDS 4

REACTOR_LOG_REGISTER_COMPONENT(sock)

void reactor_sock_opts_init(struct reactor_sock_opts *opts, size_t opts_size)
{
	struct reactor_sock_opts d = {
		.opts_size = opts_size,
		.tcp_nodelay = true,
		.zero_copy = false,
		.recv_buf_size = 0,
		.send_buf_size = 0,
		.priority = -1,
		.backlog = 128,
		.connect_timeout_ms = 0,
	};

	if (opts == NULL || opts_size < sizeof(size_t))
		return;
	memcpy(opts, &d, opts_size < sizeof(d) ? opts_size : sizeof(d));
}

/* Copy the caller's options over the defaults, as far as the caller knows them. */
static int opts_copy(struct reactor_sock_opts *out, const struct reactor_sock_opts *in)
{
	reactor_sock_opts_init(out, sizeof(*out));
	if (in == NULL)
		return 0;
	if (in->opts_size < sizeof(size_t) || in->opts_size > sizeof(*out)) {
		REACTOR_ERRLOG("sock: opts_size %zu is invalid (this library's is %zu)", in->opts_size,
			       sizeof(*out));
		return -EINVAL;
	}
	memcpy(out, in, in->opts_size);
	out->opts_size = sizeof(*out);
	if (out->backlog == 0)
		out->backlog = 128;
	return 0;
}

/* Parse a numeric address ("1.2.3.4", "::1", "[::1]"); "" or NULL is rejected. */
static int parse_addr(const char *addr, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n;

	memset(ss, 0, sizeof(*ss));
	if (addr == NULL || *addr == '\0')
		return -EINVAL;
	n = strlen(addr);
	if (addr[0] == '[' && n > 2 && addr[n - 1] == ']' && n - 2 < sizeof(buf)) {
		memcpy(buf, addr + 1, n - 2);
		buf[n - 2] = '\0';
	} else if (n < sizeof(buf)) {
		memcpy(buf, addr, n + 1);
	} else {
		return -EINVAL;
	}
	if (strchr(buf, ':') == NULL) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, buf, &in->sin_addr) != 1)
			return -EINVAL;
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		*len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, buf, &in6->sin6_addr) != 1)
			return -EINVAL;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
	}
	return 0;
}

static int format_addr(const struct sockaddr_storage *ss, char *addr, size_t alen, uint16_t *port)
{
	const void *src;
	char tmp[INET6_ADDRSTRLEN];
	uint16_t p;

	if (ss->ss_family == AF_INET) {
		src = &((const struct sockaddr_in *)ss)->sin_addr;
		p = ntohs(((const struct sockaddr_in *)ss)->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		src = &((const struct sockaddr_in6 *)ss)->sin6_addr;
		p = ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	} else {
		return -EAFNOSUPPORT;
	}
	if (inet_ntop(ss->ss_family, src, tmp, sizeof(tmp)) == NULL)
		return -errno;
	if (addr != NULL) {
		if (strlen(tmp) >= alen)
			return -ENOSPC;
		memcpy(addr, tmp, strlen(tmp) + 1);
	}
	if (port != NULL)
		*port = p;
	return 0;
}

static void name_peer(struct reactor_sock *s, const struct sockaddr_storage *ss)
{
	char a[INET6_ADDRSTRLEN];
	uint16_t p = 0;

	if (format_addr(ss, a, sizeof(a), &p) != 0)
		snprintf(s->peer, sizeof(s->peer), "?");
	else if (ss->ss_family == AF_INET6)
		snprintf(s->peer, sizeof(s->peer), "[%s]:%u", a, p);
	else
		snprintf(s->peer, sizeof(s->peer), "%s:%u", a, p);
}

static struct reactor_sock *sock_alloc(int fd, int family, enum sock_state state,
				       const struct reactor_sock_opts *opts)
{
	struct reactor_sock *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->fd = fd;
	s->family = family;
	s->state = state;
	s->opts = *opts;
	return s;
}

static int set_int(int fd, int level, int name, int v)
{
	return setsockopt(fd, level, name, &v, sizeof(v)) == 0 ? 0 : -errno;
}

/*
 * Apply @p o to @p fd. Buffer sizes and priority are errors when refused;
 * zero-copy is a wish (not every kernel or socket takes it), so its
 * refusal only turns it off.
 */
static int apply_opts(struct reactor_sock *s, bool listener)
{
	const struct reactor_sock_opts *o = &s->opts;
	int rc;

	if (o->recv_buf_size != 0 && (rc = set_int(s->fd, SOL_SOCKET, SO_RCVBUF, (int)o->recv_buf_size)) != 0) {
		REACTOR_ERRLOG("sock: SO_RCVBUF %u: %s", o->recv_buf_size, strerror(-rc));
		return rc;
	}
	if (o->send_buf_size != 0 && (rc = set_int(s->fd, SOL_SOCKET, SO_SNDBUF, (int)o->send_buf_size)) != 0) {
		REACTOR_ERRLOG("sock: SO_SNDBUF %u: %s", o->send_buf_size, strerror(-rc));
		return rc;
	}
	if (o->priority >= 0 && (rc = set_int(s->fd, SOL_SOCKET, SO_PRIORITY, o->priority)) != 0) {
		REACTOR_ERRLOG("sock: SO_PRIORITY %d: %s", o->priority, strerror(-rc));
		return rc;
	}
	if (listener)
		return 0;
	if ((rc = set_int(s->fd, IPPROTO_TCP, TCP_NODELAY, o->tcp_nodelay ? 1 : 0)) != 0) {
		REACTOR_ERRLOG("sock: TCP_NODELAY: %s", strerror(-rc));
		return rc;
	}
	if (o->zero_copy) {
		rc = set_int(s->fd, SOL_SOCKET, SO_ZEROCOPY, 1);
		s->zero_copy = rc == 0;
		if (rc != 0)
			REACTOR_DEBUGLOG(sock, "sock: SO_ZEROCOPY refused (%s): copying sends", strerror(-rc));
	}
	return 0;
}

/* ---- lifetime -------------------------------------------------------------------- */

void sock_hold(struct reactor_sock *s)
{
	s->busy++;
}

void sock_put(struct reactor_sock *s)
{
	if (--s->busy == 0 && s->closed)
		free(s);
}

static void req_complete(struct reactor_sock_request *req, int status)
{
	req->internal.next = NULL;
	req->cb_fn(req->cb_arg, status);
}

/* Fail every queued request with @p status, in order, each once. */
static void fail_all(struct reactor_sock *s, int status)
{
	struct reactor_sock_request *req;

	/* Detach both lists first: a callback may queue again (and be refused). */
	while ((req = s->zc_head) != NULL) {
		s->zc_head = req->internal.next;
		if (s->zc_head == NULL)
			s->zc_tail = NULL;
		req_complete(req, status);
	}
	while ((req = s->q_head) != NULL) {
		s->q_head = req->internal.next;
		if (s->q_head == NULL)
			s->q_tail = NULL;
		req_complete(req, status);
	}
}

static void connect_cleanup(struct reactor_sock *s)
{
	reactor_fd_unregister(&s->cfdev);
	reactor_poller_unregister(&s->ctimer);
	reactor_poller_unregister(&s->cdefer);
}

static void connect_finish(struct reactor_sock *s, int status)
{
	reactor_sock_connect_fn cb = s->ccb;

	connect_cleanup(s);
	if (cb == NULL)
		return;
	s->ccb = NULL;
	s->state = status == 0 ? SOCK_CONNECTED : SOCK_FAILED;
	if (status != 0 && status != -ECANCELED) {
		REACTOR_ERRLOG("sock: connect to %s failed: %s", s->peer, strerror(-status));
		s->err_logged = true;
	}
	sock_hold(s);
	cb(s->ccb_arg, s, status);
	sock_put(s);
}

int reactor_sock_close(struct reactor_sock **ps)
{
	struct reactor_sock *s;
	int rc = 0;

	if (ps == NULL || *ps == NULL)
		return 0;
	s = *ps;
	*ps = NULL;
	if (s->closed)
		return 0;
	s->closed = true;
	sock_hold(s);
	if (s->group != NULL)
		reactor_sock_group_remove_sock(s->group, s);
	connect_finish(s, -ECANCELED);
	fail_all(s, -ECANCELED);
	if (s->fd >= 0 && close(s->fd) != 0)
		rc = -errno;
	s->fd = -1;
	sock_put(s);
	return rc;
}

/* ---- listen / accept / connect ------------------------------------------------------ */

/* The common start of listen and connect: options, address, a non-blocking
 * socket and its object. NULL with errno set (and the reason logged). */
static struct reactor_sock *sock_open(const char *what, const char *addr, uint16_t port,
				      const struct reactor_sock_opts *opts, enum sock_state state,
				      struct reactor_sock_opts *o, struct sockaddr_storage *ss,
				      socklen_t *len)
{
	struct reactor_sock *s;
	int fd, rc;

	rc = opts_copy(o, opts);
	if (rc == 0 && (rc = parse_addr(addr, port, ss, len)) != 0)
		REACTOR_ERRLOG("sock: %s: '%s' is not a numeric IPv4 or IPv6 address", what,
			       addr ? addr : "(null)");
	if (rc != 0) {
		errno = -rc;
		return NULL;
	}
	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = errno;
		REACTOR_ERRLOG("sock: %s %s port %u: socket: %s", what, addr, port, strerror(rc));
		errno = rc;
		return NULL;
	}
	s = sock_alloc(fd, ss->ss_family, state, o);
	if (s == NULL) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	name_peer(s, ss);
	return s;
}

struct reactor_sock *reactor_sock_listen(const char *addr, uint16_t port, const struct reactor_sock_opts *opts)
{
	struct reactor_sock_opts o;
	struct sockaddr_storage ss;
	struct reactor_sock *s;
	socklen_t len;
	int fd, rc;

	s = sock_open("listen on", addr, port, opts, SOCK_LISTENING, &o, &ss, &len);
	if (s == NULL)
		return NULL;
	fd = s->fd;
	rc = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (rc == 0 && ss.ss_family == AF_INET6)
		rc = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	if (rc == 0)
		rc = apply_opts(s, true);
	if (rc == 0 && bind(fd, (struct sockaddr *)&ss, len) != 0) {
		rc = -errno;
		REACTOR_ERRLOG("sock: cannot listen on %s: %s", s->peer,
			       rc == -EADDRINUSE ? "address already in use" : strerror(-rc));
	}
	if (rc == 0 && listen(fd, (int)o.backlog) != 0) {
		rc = -errno;
		REACTOR_ERRLOG("sock: listen on %s: %s", s->peer, strerror(-rc));
	}
	if (rc != 0) {
		close(fd);
		free(s);
		errno = -rc;
		return NULL;
	}
	return s;
}

struct reactor_sock *reactor_sock_accept(struct reactor_sock *ls)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct reactor_sock *s;
	int fd, err;

	if (ls == NULL || ls->closed || ls->state != SOCK_LISTENING) {
		errno = EINVAL;
		return NULL;
	}
	do {
		fd = accept4(ls->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	} while (fd < 0 && (errno == EINTR || errno == ECONNABORTED));
	if (fd < 0) {
		err = errno == EWOULDBLOCK ? EAGAIN : errno;
		if (err != EAGAIN && !ls->err_logged) {
			REACTOR_ERRLOG("sock: accept on %s: %s", ls->peer, strerror(err));
			ls->err_logged = true; /* once: a full fd table repeats on every call */
		}
		errno = err;
		return NULL;
	}
	ls->err_logged = false;
	s = sock_alloc(fd, ss.ss_family, SOCK_CONNECTED, &ls->opts);
	if (s == NULL) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	name_peer(s, &ss);
	err = apply_opts(s, false);
	if (err != 0) {
		close(fd);
		free(s);
		errno = -err;
		return NULL;
	}
	return s;
}

static int connect_fd_cb(void *arg, uint32_t events)
{
	struct reactor_sock *s = arg;
	socklen_t len = sizeof(int);
	int err = 0;

	(void)events;
	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err == 0 && !(events & REACTOR_FD_WRITE))
		return REACTOR_POLLER_IDLE; /* not decided yet */
	connect_finish(s, -err);
	return REACTOR_POLLER_BUSY;
}

static int connect_timeout(void *arg)
{
	connect_finish(arg, -ETIMEDOUT);
	return REACTOR_POLLER_BUSY;
}

/* Reports a failure known at once, from the loop rather than from inside connect. */
static int connect_deferred(void *arg)
{
	struct reactor_sock *s = arg;

	connect_finish(s, s->cstatus);
	return REACTOR_POLLER_BUSY;
}

struct reactor_sock *reactor_sock_connect(const char *addr, uint16_t port, const struct reactor_sock_opts *opts,
					  reactor_sock_connect_fn cb, void *cb_arg)
{
	struct reactor_sock_opts o;
	struct sockaddr_storage ss;
	struct reactor_sock *s;
	socklen_t len;
	int fd, rc;

	if (cb == NULL || reactor_get_thread() == NULL) {
		errno = EINVAL;
		return NULL;
	}
	s = sock_open("connect to", addr, port, opts, SOCK_CONNECTING, &o, &ss, &len);
	if (s == NULL)
		return NULL;
	fd = s->fd;
	s->ccb = cb;
	s->ccb_arg = cb_arg;
	rc = apply_opts(s, false);
	if (rc == 0 && connect(fd, (struct sockaddr *)&ss, len) != 0 && errno != EINPROGRESS)
		s->cstatus = -errno;
	if (rc == 0 && s->cstatus == 0) {
		s->cfdev = reactor_fd_register(fd, REACTOR_FD_WRITE, connect_fd_cb, s, "sock-connect");
		if (s->cfdev == NULL)
			rc = -errno;
		else if (o.connect_timeout_ms != 0 &&
			 (s->ctimer = reactor_poller_register_named(connect_timeout, s,
								    (uint64_t)o.connect_timeout_ms * 1000u,
								    "sock-connect-timeout")) == NULL)
			rc = -errno;
	} else if (rc == 0) {
		s->cdefer = reactor_poller_register_named(connect_deferred, s, 0, "sock-connect-failed");
		if (s->cdefer == NULL)
			rc = -errno;
	}
	if (rc != 0) {
		connect_cleanup(s);
		close(fd);
		free(s);
		errno = -rc;
		return NULL;
	}
	return s;
}

int reactor_sock_getaddr(struct reactor_sock *s, char *saddr, size_t slen, uint16_t *sport, char *caddr,
			 size_t clen, uint16_t *cport)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int rc;

	if (s == NULL || s->closed)
		return -EINVAL;
	if (saddr != NULL || sport != NULL) {
		len = sizeof(ss);
		if (getsockname(s->fd, (struct sockaddr *)&ss, &len) != 0)
			return -errno;
		if ((rc = format_addr(&ss, saddr, slen, sport)) != 0)
			return rc;
	}
	if (caddr != NULL || cport != NULL) {
		len = sizeof(ss);
		if (getpeername(s->fd, (struct sockaddr *)&ss, &len) != 0)
			return -errno;
		if ((rc = format_addr(&ss, caddr, clen, cport)) != 0)
			return rc;
	}
	return 0;
}

/* ---- receive ------------------------------------------------------------------------- */

static ssize_t recv_result(struct reactor_sock *s, ssize_t n)
{
	int err;

	if (n >= 0)
		return n;
	err = errno == EWOULDBLOCK ? EAGAIN : errno;
	if (err != EAGAIN && err != EINTR && !s->err_logged) {
		if (err == ECONNRESET)
			REACTOR_NOTICELOG("sock: connection with %s reset by peer", s->peer);
		else
			REACTOR_ERRLOG("sock: receive from %s: %s", s->peer, strerror(err));
		s->err_logged = true;
	}
	return err == EINTR ? -EAGAIN : -err;
}

ssize_t reactor_sock_recv(struct reactor_sock *s, void *buf, size_t len)
{
	if (s == NULL || s->closed || (buf == NULL && len != 0))
		return -EINVAL;
	if (s->state != SOCK_CONNECTED)
		return -ENOTCONN;
	return recv_result(s, recv(s->fd, buf, len, 0));
}

ssize_t reactor_sock_readv(struct reactor_sock *s, struct iovec *iov, int iovcnt)
{
	if (s == NULL || s->closed || iov == NULL || iovcnt <= 0)
		return -EINVAL;
	if (s->state != SOCK_CONNECTED)
		return -ENOTCONN;
	return recv_result(s, readv(s->fd, iov, iovcnt));
}

/* ---- send queue ---------------------------------------------------------------------- */

static size_t req_len(const struct reactor_sock_request *req)
{
	size_t n = 0;

	for (int i = 0; i < req->iovcnt; i++)
		n += req->iov[i].iov_len;
	return n;
}

int reactor_sock_writev_async(struct reactor_sock *s, struct reactor_sock_request *req)
{
	if (s == NULL || req == NULL || req->cb_fn == NULL || req->iovcnt < 0 ||
	    (req->iovcnt > 0 && req->iov == NULL))
		return -EINVAL;
	if (s->closed || s->state != SOCK_CONNECTED)
		return -ENOTCONN;
	if (s->send_error != 0)
		return s->send_error;
	req->internal.next = NULL;
	req->internal.offset = 0;
	req->internal.zc_index = 0;
	if (s->q_tail != NULL)
		s->q_tail->internal.next = req;
	else
		s->q_head = req;
	s->q_tail = req;
	sock_group_want_flush(s);
	return 0;
}

/* A request is done with the kernel: complete it now, or after its zero-copy release. */
static void req_sent(struct reactor_sock *s, struct reactor_sock_request *req, bool zc, uint64_t idx)
{
	if (!zc) {
		req_complete(req, 0);
		return;
	}
	req->internal.zc_index = idx;
	req->internal.next = NULL;
	if (s->zc_tail != NULL)
		s->zc_tail->internal.next = req;
	else
		s->zc_head = req;
	s->zc_tail = req;
}

int sock_send_iov(struct reactor_sock *s, struct iovec *iov, int max)
{
	struct reactor_sock_request *req;
	int cnt = 0;

	for (req = s->q_head; req != NULL && cnt < max; req = req->internal.next) {
		size_t skip = req == s->q_head ? req->internal.offset : 0;

		for (int i = 0; i < req->iovcnt && cnt < max; i++) {
			size_t l = req->iov[i].iov_len;

			if (skip >= l) {
				skip -= l;
				continue;
			}
			iov[cnt].iov_base = (char *)req->iov[i].iov_base + skip;
			iov[cnt].iov_len = l - skip;
			skip = 0;
			cnt++;
		}
	}
	return cnt;
}

int sock_send_flags(const struct reactor_sock *s)
{
	return MSG_NOSIGNAL | MSG_DONTWAIT | (s->zero_copy ? MSG_ZEROCOPY : 0);
}

void sock_sent(struct reactor_sock *s, size_t n)
{
	struct reactor_sock_request *req;
	bool sent = n > 0;
	uint64_t idx = 0;

	if (s->zero_copy && sent)
		idx = s->zc_next++; /* the kernel numbers successful zero-copy sends from 0 */
	sock_hold(s);
	while ((req = s->q_head) != NULL && !s->closed) {
		size_t left = req_len(req) - req->internal.offset;

		if (n < left) {
			req->internal.offset += n;
			break;
		}
		n -= left;
		s->q_head = req->internal.next;
		if (s->q_head == NULL)
			s->q_tail = NULL;
		/* an empty request behind zero-copy ones waits for them: completions stay in order */
		if (sent || s->zc_head == NULL)
			req_sent(s, req, s->zero_copy && sent, idx);
		else
			req_sent(s, req, true, s->zc_next - 1);
	}
	sock_put(s);
}

void sock_send_failed(struct reactor_sock *s, int rc)
{
	if (s->closed)
		return;
	s->send_error = rc;
	if (!s->err_logged) {
		if (rc == -ECONNRESET || rc == -EPIPE)
			REACTOR_NOTICELOG("sock: connection with %s lost while sending: %s", s->peer, strerror(-rc));
		else
			REACTOR_ERRLOG("sock: send to %s: %s", s->peer, strerror(-rc));
		s->err_logged = true;
	}
	fail_all(s, rc);
}

/*
 * One sendmsg() over as many queued requests as fit in SOCK_SEND_IOV
 * iovecs, starting inside the head request at its offset. Returns the bytes
 * sent (completing finished requests), -EAGAIN, or another -errno.
 */
static ssize_t send_once(struct reactor_sock *s)
{
	struct iovec iov[SOCK_SEND_IOV];
	struct msghdr msg = {0};
	int cnt = sock_send_iov(s, iov, SOCK_SEND_IOV);
	ssize_t n = 0;

	msg.msg_iov = iov;
	msg.msg_iovlen = (size_t)cnt;
	if (cnt > 0) { /* only empty requests: nothing to send, and no zero-copy index used */
		do {
			n = sendmsg(s->fd, &msg, sock_send_flags(s));
		} while (n < 0 && errno == EINTR);
	}
	if (n < 0) {
		/* ENOBUFS: zero-copy's optmem is exhausted until notifications are read. */
		if (errno == EAGAIN || errno == EWOULDBLOCK || (s->zero_copy && errno == ENOBUFS))
			return -EAGAIN;
		return -errno;
	}
	sock_sent(s, (size_t)n);
	return n;
}

int sock_flush(struct reactor_sock *s)
{
	bool blocked = false;
	ssize_t n = 0;
	int rc = 0, rounds = 0;

	if (s->closed || s->state != SOCK_CONNECTED)
		return s->closed ? -ENOTCONN : 0;
	if (s->group != NULL && s->group->ops->flush != NULL)
		return s->group->ops->flush(s, false);
	if (s->uring_send_pending)
		return 0; /* left a uring group with a send in flight: its completion continues */
	sock_hold(s);
	/*
	 * Bounded: completions may queue more, and a fast reader never
	 * blocks us, so an unbounded loop would hold the thread forever.
	 */
	while (s->q_head != NULL && !s->closed && rounds++ < SOCK_FLUSH_ROUNDS) {
		n = send_once(s);
		if (n < 0) {
			blocked = n == -EAGAIN;
			break;
		}
		/* A send shorter than the queue means the socket buffer is full. */
		if (s->q_head != NULL && s->q_head->internal.offset != 0) {
			blocked = true;
			break;
		}
	}
	if (!s->closed && n < 0 && n != -EAGAIN) {
		rc = (int)n;
		sock_send_failed(s, rc);
	}
	if (!s->closed) {
		/* Full: wait for writability. Not full but out of rounds: next iteration. */
		sock_group_arm_write(s, s->q_head != NULL && blocked);
		if (s->q_head != NULL && !blocked)
			sock_group_want_flush(s);
	}
	sock_put(s);
	return rc;
}

void sock_ready(struct reactor_sock *s, uint32_t events)
{
	struct reactor_sock_group *g = s->group;

	if (g != NULL)
		g->depth++;
	sock_hold(s);
	if (events & REACTOR_FD_ERROR)
		sock_zc_reap(s);
	if (!s->closed && s->q_head != NULL &&
	    (events & (REACTOR_FD_WRITE | REACTOR_FD_ERROR | REACTOR_FD_HUP)))
		sock_flush(s);
	if (!s->closed && s->cb != NULL && (events & (REACTOR_FD_READ | REACTOR_FD_ERROR | REACTOR_FD_HUP)))
		s->cb(s->cb_arg, s->group, s);
	sock_put(s);
	if (g != NULL)
		g->depth--;
}

int reactor_sock_flush(struct reactor_sock *s)
{
	if (s == NULL || s->closed)
		return -EINVAL;
	if (s->send_error != 0)
		return s->send_error;
	sock_zc_reap(s);
	if (s->state == SOCK_CONNECTED && s->group != NULL && s->group->ops->flush != NULL) {
		int rc;

		sock_hold(s);
		rc = s->group->ops->flush(s, true);
		sock_put(s);
		return rc;
	}
	return sock_flush(s);
}

void sock_zc_reap(struct reactor_sock *s)
{
	char control[128];

	if (!s->zero_copy || s->zc_head == NULL)
		return;
	sock_hold(s);
	while (!s->closed && s->zc_head != NULL) {
		struct msghdr msg = {.msg_control = control, .msg_controllen = sizeof(control)};
		struct cmsghdr *cm;

		if (recvmsg(s->fd, &msg, MSG_ERRQUEUE) < 0)
			break; /* EAGAIN: nothing (more) released */
		for (cm = CMSG_FIRSTHDR(&msg); cm != NULL && !s->closed; cm = CMSG_NXTHDR(&msg, cm)) {
			struct sock_extended_err ee;
			struct reactor_sock_request *req;

			if (!((cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_RECVERR) ||
			      (cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_RECVERR)))
				continue;
			memcpy(&ee, CMSG_DATA(cm), sizeof(ee));
			if (ee.ee_errno != 0 || ee.ee_origin != SO_EE_ORIGIN_ZEROCOPY)
				continue;
			/* [ee_info, ee_data] are released; requests are in send order. */
			while ((req = s->zc_head) != NULL && !s->closed &&
			       (int32_t)((uint32_t)req->internal.zc_index - ee.ee_data) <= 0) {
				s->zc_head = req->internal.next;
				if (s->zc_head == NULL)
					s->zc_tail = NULL;
				req_complete(req, 0);
			}
		}
	}
	sock_put(s);
}
