/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The JSON config: calls replayed in dependency order (startup calls, then
 * the subsystems' init, then runtime calls), through the same dispatcher
 * as the socket, asynchronous methods included; errors name the file, the
 * subsystem, the method and the reason, and the app does not start unless
 * told to ignore them; save_config output reloads to the same state
 * (load -> save -> load -> save gives identical JSON).
 *
 * Two test subsystems: "store" (options before init, items after) and
 * "export", which depends on store and refers to its items.
 */
#include "rpc_helpers.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_trace[2048];

static void trace(const char *fmt, ...) REACTOR_PRINTF(1, 2);
static void trace(const char *fmt, ...)
{
	size_t len;
	va_list ap;

	pthread_mutex_lock(&g_lock);
	len = strlen(g_trace);
	if (len > 0 && len < sizeof(g_trace) - 1)
		g_trace[len++] = ' ';
	va_start(ap, fmt);
	vsnprintf(g_trace + len, sizeof(g_trace) - len, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&g_lock);
}

static void trace_reset(void)
{
	pthread_mutex_lock(&g_lock);
	g_trace[0] = '\0';
	pthread_mutex_unlock(&g_lock);
}

#define CHECK_TRACE(want)                                                      \
	do {                                                                   \
		pthread_mutex_lock(&g_lock);                                   \
		if (strcmp(g_trace, (want)) != 0)                              \
			H_FAIL("trace\n  got:  %s\n  want: %s", g_trace, (want)); \
		pthread_mutex_unlock(&g_lock);                                 \
	} while (0)

/* ---- the "store" subsystem (app thread only, except the async answer) ------ */

#define MAX_ITEMS 16
static struct {
	json_int_t cache_size;
	int nitems;
	char name[MAX_ITEMS][32];
	json_int_t size[MAX_ITEMS];
	int nexports;
	char exports[MAX_ITEMS][32];
} g_store = {.cache_size = 16};

static int store_find(const char *name)
{
	for (int i = 0; i < g_store.nitems; i++)
		if (strcmp(g_store.name[i], name) == 0)
			return i;
	return -1;
}

static void store_set_options(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	json_int_t cache;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s:I !}", "cache_size", &cache) != 0)
		return;
	g_store.cache_size = cache;
	trace("store_set_options:%lld", (long long)cache);
	reactor_rpc_send_bool(req, true);
}

/* store_create answers from another pthread, later: an asynchronous method. */
static void *answer_later(void *arg)
{
	h_sleep_ms(2);
	reactor_rpc_send_bool(arg, true);
	return NULL;
}

static void store_create(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	const char *name;
	json_int_t size;
	pthread_t t;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s:s, s:I !}", "name", &name, "size", &size) != 0)
		return;
	if (size <= 0) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field 'size': expected a positive size, got %lld",
				       (long long)size);
		return;
	}
	if (store_find(name) >= 0 || g_store.nitems == MAX_ITEMS) {
		reactor_rpc_send_error(req, -EEXIST, "store '%s' exists", name);
		return;
	}
	snprintf(g_store.name[g_store.nitems], sizeof(g_store.name[0]), "%s", name);
	g_store.size[g_store.nitems++] = size;
	trace("store_create:%s", name);
	if (pthread_create(&t, NULL, answer_later, req) != 0) {
		reactor_rpc_send_bool(req, true);
		return;
	}
	pthread_detach(t);
}

static void store_init(void)
{
	trace("init:store");
	reactor_subsystem_init_done(0);
}

static void store_fini(void)
{
	trace("fini:store");
	g_store.nitems = 0;
	g_store.cache_size = 16;
	reactor_subsystem_fini_done();
}

static void store_write_config(json_t *calls)
{
	json_array_append_new(calls, json_pack("{s:s, s:{s:I}}", "method", "store_set_options",
					       "params", "cache_size", g_store.cache_size));
	for (int i = 0; i < g_store.nitems; i++)
		json_array_append_new(calls, json_pack("{s:s, s:{s:s, s:I}}", "method", "store_create",
						       "params", "name", g_store.name[i], "size",
						       g_store.size[i]));
}

/* ---- the "export" subsystem -------------------------------------------------- */

static void export_add(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	const char *store;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s:s !}", "store", &store) != 0)
		return;
	if (store_find(store) < 0) {
		reactor_rpc_send_error(req, -ENOENT, "no store named '%s'", store);
		return;
	}
	snprintf(g_store.exports[g_store.nexports++], sizeof(g_store.exports[0]), "%s", store);
	trace("export_add:%s", store);
	reactor_rpc_send_bool(req, true);
}

static void export_init(void)
{
	trace("init:export");
	reactor_subsystem_init_done(0);
}

static void export_fini(void)
{
	trace("fini:export");
	g_store.nexports = 0;
	reactor_subsystem_fini_done();
}

static void export_write_config(json_t *calls)
{
	for (int i = 0; i < g_store.nexports; i++)
		json_array_append_new(calls, json_pack("{s:s, s:{s:s}}", "method", "export_add", "params",
						       "store", g_store.exports[i]));
}

static const struct reactor_subsystem g_store_sub = {
	.size = sizeof(struct reactor_subsystem),
	.name = "store",
	.init = store_init,
	.fini = store_fini,
	.write_config = store_write_config,
};
static const char *const g_export_deps[] = {"store", NULL};
static const struct reactor_subsystem g_export_sub = {
	.size = sizeof(struct reactor_subsystem),
	.name = "export",
	.depends_on = g_export_deps,
	.init = export_init,
	.fini = export_fini,
	.write_config = export_write_config,
};

__attribute__((constructor)) static void register_test_subsystems(void)
{
	/* export first: the dependency, not registration, decides the order */
	reactor_subsystem_register(&g_export_sub);
	reactor_subsystem_register(&g_store_sub);
	reactor_rpc_register_method("store_set_options", store_set_options, NULL, REACTOR_RPC_STARTUP);
	reactor_rpc_register_method("store_create", store_create, NULL, REACTOR_RPC_RUNTIME);
	reactor_rpc_register_method("export_add", export_add, NULL, REACTOR_RPC_RUNTIME);
}

/* ---- helpers ------------------------------------------------------------------- */

static char g_file[128];

static const char *write_config(const char *tag, const char *text)
{
	FILE *f;

	snprintf(g_file, sizeof(g_file), "/tmp/reactor-test-%d-%s.json", (int)getpid(), tag);
	f = fopen(g_file, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return g_file;
}

static void start_record(void *arg)
{
	(void)arg;
	trace("start(cache=%lld,items=%d,exports=%d)", (long long)g_store.cache_size, g_store.nitems,
	      g_store.nexports);
	reactor_app_stop(0);
}

static int run_with_config(const char *path, bool ignore)
{
	struct reactor_app_opts o;

	assert_true(h_app_opts(&o, 1));
	o.json_config_file = path;
	o.json_config_ignore_errors = ignore;
	return reactor_app_start(&o, start_record, NULL);
}

static const char g_good[] =
	"{\"subsystems\": [\n"
	"  {\"subsystem\": \"export\", \"config\": [\n"
	"    {\"method\": \"export_add\", \"params\": {\"store\": \"s1\"}}]},\n"
	"  {\"subsystem\": \"store\", \"config\": [\n"
	"    {\"method\": \"store_create\", \"params\": {\"name\": \"s1\", \"size\": 10}},\n"
	"    {\"method\": \"store_create\", \"params\": {\"name\": \"s2\", \"size\": 20}},\n"
	"    {\"method\": \"store_set_options\", \"params\": {\"cache_size\": 64}}]},\n"
	"  {\"subsystem\": \"reactor\", \"config\": null}\n"
	"], \"comment\": \"ignored\"}\n";

/* ---- tests ----------------------------------------------------------------------- */

static void test_replay_order(void **state)
{
	(void)state;
	H_BEGIN();
	trace_reset();
	assert_int_equal(run_with_config(write_config("order", g_good), false), 0);
	/* startup calls, init in dependency order, runtime calls (store's before
	 * export's although the file lists export first), then start_fn */
	CHECK_TRACE("store_set_options:64 init:store init:export store_create:s1 store_create:s2 "
		    "export_add:s1 start(cache=64,items=2,exports=1) fini:export fini:store");
	unlink(g_file);
	h_assert_no_failures();
}

struct bad_case {
	const char *tag;
	const char *text;
	int rc;
	const char *needles[4];
	const char *trace;
};

static void test_errors_stop_the_start(void **state)
{
	static const struct bad_case cases[] = {
		{"runtime", "{\"subsystems\": [{\"subsystem\": \"store\", \"config\": ["
			    "{\"method\": \"store_create\", \"params\": {\"name\": \"s1\", \"size\": 1}}]},"
			    "{\"subsystem\": \"export\", \"config\": ["
			    "{\"method\": \"export_add\", \"params\": {\"store\": \"ghost\"}}]}]}",
		 -EINVAL, {"subsystem 'export'", "method 'export_add'", "no store named 'ghost'", NULL},
		 /* both were initialised: both finalised, start_fn never ran */
		 "init:store init:export store_create:s1 fini:export fini:store"},
		{"params", "{\"subsystems\": [{\"subsystem\": \"store\", \"config\": ["
			   "{\"method\": \"store_create\", \"params\": {\"name\": 5, \"size\": 1}}]}]}",
		 -EINVAL, {"subsystem 'store'", "method 'store_create'", "field 'name'", "-32602"},
		 "init:store init:export fini:export fini:store"},
		{"method", "{\"subsystems\": [{\"subsystem\": \"store\", \"config\": ["
			   "{\"method\": \"store_explode\", \"params\": {}}]}]}",
		 -EINVAL, {"subsystem 'store'", "method 'store_explode'", "no such method", NULL}, ""},
		{"subsystem", "{\"subsystems\": [{\"subsystem\": \"bdev\", \"config\": []}]}",
		 -EINVAL, {"subsystem 'bdev'", "no such subsystem", NULL, NULL}, ""},
		{"syntax", "{\"subsystems\": [\n  {\"subsystem\": \"store\",, }]}", -EINVAL,
		 {"not valid JSON", "line 2", NULL, NULL}, ""},
		{"shape", "{\"subsystems\": {\"store\": []}}", -EINVAL,
		 {"\"subsystems\" must be an array", NULL, NULL, NULL}, ""},
		{"entry", "{\"subsystems\": [{\"subsystem\": \"store\", \"config\": [{\"params\": {}}]}]}",
		 -EINVAL, {"subsystem 'store', config[0]", NULL, NULL, NULL}, ""},
	};

	(void)state;
	H_BEGIN();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *c = &cases[i];
		const char *path = write_config(c->tag, c->text);

		trace_reset();
		h_log_capture_start(REACTOR_LOG_ERROR);
		assert_int_equal(run_with_config(path, false), c->rc);
		h_log_capture_stop();
		/* one message names the file and everything else */
		for (int k = 0; k < 4 && c->needles[k] != NULL; k++) {
			if (h_log_count2(path, c->needles[k]) < 1) {
				h_log_dump();
				fail_msg("case %s: no log message with '%s' and '%s'", c->tag, path,
					 c->needles[k]);
			}
		}
		CHECK_TRACE(c->trace);
		h_assert_no_failures();
		unlink(path);
	}
	/* A missing file. */
	trace_reset();
	h_log_capture_start(REACTOR_LOG_ERROR);
	assert_int_equal(run_with_config("/tmp/reactor-test-no-such-config.json", false), -ENOENT);
	h_log_capture_stop();
	assert_int_equal(h_log_count("no-such-config.json"), 1);
}

static void test_ignore_errors(void **state)
{
	const char *path = write_config("ignore",
					"{\"subsystems\": [{\"subsystem\": \"store\", \"config\": ["
					"{\"method\": \"store_explode\"},"
					"{\"method\": \"store_create\", \"params\": {\"name\": \"s1\", \"size\": 1}}]},"
					"{\"subsystem\": \"export\", \"config\": ["
					"{\"method\": \"export_add\", \"params\": {\"store\": \"ghost\"}},"
					"{\"method\": \"export_add\", \"params\": {\"store\": \"s1\"}}]},"
					"{\"subsystem\": \"nvmf\", \"config\": []}]}");

	(void)state;
	H_BEGIN();
	trace_reset();
	h_log_capture_start(REACTOR_LOG_ERROR);
	assert_int_equal(run_with_config(path, true), 0);
	h_log_capture_stop();
	CHECK_TRACE("init:store init:export store_create:s1 export_add:s1 "
		    "start(cache=16,items=1,exports=1) fini:export fini:store");
	assert_int_equal(h_log_count("ignored"), 3);
	assert_int_equal(h_log_count2("'nvmf'", "ignored"), 1);
	unlink(path);
	h_assert_no_failures();
}

/* ---- round trip through save_config -------------------------------------------------- */

static char g_sock[108];

static void body_save(void *arg)
{
	json_t **out = arg;
	struct rpc_client c;
	json_t *r;

	if (!rpc_connect(&c, g_sock, 10000))
		return;
	r = rpc_call(&c, "framework_wait_init", NULL, 1);
	json_decref(r);
	r = rpc_call(&c, "save_config", NULL, 2);
	if (H_CHECK(r != NULL && json_is_object(rpc_result(r))))
		*out = json_incref(json_object_get(r, "result"));
	json_decref(r);
	rpc_close(&c);
}

/* Start with config @p path, return what save_config says. */
static json_t *load_and_save(const char *path)
{
	struct reactor_app_opts o;
	json_t *saved = NULL;

	assert_true(h_app_opts(&o, 1));
	rpc_test_path(g_sock, sizeof(g_sock), "save");
	o.rpc_addr = g_sock;
	o.json_config_file = path;
	assert_int_equal(rpc_app_run(&o, body_save, &saved, NULL), 0);
	assert_non_null(saved);
	return saved;
}

static void test_save_roundtrip(void **state)
{
	static const char text[] =
		"{\"subsystems\": [\n"
		"  {\"subsystem\": \"store\", \"config\": [\n"
		"    {\"method\": \"store_set_options\", \"params\": {\"cache_size\": 128}},\n"
		"    {\"method\": \"store_create\", \"params\": {\"name\": \"a\", \"size\": 1}},\n"
		"    {\"method\": \"store_create\", \"params\": {\"name\": \"b\", \"size\": 2}}]},\n"
		"  {\"subsystem\": \"export\", \"config\": [\n"
		"    {\"method\": \"export_add\", \"params\": {\"store\": \"b\"}}]},\n"
		"  {\"subsystem\": \"reactor\", \"config\": [\n"
		"    {\"method\": \"framework_set_idle_policy\", \"params\": {\"policy\": \"adaptive\"}},\n"
		"    {\"method\": \"framework_set_stall_threshold\", \"params\": {\"threshold_ms\": 250}}]}\n"
		"]}\n";
	char first[128], second[128];
	json_t *s1, *s2, *s3, *subs;
	char *t1, *t2, *t3;
	FILE *f;

	(void)state;
	H_BEGIN();
	snprintf(first, sizeof(first), "%s", write_config("rt0", text));
	s1 = load_and_save(first);
	/* SPDK's format, subsystems in init order, the loaded state in it. */
	subs = json_object_get(s1, "subsystems");
	assert_true(json_is_array(subs));
	assert_string_equal(json_string_value(json_object_get(json_array_get(subs, 0), "subsystem")),
			    "reactor");
	t1 = json_dumps(s1, JSON_INDENT(2));
	assert_non_null(strstr(t1, "\"adaptive\""));
	assert_non_null(strstr(t1, "\"threshold_ms\": 250"));
	assert_non_null(strstr(t1, "\"cache_size\": 128"));
	assert_true(strstr(t1, "\"store\"") < strstr(t1, "\"export\""));

	/* save -> load -> save: the same text. */
	snprintf(second, sizeof(second), "/tmp/reactor-test-%d-rt1.json", (int)getpid());
	f = fopen(second, "w");
	assert_non_null(f);
	fputs(t1, f);
	fclose(f);
	s2 = load_and_save(second);
	t2 = json_dumps(s2, JSON_INDENT(2));
	if (strcmp(t1, t2) != 0)
		fail_msg("save_config differs after a reload:\n--- first\n%s\n--- second\n%s", t1, t2);
	s3 = load_and_save(second);
	t3 = json_dumps(s3, JSON_INDENT(2));
	assert_string_equal(t2, t3);
	free(t1);
	free(t2);
	free(t3);
	json_decref(s1);
	json_decref(s2);
	json_decref(s3);
	unlink(first);
	unlink(second);
	h_assert_no_failures();
}

/* ---- --wait-for-rpc with a config: startup calls first, the rest after the RPC ---------- */

static bool startup_pass_done(void *arg)
{
	bool done;

	(void)arg;
	pthread_mutex_lock(&g_lock);
	done = strstr(g_trace, "store_set_options") != NULL;
	pthread_mutex_unlock(&g_lock);
	return done;
}

static void body_wait(void *arg)
{
	struct rpc_client c;
	json_t *r;

	(void)arg;
	if (!rpc_connect(&c, g_sock, 10000))
		return;
	/* The startup calls run without waiting; nothing else may until the RPC. */
	h_wait_until(startup_pass_done, NULL, 10000, "the config's startup calls");
	h_sleep_ms(20);
	CHECK_TRACE("store_set_options:64");
	r = rpc_call(&c, "framework_start_init", NULL, 1);
	H_CHECK(r != NULL && json_is_true(rpc_result(r)));
	json_decref(r);
	CHECK_TRACE("store_set_options:64 init:store init:export store_create:s1 store_create:s2 "
		    "export_add:s1");
	rpc_close(&c);
}

static void test_wait_for_rpc_with_config(void **state)
{
	struct reactor_app_opts o;
	bool start_ran = false;

	(void)state;
	H_BEGIN();
	trace_reset();
	assert_true(h_app_opts(&o, 1));
	rpc_test_path(g_sock, sizeof(g_sock), "waitcfg");
	o.rpc_addr = g_sock;
	o.wait_for_rpc = true;
	o.json_config_file = write_config("waitcfg", g_good);
	assert_int_equal(rpc_app_run(&o, body_wait, NULL, &start_ran), 0);
	assert_true(start_ran);
	unlink(g_file);
	h_assert_no_failures();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_replay_order),
		H_TEST(test_errors_stop_the_start),
		H_TEST(test_ignore_errors),
		H_TEST(test_save_roundtrip),
		H_TEST(test_wait_for_rpc_with_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
