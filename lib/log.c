/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Logging. Thresholds are relaxed atomics so the hot path reads them
 * without a lock; the flag registry and the sink take a mutex because they
 * change rarely and a message is already a slow path.
 */
#include "config.h"
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct reactor_log_flag {
	/* Atomic so foreach can walk without the lock while others append. */
	struct reactor_log_flag *_Atomic next;
	_Atomic bool enabled;
	char name[];
};

static _Atomic int g_log_level = REACTOR_LOG_NOTICE;
static _Atomic int g_print_level = REACTOR_LOG_NOTICE;
static _Atomic bool g_timestamps;
static _Atomic int g_journal_mode = -1; /* -1 auto, 0 off, 1 on */
static _Atomic int g_journal_detected = -1;

static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;
static reactor_log_sink_fn g_sink;
static void *g_sink_ctx;
static struct reactor_log_flag *_Atomic g_flags; /* in registration order */
static struct reactor_log_flag *_Atomic *g_flags_tail = &g_flags;

static const char *const g_level_names[] = {"ERROR", "WARN", "NOTICE", "INFO", "DEBUG"};
/* syslog priorities: LOG_ERR 3, LOG_WARNING 4, LOG_NOTICE 5, LOG_INFO 6, LOG_DEBUG 7 */
static const int g_level_prio[] = {3, 4, 5, 6, 7};

static bool valid_level(int level)
{
	return level >= REACTOR_LOG_DISABLED && level <= REACTOR_LOG_DEBUG;
}

void reactor_log_set_level(enum reactor_log_level level)
{
	if (valid_level((int)level))
		atomic_store_explicit(&g_log_level, (int)level, memory_order_relaxed);
}

enum reactor_log_level reactor_log_get_level(void)
{
	return (enum reactor_log_level)atomic_load_explicit(&g_log_level, memory_order_relaxed);
}

void reactor_log_set_print_level(enum reactor_log_level level)
{
	if (valid_level((int)level))
		atomic_store_explicit(&g_print_level, (int)level, memory_order_relaxed);
}

enum reactor_log_level reactor_log_get_print_level(void)
{
	return (enum reactor_log_level)atomic_load_explicit(&g_print_level, memory_order_relaxed);
}

int reactor_log_level_parse(const char *name, enum reactor_log_level *level)
{
	static const struct {
		const char *name;
		enum reactor_log_level level;
	} names[] = {
		{"disabled", REACTOR_LOG_DISABLED}, {"error", REACTOR_LOG_ERROR},
		{"warn", REACTOR_LOG_WARN},         {"warning", REACTOR_LOG_WARN},
		{"notice", REACTOR_LOG_NOTICE},     {"info", REACTOR_LOG_INFO},
		{"debug", REACTOR_LOG_DEBUG},
	};

	if (name == NULL || level == NULL)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(name, names[i].name) == 0) {
			*level = names[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

const char *reactor_log_level_name(enum reactor_log_level level)
{
	if (level == REACTOR_LOG_DISABLED)
		return "DISABLED";
	if (level < REACTOR_LOG_ERROR || level > REACTOR_LOG_DEBUG)
		return "UNKNOWN";
	return g_level_names[level];
}

void reactor_log_set_sink(reactor_log_sink_fn fn, void *ctx)
{
	pthread_mutex_lock(&g_log_lock);
	g_sink = fn;
	g_sink_ctx = ctx;
	pthread_mutex_unlock(&g_log_lock);
}

void reactor_log_set_timestamps(bool enable)
{
	atomic_store_explicit(&g_timestamps, enable, memory_order_relaxed);
}

void reactor_log_set_journal_prefix(int mode)
{
	atomic_store_explicit(&g_journal_mode, mode < 0 ? -1 : (mode ? 1 : 0), memory_order_relaxed);
}

/* systemd sets JOURNAL_STREAM=dev:ino for the stream it connected; only
 * trust it if stderr is still that stream (not redirected by a shell). */
static bool detect_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static bool journal_prefix(void)
{
	int mode = atomic_load_explicit(&g_journal_mode, memory_order_relaxed);
	int det;

	if (mode >= 0)
		return mode == 1;
	det = atomic_load_explicit(&g_journal_detected, memory_order_relaxed);
	if (det < 0) {
		det = detect_journal() ? 1 : 0;
		atomic_store_explicit(&g_journal_detected, det, memory_order_relaxed);
	}
	return det == 1;
}

void reactor_vlog(enum reactor_log_level level, const char *file, int line, const char *func,
		  const char *fmt, va_list ap)
{
	int print_level = atomic_load_explicit(&g_print_level, memory_order_relaxed);
	int log_level = atomic_load_explicit(&g_log_level, memory_order_relaxed);
	char msg[1024];
	reactor_log_sink_fn sink;
	void *sink_ctx;
	int len;

	if (level < REACTOR_LOG_ERROR || level > REACTOR_LOG_DEBUG)
		return;
	if ((int)level > print_level && (int)level > log_level)
		return;

	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (len < 0)
		return;
	/* Messages end without a newline; strip one a caller added by habit. */
	if (len > 0 && (size_t)len < sizeof(msg) && msg[len - 1] == '\n')
		msg[--len] = '\0';

	if ((int)level <= print_level) {
		char prefix[96] = "";
		size_t off = 0;

		if (journal_prefix())
			off += (size_t)snprintf(prefix + off, sizeof(prefix) - off, "<%d>",
						g_level_prio[level]);
		if (atomic_load_explicit(&g_timestamps, memory_order_relaxed)) {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			off += (size_t)snprintf(prefix + off, sizeof(prefix) - off, "[%llu.%06ld] ",
						(unsigned long long)ts.tv_sec, ts.tv_nsec / 1000);
		}
		if (file != NULL && level == REACTOR_LOG_DEBUG) {
			const char *base = strrchr(file, '/');

			fprintf(stderr, "%s%s:%d:%s: %s: %s\n", prefix, base ? base + 1 : file, line,
				func ? func : "", g_level_names[level], msg);
		} else {
			fprintf(stderr, "%s%s: %s\n", prefix, g_level_names[level], msg);
		}
	}

	if ((int)level <= log_level) {
		pthread_mutex_lock(&g_log_lock);
		sink = g_sink;
		sink_ctx = g_sink_ctx;
		pthread_mutex_unlock(&g_log_lock);
		if (sink != NULL)
			sink(level, file, line, func, msg, sink_ctx);
	}
}

void reactor_log(enum reactor_log_level level, const char *file, int line, const char *func,
		 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reactor_vlog(level, file, line, func, fmt, ap);
	va_end(ap);
}

static struct reactor_log_flag *flag_find_locked(const char *name)
{
	for (struct reactor_log_flag *f = g_flags; f != NULL; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static struct reactor_log_flag *flag_get_locked(const char *name)
{
	struct reactor_log_flag *f = flag_find_locked(name);
	size_t len;

	if (f != NULL)
		return f;
	len = strlen(name);
	f = calloc(1, sizeof(*f) + len + 1);
	if (f == NULL)
		return NULL;
	memcpy(f->name, name, len + 1);
	atomic_store_explicit(g_flags_tail, f, memory_order_release);
	g_flags_tail = &f->next;
	return f;
}

struct reactor_log_flag *reactor_log_flag_register(const char *name)
{
	struct reactor_log_flag *f;

	if (name == NULL || name[0] == '\0' || strcmp(name, "all") == 0) {
		errno = EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&g_log_lock);
	f = flag_get_locked(name);
	pthread_mutex_unlock(&g_log_lock);
	if (f == NULL)
		errno = ENOMEM;
	return f;
}

bool reactor_log_flag_enabled(const struct reactor_log_flag *flag)
{
	return flag != NULL && atomic_load_explicit(&flag->enabled, memory_order_relaxed);
}

static int flag_set(const char *name, bool value)
{
	struct reactor_log_flag *f;
	int rc = 0;

	if (name == NULL || name[0] == '\0')
		return -EINVAL;
	pthread_mutex_lock(&g_log_lock);
	if (strcmp(name, "all") == 0) {
		for (f = g_flags; f != NULL; f = f->next)
			atomic_store_explicit(&f->enabled, value, memory_order_relaxed);
	} else {
		f = value ? flag_get_locked(name) : flag_find_locked(name);
		if (f == NULL)
			rc = value ? -ENOMEM : -ENOENT;
		else
			atomic_store_explicit(&f->enabled, value, memory_order_relaxed);
	}
	pthread_mutex_unlock(&g_log_lock);
	return rc;
}

int reactor_log_set_flag(const char *name)
{
	return flag_set(name, true);
}

int reactor_log_clear_flag(const char *name)
{
	return flag_set(name, false);
}

bool reactor_log_get_flag(const char *name)
{
	struct reactor_log_flag *f;
	bool on;

	if (name == NULL)
		return false;
	pthread_mutex_lock(&g_log_lock);
	f = flag_find_locked(name);
	on = f != NULL && atomic_load_explicit(&f->enabled, memory_order_relaxed);
	pthread_mutex_unlock(&g_log_lock);
	return on;
}

void reactor_log_foreach_flag(void (*fn)(const char *name, bool enabled, void *ctx), void *ctx)
{
	struct reactor_log_flag *f;

	if (fn == NULL)
		return;
	/* Flags are never removed and links are atomic: no lock, so fn may log. */
	for (f = atomic_load_explicit(&g_flags, memory_order_acquire); f != NULL;
	     f = atomic_load_explicit(&f->next, memory_order_acquire))
		fn(f->name, atomic_load_explicit(&f->enabled, memory_order_relaxed), ctx);
}
