/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVM I/O commands: Read, Write, Compare, fused Compare and Write, Flush,
 * Write Zeroes, Dataset Management. On the queue pair's thread, through
 * the poll group's bdev channel for the namespace; no lock.
 */
#include "nvmf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DSM_ATTR_DEALLOCATE (1u << 2)
#define DSM_MAX_RANGES 256

/* NVM Command Set 1.0 Figure 39: one DSM range. */
struct dsm_range {
	uint32_t attributes;
	uint32_t nlb;
	uint64_t slba;
} __attribute__((packed));

static inline uint16_t sc_generic(unsigned sc)
{
	return nvme_status(NVME_SCT_GENERIC, sc, 1);
}

static struct nvmf_pg_ns *req_pgns(struct nvmf_request *req)
{
	struct nvmf_ns *ns = req->ns;

	return &req->qpair->pg->subsystems[ns->subsystem->id]->ns[ns->nsid - 1];
}

/* Status of a bdev completion or submit error. */
static uint16_t bdev_status(int rc, uint8_t opc)
{
	switch (rc) {
	case 0:
		return 0;
	case -EILSEQ:
		return nvme_status(NVME_SCT_MEDIA_ERROR, NVME_SC_COMPARE_FAILURE, 0);
	case -ENOTSUP:
		return sc_generic(NVME_SC_INVALID_OPCODE);
	case -ERANGE:
		return sc_generic(NVME_SC_LBA_OUT_OF_RANGE);
	case -ENODEV:
		return nvme_status(NVME_SCT_GENERIC, NVME_SC_NAMESPACE_NOT_READY, 0);
	case -EIO:
		if (opc == NVME_OPC_READ || opc == NVME_OPC_COMPARE)
			return nvme_status(NVME_SCT_MEDIA_ERROR, NVME_SC_UNRECOVERED_READ_ERROR, 0);
		if (opc == NVME_OPC_WRITE || opc == NVME_OPC_WRITE_ZEROES)
			return nvme_status(NVME_SCT_MEDIA_ERROR, NVME_SC_WRITE_FAULT, 0);
		return nvme_status(NVME_SCT_GENERIC, NVME_SC_INTERNAL_ERROR, 0);
	default:
		return nvme_status(NVME_SCT_GENERIC, NVME_SC_INTERNAL_ERROR, 0);
	}
}

static void account(struct nvmf_request *req)
{
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;

	if (!ctrlr)
		return;
	switch (req->cmd.opc) {
	case NVME_OPC_READ:
	case NVME_OPC_COMPARE:
		atomic_fetch_add_explicit(&ctrlr->host_read_cmds, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&ctrlr->data_units_read, req->length / 512, memory_order_relaxed);
		break;
	case NVME_OPC_WRITE:
		atomic_fetch_add_explicit(&ctrlr->host_write_cmds, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&ctrlr->data_units_written, req->length / 512, memory_order_relaxed);
		break;
	default:
		break;
	}
}

/* Complete an I/O that went to the bdev; then let the channel go if asked. */
static void io_complete(struct nvmf_request *req, uint16_t status)
{
	struct nvmf_pg_ns *pgns = req_pgns(req);

	if (status == 0)
		account(req);
	nvmf_request_complete_status(req, status);
	nvmf_pg_ns_io_done(pgns);
}

static void io_done(void *arg, int rc)
{
	struct nvmf_request *req = arg;

	io_complete(req, bdev_status(rc, req->cmd.opc));
}

/* Namespace and channel of @p req; completes it and returns false on failure. */
static bool io_bind_ns(struct nvmf_request *req)
{
	struct nvmf_qpair *qpair = req->qpair;
	struct nvmf_ns *ns = nvmf_subsystem_get_ns(qpair->ctrlr->subsystem, req->cmd.nsid);
	struct nvmf_pg_ns *pgns;

	if (!ns) {
		nvmf_request_complete_status(req, sc_generic(NVME_SC_INVALID_NAMESPACE_OR_FORMAT));
		return false;
	}
	pgns = nvmf_pg_ns_get(qpair->pg, ns);
	if (!pgns) {
		REACTOR_ERRLOG("namespace %u: no channel for bdev %s: %s", ns->nsid, ns->bdev_name,
			       strerror(errno));
		nvmf_request_complete_status(req, nvme_status(NVME_SCT_GENERIC, NVME_SC_NAMESPACE_NOT_READY, 0));
		return false;
	}
	req->ns = ns;
	req->ns_ch = pgns->ch;
	return true;
}

/* The bdev takes exactly the bytes of the range: cut req->iov down to
 * @p len (the transport sets iov afresh for every command). */
static bool trim_iov(struct nvmf_request *req, uint64_t len)
{
	int i;

	for (i = 0; i < req->iovcnt && len; i++) {
		if (req->iov[i].iov_len >= len) {
			req->iov[i].iov_len = len;
			req->iovcnt = i + 1;
			return true;
		}
		len -= req->iov[i].iov_len;
	}
	return false;
}

/* Range and size checks of a Read/Write/Compare; 0 or the status to fail with. */
static uint16_t check_rw(struct nvmf_request *req, uint64_t *slba, uint64_t *nlb, bool with_data)
{
	struct bdev *bdev = req->ns->bdev;
	uint64_t num_blocks = bdev_get_num_blocks(bdev);
	uint64_t bytes;

	*slba = (uint64_t)req->cmd.cdw10 | ((uint64_t)req->cmd.cdw11 << 32);
	*nlb = (uint64_t)(req->cmd.cdw12 & 0xffffu) + 1;
	if (*slba >= num_blocks || *nlb > num_blocks - *slba)
		return sc_generic(NVME_SC_LBA_OUT_OF_RANGE);
	if (!with_data)
		return 0;
	bytes = *nlb * bdev_get_block_size(bdev);
	if (bytes > req->qpair->transport->opts.max_io_size)
		return sc_generic(NVME_SC_INVALID_FIELD);	/* above MDTS */
	if (bytes != req->length || !trim_iov(req, bytes))
		return sc_generic(NVME_SC_DATA_SGL_LENGTH_INVALID);
	return 0;
}

static void exec_rw(struct nvmf_request *req)
{
	uint64_t slba, nlb;
	uint16_t status;
	int rc;

	if (!io_bind_ns(req))
		return;
	status = check_rw(req, &slba, &nlb, true);
	if (status) {
		nvmf_request_complete_status(req, status);
		return;
	}
	switch (req->cmd.opc) {
	case NVME_OPC_READ:
		rc = bdev_readv(req->ns_ch, req->iov, req->iovcnt, slba, nlb, io_done, req);
		break;
	case NVME_OPC_WRITE:
		rc = bdev_writev(req->ns_ch, req->iov, req->iovcnt, slba, nlb, io_done, req);
		break;
	default:
		rc = bdev_comparev(req->ns_ch, req->iov, req->iovcnt, slba, nlb, io_done, req);
		break;
	}
	if (rc) {
		nvmf_request_complete_status(req, bdev_status(rc, req->cmd.opc));
		return;
	}
	req_pgns(req)->outstanding++;
}

static void exec_write_zeroes(struct nvmf_request *req)
{
	uint64_t slba, nlb;
	uint16_t status;
	int rc;

	if (!io_bind_ns(req))
		return;
	status = check_rw(req, &slba, &nlb, false);
	if (status) {
		nvmf_request_complete_status(req, status);
		return;
	}
	rc = bdev_write_zeroes(req->ns_ch, slba, nlb, io_done, req);
	if (rc) {
		nvmf_request_complete_status(req, bdev_status(rc, req->cmd.opc));
		return;
	}
	req_pgns(req)->outstanding++;
}

static void exec_flush(struct nvmf_request *req)
{
	int rc;

	if (!io_bind_ns(req))
		return;
	rc = bdev_flush(req->ns_ch, 0, bdev_get_num_blocks(req->ns->bdev), io_done, req);
	if (rc == -ENOTSUP) {
		/* Nothing volatile to write back. */
		nvmf_request_complete(req);
		return;
	}
	if (rc) {
		nvmf_request_complete_status(req, bdev_status(rc, req->cmd.opc));
		return;
	}
	req_pgns(req)->outstanding++;
}

/* Dataset Management: one unmap per range, the command completes with the last. */
struct dsm_ctx {
	struct nvmf_request *req;
	uint32_t pending;
	int rc;
};

static void dsm_range_done(void *arg, int rc)
{
	struct dsm_ctx *c = arg;
	struct nvmf_request *req = c->req;

	if (rc && !c->rc)
		c->rc = rc;
	if (--c->pending)
		return;
	rc = c->rc;
	free(c);
	io_complete(req, bdev_status(rc, NVME_OPC_DATASET_MANAGEMENT));
}

static void exec_dsm(struct nvmf_request *req)
{
	uint32_t nr = (req->cmd.cdw10 & 0xffu) + 1, i;
	uint64_t num_blocks;
	struct dsm_range *ranges;
	struct dsm_ctx *c;

	if (!io_bind_ns(req))
		return;
	if (req->length < nr * sizeof(*ranges)) {
		nvmf_request_complete_status(req, sc_generic(NVME_SC_DATA_SGL_LENGTH_INVALID));
		return;
	}
	if (!(req->cmd.cdw11 & DSM_ATTR_DEALLOCATE)) {
		/* Only hints (integral read/write): nothing to do. */
		nvmf_request_complete(req);
		return;
	}
	ranges = malloc(nr * sizeof(*ranges));
	c = calloc(1, sizeof(*c));
	if (!ranges || !c) {
		free(ranges);
		free(c);
		nvmf_request_complete_status(req, nvme_status(NVME_SCT_GENERIC, NVME_SC_INTERNAL_ERROR, 0));
		return;
	}
	nvmf_request_copy_from_data(req, ranges, nr * sizeof(*ranges));
	num_blocks = bdev_get_num_blocks(req->ns->bdev);
	for (i = 0; i < nr; i++) {
		uint64_t slba = nvme_get_le64(&ranges[i].slba);
		uint32_t nlb = nvme_get_le32(&ranges[i].nlb);

		if (slba > num_blocks || nlb > num_blocks - slba) {
			free(ranges);
			free(c);
			nvmf_request_complete_status(req, sc_generic(NVME_SC_LBA_OUT_OF_RANGE));
			return;
		}
	}
	c->req = req;
	c->pending = 1;	/* held until every range is submitted */
	req_pgns(req)->outstanding++;
	for (i = 0; i < nr; i++) {
		uint64_t slba = nvme_get_le64(&ranges[i].slba);
		uint32_t nlb = nvme_get_le32(&ranges[i].nlb);
		int rc;

		if (nlb == 0)
			continue;
		c->pending++;
		rc = bdev_unmap(req->ns_ch, slba, nlb, dsm_range_done, c);
		if (rc) {
			c->pending--;
			if (!c->rc)
				c->rc = rc;
			break;
		}
	}
	free(ranges);
	dsm_range_done(c, 0);
}

/* ---- fused Compare and Write ------------------------------------------------------ */

static void caw_done(void *arg, int rc)
{
	struct nvmf_request *first = arg;
	struct nvmf_request *second = first->fused_peer;
	struct nvmf_pg_ns *pgns = req_pgns(first);

	/* The pair completes in order: compare, then write (Base 2.0 §3.4.2). */
	if (rc == 0) {
		account(first);
		second->ns = first->ns;
		account(second);
		nvmf_request_complete(first);
		nvmf_request_complete(second);
	} else {
		nvmf_request_complete_status(first, bdev_status(rc, NVME_OPC_COMPARE));
		nvmf_request_complete_status(second, sc_generic(NVME_SC_ABORTED_FAILED_FUSED));
	}
	nvmf_pg_ns_io_done(pgns);
}

static void fail_fused(struct nvmf_request *first, struct nvmf_request *second, uint16_t status)
{
	nvmf_request_complete_status(first, status);
	nvmf_request_complete_status(second, sc_generic(NVME_SC_ABORTED_FAILED_FUSED));
}

static void exec_compare_and_write(struct nvmf_request *first, struct nvmf_request *second)
{
	uint64_t slba, nlb, slba2, nlb2;
	uint16_t status;
	int rc;

	if (second->cmd.opc != NVME_OPC_WRITE || second->cmd.nsid != first->cmd.nsid) {
		fail_fused(first, second, sc_generic(NVME_SC_INVALID_FIELD));
		return;
	}
	if (!io_bind_ns(first)) {
		nvmf_request_complete_status(second, sc_generic(NVME_SC_ABORTED_FAILED_FUSED));
		return;
	}
	status = check_rw(first, &slba, &nlb, true);
	if (!status) {
		second->ns = first->ns;
		status = check_rw(second, &slba2, &nlb2, true);
		if (!status && (slba2 != slba || nlb2 != nlb))
			status = sc_generic(NVME_SC_INVALID_FIELD);
	}
	if (status) {
		fail_fused(first, second, status);
		return;
	}
	first->fused_peer = second;
	second->fused_peer = first;
	rc = bdev_compare_and_writev(first->ns_ch, first->iov, first->iovcnt, second->iov, second->iovcnt, slba,
				     nlb, caw_done, first);
	if (rc) {
		fail_fused(first, second, bdev_status(rc, NVME_OPC_COMPARE));
		return;
	}
	req_pgns(first)->outstanding++;
}

void nvmf_io_exec(struct nvmf_request *req)
{
	struct nvmf_qpair *qpair = req->qpair;
	unsigned fuse = req->cmd.flags & NVME_SQE_FUSE_MASK;

	if (qpair->fused_first) {
		struct nvmf_request *first = qpair->fused_first;

		qpair->fused_first = NULL;
		if (fuse == NVME_FUSE_SECOND) {
			exec_compare_and_write(first, req);
			return;
		}
		/* The second half must follow the first at once. */
		nvmf_request_complete_status(first, sc_generic(NVME_SC_ABORTED_MISSING_FUSED));
	}
	if (fuse == NVME_FUSE_FIRST) {
		if (req->cmd.opc != NVME_OPC_COMPARE) {
			nvmf_request_complete_status(req, sc_generic(NVME_SC_INVALID_FIELD));
			return;
		}
		qpair->fused_first = req;
		return;
	}
	if (fuse == NVME_FUSE_SECOND) {
		nvmf_request_complete_status(req, sc_generic(NVME_SC_ABORTED_MISSING_FUSED));
		return;
	}
	if (fuse != NVME_FUSE_NONE) {
		nvmf_request_complete_status(req, sc_generic(NVME_SC_INVALID_FIELD));
		return;
	}
	switch (req->cmd.opc) {
	case NVME_OPC_READ:
	case NVME_OPC_WRITE:
	case NVME_OPC_COMPARE:
		exec_rw(req);
		return;
	case NVME_OPC_FLUSH:
		exec_flush(req);
		return;
	case NVME_OPC_WRITE_ZEROES:
		exec_write_zeroes(req);
		return;
	case NVME_OPC_DATASET_MANAGEMENT:
		exec_dsm(req);
		return;
	default:
		/* Write Uncorrectable and everything else. */
		nvmf_request_complete_status(req, sc_generic(NVME_SC_INVALID_OPCODE));
		return;
	}
}
