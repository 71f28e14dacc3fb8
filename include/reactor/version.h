/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file reactor/version.h
 * Compile-time and run-time version of libreactor.
 */
#ifndef REACTOR_VERSION_H
#define REACTOR_VERSION_H

#include <reactor/export.h>

REACTOR_BEGIN_DECLS

#define REACTOR_VERSION_MAJOR 1
#define REACTOR_VERSION_MINOR 0
#define REACTOR_VERSION_PATCH 0
#define REACTOR_VERSION_STRING "1.0.0"

/** Version as one comparable number: (major << 16) | (minor << 8) | patch. */
#define REACTOR_VERSION_NUM                                                    \
	((REACTOR_VERSION_MAJOR << 16) | (REACTOR_VERSION_MINOR << 8) | REACTOR_VERSION_PATCH)

/**
 * Version of the library actually loaded, as "MAJOR.MINOR.PATCH".
 * Any thread. The string is static; do not free it.
 */
REACTOR_EXPORT const char *reactor_version_string(void);

/** Version of the library actually loaded, encoded as REACTOR_VERSION_NUM. Any thread. */
REACTOR_EXPORT unsigned int reactor_version_num(void);

REACTOR_END_DECLS

#endif
