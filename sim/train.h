/* train.h - the training driver behind `sim --train`: data, model, optimizer,
 * the epoch loop with progress, evaluation of every head (and EMA weights),
 * JSON log lines, atomic checkpoints each epoch (and every N steps), resume. */
#ifndef SIM_TRAIN_H
#define SIM_TRAIN_H

#include <stdint.h>

#include "sim/optim.h"
#include "topology/trevsnn.h"

#define TRAIN_PATHMAX 4096

typedef struct {
    trev_config cfg;              /* model (preset plus overrides) */
    char data[TRAIN_PATHMAX];     /* "fmnist", "fmnist:DIR", "cifar10:DIR" */
    trev_mode mode;
    int epochs, batch, threads;
    uint64_t seed;
    optim_config opt;             /* total/warmup steps are filled in by train_run */
    double warmup_epochs;
    int aug_pad, aug_flip;
    int train_limit, test_limit;  /* 0: whole split */
    char out[TRAIN_PATHMAX];      /* checkpoint path ("" = none) */
    char log[TRAIN_PATHMAX];      /* JSON lines log ("" = none) */
    char resume[TRAIN_PATHMAX];   /* checkpoint to continue from ("" = none) */
    long ckpt_every;              /* also checkpoint every N steps (0 = per epoch only) */
    long max_steps;               /* stop this run after N steps, checkpointing (0 = no) */
    int check_rebuild;            /* rev mode: measure state reconstruction error */
    int quiet;
    char cmdline[2048];
} train_opts;

typedef struct {
    int epochs_done;
    int64_t steps;
    int interrupted;               /* stopped by max_steps */
    double last_loss;              /* mean training loss of the last epoch */
    double test_acc[TREV_MAXT];    /* per head, raw weights */
    double test_acc_ema;           /* final head with EMA weights (-1 if none) */
    int nheads;
    double images_per_s;
    double max_rebuild_err;
    double seconds;
} train_result;

void train_defaults(train_opts *o);
sim_status train_run(sim_ctx *ctx, const train_opts *o, train_result *res);

#endif
