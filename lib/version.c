/* SPDX-License-Identifier: BSD-3-Clause */
/* Run-time version of the loaded library. */
#include "config.h"
#include <reactor/version.h>

const char *reactor_version_string(void)
{
	return REACTOR_VERSION_STRING;
}

unsigned int reactor_version_num(void)
{
	return REACTOR_VERSION_NUM;
}
