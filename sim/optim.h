/* optim.h - optimizers over the model's flat parameter array: AdamW and LAMB
 * with decoupled weight decay applied only where the parameter table says so
 * (conv weights; never BN, gains, biases, alpha, gamma), gradient clipping
 * (global norm, or adaptive unit-wise clipping as in NFNets), the learning
 * rate schedule (linear warmup, then cosine) and EMA weights.
 *
 * State (moments, EMA copy) is allocated under MEM_OPTIM. */
#ifndef SIM_OPTIM_H
#define SIM_OPTIM_H

#include <stdint.h>

#include "sim/ctx.h"
#include "topology/trevsnn.h"

typedef enum { OPTIM_ADAMW = 0, OPTIM_LAMB = 1 } optim_kind;
typedef enum { CLIP_NONE = 0, CLIP_NORM = 1, CLIP_AGC = 2 } clip_kind;

typedef struct {
    optim_kind kind;
    double lr, min_lr;        /* peak and final learning rate */
    double beta1, beta2, eps;
    double weight_decay;
    double warmup_steps;      /* linear warmup length in steps */
    double total_steps;       /* cosine decay ends here */
    clip_kind clip;
    double clip_value;        /* max global norm, or AGC factor lambda */
    double ema_decay;         /* 0: no EMA */
} optim_config;

typedef struct {
    optim_config cfg;
    trev_model *m;
    size_t nval;
    real *mom1, *mom2; /* first and second moments */
    real *ema;         /* EMA of every value (parameters and BN buffers), or NULL */
    int64_t step;      /* updates done */
} optim;

/* Defaults: AdamW, lr 2e-3, betas (0.9, 0.999), eps 1e-8, wd 0.05,
 * no clipping, no EMA. */
void optim_defaults(optim_config *c);
/* Parse "adamw" / "lamb". */
sim_status optim_parse_kind(sim_ctx *ctx, const char *s, optim_kind *out);
/* Parse "none", "norm:X", "agc:F". */
sim_status optim_parse_clip(sim_ctx *ctx, const char *s, clip_kind *kind, double *value);

sim_status optim_init(sim_ctx *ctx, optim *o, trev_model *m, const optim_config *cfg);
void optim_free(sim_ctx *ctx, optim *o);
/* Learning rate at update number `step` (0-based). */
double optim_lr(const optim_config *c, double step);
/* Clip the model's gradients in place; returns the global gradient norm
 * before clipping. */
double optim_clip(optim *o);
/* One update with the current gradients (after clipping); returns the lr. */
double optim_step(optim *o);
/* Swap the live parameters with the EMA copy (call twice to swap back). */
void optim_swap_ema(optim *o);
/* Global L2 norm of the gradients and whether all are finite. */
double optim_grad_norm(const trev_model *m, int *finite);

#endif
