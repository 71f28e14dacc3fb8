/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sockets on loopback inside an in-process app: listen/accept/connect over
 * IPv4 and IPv6, many connections exchanging verified streams, partial
 * sends, peer reset, refused connect, address in use, close with pending
 * requests, and an adaptive reactor sleeping while its sockets are idle.
 *
 * Stream data is checked byte by byte: connection c's stream is
 * pat[c + k] for k = 0, 1, ... in both directions.
 */
#include "helpers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#define PATLEN (8u << 20)
#define MAXCONN 64
static uint8_t *pat;

static void pat_init(void)
{
	if (pat != NULL)
		return;
	pat = malloc(PATLEN + 256);
	for (size_t i = 0; i < PATLEN + 256; i++)
		pat[i] = (uint8_t)(i * 131u + (i >> 9) * 7u + 1u);
}

/* ---- one connection's send plan and receive check ------------------------------------- */
struct conn {
	struct reactor_sock *sock;
	struct world *w;
	int id;		  /* stream offset; -1 until a server learns it */
	bool server;
	uint8_t id_byte;  /* the client's first byte: its id */
	size_t rx, rx_want;
	long rx_bad;
	ssize_t rx_end;	  /* 0 running, 1 orderly close, < 0 error */
	size_t rx_chunk;  /* max bytes per recv (small: slow reader) */
	/* send plan */
	struct reactor_sock_request *reqs;
	struct iovec *iovs;
	int nreq;
	int *calls;	  /* per request: completions seen */
	int *status;	  /* per request: last status */
	long done_ok, done_err;
};

struct world {
	struct reactor_thread *st, *ct; /* server and client threads */
	struct reactor_sock_group *sg, *cg;
	struct reactor_sock *ls;
	struct reactor_sock_opts sopts, copts;
	char addr[64];
	uint16_t port;
	struct conn conns[MAXCONN];	  /* clients */
	struct conn sconns[MAXCONN];	  /* servers */
	int nconn;
	size_t len;		/* bytes each way per connection */
	size_t req_size;	/* bytes per request */
	int iov_per_req;
	bool server_sends;	/* servers stream back */
	bool server_no_group;	/* accepted sockets stay out of any group (never read) */
	atomic_long accepted, connected, connect_failed, conn_done, reqs_done;
	atomic_long last_connect_status;
	atomic_long rx_total; /* bytes received by server connections */
	int listen_errno;
};

static void req_cb(void *arg, int status);

/* the backend every group of the running test must use */
static const char *g_expect_impl = "epoll";

static void check_impl(struct reactor_sock_group *g)
{
	const char *impl = reactor_sock_group_get_impl(g);

	if (!H_CHECK(impl != NULL && strcmp(impl, g_expect_impl) == 0))
		H_FAIL("group backend %s, want %s", impl ? impl : "(null)", g_expect_impl);
}

/* Plan @p len bytes of stream @p id as requests of @p req_size with @p iovn iovecs each. */
static void plan(struct conn *c, size_t len, size_t req_size, int iovn, bool id_first)
{
	size_t off = 0;
	int n = (int)((len + req_size - 1) / req_size) + (id_first ? 1 : 0), r = 0;

	c->reqs = calloc((size_t)n, sizeof(*c->reqs));
	c->iovs = calloc((size_t)n * (size_t)iovn, sizeof(*c->iovs));
	c->calls = calloc((size_t)n, sizeof(int));
	c->status = calloc((size_t)n, sizeof(int));
	c->nreq = n;
	if (id_first) {
		c->iovs[0].iov_base = &c->id_byte;
		c->iovs[0].iov_len = 1;
		c->reqs[0].iov = &c->iovs[0];
		c->reqs[0].iovcnt = 1;
		r = 1;
	}
	for (; r < n; r++) {
		size_t sz = len - off < req_size ? len - off : req_size, done = 0;
		struct iovec *iov = &c->iovs[(size_t)r * (size_t)iovn];
		int k = 0;

		/* uneven iovec sizes, so resumption points fall anywhere */
		while (done < sz && k < iovn) {
			size_t piece = k == iovn - 1 ? sz - done : (sz - done) / 3 + (size_t)k + 1;

			if (piece > sz - done)
				piece = sz - done;
			iov[k].iov_base = pat + c->id + off + done;
			iov[k].iov_len = piece;
			done += piece;
			k++;
		}
		c->reqs[r].iov = iov;
		c->reqs[r].iovcnt = k;
		off += sz;
	}
	for (r = 0; r < n; r++) {
		c->reqs[r].cb_fn = req_cb;
		c->reqs[r].cb_arg = c;
	}
}

static void conn_free(struct conn *c)
{
	free(c->reqs);
	free(c->iovs);
	free(c->calls);
	free(c->status);
	c->reqs = NULL;
}

static void req_cb(void *arg, int status)
{
	struct conn *c = arg;
	struct reactor_sock_request *req = NULL;

	/* find which request: the first with calls == 0 in order is not enough after an error */
	for (int i = 0; i < c->nreq; i++) {
		if (c->calls[i] == 0) {
			req = &c->reqs[i];
			c->calls[i]++;
			c->status[i] = status;
			break;
		}
	}
	if (!H_CHECK(req != NULL))
		return;
	if (status == 0)
		c->done_ok++;
	else
		c->done_err++;
	atomic_fetch_add(&c->w->reqs_done, 1);
}

static void send_all(struct conn *c)
{
	for (int i = 0; i < c->nreq; i++) {
		int rc = reactor_sock_writev_async(c->sock, &c->reqs[i]);

		if (!H_CHECK_INT(rc, ==, 0))
			c->calls[i] = 100; /* never completes */
	}
}

static void check_rx(struct conn *c, const uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (buf[i] != pat[(size_t)c->id + c->rx + i])
			c->rx_bad++;
	c->rx += n;
}

static void read_cb(void *arg, struct reactor_sock_group *g, struct reactor_sock *s)
{
	struct conn *c = arg;
	static __thread uint8_t buf[65536];
	size_t want = c->rx_chunk ? c->rx_chunk : sizeof(buf);
	ssize_t n;

	(void)g;
	H_CHECK_PTR_EQ(s, c->sock);
	for (int round = 0; round < 4; round++) {
		if (c->server) {
			n = reactor_sock_recv(s, buf, want);
		} else { /* clients read into two buffers */
			struct iovec iov[2] = {{buf, want / 3 + 1}, {buf + want / 3 + 1, want - want / 3 - 1}};

			n = reactor_sock_readv(s, iov, 2);
		}
		if (n == -EAGAIN)
			return;
		if (n <= 0) {
			if (c->rx_end == 0) {
				c->rx_end = n == 0 ? 1 : n;
				atomic_fetch_add(&c->w->conn_done, 1);
			}
			reactor_sock_group_remove_sock(g, s); /* stop the level-triggered reports */
			return;
		}
		if (c->server)
			atomic_fetch_add(&c->w->rx_total, n);
		if (c->server && c->id < 0) {
			c->id = buf[0];
			if (c->w->server_sends) {
				plan(c, c->w->len, c->w->req_size, c->w->iov_per_req, false);
				send_all(c);
			}
			memmove(buf, buf + 1, (size_t)n - 1);
			n--;
		}
		check_rx(c, buf, (size_t)n);
		if (c->rx == c->rx_want && c->rx_want != 0) {
			atomic_fetch_add(&c->w->conn_done, 1);
			c->rx_want = 0; /* count once */
		}
		if (c->rx_chunk)
			return; /* slow reader: one chunk per callback */
	}
}

static void accept_cb(void *arg, struct reactor_sock_group *g, struct reactor_sock *ls)
{
	struct world *w = arg;
	struct reactor_sock *s;

	while ((s = reactor_sock_accept(ls)) != NULL) {
		long i = atomic_load(&w->accepted);
		struct conn *c;

		if (!H_CHECK_INT(i, <, MAXCONN)) {
			reactor_sock_close(&s);
			continue;
		}
		c = &w->sconns[i];
		c->w = w;
		c->sock = s;
		c->server = true;
		c->id = -1;
		c->rx_want = w->len;
		if (!w->server_no_group)
			H_CHECK_INT(reactor_sock_group_add_sock(g, s, read_cb, c), ==, 0);
		atomic_fetch_add(&w->accepted, 1);
	}
	H_CHECK_INT(errno, ==, EAGAIN);
}

static void server_start(void *arg)
{
	struct world *w = arg;

	w->sg = reactor_sock_group_create();
	if (!H_CHECK(w->sg != NULL))
		return;
	check_impl(w->sg);
	w->ls = reactor_sock_listen(w->addr, 0, &w->sopts);
	if (w->ls == NULL) {
		w->listen_errno = errno;
		return;
	}
	H_CHECK_INT(reactor_sock_getaddr(w->ls, NULL, 0, &w->port, NULL, 0, NULL), ==, 0);
	H_CHECK_INT(w->port, !=, 0);
	H_CHECK_INT(reactor_sock_group_add_sock(w->sg, w->ls, accept_cb, w), ==, 0);
}

static void connect_cb(void *arg, struct reactor_sock *s, int status)
{
	struct conn *c = arg;
	struct world *w = c->w;

	/* a close before completion has already cleared the caller's pointer */
	if (status != -ECANCELED)
		H_CHECK_PTR_EQ(s, c->sock);
	atomic_store(&w->last_connect_status, status);
	if (status != 0) {
		atomic_fetch_add(&w->connect_failed, 1);
		return;
	}
	if (w->cg != NULL)
		H_CHECK_INT(reactor_sock_group_add_sock(w->cg, s, read_cb, c), ==, 0);
	if (c->reqs != NULL)
		send_all(c);
	atomic_fetch_add(&w->connected, 1);
}

static void clients_start(void *arg)
{
	struct world *w = arg;

	w->cg = reactor_sock_group_create();
	if (!H_CHECK(w->cg != NULL))
		return;
	check_impl(w->cg);
	for (int i = 0; i < w->nconn; i++) {
		struct conn *c = &w->conns[i];

		c->w = w;
		c->id = i;
		c->id_byte = (uint8_t)i;
		c->rx_want = w->server_sends ? w->len : 0;
		if (w->len > 0)
			plan(c, w->len, w->req_size, w->iov_per_req, true);
		c->sock = reactor_sock_connect(w->addr, w->port, &w->copts, connect_cb, c);
		H_CHECK(c->sock != NULL);
	}
}

static void close_list(struct conn *cs, int n)
{
	for (int i = 0; i < n; i++)
		if (cs[i].sock != NULL)
			H_CHECK_INT(reactor_sock_close(&cs[i].sock), ==, 0);
}

static void clients_stop(void *arg)
{
	struct world *w = arg;

	close_list(w->conns, w->nconn);
	H_CHECK_INT(reactor_sock_group_close(&w->cg), ==, 0);
}

static void server_stop(void *arg)
{
	struct world *w = arg;

	close_list(w->sconns, MAXCONN);
	reactor_sock_close(&w->ls);
	H_CHECK_INT(reactor_sock_group_close(&w->sg), ==, 0);
}

static void world_init(struct world *w, const char *addr)
{
	memset(w, 0, sizeof(*w));
	pat_init();
	snprintf(w->addr, sizeof(w->addr), "%s", addr);
	reactor_sock_opts_init(&w->sopts, sizeof(w->sopts));
	reactor_sock_opts_init(&w->copts, sizeof(w->copts));
	w->iov_per_req = 3;
	w->req_size = 4096;
}

static void world_free(struct world *w)
{
	for (int i = 0; i < MAXCONN; i++) {
		conn_free(&w->conns[i]);
		conn_free(&w->sconns[i]);
	}
}

static bool world_threads(struct world *w)
{
	unsigned int two = h_allowed_cpu_count() >= 2;

	w->st = h_thread_create_on("sock-server", h_app_cpu(0));
	w->ct = h_thread_create_on("sock-client", h_app_cpu(two ? 1 : 0));
	return w->st != NULL && w->ct != NULL;
}

static void world_end(struct world *w)
{
	h_call_on_thread(w->ct, clients_stop, w);
	h_call_on_thread(w->st, server_stop, w);
	h_thread_exit(w->ct);
	h_thread_exit(w->st);
}

static void run_app(void (*body)(void *), void *arg, bool adaptive)
{
	struct reactor_app_opts opts;

	assert_true(h_app_opts(&opts, h_allowed_cpu_count() >= 2 ? 2 : 1));
	if (adaptive)
		opts.idle_policy = REACTOR_IDLE_ADAPTIVE;
	assert_int_equal(h_app_run(&opts, body, arg), 0);
	h_assert_no_failures();
}

/* ---- streams: one or many connections, IPv4 and IPv6 --------------------------------- */
static void stream_body(void *arg)
{
	struct world *w = arg;
	long want;

	if (!world_threads(w))
		return;
	h_call_on_thread(w->st, server_start, w);
	if (!H_CHECK(w->ls != NULL))
		return;
	h_call_on_thread(w->ct, clients_start, w);
	h_wait_eq(&w->connected, w->nconn, 20000, "connects");
	h_wait_eq(&w->accepted, w->nconn, 20000, "accepts");
	want = w->nconn * (w->server_sends ? 2 : 1);
	h_wait_ge(&w->conn_done, want, 60000, "every stream received");
	{
		long reqs = 0;

		for (int i = 0; i < w->nconn; i++)
			reqs += w->conns[i].nreq + (w->server_sends ? w->sconns[i].nreq : 0);
		h_wait_eq(&w->reqs_done, reqs, 20000, "every send request completed");
	}
	world_end(w);
}

static void check_streams(struct world *w)
{
	for (int i = 0; i < w->nconn; i++) {
		struct conn *c = &w->conns[i];
		struct conn *s = NULL;

		for (int j = 0; j < w->nconn; j++)
			if (w->sconns[j].id == i)
				s = &w->sconns[j];
		if (s == NULL)
			fail_msg("no server connection saw id %d", i);
		assert_int_equal(s->rx, w->len);
		assert_int_equal(s->rx_bad, 0);
		assert_int_equal(c->done_err, 0);
		assert_int_equal(c->done_ok, c->nreq);
		for (int r = 0; r < c->nreq; r++)
			assert_int_equal(c->calls[r], 1);
		if (w->server_sends) {
			assert_int_equal(c->rx, w->len);
			assert_int_equal(c->rx_bad, 0);
			assert_int_equal(s->done_ok, s->nreq);
			assert_int_equal(s->done_err, 0);
		}
	}
}

/* Whether ::1 can be bound here (containers often have no IPv6). */
static bool ipv6_available(void)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

static void run_stream_zc(const char *addr, int nconn, size_t len, bool server_sends, bool zc)
{
	struct world *w = calloc(1, sizeof(*w));

	world_init(w, addr);
	w->copts.zero_copy = zc;
	w->sopts.zero_copy = zc;
	w->nconn = nconn;
	w->len = len;
	w->server_sends = server_sends;
	run_app(stream_body, w, false);
	check_streams(w);
	print_message("# %s: %d connection(s), %zu bytes each way verified%s\n", addr, nconn, len,
		      zc ? " (zero_copy on)" : "");
	world_free(w);
	free(w);
}

static void run_stream(const char *addr, int nconn, size_t len, bool server_sends)
{
	run_stream_zc(addr, nconn, len, server_sends, false);
}

/* MSG_ZEROCOPY: requests complete only from the kernel's release notifications */
static void test_zero_copy_stream(void **state)
{
	(void)state;
	H_BEGIN();
	run_stream_zc("127.0.0.1", 4, 1u << 20, true, true);
}

static void test_ipv4_stream(void **state)
{
	(void)state;
	H_BEGIN();
	run_stream("127.0.0.1", 1, 1u << 20, true);
}

static void test_ipv6_stream(void **state)
{
	(void)state;
	H_BEGIN();
	if (!ipv6_available())
		H_SKIP("::1 cannot be bound here (no IPv6 loopback)");
	run_stream("::1", 1, 1u << 20, true);
	run_stream("[::1]", 2, 4096, false);
}

static void test_many_connections(void **state)
{
	(void)state;
	H_BEGIN_TIMEOUT(120);
	run_stream("127.0.0.1", MAXCONN, h_scaled(256u << 10, 16u << 10), true);
}

/* ---- addresses ---------------------------------------------------------------------------- */
struct addr_q {
	struct world *w;
	char la[INET6_ADDRSTRLEN], pa[INET6_ADDRSTRLEN];
	uint16_t lp, pp;
	int rc;
	char sla[INET6_ADDRSTRLEN], spa[INET6_ADDRSTRLEN];
	uint16_t slp, spp;
	int src;
};

/* empty requests complete too, in order with the others */
static struct {
	struct reactor_sock_request req[3];
	struct iovec iov;
	int order[3];
	int status[3];
	atomic_long n;
} g_empty;

static void empty_cb(void *arg, int status)
{
	long i = atomic_load(&g_empty.n);

	if (H_CHECK_INT(i, <, 3)) {
		g_empty.order[i] = (int)(intptr_t)arg;
		g_empty.status[i] = status;
	}
	atomic_fetch_add(&g_empty.n, 1);
}

static void empty_queue(void *arg)
{
	struct world *w = arg;

	g_empty.iov.iov_base = pat;
	g_empty.iov.iov_len = 1;
	for (int i = 0; i < 3; i++) {
		g_empty.req[i] = (struct reactor_sock_request){.cb_fn = empty_cb, .cb_arg = (void *)(intptr_t)i};
		if (i == 1) {
			g_empty.req[i].iov = &g_empty.iov;
			g_empty.req[i].iovcnt = 1;
		}
		H_CHECK_INT(reactor_sock_writev_async(w->conns[0].sock, &g_empty.req[i]), ==, 0);
	}
	H_CHECK_INT(atomic_load(&g_empty.n), ==, 0); /* never from inside writev_async */
}

static void addr_client(void *arg)
{
	struct addr_q *q = arg;

	q->rc = reactor_sock_getaddr(q->w->conns[0].sock, q->la, sizeof(q->la), &q->lp, q->pa, sizeof(q->pa), &q->pp);
	/* misuse is an error value */
	H_CHECK_INT(reactor_sock_group_add_sock(q->w->cg, q->w->conns[0].sock, read_cb, &q->w->conns[0]), ==, -EBUSY);
	H_CHECK_INT(reactor_sock_group_close(&q->w->cg), ==, -EBUSY);
	H_CHECK(q->w->cg != NULL);
	H_CHECK_INT(reactor_sock_group_remove_sock(q->w->cg, NULL), ==, -EINVAL);
	H_CHECK_INT(reactor_sock_recv(NULL, NULL, 0), ==, -EINVAL);
	H_CHECK_INT(reactor_sock_writev_async(q->w->conns[0].sock, NULL), ==, -EINVAL);
	H_CHECK_INT(reactor_sock_recv(q->w->conns[0].sock, q->la, 1), ==, -EAGAIN); /* nothing sent */
}

static void addr_server(void *arg)
{
	struct addr_q *q = arg;

	q->src = reactor_sock_getaddr(q->w->sconns[0].sock, q->sla, sizeof(q->sla), &q->slp, q->spa,
				      sizeof(q->spa), &q->spp);
}

static void addr_body(void *arg)
{
	struct addr_q *q = arg;
	struct world *w = q->w;

	if (!world_threads(w))
		return;
	h_call_on_thread(w->st, server_start, w);
	if (!H_CHECK(w->ls != NULL))
		return;
	h_call_on_thread(w->ct, clients_start, w);
	h_wait_eq(&w->connected, 1, 20000, "connect");
	h_wait_eq(&w->accepted, 1, 20000, "accept");
	h_call_on_thread(w->ct, addr_client, q);
	h_call_on_thread(w->st, addr_server, q);
	h_call_on_thread(w->ct, empty_queue, w);
	h_wait_eq(&g_empty.n, 3, 10000, "three requests, two of them empty");
	world_end(w);
}

static void test_addresses(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct addr_q q = {.w = w};

	(void)state;
	H_BEGIN();
	memset(&g_empty, 0, sizeof(g_empty));
	world_init(w, "127.0.0.1");
	w->nconn = 1;
	run_app(addr_body, &q, false);
	assert_int_equal(q.rc, 0);
	assert_int_equal(q.src, 0);
	assert_string_equal(q.la, "127.0.0.1");
	assert_string_equal(q.pa, "127.0.0.1");
	assert_int_equal(q.pp, w->port);
	assert_int_equal(q.slp, w->port);
	assert_int_equal(q.spp, q.lp);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(g_empty.order[i], i);
		assert_int_equal(g_empty.status[i], 0);
	}
	world_free(w);
	free(w);
}

/* ---- partial sends: small buffers, large requests, slow reader --------------------------- */
static void test_partial_writes(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	(void)state;
	H_BEGIN_TIMEOUT(120);
	world_init(w, "127.0.0.1");
	w->nconn = 1;
	w->len = h_scaled(4u << 20, 1u << 20);
	w->req_size = 300000;	/* many times the send buffer */
	w->iov_per_req = 7;
	w->copts.send_buf_size = 4096;
	w->copts.recv_buf_size = 4096;
	w->sopts.send_buf_size = 4096;
	w->sopts.recv_buf_size = 4096;
	w->server_sends = true;
	w->sconns[0].rx_chunk = 1000; /* set before accept: slot 0 */
	w->conns[0].rx_chunk = 777;
	run_app(stream_body, w, false);
	check_streams(w);
	print_message("# %zu bytes each way through 4 KiB socket buffers, verified\n", w->len);
	world_free(w);
	free(w);
}

/* ---- peer reset ----------------------------------------------------------------------------- */
struct reset_ctx {
	struct world *w;
	int raw;
};

static void reset_queue(void *arg)
{
	struct world *w = arg;
	struct conn *c = &w->sconns[0];

	c->id = 0;
	plan(c, 4u << 20, 256u << 10, 2, false);
	send_all(c);
}

static void reset_after(void *arg)
{
	struct world *w = arg;
	struct conn *c = &w->sconns[0];
	struct reactor_sock_request req = {.iov = c->reqs[0].iov, .iovcnt = 1, .cb_fn = req_cb, .cb_arg = c};
	int rc = reactor_sock_writev_async(c->sock, &req);

	/* the connection is gone: refused at once, the callback never runs */
	H_CHECK(rc == -ECONNRESET || rc == -EPIPE);
}

static void reset_body(void *arg)
{
	struct reset_ctx *r = arg;
	struct world *w = r->w;
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	int small = 4096;

	if (!world_threads(w))
		return;
	h_call_on_thread(w->st, server_start, w);
	if (!H_CHECK(w->ls != NULL))
		return;
	r->raw = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(r->raw, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	a.sin_port = htons(w->port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!H_CHECK(connect(r->raw, (struct sockaddr *)&a, sizeof(a)) == 0))
		return;
	h_wait_eq(&w->accepted, 1, 20000, "accept");
	h_call_on_thread(w->st, reset_queue, w);
	h_sleep_ms(50);
	/* the peer resets the connection with 4 MiB still queued to it */
	setsockopt(r->raw, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(r->raw);
	h_wait_ge(&w->conn_done, 1, 20000, "the server to see the reset");
	h_wait_eq(&w->reqs_done, 16, 20000, "every queued request to complete");
	h_call_on_thread(w->st, reset_after, w);
	world_end(w);
}

static void test_peer_reset(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct reset_ctx r = {.w = w};
	struct conn *c = &w->sconns[0];
	long failed = 0;

	(void)state;
	H_BEGIN();
	world_init(w, "127.0.0.1");
	w->sopts.send_buf_size = 4096;
	w->len = 1;
	h_log_capture_start(REACTOR_LOG_NOTICE);
	run_app(reset_body, &r, false);
	h_log_capture_stop();
	print_message("# reset: recv gave %zd, %ld requests ok, %ld failed\n", c->rx_end, c->done_ok, c->done_err);
	assert_true(c->rx_end == 1 || c->rx_end == -ECONNRESET);
	assert_int_equal(c->nreq, 16);
	for (int i = 0; i < c->nreq; i++) {
		assert_int_equal(c->calls[i], 1);
		if (c->status[i] != 0) {
			failed++;
			assert_true(c->status[i] == -ECONNRESET || c->status[i] == -EPIPE);
		}
	}
	assert_true(failed > 0);
	/* one message about the connection, whichever call met the reset first */
	assert_int_equal(h_log_count("sock: connection with"), 1);
	world_free(w);
	free(w);
}

/* ---- refused connect, address in use, bad address ------------------------------------- */
struct refuse_ctx {
	struct world *w;
	int holder;
};

static void refused_body(void *arg)
{
	struct refuse_ctx *r = arg;
	struct world *w = r->w;
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);

	if (!world_threads(w))
		return;
	/* a bound but not listening socket holds the port: connects to it are refused */
	r->holder = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!H_CHECK(bind(r->holder, (struct sockaddr *)&a, sizeof(a)) == 0) ||
	    !H_CHECK(getsockname(r->holder, (struct sockaddr *)&a, &len) == 0))
		return;
	w->port = ntohs(a.sin_port);
	w->cg = NULL;
	h_call_on_thread(w->ct, clients_start, w);
	h_wait_eq(&w->connect_failed, 1, 20000, "the refused connect");
	h_sleep_ms(20);
	h_call_on_thread(w->ct, clients_stop, w);
	close(r->holder);
	h_thread_exit(w->ct);
	h_thread_exit(w->st);
}

static void test_connect_refused(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct refuse_ctx r = {.w = w};

	(void)state;
	H_BEGIN();
	world_init(w, "127.0.0.1");
	w->nconn = 1;
	h_log_capture_start(REACTOR_LOG_NOTICE);
	run_app(refused_body, &r, false);
	h_log_capture_stop();
	assert_int_equal(atomic_load(&w->connect_failed), 1);
	assert_int_equal(atomic_load(&w->connected), 0);
	assert_int_equal(atomic_load(&w->last_connect_status), -ECONNREFUSED);
	assert_int_equal(h_log_count2("connect to", "refused"), 1);
	world_free(w);
	free(w);
}

/*
 * A peer that never answers: a listener whose accept queue is full drops
 * new SYNs, so the connect can only end by its timeout.
 */
static void timeout_body(void *arg)
{
	struct world *w = arg;
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int lfd, raw[4];

	if (!world_threads(w))
		return;
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!H_CHECK(bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0) || !H_CHECK(listen(lfd, 1) == 0) ||
	    !H_CHECK(getsockname(lfd, (struct sockaddr *)&a, &len) == 0))
		return;
	for (int i = 0; i < 4; i++) { /* fill the accept queue; never accepted */
		raw[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (connect(raw[i], (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS)
			H_FAIL("raw connect: %s", strerror(errno));
	}
	h_sleep_ms(50);
	w->port = ntohs(a.sin_port);
	h_call_on_thread(w->ct, clients_start, w);
	h_waiting_for("the connect to time out");
	{
		uint64_t end = h_now_ns() + 10000000000ull * h_timeout_factor();

		while (atomic_load(&w->connect_failed) + atomic_load(&w->connected) == 0 && h_now_ns() < end)
			h_sleep_ms(5);
	}
	h_sleep_ms(300); /* a second callback would show here */
	h_call_on_thread(w->ct, clients_stop, w);
	for (int i = 0; i < 4; i++)
		close(raw[i]);
	close(lfd);
	h_thread_exit(w->ct);
	h_thread_exit(w->st);
}

static void test_connect_timeout(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	long st;

	(void)state;
	H_BEGIN();
	world_init(w, "127.0.0.1");
	w->nconn = 1;
	w->copts.connect_timeout_ms = 200;
	h_log_capture_start(REACTOR_LOG_NOTICE);
	run_app(timeout_body, w, false);
	h_log_capture_stop();
	st = atomic_load(&w->last_connect_status);
	print_message("# connect to a full accept queue: status %ld (%s)\n", st, strerror((int)-st));
	assert_int_equal(atomic_load(&w->connected), 0);
	assert_int_equal(atomic_load(&w->connect_failed), 1);
	assert_int_equal(st, -ETIMEDOUT);
	assert_int_equal(h_log_count2("connect to", "timed out"), 1);
	world_free(w);
	free(w);
}

static void test_address_in_use(void **state)
{
	struct reactor_sock *a, *b;
	uint16_t port = 0;
	int err;

	(void)state;
	H_BEGIN();
	h_log_capture_start(REACTOR_LOG_NOTICE);
	a = reactor_sock_listen("127.0.0.1", 0, NULL);
	assert_non_null(a);
	assert_int_equal(reactor_sock_getaddr(a, NULL, 0, &port, NULL, 0, NULL), 0);
	errno = 0;
	b = reactor_sock_listen("127.0.0.1", port, NULL);
	err = errno;
	assert_null(b);
	assert_int_equal(err, EADDRINUSE);
	assert_int_equal(h_log_count("already in use"), 1);
	/* not a numeric address */
	errno = 0;
	assert_null(reactor_sock_listen("localhost", 0, NULL));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(reactor_sock_listen("1.2.3.4.5", 0, NULL));
	assert_int_equal(errno, EINVAL);
	/* no accept pending; accepting on a non-listener */
	errno = 0;
	assert_null(reactor_sock_accept(a));
	assert_int_equal(errno, EAGAIN);
	/* a listener takes no writes */
	{
		struct reactor_sock_request req = {0};
		struct iovec iov = {pat, 1};

		pat_init();
		req.iov = &iov;
		req.iovcnt = 1;
		req.cb_fn = req_cb;
		assert_int_equal(reactor_sock_writev_async(a, &req), -ENOTCONN);
	}
	h_log_capture_stop();
	assert_int_equal(reactor_sock_close(&a), 0);
	assert_null(a);
	assert_int_equal(reactor_sock_close(&a), 0); /* NULL: ignored */
}

/* ---- close with pending requests -------------------------------------------------------------- */
static void pending_queue(void *arg)
{
	struct world *w = arg;
	struct conn *c = &w->conns[0];

	plan(c, 64u * 65536u, 65536, 2, false);
	send_all(c);
}

static void pending_close(void *arg)
{
	struct world *w = arg;
	struct conn *c = &w->conns[0];
	long before = c->done_ok + c->done_err;

	H_CHECK_INT(reactor_sock_close(&c->sock), ==, 0);
	/* every request still queued completed inside close, with -ECANCELED */
	H_CHECK_INT(c->done_ok + c->done_err, ==, c->nreq);
	H_CHECK_INT(before, <, c->nreq);
}

/* close a connect in progress: its callback runs once, with -ECANCELED */
static void connect_cancel(void *arg)
{
	struct world *w = arg;
	struct conn *c = &w->conns[1];

	c->w = w;
	c->sock = reactor_sock_connect(w->addr, w->port, NULL, connect_cb, c);
	if (!H_CHECK(c->sock != NULL))
		return;
	H_CHECK_INT(reactor_sock_close(&c->sock), ==, 0);
}

static void pending_body(void *arg)
{
	struct world *w = arg;

	if (!world_threads(w))
		return;
	h_call_on_thread(w->st, server_start, w);
	if (!H_CHECK(w->ls != NULL))
		return;
	h_call_on_thread(w->ct, clients_start, w);
	h_wait_eq(&w->connected, 1, 20000, "connect");
	h_wait_eq(&w->accepted, 1, 20000, "accept");
	h_call_on_thread(w->ct, pending_queue, w);
	h_sleep_ms(50); /* the peer never reads: most requests stay queued */
	h_call_on_thread(w->ct, pending_close, w);
	h_call_on_thread(w->ct, connect_cancel, w);
	h_sleep_ms(50);
	w->nconn = 0; /* closed already */
	world_end(w);
}

static void test_close_pending(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct conn *c = &w->conns[0];
	long cancelled = 0;

	(void)state;
	H_BEGIN();
	world_init(w, "127.0.0.1");
	w->nconn = 1;
	w->copts.send_buf_size = 4096;
	w->sopts.recv_buf_size = 4096;
	w->server_no_group = true;
	run_app(pending_body, w, false);
	for (int i = 0; i < c->nreq; i++) {
		assert_int_equal(c->calls[i], 1);
		assert_true(c->status[i] == 0 || c->status[i] == -ECANCELED);
		cancelled += c->status[i] == -ECANCELED;
	}
	print_message("# close: %ld of %d requests cancelled, %ld had completed\n", cancelled, c->nreq, c->done_ok);
	assert_true(cancelled > 0);
	assert_int_equal(atomic_load(&w->connect_failed), 1); /* the cancelled connect */
	assert_int_equal(atomic_load(&w->last_connect_status), -ECANCELED);
	assert_int_equal(atomic_load(&w->connected), 1);
	world_free(w);
	free(w);
}

/* ---- adaptive reactor sleeps while sockets idle, wakes on data --------------------------------- */
struct idle_ctx {
	struct world *w;
	double cpu;
	uint64_t sleeps0, sleeps1;
	long woke;
	uint64_t wake_max_us;
};

static double cpu_share(unsigned int ms)
{
	uint64_t c0 = h_process_cpu_ns(), t0 = h_now_ns();

	h_sleep_ms(ms);
	return (double)(h_process_cpu_ns() - c0) / (double)(h_now_ns() - t0);
}

static uint64_t sleeps_total(void)
{
	uint64_t n = 0;

	for (uint32_t core = reactor_get_next_core(UINT32_MAX); core != UINT32_MAX;
	     core = reactor_get_next_core(core)) {
		struct reactor_stats st = {.stats_size = sizeof(st)};

		if (reactor_get_stats(core, &st) == 0)
			n += st.sleeps;
	}
	return n;
}

static void idle_body(void *arg)
{
	struct idle_ctx *x = arg;
	struct world *w = x->w;
	struct sockaddr_in a = {.sin_family = AF_INET};
	int raw;

	if (!world_threads(w))
		return;
	h_call_on_thread(w->st, server_start, w);
	if (!H_CHECK(w->ls != NULL))
		return;
	h_call_on_thread(w->ct, clients_start, w); /* one idle library client too */
	raw = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_port = htons(w->port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!H_CHECK(connect(raw, (struct sockaddr *)&a, sizeof(a)) == 0))
		return;
	h_wait_eq(&w->accepted, 2, 20000, "accepts");
	h_wait_eq(&w->connected, 1, 20000, "connect");
	h_sleep_ms(200);
	x->sleeps0 = sleeps_total();
	x->cpu = cpu_share(500);
	x->sleeps1 = sleeps_total();
	/* each byte wakes the sleeping server thread */
	for (int i = 0; i < 3; i++) {
		char b = (char)i;

		uint64_t t0 = h_now_ns();

		if (!H_CHECK(write(raw, &b, 1) == 1))
			break;
		if (!h_wait_ge(&w->rx_total, i + 1, 5000, "the sleeping server to read a byte"))
			break;
		x->woke++;
		if ((h_now_ns() - t0) / 1000 > x->wake_max_us)
			x->wake_max_us = (h_now_ns() - t0) / 1000;
		h_sleep_ms(100); /* asleep again */
	}
	close(raw);
	world_end(w);
}

static void test_adaptive_idle(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct idle_ctx x = {.w = w};

	(void)state;
	H_BEGIN();
	world_init(w, "127.0.0.1");
	w->nconn = 1;
	run_app(idle_body, &x, true);
	print_message("# idle sockets: %.1f%% CPU, %" PRIu64 " sleeps in 500 ms, woke %ld/3 times on data "
		      "(slowest %" PRIu64 " us, polling every 200 us)\n",
		      x.cpu * 100, x.sleeps1 - x.sleeps0, x.woke, x.wake_max_us);
	assert_int_equal(x.woke, 3);
	assert_true(x.sleeps1 > x.sleeps0);
	if (x.cpu >= 0.10)
		fail_msg("idle sockets: the adaptive reactors used %.1f%% CPU (want < 10%%)", x.cpu * 100);
	world_free(w);
	free(w);
}

/* ---- the io_uring backend: the same tests, and the fallback to epoll ------------------- */
static int uring_setup(void **state)
{
	h_setup(state);
	if (reactor_sock_set_default_impl("uring") != 0)
		return 0; /* built without liburing: the tests skip */
	g_expect_impl = "uring";
	return 0;
}

static int uring_teardown(void **state)
{
	reactor_sock_set_default_impl("epoll");
	g_expect_impl = "epoll";
	return h_teardown(state);
}

#define URING_TEST(name, fn)                                                   \
	static void name(void **state)                                         \
	{                                                                      \
		if (strcmp(g_expect_impl, "uring") != 0)                       \
			H_SKIP("built without liburing");                      \
		fn(state);                                                     \
	}
URING_TEST(test_uring_ipv4_stream, test_ipv4_stream)
URING_TEST(test_uring_ipv6_stream, test_ipv6_stream)
URING_TEST(test_uring_addresses, test_addresses)
URING_TEST(test_uring_many_connections, test_many_connections)
URING_TEST(test_uring_partial_writes, test_partial_writes)
URING_TEST(test_uring_peer_reset, test_peer_reset)
URING_TEST(test_uring_close_pending, test_close_pending)
URING_TEST(test_uring_adaptive_idle, test_adaptive_idle)
URING_TEST(test_uring_zero_copy_stream, test_zero_copy_stream)
#define H_URING(fn) cmocka_unit_test_setup_teardown(fn, uring_setup, uring_teardown)

/* What a container's seccomp profile does: io_uring_setup() fails with EPERM. */
static int block_io_uring(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -errno;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0 ? 0 : -errno;
}

/* In a child process: io_uring blocked, a "uring" group must fall back to epoll and work. */
static int child_uring_blocked(void)
{
	struct world *w = calloc(1, sizeof(*w));
	struct reactor_app_opts opts;
	int rc;

	if (block_io_uring() != 0) {
		printf("cannot install the seccomp filter: %s\n", strerror(errno));
		return 3;
	}
	if (reactor_sock_set_default_impl("uring") != 0)
		return 4;
	g_expect_impl = "epoll";
	world_init(w, "127.0.0.1");
	w->nconn = 2;
	w->len = 256u << 10;
	w->server_sends = true;
	h_log_capture_start(REACTOR_LOG_NOTICE);
	if (!h_app_opts(&opts, h_allowed_cpu_count() >= 2 ? 2 : 1))
		return 5;
	rc = h_app_run(&opts, stream_body, w);
	h_log_capture_stop();
	printf("app %d, failures %d, fallback messages %d\n", rc, h_failures(),
	       h_log_count2("uring backend unavailable", "use epoll"));
	h_log_dump();
	if (rc != 0 || h_failures() != 0 || h_log_count2("uring backend unavailable", "use epoll") != 1)
		rc = 1;
	for (int i = 0; i < w->nconn && rc == 0; i++)
		if (w->conns[i].rx != w->len || w->conns[i].rx_bad != 0)
			rc = 2;
	h_log_capture_reset();
	world_free(w);
	free(w);
	if (rc == 0)
		printf("fallback ok: data verified over epoll\n");
	return rc;
}

static void test_uring_fallback(void **state)
{
	char *out = NULL;
	int rc;

	(void)state;
	H_BEGIN();
	if (reactor_sock_set_default_impl("uring") != 0)
		H_SKIP("built without liburing");
	reactor_sock_set_default_impl("epoll");
	rc = h_spawn_self("uring-blocked", NULL, &out);
	print_message("# child with io_uring blocked by seccomp: exit %d\n%s", rc, out ? out : "");
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "fallback ok"));
	free(out);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_ipv4_stream),     H_TEST(test_ipv6_stream),    H_TEST(test_addresses),
		H_TEST(test_many_connections), H_TEST(test_partial_writes), H_TEST(test_peer_reset),
		H_TEST(test_connect_refused), H_TEST(test_address_in_use), H_TEST(test_close_pending),
		H_TEST(test_adaptive_idle),   H_TEST(test_zero_copy_stream),
		H_TEST(test_connect_timeout),
		H_URING(test_uring_ipv4_stream), H_URING(test_uring_ipv6_stream), H_URING(test_uring_addresses),
		H_URING(test_uring_many_connections), H_URING(test_uring_partial_writes),
		H_URING(test_uring_peer_reset), H_URING(test_uring_close_pending),
		H_URING(test_uring_adaptive_idle), H_URING(test_uring_zero_copy_stream),
		H_TEST(test_uring_fallback),
	};

	if (argc == 2 && strcmp(argv[1], "uring-blocked") == 0)
		return child_uring_blocked();

	return cmocka_run_group_tests(tests, NULL, NULL);
}
