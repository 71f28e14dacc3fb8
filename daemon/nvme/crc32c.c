/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78) for NVMe/TCP digests.
 * Hardware: the SSE4.2 crc32 instruction, 8 bytes per step, three
 * independent streams on large buffers to hide its 3-cycle latency.
 * Software: slice-by-8 tables built once (the tables are computed, not
 * pasted, so there is no constant to mistype).
 * ISA-L's crc32_iscsi (carry-less multiply folding) is used instead when the
 * build found it: measured about 3.5x faster than the SSE4.2 code here
 * (bench/crc32c_perf).
 */
#include "config.h"
#include "nvme_tcp.h"

#include <pthread.h>
#ifdef HAVE_ISAL
#include <isa-l/crc.h>
#endif
#include <string.h>

#define CRC32C_POLY 0x82F63B78u

static uint32_t sw_table[8][256];
static pthread_once_t sw_once = PTHREAD_ONCE_INIT;

static void sw_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ ((c & 1u) ? CRC32C_POLY : 0);
		sw_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			sw_table[t][i] = (sw_table[t - 1][i] >> 8) ^
					 sw_table[0][sw_table[t - 1][i] & 0xffu];
}

uint32_t nvme_crc32c_update_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	pthread_once(&sw_once, sw_init);
	while (len && ((uintptr_t)p & 7u)) {
		crc = sw_table[0][(crc ^ *p++) & 0xffu] ^ (crc >> 8);
		len--;
	}
	while (len >= 8) {
		uint32_t lo = nvme_get_le32(p) ^ crc;
		uint32_t hi = nvme_get_le32(p + 4);
		crc = sw_table[7][lo & 0xff] ^ sw_table[6][(lo >> 8) & 0xff] ^
		      sw_table[5][(lo >> 16) & 0xff] ^ sw_table[4][lo >> 24] ^
		      sw_table[3][hi & 0xff] ^ sw_table[2][(hi >> 8) & 0xff] ^
		      sw_table[1][(hi >> 16) & 0xff] ^ sw_table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = sw_table[0][(crc ^ *p++) & 0xffu] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

/* Three-stream block sizes, largest first: a 4 KiB buffer runs as 3 x 1 KiB
 * plus 3 x 256 bytes plus a 256-byte single-stream tail. */
static const size_t hw_blocks[] = { 4096, 1024, 256 };
#define HW_NBLOCKS (sizeof(hw_blocks) / sizeof(hw_blocks[0]))

/*
 * Combining the streams needs "the CRC register after `block` more zero
 * bytes", which is linear in the register: a 4 x 256 table per block size,
 * indexed by the register's bytes. Built once from the 32 single-bit
 * registers, each shifted by feeding zeros through the software CRC.
 */
static uint32_t shift_table[HW_NBLOCKS][4][256];
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

static void shift_init(void)
{
	static const uint8_t zeros[4096];

	for (size_t t = 0; t < HW_NBLOCKS; t++) {
		uint32_t bit[32];
		for (int b = 0; b < 32; b++)
			bit[b] = nvme_crc32c_update_sw(1u << b, zeros, hw_blocks[t]);
		for (int k = 0; k < 4; k++)
			for (uint32_t v = 0; v < 256; v++) {
				uint32_t r = 0;
				for (int b = 0; b < 8; b++)
					if (v & (1u << b))
						r ^= bit[8 * k + b];
				shift_table[t][k][v] = r;
			}
	}
}

static inline uint32_t crc_shift(size_t t, uint32_t crc)
{
	return shift_table[t][0][crc & 0xff] ^ shift_table[t][1][(crc >> 8) & 0xff] ^
	       shift_table[t][2][(crc >> 16) & 0xff] ^ shift_table[t][3][crc >> 24];
}

__attribute__((target("sse4.2"))) uint32_t nvme_crc32c_update_hw(uint32_t crc, const void *buf,
								 size_t len)
{
	const uint8_t *p = buf;
	uint64_t c0 = crc;

	while (len && ((uintptr_t)p & 7u)) {
		c0 = _mm_crc32_u8((uint32_t)c0, *p++);
		len--;
	}
	/* Three interleaved streams hide the instruction's latency;
	 * crc(A|B) = shift(crc(A), |B|) ^ crc_from_0(B). */
	if (len >= 3 * hw_blocks[HW_NBLOCKS - 1])
		pthread_once(&shift_once, shift_init);
	for (size_t t = 0; t < HW_NBLOCKS; t++) {
		size_t blk = hw_blocks[t];
		while (len >= 3 * blk) {
			uint64_t c1 = 0, c2 = 0;
			const uint8_t *p1 = p + blk, *p2 = p + 2 * blk;
			for (size_t i = 0; i < blk; i += 8) {
				uint64_t v0, v1, v2;
				memcpy(&v0, p + i, 8);
				memcpy(&v1, p1 + i, 8);
				memcpy(&v2, p2 + i, 8);
				c0 = _mm_crc32_u64(c0, v0);
				c1 = _mm_crc32_u64(c1, v1);
				c2 = _mm_crc32_u64(c2, v2);
			}
			c0 = crc_shift(t, crc_shift(t, (uint32_t)c0) ^ (uint32_t)c1) ^ (uint32_t)c2;
			p += 3 * blk;
			len -= 3 * blk;
		}
	}
	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c0 = _mm_crc32_u64(c0, v);
		p += 8;
		len -= 8;
	}
	while (len--)
		c0 = _mm_crc32_u8((uint32_t)c0, *p++);
	return (uint32_t)c0;
}

bool nvme_crc32c_hw_available(void)
{
	static int have = -1;	/* benign race: every thread computes the same value */
	int h = __atomic_load_n(&have, __ATOMIC_RELAXED);
	if (h < 0) {
		__builtin_cpu_init();
		h = __builtin_cpu_supports("sse4.2") ? 1 : 0;
		__atomic_store_n(&have, h, __ATOMIC_RELAXED);
	}
	return h == 1;
}
#else
uint32_t nvme_crc32c_update_hw(uint32_t crc, const void *buf, size_t len)
{
	return nvme_crc32c_update_sw(crc, buf, len);
}

bool nvme_crc32c_hw_available(void)
{
	return false;
}
#endif

uint32_t nvme_crc32c_update_isal(uint32_t crc, const void *buf, size_t len)
{
#ifdef HAVE_ISAL
	/* Same convention: takes and returns the running register. Its length
	 * is an int, so huge buffers go in pieces. */
	const uint8_t *p = buf;
	while (len) {
		size_t n = len < (1u << 30) ? len : (1u << 30);
		crc = crc32_iscsi((unsigned char *)(uintptr_t)p, (int)n, crc);
		p += n;
		len -= n;
	}
	return crc;
#else
	return nvme_crc32c_update(crc, buf, len);
#endif
}

bool nvme_crc32c_isal_available(void)
{
#ifdef HAVE_ISAL
	return true;
#else
	return false;
#endif
}

const char *nvme_crc32c_impl_name(void)
{
	if (nvme_crc32c_isal_available())
		return "isa-l";
	return nvme_crc32c_hw_available() ? "sse4.2" : "table";
}

uint32_t nvme_crc32c_update(uint32_t crc, const void *buf, size_t len)
{
#ifdef HAVE_ISAL
	return nvme_crc32c_update_isal(crc, buf, len);
#else
	if (nvme_crc32c_hw_available())
		return nvme_crc32c_update_hw(crc, buf, len);
	return nvme_crc32c_update_sw(crc, buf, len);
#endif
}

uint32_t nvme_crc32c(const void *buf, size_t len)
{
	return nvme_crc32c_update(NVME_CRC32C_INIT, buf, len) ^ 0xffffffffu;
}

uint32_t nvme_crc32c_iov(const struct iovec *iov, int iovcnt)
{
	uint32_t crc = NVME_CRC32C_INIT;
	for (int i = 0; i < iovcnt; i++)
		crc = nvme_crc32c_update(crc, iov[i].iov_base, iov[i].iov_len);
	return crc ^ 0xffffffffu;
}
