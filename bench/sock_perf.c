/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sock_perf: loopback TCP through libreactor's sockets (reactor/sock.h).
 * A server thread and a client thread, on two reactors when two CPUs are
 * allowed (one otherwise), both in poll mode unless --idle-policy says so.
 *
 * - throughput: the client keeps -q send requests of -b bytes queued on one
 *   connection for -t seconds; the server reads and discards. Measured with
 *   MSG_ZEROCOPY off and on (zero_copy option), for 64 KiB and 4 KiB writes.
 * - latency: 64-byte ping-pong (the server echoes), -n round trips;
 *   p50/p99/max of the round trip.
 *
 *   sock_perf: test=throughput backend=epoll zero_copy=off msg=65536 qd=8 MBps=... Gbps=...
 *   sock_perf: test=latency backend=epoll zero_copy=off msg=64 rtt_p50_us=... p99_us=... max_us=...
 *
 * Each is run with the epoll backend and, when built with liburing, the
 * io_uring one (backend= names what the groups really use: a blocked
 * io_uring falls back to epoll).
 */
#include "bench_common.h"

#include <stdatomic.h>

#define PROG "sock_perf"
#define MAXQD 64
#define PING 64

struct config {
	double seconds;
	uint32_t qd;
	uint32_t samples;
};

static struct config g_cfg = {.seconds = 2.0, .qd = 8, .samples = 20000};

/* ---- shared state: written on one thread, read by the driver with atomics ---------- */
static struct reactor_thread *g_srv_thread, *g_cli_thread;
static struct reactor_sock_group *g_srv_group, *g_cli_group;
static struct reactor_sock *g_listener;
static uint16_t g_port;
static struct reactor_sock *g_srv_conn, *g_cli_conn;
static atomic_uint_fast64_t g_rx_bytes;
static atomic_int g_failed, g_step_done, g_connected, g_inflight, g_stop;

/* throughput sender */
struct slot {
	struct reactor_sock_request req;
	struct iovec iov;
};
static struct slot g_slots[MAXQD];
static uint8_t *g_buf;
static size_t g_msg;
static bool g_zero_copy;

/* latency */
static atomic_bool g_echo;
static uint8_t g_ping_out[PING], g_srv_in[PING], g_cli_in[PING];
static size_t g_srv_have, g_cli_have;
static struct reactor_sock_request g_ping_req, g_pong_req;
static struct iovec g_ping_iov = {g_ping_out, PING}, g_pong_iov = {g_srv_in, PING};
static uint64_t *g_rtt;
static uint32_t g_nrtt;
static uint64_t g_t_send;
static const char *g_backend = "epoll";

static void fail(const char *what, int rc)
{
	fprintf(stderr, PROG ": %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
	atomic_store(&g_failed, 1);
}

/* Run @p fn on @p t and wait for it (the driver is a plain pthread). */
static void call_on(struct reactor_thread *t, reactor_msg_fn fn)
{
	atomic_store(&g_step_done, 0);
	while (reactor_thread_send_msg(t, fn, NULL) == -EAGAIN)
		bench_sleep_ns(100000);
	while (!atomic_load(&g_step_done))
		bench_sleep_ns(100000);
}

static void step_done(void)
{
	atomic_store(&g_step_done, 1);
}

/* ---- server ------------------------------------------------------------------------- */
static void pong_cb(void *arg, int status)
{
	(void)arg;
	if (status != 0)
		fail("echo", status);
}

static void srv_read(void *arg, struct reactor_sock_group *g, struct reactor_sock *s)
{
	static uint8_t sink[256 * 1024];
	ssize_t n;

	(void)arg;
	if (atomic_load_explicit(&g_echo, memory_order_relaxed)) {
		n = reactor_sock_recv(s, g_srv_in + g_srv_have, PING - g_srv_have);
		if (n > 0 && (g_srv_have += (size_t)n) == PING) {
			int rc;

			g_srv_have = 0;
			g_pong_req.iov = &g_pong_iov;
			g_pong_req.iovcnt = 1;
			g_pong_req.cb_fn = pong_cb;
			rc = reactor_sock_writev_async(s, &g_pong_req);
			if (rc == 0)
				rc = reactor_sock_flush(s); /* latency: do not wait for the group's flush */
			if (rc != 0)
				fail("echo writev", rc);
		}
	} else {
		n = reactor_sock_recv(s, sink, sizeof(sink));
		if (n > 0)
			atomic_fetch_add_explicit(&g_rx_bytes, (uint64_t)n, memory_order_relaxed);
	}
	if (n == 0 || (n < 0 && n != -EAGAIN))
		reactor_sock_group_remove_sock(g, s);
}

static void srv_accept(void *arg, struct reactor_sock_group *g, struct reactor_sock *ls)
{
	struct reactor_sock *s;

	(void)arg;
	while ((s = reactor_sock_accept(ls)) != NULL) {
		int rc;

		reactor_sock_close(&g_srv_conn); /* the previous phase's */
		g_srv_conn = s;
		g_srv_have = 0;
		rc = reactor_sock_group_add_sock(g, s, srv_read, NULL);
		if (rc != 0)
			fail("add accepted socket", rc);
	}
}

static void srv_start(void *arg)
{
	int rc;

	(void)arg;
	g_srv_group = reactor_sock_group_create();
	g_listener = reactor_sock_listen("127.0.0.1", 0, NULL);
	if (g_srv_group == NULL || g_listener == NULL) {
		fail("listen", errno);
	} else {
		reactor_sock_getaddr(g_listener, NULL, 0, &g_port, NULL, 0, NULL);
		rc = reactor_sock_group_add_sock(g_srv_group, g_listener, srv_accept, NULL);
		if (rc != 0)
			fail("add listener", rc);
		g_backend = reactor_sock_group_get_impl(g_srv_group);
	}
	step_done();
}

static void srv_stop(void *arg)
{
	(void)arg;
	reactor_sock_close(&g_srv_conn);
	reactor_sock_close(&g_listener);
	reactor_sock_group_close(&g_srv_group);
	step_done();
}

/* ---- client ------------------------------------------------------------------------- */
static void slot_cb(void *arg, int status)
{
	struct slot *sl = arg;
	int rc;

	atomic_fetch_sub(&g_inflight, 1);
	if (status != 0) {
		fail("send", status);
		return;
	}
	if (atomic_load_explicit(&g_stop, memory_order_relaxed))
		return;
	rc = reactor_sock_writev_async(g_cli_conn, &sl->req);
	if (rc != 0)
		fail("writev_async", rc);
	else
		atomic_fetch_add(&g_inflight, 1);
}

static void ping_send(void)
{
	int rc;

	g_ping_req.iov = &g_ping_iov;
	g_ping_req.iovcnt = 1;
	g_ping_req.cb_fn = pong_cb;
	g_t_send = reactor_get_ticks();
	rc = reactor_sock_writev_async(g_cli_conn, &g_ping_req);
	if (rc == 0)
		rc = reactor_sock_flush(g_cli_conn);
	if (rc != 0)
		fail("ping", rc);
}

static void cli_read(void *arg, struct reactor_sock_group *g, struct reactor_sock *s)
{
	ssize_t n = reactor_sock_recv(s, g_cli_in + g_cli_have, PING - g_cli_have);

	(void)arg;
	if (n > 0 && (g_cli_have += (size_t)n) == PING) {
		g_cli_have = 0;
		g_rtt[g_nrtt++] = reactor_get_ticks() - g_t_send;
		if (g_nrtt < g_cfg.samples)
			ping_send();
		else
			step_done();
	} else if (n == 0 || (n < 0 && n != -EAGAIN)) {
		reactor_sock_group_remove_sock(g, s);
	}
}

static void cli_connected(void *arg, struct reactor_sock *s, int status)
{
	int rc;

	(void)arg;
	if (status != 0) {
		fail("connect", status);
		step_done();
		return;
	}
	rc = reactor_sock_group_add_sock(g_cli_group, s, cli_read, NULL);
	if (rc != 0)
		fail("add client socket", rc);
	atomic_store(&g_connected, 1);
	step_done();
}

static void cli_connect(void *arg)
{
	struct reactor_sock_opts o;

	(void)arg;
	if (g_cli_group == NULL)
		g_cli_group = reactor_sock_group_create();
	reactor_sock_close(&g_cli_conn);
	reactor_sock_opts_init(&o, sizeof(o));
	o.zero_copy = g_zero_copy;
	atomic_store(&g_connected, 0);
	g_cli_have = 0;
	g_cli_conn = reactor_sock_connect("127.0.0.1", g_port, &o, cli_connected, NULL);
	if (g_cli_conn == NULL) {
		fail("connect", errno);
		step_done();
	}
}

static void cli_blast(void *arg)
{
	(void)arg;
	atomic_store(&g_stop, 0);
	for (uint32_t i = 0; i < g_cfg.qd; i++) {
		struct slot *sl = &g_slots[i];
		int rc;

		sl->iov.iov_base = g_buf;
		sl->iov.iov_len = g_msg;
		sl->req.iov = &sl->iov;
		sl->req.iovcnt = 1;
		sl->req.cb_fn = slot_cb;
		sl->req.cb_arg = sl;
		rc = reactor_sock_writev_async(g_cli_conn, &sl->req);
		if (rc != 0)
			fail("writev_async", rc);
		else
			atomic_fetch_add(&g_inflight, 1);
	}
	step_done();
}

static void cli_ping_start(void *arg)
{
	(void)arg;
	g_nrtt = 0;
	ping_send();
}

static void cli_stop(void *arg)
{
	(void)arg;
	reactor_sock_close(&g_cli_conn);
	reactor_sock_group_close(&g_cli_group);
	step_done();
}

/* ---- driver ------------------------------------------------------------------------------ */
static void connect_phase(bool zc)
{
	g_zero_copy = zc;
	call_on(g_cli_thread, cli_connect);
}

static void throughput(bool zc, size_t msg)
{
	uint64_t b0, b1, t0, t1;
	double mbps;

	g_echo = false;
	g_msg = msg;
	connect_phase(zc);
	if (atomic_load(&g_failed))
		return;
	call_on(g_cli_thread, cli_blast);
	bench_sleep_ns(300000000ull); /* warm up */
	b0 = atomic_load(&g_rx_bytes);
	t0 = bench_now_ns();
	bench_sleep_ns((uint64_t)(g_cfg.seconds * 1e9));
	b1 = atomic_load(&g_rx_bytes);
	t1 = bench_now_ns();
	atomic_store(&g_stop, 1);
	while (atomic_load(&g_inflight) > 0 && !atomic_load(&g_failed))
		bench_sleep_ns(1000000);
	mbps = (double)(b1 - b0) / ((double)(t1 - t0) / 1e9) / 1e6;
	printf(PROG ": test=throughput backend=%s zero_copy=%s msg=%zu qd=%u MBps=%.0f Gbps=%.2f\n",
	       g_backend, zc ? "on" : "off", msg, g_cfg.qd, mbps, mbps * 8 / 1000);
	fflush(stdout);
}

static void latency(bool zc)
{
	double hz = (double)reactor_get_ticks_hz() / 1e6;

	g_echo = true;
	connect_phase(zc);
	if (atomic_load(&g_failed))
		return;
	call_on(g_cli_thread, cli_ping_start);
	qsort(g_rtt, g_nrtt, sizeof(*g_rtt), bench_cmp_u64);
	printf(PROG ": test=latency backend=%s zero_copy=%s msg=%d rtt_p50_us=%.1f p99_us=%.1f max_us=%.1f samples=%u\n",
	       g_backend, zc ? "on" : "off", PING, bench_percentile(g_rtt, g_nrtt, 50) / hz,
	       bench_percentile(g_rtt, g_nrtt, 99) / hz, (double)g_rtt[g_nrtt - 1] / hz, g_nrtt);
	fflush(stdout);
}

static void *driver(void *arg)
{
	uint32_t cores[2], n = 0;

	(void)arg;
	for (uint32_t c = reactor_get_next_core(UINT32_MAX); c != UINT32_MAX && n < 2; c = reactor_get_next_core(c))
		cores[n++] = c;
	for (uint32_t i = 0; i < 2 && !atomic_load(&g_failed); i++) {
		struct reactor_cpuset *m = reactor_cpuset_create();
		struct reactor_thread *t;

		reactor_cpuset_set(m, cores[n == 2 ? i : 0]);
		while ((t = reactor_thread_create(i ? "sock-client" : "sock-server", m)) == NULL && errno == EAGAIN)
			bench_sleep_ns(100000);
		reactor_cpuset_destroy(m);
		if (t == NULL)
			fail("thread create", errno);
		*(i ? &g_cli_thread : &g_srv_thread) = t;
	}
	printf(PROG ": server core %u, client core %u, %.1f s per throughput run\n", cores[0], cores[n == 2],
	       g_cfg.seconds);
	for (int b = 0; b < 2 && !atomic_load(&g_failed); b++) {
		if (reactor_sock_set_default_impl(b == 0 ? "epoll" : "uring") != 0) {
			printf(PROG ": backend uring not built (no liburing)\n");
			break;
		}
		call_on(g_srv_thread, srv_start);
		for (int zc = 0; zc < 2 && !atomic_load(&g_failed); zc++) {
			throughput(zc, 65536);
			throughput(zc, 4096);
		}
		for (int zc = 0; zc < 2 && !atomic_load(&g_failed); zc++)
			latency(zc);
		call_on(g_cli_thread, cli_stop);
		call_on(g_srv_thread, srv_stop);
	}
	return NULL;
}

static int stopper(void *arg)
{
	(void)arg;
	return REACTOR_POLLER_IDLE;
}

static pthread_t g_driver;
static struct reactor_poller *g_stop_poller;
static atomic_int g_driver_done;

static void *driver_main(void *arg)
{
	driver(arg);
	atomic_store(&g_driver_done, 1);
	return NULL;
}

static int stop_check(void *arg)
{
	(void)arg;
	if (!atomic_load(&g_driver_done))
		return REACTOR_POLLER_IDLE;
	reactor_poller_unregister(&g_stop_poller);
	reactor_app_stop(atomic_load(&g_failed) ? 1 : 0);
	return REACTOR_POLLER_BUSY;
}

static void start_fn(void *arg)
{
	(void)arg;
	(void)stopper;
	g_stop_poller = reactor_poller_register_named(stop_check, NULL, 10000, "sock_perf_stop");
	if (pthread_create(&g_driver, NULL, driver_main, NULL) != 0) {
		fail("pthread_create", errno);
		reactor_app_stop(1);
	}
}

static int parse_fn(int ch, char *arg, void *ctx)
{
	(void)ctx;
	switch (ch) {
	case 't':
		return bench_parse_seconds(PROG, "-t", arg, 0.1, 600, &g_cfg.seconds);
	case 'q':
		return bench_parse_u32(PROG, "-q", arg, 1, MAXQD, &g_cfg.qd);
	case 'n':
		return bench_parse_u32(PROG, "-n", arg, 10, 10000000, &g_cfg.samples);
	default:
		return -EINVAL;
	}
}

static void usage_fn(FILE *out, void *ctx)
{
	(void)ctx;
	fprintf(out, " -t, --time <s>        seconds per throughput run (default 2)\n"
	       " -q, --queue-depth <n> send requests kept queued (default 8, max %d)\n"
	       " -n, --samples <n>     latency round trips (default 20000)\n",
	       MAXQD);
}

static const struct option g_long_opts[] = {
	{"time", required_argument, NULL, 't'},
	{"queue-depth", required_argument, NULL, 'q'},
	{"samples", required_argument, NULL, 'n'},
	{NULL, 0, NULL, 0},
};

int main(int argc, char **argv)
{
	struct reactor_app_opts opts;
	int rc;

	rc = bench_parse_args(argc, argv, &opts, PROG, "t:q:n:", g_long_opts, parse_fn, usage_fn, NULL);
	if (rc >= 0)
		return rc;
	g_buf = calloc(1, 65536);
	g_rtt = calloc(g_cfg.samples, sizeof(*g_rtt));
	if (g_buf == NULL || g_rtt == NULL)
		return BENCH_EXIT_FAIL;
	bench_watchdog_arm(8 * (g_cfg.seconds + 1) + g_cfg.samples / 500.0 + 60);
	rc = reactor_app_start(&opts, start_fn, NULL);
	bench_watchdog_disarm();
	if (g_driver_done)
		pthread_join(g_driver, NULL);
	if (rc < 0)
		return bench_start_failed(PROG, rc);
	if (rc != 0 || atomic_load(&g_failed)) {
		fprintf(stderr, PROG ": FAILED (status %d)\n", rc);
		return BENCH_EXIT_FAIL;
	}
	free(g_buf);
	free(g_rtt);
	return BENCH_EXIT_OK;
}
