/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A downstream program, built only from an installed libreactor found with
 * pkg-config (tests/downstream/run.sh). It starts an app on one core, sends
 * an event and a message, stops, and prints the version.
 *
 *   downstream [EXPECTED_LIBDIR]
 *
 * With EXPECTED_LIBDIR it checks that the libreactor mapped into the
 * process lives there (so it did not pick up a build-tree or system copy).
 *
 * Exit codes: 0 ok, 1 the app failed to start or stop properly, 2 version
 * mismatch between headers and library, 3 wrong library loaded, 4 the
 * event or message did not run, 5 timed out.
 */
#include <reactor.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int event_ran;
static int msg_ran;

static void on_timeout(int sig)
{
	static const char msg[] = "downstream: timed out\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(5);
	_exit(5);
}

static void msg_fn(void *ctx)
{
	(void)ctx;
	msg_ran = reactor_get_thread() == reactor_thread_get_app_thread();
	reactor_app_stop(msg_ran && event_ran ? 0 : 4);
}

static void event_fn(void *arg1, void *arg2)
{
	(void)arg2;
	event_ran = reactor_get_current_core() == *(uint32_t *)arg1;
	if (reactor_thread_send_msg(reactor_thread_get_app_thread(), msg_fn, NULL) != 0)
		reactor_app_stop(4);
}

static void start(void *ctx)
{
	static uint32_t core;
	struct reactor_event *ev;

	(void)ctx;
	core = reactor_get_main_core();
	ev = reactor_event_allocate(core, event_fn, &core, NULL);
	if (ev == NULL || reactor_event_call(ev) != 0) {
		fprintf(stderr, "downstream: could not send an event: %s\n", strerror(errno));
		reactor_event_free(ev);
		reactor_app_stop(4);
	}
}

/* The path of the libreactor mapped into this process, from /proc/self/maps. */
static int loaded_library(char *path, size_t len)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[PATH_MAX + 128];
	int found = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = strchr(line, '/');

		if (p != NULL && strstr(p, "/libreactor.so") != NULL) {
			p[strcspn(p, "\n")] = '\0';
			snprintf(path, len, "%s", p);
			found = 1;
			break;
		}
	}
	fclose(f);
	return found;
}

int main(int argc, char **argv)
{
	struct reactor_app_opts opts;
	struct reactor_cpuset *cpus = reactor_cpuset_create();
	char mask[300], lib[PATH_MAX];
	int rc;

	signal(SIGALRM, on_timeout);
	alarm(60);

	printf("libreactor %s (built against %s)\n", reactor_version_string(), REACTOR_VERSION_STRING);
	if (reactor_version_num() != REACTOR_VERSION_NUM ||
	    strcmp(reactor_version_string(), REACTOR_VERSION_STRING) != 0) {
		fprintf(stderr, "downstream: header version %s, library version %s\n", REACTOR_VERSION_STRING,
			reactor_version_string());
		return 2;
	}

	if (!loaded_library(lib, sizeof(lib))) {
		fprintf(stderr, "downstream: libreactor is not in /proc/self/maps\n");
		return 3;
	}
	printf("loaded %s\n", lib);
	if (argc > 1) {
		char want[PATH_MAX], got[PATH_MAX];
		char *slash;

		if (realpath(argv[1], want) == NULL || realpath(lib, got) == NULL) {
			fprintf(stderr, "downstream: cannot resolve %s or %s\n", argv[1], lib);
			return 3;
		}
		slash = strrchr(got, '/');
		if (slash != NULL)
			*slash = '\0';
		if (strcmp(want, got) != 0) {
			fprintf(stderr, "downstream: loaded libreactor from %s, expected %s\n", got, want);
			return 3;
		}
	}

	/* one core: the first one this process may use */
	if (cpus == NULL || reactor_env_get_allowed_cpus(cpus) != 0)
		return 1;
	{
		uint32_t first = reactor_cpuset_next(cpus, UINT32_MAX);

		reactor_cpuset_zero(cpus);
		reactor_cpuset_set(cpus, first);
		reactor_cpuset_format_mask(cpus, mask, sizeof(mask));
	}
	reactor_cpuset_destroy(cpus);

	reactor_app_opts_init(&opts, sizeof(opts));
	opts.name = "downstream";
	opts.cpumask = mask;
	rc = reactor_app_start(&opts, start, NULL);
	if (rc != 0) {
		fprintf(stderr, "downstream: reactor_app_start returned %d (event ran %d, message ran %d)\n", rc,
			event_ran, msg_ran);
		return rc == 4 ? 4 : 1;
	}
	if (!event_ran || !msg_ran)
		return 4;
	printf("downstream: app on cpumask %s ran an event and a message, stopped with 0\n", mask);
	return 0;
}
