/* SPDX-License-Identifier: BSD-3-Clause */
/* The standard command line every libreactor program shares. */
#include "config.h"
#include "internal.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Long-only options get values above any character. */
enum {
	OPT_LOG_LEVEL = 0x100,
	OPT_IDLE_POLICY,
	OPT_STALL_THRESHOLD,
	OPT_RPC_SOCKET_MODE,
	OPT_RPC_SOCKET_GROUP,
	OPT_JSON_IGNORE_ERRORS,
	OPT_WAIT_FOR_RPC,
};

static const char std_short[] = "m:p:L:hvr:c:";

static const struct option std_long[] = {
	{"cpumask", required_argument, NULL, 'm'},
	{"main-core", required_argument, NULL, 'p'},
	{"logflag", required_argument, NULL, 'L'},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"idle-policy", required_argument, NULL, OPT_IDLE_POLICY},
	{"stall-threshold", required_argument, NULL, OPT_STALL_THRESHOLD},
	{"rpc-socket", required_argument, NULL, 'r'},
	{"rpc-socket-mode", required_argument, NULL, OPT_RPC_SOCKET_MODE},
	{"rpc-socket-group", required_argument, NULL, OPT_RPC_SOCKET_GROUP},
	{"config", required_argument, NULL, 'c'},
	{"json-ignore-init-errors", no_argument, NULL, OPT_JSON_IGNORE_ERRORS},
	{"wait-for-rpc", no_argument, NULL, OPT_WAIT_FOR_RPC},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'v'},
};
#define N_STD_LONG (sizeof(std_long) / sizeof(std_long[0]))

void reactor_app_usage(FILE *out)
{
	fprintf(out,
		"Standard options:\n"
		"  -m, --cpumask MASK        CPUs to run reactors on: 0x3, [0-3,8] or 0-3,8\n"
		"                            (default: every CPU the process may use)\n"
		"  -p, --main-core CORE      core of the main reactor (default: first of the mask)\n"
		"  -L, --logflag FLAG        enable debug messages of a component (repeatable; 'all')\n"
		"      --log-level LEVEL     print messages up to LEVEL on stderr: error, warn,\n"
		"                            notice, info, debug (default: notice)\n"
		"      --idle-policy POLICY  poll (never sleep) or adaptive (sleep when idle)\n"
		"      --stall-threshold MS  report callbacks running longer than MS ms (0: off)\n"
		"  -r, --rpc-socket PATH     serve JSON-RPC 2.0 on the Unix socket PATH\n"
		"      --rpc-socket-mode MODE\n"
		"                            permissions of the socket, octal (default: 0600)\n"
		"      --rpc-socket-group GROUP\n"
		"                            group of the socket, a name or a number\n"
		"                            (give it access with --rpc-socket-mode 0660)\n"
		"  -c, --config FILE         replay the JSON config FILE at start\n"
		"                            (the format save_config writes)\n"
		"      --json-ignore-init-errors\n"
		"                            start even if calls of the config file fail\n"
		"      --wait-for-rpc        serve only startup methods until the RPC call\n"
		"                            framework_start_init (needs -r)\n"
		"  -h, --help                show this help and exit\n"
		"  -v, --version             show the version and exit\n");
}

static int parse_u32(const char *arg, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (arg == NULL || *arg == '\0' || *arg == '-')
		return -EINVAL;
	errno = 0;
	v = strtoul(arg, &end, 0);
	if (errno != 0 || *end != '\0' || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* Octal permission bits ("0660", "660"). */
static int parse_mode(const char *arg, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (arg == NULL || *arg == '\0' || *arg == '-')
		return -EINVAL;
	errno = 0;
	v = strtoul(arg, &end, 8);
	if (errno != 0 || *end != '\0' || v > 0777)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* A group name or number. */
static int parse_group(const char *arg, int32_t *out)
{
	struct group gr, *res = NULL;
	char buf[4096];
	uint32_t v;

	if (arg == NULL || *arg == '\0')
		return -EINVAL;
	if (getgrnam_r(arg, &gr, buf, sizeof(buf), &res) == 0 && res != NULL) {
		*out = (int32_t)res->gr_gid;
		return 0;
	}
	if (parse_u32(arg, &v) == 0 && v <= INT32_MAX) {
		*out = (int32_t)v;
		return 0;
	}
	return -ENOENT;
}

/* Whether the caller's struct (opts_size) has @p field: options added
 * after it was compiled cannot be stored. */
#define OPTS_HAS(o, field)                                                     \
	((o)->opts_size >= offsetof(struct reactor_app_opts, field) + sizeof((o)->field))

/* "-x" or "--name" for option value @p ch, for error messages. */
static void option_name(int ch, const struct option *longs, char *buf, size_t len)
{
	for (const struct option *o = longs; o->name != NULL; o++) {
		if (o->flag == NULL && o->val == ch) {
			if (ch > 0 && ch < 0x100)
				snprintf(buf, len, "-%c/--%s", ch, o->name);
			else
				snprintf(buf, len, "--%s", o->name);
			return;
		}
	}
	snprintf(buf, len, "-%c", ch > 0 && ch < 0x100 ? ch : '?');
}

/* The control-plane options (reactor/rpc.h, reactor/subsystem.h). */
static int parse_control_plane(const char *prog, int ch, const char *arg,
			       struct reactor_app_opts *opts)
{
	if (!OPTS_HAS(opts, wait_for_rpc)) {
		fprintf(stderr, "%s: this program was built without the RPC options of libreactor\n",
			prog);
		return REACTOR_APP_PARSE_ARGS_FAIL;
	}
	switch (ch) {
	case 'r':
		opts->rpc_addr = arg;
		break;
	case 'c':
		opts->json_config_file = arg;
		break;
	case OPT_RPC_SOCKET_MODE:
		if (parse_mode(arg, &opts->rpc_socket_mode) != 0) {
			fprintf(stderr, "%s: invalid RPC socket mode '%s' (octal, e.g. 0660)\n", prog,
				arg);
			return REACTOR_APP_PARSE_ARGS_FAIL;
		}
		break;
	case OPT_RPC_SOCKET_GROUP:
		if (parse_group(arg, &opts->rpc_socket_gid) != 0) {
			fprintf(stderr, "%s: invalid RPC socket group '%s' (no such group)\n", prog,
				arg);
			return REACTOR_APP_PARSE_ARGS_FAIL;
		}
		break;
	case OPT_JSON_IGNORE_ERRORS:
		opts->json_config_ignore_errors = true;
		break;
	case OPT_WAIT_FOR_RPC:
		opts->wait_for_rpc = true;
		break;
	}
	return REACTOR_APP_PARSE_ARGS_SUCCESS;
}

static void print_usage(const char *prog, const struct reactor_app_opts *opts,
			reactor_app_usage_fn app_usage, void *ctx)
{
	printf("Usage: %s [options]\n\n", prog);
	reactor_app_usage(stdout);
	if (app_usage != NULL) {
		printf("\n%s options:\n", opts->name ? opts->name : prog);
		app_usage(stdout, ctx);
	}
}

int reactor_app_parse_args(int argc, char **argv, struct reactor_app_opts *opts,
			   const char *app_getopt_str, const struct option *app_long_opts,
			   reactor_app_parse_fn app_parse, reactor_app_usage_fn app_usage, void *ctx)
{
	const char *prog = argc > 0 && argv[0] ? argv[0] : "reactor_app";
	struct option *longs;
	char *shorts;
	size_t n_app = 0, len_app = app_getopt_str ? strlen(app_getopt_str) : 0;
	int rc = REACTOR_APP_PARSE_ARGS_SUCCESS, ch;

	if (opts == NULL || opts->opts_size < sizeof(size_t) || opts->opts_size > sizeof(*opts)) {
		fprintf(stderr, "%s: reactor_app_parse_args: options not initialised with "
				"reactor_app_opts_init()\n", prog);
		return REACTOR_APP_PARSE_ARGS_FAIL;
	}
	/* Refuse program options that would shadow the standard ones. */
	for (size_t i = 0; i < len_app; i++) {
		if (app_getopt_str[i] != ':' && strchr(std_short, app_getopt_str[i]) != NULL) {
			fprintf(stderr, "%s: option -%c is reserved by libreactor\n", prog,
				app_getopt_str[i]);
			return REACTOR_APP_PARSE_ARGS_FAIL;
		}
	}
	while (app_long_opts != NULL && app_long_opts[n_app].name != NULL)
		n_app++;
	longs = calloc(N_STD_LONG + n_app + 1, sizeof(*longs));
	shorts = malloc(sizeof(std_short) + len_app + 2);
	if (longs == NULL || shorts == NULL) {
		free(longs);
		free(shorts);
		fprintf(stderr, "%s: out of memory\n", prog);
		return REACTOR_APP_PARSE_ARGS_FAIL;
	}
	memcpy(longs, std_long, sizeof(std_long));
	if (n_app)
		memcpy(longs + N_STD_LONG, app_long_opts, n_app * sizeof(*longs));
	/* A leading ':' makes getopt report a missing argument distinctly. */
	snprintf(shorts, sizeof(std_short) + len_app + 2, ":%s%s", std_short,
		 app_getopt_str ? app_getopt_str : "");

	opterr = 0;
	while (rc == REACTOR_APP_PARSE_ARGS_SUCCESS &&
	       (ch = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		enum reactor_log_level level;
		uint32_t v;

		switch (ch) {
		case 'm':
			opts->cpumask = optarg;
			break;
		case 'p':
			if (parse_u32(optarg, &v) != 0 || v >= REACTOR_CPUSET_MAX_CPUS) {
				fprintf(stderr, "%s: invalid main core '%s'\n", prog, optarg);
				rc = REACTOR_APP_PARSE_ARGS_FAIL;
			} else {
				opts->main_core = (int32_t)v;
			}
			break;
		case 'L':
			if (reactor_log_set_flag(optarg) != 0) {
				fprintf(stderr, "%s: invalid log flag '%s'\n", prog, optarg);
				rc = REACTOR_APP_PARSE_ARGS_FAIL;
			} else if (opts->print_level < REACTOR_LOG_DEBUG) {
				opts->print_level = REACTOR_LOG_DEBUG;
			}
			break;
		case OPT_LOG_LEVEL:
			if (reactor_log_level_parse(optarg, &level) != 0) {
				fprintf(stderr, "%s: invalid log level '%s' (use error, warn, notice, "
						"info or debug)\n", prog, optarg);
				rc = REACTOR_APP_PARSE_ARGS_FAIL;
			} else {
				opts->print_level = level;
			}
			break;
		case OPT_IDLE_POLICY:
			if (strcmp(optarg, "poll") == 0) {
				opts->idle_policy = REACTOR_IDLE_POLL;
			} else if (strcmp(optarg, "adaptive") == 0) {
				opts->idle_policy = REACTOR_IDLE_ADAPTIVE;
			} else {
				fprintf(stderr, "%s: invalid idle policy '%s' (use poll or adaptive)\n",
					prog, optarg);
				rc = REACTOR_APP_PARSE_ARGS_FAIL;
			}
			break;
		case OPT_STALL_THRESHOLD:
			if (parse_u32(optarg, &v) != 0) {
				fprintf(stderr, "%s: invalid stall threshold '%s' (milliseconds)\n", prog,
					optarg);
				rc = REACTOR_APP_PARSE_ARGS_FAIL;
			} else {
				opts->stall_threshold_ms = v;
			}
			break;
		case 'r':
		case 'c':
		case OPT_RPC_SOCKET_MODE:
		case OPT_RPC_SOCKET_GROUP:
		case OPT_JSON_IGNORE_ERRORS:
		case OPT_WAIT_FOR_RPC:
			rc = parse_control_plane(prog, ch, optarg, opts);
			break;
		case 'h':
			print_usage(prog, opts, app_usage, ctx);
			rc = REACTOR_APP_PARSE_ARGS_HELP;
			break;
		case 'v':
			printf("%s (libreactor %s)\n", opts->name ? opts->name : prog,
			       reactor_version_string());
			rc = REACTOR_APP_PARSE_ARGS_HELP;
			break;
		case ':':
			fprintf(stderr, "%s: option '%s' needs an argument\n", prog, argv[optind - 1]);
			rc = REACTOR_APP_PARSE_ARGS_FAIL;
			break;
		case '?':
			if (optopt != 0 && optopt < 0x100)
				fprintf(stderr, "%s: unknown option '-%c'\n", prog, optopt);
			else
				fprintf(stderr, "%s: unknown option '%s'\n", prog, argv[optind - 1]);
			fprintf(stderr, "Try '%s --help' for more information.\n", prog);
			rc = REACTOR_APP_PARSE_ARGS_FAIL;
			break;
		default:
			if (app_parse == NULL || app_parse(ch, optarg, ctx) != 0) {
				char optname[64];

				option_name(ch, longs, optname, sizeof(optname));
				fprintf(stderr, "%s: invalid value for option %s%s%s%s\n", prog, optname,
					optarg ? ": '" : "", optarg ? optarg : "", optarg ? "'" : "");
				rc = REACTOR_APP_PARSE_ARGS_FAIL;
			}
			break;
		}
	}
	free(longs);
	free(shorts);
	return rc;
}
