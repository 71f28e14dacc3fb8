/* SPDX-License-Identifier: BSD-3-Clause */
/* Starting and stopping the real nvmf-tgtd for a test (see tgtd.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tgtd.h"

#include "host.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Sanitizer builds start slowly on a loaded 2-CPU host. */
#define TGTD_START_TIMEOUT_MS 30000
#define TGTD_STOP_TIMEOUT_MS 20000

static int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *tgtd_path(void)
{
	static char path[512];
	const char *top = getenv("top_builddir");

	snprintf(path, sizeof(path), "%s/daemon/nvmf-tgtd", top ? top : ".");
	return access(path, X_OK) == 0 ? path : NULL;
}

/* A port nobody listens on now (bind to 0, read it back, close). */
static uint16_t free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint16_t port = 0;

	if (fd < 0)
		return 0;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &sl) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static int write_config(const struct tgtd *t)
{
	FILE *f = fopen(t->conf, "w");

	if (!f)
		return -1;
	fprintf(f,
		"{\"subsystems\": [\n"
		" {\"subsystem\": \"bdev\", \"config\": [\n"
		"  {\"method\": \"bdev_malloc_create\", \"params\": {\"name\": \"Malloc0\", \"num_blocks\": %d, \"block_size\": %d}},\n"
		"  {\"method\": \"bdev_malloc_create\", \"params\": {\"name\": \"Malloc1\", \"num_blocks\": %d, \"block_size\": %d}}\n"
		" ]},\n"
		" {\"subsystem\": \"nvmf\", \"config\": [\n"
		"  {\"method\": \"nvmf_create_transport\", \"params\": {\"trtype\": \"TCP\", \"io_unit_size\": %d}},\n"
		"  {\"method\": \"nvmf_create_subsystem\", \"params\": {\"nqn\": \"%s\", \"allow_any_host\": true, \"serial_number\": \"SPDK00000000000001\", \"model_number\": \"libreactor test\"}},\n"
		"  {\"method\": \"nvmf_subsystem_add_ns\", \"params\": {\"nqn\": \"%s\", \"namespace\": {\"bdev_name\": \"Malloc0\", \"nsid\": 1}}},\n"
		"  {\"method\": \"nvmf_subsystem_add_listener\", \"params\": {\"nqn\": \"%s\", \"listen_address\": {\"trtype\": \"TCP\", \"adrfam\": \"IPv4\", \"traddr\": \"127.0.0.1\", \"trsvcid\": \"%u\"}}},\n"
		"  {\"method\": \"nvmf_create_subsystem\", \"params\": {\"nqn\": \"%s\", \"allow_any_host\": false, \"serial_number\": \"SPDK00000000000002\"}},\n"
		"  {\"method\": \"nvmf_subsystem_add_ns\", \"params\": {\"nqn\": \"%s\", \"namespace\": {\"bdev_name\": \"Malloc1\", \"nsid\": 1}}},\n"
		"  {\"method\": \"nvmf_subsystem_add_host\", \"params\": {\"nqn\": \"%s\", \"host\": \"%s\"}},\n"
		"  {\"method\": \"nvmf_subsystem_add_listener\", \"params\": {\"nqn\": \"%s\", \"listen_address\": {\"trtype\": \"TCP\", \"adrfam\": \"IPv4\", \"traddr\": \"127.0.0.1\", \"trsvcid\": \"%u\"}}}\n"
		" ]}\n"
		"]}\n",
		TGTD_NS_BLOCKS, TGTD_BLOCK_SIZE, TGTD_NS_BLOCKS, TGTD_BLOCK_SIZE, TGTD_IO_UNIT,
		TGTD_NQN_OPEN, TGTD_NQN_OPEN, TGTD_NQN_OPEN, t->port,
		TGTD_NQN_CLOSED, TGTD_NQN_CLOSED, TGTD_NQN_CLOSED, HOST_DEFAULT_HOSTNQN,
		TGTD_NQN_CLOSED, t->port);
	return fclose(f);
}

bool tgtd_alive(struct tgtd *t)
{
	int st;

	if (t->pid <= 0)
		return false;
	if (waitpid(t->pid, &st, WNOHANG) == t->pid) {
		tap_diag("nvmf-tgtd exited: %s %d", WIFEXITED(st) ? "status" : "signal",
			 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		t->pid = 0;
		tap_child = 0;
		return false;
	}
	return true;
}

int tgtd_rpc(const struct tgtd *t, char *out, size_t out_len, const char *method, ...)
{
	const char *top = getenv("top_builddir");
	char ctl[512];
	char *argv[32];
	int argc = 0, fds[2], st;
	posix_spawn_file_actions_t fa;
	pid_t pid;
	va_list ap;
	size_t got = 0;

	snprintf(ctl, sizeof(ctl), "%s/tools/reactorctl", top ? top : ".");
	argv[argc++] = ctl;
	argv[argc++] = (char *)"-s";
	argv[argc++] = (char *)t->sock;
	argv[argc++] = (char *)"-t";
	argv[argc++] = (char *)"20";
	argv[argc++] = (char *)method;
	va_start(ap, method);
	for (const char *a; argc < 31 && (a = va_arg(ap, const char *)) != NULL;)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	if (pipe(fds) != 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDERR_FILENO);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	int rc = posix_spawn(&pid, ctl, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (rc != 0) {
		close(fds[0]);
		tap_diag("spawn %s: %s", ctl, strerror(rc));
		return -1;
	}
	for (;;) {	/* reactorctl bounds itself with -t */
		ssize_t n = read(fds[0], out + got, got + 1 < out_len ? out_len - got - 1 : 0);
		if (n <= 0) {
			char sink[256];
			if (n < 0 && errno == EINTR)
				continue;
			if (n == 0 || got + 1 >= out_len) {
				while (read(fds[0], sink, sizeof(sink)) > 0)
					;
				break;
			}
			break;
		}
		got += (size_t)n;
	}
	if (out_len) {
		out[got < out_len ? got : out_len - 1] = 0;
		/* One line, for TAP messages. */
		for (char *c = out; *c; c++)
			if (*c == '\n')
				*c = ' ';
	}
	close(fds[0]);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void tgtd_diag_log(const struct tgtd *t, int lines)
{
	char cmd[400];
	FILE *p;
	char line[512];

	snprintf(cmd, sizeof(cmd), "tail -n %d '%s'", lines, t->log);
	p = popen(cmd, "r");
	if (!p)
		return;
	while (fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = 0;
		tap_diag("  log: %s", line);
	}
	pclose(p);
}

/* Polls until the listener accepts a TCP connection. */
static int wait_listening(struct tgtd *t)
{
	int64_t deadline = ms_now() + TGTD_START_TIMEOUT_MS;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(t->port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	while (ms_now() < deadline) {
		if (!tgtd_alive(t))
			return -1;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		int rc = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
		close(fd);
		if (rc == 0)
			return 0;
		usleep(20000);
	}
	tap_diag("nvmf-tgtd does not listen on 127.0.0.1:%u after %d ms", t->port,
		 TGTD_START_TIMEOUT_MS);
	return -1;
}

static void remove_files(const struct tgtd *t)
{
	if (getenv("NVMF_TEST_KEEP")) {
		tap_diag("kept %s", t->dir);
		return;
	}
	unlink(t->log);
	unlink(t->conf);
	unlink(t->sock);
	rmdir(t->dir);
}

int tgtd_start(struct tgtd *t, uint16_t port)
{
	const char *bin = tgtd_path();
	const char *tmp = getenv("TMPDIR");

	memset(t, 0, sizeof(*t));
	if (!bin) {
		tap_diag("daemon/nvmf-tgtd not built");
		return -1;
	}
	snprintf(t->bin, sizeof(t->bin), "%s", bin);
	snprintf(t->dir, sizeof(t->dir), "%s/nvmf-test.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(t->dir)) {
		tap_diag("mkdtemp %s: %s", t->dir, strerror(errno));
		return -1;
	}
	snprintf(t->log, sizeof(t->log), "%s/tgtd.log", t->dir);
	snprintf(t->conf, sizeof(t->conf), "%s/tgtd.json", t->dir);
	snprintf(t->sock, sizeof(t->sock), "%s/rpc.sock", t->dir);
	t->port = port ? port : free_port();
	if (t->port == 0 || write_config(t) != 0) {
		tap_diag("cannot pick a port or write %s", t->conf);
		return -1;
	}

	char *argv[] = { t->bin, "-c", t->conf, "-r", t->sock, NULL };
	int logfd = open(t->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pid_t parent = getpid();
	if (logfd < 0 || nullfd < 0) {
		tap_diag("open %s: %s", t->log, strerror(errno));
		return -1;
	}
	t->pid = fork();
	if (t->pid == 0) {
		/* The daemon dies with the test, even when the test crashes
		 * (kept across the libtool wrapper's exec). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(nullfd, STDIN_FILENO);
		dup2(logfd, STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
		execv(t->bin, argv);
		_exit(127);
	}
	close(logfd);
	close(nullfd);
	if (t->pid < 0) {
		tap_diag("fork: %s", strerror(errno));
		t->pid = 0;
		return -1;
	}
	tap_child = t->pid;
	if (wait_listening(t) != 0) {
		tgtd_diag_log(t, 20);
		if (t->pid > 0) {
			kill(t->pid, SIGKILL);
			waitpid(t->pid, NULL, 0);
			t->pid = 0;
			tap_child = 0;
		}
		remove_files(t);
		return -1;
	}
	return 0;
}

static bool log_has_sanitizer_report(const struct tgtd *t)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen(t->log, "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, "ERROR: AddressSanitizer") || strstr(line, "ERROR: LeakSanitizer") ||
			strstr(line, "WARNING: ThreadSanitizer") || strstr(line, "runtime error:");
	fclose(f);
	return found;
}

int tgtd_stop(struct tgtd *t)
{
	int st = 0, rc = 0;

	if (t->pid > 0) {
		int64_t deadline = ms_now() + TGTD_STOP_TIMEOUT_MS;
		pid_t w = 0;

		kill(t->pid, SIGTERM);
		while (ms_now() < deadline && (w = waitpid(t->pid, &st, WNOHANG)) == 0)
			usleep(20000);
		if (w != t->pid) {
			tap_diag("nvmf-tgtd did not exit within %d ms of SIGTERM", TGTD_STOP_TIMEOUT_MS);
			kill(t->pid, SIGKILL);
			waitpid(t->pid, NULL, 0);
			rc = -1;
		} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			tap_diag("nvmf-tgtd exit: %s %d", WIFEXITED(st) ? "status" : "signal",
				 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
			rc = -1;
		}
		t->pid = 0;
		tap_child = 0;
	} else {
		rc = -1;	/* it died before the stop */
	}
	if (log_has_sanitizer_report(t)) {
		tap_diag("sanitizer report in the daemon's log");
		rc = -1;
	}
	if (rc != 0)
		tgtd_diag_log(t, 40);
	remove_files(t);
	return rc;
}

void tgtd_test_start(struct tgtd *t, uint16_t port, unsigned watchdog_s)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!tgtd_path())
		tap_skip_all("daemon/nvmf-tgtd is not built (make daemon/nvmf-tgtd)");
	tap_watchdog(watchdog_s);
	if (tgtd_start(t, port) != 0)
		tap_bail("nvmf-tgtd did not start with the generated config");
	tap_diag("nvmf-tgtd pid %d on 127.0.0.1:%u", (int)t->pid, t->port);
}

int tgtd_test_finish(struct tgtd *t)
{
	TAP_OK(tgtd_alive(t), "nvmf-tgtd still running");
	TAP_OK(tgtd_stop(t) == 0, "nvmf-tgtd exits 0 on SIGTERM, no sanitizer report");
	return tap_done();
}

void tgtd_host_opts(const struct tgtd *t, struct host_opts *o)
{
	host_opts_init(o);
	o->port = t->port;
	o->subnqn = TGTD_NQN_OPEN;
}
