/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The JSON config file (SPDK's format) and save_config.
 *
 *   {"subsystems": [{"subsystem": NAME, "config": [{"method": M, "params": {...}}, ...]}, ...]}
 *
 * Anything else in the root object is ignored. Calls are replayed like
 * SPDK does, in two passes through the same dispatcher as socket requests:
 * before initialisation the methods allowed at startup, after it the
 * runtime-only ones. Within a pass, subsystems go in init (dependency)
 * order and each one's calls in file order; the next call starts from a
 * message once the previous one has answered, so asynchronous methods work
 * and a long file never recurses.
 */
#include "config.h"
#include "rpc/rpc_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static REACTOR_PRINTF(2, 3) int shape_error(const char *path, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	REACTOR_ERRLOG("config %s: %s", path, msg);
	return -EINVAL;
}

int config_load_file(const char *path, json_t **out)
{
	json_t *root, *subs, *entry;
	json_error_t err;
	size_t i;

	*out = NULL;
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
	if (root == NULL) {
		if (json_error_code(&err) == json_error_cannot_open_file) {
			REACTOR_ERRLOG("config %s: cannot read it: %s", path, err.text);
			return -ENOENT;
		}
		return shape_error(path, "not valid JSON: %s (line %d, column %d)", err.text, err.line,
				   err.column);
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return shape_error(path, "the root must be an object with a \"subsystems\" array");
	}
	subs = json_object_get(root, "subsystems");
	if (subs == NULL) {
		REACTOR_WARNLOG("config %s: no \"subsystems\" array; nothing to replay", path);
		*out = root;
		return 0;
	}
	if (!json_is_array(subs)) {
		json_decref(root);
		return shape_error(path, "\"subsystems\" must be an array");
	}
	json_array_foreach(subs, i, entry) {
		json_t *name = json_object_get(entry, "subsystem"), *calls, *call;
		size_t k;

		if (!json_is_object(entry) || !json_is_string(name)) {
			json_decref(root);
			return shape_error(path, "subsystems[%zu]: expected {\"subsystem\": NAME, "
					   "\"config\": [...]}", i);
		}
		calls = json_object_get(entry, "config");
		if (calls != NULL && !json_is_array(calls) && !json_is_null(calls)) {
			int rc = shape_error(path, "subsystem '%s': \"config\" must be an array or null",
					     json_string_value(name));

			json_decref(root);
			return rc;
		}
		json_array_foreach(calls, k, call) {
			json_t *m = json_object_get(call, "method"), *p = json_object_get(call, "params");

			if (!json_is_object(call) || !json_is_string(m) ||
			    (p != NULL && !json_is_object(p) && !json_is_array(p))) {
				int rc = shape_error(path, "subsystem '%s', config[%zu]: expected "
						     "{\"method\": NAME, \"params\": {...}}",
						     json_string_value(name), k);

				json_decref(root);
				return rc;
			}
		}
	}
	*out = root;
	return 0;
}

/* ---- replay ------------------------------------------------------------------ */

struct replay {
	const json_t *subs;    /* the file's "subsystems" array */
	const char *path;
	uint32_t pass;
	bool ignore;
	int rc;
	size_t sub;            /* registered subsystem, in init order */
	size_t entry;          /* entry of the file */
	size_t call;           /* call of that entry */
	const char *sub_name;
	const char *method;
	uint64_t home;
	void (*done)(int rc, void *ctx);
	void *ctx;
};

static void replay_step(void *arg);

static void replay_finish(struct replay *r)
{
	void (*done)(int, void *) = r->done;
	void *ctx = r->ctx;
	int rc = r->rc;

	free(r);
	done(rc, ctx);
}

/* Record a failure; false when the replay must stop. */
static REACTOR_PRINTF(2, 3) bool replay_error(struct replay *r, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->ignore) {
		REACTOR_ERRLOG("config %s: %s (ignored: --json-ignore-init-errors)", r->path, msg);
		return true;
	}
	REACTOR_ERRLOG("config %s: %s", r->path, msg);
	if (r->rc == 0)
		r->rc = -EINVAL;
	return false;
}

static void replay_later(struct replay *r)
{
	if (thread_send_by_id(r->home, replay_step, r) != 0)
		replay_step(r); /* the home thread is this one; only recursion is at stake */
}

static void replay_answer(const json_t *result, const json_t *error, void *ctx)
{
	struct replay *r = ctx;

	(void)result;
	if (error != NULL) {
		json_t *msg = json_object_get(error, "message");
		json_t *code = json_object_get(error, "code");

		if (!replay_error(r, "subsystem '%s', method '%s': %s (code %lld)", r->sub_name,
				  r->method, json_is_string(msg) ? json_string_value(msg) : "error",
				  json_is_integer(code) ? (long long)json_integer_value(code) : 0LL)) {
			replay_finish(r);
			return;
		}
	}
	r->call++;
	replay_later(r);
}

/* Report the file's subsystems nobody registered (once, in the first pass). */
static bool check_unknown_subsystems(struct replay *r)
{
	const json_t *entry;
	size_t i;

	json_array_foreach(r->subs, i, entry) {
		const char *name = json_string_value(json_object_get(entry, "subsystem"));

		if (subsystem_find(name) == NULL &&
		    !replay_error(r, "subsystem '%s': no such subsystem is registered", name))
			return false;
	}
	return true;
}

static void replay_step(void *arg)
{
	struct replay *r = arg;
	size_t nsubs = subsystems_count();

	while (r->sub < nsubs) {
		const struct reactor_subsystem *s = subsystems_get(r->sub);
		const json_t *entry = json_array_get(r->subs, r->entry);

		if (entry == NULL) {
			r->sub++;
			r->entry = r->call = 0;
			continue;
		}
		if (strcmp(json_string_value(json_object_get(entry, "subsystem")), s->name) != 0) {
			r->entry++;
			r->call = 0;
			continue;
		}
		{
			const json_t *call = json_array_get(json_object_get(entry, "config"), r->call);
			uint32_t mask = 0;
			bool run;

			if (call == NULL) {
				r->entry++;
				r->call = 0;
				continue;
			}
			r->sub_name = s->name;
			r->method = json_string_value(json_object_get(call, "method"));
			if (rpc_method_state_mask(r->method, &mask) != 0) {
				/* Reported once, in the startup pass. */
				if (r->pass == REACTOR_RPC_STARTUP &&
				    !replay_error(r, "subsystem '%s', method '%s': no such method",
						  s->name, r->method)) {
					replay_finish(r);
					return;
				}
				r->call++;
				continue;
			}
			/* SPDK's rule: a method allowed in both states runs once, at startup. */
			if (r->pass == REACTOR_RPC_STARTUP)
				run = (mask & REACTOR_RPC_STARTUP) != 0;
			else
				run = mask == REACTOR_RPC_RUNTIME;
			if (!run) {
				r->call++;
				continue;
			}
			REACTOR_INFOLOG("config %s: subsystem '%s': %s", r->path, s->name, r->method);
			rpc_call_local(r->method, json_object_get(call, "params"), replay_answer, r);
			return;
		}
	}
	replay_finish(r);
}

void config_replay(const json_t *cfg, const char *path, uint32_t pass, bool ignore_errors,
		   void (*done)(int rc, void *ctx), void *ctx)
{
	struct replay *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		done(-ENOMEM, ctx);
		return;
	}
	r->subs = json_object_get(cfg, "subsystems");
	r->path = path;
	r->pass = pass;
	r->ignore = ignore_errors;
	r->done = done;
	r->ctx = ctx;
	r->home = reactor_thread_get_id(tls_thread);
	if (!json_is_array(r->subs)) {
		replay_finish(r);
		return;
	}
	if (pass == REACTOR_RPC_STARTUP && !check_unknown_subsystems(r)) {
		replay_finish(r);
		return;
	}
	replay_step(r);
}

/* ---- save ------------------------------------------------------------------------ */

json_t *config_save(void)
{
	json_t *subs = json_array(), *root;

	if (subs == NULL)
		return NULL;
	for (size_t i = 0; i < subsystems_count(); i++) {
		const struct reactor_subsystem *s = subsystems_get(i);

		json_array_append_new(subs, json_pack("{s:s, s:o}", "subsystem", s->name, "config",
						      subsystem_config(s)));
	}
	root = json_pack("{s:o}", "subsystems", subs);
	return root;
}
