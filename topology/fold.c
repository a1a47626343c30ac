/* fold.c - parameter look-up, BN folding, WSConv standardization and the
 * temporary arrays of the event-driven builders (see fold.h). */
#include "fold.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "topology/wsconv.h"

void fold_init(fold_builder *b, sim_ctx *ctx, const trev_model *m, const char *who)
{
    memset(b, 0, sizeof *b);
    b->ctx = ctx;
    b->m = m;
    b->who = who;
    b->st = SIM_OK;
}

void fold_free_tmp(fold_builder *b)
{
    for (int i = 0; i < b->ntmp; i++)
        mem_free(b->ctx, b->tmp[i]);
    b->ntmp = 0;
}

real *fold_alloc_tmp(fold_builder *b, size_t n)
{
    if (b->st != SIM_OK)
        return NULL;
    assert(b->ntmp < (int)(sizeof b->tmp / sizeof *b->tmp));
    real *p = mem_calloc(b->ctx, MEM_SCRATCH, n ? n : 1, sizeof *p);
    if (!p)
        b->st = SIM_ENOMEM;
    else
        b->tmp[b->ntmp++] = p;
    return p;
}

const real *fold_param(fold_builder *b, size_t n_expected, const char *fmt, ...)
{
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    const trev_param *p = trev_param_find(b->m, name);
    if (!p || p->n != n_expected) {
        if (b->st == SIM_OK)
            b->st = ctx_error(b->ctx, SIM_ENOTFOUND, "%s: parameter %s %s (expected %zu values)",
                              b->who, name, p ? "has the wrong size" : "missing", n_expected);
        return NULL;
    }
    return trev_params((trev_model *)b->m) + p->offset;
}

void fold_wsconv(fold_builder *b, real *out, real *bias, int Co, int fan, const char *prefix)
{
    fold_standardized(b, out, Co, fan, prefix);
    const real *p = fold_param(b, (size_t)Co, "%s/bias", prefix);
    if (p)
        memcpy(bias, p, (size_t)Co * sizeof *bias);
}

void fold_copy_param(fold_builder *b, real *out, size_t n, const char *name)
{
    const real *p = fold_param(b, n, "%s", name);
    if (p)
        memcpy(out, p, n * sizeof *out);
}

void fold_standardized(fold_builder *b, real *out, int Co, int fan, const char *prefix)
{
    const real *w = fold_param(b, (size_t)Co * fan, "%s/weight", prefix);
    const real *g = fold_param(b, (size_t)Co, "%s/gain", prefix);
    real *stats = fold_alloc_tmp(b, 2 * (size_t)Co);
    if (b->st == SIM_OK)
        wsconv_standardize(out, stats, w, g, Co, fan);
}

void fold_bn(fold_builder *b, real *w_out, real *shift_out, int Co, int fan, const char *prefix)
{
    const real *w = fold_param(b, (size_t)Co * fan, "%s/conv/weight", prefix);
    const real *bw = fold_param(b, (size_t)Co, "%s/bn/weight", prefix);
    const real *bb = fold_param(b, (size_t)Co, "%s/bn/bias", prefix);
    const real *rm = fold_param(b, (size_t)Co, "%s/bn/running_mean", prefix);
    const real *rv = fold_param(b, (size_t)Co, "%s/bn/running_var", prefix);
    if (b->st != SIM_OK)
        return;
    const double eps = trev_cfg(b->m)->bn_eps;
    for (int o = 0; o < Co; o++) {
        double s = (double)bw[o] / sqrt((double)rv[o] + eps);
        for (int i = 0; i < fan; i++)
            w_out[(size_t)o * fan + i] = (real)(w[(size_t)o * fan + i] * s);
        shift_out[o] += (real)((double)bb[o] - (double)rm[o] * s);
    }
}
