/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Runs the real daemon/nvmf-tgtd for a test: a JSON config (-c) with two
 * malloc-backed subsystems on a free loopback port, an RPC socket in a
 * temporary directory, output in a log file that is checked for sanitizer
 * reports when it stops.
 */
#ifndef TESTS_NVMF_TGTD_H
#define TESTS_NVMF_TGTD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The subsystems of the generated config. */
#define TGTD_NQN_OPEN "nqn.2016-06.io.spdk:cnode1"		/* allow_any_host */
#define TGTD_NQN_CLOSED "nqn.2016-06.io.spdk:cnode2"	/* only HOST_DEFAULT_HOSTNQN */
#define TGTD_NS_BLOCKS 65536	/* 32 MiB of 512-byte blocks per namespace */
#define TGTD_BLOCK_SIZE 512
/* The transport's io_unit_size: a 128 KiB read comes back in 8 C2HData PDUs. */
#define TGTD_IO_UNIT 16384

struct tgtd {
	pid_t pid;
	uint16_t port;
	char dir[256];
	char log[300];
	char conf[300];
	char sock[300];
	char bin[512];
};

/* The daemon's path ($top_builddir/daemon/nvmf-tgtd); NULL when it is not
 * built (the caller skips). */
const char *tgtd_path(void);
/* Port: 0 picks a free one. Starts the daemon and waits (bounded) until it
 * accepts TCP connections. 0, or -1 with the reason printed as TAP diagnostics. */
int tgtd_start(struct tgtd *t, uint16_t port);
bool tgtd_alive(struct tgtd *t);
/* SIGTERM, bounded wait. 0 when it exited 0 and the log has no sanitizer
 * report; -1 otherwise (diagnostics printed). Removes the directory. */
int tgtd_stop(struct tgtd *t);
/* Calls a JSON-RPC method with tools/reactorctl (args: NAME=VALUE strings,
 * NULL-terminated); its standard output (the result) in out. Returns the
 * exit status (0 success), -1 when reactorctl cannot run. */
int tgtd_rpc(const struct tgtd *t, char *out, size_t out_len, const char *method, ...)
	__attribute__((sentinel));
/* The last lines of the daemon's log as TAP diagnostics. */
void tgtd_diag_log(const struct tgtd *t, int lines);

/* What each tests/nvmf program does first: line-buffered stdout, skip all
 * when the daemon is not built, a watchdog of watchdog_s seconds, then the
 * daemon started on port (0: a free one), or Bail out. */
void tgtd_test_start(struct tgtd *t, uint16_t port, unsigned watchdog_s);
/* And last: the daemon is still running and stops cleanly (two test
 * points). Returns the program's exit status (tap_done()). */
int tgtd_test_finish(struct tgtd *t);

struct host_opts;
/* host_opts_init(), aimed at t's port and its open subsystem. */
void tgtd_host_opts(const struct tgtd *t, struct host_opts *o);

#endif /* TESTS_NVMF_TGTD_H */
