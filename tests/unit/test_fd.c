/* SPDX-License-Identifier: BSD-3-Clause */
/* fd events: readable/writable callbacks on the owning thread, set_events, unregister. */
#include "helpers.h"

#include <sys/eventfd.h>
#include <sys/socket.h>

struct fdctx {
	int fd;
	uint32_t events;
	const char *name;
	struct reactor_fd_event *ev;
	struct reactor_thread *thread;
	atomic_long calls;
	atomic_long wrong_thread;
	atomic_uint seen_events; /* OR of all events seen */
	atomic_bool drain;	 /* read the fd in the callback */
	long unregister_at;	 /* unregister itself on this call */
	struct fdctx *victim;	 /* unregister victim on the first call */
	atomic_long victim_calls_then;
	atomic_int null_after;
	int reg_errno;
};

static int fd_cb(void *arg, uint32_t events)
{
	struct fdctx *c = arg;
	long n = atomic_fetch_add(&c->calls, 1) + 1;

	if (reactor_get_thread() != c->thread)
		atomic_fetch_add(&c->wrong_thread, 1);
	atomic_fetch_or(&c->seen_events, events);
	if (atomic_load(&c->drain) && (events & REACTOR_FD_READ)) {
		char buf[64];

		if (read(c->fd, buf, sizeof(buf)) < 0 && errno != EAGAIN)
			atomic_fetch_add(&c->wrong_thread, 1000);
	}
	if (n == 1 && c->victim != NULL) {
		atomic_store(&c->victim_calls_then, atomic_load(&c->victim->calls));
		reactor_fd_unregister(&c->victim->ev);
	}
	if (n == c->unregister_at) {
		reactor_fd_unregister(&c->ev);
		atomic_store(&c->null_after, c->ev == NULL);
	}
	return REACTOR_POLLER_BUSY;
}

static void do_register(void *arg)
{
	struct fdctx *c = arg;

	c->thread = reactor_get_thread();
	errno = 0;
	c->ev = reactor_fd_register(c->fd, c->events, fd_cb, c, c->name);
	c->reg_errno = c->ev != NULL ? 0 : errno;
}

static void do_unregister(void *arg)
{
	struct fdctx *c = arg;

	reactor_fd_unregister(&c->ev);
	H_CHECK(c->ev == NULL);
}

struct setev {
	struct fdctx *c;
	uint32_t events;
	int rc;
};

static void do_set_events(void *arg)
{
	struct setev *s = arg;

	s->rc = reactor_fd_set_events(s->c->ev, s->events);
}

struct snap {
	struct fdctx *c;
	long calls;
};

static void do_snap(void *arg)
{
	struct snap *s = arg;

	s->calls = atomic_load(&s->c->calls);
}

static void run_body(void (*fn)(void *), void *arg)
{
	struct reactor_app_opts opts;

	assert_true(h_app_opts(&opts, h_allowed_cpu_count() >= 2 ? 2 : 1));
	assert_int_equal(h_app_run(&opts, fn, arg), 0);
	h_assert_no_failures();
}

static void efd_write(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) != sizeof(one))
		H_FAIL("eventfd write: %s", strerror(errno));
}

static struct fdctx *new_ctx(int fd, uint32_t events, const char *name)
{
	struct fdctx *c = calloc(1, sizeof(*c));

	if (c != NULL) {
		c->fd = fd;
		c->events = events;
		c->name = name;
	}
	return c;
}

/* ---- readable --------------------------------------------------------------------------- */
static void readable_body(void *arg)
{
	struct reactor_thread *t = h_thread_create_on("fd-worker", h_app_cpu(h_allowed_cpu_count() >= 2 ? 1 : 0));
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct fdctx *c = new_ctx(efd, REACTOR_FD_READ, "test-eventfd");

	(void)arg;
	if (t == NULL || efd < 0 || c == NULL)
		return;
	atomic_store(&c->drain, true);
	h_call_on_thread(t, do_register, c);
	if (!H_CHECK(c->ev != NULL))
		return;
	h_sleep_ms(30);
	H_CHECK_INT(atomic_load(&c->calls), ==, 0); /* nothing to read yet */
	for (long i = 1; i <= 5; i++) {
		efd_write(efd);
		h_wait_ge(&c->calls, i, 10000, "the eventfd callback");
	}
	h_sleep_ms(30);
	H_CHECK_INT(atomic_load(&c->calls), ==, 5); /* drained: level-triggered, so no more */
	H_CHECK(atomic_load(&c->seen_events) & REACTOR_FD_READ);
	H_CHECK_INT(atomic_load(&c->wrong_thread), ==, 0);
	h_call_on_thread(t, do_unregister, c);
	h_call_on_thread(t, do_unregister, c); /* twice: ignored */
	efd_write(efd);
	h_sleep_ms(30);
	H_CHECK_INT(atomic_load(&c->calls), ==, 5); /* unregistered */
	close(efd);
	free(c);
}

static void test_eventfd_readable(void **state)
{
	(void)state;
	H_BEGIN();
	run_body(readable_body, NULL);
}

static void pipe_body(void *arg)
{
	struct reactor_thread *t = h_thread_create_on("fd-pipe", REACTOR_CORE_INVALID);
	int p[2];
	struct fdctx *c;

	(void)arg;
	if (t == NULL || !H_CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0))
		return;
	c = new_ctx(p[0], REACTOR_FD_READ, NULL);
	if (c == NULL)
		return;
	atomic_store(&c->drain, true);
	h_call_on_thread(t, do_register, c);
	if (!H_CHECK(c->ev != NULL))
		return;
	H_CHECK(write(p[1], "x", 1) == 1);
	h_wait_ge(&c->calls, 1, 10000, "the pipe callback");
	/* hang-up is always reported */
	close(p[1]);
	{
		uint64_t end = h_now_ns() + 10000000000ull;

		h_waiting_for("HUP on the pipe");
		while (!(atomic_load(&c->seen_events) & REACTOR_FD_HUP) && h_now_ns() < end)
			h_sleep_ms(1);
	}
	H_CHECK(atomic_load(&c->seen_events) & REACTOR_FD_HUP);
	h_call_on_thread(t, do_unregister, c);
	close(p[0]);
	free(c);
}

static void test_pipe_and_hup(void **state)
{
	(void)state;
	H_BEGIN();
	run_body(pipe_body, NULL);
}

/* ---- WRITE via set_events ------------------------------------------------------------------- */
static void write_body(void *arg)
{
	struct reactor_thread *t = h_thread_create_on("fd-write", REACTOR_CORE_INVALID);
	int sv[2];
	struct fdctx *c;
	struct setev se;
	struct snap s;

	(void)arg;
	if (t == NULL || !H_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0))
		return;
	c = new_ctx(sv[0], REACTOR_FD_READ, "sock");
	if (c == NULL)
		return;
	h_call_on_thread(t, do_register, c);
	if (!H_CHECK(c->ev != NULL))
		return;
	h_sleep_ms(30);
	H_CHECK_INT(atomic_load(&c->calls), ==, 0); /* writable, but WRITE not asked for */

	se = (struct setev){.c = c, .events = REACTOR_FD_READ | REACTOR_FD_WRITE};
	h_call_on_thread(t, do_set_events, &se);
	H_CHECK_INT(se.rc, ==, 0);
	h_wait_ge(&c->calls, 5, 10000, "WRITE callbacks (level-triggered)");
	H_CHECK(atomic_load(&c->seen_events) & REACTOR_FD_WRITE);
	H_CHECK(!(atomic_load(&c->seen_events) & REACTOR_FD_READ));

	se.events = REACTOR_FD_READ;
	h_call_on_thread(t, do_set_events, &se);
	H_CHECK_INT(se.rc, ==, 0);
	s.c = c;
	h_call_on_thread(t, do_snap, &s);
	h_sleep_ms(30);
	H_CHECK_INT(atomic_load(&c->calls), ==, s.calls); /* WRITE off again */

	/* now make it readable */
	atomic_store(&c->seen_events, 0);
	atomic_store(&c->drain, false);
	H_CHECK(write(sv[1], "hello", 5) == 5);
	h_wait_ge(&c->calls, s.calls + 1, 10000, "READ callback on the socket");
	H_CHECK(atomic_load(&c->seen_events) & REACTOR_FD_READ);

	se.events = 0x100; /* unknown bit */
	h_call_on_thread(t, do_set_events, &se);
	H_CHECK_INT(se.rc, <, 0);

	h_call_on_thread(t, do_unregister, c);
	close(sv[0]);
	close(sv[1]);
	free(c);
}

static void test_write_events(void **state)
{
	(void)state;
	H_BEGIN();
	run_body(write_body, NULL);
}

/* ---- unregister from callbacks ---------------------------------------------------------------- */
static void unreg_body(void *arg)
{
	struct reactor_thread *t = h_thread_create_on("fd-unreg", REACTOR_CORE_INVALID);
	int e1 = eventfd(1, EFD_NONBLOCK), e2 = eventfd(1, EFD_NONBLOCK), e3 = eventfd(1, EFD_NONBLOCK);
	struct fdctx *self = new_ctx(e1, REACTOR_FD_READ, "self");
	struct fdctx *killer = new_ctx(e2, REACTOR_FD_READ, "killer");
	struct fdctx *victim = new_ctx(e3, REACTOR_FD_READ, "victim");

	(void)arg;
	if (t == NULL || e1 < 0 || e2 < 0 || e3 < 0 || !self || !killer || !victim)
		return;
	/* never drained: level-triggered, so it fires on every iteration until unregistered */
	self->unregister_at = 3;
	h_call_on_thread(t, do_register, self);
	H_CHECK_INT(self->reg_errno, ==, 0); /* self->ev may already be NULL again */
	h_wait_ge(&self->calls, 3, 10000, "3 calls");
	h_sleep_ms(30);
	H_CHECK_INT(atomic_load(&self->calls), ==, 3);
	H_CHECK_INT(atomic_load(&self->null_after), ==, 1);

	h_call_on_thread(t, do_register, victim);
	h_wait_ge(&victim->calls, 2, 10000, "victim calls");
	killer->victim = victim;
	h_call_on_thread(t, do_register, killer);
	h_wait_ge(&killer->calls, 20, 10000, "killer calls");
	H_CHECK_INT(atomic_load(&victim->calls), ==, atomic_load(&killer->victim_calls_then));
	h_call_on_thread(t, do_unregister, killer);
	h_call_on_thread(t, do_unregister, victim); /* already NULL: ignored */
	close(e1);
	close(e2);
	close(e3);
	free(self);
	free(killer);
	free(victim);
}

static void test_unregister_in_callback(void **state)
{
	(void)state;
	H_BEGIN();
	run_body(unreg_body, NULL);
}

/* ---- errors ----------------------------------------------------------------------------------- */
static void errors_body(void *arg)
{
	struct reactor_thread *t = h_thread_create_on("fd-errors", REACTOR_CORE_INVALID);
	int efd = eventfd(0, EFD_NONBLOCK), closed_fd = eventfd(0, 0);
	struct fdctx *a = new_ctx(efd, REACTOR_FD_READ, "a"), *b = new_ctx(efd, REACTOR_FD_WRITE, "b");
	struct fdctx *bad = new_ctx(-1, REACTOR_FD_READ, "bad");
	struct fdctx *badev = new_ctx(efd, 0x100, "badev");
	struct fdctx *cl;
	FILE *f = tmpfile();
	struct fdctx *reg;

	(void)arg;
	if (t == NULL || efd < 0 || closed_fd < 0 || !a || !b || !bad || !badev || f == NULL)
		return;
	close(closed_fd);
	cl = new_ctx(closed_fd, REACTOR_FD_READ, "closed");
	reg = new_ctx(fileno(f), REACTOR_FD_READ, "regular-file");

	h_call_on_thread(t, do_register, a);
	H_CHECK(a->ev != NULL);
	h_call_on_thread(t, do_register, b); /* same fd, same thread */
	H_CHECK(b->ev == NULL);
	H_CHECK_INT(b->reg_errno, ==, EEXIST);
	h_call_on_thread(t, do_register, bad);
	H_CHECK(bad->ev == NULL);
	H_CHECK_INT(bad->reg_errno, ==, EINVAL);
	h_call_on_thread(t, do_register, badev);
	H_CHECK(badev->ev == NULL);
	H_CHECK_INT(badev->reg_errno, ==, EINVAL);
	h_call_on_thread(t, do_register, cl);
	H_CHECK(cl->ev == NULL);
	H_CHECK(cl->reg_errno == EBADF || cl->reg_errno == EINVAL);
	h_call_on_thread(t, do_register, reg); /* epoll refuses regular files: a bad fd */
	H_CHECK(reg->ev == NULL);
	H_CHECK(reg->reg_errno == EINVAL || reg->reg_errno == EPERM);
	/* no current thread */
	errno = 0;
	H_CHECK(reactor_fd_register(efd, REACTOR_FD_READ, fd_cb, a, "x") == NULL);
	H_CHECK_INT(errno, ==, EINVAL);

	h_call_on_thread(t, do_unregister, a);
	/* after unregistering, the fd can be registered again */
	h_call_on_thread(t, do_register, b);
	H_CHECK(b->ev != NULL);
	h_call_on_thread(t, do_unregister, b);
	reactor_fd_unregister(NULL);
	close(efd);
	fclose(f);
	free(a);
	free(b);
	free(bad);
	free(badev);
	free(cl);
	free(reg);
}

static void test_errors(void **state)
{
	(void)state;
	H_BEGIN();
	run_body(errors_body, NULL);
}

/* ---- user-driven thread: reactor_thread_poll() runs ready fds ------------------------------- */
static void test_user_driven_fd(void **state)
{
	struct reactor_thread *t;
	int efd = eventfd(0, EFD_NONBLOCK);
	struct fdctx *c = new_ctx(efd, REACTOR_FD_READ, "ud-eventfd");
	uint64_t end;

	(void)state;
	H_BEGIN();
	assert_true(efd >= 0);
	assert_non_null(c);
	t = reactor_thread_create("ud-fd", NULL);
	assert_non_null(t);
	reactor_set_thread(t);
	atomic_store(&c->drain, true);
	do_register(c);
	assert_non_null(c->ev);
	reactor_thread_poll(t, 0);
	assert_int_equal(atomic_load(&c->calls), 0);
	efd_write(efd);
	end = h_now_ns() + 5000000000ull;
	while (atomic_load(&c->calls) == 0 && h_now_ns() < end)
		reactor_thread_poll(t, 0);
	assert_int_equal(atomic_load(&c->calls), 1);
	assert_int_equal(atomic_load(&c->wrong_thread), 0);
	/* exit waits for the fd registration */
	reactor_thread_exit(t);
	for (int i = 0; i < 10; i++)
		reactor_thread_poll(t, 0);
	assert_false(reactor_thread_is_exited(t));
	reactor_fd_unregister(&c->ev);
	end = h_now_ns() + 5000000000ull;
	while (!reactor_thread_is_exited(t) && h_now_ns() < end)
		reactor_thread_poll(t, 0);
	assert_true(reactor_thread_is_exited(t));
	reactor_set_thread(NULL);
	assert_int_equal(reactor_thread_destroy(t), 0);
	close(efd);
	free(c);
	h_assert_no_failures();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_eventfd_readable),	     H_TEST(test_pipe_and_hup),
		H_TEST(test_write_events),	     H_TEST(test_unregister_in_callback),
		H_TEST(test_errors),		     H_TEST(test_user_driven_fd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
