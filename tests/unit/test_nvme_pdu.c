/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * daemon/nvme: CRC32C vectors (both implementations), builder/parser round
 * trips for every PDU, and every malformed header we can name, each refused
 * with the FES and field offset a TermReq must carry.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nvme_tcp.h"

/* ---- CRC32C ------------------------------------------------------------------ */

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static uint32_t crc_with(crc_fn fn, const void *buf, size_t len)
{
	return fn(NVME_CRC32C_INIT, buf, len) ^ 0xffffffffu;
}

static void check_vectors(crc_fn fn)
{
	uint8_t b[32];

	assert_int_equal(crc_with(fn, "123456789", 9), 0xE3069283u);
	assert_int_equal(crc_with(fn, "", 0), 0);
	memset(b, 0, sizeof(b));	/* RFC 3720 §B.4 */
	assert_int_equal(crc_with(fn, b, 32), 0x8A9136AAu);
	memset(b, 0xff, sizeof(b));
	assert_int_equal(crc_with(fn, b, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	assert_int_equal(crc_with(fn, b, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)(31 - i);
	assert_int_equal(crc_with(fn, b, 32), 0x113FDB5Cu);
}

static void test_crc32c_sw_vectors(void **state)
{
	(void)state;
	check_vectors(nvme_crc32c_update_sw);
}

static void test_crc32c_hw_vectors(void **state)
{
	(void)state;
	if (!nvme_crc32c_hw_available())
		skip();
	check_vectors(nvme_crc32c_update_hw);
}

static void test_crc32c_isal_vectors(void **state)
{
	(void)state;
	if (!nvme_crc32c_isal_available())
		skip();
	check_vectors(nvme_crc32c_update_isal);
}

static void test_crc32c_default(void **state)
{
	(void)state;
	assert_int_equal(nvme_crc32c("123456789", 9), 0xE3069283u);
	struct iovec iov[3] = { { (void *)"123", 3 }, { (void *)"", 0 }, { (void *)"456789", 6 } };
	assert_int_equal(nvme_crc32c_iov(iov, 3), 0xE3069283u);
}

/* hw == sw on random buffers of random lengths and alignments, including
 * the three-stream path (>= 12 KiB) and split updates. */
static void test_crc32c_random(void **state)
{
	(void)state;
	const size_t max = 70000;
	uint8_t *buf = malloc(max + 16);
	assert_non_null(buf);
	srand(12345);
	for (size_t i = 0; i < max + 16; i++)
		buf[i] = (uint8_t)rand();
	for (int round = 0; round < 300; round++) {
		size_t off = (size_t)rand() % 16;
		size_t len = round < 40 ? (size_t)round : (size_t)rand() % max;
		if (round % 10 == 0)
			len = 3 * 4096 * (size_t)(1 + rand() % 5) + (size_t)rand() % 9;
		uint32_t sw = nvme_crc32c_update_sw(NVME_CRC32C_INIT, buf + off, len);
		if (nvme_crc32c_hw_available())
			assert_int_equal(nvme_crc32c_update_hw(NVME_CRC32C_INIT, buf + off, len), sw);
		if (nvme_crc32c_isal_available())
			assert_int_equal(nvme_crc32c_update_isal(NVME_CRC32C_INIT, buf + off, len), sw);
		size_t cut = len ? (size_t)rand() % len : 0;
		uint32_t split = nvme_crc32c_update(NVME_CRC32C_INIT, buf + off, cut);
		split = nvme_crc32c_update(split, buf + off + cut, len - cut);
		assert_int_equal(split, sw);
	}
	free(buf);
}

/* ---- helpers ------------------------------------------------------------------ */

static struct nvme_tcp_rx_ctx ctrlr_ctx(bool hdgst, bool ddgst, uint8_t pda)
{
	struct nvme_tcp_rx_ctx c = {
		.role = NVME_TCP_ROLE_CTRLR, .ic_done = true, .hdgst = hdgst, .ddgst = ddgst,
		.rx_pda = pda, .max_h2c_data = 128 * 1024, .max_icd = 8192,
	};
	return c;
}

static struct nvme_tcp_rx_ctx host_ctx(bool hdgst, bool ddgst, uint8_t pda)
{
	struct nvme_tcp_rx_ctx c = {
		.role = NVME_TCP_ROLE_HOST, .ic_done = true, .hdgst = hdgst, .ddgst = ddgst,
		.rx_pda = pda, .max_c2h_data = 0,
	};
	return c;
}

/* Runs steps 1 and 2 over a complete header; returns 0 or -1 (never 1). */
static int parse(const struct nvme_tcp_rx_ctx *ctx, const void *buf, size_t len,
		 struct nvme_tcp_pdu_info *info, struct nvme_tcp_err *err)
{
	memset(err, 0, sizeof(*err));
	int rc = nvme_tcp_parse_ch(ctx, buf, len, info, err);
	if (rc)
		return rc;
	assert_true(info->hdr_len <= len);
	return nvme_tcp_parse_psh(ctx, buf, len, info, err);
}

#define assert_refused(ctx, buf, len, fes_, fei_)                                   \
	do {                                                                        \
		struct nvme_tcp_pdu_info i_;                                        \
		struct nvme_tcp_err e_;                                             \
		assert_int_equal(parse((ctx), (buf), (len), &i_, &e_), -1);         \
		assert_int_equal(e_.fes, (fes_));                                   \
		assert_int_equal(e_.fei, (fei_));                                   \
		assert_non_null(e_.why);                                            \
	} while (0)

/* Recomputes the header digest after a test mutated a header field, so the
 * field check (not the digest) is what fails. */
static void redigest(uint8_t *h)
{
	if (h[1] & NVME_TCP_F_HDGST)
		nvme_put_le32(h + h[2], nvme_crc32c(h, h[2]));
}

static struct nvme_sqe sample_sqe(uint8_t opc, uint16_t cid, uint32_t icd)
{
	struct nvme_sqe s;
	memset(&s, 0, sizeof(s));
	s.opc = opc;
	s.cid = cid;
	s.nsid = 1;
	s.flags = NVME_SQE_PSDT_SGL << NVME_SQE_PSDT_SHIFT;
	s.dptr.sgl1.length = icd;
	s.dptr.sgl1.type = icd ? NVME_SGL_TYPE_BYTE(NVME_SGL_TYPE_DATA_BLOCK, NVME_SGL_SUBTYPE_OFFSET)
			       : NVME_SGL_TYPE_BYTE(NVME_SGL_TYPE_TRANSPORT_DATA_BLOCK,
						    NVME_SGL_SUBTYPE_TRANSPORT);
	s.cdw10 = 0x1234;
	return s;
}

/* ---- round trips ---------------------------------------------------------------- */

static void test_icreq_icresp(void **state)
{
	(void)state;
	uint8_t h[NVME_TCP_HDR_MAX];
	struct nvme_tcp_pdu_info info;
	struct nvme_tcp_err err;
	struct nvme_tcp_rx_ctx c = ctrlr_ctx(false, false, 0);
	c.ic_done = false;

	size_t n = nvme_tcp_build_icreq(h, 3, true, true, 7);
	assert_int_equal(n, 128);
	/* incremental: too short for the common header, then for the rest */
	assert_int_equal(nvme_tcp_parse_ch(&c, h, 7, &info, &err), 1);
	assert_int_equal(nvme_tcp_parse_ch(&c, h, 8, &info, &err), 0);
	assert_int_equal(info.hdr_len, 128);
	assert_int_equal(nvme_tcp_parse_psh(&c, h, 127, &info, &err), 1);
	assert_int_equal(nvme_tcp_parse_psh(&c, h, 128, &info, &err), 0);
	const struct nvme_tcp_icreq *req = (const void *)h;
	assert_int_equal(req->hpda, 3);
	assert_int_equal(req->dgst, NVME_TCP_DGST_HDR | NVME_TCP_DGST_DATA);
	assert_int_equal(nvme_get_le32(&req->maxr2t), 7);

	struct nvme_tcp_rx_ctx hc = host_ctx(true, false, 0);	/* asked for header digest only */
	hc.ic_done = false;
	n = nvme_tcp_build_icresp(h, 0, true, false, 131072);
	assert_int_equal(n, 128);
	assert_int_equal(parse(&hc, h, n, &info, &err), 0);
	assert_int_equal(nvme_get_le32(h + 12), 131072);
	assert_int_equal(info.data_len, 0);
}

static void test_capsule_cmd(void **state)
{
	(void)state;
	for (int variant = 0; variant < 8; variant++) {
		bool hd = variant & 1, dd = variant & 2;
		uint8_t pda = (variant & 4) ? 7 : 0;	/* 32-byte alignment */
		struct nvme_tcp_rx_ctx c = ctrlr_ctx(hd, dd, pda);
		uint8_t h[NVME_TCP_HDR_MAX];
		struct nvme_tcp_pdu_info info;
		struct nvme_tcp_err err;

		struct nvme_sqe s = sample_sqe(NVME_OPC_WRITE, 42, 4096);
		size_t n = nvme_tcp_build_capsule_cmd(h, &s, 4096, hd, dd, pda);
		size_t want = 72 + (hd ? 4 : 0);
		if (pda)
			want = (want + 31) / 32 * 32;
		assert_int_equal(n, want);
		assert_int_equal(parse(&c, h, n, &info, &err), 0);
		assert_int_equal(info.data_off, n);
		assert_int_equal(info.data_len, 4096);
		assert_int_equal(info.has_ddgst, dd);
		assert_memory_equal(h + 8, &s, 64);

		/* no in-capsule data: PDO 0, no DDGSTF, PLEN = header */
		s = sample_sqe(NVME_OPC_READ, 43, 0);
		n = nvme_tcp_build_capsule_cmd(h, &s, 0, hd, dd, pda);
		assert_int_equal(n, 72 + (hd ? 4 : 0));
		assert_int_equal(parse(&c, h, n, &info, &err), 0);
		assert_int_equal(info.data_len, 0);
		assert_int_equal(h[3], 0);
		assert_false(h[1] & NVME_TCP_F_DDGST);
	}
}

static void test_capsule_resp(void **state)
{
	(void)state;
	for (int hd = 0; hd < 2; hd++) {
		struct nvme_tcp_rx_ctx c = host_ctx(hd, false, 0);
		uint8_t h[NVME_TCP_HDR_MAX];
		struct nvme_tcp_pdu_info info;
		struct nvme_tcp_err err;
		struct nvme_cqe q = { .cdw0 = 5, .sqhd = 9, .cid = 42,
				      .status = nvme_status(NVME_SCT_GENERIC, NVME_SC_LBA_OUT_OF_RANGE, 1) };
		size_t n = nvme_tcp_build_capsule_resp(h, &q, hd);
		assert_int_equal(n, 24 + (hd ? 4 : 0));
		assert_int_equal(parse(&c, h, n, &info, &err), 0);
		struct nvme_cqe back;
		memcpy(&back, h + 8, sizeof(back));
		assert_int_equal(back.cid, 42);
		assert_int_equal(nvme_status_sc(back.status), NVME_SC_LBA_OUT_OF_RANGE);
		assert_true(back.status & NVME_STATUS_DNR);
	}
}

static void test_h2c_data(void **state)
{
	(void)state;
	for (int variant = 0; variant < 4; variant++) {
		bool hd = variant & 1, dd = variant & 2;
		struct nvme_tcp_rx_ctx c = ctrlr_ctx(hd, dd, 0);
		uint8_t h[NVME_TCP_HDR_MAX];
		struct nvme_tcp_pdu_info info;
		struct nvme_tcp_err err;
		size_t n = nvme_tcp_build_data(h, NVME_TCP_PDU_H2C_DATA, 7, 3, 8192, 4096,
					       NVME_TCP_F_DATA_LAST, hd, dd, 0);
		assert_int_equal(n, 24 + (hd ? 4 : 0));
		assert_int_equal(parse(&c, h, n, &info, &err), 0);
		assert_int_equal(info.data_len, 4096);
		const struct nvme_tcp_data *d = (const void *)h;
		assert_int_equal(nvme_get_le16(&d->ttag), 3);
		assert_int_equal(nvme_get_le32(&d->datao), 8192);
		/* inside an R2T for 8192..12288 */
		assert_int_equal(nvme_tcp_check_data_range(h, 8192, 12288, &err), 0);
	}
}

static void test_c2h_data_and_r2t(void **state)
{
	(void)state;
	struct nvme_tcp_rx_ctx c = host_ctx(true, true, 0);
	uint8_t h[NVME_TCP_HDR_MAX];
	struct nvme_tcp_pdu_info info;
	struct nvme_tcp_err err;

	size_t n = nvme_tcp_build_data(h, NVME_TCP_PDU_C2H_DATA, 9, 77, 0, 512,
				       NVME_TCP_F_DATA_LAST | NVME_TCP_F_DATA_SUCCESS, true, true, 0);
	assert_int_equal(parse(&c, h, n, &info, &err), 0);
	assert_int_equal(info.data_len, 512);
	assert_int_equal(nvme_get_le16(h + 10), 0);	/* TTAG reserved in C2HData */
	assert_true(info.flags & NVME_TCP_F_DATA_SUCCESS);
	assert_int_equal(nvme_tcp_check_data_range(h, 0, 512, &err), 0);

	n = nvme_tcp_build_r2t(h, 9, 5, 4096, 65536, true);
	assert_int_equal(n, 28);
	assert_int_equal(parse(&c, h, n, &info, &err), 0);
	const struct nvme_tcp_r2t *r = (const void *)h;
	assert_int_equal(nvme_get_le32(&r->r2to), 4096);
	assert_int_equal(nvme_get_le32(&r->r2tl), 65536);
}

static void test_term_req(void **state)
{
	(void)state;
	uint8_t bad[200], h[NVME_TCP_TERM_MAX_LEN];
	struct nvme_tcp_pdu_info info;
	struct nvme_tcp_err err;
	memset(bad, 0xab, sizeof(bad));

	size_t n = nvme_tcp_build_term_req(h, NVME_TCP_PDU_C2H_TERM_REQ,
					   NVME_TCP_FES_INVALID_HEADER_FIELD, 2, bad, sizeof(bad));
	assert_int_equal(n, 152);	/* at most 128 bytes echoed */
	struct nvme_tcp_rx_ctx hc = host_ctx(true, true, 0);
	assert_int_equal(parse(&hc, h, n, &info, &err), 0);
	assert_int_equal(nvme_get_le16(h + 8), NVME_TCP_FES_INVALID_HEADER_FIELD);
	assert_int_equal(nvme_get_le32(h + 10), 2);
	assert_int_equal(info.data_len, 128);

	n = nvme_tcp_build_term_req(h, NVME_TCP_PDU_H2C_TERM_REQ, NVME_TCP_FES_PDU_SEQUENCE_ERROR,
				    0, bad, 24);
	assert_int_equal(n, 48);
	struct nvme_tcp_rx_ctx cc = ctrlr_ctx(false, false, 0);
	cc.ic_done = false;	/* accepted before the IC exchange too */
	assert_int_equal(parse(&cc, h, n, &info, &err), 0);
}

static void test_ddgst(void **state)
{
	(void)state;
	uint8_t data[1000], dig[4];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	struct iovec iov[2] = { { data, 300 }, { data + 300, 700 } };
	nvme_put_le32(dig, nvme_crc32c(data, sizeof(data)));
	assert_int_equal(nvme_tcp_check_ddgst(iov, 2, dig), 0);
	data[999] ^= 1;
	assert_int_equal(nvme_tcp_check_ddgst(iov, 2, dig), -1);
}

/* ---- malformed headers ----------------------------------------------------------- */

static void test_short_and_unknown(void **state)
{
	(void)state;
	struct nvme_tcp_rx_ctx c = ctrlr_ctx(false, false, 0);
	uint8_t h[NVME_TCP_HDR_MAX];
	struct nvme_tcp_pdu_info info;
	struct nvme_tcp_err err;
	struct nvme_sqe s = sample_sqe(NVME_OPC_READ, 1, 0);

	size_t n = nvme_tcp_build_capsule_cmd(h, &s, 0, false, false, 0);
	for (size_t l = 0; l < 8; l++)
		assert_int_equal(nvme_tcp_parse_ch(&c, h, l, &info, &err), 1);
	assert_int_equal(nvme_tcp_parse_ch(&c, h, 8, &info, &err), 0);
	for (size_t l = 8; l < n; l++)
		assert_int_equal(nvme_tcp_parse_psh(&c, h, l, &info, &err), 1);

	/* unknown type (8 is reserved, 10+ undefined) */
	for (int t = 8; t < 256; t += (t < 12 ? 1 : 61)) {
		if (t == NVME_TCP_PDU_R2T)
			continue;
		h[0] = (uint8_t)t;
		assert_refused(&c, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 0);
	}
	/* a controller-to-host type arriving at the controller, and vice versa */
	n = nvme_tcp_build_r2t(h, 1, 1, 0, 4096, false);
	assert_refused(&c, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 0);
	struct nvme_tcp_rx_ctx hc = host_ctx(false, false, 0);
	n = nvme_tcp_build_capsule_cmd(h, &s, 0, false, false, 0);
	assert_refused(&hc, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 0);
}

static void test_sequence(void **state)
{
	(void)state;
	struct nvme_tcp_rx_ctx c = ctrlr_ctx(false, false, 0);
	uint8_t h[NVME_TCP_HDR_MAX];
	struct nvme_sqe s = sample_sqe(NVME_OPC_READ, 1, 0);

	/* ICReq after the exchange */
	size_t n = nvme_tcp_build_icreq(h, 0, false, false, 0);
	assert_refused(&c, h, n, NVME_TCP_FES_PDU_SEQUENCE_ERROR, 0);
	/* a command before it */
	c.ic_done = false;
	n = nvme_tcp_build_capsule_cmd(h, &s, 0, false, false, 0);
	assert_refused(&c, h, n, NVME_TCP_FES_PDU_SEQUENCE_ERROR, 0);
	/* host: a response before ICResp, a second ICResp */
	struct nvme_tcp_rx_ctx hc = host_ctx(false, false, 0);
	hc.ic_done = false;
	struct nvme_cqe q = { .cid = 1 };
	n = nvme_tcp_build_capsule_resp(h, &q, false);
	assert_refused(&hc, h, n, NVME_TCP_FES_PDU_SEQUENCE_ERROR, 0);
	hc.ic_done = true;
	n = nvme_tcp_build_icresp(h, 0, false, false, 65536);
	assert_refused(&hc, h, n, NVME_TCP_FES_PDU_SEQUENCE_ERROR, 0);
}

static void test_bad_hlen(void **state)
{
	(void)state;
	uint8_t h[NVME_TCP_HDR_MAX];
	struct nvme_tcp_rx_ctx c = ctrlr_ctx(false, false, 0);
	struct nvme_tcp_rx_ctx ic = c;
	ic.ic_done = false;
	struct nvme_sqe s = sample_sqe(NVME_OPC_READ, 1, 0);
	size_t n;

	n = nvme_tcp_build_icreq(h, 0, false, false, 0);
	h[2] = 127;
	assert_refused(&ic, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 2);
	n = nvme_tcp_build_capsule_cmd(h, &s, 0, false, false, 0);
	h[2] = 24;
	assert_refused(&c, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 2);
	n = nvme_tcp_build_data(h, NVME_TCP_PDU_H2C_DATA, 1, 1, 0, 512, 0, false, false, 0);
	h[2] = 72;
	assert_refused(&c, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 2);
	n = nvme_tcp_build_term_req(h, NVME_TCP_PDU_H2C_TERM_REQ, 1, 0, NULL, 0);
	h[2] = 8;
	assert_refused(&c, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 2);

	struct nvme_tcp_rx_ctx hc = host_ctx(false, false, 0);
	struct nvme_cqe q = { .cid = 1 };
	n = nvme_tcp_build_capsule_resp(h, &q, false);
	h[2] = 16;
	assert_refused(&hc, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 2);
	n = nvme_tcp_build_r2t(h, 1, 1, 0, 4096, false);
	h[2] = 0;
	assert_refused(&hc, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 2);
}

static void test_bad_plen(void **state)
{
	(void)state;
	uint8_t h[NVME_TCP_HDR_MAX];
	struct nvme_tcp_rx_ctx c = ctrlr_ctx(true, false, 0);
	struct nvme_sqe s = sample_sqe(NVME_OPC_READ, 1, 0);
	size_t n;

	/* plen < hlen, and plen < hlen + header digest */
	n = nvme_tcp_build_capsule_cmd(h, &s, 0, true, false, 0);
	nvme_put_le32(h + 4, 71);
	assert_refused(&c, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 4);
	nvme_put_le32(h + 4, 74);
	assert_refused(&c, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 4);
	/* ICReq must be exactly 128 */
	struct nvme_tcp_rx_ctx ic = ctrlr_ctx(false, false, 0);
	ic.ic_done = false;
	n = nvme_tcp_build_icreq(h, 0, false, false, 0);
	nvme_put_le32(h + 4, 132);
	assert_refused(&ic, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 4);
	/* TermReq longer than 152 */
	n = nvme_tcp_build_term_req(h, NVME_TCP_PDU_H2C_TERM_REQ, 1, 0, NULL, 0);
	nvme_put_le32(h + 4, 153);
	assert_refused(&c, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 4);
	/* a CapsuleResp / R2T carrying data */
	struct nvme_tcp_rx_ctx hc = host_ctx(false, false, 0);
	struct nvme_cqe q = { .cid = 1 };
	n = nvme_tcp_build_capsule_resp(h, &q, false);
	nvme_put_le32(h + 4, 24 + 512);
	assert_refused(&hc, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 4);
	n = nvme_tcp_build_r2t(h, 1, 1, 0, 4096, false);
	nvme_put_le32(h + 4, 0xffffffffu);
	assert_refused(&hc, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 4);
	/* zero-length data PDUs */
	struct nvme_tcp_rx_ctx c0 = ctrlr_ctx(false, false, 0);
	n = nvme_tcp_build_data(h, NVME_TCP_PDU_H2C_DATA, 1, 1, 0, 0, 0, false, false, 0);
	assert_refused(&c0, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 4);
	n = nvme_tcp_build_data(h, NVME_TCP_PDU_C2H_DATA, 1, 0, 0, 0, 0, false, false, 0);
	assert_refused(&hc, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 4);
}

static void test_limits(void **state)
{
	(void)state;
	uint8_t h[NVME_TCP_HDR_MAX];
	struct nvme_tcp_rx_ctx c = ctrlr_ctx(false, true, 0);
	struct nvme_sqe s = sample_sqe(NVME_OPC_WRITE, 1, 8193);
	size_t n;

	n = nvme_tcp_build_capsule_cmd(h, &s, 8193, false, true, 0);	/* max_icd 8192 */
	assert_refused(&c, h, n, NVME_TCP_FES_DATA_LIMIT_EXCEEDED, 0);
	n = nvme_tcp_build_capsule_cmd(h, &s, 8192, false, true, 0);
	struct nvme_tcp_pdu_info info;
	struct nvme_tcp_err err;
	assert_int_equal(parse(&c, h, n, &info, &err), 0);
	n = nvme_tcp_build_data(h, NVME_TCP_PDU_H2C_DATA, 1, 1, 0, 128 * 1024 + 4, 0, false, true, 0);
	assert_refused(&c, h, n, NVME_TCP_FES_DATA_LIMIT_EXCEEDED, 0);
	/* a plen of 4 GiB - 1 is a limit error, never an overflow */
	nvme_put_le32(h + 4, 0xffffffffu);
	assert_refused(&c, h, n, NVME_TCP_FES_DATA_LIMIT_EXCEEDED, 0);
	struct nvme_tcp_rx_ctx hc = host_ctx(false, false, 0);
	hc.max_c2h_data = 4096;
	n = nvme_tcp_build_data(h, NVME_TCP_PDU_C2H_DATA, 1, 0, 0, 8192, 0, false, false, 0);
	assert_refused(&hc, h, n, NVME_TCP_FES_DATA_LIMIT_EXCEEDED, 0);
}

static void test_bad_pdo(void **state)
{
	(void)state;
	uint8_t h[NVME_TCP_HDR_MAX];
	struct nvme_tcp_rx_ctx c = ctrlr_ctx(true, false, 0);
	struct nvme_sqe s = sample_sqe(NVME_OPC_WRITE, 1, 512);
	size_t n;

	/* PDO inside the header, inside the header digest */
	n = nvme_tcp_build_capsule_cmd(h, &s, 512, true, false, 0);
	h[3] = 8;
	redigest(h);
	assert_refused(&c, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 3);
	h[3] = 74;
	redigest(h);
	assert_refused(&c, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 3);
	/* PDO past the end of the PDU */
	n = nvme_tcp_build_data(h, NVME_TCP_PDU_H2C_DATA, 1, 1, 0, 4, 0, true, false, 0);
	h[3] = 32;	/* plen 32 */
	redigest(h);
	assert_refused(&c, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 3);
	/* misaligned for CPDA 7 (32 bytes): sender ignored the alignment */
	struct nvme_tcp_rx_ctx ca = ctrlr_ctx(true, false, 7);
	n = nvme_tcp_build_capsule_cmd(h, &s, 512, true, false, 0);	/* pdo 76 */
	assert_refused(&ca, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 3);
	n = nvme_tcp_build_capsule_cmd(h, &s, 512, true, false, 7);	/* pdo 96 */
	assert_int_equal(h[3], 96);
	struct nvme_tcp_pdu_info info;
	struct nvme_tcp_err err;
	assert_int_equal(parse(&ca, h, n, &info, &err), 0);
}

static void test_digest_flags(void **state)
{
	(void)state;
	uint8_t h[NVME_TCP_HDR_MAX];
	struct nvme_sqe s = sample_sqe(NVME_OPC_WRITE, 1, 512);
	struct nvme_tcp_rx_ctx none = ctrlr_ctx(false, false, 0);
	struct nvme_tcp_rx_ctx both = ctrlr_ctx(true, true, 0);
	size_t n;

	/* header digest present but not negotiated, and missing when it was */
	n = nvme_tcp_build_capsule_cmd(h, &s, 512, true, false, 0);
	assert_refused(&none, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 1);
	n = nvme_tcp_build_capsule_cmd(h, &s, 512, false, true, 0);
	assert_refused(&both, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 1);
	/* data digest present but not negotiated, missing when it was */
	n = nvme_tcp_build_capsule_cmd(h, &s, 512, false, true, 0);
	assert_refused(&none, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 1);
	n = nvme_tcp_build_data(h, NVME_TCP_PDU_H2C_DATA, 1, 1, 0, 512, 0, true, false, 0);
	assert_refused(&both, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 1);
	/* DDGSTF on a PDU without data */
	s = sample_sqe(NVME_OPC_READ, 1, 0);
	n = nvme_tcp_build_capsule_cmd(h, &s, 0, true, true, 0);
	h[1] |= NVME_TCP_F_DDGST;
	redigest(h);
	assert_refused(&both, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 1);
	/* digest flags on an ICReq */
	struct nvme_tcp_rx_ctx ic = none;
	ic.ic_done = false;
	n = nvme_tcp_build_icreq(h, 0, false, false, 0);
	h[1] = NVME_TCP_F_HDGST;
	assert_refused(&ic, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 1);
	/* C2HData SUCCESS without LAST_PDU */
	struct nvme_tcp_rx_ctx hc = host_ctx(false, false, 0);
	n = nvme_tcp_build_data(h, NVME_TCP_PDU_C2H_DATA, 1, 0, 0, 512, NVME_TCP_F_DATA_SUCCESS,
				false, false, 0);
	assert_refused(&hc, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 1);
}

static void test_header_digest_wrong(void **state)
{
	(void)state;
	uint8_t h[NVME_TCP_HDR_MAX];
	struct nvme_tcp_rx_ctx c = ctrlr_ctx(true, true, 0);
	struct nvme_sqe s = sample_sqe(NVME_OPC_WRITE, 1, 512);

	size_t n = nvme_tcp_build_capsule_cmd(h, &s, 512, true, true, 0);
	h[20] ^= 0x40;	/* a bit flip in the SQE */
	uint32_t got = nvme_get_le32(h + 72);
	assert_refused(&c, h, n, NVME_TCP_FES_HEADER_DIGEST_ERROR, got);
	h[20] ^= 0x40;
	h[73] ^= 1;	/* a bit flip in the digest itself */
	assert_refused(&c, h, n, NVME_TCP_FES_HEADER_DIGEST_ERROR, nvme_get_le32(h + 72));

	struct nvme_tcp_rx_ctx hc = host_ctx(true, false, 0);
	n = nvme_tcp_build_r2t(h, 1, 1, 0, 4096, true);
	h[12] ^= 1;
	assert_refused(&hc, h, n, NVME_TCP_FES_HEADER_DIGEST_ERROR, nvme_get_le32(h + 24));
}

static void test_ic_params(void **state)
{
	(void)state;
	uint8_t h[NVME_TCP_HDR_MAX];
	struct nvme_tcp_rx_ctx c = ctrlr_ctx(false, false, 0);
	c.ic_done = false;
	size_t n;

	n = nvme_tcp_build_icreq(h, 0, false, false, 0);
	nvme_put_le16(h + 8, 1);
	assert_refused(&c, h, n, NVME_TCP_FES_UNSUPPORTED_PARAMETER, 8);
	n = nvme_tcp_build_icreq(h, 32, false, false, 0);
	assert_refused(&c, h, n, NVME_TCP_FES_UNSUPPORTED_PARAMETER, 10);

	struct nvme_tcp_rx_ctx hc = host_ctx(false, false, 0);	/* asked for no digests */
	hc.ic_done = false;
	n = nvme_tcp_build_icresp(h, 0, false, false, 65536);
	nvme_put_le16(h + 8, 2);
	assert_refused(&hc, h, n, NVME_TCP_FES_UNSUPPORTED_PARAMETER, 8);
	n = nvme_tcp_build_icresp(h, 40, false, false, 65536);
	assert_refused(&hc, h, n, NVME_TCP_FES_UNSUPPORTED_PARAMETER, 10);
	n = nvme_tcp_build_icresp(h, 0, true, false, 65536);
	assert_refused(&hc, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 11);
	n = nvme_tcp_build_icresp(h, 0, false, false, 1024);
	assert_refused(&hc, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 12);
}

static void test_data_fields(void **state)
{
	(void)state;
	uint8_t h[NVME_TCP_HDR_MAX];
	struct nvme_tcp_rx_ctx c = ctrlr_ctx(false, false, 0);
	struct nvme_tcp_err err;
	size_t n;

	/* DATAL disagreeing with PLEN */
	n = nvme_tcp_build_data(h, NVME_TCP_PDU_H2C_DATA, 1, 1, 0, 512, 0, false, false, 0);
	nvme_put_le32(h + 16, 1024);
	assert_refused(&c, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 16);
	/* R2T of zero bytes */
	struct nvme_tcp_rx_ctx hc = host_ctx(false, false, 0);
	n = nvme_tcp_build_r2t(h, 1, 1, 0, 0, false);
	assert_refused(&hc, h, n, NVME_TCP_FES_INVALID_HEADER_FIELD, 16);

	/* H2CData beyond the R2T window, out of order, wrapping, early LAST */
	n = nvme_tcp_build_data(h, NVME_TCP_PDU_H2C_DATA, 1, 1, 4096, 4096, 0, false, false, 0);
	assert_int_equal(nvme_tcp_check_data_range(h, 4096, 8192, &err), 0);
	assert_int_equal(nvme_tcp_check_data_range(h, 4096, 6000, &err), -1);
	assert_int_equal(err.fes, NVME_TCP_FES_DATA_OUT_OF_RANGE);
	assert_int_equal(nvme_tcp_check_data_range(h, 0, 8192, &err), -1);
	assert_int_equal(err.fes, NVME_TCP_FES_DATA_OUT_OF_RANGE);
	n = nvme_tcp_build_data(h, NVME_TCP_PDU_H2C_DATA, 1, 1, 0xfffff000u, 0x2000, 0, false,
				false, 0);
	assert_int_equal(nvme_tcp_check_data_range(h, 0xfffff000u, 0xffffffffu, &err), -1);
	assert_int_equal(err.fes, NVME_TCP_FES_DATA_OUT_OF_RANGE);
	n = nvme_tcp_build_data(h, NVME_TCP_PDU_H2C_DATA, 1, 1, 0, 4096, NVME_TCP_F_DATA_LAST,
				false, false, 0);
	assert_int_equal(nvme_tcp_check_data_range(h, 0, 8192, &err), -1);
	assert_int_equal(err.fes, NVME_TCP_FES_INVALID_HEADER_FIELD);
	assert_int_equal(err.fei, 1);
	(void)n;
}

static void test_cmd_sgl(void **state)
{
	(void)state;
	bool icd;
	uint32_t len;
	struct nvme_sqe s = sample_sqe(NVME_OPC_WRITE, 1, 4096);

	assert_int_equal(nvme_tcp_parse_cmd_sgl(&s, 4096, 131072, &icd, &len), 0);
	assert_true(icd);
	assert_int_equal(len, 4096);
	/* in-capsule length disagreeing with the data received */
	uint16_t st = nvme_tcp_parse_cmd_sgl(&s, 512, 131072, &icd, &len);
	assert_int_equal(nvme_status_sc(st), NVME_SC_DATA_SGL_LENGTH_INVALID);
	assert_true(st & NVME_STATUS_DNR);
	/* in-capsule offset other than 0 (ICDOFF is 0) */
	s.dptr.sgl1.address = 16;
	st = nvme_tcp_parse_cmd_sgl(&s, 4096, 131072, &icd, &len);
	assert_int_equal(nvme_status_sc(st), NVME_SC_INVALID_SGL_OFFSET);
	/* in-capsule data on a read */
	s = sample_sqe(NVME_OPC_READ, 1, 4096);
	st = nvme_tcp_parse_cmd_sgl(&s, 4096, 131072, &icd, &len);
	assert_int_equal(nvme_status_sc(st), NVME_SC_INVALID_FIELD);
	/* transport data block: R2T/C2HData path, length limited by MDTS */
	s = sample_sqe(NVME_OPC_READ, 1, 0);
	s.dptr.sgl1.length = 131072;
	assert_int_equal(nvme_tcp_parse_cmd_sgl(&s, 0, 131072, &icd, &len), 0);
	assert_false(icd);
	assert_int_equal(len, 131072);
	st = nvme_tcp_parse_cmd_sgl(&s, 0, 65536, &icd, &len);
	assert_int_equal(nvme_status_sc(st), NVME_SC_DATA_SGL_LENGTH_INVALID);
	st = nvme_tcp_parse_cmd_sgl(&s, 512, 131072, &icd, &len);	/* with stray data */
	assert_int_equal(nvme_status_sc(st), NVME_SC_DATA_SGL_LENGTH_INVALID);
	/* PRPs, or an unknown descriptor type */
	s.flags = 0;
	st = nvme_tcp_parse_cmd_sgl(&s, 0, 131072, &icd, &len);
	assert_int_equal(nvme_status_sc(st), NVME_SC_INVALID_FIELD);
	s = sample_sqe(NVME_OPC_READ, 1, 0);
	s.dptr.sgl1.type = NVME_SGL_TYPE_BYTE(NVME_SGL_TYPE_KEYED_DATA_BLOCK, 0);
	st = nvme_tcp_parse_cmd_sgl(&s, 0, 131072, &icd, &len);
	assert_int_equal(nvme_status_sc(st), NVME_SC_SGL_DESCRIPTOR_TYPE_INVALID);
	/* the Fabrics Connect command carries its 1024-byte data in the capsule */
	s = sample_sqe(NVME_OPC_FABRICS, 1, sizeof(struct nvme_connect_data));
	assert_int_equal(nvme_tcp_parse_cmd_sgl(&s, 1024, 131072, &icd, &len), 0);
	assert_true(icd);
}

static void test_nqn(void **state)
{
	(void)state;
	char buf[256];
	static const char *good[] = {
		NVME_DISCOVERY_NQN,
		"nqn.2016-06.io.spdk:cnode1",
		"nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
		"nqn.2024-01.com.example:naïve-ü",
	};
	static const char *bad[] = {
		"", "nqn.", "iqn.2016-06.io.spdk:cnode1", "nqn.2016-13.io.spdk:x",
		"nqn.16-06.io.spdk:x", "nqn.2016-06.:x", "nqn.2016-06.io..spdk", "nqn.2016-06.1io.spdk",
		"nqn.2016-06.io.spdk-:x", "nqn.2016-06.io.spdk:", "nqn.2016-06.io_spdk",
		"nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf",
		"nqn.2014-08.org.nvmexpress:uuid:f81d4fae_7dec-11d0-a765-00a0c91e6bf6",
		"nqn.2016-06.io.spdk:\xc3", "nqn.2016-06.io.spdk:\xc0\x80",
		"nqn.2016-06.io.spdk:\xed\xa0\x80",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", good[i]);
		assert_true(nvme_nqn_valid(buf, sizeof(buf)));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", bad[i]);
		if (nvme_nqn_valid(buf, sizeof(buf)))
			fail_msg("accepted bad NQN %zu: %s", i, bad[i]);
	}
	/* 223 bytes is the limit; an unterminated 256-byte field is refused */
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "nqn.2016-06.io.spdk:", 20);
	buf[223] = 0;
	assert_true(nvme_nqn_valid(buf, sizeof(buf)));
	buf[223] = 'a';
	buf[224] = 0;
	assert_false(nvme_nqn_valid(buf, sizeof(buf)));
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "nqn.2016-06.io.spdk:", 20);
	char *heap = malloc(sizeof(buf));	/* exact size: ASan sees an overread */
	assert_non_null(heap);
	memcpy(heap, buf, sizeof(buf));
	assert_false(nvme_nqn_valid(heap, sizeof(buf)));
	free(heap);
}

/* Every single-byte corruption of every valid header is either accepted or
 * refused with a FES, never read past the buffer (ASan checks that). */
static void test_mutations_bounded(void **state)
{
	(void)state;
	struct nvme_sqe s = sample_sqe(NVME_OPC_WRITE, 1, 512);
	uint8_t good[6][NVME_TCP_HDR_MAX];
	size_t len[6];
	len[0] = nvme_tcp_build_capsule_cmd(good[0], &s, 512, true, true, 0);
	len[1] = nvme_tcp_build_data(good[1], NVME_TCP_PDU_H2C_DATA, 1, 1, 0, 512, 0, true, true, 0);
	len[2] = nvme_tcp_build_term_req(good[2], NVME_TCP_PDU_H2C_TERM_REQ, 1, 0, NULL, 0);
	len[3] = nvme_tcp_build_icreq(good[3], 0, true, true, 0);
	len[4] = nvme_tcp_build_capsule_cmd(good[4], &s, 0, true, true, 0);
	len[5] = nvme_tcp_build_data(good[5], NVME_TCP_PDU_H2C_DATA, 1, 1, 0, 8, 0, true, true, 3);

	for (int k = 0; k < 6; k++) {
		struct nvme_tcp_rx_ctx c = ctrlr_ctx(true, true, 0);
		c.ic_done = k != 3;
		for (size_t pos = 0; pos < len[k]; pos++) {
			for (int v = 0; v < 256; v += 5) {
				/* an exact-size heap copy so ASan sees any overread */
				uint8_t *h = malloc(len[k]);
				assert_non_null(h);
				memcpy(h, good[k], len[k]);
				h[pos] = (uint8_t)v;
				struct nvme_tcp_pdu_info info;
				struct nvme_tcp_err err;
				int rc = nvme_tcp_parse_ch(&c, h, len[k], &info, &err);
				if (rc == 0 && info.hdr_len <= len[k])
					rc = nvme_tcp_parse_psh(&c, h, len[k], &info, &err);
				if (rc == -1)
					assert_in_range(err.fes, 1, 6);
				free(h);
			}
		}
	}
}

static void test_names(void **state)
{
	(void)state;
	char buf[96];
	assert_string_equal(nvme_sc_name(0, NVME_SC_TRANSIENT_TRANSPORT_ERROR, 0),
			    "TRANSIENT_TRANSPORT_ERROR");
	assert_string_equal(nvme_sc_name(1, 0x82, 1), "CONNECT_INVALID_PARAMETERS");
	assert_string_equal(nvme_sc_name(1, 0x82, 0), "ATTEMPTED_WRITE_TO_RO_RANGE");
	assert_string_equal(nvme_sc_name(2, NVME_SC_COMPARE_FAILURE, 0), "COMPARE_FAILURE");
	assert_string_equal(nvme_sc_name(5, 0, 0), "UNKNOWN");
	assert_string_equal(nvme_sct_name(3), "PATH");
	uint16_t st = nvme_status(NVME_SCT_COMMAND_SPECIFIC, NVME_SC_CONNECT_INVALID_HOST, 1);
	assert_int_equal(nvme_status_sct(st), 1);
	assert_int_equal(nvme_status_sc(st), 0x84);
	assert_string_equal(nvme_status_str(st, 1, buf, sizeof(buf)),
			    "1/84 (CONNECT_INVALID_HOST, DNR)");
	assert_string_equal(nvme_tcp_fes_name(3), "Header Digest Error");
	assert_string_equal(nvme_tcp_pdu_type_name(9), "R2T");
	assert_string_equal(nvme_tcp_pdu_type_name(8), "unknown");
	assert_int_equal(nvme_opc_data_dir(NVME_OPC_WRITE), NVME_DATA_HOST_TO_CTRLR);
	assert_int_equal(nvme_opc_data_dir(NVME_OPC_READ), NVME_DATA_CTRLR_TO_HOST);
	assert_int_equal(nvme_get_log_len(0x00ff0002u, 0), 1024);
}

int main(void)
{
	alarm(120);	/* a bug fails the test rather than hanging it */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_sw_vectors),
		cmocka_unit_test(test_crc32c_hw_vectors),
		cmocka_unit_test(test_crc32c_isal_vectors),
		cmocka_unit_test(test_crc32c_default),
		cmocka_unit_test(test_crc32c_random),
		cmocka_unit_test(test_icreq_icresp),
		cmocka_unit_test(test_capsule_cmd),
		cmocka_unit_test(test_capsule_resp),
		cmocka_unit_test(test_h2c_data),
		cmocka_unit_test(test_c2h_data_and_r2t),
		cmocka_unit_test(test_term_req),
		cmocka_unit_test(test_ddgst),
		cmocka_unit_test(test_short_and_unknown),
		cmocka_unit_test(test_sequence),
		cmocka_unit_test(test_bad_hlen),
		cmocka_unit_test(test_bad_plen),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_bad_pdo),
		cmocka_unit_test(test_digest_flags),
		cmocka_unit_test(test_header_digest_wrong),
		cmocka_unit_test(test_ic_params),
		cmocka_unit_test(test_data_fields),
		cmocka_unit_test(test_cmd_sgl),
		cmocka_unit_test(test_nqn),
		cmocka_unit_test(test_mutations_bounded),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests_name("nvme_pdu", tests, NULL, NULL);
}
