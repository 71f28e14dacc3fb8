/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NVMe/TCP transport (daemon/nvmf/tcp) in isolation: transport.c and
 * conn.c are linked with a fake target core defined here (reads return a
 * pattern, writes are recorded, opcode 0x80 is held until the test lets it
 * go), and a raw blocking-socket host checks every PDU byte by byte: the
 * IC exchange, digests, in-capsule data, R2T/H2CData, C2HData splitting and
 * the SUCCESS flag, data digest errors, and malformed PDUs answered with a
 * C2HTermReq (FES/FEI, echoed header) and a close while another connection
 * keeps working.
 */
#include "helpers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "tcp.h"

#define OPC_HOLD 0x80		/* fake core: keep the request until released */
#define IO_UNIT 8192u
#define MAX_IO 32768u
#define ICD 4096u

/* ---- the fake core ------------------------------------------------------------ */

static struct nvmf_poll_group g_pgs[2];
static atomic_uint g_next_pg;
static struct nvmf_transport *g_tt;
static uint16_t g_port;
static atomic_long g_inits, g_disconnects, g_finis, g_execs, g_held_count;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t g_written[MAX_IO];
static uint32_t g_written_len;
static struct nvmf_request *g_held[64];
static int g_nheld;
static atomic_bool g_hold_off;
static atomic_bool g_no_c2h_success;	/* create the transport with c2h_success false */	/* the mutation test: OPC_HOLD completes like any opcode */

static uint8_t pattern(uint32_t slba, uint32_t i)
{
	return (uint8_t)(i * 7u + slba * 13u + (i >> 8));
}

struct nvmf_poll_group *nvmf_tgt_next_poll_group(void)
{
	return &g_pgs[atomic_fetch_add(&g_next_pg, 1) % 2];
}

void nvmf_qpair_init(struct nvmf_qpair *qpair, struct nvmf_transport *transport,
		     struct nvmf_poll_group *pg, const struct nvmf_listen_addr *listen_addr,
		     const char *peer_addr, uint16_t peer_port)
{
	H_CHECK(reactor_get_thread() == pg->thread);
	memset(qpair, 0, sizeof(*qpair));
	qpair->transport = transport;
	qpair->pg = pg;
	qpair->listen_addr = *listen_addr;
	snprintf(qpair->peer_addr, sizeof(qpair->peer_addr), "%s", peer_addr);
	qpair->peer_port = peer_port;
	H_CHECK(strcmp(peer_addr, "127.0.0.1") == 0);
	atomic_fetch_add(&g_inits, 1);
}

void nvmf_qpair_disconnected(struct nvmf_qpair *qpair)
{
	H_CHECK(reactor_get_thread() == qpair->pg->thread);
	qpair->state = NVMF_QPAIR_DISCONNECTING;
	atomic_fetch_add(&g_disconnects, 1);
}

void nvmf_qpair_fini(struct nvmf_qpair *qpair)
{
	H_CHECK(reactor_get_thread() == qpair->pg->thread);
	H_CHECK(qpair->outstanding == 0);
	atomic_fetch_add(&g_finis, 1);
}

/* The fake core's CQE rule (the real one, in ctrlr.c, also knows SQ flow control off). */
void nvmf_qpair_fill_cqe(struct nvmf_qpair *q, struct nvmf_request *req)
{
	req->rsp.cid = req->cmd.cid;
	req->rsp.sqid = q->qid;
	q->sq_head = (uint16_t)(q->sq_depth ? (q->sq_head + 1u) % q->sq_depth : 0);
	req->rsp.sqhd = q->sq_head;
}

void nvmf_request_complete(struct nvmf_request *req)
{
	struct nvmf_qpair *q = req->qpair;

	H_CHECK(reactor_get_thread() == q->pg->thread);
	q->outstanding--;
	nvmf_qpair_fill_cqe(q, req);
	q->transport->ops->req_complete(req);
}

static uint32_t iov_total(const struct nvmf_request *req)
{
	uint32_t n = 0;

	for (int i = 0; i < req->iovcnt; i++)
		n += (uint32_t)req->iov[i].iov_len;
	return n;
}

void nvmf_request_exec(struct nvmf_request *req)
{
	struct nvmf_qpair *q = req->qpair;
	const uint8_t *sqe = (const uint8_t *)&req->cmd;

	H_CHECK(reactor_get_thread() == q->pg->thread);
	atomic_fetch_add(&g_execs, 1);
	q->outstanding++;
	H_CHECK(iov_total(req) >= req->length);
	switch (req->cmd.opc) {
	case NVME_OPC_FABRICS: {
		const uint8_t *data = req->iov[0].iov_base;
		bool ok = sqe[4] == NVME_FCTYPE_CONNECT && req->length == 1024 &&
			  req->xfer == NVMF_XFER_HOST_TO_CTRLR;

		for (uint32_t i = 0; ok && i < 1024; i++)
			ok = data[i] == (uint8_t)(i ^ 0x5a);
		if (!ok) {
			req->rsp.status = nvme_status(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD, 1);
			break;
		}
		q->qid = nvme_get_le16(sqe + 42);
		q->sq_depth = (uint16_t)(nvme_get_le16(sqe + 44) + 1u);
		q->sq_flow_control_disabled = (sqe[46] & 4u) != 0;
		q->state = NVMF_QPAIR_ACTIVE;
		break;
	}
	case NVME_OPC_READ: {
		uint32_t k = 0;

		H_CHECK(req->xfer == NVMF_XFER_CTRLR_TO_HOST);
		for (int i = 0; i < req->iovcnt; i++)
			for (size_t j = 0; j < req->iov[i].iov_len && k < req->length; j++, k++)
				((uint8_t *)req->iov[i].iov_base)[j] = pattern(req->cmd.cdw10, k);
		break;
	}
	case NVME_OPC_WRITE: {
		uint32_t k = 0;

		H_CHECK(req->xfer == NVMF_XFER_HOST_TO_CTRLR);
		pthread_mutex_lock(&g_lock);
		for (int i = 0; i < req->iovcnt && k < req->length; i++) {
			size_t n = req->iov[i].iov_len;

			if (n > req->length - k)
				n = req->length - k;
			memcpy(g_written + k, req->iov[i].iov_base, n);
			k += (uint32_t)n;
		}
		g_written_len = k;
		pthread_mutex_unlock(&g_lock);
		break;
	}
	case NVME_OPC_FLUSH:
		break;
	case OPC_HOLD:
		if (atomic_load(&g_hold_off))
			break;
		pthread_mutex_lock(&g_lock);
		g_held[g_nheld++] = req;
		pthread_mutex_unlock(&g_lock);
		atomic_fetch_add(&g_held_count, 1);
		return;
	default:
		req->rsp.status = nvme_status(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE, 1);
		break;
	}
	nvmf_request_complete(req);
}

/* On a poll group's thread: complete the held requests that live there. */
static void release_held_here(void *arg)
{
	struct nvmf_request *mine[64];
	int n = 0;

	(void)arg;
	pthread_mutex_lock(&g_lock);
	for (int i = 0; i < g_nheld;) {
		if (g_held[i]->qpair->pg->thread == reactor_get_thread()) {
			mine[n++] = g_held[i];
			g_held[i] = g_held[--g_nheld];
		} else {
			i++;
		}
	}
	pthread_mutex_unlock(&g_lock);
	for (int i = 0; i < n; i++) {
		atomic_fetch_sub(&g_held_count, 1);
		nvmf_request_complete(mine[i]);
	}
}

static void release_held(void)
{
	h_call_on_thread(g_pgs[0].thread, release_held_here, NULL);
	h_call_on_thread(g_pgs[1].thread, release_held_here, NULL);
}

/* ---- target setup ---------------------------------------------------------------- */

static void tgt_create(void *arg)
{
	struct nvmf_transport_opts o;
	struct nvmf_listen_addr a = {.trtype = "TCP", .adrfam = "IPv4", .traddr = "127.0.0.1",
				     .trsvcid = "0"};
	struct nvmf_tcp_transport *tt;

	(void)arg;
	nvmf_tcp_ops.opts_init(&o);
	o.io_unit_size = IO_UNIT;
	o.max_io_size = MAX_IO;
	o.in_capsule_data_size = ICD;
	o.c2h_success = !atomic_load(&g_no_c2h_success);
	g_tt = nvmf_tcp_ops.create(&o);
	if (!H_CHECK(g_tt != NULL))
		return;
	H_CHECK_INT(nvmf_tcp_ops.listen(g_tt, &a), ==, 0);
	H_CHECK_INT(nvmf_tcp_ops.listen(g_tt, &a), ==, -EEXIST);
	tt = (struct nvmf_tcp_transport *)g_tt;
	if (H_CHECK(!TAILQ_EMPTY(&tt->listeners)))
		reactor_sock_getaddr(TAILQ_FIRST(&tt->listeners)->sock, NULL, 0, &g_port, NULL, 0, NULL);
}

static void tgt_destroy(void *arg)
{
	struct nvmf_listen_addr a = {.trtype = "TCP", .adrfam = "IPv4", .traddr = "127.0.0.1",
				     .trsvcid = "0"};

	(void)arg;
	nvmf_tcp_ops.stop_listen(g_tt, &a);
	nvmf_tcp_ops.destroy(g_tt);
	g_tt = NULL;
}

static void pg_create(void *arg)
{
	struct nvmf_poll_group *pg = arg;

	H_CHECK_INT(nvmf_tcp_ops.pg_create(g_tt, pg), ==, 0);
}

static void pg_destroy(void *arg)
{
	struct nvmf_poll_group *pg = arg;

	nvmf_tcp_ops.pg_destroy(g_tt, pg);
}

static bool tgt_up(void)
{
	atomic_store(&g_inits, 0);
	atomic_store(&g_disconnects, 0);
	atomic_store(&g_finis, 0);
	atomic_store(&g_held_count, 0);
	g_nheld = 0;
	for (unsigned i = 0; i < 2; i++) {
		memset(&g_pgs[i], 0, sizeof(g_pgs[i]));
		g_pgs[i].index = i;
		TAILQ_INIT(&g_pgs[i].qpairs);
		g_pgs[i].thread = h_thread_create_on(i ? "tcp_pg1" : "tcp_pg0", h_app_cpu(i));
		if (g_pgs[i].thread == NULL)
			return false;
	}
	h_call_on_thread(reactor_thread_get_app_thread(), tgt_create, NULL);
	if (g_tt == NULL || g_port == 0)
		return false;
	h_call_on_thread(g_pgs[0].thread, pg_create, &g_pgs[0]);
	h_call_on_thread(g_pgs[1].thread, pg_create, &g_pgs[1]);
	return h_failures() == 0;
}

static bool all_freed(void *arg)
{
	(void)arg;
	return atomic_load(&g_finis) == atomic_load(&g_inits);
}

static void tgt_down(void)
{
	H_CHECK(h_wait_until(all_freed, NULL, 10000, "every connection freed"));
	if (g_tt != NULL) {
		h_call_on_thread(g_pgs[0].thread, pg_destroy, &g_pgs[0]);
		h_call_on_thread(g_pgs[1].thread, pg_destroy, &g_pgs[1]);
		h_call_on_thread(reactor_thread_get_app_thread(), tgt_destroy, NULL);
	}
	h_thread_exit(g_pgs[0].thread);
	h_thread_exit(g_pgs[1].thread);
}

static void run(void (*body)(void *))
{
	struct reactor_app_opts o;

	assert_true(h_app_opts(&o, h_allowed_cpu_count() >= 2 ? 2 : 1));
	assert_int_equal(h_app_run(&o, body, NULL), 0);
	h_assert_no_failures();
}

/* ---- the host: a raw blocking socket ------------------------------------------------ */

struct host {
	int fd;
	bool hdgst, ddgst;
	uint16_t cid;
};

static int g_host_rcvbuf;	/* SO_RCVBUF of the next host_open() (0: the kernel's) */

static bool host_open(struct host *h)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(g_port)};
	struct timeval tv = {.tv_sec = 5 * (time_t)h_timeout_factor()};
	int one = 1;

	memset(h, 0, sizeof(*h));
	h->cid = 1;
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	h->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (!H_CHECK(h->fd >= 0))
		return false;
	setsockopt(h->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Before connect, so the window it announces is small from the start. */
	if (g_host_rcvbuf)
		setsockopt(h->fd, SOL_SOCKET, SO_RCVBUF, &g_host_rcvbuf, sizeof(g_host_rcvbuf));
	return H_CHECK(connect(h->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
}

static void host_close(struct host *h)
{
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
}

static bool host_send(struct host *h, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = send(h->fd, p, len, MSG_NOSIGNAL);

		if (n <= 0)
			return H_CHECK(n > 0);
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static bool host_recv(struct host *h, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = recv(h->fd, p, len, 0);

		if (n <= 0) {
			H_FAIL("recv: %s", n == 0 ? "closed by the target" : strerror(errno));
			return false;
		}
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Whether the target closed the connection (with nothing more to read). */
static bool host_sees_close(struct host *h)
{
	uint8_t b;
	ssize_t n = recv(h->fd, &b, 1, 0);

	if (n == 0 || (n < 0 && errno == ECONNRESET))
		return true;
	H_FAIL("expected the target to close, recv returned %zd (%s)", n, n < 0 ? strerror(errno) : "data");
	return false;
}

/* One PDU into buf (cap bytes); returns its PLEN or 0. */
static uint32_t host_recv_pdu(struct host *h, uint8_t *buf, size_t cap)
{
	uint32_t plen;

	if (!host_recv(h, buf, NVME_TCP_CH_LEN))
		return 0;
	plen = nvme_get_le32(buf + 4);
	if (!H_CHECK(plen >= NVME_TCP_CH_LEN && plen <= cap))
		return 0;
	if (!host_recv(h, buf + NVME_TCP_CH_LEN, plen - NVME_TCP_CH_LEN))
		return 0;
	return plen;
}

static bool host_ic(struct host *h, bool hdgst, bool ddgst, uint32_t maxr2t)
{
	uint8_t req[NVME_TCP_HDR_MAX], rsp[NVME_TCP_ICRESP_HLEN];
	size_t n = nvme_tcp_build_icreq(req, 0, hdgst, ddgst, maxr2t);

	if (!host_send(h, req, n) || !host_recv(h, rsp, sizeof(rsp)))
		return false;
	H_CHECK_INT(rsp[0], ==, NVME_TCP_PDU_ICRESP);
	H_CHECK_INT(rsp[11], ==, (hdgst ? 1 : 0) | (ddgst ? 2 : 0));
	h->hdgst = hdgst;
	h->ddgst = ddgst;
	return h_failures() == 0;
}

static void sqe_init(struct nvme_sqe *s, uint8_t opc, uint16_t cid, bool in_capsule, uint32_t len)
{
	uint8_t *sgl = (uint8_t *)&s->dptr;

	memset(s, 0, sizeof(*s));
	s->opc = opc;
	s->flags = (uint8_t)(NVME_SQE_PSDT_SGL << NVME_SQE_PSDT_SHIFT);
	s->cid = cid;
	s->nsid = 1;
	nvme_put_le32(sgl + 8, len);
	sgl[15] = in_capsule ? NVME_SGL_TYPE_BYTE(NVME_SGL_TYPE_DATA_BLOCK, NVME_SGL_SUBTYPE_OFFSET)
			     : NVME_SGL_TYPE_BYTE(NVME_SGL_TYPE_TRANSPORT_DATA_BLOCK,
						  NVME_SGL_SUBTYPE_TRANSPORT);
}

/* A CapsuleCmd with @p icd_len bytes of in-capsule data; @p bad_ddgst corrupts its digest. */
static bool host_send_cmd(struct host *h, const struct nvme_sqe *s, const void *icd,
			  uint32_t icd_len, bool bad_ddgst)
{
	uint8_t hdr[NVME_TCP_HDR_MAX];
	size_t n = nvme_tcp_build_capsule_cmd(hdr, s, icd_len, h->hdgst, h->ddgst, 0);
	uint8_t dg[4];

	if (!host_send(h, hdr, n))
		return false;
	if (icd_len == 0)
		return true;
	if (!host_send(h, icd, icd_len))
		return false;
	if (!h->ddgst)
		return true;
	nvme_put_le32(dg, nvme_crc32c(icd, icd_len) ^ (bad_ddgst ? 1u : 0u));
	return host_send(h, dg, 4);
}

/* Receive a CapsuleResp; returns its status (0xffff on failure). */
static uint16_t host_recv_resp(struct host *h, uint16_t cid)
{
	uint8_t buf[64];
	uint32_t plen = host_recv_pdu(h, buf, sizeof(buf));

	if (!H_CHECK_INT(plen, ==, NVME_TCP_RESP_HLEN + (h->hdgst ? 4u : 0u)))
		return 0xffff;
	H_CHECK_INT(buf[0], ==, NVME_TCP_PDU_CAPSULE_RESP);
	H_CHECK_INT(buf[1], ==, h->hdgst ? NVME_TCP_F_HDGST : 0);
	H_CHECK_INT(buf[2], ==, NVME_TCP_RESP_HLEN);
	if (h->hdgst)
		H_CHECK_INT(nvme_get_le32(buf + 24), ==, nvme_crc32c(buf, 24));
	H_CHECK_INT(nvme_get_le16(buf + 8 + 12), ==, cid);
	return nvme_get_le16(buf + 8 + 14);
}

static bool host_connect(struct host *h, uint16_t qid, uint16_t sqsize, uint8_t cattr)
{
	struct nvme_sqe s;
	uint8_t data[1024];
	uint16_t cid = h->cid++;

	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i ^ 0x5a);
	sqe_init(&s, NVME_OPC_FABRICS, cid, true, sizeof(data));
	((uint8_t *)&s)[4] = NVME_FCTYPE_CONNECT;
	nvme_put_le16((uint8_t *)&s + 42, qid);
	nvme_put_le16((uint8_t *)&s + 44, sqsize);
	((uint8_t *)&s)[46] = cattr;
	if (!host_send_cmd(h, &s, data, sizeof(data), false))
		return false;
	return H_CHECK_INT(host_recv_resp(h, cid), ==, 0);
}

/* Read @p len bytes at "LBA" @p slba: check every C2HData PDU and the data. */
static bool host_read_answer(struct host *h, uint16_t cid, uint32_t slba, uint32_t len,
			     uint32_t chunk, bool success);

static bool host_read(struct host *h, uint32_t slba, uint32_t len, uint32_t chunk, bool success)
{
	struct nvme_sqe s;
	uint16_t cid = h->cid++;

	sqe_init(&s, NVME_OPC_READ, cid, false, len);
	s.cdw10 = slba;
	if (!host_send_cmd(h, &s, NULL, 0, false))
		return false;
	return host_read_answer(h, cid, slba, len, chunk, success);
}

/* The C2HData PDUs (and CapsuleResp) of read @p cid, checked. */
static bool host_read_answer(struct host *h, uint16_t cid, uint32_t slba, uint32_t len,
			     uint32_t chunk, bool success)
{
	static uint8_t buf[MAX_IO + 256];
	uint32_t off = 0;

	while (off < len) {
		uint32_t want = len - off < chunk ? len - off : chunk;
		uint32_t hl = NVME_TCP_DATA_HLEN + (h->hdgst ? 4u : 0u);
		uint32_t plen = host_recv_pdu(h, buf, sizeof(buf));
		bool last = off + want == len;
		uint8_t flags = (uint8_t)((h->hdgst ? NVME_TCP_F_HDGST : 0) | (h->ddgst ? NVME_TCP_F_DDGST : 0) |
					  (last ? NVME_TCP_F_DATA_LAST : 0) |
					  (last && success ? NVME_TCP_F_DATA_SUCCESS : 0));

		if (!H_CHECK_INT(plen, ==, hl + want + (h->ddgst ? 4u : 0u)))
			return false;
		H_CHECK_INT(buf[0], ==, NVME_TCP_PDU_C2H_DATA);
		H_CHECK_INT(buf[1], ==, flags);
		H_CHECK_INT(buf[2], ==, NVME_TCP_DATA_HLEN);
		H_CHECK_INT(buf[3], ==, hl);	/* PDO: right after the header (HPDA 0) */
		H_CHECK_INT(nvme_get_le16(buf + 8), ==, cid);
		H_CHECK_INT(nvme_get_le32(buf + 12), ==, off);
		H_CHECK_INT(nvme_get_le32(buf + 16), ==, want);
		if (h->hdgst)
			H_CHECK_INT(nvme_get_le32(buf + 24), ==, nvme_crc32c(buf, 24));
		if (h->ddgst)
			H_CHECK_INT(nvme_get_le32(buf + hl + want), ==, nvme_crc32c(buf + hl, want));
		for (uint32_t i = 0; i < want; i++)
			if (buf[hl + i] != pattern(slba, off + i)) {
				H_FAIL("read data differs at byte %u", off + i);
				return false;
			}
		off += want;
	}
	if (!success)
		return H_CHECK_INT(host_recv_resp(h, cid), ==, 0);
	return h_failures() == 0;
}

static void fill(uint8_t *p, uint32_t len, uint32_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 11u + seed + (i >> 9));
}

static bool written_is(const uint8_t *p, uint32_t len)
{
	bool ok;

	pthread_mutex_lock(&g_lock);
	ok = g_written_len == len && memcmp(g_written, p, len) == 0;
	pthread_mutex_unlock(&g_lock);
	return ok;
}

static void written_reset(void)
{
	pthread_mutex_lock(&g_lock);
	g_written_len = 0;
	memset(g_written, 0, sizeof(g_written));
	pthread_mutex_unlock(&g_lock);
}

/* Send an H2CData PDU; @p bad_ddgst corrupts its digest. */
static bool host_send_h2c(struct host *h, uint16_t cid, uint16_t ttag, uint32_t off,
			  const uint8_t *data, uint32_t len, bool last, bool bad_ddgst)
{
	uint8_t hdr[NVME_TCP_HDR_MAX], dg[4];
	size_t n = nvme_tcp_build_data(hdr, NVME_TCP_PDU_H2C_DATA, cid, ttag, off, len,
				       last ? NVME_TCP_F_DATA_LAST : 0, h->hdgst, h->ddgst, 0);

	if (!host_send(h, hdr, n) || !host_send(h, data, len))
		return false;
	if (!h->ddgst)
		return true;
	nvme_put_le32(dg, nvme_crc32c(data, len) ^ (bad_ddgst ? 0x100u : 0u));
	return host_send(h, dg, 4);
}

/* Receive an R2T for @p cid and @p len bytes; returns its TTAG (or -1). */
static int host_recv_r2t(struct host *h, uint16_t cid, uint32_t len)
{
	uint8_t buf[64];
	uint32_t plen = host_recv_pdu(h, buf, sizeof(buf));

	if (!H_CHECK_INT(plen, ==, NVME_TCP_R2T_HLEN + (h->hdgst ? 4u : 0u)))
		return -1;
	H_CHECK_INT(buf[0], ==, NVME_TCP_PDU_R2T);
	H_CHECK_INT(nvme_get_le16(buf + 8), ==, cid);
	H_CHECK_INT(nvme_get_le32(buf + 12), ==, 0);
	H_CHECK_INT(nvme_get_le32(buf + 16), ==, len);
	if (h->hdgst)
		H_CHECK_INT(nvme_get_le32(buf + 24), ==, nvme_crc32c(buf, 24));
	return nvme_get_le16(buf + 10);
}

/* Write @p len bytes through R2T in H2CData PDUs of @p pdu bytes; returns the status. */
static uint16_t host_write_r2t(struct host *h, const uint8_t *data, uint32_t len, uint32_t pdu,
			       int bad_pdu)
{
	struct nvme_sqe s;
	uint16_t cid = h->cid++;
	int ttag, i = 0;

	sqe_init(&s, NVME_OPC_WRITE, cid, false, len);
	if (!host_send_cmd(h, &s, NULL, 0, false))
		return 0xffff;
	ttag = host_recv_r2t(h, cid, len);
	if (ttag < 0)
		return 0xffff;
	for (uint32_t off = 0; off < len; off += pdu, i++) {
		uint32_t n = len - off < pdu ? len - off : pdu;

		if (!host_send_h2c(h, cid, (uint16_t)ttag, off, data + off, n, off + n == len, i == bad_pdu))
			return 0xffff;
	}
	return host_recv_resp(h, cid);
}

static uint16_t host_write_icd(struct host *h, const uint8_t *data, uint32_t len, bool bad_ddgst)
{
	struct nvme_sqe s;
	uint16_t cid = h->cid++;

	sqe_init(&s, NVME_OPC_WRITE, cid, true, len);
	if (!host_send_cmd(h, &s, data, len, bad_ddgst))
		return 0xffff;
	return host_recv_resp(h, cid);
}

static bool host_flush(struct host *h)
{
	struct nvme_sqe s;
	uint16_t cid = h->cid++;

	sqe_init(&s, NVME_OPC_FLUSH, cid, false, 0);
	return host_send_cmd(h, &s, NULL, 0, false) && H_CHECK_INT(host_recv_resp(h, cid), ==, 0);
}

/* Expect a C2HTermReq with @p fes/@p fei echoing what we sent. */
static void host_expect_term_pdu(struct host *h, uint16_t fes, uint32_t fei, const uint8_t *sent,
				 size_t sent_len, const char *what)
{
	uint8_t buf[NVME_TCP_TERM_MAX_LEN];
	uint32_t plen = host_recv_pdu(h, buf, sizeof(buf));
	uint32_t echo;

	if (plen == 0) {
		H_FAIL("%s: no C2HTermReq", what);
		return;
	}
	echo = plen - NVME_TCP_TERM_HLEN;
	if (!H_CHECK_INT(buf[0], ==, NVME_TCP_PDU_C2H_TERM_REQ) || !H_CHECK_INT(buf[2], ==, NVME_TCP_TERM_HLEN) ||
	    !H_CHECK_INT(nvme_get_le16(buf + 8), ==, fes) || !H_CHECK_INT(nvme_get_le32(buf + 10), ==, fei))
		H_FAIL("case: %s", what);
	H_CHECK(plen >= NVME_TCP_TERM_HLEN + NVME_TCP_CH_LEN && echo <= NVME_TCP_TERM_MAX_DATA);
	H_CHECK(echo <= sent_len && memcmp(buf + NVME_TCP_TERM_HLEN, sent, echo) == 0);
}

/* ... and then a close. */
static void host_expect_term(struct host *h, uint16_t fes, uint32_t fei, const uint8_t *sent,
			     size_t sent_len, const char *what)
{
	host_expect_term_pdu(h, fes, fei, sent, sent_len, what);
	host_sees_close(h);
}

/* ---- tests ------------------------------------------------------------------------- */

static void body_icresp(void *arg H_UNUSED)
{
	struct host h;
	uint8_t req[NVME_TCP_HDR_MAX], rsp[NVME_TCP_ICRESP_HLEN];
	static const uint8_t dgsts[][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}};

	if (!tgt_up())
		goto out;
	for (unsigned i = 0; i < 4; i++) {
		size_t n = nvme_tcp_build_icreq(req, 3, dgsts[i][0], dgsts[i][1], 7);

		if (!host_open(&h) || !host_send(&h, req, n) || !host_recv(&h, rsp, sizeof(rsp)))
			break;
		H_CHECK_INT(rsp[0], ==, NVME_TCP_PDU_ICRESP);
		H_CHECK_INT(rsp[1], ==, 0);
		H_CHECK_INT(rsp[2], ==, 128);
		H_CHECK_INT(rsp[3], ==, 0);
		H_CHECK_INT(nvme_get_le32(rsp + 4), ==, 128);
		H_CHECK_INT(nvme_get_le16(rsp + 8), ==, 0);	/* PFV */
		H_CHECK_INT(rsp[10], ==, 0);			/* CPDA */
		H_CHECK_INT(rsp[11], ==, dgsts[i][0] | dgsts[i][1] << 1);
		H_CHECK_INT(nvme_get_le32(rsp + 12), ==, NVMF_TCP_MAX_H2C_DATA);
		_Static_assert(NVMF_TCP_MAX_H2C_DATA % 4 == 0 && NVMF_TCP_MAX_H2C_DATA >= 4096, "MAXH2CDATA");
		for (unsigned k = 16; k < 128; k++)
			if (rsp[k] != 0)
				H_FAIL("ICResp reserved byte %u is %u", k, rsp[k]);
		host_close(&h);
	}
out:
	tgt_down();
}

static void test_icresp(void **state)
{
	(void)state;
	H_BEGIN();
	run(body_icresp);
}

/*
 * A peer that connects and sends no ICReq is closed after ICREQ_TIMEOUT_S
 * (1 s in this build), while one that sent its ICReq in time stays.
 */
static void body_icreq_timeout(void *arg H_UNUSED)
{
	struct host silent, prompt;
	uint8_t req[NVME_TCP_HDR_MAX], rsp[NVME_TCP_ICRESP_HLEN], b;
	size_t n = nvme_tcp_build_icreq(req, 0, false, false, 0);
	uint64_t connected;

	if (!tgt_up())
		goto out;
	if (!host_open(&silent))
		goto out;
	connected = h_now_ns();
	if (host_open(&prompt) && host_send(&prompt, req, n) && host_recv(&prompt, rsp, sizeof(rsp))) {
		H_CHECK(host_sees_close(&silent));
		H_CHECK(h_now_ns() - connected >= 900ull * 1000 * 1000);	/* not before the timeout */
		/* The prompt one is still open: nothing to read, no close. */
		H_CHECK_INT(recv(prompt.fd, &b, 1, MSG_DONTWAIT), ==, -1);
		H_CHECK_INT(errno, ==, EAGAIN);
	}
	host_close(&prompt);
	host_close(&silent);
out:
	tgt_down();
}

static void test_icreq_timeout(void **state)
{
	(void)state;
	H_BEGIN();
	run(body_icreq_timeout);
}

/* Reads (single and split C2HData), in-capsule and R2T writes, with and without digests. */
static void body_io(void *arg H_UNUSED)
{
	static uint8_t data[MAX_IO];
	struct host h;

	if (!tgt_up())
		goto out;
	for (int dg = 0; dg < 4; dg++) {
		if (!host_open(&h) || !host_ic(&h, dg & 1, dg & 2, 0) || !host_connect(&h, 1, 31, 0))
			break;
		host_read(&h, 5, 4096, IO_UNIT, false);
		host_read(&h, 9, 512, IO_UNIT, false);
		host_read(&h, 77, MAX_IO, IO_UNIT, false);	/* four C2HData PDUs */
		host_read(&h, 3, 20000, IO_UNIT, false);	/* 8K, 8K, 3616 */

		fill(data, ICD, (uint32_t)dg);
		written_reset();
		H_CHECK_INT(host_write_icd(&h, data, ICD, false), ==, 0);
		H_CHECK(written_is(data, ICD));

		fill(data, 20000, 100u + (uint32_t)dg);
		written_reset();
		H_CHECK_INT(host_write_r2t(&h, data, 20000, 8192, -1), ==, 0);
		H_CHECK(written_is(data, 20000));

		fill(data, MAX_IO, 200u + (uint32_t)dg);
		written_reset();
		H_CHECK_INT(host_write_r2t(&h, data, MAX_IO, 4096, -1), ==, 0);	/* 8 H2CData */
		H_CHECK(written_is(data, MAX_IO));
		host_flush(&h);
		host_close(&h);
	}
out:
	tgt_down();
}

static void test_io(void **state)
{
	(void)state;
	H_BEGIN();
	run(body_io);
}

/* Several commands in one send: every answer comes back, in any order. */
static void body_pipeline(void *arg H_UNUSED)
{
	static uint8_t out[64 * 128];
	struct host h;
	size_t n = 0;
	uint32_t seen = 0;

	if (!tgt_up())
		goto out;
	if (!host_open(&h) || !host_ic(&h, false, false, 0) || !host_connect(&h, 1, 63, 0))
		goto out;
	for (uint16_t i = 0; i < 32; i++) {
		struct nvme_sqe s;

		sqe_init(&s, NVME_OPC_FLUSH, (uint16_t)(100 + i), false, 0);
		n += nvme_tcp_build_capsule_cmd(out + n, &s, 0, false, false, 0);
	}
	host_send(&h, out, n);
	for (int i = 0; i < 32; i++) {
		uint8_t buf[64];

		if (host_recv_pdu(&h, buf, sizeof(buf)) != NVME_TCP_RESP_HLEN)
			break;
		seen |= 1u << (nvme_get_le16(buf + 20) - 100);
	}
	H_CHECK_INT(seen, ==, 0xffffffffu);
	host_close(&h);
out:
	tgt_down();
}

static void test_pipeline(void **state)
{
	(void)state;
	H_BEGIN();
	run(body_pipeline);
}

/* SUCCESS flag only when the host disabled SQ flow control, and then no CapsuleResp. */
static void body_c2h_success(void *arg H_UNUSED)
{
	struct host h;

	if (!tgt_up())
		goto out;
	if (host_open(&h) && host_ic(&h, false, false, 0) && host_connect(&h, 1, 31, 4)) {
		host_read(&h, 1, 4096, IO_UNIT, true);
		host_read(&h, 2, 20000, IO_UNIT, true);
		host_flush(&h);	/* the next PDU is the flush's response, not a read's */
	}
	host_close(&h);
	if (host_open(&h) && host_ic(&h, true, true, 0) && host_connect(&h, 0, 31, 0)) {
		host_read(&h, 1, 4096, IO_UNIT, false);
		host_flush(&h);
	}
	host_close(&h);
out:
	tgt_down();
}

static void test_c2h_success(void **state)
{
	(void)state;
	H_BEGIN();
	run(body_c2h_success);
}

/* c2h_success false: a CapsuleResp even without SQ flow control. */
static void body_no_c2h_success(void *arg H_UNUSED)
{
	struct host h;

	if (!tgt_up())
		goto out;
	if (host_open(&h) && host_ic(&h, false, false, 0) && host_connect(&h, 1, 31, 4)) {
		host_read(&h, 1, 4096, IO_UNIT, false);
		host_read(&h, 2, 20000, IO_UNIT, false);
	}
	host_close(&h);
out:
	tgt_down();
}

static void test_no_c2h_success(void **state)
{
	(void)state;
	H_BEGIN();
	atomic_store(&g_no_c2h_success, true);
	run(body_no_c2h_success);
	atomic_store(&g_no_c2h_success, false);
}

/* A data digest error fails the command with Transient Transport Error; the connection stays. */
static void body_ddgst_error(void *arg H_UNUSED)
{
	static uint8_t data[MAX_IO];
	const uint16_t tte = nvme_status(NVME_SCT_GENERIC, NVME_SC_TRANSIENT_TRANSPORT_ERROR, 0);
	struct host h;

	if (!tgt_up())
		goto out;
	if (host_open(&h) && host_ic(&h, false, true, 0) && host_connect(&h, 1, 31, 0)) {
		long execs;

		fill(data, MAX_IO, 9);
		execs = atomic_load(&g_execs);
		H_CHECK_INT(host_write_icd(&h, data, ICD, true), ==, tte);
		H_CHECK_INT(host_write_r2t(&h, data, 20000, 8192, 1), ==, tte);
		H_CHECK_INT(atomic_load(&g_execs), ==, execs);	/* the core never saw them */
		written_reset();
		H_CHECK_INT(host_write_r2t(&h, data, 20000, 8192, -1), ==, 0);
		H_CHECK(written_is(data, 20000));
		host_read(&h, 4, 8192, IO_UNIT, false);
	}
	host_close(&h);
out:
	tgt_down();
}

static void test_ddgst_error(void **state)
{
	(void)state;
	H_BEGIN();
	run(body_ddgst_error);
}

/* A bad SGL is answered with an error status (DNR), its in-capsule data skipped. */
static void body_bad_sgl(void *arg H_UNUSED)
{
	uint8_t data[64] = {0};
	struct host h;

	if (!tgt_up())
		goto out;
	if (host_open(&h) && host_ic(&h, false, false, 0) && host_connect(&h, 1, 31, 0)) {
		struct nvme_sqe s;
		uint16_t st;

		/* Transport SGL but data in the capsule. */
		sqe_init(&s, NVME_OPC_WRITE, 50, false, 64);
		host_send_cmd(&h, &s, data, 64, false);
		st = host_recv_resp(&h, 50);
		H_CHECK_INT(st, ==, nvme_status(NVME_SCT_GENERIC, NVME_SC_DATA_SGL_LENGTH_INVALID, 1));
		/* Longer than max_io_size. */
		sqe_init(&s, NVME_OPC_READ, 51, false, MAX_IO + 512);
		host_send_cmd(&h, &s, NULL, 0, false);
		H_CHECK_INT(host_recv_resp(&h, 51), ==,
			    nvme_status(NVME_SCT_GENERIC, NVME_SC_DATA_SGL_LENGTH_INVALID, 1));
		host_read(&h, 4, 4096, IO_UNIT, false);
	}
	host_close(&h);
out:
	tgt_down();
}

static void test_bad_sgl(void **state)
{
	(void)state;
	H_BEGIN();
	run(body_bad_sgl);
}

/* Open a connection for a malformed-PDU case, optionally through IC and Connect. */
static bool mal_open(struct host *h, bool ic, bool hdgst, bool connect)
{
	if (!host_open(h))
		return false;
	if (ic && !host_ic(h, hdgst, false, 0))
		return false;
	if (connect && !host_connect(h, 1, 31, 0))
		return false;
	return true;
}

static void body_malformed(void *arg H_UNUSED)
{
	uint8_t p[NVME_TCP_HDR_MAX + 64];
	struct host good, h;
	struct nvme_sqe s;
	size_t n;
	long fin0;

	if (!tgt_up())
		goto out;
	if (!mal_open(&good, true, false, true))
		goto out;

	/* Unknown PDU type. */
	if (mal_open(&h, false, false, false)) {
		memset(p, 0, 24);
		p[0] = 0x0b;
		p[2] = 24;
		nvme_put_le32(p + 4, 24);
		host_send(&h, p, 24);
		host_expect_term(&h, NVME_TCP_FES_INVALID_HEADER_FIELD, 0, p, 24, "unknown type");
	}
	host_close(&h);
	/* A controller-to-host PDU (ICResp) sent by the host. */
	if (mal_open(&h, false, false, false)) {
		n = nvme_tcp_build_icresp(p, 0, false, false, 4096);
		host_send(&h, p, n);
		host_expect_term(&h, NVME_TCP_FES_INVALID_HEADER_FIELD, 0, p, n, "wrong direction");
	}
	host_close(&h);
	/* HLEN wrong for ICReq. */
	if (mal_open(&h, false, false, false)) {
		n = nvme_tcp_build_icreq(p, 0, false, false, 0);
		p[2] = 100;
		host_send(&h, p, n);
		host_expect_term(&h, NVME_TCP_FES_INVALID_HEADER_FIELD, 2, p, n, "bad hlen");
	}
	host_close(&h);
	/* PFV other than 0. */
	if (mal_open(&h, false, false, false)) {
		n = nvme_tcp_build_icreq(p, 0, false, false, 0);
		p[8] = 1;
		host_send(&h, p, n);
		host_expect_term(&h, NVME_TCP_FES_UNSUPPORTED_PARAMETER, 8, p, n, "PFV 1");
	}
	host_close(&h);
	/* A digest flag on the ICReq. */
	if (mal_open(&h, false, false, false)) {
		n = nvme_tcp_build_icreq(p, 0, false, false, 0);
		p[1] = NVME_TCP_F_HDGST;
		host_send(&h, p, n);
		host_expect_term(&h, NVME_TCP_FES_INVALID_HEADER_FIELD, 1, p, n, "ICReq with HDGSTF");
	}
	host_close(&h);
	/* A command before the ICReq. */
	if (mal_open(&h, false, false, false)) {
		sqe_init(&s, NVME_OPC_FLUSH, 1, false, 0);
		n = nvme_tcp_build_capsule_cmd(p, &s, 0, false, false, 0);
		host_send(&h, p, n);
		host_expect_term(&h, NVME_TCP_FES_PDU_SEQUENCE_ERROR, 0, p, n, "capsule before ICReq");
	}
	host_close(&h);
	/* A second ICReq. */
	if (mal_open(&h, true, false, false)) {
		n = nvme_tcp_build_icreq(p, 0, false, false, 0);
		host_send(&h, p, n);
		host_expect_term(&h, NVME_TCP_FES_PDU_SEQUENCE_ERROR, 0, p, n, "ICReq twice");
	}
	host_close(&h);
	/* HDGSTF set though header digests were not negotiated. */
	if (mal_open(&h, true, false, true)) {
		sqe_init(&s, NVME_OPC_FLUSH, 9, false, 0);
		n = nvme_tcp_build_capsule_cmd(p, &s, 0, true, false, 0);
		host_send(&h, p, n);
		host_expect_term(&h, NVME_TCP_FES_INVALID_HEADER_FIELD, 1, p, n, "HDGSTF mismatch");
	}
	host_close(&h);
	/* HDGSTF missing though header digests were negotiated. */
	if (mal_open(&h, true, true, true)) {
		sqe_init(&s, NVME_OPC_FLUSH, 9, false, 0);
		n = nvme_tcp_build_capsule_cmd(p, &s, 0, false, false, 0);
		host_send(&h, p, n);
		host_expect_term(&h, NVME_TCP_FES_INVALID_HEADER_FIELD, 1, p, n, "HDGSTF missing");
	}
	host_close(&h);
	/* A wrong header digest: FEI is the digest received. */
	if (mal_open(&h, true, true, true)) {
		sqe_init(&s, NVME_OPC_FLUSH, 9, false, 0);
		n = nvme_tcp_build_capsule_cmd(p, &s, 0, true, false, 0);
		p[72] ^= 0x40;
		host_send(&h, p, n);
		host_expect_term(&h, NVME_TCP_FES_HEADER_DIGEST_ERROR, nvme_get_le32(p + 72), p, n,
				 "header digest wrong");
	}
	host_close(&h);
	/* PDO pointing inside the header. */
	if (mal_open(&h, true, false, true)) {
		uint8_t d[16] = {0};

		sqe_init(&s, NVME_OPC_WRITE, 9, true, 16);
		n = nvme_tcp_build_capsule_cmd(p, &s, 16, false, false, 0);
		p[3] = 40;
		memcpy(p + n, d, 16);
		host_send(&h, p, n + 16);
		host_expect_term(&h, NVME_TCP_FES_INVALID_HEADER_FIELD, 3, p, n, "PDO inside the header");
	}
	host_close(&h);
	/* PLEN shorter than the header. */
	if (mal_open(&h, true, false, true)) {
		sqe_init(&s, NVME_OPC_FLUSH, 9, false, 0);
		n = nvme_tcp_build_capsule_cmd(p, &s, 0, false, false, 0);
		nvme_put_le32(p + 4, 60);
		host_send(&h, p, n);
		host_expect_term(&h, NVME_TCP_FES_INVALID_HEADER_FIELD, 4, p, n, "PLEN too small");
	}
	host_close(&h);
	/* In-capsule data over in_capsule_data_size. */
	if (mal_open(&h, true, false, true)) {
		static uint8_t d[2 * ICD];

		sqe_init(&s, NVME_OPC_WRITE, 9, true, 2 * ICD);
		n = nvme_tcp_build_capsule_cmd(p, &s, 2 * ICD, false, false, 0);
		host_send(&h, p, n);
		host_send(&h, d, sizeof(d));
		host_expect_term(&h, NVME_TCP_FES_DATA_LIMIT_EXCEEDED, 0, p, n, "in-capsule over limit");
	}
	host_close(&h);
	/* The admin queue takes 8 KiB in the capsule, not more. */
	if (mal_open(&h, true, false, false) && host_connect(&h, 0, 31, 0)) {
		static uint8_t d[2 * ICD + 16];

		fill(d, sizeof(d), 5);
		written_reset();
		H_CHECK_INT(host_write_icd(&h, d, 2 * ICD, false), ==, 0);
		H_CHECK(written_is(d, 2 * ICD));
		sqe_init(&s, NVME_OPC_WRITE, 9, true, 2 * ICD + 16);
		n = nvme_tcp_build_capsule_cmd(p, &s, 2 * ICD + 16, false, false, 0);
		host_send(&h, p, n);
		host_send(&h, d, sizeof(d));
		host_expect_term(&h, NVME_TCP_FES_DATA_LIMIT_EXCEEDED, 0, p, n, "admin in-capsule over 8 KiB");
	}
	host_close(&h);
	/* H2CData: wrong TTAG, wrong CCCID, out of range, over MAXH2CDATA. */
	for (int k = 0; k < 4; k++) {
		static uint8_t d[8192];
		static const char *const what[] = {"wrong ttag", "wrong cccid", "out of range",
						   "over MAXH2CDATA"};
		uint16_t fes[] = {NVME_TCP_FES_INVALID_HEADER_FIELD, NVME_TCP_FES_INVALID_HEADER_FIELD,
				  NVME_TCP_FES_DATA_OUT_OF_RANGE, NVME_TCP_FES_DATA_LIMIT_EXCEEDED};
		uint32_t fei[] = {10, 8, 0, 0};
		int ttag;

		if (!mal_open(&h, true, false, true)) {
			host_close(&h);
			continue;
		}
		sqe_init(&s, NVME_OPC_WRITE, 77, false, 8192);
		host_send_cmd(&h, &s, NULL, 0, false);
		ttag = host_recv_r2t(&h, 77, 8192);
		if (ttag >= 0) {
			uint16_t cid = k == 1 ? 78 : 77;
			uint16_t tt = (uint16_t)(k == 0 ? ttag + 1 : ttag);
			uint32_t off = k == 2 ? 4096 : 0;
			uint32_t len = k == 3 ? NVMF_TCP_MAX_H2C_DATA + 4 : 4096;

			n = nvme_tcp_build_data(p, NVME_TCP_PDU_H2C_DATA, cid, tt, off, len, 0, false,
						false, 0);
			host_send(&h, p, n);
			host_send(&h, d, 4096);
			host_expect_term(&h, fes[k], fei[k], p, n, what[k]);
		}
		host_close(&h);
	}
	/* More commands than the queue size (SQSIZE 3: four entries). */
	if (mal_open(&h, true, false, false) && host_connect(&h, 1, 3, 4)) {
		uint8_t b[5 * NVME_TCP_CMD_HLEN];

		atomic_store(&g_held_count, 0);
		for (int i = 0; i < 5; i++) {
			sqe_init(&s, OPC_HOLD, (uint16_t)(200 + i), false, 0);
			nvme_tcp_build_capsule_cmd(b + i * NVME_TCP_CMD_HLEN, &s, 0, false, false, 0);
		}
		host_send(&h, b, sizeof(b));
		host_expect_term_pdu(&h, NVME_TCP_FES_PDU_SEQUENCE_ERROR, 0, b + 4 * NVME_TCP_CMD_HLEN,
				     NVME_TCP_CMD_HLEN, "queue overrun");
		H_CHECK_INT(atomic_load(&g_held_count), ==, 4);
		fin0 = atomic_load(&g_finis);
		h_sleep_ms(50);
		/* Held at the core: the connection waits for them before it is freed. */
		H_CHECK_INT(atomic_load(&g_finis), ==, fin0);
		release_held();
		host_sees_close(&h);
	}
	host_close(&h);
	/* An H2CTermReq: the target closes without answering. */
	if (mal_open(&h, true, false, true)) {
		n = nvme_tcp_build_term_req(p, NVME_TCP_PDU_H2C_TERM_REQ, NVME_TCP_FES_PDU_SEQUENCE_ERROR,
					    0, NULL, 0);
		host_send(&h, p, n);
		host_sees_close(&h);
	}
	host_close(&h);

	/* The bystander still works. */
	host_read(&good, 12, 8192, IO_UNIT, false);
	host_flush(&good);
	host_close(&good);
out:
	tgt_down();
}

static void test_malformed(void **state)
{
	(void)state;
	H_BEGIN_TIMEOUT(120);
	run(body_malformed);
}

/* The host goes away while a command is at the core: freed only after it completes. */
static void body_close_at_core(void *arg H_UNUSED)
{
	struct host h;

	if (!tgt_up())
		goto out;
	if (host_open(&h) && host_ic(&h, false, false, 0) && host_connect(&h, 1, 31, 0)) {
		struct nvme_sqe s;
		long d0 = atomic_load(&g_disconnects);

		atomic_store(&g_held_count, 0);
		sqe_init(&s, OPC_HOLD, 5, false, 0);
		host_send_cmd(&h, &s, NULL, 0, false);
		for (int i = 0; i < 2000 && atomic_load(&g_held_count) == 0; i++)
			h_sleep_ms(1);
		H_CHECK_INT(atomic_load(&g_held_count), ==, 1);
		host_close(&h);
		for (int i = 0; i < 2000 && atomic_load(&g_disconnects) == d0; i++)
			h_sleep_ms(1);
		H_CHECK_INT(atomic_load(&g_disconnects), ==, d0 + 1);
		h_sleep_ms(20);
		H_CHECK(atomic_load(&g_finis) < atomic_load(&g_inits));
		release_held();
	}
	host_close(&h);
out:
	tgt_down();
}

static void test_close_at_core(void **state)
{
	(void)state;
	H_BEGIN();
	run(body_close_at_core);
}

/*
 * MAXR2T 0 bounds R2Ts per command, not per connection (§3.6.2.2): two
 * writes sent back to back each get their R2T before any data is sent, and
 * the data may then come in the other order.
 */
static void body_maxr2t(void *arg H_UNUSED)
{
	static uint8_t data[2][8192];
	struct host h;

	if (!tgt_up())
		goto out;
	if (host_open(&h) && host_ic(&h, false, false, 0) && host_connect(&h, 1, 31, 0)) {
		struct nvme_sqe s;
		int t1, t2;

		fill(data[0], 8192, 1);
		fill(data[1], 8192, 2);
		sqe_init(&s, NVME_OPC_WRITE, 61, false, 8192);
		host_send_cmd(&h, &s, NULL, 0, false);
		sqe_init(&s, NVME_OPC_WRITE, 62, false, 8192);
		host_send_cmd(&h, &s, NULL, 0, false);
		t1 = host_recv_r2t(&h, 61, 8192);
		t2 = host_recv_r2t(&h, 62, 8192);
		H_CHECK(t1 >= 0 && t2 >= 0 && t1 != t2);
		if (t1 >= 0 && t2 >= 0) {
			written_reset();
			host_send_h2c(&h, 62, (uint16_t)t2, 0, data[1], 8192, true, false);
			H_CHECK_INT(host_recv_resp(&h, 62), ==, 0);
			H_CHECK(written_is(data[1], 8192));
			written_reset();
			host_send_h2c(&h, 61, (uint16_t)t1, 0, data[0], 8192, true, false);
			H_CHECK_INT(host_recv_resp(&h, 61), ==, 0);
			H_CHECK(written_is(data[0], 8192));
		}
	}
	host_close(&h);
out:
	tgt_down();
}

static void test_maxr2t(void **state)
{
	(void)state;
	H_BEGIN();
	run(body_maxr2t);
}

/* HPDA 3: C2HData data starts at a 16-byte boundary (PDO 32), the padding is zero. */
static void body_hpda(void *arg H_UNUSED)
{
	uint8_t req[NVME_TCP_HDR_MAX], rsp[NVME_TCP_ICRESP_HLEN];
	static uint8_t buf[8192];
	struct host h;

	if (!tgt_up())
		goto out;
	if (host_open(&h) && host_send(&h, req, nvme_tcp_build_icreq(req, 3, false, false, 0)) &&
	    host_recv(&h, rsp, sizeof(rsp)) && host_connect(&h, 1, 31, 0)) {
		struct nvme_sqe s;
		uint32_t plen;

		sqe_init(&s, NVME_OPC_READ, 70, false, 4096);
		s.cdw10 = 8;
		host_send_cmd(&h, &s, NULL, 0, false);
		plen = host_recv_pdu(&h, buf, sizeof(buf));
		H_CHECK_INT(plen, ==, 32 + 4096);
		H_CHECK_INT(buf[3], ==, 32);
		for (int i = 24; i < 32; i++)
			H_CHECK_INT(buf[i], ==, 0);
		for (uint32_t i = 0; i < 4096; i++)
			if (buf[32 + i] != pattern(8, i)) {
				H_FAIL("data at %u", i);
				break;
			}
		H_CHECK_INT(host_recv_resp(&h, 70), ==, 0);
	}
	host_close(&h);
out:
	tgt_down();
}

static void test_hpda(void **state)
{
	(void)state;
	H_BEGIN();
	run(body_hpda);
}

/* A valid session with a few bytes flipped, many times: every connection ends
 * (TermReq, error status or plain close after our FIN) and the target keeps
 * serving a bystander. */
static void body_mutations(void *arg H_UNUSED)
{
	static uint8_t stream[4096];
	struct host good, h;
	unsigned int seed = 12345;
	int rounds = (int)h_scaled(300, 30);

	if (!tgt_up())
		goto out;
	atomic_store(&g_hold_off, true);
	if (!mal_open(&good, true, true, true))
		goto out;
	for (int r = 0; r < rounds && h_failures() == 0; r++) {
		struct nvme_sqe s;
		uint8_t data[1024];
		size_t n = 0;
		int flips = 1 + rand_r(&seed) % 3;

		for (unsigned i = 0; i < sizeof(data); i++)
			data[i] = (uint8_t)(i ^ 0x5a);
		n += nvme_tcp_build_icreq(stream, 0, r & 1, r & 2, 0);
		sqe_init(&s, NVME_OPC_FABRICS, 1, true, sizeof(data));
		((uint8_t *)&s)[4] = NVME_FCTYPE_CONNECT;
		nvme_put_le16((uint8_t *)&s + 44, 31);
		n += nvme_tcp_build_capsule_cmd(stream + n, &s, sizeof(data), r & 1, r & 2, 0);
		memcpy(stream + n, data, sizeof(data));
		n += sizeof(data);
		if (r & 2) {
			nvme_put_le32(stream + n, nvme_crc32c(data, sizeof(data)));
			n += 4;
		}
		sqe_init(&s, NVME_OPC_READ, 2, false, 4096);
		n += nvme_tcp_build_capsule_cmd(stream + n, &s, 0, r & 1, r & 2, 0);
		sqe_init(&s, NVME_OPC_WRITE, 3, false, 8192);
		n += nvme_tcp_build_capsule_cmd(stream + n, &s, 0, r & 1, r & 2, 0);
		{
			size_t hl = nvme_tcp_build_data(stream + n, NVME_TCP_PDU_H2C_DATA, 3, 0, 0, 512,
							0, r & 1, r & 2, 0);

			n += hl;
			memset(stream + n, 0x33, 512);
			n += 512;
			if (r & 2) {
				nvme_put_le32(stream + n, nvme_crc32c(stream + n - 512, 512));
				n += 4;
			}
		}
		for (int f = 0; f < flips; f++)
			stream[rand_r(&seed) % n] ^= (uint8_t)(1u << (rand_r(&seed) % 8));
		if (!host_open(&h))
			break;
		host_send(&h, stream, n);
		shutdown(h.fd, SHUT_WR);
		for (;;) {	/* the target must end it: EOF or reset, never a hang */
			ssize_t k = recv(h.fd, stream, sizeof(stream), 0);

			if (k == 0 || (k < 0 && errno == ECONNRESET))
				break;
			if (k < 0) {
				H_FAIL("round %d: the target neither answered nor closed: %s", r,
				       strerror(errno));
				break;
			}
		}
		host_close(&h);
	}
	host_read(&good, 3, 4096, IO_UNIT, false);
	host_close(&good);
out:
	atomic_store(&g_hold_off, false);
	tgt_down();
}

static void test_mutations(void **state)
{
	(void)state;
	H_BEGIN_TIMEOUT(180);
	run(body_mutations);
}

/* A host that sends far more reads than the pool holds without reading the
 * answers (its receive window is tiny): the target stops taking commands
 * when its pool is empty and resumes as responses leave; every answer
 * arrives intact and in order. */
static void body_backpressure(void *arg H_UNUSED)
{
	enum { NCMD = 400 };
	static uint8_t cmds[NCMD * NVME_TCP_CMD_HLEN];
	struct host h;

	if (!tgt_up())
		goto out;
	g_host_rcvbuf = 16384;
	if (host_open(&h) && host_ic(&h, false, false, 0) && host_connect(&h, 1, 127, 0)) {
		for (int i = 0; i < NCMD; i++) {
			struct nvme_sqe s;

			sqe_init(&s, NVME_OPC_READ, (uint16_t)(1000 + i), false, MAX_IO);
			s.cdw10 = (uint32_t)i;
			nvme_tcp_build_capsule_cmd(cmds + i * NVME_TCP_CMD_HLEN, &s, 0, false, false, 0);
		}
		host_send(&h, cmds, sizeof(cmds));
		h_sleep_ms(200);	/* let the target fill its pool and stall */
		for (int i = 0; i < NCMD && h_failures() == 0; i++)
			host_read_answer(&h, (uint16_t)(1000 + i), (uint32_t)i, MAX_IO, IO_UNIT, false);
		host_flush(&h);
	}
	g_host_rcvbuf = 0;
	host_close(&h);
out:
	tgt_down();
}

static void test_backpressure(void **state)
{
	(void)state;
	H_BEGIN();
	run(body_backpressure);
}

/* The same on io_uring socket groups (the poll groups' and the acceptor's). */
static void test_uring_io(void **state)
{
	(void)state;
	H_BEGIN();
	if (reactor_sock_set_default_impl("uring") != 0)
		H_SKIP("built without liburing");
	run(body_io);
	run(body_malformed);
	run(body_mutations);
	run(body_backpressure);
	reactor_sock_set_default_impl("epoll");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_icresp),	 H_TEST(test_icreq_timeout),	 H_TEST(test_io),	   H_TEST(test_pipeline),
		H_TEST(test_c2h_success), H_TEST(test_no_c2h_success), H_TEST(test_ddgst_error), H_TEST(test_bad_sgl),
		H_TEST(test_malformed),	 H_TEST(test_close_at_core), H_TEST(test_maxr2t),
		H_TEST(test_hpda),	 H_TEST(test_mutations), H_TEST(test_backpressure),
		H_TEST(test_uring_io),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
