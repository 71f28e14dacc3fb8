/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The admin command set of a controller (NVMe Base 2.0 §5, NVM Command Set
 * 1.0, Fabrics): Identify, Get Log Page, Get/Set Features, Asynchronous
 * Event Request, Keep Alive and Abort, for I/O and discovery controllers.
 * Fields follow what Linux nvmet and SPDK answer, so the Linux host driver
 * and nvme-cli see a familiar controller.
 *
 * Everything runs on the controller's owner thread (its admin queue's).
 * Answers are built in a zeroed stack or heap buffer, then copied into the
 * request's iovecs; a host buffer shorter than the structure gets a prefix,
 * a longer one zeroes after it.
 */
#include "nvmf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN_DATA_SIZE 4096u	/* Identify data, Commands Supported and Effects log */
#define NSID_ALL 0xffffffffu
#define NS_LIST_MAX 1024u	/* NSIDs in an Identify namespace list or the Changed NS log */
#define ERR_LOG_SLOTS 16u	/* ctrlr->err_log: ELPE + 1 */

/* Asynchronous event completion DW0 (Base 2.0 Figure 150). */
#define AEN_TYPE_NOTICE 2u
#define AEN_INFO_NS_ATTR_CHANGED 0x00u
#define AEN_INFO_DISCOVERY_CHANGED 0xf0u
#define AEN_DW0(type, info, lid) ((type) | ((uint32_t)(info) << 8) | ((uint32_t)(lid) << 16))

/* Asynchronous Event Configuration bits (Figure 329); OAES uses the same positions. */
#define AEC_CRITICAL_WARNINGS 0xffu
#define AEC_NS_ATTR_NOTICE (1u << 8)
#define AEC_DISCOVERY_CHANGE (1u << 31)

/* Identify Controller values. */
#define KAS_100MS_UNITS 10u	/* keep alive granularity: 1 s, as nvmet */
#define KATO_GRANULARITY_MS (KAS_100MS_UNITS * 100u)
#define TEMP_COMPOSITE_K 323u	/* reported composite temperature (50 °C) */
#define TEMP_WARNING_K 343u	/* WCTEMP; default over-temperature threshold */
#define TEMP_CRITICAL_K 373u	/* CCTEMP */
#define ARBITRATION_DEFAULT 0x7u	/* Arbitration Burst: no limit */
#define CMIC_MULTI_PORT (1u << 0)
#define CMIC_MULTI_CTRLR (1u << 1)
#define CMIC_ANA (1u << 3)
#define CTRATT_HOSTID_128 (1u << 0)
#define CTRATT_TBKAS (1u << 6)
#define LPA_CMDS_EFFECTS (1u << 1)
#define LPA_EXTENDED_DATA (1u << 2)
#define ONCS_COMPARE (1u << 0)
#define ONCS_DSM (1u << 2)
#define ONCS_WRITE_ZEROES (1u << 3)
#define ONCS_SAVE_SELECT (1u << 4)
#define FUSES_COMPARE_AND_WRITE (1u << 0)
#define VWC_PRESENT (1u << 0)
#define VWC_FLUSH_BROADCAST_NOT_SUPPORTED (2u << 1)
#define SGLS_SUPPORTED (1u << 0)
#define SGLS_OFFSET (1u << 20)
#define SGLS_TRANSPORT_DATA_BLOCK (1u << 21)
#define OFCS_DISCONNECT (1u << 0)
#define FRMW_SLOT1_RO_ONE_SLOT 0x3u
#define DLFEAT_READ_ZEROES 0x1u
#define NMIC_SHARED (1u << 0)
#define NSTAT_READY (1u << 0)
#define ANACAP_OPTIMIZED (1u << 0)
#define ANACAP_GRPID_STATIC (1u << 6)
#define ANA_STATE_OPTIMIZED 0x01u
#define ANA_TRANSITION_TIME_S 10u

/* Get Features SEL (CDW10 bits 10:8) and capability bits (Figure 326). */
enum feat_sel { SEL_CURRENT = 0, SEL_DEFAULT = 1, SEL_SAVED = 2, SEL_SUPPORTED = 3 };
#define FEAT_CAP_NS_SPECIFIC (1u << 1)
#define FEAT_CAP_CHANGEABLE (1u << 2)

#define NVME_LOG_ANA 0x0c
#define NVME_FEAT_IO_CMD_SET_PROFILE 0x19
#define CSI_NVM 0x00u
#define LOG_RAE (1u << 15)
#define LOG_OFFSET_TYPE_INDEX (1u << 23)	/* CDW14 OT */

/* ---- completing ----------------------------------------------------------- */

/* What a handler did with the request. */
enum admin_rc {
	ADMIN_DONE,	/* rsp is filled: complete it */
	ADMIN_PARKED,	/* kept (AER): completed later */
};

static inline uint32_t cdw(uint32_t le)
{
	return nvme_get_le32(&le);
}

static struct nvmf_ctrlr *req_ctrlr(const struct nvmf_request *req)
{
	return req->qpair->ctrlr;
}

/* The transport's limits, as seen by the queue the command came on (the admin queue). */
static const struct nvmf_transport_opts *req_opts(const struct nvmf_request *req)
{
	return &req->qpair->transport->opts;
}

static bool ctrlr_is_discovery(const struct nvmf_ctrlr *ctrlr)
{
	return ctrlr->subsystem->subtype == NVMF_SUBTYPE_DISCOVERY;
}

/* A failure status, always DNR: retrying the same command cannot help.
 * nvmf_request_complete() records it in the error log. */
static enum admin_rc admin_fail(struct nvmf_request *req, unsigned sct, unsigned sc)
{
	req->rsp.status = nvme_status(sct, sc, 1);
	return ADMIN_DONE;
}

static enum admin_rc invalid_field(struct nvmf_request *req)
{
	return admin_fail(req, NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
}

static enum admin_rc invalid_ns(struct nvmf_request *req)
{
	return admin_fail(req, NVME_SCT_GENERIC, NVME_SC_INVALID_NAMESPACE_OR_FORMAT);
}

/*
 * Copy @p len bytes of @p data into the host's buffer: at most req->length
 * bytes; the rest of the buffer is zeroed so no stale pool memory leaks.
 */
static void copy_to_host(struct nvmf_request *req, const void *data, size_t len)
{
	const uint8_t *src = data;
	size_t left = req->length;

	if (req->xfer != NVMF_XFER_CTRLR_TO_HOST)
		return;
	for (int i = 0; i < req->iovcnt && left > 0; i++) {
		size_t n = req->iov[i].iov_len < left ? req->iov[i].iov_len : left;
		size_t from_data = len < n ? len : n;

		memcpy(req->iov[i].iov_base, src, from_data);
		memset((uint8_t *)req->iov[i].iov_base + from_data, 0, n - from_data);
		src += from_data;
		len -= from_data;
		left -= n;
	}
}

/* Fill a fixed-width ASCII field: the string, then spaces (Base 2.0 §1.5). */
static void pad_ascii(char *dst, size_t width, const char *src)
{
	size_t n = strnlen(src, width);

	memset(dst, ' ', width);
	memcpy(dst, src, n);
}

/* ---- feature defaults ------------------------------------------------------ */

static uint32_t supported_aec(const struct nvmf_ctrlr *ctrlr)
{
	return ctrlr_is_discovery(ctrlr) ? AEC_DISCOVERY_CHANGE
					 : AEC_CRITICAL_WARNINGS | AEC_NS_ATTR_NOTICE;
}

static uint32_t max_io_queues(const struct nvmf_ctrlr *ctrlr)
{
	return ctrlr->max_qpairs > 1 ? ctrlr->max_qpairs - 1u : 1u;
}

/* Defaults applied on the first admin command (ctrlr.c zero-fills a new controller). */
static void features_init(struct nvmf_ctrlr *ctrlr)
{
	if (ctrlr->features_ready)
		return;
	ctrlr->features_ready = true;
	ctrlr->arbitration = ARBITRATION_DEFAULT;
	ctrlr->power_state = 0;
	ctrlr->temp_threshold = TEMP_WARNING_K;
	ctrlr->temp_under_threshold = 0;
	ctrlr->error_recovery = 0;
	ctrlr->volatile_wc = true;
	ctrlr->write_atomicity_dn = false;
	/* Optional notices on by default, as nvmet does; the host usually sets AEC itself. */
	ctrlr->aec = supported_aec(ctrlr) & ~AEC_CRITICAL_WARNINGS;
}

/* ---- Identify ---------------------------------------------------------------- */

static uint8_t mdts_of(uint32_t max_io_size)
{
	/* In units of the minimum page size (CAP.MPSMIN = 0: 4 KiB), log2. */
	uint32_t pages = max_io_size >> 12;
	uint8_t mdts = 0;

	while (pages > 1) {
		pages >>= 1;
		mdts++;
	}
	return mdts;
}

/* The fields a discovery controller and an I/O controller share. */
static void id_ctrlr_common(const struct nvmf_ctrlr *ctrlr, const struct nvmf_transport_opts *opts,
			    struct nvme_id_ctrlr *id)
{
	const struct nvmf_subsystem *s = ctrlr->subsystem;

	pad_ascii(id->sn, sizeof(id->sn), s->serial[0] ? s->serial : NVMF_DEFAULT_SERIAL);
	pad_ascii(id->mn, sizeof(id->mn), s->model[0] ? s->model : NVMF_DEFAULT_MODEL);
	pad_ascii(id->fr, sizeof(id->fr), NVMF_FIRMWARE_REV);
	nvme_put_le16(&id->cntlid, ctrlr->cntlid);
	nvme_put_le32(&id->ver, ctrlr->vs);
	nvme_put_le32(&id->ctratt, CTRATT_HOSTID_128 | CTRATT_TBKAS);
	id->aerl = NVMF_MAX_AER - 1;
	id->elpe = ERR_LOG_SLOTS - 1;
	nvme_put_le16(&id->kas, KAS_100MS_UNITS);
	id->sqes = (6u << 4) | 6u;	/* 64-byte entries */
	id->cqes = (4u << 4) | 4u;	/* 16-byte entries */
	nvme_put_le16(&id->maxcmd, opts->max_queue_depth);
	nvme_put_le32(&id->sgls, SGLS_SUPPORTED | SGLS_TRANSPORT_DATA_BLOCK |
					 (opts->in_capsule_data_size ? SGLS_OFFSET : 0));
	memcpy(id->subnqn, s->nqn, strnlen(s->nqn, sizeof(id->subnqn) - 1));
	nvme_put_le32(&id->ioccsz, (uint32_t)(sizeof(struct nvme_sqe) + opts->in_capsule_data_size) / 16);
	nvme_put_le32(&id->iorcsz, sizeof(struct nvme_cqe) / 16);
	id->msdbd = 1;
	nvme_put_le16(&id->ofcs, OFCS_DISCONNECT);
}

/* Identify Controller of a discovery controller: the reduced set of nvmet_execute_disc_identify. */
static void id_ctrlr_discovery(const struct nvmf_ctrlr *ctrlr, const struct nvmf_transport_opts *opts,
			       struct nvme_id_ctrlr *id)
{
	id_ctrlr_common(ctrlr, opts, id);
	id->cntrltype = NVME_CNTRLTYPE_DISCOVERY;
	id->lpa = LPA_EXTENDED_DATA;
	nvme_put_le32(&id->oaes, AEC_DISCOVERY_CHANGE);
	/* MDTS 0 (no limit) and NN 0 (no namespaces): left zero. */
}

static void id_ctrlr_io(const struct nvmf_ctrlr *ctrlr, const struct nvmf_transport_opts *opts,
			struct nvme_id_ctrlr *id)
{
	const struct nvmf_subsystem *s = ctrlr->subsystem;

	id_ctrlr_common(ctrlr, opts, id);
	id->cntrltype = NVME_CNTRLTYPE_IO;
	id->rab = 6;
	id->cmic = CMIC_MULTI_PORT | CMIC_MULTI_CTRLR | (s->ana_reporting ? CMIC_ANA : 0);
	id->mdts = mdts_of(opts->max_io_size);
	nvme_put_le32(&id->oaes, AEC_NS_ATTR_NOTICE);
	id->acl = 3;	/* 4 concurrent Aborts */
	id->frmw = FRMW_SLOT1_RO_ONE_SLOT;
	id->lpa = LPA_CMDS_EFFECTS | LPA_EXTENDED_DATA;
	nvme_put_le16(&id->wctemp, TEMP_WARNING_K);
	nvme_put_le16(&id->cctemp, TEMP_CRITICAL_K);
	if (s->ana_reporting) {
		id->anatt = ANA_TRANSITION_TIME_S;
		id->anacap = ANACAP_OPTIMIZED | ANACAP_GRPID_STATIC;
		nvme_put_le32(&id->anagrpmax, s->max_nsid);
		nvme_put_le32(&id->nanagrpid, s->max_nsid);
	}
	nvme_put_le32(&id->nn, s->max_nsid);
	nvme_put_le32(&id->mnan, s->max_nsid);
	nvme_put_le16(&id->oncs, ONCS_COMPARE | ONCS_DSM | ONCS_WRITE_ZEROES | ONCS_SAVE_SELECT);
	nvme_put_le16(&id->fuses, FUSES_COMPARE_AND_WRITE);
	id->vwc = VWC_PRESENT | VWC_FLUSH_BROADCAST_NOT_SUPPORTED;
}

static bool ns_unmap_zeroes(struct nvmf_ns *ns)
{
	const struct bdev_backend *backend = bdev_get_backend(ns->bdev);

	return bdev_io_type_supported(ns->bdev, BDEV_IO_UNMAP) && backend->unmap_zeroes &&
	       backend->unmap_zeroes(ns->bdev);
}

static uint8_t log2_u32(uint32_t v)
{
	uint8_t r = 0;

	while (v > 1) {
		v >>= 1;
		r++;
	}
	return r;
}

static void id_ns(const struct nvmf_subsystem *s, struct nvmf_ns *ns, struct nvme_id_ns *id)
{
	uint64_t blocks = bdev_get_num_blocks(ns->bdev);
	uint32_t block_size = bdev_get_block_size(ns->bdev);

	nvme_put_le64(&id->nsze, blocks);
	nvme_put_le64(&id->ncap, blocks);
	nvme_put_le64(&id->nuse, blocks);
	id->nlbaf = 0;	/* one format */
	id->flbas = 0;
	id->nmic = NMIC_SHARED;
	id->dlfeat = ns_unmap_zeroes(ns) ? DLFEAT_READ_ZEROES : 0;
	nvme_put_le64(id->nvmcap, blocks * block_size);
	if (s->ana_reporting)
		nvme_put_le32(&id->anagrpid, ns->anagrpid);
	if (ns->has_nguid)
		memcpy(id->nguid, ns->nguid, sizeof(id->nguid));
	if (ns->has_eui64)
		memcpy(id->eui64, ns->eui64, sizeof(id->eui64));
	id->lbaf[0].lbads = log2_u32(block_size);
}

/* NSID check of the commands that take one namespace: 0 for an active or inactive valid NSID. */
static bool nsid_valid(const struct nvmf_subsystem *s, uint32_t nsid)
{
	return nsid != 0 && nsid <= s->max_nsid;
}

static enum admin_rc identify_ns(struct nvmf_request *req, uint8_t *buf)
{
	struct nvmf_subsystem *s = req_ctrlr(req)->subsystem;
	uint32_t nsid = cdw(req->cmd.nsid);
	struct nvmf_ns *ns;

	/* NSID FFFFFFFFh asks for common capabilities: only with Namespace Management (nvmet answers the same). */
	if (!nsid_valid(s, nsid))
		return invalid_ns(req);
	ns = nvmf_subsystem_get_ns(s, nsid);
	if (ns)	/* an inactive NSID gets zeroes */
		id_ns(s, ns, (struct nvme_id_ns *)buf);
	copy_to_host(req, buf, ADMIN_DATA_SIZE);
	return ADMIN_DONE;
}

/* Active NSIDs greater than the command's NSID, ascending, at most 1024. */
static enum admin_rc identify_active_ns_list(struct nvmf_request *req, uint8_t *buf)
{
	struct nvmf_subsystem *s = req_ctrlr(req)->subsystem;
	uint32_t start = cdw(req->cmd.nsid);
	uint32_t n = 0;

	if (start >= 0xfffffffeu)
		return invalid_ns(req);
	for (uint32_t nsid = start + 1; nsid <= s->max_nsid && n < NS_LIST_MAX; nsid++) {
		if (nvmf_subsystem_get_ns(s, nsid))
			nvme_put_le32(buf + 4 * n++, nsid);
	}
	copy_to_host(req, buf, ADMIN_DATA_SIZE);
	return ADMIN_DONE;
}

static size_t put_ns_desc(uint8_t *p, uint8_t nidt, const void *id, uint8_t len)
{
	struct nvme_ns_id_desc desc = { .nidt = nidt, .nidl = len };

	memcpy(p, &desc, sizeof(desc));
	memcpy(p + sizeof(desc), id, len);
	return sizeof(desc) + len;
}

static enum admin_rc identify_ns_desc_list(struct nvmf_request *req, uint8_t *buf)
{
	struct nvmf_subsystem *s = req_ctrlr(req)->subsystem;
	uint32_t nsid = cdw(req->cmd.nsid);
	struct nvmf_ns *ns = nsid_valid(s, nsid) ? nvmf_subsystem_get_ns(s, nsid) : NULL;
	const uint8_t csi = CSI_NVM;
	size_t off = 0;

	if (!ns)
		return invalid_ns(req);
	if (ns->has_eui64)
		off += put_ns_desc(buf + off, NVME_NIDT_EUI64, ns->eui64, sizeof(ns->eui64));
	if (ns->has_nguid)
		off += put_ns_desc(buf + off, NVME_NIDT_NGUID, ns->nguid, sizeof(ns->nguid));
	if (ns->has_uuid)
		off += put_ns_desc(buf + off, NVME_NIDT_UUID, ns->uuid, sizeof(ns->uuid));
	put_ns_desc(buf + off, NVME_NIDT_CSI, &csi, sizeof(csi));
	copy_to_host(req, buf, ADMIN_DATA_SIZE);
	return ADMIN_DONE;
}

/* I/O Command Set Independent Identify Namespace (Base 2.0 Figure 280). */
static enum admin_rc identify_ns_independent(struct nvmf_request *req, uint8_t *buf)
{
	struct nvmf_subsystem *s = req_ctrlr(req)->subsystem;
	uint32_t nsid = cdw(req->cmd.nsid);
	struct nvmf_ns *ns;

	if (!nsid_valid(s, nsid))
		return invalid_ns(req);
	ns = nvmf_subsystem_get_ns(s, nsid);
	if (ns) {
		buf[1] = NMIC_SHARED;
		if (s->ana_reporting)
			nvme_put_le32(buf + 4, ns->anagrpid);
		buf[14] = NSTAT_READY;
	}
	copy_to_host(req, buf, ADMIN_DATA_SIZE);
	return ADMIN_DONE;
}

static enum admin_rc identify(struct nvmf_request *req)
{
	struct nvmf_ctrlr *ctrlr = req_ctrlr(req);
	uint32_t cdw10 = cdw(req->cmd.cdw10);
	uint8_t cns = cdw10 & 0xffu;
	uint8_t csi = (uint8_t)(cdw(req->cmd.cdw11) >> 24);
	uint8_t *buf = calloc(1, ADMIN_DATA_SIZE);
	enum admin_rc rc = ADMIN_DONE;

	if (!buf)
		return admin_fail(req, NVME_SCT_GENERIC, NVME_SC_INTERNAL_ERROR);
	if (ctrlr_is_discovery(ctrlr)) {
		/* A discovery controller has no namespaces: Identify Controller only. */
		if (cns == NVME_CNS_CTRLR) {
			id_ctrlr_discovery(ctrlr, req_opts(req), (struct nvme_id_ctrlr *)buf);
			copy_to_host(req, buf, ADMIN_DATA_SIZE);
		} else {
			rc = invalid_field(req);
		}
		free(buf);
		return rc;
	}
	switch (cns) {
	case NVME_CNS_NS:
		rc = identify_ns(req, buf);
		break;
	case NVME_CNS_CTRLR:
		id_ctrlr_io(ctrlr, req_opts(req), (struct nvme_id_ctrlr *)buf);
		copy_to_host(req, buf, ADMIN_DATA_SIZE);
		break;
	case NVME_CNS_ACTIVE_NS_LIST:
		rc = identify_active_ns_list(req, buf);
		break;
	case NVME_CNS_NS_ID_DESC_LIST:
		rc = identify_ns_desc_list(req, buf);
		break;
	case NVME_CNS_CSI_NS:
		/* NVM Command Set specific namespace data: all zero (no extended LBA formats). */
		if (csi != CSI_NVM) {
			rc = invalid_field(req);
		} else if (!nsid_valid(ctrlr->subsystem, cdw(req->cmd.nsid))) {
			rc = invalid_ns(req);
		} else {
			copy_to_host(req, buf, ADMIN_DATA_SIZE);
		}
		break;
	case NVME_CNS_CSI_CTRLR:
		/* NVM Command Set specific controller data: zero = no size limits beyond MDTS. */
		if (csi != CSI_NVM)
			rc = invalid_field(req);
		else
			copy_to_host(req, buf, ADMIN_DATA_SIZE);
		break;
	case NVME_CNS_CSI_ACTIVE_NS_LIST:
		rc = csi == CSI_NVM ? identify_active_ns_list(req, buf) : invalid_field(req);
		break;
	case NVME_CNS_CSI_INDEPENDENT_NS:
		rc = identify_ns_independent(req, buf);
		break;
	case NVME_CNS_CMD_SET_LIST:
		/* One I/O command set combination: NVM only. */
		nvme_put_le64(buf, 1u << CSI_NVM);
		copy_to_host(req, buf, ADMIN_DATA_SIZE);
		break;
	default:
		rc = invalid_field(req);
		break;
	}
	free(buf);
	return rc;
}

/* ---- Get Log Page ---------------------------------------------------------- */

struct log_req {
	uint8_t lid;
	bool rae;
	uint64_t offset;	/* bytes */
	uint64_t len;		/* NUMD in bytes */
};

/* Copy the log page @p page (@p size bytes) from the requested offset; Invalid Field past its end. */
static enum admin_rc send_log(struct nvmf_request *req, const struct log_req *lr, const void *page,
			      size_t size)
{
	size_t avail;

	if (lr->offset > size)
		return invalid_field(req);
	avail = size - (size_t)lr->offset;
	if (avail > lr->len)
		avail = (size_t)lr->len;
	copy_to_host(req, (const uint8_t *)page + lr->offset, avail);
	return ADMIN_DONE;
}

static enum admin_rc log_error_info(struct nvmf_request *req, const struct log_req *lr)
{
	struct nvmf_ctrlr *ctrlr = req_ctrlr(req);
	struct nvme_error_log_entry page[ERR_LOG_SLOTS];
	uint64_t count = atomic_load(&ctrlr->num_err_log_entries);
	uint32_t n = count < ERR_LOG_SLOTS ? (uint32_t)count : ERR_LOG_SLOTS;

	memset(page, 0, sizeof(page));
	/* Newest first; err_log_next is the slot the next entry goes to (mod 16 either way). */
	for (uint32_t i = 0; i < n; i++)
		page[i] = ctrlr->err_log[(ctrlr->err_log_next - 1u - i) % ERR_LOG_SLOTS];
	return send_log(req, lr, page, sizeof(page));
}

static void put_le128(uint8_t *p, uint64_t v)
{
	nvme_put_le64(p, v);
	nvme_put_le64(p + 8, 0);
}

static enum admin_rc log_smart(struct nvmf_request *req, const struct log_req *lr)
{
	struct nvmf_ctrlr *ctrlr = req_ctrlr(req);
	uint32_t nsid = cdw(req->cmd.nsid);
	struct nvme_smart_log page;
	uint64_t hz = reactor_get_ticks_hz();
	uint64_t hours = hz ? (reactor_get_ticks() - ctrlr->start_ticks) / hz / 3600 : 0;

	/* Controller-wide only (LPA bit 0 clear): no per-namespace page. */
	if (nsid != 0 && nsid != NSID_ALL)
		return invalid_field(req);
	memset(&page, 0, sizeof(page));
	if (TEMP_COMPOSITE_K >= ctrlr->temp_threshold ||
	    (ctrlr->temp_under_threshold && TEMP_COMPOSITE_K <= ctrlr->temp_under_threshold))
		page.critical_warning |= 1u << 1;	/* temperature */
	nvme_put_le16(&page.temperature, TEMP_COMPOSITE_K);
	page.avail_spare = 100;
	page.avail_spare_threshold = 10;
	/* Data units: thousands of 512-byte units, rounded up. */
	put_le128(page.data_units_read, (atomic_load(&ctrlr->data_units_read) + 999) / 1000);
	put_le128(page.data_units_written, (atomic_load(&ctrlr->data_units_written) + 999) / 1000);
	put_le128(page.host_read_commands, atomic_load(&ctrlr->host_read_cmds));
	put_le128(page.host_write_commands, atomic_load(&ctrlr->host_write_cmds));
	put_le128(page.power_cycles, 1);
	put_le128(page.power_on_hours, hours);
	put_le128(page.num_err_log_entries, atomic_load(&ctrlr->num_err_log_entries));
	nvme_put_le16(&page.temp_sensor[0], 0);	/* no separate sensors */
	return send_log(req, lr, &page, sizeof(page));
}

static enum admin_rc log_firmware_slot(struct nvmf_request *req, const struct log_req *lr)
{
	struct nvme_fw_slot_log page;

	memset(&page, 0, sizeof(page));
	page.afi = 1;	/* slot 1 active */
	pad_ascii(page.frs[0], sizeof(page.frs[0]), NVMF_FIRMWARE_REV);
	return send_log(req, lr, &page, sizeof(page));
}

static enum admin_rc log_changed_ns(struct nvmf_request *req, const struct log_req *lr)
{
	struct nvmf_ctrlr *ctrlr = req_ctrlr(req);
	uint32_t page[NS_LIST_MAX];
	enum admin_rc rc;

	memset(page, 0, sizeof(page));
	for (uint32_t i = 0; i < ctrlr->num_changed_ns && i < NS_LIST_MAX; i++)
		nvme_put_le32(&page[i], ctrlr->changed_ns[i]);
	rc = send_log(req, lr, page, sizeof(page));
	if (req->rsp.status == 0 && !lr->rae) {
		/* Read: the list starts over and the notice can fire again. */
		ctrlr->num_changed_ns = 0;
		ctrlr->aen_masked_ns_changed = false;
		ctrlr->pending_aen &= ~NVMF_AEN_NS_ATTR_CHANGED;
	}
	return rc;
}

enum cmd_set { ADMIN_SET, IO_SET };

static void set_effects(struct nvme_cmds_effects_log *page, enum cmd_set set, uint8_t opc,
			uint32_t effects)
{
	size_t table = set == IO_SET ? offsetof(struct nvme_cmds_effects_log, iocs)
				     : offsetof(struct nvme_cmds_effects_log, acs);

	nvme_put_le32((uint8_t *)page + table + 4u * opc, NVME_CSE_CSUPP | effects);
}

static enum admin_rc log_cmds_effects(struct nvmf_request *req, const struct log_req *lr)
{
	uint8_t csi = (uint8_t)(cdw(req->cmd.cdw14) >> 24);
	struct nvme_cmds_effects_log *page;
	enum admin_rc rc;

	if (csi != CSI_NVM)
		return invalid_field(req);
	page = calloc(1, sizeof(*page));
	if (!page)
		return admin_fail(req, NVME_SCT_GENERIC, NVME_SC_INTERNAL_ERROR);
	set_effects(page, ADMIN_SET, NVME_OPC_GET_LOG_PAGE, 0);
	set_effects(page, ADMIN_SET, NVME_OPC_IDENTIFY, 0);
	set_effects(page, ADMIN_SET, NVME_OPC_ABORT, 0);
	set_effects(page, ADMIN_SET, NVME_OPC_SET_FEATURES, 0);
	set_effects(page, ADMIN_SET, NVME_OPC_GET_FEATURES, 0);
	set_effects(page, ADMIN_SET, NVME_OPC_ASYNC_EVENT_REQUEST, 0);
	set_effects(page, ADMIN_SET, NVME_OPC_KEEP_ALIVE, 0);
	set_effects(page, IO_SET, NVME_OPC_FLUSH, 0);
	set_effects(page, IO_SET, NVME_OPC_WRITE, NVME_CSE_LBCC);
	set_effects(page, IO_SET, NVME_OPC_READ, 0);
	set_effects(page, IO_SET, NVME_OPC_COMPARE, 0);
	set_effects(page, IO_SET, NVME_OPC_WRITE_ZEROES, NVME_CSE_LBCC);
	set_effects(page, IO_SET, NVME_OPC_DATASET_MANAGEMENT, NVME_CSE_LBCC);
	rc = send_log(req, lr, page, sizeof(*page));
	free(page);
	return rc;
}

/* ANA log (Base 2.0 §5.16.1.12): one group per namespace's ANAGRPID, all optimized. */
static enum admin_rc log_ana(struct nvmf_request *req, const struct log_req *lr)
{
	struct nvmf_subsystem *s = req_ctrlr(req)->subsystem;
	bool groups_only = (cdw(req->cmd.cdw10) >> 8) & 1u;	/* LSP bit 0: RGO */
	size_t cap = 16 + (size_t)s->max_nsid * (32 + 4);
	uint8_t *page = calloc(1, cap);
	size_t off = 16;
	uint16_t ngrps = 0;
	enum admin_rc rc;

	if (!page)
		return admin_fail(req, NVME_SCT_GENERIC, NVME_SC_INTERNAL_ERROR);
	for (uint32_t nsid = 1; nsid <= s->max_nsid; nsid++) {
		struct nvmf_ns *ns = nvmf_subsystem_get_ns(s, nsid);
		uint32_t grp = ns ? ns->anagrpid : 0;
		uint32_t nnsids = 0;
		size_t desc = off;
		bool seen = false;

		if (!ns || grp == 0)
			continue;
		for (uint32_t prev = 1; prev < nsid && !seen; prev++) {
			struct nvmf_ns *p = nvmf_subsystem_get_ns(s, prev);

			seen = p && p->anagrpid == grp;
		}
		if (seen)
			continue;
		off += 32;
		for (uint32_t m = nsid; m <= s->max_nsid; m++) {
			struct nvmf_ns *member = nvmf_subsystem_get_ns(s, m);

			if (!member || member->anagrpid != grp)
				continue;
			if (!groups_only) {
				nvme_put_le32(page + off, m);
				off += 4;
			}
			nnsids++;
		}
		nvme_put_le32(page + desc, grp);
		nvme_put_le32(page + desc + 4, groups_only ? 0 : nnsids);
		page[desc + 16] = ANA_STATE_OPTIMIZED;
		ngrps++;
	}
	nvme_put_le16(page + 8, ngrps);
	rc = send_log(req, lr, page, off);
	free(page);
	return rc;
}

static enum admin_rc log_discovery(struct nvmf_request *req, const struct log_req *lr)
{
	struct nvmf_ctrlr *ctrlr = req_ctrlr(req);
	size_t size = 0;
	void *page = nvmf_discovery_log_build(ctrlr->hostnqn, &req->qpair->listen_addr, &size);
	enum admin_rc rc;

	if (!page) {
		REACTOR_ERRLOG("nvmf: controller %u: no memory for the discovery log\n", ctrlr->cntlid);
		return admin_fail(req, NVME_SCT_GENERIC, NVME_SC_INTERNAL_ERROR);
	}
	rc = send_log(req, lr, page, size);
	free(page);
	if (req->rsp.status == 0 && !lr->rae) {
		ctrlr->aen_masked_discovery = false;
		ctrlr->pending_aen &= ~NVMF_AEN_DISCOVERY_CHANGED;
	}
	return rc;
}

static enum admin_rc get_log_page(struct nvmf_request *req)
{
	struct nvmf_ctrlr *ctrlr = req_ctrlr(req);
	uint32_t cdw10 = cdw(req->cmd.cdw10);
	struct log_req lr = {
		.lid = cdw10 & 0xffu,
		.rae = (cdw10 & LOG_RAE) != 0,
		.offset = (uint64_t)cdw(req->cmd.cdw12) | (uint64_t)cdw(req->cmd.cdw13) << 32,
		.len = nvme_get_log_len(cdw10, cdw(req->cmd.cdw11)),
	};

	/* The offset is in bytes, dword aligned; index offsets (OT) are not supported. */
	if ((lr.offset & 3u) || (cdw(req->cmd.cdw14) & LOG_OFFSET_TYPE_INDEX))
		return invalid_field(req);
	if (ctrlr_is_discovery(ctrlr)) {
		if (lr.lid == NVME_LOG_DISCOVERY)
			return log_discovery(req, &lr);
		return admin_fail(req, NVME_SCT_COMMAND_SPECIFIC, NVME_SC_INVALID_LOG_PAGE);
	}
	switch (lr.lid) {
	case NVME_LOG_ERROR:
		return log_error_info(req, &lr);
	case NVME_LOG_SMART:
		return log_smart(req, &lr);
	case NVME_LOG_FIRMWARE_SLOT:
		return log_firmware_slot(req, &lr);
	case NVME_LOG_CHANGED_NS_LIST:
		return log_changed_ns(req, &lr);
	case NVME_LOG_COMMANDS_EFFECTS:
		return log_cmds_effects(req, &lr);
	case NVME_LOG_ANA:
		if (ctrlr->subsystem->ana_reporting)
			return log_ana(req, &lr);
		break;
	default:
		break;
	}
	return admin_fail(req, NVME_SCT_COMMAND_SPECIFIC, NVME_SC_INVALID_LOG_PAGE);
}

/* ---- Get / Set Features ---------------------------------------------------- */

static bool feature_supported(const struct nvmf_ctrlr *ctrlr, uint8_t fid)
{
	if (ctrlr_is_discovery(ctrlr))
		return fid == NVME_FEAT_KEEP_ALIVE_TIMER || fid == NVME_FEAT_ASYNC_EVENT_CONFIG;
	switch (fid) {
	case NVME_FEAT_ARBITRATION:
	case NVME_FEAT_POWER_MANAGEMENT:
	case NVME_FEAT_TEMPERATURE_THRESHOLD:
	case NVME_FEAT_ERROR_RECOVERY:
	case NVME_FEAT_VOLATILE_WRITE_CACHE:
	case NVME_FEAT_NUMBER_OF_QUEUES:
	case NVME_FEAT_WRITE_ATOMICITY:
	case NVME_FEAT_ASYNC_EVENT_CONFIG:
	case NVME_FEAT_KEEP_ALIVE_TIMER:
	case NVME_FEAT_HOST_IDENTIFIER:
		return true;
	default:
		return false;
	}
}

static uint32_t queues_dw0(uint32_t nsq, uint32_t ncq)
{
	return (nsq - 1) | ((ncq - 1) << 16);
}

/* TMPSEL 0 (composite) or Fh (all sensors: we have only the composite one). */
static bool temp_select(uint32_t cdw11, bool *under)
{
	uint32_t tmpsel = (cdw11 >> 16) & 0xfu;
	uint32_t thsel = (cdw11 >> 20) & 0x3u;

	*under = thsel == 1;
	return (tmpsel == 0 || tmpsel == 0xf) && thsel <= 1;
}

static enum admin_rc get_features(struct nvmf_request *req)
{
	struct nvmf_ctrlr *ctrlr = req_ctrlr(req);
	uint32_t cdw10 = cdw(req->cmd.cdw10);
	uint32_t cdw11 = cdw(req->cmd.cdw11);
	uint8_t fid = cdw10 & 0xffu;
	unsigned sel = (cdw10 >> 8) & 0x7u;
	bool current = sel == SEL_CURRENT;
	uint32_t dw0 = 0;
	bool under;

	if (!feature_supported(ctrlr, fid) || sel > SEL_SUPPORTED)
		return invalid_field(req);
	if (sel == SEL_SUPPORTED) {
		/* Nothing is saveable; Host Identifier is set by Connect only. */
		if (fid != NVME_FEAT_HOST_IDENTIFIER)
			dw0 |= FEAT_CAP_CHANGEABLE;
		if (fid == NVME_FEAT_ERROR_RECOVERY)
			dw0 |= FEAT_CAP_NS_SPECIFIC;
		req->rsp.cdw0 = nvme_get_le32(&dw0);
		return ADMIN_DONE;
	}
	/* Saved values are the defaults: nothing is saveable. */
	switch (fid) {
	case NVME_FEAT_ARBITRATION:
		dw0 = current ? ctrlr->arbitration : ARBITRATION_DEFAULT;
		break;
	case NVME_FEAT_POWER_MANAGEMENT:
		dw0 = current ? ctrlr->power_state : 0;
		break;
	case NVME_FEAT_TEMPERATURE_THRESHOLD:
		if (!temp_select(cdw11, &under))
			return invalid_field(req);
		if (under)
			dw0 = current ? ctrlr->temp_under_threshold : 0;
		else
			dw0 = current ? ctrlr->temp_threshold : TEMP_WARNING_K;
		break;
	case NVME_FEAT_ERROR_RECOVERY:
		dw0 = current ? ctrlr->error_recovery : 0;
		break;
	case NVME_FEAT_VOLATILE_WRITE_CACHE:
		dw0 = current ? ctrlr->volatile_wc : 1;
		break;
	case NVME_FEAT_NUMBER_OF_QUEUES:
		if (current && ctrlr->num_io_queues)
			dw0 = queues_dw0(ctrlr->num_io_queues, ctrlr->num_io_queues);
		else
			dw0 = queues_dw0(max_io_queues(ctrlr), max_io_queues(ctrlr));
		break;
	case NVME_FEAT_WRITE_ATOMICITY:
		dw0 = current ? ctrlr->write_atomicity_dn : 0;
		break;
	case NVME_FEAT_ASYNC_EVENT_CONFIG:
		dw0 = current ? ctrlr->aec : supported_aec(ctrlr) & ~AEC_CRITICAL_WARNINGS;
		break;
	case NVME_FEAT_KEEP_ALIVE_TIMER:
		dw0 = current ? ctrlr->kato_ms : 0;
		break;
	case NVME_FEAT_HOST_IDENTIFIER:
		/* EXHID must ask for the 128-bit identifier: the only size Connect gives. */
		if (!(cdw11 & 1u))
			return invalid_field(req);
		copy_to_host(req, ctrlr->hostid, sizeof(ctrlr->hostid));
		break;
	default:
		return invalid_field(req);
	}
	req->rsp.cdw0 = nvme_get_le32(&dw0);
	return ADMIN_DONE;
}

static enum admin_rc set_number_of_queues(struct nvmf_request *req, uint32_t cdw11)
{
	struct nvmf_ctrlr *ctrlr = req_ctrlr(req);
	uint32_t nsqr = cdw11 & 0xffffu, ncqr = cdw11 >> 16;
	uint32_t max = max_io_queues(ctrlr);
	uint32_t nsq, ncq, dw0;

	if (nsqr == 0xffffu || ncqr == 0xffffu)
		return invalid_field(req);
	/* Fixed once an I/O queue is connected (SPDK's rule). */
	if (atomic_load(&ctrlr->num_io_qpairs) > 0)
		return admin_fail(req, NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR);
	nsq = nsqr + 1 < max ? nsqr + 1 : max;
	ncq = ncqr + 1 < max ? ncqr + 1 : max;
	/* Fabrics queues are pairs: the smaller count is what the host can use. */
	ctrlr->num_io_queues = nsq < ncq ? nsq : ncq;
	dw0 = queues_dw0(nsq, ncq);
	req->rsp.cdw0 = nvme_get_le32(&dw0);
	return ADMIN_DONE;
}

static enum admin_rc set_features(struct nvmf_request *req)
{
	struct nvmf_ctrlr *ctrlr = req_ctrlr(req);
	uint32_t cdw10 = cdw(req->cmd.cdw10);
	uint32_t cdw11 = cdw(req->cmd.cdw11);
	uint8_t fid = cdw10 & 0xffu;
	bool under;

	if (!feature_supported(ctrlr, fid))
		return invalid_field(req);
	if (cdw10 & (1u << 31))	/* SV */
		return admin_fail(req, NVME_SCT_COMMAND_SPECIFIC, NVME_SC_FEATURE_ID_NOT_SAVEABLE);
	switch (fid) {
	case NVME_FEAT_ARBITRATION:
		ctrlr->arbitration = cdw11 & 0xffffff07u;
		break;
	case NVME_FEAT_POWER_MANAGEMENT:
		if ((cdw11 & 0x1fu) != 0)	/* power state 0 is the only one (NPSS 0) */
			return invalid_field(req);
		ctrlr->power_state = cdw11 & 0xffu;
		break;
	case NVME_FEAT_TEMPERATURE_THRESHOLD:
		if (!temp_select(cdw11, &under))
			return invalid_field(req);
		if (under)
			ctrlr->temp_under_threshold = cdw11 & 0xffffu;
		else
			ctrlr->temp_threshold = cdw11 & 0xffffu;
		break;
	case NVME_FEAT_ERROR_RECOVERY:
		if (cdw11 & (1u << 16))	/* DULBE: no deallocated-block errors */
			return invalid_field(req);
		ctrlr->error_recovery = cdw11 & 0xffffu;
		break;
	case NVME_FEAT_VOLATILE_WRITE_CACHE:
		ctrlr->volatile_wc = cdw11 & 1u;
		break;
	case NVME_FEAT_NUMBER_OF_QUEUES:
		return set_number_of_queues(req, cdw11);
	case NVME_FEAT_WRITE_ATOMICITY:
		/* AWUN is 0 (one block): the host may only disable what is not there. */
		ctrlr->write_atomicity_dn = cdw11 & 1u;
		break;
	case NVME_FEAT_ASYNC_EVENT_CONFIG:
		if (cdw11 & ~supported_aec(ctrlr))
			return invalid_field(req);
		ctrlr->aec = cdw11;
		break;
	case NVME_FEAT_KEEP_ALIVE_TIMER:
		/* Round up to the granularity advertised in KAS. */
		if (cdw11 > UINT32_MAX - KATO_GRANULARITY_MS)
			cdw11 = UINT32_MAX - KATO_GRANULARITY_MS;
		nvmf_ctrlr_set_keep_alive(ctrlr, (cdw11 + KATO_GRANULARITY_MS - 1) / KATO_GRANULARITY_MS *
							 KATO_GRANULARITY_MS);
		break;
	case NVME_FEAT_HOST_IDENTIFIER:
		/* Fabrics: the host identifier comes with Connect and cannot change. */
		return admin_fail(req, NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR);
	default:
		return invalid_field(req);
	}
	return ADMIN_DONE;
}

/* ---- asynchronous events ------------------------------------------------------ */

static void complete_aer(struct nvmf_request *aer, uint32_t dw0, uint16_t status)
{
	aer->rsp.cdw0 = nvme_get_le32(&dw0);
	aer->rsp.status = status;
	nvmf_request_complete(aer);
}

/* Take the oldest parked AER out of the list. */
static struct nvmf_request *pop_aer(struct nvmf_ctrlr *ctrlr, uint32_t index)
{
	struct nvmf_request *aer = ctrlr->aer[index];

	memmove(&ctrlr->aer[index], &ctrlr->aer[index + 1],
		(ctrlr->num_aer - index - 1) * sizeof(ctrlr->aer[0]));
	ctrlr->aer[--ctrlr->num_aer] = NULL;
	return aer;
}

void nvmf_ctrlr_deliver_aen(struct nvmf_ctrlr *ctrlr)
{
	while (ctrlr->num_aer > 0 && ctrlr->pending_aen) {
		uint32_t dw0;

		if (ctrlr->pending_aen & NVMF_AEN_NS_ATTR_CHANGED) {
			ctrlr->pending_aen &= ~NVMF_AEN_NS_ATTR_CHANGED;
			dw0 = AEN_DW0(AEN_TYPE_NOTICE, AEN_INFO_NS_ATTR_CHANGED, NVME_LOG_CHANGED_NS_LIST);
		} else if (ctrlr->pending_aen & NVMF_AEN_DISCOVERY_CHANGED) {
			ctrlr->pending_aen &= ~NVMF_AEN_DISCOVERY_CHANGED;
			dw0 = AEN_DW0(AEN_TYPE_NOTICE, AEN_INFO_DISCOVERY_CHANGED, NVME_LOG_DISCOVERY);
		} else {
			ctrlr->pending_aen = 0;	/* no event type we know: drop */
			break;
		}
		complete_aer(pop_aer(ctrlr, 0), dw0, 0);
	}
}

void nvmf_ctrlr_note_ns_changed(struct nvmf_ctrlr *ctrlr, uint32_t nsid)
{
	bool listed = false;

	features_init(ctrlr);
	/* One FFFFFFFFh entry means "more than 1024 changed": stays until read. */
	if (ctrlr->num_changed_ns == 1 && ctrlr->changed_ns[0] == NSID_ALL)
		listed = true;
	for (uint32_t i = 0; i < ctrlr->num_changed_ns && !listed; i++)
		listed = ctrlr->changed_ns[i] == nsid;
	if (!listed) {
		if (ctrlr->num_changed_ns < NS_LIST_MAX) {
			ctrlr->changed_ns[ctrlr->num_changed_ns++] = nsid;
		} else {
			ctrlr->changed_ns[0] = NSID_ALL;
			ctrlr->num_changed_ns = 1;
		}
	}
	/* One notice until the host reads the log (nvmet's masking). */
	if (!(ctrlr->aec & AEC_NS_ATTR_NOTICE) || ctrlr->aen_masked_ns_changed)
		return;
	ctrlr->aen_masked_ns_changed = true;
	ctrlr->pending_aen |= NVMF_AEN_NS_ATTR_CHANGED;
	nvmf_ctrlr_deliver_aen(ctrlr);
}

void nvmf_ctrlr_note_discovery_changed(struct nvmf_ctrlr *ctrlr)
{
	features_init(ctrlr);
	if (!ctrlr_is_discovery(ctrlr) || !(ctrlr->aec & AEC_DISCOVERY_CHANGE) ||
	    ctrlr->aen_masked_discovery)
		return;
	ctrlr->aen_masked_discovery = true;
	ctrlr->pending_aen |= NVMF_AEN_DISCOVERY_CHANGED;
	nvmf_ctrlr_deliver_aen(ctrlr);
}

void nvmf_ctrlr_abort_aers(struct nvmf_ctrlr *ctrlr)
{
	while (ctrlr->num_aer > 0)
		complete_aer(pop_aer(ctrlr, 0), 0,
			     nvme_status(NVME_SCT_GENERIC, NVME_SC_ABORTED_SQ_DELETION, 0));
}

static enum admin_rc async_event_request(struct nvmf_request *req)
{
	struct nvmf_ctrlr *ctrlr = req_ctrlr(req);

	if (ctrlr->num_aer >= NVMF_MAX_AER)
		return admin_fail(req, NVME_SCT_COMMAND_SPECIFIC,
				  NVME_SC_ASYNC_EVENT_REQUEST_LIMIT_EXCEEDED);
	ctrlr->aer[ctrlr->num_aer++] = req;
	/* An event may have been waiting for an AER. */
	nvmf_ctrlr_deliver_aen(ctrlr);
	return ADMIN_PARKED;
}

/*
 * Abort: commands reach the bdev at once and cannot be called back, so
 * only a parked AER can be aborted; anything else answers "not aborted"
 * (DW0 bit 0), as SPDK does.
 */
static enum admin_rc abort_cmd(struct nvmf_request *req)
{
	struct nvmf_ctrlr *ctrlr = req_ctrlr(req);
	uint32_t cdw10 = cdw(req->cmd.cdw10);
	uint16_t sqid = cdw10 & 0xffffu, cid = (uint16_t)(cdw10 >> 16);
	uint32_t not_aborted = 1;

	for (uint32_t i = 0; sqid == 0 && i < ctrlr->num_aer; i++) {
		if (nvme_get_le16(&ctrlr->aer[i]->cmd.cid) != cid)
			continue;
		complete_aer(pop_aer(ctrlr, i), 0,
			     nvme_status(NVME_SCT_GENERIC, NVME_SC_ABORTED_BY_REQUEST, 0));
		not_aborted = 0;
		break;
	}
	req->rsp.cdw0 = nvme_get_le32(&not_aborted);
	return ADMIN_DONE;
}

/* ---- dispatch ------------------------------------------------------------------ */

static bool opcode_supported(const struct nvmf_ctrlr *ctrlr, uint8_t opc)
{
	switch (opc) {
	case NVME_OPC_GET_LOG_PAGE:
	case NVME_OPC_IDENTIFY:
	case NVME_OPC_SET_FEATURES:
	case NVME_OPC_GET_FEATURES:
	case NVME_OPC_ASYNC_EVENT_REQUEST:
	case NVME_OPC_KEEP_ALIVE:
		return true;
	case NVME_OPC_ABORT:
		return !ctrlr_is_discovery(ctrlr);
	default:
		/* Queue creation is Connect's; namespace management, format,
		 * sanitize and firmware are not offered. */
		return false;
	}
}

void nvmf_admin_exec(struct nvmf_request *req)
{
	struct nvmf_ctrlr *ctrlr = req_ctrlr(req);
	enum admin_rc rc;

	req->rsp.cdw0 = 0;
	req->rsp.status = 0;
	features_init(ctrlr);
	/* ctrlr.c has answered Command Sequence Error for an I/O controller not ready yet. */
	if (!opcode_supported(ctrlr, req->cmd.opc)) {
		rc = admin_fail(req, NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE);
	} else {
		switch (req->cmd.opc) {
		case NVME_OPC_IDENTIFY:
			rc = identify(req);
			break;
		case NVME_OPC_GET_LOG_PAGE:
			rc = get_log_page(req);
			break;
		case NVME_OPC_GET_FEATURES:
			rc = get_features(req);
			break;
		case NVME_OPC_SET_FEATURES:
			rc = set_features(req);
			break;
		case NVME_OPC_ASYNC_EVENT_REQUEST:
			rc = async_event_request(req);
			break;
		case NVME_OPC_ABORT:
			rc = abort_cmd(req);
			break;
		case NVME_OPC_KEEP_ALIVE:
			atomic_store(&ctrlr->last_activity_ticks, reactor_get_ticks());
			rc = ADMIN_DONE;
			break;
		default:
			rc = admin_fail(req, NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE);
			break;
		}
	}
	if (rc == ADMIN_DONE)
		nvmf_request_complete(req);
}
