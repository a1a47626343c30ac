/* paramtab.c - the parameter table builder, its allocation and
 * initialization, WSConv standardization over the whole table, and the
 * arena carver (see paramtab.h). */
#include "paramtab.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "sim/rng.h"
#include "topology/wsconv.h"

static size_t padded(size_t n) { return (n + 15) / 16 * 16; } /* 64-byte aligned tensors */

/* Make room for `need` elements of `elem` bytes in *arr (capacity *cap). */
static int grow(paramtab_builder *b, void **arr, int *cap, int need, size_t elem)
{
    if (b->st != SIM_OK)
        return 0;
    if (need <= *cap)
        return 1;
    int nc = *cap ? 2 * *cap : 64;
    while (nc < need)
        nc *= 2;
    void *na = mem_calloc(b->ctx, MEM_META, (size_t)nc, elem);
    if (!na) {
        b->st = SIM_ENOMEM;
        return 0;
    }
    if (*arr)
        memcpy(na, *arr, (size_t)*cap * elem);
    mem_free(b->ctx, *arr);
    *arr = na;
    *cap = nc;
    return 1;
}

size_t paramtab_add(paramtab_builder *b, const char *prefix, const char *leaf, int ndim,
                    const int *shape, trev_init init, int buffer, int decay)
{
    paramtab *t = b->t;
    if (!grow(b, (void **)&t->tab, &t->cap, t->ntab + 1, sizeof *t->tab))
        return 0;
    trev_param *p = &t->tab[t->ntab++];
    int len = snprintf(p->name, sizeof p->name, "%s/%s", prefix, leaf);
    assert(len > 0 && (size_t)len < sizeof p->name);
    (void)len;
    p->ndim = ndim;
    p->n = 1;
    for (int i = 0; i < ndim; i++) {
        p->shape[i] = shape[i];
        p->n *= (size_t)shape[i];
    }
    p->offset = t->nval;
    p->buffer = (unsigned char)buffer;
    p->decay = (unsigned char)decay;
    p->init = init;
    t->nval += padded(p->n);
    return p->offset;
}

size_t paramtab_add_vec(paramtab_builder *b, const char *prefix, const char *leaf, int C,
                        trev_init init, int buffer)
{
    return paramtab_add(b, prefix, leaf, 1, &C, init, buffer, 0);
}

size_t paramtab_add_weight(paramtab_builder *b, const char *prefix, int Co, int Ci, int k)
{
    int shape[4] = {Co, Ci, k, k};
    return paramtab_add(b, prefix, "weight", 4, shape, TREV_INIT_TRUNC, 0, 1);
}

int paramtab_add_ws(paramtab_builder *b, const char *prefix, int Co, int Ci, int k)
{
    paramtab *t = b->t;
    paramtab_ws r;
    r.w = paramtab_add_weight(b, prefix, Co, Ci, k);
    r.b = paramtab_add_vec(b, prefix, "bias", Co, TREV_INIT_ZERO, 0);
    r.g = paramtab_add_vec(b, prefix, "gain", Co, TREV_INIT_ONE, 0);
    r.Co = Co;
    r.fan = Ci * k * k;
    r.what = t->nstd;
    t->nstd += padded((size_t)Co * (size_t)r.fan);
    r.stats = t->nstd;
    t->nstd += padded((size_t)2 * Co);
    if (!grow(b, (void **)&t->ws, &t->wscap, t->nws + 1, sizeof *t->ws))
        return -1;
    t->ws[t->nws] = r;
    return t->nws++;
}

paramtab_dw paramtab_add_dw(paramtab_builder *b, const char *prefix, int C, int k)
{
    paramtab_dw r;
    r.w = paramtab_add_weight(b, prefix, C, 1, k);
    r.b = paramtab_add_vec(b, prefix, "bias", C, TREV_INIT_ZERO, 0);
    return r;
}

paramtab_cbn paramtab_add_cbn(paramtab_builder *b, const char *prefix, int Co, int Ci, int k)
{
    char pre[96];
    paramtab_cbn r;
    snprintf(pre, sizeof pre, "%s/conv", prefix);
    r.w = paramtab_add_weight(b, pre, Co, Ci, k);
    snprintf(pre, sizeof pre, "%s/bn", prefix);
    r.bw = paramtab_add_vec(b, pre, "weight", Co, TREV_INIT_ONE, 0);
    r.bb = paramtab_add_vec(b, pre, "bias", Co, TREV_INIT_ZERO, 0);
    r.rm = paramtab_add_vec(b, pre, "running_mean", Co, TREV_INIT_ZERO, 1);
    r.rv = paramtab_add_vec(b, pre, "running_var", Co, TREV_INIT_ONE, 1);
    return r;
}

/* Initial values per model.md §2, in table order from RNG_INIT. */
static void init_values(sim_ctx *ctx, paramtab *t)
{
    for (int i = 0; i < t->ntab; i++) {
        const trev_param *p = &t->tab[i];
        real *v = t->p + p->offset;
        for (size_t j = 0; j < p->n; j++) {
            switch (p->init) {
            case TREV_INIT_TRUNC: v[j] = (real)rng_trunc_normal(ctx, RNG_INIT, 0.02); break;
            case TREV_INIT_ZERO: v[j] = 0; break;
            case TREV_INIT_ONE: v[j] = 1; break;
            case TREV_INIT_HALF: v[j] = (real)0.5; break;
            }
        }
    }
}

void paramtab_free(sim_ctx *ctx, paramtab *t)
{
    mem_free(ctx, t->p);
    mem_free(ctx, t->g);
    mem_free(ctx, t->std);
    mem_free(ctx, t->gstd);
    mem_free(ctx, t->tab);
    mem_free(ctx, t->ws);
}

sim_status paramtab_finish(paramtab_builder *b, int train)
{
    paramtab *t = b->t;
    if (b->st != SIM_OK)
        return b->st;
    t->p = mem_calloc(b->ctx, MEM_PARAMS, t->nval, sizeof(real));
    t->std = mem_calloc(b->ctx, MEM_SCRATCH, t->nstd, sizeof(real));
    if (train) {
        t->g = mem_calloc(b->ctx, MEM_GRADS, t->nval, sizeof(real));
        t->gstd = mem_calloc(b->ctx, MEM_SCRATCH, t->nstd, sizeof(real));
    }
    if (!t->p || !t->std || (train && (!t->g || !t->gstd)))
        return b->st = SIM_ENOMEM;
    init_values(b->ctx, t);
    return SIM_OK;
}

/* Layers are independent and each is written by one thread, so the results
 * do not depend on the thread count. */
void paramtab_standardize(paramtab *t, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1) if (threads > 1)
    for (int i = 0; i < t->nws; i++) {
        const paramtab_ws *r = &t->ws[i];
        wsconv_standardize(t->std + r->what, t->std + r->stats, t->p + r->w, t->p + r->g, r->Co,
                           r->fan);
    }
}

void paramtab_standardize_backward(paramtab *t, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1) if (threads > 1)
    for (int i = 0; i < t->nws; i++) {
        const paramtab_ws *r = &t->ws[i];
        wsconv_standardize_backward(t->g + r->w, t->g + r->g, t->gstd + r->what, t->p + r->w,
                                    t->p + r->g, t->std + r->stats, r->Co, r->fan);
    }
}

sim_status paramtab_own_grads(sim_ctx *ctx, paramtab *q)
{
    const int train = q->g != NULL;
    q->g = q->gstd = NULL; /* never the shared ones */
    if (!train)
        return SIM_OK;
    q->g = mem_calloc(ctx, MEM_GRADS, q->nval, sizeof(real));
    q->gstd = mem_calloc(ctx, MEM_SCRATCH, q->nstd, sizeof(real));
    return q->g && q->gstd ? SIM_OK : SIM_ENOMEM;
}

void paramtab_free_own_grads(sim_ctx *ctx, paramtab *q)
{
    mem_free(ctx, q->g);
    mem_free(ctx, q->gstd);
    q->g = q->gstd = NULL;
}

void paramtab_clear_grads(paramtab *q)
{
    memset(q->g, 0, q->nval * sizeof *q->g);
    memset(q->gstd, 0, q->nstd * sizeof *q->gstd);
}

void paramtab_sum_grads(sim_ctx *ctx, paramtab *t, paramtab *const *others, int n)
{
    for (int a = 0; a < 2; a++) {
        real *g = a ? t->gstd : t->g;
        const size_t len = a ? t->nstd : t->nval;
#pragma omp parallel for num_threads(ctx->threads) schedule(static)
        for (size_t i = 0; i < len; i++) {
            real v = g[i];
            for (int r = 0; r < n; r++)
                v += (a ? others[r]->gstd : others[r]->g)[i];
            g[i] = v;
        }
    }
}

void paramtab_plan_bytes(const paramtab *t, size_t acts, size_t scr, size_t out[MEM_NROLES])
{
    out[MEM_PARAMS] = t->nval * sizeof(real);
    out[MEM_GRADS] = t->nval * sizeof(real);
    out[MEM_ACTS] = acts * sizeof(real);
    out[MEM_SCRATCH] = (scr + 2 * t->nstd) * sizeof(real);
}

real *paramtab_take(paramtab_carver *c, size_t n)
{
    real *p = c->base ? c->base + c->used : NULL;
    c->used += padded(n);
    return p;
}
