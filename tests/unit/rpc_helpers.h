/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A small JSON-RPC client for the unit tests, talking to an app started in
 * the same process over its Unix socket, and a runner that drives such an
 * app from a pthread (the app may wait for RPC before start_fn runs).
 * Include after helpers.h. Every wait is bounded.
 */
#ifndef REACTOR_TESTS_UNIT_RPC_HELPERS_H
#define REACTOR_TESTS_UNIT_RPC_HELPERS_H

#include "helpers.h"

#include <jansson.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

struct rpc_client {
	int fd;
	char buf[1 << 16];
	size_t len;
};

/* A fresh socket path under /tmp for this test process. */
static inline H_UNUSED void rpc_test_path(char *buf, size_t len, const char *tag)
{
	snprintf(buf, len, "/tmp/reactor-test-%d-%s.sock", (int)getpid(), tag);
	unlink(buf);
}

/* Connect to @p path, retrying until it accepts or @p timeout_ms passes. */
static inline H_UNUSED bool rpc_connect(struct rpc_client *c, const char *path, unsigned int timeout_ms)
{
	uint64_t end = h_now_ns() + (uint64_t)timeout_ms * h_timeout_factor() * 1000000ull;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	c->len = 0;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	h_waiting_for("a connection to %s", path);
	for (;;) {
		c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c->fd < 0)
			return false;
		if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return true;
		close(c->fd);
		c->fd = -1;
		if (h_now_ns() > end) {
			H_FAIL("cannot connect to %s: %s", path, strerror(errno));
			return false;
		}
		h_sleep_ms(2);
	}
}

static inline H_UNUSED void rpc_close(struct rpc_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static inline H_UNUSED bool rpc_send_raw(struct rpc_client *c, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			H_FAIL("send: %s", strerror(errno));
			return false;
		}
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static inline H_UNUSED bool rpc_send_str(struct rpc_client *c, const char *s)
{
	return rpc_send_raw(c, s, strlen(s));
}

/*
 * Read one response line (the server ends each with a newline). Returns it
 * parsed, or NULL on timeout (failure recorded unless @p quiet), or when
 * the server closed the connection (*closed set when given).
 */
static inline H_UNUSED json_t *rpc_read_ex(struct rpc_client *c, unsigned int timeout_ms, bool quiet,
					   bool *closed)
{
	uint64_t end = h_now_ns() + (uint64_t)timeout_ms * h_timeout_factor() * 1000000ull;

	if (closed != NULL)
		*closed = false;
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		uint64_t now = h_now_ns();
		ssize_t n;

		if (nl != NULL) {
			json_error_t err;
			size_t line = (size_t)(nl - c->buf) + 1;
			json_t *v = json_loadb(c->buf, line - 1, 0, &err);

			if (v == NULL)
				H_FAIL("bad JSON from the server: %s: %.*s", err.text, (int)line, c->buf);
			memmove(c->buf, c->buf + line, c->len - line);
			c->len -= line;
			return v;
		}
		if (now > end) {
			if (!quiet)
				H_FAIL("timed out reading a response (have %zu bytes: %.*s)", c->len,
				       (int)(c->len > 200 ? 200 : c->len), c->buf);
			return NULL;
		}
		if (poll(&pfd, 1, (int)((end - now) / 1000000ull) + 1) <= 0)
			continue;
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (closed != NULL)
				*closed = true;
			else if (!quiet)
				H_FAIL("the server closed the connection");
			return NULL;
		}
		c->len += (size_t)n;
	}
}

static inline H_UNUSED json_t *rpc_read(struct rpc_client *c)
{
	return rpc_read_ex(c, 10000, false, NULL);
}

/* True if nothing arrives within @p ms. */
static inline H_UNUSED bool rpc_nothing_for(struct rpc_client *c, unsigned int ms)
{
	bool closed;
	json_t *v = rpc_read_ex(c, ms, true, &closed);

	if (v != NULL) {
		char *s = json_dumps(v, JSON_COMPACT);

		H_FAIL("unexpected response: %s", s ? s : "?");
		free(s);
		json_decref(v);
		return false;
	}
	return !closed;
}

/* True once the server has closed the connection (within 10 s). */
static inline H_UNUSED bool rpc_wait_closed(struct rpc_client *c)
{
	uint64_t end = h_now_ns() + 10000ull * h_timeout_factor() * 1000000ull;

	for (;;) {
		bool closed;
		json_t *v = rpc_read_ex(c, 200, true, &closed);

		if (closed)
			return true;
		json_decref(v);
		if (h_now_ns() > end) {
			H_FAIL("the server did not close the connection");
			return false;
		}
	}
}

/* Call @p method with @p params (stolen; may be NULL) and id @p id; the response. */
static inline H_UNUSED json_t *rpc_call(struct rpc_client *c, const char *method, json_t *params, int id)
{
	json_t *req = json_pack("{s:s, s:s, s:i}", "jsonrpc", "2.0", "method", method, "id", id);
	char *text;
	bool ok;

	if (params != NULL)
		json_object_set_new(req, "params", params);
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	ok = text != NULL && rpc_send_str(c, text);
	free(text);
	if (!ok)
		return NULL;
	h_waiting_for("the response to %s", method);
	return rpc_read(c);
}

static inline H_UNUSED const json_t *rpc_result(const json_t *resp)
{
	return json_object_get(resp, "result");
}

static inline H_UNUSED int rpc_error_code(const json_t *resp)
{
	return (int)json_integer_value(json_object_get(json_object_get(resp, "error"), "code"));
}

static inline H_UNUSED const char *rpc_error_message(const json_t *resp)
{
	const char *m = json_string_value(json_object_get(json_object_get(resp, "error"), "message"));

	return m ? m : "";
}

static inline H_UNUSED json_int_t rpc_id(const json_t *resp)
{
	return json_integer_value(json_object_get(resp, "id"));
}

/* Check a response is an error with @p code whose message has @p needle. */
#define RPC_CHECK_ERROR(resp, code, needle)                                    \
	do {                                                                   \
		const json_t *r_ = (resp);                                     \
		if (!H_CHECK(r_ != NULL))                                      \
			break;                                                 \
		if (rpc_error_code(r_) != (code) ||                            \
		    strstr(rpc_error_message(r_), (needle)) == NULL) {         \
			char *s_ = json_dumps(r_, JSON_COMPACT);               \
			H_FAIL("expected error %d with '%s', got %s", (code), (needle), s_ ? s_ : "?"); \
			free(s_);                                              \
		}                                                              \
	} while (0)

/* ---- running an app driven over RPC by a pthread ---------------------------------- */

struct rpc_run {
	void (*body)(void *);
	void *ctx;
	atomic_int returned;
	atomic_int start_ran;
};

static H_UNUSED void *rpc_run_main(void *arg)
{
	struct rpc_run *r = arg;

	r->body(r->ctx);
	/* The body talked to the app, so it runs: stop it (retry in case of a
	 * race with its start; a stop once it runs is final). */
	while (!atomic_load(&r->returned)) {
		reactor_app_stop(0);
		h_sleep_ms(5);
	}
	return NULL;
}

static H_UNUSED void rpc_run_start(void *arg)
{
	struct rpc_run *r = arg;

	atomic_store(&r->start_ran, 1);
}

/*
 * Start an app with @p opts while @p body(@p ctx) runs on a pthread
 * (connect with rpc_connect()); the app is stopped with 0 when body
 * returns. Returns reactor_app_start()'s result; *@p start_ran (may be
 * NULL) says whether start_fn ran.
 */
static inline H_UNUSED int rpc_app_run(const struct reactor_app_opts *opts, void (*body)(void *), void *ctx,
				       bool *start_ran)
{
	struct rpc_run r = {.body = body, .ctx = ctx};
	pthread_t tid;
	int rc;

	if (pthread_create(&tid, NULL, rpc_run_main, &r) != 0) {
		H_FAIL("pthread_create");
		return -1;
	}
	h_waiting_for("reactor_app_start() with an RPC body to return");
	rc = reactor_app_start(opts, rpc_run_start, &r);
	atomic_store(&r.returned, 1);
	pthread_join(tid, NULL);
	if (start_ran != NULL)
		*start_ran = atomic_load(&r.start_ran) != 0;
	h_waiting_for("(test code after app)");
	return rc;
}

#endif /* REACTOR_TESTS_UNIT_RPC_HELPERS_H */
