/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nvmf-tgtd's controller behaviour over real TCP: the discovery controller
 * and its log page (filtered by host), several I/O queues of one
 * controller, a namespace added and removed through JSON-RPC while a host
 * is connected (Asynchronous Event, Changed Namespace List, I/O to the new
 * namespace), controller reset (CC.EN = 0 ends the I/O queues) and shutdown
 * notification (CC.SHN, CSTS.SHST); an IPv6 listener and a host removed
 * through RPC end the associations that used them (as SPDK).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "host.h"
#include "tap.h"
#include "tgtd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NSID 1

static struct tgtd g_tgtd;

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 7;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
}

/* ---- discovery ----------------------------------------------------------------- */

/* A fixed-size ASCII field equals `want` once trailing spaces (SPDK pads
 * with spaces) or NULs (Linux) are dropped. */
static bool field_is(const char *field, size_t size, const char *want)
{
	size_t n = size;

	while (n > 0 && (field[n - 1] == ' ' || field[n - 1] == '\0'))
		n--;
	return n == strlen(want) && memcmp(field, want, n) == 0;
}

/* The discovery log as `hostnqn` sees it; which of the two subsystems it
 * lists, with this listener's address. */
static bool discovery_lists(const char *hostnqn, bool *open_listed, bool *closed_listed,
			    char *err, size_t err_len)
{
	struct host_opts o;
	struct host h;
	uint32_t len = 8192;
	uint8_t *log = calloc(1, len);
	struct nvme_id_ctrlr *id = calloc(1, sizeof(*id));
	char port[16];
	bool ok = false;

	*open_listed = *closed_listed = false;
	tgtd_host_opts(&g_tgtd, &o);
	o.subnqn = NVME_DISCOVERY_NQN;
	o.hostnqn = hostnqn;
	snprintf(port, sizeof(port), "%u", g_tgtd.port);
	if (host_open_admin(&h, &o) != 0 || host_enable(&h) != 0 ||
	    host_identify(&h, NVME_CNS_CTRLR, 0, id, NULL) != 0 ||
	    host_get_log(&h, NVME_LOG_DISCOVERY, 0, log, len, NULL) != 0) {
		snprintf(err, err_len, "%s", h.err);
		goto out;
	}
	if (id->cntrltype != NVME_CNTRLTYPE_DISCOVERY) {
		snprintf(err, err_len, "CNTRLTYPE %u, not a discovery controller", id->cntrltype);
		goto out;
	}
	uint64_t numrec = nvme_get_le64(log + offsetof(struct nvme_discovery_log_hdr, numrec));
	if (getenv("NVMF_TEST_VERBOSE"))
		tap_diag("discovery log: GENCTR %llu NUMREC %llu",
			 (unsigned long long)nvme_get_le64(log), (unsigned long long)numrec);
	for (uint64_t i = 0; i < numrec && (i + 2) * 1024 <= len; i++) {
		const struct nvme_discovery_log_entry *e =
			(const void *)(log + (i + 1) * 1024);
		bool here = e->trtype == NVME_TRTYPE_TCP && e->adrfam == NVME_ADRFAM_IPV4 &&
			    field_is(e->traddr, sizeof(e->traddr), "127.0.0.1") &&
			    field_is(e->trsvcid, sizeof(e->trsvcid), port) &&
			    e->subtype == NVME_DISC_SUBTYPE_NVME;
		if (getenv("NVMF_TEST_VERBOSE"))
			tap_diag("entry %llu: trtype %u adrfam %u subtype %u %.32s:%.32s %.64s",
				 (unsigned long long)i, e->trtype, e->adrfam, e->subtype, e->traddr,
				 e->trsvcid, e->subnqn);
		if (here && field_is(e->subnqn, sizeof(e->subnqn), TGTD_NQN_OPEN))
			*open_listed = true;
		if (here && field_is(e->subnqn, sizeof(e->subnqn), TGTD_NQN_CLOSED))
			*closed_listed = true;
	}
	ok = true;
out:
	host_close(&h);
	free(log);
	free(id);
	return ok;
}

static void test_discovery(void)
{
	bool open_listed, closed_listed;
	char err[256] = "";

	TAP_OK(discovery_lists(NULL, &open_listed, &closed_listed, err, sizeof(err)) &&
		       open_listed && closed_listed,
	       "discovery log for the listed host: both subsystems on this port (%d %d) %s",
	       open_listed, closed_listed, err);
	TAP_OK(discovery_lists("nqn.2014-08.org.example:stranger", &open_listed, &closed_listed,
			       err, sizeof(err)) &&
		       open_listed && !closed_listed,
	       "discovery log for an unlisted host: only the open subsystem (%d %d) %s",
	       open_listed, closed_listed, err);
}

/* ---- several I/O queues ------------------------------------------------------- */

static void test_many_queues(void)
{
	enum { NQ = 4, LEN = 16384 };
	struct host_opts o;
	struct host a, io[NQ + 1];
	uint32_t cdw0 = 0;
	uint8_t *w = malloc(NQ * LEN), *r = malloc(NQ * LEN);
	int cids[NQ];
	bool ok;

	tgtd_host_opts(&g_tgtd, &o);
	for (int q = 0; q <= NQ; q++)
		io[q].fd = -1;
	if (!TAP_OK(host_open_admin(&a, &o) == 0 && host_enable(&a) == 0 &&
			    host_set_features(&a, NVME_FEAT_NUMBER_OF_QUEUES,
					      ((NQ - 1u) << 16) | (NQ - 1u), &cdw0, NULL) == 0 &&
			    (cdw0 & 0xffff) + 1 >= NQ && (cdw0 >> 16) + 1 >= NQ,
		    "Number of Queues: %u I/O queues granted %s", (cdw0 & 0xffff) + 1, a.err))
		goto out;
	ok = true;
	for (int q = 0; q < NQ && ok; q++) {
		ok = host_open_io(&io[q], &o, (uint16_t)(q + 1), a.cntlid) == 0;
		if (!ok)
			tap_diag("qid %d: %s", q + 1, io[q].err);
	}
	if (!TAP_OK(ok, "%d I/O queues of controller %#x connected", NQ, a.cntlid))
		goto out;
	fill(w, NQ * LEN, 20);
	for (int q = 0; q < NQ && ok; q++) {
		struct nvme_sqe sqe = { .opc = NVME_OPC_WRITE, .nsid = NSID,
					.cdw10 = 2048u + (uint32_t)q * (LEN / 512), .cdw12 = LEN / 512 - 1 };
		cids[q] = host_submit(&io[q], &sqe, w + q * LEN, LEN, NULL, 0);
		ok = cids[q] >= 0;
	}
	for (int q = 0; q < NQ && ok; q++) {
		struct nvme_cqe cqe;
		ok = host_wait(&io[q], (uint16_t)cids[q], &cqe) == 0 && cqe.status == 0;
	}
	TAP_OK(ok, "a write in flight on each of the %d queues at once", NQ);
	/* Each queue reads what the next one wrote. */
	ok = true;
	for (int q = 0; q < NQ && ok; q++) {
		int from = (q + 1) % NQ;
		ok = host_read(&io[q], NSID, 2048u + (uint32_t)from * (LEN / 512), LEN / 512,
			       r + from * LEN, LEN, NULL) == 0;
	}
	TAP_OK(ok && memcmp(w, r, NQ * LEN) == 0, "each queue reads back another queue's data");
	{
		uint16_t st = 0;
		struct host dup;
		int rc = host_tcp_connect(&dup, &o) == 0 && host_ic(&dup) == 0 ? 0 : -1;
		dup.icd_max = 4096;
		if (rc == 0)
			rc = host_fabrics_connect(&dup, 1, a.cntlid, &st, NULL);
		TAP_OK((rc == 0 && st != 0) || (rc != 0 && dup.fd >= 0 && host_wait_closed(&dup, 100) == 0),
		       "a second Connect of QID 1 is refused (%s) %s",
		       rc == 0 ? host_fabrics_status_str(st) : "connection ended", dup.err);
		host_close(&dup);
	}
out:
	for (int q = 0; q <= NQ; q++)
		host_close(&io[q]);
	host_close(&a);
	free(w);
	free(r);
}

/* ---- namespace hot add / remove through RPC ------------------------------------ */

static int submit_aer(struct host *a)
{
	struct nvme_sqe sqe = { .opc = NVME_OPC_ASYNC_EVENT_REQUEST };
	return host_submit(a, &sqe, NULL, 0, NULL, 0);
}

static bool ns_list_has(struct host *a, uint32_t nsid)
{
	uint8_t *buf = calloc(1, 4096);
	bool found = false;

	if (host_identify(a, NVME_CNS_ACTIVE_NS_LIST, 0, buf, NULL) == 0)
		for (int i = 0; i < 1024 && nvme_get_le32(buf + 4 * i); i++)
			found = found || nvme_get_le32(buf + 4 * i) == nsid;
	free(buf);
	return found;
}

static void test_ns_hotplug(void)
{
	struct host_opts o;
	struct host a, io;
	struct nvme_cqe cqe;
	char out[4096];
	uint8_t *buf = calloc(1, 8192);
	const uint32_t expect_dw0 = 0x2u | (0x00u << 8) | ((uint32_t)NVME_LOG_CHANGED_NS_LIST << 16);
	int cid, rc;

	tgtd_host_opts(&g_tgtd, &o);
	if (!TAP_OK(host_open_session(&a, &io, &o) == 0, "hot plug: connected")) {
		tap_diag("%s", a.err);
		goto out;
	}
	TAP_OK(host_set_features(&a, NVME_FEAT_ASYNC_EVENT_CONFIG, 1u << 8, NULL, NULL) == 0,
	       "Async Event Configuration: Namespace Attribute Notices on %s", a.err);
	cid = submit_aer(&a);
	rc = tgtd_rpc(&g_tgtd, out, sizeof(out), "bdev_malloc_create", "name=HotMalloc",
		      "num_blocks=4096", "block_size=512", NULL);
	TAP_OK(rc == 0, "RPC bdev_malloc_create HotMalloc (%d: %.200s)", rc, out);
	rc = tgtd_rpc(&g_tgtd, out, sizeof(out), "nvmf_subsystem_add_ns", "nqn=" TGTD_NQN_OPEN,
		      "namespace.bdev_name=HotMalloc", "namespace.nsid=2", NULL);
	TAP_OK(rc == 0, "RPC nvmf_subsystem_add_ns nsid 2 (%d: %.200s)", rc, out);
	memset(&cqe, 0, sizeof(cqe));
	TAP_OK(cid >= 0 && host_wait(&a, (uint16_t)cid, &cqe) == 0 && cqe.status == 0 &&
		       cqe.cdw0 == expect_dw0,
	       "AER completes: Notice, Namespace Attribute Changed, log 04h (DW0 %#x) %s", cqe.cdw0,
	       a.err);
	memset(buf, 0, 4096);
	TAP_OK(host_get_log(&a, NVME_LOG_CHANGED_NS_LIST, 0, buf, 4096, NULL) == 0 &&
		       nvme_get_le32(buf) == 2 && nvme_get_le32(buf + 4) == 0,
	       "Changed Namespace List log: {2} (%u, %u) %s", nvme_get_le32(buf),
	       nvme_get_le32(buf + 4), a.err);
	TAP_OK(ns_list_has(&a, 2), "namespace 2 is in the active namespace list");
	{
		uint8_t *w = malloc(8192);
		fill(w, 8192, 30);
		TAP_OK(host_write(&io, 2, 10, 16, w, 8192, NULL) == 0 &&
			       host_read(&io, 2, 10, 16, buf, 8192, NULL) == 0 &&
			       memcmp(w, buf, 8192) == 0,
		       "the connected I/O queue writes and reads namespace 2 %s", io.err);
		free(w);
	}

	cid = submit_aer(&a);
	rc = tgtd_rpc(&g_tgtd, out, sizeof(out), "nvmf_subsystem_remove_ns", "nqn=" TGTD_NQN_OPEN,
		      "nsid=2", NULL);
	TAP_OK(rc == 0, "RPC nvmf_subsystem_remove_ns nsid 2 (%d: %.200s)", rc, out);
	memset(&cqe, 0, sizeof(cqe));
	TAP_OK(cid >= 0 && host_wait(&a, (uint16_t)cid, &cqe) == 0 && cqe.status == 0 &&
		       cqe.cdw0 == expect_dw0,
	       "AER completes again on removal (DW0 %#x) %s", cqe.cdw0, a.err);
	TAP_OK(!ns_list_has(&a, 2), "namespace 2 left the active namespace list");
	uint16_t st = 0;
	TAP_OK(host_read(&io, 2, 10, 16, buf, 8192, &st) == 0 &&
		       nvme_status_sc(st) == NVME_SC_INVALID_NAMESPACE_OR_FORMAT,
	       "a read of the removed namespace: Invalid Namespace or Format (%s)",
	       host_status_str(st));
	TAP_OK(host_read(&io, NSID, 0, 16, buf, 8192, NULL) == 0,
	       "namespace 1 still reads %s", io.err);
	rc = tgtd_rpc(&g_tgtd, out, sizeof(out), "bdev_malloc_delete", "name=HotMalloc", NULL);
	TAP_OK(rc == 0, "RPC bdev_malloc_delete HotMalloc (%d: %.200s)", rc, out);
out:
	host_close(&io);
	host_close(&a);
	free(buf);
}

/* ---- an IPv6 listener added and removed through RPC ---------------------------- */

static void test_ipv6_listener(void)
{
	struct host_opts o;
	struct host a, io, late;
	char out[2048], params[512];
	uint8_t *w = malloc(8192), *r = malloc(8192);
	int rc;

	snprintf(params, sizeof(params),
		 "{\"nqn\": \"%s\", \"listen_address\": {\"trtype\": \"TCP\", \"adrfam\": \"IPv6\", "
		 "\"traddr\": \"::1\", \"trsvcid\": \"%u\"}}",
		 TGTD_NQN_OPEN, g_tgtd.port);
	rc = tgtd_rpc(&g_tgtd, out, sizeof(out), "nvmf_subsystem_add_listener", "-j", params, NULL);
	if (!TAP_OK(rc == 0, "RPC nvmf_subsystem_add_listener [::1]:%u (%d: %.200s)", g_tgtd.port,
		    rc, out))
		goto done;
	tgtd_host_opts(&g_tgtd, &o);
	o.addr = "::1";
	fill(w, 8192, 40);
	TAP_OK(host_open_session(&a, &io, &o) == 0 &&
		       host_write(&io, NSID, 3000, 16, w, 8192, NULL) == 0 &&
		       host_read(&io, NSID, 3000, 16, r, 8192, NULL) == 0 && memcmp(w, r, 8192) == 0,
	       "over IPv6 [::1]: connect, write, read back %s", a.fd >= 0 ? io.err : a.err);
	/* An IPv4 association of the same subsystem, across the removal. */
	struct host_opts o4;
	struct host a4, io4;
	tgtd_host_opts(&g_tgtd, &o4);
	bool v4 = host_open_session(&a4, &io4, &o4) == 0;
	rc = tgtd_rpc(&g_tgtd, out, sizeof(out), "nvmf_subsystem_remove_listener", "-j", params, NULL);
	TAP_OK(rc == 0, "RPC nvmf_subsystem_remove_listener [::1] (%d: %.200s)", rc, out);
	/* As SPDK (and Linux for a port): the associations made through it end. */
	TAP_OK(host_wait_closed(&io, 10000) == 0 && host_wait_closed(&a, 10000) == 0,
	       "the association made over [::1] is ended");
	TAP_OK(v4 && host_read(&io4, NSID, 3000, 16, r, 8192, NULL) == 0 && memcmp(w, r, 8192) == 0,
	       "an association over 127.0.0.1 goes on %s", v4 ? io4.err : a4.err);
	host_close(&io4);
	host_close(&a4);
	/* The port may still accept (the listener is shared by address); a new
	 * association on it must not reach the subsystem. */
	uint16_t st = 0;
	const char *how = "TCP connect refused";
	rc = host_tcp_connect(&late, &o);
	if (rc == 0) {
		late.icd_max = HOST_ADMIN_ICD;
		how = "ICReq refused";
		rc = host_ic(&late);
		if (rc == 0) {
			rc = host_fabrics_connect(&late, 0, 0, &st, NULL);
			how = rc == 0 ? host_fabrics_status_str(st) : "Connect refused";
		}
	}
	TAP_OK(rc != 0 || st != 0, "a new association over [::1] after the removal fails (%s)", how);
	host_close(&late);
	host_close(&io);
	host_close(&a);
done:
	free(w);
	free(r);
}

/* ---- a host removed through RPC ---------------------------------------------------- */

static void test_host_removal(void)
{
	struct host_opts o;
	struct host a, io;
	char out[2048];
	uint8_t *buf = malloc(4096);
	uint16_t st = 0;
	int rc;

	tgtd_host_opts(&g_tgtd, &o);
	o.subnqn = TGTD_NQN_CLOSED;
	if (!TAP_OK(host_open_session(&a, &io, &o) == 0, "the listed host connects to %s",
		    TGTD_NQN_CLOSED)) {
		tap_diag("%s", a.err);
		goto out;
	}
	rc = tgtd_rpc(&g_tgtd, out, sizeof(out), "nvmf_subsystem_remove_host",
		      "nqn=" TGTD_NQN_CLOSED, "host=" HOST_DEFAULT_HOSTNQN, NULL);
	TAP_OK(rc == 0, "RPC nvmf_subsystem_remove_host (%d: %.200s)", rc, out);
	TAP_OK(host_wait_closed(&io, 10000) == 0 && host_wait_closed(&a, 10000) == 0,
	       "the removed host's association is ended");
	host_close(&io);
	host_close(&a);
	rc = host_tcp_connect(&a, &o) == 0 && host_ic(&a) == 0 ? 0 : -1;
	a.icd_max = HOST_ADMIN_ICD;
	if (rc == 0)
		rc = host_fabrics_connect(&a, 0, 0, &st, NULL);
	TAP_OK(rc == 0 && nvme_status_sct(st) == NVME_SCT_COMMAND_SPECIFIC &&
		       nvme_status_sc(st) == NVME_SC_CONNECT_INVALID_HOST,
	       "its new Connect: Connect Invalid Host (%s) %s", host_fabrics_status_str(st), a.err);
	host_close(&a);
	rc = tgtd_rpc(&g_tgtd, out, sizeof(out), "nvmf_subsystem_add_host",
		      "nqn=" TGTD_NQN_CLOSED, "host=" HOST_DEFAULT_HOSTNQN, NULL);
	TAP_OK(rc == 0, "RPC nvmf_subsystem_add_host again (%d: %.200s)", rc, out);
	TAP_OK(host_open_session(&a, &io, &o) == 0 &&
		       host_read(&io, NSID, 0, 8, buf, 4096, NULL) == 0,
	       "the host is back: connects and reads %s", a.err);
out:
	host_close(&io);
	host_close(&a);
	free(buf);
}

/* ---- reset and shutdown ---------------------------------------------------------- */

static bool wait_csts(struct host *a, uint32_t mask, uint32_t want, uint64_t *csts)
{
	for (int i = 0; i < 500; i++) {
		if (host_prop_get(a, NVME_PROP_CSTS, false, csts, NULL) != 0)
			return false;
		if ((*csts & mask) == want)
			return true;
		usleep(10000);
	}
	return false;
}

static void test_reset_shutdown(void)
{
	struct host_opts o;
	struct host a, io;
	uint64_t csts = 0, cc = 0;
	uint8_t *buf = malloc(4096);

	tgtd_host_opts(&g_tgtd, &o);
	if (!TAP_OK(host_open_session(&a, &io, &o) == 0, "reset: connected")) {
		tap_diag("%s", a.err);
		goto out;
	}
	TAP_OK(host_prop_get(&a, NVME_PROP_CC, false, &cc, NULL) == 0 &&
		       host_prop_set(&a, NVME_PROP_CC, false, cc & ~(uint64_t)NVME_CC_EN, NULL) == 0 &&
		       wait_csts(&a, NVME_CSTS_RDY, 0, &csts),
	       "CC.EN = 0: CSTS.RDY goes to 0 (CSTS %#llx) %s", (unsigned long long)csts, a.err);
	TAP_OK(host_wait_closed(&io, 10000) == 0, "the reset ends the I/O queue's connection");
	host_close(&io);
	TAP_OK(host_enable(&a) == 0, "CC.EN = 1 again: ready %s", a.err);
	TAP_OK(host_open_io(&io, &o, 1, a.cntlid) == 0 &&
		       host_read(&io, NSID, 0, 8, buf, 4096, NULL) == 0,
	       "a new I/O queue 1 of the same controller reads %s", io.err);
	TAP_OK(host_prop_get(&a, NVME_PROP_CC, false, &cc, NULL) == 0 &&
		       host_prop_set(&a, NVME_PROP_CC, false, cc | (1u << NVME_CC_SHN_SHIFT), NULL) == 0 &&
		       wait_csts(&a, NVME_CSTS_SHST_MASK, NVME_CSTS_SHST_COMPLETE, &csts),
	       "CC.SHN = normal shutdown: CSTS.SHST complete (CSTS %#llx) %s",
	       (unsigned long long)csts, a.err);
	{
		uint64_t v = 0;
		uint16_t st = 0;
		TAP_OK(host_prop_get(&a, 0x1000, false, &v, &st) == 0 && st != 0 &&
			       nvme_status_sc(st) == NVME_SC_INVALID_FIELD,
		       "Property Get of an unknown offset: Invalid Field (%s)", host_status_str(st));
	}
out:
	host_close(&io);
	host_close(&a);
	free(buf);
}

int main(void)
{
	char ctl[512];
	const char *top = getenv("top_builddir");

	snprintf(ctl, sizeof(ctl), "%s/tools/reactorctl", top ? top : ".");
	tgtd_test_start(&g_tgtd, 0, 240);

	test_discovery();
	test_many_queues();
	if (access(ctl, X_OK) == 0) {
		test_ns_hotplug();
		test_ipv6_listener();
		test_host_removal();
	} else {
		tap_skip("tools/reactorctl is not built", "namespace hot plug and listeners through RPC");
	}
	test_reset_shutdown();
	return tgtd_test_finish(&g_tgtd);
}
