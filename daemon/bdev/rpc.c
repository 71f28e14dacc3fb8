/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The bdev_* JSON-RPC methods (SPDK's names, parameters and results) and
 * the "bdev" subsystem: save_config replays the create calls; fini
 * deletes every device, waiting for their channels.
 */
#include "bdev.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RPC_RUNTIME REACTOR_RPC_RUNTIME

/* Checks shared by the create methods; answers and returns false on bad input. */
static bool check_create(struct reactor_rpc_request *req, const char *name, json_int_t num_blocks,
			 json_int_t block_size, bool block_size_given)
{
	if (name[0] == '\0' || strlen(name) >= BDEV_NAME_MAX) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field 'name': expected 1 to %d characters", BDEV_NAME_MAX - 1);
		return false;
	}
	if (bdev_get_by_name(name) != NULL) {
		reactor_rpc_send_error(req, -EEXIST, "bdev '%s' already exists", name);
		return false;
	}
	if (num_blocks == 0 || num_blocks < 0) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field 'num_blocks': must be greater than 0");
		return false;
	}
	if (block_size_given &&
	    (block_size <= 0 || block_size > UINT32_MAX || bdev_check_block_size((uint32_t)block_size) != 0)) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "Invalid params: field 'block_size': %lld is not a power of two >= 512",
				       (long long)block_size);
		return false;
	}
	return true;
}

static void send_create_result(struct reactor_rpc_request *req, const char *method, const char *name, int rc)
{
	if (rc == 0)
		reactor_rpc_send_result(req, json_string(name));
	else
		reactor_rpc_send_error(req, rc, "%s %s: %s", method, name, strerror(-rc));
}

static void rpc_bdev_malloc_create(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	const char *name = NULL, *uuid = NULL;
	json_int_t num_blocks = 0, block_size = 0;
	char auto_name[32];
	static unsigned int next_id;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s?s, s:I, s:I, s?s !}", "name", &name, "num_blocks",
				      &num_blocks, "block_size", &block_size, "uuid", &uuid) != 0)
		return;
	if (name == NULL) { /* SPDK names it MallocN */
		do
			snprintf(auto_name, sizeof(auto_name), "Malloc%u", next_id++);
		while (bdev_get_by_name(auto_name) != NULL);
		name = auto_name;
	}
	if (!check_create(req, name, num_blocks, block_size, true))
		return;
	send_create_result(req, "bdev_malloc_create", name,
			   bdev_malloc_create(name, (uint64_t)num_blocks, (uint32_t)block_size, uuid, NULL));
}

static void rpc_bdev_null_create(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	const char *name = NULL, *uuid = NULL;
	json_int_t num_blocks = 0, block_size = 0;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s:s, s:I, s:I, s?s !}", "name", &name, "num_blocks",
				      &num_blocks, "block_size", &block_size, "uuid", &uuid) != 0)
		return;
	if (!check_create(req, name, num_blocks, block_size, true))
		return;
	send_create_result(req, "bdev_null_create", name,
			   bdev_null_create(name, (uint64_t)num_blocks, (uint32_t)block_size, uuid, NULL));
}

static void file_create_rpc(struct reactor_rpc_request *req, const json_t *params, bool uring)
{
	const char *name = NULL, *filename = NULL, *uuid = NULL;
	const char *method = uring ? "bdev_uring_create" : "bdev_aio_create";
	json_int_t block_size = 0;
	int rc;

	if (reactor_rpc_decode_params(req, params, "{s:s, s:s, s?I, s?s !}", "name", &name, "filename",
				      &filename, "block_size", &block_size, "uuid", &uuid) != 0)
		return;
	if (!check_create(req, name, 1, block_size, block_size != 0))
		return;
	rc = uring ? bdev_uring_create(name, filename, (uint32_t)block_size, uuid, NULL)
		   : bdev_aio_create(name, filename, (uint32_t)block_size, uuid, NULL);
	if (rc == -EINVAL)
		reactor_rpc_send_error(req, rc,
				       "%s %s: %s is not usable: its size must be a non-zero multiple of the block "
				       "size, and it must be a regular file or a block device",
				       method, name, filename);
	else if (rc == -ENOTSUP)
		reactor_rpc_send_error(req, rc, "%s %s: this build has no %s engine (configure --with-liburing / "
				       "--with-libaio)", method, name, uring ? "io_uring or libaio" : "libaio");
	else if (rc == -ENOENT || rc == -EACCES || rc == -EPERM)
		reactor_rpc_send_error(req, rc, "%s %s: cannot open %s: %s", method, name, filename,
				       strerror(-rc));
	else
		send_create_result(req, method, name, rc);
}

static void rpc_bdev_aio_create(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)ctx;
	file_create_rpc(req, params, false);
}

static void rpc_bdev_uring_create(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)ctx;
	file_create_rpc(req, params, true);
}

struct delete_req {
	struct reactor_rpc_request *req;
	char name[BDEV_NAME_MAX];
};

static void delete_done(void *arg, int status)
{
	struct delete_req *d = arg;

	if (status == 0)
		reactor_rpc_send_bool(d->req, true);
	else if (status == -ENOENT)
		reactor_rpc_send_error(d->req, -ENODEV, "No such device: %s", d->name);
	else
		reactor_rpc_send_error(d->req, status, "cannot delete %s: %s", d->name, strerror(-status));
	free(d);
}

static void delete_rpc(struct reactor_rpc_request *req, const json_t *params, const char *backend)
{
	const char *name = NULL;
	struct delete_req *d;

	if (reactor_rpc_decode_params(req, params, "{s:s !}", "name", &name) != 0)
		return;
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		reactor_rpc_send_error(req, -ENOMEM, "out of memory");
		return;
	}
	d->req = req;
	snprintf(d->name, sizeof(d->name), "%s", name);
	bdev_delete(name, backend, delete_done, d);
}

static void rpc_bdev_malloc_delete(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)ctx;
	delete_rpc(req, params, "malloc");
}

static void rpc_bdev_null_delete(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)ctx;
	delete_rpc(req, params, "null");
}

static void rpc_bdev_aio_delete(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)ctx;
	delete_rpc(req, params, "aio");
}

static void rpc_bdev_uring_delete(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)ctx;
	delete_rpc(req, params, "uring");
}

static void append_bdev_json(struct bdev *bdev, void *ctx)
{
	json_array_append_new(ctx, bdev_to_json(bdev));
}

static void rpc_bdev_get_bdevs(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	const char *name = NULL;
	json_int_t timeout = 0;
	json_t *arr;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s?s, s?I !}", "name", &name, "timeout", &timeout) != 0)
		return;
	arr = json_array();
	if (name != NULL) {
		struct bdev *b = bdev_get_by_name(name);

		if (b == NULL) {
			json_decref(arr);
			reactor_rpc_send_error(req, -ENODEV, "No such device: %s", name);
			return;
		}
		json_array_append_new(arr, bdev_to_json(b));
	} else {
		bdev_foreach(append_bdev_json, arr);
	}
	reactor_rpc_send_result(req, arr);
}

/* ---- bdev_get_iostat: one device after another, each summed over its channels -- */

struct iostat_req {
	struct reactor_rpc_request *req;
	json_t *names; /* the devices still to visit */
	json_t *out;
	size_t next;
};

static void iostat_next(struct iostat_req *r);

static void iostat_one_done(struct bdev *bdev, const struct bdev_stats *s, void *ctx)
{
	struct iostat_req *r = ctx;
	json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			      "name", bdev_get_name(bdev), "bytes_read", (json_int_t)s->bytes_read,
			      "num_read_ops", (json_int_t)s->num_read_ops, "bytes_written",
			      (json_int_t)s->bytes_written, "num_write_ops", (json_int_t)s->num_write_ops,
			      "bytes_unmapped", (json_int_t)s->bytes_unmapped, "num_unmap_ops",
			      (json_int_t)s->num_unmap_ops, "read_latency_ticks",
			      (json_int_t)s->read_latency_ticks, "max_read_latency_ticks",
			      (json_int_t)s->max_read_latency_ticks, "write_latency_ticks",
			      (json_int_t)s->write_latency_ticks, "max_write_latency_ticks",
			      (json_int_t)s->max_write_latency_ticks, "unmap_latency_ticks",
			      (json_int_t)s->unmap_latency_ticks, "bytes_copied", (json_int_t)0,
			      "num_copy_ops", (json_int_t)0, "copy_latency_ticks", (json_int_t)0);

	if (o != NULL) {
		json_object_set_new(o, "num_write_zeroes_ops", json_integer((json_int_t)s->num_write_zeroes_ops));
		json_object_set_new(o, "num_flush_ops", json_integer((json_int_t)s->num_flush_ops));
		json_object_set_new(o, "num_compare_ops", json_integer((json_int_t)s->num_compare_ops));
		json_object_set_new(o, "num_compare_and_write_ops", json_integer((json_int_t)s->num_caw_ops));
		json_object_set_new(o, "num_miscompares", json_integer((json_int_t)s->num_miscompares));
		json_object_set_new(o, "num_io_errors", json_integer((json_int_t)s->num_errors));
		json_object_set_new(o, "num_queued", json_integer((json_int_t)s->num_queued));
		json_array_append_new(json_object_get(r->out, "bdevs"), o);
	}
	iostat_next(r);
}

static void iostat_next(struct iostat_req *r)
{
	while (r->next < json_array_size(r->names)) {
		const char *name = json_string_value(json_array_get(r->names, r->next++));
		struct bdev *b = bdev_get_by_name(name);

		if (b != NULL && bdev_get_stats(b, iostat_one_done, r) == 0)
			return; /* continues in iostat_one_done */
	}
	reactor_rpc_send_result(r->req, r->out);
	json_decref(r->names);
	free(r);
}

static void append_name(struct bdev *bdev, void *ctx)
{
	json_array_append_new(ctx, json_string(bdev_get_name(bdev)));
}

static void rpc_bdev_get_iostat(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	const char *name = NULL;
	struct iostat_req *r;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s?s !}", "name", &name) != 0)
		return;
	if (name != NULL && bdev_get_by_name(name) == NULL) {
		reactor_rpc_send_error(req, -ENODEV, "No such device: %s", name);
		return;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		reactor_rpc_send_error(req, -ENOMEM, "out of memory");
		return;
	}
	r->req = req;
	r->names = json_array();
	if (name != NULL)
		json_array_append_new(r->names, json_string(name));
	else
		bdev_foreach(append_name, r->names);
	r->out = json_pack("{s:I, s:I, s:[]}", "tick_rate", (json_int_t)reactor_get_ticks_hz(), "ticks",
			   (json_int_t)reactor_get_ticks(), "bdevs");
	iostat_next(r);
}

/* ---- the "bdev" subsystem ------------------------------------------------------ */

static void write_one_config(struct bdev *bdev, void *ctx)
{
	const struct bdev_backend *be = bdev_get_backend(bdev);

	if (be->write_config != NULL)
		be->write_config(bdev, ctx);
}

static void bdev_subsystem_write_config(json_t *calls)
{
	bdev_foreach(write_one_config, calls);
}

static void bdev_subsystem_init(void)
{
	reactor_subsystem_init_done(0);
}

/* How long fini waits in all for the devices' channels before giving up. */
#define BDEV_FINI_TIMEOUT_US (10u * 1000u * 1000u)

static json_t *g_fini_names;
static struct reactor_poller *g_fini_timer;
static char g_fini_current[BDEV_NAME_MAX];

static void fini_finish(void)
{
	reactor_poller_unregister(&g_fini_timer);
	json_decref(g_fini_names);
	g_fini_names = NULL;
	reactor_subsystem_fini_done();
}

/* A device whose channels are never put (a thread that forgot them) must
 * not hang the shutdown: log it and go on without freeing it. */
static int fini_timeout(void *arg)
{
	(void)arg;
	REACTOR_ERRLOG("bdev %s still has I/O channels after %u s; shutting down without freeing it "
		       "(and the devices after it)\n",
		       g_fini_current, BDEV_FINI_TIMEOUT_US / 1000000u);
	fini_finish();
	return REACTOR_POLLER_BUSY;
}

static void fini_next(void *arg, int status)
{
	(void)arg;
	(void)status;
	if (g_fini_names == NULL) /* a delete that finished after the timeout */
		return;
	if (json_array_size(g_fini_names) == 0) {
		fini_finish();
		return;
	}
	{
		char name[BDEV_NAME_MAX];

		snprintf(name, sizeof(name), "%s", json_string_value(json_array_get(g_fini_names, 0)));
		snprintf(g_fini_current, sizeof(g_fini_current), "%s", name);
		json_array_remove(g_fini_names, 0);
		bdev_delete(name, NULL, fini_next, NULL);
	}
}

/* Delete every device, last created first, each after its channels are gone. */
static void bdev_subsystem_fini(void)
{
	json_t *names = json_array();

	g_fini_names = json_array();
	bdev_foreach(append_name, names);
	for (size_t i = json_array_size(names); i > 0; i--)
		json_array_append(g_fini_names, json_array_get(names, i - 1));
	json_decref(names);
	g_fini_timer = reactor_poller_register_named(fini_timeout, NULL, BDEV_FINI_TIMEOUT_US, "bdev_fini_timeout");
	fini_next(NULL, 0);
}

static const struct reactor_subsystem g_bdev_subsystem = {
	.size = sizeof(struct reactor_subsystem),
	.name = "bdev",
	.init = bdev_subsystem_init,
	.fini = bdev_subsystem_fini,
	.write_config = bdev_subsystem_write_config,
};

int bdev_module_init(void)
{
	static const struct {
		const char *name;
		reactor_rpc_method_fn fn;
	} methods[] = {
		{"bdev_malloc_create", rpc_bdev_malloc_create}, {"bdev_malloc_delete", rpc_bdev_malloc_delete},
		{"bdev_null_create", rpc_bdev_null_create},     {"bdev_null_delete", rpc_bdev_null_delete},
		{"bdev_aio_create", rpc_bdev_aio_create},       {"bdev_aio_delete", rpc_bdev_aio_delete},
		{"bdev_uring_create", rpc_bdev_uring_create},   {"bdev_uring_delete", rpc_bdev_uring_delete},
		{"bdev_get_bdevs", rpc_bdev_get_bdevs},         {"bdev_get_iostat", rpc_bdev_get_iostat},
	};
	static bool done;
	int rc;

	if (done)
		return 0;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		rc = reactor_rpc_register_method(methods[i].name, methods[i].fn, NULL, RPC_RUNTIME);
		if (rc != 0 && rc != -EEXIST) {
			REACTOR_ERRLOG("cannot register %s: %s\n", methods[i].name, strerror(-rc));
			return rc;
		}
	}
	rc = reactor_subsystem_register(&g_bdev_subsystem);
	if (rc != 0 && rc != -EEXIST) {
		REACTOR_ERRLOG("cannot register the bdev subsystem: %s\n", strerror(-rc));
		return rc;
	}
	done = true;
	return 0;
}
