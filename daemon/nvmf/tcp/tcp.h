/* SPDX-License-Identifier: BSD-3-Clause */
/* The NVMe/TCP transport (internal). Placeholder: being written. */
#ifndef DAEMON_NVMF_TCP_H
#define DAEMON_NVMF_TCP_H
#include "nvmf.h"
#include "nvme_tcp.h"
#endif
