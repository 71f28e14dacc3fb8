/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NVMe-over-Fabrics target core of nvmf-tgtd (internal: not part of
 * libreactor's ABI). Transport-independent: subsystems, namespaces, hosts,
 * listeners, controllers, queue pairs and requests. A transport (tcp/)
 * turns PDUs into struct nvmf_request and back.
 *
 * Threads and ownership
 * - The configuration (subsystems, namespaces, hosts, listeners,
 *   referrals, transports) is changed only on the app thread (RPC and the
 *   JSON config run there). Readers on other threads take g_nvmf.lock
 *   (slow paths only: Connect, discovery log, RPC listings).
 * - One poll group per reactor core, each on its own lightweight thread.
 *   A queue pair (one TCP connection) lives on one poll group's thread for
 *   its whole life; its requests are made, executed and completed there.
 *   Nothing on the I/O path takes a lock.
 * - Namespaces are published in subsystem->ns[] with atomic stores. A poll
 *   group keeps its own bdev channel per (subsystem, namespace) it has
 *   used (nvmf_pg_ns_get()). Removing a namespace: the app thread clears
 *   the slot, tells every poll group (message) to put its channel once the
 *   I/O it has in flight on it completes, and frees the namespace when all
 *   have answered; controllers then get a Namespace Attribute Changed
 *   notice.
 * - A controller is made by the admin queue's Connect, on that queue's
 *   thread, and owned by it (keep-alive timer, AERs, properties run there).
 *   I/O queues on other threads find it by CNTLID under
 *   subsystem->ctrlr_lock and hold a reference. Fields read from other
 *   threads are atomics or set before the controller is published.
 */
#ifndef DAEMON_NVMF_H
#define DAEMON_NVMF_H

#include <reactor.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/uio.h>

#include "nvme_spec.h"
#include "bdev.h"

#define NVMF_MAX_SUBSYSTEMS 1024
#define NVMF_MAX_NAMESPACES_DEFAULT 32	/* per subsystem unless max_namespaces says otherwise */
#define NVMF_MAX_NAMESPACES 1024	/* hard limit of max_namespaces */
#define NVMF_SERIAL_LEN 20
#define NVMF_MODEL_LEN 40
#define NVMF_DEFAULT_SERIAL "00000000000000000000"
#define NVMF_DEFAULT_MODEL "libreactor nvmf-tgtd"
#define NVMF_FIRMWARE_REV "1.0" /* 8 bytes max: PACKAGE_VERSION */
#define NVMF_REQ_MAX_IOV 32	/* data of one request: max_io_size / io_unit_size iovecs at most */
#define NVMF_MAX_AER 4		/* AERL + 1 */
#define NVMF_TRADDR_LEN 64
#define NVMF_TRSVCID_LEN 32
#define NVMF_VS NVME_VS(1, 3, 0)	/* VS property (ctrlr.c) and Identify VER (as Linux nvmet) */
#define NVMF_DISC_KATO_MS 120000	/* discovery controller KATO when Connect gives 0 (Linux, SPDK) */
#define NVMF_KATO_GRANULARITY_MS 1000	/* KATO is rounded up to this (Identify KAS: 10 x 100 ms) */

struct nvmf_transport;
struct nvmf_poll_group;
struct nvmf_subsystem;
struct nvmf_ctrlr;
struct nvmf_qpair;
struct nvmf_request;

/* ---- addresses and transports -------------------------------------------- */

/** A listen address, as in SPDK's listen_address object. */
struct nvmf_listen_addr {
	char trtype[16];		/* "TCP" */
	char adrfam[8];			/* "IPv4" or "IPv6" */
	char traddr[NVMF_TRADDR_LEN];	/* numeric */
	char trsvcid[NVMF_TRSVCID_LEN];	/* port */
};

/** Transport options: SPDK's nvmf_create_transport parameters. */
struct nvmf_transport_opts {
	uint16_t max_queue_depth;	/* I/O queue entries (CAP.MQES + 1); default 128 */
	uint16_t max_aq_depth;		/* admin queue entries; default 128 */
	uint16_t max_qpairs_per_ctrlr;	/* admin + I/O queues; default 128 */
	uint32_t in_capsule_data_size;	/* bytes; default 4096 */
	uint32_t max_io_size;		/* bytes, MDTS; default 131072 */
	uint32_t io_unit_size;		/* bytes per data buffer (iovec); default 131072 */
	uint32_t num_shared_buffers;	/* data buffers per poll group; default 511 */
	uint32_t buf_cache_size;	/* SPDK compatibility; default 32 */
	bool c2h_success;		/* C2HData SUCCESS flag when the host disabled SQ flow control; default true */
	int32_t sock_priority;		/* SO_PRIORITY; default 0 */
	uint32_t abort_timeout_sec;	/* default 1 */
	bool zcopy;			/* default false */
};

/**
 * What the core asks of a transport. All on the thread named.
 */
struct nvmf_transport_ops {
	const char *name;	/* "TCP" (compared case-insensitively) */
	uint8_t trtype;		/* NVME_TRTYPE_TCP: discovery log entries */
	void (*opts_init)(struct nvmf_transport_opts *opts);
	/* App thread. Returns NULL with errno. */
	struct nvmf_transport *(*create)(const struct nvmf_transport_opts *opts);
	/* App thread, after every poll group has run pg_destroy. */
	void (*destroy)(struct nvmf_transport *transport);
	/* App thread: start/stop listening. listen returns 0 or -errno (logged). Stopping
	 * a listener does not close connections already accepted on it. */
	int (*listen)(struct nvmf_transport *transport, const struct nvmf_listen_addr *addr);
	void (*stop_listen)(struct nvmf_transport *transport, const struct nvmf_listen_addr *addr);
	/* On the poll group's thread: per-group state (socket group). 0 or -errno. */
	int (*pg_create)(struct nvmf_transport *transport, struct nvmf_poll_group *pg);
	/* On the poll group's thread, once it has no queue pairs left. */
	void (*pg_destroy)(struct nvmf_transport *transport, struct nvmf_poll_group *pg);
	/* On the qpair's thread: send the completion of @p req (req->rsp is
	 * filled; for a controller-to-host transfer with status 0, the data in
	 * req->iov first, req->length bytes). The transport then releases the
	 * request. Called by nvmf_request_complete(). */
	void (*req_complete)(struct nvmf_request *req);
	/* On the qpair's thread: close the connection (no more commands are
	 * taken); the transport calls nvmf_qpair_disconnected() when it is closed
	 * and nvmf_qpair_fini() when its last request has completed. Idempotent. */
	void (*qpair_disconnect)(struct nvmf_qpair *qpair);
	/* Fill transport-specific fields of nvmf_get_transports. May be NULL. */
	void (*dump_opts)(struct nvmf_transport *transport, json_t *obj);
};

/** A transport instance (one per type). The transport embeds this first in its own struct. */
struct nvmf_transport {
	const struct nvmf_transport_ops *ops;
	struct nvmf_transport_opts opts;
	TAILQ_ENTRY(nvmf_transport) link;
};

/** The transports built in ("TCP"). NULL-terminated. */
extern const struct nvmf_transport_ops *const nvmf_transport_types[];

/* ---- namespaces, hosts, listeners, subsystems ---------------------------- */

struct nvmf_ns {
	uint32_t nsid;
	struct bdev *bdev;
	char bdev_name[BDEV_NAME_MAX];
	uint8_t nguid[16];
	uint8_t eui64[8];
	uint8_t uuid[16];
	bool has_nguid, has_eui64, has_uuid;
	uint32_t anagrpid;
	struct nvmf_subsystem *subsystem;
	/* Removal bookkeeping (app thread). */
	uint32_t pending_pgs;
	void (*removed_cb)(void *ctx, int status);
	void *removed_ctx;
};

struct nvmf_host {
	char nqn[NVME_NQN_SIZE];
	TAILQ_ENTRY(nvmf_host) link;
};

/** A subsystem's listener: the address, and the transport serving it. */
struct nvmf_subsystem_listener {
	struct nvmf_listen_addr addr;
	struct nvmf_transport *transport;
	TAILQ_ENTRY(nvmf_subsystem_listener) link;
};

enum nvmf_subtype {
	NVMF_SUBTYPE_DISCOVERY = 1,	/* NVME_DISC_SUBTYPE_* values */
	NVMF_SUBTYPE_NVME = 2,
};

struct nvmf_subsystem {
	uint32_t id;			/* index in g_nvmf.subsystems_by_id[]; poll-group tables use it */
	enum nvmf_subtype subtype;
	char nqn[NVME_NQN_SIZE];
	char serial[NVMF_SERIAL_LEN + 1];
	char model[NVMF_MODEL_LEN + 1];
	bool allow_any_host;
	bool ana_reporting;
	uint16_t min_cntlid, max_cntlid;
	uint32_t max_nsid;		/* max_namespaces: size of ns[] */
	_Atomic(struct nvmf_ns *) *ns;	/* ns[nsid - 1]; NULL = inactive */
	TAILQ_HEAD(, nvmf_host) hosts;
	TAILQ_HEAD(, nvmf_subsystem_listener) listeners;
	/* Controllers (ctrlr->link), their CNTLID allocation; under ctrlr_lock. */
	pthread_mutex_t ctrlr_lock;
	TAILQ_HEAD(, nvmf_ctrlr) ctrlrs;
	uint16_t next_cntlid;
	bool deleting;
	TAILQ_ENTRY(nvmf_subsystem) link;
	/* subsystem.c (app thread): nsids whose removal has not finished; not reusable yet. */
	bool *ns_removing;		/* [max_nsid] */
};

/* ---- controllers, queue pairs, requests ---------------------------------- */

struct nvmf_ctrlr {
	struct nvmf_subsystem *subsystem;
	uint16_t cntlid;
	char hostnqn[NVME_NQN_SIZE];
	uint8_t hostid[16];
	struct nvmf_qpair *admin_qpair;		/* owner thread = admin_qpair's */
	struct reactor_thread *thread;
	atomic_uint refs;			/* admin + each I/O qpair + in-flight messages */
	/* Properties (owner thread; cc_en/ready read by I/O connect under ctrlr_lock). */
	uint64_t cap;
	uint32_t vs, cc, csts;
	/* Features. */
	uint32_t kato_ms;			/* 0 = keep alive disabled */
	_Atomic uint64_t last_activity_ticks;	/* any command on any queue (TBKAS) */
	struct reactor_poller *keep_alive_poller;
	uint32_t num_io_queues;			/* granted by Set Features Number of Queues */
	uint32_t aec;				/* async event configuration */
	bool volatile_wc;
	uint32_t arbitration, power_state, temp_threshold, error_recovery;
	/* Async events (owner thread). */
	struct nvmf_request *aer[NVMF_MAX_AER];
	uint32_t num_aer;
	uint32_t pending_aen;			/* bit per queued event type not yet delivered */
	bool aen_masked_ns_changed;		/* ns attribute AEN sent, not yet cleared by the log page */
	uint32_t changed_ns[1024];		/* Changed Namespace List log */
	uint32_t num_changed_ns;
	/* Error log and SMART counters (owner thread; I/O threads add with atomics).
	 * data_units_*: 512-byte units (io.c adds length / 512); the SMART log
	 * reports them in thousands, rounded up, as the spec asks. */
	_Atomic uint64_t data_units_read, data_units_written, host_read_cmds, host_write_cmds;
	_Atomic uint64_t num_err_log_entries;
	struct nvme_error_log_entry err_log[16];
	uint32_t err_log_next;
	/* I/O queues by qid (under subsystem->ctrlr_lock). */
	struct nvmf_qpair **io_qpairs;		/* [max_qpairs_per_ctrlr] */
	uint64_t start_ticks;
	bool destroying;
	TAILQ_ENTRY(nvmf_ctrlr) link;
	/* admin.c's own state (owner thread). */
	bool aen_masked_discovery;		/* discovery AEN sent, not yet cleared by log page 70h */
	bool features_ready;			/* feature defaults applied (first admin command) */
	uint32_t temp_under_threshold;		/* kelvin; temp_threshold is the over threshold */
	bool write_atomicity_dn;		/* Write Atomicity Normal feature: DN bit */
	/* ctrlr.c: connected I/O queues; CC.EN 1->0 / shutdown waits for 0 (reset_poller). */
	atomic_uint num_io_qpairs;
	struct reactor_poller *reset_poller;
	uint16_t max_qpairs;			/* size of io_qpairs[] (transport max_qpairs_per_ctrlr) */
	atomic_uint err_msgs_inflight;		/* error log entries on their way from I/O threads */
	struct nvmf_listen_addr listen_addr;	/* where the admin queue came in (set before publishing) */
};

enum nvmf_qpair_state {
	NVMF_QPAIR_CONNECTING,		/* before a successful Connect */
	NVMF_QPAIR_ACTIVE,
	NVMF_QPAIR_DISCONNECTING,
};

/**
 * One submission/completion queue pair (a TCP connection). The transport
 * embeds it in its connection object and initialises it with
 * nvmf_qpair_init() on the poll group's thread.
 */
struct nvmf_qpair {
	struct nvmf_transport *transport;
	struct nvmf_poll_group *pg;
	struct nvmf_ctrlr *ctrlr;	/* after Connect */
	enum nvmf_qpair_state state;
	uint16_t qid;
	uint16_t sq_depth;		/* SQSIZE + 1 */
	uint16_t sq_head;
	bool sq_flow_control_disabled;	/* Connect CATTR bit 2 */
	uint32_t outstanding;		/* requests between exec and complete */
	struct nvmf_listen_addr listen_addr;	/* the listener it came in on */
	char peer_addr[NVMF_TRADDR_LEN];
	uint16_t peer_port;
	/* Fused compare-and-write: the first command waiting for its second. */
	struct nvmf_request *fused_first;
	TAILQ_ENTRY(nvmf_qpair) link;	/* poll group's list */
};

enum nvmf_xfer {
	NVMF_XFER_NONE,
	NVMF_XFER_HOST_TO_CTRLR,
	NVMF_XFER_CTRLR_TO_HOST,
};

/**
 * One command. The transport owns the storage (a per-connection pool),
 * fills qpair, cmd, xfer, length and the data buffers, and calls
 * nvmf_request_exec() once all host-to-controller data is in. The core
 * fills rsp and calls nvmf_request_complete(), which hands the request
 * back to the transport (ops->req_complete).
 */
struct nvmf_request {
	struct nvmf_qpair *qpair;
	struct nvme_sqe cmd;
	struct nvme_cqe rsp;
	enum nvmf_xfer xfer;
	uint32_t length;		/* data transfer length from the SGL */
	struct iovec iov[NVMF_REQ_MAX_IOV];	/* the data: total >= length */
	int iovcnt;
	/* Core's per-request state. */
	struct nvmf_ns *ns;
	struct reactor_io_channel *ns_ch;
	struct nvmf_request *fused_peer;
	uint64_t start_ticks;
	TAILQ_ENTRY(nvmf_request) link;	/* free for the transport's pool while not executing */
};

/* ---- poll groups ----------------------------------------------------------- */

struct nvmf_pg_ns {
	struct nvmf_ns *ns;		/* the namespace the channel is for */
	struct reactor_io_channel *ch;
	uint32_t outstanding;		/* I/O in flight on ch */
	bool put_pending;		/* removed: put ch when outstanding hits 0 */
	struct nvmf_pg_step *put_step;	/* the removal to answer once ch is put */
};

struct nvmf_pg_subsystem {
	uint32_t num_ns;
	struct nvmf_pg_ns *ns;		/* [max_nsid] */
};

struct nvmf_poll_group {
	uint32_t index;
	struct reactor_thread *thread;
	TAILQ_HEAD(, nvmf_qpair) qpairs;
	struct nvmf_pg_subsystem *subsystems[NVMF_MAX_SUBSYSTEMS];	/* by subsystem id, lazily */
	void *transport_ctx;		/* the transport's per-group state */
	/* Statistics (owner thread; read by nvmf_get_stats through a message). */
	uint64_t admin_qpairs, io_qpairs, current_admin_qpairs, current_io_qpairs;
	uint64_t pending_bdev_io, completed_nvme_io;
};

/* ---- the target ------------------------------------------------------------ */

struct nvmf_referral {
	struct nvmf_listen_addr addr;
	char subnqn[NVME_NQN_SIZE];	/* default: the discovery NQN */
	bool secure_channel;
	TAILQ_ENTRY(nvmf_referral) link;
};

struct nvmf_tgt {
	pthread_mutex_t lock;		/* configuration lists, for readers off the app thread */
	TAILQ_HEAD(, nvmf_subsystem) subsystems;
	struct nvmf_subsystem *subsystems_by_id[NVMF_MAX_SUBSYSTEMS];
	struct nvmf_subsystem *discovery;	/* always present */
	TAILQ_HEAD(, nvmf_transport) transports;
	TAILQ_HEAD(, nvmf_referral) referrals;
	uint64_t discovery_genctr;	/* bumped on any change the discovery log shows */
	struct nvmf_poll_group **pgs;
	uint32_t num_pgs;
	uint32_t next_pg;		/* round-robin for new connections */
	bool stopping;
};

extern struct nvmf_tgt g_nvmf;

/* ---- target (target.c) ----------------------------------------------------- */

/** Make the target: the discovery subsystem and one poll group per reactor core. App thread; @p cb(ctx, rc) when the poll groups are up. */
void nvmf_tgt_init(void (*cb)(void *ctx, int rc), void *ctx);
/** Stop listening, disconnect every queue pair (in-flight I/O completes first), destroy poll groups and subsystems. App thread; @p cb when done. */
void nvmf_tgt_fini(void (*cb)(void *ctx), void *ctx);
/** The poll group a new connection goes to (round-robin). Any thread. */
struct nvmf_poll_group *nvmf_tgt_next_poll_group(void);
struct nvmf_transport *nvmf_tgt_find_transport(const char *trtype);
/** Create the transport @p trtype with @p opts. App thread; 0, -EEXIST, -EINVAL (unknown type), -errno.
 *  ops->pg_create then runs on every poll group by message, queued before anything the app thread
 *  sends to the groups later (a failure there is logged and leaves that group without the transport). */
int nvmf_tgt_add_transport(const char *trtype, const struct nvmf_transport_opts *opts);
/** The discovery log changed: bump genctr and tell the discovery controllers. App thread. */
void nvmf_tgt_discovery_changed(void);

/** Send @p fn(@p ctx) to @p thread; when the message pools are full, retry from a poller of the
 *  calling thread instead of failing (never spins). On a lightweight thread. 0 or -errno
 *  (-ESHUTDOWN: the thread is gone; nothing will run). */
int nvmf_send_msg(struct reactor_thread *thread, reactor_msg_fn fn, void *ctx);

/** One poll group's step of nvmf_pg_foreach(). */
struct nvmf_pg_step;
/** Run @p fn on every poll group's thread, one message each; every step ends with
 *  nvmf_pg_step_done() (at once or later, on that thread); then @p done(@p ctx, first error)
 *  runs on the calling thread. On a lightweight thread. 0 or -ENOMEM (nothing runs). */
int nvmf_pg_foreach(void (*fn)(struct nvmf_poll_group *pg, struct nvmf_pg_step *step), void *ctx,
		    void (*done)(void *ctx, int rc));
void *nvmf_pg_step_ctx(struct nvmf_pg_step *step);
void nvmf_pg_step_done(struct nvmf_pg_step *step, int rc);

/* ---- subsystems (subsystem.c); app thread unless noted --------------------- */

struct nvmf_subsystem *nvmf_subsystem_create(const char *nqn, enum nvmf_subtype subtype,
					     uint32_t max_nsid, int *rc);
/** Disconnect its controllers, then free it; @p cb(ctx, 0) when done. */
void nvmf_subsystem_destroy(struct nvmf_subsystem *s, void (*cb)(void *ctx, int rc), void *ctx);
/** Any thread, under g_nvmf.lock or on the app thread. */
struct nvmf_subsystem *nvmf_subsystem_find(const char *nqn);
int nvmf_subsystem_set_sn(struct nvmf_subsystem *s, const char *sn);	/* -EINVAL: not printable ASCII or too long */
int nvmf_subsystem_set_mn(struct nvmf_subsystem *s, const char *mn);
/** Add a namespace backed by @p bdev_name; nsid 0 = lowest free. Returns the NSID or -errno
 *  (-ENODEV no such bdev, -EEXIST nsid taken, -ERANGE nsid > max_nsid, -ENOSPC full). Sends
 *  Namespace Attribute Changed notices to connected controllers. */
int nvmf_subsystem_add_ns(struct nvmf_subsystem *s, const char *bdev_name, uint32_t nsid,
			  const uint8_t *nguid, const uint8_t *eui64, const uint8_t *uuid,
			  uint32_t anagrpid);
/** Remove namespace @p nsid; @p cb(ctx, 0 | -ENOENT) once every poll group has let it go. */
void nvmf_subsystem_remove_ns(struct nvmf_subsystem *s, uint32_t nsid,
			      void (*cb)(void *ctx, int rc), void *ctx);
/** The active namespace @p nsid, or NULL. Any thread (atomic load). */
struct nvmf_ns *nvmf_subsystem_get_ns(struct nvmf_subsystem *s, uint32_t nsid);
int nvmf_subsystem_add_host(struct nvmf_subsystem *s, const char *hostnqn);
int nvmf_subsystem_remove_host(struct nvmf_subsystem *s, const char *hostnqn);
/** Whether @p hostnqn may connect to @p s. Any thread, under g_nvmf.lock. */
bool nvmf_subsystem_host_allowed(struct nvmf_subsystem *s, const char *hostnqn);
/** Listen (through the transport) and record the listener. 0, -EEXIST, -EINVAL, -errno. */
int nvmf_subsystem_add_listener(struct nvmf_subsystem *s, const struct nvmf_listen_addr *addr);
int nvmf_subsystem_remove_listener(struct nvmf_subsystem *s, const struct nvmf_listen_addr *addr);
/** Whether @p s listens on @p addr. Under g_nvmf.lock. */
bool nvmf_subsystem_listener_allowed(struct nvmf_subsystem *s, const struct nvmf_listen_addr *addr);
/** Parse/format SPDK's adrfam/trtype strings; normalise an address (case, brackets). */
int nvmf_listen_addr_check(struct nvmf_listen_addr *addr);
bool nvmf_listen_addr_equal(const struct nvmf_listen_addr *a, const struct nvmf_listen_addr *b);

/* ---- queue pairs and controllers (ctrlr.c) --------------------------------- */

/** Transport → core, on the poll group's thread. */
void nvmf_qpair_init(struct nvmf_qpair *qpair, struct nvmf_transport *transport,
		     struct nvmf_poll_group *pg, const struct nvmf_listen_addr *listen_addr,
		     const char *peer_addr, uint16_t peer_port);
/** The connection is closed: abort parked requests (AERs), detach from the controller. */
void nvmf_qpair_disconnected(struct nvmf_qpair *qpair);
/** Last call: the transport frees the qpair after this. */
void nvmf_qpair_fini(struct nvmf_qpair *qpair);
/** Ask the qpair's thread to disconnect it (any thread; by message). */
void nvmf_qpair_disconnect_async(struct nvmf_qpair *qpair);

/** Execute a command; all host data is in req->iov. On the qpair's thread; may complete at once. */
void nvmf_request_exec(struct nvmf_request *req);
/** Finish: fills CQE sqid/sqhd/cid, accounts, calls transport->ops->req_complete. */
void nvmf_request_complete(struct nvmf_request *req);
/** Fill @p req's CQE CID, SQID and SQHD (the command took an SQ entry: the
 *  head advances). For a transport answering a command the core never saw. */
void nvmf_qpair_fill_cqe(struct nvmf_qpair *qpair, struct nvmf_request *req);
/** Set req->rsp.status (and DNR) and complete. */
void nvmf_request_complete_status(struct nvmf_request *req, uint16_t status);

/** Fabrics commands (Connect, Property Get/Set, Disconnect); ctrlr.c. */
void nvmf_fabrics_exec(struct nvmf_request *req);
void nvmf_ctrlr_get(struct nvmf_ctrlr *ctrlr);
void nvmf_ctrlr_put(struct nvmf_ctrlr *ctrlr);
/** Tear a controller down (keep-alive expiry, CC.EN 1->0, subsystem delete): disconnect all its qpairs. Owner thread. */
void nvmf_ctrlr_destroy(struct nvmf_ctrlr *ctrlr, const char *why);
/** nvmf_ctrlr_destroy() on the owner thread, by message. Any thread, not under ctrlr_lock; the
 *  caller holds a reference. @p why: a string that lives for the program. */
void nvmf_ctrlr_destroy_async(struct nvmf_ctrlr *ctrlr, const char *why);
/** Post a Namespace Attribute Changed event for @p nsid to @p ctrlr (any thread; by message). */
void nvmf_ctrlr_ns_changed(struct nvmf_ctrlr *ctrlr, uint32_t nsid);
/** Record an error log entry (owner thread). */
void nvmf_ctrlr_log_error(struct nvmf_ctrlr *ctrlr, const struct nvmf_request *req);
/** The controllers of @p s not being destroyed that @p match picks (all when NULL), each with a
 *  reference for the caller to drop; a malloc'd array to free, *count entries (on allocation
 *  failure, those gathered so far). Any thread; not under s->ctrlr_lock. ctrlr.c. */
struct nvmf_ctrlr **nvmf_subsystem_get_ctrlrs(struct nvmf_subsystem *s,
					      bool (*match)(const struct nvmf_ctrlr *ctrlr, const void *arg),
					      const void *arg, size_t *count);
/** Run @p fn(ctrlr, @p arg) on the thread of every controller of @p s not being destroyed, by
 *  message, holding a reference meanwhile. Any thread; not under s->ctrlr_lock. */
void nvmf_subsystem_foreach_ctrlr(struct nvmf_subsystem *s,
				  void (*fn)(struct nvmf_ctrlr *ctrlr, uintptr_t arg), uintptr_t arg);
/** (Re)arm the keep-alive timer with @p kato_ms (0 disables): Connect, Set Features KATO. Owner thread. */
void nvmf_ctrlr_set_keep_alive(struct nvmf_ctrlr *ctrlr, uint32_t kato_ms);
/** Copy up to @p len bytes of the request's data (req->iov, req->length) into / out of @p buf; returns bytes copied. */
size_t nvmf_request_copy_from_data(const struct nvmf_request *req, void *buf, size_t len);
size_t nvmf_request_copy_to_data(struct nvmf_request *req, const void *buf, size_t len);

/* ---- admin (admin.c) and I/O (io.c) commands -------------------------------- */

void nvmf_admin_exec(struct nvmf_request *req);
/** Complete pending AERs for events in ctrlr->pending_aen (owner thread). */
void nvmf_ctrlr_deliver_aen(struct nvmf_ctrlr *ctrlr);
/* ctrlr->pending_aen bits. */
#define NVMF_AEN_NS_ATTR_CHANGED (1u << 0)	/* notice, info 00h, log page 04h */
#define NVMF_AEN_DISCOVERY_CHANGED (1u << 1)	/* notice, info F0h, log page 70h */
/** Owner thread (nvmf_ctrlr_ns_changed's message lands here): add @p nsid to the
 *  Changed Namespace List log and send the notice if AEC enables it and it is not masked. */
void nvmf_ctrlr_note_ns_changed(struct nvmf_ctrlr *ctrlr, uint32_t nsid);
/** Owner thread of a discovery controller: the discovery log changed (genctr bumped). */
void nvmf_ctrlr_note_discovery_changed(struct nvmf_ctrlr *ctrlr);
/** Owner thread: complete every parked AER with Aborted - SQ Deletion (admin queue gone). */
void nvmf_ctrlr_abort_aers(struct nvmf_ctrlr *ctrlr);
void nvmf_io_exec(struct nvmf_request *req);

/** This poll group's channel for @p ns (made on first use). Poll group's thread. NULL with errno. */
struct nvmf_pg_ns *nvmf_pg_ns_get(struct nvmf_poll_group *pg, struct nvmf_ns *ns);
/** Account an I/O done on @p pgns; puts the channel when the namespace is being removed. */
void nvmf_pg_ns_io_done(struct nvmf_pg_ns *pgns);

/* ---- discovery (discovery.c) ------------------------------------------------ */

/**
 * Build the discovery log page for @p hostnqn as seen through @p listen_addr
 * into a newly allocated buffer (header + entries); *len its size. Under
 * g_nvmf.lock inside. Returns NULL on ENOMEM.
 */
void *nvmf_discovery_log_build(const char *hostnqn, const struct nvmf_listen_addr *listen_addr,
			       size_t *len);
int nvmf_referral_add(const struct nvmf_listen_addr *addr, const char *subnqn, bool secure);
int nvmf_referral_remove(const struct nvmf_listen_addr *addr, const char *subnqn);

/* ---- RPC and configuration (rpc.c) ----------------------------------------- */

/** Register the nvmf_* methods and the "nvmf" subsystem (depends on "bdev"). Before reactor_app_start(). */
int nvmf_module_init(void);

#endif /* DAEMON_NVMF_H */
