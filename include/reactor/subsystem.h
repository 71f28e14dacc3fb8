/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file reactor/subsystem.h
 * Subsystems: named modules that the app initialises in dependency order,
 * configures from a JSON config file, saves with save_config, and
 * finalises in reverse order at shutdown.
 *
 * Register subsystems before reactor_app_start() (a constructor works).
 * When the app starts, the subsystems are sorted so that each comes after
 * everything it depends on (otherwise in registration order); an unknown
 * dependency or a cycle makes reactor_app_start() fail with -EINVAL, naming
 * them. The library registers one subsystem itself, "reactor" (the idle
 * policy and the stall detector settings in save_config).
 *
 * Order at start, on the app thread: the config file's startup calls; then
 * (with --wait-for-rpc, once framework_start_init is called) each
 * subsystem's init in order; then the config's runtime calls; then
 * start_fn. A subsystem whose init fails (or a config call that fails)
 * stops the start: the subsystems already initialised are finalised and
 * reactor_app_start() returns the error. At reactor_app_stop(): fini of
 * every initialised subsystem in reverse order, then the framework stops.
 *
 * init and fini may complete asynchronously: each must end with exactly
 * one reactor_subsystem_init_done() / _fini_done(), at once or later.
 */
#ifndef REACTOR_SUBSYSTEM_H
#define REACTOR_SUBSYSTEM_H

#include <reactor/export.h>
#include <jansson.h>
#include <stddef.h>

REACTOR_BEGIN_DECLS

/**
 * A subsystem's description. The library keeps the pointer: the struct
 * (and the strings it points to) must outlive the app (make it static).
 * Fields may be added at the end; set size to sizeof(struct reactor_subsystem).
 */
struct reactor_subsystem {
	/** sizeof(struct reactor_subsystem) as the caller compiled it. */
	size_t size;
	/** Unique name, as used in config files ("bdev", "nvmf"). */
	const char *name;
	/** NULL-terminated array of names this subsystem depends on, or NULL. */
	const char *const *depends_on;
	/** Initialise, on the app thread; call reactor_subsystem_init_done() when finished. May be NULL. */
	void (*init)(void);
	/** Finalise, on the app thread; call reactor_subsystem_fini_done() when finished. May be NULL. */
	void (*fini)(void);
	/**
	 * Append to @p calls (a JSON array, borrowed) one object
	 * {"method": M, "params": {...}} per RPC call that recreates the current
	 * configuration, in the order they must be replayed. On the app thread,
	 * after init (framework_get_config, save_config). May be NULL: the
	 * subsystem's "config" is then JSON null, as in SPDK.
	 */
	void (*write_config)(json_t *calls);
};

/**
 * Register a subsystem. Any thread, while no app is running. Returns 0,
 * -EEXIST (name taken), -EINVAL (NULL, size too small, empty name) or
 * -EBUSY (an app is running).
 */
REACTOR_EXPORT int reactor_subsystem_register(const struct reactor_subsystem *subsystem);

/**
 * End of the current subsystem's init: 0 to go on, a negative errno to fail
 * the start. Call once per init, from its init callback or later, on any
 * thread (the next step runs on the app thread).
 */
REACTOR_EXPORT void reactor_subsystem_init_done(int rc);

/** End of the current subsystem's fini. Once per fini, any thread. */
REACTOR_EXPORT void reactor_subsystem_fini_done(void);

REACTOR_END_DECLS

#endif
