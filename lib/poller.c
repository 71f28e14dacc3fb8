/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Pollers. State changes made from callbacks (unregister, pause) are
 * recorded in the poller and applied by the thread's poll loop, so a
 * callback may change any poller of its thread, itself included, without
 * invalidating the loop's iteration.
 */
#include "config.h"
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Timed pollers stay sorted by next_run. A re-armed poller usually has the
 * latest deadline, so scanning from the tail is O(1) in the common case. */
static void timed_insert(struct reactor_thread *t, struct reactor_poller *p)
{
	struct reactor_poller *q;

	TAILQ_FOREACH_REVERSE(q, &t->timed_pollers, poller_list, link) {
		if (q->next_run <= p->next_run) {
			TAILQ_INSERT_AFTER(&t->timed_pollers, q, p, link);
			return;
		}
	}
	TAILQ_INSERT_HEAD(&t->timed_pollers, p, link);
}

static void poller_arm(struct reactor_thread *t, struct reactor_poller *p)
{
	if (p->period_ticks == 0) {
		TAILQ_INSERT_TAIL(&t->active_pollers, p, link);
	} else {
		p->next_run = reactor_get_ticks() + p->period_ticks;
		timed_insert(t, p);
	}
}

struct reactor_poller *reactor_poller_register_named(reactor_poller_fn fn, void *arg,
						     uint64_t period_us, const char *name)
{
	struct reactor_thread *t = tls_thread;
	struct reactor_poller *p;

	if (t == NULL || fn == NULL) {
		if (t == NULL)
			REACTOR_ERRLOG("reactor_poller_register: not called on a thread");
		errno = EINVAL;
		return NULL;
	}
	if (atomic_load_explicit(&t->state, memory_order_relaxed) != THREAD_RUNNING) {
		errno = ESHUTDOWN;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->thread = t;
	p->fn = fn;
	p->arg = arg;
	p->state = POLLER_RUNNING;
	p->period_ticks = period_us ? ticks_from_us(period_us) : 0;
	if (period_us && p->period_ticks == 0)
		p->period_ticks = 1;
	if (name != NULL)
		snprintf(p->name, sizeof(p->name), "%s", name);
	else
		snprintf(p->name, sizeof(p->name), "%p", (void *)fn);
	p->stall_name = name != NULL ? stall_intern_name(p->name) : NULL;
	poller_arm(t, p);
	t->poller_count++;
	return p;
}

struct reactor_poller *reactor_poller_register(reactor_poller_fn fn, void *arg, uint64_t period_us)
{
	return reactor_poller_register_named(fn, arg, period_us, NULL);
}

void reactor_poller_unregister(struct reactor_poller **pp)
{
	struct reactor_poller *p;

	if (pp == NULL || *pp == NULL)
		return;
	p = *pp;
	*pp = NULL;
	if (p->state == POLLER_UNREGISTERED)
		return;
	p->state = POLLER_UNREGISTERED;
	p->thread->poller_count--;
	p->thread->dead_pollers++;
}

void reactor_poller_pause(struct reactor_poller *p)
{
	if (p != NULL && p->state == POLLER_RUNNING)
		p->state = POLLER_PAUSING;
}

void reactor_poller_resume(struct reactor_poller *p)
{
	if (p == NULL)
		return;
	if (p->state == POLLER_PAUSING) {
		p->state = POLLER_RUNNING;
	} else if (p->state == POLLER_PAUSED) {
		TAILQ_REMOVE(&p->thread->paused_pollers, p, link);
		p->state = POLLER_RUNNING;
		poller_arm(p->thread, p);
	}
}

const char *reactor_poller_get_name(const struct reactor_poller *p)
{
	return p ? p->name : NULL;
}

static inline int poller_call(struct reactor_poller *p)
{
	int rc;

	stall_enter((void *)p->fn, p->stall_name);
	rc = p->fn(p->arg);
	p->runs++;
	if (rc > 0) {
		p->busy_runs++;
		return 1;
	}
	return 0;
}

int pollers_run(struct reactor_thread *t, uint64_t now)
{
	struct reactor_poller *p, *tmp;
	int busy = 0;

	/* Only the element just visited can move lists here; the saved next
	 * element may change state but stays linked until pollers_reap(). */
	TAILQ_FOREACH_SAFE(p, &t->active_pollers, link, tmp) {
		if (p->state == POLLER_RUNNING)
			busy |= poller_call(p);
		if (p->state == POLLER_PAUSING) {
			TAILQ_REMOVE(&t->active_pollers, p, link);
			p->state = POLLER_PAUSED;
			TAILQ_INSERT_TAIL(&t->paused_pollers, p, link);
		}
	}

	while ((p = TAILQ_FIRST(&t->timed_pollers)) != NULL && p->next_run <= now) {
		TAILQ_REMOVE(&t->timed_pollers, p, link);
		if (p->state == POLLER_RUNNING)
			busy |= poller_call(p);
		switch (p->state) {
		case POLLER_UNREGISTERED:
			t->dead_pollers--;
			free(p);
			break;
		case POLLER_PAUSING:
		case POLLER_PAUSED:
			p->state = POLLER_PAUSED;
			TAILQ_INSERT_TAIL(&t->paused_pollers, p, link);
			break;
		case POLLER_RUNNING:
			p->next_run = now + p->period_ticks;
			timed_insert(t, p);
			break;
		}
	}
	return busy;
}

static void reap_list(struct reactor_thread *t, struct poller_list *list)
{
	struct reactor_poller *p, *tmp;

	TAILQ_FOREACH_SAFE(p, list, link, tmp) {
		if (p->state == POLLER_UNREGISTERED) {
			TAILQ_REMOVE(list, p, link);
			t->dead_pollers--;
			free(p);
		}
	}
}

void pollers_reap(struct reactor_thread *t)
{
	reap_list(t, &t->active_pollers);
	reap_list(t, &t->timed_pollers);
	reap_list(t, &t->paused_pollers);
}

uint64_t pollers_next_deadline(const struct reactor_thread *t)
{
	const struct reactor_poller *p = TAILQ_FIRST(&t->timed_pollers);

	return p ? p->next_run : UINT64_MAX;
}

static void free_list(struct reactor_thread *t, struct poller_list *list, char *buf, size_t len)
{
	struct reactor_poller *p;

	while ((p = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, p, link);
		if (p->state == POLLER_UNREGISTERED) {
			t->dead_pollers--;
		} else {
			t->poller_count--;
			if (buf != NULL) {
				size_t off = strlen(buf);

				if (off < len)
					snprintf(buf + off, len - off, " poller '%s'", p->name);
			}
		}
		free(p);
	}
}

void pollers_free_all(struct reactor_thread *t, bool log_names, char *buf, size_t len)
{
	if (!log_names)
		buf = NULL;
	free_list(t, &t->active_pollers, buf, len);
	free_list(t, &t->timed_pollers, buf, len);
	free_list(t, &t->paused_pollers, buf, len);
}
