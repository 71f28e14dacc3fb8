/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TAP output for the tests/nvmf programs (no cmocka: each case is a step in
 * one conversation with the real daemon, and a SKIP names its reason).
 */
#ifndef TESTS_NVMF_TAP_H
#define TESTS_NVMF_TAP_H

#include <stdbool.h>
#include <sys/types.h>

/* One test point: "ok N - what" or "not ok N - what". Returns ok. */
bool tap_ok(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The condition is evaluated before the message's arguments (a function
 * call's arguments have no order): use this when the condition fills
 * variables the message prints. */
#define TAP_OK(cond, ...)                          \
	({                                         \
		bool tap_cond_ = (cond);           \
		tap_ok(tap_cond_, __VA_ARGS__);    \
	})
void tap_skip(const char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The whole program skipped: "1..0 # SKIP why", exit 0. */
void tap_skip_all(const char *why) __attribute__((noreturn));
/* Stops everything: "Bail out! why", exit 1. */
void tap_bail(const char *why) __attribute__((noreturn));
/* Prints the plan; returns the exit status (0 when nothing failed). */
int tap_done(void);
/* Kills the program with a Bail out after `seconds` (a hang fails the test). */
void tap_watchdog(unsigned seconds);
/* Killed by the watchdog (the daemon under test); 0 = none. */
extern volatile pid_t tap_child;

#endif /* TESTS_NVMF_TAP_H */
