/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The test host (see host.h): blocking sockets, poll() before every read so
 * nothing waits longer than the timeout.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "host.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HOST_PDU_MAX (4u << 20)	/* larger PLEN from the target: refuse, not allocate */

static int fail(struct host *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct host *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->err, sizeof(h->err), fmt, ap);
	va_end(ap);
	return -1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int timeout_ms(const struct host *h)
{
	return h->opts.timeout_ms > 0 ? h->opts.timeout_ms : 10000;
}

void host_opts_init(struct host_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->addr = "127.0.0.1";
	opts->timeout_ms = 10000;	/* sanitizer builds on a loaded host are slow */
	for (int i = 0; i < 16; i++)
		opts->hostid[i] = (uint8_t)(0xa0 + i);
}

/* ---- socket I/O ----------------------------------------------------------------- */

/* Reads exactly len bytes before `deadline` (ms). Returns 0, or -1 with
 * *closed set when the peer closed (EOF or reset). */
static int read_full(struct host *h, void *buf, size_t len, int64_t deadline, bool *closed)
{
	uint8_t *p = buf;
	size_t got = 0;

	*closed = false;
	while (got < len) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return fail(h, "timeout: %zu of %zu bytes received", got, len);
		struct pollfd pfd = { .fd = h->fd, .events = POLLIN };
		int rc = poll(&pfd, 1, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return fail(h, "poll: %s", strerror(errno));
		if (rc == 0)
			continue;
		ssize_t n = recv(h->fd, p + got, len - got, 0);
		if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE))) {
			*closed = true;
			return fail(h, "connection closed by the target (%zu of %zu bytes received)",
				    got, len);
		}
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return fail(h, "recv: %s", strerror(errno));
		got += (size_t)n;
	}
	return 0;
}

static int send_iov_all(struct host *h, struct iovec *iov, int iovcnt);

/* send_chunk: the same bytes in pieces of at most send_chunk bytes. */
static int send_iov(struct host *h, struct iovec *iov, int iovcnt)
{
	if (!h->send_chunk)
		return send_iov_all(h, iov, iovcnt);
	for (int i = 0; i < iovcnt; i++) {
		for (size_t off = 0; off < iov[i].iov_len; off += h->send_chunk) {
			size_t n = iov[i].iov_len - off < h->send_chunk ? iov[i].iov_len - off
								       : h->send_chunk;
			struct iovec one = { (uint8_t *)iov[i].iov_base + off, n };
			if (send_iov_all(h, &one, 1) != 0)
				return -1;
		}
	}
	return 0;
}

static int send_iov_all(struct host *h, struct iovec *iov, int iovcnt)
{
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)iovcnt };
	int64_t deadline = now_ms() + timeout_ms(h);

	while (msg.msg_iovlen > 0) {
		ssize_t n = sendmsg(h->fd, &msg, MSG_NOSIGNAL);
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (now_ms() > deadline)
				return fail(h, "send timeout");
			struct pollfd pfd = { .fd = h->fd, .events = POLLOUT };
			poll(&pfd, 1, 100);
			continue;
		}
		if (n < 0)
			return fail(h, "send: %s", strerror(errno));
		size_t left = (size_t)n;
		while (left > 0 && msg.msg_iovlen > 0) {
			if (left >= msg.msg_iov->iov_len) {
				left -= msg.msg_iov->iov_len;
				msg.msg_iov++;
				msg.msg_iovlen--;
			} else {
				msg.msg_iov->iov_base = (uint8_t *)msg.msg_iov->iov_base + left;
				msg.msg_iov->iov_len -= left;
				left = 0;
			}
		}
		/* Skip empty iovecs so the loop ends. */
		while (msg.msg_iovlen > 0 && msg.msg_iov->iov_len == 0) {
			msg.msg_iov++;
			msg.msg_iovlen--;
		}
	}
	return 0;
}

int host_send_raw(struct host *h, const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	return send_iov(h, &iov, 1);
}

int host_tcp_connect(struct host *h, const struct host_opts *opts)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1;

	memset(h, 0, sizeof(*h));
	h->fd = -1;
	h->opts = *opts;
	snprintf(h->hostnqn, sizeof(h->hostnqn), "%s",
		 opts->hostnqn ? opts->hostnqn : HOST_DEFAULT_HOSTNQN);
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, opts->addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(opts->port);
		sl = sizeof(*sin);
	} else if (inet_pton(AF_INET6, opts->addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(opts->port);
		sl = sizeof(*sin6);
	} else {
		return fail(h, "not a numeric address: %s", opts->addr);
	}
	h->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (h->fd < 0)
		return fail(h, "socket: %s", strerror(errno));
	setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Blocking connect on loopback is immediate; bound it anyway. */
	struct timeval tv = { .tv_sec = timeout_ms(h) / 1000, .tv_usec = 0 };
	setsockopt(h->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(h->fd, (struct sockaddr *)&ss, sl) != 0) {
		int e = errno;
		close(h->fd);
		h->fd = -1;
		return fail(h, "connect %s:%u: %s", opts->addr, opts->port, strerror(e));
	}
	return 0;
}

void host_close(struct host *h)
{
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
}

/* ---- receiving PDUs ---------------------------------------------------------------- */

struct pdu {
	uint8_t hdr[NVME_TCP_HDR_MAX];
	struct nvme_tcp_pdu_info info;
	uint8_t *rest;		/* plen - hdr_len bytes: padding, data, data digest */
	uint32_t rest_len;
};

static void term_record(struct host *h, const uint8_t *hdr, const uint8_t *rest, uint32_t rest_len)
{
	h->term.received = true;
	h->term.fes = nvme_get_le16(hdr + offsetof(struct nvme_tcp_term, fes));
	h->term.fei = nvme_get_le32(hdr + offsetof(struct nvme_tcp_term, fei));
	h->term.hdr_len = rest_len < NVME_TCP_TERM_MAX_DATA ? rest_len : NVME_TCP_TERM_MAX_DATA;
	if (h->term.hdr_len)
		memcpy(h->term.hdr, rest, h->term.hdr_len);
}

/* One PDU from the target, validated as a host must (role HOST). A
 * C2HTermReq is recorded in h->term and returned as -1. */
static int recv_pdu(struct host *h, struct pdu *pdu)
{
	int64_t deadline = now_ms() + timeout_ms(h);
	struct nvme_tcp_err err;
	bool closed;

	pdu->rest = NULL;
	pdu->rest_len = 0;
	if (read_full(h, pdu->hdr, NVME_TCP_CH_LEN, deadline, &closed) != 0)
		return -1;
	if (nvme_tcp_parse_ch(&h->rx, pdu->hdr, NVME_TCP_CH_LEN, &pdu->info, &err) != 0)
		return fail(h, "target sent a bad %s header: %s (FES %#x FEI %u)",
			    nvme_tcp_pdu_type_name(pdu->hdr[0]), err.why, err.fes, err.fei);
	if (pdu->info.plen > HOST_PDU_MAX)
		return fail(h, "target sent PLEN %u", pdu->info.plen);
	if (read_full(h, pdu->hdr + NVME_TCP_CH_LEN, pdu->info.hdr_len - NVME_TCP_CH_LEN, deadline,
		      &closed) != 0)
		return -1;
	pdu->rest_len = pdu->info.plen - pdu->info.hdr_len;
	if (pdu->rest_len) {
		pdu->rest = malloc(pdu->rest_len);
		if (!pdu->rest)
			return fail(h, "out of memory");
		if (read_full(h, pdu->rest, pdu->rest_len, deadline, &closed) != 0)
			goto err;
	}
	if (pdu->info.type == NVME_TCP_PDU_C2H_TERM_REQ) {
		term_record(h, pdu->hdr, pdu->rest, pdu->rest_len);
		fail(h, "C2HTermReq: FES %#x (%s) FEI %u", h->term.fes,
		     nvme_tcp_fes_name(h->term.fes), h->term.fei);
		goto err;
	}
	if (nvme_tcp_parse_psh(&h->rx, pdu->hdr, pdu->info.hdr_len, &pdu->info, &err) != 0) {
		fail(h, "target sent a bad %s: %s (FES %#x FEI %u)",
		     nvme_tcp_pdu_type_name(pdu->info.type), err.why, err.fes, err.fei);
		goto err;
	}
	return 0;
err:
	free(pdu->rest);
	pdu->rest = NULL;
	return -1;
}

int host_ic(struct host *h)
{
	uint8_t hdr[NVME_TCP_HDR_MAX];
	struct pdu pdu;
	size_t n = nvme_tcp_build_icreq(hdr, h->opts.hpda, h->opts.hdgst, h->opts.ddgst,
					h->opts.maxr2t);

	memset(&h->rx, 0, sizeof(h->rx));
	h->rx.role = NVME_TCP_ROLE_HOST;
	h->rx.hdgst = h->opts.hdgst;
	h->rx.ddgst = h->opts.ddgst;
	h->rx.rx_pda = h->opts.hpda;
	if (host_send_raw(h, hdr, n) != 0)
		return -1;
	if (recv_pdu(h, &pdu) != 0)
		return -1;
	free(pdu.rest);
	uint8_t dgst = pdu.hdr[offsetof(struct nvme_tcp_icresp, dgst)];
	h->hdgst = dgst & NVME_TCP_DGST_HDR;
	h->ddgst = dgst & NVME_TCP_DGST_DATA;
	h->cpda = pdu.hdr[offsetof(struct nvme_tcp_icresp, cpda)];
	h->maxh2cdata = nvme_get_le32(pdu.hdr + offsetof(struct nvme_tcp_icresp, maxh2cdata));
	h->rx.ic_done = true;
	h->rx.hdgst = h->hdgst;
	h->rx.ddgst = h->ddgst;
	return 0;
}

/* ---- commands ------------------------------------------------------------------ */

static struct host_cmd *find_cmd(struct host *h, uint16_t cid)
{
	for (int i = 0; i < HOST_MAX_INFLIGHT; i++)
		if (h->cmds[i].used && h->cmds[i].cid == cid)
			return &h->cmds[i];
	return NULL;
}

const struct host_cmd *host_last(const struct host *h, uint16_t cid)
{
	for (int i = 0; i < HOST_MAX_INFLIGHT; i++)
		if (h->cmds[i].cid == cid)
			return &h->cmds[i];
	return NULL;
}

/* Sends the H2CData PDUs answering an R2T for [r2to, r2to + r2tl). */
static int send_h2c(struct host *h, struct host_cmd *c, uint16_t ttag, uint32_t r2to,
		    uint32_t r2tl)
{
	uint32_t chunk = h->maxh2cdata;

	if (h->h2c_chunk && h->h2c_chunk < chunk)
		chunk = h->h2c_chunk;
	if ((uint64_t)r2to + r2tl > c->out_len)
		return fail(h, "R2T [%u, +%u) beyond the command's %u bytes", r2to, r2tl, c->out_len);
	for (uint32_t off = r2to; off < r2to + r2tl; off += chunk) {
		uint32_t len = r2to + r2tl - off < chunk ? r2to + r2tl - off : chunk;
		uint8_t hdr[NVME_TCP_HDR_MAX], dg[4];
		uint8_t flags = off + len == r2to + r2tl ? NVME_TCP_F_DATA_LAST : 0;
		size_t hl = nvme_tcp_build_data(hdr, NVME_TCP_PDU_H2C_DATA, c->cid, ttag, off, len,
						flags, h->hdgst, h->ddgst, h->cpda);
		struct iovec iov[3] = {
			{ hdr, hl },
			{ (uint8_t *)c->out + off, len },
			{ dg, h->ddgst ? 4 : 0 },
		};
		if (h->ddgst) {
			uint32_t crc = nvme_crc32c((const uint8_t *)c->out + off, len);
			if (h->corrupt_next_h2c_ddgst) {
				crc ^= 0x5a5a5a5au;
				h->corrupt_next_h2c_ddgst = false;
			}
			nvme_put_le32(dg, crc);
		}
		if (send_iov(h, iov, h->ddgst ? 3 : 2) != 0)
			return -1;
		h->h2c_pdus_sent++;
	}
	return 0;
}

static int handle_pdu(struct host *h, struct pdu *p)
{
	struct nvme_tcp_err err;
	struct host_cmd *c;

	switch (p->info.type) {
	case NVME_TCP_PDU_CAPSULE_RESP: {
		struct nvme_cqe cqe;
		memcpy(&cqe, p->hdr + NVME_TCP_CH_LEN, sizeof(cqe));
		c = find_cmd(h, cqe.cid);
		if (!c || c->done)
			return fail(h, "CapsuleResp for unknown CID %u", cqe.cid);
		c->cqe = cqe;
		c->done = true;
		return 0;
	}
	case NVME_TCP_PDU_C2H_DATA: {
		uint16_t cccid = nvme_get_le16(p->hdr + offsetof(struct nvme_tcp_data, cccid));
		uint32_t datao = nvme_get_le32(p->hdr + offsetof(struct nvme_tcp_data, datao));
		c = find_cmd(h, cccid);
		if (!c || c->done || !c->in)
			return fail(h, "C2HData for CID %u that expects none", cccid);
		if (nvme_tcp_check_data_range(p->hdr, c->in_next, c->in_len, &err) != 0)
			return fail(h, "C2HData out of range: %s (DATAO %u, expected %u of %u)",
				    err.why, datao, c->in_next, c->in_len);
		uint32_t pad = p->info.data_off - p->info.hdr_len;
		uint8_t *data = p->rest + pad;
		if (p->info.has_ddgst) {
			struct iovec iov = { data, p->info.data_len };
			if (nvme_tcp_check_ddgst(&iov, 1, data + p->info.data_len) != 0)
				return fail(h, "C2HData data digest mismatch (CID %u, DATAO %u)", cccid,
					    datao);
		}
		memcpy((uint8_t *)c->in + datao, data, p->info.data_len);
		c->in_next += p->info.data_len;
		c->c2h_pdus++;
		h->c2h_pdus_seen++;
		if (p->info.flags & NVME_TCP_F_DATA_SUCCESS) {
			if (!h->opts.sq_fc_disabled)
				return fail(h, "C2HData SUCCESS while SQ flow control is on (§3.6.2.9)");
			memset(&c->cqe, 0, sizeof(c->cqe));
			c->cqe.cid = c->cid;
			c->cqe.sqid = h->qid;
			c->success_flag = true;
			c->done = true;
		}
		return 0;
	}
	case NVME_TCP_PDU_R2T: {
		uint16_t cccid = nvme_get_le16(p->hdr + offsetof(struct nvme_tcp_r2t, cccid));
		uint16_t ttag = nvme_get_le16(p->hdr + offsetof(struct nvme_tcp_r2t, ttag));
		uint32_t r2to = nvme_get_le32(p->hdr + offsetof(struct nvme_tcp_r2t, r2to));
		uint32_t r2tl = nvme_get_le32(p->hdr + offsetof(struct nvme_tcp_r2t, r2tl));
		c = find_cmd(h, cccid);
		if (!c || c->done || !c->out)
			return fail(h, "R2T for CID %u that has no data to send", cccid);
		c->r2ts++;
		h->r2ts_seen++;
		return send_h2c(h, c, ttag, r2to, r2tl);
	}
	default:
		return fail(h, "unexpected %s from the target", nvme_tcp_pdu_type_name(p->info.type));
	}
}

static int poll_one(struct host *h)
{
	struct pdu p;
	int rc;

	if (recv_pdu(h, &p) != 0)
		return -1;
	rc = handle_pdu(h, &p);
	free(p.rest);
	return rc;
}

int host_submit(struct host *h, struct nvme_sqe *sqe, const void *out, uint32_t out_len,
		void *in, uint32_t in_len)
{
	struct host_cmd *c = NULL;
	uint8_t hdr[NVME_TCP_HDR_MAX], dg[4];

	if (h->fd < 0)
		return fail(h, "not connected");
	for (int i = 0; i < HOST_MAX_INFLIGHT && !c; i++)
		if (!h->cmds[i].used)
			c = &h->cmds[i];
	if (!c)
		return fail(h, "too many commands in flight");
	memset(c, 0, sizeof(*c));
	c->used = true;
	c->cid = h->next_cid++;
	c->out = out_len ? out : NULL;
	c->out_len = out ? out_len : 0;
	c->in = in_len ? in : NULL;
	c->in_len = in ? in_len : 0;

	bool icd = c->out_len && c->out_len <= h->icd_max;
	sqe->cid = c->cid;
	sqe->flags = (uint8_t)((sqe->flags & NVME_SQE_FUSE_MASK) |
			       (NVME_SQE_PSDT_SGL << NVME_SQE_PSDT_SHIFT));
	memset(&sqe->dptr, 0, sizeof(sqe->dptr));
	if (icd) {
		sqe->dptr.sgl1.length = c->out_len;
		sqe->dptr.sgl1.type = NVME_SGL_TYPE_BYTE(NVME_SGL_TYPE_DATA_BLOCK, NVME_SGL_SUBTYPE_OFFSET);
	} else {
		sqe->dptr.sgl1.length = c->out_len ? c->out_len : c->in_len;
		sqe->dptr.sgl1.type = NVME_SGL_TYPE_BYTE(NVME_SGL_TYPE_TRANSPORT_DATA_BLOCK,
							 NVME_SGL_SUBTYPE_TRANSPORT);
	}
	size_t hl = nvme_tcp_build_capsule_cmd(hdr, sqe, icd ? c->out_len : 0, h->hdgst, h->ddgst,
					       h->cpda);
	struct iovec iov[3] = {
		{ hdr, hl },
		{ (void *)out, icd ? c->out_len : 0 },
		{ dg, icd && h->ddgst ? 4 : 0 },
	};
	if (icd && h->ddgst) {
		uint32_t crc = nvme_crc32c(out, c->out_len);
		if (h->corrupt_next_icd_ddgst) {
			crc ^= 0xa5a5a5a5u;
			h->corrupt_next_icd_ddgst = false;
		}
		nvme_put_le32(dg, crc);
	}
	if (send_iov(h, iov, 3) != 0) {
		c->used = false;
		return -1;
	}
	return c->cid;
}

int host_wait(struct host *h, uint16_t cid, struct nvme_cqe *cqe)
{
	struct host_cmd *c = find_cmd(h, cid);

	if (!c)
		return fail(h, "wait for unknown CID %u", cid);
	while (!c->done)
		if (poll_one(h) != 0)
			return -1;
	c->used = false;	/* the record stays readable through host_last() */
	/* The phase bit is reserved in fabrics; compare the status without it. */
	c->cqe.status &= (uint16_t)~1u;
	if (c->in && !c->cqe.status && c->in_next != c->in_len)
		return fail(h, "CID %u: success with %u of %u bytes of C2HData", cid, c->in_next,
			    c->in_len);
	if (cqe)
		*cqe = c->cqe;
	return 0;
}

int host_exec_raw(struct host *h, const struct nvme_sqe *sqe, const void *icd, uint32_t icd_len,
		  void *in, uint32_t in_len, struct nvme_cqe *cqe)
{
	struct host_cmd *c = NULL;
	uint8_t hdr[NVME_TCP_HDR_MAX], dg[4];

	if (find_cmd(h, sqe->cid))
		return fail(h, "CID %u already in flight", sqe->cid);
	for (int i = 0; i < HOST_MAX_INFLIGHT && !c; i++)
		if (!h->cmds[i].used)
			c = &h->cmds[i];
	if (!c)
		return fail(h, "too many commands in flight");
	memset(c, 0, sizeof(*c));
	c->used = true;
	c->cid = sqe->cid;
	c->in = in_len ? in : NULL;
	c->in_len = in ? in_len : 0;
	size_t hl = nvme_tcp_build_capsule_cmd(hdr, sqe, icd_len, h->hdgst, h->ddgst, h->cpda);
	struct iovec iov[3] = {
		{ hdr, hl },
		{ (void *)icd, icd_len },
		{ dg, icd_len && h->ddgst ? 4 : 0 },
	};
	if (icd_len && h->ddgst)
		nvme_put_le32(dg, nvme_crc32c(icd, icd_len));
	if (send_iov(h, iov, 3) != 0) {
		c->used = false;
		return -1;
	}
	return host_wait(h, c->cid, cqe);
}

int host_exec(struct host *h, struct nvme_sqe *sqe, const void *out, uint32_t out_len,
	      void *in, uint32_t in_len, struct nvme_cqe *cqe)
{
	int cid = host_submit(h, sqe, out, out_len, in, in_len);
	if (cid < 0)
		return -1;
	return host_wait(h, (uint16_t)cid, cqe);
}

/* Stores the status, or fails when the caller wanted success only. */
static int status_out(struct host *h, const struct nvme_cqe *cqe, uint16_t *status,
		      const char *what)
{
	if (status) {
		*status = cqe->status;
		return 0;
	}
	if (cqe->status)
		return fail(h, "%s: status %s", what, host_status_str(cqe->status));
	return 0;
}

/* ---- fabrics ---------------------------------------------------------------------- */

int host_fabrics_connect(struct host *h, uint16_t qid, uint16_t cntlid, uint16_t *status,
			 uint32_t *cdw0)
{
	struct nvme_connect_cmd cmd;
	struct nvme_connect_data data;
	struct nvme_cqe cqe;

	memset(&cmd, 0, sizeof(cmd));
	cmd.opc = NVME_OPC_FABRICS;
	cmd.fctype = NVME_FCTYPE_CONNECT;
	cmd.qid = qid;
	cmd.sqsize = h->opts.sqsize ? h->opts.sqsize : 31;
	cmd.cattr = h->opts.sq_fc_disabled ? 1u << 2 : 0;
	cmd.kato = qid == 0 ? h->opts.kato_ms : 0;
	memset(&data, 0, sizeof(data));
	memcpy(data.hostid, h->opts.hostid, 16);
	data.cntlid = qid == 0 ? NVME_CNTLID_DYNAMIC : cntlid;
	snprintf(data.subnqn, sizeof(data.subnqn), "%s", h->opts.subnqn ? h->opts.subnqn : "");
	snprintf(data.hostnqn, sizeof(data.hostnqn), "%s", h->hostnqn);
	h->qid = qid;
	if (host_exec(h, (struct nvme_sqe *)&cmd, &data, sizeof(data), NULL, 0, &cqe) != 0)
		return -1;
	if (cdw0)
		*cdw0 = cqe.cdw0;
	if (cqe.status == 0)
		h->cntlid = (uint16_t)cqe.cdw0;
	return status_out(h, &cqe, status, "Connect");
}

static int open_queue(struct host *h, const struct host_opts *opts, uint16_t qid,
		      uint16_t cntlid, uint32_t icd)
{
	if (host_tcp_connect(h, opts) != 0)
		return -1;
	h->icd_max = icd;
	if (host_ic(h) != 0)
		return -1;
	return host_fabrics_connect(h, qid, cntlid, NULL, NULL);
}

int host_open_admin(struct host *h, const struct host_opts *opts)
{
	return open_queue(h, opts, 0, NVME_CNTLID_DYNAMIC, HOST_ADMIN_ICD);
}

int host_open_io(struct host *h, const struct host_opts *opts, uint16_t qid, uint16_t cntlid)
{
	/* Until the test sets icd_max from IOCCSZ: the transport's default. */
	return open_queue(h, opts, qid, cntlid, 4096);
}

int host_open_session(struct host *admin, struct host *io, const struct host_opts *opts)
{
	struct nvme_id_ctrlr *id = malloc(sizeof(*id));
	int rc = -1;

	io->fd = -1;
	if (!id)
		return fail(admin, "out of memory");
	if (host_open_admin(admin, opts) == 0 && host_enable(admin) == 0 &&
	    host_identify(admin, NVME_CNS_CTRLR, 0, id, NULL) == 0) {
		rc = host_open_io(io, opts, 1, admin->cntlid);
		if (rc != 0)
			fail(admin, "I/O queue: %.200s", io->err);
		else if (id->ioccsz * 16u > sizeof(struct nvme_sqe))
			io->icd_max = id->ioccsz * 16u - (uint32_t)sizeof(struct nvme_sqe);
		else
			io->icd_max = 0;
	}
	free(id);
	return rc;
}

/* Property Get or Set (fctype) of ofst, 4 or 8 bytes; value: Property Set's. */
static int property_exec(struct host *h, uint8_t fctype, uint32_t ofst, bool eight, uint64_t value,
			 struct nvme_cqe *cqe)
{
	struct nvme_property_cmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.opc = NVME_OPC_FABRICS;
	cmd.fctype = fctype;
	cmd.attrib = eight ? 1 : 0;
	cmd.ofst = ofst;
	cmd.value = value;
	return host_exec(h, (struct nvme_sqe *)&cmd, NULL, 0, NULL, 0, cqe);
}

int host_prop_get(struct host *h, uint32_t ofst, bool eight, uint64_t *value, uint16_t *status)
{
	struct nvme_cqe cqe;

	if (property_exec(h, NVME_FCTYPE_PROPERTY_GET, ofst, eight, 0, &cqe) != 0)
		return -1;
	if (value)
		*value = cqe.cdw0 | (eight ? (uint64_t)cqe.cdw1 << 32 : 0);
	return status_out(h, &cqe, status, "Property Get");
}

int host_prop_set(struct host *h, uint32_t ofst, bool eight, uint64_t value, uint16_t *status)
{
	struct nvme_cqe cqe;

	if (property_exec(h, NVME_FCTYPE_PROPERTY_SET, ofst, eight, value, &cqe) != 0)
		return -1;
	return status_out(h, &cqe, status, "Property Set");
}

int host_enable(struct host *h)
{
	uint64_t csts = 0;
	/* IOSQES 6 (64 bytes), IOCQES 4 (16 bytes), CSS NVM, MPS 4 KiB. */
	uint32_t cc = NVME_CC_EN | (6u << 16) | (4u << 20);
	int64_t deadline = now_ms() + timeout_ms(h);

	if (host_prop_set(h, NVME_PROP_CC, false, cc, NULL) != 0)
		return -1;
	for (;;) {
		if (host_prop_get(h, NVME_PROP_CSTS, false, &csts, NULL) != 0)
			return -1;
		if (csts & NVME_CSTS_CFS)
			return fail(h, "CSTS.CFS set after enable");
		if (csts & NVME_CSTS_RDY)
			return 0;
		if (now_ms() > deadline)
			return fail(h, "CSTS.RDY not set after CC.EN (CSTS %#llx)",
				    (unsigned long long)csts);
		usleep(10000);
	}
}

/* ---- admin --------------------------------------------------------------------------- */

static int simple(struct host *h, struct nvme_sqe *sqe, const void *out, uint32_t out_len,
		  void *in, uint32_t in_len, uint32_t *cdw0, uint16_t *status, const char *what)
{
	struct nvme_cqe cqe;

	if (host_exec(h, sqe, out, out_len, in, in_len, &cqe) != 0)
		return -1;
	if (cdw0)
		*cdw0 = cqe.cdw0;
	return status_out(h, &cqe, status, what);
}

int host_identify(struct host *h, uint8_t cns, uint32_t nsid, void *buf4k, uint16_t *status)
{
	struct nvme_sqe sqe = { .opc = NVME_OPC_IDENTIFY, .nsid = nsid, .cdw10 = cns };
	return simple(h, &sqe, NULL, 0, buf4k, 4096, NULL, status, "Identify");
}

int host_get_log(struct host *h, uint8_t lid, uint32_t nsid, void *buf, uint32_t len,
		 uint16_t *status)
{
	uint32_t numd = len / 4 - 1;
	struct nvme_sqe sqe = { .opc = NVME_OPC_GET_LOG_PAGE, .nsid = nsid,
				.cdw10 = lid | (numd & 0xffffu) << 16, .cdw11 = numd >> 16 };
	return simple(h, &sqe, NULL, 0, buf, len, NULL, status, "Get Log Page");
}

int host_set_features(struct host *h, uint8_t fid, uint32_t cdw11, uint32_t *cdw0,
		      uint16_t *status)
{
	struct nvme_sqe sqe = { .opc = NVME_OPC_SET_FEATURES, .cdw10 = fid, .cdw11 = cdw11 };
	return simple(h, &sqe, NULL, 0, NULL, 0, cdw0, status, "Set Features");
}

int host_get_features(struct host *h, uint8_t fid, uint32_t cdw11, uint32_t *cdw0,
		      uint16_t *status)
{
	struct nvme_sqe sqe = { .opc = NVME_OPC_GET_FEATURES, .cdw10 = fid, .cdw11 = cdw11 };
	return simple(h, &sqe, NULL, 0, NULL, 0, cdw0, status, "Get Features");
}

int host_keep_alive(struct host *h, uint16_t *status)
{
	struct nvme_sqe sqe = { .opc = NVME_OPC_KEEP_ALIVE };
	return simple(h, &sqe, NULL, 0, NULL, 0, NULL, status, "Keep Alive");
}

/* ---- NVM ------------------------------------------------------------------------------ */

static void rw_sqe(struct nvme_sqe *sqe, uint8_t opc, uint32_t nsid, uint64_t slba, uint32_t nlb)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opc = opc;
	sqe->nsid = nsid;
	sqe->cdw10 = (uint32_t)slba;
	sqe->cdw11 = (uint32_t)(slba >> 32);
	sqe->cdw12 = (nlb - 1) & 0xffffu;
}

int host_write(struct host *h, uint32_t nsid, uint64_t slba, uint32_t nlb, const void *buf,
	       uint32_t len, uint16_t *status)
{
	struct nvme_sqe sqe;
	rw_sqe(&sqe, NVME_OPC_WRITE, nsid, slba, nlb);
	return simple(h, &sqe, buf, len, NULL, 0, NULL, status, "Write");
}

int host_read(struct host *h, uint32_t nsid, uint64_t slba, uint32_t nlb, void *buf,
	      uint32_t len, uint16_t *status)
{
	struct nvme_sqe sqe;
	rw_sqe(&sqe, NVME_OPC_READ, nsid, slba, nlb);
	return simple(h, &sqe, NULL, 0, buf, len, NULL, status, "Read");
}

int host_compare(struct host *h, uint32_t nsid, uint64_t slba, uint32_t nlb, const void *buf,
		 uint32_t len, uint16_t *status)
{
	struct nvme_sqe sqe;
	rw_sqe(&sqe, NVME_OPC_COMPARE, nsid, slba, nlb);
	return simple(h, &sqe, buf, len, NULL, 0, NULL, status, "Compare");
}

int host_flush(struct host *h, uint32_t nsid, uint16_t *status)
{
	struct nvme_sqe sqe = { .opc = NVME_OPC_FLUSH, .nsid = nsid };
	return simple(h, &sqe, NULL, 0, NULL, 0, NULL, status, "Flush");
}

int host_write_zeroes(struct host *h, uint32_t nsid, uint64_t slba, uint32_t nlb,
		      uint16_t *status)
{
	struct nvme_sqe sqe;
	rw_sqe(&sqe, NVME_OPC_WRITE_ZEROES, nsid, slba, nlb);
	return simple(h, &sqe, NULL, 0, NULL, 0, NULL, status, "Write Zeroes");
}

int host_dsm_deallocate(struct host *h, uint32_t nsid, uint64_t slba, uint32_t nlb,
			uint16_t *status)
{
	uint8_t range[16] = { 0 };	/* context attributes, length in blocks, starting LBA */
	struct nvme_sqe sqe = { .opc = NVME_OPC_DATASET_MANAGEMENT, .nsid = nsid,
				.cdw10 = 0, .cdw11 = 1u << 2 };	/* one range, AD */

	nvme_put_le32(range + 4, nlb);
	nvme_put_le64(range + 8, slba);
	return simple(h, &sqe, range, sizeof(range), NULL, 0, NULL, status, "Dataset Management");
}

int host_compare_and_write(struct host *h, uint32_t nsid, uint64_t slba, uint32_t nlb,
			   const void *cmp, const void *data, uint32_t len,
			   uint16_t *cmp_status, uint16_t *write_status)
{
	struct nvme_sqe c, w;
	struct nvme_cqe cc, wc;

	rw_sqe(&c, NVME_OPC_COMPARE, nsid, slba, nlb);
	c.flags = NVME_FUSE_FIRST;
	rw_sqe(&w, NVME_OPC_WRITE, nsid, slba, nlb);
	w.flags = NVME_FUSE_SECOND;
	int c_cid = host_submit(h, &c, cmp, len, NULL, 0);
	if (c_cid < 0)
		return -1;
	int w_cid = host_submit(h, &w, data, len, NULL, 0);
	if (w_cid < 0)
		return -1;
	if (host_wait(h, (uint16_t)c_cid, &cc) != 0 || host_wait(h, (uint16_t)w_cid, &wc) != 0)
		return -1;
	*cmp_status = cc.status;
	*write_status = wc.status;
	return 0;
}

/* ---- raw mode ---------------------------------------------------------------------- */

int host_expect_term(struct host *h, int tmo_ms)
{
	int64_t deadline = now_ms() + tmo_ms;
	uint8_t ch[NVME_TCP_CH_LEN];
	bool closed;

	memset(&h->term, 0, sizeof(h->term));
	for (;;) {
		if (read_full(h, ch, sizeof(ch), deadline, &closed) != 0)
			return closed ? 0 : -1;
		uint32_t plen = nvme_get_le32(ch + 4);
		if (plen < NVME_TCP_CH_LEN || plen > HOST_PDU_MAX)
			return fail(h, "target sent PLEN %u", plen);
		uint8_t *rest = malloc(plen - NVME_TCP_CH_LEN + 1);
		if (!rest)
			return fail(h, "out of memory");
		if (read_full(h, rest, plen - NVME_TCP_CH_LEN, deadline, &closed) != 0) {
			free(rest);
			return closed ? 0 : -1;
		}
		if (ch[0] == NVME_TCP_PDU_C2H_TERM_REQ) {
			uint8_t hdr[NVME_TCP_TERM_HLEN];
			int rc = 1;
			if (ch[2] != NVME_TCP_TERM_HLEN || plen < NVME_TCP_TERM_HLEN ||
			    plen > NVME_TCP_TERM_MAX_LEN) {
				rc = fail(h, "malformed C2HTermReq: HLEN %u PLEN %u", ch[2], plen);
			} else {
				memcpy(hdr, ch, NVME_TCP_CH_LEN);
				memcpy(hdr + NVME_TCP_CH_LEN, rest, NVME_TCP_TERM_HLEN - NVME_TCP_CH_LEN);
				term_record(h, hdr, rest + NVME_TCP_TERM_HLEN - NVME_TCP_CH_LEN,
					    plen - NVME_TCP_TERM_HLEN);
			}
			free(rest);
			return rc;
		}
		free(rest);	/* anything else before the TermReq: skip it */
	}
}

int host_wait_closed(struct host *h, int tmo_ms)
{
	int64_t deadline = now_ms() + tmo_ms;
	uint8_t buf[4096];

	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return fail(h, "still open after %d ms", tmo_ms);
		struct pollfd pfd = { .fd = h->fd, .events = POLLIN };
		int rc = poll(&pfd, 1, (int)left);
		if (rc <= 0)
			continue;
		ssize_t n = recv(h->fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			return 0;
	}
}

int host_recv_r2t(struct host *h, uint16_t *cccid, uint16_t *ttag, uint32_t *r2to,
		  uint32_t *r2tl)
{
	struct pdu p;

	if (recv_pdu(h, &p) != 0)
		return -1;
	free(p.rest);
	if (p.info.type != NVME_TCP_PDU_R2T)
		return fail(h, "expected R2T, got %s", nvme_tcp_pdu_type_name(p.info.type));
	*cccid = nvme_get_le16(p.hdr + offsetof(struct nvme_tcp_r2t, cccid));
	*ttag = nvme_get_le16(p.hdr + offsetof(struct nvme_tcp_r2t, ttag));
	*r2to = nvme_get_le32(p.hdr + offsetof(struct nvme_tcp_r2t, r2to));
	*r2tl = nvme_get_le32(p.hdr + offsetof(struct nvme_tcp_r2t, r2tl));
	return 0;
}

static const char *status_str(uint16_t status, int fabrics)
{
	static __thread char bufs[4][64];
	static __thread unsigned next;
	char *b = bufs[next++ % 4];

	return nvme_status_str(status, fabrics, b, sizeof(bufs[0]));
}

const char *host_status_str(uint16_t status)
{
	return status_str(status, 0);
}

const char *host_fabrics_status_str(uint16_t status)
{
	return status_str(status, 1);
}
