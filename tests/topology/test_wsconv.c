/* test_wsconv.c - weight standardization against a naive double computation,
 * its backward against an explicit Jacobian (all builds) and finite
 * differences (double build), accumulation into pre-filled gradients, and
 * WSConv end to end: standardize + conv2d equals a naive convolution with
 * hand-standardized weights, with finite-difference gradients through both. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/rng.h"
#include "sim/tensor.h"
#include "tests/harness.h"
#include "topology/conv2d.h"
#include "topology/wsconv.h"

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    return p;
}

/* Naive standardization of one row in double: what, mean, rstd. */
static void ref_row(double *what /* (fan) */, double *mean, double *rstd,
                    const real *w /* (fan) */, double gain, int fan)
{
    double m = 0, v = 0;
    for (int i = 0; i < fan; i++)
        m += (double)w[i];
    m /= fan;
    for (int i = 0; i < fan; i++)
        v += ((double)w[i] - m) * ((double)w[i] - m);
    v /= fan;
    double r = 1.0 / sqrt(v + 1e-6);
    for (int i = 0; i < fan; i++)
        what[i] = gain * ((double)w[i] - m) * r / sqrt((double)fan);
    *mean = m;
    *rstd = r;
}

/* Random weights: row o gets scale `sd` and an offset, so centring matters. */
static void fill_weights(sim_ctx *ctx, real *w /* (Co, fan) */, real *gain /* (Co) */, int Co,
                         int fan, double sd)
{
    for (int o = 0; o < Co; o++) {
        double off = rng_normal(ctx, RNG_AUX, 3 * sd);
        for (int i = 0; i < fan; i++)
            w[(size_t)o * fan + i] = (real)(off + rng_normal(ctx, RNG_AUX, sd));
        gain[o] = (real)(0.5 + 1.5 * rng_uniform(ctx, RNG_AUX));
    }
}

static void test_standardize_reference(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 21);
    static const int shapes[][2] = {{5, 27}, {16, 1}, {1, 9}, {64, 144}, {10, 4}};
    for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++) {
        const int Co = shapes[t][0], fan = shapes[t][1];
        const size_t n = (size_t)Co * fan;
        real *w = xcalloc(n, sizeof(real)), *what = xcalloc(n, sizeof(real));
        real *gain = xcalloc((size_t)Co, sizeof(real));
        real *stats = xcalloc(2 * (size_t)Co, sizeof(real));
        double *ref = xcalloc(n, sizeof(double)), *rstats = xcalloc(2 * (size_t)Co, sizeof(double));
        fill_weights(&ctx, w, gain, Co, fan, t % 2 ? 1.0 : 0.02);
        if (Co > 1) /* a constant row: variance 0, eps keeps it finite */
            for (int i = 0; i < fan; i++)
                w[(size_t)fan + i] = (real)0.25;
        for (int o = 0; o < Co; o++)
            ref_row(ref + (size_t)o * fan, &rstats[o], &rstats[Co + o], w + (size_t)o * fan,
                    (double)gain[o], fan);
        wsconv_standardize(what, stats, w, gain, Co, fan);
        char what_s[64];
        snprintf(what_s, sizeof what_s, "what (Co=%d fan=%d)", Co, fan);
        CU_ASSERT(harness_close_d(what_s, what, ref, n, TOL(1e-12, 1e-5), TOL(1e-14, 1e-6)));
        snprintf(what_s, sizeof what_s, "stats (Co=%d fan=%d)", Co, fan);
        CU_ASSERT(harness_close_d(what_s, stats, rstats, 2 * (size_t)Co, TOL(1e-12, 1e-6),
                                  TOL(1e-15, 1e-7)));
        /* each standardized row has mean 0 and sum of squares
         * gain^2 * var / (var + eps) = gain^2 * (1 - eps * rstd^2) */
        for (int o = 0; o < Co && fan > 1; o++) {
            if (o == 1)
                continue; /* the constant row */
            double s = 0, ss = 0;
            for (int i = 0; i < fan; i++) {
                s += (double)what[(size_t)o * fan + i];
                ss += (double)what[(size_t)o * fan + i] * (double)what[(size_t)o * fan + i];
            }
            CU_ASSERT(fabs(s) < TOL(1e-10, 1e-4));
            double want = 1 - 1e-6 * rstats[Co + o] * rstats[Co + o];
            CU_ASSERT(fabs(ss / ((double)gain[o] * gain[o]) - want) < TOL(1e-10, 1e-4));
        }
        free(w);
        free(what);
        free(gain);
        free(stats);
        free(ref);
        free(rstats);
    }
    ctx_free(&ctx);
}

/* Gradients of L = sum(R .* what) from the explicit Jacobian
 *   d what_j / d w_i = s * rstd * (delta_ij - 1/fan - xhat_i xhat_j / fan),
 *   d what_j / d gain = xhat_j / sqrt(fan),   s = gain / sqrt(fan),
 * O(fan^2) per row, in double; += into dw and dgain. */
static void ref_grad(double *dw /* (Co, fan) */, double *dgain /* (Co) */,
                     const real *R /* (Co, fan) */, const real *w /* (Co, fan) */,
                     const real *gain /* (Co) */, int Co, int fan)
{
    double *xhat = xcalloc((size_t)fan, sizeof(double));
    for (int o = 0; o < Co; o++) {
        double m, r;
        ref_row(xhat, &m, &r, w + (size_t)o * fan, 1.0, fan); /* gain 1 */
        for (int i = 0; i < fan; i++)
            xhat[i] *= sqrt((double)fan);
        const double sc = (double)gain[o] / sqrt((double)fan);
        const real *Ro = R + (size_t)o * fan;
        for (int j = 0; j < fan; j++)
            dgain[o] += (double)Ro[j] * xhat[j] / sqrt((double)fan);
        for (int i = 0; i < fan; i++) {
            double acc = 0;
            for (int j = 0; j < fan; j++)
                acc += (double)Ro[j] * sc * r *
                       ((i == j ? 1.0 : 0.0) - 1.0 / fan - xhat[i] * xhat[j] / fan);
            dw[(size_t)o * fan + i] += acc;
        }
    }
    free(xhat);
}

static void test_backward_jacobian_accumulates(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 22);
    static const int shapes[][2] = {{5, 27}, {3, 1}, {8, 144}, {4, 2}};
    for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++) {
        const int Co = shapes[t][0], fan = shapes[t][1];
        const size_t n = (size_t)Co * fan;
        real *w = xcalloc(n, sizeof(real)), *what = xcalloc(n, sizeof(real));
        real *R = xcalloc(n, sizeof(real)), *dw = xcalloc(n, sizeof(real));
        real *gain = xcalloc((size_t)Co, sizeof(real)), *dgain = xcalloc((size_t)Co, sizeof(real));
        real *stats = xcalloc(2 * (size_t)Co, sizeof(real));
        double *dw_ref = xcalloc(n, sizeof(double)), *dg_ref = xcalloc((size_t)Co, sizeof(double));
        fill_weights(&ctx, w, gain, Co, fan, t % 2 ? 0.02 : 1.0);
        rng_fill_uniform(&ctx, RNG_AUX, R, n, -1, 1);
        /* pre-filled gradients */
        rng_fill_uniform(&ctx, RNG_AUX, dw, n, -1, 1);
        rng_fill_uniform(&ctx, RNG_AUX, dgain, (size_t)Co, -1, 1);
        for (size_t i = 0; i < n; i++)
            dw_ref[i] = (double)dw[i];
        for (int o = 0; o < Co; o++)
            dg_ref[o] = (double)dgain[o];
        ref_grad(dw_ref, dg_ref, R, w, gain, Co, fan);
        wsconv_standardize(what, stats, w, gain, Co, fan);
        wsconv_standardize_backward(dw, dgain, R, w, gain, stats, Co, fan);
        /* d what / d w scales with rstd (up to 1/sd) */
        const double scale = t % 2 ? 50.0 : 1.0;
        char s[64];
        snprintf(s, sizeof s, "dw (Co=%d fan=%d)", Co, fan);
        CU_ASSERT(harness_close_d(s, dw, dw_ref, n, TOL(1e-10, 1e-4), TOL(1e-12, 1e-5) * scale));
        snprintf(s, sizeof s, "dgain (Co=%d fan=%d)", Co, fan);
        CU_ASSERT(harness_close_d(s, dgain, dg_ref, (size_t)Co, TOL(1e-10, 1e-5),
                                  TOL(1e-12, 1e-5)));
        free(w);
        free(what);
        free(R);
        free(dw);
        free(gain);
        free(dgain);
        free(stats);
        free(dw_ref);
        free(dg_ref);
    }
    ctx_free(&ctx);
}

/* Naive convolution in NCHW double (seven loops), groups 1. */
static void ref_conv(double *out /* (N, Co, Ho, Wo) */, const real *in /* (N, Ci, H, W) */,
                     const double *w /* (Co, Ci, k, k) */, const real *bias /* (Co) */,
                     const conv2d_shape *s)
{
    const int k = s->k;
    for (int n = 0; n < s->N; n++)
        for (int co = 0; co < s->Co; co++)
            for (int oy = 0; oy < s->Ho; oy++)
                for (int ox = 0; ox < s->Wo; ox++) {
                    double acc = (double)bias[co];
                    for (int ci = 0; ci < s->Ci; ci++)
                        for (int ki = 0; ki < k; ki++)
                            for (int kj = 0; kj < k; kj++) {
                                int iy = oy * s->stride - s->pad + ki;
                                int ix = ox * s->stride - s->pad + kj;
                                if (iy >= 0 && iy < s->H && ix >= 0 && ix < s->W)
                                    acc += w[((co * s->Ci + ci) * k + ki) * k + kj] *
                                           (double)in[((n * s->Ci + ci) * s->H + iy) * s->W + ix];
                            }
                    out[((n * s->Co + co) * s->Ho + oy) * s->Wo + ox] = acc;
                }
}

/* A WSConv layer: raw weights, gains, bias, input and loss weights. */
typedef struct {
    sim_ctx *ctx;
    conv2d_shape s;
    int fan;
    size_t nin, nout, nw;
    real *in_nchw, *in; /* (N, Ci, H, W), (Ci, N, H, W) */
    real *w, *what;     /* (Co, Ci, k, k) */
    real *gain, *bias;  /* (Co) */
    real *stats;        /* (2, Co) */
    real *out, *r;      /* (Co, N, Ho, Wo) */
    real *scratch;
} ws_layer;

static void layer_init(ws_layer *L, sim_ctx *ctx, int N, int Ci, int H, int W, int Co, int k,
                       int stride, int pad)
{
    memset(L, 0, sizeof *L);
    L->ctx = ctx;
    CU_ASSERT_EQUAL_FATAL(conv2d_shape_init(ctx, &L->s, N, Ci, H, W, Co, k, stride, pad, 1),
                          SIM_OK);
    L->fan = Ci * k * k;
    L->nin = (size_t)N * Ci * H * W;
    L->nout = (size_t)N * Co * L->s.Ho * L->s.Wo;
    L->nw = (size_t)Co * L->fan;
    L->in_nchw = xcalloc(L->nin, sizeof(real));
    L->in = xcalloc(L->nin, sizeof(real));
    L->w = xcalloc(L->nw, sizeof(real));
    L->what = xcalloc(L->nw, sizeof(real));
    L->gain = xcalloc((size_t)Co, sizeof(real));
    L->bias = xcalloc((size_t)Co, sizeof(real));
    L->stats = xcalloc(2 * (size_t)Co, sizeof(real));
    L->out = xcalloc(L->nout, sizeof(real));
    L->r = xcalloc(L->nout, sizeof(real));
    size_t ns = conv2d_scratch_elems(&L->s);
    L->scratch = ns ? xcalloc(ns, sizeof(real)) : NULL;
    rng_fill_uniform(ctx, RNG_AUX, L->in_nchw, L->nin, -1, 1);
    tensor_nchw_to_cnhw(L->in, L->in_nchw, N, Ci, H * W);
    fill_weights(ctx, L->w, L->gain, Co, L->fan, 0.02);
    rng_fill_uniform(ctx, RNG_AUX, L->bias, (size_t)Co, -0.5, 0.5);
    rng_fill_uniform(ctx, RNG_AUX, L->r, L->nout, -1, 1);
}

static void layer_free(ws_layer *L)
{
    free(L->in_nchw);
    free(L->in);
    free(L->w);
    free(L->what);
    free(L->gain);
    free(L->bias);
    free(L->stats);
    free(L->out);
    free(L->r);
    free(L->scratch);
}

static void layer_forward(ws_layer *L)
{
    wsconv_standardize(L->what, L->stats, L->w, L->gain, L->s.Co, L->fan);
    conv2d_forward(L->ctx, L->out, L->in, L->what, L->bias, L->scratch, &L->s);
}

static void test_wsconv_end_to_end(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 23);
    static const int shapes[][8] = {
        /* N Ci H  W  Co k  s  p */
        {2, 3, 9, 8, 5, 3, 1, 1},  /* stem-like */
        {3, 4, 8, 7, 6, 3, 2, 1},  /* stride 2 */
        {2, 6, 5, 5, 24, 1, 1, 0}, /* PW1 (1x1, C -> 4C) */
        {4, 8, 1, 1, 3, 1, 1, 0},  /* head on pooled features */
    };
    for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++) {
        const int *p = shapes[t];
        ws_layer L;
        layer_init(&L, &ctx, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]);
        const conv2d_shape *s = &L.s;
        layer_forward(&L);
        /* reference: standardize by hand, convolve naively */
        double *wref = xcalloc(L.nw, sizeof(double)), *ref = xcalloc(L.nout, sizeof(double));
        for (int o = 0; o < s->Co; o++) {
            double m, r;
            ref_row(wref + (size_t)o * L.fan, &m, &r, L.w + (size_t)o * L.fan,
                    (double)L.gain[o], L.fan);
        }
        ref_conv(ref, L.in_nchw, wref, L.bias, s);
        real *got = xcalloc(L.nout, sizeof(real));
        tensor_cnhw_to_nchw(got, L.out, s->N, s->Co, s->Ho * s->Wo);
        char what[64];
        snprintf(what, sizeof what, "WSConv out (shape %zu)", t);
        CU_ASSERT(harness_close_d(what, got, ref, L.nout, TOL(1e-12, 1e-5),
                                  TOL(1e-13, 1e-5) * L.fan));
        free(wref);
        free(ref);
        free(got);
        layer_free(&L);
    }
    ctx_free(&ctx);
}

#if REAL_IS_DOUBLE
/* L = sum(R .* what). */
static double loss_what(void *ud)
{
    ws_layer *L = ud;
    wsconv_standardize(L->what, L->stats, L->w, L->gain, L->s.Co, L->fan);
    double acc = 0;
    for (size_t i = 0; i < L->nw; i++)
        acc += (double)L->r[i] * (double)L->what[i]; /* r has >= nw entries here */
    return acc;
}

static void test_standardize_finite_difference(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 24);
    /* Co=6, fan=4*3*3=36; out has 2*6*6*6 >= 216 loss weights */
    ws_layer L;
    layer_init(&L, &ctx, 2, 4, 6, 6, 6, 3, 1, 1);
    CU_ASSERT_FATAL(L.nout >= L.nw);
    real *dw = xcalloc(L.nw, sizeof(real)), *dgain = xcalloc((size_t)L.s.Co, sizeof(real));
    wsconv_standardize(L.what, L.stats, L.w, L.gain, L.s.Co, L.fan);
    wsconv_standardize_backward(dw, dgain, L.r, L.w, L.gain, L.stats, L.s.Co, L.fan);
    /* weights have sd 0.02: steps well below that keep the curvature error small */
    CU_ASSERT(harness_grad_check("d what / d w", loss_what, &L, L.w, dw, L.nw, 1e-6, 1e-6, NULL,
                                 0));
    CU_ASSERT(harness_grad_check("d what / d gain", loss_what, &L, L.gain, dgain,
                                 (size_t)L.s.Co, 1e-6, 1e-6, NULL, 0));
    free(dw);
    free(dgain);
    layer_free(&L);
    ctx_free(&ctx);
}

/* L = sum(R .* conv(in, standardize(w, gain)) + bias). */
static double loss_layer(void *ud)
{
    ws_layer *L = ud;
    layer_forward(L);
    double acc = 0;
    for (size_t i = 0; i < L->nout; i++)
        acc += (double)L->r[i] * (double)L->out[i];
    return acc;
}

static void test_wsconv_chain_finite_difference(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 25);
    ws_layer L;
    layer_init(&L, &ctx, 2, 3, 7, 6, 4, 3, 2, 1);
    real *dwhat = xcalloc(L.nw, sizeof(real)), *dw = xcalloc(L.nw, sizeof(real));
    real *dgain = xcalloc((size_t)L.s.Co, sizeof(real));
    layer_forward(&L);
    conv2d_backward(&ctx, NULL, dwhat, NULL, L.r, L.in, L.what, L.scratch, &L.s);
    wsconv_standardize_backward(dw, dgain, dwhat, L.w, L.gain, L.stats, L.s.Co, L.fan);
    CU_ASSERT(harness_grad_check("WSConv d L / d w", loss_layer, &L, L.w, dw, L.nw, 1e-6, 1e-6,
                                 NULL, 0));
    CU_ASSERT(harness_grad_check("WSConv d L / d gain", loss_layer, &L, L.gain, dgain,
                                 (size_t)L.s.Co, 1e-6, 1e-6, NULL, 0));
    free(dwhat);
    free(dw);
    free(dgain);
    layer_free(&L);
    ctx_free(&ctx);
}
#endif

int main(void)
{
    static const harness_test tests[] = {
        {"standardize vs naive double", test_standardize_reference},
        {"backward vs explicit Jacobian, accumulating", test_backward_jacobian_accumulates},
        {"WSConv + conv2d vs naive conv of standardized weights", test_wsconv_end_to_end},
#if REAL_IS_DOUBLE
        {"standardize backward vs finite differences", test_standardize_finite_difference},
        {"WSConv chain backward vs finite differences", test_wsconv_chain_finite_difference},
#endif
        {NULL, NULL},
    };
    return harness_run("wsconv", tests);
}
