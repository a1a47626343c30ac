/* train.h - the training driver behind `sim --train`: data, model, optimizer,
 * the epoch loop with progress, evaluation of every head (and EMA weights),
 * JSON log lines, atomic checkpoints each epoch (and every N steps), resume. */
#ifndef SIM_TRAIN_H
#define SIM_TRAIN_H

#include <signal.h>
#include <stdint.h>

#include "sim/optim.h"
#include "topology/trevsnn.h"

#define TRAIN_PATHMAX 4096

struct train_progress; /* below */

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
    int on_nonfinite;             /* NaN/Inf in loss, gradient or state: TRAIN_NONFINITE_* */
    /* Set asynchronously (cmd_train's SIGINT/SIGTERM handler, to the signal
     * number): finish the current step, checkpoint, return (NULL: never). */
    const volatile sig_atomic_t *stop;
    /* Test hook for fault injection: called after each backward, before the
     * finiteness checks, with the step about to be taken (NULL: none). */
    void (*fault)(void *ud, trev_model *m, int64_t step);
    void *fault_ud;
    int check_rebuild;            /* rev mode: measure state reconstruction error */
    int quiet;
    char cmdline[2048];
    /* Live progress (the --monitor page, sim/monitor.h): called after every
     * step and every evaluated epoch with a snapshot; must be quick. */
    void (*on_progress)(void *ud, const struct train_progress *p);
    void *progress_ud;
    char monitor[128]; /* --monitor HOST:PORT ("" = none), started by cmd_train */
} train_opts;

/* What a non-finite loss, gradient or turn-on state does (--on-nonfinite):
 * STOP fails the run with SIM_ENUMERIC, keeping the last good checkpoint;
 * SKIP drops that batch's update and counts it in train_result.skipped. */
enum { TRAIN_NONFINITE_STOP = 0, TRAIN_NONFINITE_SKIP = 1 };

typedef struct {
    int epochs_done;
    int64_t steps;
    int interrupted;               /* stopped by max_steps or a signal */
    int signalled;                 /* the signal that stopped the run (0: none) */
    long skipped;                  /* batches skipped for non-finite values */
    double last_loss;              /* mean training loss of the last epoch */
    double test_acc[TREV_MAXT];    /* per head, raw weights */
    double test_acc_ema;           /* final head with EMA weights (-1 if none) */
    int nheads;
    double images_per_s;
    double max_rebuild_err;
    double seconds;
} train_result;

/* A snapshot of a running train_run for train_opts.on_progress. */
typedef struct train_progress {
    int epoch, epochs;          /* current epoch (1-based), epochs of the run */
    int64_t step, steps_total;  /* optimizer steps done, planned */
    long batch, batches;        /* batch within the epoch, batches per epoch */
    double loss, mean_loss;     /* this batch, the epoch so far */
    double train_acc, lr, images_per_s, seconds;
    int evaluated;              /* 1: the epoch just ended; test_acc is new */
    int nheads;
    double test_acc[TREV_MAXT]; /* per head (when evaluated) */
    double test_acc_ema;        /* -1 without EMA */
    size_t mem_current[MEM_NROLES], mem_peak[MEM_NROLES];
} train_progress;

void train_defaults(train_opts *o);
sim_status train_run(sim_ctx *ctx, const train_opts *o, train_result *res);

#endif
