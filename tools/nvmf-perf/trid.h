/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SPDK's transport ID string, as spdk_nvme_perf -r takes it:
 *   'trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:4420 subnqn:nqn...'
 * Keys are case-insensitive, pairs are separated by spaces, a key and its
 * value by ':' or '=' (the first one: an NQN contains ':').
 */
#ifndef NVMF_PERF_TRID_H
#define NVMF_PERF_TRID_H

#include <stddef.h>
#include <stdint.h>

struct perf_trid {
	char trtype[16];
	char adrfam[8];
	char traddr[64];
	uint16_t port;
	char subnqn[256];
};

/* Returns 0, or -1 with a message naming the bad part in err. Defaults:
 * adrfam IPv4, trsvcid 4420; trtype must be TCP, traddr and subnqn given. */
int perf_trid_parse(const char *text, struct perf_trid *trid, char *err, size_t errlen);

#endif
