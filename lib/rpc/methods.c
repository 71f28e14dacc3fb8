/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The built-in JSON-RPC methods. Names, parameters and results follow
 * SPDK's JSON-RPC documentation where SPDK has the same method, so that
 * operators' scripts keep working; ours (reactor_get_version, the idle
 * policy and the stall detector) follow the same conventions.
 *
 * Per-thread data (pollers, channels) may only be read on its thread:
 * those methods walk the threads with messages (reactor_for_each_thread)
 * and the reactors with events, collecting into one JSON array that only
 * one thread touches at a time.
 */
#include "config.h"
#include "rpc_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Methods that take no parameters accept none, or an empty object/array. */
static bool no_params(struct reactor_rpc_request *req, const json_t *params, const char *method)
{
	if (params == NULL || (json_is_object(params) && json_object_size(params) == 0) ||
	    (json_is_array(params) && json_array_size(params) == 0))
		return true;
	reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
			       "Invalid params: '%s' takes no parameters", method);
	return false;
}

/* ---- rpc_get_methods, reactor_get_version --------------------------------- */

static void rpc_get_methods(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	int current = 0, aliases = 0;
	json_t *names;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s?b, s?b !}", "current", &current,
				      "include_aliases", &aliases) != 0)
		return;
	/* No method has a deprecated alias yet: include_aliases changes nothing. */
	names = rpc_method_names(current != 0);
	if (names == NULL) {
		reactor_rpc_send_error(req, REACTOR_RPC_INTERNAL_ERROR, "Internal error: out of memory");
		return;
	}
	reactor_rpc_send_result(req, names);
}

static void reactor_get_version(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	unsigned int v = reactor_version_num();
	char text[64];

	(void)ctx;
	if (!no_params(req, params, "reactor_get_version"))
		return;
	snprintf(text, sizeof(text), "libreactor %s", reactor_version_string());
	reactor_rpc_send_result(req, json_pack("{s:s, s:{s:i, s:i, s:i, s:s}}", "version", text,
					       "fields", "major", (int)(v >> 16),
					       "minor", (int)((v >> 8) & 0xff), "patch",
					       (int)(v & 0xff), "suffix", ""));
}

/* ---- framework_start_init, framework_wait_init ----------------------------- */

static void framework_start_init(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)ctx;
	if (no_params(req, params, "framework_start_init"))
		app_init_rpc_start_init(req);
}

static void framework_wait_init(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)ctx;
	if (no_params(req, params, "framework_wait_init"))
		app_init_rpc_wait_init(req);
}

/* ---- subsystems and configuration ------------------------------------------ */

static void framework_get_subsystems(struct reactor_rpc_request *req, const json_t *params,
				     void *ctx)
{
	json_t *arr;

	(void)ctx;
	if (!no_params(req, params, "framework_get_subsystems"))
		return;
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < subsystems_count(); i++) {
		const struct reactor_subsystem *s = subsystems_get(i);
		json_t *deps = json_array();

		for (size_t d = 0; deps != NULL && s->depends_on != NULL && s->depends_on[d] != NULL; d++)
			json_array_append_new(deps, json_string(s->depends_on[d]));
		json_array_append_new(arr, json_pack("{s:s, s:o}", "subsystem", s->name, "depends_on",
						     deps ? deps : json_array()));
	}
	reactor_rpc_send_result(req, arr);
}

static void framework_get_config(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	const struct reactor_subsystem *s;
	const char *name;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s:s !}", "name", &name) != 0)
		return;
	s = subsystem_find(name);
	if (s == NULL) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field 'name': no subsystem named '%s'", name);
		return;
	}
	reactor_rpc_send_result(req, subsystem_config(s));
}

static void save_config(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	json_t *cfg;

	(void)ctx;
	if (!no_params(req, params, "save_config"))
		return;
	cfg = config_save();
	if (cfg == NULL) {
		reactor_rpc_send_error(req, REACTOR_RPC_INTERNAL_ERROR, "Internal error: out of memory");
		return;
	}
	reactor_rpc_send_result(req, cfg);
}

/* ---- per-thread data ------------------------------------------------------------ */

struct collect {
	struct reactor_rpc_request *req;
	json_t *items;
	void (*describe)(struct collect *, struct reactor_thread *);
	uint32_t next_core; /* framework_get_reactors */
	uint64_t home;
};

static void cpumask_text(const struct reactor_cpuset *mask, char *buf, size_t len)
{
	struct reactor_cpuset *set = reactor_cpuset_create();
	uint32_t c;

	buf[0] = '\0';
	if (set == NULL)
		return;
	/* The thread's mask within the app's cores, like SPDK's. */
	REACTOR_FOREACH_CORE(c)
		if (mask == NULL || reactor_cpuset_isset(mask, c))
			reactor_cpuset_set(set, c);
	reactor_cpuset_format_mask(set, buf, len);
	reactor_cpuset_destroy(set);
}

static void collect_step(void *arg)
{
	struct collect *col = arg;

	if (tls_thread != NULL)
		col->describe(col, tls_thread);
}

static void collect_done(void *arg)
{
	struct collect *col = arg;

	reactor_rpc_send_result(col->req, json_pack("{s:I, s:o}", "tick_rate",
						    (json_int_t)reactor_get_ticks_hz(), "threads",
						    col->items));
	free(col);
}

static void collect_threads(struct reactor_rpc_request *req, const json_t *params, const char *method,
			    void (*describe)(struct collect *, struct reactor_thread *))
{
	struct collect *col;
	int rc;

	if (!no_params(req, params, method))
		return;
	col = calloc(1, sizeof(*col));
	if (col == NULL || (col->items = json_array()) == NULL) {
		free(col);
		reactor_rpc_send_error(req, REACTOR_RPC_INTERNAL_ERROR, "Internal error: out of memory");
		return;
	}
	col->req = req;
	col->describe = describe;
	rc = reactor_for_each_thread(collect_step, col, collect_done);
	if (rc != 0) {
		json_decref(col->items);
		free(col);
		reactor_rpc_send_error(req, rc, "Cannot walk the threads: %s", strerror(-rc));
	}
}

static void count_pollers(struct reactor_thread *t, json_int_t *active, json_int_t *timed,
			  json_int_t *paused)
{
	const struct poller_list *lists[] = {&t->active_pollers, &t->timed_pollers, &t->paused_pollers};
	struct reactor_poller *p;

	*active = *timed = *paused = 0;
	for (size_t i = 0; i < 3; i++) {
		TAILQ_FOREACH(p, lists[i], link) {
			if (p->state == POLLER_UNREGISTERED)
				continue;
			if (p->state == POLLER_PAUSING || p->state == POLLER_PAUSED)
				(*paused)++;
			else if (p->period_ticks != 0)
				(*timed)++;
			else
				(*active)++;
		}
	}
}

static void describe_stats(struct collect *col, struct reactor_thread *t)
{
	struct reactor_thread_stats st = {.stats_size = sizeof(st)};
	json_int_t active, timed, paused;
	char mask[300];

	reactor_thread_get_stats(t, &st);
	count_pollers(t, &active, &timed, &paused);
	cpumask_text(t->cpumask, mask, sizeof(mask));
	json_array_append_new(col->items,
			      json_pack("{s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "name", t->name,
					"id", (json_int_t)t->id, "cpumask", mask, "busy",
					(json_int_t)st.busy_ticks, "idle", (json_int_t)st.idle_ticks,
					"msgs", (json_int_t)st.msgs, "active_pollers_count", active,
					"timed_pollers_count", timed, "paused_pollers_count", paused));
}

static json_t *poller_json(const struct reactor_poller *p)
{
	const char *state = p->state == POLLER_RUNNING ? "waiting" : "paused";
	json_t *o = json_pack("{s:s, s:s, s:I, s:I}", "name", p->name, "state", state, "run_count",
			      (json_int_t)p->runs, "busy_count", (json_int_t)p->busy_runs);

	if (o != NULL && p->period_ticks != 0)
		json_object_set_new(o, "period_ticks", json_integer((json_int_t)p->period_ticks));
	return o;
}

static void describe_pollers(struct collect *col, struct reactor_thread *t)
{
	const struct poller_list *lists[] = {&t->active_pollers, &t->timed_pollers, &t->paused_pollers};
	json_t *active = json_array(), *timed = json_array(), *paused = json_array();
	struct reactor_poller *p;

	for (size_t i = 0; i < 3; i++) {
		TAILQ_FOREACH(p, lists[i], link) {
			json_t *dst;

			if (p->state == POLLER_UNREGISTERED)
				continue;
			if (p->state == POLLER_PAUSING || p->state == POLLER_PAUSED)
				dst = paused;
			else
				dst = p->period_ticks ? timed : active;
			json_array_append_new(dst, poller_json(p));
		}
	}
	json_array_append_new(col->items,
			      json_pack("{s:s, s:I, s:o, s:o, s:o}", "name", t->name, "id",
					(json_int_t)t->id, "active_pollers", active ? active : json_array(),
					"timed_pollers", timed ? timed : json_array(), "paused_pollers",
					paused ? paused : json_array()));
}

static void describe_channels(struct collect *col, struct reactor_thread *t)
{
	struct reactor_io_channel *ch;
	json_t *arr = json_array();

	TAILQ_FOREACH(ch, &t->channels, link)
		json_array_append_new(arr, json_pack("{s:s, s:i}", "name", channel_device_name(ch),
						     "ref", (int)ch->refs));
	json_array_append_new(col->items, json_pack("{s:s, s:I, s:o}", "name", t->name, "id",
						    (json_int_t)t->id, "io_channels",
						    arr ? arr : json_array()));
}

static void thread_get_stats(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)ctx;
	collect_threads(req, params, "thread_get_stats", describe_stats);
}

static void thread_get_pollers(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)ctx;
	collect_threads(req, params, "thread_get_pollers", describe_pollers);
}

static void thread_get_io_channels(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)ctx;
	collect_threads(req, params, "thread_get_io_channels", describe_channels);
}

/* ---- framework_get_reactors: one event per reactor, in turn ------------------- */

static const char *policy_name(int policy)
{
	return policy == REACTOR_IDLE_ADAPTIVE ? "adaptive" : "poll";
}

static void reactors_done(void *arg)
{
	struct collect *col = arg;

	reactor_rpc_send_result(col->req, json_pack("{s:I, s:o}", "tick_rate",
						    (json_int_t)reactor_get_ticks_hz(), "reactors",
						    col->items));
	free(col);
}

static void reactors_next(struct collect *col);

static void reactor_step(void *arg1, void *arg2)
{
	struct collect *col = arg1;
	struct reactor *r = tls_reactor;
	struct reactor_stats st = {.stats_size = sizeof(st)};
	struct reactor_thread *t;
	json_t *threads = json_array();
	int policy;

	(void)arg2;
	if (r != NULL) {
		reactor_get_stats(r->core, &st);
		policy = reactor_get_idle_policy(r->core);
		/* The reactor's thread list is its own: read it here. */
		TAILQ_FOREACH(t, &r->threads, reactor_link) {
			char mask[300];

			cpumask_text(t->cpumask, mask, sizeof(mask));
			json_array_append_new(threads, json_pack("{s:s, s:I, s:s}", "name", t->name,
								 "id", (json_int_t)t->id,
								 "cpumask", mask));
		}
		json_array_append_new(col->items,
				      json_pack("{s:i, s:I, s:I, s:b, s:s, s:I, s:I, s:I, s:I, s:o}",
						"lcore", (int)r->core, "busy", (json_int_t)st.busy_ticks,
						"idle", (json_int_t)st.idle_ticks, "in_interrupt",
						policy == REACTOR_IDLE_ADAPTIVE, "idle_policy",
						policy_name(policy), "events", (json_int_t)st.events,
						"sleeps", (json_int_t)st.sleeps, "wakeups",
						(json_int_t)st.wakeups, "stalls", (json_int_t)st.stalls,
						"lw_threads", threads ? threads : json_array()));
	} else {
		json_decref(threads);
	}
	reactors_next(col);
}

static void reactors_next(struct collect *col)
{
	uint32_t core = reactor_get_next_core(col->next_core);

	while (core != REACTOR_CORE_INVALID) {
		struct reactor_event *ev = reactor_event_allocate(core, reactor_step, col, NULL);

		col->next_core = core;
		if (ev != NULL && reactor_event_call(ev) == 0)
			return;
		reactor_event_free(ev);
		/* A full queue: skip that reactor rather than never answer. */
		core = reactor_get_next_core(core);
	}
	if (thread_send_by_id(col->home, reactors_done, col) != 0) {
		json_decref(col->items);
		free(col); /* the app thread is gone; so is the request */
	}
}

static void framework_get_reactors(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	struct collect *col;

	(void)ctx;
	if (!no_params(req, params, "framework_get_reactors"))
		return;
	col = calloc(1, sizeof(*col));
	if (col == NULL || (col->items = json_array()) == NULL) {
		free(col);
		reactor_rpc_send_error(req, REACTOR_RPC_INTERNAL_ERROR, "Internal error: out of memory");
		return;
	}
	col->req = req;
	col->next_core = REACTOR_CORE_INVALID;
	col->home = reactor_thread_get_id(tls_thread);
	reactors_next(col);
}

/* ---- idle policy and stall detector ----------------------------------------------- */

static int parse_policy(struct reactor_rpc_request *req, const char *text)
{
	if (strcasecmp(text, "poll") == 0)
		return REACTOR_IDLE_POLL;
	if (strcasecmp(text, "adaptive") == 0)
		return REACTOR_IDLE_ADAPTIVE;
	reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
			       "Invalid params: field 'policy': expected \"poll\" or \"adaptive\", got "
			       "'%s'", text);
	return -EINVAL;
}

/* Check an optional "core" parameter; -1 when absent. */
static int64_t check_core(struct reactor_rpc_request *req, json_int_t core, bool given)
{
	if (!given)
		return -1;
	if (core < 0 || core >= UINT32_MAX || reactor_get_idle_policy((uint32_t)core) < 0) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field 'core': no reactor on core %lld",
				       (long long)core);
		return -2;
	}
	return core;
}

static void framework_set_idle_policy(struct reactor_rpc_request *req, const json_t *params,
				      void *ctx)
{
	json_int_t core_in = -1;
	const char *text;
	int64_t core;
	int policy;
	uint32_t c;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s:s, s?I !}", "policy", &text, "core",
				      &core_in) != 0)
		return;
	policy = parse_policy(req, text);
	if (policy < 0)
		return;
	core = check_core(req, core_in, json_object_get(params, "core") != NULL);
	if (core == -2)
		return;
	if (reactor_get_core_count() == 0) {
		reactor_rpc_send_error(req, -ENODEV, "The reactors are not running");
		return;
	}
	if (core >= 0) {
		reactor_set_idle_policy((uint32_t)core, (enum reactor_idle_policy)policy);
	} else {
		REACTOR_FOREACH_CORE(c)
			reactor_set_idle_policy(c, (enum reactor_idle_policy)policy);
	}
	reactor_rpc_send_bool(req, true);
}

static void framework_get_idle_policy(struct reactor_rpc_request *req, const json_t *params,
				      void *ctx)
{
	json_int_t core_in = -1;
	json_t *arr;
	int64_t core;
	uint32_t c;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s?I !}", "core", &core_in) != 0)
		return;
	core = check_core(req, core_in, params != NULL && json_object_get(params, "core") != NULL);
	if (core == -2)
		return;
	arr = json_array();
	REACTOR_FOREACH_CORE(c) {
		if (core >= 0 && c != (uint32_t)core)
			continue;
		json_array_append_new(arr, json_pack("{s:i, s:s}", "core", (int)c, "policy",
						     policy_name(reactor_get_idle_policy(c))));
	}
	reactor_rpc_send_result(req, arr);
}

static void framework_set_stall_threshold(struct reactor_rpc_request *req, const json_t *params,
					  void *ctx)
{
	json_int_t ms;
	int rc;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s:I !}", "threshold_ms", &ms) != 0)
		return;
	if (ms < 0 || ms > 3600000) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field 'threshold_ms': expected 0 (off) to 3600000, "
				       "got %lld", (long long)ms);
		return;
	}
	rc = stall_set_threshold((uint32_t)ms);
	if (rc != 0) {
		reactor_rpc_send_error(req, rc, "Cannot set the stall threshold: %s",
				       rc == -ENODEV ? "the reactors are not running" : strerror(-rc));
		return;
	}
	reactor_rpc_send_bool(req, true);
}

static void framework_get_stall_threshold(struct reactor_rpc_request *req, const json_t *params,
					  void *ctx)
{
	(void)ctx;
	if (!no_params(req, params, "framework_get_stall_threshold"))
		return;
	reactor_rpc_send_result(req, json_pack("{s:I}", "threshold_ms",
					       (json_int_t)stall_get_threshold()));
}

/* ---- logging ------------------------------------------------------------------------- */

/* SPDK's level names (WARNING, not WARN), so its scripts compare equal. */
static const char *level_name(enum reactor_log_level level)
{
	return level == REACTOR_LOG_WARN ? "WARNING" : reactor_log_level_name(level);
}

static void set_level(struct reactor_rpc_request *req, const json_t *params,
		      void (*set)(enum reactor_log_level))
{
	enum reactor_log_level level;
	const char *text;

	if (reactor_rpc_decode_params(req, params, "{s:s !}", "level", &text) != 0)
		return;
	if (reactor_log_level_parse(text, &level) != 0) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field 'level': unknown log level '%s' (expected "
				       "ERROR, WARNING, NOTICE, INFO, DEBUG or DISABLED)", text);
		return;
	}
	set(level);
	reactor_rpc_send_bool(req, true);
}

static void log_set_level(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)ctx;
	set_level(req, params, reactor_log_set_level);
}

static void log_set_print_level(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)ctx;
	set_level(req, params, reactor_log_set_print_level);
}

static void log_get_level(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)ctx;
	if (no_params(req, params, "log_get_level"))
		reactor_rpc_send_result(req, json_string(level_name(reactor_log_get_level())));
}

static void log_get_print_level(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)ctx;
	if (no_params(req, params, "log_get_print_level"))
		reactor_rpc_send_result(req, json_string(level_name(reactor_log_get_print_level())));
}

struct flag_search {
	const char *name;
	bool found;
	json_t *all;
};

static void flag_visit(const char *name, bool enabled, void *arg)
{
	struct flag_search *s = arg;

	if (s->name != NULL && strcmp(name, s->name) == 0)
		s->found = true;
	if (s->all != NULL)
		json_object_set_new(s->all, name, json_boolean(enabled));
}

static void set_flag(struct reactor_rpc_request *req, const json_t *params, bool enable)
{
	struct flag_search s = {0};
	const char *name;
	int rc;

	if (reactor_rpc_decode_params(req, params, "{s:s !}", "flag", &name) != 0)
		return;
	/* Only existing flags: a client must not grow the registry at will. */
	s.name = name;
	reactor_log_foreach_flag(flag_visit, &s);
	if (!s.found && strcmp(name, "all") != 0) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field 'flag': no log flag named '%s' (see "
				       "log_get_flags)", name);
		return;
	}
	rc = enable ? reactor_log_set_flag(name) : reactor_log_clear_flag(name);
	if (rc != 0 && !(rc == -ENOENT && strcmp(name, "all") == 0)) {
		reactor_rpc_send_error(req, rc, "Cannot change log flag '%s': %s", name, strerror(-rc));
		return;
	}
	reactor_rpc_send_bool(req, true);
}

static void log_set_flag(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)ctx;
	set_flag(req, params, true);
}

static void log_clear_flag(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)ctx;
	set_flag(req, params, false);
}

static void log_get_flags(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	struct flag_search s = {0};

	(void)ctx;
	if (!no_params(req, params, "log_get_flags"))
		return;
	s.all = json_object();
	reactor_log_foreach_flag(flag_visit, &s);
	reactor_rpc_send_result(req, s.all);
}

/* ---- the "reactor" subsystem: what save_config records of the framework --------------- */

static void reactor_write_config(json_t *calls)
{
	int first = -1;
	bool same = true;
	uint32_t c;

	if (reactor_get_core_count() == 0)
		return;
	REACTOR_FOREACH_CORE(c) {
		int p = reactor_get_idle_policy(c);

		if (first < 0)
			first = p;
		else if (p != first)
			same = false;
	}
	if (same) {
		json_array_append_new(calls, json_pack("{s:s, s:{s:s}}", "method",
						       "framework_set_idle_policy", "params", "policy",
						       policy_name(first)));
	} else {
		REACTOR_FOREACH_CORE(c)
			json_array_append_new(calls, json_pack("{s:s, s:{s:s, s:i}}", "method",
							       "framework_set_idle_policy", "params",
							       "policy",
							       policy_name(reactor_get_idle_policy(c)),
							       "core", (int)c));
	}
	json_array_append_new(calls, json_pack("{s:s, s:{s:I}}", "method",
					       "framework_set_stall_threshold", "params", "threshold_ms",
					       (json_int_t)stall_get_threshold()));
}

static const struct reactor_subsystem g_reactor_subsystem = {
	.size = sizeof(struct reactor_subsystem),
	.name = "reactor",
	.write_config = reactor_write_config,
};

/* ---- registration -------------------------------------------------------------------------- */

#define BOTH (REACTOR_RPC_STARTUP | REACTOR_RPC_RUNTIME)

static const struct {
	const char *name;
	reactor_rpc_method_fn fn;
	uint32_t mask;
} g_builtin[] = {
	{"rpc_get_methods", rpc_get_methods, BOTH},
	{"reactor_get_version", reactor_get_version, BOTH},
	{"framework_start_init", framework_start_init, REACTOR_RPC_STARTUP},
	{"framework_wait_init", framework_wait_init, BOTH},
	{"framework_get_subsystems", framework_get_subsystems, BOTH},
	{"framework_get_config", framework_get_config, REACTOR_RPC_RUNTIME},
	{"save_config", save_config, REACTOR_RPC_RUNTIME},
	{"framework_get_reactors", framework_get_reactors, BOTH},
	{"framework_set_idle_policy", framework_set_idle_policy, BOTH},
	{"framework_get_idle_policy", framework_get_idle_policy, BOTH},
	{"framework_set_stall_threshold", framework_set_stall_threshold, BOTH},
	{"framework_get_stall_threshold", framework_get_stall_threshold, BOTH},
	{"thread_get_stats", thread_get_stats, BOTH},
	{"thread_get_pollers", thread_get_pollers, BOTH},
	{"thread_get_io_channels", thread_get_io_channels, BOTH},
	{"log_set_level", log_set_level, BOTH},
	{"log_get_level", log_get_level, BOTH},
	{"log_set_print_level", log_set_print_level, BOTH},
	{"log_get_print_level", log_get_print_level, BOTH},
	{"log_set_flag", log_set_flag, BOTH},
	{"log_clear_flag", log_clear_flag, BOTH},
	{"log_get_flags", log_get_flags, BOTH},
};

void rpc_methods_register_builtin(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	for (size_t i = 0; i < sizeof(g_builtin) / sizeof(g_builtin[0]); i++)
		if (reactor_rpc_register_method(g_builtin[i].name, g_builtin[i].fn, NULL,
						g_builtin[i].mask) != 0)
			REACTOR_ERRLOG("rpc: cannot register built-in method %s", g_builtin[i].name);
	if (reactor_subsystem_register(&g_reactor_subsystem) != 0)
		REACTOR_ERRLOG("cannot register the 'reactor' subsystem");
}

/* Built-ins exist before any program constructor runs (the library's run first). */
__attribute__((constructor)) static void rpc_methods_ctor(void)
{
	rpc_methods_register_builtin();
}
