/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NVMe/TCP transport (internal to tcp/): transport.c owns listeners
 * and poll-group socket groups, conn.c one connection's state machine.
 *
 * Threads: listeners and the acceptor group live on the app thread; an
 * accepted socket is handed by message to a poll group's thread, where its
 * connection lives until freed. Nothing here takes a lock.
 */
#ifndef DAEMON_NVMF_TCP_H
#define DAEMON_NVMF_TCP_H

#include "nvmf.h"
#include "nvme_tcp.h"

/* MAXH2CDATA we advertise in the ICResp (a multiple of 4, >= 4096). */
#define NVMF_TCP_MAX_H2C_DATA (128u * 1024u)
/* In-capsule data the admin queue takes whatever in_capsule_data_size says:
 * Linux hosts send admin commands with up to 8 KiB in the capsule (SPDK
 * accepts the same). */
#define NVMF_TCP_ADMIN_ICD 8192u
/* Largest C2HData PDU we send (we also split at io_unit_size). */
#define NVMF_TCP_MAX_C2H_DATA (128u * 1024u)

struct nvmf_tcp_listener {
	struct nvmf_listen_addr addr;
	struct reactor_sock *sock;
	struct nvmf_tcp_transport *tt;
	TAILQ_ENTRY(nvmf_tcp_listener) link;
};

struct nvmf_tcp_transport {
	struct nvmf_transport base;	/* first: the core sees this */
	struct reactor_sock_group *acceptor;	/* app thread */
	TAILQ_HEAD(, nvmf_tcp_listener) listeners;
	uint32_t max_depth;		/* max(max_queue_depth, max_aq_depth) */
	uint32_t buf_size;		/* data buffer per request: max(max_io_size, admin_icd) */
	uint32_t admin_icd;		/* max(in_capsule_data_size, NVMF_TCP_ADMIN_ICD) */
	uint32_t c2h_chunk;		/* bytes per C2HData PDU */
	uint32_t c2h_max_pdus;		/* C2HData PDUs per request at most */
};

/* One poll group's share of the transport (pg->transport_ctx). */
struct nvmf_tcp_pg {
	struct nvmf_tcp_transport *tt;
	struct nvmf_poll_group *pg;
	struct reactor_sock_group *group;
	uint32_t num_conns;
};

extern const struct nvmf_transport_ops nvmf_tcp_ops;

/* conn.c: make a connection for @p sock (in no group) on the current
 * thread, which is @p pg's. Takes the socket in every case. */
void nvmf_tcp_conn_create(struct nvmf_tcp_transport *tt, struct nvmf_poll_group *pg,
			  struct reactor_sock *sock, const struct nvmf_listen_addr *listen_addr);
void nvmf_tcp_req_complete(struct nvmf_request *req);
void nvmf_tcp_qpair_disconnect(struct nvmf_qpair *qpair);

#endif
