/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nvmf-perf's shared state: the run's configuration, what the admin queue
 * learned about the controller, and the per-connection results. Threads:
 * main.c and admin.c run on the app thread; each worker (io.c) runs on its
 * own core and owns its connections; results are read by the app thread
 * only after the worker said it is done (a message orders the accesses).
 */
#ifndef NVMF_PERF_H
#define NVMF_PERF_H

#include <reactor.h>
#include <stdbool.h>
#include <stdint.h>

#include "hist.h"
#include "qpair.h"
#include "trid.h"

enum perf_pattern { PAT_READ, PAT_WRITE, PAT_RANDREAD, PAT_RANDWRITE, PAT_RANDRW, PAT_RW };

struct perf_config {
	struct perf_trid trid;
	char hostnqn[256];
	uint8_t hostid[16];
	uint32_t qd;
	uint32_t io_size;
	enum perf_pattern pattern;
	bool random;
	uint32_t read_pct;	/* 0..100 */
	uint32_t seconds;
	uint32_t num_conns;	/* 0: one per core */
	uint32_t nsid;
	uint32_t kato_ms;
	bool hdgst, ddgst;
	const char *cpumask;
};

/* What the admin queue learned. */
struct perf_ctrlr {
	uint16_t cntlid;
	uint32_t mqes;		/* I/O queue entries the controller allows (CAP.MQES + 1) */
	uint32_t icd_limit;	/* in-capsule data bytes on I/O queues ((IOCCSZ - 4) * 16) */
	uint32_t max_xfer;	/* MDTS in bytes, 0: no limit */
	uint32_t block_size;
	uint64_t num_blocks;
	uint32_t io_queues;	/* granted by Set Features Number of Queues */
	char mn[41], sn[21];
};

struct perf_worker;

/* One I/O queue pair and its results. */
struct perf_conn {
	uint32_t index;		/* 0.. */
	uint16_t qid;		/* index + 1 */
	uint32_t core;
	struct perf_worker *w;
	struct hq *q;
	bool connected;
	bool done;
	uint64_t rng;
	uint64_t next_lba;	/* sequential patterns */
	uint64_t ios, bytes;
	uint64_t start_ticks, end_ticks;
	struct hist hist;
};

extern struct perf_config g_cfg;
extern struct perf_ctrlr g_ctrlr;

/* fabrics.c: SQEs of Fabrics commands. */
void perf_connect_sqe(struct nvme_sqe *sqe, uint16_t qid, uint16_t sqsize, uint32_t kato_ms,
		      bool disable_sqfc);
void perf_connect_data(void *buf, uint16_t cntlid);
void perf_property_sqe(struct nvme_sqe *sqe, bool set, uint32_t ofst, bool eight_bytes,
		       uint64_t value);
/* Prints "what: SCT/SC (name)" for a failed command. */
void perf_print_status(const char *who, const char *what, uint16_t status, bool fabrics);

/* admin.c: bring the controller up; cb(rc) on the app thread when ready or failed. */
void perf_admin_start(struct reactor_sock_group *group, void (*cb)(int rc));
/* Tear the admin queue down (after the I/O queues are gone). */
void perf_admin_stop(void);

/* io.c */
int perf_workers_create(struct perf_conn *conns, uint32_t nconns);
/* Connect every I/O queue; ready_cb(rc) on the app thread when all are up or one failed. */
void perf_workers_connect(void (*ready_cb)(int rc));
/* Run the workload until end_ticks; done_cb(rc) on the app thread when every queue has drained. */
void perf_workers_run(uint64_t end_ticks, void (*done_cb)(int rc));
/* Ask the workers to stop submitting now (SIGINT). Any thread. */
void perf_workers_stop_early(void);
/* Close every I/O queue and end the worker threads; cb() on the app thread. */
void perf_workers_destroy(void (*cb)(void));
/* An error on any thread: the app thread starts shutting down with exit code 1. */
void perf_fail(void);

/* report.c */
void perf_report(const struct perf_conn *conns, uint32_t nconns);

#endif
