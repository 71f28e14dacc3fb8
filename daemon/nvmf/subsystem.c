/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Subsystems: namespaces, hosts, listeners, and their teardown. The
 * configuration changes on the app thread; readers elsewhere take
 * g_nvmf.lock, and namespaces are published with atomic stores.
 */
#include "nvmf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SUBSYSTEM_DESTROY_POLL_US 1000
#define SUBSYSTEM_DESTROY_WARN_S 10

/* ---- addresses ------------------------------------------------------------------ */

static bool parse_port(const char *s, unsigned long *port)
{
	char *end;

	if (!*s || !isdigit((unsigned char)*s))
		return false;
	errno = 0;
	*port = strtoul(s, &end, 10);
	return !errno && !*end && *port >= 1 && *port <= 65535;
}

int nvmf_listen_addr_check(struct nvmf_listen_addr *addr)
{
	unsigned char buf[sizeof(struct in6_addr)];
	unsigned long port;
	size_t len;
	int af;

	if (strcasecmp(addr->trtype, "TCP") != 0) {
		REACTOR_ERRLOG("unsupported trtype '%s' (only TCP)", addr->trtype);
		return -EINVAL;
	}
	strcpy(addr->trtype, "TCP");
	/* "[::1]" as users write IPv6 in URLs. */
	len = strnlen(addr->traddr, sizeof(addr->traddr));
	if (len >= 2 && addr->traddr[0] == '[' && addr->traddr[len - 1] == ']') {
		memmove(addr->traddr, addr->traddr + 1, len - 2);
		addr->traddr[len - 2] = '\0';
	}
	if (addr->adrfam[0] == '\0')
		strcpy(addr->adrfam, strchr(addr->traddr, ':') ? "IPv6" : "IPv4");
	if (strcasecmp(addr->adrfam, "IPv4") == 0) {
		strcpy(addr->adrfam, "IPv4");
		af = AF_INET;
	} else if (strcasecmp(addr->adrfam, "IPv6") == 0) {
		strcpy(addr->adrfam, "IPv6");
		af = AF_INET6;
	} else {
		REACTOR_ERRLOG("unsupported adrfam '%s' (IPv4 or IPv6)", addr->adrfam);
		return -EINVAL;
	}
	if (inet_pton(af, addr->traddr, buf) != 1) {
		REACTOR_ERRLOG("traddr '%s' is not a numeric %s address", addr->traddr, addr->adrfam);
		return -EINVAL;
	}
	if (!parse_port(addr->trsvcid, &port)) {
		REACTOR_ERRLOG("trsvcid '%s' is not a port number (1-65535)", addr->trsvcid);
		return -EINVAL;
	}
	snprintf(addr->trsvcid, sizeof(addr->trsvcid), "%lu", port);
	return 0;
}

bool nvmf_listen_addr_equal(const struct nvmf_listen_addr *a, const struct nvmf_listen_addr *b)
{
	unsigned char ba[sizeof(struct in6_addr)], bb[sizeof(struct in6_addr)];
	int af;

	if (strcasecmp(a->trtype, b->trtype) || strcasecmp(a->adrfam, b->adrfam) ||
	    strcmp(a->trsvcid, b->trsvcid))
		return false;
	af = strcasecmp(a->adrfam, "IPv6") == 0 ? AF_INET6 : AF_INET;
	if (inet_pton(af, a->traddr, ba) == 1 && inet_pton(af, b->traddr, bb) == 1)
		return memcmp(ba, bb, af == AF_INET6 ? 16 : 4) == 0;
	return strcmp(a->traddr, b->traddr) == 0;
}

/* ---- create, find, identity ----------------------------------------------------- */

struct nvmf_subsystem *nvmf_subsystem_find(const char *nqn)
{
	struct nvmf_subsystem *s;

	TAILQ_FOREACH(s, &g_nvmf.subsystems, link) {
		if (strcmp(s->nqn, nqn) == 0)
			return s;
	}
	return NULL;
}

struct nvmf_subsystem *nvmf_subsystem_create(const char *nqn, enum nvmf_subtype subtype,
					     uint32_t max_nsid, int *rc)
{
	struct nvmf_subsystem *s;
	uint32_t id;

	*rc = -EINVAL;
	if (!nqn || !nvme_nqn_valid(nqn, strlen(nqn) + 1)) {
		REACTOR_ERRLOG("invalid NQN '%s'", nqn ? nqn : "(null)");
		return NULL;
	}
	if ((subtype == NVMF_SUBTYPE_NVME) != (strcmp(nqn, NVME_DISCOVERY_NQN) != 0)) {
		REACTOR_ERRLOG("NQN '%s': the discovery NQN is only for the discovery subsystem", nqn);
		return NULL;
	}
	if (subtype == NVMF_SUBTYPE_NVME && max_nsid == 0)
		max_nsid = NVMF_MAX_NAMESPACES_DEFAULT;
	if (subtype == NVMF_SUBTYPE_DISCOVERY)
		max_nsid = 0;
	if (max_nsid > NVMF_MAX_NAMESPACES) {
		REACTOR_ERRLOG("subsystem %s: max_namespaces %u is above %u", nqn, max_nsid,
			       NVMF_MAX_NAMESPACES);
		return NULL;
	}
	if (nvmf_subsystem_find(nqn)) {
		REACTOR_ERRLOG("subsystem %s already exists", nqn);
		*rc = -EEXIST;
		return NULL;
	}
	for (id = 0; id < NVMF_MAX_SUBSYSTEMS && g_nvmf.subsystems_by_id[id]; id++)
		;
	if (id == NVMF_MAX_SUBSYSTEMS) {
		REACTOR_ERRLOG("subsystem %s: the target already has %u subsystems", nqn, NVMF_MAX_SUBSYSTEMS);
		*rc = -ENOSPC;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s || (max_nsid && !(s->ns = calloc(max_nsid, sizeof(*s->ns)))) ||
	    (max_nsid && !(s->ns_removing = calloc(max_nsid, sizeof(*s->ns_removing))))) {
		if (s) {
			free(s->ns);
			free(s);
		}
		*rc = -ENOMEM;
		return NULL;
	}
	s->id = id;
	s->subtype = subtype;
	snprintf(s->nqn, sizeof(s->nqn), "%s", nqn);
	snprintf(s->serial, sizeof(s->serial), "%s", NVMF_DEFAULT_SERIAL);
	snprintf(s->model, sizeof(s->model), "%s", NVMF_DEFAULT_MODEL);
	s->min_cntlid = 1;
	s->max_cntlid = 0xffef;	/* FFF0h-FFFFh are reserved */
	s->next_cntlid = 1;
	s->max_nsid = max_nsid;
	TAILQ_INIT(&s->hosts);
	TAILQ_INIT(&s->listeners);
	TAILQ_INIT(&s->ctrlrs);
	pthread_mutex_init(&s->ctrlr_lock, NULL);
	pthread_mutex_lock(&g_nvmf.lock);
	g_nvmf.subsystems_by_id[id] = s;
	TAILQ_INSERT_TAIL(&g_nvmf.subsystems, s, link);
	pthread_mutex_unlock(&g_nvmf.lock);
	*rc = 0;
	return s;
}

static int check_ascii_field(const char *what, const char *v, size_t max)
{
	size_t i, len = v ? strlen(v) : 0;

	if (len == 0 || len > max) {
		REACTOR_ERRLOG("%s must be 1 to %zu characters", what, max);
		return -EINVAL;
	}
	for (i = 0; i < len; i++) {
		if (v[i] < 0x20 || v[i] > 0x7e) {
			REACTOR_ERRLOG("%s must be printable ASCII (character %zu is 0x%02x)", what, i,
				       (unsigned char)v[i]);
			return -EINVAL;
		}
	}
	return 0;
}

int nvmf_subsystem_set_sn(struct nvmf_subsystem *s, const char *sn)
{
	int rc = check_ascii_field("serial number", sn, NVMF_SERIAL_LEN);

	if (rc)
		return rc;
	pthread_mutex_lock(&g_nvmf.lock);
	snprintf(s->serial, sizeof(s->serial), "%s", sn);
	pthread_mutex_unlock(&g_nvmf.lock);
	return 0;
}

int nvmf_subsystem_set_mn(struct nvmf_subsystem *s, const char *mn)
{
	int rc = check_ascii_field("model number", mn, NVMF_MODEL_LEN);

	if (rc)
		return rc;
	pthread_mutex_lock(&g_nvmf.lock);
	snprintf(s->model, sizeof(s->model), "%s", mn);
	pthread_mutex_unlock(&g_nvmf.lock);
	return 0;
}

/* ---- namespaces ------------------------------------------------------------------- */

struct nvmf_ns *nvmf_subsystem_get_ns(struct nvmf_subsystem *s, uint32_t nsid)
{
	if (nsid == 0 || nsid > s->max_nsid)
		return NULL;
	return atomic_load_explicit(&s->ns[nsid - 1], memory_order_acquire);
}

static int parse_uuid(const char *text, uint8_t out[16])
{
	unsigned int i = 0;

	for (; *text && i < 16; text++) {
		if (*text == '-')
			continue;
		if (!isxdigit((unsigned char)text[0]) || !isxdigit((unsigned char)text[1]))
			return -EINVAL;
		sscanf(text, "%2hhx", &out[i++]);
		text++;
	}
	return i == 16 && !*text ? 0 : -EINVAL;
}

static void ctrlr_ns_changed(struct nvmf_ctrlr *ctrlr, uintptr_t nsid)
{
	nvmf_ctrlr_note_ns_changed(ctrlr, (uint32_t)nsid);
}

static void notify_ctrlrs_ns_changed(struct nvmf_subsystem *s, uint32_t nsid)
{
	nvmf_subsystem_foreach_ctrlr(s, ctrlr_ns_changed, nsid);
}

int nvmf_subsystem_add_ns(struct nvmf_subsystem *s, const char *bdev_name, uint32_t nsid,
			  const uint8_t *nguid, const uint8_t *eui64, const uint8_t *uuid,
			  uint32_t anagrpid)
{
	struct nvmf_ns *ns;
	struct bdev *bdev;

	if (s->subtype != NVMF_SUBTYPE_NVME || s->deleting) {
		REACTOR_ERRLOG("subsystem %s cannot take namespaces", s->nqn);
		return -EINVAL;
	}
	bdev = bdev_name ? bdev_get_by_name(bdev_name) : NULL;
	if (!bdev) {
		REACTOR_ERRLOG("subsystem %s: no bdev named '%s'", s->nqn, bdev_name ? bdev_name : "(null)");
		return -ENODEV;
	}
	if (nsid > s->max_nsid) {
		REACTOR_ERRLOG("subsystem %s: nsid %u is above max_namespaces %u", s->nqn, nsid, s->max_nsid);
		return -ERANGE;
	}
	if (nsid == 0) {
		for (nsid = 1; nsid <= s->max_nsid; nsid++) {
			if (!nvmf_subsystem_get_ns(s, nsid) && !s->ns_removing[nsid - 1])
				break;
		}
		if (nsid > s->max_nsid) {
			REACTOR_ERRLOG("subsystem %s: all %u namespaces are in use", s->nqn, s->max_nsid);
			return -ENOSPC;
		}
	} else if (nvmf_subsystem_get_ns(s, nsid) || s->ns_removing[nsid - 1]) {
		REACTOR_ERRLOG("subsystem %s: nsid %u is %s", s->nqn, nsid,
			       s->ns_removing[nsid - 1] ? "still being removed" : "already in use");
		return -EEXIST;
	}
	ns = calloc(1, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	ns->nsid = nsid;
	ns->bdev = bdev;
	snprintf(ns->bdev_name, sizeof(ns->bdev_name), "%s", bdev_get_name(bdev));
	ns->subsystem = s;
	ns->anagrpid = anagrpid ? anagrpid : nsid;
	/* Identities default to the bdev's UUID: the same configuration gives the
	 * same identities after a restart, so hosts see the same disks. */
	if (uuid) {
		memcpy(ns->uuid, uuid, 16);
		ns->has_uuid = true;
	} else if (parse_uuid(bdev_get_uuid(bdev), ns->uuid) == 0) {
		ns->has_uuid = true;
	}
	if (nguid) {
		memcpy(ns->nguid, nguid, 16);
		ns->has_nguid = true;
	} else if (!eui64 && ns->has_uuid) {
		memcpy(ns->nguid, ns->uuid, 16);
		ns->has_nguid = true;
	}
	if (eui64) {
		memcpy(ns->eui64, eui64, 8);
		ns->has_eui64 = true;
	}
	atomic_store_explicit(&s->ns[nsid - 1], ns, memory_order_release);
	REACTOR_NOTICELOG("subsystem %s: namespace %u on bdev %s", s->nqn, nsid, ns->bdev_name);
	notify_ctrlrs_ns_changed(s, nsid);
	return (int)nsid;
}

struct ns_remove_ctx {
	struct nvmf_ns *ns;
	void (*cb)(void *ctx, int rc);
	void *ctx;
};

/* Poll group step: let go of the namespace's channel once its I/O is done. */
static void pg_ns_remove(struct nvmf_poll_group *pg, struct nvmf_pg_step *step)
{
	struct ns_remove_ctx *c = nvmf_pg_step_ctx(step);
	struct nvmf_ns *ns = c->ns;
	struct nvmf_pg_subsystem *ps = pg->subsystems[ns->subsystem->id];
	struct nvmf_pg_ns *e;

	if (!ps || ns->nsid > ps->num_ns || ps->ns[ns->nsid - 1].ns != ns) {
		nvmf_pg_step_done(step, 0);
		return;
	}
	e = &ps->ns[ns->nsid - 1];
	if (e->outstanding) {
		e->put_pending = true;
		e->put_step = step;
		return;
	}
	bdev_put_io_channel(e->ch);
	memset(e, 0, sizeof(*e));
	nvmf_pg_step_done(step, 0);
}

void nvmf_pg_ns_io_done(struct nvmf_pg_ns *pgns)
{
	struct nvmf_pg_step *step;

	if (--pgns->outstanding || !pgns->put_pending)
		return;
	step = pgns->put_step;
	bdev_put_io_channel(pgns->ch);
	memset(pgns, 0, sizeof(*pgns));
	nvmf_pg_step_done(step, 0);
}

struct nvmf_pg_ns *nvmf_pg_ns_get(struct nvmf_poll_group *pg, struct nvmf_ns *ns)
{
	struct nvmf_subsystem *s = ns->subsystem;
	struct nvmf_pg_subsystem *ps = pg->subsystems[s->id];
	struct nvmf_pg_ns *e;

	if (!ps) {
		ps = calloc(1, sizeof(*ps));
		if (!ps || !(ps->ns = calloc(s->max_nsid, sizeof(*ps->ns)))) {
			free(ps);
			errno = ENOMEM;
			return NULL;
		}
		ps->num_ns = s->max_nsid;
		pg->subsystems[s->id] = ps;
	}
	e = &ps->ns[ns->nsid - 1];
	if (e->ns == ns)
		return e;
	if (e->ns) {
		/* Cannot happen: an nsid is reused only after every group let the old one go. */
		errno = EBUSY;
		return NULL;
	}
	e->ch = bdev_get_io_channel(ns->bdev);
	if (!e->ch)
		return NULL;
	e->ns = ns;
	return e;
}

static void ns_remove_done(void *arg, int rc)
{
	struct ns_remove_ctx *c = arg;
	struct nvmf_ns *ns = c->ns;
	struct nvmf_subsystem *s = ns->subsystem;

	(void)rc;
	s->ns_removing[ns->nsid - 1] = false;
	REACTOR_NOTICELOG("subsystem %s: namespace %u (bdev %s) removed", s->nqn, ns->nsid, ns->bdev_name);
	if (!s->deleting)
		notify_ctrlrs_ns_changed(s, ns->nsid);
	if (c->cb)
		c->cb(c->ctx, 0);
	free(ns);
	free(c);
}

void nvmf_subsystem_remove_ns(struct nvmf_subsystem *s, uint32_t nsid,
			      void (*cb)(void *ctx, int rc), void *ctx)
{
	struct nvmf_ns *ns = nvmf_subsystem_get_ns(s, nsid);
	struct ns_remove_ctx *c;

	if (!ns) {
		if (cb)
			cb(ctx, -ENOENT);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		if (cb)
			cb(ctx, -ENOMEM);
		return;
	}
	c->ns = ns;
	c->cb = cb;
	c->ctx = ctx;
	atomic_store_explicit(&s->ns[nsid - 1], NULL, memory_order_release);
	s->ns_removing[nsid - 1] = true;
	while (nvmf_pg_foreach(pg_ns_remove, c, ns_remove_done) == -ENOMEM)
		;
}

/* Destroy the controllers of @p s that @p match picks (as Linux and SPDK do
 * when a host or a listener is removed: access ends for connected hosts too). */
static void destroy_ctrlrs_if(struct nvmf_subsystem *s, bool (*match)(const struct nvmf_ctrlr *c, const void *arg),
			      const void *arg, const char *why)
{
	size_t n, i;
	struct nvmf_ctrlr **list = nvmf_subsystem_get_ctrlrs(s, match, arg, &n);

	for (i = 0; i < n; i++) {
		nvmf_ctrlr_destroy_async(list[i], why);
		nvmf_ctrlr_put(list[i]);
	}
	free(list);
}

static bool ctrlr_of_host(const struct nvmf_ctrlr *c, const void *hostnqn)
{
	return strcmp(c->hostnqn, hostnqn) == 0;
}

static bool ctrlr_on_listener(const struct nvmf_ctrlr *c, const void *addr)
{
	return nvmf_listen_addr_equal(&c->listen_addr, addr);
}

/* ---- hosts ------------------------------------------------------------------------ */

bool nvmf_subsystem_host_allowed(struct nvmf_subsystem *s, const char *hostnqn)
{
	struct nvmf_host *h;

	if (s->allow_any_host)
		return true;
	TAILQ_FOREACH(h, &s->hosts, link) {
		if (strcmp(h->nqn, hostnqn) == 0)
			return true;
	}
	return false;
}

static struct nvmf_host *find_host(struct nvmf_subsystem *s, const char *hostnqn)
{
	struct nvmf_host *h;

	TAILQ_FOREACH(h, &s->hosts, link) {
		if (strcmp(h->nqn, hostnqn) == 0)
			return h;
	}
	return NULL;
}

int nvmf_subsystem_add_host(struct nvmf_subsystem *s, const char *hostnqn)
{
	struct nvmf_host *h;

	if (!hostnqn || !nvme_nqn_valid(hostnqn, strlen(hostnqn) + 1)) {
		REACTOR_ERRLOG("subsystem %s: invalid host NQN '%s'", s->nqn, hostnqn ? hostnqn : "(null)");
		return -EINVAL;
	}
	if (find_host(s, hostnqn))
		return -EEXIST;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	snprintf(h->nqn, sizeof(h->nqn), "%s", hostnqn);
	pthread_mutex_lock(&g_nvmf.lock);
	TAILQ_INSERT_TAIL(&s->hosts, h, link);
	pthread_mutex_unlock(&g_nvmf.lock);
	nvmf_tgt_discovery_changed();
	return 0;
}

int nvmf_subsystem_remove_host(struct nvmf_subsystem *s, const char *hostnqn)
{
	struct nvmf_host *h = hostnqn ? find_host(s, hostnqn) : NULL;

	if (!h)
		return -ENOENT;
	pthread_mutex_lock(&g_nvmf.lock);
	TAILQ_REMOVE(&s->hosts, h, link);
	pthread_mutex_unlock(&g_nvmf.lock);
	if (!s->allow_any_host)
		destroy_ctrlrs_if(s, ctrlr_of_host, h->nqn, "host removed from the subsystem");
	free(h);
	nvmf_tgt_discovery_changed();
	return 0;
}

/* ---- listeners ------------------------------------------------------------------------ */

/* One transport listen shared by every subsystem on that address. */
struct listen_ref {
	struct nvmf_listen_addr addr;
	struct nvmf_transport *transport;
	uint32_t refs;
	TAILQ_ENTRY(listen_ref) link;
};

static TAILQ_HEAD(, listen_ref) g_listen_refs = TAILQ_HEAD_INITIALIZER(g_listen_refs);

static struct listen_ref *find_listen_ref(const struct nvmf_listen_addr *addr)
{
	struct listen_ref *r;

	TAILQ_FOREACH(r, &g_listen_refs, link) {
		if (nvmf_listen_addr_equal(&r->addr, addr))
			return r;
	}
	return NULL;
}

static struct nvmf_subsystem_listener *find_listener(struct nvmf_subsystem *s,
						     const struct nvmf_listen_addr *addr)
{
	struct nvmf_subsystem_listener *l;

	TAILQ_FOREACH(l, &s->listeners, link) {
		if (nvmf_listen_addr_equal(&l->addr, addr))
			return l;
	}
	return NULL;
}

bool nvmf_subsystem_listener_allowed(struct nvmf_subsystem *s, const struct nvmf_listen_addr *addr)
{
	return find_listener(s, addr) != NULL;
}

int nvmf_subsystem_add_listener(struct nvmf_subsystem *s, const struct nvmf_listen_addr *addr_in)
{
	struct nvmf_listen_addr addr = *addr_in;
	struct nvmf_subsystem_listener *l;
	struct nvmf_transport *t;
	struct listen_ref *r;
	int rc;

	rc = nvmf_listen_addr_check(&addr);
	if (rc)
		return rc;
	if (s->deleting)
		return -EINVAL;
	t = nvmf_tgt_find_transport(addr.trtype);
	if (!t) {
		REACTOR_ERRLOG("subsystem %s: no %s transport (nvmf_create_transport first)", s->nqn,
			       addr.trtype);
		return -EINVAL;
	}
	if (find_listener(s, &addr))
		return -EEXIST;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	r = find_listen_ref(&addr);
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r) {
			free(l);
			return -ENOMEM;
		}
		rc = t->ops->listen(t, &addr);
		if (rc) {
			free(r);
			free(l);
			return rc;
		}
		r->addr = addr;
		r->transport = t;
		TAILQ_INSERT_TAIL(&g_listen_refs, r, link);
	}
	r->refs++;
	l->addr = addr;
	l->transport = t;
	pthread_mutex_lock(&g_nvmf.lock);
	TAILQ_INSERT_TAIL(&s->listeners, l, link);
	pthread_mutex_unlock(&g_nvmf.lock);
	REACTOR_NOTICELOG("subsystem %s: listening on %s %s:%s", s->nqn, addr.trtype, addr.traddr,
			  addr.trsvcid);
	nvmf_tgt_discovery_changed();
	return 0;
}

int nvmf_subsystem_remove_listener(struct nvmf_subsystem *s, const struct nvmf_listen_addr *addr_in)
{
	struct nvmf_listen_addr addr = *addr_in;
	struct nvmf_subsystem_listener *l;
	struct listen_ref *r;

	if (nvmf_listen_addr_check(&addr))
		return -EINVAL;
	l = find_listener(s, &addr);
	if (!l)
		return -ENOENT;
	pthread_mutex_lock(&g_nvmf.lock);
	TAILQ_REMOVE(&s->listeners, l, link);
	pthread_mutex_unlock(&g_nvmf.lock);
	/* (A subsystem delete or the shutdown ends every association anyway.) */
	if (s->subtype == NVMF_SUBTYPE_NVME && !s->deleting && !g_nvmf.stopping)
		destroy_ctrlrs_if(s, ctrlr_on_listener, &addr, "listener removed");
	r = find_listen_ref(&addr);
	if (r && --r->refs == 0) {
		r->transport->ops->stop_listen(r->transport, &r->addr);
		TAILQ_REMOVE(&g_listen_refs, r, link);
		free(r);
	}
	free(l);
	nvmf_tgt_discovery_changed();
	return 0;
}

/* ---- destroy ---------------------------------------------------------------------------- */

struct subsystem_destroy_ctx {
	struct nvmf_subsystem *s;
	void (*cb)(void *ctx, int rc);
	void *ctx;
	struct reactor_poller *poller;
	uint64_t start;
	bool warned;
	uint32_t ns_left;
};

static void ctrlr_destroy_on_delete(struct nvmf_ctrlr *ctrlr, uintptr_t arg)
{
	(void)arg;
	nvmf_ctrlr_destroy(ctrlr, "subsystem deleted");
}

static void subsystem_free(void *arg, int rc)
{
	struct subsystem_destroy_ctx *c = arg;
	struct nvmf_subsystem *s = c->s;
	struct nvmf_host *h;

	(void)rc;
	pthread_mutex_lock(&g_nvmf.lock);
	TAILQ_REMOVE(&g_nvmf.subsystems, s, link);
	g_nvmf.subsystems_by_id[s->id] = NULL;
	pthread_mutex_unlock(&g_nvmf.lock);
	while ((h = TAILQ_FIRST(&s->hosts))) {
		TAILQ_REMOVE(&s->hosts, h, link);
		free(h);
	}
	pthread_mutex_destroy(&s->ctrlr_lock);
	REACTOR_NOTICELOG("subsystem %s deleted", s->nqn);
	free(s->ns);
	free(s->ns_removing);
	free(s);
	if (c->cb)
		c->cb(c->ctx, 0);
	free(c);
}

static void pg_subsystem_forget(struct nvmf_poll_group *pg, struct nvmf_pg_step *step)
{
	struct subsystem_destroy_ctx *c = nvmf_pg_step_ctx(step);
	struct nvmf_pg_subsystem *ps = pg->subsystems[c->s->id];

	if (ps) {
		free(ps->ns);
		free(ps);
		pg->subsystems[c->s->id] = NULL;
	}
	nvmf_pg_step_done(step, 0);
}

static void subsystem_ns_removed(void *arg, int rc)
{
	struct subsystem_destroy_ctx *c = arg;

	(void)rc;
	if (--c->ns_left)
		return;
	while (nvmf_pg_foreach(pg_subsystem_forget, c, subsystem_free) == -ENOMEM)
		;
}

static int subsystem_wait_ctrlrs(void *arg)
{
	struct subsystem_destroy_ctx *c = arg;
	struct nvmf_subsystem *s = c->s;
	uint64_t waited_s;
	bool empty;
	uint32_t nsid;

	pthread_mutex_lock(&s->ctrlr_lock);
	empty = TAILQ_EMPTY(&s->ctrlrs);
	pthread_mutex_unlock(&s->ctrlr_lock);
	if (!empty) {
		/* An admin Connect that passed its check just before the delete
		 * began may have added one since: destroy it too. */
		nvmf_subsystem_foreach_ctrlr(s, ctrlr_destroy_on_delete, 0);
		waited_s = (reactor_get_ticks() - c->start) / reactor_get_ticks_hz();
		if (waited_s >= SUBSYSTEM_DESTROY_WARN_S && !c->warned) {
			c->warned = true;
			REACTOR_ERRLOG("subsystem %s: controllers still alive after %u s", s->nqn,
				       SUBSYSTEM_DESTROY_WARN_S);
		}
		if (c->warned && g_nvmf.stopping) {
			/* Shutting down with stuck connections: leave the subsystem
			 * allocated rather than free memory they still use. */
			reactor_poller_unregister(&c->poller);
			if (c->cb)
				c->cb(c->ctx, -ETIMEDOUT);
			free(c);
		}
		return REACTOR_POLLER_IDLE;
	}
	reactor_poller_unregister(&c->poller);
	c->ns_left = 1;
	for (nsid = 1; nsid <= s->max_nsid; nsid++) {
		if (nvmf_subsystem_get_ns(s, nsid)) {
			c->ns_left++;
			nvmf_subsystem_remove_ns(s, nsid, subsystem_ns_removed, c);
		}
	}
	subsystem_ns_removed(c, 0);
	return REACTOR_POLLER_BUSY;
}

void nvmf_subsystem_destroy(struct nvmf_subsystem *s, void (*cb)(void *ctx, int rc), void *ctx)
{
	struct subsystem_destroy_ctx *c = calloc(1, sizeof(*c));
	struct nvmf_subsystem_listener *l;

	if (!c) {
		if (cb)
			cb(ctx, -ENOMEM);
		return;
	}
	c->s = s;
	c->cb = cb;
	c->ctx = ctx;
	c->start = reactor_get_ticks();
	/* Under both locks: Connect reads it under either. */
	pthread_mutex_lock(&g_nvmf.lock);
	pthread_mutex_lock(&s->ctrlr_lock);
	s->deleting = true;
	pthread_mutex_unlock(&s->ctrlr_lock);
	pthread_mutex_unlock(&g_nvmf.lock);
	while ((l = TAILQ_FIRST(&s->listeners)))
		nvmf_subsystem_remove_listener(s, &l->addr);
	nvmf_subsystem_foreach_ctrlr(s, ctrlr_destroy_on_delete, 0);
	c->poller = reactor_poller_register_named(subsystem_wait_ctrlrs, c, SUBSYSTEM_DESTROY_POLL_US,
						  "nvmf_subsystem_destroy");
	if (!c->poller) {
		REACTOR_ERRLOG("subsystem %s: cannot wait for its controllers: %s", s->nqn, strerror(errno));
		if (cb)
			cb(ctx, -errno);
		free(c);
	}
}
