/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nvmf-tgtd under bad input, over real TCP: Connect refusals (unknown
 * host, unknown subsystem, bad CNTLID) with their status and IATTR/IPO; a
 * bad H2CData data digest (Transient Transport Error, the connection
 * survives); keep-alive expiry; every malformed PDU of
 * daemon/nvme/README.md, each answered by a C2HTermReq with the right
 * FES/FEI and a close, after which a fresh connection still works; hosts
 * that vanish mid-PDU or are killed mid-I/O.
 *
 * NVMF_TEST_PORT=P NVMF_TEST_ONLY=ddgst: only the bad data digest, on port
 * P (tshark.sh's negative control).
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
#include <time.h>
#include <unistd.h>

#define NSID 1
#define TERM_TIMEOUT_MS 10000

static struct tgtd g_tgtd;

/* The daemon still serves: a new admin queue connects and identifies. */
static bool fresh_connection_works(void)
{
	struct host_opts o;
	struct host a;
	struct nvme_id_ctrlr *id = malloc(sizeof(*id));
	bool ok;

	tgtd_host_opts(&g_tgtd, &o);
	ok = host_open_admin(&a, &o) == 0 && host_enable(&a) == 0 &&
	     host_identify(&a, NVME_CNS_CTRLR, 0, id, NULL) == 0;
	if (!ok)
		tap_diag("fresh connection: %s", a.err);
	host_close(&a);
	free(id);
	return ok;
}

/* ---- Connect refusals -------------------------------------------------------- */

static void test_connect_refusals(void)
{
	struct host_opts o;
	struct host h;
	uint16_t st = 0;
	uint32_t cdw0 = 0;

	tgtd_host_opts(&g_tgtd, &o);
	o.subnqn = TGTD_NQN_CLOSED;
	o.hostnqn = "nqn.2014-08.org.example:not-allowed";
	if (host_tcp_connect(&h, &o) == 0 && host_ic(&h) == 0) {
		h.icd_max = HOST_ADMIN_ICD;
		TAP_OK(host_fabrics_connect(&h, 0, 0, &st, &cdw0) == 0 &&
			       nvme_status_sct(st) == NVME_SCT_COMMAND_SPECIFIC &&
			       nvme_status_sc(st) == NVME_SC_CONNECT_INVALID_HOST,
		       "unlisted host NQN on a closed subsystem: Connect Invalid Host (%s) %s",
		       host_fabrics_status_str(st), h.err);
	} else {
		TAP_OK(false, "unlisted host: connect/IC %s", h.err);
	}
	host_close(&h);

	o.hostnqn = NULL;	/* HOST_DEFAULT_HOSTNQN is listed */
	if (host_tcp_connect(&h, &o) == 0 && host_ic(&h) == 0) {
		h.icd_max = HOST_ADMIN_ICD;
		TAP_OK(host_fabrics_connect(&h, 0, 0, &st, NULL) == 0 && st == 0,
		       "listed host NQN on the closed subsystem: accepted (%s) %s",
		       host_status_str(st), h.err);
	} else {
		TAP_OK(false, "listed host: connect/IC %s", h.err);
	}
	host_close(&h);

	o.subnqn = "nqn.2016-06.io.spdk:no-such-subsystem";
	if (host_tcp_connect(&h, &o) == 0 && host_ic(&h) == 0) {
		h.icd_max = HOST_ADMIN_ICD;
		cdw0 = 0;
		TAP_OK(host_fabrics_connect(&h, 0, 0, &st, &cdw0) == 0 &&
			       nvme_status_sct(st) == NVME_SCT_COMMAND_SPECIFIC &&
			       nvme_status_sc(st) == NVME_SC_CONNECT_INVALID_PARAMETERS &&
			       ((cdw0 >> 16) & 0xff) == NVME_CONNECT_IATTR_DATA &&
			       (cdw0 & 0xffff) == offsetof(struct nvme_connect_data, subnqn),
		       "unknown subsystem NQN: Connect Invalid Parameters, IATTR 1 IPO 256 (%s, DW0 %#x)",
		       host_fabrics_status_str(st), cdw0);
	} else {
		TAP_OK(false, "unknown subsystem: connect/IC %s", h.err);
	}
	host_close(&h);

	/* An I/O queue naming a controller that does not exist. */
	tgtd_host_opts(&g_tgtd, &o);
	if (host_tcp_connect(&h, &o) == 0 && host_ic(&h) == 0) {
		h.icd_max = 4096;
		cdw0 = 0;
		TAP_OK(host_fabrics_connect(&h, 1, 0x7ff0, &st, &cdw0) == 0 &&
			       nvme_status_sct(st) == NVME_SCT_COMMAND_SPECIFIC &&
			       nvme_status_sc(st) == NVME_SC_CONNECT_INVALID_PARAMETERS &&
			       ((cdw0 >> 16) & 0xff) == NVME_CONNECT_IATTR_DATA &&
			       (cdw0 & 0xffff) == offsetof(struct nvme_connect_data, cntlid),
		       "I/O Connect to an unknown CNTLID: Invalid Parameters, IATTR 1 IPO 16 (%s, DW0 %#x)",
		       host_fabrics_status_str(st), cdw0);
	} else {
		TAP_OK(false, "unknown CNTLID: connect/IC %s", h.err);
	}
	host_close(&h);

	/* A command before Connect. */
	if (host_tcp_connect(&h, &o) == 0 && host_ic(&h) == 0) {
		struct nvme_cqe cqe;
		struct nvme_sqe sqe = { .opc = NVME_OPC_KEEP_ALIVE };
		int rc = host_exec(&h, &sqe, NULL, 0, NULL, 0, &cqe);
		TAP_OK((rc == 0 && cqe.status != 0) || (rc != 0 && (h.term.received ||
								    host_wait_closed(&h, 100) == 0)),
		       "a command before Connect is refused (%s) %s",
		       rc == 0 ? host_status_str(cqe.status) : "connection ended", h.err);
	}
	host_close(&h);
	TAP_OK(fresh_connection_works(), "after the refusals, a fresh connection works");
}

/* Connect's own fields: record format, queue size, a second Connect. */
static void test_connect_params(void)
{
	struct host_opts o;
	struct host h;
	struct nvme_connect_data data;
	struct nvme_cqe cqe;

	tgtd_host_opts(&g_tgtd, &o);
	memset(&data, 0, sizeof(data));
	memcpy(data.hostid, o.hostid, 16);
	data.cntlid = NVME_CNTLID_DYNAMIC;
	snprintf(data.subnqn, sizeof(data.subnqn), "%s", TGTD_NQN_OPEN);
	snprintf(data.hostnqn, sizeof(data.hostnqn), "%s", HOST_DEFAULT_HOSTNQN);

	for (int round = 0; round < 2; round++) {
		struct nvme_connect_cmd cmd = { .opc = NVME_OPC_FABRICS,
						.fctype = NVME_FCTYPE_CONNECT, .sqsize = 31 };
		if (round == 0)
			cmd.recfmt = 1;
		else
			cmd.sqsize = 0;	/* 0's based: a 1-entry queue is invalid */
		if (host_tcp_connect(&h, &o) != 0 || host_ic(&h) != 0) {
			TAP_OK(false, "Connect round %d: setup %s", round, h.err);
			host_close(&h);
			continue;
		}
		h.icd_max = HOST_ADMIN_ICD;
		int rc = host_exec(&h, (struct nvme_sqe *)&cmd, &data, sizeof(data), NULL, 0, &cqe);
		if (round == 0)
			TAP_OK(rc == 0 && nvme_status_sct(cqe.status) == NVME_SCT_COMMAND_SPECIFIC &&
				       nvme_status_sc(cqe.status) == NVME_SC_CONNECT_INCOMPATIBLE_FORMAT,
			       "Connect RECFMT 1: Connect Incompatible Format (%s) %s",
			       host_fabrics_status_str(cqe.status), h.err);
		else
			TAP_OK(rc == 0 && nvme_status_sct(cqe.status) == NVME_SCT_COMMAND_SPECIFIC &&
				       nvme_status_sc(cqe.status) == NVME_SC_CONNECT_INVALID_PARAMETERS &&
				       (cqe.cdw0 & 0xffff) == offsetof(struct nvme_connect_cmd, sqsize) &&
				       ((cqe.cdw0 >> 16) & 0xff) == 0,
			       "Connect SQSIZE 0: Invalid Parameters, IATTR 0 IPO 44 (%s, DW0 %#x) %s",
			       host_fabrics_status_str(cqe.status), cqe.cdw0, h.err);
		host_close(&h);
	}

	/* A second Connect on a queue that is already connected. */
	if (host_open_admin(&h, &o) == 0) {
		uint16_t st = 0;
		int rc = host_fabrics_connect(&h, 0, 0, &st, NULL);
		TAP_OK((rc == 0 && st != 0) || (rc != 0 && (h.term.received ||
							    host_wait_closed(&h, 100) == 0)),
		       "a second Connect on a connected queue is refused (%s) %s",
		       rc == 0 ? host_fabrics_status_str(st) : "connection ended", h.err);
	} else {
		TAP_OK(false, "second Connect: setup %s", h.err);
	}
	host_close(&h);
	TAP_OK(fresh_connection_works(), "after the Connect parameter errors, a fresh connection works");
}

/* Commands whose data pointer is wrong (NVMe/TCP §3.4.1-3.4.2, Base §4.1.3):
 * completed with an error status; the connection goes on. */
static void test_bad_sgl(void)
{
	struct host_opts o;
	struct host a, io;
	uint8_t *buf = calloc(1, 256 * 1024);
	struct nvme_cqe cqe;
	uint16_t cid = 0x4000;

	tgtd_host_opts(&g_tgtd, &o);
	if (host_open_session(&a, &io, &o) != 0) {
		TAP_OK(false, "bad SGL: setup %s", a.err);
		goto out;
	}
	struct {
		const char *what;
		uint8_t opc;
		uint8_t psdt;
		uint8_t sgl_type;
		uint64_t addr;
		uint32_t sgl_len, icd_len, in_len, nlb;
		uint8_t want_sc;
	} cases[] = {
		{ "Read with PSDT PRP", NVME_OPC_READ, 0,
		  NVME_SGL_TYPE_BYTE(NVME_SGL_TYPE_TRANSPORT_DATA_BLOCK, NVME_SGL_SUBTYPE_TRANSPORT),
		  0, 4096, 0, 4096, 8, NVME_SC_INVALID_FIELD },
		{ "Read with a Keyed SGL Data Block", NVME_OPC_READ, 1,
		  NVME_SGL_TYPE_BYTE(NVME_SGL_TYPE_KEYED_DATA_BLOCK, 0), 0, 4096, 0, 4096, 8,
		  NVME_SC_SGL_DESCRIPTOR_TYPE_INVALID },
		{ "Write in capsule at SGL offset 16", NVME_OPC_WRITE, 1,
		  NVME_SGL_TYPE_BYTE(NVME_SGL_TYPE_DATA_BLOCK, NVME_SGL_SUBTYPE_OFFSET), 16, 2048,
		  2048, 0, 4, NVME_SC_INVALID_SGL_OFFSET },
		{ "Write: SGL says 4096, capsule holds 2048", NVME_OPC_WRITE, 1,
		  NVME_SGL_TYPE_BYTE(NVME_SGL_TYPE_DATA_BLOCK, NVME_SGL_SUBTYPE_OFFSET), 0, 4096,
		  2048, 0, 8, NVME_SC_DATA_SGL_LENGTH_INVALID },
		{ "Read with an in-capsule SGL", NVME_OPC_READ, 1,
		  NVME_SGL_TYPE_BYTE(NVME_SGL_TYPE_DATA_BLOCK, NVME_SGL_SUBTYPE_OFFSET), 0, 0, 0,
		  4096, 8, NVME_SC_INVALID_FIELD },
		{ "Read of 256 KiB, above MDTS", NVME_OPC_READ, 1,
		  NVME_SGL_TYPE_BYTE(NVME_SGL_TYPE_TRANSPORT_DATA_BLOCK, NVME_SGL_SUBTYPE_TRANSPORT),
		  0, 256 * 1024, 0, 256 * 1024, 512, NVME_SC_DATA_SGL_LENGTH_INVALID },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nvme_sqe sqe = { .opc = cases[i].opc, .nsid = NSID, .cid = cid++,
					.flags = (uint8_t)(cases[i].psdt << NVME_SQE_PSDT_SHIFT),
					.cdw12 = cases[i].nlb - 1 };
		sqe.dptr.sgl1.address = cases[i].addr;
		sqe.dptr.sgl1.length = cases[i].sgl_len;
		sqe.dptr.sgl1.type = cases[i].sgl_type;
		int rc = host_exec_raw(&io, &sqe, buf, cases[i].icd_len, buf, cases[i].in_len, &cqe);
		TAP_OK(rc == 0 && nvme_status_sct(cqe.status) == NVME_SCT_GENERIC &&
			       nvme_status_sc(cqe.status) == cases[i].want_sc &&
			       (cqe.status & NVME_STATUS_DNR),
		       "%s: %s with DNR (got %s) %s", cases[i].what,
		       nvme_sc_name(NVME_SCT_GENERIC, cases[i].want_sc, 0),
		       host_status_str(cqe.status), io.err);
		if (rc != 0)
			break;
	}
	memset(buf, 0x5e, 8192);
	TAP_OK(host_write(&io, NSID, 64, 16, buf, 8192, NULL) == 0 &&
		       host_read(&io, NSID, 64, 16, buf + 8192, 8192, NULL) == 0 &&
		       memcmp(buf, buf + 8192, 8192) == 0,
	       "after the bad SGLs the same connection does I/O %s", io.err);
out:
	host_close(&io);
	host_close(&a);
	free(buf);
}

/* Commands that are well formed on the wire but wrong for the controller:
 * each completes with its status and the queues go on. */
static void expect_sc(bool sent, uint16_t st, unsigned sct, unsigned sc, const char *what,
		      const char *err)
{
	TAP_OK(sent && nvme_status_sct(st) == sct && nvme_status_sc(st) == sc,
	       "%s: %s (got %s) %s", what, nvme_sc_name(sct, sc, 0), host_status_str(st), err);
}

static void test_command_errors(void)
{
	struct host_opts o;
	struct host a, io;
	uint8_t *buf = calloc(1, 8192);
	struct nvme_cqe cqe;
	uint16_t st = 0;
	uint64_t v;
	bool sent;

	tgtd_host_opts(&g_tgtd, &o);
	/* Before CC.EN = 1 only Fabrics commands run. */
	if (host_open_admin(&a, &o) == 0) {
		sent = host_identify(&a, NVME_CNS_CTRLR, 0, buf, &st) == 0;
		expect_sc(sent, st, NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR,
			  "Identify before CC.EN = 1", a.err);
	} else {
		TAP_OK(false, "command errors: setup %s", a.err);
	}
	host_close(&a);

	if (host_open_session(&a, &io, &o) != 0) {
		TAP_OK(false, "command errors: setup %s", a.err);
		goto out;
	}
	struct nvme_sqe id = { .opc = NVME_OPC_IDENTIFY, .cdw10 = 0x55 };
	sent = host_exec(&a, &id, NULL, 0, buf, 4096, &cqe) == 0;
	expect_sc(sent, cqe.status, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD, "Identify CNS 55h",
		  a.err);
	sent = host_get_features(&a, 0x7e, 0, NULL, &st) == 0;
	expect_sc(sent, st, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD, "Get Features FID 7Eh",
		  a.err);
	struct nvme_sqe log = { .opc = NVME_OPC_GET_LOG_PAGE, .nsid = 0xffffffffu,
				.cdw10 = NVME_LOG_SMART | (127u << 16), .cdw12 = 4096 };
	sent = host_exec(&a, &log, NULL, 0, buf, 512, &cqe) == 0;
	expect_sc(sent, cqe.status, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD,
		  "Get Log Page SMART at offset 4096 (past its 512 bytes)", a.err);
	sent = host_prop_set(&a, NVME_PROP_CAP, true, 0, &st) == 0;
	expect_sc(sent, st, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD, "Property Set of CAP (read-only)",
		  a.err);
	TAP_OK(host_prop_get(&a, NVME_PROP_CAP, true, &v, NULL) == 0 && v != 0,
	       "CAP unchanged %s", a.err);

	struct nvme_sqe io_id = { .opc = NVME_OPC_IDENTIFY, .nsid = NSID, .cdw10 = NVME_CNS_CTRLR };
	sent = host_exec(&io, &io_id, NULL, 0, buf, 4096, &cqe) == 0;
	expect_sc(sent, cqe.status, NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE,
		  "opcode 06h on an I/O queue", io.err);
	sent = host_write(&io, NSID, 0, 16, buf, 4096, &st) == 0;
	expect_sc(sent, st, NVME_SCT_GENERIC, NVME_SC_DATA_SGL_LENGTH_INVALID,
		  "Write of 16 blocks with 4096 bytes of data", io.err);
	sent = host_write_zeroes(&io, NSID, TGTD_NS_BLOCKS - 4, 8, &st) == 0;
	expect_sc(sent, st, NVME_SCT_GENERIC, NVME_SC_LBA_OUT_OF_RANGE,
		  "Write Zeroes past the end", io.err);
	sent = host_dsm_deallocate(&io, NSID, TGTD_NS_BLOCKS - 4, 8, &st) == 0;
	expect_sc(sent, st, NVME_SCT_GENERIC, NVME_SC_LBA_OUT_OF_RANGE,
		  "Dataset Management range past the end", io.err);
	sent = host_compare(&io, NSID, TGTD_NS_BLOCKS - 4, 8, buf, 4096, &st) == 0;
	expect_sc(sent, st, NVME_SCT_GENERIC, NVME_SC_LBA_OUT_OF_RANGE, "Compare past the end",
		  io.err);
	TAP_OK(host_keep_alive(&a, NULL) == 0 && host_read(&io, NSID, 0, 8, buf, 4096, NULL) == 0,
	       "both queues still work %s %s", a.err, io.err);
out:
	host_close(&io);
	host_close(&a);
	free(buf);
}

/* ---- data digest error ---------------------------------------------------------- */

static void test_bad_ddgst(void)
{
	struct host_opts o;
	struct host a, io;
	uint32_t len = 64 * 1024;
	uint8_t *w = malloc(len), *r = malloc(len);
	uint16_t st = 0;

	tgtd_host_opts(&g_tgtd, &o);
	o.ddgst = true;
	o.hdgst = true;
	memset(w, 0xa5, len);
	if (!TAP_OK(host_open_session(&a, &io, &o) == 0 && io.ddgst,
		    "data digests negotiated")) {
		tap_diag("%s", a.err);
		goto out;
	}
	io.corrupt_next_h2c_ddgst = true;
	TAP_OK(host_write(&io, NSID, 0, len / 512, w, len, &st) == 0 &&
		       nvme_status_sct(st) == NVME_SCT_GENERIC &&
		       nvme_status_sc(st) == NVME_SC_TRANSIENT_TRANSPORT_ERROR,
	       "H2CData with a bad data digest: Transient Transport Error (%s) %s",
	       host_status_str(st), io.err);
	io.corrupt_next_icd_ddgst = true;
	TAP_OK(host_write(&io, NSID, 0, 8, w, 4096, &st) == 0 &&
		       nvme_status_sct(st) == NVME_SCT_GENERIC &&
		       nvme_status_sc(st) == NVME_SC_TRANSIENT_TRANSPORT_ERROR,
	       "in-capsule data with a bad data digest: Transient Transport Error (%s) %s",
	       host_status_str(st), io.err);
	memset(w, 0x3c, len);
	TAP_OK(host_write(&io, NSID, 0, len / 512, w, len, &st) == 0 && st == 0 &&
		       host_read(&io, NSID, 0, len / 512, r, len, &st) == 0 && st == 0 &&
		       memcmp(w, r, len) == 0,
	       "the same connection then writes and reads correctly (%s) %s", host_status_str(st),
	       io.err);
out:
	host_close(&io);
	host_close(&a);
	free(w);
	free(r);
}

/* ---- keep-alive ------------------------------------------------------------------ */

static double elapsed_s(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_keep_alive(void)
{
	struct host_opts o;
	struct host a, io;
	struct timespec t0;
	bool ok = true;

	/* Keep-alives every 300 ms keep a 1 s KATO controller alive. */
	tgtd_host_opts(&g_tgtd, &o);
	o.kato_ms = 1000;
	if (!TAP_OK(host_open_session(&a, &io, &o) == 0, "KATO 1000 ms: connected")) {
		tap_diag("%s", a.err);
		host_close(&a);
		host_close(&io);
		return;
	}
	for (int i = 0; i < 10 && ok; i++) {
		usleep(300000);
		ok = host_keep_alive(&a, NULL) == 0;
	}
	TAP_OK(ok, "Keep Alive every 300 ms for 3 s: the controller stays %s", a.err);

	/* Then silence: the target must end the association. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	bool closed = host_wait_closed(&a, 8000) == 0;
	TAP_OK(closed && elapsed_s(&t0) >= 0.9, "no Keep Alive: the admin queue is closed after %.1f s",
	       elapsed_s(&t0));
	TAP_OK(host_wait_closed(&io, 10000) == 0, "and its I/O queue too");
	host_close(&a);
	host_close(&io);

	/* I/O commands count as activity only with TBKAS; here none are sent. */
	TAP_OK(fresh_connection_works(), "after the expiry, a fresh connection works");
}

/* ---- malformed PDUs ------------------------------------------------------------- */

enum stage { RAW, AFTER_IC, AFTER_CONNECT };

struct bad_pdu {
	const char *what;
	enum stage stage;
	bool hdgst;		/* negotiate header digests first */
	uint8_t pdu[256];
	size_t len;
	size_t data_len;	/* extra zero bytes after pdu[] (e.g. oversized data) */
	long long fes;		/* -1: only the close is expected (no TermReq) */
	long long fei;		/* -1: any; else the 32-bit FEI */
};

static uint8_t *put_ch(uint8_t *p, uint8_t type, uint8_t flags, uint8_t hlen, uint8_t pdo,
		       uint32_t plen)
{
	p[0] = type;
	p[1] = flags;
	p[2] = hlen;
	p[3] = pdo;
	nvme_put_le32(p + 4, plen);
	return p;
}

/* A Keep Alive capsule (no data) for the given digest mode. */
static size_t capsule(uint8_t *p, bool hdgst)
{
	struct nvme_sqe sqe = { .opc = NVME_OPC_KEEP_ALIVE, .cid = 0x77,
				.flags = NVME_SQE_PSDT_SGL << NVME_SQE_PSDT_SHIFT };
	sqe.dptr.sgl1.type = NVME_SGL_TYPE_BYTE(NVME_SGL_TYPE_TRANSPORT_DATA_BLOCK,
						NVME_SGL_SUBTYPE_TRANSPORT);
	return nvme_tcp_build_capsule_cmd(p, &sqe, 0, hdgst, false, 0);
}

static void run_bad_pdu(const struct bad_pdu *b)
{
	struct host_opts o;
	struct host h;
	int rc;

	tgtd_host_opts(&g_tgtd, &o);
	o.hdgst = b->hdgst;
	if (b->stage == AFTER_CONNECT) {
		rc = host_open_admin(&h, &o);
	} else {
		rc = host_tcp_connect(&h, &o);
		if (rc == 0 && b->stage == AFTER_IC)
			rc = host_ic(&h);
	}
	if (rc != 0) {
		TAP_OK(false, "%s: setup failed: %s", b->what, h.err);
		host_close(&h);
		return;
	}
	/* The target may close while we still send (oversized data): fine. */
	host_send_raw(&h, b->pdu, b->len);
	if (b->data_len) {
		uint8_t *z = calloc(1, b->data_len);
		host_send_raw(&h, z, b->data_len);
		free(z);
	}
	rc = host_expect_term(&h, TERM_TIMEOUT_MS);
	if (b->fes < 0) {
		TAP_OK(rc == 0 || (rc == 1 && host_wait_closed(&h, TERM_TIMEOUT_MS) == 0),
		       "%s: the target closes the connection %s", b->what, rc < 0 ? h.err : "");
	} else if (rc == 1) {
		bool fei_ok = b->fei < 0 || h.term.fei == (uint32_t)b->fei;
		TAP_OK(h.term.fes == b->fes && fei_ok,
		       "%s: C2HTermReq FES %#x (%s) FEI %u (want FES %#llx FEI %lld)", b->what,
		       h.term.fes, nvme_tcp_fes_name(h.term.fes), h.term.fei, b->fes, b->fei);
		TAP_OK(host_wait_closed(&h, TERM_TIMEOUT_MS) == 0, "%s: then the connection closes",
		       b->what);
	} else {
		TAP_OK(false, "%s: C2HTermReq FES %#llx expected; got %s", b->what, b->fes,
		       rc == 0 ? "a close without TermReq" : h.err);
	}
	host_close(&h);
	if (!TAP_OK(fresh_connection_works(), "%s: a fresh connection works after it", b->what) &&
	    !tgtd_alive(&g_tgtd))
		tap_bail("nvmf-tgtd died");
}

static void test_malformed(void)
{
	static struct bad_pdu cases[40];
	struct bad_pdu *b;
	int n = 0;
	uint8_t *p;

#define NEW(desc, st, f, fi)                                                                   \
	(b = &cases[n++], memset(b, 0, sizeof(*b)), b->what = (desc), b->stage = (st),          \
	 b->fes = (f), b->fei = (fi), b->pdu)

	/* Connection initialization. */
	p = NEW("unknown PDU type 0x0a", RAW, 1, 0);
	put_ch(p, 0x0a, 0, 24, 0, 24);
	b->len = 24;
	p = NEW("C2H PDU type (CapsuleResp) from the host", AFTER_IC, 1, 0);
	put_ch(p, NVME_TCP_PDU_CAPSULE_RESP, 0, 24, 0, 24);
	b->len = 24;
	p = NEW("C2H PDU type (R2T) from the host", AFTER_IC, 1, 0);
	put_ch(p, NVME_TCP_PDU_R2T, 0, 24, 0, 24);
	b->len = 24;
	p = NEW("CapsuleCmd before ICReq", RAW, 2, 0);
	b->len = capsule(p, false);
	p = NEW("second ICReq", AFTER_IC, 2, 0);
	b->len = nvme_tcp_build_icreq(p, 0, false, false, 0);
	p = NEW("ICReq HLEN 127", RAW, 1, 2);
	b->len = nvme_tcp_build_icreq(p, 0, false, false, 0);
	p[2] = 127;
	p = NEW("ICReq PLEN 132", RAW, 1, 4);
	b->len = nvme_tcp_build_icreq(p, 0, false, false, 0) + 4;
	nvme_put_le32(p + 4, 132);
	p = NEW("ICReq PLEN 0xffffffff", RAW, 1, 4);
	b->len = nvme_tcp_build_icreq(p, 0, false, false, 0);
	nvme_put_le32(p + 4, 0xffffffffu);
	p = NEW("ICReq with the HDGSTF flag", RAW, 1, 1);
	b->len = nvme_tcp_build_icreq(p, 0, true, false, 0);
	p[1] = NVME_TCP_F_HDGST;
	p = NEW("ICReq PFV 1", RAW, 6, 8);
	b->len = nvme_tcp_build_icreq(p, 0, false, false, 0);
	p[8] = 1;
	p = NEW("ICReq HPDA 32", RAW, 6, 10);
	b->len = nvme_tcp_build_icreq(p, 0, false, false, 0);
	p[10] = 32;

	/* CapsuleCmd headers. */
	p = NEW("CapsuleCmd HLEN 24", AFTER_IC, 1, 2);
	b->len = capsule(p, false);
	p[2] = 24;
	p = NEW("CapsuleCmd PLEN below HLEN", AFTER_IC, 1, 4);
	b->len = capsule(p, false);
	nvme_put_le32(p + 4, 8);
	p = NEW("CapsuleCmd with HDGSTF, digests not negotiated", AFTER_IC, 1, 1);
	b->len = capsule(p, false);
	p[1] |= NVME_TCP_F_HDGST;
	p = NEW("CapsuleCmd without HDGSTF, header digests negotiated", AFTER_IC, 1, 1);
	b->hdgst = true;
	b->len = capsule(p, false);
	p = NEW("CapsuleCmd with a wrong header digest", AFTER_IC, 3, -1);
	b->hdgst = true;
	b->len = capsule(p, true);
	p[72] ^= 0xff;
	b->fei = nvme_get_le32(p + 72);
	p = NEW("CapsuleCmd DDGSTF without data", AFTER_IC, 1, 1);
	b->len = capsule(p, false);
	p[1] |= NVME_TCP_F_DDGST;
	p = NEW("CapsuleCmd PDO inside the header", AFTER_IC, 1, 3);
	b->len = capsule(p, false);
	nvme_put_le32(p + 4, 72 + 16);
	p[3] = 40;
	b->len += 16;
	p = NEW("CapsuleCmd DDGSTF with data, digests not negotiated", AFTER_IC, 1, 1);
	b->len = capsule(p, false);
	nvme_put_le32(p + 4, 72 + 16);
	p[3] = 72;
	p[1] |= NVME_TCP_F_DDGST;
	b->len += 16;
	p = NEW("CapsuleCmd in-capsule data above the admin limit (8 KiB + 4 KiB)", AFTER_CONNECT,
		5, 0);
	b->len = capsule(p, false);
	nvme_put_le32(p + 4, 72 + 12288);
	p[3] = 72;
	b->data_len = 12288;
	p = NEW("CapsuleCmd of PLEN 16 MiB", AFTER_IC, 5, 0);
	b->len = capsule(p, false);
	nvme_put_le32(p + 4, 16u << 20);
	p[3] = 72;

	p = NEW("H2CTermReq with PLEN 200 (above 152)", AFTER_CONNECT, -1, -1);
	b->len = nvme_tcp_build_term_req(p, NVME_TCP_PDU_H2C_TERM_REQ,
					 NVME_TCP_FES_INVALID_HEADER_FIELD, 0, NULL, 0);
	nvme_put_le32(p + 4, 200);
	b->data_len = 200 - 24;
	p = NEW("all-zero bytes after Connect (a second ICReq header)", AFTER_CONNECT, 2, 0);
	b->len = 128;

	/* A H2CTermReq ends the connection without an answer. */
	p = NEW("H2CTermReq from the host", AFTER_CONNECT, -1, -1);
	b->len = nvme_tcp_build_term_req(p, NVME_TCP_PDU_H2C_TERM_REQ,
					 NVME_TCP_FES_INVALID_HEADER_FIELD, 0, NULL, 0);

	for (int i = 0; i < n; i++)
		run_bad_pdu(&cases[i]);
#undef NEW
}

/* H2CData problems need an R2T: a 64 KiB Write on an I/O queue, answered by hand. */
enum h2c_fault { H2C_WRONG_DATAO, H2C_BEYOND_R2T, H2C_DATAL_MISMATCH, H2C_ABOVE_MAXH2C,
		 H2C_NO_DATA, H2C_EARLY_LAST, H2C_UNKNOWN_TTAG, H2C_NO_DDGSTF, H2C_BAD_HDGST };

static void test_h2c_fault(enum h2c_fault f, const char *what, int fes, long long fei)
{
	struct host_opts o;
	struct host a, io;
	uint8_t hdr[NVME_TCP_HDR_MAX];
	uint32_t len = 64 * 1024;
	uint8_t *buf = calloc(1, 2 * len);
	uint16_t cccid, ttag;
	uint32_t r2to, r2tl;
	size_t hl, dl;

	tgtd_host_opts(&g_tgtd, &o);
	/* The digest faults need digests negotiated. */
	o.hdgst = f == H2C_BAD_HDGST;
	o.ddgst = f == H2C_NO_DDGSTF;
	if (host_open_session(&a, &io, &o) != 0) {
		TAP_OK(false, "%s: setup: %s", what, a.err);
		goto out;
	}
	io.icd_max = 0;	/* force R2T */
	struct nvme_sqe sqe = { .opc = NVME_OPC_WRITE, .nsid = NSID, .cdw12 = len / 512 - 1 };
	if (host_submit(&io, &sqe, buf, len, NULL, 0) < 0 ||
	    host_recv_r2t(&io, &cccid, &ttag, &r2to, &r2tl) != 0) {
		TAP_OK(false, "%s: no R2T for a 64 KiB write: %s", what, io.err);
		goto out;
	}
	uint32_t first = r2tl < io.maxh2cdata ? r2tl : io.maxh2cdata;
	switch (f) {
	case H2C_WRONG_DATAO:
		hl = nvme_tcp_build_data(hdr, NVME_TCP_PDU_H2C_DATA, cccid, ttag, r2to + 512, 512,
					 0, false, false, io.cpda);
		dl = 512;
		break;
	case H2C_BEYOND_R2T:
		/* The right start, past the end of the R2T. */
		hl = nvme_tcp_build_data(hdr, NVME_TCP_PDU_H2C_DATA, cccid, ttag, r2to, r2tl + 512,
					 NVME_TCP_F_DATA_LAST, false, false, io.cpda);
		dl = r2tl + 512;
		if (r2tl + 512 > io.maxh2cdata) {
			/* Then it is over MAXH2CDATA first; a data-limit FES is also right. */
			fes = -2;
		}
		break;
	case H2C_DATAL_MISMATCH:
		hl = nvme_tcp_build_data(hdr, NVME_TCP_PDU_H2C_DATA, cccid, ttag, r2to, 512, 0, false,
					 false, io.cpda);
		nvme_put_le32(hdr + offsetof(struct nvme_tcp_data, datal), 1024);
		dl = 512;
		break;
	case H2C_ABOVE_MAXH2C:
		hl = nvme_tcp_build_data(hdr, NVME_TCP_PDU_H2C_DATA, cccid, ttag, r2to,
					 io.maxh2cdata + 4096, 0, false, false, io.cpda);
		dl = io.maxh2cdata + 4096;
		break;
	case H2C_NO_DATA:
		hl = nvme_tcp_build_data(hdr, NVME_TCP_PDU_H2C_DATA, cccid, ttag, r2to, 0, 0, false,
					 false, io.cpda);
		dl = 0;
		break;
	case H2C_EARLY_LAST:
		hl = nvme_tcp_build_data(hdr, NVME_TCP_PDU_H2C_DATA, cccid, ttag, r2to,
					 first / 2, NVME_TCP_F_DATA_LAST, false, false, io.cpda);
		dl = first / 2;
		break;
	case H2C_NO_DDGSTF:
		/* Built without data digest: no DDGSTF, no digest bytes. */
		hl = nvme_tcp_build_data(hdr, NVME_TCP_PDU_H2C_DATA, cccid, ttag, r2to, first, 0,
					 io.hdgst, false, io.cpda);
		dl = first;
		break;
	case H2C_BAD_HDGST:
		hl = nvme_tcp_build_data(hdr, NVME_TCP_PDU_H2C_DATA, cccid, ttag, r2to, first, 0,
					 true, io.ddgst, io.cpda);
		hdr[NVME_TCP_DATA_HLEN] ^= 0xff;
		fei = nvme_get_le32(hdr + NVME_TCP_DATA_HLEN);
		dl = first;
		break;
	case H2C_UNKNOWN_TTAG:
	default:
		hl = nvme_tcp_build_data(hdr, NVME_TCP_PDU_H2C_DATA, cccid, (uint16_t)(ttag + 1000),
					 r2to, first, 0, false, false, io.cpda);
		dl = first;
		break;
	}
	host_send_raw(&io, hdr, hl);
	if (dl)
		host_send_raw(&io, buf, dl > 2 * len ? 2 * len : dl);
	int rc = host_expect_term(&io, TERM_TIMEOUT_MS);
	if (rc == 1) {
		bool ok = fes == -2 ? (io.term.fes == NVME_TCP_FES_DATA_OUT_OF_RANGE ||
				       io.term.fes == NVME_TCP_FES_DATA_LIMIT_EXCEEDED)
				    : io.term.fes == fes && (fei < 0 || io.term.fei == (uint32_t)fei);
		TAP_OK(ok, "%s: C2HTermReq FES %#x (%s) FEI %u (want FES %#x FEI %lld)", what,
		       io.term.fes, nvme_tcp_fes_name(io.term.fes), io.term.fei, fes, fei);
		TAP_OK(host_wait_closed(&io, TERM_TIMEOUT_MS) == 0, "%s: then the connection closes",
		       what);
	} else {
		TAP_OK(false, "%s: C2HTermReq expected; got %s", what,
		       rc == 0 ? "a close without TermReq" : io.err);
	}
	TAP_OK(fresh_connection_works(), "%s: a fresh connection works after it", what);
out:
	host_close(&io);
	host_close(&a);
	free(buf);
}

static void test_h2c_faults(void)
{
	test_h2c_fault(H2C_WRONG_DATAO, "H2CData DATAO not the R2T's offset",
		       NVME_TCP_FES_DATA_OUT_OF_RANGE, 0);
	test_h2c_fault(H2C_BEYOND_R2T, "H2CData beyond the R2T", NVME_TCP_FES_DATA_OUT_OF_RANGE, 0);
	test_h2c_fault(H2C_DATAL_MISMATCH, "H2CData DATAL not PLEN - PDO",
		       NVME_TCP_FES_INVALID_HEADER_FIELD, 16);
	test_h2c_fault(H2C_ABOVE_MAXH2C, "H2CData above MAXH2CDATA",
		       NVME_TCP_FES_DATA_LIMIT_EXCEEDED, 0);
	test_h2c_fault(H2C_NO_DATA, "H2CData without data", NVME_TCP_FES_INVALID_HEADER_FIELD, 4);
	test_h2c_fault(H2C_EARLY_LAST, "H2CData LAST_PDU before the end of the R2T",
		       NVME_TCP_FES_INVALID_HEADER_FIELD, 1);
	test_h2c_fault(H2C_NO_DDGSTF, "H2CData without DDGSTF, data digests negotiated",
		       NVME_TCP_FES_INVALID_HEADER_FIELD, 1);
	test_h2c_fault(H2C_BAD_HDGST, "H2CData with a wrong header digest",
		       NVME_TCP_FES_HEADER_DIGEST_ERROR, 0 /* set to the digest sent */);
	/* Not in the README table: SPDK and Linux name the TTAG field. */
	test_h2c_fault(H2C_UNKNOWN_TTAG, "H2CData with an unknown TTAG",
		       NVME_TCP_FES_INVALID_HEADER_FIELD, (int)offsetof(struct nvme_tcp_data, ttag));
}

/* ---- hosts that go away ---------------------------------------------------------- */

static void test_vanishing_hosts(void)
{
	struct host_opts o;
	struct host h;

	tgtd_host_opts(&g_tgtd, &o);
	/* Half a header, then gone. */
	if (host_tcp_connect(&h, &o) == 0 && host_ic(&h) == 0) {
		uint8_t p[NVME_TCP_HDR_MAX];
		capsule(p, false);
		host_send_raw(&h, p, 30);
	}
	host_close(&h);
	/* A capsule announcing 4 KiB of data, 100 bytes sent. */
	if (host_open_admin(&h, &o) == 0) {
		uint8_t p[NVME_TCP_HDR_MAX + 100];
		struct nvme_sqe sqe = { .opc = NVME_OPC_SET_FEATURES, .cdw10 = 0x80,
					.flags = NVME_SQE_PSDT_SGL << NVME_SQE_PSDT_SHIFT };
		sqe.dptr.sgl1.length = 4096;
		sqe.dptr.sgl1.type = NVME_SGL_TYPE_BYTE(NVME_SGL_TYPE_DATA_BLOCK,
							NVME_SGL_SUBTYPE_OFFSET);
		size_t hl = nvme_tcp_build_capsule_cmd(p, &sqe, 4096, false, false, h.cpda);
		memset(p + hl, 0, 100);
		host_send_raw(&h, p, hl + 100);
	}
	host_close(&h);
	/* ICReq only. */
	if (host_tcp_connect(&h, &o) == 0)
		host_ic(&h);
	host_close(&h);
	TAP_OK(fresh_connection_works(), "hosts gone mid-header, mid-data, after ICReq: a fresh connection works");

	/* Many connections that never send an ICReq (or only half of one)
	 * while a host works; then they all go. */
	{
		enum { IDLE = 100 };
		static struct host idle[IDLE];
		int opened = 0;
		for (int i = 0; i < IDLE; i++) {
			if (host_tcp_connect(&idle[i], &o) != 0)
				break;
			opened++;
			if (i % 5 == 0) {
				uint8_t p[NVME_TCP_HDR_MAX];
				nvme_tcp_build_icreq(p, 0, false, false, 0);
				host_send_raw(&idle[i], p, 60);
			}
		}
		TAP_OK(opened == IDLE && fresh_connection_works(),
		       "%d idle or half-initialized connections open: a host still connects and works",
		       opened);
		for (int i = 0; i < opened; i++)
			host_close(&idle[i]);
		TAP_OK(fresh_connection_works(), "and after they all close");
	}

	/* A process doing I/O killed with SIGKILL, twice, while another host
	 * stays connected. */
	struct host other_a, other_io;
	bool other = host_open_session(&other_a, &other_io, &o) == 0;
	for (int round = 0; round < 2; round++) {
		pid_t pid = fork();
		if (pid == 0) {
			struct host a, io;
			prctl(PR_SET_PDEATHSIG, SIGKILL);	/* never outlive the test */
			uint8_t *buf = calloc(1, 128 * 1024);
			if (host_open_session(&a, &io, &o) != 0)
				_exit(2);
			for (;;) {	/* until killed */
				host_write(&io, NSID, 0, 256, buf, 128 * 1024, NULL);
				host_read(&io, NSID, 0, 256, buf, 128 * 1024, NULL);
			}
		}
		usleep(round == 0 ? 300000 : 50000);
		int st;
		bool running = waitpid(pid, &st, WNOHANG) == 0;
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		TAP_OK(running, "round %d: a host process was doing I/O when killed", round);
	}
	TAP_OK(tgtd_alive(&g_tgtd), "nvmf-tgtd survives hosts killed mid-I/O");
	{
		uint8_t *w = malloc(65536), *r = malloc(65536);
		memset(w, 0x17, 65536);
		TAP_OK(other && host_write(&other_io, NSID, 4096, 128, w, 65536, NULL) == 0 &&
			       host_read(&other_io, NSID, 4096, 128, r, 65536, NULL) == 0 &&
			       memcmp(w, r, 65536) == 0,
		       "a host connected before the kills still does I/O %s",
		       other ? other_io.err : other_a.err);
		free(w);
		free(r);
		host_close(&other_io);
		host_close(&other_a);
	}
	TAP_OK(fresh_connection_works(), "and serves a fresh connection");
	{
		struct host a, io;
		uint8_t *w = malloc(128 * 1024), *r = malloc(128 * 1024);
		memset(w, 0x42, 128 * 1024);
		bool ok = host_open_session(&a, &io, &o) == 0 &&
			  host_write(&io, NSID, 512, 256, w, 128 * 1024, NULL) == 0 &&
			  host_read(&io, NSID, 512, 256, r, 128 * 1024, NULL) == 0 &&
			  memcmp(w, r, 128 * 1024) == 0;
		TAP_OK(ok, "with correct 128 KiB I/O %s", ok ? "" : io.err);
		host_close(&io);
		host_close(&a);
		free(w);
		free(r);
	}
}

int main(void)
{
	const char *port = getenv("NVMF_TEST_PORT");
	const char *only = getenv("NVMF_TEST_ONLY");	/* "ddgst": the bad digest only (tshark.sh) */

	tgtd_test_start(&g_tgtd, port ? (uint16_t)atoi(port) : 0, 400);

	if (only && strcmp(only, "ddgst") == 0) {
		test_bad_ddgst();
	} else {
		test_connect_refusals();
		test_connect_params();
		test_bad_sgl();
		test_command_errors();
		test_bad_ddgst();
		test_malformed();
		test_h2c_faults();
		test_vanishing_hosts();
		test_keep_alive();
	}
	return tgtd_test_finish(&g_tgtd);
}
