/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for nvmf-tgtd's NVMe/TCP path: PDU parsing, the
 * connection state machine, Fabrics/admin/I/O command dispatch, on a RAM
 * namespace.
 *
 * LLVMFuzzerInitialize starts the real target in-process (framework, bdev
 * malloc, nvmf core, TCP transport listening on 127.0.0.1 at a free port)
 * from a JSON config, on reactor threads. Each input is then played over a
 * fresh blocking TCP connection. Byte 0 of the input selects the prologue
 * the harness does itself, so that deep paths are reached:
 *   bits 0-1  0: none (the input starts with its own ICReq)
 *             1: a valid ICReq
 *             2: ICReq, admin Connect, CC.EN = 1 (admin commands follow)
 *             3: an admin controller on a side connection, then ICReq and
 *                I/O Connect on this one (I/O commands follow)
 *   bit 2/3   header / data digests asked for in the harness's ICReq
 *   bit 4     recompute header and data digests of the input's PDUs
 *   bit 5     linger (read until quiet) instead of half-closing at once
 * The rest is a sequence of PDUs (cut by their PLEN), sent as they are,
 * except a pseudo-PDU of type 0xFE and PLEN 8: "wait for the target's next
 * R2T and answer it with H2CData", which makes R2T flows reachable without
 * knowing the target's TTAGs.
 *
 * Mutation (LLVMFuzzerCustomMutator): libFuzzer's own byte mutations half
 * of the time; otherwise one structure-aware step on the PDU sequence:
 * flip a mode bit, set an SQE field (opcode, CID, NSID, SGL, CDW10-15) or
 * a header byte to an interesting value, duplicate, drop or swap a PDU, or
 * insert an R2T directive or a canned command.
 *
 * Oracle: besides the sanitizers, every PDU the target sends must pass
 * daemon/nvme's host-side validator (right HLEN/PLEN/PDO, digests when
 * negotiated, data alignment to the HPDA asked for).
 *
 * Built by tests/fuzz/run-nvmf-fuzz.sh with clang -fsanitize=fuzzer,
 * address,undefined from the sources of lib/, daemon/bdev, daemon/nvme and
 * daemon/nvmf.
 */
#include "config.h"

#include <reactor.h>

#include "bdev.h"
#include "nvmf.h"
#include "nvme_tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

#define SUBNQN "nqn.2016-06.io.libreactor:fuzz"
#define HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:8a3c1a9e-2d3b-4f1e-9a6b-0c1d2e3f4a5b"
#define MODE_RAW 0
#define MODE_ICREQ 1
#define MODE_ADMIN 2
#define MODE_IO 3
#define F_HDGST 0x04
#define F_DDGST 0x08
#define F_FIXUP 0x10
#define F_LINGER 0x20
#define PSEUDO_ANSWER_R2T 0xFE
#define RX_CAP (512 * 1024)
#define REPLY_TIMEOUT_MS 1000	/* the target answers a prologue step within this */
#define QUIET_MS 20		/* linger: no bytes for this long ends the input */
#define R2T_WAIT_MS 100		/* the R2T directive gives up after this (there may be none) */
#define INPUT_BUDGET_MS 2000	/* bound on reading after the input was sent */

static uint16_t g_port;
static atomic_int g_app_state;
static bool g_verbose;		/* NVMF_FUZZ_VERBOSE: the target's log and each PDU it sends */	/* 0 starting, 1 running, -1 failed */

/* ---- the target --------------------------------------------------------------- */

static void app_started(void *ctx)
{
	(void)ctx;
	atomic_store(&g_app_state, 1);
}

static void *app_thread(void *arg)
{
	struct reactor_app_opts opts;
	int rc;

	reactor_app_opts_init(&opts, sizeof(opts));
	opts.name = "nvmf_tgt_fuzz";
	opts.json_config_file = arg;
	opts.handle_signals = false;	/* libFuzzer owns the signals */
	opts.idle_policy = REACTOR_IDLE_ADAPTIVE;	/* sleep between inputs: the fuzzer needs the CPU */
	opts.print_level = g_verbose ? REACTOR_LOG_NOTICE : REACTOR_LOG_DISABLED;
	opts.stall_threshold_ms = 0;	/* ASan makes every path slow */
	rc = reactor_app_start(&opts, app_started, NULL);
	fprintf(stderr, "nvmf_tgt_fuzz: the target stopped (%d)\n", rc);
	atomic_store(&g_app_state, -1);
	return NULL;
}

static uint16_t free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
		perror("nvmf_tgt_fuzz: cannot find a free port");
		abort();
	}
	close(fd);
	return ntohs(sa.sin_port);
}

static int tcp_connect(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(g_port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 1 };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));	/* a target that stops reading */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[] = "/tmp/nvmf-tgt-fuzz-XXXXXX";
	pthread_t t;
	FILE *f;
	int fd;

	(void)argc;
	(void)argv;
	g_verbose = getenv("NVMF_FUZZ_VERBOSE") != NULL;
	g_port = free_port();
	fd = mkstemp(path);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		perror("nvmf_tgt_fuzz: config file");
		abort();
	}
	/* Two namespaces: 512-byte and 4 KiB blocks. */
	fprintf(f,
		"{\"subsystems\": [\n"
		" {\"subsystem\": \"bdev\", \"config\": [\n"
		"  {\"method\": \"bdev_malloc_create\", \"params\": {\"name\": \"Malloc0\", \"num_blocks\": 8192, \"block_size\": 512}},\n"
		"  {\"method\": \"bdev_malloc_create\", \"params\": {\"name\": \"Malloc1\", \"num_blocks\": 256, \"block_size\": 4096}}]},\n"
		" {\"subsystem\": \"nvmf\", \"config\": [\n"
		"  {\"method\": \"nvmf_create_transport\", \"params\": {\"trtype\": \"TCP\"}},\n"
		"  {\"method\": \"nvmf_create_subsystem\", \"params\": {\"nqn\": \"" SUBNQN "\", \"allow_any_host\": true}},\n"
		"  {\"method\": \"nvmf_subsystem_add_ns\", \"params\": {\"nqn\": \"" SUBNQN "\", \"namespace\": {\"nsid\": 1, \"bdev_name\": \"Malloc0\"}}},\n"
		"  {\"method\": \"nvmf_subsystem_add_ns\", \"params\": {\"nqn\": \"" SUBNQN "\", \"namespace\": {\"nsid\": 2, \"bdev_name\": \"Malloc1\"}}},\n"
		"  {\"method\": \"nvmf_subsystem_add_listener\", \"params\": {\"nqn\": \"" SUBNQN "\", \"listen_address\": "
		"{\"trtype\": \"TCP\", \"adrfam\": \"IPv4\", \"traddr\": \"127.0.0.1\", \"trsvcid\": \"%u\"}}},\n"
		"  {\"method\": \"nvmf_subsystem_add_listener\", \"params\": {\"nqn\": \"" NVME_DISCOVERY_NQN "\", \"listen_address\": "
		"{\"trtype\": \"TCP\", \"adrfam\": \"IPv4\", \"traddr\": \"127.0.0.1\", \"trsvcid\": \"%u\"}}}]}]}\n",
		g_port, g_port);
	fclose(f);
	if (bdev_module_init() != 0 || nvmf_module_init() != 0) {
		fprintf(stderr, "nvmf_tgt_fuzz: module init failed\n");
		abort();
	}
	static char config[sizeof(path)];
	memcpy(config, path, sizeof(path));
	if (pthread_create(&t, NULL, app_thread, config) != 0)
		abort();
	pthread_detach(t);
	for (int i = 0; i < 2000; i++) {	/* 20 s */
		if (atomic_load(&g_app_state) < 0)
			break;
		if (atomic_load(&g_app_state) == 1) {
			int c = tcp_connect();
			if (c >= 0) {
				close(c);
				unlink(config);
				fprintf(stderr, "nvmf_tgt_fuzz: target listening on 127.0.0.1:%u\n", g_port);
				return 0;
			}
		}
		usleep(10000);
	}
	fprintf(stderr, "nvmf_tgt_fuzz: the target did not start listening (config %s)\n", config);
	abort();
}

/* ---- receiving and checking what the target sends ------------------------------ */

struct rx {
	int fd;
	bool closed;
	uint8_t *buf;
	size_t len, pos;	/* bytes held; start of the first unchecked PDU */
	struct nvme_tcp_rx_ctx ctx;
	/* the latest of each, for the prologue and the R2T directive */
	bool have_resp, have_r2t;
	struct nvme_cqe resp;
	uint16_t r2t_cccid, r2t_ttag;
	uint32_t r2to, r2tl;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void bad_pdu(const struct rx *r, const uint8_t *p, const struct nvme_tcp_err *err)
{
	fprintf(stderr, "nvmf_tgt_fuzz: the target sent an invalid %s PDU: %s (FES %u, FEI %u); header:",
		nvme_tcp_pdu_type_name(p[0]), err->why, err->fes, err->fei);
	for (size_t i = 0; i < 24 && r->pos + i < r->len; i++)
		fprintf(stderr, " %02x", p[i]);
	fputc('\n', stderr);
	abort();
}

/* Check every complete PDU in the buffer with the host-side validator. */
static void rx_check(struct rx *r)
{
	struct nvme_tcp_pdu_info info;
	struct nvme_tcp_err err;

	while (r->len - r->pos >= NVME_TCP_CH_LEN) {
		const uint8_t *p = r->buf + r->pos;
		size_t avail = r->len - r->pos;

		if (nvme_tcp_parse_ch(&r->ctx, p, avail, &info, &err) != 0)
			bad_pdu(r, p, &err);
		if (info.plen > RX_CAP) {
			fprintf(stderr, "nvmf_tgt_fuzz: the target sent a PDU of %u bytes\n", info.plen);
			abort();
		}
		if (avail < info.plen)
			return;
		if (nvme_tcp_parse_psh(&r->ctx, p, avail, &info, &err) != 0)
			bad_pdu(r, p, &err);
		if (g_verbose)
			fprintf(stderr, "nvmf_tgt_fuzz: fd %d <- %s plen %u cid %u status 0x%x\n", r->fd,
				nvme_tcp_pdu_type_name(info.type), info.plen,
				info.type == NVME_TCP_PDU_CAPSULE_RESP ? nvme_get_le16(p + 20) : nvme_get_le16(p + 8),
				info.type == NVME_TCP_PDU_CAPSULE_RESP ? nvme_get_le16(p + 22) : 0);
		switch (info.type) {
		case NVME_TCP_PDU_ICRESP:
			r->ctx.ic_done = true;
			r->ctx.hdgst = p[offsetof(struct nvme_tcp_icresp, dgst)] & NVME_TCP_DGST_HDR;
			r->ctx.ddgst = p[offsetof(struct nvme_tcp_icresp, dgst)] & NVME_TCP_DGST_DATA;
			break;
		case NVME_TCP_PDU_CAPSULE_RESP:
			memcpy(&r->resp, p + offsetof(struct nvme_tcp_resp, cqe), sizeof(r->resp));
			r->have_resp = true;
			break;
		case NVME_TCP_PDU_R2T:
			r->r2t_cccid = nvme_get_le16(p + offsetof(struct nvme_tcp_r2t, cccid));
			r->r2t_ttag = nvme_get_le16(p + offsetof(struct nvme_tcp_r2t, ttag));
			r->r2to = nvme_get_le32(p + offsetof(struct nvme_tcp_r2t, r2to));
			r->r2tl = nvme_get_le32(p + offsetof(struct nvme_tcp_r2t, r2tl));
			r->have_r2t = true;
			break;
		default:
			break;
		}
		r->pos += info.plen;
	}
}

/* One poll + recv: false when the peer closed, failed or nothing came in time. */
static bool rx_read(struct rx *r, int timeout_ms)
{
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };

	if (r->closed)
		return false;
	if (r->pos == r->len) {
		r->pos = r->len = 0;
	} else if (r->len == RX_CAP) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
	}
	if (poll(&pfd, 1, timeout_ms) <= 0)
		return false;
	ssize_t n = recv(r->fd, r->buf + r->len, RX_CAP - r->len, 0);
	if (n <= 0) {
		r->closed = true;
		return false;
	}
	r->len += (size_t)n;
	rx_check(r);
	return true;
}

static bool send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* ---- prologue ----------------------------------------------------------------- */

static bool wait_resp(struct rx *r)
{
	uint64_t end = now_ms() + REPLY_TIMEOUT_MS;
	r->have_resp = false;
	while (!r->have_resp && now_ms() < end)
		if (!rx_read(r, REPLY_TIMEOUT_MS))
			return false;
	return r->have_resp;
}

static bool send_icreq(struct rx *r, bool hdgst, bool ddgst)
{
	uint8_t hdr[NVME_TCP_HDR_MAX];
	size_t n = nvme_tcp_build_icreq(hdr, 0, hdgst, ddgst, 0);

	r->ctx.role = NVME_TCP_ROLE_HOST;
	r->ctx.hdgst = hdgst;
	r->ctx.ddgst = ddgst;
	if (!send_all(r->fd, hdr, n))
		return false;
	uint64_t end = now_ms() + REPLY_TIMEOUT_MS;
	while (!r->ctx.ic_done && now_ms() < end)
		if (!rx_read(r, REPLY_TIMEOUT_MS))
			return false;
	return r->ctx.ic_done;
}

/* A command with optional in-capsule data, digests as negotiated; waits for its CQE. */
static bool command(struct rx *r, const struct nvme_sqe *sqe, const void *data, uint32_t len)
{
	uint8_t pdu[NVME_TCP_HDR_MAX + 1024 + NVME_TCP_DIGEST_LEN];
	struct nvme_sqe s = *sqe;

	s.flags = NVME_SQE_PSDT_SGL << NVME_SQE_PSDT_SHIFT;
	s.dptr.sgl1.length = len;
	s.dptr.sgl1.type = len ? NVME_SGL_TYPE_BYTE(NVME_SGL_TYPE_DATA_BLOCK, NVME_SGL_SUBTYPE_OFFSET)
			       : NVME_SGL_TYPE_BYTE(NVME_SGL_TYPE_TRANSPORT_DATA_BLOCK,
						    NVME_SGL_SUBTYPE_TRANSPORT);
	size_t n = nvme_tcp_build_capsule_cmd(pdu, &s, len, r->ctx.hdgst, r->ctx.ddgst, 0);
	if (len) {
		memcpy(pdu + n, data, len);
		n += len;
		if (r->ctx.ddgst) {
			nvme_put_le32(pdu + n, nvme_crc32c(data, len));
			n += NVME_TCP_DIGEST_LEN;
		}
	}
	return send_all(r->fd, pdu, n) && wait_resp(r);
}

static bool fabrics_connect(struct rx *r, uint16_t qid, uint16_t cntlid)
{
	struct nvme_connect_cmd c = { .opc = NVME_OPC_FABRICS, .fctype = NVME_FCTYPE_CONNECT,
				      .qid = qid, .sqsize = 31 };
	struct nvme_connect_data d;
	struct nvme_sqe sqe;

	memset(&d, 0, sizeof(d));
	d.cntlid = cntlid;
	memcpy(d.hostid, "fuzzfuzzfuzzfuzz", 16);
	snprintf(d.subnqn, sizeof(d.subnqn), "%s", SUBNQN);
	snprintf(d.hostnqn, sizeof(d.hostnqn), "%s", HOSTNQN);
	memcpy(&sqe, &c, sizeof(sqe));
	sqe.cid = 0x1000;
	return command(r, &sqe, &d, sizeof(d)) && r->resp.status >> 1 == 0;
}

/* Admin queue up to CC.EN = 1 and a few I/O queues granted; returns the CNTLID or -1. */
static int admin_prologue(struct rx *r, bool hdgst, bool ddgst)
{
	struct nvme_property_cmd p = { .opc = NVME_OPC_FABRICS, .fctype = NVME_FCTYPE_PROPERTY_SET,
				       .ofst = NVME_PROP_CC,
				       .value = NVME_CC_EN | (6u << 16) | (4u << 20) };
	struct nvme_sqe sqe;

	if (!send_icreq(r, hdgst, ddgst) || !fabrics_connect(r, 0, NVME_CNTLID_DYNAMIC))
		return -1;
	int cntlid = r->resp.cdw0 & 0xffff;
	memcpy(&sqe, &p, sizeof(sqe));
	sqe.cid = 0x1001;
	if (!command(r, &sqe, NULL, 0))
		return -1;
	memset(&sqe, 0, sizeof(sqe));
	sqe.opc = NVME_OPC_SET_FEATURES;
	sqe.cid = 0x1002;
	sqe.cdw10 = NVME_FEAT_NUMBER_OF_QUEUES;
	sqe.cdw11 = 3 | (3u << 16);
	if (!command(r, &sqe, NULL, 0))
		return -1;
	return cntlid;
}

/* ---- the input's PDUs ---------------------------------------------------------- */

/* Make the digests of each PDU right, so mutations get past the digest checks. */
static void fix_digests(uint8_t *p, size_t len)
{
	while (len >= NVME_TCP_CH_LEN) {
		uint8_t flags = p[1], hlen = p[2], pdo = p[3];
		uint32_t plen = nvme_get_le32(p + 4);
		if (plen < NVME_TCP_CH_LEN || plen > len)
			return;
		if ((flags & NVME_TCP_F_HDGST) && (uint32_t)hlen + NVME_TCP_DIGEST_LEN <= plen)
			nvme_put_le32(p + hlen, nvme_crc32c(p, hlen));
		if ((flags & NVME_TCP_F_DDGST) && pdo && (uint32_t)pdo + NVME_TCP_DIGEST_LEN < plen)
			nvme_put_le32(p + plen - NVME_TCP_DIGEST_LEN,
				      nvme_crc32c(p + pdo, plen - pdo - NVME_TCP_DIGEST_LEN));
		p += plen;
		len -= plen;
	}
}

/* The 0xFE directive: wait for an R2T and send the data it asks for. */
static bool answer_r2t(struct rx *r)
{
	static uint8_t data[128 * 1024];
	uint8_t hdr[NVME_TCP_HDR_MAX], dd[NVME_TCP_DIGEST_LEN];
	uint64_t end = now_ms() + R2T_WAIT_MS;

	r->have_r2t = false;
	while (!r->have_r2t && now_ms() < end)
		if (!rx_read(r, R2T_WAIT_MS))
			return !r->closed;
	if (!r->have_r2t)
		return true;	/* none came: go on with the input */
	uint32_t off = r->r2to, stop = r->r2to + (r->r2tl < sizeof(data) ? r->r2tl : sizeof(data));
	while (off < stop) {
		uint32_t n = stop - off < 32768 ? stop - off : 32768;
		memset(data, (int)(off & 0xff), n);
		size_t hl = nvme_tcp_build_data(hdr, NVME_TCP_PDU_H2C_DATA, r->r2t_cccid, r->r2t_ttag, off,
						n, off + n == stop ? NVME_TCP_F_DATA_LAST : 0,
						r->ctx.hdgst, r->ctx.ddgst, 0);
		if (!send_all(r->fd, hdr, hl) || !send_all(r->fd, data, n))
			return false;
		if (r->ctx.ddgst) {
			nvme_put_le32(dd, nvme_crc32c(data, n));
			if (!send_all(r->fd, dd, sizeof(dd)))
				return false;
		}
		off += n;
	}
	return true;
}

/* Send the PDUs, acting on directives; bytes that do not parse go as they are. */
static void play(struct rx *r, const uint8_t *p, size_t len)
{
	size_t start = 0, off = 0;

	while (off + NVME_TCP_CH_LEN <= len) {
		uint32_t plen = nvme_get_le32(p + off + 4);
		if (plen < NVME_TCP_CH_LEN || plen > len - off)
			break;
		if (p[off] == PSEUDO_ANSWER_R2T && plen == NVME_TCP_CH_LEN) {
			if (!send_all(r->fd, p + start, off - start) || !answer_r2t(r))
				return;
			start = off + plen;
		} else if (p[off] == NVME_TCP_PDU_ICREQ && !r->ctx.ic_done && plen >= 12) {
			/* Raw mode: what this ICReq asks decides what the target may send. */
			r->ctx.hdgst = p[off + 11] & NVME_TCP_DGST_HDR;
			r->ctx.ddgst = p[off + 11] & NVME_TCP_DGST_DATA;
			r->ctx.rx_pda = p[off + 10] <= NVME_TCP_PDA_MAX ? p[off + 10] : 0;
		}
		off += plen;
	}
	send_all(r->fd, p + start, len - start);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *rxbuf;
	struct rx r, side;
	uint8_t *copy;
	int cntlid = NVME_CNTLID_DYNAMIC;

	if (size < 1 || atomic_load(&g_app_state) != 1)
		return 0;
	if (!rxbuf && !(rxbuf = malloc(2 * RX_CAP)))
		abort();
	uint8_t flags = data[0];
	int mode = flags & 3;
	bool hdgst = flags & F_HDGST, ddgst = flags & F_DDGST;

	memset(&r, 0, sizeof(r));
	memset(&side, 0, sizeof(side));
	r.buf = rxbuf;
	side.buf = rxbuf + RX_CAP;
	r.ctx.role = side.ctx.role = NVME_TCP_ROLE_HOST;
	side.fd = -1;
	r.fd = tcp_connect();
	if (r.fd < 0) {
		fprintf(stderr, "nvmf_tgt_fuzz: cannot connect to the target: %s\n", strerror(errno));
		abort();
	}
	if (mode == MODE_IO) {
		side.fd = tcp_connect();
		cntlid = side.fd >= 0 ? admin_prologue(&side, false, false) : -1;
		if (cntlid < 0)
			goto out;
	}
	if (mode == MODE_ICREQ && !send_icreq(&r, hdgst, ddgst))
		goto out;
	if (mode == MODE_ADMIN && admin_prologue(&r, hdgst, ddgst) < 0)
		goto out;
	if (mode == MODE_IO &&
	    (!send_icreq(&r, hdgst, ddgst) || !fabrics_connect(&r, 1, (uint16_t)cntlid)))
		goto out;

	copy = malloc(size);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	if (flags & F_FIXUP)
		fix_digests(copy + 1, size - 1);
	play(&r, copy + 1, size - 1);
	free(copy);

	if (!(flags & F_LINGER))
		shutdown(r.fd, SHUT_WR);
	uint64_t end = now_ms() + INPUT_BUDGET_MS;
	while (now_ms() < end && rx_read(&r, (flags & F_LINGER) ? QUIET_MS : INPUT_BUDGET_MS))
		;
out:
	close(r.fd);
	if (side.fd >= 0)
		close(side.fd);
	return 0;
}

/* ---- structure-aware mutation --------------------------------------------------- */

#define MAX_PDUS 256

static uint64_t mut_rand(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* Offsets of the PDUs after the mode byte (and the end of the last), while PLENs hold up. */
static size_t pdu_offsets(const uint8_t *data, size_t size, size_t *off)
{
	size_t n = 0, o = 1;

	while (n < MAX_PDUS && o + NVME_TCP_CH_LEN <= size) {
		uint32_t plen = nvme_get_le32(data + o + 4);
		if (plen < NVME_TCP_CH_LEN || plen > size - o)
			break;
		off[n++] = o;
		o += plen;
	}
	off[n] = o;
	return n;
}

static uint32_t interesting32(uint64_t *rs)
{
	static const uint32_t v[] = { 0, 1, 2, 7, 8, 31, 127, 128, 255, 256, 511, 512, 4095, 4096, 4097,
				      8191, 8192, 65535, 65536, 131072, 131073, 0x7fffffff, 0x80000000,
				      0xfffffffe, 0xffffffff };
	uint64_t r = mut_rand(rs);
	return r & 1 ? v[(r >> 1) % (sizeof(v) / sizeof(v[0]))] : (uint32_t)(r >> 8);
}

/* Set one SQE field of a CapsuleCmd at p (header bytes 8..71). */
static void mutate_sqe(uint8_t *p, uint64_t *rs)
{
	static const uint8_t opcodes[] = { 0x00, 0x01, 0x02, 0x04, 0x05, 0x08, 0x09, 0x02, 0x06, 0x09,
					   0x0a, 0x0c, 0x18, 0x08, 0x7f, 0x80, 0xff };
	uint8_t *sqe = p + NVME_TCP_CH_LEN;
	uint32_t v = interesting32(rs);

	switch (mut_rand(rs) % 9) {
	case 0: sqe[0] = opcodes[mut_rand(rs) % sizeof(opcodes)]; break;
	case 1: sqe[1] = (uint8_t)v; break;	/* FUSE, PSDT */
	case 2: nvme_put_le16(sqe + 2, (uint16_t)v); break;	/* CID */
	case 3: nvme_put_le32(sqe + 4, v % 4 == 0 ? 1 : v % 4 == 1 ? 2 : v); break;	/* NSID */
	case 4: nvme_put_le32(sqe + 24 + 8, v); break;	/* SGL length */
	case 5: sqe[24 + 15] = (uint8_t)v; break;	/* SGL type */
	case 6: sqe[4] = (uint8_t)v; break;	/* Fabrics FCTYPE */
	default: nvme_put_le32(sqe + 40 + 4 * (mut_rand(rs) % 6), v); break;	/* CDW10-15 */
	}
}

/* A few whole PDUs worth inserting: a 4 KiB read, a Keep Alive, an R2T directive. */
static size_t canned_pdu(uint8_t *out, uint64_t *rs)
{
	struct nvme_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	switch (mut_rand(rs) % 4) {
	case 0:
		nvme_put_le32(out + 4, NVME_TCP_CH_LEN);
		out[0] = PSEUDO_ANSWER_R2T;
		out[1] = out[3] = 0;
		out[2] = NVME_TCP_CH_LEN;
		return NVME_TCP_CH_LEN;
	case 1:
		sqe.opc = NVME_OPC_KEEP_ALIVE;
		break;
	case 2:
		sqe.opc = NVME_OPC_WRITE;
		sqe.nsid = 1;
		sqe.cdw12 = 15;
		sqe.dptr.sgl1.length = 8192;
		break;
	default:
		sqe.opc = NVME_OPC_READ;
		sqe.nsid = 1;
		sqe.cdw12 = 7;
		sqe.dptr.sgl1.length = 4096;
		break;
	}
	sqe.cid = (uint16_t)(mut_rand(rs) & 0x3f);
	sqe.flags = NVME_SQE_PSDT_SGL << NVME_SQE_PSDT_SHIFT;
	sqe.dptr.sgl1.type = NVME_SGL_TYPE_BYTE(NVME_SGL_TYPE_TRANSPORT_DATA_BLOCK,
						NVME_SGL_SUBTYPE_TRANSPORT);
	return nvme_tcp_build_capsule_cmd(out, &sqe, 0, false, false, 0);
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	static size_t off[MAX_PDUS + 1];
	uint64_t rs = seed * 0x9E3779B97F4A7C15ull + 1;
	size_t n;

	if (size < 1 || max_size < 2 || mut_rand(&rs) % 2 == 0)
		return LLVMFuzzerMutate(data, size, max_size);
	n = pdu_offsets(data, size, off);
	switch (mut_rand(&rs) % 6) {
	case 0:	/* a prologue, digest or linger bit */
		data[0] ^= (uint8_t)(1u << (mut_rand(&rs) % 6));
		return size;
	case 1: {	/* an SQE field, or any header byte */
		if (!n)
			break;
		uint8_t *p = data + off[mut_rand(&rs) % n];
		uint32_t plen = nvme_get_le32(p + 4);
		if (p[0] == NVME_TCP_PDU_CAPSULE_CMD && plen >= NVME_TCP_CMD_HLEN && mut_rand(&rs) % 4) {
			mutate_sqe(p, &rs);
		} else {
			uint32_t hl = p[2] && p[2] <= plen ? p[2] : plen;
			p[mut_rand(&rs) % hl] = (uint8_t)interesting32(&rs);
		}
		return size;
	}
	case 2: {	/* duplicate a PDU */
		if (!n)
			break;
		size_t i = mut_rand(&rs) % n, len = off[i + 1] - off[i];
		if (size + len > max_size)
			break;
		memmove(data + off[i + 1] + len, data + off[i + 1], size - off[i + 1]);
		memcpy(data + off[i + 1], data + off[i], len);
		return size + len;
	}
	case 3: {	/* drop a PDU */
		if (!n)
			break;
		size_t i = mut_rand(&rs) % n, len = off[i + 1] - off[i];
		memmove(data + off[i], data + off[i + 1], size - off[i + 1]);
		return size - len;
	}
	case 4: {	/* swap two neighbours */
		if (n < 2)
			break;
		size_t i = mut_rand(&rs) % (n - 1);
		size_t la = off[i + 1] - off[i], lb = off[i + 2] - off[i + 1];
		uint8_t *tmp = malloc(la);
		if (!tmp)
			break;
		memcpy(tmp, data + off[i], la);
		memmove(data + off[i], data + off[i + 1], lb);
		memcpy(data + off[i] + lb, tmp, la);
		free(tmp);
		return size;
	}
	default: {	/* insert a canned PDU at a boundary */
		uint8_t pdu[NVME_TCP_HDR_MAX];
		size_t len = canned_pdu(pdu, &rs), at = off[mut_rand(&rs) % (n + 1)];
		if (size + len > max_size)
			break;
		memmove(data + at + len, data + at, size - at);
		memcpy(data + at, pdu, len);
		return size + len;
	}
	}
	return LLVMFuzzerMutate(data, size, max_size);
}
