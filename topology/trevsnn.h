/* trevsnn.h - the T-RevSNN network of model.md §2 assembled from the layer
 * library: configuration and presets, the named parameter table (names of
 * checkpoint.md), training forward with loss, backward in plain mode (every
 * activation of every column kept) and in reversible mode (only the stem
 * output and the last column's states kept; earlier columns rebuilt as
 * c^{t-1} = (c^t - F^t) / alpha, model.md §3), and the inference forward.
 *
 * Memory is planned first and allocated once per role: parameters (MEM_PARAMS),
 * gradients (MEM_GRADS), activations kept for backward (MEM_ACTS, grows with T
 * only in plain mode) and per-level scratch (MEM_SCRATCH). trev_plan_bytes
 * gives those numbers without allocating, which is how `sim info` and the
 * tests show the O(L) memory claim. */
#ifndef TOPOLOGY_TREVSNN_H
#define TOPOLOGY_TREVSNN_H

#include <stddef.h>
#include <stdint.h>

#include "sim/ctx.h"
#include "sim/real.h"
#include "topology/conv2d.h"

#define TREV_LEVELS 4
#define TREV_MAXT 64
/* Most slices a batch is split into (one per thread, trev_prepare). */
#define TREV_MAXREP 8

/* Which network a config describes: T-RevSNN (this file) or the
 * conventional multi-timestep LIF baseline of topology/lifsnn.h, which runs
 * behind the same trev_* API (see trev_variant below). */
typedef enum { TREV_MODEL_TREVSNN = 0, TREV_MODEL_LIF = 1 } trev_model_kind;

typedef struct {
    char preset[16];
    int model;                 /* trev_model_kind */
    int channels[TREV_LEVELS]; /* C0..C3 */
    int T;                     /* timesteps = columns */
    int kernel;                /* depthwise kernel size k */
    int in_channels;           /* C_in */
    int input_size;            /* H = W after padding, divisible by 16 */
    int stem_kernel;           /* k_s */
    int stem_stride;           /* s1 */
    int classes;               /* K */
    double leaky_slope;        /* sigma of the stem and final-head LeakyReLU */
    double label_smoothing;
    int inter_supv;            /* 1: a head after every column */
    double bn_momentum, bn_eps;
    /* data normalization, recorded in checkpoints */
    double mean[3], std[3];
    int raw_size; /* image size before zero padding (28 for Fashion-MNIST) */
} trev_config;

/* Fill cfg from a preset name: fmnist, cifar10, tiny, small (model.md §4).
 * Unknown name: SIM_ENOTFOUND with a message listing the presets. */
sim_status trev_preset(sim_ctx *ctx, trev_config *cfg, const char *name);
/* "trevsnn" / "lif" and back (SIM_EINVAL with a message for another name). */
const char *trev_model_name(int model);
sim_status trev_parse_model(sim_ctx *ctx, const char *name, int *model);
/* Check a configuration (channels positive, input divisible by 16, T in
 * 1..TREV_MAXT, odd kernels, ...). */
sim_status trev_config_check(sim_ctx *ctx, const trev_config *cfg);
/* The config as the JSON object stored in checkpoints. */
int trev_config_json(const trev_config *cfg, char *buf, size_t len);

typedef enum { TREV_INIT_TRUNC, TREV_INIT_ZERO, TREV_INIT_ONE, TREV_INIT_HALF } trev_init;

typedef struct {
    char name[72];     /* e.g. "col0/level1/down/conv/weight" (under /params/) */
    int ndim, shape[4];
    size_t n, offset;  /* elements; offset into trev_model.p and .g */
    unsigned char buffer; /* BN running statistic: no gradient, no optimizer */
    unsigned char decay;  /* weight decay applies (conv weights only) */
    trev_init init;
} trev_param;

typedef enum { TREV_PLAIN = 0, TREV_REV = 1 } trev_mode;

typedef struct trev_model trev_model;

/* Build the parameter table and allocate parameters (and gradients when
 * `train`), initialized per model.md §2 from the context's RNG_INIT stream. */
sim_status trev_create(sim_ctx *ctx, trev_model **out, const trev_config *cfg, int train);
void trev_destroy(sim_ctx *ctx, trev_model *m);

const trev_config *trev_cfg(const trev_model *m);
int trev_nparams(const trev_model *m);          /* entries in the table */
const trev_param *trev_param_at(const trev_model *m, int i);
const trev_param *trev_param_find(const trev_model *m, const char *name);
real *trev_params(trev_model *m);               /* flat parameter array */
real *trev_grads(trev_model *m);                /* flat gradient array (NULL for inference) */
size_t trev_nvalues(const trev_model *m);       /* elements in the flat arrays */
/* Learnable parameters (BN running statistics excluded), as model.md §4. */
size_t trev_count_learnable(const trev_model *m);
/* Forward multiply-accumulates per image of a dense inference pass. */
double trev_macs_per_image(const trev_model *m);

/* Bytes each role takes when training with batch n in `mode` (nothing is
 * allocated): out[MEM_PARAMS], out[MEM_GRADS], out[MEM_ACTS], out[MEM_SCRATCH]. */
sim_status trev_plan_bytes(sim_ctx *ctx, const trev_model *m, int n, trev_mode mode,
                           size_t out[MEM_NROLES]);

/* Allocate the activation and scratch arenas for batches of up to n images
 * in `mode` (training) - frees a previous plan. With ctx->threads >= 2 (and
 * at least 2 images per thread) every later call splits its batch into one
 * slice per thread, each run by a replica with its own plan and gradients;
 * BN statistics are still those of the whole batch, so results equal the
 * one-thread ones up to rounding. */
sim_status trev_prepare(sim_ctx *ctx, trev_model *m, int n, trev_mode mode);

/* Results of one training step. */
typedef struct {
    double loss;
    double head_loss[TREV_MAXT];
    real *logits; /* (T, K, n) channel-major per head; valid until the next call */
    int nheads;
    /* spikes emitted and sites evaluated per spike site, in forward order
     * (the golden file's /train/spike_rates order) */
    int nsites;
    double site_spikes[16 * TREV_MAXT + 1];
    double site_total[16 * TREV_MAXT + 1];
    double max_rebuild_err; /* rev mode: max |c_rebuilt - c_forward| (if measured) */
} trev_step;

/* Training forward (BN batch statistics, running statistics updated once),
 * loss of model.md §2 and backward in the prepared mode, ACCUMULATING into
 * the gradient array (zero it with trev_zero_grads first). images are
 * channel-major (C_in, n, S, S); labels (n). Clamps |alpha| >= 1e-3 first.
 * If `check_rebuild` is set in rev mode, the forward also keeps every state to
 * measure the reconstruction error (costs the memory rev mode saves; for
 * diagnostics only). */
sim_status trev_train_step(sim_ctx *ctx, trev_model *m, const real *images, const int *labels,
                           int n, trev_step *res, int check_rebuild);
void trev_zero_grads(trev_model *m);

/* Training-mode forward and loss only: BN batch statistics, running
 * statistics left untouched, no backward (finite-difference checks). */
sim_status trev_forward_loss(sim_ctx *ctx, trev_model *m, const real *images, const int *labels,
                             int n, double *loss);

/* Test hook: replace binary spikes by the relaxation clamp(v, 0, 1) in the
 * forward (see spike_forward_relaxed), making the surrogate gradient exact. */
void trev_set_relaxed_spikes(trev_model *m, int on);
/* With relaxed spikes: a hash of which side of the kinks 0 and 1 every
 * spike input of the last training forward was on. Two forwards with the
 * same signature lie on the same smooth piece (up to hash collisions). */
uint64_t trev_kink_signature(const trev_model *m);

/* Turn-on states of the last training forward in plain mode: c_l^t,
 * channel-major (C_l, n, R_l, R_l); NULL in rev mode except t = T-1, and
 * NULL (as is the stem output) after a call that split its batch. */
const real *trev_state(const trev_model *m, int t, int l);
const real *trev_stem_output(const trev_model *m); /* x: (C0, n, R0, R0) */

/* Inference forward with BN running statistics: logits of every head
 * (T, K, n) written to `logits` (only the final head when !inter_supv:
 * logits is then (1, K, n)). Needs trev_prepare (any mode) for scratch. */
sim_status trev_infer(sim_ctx *ctx, trev_model *m, const real *images, int n, real *logits);
/* The same, recording spikes per spike site in forward order into rec
 * (nsites, site_spikes, site_total), summed over the n images. In plain mode
 * trev_state(t, l) then holds the inference states. */
sim_status trev_infer_rec(sim_ctx *ctx, trev_model *m, const real *images, int n, real *logits,
                          trev_step *rec);

/* Resolution of level l (R_l) and of the stem output. */
int trev_resolution(const trev_model *m, int l);

/* ---- model variants (STYLE.md item 3) ----
 * A variant (cfg.model != TREV_MODEL_TREVSNN) implements the network behind
 * the trev_* API: trev_create calls its create, which builds and owns the
 * parameter table and the flat arrays and hands them out in a trev_table
 * (trev_model borrows them, so the table accessors and the optimizer work
 * unchanged); every other trev_* function dispatches to the table below.
 * A variant has a single training mode: `mode` and `check_rebuild` are
 * ignored, trev_state returns NULL. */
typedef struct {
    trev_param *tab;
    int ntab;
    size_t nval;
    real *p, *g;
} trev_table;

typedef struct {
    const char *name;
    sim_status (*create)(sim_ctx *ctx, void **impl, const trev_config *cfg, int train,
                         trev_table *tab);
    void (*destroy)(sim_ctx *ctx, void *impl);
    sim_status (*plan_bytes)(sim_ctx *ctx, const void *impl, int n, size_t out[MEM_NROLES]);
    sim_status (*prepare)(sim_ctx *ctx, void *impl, int n);
    sim_status (*train_step)(sim_ctx *ctx, void *impl, const real *images, const int *labels,
                             int n, trev_step *res);
    sim_status (*forward_loss)(sim_ctx *ctx, void *impl, const real *images, const int *labels,
                               int n, double *loss);
    sim_status (*infer_rec)(sim_ctx *ctx, void *impl, const real *images, int n, real *logits,
                            trev_step *rec);
    double (*macs_per_image)(const void *impl);
    void (*set_relaxed)(void *impl, int on);
    uint64_t (*kink_signature)(const void *impl);
    const real *(*stem_output)(const void *impl);
} trev_variant;

/* The variant's own state (NULL for T-RevSNN), for the variant's accessors. */
void *trev_variant_impl(const trev_model *m);

#endif
