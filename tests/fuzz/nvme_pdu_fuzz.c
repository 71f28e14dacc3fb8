/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target over daemon/nvme: the NVMe/TCP header validator (both
 * roles, every negotiated combination picked by the first 4 input bytes),
 * the data-range, SGL and data-digest checks on what it accepts, and the
 * NQN validator. Every refusal must carry a defined FES; the input is
 * copied to an exact-size heap buffer so ASan sees any overread.
 * Run by tests/fuzz/run-nvme-fuzz.sh (make check-fuzz).
 */
#include <stdlib.h>
#include <string.h>
#include "nvme_tcp.h"
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n < 4) return 0;
	struct nvme_tcp_rx_ctx c = {
		.role = d[0] & 1 ? NVME_TCP_ROLE_HOST : NVME_TCP_ROLE_CTRLR,
		.ic_done = d[0] & 2, .hdgst = d[0] & 4, .ddgst = d[0] & 8,
		.rx_pda = d[1] & 31, .max_h2c_data = 65536, .max_icd = d[2] * 64u,
		.max_c2h_data = d[3] * 256u,
	};
	d += 4; n -= 4;
	uint8_t *b = malloc(n ? n : 1);
	if (!b)
		return 0;
	memcpy(b, d, n);
	struct nvme_tcp_pdu_info info; struct nvme_tcp_err err;
	int rc = nvme_tcp_parse_ch(&c, b, n, &info, &err);
	if (rc == 0 && info.hdr_len <= n) {
		rc = nvme_tcp_parse_psh(&c, b, n, &info, &err);
		if (rc == 0 && (info.type == NVME_TCP_PDU_H2C_DATA || info.type == NVME_TCP_PDU_C2H_DATA))
			nvme_tcp_check_data_range(b, 0, 131072, &err);
		if (rc == 0 && info.type == NVME_TCP_PDU_CAPSULE_CMD) {
			bool icd; uint32_t len;
			nvme_tcp_parse_cmd_sgl((const struct nvme_sqe *)(b + 8), info.data_len, 131072, &icd, &len);
		}
		if (rc == 0 && info.data_off + info.data_len <= n) {
			struct iovec iov = { b + info.data_off, info.data_len };
			uint8_t dg[4] = {0};
			nvme_tcp_check_ddgst(&iov, 1, dg);
		}
	}
	if (rc == -1 && (err.fes < 1 || err.fes > 6)) abort();
	nvme_nqn_valid((const char *)b, n);
	free(b);
	return 0;
}
