/* SPDX-License-Identifier: BSD-3-Clause */
/* Events: pooled (fn, arg1, arg2) objects sent to one reactor's ring. */
#include "config.h"
#include "internal.h"

#include <errno.h>

struct reactor_event *reactor_event_allocate(uint32_t core, reactor_event_fn fn, void *arg1,
					     void *arg2)
{
	struct reactor_event *ev;

	if (fn == NULL || reactor_by_core(core) == NULL) {
		errno = EINVAL;
		return NULL;
	}
	ev = msg_get();
	if (ev == NULL)
		return NULL; /* errno EAGAIN */
	ev->fn.event = fn;
	ev->arg1 = arg1;
	ev->arg2 = arg2;
	ev->core = core;
	return ev;
}

int reactor_event_call(struct reactor_event *ev)
{
	struct reactor *r;

	if (ev == NULL)
		return -EINVAL;
	r = reactor_by_core(ev->core);
	if (r == NULL)
		return -EINVAL;
	if (reactor_ring_enqueue(r->events, (void *const *)&ev, 1) == 0)
		return -EAGAIN;
	reactor_notify(r);
	return 0;
}

void reactor_event_free(struct reactor_event *ev)
{
	if (ev != NULL)
		msg_put(ev);
}
