/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The RAM backend: the device's data in one zeroed allocation. I/O is a
 * memcpy done inside submit and completed from the channel's poller.
 * Unmapped and zeroed blocks read back as zeroes.
 */
#include "bdev.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct malloc_disk {
	uint8_t *data;
	size_t size;
};

static void copy_iovs(struct bdev_io *io, uint8_t *dev, bool to_dev)
{
	for (int i = 0; i < io->iovcnt; i++) {
		if (to_dev)
			memcpy(dev, io->iovs[i].iov_base, io->iovs[i].iov_len);
		else
			memcpy(io->iovs[i].iov_base, dev, io->iovs[i].iov_len);
		dev += io->iovs[i].iov_len;
	}
}

static int malloc_submit(void *ch_ctx, struct bdev_io *io)
{
	struct malloc_disk *d = bdev_get_backend_ctx(bdev_io_get_bdev(io));
	uint8_t *p = d->data + io->offset;

	(void)ch_ctx;
	switch (io->type) {
	case BDEV_IO_READ:
		copy_iovs(io, p, false);
		break;
	case BDEV_IO_WRITE:
		copy_iovs(io, p, true);
		break;
	case BDEV_IO_WRITE_ZEROES:
	case BDEV_IO_UNMAP:
		memset(p, 0, io->len);
		break;
	case BDEV_IO_FLUSH:
		break;
	default:
		return -ENOTSUP;
	}
	bdev_io_complete_deferred(io, 0);
	return 0;
}

static bool malloc_supports(struct bdev *bdev, enum bdev_io_type type)
{
	(void)bdev;
	return type == BDEV_IO_FLUSH || type == BDEV_IO_WRITE_ZEROES || type == BDEV_IO_UNMAP;
}

static bool malloc_unmap_zeroes(struct bdev *bdev)
{
	(void)bdev;
	return true;
}

static void malloc_destruct(struct bdev *bdev)
{
	struct malloc_disk *d = bdev_get_backend_ctx(bdev);

	munmap(d->data, d->size);
	free(d);
}

static void malloc_write_config(struct bdev *bdev, json_t *calls)
{
	json_array_append_new(calls, json_pack("{s:s, s:{s:s, s:I, s:I, s:s}}", "method", "bdev_malloc_create",
					       "params", "name", bdev_get_name(bdev), "num_blocks",
					       (json_int_t)bdev_get_num_blocks(bdev), "block_size",
					       (json_int_t)bdev_get_block_size(bdev), "uuid",
					       bdev_get_uuid(bdev)));
}

static const struct bdev_backend g_malloc_backend = {
	.name = "malloc",
	.product_name = "Malloc disk",
	.submit = malloc_submit,
	.supports = malloc_supports,
	.destruct = malloc_destruct,
	.write_config = malloc_write_config,
	.unmap_zeroes = malloc_unmap_zeroes,
};

int bdev_malloc_create(const char *name, uint64_t num_blocks, uint32_t block_size, const char *uuid,
		       struct bdev **out)
{
	struct malloc_disk *d;
	struct bdev *b;
	int rc;

	if (bdev_check_block_size(block_size) != 0) {
		REACTOR_ERRLOG("bdev %s: block size %" PRIu32 " is not a power of two >= 512\n",
			       name ? name : "", block_size);
		return -EINVAL;
	}
	if (num_blocks == 0 || num_blocks > SIZE_MAX / block_size) {
		REACTOR_ERRLOG("bdev %s: bad number of blocks %" PRIu64 "\n", name ? name : "", num_blocks);
		return -EINVAL;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	d->size = (size_t)(num_blocks * block_size);
	/* Anonymous mmap: zeroed and page-aligned; populated now so that first writes do not fault. */
	d->data = mmap(NULL, d->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (d->data == MAP_FAILED) {
		REACTOR_ERRLOG("bdev %s: cannot allocate %zu bytes\n", name ? name : "", d->size);
		free(d);
		return -ENOMEM;
	}
	b = bdev_register(name, block_size, num_blocks, uuid, &g_malloc_backend, d, &rc);
	if (b == NULL) {
		munmap(d->data, d->size);
		free(d);
		return rc;
	}
	if (out != NULL)
		*out = b;
	return 0;
}
