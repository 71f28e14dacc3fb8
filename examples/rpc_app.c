/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rpc_app: a libreactor program with a JSON-RPC control plane. It registers
 * a subsystem "example" holding one setting, a greeting, with an RPC method
 * pair to change and read it and a write_config that saves it, so that
 * config files round-trip (load -> save -> load -> save gives the same file).
 *
 *   rpc_app -r /tmp/rpc_app.sock [-c config.json] [--wait-for-rpc] [...]
 *   reactorctl -s /tmp/rpc_app.sock example_set_greeting text=hello
 *   reactorctl -s /tmp/rpc_app.sock example_get_greeting
 *
 * Methods:
 *   example_set_greeting {"text": STRING}  startup and runtime; returns true.
 *       text is 1 to 63 bytes; otherwise -32602 names the field.
 *   example_get_greeting                   runtime only; returns {"text": STRING}.
 */
#include <reactor.h>
#include <reactor/rpc.h>
#include <reactor/subsystem.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GREETING_MAX 63

/* Debug messages: reactorctl log_set_flag flag=example. */
REACTOR_LOG_REGISTER_COMPONENT(example)

/* Touched only on the app thread (RPC handlers, write_config, start). */
static char greeting[GREETING_MAX + 1] = "hello";

static void set_greeting(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	const char *text = NULL;

	(void)ctx;
	if (reactor_rpc_decode_params(req, params, "{s:s!}", "text", &text) != 0)
		return;
	if (text[0] == '\0' || strlen(text) > GREETING_MAX) {
		reactor_rpc_send_error(req, REACTOR_RPC_INVALID_PARAMS,
				       "text: expected 1 to %d bytes, got %zu", GREETING_MAX,
				       strlen(text));
		return;
	}
	REACTOR_DEBUGLOG(example, "greeting \"%s\" -> \"%s\"", greeting, text);
	memcpy(greeting, text, strlen(text) + 1);
	reactor_rpc_send_bool(req, true);
}

static void get_greeting(struct reactor_rpc_request *req, const json_t *params, void *ctx)
{
	(void)ctx;
	if (params != NULL && reactor_rpc_decode_params(req, params, "{!}") != 0)
		return;
	reactor_rpc_send_result(req, json_pack("{s:s}", "text", greeting));
}

static void example_init(void)
{
	reactor_subsystem_init_done(0);
}

static void example_fini(void)
{
	reactor_subsystem_fini_done();
}

static void example_write_config(json_t *calls)
{
	json_array_append_new(calls, json_pack("{s:s, s:{s:s}}", "method", "example_set_greeting",
					       "params", "text", greeting));
}

static const struct reactor_subsystem example_subsystem = {
	.size = sizeof(struct reactor_subsystem),
	.name = "example",
	.init = example_init,
	.fini = example_fini,
	.write_config = example_write_config,
};

static void start(void *ctx)
{
	(void)ctx;
	printf("rpc_app: running, greeting \"%s\"\n", greeting);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct reactor_app_opts opts;
	int rc;

	reactor_app_opts_init(&opts, sizeof(opts));
	opts.name = "rpc_app";
	opts.idle_policy = REACTOR_IDLE_ADAPTIVE;
	rc = reactor_app_parse_args(argc, argv, &opts, NULL, NULL, NULL, NULL, NULL);
	if (rc != REACTOR_APP_PARSE_ARGS_SUCCESS)
		return rc == REACTOR_APP_PARSE_ARGS_HELP ? 0 : 2;
	if (optind < argc) {
		fprintf(stderr, "rpc_app: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (reactor_subsystem_register(&example_subsystem) != 0 ||
	    reactor_rpc_register_method("example_set_greeting", set_greeting, NULL,
					REACTOR_RPC_STARTUP | REACTOR_RPC_RUNTIME) != 0 ||
	    reactor_rpc_register_method("example_get_greeting", get_greeting, NULL,
					REACTOR_RPC_RUNTIME) != 0) {
		fprintf(stderr, "rpc_app: cannot register the example subsystem and methods\n");
		return 1;
	}
	rc = reactor_app_start(&opts, start, NULL);
	if (rc < 0)
		fprintf(stderr, "rpc_app: %s\n", strerror(-rc));
	return rc == 0 ? 0 : 1;
}
