/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The admin queue: ICReq, Connect, CAP, CC.EN = 1, wait for CSTS.RDY,
 * Identify Controller and Namespace, Set Features Number of Queues; then
 * Keep Alive every KATO/2 until the run ends. One step per completion,
 * all on the app thread.
 */
#include "perf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ADMIN_DEPTH 8
#define ADMIN_SQSIZE 31
#define ADMIN_ICD 8192		/* NVMe/TCP: admin queue in-capsule data size */
#define RDY_POLL_US 1000

static struct {
	struct hq *q;
	struct reactor_sock_group *group;
	void (*cb)(int rc);
	bool done;		/* cb has run */
	uint64_t rdy_deadline;
	struct reactor_poller *rdy_poller;
	struct reactor_poller *ka_poller;
	bool ka_in_flight;
} g_admin;

static void step_connect(void);

static bool ok(const struct nvme_cqe *cqe)
{
	return nvme_status_sc(cqe->status) == 0 && nvme_status_sct(cqe->status) == 0;
}

static void admin_done(int rc)
{
	if (g_admin.done) {
		if (rc)
			perf_fail();
		return;
	}
	g_admin.done = true;
	g_admin.cb(rc);
}

static void admin_fail(const char *what, const struct nvme_cqe *cqe, bool fabrics)
{
	perf_print_status("admin queue", what, cqe->status, fabrics);
	admin_done(-EIO);
}

static bool submit(const struct nvme_sqe *sqe, enum hq_dir dir, uint32_t len, const void *data,
		   hq_cmd_cb cb, const char *what)
{
	struct hq_cmd *cmd = hq_cmd_get(g_admin.q);
	int rc;

	if (!cmd) {
		fprintf(stderr, "nvmf-perf: admin queue: no free slot for %s\n", what);
		admin_done(-EBUSY);
		return false;
	}
	if (data)
		memcpy(cmd->buf, data, len);
	rc = hq_submit(cmd, sqe, dir, len, cb, NULL);
	if (rc < 0) {
		fprintf(stderr, "nvmf-perf: admin queue: cannot send %s: %s\n", what, strerror(-rc));
		admin_done(rc);
		return false;
	}
	return true;
}

/* ---- keep alive ------------------------------------------------------------------- */

static void ka_done(void *arg, struct hq_cmd *cmd, const struct nvme_cqe *cqe)
{
	(void)arg;
	(void)cmd;
	g_admin.ka_in_flight = false;
	if (!ok(cqe))
		admin_fail("Keep Alive", cqe, false);
}

static int ka_poll(void *arg)
{
	struct nvme_sqe sqe;

	(void)arg;
	if (g_admin.ka_in_flight || !g_admin.q)
		return REACTOR_POLLER_IDLE;
	memset(&sqe, 0, sizeof(sqe));
	sqe.opc = NVME_OPC_KEEP_ALIVE;
	g_admin.ka_in_flight = submit(&sqe, HQ_DIR_NONE, 0, NULL, ka_done, "Keep Alive");
	return REACTOR_POLLER_BUSY;
}

/* ---- bring-up, in order ------------------------------------------------------------ */

static void queues_done(void *arg, struct hq_cmd *cmd, const struct nvme_cqe *cqe)
{
	(void)arg;
	(void)cmd;
	if (!ok(cqe)) {
		admin_fail("Set Features (Number of Queues)", cqe, false);
		return;
	}
	uint32_t nsq = (cqe->cdw0 & 0xffff) + 1, ncq = (cqe->cdw0 >> 16) + 1;
	g_ctrlr.io_queues = nsq < ncq ? nsq : ncq;
	if (g_cfg.kato_ms) {
		g_admin.ka_poller = reactor_poller_register_named(ka_poll, NULL,
								  (uint64_t)g_cfg.kato_ms * 1000 / 2,
								  "nvmf_perf_keep_alive");
		if (!g_admin.ka_poller) {
			fprintf(stderr, "nvmf-perf: cannot start the keep-alive poller\n");
			admin_done(-ENOMEM);
			return;
		}
	}
	admin_done(0);
}

static void step_queues(void)
{
	struct nvme_sqe sqe;
	uint32_t n = g_cfg.num_conns - 1;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opc = NVME_OPC_SET_FEATURES;
	sqe.cdw10 = NVME_FEAT_NUMBER_OF_QUEUES;
	sqe.cdw11 = n | (n << 16);
	submit(&sqe, HQ_DIR_NONE, 0, NULL, queues_done, "Set Features (Number of Queues)");
}

static void id_ns_done(void *arg, struct hq_cmd *cmd, const struct nvme_cqe *cqe)
{
	const struct nvme_id_ns *ns = cmd->buf;

	(void)arg;
	if (!ok(cqe)) {
		admin_fail("Identify Namespace", cqe, false);
		return;
	}
	if (ns->nsze == 0) {
		fprintf(stderr, "nvmf-perf: namespace %u of %s is not active\n", g_cfg.nsid,
			g_cfg.trid.subnqn);
		admin_done(-ENODEV);
		return;
	}
	unsigned lbads = ns->lbaf[ns->flbas & 0xf].lbads;
	if (lbads < 9 || lbads > 16) {
		fprintf(stderr, "nvmf-perf: namespace %u: block size 2^%u not supported\n", g_cfg.nsid,
			lbads);
		admin_done(-ENOTSUP);
		return;
	}
	g_ctrlr.block_size = 1u << lbads;
	g_ctrlr.num_blocks = ns->nsze;
	step_queues();
}

static void step_id_ns(void)
{
	struct nvme_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opc = NVME_OPC_IDENTIFY;
	sqe.nsid = g_cfg.nsid;
	sqe.cdw10 = NVME_CNS_NS;
	submit(&sqe, HQ_DIR_READ, 4096, NULL, id_ns_done, "Identify Namespace");
}

static void copy_trimmed(char *dst, const char *src, size_t n)
{
	memcpy(dst, src, n);
	dst[n] = '\0';
	while (n && dst[n - 1] == ' ')
		dst[--n] = '\0';
}

static void id_ctrlr_done(void *arg, struct hq_cmd *cmd, const struct nvme_cqe *cqe)
{
	const struct nvme_id_ctrlr *id = cmd->buf;

	(void)arg;
	if (!ok(cqe)) {
		admin_fail("Identify Controller", cqe, false);
		return;
	}
	copy_trimmed(g_ctrlr.mn, id->mn, sizeof(id->mn));
	copy_trimmed(g_ctrlr.sn, id->sn, sizeof(id->sn));
	/* IOCCSZ counts 16-byte units of the whole capsule: the SQE is 4 of them. */
	g_ctrlr.icd_limit = id->ioccsz > 4 ? (id->ioccsz - 4) * 16 : 0;
	g_ctrlr.max_xfer = id->mdts ? 4096u << (id->mdts > 18 ? 18 : id->mdts) : 0;
	if (id->cntrltype == NVME_CNTRLTYPE_DISCOVERY) {
		fprintf(stderr, "nvmf-perf: %s is a discovery controller; give an NVM subsystem\n",
			g_cfg.trid.subnqn);
		admin_done(-EINVAL);
		return;
	}
	step_id_ns();
}

static void step_id_ctrlr(void)
{
	struct nvme_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opc = NVME_OPC_IDENTIFY;
	sqe.cdw10 = NVME_CNS_CTRLR;
	submit(&sqe, HQ_DIR_READ, 4096, NULL, id_ctrlr_done, "Identify Controller");
}

static void csts_done(void *arg, struct hq_cmd *cmd, const struct nvme_cqe *cqe)
{
	(void)arg;
	(void)cmd;
	if (!ok(cqe)) {
		admin_fail("Property Get CSTS", cqe, true);
		return;
	}
	if (cqe->cdw0 & NVME_CSTS_CFS) {
		fprintf(stderr, "nvmf-perf: controller fatal status (CSTS.CFS) after CC.EN = 1\n");
		admin_done(-EIO);
		return;
	}
	if (cqe->cdw0 & NVME_CSTS_RDY) {
		reactor_poller_unregister(&g_admin.rdy_poller);
		step_id_ctrlr();
		return;
	}
	if (reactor_get_ticks() > g_admin.rdy_deadline) {
		reactor_poller_unregister(&g_admin.rdy_poller);
		fprintf(stderr, "nvmf-perf: controller not ready (CSTS.RDY = 0) within CAP.TO\n");
		admin_done(-ETIMEDOUT);
		return;
	}
	reactor_poller_resume(g_admin.rdy_poller);
}

static int rdy_poll(void *arg)
{
	struct nvme_sqe sqe;

	(void)arg;
	reactor_poller_pause(g_admin.rdy_poller);
	perf_property_sqe(&sqe, false, NVME_PROP_CSTS, false, 0);
	submit(&sqe, HQ_DIR_NONE, 0, NULL, csts_done, "Property Get CSTS");
	return REACTOR_POLLER_BUSY;
}

static void cc_done(void *arg, struct hq_cmd *cmd, const struct nvme_cqe *cqe)
{
	(void)arg;
	(void)cmd;
	if (!ok(cqe)) {
		admin_fail("Property Set CC.EN", cqe, true);
		return;
	}
	g_admin.rdy_poller = reactor_poller_register_named(rdy_poll, NULL, RDY_POLL_US,
							   "nvmf_perf_wait_rdy");
	if (!g_admin.rdy_poller) {
		fprintf(stderr, "nvmf-perf: cannot start the CSTS.RDY poller\n");
		admin_done(-ENOMEM);
	}
}

static void cap_done(void *arg, struct hq_cmd *cmd, const struct nvme_cqe *cqe)
{
	struct nvme_sqe sqe;

	(void)arg;
	(void)cmd;
	if (!ok(cqe)) {
		admin_fail("Property Get CAP", cqe, true);
		return;
	}
	uint64_t cap = cqe->cdw0 | ((uint64_t)cqe->cdw1 << 32);
	uint64_t to_ms = ((cap >> 24) & 0xff) * 500;
	g_ctrlr.mqes = (uint32_t)(cap & 0xffff) + 1;
	g_admin.rdy_deadline = reactor_get_ticks() +
			       (to_ms ? to_ms : 5000) * reactor_get_ticks_hz() / 1000;
	/* EN, IOSQES = 6 (64-byte SQEs), IOCQES = 4 (16-byte CQEs). */
	perf_property_sqe(&sqe, true, NVME_PROP_CC, false, NVME_CC_EN | (6u << 16) | (4u << 20));
	submit(&sqe, HQ_DIR_NONE, 0, NULL, cc_done, "Property Set CC");
}

static void connect_done(void *arg, struct hq_cmd *cmd, const struct nvme_cqe *cqe)
{
	struct nvme_sqe sqe;

	(void)arg;
	(void)cmd;
	if (!ok(cqe)) {
		admin_fail("Connect (admin queue)", cqe, true);
		if (nvme_status_sct(cqe->status) == NVME_SCT_COMMAND_SPECIFIC &&
		    nvme_status_sc(cqe->status) == NVME_SC_CONNECT_INVALID_PARAMETERS)
			fprintf(stderr, "nvmf-perf: invalid parameter: %s at byte %u\n",
				(cqe->cdw0 >> 16) & NVME_CONNECT_IATTR_DATA ? "Connect data"
									   : "Connect command",
				cqe->cdw0 & 0xffff);
		return;
	}
	g_ctrlr.cntlid = (uint16_t)(cqe->cdw0 & 0xffff);
	perf_property_sqe(&sqe, false, NVME_PROP_CAP, true, 0);
	submit(&sqe, HQ_DIR_NONE, 0, NULL, cap_done, "Property Get CAP");
}

static void step_connect(void)
{
	struct nvme_sqe sqe;
	uint8_t data[sizeof(struct nvme_connect_data)];

	perf_connect_sqe(&sqe, 0, ADMIN_SQSIZE, g_cfg.kato_ms, false);
	perf_connect_data(data, NVME_CNTLID_DYNAMIC);
	submit(&sqe, HQ_DIR_WRITE, sizeof(data), data, connect_done, "Connect (admin queue)");
}

static void on_event(void *arg, struct hq *q, int status)
{
	(void)arg;
	(void)q;
	if (status == 0)
		step_connect();
	else
		admin_done(status);
}

void perf_admin_start(struct reactor_sock_group *group, void (*cb)(int rc))
{
	struct hq_opts o = {
		.name = "admin queue",
		.addr = g_cfg.trid.traddr,
		.port = g_cfg.trid.port,
		.depth = ADMIN_DEPTH,
		.max_data = 4096,
		.icd_limit = ADMIN_ICD,
		.hdgst = g_cfg.hdgst,
		.ddgst = g_cfg.ddgst,
		.group = group,
		.on_event = on_event,
	};

	g_admin.group = group;
	g_admin.cb = cb;
	g_admin.q = hq_create(&o);
	if (!g_admin.q)
		admin_done(-ECONNREFUSED);
}

void perf_admin_stop(void)
{
	reactor_poller_unregister(&g_admin.ka_poller);
	reactor_poller_unregister(&g_admin.rdy_poller);
	hq_destroy(&g_admin.q);
}
