/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NVMe/TCP transport: options, listeners and the acceptor (app
 * thread), and one socket group per poll group. Connections are conn.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp.h"

static void tcp_opts_init(struct nvmf_transport_opts *opts)
{
	/* SPDK's TCP defaults (lib/nvmf/tcp.c), so configs written for it behave the same. */
	*opts = (struct nvmf_transport_opts){
		.max_queue_depth = 128,
		.max_aq_depth = 128,
		.max_qpairs_per_ctrlr = 128,
		.in_capsule_data_size = 4096,
		.max_io_size = 131072,
		.io_unit_size = 131072,
		.num_shared_buffers = 511,
		.buf_cache_size = 32,
		.c2h_success = true,
		.sock_priority = 0,
		.abort_timeout_sec = 1,
		.zcopy = false,
	};
}

static int tcp_opts_check(const struct nvmf_transport_opts *o)
{
	if (o->max_queue_depth < 2 || o->max_aq_depth < 2) {
		REACTOR_ERRLOG("TCP transport: max_queue_depth %u and max_aq_depth %u must be at least 2",
			       o->max_queue_depth, o->max_aq_depth);
		return -EINVAL;
	}
	if (o->io_unit_size < 4096 || o->io_unit_size % 4096 != 0 || o->max_io_size < 4096) {
		REACTOR_ERRLOG("TCP transport: io_unit_size %u must be a multiple of 4096 and max_io_size %u at least 4096",
			       o->io_unit_size, o->max_io_size);
		return -EINVAL;
	}
	if ((o->max_io_size + o->io_unit_size - 1) / o->io_unit_size > NVMF_REQ_MAX_IOV) {
		REACTOR_ERRLOG("TCP transport: max_io_size %u needs more than %d buffers of io_unit_size %u",
			       o->max_io_size, NVMF_REQ_MAX_IOV, o->io_unit_size);
		return -EINVAL;
	}
	if (o->in_capsule_data_size > o->io_unit_size || o->in_capsule_data_size % 16 != 0) {
		REACTOR_ERRLOG("TCP transport: in_capsule_data_size %u must be a multiple of 16 and at most io_unit_size %u",
			       o->in_capsule_data_size, o->io_unit_size);
		return -EINVAL;
	}
	if (o->sock_priority < 0 || o->sock_priority > 6) {
		REACTOR_ERRLOG("TCP transport: sock_priority %d is not in 0..6", o->sock_priority);
		return -EINVAL;
	}
	return 0;
}

static struct nvmf_transport *tcp_create(const struct nvmf_transport_opts *opts)
{
	struct nvmf_tcp_transport *tt;
	int rc = tcp_opts_check(opts);

	if (rc) {
		errno = -rc;
		return NULL;
	}
	tt = calloc(1, sizeof(*tt));
	if (tt == NULL)
		return NULL;
	tt->base.ops = &nvmf_tcp_ops;
	tt->base.opts = *opts;
	TAILQ_INIT(&tt->listeners);
	tt->max_depth = opts->max_queue_depth > opts->max_aq_depth ? opts->max_queue_depth
								     : opts->max_aq_depth;
	tt->admin_icd = opts->in_capsule_data_size > NVMF_TCP_ADMIN_ICD ? opts->in_capsule_data_size
									 : NVMF_TCP_ADMIN_ICD;
	tt->buf_size = opts->max_io_size > tt->admin_icd ? opts->max_io_size : tt->admin_icd;
	/* One C2HData PDU per data buffer (so a PDU never straddles two). */
	tt->c2h_chunk = opts->io_unit_size < NVMF_TCP_MAX_C2H_DATA ? opts->io_unit_size
								      : NVMF_TCP_MAX_C2H_DATA;
	tt->c2h_max_pdus = (tt->buf_size + tt->c2h_chunk - 1) / tt->c2h_chunk;
	return &tt->base;
}

static void listener_free(struct nvmf_tcp_transport *tt, struct nvmf_tcp_listener *l)
{
	TAILQ_REMOVE(&tt->listeners, l, link);
	if (tt->acceptor != NULL)
		reactor_sock_group_remove_sock(tt->acceptor, l->sock);
	reactor_sock_close(&l->sock);
	free(l);
}

static void tcp_destroy(struct nvmf_transport *transport)
{
	struct nvmf_tcp_transport *tt = (struct nvmf_tcp_transport *)transport;
	struct nvmf_tcp_listener *l;

	while ((l = TAILQ_FIRST(&tt->listeners)) != NULL)
		listener_free(tt, l);
	if (tt->acceptor != NULL && reactor_sock_group_close(&tt->acceptor) != 0)
		REACTOR_ERRLOG("TCP transport: cannot close the acceptor socket group");
	free(tt);
}

struct accept_msg {
	struct nvmf_tcp_transport *tt;
	struct nvmf_poll_group *pg;
	struct reactor_sock *sock;
	struct nvmf_listen_addr addr;
};

static void accept_on_pg(void *arg)
{
	struct accept_msg *m = arg;

	nvmf_tcp_conn_create(m->tt, m->pg, m->sock, &m->addr);
	free(m);
}

static void handoff(struct nvmf_tcp_listener *l, struct reactor_sock *sock)
{
	struct nvmf_poll_group *pg = nvmf_tgt_next_poll_group();
	struct accept_msg *m;

	if (pg == NULL) {
		REACTOR_ERRLOG("TCP %s:%s: no poll group for a new connection; closing it",
			       l->addr.traddr, l->addr.trsvcid);
		reactor_sock_close(&sock);
		return;
	}
	m = malloc(sizeof(*m));
	if (m == NULL) {
		REACTOR_ERRLOG("TCP %s:%s: out of memory accepting a connection; closing it",
			       l->addr.traddr, l->addr.trsvcid);
		reactor_sock_close(&sock);
		return;
	}
	*m = (struct accept_msg){.tt = l->tt, .pg = pg, .sock = sock, .addr = l->addr};
	if (reactor_thread_send_msg(pg->thread, accept_on_pg, m) != 0) {
		REACTOR_ERRLOG("TCP %s:%s: cannot hand a connection to poll group %u; closing it",
			       l->addr.traddr, l->addr.trsvcid, pg->index);
		reactor_sock_close(&m->sock);
		free(m);
	}
}

static void listener_readable(void *arg, struct reactor_sock_group *group, struct reactor_sock *lsock)
{
	struct nvmf_tcp_listener *l = arg;

	(void)group;
	/* A bounded batch per call: the callback is level-triggered. */
	for (int i = 0; i < 32; i++) {
		struct reactor_sock *sock = reactor_sock_accept(lsock);

		if (sock == NULL) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
				REACTOR_ERRLOG("TCP %s:%s: accept failed: %s", l->addr.traddr,
					       l->addr.trsvcid, strerror(errno));
			return;
		}
		handoff(l, sock);
	}
}

static struct nvmf_tcp_listener *listener_find(struct nvmf_tcp_transport *tt,
					       const struct nvmf_listen_addr *addr)
{
	struct nvmf_tcp_listener *l;

	TAILQ_FOREACH(l, &tt->listeners, link)
		if (strcmp(l->addr.traddr, addr->traddr) == 0 &&
		    strcmp(l->addr.trsvcid, addr->trsvcid) == 0)
			return l;
	return NULL;
}

static int tcp_listen(struct nvmf_transport *transport, const struct nvmf_listen_addr *addr)
{
	struct nvmf_tcp_transport *tt = (struct nvmf_tcp_transport *)transport;
	struct reactor_sock_opts so;
	struct nvmf_tcp_listener *l;
	char *end;
	unsigned long port;
	uint16_t bound = 0;
	int rc;

	if (listener_find(tt, addr) != NULL)
		return -EEXIST;
	errno = 0;
	port = strtoul(addr->trsvcid, &end, 10);
	if (errno != 0 || end == addr->trsvcid || *end != '\0' || port > 65535) {
		REACTOR_ERRLOG("TCP: trsvcid '%s' is not a port number", addr->trsvcid);
		return -EINVAL;
	}
	if (tt->acceptor == NULL) {
		tt->acceptor = reactor_sock_group_create();
		if (tt->acceptor == NULL) {
			rc = -errno;
			REACTOR_ERRLOG("TCP: cannot create the acceptor socket group: %s", strerror(-rc));
			return rc;
		}
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return -ENOMEM;
	l->addr = *addr;
	l->tt = tt;
	reactor_sock_opts_init(&so, sizeof(so));
	so.tcp_nodelay = true;
	so.priority = tt->base.opts.sock_priority > 0 ? tt->base.opts.sock_priority : -1;
	l->sock = reactor_sock_listen(addr->traddr, (uint16_t)port, &so);
	if (l->sock == NULL) {
		rc = -errno;	/* logged by the socket layer */
		free(l);
		return rc;
	}
	rc = reactor_sock_group_add_sock(tt->acceptor, l->sock, listener_readable, l);
	if (rc != 0) {
		REACTOR_ERRLOG("TCP %s:%s: cannot watch the listening socket: %s", addr->traddr,
			       addr->trsvcid, strerror(-rc));
		reactor_sock_close(&l->sock);
		free(l);
		return rc;
	}
	TAILQ_INSERT_TAIL(&tt->listeners, l, link);
	if (port == 0)	/* the kernel chose: say which */
		(void)reactor_sock_getaddr(l->sock, NULL, 0, &bound, NULL, 0, NULL);
	else
		bound = (uint16_t)port;
	REACTOR_NOTICELOG("NVMe/TCP target listening on %s port %u", addr->traddr, bound);
	return 0;
}

static void tcp_stop_listen(struct nvmf_transport *transport, const struct nvmf_listen_addr *addr)
{
	struct nvmf_tcp_transport *tt = (struct nvmf_tcp_transport *)transport;
	struct nvmf_tcp_listener *l = listener_find(tt, addr);

	if (l != NULL)
		listener_free(tt, l);
}

static int tcp_pg_create(struct nvmf_transport *transport, struct nvmf_poll_group *pg)
{
	struct nvmf_tcp_pg *tpg = calloc(1, sizeof(*tpg));
	int rc;

	if (tpg == NULL)
		return -ENOMEM;
	tpg->tt = (struct nvmf_tcp_transport *)transport;
	tpg->pg = pg;
	tpg->group = reactor_sock_group_create();
	if (tpg->group == NULL) {
		rc = -errno;
		REACTOR_ERRLOG("TCP: cannot create the socket group of poll group %u: %s", pg->index,
			       strerror(-rc));
		free(tpg);
		return rc;
	}
	pg->transport_ctx = tpg;
	return 0;
}

static void tcp_pg_destroy(struct nvmf_transport *transport, struct nvmf_poll_group *pg)
{
	struct nvmf_tcp_pg *tpg = pg->transport_ctx;
	int rc;

	(void)transport;
	if (tpg == NULL)
		return;
	rc = reactor_sock_group_close(&tpg->group);
	if (rc != 0)
		REACTOR_ERRLOG("TCP: socket group of poll group %u not closed (%s, %u connections left)",
			       pg->index, strerror(-rc), tpg->num_conns);
	pg->transport_ctx = NULL;
	free(tpg);
}

static void tcp_dump_opts(struct nvmf_transport *transport, json_t *obj)
{
	const struct nvmf_transport_opts *o = &transport->opts;

	json_object_set_new(obj, "c2h_success", json_boolean(o->c2h_success));
	json_object_set_new(obj, "sock_priority", json_integer(o->sock_priority));
}

const struct nvmf_transport_ops nvmf_tcp_ops = {
	.name = "TCP",
	.trtype = NVME_TRTYPE_TCP,
	.opts_init = tcp_opts_init,
	.create = tcp_create,
	.destroy = tcp_destroy,
	.listen = tcp_listen,
	.stop_listen = tcp_stop_listen,
	.pg_create = tcp_pg_create,
	.pg_destroy = tcp_pg_destroy,
	.req_complete = nvmf_tcp_req_complete,
	.qpair_disconnect = nvmf_tcp_qpair_disconnect,
	.dump_opts = tcp_dump_opts,
};

const struct nvmf_transport_ops *const nvmf_transport_types[] = {&nvmf_tcp_ops, NULL};
