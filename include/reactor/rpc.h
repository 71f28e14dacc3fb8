/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file reactor/rpc.h
 * JSON-RPC 2.0 over a Unix stream socket.
 *
 * The app layer serves the socket named by reactor_app_opts.rpc_addr
 * (-r/--rpc-socket) on the app thread, through fd events (an idle app
 * sleeps). Methods are registered by name with the states in which they
 * may be called; a handler receives the request's params and answers
 * once, at once or later (asynchronous methods answer from a completion
 * callback, on any thread).
 *
 * Protocol: plain JSON-RPC 2.0. A connection may send many requests, one
 * after another or several in one write, and a request may arrive in any
 * number of pieces; up to 128 clients may be connected at once. Each response is one complete JSON text followed by a
 * newline. Batches (a JSON array of requests) get one array of responses;
 * notifications (no "id") get none. Errors: -32700 malformed JSON (and a
 * request larger than reactor_app_opts.rpc_max_request_size, after which
 * the connection is closed), -32600 not a valid request, -32601 unknown
 * method (named), -32602 bad params (the field and what was expected are
 * named), REACTOR_RPC_INVALID_STATE (-1) a method not allowed in the
 * current state (named). Built-in methods follow SPDK's names and shapes
 * (rpc_get_methods, framework_*, thread_*, log_*, save_config ...); see
 * libreactor(7).
 *
 * This API exposes jansson's json_t (Debian: libjansson-dev), and so does
 * libreactor.pc (Requires: jansson). Ownership follows jansson's rules:
 * "borrowed" references must not be decref'ed, "stolen" ones are consumed.
 *
 * Threading: reactor_rpc_register_method() may be called from any thread,
 * typically before reactor_app_start() (e.g. from a constructor or a
 * subsystem's init). Handlers run on the app thread. The send functions may
 * be called from any thread; the response is written on the app thread.
 */
#ifndef REACTOR_RPC_H
#define REACTOR_RPC_H

#include <reactor/export.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

REACTOR_BEGIN_DECLS

/** Server states a method may be allowed in (bit mask). */
#define REACTOR_RPC_STARTUP 0x1u /**< before initialisation (with --wait-for-rpc: until framework_start_init) */
#define REACTOR_RPC_RUNTIME 0x2u /**< after the subsystems have been initialised */

/** JSON-RPC 2.0 error codes. */
#define REACTOR_RPC_PARSE_ERROR (-32700)
#define REACTOR_RPC_INVALID_REQUEST (-32600)
#define REACTOR_RPC_METHOD_NOT_FOUND (-32601)
#define REACTOR_RPC_INVALID_PARAMS (-32602)
#define REACTOR_RPC_INTERNAL_ERROR (-32603)
/** The method exists but is not allowed in the server's current state (SPDK's code). */
#define REACTOR_RPC_INVALID_STATE (-1)

/**
 * One request being handled. Valid until its response is sent: after
 * reactor_rpc_send_*() returns, the pointer must not be used again. A
 * request whose client has disconnected is still answered normally (the
 * answer is dropped). Requests not answered when reactor_app_start()
 * returns are freed then; answering one afterwards is not allowed.
 */
struct reactor_rpc_request;

/**
 * A method handler, called on the app thread. @p params is borrowed: the
 * request's "params" (an object or an array), or NULL when it had none,
 * valid until the handler returns (strings decoded from it too); to use it
 * later, json_incref() it on the app thread. The handler must eventually
 * send exactly one response with reactor_rpc_send_*() (for a notification
 * it is discarded). @p ctx is the one given at registration.
 */
typedef void (*reactor_rpc_method_fn)(struct reactor_rpc_request *req, const json_t *params,
				      void *ctx);

/**
 * Register method @p name (copied; at most 127 bytes). @p state_mask is
 * REACTOR_RPC_STARTUP and/or REACTOR_RPC_RUNTIME. Any thread, at any time.
 * Returns 0, -EEXIST (name taken, built-in names included), -EINVAL (NULL
 * or empty name, NULL fn, bad mask) or -ENOMEM.
 */
REACTOR_EXPORT int reactor_rpc_register_method(const char *name, reactor_rpc_method_fn fn, void *ctx,
					       uint32_t state_mask);

/** Send @p result (stolen; NULL sends JSON null) as the response. Any thread. */
REACTOR_EXPORT void reactor_rpc_send_result(struct reactor_rpc_request *req, json_t *result);

/** Send true or false as the response (SPDK's convention for methods with no result). Any thread. */
REACTOR_EXPORT void reactor_rpc_send_bool(struct reactor_rpc_request *req, bool value);

/**
 * Send an error response with @p code and a printf-formatted message
 * (truncated to 1023 bytes). Use REACTOR_RPC_INVALID_PARAMS with a message
 * naming the field and what was expected, or a negative errno for a
 * failure of the method itself (e.g. -ENOENT "no bdev named x"). Any thread.
 */
REACTOR_EXPORT void reactor_rpc_send_error(struct reactor_rpc_request *req, int code, const char *fmt,
					   ...) REACTOR_PRINTF(3, 4);

/**
 * Decode @p params with a jansson unpack format and its arguments, as
 * json_unpack() takes them (e.g. "{s:s, s?I !}", "name", &name, "size",
 * &size; end an object with '!' to refuse unknown fields). Params absent
 * (NULL) decode as an empty object. On failure sends a -32602 error naming
 * the field and the problem ("Invalid params: missing required field
 * 'name'", "Invalid params: field 'size': expected integer, got string",
 * "Invalid params: unexpected field(s) in params: sise") and returns
 * -EINVAL; the handler must then return without sending anything else.
 * Returns 0 on success. Strings decoded with "s" point into @p params.
 * On the app thread (in the handler).
 */
REACTOR_EXPORT int reactor_rpc_decode_params(struct reactor_rpc_request *req, const json_t *params,
					     const char *fmt, ...);

/** The current server state (REACTOR_RPC_STARTUP or REACTOR_RPC_RUNTIME). Any thread. */
REACTOR_EXPORT uint32_t reactor_rpc_get_state(void);

REACTOR_END_DECLS

#endif
