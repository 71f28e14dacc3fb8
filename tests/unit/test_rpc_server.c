/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The JSON-RPC server, over a real Unix socket, against an app started in
 * this process: framing (split and coalesced requests), batches,
 * notifications, every error class, size limit, a stalled client,
 * answers from another thread and after a disconnect, states with
 * --wait-for-rpc, the socket file (mode, stale/live, too long, removal)
 * and the built-in methods' shapes.
 */
#include "rpc_helpers.h"

#include <sys/file.h>

static char g_path[108];

static void opts_with_rpc(struct reactor_app_opts *o, const char *tag)
{
	assert_true(h_app_opts(o, 1));
	rpc_test_path(g_path, sizeof(g_path), tag);
	o->rpc_addr = g_path;
}

/* ---- a method answered later, from another pthread ---------------------------- */

static struct reactor_rpc_request *_Atomic g_parked;
static atomic_int g_parked_count;

static void test_async_method(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)params;
	(void)ctx;
	atomic_store(&g_parked, req);
	atomic_fetch_add(&g_parked_count, 1);
}

static bool parked(void *arg)
{
	(void)arg;
	return atomic_load(&g_parked) != NULL;
}

/* Answer the parked request from this (non-reactor) pthread. */
static void answer_parked(int value)
{
	struct reactor_rpc_request *req;

	if (!h_wait_until(parked, NULL, 10000, "the async method to be called"))
		return;
	req = atomic_exchange(&g_parked, NULL);
	reactor_rpc_send_result(req, json_pack("{s:i}", "value", value));
}

/* A method with typed params, to check -32602 messages. */
static void test_typed_method(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	const char *name;
	json_int_t size = 0;
	json_t *opts = NULL;
	int flag = 0;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s:s, s?I, s?{s?b !}, s?o !}", "name", &name,
				      "size", &size, "nested", "flag", &flag, "any", &opts) != 0)
		return;
	reactor_rpc_send_result(req, json_pack("{s:s, s:I, s:b}", "name", name, "size", size, "flag",
					       flag));
}

__attribute__((constructor)) static void register_test_methods(void)
{
	reactor_rpc_register_method("test_async", test_async_method, NULL, REACTOR_RPC_RUNTIME);
	reactor_rpc_register_method("test_typed", test_typed_method, NULL,
				    REACTOR_RPC_STARTUP | REACTOR_RPC_RUNTIME);
}

/* ---- framing ------------------------------------------------------------------------ */

static void body_framing(void *arg)
{
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"method\":\"reactor_get_version\",\"id\":7}";
	struct rpc_client c;
	json_t *r;

	(void)arg;
	if (!rpc_connect(&c, g_path, 10000))
		return;
	/* One byte per write. */
	for (size_t i = 0; i < sizeof(req) - 1; i++) {
		rpc_send_raw(&c, req + i, 1);
		if (i % 16 == 0)
			h_sleep_us(200); /* let the server see partial input */
	}
	r = rpc_read(&c);
	H_CHECK(r != NULL && rpc_id(r) == 7);
	H_CHECK(json_is_string(json_object_get(rpc_result(r), "version")));
	H_CHECK(json_integer_value(json_object_get(json_object_get(rpc_result(r), "fields"), "major")) ==
		REACTOR_VERSION_MAJOR);
	json_decref(r);

	/* Three requests in one write, with whitespace around; answered in order. */
	rpc_send_str(&c, " {\"jsonrpc\":\"2.0\",\"method\":\"log_get_level\",\"id\":1}\n"
			 "{\"jsonrpc\":\"2.0\",\"method\":\"log_get_print_level\",\"id\":\"two\"}"
			 "\t{\"jsonrpc\":\"2.0\",\"method\":\"rpc_get_methods\",\"id\":3.5}  ");
	r = rpc_read(&c);
	H_CHECK(r != NULL && rpc_id(r) == 1 && json_is_string(rpc_result(r)));
	json_decref(r);
	r = rpc_read(&c);
	H_CHECK(r != NULL && json_is_string(json_object_get(r, "id")) &&
		strcmp(json_string_value(json_object_get(r, "id")), "two") == 0);
	json_decref(r);
	r = rpc_read(&c);
	H_CHECK(r != NULL && json_real_value(json_object_get(r, "id")) == 3.5 &&
		json_is_array(rpc_result(r)));
	json_decref(r);

	/* Strings holding brackets and escaped quotes do not confuse the framing. */
	rpc_send_str(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"test_typed\",\"id\":4,"
			 "\"params\":{\"name\":\"a}]\\\"{[b\"}}");
	r = rpc_read(&c);
	H_CHECK(r != NULL && rpc_id(r) == 4 &&
		strcmp(json_string_value(json_object_get(rpc_result(r), "name")), "a}]\"{[b") == 0);
	json_decref(r);
	rpc_close(&c);
}

static void test_framing(void **state)
{
	struct reactor_app_opts o;

	(void)state;
	H_BEGIN();
	opts_with_rpc(&o, "framing");
	assert_int_equal(rpc_app_run(&o, body_framing, NULL, NULL), 0);
	h_assert_no_failures();
}

/* ---- batches and notifications ------------------------------------------------------- */

static void body_batch(void *arg)
{
	struct rpc_client c;
	json_t *r;

	(void)arg;
	if (!rpc_connect(&c, g_path, 10000))
		return;
	/* A notification gets nothing: the next response is the next request's. */
	rpc_send_str(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"log_get_level\"}");
	rpc_send_str(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"no_such_method\"}"); /* not even an error */
	r = rpc_call(&c, "log_get_level", NULL, 11);
	H_CHECK(r != NULL && rpc_id(r) == 11);
	json_decref(r);

	/* A batch: a call, a notification, an invalid request, an unknown method. */
	rpc_send_str(&c, "[{\"jsonrpc\":\"2.0\",\"method\":\"log_get_level\",\"id\":1},"
			 "{\"jsonrpc\":\"2.0\",\"method\":\"log_get_level\"},"
			 "{\"jsonrpc\":\"1.0\",\"method\":\"log_get_level\",\"id\":2},"
			 "42,"
			 "{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":3}]");
	r = rpc_read(&c);
	if (H_CHECK(json_is_array(r)) && H_CHECK_INT(json_array_size(r), ==, 4)) {
		H_CHECK(rpc_id(json_array_get(r, 0)) == 1 && json_is_string(rpc_result(json_array_get(r, 0))));
		RPC_CHECK_ERROR(json_array_get(r, 1), REACTOR_RPC_INVALID_REQUEST, "jsonrpc");
		H_CHECK(rpc_id(json_array_get(r, 1)) == 2);
		RPC_CHECK_ERROR(json_array_get(r, 2), REACTOR_RPC_INVALID_REQUEST, "object");
		H_CHECK(json_is_null(json_object_get(json_array_get(r, 2), "id")));
		RPC_CHECK_ERROR(json_array_get(r, 3), REACTOR_RPC_METHOD_NOT_FOUND, "nope");
	}
	json_decref(r);

	/* A batch of notifications only: no response at all. */
	rpc_send_str(&c, "[{\"jsonrpc\":\"2.0\",\"method\":\"log_get_level\"},"
			 "{\"jsonrpc\":\"2.0\",\"method\":\"log_get_flags\"}]");
	/* An empty batch is one invalid request. */
	rpc_send_str(&c, "[]");
	r = rpc_read(&c);
	RPC_CHECK_ERROR(r, REACTOR_RPC_INVALID_REQUEST, "empty batch");
	json_decref(r);

	/* A batch with an async member waits for it. */
	rpc_send_str(&c, "[{\"jsonrpc\":\"2.0\",\"method\":\"test_async\",\"id\":5},"
			 "{\"jsonrpc\":\"2.0\",\"method\":\"log_get_level\",\"id\":6}]");
	rpc_nothing_for(&c, 100);
	answer_parked(55);
	r = rpc_read(&c);
	if (H_CHECK(json_is_array(r)) && H_CHECK_INT(json_array_size(r), ==, 2)) {
		json_t *a = json_array_get(r, 0), *b = json_array_get(r, 1);
		json_t *async = rpc_id(a) == 5 ? a : b;

		H_CHECK(json_integer_value(json_object_get(rpc_result(async), "value")) == 55);
	}
	json_decref(r);
	rpc_close(&c);
}

static void test_batch_and_notifications(void **state)
{
	struct reactor_app_opts o;

	(void)state;
	H_BEGIN();
	opts_with_rpc(&o, "batch");
	assert_int_equal(rpc_app_run(&o, body_batch, NULL, NULL), 0);
	h_assert_no_failures();
}

/* ---- errors -------------------------------------------------------------------------------- */

static void body_errors(void *arg)
{
	struct rpc_client c;
	json_t *r;

	(void)arg;
	if (!rpc_connect(&c, g_path, 10000))
		return;
	/* Malformed JSON between balanced brackets: -32700, the connection stays. */
	rpc_send_str(&c, "{\"jsonrpc\":\"2.0\",\"method\": , \"id\":1}");
	r = rpc_read(&c);
	RPC_CHECK_ERROR(r, REACTOR_RPC_PARSE_ERROR, "Parse error");
	H_CHECK(r != NULL && json_is_null(json_object_get(r, "id")));
	json_decref(r);
	rpc_send_str(&c, "{\"a\":1,\"a\":2}");
	r = rpc_read(&c);
	RPC_CHECK_ERROR(r, REACTOR_RPC_PARSE_ERROR, "duplicate");
	json_decref(r);

	/* Not a request. */
	rpc_send_str(&c, "\"just a string\"");
	r = rpc_read(&c);
	RPC_CHECK_ERROR(r, REACTOR_RPC_INVALID_REQUEST, "object or array");
	json_decref(r);
	rpc_send_str(&c, "{\"jsonrpc\":\"2.0\",\"method\":5,\"id\":9}");
	r = rpc_read(&c);
	RPC_CHECK_ERROR(r, REACTOR_RPC_INVALID_REQUEST, "'method'");
	H_CHECK(r != NULL && rpc_id(r) == 9);
	json_decref(r);
	rpc_send_str(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"log_get_level\",\"params\":3,\"id\":10}");
	r = rpc_read(&c);
	RPC_CHECK_ERROR(r, REACTOR_RPC_INVALID_REQUEST, "'params'");
	json_decref(r);
	rpc_send_str(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"log_get_level\",\"id\":{\"x\":1}}");
	r = rpc_read(&c);
	RPC_CHECK_ERROR(r, REACTOR_RPC_INVALID_REQUEST, "'id'");
	H_CHECK(r != NULL && json_is_null(json_object_get(r, "id")));
	json_decref(r);
	rpc_send_str(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"log_get_level\",\"id\":12,\"extra\":1}");
	r = rpc_read(&c);
	RPC_CHECK_ERROR(r, REACTOR_RPC_INVALID_REQUEST, "'extra'");
	json_decref(r);

	/* Unknown method, named. */
	r = rpc_call(&c, "bdev_frobnicate", NULL, 13);
	RPC_CHECK_ERROR(r, REACTOR_RPC_METHOD_NOT_FOUND, "'bdev_frobnicate'");
	H_CHECK(r != NULL && rpc_id(r) == 13);
	json_decref(r);

	/* Bad params: the field and what was expected are named. */
	r = rpc_call(&c, "test_typed", json_pack("{s:i}", "size", 1), 14);
	RPC_CHECK_ERROR(r, REACTOR_RPC_INVALID_PARAMS, "missing required field 'name'");
	json_decref(r);
	r = rpc_call(&c, "test_typed", NULL, 15);
	RPC_CHECK_ERROR(r, REACTOR_RPC_INVALID_PARAMS, "missing required field 'name'");
	json_decref(r);
	r = rpc_call(&c, "test_typed", json_pack("{s:s, s:s}", "name", "x", "size", "big"), 16);
	RPC_CHECK_ERROR(r, REACTOR_RPC_INVALID_PARAMS, "field 'size': expected integer, got string");
	json_decref(r);
	r = rpc_call(&c, "test_typed", json_pack("{s:s, s:i}", "name", "x", "sise", 1), 17);
	RPC_CHECK_ERROR(r, REACTOR_RPC_INVALID_PARAMS, "unexpected field(s) in params: sise");
	json_decref(r);
	r = rpc_call(&c, "test_typed", json_pack("{s:s, s:{s:i}}", "name", "x", "nested", "flag", 1), 18);
	RPC_CHECK_ERROR(r, REACTOR_RPC_INVALID_PARAMS, "field 'nested.flag': expected true or false");
	json_decref(r);
	r = rpc_call(&c, "test_typed", json_pack("[s]", "x"), 19);
	RPC_CHECK_ERROR(r, REACTOR_RPC_INVALID_PARAMS, "expected object, got array");
	json_decref(r);
	r = rpc_call(&c, "test_typed", json_pack("{s:s, s:I, s:{s:b}}", "name", "ok", "size",
						 (json_int_t)1 << 40, "nested", "flag", 1), 20);
	H_CHECK(r != NULL && json_integer_value(json_object_get(rpc_result(r), "size")) ==
				     (json_int_t)1 << 40);
	json_decref(r);
	r = rpc_call(&c, "log_set_level", json_pack("{s:i}", "level", 5), 21);
	RPC_CHECK_ERROR(r, REACTOR_RPC_INVALID_PARAMS, "field 'level': expected string, got integer");
	json_decref(r);
	r = rpc_call(&c, "log_set_level", json_pack("{s:s}", "level", "loud"), 22);
	RPC_CHECK_ERROR(r, REACTOR_RPC_INVALID_PARAMS, "'loud'");
	json_decref(r);
	r = rpc_call(&c, "log_get_level", json_pack("{s:i}", "x", 1), 23);
	RPC_CHECK_ERROR(r, REACTOR_RPC_INVALID_PARAMS, "takes no parameters");
	json_decref(r);

	/* A value that cannot be framed: -32700, then the connection is closed. */
	rpc_send_str(&c, "hello");
	r = rpc_read(&c);
	RPC_CHECK_ERROR(r, REACTOR_RPC_PARSE_ERROR, "object or array");
	json_decref(r);
	rpc_wait_closed(&c);
	rpc_close(&c);
}

static void test_errors(void **state)
{
	struct reactor_app_opts o;

	(void)state;
	H_BEGIN();
	opts_with_rpc(&o, "errors");
	assert_int_equal(rpc_app_run(&o, body_errors, NULL, NULL), 0);
	h_assert_no_failures();
}

/* ---- size limit, stalled and vanishing clients, many clients --------------------------------- */

static void body_limits(void *arg)
{
	struct rpc_client a, b, d;
	char big[4096];
	json_t *r;

	(void)arg;
	if (!rpc_connect(&a, g_path, 10000) || !rpc_connect(&b, g_path, 10000))
		return;
	/* a: half a request, then silence. b is served meanwhile. */
	rpc_send_str(&a, "{\"jsonrpc\":\"2.0\",\"method\":\"log_get");
	for (int i = 0; i < 5; i++) {
		r = rpc_call(&b, "log_get_level", NULL, 100 + i);
		H_CHECK(r != NULL && rpc_id(r) == 100 + i);
		json_decref(r);
	}
	/* a finishes its request and is answered. */
	rpc_send_str(&a, "_level\",\"id\":1}");
	r = rpc_read(&a);
	H_CHECK(r != NULL && rpc_id(r) == 1);
	json_decref(r);

	/* Over the size limit (1024 here): an error, then the connection is closed. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":{\"a\":\"", 43);
	rpc_send_raw(&a, big, sizeof(big));
	r = rpc_read(&a);
	RPC_CHECK_ERROR(r, REACTOR_RPC_PARSE_ERROR, "larger than 1024 bytes");
	json_decref(r);
	rpc_wait_closed(&a);
	rpc_close(&a);

	/* A client that disconnects while its request is pending: answered later, dropped. */
	if (rpc_connect(&d, g_path, 10000)) {
		rpc_send_str(&d, "{\"jsonrpc\":\"2.0\",\"method\":\"test_async\",\"id\":1}");
		h_wait_until(parked, NULL, 10000, "the async method");
		rpc_close(&d);
		h_sleep_ms(20); /* the server sees the hang-up first */
		answer_parked(1);
	}
	/* And one that disconnects half-way through a request. */
	if (rpc_connect(&d, g_path, 10000)) {
		rpc_send_str(&d, "[{\"jsonrpc\":\"2.0\",\"method\":\"log_get_level\",\"id\":1}, {\"jsonr");
		h_sleep_ms(20);
		rpc_close(&d);
	}
	/* b still works. */
	r = rpc_call(&b, "log_get_level", NULL, 200);
	H_CHECK(r != NULL && rpc_id(r) == 200);
	json_decref(r);
	rpc_close(&b);
}

static void test_limits_and_stalls(void **state)
{
	struct reactor_app_opts o;

	(void)state;
	H_BEGIN();
	opts_with_rpc(&o, "limits");
	o.rpc_max_request_size = 1024;
	assert_int_equal(rpc_app_run(&o, body_limits, NULL, NULL), 0);
	h_assert_no_failures();
}

#define N_CLIENTS 16

static void *client_main(void *arg)
{
	intptr_t k = (intptr_t)arg;
	struct rpc_client c;

	if (!rpc_connect(&c, g_path, 10000))
		return NULL;
	for (int i = 0; i < 20; i++) {
		json_t *r = rpc_call(&c, "rpc_get_methods", NULL, (int)k * 1000 + i);

		H_CHECK(r != NULL && rpc_id(r) == (json_int_t)k * 1000 + i);
		json_decref(r);
	}
	rpc_close(&c);
	return NULL;
}

static void body_many(void *arg)
{
	pthread_t t[N_CLIENTS];

	(void)arg;
	for (intptr_t i = 0; i < N_CLIENTS; i++)
		pthread_create(&t[i], NULL, client_main, (void *)i);
	for (int i = 0; i < N_CLIENTS; i++)
		pthread_join(t[i], NULL);
}

static void test_many_clients(void **state)
{
	struct reactor_app_opts o;

	(void)state;
	H_BEGIN();
	opts_with_rpc(&o, "many");
	assert_int_equal(rpc_app_run(&o, body_many, NULL, NULL), 0);
	h_assert_no_failures();
}

/* ---- states with --wait-for-rpc ------------------------------------------------------------- */

static void body_wait_for_rpc(void *arg)
{
	bool *start_ran = arg;
	struct rpc_client c, w;
	json_t *r, *names;

	if (!rpc_connect(&c, g_path, 10000) || !rpc_connect(&w, g_path, 10000))
		return;
	H_CHECK(reactor_rpc_get_state() == REACTOR_RPC_STARTUP);
	r = rpc_call(&c, "save_config", NULL, 1);
	RPC_CHECK_ERROR(r, REACTOR_RPC_INVALID_STATE, "STARTUP");
	RPC_CHECK_ERROR(r, REACTOR_RPC_INVALID_STATE, "'save_config'");
	json_decref(r);
	r = rpc_call(&c, "rpc_get_methods", json_pack("{s:b}", "current", 1), 2);
	names = json_deep_copy(rpc_result(r));
	json_decref(r);
	{
		bool has_start = false, has_save = false;
		size_t i;
		json_t *n;

		json_array_foreach(names, i, n) {
			has_start |= strcmp(json_string_value(n), "framework_start_init") == 0;
			has_save |= strcmp(json_string_value(n), "save_config") == 0;
		}
		H_CHECK(has_start && !has_save);
	}
	json_decref(names);
	/* framework_wait_init waits on another connection. */
	rpc_send_str(&w, "{\"jsonrpc\":\"2.0\",\"method\":\"framework_wait_init\",\"id\":50}");
	rpc_nothing_for(&w, 100);
	H_CHECK(!*start_ran);
	r = rpc_call(&c, "framework_start_init", NULL, 3);
	H_CHECK(r != NULL && json_is_true(rpc_result(r)));
	json_decref(r);
	r = rpc_read(&w);
	H_CHECK(r != NULL && rpc_id(r) == 50 && json_is_true(rpc_result(r)));
	json_decref(r);
	H_CHECK(reactor_rpc_get_state() == REACTOR_RPC_RUNTIME);
	r = rpc_call(&c, "framework_start_init", NULL, 4);
	RPC_CHECK_ERROR(r, REACTOR_RPC_INVALID_STATE, "RUNTIME");
	json_decref(r);
	r = rpc_call(&c, "framework_wait_init", NULL, 5);
	H_CHECK(r != NULL && json_is_true(rpc_result(r)));
	json_decref(r);
	r = rpc_call(&c, "save_config", NULL, 6);
	H_CHECK(r != NULL && json_is_array(json_object_get(rpc_result(r), "subsystems")));
	json_decref(r);
	rpc_close(&c);
	rpc_close(&w);
}

static void test_wait_for_rpc_states(void **state)
{
	struct reactor_app_opts o;
	bool start_ran = false;

	(void)state;
	H_BEGIN();
	opts_with_rpc(&o, "wait");
	o.wait_for_rpc = true;
	assert_int_equal(rpc_app_run(&o, body_wait_for_rpc, &start_ran, &start_ran), 0);
	assert_true(start_ran);
	h_assert_no_failures();

	/* --wait-for-rpc without a socket is refused. */
	assert_true(h_app_opts(&o, 1));
	o.wait_for_rpc = true;
	assert_int_equal(reactor_app_start(&o, h_noop, NULL), -EINVAL);
}

/* ---- the socket file -------------------------------------------------------------------------- */

static void body_mode(void *arg)
{
	unsigned int *mode = arg;
	struct rpc_client c;
	struct stat st;

	if (!rpc_connect(&c, g_path, 10000))
		return;
	if (H_CHECK(stat(g_path, &st) == 0)) {
		H_CHECK(S_ISSOCK(st.st_mode));
		*mode = st.st_mode & 07777;
	}
	rpc_close(&c);
}

static void test_socket_file(void **state)
{
	struct reactor_app_opts o;
	char lock[128];
	unsigned int mode = 0;
	struct stat st;
	mode_t old;

	(void)state;
	H_BEGIN();
	/* Default: owner only, whatever the umask. */
	opts_with_rpc(&o, "mode");
	old = umask(0);
	assert_int_equal(rpc_app_run(&o, body_mode, &mode, NULL), 0);
	umask(old);
	assert_int_equal(mode, 0600);
	/* Removed at exit, with its lock file. */
	snprintf(lock, sizeof(lock), "%s.lock", g_path);
	assert_int_not_equal(lstat(g_path, &st), 0);
	assert_int_not_equal(lstat(lock, &st), 0);

	/* An explicit mode and group. */
	opts_with_rpc(&o, "mode2");
	o.rpc_socket_mode = 0660;
	o.rpc_socket_gid = (int32_t)getgid();
	assert_int_equal(rpc_app_run(&o, body_mode, &mode, NULL), 0);
	assert_int_equal(mode, 0660);
	h_assert_no_failures();
}

static void body_connect_once(void *arg)
{
	struct rpc_client c;
	json_t *r;

	(void)arg;
	if (!rpc_connect(&c, g_path, 10000))
		return;
	r = rpc_call(&c, "log_get_level", NULL, 1);
	H_CHECK(r != NULL && rpc_id(r) == 1);
	json_decref(r);
	rpc_close(&c);
}

static void test_stale_and_live_sockets(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct reactor_app_opts o;
	bool start_ran = true;
	char lock[128];
	int fd, lfd;

	(void)state;
	H_BEGIN();
	/* A stale socket (its server died: nobody listens, the lock is free). */
	opts_with_rpc(&o, "stale");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", g_path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	snprintf(lock, sizeof(lock), "%s.lock", g_path);
	lfd = open(lock, O_RDWR | O_CREAT, 0600);
	assert_true(lfd >= 0);
	close(lfd);
	h_log_capture_start(REACTOR_LOG_NOTICE);
	assert_int_equal(rpc_app_run(&o, body_connect_once, NULL, NULL), 0);
	h_log_capture_stop();
	assert_int_equal(h_log_count2("stale", g_path), 1);
	h_assert_no_failures();

	/* A live server: its lock is held. */
	opts_with_rpc(&o, "live");
	snprintf(lock, sizeof(lock), "%s.lock", g_path);
	lfd = open(lock, O_RDWR | O_CREAT, 0600);
	assert_int_equal(flock(lfd, LOCK_EX), 0);
	h_log_capture_start(REACTOR_LOG_ERROR);
	assert_int_equal(reactor_app_start(&o, h_noop, NULL), -EADDRINUSE);
	h_log_capture_stop();
	assert_int_equal(h_log_count2("in use", g_path), 1);
	close(lfd);
	unlink(lock);

	/* A live server that takes no lock: it answers on the socket. */
	opts_with_rpc(&o, "live2");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", g_path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(reactor_app_start(&o, h_noop, NULL), -EADDRINUSE);
	close(fd);
	unlink(g_path);

	/* Not a socket: never removed. */
	opts_with_rpc(&o, "file");
	fd = open(g_path, O_RDWR | O_CREAT, 0600);
	close(fd);
	assert_int_equal(reactor_app_start(&o, h_noop, NULL), -EEXIST);
	assert_int_equal(access(g_path, F_OK), 0);
	unlink(g_path);

	/* Too long for sun_path: a clear error, start_fn never runs. */
	{
		char longpath[200];

		assert_true(h_app_opts(&o, 1));
		memset(longpath, 'p', sizeof(longpath));
		memcpy(longpath, "/tmp/", 5);
		longpath[sizeof(longpath) - 1] = '\0';
		o.rpc_addr = longpath;
		h_log_capture_start(REACTOR_LOG_ERROR);
		start_ran = false;
		assert_int_equal(reactor_app_start(&o, h_noop, &start_ran), -ENAMETOOLONG);
		h_log_capture_stop();
		assert_int_equal(h_log_count("too long"), 1);
	}
}

/* ---- answers from another thread -------------------------------------------------------------- */

static void body_async(void *arg)
{
	struct rpc_client c;
	json_t *r;

	(void)arg;
	if (!rpc_connect(&c, g_path, 10000))
		return;
	rpc_send_str(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"test_async\",\"id\":77}");
	h_wait_until(parked, NULL, 10000, "the async method");
	/* Other requests are served while it waits. */
	r = rpc_call(&c, "log_get_level", NULL, 78);
	H_CHECK(r != NULL && rpc_id(r) == 78);
	json_decref(r);
	answer_parked(777);
	r = rpc_read(&c);
	H_CHECK(r != NULL && rpc_id(r) == 77 &&
		json_integer_value(json_object_get(rpc_result(r), "value")) == 777);
	json_decref(r);
	/* Not allowed before init: a RUNTIME-only method. */
	rpc_close(&c);
}

static void test_async_answer(void **state)
{
	struct reactor_app_opts o;

	(void)state;
	H_BEGIN();
	opts_with_rpc(&o, "async");
	assert_int_equal(rpc_app_run(&o, body_async, NULL, NULL), 0);
	h_assert_no_failures();
}

/* A request never answered is freed when the app ends. */
static void body_unanswered(void *arg)
{
	struct rpc_client c;

	(void)arg;
	if (!rpc_connect(&c, g_path, 10000))
		return;
	rpc_send_str(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"test_async\",\"id\":1}");
	h_wait_until(parked, NULL, 10000, "the async method");
	atomic_store(&g_parked, NULL);
	rpc_close(&c);
}

static void test_unanswered_freed(void **state)
{
	struct reactor_app_opts o;

	(void)state;
	H_BEGIN();
	opts_with_rpc(&o, "unanswered");
	h_log_capture_start(REACTOR_LOG_WARN);
	assert_int_equal(rpc_app_run(&o, body_unanswered, NULL, NULL), 0);
	h_log_capture_stop();
	assert_int_equal(h_log_count2("never answered", "test_async"), 1);
	h_assert_no_failures();
}

/* ---- the built-in methods' shapes ---------------------------------------------------------------- */

static int idle_poller(void *arg)
{
	(void)arg;
	return REACTOR_POLLER_IDLE;
}

static int g_dev;

static int ch_create(void *dev, void *ctx)
{
	(void)dev;
	(void)ctx;
	return 0;
}

static void ch_destroy(void *dev, void *ctx)
{
	(void)dev;
	(void)ctx;
}

static struct reactor_poller *g_poller;
static struct reactor_io_channel *g_ch;

static void setup_on_app_thread(void *arg)
{
	(void)arg;
	g_poller = reactor_poller_register_named(idle_poller, NULL, 100000, "test_named_poller");
	reactor_io_device_register(&g_dev, ch_create, ch_destroy, 8, "test_device");
	g_ch = reactor_get_io_channel(&g_dev);
}

static void teardown_on_app_thread(void *arg)
{
	(void)arg;
	reactor_poller_unregister(&g_poller);
	reactor_put_io_channel(g_ch);
	reactor_io_device_unregister(&g_dev, NULL);
}

static bool find_named(const json_t *arr, const char *key, const char *name)
{
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e)
		if (json_is_string(json_object_get(e, key)) &&
		    strcmp(json_string_value(json_object_get(e, key)), name) == 0)
			return true;
	return false;
}

static void body_methods(void *arg)
{
	struct rpc_client c;
	json_t *r, *t;
	const json_t *res;
	size_t i;
	bool found;

	(void)arg;
	if (!rpc_connect(&c, g_path, 10000))
		return;
	r = rpc_call(&c, "framework_wait_init", NULL, 1);
	json_decref(r);
	h_call_on_thread(reactor_thread_get_app_thread(), setup_on_app_thread, NULL);

	r = rpc_call(&c, "framework_get_reactors", NULL, 2);
	res = rpc_result(r);
	H_CHECK(json_integer_value(json_object_get(res, "tick_rate")) > 0);
	if (H_CHECK_INT(json_array_size(json_object_get(res, "reactors")), ==, reactor_get_core_count())) {
		t = json_array_get(json_object_get(res, "reactors"), 0);
		H_CHECK(json_is_integer(json_object_get(t, "lcore")));
		H_CHECK(json_is_string(json_object_get(t, "idle_policy")));
		H_CHECK(find_named(json_object_get(t, "lw_threads"), "name", "app_thread"));
	}
	json_decref(r);

	r = rpc_call(&c, "thread_get_stats", NULL, 3);
	res = json_object_get(rpc_result(r), "threads");
	found = false;
	json_array_foreach(res, i, t)
		if (strcmp(json_string_value(json_object_get(t, "name")), "app_thread") == 0)
			found = json_integer_value(json_object_get(t, "timed_pollers_count")) >= 1 &&
				json_is_string(json_object_get(t, "cpumask"));
	H_CHECK(found);
	json_decref(r);

	r = rpc_call(&c, "thread_get_pollers", NULL, 4);
	res = json_object_get(rpc_result(r), "threads");
	found = false;
	json_array_foreach(res, i, t)
		found |= find_named(json_object_get(t, "timed_pollers"), "name", "test_named_poller");
	H_CHECK(found);
	json_decref(r);

	r = rpc_call(&c, "thread_get_io_channels", NULL, 5);
	res = json_object_get(rpc_result(r), "threads");
	found = false;
	json_array_foreach(res, i, t)
		found |= find_named(json_object_get(t, "io_channels"), "name", "test_device");
	H_CHECK(found);
	json_decref(r);

	/* logging */
	r = rpc_call(&c, "log_set_print_level", json_pack("{s:s}", "level", "warning"), 6);
	H_CHECK(json_is_true(rpc_result(r)));
	json_decref(r);
	r = rpc_call(&c, "log_get_print_level", NULL, 7);
	H_CHECK(r != NULL && strcmp(json_string_value(rpc_result(r)), "WARNING") == 0);
	json_decref(r);
	r = rpc_call(&c, "log_set_print_level", json_pack("{s:s}", "level", "NOTICE"), 8);
	json_decref(r);
	reactor_log_flag_register("test_flag");
	r = rpc_call(&c, "log_set_flag", json_pack("{s:s}", "flag", "test_flag"), 9);
	H_CHECK(json_is_true(rpc_result(r)));
	json_decref(r);
	r = rpc_call(&c, "log_get_flags", NULL, 10);
	H_CHECK(json_is_true(json_object_get(rpc_result(r), "test_flag")));
	json_decref(r);
	r = rpc_call(&c, "log_clear_flag", json_pack("{s:s}", "flag", "test_flag"), 11);
	json_decref(r);
	H_CHECK(!reactor_log_get_flag("test_flag"));
	r = rpc_call(&c, "log_set_flag", json_pack("{s:s}", "flag", "no_such_flag_xyz"), 12);
	RPC_CHECK_ERROR(r, REACTOR_RPC_INVALID_PARAMS, "no_such_flag_xyz");
	json_decref(r);

	/* idle policy and stall detector */
	r = rpc_call(&c, "framework_set_idle_policy", json_pack("{s:s}", "policy", "adaptive"), 13);
	H_CHECK(json_is_true(rpc_result(r)));
	json_decref(r);
	r = rpc_call(&c, "framework_get_idle_policy", NULL, 14);
	H_CHECK(strcmp(json_string_value(json_object_get(json_array_get(rpc_result(r), 0), "policy")),
		       "adaptive") == 0);
	json_decref(r);
	r = rpc_call(&c, "framework_set_idle_policy", json_pack("{s:s, s:i}", "policy", "poll", "core",
							       100000), 15);
	RPC_CHECK_ERROR(r, REACTOR_RPC_INVALID_PARAMS, "core");
	json_decref(r);
	r = rpc_call(&c, "framework_set_idle_policy", json_pack("{s:s}", "policy", "sometimes"), 16);
	RPC_CHECK_ERROR(r, REACTOR_RPC_INVALID_PARAMS, "'sometimes'");
	json_decref(r);
	r = rpc_call(&c, "framework_set_stall_threshold", json_pack("{s:i}", "threshold_ms", 0), 17);
	H_CHECK(json_is_true(rpc_result(r)));
	json_decref(r);
	r = rpc_call(&c, "framework_get_stall_threshold", NULL, 18);
	H_CHECK(json_integer_value(json_object_get(rpc_result(r), "threshold_ms")) == 0);
	json_decref(r);
	r = rpc_call(&c, "framework_set_stall_threshold", json_pack("{s:i}", "threshold_ms", 500), 19);
	json_decref(r);
	r = rpc_call(&c, "framework_get_stall_threshold", NULL, 20);
	H_CHECK(json_integer_value(json_object_get(rpc_result(r), "threshold_ms")) == 500);
	json_decref(r);

	/* subsystems and config */
	r = rpc_call(&c, "framework_get_subsystems", NULL, 21);
	H_CHECK(find_named(rpc_result(r), "subsystem", "reactor"));
	json_decref(r);
	r = rpc_call(&c, "framework_get_config", json_pack("{s:s}", "name", "reactor"), 22);
	H_CHECK(find_named(rpc_result(r), "method", "framework_set_idle_policy"));
	json_decref(r);
	r = rpc_call(&c, "framework_get_config", json_pack("{s:s}", "name", "nope"), 23);
	RPC_CHECK_ERROR(r, REACTOR_RPC_INVALID_PARAMS, "'nope'");
	json_decref(r);
	r = rpc_call(&c, "save_config", NULL, 24);
	H_CHECK(find_named(json_object_get(rpc_result(r), "subsystems"), "subsystem", "reactor"));
	json_decref(r);
	r = rpc_call(&c, "rpc_get_methods", json_pack("{s:b, s:b}", "current", 0, "include_aliases", 1),
		     25);
	H_CHECK(json_array_size(rpc_result(r)) >= 22);
	json_decref(r);

	h_call_on_thread(reactor_thread_get_app_thread(), teardown_on_app_thread, NULL);
	rpc_close(&c);
}

static void test_builtin_methods(void **state)
{
	struct reactor_app_opts o;
	unsigned int n = h_allowed_cpu_count() >= 2 ? 2 : 1;

	(void)state;
	H_BEGIN();
	assert_true(h_app_opts(&o, n));
	rpc_test_path(g_path, sizeof(g_path), "methods");
	o.rpc_addr = g_path;
	assert_int_equal(rpc_app_run(&o, body_methods, NULL, NULL), 0);
	h_assert_no_failures();
}

/* ---- registration ------------------------------------------------------------------------------- */

static void noop_method(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)params;
	(void)ctx;
	reactor_rpc_send_bool(req, true);
}

static void test_register(void **state)
{
	char longname[200];

	(void)state;
	H_BEGIN();
	assert_int_equal(reactor_rpc_register_method("rpc_get_methods", noop_method, NULL,
						     REACTOR_RPC_RUNTIME), -EEXIST);
	assert_int_equal(reactor_rpc_register_method("x", NULL, NULL, REACTOR_RPC_RUNTIME), -EINVAL);
	assert_int_equal(reactor_rpc_register_method("x", noop_method, NULL, 0), -EINVAL);
	assert_int_equal(reactor_rpc_register_method("x", noop_method, NULL, 4), -EINVAL);
	assert_int_equal(reactor_rpc_register_method("", noop_method, NULL, 1), -EINVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(reactor_rpc_register_method(longname, noop_method, NULL, 1), -EINVAL);
	assert_int_equal(reactor_rpc_register_method("test_registered_once", noop_method, NULL, 3), 0);
	assert_int_equal(reactor_rpc_register_method("test_registered_once", noop_method, NULL, 3),
			 -EEXIST);
}

/* ---- the command line ---------------------------------------------------------------------- */

static int parse(struct reactor_app_opts *o, int argc, const char **argv)
{
	optind = 0; /* glibc: reinitialise getopt */
	return reactor_app_parse_args(argc, (char **)argv, o, NULL, NULL, NULL, NULL, NULL);
}

static void test_parse_args(void **state)
{
	const char *ok[] = {"prog", "-r", "/tmp/x.sock", "--rpc-socket-mode", "0660",
			    "--rpc-socket-group", "0", "-c", "/tmp/c.json",
			    "--json-ignore-init-errors", "--wait-for-rpc"};
	const char *longs[] = {"prog", "--rpc-socket=/tmp/y.sock", "--config", "/tmp/d.json",
			       "--rpc-socket-group", "root"};
	const char *bad_mode[] = {"prog", "--rpc-socket-mode", "999"};
	const char *bad_mode2[] = {"prog", "--rpc-socket-mode", "01000"};
	const char *bad_group[] = {"prog", "--rpc-socket-group", "no_such_group_xyz"};
	struct reactor_app_opts o;
	struct h_fd_capture cap;
	char *err;

	(void)state;
	H_BEGIN();
	reactor_app_opts_init(&o, sizeof(o));
	assert_int_equal(o.rpc_socket_mode, 0600);
	assert_int_equal(o.rpc_socket_gid, -1);
	assert_int_equal(o.rpc_max_request_size, 1u << 20);
	assert_null(o.rpc_addr);
	assert_false(o.wait_for_rpc);
	assert_int_equal(parse(&o, 11, ok), REACTOR_APP_PARSE_ARGS_SUCCESS);
	assert_string_equal(o.rpc_addr, "/tmp/x.sock");
	assert_int_equal(o.rpc_socket_mode, 0660);
	assert_int_equal(o.rpc_socket_gid, 0);
	assert_string_equal(o.json_config_file, "/tmp/c.json");
	assert_true(o.json_config_ignore_errors);
	assert_true(o.wait_for_rpc);

	reactor_app_opts_init(&o, sizeof(o));
	assert_int_equal(parse(&o, 6, longs), REACTOR_APP_PARSE_ARGS_SUCCESS);
	assert_string_equal(o.rpc_addr, "/tmp/y.sock");
	assert_string_equal(o.json_config_file, "/tmp/d.json");
	assert_int_equal(o.rpc_socket_gid, 0); /* root's gid */

	assert_true(h_fd_capture_begin(&cap, STDERR_FILENO));
	reactor_app_opts_init(&o, sizeof(o));
	assert_int_equal(parse(&o, 3, bad_mode), REACTOR_APP_PARSE_ARGS_FAIL);
	assert_int_equal(parse(&o, 3, bad_mode2), REACTOR_APP_PARSE_ARGS_FAIL);
	assert_int_equal(parse(&o, 3, bad_group), REACTOR_APP_PARSE_ARGS_FAIL);
	/* A program built against the struct before these fields. */
	reactor_app_opts_init(&o, offsetof(struct reactor_app_opts, rpc_addr));
	o.opts_size = offsetof(struct reactor_app_opts, rpc_addr);
	assert_int_equal(parse(&o, 3, (const char *[]){"prog", "-r", "/tmp/z"}),
			 REACTOR_APP_PARSE_ARGS_FAIL);
	err = h_fd_capture_end(&cap);
	assert_non_null(strstr(err, "invalid RPC socket mode '999'"));
	assert_non_null(strstr(err, "invalid RPC socket group 'no_such_group_xyz'"));
	assert_non_null(strstr(err, "without the RPC options"));
	free(err);

	/* --help lists them. */
	assert_true(h_fd_capture_begin(&cap, STDOUT_FILENO));
	reactor_app_usage(stdout);
	err = h_fd_capture_end(&cap);
	assert_non_null(strstr(err, "--rpc-socket PATH"));
	assert_non_null(strstr(err, "--wait-for-rpc"));
	assert_non_null(strstr(err, "--json-ignore-init-errors"));
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_register),
		H_TEST(test_parse_args),
		H_TEST(test_framing),
		H_TEST(test_batch_and_notifications),
		H_TEST(test_errors),
		H_TEST(test_limits_and_stalls),
		H_TEST(test_many_clients),
		H_TEST(test_async_answer),
		H_TEST(test_unanswered_freed),
		H_TEST(test_wait_for_rpc_states),
		H_TEST(test_socket_file),
		H_TEST(test_stale_and_live_sockets),
		H_TEST(test_builtin_methods),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
