/* SPDX-License-Identifier: BSD-3-Clause */
/* TAP output (see tap.h). Single-threaded callers only. */
#include "tap.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned n_tests, n_failed;
volatile pid_t tap_child;

static void vline(const char *prefix, const char *suffix, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void vline(const char *prefix, const char *suffix, const char *fmt, va_list ap)
{
	printf("%s", prefix);
	vprintf(fmt, ap);
	printf("%s\n", suffix);
	fflush(stdout);
}

bool tap_ok(bool ok, const char *fmt, ...)
{
	va_list ap;
	char prefix[32];

	n_tests++;
	if (!ok)
		n_failed++;
	snprintf(prefix, sizeof(prefix), "%sok %u - ", ok ? "" : "not ", n_tests);
	va_start(ap, fmt);
	vline(prefix, "", fmt, ap);
	va_end(ap);
	return ok;
}

void tap_skip(const char *why, const char *fmt, ...)
{
	va_list ap;
	char prefix[32], suffix[512];

	n_tests++;
	snprintf(prefix, sizeof(prefix), "ok %u - ", n_tests);
	snprintf(suffix, sizeof(suffix), " # SKIP %s", why);
	va_start(ap, fmt);
	vline(prefix, suffix, fmt, ap);
	va_end(ap);
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("# ", "", fmt, ap);
	va_end(ap);
}

void tap_skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	fflush(stdout);
	exit(0);
}

void tap_bail(const char *why)
{
	printf("Bail out! %s\n", why);
	fflush(stdout);
	exit(1);
}

int tap_done(void)
{
	printf("1..%u\n", n_tests);
	if (n_failed)
		printf("# %u of %u failed\n", n_failed, n_tests);
	fflush(stdout);
	return n_failed ? 1 : 0;
}

static void on_alarm(int sig)
{
	static const char msg[] = "Bail out! watchdog expired (the target or the test hangs)\n";
	(void)sig;
	if (write(STDOUT_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to do */
	}
	/* The daemon this test started goes too (never the process group:
	 * make and the other tests are in it). */
	if (tap_child > 0)
		kill(tap_child, SIGKILL);
	_exit(1);
}

void tap_watchdog(unsigned seconds)
{
	signal(SIGALRM, on_alarm);
	alarm(seconds);
}
