/* paramtab.h - the parameter table of a network behind the trev_* API,
 * shared by T-RevSNN (trevsnn.c) and the LIF baseline (lifsnn.c).
 *
 * A builder appends named tensors ("<prefix>/<leaf>") to the table, each at
 * a 64-byte aligned offset of one flat array; WSConv layers also reserve
 * room for their standardized weight and statistics. Then the table's
 * arrays are allocated once per role (parameters, gradients, standardized
 * weights) and initialized in table order from the RNG_INIT stream. A
 * carver hands out 64-byte aligned slices of the activation and scratch
 * arenas, or only counts them when its base is NULL (so a plan is sized
 * before anything is allocated). */
#ifndef TOPOLOGY_PARAMTAB_H
#define TOPOLOGY_PARAMTAB_H

#include "topology/trevsnn.h"

typedef struct { /* WSConv: weight, bias, gain; standardized copy and stats in std */
    size_t w, b, g, what, stats;
    int Co, fan;
} paramtab_ws;

typedef struct { /* depthwise conv with bias */
    size_t w, b;
} paramtab_dw;

typedef struct { /* conv without bias followed by BatchNorm */
    size_t w, bw, bb, rm, rv;
} paramtab_cbn;

typedef struct {
    trev_param *tab; /* entries in creation order */
    int ntab, cap;
    size_t nval;      /* elements of p and g */
    paramtab_ws *ws;  /* WSConv layers, indexed by what paramtab_add_ws returns */
    int nws, wscap;
    size_t nstd;      /* elements of std and gstd */
    real *p, *g;      /* (nval) parameters and gradients (g NULL for inference) */
    real *std, *gstd; /* (nstd) standardized weights and their gradients */
} paramtab;

/* Build-time state: first error wins, later adds are no-ops. */
typedef struct {
    sim_ctx *ctx;
    paramtab *t;
    sim_status st;
} paramtab_builder;

/* Append "<prefix>/<leaf>" of shape (ndim dims) and return its offset. */
size_t paramtab_add(paramtab_builder *b, const char *prefix, const char *leaf, int ndim,
                    const int *shape, trev_init init, int buffer, int decay);
/* A (C) vector "<prefix>/<leaf>" without weight decay. */
size_t paramtab_add_vec(paramtab_builder *b, const char *prefix, const char *leaf, int C,
                        trev_init init, int buffer);
/* A conv weight "<prefix>/weight" (Co, Ci, k, k), truncated-normal, decayed. */
size_t paramtab_add_weight(paramtab_builder *b, const char *prefix, int Co, int Ci, int k);
/* A WSConv layer: weight, bias, gain; returns its index in t->ws (-1 on error). */
int paramtab_add_ws(paramtab_builder *b, const char *prefix, int Co, int Ci, int k);
/* A depthwise conv (C, 1, k, k) with bias. */
paramtab_dw paramtab_add_dw(paramtab_builder *b, const char *prefix, int C, int k);
/* "<prefix>/conv/weight" (Co, Ci, k, k) and "<prefix>/bn/{weight,bias,running_mean,
 * running_var}" (Co). */
paramtab_cbn paramtab_add_cbn(paramtab_builder *b, const char *prefix, int Co, int Ci, int k);

/* After the last add: allocate p, std and (when train) g and gstd, then
 * initialize p per the table. Returns the builder's status (SIM_ENOMEM when
 * an allocation failed); on error the caller frees with paramtab_free. */
sim_status paramtab_finish(paramtab_builder *b, int train);
void paramtab_free(sim_ctx *ctx, paramtab *t);

/* Standardize every WSConv weight of p into std (statistics beside it),
 * layers spread over `threads` threads. */
void paramtab_standardize(paramtab *t, int threads);
/* Map d(std) in gstd back into g of every WSConv weight and gain (+=). */
void paramtab_standardize_backward(paramtab *t, int threads);

/* A replica's table q (a copy of a training table, sharing its arrays) gets
 * its own gradients and standardized-weight gradients; a table without
 * gradients keeps none. paramtab_free_own_grads undoes it (also after a
 * failure); paramtab_clear_grads zeroes them. */
sim_status paramtab_own_grads(sim_ctx *ctx, paramtab *q);
void paramtab_free_own_grads(sim_ctx *ctx, paramtab *q);
void paramtab_clear_grads(paramtab *q);
/* t's gradients and standardized-weight gradients += those of the n
 * tables in others (replicas of t, added in order). */
void paramtab_sum_grads(sim_ctx *ctx, paramtab *t, paramtab *const *others, int n);
/* Bytes per role of a plan with `acts` activation and `scr` scratch
 * elements: parameters, gradients, activations, and the arena plus the
 * standardized weights and their gradients as scratch. */
void paramtab_plan_bytes(const paramtab *t, size_t acts, size_t scr, size_t out[MEM_NROLES]);

/* Slices of an arena; base NULL only counts. */
typedef struct {
    real *base;
    size_t used;
} paramtab_carver;

/* The next n elements (padded to 64 bytes); NULL when only counting. */
real *paramtab_take(paramtab_carver *c, size_t n);

#endif
