/* SPDX-License-Identifier: BSD-3-Clause */
/* Fabrics commands (Connect, Property Get/Set) and status messages. */
#include "perf.h"

#include <stdio.h>
#include <string.h>

void perf_connect_sqe(struct nvme_sqe *sqe, uint16_t qid, uint16_t sqsize, uint32_t kato_ms,
		      bool disable_sqfc)
{
	struct nvme_connect_cmd c;

	memset(&c, 0, sizeof(c));
	c.opc = NVME_OPC_FABRICS;
	c.fctype = NVME_FCTYPE_CONNECT;
	c.recfmt = 0;
	c.qid = qid;
	c.sqsize = sqsize;
	c.cattr = disable_sqfc ? 0x4 : 0;	/* bit 2: SQ flow control disable */
	c.kato = kato_ms;
	memcpy(sqe, &c, sizeof(*sqe));
}

void perf_connect_data(void *buf, uint16_t cntlid)
{
	struct nvme_connect_data d;

	memset(&d, 0, sizeof(d));
	memcpy(d.hostid, g_cfg.hostid, sizeof(d.hostid));
	d.cntlid = cntlid;
	snprintf(d.subnqn, sizeof(d.subnqn), "%s", g_cfg.trid.subnqn);
	snprintf(d.hostnqn, sizeof(d.hostnqn), "%s", g_cfg.hostnqn);
	memcpy(buf, &d, sizeof(d));
}

void perf_property_sqe(struct nvme_sqe *sqe, bool set, uint32_t ofst, bool eight_bytes,
		       uint64_t value)
{
	struct nvme_property_cmd p;

	memset(&p, 0, sizeof(p));
	p.opc = NVME_OPC_FABRICS;
	p.fctype = set ? NVME_FCTYPE_PROPERTY_SET : NVME_FCTYPE_PROPERTY_GET;
	p.attrib = eight_bytes ? 1 : 0;
	p.ofst = ofst;
	p.value = set ? value : 0;
	memcpy(sqe, &p, sizeof(*sqe));
}

void perf_print_status(const char *who, const char *what, uint16_t status, bool fabrics)
{
	char buf[96];

	fprintf(stderr, "nvmf-perf: %s: %s failed: status %s\n", who, what,
		nvme_status_str(status, fabrics, buf, sizeof(buf)));
}
