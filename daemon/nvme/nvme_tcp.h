/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe/TCP PDUs (NVMe/TCP Transport Specification 1.0, chapter 3): wire
 * structures, a header validator and builders. No I/O and no allocation:
 * the caller owns every buffer, so the target, nvmf-perf and the test host
 * share this one implementation. All functions are pure and thread-safe.
 *
 * Receiving a PDU is incremental:
 *   1. read NVME_TCP_CH_LEN bytes, call nvme_tcp_parse_ch(): it checks the
 *      common header and tells how many header bytes to read (hlen plus the
 *      header digest), where data starts and how long it is;
 *   2. read the rest of the header, call nvme_tcp_parse_psh(): it checks
 *      the header digest and the type-specific fields;
 *   3. for H2CData/C2HData, look up the command by CCCID/TTAG and call
 *      nvme_tcp_check_data_range() with that command's transfer window;
 *   4. read the data (and its digest), call nvme_tcp_check_ddgst().
 * Each step returns 0, or -1 with a struct nvme_tcp_err naming the Fatal
 * Error Status and the byte offset of the offending field, which is what a
 * C2HTermReq/H2CTermReq carries (§3.6.2.11). Nothing reads past `len`.
 */
#ifndef NVME_TCP_H
#define NVME_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "nvme_spec.h"

/* ---- constants (§3.6.2) ---------------------------------------------------- */

enum nvme_tcp_pdu_type {
	NVME_TCP_PDU_ICREQ = 0x00,
	NVME_TCP_PDU_ICRESP = 0x01,
	NVME_TCP_PDU_H2C_TERM_REQ = 0x02,
	NVME_TCP_PDU_C2H_TERM_REQ = 0x03,
	NVME_TCP_PDU_CAPSULE_CMD = 0x04,
	NVME_TCP_PDU_CAPSULE_RESP = 0x05,
	NVME_TCP_PDU_H2C_DATA = 0x06,
	NVME_TCP_PDU_C2H_DATA = 0x07,
	NVME_TCP_PDU_R2T = 0x09,
};

/* Common header FLAGS (§3.6.2.1, Figure 17). */
#define NVME_TCP_F_HDGST (1u << 0)
#define NVME_TCP_F_DDGST (1u << 1)
#define NVME_TCP_F_DATA_LAST (1u << 2)	/* H2CData, C2HData */
#define NVME_TCP_F_DATA_SUCCESS (1u << 3)	/* C2HData */

/* ICReq/ICResp DGST field (§3.6.2.2). */
#define NVME_TCP_DGST_HDR (1u << 0)
#define NVME_TCP_DGST_DATA (1u << 1)

/* Fatal Error Status (§3.6.2.11, Figure 29). */
enum nvme_tcp_fes {
	NVME_TCP_FES_INVALID_HEADER_FIELD = 0x01,
	NVME_TCP_FES_PDU_SEQUENCE_ERROR = 0x02,
	NVME_TCP_FES_HEADER_DIGEST_ERROR = 0x03,
	NVME_TCP_FES_DATA_OUT_OF_RANGE = 0x04,
	NVME_TCP_FES_DATA_LIMIT_EXCEEDED = 0x05,	/* also "R2T limit exceeded" */
	NVME_TCP_FES_UNSUPPORTED_PARAMETER = 0x06,
};

#define NVME_TCP_PFV_1_0 0
#define NVME_TCP_CH_LEN 8
#define NVME_TCP_DIGEST_LEN 4
#define NVME_TCP_PDA_MAX 31		/* HPDA/CPDA: alignment (pda + 1) * 4 bytes */
#define NVME_TCP_MIN_MAXH2CDATA 4096	/* §3.6.2.3 */
#define NVME_TCP_TERM_MAX_DATA 128	/* offending header bytes echoed in a TermReq */

/* Header lengths per type (HLEN, §3.6.2.2-3.6.2.10). */
#define NVME_TCP_ICREQ_HLEN 128
#define NVME_TCP_ICRESP_HLEN 128
#define NVME_TCP_TERM_HLEN 24
#define NVME_TCP_CMD_HLEN 72
#define NVME_TCP_RESP_HLEN 24
#define NVME_TCP_DATA_HLEN 24
#define NVME_TCP_R2T_HLEN 24

/* ---- wire structures ------------------------------------------------------- */

struct nvme_tcp_ch {
	uint8_t pdu_type;
	uint8_t flags;
	uint8_t hlen;
	uint8_t pdo;
	uint32_t plen;
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_tcp_ch, 8);
NVME_STATIC_OFFSET(struct nvme_tcp_ch, flags, 1);
NVME_STATIC_OFFSET(struct nvme_tcp_ch, hlen, 2);
NVME_STATIC_OFFSET(struct nvme_tcp_ch, pdo, 3);
NVME_STATIC_OFFSET(struct nvme_tcp_ch, plen, 4);

/* ICReq (§3.6.2.2, Figure 20). */
struct nvme_tcp_icreq {
	struct nvme_tcp_ch ch;
	uint16_t pfv;
	uint8_t hpda;
	uint8_t dgst;
	uint32_t maxr2t;	/* 0's based */
	uint8_t rsvd[112];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_tcp_icreq, 128);
NVME_STATIC_OFFSET(struct nvme_tcp_icreq, pfv, 8);
NVME_STATIC_OFFSET(struct nvme_tcp_icreq, hpda, 10);
NVME_STATIC_OFFSET(struct nvme_tcp_icreq, dgst, 11);
NVME_STATIC_OFFSET(struct nvme_tcp_icreq, maxr2t, 12);

/* ICResp (§3.6.2.3, Figure 21). */
struct nvme_tcp_icresp {
	struct nvme_tcp_ch ch;
	uint16_t pfv;
	uint8_t cpda;
	uint8_t dgst;
	uint32_t maxh2cdata;
	uint8_t rsvd[112];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_tcp_icresp, 128);
NVME_STATIC_OFFSET(struct nvme_tcp_icresp, cpda, 10);
NVME_STATIC_OFFSET(struct nvme_tcp_icresp, dgst, 11);
NVME_STATIC_OFFSET(struct nvme_tcp_icresp, maxh2cdata, 12);

/* H2CTermReq / C2HTermReq (§3.6.2.4/3.6.2.5, Figure 22). FEI is 4 bytes at
 * an unaligned offset 10. */
struct nvme_tcp_term {
	struct nvme_tcp_ch ch;
	uint16_t fes;
	uint32_t fei;
	uint8_t rsvd[10];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_tcp_term, 24);
NVME_STATIC_OFFSET(struct nvme_tcp_term, fes, 8);
NVME_STATIC_OFFSET(struct nvme_tcp_term, fei, 10);

/* CapsuleCmd (§3.6.2.6, Figure 24). */
struct nvme_tcp_cmd {
	struct nvme_tcp_ch ch;
	struct nvme_sqe sqe;
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_tcp_cmd, 72);
NVME_STATIC_OFFSET(struct nvme_tcp_cmd, sqe, 8);

/* CapsuleResp (§3.6.2.7, Figure 25). */
struct nvme_tcp_resp {
	struct nvme_tcp_ch ch;
	struct nvme_cqe cqe;
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_tcp_resp, 24);
NVME_STATIC_OFFSET(struct nvme_tcp_resp, cqe, 8);

/* H2CData / C2HData (§3.6.2.8/3.6.2.9, Figures 26/27). TTAG is reserved in
 * C2HData. */
struct nvme_tcp_data {
	struct nvme_tcp_ch ch;
	uint16_t cccid;
	uint16_t ttag;
	uint32_t datao;
	uint32_t datal;
	uint8_t rsvd[4];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_tcp_data, 24);
NVME_STATIC_OFFSET(struct nvme_tcp_data, cccid, 8);
NVME_STATIC_OFFSET(struct nvme_tcp_data, ttag, 10);
NVME_STATIC_OFFSET(struct nvme_tcp_data, datao, 12);
NVME_STATIC_OFFSET(struct nvme_tcp_data, datal, 16);

/* R2T (§3.6.2.10, Figure 28). */
struct nvme_tcp_r2t {
	struct nvme_tcp_ch ch;
	uint16_t cccid;
	uint16_t ttag;
	uint32_t r2to;
	uint32_t r2tl;
	uint8_t rsvd[4];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_tcp_r2t, 24);
NVME_STATIC_OFFSET(struct nvme_tcp_r2t, r2to, 12);
NVME_STATIC_OFFSET(struct nvme_tcp_r2t, r2tl, 16);

/* The largest header plus header digest: room for any PDU header. */
#define NVME_TCP_HDR_MAX (NVME_TCP_ICREQ_HLEN + NVME_TCP_DIGEST_LEN)
/* A whole TermReq: its header plus the echoed offending header. */
#define NVME_TCP_TERM_MAX_LEN (NVME_TCP_TERM_HLEN + NVME_TCP_TERM_MAX_DATA)

/* ---- CRC32C (crc32c.c) ----------------------------------------------------- */

/*
 * CRC32C (Castagnoli) as NVMe/TCP digests use it (§3.3.3; the iSCSI CRC of
 * RFC 3720 §B.4): nvme_crc32c_update() continues a running value that starts
 * at NVME_CRC32C_INIT; the digest is the final value XOR 0xffffffff,
 * stored little-endian. nvme_crc32c() does the whole thing. Uses ISA-L when
 * the build found it, else the SSE4.2 crc32 instruction when the CPU has it,
 * else a slice-by-8 table. Any thread; no state.
 */
#define NVME_CRC32C_INIT 0xffffffffu
uint32_t nvme_crc32c_update(uint32_t crc, const void *buf, size_t len);
uint32_t nvme_crc32c(const void *buf, size_t len);
uint32_t nvme_crc32c_iov(const struct iovec *iov, int iovcnt);
/* The two implementations, for tests and the bench. _hw must only be called
 * when nvme_crc32c_hw_available() is true. */
uint32_t nvme_crc32c_update_sw(uint32_t crc, const void *buf, size_t len);
uint32_t nvme_crc32c_update_hw(uint32_t crc, const void *buf, size_t len);
bool nvme_crc32c_hw_available(void);
/* ISA-L's implementation when built with it (else the default path). */
uint32_t nvme_crc32c_update_isal(uint32_t crc, const void *buf, size_t len);
bool nvme_crc32c_isal_available(void);
/* "isa-l", "sse4.2" or "table": what nvme_crc32c_update() uses. */
const char *nvme_crc32c_impl_name(void);

/* ---- receive-side validation (pdu.c) --------------------------------------- */

/* Which end is receiving: the controller (target) or the host. */
enum nvme_tcp_role {
	NVME_TCP_ROLE_CTRLR,
	NVME_TCP_ROLE_HOST,
};

/*
 * What the receiver knows about its connection. Fill it once after the
 * ICReq/ICResp exchange (ic_done = true, digests and limits as negotiated).
 * Before that only an ICReq (controller) or ICResp (host) is accepted.
 */
struct nvme_tcp_rx_ctx {
	enum nvme_tcp_role role;
	bool ic_done;
	bool hdgst;		/* header digest negotiated (host, before ic_done:
				 * requested in its ICReq; checked against ICResp) */
	bool ddgst;		/* data digest negotiated (same rule) */
	uint8_t rx_pda;		/* alignment of data we receive: CPDA for the controller,
				 * HPDA for the host; 0 = no alignment */
	uint32_t max_h2c_data;	/* controller: MAXH2CDATA it advertised (required) */
	uint32_t max_icd;	/* controller: in-capsule data limit in bytes
				 * (0: a CapsuleCmd may carry no data) */
	uint32_t max_c2h_data;	/* host: largest C2HData it accepts (0 = no limit) */
};

/* Why a PDU was refused: the FES and FEI to put in the TermReq. For an
 * invalid header field or unsupported parameter FEI is the byte offset of
 * the field in the PDU header; for a header digest error it is the digest
 * that was received (§3.6.2.11, Figure 30); otherwise 0. `why` is a short
 * static string for the log line. */
struct nvme_tcp_err {
	uint16_t fes;
	uint32_t fei;
	const char *why;
};

/* What nvme_tcp_parse_ch() learned from the common header. */
struct nvme_tcp_pdu_info {
	uint8_t type;
	uint8_t flags;
	uint8_t hlen;
	uint32_t plen;
	uint32_t hdr_len;	/* hlen + header digest: bytes to read for step 2 */
	uint32_t data_off;	/* PDO when data is present, else hdr_len */
	uint32_t data_len;	/* bytes of data (excluding padding and digest) */
	bool has_hdgst;
	bool has_ddgst;
};

/*
 * Step 1: check the 8-byte common header in buf[0..len). Returns 0 and fills
 * *info, 1 when len < NVME_TCP_CH_LEN (read more), or -1 with *err.
 */
int nvme_tcp_parse_ch(const struct nvme_tcp_rx_ctx *ctx, const void *buf, size_t len,
		      struct nvme_tcp_pdu_info *info, struct nvme_tcp_err *err);

/*
 * Step 2: check the header digest and the type-specific fields of the
 * header in buf[0..len) (which starts with the common header already
 * accepted into *info). Returns 0, 1 when len < info->hdr_len, or -1.
 */
int nvme_tcp_parse_psh(const struct nvme_tcp_rx_ctx *ctx, const void *buf, size_t len,
		       const struct nvme_tcp_pdu_info *info, struct nvme_tcp_err *err);

/*
 * Step 3 for H2CData (controller) and C2HData (host): the PDU's DATAO and
 * DATAL must lie inside the window the receiver expects: `expected_off` is
 * the next offset it expects (data PDUs of one command arrive in order,
 * §3.4.4) and `window_end` the end of the current R2T (H2C) or of the
 * command's transfer (C2H). A LAST_PDU flag must be set exactly on the PDU
 * that reaches window_end. Returns 0 or -1 (FES Data Transfer Out of Range).
 */
int nvme_tcp_check_data_range(const void *hdr, uint32_t expected_off, uint32_t window_end,
			      struct nvme_tcp_err *err);

/*
 * Step 4: compare the received data digest (4 bytes, little-endian) with
 * the CRC32C of the data. Returns 0 or -1. A data digest error is not a
 * fatal error: the command completes with Transient Transport Error
 * (§3.3.3.2; SCT 0, SC 0x22).
 */
int nvme_tcp_check_ddgst(const struct iovec *iov, int iovcnt, const void *digest);

/*
 * The data pointer of a received CapsuleCmd (§3.4.1, §3.4.2): PSDT must say
 * SGL (Base 2.0 §4.1.3; fabrics use SGLs only) and SGL1 must be either a
 * Data Block with the Offset subtype (in-capsule data, ICDOFF 0: address 0,
 * length equal to the data that came with the capsule, host-to-controller
 * commands only) or a Transport Data Block with the transport-specific
 * subtype (data moved by R2T/H2CData or C2HData; no in-capsule data, length
 * up to `max_transfer`). Returns 0 with *in_capsule and *length set, or the
 * NVMe status to complete the command with (nvme_status(), DNR set).
 */
uint16_t nvme_tcp_parse_cmd_sgl(const struct nvme_sqe *sqe, uint32_t icd_len,
				uint32_t max_transfer, bool *in_capsule, uint32_t *length);

/* Name of a PDU type or FES for logs ("ICReq", "Header Digest Error", ...). */
const char *nvme_tcp_pdu_type_name(uint8_t type);
const char *nvme_tcp_fes_name(uint16_t fes);

/* ---- builders (pdu.c) ------------------------------------------------------ */

/*
 * Each builder writes one PDU header into `hdr`, which must hold
 * NVME_TCP_HDR_MAX bytes, and returns the number of header bytes to send
 * (hlen, plus the header digest when `hdgst`, plus the padding up to PDO
 * when data follows). The data itself (and its digest, nvme_crc32c_iov())
 * the caller sends after the header. `pda` is the peer's requested data
 * alignment (HPDA when the controller sends, CPDA when the host sends).
 */
size_t nvme_tcp_build_icreq(void *hdr, uint8_t hpda, bool hdgst, bool ddgst, uint32_t maxr2t);
size_t nvme_tcp_build_icresp(void *hdr, uint8_t cpda, bool hdgst, bool ddgst,
			     uint32_t maxh2cdata);
/* TermReq: the first min(bad_hdr_len, 128) bytes of the offending header
 * are echoed after the 24-byte header, so `hdr` must hold
 * NVME_TCP_TERM_MAX_LEN bytes; returns 24 + those bytes (no digests; the
 * whole PDU, PLEN included). */
size_t nvme_tcp_build_term_req(void *hdr, enum nvme_tcp_pdu_type type, uint16_t fes,
			       uint32_t fei, const void *bad_hdr, size_t bad_hdr_len);
size_t nvme_tcp_build_capsule_cmd(void *hdr, const struct nvme_sqe *sqe, uint32_t icd_len,
				  bool hdgst, bool ddgst, uint8_t pda);
size_t nvme_tcp_build_capsule_resp(void *hdr, const struct nvme_cqe *cqe, bool hdgst);
/* H2CData / C2HData: `type` picks which; `flags` may carry DATA_LAST and
 * (C2H only) DATA_SUCCESS. */
size_t nvme_tcp_build_data(void *hdr, enum nvme_tcp_pdu_type type, uint16_t cccid,
			   uint16_t ttag, uint32_t datao, uint32_t datal, uint8_t flags,
			   bool hdgst, bool ddgst, uint8_t pda);
size_t nvme_tcp_build_r2t(void *hdr, uint16_t cccid, uint16_t ttag, uint32_t r2to,
			  uint32_t r2tl, bool hdgst);

#endif /* NVME_TCP_H */
