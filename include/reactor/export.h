/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file reactor/export.h
 * Symbol visibility for libreactor's public API.
 *
 * The library is built with -fvisibility=hidden; only declarations marked
 * REACTOR_EXPORT are visible, and the linker version script
 * (lib/libreactor.map) puts each of them in a versioned node.
 */
#ifndef REACTOR_EXPORT_H
#define REACTOR_EXPORT_H

#if defined(REACTOR_BUILDING_LIBRARY) && defined(__GNUC__)
#define REACTOR_EXPORT __attribute__((visibility("default")))
#else
#define REACTOR_EXPORT
#endif

#if defined(__GNUC__)
#define REACTOR_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#else
#define REACTOR_PRINTF(fmt_idx, arg_idx)
#endif

#ifdef __cplusplus
#define REACTOR_BEGIN_DECLS extern "C" {
#define REACTOR_END_DECLS }
#else
#define REACTOR_BEGIN_DECLS
#define REACTOR_END_DECLS
#endif

#endif
