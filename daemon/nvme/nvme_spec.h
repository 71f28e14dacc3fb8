/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe wire structures shared by the target, nvmf-perf and the test host.
 *
 * Layouts follow the NVM Express Base Specification 2.0 (section numbers
 * below) and NVMe over Fabrics (now part of Base 2.0, chapter 6). Every
 * structure is packed and little-endian on the wire; every size and the key
 * offsets are checked with _Static_assert, so a typo fails the build. Use
 * the nvme_get_le*()/nvme_put_le*() helpers when reading fields from a
 * received buffer: they compile to plain loads on little-endian hosts and
 * never require alignment.
 *
 * No I/O here: structures, constants and pure helpers only.
 */
#ifndef NVME_SPEC_H
#define NVME_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- little-endian field access (unaligned-safe) --------------------------- */

static inline uint16_t nvme_get_le16(const void *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap16(v);
#endif
	return v;
}

static inline uint32_t nvme_get_le32(const void *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

static inline uint64_t nvme_get_le64(const void *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static inline void nvme_put_le16(void *p, uint16_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap16(v);
#endif
	memcpy(p, &v, sizeof(v));
}

static inline void nvme_put_le32(void *p, uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	memcpy(p, &v, sizeof(v));
}

static inline void nvme_put_le64(void *p, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	memcpy(p, &v, sizeof(v));
}

#define NVME_STATIC_SIZE(type, size) \
	_Static_assert(sizeof(type) == (size), #type " must be " #size " bytes")
#define NVME_STATIC_OFFSET(type, field, off) \
	_Static_assert(offsetof(type, field) == (off), #type "." #field " must be at " #off)

/* ---- Submission Queue Entry (Base 2.0 §4.2, Figure 88) --------------------- */

/* SGL descriptor (Base 2.0 §4.3.2): 16 bytes; type in the high nibble of
 * byte 15, subtype in the low nibble. */
struct nvme_sgl_desc {
	uint64_t address;
	uint32_t length;
	uint8_t rsvd[3];
	uint8_t type;	/* (type << 4) | subtype */
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_sgl_desc, 16);
NVME_STATIC_OFFSET(struct nvme_sgl_desc, type, 15);

enum nvme_sgl_type {
	NVME_SGL_TYPE_DATA_BLOCK = 0x0,
	NVME_SGL_TYPE_BIT_BUCKET = 0x1,
	NVME_SGL_TYPE_SEGMENT = 0x2,
	NVME_SGL_TYPE_LAST_SEGMENT = 0x3,
	NVME_SGL_TYPE_KEYED_DATA_BLOCK = 0x4,
	NVME_SGL_TYPE_TRANSPORT_DATA_BLOCK = 0x5,
};

enum nvme_sgl_subtype {
	NVME_SGL_SUBTYPE_ADDRESS = 0x0,
	NVME_SGL_SUBTYPE_OFFSET = 0x1,	/* in-capsule data (NVMe/TCP) */
	NVME_SGL_SUBTYPE_TRANSPORT = 0xA,	/* NVMe/TCP: data via R2T/C2HData */
};

#define NVME_SGL_TYPE_BYTE(type, subtype) ((uint8_t)(((type) << 4) | (subtype)))

struct nvme_sqe {
	uint8_t opc;
	uint8_t flags;		/* bits 1:0 FUSE, bits 7:6 PSDT */
	uint16_t cid;
	uint32_t nsid;
	uint32_t cdw2;
	uint32_t cdw3;
	uint64_t mptr;
	union {
		struct {
			uint64_t prp1;
			uint64_t prp2;
		} prp;
		struct nvme_sgl_desc sgl1;
	} dptr;
	uint32_t cdw10;
	uint32_t cdw11;
	uint32_t cdw12;
	uint32_t cdw13;
	uint32_t cdw14;
	uint32_t cdw15;
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_sqe, 64);
NVME_STATIC_OFFSET(struct nvme_sqe, cid, 2);
NVME_STATIC_OFFSET(struct nvme_sqe, nsid, 4);
NVME_STATIC_OFFSET(struct nvme_sqe, mptr, 16);
NVME_STATIC_OFFSET(struct nvme_sqe, dptr, 24);
NVME_STATIC_OFFSET(struct nvme_sqe, cdw10, 40);
NVME_STATIC_OFFSET(struct nvme_sqe, cdw15, 60);

#define NVME_SQE_FUSE_MASK 0x03u
enum nvme_fuse {
	NVME_FUSE_NONE = 0,
	NVME_FUSE_FIRST = 1,
	NVME_FUSE_SECOND = 2,
};
#define NVME_SQE_PSDT_SHIFT 6
#define NVME_SQE_PSDT_SGL 1u	/* SGL for data, metadata buffer (fabrics: always SGL) */

/* ---- Completion Queue Entry (Base 2.0 §4.6, Figure 92) --------------------- */

struct nvme_cqe {
	uint32_t cdw0;
	uint32_t cdw1;
	uint16_t sqhd;
	uint16_t sqid;
	uint16_t cid;
	uint16_t status;	/* P:0, SC:8:1, SCT:11:9, CRD:13:12, M:14, DNR:15 */
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_cqe, 16);
NVME_STATIC_OFFSET(struct nvme_cqe, sqhd, 8);
NVME_STATIC_OFFSET(struct nvme_cqe, cid, 12);
NVME_STATIC_OFFSET(struct nvme_cqe, status, 14);

/* Status field (Base 2.0 §4.6.1, Figure 93), without the phase bit. */
#define NVME_STATUS_SC_SHIFT 1
#define NVME_STATUS_SCT_SHIFT 9
#define NVME_STATUS_CRD_SHIFT 12
#define NVME_STATUS_MORE (1u << 14)
#define NVME_STATUS_DNR (1u << 15)

static inline uint16_t nvme_status(unsigned sct, unsigned sc, int dnr)
{
	return (uint16_t)(((sc & 0xffu) << NVME_STATUS_SC_SHIFT) |
			  ((sct & 0x7u) << NVME_STATUS_SCT_SHIFT) | (dnr ? NVME_STATUS_DNR : 0));
}

static inline unsigned nvme_status_sct(uint16_t status)
{
	return (status >> NVME_STATUS_SCT_SHIFT) & 0x7u;
}

static inline unsigned nvme_status_sc(uint16_t status)
{
	return (status >> NVME_STATUS_SC_SHIFT) & 0xffu;
}

/* Status Code Type (Figure 94). */
enum nvme_sct {
	NVME_SCT_GENERIC = 0x0,
	NVME_SCT_COMMAND_SPECIFIC = 0x1,
	NVME_SCT_MEDIA_ERROR = 0x2,
	NVME_SCT_PATH = 0x3,
	NVME_SCT_VENDOR = 0x7,
};

/* Generic Command Status (Figure 95; NVM command set values from 0x80). */
enum nvme_sc_generic {
	NVME_SC_SUCCESS = 0x00,
	NVME_SC_INVALID_OPCODE = 0x01,
	NVME_SC_INVALID_FIELD = 0x02,
	NVME_SC_CID_CONFLICT = 0x03,
	NVME_SC_DATA_TRANSFER_ERROR = 0x04,
	NVME_SC_ABORTED_POWER_LOSS = 0x05,
	NVME_SC_INTERNAL_ERROR = 0x06,
	NVME_SC_ABORTED_BY_REQUEST = 0x07,
	NVME_SC_ABORTED_SQ_DELETION = 0x08,
	NVME_SC_ABORTED_FAILED_FUSED = 0x09,
	NVME_SC_ABORTED_MISSING_FUSED = 0x0a,
	NVME_SC_INVALID_NAMESPACE_OR_FORMAT = 0x0b,
	NVME_SC_COMMAND_SEQUENCE_ERROR = 0x0c,
	NVME_SC_INVALID_SGL_SEG_DESCRIPTOR = 0x0d,
	NVME_SC_INVALID_NUM_SGL_DESCRIPTORS = 0x0e,
	NVME_SC_DATA_SGL_LENGTH_INVALID = 0x0f,
	NVME_SC_METADATA_SGL_LENGTH_INVALID = 0x10,
	NVME_SC_SGL_DESCRIPTOR_TYPE_INVALID = 0x11,
	NVME_SC_INVALID_CONTROLLER_MEM_BUF = 0x12,
	NVME_SC_INVALID_PRP_OFFSET = 0x13,
	NVME_SC_ATOMIC_WRITE_UNIT_EXCEEDED = 0x14,
	NVME_SC_OPERATION_DENIED = 0x15,
	NVME_SC_INVALID_SGL_OFFSET = 0x16,
	NVME_SC_HOSTID_INCONSISTENT_FORMAT = 0x18,
	NVME_SC_KEEP_ALIVE_EXPIRED = 0x19,
	NVME_SC_KEEP_ALIVE_INVALID = 0x1a,
	NVME_SC_ABORTED_PREEMPT = 0x1b,
	NVME_SC_SANITIZE_FAILED = 0x1c,
	NVME_SC_SANITIZE_IN_PROGRESS = 0x1d,
	NVME_SC_SGL_DATA_BLOCK_GRANULARITY_INVALID = 0x1e,
	NVME_SC_COMMAND_INVALID_IN_CMB = 0x1f,
	NVME_SC_NAMESPACE_IS_WRITE_PROTECTED = 0x20,
	NVME_SC_COMMAND_INTERRUPTED = 0x21,
	NVME_SC_TRANSIENT_TRANSPORT_ERROR = 0x22,
	NVME_SC_LBA_OUT_OF_RANGE = 0x80,
	NVME_SC_CAPACITY_EXCEEDED = 0x81,
	NVME_SC_NAMESPACE_NOT_READY = 0x82,
	NVME_SC_RESERVATION_CONFLICT = 0x83,
	NVME_SC_FORMAT_IN_PROGRESS = 0x84,
};

/* Command Specific Status (Figure 96; fabrics values from Base 2.0 §6.3). */
enum nvme_sc_command_specific {
	NVME_SC_COMPLETION_QUEUE_INVALID = 0x00,
	NVME_SC_INVALID_QUEUE_IDENTIFIER = 0x01,
	NVME_SC_INVALID_QUEUE_SIZE = 0x02,
	NVME_SC_ABORT_COMMAND_LIMIT_EXCEEDED = 0x03,
	NVME_SC_ASYNC_EVENT_REQUEST_LIMIT_EXCEEDED = 0x05,
	NVME_SC_INVALID_FIRMWARE_SLOT = 0x06,
	NVME_SC_INVALID_FIRMWARE_IMAGE = 0x07,
	NVME_SC_INVALID_INTERRUPT_VECTOR = 0x08,
	NVME_SC_INVALID_LOG_PAGE = 0x09,
	NVME_SC_INVALID_FORMAT = 0x0a,
	NVME_SC_FEATURE_ID_NOT_SAVEABLE = 0x0d,
	NVME_SC_FEATURE_NOT_CHANGEABLE = 0x0e,
	NVME_SC_FEATURE_NOT_NAMESPACE_SPECIFIC = 0x0f,
	NVME_SC_NAMESPACE_INSUFFICIENT_CAPACITY = 0x15,
	NVME_SC_NAMESPACE_ID_UNAVAILABLE = 0x16,
	NVME_SC_NAMESPACE_ALREADY_ATTACHED = 0x18,
	NVME_SC_NAMESPACE_NOT_ATTACHED = 0x1a,
	NVME_SC_CONFLICTING_ATTRIBUTES = 0x80,	/* NVM: DSM/Write Zeroes */
	NVME_SC_INVALID_PROTECTION_INFO = 0x81,
	NVME_SC_ATTEMPTED_WRITE_TO_RO_RANGE = 0x82,
	/* Fabrics (Base 2.0 Figure 555 / NVMe-oF 1.1 Figure 38) */
	NVME_SC_CONNECT_INCOMPATIBLE_FORMAT = 0x80,
	NVME_SC_CONNECT_CONTROLLER_BUSY = 0x81,
	NVME_SC_CONNECT_INVALID_PARAMETERS = 0x82,
	NVME_SC_CONNECT_RESTART_DISCOVERY = 0x83,
	NVME_SC_CONNECT_INVALID_HOST = 0x84,
	NVME_SC_INVALID_QUEUE_TYPE = 0x85,
	NVME_SC_DISCOVER_RESTART = 0x90,
	NVME_SC_AUTH_REQUIRED = 0x91,
};

/* Media and Data Integrity Errors (Figure 97). */
enum nvme_sc_media {
	NVME_SC_WRITE_FAULT = 0x80,
	NVME_SC_UNRECOVERED_READ_ERROR = 0x81,
	NVME_SC_GUARD_CHECK_ERROR = 0x82,
	NVME_SC_APPLICATION_TAG_CHECK_ERROR = 0x83,
	NVME_SC_REFERENCE_TAG_CHECK_ERROR = 0x84,
	NVME_SC_COMPARE_FAILURE = 0x85,
	NVME_SC_ACCESS_DENIED = 0x86,
	NVME_SC_DEALLOCATED_OR_UNWRITTEN_BLOCK = 0x87,
};

/* Path Related Status (Figure 98). */
enum nvme_sc_path {
	NVME_SC_INTERNAL_PATH_ERROR = 0x00,
	NVME_SC_ANA_PERSISTENT_LOSS = 0x01,
	NVME_SC_ANA_INACCESSIBLE = 0x02,
	NVME_SC_ANA_TRANSITION = 0x03,
	NVME_SC_CONTROLLER_PATH_ERROR = 0x60,
	NVME_SC_HOST_PATH_ERROR = 0x70,
	NVME_SC_ABORTED_BY_HOST = 0x71,
};

/*
 * Names for logging: "GENERIC", "INVALID_FIELD", ... Never NULL; unknown
 * values give "UNKNOWN". nvme_sc_name() needs the SCT because codes are
 * reused across types; for SCT 1 the fabrics names are returned when
 * `fabrics` is non-zero (the command was a Fabrics command).
 */
const char *nvme_sct_name(unsigned sct);
const char *nvme_sc_name(unsigned sct, unsigned sc, int fabrics);
/* Formats "SCT/SC (name)" into buf (always NUL-terminated); returns buf. */
char *nvme_status_str(uint16_t status, int fabrics, char *buf, size_t len);

/* ---- opcodes (Base 2.0 Figure 138; NVM Command Set 1.0 Figure 13) ----------- */

enum nvme_admin_opc {
	NVME_OPC_DELETE_IO_SQ = 0x00,
	NVME_OPC_CREATE_IO_SQ = 0x01,
	NVME_OPC_GET_LOG_PAGE = 0x02,
	NVME_OPC_DELETE_IO_CQ = 0x04,
	NVME_OPC_CREATE_IO_CQ = 0x05,
	NVME_OPC_IDENTIFY = 0x06,
	NVME_OPC_ABORT = 0x08,
	NVME_OPC_SET_FEATURES = 0x09,
	NVME_OPC_GET_FEATURES = 0x0a,
	NVME_OPC_ASYNC_EVENT_REQUEST = 0x0c,
	NVME_OPC_NS_MANAGEMENT = 0x0d,
	NVME_OPC_FIRMWARE_COMMIT = 0x10,
	NVME_OPC_FIRMWARE_DOWNLOAD = 0x11,
	NVME_OPC_DEVICE_SELF_TEST = 0x14,
	NVME_OPC_NS_ATTACHMENT = 0x15,
	NVME_OPC_KEEP_ALIVE = 0x18,
	NVME_OPC_DIRECTIVE_SEND = 0x19,
	NVME_OPC_DIRECTIVE_RECEIVE = 0x1a,
	NVME_OPC_FABRICS = 0x7f,
	NVME_OPC_FORMAT_NVM = 0x80,
	NVME_OPC_SANITIZE = 0x84,
};

enum nvme_nvm_opc {
	NVME_OPC_FLUSH = 0x00,
	NVME_OPC_WRITE = 0x01,
	NVME_OPC_READ = 0x02,
	NVME_OPC_WRITE_UNCORRECTABLE = 0x04,
	NVME_OPC_COMPARE = 0x05,
	NVME_OPC_WRITE_ZEROES = 0x08,
	NVME_OPC_DATASET_MANAGEMENT = 0x09,
};

/* Data direction is bits 1:0 of the opcode (Base 2.0 §5, Figure 138). */
enum nvme_data_dir {
	NVME_DATA_NONE = 0,
	NVME_DATA_HOST_TO_CTRLR = 1,
	NVME_DATA_CTRLR_TO_HOST = 2,
	NVME_DATA_BIDIRECTIONAL = 3,
};

static inline enum nvme_data_dir nvme_opc_data_dir(uint8_t opc)
{
	return (enum nvme_data_dir)(opc & 0x3u);
}

/* Identify CNS (Base 2.0 Figure 273). */
enum nvme_identify_cns {
	NVME_CNS_NS = 0x00,
	NVME_CNS_CTRLR = 0x01,
	NVME_CNS_ACTIVE_NS_LIST = 0x02,
	NVME_CNS_NS_ID_DESC_LIST = 0x03,
	NVME_CNS_CSI_NS = 0x05,
	NVME_CNS_CSI_CTRLR = 0x06,
	NVME_CNS_CSI_ACTIVE_NS_LIST = 0x07,
	NVME_CNS_CSI_INDEPENDENT_NS = 0x08,
	NVME_CNS_ALLOCATED_NS_LIST = 0x10,
	NVME_CNS_CMD_SET_LIST = 0x1c,
};

/* Log page identifiers (Base 2.0 Figure 202). */
enum nvme_log_id {
	NVME_LOG_ERROR = 0x01,
	NVME_LOG_SMART = 0x02,
	NVME_LOG_FIRMWARE_SLOT = 0x03,
	NVME_LOG_CHANGED_NS_LIST = 0x04,
	NVME_LOG_COMMANDS_EFFECTS = 0x05,
	NVME_LOG_DISCOVERY = 0x70,
};

/* Feature identifiers (Base 2.0 Figure 317). */
enum nvme_feat_id {
	NVME_FEAT_ARBITRATION = 0x01,
	NVME_FEAT_POWER_MANAGEMENT = 0x02,
	NVME_FEAT_TEMPERATURE_THRESHOLD = 0x04,
	NVME_FEAT_ERROR_RECOVERY = 0x05,
	NVME_FEAT_VOLATILE_WRITE_CACHE = 0x06,
	NVME_FEAT_NUMBER_OF_QUEUES = 0x07,
	NVME_FEAT_INTERRUPT_COALESCING = 0x08,
	NVME_FEAT_INTERRUPT_VECTOR_CONFIG = 0x09,
	NVME_FEAT_WRITE_ATOMICITY = 0x0a,
	NVME_FEAT_ASYNC_EVENT_CONFIG = 0x0b,
	NVME_FEAT_KEEP_ALIVE_TIMER = 0x0f,
	NVME_FEAT_HOST_IDENTIFIER = 0x81,
};

/* ---- Fabrics commands (Base 2.0 §6.1-6.6; NVMe-oF 1.1 §3.3) ---------------- */

enum nvme_fctype {
	NVME_FCTYPE_PROPERTY_SET = 0x00,
	NVME_FCTYPE_CONNECT = 0x01,
	NVME_FCTYPE_PROPERTY_GET = 0x04,
	NVME_FCTYPE_AUTH_SEND = 0x05,
	NVME_FCTYPE_AUTH_RECV = 0x06,
	NVME_FCTYPE_DISCONNECT = 0x08,
};

/* The common Fabrics command SQE: opcode 0x7f, fctype at byte 4. */
struct nvme_fabrics_cmd {
	uint8_t opc;
	uint8_t flags;
	uint16_t cid;
	uint8_t fctype;
	uint8_t rsvd1[19];
	struct nvme_sgl_desc sgl1;
	uint8_t specific[24];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_fabrics_cmd, 64);
NVME_STATIC_OFFSET(struct nvme_fabrics_cmd, fctype, 4);
NVME_STATIC_OFFSET(struct nvme_fabrics_cmd, sgl1, 24);
NVME_STATIC_OFFSET(struct nvme_fabrics_cmd, specific, 40);

/* Connect command (Base 2.0 §6.3, Figure 552). */
struct nvme_connect_cmd {
	uint8_t opc;
	uint8_t flags;
	uint16_t cid;
	uint8_t fctype;
	uint8_t rsvd1[19];
	struct nvme_sgl_desc sgl1;
	uint16_t recfmt;
	uint16_t qid;
	uint16_t sqsize;	/* 0's based */
	uint8_t cattr;
	uint8_t rsvd2;
	uint32_t kato;		/* milliseconds */
	uint8_t rsvd3[12];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_connect_cmd, 64);
NVME_STATIC_OFFSET(struct nvme_connect_cmd, recfmt, 40);
NVME_STATIC_OFFSET(struct nvme_connect_cmd, qid, 42);
NVME_STATIC_OFFSET(struct nvme_connect_cmd, sqsize, 44);
NVME_STATIC_OFFSET(struct nvme_connect_cmd, cattr, 46);
NVME_STATIC_OFFSET(struct nvme_connect_cmd, kato, 48);

/* Connect data (Figure 553): 1024 bytes. */
#define NVME_NQN_SIZE 256
#define NVME_CNTLID_DYNAMIC 0xffffu
#define NVME_CNTLID_STATIC_ANY 0xfffeu
struct nvme_connect_data {
	uint8_t hostid[16];
	uint16_t cntlid;
	uint8_t rsvd1[238];
	char subnqn[NVME_NQN_SIZE];
	char hostnqn[NVME_NQN_SIZE];
	uint8_t rsvd2[256];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_connect_data, 1024);
NVME_STATIC_OFFSET(struct nvme_connect_data, cntlid, 16);
NVME_STATIC_OFFSET(struct nvme_connect_data, subnqn, 256);
NVME_STATIC_OFFSET(struct nvme_connect_data, hostnqn, 512);

/* Connect response DW0 (Figure 555): CNTLID in bits 15:0. For Invalid
 * Parameters, DW0 holds IATTR (byte 2) and IPO (bytes 1:0). */
#define NVME_CONNECT_IATTR_DATA 1u	/* the invalid parameter is in the Connect data */

/* Property Get/Set (Base 2.0 §6.5/6.6, Figures 560/563). */
struct nvme_property_cmd {
	uint8_t opc;
	uint8_t flags;
	uint16_t cid;
	uint8_t fctype;
	uint8_t rsvd1[35];
	uint8_t attrib;		/* bits 2:0: 0 = 4 bytes, 1 = 8 bytes */
	uint8_t rsvd2[3];
	uint32_t ofst;
	uint64_t value;		/* Property Set only */
	uint8_t rsvd3[8];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_property_cmd, 64);
NVME_STATIC_OFFSET(struct nvme_property_cmd, attrib, 40);
NVME_STATIC_OFFSET(struct nvme_property_cmd, ofst, 44);
NVME_STATIC_OFFSET(struct nvme_property_cmd, value, 48);

/* Properties (Base 2.0 §3.1.4, Figure 35). */
enum nvme_prop {
	NVME_PROP_CAP = 0x00,	/* 8 bytes */
	NVME_PROP_VS = 0x08,
	NVME_PROP_CC = 0x14,
	NVME_PROP_CSTS = 0x1c,
	NVME_PROP_NSSR = 0x20,
};

#define NVME_CC_EN (1u << 0)
#define NVME_CC_SHN_SHIFT 14
#define NVME_CC_SHN_MASK (3u << NVME_CC_SHN_SHIFT)
#define NVME_CSTS_RDY (1u << 0)
#define NVME_CSTS_CFS (1u << 1)
#define NVME_CSTS_SHST_SHIFT 2
#define NVME_CSTS_SHST_MASK (3u << NVME_CSTS_SHST_SHIFT)
#define NVME_CSTS_SHST_COMPLETE (2u << NVME_CSTS_SHST_SHIFT)
#define NVME_VS(maj, min, ter) (((uint32_t)(maj) << 16) | ((uint32_t)(min) << 8) | (ter))

/* ---- Identify data (Base 2.0 §5.17.2) ------------------------------------- */

struct nvme_power_state {
	uint8_t raw[32];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_power_state, 32);

/* Identify Controller (Figure 275): 4096 bytes. */
struct nvme_id_ctrlr {
	uint16_t vid;
	uint16_t ssvid;
	char sn[20];
	char mn[40];
	char fr[8];
	uint8_t rab;
	uint8_t ieee[3];
	uint8_t cmic;
	uint8_t mdts;
	uint16_t cntlid;
	uint32_t ver;
	uint32_t rtd3r;
	uint32_t rtd3e;
	uint32_t oaes;
	uint32_t ctratt;
	uint16_t rrls;
	uint8_t rsvd102[9];
	uint8_t cntrltype;
	uint8_t fguid[16];
	uint16_t crdt[3];
	uint8_t rsvd134[119];
	uint8_t nvmsr;
	uint8_t vwci;
	uint8_t mec;
	/* admin command set attributes */
	uint16_t oacs;
	uint8_t acl;
	uint8_t aerl;
	uint8_t frmw;
	uint8_t lpa;
	uint8_t elpe;
	uint8_t npss;
	uint8_t avscc;
	uint8_t apsta;
	uint16_t wctemp;
	uint16_t cctemp;
	uint16_t mtfa;
	uint32_t hmpre;
	uint32_t hmmin;
	uint8_t tnvmcap[16];
	uint8_t unvmcap[16];
	uint32_t rpmbs;
	uint16_t edstt;
	uint8_t dsto;
	uint8_t fwug;
	uint16_t kas;
	uint16_t hctma;
	uint16_t mntmt;
	uint16_t mxtmt;
	uint32_t sanicap;
	uint32_t hmminds;
	uint16_t hmmaxd;
	uint16_t nsetidmax;
	uint16_t endgidmax;
	uint8_t anatt;
	uint8_t anacap;
	uint32_t anagrpmax;
	uint32_t nanagrpid;
	uint32_t pels;
	uint16_t domainid;
	uint8_t rsvd358[10];
	uint8_t megcap[16];
	uint8_t rsvd384[128];
	/* NVM command set attributes */
	uint8_t sqes;
	uint8_t cqes;
	uint16_t maxcmd;
	uint32_t nn;
	uint16_t oncs;
	uint16_t fuses;
	uint8_t fna;
	uint8_t vwc;
	uint16_t awun;
	uint16_t awupf;
	uint8_t icsvscc;
	uint8_t nwpc;
	uint16_t acwu;
	uint16_t ocfs;
	uint32_t sgls;
	uint32_t mnan;
	uint8_t maxdna[16];
	uint32_t maxcna;
	uint8_t rsvd564[204];
	char subnqn[256];
	uint8_t rsvd1024[768];
	/* fabrics (Figure 275, bytes 1792-2047) */
	uint32_t ioccsz;	/* in 16-byte units */
	uint32_t iorcsz;
	uint16_t icdoff;
	uint8_t fcatt;
	uint8_t msdbd;
	uint16_t ofcs;
	uint8_t rsvd1806[242];
	struct nvme_power_state psd[32];
	uint8_t vs[1024];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_id_ctrlr, 4096);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, sn, 4);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, mn, 24);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, fr, 64);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, mdts, 77);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, cntlid, 78);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, ver, 80);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, oaes, 92);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, ctratt, 96);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, cntrltype, 111);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, crdt, 128);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, oacs, 256);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, lpa, 261);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, wctemp, 266);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, tnvmcap, 280);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, kas, 320);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, anacap, 343);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, pels, 352);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, sqes, 512);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, maxcmd, 514);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, nn, 516);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, oncs, 520);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, vwc, 525);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, sgls, 536);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, maxcna, 560);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, subnqn, 768);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, ioccsz, 1792);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, icdoff, 1800);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, msdbd, 1803);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, psd, 2048);
NVME_STATIC_OFFSET(struct nvme_id_ctrlr, vs, 3072);

enum nvme_cntrltype {
	NVME_CNTRLTYPE_IO = 1,
	NVME_CNTRLTYPE_DISCOVERY = 2,
	NVME_CNTRLTYPE_ADMIN = 3,
};

/* LBA format (NVM Command Set 1.0 Figure 98). */
struct nvme_lbaf {
	uint16_t ms;
	uint8_t lbads;		/* log2 of the data size */
	uint8_t rp;
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_lbaf, 4);

/* Identify Namespace, NVM command set (NVM Command Set 1.0 Figure 97). */
struct nvme_id_ns {
	uint64_t nsze;
	uint64_t ncap;
	uint64_t nuse;
	uint8_t nsfeat;
	uint8_t nlbaf;		/* 0's based */
	uint8_t flbas;
	uint8_t mc;
	uint8_t dpc;
	uint8_t dps;
	uint8_t nmic;
	uint8_t rescap;
	uint8_t fpi;
	uint8_t dlfeat;
	uint16_t nawun;
	uint16_t nawupf;
	uint16_t nacwu;
	uint16_t nabsn;
	uint16_t nabo;
	uint16_t nabspf;
	uint16_t noiob;
	uint8_t nvmcap[16];
	uint16_t npwg;
	uint16_t npwa;
	uint16_t npdg;
	uint16_t npda;
	uint16_t nows;
	uint16_t mssrl;
	uint32_t mcl;
	uint8_t msrc;
	uint8_t rsvd81[11];
	uint32_t anagrpid;
	uint8_t rsvd96[3];
	uint8_t nsattr;
	uint16_t nvmsetid;
	uint16_t endgid;
	uint8_t nguid[16];
	uint8_t eui64[8];
	struct nvme_lbaf lbaf[64];
	uint8_t rsvd384[3520];
	uint8_t vs[192];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_id_ns, 4096);
NVME_STATIC_OFFSET(struct nvme_id_ns, nsfeat, 24);
NVME_STATIC_OFFSET(struct nvme_id_ns, flbas, 26);
NVME_STATIC_OFFSET(struct nvme_id_ns, dlfeat, 33);
NVME_STATIC_OFFSET(struct nvme_id_ns, noiob, 46);
NVME_STATIC_OFFSET(struct nvme_id_ns, nvmcap, 48);
NVME_STATIC_OFFSET(struct nvme_id_ns, npwg, 64);
NVME_STATIC_OFFSET(struct nvme_id_ns, anagrpid, 92);
NVME_STATIC_OFFSET(struct nvme_id_ns, nsattr, 99);
NVME_STATIC_OFFSET(struct nvme_id_ns, nguid, 104);
NVME_STATIC_OFFSET(struct nvme_id_ns, eui64, 120);
NVME_STATIC_OFFSET(struct nvme_id_ns, lbaf, 128);
NVME_STATIC_OFFSET(struct nvme_id_ns, vs, 3904);

/* Namespace identification descriptor header (Base 2.0 Figure 278). */
struct nvme_ns_id_desc {
	uint8_t nidt;
	uint8_t nidl;
	uint8_t rsvd[2];
	/* nidl bytes of identifier follow */
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_ns_id_desc, 4);

enum nvme_nidt {
	NVME_NIDT_EUI64 = 1,	/* 8 bytes */
	NVME_NIDT_NGUID = 2,	/* 16 bytes */
	NVME_NIDT_UUID = 3,	/* 16 bytes */
	NVME_NIDT_CSI = 4,	/* 1 byte */
};

/* ---- Get Log Page (Base 2.0 §5.16) ---------------------------------------- */

/* Get Log Page CDW10: LID 7:0, LSP 14:8, RAE 15, NUMDL 31:16; CDW11: NUMDU
 * 15:0; CDW12/13: LPOL/LPOU. Returns the transfer length in bytes. */
static inline uint64_t nvme_get_log_len(uint32_t cdw10, uint32_t cdw11)
{
	uint32_t numd = (cdw10 >> 16) | ((cdw11 & 0xffffu) << 16);
	return ((uint64_t)numd + 1) * 4;
}

/* Error Information log entry (Figure 205): 64 bytes. */
struct nvme_error_log_entry {
	uint64_t error_count;
	uint16_t sqid;
	uint16_t cid;
	uint16_t status;	/* includes the phase tag in bit 0 */
	uint16_t error_location;
	uint64_t lba;
	uint32_t nsid;
	uint8_t vs;
	uint8_t trtype;
	uint8_t rsvd30[2];
	uint64_t csi;
	uint16_t trtype_specific;
	uint8_t rsvd42[22];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_error_log_entry, 64);
NVME_STATIC_OFFSET(struct nvme_error_log_entry, lba, 16);
NVME_STATIC_OFFSET(struct nvme_error_log_entry, nsid, 24);

/* SMART / Health Information (Figure 207): 512 bytes. */
struct nvme_smart_log {
	uint8_t critical_warning;
	uint16_t temperature;	/* kelvin */
	uint8_t avail_spare;
	uint8_t avail_spare_threshold;
	uint8_t percentage_used;
	uint8_t endurance_group_critical;
	uint8_t rsvd7[25];
	uint8_t data_units_read[16];	/* 1000 x 512 bytes */
	uint8_t data_units_written[16];
	uint8_t host_read_commands[16];
	uint8_t host_write_commands[16];
	uint8_t controller_busy_time[16];
	uint8_t power_cycles[16];
	uint8_t power_on_hours[16];
	uint8_t unsafe_shutdowns[16];
	uint8_t media_errors[16];
	uint8_t num_err_log_entries[16];
	uint32_t warning_temp_time;
	uint32_t critical_temp_time;
	uint16_t temp_sensor[8];
	uint32_t thm_temp1_trans_count;
	uint32_t thm_temp2_trans_count;
	uint32_t thm_temp1_total_time;
	uint32_t thm_temp2_total_time;
	uint8_t rsvd232[280];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_smart_log, 512);
NVME_STATIC_OFFSET(struct nvme_smart_log, temperature, 1);
NVME_STATIC_OFFSET(struct nvme_smart_log, data_units_read, 32);
NVME_STATIC_OFFSET(struct nvme_smart_log, power_on_hours, 128);
NVME_STATIC_OFFSET(struct nvme_smart_log, num_err_log_entries, 176);
NVME_STATIC_OFFSET(struct nvme_smart_log, warning_temp_time, 192);
NVME_STATIC_OFFSET(struct nvme_smart_log, temp_sensor, 200);

/* Firmware Slot Information (Figure 209): 512 bytes. */
struct nvme_fw_slot_log {
	uint8_t afi;
	uint8_t rsvd1[7];
	char frs[7][8];
	uint8_t rsvd64[448];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_fw_slot_log, 512);
NVME_STATIC_OFFSET(struct nvme_fw_slot_log, frs, 8);

/* Commands Supported and Effects (Figure 211): 4096 bytes. */
#define NVME_CSE_CSUPP (1u << 0)
#define NVME_CSE_LBCC (1u << 1)
#define NVME_CSE_NCC (1u << 2)
#define NVME_CSE_NIC (1u << 3)
struct nvme_cmds_effects_log {
	uint32_t acs[256];
	uint32_t iocs[256];
	uint8_t rsvd2048[2048];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_cmds_effects_log, 4096);
NVME_STATIC_OFFSET(struct nvme_cmds_effects_log, iocs, 1024);

/* Discovery log page (Base 2.0 §5.16.1.23, Figures 262/263). */
struct nvme_discovery_log_hdr {
	uint64_t genctr;
	uint64_t numrec;
	uint16_t recfmt;
	uint8_t rsvd[1006];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_discovery_log_hdr, 1024);

struct nvme_discovery_log_entry {
	uint8_t trtype;		/* 3 = TCP */
	uint8_t adrfam;		/* 1 = IPv4, 2 = IPv6 */
	uint8_t subtype;	/* 1 = referral, 2 = NVM subsystem, 3 = current discovery */
	uint8_t treq;
	uint16_t portid;
	uint16_t cntlid;
	uint16_t asqsz;
	uint16_t eflags;
	uint8_t rsvd12[20];
	char trsvcid[32];
	uint8_t rsvd64[192];
	char subnqn[256];
	char traddr[256];
	uint8_t tsas[256];	/* TCP: byte 0 = SECTYPE */
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_discovery_log_entry, 1024);
NVME_STATIC_OFFSET(struct nvme_discovery_log_entry, asqsz, 8);
NVME_STATIC_OFFSET(struct nvme_discovery_log_entry, trsvcid, 32);
NVME_STATIC_OFFSET(struct nvme_discovery_log_entry, subnqn, 256);
NVME_STATIC_OFFSET(struct nvme_discovery_log_entry, traddr, 512);
NVME_STATIC_OFFSET(struct nvme_discovery_log_entry, tsas, 768);

#define NVME_TRTYPE_TCP 3
#define NVME_ADRFAM_IPV4 1
#define NVME_ADRFAM_IPV6 2
#define NVME_DISC_SUBTYPE_REFERRAL 1
#define NVME_DISC_SUBTYPE_NVME 2
#define NVME_DISC_SUBTYPE_CURRENT 3
#define NVME_DISCOVERY_NQN "nqn.2014-08.org.nvmexpress.discovery"

/* NVMe Qualified Names (Base 2.0 §4.5): at most 223 bytes of UTF-8. */
#define NVME_NQN_MAX_LEN 223
/*
 * True when nqn[0..size) holds a NUL-terminated NQN of either form:
 * "nqn.yyyy-mm.<reverse domain>[:<name>]" or
 * "nqn.2014-08.org.nvmexpress:uuid:<8-4-4-4-12 hex UUID>". Never reads
 * past size bytes (a Connect data field is 256 bytes, maybe unterminated).
 */
bool nvme_nqn_valid(const char *nqn, size_t size);

#endif /* NVME_SPEC_H */
