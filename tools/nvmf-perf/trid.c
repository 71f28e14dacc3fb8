/* SPDX-License-Identifier: BSD-3-Clause */
#include "trid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int copy_value(char *dst, size_t size, const char *val, size_t len, const char *key,
		      char *err, size_t errlen)
{
	if (len == 0 || len >= size) {
		snprintf(err, errlen, "%s: value %s", key, len == 0 ? "missing" : "too long");
		return -1;
	}
	memcpy(dst, val, len);
	dst[len] = '\0';
	return 0;
}

int perf_trid_parse(const char *text, struct perf_trid *trid, char *err, size_t errlen)
{
	const char *p = text;
	char port[16] = "4420";

	memset(trid, 0, sizeof(*trid));
	strcpy(trid->trtype, "TCP");
	strcpy(trid->adrfam, "IPv4");
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		const char *end = p + strcspn(p, " \t");
		const char *sep = p + strcspn(p, ":=");
		if (sep >= end) {
			snprintf(err, errlen, "'%.*s' is not key:value", (int)(end - p), p);
			return -1;
		}
		size_t klen = (size_t)(sep - p), vlen = (size_t)(end - sep - 1);
		const char *val = sep + 1;
		int rc;
#define KEY(name) (klen == strlen(name) && strncasecmp(p, name, klen) == 0)
		if (KEY("trtype"))
			rc = copy_value(trid->trtype, sizeof(trid->trtype), val, vlen, "trtype", err, errlen);
		else if (KEY("adrfam"))
			rc = copy_value(trid->adrfam, sizeof(trid->adrfam), val, vlen, "adrfam", err, errlen);
		else if (KEY("traddr"))
			rc = copy_value(trid->traddr, sizeof(trid->traddr), val, vlen, "traddr", err, errlen);
		else if (KEY("trsvcid"))
			rc = copy_value(port, sizeof(port), val, vlen, "trsvcid", err, errlen);
		else if (KEY("subnqn"))
			rc = copy_value(trid->subnqn, sizeof(trid->subnqn), val, vlen, "subnqn", err, errlen);
		else if (KEY("hostaddr") || KEY("hostsvcid") || KEY("ns") || KEY("priority"))
			rc = 0;	/* accepted for compatibility with SPDK's strings; unused */
		else {
			snprintf(err, errlen, "unknown key '%.*s'", (int)klen, p);
			return -1;
		}
#undef KEY
		if (rc)
			return -1;
		p = end;
	}
	if (strcasecmp(trid->trtype, "TCP") != 0) {
		snprintf(err, errlen, "trtype %s not supported (only TCP)", trid->trtype);
		return -1;
	}
	if (strcasecmp(trid->adrfam, "IPv4") != 0 && strcasecmp(trid->adrfam, "IPv6") != 0) {
		snprintf(err, errlen, "adrfam %s: IPv4 or IPv6", trid->adrfam);
		return -1;
	}
	if (!trid->traddr[0] || !trid->subnqn[0]) {
		snprintf(err, errlen, "traddr and subnqn are required");
		return -1;
	}
	char *e;
	unsigned long v = strtoul(port, &e, 10);
	if (*e || v == 0 || v > 65535) {
		snprintf(err, errlen, "trsvcid '%s' is not a port number", port);
		return -1;
	}
	trid->port = (uint16_t)v;
	return 0;
}
