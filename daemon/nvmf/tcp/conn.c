/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One NVMe/TCP connection: a receive state machine over a batch buffer,
 * the request pool, R2T flow, and batched sends. Lives on its poll group's
 * thread; nothing here locks or allocates per I/O.
 *
 * Receiving: one recv fills rxbuf with as many PDUs as the kernel has;
 * headers are checked in place (nvme_tcp_parse_ch/psh) and copied out,
 * small data is copied into the request's buffer, and a large remainder is
 * read straight into the request's buffer (readv: data, then rxbuf for
 * whatever follows).
 *
 * Lifetime: conn_disconnect() stops receiving and tells the core; the
 * connection is freed (socket closed, nvmf_qpair_fini()) once no request
 * is at the core and no callback of ours is on the stack.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "tcp.h"

#define RX_BUF_SIZE (64u * 1024u)
/* Requests beyond the queue depth: responses still being sent while the host,
 * which has seen them, submits new commands. */
#define POOL_SLACK 16u
/* Data at least this large is read straight into the request's buffer. */
#define DIRECT_READ_MIN 2048u
/* A C2HData header with padding up to HPDA (<= 128) and its data digest. */
#define C2H_SLOT 136u
/* Reads of leftover input before closing, so the close is a FIN and not a
 * RST that could destroy a TermReq still on its way. */
#define CLOSE_DRAIN_READS 4
/* A peer must send its ICReq this soon after connecting (hosts send it at
 * once), or the connection is closed: an idle socket would otherwise hold
 * its receive buffer for as long as the peer likes. */
#ifndef ICREQ_TIMEOUT_S
#define ICREQ_TIMEOUT_S 10u	/* the unit test builds with a shorter one */
#endif

enum conn_state {
	CONN_WAIT_ICREQ,
	CONN_RUNNING,
	CONN_CLOSING,
};

enum rx_state {
	RX_CH,		/* common header */
	RX_PSH,		/* rest of the header and its digest */
	RX_PAD,		/* padding up to PDO */
	RX_DATA,
	RX_DDGST,
};

enum req_state {
	REQ_FREE,
	REQ_RECV,	/* receiving its data (in-capsule or H2CData) */
	REQ_EXEC,	/* at the core */
	REQ_SEND,	/* response queued */
	REQ_DONE,	/* dropped by a close; waits for its sends to be cancelled */
};

struct tcp_conn;

struct tcp_req {
	struct nvmf_request req;	/* first */
	struct tcp_conn *conn;
	enum req_state state;
	uint16_t ttag;			/* index in the pool */
	uint16_t fail_status;		/* complete with this once the data is skipped */
	uint32_t h2c_off;		/* next expected H2CData offset */
	bool ddgst_err;
	uint8_t sends;			/* send requests queued */
	uint8_t *buf;
	uint8_t *c2h_slots;		/* c2h_max_pdus * C2H_SLOT */
	struct iovec *send_iov;		/* 3 per C2HData PDU + 1 */
	struct reactor_sock_request rsp_sreq;
	struct reactor_sock_request r2t_sreq;
	struct iovec r2t_iov;
	uint8_t r2t_hdr[NVME_TCP_R2T_HLEN + NVME_TCP_DIGEST_LEN];
	uint8_t resp_hdr[NVME_TCP_RESP_HLEN + NVME_TCP_DIGEST_LEN];
	TAILQ_ENTRY(tcp_req) link;	/* free list or R2T wait list */
};

struct tcp_conn {
	struct nvmf_qpair qpair;	/* first */
	struct nvmf_tcp_transport *tt;
	struct nvmf_tcp_pg *tpg;
	struct reactor_sock *sock;
	enum conn_state state;
	struct nvme_tcp_rx_ctx rx;
	/* Negotiated by ICReq/ICResp. */
	bool hdgst, ddgst;
	uint8_t hpda;
	struct reactor_poller *icreq_timer;	/* until the ICReq arrives */
	/* Request pool (made at ICReq). */
	struct tcp_req *reqs;
	uint32_t num_reqs;
	TAILQ_HEAD(, tcp_req) free_reqs;
	uint32_t active;		/* commands taken whose response is not queued yet */
	uint32_t at_core;
	uint8_t *data;
	size_t data_len;
	uint8_t *slots;
	struct iovec *iovs;
	/* Receive. */
	uint8_t *rxbuf;
	uint32_t rx_start, rx_end;
	enum rx_state rx_state;
	struct nvme_tcp_pdu_info pdu;
	uint8_t hdr[NVME_TCP_HDR_MAX];	/* the current PDU's header */
	uint32_t pad_left;
	struct tcp_req *rx_req;		/* where the data goes (NULL with rx_discard: nowhere) */
	bool rx_discard;
	uint32_t rx_data_off;		/* offset of this PDU's data in the request */
	struct iovec rx_iov[NVMF_REQ_MAX_IOV];
	int rx_iovcnt, rx_iovidx;
	uint32_t data_left;
	uint8_t rx_ddgst[NVME_TCP_DIGEST_LEN];
	uint32_t ddgst_got;
	bool rx_stalled;		/* a command waits for a free request */
	uint64_t ddgst_errors;
	/* Connection-level sends. */
	struct reactor_sock_request ic_sreq, term_sreq;
	struct iovec ic_iov, term_iov;
	uint8_t ic_hdr[NVME_TCP_ICRESP_HLEN];
	uint8_t term_buf[NVME_TCP_TERM_MAX_LEN];
	/* Lifetime. */
	int depth;			/* our callbacks on the stack */
	bool disconnected;		/* nvmf_qpair_disconnected() has returned */
	bool freeing;
};

static void conn_disconnect(struct tcp_conn *c);
static void conn_try_free(struct tcp_conn *c);
static void conn_rx_process(struct tcp_conn *c);

static inline struct tcp_conn *qpair_conn(struct nvmf_qpair *qpair)
{
	return (struct tcp_conn *)qpair;
}

/* ---- helpers --------------------------------------------------------------- */

/* iov[] = the bytes [off, off + len) of @p r's data. Returns the count. */
static int req_slice(const struct tcp_req *r, uint32_t off, uint32_t len, struct iovec *iov)
{
	uint32_t unit = r->conn->tt->base.opts.io_unit_size;
	int n = 0;

	while (len > 0) {
		uint32_t in = off % unit, take = unit - in;

		if (take > len)
			take = len;
		iov[n].iov_base = r->buf + off;
		iov[n].iov_len = take;
		n++;
		off += take;
		len -= take;
	}
	return n;
}

static enum nvme_data_dir cmd_dir(const struct nvme_sqe *sqe)
{
	if (sqe->opc == NVME_OPC_FABRICS)	/* the direction is in FCTYPE's low bits */
		return (enum nvme_data_dir)(((const uint8_t *)sqe)[4] & 3u);
	return nvme_opc_data_dir(sqe->opc);
}

static void conn_enter(struct tcp_conn *c)
{
	c->depth++;
}

static void conn_leave(struct tcp_conn *c)
{
	if (--c->depth == 0 && c->state == CONN_CLOSING)
		conn_try_free(c);
}

static void req_release(struct tcp_req *r)
{
	struct tcp_conn *c = r->conn;

	r->state = REQ_FREE;
	TAILQ_INSERT_HEAD(&c->free_reqs, r, link);	/* LIFO: its buffer is still warm */
	if (c->rx_stalled && c->state == CONN_RUNNING) {
		c->rx_stalled = false;
		conn_rx_process(c);
	}
}

/* Fatal protocol error: one log line, a C2HTermReq echoing the header, close. */
static void conn_fatal(struct tcp_conn *c, const struct nvme_tcp_err *err, const void *hdr,
		       size_t hdr_len)
{
	size_t len;

	if (c->state == CONN_CLOSING)
		return;
	REACTOR_ERRLOG("NVMe/TCP %s:%u: %s: %s; closing the connection", c->qpair.peer_addr,
		       c->qpair.peer_port, nvme_tcp_fes_name(err->fes), err->why);
	len = nvme_tcp_build_term_req(c->term_buf, NVME_TCP_PDU_C2H_TERM_REQ, err->fes, err->fei,
				      hdr, hdr_len);
	c->term_iov = (struct iovec){.iov_base = c->term_buf, .iov_len = len};
	c->term_sreq.iov = &c->term_iov;
	c->term_sreq.iovcnt = 1;
	(void)reactor_sock_writev_async(c->sock, &c->term_sreq);	/* best effort */
	conn_disconnect(c);
}

static void conn_fatal_why(struct tcp_conn *c, uint16_t fes, uint32_t fei, const char *why)
{
	struct nvme_tcp_err err = {.fes = fes, .fei = fei, .why = why};

	conn_fatal(c, &err, c->hdr, c->pdu.hdr_len);
}

static void conn_send_done(void *arg, int status)
{
	struct tcp_conn *c = arg;

	if (status < 0 && status != -ECANCELED && c->state != CONN_CLOSING) {
		conn_enter(c);
		conn_disconnect(c);
		conn_leave(c);
	}
}

/* ---- sending ----------------------------------------------------------------- */

static void req_send_done(void *arg, int status)
{
	struct tcp_req *r = arg;
	struct tcp_conn *c = r->conn;

	r->sends--;
	if (c->freeing) {
		if (r->sends == 0 && (r->state == REQ_SEND || r->state == REQ_DONE))
			r->state = REQ_FREE;
		return;
	}
	conn_enter(c);
	if (status < 0 && c->state != CONN_CLOSING) {
		if (status != -ECANCELED)
			REACTOR_INFOLOG("NVMe/TCP %s:%u: send failed: %s", c->qpair.peer_addr,
					c->qpair.peer_port, strerror(-status));
		conn_disconnect(c);
	}
	if (r->sends == 0 && (r->state == REQ_SEND || r->state == REQ_DONE))
		req_release(r);
	conn_leave(c);
}

static int req_queue_send(struct tcp_req *r, struct reactor_sock_request *sreq, struct iovec *iov,
			  int iovcnt)
{
	int rc;

	sreq->iov = iov;
	sreq->iovcnt = iovcnt;
	sreq->cb_fn = req_send_done;
	sreq->cb_arg = r;
	rc = reactor_sock_writev_async(r->conn->sock, sreq);
	if (rc == 0)
		r->sends++;
	return rc;
}

/*
 * One R2T per command, for its whole transfer: ICReq's MAXR2T bounds the
 * R2Ts outstanding per command (NVMe/TCP 1.0 §3.6.2.2), never fewer than
 * one, so every command gets its R2T at once, as Linux nvmet does. The
 * host splits the window by our MAXH2CDATA.
 */
static void send_r2t(struct tcp_req *r)
{
	struct tcp_conn *c = r->conn;
	size_t len;

	r->state = REQ_RECV;
	r->h2c_off = 0;
	len = nvme_tcp_build_r2t(r->r2t_hdr, r->req.cmd.cid, r->ttag, 0, r->req.length, c->hdgst);
	r->r2t_iov = (struct iovec){.iov_base = r->r2t_hdr, .iov_len = len};
	if (req_queue_send(r, &r->r2t_sreq, &r->r2t_iov, 1) != 0)
		conn_disconnect(c);
}

/* The core's completion (ops->req_complete), or ours for a command refused early. */
void nvmf_tcp_req_complete(struct nvmf_request *req)
{
	struct tcp_req *r = (struct tcp_req *)req;
	struct tcp_conn *c = r->conn;
	const struct nvmf_transport_opts *o = &c->tt->base.opts;
	bool success = false;
	int n = 0;

	if (r->state == REQ_EXEC)
		c->at_core--;
	c->active--;
	conn_enter(c);
	if (c->state == CONN_CLOSING) {
		r->state = REQ_DONE;
		if (r->sends == 0)
			req_release(r);
		conn_leave(c);
		return;
	}
	r->state = REQ_SEND;
	if (req->xfer == NVMF_XFER_CTRLR_TO_HOST && req->length > 0 &&
	    (req->rsp.status & 0xfffeu) == 0) {
		uint32_t chunk = c->tt->c2h_chunk;

		/* §3.6.2.9: with SQ flow control off the host needs no SQHD, so the
		 * last C2HData may stand for the response. */
		success = o->c2h_success && c->qpair.sq_flow_control_disabled && req->rsp.cdw0 == 0;
		for (uint32_t off = 0, i = 0; off < req->length; off += chunk, i++) {
			uint32_t len = req->length - off < chunk ? req->length - off : chunk;
			uint8_t *slot = r->c2h_slots + (size_t)i * C2H_SLOT;
			bool last = off + len == req->length;
			uint8_t flags = (uint8_t)((last ? NVME_TCP_F_DATA_LAST : 0) |
						  (last && success ? NVME_TCP_F_DATA_SUCCESS : 0));
			size_t hl = nvme_tcp_build_data(slot, NVME_TCP_PDU_C2H_DATA, req->cmd.cid, 0,
							off, len, flags, c->hdgst, c->ddgst, c->hpda);
			int k;

			r->send_iov[n++] = (struct iovec){.iov_base = slot, .iov_len = hl};
			k = req_slice(r, off, len, &r->send_iov[n]);
			if (c->ddgst) {
				uint8_t *d = slot + C2H_SLOT - NVME_TCP_DIGEST_LEN;

				nvme_put_le32(d, nvme_crc32c_iov(&r->send_iov[n], k));
				n += k;
				r->send_iov[n++] = (struct iovec){.iov_base = d,
								  .iov_len = NVME_TCP_DIGEST_LEN};
			} else {
				n += k;
			}
		}
	}
	if (!success) {
		size_t hl = nvme_tcp_build_capsule_resp(r->resp_hdr, &req->rsp, c->hdgst);

		r->send_iov[n++] = (struct iovec){.iov_base = r->resp_hdr, .iov_len = hl};
	}
	if (req_queue_send(r, &r->rsp_sreq, r->send_iov, n) != 0) {
		conn_disconnect(c);
		r->state = REQ_DONE;
		if (r->sends == 0)
			req_release(r);
	}
	conn_leave(c);
}

/* Complete a command the core never saw (bad SGL, data digest error); it
 * took an SQ entry all the same. */
static void req_fail(struct tcp_req *r, uint16_t status)
{
	struct nvmf_request *req = &r->req;
	struct nvmf_qpair *q = &r->conn->qpair;

	memset(&req->rsp, 0, sizeof(req->rsp));
	nvmf_qpair_fill_cqe(q, req);
	req->rsp.status = status;
	req->xfer = NVMF_XFER_NONE;
	nvmf_tcp_req_complete(req);
}

static void req_exec(struct tcp_req *r)
{
	r->state = REQ_EXEC;
	r->conn->at_core++;
	nvmf_request_exec(&r->req);
}

/* ---- receiving ------------------------------------------------------------------ */

/* Start the data phase of the current PDU: @p len bytes into @p r at @p off,
 * or skipped when @p r is NULL or @p discard. */
static void rx_begin_data(struct tcp_conn *c, struct tcp_req *r, bool discard, uint32_t off)
{
	c->rx_req = r;
	c->rx_discard = discard || r == NULL;
	c->rx_data_off = off;
	c->data_left = c->pdu.data_len;
	c->ddgst_got = 0;
	c->rx_iovcnt = c->rx_discard ? 0 : req_slice(r, off, c->pdu.data_len, c->rx_iov);
	c->rx_iovidx = 0;
	c->pad_left = c->pdu.data_off - c->pdu.hdr_len;
	c->rx_state = c->pad_left ? RX_PAD : RX_DATA;
}

/* Advance the data cursor past @p n bytes already placed (or skipped). */
static void rx_advance(struct tcp_conn *c, uint32_t n)
{
	c->data_left -= n;
	while (n > 0 && c->rx_iovidx < c->rx_iovcnt) {
		struct iovec *v = &c->rx_iov[c->rx_iovidx];
		size_t k = v->iov_len < n ? v->iov_len : n;

		v->iov_base = (uint8_t *)v->iov_base + k;
		v->iov_len -= k;
		n -= (uint32_t)k;
		if (v->iov_len == 0)
			c->rx_iovidx++;
	}
}

static void rx_copy(struct tcp_conn *c, const uint8_t *p, uint32_t n)
{
	uint32_t left = n;

	for (int i = c->rx_iovidx; left > 0 && i < c->rx_iovcnt; i++) {
		size_t k = c->rx_iov[i].iov_len < left ? c->rx_iov[i].iov_len : left;

		memcpy(c->rx_iov[i].iov_base, p, k);
		p += k;
		left -= (uint32_t)k;
	}
	rx_advance(c, n);
}

static void icreq_handle(struct tcp_conn *c)
{
	const struct nvme_tcp_icreq *ic = (const void *)c->hdr;
	struct nvmf_tcp_transport *tt = c->tt;
	uint32_t slots = tt->c2h_max_pdus;
	uint32_t num;
	size_t len;

	reactor_poller_unregister(&c->icreq_timer);
	c->hpda = ic->hpda;
	c->hdgst = !!(ic->dgst & NVME_TCP_DGST_HDR);
	c->ddgst = !!(ic->dgst & NVME_TCP_DGST_DATA);

	num = tt->max_depth + POOL_SLACK;
	if (num > UINT16_MAX)	/* TTAG is the index */
		num = UINT16_MAX;
	c->reqs = calloc(num, sizeof(*c->reqs));
	c->slots = calloc((size_t)num * slots, C2H_SLOT);
	c->iovs = calloc((size_t)num * (3 * slots + 1), sizeof(struct iovec));
	/* Untouched pages of the data buffers cost nothing: 4 KiB I/O on a
	 * 128 KiB buffer uses one page. */
	c->data_len = (size_t)num * tt->buf_size;
	c->data = mmap(NULL, c->data_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (c->data == MAP_FAILED)
		c->data = NULL;
	if (c->reqs == NULL || c->slots == NULL || c->iovs == NULL || c->data == NULL) {
		REACTOR_ERRLOG("NVMe/TCP %s:%u: out of memory for %u requests; closing the connection",
			       c->qpair.peer_addr, c->qpair.peer_port, num);
		conn_disconnect(c);	/* num_reqs stays 0: no request to walk */
		return;
	}
	c->num_reqs = num;
	for (uint32_t i = 0; i < c->num_reqs; i++) {
		struct tcp_req *r = &c->reqs[i];

		r->conn = c;
		r->ttag = (uint16_t)i;
		r->buf = c->data + (size_t)i * tt->buf_size;
		r->c2h_slots = c->slots + (size_t)i * slots * C2H_SLOT;
		r->send_iov = c->iovs + (size_t)i * (3 * slots + 1);
		TAILQ_INSERT_TAIL(&c->free_reqs, r, link);
	}

	c->rx.ic_done = true;
	c->rx.hdgst = c->hdgst;
	c->rx.ddgst = c->ddgst;
	c->rx.rx_pda = 0;	/* CPDA 0: we take data at any offset */
	c->rx.max_h2c_data = NVMF_TCP_MAX_H2C_DATA;
	c->rx.max_icd = tt->admin_icd;
	c->state = CONN_RUNNING;

	len = nvme_tcp_build_icresp(c->ic_hdr, 0, c->hdgst, c->ddgst, NVMF_TCP_MAX_H2C_DATA);
	c->ic_iov = (struct iovec){.iov_base = c->ic_hdr, .iov_len = len};
	c->ic_sreq.iov = &c->ic_iov;
	c->ic_sreq.iovcnt = 1;
	if (reactor_sock_writev_async(c->sock, &c->ic_sreq) != 0)
		conn_disconnect(c);
	c->rx_state = RX_CH;
}

static void capsule_handle(struct tcp_conn *c)
{
	const struct nvme_tcp_cmd *cmd = (const void *)c->hdr;
	uint32_t limit = c->qpair.sq_depth ? c->qpair.sq_depth : c->tt->max_depth;
	struct tcp_req *r;
	struct nvmf_request *req;
	bool in_capsule = false;
	uint32_t length = 0;
	enum nvme_data_dir dir;
	uint16_t status;

	/* Even without SQ flow control the host may not exceed the queue size. */
	if (c->active >= limit) {
		conn_fatal_why(c, NVME_TCP_FES_PDU_SEQUENCE_ERROR, 0,
			       "more commands outstanding than the queue size");
		return;
	}
	r = TAILQ_FIRST(&c->free_reqs);	/* checked before the header was taken */
	TAILQ_REMOVE(&c->free_reqs, r, link);
	c->active++;
	r->state = REQ_RECV;
	r->fail_status = 0;
	r->ddgst_err = false;
	req = &r->req;
	req->qpair = &c->qpair;
	memcpy(&req->cmd, &cmd->sqe, sizeof(req->cmd));
	memset(&req->rsp, 0, sizeof(req->rsp));
	req->ns = NULL;
	req->ns_ch = NULL;
	req->fused_peer = NULL;
	req->xfer = NVMF_XFER_NONE;
	req->length = 0;
	req->iovcnt = 0;

	status = nvme_tcp_parse_cmd_sgl(&req->cmd, c->pdu.data_len, c->tt->base.opts.max_io_size,
					&in_capsule, &length);
	dir = cmd_dir(&req->cmd);
	if (status == 0 && length > 0 && (dir == NVME_DATA_BIDIRECTIONAL || dir == NVME_DATA_NONE))
		status = nvme_status(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD, 1);
	if (status != 0) {
		r->fail_status = status;
		if (c->pdu.data_len > 0) {
			rx_begin_data(c, r, true, 0);
		} else {
			c->rx_state = RX_CH;
			req_fail(r, status);
		}
		return;
	}
	req->length = length;
	if (length > 0) {
		req->xfer = dir == NVME_DATA_HOST_TO_CTRLR ? NVMF_XFER_HOST_TO_CTRLR
							   : NVMF_XFER_CTRLR_TO_HOST;
		req->iovcnt = req_slice(r, 0, length, req->iov);
	}
	if (in_capsule) {
		rx_begin_data(c, r, false, 0);
		return;
	}
	c->rx_state = RX_CH;
	if (req->xfer == NVMF_XFER_HOST_TO_CTRLR) {
		send_r2t(r);
		return;
	}
	req_exec(r);
}

static void h2c_data_handle(struct tcp_conn *c)
{
	uint16_t ttag = nvme_get_le16(c->hdr + offsetof(struct nvme_tcp_data, ttag));
	struct nvme_tcp_err err;
	struct tcp_req *r;

	if (ttag >= c->num_reqs || c->reqs[ttag].state != REQ_RECV ||
	    c->reqs[ttag].req.xfer != NVMF_XFER_HOST_TO_CTRLR || c->reqs[ttag].fail_status != 0) {
		conn_fatal_why(c, NVME_TCP_FES_INVALID_HEADER_FIELD,
			       offsetof(struct nvme_tcp_data, ttag), "H2CData for no R2T (TTAG)");
		return;
	}
	r = &c->reqs[ttag];
	if (nvme_get_le16(c->hdr + offsetof(struct nvme_tcp_data, cccid)) != r->req.cmd.cid) {
		conn_fatal_why(c, NVME_TCP_FES_INVALID_HEADER_FIELD,
			       offsetof(struct nvme_tcp_data, cccid), "H2CData CCCID does not match its R2T");
		return;
	}
	if (nvme_tcp_check_data_range(c->hdr, r->h2c_off, r->req.length, &err) != 0) {
		conn_fatal(c, &err, c->hdr, c->pdu.hdr_len);
		return;
	}
	rx_begin_data(c, r, false, r->h2c_off);
}

/* The whole PDU (header, data, digest) is in. */
static void rx_pdu_done(struct tcp_conn *c)
{
	struct tcp_req *r = c->rx_req;
	bool bad_digest = false;

	c->rx_state = RX_CH;
	c->rx_req = NULL;
	if (r == NULL)
		return;
	if (c->pdu.has_ddgst && !c->rx_discard) {
		struct iovec iov[NVMF_REQ_MAX_IOV];
		int n = req_slice(r, c->rx_data_off, c->pdu.data_len, iov);

		bad_digest = nvme_tcp_check_ddgst(iov, n, c->rx_ddgst) != 0;
		if (bad_digest && c->ddgst_errors++ == 0)	/* once per connection: no log flood */
			REACTOR_WARNLOG("NVMe/TCP %s:%u: data digest error on command %u; completing it with Transient Transport Error (further ones on this connection not logged)",
					c->qpair.peer_addr, c->qpair.peer_port, r->req.cmd.cid);
	}
	if (r->fail_status != 0) {
		req_fail(r, r->fail_status);
		return;
	}
	if (c->pdu.type == NVME_TCP_PDU_H2C_DATA) {
		r->h2c_off += c->pdu.data_len;
		r->ddgst_err |= bad_digest;
		if (r->h2c_off < r->req.length)
			return;
		bad_digest = r->ddgst_err;
	}
	if (bad_digest)
		req_fail(r, nvme_status(NVME_SCT_GENERIC, NVME_SC_TRANSIENT_TRANSPORT_ERROR, 0));
	else
		req_exec(r);
}

static void h2c_term_handle(struct tcp_conn *c)
{
	uint16_t fes = nvme_get_le16(c->hdr + offsetof(struct nvme_tcp_term, fes));

	REACTOR_ERRLOG("NVMe/TCP %s:%u: the host ended the connection (H2CTermReq: %s, FEI %u)",
		       c->qpair.peer_addr, c->qpair.peer_port, nvme_tcp_fes_name(fes),
		       nvme_get_le32(c->hdr + offsetof(struct nvme_tcp_term, fei)));
	conn_disconnect(c);
}

/* The header of the current PDU is checked and copied to c->hdr. */
static void rx_header_done(struct tcp_conn *c)
{
	switch (c->pdu.type) {
	case NVME_TCP_PDU_ICREQ:
		icreq_handle(c);
		return;
	case NVME_TCP_PDU_H2C_TERM_REQ:
		h2c_term_handle(c);
		return;
	case NVME_TCP_PDU_CAPSULE_CMD:
		capsule_handle(c);
		return;
	case NVME_TCP_PDU_H2C_DATA:
		h2c_data_handle(c);
		return;
	default:	/* parse_ch lets no other type through */
		conn_fatal_why(c, NVME_TCP_FES_INVALID_HEADER_FIELD, 0, "unexpected PDU type");
		return;
	}
}

/* Parse what rxbuf holds. Returns true when more input is needed. */
static bool rx_parse(struct tcp_conn *c)
{
	struct nvme_tcp_err err;

	while (c->state != CONN_CLOSING && !c->rx_stalled) {
		uint8_t *p = c->rxbuf + c->rx_start;
		uint32_t avail = c->rx_end - c->rx_start;
		int rc;

		switch (c->rx_state) {
		case RX_CH:
			/* The admin queue's in-capsule limit until Connect made this an I/O queue. */
			c->rx.max_icd = c->qpair.qid ? c->tt->base.opts.in_capsule_data_size
						     : c->tt->admin_icd;
			rc = nvme_tcp_parse_ch(&c->rx, p, avail, &c->pdu, &err);
			if (rc > 0)
				return true;
			if (rc < 0) {
				uint32_t echo = p[2] > NVME_TCP_CH_LEN ? p[2] : NVME_TCP_CH_LEN;

				conn_fatal(c, &err, p, echo < avail ? echo : avail);
				return false;
			}
			c->rx_state = RX_PSH;
			/* fall through */
		case RX_PSH:
			rc = nvme_tcp_parse_psh(&c->rx, p, avail, &c->pdu, &err);
			if (rc > 0)
				return true;
			if (rc < 0) {
				conn_fatal(c, &err, p, c->pdu.hdr_len);
				return false;
			}
			if (c->pdu.type == NVME_TCP_PDU_CAPSULE_CMD && TAILQ_EMPTY(&c->free_reqs)) {
				c->rx_stalled = true;	/* resumed by req_release() */
				return false;
			}
			memcpy(c->hdr, p, c->pdu.hdr_len);
			c->rx_start += c->pdu.hdr_len;
			c->rx_state = RX_CH;
			rx_header_done(c);
			break;
		case RX_PAD: {
			uint32_t k = avail < c->pad_left ? avail : c->pad_left;

			c->rx_start += k;
			c->pad_left -= k;
			if (c->pad_left > 0)
				return true;
			c->rx_state = RX_DATA;
			break;
		}
		case RX_DATA: {
			uint32_t k = avail < c->data_left ? avail : c->data_left;

			if (c->rx_discard)
				c->data_left -= k;
			else
				rx_copy(c, p, k);
			c->rx_start += k;
			if (c->data_left > 0)
				return true;
			if (c->pdu.has_ddgst) {
				c->rx_state = RX_DDGST;
				break;
			}
			rx_pdu_done(c);
			break;
		}
		case RX_DDGST: {
			uint32_t k = NVME_TCP_DIGEST_LEN - c->ddgst_got;

			if (k > avail)
				k = avail;
			memcpy(c->rx_ddgst + c->ddgst_got, p, k);
			c->ddgst_got += k;
			c->rx_start += k;
			if (c->ddgst_got < NVME_TCP_DIGEST_LEN)
				return true;
			rx_pdu_done(c);
			break;
		}
		}
	}
	return false;
}

/* One read: straight into the request when a large data remainder is next. */
static ssize_t rx_read(struct tcp_conn *c)
{
	ssize_t n;

	if (c->rx_start == c->rx_end) {
		c->rx_start = c->rx_end = 0;
	} else if (c->rx_start > 0) {
		/* Only a partial header or a small tail is left: move it to the front. */
		memmove(c->rxbuf, c->rxbuf + c->rx_start, c->rx_end - c->rx_start);
		c->rx_end -= c->rx_start;
		c->rx_start = 0;
	}
	if (c->rx_state == RX_DATA && !c->rx_discard && c->rx_end == 0 &&
	    c->data_left >= DIRECT_READ_MIN) {
		struct iovec iov[NVMF_REQ_MAX_IOV + 1];
		int k = 0;

		for (int i = c->rx_iovidx; i < c->rx_iovcnt; i++)
			iov[k++] = c->rx_iov[i];
		iov[k++] = (struct iovec){.iov_base = c->rxbuf, .iov_len = RX_BUF_SIZE};
		n = reactor_sock_readv(c->sock, iov, k);
		if (n > 0) {
			uint32_t d = (uint64_t)n < c->data_left ? (uint32_t)n : c->data_left;

			rx_advance(c, d);
			c->rx_end = (uint32_t)n - d;
		}
		return n;
	}
	n = reactor_sock_recv(c->sock, c->rxbuf + c->rx_end, RX_BUF_SIZE - c->rx_end);
	if (n > 0)
		c->rx_end += (uint32_t)n;
	return n;
}

static void conn_rx_process(struct tcp_conn *c)
{
	conn_enter(c);
	rx_parse(c);
	conn_leave(c);
}

static void conn_readable(void *arg, struct reactor_sock_group *group, struct reactor_sock *sock)
{
	struct tcp_conn *c = arg;
	ssize_t n;

	(void)group;
	(void)sock;
	conn_enter(c);
	/* One read per call (the callback is level-triggered), then parse it all. */
	if (c->state != CONN_CLOSING && !c->rx_stalled) {
		n = rx_read(c);
		if (n > 0) {
			rx_parse(c);
		} else if (n == 0) {
			REACTOR_INFOLOG("NVMe/TCP %s:%u: the host closed the connection",
					c->qpair.peer_addr, c->qpair.peer_port);
			conn_disconnect(c);
		} else if (n != -EAGAIN && n != -EWOULDBLOCK && n != -EINTR) {
			REACTOR_INFOLOG("NVMe/TCP %s:%u: receive failed: %s", c->qpair.peer_addr,
					c->qpair.peer_port, strerror((int)-n));
			conn_disconnect(c);
		}
	}
	conn_leave(c);
}

/* ---- lifetime -------------------------------------------------------------------- */

static void conn_disconnect(struct tcp_conn *c)
{
	if (c->state == CONN_CLOSING)
		return;
	c->state = CONN_CLOSING;
	reactor_poller_unregister(&c->icreq_timer);
	conn_enter(c);
	/* Swallow pending input so that close() sends FIN rather than RST. */
	for (int i = 0; i < CLOSE_DRAIN_READS; i++)
		if (reactor_sock_recv(c->sock, c->rxbuf, RX_BUF_SIZE) <= 0)
			break;
	(void)reactor_sock_flush(c->sock);
	(void)reactor_sock_group_remove_sock(c->tpg->group, c->sock);
	/* Requests the core never saw are dropped now; the others on completion. */
	for (uint32_t i = 0; i < c->num_reqs; i++) {
		struct tcp_req *r = &c->reqs[i];

		if (r->state == REQ_RECV) {
			c->active--;
			r->state = REQ_DONE;
			if (r->sends == 0) {
				r->state = REQ_FREE;
				TAILQ_INSERT_HEAD(&c->free_reqs, r, link);
			}
		}
	}
	nvmf_qpair_disconnected(&c->qpair);
	c->disconnected = true;
	conn_leave(c);
}

static void conn_try_free(struct tcp_conn *c)
{
	struct nvmf_tcp_pg *tpg = c->tpg;

	if (c->freeing || !c->disconnected || c->depth > 0 || c->at_core > 0)
		return;
	c->freeing = true;
	reactor_sock_close(&c->sock);	/* cancels queued sends (callbacks run now) */
	nvmf_qpair_fini(&c->qpair);
	if (c->data != NULL)
		munmap(c->data, c->data_len);
	free(c->reqs);
	free(c->slots);
	free(c->iovs);
	free(c->rxbuf);
	tpg->num_conns--;
	free(c);
}

static int conn_icreq_timeout(void *arg)
{
	struct tcp_conn *c = arg;

	REACTOR_NOTICELOG("NVMe/TCP %s:%u: no ICReq within %u s of connecting; closing",
			  c->qpair.peer_addr, c->qpair.peer_port, ICREQ_TIMEOUT_S);
	conn_enter(c);
	conn_disconnect(c);
	conn_leave(c);
	return REACTOR_POLLER_BUSY;
}

void nvmf_tcp_qpair_disconnect(struct nvmf_qpair *qpair)
{
	struct tcp_conn *c = qpair_conn(qpair);

	conn_enter(c);
	conn_disconnect(c);
	conn_leave(c);
}

void nvmf_tcp_conn_create(struct nvmf_tcp_transport *tt, struct nvmf_poll_group *pg,
			  struct reactor_sock *sock, const struct nvmf_listen_addr *listen_addr)
{
	struct nvmf_tcp_pg *tpg = pg->transport_ctx;
	struct tcp_conn *c;
	char peer[64] = "?";
	uint16_t port = 0;
	int rc;

	(void)reactor_sock_getaddr(sock, NULL, 0, NULL, peer, sizeof(peer), &port);
	if (tpg == NULL) {
		REACTOR_ERRLOG("NVMe/TCP %s:%u: poll group %u has no TCP state; closing", peer, port,
			       pg->index);
		reactor_sock_close(&sock);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c != NULL)
		c->rxbuf = malloc(RX_BUF_SIZE);
	if (c == NULL || c->rxbuf == NULL) {
		REACTOR_ERRLOG("NVMe/TCP %s:%u: out of memory for a connection; closing", peer, port);
		if (c != NULL)
			free(c);
		reactor_sock_close(&sock);
		return;
	}
	c->tt = tt;
	c->tpg = tpg;
	c->sock = sock;
	c->state = CONN_WAIT_ICREQ;
	c->rx.role = NVME_TCP_ROLE_CTRLR;
	c->rx_state = RX_CH;
	TAILQ_INIT(&c->free_reqs);
	c->ic_sreq.cb_fn = conn_send_done;
	c->ic_sreq.cb_arg = c;
	c->term_sreq.cb_fn = conn_send_done;
	c->term_sreq.cb_arg = c;
	nvmf_qpair_init(&c->qpair, &tt->base, pg, listen_addr, peer, port);
	tpg->num_conns++;
	rc = reactor_sock_group_add_sock(tpg->group, sock, conn_readable, c);
	if (rc != 0) {
		REACTOR_ERRLOG("NVMe/TCP %s:%u: cannot add the connection to poll group %u: %s; closing",
			       peer, port, pg->index, strerror(-rc));
		c->state = CONN_CLOSING;
		nvmf_qpair_disconnected(&c->qpair);
		c->disconnected = true;
		conn_try_free(c);
		return;
	}
	c->icreq_timer = reactor_poller_register_named(conn_icreq_timeout, c, ICREQ_TIMEOUT_S * 1000000ull,
						       "nvmf_tcp_icreq_timeout");
	if (c->icreq_timer == NULL)
		REACTOR_WARNLOG("NVMe/TCP %s:%u: no ICReq timer (%s): the connection waits for its ICReq "
				"without a bound", peer, port, strerror(errno));
}
