/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The target core (daemon/nvmf: target.c, subsystem.c, ctrlr.c, io.c,
 * discovery.c) driven in-process on a running app with a malloc bdev,
 * through a fake transport that records completions: Connect (admin and
 * I/O, every rejection with its status and IPO), properties and CC/CSTS,
 * NVM I/O with fused compare-and-write, namespace hot remove under load,
 * keep-alive expiry, controller reset, discovery log per host, shutdown.
 */
#include "helpers.h"

#include "nvmf.h"

#define BS 512u
#define NBLOCKS 1024u
#define MAX_IO 8192u
#define MAX_QD 64u
#define MAX_AQ 32u
#define MAX_QPAIRS 4u
#define SUBNQN "nqn.2026-01.io.libreactor:core-test"
#define HOST1 "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555"
#define HOST2 "nqn.2014-08.org.nvmexpress:uuid:66666666-7777-8888-9999-000000000000"

#define ST(sct, sc) ((uint16_t)(((sc) << 1) | ((sct) << 9)))
#define ST_MASK 0x0ffe /* SCT + SC, without DNR/More/CRD */

/* The steps run on a helper pthread: record failures (no cmocka longjmp), and
 * stop the step at the first one. */
#define REQ(c) do { if (!H_CHECK(c)) return; } while (0)
#define REQ_FALSE(c) REQ(!(c))
#define REQ_EQ(a, b) do { if (!H_CHECK_INT((a), ==, (b))) return; } while (0)
#define REQ_MEM(a, b, n) REQ(memcmp((a), (b), (n)) == 0)
#define CHK(c) ((void)H_CHECK(c))
#define CHK_EQ(a, b) ((void)H_CHECK_INT((a), ==, (b)))

/* ---- fake transport ----------------------------------------------------------- */

struct fake_qpair {
	struct nvmf_qpair qp;
	atomic_int disconnected;
	atomic_int finished;
	uint32_t index;
};

struct fake_req {
	struct nvmf_request req;
	atomic_int done;
	atomic_long seq;
	uint8_t buf[MAX_IO * 2];
};

static atomic_long g_seq;
static atomic_int g_listens, g_stop_listens, g_pg_creates, g_pg_destroys;

static struct nvmf_transport *fake_create(const struct nvmf_transport_opts *opts)
{
	(void)opts;
	errno = ENOTSUP;
	return NULL;
}

static void fake_destroy(struct nvmf_transport *t)
{
	(void)t;
}

static int fake_listen(struct nvmf_transport *t, const struct nvmf_listen_addr *addr)
{
	(void)t;
	(void)addr;
	atomic_fetch_add(&g_listens, 1);
	return 0;
}

static void fake_stop_listen(struct nvmf_transport *t, const struct nvmf_listen_addr *addr)
{
	(void)t;
	(void)addr;
	atomic_fetch_add(&g_stop_listens, 1);
}

static int fake_pg_create(struct nvmf_transport *t, struct nvmf_poll_group *pg)
{
	(void)t;
	(void)pg;
	atomic_fetch_add(&g_pg_creates, 1);
	return 0;
}

static void fake_pg_destroy(struct nvmf_transport *t, struct nvmf_poll_group *pg)
{
	(void)t;
	(void)pg;
	atomic_fetch_add(&g_pg_destroys, 1);
}

static void fake_maybe_fini(struct fake_qpair *fq)
{
	if (atomic_load(&fq->disconnected) && fq->qp.outstanding == 0 && !atomic_load(&fq->finished)) {
		nvmf_qpair_fini(&fq->qp);
		atomic_store(&fq->finished, 1);
	}
}

static void fake_req_complete(struct nvmf_request *req)
{
	struct fake_req *fr = (struct fake_req *)req;
	struct fake_qpair *fq = (struct fake_qpair *)req->qpair;

	atomic_store(&fr->seq, atomic_fetch_add(&g_seq, 1));
	atomic_store(&fr->done, 1);
	fake_maybe_fini(fq);
}

static void fake_qpair_disconnect(struct nvmf_qpair *qpair)
{
	struct fake_qpair *fq = (struct fake_qpair *)qpair;

	if (atomic_load(&fq->disconnected))
		return;
	atomic_store(&fq->disconnected, 1);
	nvmf_qpair_disconnected(qpair);
	fake_maybe_fini(fq);
}

static const struct nvmf_transport_ops fake_ops = {
	.name = "TCP",
	.trtype = NVME_TRTYPE_TCP,
	.create = fake_create,
	.destroy = fake_destroy,
	.listen = fake_listen,
	.stop_listen = fake_stop_listen,
	.pg_create = fake_pg_create,
	.pg_destroy = fake_pg_destroy,
	.req_complete = fake_req_complete,
	.qpair_disconnect = fake_qpair_disconnect,
};

static struct nvmf_transport g_fake = {.ops = &fake_ops};

/* ---- running things on the target's threads ------------------------------------- */

static struct reactor_thread *app_thread(void)
{
	return reactor_thread_get_app_thread();
}

static bool wait_flag(atomic_int *flag, unsigned ms, const char *what)
{
	uint64_t end = h_now_ns() + (uint64_t)ms * h_timeout_factor() * 1000000ull;

	h_waiting_for("%s", what);
	while (!atomic_load(flag)) {
		if (h_now_ns() > end) {
			H_FAIL("timed out waiting for %s", what);
			return false;
		}
		h_sleep_us(200);
	}
	return true;
}

static struct nvmf_listen_addr g_addr = {"TCP", "IPv4", "127.0.0.1", "4420"};
static struct bdev *g_bdev;
static struct nvmf_subsystem *g_sub;
static atomic_int g_init_done, g_fini_done;

static void tgt_init_cb(void *ctx, int rc)
{
	(void)ctx;
	H_CHECK_INT(rc, ==, 0);
	atomic_store(&g_init_done, 1);
}

static void setup_on_app(void *arg)
{
	int rc;

	(void)arg;
	H_CHECK_INT(bdev_malloc_create("Malloc0", NBLOCKS, BS, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", &g_bdev), ==, 0);
	g_fake.opts.max_queue_depth = MAX_QD;
	g_fake.opts.max_aq_depth = MAX_AQ;
	g_fake.opts.max_qpairs_per_ctrlr = MAX_QPAIRS;
	g_fake.opts.max_io_size = MAX_IO;
	g_fake.opts.io_unit_size = MAX_IO;
	g_fake.opts.in_capsule_data_size = 4096;
	TAILQ_INSERT_TAIL(&g_nvmf.transports, &g_fake, link);
	g_sub = nvmf_subsystem_create(SUBNQN, NVMF_SUBTYPE_NVME, 0, &rc);
	H_CHECK(g_sub != NULL);
	nvmf_tgt_init(tgt_init_cb, NULL);
}

static struct fake_qpair *new_qpair(uint32_t pg_index);

struct qp_init_arg {
	struct fake_qpair *fq;
	struct nvmf_poll_group *pg;
	const struct nvmf_listen_addr *addr;
};

static void qp_init_on_pg(void *arg)
{
	struct qp_init_arg *a = arg;

	nvmf_qpair_init(&a->fq->qp, &g_fake, a->pg, a->addr, "127.0.0.1", 50000);
}

/* Every fake qpair made, freed once the app has stopped. */
static struct fake_qpair *g_qpairs[64];
static unsigned g_num_qpairs;

/* A queue pair that came in on @p addr. */
static struct fake_qpair *new_qpair_on(uint32_t pg_index, const struct nvmf_listen_addr *addr)
{
	struct fake_qpair *fq = calloc(1, sizeof(*fq));
	struct qp_init_arg a = {fq, g_nvmf.pgs[pg_index % g_nvmf.num_pgs], addr};

	if (!fq || g_num_qpairs == sizeof(g_qpairs) / sizeof(g_qpairs[0]))
		abort();
	g_qpairs[g_num_qpairs++] = fq;
	fq->index = pg_index;
	CHK(h_call_on_thread(a.pg->thread, qp_init_on_pg, &a));
	return fq;
}

static struct fake_qpair *new_qpair(uint32_t pg_index)
{
	return new_qpair_on(pg_index, &g_addr);
}

static void exec_on_pg(void *arg)
{
	nvmf_request_exec(arg);
}

static struct fake_req *new_req(struct fake_qpair *fq, uint8_t opc)
{
	struct fake_req *fr = calloc(1, sizeof(*fr));

	if (!fr)
		abort();
	fr->req.qpair = &fq->qp;
	fr->req.cmd.opc = opc;
	fr->req.cmd.cid = (uint16_t)(atomic_fetch_add(&g_seq, 1) & 0xffff);
	fr->req.iov[0].iov_base = fr->buf;
	fr->req.iov[0].iov_len = sizeof(fr->buf);
	fr->req.iovcnt = 1;
	return fr;
}

/* Execute on the qpair's thread and wait for the completion; returns the status. */
static uint16_t run(struct fake_req *fr)
{
	atomic_store(&fr->done, 0);
	CHK(h_call_on_thread(fr->req.qpair->pg->thread, exec_on_pg, &fr->req));
	CHK(wait_flag(&fr->done, 5000, "a command's completion"));
	CHK_EQ(fr->req.rsp.cid, fr->req.cmd.cid);
	CHK_EQ(fr->req.rsp.sqid, fr->req.qpair->qid);
	return fr->req.rsp.status;
}

static uint8_t g_connect_cattr;	/* Connect CATTR for the next connects */

static uint16_t connect(struct fake_qpair *fq, uint16_t qid, uint16_t sqsize, uint16_t cntlid, const char *subnqn,
			const char *hostnqn, uint8_t hostid_byte, uint16_t recfmt, uint32_t kato, uint32_t *cdw0)
{
	struct fake_req *fr = new_req(fq, NVME_OPC_FABRICS);
	struct nvme_connect_cmd *cmd = (struct nvme_connect_cmd *)&fr->req.cmd;
	struct nvme_connect_data *d = (struct nvme_connect_data *)fr->buf;
	uint16_t st;

	cmd->fctype = NVME_FCTYPE_CONNECT;
	cmd->recfmt = recfmt;
	cmd->qid = qid;
	cmd->sqsize = sqsize;
	cmd->kato = kato;
	cmd->cattr = g_connect_cattr;
	memset(d->hostid, hostid_byte, sizeof(d->hostid));
	d->cntlid = cntlid;
	snprintf(d->subnqn, sizeof(d->subnqn), "%s", subnqn);
	snprintf(d->hostnqn, sizeof(d->hostnqn), "%s", hostnqn);
	fr->req.xfer = NVMF_XFER_HOST_TO_CTRLR;
	fr->req.length = sizeof(*d);
	st = run(fr);
	if (cdw0)
		*cdw0 = fr->req.rsp.cdw0;
	free(fr);
	return st;
}

static uint16_t prop(struct fake_qpair *fq, uint8_t fctype, uint32_t ofst, uint8_t attrib, uint64_t *value)
{
	struct fake_req *fr = new_req(fq, NVME_OPC_FABRICS);
	struct nvme_property_cmd *cmd = (struct nvme_property_cmd *)&fr->req.cmd;
	uint16_t st;

	cmd->fctype = fctype;
	cmd->ofst = ofst;
	cmd->attrib = attrib;
	if (fctype == NVME_FCTYPE_PROPERTY_SET)
		cmd->value = *value;
	st = run(fr);
	if (fctype == NVME_FCTYPE_PROPERTY_GET && value)
		*value = (uint64_t)fr->req.rsp.cdw0 | ((uint64_t)fr->req.rsp.cdw1 << 32);
	free(fr);
	return st;
}

#define CC_ENABLE (NVME_CC_EN | (6u << 16) | (4u << 20))

static uint32_t get_csts(struct fake_qpair *admin)
{
	uint64_t v = 0;

	CHK_EQ(prop(admin, NVME_FCTYPE_PROPERTY_GET, NVME_PROP_CSTS, 0, &v), 0);
	return (uint32_t)v;
}

/* A Read/Write/Compare style command on @p fq. */
static struct fake_req *rw_req(struct fake_qpair *fq, uint8_t opc, uint32_t nsid, uint64_t slba, uint32_t nlb,
			       uint32_t length)
{
	struct fake_req *fr = new_req(fq, opc);

	fr->req.cmd.nsid = nsid;
	fr->req.cmd.cdw10 = (uint32_t)slba;
	fr->req.cmd.cdw11 = (uint32_t)(slba >> 32);
	fr->req.cmd.cdw12 = nlb - 1;
	fr->req.length = length;
	fr->req.xfer = opc == NVME_OPC_READ ? NVMF_XFER_CTRLR_TO_HOST : NVMF_XFER_HOST_TO_CTRLR;
	return fr;
}

static uint16_t rw(struct fake_qpair *fq, uint8_t opc, uint32_t nsid, uint64_t slba, uint32_t nlb, void *buf)
{
	struct fake_req *fr = rw_req(fq, opc, nsid, slba, nlb, nlb * BS);
	uint16_t st;

	if (opc != NVME_OPC_READ && buf)
		memcpy(fr->buf, buf, nlb * BS);
	st = run(fr);
	if (opc == NVME_OPC_READ && buf && st == 0)
		memcpy(buf, fr->buf, nlb * BS);
	free(fr);
	return st;
}

/* ---- state shared by the steps ----------------------------------------------------- */

struct conn {
	struct fake_qpair *admin, *io;
	uint16_t cntlid;
};

static struct conn connect_enabled(uint32_t kato, uint32_t io_pg)
{
	struct conn c = {0};
	uint32_t cdw0 = 0;
	uint64_t cc = CC_ENABLE;

	c.admin = new_qpair(0);
	CHK_EQ(connect(c.admin, 0, MAX_AQ - 1, 0xffff, SUBNQN, HOST1, 0xa5, 0, kato, &cdw0), 0);
	c.cntlid = (uint16_t)cdw0;
	CHK(c.cntlid >= 1 && c.cntlid <= 0xffef);
	CHK_EQ(prop(c.admin, NVME_FCTYPE_PROPERTY_SET, NVME_PROP_CC, 0, &cc), 0);
	CHK(get_csts(c.admin) & NVME_CSTS_RDY);
	c.io = new_qpair(io_pg);
	CHK_EQ(connect(c.io, 1, MAX_QD - 1, c.cntlid, SUBNQN, HOST1, 0xa5, 0, 0, &cdw0), 0);
	CHK_EQ(cdw0, c.cntlid);
	return c;
}

/* ---- the steps ------------------------------------------------------------------------ */

static void config_on_app(void *arg)
{
	(void)arg;
	H_CHECK_INT(nvmf_subsystem_add_host(g_sub, HOST1), ==, 0);
	H_CHECK_INT(nvmf_subsystem_add_host(g_sub, HOST1), ==, -EEXIST);
	H_CHECK_INT(nvmf_subsystem_add_host(g_sub, "not-an-nqn"), ==, -EINVAL);
	H_CHECK_INT(nvmf_subsystem_add_ns(g_sub, "Malloc0", 0, NULL, NULL, NULL, 0), ==, 1);
	H_CHECK_INT(nvmf_subsystem_add_ns(g_sub, "NoSuchBdev", 0, NULL, NULL, NULL, 0), ==, -ENODEV);
	H_CHECK_INT(nvmf_subsystem_add_ns(g_sub, "Malloc0", 1, NULL, NULL, NULL, 0), ==, -EEXIST);
	H_CHECK_INT(nvmf_subsystem_add_ns(g_sub, "Malloc0", NVMF_MAX_NAMESPACES_DEFAULT + 1, NULL, NULL, NULL, 0),
		    ==, -ERANGE);
	H_CHECK_INT(nvmf_subsystem_set_sn(g_sub, "SN\x01"), ==, -EINVAL);
	H_CHECK_INT(nvmf_subsystem_set_sn(g_sub, "012345678901234567890"), ==, -EINVAL);
	H_CHECK_INT(nvmf_subsystem_set_sn(g_sub, "SPDK00000000000001"), ==, 0);
	H_CHECK_INT(nvmf_subsystem_add_listener(g_sub, &g_addr), ==, 0);
	H_CHECK_INT(nvmf_subsystem_add_listener(g_sub, &g_addr), ==, -EEXIST);
	/* Same address for the discovery subsystem: one transport listen for both. */
	H_CHECK_INT(nvmf_subsystem_add_listener(g_nvmf.discovery, &g_addr), ==, 0);
	H_CHECK_INT(atomic_load(&g_listens), ==, 1);
}

static void check_ns_identity(void *arg)
{
	struct nvmf_ns *ns = nvmf_subsystem_get_ns(g_sub, 1);
	static const uint8_t want[16] = {0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78,
					 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0};

	(void)arg;
	if (!H_CHECK(ns != NULL))
		return;
	/* Stable identities: from the bdev's UUID. */
	H_CHECK(ns->has_uuid && memcmp(ns->uuid, want, 16) == 0);
	H_CHECK(ns->has_nguid && memcmp(ns->nguid, want, 16) == 0);
}

static void test_connect_admin(void)
{
	static const struct nvmf_listen_addr other_addr = {"TCP", "IPv4", "127.0.0.1", "4421"};
	struct fake_qpair *q = new_qpair(0), *other;
	struct fake_req *fr;
	uint32_t cdw0 = 0;
	uint64_t v = 0;

	/* Anything but Connect first: Command Sequence Error. */
	fr = new_req(q, NVME_OPC_IDENTIFY);
	REQ_EQ(run(fr) & ST_MASK, ST(0, NVME_SC_COMMAND_SEQUENCE_ERROR));
	free(fr);
	REQ_EQ(prop(q, NVME_FCTYPE_PROPERTY_GET, NVME_PROP_CSTS, 0, &v) & ST_MASK,
			 ST(0, NVME_SC_COMMAND_SEQUENCE_ERROR));

	REQ_EQ(connect(q, 0, MAX_AQ - 1, 0xffff, SUBNQN, HOST1, 1, 1, 0, &cdw0) & ST_MASK,
			 ST(1, NVME_SC_CONNECT_INCOMPATIBLE_FORMAT));
	REQ_EQ(connect(q, 0, MAX_AQ - 1, 0xffff, "bad nqn", HOST1, 1, 0, 0, &cdw0),
			 ST(1, NVME_SC_CONNECT_INVALID_PARAMETERS) | NVME_STATUS_DNR);
	REQ_EQ(cdw0, (1u << 16) | 256u);
	REQ_EQ(connect(q, 0, MAX_AQ - 1, 0xffff, "nqn.2026-01.io.libreactor:nope", HOST1, 1, 0, 0, &cdw0),
			 ST(1, NVME_SC_CONNECT_INVALID_PARAMETERS) | NVME_STATUS_DNR);
	REQ_EQ(cdw0, (1u << 16) | 256u);
	REQ_EQ(connect(q, 0, MAX_AQ - 1, 0xffff, SUBNQN, "bad host", 1, 0, 0, &cdw0),
			 ST(1, NVME_SC_CONNECT_INVALID_PARAMETERS) | NVME_STATUS_DNR);
	REQ_EQ(cdw0, (1u << 16) | 512u);
	REQ_EQ(connect(q, 0, MAX_AQ - 1, 0xffff, SUBNQN, HOST2, 1, 0, 0, &cdw0),
			 ST(1, NVME_SC_CONNECT_INVALID_HOST) | NVME_STATUS_DNR);
	REQ_EQ(cdw0, (1u << 16) | 512u);
	REQ_EQ(connect(q, 0, 0, 0xffff, SUBNQN, HOST1, 1, 0, 0, &cdw0),
			 ST(1, NVME_SC_CONNECT_INVALID_PARAMETERS) | NVME_STATUS_DNR);
	REQ_EQ(cdw0, 44u);
	REQ_EQ(connect(q, 0, MAX_AQ, 0xffff, SUBNQN, HOST1, 1, 0, 0, &cdw0),
			 ST(1, NVME_SC_CONNECT_INVALID_PARAMETERS) | NVME_STATUS_DNR);
	REQ_EQ(cdw0, 44u);
	REQ_EQ(connect(q, 0, MAX_AQ - 1, 5, SUBNQN, HOST1, 1, 0, 0, &cdw0),
			 ST(1, NVME_SC_CONNECT_INVALID_PARAMETERS) | NVME_STATUS_DNR);
	REQ_EQ(cdw0, (1u << 16) | 16u);

	/* The subsystem does not listen on port 4421; the discovery subsystem answers anywhere. */
	other = new_qpair_on(0, &other_addr);
	REQ_EQ(connect(other, 0, MAX_AQ - 1, 0xffff, SUBNQN, HOST1, 1, 0, 0, &cdw0),
	       ST(1, NVME_SC_CONNECT_INVALID_PARAMETERS) | NVME_STATUS_DNR);
	REQ_EQ(cdw0, (1u << 16) | 256u);
	REQ_EQ(connect(other, 0, MAX_AQ - 1, 0xffff, NVME_DISCOVERY_NQN, HOST1, 1, 0, 0, &cdw0), 0);
	nvmf_qpair_disconnect_async(&other->qp);
	REQ(wait_flag(&other->finished, 5000, "the discovery queue on 4421 to finish"));

	/* Accepted. */
	REQ_EQ(connect(q, 0, MAX_AQ - 1, 0xffff, SUBNQN, HOST1, 1, 0, 0, &cdw0), 0);
	REQ(cdw0 >= 1 && cdw0 <= 0xffef);
	/* A second Connect on the same queue. */
	REQ_EQ(connect(q, 0, MAX_AQ - 1, 0xffff, SUBNQN, HOST1, 1, 0, 0, NULL) & ST_MASK,
			 ST(0, NVME_SC_COMMAND_SEQUENCE_ERROR));

	/* Properties. */
	REQ_EQ(prop(q, NVME_FCTYPE_PROPERTY_GET, NVME_PROP_CAP, 1, &v), 0);
	REQ_EQ(v & 0xffff, MAX_QD - 1);	/* MQES */
	REQ(v & (1ull << 16));			/* CQR */
	REQ(v & (1ull << 37));			/* CSS NVM */
	REQ_EQ((v >> 24) & 0xff, 15);		/* TO */
	{
		uint64_t lo = 0, hi = 0;

		/* CAP read as two 4-byte halves (SPDK allows it). */
		REQ_EQ(prop(q, NVME_FCTYPE_PROPERTY_GET, NVME_PROP_CAP, 0, &lo), 0);
		REQ_EQ(prop(q, NVME_FCTYPE_PROPERTY_GET, NVME_PROP_CAP + 4, 0, &hi), 0);
		REQ_EQ(lo | (hi << 32), v);
	}
	REQ_EQ(prop(q, NVME_FCTYPE_PROPERTY_GET, NVME_PROP_VS, 0, &v), 0);
	REQ_EQ(v, NVMF_VS);
	REQ_EQ(prop(q, NVME_FCTYPE_PROPERTY_GET, NVME_PROP_VS, 1, &v) & ST_MASK,
			 ST(0, NVME_SC_INVALID_FIELD));
	REQ_EQ(prop(q, NVME_FCTYPE_PROPERTY_GET, 0x40, 0, &v) & ST_MASK, ST(0, NVME_SC_INVALID_FIELD));
	v = 1;
	REQ_EQ(prop(q, NVME_FCTYPE_PROPERTY_SET, NVME_PROP_CAP, 0, &v) & ST_MASK,
			 ST(0, NVME_SC_INVALID_FIELD));
	REQ_EQ(get_csts(q) & NVME_CSTS_RDY, 0);
	/* Admin commands wait for CC.EN. */
	fr = new_req(q, NVME_OPC_KEEP_ALIVE);
	REQ_EQ(run(fr) & ST_MASK, ST(0, NVME_SC_COMMAND_SEQUENCE_ERROR));
	free(fr);
	/* Unsupported entry sizes: CSTS.CFS, not RDY. */
	v = NVME_CC_EN | (7u << 16) | (4u << 20);
	REQ_EQ(prop(q, NVME_FCTYPE_PROPERTY_SET, NVME_PROP_CC, 0, &v), 0);
	REQ_EQ(get_csts(q) & (NVME_CSTS_RDY | NVME_CSTS_CFS), NVME_CSTS_CFS);
	v = 0;
	REQ_EQ(prop(q, NVME_FCTYPE_PROPERTY_SET, NVME_PROP_CC, 0, &v), 0);
	v = CC_ENABLE;
	REQ_EQ(prop(q, NVME_FCTYPE_PROPERTY_SET, NVME_PROP_CC, 0, &v), 0);
	REQ_EQ(get_csts(q) & (NVME_CSTS_RDY | NVME_CSTS_CFS), NVME_CSTS_RDY);
	REQ_EQ(prop(q, NVME_FCTYPE_PROPERTY_GET, NVME_PROP_CC, 0, &v), 0);
	REQ_EQ(v, CC_ENABLE);
	fr = new_req(q, NVME_OPC_KEEP_ALIVE);
	REQ_EQ(run(fr), 0);
	/* SQHD moves with each completion, modulo the queue size. */
	REQ(fr->req.rsp.sqhd < MAX_AQ);
	free(fr);
	/* Disconnect is for I/O queues. */
	fr = new_req(q, NVME_OPC_FABRICS);
	((struct nvme_fabrics_cmd *)&fr->req.cmd)->fctype = NVME_FCTYPE_DISCONNECT;
	REQ_EQ(run(fr) & ST_MASK, ST(1, NVME_SC_INVALID_QUEUE_TYPE));
	free(fr);
	/* Closing the admin queue destroys the controller. */
	nvmf_qpair_disconnect_async(&q->qp);
	REQ(wait_flag(&q->finished, 5000, "the admin queue to finish"));
}

static void test_connect_io(void)
{
	struct fake_qpair *admin = new_qpair(0), *io = new_qpair(1), *io2 = new_qpair(1);
	struct fake_req *fr;
	uint32_t cdw0 = 0;
	uint16_t cntlid;
	uint64_t cc = CC_ENABLE;

	REQ_EQ(connect(admin, 0, MAX_AQ - 1, 0xffff, SUBNQN, HOST1, 7, 0, 0, &cdw0), 0);
	cntlid = (uint16_t)cdw0;
	/* Not enabled yet. */
	REQ_EQ(connect(io, 1, 15, cntlid, SUBNQN, HOST1, 7, 0, 0, &cdw0),
			 ST(1, NVME_SC_CONNECT_INVALID_PARAMETERS) | NVME_STATUS_DNR);
	REQ_EQ(cdw0, 42u);
	REQ_EQ(prop(admin, NVME_FCTYPE_PROPERTY_SET, NVME_PROP_CC, 0, &cc), 0);
	REQ_EQ(connect(io, 1, 15, (uint16_t)(cntlid + 100), SUBNQN, HOST1, 7, 0, 0, &cdw0),
			 ST(1, NVME_SC_CONNECT_INVALID_PARAMETERS) | NVME_STATUS_DNR);
	REQ_EQ(cdw0, (1u << 16) | 16u);
	REQ_EQ(connect(io, 1, 15, cntlid, SUBNQN, HOST1, 8, 0, 0, &cdw0),
			 ST(1, NVME_SC_CONNECT_INVALID_PARAMETERS) | NVME_STATUS_DNR);
	REQ_EQ(cdw0, (1u << 16) | 0u);
	REQ_EQ(connect(io, MAX_QPAIRS, 15, cntlid, SUBNQN, HOST1, 7, 0, 0, &cdw0),
			 ST(1, NVME_SC_INVALID_QUEUE_IDENTIFIER) | NVME_STATUS_DNR);
	/* Set Features Number of Queues grants 2: queue 3 is refused. */
	fr = new_req(admin, NVME_OPC_SET_FEATURES);
	fr->req.cmd.cdw10 = NVME_FEAT_NUMBER_OF_QUEUES;
	fr->req.cmd.cdw11 = 1u | (1u << 16);
	REQ_EQ(run(fr), 0);
	free(fr);
	REQ_EQ(connect(io, 3, 15, cntlid, SUBNQN, HOST1, 7, 0, 0, &cdw0),
			 ST(1, NVME_SC_INVALID_QUEUE_IDENTIFIER) | NVME_STATUS_DNR);
	REQ_EQ(connect(io, 1, MAX_QD, cntlid, SUBNQN, HOST1, 7, 0, 0, &cdw0),
			 ST(1, NVME_SC_CONNECT_INVALID_PARAMETERS) | NVME_STATUS_DNR);
	REQ_EQ(cdw0, 44u);
	REQ_EQ(connect(io, 1, 15, cntlid, SUBNQN, HOST1, 7, 0, 0, &cdw0), 0);
	REQ_EQ(cdw0, cntlid);
	REQ_EQ(connect(io2, 1, 15, cntlid, SUBNQN, HOST1, 7, 0, 0, &cdw0) & ST_MASK,
			 ST(0, NVME_SC_COMMAND_SEQUENCE_ERROR));

	/* CC.EN 1 -> 0: the I/O queue goes, then CSTS.RDY clears. */
	cc = 0;
	REQ_EQ(prop(admin, NVME_FCTYPE_PROPERTY_SET, NVME_PROP_CC, 0, &cc), 0);
	REQ(wait_flag(&io->finished, 5000, "the I/O queue to go on CC.EN=0"));
	for (int i = 0; i < 5000 && (get_csts(admin) & NVME_CSTS_RDY); i++)
		h_sleep_ms(1);
	REQ_EQ(get_csts(admin) & NVME_CSTS_RDY, 0);
	/* Shutdown notification: SHST complete once the I/O queues are gone. */
	cc = CC_ENABLE;
	REQ_EQ(prop(admin, NVME_FCTYPE_PROPERTY_SET, NVME_PROP_CC, 0, &cc), 0);
	REQ_EQ(connect(io2, 2, 15, cntlid, SUBNQN, HOST1, 7, 0, 0, &cdw0), 0);
	cc = CC_ENABLE | (1u << NVME_CC_SHN_SHIFT);
	REQ_EQ(prop(admin, NVME_FCTYPE_PROPERTY_SET, NVME_PROP_CC, 0, &cc), 0);
	REQ(wait_flag(&io2->finished, 5000, "the I/O queue to go on shutdown"));
	for (int i = 0; i < 5000 && (get_csts(admin) & NVME_CSTS_SHST_MASK) != NVME_CSTS_SHST_COMPLETE; i++)
		h_sleep_ms(1);
	REQ_EQ(get_csts(admin) & NVME_CSTS_SHST_MASK, NVME_CSTS_SHST_COMPLETE);
	nvmf_qpair_disconnect_async(&admin->qp);
	REQ(wait_flag(&admin->finished, 5000, "the admin queue to finish"));
}

static void test_io(void)
{
	struct conn c = connect_enabled(0, 1);
	uint8_t data[8 * BS], back[8 * BS], zero[8 * BS];
	struct fake_req *a, *b;
	uint16_t st;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	memset(zero, 0, sizeof(zero));
	REQ_EQ(rw(c.io, NVME_OPC_WRITE, 1, 16, 8, data), 0);
	REQ_EQ(rw(c.io, NVME_OPC_READ, 1, 16, 8, back), 0);
	REQ_MEM(data, back, sizeof(data));
	REQ_EQ(rw(c.io, NVME_OPC_COMPARE, 1, 16, 8, data), 0);
	back[5] ^= 0xff;
	REQ_EQ(rw(c.io, NVME_OPC_COMPARE, 1, 16, 8, back) & ST_MASK, ST(2, NVME_SC_COMPARE_FAILURE));

	/* Errors. */
	REQ_EQ(rw(c.io, NVME_OPC_READ, 1, NBLOCKS - 4, 8, back) & ST_MASK, ST(0, NVME_SC_LBA_OUT_OF_RANGE));
	REQ_EQ(rw(c.io, NVME_OPC_READ, 2, 0, 1, back) & ST_MASK, ST(0, NVME_SC_INVALID_NAMESPACE_OR_FORMAT));
	REQ_EQ(rw(c.io, NVME_OPC_READ, 0xffffffffu, 0, 1, back) & ST_MASK,
			 ST(0, NVME_SC_INVALID_NAMESPACE_OR_FORMAT));
	a = rw_req(c.io, NVME_OPC_READ, 1, 0, 2 * MAX_IO / BS, 2 * MAX_IO);
	REQ_EQ(run(a) & ST_MASK, ST(0, NVME_SC_INVALID_FIELD));	/* above MDTS */
	free(a);
	a = rw_req(c.io, NVME_OPC_WRITE, 1, 0, 4, 3 * BS);
	REQ_EQ(run(a) & ST_MASK, ST(0, NVME_SC_DATA_SGL_LENGTH_INVALID));
	free(a);
	a = rw_req(c.io, NVME_OPC_WRITE_UNCORRECTABLE, 1, 0, 1, 0);
	REQ_EQ(run(a) & ST_MASK, ST(0, NVME_SC_INVALID_OPCODE));
	free(a);

	a = new_req(c.io, NVME_OPC_FLUSH);
	a->req.cmd.nsid = 1;
	REQ_EQ(run(a), 0);
	a->req.cmd.nsid = 3;
	REQ_EQ(run(a) & ST_MASK, ST(0, NVME_SC_INVALID_NAMESPACE_OR_FORMAT));
	free(a);

	/* Write Zeroes. */
	a = rw_req(c.io, NVME_OPC_WRITE_ZEROES, 1, 18, 2, 0);
	REQ_EQ(run(a), 0);
	free(a);
	REQ_EQ(rw(c.io, NVME_OPC_READ, 1, 16, 8, back), 0);
	REQ_MEM(back, data, 2 * BS);
	REQ_MEM(back + 2 * BS, zero, 2 * BS);
	REQ_MEM(back + 4 * BS, data + 4 * BS, 4 * BS);
	a = rw_req(c.io, NVME_OPC_WRITE_ZEROES, 1, NBLOCKS - 1, 2, 0);
	REQ_EQ(run(a) & ST_MASK, ST(0, NVME_SC_LBA_OUT_OF_RANGE));
	free(a);

	/* Dataset Management, deallocate two ranges (malloc reads them back as zeroes). */
	REQ_EQ(rw(c.io, NVME_OPC_WRITE, 1, 100, 8, data), 0);
	a = new_req(c.io, NVME_OPC_DATASET_MANAGEMENT);
	a->req.cmd.nsid = 1;
	a->req.cmd.cdw10 = 1;		/* two ranges */
	a->req.cmd.cdw11 = 1u << 2;	/* AD */
	nvme_put_le32(a->buf + 4, 2);
	nvme_put_le64(a->buf + 8, 100);
	nvme_put_le32(a->buf + 16 + 4, 1);
	nvme_put_le64(a->buf + 16 + 8, 105);
	a->req.length = 32;
	REQ_EQ(run(a), 0);
	REQ_EQ(rw(c.io, NVME_OPC_READ, 1, 100, 8, back), 0);
	REQ_MEM(back, zero, 2 * BS);
	REQ_MEM(back + 2 * BS, data + 2 * BS, 3 * BS);
	REQ_MEM(back + 5 * BS, zero, BS);
	REQ_MEM(back + 6 * BS, data + 6 * BS, 2 * BS);
	nvme_put_le64(a->buf + 16 + 8, NBLOCKS);
	REQ_EQ(run(a) & ST_MASK, ST(0, NVME_SC_LBA_OUT_OF_RANGE));
	a->req.length = 16;
	REQ_EQ(run(a) & ST_MASK, ST(0, NVME_SC_DATA_SGL_LENGTH_INVALID));
	free(a);

	/* Fused compare and write: match writes, miss writes nothing. */
	for (int round = 0; round < 2; round++) {
		uint8_t newdata[4 * BS];

		memset(newdata, 0x40 + round, sizeof(newdata));
		REQ_EQ(rw(c.io, NVME_OPC_WRITE, 1, 200, 4, data), 0);
		a = rw_req(c.io, NVME_OPC_COMPARE, 1, 200, 4, 4 * BS);
		b = rw_req(c.io, NVME_OPC_WRITE, 1, 200, 4, 4 * BS);
		a->req.cmd.flags = NVME_FUSE_FIRST;
		b->req.cmd.flags = NVME_FUSE_SECOND;
		memcpy(a->buf, data, 4 * BS);
		if (round == 1)
			a->buf[10] ^= 1;
		memcpy(b->buf, newdata, 4 * BS);
		REQ(h_call_on_thread(c.io->qp.pg->thread, exec_on_pg, &a->req));
		REQ_EQ(atomic_load(&a->done), 0);	/* waits for its second half */
		REQ(h_call_on_thread(c.io->qp.pg->thread, exec_on_pg, &b->req));
		REQ(wait_flag(&a->done, 5000, "fused first"));
		REQ(wait_flag(&b->done, 5000, "fused second"));
		REQ(atomic_load(&a->seq) < atomic_load(&b->seq));
		REQ_EQ(rw(c.io, NVME_OPC_READ, 1, 200, 4, back), 0);
		if (round == 0) {
			REQ_EQ(a->req.rsp.status, 0);
			REQ_EQ(b->req.rsp.status, 0);
			REQ_MEM(back, newdata, 4 * BS);
		} else {
			REQ_EQ(a->req.rsp.status & ST_MASK, ST(2, NVME_SC_COMPARE_FAILURE));
			REQ_EQ(b->req.rsp.status & ST_MASK, ST(0, NVME_SC_ABORTED_FAILED_FUSED));
			REQ_MEM(back, data, 4 * BS);
		}
		free(a);
		free(b);
	}
	/* A first half followed by an unfused command: Missing Fused. */
	a = rw_req(c.io, NVME_OPC_COMPARE, 1, 200, 4, 4 * BS);
	a->req.cmd.flags = NVME_FUSE_FIRST;
	b = rw_req(c.io, NVME_OPC_READ, 1, 200, 4, 4 * BS);
	REQ(h_call_on_thread(c.io->qp.pg->thread, exec_on_pg, &a->req));
	st = run(b);
	REQ_EQ(st, 0);
	REQ(wait_flag(&a->done, 5000, "orphan fused first"));
	REQ_EQ(a->req.rsp.status & ST_MASK, ST(0, NVME_SC_ABORTED_MISSING_FUSED));
	b->req.cmd.flags = NVME_FUSE_SECOND;
	b->req.cmd.opc = NVME_OPC_WRITE;
	REQ_EQ(run(b) & ST_MASK, ST(0, NVME_SC_ABORTED_MISSING_FUSED));
	free(a);
	free(b);

	/* SMART counters: something was read and written. */
	REQ(atomic_load(&c.io->qp.ctrlr->host_write_cmds) >= 4);
	REQ(atomic_load(&c.io->qp.ctrlr->data_units_read) >= 8);

	/* Failed commands are counted for the error log. */
	REQ(atomic_load(&c.io->qp.ctrlr->num_err_log_entries) >= 5);

	/* SQ flow control disabled (CATTR bit 2): SQHD is FFFFh. */
	{
		struct fake_qpair *io2 = new_qpair(0);
		uint32_t cdw0 = 0;

		g_connect_cattr = 1u << 2;
		REQ_EQ(connect(io2, 2, 15, c.cntlid, SUBNQN, HOST1, 0xa5, 0, 0, &cdw0), 0);
		g_connect_cattr = 0;
		a = rw_req(io2, NVME_OPC_READ, 1, 0, 1, BS);
		REQ_EQ(run(a), 0);
		REQ_EQ(a->req.rsp.sqhd, 0xffff);
		free(a);
		a = rw_req(c.io, NVME_OPC_READ, 1, 0, 1, BS);
		REQ_EQ(run(a), 0);
		REQ(a->req.rsp.sqhd < MAX_QD);
		free(a);
		nvmf_qpair_disconnect_async(&io2->qp);
		REQ(wait_flag(&io2->finished, 5000, "the second I/O queue to finish"));
	}

	/* Disconnect command on the I/O queue: answered, then closed. */
	a = new_req(c.io, NVME_OPC_FABRICS);
	((struct nvme_fabrics_cmd *)&a->req.cmd)->fctype = NVME_FCTYPE_DISCONNECT;
	REQ_EQ(run(a), 0);
	free(a);
	REQ(wait_flag(&c.io->finished, 5000, "the I/O queue after Disconnect"));
	nvmf_qpair_disconnect_async(&c.admin->qp);
	REQ(wait_flag(&c.admin->finished, 5000, "the admin queue to finish"));
}

/* ---- namespace hot remove under load ------------------------------------------------------ */

#define LOAD_QD 8
struct load {
	struct fake_qpair *io;
	struct fake_req *reqs[LOAD_QD];
	atomic_int stop, stopped;
	atomic_long ok, invalid_ns, other;
	int inflight;
	struct reactor_poller *poller;
};

static struct load g_load;

static void load_submit(struct fake_req *fr)
{
	fr->req.rsp.status = 0xffff;
	g_load.inflight++;
	nvmf_request_exec(&fr->req);
}

static int load_poll(void *arg)
{
	int work = 0;

	(void)arg;
	for (int i = 0; i < LOAD_QD; i++) {
		struct fake_req *fr = g_load.reqs[i];

		if (!atomic_load(&fr->done))
			continue;
		atomic_store(&fr->done, 0);
		g_load.inflight--;
		if (fr->req.rsp.status == 0)
			atomic_fetch_add(&g_load.ok, 1);
		else if ((fr->req.rsp.status & ST_MASK) == ST(0, NVME_SC_INVALID_NAMESPACE_OR_FORMAT))
			atomic_fetch_add(&g_load.invalid_ns, 1);
		else
			atomic_fetch_add(&g_load.other, 1);
		work = 1;
		if (!atomic_load(&g_load.stop))
			load_submit(fr);
	}
	if (atomic_load(&g_load.stop) && g_load.inflight == 0) {
		reactor_poller_unregister(&g_load.poller);
		atomic_store(&g_load.stopped, 1);
	}
	return work;
}

static void load_start(void *arg)
{
	(void)arg;
	g_load.poller = reactor_poller_register_named(load_poll, NULL, 0, "test_load");
	H_CHECK(g_load.poller != NULL);
	for (int i = 0; i < LOAD_QD; i++)
		load_submit(g_load.reqs[i]);
}

static atomic_int g_removed;
static atomic_int g_remove_rc;

static void ns_removed_cb(void *ctx, int rc)
{
	(void)ctx;
	atomic_store(&g_remove_rc, rc);
	atomic_store(&g_removed, 1);
}

static void remove_ns1(void *arg)
{
	(void)arg;
	nvmf_subsystem_remove_ns(g_sub, 1, ns_removed_cb, NULL);
	/* Not reusable until every poll group let it go. */
	H_CHECK_INT(nvmf_subsystem_add_ns(g_sub, "Malloc0", 1, NULL, NULL, NULL, 0), ==, -EEXIST);
}

static void add_ns1(void *arg)
{
	(void)arg;
	H_CHECK_INT(nvmf_subsystem_add_ns(g_sub, "Malloc0", 1, NULL, NULL, NULL, 0), ==, 1);
}

static void check_changed_ns(void *arg)
{
	struct nvmf_ctrlr *ctrlr = arg;

	H_CHECK(ctrlr->num_changed_ns >= 1);
	H_CHECK_INT(ctrlr->changed_ns[0], ==, 1);
}

static void test_ns_hot_remove(void)
{
	struct conn c = connect_enabled(0, 1);

	memset(&g_load, 0, sizeof(g_load));
	g_load.io = c.io;
	for (int i = 0; i < LOAD_QD; i++) {
		g_load.reqs[i] = rw_req(c.io, NVME_OPC_READ, 1, (uint64_t)i * 8, 8, 8 * BS);
		atomic_store(&g_load.reqs[i]->done, 0);
	}
	REQ(h_call_on_thread(c.io->qp.pg->thread, load_start, NULL));
	h_sleep_ms(20);
	REQ(h_call_on_thread(app_thread(), remove_ns1, NULL));
	REQ(wait_flag(&g_removed, 5000, "namespace removal under load"));
	REQ_EQ(atomic_load(&g_remove_rc), 0);
	h_sleep_ms(10);
	REQ(h_call_on_thread(app_thread(), add_ns1, NULL));
	h_sleep_ms(20);
	atomic_store(&g_load.stop, 1);
	REQ(wait_flag(&g_load.stopped, 5000, "the load to stop"));
	REQ(atomic_load(&g_load.ok) > 0);
	REQ(atomic_load(&g_load.invalid_ns) > 0);
	REQ_EQ(atomic_load(&g_load.other), 0);
	/* The controller got the namespace change notices. */
	REQ(h_call_on_thread(c.admin->qp.pg->thread, check_changed_ns, c.admin->qp.ctrlr));
	for (int i = 0; i < LOAD_QD; i++)
		free(g_load.reqs[i]);
	nvmf_qpair_disconnect_async(&c.admin->qp);
	REQ(wait_flag(&c.admin->finished, 5000, "the admin queue to finish"));
	REQ(wait_flag(&c.io->finished, 5000, "the I/O queue to follow its controller"));
}

/* ---- keep alive ----------------------------------------------------------------------------- */

static atomic_int g_ctrlr_count;

static void count_ctrlrs(void *arg)
{
	struct nvmf_ctrlr *ctrlr;
	int n = 0;

	(void)arg;
	pthread_mutex_lock(&g_sub->ctrlr_lock);
	TAILQ_FOREACH(ctrlr, &g_sub->ctrlrs, link)
		n++;
	pthread_mutex_unlock(&g_sub->ctrlr_lock);
	atomic_store(&g_ctrlr_count, n);
}

static void test_keep_alive(void)
{
	struct conn c = connect_enabled(200, 1);	/* rounded up to 1 s */
	struct fake_req *fr;

	REQ_EQ(c.admin->qp.ctrlr->kato_ms, NVMF_KATO_GRANULARITY_MS);
	/* Commands keep it alive. */
	for (int i = 0; i < 6; i++) {
		h_sleep_ms(300);
		fr = new_req(c.admin, NVME_OPC_KEEP_ALIVE);
		REQ_EQ(run(fr), 0);
		free(fr);
	}
	REQ_EQ(atomic_load(&c.admin->disconnected), 0);
	/* Silence: torn down (admin and I/O queues), and the controller freed. */
	h_log_capture_start(REACTOR_LOG_NOTICE);
	REQ(wait_flag(&c.admin->finished, 3000, "keep-alive expiry"));
	REQ(wait_flag(&c.io->finished, 3000, "the I/O queue after keep-alive expiry"));
	h_log_capture_stop();
	REQ(h_log_count("keep alive timeout") > 0);
	REQ(h_call_on_thread(app_thread(), count_ctrlrs, NULL));
	REQ_EQ(atomic_load(&g_ctrlr_count), 0);
}

/* ---- discovery -------------------------------------------------------------------------------- */

struct disc_check {
	const char *hostnqn;
	int nvme_entries, current_entries;
	bool padded;
	uint64_t genctr;
};

static void disc_build(void *arg)
{
	struct disc_check *d = arg;
	size_t len = 0;
	uint8_t *page = nvmf_discovery_log_build(d->hostnqn, &g_addr, &len);
	uint64_t n;

	if (!H_CHECK(page != NULL))
		return;
	n = nvme_get_le64(page + 8);
	d->genctr = nvme_get_le64(page);
	H_CHECK_INT(len, ==, 1024 + n * 1024);
	for (uint64_t i = 0; i < n; i++) {
		struct nvme_discovery_log_entry *e = (void *)(page + 1024 + i * 1024);

		H_CHECK_INT(e->trtype, ==, NVME_TRTYPE_TCP);
		H_CHECK_INT(e->adrfam, ==, NVME_ADRFAM_IPV4);
		H_CHECK_INT(nvme_get_le16(&e->cntlid), ==, 0xffff);
		H_CHECK_INT(nvme_get_le16(&e->asqsz), ==, MAX_AQ);
		d->padded = memcmp(e->traddr, "127.0.0.1 ", 10) == 0 && e->traddr[255] == ' ' &&
			    memcmp(e->trsvcid, "4420 ", 5) == 0 && e->trsvcid[31] == ' ';
		if (e->subtype == NVME_DISC_SUBTYPE_NVME) {
			H_CHECK(strcmp(e->subnqn, SUBNQN) == 0);
			d->nvme_entries++;
		} else if (e->subtype == NVME_DISC_SUBTYPE_CURRENT) {
			H_CHECK(strcmp(e->subnqn, NVME_DISCOVERY_NQN) == 0);
			d->current_entries++;
		}
	}
	free(page);
}

static void add_referral(void *arg)
{
	struct nvmf_listen_addr ref = {"tcp", "ipv4", "192.0.2.9", "8009"};

	(void)arg;
	H_CHECK_INT(nvmf_referral_add(&ref, NULL, false), ==, 0);
	H_CHECK_INT(nvmf_referral_add(&ref, NULL, false), ==, -EEXIST);
}

static void test_discovery(void)
{
	struct disc_check d1 = {.hostnqn = HOST1}, d2 = {.hostnqn = HOST2}, d3 = {.hostnqn = HOST1};
	struct fake_qpair *q = new_qpair(0);
	uint32_t cdw0;

	REQ(h_call_on_thread(app_thread(), disc_build, &d1));
	REQ_EQ(d1.nvme_entries, 1);
	REQ_EQ(d1.current_entries, 1);
	REQ(d1.padded);
	REQ(h_call_on_thread(app_thread(), disc_build, &d2));
	REQ_EQ(d2.nvme_entries, 0);	/* HOST2 may not use the subsystem */
	REQ_EQ(d2.current_entries, 1);
	REQ(h_call_on_thread(app_thread(), add_referral, NULL));
	REQ(h_call_on_thread(app_thread(), disc_build, &d3));
	REQ(d3.genctr > d1.genctr);
	/* Any host reaches the discovery controller; KATO 0 gets the default. */
	REQ_EQ(connect(q, 0, MAX_AQ - 1, 0xffff, NVME_DISCOVERY_NQN, HOST2, 3, 0, 0, &cdw0), 0);
	REQ_EQ(q->qp.ctrlr->kato_ms, NVMF_DISC_KATO_MS);
	REQ_EQ(connect(new_qpair(1), 1, 15, (uint16_t)cdw0, NVME_DISCOVERY_NQN, HOST2, 3, 0, 0, &cdw0),
			 ST(1, NVME_SC_CONNECT_INVALID_PARAMETERS) | NVME_STATUS_DNR);
	nvmf_qpair_disconnect_async(&q->qp);
	REQ(wait_flag(&q->finished, 5000, "the discovery queue to finish"));
}

/* ---- access removed while connected ------------------------------------------------------------ */

static void remove_host1(void *arg)
{
	(void)arg;
	H_CHECK_INT(nvmf_subsystem_remove_host(g_sub, HOST1), ==, 0);
	H_CHECK_INT(nvmf_subsystem_remove_host(g_sub, HOST1), ==, -ENOENT);
}

static void add_host1(void *arg)
{
	(void)arg;
	H_CHECK_INT(nvmf_subsystem_add_host(g_sub, HOST1), ==, 0);
}

static void remove_listener(void *arg)
{
	(void)arg;
	H_CHECK_INT(nvmf_subsystem_remove_listener(g_sub, &g_addr), ==, 0);
	H_CHECK_INT(nvmf_subsystem_remove_listener(g_sub, &g_addr), ==, -ENOENT);
}

static void add_listener(void *arg)
{
	(void)arg;
	H_CHECK_INT(nvmf_subsystem_add_listener(g_sub, &g_addr), ==, 0);
}

static void test_access_removed(void)
{
	struct conn c = connect_enabled(0, 1);

	/* Removing the host ends its association (SPDK), ... */
	REQ(h_call_on_thread(app_thread(), remove_host1, NULL));
	REQ(wait_flag(&c.admin->finished, 5000, "the admin queue after the host was removed"));
	REQ(wait_flag(&c.io->finished, 5000, "the I/O queue after the host was removed"));
	REQ(h_call_on_thread(app_thread(), add_host1, NULL));
	/* ... and so does removing the listener it came through (Linux, SPDK). */
	c = connect_enabled(0, 0);
	REQ(h_call_on_thread(app_thread(), remove_listener, NULL));
	REQ(wait_flag(&c.admin->finished, 5000, "the admin queue after its listener was removed"));
	REQ(wait_flag(&c.io->finished, 5000, "the I/O queue after its listener was removed"));
	/* The discovery subsystem still listens there: no stop_listen yet. */
	REQ_EQ(atomic_load(&g_stop_listens), 0);
	REQ(h_call_on_thread(app_thread(), add_listener, NULL));
	REQ_EQ(atomic_load(&g_listens), 1);
}

/* ---- subsystem delete and shutdown ------------------------------------------------------------ */

static atomic_int g_sub_deleted;

static void sub_deleted(void *ctx, int rc)
{
	(void)ctx;
	H_CHECK_INT(rc, ==, 0);
	atomic_store(&g_sub_deleted, 1);
}

static void delete_sub(void *arg)
{
	(void)arg;
	nvmf_subsystem_destroy(g_sub, sub_deleted, NULL);
}

static void find_sub(void *arg)
{
	*(bool *)arg = nvmf_subsystem_find(SUBNQN) != NULL;
}

static void tgt_fini_cb(void *ctx)
{
	(void)ctx;
	atomic_store(&g_fini_done, 1);
}

static void fini_on_app(void *arg)
{
	(void)arg;
	nvmf_tgt_fini(tgt_fini_cb, NULL);
}

static void test_delete_and_fini(void)
{
	struct conn c = connect_enabled(0, 1);
	struct fake_qpair *idle;
	bool found = true;

	REQ(h_call_on_thread(app_thread(), delete_sub, NULL));
	REQ(wait_flag(&g_sub_deleted, 5000, "the subsystem delete"));
	REQ(atomic_load(&c.admin->finished) && atomic_load(&c.io->finished));
	REQ(h_call_on_thread(app_thread(), find_sub, &found));
	REQ_FALSE(found);
	/* One transport listen was shared with the discovery subsystem. */
	REQ_EQ(atomic_load(&g_stop_listens), 0);

	idle = new_qpair(1);	/* never connected: shutdown closes it */
	REQ(h_call_on_thread(app_thread(), fini_on_app, NULL));
	REQ(wait_flag(&g_fini_done, 15000, "nvmf_tgt_fini"));
	REQ(atomic_load(&idle->finished));
	REQ_EQ(atomic_load(&g_stop_listens), 1);
	REQ_EQ(atomic_load(&g_pg_destroys), atomic_load(&g_pg_creates));
}

static void body(void *arg)
{
	(void)arg;
	if (!h_call_on_thread(app_thread(), setup_on_app, NULL) ||
	    !wait_flag(&g_init_done, 5000, "nvmf_tgt_init"))
		return;
	if (!H_CHECK_INT(g_nvmf.num_pgs, ==, 2))
		return;
	H_CHECK_INT(atomic_load(&g_pg_creates), ==, 2);
	h_call_on_thread(app_thread(), config_on_app, NULL);
	h_call_on_thread(app_thread(), check_ns_identity, NULL);
	test_connect_admin();
	test_connect_io();
	test_io();
	test_ns_hot_remove();
	test_keep_alive();
	test_discovery();
	test_access_removed();
	test_delete_and_fini();
}

static void test_core(void **state)
{
	struct reactor_app_opts o;

	(void)state;
	H_BEGIN_TIMEOUT(120);
	if (h_allowed_cpu_count() < 2)
		H_SKIP("needs 2 CPUs");
	assert_true(h_app_opts(&o, 2));
	assert_int_equal(h_app_run(&o, body, NULL), 0);
	while (g_num_qpairs)
		free(g_qpairs[--g_num_qpairs]);
	h_assert_no_failures();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_core),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
