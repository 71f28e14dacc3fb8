/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file reactor.h
 * libreactor: an asynchronous, polled-mode, shared-nothing application
 * framework. This header includes every public header; each concern also
 * has its own under reactor/.
 */
#ifndef REACTOR_H
#define REACTOR_H

#include <reactor/version.h>
#include <reactor/log.h>
#include <reactor/cpuset.h>
#include <reactor/env.h>
#include <reactor/ring.h>
#include <reactor/reactor.h>
#include <reactor/event.h>
#include <reactor/thread.h>
#include <reactor/poller.h>
#include <reactor/fd.h>
#include <reactor/channel.h>
#include <reactor/app.h>
#include <reactor/rpc.h>
#include <reactor/subsystem.h>
#include <reactor/sock.h>

#endif
