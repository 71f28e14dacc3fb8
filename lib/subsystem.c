/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Subsystems: a registry, sorted once by dependencies when the app starts
 * (a stable topological sort: among subsystems whose dependencies are
 * done, the first registered goes first), initialised in that order on the
 * app thread and finalised in reverse. init and fini may finish later:
 * each step ends with reactor_subsystem_init_done()/_fini_done(), and the
 * next step starts from a message, so a long chain never recurses.
 */
#include "config.h"
#include "rpc/rpc_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t g_sub_lock = PTHREAD_MUTEX_INITIALIZER;

static struct {
	const struct reactor_subsystem **list; /* registration order, then init order */
	size_t count, cap;
	bool frozen;                            /* the app is running: no registration */
	/* the init/fini walk, on the app thread */
	size_t next;                            /* init: next to start; fini: how many left */
	size_t initialised;                     /* the first n are initialised */
	bool in_init, in_fini, cancel;
	void (*init_done)(int rc, void *ctx);
	void (*fini_done)(void *ctx);
	void *ctx;
	uint64_t home;
} g_sub;

int reactor_subsystem_register(const struct reactor_subsystem *s)
{
	int rc = 0;

	if (s == NULL || s->size < offsetof(struct reactor_subsystem, name) + sizeof(s->name) ||
	    s->name == NULL || s->name[0] == '\0')
		return -EINVAL;
	pthread_mutex_lock(&g_sub_lock);
	if (g_sub.frozen) {
		rc = -EBUSY;
		goto out;
	}
	for (size_t i = 0; i < g_sub.count; i++) {
		if (strcmp(g_sub.list[i]->name, s->name) == 0) {
			rc = -EEXIST;
			goto out;
		}
	}
	if (g_sub.count == g_sub.cap) {
		size_t cap = g_sub.cap ? g_sub.cap * 2 : 16;
		const struct reactor_subsystem **l = realloc(g_sub.list, cap * sizeof(*l));

		if (l == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		g_sub.list = l;
		g_sub.cap = cap;
	}
	g_sub.list[g_sub.count++] = s;
out:
	pthread_mutex_unlock(&g_sub_lock);
	return rc;
}

/* Fields a caller compiled against an older struct may lack read as NULL. */
#define SUB_FIELD(s, f)                                                        \
	((s)->size >= offsetof(struct reactor_subsystem, f) + sizeof((s)->f) ? (s)->f : NULL)

static const char *const *sub_deps(const struct reactor_subsystem *s)
{
	return SUB_FIELD(s, depends_on);
}

static ssize_t index_of(const char *name)
{
	for (size_t i = 0; i < g_sub.count; i++)
		if (strcmp(g_sub.list[i]->name, name) == 0)
			return (ssize_t)i;
	return -1;
}

/* Name one cycle among the unsorted subsystems, for the error message. */
static void describe_cycle(const bool *done, char *buf, size_t len)
{
	size_t n = g_sub.count, cur = 0, off = 0;
	size_t *seen_at = calloc(n, sizeof(*seen_at));

	buf[0] = '\0';
	if (seen_at == NULL)
		return;
	while (cur < n && done[cur])
		cur++;
	/* Follow unsorted dependencies until a subsystem repeats. */
	for (size_t step = 1; cur < n && seen_at[cur] == 0; step++) {
		const char *const *deps = sub_deps(g_sub.list[cur]);
		size_t next = n;

		seen_at[cur] = step;
		for (size_t d = 0; deps != NULL && deps[d] != NULL; d++) {
			ssize_t j = index_of(deps[d]);

			if (j >= 0 && !done[j]) {
				next = (size_t)j;
				break;
			}
		}
		cur = next;
	}
	if (cur < n) {
		size_t start = cur;

		do {
			const char *const *deps = sub_deps(g_sub.list[cur]);

			off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s -> ",
						g_sub.list[cur]->name);
			for (size_t d = 0; deps != NULL && deps[d] != NULL; d++) {
				ssize_t j = index_of(deps[d]);

				if (j >= 0 && !done[j] && seen_at[j] != 0) {
					cur = (size_t)j;
					break;
				}
			}
		} while (cur != start && off < len);
		snprintf(buf + off, off < len ? len - off : 0, "%s", g_sub.list[start]->name);
	}
	free(seen_at);
}

int subsystems_prepare(void)
{
	const struct reactor_subsystem **sorted = NULL;
	bool *done = NULL;
	size_t n, placed = 0;
	int rc = 0;

	pthread_mutex_lock(&g_sub_lock);
	g_sub.frozen = true;
	pthread_mutex_unlock(&g_sub_lock);
	n = g_sub.count;
	for (size_t i = 0; i < n; i++) {
		const char *const *deps = sub_deps(g_sub.list[i]);

		for (size_t d = 0; deps != NULL && deps[d] != NULL; d++) {
			if (index_of(deps[d]) < 0) {
				REACTOR_ERRLOG("subsystem '%s' depends on '%s', which is not registered",
					       g_sub.list[i]->name, deps[d]);
				rc = -EINVAL;
			} else if (strcmp(deps[d], g_sub.list[i]->name) == 0) {
				REACTOR_ERRLOG("subsystem '%s' depends on itself", deps[d]);
				rc = -EINVAL;
			}
		}
	}
	if (rc != 0 || n == 0)
		goto out;
	sorted = calloc(n, sizeof(*sorted));
	done = calloc(n, sizeof(*done));
	if (sorted == NULL || done == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	while (placed < n) {
		bool progress = false;

		for (size_t i = 0; i < n; i++) {
			const char *const *deps = sub_deps(g_sub.list[i]);
			bool ready = !done[i];

			for (size_t d = 0; ready && deps != NULL && deps[d] != NULL; d++)
				ready = done[index_of(deps[d])];
			if (ready) {
				done[i] = true;
				sorted[placed++] = g_sub.list[i];
				progress = true;
				break; /* restart: keeps the order stable */
			}
		}
		if (!progress) {
			char cycle[512];

			describe_cycle(done, cycle, sizeof(cycle));
			REACTOR_ERRLOG("subsystems depend on each other in a cycle: %s", cycle);
			rc = -EINVAL;
			goto out;
		}
	}
	memcpy(g_sub.list, sorted, n * sizeof(*sorted));
out:
	free(sorted);
	free(done);
	if (rc != 0)
		subsystems_release();
	return rc;
}

void subsystems_release(void)
{
	pthread_mutex_lock(&g_sub_lock);
	g_sub.frozen = false;
	g_sub.initialised = 0;
	g_sub.in_init = g_sub.in_fini = g_sub.cancel = false;
	pthread_mutex_unlock(&g_sub_lock);
}

size_t subsystems_count(void)
{
	return g_sub.count;
}

const struct reactor_subsystem *subsystems_get(size_t i)
{
	return i < g_sub.count ? g_sub.list[i] : NULL;
}

const struct reactor_subsystem *subsystem_find(const char *name)
{
	ssize_t i = name ? index_of(name) : -1;

	return i >= 0 ? g_sub.list[i] : NULL;
}

json_t *subsystem_config(const struct reactor_subsystem *s)
{
	void (*write)(json_t *) = SUB_FIELD(s, write_config);
	json_t *calls;

	if (write == NULL)
		return json_null();
	calls = json_array();
	if (calls != NULL)
		write(calls);
	return calls;
}

/* ---- init ------------------------------------------------------------------- */

static void init_next(void *arg);

static void init_finish(int rc)
{
	void (*done)(int, void *) = g_sub.init_done;

	g_sub.in_init = false;
	g_sub.init_done = NULL;
	if (done != NULL)
		done(rc, g_sub.ctx);
}

static void init_next(void *arg)
{
	const struct reactor_subsystem *s;
	void (*init)(void);

	(void)arg;
	if (g_sub.cancel) {
		init_finish(-ECANCELED);
		return;
	}
	if (g_sub.next == g_sub.count) {
		init_finish(0);
		return;
	}
	s = g_sub.list[g_sub.next++];
	init = SUB_FIELD(s, init);
	REACTOR_INFOLOG("initialising subsystem '%s'", s->name);
	if (init == NULL)
		reactor_subsystem_init_done(0);
	else
		init();
}

/* Continue on the home thread, from a message (no recursion). */
static void step_later(reactor_msg_fn fn, void *arg)
{
	if (thread_send_by_id(g_sub.home, fn, arg) != 0) {
		REACTOR_ERRLOG("subsystems: cannot reach the app thread; continuing in place");
		fn(arg);
	}
}

static void init_done_msg(void *arg)
{
	int rc = (int)(intptr_t)arg;
	const struct reactor_subsystem *s;

	if (!g_sub.in_init || g_sub.next == 0) {
		REACTOR_ERRLOG("reactor_subsystem_init_done() called with no init in progress");
		return;
	}
	s = g_sub.list[g_sub.next - 1];
	if (rc != 0) {
		REACTOR_ERRLOG("subsystem '%s' failed to initialise: %s", s->name, strerror(-rc));
		init_finish(rc);
		return;
	}
	g_sub.initialised = g_sub.next;
	init_next(NULL);
}

void reactor_subsystem_init_done(int rc)
{
	step_later(init_done_msg, (void *)(intptr_t)rc);
}

void subsystems_init(void (*done)(int rc, void *ctx), void *ctx)
{
	g_sub.home = reactor_thread_get_id(tls_thread);
	g_sub.init_done = done;
	g_sub.ctx = ctx;
	g_sub.next = 0;
	g_sub.initialised = 0;
	g_sub.cancel = false;
	g_sub.in_init = true;
	step_later(init_next, NULL);
}

void subsystems_cancel_init(void)
{
	g_sub.cancel = true;
}

/* ---- fini --------------------------------------------------------------------- */

static void fini_next(void *arg)
{
	const struct reactor_subsystem *s;
	void (*fini)(void);

	(void)arg;
	if (g_sub.initialised == 0) {
		void (*done)(void *) = g_sub.fini_done;

		g_sub.in_fini = false;
		g_sub.fini_done = NULL;
		if (done != NULL)
			done(g_sub.ctx);
		return;
	}
	s = g_sub.list[g_sub.initialised - 1];
	fini = SUB_FIELD(s, fini);
	REACTOR_INFOLOG("finalising subsystem '%s'", s->name);
	if (fini == NULL)
		reactor_subsystem_fini_done();
	else
		fini();
}

static void fini_done_msg(void *arg)
{
	(void)arg;
	if (!g_sub.in_fini || g_sub.initialised == 0) {
		REACTOR_ERRLOG("reactor_subsystem_fini_done() called with no fini in progress");
		return;
	}
	g_sub.initialised--;
	fini_next(NULL);
}

void reactor_subsystem_fini_done(void)
{
	step_later(fini_done_msg, NULL);
}

void subsystems_fini(void (*done)(void *ctx), void *ctx)
{
	g_sub.home = reactor_thread_get_id(tls_thread);
	g_sub.fini_done = done;
	g_sub.ctx = ctx;
	g_sub.in_fini = true;
	step_later(fini_next, NULL);
}
