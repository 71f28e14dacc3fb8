/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nvmf-tgtd: the NVMe-over-Fabrics (NVMe/TCP) target daemon. libreactor's
 * standard options, the block-device and nvmf subsystems, a JSON config
 * (-c, SPDK's format), JSON-RPC on /run/nvmf-tgtd/rpc.sock by default,
 * the adaptive idle policy by default (an idle target costs no CPU), and
 * systemd's notify protocol when built with libsystemd.
 *
 * SIGTERM/SIGINT: the nvmf subsystem's fini stops accepting, lets in-flight
 * I/O finish and disconnects hosts, then the bdev fini flushes and deletes
 * the devices; exit 0. A shutdown that takes longer than
 * SHUTDOWN_TIMEOUT_S ends the process with status 1 and a message.
 */
#include "config.h"

#include <reactor.h>

#include "bdev.h"
#include "nvmf.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#define PROG "nvmf-tgtd"
#define DEFAULT_RPC_SOCKET "/run/nvmf-tgtd/rpc.sock"
#ifndef NVMF_TGTD_CONFIG
#define NVMF_TGTD_CONFIG "/etc/nvmf-tgtd/nvmf-tgtd.json"
#endif
#define SHUTDOWN_TIMEOUT_S 30
#define STATUS_REFRESH_US (5u * 1000u * 1000u)
#define STR_(x) #x
#define STR(x) STR_(x)

/* systemd's notify protocol (READY=1, STATUS=..., STOPPING=1); nothing without libsystemd or NOTIFY_SOCKET. */
static void notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void notify(const char *fmt, ...)
{
#ifdef HAVE_LIBSYSTEMD
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sd_notify(0, msg);
#else
	(void)fmt;
#endif
}

/* "N subsystem(s) on ADDR, ADDR" into @p buf; app thread (the configuration's owner). */
static void describe_service(char *buf, size_t size)
{
	struct nvmf_subsystem *s;
	struct nvmf_subsystem_listener *l;
	uint32_t nsubs = 0;
	size_t len;

	TAILQ_FOREACH(s, &g_nvmf.subsystems, link)
		nsubs += s->subtype == NVMF_SUBTYPE_NVME && !s->deleting;
	len = (size_t)snprintf(buf, size, "serving %u subsystem%s", nsubs, nsubs == 1 ? "" : "s");
	TAILQ_FOREACH(s, &g_nvmf.subsystems, link) {
		TAILQ_FOREACH(l, &s->listeners, link) {
			bool v6 = strchr(l->addr.traddr, ':') != NULL;
			char one[NVMF_TRADDR_LEN + NVMF_TRSVCID_LEN + 8];

			snprintf(one, sizeof(one), "%s%s%s:%s", v6 ? "[" : "", l->addr.traddr, v6 ? "]" : "",
				 l->addr.trsvcid);
			if (strstr(buf, one) != NULL) /* several subsystems on one address */
				continue;
			if (len + strlen(one) + 8 >= size) {
				snprintf(buf + len, size - len, ", ...");
				return;
			}
			len += (size_t)snprintf(buf + len, size - len, "%s%s", strstr(buf, " on ") ? ", " : " on ",
						one);
		}
	}
	if (strstr(buf, " on ") == NULL)
		snprintf(buf + len, size - len, " (no listener yet)");
}

static char g_status[256];
static struct reactor_poller *g_status_poller;

#ifdef HAVE_LIBSYSTEMD
/* Subsystems and listeners change over JSON-RPC: keep systemctl status truthful. */
static int status_refresh(void *arg)
{
	char now[sizeof(g_status)];

	(void)arg;
	describe_service(now, sizeof(now));
	if (strcmp(now, g_status) == 0)
		return REACTOR_POLLER_IDLE;
	memcpy(g_status, now, sizeof(g_status));
	notify("STATUS=%s", g_status);
	return REACTOR_POLLER_BUSY;
}
#endif

static void start(void *arg)
{
	const char *rpc_addr = arg;

	describe_service(g_status, sizeof(g_status));
	REACTOR_NOTICELOG(PROG " %s: %s; JSON-RPC on %s\n", PACKAGE_VERSION, g_status,
			  rpc_addr != NULL ? rpc_addr : "(none)");
	notify("READY=1\nSTATUS=%s", g_status);
#ifdef HAVE_LIBSYSTEMD
	if (getenv("NOTIFY_SOCKET") != NULL)
		g_status_poller = reactor_poller_register_named(status_refresh, NULL, STATUS_REFRESH_US,
							       "nvmf_tgtd_status");
#endif
}

/* A fini that hangs (a device that never completes its I/O) must not keep the daemon alive forever. */
static void shutdown_timeout(int sig)
{
	static const char msg[] = PROG ": shutdown did not finish within " STR(SHUTDOWN_TIMEOUT_S) " s; exiting\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to do */
	}
	_exit(1);
}

static void shutdown_cb(void *arg)
{
	static bool stopping;
	struct sigaction sa;

	(void)arg;
	if (stopping)
		return;
	stopping = true;
	reactor_poller_unregister(&g_status_poller);
	REACTOR_NOTICELOG(PROG ": stopping (disconnecting hosts, flushing devices)\n");
	notify("STOPPING=1\nSTATUS=stopping");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = shutdown_timeout;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	alarm(SHUTDOWN_TIMEOUT_S);
	reactor_app_stop(0);
}

/* Make the RPC socket's directory (/run/nvmf-tgtd is not there after a reboot). */
static int make_parent_dir(const char *path)
{
	char dir[4096];
	char *slash;
	struct stat st;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (stat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	for (char *p = dir + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static void usage(FILE *out, void *ctx)
{
	(void)ctx;
	fprintf(out,
		"  (no options of its own; defaults differ from libreactor's:\n"
		"   -r %s, --idle-policy adaptive)\n"
		"\n"
		"Configure with -c FILE (SPDK's JSON config, as save_config writes it; an example is\n"
		"installed as %s) or at run time over JSON-RPC (reactorctl nvmf_create_transport ...).\n",
		DEFAULT_RPC_SOCKET, NVMF_TGTD_CONFIG);
}

int main(int argc, char **argv)
{
	struct reactor_app_opts opts;
	int rc;

	reactor_app_opts_init(&opts, sizeof(opts));
	opts.name = PROG;
	opts.rpc_addr = DEFAULT_RPC_SOCKET;
	opts.idle_policy = REACTOR_IDLE_ADAPTIVE;
	opts.shutdown_cb = shutdown_cb;
	rc = reactor_app_parse_args(argc, argv, &opts, NULL, NULL, NULL, usage, NULL);
	if (rc != REACTOR_APP_PARSE_ARGS_SUCCESS)
		return rc == REACTOR_APP_PARSE_ARGS_HELP ? 0 : 2;
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\nTry '%s --help' for more information.\n",
			argv[optind], argv[0]);
		return 2;
	}
	if (opts.json_config_file != NULL && access(opts.json_config_file, R_OK) != 0) {
		fprintf(stderr, PROG ": cannot read the config file %s: %s\n", opts.json_config_file, strerror(errno));
		return 1;
	}
	if (opts.rpc_addr != NULL) {
		rc = make_parent_dir(opts.rpc_addr);
		if (rc != 0) {
			fprintf(stderr, PROG ": cannot create the directory of the RPC socket %s: %s (choose another "
				"path with -r PATH)\n", opts.rpc_addr, strerror(-rc));
			return 1;
		}
	}
	if (nvmf_module_init() != 0)
		return 1;
	rc = reactor_app_start(&opts, start, (void *)opts.rpc_addr);
	if (rc != 0) {
		fprintf(stderr, PROG ": %s: %s%s%s\n", rc < 0 ? "cannot start" : "stopped with an error",
			strerror(rc < 0 ? -rc : rc), opts.json_config_file != NULL ? "; config file " : "",
			opts.json_config_file != NULL ? opts.json_config_file : "");
		notify("STATUS=failed: %s\nERRNO=%d", strerror(rc < 0 ? -rc : rc), rc < 0 ? -rc : rc);
		return 1;
	}
	return 0;
}
