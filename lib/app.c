/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The app layer: options, signals, the app thread, start and stop.
 *
 * Signals are turned into an eventfd write (the only async-signal-safe
 * thing we need), and the eventfd is an fd event of the app thread, so
 * shutdown_cb runs as ordinary code on the app thread.
 */
#include "config.h"
#include "internal.h"
#include "rpc/rpc_internal.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static struct {
	_Atomic bool running;
	_Atomic bool stopping;
	_Atomic int rc;
	struct reactor_app_opts opts;
	struct reactor_thread *_Atomic thread;
	_Atomic uint64_t thread_id;
	struct reactor_fd_event *signal_ev;
	int signal_fd;
	reactor_msg_fn start_fn;
	void *start_ctx;
	struct sigaction old_int, old_term, old_pipe;
	bool signals_installed;
} g_app = {.signal_fd = -1};

/* Read from the signal handler: a plain int, set before handlers exist. */
static volatile sig_atomic_t g_signal_fd = -1;

void reactor_app_opts_init(struct reactor_app_opts *opts, size_t opts_size)
{
	struct reactor_app_opts d = {
		.opts_size = opts_size,
		.name = "reactor_app",
		.cpumask = NULL,
		.main_core = -1,
		.idle_policy = REACTOR_IDLE_POLL,
		.idle_threshold_us = DEFAULT_IDLE_THRESHOLD_US,
		.stall_threshold_ms = DEFAULT_STALL_THRESHOLD_MS,
		.handle_signals = true,
		.shutdown_cb = NULL,
		.shutdown_ctx = NULL,
		.print_level = REACTOR_LOG_NOTICE,
		.event_ring_size = DEFAULT_EVENT_RING_SIZE,
		.msg_ring_size = DEFAULT_MSG_RING_SIZE,
		.msg_pool_size = DEFAULT_MSG_POOL_SIZE,
		.thread_exit_timeout_ms = DEFAULT_THREAD_EXIT_TIMEOUT_MS,
		.rpc_addr = NULL,
		.rpc_socket_mode = RPC_DEFAULT_SOCKET_MODE,
		.rpc_socket_gid = -1,
		.rpc_max_request_size = RPC_DEFAULT_MAX_REQUEST,
		.json_config_file = NULL,
		.json_config_ignore_errors = false,
		.wait_for_rpc = false,
	};

	if (opts == NULL || opts_size < sizeof(size_t))
		return;
	memcpy(opts, &d, opts_size < sizeof(d) ? opts_size : sizeof(d));
}

struct reactor_thread *reactor_thread_get_app_thread(void)
{
	return atomic_load(&g_app.thread);
}

static void on_signal(int sig)
{
	uint64_t one = 1;
	int saved = errno;

	(void)sig;
	if (g_signal_fd >= 0 && write(g_signal_fd, &one, sizeof(one)) < 0) {
		/* counter full: a shutdown is already pending */
	}
	errno = saved;
}

static void shutdown_on_app_thread(void *arg)
{
	(void)arg;
	if (atomic_load(&g_app.stopping))
		return; /* already stopping: a second Ctrl-C changes nothing */
	if (g_app.opts.shutdown_cb != NULL)
		g_app.opts.shutdown_cb(g_app.opts.shutdown_ctx);
	else
		reactor_app_stop(0);
}

static int signal_fd_ready(void *arg, uint32_t events)
{
	uint64_t v;

	(void)arg;
	(void)events;
	if (read(g_app.signal_fd, &v, sizeof(v)) < 0)
		return REACTOR_POLLER_IDLE;
	REACTOR_NOTICELOG("%s: received a shutdown signal", g_app.opts.name);
	shutdown_on_app_thread(NULL);
	return REACTOR_POLLER_BUSY;
}

/* The app thread releases its fd event when it starts exiting. */
static void app_thread_exit_hook(void *arg)
{
	(void)arg;
	reactor_fd_unregister(&g_app.signal_ev);
	app_init_thread_exit();
}

static void app_thread_start(void *arg)
{
	(void)arg;
	if (g_app.signal_fd >= 0) {
		g_app.signal_ev = reactor_fd_register(g_app.signal_fd, REACTOR_FD_READ,
						      signal_fd_ready, NULL, "app_signals");
		if (g_app.signal_ev == NULL)
			REACTOR_ERRLOG("cannot watch the signal eventfd: %s", strerror(errno));
	}
	thread_set_exit_hook(reactor_get_thread(), app_thread_exit_hook, NULL);
	/* RPC server, config, subsystems; then start_fn (lib/init.c). */
	app_init_start(g_app.start_fn, g_app.start_ctx);
	/* A stop that came before this thread existed could not be sent here. */
	if (atomic_load(&g_app.stopping))
		app_init_shutdown();
}

static int install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, &g_app.old_pipe) != 0)
		return -errno;
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGINT, &sa, &g_app.old_int) != 0 || sigaction(SIGTERM, &sa, &g_app.old_term) != 0)
		return -errno;
	g_app.signals_installed = true;
	return 0;
}

static void restore_signals(void)
{
	if (!g_app.signals_installed)
		return;
	sigaction(SIGINT, &g_app.old_int, NULL);
	sigaction(SIGTERM, &g_app.old_term, NULL);
	sigaction(SIGPIPE, &g_app.old_pipe, NULL);
	g_app.signals_installed = false;
}

static int app_opts_import(const struct reactor_app_opts *in, struct reactor_app_opts *out)
{
	if (in == NULL) {
		reactor_app_opts_init(out, sizeof(*out));
		return 0;
	}
	if (in->opts_size < sizeof(size_t) || in->opts_size > sizeof(*out)) {
		REACTOR_ERRLOG("reactor_app_start: opts_size %zu is invalid: this library's "
			       "struct reactor_app_opts has %zu bytes (was opts initialised with "
			       "reactor_app_opts_init(&opts, sizeof(opts))?)",
			       in->opts_size, sizeof(*out));
		return -EINVAL;
	}
	reactor_app_opts_init(out, sizeof(*out));
	memcpy(out, in, in->opts_size);
	out->opts_size = sizeof(*out);
	if (out->name == NULL)
		out->name = "reactor_app";
	return 0;
}

int reactor_app_start(const struct reactor_app_opts *in, reactor_msg_fn start_fn, void *ctx)
{
	struct reactor_opts ro;
	struct reactor_cpuset *main_mask;
	struct reactor_thread *t;
	int rc;

	if (start_fn == NULL) {
		REACTOR_ERRLOG("reactor_app_start: start_fn is NULL");
		return -EINVAL;
	}
	if (atomic_exchange(&g_app.running, true)) {
		REACTOR_ERRLOG("reactor_app_start: an app is already running in this process");
		return -EALREADY;
	}
	rc = app_opts_import(in, &g_app.opts);
	if (rc != 0)
		goto out_running;
	if (g_app.opts.print_level < REACTOR_LOG_DISABLED || g_app.opts.print_level > REACTOR_LOG_DEBUG) {
		REACTOR_ERRLOG("reactor_app_start: print_level %d is not a log level",
			       g_app.opts.print_level);
		rc = -EINVAL;
		goto out_running;
	}
	reactor_log_set_print_level((enum reactor_log_level)g_app.opts.print_level);
	/* What can fail without reactors (RPC socket, config file, subsystem
	 * dependencies) fails here, before anything starts. */
	rc = app_init_prepare(&g_app.opts);
	if (rc != 0)
		goto out_running;

	reactor_opts_init(&ro, sizeof(ro));
	ro.cpumask = g_app.opts.cpumask;
	ro.main_core = g_app.opts.main_core;
	ro.idle_policy = g_app.opts.idle_policy;
	ro.idle_threshold_us = g_app.opts.idle_threshold_us;
	ro.stall_threshold_ms = g_app.opts.stall_threshold_ms;
	ro.event_ring_size = g_app.opts.event_ring_size;
	ro.msg_ring_size = g_app.opts.msg_ring_size;
	ro.msg_pool_size = g_app.opts.msg_pool_size;
	ro.thread_exit_timeout_ms = g_app.opts.thread_exit_timeout_ms;
	rc = reactor_framework_init(&ro);
	if (rc != 0)
		goto out_running;

	atomic_store(&g_app.stopping, false);
	atomic_store(&g_app.rc, 0);
	g_app.start_fn = start_fn;
	g_app.start_ctx = ctx;
	if (g_app.opts.handle_signals) {
		g_app.signal_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (g_app.signal_fd < 0 || (rc = install_signals()) != 0) {
			rc = rc ? rc : -errno;
			REACTOR_ERRLOG("cannot set up signal handling: %s", strerror(-rc));
			goto out_fini;
		}
		g_signal_fd = g_app.signal_fd;
	}

	main_mask = reactor_cpuset_create();
	if (main_mask == NULL) {
		rc = -ENOMEM;
		goto out_fini;
	}
	reactor_cpuset_set(main_mask, reactor_get_main_core());
	t = reactor_thread_create("app_thread", main_mask);
	reactor_cpuset_destroy(main_mask);
	if (t == NULL) {
		rc = -errno;
		REACTOR_ERRLOG("cannot create the app thread: %s", strerror(errno));
		goto out_fini;
	}
	atomic_store(&g_app.thread, t);
	rc = reactor_thread_send_msg(t, app_thread_start, NULL);
	if (rc != 0)
		goto out_fini;
	/* Only now: a stop message must queue behind app_thread_start. */
	atomic_store(&g_app.thread_id, reactor_thread_get_id(t));

	rc = reactor_framework_start();
	if (rc == 0)
		rc = atomic_load(&g_app.rc);

out_fini:
	atomic_store(&g_app.thread, NULL);
	atomic_store(&g_app.thread_id, 0);
	restore_signals();
	g_signal_fd = -1;
	if (g_app.signal_fd >= 0) {
		close(g_app.signal_fd);
		g_app.signal_fd = -1;
	}
	reactor_framework_fini();
out_running:
	app_init_cleanup();
	atomic_store(&g_app.running, false);
	return rc;
}

static void app_stop_msg(void *arg)
{
	(void)arg;
	app_init_shutdown();
}

void reactor_app_stop(int rc)
{
	uint64_t id;

	if (!atomic_load(&g_app.running) || atomic_exchange(&g_app.stopping, true))
		return;
	atomic_store(&g_app.rc, rc);
	/* Subsystems are finalised on the app thread before the framework stops.
	 * Before the app thread exists, app_thread_start() sees 'stopping'. */
	id = atomic_load(&g_app.thread_id);
	if (id == 0)
		return;
	rc = thread_send_by_id(id, app_stop_msg, NULL);
	for (int tries = 0; rc == -EAGAIN && tries < 1000; tries++) {
		sched_yield();
		rc = thread_send_by_id(id, app_stop_msg, NULL);
	}
	if (rc != 0)
		reactor_framework_stop();
}

void app_fail(int rc)
{
	reactor_app_stop(rc);
}

static void start_shutdown_msg(void *arg)
{
	shutdown_on_app_thread(arg);
}

void reactor_app_start_shutdown(void)
{
	uint64_t id = atomic_load(&g_app.thread_id);

	/* By id: the app thread may be exiting (and freed) meanwhile. */
	if (id == 0 || thread_send_by_id(id, start_shutdown_msg, NULL) != 0)
		reactor_app_stop(0);
}
