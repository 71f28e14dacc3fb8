/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A small NVMe/TCP host for the target's tests: one blocking socket per
 * queue, synchronous, every read bounded by a timeout (a target that stops
 * answering fails the test instead of hanging it). Built on daemon/nvme's
 * PDU builders, header validator and CRC32C, so what the target sends is
 * checked with the same rules it enforces (role HOST).
 *
 * Error model: a function returns 0 when the exchange completed (the NVMe
 * status, which may be an error, is in the CQE), or -1 on a transport
 * failure: timeout, connection closed, a C2HTermReq (host->term holds its
 * FES/FEI), or a PDU from the target that breaks the rules. host->err says
 * which, for the test's diagnostics.
 */
#ifndef TESTS_NVMF_HOST_H
#define TESTS_NVMF_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvme_tcp.h"

#define HOST_DEFAULT_HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:5f1b6a8c-3d2e-4c1f-9a7b-0e2d4c6b8a10"
#define HOST_MAX_INFLIGHT 64
#define HOST_ADMIN_ICD 8192	/* NVMe/TCP §3.4.1: the admin queue takes 8 KiB in capsule */

struct host_opts {
	const char *addr;	/* numeric IPv4/IPv6 */
	uint16_t port;
	bool hdgst, ddgst;	/* requested in ICReq */
	uint8_t hpda;
	uint32_t maxr2t;	/* 0's based */
	bool sq_fc_disabled;	/* Connect CATTR bit 2 */
	uint32_t kato_ms;	/* admin Connect */
	const char *hostnqn;	/* NULL: HOST_DEFAULT_HOSTNQN */
	uint8_t hostid[16];
	const char *subnqn;
	uint16_t sqsize;	/* 0's based; 0 means 31 */
	int timeout_ms;		/* every read; 0 means 10000 */
};

/* The C2HTermReq last received. */
struct host_term {
	bool received;
	uint16_t fes;
	uint32_t fei;
	uint8_t hdr[NVME_TCP_TERM_MAX_DATA];	/* echoed offending header */
	uint32_t hdr_len;
};

/* One command in flight. */
struct host_cmd {
	bool used, done;
	uint16_t cid;
	const void *out;	/* host-to-controller data */
	uint32_t out_len;
	void *in;		/* controller-to-host data */
	uint32_t in_len;
	uint32_t in_next;	/* next expected DATAO */
	uint32_t c2h_pdus;	/* C2HData PDUs received */
	uint32_t r2ts;		/* R2Ts answered */
	bool success_flag;	/* completed by C2HData SUCCESS, no CapsuleResp */
	struct nvme_cqe cqe;
};

struct host {
	int fd;
	struct host_opts opts;
	char hostnqn[NVME_NQN_SIZE];
	/* Negotiated by ICReq/ICResp. */
	bool hdgst, ddgst;
	uint8_t cpda;
	uint32_t maxh2cdata;
	struct nvme_tcp_rx_ctx rx;
	/* Queue. */
	uint16_t qid;
	uint16_t cntlid;
	uint32_t icd_max;	/* in-capsule data this queue may send */
	uint16_t next_cid;
	struct host_cmd cmds[HOST_MAX_INFLIGHT];
	/* Fault injection, each for the next H2CData only (one shot). */
	bool corrupt_next_h2c_ddgst;
	bool corrupt_next_icd_ddgst;	/* in-capsule data of the next command */
	uint32_t h2c_chunk;	/* split H2CData below MAXH2CDATA (0: MAXH2CDATA) */
	uint32_t send_chunk;	/* send at most this many bytes per send() (0: all);
				 * 1 makes the target parse every PDU byte by byte */
	/* Counters for the tests. */
	uint32_t r2ts_seen, c2h_pdus_seen, h2c_pdus_sent;
	struct host_term term;
	char err[256];
};

/* Fills opts with defaults: 127.0.0.1, no digests, kato 0, timeouts 10 s. */
void host_opts_init(struct host_opts *opts);

/* TCP connect only (for raw tests). 0 or -1 (host->err). */
int host_tcp_connect(struct host *h, const struct host_opts *opts);
/* ICReq/ICResp exchange. */
int host_ic(struct host *h);
/* Fabrics Connect on queue qid (0 = admin, with opts.kato_ms); cntlid is
 * ignored for qid 0 (dynamic). *status gets the CQE status (0 = success);
 * on success host->cntlid is set. cdw0 (IATTR/IPO on Invalid Parameters)
 * in *cdw0 when not NULL. */
int host_fabrics_connect(struct host *h, uint16_t qid, uint16_t cntlid, uint16_t *status,
			 uint32_t *cdw0);
/* TCP connect + IC + Connect. -1 when any step fails or the status is not 0. */
int host_open_admin(struct host *h, const struct host_opts *opts);
int host_open_io(struct host *h, const struct host_opts *opts, uint16_t qid, uint16_t cntlid);
/* Admin queue (enabled, CC.EN/CSTS.RDY) plus I/O queue 1 of the same
 * controller, whose in-capsule limit comes from Identify IOCCSZ. */
int host_open_session(struct host *admin, struct host *io, const struct host_opts *opts);
/* Closes the socket (no Disconnect). Safe twice. */
void host_close(struct host *h);

/* Property Get/Set: status in *status, value in *value. */
int host_prop_get(struct host *h, uint32_t ofst, bool eight, uint64_t *value, uint16_t *status);
int host_prop_set(struct host *h, uint32_t ofst, bool eight, uint64_t value, uint16_t *status);
/* CC.EN = 1 (with IOSQES 6, IOCQES 4), wait for CSTS.RDY (bounded). */
int host_enable(struct host *h);

/* Generic command: sqe's cid and SGL are filled here. out/in may be NULL.
 * Data goes in capsule when out_len <= host->icd_max, else by R2T. */
int host_exec(struct host *h, struct nvme_sqe *sqe, const void *out, uint32_t out_len,
	      void *in, uint32_t in_len, struct nvme_cqe *cqe);
/* Submit without waiting (for fused pairs and pipelining); returns the cid
 * or -1. Then host_wait(). */
int host_submit(struct host *h, struct nvme_sqe *sqe, const void *out, uint32_t out_len,
		void *in, uint32_t in_len);
int host_wait(struct host *h, uint16_t cid, struct nvme_cqe *cqe);
/* Sends the SQE exactly as given (CID, flags and SGL untouched) with icd_len
 * bytes of in-capsule data, and waits for its completion; C2HData goes to
 * in[0..in_len). For tests of malformed commands. */
int host_exec_raw(struct host *h, const struct nvme_sqe *sqe, const void *icd, uint32_t icd_len,
		  void *in, uint32_t in_len, struct nvme_cqe *cqe);
/* The finished command's record (for counters), valid until the next submit. */
const struct host_cmd *host_last(const struct host *h, uint16_t cid);

/* Admin helpers: the status is returned in *status (NULL: must be 0). */
int host_identify(struct host *h, uint8_t cns, uint32_t nsid, void *buf4k, uint16_t *status);
int host_get_log(struct host *h, uint8_t lid, uint32_t nsid, void *buf, uint32_t len,
		 uint16_t *status);
int host_set_features(struct host *h, uint8_t fid, uint32_t cdw11, uint32_t *cdw0,
		      uint16_t *status);
int host_get_features(struct host *h, uint8_t fid, uint32_t cdw11, uint32_t *cdw0,
		      uint16_t *status);
int host_keep_alive(struct host *h, uint16_t *status);

/* NVM commands (nsid, slba, nlb 1-based count of blocks of lba bytes). */
int host_write(struct host *h, uint32_t nsid, uint64_t slba, uint32_t nlb, const void *buf,
	       uint32_t len, uint16_t *status);
int host_read(struct host *h, uint32_t nsid, uint64_t slba, uint32_t nlb, void *buf,
	      uint32_t len, uint16_t *status);
int host_compare(struct host *h, uint32_t nsid, uint64_t slba, uint32_t nlb, const void *buf,
		 uint32_t len, uint16_t *status);
int host_flush(struct host *h, uint32_t nsid, uint16_t *status);
int host_write_zeroes(struct host *h, uint32_t nsid, uint64_t slba, uint32_t nlb,
		      uint16_t *status);
/* Deallocate one range. */
int host_dsm_deallocate(struct host *h, uint32_t nsid, uint64_t slba, uint32_t nlb,
			uint16_t *status);
/* Fused Compare (FIRST) + Write (SECOND): both statuses. */
int host_compare_and_write(struct host *h, uint32_t nsid, uint64_t slba, uint32_t nlb,
			   const void *cmp, const void *data, uint32_t len,
			   uint16_t *cmp_status, uint16_t *write_status);

/* ---- raw mode ---------------------------------------------------------------- */

/* Send bytes as they are. 0 or -1. */
int host_send_raw(struct host *h, const void *buf, size_t len);
/* Read PDUs until a C2HTermReq, the close, or the timeout (ms). Returns 1
 * when a TermReq arrived (host->term), 0 when the target closed without
 * one, -1 on timeout or a malformed PDU. */
int host_expect_term(struct host *h, int timeout_ms);
/* 0 when the target closes the connection (EOF or reset) within timeout_ms,
 * discarding anything it sends; -1 if it is still open. */
int host_wait_closed(struct host *h, int timeout_ms);

/* Receives one PDU that must be an R2T (for tests that answer it by hand). */
int host_recv_r2t(struct host *h, uint16_t *cccid, uint16_t *ttag, uint32_t *r2to,
		  uint32_t *r2tl);

/* "SCT/SC (name)" for diagnostics (static buffer per call site: not thread-safe). */
const char *host_status_str(uint16_t status);
/* The same for a Fabrics command's status (SCT 1 codes are Connect's). */
const char *host_fabrics_status_str(uint16_t status);

#endif /* TESTS_NVMF_HOST_H */
