/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bdev_app: a libreactor app serving the block-device layer's JSON-RPC
 * methods (bdev_malloc_create, bdev_get_bdevs, ...) on -r SOCKET, with
 * the "bdev" subsystem in save_config / -c. Used by
 * tests/integration/bdev-rpc.sh through reactorctl.
 */
#include <reactor.h>

#include "bdev/bdev.h"

#include <stdio.h>

static void start(void *arg)
{
	(void)arg;
	REACTOR_NOTICELOG("bdev_app: serving the bdev methods\n");
}

int main(int argc, char **argv)
{
	struct reactor_app_opts opts;
	int rc;

	reactor_app_opts_init(&opts, sizeof(opts));
	opts.name = "bdev_app";
	rc = reactor_app_parse_args(argc, argv, &opts, NULL, NULL, NULL, NULL, NULL);
	if (rc != REACTOR_APP_PARSE_ARGS_SUCCESS)
		return rc == REACTOR_APP_PARSE_ARGS_HELP ? 0 : 2;
	if (bdev_module_init() != 0)
		return 1;
	rc = reactor_app_start(&opts, start, NULL);
	if (rc != 0)
		fprintf(stderr, "bdev_app: %d\n", rc);
	return rc == 0 ? 0 : 1;
}
