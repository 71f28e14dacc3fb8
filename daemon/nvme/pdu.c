/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe/TCP PDU header validation and builders (NVMe/TCP Transport
 * Specification 1.0; section numbers below refer to it). Pure functions
 * over caller buffers: every read is bounded by the length given.
 */
#include "nvme_tcp.h"

#include <string.h>

#define CH_OFF_TYPE 0
#define CH_OFF_FLAGS 1
#define CH_OFF_HLEN 2
#define CH_OFF_PDO 3
#define CH_OFF_PLEN 4

static int fail(struct nvme_tcp_err *err, uint16_t fes, uint32_t fei, const char *why)
{
	err->fes = fes;
	err->fei = fei;
	err->why = why;
	return -1;
}

static int bad_field(struct nvme_tcp_err *err, uint32_t off, const char *why)
{
	return fail(err, NVME_TCP_FES_INVALID_HEADER_FIELD, off, why);
}

/* Per-type properties: header length, whether header digests apply, and
 * whether the PDU may carry data. */
struct pdu_kind {
	uint8_t hlen;
	bool digests;	/* HDGST/DDGST apply (§3.3.3: not to ICReq/ICResp/TermReq) */
	bool data;	/* may carry data */
	bool to_ctrlr;	/* sent by the host */
};

static const struct pdu_kind *pdu_kind(uint8_t type)
{
	static const struct pdu_kind kinds[] = {
		[NVME_TCP_PDU_ICREQ] = { NVME_TCP_ICREQ_HLEN, false, false, true },
		[NVME_TCP_PDU_ICRESP] = { NVME_TCP_ICRESP_HLEN, false, false, false },
		[NVME_TCP_PDU_H2C_TERM_REQ] = { NVME_TCP_TERM_HLEN, false, false, true },
		[NVME_TCP_PDU_C2H_TERM_REQ] = { NVME_TCP_TERM_HLEN, false, false, false },
		[NVME_TCP_PDU_CAPSULE_CMD] = { NVME_TCP_CMD_HLEN, true, true, true },
		[NVME_TCP_PDU_CAPSULE_RESP] = { NVME_TCP_RESP_HLEN, true, false, false },
		[NVME_TCP_PDU_H2C_DATA] = { NVME_TCP_DATA_HLEN, true, true, true },
		[NVME_TCP_PDU_C2H_DATA] = { NVME_TCP_DATA_HLEN, true, true, false },
		[NVME_TCP_PDU_R2T] = { NVME_TCP_R2T_HLEN, true, false, false },
	};
	if (type >= sizeof(kinds) / sizeof(kinds[0]) || kinds[type].hlen == 0)
		return NULL;
	return &kinds[type];
}

static bool is_term(uint8_t type)
{
	return type == NVME_TCP_PDU_H2C_TERM_REQ || type == NVME_TCP_PDU_C2H_TERM_REQ;
}

static bool is_ic(uint8_t type)
{
	return type == NVME_TCP_PDU_ICREQ || type == NVME_TCP_PDU_ICRESP;
}

int nvme_tcp_parse_ch(const struct nvme_tcp_rx_ctx *ctx, const void *buf, size_t len,
		      struct nvme_tcp_pdu_info *info, struct nvme_tcp_err *err)
{
	const uint8_t *p = buf;

	if (len < NVME_TCP_CH_LEN)
		return 1;

	uint8_t type = p[CH_OFF_TYPE], flags = p[CH_OFF_FLAGS], hlen = p[CH_OFF_HLEN];
	uint8_t pdo = p[CH_OFF_PDO];
	uint32_t plen = nvme_get_le32(p + CH_OFF_PLEN);
	const struct pdu_kind *k = pdu_kind(type);
	bool to_ctrlr = ctx->role == NVME_TCP_ROLE_CTRLR;

	/* §3.6.2.1: an unknown type, or one the other direction sends. */
	if (!k || k->to_ctrlr != to_ctrlr)
		return bad_field(err, CH_OFF_TYPE, "unexpected PDU type");

	/* §3.3.1/3.3.2: the IC exchange comes first and only once; a TermReq
	 * may come at any time. */
	if (!is_term(type) && is_ic(type) == ctx->ic_done)
		return fail(err, NVME_TCP_FES_PDU_SEQUENCE_ERROR, 0,
			    ctx->ic_done ? "second connection initialization PDU"
					 : "PDU before connection initialization");

	if (hlen != k->hlen)
		return bad_field(err, CH_OFF_HLEN, "HLEN wrong for the PDU type");

	memset(info, 0, sizeof(*info));
	info->type = type;
	info->flags = flags;
	info->hlen = hlen;
	info->plen = plen;

	/* §3.3.3/3.6.2.1: HDGSTF is set exactly when header digests were
	 * negotiated, on the PDUs that carry digests; TermReq flags are reserved
	 * and ignored (the connection ends anyway). */
	if (k->digests) {
		if (!!(flags & NVME_TCP_F_HDGST) != ctx->hdgst)
			return bad_field(err, CH_OFF_FLAGS, "HDGSTF does not match the negotiated digest");
		info->has_hdgst = ctx->hdgst;
	} else if (!is_term(type) && (flags & (NVME_TCP_F_HDGST | NVME_TCP_F_DDGST))) {
		return bad_field(err, CH_OFF_FLAGS, "digest flag on an initialization PDU");
	}
	info->hdr_len = hlen + (info->has_hdgst ? NVME_TCP_DIGEST_LEN : 0);
	info->data_off = info->hdr_len;

	if (plen < info->hdr_len)
		return bad_field(err, CH_OFF_PLEN, "PLEN shorter than the header");

	if (is_ic(type)) {
		if (plen != hlen)	/* §3.6.2.2/3: fixed 128-byte PDUs */
			return bad_field(err, CH_OFF_PLEN, "PLEN of an IC PDU is not 128");
		return 0;
	}
	if (is_term(type)) {
		if (plen > NVME_TCP_TERM_HLEN + NVME_TCP_TERM_MAX_DATA)
			return bad_field(err, CH_OFF_PLEN, "TermReq longer than 152 bytes");
		info->data_len = plen - hlen;	/* the echoed header; not "data" with a digest */
		return 0;
	}

	if (plen == info->hdr_len) {
		/* No data. DDGSTF is set only on PDUs with data (§3.3.3). */
		if (flags & NVME_TCP_F_DDGST)
			return bad_field(err, CH_OFF_FLAGS, "DDGSTF on a PDU without data");
		if (type == NVME_TCP_PDU_H2C_DATA || type == NVME_TCP_PDU_C2H_DATA)
			return bad_field(err, CH_OFF_PLEN, "data PDU without data");
		return 0;
	}
	if (!k->data)
		return bad_field(err, CH_OFF_PLEN, "PLEN larger than a PDU without data");

	if (!!(flags & NVME_TCP_F_DDGST) != ctx->ddgst)
		return bad_field(err, CH_OFF_FLAGS, "DDGSTF does not match the negotiated digest");
	info->has_ddgst = ctx->ddgst;

	/* §3.5.2 / §3.6.2.1: data starts at PDO, after the header and its
	 * digest, aligned to (PDA + 1) * 4 as the receiver asked. */
	uint32_t dd = info->has_ddgst ? NVME_TCP_DIGEST_LEN : 0;
	if (pdo < info->hdr_len)
		return bad_field(err, CH_OFF_PDO, "PDO points inside the header");
	if (ctx->rx_pda && pdo % ((ctx->rx_pda + 1u) * 4u) != 0)
		return bad_field(err, CH_OFF_PDO, "PDO not aligned to the negotiated PDA");
	if ((uint64_t)pdo + dd >= plen)
		return bad_field(err, CH_OFF_PDO, "PDO beyond the end of the PDU");
	info->data_off = pdo;
	info->data_len = plen - pdo - dd;

	/* Data limits: in-capsule data (the controller's IOCCSZ), MAXH2CDATA
	 * (§3.6.2.3), and the host's own C2H limit. */
	uint32_t limit = 0;
	if (type == NVME_TCP_PDU_CAPSULE_CMD)
		limit = ctx->max_icd;
	else if (type == NVME_TCP_PDU_H2C_DATA)
		limit = ctx->max_h2c_data;
	else if (type == NVME_TCP_PDU_C2H_DATA)
		limit = ctx->max_c2h_data ? ctx->max_c2h_data : UINT32_MAX;
	if (info->data_len > limit)
		return fail(err, NVME_TCP_FES_DATA_LIMIT_EXCEEDED, 0,
			    type == NVME_TCP_PDU_CAPSULE_CMD ? "in-capsule data larger than allowed"
							     : "data PDU larger than allowed");
	return 0;
}

static int parse_icreq(const uint8_t *p, struct nvme_tcp_err *err)
{
	if (nvme_get_le16(p + offsetof(struct nvme_tcp_icreq, pfv)) != NVME_TCP_PFV_1_0)
		return fail(err, NVME_TCP_FES_UNSUPPORTED_PARAMETER,
			    offsetof(struct nvme_tcp_icreq, pfv), "unsupported PDU format version");
	if (p[offsetof(struct nvme_tcp_icreq, hpda)] > NVME_TCP_PDA_MAX)
		return fail(err, NVME_TCP_FES_UNSUPPORTED_PARAMETER,
			    offsetof(struct nvme_tcp_icreq, hpda), "HPDA above 31");
	return 0;
}

static int parse_icresp(const struct nvme_tcp_rx_ctx *ctx, const uint8_t *p,
			struct nvme_tcp_err *err)
{
	uint8_t dgst = p[offsetof(struct nvme_tcp_icresp, dgst)];
	uint32_t maxh2c = nvme_get_le32(p + offsetof(struct nvme_tcp_icresp, maxh2cdata));
	uint8_t asked = (uint8_t)((ctx->hdgst ? NVME_TCP_DGST_HDR : 0) |
				  (ctx->ddgst ? NVME_TCP_DGST_DATA : 0));

	if (nvme_get_le16(p + offsetof(struct nvme_tcp_icresp, pfv)) != NVME_TCP_PFV_1_0)
		return fail(err, NVME_TCP_FES_UNSUPPORTED_PARAMETER,
			    offsetof(struct nvme_tcp_icresp, pfv), "unsupported PDU format version");
	if (p[offsetof(struct nvme_tcp_icresp, cpda)] > NVME_TCP_PDA_MAX)
		return fail(err, NVME_TCP_FES_UNSUPPORTED_PARAMETER,
			    offsetof(struct nvme_tcp_icresp, cpda), "CPDA above 31");
	/* §3.6.2.3: the controller enables only digests the host asked for. */
	if (dgst & ~asked)
		return bad_field(err, offsetof(struct nvme_tcp_icresp, dgst),
				 "digest enabled that the host did not request");
	if (maxh2c < NVME_TCP_MIN_MAXH2CDATA || maxh2c % 4 != 0)
		return bad_field(err, offsetof(struct nvme_tcp_icresp, maxh2cdata),
				 "MAXH2CDATA below 4096 or not a multiple of 4");
	return 0;
}

int nvme_tcp_parse_psh(const struct nvme_tcp_rx_ctx *ctx, const void *buf, size_t len,
		       const struct nvme_tcp_pdu_info *info, struct nvme_tcp_err *err)
{
	const uint8_t *p = buf;

	if (len < info->hdr_len)
		return 1;

	/* §3.3.3.1: the header digest covers the hlen header bytes. */
	if (info->has_hdgst) {
		uint32_t got = nvme_get_le32(p + info->hlen);
		if (nvme_crc32c(p, info->hlen) != got)
			return fail(err, NVME_TCP_FES_HEADER_DIGEST_ERROR, got, "header digest mismatch");
	}

	switch (info->type) {
	case NVME_TCP_PDU_ICREQ:
		return parse_icreq(p, err);
	case NVME_TCP_PDU_ICRESP:
		return parse_icresp(ctx, p, err);
	case NVME_TCP_PDU_H2C_DATA:
	case NVME_TCP_PDU_C2H_DATA: {
		uint32_t datal = nvme_get_le32(p + offsetof(struct nvme_tcp_data, datal));
		if (datal != info->data_len)
			return bad_field(err, offsetof(struct nvme_tcp_data, datal),
					 "DATAL does not match PLEN");
		/* §3.6.2.9: SUCCESS only together with LAST_PDU. */
		if (info->type == NVME_TCP_PDU_C2H_DATA && (info->flags & NVME_TCP_F_DATA_SUCCESS) &&
		    !(info->flags & NVME_TCP_F_DATA_LAST))
			return bad_field(err, CH_OFF_FLAGS, "SUCCESS without LAST_PDU");
		return 0;
	}
	case NVME_TCP_PDU_R2T:
		if (nvme_get_le32(p + offsetof(struct nvme_tcp_r2t, r2tl)) == 0)
			return bad_field(err, offsetof(struct nvme_tcp_r2t, r2tl), "R2T of zero bytes");
		return 0;
	default:
		return 0;
	}
}

int nvme_tcp_check_data_range(const void *hdr, uint32_t expected_off, uint32_t window_end,
			      struct nvme_tcp_err *err)
{
	const uint8_t *p = hdr;
	uint32_t datao = nvme_get_le32(p + offsetof(struct nvme_tcp_data, datao));
	uint32_t datal = nvme_get_le32(p + offsetof(struct nvme_tcp_data, datal));
	uint64_t end = (uint64_t)datao + datal;

	/* §3.4.4/3.4.5: data of one command arrives in order and inside the
	 * solicited range (R2TO..R2TO+R2TL for H2C, the command's length for C2H). */
	if (datao != expected_off)
		return fail(err, NVME_TCP_FES_DATA_OUT_OF_RANGE, 0, "DATAO not the next expected offset");
	if (end > window_end)
		return fail(err, NVME_TCP_FES_DATA_OUT_OF_RANGE, 0, "data beyond the solicited range");
	if ((p[CH_OFF_FLAGS] & NVME_TCP_F_DATA_LAST) && end != window_end)
		return bad_field(err, CH_OFF_FLAGS, "LAST_PDU before the end of the range");
	return 0;
}

int nvme_tcp_check_ddgst(const struct iovec *iov, int iovcnt, const void *digest)
{
	return nvme_crc32c_iov(iov, iovcnt) == nvme_get_le32(digest) ? 0 : -1;
}

uint16_t nvme_tcp_parse_cmd_sgl(const struct nvme_sqe *sqe, uint32_t icd_len,
				uint32_t max_transfer, bool *in_capsule, uint32_t *length)
{
	const uint8_t *s = (const uint8_t *)sqe;
	const uint8_t *sgl = s + offsetof(struct nvme_sqe, dptr);
	uint8_t type = sgl[offsetof(struct nvme_sgl_desc, type)];
	uint64_t addr = nvme_get_le64(sgl + offsetof(struct nvme_sgl_desc, address));
	uint32_t len = nvme_get_le32(sgl + offsetof(struct nvme_sgl_desc, length));

	if (((s[offsetof(struct nvme_sqe, flags)] >> NVME_SQE_PSDT_SHIFT) & 3u) != NVME_SQE_PSDT_SGL)
		return nvme_status(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD, 1);

	if (type == NVME_SGL_TYPE_BYTE(NVME_SGL_TYPE_DATA_BLOCK, NVME_SGL_SUBTYPE_OFFSET)) {
		if (nvme_opc_data_dir(sqe->opc) == NVME_DATA_CTRLR_TO_HOST)
			return nvme_status(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD, 1);
		if (addr != 0)
			return nvme_status(NVME_SCT_GENERIC, NVME_SC_INVALID_SGL_OFFSET, 1);
		if (len != icd_len)
			return nvme_status(NVME_SCT_GENERIC, NVME_SC_DATA_SGL_LENGTH_INVALID, 1);
		*in_capsule = true;
		*length = len;
		return 0;
	}
	if (type == NVME_SGL_TYPE_BYTE(NVME_SGL_TYPE_TRANSPORT_DATA_BLOCK,
				       NVME_SGL_SUBTYPE_TRANSPORT)) {
		if (icd_len != 0 || len > max_transfer)
			return nvme_status(NVME_SCT_GENERIC, NVME_SC_DATA_SGL_LENGTH_INVALID, 1);
		*in_capsule = false;
		*length = len;
		return 0;
	}
	return nvme_status(NVME_SCT_GENERIC, NVME_SC_SGL_DESCRIPTOR_TYPE_INVALID, 1);
}

const char *nvme_tcp_pdu_type_name(uint8_t type)
{
	switch (type) {
	case NVME_TCP_PDU_ICREQ: return "ICReq";
	case NVME_TCP_PDU_ICRESP: return "ICResp";
	case NVME_TCP_PDU_H2C_TERM_REQ: return "H2CTermReq";
	case NVME_TCP_PDU_C2H_TERM_REQ: return "C2HTermReq";
	case NVME_TCP_PDU_CAPSULE_CMD: return "CapsuleCmd";
	case NVME_TCP_PDU_CAPSULE_RESP: return "CapsuleResp";
	case NVME_TCP_PDU_H2C_DATA: return "H2CData";
	case NVME_TCP_PDU_C2H_DATA: return "C2HData";
	case NVME_TCP_PDU_R2T: return "R2T";
	default: return "unknown";
	}
}

const char *nvme_tcp_fes_name(uint16_t fes)
{
	switch (fes) {
	case NVME_TCP_FES_INVALID_HEADER_FIELD: return "Invalid PDU Header Field";
	case NVME_TCP_FES_PDU_SEQUENCE_ERROR: return "PDU Sequence Error";
	case NVME_TCP_FES_HEADER_DIGEST_ERROR: return "Header Digest Error";
	case NVME_TCP_FES_DATA_OUT_OF_RANGE: return "Data Transfer Out of Range";
	case NVME_TCP_FES_DATA_LIMIT_EXCEEDED: return "Data Transfer Limit Exceeded";
	case NVME_TCP_FES_UNSUPPORTED_PARAMETER: return "Unsupported Parameter";
	default: return "unknown";
	}
}

/* ---- builders ---------------------------------------------------------------- */

/* Writes the common header; plen is filled by finish(). */
static void put_ch(uint8_t *h, uint8_t type, uint8_t flags, uint8_t hlen)
{
	h[CH_OFF_TYPE] = type;
	h[CH_OFF_FLAGS] = flags;
	h[CH_OFF_HLEN] = hlen;
	h[CH_OFF_PDO] = 0;
}

/*
 * Lays out header digest, padding and PDO for a PDU of `hlen` header bytes
 * and `datal` data bytes; the header's own fields are already written.
 * Returns the bytes of header (with digest and padding) to send.
 */
static size_t finish(uint8_t *h, uint8_t hlen, uint32_t datal, bool hdgst, bool ddgst,
		     uint8_t pda)
{
	size_t hdr_len = hlen + (hdgst ? NVME_TCP_DIGEST_LEN : 0);
	size_t pdo = hdr_len;

	if (hdgst)
		h[CH_OFF_FLAGS] |= NVME_TCP_F_HDGST;
	if (datal) {
		size_t align = pda ? (pda + 1u) * 4u : 1;
		pdo = (hdr_len + align - 1) / align * align;
		h[CH_OFF_PDO] = (uint8_t)pdo;
		if (ddgst)
			h[CH_OFF_FLAGS] |= NVME_TCP_F_DDGST;
	}
	nvme_put_le32(h + CH_OFF_PLEN,
		      (uint32_t)(pdo + datal + (datal && ddgst ? NVME_TCP_DIGEST_LEN : 0)));
	/* The digest covers the final header, so it is computed last. */
	if (hdgst)
		nvme_put_le32(h + hlen, nvme_crc32c(h, hlen));
	memset(h + hdr_len, 0, pdo - hdr_len);
	return pdo;
}

size_t nvme_tcp_build_icreq(void *hdr, uint8_t hpda, bool hdgst, bool ddgst, uint32_t maxr2t)
{
	uint8_t *h = hdr;
	memset(h, 0, NVME_TCP_ICREQ_HLEN);
	put_ch(h, NVME_TCP_PDU_ICREQ, 0, NVME_TCP_ICREQ_HLEN);
	nvme_put_le16(h + offsetof(struct nvme_tcp_icreq, pfv), NVME_TCP_PFV_1_0);
	h[offsetof(struct nvme_tcp_icreq, hpda)] = hpda;
	h[offsetof(struct nvme_tcp_icreq, dgst)] =
		(uint8_t)((hdgst ? NVME_TCP_DGST_HDR : 0) | (ddgst ? NVME_TCP_DGST_DATA : 0));
	nvme_put_le32(h + offsetof(struct nvme_tcp_icreq, maxr2t), maxr2t);
	return finish(h, NVME_TCP_ICREQ_HLEN, 0, false, false, 0);
}

size_t nvme_tcp_build_icresp(void *hdr, uint8_t cpda, bool hdgst, bool ddgst,
			     uint32_t maxh2cdata)
{
	uint8_t *h = hdr;
	memset(h, 0, NVME_TCP_ICRESP_HLEN);
	put_ch(h, NVME_TCP_PDU_ICRESP, 0, NVME_TCP_ICRESP_HLEN);
	nvme_put_le16(h + offsetof(struct nvme_tcp_icresp, pfv), NVME_TCP_PFV_1_0);
	h[offsetof(struct nvme_tcp_icresp, cpda)] = cpda;
	h[offsetof(struct nvme_tcp_icresp, dgst)] =
		(uint8_t)((hdgst ? NVME_TCP_DGST_HDR : 0) | (ddgst ? NVME_TCP_DGST_DATA : 0));
	nvme_put_le32(h + offsetof(struct nvme_tcp_icresp, maxh2cdata), maxh2cdata);
	return finish(h, NVME_TCP_ICRESP_HLEN, 0, false, false, 0);
}

size_t nvme_tcp_build_term_req(void *hdr, enum nvme_tcp_pdu_type type, uint16_t fes,
			       uint32_t fei, const void *bad_hdr, size_t bad_hdr_len)
{
	uint8_t *h = hdr;
	size_t n = bad_hdr_len < NVME_TCP_TERM_MAX_DATA ? bad_hdr_len : NVME_TCP_TERM_MAX_DATA;

	memset(h, 0, NVME_TCP_TERM_HLEN);
	put_ch(h, (uint8_t)type, 0, NVME_TCP_TERM_HLEN);
	nvme_put_le16(h + offsetof(struct nvme_tcp_term, fes), fes);
	nvme_put_le32(h + offsetof(struct nvme_tcp_term, fei), fei);
	if (n)
		memcpy(h + NVME_TCP_TERM_HLEN, bad_hdr, n);
	nvme_put_le32(h + CH_OFF_PLEN, (uint32_t)(NVME_TCP_TERM_HLEN + n));
	return NVME_TCP_TERM_HLEN + n;
}

size_t nvme_tcp_build_capsule_cmd(void *hdr, const struct nvme_sqe *sqe, uint32_t icd_len,
				  bool hdgst, bool ddgst, uint8_t pda)
{
	uint8_t *h = hdr;
	put_ch(h, NVME_TCP_PDU_CAPSULE_CMD, 0, NVME_TCP_CMD_HLEN);
	memcpy(h + NVME_TCP_CH_LEN, sqe, sizeof(*sqe));
	return finish(h, NVME_TCP_CMD_HLEN, icd_len, hdgst, ddgst, pda);
}

size_t nvme_tcp_build_capsule_resp(void *hdr, const struct nvme_cqe *cqe, bool hdgst)
{
	uint8_t *h = hdr;
	put_ch(h, NVME_TCP_PDU_CAPSULE_RESP, 0, NVME_TCP_RESP_HLEN);
	memcpy(h + NVME_TCP_CH_LEN, cqe, sizeof(*cqe));
	return finish(h, NVME_TCP_RESP_HLEN, 0, hdgst, false, 0);
}

size_t nvme_tcp_build_data(void *hdr, enum nvme_tcp_pdu_type type, uint16_t cccid,
			   uint16_t ttag, uint32_t datao, uint32_t datal, uint8_t flags,
			   bool hdgst, bool ddgst, uint8_t pda)
{
	uint8_t *h = hdr;
	memset(h, 0, NVME_TCP_DATA_HLEN);
	put_ch(h, (uint8_t)type, flags & (NVME_TCP_F_DATA_LAST | NVME_TCP_F_DATA_SUCCESS),
	       NVME_TCP_DATA_HLEN);
	nvme_put_le16(h + offsetof(struct nvme_tcp_data, cccid), cccid);
	nvme_put_le16(h + offsetof(struct nvme_tcp_data, ttag),
		      type == NVME_TCP_PDU_H2C_DATA ? ttag : 0);
	nvme_put_le32(h + offsetof(struct nvme_tcp_data, datao), datao);
	nvme_put_le32(h + offsetof(struct nvme_tcp_data, datal), datal);
	return finish(h, NVME_TCP_DATA_HLEN, datal, hdgst, ddgst, pda);
}

size_t nvme_tcp_build_r2t(void *hdr, uint16_t cccid, uint16_t ttag, uint32_t r2to,
			  uint32_t r2tl, bool hdgst)
{
	uint8_t *h = hdr;
	memset(h, 0, NVME_TCP_R2T_HLEN);
	put_ch(h, NVME_TCP_PDU_R2T, 0, NVME_TCP_R2T_HLEN);
	nvme_put_le16(h + offsetof(struct nvme_tcp_r2t, cccid), cccid);
	nvme_put_le16(h + offsetof(struct nvme_tcp_r2t, ttag), ttag);
	nvme_put_le32(h + offsetof(struct nvme_tcp_r2t, r2to), r2to);
	nvme_put_le32(h + offsetof(struct nvme_tcp_r2t, r2tl), r2tl);
	return finish(h, NVME_TCP_R2T_HLEN, 0, hdgst, false, 0);
}
