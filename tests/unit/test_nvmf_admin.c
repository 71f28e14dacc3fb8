/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The target's admin commands (daemon/nvmf/admin.c), field by field:
 * Identify (controller, namespace, lists, descriptors, CSI variants, the
 * discovery controller's reduced set), Get Log Page (error, SMART,
 * firmware, changed namespaces, effects, discovery with offsets), Get/Set
 * Features with SEL and SV, AER parking, delivery and masking, Abort,
 * Keep Alive, and the status of every unsupported opcode/CNS/LID/FID.
 *
 * admin.c is linked alone: the few core functions it calls (request
 * completion, namespace lookup, error log, discovery log) are small stand-ins
 * here, so the test sees exactly what admin.c answers. Namespaces are real
 * malloc bdevs.
 */
#include "helpers.h"

#include "nvmf.h"

#define MAX_NSID 32u
#define BS 4096u
#define NBLOCKS 256u
#define AEN_NS_DW0 0x00040002u		/* notice, info 0, log page 04h */
#define AEN_DISC_DW0 0x0070f002u	/* notice, info F0h, log page 70h */
#define NVME_LOG_ANA 0x0c

/* ---- stand-ins for the core ------------------------------------------------- */

static struct nvmf_request *g_last_done;
static unsigned g_num_done;
static uint64_t g_disc_genctr = 7;
static char g_disc_hostnqn[NVME_NQN_SIZE];
static char g_disc_traddr[NVMF_TRADDR_LEN];
static bool g_disc_fail;

/* As ctrlr.c: a failure goes to the error log (not the aborts of a closing queue). */
void nvmf_request_complete(struct nvmf_request *req)
{
	if (req->rsp.status && nvme_status_sc(req->rsp.status) != NVME_SC_ABORTED_SQ_DELETION)
		nvmf_ctrlr_log_error(req->qpair->ctrlr, req);
	g_last_done = req;
	g_num_done++;
}

void nvmf_ctrlr_set_keep_alive(struct nvmf_ctrlr *ctrlr, uint32_t kato_ms)
{
	ctrlr->kato_ms = kato_ms;
	atomic_store(&ctrlr->last_activity_ticks, reactor_get_ticks());
}

void nvmf_request_complete_status(struct nvmf_request *req, uint16_t status)
{
	req->rsp.status = status;
	nvmf_request_complete(req);
}

struct nvmf_ns *nvmf_subsystem_get_ns(struct nvmf_subsystem *s, uint32_t nsid)
{
	if (nsid == 0 || nsid > s->max_nsid)
		return NULL;
	return atomic_load(&s->ns[nsid - 1]);
}

void nvmf_ctrlr_log_error(struct nvmf_ctrlr *ctrlr, const struct nvmf_request *req)
{
	struct nvme_error_log_entry *e = &ctrlr->err_log[ctrlr->err_log_next % 16];

	memset(e, 0, sizeof(*e));
	e->error_count = atomic_fetch_add(&ctrlr->num_err_log_entries, 1) + 1;
	e->cid = req->cmd.cid;
	e->status = req->rsp.status;
	e->nsid = req->cmd.nsid;
	ctrlr->err_log_next = (ctrlr->err_log_next + 1) % 16;
}

/* Three NVMe entries after the header; entry i names "nqn.2026-01.test:sub<i>". */
void *nvmf_discovery_log_build(const char *hostnqn, const struct nvmf_listen_addr *listen_addr, size_t *len)
{
	size_t size = sizeof(struct nvme_discovery_log_hdr) + 3 * sizeof(struct nvme_discovery_log_entry);
	uint8_t *page;

	snprintf(g_disc_hostnqn, sizeof(g_disc_hostnqn), "%s", hostnqn);
	snprintf(g_disc_traddr, sizeof(g_disc_traddr), "%s", listen_addr->traddr);
	if (g_disc_fail)
		return NULL;
	page = calloc(1, size);
	assert_non_null(page);
	nvme_put_le64(page, g_disc_genctr);
	nvme_put_le64(page + 8, 3);
	for (int i = 0; i < 3; i++) {
		struct nvme_discovery_log_entry *e =
			(struct nvme_discovery_log_entry *)(page + 1024 + 1024 * (size_t)i);

		e->trtype = NVME_TRTYPE_TCP;
		e->subtype = NVME_DISC_SUBTYPE_NVME;
		snprintf(e->subnqn, sizeof(e->subnqn), "nqn.2026-01.test:sub%d", i);
	}
	*len = size;
	return page;
}

/* ---- fixture ------------------------------------------------------------------- */

struct fixture {
	struct nvmf_transport transport;
	struct nvmf_qpair admin_qpair, disc_qpair, io_qpair;
	struct nvmf_subsystem subsys, disc;
	_Atomic(struct nvmf_ns *) ns_slots[MAX_NSID];
	struct nvmf_ns ns[3];
	struct bdev *bdev;
	struct nvmf_ctrlr *ctrlr, *disc_ctrlr;
	struct nvmf_qpair *io_qpairs[128];
};

static struct fixture *g_fx;

static void ctrlr_init(struct nvmf_ctrlr *ctrlr, struct nvmf_subsystem *s, struct nvmf_qpair *qpair,
		       uint16_t cntlid)
{
	ctrlr->subsystem = s;
	ctrlr->cntlid = cntlid;
	ctrlr->admin_qpair = qpair;
	ctrlr->max_qpairs = 128;
	ctrlr->vs = NVME_VS(1, 3, 0);
	ctrlr->cc = NVME_CC_EN;
	ctrlr->csts = NVME_CSTS_RDY;
	ctrlr->kato_ms = 10000;
	ctrlr->start_ticks = reactor_get_ticks();
	snprintf(ctrlr->hostnqn, sizeof(ctrlr->hostnqn), "nqn.2014-08.org.nvmexpress:uuid:host");
	for (int i = 0; i < 16; i++)
		ctrlr->hostid[i] = (uint8_t)(0xa0 + i);
	qpair->ctrlr = ctrlr;
	qpair->transport = &g_fx->transport;
	qpair->state = NVMF_QPAIR_ACTIVE;
	snprintf(qpair->listen_addr.trtype, sizeof(qpair->listen_addr.trtype), "TCP");
	snprintf(qpair->listen_addr.adrfam, sizeof(qpair->listen_addr.adrfam), "IPv4");
	snprintf(qpair->listen_addr.traddr, sizeof(qpair->listen_addr.traddr), "192.0.2.1");
	snprintf(qpair->listen_addr.trsvcid, sizeof(qpair->listen_addr.trsvcid), "4420");
}

static void ns_activate(uint32_t nsid, int which)
{
	struct nvmf_ns *ns = &g_fx->ns[which];

	ns->nsid = nsid;
	atomic_store(&g_fx->subsys.ns[nsid - 1], ns);
}

static int fx_setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	static int seq;
	char name[32];
	int rc;

	h_setup(state);
	assert_non_null(fx);
	g_fx = fx;
	fx->transport.opts = (struct nvmf_transport_opts){
		.max_queue_depth = 128, .max_aq_depth = 128, .max_qpairs_per_ctrlr = 128,
		.in_capsule_data_size = 4096, .max_io_size = 131072, .io_unit_size = 131072,
	};
	fx->subsys.subtype = NVMF_SUBTYPE_NVME;
	snprintf(fx->subsys.nqn, sizeof(fx->subsys.nqn), "nqn.2026-01.io.libreactor:cnode1");
	snprintf(fx->subsys.serial, sizeof(fx->subsys.serial), "SN0001");
	snprintf(fx->subsys.model, sizeof(fx->subsys.model), "Test Model");
	fx->subsys.max_nsid = MAX_NSID;
	fx->subsys.ns = fx->ns_slots;
	pthread_mutex_init(&fx->subsys.ctrlr_lock, NULL);
	fx->disc.subtype = NVMF_SUBTYPE_DISCOVERY;
	snprintf(fx->disc.nqn, sizeof(fx->disc.nqn), "%s", NVME_DISCOVERY_NQN);
	pthread_mutex_init(&fx->disc.ctrlr_lock, NULL);

	snprintf(name, sizeof(name), "Malloc%d", seq++);
	rc = bdev_malloc_create(name, NBLOCKS, BS, NULL, &fx->bdev);
	assert_int_equal(rc, 0);
	for (int i = 0; i < 3; i++) {
		fx->ns[i].bdev = fx->bdev;
		fx->ns[i].subsystem = &fx->subsys;
		fx->ns[i].anagrpid = 1;
	}
	memcpy(fx->ns[0].nguid, "0123456789abcdef", 16);
	memcpy(fx->ns[0].eui64, "EUI64id!", 8);
	memcpy(fx->ns[0].uuid, "uuid-uuid-uuid-!", 16);
	fx->ns[0].has_nguid = fx->ns[0].has_eui64 = fx->ns[0].has_uuid = true;

	fx->ctrlr = calloc(1, sizeof(*fx->ctrlr));
	fx->disc_ctrlr = calloc(1, sizeof(*fx->disc_ctrlr));
	assert_non_null(fx->ctrlr);
	assert_non_null(fx->disc_ctrlr);
	ctrlr_init(fx->ctrlr, &fx->subsys, &fx->admin_qpair, 1);
	ctrlr_init(fx->disc_ctrlr, &fx->disc, &fx->disc_qpair, 2);
	fx->ctrlr->io_qpairs = fx->io_qpairs;
	g_last_done = NULL;
	g_num_done = 0;
	g_disc_fail = false;
	return 0;
}

static int fx_teardown(void **state)
{
	/* The malloc bdevs stay registered (deleting needs a running app); names are unique. */
	free(g_fx->ctrlr);
	free(g_fx->disc_ctrlr);
	free(g_fx);
	g_fx = NULL;
	return h_teardown(state);
}

/* ---- issuing commands ------------------------------------------------------------ */

struct cmd {
	uint8_t opc;
	uint32_t nsid, cdw10, cdw11, cdw12, cdw13, cdw14;
	uint16_t cid;
};

struct result {
	bool done;
	uint16_t status;
	uint32_t dw0;
};

/* A request whose data buffer is split in two iovecs (at 1000 bytes) and pre-filled with 0xAA. */
static struct nvmf_request *req_new(struct nvmf_ctrlr *ctrlr, const struct cmd *c, uint32_t len)
{
	struct nvmf_request *req = calloc(1, sizeof(*req));
	uint8_t *data = malloc(len ? len : 1);

	assert_non_null(req);
	assert_non_null(data);
	memset(data, 0xaa, len);
	req->qpair = ctrlr->admin_qpair;
	req->cmd.opc = c->opc;
	req->cmd.cid = c->cid;
	req->cmd.nsid = c->nsid;
	req->cmd.cdw10 = c->cdw10;
	req->cmd.cdw11 = c->cdw11;
	req->cmd.cdw12 = c->cdw12;
	req->cmd.cdw13 = c->cdw13;
	req->cmd.cdw14 = c->cdw14;
	req->length = len;
	req->xfer = len ? NVMF_XFER_CTRLR_TO_HOST : NVMF_XFER_NONE;
	if (len > 1000) {
		req->iov[0] = (struct iovec){ data, 1000 };
		req->iov[1] = (struct iovec){ data + 1000, len - 1000 };
		req->iovcnt = 2;
	} else {
		req->iov[0] = (struct iovec){ data, len };
		req->iovcnt = 1;
	}
	return req;
}

static void req_free(struct nvmf_request *req)
{
	free(req->iov[0].iov_base);
	free(req);
}

static struct result req_result(struct nvmf_request *req)
{
	return (struct result){ .done = g_last_done == req, .status = req->rsp.status, .dw0 = req->rsp.cdw0 };
}

/* Run one command; copy up to @p len bytes of its data into @p out. */
static struct result run(struct nvmf_ctrlr *ctrlr, const struct cmd *c, void *out, uint32_t len)
{
	struct nvmf_request *req = req_new(ctrlr, c, len);
	struct result r;

	g_last_done = NULL;
	nvmf_admin_exec(req);
	r = req_result(req);
	assert_true(r.done);
	if (out && len) {
		memcpy(out, req->iov[0].iov_base, req->iov[0].iov_len);
		if (req->iovcnt == 2)
			memcpy((uint8_t *)out + 1000, req->iov[1].iov_base, req->iov[1].iov_len);
	}
	req_free(req);
	return r;
}

static struct result identify(struct nvmf_ctrlr *ctrlr, uint8_t cns, uint32_t nsid, uint8_t csi, void *out)
{
	struct cmd c = { .opc = NVME_OPC_IDENTIFY, .nsid = nsid, .cdw10 = cns, .cdw11 = (uint32_t)csi << 24 };

	return run(ctrlr, &c, out, 4096);
}

static struct result get_log(struct nvmf_ctrlr *ctrlr, uint8_t lid, uint32_t nsid, uint64_t offset,
			     uint32_t len, bool rae, void *out)
{
	uint32_t numd = len / 4 - 1;
	struct cmd c = {
		.opc = NVME_OPC_GET_LOG_PAGE, .nsid = nsid,
		.cdw10 = lid | (rae ? 1u << 15 : 0) | (numd << 16), .cdw11 = numd >> 16,
		.cdw12 = (uint32_t)offset, .cdw13 = (uint32_t)(offset >> 32),
	};

	return run(ctrlr, &c, out, len);
}

static struct result get_feat(struct nvmf_ctrlr *ctrlr, uint8_t fid, unsigned sel, uint32_t cdw11)
{
	struct cmd c = { .opc = NVME_OPC_GET_FEATURES, .cdw10 = fid | (sel << 8), .cdw11 = cdw11 };

	return run(ctrlr, &c, NULL, 0);
}

static struct result set_feat(struct nvmf_ctrlr *ctrlr, uint8_t fid, uint32_t cdw11, bool save)
{
	struct cmd c = { .opc = NVME_OPC_SET_FEATURES, .cdw10 = fid | (save ? 1u << 31 : 0), .cdw11 = cdw11 };

	return run(ctrlr, &c, NULL, 0);
}

static uint16_t st(unsigned sct, unsigned sc)
{
	return nvme_status(sct, sc, 1);
}

#define ST_INVALID_FIELD st(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD)
#define ST_INVALID_NS st(NVME_SCT_GENERIC, NVME_SC_INVALID_NAMESPACE_OR_FORMAT)
#define ST_INVALID_OPCODE st(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE)
#define ST_SEQUENCE st(NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR)
#define ST_INVALID_LOG st(NVME_SCT_COMMAND_SPECIFIC, NVME_SC_INVALID_LOG_PAGE)

static bool all_bytes(const void *p, size_t len, uint8_t v)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i] != v)
			return false;
	return true;
}

/* ---- Identify ------------------------------------------------------------------------ */

static void test_identify_ctrlr(void **state)
{
	struct nvme_id_ctrlr id;
	struct result r;

	(void)state;
	H_BEGIN();
	ns_activate(1, 0);
	r = identify(g_fx->ctrlr, NVME_CNS_CTRLR, 0, 0, &id);
	assert_int_equal(r.status, 0);
	assert_int_equal(nvme_get_le16(&id.vid), 0);
	assert_memory_equal(id.sn, "SN0001              ", 20);
	assert_memory_equal(id.mn, "Test Model                              ", 40);
	assert_memory_equal(id.fr, "1.0     ", 8);
	assert_int_equal(id.rab, 6);
	assert_int_equal(id.cmic, 0x3);
	assert_int_equal(id.mdts, 5);	/* 128 KiB = 2^5 * 4 KiB */
	assert_int_equal(nvme_get_le16(&id.cntlid), 1);
	assert_int_equal(nvme_get_le32(&id.ver), NVME_VS(1, 3, 0));
	assert_int_equal(nvme_get_le32(&id.oaes), 1u << 8);
	assert_int_equal(nvme_get_le32(&id.ctratt), (1u << 0) | (1u << 6));
	assert_int_equal(id.cntrltype, NVME_CNTRLTYPE_IO);
	assert_int_equal(nvme_get_le16(&id.oacs), 0);
	assert_int_equal(id.acl, 3);
	assert_int_equal(id.aerl, NVMF_MAX_AER - 1);
	assert_int_equal(id.frmw, 0x3);
	assert_int_equal(id.lpa, 0x6);
	assert_int_equal(id.elpe, 15);
	assert_int_equal(id.npss, 0);
	assert_int_equal(nvme_get_le16(&id.wctemp), 343);
	assert_int_equal(nvme_get_le16(&id.cctemp), 373);
	assert_int_equal(nvme_get_le16(&id.kas), 10);
	assert_int_equal(id.sqes, 0x66);
	assert_int_equal(id.cqes, 0x44);
	assert_int_equal(nvme_get_le16(&id.maxcmd), 128);
	assert_int_equal(nvme_get_le32(&id.nn), MAX_NSID);
	assert_int_equal(nvme_get_le32(&id.mnan), MAX_NSID);
	assert_int_equal(nvme_get_le16(&id.oncs), 0x1d);
	assert_int_equal(nvme_get_le16(&id.fuses), 1);
	assert_int_equal(id.vwc, 0x5);
	assert_int_equal(nvme_get_le32(&id.sgls), (1u << 0) | (1u << 20) | (1u << 21));
	assert_string_equal(id.subnqn, "nqn.2026-01.io.libreactor:cnode1");
	assert_int_equal(nvme_get_le32(&id.ioccsz), (64 + 4096) / 16);
	assert_int_equal(nvme_get_le32(&id.iorcsz), 1);
	assert_int_equal(nvme_get_le16(&id.icdoff), 0);
	assert_int_equal(id.fcatt, 0);
	assert_int_equal(id.msdbd, 1);
	assert_int_equal(nvme_get_le16(&id.ofcs), 1);
	assert_int_equal(id.anacap, 0);
	assert_true(all_bytes(id.vs, sizeof(id.vs), 0));

	/* No in-capsule data: no offset SGLs, IOCCSZ is the SQE alone; MDTS follows max_io_size. */
	g_fx->transport.opts.in_capsule_data_size = 0;
	g_fx->transport.opts.max_io_size = 1u << 20;
	r = identify(g_fx->ctrlr, NVME_CNS_CTRLR, 0, 0, &id);
	assert_int_equal(r.status, 0);
	assert_int_equal(nvme_get_le32(&id.sgls), (1u << 0) | (1u << 21));
	assert_int_equal(nvme_get_le32(&id.ioccsz), 4);
	assert_int_equal(id.mdts, 8);

	/* ANA reporting: CMIC bit 3 and the ANA fields. */
	g_fx->subsys.ana_reporting = true;
	r = identify(g_fx->ctrlr, NVME_CNS_CTRLR, 0, 0, &id);
	assert_int_equal(id.cmic, 0xb);
	assert_int_equal(id.anatt, 10);
	assert_int_equal(id.anacap, 0x41);
	assert_int_equal(nvme_get_le32(&id.nanagrpid), MAX_NSID);

	/* Empty serial/model: the defaults, space padded. */
	g_fx->subsys.serial[0] = g_fx->subsys.model[0] = '\0';
	r = identify(g_fx->ctrlr, NVME_CNS_CTRLR, 0, 0, &id);
	assert_memory_equal(id.sn, NVMF_DEFAULT_SERIAL, 20);
	assert_memory_equal(id.mn, "libreactor nvmf-tgtd                    ", 40);
}

static void test_identify_buffer_sizes(void **state)
{
	struct cmd c = { .opc = NVME_OPC_IDENTIFY, .cdw10 = NVME_CNS_CTRLR };
	struct nvmf_request *req;
	uint8_t *data;

	(void)state;
	H_BEGIN();
	/* A short buffer gets the first bytes only. */
	req = req_new(g_fx->ctrlr, &c, 80);
	nvmf_admin_exec(req);
	assert_true(g_last_done == req);
	assert_int_equal(req->rsp.status, 0);
	data = req->iov[0].iov_base;
	assert_int_equal(nvme_get_le16(data + 78), 1);	/* CNTLID */
	assert_memory_equal(data + 4, "SN0001", 6);
	req_free(req);
	/* A longer one: zeroes after the 4096 bytes, not stale memory. */
	req = req_new(g_fx->ctrlr, &c, 8192);
	nvmf_admin_exec(req);
	assert_int_equal(req->rsp.status, 0);
	data = req->iov[1].iov_base;
	assert_true(all_bytes(data + 4096 - 1000, 4096, 0));
	req_free(req);
	/* No data buffer at all: success, nothing written. */
	req = req_new(g_fx->ctrlr, &c, 0);
	nvmf_admin_exec(req);
	assert_true(g_last_done == req);
	assert_int_equal(req->rsp.status, 0);
	req_free(req);
}

static void test_identify_ns(void **state)
{
	struct nvme_id_ns id;
	struct result r;

	(void)state;
	H_BEGIN();
	ns_activate(1, 0);
	ns_activate(2, 1);
	r = identify(g_fx->ctrlr, NVME_CNS_NS, 1, 0, &id);
	assert_int_equal(r.status, 0);
	assert_int_equal(nvme_get_le64(&id.nsze), NBLOCKS);
	assert_int_equal(nvme_get_le64(&id.ncap), NBLOCKS);
	assert_int_equal(nvme_get_le64(&id.nuse), NBLOCKS);
	assert_int_equal(id.nlbaf, 0);
	assert_int_equal(id.flbas, 0);
	assert_int_equal(id.lbaf[0].lbads, 12);
	assert_int_equal(nvme_get_le16(&id.lbaf[0].ms), 0);
	assert_int_equal(id.nmic, 1);
	assert_int_equal(id.dlfeat, 1);	/* malloc: deallocated blocks read as zeroes */
	assert_int_equal(nvme_get_le64(id.nvmcap), (uint64_t)NBLOCKS * BS);
	assert_memory_equal(id.nguid, "0123456789abcdef", 16);
	assert_memory_equal(id.eui64, "EUI64id!", 8);
	assert_int_equal(nvme_get_le32(&id.anagrpid), 0);	/* no ANA reporting */
	assert_true(all_bytes(id.lbaf + 1, sizeof(id.lbaf) - sizeof(id.lbaf[0]), 0));

	/* No identifiers set: zero NGUID/EUI64. */
	r = identify(g_fx->ctrlr, NVME_CNS_NS, 2, 0, &id);
	assert_int_equal(r.status, 0);
	assert_true(all_bytes(id.nguid, 16, 0));
	assert_true(all_bytes(id.eui64, 8, 0));

	g_fx->subsys.ana_reporting = true;
	g_fx->ns[1].anagrpid = 5;
	r = identify(g_fx->ctrlr, NVME_CNS_NS, 2, 0, &id);
	assert_int_equal(nvme_get_le32(&id.anagrpid), 5);

	/* Inactive but valid NSID: all zeroes, success. */
	memset(&id, 0x55, sizeof(id));
	r = identify(g_fx->ctrlr, NVME_CNS_NS, 3, 0, &id);
	assert_int_equal(r.status, 0);
	assert_true(all_bytes(&id, sizeof(id), 0));

	assert_int_equal(identify(g_fx->ctrlr, NVME_CNS_NS, 0, 0, &id).status, ST_INVALID_NS);
	assert_int_equal(identify(g_fx->ctrlr, NVME_CNS_NS, MAX_NSID + 1, 0, &id).status, ST_INVALID_NS);
	assert_int_equal(identify(g_fx->ctrlr, NVME_CNS_NS, 0xffffffffu, 0, &id).status, ST_INVALID_NS);
	assert_int_equal(atomic_load(&g_fx->ctrlr->num_err_log_entries), 3);
}

static void test_active_ns_list(void **state)
{
	uint32_t list[1024];
	struct result r;

	(void)state;
	H_BEGIN();
	ns_activate(1, 0);
	ns_activate(3, 1);
	ns_activate(MAX_NSID, 2);
	r = identify(g_fx->ctrlr, NVME_CNS_ACTIVE_NS_LIST, 0, 0, list);
	assert_int_equal(r.status, 0);
	assert_int_equal(nvme_get_le32(&list[0]), 1);
	assert_int_equal(nvme_get_le32(&list[1]), 3);
	assert_int_equal(nvme_get_le32(&list[2]), MAX_NSID);
	assert_true(all_bytes(&list[3], sizeof(list) - 12, 0));
	r = identify(g_fx->ctrlr, NVME_CNS_ACTIVE_NS_LIST, 3, 0, list);
	assert_int_equal(nvme_get_le32(&list[0]), MAX_NSID);
	assert_int_equal(nvme_get_le32(&list[1]), 0);
	r = identify(g_fx->ctrlr, NVME_CNS_ACTIVE_NS_LIST, MAX_NSID, 0, list);
	assert_int_equal(r.status, 0);
	assert_true(all_bytes(list, sizeof(list), 0));
	/* CNS 07h for the NVM command set: the same list; another CSI: Invalid Field. */
	r = identify(g_fx->ctrlr, NVME_CNS_CSI_ACTIVE_NS_LIST, 1, 0, list);
	assert_int_equal(r.status, 0);
	assert_int_equal(nvme_get_le32(&list[0]), 3);
	assert_int_equal(identify(g_fx->ctrlr, NVME_CNS_CSI_ACTIVE_NS_LIST, 0, 2, list).status,
			 ST_INVALID_FIELD);
	assert_int_equal(identify(g_fx->ctrlr, NVME_CNS_ACTIVE_NS_LIST, 0xfffffffeu, 0, list).status,
			 ST_INVALID_NS);
	assert_int_equal(identify(g_fx->ctrlr, NVME_CNS_ACTIVE_NS_LIST, 0xffffffffu, 0, list).status,
			 ST_INVALID_NS);
}

/* More than 1024 active namespaces: the list pages by NSID. */
static void test_active_ns_list_paging(void **state)
{
	const uint32_t max = 1030;
	_Atomic(struct nvmf_ns *) *slots = calloc(max, sizeof(*slots));
	uint32_t list[1024];
	struct result r;

	(void)state;
	H_BEGIN();
	assert_non_null(slots);
	for (uint32_t i = 0; i < max; i++)
		atomic_store(&slots[i], &g_fx->ns[1]);
	g_fx->subsys.ns = slots;
	g_fx->subsys.max_nsid = max;
	r = identify(g_fx->ctrlr, NVME_CNS_ACTIVE_NS_LIST, 0, 0, list);
	assert_int_equal(r.status, 0);
	for (uint32_t i = 0; i < 1024; i++)
		assert_int_equal(nvme_get_le32(&list[i]), i + 1);
	r = identify(g_fx->ctrlr, NVME_CNS_ACTIVE_NS_LIST, 1024, 0, list);
	for (uint32_t i = 0; i < 6; i++)
		assert_int_equal(nvme_get_le32(&list[i]), 1025 + i);
	assert_int_equal(nvme_get_le32(&list[6]), 0);
	g_fx->subsys.ns = g_fx->ns_slots;
	g_fx->subsys.max_nsid = MAX_NSID;
	free(slots);
}

static void test_ns_desc_list(void **state)
{
	uint8_t buf[4096];
	struct result r;

	(void)state;
	H_BEGIN();
	ns_activate(1, 0);
	ns_activate(2, 1);
	r = identify(g_fx->ctrlr, NVME_CNS_NS_ID_DESC_LIST, 1, 0, buf);
	assert_int_equal(r.status, 0);
	/* EUI64 (4 + 8), NGUID (4 + 16), UUID (4 + 16), CSI (4 + 1), then zeroes. */
	assert_int_equal(buf[0], NVME_NIDT_EUI64);
	assert_int_equal(buf[1], 8);
	assert_memory_equal(buf + 4, "EUI64id!", 8);
	assert_int_equal(buf[12], NVME_NIDT_NGUID);
	assert_int_equal(buf[13], 16);
	assert_memory_equal(buf + 16, "0123456789abcdef", 16);
	assert_int_equal(buf[32], NVME_NIDT_UUID);
	assert_int_equal(buf[33], 16);
	assert_memory_equal(buf + 36, "uuid-uuid-uuid-!", 16);
	assert_int_equal(buf[52], NVME_NIDT_CSI);
	assert_int_equal(buf[53], 1);
	assert_int_equal(buf[56], 0);
	assert_true(all_bytes(buf + 57, sizeof(buf) - 57, 0));
	/* Without identifiers: the CSI descriptor alone. */
	r = identify(g_fx->ctrlr, NVME_CNS_NS_ID_DESC_LIST, 2, 0, buf);
	assert_int_equal(r.status, 0);
	assert_int_equal(buf[0], NVME_NIDT_CSI);
	assert_true(all_bytes(buf + 5, sizeof(buf) - 5, 0));
	assert_int_equal(identify(g_fx->ctrlr, NVME_CNS_NS_ID_DESC_LIST, 3, 0, buf).status, ST_INVALID_NS);
	assert_int_equal(identify(g_fx->ctrlr, NVME_CNS_NS_ID_DESC_LIST, 0, 0, buf).status, ST_INVALID_NS);
}

static void test_identify_csi_and_unknown(void **state)
{
	uint8_t buf[4096];
	struct result r;

	(void)state;
	H_BEGIN();
	ns_activate(1, 0);
	memset(buf, 0x55, sizeof(buf));
	r = identify(g_fx->ctrlr, NVME_CNS_CSI_NS, 1, 0, buf);
	assert_int_equal(r.status, 0);
	assert_true(all_bytes(buf, sizeof(buf), 0));
	assert_int_equal(identify(g_fx->ctrlr, NVME_CNS_CSI_NS, 1, 2, buf).status, ST_INVALID_FIELD);
	assert_int_equal(identify(g_fx->ctrlr, NVME_CNS_CSI_NS, 0, 0, buf).status, ST_INVALID_NS);
	memset(buf, 0x55, sizeof(buf));
	assert_int_equal(identify(g_fx->ctrlr, NVME_CNS_CSI_CTRLR, 0, 0, buf).status, 0);
	assert_true(all_bytes(buf, sizeof(buf), 0));
	assert_int_equal(identify(g_fx->ctrlr, NVME_CNS_CSI_CTRLR, 0, 1, buf).status, ST_INVALID_FIELD);

	r = identify(g_fx->ctrlr, NVME_CNS_CSI_INDEPENDENT_NS, 1, 0, buf);
	assert_int_equal(r.status, 0);
	assert_int_equal(buf[1], 1);	/* NMIC */
	assert_int_equal(buf[14], 1);	/* NSTAT: ready */
	r = identify(g_fx->ctrlr, NVME_CNS_CSI_INDEPENDENT_NS, 2, 0, buf);
	assert_int_equal(r.status, 0);
	assert_true(all_bytes(buf, sizeof(buf), 0));

	r = identify(g_fx->ctrlr, NVME_CNS_CMD_SET_LIST, 0, 0, buf);
	assert_int_equal(r.status, 0);
	assert_int_equal(nvme_get_le64(buf), 1);
	assert_true(all_bytes(buf + 8, sizeof(buf) - 8, 0));

	r = identify(g_fx->ctrlr, 0x55, 0, 0, buf);
	assert_int_equal(r.status, ST_INVALID_FIELD);
	assert_true(r.status & NVME_STATUS_DNR);
	assert_int_equal(identify(g_fx->ctrlr, NVME_CNS_ALLOCATED_NS_LIST, 0, 0, buf).status, ST_INVALID_FIELD);
}

/* ---- Get Log Page ---------------------------------------------------------------------- */

static void test_log_errors_and_statuses(void **state)
{
	struct nvme_error_log_entry e[16];
	struct result r;

	(void)state;
	H_BEGIN();
	/* Three failures: cid 100, 101, 102. */
	for (uint16_t i = 0; i < 3; i++) {
		struct cmd c = { .opc = 0x80, .cid = (uint16_t)(100 + i) };

		assert_int_equal(run(g_fx->ctrlr, &c, NULL, 0).status, ST_INVALID_OPCODE);
	}
	r = get_log(g_fx->ctrlr, NVME_LOG_ERROR, 0, 0, sizeof(e), false, e);
	assert_int_equal(r.status, 0);
	assert_int_equal(e[0].cid, 102);	/* newest first */
	assert_int_equal(e[0].error_count, 3);
	assert_int_equal(e[2].cid, 100);
	assert_int_equal(e[2].status, ST_INVALID_OPCODE);
	assert_int_equal(e[3].error_count, 0);
	/* The ring wraps: 20 more, the newest 16 are shown. */
	for (uint16_t i = 0; i < 20; i++) {
		struct cmd c = { .opc = 0x80, .cid = (uint16_t)(200 + i) };

		run(g_fx->ctrlr, &c, NULL, 0);
	}
	r = get_log(g_fx->ctrlr, NVME_LOG_ERROR, 0, 0, sizeof(e), false, e);
	assert_int_equal(e[0].cid, 219);
	assert_int_equal(e[15].cid, 204);
	assert_int_equal(e[0].error_count, 23);
	/* An offset of one entry. */
	r = get_log(g_fx->ctrlr, NVME_LOG_ERROR, 0, 64, 64, false, e);
	assert_int_equal(r.status, 0);
	assert_int_equal(e[0].cid, 218);

	/* Unknown LID, the discovery log on an I/O controller, unaligned or too large offsets. */
	r = get_log(g_fx->ctrlr, 0x7f, 0, 0, 512, false, e);
	assert_int_equal(r.status, ST_INVALID_LOG);
	assert_int_equal(nvme_status_sct(r.status), NVME_SCT_COMMAND_SPECIFIC);
	assert_true(r.status & NVME_STATUS_DNR);
	assert_int_equal(get_log(g_fx->ctrlr, NVME_LOG_DISCOVERY, 0, 0, 1024, false, e).status, ST_INVALID_LOG);
	assert_int_equal(get_log(g_fx->ctrlr, NVME_LOG_ANA, 0, 0, 1024, false, e).status, ST_INVALID_LOG);
	assert_int_equal(get_log(g_fx->ctrlr, NVME_LOG_SMART, 0, 2, 64, false, e).status, ST_INVALID_FIELD);
	assert_int_equal(get_log(g_fx->ctrlr, NVME_LOG_SMART, 0, 516, 64, false, e).status, ST_INVALID_FIELD);
	assert_int_equal(get_log(g_fx->ctrlr, NVME_LOG_SMART, 0, 1ull << 32, 64, false, e).status,
			 ST_INVALID_FIELD);
}

static void test_log_smart(void **state)
{
	struct nvme_smart_log s;
	struct result r;

	(void)state;
	H_BEGIN();
	r = get_log(g_fx->ctrlr, NVME_LOG_SMART, 0xffffffffu, 0, sizeof(s), false, &s);
	assert_int_equal(r.status, 0);
	assert_int_equal(s.critical_warning, 0);
	assert_int_equal(nvme_get_le16(&s.temperature), 323);
	assert_int_equal(s.avail_spare, 100);
	assert_int_equal(nvme_get_le64(s.data_units_read), 0);
	assert_int_equal(nvme_get_le64(s.host_read_commands), 0);
	assert_int_equal(nvme_get_le64(s.power_cycles), 1);
	assert_int_equal(nvme_get_le64(s.power_on_hours), 0);

	/* What io.c adds for 3 reads of 256 KiB and 1 write of 4 KiB (512-byte units). */
	atomic_fetch_add(&g_fx->ctrlr->host_read_cmds, 3);
	atomic_fetch_add(&g_fx->ctrlr->data_units_read, 3 * 512);
	atomic_fetch_add(&g_fx->ctrlr->host_write_cmds, 1);
	atomic_fetch_add(&g_fx->ctrlr->data_units_written, 8);
	r = get_log(g_fx->ctrlr, NVME_LOG_SMART, 0, 0, sizeof(s), false, &s);
	assert_int_equal(r.status, 0);
	assert_int_equal(nvme_get_le64(s.data_units_read), 2);	/* 1536 / 1000, rounded up */
	assert_int_equal(nvme_get_le64(s.data_units_read + 8), 0);
	assert_int_equal(nvme_get_le64(s.data_units_written), 1);
	assert_int_equal(nvme_get_le64(s.host_read_commands), 3);
	assert_int_equal(nvme_get_le64(s.host_write_commands), 1);

	/* Power-on hours from the controller's start. */
	g_fx->ctrlr->start_ticks = reactor_get_ticks() - 5 * 3600 * reactor_get_ticks_hz();
	r = get_log(g_fx->ctrlr, NVME_LOG_SMART, 0, 0, sizeof(s), false, &s);
	assert_int_equal(nvme_get_le64(s.power_on_hours), 5);

	/* An over-temperature threshold below the temperature raises the warning. */
	assert_int_equal(set_feat(g_fx->ctrlr, NVME_FEAT_TEMPERATURE_THRESHOLD, 300, false).status, 0);
	r = get_log(g_fx->ctrlr, NVME_LOG_SMART, 0, 0, sizeof(s), false, &s);
	assert_int_equal(s.critical_warning, 1u << 1);
	assert_int_equal(nvme_get_le64(s.num_err_log_entries), 0);

	/* Per-namespace pages are not offered (LPA bit 0 clear). */
	assert_int_equal(get_log(g_fx->ctrlr, NVME_LOG_SMART, 1, 0, sizeof(s), false, &s).status,
			 ST_INVALID_FIELD);
	r = get_log(g_fx->ctrlr, NVME_LOG_SMART, 0, 0, sizeof(s), false, &s);
	assert_int_equal(nvme_get_le64(s.num_err_log_entries), 1);
	/* A short read: the first dwords only. */
	r = get_log(g_fx->ctrlr, NVME_LOG_SMART, 0, 32, 8, false, &s);
	assert_int_equal(r.status, 0);
	assert_int_equal(nvme_get_le64(&s), 2);
}

static void test_log_firmware_and_effects(void **state)
{
	struct nvme_fw_slot_log fw;
	struct nvme_cmds_effects_log *ef = malloc(sizeof(*ef));
	uint32_t part[4];
	struct result r;

	(void)state;
	H_BEGIN();
	assert_non_null(ef);
	r = get_log(g_fx->ctrlr, NVME_LOG_FIRMWARE_SLOT, 0, 0, sizeof(fw), false, &fw);
	assert_int_equal(r.status, 0);
	assert_int_equal(fw.afi, 1);
	assert_memory_equal(fw.frs[0], "1.0     ", 8);
	assert_true(all_bytes(fw.frs[1], 6 * 8, 0));

	r = get_log(g_fx->ctrlr, NVME_LOG_COMMANDS_EFFECTS, 0, 0, sizeof(*ef), false, ef);
	assert_int_equal(r.status, 0);
	for (unsigned opc = 0; opc < 256; opc++) {
		uint32_t acs = nvme_get_le32((uint8_t *)ef + 4 * opc);
		uint32_t iocs = nvme_get_le32((uint8_t *)ef + 1024 + 4 * opc);
		bool admin = opc == 0x02 || opc == 0x06 || opc == 0x08 || opc == 0x09 || opc == 0x0a ||
			     opc == 0x0c || opc == 0x18;
		bool io = opc <= 0x02 || opc == 0x05 || opc == 0x08 || opc == 0x09;
		bool lbcc = opc == 0x01 || opc == 0x08 || opc == 0x09;

		assert_int_equal(acs, admin ? 1u : 0u);
		assert_int_equal(iocs, io ? (lbcc ? 3u : 1u) : 0u);
	}
	/* Offset into the I/O table. */
	r = get_log(g_fx->ctrlr, NVME_LOG_COMMANDS_EFFECTS, 0, 1024, sizeof(part), false, part);
	assert_int_equal(r.status, 0);
	assert_int_equal(nvme_get_le32(&part[0]), 1);	/* flush */
	assert_int_equal(nvme_get_le32(&part[1]), 3);	/* write */
	assert_int_equal(nvme_get_le32(&part[2]), 1);	/* read */
	assert_int_equal(nvme_get_le32(&part[3]), 0);
	/* Another command set: Invalid Field. */
	{
		struct cmd c = { .opc = NVME_OPC_GET_LOG_PAGE, .cdw10 = NVME_LOG_COMMANDS_EFFECTS | (1023u << 16),
				 .cdw14 = 2u << 24 };

		assert_int_equal(run(g_fx->ctrlr, &c, ef, 4096).status, ST_INVALID_FIELD);
	}
	free(ef);
}

static void test_log_ana(void **state)
{
	uint8_t buf[1024];
	struct result r;

	(void)state;
	H_BEGIN();
	g_fx->subsys.ana_reporting = true;
	g_fx->ns[0].anagrpid = 1;
	g_fx->ns[1].anagrpid = 2;
	g_fx->ns[2].anagrpid = 1;
	ns_activate(1, 0);
	ns_activate(2, 1);
	ns_activate(4, 2);
	r = get_log(g_fx->ctrlr, NVME_LOG_ANA, 0, 0, sizeof(buf), false, buf);
	assert_int_equal(r.status, 0);
	assert_int_equal(nvme_get_le16(buf + 8), 2);	/* groups */
	assert_int_equal(nvme_get_le32(buf + 16), 1);	/* group 1: NSIDs 1 and 4 */
	assert_int_equal(nvme_get_le32(buf + 20), 2);
	assert_int_equal(buf[16 + 16], 0x01);		/* optimized */
	assert_int_equal(nvme_get_le32(buf + 48), 1);
	assert_int_equal(nvme_get_le32(buf + 52), 4);
	assert_int_equal(nvme_get_le32(buf + 56), 2);	/* group 2: NSID 2 */
	assert_int_equal(nvme_get_le32(buf + 60), 1);
	assert_int_equal(nvme_get_le32(buf + 88), 2);
	assert_true(all_bytes(buf + 92, sizeof(buf) - 92, 0));
	/* RGO: groups without NSIDs. */
	{
		struct cmd c = { .opc = NVME_OPC_GET_LOG_PAGE, .cdw10 = NVME_LOG_ANA | (1u << 8) | (255u << 16) };

		r = run(g_fx->ctrlr, &c, buf, sizeof(buf));
		assert_int_equal(r.status, 0);
		assert_int_equal(nvme_get_le32(buf + 20), 0);
		assert_int_equal(nvme_get_le32(buf + 48), 2);
	}
}

/* ---- features ---------------------------------------------------------------------------------- */

static void test_features(void **state)
{
	struct result r;

	(void)state;
	H_BEGIN();
	/* Defaults, then changes remembered. */
	assert_int_equal(get_feat(g_fx->ctrlr, NVME_FEAT_ARBITRATION, 0, 0).dw0, 7);
	assert_int_equal(set_feat(g_fx->ctrlr, NVME_FEAT_ARBITRATION, 0x01020302, false).status, 0);
	assert_int_equal(get_feat(g_fx->ctrlr, NVME_FEAT_ARBITRATION, 0, 0).dw0, 0x01020302);
	assert_int_equal(get_feat(g_fx->ctrlr, NVME_FEAT_ARBITRATION, 1, 0).dw0, 7);	/* default */
	assert_int_equal(get_feat(g_fx->ctrlr, NVME_FEAT_ARBITRATION, 2, 0).dw0, 7);	/* saved */
	r = get_feat(g_fx->ctrlr, NVME_FEAT_ARBITRATION, 3, 0);	/* capabilities */
	assert_int_equal(r.status, 0);
	assert_int_equal(r.dw0, 1u << 2);
	assert_int_equal(get_feat(g_fx->ctrlr, NVME_FEAT_ARBITRATION, 4, 0).status, ST_INVALID_FIELD);

	assert_int_equal(set_feat(g_fx->ctrlr, NVME_FEAT_POWER_MANAGEMENT, 0, false).status, 0);
	assert_int_equal(set_feat(g_fx->ctrlr, NVME_FEAT_POWER_MANAGEMENT, 1, false).status, ST_INVALID_FIELD);
	assert_int_equal(get_feat(g_fx->ctrlr, NVME_FEAT_POWER_MANAGEMENT, 0, 0).dw0, 0);

	/* Temperature: over and under thresholds of the composite sensor. */
	assert_int_equal(get_feat(g_fx->ctrlr, NVME_FEAT_TEMPERATURE_THRESHOLD, 0, 0).dw0, 343);
	assert_int_equal(set_feat(g_fx->ctrlr, NVME_FEAT_TEMPERATURE_THRESHOLD, 350, false).status, 0);
	assert_int_equal(set_feat(g_fx->ctrlr, NVME_FEAT_TEMPERATURE_THRESHOLD, 270 | (1u << 20), false).status,
			 0);
	assert_int_equal(get_feat(g_fx->ctrlr, NVME_FEAT_TEMPERATURE_THRESHOLD, 0, 0).dw0, 350);
	assert_int_equal(get_feat(g_fx->ctrlr, NVME_FEAT_TEMPERATURE_THRESHOLD, 0, 1u << 20).dw0, 270);
	assert_int_equal(get_feat(g_fx->ctrlr, NVME_FEAT_TEMPERATURE_THRESHOLD, 0, 0xfu << 16).dw0, 350);
	assert_int_equal(set_feat(g_fx->ctrlr, NVME_FEAT_TEMPERATURE_THRESHOLD, 300 | (1u << 16), false).status,
			 ST_INVALID_FIELD);
	assert_int_equal(set_feat(g_fx->ctrlr, NVME_FEAT_TEMPERATURE_THRESHOLD, 300 | (2u << 20), false).status,
			 ST_INVALID_FIELD);

	assert_int_equal(set_feat(g_fx->ctrlr, NVME_FEAT_ERROR_RECOVERY, 5, false).status, 0);
	assert_int_equal(get_feat(g_fx->ctrlr, NVME_FEAT_ERROR_RECOVERY, 0, 0).dw0, 5);
	assert_int_equal(set_feat(g_fx->ctrlr, NVME_FEAT_ERROR_RECOVERY, 1u << 16, false).status, ST_INVALID_FIELD);

	assert_int_equal(get_feat(g_fx->ctrlr, NVME_FEAT_VOLATILE_WRITE_CACHE, 0, 0).dw0, 1);
	assert_int_equal(set_feat(g_fx->ctrlr, NVME_FEAT_VOLATILE_WRITE_CACHE, 0, false).status, 0);
	assert_false(g_fx->ctrlr->volatile_wc);
	assert_int_equal(get_feat(g_fx->ctrlr, NVME_FEAT_VOLATILE_WRITE_CACHE, 0, 0).dw0, 0);
	assert_int_equal(get_feat(g_fx->ctrlr, NVME_FEAT_VOLATILE_WRITE_CACHE, 1, 0).dw0, 1);

	/* Write Atomicity Normal: the DN bit is kept. */
	assert_int_equal(get_feat(g_fx->ctrlr, NVME_FEAT_WRITE_ATOMICITY, 0, 0).dw0, 0);
	assert_int_equal(set_feat(g_fx->ctrlr, NVME_FEAT_WRITE_ATOMICITY, 1, false).status, 0);
	assert_int_equal(get_feat(g_fx->ctrlr, NVME_FEAT_WRITE_ATOMICITY, 0, 0).dw0, 1);
	assert_int_equal(get_feat(g_fx->ctrlr, NVME_FEAT_WRITE_ATOMICITY, 1, 0).dw0, 0);

	/* Keep alive: rounded up to the 1 s granularity of KAS. */
	assert_int_equal(get_feat(g_fx->ctrlr, NVME_FEAT_KEEP_ALIVE_TIMER, 0, 0).dw0, 10000);
	assert_int_equal(set_feat(g_fx->ctrlr, NVME_FEAT_KEEP_ALIVE_TIMER, 1500, false).status, 0);
	assert_int_equal(g_fx->ctrlr->kato_ms, 2000);
	assert_int_equal(set_feat(g_fx->ctrlr, NVME_FEAT_KEEP_ALIVE_TIMER, 0, false).status, 0);
	assert_int_equal(g_fx->ctrlr->kato_ms, 0);
	assert_int_equal(set_feat(g_fx->ctrlr, NVME_FEAT_KEEP_ALIVE_TIMER, 0xffffffffu, false).status, 0);
	assert_true(g_fx->ctrlr->kato_ms >= 0xffffffffu - 1000u);

	/* Async event configuration: only supported bits. */
	assert_int_equal(get_feat(g_fx->ctrlr, NVME_FEAT_ASYNC_EVENT_CONFIG, 0, 0).dw0, 1u << 8);
	assert_int_equal(set_feat(g_fx->ctrlr, NVME_FEAT_ASYNC_EVENT_CONFIG, 0x1ff, false).status, 0);
	assert_int_equal(get_feat(g_fx->ctrlr, NVME_FEAT_ASYNC_EVENT_CONFIG, 0, 0).dw0, 0x1ff);
	assert_int_equal(set_feat(g_fx->ctrlr, NVME_FEAT_ASYNC_EVENT_CONFIG, 1u << 31, false).status,
			 ST_INVALID_FIELD);

	/* Save: not saveable; unknown and PCIe-only FIDs: Invalid Field. */
	r = set_feat(g_fx->ctrlr, NVME_FEAT_ARBITRATION, 0, true);
	assert_int_equal(r.status, st(NVME_SCT_COMMAND_SPECIFIC, NVME_SC_FEATURE_ID_NOT_SAVEABLE));
	assert_int_equal(set_feat(g_fx->ctrlr, NVME_FEAT_INTERRUPT_COALESCING, 0, false).status, ST_INVALID_FIELD);
	assert_int_equal(get_feat(g_fx->ctrlr, NVME_FEAT_INTERRUPT_VECTOR_CONFIG, 0, 0).status, ST_INVALID_FIELD);
	assert_int_equal(get_feat(g_fx->ctrlr, 0x7e, 0, 0).status, ST_INVALID_FIELD);
	assert_int_equal(set_feat(g_fx->ctrlr, 0xc0, 0, false).status, ST_INVALID_FIELD);
}

static void test_feature_number_of_queues(void **state)
{
	struct nvmf_qpair io;
	struct result r;

	(void)state;
	H_BEGIN();
	/* Before any Set: the maximum (127 I/O queues, 0's based). */
	r = get_feat(g_fx->ctrlr, NVME_FEAT_NUMBER_OF_QUEUES, 0, 0);
	assert_int_equal(r.dw0, 126u | (126u << 16));
	r = set_feat(g_fx->ctrlr, NVME_FEAT_NUMBER_OF_QUEUES, 3 | (7u << 16), false);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.dw0, 3u | (7u << 16));
	assert_int_equal(g_fx->ctrlr->num_io_queues, 4);
	assert_int_equal(get_feat(g_fx->ctrlr, NVME_FEAT_NUMBER_OF_QUEUES, 0, 0).dw0, 3u | (3u << 16));
	assert_int_equal(get_feat(g_fx->ctrlr, NVME_FEAT_NUMBER_OF_QUEUES, 1, 0).dw0, 126u | (126u << 16));
	r = set_feat(g_fx->ctrlr, NVME_FEAT_NUMBER_OF_QUEUES, 1000 | (1000u << 16), false);
	assert_int_equal(r.dw0, 126u | (126u << 16));
	assert_int_equal(g_fx->ctrlr->num_io_queues, 127);
	assert_int_equal(set_feat(g_fx->ctrlr, NVME_FEAT_NUMBER_OF_QUEUES, 0xffff, false).status, ST_INVALID_FIELD);
	/* Once an I/O queue exists: Command Sequence Error. */
	g_fx->io_qpairs[2] = &io;
	atomic_store(&g_fx->ctrlr->num_io_qpairs, 1);
	assert_int_equal(set_feat(g_fx->ctrlr, NVME_FEAT_NUMBER_OF_QUEUES, 1, false).status, ST_SEQUENCE);
	g_fx->io_qpairs[2] = NULL;
	atomic_store(&g_fx->ctrlr->num_io_qpairs, 0);
}

static void test_feature_host_identifier(void **state)
{
	struct cmd c = { .opc = NVME_OPC_GET_FEATURES, .cdw10 = NVME_FEAT_HOST_IDENTIFIER, .cdw11 = 1 };
	uint8_t buf[16];
	struct result r;

	(void)state;
	H_BEGIN();
	r = run(g_fx->ctrlr, &c, buf, sizeof(buf));
	assert_int_equal(r.status, 0);
	assert_memory_equal(buf, g_fx->ctrlr->hostid, 16);
	c.cdw11 = 0;	/* 64-bit host identifier: not what Connect gives */
	assert_int_equal(run(g_fx->ctrlr, &c, buf, sizeof(buf)).status, ST_INVALID_FIELD);
	assert_int_equal(set_feat(g_fx->ctrlr, NVME_FEAT_HOST_IDENTIFIER, 1, false).status, ST_SEQUENCE);
	r = get_feat(g_fx->ctrlr, NVME_FEAT_HOST_IDENTIFIER, 3, 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.dw0, 0);	/* not changeable */
}

/* ---- asynchronous events ---------------------------------------------------------------- */

static struct nvmf_request *aer_submit(struct nvmf_ctrlr *ctrlr, uint16_t cid)
{
	struct cmd c = { .opc = NVME_OPC_ASYNC_EVENT_REQUEST, .cid = cid };
	struct nvmf_request *req = req_new(ctrlr, &c, 0);

	g_last_done = NULL;
	nvmf_admin_exec(req);
	return req;
}

static void test_aer_ns_changed(void **state)
{
	struct nvmf_request *aer[NVMF_MAX_AER], *extra;
	struct nvmf_ctrlr *ctrlr;
	uint32_t list[1024];
	unsigned done_before;

	(void)state;
	H_BEGIN();
	ctrlr = g_fx->ctrlr;
	for (int i = 0; i < NVMF_MAX_AER; i++) {
		aer[i] = aer_submit(ctrlr, (uint16_t)(10 + i));
		assert_null(g_last_done);	/* parked */
	}
	assert_int_equal(ctrlr->num_aer, NVMF_MAX_AER);
	extra = aer_submit(ctrlr, 99);
	assert_true(g_last_done == extra);
	assert_int_equal(extra->rsp.status,
			 st(NVME_SCT_COMMAND_SPECIFIC, NVME_SC_ASYNC_EVENT_REQUEST_LIMIT_EXCEEDED));
	req_free(extra);

	/* Hot add of NSID 5: one notice, on the oldest AER. */
	ns_activate(5, 1);
	nvmf_ctrlr_note_ns_changed(ctrlr, 5);
	assert_true(g_last_done == aer[0]);
	assert_int_equal(aer[0]->rsp.status, 0);
	assert_int_equal(aer[0]->rsp.cdw0, AEN_NS_DW0);
	assert_int_equal(ctrlr->num_aer, NVMF_MAX_AER - 1);
	/* Masked until the log is read: a second change only joins the list. */
	done_before = g_num_done;
	nvmf_ctrlr_note_ns_changed(ctrlr, 6);
	nvmf_ctrlr_note_ns_changed(ctrlr, 5);
	assert_int_equal(g_num_done, done_before);

	/* RAE set: the list is kept and the notice stays masked. */
	assert_int_equal(get_log(ctrlr, NVME_LOG_CHANGED_NS_LIST, 0, 0, sizeof(list), true, list).status, 0);
	assert_int_equal(nvme_get_le32(&list[0]), 5);
	assert_int_equal(nvme_get_le32(&list[1]), 6);
	assert_int_equal(nvme_get_le32(&list[2]), 0);
	done_before = g_num_done;
	nvmf_ctrlr_note_ns_changed(ctrlr, 7);
	assert_int_equal(g_num_done, done_before);
	/* RAE clear: read, cleared, unmasked. */
	assert_int_equal(get_log(ctrlr, NVME_LOG_CHANGED_NS_LIST, 0, 0, sizeof(list), false, list).status, 0);
	assert_int_equal(nvme_get_le32(&list[2]), 7);
	assert_int_equal(get_log(ctrlr, NVME_LOG_CHANGED_NS_LIST, 0, 0, sizeof(list), false, list).status, 0);
	assert_true(all_bytes(list, sizeof(list), 0));
	/* Hot remove of NSID 5: the next notice fires. */
	atomic_store(&g_fx->subsys.ns[4], NULL);
	nvmf_ctrlr_note_ns_changed(ctrlr, 5);
	assert_true(g_last_done == aer[1]);
	assert_int_equal(aer[1]->rsp.cdw0, AEN_NS_DW0);

	/* AEC without the notice bit: the list grows, no AER completes. */
	get_log(ctrlr, NVME_LOG_CHANGED_NS_LIST, 0, 0, sizeof(list), false, list);
	assert_int_equal(set_feat(ctrlr, NVME_FEAT_ASYNC_EVENT_CONFIG, 0, false).status, 0);
	done_before = g_num_done;
	nvmf_ctrlr_note_ns_changed(ctrlr, 9);
	assert_int_equal(g_num_done, done_before);
	assert_int_equal(ctrlr->num_changed_ns, 1);

	/* Over 1024 changes: a single FFFFFFFFh entry. */
	for (uint32_t nsid = 1; nsid <= 1100; nsid++)
		nvmf_ctrlr_note_ns_changed(ctrlr, nsid);
	assert_int_equal(get_log(ctrlr, NVME_LOG_CHANGED_NS_LIST, 0, 0, sizeof(list), false, list).status, 0);
	assert_int_equal(nvme_get_le32(&list[0]), 0xffffffffu);
	assert_int_equal(nvme_get_le32(&list[1]), 0);

	/* An event waiting for an AER: delivered when one arrives. */
	assert_int_equal(set_feat(ctrlr, NVME_FEAT_ASYNC_EVENT_CONFIG, 1u << 8, false).status, 0);
	nvmf_ctrlr_abort_aers(ctrlr);
	assert_int_equal(aer[3]->rsp.status, nvme_status(NVME_SCT_GENERIC, NVME_SC_ABORTED_SQ_DELETION, 0));
	assert_int_equal(aer[2]->rsp.status, nvme_status(NVME_SCT_GENERIC, NVME_SC_ABORTED_SQ_DELETION, 0));
	assert_int_equal(ctrlr->num_aer, 0);
	nvmf_ctrlr_note_ns_changed(ctrlr, 3);
	extra = aer_submit(ctrlr, 50);
	assert_true(g_last_done == extra);
	assert_int_equal(extra->rsp.cdw0, AEN_NS_DW0);
	req_free(extra);
	for (int i = 0; i < NVMF_MAX_AER; i++)
		req_free(aer[i]);
}

static void test_abort_and_keep_alive(void **state)
{
	struct nvmf_request *a, *b;
	struct cmd c = { .opc = NVME_OPC_ABORT };
	struct result r;

	(void)state;
	H_BEGIN();
	a = aer_submit(g_fx->ctrlr, 21);
	b = aer_submit(g_fx->ctrlr, 22);
	/* Abort a parked AER: it completes Aborted by Request; DW0 0 = aborted. */
	c.cdw10 = 0 | (22u << 16);
	r = run(g_fx->ctrlr, &c, NULL, 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.dw0, 0);
	assert_int_equal(b->rsp.status, nvme_status(NVME_SCT_GENERIC, NVME_SC_ABORTED_BY_REQUEST, 0));
	assert_int_equal(g_fx->ctrlr->num_aer, 1);
	assert_true(g_fx->ctrlr->aer[0] == a);
	/* Anything else: not aborted (DW0 bit 0). */
	c.cdw10 = 1 | (22u << 16);
	r = run(g_fx->ctrlr, &c, NULL, 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.dw0, 1);
	c.cdw10 = 0 | (77u << 16);
	assert_int_equal(run(g_fx->ctrlr, &c, NULL, 0).dw0, 1);
	nvmf_ctrlr_abort_aers(g_fx->ctrlr);
	req_free(a);
	req_free(b);

	/* Keep Alive: success and the activity time moves. */
	atomic_store(&g_fx->ctrlr->last_activity_ticks, 0);
	c = (struct cmd){ .opc = NVME_OPC_KEEP_ALIVE };
	assert_int_equal(run(g_fx->ctrlr, &c, NULL, 0).status, 0);
	assert_true(atomic_load(&g_fx->ctrlr->last_activity_ticks) > 0);
}

static void test_opcodes_and_state(void **state)
{
	static const uint8_t unsupported[] = {
		NVME_OPC_DELETE_IO_SQ, NVME_OPC_CREATE_IO_SQ, NVME_OPC_DELETE_IO_CQ, NVME_OPC_CREATE_IO_CQ,
		NVME_OPC_NS_MANAGEMENT, NVME_OPC_FIRMWARE_COMMIT, NVME_OPC_FIRMWARE_DOWNLOAD,
		NVME_OPC_DEVICE_SELF_TEST, NVME_OPC_NS_ATTACHMENT, NVME_OPC_DIRECTIVE_SEND,
		NVME_OPC_DIRECTIVE_RECEIVE, NVME_OPC_FORMAT_NVM, NVME_OPC_SANITIZE, 0xc0, 0xff,
	};
	struct cmd c = { 0 };
	uint8_t buf[4096];

	(void)state;
	H_BEGIN();
	for (size_t i = 0; i < sizeof(unsupported); i++) {
		struct result r;

		c.opc = unsupported[i];
		r = run(g_fx->ctrlr, &c, NULL, 0);
		assert_int_equal(r.status, ST_INVALID_OPCODE);
		assert_true(r.status & NVME_STATUS_DNR);
	}
	/* Fused bits or data on a command that takes none change nothing. */
	c = (struct cmd){ .opc = NVME_OPC_KEEP_ALIVE };
	assert_int_equal(run(g_fx->ctrlr, &c, buf, sizeof(buf)).status, 0);
	assert_true(all_bytes(buf, sizeof(buf), 0xaa));
}

/* ---- the discovery controller ------------------------------------------------------- */

static void test_discovery_identify_and_commands(void **state)
{
	struct nvmf_ctrlr *d;
	struct nvme_id_ctrlr id;
	struct cmd c = { 0 };
	struct result r;

	(void)state;
	H_BEGIN();
	d = g_fx->disc_ctrlr;
	r = identify(d, NVME_CNS_CTRLR, 0, 0, &id);
	assert_int_equal(r.status, 0);
	assert_int_equal(id.cntrltype, NVME_CNTRLTYPE_DISCOVERY);
	assert_int_equal(nvme_get_le32(&id.nn), 0);
	assert_int_equal(id.mdts, 0);
	assert_int_equal(id.lpa, 1u << 2);
	assert_int_equal(nvme_get_le32(&id.oaes), 1u << 31);
	assert_int_equal(nvme_get_le16(&id.oncs), 0);
	assert_int_equal(id.cmic, 0);
	assert_int_equal(nvme_get_le16(&id.cntlid), 2);
	assert_int_equal(nvme_get_le16(&id.kas), 10);
	assert_string_equal(id.subnqn, NVME_DISCOVERY_NQN);
	assert_memory_equal(id.sn, NVMF_DEFAULT_SERIAL, 20);
	assert_memory_equal(id.fr, "1.0     ", 8);
	assert_int_equal(identify(d, NVME_CNS_NS, 1, 0, &id).status, ST_INVALID_FIELD);
	assert_int_equal(identify(d, NVME_CNS_ACTIVE_NS_LIST, 0, 0, &id).status, ST_INVALID_FIELD);

	/* Features: keep alive and async event configuration only. */
	assert_int_equal(get_feat(d, NVME_FEAT_ASYNC_EVENT_CONFIG, 0, 0).dw0, 1u << 31);
	assert_int_equal(set_feat(d, NVME_FEAT_ASYNC_EVENT_CONFIG, 1u << 8, false).status, ST_INVALID_FIELD);
	assert_int_equal(set_feat(d, NVME_FEAT_KEEP_ALIVE_TIMER, 5000, false).status, 0);
	assert_int_equal(d->kato_ms, 5000);
	assert_int_equal(get_feat(d, NVME_FEAT_ARBITRATION, 0, 0).status, ST_INVALID_FIELD);
	assert_int_equal(set_feat(d, NVME_FEAT_NUMBER_OF_QUEUES, 1, false).status, ST_INVALID_FIELD);
	/* No Abort; other log pages are not there. */
	c.opc = NVME_OPC_ABORT;
	assert_int_equal(run(d, &c, NULL, 0).status, ST_INVALID_OPCODE);
	assert_int_equal(get_log(d, NVME_LOG_SMART, 0, 0, 512, false, &id).status, ST_INVALID_LOG);
	assert_int_equal(get_log(d, NVME_LOG_ERROR, 0, 0, 512, false, &id).status, ST_INVALID_LOG);
	c.opc = NVME_OPC_KEEP_ALIVE;
	assert_int_equal(run(d, &c, NULL, 0).status, 0);
}

static void test_discovery_log(void **state)
{
	struct nvmf_ctrlr *d;
	uint8_t *buf = malloc(4096 + 1024);
	struct nvmf_request *aer;
	struct result r;
	unsigned done_before;

	(void)state;
	H_BEGIN();
	assert_non_null(buf);
	d = g_fx->disc_ctrlr;
	/* The header alone, as the host reads it first. */
	r = get_log(d, NVME_LOG_DISCOVERY, 0, 0, 16, false, buf);
	assert_int_equal(r.status, 0);
	assert_int_equal(nvme_get_le64(buf), 7);
	assert_int_equal(nvme_get_le64(buf + 8), 3);
	assert_string_equal(g_disc_hostnqn, d->hostnqn);
	assert_string_equal(g_disc_traddr, "192.0.2.1");
	/* Header + entries; past the log: zeroes. */
	r = get_log(d, NVME_LOG_DISCOVERY, 0, 0, 4096 + 1024, false, buf);
	assert_int_equal(r.status, 0);
	assert_string_equal((char *)buf + 1024 + 256, "nqn.2026-01.test:sub0");
	assert_string_equal((char *)buf + 3 * 1024 + 256, "nqn.2026-01.test:sub2");
	assert_true(all_bytes(buf + 4096, 1024, 0));
	/* One entry by offset. */
	r = get_log(d, NVME_LOG_DISCOVERY, 0, 2048, 1024, false, buf);
	assert_int_equal(r.status, 0);
	assert_int_equal(buf[0], NVME_TRTYPE_TCP);
	assert_string_equal((char *)buf + 256, "nqn.2026-01.test:sub1");
	/* The offset at the end: nothing; past it or unaligned: Invalid Field. */
	assert_int_equal(get_log(d, NVME_LOG_DISCOVERY, 0, 4096, 1024, false, buf).status, 0);
	assert_true(all_bytes(buf, 1024, 0));
	assert_int_equal(get_log(d, NVME_LOG_DISCOVERY, 0, 4100, 1024, false, buf).status, ST_INVALID_FIELD);
	assert_int_equal(get_log(d, NVME_LOG_DISCOVERY, 0, 1025, 1024, false, buf).status, ST_INVALID_FIELD);
	/* The core out of memory: Internal Error. */
	g_disc_fail = true;
	r = get_log(d, NVME_LOG_DISCOVERY, 0, 0, 1024, false, buf);
	assert_int_equal(r.status, st(NVME_SCT_GENERIC, NVME_SC_INTERNAL_ERROR));
	g_disc_fail = false;

	/* Discovery log change: one notice until the log is read without RAE. */
	aer = aer_submit(d, 1);
	assert_null(g_last_done);
	nvmf_ctrlr_note_discovery_changed(d);
	assert_true(g_last_done == aer);
	assert_int_equal(aer->rsp.cdw0, AEN_DISC_DW0);
	req_free(aer);
	aer = aer_submit(d, 2);
	done_before = g_num_done;
	nvmf_ctrlr_note_discovery_changed(d);
	assert_int_equal(g_num_done, done_before);
	assert_int_equal(get_log(d, NVME_LOG_DISCOVERY, 0, 0, 1024, true, buf).status, 0);
	nvmf_ctrlr_note_discovery_changed(d);
	assert_int_equal(g_num_done, done_before + 1);	/* only the RAE read completed */
	assert_int_equal(get_log(d, NVME_LOG_DISCOVERY, 0, 0, 1024, false, buf).status, 0);
	nvmf_ctrlr_note_discovery_changed(d);
	assert_true(g_last_done == aer);
	assert_int_equal(aer->rsp.cdw0, AEN_DISC_DW0);
	req_free(aer);
	/* An I/O controller ignores discovery changes. */
	aer = aer_submit(g_fx->ctrlr, 3);
	nvmf_ctrlr_note_discovery_changed(g_fx->ctrlr);
	assert_null(g_last_done);
	nvmf_ctrlr_abort_aers(g_fx->ctrlr);
	req_free(aer);
	free(buf);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_identify_ctrlr),
		T(test_identify_buffer_sizes),
		T(test_identify_ns),
		T(test_active_ns_list),
		T(test_active_ns_list_paging),
		T(test_ns_desc_list),
		T(test_identify_csi_and_unknown),
		T(test_log_errors_and_statuses),
		T(test_log_smart),
		T(test_log_firmware_and_effects),
		T(test_log_ana),
		T(test_features),
		T(test_feature_number_of_queues),
		T(test_feature_host_identifier),
		T(test_aer_ns_changed),
		T(test_abort_and_keep_alive),
		T(test_opcodes_and_state),
		T(test_discovery_identify_and_commands),
		T(test_discovery_log),
	};

	return cmocka_run_group_tests_name("nvmf_admin", tests, NULL, NULL);
}
