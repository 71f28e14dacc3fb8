/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hello_reactor: start a reactor on every allowed core, pass an event
 * around the cores once a second, and shut down cleanly on Ctrl-C.
 *
 *   hello_reactor [-m MASK] [--idle-policy poll|adaptive] [-t SECONDS]
 */
#include <reactor.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
	struct reactor_poller *tick;
	uint64_t laps;
	uint32_t seconds; /* 0: run until Ctrl-C */
	uint32_t elapsed;
} g;

/* Runs on each core in turn; the last one reports back on the app thread. */
static void hop(void *arg1, void *arg2)
{
	uint32_t core = reactor_get_current_core();
	uint32_t next = reactor_get_next_core(core);
	struct reactor_event *ev;

	(void)arg2;
	printf("  event visits core %u\n", core);
	if (next == REACTOR_CORE_INVALID)
		return;
	ev = reactor_event_allocate(next, hop, arg1, NULL);
	if (ev == NULL || reactor_event_call(ev) != 0) {
		fprintf(stderr, "cannot send the event on: %s\n", strerror(errno));
		reactor_event_free(ev);
	}
}

static int tick(void *arg)
{
	struct reactor_event *ev;

	(void)arg;
	g.laps++;
	printf("lap %llu:\n", (unsigned long long)g.laps);
	fflush(stdout);
	ev = reactor_event_allocate(reactor_get_next_core(REACTOR_CORE_INVALID), hop, NULL, NULL);
	if (ev == NULL || reactor_event_call(ev) != 0)
		reactor_event_free(ev);
	if (g.seconds && ++g.elapsed >= g.seconds) {
		reactor_poller_unregister(&g.tick);
		reactor_app_stop(0);
	}
	return REACTOR_POLLER_BUSY;
}

static void start(void *ctx)
{
	uint32_t core;

	(void)ctx;
	printf("hello_reactor: libreactor %s, %u reactor(s) on cores", reactor_version_string(),
	       reactor_get_core_count());
	REACTOR_FOREACH_CORE(core)
		printf(" %u", core);
	printf("; press Ctrl-C to stop\n");
	g.tick = REACTOR_POLLER_REGISTER(tick, NULL, 1000 * 1000);
	if (g.tick == NULL)
		reactor_app_stop(-errno);
}

static void shutdown_cb(void *ctx)
{
	(void)ctx;
	printf("hello_reactor: shutting down after %llu laps\n", (unsigned long long)g.laps);
	reactor_poller_unregister(&g.tick);
	reactor_app_stop(0);
}

static int parse_opt(int ch, char *arg, void *ctx)
{
	char *end;

	(void)ctx;
	if (ch != 't')
		return -EINVAL;
	g.seconds = (uint32_t)strtoul(arg, &end, 10);
	return *end == '\0' ? 0 : -EINVAL;
}

static void usage(FILE *out, void *ctx)
{
	(void)ctx;
	fprintf(out, "  -t SECONDS                stop after SECONDS (default: run until Ctrl-C)\n");
}

int main(int argc, char **argv)
{
	struct reactor_app_opts opts;
	int rc;

	reactor_app_opts_init(&opts, sizeof(opts));
	opts.name = "hello_reactor";
	opts.shutdown_cb = shutdown_cb;
	opts.idle_policy = REACTOR_IDLE_ADAPTIVE;
	rc = reactor_app_parse_args(argc, argv, &opts, "t:", NULL, parse_opt, usage, NULL);
	if (rc != REACTOR_APP_PARSE_ARGS_SUCCESS)
		return rc == REACTOR_APP_PARSE_ARGS_HELP ? 0 : 2;
	rc = reactor_app_start(&opts, start, NULL);
	if (rc < 0)
		fprintf(stderr, "hello_reactor: %s\n", strerror(-rc));
	return rc == 0 ? 0 : 1;
}
