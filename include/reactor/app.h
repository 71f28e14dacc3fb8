/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file reactor/app.h
 * The application layer: start reactors, run the program, stop cleanly.
 *
 * reactor_app_start() blocks the calling OS thread (it becomes the main
 * core's reactor) and runs @p start_fn on the *app thread*, a lightweight
 * thread on the main core, once the control plane is up: the JSON-RPC
 * server (rpc_addr, reactor/rpc.h), the config file's calls and the
 * subsystems' init (reactor/subsystem.h). It returns when
 * reactor_app_stop() has been called and everything has shut down, or
 * with an error if initialisation fails (start_fn is then never called).
 *
 * Signals: unless handle_signals is false, SIGINT and SIGTERM call the
 * user's shutdown_cb on the app thread (it must eventually call
 * reactor_app_stop()); without a shutdown_cb the app stops with status 0.
 * SIGPIPE is ignored.
 */
#ifndef REACTOR_APP_H
#define REACTOR_APP_H

#include <reactor/export.h>
#include <reactor/thread.h>
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

REACTOR_BEGIN_DECLS

/** Called on the app thread when SIGINT/SIGTERM arrive (or reactor_app_start_shutdown()). */
typedef void (*reactor_app_shutdown_fn)(void *ctx);

/**
 * Options for reactor_app_start(). Initialise with reactor_app_opts_init();
 * later releases only add fields at the end, and a program compiled
 * against an older, smaller struct keeps working (opts_size says which
 * fields it knows; the rest take their defaults).
 */
struct reactor_app_opts {
	/** sizeof(struct reactor_app_opts) as the caller compiled it. */
	size_t opts_size;
	/** Program name used in logs and --help (default "reactor_app"). */
	const char *name;
	/** CPU set text (-m); NULL: every CPU the process may use. */
	const char *cpumask;
	/** Main core (-p); -1: first core of the mask. */
	int32_t main_core;
	/** enum reactor_idle_policy (--idle-policy; default REACTOR_IDLE_POLL). */
	uint32_t idle_policy;
	/** Adaptive policy: idle time before a reactor sleeps, microseconds (default 100). */
	uint32_t idle_threshold_us;
	/** Stall detector bound in ms (--stall-threshold; default 25; 0 disables). */
	uint32_t stall_threshold_ms;
	/** Install SIGINT/SIGTERM handlers and ignore SIGPIPE (default true). */
	bool handle_signals;
	/** Called on the app thread on SIGINT/SIGTERM; NULL: stop with status 0. */
	reactor_app_shutdown_fn shutdown_cb;
	/** Argument for shutdown_cb. */
	void *shutdown_ctx;
	/** enum reactor_log_level printed to stderr (--log-level; default NOTICE). */
	int32_t print_level;
	/** Capacity of each reactor's event ring (default 65536). */
	uint32_t event_ring_size;
	/** Capacity of each thread's message ring (default 16384). */
	uint32_t msg_ring_size;
	/** Objects in the event/message pool (default 262144). */
	uint32_t msg_pool_size;
	/** Bound on each thread's exit at shutdown, ms (default 5000). */
	uint32_t thread_exit_timeout_ms;

	/* ---- control plane (reactor/rpc.h, reactor/subsystem.h) ---- */
	/**
	 * Unix socket path of the JSON-RPC server (-r/--rpc-socket); NULL: no
	 * server. A lock file PATH.lock marks it in use: a socket left by a dead
	 * process is replaced, one a live process serves is refused. Both files
	 * are removed when the app ends.
	 */
	const char *rpc_addr;
	/** Permission bits of the socket file (--rpc-socket-mode; default 0600, owner only). */
	uint32_t rpc_socket_mode;
	/** Group of the socket file (--rpc-socket-group); -1 leaves it unchanged (default). */
	int32_t rpc_socket_gid;
	/** Largest accepted request in bytes; a larger one closes the connection (default 1 MiB). */
	uint32_t rpc_max_request_size;
	/**
	 * JSON config file replayed before start_fn (-c/--config), in SPDK's
	 * format, as save_config writes it; NULL: none. A failing call stops
	 * the start (reactor_app_start() returns the error, which is logged
	 * naming the file, the subsystem, the method and the reason).
	 */
	const char *json_config_file;
	/** Start even if calls of the config file fail (--json-ignore-init-errors). */
	bool json_config_ignore_errors;
	/** Serve only startup RPC methods until framework_start_init (--wait-for-rpc). */
	bool wait_for_rpc;
};

/** Fill @p opts with defaults. @p opts_size is sizeof(*opts). Any thread. */
REACTOR_EXPORT void reactor_app_opts_init(struct reactor_app_opts *opts, size_t opts_size);

/**
 * Start the framework and run @p start_fn(@p ctx) on the app thread. Blocks.
 * Returns the status given to reactor_app_stop(), or a negative errno when
 * initialisation failed: -EINVAL (bad options, or an opts_size smaller
 * than sizeof(size_t) or larger than this library's struct; a malformed
 * config file or a failing config call; a subsystem dependency that is
 * unknown or circular; the reason is logged),
 * -EALREADY (an app is already running in this process), -ENOMEM,
 * -ENAMETOOLONG (rpc_addr longer than a Unix socket path allows),
 * -EADDRINUSE (another live process serves rpc_addr), -EEXIST (rpc_addr
 * exists and is not a socket), -ENOENT (config file not found), the error
 * a subsystem's init reported, or the errno of the failing system call.
 * Call from an ordinary OS thread that is not a reactor.
 */
REACTOR_EXPORT int reactor_app_start(const struct reactor_app_opts *opts, reactor_msg_fn start_fn,
				     void *ctx);

/**
 * Stop the app: the RPC server closes, the initialised subsystems are
 * finalised in reverse order, the framework shuts down and
 * reactor_app_start() returns @p rc. Any thread. Only the first call's rc
 * counts.
 */
REACTOR_EXPORT void reactor_app_stop(int rc);

/**
 * Do what SIGTERM does: call shutdown_cb on the app thread, or stop with 0
 * when there is none. Any thread.
 */
REACTOR_EXPORT void reactor_app_start_shutdown(void);

/** Results of reactor_app_parse_args(). */
enum reactor_app_parse_args_result {
	REACTOR_APP_PARSE_ARGS_SUCCESS = 0, /**< run the program */
	REACTOR_APP_PARSE_ARGS_HELP = 1,    /**< --help or --version printed: exit 0 */
	REACTOR_APP_PARSE_ARGS_FAIL = 2,    /**< bad arguments, message printed: exit non-zero */
};

/**
 * Handles one of the program's own options; return 0 or a negative errno
 * (bad value). @p ch is the option's getopt value: its letter, or the val
 * of its struct option. Values 0x100 to 0x1ff are reserved for libreactor's
 * own long-only options; give long-only program options values from 0x200.
 */
typedef int (*reactor_app_parse_fn)(int ch, char *arg, void *ctx);
/** Prints the program's own options for --help. */
typedef void (*reactor_app_usage_fn)(FILE *out, void *ctx);

/**
 * Parse the standard options into @p opts, and the program's own through
 * @p app_parse. Standard options: -m/--cpumask MASK, -p/--main-core CORE,
 * -L/--logflag FLAG (repeatable), --log-level LEVEL, --idle-policy
 * poll|adaptive, --stall-threshold MS, -h/--help, -v/--version.
 * Control plane: -r/--rpc-socket PATH, --rpc-socket-mode OCTAL,
 * --rpc-socket-group GROUP, -c/--config FILE, --json-ignore-init-errors,
 * --wait-for-rpc.
 * @p app_getopt_str and @p app_long_opts (terminated by a zero entry; may
 * be NULL) add the program's options; they must not reuse the standard
 * letters. Errors name the bad argument on stderr. On SUCCESS, optind
 * indexes the first non-option argument. Strings in @p opts point into
 * @p argv. Call before reactor_app_start(), on one thread.
 */
REACTOR_EXPORT int reactor_app_parse_args(int argc, char **argv, struct reactor_app_opts *opts,
					  const char *app_getopt_str,
					  const struct option *app_long_opts,
					  reactor_app_parse_fn app_parse,
					  reactor_app_usage_fn app_usage, void *ctx);

/** Print the standard options' help to @p out. */
REACTOR_EXPORT void reactor_app_usage(FILE *out);

REACTOR_END_DECLS

#endif
