/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file reactor/log.h
 * Logging: levels, per-component debug flags, a user sink, timestamps.
 *
 * Two thresholds decide what happens to a message: the *log level* decides
 * whether it reaches the user sink (if one is set), the *print level*
 * whether it is written to stderr. When stderr is connected to the systemd
 * journal (JOURNAL_STREAM matches stderr), each printed line starts with its
 * syslog priority ("<3>" for errors ...) so journald files it correctly.
 *
 * All functions here may be called from any thread. Settings are global to
 * the process and take effect immediately (they are read with relaxed
 * atomics on the logging path).
 */
#ifndef REACTOR_LOG_H
#define REACTOR_LOG_H

#include <reactor/export.h>
#include <stdarg.h>
#include <stdbool.h>

REACTOR_BEGIN_DECLS

/** Message severities, most severe first. Values match their order, not syslog. */
enum reactor_log_level {
	REACTOR_LOG_DISABLED = -1, /**< as a threshold: nothing passes */
	REACTOR_LOG_ERROR = 0,
	REACTOR_LOG_WARN = 1,
	REACTOR_LOG_NOTICE = 2,
	REACTOR_LOG_INFO = 3,
	REACTOR_LOG_DEBUG = 4,
};

/**
 * A user sink. Receives every message at or above the log level, already
 * formatted (no trailing newline). Called on the thread that logged; it
 * must be thread-safe and must not call reactor_log() itself.
 */
typedef void (*reactor_log_sink_fn)(enum reactor_log_level level, const char *file, int line,
				    const char *func, const char *message, void *ctx);

/** Log one message. Use the REACTOR_*LOG macros rather than calling this. */
REACTOR_EXPORT void reactor_log(enum reactor_log_level level, const char *file, int line,
				const char *func, const char *fmt, ...) REACTOR_PRINTF(5, 6);
/** va_list variant of reactor_log(). */
REACTOR_EXPORT void reactor_vlog(enum reactor_log_level level, const char *file, int line,
				 const char *func, const char *fmt, va_list ap) REACTOR_PRINTF(5, 0);

/** Threshold for the user sink (default NOTICE). */
REACTOR_EXPORT void reactor_log_set_level(enum reactor_log_level level);
REACTOR_EXPORT enum reactor_log_level reactor_log_get_level(void);
/** Threshold for stderr (default NOTICE). */
REACTOR_EXPORT void reactor_log_set_print_level(enum reactor_log_level level);
REACTOR_EXPORT enum reactor_log_level reactor_log_get_print_level(void);

/**
 * Parse a level name ("error", "warn"/"warning", "notice", "info", "debug",
 * "disabled", case-insensitive) into @p level. Returns 0 or -EINVAL.
 */
REACTOR_EXPORT int reactor_log_level_parse(const char *name, enum reactor_log_level *level);
/** Name of a level ("ERROR" ...). Static string. */
REACTOR_EXPORT const char *reactor_log_level_name(enum reactor_log_level level);

/**
 * Install a sink (NULL removes it). The sink receives messages at or above
 * the log level in addition to stderr printing.
 */
REACTOR_EXPORT void reactor_log_set_sink(reactor_log_sink_fn fn, void *ctx);

/** Prefix printed lines with a monotonic timestamp (default off). */
REACTOR_EXPORT void reactor_log_set_timestamps(bool enable);

/**
 * Force (1), suppress (0) or auto-detect (-1, the default) the
 * "<priority>" prefix used by the systemd journal on stderr lines.
 */
REACTOR_EXPORT void reactor_log_set_journal_prefix(int mode);

/** An opaque per-component debug flag. Lives until the process exits. */
struct reactor_log_flag;

/**
 * Register (or look up) the debug flag called @p name. Idempotent: the same
 * name returns the same flag. Returns NULL with errno ENOMEM/EINVAL.
 * Prefer REACTOR_LOG_REGISTER_COMPONENT().
 */
REACTOR_EXPORT struct reactor_log_flag *reactor_log_flag_register(const char *name);
/** Whether @p flag is enabled. Cheap (one relaxed load). NULL flag: false. */
REACTOR_EXPORT bool reactor_log_flag_enabled(const struct reactor_log_flag *flag);
/**
 * Enable a flag by name; "all" enables every registered flag. A name not
 * registered yet is registered, so flags can be set before modules load.
 * Returns 0 or -EINVAL (empty name) / -ENOMEM.
 */
REACTOR_EXPORT int reactor_log_set_flag(const char *name);
/** Disable a flag by name ("all": every flag). Returns 0 or -ENOENT when unknown. */
REACTOR_EXPORT int reactor_log_clear_flag(const char *name);
/** Whether the flag called @p name exists and is enabled. */
REACTOR_EXPORT bool reactor_log_get_flag(const char *name);
/** Call @p fn for each registered flag, in registration order. */
REACTOR_EXPORT void reactor_log_foreach_flag(void (*fn)(const char *name, bool enabled, void *ctx),
					     void *ctx);

#define REACTOR_ERRLOG(...) reactor_log(REACTOR_LOG_ERROR, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define REACTOR_WARNLOG(...) reactor_log(REACTOR_LOG_WARN, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define REACTOR_NOTICELOG(...)                                                 \
	reactor_log(REACTOR_LOG_NOTICE, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define REACTOR_INFOLOG(...) reactor_log(REACTOR_LOG_INFO, __FILE__, __LINE__, __func__, __VA_ARGS__)

/**
 * Define a static debug flag for a component, registered at load time.
 * Use with REACTOR_DEBUGLOG(name, ...).
 */
#define REACTOR_LOG_REGISTER_COMPONENT(name)                                   \
	static struct reactor_log_flag *reactor_log_flag_##name;               \
	__attribute__((constructor)) static void reactor_log_flag_init_##name(void) \
	{                                                                      \
		reactor_log_flag_##name = reactor_log_flag_register(#name);    \
	}

/** Debug message, printed only when the component's flag is enabled. */
#define REACTOR_DEBUGLOG(name, ...)                                            \
	do {                                                                   \
		if (reactor_log_flag_enabled(reactor_log_flag_##name))         \
			reactor_log(REACTOR_LOG_DEBUG, __FILE__, __LINE__, __func__, __VA_ARGS__); \
	} while (0)

REACTOR_END_DECLS

#endif
