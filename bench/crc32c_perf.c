/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CRC32C throughput of daemon/nvme's implementations (ISA-L when built with
 * it, SSE4.2, the slice-by-8 table) on 4 KiB and 128 KiB buffers, in GB/s
 * (10^9 bytes/s). The digests use the first one available.
 * Usage: crc32c_perf [-t seconds-per-case]   (default 0.5)
 * Output: "crc32c_perf: impl=hw size=4096 gbps=..." one line per case.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nvme_tcp.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double measure(crc_fn fn, const uint8_t *buf, size_t size, double secs, uint32_t *sink)
{
	uint64_t bytes = 0;
	uint32_t crc = NVME_CRC32C_INIT;
	double t0 = now(), t;
	do {
		for (int i = 0; i < 64; i++)
			crc = fn(crc, buf, size);
		bytes += 64 * (uint64_t)size;
		t = now();
	} while (t - t0 < secs);
	*sink ^= crc;
	return (double)bytes / (t - t0) / 1e9;
}

int main(int argc, char **argv)
{
	double secs = 0.5;
	int opt;
	while ((opt = getopt(argc, argv, "t:h")) != -1) {
		if (opt == 't' && atof(optarg) > 0) {
			secs = atof(optarg);
		} else {
			fprintf(stderr, "usage: %s [-t seconds-per-case]\n", argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	alarm((unsigned)(secs * 8) + 10);	/* a watchdog: never hang */

	static const size_t sizes[] = { 4096, 128 * 1024 };
	uint8_t *buf = aligned_alloc(64, 128 * 1024);
	if (!buf)
		return 1;
	for (size_t i = 0; i < 128 * 1024; i++)
		buf[i] = (uint8_t)(i * 2654435761u >> 24);

	uint32_t sink = 0;
	printf("crc32c_perf: default=%s\n", nvme_crc32c_impl_name());
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		if (nvme_crc32c_isal_available())
			printf("crc32c_perf: impl=isal size=%zu gbps=%.2f\n", sizes[s],
			       measure(nvme_crc32c_update_isal, buf, sizes[s], secs, &sink));
		if (nvme_crc32c_hw_available())
			printf("crc32c_perf: impl=hw size=%zu gbps=%.2f\n", sizes[s],
			       measure(nvme_crc32c_update_hw, buf, sizes[s], secs, &sink));
		else
			printf("crc32c_perf: impl=hw size=%zu unavailable\n", sizes[s]);
		printf("crc32c_perf: impl=sw size=%zu gbps=%.2f\n", sizes[s],
		       measure(nvme_crc32c_update_sw, buf, sizes[s], secs, &sink));
	}
	free(buf);
	return sink == 0x12345678u ? 1 : 0;	/* keeps the work observable */
}
