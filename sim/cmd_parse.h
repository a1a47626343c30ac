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

#endif
