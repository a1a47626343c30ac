/* fold.h - load-time helpers of the event-driven builders (trevnet.c,
 * lifnet.c): parameters of a trained model looked up by name and size,
 * eval-mode BatchNorm folded into the conv before it, WSConv weights
 * standardized once, plain copies, and the temporary arrays handed to
 * engine_create (freed together once the engine has copied them). */
#ifndef TOPOLOGY_FOLD_H
#define TOPOLOGY_FOLD_H

#include "topology/trevsnn.h"

#define FOLD_MAXTMP 256

/* Build-time state: first error wins, later calls are no-ops. */
typedef struct {
    sim_ctx *ctx;
    const trev_model *m;
    const char *who; /* prefix of error messages: "trevnet", "lifnet" */
    sim_status st;
    real *tmp[FOLD_MAXTMP];
    int ntmp;
} fold_builder;

void fold_init(fold_builder *b, sim_ctx *ctx, const trev_model *m, const char *who);
/* Free every temporary array. */
void fold_free_tmp(fold_builder *b);

/* A zeroed temporary array of n elements (at least 1), or NULL on error. */
real *fold_alloc_tmp(fold_builder *b, size_t n);

/* The parameter `name` (printf-style) with n_expected values, or NULL
 * (recorded as an error naming the parameter). */
const real *fold_param(fold_builder *b, size_t n_expected, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The parameter `name` (n values) into out. */
void fold_copy_param(fold_builder *b, real *out /* (n) */, size_t n, const char *name);

/* Standardized WSConv weight of `prefix` ("<prefix>/weight", "<prefix>/gain") into out. */
void fold_standardized(fold_builder *b, real *out /* (Co, fan) */, int Co, int fan,
                       const char *prefix);

/* A WSConv layer of `prefix`: its standardized weight into out, its bias
 * ("<prefix>/bias") into bias. */
void fold_wsconv(fold_builder *b, real *out /* (Co, fan) */, real *bias /* (Co) */, int Co,
                 int fan, const char *prefix);

/* Fold eval-mode BN of `prefix` ("<prefix>/conv/weight" (Co, fan) then
 * "<prefix>/bn/...") into w_out = w * scale; the shift is added (+=) into
 * shift_out (the target's bias). */
void fold_bn(fold_builder *b, real *w_out /* (Co, fan) */, real *shift_out /* (Co) */, int Co,
             int fan, const char *prefix);

#endif
