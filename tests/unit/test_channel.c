/* SPDX-License-Identifier: BSD-3-Clause */
/* I/O devices and per-thread channels: refcounts, threads, for_each_channel, unregister. */
#include "helpers.h"

struct dev {
	atomic_long creates;
	atomic_long destroys;
	atomic_long wrong_thread;
	atomic_int create_rc;
};

#define CTX_MAGIC 0x5eed1234u
struct chctx {
	struct reactor_thread *owner;
	uint32_t magic;
	unsigned char pad[250];
};

static int dev_create(void *io_device, void *ctx_buf)
{
	struct dev *d = io_device;
	struct chctx *c = ctx_buf;
	int rc = atomic_load(&d->create_rc);

	atomic_fetch_add(&d->creates, 1);
	if (rc != 0)
		return rc;
	c->owner = reactor_get_thread();
	c->magic = CTX_MAGIC;
	memset(c->pad, 0xab, sizeof(c->pad)); /* the whole ctx_size is ours */
	return 0;
}

static void dev_destroy(void *io_device, void *ctx_buf)
{
	struct dev *d = io_device;
	struct chctx *c = ctx_buf;

	if (c->magic != CTX_MAGIC || c->owner != reactor_get_thread())
		atomic_fetch_add(&d->wrong_thread, 1);
	c->magic = 0;
	atomic_fetch_add(&d->destroys, 1);
}

static unsigned int ncpu(void)
{
	return h_allowed_cpu_count() >= 2 ? 2 : 1;
}

static void run_body(void (*fn)(void *), void *arg)
{
	struct reactor_app_opts opts;

	assert_true(h_app_opts(&opts, ncpu()));
	assert_int_equal(h_app_run(&opts, fn, arg), 0);
	h_assert_no_failures();
}

/* ---- on-thread operations ------------------------------------------------------------------ */
struct op {
	struct dev *d;
	struct reactor_io_channel *ch[2];
	int err;
	int rc;
	long destroys_after_put;
};

static void op_get(void *arg)
{
	struct op *o = arg;

	errno = 0;
	o->ch[0] = reactor_get_io_channel(o->d);
	o->err = errno;
}

static void op_put(void *arg)
{
	struct op *o = arg;

	reactor_put_io_channel(o->ch[0]);
}

static void op_unregister_nocb(void *arg)
{
	struct op *o = arg;

	o->rc = reactor_io_device_unregister(o->d, NULL);
}

/* two gets on the same thread; put both; destroy is deferred past this call */
static void op_get_twice_put(void *arg)
{
	struct op *o = arg;
	struct chctx *c;

	o->ch[0] = reactor_get_io_channel(o->d);
	o->ch[1] = reactor_get_io_channel(o->d);
	if (!H_CHECK(o->ch[0] != NULL && o->ch[1] != NULL))
		return;
	H_CHECK_PTR_EQ(o->ch[0], o->ch[1]);
	H_CHECK_INT(atomic_load(&o->d->creates), ==, 1);
	c = reactor_io_channel_get_ctx(o->ch[0]);
	H_CHECK(c != NULL && c->magic == CTX_MAGIC);
	H_CHECK_PTR_EQ(c->owner, reactor_get_thread());
	H_CHECK_PTR_EQ(reactor_io_channel_get_thread(o->ch[0]), reactor_get_thread());
	H_CHECK_PTR_EQ(reactor_io_channel_get_io_device(o->ch[0]), o->d);
	reactor_put_io_channel(o->ch[0]);
	H_CHECK_INT(atomic_load(&o->d->destroys), ==, 0);
	reactor_put_io_channel(o->ch[1]);
	/* last reference gone, but the destroy callback runs later */
	o->destroys_after_put = atomic_load(&o->d->destroys);
	H_CHECK(c->magic == CTX_MAGIC); /* context still usable until we return */
	c->pad[0] = 1;
}

static void basics_body(void *arg)
{
	static struct dev d, other;
	struct reactor_thread *a = h_thread_create_on("ch-a", REACTOR_CORE_INVALID);
	struct op o = {.d = &d};
	int unknown;

	(void)arg;
	memset(&d, 0, sizeof(d));
	if (a == NULL)
		return;
	H_CHECK_INT(reactor_io_device_register(&d, dev_create, dev_destroy, sizeof(struct chctx), "dev"), ==, 0);
	H_CHECK_INT(reactor_io_device_register(&d, dev_create, dev_destroy, sizeof(struct chctx), "dev"), ==,
		    -EEXIST);
	H_CHECK_INT(reactor_io_device_register(NULL, dev_create, dev_destroy, 8, "null"), ==, -EINVAL);

	h_call_on_thread(a, op_get_twice_put, &o);
	H_CHECK_INT(o.destroys_after_put, ==, 0);
	h_wait_eq(&d.destroys, 1, 10000, "the deferred destroy callback");
	H_CHECK_INT(atomic_load(&d.wrong_thread), ==, 0);

	/* a new get after destroy creates a new channel */
	h_call_on_thread(a, op_get, &o);
	H_CHECK(o.ch[0] != NULL);
	H_CHECK_INT(atomic_load(&d.creates), ==, 2);
	h_call_on_thread(a, op_put, &o);
	h_wait_eq(&d.destroys, 2, 10000, "second destroy");

	/* no current thread */
	errno = 0;
	H_CHECK(reactor_get_io_channel(&d) == NULL);
	H_CHECK_INT(errno, ==, EINVAL);

	/* a device never registered */
	o.d = (struct dev *)&unknown;
	h_call_on_thread(a, op_get, &o);
	H_CHECK(o.ch[0] == NULL);
	H_CHECK_INT(o.err, ==, ENOENT);
	h_call_on_thread(a, op_unregister_nocb, &o);
	H_CHECK_INT(o.rc, ==, -ENOENT);

	/* create callback failure is returned, nothing to destroy */
	memset(&other, 0, sizeof(other));
	atomic_store(&other.create_rc, -EIO);
	H_CHECK_INT(reactor_io_device_register(&other, dev_create, dev_destroy, sizeof(struct chctx), "failing"),
		    ==, 0);
	o.d = &other;
	h_call_on_thread(a, op_get, &o);
	H_CHECK(o.ch[0] == NULL);
	H_CHECK_INT(o.err, ==, EIO);
	atomic_store(&other.create_rc, 0);
	h_call_on_thread(a, op_get, &o); /* tries again */
	H_CHECK(o.ch[0] != NULL);
	H_CHECK_INT(atomic_load(&other.creates), ==, 2);
	h_call_on_thread(a, op_put, &o);
	h_wait_eq(&other.destroys, 1, 10000, "destroy of the retried channel");

	o.d = &other;
	h_call_on_thread(a, op_unregister_nocb, &o);
	H_CHECK_INT(o.rc, ==, 0);
	o.d = &d;
	h_call_on_thread(a, op_unregister_nocb, &o);
	H_CHECK_INT(o.rc, ==, 0);
	/* registered again after unregistering */
	H_CHECK_INT(reactor_io_device_register(&d, dev_create, dev_destroy, 16, "dev-again"), ==, 0);
	h_call_on_thread(a, op_unregister_nocb, &o);
	H_CHECK_INT(o.rc, ==, 0);
}

static void test_basics(void **state)
{
	(void)state;
	H_BEGIN();
	run_body(basics_body, NULL);
}

/* ---- one channel per thread ------------------------------------------------------------------- */
static void per_thread_body(void *arg)
{
	static struct dev d;
	struct reactor_thread *t[3];
	struct op o[3];

	(void)arg;
	memset(&d, 0, sizeof(d));
	H_CHECK_INT(reactor_io_device_register(&d, dev_create, dev_destroy, sizeof(struct chctx), "pt"), ==, 0);
	for (unsigned int i = 0; i < 3; i++) {
		t[i] = h_thread_create_on("ch-pt", h_app_cpu(i % ncpu()));
		if (t[i] == NULL)
			return;
		o[i] = (struct op){.d = &d};
		h_call_on_thread(t[i], op_get, &o[i]);
		if (!H_CHECK(o[i].ch[0] != NULL))
			return;
		H_CHECK_PTR_EQ(reactor_io_channel_get_thread(o[i].ch[0]), t[i]);
		H_CHECK_PTR_EQ(((struct chctx *)reactor_io_channel_get_ctx(o[i].ch[0]))->owner, t[i]);
	}
	H_CHECK(o[0].ch[0] != o[1].ch[0] && o[1].ch[0] != o[2].ch[0] && o[0].ch[0] != o[2].ch[0]);
	H_CHECK(reactor_io_channel_get_ctx(o[0].ch[0]) != reactor_io_channel_get_ctx(o[1].ch[0]));
	H_CHECK_INT(atomic_load(&d.creates), ==, 3);
	for (int i = 0; i < 3; i++) {
		h_call_on_thread(t[i], op_put, &o[i]);
		h_wait_eq(&d.destroys, i + 1, 10000, "per-thread destroy");
	}
	H_CHECK_INT(atomic_load(&d.wrong_thread), ==, 0);
	h_call_on_thread(t[0], op_unregister_nocb, &o[0]);
	H_CHECK_INT(o[0].rc, ==, 0);
}

static void test_per_thread(void **state)
{
	(void)state;
	H_BEGIN();
	run_body(per_thread_body, NULL);
}

/* ---- for_each_channel ------------------------------------------------------------------------- */
struct walk {
	struct dev *d;
	int stop_status; /* status given by the first step (0: go on) */
	bool defer;	 /* continue from a later message instead of at once */
	atomic_int inside;
	atomic_int overlap;
	atomic_int steps;
	atomic_int wrong;
	struct reactor_io_channel *seen[8];
	atomic_int cpl_ran;
	int cpl_status;
	int cpl_steps;
	struct reactor_thread *caller;
	struct reactor_thread *cpl_thread;
	struct reactor_io_channel *cpl_channel;
	void *cpl_dev;
	void *cpl_ctx;
	int rc;
};

static void continue_later(void *arg)
{
	struct reactor_io_channel_iter *it = arg;
	struct walk *w = reactor_io_channel_iter_get_ctx(it);

	atomic_fetch_sub(&w->inside, 1);
	reactor_for_each_channel_continue(it, 0);
}

static void walk_step(struct reactor_io_channel_iter *it)
{
	struct walk *w = reactor_io_channel_iter_get_ctx(it);
	struct reactor_io_channel *ch = reactor_io_channel_iter_get_channel(it);
	int n;

	if (atomic_fetch_add(&w->inside, 1) != 0)
		atomic_store(&w->overlap, 1);
	n = atomic_fetch_add(&w->steps, 1);
	if (n < 8)
		w->seen[n] = ch;
	if (ch == NULL || reactor_io_channel_get_thread(ch) != reactor_get_thread() ||
	    reactor_io_channel_iter_get_io_device(it) != w->d)
		atomic_fetch_add(&w->wrong, 1);
	if (w->stop_status != 0) {
		atomic_fetch_sub(&w->inside, 1);
		reactor_for_each_channel_continue(it, w->stop_status);
		return;
	}
	if (w->defer && n % 2 == 0) {
		if (reactor_thread_send_msg(reactor_get_thread(), continue_later, it) == 0)
			return;
		atomic_fetch_add(&w->wrong, 1);
	}
	atomic_fetch_sub(&w->inside, 1);
	reactor_for_each_channel_continue(it, 0);
}

static void walk_done(struct reactor_io_channel_iter *it, int status)
{
	struct walk *w = reactor_io_channel_iter_get_ctx(it);

	w->cpl_status = status;
	w->cpl_steps = atomic_load(&w->steps);
	w->cpl_thread = reactor_get_thread();
	w->cpl_channel = reactor_io_channel_iter_get_channel(it);
	w->cpl_dev = reactor_io_channel_iter_get_io_device(it);
	w->cpl_ctx = reactor_io_channel_iter_get_ctx(it);
	atomic_store(&w->cpl_ran, 1);
}

static void start_walk(void *arg)
{
	struct walk *w = arg;

	w->caller = reactor_get_thread();
	w->rc = reactor_for_each_channel(w->d, walk_step, w, walk_done);
}

static bool walk_finished(void *arg)
{
	return atomic_load(&((struct walk *)arg)->cpl_ran) != 0;
}

static void run_walk(struct reactor_thread *from, struct walk *w)
{
	h_call_on_thread(from, start_walk, w);
	H_CHECK_INT(w->rc, ==, 0);
	h_wait_until(walk_finished, w, 10000, "for_each_channel completion");
	H_CHECK_PTR_EQ(w->cpl_thread, w->caller);
	H_CHECK(w->cpl_channel == NULL);
	H_CHECK_PTR_EQ(w->cpl_dev, w->d);
	H_CHECK_PTR_EQ(w->cpl_ctx, w);
	H_CHECK_INT(atomic_load(&w->overlap), ==, 0);
	H_CHECK_INT(atomic_load(&w->wrong), ==, 0);
}

static void for_each_body(void *arg)
{
	static struct dev d, empty;
	static struct walk w;
	struct reactor_thread *t[3], *caller;
	struct op o[3];

	(void)arg;
	memset(&d, 0, sizeof(d));
	memset(&empty, 0, sizeof(empty));
	H_CHECK_INT(reactor_io_device_register(&d, dev_create, dev_destroy, sizeof(struct chctx), "walked"), ==, 0);
	H_CHECK_INT(reactor_io_device_register(&empty, dev_create, dev_destroy, 8, "empty"), ==, 0);
	caller = h_thread_create_on("walker", REACTOR_CORE_INVALID);
	for (unsigned int i = 0; i < 3; i++) {
		t[i] = h_thread_create_on("ch-walk", h_app_cpu(i % ncpu()));
		if (t[i] == NULL || caller == NULL)
			return;
		o[i] = (struct op){.d = &d};
		h_call_on_thread(t[i], op_get, &o[i]);
	}

	/* every channel, each once, on its own thread; completion on the caller with 0 */
	for (int pass = 0; pass < 2; pass++) {
		memset(&w, 0, sizeof(w));
		w.d = &d;
		w.defer = pass == 1;
		run_walk(caller, &w);
		H_CHECK_INT(w.cpl_status, ==, 0);
		H_CHECK_INT(w.cpl_steps, ==, 3);
		for (int i = 0; i < 3; i++) {
			int hits = 0;

			for (int k = 0; k < 3; k++)
				hits += w.seen[k] == o[i].ch[0];
			H_CHECK_INT(hits, ==, 1);
		}
	}

	/* a non-zero status stops the walk and reaches the completion */
	memset(&w, 0, sizeof(w));
	w.d = &d;
	w.stop_status = -7;
	run_walk(caller, &w);
	H_CHECK_INT(w.cpl_status, ==, -7);
	H_CHECK_INT(w.cpl_steps, ==, 1);

	/* no channels: straight to the completion */
	memset(&w, 0, sizeof(w));
	w.d = &empty;
	run_walk(caller, &w);
	H_CHECK_INT(w.cpl_status, ==, 0);
	H_CHECK_INT(w.cpl_steps, ==, 0);

	for (int i = 0; i < 3; i++)
		h_call_on_thread(t[i], op_put, &o[i]);
	h_wait_eq(&d.destroys, 3, 10000, "destroys after the walks");
	o[0].d = &d;
	h_call_on_thread(caller, op_unregister_nocb, &o[0]);
	o[0].d = &empty;
	h_call_on_thread(caller, op_unregister_nocb, &o[0]);
}

static void test_for_each_channel(void **state)
{
	(void)state;
	H_BEGIN();
	run_body(for_each_body, NULL);
}

/* ---- unregister waits for the last channel -------------------------------------------------- */
struct unreg {
	struct dev *d;
	atomic_int cb_ran;
	struct reactor_thread *caller;
	struct reactor_thread *cb_thread;
	void *cb_dev;
	long destroys_at_cb;
	int rc;
};

static struct unreg *the_unreg;

static void unreg_cb(void *io_device)
{
	the_unreg->cb_thread = reactor_get_thread();
	the_unreg->cb_dev = io_device;
	the_unreg->destroys_at_cb = atomic_load(&the_unreg->d->destroys);
	atomic_store(&the_unreg->cb_ran, 1);
}

static void op_unregister_cb(void *arg)
{
	struct unreg *u = arg;

	u->caller = reactor_get_thread();
	u->rc = reactor_io_device_unregister(u->d, unreg_cb);
}

static bool unreg_done(void *arg)
{
	return atomic_load(&((struct unreg *)arg)->cb_ran) != 0;
}

static void unregister_body(void *arg)
{
	static struct dev d, none;
	static struct unreg u;
	struct reactor_thread *a, *b, *c, *caller;
	struct op oa = {.d = &d}, ob = {.d = &d}, oc = {.d = &d};

	(void)arg;
	memset(&d, 0, sizeof(d));
	memset(&u, 0, sizeof(u));
	the_unreg = &u;
	u.d = &d;
	a = h_thread_create_on("ch-ua", h_app_cpu(0));
	b = h_thread_create_on("ch-ub", h_app_cpu(ncpu() - 1));
	c = h_thread_create_on("ch-uc", REACTOR_CORE_INVALID);
	caller = h_thread_create_on("ch-unregisterer", REACTOR_CORE_INVALID);
	if (a == NULL || b == NULL || c == NULL || caller == NULL)
		return;
	H_CHECK_INT(reactor_io_device_register(&d, dev_create, dev_destroy, sizeof(struct chctx), "unreg"), ==, 0);
	h_call_on_thread(a, op_get, &oa);
	h_call_on_thread(b, op_get, &ob);
	H_CHECK(oa.ch[0] != NULL && ob.ch[0] != NULL);

	h_call_on_thread(caller, op_unregister_cb, &u);
	H_CHECK_INT(u.rc, ==, 0);
	h_sleep_ms(50);
	H_CHECK_INT(atomic_load(&u.cb_ran), ==, 0); /* two channels still live */

	/* no new channel, not even on a thread that has one */
	h_call_on_thread(c, op_get, &oc);
	H_CHECK(oc.ch[0] == NULL);
	H_CHECK_INT(oc.err, ==, ENOENT);
	{
		struct op again = {.d = &d};

		h_call_on_thread(a, op_get, &again);
		H_CHECK(again.ch[0] == NULL);
		H_CHECK_INT(again.err, ==, ENOENT);
	}
	H_CHECK_INT(atomic_load(&d.creates), ==, 2);

	h_call_on_thread(a, op_put, &oa);
	h_wait_eq(&d.destroys, 1, 10000, "first channel destroyed");
	h_sleep_ms(50);
	H_CHECK_INT(atomic_load(&u.cb_ran), ==, 0); /* one channel still live */
	h_call_on_thread(b, op_put, &ob);
	h_wait_until(unreg_done, &u, 10000, "the unregister completion");
	H_CHECK_PTR_EQ(u.cb_thread, u.caller);
	H_CHECK_PTR_EQ(u.cb_dev, &d);
	H_CHECK_INT(u.destroys_at_cb, ==, 2); /* after the last destroy callback */

	/* no channels at all: the completion still comes, on the caller */
	memset(&none, 0, sizeof(none));
	memset(&u, 0, sizeof(u));
	u.d = &none;
	H_CHECK_INT(reactor_io_device_register(&none, dev_create, dev_destroy, 8, "none"), ==, 0);
	h_call_on_thread(caller, op_unregister_cb, &u);
	H_CHECK_INT(u.rc, ==, 0);
	h_wait_until(unreg_done, &u, 10000, "the completion of an unregister with no channels");
	H_CHECK_PTR_EQ(u.cb_thread, u.caller);
	/* and it is gone */
	{
		struct op again = {.d = &none};

		h_call_on_thread(c, op_unregister_nocb, &again);
		H_CHECK_INT(again.rc, ==, -ENOENT);
	}
}

static void test_unregister_deferred(void **state)
{
	(void)state;
	H_BEGIN();
	run_body(unregister_body, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_basics),
		H_TEST(test_per_thread),
		H_TEST(test_for_each_channel),
		H_TEST(test_unregister_deferred),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
