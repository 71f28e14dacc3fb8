/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The JSON-RPC 2.0 core: the method registry, request parsing and
 * dispatch, responses, and the Unix socket server.
 *
 * Everything but registration and the send functions runs on one
 * lightweight thread, the home thread (the app thread). A connection reads
 * into its own buffer; a scanner finds where each top-level JSON value ends
 * (brackets counted outside strings, resumable across reads), so a request
 * split over many reads is scanned once, and jansson parses each complete
 * value once. Every request holds a reference on its connection (or its
 * batch): a client that disconnects while a request is pending is freed
 * when the last answer arrives, and that answer is dropped.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* <sys/socket.h> has a MSG_BATCH flag; internal.h's batch size takes the name. */
#undef MSG_BATCH
#include "rpc_internal.h"

#define RPC_READ_CHUNK 65536u
#define RPC_MAX_CONNS 128u
#define RPC_ACCEPT_BATCH 16u
#define RPC_ACCEPT_RETRY_US 100000u
#define RPC_METHOD_NAME_MAX 128u

/* ---- registry ------------------------------------------------------------ */

struct rpc_method {
	TAILQ_ENTRY(rpc_method) link;
	reactor_rpc_method_fn fn;
	void *ctx;
	uint32_t state_mask;
	char name[];
};

static pthread_mutex_t g_methods_lock = PTHREAD_MUTEX_INITIALIZER;
static TAILQ_HEAD(, rpc_method) g_methods = TAILQ_HEAD_INITIALIZER(g_methods);

/* ---- connections, batches, requests -------------------------------------- */

struct rpc_conn {
	TAILQ_ENTRY(rpc_conn) link; /* g_rpc.conns while open */
	int fd;                     /* -1 for a fake connection */
	struct reactor_fd_event *ev;
	uint32_t events;
	uint32_t pending;           /* requests and batches not answered yet */
	uint32_t max_request;
	bool open;
	bool busy;                  /* inside its fd callback or input processing */
	bool eof;                   /* no more input: close once answered and flushed */
	bool fatal;                 /* protocol error: close once flushed */
	/* input, and the scanner's position in the value being received */
	char *in;
	size_t in_len, in_cap;
	size_t val_start, scan;
	uint32_t depth;
	bool started, in_str, esc;
	/* output */
	char *out;
	size_t out_len, out_off, out_cap;
	/* fake connections (rpc_process_buffer) write here instead */
	void (*sink)(const char *buf, size_t len, void *ctx);
	void *sink_ctx;
};

struct rpc_batch {
	struct rpc_conn *conn;
	json_t *responses;
	uint32_t pending; /* requests not answered, +1 while being dispatched */
};

struct reactor_rpc_request {
	TAILQ_ENTRY(reactor_rpc_request) link; /* g_rpc.requests, home thread */
	struct rpc_conn *conn;                 /* NULL for a local call */
	struct rpc_batch *batch;
	json_t *id;                            /* JSON null when unknown */
	bool notification;                     /* no id member: no response */
	rpc_local_cb local_cb;
	void *local_ctx;
	json_t *handoff;                       /* response sent from another thread */
	char method[RPC_METHOD_NAME_MAX];
};

static struct {
	struct reactor_thread *_Atomic home;
	_Atomic uint64_t home_id;
	_Atomic uint32_t state;
	TAILQ_HEAD(, reactor_rpc_request) requests;
	TAILQ_HEAD(, rpc_conn) conns;
	uint32_t nconns;
	bool conns_full_logged;
	/* the socket */
	int listen_fd;
	int lock_fd;
	ino_t sock_ino;
	dev_t sock_dev;
	struct reactor_fd_event *listen_ev;
	struct reactor_poller *accept_retry;
	uint32_t max_request;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char lock_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
} g_rpc = {
	.requests = TAILQ_HEAD_INITIALIZER(g_rpc.requests),
	.conns = TAILQ_HEAD_INITIALIZER(g_rpc.conns),
	.listen_fd = -1,
	.lock_fd = -1,
	.state = REACTOR_RPC_STARTUP,
};

static bool on_home(void)
{
	struct reactor_thread *h = atomic_load_explicit(&g_rpc.home, memory_order_relaxed);

	return h != NULL && tls_thread == h;
}

/* ---- registry ------------------------------------------------------------ */

int reactor_rpc_register_method(const char *name, reactor_rpc_method_fn fn, void *ctx,
				uint32_t state_mask)
{
	struct rpc_method *m;
	size_t len;
	int rc = 0;

	if (name == NULL || fn == NULL || state_mask == 0 ||
	    (state_mask & ~(REACTOR_RPC_STARTUP | REACTOR_RPC_RUNTIME)) != 0)
		return -EINVAL;
	len = strlen(name);
	if (len == 0 || len >= RPC_METHOD_NAME_MAX)
		return -EINVAL;
	m = malloc(sizeof(*m) + len + 1);
	if (m == NULL)
		return -ENOMEM;
	m->fn = fn;
	m->ctx = ctx;
	m->state_mask = state_mask;
	memcpy(m->name, name, len + 1);
	pthread_mutex_lock(&g_methods_lock);
	{
		struct rpc_method *o;

		TAILQ_FOREACH(o, &g_methods, link) {
			if (strcmp(o->name, name) == 0) {
				rc = -EEXIST;
				break;
			}
		}
	}
	if (rc == 0)
		TAILQ_INSERT_TAIL(&g_methods, m, link);
	pthread_mutex_unlock(&g_methods_lock);
	if (rc != 0)
		free(m);
	return rc;
}

static bool method_lookup(const char *name, reactor_rpc_method_fn *fn, void **ctx, uint32_t *mask)
{
	struct rpc_method *m;
	bool found = false;

	pthread_mutex_lock(&g_methods_lock);
	TAILQ_FOREACH(m, &g_methods, link) {
		if (strcmp(m->name, name) == 0) {
			if (fn != NULL)
				*fn = m->fn;
			if (ctx != NULL)
				*ctx = m->ctx;
			if (mask != NULL)
				*mask = m->state_mask;
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&g_methods_lock);
	return found;
}

int rpc_method_state_mask(const char *name, uint32_t *mask)
{
	return method_lookup(name, NULL, NULL, mask) ? 0 : -ENOENT;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *rpc_method_names(bool current)
{
	uint32_t state = reactor_rpc_get_state();
	struct rpc_method *m;
	const char **names;
	json_t *arr = json_array();
	size_t n = 0, i = 0;

	if (arr == NULL)
		return NULL;
	pthread_mutex_lock(&g_methods_lock);
	TAILQ_FOREACH(m, &g_methods, link)
		n++;
	names = calloc(n ? n : 1, sizeof(*names));
	if (names != NULL) {
		/* Names are never freed: the pointers stay valid after unlock. */
		TAILQ_FOREACH(m, &g_methods, link)
			if (!current || (m->state_mask & state) == state)
				names[i++] = m->name;
	}
	pthread_mutex_unlock(&g_methods_lock);
	if (names == NULL) {
		json_decref(arr);
		return NULL;
	}
	qsort(names, i, sizeof(*names), cmp_names);
	for (size_t k = 0; k < i; k++)
		json_array_append_new(arr, json_string(names[k]));
	free(names);
	return arr;
}

/* ---- state ----------------------------------------------------------------- */

uint32_t reactor_rpc_get_state(void)
{
	return atomic_load(&g_rpc.state);
}

void rpc_set_state(uint32_t state)
{
	atomic_store(&g_rpc.state, state);
}

const char *rpc_state_name(uint32_t state)
{
	switch (state) {
	case REACTOR_RPC_STARTUP:
		return "STARTUP";
	case REACTOR_RPC_RUNTIME:
		return "RUNTIME";
	default:
		return "UNKNOWN";
	}
}

/* ---- connection plumbing ------------------------------------------------------ */

static void conn_free(struct rpc_conn *c)
{
	free(c->in);
	free(c->out);
	free(c);
}

/* Free a closed connection nobody refers to any more. */
static void conn_maybe_free(struct rpc_conn *c)
{
	if (!c->open && c->pending == 0 && !c->busy)
		conn_free(c);
}

static void conn_close(struct rpc_conn *c)
{
	if (!c->open)
		return;
	c->open = false;
	if (c->ev != NULL) {
		if (on_home())
			reactor_fd_unregister(&c->ev);
		c->ev = NULL; /* off the home thread: its thread freed it */
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
		TAILQ_REMOVE(&g_rpc.conns, c, link);
		g_rpc.nconns--;
	}
	free(c->in);
	c->in = NULL;
	c->in_len = c->in_cap = 0;
	c->out_len = c->out_off = 0;
}

/* Write what is buffered. False if the peer is gone (the connection is closed). */
static bool conn_flush(struct rpc_conn *c)
{
	while (c->open && c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return true;
			conn_close(c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	return c->open;
}

static int conn_fd_cb(void *arg, uint32_t events);

/* Choose the events to watch, or close the connection when it is done. */
static void conn_update(struct rpc_conn *c)
{
	size_t out = c->out_len - c->out_off;
	size_t high = c->max_request > RPC_READ_CHUNK ? c->max_request : RPC_READ_CHUNK;
	uint32_t want = 0;

	if (!c->open || c->fd < 0)
		return;
	if (out == 0 && (c->fatal || (c->eof && c->pending == 0))) {
		conn_close(c);
		return;
	}
	/* Stop reading while a client does not read its answers. */
	if (!c->fatal && !c->eof && out < high)
		want |= REACTOR_FD_READ;
	if (out > 0)
		want |= REACTOR_FD_WRITE;
	if (want == c->events && (want == 0) == (c->ev == NULL))
		return;
	if (want == 0) {
		/* A half-closed socket stays readable (level-triggered hang-up):
		 * watch nothing while answers are pending. */
		reactor_fd_unregister(&c->ev);
	} else if (c->ev == NULL) {
		c->ev = reactor_fd_register(c->fd, want, conn_fd_cb, c, "rpc_conn");
		if (c->ev == NULL) {
			REACTOR_ERRLOG("rpc: cannot watch a connection: %s", strerror(errno));
			conn_close(c);
			return;
		}
	} else if (reactor_fd_set_events(c->ev, want) != 0) {
		conn_close(c);
		return;
	}
	c->events = want;
}

/* Queue one serialised response (a newline ends it). */
static void conn_send(struct rpc_conn *c, const json_t *resp)
{
	char *text;
	size_t len;

	if (!c->open)
		return;
	text = json_dumps(resp, JSON_COMPACT);
	if (text == NULL) {
		REACTOR_ERRLOG("rpc: cannot serialise a response (out of memory?)");
		return;
	}
	len = strlen(text);
	if (c->sink != NULL) {
		text[len] = '\n'; /* json_dumps' NUL becomes the newline */
		c->sink(text, len + 1, c->sink_ctx);
		free(text);
		return;
	}
	if (c->out_len + len + 1 > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *p;

		while (cap < c->out_len + len + 1)
			cap *= 2;
		p = realloc(c->out, cap);
		if (p == NULL) {
			REACTOR_ERRLOG("rpc: out of memory queueing a response; closing the connection");
			free(text);
			conn_close(c);
			return;
		}
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, text, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	free(text);
	conn_flush(c);
}

/* ---- responses ---------------------------------------------------------------- */

static void batch_put(struct rpc_batch *b)
{
	struct rpc_conn *c = b->conn;

	if (--b->pending > 0)
		return;
	if (json_array_size(b->responses) > 0)
		conn_send(c, b->responses);
	json_decref(b->responses);
	free(b);
	c->pending--;
	if (!c->busy)
		conn_update(c);
	conn_maybe_free(c);
}

static void request_free(struct reactor_rpc_request *req)
{
	json_decref(req->id);
	free(req);
}

/* Deliver @p resp (owned) for @p req and free the request. Home thread. */
static void request_complete(struct reactor_rpc_request *req, json_t *resp)
{
	struct rpc_conn *c = req->conn;

	TAILQ_REMOVE(&g_rpc.requests, req, link);
	if (req->local_cb != NULL) {
		req->local_cb(json_object_get(resp, "result"), json_object_get(resp, "error"),
			      req->local_ctx);
	} else if (req->batch != NULL) {
		if (!req->notification && req->batch->conn->open)
			json_array_append(req->batch->responses, resp);
		batch_put(req->batch);
	} else if (c != NULL) {
		if (!req->notification)
			conn_send(c, resp);
		c->pending--;
		if (!c->busy)
			conn_update(c);
		conn_maybe_free(c);
	}
	json_decref(resp);
	request_free(req);
}

static void handoff_msg(void *arg)
{
	struct reactor_rpc_request *req = arg;
	json_t *resp = req->handoff;

	req->handoff = NULL;
	request_complete(req, resp);
}

/* Send @p resp (owned) for @p req from any thread. */
static void request_answer(struct reactor_rpc_request *req, json_t *resp)
{
	uint64_t home;
	int rc;

	if (req == NULL) {
		json_decref(resp);
		return;
	}
	if (on_home()) {
		request_complete(req, resp);
		return;
	}
	/* Another thread: the home thread owns the connection; hand it over. */
	req->handoff = resp;
	home = atomic_load(&g_rpc.home_id);
	rc = home ? thread_send_by_id(home, handoff_msg, req) : -ESHUTDOWN;
	for (int tries = 0; rc == -EAGAIN && tries < 10000; tries++) {
		usleep(100);
		rc = thread_send_by_id(home, handoff_msg, req);
	}
	if (rc != 0) {
		/* The request itself is freed with the server (rpc_core_detach). */
		REACTOR_ERRLOG("rpc: the answer to '%s' is dropped: the app thread is gone",
			       req->method);
		req->handoff = NULL;
		json_decref(resp);
	}
}

static json_t *response_new(struct reactor_rpc_request *req)
{
	json_t *resp = json_object();

	if (resp != NULL) {
		json_object_set_new(resp, "jsonrpc", json_string("2.0"));
		json_object_set(resp, "id", req->id ? req->id : json_null());
	}
	return resp;
}

void reactor_rpc_send_result(struct reactor_rpc_request *req, json_t *result)
{
	json_t *resp;

	if (req == NULL) {
		json_decref(result);
		return;
	}
	resp = response_new(req);
	if (resp == NULL || json_object_set_new(resp, "result", result ? result : json_null()) != 0) {
		json_decref(resp);
		reactor_rpc_send_error(req, REACTOR_RPC_INTERNAL_ERROR, "Internal error: out of memory");
		return;
	}
	request_answer(req, resp);
}

void reactor_rpc_send_bool(struct reactor_rpc_request *req, bool value)
{
	reactor_rpc_send_result(req, json_boolean(value));
}

static REACTOR_PRINTF(3, 0) void send_errorv(struct reactor_rpc_request *req, int code,
					     const char *fmt, va_list ap)
{
	char msg[1024] = "error";
	json_t *resp, *err;

	if (req == NULL)
		return;
	if (fmt != NULL)
		vsnprintf(msg, sizeof(msg), fmt, ap);
	resp = response_new(req);
	err = json_object();
	if (resp == NULL || err == NULL) {
		json_decref(resp);
		json_decref(err);
		resp = NULL; /* still answer, so the request is freed */
	} else {
		json_object_set_new(err, "code", json_integer(code));
		json_object_set_new(err, "message", json_string(msg));
		json_object_set_new(resp, "error", err);
	}
	if (resp == NULL) {
		resp = json_object(); /* may be NULL: request_complete copes */
	}
	request_answer(req, resp);
}

void reactor_rpc_send_error(struct reactor_rpc_request *req, int code, const char *fmt, ...)
{
	va_list ap;

	if (req == NULL)
		return;
	va_start(ap, fmt);
	send_errorv(req, code, fmt, ap);
	va_end(ap);
}

static REACTOR_PRINTF(3, 4) void send_error(struct reactor_rpc_request *req, int code,
					    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	send_errorv(req, code, fmt, ap);
	va_end(ap);
}

/* ---- parameter decoding ----------------------------------------------------------- */

struct fmt_level {
	char kind; /* '{' or '[' */
	const char *key;
	size_t idx;
};

static void path_of(const struct fmt_level *st, int depth, bool with_top, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int d = 0; d < depth && off < len; d++) {
		if (!with_top && d == depth - 1)
			break;
		if (st[d].kind == '{' && st[d].key != NULL)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "." : "", st[d].key);
		else if (st[d].kind == '[')
			off += (size_t)snprintf(buf + off, len - off, "[%zu]", st[d].idx);
	}
}

/*
 * Which field an unpack error is about: walk @p fmt up to the error's
 * position, taking the keys from the same arguments json_unpack used.
 * @p value gets the path of the last value unpacked, @p container the path
 * of the object or array being unpacked at that point.
 */
static void fmt_error_paths(const char *fmt, int errpos, va_list ap, char *value, char *container,
			    size_t len)
{
	struct fmt_level st[16];
	char closed[256] = "";
	int depth = 0;
	bool want_key = false, last_close = false;

	value[0] = container[0] = '\0';
	for (int i = 0; fmt[i] != '\0' && i < errpos; i++) {
		char c = fmt[i];

		if (c == ' ' || c == '\t' || c == '\n' || c == ',' || c == ':')
			continue;
		last_close = false;
		if (depth > 0 && st[depth - 1].kind == '{' && want_key) {
			if (c == '!' || c == '*')
				continue;
			if (c == 's') {
				st[depth - 1].key = va_arg(ap, const char *);
				if (fmt[i + 1] == '?')
					i++;
				want_key = false;
				continue;
			}
			if (c != '}')
				return;
		}
		if (c == '}' || c == ']') {
			if (depth == 0)
				return;
			path_of(st, depth, false, closed, sizeof(closed));
			depth--;
			last_close = true;
		} else {
			path_of(st, depth, true, value, len);
			switch (c) {
			case '{':
			case '[':
				if (depth == (int)(sizeof(st) / sizeof(st[0])))
					return;
				st[depth].kind = c;
				st[depth].key = NULL;
				st[depth].idx = 0;
				depth++;
				want_key = c == '{';
				continue;
			case '!':
			case '*':
				continue;
			case 's':
				(void)va_arg(ap, const char **);
				if (fmt[i + 1] == '%') {
					(void)va_arg(ap, size_t *);
					i++;
				}
				break;
			case 'n':
				break;
			case 'b':
			case 'i':
				(void)va_arg(ap, int *);
				break;
			case 'I':
				(void)va_arg(ap, json_int_t *);
				break;
			case 'f':
			case 'F':
				(void)va_arg(ap, double *);
				break;
			case 'o':
			case 'O':
				(void)va_arg(ap, json_t **);
				break;
			default:
				return;
			}
		}
		/* a value (or a closed container) is done: on to the next key or item */
		if (depth > 0) {
			if (st[depth - 1].kind == '{')
				want_key = true;
			else
				st[depth - 1].idx++;
		}
	}
	if (last_close)
		snprintf(container, len, "%s", closed);
	else
		path_of(st, depth, false, container, len);
	/* inside an array the failing item is the one just counted */
	if (depth > 0 && st[depth - 1].kind == '[' && st[depth - 1].idx > 0 && !last_close) {
		st[depth - 1].idx--;
		path_of(st, depth, true, value, len);
	}
}

int reactor_rpc_decode_params(struct reactor_rpc_request *req, const json_t *params,
			      const char *fmt, ...)
{
	char value[256], container[256], msg[512];
	json_t *root = (json_t *)params, *empty = NULL;
	const char *text, *f;
	json_error_t err;
	va_list ap, walk;
	int rc;

	if (fmt == NULL) {
		send_error(req, REACTOR_RPC_INTERNAL_ERROR, "Internal error: no decoding format");
		return -EINVAL;
	}
	for (f = fmt; *f == ' ' || *f == '\t'; f++)
		;
	/* No params at all decodes like an empty object: optional fields work
	 * and a required one is named as missing. */
	if (root == NULL && *f == '{')
		root = empty = json_object();
	va_start(ap, fmt);
	va_copy(walk, ap);
	rc = json_vunpack_ex(root, &err, 0, fmt, ap);
	va_end(ap);
	json_decref(empty);
	if (rc == 0) {
		va_end(walk);
		return 0;
	}
	fmt_error_paths(fmt, err.position, walk, value, container, sizeof(value));
	va_end(walk);
	text = err.text;
	switch (json_error_code(&err)) {
	case json_error_item_not_found:
		if (strncmp(text, "Object item not found: ", 23) == 0)
			text += 23;
		snprintf(msg, sizeof(msg), "Invalid params: missing required field '%s%s%s'", container,
			 container[0] ? "." : "", text);
		break;
	case json_error_end_of_input_expected:
		/* strict mode: "N object item(s) left unpacked: a, b" */
		if (strstr(text, "object item") != NULL && strchr(text, ':') != NULL)
			snprintf(msg, sizeof(msg), "Invalid params: unexpected field(s) in %s:%s",
				 container[0] ? container : "params", strchr(text, ':') + 1);
		else
			snprintf(msg, sizeof(msg), "Invalid params: %s: %s",
				 container[0] ? container : "params", text);
		break;
	case json_error_wrong_type:
		/* "Expected string, got integer" */
		if (value[0] != '\0')
			snprintf(msg, sizeof(msg), "Invalid params: field '%s': %c%s", value,
				 text[0] == 'E' ? 'e' : text[0], text + 1);
		else
			snprintf(msg, sizeof(msg), "Invalid params: params: %c%s",
				 text[0] == 'E' ? 'e' : text[0], text + 1);
		break;
	default:
		snprintf(msg, sizeof(msg), "Invalid params: %s%s%s", value[0] ? value : "",
			 value[0] ? ": " : "", text);
		break;
	}
	send_error(req, REACTOR_RPC_INVALID_PARAMS, "%s", msg);
	return -EINVAL;
}

/* ---- requests and dispatch ---------------------------------------------------------- */

static struct reactor_rpc_request *request_new(struct rpc_conn *c, struct rpc_batch *b, json_t *id,
					       bool notification, const char *method)
{
	struct reactor_rpc_request *req = calloc(1, sizeof(*req));

	if (req == NULL)
		return NULL;
	req->conn = c;
	req->batch = b;
	req->id = json_incref(id ? id : json_null());
	req->notification = notification;
	snprintf(req->method, sizeof(req->method), "%s", method ? method : "");
	if (b != NULL)
		b->pending++;
	else if (c != NULL)
		c->pending++;
	TAILQ_INSERT_TAIL(&g_rpc.requests, req, link);
	return req;
}

static void dispatch(struct reactor_rpc_request *req, const char *name, const json_t *params)
{
	uint32_t mask = 0, state = reactor_rpc_get_state();
	reactor_rpc_method_fn fn = NULL;
	void *ctx = NULL;

	if (!method_lookup(name, &fn, &ctx, &mask)) {
		send_error(req, REACTOR_RPC_METHOD_NOT_FOUND, "Method not found: '%s'", name);
		return;
	}
	if ((mask & state) != state) {
		if (state == REACTOR_RPC_STARTUP)
			send_error(req, REACTOR_RPC_INVALID_STATE,
				   "Method '%s' is not allowed in state STARTUP: it may only be called "
				   "after initialisation (framework_start_init)", name);
		else
			send_error(req, REACTOR_RPC_INVALID_STATE,
				   "Method '%s' is not allowed in state %s: it may only be called "
				   "before initialisation (start the app with --wait-for-rpc)",
				   name, rpc_state_name(state));
		return;
	}
	fn(req, params, ctx);
}

/* An error for a request that could not be dispatched, with @p id or null. */
static REACTOR_PRINTF(5, 6) void reject(struct rpc_conn *c, struct rpc_batch *b, json_t *id, int code,
					const char *fmt, ...)
{
	struct reactor_rpc_request *req = request_new(c, b, id, false, NULL);
	va_list ap;

	if (req == NULL)
		return;
	va_start(ap, fmt);
	send_errorv(req, code, fmt, ap);
	va_end(ap);
}

/* One request object (alone or in a batch). */
static void process_request(struct rpc_conn *c, struct rpc_batch *b, json_t *obj)
{
	json_t *version, *method, *params, *id, *v;
	struct reactor_rpc_request *req;
	const char *key;

	if (!json_is_object(obj)) {
		reject(c, b, NULL, REACTOR_RPC_INVALID_REQUEST,
		       "Invalid request: a request must be a JSON object");
		return;
	}
	id = json_object_get(obj, "id");
	/* An id of a wrong type is not echoed back. */
	if (id != NULL && !json_is_string(id) && !json_is_number(id) && !json_is_null(id)) {
		reject(c, b, NULL, REACTOR_RPC_INVALID_REQUEST,
		       "Invalid request: 'id' must be a string, a number or null");
		return;
	}
	json_object_foreach(obj, key, v) {
		if (strcmp(key, "jsonrpc") != 0 && strcmp(key, "method") != 0 &&
		    strcmp(key, "params") != 0 && strcmp(key, "id") != 0) {
			reject(c, b, id, REACTOR_RPC_INVALID_REQUEST,
			       "Invalid request: unexpected member '%.64s'", key);
			return;
		}
	}
	version = json_object_get(obj, "jsonrpc");
	if (!json_is_string(version) || strcmp(json_string_value(version), "2.0") != 0) {
		reject(c, b, id, REACTOR_RPC_INVALID_REQUEST,
		       "Invalid request: 'jsonrpc' must be \"2.0\"");
		return;
	}
	method = json_object_get(obj, "method");
	if (!json_is_string(method)) {
		reject(c, b, id, REACTOR_RPC_INVALID_REQUEST,
		       "Invalid request: 'method' must be a string");
		return;
	}
	if (json_string_length(method) >= RPC_METHOD_NAME_MAX ||
	    strlen(json_string_value(method)) != json_string_length(method)) {
		reject(c, b, id, REACTOR_RPC_METHOD_NOT_FOUND, "Method not found: '%.64s...'",
		       json_string_value(method));
		return;
	}
	params = json_object_get(obj, "params");
	if (params != NULL && !json_is_object(params) && !json_is_array(params)) {
		reject(c, b, id, REACTOR_RPC_INVALID_REQUEST,
		       "Invalid request: 'params' must be an object or an array");
		return;
	}
	req = request_new(c, b, id, id == NULL, json_string_value(method));
	if (req == NULL) {
		REACTOR_ERRLOG("rpc: out of memory for a request");
		return;
	}
	dispatch(req, json_string_value(method), params);
}

/* One complete top-level JSON text. */
static void process_value(struct rpc_conn *c, const char *text, size_t len)
{
	json_error_t err;
	json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);

	if (v == NULL) {
		reject(c, NULL, NULL, REACTOR_RPC_PARSE_ERROR, "Parse error: %s (line %d, column %d)",
		       err.text, err.line, err.column);
		return;
	}
	if (json_is_array(v)) {
		struct rpc_batch *b;
		size_t i;
		json_t *e;

		if (json_array_size(v) == 0) {
			reject(c, NULL, NULL, REACTOR_RPC_INVALID_REQUEST,
			       "Invalid request: empty batch");
			json_decref(v);
			return;
		}
		b = calloc(1, sizeof(*b));
		if (b == NULL || (b->responses = json_array()) == NULL) {
			free(b);
			REACTOR_ERRLOG("rpc: out of memory for a batch");
			json_decref(v);
			return;
		}
		b->conn = c;
		b->pending = 1; /* held until every member is dispatched */
		c->pending++;
		json_array_foreach(v, i, e)
			process_request(c, b, e);
		batch_put(b);
	} else if (json_is_object(v)) {
		process_request(c, NULL, v);
	} else {
		reject(c, NULL, NULL, REACTOR_RPC_INVALID_REQUEST,
		       "Invalid request: a request must be a JSON object or array");
	}
	json_decref(v);
}

static void fatal_error(struct rpc_conn *c, int code, const char *msg)
{
	reject(c, NULL, NULL, code, "%s", msg);
	c->fatal = true;
	c->in_len = c->val_start = c->scan = 0;
}

/*
 * Find and process every complete value in the input. The scanner counts
 * brackets outside strings; jansson then parses the value, so malformed
 * JSON between balanced brackets is still a -32700 for that request only.
 */
static void conn_process_input(struct rpc_conn *c)
{
	while (c->open && !c->fatal && c->scan < c->in_len) {
		char ch = c->in[c->scan];

		if (!c->started) {
			if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
				c->scan++;
				c->val_start = c->scan;
				continue;
			}
			if (ch != '{' && ch != '[' && ch != '"') {
				/* No way to find where such a value ends in a stream. */
				fatal_error(c, REACTOR_RPC_PARSE_ERROR,
					    "Parse error: a request must be a JSON object or array");
				break;
			}
			c->started = true;
			c->depth = 0;
			c->in_str = false;
			c->esc = false;
		}
		c->scan++;
		if (c->in_str) {
			if (c->esc)
				c->esc = false;
			else if (ch == '\\')
				c->esc = true;
			else if (ch == '"')
				c->in_str = false;
		} else if (ch == '"') {
			c->in_str = true;
		} else if (ch == '{' || ch == '[') {
			c->depth++;
		} else if (ch == '}' || ch == ']') {
			c->depth--;
		}
		if (c->scan - c->val_start > c->max_request) {
			char msg[128];

			snprintf(msg, sizeof(msg), "Parse error: request larger than %u bytes",
				 c->max_request);
			fatal_error(c, REACTOR_RPC_PARSE_ERROR, msg);
			break;
		}
		if (c->depth == 0 && !c->in_str) {
			size_t start = c->val_start;

			c->started = false;
			c->val_start = c->scan;
			process_value(c, c->in + start, c->scan - start);
		}
	}
	if (c->val_start > 0 && c->in != NULL) {
		/* One move per read, not per request. */
		memmove(c->in, c->in + c->val_start, c->in_len - c->val_start);
		c->in_len -= c->val_start;
		c->scan -= c->val_start;
		c->val_start = 0;
	}
}

/* Append bytes as if read from the socket. */
static bool conn_feed(struct rpc_conn *c, const char *data, size_t n)
{
	if (c->in_len + n > c->in_cap) {
		size_t cap = c->in_cap ? c->in_cap : 4096;
		char *p;

		while (cap < c->in_len + n)
			cap *= 2;
		p = realloc(c->in, cap);
		if (p == NULL)
			return false;
		c->in = p;
		c->in_cap = cap;
	}
	memcpy(c->in + c->in_len, data, n);
	c->in_len += n;
	conn_process_input(c);
	return true;
}

static void conn_read(struct rpc_conn *c)
{
	ssize_t n;

	if (c->in_cap - c->in_len < RPC_READ_CHUNK) {
		size_t cap = c->in_cap ? c->in_cap : RPC_READ_CHUNK;
		char *p;

		while (cap - c->in_len < RPC_READ_CHUNK)
			cap *= 2;
		p = realloc(c->in, cap);
		if (p == NULL) {
			REACTOR_ERRLOG("rpc: out of memory reading a request; closing the connection");
			conn_close(c);
			return;
		}
		c->in = p;
		c->in_cap = cap;
	}
	n = recv(c->fd, c->in + c->in_len, RPC_READ_CHUNK, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		c->eof = true; /* reset: answers still pending are dropped by send */
		return;
	}
	if (n == 0) {
		c->eof = true; /* a partial request left in the buffer is discarded */
		return;
	}
	c->in_len += (size_t)n;
	conn_process_input(c);
}

static int conn_fd_cb(void *arg, uint32_t events)
{
	struct rpc_conn *c = arg;

	c->busy = true;
	if (c->out_off < c->out_len && (events & (REACTOR_FD_WRITE | REACTOR_FD_ERROR | REACTOR_FD_HUP))) {
		size_t before = c->out_off;

		/* After the peer hung up, a write that cannot progress ends it. */
		if (conn_flush(c) && c->eof && c->out_off == before && c->out_off < c->out_len)
			conn_close(c);
	}
	if (c->open && !c->eof && !c->fatal && (events & (REACTOR_FD_READ | REACTOR_FD_HUP | REACTOR_FD_ERROR)))
		conn_read(c);
	c->busy = false;
	conn_update(c);
	conn_maybe_free(c);
	return REACTOR_POLLER_BUSY;
}

static struct rpc_conn *conn_new(int fd, uint32_t max_request)
{
	struct rpc_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->fd = fd;
	c->open = true;
	c->max_request = max_request;
	return c;
}

/* ---- local calls ---------------------------------------------------------------------- */

void rpc_call_local(const char *method, const json_t *params, rpc_local_cb cb, void *ctx)
{
	struct reactor_rpc_request *req = request_new(NULL, NULL, NULL, false, method);
	json_t *err;

	if (req == NULL) {
		err = json_pack("{s:i, s:s}", "code", REACTOR_RPC_INTERNAL_ERROR, "message",
				"Internal error: out of memory");
		cb(NULL, err, ctx);
		json_decref(err);
		return;
	}
	req->local_cb = cb;
	req->local_ctx = ctx;
	if (params != NULL && !json_is_object(params) && !json_is_array(params)) {
		send_error(req, REACTOR_RPC_INVALID_REQUEST,
			   "Invalid request: 'params' must be an object or an array");
		return;
	}
	dispatch(req, method, params);
}

/* ---- the socket ------------------------------------------------------------------------- */

static int listen_cb(void *arg, uint32_t events);

static int accept_retry_poller(void *arg)
{
	(void)arg;
	reactor_poller_unregister(&g_rpc.accept_retry);
	if (g_rpc.listen_fd >= 0 && g_rpc.listen_ev == NULL)
		g_rpc.listen_ev = reactor_fd_register(g_rpc.listen_fd, REACTOR_FD_READ, listen_cb, NULL,
						      "rpc_listen");
	return REACTOR_POLLER_BUSY;
}

static int listen_cb(void *arg, uint32_t events)
{
	(void)arg;
	(void)events;
	for (uint32_t i = 0; i < RPC_ACCEPT_BATCH; i++) {
		struct rpc_conn *c;
		int fd = accept4(g_rpc.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			/* Out of fds or memory: pause accepting instead of spinning. */
			REACTOR_ERRLOG("rpc: accept on %s failed: %s; retrying in %u ms", g_rpc.path,
				       strerror(errno), RPC_ACCEPT_RETRY_US / 1000u);
			reactor_fd_unregister(&g_rpc.listen_ev);
			g_rpc.accept_retry = reactor_poller_register_named(accept_retry_poller, NULL,
									  RPC_ACCEPT_RETRY_US,
									  "rpc_accept_retry");
			break;
		}
		if (g_rpc.nconns >= RPC_MAX_CONNS) {
			if (!g_rpc.conns_full_logged)
				REACTOR_WARNLOG("rpc: %u clients connected; refusing more",
						RPC_MAX_CONNS);
			g_rpc.conns_full_logged = true;
			close(fd);
			continue;
		}
		g_rpc.conns_full_logged = false;
		c = conn_new(fd, g_rpc.max_request);
		if (c == NULL) {
			close(fd);
			continue;
		}
		TAILQ_INSERT_TAIL(&g_rpc.conns, c, link);
		g_rpc.nconns++;
		conn_update(c);
	}
	return REACTOR_POLLER_BUSY;
}

int rpc_server_listen(const char *path, uint32_t mode, int32_t gid, uint32_t max_request)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old_mask;
	int rc, fd = -1;

	if (g_rpc.listen_fd >= 0)
		return -EALREADY;
	if (path == NULL || path[0] == '\0') {
		REACTOR_ERRLOG("rpc: the RPC socket path is empty");
		return -EINVAL;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		REACTOR_ERRLOG("rpc: RPC socket path '%s' is too long: %zu bytes, a Unix socket path "
			       "has at most %zu", path, strlen(path), sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	snprintf(g_rpc.path, sizeof(g_rpc.path), "%s", path);
	snprintf(g_rpc.lock_path, sizeof(g_rpc.lock_path), "%s.lock", path);

	/* The lock file says whether a live process serves this path. */
	g_rpc.lock_fd = open(g_rpc.lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (g_rpc.lock_fd < 0) {
		rc = -errno;
		REACTOR_ERRLOG("rpc: cannot open the lock file %s: %s", g_rpc.lock_path, strerror(errno));
		return rc;
	}
	if (flock(g_rpc.lock_fd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? -EADDRINUSE : -errno;
		REACTOR_ERRLOG("rpc: RPC socket %s is in use by another process (it holds %s)", path,
			       g_rpc.lock_path);
		close(g_rpc.lock_fd);
		g_rpc.lock_fd = -1;
		return rc;
	}
	if (lstat(path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			REACTOR_ERRLOG("rpc: %s exists and is not a socket; not replacing it", path);
			rc = -EEXIST;
			goto fail_unlock;
		}
		/* A server that takes no lock may still answer there. */
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (probe >= 0) {
			int crc = connect(probe, (struct sockaddr *)&sa, sizeof(sa));
			int e = errno;

			close(probe);
			if (crc == 0 || (e != ECONNREFUSED && e != ENOENT)) {
				REACTOR_ERRLOG("rpc: RPC socket %s is in use: %s", path,
					       crc == 0 ? "a server answers on it" : strerror(e));
				rc = -EADDRINUSE;
				goto fail_unlock;
			}
		}
		if (unlink(path) != 0 && errno != ENOENT) {
			rc = -errno;
			REACTOR_ERRLOG("rpc: cannot remove the stale RPC socket %s: %s", path,
				       strerror(errno));
			goto fail_unlock;
		}
		REACTOR_NOTICELOG("rpc: replaced the stale RPC socket %s", path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		REACTOR_ERRLOG("rpc: cannot create a socket: %s", strerror(errno));
		goto fail_unlock;
	}
	/* bind() creates the file under the umask: make it owner-only, so it
	 * never exists with wider permissions than asked. Restoring the mask
	 * at once can only make a concurrent file creation more restrictive. */
	old_mask = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_mask);
	if (rc != 0) {
		rc = -errno;
		REACTOR_ERRLOG("rpc: cannot bind the RPC socket %s: %s", path, strerror(errno));
		goto fail_close;
	}
	if (lstat(path, &st) == 0) {
		g_rpc.sock_ino = st.st_ino;
		g_rpc.sock_dev = st.st_dev;
	}
	if (gid >= 0 && chown(path, (uid_t)-1, (gid_t)gid) != 0) {
		rc = -errno;
		REACTOR_ERRLOG("rpc: cannot give the RPC socket %s to group %d: %s", path, (int)gid,
			       strerror(errno));
		goto fail_unlink;
	}
	if (chmod(path, (mode_t)mode) != 0) {
		rc = -errno;
		REACTOR_ERRLOG("rpc: cannot set mode %04o on the RPC socket %s: %s", (unsigned)mode,
			       path, strerror(errno));
		goto fail_unlink;
	}
	if (listen(fd, 64) != 0) {
		rc = -errno;
		REACTOR_ERRLOG("rpc: cannot listen on %s: %s", path, strerror(errno));
		goto fail_unlink;
	}
	g_rpc.listen_fd = fd;
	g_rpc.max_request = max_request;
	REACTOR_INFOLOG("rpc: listening on %s", path);
	return 0;

fail_unlink:
	unlink(path);
fail_close:
	close(fd);
fail_unlock:
	unlink(g_rpc.lock_path);
	close(g_rpc.lock_fd);
	g_rpc.lock_fd = -1;
	return rc;
}

int rpc_server_start(void)
{
	if (g_rpc.listen_fd < 0)
		return 0;
	g_rpc.listen_ev = reactor_fd_register(g_rpc.listen_fd, REACTOR_FD_READ, listen_cb, NULL,
					      "rpc_listen");
	if (g_rpc.listen_ev == NULL) {
		int rc = -errno;

		REACTOR_ERRLOG("rpc: cannot watch the RPC socket: %s", strerror(errno));
		return rc;
	}
	return 0;
}

void rpc_server_stop(void)
{
	struct rpc_conn *c;
	struct stat st;

	while ((c = TAILQ_FIRST(&g_rpc.conns)) != NULL) {
		c->busy = true; /* conn_close must not free it under us */
		conn_close(c);
		c->busy = false;
		conn_maybe_free(c);
	}
	if (on_home()) {
		reactor_fd_unregister(&g_rpc.listen_ev);
		reactor_poller_unregister(&g_rpc.accept_retry);
	}
	g_rpc.listen_ev = NULL; /* otherwise its thread freed it */
	g_rpc.accept_retry = NULL;
	if (g_rpc.listen_fd >= 0) {
		close(g_rpc.listen_fd);
		g_rpc.listen_fd = -1;
		/* Remove the socket only if it is still the one we created. */
		if (lstat(g_rpc.path, &st) == 0 && st.st_ino == g_rpc.sock_ino &&
		    st.st_dev == g_rpc.sock_dev)
			unlink(g_rpc.path);
	}
	if (g_rpc.lock_fd >= 0) {
		unlink(g_rpc.lock_path);
		close(g_rpc.lock_fd);
		g_rpc.lock_fd = -1;
	}
}

/* ---- the home thread ---------------------------------------------------------------------- */

void rpc_core_attach(struct reactor_thread *home)
{
	atomic_store(&g_rpc.home, home);
	atomic_store(&g_rpc.home_id, reactor_thread_get_id(home));
	rpc_set_state(REACTOR_RPC_STARTUP);
}

void rpc_core_detach(void)
{
	struct reactor_rpc_request *req;

	rpc_server_stop();
	/* Requests never answered: free them with their connections. */
	while ((req = TAILQ_FIRST(&g_rpc.requests)) != NULL) {
		struct rpc_conn *c = req->batch ? req->batch->conn : req->conn;

		REACTOR_WARNLOG("rpc: request '%s' was never answered", req->method);
		TAILQ_REMOVE(&g_rpc.requests, req, link);
		json_decref(req->handoff);
		if (req->batch != NULL) {
			if (--req->batch->pending == 0) {
				json_decref(req->batch->responses);
				free(req->batch);
				c->pending--;
			}
		} else if (c != NULL) {
			c->pending--;
		}
		if (c != NULL)
			conn_maybe_free(c);
		request_free(req);
	}
	atomic_store(&g_rpc.home, NULL);
	atomic_store(&g_rpc.home_id, 0);
	rpc_set_state(REACTOR_RPC_STARTUP);
}

size_t rpc_process_buffer(const uint8_t *data, size_t len, size_t chunk, uint32_t max_request,
			  void (*out)(const char *buf, size_t len, void *ctx), void *ctx,
			  uint32_t max_polls)
{
	struct rpc_conn *c;
	size_t left;

	if (!on_home())
		return 0;
	c = conn_new(-1, max_request ? max_request : RPC_DEFAULT_MAX_REQUEST);
	if (c == NULL)
		return 0;
	c->sink = out;
	c->sink_ctx = ctx;
	c->busy = true;
	if (chunk == 0)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len && !c->fatal; off += chunk)
		if (!conn_feed(c, (const char *)data + off, len - off < chunk ? len - off : chunk))
			break;
	for (uint32_t i = 0; i < max_polls && c->pending > 0; i++)
		reactor_thread_poll(atomic_load(&g_rpc.home), 0);
	left = c->pending;
	c->busy = false;
	c->open = false; /* answers still to come are dropped */
	conn_maybe_free(c);
	return left;
}
