/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the JSON-RPC request parser and dispatcher.
 *
 * Arbitrary bytes go to a fake connection of the server core
 * (rpc_process_buffer(): the same framing, parsing, validation, dispatch
 * and response code as a socket, without the socket), on a lightweight
 * thread this program drives itself. The first byte picks the server state,
 * the size of the reads the input is cut into and the request size limit.
 * Every response must be one complete JSON object or array and a newline,
 * and every request must be answered (built-ins and the two methods below
 * all answer, some asynchronously).
 *
 * Built by tests/fuzz/run-rpc-fuzz.sh with clang -fsanitize=fuzzer,address,
 * undefined from the library's sources (internal symbols are needed).
 */
#include "config.h"
#include "rpc/rpc_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct reactor_thread *g_thread;

/* Answered from a message, i.e. after the handler returned. */
static void answer_later(void *arg)
{
	reactor_rpc_send_result(arg, json_string("later"));
}

static void fuzz_async(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)params;
	(void)ctx;
	if (reactor_thread_send_msg(g_thread, answer_later, req) != 0)
		reactor_rpc_send_error(req, -EAGAIN, "busy");
}

/* Nested, optional and typed fields: the decoder's error paths. */
static void fuzz_decode(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	const char *name = NULL;
	json_int_t size = 0;
	int flag = 0, a = 0, b = 0;
	double real = 0;
	json_t *any = NULL;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s:s, s?I, s?{s?b, s?[ii] !}, s?F, s?o !}",
				      "name", &name, "size", &size, "nested", "flag", &flag, "pair",
				      &a, &b, "real", &real, "any", &any) != 0)
		return;
	reactor_rpc_send_result(req, json_pack("{s:s, s:I, s:b, s:i, s:f}", "name", name, "size",
					       size, "flag", flag, "sum", a + b, "real", real));
}

static void check_response(const char *buf, size_t len, void *ctx)
{
	json_error_t err;
	json_t *v;

	(void)ctx;
	if (len < 2 || buf[len - 1] != '\n') {
		fprintf(stderr, "response not newline-terminated: %.*s\n", (int)len, buf);
		abort();
	}
	v = json_loadb(buf, len - 1, 0, &err);
	if (v == NULL || (!json_is_object(v) && !json_is_array(v))) {
		fprintf(stderr, "invalid response (%s): %.*s\n", v ? "not an object" : err.text,
			(int)len, buf);
		abort();
	}
	json_decref(v);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	reactor_log_set_print_level(REACTOR_LOG_DISABLED);
	g_thread = reactor_thread_create("fuzz", NULL); /* no framework: driven here */
	if (g_thread == NULL)
		abort();
	reactor_set_thread(g_thread);
	rpc_core_attach(g_thread);
	if (reactor_rpc_register_method("fuzz_async", fuzz_async, NULL,
					REACTOR_RPC_STARTUP | REACTOR_RPC_RUNTIME) != 0 ||
	    reactor_rpc_register_method("fuzz_decode", fuzz_decode, NULL,
					REACTOR_RPC_STARTUP | REACTOR_RPC_RUNTIME) != 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t chunks[8] = {0, 1, 2, 3, 7, 16, 64, 512};
	uint8_t mode;
	size_t left;

	if (size == 0)
		return 0;
	mode = data[0];
	rpc_set_state(mode & 1 ? REACTOR_RPC_RUNTIME : REACTOR_RPC_STARTUP);
	left = rpc_process_buffer(data + 1, size - 1, chunks[(mode >> 1) & 7],
				  mode & 0x10 ? 256 : 65536, check_response, NULL, 64);
	if (left != 0) {
		fprintf(stderr, "%zu request(s) never answered\n", left);
		abort();
	}
	/* Undo what the log methods may have changed, so runs stay quiet and alike. */
	reactor_log_clear_flag("all");
	reactor_log_set_level(REACTOR_LOG_NOTICE);
	reactor_log_set_print_level(REACTOR_LOG_DISABLED);
	return 0;
}
