/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The discovery log page (Base 2.0 §5.16.1.23) and referrals. Entries:
 * the current discovery subsystem on every address the target listens on
 * (the one asked through first), each (subsystem the host may use,
 * listener) pair, then the referrals.
 */
#include "nvmf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TREQ_SECURE_NOT_SPECIFIED 0x0u
#define TREQ_SECURE_REQUIRED 0x1u
#define TREQ_SECURE_NOT_REQUIRED 0x2u
#define TREQ_SQFLOW_DISABLE_OK 0x4u	/* we accept Connect with SQ flow control disabled */

struct disc_log {
	struct nvme_discovery_log_entry *entries;
	uint64_t num, cap;
	/* Distinct listen addresses, in the order their port IDs are given. */
	const struct nvmf_listen_addr **ports;
	uint32_t num_ports, cap_ports;
};

/* ASCII fields of an entry are padded with spaces (as Linux nvmet). */
static void pad_copy(char *dst, size_t size, const char *src, size_t src_size)
{
	size_t n = strnlen(src, src_size < size ? src_size : size);

	memcpy(dst, src, n);
	memset(dst + n, ' ', size - n);
}

static int port_id(struct disc_log *log, const struct nvmf_listen_addr *addr)
{
	uint32_t i;

	for (i = 0; i < log->num_ports; i++) {
		if (nvmf_listen_addr_equal(log->ports[i], addr))
			return (int)i;
	}
	if (log->num_ports == log->cap_ports) {
		uint32_t cap = log->cap_ports ? log->cap_ports * 2 : 16;
		const struct nvmf_listen_addr **p = realloc(log->ports, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		log->ports = p;
		log->cap_ports = cap;
	}
	log->ports[log->num_ports] = addr;
	return (int)log->num_ports++;
}

static struct nvme_discovery_log_entry *new_entry(struct disc_log *log)
{
	if (log->num == log->cap) {
		uint64_t cap = log->cap ? log->cap * 2 : 8;
		struct nvme_discovery_log_entry *e = realloc(log->entries, cap * sizeof(*e));

		if (!e)
			return NULL;
		log->entries = e;
		log->cap = cap;
	}
	memset(&log->entries[log->num], 0, sizeof(log->entries[0]));
	return &log->entries[log->num++];
}

static int add_entry(struct disc_log *log, const struct nvmf_listen_addr *addr, uint8_t subtype,
		     const char *subnqn, uint16_t asqsz, uint8_t treq)
{
	struct nvme_discovery_log_entry *e;
	int portid = port_id(log, addr);

	if (portid < 0 || !(e = new_entry(log)))
		return -ENOMEM;
	e->trtype = NVME_TRTYPE_TCP;
	e->adrfam = strcmp(addr->adrfam, "IPv6") == 0 ? NVME_ADRFAM_IPV6 : NVME_ADRFAM_IPV4;
	e->subtype = subtype;
	e->treq = treq;
	nvme_put_le16(&e->portid, (uint16_t)portid);
	nvme_put_le16(&e->cntlid, NVME_CNTLID_DYNAMIC);
	nvme_put_le16(&e->asqsz, asqsz);
	pad_copy(e->trsvcid, sizeof(e->trsvcid), addr->trsvcid, sizeof(addr->trsvcid));
	pad_copy(e->traddr, sizeof(e->traddr), addr->traddr, sizeof(addr->traddr));
	strncpy(e->subnqn, subnqn, sizeof(e->subnqn) - 1);
	/* TSAS for TCP: SECTYPE 0 (no security): all zero. */
	return 0;
}

static bool seen_addr(struct disc_log *log, const struct nvmf_listen_addr *addr)
{
	uint32_t i;

	for (i = 0; i < log->num_ports; i++) {
		if (nvmf_listen_addr_equal(log->ports[i], addr))
			return true;
	}
	return false;
}

static int build_entries(struct disc_log *log, const char *hostnqn, const struct nvmf_listen_addr *listen_addr)
{
	/*
	 * Secure channel "not specified" (TLS is not offered), as Linux nvmet
	 * says: nvme-cli 2.x prints "not required" combined with the SQ flow
	 * control bit as "unrecognized".
	 */
	const uint8_t treq = TREQ_SECURE_NOT_SPECIFIED | TREQ_SQFLOW_DISABLE_OK;
	struct nvmf_subsystem *s;
	struct nvmf_subsystem_listener *l;
	struct nvmf_referral *r;
	int rc;

	/* The current discovery subsystem: where the host asked first, then every other address. */
	if (listen_addr && listen_addr->trsvcid[0]) {
		struct nvmf_transport *t = nvmf_tgt_find_transport(listen_addr->trtype);

		rc = add_entry(log, listen_addr, NVME_DISC_SUBTYPE_CURRENT, NVME_DISCOVERY_NQN,
			       t ? t->opts.max_aq_depth : 32, treq);
		if (rc)
			return rc;
	}
	TAILQ_FOREACH(s, &g_nvmf.subsystems, link) {
		TAILQ_FOREACH(l, &s->listeners, link) {
			if (seen_addr(log, &l->addr))
				continue;
			rc = add_entry(log, &l->addr, NVME_DISC_SUBTYPE_CURRENT, NVME_DISCOVERY_NQN,
				       l->transport->opts.max_aq_depth, treq);
			if (rc)
				return rc;
		}
	}
	TAILQ_FOREACH(s, &g_nvmf.subsystems, link) {
		if (s->subtype != NVMF_SUBTYPE_NVME || s->deleting || !nvmf_subsystem_host_allowed(s, hostnqn))
			continue;
		TAILQ_FOREACH(l, &s->listeners, link) {
			rc = add_entry(log, &l->addr, NVME_DISC_SUBTYPE_NVME, s->nqn, l->transport->opts.max_aq_depth,
				       treq);
			if (rc)
				return rc;
		}
	}
	TAILQ_FOREACH(r, &g_nvmf.referrals, link) {
		uint8_t subtype = strcmp(r->subnqn, NVME_DISCOVERY_NQN) == 0 ? NVME_DISC_SUBTYPE_REFERRAL
									    : NVME_DISC_SUBTYPE_NVME;

		rc = add_entry(log, &r->addr, subtype, r->subnqn, 32,
			       r->secure_channel ? TREQ_SECURE_REQUIRED : TREQ_SECURE_NOT_REQUIRED);
		if (rc)
			return rc;
	}
	return 0;
}

void *nvmf_discovery_log_build(const char *hostnqn, const struct nvmf_listen_addr *listen_addr, size_t *len)
{
	struct disc_log log = {0};
	struct nvme_discovery_log_hdr *hdr;
	uint64_t genctr;
	size_t size;
	int rc;

	pthread_mutex_lock(&g_nvmf.lock);
	rc = build_entries(&log, hostnqn ? hostnqn : "", listen_addr);
	genctr = g_nvmf.discovery_genctr;
	pthread_mutex_unlock(&g_nvmf.lock);
	free(log.ports);
	if (rc) {
		free(log.entries);
		errno = ENOMEM;
		return NULL;
	}
	size = sizeof(*hdr) + log.num * sizeof(log.entries[0]);
	hdr = calloc(1, size);
	if (!hdr) {
		free(log.entries);
		errno = ENOMEM;
		return NULL;
	}
	nvme_put_le64(&hdr->genctr, genctr);
	nvme_put_le64(&hdr->numrec, log.num);
	if (log.num)
		memcpy(hdr + 1, log.entries, log.num * sizeof(log.entries[0]));
	free(log.entries);
	*len = size;
	return hdr;
}

static struct nvmf_referral *find_referral(const struct nvmf_listen_addr *addr, const char *subnqn)
{
	struct nvmf_referral *r;

	TAILQ_FOREACH(r, &g_nvmf.referrals, link) {
		if (nvmf_listen_addr_equal(&r->addr, addr) && strcmp(r->subnqn, subnqn) == 0)
			return r;
	}
	return NULL;
}

int nvmf_referral_add(const struct nvmf_listen_addr *addr_in, const char *subnqn, bool secure)
{
	struct nvmf_listen_addr addr = *addr_in;
	struct nvmf_referral *r;
	int rc;

	if (!subnqn || !*subnqn)
		subnqn = NVME_DISCOVERY_NQN;
	if (!nvme_nqn_valid(subnqn, strlen(subnqn) + 1)) {
		REACTOR_ERRLOG("referral: invalid subnqn '%s'", subnqn);
		return -EINVAL;
	}
	rc = nvmf_listen_addr_check(&addr);
	if (rc)
		return rc;
	if (find_referral(&addr, subnqn))
		return -EEXIST;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->addr = addr;
	strncpy(r->subnqn, subnqn, sizeof(r->subnqn) - 1);
	r->secure_channel = secure;
	pthread_mutex_lock(&g_nvmf.lock);
	TAILQ_INSERT_TAIL(&g_nvmf.referrals, r, link);
	pthread_mutex_unlock(&g_nvmf.lock);
	nvmf_tgt_discovery_changed();
	return 0;
}

int nvmf_referral_remove(const struct nvmf_listen_addr *addr_in, const char *subnqn)
{
	struct nvmf_listen_addr addr = *addr_in;
	struct nvmf_referral *r;

	if (!subnqn || !*subnqn)
		subnqn = NVME_DISCOVERY_NQN;
	if (nvmf_listen_addr_check(&addr))
		return -EINVAL;
	r = find_referral(&addr, subnqn);
	if (!r)
		return -ENOENT;
	pthread_mutex_lock(&g_nvmf.lock);
	TAILQ_REMOVE(&g_nvmf.referrals, r, link);
	pthread_mutex_unlock(&g_nvmf.lock);
	free(r);
	nvmf_tgt_discovery_changed();
	return 0;
}
