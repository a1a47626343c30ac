/* modelstep.h - checks and bookkeeping that every model behind the trev_*
 * API (trevsnn.c, lifsnn.c) does per call: the batch against the prepared
 * plan, the labels against the classes, one spike site's counts in a
 * trev_step record, and the batch split over threads. */
#ifndef TOPOLOGY_MODELSTEP_H
#define TOPOLOGY_MODELSTEP_H

#include "topology/paramtab.h"
#include "topology/trevsnn.h"

/* SIM_EINVAL when nothing is prepared (prepared = 0), SIM_ERANGE when n is
 * outside 1..prepared. */
sim_status modelstep_check_batch(sim_ctx *ctx, int prepared, int n);

/* SIM_ERANGE naming the first label outside 0..classes-1. */
sim_status modelstep_check_labels(sim_ctx *ctx, const int *labels /* (n) */, int n, int classes);

/* A training step: the model has gradients (g not NULL), then the labels
 * as modelstep_check_labels. */
sim_status modelstep_check_train(sim_ctx *ctx, const real *g, const int *labels /* (n) */, int n,
                                 int classes);

/* Append a site's spike count and size to rec (NULL, or full: ignored). */
void modelstep_record(trev_step *rec, size_t spikes, size_t total);

/* ---- batch split (trevsnn.c, lifsnn.c) ----
 * With 2 or more threads a model cuts each batch into slices, one per
 * thread, each run by a replica of the model (its own plan and gradients,
 * the parameters shared); BN sums cross the slices through ctx->team. */
/* Team sums per member: one BN layer's per-channel sums (batchnorm.c). */
#define MODELSTEP_TEAM_CAP (2 * 2048 + 1)
/* Slices for a batch of n with `threads` threads: one per thread (at most
 * TREV_MAXREP) when each gets at least 2 images, else 1 (no split). */
int modelstep_split_of(int threads, int n);
/* Images of slice r of n cut into R: n/R, one more for the first n%R. */
void modelstep_slice(int n, int R, int r, int *cnt, int *off);
/* What a model keeps for its split beside its replicas (which have the
 * model's own type; replica 0 is the model itself). */
typedef struct {
    int nrep;                /* replicas made (1: no split) */
    int capacity;            /* images a call may take */
    int last;                /* the last call ran split */
    real *img[TREV_MAXREP];  /* slice r of the input images */
    real *gathered;          /* (rows, capacity): the slices' outputs side by side */
    double *team_sums;       /* (R, MODELSTEP_TEAM_CAP) */
} modelstep_split;
/* No split: one replica. */
void modelstep_split_init(modelstep_split *sp);
/* Bytes a split of n images into R slices adds to the replicas' plans: R-1
 * copies of pt's gradients and standardized-weight gradients, the input
 * slices (image_elems reals per image), the gathered outputs (rows per
 * image), the team sums. Nothing when R is 1. */
void modelstep_split_bytes(int R, int n, const paramtab *pt, size_t image_elems, size_t rows,
                           size_t out[MEM_NROLES]);
/* Allocate those buffers (not the replicas) and set the capacity to n. */
sim_status modelstep_split_alloc(sim_ctx *ctx, modelstep_split *sp, int n, int R,
                                 size_t image_elems, size_t rows);
/* Free them; back to modelstep_split_init (the caller frees its replicas first). */
void modelstep_split_free(sim_ctx *ctx, modelstep_split *sp);
/* fn(ctx of the slice, r, off, cnt, img, arg) for r < R at once, one thread
 * each, after the slice's images (off..off+cnt of the channel-major images
 * (C_in, n, SS)) are copied into img = sp->img[r]. The threads are a team
 * over sp->team_sums; inside, ctx has one thread and nested loops run on it;
 * fn must not allocate or fail. SIM_ENOMEM when the R threads could not be
 * started (fn then ran nowhere). */
typedef void (*modelstep_slice_fn)(sim_ctx *ctx, int r, int off, int cnt, const real *img,
                                   void *arg);
sim_status modelstep_run_slices(sim_ctx *ctx, const modelstep_split *sp, const real *images,
                                int C_in, size_t SS, int n, int R, modelstep_slice_fn fn,
                                void *arg);
/* The slices' records into res: sums, and the largest rebuild error. */
void modelstep_merge_steps(trev_step *res, const trev_step *rr, int R);
/* The slices' (rows, cnt_r) maps src[r] side by side into out (rows, n). */
void modelstep_gather(real *out, const real *const *src, int n, int R, int rows);

/* Positions of one timestep at resolution R for a batch of n: n R R. */
size_t modelstep_positions(int n, int R);

#endif
