/* test_optim.c - the optimizers against hand computations in double:
 * AdamW and LAMB updates over three steps (bias-corrected moments, decoupled
 * weight decay on conv weights only, BN running statistics untouched), the
 * learning-rate schedule, global-norm and unit-wise (AGC) clipping, EMA
 * weights and the option parsers.
 *
 * The references are written out here, independently of sim/optim.c, on a
 * tiny model (fmnist preset, channels 2,2,2,2, T 1). Which tensors decay and
 * which are buffers is derived from their names, and the table's flags are
 * checked against that, so a wrong flag cannot hide a wrong update. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/optim.h"
#include "sim/rng.h"
#include "tests/harness.h"

#define RTOL TOL(1e-12, 1e-5)
#define ATOL TOL(1e-14, 1e-6)

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && !strcmp(s + n - k, tail);
}

/* BN running statistics: no gradient, never touched by the optimizer. */
static int name_is_buffer(const char *name)
{
    return ends_with(name, "/running_mean") || ends_with(name, "/running_var");
}

/* Weight decay applies to conv weights only: ".../weight" outside BN. */
static int name_decays(const char *name)
{
    return ends_with(name, "/weight") && !strstr(name, "/bn/");
}

static trev_model *tiny_model(sim_ctx *ctx)
{
    trev_config cfg;
    trev_model *m = NULL;
    CU_ASSERT_EQUAL_FATAL(trev_preset(ctx, &cfg, "fmnist"), SIM_OK);
    for (int l = 0; l < TREV_LEVELS; l++)
        cfg.channels[l] = 2;
    cfg.T = 1;
    CU_ASSERT_EQUAL_FATAL(trev_create(ctx, &m, &cfg, 1), SIM_OK);
    return m;
}

/* Uniform magnitude in [lo, hi] with a random sign. */
static double signed_uniform(sim_ctx *ctx, double lo, double hi)
{
    double v = lo + (hi - lo) * rng_uniform(ctx, RNG_AUX);
    return rng_uniform(ctx, RNG_AUX) < 0.5 ? -v : v;
}

/* Every table entry gets values of magnitude 0.2..1 (buffers positive), so
 * that decay, norms and trust ratios all matter. */
static void fill_params(sim_ctx *ctx, trev_model *m)
{
    real *w = trev_params(m);
    for (int i = 0; i < trev_nparams(m); i++) {
        const trev_param *p = trev_param_at(m, i);
        for (size_t j = 0; j < p->n; j++)
            w[p->offset + j] = (real)(p->buffer ? 0.5 + rng_uniform(ctx, RNG_AUX)
                                                : signed_uniform(ctx, 0.2, 1.0));
    }
}

/* Gradients of magnitude 0.05..1 everywhere, buffers included (the optimizer
 * must ignore those). */
static void fill_grads(sim_ctx *ctx, trev_model *m)
{
    real *g = trev_grads(m);
    for (int i = 0; i < trev_nparams(m); i++) {
        const trev_param *p = trev_param_at(m, i);
        for (size_t j = 0; j < p->n; j++)
            g[p->offset + j] = (real)signed_uniform(ctx, 0.05, 1.0);
    }
}

static double *to_double(const real *x, size_t n)
{
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = (double)x[i];
    return d;
}

/* The schedule written out: linear warmup, then cosine to min_lr. */
static double ref_lr(double lr, double min_lr, double warmup, double total, double step)
{
    if (step < warmup)
        return lr * (step + 1) / warmup;
    double p = (step - warmup) / (total - warmup);
    if (p > 1)
        p = 1;
    return min_lr + (lr - min_lr) * (1 + cos(M_PI * p)) / 2;
}

/* Compare every learnable tensor with the reference (named in messages) and
 * every buffer bitwise with its value before the steps. */
static int check_model(const char *step, trev_model *m, const double *want, const real *buf0)
{
    const real *w = trev_params(m);
    int ok = 1;
    char what[160];
    for (int i = 0; i < trev_nparams(m); i++) {
        const trev_param *p = trev_param_at(m, i);
        snprintf(what, sizeof what, "%s: %s", step, p->name);
        if (p->buffer) {
            if (memcmp(w + p->offset, buf0 + p->offset, p->n * sizeof *w) != 0) {
                fprintf(stderr, "\n  %s: BN buffer changed by the optimizer\n", what);
                ok = 0;
            }
        } else if (!harness_close_d(what, w + p->offset, want + p->offset, p->n, RTOL, ATOL)) {
            ok = 0;
        }
    }
    return ok;
}

/* The table's flags match the names, and the tiny model has every kind of
 * tensor the decay rule distinguishes. */
static void test_table_flags(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    trev_model *m = tiny_model(&ctx);
    int nconv = 0, nbn = 0, ngain = 0, nbias = 0, nalpha = 0, ngamma = 0, nbuf = 0;
    for (int i = 0; i < trev_nparams(m); i++) {
        const trev_param *p = trev_param_at(m, i);
        CU_ASSERT_EQUAL(p->decay, name_decays(p->name));
        CU_ASSERT_EQUAL(p->buffer, name_is_buffer(p->name));
        if (p->decay != name_decays(p->name) || p->buffer != name_is_buffer(p->name))
            fprintf(stderr, "\n  %s: decay %d buffer %d\n", p->name, p->decay, p->buffer);
        CU_ASSERT(!(p->decay && p->buffer));
        nconv += name_decays(p->name);
        nbn += strstr(p->name, "/bn/") && !name_is_buffer(p->name);
        ngain += ends_with(p->name, "/gain");
        nbias += ends_with(p->name, "/bias") && !strstr(p->name, "/bn/");
        nalpha += ends_with(p->name, "/alpha");
        ngamma += ends_with(p->name, "/gamma");
        nbuf += name_is_buffer(p->name);
    }
    CU_ASSERT(nconv > 0 && nbn > 0 && ngain > 0 && nbias > 0 && nalpha > 0 && ngamma > 0 &&
              nbuf > 0);
    trev_destroy(&ctx, m);
    ctx_free(&ctx);
}

/* One reference update of tensor p in double: w, m1, m2 are the reference
 * state (whole flat arrays), g the gradients, t the 1-based step. */
static void ref_update(optim_kind kind, const optim_config *c, double lr, int t,
                       const trev_param *p, double *w, double *m1, double *m2, const real *g)
{
    const double wd = name_decays(p->name) ? c->weight_decay : 0.0;
    const double bc1 = 1 - pow(c->beta1, t), bc2 = 1 - pow(c->beta2, t);
    double *u = malloc(p->n * sizeof *u);
    double wn = 0, un = 0;
    for (size_t j = 0; j < p->n; j++) {
        size_t k = p->offset + j;
        double gk = (double)g[k];
        m1[k] = c->beta1 * m1[k] + (1 - c->beta1) * gk;
        m2[k] = c->beta2 * m2[k] + (1 - c->beta2) * gk * gk;
        double mhat = m1[k] / bc1, vhat = m2[k] / bc2;
        u[j] = mhat / (sqrt(vhat) + c->eps) + wd * w[k];
        wn += w[k] * w[k];
        un += u[j] * u[j];
    }
    double scale = lr;
    if (kind == OPTIM_LAMB)
        scale *= (wn > 0 && un > 0) ? sqrt(wn) / sqrt(un) : 1.0;
    for (size_t j = 0; j < p->n; j++)
        w[p->offset + j] -= scale * u[j];
    free(u);
}

/* Three steps of `kind` with fresh gradients each step, a schedule with a
 * cosine part (lr changes every step) and values where eps placement, bias
 * correction and decay are all visible. */
static void run_three_steps(optim_kind kind)
{
    sim_ctx ctx;
    harness_ctx(&ctx, kind == OPTIM_LAMB ? 22 : 21);
    trev_model *m = tiny_model(&ctx);
    fill_params(&ctx, m);
    const size_t n = trev_nvalues(m);
    if (kind == OPTIM_LAMB) { /* a tensor with |w| = 0: trust ratio 1 */
        const trev_param *p = trev_param_find(m, "stem/conv1/bias");
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        memset(trev_params(m) + p->offset, 0, p->n * sizeof(real));
    }
    optim_config c;
    optim_defaults(&c);
    c.kind = kind;
    c.lr = 0.05;
    c.min_lr = 0.001;
    c.beta1 = 0.8;
    c.beta2 = 0.95;
    c.eps = 1e-3;
    c.weight_decay = 0.3;
    c.warmup_steps = 0;
    c.total_steps = 3;
    optim o;
    CU_ASSERT_EQUAL_FATAL(optim_init(&ctx, &o, m, &c), SIM_OK);
    CU_ASSERT(mem_current(&ctx, MEM_OPTIM) >= 2 * n * sizeof(real));
    real *buf0 = malloc(n * sizeof *buf0);
    memcpy(buf0, trev_params(m), n * sizeof *buf0);
    double *w = to_double(trev_params(m), n);
    double *m1 = calloc(n, sizeof *m1), *m2 = calloc(n, sizeof *m2);
    for (int t = 1; t <= 3; t++) {
        fill_grads(&ctx, m);
        const double lr = ref_lr(c.lr, c.min_lr, 0, 3, t - 1);
        for (int i = 0; i < trev_nparams(m); i++) {
            const trev_param *p = trev_param_at(m, i);
            if (!name_is_buffer(p->name))
                ref_update(kind, &c, lr, t, p, w, m1, m2, trev_grads(m));
        }
        double got_lr = optim_step(&o);
        CU_ASSERT_DOUBLE_EQUAL(got_lr, lr, 1e-15);
        CU_ASSERT_EQUAL(o.step, t);
        char what[32];
        snprintf(what, sizeof what, "%s step %d", kind == OPTIM_LAMB ? "LAMB" : "AdamW", t);
        CU_ASSERT(check_model(what, m, w, buf0));
    }
    optim_free(&ctx, &o);
    CU_ASSERT_EQUAL(mem_current(&ctx, MEM_OPTIM), 0);
    free(buf0);
    free(w);
    free(m1);
    free(m2);
    trev_destroy(&ctx, m);
    ctx_free(&ctx);
}

static void test_adamw_three_steps(void)
{
    run_three_steps(OPTIM_ADAMW);
}

static void test_lamb_three_steps(void)
{
    run_three_steps(OPTIM_LAMB);
}

/* With zero gradients the update is decay alone: conv weights shrink by
 * (1 - lr*wd) under AdamW and by (1 - lr) under LAMB (trust ratio
 * |w| / |wd*w| = 1/wd); every other tensor keeps its exact bits. */
static void test_decay_only_conv_weights(void)
{
    for (int kind = OPTIM_ADAMW; kind <= OPTIM_LAMB; kind++) {
        sim_ctx ctx;
        harness_ctx(&ctx, 5);
        trev_model *m = tiny_model(&ctx);
        fill_params(&ctx, m);
        trev_zero_grads(m);
        const size_t n = trev_nvalues(m);
        real *w0 = malloc(n * sizeof *w0);
        memcpy(w0, trev_params(m), n * sizeof *w0);
        optim_config c;
        optim_defaults(&c);
        c.kind = (optim_kind)kind;
        c.lr = 0.1;
        c.weight_decay = 0.5;
        c.warmup_steps = 0;
        c.total_steps = 10;
        optim o;
        CU_ASSERT_EQUAL_FATAL(optim_init(&ctx, &o, m, &c), SIM_OK);
        optim_step(&o);
        const double shrink = kind == OPTIM_ADAMW ? 1 - 0.1 * 0.5 : 1 - 0.1;
        const real *w = trev_params(m);
        int ndecayed = 0;
        for (int i = 0; i < trev_nparams(m); i++) {
            const trev_param *p = trev_param_at(m, i);
            char what[120];
            snprintf(what, sizeof what, "%s, zero gradients: %s",
                     kind == OPTIM_ADAMW ? "AdamW" : "LAMB", p->name);
            if (name_decays(p->name)) {
                double *want = to_double(w0 + p->offset, p->n);
                for (size_t j = 0; j < p->n; j++)
                    want[j] *= shrink;
                CU_ASSERT(harness_close_d(what, w + p->offset, want, p->n, RTOL, ATOL));
                free(want);
                ndecayed++;
            } else if (memcmp(w + p->offset, w0 + p->offset, p->n * sizeof *w) != 0) {
                fprintf(stderr, "\n  %s changed (no decay, no gradient)\n", what);
                CU_FAIL("tensor without decay changed");
            }
        }
        CU_ASSERT(ndecayed > 0);
        optim_free(&ctx, &o);
        free(w0);
        trev_destroy(&ctx, m);
        ctx_free(&ctx);
    }
}

static void test_lr_schedule(void)
{
    optim_config c;
    optim_defaults(&c);
    c.lr = 1e-2;
    c.min_lr = 1e-4;
    c.warmup_steps = 4;
    c.total_steps = 20;
    const double tol = 1e-12;
    /* warmup: lr * (step + 1) / warmup */
    CU_ASSERT_DOUBLE_EQUAL(optim_lr(&c, 0), 0.0025, tol);
    CU_ASSERT_DOUBLE_EQUAL(optim_lr(&c, 1), 0.005, tol);
    CU_ASSERT_DOUBLE_EQUAL(optim_lr(&c, 2), 0.0075, tol);
    CU_ASSERT_DOUBLE_EQUAL(optim_lr(&c, 3), 0.01, tol);
    /* cosine over steps 4..20: p = (step - 4) / 16 */
    CU_ASSERT_DOUBLE_EQUAL(optim_lr(&c, 4), 0.01, tol);
    CU_ASSERT_DOUBLE_EQUAL(optim_lr(&c, 8), 1e-4 + 0.5 * 0.0099 * (1 + sqrt(0.5)), tol);
    CU_ASSERT_DOUBLE_EQUAL(optim_lr(&c, 12), 1e-4 + 0.5 * 0.0099, tol);
    CU_ASSERT_DOUBLE_EQUAL(optim_lr(&c, 16), 1e-4 + 0.5 * 0.0099 * (1 - sqrt(0.5)), tol);
    CU_ASSERT_DOUBLE_EQUAL(optim_lr(&c, 20), 1e-4, tol);
    CU_ASSERT_DOUBLE_EQUAL(optim_lr(&c, 21), 1e-4, tol);
    CU_ASSERT_DOUBLE_EQUAL(optim_lr(&c, 1000), 1e-4, tol);
    /* never above the peak, non-increasing after warmup, never below min */
    double prev = optim_lr(&c, 4);
    for (int s = 0; s < 40; s++) {
        double v = optim_lr(&c, s);
        CU_ASSERT(v <= c.lr * (1 + 1e-15));
        CU_ASSERT(v >= c.min_lr * (1 - 1e-15));
        if (s > 4) {
            CU_ASSERT(v <= prev);
            prev = v;
        }
        CU_ASSERT_DOUBLE_EQUAL(v, ref_lr(c.lr, c.min_lr, 4, 20, s), tol);
    }
    /* no warmup: cosine from the first step */
    c.lr = 1;
    c.min_lr = 0;
    c.warmup_steps = 0;
    c.total_steps = 10;
    CU_ASSERT_DOUBLE_EQUAL(optim_lr(&c, 0), 1.0, tol);
    CU_ASSERT_DOUBLE_EQUAL(optim_lr(&c, 2.5), 0.5 * (1 + sqrt(0.5)), tol);
    CU_ASSERT_DOUBLE_EQUAL(optim_lr(&c, 5), 0.5, tol);
    CU_ASSERT_DOUBLE_EQUAL(optim_lr(&c, 10), 0.0, tol);
    CU_ASSERT_DOUBLE_EQUAL(optim_lr(&c, 15), 0.0, tol);
}

/* Global L2 norm of the learnable gradients, in double. */
static double ref_grad_norm(trev_model *m)
{
    const real *g = trev_grads(m);
    double s = 0;
    for (int i = 0; i < trev_nparams(m); i++) {
        const trev_param *p = trev_param_at(m, i);
        if (!name_is_buffer(p->name))
            for (size_t j = 0; j < p->n; j++)
                s += (double)g[p->offset + j] * g[p->offset + j];
    }
    return sqrt(s);
}

/* Gradients for the clipping tests: random, buffers zero (they have none). */
static void fill_clip_grads(sim_ctx *ctx, trev_model *m)
{
    trev_zero_grads(m);
    fill_grads(ctx, m);
    real *g = trev_grads(m);
    for (int i = 0; i < trev_nparams(m); i++) {
        const trev_param *p = trev_param_at(m, i);
        if (p->buffer)
            memset(g + p->offset, 0, p->n * sizeof *g);
    }
}

static void test_clip_norm(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 7);
    trev_model *m = tiny_model(&ctx);
    const size_t n = trev_nvalues(m);
    optim_config c;
    optim_defaults(&c);
    optim o;
    CU_ASSERT_EQUAL_FATAL(optim_init(&ctx, &o, m, &c), SIM_OK);
    fill_clip_grads(&ctx, m);
    const double norm = ref_grad_norm(m);
    double *g0 = to_double(trev_grads(m), n);
    real *g0r = malloc(n * sizeof *g0r);
    memcpy(g0r, trev_grads(m), n * sizeof *g0r);
    CU_ASSERT_DOUBLE_EQUAL(optim_grad_norm(m, NULL), norm, norm * RTOL);

    /* no clipping: untouched, norm reported */
    o.cfg.clip = CLIP_NONE;
    CU_ASSERT_DOUBLE_EQUAL(optim_clip(&o), norm, norm * RTOL);
    CU_ASSERT_EQUAL(memcmp(trev_grads(m), g0r, n * sizeof *g0r), 0);
    /* a limit above the norm: untouched */
    o.cfg.clip = CLIP_NORM;
    o.cfg.clip_value = 2 * norm;
    CU_ASSERT_DOUBLE_EQUAL(optim_clip(&o), norm, norm * RTOL);
    CU_ASSERT_EQUAL(memcmp(trev_grads(m), g0r, n * sizeof *g0r), 0);
    /* a limit below: every gradient scaled by limit / norm, returns the norm
     * before clipping, the new norm is the limit */
    const double limit = 0.3 * norm;
    o.cfg.clip_value = limit;
    CU_ASSERT_DOUBLE_EQUAL(optim_clip(&o), norm, norm * RTOL);
    double *want = malloc(n * sizeof *want);
    for (size_t i = 0; i < n; i++)
        want[i] = g0[i] * (limit / norm);
    CU_ASSERT(harness_close_d("clip norm:0.3|g|", trev_grads(m), want, n, RTOL, ATOL));
    CU_ASSERT_DOUBLE_EQUAL(ref_grad_norm(m), limit, limit * RTOL);
    CU_ASSERT_DOUBLE_EQUAL(optim_grad_norm(m, NULL), limit, limit * RTOL);
    /* BN running statistics have no gradient: whatever their slots hold
     * does not count */
    real *g = trev_grads(m);
    for (int i = 0; i < trev_nparams(m); i++) {
        const trev_param *p = trev_param_at(m, i);
        if (p->buffer)
            for (size_t j = 0; j < p->n; j++)
                g[p->offset + j] = 1;
    }
    CU_ASSERT_DOUBLE_EQUAL(optim_grad_norm(m, NULL), limit, limit * RTOL);
    /* a non-finite gradient is reported */
    int finite = 1;
    optim_grad_norm(m, &finite);
    CU_ASSERT_EQUAL(finite, 1);
    trev_grads(m)[trev_param_at(m, 0)->offset] = (real)NAN;
    optim_grad_norm(m, &finite);
    CU_ASSERT_EQUAL(finite, 0);
    free(want);
    free(g0);
    free(g0r);
    optim_free(&ctx, &o);
    trev_destroy(&ctx, m);
    ctx_free(&ctx);
}

/* AGC: each output unit (a row of a weight: its first dimension; a whole
 * vector tensor) is scaled so |g_u| <= lambda * max(|w_u|, 1e-3). The
 * gradients are built so that every other unit is over the limit (3x) and
 * the rest under it (0.5x), plus a zero-weight tensor where the 1e-3 floor
 * decides. */
static void test_clip_agc(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 8);
    trev_model *m = tiny_model(&ctx);
    fill_params(&ctx, m);
    const trev_param *zp = trev_param_find(m, "stem/conv2/bias");
    CU_ASSERT_PTR_NOT_NULL_FATAL(zp);
    memset(trev_params(m) + zp->offset, 0, zp->n * sizeof(real));
    fill_clip_grads(&ctx, m);
    const double lambda = 0.02;
    const size_t n = trev_nvalues(m);
    const real *w = trev_params(m);
    real *g = trev_grads(m);
    double *want = calloc(n, sizeof *want);
    unsigned char *keep = calloc(n, 1); /* compliant units: bits must not change */
    int nclipped = 0, ncompliant = 0, floor_seen = 0;
    for (int i = 0; i < trev_nparams(m); i++) {
        const trev_param *p = trev_param_at(m, i);
        if (name_is_buffer(p->name))
            continue;
        size_t units = p->ndim > 1 ? (size_t)p->shape[0] : 1, len = p->n / units;
        for (size_t u = 0; u < units; u++) {
            real *gu = g + p->offset + u * len;
            const real *wu = w + p->offset + u * len;
            double wn = 0, gn = 0;
            for (size_t j = 0; j < len; j++)
                wn += (double)wu[j] * wu[j];
            wn = fmax(sqrt(wn), 1e-3);
            double factor = (p == zp || (i + u) % 2) ? 3.0 : 0.5;
            for (size_t j = 0; j < len; j++)
                gn += (double)gu[j] * gu[j];
            double s = factor * lambda * wn / sqrt(gn);
            gn = 0;
            for (size_t j = 0; j < len; j++) {
                gu[j] = (real)(gu[j] * s);
                gn += (double)gu[j] * gu[j];
            }
            gn = sqrt(gn);
            double clip = gn > lambda * wn ? lambda * wn / gn : 1.0;
            for (size_t j = 0; j < len; j++) {
                want[p->offset + u * len + j] = (double)gu[j] * clip;
                keep[p->offset + u * len + j] = clip == 1.0;
            }
            nclipped += clip < 1;
            ncompliant += clip == 1;
            floor_seen |= p == zp && clip < 1;
        }
    }
    CU_ASSERT(nclipped > 0 && ncompliant > 0 && floor_seen);
    const double norm = ref_grad_norm(m);
    real *g0 = malloc(n * sizeof *g0);
    memcpy(g0, g, n * sizeof *g0);

    optim_config c;
    optim_defaults(&c);
    c.clip = CLIP_AGC;
    c.clip_value = lambda;
    optim o;
    CU_ASSERT_EQUAL_FATAL(optim_init(&ctx, &o, m, &c), SIM_OK);
    CU_ASSERT_DOUBLE_EQUAL(optim_clip(&o), norm, norm * RTOL);
    for (int i = 0; i < trev_nparams(m); i++) {
        const trev_param *p = trev_param_at(m, i);
        char what[120];
        snprintf(what, sizeof what, "AGC: %s", p->name);
        CU_ASSERT(harness_close_d(what, g + p->offset, want + p->offset, p->n, RTOL, ATOL));
    }
    size_t changed = 0;
    for (size_t k = 0; k < n; k++)
        changed += keep[k] && memcmp(&g[k], &g0[k], sizeof *g) != 0;
    CU_ASSERT_EQUAL(changed, 0);
    optim_free(&ctx, &o);
    free(g0);
    free(want);
    free(keep);
    trev_destroy(&ctx, m);
    ctx_free(&ctx);
}

/* EMA: ema = d*ema + (1-d)*w after every step, starting from the initial
 * weights; swapping twice restores the live weights exactly. */
static void test_ema(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 9);
    trev_model *m = tiny_model(&ctx);
    fill_params(&ctx, m);
    const size_t n = trev_nvalues(m);
    optim_config c;
    optim_defaults(&c);
    c.lr = 0.05;
    c.total_steps = 10;
    c.ema_decay = 0.75;
    optim o;
    CU_ASSERT_EQUAL_FATAL(optim_init(&ctx, &o, m, &c), SIM_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o.ema);
    CU_ASSERT(mem_current(&ctx, MEM_OPTIM) >= 3 * n * sizeof(real));
    double *ema = to_double(trev_params(m), n);
    CU_ASSERT(harness_close_d("EMA at init", o.ema, ema, n, 0, 0));
    for (int t = 1; t <= 3; t++) {
        fill_grads(&ctx, m);
        optim_step(&o);
        const real *w = trev_params(m);
        for (size_t i = 0; i < n; i++)
            ema[i] = 0.75 * ema[i] + 0.25 * (double)w[i];
        char what[32];
        snprintf(what, sizeof what, "EMA after step %d", t);
        CU_ASSERT(harness_close_d(what, o.ema, ema, n, RTOL, ATOL));
    }
    real *live = malloc(n * sizeof *live), *avg = malloc(n * sizeof *avg);
    memcpy(live, trev_params(m), n * sizeof *live);
    memcpy(avg, o.ema, n * sizeof *avg);
    optim_swap_ema(&o);
    CU_ASSERT_EQUAL(memcmp(trev_params(m), avg, n * sizeof *avg), 0);
    CU_ASSERT_EQUAL(memcmp(o.ema, live, n * sizeof *live), 0);
    optim_swap_ema(&o);
    CU_ASSERT_EQUAL(memcmp(trev_params(m), live, n * sizeof *live), 0);
    CU_ASSERT_EQUAL(memcmp(o.ema, avg, n * sizeof *avg), 0);
    optim_free(&ctx, &o);
    /* without EMA there is no copy and swapping does nothing */
    c.ema_decay = 0;
    CU_ASSERT_EQUAL_FATAL(optim_init(&ctx, &o, m, &c), SIM_OK);
    CU_ASSERT_PTR_NULL(o.ema);
    optim_swap_ema(&o);
    CU_ASSERT_EQUAL(memcmp(trev_params(m), live, n * sizeof *live), 0);
    optim_free(&ctx, &o);
    free(live);
    free(avg);
    free(ema);
    trev_destroy(&ctx, m);
    ctx_free(&ctx);
}

static void test_parse(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    optim_kind k = OPTIM_LAMB;
    CU_ASSERT_EQUAL(optim_parse_kind(&ctx, "adamw", &k), SIM_OK);
    CU_ASSERT_EQUAL(k, OPTIM_ADAMW);
    CU_ASSERT_EQUAL(optim_parse_kind(&ctx, "lamb", &k), SIM_OK);
    CU_ASSERT_EQUAL(k, OPTIM_LAMB);
    static const char *const bad_kind[] = {"foo", "", "adam", "lamb2"};
    for (size_t i = 0; i < sizeof bad_kind / sizeof *bad_kind; i++) {
        CU_ASSERT_EQUAL(optim_parse_kind(&ctx, bad_kind[i], &k), SIM_EINVAL);
        CU_ASSERT(strstr(ctx_errmsg(&ctx), "--optim") != NULL);
        CU_ASSERT(strstr(ctx_errmsg(&ctx), bad_kind[i]) != NULL);
    }

    clip_kind ck = CLIP_AGC;
    double v = -1;
    CU_ASSERT_EQUAL(optim_parse_clip(&ctx, "none", &ck, &v), SIM_OK);
    CU_ASSERT_EQUAL(ck, CLIP_NONE);
    CU_ASSERT_EQUAL(optim_parse_clip(&ctx, "norm:1.5", &ck, &v), SIM_OK);
    CU_ASSERT_EQUAL(ck, CLIP_NORM);
    CU_ASSERT_DOUBLE_EQUAL(v, 1.5, 0);
    CU_ASSERT_EQUAL(optim_parse_clip(&ctx, "agc:0.01", &ck, &v), SIM_OK);
    CU_ASSERT_EQUAL(ck, CLIP_AGC);
    CU_ASSERT_DOUBLE_EQUAL(v, 0.01, 0);
    CU_ASSERT_EQUAL(optim_parse_clip(&ctx, "norm:2e-1", &ck, &v), SIM_OK);
    CU_ASSERT_EQUAL(ck, CLIP_NORM);
    CU_ASSERT_DOUBLE_EQUAL(v, 0.2, 0);
    static const char *const bad_clip[] = {"norm:", "agc:-1", "foo", "agc:", "norm:0",
                                           "norm:1x", "agc:nan", "norm:inf", "norm",
                                           "agc=0.1", "", "none:1"};
    for (size_t i = 0; i < sizeof bad_clip / sizeof *bad_clip; i++) {
        sim_status st = optim_parse_clip(&ctx, bad_clip[i], &ck, &v);
        CU_ASSERT_EQUAL(st, SIM_EINVAL);
        CU_ASSERT(strstr(ctx_errmsg(&ctx), "--clip") != NULL);
        CU_ASSERT(strstr(ctx_errmsg(&ctx), bad_clip[i]) != NULL);
        if (st != SIM_EINVAL)
            fprintf(stderr, "\n  --clip '%s' accepted (kind %d, value %g)\n", bad_clip[i],
                    (int)ck, v);
    }
    ctx_free(&ctx);
}

int main(void)
{
    static const harness_test all[] = {
        {"parameter table: decay and buffer flags", test_table_flags},
        {"AdamW: three steps against the textbook update", test_adamw_three_steps},
        {"LAMB: three steps with per-tensor trust ratios", test_lamb_three_steps},
        {"weight decay on conv weights only", test_decay_only_conv_weights},
        {"learning-rate schedule: warmup and cosine", test_lr_schedule},
        {"clipping: global norm", test_clip_norm},
        {"clipping: AGC per output unit", test_clip_agc},
        {"EMA weights and swap", test_ema},
        {"option parsers", test_parse},
        {NULL, NULL},
    };
    return harness_run("optim", all);
}
