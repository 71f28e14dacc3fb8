/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The host side of one NVMe/TCP connection (see qpair.h). Receiving is a
 * small state machine over a 64 KiB buffer: header (validated by
 * nvme_tcp_parse_ch/psh), padding, data, data digest. Large C2HData is
 * received straight into the command's buffer once the buffer is drained,
 * so a 128 KiB read costs few copies.
 */
#include "qpair.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RX_BUF_SIZE (64 * 1024)
#define RX_DIRECT_MIN 4096	/* data left to receive before recv() goes into the command's buffer */
#define RX_RECVS_PER_CALL 16	/* bound the time one connection holds the thread */
#define CONNECT_TIMEOUT_MS 5000

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "SQE fields are assigned directly: little-endian hosts only");

/* One PDU to send: its header and the iovecs over header, data and digest. */
struct hq_tx {
	uint8_t hdr[NVME_TCP_HDR_MAX];
	uint8_t ddgst[NVME_TCP_DIGEST_LEN];
	struct iovec iov[3];
	struct reactor_sock_request req;
	struct hq_cmd *cmd;
	bool busy;
};

enum rx_state { RX_HDR, RX_PAD, RX_DATA, RX_DDGST };

struct hq {
	struct hq_opts o;
	char name[48];
	char addr[64];
	struct reactor_sock *sock;
	bool failed;		/* or closing: no more callbacks */
	struct nvme_tcp_rx_ctx rx_ctx;
	uint8_t cpda;
	uint32_t maxh2cdata;
	struct hq_cmd *cmds;
	uint32_t *free_ids;
	uint32_t nfree;
	void *data;
	struct hq_tx ic_tx;
	uint8_t term[NVME_TCP_TERM_MAX_LEN];	/* the H2CTermReq we send on a bad PDU */
	struct iovec term_iov;
	struct reactor_sock_request term_req;
	struct hq_tx *txs;	/* depth * ntx, made at ICResp */
	/* receive */
	uint8_t *rxbuf;
	size_t rx_pos, rx_len;
	enum rx_state st;
	uint8_t hdr[NVME_TCP_HDR_MAX];
	uint32_t hdr_have;
	struct nvme_tcp_pdu_info info;
	uint32_t pad_left;
	uint8_t *data_dst;
	uint32_t data_left;
	uint8_t ddgst[NVME_TCP_DIGEST_LEN];
	uint32_t ddgst_have;
	struct hq_cmd *rx_cmd;
	uint8_t term_data[NVME_TCP_TERM_MAX_DATA];
};

static void fail(struct hq *q, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fail(struct hq *q, int rc, const char *fmt, ...)
{
	va_list ap;

	if (q->failed)
		return;
	q->failed = true;
	fprintf(stderr, "nvmf-perf: %s (%s port %u): ", q->name, q->addr, q->o.port);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	reactor_sock_close(&q->sock);
	q->o.on_event(q->o.event_arg, q, rc);
}

static void term_sent(void *arg, int status)
{
	(void)arg;
	(void)status;	/* best effort: the connection closes either way */
}

/* §3.6.2.4: tell the controller why with an H2CTermReq, then close. */
static void protocol_fail(struct hq *q, const struct nvme_tcp_err *err)
{
	if (q->sock && !q->failed) {
		size_t n = nvme_tcp_build_term_req(q->term, NVME_TCP_PDU_H2C_TERM_REQ, err->fes, err->fei,
						   q->hdr, q->hdr_have);
		q->term_iov = (struct iovec){ q->term, n };
		q->term_req.iov = &q->term_iov;
		q->term_req.iovcnt = 1;
		q->term_req.cb_fn = term_sent;
		q->term_req.cb_arg = q;
		if (reactor_sock_writev_async(q->sock, &q->term_req) == 0)
			reactor_sock_flush(q->sock);
	}
	fail(q, -EPROTO, "bad PDU from the target (%s, header byte %u): %s",
	     nvme_tcp_fes_name(err->fes), err->fei, err->why);
}

static void finish(struct hq_cmd *cmd)
{
	struct hq *q = cmd->q;

	if (!cmd->resp_done || cmd->sends || q->failed)
		return;
	cmd->in_use = false;
	q->free_ids[q->nfree++] = (uint32_t)(cmd - q->cmds);
	cmd->cb(cmd->cb_arg, cmd, &cmd->cqe);
}

static void tx_done(void *arg, int status)
{
	struct hq_tx *tx = arg;
	struct hq_cmd *cmd = tx->cmd;
	struct hq *q = cmd->q;

	tx->busy = false;
	cmd->sends--;
	if (q->failed)
		return;
	if (status < 0) {
		fail(q, status, "send failed: %s", strerror(-status));
		return;
	}
	finish(cmd);
}

static int tx_send(struct hq *q, struct hq_tx *tx, size_t hlen, void *data, uint32_t len)
{
	int n = 0;

	tx->iov[n++] = (struct iovec){ tx->hdr, hlen };
	if (len) {
		tx->iov[n++] = (struct iovec){ data, len };
		if (q->rx_ctx.ic_done && q->rx_ctx.ddgst) {
			nvme_put_le32(tx->ddgst, nvme_crc32c(data, len));
			tx->iov[n++] = (struct iovec){ tx->ddgst, sizeof(tx->ddgst) };
		}
	}
	tx->req.iov = tx->iov;
	tx->req.iovcnt = n;
	tx->req.cb_fn = tx_done;
	tx->req.cb_arg = tx;
	tx->busy = true;
	int rc = reactor_sock_writev_async(q->sock, &tx->req);
	if (rc < 0)
		tx->busy = false;
	return rc;
}

/* ---- receive ------------------------------------------------------------------ */

static void next_pdu(struct hq *q)
{
	q->st = RX_HDR;
	q->hdr_have = 0;
	q->rx_cmd = NULL;
}

static struct hq_cmd *cmd_by_cid(struct hq *q, uint16_t cid, const char *what)
{
	if (cid >= q->o.depth || !q->cmds[cid].in_use || q->cmds[cid].resp_done) {
		fail(q, -EPROTO, "%s for CID %u, which has no command in flight", what, cid);
		return NULL;
	}
	return &q->cmds[cid];
}

static void on_icresp(struct hq *q)
{
	const uint8_t *h = q->hdr;
	uint8_t dgst = h[offsetof(struct nvme_tcp_icresp, dgst)];

	q->rx_ctx.hdgst = dgst & NVME_TCP_DGST_HDR;
	q->rx_ctx.ddgst = dgst & NVME_TCP_DGST_DATA;
	q->rx_ctx.ic_done = true;
	q->cpda = h[offsetof(struct nvme_tcp_icresp, cpda)];
	q->maxh2cdata = nvme_get_le32(h + offsetof(struct nvme_tcp_icresp, maxh2cdata));
	if ((q->o.hdgst && !q->rx_ctx.hdgst) || (q->o.ddgst && !q->rx_ctx.ddgst))
		fprintf(stderr, "nvmf-perf: %s: the target declined %s digests\n", q->name,
			q->o.hdgst && !q->rx_ctx.hdgst ? "header" : "data");

	/* Send slots for H2CData: one R2T's PDUs at most, twice over so that
	 * the next R2T never waits for the previous sends' completions. */
	uint32_t per_r2t = (q->o.max_data + q->maxh2cdata - 1) / q->maxh2cdata;
	uint32_t ntx = 1 + 2 * (per_r2t ? per_r2t : 1);
	q->txs = calloc((size_t)q->o.depth * ntx, sizeof(*q->txs));
	if (!q->txs) {
		fail(q, -ENOMEM, "out of memory for send slots");
		return;
	}
	for (uint32_t i = 0; i < q->o.depth; i++) {
		q->cmds[i].tx = &q->txs[(size_t)i * ntx];
		q->cmds[i].ntx = ntx;
		for (uint32_t j = 0; j < ntx; j++)
			q->cmds[i].tx[j].cmd = &q->cmds[i];
	}
	next_pdu(q);
	q->o.on_event(q->o.event_arg, q, 0);
}

static void on_capsule_resp(struct hq *q)
{
	struct nvme_cqe cqe;

	memcpy(&cqe, q->hdr + offsetof(struct nvme_tcp_resp, cqe), sizeof(cqe));
	struct hq_cmd *cmd = cmd_by_cid(q, cqe.cid, "CapsuleResp");
	if (!cmd)
		return;
	if (cmd->dir == HQ_DIR_READ && cqe.status == 0 && cmd->c2h_next != cmd->len) {
		fail(q, -EPROTO, "success for CID %u after %u of %u data bytes", cqe.cid,
		     cmd->c2h_next, cmd->len);
		return;
	}
	/* A data digest error on C2HData fails the command (§3.3.3.2). */
	if (cmd->cqe.status == nvme_status(NVME_SCT_GENERIC, NVME_SC_TRANSIENT_TRANSPORT_ERROR, 0))
		cqe.status = cmd->cqe.status;
	cmd->cqe = cqe;
	cmd->resp_done = true;
	next_pdu(q);
	finish(cmd);
}

static void on_r2t(struct hq *q)
{
	const uint8_t *h = q->hdr;
	uint16_t cid = nvme_get_le16(h + offsetof(struct nvme_tcp_r2t, cccid));
	uint16_t ttag = nvme_get_le16(h + offsetof(struct nvme_tcp_r2t, ttag));
	uint32_t r2to = nvme_get_le32(h + offsetof(struct nvme_tcp_r2t, r2to));
	uint32_t r2tl = nvme_get_le32(h + offsetof(struct nvme_tcp_r2t, r2tl));
	struct hq_cmd *cmd = cmd_by_cid(q, cid, "R2T");

	if (!cmd)
		return;
	if (cmd->dir != HQ_DIR_WRITE || r2to != cmd->h2c_next || (uint64_t)r2to + r2tl > cmd->len) {
		fail(q, -EPROTO, "R2T for CID %u asks bytes %u..%u; the command expects %u..%u",
		     cid, r2to, r2to + r2tl, cmd->h2c_next, cmd->len);
		return;
	}
	next_pdu(q);
	uint32_t end = r2to + r2tl, j = 1;
	for (uint32_t off = r2to; off < end;) {
		uint32_t chunk = end - off < q->maxh2cdata ? end - off : q->maxh2cdata;
		while (j < cmd->ntx && cmd->tx[j].busy)
			j++;
		if (j == cmd->ntx) {
			fail(q, -ENOBUFS, "R2T for CID %u: every send slot of the command is busy", cid);
			return;
		}
		struct hq_tx *tx = &cmd->tx[j];
		size_t hl = nvme_tcp_build_data(tx->hdr, NVME_TCP_PDU_H2C_DATA, cid, ttag, off, chunk,
						off + chunk == end ? NVME_TCP_F_DATA_LAST : 0,
						q->rx_ctx.hdgst, q->rx_ctx.ddgst, q->cpda);
		int rc = tx_send(q, tx, hl, (uint8_t *)cmd->buf + off, chunk);
		if (rc < 0) {
			fail(q, rc, "cannot send H2CData: %s", strerror(-rc));
			return;
		}
		cmd->sends++;
		off += chunk;
	}
	cmd->h2c_next = end;
}

static void on_c2h_header(struct hq *q)
{
	const uint8_t *h = q->hdr;
	uint16_t cid = nvme_get_le16(h + offsetof(struct nvme_tcp_data, cccid));
	struct hq_cmd *cmd = cmd_by_cid(q, cid, "C2HData");
	struct nvme_tcp_err err;

	if (!cmd)
		return;
	if (cmd->dir != HQ_DIR_READ) {
		fail(q, -EPROTO, "C2HData for CID %u, which reads nothing", cid);
		return;
	}
	if (nvme_tcp_check_data_range(h, cmd->c2h_next, cmd->len, &err) != 0) {
		protocol_fail(q, &err);
		return;
	}
	q->rx_cmd = cmd;
	q->data_dst = (uint8_t *)cmd->buf + nvme_get_le32(h + offsetof(struct nvme_tcp_data, datao));
	q->data_left = q->info.data_len;
	q->pad_left = q->info.data_off - q->info.hdr_len;
	q->ddgst_have = 0;
	q->st = q->pad_left ? RX_PAD : RX_DATA;
}

static void on_term_req_header(struct hq *q)
{
	q->rx_cmd = NULL;
	q->data_dst = q->term_data;
	q->data_left = q->info.data_len;
	q->pad_left = 0;
	q->st = RX_DATA;
}

static void on_header(struct hq *q)
{
	switch (q->info.type) {
	case NVME_TCP_PDU_ICRESP: on_icresp(q); break;
	case NVME_TCP_PDU_CAPSULE_RESP: on_capsule_resp(q); break;
	case NVME_TCP_PDU_R2T: on_r2t(q); break;
	case NVME_TCP_PDU_C2H_DATA: on_c2h_header(q); break;
	case NVME_TCP_PDU_C2H_TERM_REQ: on_term_req_header(q); break;
	default: fail(q, -EPROTO, "unexpected %s PDU", nvme_tcp_pdu_type_name(q->info.type));
	}
}

static void on_data_done(struct hq *q)
{
	if (q->info.type == NVME_TCP_PDU_C2H_TERM_REQ) {
		const uint8_t *h = q->hdr;
		uint16_t fes = nvme_get_le16(h + offsetof(struct nvme_tcp_term, fes));
		fail(q, -ECONNABORTED, "the target ended the connection: C2HTermReq %s (FES %u, FEI %u)",
		     nvme_tcp_fes_name(fes), fes, nvme_get_le32(h + offsetof(struct nvme_tcp_term, fei)));
		return;
	}
	struct hq_cmd *cmd = q->rx_cmd;
	uint32_t datal = q->info.data_len;
	if (q->info.has_ddgst) {
		struct iovec iov = { q->data_dst - datal, datal };
		if (nvme_tcp_check_ddgst(&iov, 1, q->ddgst) != 0)
			cmd->cqe.status = nvme_status(NVME_SCT_GENERIC,
						      NVME_SC_TRANSIENT_TRANSPORT_ERROR, 0);
	}
	cmd->c2h_next += datal;
	bool success = q->info.flags & NVME_TCP_F_DATA_SUCCESS;
	next_pdu(q);
	if (success) {
		/* §3.6.2.9: SUCCESS stands for a CapsuleResp with status 0. */
		uint16_t st = cmd->cqe.status;
		memset(&cmd->cqe, 0, sizeof(cmd->cqe));
		cmd->cqe.cid = (uint16_t)(cmd - q->cmds);
		cmd->cqe.status = st;
		if (cmd->c2h_next != cmd->len) {
			fail(q, -EPROTO, "SUCCESS for CID %u after %u of %u bytes", cmd->cqe.cid,
			     cmd->c2h_next, cmd->len);
			return;
		}
		cmd->resp_done = true;
		finish(cmd);
	}
}

/* Consume q->rxbuf[rx_pos..rx_len). */
static void consume(struct hq *q)
{
	struct nvme_tcp_err err;

	while (q->rx_pos < q->rx_len && !q->failed) {
		size_t avail = q->rx_len - q->rx_pos, n;
		const uint8_t *src = q->rxbuf + q->rx_pos;

		switch (q->st) {
		case RX_HDR: {
			uint32_t need = q->hdr_have < NVME_TCP_CH_LEN ? NVME_TCP_CH_LEN : q->info.hdr_len;
			n = need - q->hdr_have < avail ? need - q->hdr_have : avail;
			memcpy(q->hdr + q->hdr_have, src, n);
			q->hdr_have += (uint32_t)n;
			q->rx_pos += n;
			if (q->hdr_have == NVME_TCP_CH_LEN && need == NVME_TCP_CH_LEN) {
				if (nvme_tcp_parse_ch(&q->rx_ctx, q->hdr, q->hdr_have, &q->info, &err) != 0) {
					protocol_fail(q, &err);
					return;
				}
			} else if (q->hdr_have == q->info.hdr_len) {
				if (nvme_tcp_parse_psh(&q->rx_ctx, q->hdr, q->hdr_have, &q->info, &err) != 0) {
					protocol_fail(q, &err);
					return;
				}
				on_header(q);
			}
			break;
		}
		case RX_PAD:
			n = q->pad_left < avail ? q->pad_left : avail;
			q->pad_left -= (uint32_t)n;
			q->rx_pos += n;
			if (!q->pad_left)
				q->st = RX_DATA;
			break;
		case RX_DATA:
			n = q->data_left < avail ? q->data_left : avail;
			memcpy(q->data_dst, src, n);
			q->data_dst += n;
			q->data_left -= (uint32_t)n;
			q->rx_pos += n;
			if (!q->data_left) {
				if (q->info.has_ddgst)
					q->st = RX_DDGST;
				else
					on_data_done(q);
			}
			break;
		case RX_DDGST:
			n = NVME_TCP_DIGEST_LEN - q->ddgst_have < avail ? NVME_TCP_DIGEST_LEN - q->ddgst_have
									 : avail;
			memcpy(q->ddgst + q->ddgst_have, src, n);
			q->ddgst_have += (uint32_t)n;
			q->rx_pos += n;
			if (q->ddgst_have == NVME_TCP_DIGEST_LEN)
				on_data_done(q);
			break;
		}
	}
}

static void on_readable(void *arg, struct reactor_sock_group *group, struct reactor_sock *sock)
{
	struct hq *q = arg;
	ssize_t n;

	(void)group;
	for (int i = 0; i < RX_RECVS_PER_CALL && !q->failed; i++) {
		if (q->rx_pos == q->rx_len && q->st == RX_DATA && q->data_left >= RX_DIRECT_MIN) {
			size_t want = q->data_left;
			n = reactor_sock_recv(sock, q->data_dst, want);
			if (n > 0) {
				q->data_dst += n;
				q->data_left -= (uint32_t)n;
				if (!q->data_left) {
					if (q->info.has_ddgst)
						q->st = RX_DDGST;
					else
						on_data_done(q);
				}
				if ((size_t)n < want)
					return;	/* drained: skip the recv that would say EAGAIN */
				continue;
			}
		} else {
			if (q->rx_pos == q->rx_len)
				q->rx_pos = q->rx_len = 0;
			size_t want = RX_BUF_SIZE - q->rx_len;
			n = reactor_sock_recv(sock, q->rxbuf + q->rx_len, want);
			if (n > 0) {
				q->rx_len += (size_t)n;
				consume(q);
				if ((size_t)n < want)
					return;	/* drained (level-triggered: called again if more comes) */
				continue;
			}
		}
		if (n == -EAGAIN)
			return;
		if (n == 0)
			fail(q, -ECONNRESET, "the target closed the connection");
		else
			fail(q, (int)n, "receive failed: %s", strerror((int)-n));
	}
}

/* ---- connection ----------------------------------------------------------------- */

static void ic_tx_done(void *arg, int status)
{
	struct hq *q = arg;

	if (status < 0 && !q->failed)
		fail(q, status, "cannot send ICReq: %s", strerror(-status));
}

static void on_connected(void *arg, struct reactor_sock *sock, int status)
{
	struct hq *q = arg;
	int rc;

	(void)sock;
	if (status != 0) {
		fail(q, status, "cannot connect: %s", strerror(-status));
		return;
	}
	rc = reactor_sock_group_add_sock(q->o.group, q->sock, on_readable, q);
	if (rc < 0) {
		fail(q, rc, "cannot add the socket to the group: %s", strerror(-rc));
		return;
	}
	size_t hl = nvme_tcp_build_icreq(q->ic_tx.hdr, 0, q->o.hdgst, q->o.ddgst, 0);
	q->ic_tx.iov[0] = (struct iovec){ q->ic_tx.hdr, hl };
	q->ic_tx.req.iov = q->ic_tx.iov;
	q->ic_tx.req.iovcnt = 1;
	q->ic_tx.req.cb_fn = ic_tx_done;
	q->ic_tx.req.cb_arg = q;
	rc = reactor_sock_writev_async(q->sock, &q->ic_tx.req);
	if (rc < 0)
		fail(q, rc, "cannot send ICReq: %s", strerror(-rc));
}

struct hq *hq_create(const struct hq_opts *o)
{
	struct hq *q = calloc(1, sizeof(*q));
	size_t slot = ((size_t)o->max_data + 4095) / 4096 * 4096;

	if (!q)
		goto nomem;
	q->o = *o;
	snprintf(q->name, sizeof(q->name), "%s", o->name);
	snprintf(q->addr, sizeof(q->addr), "%s", o->addr);
	q->o.name = q->name;
	q->o.addr = q->addr;
	q->cmds = calloc(o->depth, sizeof(*q->cmds));
	q->free_ids = calloc(o->depth, sizeof(*q->free_ids));
	q->rxbuf = malloc(RX_BUF_SIZE);
	q->data = reactor_env_malloc(slot * o->depth, 4096, 0);
	if (!q->cmds || !q->free_ids || !q->rxbuf || !q->data)
		goto nomem;
	for (uint32_t i = 0; i < o->depth; i++) {
		q->cmds[i].q = q;
		q->cmds[i].buf = (uint8_t *)q->data + slot * i;
		q->free_ids[i] = o->depth - 1 - i;
	}
	q->nfree = o->depth;
	q->rx_ctx.role = NVME_TCP_ROLE_HOST;
	q->rx_ctx.hdgst = o->hdgst;
	q->rx_ctx.ddgst = o->ddgst;
	next_pdu(q);

	struct reactor_sock_opts so;
	reactor_sock_opts_init(&so, sizeof(so));
	so.connect_timeout_ms = CONNECT_TIMEOUT_MS;
	q->sock = reactor_sock_connect(o->addr, o->port, &so, on_connected, q);
	if (!q->sock) {
		fprintf(stderr, "nvmf-perf: %s: cannot connect to %s port %u: %s\n", o->name, o->addr,
			o->port, strerror(errno));
		q->failed = true;
		hq_destroy(&q);
		return NULL;
	}
	return q;
nomem:
	fprintf(stderr, "nvmf-perf: %s: out of memory (%u commands of %u bytes)\n", o->name,
		o->depth, o->max_data);
	if (q)
		q->failed = true;
	hq_destroy(&q);
	return NULL;
}

void hq_destroy(struct hq **qp)
{
	struct hq *q = *qp;

	if (!q)
		return;
	*qp = NULL;
	q->failed = true;	/* cancelled sends complete without callbacks */
	reactor_sock_close(&q->sock);
	reactor_env_free(q->data);
	free(q->rxbuf);
	free(q->free_ids);
	free(q->txs);
	free(q->cmds);
	free(q);
}

struct hq_cmd *hq_cmd_get(struct hq *q)
{
	if (q->failed || !q->nfree || !q->rx_ctx.ic_done)
		return NULL;
	return &q->cmds[q->free_ids[--q->nfree]];
}

int hq_submit(struct hq_cmd *cmd, const struct nvme_sqe *sqe, enum hq_dir dir, uint32_t len,
	      hq_cmd_cb cb, void *cb_arg)
{
	struct hq *q = cmd->q;
	uint16_t cid = (uint16_t)(cmd - q->cmds);
	bool in_capsule = dir == HQ_DIR_WRITE && len && len <= q->o.icd_limit;
	int rc;

	if (len > q->o.max_data) {
		rc = -EINVAL;
		goto release;
	}
	cmd->sqe = *sqe;
	cmd->sqe.cid = cid;
	cmd->sqe.flags = (uint8_t)((sqe->flags & NVME_SQE_FUSE_MASK) |
				   (NVME_SQE_PSDT_SGL << NVME_SQE_PSDT_SHIFT));
	memset(&cmd->sqe.dptr, 0, sizeof(cmd->sqe.dptr));
	cmd->sqe.dptr.sgl1.length = len;
	cmd->sqe.dptr.sgl1.type = in_capsule
		? NVME_SGL_TYPE_BYTE(NVME_SGL_TYPE_DATA_BLOCK, NVME_SGL_SUBTYPE_OFFSET)
		: NVME_SGL_TYPE_BYTE(NVME_SGL_TYPE_TRANSPORT_DATA_BLOCK, NVME_SGL_SUBTYPE_TRANSPORT);
	memset(&cmd->cqe, 0, sizeof(cmd->cqe));
	cmd->dir = dir;
	cmd->len = len;
	cmd->c2h_next = 0;
	cmd->h2c_next = in_capsule ? len : 0;	/* an R2T for in-capsule data is an error */
	cmd->resp_done = false;
	cmd->cb = cb;
	cmd->cb_arg = cb_arg;
	cmd->in_use = true;

	struct hq_tx *tx = &cmd->tx[0];
	size_t hl = nvme_tcp_build_capsule_cmd(tx->hdr, &cmd->sqe, in_capsule ? len : 0,
					       q->rx_ctx.hdgst, q->rx_ctx.ddgst, q->cpda);
	cmd->submit_ticks = reactor_get_ticks();
	rc = tx_send(q, tx, hl, cmd->buf, in_capsule ? len : 0);
	if (rc == 0) {
		cmd->sends = 1;
		return 0;
	}
	cmd->in_use = false;
release:
	q->free_ids[q->nfree++] = cid;
	return rc;
}

uint32_t hq_maxh2cdata(const struct hq *q) { return q->maxh2cdata; }
bool hq_hdgst(const struct hq *q) { return q->rx_ctx.hdgst; }
bool hq_ddgst(const struct hq *q) { return q->rx_ctx.ddgst; }
uint32_t hq_outstanding(const struct hq *q) { return q->o.depth - q->nfree; }
void hq_set_icd_limit(struct hq *q, uint32_t icd_limit) { q->o.icd_limit = icd_limit; }
const char *hq_name(const struct hq *q) { return q->name; }
