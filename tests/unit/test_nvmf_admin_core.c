/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The admin commands through the real target core, in a running app:
 * subsystems, namespaces and listeners made with the core's functions, a
 * controller made by a real Connect and enabled by Property Set, commands
 * executed by nvmf_request_exec() on a poll group's thread. A fake
 * transport stands in for TCP: it only records completions.
 *
 * What this adds to test_nvmf_admin (admin.c alone): Identify agrees with
 * the properties and the configuration the core holds; Namespace Attribute
 * Changed notices after hot add and remove reach a parked AER through the
 * core's messages; the discovery controller's AER fires when a listener is
 * added; SMART counters move after real I/O; the core's CC.EN rule and
 * error log; parked AERs are aborted when the target shuts down.
 */
#include "helpers.h"

#include "nvmf.h"

#define SUBNQN "nqn.2026-01.io.libreactor:admin-core"
#define HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555"
#define BDEV0 "AdminCore0"
#define BDEV1 "AdminCore1"
#define AEN_NS_DW0 0x00040002u
#define AEN_DISC_DW0 0x0070f002u
#define ST(sct, sc) nvme_status(sct, sc, 1)

/* ---- a transport that records completions ------------------------------------- */

struct fake_req {
	struct nvmf_request req;
	atomic_long done;
	uint8_t data[8192];
};

struct fake_qpair {
	struct nvmf_qpair qpair;
	bool fini;
};

static void fake_req_complete(struct nvmf_request *req)
{
	struct fake_req *f = (struct fake_req *)req;

	atomic_store(&f->done, 1);
}

/* Closing a connection: done at once, no request of ours is still executing.
 * The memory stays until the app has stopped (g_qpairs): the core may still
 * hold the pointer while it walks its lists. */
static void fake_qpair_disconnect(struct nvmf_qpair *qpair)
{
	struct fake_qpair *f = (struct fake_qpair *)qpair;

	if (f->fini)
		return;
	f->fini = true;
	nvmf_qpair_disconnected(qpair);
	nvmf_qpair_fini(qpair);
}

static struct fake_qpair *g_qpairs[8];
static unsigned g_num_qpairs;

static int fake_listen(struct nvmf_transport *t, const struct nvmf_listen_addr *addr)
{
	(void)t;
	(void)addr;
	return 0;
}

static void fake_stop_listen(struct nvmf_transport *t, const struct nvmf_listen_addr *addr)
{
	(void)t;
	(void)addr;
}

static void fake_pg_destroy(struct nvmf_transport *t, struct nvmf_poll_group *pg)
{
	(void)t;
	(void)pg;
}

static void fake_destroy(struct nvmf_transport *t)
{
	(void)t;
}

static const struct nvmf_transport_ops g_fake_ops = {
	.name = "TCP",
	.trtype = NVME_TRTYPE_TCP,
	.destroy = fake_destroy,
	.listen = fake_listen,
	.stop_listen = fake_stop_listen,
	.pg_destroy = fake_pg_destroy,
	.req_complete = fake_req_complete,
	.qpair_disconnect = fake_qpair_disconnect,
};

static struct nvmf_transport g_fake = {
	.ops = &g_fake_ops,
	.opts = { .max_queue_depth = 128, .max_aq_depth = 128, .max_qpairs_per_ctrlr = 16,
		  .in_capsule_data_size = 8192, .max_io_size = 131072, .io_unit_size = 131072 },
};

static const struct nvmf_listen_addr g_addr = { "TCP", "IPv4", "127.0.0.1", "4420" };
static const struct nvmf_listen_addr g_addr2 = { "TCP", "IPv4", "127.0.0.1", "4421" };

/* ---- running things on the target's threads --------------------------------------- */

static struct nvmf_subsystem *g_subsys;

static struct reactor_thread *pg_thread(void)
{
	return g_nvmf.pgs[0]->thread;
}

static void on_app(void (*fn)(void *), void *arg)
{
	H_CHECK(h_call_on_thread(reactor_thread_get_app_thread(), fn, arg));
}

static void exec_msg(void *arg)
{
	nvmf_request_exec(arg);
}

/* Execute @p f on its qpair's poll group; wait for the completion unless @p parked. */
static bool exec(struct fake_req *f, bool wait)
{
	atomic_store(&f->done, 0);
	if (!h_call_on_thread(pg_thread(), exec_msg, &f->req))
		return false;
	return !wait || h_wait_ge(&f->done, 1, 10000, "a command's completion");
}

static struct fake_req *req_new(struct fake_qpair *q, uint8_t opc, uint32_t nsid, uint32_t cdw10,
				uint32_t cdw11, enum nvmf_xfer xfer, uint32_t len)
{
	static uint16_t cid;
	struct fake_req *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->req.qpair = &q->qpair;
	f->req.cmd.opc = opc;
	f->req.cmd.cid = ++cid;
	f->req.cmd.nsid = nsid;
	f->req.cmd.cdw10 = cdw10;
	f->req.cmd.cdw11 = cdw11;
	f->req.xfer = xfer;
	f->req.length = len;
	f->req.iov[0] = (struct iovec){ f->data, len };
	f->req.iovcnt = 1;
	return f;
}

/* One admin command with a controller-to-host buffer; its status, data copied to @p out. */
static uint16_t admin(struct fake_qpair *q, uint8_t opc, uint32_t nsid, uint32_t cdw10, uint32_t cdw11,
		      void *out, uint32_t len, uint32_t *dw0)
{
	struct fake_req *f = req_new(q, opc, nsid, cdw10, cdw11,
				     len ? NVMF_XFER_CTRLR_TO_HOST : NVMF_XFER_NONE, len);
	uint16_t status = 0xffff;

	if (!H_CHECK(f != NULL))
		return status;
	if (exec(f, true)) {
		status = f->req.rsp.status;
		if (out)
			memcpy(out, f->data, len);
		if (dw0)
			*dw0 = f->req.rsp.cdw0;
	}
	free(f);
	return status;
}

static uint16_t get_log(struct fake_qpair *q, uint8_t lid, uint32_t nsid, void *out, uint32_t len)
{
	return admin(q, NVME_OPC_GET_LOG_PAGE, nsid, lid | ((len / 4 - 1) << 16), 0, out, len, NULL);
}

static uint16_t property(struct fake_qpair *q, uint8_t fctype, uint32_t ofst, uint64_t value, uint64_t *out)
{
	struct fake_req *f = req_new(q, NVME_OPC_FABRICS, 0, 0, 0, NVMF_XFER_NONE, 0);
	struct nvme_property_cmd *p;
	uint16_t status = 0xffff;

	if (!H_CHECK(f != NULL))
		return status;
	p = (struct nvme_property_cmd *)&f->req.cmd;
	p->fctype = fctype;
	p->attrib = ofst == NVME_PROP_CAP ? 1 : 0;
	p->ofst = ofst;
	p->value = value;
	if (exec(f, true)) {
		status = f->req.rsp.status;
		if (out)
			*out = (uint64_t)f->req.rsp.cdw0 | ((uint64_t)f->req.rsp.cdw1 << 32);
	}
	free(f);
	return status;
}

struct qpair_init_ctx {
	struct fake_qpair *q;
	const struct nvmf_listen_addr *addr;
};

static void qpair_init_msg(void *arg)
{
	struct qpair_init_ctx *c = arg;

	nvmf_qpair_init(&c->q->qpair, &g_fake, g_nvmf.pgs[0], c->addr, "192.0.2.9", 40000);
}

/* A queue pair on poll group 0, connected to @p subnqn; NULL if Connect failed. */
static struct fake_qpair *connect_qpair(const char *subnqn, uint16_t qid, uint16_t cntlid)
{
	struct fake_qpair *q = calloc(1, sizeof(*q));
	struct qpair_init_ctx c = { q, &g_addr };
	struct nvme_connect_data data;
	struct nvme_connect_cmd *cmd;
	struct fake_req *f;

	if (!H_CHECK(q != NULL) || !H_CHECK(g_num_qpairs < 8)) {
		free(q);
		return NULL;
	}
	g_qpairs[g_num_qpairs++] = q;
	H_CHECK(h_call_on_thread(pg_thread(), qpair_init_msg, &c));
	f = req_new(q, NVME_OPC_FABRICS, 0, 0, 0, NVMF_XFER_HOST_TO_CTRLR, sizeof(data));
	if (!H_CHECK(f != NULL))
		return NULL;
	cmd = (struct nvme_connect_cmd *)&f->req.cmd;
	cmd->fctype = NVME_FCTYPE_CONNECT;
	cmd->qid = qid;
	cmd->sqsize = 31;
	cmd->kato = qid ? 0 : 30000;
	memset(&data, 0, sizeof(data));
	memset(data.hostid, 0x5a, sizeof(data.hostid));
	data.cntlid = cntlid;
	snprintf(data.subnqn, sizeof(data.subnqn), "%s", subnqn);
	snprintf(data.hostnqn, sizeof(data.hostnqn), "%s", HOSTNQN);
	memcpy(f->data, &data, sizeof(data));
	if (!exec(f, true) || !H_CHECK(f->req.rsp.status == 0)) {
		free(f);
		return NULL;
	}
	free(f);
	return q;
}

static bool enable(struct fake_qpair *q, bool io_sizes)
{
	uint32_t cc = NVME_CC_EN | (io_sizes ? (6u << 16) | (4u << 20) : 0);
	uint64_t csts = 0;

	return H_CHECK(property(q, NVME_FCTYPE_PROPERTY_SET, NVME_PROP_CC, cc, NULL) == 0) &&
	       H_CHECK(property(q, NVME_FCTYPE_PROPERTY_GET, NVME_PROP_CSTS, 0, &csts) == 0) &&
	       H_CHECK(csts & NVME_CSTS_RDY);
}

/* ---- configuration on the app thread --------------------------------------------- */

static atomic_long g_flag;

static void flag_cb(void *ctx, int rc)
{
	(void)ctx;
	H_CHECK_INT(rc, ==, 0);
	atomic_store(&g_flag, 1);
}

static void fini_cb(void *ctx)
{
	(void)ctx;
	atomic_store(&g_flag, 1);
}

static void tgt_init_msg(void *arg)
{
	(void)arg;
	nvmf_tgt_init(flag_cb, NULL);
}

static void setup_msg(void *arg)
{
	static const uint8_t nguid[16] = "NGUID-of-ns-0001";
	static const uint8_t eui64[8] = "EUI64-01";
	int rc;

	(void)arg;
	pthread_mutex_lock(&g_nvmf.lock);
	TAILQ_INSERT_TAIL(&g_nvmf.transports, &g_fake, link);
	pthread_mutex_unlock(&g_nvmf.lock);
	H_CHECK_INT(bdev_malloc_create(BDEV0, 2048, 512, NULL, NULL), ==, 0);
	H_CHECK_INT(bdev_malloc_create(BDEV1, 64, 4096, NULL, NULL), ==, 0);
	g_subsys = nvmf_subsystem_create(SUBNQN, NVMF_SUBTYPE_NVME, 8, &rc);
	if (!H_CHECK(g_subsys != NULL))
		return;
	g_subsys->allow_any_host = true;
	H_CHECK_INT(nvmf_subsystem_set_sn(g_subsys, "ADMINCORE1"), ==, 0);
	H_CHECK_INT(nvmf_subsystem_set_mn(g_subsys, "Admin Core Model"), ==, 0);
	H_CHECK_INT(nvmf_subsystem_add_listener(g_subsys, &g_addr), ==, 0);
	H_CHECK_INT(nvmf_subsystem_add_ns(g_subsys, BDEV0, 1, nguid, eui64, NULL, 0), ==, 1);
}

static void add_ns2_msg(void *arg)
{
	(void)arg;
	H_CHECK_INT(nvmf_subsystem_add_ns(g_subsys, BDEV1, 2, NULL, NULL, NULL, 0), ==, 2);
}

static void remove_ns1_msg(void *arg)
{
	(void)arg;
	nvmf_subsystem_remove_ns(g_subsys, 1, flag_cb, NULL);
}

static void add_listener2_msg(void *arg)
{
	(void)arg;
	H_CHECK_INT(nvmf_subsystem_add_listener(g_subsys, &g_addr2), ==, 0);
}

static void tgt_fini_msg(void *arg)
{
	(void)arg;
	nvmf_tgt_fini(fini_cb, NULL);
}

static void bdev_deleted(void *ctx, int rc)
{
	(void)ctx;
	H_CHECK_INT(rc, ==, 0);
	atomic_fetch_add(&g_flag, 1);
}

static void bdev_delete_msg(void *arg)
{
	(void)arg;
	bdev_delete(BDEV0, "malloc", bdev_deleted, NULL);
	bdev_delete(BDEV1, "malloc", bdev_deleted, NULL);
}

/* ---- the test ------------------------------------------------------------------------ */

static void check_identify(struct fake_qpair *admin_q, uint16_t cntlid)
{
	struct nvme_id_ctrlr id;
	struct nvme_id_ns ns;
	uint8_t desc[4096];
	uint64_t vs = 0;

	H_CHECK_INT(property(admin_q, NVME_FCTYPE_PROPERTY_GET, NVME_PROP_VS, 0, &vs), ==, 0);
	H_CHECK_INT(admin(admin_q, NVME_OPC_IDENTIFY, 0, NVME_CNS_CTRLR, 0, &id, sizeof(id), NULL), ==, 0);
	H_CHECK_INT(nvme_get_le32(&id.ver), ==, (uint32_t)vs);
	H_CHECK(memcmp(id.sn, "ADMINCORE1          ", 20) == 0);
	H_CHECK(memcmp(id.mn, "Admin Core Model                        ", 40) == 0);
	H_CHECK_INT(nvme_get_le16(&id.cntlid), ==, cntlid);
	H_CHECK_INT(nvme_get_le32(&id.nn), ==, 8);
	H_CHECK_INT(id.mdts, ==, 5);
	H_CHECK_INT(nvme_get_le32(&id.ioccsz), ==, (64 + 8192) / 16);
	H_CHECK_INT(nvme_get_le16(&id.maxcmd), ==, 128);
	H_CHECK(strcmp(id.subnqn, SUBNQN) == 0);

	H_CHECK_INT(admin(admin_q, NVME_OPC_IDENTIFY, 1, NVME_CNS_NS, 0, &ns, sizeof(ns), NULL), ==, 0);
	H_CHECK_INT(nvme_get_le64(&ns.nsze), ==, 2048);
	H_CHECK_INT(ns.lbaf[0].lbads, ==, 9);
	H_CHECK(memcmp(ns.nguid, "NGUID-of-ns-0001", 16) == 0);
	H_CHECK(memcmp(ns.eui64, "EUI64-01", 8) == 0);
	/* The core gave the namespace the bdev's UUID: a UUID descriptor after EUI64 and NGUID. */
	H_CHECK_INT(admin(admin_q, NVME_OPC_IDENTIFY, 1, NVME_CNS_NS_ID_DESC_LIST, 0, desc, sizeof(desc), NULL),
		    ==, 0);
	H_CHECK_INT(desc[0], ==, NVME_NIDT_EUI64);
	H_CHECK_INT(desc[12], ==, NVME_NIDT_NGUID);
	H_CHECK_INT(desc[32], ==, NVME_NIDT_UUID);
	H_CHECK_INT(desc[52], ==, NVME_NIDT_CSI);
}

/* Write then read 4 KiB on NSID 2 through I/O queue 1; SMART moves. */
static void check_smart_after_io(struct fake_qpair *admin_q, uint16_t cntlid)
{
	struct fake_qpair *io_q = connect_qpair(SUBNQN, 1, cntlid);
	struct nvme_smart_log before, after;
	struct fake_req *w, *r;

	if (!io_q)
		return;
	H_CHECK_INT(get_log(admin_q, NVME_LOG_SMART, 0xffffffffu, &before, sizeof(before)), ==, 0);
	w = req_new(io_q, NVME_OPC_WRITE, 2, 0, 0, NVMF_XFER_HOST_TO_CTRLR, 4096);
	r = req_new(io_q, NVME_OPC_READ, 2, 0, 0, NVMF_XFER_CTRLR_TO_HOST, 4096);
	if (H_CHECK(w && r)) {
		memset(w->data, 0x3c, 4096);
		if (exec(w, true))
			H_CHECK_INT(w->req.rsp.status, ==, 0);
		if (exec(r, true)) {
			H_CHECK_INT(r->req.rsp.status, ==, 0);
			H_CHECK(memcmp(r->data, w->data, 4096) == 0);
		}
	}
	free(w);
	free(r);
	H_CHECK_INT(get_log(admin_q, NVME_LOG_SMART, 0, &after, sizeof(after)), ==, 0);
	H_CHECK_INT(nvme_get_le64(after.host_write_commands) - nvme_get_le64(before.host_write_commands), ==, 1);
	H_CHECK_INT(nvme_get_le64(after.host_read_commands) - nvme_get_le64(before.host_read_commands), ==, 1);
	/* 8 units of 512 bytes: one thousand-unit, rounded up. */
	H_CHECK_INT(nvme_get_le64(after.data_units_written), ==, 1);
	H_CHECK_INT(nvme_get_le64(after.data_units_read), ==, 1);
	/* Number of Queues is fixed once an I/O queue is connected. */
	H_CHECK_INT(admin(admin_q, NVME_OPC_SET_FEATURES, 0, NVME_FEAT_NUMBER_OF_QUEUES, 1, NULL, 0, NULL), ==,
		    ST(NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR));
}

static void check_hot_add_remove(struct fake_qpair *admin_q)
{
	struct fake_req *aer = req_new(admin_q, NVME_OPC_ASYNC_EVENT_REQUEST, 0, 0, 0, NVMF_XFER_NONE, 0);
	uint32_t list[1024];

	if (!H_CHECK(aer != NULL))
		return;
	/* Hot add: the notice reaches the parked AER by the core's message. */
	exec(aer, false);
	h_sleep_ms(20);
	H_CHECK_INT(atomic_load(&aer->done), ==, 0);
	on_app(add_ns2_msg, NULL);
	if (h_wait_ge(&aer->done, 1, 10000, "the AER after a namespace was added")) {
		H_CHECK_INT(aer->req.rsp.status, ==, 0);
		H_CHECK_INT(aer->req.rsp.cdw0, ==, AEN_NS_DW0);
	}
	H_CHECK_INT(get_log(admin_q, NVME_LOG_CHANGED_NS_LIST, 0, list, sizeof(list)), ==, 0);
	H_CHECK_INT(nvme_get_le32(&list[0]), ==, 2);
	H_CHECK_INT(nvme_get_le32(&list[1]), ==, 0);

	/* Hot remove: once every poll group let the namespace go. */
	exec(aer, false);
	atomic_store(&g_flag, 0);
	on_app(remove_ns1_msg, NULL);
	h_wait_ge(&g_flag, 1, 10000, "the namespace removal");
	if (h_wait_ge(&aer->done, 1, 10000, "the AER after a namespace was removed"))
		H_CHECK_INT(aer->req.rsp.cdw0, ==, AEN_NS_DW0);
	H_CHECK_INT(get_log(admin_q, NVME_LOG_CHANGED_NS_LIST, 0, list, sizeof(list)), ==, 0);
	H_CHECK_INT(nvme_get_le32(&list[0]), ==, 1);
	H_CHECK_INT(admin(admin_q, NVME_OPC_IDENTIFY, 0, NVME_CNS_ACTIVE_NS_LIST, 0, list, sizeof(list), NULL),
		    ==, 0);
	H_CHECK_INT(nvme_get_le32(&list[0]), ==, 2);
	H_CHECK_INT(nvme_get_le32(&list[1]), ==, 0);
	free(aer);
}

static void check_discovery(struct fake_req **parked)
{
	struct fake_qpair *dq = connect_qpair(NVME_DISCOVERY_NQN, 0, NVME_CNTLID_DYNAMIC);
	struct nvme_id_ctrlr id;
	uint8_t *log = calloc(1, 4096);
	struct fake_req *aer;

	if (!dq || !H_CHECK(log != NULL) || !enable(dq, false))
		goto out;
	H_CHECK_INT(admin(dq, NVME_OPC_IDENTIFY, 0, NVME_CNS_CTRLR, 0, &id, sizeof(id), NULL), ==, 0);
	H_CHECK_INT(id.cntrltype, ==, NVME_CNTRLTYPE_DISCOVERY);
	H_CHECK_INT(nvme_get_le32(&id.nn), ==, 0);
	H_CHECK(strcmp(id.subnqn, NVME_DISCOVERY_NQN) == 0);
	/* Our subsystem on the one listener. */
	H_CHECK_INT(get_log(dq, NVME_LOG_DISCOVERY, 0, log, 4096), ==, 0);
	H_CHECK_INT(nvme_get_le64(log + 8), >=, 1);
	{
		bool found = false;

		for (uint64_t i = 0; i < nvme_get_le64(log + 8) && i < 3; i++) {
			const struct nvme_discovery_log_entry *e =
				(const struct nvme_discovery_log_entry *)(log + 1024 * (i + 1));

			if (strcmp(e->subnqn, SUBNQN) == 0) {
				found = true;
				/* NUL or space padded (SPDK pads with spaces). */
				H_CHECK(strncmp(e->traddr, "127.0.0.1", 9) == 0 &&
					(e->traddr[9] == '\0' || e->traddr[9] == ' '));
				H_CHECK(strncmp(e->trsvcid, "4420", 4) == 0 &&
					(e->trsvcid[4] == '\0' || e->trsvcid[4] == ' '));
			}
		}
		H_CHECK(found);
	}
	/* A new listener: the discovery AER fires. */
	aer = req_new(dq, NVME_OPC_ASYNC_EVENT_REQUEST, 0, 0, 0, NVMF_XFER_NONE, 0);
	if (H_CHECK(aer != NULL)) {
		exec(aer, false);
		on_app(add_listener2_msg, NULL);
		if (h_wait_ge(&aer->done, 1, 10000, "the discovery AER after a listener was added"))
			H_CHECK_INT(aer->req.rsp.cdw0, ==, AEN_DISC_DW0);
		/* Park another one: the shutdown aborts it. */
		exec(aer, false);
		*parked = aer;
	}
out:
	free(log);
}

static void body(void *arg)
{
	struct fake_qpair *admin_q, *early;
	struct fake_req *parked = NULL, *parked_io = NULL;
	uint8_t buf[4096];
	uint32_t dw0 = 0;
	struct nvme_error_log_entry err[2];

	(void)arg;
	atomic_store(&g_flag, 0);
	on_app(tgt_init_msg, NULL);
	if (!h_wait_ge(&g_flag, 1, 10000, "nvmf_tgt_init"))
		return;
	on_app(setup_msg, NULL);
	if (h_failures())
		return;

	/* A controller not enabled yet: the core answers Command Sequence Error. */
	early = connect_qpair(SUBNQN, 0, NVME_CNTLID_DYNAMIC);
	if (early)
		H_CHECK_INT(admin(early, NVME_OPC_IDENTIFY, 0, NVME_CNS_CTRLR, 0, buf, sizeof(buf), NULL), ==,
			    ST(NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR));

	admin_q = connect_qpair(SUBNQN, 0, NVME_CNTLID_DYNAMIC);
	if (!admin_q || !enable(admin_q, true))
		goto out;
	check_identify(admin_q, admin_q->qpair.ctrlr->cntlid);

	/* The error log: an unknown opcode, newest first, on queue 0. */
	H_CHECK_INT(admin(admin_q, 0xc1, 0, 0, 0, NULL, 0, NULL), ==,
		    ST(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE));
	H_CHECK_INT(get_log(admin_q, NVME_LOG_ERROR, 0, err, sizeof(err)), ==, 0);
	H_CHECK_INT(err[0].sqid, ==, 0);
	H_CHECK_INT(err[0].status, ==, ST(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE));
	H_CHECK_INT(err[0].error_count, >=, 1);

	/* Keep Alive and the KATO feature through the core's timer. */
	H_CHECK_INT(admin(admin_q, NVME_OPC_KEEP_ALIVE, 0, 0, 0, NULL, 0, NULL), ==, 0);
	H_CHECK_INT(admin(admin_q, NVME_OPC_GET_FEATURES, 0, NVME_FEAT_KEEP_ALIVE_TIMER, 0, NULL, 0, &dw0), ==, 0);
	H_CHECK_INT(dw0, ==, 30000);
	H_CHECK_INT(admin(admin_q, NVME_OPC_SET_FEATURES, 0, NVME_FEAT_KEEP_ALIVE_TIMER, 20500, NULL, 0, NULL), ==,
		    0);
	H_CHECK_INT(admin(admin_q, NVME_OPC_GET_FEATURES, 0, NVME_FEAT_KEEP_ALIVE_TIMER, 0, NULL, 0, &dw0), ==, 0);
	H_CHECK_INT(dw0, ==, 21000);

	check_hot_add_remove(admin_q);
	check_smart_after_io(admin_q, admin_q->qpair.ctrlr->cntlid);
	check_discovery(&parked);

	/* One more parked AER on the I/O controller, for the shutdown to abort. */
	parked_io = req_new(admin_q, NVME_OPC_ASYNC_EVENT_REQUEST, 0, 0, 0, NVMF_XFER_NONE, 0);
	if (H_CHECK(parked_io != NULL))
		exec(parked_io, false);
out:
	atomic_store(&g_flag, 0);
	on_app(tgt_fini_msg, NULL);
	h_wait_ge(&g_flag, 1, 20000, "nvmf_tgt_fini");
	if (parked && h_wait_ge(&parked->done, 1, 1000, "the discovery AER aborted at shutdown"))
		H_CHECK_INT(parked->req.rsp.status, ==, nvme_status(NVME_SCT_GENERIC, NVME_SC_ABORTED_SQ_DELETION, 0));
	if (parked_io && h_wait_ge(&parked_io->done, 1, 1000, "the AER aborted at shutdown"))
		H_CHECK_INT(parked_io->req.rsp.status, ==,
			    nvme_status(NVME_SCT_GENERIC, NVME_SC_ABORTED_SQ_DELETION, 0));
	free(parked);
	free(parked_io);
	atomic_store(&g_flag, 0);
	on_app(bdev_delete_msg, NULL);
	h_wait_ge(&g_flag, 2, 10000, "the bdevs' deletion");
}

static void test_admin_through_core(void **state)
{
	struct reactor_app_opts o;

	(void)state;
	H_BEGIN_TIMEOUT(120);
	assert_true(h_app_opts(&o, 1));
	assert_int_equal(h_app_run(&o, body, NULL), 0);
	for (unsigned i = 0; i < g_num_qpairs; i++)
		free(g_qpairs[i]);
	h_assert_no_failures();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_admin_through_core),
	};

	return cmocka_run_group_tests_name("nvmf_admin_core", tests, NULL, NULL);
}
