/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Queue pairs, requests and controllers: the request dispatch, the Fabrics
 * commands (Connect, Property Get/Set, Disconnect), controller lifetime,
 * keep-alive, controller reset and shutdown, error log entries.
 */
#include "nvmf.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CTRLR_RESET_POLL_US 1000
#define ERR_MSGS_MAX 8
/* CAP.TO in 500 ms units: how long a host waits for CSTS.RDY (7.5 s, as Linux). */
#define CTRLR_CAP_TO 15u
/* CC fields (Base 2.0 Figure 41). */
#define CC_CSS(cc) (((cc) >> 4) & 0x7u)
#define CC_MPS(cc) (((cc) >> 7) & 0xfu)
#define CC_AMS(cc) (((cc) >> 11) & 0x7u)
#define CC_SHN(cc) (((cc) >> 14) & 0x3u)
#define CC_IOSQES(cc) (((cc) >> 16) & 0xfu)
#define CC_IOCQES(cc) (((cc) >> 20) & 0xfu)
#define CSTS_SHST_PROCESSING (1u << NVME_CSTS_SHST_SHIFT)
#define CONNECT_CATTR_DISABLE_SQ_FC (1u << 2)

/* ---- request data ----------------------------------------------------------- */

/* Copy up to @p len bytes between @p buf and the request's data, in the direction @p to_data says. */
static size_t request_copy_data(const struct nvmf_request *req, void *buf, size_t len, bool to_data)
{
	size_t done = 0;
	int i;

	if (len > req->length)
		len = req->length;
	for (i = 0; i < req->iovcnt && done < len; i++) {
		size_t n = req->iov[i].iov_len < len - done ? req->iov[i].iov_len : len - done;

		if (to_data)
			memcpy(req->iov[i].iov_base, (char *)buf + done, n);
		else
			memcpy((char *)buf + done, req->iov[i].iov_base, n);
		done += n;
	}
	return done;
}

size_t nvmf_request_copy_from_data(const struct nvmf_request *req, void *buf, size_t len)
{
	return request_copy_data(req, buf, len, false);
}

size_t nvmf_request_copy_to_data(struct nvmf_request *req, const void *buf, size_t len)
{
	/* buf is only read when copying to the request's data. */
	return request_copy_data(req, (void *)buf, len, true);
}

/* ---- controllers: references, messages, destroy ------------------------------ */

void nvmf_ctrlr_get(struct nvmf_ctrlr *ctrlr)
{
	atomic_fetch_add_explicit(&ctrlr->refs, 1, memory_order_relaxed);
}

void nvmf_ctrlr_put(struct nvmf_ctrlr *ctrlr)
{
	struct nvmf_subsystem *s = ctrlr->subsystem;

	if (atomic_fetch_sub_explicit(&ctrlr->refs, 1, memory_order_acq_rel) != 1)
		return;
	/* Last reference: the admin queue is gone, so destroying is set and
	 * no I/O Connect can find it any more. */
	pthread_mutex_lock(&s->ctrlr_lock);
	TAILQ_REMOVE(&s->ctrlrs, ctrlr, link);
	pthread_mutex_unlock(&s->ctrlr_lock);
	free(ctrlr->io_qpairs);
	free(ctrlr);
}

struct ctrlr_msg {
	struct nvmf_ctrlr *ctrlr;
	void (*fn)(struct nvmf_ctrlr *ctrlr, uintptr_t arg);
	uintptr_t arg;
};

static void ctrlr_msg_run(void *arg)
{
	struct ctrlr_msg *m = arg;

	if (!m->ctrlr->destroying)
		m->fn(m->ctrlr, m->arg);
	nvmf_ctrlr_put(m->ctrlr);
	free(m);
}

/* Send fn to the controller's thread; the caller already holds a reference for it. */
static void ctrlr_send(struct nvmf_ctrlr *ctrlr, void (*fn)(struct nvmf_ctrlr *ctrlr, uintptr_t arg),
		       uintptr_t arg)
{
	struct ctrlr_msg *m = calloc(1, sizeof(*m));
	int rc = -ENOMEM;

	if (m) {
		m->ctrlr = ctrlr;
		m->fn = fn;
		m->arg = arg;
		rc = nvmf_send_msg(ctrlr->thread, ctrlr_msg_run, m);
	}
	if (rc) {
		REACTOR_ERRLOG("controller %u: cannot send it a message: %s", ctrlr->cntlid, strerror(-rc));
		free(m);
		nvmf_ctrlr_put(ctrlr);
	}
}

struct nvmf_ctrlr **nvmf_subsystem_get_ctrlrs(struct nvmf_subsystem *s,
					      bool (*match)(const struct nvmf_ctrlr *ctrlr, const void *arg),
					      const void *arg, size_t *count)
{
	struct nvmf_ctrlr *ctrlr, **list = NULL;
	size_t n = 0, cap = 0;

	pthread_mutex_lock(&s->ctrlr_lock);
	TAILQ_FOREACH(ctrlr, &s->ctrlrs, link) {
		if (ctrlr->destroying || (match && !match(ctrlr, arg)))
			continue;
		if (n == cap) {
			struct nvmf_ctrlr **l = realloc(list, (cap ? cap * 2 : 8) * sizeof(*list));

			if (!l)
				break;
			list = l;
			cap = cap ? cap * 2 : 8;
		}
		nvmf_ctrlr_get(ctrlr);
		list[n++] = ctrlr;
	}
	pthread_mutex_unlock(&s->ctrlr_lock);
	*count = n;
	return list;
}

void nvmf_subsystem_foreach_ctrlr(struct nvmf_subsystem *s,
				  void (*fn)(struct nvmf_ctrlr *ctrlr, uintptr_t arg), uintptr_t arg)
{
	size_t n, i;
	struct nvmf_ctrlr **list = nvmf_subsystem_get_ctrlrs(s, NULL, NULL, &n);

	/* Sent outside the lock: a failed send drops the reference, maybe the last. */
	for (i = 0; i < n; i++)
		ctrlr_send(list[i], fn, arg);
	free(list);
}

static void ctrlr_note_ns_changed(struct nvmf_ctrlr *ctrlr, uintptr_t nsid)
{
	nvmf_ctrlr_note_ns_changed(ctrlr, (uint32_t)nsid);
}

void nvmf_ctrlr_ns_changed(struct nvmf_ctrlr *ctrlr, uint32_t nsid)
{
	nvmf_ctrlr_get(ctrlr);
	ctrlr_send(ctrlr, ctrlr_note_ns_changed, nsid);
}

/* On an I/O queue's thread: disconnect it if it is still this controller's. */
static void io_qpair_disconnect_msg(void *arg)
{
	struct ctrlr_msg *m = arg;
	struct nvmf_ctrlr *ctrlr = m->ctrlr;
	struct nvmf_qpair *qpair;

	pthread_mutex_lock(&ctrlr->subsystem->ctrlr_lock);
	qpair = ctrlr->io_qpairs[m->arg];
	if (qpair && qpair->pg->thread != reactor_get_thread())
		qpair = NULL;
	pthread_mutex_unlock(&ctrlr->subsystem->ctrlr_lock);
	/* Still alive: a qpair is freed only on its own thread, after it left io_qpairs. */
	if (qpair)
		qpair->transport->ops->qpair_disconnect(qpair);
	nvmf_ctrlr_put(ctrlr);
	free(m);
}

/* Owner thread: ask every I/O queue of the controller to disconnect. */
static void ctrlr_disconnect_io_qpairs(struct nvmf_ctrlr *ctrlr)
{
	struct reactor_thread **threads = calloc(ctrlr->max_qpairs, sizeof(*threads));
	uint16_t qid;

	if (!threads) {
		REACTOR_ERRLOG("controller %u: out of memory disconnecting its I/O queues", ctrlr->cntlid);
		return;
	}
	pthread_mutex_lock(&ctrlr->subsystem->ctrlr_lock);
	for (qid = 1; qid < ctrlr->max_qpairs; qid++) {
		if (ctrlr->io_qpairs[qid])
			threads[qid] = ctrlr->io_qpairs[qid]->pg->thread;
	}
	pthread_mutex_unlock(&ctrlr->subsystem->ctrlr_lock);
	for (qid = 1; qid < ctrlr->max_qpairs; qid++) {
		struct ctrlr_msg *m;
		int rc = -ENOMEM;

		if (!threads[qid])
			continue;
		m = calloc(1, sizeof(*m));
		nvmf_ctrlr_get(ctrlr);
		if (m) {
			m->ctrlr = ctrlr;
			m->arg = qid;
			rc = nvmf_send_msg(threads[qid], io_qpair_disconnect_msg, m);
		}
		if (rc) {
			REACTOR_ERRLOG("controller %u: cannot disconnect I/O queue %u: %s", ctrlr->cntlid, qid,
				       strerror(-rc));
			free(m);
			nvmf_ctrlr_put(ctrlr);
		}
	}
	free(threads);
}

void nvmf_ctrlr_destroy(struct nvmf_ctrlr *ctrlr, const char *why)
{
	pthread_mutex_lock(&ctrlr->subsystem->ctrlr_lock);
	if (ctrlr->destroying) {
		pthread_mutex_unlock(&ctrlr->subsystem->ctrlr_lock);
		return;
	}
	ctrlr->destroying = true;
	pthread_mutex_unlock(&ctrlr->subsystem->ctrlr_lock);
	REACTOR_NOTICELOG("controller %u of subsystem %s (host %s): destroyed: %s", ctrlr->cntlid,
			  ctrlr->subsystem->nqn, ctrlr->hostnqn, why);
	reactor_poller_unregister(&ctrlr->keep_alive_poller);
	reactor_poller_unregister(&ctrlr->reset_poller);
	ctrlr_disconnect_io_qpairs(ctrlr);
	if (ctrlr->admin_qpair)
		ctrlr->admin_qpair->transport->ops->qpair_disconnect(ctrlr->admin_qpair);
}

static void ctrlr_destroy_msg(struct nvmf_ctrlr *ctrlr, uintptr_t why)
{
	nvmf_ctrlr_destroy(ctrlr, (const char *)why);
}

void nvmf_ctrlr_destroy_async(struct nvmf_ctrlr *ctrlr, const char *why)
{
	nvmf_ctrlr_get(ctrlr);
	ctrlr_send(ctrlr, ctrlr_destroy_msg, (uintptr_t)why);
}

/* ---- keep alive ---------------------------------------------------------------- */

static int keep_alive_poll(void *arg)
{
	struct nvmf_ctrlr *ctrlr = arg;
	uint64_t last = atomic_load_explicit(&ctrlr->last_activity_ticks, memory_order_relaxed);
	uint64_t now = reactor_get_ticks();
	uint64_t limit = (uint64_t)ctrlr->kato_ms * reactor_get_ticks_hz() / 1000;
	char why[96];

	if (now < last || now - last <= limit)
		return REACTOR_POLLER_IDLE;
	snprintf(why, sizeof(why), "keep alive timeout (%u ms without a command)", ctrlr->kato_ms);
	nvmf_ctrlr_destroy(ctrlr, why);
	return REACTOR_POLLER_BUSY;
}

void nvmf_ctrlr_set_keep_alive(struct nvmf_ctrlr *ctrlr, uint32_t kato_ms)
{
	uint64_t period_us;

	reactor_poller_unregister(&ctrlr->keep_alive_poller);
	ctrlr->kato_ms = kato_ms;
	if (!kato_ms || ctrlr->destroying)
		return;
	atomic_store_explicit(&ctrlr->last_activity_ticks, reactor_get_ticks(), memory_order_relaxed);
	/* Checked four times per period: expiry is noticed within KATO + KATO/4. */
	period_us = (uint64_t)kato_ms * 1000 / 4;
	if (period_us < 1000)
		period_us = 1000;
	ctrlr->keep_alive_poller = reactor_poller_register_named(keep_alive_poll, ctrlr, period_us,
								 "nvmf_keep_alive");
	if (!ctrlr->keep_alive_poller)
		REACTOR_ERRLOG("controller %u: cannot start its keep-alive timer: %s", ctrlr->cntlid,
			       strerror(errno));
}

/* ---- error log ------------------------------------------------------------------- */

void nvmf_ctrlr_log_error(struct nvmf_ctrlr *ctrlr, const struct nvmf_request *req)
{
	struct nvme_error_log_entry *e = &ctrlr->err_log[ctrlr->err_log_next];
	uint64_t count = atomic_fetch_add(&ctrlr->num_err_log_entries, 1) + 1;

	ctrlr->err_log_next = (ctrlr->err_log_next + 1) % (uint32_t)(sizeof(ctrlr->err_log) / sizeof(ctrlr->err_log[0]));
	memset(e, 0, sizeof(*e));
	e->error_count = count;
	e->sqid = req->qpair->qid;
	e->cid = req->cmd.cid;
	e->status = req->rsp.status;
	e->error_location = 0xffff;
	e->nsid = req->cmd.nsid;
	if (req->qpair->qid && (req->cmd.opc == NVME_OPC_READ || req->cmd.opc == NVME_OPC_WRITE ||
				req->cmd.opc == NVME_OPC_COMPARE || req->cmd.opc == NVME_OPC_WRITE_ZEROES))
		e->lba = (uint64_t)req->cmd.cdw10 | ((uint64_t)req->cmd.cdw11 << 32);
	e->trtype = req->qpair->transport ? req->qpair->transport->ops->trtype : 0;
}

struct error_msg {
	struct nvmf_ctrlr *ctrlr;
	struct nvmf_request req;	/* a copy: the original is reused at once */
	struct nvmf_qpair qpair;
};

static void error_msg_run(void *arg)
{
	struct error_msg *m = arg;

	m->req.qpair = &m->qpair;
	if (!m->ctrlr->destroying)
		nvmf_ctrlr_log_error(m->ctrlr, &m->req);
	atomic_fetch_sub(&m->ctrlr->err_msgs_inflight, 1);
	nvmf_ctrlr_put(m->ctrlr);
	free(m);
}

static void record_error(struct nvmf_request *req)
{
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;
	struct error_msg *m;

	if (req->qpair->qid == 0) {
		nvmf_ctrlr_log_error(ctrlr, req);
		return;
	}
	/* A host failing I/O at full speed must not flood the admin thread:
	 * past a few entries in flight, only the count goes up. */
	if (atomic_fetch_add(&ctrlr->err_msgs_inflight, 1) >= ERR_MSGS_MAX ||
	    !(m = malloc(sizeof(*m)))) {
		atomic_fetch_sub(&ctrlr->err_msgs_inflight, 1);
		atomic_fetch_add(&ctrlr->num_err_log_entries, 1);
		return;
	}
	m->ctrlr = ctrlr;
	m->req.cmd = req->cmd;
	m->req.rsp = req->rsp;
	m->qpair.qid = req->qpair->qid;
	m->qpair.transport = req->qpair->transport;
	nvmf_ctrlr_get(ctrlr);
	if (reactor_thread_send_msg(ctrlr->thread, error_msg_run, m)) {
		atomic_fetch_sub(&ctrlr->err_msgs_inflight, 1);
		nvmf_ctrlr_put(ctrlr);
		free(m);
	}
}

/* ---- queue pairs -------------------------------------------------------------------- */

void nvmf_qpair_init(struct nvmf_qpair *qpair, struct nvmf_transport *transport,
		     struct nvmf_poll_group *pg, const struct nvmf_listen_addr *listen_addr,
		     const char *peer_addr, uint16_t peer_port)
{
	qpair->transport = transport;
	qpair->pg = pg;
	qpair->ctrlr = NULL;
	qpair->state = NVMF_QPAIR_CONNECTING;
	qpair->qid = 0;
	qpair->sq_depth = 0;
	qpair->sq_head = 0;
	qpair->sq_flow_control_disabled = false;
	qpair->outstanding = 0;
	qpair->fused_first = NULL;
	if (listen_addr)
		qpair->listen_addr = *listen_addr;
	else
		memset(&qpair->listen_addr, 0, sizeof(qpair->listen_addr));
	snprintf(qpair->peer_addr, sizeof(qpair->peer_addr), "%s", peer_addr ? peer_addr : "");
	qpair->peer_port = peer_port;
	TAILQ_INSERT_TAIL(&pg->qpairs, qpair, link);
}

void nvmf_qpair_disconnected(struct nvmf_qpair *qpair)
{
	struct nvmf_ctrlr *ctrlr = qpair->ctrlr;
	struct nvmf_request *first = qpair->fused_first;
	bool was_active = qpair->state == NVMF_QPAIR_ACTIVE;

	if (qpair->state == NVMF_QPAIR_DISCONNECTING)
		return;
	qpair->state = NVMF_QPAIR_DISCONNECTING;
	if (first) {
		qpair->fused_first = NULL;
		nvmf_request_complete_status(first, nvme_status(NVME_SCT_GENERIC, NVME_SC_ABORTED_SQ_DELETION, 0));
	}
	if (!ctrlr)
		return;
	if (qpair->qid == 0) {
		if (was_active)
			qpair->pg->current_admin_qpairs--;
		nvmf_ctrlr_abort_aers(ctrlr);
		/* Already closing: destroy must not ask the transport again. */
		ctrlr->admin_qpair = NULL;
		nvmf_ctrlr_destroy(ctrlr, "admin queue disconnected");
	} else {
		if (was_active)
			qpair->pg->current_io_qpairs--;
		pthread_mutex_lock(&ctrlr->subsystem->ctrlr_lock);
		if (ctrlr->io_qpairs[qpair->qid] == qpair) {
			ctrlr->io_qpairs[qpair->qid] = NULL;
			atomic_fetch_sub(&ctrlr->num_io_qpairs, 1);
		}
		pthread_mutex_unlock(&ctrlr->subsystem->ctrlr_lock);
	}
}

void nvmf_qpair_fini(struct nvmf_qpair *qpair)
{
	struct nvmf_ctrlr *ctrlr;

	nvmf_qpair_disconnected(qpair);
	ctrlr = qpair->ctrlr;
	qpair->ctrlr = NULL;
	TAILQ_REMOVE(&qpair->pg->qpairs, qpair, link);
	if (ctrlr)
		nvmf_ctrlr_put(ctrlr);
}

static void qpair_disconnect_msg(void *arg)
{
	struct nvmf_qpair *qpair = arg;

	qpair->transport->ops->qpair_disconnect(qpair);
}

void nvmf_qpair_disconnect_async(struct nvmf_qpair *qpair)
{
	if (reactor_get_thread() == qpair->pg->thread) {
		qpair->transport->ops->qpair_disconnect(qpair);
		return;
	}
	/* The caller keeps the qpair alive until the message ran (its
	 * poll group is draining, or it holds the connection). */
	if (nvmf_send_msg(qpair->pg->thread, qpair_disconnect_msg, qpair))
		REACTOR_ERRLOG("cannot ask queue %u to disconnect", qpair->qid);
}

/* ---- requests ---------------------------------------------------------------------- */

/* Traffic-based keep alive: any command counts. Written at most once a
 * millisecond, so queues on several cores do not fight over the line. */
static inline void note_activity(struct nvmf_ctrlr *ctrlr)
{
	uint64_t now = reactor_get_ticks();
	uint64_t last = atomic_load_explicit(&ctrlr->last_activity_ticks, memory_order_relaxed);

	if (now > last && now - last >= reactor_get_ticks_hz() / 1000)
		atomic_store_explicit(&ctrlr->last_activity_ticks, now, memory_order_relaxed);
}

void nvmf_request_exec(struct nvmf_request *req)
{
	struct nvmf_qpair *qpair = req->qpair;
	struct nvmf_ctrlr *ctrlr = qpair->ctrlr;

	qpair->outstanding++;
	memset(&req->rsp, 0, sizeof(req->rsp));
	req->ns = NULL;
	req->ns_ch = NULL;
	req->fused_peer = NULL;
	req->start_ticks = 0;
	if (qpair->state == NVMF_QPAIR_DISCONNECTING) {
		nvmf_request_complete_status(req, nvme_status(NVME_SCT_GENERIC, NVME_SC_ABORTED_SQ_DELETION, 0));
		return;
	}
	if (req->cmd.opc == NVME_OPC_FABRICS) {
		nvmf_fabrics_exec(req);
		return;
	}
	if (!ctrlr) {
		REACTOR_ERRLOG("%s:%u: command 0x%02x before Connect", qpair->peer_addr, qpair->peer_port,
			       req->cmd.opc);
		nvmf_request_complete_status(req, nvme_status(NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR, 1));
		return;
	}
	note_activity(ctrlr);
	if (qpair->qid == 0) {
		/* Linux nvmet: admin commands need an enabled, ready controller
		 * (a discovery controller answers regardless). */
		if (ctrlr->subsystem->subtype == NVMF_SUBTYPE_NVME && !(ctrlr->csts & NVME_CSTS_RDY)) {
			nvmf_request_complete_status(req,
				nvme_status(NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR, 1));
			return;
		}
		nvmf_admin_exec(req);
		return;
	}
	nvmf_io_exec(req);
}

void nvmf_qpair_fill_cqe(struct nvmf_qpair *qpair, struct nvmf_request *req)
{
	req->rsp.cid = req->cmd.cid;
	req->rsp.sqid = qpair->qid;
	if (qpair->sq_flow_control_disabled) {
		/* TP 8005: FFFFh says SQHD is not maintained. */
		req->rsp.sqhd = 0xffff;
	} else if (qpair->sq_depth) {
		qpair->sq_head = (uint16_t)((qpair->sq_head + 1) % qpair->sq_depth);
		req->rsp.sqhd = qpair->sq_head;
	}
}

void nvmf_request_complete(struct nvmf_request *req)
{
	struct nvmf_qpair *qpair = req->qpair;

	nvmf_qpair_fill_cqe(qpair, req);
	if (req->rsp.status && qpair->ctrlr &&
	    nvme_status_sc(req->rsp.status) != NVME_SC_ABORTED_SQ_DELETION)
		record_error(req);
	if (qpair->qid)
		qpair->pg->completed_nvme_io++;
	qpair->outstanding--;
	qpair->transport->ops->req_complete(req);
}

void nvmf_request_complete_status(struct nvmf_request *req, uint16_t status)
{
	req->rsp.status = status;
	nvmf_request_complete(req);
}

/* ---- Connect ------------------------------------------------------------------------ */

/* Connect Invalid Parameters: DW0 names the bad field (Base 2.0 Figure 555). */
static void connect_invalid_param(struct nvmf_request *req, bool in_data, uint16_t offset)
{
	req->rsp.cdw0 = ((in_data ? NVME_CONNECT_IATTR_DATA : 0u) << 16) | offset;
	nvmf_request_complete_status(req, nvme_status(NVME_SCT_COMMAND_SPECIFIC,
						      NVME_SC_CONNECT_INVALID_PARAMETERS, 1));
}

#define SQE_OFFSET(field) ((uint16_t)offsetof(struct nvme_connect_cmd, field))
#define DATA_OFFSET(field) ((uint16_t)offsetof(struct nvme_connect_data, field))

static uint64_t ctrlr_cap(const struct nvmf_transport *t)
{
	uint64_t cap = 0;

	cap |= (uint64_t)(t->opts.max_queue_depth - 1) & 0xffff;	/* MQES */
	cap |= 1ull << 16;						/* CQR */
	cap |= (uint64_t)CTRLR_CAP_TO << 24;				/* TO */
	cap |= 1ull << 37;						/* CSS: NVM */
	return cap;
}

static uint16_t alloc_cntlid(struct nvmf_subsystem *s)
{
	uint32_t span = (uint32_t)s->max_cntlid - s->min_cntlid + 1, i;

	for (i = 0; i < span; i++) {
		uint16_t id = s->next_cntlid;
		struct nvmf_ctrlr *c;
		bool used = false;

		s->next_cntlid = id >= s->max_cntlid ? s->min_cntlid : (uint16_t)(id + 1);
		if (id < s->min_cntlid || id > s->max_cntlid)
			continue;
		TAILQ_FOREACH(c, &s->ctrlrs, link) {
			if (c->cntlid == id) {
				used = true;
				break;
			}
		}
		if (!used)
			return id;
	}
	return 0;
}

static void connect_admin(struct nvmf_request *req, struct nvmf_subsystem *s,
			  const struct nvme_connect_data *data, uint32_t kato)
{
	struct nvmf_qpair *qpair = req->qpair;
	struct nvmf_ctrlr *ctrlr;

	if (data->cntlid != NVME_CNTLID_DYNAMIC) {
		REACTOR_ERRLOG("Connect from %s: admin queue asks for CNTLID 0x%x; the controller model is "
			       "dynamic (FFFFh)", data->hostnqn, data->cntlid);
		connect_invalid_param(req, true, DATA_OFFSET(cntlid));
		return;
	}
	ctrlr = calloc(1, sizeof(*ctrlr));
	if (ctrlr)
		ctrlr->io_qpairs = calloc(qpair->transport->opts.max_qpairs_per_ctrlr + 1u,
					  sizeof(*ctrlr->io_qpairs));
	if (!ctrlr || !ctrlr->io_qpairs) {
		if (ctrlr)
			free(ctrlr);
		nvmf_request_complete_status(req, nvme_status(NVME_SCT_GENERIC, NVME_SC_INTERNAL_ERROR, 0));
		return;
	}
	ctrlr->subsystem = s;
	memcpy(ctrlr->hostid, data->hostid, sizeof(ctrlr->hostid));
	snprintf(ctrlr->hostnqn, sizeof(ctrlr->hostnqn), "%s", data->hostnqn);
	ctrlr->admin_qpair = qpair;
	ctrlr->listen_addr = qpair->listen_addr;
	ctrlr->thread = reactor_get_thread();
	atomic_init(&ctrlr->refs, 1);
	atomic_init(&ctrlr->num_io_qpairs, 0);
	ctrlr->max_qpairs = qpair->transport->opts.max_qpairs_per_ctrlr;
	ctrlr->cap = ctrlr_cap(qpair->transport);
	ctrlr->vs = NVMF_VS;
	ctrlr->num_io_queues = ctrlr->max_qpairs ? ctrlr->max_qpairs - 1u : 0;
	ctrlr->start_ticks = reactor_get_ticks();
	atomic_init(&ctrlr->last_activity_ticks, ctrlr->start_ticks);

	pthread_mutex_lock(&s->ctrlr_lock);
	if (!s->deleting)
		ctrlr->cntlid = alloc_cntlid(s);
	if (ctrlr->cntlid)
		TAILQ_INSERT_TAIL(&s->ctrlrs, ctrlr, link);
	pthread_mutex_unlock(&s->ctrlr_lock);
	if (!ctrlr->cntlid) {
		REACTOR_ERRLOG("Connect from %s to %s: no controller ID free (or the subsystem is going away)",
			       data->hostnqn, s->nqn);
		free(ctrlr->io_qpairs);
		free(ctrlr);
		nvmf_request_complete_status(req, nvme_status(NVME_SCT_COMMAND_SPECIFIC,
							      NVME_SC_CONNECT_CONTROLLER_BUSY, 1));
		return;
	}
	qpair->ctrlr = ctrlr;
	qpair->state = NVMF_QPAIR_ACTIVE;
	qpair->pg->admin_qpairs++;
	qpair->pg->current_admin_qpairs++;
	if (!kato && s->subtype == NVMF_SUBTYPE_DISCOVERY)
		kato = NVMF_DISC_KATO_MS;
	/* Rounded up to the granularity Identify reports (Linux: whole seconds). */
	if (kato > UINT32_MAX - NVMF_KATO_GRANULARITY_MS)
		kato = UINT32_MAX - NVMF_KATO_GRANULARITY_MS;
	kato = (kato + NVMF_KATO_GRANULARITY_MS - 1) / NVMF_KATO_GRANULARITY_MS * NVMF_KATO_GRANULARITY_MS;
	nvmf_ctrlr_set_keep_alive(ctrlr, kato);
	REACTOR_NOTICELOG("controller %u of subsystem %s: host %s connected from %s:%u (KATO %u ms)",
			  ctrlr->cntlid, s->nqn, ctrlr->hostnqn, qpair->peer_addr, qpair->peer_port, kato);
	req->rsp.cdw0 = ctrlr->cntlid;
	nvmf_request_complete(req);
}

static void connect_io(struct nvmf_request *req, struct nvmf_subsystem *s, const struct nvme_connect_data *data,
		       uint16_t qid)
{
	struct nvmf_qpair *qpair = req->qpair;
	struct nvmf_ctrlr *ctrlr;
	uint16_t status = 0, ipo = 0;
	bool in_data = false;
	const char *why = NULL;

	pthread_mutex_lock(&s->ctrlr_lock);
	TAILQ_FOREACH(ctrlr, &s->ctrlrs, link) {
		if (ctrlr->cntlid == data->cntlid && !ctrlr->destroying)
			break;
	}
	if (!ctrlr) {
		why = "no such controller";
		in_data = true;
		ipo = DATA_OFFSET(cntlid);
	} else if (strcmp(ctrlr->hostnqn, data->hostnqn) != 0) {
		why = "the controller belongs to another host NQN";
		in_data = true;
		ipo = DATA_OFFSET(hostnqn);
	} else if (memcmp(ctrlr->hostid, data->hostid, sizeof(ctrlr->hostid)) != 0) {
		why = "the host identifier differs from the admin queue's";
		in_data = true;
		ipo = DATA_OFFSET(hostid);
	} else if (!(ctrlr->cc & NVME_CC_EN) || !(ctrlr->csts & NVME_CSTS_RDY)) {
		why = "the controller is not enabled (CC.EN / CSTS.RDY)";
		ipo = SQE_OFFSET(qid);
	} else if (qid >= ctrlr->max_qpairs ||
		   qid > __atomic_load_n(&ctrlr->num_io_queues, __ATOMIC_RELAXED)) {
		why = "queue ID above the number of queues granted";
		status = nvme_status(NVME_SCT_COMMAND_SPECIFIC, NVME_SC_INVALID_QUEUE_IDENTIFIER, 1);
	} else if (ctrlr->io_qpairs[qid]) {
		why = "queue ID already connected";
		status = nvme_status(NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR, 1);
	} else {
		nvmf_ctrlr_get(ctrlr);
		ctrlr->io_qpairs[qid] = qpair;
		atomic_fetch_add(&ctrlr->num_io_qpairs, 1);
	}
	pthread_mutex_unlock(&s->ctrlr_lock);
	if (why) {
		REACTOR_ERRLOG("I/O queue %u Connect from %s to %s controller %u: %s", qid, data->hostnqn,
			       s->nqn, data->cntlid, why);
		if (status) {
			req->rsp.cdw0 = SQE_OFFSET(qid);
			nvmf_request_complete_status(req, status);
		} else {
			connect_invalid_param(req, in_data, ipo);
		}
		return;
	}
	qpair->ctrlr = ctrlr;
	qpair->state = NVMF_QPAIR_ACTIVE;
	qpair->pg->io_qpairs++;
	qpair->pg->current_io_qpairs++;
	req->rsp.cdw0 = ctrlr->cntlid;
	nvmf_request_complete(req);
}

static void fabrics_connect(struct nvmf_request *req)
{
	const struct nvme_connect_cmd *cmd = (const struct nvme_connect_cmd *)&req->cmd;
	struct nvmf_qpair *qpair = req->qpair;
	const struct nvmf_transport_opts *opts = &qpair->transport->opts;
	struct nvme_connect_data data;
	struct nvmf_subsystem *s;
	uint16_t qid = cmd->qid, sqsize = cmd->sqsize;
	bool host_ok, stopping;

	if (qpair->state != NVMF_QPAIR_CONNECTING) {
		nvmf_request_complete_status(req, nvme_status(NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR, 1));
		return;
	}
	if (cmd->recfmt != 0) {
		REACTOR_ERRLOG("Connect from %s:%u: record format %u (only 0)", qpair->peer_addr, qpair->peer_port,
			       cmd->recfmt);
		nvmf_request_complete_status(req, nvme_status(NVME_SCT_COMMAND_SPECIFIC,
							      NVME_SC_CONNECT_INCOMPATIBLE_FORMAT, 1));
		return;
	}
	if (req->length < sizeof(data) ||
	    nvmf_request_copy_from_data(req, &data, sizeof(data)) != sizeof(data)) {
		REACTOR_ERRLOG("Connect from %s:%u: %u bytes of data (1024 needed)", qpair->peer_addr,
			       qpair->peer_port, req->length);
		nvmf_request_complete_status(req, nvme_status(NVME_SCT_GENERIC, NVME_SC_DATA_SGL_LENGTH_INVALID, 1));
		return;
	}
	if (!nvme_nqn_valid(data.subnqn, sizeof(data.subnqn))) {
		REACTOR_ERRLOG("Connect from %s:%u: invalid SUBNQN", qpair->peer_addr, qpair->peer_port);
		connect_invalid_param(req, true, DATA_OFFSET(subnqn));
		return;
	}
	if (!nvme_nqn_valid(data.hostnqn, sizeof(data.hostnqn))) {
		REACTOR_ERRLOG("Connect from %s:%u: invalid HOSTNQN", qpair->peer_addr, qpair->peer_port);
		connect_invalid_param(req, true, DATA_OFFSET(hostnqn));
		return;
	}
	pthread_mutex_lock(&g_nvmf.lock);
	s = nvmf_subsystem_find(data.subnqn);
	/* The discovery subsystem answers on every listener (as Linux). */
	if (s && (s->deleting || (s->subtype == NVMF_SUBTYPE_NVME &&
				  !nvmf_subsystem_listener_allowed(s, &qpair->listen_addr))))
		s = NULL;
	host_ok = s && nvmf_subsystem_host_allowed(s, data.hostnqn);
	stopping = g_nvmf.stopping;
	pthread_mutex_unlock(&g_nvmf.lock);
	if (stopping) {
		nvmf_request_complete_status(req, nvme_status(NVME_SCT_COMMAND_SPECIFIC,
							      NVME_SC_CONNECT_CONTROLLER_BUSY, 1));
		return;
	}
	if (!s) {
		REACTOR_ERRLOG("Connect from %s (%s:%u): no subsystem %s on %s:%s", data.hostnqn, qpair->peer_addr,
			       qpair->peer_port, data.subnqn, qpair->listen_addr.traddr, qpair->listen_addr.trsvcid);
		connect_invalid_param(req, true, DATA_OFFSET(subnqn));
		return;
	}
	if (!host_ok) {
		REACTOR_ERRLOG("Connect from %s (%s:%u): host not allowed on subsystem %s", data.hostnqn,
			       qpair->peer_addr, qpair->peer_port, data.subnqn);
		req->rsp.cdw0 = (NVME_CONNECT_IATTR_DATA << 16) | DATA_OFFSET(hostnqn);
		nvmf_request_complete_status(req, nvme_status(NVME_SCT_COMMAND_SPECIFIC,
							      NVME_SC_CONNECT_INVALID_HOST, 1));
		return;
	}
	if (sqsize == 0 || (qid == 0 && sqsize >= opts->max_aq_depth) ||
	    (qid != 0 && sqsize >= opts->max_queue_depth)) {
		REACTOR_ERRLOG("Connect from %s: queue %u SQSIZE %u is out of range (1-%u)", data.hostnqn, qid,
			       sqsize, (qid ? opts->max_queue_depth : opts->max_aq_depth) - 1u);
		connect_invalid_param(req, false, SQE_OFFSET(sqsize));
		return;
	}
	if (qid != 0 && s->subtype == NVMF_SUBTYPE_DISCOVERY) {
		REACTOR_ERRLOG("Connect from %s: I/O queue %u to the discovery subsystem", data.hostnqn, qid);
		connect_invalid_param(req, false, SQE_OFFSET(qid));
		return;
	}
	qpair->qid = qid;
	qpair->sq_depth = (uint16_t)(sqsize + 1);
	qpair->sq_head = 0;
	qpair->sq_flow_control_disabled = (cmd->cattr & CONNECT_CATTR_DISABLE_SQ_FC) != 0;
	if (qid == 0)
		connect_admin(req, s, &data, cmd->kato);
	else
		connect_io(req, s, &data, qid);
}

/* ---- properties ---------------------------------------------------------------------- */

static int ctrlr_reset_poll(void *arg)
{
	struct nvmf_ctrlr *ctrlr = arg;
	uint32_t csts;

	if (atomic_load(&ctrlr->num_io_qpairs))
		return REACTOR_POLLER_IDLE;
	reactor_poller_unregister(&ctrlr->reset_poller);
	csts = ctrlr->csts;
	/* A host that enabled again without waiting keeps its RDY. */
	if (!(ctrlr->cc & NVME_CC_EN) || CC_SHN(ctrlr->cc))
		csts &= ~NVME_CSTS_RDY;
	if (CC_SHN(ctrlr->cc))
		csts = (csts & ~NVME_CSTS_SHST_MASK) | NVME_CSTS_SHST_COMPLETE;
	pthread_mutex_lock(&ctrlr->subsystem->ctrlr_lock);
	ctrlr->csts = csts;
	pthread_mutex_unlock(&ctrlr->subsystem->ctrlr_lock);
	return REACTOR_POLLER_BUSY;
}

/* CC.EN 1->0 or a shutdown: drop the I/O queues, then report done in CSTS. */
static void ctrlr_start_reset(struct nvmf_ctrlr *ctrlr)
{
	ctrlr_disconnect_io_qpairs(ctrlr);
	if (ctrlr->reset_poller)
		return;
	ctrlr->reset_poller = reactor_poller_register_named(ctrlr_reset_poll, ctrlr, CTRLR_RESET_POLL_US,
							    "nvmf_ctrlr_reset");
	if (!ctrlr->reset_poller) {
		REACTOR_ERRLOG("controller %u: cannot wait for its I/O queues to go", ctrlr->cntlid);
		ctrlr_reset_poll(ctrlr);
	}
}

static void property_set_cc(struct nvmf_ctrlr *ctrlr, uint32_t cc)
{
	uint32_t old = ctrlr->cc, csts = ctrlr->csts;
	bool reset = false;

	if ((cc & NVME_CC_EN) && !(old & NVME_CC_EN)) {
		/* Linux nvmet_start_ctrl: the entry sizes and page size must be ours. */
		if ((ctrlr->subsystem->subtype == NVMF_SUBTYPE_NVME &&
		     (CC_IOSQES(cc) != 6 || CC_IOCQES(cc) != 4)) ||
		    CC_MPS(cc) != 0 || CC_AMS(cc) != 0 || CC_CSS(cc) != 0) {
			REACTOR_ERRLOG("controller %u: CC 0x%08x has unsupported IOSQES/IOCQES/MPS/AMS/CSS",
				       ctrlr->cntlid, cc);
			csts |= NVME_CSTS_CFS;
		} else {
			csts = (csts & ~NVME_CSTS_CFS) | NVME_CSTS_RDY;
		}
	}
	if (!(cc & NVME_CC_EN) && (old & NVME_CC_EN)) {
		csts &= ~NVME_CSTS_CFS;
		reset = true;
	}
	if (CC_SHN(cc) && !CC_SHN(old)) {
		csts = (csts & ~NVME_CSTS_SHST_MASK) | CSTS_SHST_PROCESSING;
		reset = true;
	}
	if (!CC_SHN(cc) && CC_SHN(old))
		csts &= ~NVME_CSTS_SHST_MASK;
	pthread_mutex_lock(&ctrlr->subsystem->ctrlr_lock);
	ctrlr->cc = cc;
	ctrlr->csts = csts;
	pthread_mutex_unlock(&ctrlr->subsystem->ctrlr_lock);
	if (reset)
		ctrlr_start_reset(ctrlr);
}

static void fabrics_property_get(struct nvmf_request *req)
{
	const struct nvme_property_cmd *cmd = (const struct nvme_property_cmd *)&req->cmd;
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;
	bool eight = (cmd->attrib & 0x7) == 1;
	uint64_t v;

	if ((cmd->attrib & 0x7) > 1)
		goto invalid;
	switch (cmd->ofst) {
	case NVME_PROP_CAP:
		v = eight ? ctrlr->cap : (uint32_t)ctrlr->cap;
		break;
	case NVME_PROP_CAP + 4:
		if (eight)
			goto invalid;
		v = ctrlr->cap >> 32;
		break;
	case NVME_PROP_VS:
		v = ctrlr->vs;
		break;
	case NVME_PROP_CC:
		v = ctrlr->cc;
		break;
	case NVME_PROP_CSTS:
		v = ctrlr->csts;
		break;
	default:
		goto invalid;
	}
	if (eight && cmd->ofst != NVME_PROP_CAP)
		goto invalid;
	req->rsp.cdw0 = (uint32_t)v;
	req->rsp.cdw1 = (uint32_t)(v >> 32);
	nvmf_request_complete(req);
	return;
invalid:
	nvmf_request_complete_status(req, nvme_status(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD, 1));
}

static void fabrics_property_set(struct nvmf_request *req)
{
	const struct nvme_property_cmd *cmd = (const struct nvme_property_cmd *)&req->cmd;
	struct nvmf_ctrlr *ctrlr = req->qpair->ctrlr;

	/* Only CC is writable; it is 4 bytes. */
	if ((cmd->attrib & 0x7) != 0 || cmd->ofst != NVME_PROP_CC) {
		nvmf_request_complete_status(req, nvme_status(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD, 1));
		return;
	}
	property_set_cc(ctrlr, (uint32_t)cmd->value);
	nvmf_request_complete(req);
}

void nvmf_fabrics_exec(struct nvmf_request *req)
{
	const struct nvme_fabrics_cmd *cmd = (const struct nvme_fabrics_cmd *)&req->cmd;
	struct nvmf_qpair *qpair = req->qpair;

	if (cmd->fctype == NVME_FCTYPE_CONNECT) {
		fabrics_connect(req);
		return;
	}
	if (!qpair->ctrlr) {
		REACTOR_ERRLOG("%s:%u: Fabrics command type 0x%02x before Connect", qpair->peer_addr,
			       qpair->peer_port, cmd->fctype);
		nvmf_request_complete_status(req, nvme_status(NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR, 1));
		return;
	}
	note_activity(qpair->ctrlr);
	switch (cmd->fctype) {
	case NVME_FCTYPE_PROPERTY_GET:
		if (qpair->qid == 0) {
			fabrics_property_get(req);
			return;
		}
		break;
	case NVME_FCTYPE_PROPERTY_SET:
		if (qpair->qid == 0) {
			fabrics_property_set(req);
			return;
		}
		break;
	case NVME_FCTYPE_DISCONNECT:
		/* Answer first, then close the queue (Base 2.0 §6.4); the admin
		 * queue goes away only with the association. */
		if (qpair->qid == 0) {
			nvmf_request_complete_status(req, nvme_status(NVME_SCT_COMMAND_SPECIFIC,
								      NVME_SC_INVALID_QUEUE_TYPE, 1));
			return;
		}
		if (((const struct nvme_connect_cmd *)cmd)->recfmt != 0) {
			nvmf_request_complete_status(req, nvme_status(NVME_SCT_COMMAND_SPECIFIC,
								      NVME_SC_CONNECT_INCOMPATIBLE_FORMAT, 1));
			return;
		}
		nvmf_request_complete(req);
		qpair->transport->ops->qpair_disconnect(qpair);
		return;
	default:
		break;
	}
	nvmf_request_complete_status(req, nvme_status(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE, 1));
}
