/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The nvmf_* JSON-RPC methods (SPDK's names, parameters and results) and the
 * "nvmf" subsystem: init makes the target, fini tears it down, save_config
 * writes the calls that rebuild transports, referrals, subsystems,
 * listeners, hosts and namespaces (with their NGUID/EUI-64/UUID, so hosts
 * see the same identities after a restart).
 *
 * Every handler runs on the app thread, the only writer of the
 * configuration, so it reads the lists without g_nvmf.lock; it takes the
 * lock only to change a field that other threads read under it.
 */
#include "nvmf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_TGT_NAME "nvmf_tgt" /* SPDK's; the only target here */
#define MAX_CNTLID 0xffef

/* nvmf_set_max_subsystems (startup only), counting the discovery subsystem as SPDK does. */
static uint32_t g_max_subsystems = NVMF_MAX_SUBSYSTEMS;

/* ---- shared checks ------------------------------------------------------------ */

/* The optional tgt_name every SPDK nvmf method takes: only the default target exists. */
static bool tgt_name_ok(struct reactor_rpc_request *req, const char *tgt_name)
{
	if (tgt_name == NULL || strcmp(tgt_name, DEFAULT_TGT_NAME) == 0)
		return true;
	reactor_rpc_send_error(req, REACTOR_RPC_INTERNAL_ERROR, "Unable to find a target named '%s' (only '%s')",
			       tgt_name, DEFAULT_TGT_NAME);
	return false;
}

static bool nqn_ok(struct reactor_rpc_request *req, const char *field, const char *nqn)
{
	if (nvme_nqn_valid(nqn, strlen(nqn) + 1))
		return true;
	reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
			       "Invalid params: field '%s': '%s' is not a valid NQN (nqn.yyyy-mm.reverse.domain:name, "
			       "at most %d bytes)", field, nqn, NVME_NQN_MAX_LEN);
	return false;
}

/* The subsystem named by @p nqn, or NULL after answering (SPDK's message). */
static struct nvmf_subsystem *find_subsystem(struct reactor_rpc_request *req, const char *nqn)
{
	struct nvmf_subsystem *s = nvmf_subsystem_find(nqn);

	if (s == NULL || s->deleting)
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS, "Unable to find subsystem with NQN %s", nqn);
	return s != NULL && !s->deleting ? s : NULL;
}

/* Hex digits into @p out (exactly @p len bytes); dashes are ignored, so UUIDs parse too. */
static int parse_hex(const char *str, uint8_t *out, size_t len)
{
	size_t n = 0;

	for (const char *p = str; *p != '\0'; p++) {
		int hi, lo;

		if (*p == '-')
			continue;
		if (n == len || !isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]))
			return -EINVAL;
		hi = isdigit((unsigned char)p[0]) ? p[0] - '0' : (tolower((unsigned char)p[0]) - 'a' + 10);
		lo = isdigit((unsigned char)p[1]) ? p[1] - '0' : (tolower((unsigned char)p[1]) - 'a' + 10);
		out[n++] = (uint8_t)(hi << 4 | lo);
		p++;
	}
	return n == len ? 0 : -EINVAL;
}

static json_t *hex_json(const uint8_t *b, size_t len)
{
	char s[33];

	for (size_t i = 0; i < len && i < 16; i++)
		snprintf(s + 2 * i, 3, "%02X", b[i]);
	return json_stringn(s, 2 * len);
}

static void format_uuid(const uint8_t u[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
		 u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

static json_t *uuid_json(const uint8_t u[16])
{
	char s[37];

	format_uuid(u, s);
	return json_string(s);
}

/* ---- listen addresses ------------------------------------------------------------ */

static int copy_field(char *dst, size_t size, const char *src)
{
	if (strlen(src) >= size)
		return -ENAMETOOLONG;
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

/*
 * Fill @p addr from SPDK's address object fields and check them; answers
 * -32602 naming @p what (e.g. "listen_address") and returns false on bad
 * input. Without adrfam, the family is the address's.
 */
static bool parse_listen_addr(struct reactor_rpc_request *req, const char *what, const char *trtype,
			      const char *adrfam, const char *traddr, const char *trsvcid,
			      struct nvmf_listen_addr *addr)
{
	const struct nvmf_transport_ops *ops = NULL;
	unsigned char buf[sizeof(struct in6_addr)];
	char *end;
	long port;
	int af;

	memset(addr, 0, sizeof(*addr));
	for (size_t i = 0; nvmf_transport_types[i] != NULL; i++)
		if (strcasecmp(nvmf_transport_types[i]->name, trtype) == 0)
			ops = nvmf_transport_types[i];
	if (ops == NULL) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field '%s.trtype': unknown transport type '%s' (expected TCP)",
				       what, trtype);
		return false;
	}
	snprintf(addr->trtype, sizeof(addr->trtype), "%s", ops->name);
	if (adrfam == NULL) /* SPDK says IPv4; the address itself says better */
		adrfam = strchr(traddr, ':') != NULL ? "IPv6" : "IPv4";
	if (strcasecmp(adrfam, "ipv4") == 0) {
		snprintf(addr->adrfam, sizeof(addr->adrfam), "IPv4");
		af = AF_INET;
	} else if (strcasecmp(adrfam, "ipv6") == 0) {
		snprintf(addr->adrfam, sizeof(addr->adrfam), "IPv6");
		af = AF_INET6;
	} else {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field '%s.adrfam': '%s' is not an address family of %s "
				       "(expected IPv4 or IPv6)", what, adrfam, ops->name);
		return false;
	}
	/* Brackets around an IPv6 address are a common way of writing it; take them off. */
	if (af == AF_INET6 && traddr[0] == '[' && strlen(traddr) > 2 && traddr[strlen(traddr) - 1] == ']') {
		if (strlen(traddr) - 2 >= sizeof(addr->traddr))
			goto bad_traddr;
		memcpy(addr->traddr, traddr + 1, strlen(traddr) - 2);
	} else if (copy_field(addr->traddr, sizeof(addr->traddr), traddr) != 0) {
		goto bad_traddr;
	}
	if (inet_pton(af, addr->traddr, buf) != 1)
		goto bad_traddr;
	if (trsvcid == NULL) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: missing required field '%s.trsvcid' (the TCP port)", what);
		return false;
	}
	errno = 0;
	port = strtol(trsvcid, &end, 10);
	if (trsvcid[0] == '\0' || *end != '\0' || errno != 0 || port < 1 || port > 65535 ||
	    !isdigit((unsigned char)trsvcid[0])) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field '%s.trsvcid': '%s' is not a TCP port (1 to 65535)", what,
				       trsvcid);
		return false;
	}
	snprintf(addr->trsvcid, sizeof(addr->trsvcid), "%ld", port);
	if (nvmf_listen_addr_check(addr) != 0) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS, "Invalid params: field '%s': not a valid %s "
				       "address: %s %s port %s", what, addr->trtype, addr->adrfam, addr->traddr,
				       addr->trsvcid);
		return false;
	}
	return true;
bad_traddr:
	reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
			       "Invalid params: field '%s.traddr': '%s' is not a numeric %s address", what, traddr,
			       af == AF_INET ? "IPv4" : "IPv6");
	return false;
}

static json_t *listen_addr_json(const struct nvmf_listen_addr *a)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "trtype", a->trtype, "adrfam", a->adrfam, "traddr", a->traddr,
			 "trsvcid", a->trsvcid);
}

/* The unpack format of an address object and its arguments, shared by listeners and referrals. */
#define ADDR_FMT "{s:s, s?s, s:s, s?s !}"
#define ADDR_ARGS(t, f, a, s) "trtype", &(t), "adrfam", &(f), "traddr", &(a), "trsvcid", &(s)

/* ---- transports ------------------------------------------------------------------- */

static json_t *transport_json(const struct nvmf_transport *t)
{
	const struct nvmf_transport_opts *o = &t->opts;
	json_t *obj = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:b, s:b, s:I, s:I}",
				"trtype", t->ops->name, "max_queue_depth", (json_int_t)o->max_queue_depth,
				"max_io_qpairs_per_ctrlr", (json_int_t)o->max_qpairs_per_ctrlr - 1,
				"in_capsule_data_size", (json_int_t)o->in_capsule_data_size, "max_io_size",
				(json_int_t)o->max_io_size, "io_unit_size", (json_int_t)o->io_unit_size,
				"max_aq_depth", (json_int_t)o->max_aq_depth, "num_shared_buffers",
				(json_int_t)o->num_shared_buffers, "buf_cache_size", (json_int_t)o->buf_cache_size,
				"dif_insert_or_strip", 0, "zcopy", o->zcopy, "c2h_success", o->c2h_success,
				"sock_priority", (json_int_t)o->sock_priority, "abort_timeout_sec",
				(json_int_t)o->abort_timeout_sec);
	return obj;
}

struct int_opt {
	const char *name;
	json_int_t value; /* -1: not given */
	json_int_t min, max;
};

static void rpc_nvmf_create_transport(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	const char *trtype = NULL, *tgt_name = NULL;
	struct int_opt io[] = {
		{"max_queue_depth", -1, 2, UINT16_MAX},     {"max_io_qpairs_per_ctrlr", -1, 1, UINT16_MAX - 1},
		{"in_capsule_data_size", -1, 0, 1 << 20},  {"max_io_size", -1, 512, 1 << 24},
		{"io_unit_size", -1, 512, 1 << 24},        {"max_aq_depth", -1, 2, 4096},
		{"num_shared_buffers", -1, 1, 1 << 20},    {"buf_cache_size", -1, 0, UINT32_MAX},
		{"sock_priority", -1, 0, 6},               {"abort_timeout_sec", -1, 0, 3600},
		{"max_qpairs_per_ctrlr", -1, 2, UINT16_MAX}, {"ack_timeout", -1, 0, UINT32_MAX},
		{"data_wr_pool_size", -1, 0, UINT32_MAX},
	};
	int c2h_success = -1, zcopy = -1, dif = 0;
	const struct nvmf_transport_ops *ops = NULL;
	struct nvmf_transport_opts opts;
	int rc;

	(void)ctx;
	/* ack_timeout and data_wr_pool_size are RDMA-only in SPDK and ignored by its TCP transport
	 * too; they are accepted so that configs saved by SPDK load. */
	if (reactor_rpc_decode_params(req, params,
				      "{s:s, s?s, s?I, s?I, s?I, s?I, s?I, s?I, s?I, s?I, s?I, s?I, s?I, s?I, s?I, "
				      "s?b, s?b, s?b !}",
				      "trtype", &trtype, "tgt_name", &tgt_name, io[0].name, &io[0].value, io[1].name,
				      &io[1].value, io[2].name, &io[2].value, io[3].name, &io[3].value, io[4].name,
				      &io[4].value, io[5].name, &io[5].value, io[6].name, &io[6].value, io[7].name,
				      &io[7].value, io[8].name, &io[8].value, io[9].name, &io[9].value, io[10].name,
				      &io[10].value, io[11].name, &io[11].value, io[12].name, &io[12].value,
				      "c2h_success", &c2h_success, "zcopy", &zcopy, "dif_insert_or_strip", &dif) != 0)
		return;
	if (!tgt_name_ok(req, tgt_name))
		return;
	for (size_t i = 0; nvmf_transport_types[i] != NULL; i++)
		if (strcasecmp(nvmf_transport_types[i]->name, trtype) == 0)
			ops = nvmf_transport_types[i];
	if (ops == NULL) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field 'trtype': unknown transport type '%s' (expected TCP)", trtype);
		return;
	}
	for (size_t i = 0; i < sizeof(io) / sizeof(io[0]); i++) {
		if (io[i].value != -1 && (io[i].value < io[i].min || io[i].value > io[i].max)) {
			reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
					       "Invalid params: field '%s': %lld is out of range (%lld to %lld)",
					       io[i].name, (long long)io[i].value, (long long)io[i].min,
					       (long long)io[i].max);
			return;
		}
	}
	if (dif) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field 'dif_insert_or_strip': not supported by this target");
		return;
	}
	if (nvmf_tgt_find_transport(ops->name) != NULL) {
		reactor_rpc_send_error(req, -EEXIST, "Transport type %s already exists", ops->name);
		return;
	}
	memset(&opts, 0, sizeof(opts));
	ops->opts_init(&opts);
	if (io[0].value != -1)
		opts.max_queue_depth = (uint16_t)io[0].value;
	if (io[10].value != -1) /* SPDK's deprecated spelling, admin queue included */
		opts.max_qpairs_per_ctrlr = (uint16_t)io[10].value;
	if (io[1].value != -1)
		opts.max_qpairs_per_ctrlr = (uint16_t)(io[1].value + 1);
	if (io[2].value != -1)
		opts.in_capsule_data_size = (uint32_t)io[2].value;
	if (io[3].value != -1)
		opts.max_io_size = (uint32_t)io[3].value;
	if (io[4].value != -1)
		opts.io_unit_size = (uint32_t)io[4].value;
	if (io[5].value != -1)
		opts.max_aq_depth = (uint16_t)io[5].value;
	if (io[6].value != -1)
		opts.num_shared_buffers = (uint32_t)io[6].value;
	if (io[7].value != -1)
		opts.buf_cache_size = (uint32_t)io[7].value;
	if (io[8].value != -1)
		opts.sock_priority = (int32_t)io[8].value;
	if (io[9].value != -1)
		opts.abort_timeout_sec = (uint32_t)io[9].value;
	if (c2h_success != -1)
		opts.c2h_success = c2h_success != 0;
	if (zcopy != -1)
		opts.zcopy = zcopy != 0;
	rc = nvmf_tgt_add_transport(ops->name, &opts);
	if (rc == -EEXIST)
		reactor_rpc_send_error(req, rc, "Transport type %s already exists", ops->name);
	else if (rc == -EINVAL)
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: the %s transport refused these options (see the target's log)",
				       ops->name);
	else if (rc != 0)
		reactor_rpc_send_error(req, rc, "Unable to create the %s transport: %s", ops->name, strerror(-rc));
	else
		reactor_rpc_send_bool(req, true);
}

static void rpc_nvmf_get_transports(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	const char *trtype = NULL, *tgt_name = NULL;
	struct nvmf_transport *t;
	json_t *arr;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s?s, s?s !}", "trtype", &trtype, "tgt_name", &tgt_name) != 0 ||
	    !tgt_name_ok(req, tgt_name))
		return;
	if (trtype != NULL && nvmf_tgt_find_transport(trtype) == NULL) {
		reactor_rpc_send_error(req, -ENODEV, "Unable to find transport type %s", trtype);
		return;
	}
	arr = json_array();
	TAILQ_FOREACH(t, &g_nvmf.transports, link) {
		json_t *o;

		if (trtype != NULL && strcasecmp(trtype, t->ops->name) != 0)
			continue;
		o = transport_json(t);
		if (t->ops->dump_opts != NULL)
			t->ops->dump_opts(t, o);
		json_array_append_new(arr, o);
	}
	reactor_rpc_send_result(req, arr);
}

/* ---- subsystems -------------------------------------------------------------------- */

static void rpc_nvmf_set_max_subsystems(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	json_int_t max = 0;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s:I !}", "max_subsystems", &max) != 0)
		return;
	if (max < 1 || max > NVMF_MAX_SUBSYSTEMS) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field 'max_subsystems': %lld is out of range (1 to %d)",
				       (long long)max, NVMF_MAX_SUBSYSTEMS);
		return;
	}
	g_max_subsystems = (uint32_t)max;
	reactor_rpc_send_bool(req, true);
}

/*
 * SPDK's target-wide settings, so that configs saved by SPDK load: the
 * values this target has (it accepts connections on fd events, so there is
 * no acceptor poll rate to set) are accepted, others refused by name.
 */
static void rpc_nvmf_set_config(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	const char *filter = NULL, *mask = NULL;
	json_int_t poll_rate = 0;
	int identify_passthru = 0;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s?I, s?{s?b !}, s?s, s?s !}", "acceptor_poll_rate", &poll_rate,
				      "admin_cmd_passthru", "identify_ctrlr", &identify_passthru, "discovery_filter",
				      &filter, "poll_groups_mask", &mask) != 0)
		return;
	if (identify_passthru)
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS, "Invalid params: field "
				       "'admin_cmd_passthru.identify_ctrlr': no passthrough in this target (bdevs only)");
	else if (filter != NULL && strcmp(filter, "match_any") != 0)
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS, "Invalid params: field 'discovery_filter': "
				       "only match_any is supported, not '%s'", filter);
	else if (mask != NULL)
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS, "Invalid params: field 'poll_groups_mask': "
				       "poll groups run on every core of the app's mask (-m)");
	else if (poll_rate < 0)
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field 'acceptor_poll_rate': must not be negative");
	else
		reactor_rpc_send_bool(req, true);
}

static uint32_t count_subsystems(void)
{
	struct nvmf_subsystem *s;
	uint32_t n = 0;
	bool discovery_listed = false;

	TAILQ_FOREACH(s, &g_nvmf.subsystems, link) {
		n++;
		discovery_listed |= s == g_nvmf.discovery;
	}
	return n + (!discovery_listed && g_nvmf.discovery != NULL);
}

struct destroy_req {
	struct reactor_rpc_request *req;
	char nqn[NVME_NQN_SIZE];
	char why[160]; /* non-empty: a create that failed half-way; answer this error */
	int code;
};

static void destroy_ignored(void *arg, int rc)
{
	(void)arg;
	(void)rc;
}

static void destroy_done(void *arg, int rc)
{
	struct destroy_req *d = arg;

	if (d->why[0] != '\0')
		reactor_rpc_send_error(d->req, d->code, "%s", d->why);
	else if (rc != 0)
		reactor_rpc_send_error(d->req, rc, "Unable to delete subsystem %s: %s", d->nqn, strerror(-rc));
	else
		reactor_rpc_send_bool(d->req, true);
	free(d);
}

/* Undo a create whose later step failed, then answer @p code / @p why. */
static void create_failed(struct reactor_rpc_request *req, struct nvmf_subsystem *s, int code, const char *why)
{
	struct destroy_req *d = calloc(1, sizeof(*d));

	if (d == NULL) {
		reactor_rpc_send_error(req, code, "%s", why);
		nvmf_subsystem_destroy(s, destroy_ignored, NULL);
		return;
	}
	d->req = req;
	d->code = code;
	snprintf(d->why, sizeof(d->why), "%s", why);
	nvmf_subsystem_destroy(s, destroy_done, d);
}

static void rpc_nvmf_create_subsystem(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	const char *nqn = NULL, *sn = NULL, *mn = NULL, *tgt_name = NULL;
	json_int_t max_ns = 0, min_cntlid = 1, max_cntlid = MAX_CNTLID;
	int allow_any_host = 0, ana_reporting = 0, rc = 0;
	struct nvmf_subsystem *s;
	char why[160];

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s:s, s?s, s?s, s?s, s?b, s?I, s?b, s?I, s?I !}", "nqn", &nqn,
				      "tgt_name", &tgt_name, "serial_number", &sn, "model_number", &mn,
				      "allow_any_host", &allow_any_host, "max_namespaces", &max_ns, "ana_reporting",
				      &ana_reporting, "min_cntlid", &min_cntlid, "max_cntlid", &max_cntlid) != 0 ||
	    !tgt_name_ok(req, tgt_name) || !nqn_ok(req, "nqn", nqn))
		return;
	if (strcmp(nqn, NVME_DISCOVERY_NQN) == 0 || nvmf_subsystem_find(nqn) != NULL) {
		reactor_rpc_send_error(req, -EEXIST, "Unable to create subsystem %s: it already exists", nqn);
		return;
	}
	if (max_ns < 0 || max_ns > NVMF_MAX_NAMESPACES) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field 'max_namespaces': %lld is out of range (0 for the "
				       "default %d, up to %d)", (long long)max_ns, NVMF_MAX_NAMESPACES_DEFAULT,
				       NVMF_MAX_NAMESPACES);
		return;
	}
	if (min_cntlid < 1 || max_cntlid > MAX_CNTLID || min_cntlid > max_cntlid) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: fields 'min_cntlid'/'max_cntlid': %lld..%lld is not a range "
				       "within 1..%d", (long long)min_cntlid, (long long)max_cntlid, MAX_CNTLID);
		return;
	}
	if (sn != NULL && (sn[0] == '\0' || strlen(sn) > NVMF_SERIAL_LEN)) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field 'serial_number': expected 1 to %d printable ASCII "
				       "characters", NVMF_SERIAL_LEN);
		return;
	}
	if (mn != NULL && (mn[0] == '\0' || strlen(mn) > NVMF_MODEL_LEN)) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field 'model_number': expected 1 to %d printable ASCII "
				       "characters", NVMF_MODEL_LEN);
		return;
	}
	if (count_subsystems() >= g_max_subsystems) {
		reactor_rpc_send_error(req, -ENOSPC, "Unable to create subsystem %s: the target has its maximum "
				       "of %u subsystems (nvmf_set_max_subsystems)", nqn, g_max_subsystems);
		return;
	}
	s = nvmf_subsystem_create(nqn, NVMF_SUBTYPE_NVME,
				  max_ns == 0 ? NVMF_MAX_NAMESPACES_DEFAULT : (uint32_t)max_ns, &rc);
	if (s == NULL) {
		reactor_rpc_send_error(req, rc != 0 ? rc : -ENOMEM, "Unable to create subsystem %s: %s", nqn,
				       strerror(rc != 0 ? -rc : ENOMEM));
		return;
	}
	if (sn != NULL && nvmf_subsystem_set_sn(s, sn) != 0) {
		snprintf(why, sizeof(why), "Invalid params: field 'serial_number': '%.40s' is not 1 to %d printable "
			 "ASCII characters", sn, NVMF_SERIAL_LEN);
		create_failed(req, s, REACTOR_RPC_INVALID_PARAMS, why);
		return;
	}
	if (mn != NULL && nvmf_subsystem_set_mn(s, mn) != 0) {
		snprintf(why, sizeof(why), "Invalid params: field 'model_number': '%.60s' is not 1 to %d printable "
			 "ASCII characters", mn, NVMF_MODEL_LEN);
		create_failed(req, s, REACTOR_RPC_INVALID_PARAMS, why);
		return;
	}
	pthread_mutex_lock(&g_nvmf.lock);
	s->allow_any_host = allow_any_host != 0;
	s->ana_reporting = ana_reporting != 0;
	s->min_cntlid = (uint16_t)min_cntlid;
	s->max_cntlid = (uint16_t)max_cntlid;
	pthread_mutex_unlock(&g_nvmf.lock);
	pthread_mutex_lock(&s->ctrlr_lock);
	s->next_cntlid = (uint16_t)min_cntlid; /* no controller yet: the first one gets min_cntlid */
	pthread_mutex_unlock(&s->ctrlr_lock);
	reactor_rpc_send_bool(req, true);
}

static void rpc_nvmf_delete_subsystem(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	const char *nqn = NULL, *tgt_name = NULL;
	struct nvmf_subsystem *s;
	struct destroy_req *d;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s:s, s?s !}", "nqn", &nqn, "tgt_name", &tgt_name) != 0 ||
	    !tgt_name_ok(req, tgt_name))
		return;
	if (strcmp(nqn, NVME_DISCOVERY_NQN) == 0) {
		reactor_rpc_send_error(req, -EPERM, "Unable to delete subsystem %s: the discovery subsystem cannot "
				       "be deleted", nqn);
		return;
	}
	s = find_subsystem(req, nqn);
	if (s == NULL)
		return;
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		reactor_rpc_send_error(req, -ENOMEM, "out of memory");
		return;
	}
	d->req = req;
	snprintf(d->nqn, sizeof(d->nqn), "%s", nqn);
	nvmf_subsystem_destroy(s, destroy_done, d);
}

static json_t *ns_json(const struct nvmf_ns *ns)
{
	json_t *o = json_pack("{s:I, s:s, s:s}", "nsid", (json_int_t)ns->nsid, "bdev_name", ns->bdev_name, "name",
			      ns->bdev_name);

	if (ns->has_nguid)
		json_object_set_new(o, "nguid", hex_json(ns->nguid, 16));
	if (ns->has_eui64)
		json_object_set_new(o, "eui64", hex_json(ns->eui64, 8));
	if (ns->has_uuid)
		json_object_set_new(o, "uuid", uuid_json(ns->uuid));
	/* The ANA group is the NSID unless set otherwise; it only matters with ANA reporting. */
	if (ns->anagrpid != ns->nsid || ns->subsystem->ana_reporting)
		json_object_set_new(o, "anagrpid", json_integer(ns->anagrpid));
	return o;
}

static json_t *subsystem_json(const struct nvmf_subsystem *s)
{
	const struct nvmf_subsystem_listener *l;
	const struct nvmf_host *h;
	json_t *o, *arr;

	o = json_pack("{s:s, s:s}", "nqn", s->nqn, "subtype", s->subtype == NVMF_SUBTYPE_DISCOVERY ? "Discovery" : "NVMe");
	arr = json_array();
	TAILQ_FOREACH(l, &s->listeners, link)
		json_array_append_new(arr, listen_addr_json(&l->addr));
	json_object_set_new(o, "listen_addresses", arr);
	json_object_set_new(o, "allow_any_host", json_boolean(s->allow_any_host));
	arr = json_array();
	TAILQ_FOREACH(h, &s->hosts, link)
		json_array_append_new(arr, json_pack("{s:s}", "nqn", h->nqn));
	json_object_set_new(o, "hosts", arr);
	if (s->subtype == NVMF_SUBTYPE_DISCOVERY)
		return o;
	json_object_set_new(o, "serial_number", json_string(s->serial));
	json_object_set_new(o, "model_number", json_string(s->model));
	json_object_set_new(o, "max_namespaces", json_integer(s->max_nsid));
	json_object_set_new(o, "min_cntlid", json_integer(s->min_cntlid));
	json_object_set_new(o, "max_cntlid", json_integer(s->max_cntlid));
	json_object_set_new(o, "ana_reporting", json_boolean(s->ana_reporting));
	arr = json_array();
	for (uint32_t i = 0; i < s->max_nsid; i++) {
		struct nvmf_ns *ns = atomic_load(&s->ns[i]);

		if (ns != NULL)
			json_array_append_new(arr, ns_json(ns));
	}
	json_object_set_new(o, "namespaces", arr);
	return o;
}

static void rpc_nvmf_get_subsystems(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	const char *tgt_name = NULL, *nqn = NULL;
	struct nvmf_subsystem *s;
	bool discovery_listed = false;
	json_t *arr;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s?s, s?s !}", "tgt_name", &tgt_name, "nqn", &nqn) != 0 ||
	    !tgt_name_ok(req, tgt_name))
		return;
	if (nqn != NULL) {
		s = strcmp(nqn, NVME_DISCOVERY_NQN) == 0 ? g_nvmf.discovery : find_subsystem(req, nqn);
		if (s != NULL)
			reactor_rpc_send_result(req, json_pack("[o]", subsystem_json(s)));
		return;
	}
	arr = json_array();
	TAILQ_FOREACH(s, &g_nvmf.subsystems, link)
		discovery_listed |= s == g_nvmf.discovery;
	if (!discovery_listed && g_nvmf.discovery != NULL)
		json_array_append_new(arr, subsystem_json(g_nvmf.discovery));
	TAILQ_FOREACH(s, &g_nvmf.subsystems, link)
		if (!s->deleting)
			json_array_append_new(arr, subsystem_json(s));
	reactor_rpc_send_result(req, arr);
}

/* ---- listeners --------------------------------------------------------------------- */

static void listener_rpc(struct reactor_rpc_request *req, const json_t *params, bool add)
{
	const char *nqn = NULL, *tgt_name = NULL, *trtype = NULL, *adrfam = NULL, *traddr = NULL, *trsvcid = NULL;
	int secure = 0, rc;
	struct nvmf_listen_addr addr;
	struct nvmf_subsystem *s;

	if (reactor_rpc_decode_params(req, params, "{s:s, s?s, s:" ADDR_FMT ", s?b !}",
				      "nqn", &nqn, "tgt_name", &tgt_name, "listen_address",
				      ADDR_ARGS(trtype, adrfam, traddr, trsvcid), "secure_channel", &secure) != 0 ||
	    !tgt_name_ok(req, tgt_name))
		return;
	if (secure) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field 'secure_channel': TLS is not supported by this target");
		return;
	}
	s = strcmp(nqn, NVME_DISCOVERY_NQN) == 0 ? g_nvmf.discovery : find_subsystem(req, nqn);
	if (s == NULL || !parse_listen_addr(req, "listen_address", trtype, adrfam, traddr, trsvcid, &addr))
		return;
	if (add && nvmf_tgt_find_transport(addr.trtype) == NULL) {
		reactor_rpc_send_error(req, -ENODEV, "Unable to add listener to %s: no %s transport (call "
				       "nvmf_create_transport first)", nqn, addr.trtype);
		return;
	}
	rc = add ? nvmf_subsystem_add_listener(s, &addr) : nvmf_subsystem_remove_listener(s, &addr);
	if (rc == 0)
		reactor_rpc_send_bool(req, true);
	else if (add && rc == -EEXIST)
		reactor_rpc_send_error(req, rc, "Unable to add listener to %s: it already listens on %s %s port %s",
				       nqn, addr.trtype, addr.traddr, addr.trsvcid);
	else if (!add && rc == -ENOENT)
		reactor_rpc_send_error(req, rc, "Unable to remove listener of %s: it does not listen on %s %s port %s",
				       nqn, addr.trtype, addr.traddr, addr.trsvcid);
	else
		reactor_rpc_send_error(req, rc, "Unable to %s listener %s %s port %s %s %s: %s", add ? "add" : "remove",
				       addr.trtype, addr.traddr, addr.trsvcid, add ? "to" : "of", nqn, strerror(-rc));
}

static void rpc_nvmf_subsystem_add_listener(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)ctx;
	listener_rpc(req, params, true);
}

static void rpc_nvmf_subsystem_remove_listener(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)ctx;
	listener_rpc(req, params, false);
}

/* Decode {nqn, tgt_name} and find the subsystem (the discovery one included). */
static struct nvmf_subsystem *query_subsystem(struct reactor_rpc_request *req, const json_t *params)
{
	const char *nqn = NULL, *tgt_name = NULL;

	if (reactor_rpc_decode_params(req, params, "{s:s, s?s !}", "nqn", &nqn, "tgt_name", &tgt_name) != 0 ||
	    !tgt_name_ok(req, tgt_name))
		return NULL;
	if (strcmp(nqn, NVME_DISCOVERY_NQN) == 0 && g_nvmf.discovery != NULL)
		return g_nvmf.discovery;
	return find_subsystem(req, nqn);
}

static void rpc_nvmf_subsystem_get_listeners(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	struct nvmf_subsystem *s = query_subsystem(req, params);
	struct nvmf_subsystem_listener *l;
	json_t *arr;

	(void)ctx;
	if (s == NULL)
		return;
	arr = json_array();
	TAILQ_FOREACH(l, &s->listeners, link) {
		json_t *o = json_pack("{s:o}", "address", listen_addr_json(&l->addr));

		if (s->ana_reporting) {
			json_t *states = json_array();

			for (uint32_t i = 0; i < s->max_nsid; i++)
				json_array_append_new(states, json_pack("{s:I, s:s}", "ana_group", (json_int_t)i + 1,
									"ana_state", "optimized"));
			json_object_set_new(o, "ana_states", states);
		}
		json_array_append_new(arr, o);
	}
	reactor_rpc_send_result(req, arr);
}

/* ---- namespaces ---------------------------------------------------------------------- */

static void rpc_nvmf_subsystem_add_ns(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	const char *nqn = NULL, *tgt_name = NULL, *bdev_name = NULL, *nguid_s = NULL, *eui64_s = NULL,
		   *uuid_s = NULL, *ptpl_file = NULL;
	json_int_t nsid = 0, anagrpid = 0;
	int no_auto_visible = 0, rc;
	uint8_t nguid[16], eui64[8], uuid[16];
	struct nvmf_subsystem *s;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s:s, s?s, s:{s:s, s?I, s?s, s?s, s?s, s?I, s?s, s?b !} !}",
				      "nqn", &nqn, "tgt_name", &tgt_name, "namespace", "bdev_name", &bdev_name, "nsid",
				      &nsid, "nguid", &nguid_s, "eui64", &eui64_s, "uuid", &uuid_s, "anagrpid",
				      &anagrpid, "ptpl_file", &ptpl_file, "no_auto_visible", &no_auto_visible) != 0 ||
	    !tgt_name_ok(req, tgt_name))
		return;
	s = find_subsystem(req, nqn);
	if (s == NULL)
		return;
	if (s->subtype == NVMF_SUBTYPE_DISCOVERY) {
		reactor_rpc_send_error(req, -EINVAL, "Unable to add namespace: %s is a discovery subsystem", nqn);
		return;
	}
	if (nsid < 0 || nsid > UINT32_MAX - 1) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field 'namespace.nsid': %lld is not a namespace ID (1 to %u, "
				       "or 0 for the lowest free one)", (long long)nsid, s->max_nsid);
		return;
	}
	if (nguid_s != NULL && parse_hex(nguid_s, nguid, sizeof(nguid)) != 0) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field 'namespace.nguid': '%s' is not 32 hex digits", nguid_s);
		return;
	}
	if (eui64_s != NULL && parse_hex(eui64_s, eui64, sizeof(eui64)) != 0) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field 'namespace.eui64': '%s' is not 16 hex digits", eui64_s);
		return;
	}
	if (uuid_s != NULL && (strlen(uuid_s) != 36 || parse_hex(uuid_s, uuid, sizeof(uuid)) != 0 ||
			       uuid_s[8] != '-' || uuid_s[13] != '-' || uuid_s[18] != '-' || uuid_s[23] != '-')) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field 'namespace.uuid': '%s' is not a UUID "
				       "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", uuid_s);
		return;
	}
	if (anagrpid < 0 || anagrpid > UINT32_MAX - 1) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field 'namespace.anagrpid': %lld is out of range", (long long)anagrpid);
		return;
	}
	if (ptpl_file != NULL || no_auto_visible) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS, "Invalid params: field 'namespace.%s': not "
				       "supported by this target", ptpl_file != NULL ? "ptpl_file" : "no_auto_visible");
		return;
	}
	rc = nvmf_subsystem_add_ns(s, bdev_name, (uint32_t)nsid, nguid_s ? nguid : NULL, eui64_s ? eui64 : NULL,
				   uuid_s ? uuid : NULL, (uint32_t)anagrpid);
	if (rc > 0)
		reactor_rpc_send_result(req, json_integer(rc));
	else if (rc == -ENODEV)
		reactor_rpc_send_error(req, rc, "Unable to add namespace to %s: no bdev named %s", nqn, bdev_name);
	else if (rc == -EEXIST)
		reactor_rpc_send_error(req, rc, "Unable to add namespace to %s: NSID %lld is already in use", nqn,
				       (long long)nsid);
	else if (rc == -ERANGE)
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS, "Invalid params: field 'namespace.nsid': "
				       "%lld is above max_namespaces (%u) of %s", (long long)nsid, s->max_nsid, nqn);
	else if (rc == -ENOSPC)
		reactor_rpc_send_error(req, rc, "Unable to add namespace to %s: all %u namespaces are in use "
				       "(max_namespaces)", nqn, s->max_nsid);
	else
		reactor_rpc_send_error(req, rc, "Unable to add namespace %s to %s: %s", bdev_name, nqn, strerror(-rc));
}

struct remove_ns_req {
	struct reactor_rpc_request *req;
	char nqn[NVME_NQN_SIZE];
	uint32_t nsid;
};

static void remove_ns_done(void *arg, int rc)
{
	struct remove_ns_req *r = arg;

	if (rc == 0)
		reactor_rpc_send_bool(r->req, true);
	else if (rc == -ENOENT)
		reactor_rpc_send_error(r->req, rc, "Unable to remove namespace %u of %s: no such namespace", r->nsid,
				       r->nqn);
	else
		reactor_rpc_send_error(r->req, rc, "Unable to remove namespace %u of %s: %s", r->nsid, r->nqn,
				       strerror(-rc));
	free(r);
}

static void rpc_nvmf_subsystem_remove_ns(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	const char *nqn = NULL, *tgt_name = NULL;
	json_int_t nsid = 0;
	struct nvmf_subsystem *s;
	struct remove_ns_req *r;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s:s, s:I, s?s !}", "nqn", &nqn, "nsid", &nsid, "tgt_name",
				      &tgt_name) != 0 ||
	    !tgt_name_ok(req, tgt_name))
		return;
	s = find_subsystem(req, nqn);
	if (s == NULL)
		return;
	if (nsid < 1 || nsid > UINT32_MAX || nvmf_subsystem_get_ns(s, (uint32_t)nsid) == NULL) {
		reactor_rpc_send_error(req, -ENOENT, "Unable to remove namespace %lld of %s: no such namespace",
				       (long long)nsid, nqn);
		return;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		reactor_rpc_send_error(req, -ENOMEM, "out of memory");
		return;
	}
	r->req = req;
	r->nsid = (uint32_t)nsid;
	snprintf(r->nqn, sizeof(r->nqn), "%s", nqn);
	nvmf_subsystem_remove_ns(s, r->nsid, remove_ns_done, r);
}

/* ---- hosts ------------------------------------------------------------------------- */

static void host_rpc(struct reactor_rpc_request *req, const json_t *params, bool add)
{
	const char *nqn = NULL, *host = NULL, *tgt_name = NULL, *psk = NULL, *dhchap = NULL, *dhchap_ctrlr = NULL;
	struct nvmf_subsystem *s;
	int rc;

	if (reactor_rpc_decode_params(req, params, "{s:s, s:s, s?s, s?s, s?s, s?s !}", "nqn", &nqn, "host", &host,
				      "tgt_name", &tgt_name, "psk", &psk, "dhchap_key", &dhchap, "dhchap_ctrlr_key",
				      &dhchap_ctrlr) != 0 ||
	    !tgt_name_ok(req, tgt_name))
		return;
	if (psk != NULL || dhchap != NULL || dhchap_ctrlr != NULL) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS, "Invalid params: field '%s': TLS and "
				       "DH-HMAC-CHAP are not supported by this target",
				       psk != NULL ? "psk" : dhchap != NULL ? "dhchap_key" : "dhchap_ctrlr_key");
		return;
	}
	if (!nqn_ok(req, "host", host))
		return;
	s = strcmp(nqn, NVME_DISCOVERY_NQN) == 0 ? g_nvmf.discovery : find_subsystem(req, nqn);
	if (s == NULL)
		return;
	rc = add ? nvmf_subsystem_add_host(s, host) : nvmf_subsystem_remove_host(s, host);
	if (rc == 0)
		reactor_rpc_send_bool(req, true);
	else if (add && rc == -EEXIST)
		reactor_rpc_send_error(req, rc, "Unable to add host %s to %s: it is already allowed", host, nqn);
	else if (!add && rc == -ENOENT)
		reactor_rpc_send_error(req, rc, "Unable to remove host %s from %s: it is not in the list", host, nqn);
	else
		reactor_rpc_send_error(req, rc, "Unable to %s host %s %s %s: %s", add ? "add" : "remove", host,
				       add ? "to" : "from", nqn, strerror(-rc));
}

static void rpc_nvmf_subsystem_add_host(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)ctx;
	host_rpc(req, params, true);
}

static void rpc_nvmf_subsystem_remove_host(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)ctx;
	host_rpc(req, params, false);
}

static void rpc_nvmf_subsystem_allow_any_host(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	const char *nqn = NULL, *tgt_name = NULL;
	int allow = 0;
	struct nvmf_subsystem *s;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s:s, s:b, s?s !}", "nqn", &nqn, "allow_any_host", &allow,
				      "tgt_name", &tgt_name) != 0 ||
	    !tgt_name_ok(req, tgt_name))
		return;
	s = strcmp(nqn, NVME_DISCOVERY_NQN) == 0 ? g_nvmf.discovery : find_subsystem(req, nqn);
	if (s == NULL)
		return;
	pthread_mutex_lock(&g_nvmf.lock); /* Connect reads it under the lock */
	s->allow_any_host = allow != 0;
	pthread_mutex_unlock(&g_nvmf.lock);
	reactor_rpc_send_bool(req, true);
}

/* ---- controllers, queue pairs, statistics ------------------------------------------- */

/* Size of a controller's io_qpairs[]: the transport's max_qpairs_per_ctrlr (one transport per type, options fixed at creation). */
static uint32_t io_qpair_slots(void)
{
	struct nvmf_transport *t;
	uint32_t n = 0;

	TAILQ_FOREACH(t, &g_nvmf.transports, link)
		if (n == 0 || t->opts.max_qpairs_per_ctrlr < n)
			n = t->opts.max_qpairs_per_ctrlr;
	return n;
}

static void rpc_nvmf_subsystem_get_controllers(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	struct nvmf_subsystem *s = query_subsystem(req, params);
	uint32_t slots = io_qpair_slots();
	struct nvmf_ctrlr *c;
	json_t *arr;

	(void)ctx;
	if (s == NULL)
		return;
	arr = json_array();
	pthread_mutex_lock(&s->ctrlr_lock);
	TAILQ_FOREACH(c, &s->ctrlrs, link) {
		uint32_t n = 0;

		for (uint32_t qid = 1; c->io_qpairs != NULL && qid < slots; qid++)
			n += c->io_qpairs[qid] != NULL;
		json_array_append_new(arr, json_pack("{s:I, s:s, s:o, s:I}", "cntlid", (json_int_t)c->cntlid, "hostnqn",
						     c->hostnqn, "hostid", uuid_json(c->hostid), "num_io_qpairs",
						     (json_int_t)n));
	}
	pthread_mutex_unlock(&s->ctrlr_lock);
	reactor_rpc_send_result(req, arr);
}

/*
 * Visit every poll group on its own thread, one after the other (app thread
 * → group → app thread → next group), so that a group's lists are read
 * only by their owner and the result is built by one thread at a time.
 */
struct pg_walk {
	struct reactor_rpc_request *req;
	const struct nvmf_subsystem *subsystem; /* compared by address only, off the app thread */
	void (*visit)(struct pg_walk *w, struct nvmf_poll_group *pg);	/* on the group's thread */
	void (*after)(struct pg_walk *w);	/* then on the app thread; may be NULL */
	struct nvmf_poll_group *pg;
	json_t *out;   /* the result */
	json_t *items; /* the array visit appends to (borrowed from out, or out itself) */
	uint32_t next;
};

static void pg_walk_next(void *arg);

static void pg_walk_visit(void *arg)
{
	struct pg_walk *w = arg;

	w->visit(w, w->pg);
	if (reactor_thread_send_msg(reactor_thread_get_app_thread(), pg_walk_next, w) != 0) {
		/* The app thread is gone: the app is ending and frees unanswered requests itself. */
		REACTOR_ERRLOG("nvmf: cannot return to the app thread while listing poll groups\n");
	}
}

static void pg_walk_next(void *arg)
{
	struct pg_walk *w = arg;

	if (w->next > 0 && w->after != NULL)
		w->after(w);
	if (w->next < g_nvmf.num_pgs && !g_nvmf.stopping) {
		w->pg = g_nvmf.pgs[w->next++];
		if (reactor_thread_send_msg(w->pg->thread, pg_walk_visit, w) == 0)
			return;
		reactor_rpc_send_error(w->req, -ESHUTDOWN, "poll group %u is gone (the target is stopping)",
				       w->next - 1);
		json_decref(w->out);
	} else if (g_nvmf.stopping) {
		reactor_rpc_send_error(w->req, -ESHUTDOWN, "the target is stopping");
		json_decref(w->out);
	} else {
		reactor_rpc_send_result(w->req, w->out);
	}
	free(w);
}

static void pg_walk_start(struct reactor_rpc_request *req, const struct nvmf_subsystem *s, json_t *out,
			  json_t *items, void (*visit)(struct pg_walk *w, struct nvmf_poll_group *pg),
			  void (*after)(struct pg_walk *w))
{
	struct pg_walk *w = calloc(1, sizeof(*w));

	if (w == NULL || out == NULL) {
		free(w);
		json_decref(out);
		reactor_rpc_send_error(req, -ENOMEM, "out of memory");
		return;
	}
	w->req = req;
	w->subsystem = s;
	w->out = out;
	w->items = items;
	w->visit = visit;
	w->after = after;
	pg_walk_next(w);
}

static const char *qpair_state_name(enum nvmf_qpair_state st)
{
	switch (st) {
	case NVMF_QPAIR_CONNECTING:
		return "uninitialized";
	case NVMF_QPAIR_ACTIVE:
		return "active";
	case NVMF_QPAIR_DISCONNECTING:
		return "deactivating";
	}
	return "unknown";
}

static void visit_qpairs(struct pg_walk *w, struct nvmf_poll_group *pg)
{
	struct nvmf_qpair *q;

	TAILQ_FOREACH(q, &pg->qpairs, link) {
		json_t *o;

		if (q->ctrlr == NULL || q->ctrlr->subsystem != w->subsystem)
			continue;
		o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:o}", "cntlid", (json_int_t)q->ctrlr->cntlid, "qid",
			      (json_int_t)q->qid, "state", qpair_state_name(q->state), "thread",
			      reactor_thread_get_name(pg->thread), "hostnqn", q->ctrlr->hostnqn, "listen_address",
			      listen_addr_json(&q->listen_addr));
		if (o != NULL) {
			char port[8];

			snprintf(port, sizeof(port), "%u", q->peer_port);
			json_object_set_new(o, "peer_address",
					    json_pack("{s:s, s:s, s:s, s:s}", "trtype", q->listen_addr.trtype,
						      "adrfam", q->listen_addr.adrfam, "traddr", q->peer_addr,
						      "trsvcid", port));
			json_array_append_new(w->items, o);
		}
	}
}

static void rpc_nvmf_subsystem_get_qpairs(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	struct nvmf_subsystem *s = query_subsystem(req, params);
	json_t *arr;

	(void)ctx;
	if (s == NULL)
		return;
	arr = json_array();
	pg_walk_start(req, s, arr, arr, visit_qpairs, NULL);
}

static void visit_stats(struct pg_walk *w, struct nvmf_poll_group *pg)
{
	json_array_append_new(w->items,
			      json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "name",
					reactor_thread_get_name(pg->thread), "admin_qpairs",
					(json_int_t)pg->admin_qpairs, "io_qpairs", (json_int_t)pg->io_qpairs,
					"current_admin_qpairs", (json_int_t)pg->current_admin_qpairs,
					"current_io_qpairs", (json_int_t)pg->current_io_qpairs, "pending_bdev_io",
					(json_int_t)pg->pending_bdev_io, "completed_nvme_io",
					(json_int_t)pg->completed_nvme_io));
}

/* The transports of the group just visited, listed on the app thread that owns the list. */
static void after_stats(struct pg_walk *w)
{
	json_t *last = json_array_get(w->items, json_array_size(w->items) - 1);
	json_t *transports = json_array();
	struct nvmf_transport *t;

	TAILQ_FOREACH(t, &g_nvmf.transports, link)
		json_array_append_new(transports, json_pack("{s:s}", "trtype", t->ops->name));
	json_object_set_new(last, "transports", transports);
}

static void rpc_nvmf_get_stats(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	const char *tgt_name = NULL;
	json_t *out, *groups;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s?s !}", "tgt_name", &tgt_name) != 0 ||
	    !tgt_name_ok(req, tgt_name))
		return;
	groups = json_array();
	out = json_pack("{s:I, s:o}", "tick_rate", (json_int_t)reactor_get_ticks_hz(), "poll_groups", groups);
	pg_walk_start(req, NULL, out, groups, visit_stats, after_stats);
}

/* ---- discovery referrals ------------------------------------------------------------ */

static void referral_rpc(struct reactor_rpc_request *req, const json_t *params, bool add)
{
	const char *tgt_name = NULL, *trtype = NULL, *adrfam = NULL, *traddr = NULL, *trsvcid = NULL,
		   *subnqn = NULL;
	int secure = 0, rc;
	struct nvmf_listen_addr addr;

	if (reactor_rpc_decode_params(req, params, "{s?s, s:" ADDR_FMT ", s?s, s?b !}", "tgt_name", &tgt_name,
				      "address", ADDR_ARGS(trtype, adrfam, traddr, trsvcid), "subnqn", &subnqn,
				      "secure_channel", &secure) != 0 ||
	    !tgt_name_ok(req, tgt_name))
		return;
	if (subnqn != NULL && !nqn_ok(req, "subnqn", subnqn))
		return;
	if (!parse_listen_addr(req, "address", trtype, adrfam, traddr, trsvcid, &addr))
		return;
	rc = add ? nvmf_referral_add(&addr, subnqn, secure != 0) : nvmf_referral_remove(&addr, subnqn);
	if (rc == 0)
		reactor_rpc_send_bool(req, true);
	else if (add && rc == -EEXIST)
		reactor_rpc_send_error(req, rc, "Unable to add referral %s %s port %s: it already exists", addr.trtype,
				       addr.traddr, addr.trsvcid);
	else if (!add && rc == -ENOENT)
		reactor_rpc_send_error(req, rc, "Unable to remove referral %s %s port %s: no such referral",
				       addr.trtype, addr.traddr, addr.trsvcid);
	else
		reactor_rpc_send_error(req, rc, "Unable to %s referral %s %s port %s: %s", add ? "add" : "remove",
				       addr.trtype, addr.traddr, addr.trsvcid, strerror(-rc));
}

static void rpc_nvmf_discovery_add_referral(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)ctx;
	referral_rpc(req, params, true);
}

static void rpc_nvmf_discovery_remove_referral(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)ctx;
	referral_rpc(req, params, false);
}

static json_t *referral_json(const struct nvmf_referral *r)
{
	return json_pack("{s:o, s:b, s:s}", "address", listen_addr_json(&r->addr), "secure_channel",
			 r->secure_channel, "subnqn", r->subnqn[0] != '\0' ? r->subnqn : NVME_DISCOVERY_NQN);
}

static void rpc_nvmf_discovery_get_referrals(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	const char *tgt_name = NULL;
	struct nvmf_referral *r;
	json_t *arr;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s?s !}", "tgt_name", &tgt_name) != 0 ||
	    !tgt_name_ok(req, tgt_name))
		return;
	arr = json_array();
	TAILQ_FOREACH(r, &g_nvmf.referrals, link)
		json_array_append_new(arr, referral_json(r));
	reactor_rpc_send_result(req, arr);
}

/* ---- the "nvmf" subsystem -------------------------------------------------------------- */

static void add_call(json_t *calls, const char *method, json_t *params)
{
	json_array_append_new(calls, json_pack("{s:s, s:o}", "method", method, "params", params));
}

static void write_subsystem_config(json_t *calls, const struct nvmf_subsystem *s)
{
	const struct nvmf_subsystem_listener *l;
	const struct nvmf_host *h;

	if (s->subtype == NVMF_SUBTYPE_NVME)
		add_call(calls, "nvmf_create_subsystem",
			 json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:b}", "nqn", s->nqn, "serial_number",
				   s->serial, "model_number", s->model, "allow_any_host", s->allow_any_host,
				   "max_namespaces", (json_int_t)s->max_nsid, "min_cntlid", (json_int_t)s->min_cntlid,
				   "max_cntlid", (json_int_t)s->max_cntlid, "ana_reporting", s->ana_reporting));
	else if (!s->allow_any_host) /* the discovery subsystem is made by init, open to any host */
		add_call(calls, "nvmf_subsystem_allow_any_host",
			 json_pack("{s:s, s:b}", "nqn", s->nqn, "allow_any_host", 0));
	TAILQ_FOREACH(l, &s->listeners, link)
		add_call(calls, "nvmf_subsystem_add_listener",
			 json_pack("{s:s, s:o}", "nqn", s->nqn, "listen_address", listen_addr_json(&l->addr)));
	TAILQ_FOREACH(h, &s->hosts, link)
		add_call(calls, "nvmf_subsystem_add_host", json_pack("{s:s, s:s}", "nqn", s->nqn, "host", h->nqn));
	if (s->subtype != NVMF_SUBTYPE_NVME)
		return;
	for (uint32_t i = 0; i < s->max_nsid; i++) {
		struct nvmf_ns *ns = atomic_load(&s->ns[i]);
		json_t *o;

		if (ns == NULL)
			continue;
		o = ns_json(ns);
		json_object_del(o, "name"); /* an output-only alias of bdev_name */
		add_call(calls, "nvmf_subsystem_add_ns", json_pack("{s:s, s:o}", "nqn", s->nqn, "namespace", o));
	}
}

static void nvmf_write_config(json_t *calls)
{
	const struct nvmf_transport *t;
	const struct nvmf_referral *r;
	const struct nvmf_subsystem *s;
	bool discovery_listed = false;

	if (g_max_subsystems != NVMF_MAX_SUBSYSTEMS)
		add_call(calls, "nvmf_set_max_subsystems",
			 json_pack("{s:I}", "max_subsystems", (json_int_t)g_max_subsystems));
	TAILQ_FOREACH(t, &g_nvmf.transports, link)
		add_call(calls, "nvmf_create_transport", transport_json(t));
	TAILQ_FOREACH(r, &g_nvmf.referrals, link) {
		json_t *p = referral_json(r);

		if (r->secure_channel == false)
			json_object_del(p, "secure_channel");
		add_call(calls, "nvmf_discovery_add_referral", p);
	}
	TAILQ_FOREACH(s, &g_nvmf.subsystems, link)
		discovery_listed |= s == g_nvmf.discovery;
	if (!discovery_listed && g_nvmf.discovery != NULL)
		write_subsystem_config(calls, g_nvmf.discovery);
	TAILQ_FOREACH(s, &g_nvmf.subsystems, link)
		if (!s->deleting)
			write_subsystem_config(calls, s);
}

static void tgt_init_done(void *ctx, int rc)
{
	(void)ctx;
	if (rc != 0)
		REACTOR_ERRLOG("nvmf: cannot start the target: %s\n", strerror(-rc));
	reactor_subsystem_init_done(rc);
}

static void nvmf_subsystem_init(void)
{
	nvmf_tgt_init(tgt_init_done, NULL);
}

static void tgt_fini_done(void *ctx)
{
	(void)ctx;
	reactor_subsystem_fini_done();
}

static void nvmf_subsystem_fini(void)
{
	nvmf_tgt_fini(tgt_fini_done, NULL);
}

static const char *const g_nvmf_deps[] = {"bdev", NULL};

static const struct reactor_subsystem g_nvmf_subsystem = {
	.size = sizeof(struct reactor_subsystem),
	.name = "nvmf",
	.depends_on = g_nvmf_deps,
	.init = nvmf_subsystem_init,
	.fini = nvmf_subsystem_fini,
	.write_config = nvmf_write_config,
};

int nvmf_module_init(void)
{
	/* As in SPDK: only the target-wide limits are startup-only; the target exists after init. */
	static const struct {
		const char *name;
		reactor_rpc_method_fn fn;
		uint32_t state;
	} methods[] = {
		{"nvmf_set_max_subsystems", rpc_nvmf_set_max_subsystems, REACTOR_RPC_STARTUP},
		{"nvmf_set_config", rpc_nvmf_set_config, REACTOR_RPC_STARTUP},
		{"nvmf_create_transport", rpc_nvmf_create_transport, REACTOR_RPC_RUNTIME},
		{"nvmf_get_transports", rpc_nvmf_get_transports, REACTOR_RPC_RUNTIME},
		{"nvmf_create_subsystem", rpc_nvmf_create_subsystem, REACTOR_RPC_RUNTIME},
		{"nvmf_delete_subsystem", rpc_nvmf_delete_subsystem, REACTOR_RPC_RUNTIME},
		{"nvmf_get_subsystems", rpc_nvmf_get_subsystems, REACTOR_RPC_RUNTIME},
		{"nvmf_subsystem_add_listener", rpc_nvmf_subsystem_add_listener, REACTOR_RPC_RUNTIME},
		{"nvmf_subsystem_remove_listener", rpc_nvmf_subsystem_remove_listener, REACTOR_RPC_RUNTIME},
		{"nvmf_subsystem_get_listeners", rpc_nvmf_subsystem_get_listeners, REACTOR_RPC_RUNTIME},
		{"nvmf_subsystem_add_ns", rpc_nvmf_subsystem_add_ns, REACTOR_RPC_RUNTIME},
		{"nvmf_subsystem_remove_ns", rpc_nvmf_subsystem_remove_ns, REACTOR_RPC_RUNTIME},
		{"nvmf_subsystem_add_host", rpc_nvmf_subsystem_add_host, REACTOR_RPC_RUNTIME},
		{"nvmf_subsystem_remove_host", rpc_nvmf_subsystem_remove_host, REACTOR_RPC_RUNTIME},
		{"nvmf_subsystem_allow_any_host", rpc_nvmf_subsystem_allow_any_host, REACTOR_RPC_RUNTIME},
		{"nvmf_subsystem_get_controllers", rpc_nvmf_subsystem_get_controllers, REACTOR_RPC_RUNTIME},
		{"nvmf_subsystem_get_qpairs", rpc_nvmf_subsystem_get_qpairs, REACTOR_RPC_RUNTIME},
		{"nvmf_get_stats", rpc_nvmf_get_stats, REACTOR_RPC_RUNTIME},
		{"nvmf_discovery_add_referral", rpc_nvmf_discovery_add_referral, REACTOR_RPC_RUNTIME},
		{"nvmf_discovery_remove_referral", rpc_nvmf_discovery_remove_referral, REACTOR_RPC_RUNTIME},
		{"nvmf_discovery_get_referrals", rpc_nvmf_discovery_get_referrals, REACTOR_RPC_RUNTIME},
	};
	static bool done;
	int rc;

	if (done)
		return 0;
	rc = bdev_module_init();
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		rc = reactor_rpc_register_method(methods[i].name, methods[i].fn, NULL, methods[i].state);
		if (rc != 0 && rc != -EEXIST) {
			REACTOR_ERRLOG("cannot register %s: %s\n", methods[i].name, strerror(-rc));
			return rc;
		}
	}
	rc = reactor_subsystem_register(&g_nvmf_subsystem);
	if (rc != 0 && rc != -EEXIST) {
		REACTOR_ERRLOG("cannot register the nvmf subsystem: %s\n", strerror(-rc));
		return rc;
	}
	done = true;
	return 0;
}
