/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * reactorctl: call the JSON-RPC 2.0 methods of a libreactor program over its
 * Unix socket, print results as indented JSON, save and replay configs.
 *
 *   reactorctl [-s SOCKET] [-t SECONDS] [-v] METHOD [NAME=VALUE ...] [-j JSON]
 *   reactorctl [-s SOCKET] [-t SECONDS] save-config [-o FILE]
 *   reactorctl [-s SOCKET] [-t SECONDS] load-config FILE
 *
 * Exit status: 0 success, 1 the server answered with an error (or an
 * invalid response), 2 usage or input error, 3 cannot connect or the
 * connection was lost, 4 timeout. See man/reactorctl.1.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/nvmf-tgtd/rpc.sock"
#define SOCKET_ENV "REACTOR_RPC_SOCKET"
#define DEFAULT_TIMEOUT_MS 60000
#define HELP_TIMEOUT_MS 5000 /* --help must not hang on a wedged server */
#define MAX_RESPONSE (256u << 20)

enum {
	EX_OK = 0,
	EX_SERVER = 1,  /* error response, invalid response, failed config call */
	EX_USAGE = 2,   /* bad arguments, bad -j JSON, unreadable or malformed file */
	EX_CONNECT = 3, /* cannot connect, or the connection was lost */
	EX_TIMEOUT = 4,
};

struct client {
	const char *path;
	int fd;
	int timeout_ms; /* per call: connect + send + receive */
	bool verbose;
	json_int_t next_id;
	char *buf; /* received bytes not yet consumed */
	size_t len;
	size_t cap;
};

static const char *prog = "reactorctl";

static void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void errmsg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- connection --------------------------------------------------------- */

static int client_connect(struct client *c)
{
	struct sockaddr_un sa;
	struct timeval tv;
	int fd;

	if (c->fd >= 0)
		return EX_OK;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(c->path) >= sizeof(sa.sun_path)) {
		errmsg("cannot connect to %s: %s (%zu bytes, at most %zu)", c->path,
		       strerror(ENAMETOOLONG), strlen(c->path), sizeof(sa.sun_path) - 1);
		return EX_CONNECT;
	}
	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		errmsg("cannot create a socket: %s", strerror(errno));
		return EX_CONNECT;
	}
	/* A Unix connect() blocks only while the listen backlog is full; bound it. */
	tv.tv_sec = c->timeout_ms / 1000;
	tv.tv_usec = (c->timeout_ms % 1000) * 1000;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;

		if (e == EINTR)
			continue;
		close(fd);
		if (e == EAGAIN || e == EINPROGRESS) {
			errmsg("timed out after %.3g s connecting to %s", c->timeout_ms / 1000.0,
			       c->path);
			return EX_TIMEOUT;
		}
		errmsg("cannot connect to %s: %s%s", c->path, strerror(e),
		       e == ENOENT || e == ECONNREFUSED
			       ? " (is the server running? set the socket with -s or " SOCKET_ENV ")"
			       : "");
		return EX_CONNECT;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
		errmsg("cannot make the socket non-blocking: %s", strerror(errno));
		close(fd);
		return EX_CONNECT;
	}
	c->fd = fd;
	return EX_OK;
}

static void client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
}

/* Wait until the socket is ready for @p events or the deadline passes. */
static int wait_fd(struct client *c, short events, int64_t deadline, const char *method)
{
	struct pollfd pfd = {.fd = c->fd, .events = events};

	for (;;) {
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0) {
			errmsg("%s: timed out after %.3g s waiting for %s", method,
			       c->timeout_ms / 1000.0, c->path);
			return EX_TIMEOUT;
		}
		n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return EX_OK;
		if (n < 0 && errno != EINTR) {
			errmsg("poll: %s", strerror(errno));
			return EX_CONNECT;
		}
	}
}

static int send_all(struct client *c, const char *data, size_t len, int64_t deadline,
		    const char *method)
{
	while (len > 0) {
		ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
		int rc;

		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			rc = wait_fd(c, POLLOUT, deadline, method);
			if (rc != EX_OK)
				return rc;
			continue;
		}
		errmsg("%s: connection to %s lost while sending: %s", method, c->path,
		       strerror(n < 0 ? errno : EPIPE));
		return EX_CONNECT;
	}
	return EX_OK;
}

/*
 * Try to take one complete JSON value off the front of the buffer.
 * Returns 1 with *out set, 0 when more bytes are needed, -1 when the bytes
 * can never become valid JSON. A response may arrive in any number of pieces,
 * so an error at the very end of the data (a cut literal, number or UTF-8
 * sequence) means "incomplete", not "invalid".
 */
static int take_value(struct client *c, json_t **out, json_error_t *jerr)
{
	size_t off = 0;
	json_t *v;

	while (off < c->len && strchr(" \t\r\n", c->buf[off]) != NULL)
		off++;
	if (off == c->len) {
		c->len = 0;
		return 0;
	}
	v = json_loadb(c->buf + off, c->len - off, JSON_DISABLE_EOF_CHECK, jerr);
	if (v == NULL) {
		size_t avail = c->len - off;
		size_t pos = jerr->position < 0 ? 0 : (size_t)jerr->position;

		if (json_error_code(jerr) == json_error_premature_end_of_input || pos >= avail ||
		    (json_error_code(jerr) == json_error_invalid_utf8 && avail - pos < 4))
			return 0;
		return -1;
	}
	off += (size_t)jerr->position;
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
	*out = v;
	return 1;
}

static int recv_value(struct client *c, json_t **out, int64_t deadline, const char *method)
{
	json_error_t jerr;

	for (;;) {
		ssize_t n;
		int rc = take_value(c, out, &jerr);

		if (rc > 0)
			return EX_OK;
		if (rc < 0) {
			errmsg("%s: invalid JSON from %s: %s (line %d, column %d)", method, c->path,
			       jerr.text, jerr.line, jerr.column);
			return EX_SERVER;
		}
		if (c->cap - c->len < 4096) {
			size_t cap = c->cap ? c->cap * 2 : 65536;
			char *b;

			if (cap > MAX_RESPONSE) {
				errmsg("%s: response from %s larger than %u MiB", method, c->path,
				       MAX_RESPONSE >> 20);
				return EX_SERVER;
			}
			b = realloc(c->buf, cap);
			if (b == NULL) {
				errmsg("out of memory");
				return EX_SERVER;
			}
			c->buf = b;
			c->cap = cap;
		}
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		if (n == 0) {
			if (c->len > 0)
				errmsg("%s: %s closed the connection in the middle of a response "
				       "(%zu bytes received)",
				       method, c->path, c->len);
			else
				errmsg("%s: %s closed the connection without responding", method,
				       c->path);
			client_close(c);
			return EX_CONNECT;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			rc = wait_fd(c, POLLIN, deadline, method);
			if (rc != EX_OK)
				return rc;
			continue;
		}
		errmsg("%s: connection to %s lost: %s", method, c->path, strerror(errno));
		client_close(c);
		return EX_CONNECT;
	}
}

/*
 * Call @p method with @p params (borrowed; NULL: no params). On success
 * returns EX_OK with *result (new reference). When the server answers with
 * an error, returns EX_SERVER with *error (new reference, a JSON-RPC error
 * object) and prints nothing: the caller adds its context. Every other
 * failure is printed here and *error stays NULL.
 */
static int rpc_call(struct client *c, const char *method, json_t *params, json_t **result,
		    json_t **error)
{
	int64_t deadline = now_ms() + c->timeout_ms;
	json_int_t id = c->next_id++;
	json_t *req, *resp = NULL, *rid, *error_obj;
	char *text;
	int rc;

	*result = NULL;
	*error = NULL;
	rc = client_connect(c);
	if (rc != EX_OK)
		return rc;
	req = json_pack("{s:s, s:s, s:I}", "jsonrpc", "2.0", "method", method, "id", id);
	if (req == NULL || (params != NULL && json_object_set(req, "params", params) != 0)) {
		json_decref(req);
		errmsg("out of memory");
		return EX_SERVER;
	}
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (text == NULL) {
		errmsg("%s: cannot encode the request", method);
		return EX_SERVER;
	}
	if (c->verbose)
		fprintf(stderr, "> %s\n", text);
	rc = send_all(c, text, strlen(text), deadline, method);
	free(text);
	if (rc != EX_OK) {
		client_close(c);
		return rc;
	}
	rc = recv_value(c, &resp, deadline, method);
	if (rc != EX_OK) {
		client_close(c);
		return rc;
	}
	if (c->verbose) {
		text = json_dumps(resp, JSON_COMPACT | JSON_ENCODE_ANY);
		fprintf(stderr, "< %s\n", text ? text : "?");
		free(text);
	}

	/* An error to a request the server could not read carries id null. */
	rid = json_object_get(resp, "id");
	error_obj = json_object_get(resp, "error");
	if (!json_is_object(resp) ||
	    (json_object_get(resp, "result") == NULL) == (error_obj == NULL)) {
		errmsg("%s: invalid response from %s: not a JSON-RPC 2.0 response object", method,
		       c->path);
		rc = EX_SERVER;
	} else if (!(json_is_integer(rid) && json_integer_value(rid) == id) &&
		   !(error_obj != NULL && json_is_null(rid))) {
		errmsg("%s: invalid response from %s: id does not match the request's (%lld)",
		       method, c->path, (long long)id);
		rc = EX_SERVER;
	} else if (error_obj != NULL && !json_is_object(error_obj)) {
		errmsg("%s: invalid response from %s: \"error\" is not an object", method,
		       c->path);
		rc = EX_SERVER;
	} else if (error_obj != NULL) {
		*error = json_incref(error_obj);
		rc = EX_SERVER;
	} else {
		*result = json_incref(json_object_get(resp, "result"));
	}
	/* After a protocol failure the stream cannot be trusted for another call. */
	if (rc != EX_OK && *error == NULL)
		client_close(c);
	json_decref(resp);
	return rc;
}

/* "MESSAGE (code N)" of a JSON-RPC error object, printed after @p prefix. */
static void print_rpc_error(const char *prefix, const json_t *error)
{
	const json_t *code = json_object_get(error, "code");
	const json_t *msg = json_object_get(error, "message");
	const json_t *data = json_object_get(error, "data");

	fprintf(stderr, "%s: %s: %s (code %lld)\n", prog, prefix,
		json_is_string(msg) ? json_string_value(msg) : "(no message)",
		json_is_integer(code) ? (long long)json_integer_value(code) : 0LL);
	if (data != NULL) {
		char *text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);

		fprintf(stderr, "%s: %s: data: %s\n", prog, prefix, text ? text : "?");
		free(text);
	}
}

static int print_json(FILE *out, const json_t *v)
{
	char *text = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);

	if (text == NULL) {
		errmsg("cannot encode the result");
		return EX_SERVER;
	}
	fprintf(out, "%s\n", text);
	free(text);
	return EX_OK;
}

/* ---- parameters ---------------------------------------------------------- */

/* Set @p value (stolen) at dotted @p name (modified) inside object @p obj. */
static int params_set(json_t *obj, char *name, json_t *value, const char *full)
{
	char *dot = strchr(name, '.');
	json_t *child;

	if (dot != NULL)
		*dot = '\0';
	if (*name == '\0') {
		errmsg("'%s': empty parameter name", full);
		json_decref(value);
		return EX_USAGE;
	}
	child = json_object_get(obj, name);
	if (dot == NULL) {
		if (child != NULL) {
			errmsg("parameter '%s' is given more than once (with -j or NAME=VALUE)",
			       full);
			json_decref(value);
			return EX_USAGE;
		}
		json_object_set_new(obj, name, value);
		return EX_OK;
	}
	if (child == NULL) {
		child = json_object();
		json_object_set_new(obj, name, child);
	} else if (!json_is_object(child)) {
		errmsg("parameter '%s' conflicts with '%s', which is not an object", full, name);
		json_decref(value);
		return EX_USAGE;
	}
	return params_set(child, dot + 1, value, full);
}

/* Add NAME=VALUE to @p params; VALUE is JSON if it parses, else a string. */
static int params_add_pair(json_t *params, const char *pair)
{
	const char *eq = strchr(pair, '=');
	json_t *value;
	char *name, *full;
	int rc;

	if (eq == NULL) {
		errmsg("'%s': expected NAME=VALUE", pair);
		return EX_USAGE;
	}
	if (!json_is_object(params)) {
		errmsg("'%s': NAME=VALUE cannot be combined with a -j array", pair);
		return EX_USAGE;
	}
	value = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
	if (value == NULL)
		value = json_string(eq + 1);
	if (value == NULL) {
		errmsg("'%s': the value is not valid UTF-8", pair);
		return EX_USAGE;
	}
	name = strndup(pair, (size_t)(eq - pair));
	full = strndup(pair, (size_t)(eq - pair));
	if (name == NULL || full == NULL) {
		free(name);
		free(full);
		json_decref(value);
		errmsg("out of memory");
		return EX_USAGE;
	}
	rc = params_set(params, name, value, full);
	free(name);
	free(full);
	return rc;
}

/* Parse -j's argument ("-": standard input) as a params object or array. */
static int params_from_json(const char *arg, json_t **out)
{
	json_error_t jerr;
	json_t *v;

	/* Any value parses, so that a scalar gets the clearer message below. */
	if (strcmp(arg, "-") == 0)
		v = json_loadf(stdin, JSON_DECODE_ANY, &jerr);
	else
		v = json_loads(arg, JSON_DECODE_ANY, &jerr);
	if (v == NULL) {
		errmsg("-j: invalid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
		       jerr.column);
		return EX_USAGE;
	}
	if (!json_is_object(v) && !json_is_array(v)) {
		json_decref(v);
		errmsg("-j: params must be a JSON object or array");
		return EX_USAGE;
	}
	*out = v;
	return EX_OK;
}

/* ---- commands ------------------------------------------------------------- */

static int cmd_call(struct client *c, const char *method, json_t *params)
{
	json_t *result, *error;
	int rc = rpc_call(c, method, params, &result, &error);

	if (error != NULL) {
		print_rpc_error(method, error);
		json_decref(error);
		return rc;
	}
	if (rc != EX_OK)
		return rc;
	rc = print_json(stdout, result);
	json_decref(result);
	if (fflush(stdout) != 0) {
		errmsg("cannot write the result: %s", strerror(errno));
		return EX_USAGE;
	}
	return rc;
}

static int cmd_save_config(struct client *c, const char *file)
{
	json_t *result, *error;
	char *tmp = NULL;
	FILE *out = stdout;
	struct stat st;
	int fd = -1;
	int rc = rpc_call(c, "save_config", NULL, &result, &error);

	if (error != NULL) {
		print_rpc_error("save_config", error);
		json_decref(error);
		return rc;
	}
	if (rc != EX_OK)
		return rc;
	if (!json_is_object(result)) {
		errmsg("save_config: the server returned no config object");
		json_decref(result);
		return EX_SERVER;
	}
	/* Write next to the target and rename, so a failure leaves the old file. */
	if (file != NULL && strcmp(file, "-") != 0) {
		if (asprintf(&tmp, "%s.tmp.%ld", file, (long)getpid()) < 0) {
			json_decref(result);
			errmsg("out of memory");
			return EX_USAGE;
		}
		/* Exclusive create; an existing file keeps its mode across the rename. */
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd >= 0 && stat(file, &st) == 0)
			(void)fchmod(fd, st.st_mode & 07777);
		out = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (out == NULL) {
			errmsg("%s: %s", tmp, strerror(errno));
			if (fd >= 0) {
				close(fd);
				unlink(tmp);
			}
			free(tmp);
			json_decref(result);
			return EX_USAGE;
		}
	}
	rc = print_json(out, result);
	json_decref(result);
	if (out != stdout) {
		if (fclose(out) != 0 && rc == EX_OK) {
			errmsg("%s: %s", tmp, strerror(errno));
			rc = EX_USAGE;
		}
		if (rc == EX_OK && rename(tmp, file) != 0) {
			errmsg("%s: %s", file, strerror(errno));
			rc = EX_USAGE;
		}
		if (rc != EX_OK)
			unlink(tmp);
		free(tmp);
	} else if (fflush(stdout) != 0) {
		errmsg("cannot write the config: %s", strerror(errno));
		rc = EX_USAGE;
	}
	return rc;
}

/* Names from rpc_get_methods (current: only those allowed now), as an array. */
static int get_methods(struct client *c, bool current, json_t **names)
{
	json_t *params = current ? json_pack("{s:b}", "current", 1) : NULL;
	json_t *error;
	int rc = rpc_call(c, "rpc_get_methods", params, names, &error);

	json_decref(params);
	if (error != NULL) {
		print_rpc_error("rpc_get_methods", error);
		json_decref(error);
		return rc;
	}
	if (rc == EX_OK && !json_is_array(*names)) {
		errmsg("rpc_get_methods: the server returned no array of names");
		json_decref(*names);
		*names = NULL;
		return EX_SERVER;
	}
	return rc;
}

static bool has_name(const json_t *names, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(names, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
			return true;
	}
	return false;
}

/*
 * Check a config file's shape: {"subsystems": [{"subsystem": NAME,
 * "config": [{"method": M, "params": {...}}, ...] | null}, ...]}.
 */
static int check_config(const char *file, const json_t *cfg)
{
	const json_t *subs = json_object_get(cfg, "subsystems");
	size_t i, j;
	json_t *s, *call;

	if (!json_is_object(cfg) || !json_is_array(subs)) {
		errmsg("%s: not a config: expected {\"subsystems\": [...]}", file);
		return EX_USAGE;
	}
	json_array_foreach(subs, i, s) {
		const json_t *calls = json_object_get(s, "config");

		if (!json_is_string(json_object_get(s, "subsystem"))) {
			errmsg("%s: subsystems[%zu]: \"subsystem\" is missing or not a string",
			       file, i);
			return EX_USAGE;
		}
		if (calls != NULL && !json_is_null(calls) && !json_is_array(calls)) {
			errmsg("%s: subsystem '%s': \"config\" is not an array", file,
			       json_string_value(json_object_get(s, "subsystem")));
			return EX_USAGE;
		}
		json_array_foreach(calls, j, call) {
			const json_t *p = json_object_get(call, "params");

			if (!json_is_string(json_object_get(call, "method"))) {
				errmsg("%s: subsystem '%s': config[%zu]: \"method\" is missing or "
				       "not a string",
				       file, json_string_value(json_object_get(s, "subsystem")), j);
				return EX_USAGE;
			}
			if (p != NULL && !json_is_object(p) && !json_is_array(p) &&
			    !json_is_null(p)) {
				errmsg("%s: subsystem '%s': method '%s': \"params\" is not an "
				       "object or array",
				       file, json_string_value(json_object_get(s, "subsystem")),
				       json_string_value(json_object_get(call, "method")));
				return EX_USAGE;
			}
		}
	}
	return EX_OK;
}

/*
 * Replay a config file's calls against a running server, as SPDK's
 * load_config does: in each round, call what the server allows now, then
 * framework_start_init (and framework_wait_init) if the server waits for
 * it, and repeat while progress is made. Unlike SPDK, the calls of one
 * subsystem keep their order: a call not allowed yet holds back those after
 * it. Stops at the first error.
 */
static int cmd_load_config(struct client *c, const char *file)
{
	json_error_t jerr;
	json_t *cfg, *all = NULL, *now = NULL, *subs, *s, *call, *result, *error;
	size_t *next = NULL; /* per subsystem: index of its first call not yet made */
	size_t i, j, nsubs, left;
	int rc;

	cfg = strcmp(file, "-") == 0 ? json_loadf(stdin, 0, &jerr) : json_load_file(file, 0, &jerr);
	if (cfg == NULL) {
		if (jerr.line < 0 || jerr.position == 0)
			errmsg("%s: %s", file, jerr.text);
		else
			errmsg("%s:%d:%d: invalid JSON: %s", file, jerr.line, jerr.column,
			       jerr.text);
		return EX_USAGE;
	}
	rc = check_config(file, cfg);
	if (rc != EX_OK)
		goto out;
	subs = json_object_get(cfg, "subsystems");
	nsubs = json_array_size(subs);
	next = calloc(nsubs + 1, sizeof(*next));
	if (next == NULL) {
		errmsg("out of memory");
		rc = EX_USAGE;
		goto out;
	}

	/* Every method must exist before anything is changed. */
	rc = get_methods(c, false, &all);
	if (rc != EX_OK)
		goto out;
	left = 0;
	json_array_foreach(subs, i, s) {
		json_array_foreach(json_object_get(s, "config"), j, call) {
			const char *m = json_string_value(json_object_get(call, "method"));

			if (!has_name(all, m)) {
				errmsg("%s: subsystem '%s': method '%s': no such method on the server",
				       file, json_string_value(json_object_get(s, "subsystem")), m);
				rc = EX_SERVER;
				goto out;
			}
			left++;
		}
	}

	for (;;) {
		bool progress = false;

		json_decref(now);
		now = NULL;
		rc = get_methods(c, true, &now);
		if (rc != EX_OK)
			goto out;
		json_array_foreach(subs, i, s) {
			const char *sname = json_string_value(json_object_get(s, "subsystem"));
			json_t *calls = json_object_get(s, "config");

			for (; next[i] < json_array_size(calls); next[i]++) {
				const char *m;
				json_t *params;

				call = json_array_get(calls, next[i]);
				m = json_string_value(json_object_get(call, "method"));
				params = json_object_get(call, "params");
				if (!has_name(now, m))
					break;
				rc = rpc_call(c, m, json_is_null(params) ? NULL : params, &result,
					      &error);
				if (error != NULL) {
					char *prefix = NULL;

					if (asprintf(&prefix, "%s: subsystem '%s': method '%s'", file,
						     sname, m) < 0)
						prefix = NULL;
					print_rpc_error(prefix ? prefix : m, error);
					free(prefix);
					json_decref(error);
				} else if (rc != EX_OK) {
					errmsg("%s: subsystem '%s': method '%s' was not applied", file,
					       sname, m);
				}
				json_decref(result);
				if (rc != EX_OK)
					goto out;
				progress = true;
				left--;
			}
		}
		if (has_name(now, "framework_start_init")) {
			rc = rpc_call(c, "framework_start_init", NULL, &result, &error);
			if (error != NULL) {
				print_rpc_error("framework_start_init", error);
				json_decref(error);
			}
			json_decref(result);
			if (rc != EX_OK)
				goto out;
			if (has_name(all, "framework_wait_init")) {
				rc = rpc_call(c, "framework_wait_init", NULL, &result, &error);
				if (error != NULL) {
					print_rpc_error("framework_wait_init", error);
					json_decref(error);
				}
				json_decref(result);
				if (rc != EX_OK)
					goto out;
			}
			progress = true;
		}
		if (left == 0 || !progress)
			break;
	}
	if (left > 0) {
		json_array_foreach(subs, i, s) {
			call = json_array_get(json_object_get(s, "config"), next[i]);
			if (call != NULL) {
				errmsg("%s: subsystem '%s': method '%s': not allowed in the server's "
				       "current state (%zu call(s) not replayed)",
				       file, json_string_value(json_object_get(s, "subsystem")),
				       json_string_value(json_object_get(call, "method")), left);
				break;
			}
		}
		rc = EX_SERVER;
	}
out:
	free(next);
	json_decref(now);
	json_decref(all);
	json_decref(cfg);
	return rc;
}

/* ---- command line --------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s [-s SOCKET] [-t SECONDS] [-v] METHOD [NAME=VALUE ...] [-j JSON]\n"
		"       %s [-s SOCKET] [-t SECONDS] save-config [-o FILE]\n"
		"       %s [-s SOCKET] [-t SECONDS] load-config FILE\n"
		"\n"
		"Call a JSON-RPC method of a libreactor program and print its result as JSON.\n"
		"\n"
		"  -s, --socket PATH     the server's Unix socket (default: $" SOCKET_ENV ",\n"
		"                        else " DEFAULT_SOCKET ")\n"
		"  -t, --timeout SECONDS bound on each call (default: %d)\n"
		"  -j, --json JSON       params as a JSON object or array ('-': standard input)\n"
		"  NAME=VALUE            one param; VALUE is JSON if it parses, else a string;\n"
		"                        a dotted NAME (a.b=1) sets a nested object\n"
		"  -o, --output FILE     save-config: write to FILE instead of standard output\n"
		"  -v, --verbose         print requests and responses on standard error\n"
		"  -h, --help            this help, then the methods the server offers\n"
		"  -V, --version         print the version\n"
		"\n"
		"save-config  save the server's configuration (save_config)\n"
		"load-config  replay a configuration file's calls against a running server\n"
		"\n"
		"Exit status: 0 success, 1 server error, 2 usage or input error,\n"
		"3 connection failure, 4 timeout.\n",
		prog, prog, prog, DEFAULT_TIMEOUT_MS / 1000);
}

static int cmd_help(struct client *c)
{
	json_t *names;
	size_t i;
	json_t *v;

	usage(stdout);
	printf("\n");
	fflush(stdout);
	if (c->timeout_ms > HELP_TIMEOUT_MS)
		c->timeout_ms = HELP_TIMEOUT_MS;
	if (get_methods(c, false, &names) != EX_OK) {
		printf("No server reachable at %s (see the message above): its methods are not "
		       "listed.\n",
		       c->path);
		return EX_OK;
	}
	printf("Methods of the server at %s:\n", c->path);
	json_array_foreach(names, i, v) {
		if (json_is_string(v))
			printf("  %s\n", json_string_value(v));
	}
	json_decref(names);
	return EX_OK;
}

static int parse_timeout(const char *arg, int *ms)
{
	char *end;
	double s;

	errno = 0;
	s = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !(s > 0) || s > 86400 * 7) {
		errmsg("-t: '%s' is not a timeout in seconds (0 < SECONDS <= 604800)", arg);
		return EX_USAGE;
	}
	*ms = s * 1000 < 1 ? 1 : (int)(s * 1000);
	return EX_OK;
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{"socket", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 't'},
		{"json", required_argument, NULL, 'j'},
		{"output", required_argument, NULL, 'o'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct client c = {.fd = -1, .timeout_ms = DEFAULT_TIMEOUT_MS, .next_id = 1};
	const char *json_arg = NULL, *output = NULL, *method;
	json_t *params = NULL;
	bool help = false;
	int ch, rc, i;

	c.path = getenv(SOCKET_ENV);
	if (c.path == NULL || *c.path == '\0')
		c.path = DEFAULT_SOCKET;
	/* Options may follow METHOD (GNU getopt permutes); NAME=VALUE are operands. */
	while ((ch = getopt_long(argc, argv, "s:t:j:o:vhV", longs, NULL)) != -1) {
		switch (ch) {
		case 's':
			c.path = optarg;
			break;
		case 't':
			if (parse_timeout(optarg, &c.timeout_ms) != EX_OK)
				return EX_USAGE;
			break;
		case 'j':
			if (json_arg != NULL) {
				errmsg("-j given more than once");
				return EX_USAGE;
			}
			json_arg = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'v':
			c.verbose = true;
			break;
		case 'h':
			help = true;
			break;
		case 'V':
			printf("reactorctl (libreactor) %s\n", PACKAGE_VERSION);
			return EX_OK;
		default:
			fprintf(stderr, "Try '%s --help'.\n", prog);
			return EX_USAGE;
		}
	}
	if (help) {
		rc = cmd_help(&c);
		goto out;
	}
	if (optind >= argc) {
		errmsg("no METHOD given (try '%s --help')", prog);
		return EX_USAGE;
	}
	method = argv[optind++];

	if (strcmp(method, "save-config") == 0 || strcmp(method, "load-config") == 0) {
		bool save = method[0] == 's';

		if (json_arg != NULL || (!save && output != NULL)) {
			errmsg("%s: -%c is not an option of %s", method, json_arg ? 'j' : 'o',
			       method);
			return EX_USAGE;
		}
		if (save ? optind != argc : optind != argc - 1) {
			errmsg(save ? "save-config takes no operand (use -o FILE)"
				    : "load-config takes one operand: FILE ('-': standard input)");
			return EX_USAGE;
		}
		rc = save ? cmd_save_config(&c, output) : cmd_load_config(&c, argv[optind]);
		goto out;
	}
	if (output != NULL) {
		errmsg("-o is an option of save-config only");
		return EX_USAGE;
	}

	if (json_arg != NULL && params_from_json(json_arg, &params) != EX_OK)
		return EX_USAGE;
	if (params == NULL && optind < argc)
		params = json_object();
	for (i = optind; i < argc; i++) {
		if (params_add_pair(params, argv[i]) != EX_OK) {
			json_decref(params);
			return EX_USAGE;
		}
	}
	rc = cmd_call(&c, method, params);
	json_decref(params);
out:
	client_close(&c);
	free(c.buf);
	return rc;
}
