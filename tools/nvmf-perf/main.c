/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nvmf-perf: an NVMe/TCP load generator in the manner of spdk_nvme_perf,
 * built on libreactor's public API and daemon/nvme's protocol code.
 * Order of a run, all driven from the app thread: admin queue up
 * (admin.c) -> one I/O queue pair per connection on the workers' cores
 * (io.c) -> run for -t seconds -> report (report.c) -> close everything.
 * Exit status: 0 after a clean run, 1 on any connect or I/O error, 2 on
 * bad arguments.
 */
#include "perf.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#define WATCHDOG_GRACE_S 30	/* after the run: time for in-flight I/O to come back */

struct perf_config g_cfg = {
	.qd = 32,
	.io_size = 4096,
	.pattern = PAT_RANDREAD,
	.random = true,
	.read_pct = 100,
	.seconds = 10,
	.nsid = 1,
	.kato_ms = 10000,
};
struct perf_ctrlr g_ctrlr;

static struct {
	struct reactor_sock_group *group;
	struct perf_conn *conns;
	bool workers_created;
	bool running;
	bool shutting_down;
	int rc;
	struct reactor_poller *watchdog;
} g_main;

/* ---- shutdown ------------------------------------------------------------------------- */

static void after_workers(void)
{
	perf_admin_stop();
	reactor_sock_group_close(&g_main.group);
	free(g_main.conns);
	g_main.conns = NULL;
	reactor_app_stop(g_main.rc);
}

static void do_shutdown(void *ctx)
{
	(void)ctx;
	reactor_poller_unregister(&g_main.watchdog);
	if (g_main.workers_created)
		perf_workers_destroy(after_workers);
	else
		after_workers();
}

/* Always through a message: the caller may be inside a socket callback of
 * a queue that shutting down destroys. */
static void shutdown_with(int rc)
{
	if (g_main.shutting_down)
		return;
	g_main.shutting_down = true;
	g_main.rc = rc;
	perf_workers_stop_early();
	if (reactor_thread_send_msg(reactor_thread_get_app_thread(), do_shutdown, NULL) != 0)
		reactor_app_stop(rc);
}

static void fail_on_app_thread(void *ctx)
{
	(void)ctx;
	shutdown_with(1);
}

void perf_fail(void)
{
	perf_workers_stop_early();
	reactor_thread_send_msg(reactor_thread_get_app_thread(), fail_on_app_thread, NULL);
}

static void on_signal(void *ctx)
{
	(void)ctx;
	if (g_main.running) {
		fprintf(stderr, "nvmf-perf: interrupted: stopping the run early\n");
		perf_workers_stop_early();
	} else {
		shutdown_with(1);
	}
}

/* ---- phases ------------------------------------------------------------------------------ */

static int watchdog(void *arg)
{
	(void)arg;
	fprintf(stderr, "nvmf-perf: I/O still outstanding %u s after the end of the run: "
		"the target stopped answering\n", WATCHDOG_GRACE_S);
	reactor_poller_unregister(&g_main.watchdog);
	shutdown_with(1);
	return REACTOR_POLLER_BUSY;
}

static void run_done(int rc)
{
	g_main.running = false;
	reactor_poller_unregister(&g_main.watchdog);
	if (rc == 0)
		perf_report(g_main.conns, g_cfg.num_conns);
	else
		fprintf(stderr, "nvmf-perf: the run failed: no results\n");
	shutdown_with(rc ? 1 : 0);
}

static void io_ready(int rc)
{
	if (rc) {
		shutdown_with(1);
		return;
	}
	printf("Initialization complete. Launching workers.\n");
	fflush(stdout);
	g_main.running = true;
	g_main.watchdog = reactor_poller_register_named(
		watchdog, NULL, ((uint64_t)g_cfg.seconds + WATCHDOG_GRACE_S) * 1000000, "nvmf_perf_watchdog");
	perf_workers_run(reactor_get_ticks() + (uint64_t)g_cfg.seconds * reactor_get_ticks_hz(),
			 run_done);
}

static bool check_io_size(void)
{
	if (g_cfg.io_size % g_ctrlr.block_size) {
		fprintf(stderr, "nvmf-perf: I/O size %u is not a multiple of the block size %u\n",
			g_cfg.io_size, g_ctrlr.block_size);
		return false;
	}
	if (g_ctrlr.max_xfer && g_cfg.io_size > g_ctrlr.max_xfer) {
		fprintf(stderr, "nvmf-perf: I/O size %u is above the controller's MDTS (%u bytes)\n",
			g_cfg.io_size, g_ctrlr.max_xfer);
		return false;
	}
	if ((uint64_t)g_cfg.io_size / g_ctrlr.block_size > 65536) {
		fprintf(stderr, "nvmf-perf: I/O size %u is more than 65536 blocks\n", g_cfg.io_size);
		return false;
	}
	if (g_ctrlr.num_blocks < g_cfg.io_size / g_ctrlr.block_size) {
		fprintf(stderr, "nvmf-perf: namespace of %llu blocks is smaller than one I/O\n",
			(unsigned long long)g_ctrlr.num_blocks);
		return false;
	}
	return true;
}

static void admin_ready(int rc)
{
	if (rc) {
		shutdown_with(1);
		return;
	}
	printf("Attached to NVMe over Fabrics controller at %s:%u: %s (%s, serial %s, cntlid %u)\n",
	       g_cfg.trid.traddr, g_cfg.trid.port, g_cfg.trid.subnqn, g_ctrlr.mn, g_ctrlr.sn,
	       g_ctrlr.cntlid);
	printf("Namespace %u: %llu blocks of %u bytes; in-capsule data %u bytes, MDTS %u bytes\n",
	       g_cfg.nsid, (unsigned long long)g_ctrlr.num_blocks, g_ctrlr.block_size,
	       g_ctrlr.icd_limit, g_ctrlr.max_xfer);
	if (!check_io_size()) {
		shutdown_with(1);
		return;
	}
	if (g_ctrlr.io_queues < g_cfg.num_conns) {
		fprintf(stderr, "nvmf-perf: the controller grants %u I/O queues; %u connections asked\n",
			g_ctrlr.io_queues, g_cfg.num_conns);
		shutdown_with(1);
		return;
	}
	if (g_cfg.qd > g_ctrlr.mqes) {
		fprintf(stderr, "nvmf-perf: queue depth %u is above the controller's %u entries; using %u\n",
			g_cfg.qd, g_ctrlr.mqes, g_ctrlr.mqes);
		g_cfg.qd = g_ctrlr.mqes;
	}
	g_main.conns = calloc(g_cfg.num_conns, sizeof(*g_main.conns));
	if (!g_main.conns) {
		fprintf(stderr, "nvmf-perf: out of memory\n");
		shutdown_with(1);
		return;
	}
	for (uint32_t i = 0; i < g_cfg.num_conns; i++) {
		g_main.conns[i].index = i;
		g_main.conns[i].qid = (uint16_t)(i + 1);
	}
	rc = perf_workers_create(g_main.conns, g_cfg.num_conns);
	g_main.workers_created = true;
	if (rc) {
		fprintf(stderr, "nvmf-perf: cannot start the workers: %s\n", strerror(-rc));
		shutdown_with(1);
		return;
	}
	for (uint32_t i = 0; i < g_cfg.num_conns; i++)
		printf("Associating TCP (addr:%s subnqn:%s) NSID %u qpair %u with lcore %u\n",
		       g_cfg.trid.traddr, g_cfg.trid.subnqn, g_cfg.nsid, g_main.conns[i].qid,
		       g_main.conns[i].core);
	fflush(stdout);
	perf_workers_connect(io_ready);
}

static void start(void *ctx)
{
	(void)ctx;
	if (g_cfg.num_conns == 0)
		g_cfg.num_conns = reactor_get_core_count();
	printf("Initializing NVMe Controllers\n");
	fflush(stdout);
	g_main.group = reactor_sock_group_create();
	if (!g_main.group) {
		fprintf(stderr, "nvmf-perf: cannot create a socket group: %s\n", strerror(errno));
		shutdown_with(1);
		return;
	}
	perf_admin_start(g_main.group, admin_ready);
}

/* ---- options ------------------------------------------------------------------------------- */

enum { OPT_HDGST = 0x200, OPT_DDGST, OPT_HELP, OPT_LOG_LEVEL };

static const struct option long_opts[] = {
	{ "transport", required_argument, NULL, 'r' },
	{ "io-depth", required_argument, NULL, 'q' },
	{ "io-size", required_argument, NULL, 'o' },
	{ "io-pattern", required_argument, NULL, 'w' },
	{ "rwmixread", required_argument, NULL, 'M' },
	{ "time", required_argument, NULL, 't' },
	{ "cpumask", required_argument, NULL, 'm' },
	{ "connections", required_argument, NULL, 'c' },
	{ "hostnqn", required_argument, NULL, 'H' },
	{ "nsid", required_argument, NULL, 'n' },
	{ "keep-alive", required_argument, NULL, 'k' },
	{ "hdgst", no_argument, NULL, OPT_HDGST },
	{ "ddgst", no_argument, NULL, OPT_DDGST },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: nvmf-perf -r TRID [options]\n"
		"NVMe/TCP load generator (like spdk_nvme_perf).\n"
		" -r, --transport TRID    'trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:4420 subnqn:NQN'\n"
		" -q, --io-depth N        commands in flight per connection (default 32)\n"
		" -o, --io-size BYTES     I/O size; k/m suffixes allowed (default 4096)\n"
		" -w, --io-pattern P      read, write, randread, randwrite, rw, randrw (default randread)\n"
		" -M, --rwmixread PCT     reads in %% for rw/randrw (default 50)\n"
		" -t, --time SECONDS      run time (default 10)\n"
		" -m, --cpumask MASK      cores for the workers, as libreactor's -m (default: all)\n"
		" -c, --connections N     I/O queue pairs, spread over the cores (default: one per core)\n"
		" -H, --hostnqn NQN       host NQN (default: a random uuid NQN)\n"
		" -n, --nsid N            namespace (default 1)\n"
		" -k, --keep-alive MS     keep-alive timeout; 0 disables (default 10000)\n"
		"     --hdgst, --ddgst    ask for header / data digests (CRC32C)\n"
		"     --log-level LEVEL   libreactor's log level (default warn)\n"
		" -h, --help              this help\n"
		"Exit status: 0 run completed, 1 connect or I/O error (NVMe status printed), 2 bad usage.\n");
}

static int parse_u32(const char *arg, const char *what, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 0);
	unsigned long long mult = 1;

	if (end != arg && (*end == 'k' || *end == 'K'))
		mult = 1024, end++;
	else if (end != arg && (*end == 'm' || *end == 'M'))
		mult = 1024 * 1024, end++;
	if (errno || end == arg || *end || v * mult < min || v * mult > max) {
		fprintf(stderr, "nvmf-perf: %s '%s': a number from %u to %u\n", what, arg, min, max);
		return -1;
	}
	*out = (uint32_t)(v * mult);
	return 0;
}

static int parse_pattern(const char *arg)
{
	static const struct { const char *name; enum perf_pattern p; bool random; int read; } pats[] = {
		{ "read", PAT_READ, false, 100 }, { "write", PAT_WRITE, false, 0 },
		{ "randread", PAT_RANDREAD, true, 100 }, { "randwrite", PAT_RANDWRITE, true, 0 },
		{ "rw", PAT_RW, false, -1 }, { "randrw", PAT_RANDRW, true, -1 },
	};
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
		if (strcmp(arg, pats[i].name) == 0) {
			g_cfg.pattern = pats[i].p;
			g_cfg.random = pats[i].random;
			if (pats[i].read >= 0)
				g_cfg.read_pct = (uint32_t)pats[i].read;
			return pats[i].read < 0 ? 1 : 0;
		}
	}
	fprintf(stderr, "nvmf-perf: -w '%s': read, write, randread, randwrite, rw or randrw\n", arg);
	return -1;
}

static int parse_log_level(const char *arg, int32_t *level)
{
	static const char *names[] = { "error", "warn", "notice", "info", "debug" };
	for (int i = 0; i < 5; i++) {
		if (strcasecmp(arg, names[i]) == 0) {
			*level = REACTOR_LOG_ERROR + i;
			return 0;
		}
	}
	fprintf(stderr, "nvmf-perf: --log-level '%s': error, warn, notice, info or debug\n", arg);
	return -1;
}

static int parse_args(int argc, char **argv, struct reactor_app_opts *opts)
{
	const char *trid = NULL;
	int mixed = 0, pct_given = 0, ch;
	char err[160];

	while ((ch = getopt_long(argc, argv, "r:q:o:w:M:t:m:c:H:n:k:h", long_opts, NULL)) != -1) {
		int rc = 0;
		switch (ch) {
		case 'r': trid = optarg; break;
		case 'q': rc = parse_u32(optarg, "-q", 1, 65536, &g_cfg.qd); break;
		case 'o': rc = parse_u32(optarg, "-o", 512, 1u << 30, &g_cfg.io_size); break;
		case 'w':
			rc = parse_pattern(optarg);
			if (rc > 0)
				mixed = 1, rc = 0;
			break;
		case 'M':
			rc = parse_u32(optarg, "-M", 0, 100, &g_cfg.read_pct);
			pct_given = 1;
			break;
		case 't': rc = parse_u32(optarg, "-t", 1, 86400, &g_cfg.seconds); break;
		case 'm': opts->cpumask = optarg; break;
		case 'c': rc = parse_u32(optarg, "-c", 1, 1024, &g_cfg.num_conns); break;
		case 'H':
			if (!nvme_nqn_valid(optarg, strlen(optarg) + 1)) {
				fprintf(stderr, "nvmf-perf: -H '%s' is not an NQN\n", optarg);
				rc = -1;
			} else {
				snprintf(g_cfg.hostnqn, sizeof(g_cfg.hostnqn), "%s", optarg);
			}
			break;
		case 'n': rc = parse_u32(optarg, "-n", 1, 0xfffffffe, &g_cfg.nsid); break;
		case 'k': rc = parse_u32(optarg, "-k", 0, 3600000, &g_cfg.kato_ms); break;
		case OPT_HDGST: g_cfg.hdgst = true; break;
		case OPT_DDGST: g_cfg.ddgst = true; break;
		case OPT_LOG_LEVEL: rc = parse_log_level(optarg, &opts->print_level); break;
		case 'h':
		case OPT_HELP: usage(stdout); return 1;
		default: usage(stderr); return -1;
		}
		if (rc)
			return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "nvmf-perf: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (!trid) {
		fprintf(stderr, "nvmf-perf: -r TRID is required (try --help)\n");
		return -1;
	}
	if (perf_trid_parse(trid, &g_cfg.trid, err, sizeof(err)) != 0) {
		fprintf(stderr, "nvmf-perf: -r '%s': %s\n", trid, err);
		return -1;
	}
	if (!nvme_nqn_valid(g_cfg.trid.subnqn, sizeof(g_cfg.trid.subnqn))) {
		fprintf(stderr, "nvmf-perf: subnqn '%s' is not an NQN\n", g_cfg.trid.subnqn);
		return -1;
	}
	if (mixed && !pct_given)
		g_cfg.read_pct = 50;
	if (pct_given && !mixed)
		fprintf(stderr, "nvmf-perf: -M is ignored without -w rw or randrw\n");
	return 0;
}

static void make_host_identity(void)
{
	uint8_t *id = g_cfg.hostid;

	if (getrandom(id, 16, 0) != 16) {
		uint64_t t = reactor_get_ticks();
		memcpy(id, &t, sizeof(t));
		memcpy(id + 8, &t, sizeof(t));
	}
	id[6] = (uint8_t)((id[6] & 0x0f) | 0x40);	/* UUID version 4 */
	id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
	if (!g_cfg.hostnqn[0])
		snprintf(g_cfg.hostnqn, sizeof(g_cfg.hostnqn),
			 "nqn.2014-08.org.nvmexpress:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
			 "%02x%02x%02x%02x%02x%02x",
			 id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10],
			 id[11], id[12], id[13], id[14], id[15]);
}

int main(int argc, char **argv)
{
	struct reactor_app_opts opts;
	int rc;

	reactor_app_opts_init(&opts, sizeof(opts));
	opts.name = "nvmf-perf";
	opts.print_level = REACTOR_LOG_WARN;
	opts.shutdown_cb = on_signal;
	rc = parse_args(argc, argv, &opts);
	if (rc)
		return rc > 0 ? 0 : 2;
	make_host_identity();
	rc = reactor_app_start(&opts, start, NULL);
	if (rc < 0) {
		fprintf(stderr, "nvmf-perf: cannot start: %s\n", strerror(-rc));
		return 1;
	}
	return rc;
}
