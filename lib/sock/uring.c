/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The io_uring backend of socket groups (liburing), chosen with
 * reactor_sock_set_default_impl("uring"). One ring per group:
 *
 * - readiness: a one-shot poll per socket, re-armed after each report, so
 *   reports are level-triggered like epoll's (a re-armed poll completes at
 *   once while data remains);
 * - sends: the group's flush prepares one sendmsg per socket with queued
 *   requests, and one io_uring_enter() submits them all, with the polls.
 *   MSG_DONTWAIT makes each send finish inside that submit (bytes or
 *   -EAGAIN, then a poll for writability), so the kernel never holds a
 *   request's buffers after the submit returns: closing a socket can fail
 *   its requests at once, as with epoll;
 * - receives stay recv() calls made by the user after a readiness report;
 * - sleeping: completions that arrive later (polls) signal an eventfd that
 *   is an fd event of the group's thread, so an adaptive reactor sleeps.
 *
 * Polls are tagged with their slot's index and generation, so a completion
 * for a socket that has left the group is recognised and dropped. A send is
 * tagged with its socket, which it holds until the completion is handled.
 */
#include "config.h"
#include "sock_internal.h"

#ifdef HAVE_LIBURING

#include <errno.h>
#include <stdatomic.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define URING_ENTRIES 256u
#define URING_REAP_BUDGET 256

enum { UD_IN = 0, UD_OUT = 1, UD_SEND = 2, UD_IGNORE = 3 };

struct uring_slot {
	struct reactor_sock *s; /* NULL: free */
	uint32_t gen;
	bool in_armed, out_armed;
	bool in_lost, out_lost; /* a re-arm found the ring full: retried after the next reap */
	struct msghdr msg; /* of the prepared send, read by the kernel at submit */
	struct iovec iov[SOCK_SEND_IOV];
};

struct uring_group {
	struct io_uring ring;
	bool lost_arms; /* some slot has in_lost/out_lost set */
	int efd;
	struct reactor_fd_event *efd_ev;
	struct uring_slot **slots;
	uint32_t nslots;
	unsigned int unsubmitted;
	bool reaping;
	bool submit_logged;
};

static uint64_t ud_poll(uint32_t idx, uint32_t gen, unsigned int kind)
{
	return (uint64_t)gen << 32 | (uint64_t)idx << 2 | kind;
}

static void submit(struct uring_group *u)
{
	int rc;

	if (u->unsubmitted == 0)
		return;
	rc = io_uring_submit(&u->ring);
	if (rc >= 0) {
		u->unsubmitted = 0;
	} else if (rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && !u->submit_logged) {
		REACTOR_ERRLOG("sock: io_uring submit: %s", strerror(-rc));
		u->submit_logged = true;
	}
}

static struct io_uring_sqe *get_sqe(struct uring_group *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (sqe == NULL) { /* ring full: submit what is there */
		submit(u);
		sqe = io_uring_get_sqe(&u->ring);
	}
	if (sqe != NULL)
		u->unsubmitted++;
	return sqe;
}

static struct uring_slot *slot_of(struct reactor_sock *s)
{
	struct uring_group *u = s->group->impl;

	return u->slots[s->slot];
}

static int arm_poll(struct uring_group *u, struct reactor_sock *s, unsigned int kind)
{
	struct uring_slot *sl = u->slots[s->slot];
	struct io_uring_sqe *sqe = get_sqe(u);

	if (sqe == NULL) {
		/* Losing a one-shot poll would silence the socket for good (and,
		 * with zero-copy, its completions): remember to arm it later. */
		if (kind == UD_IN)
			sl->in_lost = true;
		else
			sl->out_lost = true;
		u->lost_arms = true;
		return -EBUSY;
	}
	if (kind == UD_IN)
		sl->in_lost = false;
	else
		sl->out_lost = false;
	io_uring_prep_poll_add(sqe, s->fd, kind == UD_IN ? POLLIN | POLLRDHUP : POLLOUT);
	io_uring_sqe_set_data64(sqe, ud_poll(s->slot, sl->gen, kind));
	if (kind == UD_IN)
		sl->in_armed = true;
	else
		sl->out_armed = true;
	return 0;
}

static uint32_t from_poll(int revents)
{
	uint32_t ev = 0;

	if (revents & (POLLIN | POLLPRI))
		ev |= REACTOR_FD_READ;
	if (revents & POLLOUT)
		ev |= REACTOR_FD_WRITE;
	if (revents & POLLERR)
		ev |= REACTOR_FD_ERROR;
	if (revents & (POLLHUP | POLLRDHUP))
		ev |= REACTOR_FD_HUP;
	return ev;
}

static void on_send(struct reactor_sock *s, int res)
{
	size_t len = s->uring_send_len;
	bool blocked = false;

	s->uring_send_pending = false;
	if (s->closed)
		goto out;
	if (res >= 0) {
		sock_sent(s, (size_t)res);
		blocked = (size_t)res < len;
	} else if (res == -EAGAIN || res == -EINTR || (s->zero_copy && res == -ENOBUFS)) {
		blocked = true;
	} else {
		sock_send_failed(s, res);
		goto out;
	}
	/* It may have left the group meanwhile: its group (if any) continues. */
	if (!s->closed && s->q_head != NULL) {
		if (blocked)
			sock_group_arm_write(s, true);
		else
			sock_group_want_flush(s);
	}
out:
	sock_put(s);
}

static void dispatch(struct uring_group *u, uint64_t data, int res)
{
	unsigned int kind = (unsigned int)(data & 3u);
	struct uring_slot *sl;
	struct reactor_sock *s;
	uint32_t idx, gen;

	if (kind == UD_IGNORE)
		return;
	if (kind == UD_SEND) {
		on_send((struct reactor_sock *)(uintptr_t)(data & ~(uint64_t)3u), res);
		return;
	}
	idx = (uint32_t)(data >> 2) & 0x3fffffffu;
	gen = (uint32_t)(data >> 32);
	if (idx >= u->nslots)
		return;
	sl = u->slots[idx];
	s = sl->s;
	if (s == NULL || sl->gen != gen)
		return; /* the socket left the group */
	if (kind == UD_IN)
		sl->in_armed = false;
	else
		sl->out_armed = false;
	if (res < 0) {
		if (res != -ECANCELED && !s->err_logged) {
			REACTOR_ERRLOG("sock: io_uring poll on %s: %s", s->peer, strerror(-res));
			s->err_logged = true;
		}
		return;
	}
	if (kind == UD_OUT) {
		if (!s->write_armed)
			return; /* no longer wanted */
		s->write_armed = false;
	}
	sock_hold(s);
	sock_ready(s, from_poll(res) | (kind == UD_OUT ? REACTOR_FD_WRITE : 0));
	/* Still ours: report again (one-shot polls make it level-triggered). */
	if (!s->closed && sl->s == s && sl->gen == gen) {
		if (kind == UD_IN && !sl->in_armed)
			arm_poll(u, s, UD_IN);
		if (s->write_armed && !sl->out_armed)
			arm_poll(u, s, UD_OUT);
	}
	sock_put(s);
}

static int reap(struct reactor_sock_group *g)
{
	struct uring_group *u = g->impl;
	struct io_uring_cqe *cqe;
	int n = 0;

	if (u->reaping)
		return 0;
	u->reaping = true;
	g->depth++;
	while (n < URING_REAP_BUDGET && io_uring_peek_cqe(&u->ring, &cqe) == 0) {
		uint64_t data = io_uring_cqe_get_data64(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&u->ring, cqe); /* before the callbacks, which may submit */
		dispatch(u, data, res);
		n++;
	}
	u->reaping = false;
	g->depth--;
	submit(u);
	if (u->lost_arms) {
		u->lost_arms = false;
		for (uint32_t i = 0; i < u->nslots; i++) {
			struct uring_slot *sl = u->slots[i];

			if (sl == NULL || sl->s == NULL || sl->s->closed)
				continue;
			if (sl->in_lost && !sl->in_armed)
				arm_poll(u, sl->s, UD_IN);
			if (sl->out_lost && !sl->out_armed && sl->s->write_armed)
				arm_poll(u, sl->s, UD_OUT);
		}
		submit(u);
	}
	return n;
}

static int efd_cb(void *arg, uint32_t events)
{
	struct reactor_sock_group *g = arg;
	struct uring_group *u = g->impl;
	uint64_t v;

	(void)events;
	if (read(u->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: already drained */
	}
	reap(g);
	return REACTOR_POLLER_BUSY;
}

static void uring_fini(struct reactor_sock_group *g)
{
	struct uring_group *u = g->impl;

	if (u == NULL)
		return;
	/* Sends finished inside their submit: handle them so their sockets are released. */
	submit(u);
	reap(g);
	reactor_fd_unregister(&u->efd_ev);
	io_uring_queue_exit(&u->ring);
	if (u->efd >= 0)
		close(u->efd);
	for (uint32_t i = 0; i < u->nslots; i++)
		free(u->slots[i]);
	free(u->slots);
	free(u);
	g->impl = NULL;
}

static int uring_init(struct reactor_sock_group *g)
{
	struct uring_group *u = calloc(1, sizeof(*u));
	int rc;

	if (u == NULL)
		return -ENOMEM;
	u->efd = -1;
	/*
	 * Cooperative task work: no interrupt per completion; the kernel flags
	 * pending work in the ring and peeking the CQ runs it (5.19+). Measured:
	 * 64-byte round trips 7.7 us at p50 with it, 34 us without.
	 */
	rc = io_uring_queue_init(URING_ENTRIES, &u->ring, IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG);
	if (rc == -EINVAL) /* older kernel */
		rc = io_uring_queue_init(URING_ENTRIES, &u->ring, 0);
	if (rc < 0) {
		free(u);
		return rc;
	}
	g->impl = u;
	u->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (u->efd < 0) {
		rc = -errno;
		goto fail;
	}
	/* Only completions that happen later signal: not the sends done inside a submit. */
	rc = io_uring_register_eventfd_async(&u->ring, u->efd);
	if (rc < 0)
		goto fail;
	u->efd_ev = reactor_fd_register(u->efd, REACTOR_FD_READ, efd_cb, g, "sock-uring");
	if (u->efd_ev == NULL) {
		rc = -errno;
		goto fail;
	}
	return 0;
fail:
	uring_fini(g);
	return rc;
}

static int uring_add(struct reactor_sock_group *g, struct reactor_sock *s)
{
	struct uring_group *u = g->impl;
	struct uring_slot *sl = NULL;
	uint32_t idx;
	int rc;

	for (idx = 0; idx < u->nslots; idx++)
		if (u->slots[idx]->s == NULL)
			break;
	if (idx == u->nslots) {
		struct uring_slot **n;

		if (idx >= 0x3fffffffu)
			return -ENOSPC;
		n = realloc(u->slots, (idx + 1) * sizeof(*n)); /* slots themselves never move */
		if (n == NULL)
			return -ENOMEM;
		u->slots = n;
		n[idx] = calloc(1, sizeof(**n));
		if (n[idx] == NULL)
			return -ENOMEM;
		u->nslots++;
	}
	sl = u->slots[idx];
	/* MSG_ZEROCOPY completions through this backend can be lost when the
	 * host is loaded (seen under ASan/TSan with 2 busy CPUs); until that is
	 * understood, sockets in an io_uring group send with copies, which is
	 * also faster on loopback (bench/sock_perf). */
	if (s->zero_copy && s->zc_head == NULL) {
		static _Atomic bool logged;

		s->zero_copy = false;
		if (!atomic_exchange(&logged, true))
			REACTOR_NOTICELOG("sock: the io_uring backend sends with copies; zero_copy is "
					  "used with the epoll backend only");
	}
	sl->s = s;
	sl->gen++;
	sl->in_armed = sl->out_armed = false;
	s->slot = idx;
	rc = arm_poll(u, s, UD_IN);
	if (rc == 0 && s->q_head != NULL) {
		s->write_armed = true;
		rc = arm_poll(u, s, UD_OUT);
	}
	if (rc != 0) {
		sl->s = NULL;
		sl->gen++;
		s->write_armed = false;
		return rc;
	}
	submit(u);
	return 0;
}

static void uring_remove(struct reactor_sock_group *g, struct reactor_sock *s)
{
	struct uring_group *u = g->impl;
	struct uring_slot *sl = u->slots[s->slot];

	/* A prepared send must reach the kernel while the fd is still open. */
	submit(u);
	for (unsigned int kind = UD_IN; kind <= UD_OUT; kind++) {
		bool armed = kind == UD_IN ? sl->in_armed : sl->out_armed;
		struct io_uring_sqe *sqe;

		if (!armed || (sqe = get_sqe(u)) == NULL)
			continue;
		io_uring_prep_poll_remove(sqe, ud_poll(s->slot, sl->gen, kind));
		io_uring_sqe_set_data64(sqe, UD_IGNORE);
	}
	/* Submitted now: a poll holds the file, which close() must really release. */
	submit(u);
	sl->s = NULL;
	sl->gen++;
}

static void uring_arm_write(struct reactor_sock *s, bool on)
{
	struct uring_group *u = s->group->impl;

	s->write_armed = on;
	if (on && !slot_of(s)->out_armed)
		arm_poll(u, s, UD_OUT);
}

static int uring_flush(struct reactor_sock *s, bool now)
{
	struct reactor_sock_group *g = s->group;
	struct uring_group *u = g->impl;
	struct uring_slot *sl = slot_of(s);
	struct io_uring_sqe *sqe;
	size_t len = 0;
	int cnt;

	if (s->uring_send_pending || s->q_head == NULL || s->write_armed)
		goto out; /* a send or a writability report will continue the queue */
	cnt = sock_send_iov(s, sl->iov, SOCK_SEND_IOV);
	if (cnt == 0) { /* only empty requests */
		sock_sent(s, 0);
		goto out;
	}
	sqe = get_sqe(u);
	if (sqe == NULL) {
		sock_group_want_flush(s);
		goto out;
	}
	for (int i = 0; i < cnt; i++)
		len += sl->iov[i].iov_len;
	memset(&sl->msg, 0, sizeof(sl->msg));
	sl->msg.msg_iov = sl->iov;
	sl->msg.msg_iovlen = (size_t)cnt;
	io_uring_prep_sendmsg(sqe, s->fd, &sl->msg, (unsigned int)sock_send_flags(s));
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)s | UD_SEND);
	sock_hold(s); /* until on_send() */
	s->uring_send_pending = true;
	s->uring_send_len = len;
out:
	if (now) {
		submit(u);
		reap(g);
	}
	return s->closed ? 0 : s->send_error;
}

static int uring_poll(struct reactor_sock_group *g)
{
	struct uring_group *u = g->impl;
	bool did = u->unsubmitted != 0;

	submit(u);
	return reap(g) > 0 || did;
}

const struct sock_group_ops sock_uring_ops = {
	.name = "uring",
	.init = uring_init,
	.fini = uring_fini,
	.add = uring_add,
	.remove = uring_remove,
	.arm_write = uring_arm_write,
	.flush = uring_flush,
	.poll = uring_poll,
};

#endif /* HAVE_LIBURING */
