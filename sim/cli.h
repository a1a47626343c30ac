/* cli.h - command-line option parsing shared by the subcommands of bin/sim.
 *
 * Options are "--name value" or "--name=value"; flags take no value. Every
 * error is one line naming the option, what was expected and what was
 * found. */
#ifndef SIM_CLI_H
#define SIM_CLI_H

#include <stdio.h>

#include "sim/ctx.h"
#include "topology/trevsnn.h"

typedef struct {
    const char *name; /* without the leading dashes */
    const char *arg;  /* value placeholder for the help text, NULL for a flag */
    const char *help;
} cli_opt;

/* Parse the option at argv[*i]: returns its index in opts (terminated by a
 * {NULL} entry) and sets *val (NULL for flags), advancing *i past it. Returns
 * -1 with an error in ctx for an unknown option, a missing value or a stray
 * positional argument (unless positional is not NULL, where it is stored). */
int cli_next(sim_ctx *ctx, int argc, char **argv, int *i, const cli_opt *opts, const char **val,
             const char **positional);
sim_status cli_long(sim_ctx *ctx, const char *opt, const char *val, long lo, long hi, long *out);
sim_status cli_double(sim_ctx *ctx, const char *opt, const char *val, double lo, double hi,
                      double *out);
void cli_help(FILE *out, const char *usage, const char *about, const cli_opt *opts);
/* The command line joined with spaces (for checkpoints and traces). */
void cli_join(char *buf, size_t len, int argc, char **argv);

/* Model options shared by train, info and bench-train: model, preset, T,
 * channels, kernel, no-inter-supv (the lif model implies no-inter-supv).
 * Returns 1 if `name` was one of them (handled), 0 if not, -1 on a bad value
 * (error in ctx). Call cli_model_begin first. */
typedef struct {
    char preset[16];
    int model;                 /* trev_model_kind (default trevsnn) */
    int T, kernel, inter_supv; /* 0 / -1: not given */
    int channels[TREV_LEVELS];
    int have_channels;
} cli_model;
void cli_model_begin(cli_model *cm);
int cli_model_option(sim_ctx *ctx, cli_model *cm, const char *name, const char *val);
sim_status cli_model_config(sim_ctx *ctx, const cli_model *cm, trev_config *cfg);
#define CLI_MODEL_OPTS                                                                             \
    {"model", "NAME", "trevsnn (default) or lif (conventional multi-timestep LIF baseline)"},   \
        {"preset", "P", "model preset: fmnist (default), cifar10, tiny, small"},                 \
        {"T", "N", "timesteps (columns), 1..64"},                                                 \
        {"channels", "A,B,C,D", "channels of the four levels"},                                   \
        {"kernel", "K", "depthwise kernel size (odd)"},                                           \
        {"no-inter-supv", NULL, "only the final head (no intermediate supervision)"}

#endif
