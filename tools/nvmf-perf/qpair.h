/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One NVMe/TCP host queue pair (one TCP connection) on a libreactor socket
 * group: TCP connect, the ICReq/ICResp exchange, then commands with their
 * data (in-capsule, R2T/H2CData, C2HData) and completions. Everything on
 * the group's thread; nothing is allocated per command (slots, headers,
 * send requests and data buffers are made when the queue is created).
 * The protocol itself (PDU layout, validation, digests) is daemon/nvme's.
 */
#ifndef NVMF_PERF_QPAIR_H
#define NVMF_PERF_QPAIR_H

#include <reactor.h>
#include <stdbool.h>
#include <stdint.h>

#include "nvme_tcp.h"

struct hq;
struct hq_cmd;

enum hq_dir {
	HQ_DIR_NONE,
	HQ_DIR_WRITE,	/* host to controller */
	HQ_DIR_READ,	/* controller to host */
};

/* A command's completion; @p cqe->status is the NVMe status (0: success). */
typedef void (*hq_cmd_cb)(void *arg, struct hq_cmd *cmd, const struct nvme_cqe *cqe);
/* The connection is up (status 0, after ICResp) or has failed (negative
 * errno; the reason was printed). Runs from inside the queue's callbacks:
 * do not destroy the queue there, send yourself a message. After a
 * failure, commands in flight never complete. */
typedef void (*hq_event_cb)(void *arg, struct hq *q, int status);

struct hq_opts {
	const char *name;		/* in messages: "admin queue", "qpair 2" */
	const char *addr;
	uint16_t port;
	uint32_t depth;			/* command slots */
	uint32_t max_data;		/* largest transfer of one command, bytes */
	uint32_t icd_limit;		/* in-capsule data allowed, bytes (0: none) */
	bool hdgst, ddgst;		/* digests to ask for */
	struct reactor_sock_group *group;	/* on the current thread */
	hq_event_cb on_event;
	void *event_arg;
};

struct hq_cmd {
	void *buf;			/* opts.max_data bytes, 4 KiB aligned, for the data */
	uint64_t submit_ticks;
	uint64_t user;			/* caller's (e.g. the LBA) */
	/* internal */
	struct hq *q;
	struct nvme_sqe sqe;
	struct nvme_cqe cqe;
	enum hq_dir dir;
	uint32_t len;
	uint32_t c2h_next;		/* next C2HData offset expected */
	uint32_t h2c_next;		/* next R2T offset expected */
	uint32_t sends;			/* send requests not yet completed */
	bool in_use, resp_done;
	hq_cmd_cb cb;
	void *cb_arg;
	struct hq_tx *tx;		/* [0]: the capsule; the rest: H2CData */
	uint32_t ntx;
};

/* Start connecting; @p o->on_event reports the outcome. NULL with a message
 * on stderr when the resources cannot be had. On the group's thread. */
struct hq *hq_create(const struct hq_opts *o);
/* Close the connection (outstanding commands are dropped without
 * callbacks) and free everything. NULL is ignored. */
void hq_destroy(struct hq **q);
/* A free command slot, or NULL when @p q has depth commands in flight. */
struct hq_cmd *hq_cmd_get(struct hq *q);
/*
 * Send @p cmd with @p sqe (CID and SGL are filled in here) moving @p len
 * bytes of cmd->buf in direction @p dir; @p cb runs once on completion.
 * Host data goes in the capsule when it fits the in-capsule limit, else on
 * R2T. Returns 0 or a negative errno (the slot is then free again).
 */
int hq_submit(struct hq_cmd *cmd, const struct nvme_sqe *sqe, enum hq_dir dir, uint32_t len,
	      hq_cmd_cb cb, void *cb_arg);
/* After ICResp: the peer's limits. */
uint32_t hq_maxh2cdata(const struct hq *q);
bool hq_hdgst(const struct hq *q);
bool hq_ddgst(const struct hq *q);
uint32_t hq_outstanding(const struct hq *q);
/* Change the in-capsule limit (the admin queue learns IOCCSZ later). */
void hq_set_icd_limit(struct hq *q, uint32_t icd_limit);
const char *hq_name(const struct hq *q);

#endif
