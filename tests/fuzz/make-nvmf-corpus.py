#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
#
# Writes the seed corpus of tests/fuzz/nvmf_tgt_fuzz.c into
# tests/fuzz/corpus/nvmf_tgt/: valid sessions (Connect, Identify, log
# pages, features, Write in-capsule and by R2T, Read, Flush, Write Zeroes,
# DSM, Compare, fused Compare and Write, with and without digests) and one
# input per malformed case. Byte 0 of each input is the harness's mode
# byte (see nvmf_tgt_fuzz.c); digests are left zero in inputs with the
# fix-up bit, the harness computes them.
import os
import struct
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "nvmf_tgt")
RAW, ICREQ, ADMIN, IO = 0, 1, 2, 3
HDGST, DDGST, FIXUP, LINGER = 0x04, 0x08, 0x10, 0x20
SUBNQN = b"nqn.2016-06.io.libreactor:fuzz"
DISCNQN = b"nqn.2014-08.org.nvmexpress.discovery"
HOSTNQN = b"nqn.2014-08.org.nvmexpress:uuid:8a3c1a9e-2d3b-4f1e-9a6b-0c1d2e3f4a5b"
SGL_ICD = 0x01          # data block, offset subtype: in-capsule
SGL_XPORT = 0x5A        # transport data block, transport subtype


def ch(ptype, flags, hlen, pdo, plen):
    return struct.pack("<BBBBI", ptype, flags, hlen, pdo, plen)


def icreq(hpda=0, dgst=0, maxr2t=0, pfv=0, hlen=128, plen=128):
    return ch(0x00, 0, hlen, 0, plen) + struct.pack("<HBBI", pfv, hpda, dgst, maxr2t) + bytes(112)


def sqe(opc, cid, nsid=0, cdw10=0, cdw11=0, cdw12=0, cdw13=0, cdw14=0, cdw15=0,
        sgl_len=0, sgl_type=SGL_XPORT, flags=0x40, fctype=None):
    s = bytearray(64)
    struct.pack_into("<BBHI", s, 0, opc, flags, cid, nsid)
    if fctype is not None:
        s[4] = fctype
    struct.pack_into("<QI3xB", s, 24, 0, sgl_len, sgl_type)
    struct.pack_into("<6I", s, 40, cdw10, cdw11, cdw12, cdw13, cdw14, cdw15)
    return bytes(s)


def capsule(s, data=b"", hd=False, dd=False, icd=True):
    hl = 72 + (4 if hd else 0)
    flags = (1 if hd else 0) | (2 if dd and data else 0)
    if data and icd:
        # the SGL says in-capsule data of this length
        s = bytearray(s)
        struct.pack_into("<QI3xB", s, 24, 0, len(data), SGL_ICD)
        s = bytes(s)
    pdo = hl if data else 0
    plen = hl + len(data) + (4 if dd and data else 0)
    out = ch(0x04, flags, 72, pdo, plen) + s + (bytes(4) if hd else b"") + data
    return out + (bytes(4) if dd and data else b"")


def h2c(cccid, ttag, datao, data, last=True, hd=False, dd=False):
    hl = 24 + (4 if hd else 0)
    flags = (1 if hd else 0) | (2 if dd else 0) | (4 if last else 0)
    plen = hl + len(data) + (4 if dd else 0)
    out = ch(0x06, flags, 24, hl, plen) + struct.pack("<HHII4x", cccid, ttag, datao, len(data))
    return out + (bytes(4) if hd else b"") + data + (bytes(4) if dd else b"")


def answer_r2t():
    return ch(0xFE, 0, 8, 0, 8)


def connect_data(subnqn=SUBNQN, hostnqn=HOSTNQN, cntlid=0xFFFF):
    d = bytearray(1024)
    d[0:16] = b"fuzzfuzzfuzzfuzz"
    struct.pack_into("<H", d, 16, cntlid)
    d[256:256 + len(subnqn)] = subnqn
    d[512:512 + len(hostnqn)] = hostnqn
    return bytes(d)


def connect(qid=0, sqsize=31, cid=1, kato=0, cattr=0, **kw):
    s = bytearray(sqe(0x7F, cid, fctype=0x01))
    struct.pack_into("<HHHBxI", s, 40, 0, qid, sqsize, cattr, kato)
    return capsule(bytes(s), connect_data(**kw))


def prop(set_, ofst, value=0, cid=2, size8=False):
    s = bytearray(sqe(0x7F, cid, fctype=0x00 if set_ else 0x04))
    s[40] = 1 if size8 else 0
    struct.pack_into("<I", s, 44, ofst)
    struct.pack_into("<Q", s, 48, value)
    return capsule(bytes(s))


CC_EN = 1 | (6 << 16) | (4 << 20)


def identify(cns, cid=3, nsid=0, hd=False):
    return capsule(sqe(0x06, cid, nsid, cdw10=cns, sgl_len=4096), hd=hd)


def get_log(lid, numd=127, cid=4, nsid=0xFFFFFFFF, offset=0):
    return capsule(sqe(0x02, cid, nsid, cdw10=lid | (numd << 16), cdw12=offset,
                       sgl_len=(numd + 1) * 4))


def rw(opc, cid, nsid, lba, nlb, data=None, xfer=None, hd=False, dd=False, fuse=0):
    n = nlb - 1
    flags = 0x40 | fuse
    if data is not None:
        return capsule(sqe(opc, cid, nsid, lba & 0xFFFFFFFF, lba >> 32, n, flags=flags),
                       data, hd, dd)
    return capsule(sqe(opc, cid, nsid, lba & 0xFFFFFFFF, lba >> 32, n, sgl_len=xfer or 0,
                       flags=flags), hd=hd, dd=dd)


seeds = {}

# ---- valid sessions -------------------------------------------------------------
admin_up = connect() + prop(True, 0x14, CC_EN) + prop(False, 0x1C)
seeds["raw-connect-identify"] = bytes([RAW]) + icreq() + admin_up + identify(1) + identify(0, 4, 1)
seeds["icreq-connect-identify"] = bytes([ICREQ]) + admin_up + identify(1) + identify(2, 5) + identify(3, 6, 1)
seeds["icreq-discovery-log"] = (bytes([ICREQ]) + connect(subnqn=DISCNQN) + prop(True, 0x14, CC_EN)
                                + identify(1) + get_log(0x70, 1023, 7, 0))
seeds["admin-identify"] = bytes([ADMIN]) + identify(1) + identify(0, 4, 1) + identify(0, 5, 2) + identify(2, 6) + identify(3, 7, 1)
seeds["admin-log-pages"] = bytes([ADMIN]) + b"".join(get_log(l, 127, 10 + l) for l in (1, 2, 3, 4, 5))
seeds["admin-features"] = bytes([ADMIN]) + b"".join(
    capsule(sqe(0x0A, 20 + f, cdw10=f)) for f in (1, 2, 4, 5, 6, 7, 8, 0xA, 0xB, 0xF)) + \
    capsule(sqe(0x09, 40, cdw10=0xF, cdw11=5000)) + capsule(sqe(0x09, 41, cdw10=0x6, cdw11=1)) + \
    capsule(sqe(0x09, 42, cdw10=0xB, cdw11=0x100))
seeds["admin-aer-keepalive-abort"] = bytes([ADMIN | LINGER]) + capsule(sqe(0x0C, 50)) + \
    capsule(sqe(0x0C, 51)) + capsule(sqe(0x18, 52)) + capsule(sqe(0x08, 53, cdw10=50))
seeds["admin-props"] = bytes([ADMIN]) + prop(False, 0x00, cid=60, size8=True) + prop(False, 0x08, cid=61) + \
    prop(False, 0x14, cid=62) + prop(True, 0x14, CC_EN | (1 << 14), cid=63) + prop(False, 0x1C, cid=64)
seeds["admin-invalid-opcodes"] = bytes([ADMIN]) + capsule(sqe(0xC0, 70)) + capsule(sqe(0x01, 71)) + \
    capsule(sqe(0x7F, 72, fctype=0x05)) + capsule(sqe(0x80, 73, nsid=1))

w4k = bytes(range(256)) * 16
seeds["io-write-read"] = bytes([IO]) + rw(0x01, 1, 1, 0, 8, w4k) + rw(0x02, 2, 1, 0, 8, xfer=4096) + \
    capsule(sqe(0x00, 3, 1))
seeds["io-write-r2t-read"] = bytes([IO]) + rw(0x01, 1, 1, 64, 32, xfer=16384) + answer_r2t() + \
    rw(0x02, 2, 1, 64, 32, xfer=16384)
seeds["io-r2t-manual-h2c"] = bytes([IO]) + rw(0x01, 1, 1, 0, 16, xfer=8192) + h2c(1, 0, 0, bytes(8192)) + \
    h2c(1, 1, 0, bytes(4096), last=False)
seeds["io-big-read-ns2"] = bytes([IO]) + rw(0x02, 1, 1, 0, 256, xfer=131072) + rw(0x02, 2, 2, 0, 32, xfer=131072) + \
    rw(0x01, 3, 2, 1, 1, w4k)
dsm_range = struct.pack("<IIQ", 0, 16, 32)
seeds["io-zeroes-dsm-compare"] = bytes([IO]) + capsule(sqe(0x08, 1, 1, 0, 0, 7)) + \
    capsule(sqe(0x09, 2, 1, 0, 4, 0, sgl_len=16), dsm_range) + rw(0x05, 3, 1, 0, 8, w4k)
seeds["io-fused-compare-write"] = bytes([IO]) + rw(0x05, 1, 1, 0, 8, w4k, fuse=1) + rw(0x01, 2, 1, 0, 8, w4k, fuse=2) + \
    rw(0x05, 3, 1, 0, 8, w4k, fuse=1) + rw(0x02, 4, 1, 0, 8, xfer=4096)
seeds["io-out-of-range"] = bytes([IO]) + rw(0x02, 1, 1, 8190, 8, xfer=4096) + rw(0x02, 2, 3, 0, 1, xfer=512) + \
    rw(0x02, 3, 1, 0, 512, xfer=262144) + rw(0x02, 4, 1, (1 << 63), 1, xfer=512) + rw(0x01, 5, 1, 0, 8, w4k[:1000])
seeds["io-digests"] = bytes([IO | HDGST | DDGST | FIXUP]) + rw(0x01, 1, 1, 0, 8, w4k, hd=True, dd=True) + \
    rw(0x02, 2, 1, 0, 8, xfer=4096, hd=True) + rw(0x01, 3, 1, 8, 32, xfer=16384, hd=True) + answer_r2t()
seeds["io-queue-depth-linger"] = bytes([IO | LINGER]) + b"".join(rw(0x02, c, 1, c * 8, 8, xfer=4096) for c in range(1, 33))
seeds["admin-hdgst"] = bytes([ADMIN | HDGST | FIXUP]) + identify(1, hd=True) + \
    capsule(sqe(0x0A, 9, cdw10=7), hd=True)

# ---- malformed: one case each ---------------------------------------------------
bad = {}
bad["before-icreq"] = bytes([RAW]) + identify(1)
bad["icreq-twice"] = bytes([ICREQ]) + icreq()
bad["icreq-pfv"] = bytes([RAW]) + icreq(pfv=1)
bad["icreq-hpda"] = bytes([RAW]) + icreq(hpda=32)
bad["icreq-hpda-aligned"] = bytes([RAW]) + icreq(hpda=7) + connect() + identify(1)
bad["icreq-plen"] = bytes([RAW]) + icreq(plen=132) + bytes(4)
bad["icreq-hlen"] = bytes([RAW]) + icreq(hlen=24)
bad["icreq-digests"] = bytes([RAW]) + icreq(dgst=3) + connect()
bad["unknown-type"] = bytes([ICREQ]) + ch(0x0B, 0, 24, 0, 24) + bytes(16)
bad["c2h-type-from-host"] = bytes([ICREQ]) + ch(0x07, 0, 24, 24, 28) + bytes(20)
bad["h2c-term-req"] = bytes([ADMIN]) + ch(0x02, 0, 24, 0, 24) + struct.pack("<HI", 1, 0) + bytes(10)
bad["hdgst-not-negotiated"] = bytes([ICREQ]) + ch(0x04, 1, 72, 0, 76) + sqe(0x06, 1, cdw10=1, sgl_len=4096) + bytes(4)
bad["pdo-in-header"] = bytes([ICREQ]) + ch(0x04, 0, 72, 16, 72 + 1024) + sqe(0x7F, 1, fctype=1, sgl_len=1024, sgl_type=SGL_ICD) + connect_data()
bad["plen-short"] = bytes([ICREQ]) + ch(0x04, 0, 72, 0, 40) + sqe(0x06, 1)
bad["plen-huge"] = bytes([ICREQ]) + ch(0x04, 0, 72, 72, 0xFFFFFFFF) + sqe(0x06, 1) + bytes(64)
bad["icd-too-big"] = bytes([ADMIN]) + capsule(sqe(0x01, 1, 1, 0, 0, 17), bytes(9216))
bad["icd-too-big-io"] = bytes([IO]) + rw(0x01, 1, 1, 0, 16, bytes(8192))
bad["h2c-without-r2t"] = bytes([IO]) + h2c(7, 3, 0, bytes(512))
bad["h2c-out-of-range"] = bytes([IO]) + rw(0x01, 1, 1, 0, 16, xfer=8192) + h2c(1, 0, 4096, bytes(8192))
bad["hdgst-mismatch"] = bytes([ICREQ | HDGST]) + capsule(sqe(0x06, 1, cdw10=1, sgl_len=4096), hd=True)
bad["ddgst-mismatch"] = bytes([IO | DDGST]) + rw(0x01, 1, 1, 0, 8, w4k, dd=True)
bad["sgl-type"] = bytes([ADMIN]) + capsule(sqe(0x06, 1, cdw10=1, sgl_len=4096, sgl_type=0x00))
bad["psdt-prp"] = bytes([ADMIN]) + capsule(sqe(0x06, 1, cdw10=1, sgl_len=4096, flags=0x00))
bad["sgl-len-mismatch"] = bytes([IO]) + capsule(sqe(0x01, 1, 1, 0, 0, 7, sgl_len=8192, sgl_type=SGL_ICD) + b"") + bytes(4096)
bad["connect-bad-subnqn"] = bytes([ICREQ]) + connect(subnqn=b"nqn.2016-06.io.libreactor:none")
bad["connect-bad-hostnqn"] = bytes([ICREQ]) + connect(hostnqn=b"not an nqn")
bad["connect-io-no-ctrlr"] = bytes([ICREQ]) + connect(qid=1, cntlid=0x1234)
bad["connect-sqsize-zero"] = bytes([ICREQ]) + connect(sqsize=0)
bad["connect-twice"] = bytes([ADMIN]) + connect(cid=9)
bad["command-before-connect"] = bytes([ICREQ]) + identify(1)
bad["io-command-on-admin"] = bytes([ADMIN]) + rw(0x02, 5, 1, 0, 8, xfer=4096)
bad["cid-reuse"] = bytes([IO | LINGER]) + rw(0x02, 1, 1, 0, 8, xfer=4096) + rw(0x02, 1, 1, 0, 8, xfer=4096)
bad["truncated-pdu"] = bytes([ADMIN]) + identify(1)[:40]
bad["garbage"] = bytes([ICREQ]) + bytes(range(256))

os.makedirs(OUT, exist_ok=True)
for d in (seeds, bad):
    for name, data in d.items():
        prefix = "bad-" if d is bad else ""
        with open(os.path.join(OUT, prefix + name), "wb") as f:
            f.write(data)
print(f"{len(seeds) + len(bad)} inputs in {OUT}", file=sys.stderr)
