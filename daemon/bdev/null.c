/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The null backend: reads return zeroes, writes are discarded. Completed
 * from the channel's poller.
 */
#include "bdev.h"

#include <errno.h>
#include <string.h>

static int null_submit(void *ch_ctx, struct bdev_io *io)
{
	(void)ch_ctx;
	if (io->type == BDEV_IO_READ)
		for (int i = 0; i < io->iovcnt; i++)
			memset(io->iovs[i].iov_base, 0, io->iovs[i].iov_len);
	bdev_io_complete_deferred(io, 0);
	return 0;
}

static bool null_supports(struct bdev *bdev, enum bdev_io_type type)
{
	(void)bdev;
	return type == BDEV_IO_FLUSH || type == BDEV_IO_WRITE_ZEROES || type == BDEV_IO_UNMAP;
}

static bool null_unmap_zeroes(struct bdev *bdev)
{
	(void)bdev;
	return true;
}

static void null_write_config(struct bdev *bdev, json_t *calls)
{
	json_array_append_new(calls, json_pack("{s:s, s:{s:s, s:I, s:I, s:s}}", "method", "bdev_null_create",
					       "params", "name", bdev_get_name(bdev), "num_blocks",
					       (json_int_t)bdev_get_num_blocks(bdev), "block_size",
					       (json_int_t)bdev_get_block_size(bdev), "uuid",
					       bdev_get_uuid(bdev)));
}

static const struct bdev_backend g_null_backend = {
	.name = "null",
	.product_name = "Null disk",
	.submit = null_submit,
	.supports = null_supports,
	.write_config = null_write_config,
	.unmap_zeroes = null_unmap_zeroes,
};

int bdev_null_create(const char *name, uint64_t num_blocks, uint32_t block_size, const char *uuid,
		     struct bdev **out)
{
	struct bdev *b;
	int rc;

	b = bdev_register(name, block_size, num_blocks, uuid, &g_null_backend, NULL, &rc);
	if (b == NULL)
		return rc;
	if (out != NULL)
		*out = b;
	return 0;
}
