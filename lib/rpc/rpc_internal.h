/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control plane's private interfaces: the JSON-RPC core (lib/rpc/server.c),
 * the built-in methods (lib/rpc/methods.c), subsystems (lib/subsystem.c), the
 * JSON config (lib/config.c) and the app's init sequence (lib/init.c).
 * Nothing here is part of the ABI.
 */
#ifndef REACTOR_RPC_INTERNAL_H
#define REACTOR_RPC_INTERNAL_H

#include "../internal.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the RPC core (lib/rpc/server.c) ------------------------------------ */

/* Defaults of the app options. */
#define RPC_DEFAULT_SOCKET_MODE 0600u
#define RPC_DEFAULT_MAX_REQUEST (1u << 20)

/*
 * The lightweight thread that serves requests and on which handlers run
 * (the app thread, or the fuzzer's own). Responses sent from elsewhere are
 * handed to it by message. Sets the state to STARTUP.
 */
void rpc_core_attach(struct reactor_thread *home);
/* Forget the home thread and free every request still unanswered (after
 * the reactors stopped, or at the end of a fuzz input). */
void rpc_core_detach(void);
void rpc_set_state(uint32_t state);
/* Name of a state for messages ("STARTUP", "RUNTIME"). */
const char *rpc_state_name(uint32_t state);
/* The state mask of method @p name: 0, or -ENOENT when unknown. */
int rpc_method_state_mask(const char *name, uint32_t *mask);
/* Sorted JSON array of method names (only those allowed now if @p current). */
json_t *rpc_method_names(bool current);

/*
 * An in-process call through the same dispatcher as socket requests.
 * On the home thread. @p params is borrowed. @p cb runs on the home thread
 * once the method answers (maybe before rpc_call_local() returns) with the
 * result (error == NULL) or the error object {"code", "message"}; both
 * borrowed for the duration of the callback.
 */
typedef void (*rpc_local_cb)(const json_t *result, const json_t *error, void *ctx);
void rpc_call_local(const char *method, const json_t *params, rpc_local_cb cb, void *ctx);

/* The socket server. rpc_server_listen() runs on the thread that calls
 * reactor_app_start(), before the framework starts, so a bad path or a live
 * socket fails the start at once; rpc_server_start() registers the socket
 * on the home thread; rpc_server_stop() closes every connection and
 * removes the socket and its lock file (idempotent, home thread or after
 * the reactors stopped). */
int rpc_server_listen(const char *path, uint32_t mode, int32_t gid, uint32_t max_request);
int rpc_server_start(void);
void rpc_server_stop(void);

/*
 * Fuzzing/test entry point: feed @p len bytes to a fake connection as if
 * they were read from a socket in reads of at most @p chunk bytes (0: one
 * read), then poll the current thread until every request has been
 * answered or @p max_polls polls have passed. Complete responses (one
 * JSON text and a newline each) go to @p out. Returns the number of
 * requests still unanswered (0 normally). Needs rpc_core_attach() to the
 * current thread first.
 */
size_t rpc_process_buffer(const uint8_t *data, size_t len, size_t chunk, uint32_t max_request,
			  void (*out)(const char *buf, size_t len, void *ctx), void *ctx,
			  uint32_t max_polls);

/* ---- built-in methods (lib/rpc/methods.c) ------------------------------- */
void rpc_methods_register_builtin(void);

/* ---- subsystems (lib/subsystem.c) --------------------------------------- */
/* Freeze the registry and sort it by dependencies. -EINVAL (unknown
 * dependency or cycle, logged). Before the framework starts. */
int subsystems_prepare(void);
/* Unfreeze after the app has ended. */
void subsystems_release(void);
/* Initialise in order on the home thread; @p done(rc) runs there when all
 * are initialised or one failed (those before it stay initialised). */
void subsystems_init(void (*done)(int rc, void *ctx), void *ctx);
/* Ask a running subsystems_init() to stop after the current step (its done
 * then gets -ECANCELED). */
void subsystems_cancel_init(void);
/* Finalise the initialised subsystems in reverse order; then @p done. */
void subsystems_fini(void (*done)(void *ctx), void *ctx);
/* Number of registered subsystems, and the i-th in init order (after
 * subsystems_prepare(); registration order before). */
size_t subsystems_count(void);
const struct reactor_subsystem *subsystems_get(size_t i);
const struct reactor_subsystem *subsystem_find(const char *name);
/* The subsystem's configuration: a JSON array of calls, or JSON null when
 * it has no write_config. New reference. */
json_t *subsystem_config(const struct reactor_subsystem *s);

/* ---- JSON config (lib/config.c) ----------------------------------------- */
/* Read and check the shape of @p path. Errors name the file and are logged. */
int config_load_file(const char *path, json_t **out);
/* Replay the calls of @p cfg allowed in @p pass (REACTOR_RPC_STARTUP: those
 * allowed at startup; REACTOR_RPC_RUNTIME: the runtime-only ones), in
 * subsystem init order, on the home thread; then @p done(rc). */
void config_replay(const json_t *cfg, const char *path, uint32_t pass, bool ignore_errors,
		   void (*done)(int rc, void *ctx), void *ctx);
/* The whole configuration {"subsystems": [...]}. New reference. */
json_t *config_save(void);

/* ---- the app's init sequence (lib/init.c) ------------------------------- */
/* Before reactor_framework_init(): check and load what can fail early. */
int app_init_prepare(const struct reactor_app_opts *opts);
/* On the app thread: serve RPC, replay the config, initialise subsystems,
 * then run @p start_fn(@p ctx). */
void app_init_start(reactor_msg_fn start_fn, void *ctx);
/* On the app thread when the app stops: stop the RPC server, finalise
 * subsystems, then call reactor_framework_stop(). */
void app_init_shutdown(void);
/* The app thread began exiting (the framework was stopped directly). */
void app_init_thread_exit(void);
/* After the reactors stopped: free and remove everything. */
void app_init_cleanup(void);
/* framework_start_init and framework_wait_init. */
void app_init_rpc_start_init(struct reactor_rpc_request *req);
void app_init_rpc_wait_init(struct reactor_rpc_request *req);

/* ---- app (lib/app.c) ---------------------------------------------------- */
/* The status reactor_app_start() will return, set by a failed init. */
void app_fail(int rc);

#endif
