/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The app's init sequence and its mirror at shutdown, on the app thread:
 *
 *   RPC server up (state STARTUP) -> config: startup calls
 *   -> [--wait-for-rpc: wait for framework_start_init]
 *   -> subsystems init in dependency order -> state RUNTIME
 *   -> config: runtime calls -> framework_wait_init answered -> start_fn
 *
 *   reactor_app_stop(): RPC server down -> subsystems fini in reverse
 *   -> reactor_framework_stop()
 *
 * What can fail without the reactors (a bad socket path, a live socket,
 * an unreadable config, a dependency cycle) fails in app_init_prepare(),
 * before anything starts. A stop requested while a step is in flight waits
 * for that step (a subsystem's init is never abandoned half-way).
 */
#include "config.h"
#include "rpc/rpc_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum init_phase {
	PH_IDLE,           /* no app */
	PH_STARTUP_CONFIG, /* replaying the config's startup calls */
	PH_WAIT_RPC,       /* waiting for framework_start_init */
	PH_INIT,           /* subsystems initialising */
	PH_RUNTIME_CONFIG, /* replaying the config's runtime calls */
	PH_RUNNING,        /* start_fn has run */
	PH_FAILED,         /* init failed; shutting down */
	PH_STOPPING,       /* finalising */
};

static struct {
	enum init_phase phase;
	bool prepared;
	json_t *config;
	const char *config_path;
	bool ignore_errors;
	bool wait_for_rpc;
	bool stop_requested;
	bool shutdown_done;
	reactor_msg_fn start_fn;
	void *start_ctx;
	struct reactor_rpc_request *start_req; /* framework_start_init being served */
	struct reactor_rpc_request **waiters;  /* framework_wait_init */
	size_t nwaiters, cap_waiters;
} g_init;

int app_init_prepare(const struct reactor_app_opts *o)
{
	int rc;

	memset(&g_init, 0, sizeof(g_init));
	if (o->wait_for_rpc && o->rpc_addr == NULL) {
		REACTOR_ERRLOG("%s: --wait-for-rpc needs an RPC socket (-r/--rpc-socket)", o->name);
		return -EINVAL;
	}
	if (o->rpc_socket_mode > 0777) {
		REACTOR_ERRLOG("%s: RPC socket mode %o is not a permission mode (0 to 0777)", o->name,
			       (unsigned)o->rpc_socket_mode);
		return -EINVAL;
	}
	if (o->rpc_max_request_size == 0) {
		REACTOR_ERRLOG("%s: rpc_max_request_size must not be 0", o->name);
		return -EINVAL;
	}
	g_init.prepared = true;
	rc = subsystems_prepare();
	if (rc != 0)
		goto fail;
	if (o->json_config_file != NULL) {
		rc = config_load_file(o->json_config_file, &g_init.config);
		if (rc != 0)
			goto fail;
		g_init.config_path = o->json_config_file;
	}
	g_init.ignore_errors = o->json_config_ignore_errors;
	g_init.wait_for_rpc = o->wait_for_rpc;
	if (o->rpc_addr != NULL) {
		rc = rpc_server_listen(o->rpc_addr, o->rpc_socket_mode, o->rpc_socket_gid,
				       o->rpc_max_request_size);
		if (rc != 0)
			goto fail;
	}
	return 0;
fail:
	app_init_cleanup();
	return rc;
}

/* ---- answering framework_start_init and framework_wait_init -------------------- */

static void answer_waiters(int rc, const char *why)
{
	struct reactor_rpc_request *start = g_init.start_req;

	g_init.start_req = NULL;
	if (start != NULL) {
		if (rc == 0)
			reactor_rpc_send_bool(start, true);
		else
			reactor_rpc_send_error(start, rc, "Initialisation failed: %s", why);
	}
	for (size_t i = 0; i < g_init.nwaiters; i++) {
		if (rc == 0)
			reactor_rpc_send_bool(g_init.waiters[i], true);
		else
			reactor_rpc_send_error(g_init.waiters[i], rc, "Initialisation failed: %s", why);
	}
	free(g_init.waiters);
	g_init.waiters = NULL;
	g_init.nwaiters = g_init.cap_waiters = 0;
}

/* ---- shutdown ------------------------------------------------------------------------ */

static void fini_done(void *ctx)
{
	(void)ctx;
	reactor_framework_stop();
}

/* Shut down unless a step is in flight (its completion calls this again). */
static void try_shutdown(void)
{
	if (!g_init.stop_requested || g_init.shutdown_done)
		return;
	switch (g_init.phase) {
	case PH_STARTUP_CONFIG:
	case PH_INIT:
	case PH_RUNTIME_CONFIG:
		return;
	default:
		break;
	}
	g_init.shutdown_done = true;
	g_init.phase = PH_STOPPING;
	answer_waiters(-ESHUTDOWN, "the app is stopping");
	rpc_server_stop();
	subsystems_fini(fini_done, NULL);
}

void app_init_shutdown(void)
{
	g_init.stop_requested = true;
	if (g_init.phase == PH_INIT)
		subsystems_cancel_init();
	try_shutdown();
}

static void init_failed(int rc)
{
	const char *why = rc == -ECANCELED ? "the app was stopped" : strerror(-rc);

	g_init.phase = PH_FAILED;
	answer_waiters(rc, why);
	app_fail(rc);
	try_shutdown();
}

/* ---- the init sequence ----------------------------------------------------------------- */

static void runtime_config_done(int rc, void *ctx)
{
	(void)ctx;
	if (rc != 0) {
		init_failed(rc);
		return;
	}
	g_init.phase = PH_RUNNING;
	answer_waiters(0, NULL);
	if (g_init.stop_requested) {
		try_shutdown();
		return;
	}
	REACTOR_INFOLOG("initialisation done; running the app");
	g_init.start_fn(g_init.start_ctx);
}

static void subsystems_done(int rc, void *ctx)
{
	(void)ctx;
	if (rc != 0) {
		init_failed(rc);
		return;
	}
	rpc_set_state(REACTOR_RPC_RUNTIME);
	if (g_init.config == NULL) {
		runtime_config_done(0, NULL);
		return;
	}
	g_init.phase = PH_RUNTIME_CONFIG;
	config_replay(g_init.config, g_init.config_path, REACTOR_RPC_RUNTIME, g_init.ignore_errors,
		      runtime_config_done, NULL);
}

static void begin_init(void)
{
	g_init.phase = PH_INIT;
	subsystems_init(subsystems_done, NULL);
}

static void startup_config_done(int rc, void *ctx)
{
	(void)ctx;
	if (rc != 0) {
		init_failed(rc);
		return;
	}
	if (g_init.stop_requested) {
		g_init.phase = PH_WAIT_RPC;
		try_shutdown();
		return;
	}
	if (g_init.wait_for_rpc && g_init.start_req == NULL) {
		g_init.phase = PH_WAIT_RPC;
		REACTOR_NOTICELOG("waiting for framework_start_init on the RPC socket");
		return;
	}
	begin_init();
}

void app_init_start(reactor_msg_fn start_fn, void *ctx)
{
	int rc;

	g_init.start_fn = start_fn;
	g_init.start_ctx = ctx;
	rpc_core_attach(tls_thread);
	rc = rpc_server_start();
	if (rc != 0) {
		init_failed(rc);
		return;
	}
	g_init.phase = PH_STARTUP_CONFIG;
	if (g_init.config == NULL) {
		startup_config_done(0, NULL);
		return;
	}
	config_replay(g_init.config, g_init.config_path, REACTOR_RPC_STARTUP, g_init.ignore_errors,
		      startup_config_done, NULL);
}

void app_init_rpc_start_init(struct reactor_rpc_request *req)
{
	switch (g_init.phase) {
	case PH_WAIT_RPC:
		if (g_init.stop_requested)
			break;
		g_init.start_req = req;
		begin_init();
		return;
	case PH_STARTUP_CONFIG:
		/* --wait-for-rpc with a config: start as soon as its startup calls are done. */
		if (g_init.wait_for_rpc && g_init.start_req == NULL && !g_init.stop_requested) {
			g_init.start_req = req;
			return;
		}
		/* fall through */
	case PH_INIT:
	case PH_RUNTIME_CONFIG:
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_STATE,
				       "Initialisation is already in progress%s",
				       g_init.wait_for_rpc ? "" : " (the app was not started with "
								  "--wait-for-rpc)");
		return;
	case PH_IDLE:
		reactor_rpc_send_error(req, -ENODEV, "No app is running");
		return;
	default:
		break;
	}
	reactor_rpc_send_error(req, REACTOR_RPC_INVALID_STATE, "The app is stopping");
}

void app_init_rpc_wait_init(struct reactor_rpc_request *req)
{
	switch (g_init.phase) {
	case PH_RUNNING:
		reactor_rpc_send_bool(req, true);
		return;
	case PH_IDLE:
		reactor_rpc_send_error(req, -ENODEV, "No app is running");
		return;
	case PH_FAILED:
	case PH_STOPPING:
		reactor_rpc_send_error(req, -ESHUTDOWN, "The app is stopping");
		return;
	default:
		break;
	}
	if (g_init.nwaiters == g_init.cap_waiters) {
		size_t cap = g_init.cap_waiters ? g_init.cap_waiters * 2 : 8;
		struct reactor_rpc_request **w = realloc(g_init.waiters, cap * sizeof(*w));

		if (w == NULL) {
			reactor_rpc_send_error(req, REACTOR_RPC_INTERNAL_ERROR,
					       "Internal error: out of memory");
			return;
		}
		g_init.waiters = w;
		g_init.cap_waiters = cap;
	}
	g_init.waiters[g_init.nwaiters++] = req;
}

void app_init_thread_exit(void)
{
	/* Normally done already; not when the framework was stopped directly. */
	rpc_server_stop();
}

void app_init_cleanup(void)
{
	if (!g_init.prepared)
		return;
	/* Requests still waiting are freed with the server. */
	free(g_init.waiters);
	g_init.waiters = NULL;
	g_init.nwaiters = 0;
	g_init.start_req = NULL;
	rpc_core_detach();
	json_decref(g_init.config);
	g_init.config = NULL;
	subsystems_release();
	g_init.prepared = false;
	g_init.phase = PH_IDLE;
}
