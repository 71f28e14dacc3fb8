/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nvmf-tgtd, the working paths, over real TCP from tests/nvmf/host.c:
 * Connect (admin and I/O), properties and enable, Identify, log pages,
 * features, keep-alive; Write/Read with the data checked (4 KiB in capsule,
 * 128 KiB by R2T/H2CData, split H2CData, C2HData), Compare, fused
 * Compare-and-Write, Write Zeroes, Dataset Management, Flush; every digest
 * combination and a host PDU alignment; the C2HData SUCCESS flag with SQ
 * flow control disabled.
 *
 * NVMF_TEST_PORT=P runs the daemon on that port (tests/nvmf/tshark.sh
 * captures it).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "host.h"
#include "tap.h"
#include "tgtd.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define NSID 1
#define BS TGTD_BLOCK_SIZE

static struct tgtd g_tgtd;

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
}

/* Identify, properties, logs, features on a fresh admin queue. */
static void test_admin(void)
{
	struct host_opts o;
	struct host a;
	uint64_t cap = 0, vs = 0, cc = 0;
	struct nvme_id_ctrlr *id = calloc(1, sizeof(*id));
	struct nvme_id_ns *ns = calloc(1, sizeof(*ns));
	uint8_t *buf = calloc(1, 4096);
	uint16_t st;
	uint32_t cdw0;

	tgtd_host_opts(&g_tgtd, &o);
	o.kato_ms = 30000;
	if (!TAP_OK(host_open_admin(&a, &o) == 0, "admin Connect to %s", TGTD_NQN_OPEN)) {
		tap_diag("%s", a.err);
		goto out;
	}
	TAP_OK(a.cntlid != 0 && a.cntlid < 0xfff0, "Connect returns a CNTLID (%#x)", a.cntlid);
	TAP_OK(host_prop_get(&a, NVME_PROP_CAP, true, &cap, NULL) == 0 && (cap & 0xffff) >= 1 &&
		       ((cap >> 37) & 1),
	       "Property Get CAP: MQES %u, CSS NVM (cap %#llx) %s", (unsigned)(cap & 0xffff),
	       (unsigned long long)cap, a.err);
	TAP_OK(host_prop_get(&a, NVME_PROP_VS, false, &vs, NULL) == 0 && vs >= NVME_VS(1, 3, 0),
	       "Property Get VS %#llx >= 1.3", (unsigned long long)vs);
	TAP_OK(host_prop_get(&a, NVME_PROP_CC, false, &cc, NULL) == 0 && !(cc & NVME_CC_EN),
	       "CC.EN is 0 after Connect");
	if (!TAP_OK(host_enable(&a) == 0, "CC.EN = 1 sets CSTS.RDY")) {
		tap_diag("%s", a.err);
		goto out;
	}
	if (TAP_OK(host_identify(&a, NVME_CNS_CTRLR, 0, id, NULL) == 0, "Identify Controller")) {
		TAP_OK(id->cntlid == a.cntlid, "Identify CNTLID %#x = Connect's", id->cntlid);
		TAP_OK(strncmp(id->subnqn, TGTD_NQN_OPEN, sizeof(id->subnqn)) == 0,
		       "Identify SUBNQN is %s", TGTD_NQN_OPEN);
		TAP_OK(strncmp(id->sn, "SPDK00000000000001", 18) == 0, "serial number from the config");
		TAP_OK(id->cntrltype == NVME_CNTRLTYPE_IO, "CNTRLTYPE I/O controller");
		TAP_OK(id->sqes == 0x66 && id->cqes == 0x44, "SQES %#x CQES %#x", id->sqes, id->cqes);
		TAP_OK(id->nn >= 1, "NN %u", id->nn);
		TAP_OK(id->ioccsz >= 4 && id->iorcsz >= 1, "IOCCSZ %u IORCSZ %u (16-byte units)",
		       id->ioccsz, id->iorcsz);
		TAP_OK(id->sgls & 1, "SGL supported (SGLS %#x)", id->sgls);
		TAP_OK(id->ver == vs, "Identify VER = VS property");
		TAP_OK(id->kas != 0, "KAS %u (keep-alive granularity)", id->kas);
		TAP_OK(id->maxcmd >= 1, "MAXCMD %u, MDTS %u", id->maxcmd, id->mdts);
		TAP_OK(id->oncs & (1u << 0), "ONCS %#x has Compare", id->oncs);
	}
	if (TAP_OK(host_identify(&a, NVME_CNS_NS, NSID, ns, NULL) == 0, "Identify Namespace 1")) {
		unsigned fmt = ns->flbas & 0xf;
		TAP_OK(ns->nsze == TGTD_NS_BLOCKS && ns->ncap == TGTD_NS_BLOCKS,
		       "NSZE %llu = the malloc bdev's blocks", (unsigned long long)ns->nsze);
		TAP_OK(fmt <= ns->nlbaf && ns->lbaf[fmt].lbads == 9, "LBA format %u: 512-byte blocks",
		       fmt);
	}
	if (TAP_OK(host_identify(&a, NVME_CNS_ACTIVE_NS_LIST, 0, buf, NULL) == 0,
		   "Identify active namespace list"))
		TAP_OK(nvme_get_le32(buf) == 1 && nvme_get_le32(buf + 4) == 0, "the list is {1}");
	/* Base 2.0 §5.17.2.1: an inactive NSID up to NN gives zeroes; above NN is invalid. */
	memset(ns, 0xff, sizeof(*ns));
	TAP_OK(host_identify(&a, NVME_CNS_NS, 5, ns, &st) == 0 && st == 0 && ns->nsze == 0 &&
		       ns->ncap == 0,
	       "Identify an inactive NSID: success, zero-filled (%s)", host_status_str(st));
	TAP_OK(host_identify(&a, NVME_CNS_NS, 0xfffffff0u, ns, &st) == 0 &&
		       nvme_status_sct(st) == NVME_SCT_GENERIC &&
		       nvme_status_sc(st) == NVME_SC_INVALID_NAMESPACE_OR_FORMAT,
	       "Identify an NSID above NN: Invalid Namespace or Format (%s)", host_status_str(st));
	TAP_OK(host_get_log(&a, NVME_LOG_SMART, 0xffffffffu, buf, 512, NULL) == 0,
	       "Get Log Page SMART %s", a.err);
	TAP_OK(host_get_log(&a, NVME_LOG_ERROR, 0, buf, 64, NULL) == 0, "Get Log Page Error %s",
	       a.err);
	TAP_OK(host_get_log(&a, 0xbe, 0, buf, 512, &st) == 0 &&
		       nvme_status_sct(st) == NVME_SCT_COMMAND_SPECIFIC &&
		       nvme_status_sc(st) == NVME_SC_INVALID_LOG_PAGE,
	       "unknown log page: Invalid Log Page (%s)", host_status_str(st));
	cdw0 = 0;
	TAP_OK(host_set_features(&a, NVME_FEAT_NUMBER_OF_QUEUES, (3u << 16) | 3u, &cdw0, NULL) == 0 &&
		       (cdw0 & 0xffff) >= 1 && (cdw0 >> 16) >= 1,
	       "Set Features Number of Queues grants %u/%u", (cdw0 & 0xffff) + 1, (cdw0 >> 16) + 1);
	cdw0 = 0;
	TAP_OK(host_get_features(&a, NVME_FEAT_KEEP_ALIVE_TIMER, 0, &cdw0, NULL) == 0 &&
		       cdw0 >= 30000 && cdw0 < 30000 + 10000,
	       "Get Features Keep Alive Timer %u ms (Connect asked 30000)", cdw0);
	TAP_OK(host_keep_alive(&a, NULL) == 0, "Keep Alive %s", a.err);
	{
		struct nvme_sqe sqe = { .opc = 0xc1 };	/* vendor specific, not implemented */
		struct nvme_cqe cqe;
		TAP_OK(host_exec(&a, &sqe, NULL, 0, NULL, 0, &cqe) == 0 &&
			       nvme_status_sc(cqe.status) == NVME_SC_INVALID_OPCODE &&
			       nvme_status_sct(cqe.status) == NVME_SCT_GENERIC,
		       "unknown admin opcode: Invalid Command Opcode (%s)",
		       host_status_str(cqe.status));
	}
	host_close(&a);
out:
	free(id);
	free(ns);
	free(buf);
}

/* Write then read back `len` bytes at `slba`; checks the data. */
static bool write_read(struct host *io, uint64_t slba, uint32_t len, unsigned seed,
		       const char *what)
{
	uint8_t *w = malloc(len), *r = malloc(len);
	uint16_t st = 0xffff;
	bool ok;

	fill(w, len, seed);
	memset(r, 0, len);
	ok = TAP_OK(host_write(io, NSID, slba, len / BS, w, len, &st) == 0 && st == 0,
		    "%s: Write %u bytes (%s) %s", what, len, host_status_str(st), io->err);
	st = 0xffff;
	ok = TAP_OK(host_read(io, NSID, slba, len / BS, r, len, &st) == 0 && st == 0 &&
			    memcmp(w, r, len) == 0,
		    "%s: Read %u bytes back, same data (%s) %s", what, len, host_status_str(st),
		    io->err) && ok;
	free(w);
	free(r);
	return ok;
}

static void test_io_paths(void)
{
	struct host_opts o;
	struct host a, io;
	uint32_t before;
	uint16_t st = 0;

	tgtd_host_opts(&g_tgtd, &o);
	if (!TAP_OK(host_open_session(&a, &io, &o) == 0, "admin + I/O queue 1 connected")) {
		tap_diag("%s", a.err);
		host_close(&a);
		host_close(&io);
		return;
	}
	tap_diag("ICResp: MAXH2CDATA %u CPDA %u; I/O in-capsule limit %u", io.maxh2cdata, io.cpda,
		 io.icd_max);
	if (io.icd_max >= 4096) {
		before = io.r2ts_seen;
		write_read(&io, 0, 4096, 1, "in-capsule");
		TAP_OK(io.r2ts_seen == before, "4 KiB write went in capsule (no R2T)");
	} else {
		tap_skip("IOCCSZ below 4 KiB + SQE", "4 KiB in-capsule write");
	}
	before = io.r2ts_seen;
	uint32_t h2c_before = io.h2c_pdus_sent, c2h_before = io.c2h_pdus_seen;
	write_read(&io, 1024, 128 * 1024, 2, "R2T");
	TAP_OK(io.r2ts_seen > before, "128 KiB write solicited by %u R2T(s)", io.r2ts_seen - before);
	TAP_OK(io.h2c_pdus_sent - h2c_before >= (128 * 1024 + io.maxh2cdata - 1) / io.maxh2cdata,
	       "%u H2CData PDUs for 128 KiB (MAXH2CDATA %u)", io.h2c_pdus_sent - h2c_before,
	       io.maxh2cdata);
	TAP_OK(io.c2h_pdus_seen - c2h_before >= 128 * 1024 / TGTD_IO_UNIT,
	       "128 KiB read came in %u C2HData PDUs (io_unit_size %u)",
	       io.c2h_pdus_seen - c2h_before, TGTD_IO_UNIT);

	/* H2CData split below MAXH2CDATA: the target must reassemble in order. */
	io.h2c_chunk = 4096;
	h2c_before = io.h2c_pdus_sent;
	write_read(&io, 4096, 64 * 1024, 3, "H2CData in 4 KiB PDUs");
	TAP_OK(io.h2c_pdus_sent - h2c_before == 16, "16 H2CData PDUs sent for 64 KiB");
	io.h2c_chunk = 0;

	/* Many outstanding at once. */
	{
		enum { N = 16 };
		uint8_t *bufs = malloc(N * 8192);
		int cids[N];
		bool ok = true;
		fill(bufs, N * 8192, 4);
		for (int i = 0; i < N; i++) {
			struct nvme_sqe sqe = { .opc = NVME_OPC_WRITE, .nsid = NSID,
						.cdw10 = 8192u + (uint32_t)i * 16, .cdw12 = 15 };
			cids[i] = host_submit(&io, &sqe, bufs + i * 8192, 8192, NULL, 0);
			ok = ok && cids[i] >= 0;
		}
		for (int i = 0; i < N && ok; i++) {
			struct nvme_cqe cqe;
			ok = host_wait(&io, (uint16_t)cids[i], &cqe) == 0 && cqe.status == 0;
		}
		TAP_OK(ok, "16 writes of 8 KiB in flight together %s", io.err);
		uint8_t *r = malloc(N * 8192);
		TAP_OK(host_read(&io, NSID, 8192, N * 16, r, N * 8192, NULL) == 0 &&
			       memcmp(r, bufs, N * 8192) == 0,
		       "read back 128 KiB of them at once %s", io.err);
		free(r);
		free(bufs);
	}

	/* Compare, fused compare-and-write. */
	{
		uint8_t *w = malloc(4096), *x = malloc(4096), *r = malloc(4096);
		uint16_t cs = 0xffff, ws = 0xffff;
		fill(w, 4096, 5);
		fill(x, 4096, 6);
		host_write(&io, NSID, 100, 8, w, 4096, NULL);
		TAP_OK(host_compare(&io, NSID, 100, 8, w, 4096, &st) == 0 && st == 0,
		       "Compare equal data: success (%s)", host_status_str(st));
		TAP_OK(host_compare(&io, NSID, 100, 8, x, 4096, &st) == 0 &&
			       nvme_status_sct(st) == NVME_SCT_MEDIA_ERROR &&
			       nvme_status_sc(st) == NVME_SC_COMPARE_FAILURE,
		       "Compare different data: Compare Failure (%s)", host_status_str(st));
		TAP_OK(host_compare_and_write(&io, NSID, 100, 8, w, x, 4096, &cs, &ws) == 0 &&
			       cs == 0 && ws == 0,
		       "fused Compare-and-Write, equal: both succeed (%s, %s) %s",
		       host_status_str(cs), host_status_str(ws), io.err);
		TAP_OK(host_read(&io, NSID, 100, 8, r, 4096, NULL) == 0 && memcmp(r, x, 4096) == 0,
		       "the fused write landed");
		TAP_OK(host_compare_and_write(&io, NSID, 100, 8, w, w, 4096, &cs, &ws) == 0 &&
			       nvme_status_sc(cs) == NVME_SC_COMPARE_FAILURE &&
			       nvme_status_sct(ws) == NVME_SCT_GENERIC &&
			       nvme_status_sc(ws) == NVME_SC_ABORTED_FAILED_FUSED,
		       "fused Compare-and-Write, different: Compare Failure + Aborted Failed Fused (%s, %s)",
		       host_status_str(cs), host_status_str(ws));
		TAP_OK(host_read(&io, NSID, 100, 8, r, 4096, NULL) == 0 && memcmp(r, x, 4096) == 0,
		       "the aborted fused write changed nothing");
		free(w);
		free(x);
		free(r);
	}

	/* Write Zeroes, Dataset Management, Flush, out of range. */
	{
		uint8_t *w = malloc(8192), *r = malloc(8192), *z = calloc(1, 8192);
		fill(w, 8192, 7);
		host_write(&io, NSID, 200, 16, w, 8192, NULL);
		TAP_OK(host_write_zeroes(&io, NSID, 200, 16, &st) == 0 && st == 0,
		       "Write Zeroes (%s)", host_status_str(st));
		TAP_OK(host_read(&io, NSID, 200, 16, r, 8192, NULL) == 0 && memcmp(r, z, 8192) == 0,
		       "the blocks read back as zeroes");
		TAP_OK(host_dsm_deallocate(&io, NSID, 200, 16, &st) == 0 && st == 0,
		       "Dataset Management deallocate (%s)", host_status_str(st));
		TAP_OK(host_flush(&io, NSID, &st) == 0 && st == 0, "Flush (%s)", host_status_str(st));
		TAP_OK(host_read(&io, NSID, TGTD_NS_BLOCKS - 4, 8, r, 4096, &st) == 0 &&
			       nvme_status_sct(st) == NVME_SCT_GENERIC &&
			       nvme_status_sc(st) == NVME_SC_LBA_OUT_OF_RANGE,
		       "Read past the end: LBA Out of Range (%s)", host_status_str(st));
		TAP_OK(host_read(&io, 7, 0, 8, r, 4096, &st) == 0 && st != 0 &&
			       nvme_status_sc(st) == NVME_SC_INVALID_NAMESPACE_OR_FORMAT,
		       "Read of an inactive NSID: Invalid Namespace or Format (%s)",
		       host_status_str(st));
		free(w);
		free(r);
		free(z);
	}
	host_close(&io);
	host_close(&a);
}

/* The data paths once more with each digest combination and an HPDA. */
static void test_digests(bool hdgst, bool ddgst, uint8_t hpda)
{
	struct host_opts o;
	struct host a, io;
	char what[64];

	tgtd_host_opts(&g_tgtd, &o);
	o.hdgst = hdgst;
	o.ddgst = ddgst;
	o.hpda = hpda;
	snprintf(what, sizeof(what), "hdgst %d ddgst %d hpda %u", hdgst, ddgst, hpda);
	if (!TAP_OK(host_open_session(&a, &io, &o) == 0, "%s: connected", what)) {
		tap_diag("%s", a.err);
		host_close(&a);
		host_close(&io);
		return;
	}
	TAP_OK(io.hdgst == hdgst && io.ddgst == ddgst, "%s: ICResp enables what was asked (%d %d)",
	       what, io.hdgst, io.ddgst);
	if (io.icd_max >= 4096)
		write_read(&io, 300, 4096, 8, what);
	write_read(&io, 400, 128 * 1024, 9, what);
	host_close(&io);
	host_close(&a);
}

/* A full queue of large transfers: 64 writes of 128 KiB in flight (8 MiB,
 * about the transport's whole buffer pool), then 64 reads: the target has
 * to queue what it cannot buffer, not fail or stall. */
static void test_deep_queue(void)
{
	enum { N = 64, LEN = 128 * 1024 };
	struct host_opts o;
	struct host a, io;
	uint8_t *w = malloc((size_t)N * LEN), *r = malloc((size_t)N * LEN);
	int cids[N];
	bool ok = true;

	tgtd_host_opts(&g_tgtd, &o);
	o.sqsize = 127;
	if (!TAP_OK(host_open_session(&a, &io, &o) == 0, "deep queue: connected (SQSIZE 128)")) {
		tap_diag("%s", a.err);
		goto out;
	}
	fill(w, (size_t)N * LEN, 50);
	memset(r, 0, (size_t)N * LEN);
	for (int i = 0; i < N && ok; i++) {
		struct nvme_sqe sqe = { .opc = NVME_OPC_WRITE, .nsid = NSID,
					.cdw10 = 32768u + (uint32_t)i * (LEN / BS), .cdw12 = LEN / BS - 1 };
		cids[i] = host_submit(&io, &sqe, w + (size_t)i * LEN, LEN, NULL, 0);
		ok = cids[i] >= 0;
	}
	for (int i = 0; i < N && ok; i++) {
		struct nvme_cqe cqe;
		ok = host_wait(&io, (uint16_t)cids[i], &cqe) == 0 && cqe.status == 0;
		if (!ok)
			tap_diag("write %d: %s %s", i, host_status_str(cqe.status), io.err);
	}
	TAP_OK(ok, "%d writes of 128 KiB in flight at once", N);
	for (int i = 0; i < N && ok; i++) {
		struct nvme_sqe sqe = { .opc = NVME_OPC_READ, .nsid = NSID,
					.cdw10 = 32768u + (uint32_t)i * (LEN / BS), .cdw12 = LEN / BS - 1 };
		cids[i] = host_submit(&io, &sqe, NULL, 0, r + (size_t)i * LEN, LEN);
		ok = cids[i] >= 0;
	}
	for (int i = 0; i < N && ok; i++) {
		struct nvme_cqe cqe;
		ok = host_wait(&io, (uint16_t)cids[i], &cqe) == 0 && cqe.status == 0;
		if (!ok)
			tap_diag("read %d: %s %s", i, host_status_str(cqe.status), io.err);
	}
	TAP_OK(ok && memcmp(w, r, (size_t)N * LEN) == 0,
	       "%d reads of 128 KiB in flight at once return the data", N);
out:
	host_close(&io);
	host_close(&a);
	free(w);
	free(r);
}

/* Every PDU sent one byte per send() (TCP_NODELAY): the target must
 * assemble headers, data and digests from any segmentation. */
static void test_byte_by_byte(void)
{
	struct host_opts o;
	struct host a, io;

	tgtd_host_opts(&g_tgtd, &o);
	o.hdgst = true;
	o.ddgst = true;
	if (!TAP_OK(host_open_session(&a, &io, &o) == 0, "byte by byte: connected")) {
		tap_diag("%s", a.err);
	} else {
		io.send_chunk = 1;
		write_read(&io, 600, 4096, 10, "one byte per send, in capsule, digests");
		write_read(&io, 700, 32 * 1024, 11, "one byte per send, R2T, digests");
		io.send_chunk = 7;
		write_read(&io, 800, 16 * 1024, 12, "7 bytes per send, R2T, digests");
	}
	host_close(&io);
	host_close(&a);
}

/* Several host processes at once, each its own controller and LBA range:
 * write, read back and compare, on both poll groups. */
static void test_parallel_hosts(void)
{
	enum { HOSTS = 4, ROUNDS = 40 };
	pid_t pids[HOSTS];
	int bad = 0;

	for (int i = 0; i < HOSTS; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			struct host_opts o;
			prctl(PR_SET_PDEATHSIG, SIGKILL);	/* never outlive the test */
			struct host a, io;
			uint32_t len = (i % 2) ? 65536 : 4096;	/* R2T and in-capsule */
			uint8_t *w = malloc(len), *r = malloc(len);
			tgtd_host_opts(&g_tgtd, &o);
			o.hdgst = o.ddgst = i >= 2;
			if (host_open_session(&a, &io, &o) != 0)
				_exit(2);
			for (int k = 0; k < ROUNDS; k++) {
				uint64_t slba = 16384u + (uint64_t)i * 2048 + (uint64_t)(k % 8) * (len / BS);
				fill(w, len, (unsigned)(i * 1000 + k));
				if (host_write(&io, NSID, slba, len / BS, w, len, NULL) != 0 ||
				    host_read(&io, NSID, slba, len / BS, r, len, NULL) != 0)
					_exit(3);
				if (memcmp(w, r, len) != 0)
					_exit(4);
			}
			_exit(0);
		}
	}
	for (int i = 0; i < HOSTS; i++) {
		int st = 0;
		if (pids[i] > 0)
			waitpid(pids[i], &st, 0);
		if (pids[i] <= 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			tap_diag("host %d: %s %d (2 connect, 3 I/O error, 4 data mismatch)", i,
				 pids[i] > 0 && WIFEXITED(st) ? "exit" : "signal",
				 pids[i] > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
			bad++;
		}
	}
	TAP_OK(bad == 0, "%d host processes x %d write/read/compare rounds in parallel", HOSTS, ROUNDS);
}

/* SQ flow control disabled: the target may complete reads with C2HData
 * SUCCESS instead of a CapsuleResp (c2h_success defaults to true). */
static void test_c2h_success(bool digests)
{
	struct host_opts o;
	struct host a, io;
	uint8_t *buf = malloc(8192);
	int cid;

	tgtd_host_opts(&g_tgtd, &o);
	o.sq_fc_disabled = true;
	o.hdgst = o.ddgst = digests;
	if (!TAP_OK(host_open_session(&a, &io, &o) == 0, "SQ flow control disabled, digests %d: connected",
		    digests)) {
		tap_diag("%s", a.err);
	} else {
		struct nvme_sqe sqe = { .opc = NVME_OPC_READ, .nsid = NSID, .cdw12 = 15 };
		struct nvme_cqe cqe;
		cid = host_submit(&io, &sqe, NULL, 0, buf, 8192);
		bool ok = cid >= 0 && host_wait(&io, (uint16_t)cid, &cqe) == 0 && cqe.status == 0;
		const struct host_cmd *c = ok ? host_last(&io, (uint16_t)cid) : NULL;
		TAP_OK(ok && c && c->success_flag,
		       "read completed by the C2HData SUCCESS flag, no CapsuleResp %s", io.err);
		/* A CapsuleResp still follows an error. */
		struct nvme_sqe bad = { .opc = NVME_OPC_READ, .nsid = NSID,
					.cdw10 = TGTD_NS_BLOCKS, .cdw12 = 15 };
		cid = host_submit(&io, &bad, NULL, 0, buf, 8192);
		TAP_OK(cid >= 0 && host_wait(&io, (uint16_t)cid, &cqe) == 0 &&
			       nvme_status_sc(cqe.status) == NVME_SC_LBA_OUT_OF_RANGE,
		       "a failed read still gets a CapsuleResp (%s)", host_status_str(cqe.status));
	}
	host_close(&io);
	host_close(&a);
	free(buf);
}

int main(void)
{
	const char *port = getenv("NVMF_TEST_PORT");
	const char *only = getenv("NVMF_TEST_ONLY");	/* "io": data paths only (tshark.sh) */

	tgtd_test_start(&g_tgtd, port ? (uint16_t)atoi(port) : 0, 240);

	if (!only)
		test_admin();
	test_io_paths();
	test_digests(true, false, 0);
	test_digests(false, true, 0);
	test_digests(true, true, 0);
	if (!only) {
		test_digests(true, true, 3);
		test_byte_by_byte();
		test_parallel_hosts();
		test_deep_queue();
		test_c2h_success(false);
		test_c2h_success(true);
	}
	return tgtd_test_finish(&g_tgtd);
}
