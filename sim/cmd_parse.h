/* cmd_parse.h - the option parsing of bin/sim's subcommands on its own: turn
 * argv into options without loading, allocating beyond the context or
 * running anything. The subcommands call these first; the command-line fuzz
 * target (tests/fuzz/fuzz_cli.c) calls them directly.
 *
 * Each returns 0 when the arguments are valid, 1 when --help was given (the
 * caller prints the help text), -1 on a bad option or value (a one-line
 * message in ctx). argv[0] is the subcommand name and is skipped. */
#ifndef SIM_CMD_PARSE_H
#define SIM_CMD_PARSE_H

#include "sim/ctx.h"
#include "sim/train.h"
#include "topology/trevsnn.h"

/* `sim --train`: o receives the defaults, then the options; *json the
 * --json flag. */
int cmd_train_parse(sim_ctx *ctx, int argc, char **argv, train_opts *o, int *json);
/* `sim info`: the model configuration, --batch (default 64) and --json. */
int cmd_info_parse(sim_ctx *ctx, int argc, char **argv, trev_config *cfg, long *batch,
                   int *json);

/* `sim run`: which checkpoint, data and images, and how to report. */
#define RUN_MAX_IMAGES 100000000L /* --images N and --range A:B: B <= this */
typedef struct {
    const char *model;   /* --model (required); points into argv */
    const char *data;    /* --data SPEC, "fmnist" by default */
    const char *trace;   /* --trace OUT.h5, NULL: none */
    long first, count;   /* test images first..first+count-1 (default 0, 100) */
    int have_range;      /* --range was given (named in range errors) */
    long threads;        /* 1..256 */
    int json, quiet, compare;
    double e_mac_pj, e_ac_pj; /* --energy (default: the fp32 constants of sim/engine.h) */
} run_opts;
int cmd_run_parse(sim_ctx *ctx, int argc, char **argv, run_opts *o);

#endif
