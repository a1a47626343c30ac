/* test_conv2d.c - conv2d forward and backward against a naive seven-loop
 * reference in NCHW double arithmetic on many random shapes (all three
 * strategies), finite-difference gradients in the double build, accumulation
 * into pre-filled gradients, conv2d_backward_set overwriting din, NULL din/dbias, bit-identical results with two
 * threads, and rejection of bad shapes. The sparse path for binary spike
 * inputs: against the reference and the dense path at densities from 0 to
 * all ones and just below and at its threshold, thread invariance (1, 2, 3
 * threads), and non-binary inputs taking the dense path. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/rng.h"
#include "sim/tensor.h"
#include "tests/harness.h"
#include "neurons/spike.h"
#include "topology/conv2d.h"

typedef struct {
    int N, Ci, H, W, Co, k, stride, pad, groups, bias;
} spec;

/* One convolution problem with random data. Activations are kept in both
 * layouts: NCHW for the reference, CNHW for conv2d. */
typedef struct {
    sim_ctx *ctx;
    conv2d_shape s;
    int has_bias;
    size_t nin, nout, nw;
    real *in_nchw; /* (N, Ci, H, W) */
    real *in;      /* (Ci, N, H, W) */
    real *w;       /* (Co, Ci/g, k, k) */
    real *bias;    /* (Co) or NULL */
    real *out;     /* (Co, N, Ho, Wo) */
    real *r;       /* (Co, N, Ho, Wo): loss L = sum(r .* out) */
    real *scratch; /* conv2d_scratch_elems, NULL when that is 0 */
} conv_case;

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    return p;
}

static int rnd(sim_ctx *ctx, int n)
{
    return (int)rng_int(ctx, RNG_AUX, (unsigned long)n);
}

static void case_init(conv_case *c, sim_ctx *ctx, spec p)
{
    memset(c, 0, sizeof *c);
    c->ctx = ctx;
    sim_status st = conv2d_shape_init(ctx, &c->s, p.N, p.Ci, p.H, p.W, p.Co, p.k, p.stride,
                                      p.pad, p.groups);
    if (st != SIM_OK)
        fprintf(stderr, "\n  conv2d_shape_init: %s\n", ctx_errmsg(ctx));
    CU_ASSERT_EQUAL_FATAL(st, SIM_OK);
    const conv2d_shape *s = &c->s;
    c->has_bias = p.bias;
    c->nin = (size_t)s->N * s->Ci * s->H * s->W;
    c->nout = (size_t)s->N * s->Co * s->Ho * s->Wo;
    c->nw = (size_t)s->Co * (s->Ci / s->groups) * s->k * s->k;
    c->in_nchw = xcalloc(c->nin, sizeof(real));
    c->in = xcalloc(c->nin, sizeof(real));
    c->w = xcalloc(c->nw, sizeof(real));
    c->out = xcalloc(c->nout, sizeof(real));
    c->r = xcalloc(c->nout, sizeof(real));
    /* normal draws use the whole mantissa (uniform ones are multiples of
     * 2^-32, whose sums are often exact and would hide order effects) */
    rng_fill_normal(ctx, RNG_AUX, c->in_nchw, c->nin, 0.5);
    tensor_nchw_to_cnhw(c->in, c->in_nchw, s->N, s->Ci, s->H * s->W);
    rng_fill_normal(ctx, RNG_AUX, c->w, c->nw, 0.5);
    rng_fill_normal(ctx, RNG_AUX, c->r, c->nout, 0.5);
    if (p.bias) {
        c->bias = xcalloc((size_t)s->Co, sizeof(real));
        rng_fill_normal(ctx, RNG_AUX, c->bias, (size_t)s->Co, 0.5);
    }
    size_t ns = conv2d_scratch_elems(s);
    c->scratch = ns ? xcalloc(ns, sizeof(real)) : NULL; /* exact size: ASan sees overruns */
}

static void case_free(conv_case *c)
{
    free(c->in_nchw);
    free(c->in);
    free(c->w);
    free(c->bias);
    free(c->out);
    free(c->r);
    free(c->scratch);
}

static void spec_str(char *buf, size_t n, const conv2d_shape *s, int bias)
{
    snprintf(buf, n, "N=%d Ci=%d H=%d W=%d Co=%d k=%d stride=%d pad=%d groups=%d bias=%d", s->N,
             s->Ci, s->H, s->W, s->Co, s->k, s->stride, s->pad, s->groups, bias);
}

/* Naive convolution: seven loops over (n, co, oy, ox, ci, ki, kj), NCHW, double. */
static void ref_forward(double *out /* (N, Co, Ho, Wo) */, const real *in /* (N, Ci, H, W) */,
                        const real *w /* (Co, Ci/g, k, k) */, const real *bias /* (Co) or NULL */,
                        const conv2d_shape *s)
{
    const int Cg = s->Ci / s->groups, Cog = s->Co / s->groups, k = s->k;
    for (int n = 0; n < s->N; n++)
        for (int co = 0; co < s->Co; co++)
            for (int oy = 0; oy < s->Ho; oy++)
                for (int ox = 0; ox < s->Wo; ox++) {
                    double acc = bias ? (double)bias[co] : 0.0;
                    for (int ci = 0; ci < Cg; ci++)
                        for (int ki = 0; ki < k; ki++)
                            for (int kj = 0; kj < k; kj++) {
                                int iy = oy * s->stride - s->pad + ki;
                                int ix = ox * s->stride - s->pad + kj;
                                if (iy < 0 || iy >= s->H || ix < 0 || ix >= s->W)
                                    continue;
                                int cin = co / Cog * Cg + ci;
                                acc += (double)w[((co * Cg + ci) * k + ki) * k + kj] *
                                       (double)in[((n * s->Ci + cin) * s->H + iy) * s->W + ix];
                            }
                    out[((n * s->Co + co) * s->Ho + oy) * s->Wo + ox] = acc;
                }
}

/* Naive gradients of L = sum(dout .* out), same loops: += into din, dw, dbias. */
static void ref_backward(double *din /* (N, Ci, H, W) */, double *dw /* (Co, Ci/g, k, k) */,
                         double *dbias /* (Co) */, const real *dout /* (N, Co, Ho, Wo) */,
                         const real *in /* (N, Ci, H, W) */, const real *w /* (Co, Ci/g, k, k) */,
                         const conv2d_shape *s)
{
    const int Cg = s->Ci / s->groups, Cog = s->Co / s->groups, k = s->k;
    for (int n = 0; n < s->N; n++)
        for (int co = 0; co < s->Co; co++)
            for (int oy = 0; oy < s->Ho; oy++)
                for (int ox = 0; ox < s->Wo; ox++) {
                    double g = (double)dout[((n * s->Co + co) * s->Ho + oy) * s->Wo + ox];
                    dbias[co] += g;
                    for (int ci = 0; ci < Cg; ci++)
                        for (int ki = 0; ki < k; ki++)
                            for (int kj = 0; kj < k; kj++) {
                                int iy = oy * s->stride - s->pad + ki;
                                int ix = ox * s->stride - s->pad + kj;
                                if (iy < 0 || iy >= s->H || ix < 0 || ix >= s->W)
                                    continue;
                                int cin = co / Cog * Cg + ci;
                                size_t wi = (size_t)((co * Cg + ci) * k + ki) * k + kj;
                                size_t xi = (size_t)((n * s->Ci + cin) * s->H + iy) * s->W + ix;
                                dw[wi] += g * (double)in[xi];
                                din[xi] += g * (double)w[wi];
                            }
                }
}

static spec random_spec(sim_ctx *ctx)
{
    static const int ks[4] = {1, 3, 5, 7};
    spec p;
    p.k = ks[rnd(ctx, 4)];
    p.stride = 1 + rnd(ctx, 2);
    p.pad = rnd(ctx, p.k / 2 + 1);
    switch (rnd(ctx, 3)) {
    case 0:
        p.groups = 1;
        p.Ci = 1 + rnd(ctx, 6);
        p.Co = 1 + rnd(ctx, 6);
        break;
    case 1:
        p.groups = 2;
        p.Ci = 2 * (1 + rnd(ctx, 3));
        p.Co = 2 * (1 + rnd(ctx, 3));
        break;
    default:
        p.Ci = p.Co = p.groups = 1 + rnd(ctx, 6);
        break;
    }
    int minhw = p.k - 2 * p.pad > 1 ? p.k - 2 * p.pad : 1;
    p.H = minhw + rnd(ctx, 10);
    p.W = minhw + rnd(ctx, 10);
    p.N = 1 + rnd(ctx, 3);
    p.bias = rnd(ctx, 2);
    return p;
}

/* Shapes every run checks besides the random ones: each strategy, several
 * depthwise tiles, a depthwise plane too big for a tile, grouped 1x1. */
static const spec fixed_specs[] = {
    /* N  Ci  H   W  Co  k  s  p  g  bias */
    {2, 5, 7, 9, 6, 1, 1, 0, 1, 1},     /* 1x1 GEMM */
    {3, 4, 5, 3, 6, 1, 1, 0, 2, 0},     /* grouped 1x1 GEMM */
    {2, 16, 8, 8, 32, 1, 1, 0, 1, 1},   /* 1x1 GEMM, model-like */
    {20, 3, 16, 16, 3, 3, 1, 1, 3, 1},  /* depthwise, two tiles */
    {13, 2, 4, 4, 2, 3, 1, 1, 2, 0},    /* depthwise 4x4 planes */
    {3, 2, 5, 16, 2, 3, 1, 1, 2, 1},    /* depthwise rows 16 wide */
    {2, 2, 70, 67, 2, 3, 1, 1, 2, 1},   /* depthwise, plane larger than a tile */
    {3, 3, 9, 11, 3, 5, 2, 2, 3, 1},    /* depthwise stride 2 */
    {2, 4, 8, 8, 4, 7, 1, 3, 4, 0},     /* depthwise 7x7 */
    {2, 3, 6, 5, 3, 1, 1, 0, 3, 1},     /* depthwise 1x1 */
    {2, 3, 9, 8, 5, 1, 2, 0, 1, 1},     /* 1x1 stride 2: im2col */
    {2, 3, 5, 5, 4, 1, 1, 1, 1, 0},     /* 1x1 padded: im2col */
    {2, 16, 16, 16, 32, 3, 2, 1, 1, 0}, /* Down conv of the model (stride 2, 8 wide) */
    {2, 32, 8, 8, 64, 3, 2, 1, 1, 0},   /* the next Down conv (4 wide) */
    {1, 2, 32, 31, 3, 3, 2, 1, 1, 1},   /* stride 2, 16 wide, odd input width */
    {2, 1, 32, 32, 16, 3, 1, 1, 1, 1},  /* stem conv */
    {2, 4, 6, 6, 8, 3, 1, 1, 2, 1},     /* grouped 3x3 */
    {1, 2, 3, 3, 2, 5, 1, 2, 1, 1},     /* kernel larger than the image */
    {3, 3, 6, 7, 3, 2, 1, 0, 3, 1},     /* depthwise, even kernels */
    {2, 2, 7, 6, 2, 4, 1, 1, 2, 0},
    {2, 2, 9, 9, 2, 6, 1, 3, 2, 1},
    {2, 3, 5, 6, 3, 3, 1, 2, 3, 1},     /* depthwise, pad > k/2 */
    {2, 2, 5, 4, 4, 3, 2, 3, 1, 1},     /* im2col, pad > k/2 */
    {2, 4, 7, 8, 2, 4, 2, 1, 2, 1},     /* im2col, even kernel, grouped */
};
#define NFIXED (sizeof fixed_specs / sizeof *fixed_specs)
#define NRANDOM 200

/* Spec i of the test set: the fixed ones, then random ones. */
static spec test_spec(sim_ctx *ctx, int i)
{
    return i < (int)NFIXED ? fixed_specs[i] : random_spec(ctx);
}

/* Terms summed per output value: bounds the rounding error. */
static double terms(const conv2d_shape *s)
{
    return (double)(s->Ci / s->groups) * s->k * s->k + 1;
}

static void test_forward_reference(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 11);
    int per_algo[3] = {0, 0, 0};
    for (int i = 0; i < (int)NFIXED + NRANDOM; i++) {
        conv_case c;
        case_init(&c, &ctx, test_spec(&ctx, i));
        const conv2d_shape *s = &c.s;
        per_algo[conv2d_algo_of(s)]++;
        for (size_t j = 0; j < c.nout; j++)
            c.out[j] = (real)NAN; /* forward must overwrite */
        conv2d_forward(&ctx, c.out, c.in, c.w, c.bias, c.scratch, s);
        real *got = xcalloc(c.nout, sizeof(real));
        double *ref = xcalloc(c.nout, sizeof(double));
        tensor_cnhw_to_nchw(got, c.out, s->N, s->Co, s->Ho * s->Wo);
        ref_forward(ref, c.in_nchw, c.w, c.bias, s);
        char what[160];
        spec_str(what, sizeof what, s, c.has_bias);
        CU_ASSERT(harness_close_d(what, got, ref, c.nout, TOL(1e-12, 1e-5),
                                  TOL(1e-14, 1e-6) * terms(s)));
        free(got);
        free(ref);
        case_free(&c);
    }
    for (int a = 0; a < 3; a++)
        CU_ASSERT(per_algo[a] >= 5);
    ctx_free(&ctx);
}

/* Backward with pre-filled gradients must end at prefill + the reference
 * gradient; also with din = NULL and dbias = NULL. */
static void widen(double *d, const real *x, size_t n)
{
    for (size_t j = 0; j < n; j++)
        d[j] = (double)x[j];
}

/* din (NCHW), dw and dbias against their references; `how` names the call. */
static void check_grads(const char *how, const char *name, const conv_case *c, const real *din,
                        const double *din_ref, const real *dw, const double *dw_ref,
                        const real *db, const double *db_ref)
{
    const conv2d_shape *s = &c->s;
    const double rtol = TOL(1e-12, 1e-5);
    /* din sums over Co/g*k*k terms, dw and dbias over N*Ho*Wo */
    const double at_in = TOL(1e-14, 1e-6) * ((double)(s->Co / s->groups) * s->k * s->k + 1);
    const double at_w = TOL(1e-14, 1e-6) * ((double)s->N * s->Ho * s->Wo + 1);
    char what[260];
    snprintf(what, sizeof what, "din %s(%s)", how, name);
    CU_ASSERT(harness_close_d(what, din, din_ref, c->nin, rtol, at_in));
    snprintf(what, sizeof what, "dw %s(%s)", how, name);
    CU_ASSERT(harness_close_d(what, dw, dw_ref, c->nw, rtol, at_w));
    snprintf(what, sizeof what, "dbias %s(%s)", how, name);
    CU_ASSERT(harness_close_d(what, db, db_ref, (size_t)s->Co, rtol, at_w));
}

static void test_backward_reference(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 12);
    int per_algo[3] = {0, 0, 0};
    for (int i = 0; i < (int)NFIXED + NRANDOM; i++) {
        conv_case c;
        case_init(&c, &ctx, test_spec(&ctx, i));
        const conv2d_shape *s = &c.s;
        const int HW = s->H * s->W, HWo = s->Ho * s->Wo;
        per_algo[conv2d_algo_of(s)]++;
        /* dout in NCHW for the reference, CNHW for conv2d */
        real *dout_nchw = xcalloc(c.nout, sizeof(real));
        tensor_cnhw_to_nchw(dout_nchw, c.r, s->N, s->Co, HWo);
        /* prefills */
        real *din_pre = xcalloc(c.nin, sizeof(real)); /* NCHW */
        real *dw_pre = xcalloc(c.nw, sizeof(real));
        real *db_pre = xcalloc((size_t)s->Co, sizeof(real));
        rng_fill_normal(&ctx, RNG_AUX, din_pre, c.nin, 0.5);
        rng_fill_normal(&ctx, RNG_AUX, dw_pre, c.nw, 0.5);
        rng_fill_normal(&ctx, RNG_AUX, db_pre, (size_t)s->Co, 0.5);
        double *din_ref = xcalloc(c.nin, sizeof(double));
        double *dw_ref = xcalloc(c.nw, sizeof(double));
        double *db_ref = xcalloc((size_t)s->Co, sizeof(double));
        widen(din_ref, din_pre, c.nin);
        widen(dw_ref, dw_pre, c.nw);
        widen(db_ref, db_pre, (size_t)s->Co);
        ref_backward(din_ref, dw_ref, db_ref, dout_nchw, c.in_nchw, c.w, s);

        real *din = xcalloc(c.nin, sizeof(real)); /* CNHW */
        real *dw = xcalloc(c.nw, sizeof(real));
        real *db = xcalloc((size_t)s->Co, sizeof(real));
        real *din_nchw = xcalloc(c.nin, sizeof(real));
        tensor_nchw_to_cnhw(din, din_pre, s->N, s->Ci, HW);
        memcpy(dw, dw_pre, c.nw * sizeof *dw);
        memcpy(db, db_pre, (size_t)s->Co * sizeof *db);
        conv2d_backward(&ctx, din, dw, db, c.r, c.in, c.w, c.scratch, s);
        tensor_cnhw_to_nchw(din_nchw, din, s->N, s->Ci, HW);

        char what[200], name[160];
        spec_str(name, sizeof name, s, c.has_bias);
        check_grads("", name, &c, din_nchw, din_ref, dw, dw_ref, db, db_ref);

        /* conv2d_backward_set overwrites din (here full of NaN) and still
         * accumulates dw and dbias */
        double *din_ref0 = xcalloc(c.nin, sizeof(double));
        widen(dw_ref, dw_pre, c.nw);
        widen(db_ref, db_pre, (size_t)s->Co);
        ref_backward(din_ref0, dw_ref, db_ref, dout_nchw, c.in_nchw, c.w, s);
        for (size_t j = 0; j < c.nin; j++)
            din[j] = (real)NAN;
        memcpy(dw, dw_pre, c.nw * sizeof *dw);
        memcpy(db, db_pre, (size_t)s->Co * sizeof *db);
        conv2d_backward_set(&ctx, din, dw, db, c.r, c.in, c.w, c.scratch, s);
        tensor_cnhw_to_nchw(din_nchw, din, s->N, s->Ci, HW);
        check_grads("overwritten by conv2d_backward_set ", name, &c, din_nchw, din_ref0, dw, dw_ref,
                    db, db_ref);
        free(din_ref0);

        /* din and dbias NULL: dw alone */
        memcpy(dw, dw_pre, c.nw * sizeof *dw);
        conv2d_backward(&ctx, NULL, dw, NULL, c.r, c.in, c.w, c.scratch, s);
        snprintf(what, sizeof what, "dw with din, dbias NULL (%s)", name);
        CU_ASSERT(harness_close_d(what, dw, dw_ref, c.nw, TOL(1e-12, 1e-5),
                                  TOL(1e-14, 1e-6) * ((double)s->N * HWo + 1)));

        free(dout_nchw);
        free(din_pre);
        free(dw_pre);
        free(db_pre);
        free(din_ref);
        free(dw_ref);
        free(db_ref);
        free(din);
        free(dw);
        free(db);
        free(din_nchw);
        case_free(&c);
    }
    for (int a = 0; a < 3; a++)
        CU_ASSERT(per_algo[a] >= 5);
    ctx_free(&ctx);
}

#if REAL_IS_DOUBLE
/* L = sum(r .* conv(in, w) + bias), in double. */
static double loss(void *ud)
{
    conv_case *c = ud;
    conv2d_forward(c->ctx, c->out, c->in, c->w, c->bias, c->scratch, &c->s);
    double L = 0;
    for (size_t i = 0; i < c->nout; i++)
        L += (double)c->r[i] * (double)c->out[i];
    return L;
}

static void test_backward_finite_difference(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 13);
    static const spec specs[] = {
        /* N Ci H  W Co k  s  p  g  bias */
        {2, 3, 7, 6, 4, 1, 1, 0, 1, 1},  /* 1x1 GEMM */
        {2, 4, 5, 5, 6, 1, 1, 0, 2, 1},  /* grouped 1x1 GEMM */
        {3, 3, 7, 8, 3, 3, 1, 1, 3, 1},  /* depthwise tile */
        {2, 2, 9, 7, 2, 5, 2, 2, 2, 1},  /* depthwise stride 2 */
        {2, 3, 8, 9, 4, 3, 2, 1, 1, 1},  /* im2col stride 2 */
        {2, 4, 6, 5, 6, 3, 1, 0, 2, 1},  /* im2col grouped, unpadded */
        {1, 2, 7, 7, 3, 7, 1, 3, 1, 1},  /* im2col 7x7 */
        {1, 2, 64, 65, 2, 3, 1, 1, 2, 1}, /* depthwise rows (big plane) */
        {2, 2, 7, 6, 2, 4, 1, 2, 2, 1},   /* depthwise tile, even kernel, pad > k/2 */
        {2, 2, 6, 6, 2, 7, 1, 3, 2, 1}    /* depthwise tile 7x7 */
    };
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
        conv_case c;
        case_init(&c, &ctx, specs[i]);
        const conv2d_shape *s = &c.s;
        real *din = xcalloc(c.nin, sizeof(real));
        real *dw = xcalloc(c.nw, sizeof(real));
        real *db = xcalloc((size_t)s->Co, sizeof(real));
        conv2d_backward(&ctx, din, dw, db, c.r, c.in, c.w, c.scratch, s);
        char what[200], name[160];
        spec_str(name, sizeof name, s, 1);
        snprintf(what, sizeof what, "din (%s)", name);
        CU_ASSERT(harness_grad_check(what, loss, &c, c.in, din, c.nin, 1e-3, 1e-6, NULL, 500));
        snprintf(what, sizeof what, "dw (%s)", name);
        CU_ASSERT(harness_grad_check(what, loss, &c, c.w, dw, c.nw, 1e-3, 1e-6, NULL, 500));
        snprintf(what, sizeof what, "dbias (%s)", name);
        CU_ASSERT(harness_grad_check(what, loss, &c, c.bias, db, (size_t)s->Co, 1e-3, 1e-6, NULL,
                                     0));
        free(din);
        free(dw);
        free(db);
        case_free(&c);
    }
    ctx_free(&ctx);
}
#endif

/* Forward and backward with `threads` threads into fresh buffers. */
static void run_all(conv_case *c, int threads, real *out, real *din, real *dw, real *db)
{
    ctx_set_threads(c->ctx, threads);
    memset(din, 0, c->nin * sizeof *din);
    memset(dw, 0, c->nw * sizeof *dw);
    memset(db, 0, (size_t)c->s.Co * sizeof *db);
    conv2d_forward(c->ctx, out, c->in, c->w, c->bias, c->scratch, &c->s);
    conv2d_backward(c->ctx, din, dw, db, c->r, c->in, c->w, c->scratch, &c->s);
}

/* 1 when b (threads threads) is bit-identical to a (1 thread). */
static int same_bits(const char *what, int threads, const real *a, const real *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof *a) != 0) {
            fprintf(stderr, "\n  %s: %d threads differ from 1 at [%zu]: %.17g vs %.17g\n", what,
                    threads, i, (double)b[i], (double)a[i]);
            return 0;
        }
    return 1;
}

static void test_thread_invariance(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 14);
    static const spec specs[] = {
        /* N  Ci   H   W  Co  k  s  p  g   bias */
        {16, 24, 12, 12, 24, 3, 1, 1, 24, 1},  /* depthwise tile */
        {8, 16, 13, 11, 16, 5, 2, 2, 16, 1},   /* depthwise stride 2 */
        {4, 6, 70, 66, 6, 3, 1, 1, 6, 1},      /* depthwise rows */
        {16, 32, 16, 16, 64, 1, 1, 0, 1, 1},   /* 1x1 GEMM */
        {16, 16, 16, 16, 32, 3, 2, 1, 1, 0},   /* im2col stride 2 */
        {8, 16, 12, 12, 32, 3, 1, 1, 2, 1},    /* im2col grouped */
        {16, 1, 32, 32, 16, 3, 1, 1, 1, 1},    /* stem */
    };
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
        conv_case c;
        case_init(&c, &ctx, specs[i]);
        const size_t no = c.nout, ni = c.nin, nw = c.nw, nb = (size_t)c.s.Co;
        real *o1 = xcalloc(no, sizeof(real)), *o2 = xcalloc(no, sizeof(real));
        real *i1 = xcalloc(ni, sizeof(real)), *i2 = xcalloc(ni, sizeof(real));
        real *w1 = xcalloc(nw, sizeof(real)), *w2 = xcalloc(nw, sizeof(real));
        real *b1 = xcalloc(nb, sizeof(real)), *b2 = xcalloc(nb, sizeof(real));
        run_all(&c, 1, o1, i1, w1, b1);
        /* 3 threads split the channels unevenly. Only the depthwise path is
         * all our own loops: OpenBLAS 0.3.21 dgemm is bit-identical with 2
         * threads but not always with 3, so the GEMM paths check 2 only. */
        const int maxth = conv2d_algo_of(&c.s) == CONV2D_DEPTHWISE ? 3 : 2;
        for (int th = 2; th <= maxth; th++) {
            run_all(&c, th, o2, i2, w2, b2);
            char what[200], name[160];
            spec_str(name, sizeof name, &c.s, c.has_bias);
            snprintf(what, sizeof what, "out (%s)", name);
            CU_ASSERT(same_bits(what, th, o1, o2, no));
            snprintf(what, sizeof what, "din (%s)", name);
            CU_ASSERT(same_bits(what, th, i1, i2, ni));
            snprintf(what, sizeof what, "dw (%s)", name);
            CU_ASSERT(same_bits(what, th, w1, w2, nw));
            snprintf(what, sizeof what, "dbias (%s)", name);
            CU_ASSERT(same_bits(what, th, b1, b2, nb));
        }
        free(o1);
        free(o2);
        free(i1);
        free(i2);
        free(w1);
        free(w2);
        free(b1);
        free(b2);
        case_free(&c);
    }
    ctx_set_threads(&ctx, 1);
    ctx_free(&ctx);
}

/* ============================ sparse path ============================ */

/* Make c's input binary with exactly `ones` ones at random places, in both
 * layouts. */
static void make_spikes(conv_case *c, size_t ones)
{
    size_t *idx = xcalloc(c->nin, sizeof *idx);
    for (size_t i = 0; i < c->nin; i++)
        idx[i] = i;
    for (size_t i = 0; i < ones; i++) { /* partial Fisher-Yates */
        size_t j = i + (size_t)rng_int(c->ctx, RNG_AUX, (unsigned long)(c->nin - i));
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    memset(c->in_nchw, 0, c->nin * sizeof *c->in_nchw);
    for (size_t i = 0; i < ones; i++)
        c->in_nchw[idx[i]] = 1;
    tensor_nchw_to_cnhw(c->in, c->in_nchw, c->s.N, c->s.Ci, c->s.H * c->s.W);
    free(idx);
}

/* Shapes that can take the sparse path: both tile kernels (constant and
 * other M), tails, several weight-gradient segments, groups, im2col. */
static const spec sparse_specs[] = {
    /* N  Ci  H   W  Co  k  s  p  g  bias */
    {16, 40, 16, 16, 64, 1, 1, 0, 1, 1}, /* 1x1, M 64, 2 segments */
    {4, 24, 9, 7, 64, 1, 1, 0, 2, 1},    /* grouped 1x1, M 32, tail tile */
    {8, 12, 16, 16, 32, 3, 2, 1, 1, 0},  /* Down conv: 3x3 stride 2 im2col */
    {3, 20, 10, 10, 48, 1, 1, 0, 1, 1},  /* M 48: generic kernel */
    {64, 16, 16, 16, 128, 1, 1, 0, 1, 0}, /* M 128, 8 segments */
};
#define NSPARSE (sizeof sparse_specs / sizeof *sparse_specs)

/* Forward and backward of c with s.sparse = sparse into out, din, dw, db
 * (zeroed first). */
static void run_path(conv_case *c, int sparse, real *out, real *din, real *dw, real *db)
{
    c->s.sparse = sparse;
    memset(din, 0, c->nin * sizeof *din);
    memset(dw, 0, c->nw * sizeof *dw);
    memset(db, 0, (size_t)c->s.Co * sizeof *db);
    conv2d_forward(c->ctx, out, c->in, c->w, c->bias, c->scratch, &c->s);
    conv2d_backward(c->ctx, din, dw, db, c->r, c->in, c->w, c->scratch, &c->s);
    c->s.sparse = 1;
}

static void test_sparse_reference(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 15);
    int nsparse = 0;
    for (size_t i = 0; i < NSPARSE; i++) {
        conv_case c;
        case_init(&c, &ctx, sparse_specs[i]);
        conv2d_shape *s = &c.s;
        const double thr = conv2d_sparse_density(s);
        CU_ASSERT_FATAL(thr > 0);
        CU_ASSERT(thr == (s->Co / s->groups >= 64 ? CONV2D_SPARSE_DENSITY
                                                  : CONV2D_SPARSE_DENSITY / 2));
        const size_t at = (size_t)ceil(thr * (double)c.nin); /* first count that is too dense */
        const size_t counts[] = {0, 1, c.nin / 50, at - 1, at, c.nin / 2, c.nin};
        const size_t no = c.nout, ni = c.nin, nw = c.nw, nb = (size_t)s->Co;
        real *o1 = xcalloc(no, sizeof(real)), *o2 = xcalloc(no, sizeof(real));
        real *i1 = xcalloc(ni, sizeof(real)), *i2 = xcalloc(ni, sizeof(real));
        real *w1 = xcalloc(nw, sizeof(real)), *w2 = xcalloc(nw, sizeof(real));
        real *b1 = xcalloc(nb, sizeof(real)), *b2 = xcalloc(nb, sizeof(real));
        double *oref = xcalloc(no, sizeof(double)), *iref = xcalloc(ni, sizeof(double));
        double *wref = xcalloc(nw, sizeof(double)), *bref = xcalloc(nb, sizeof(double));
        real *got = xcalloc(no > ni ? no : ni, sizeof(real)), *dout_nchw = xcalloc(no, sizeof(real));
        tensor_cnhw_to_nchw(dout_nchw, c.r, s->N, s->Co, s->Ho * s->Wo);
        for (size_t d = 0; d < sizeof counts / sizeof *counts; d++) {
            make_spikes(&c, counts[d]);
            const int expect = counts[d] < at && counts[d] < c.nin;
            char name[160], what[240];
            spec_str(name, sizeof name, s, c.has_bias);
            if (conv2d_spikes_sparse(s, c.in) != expect) {
                fprintf(stderr, "\n  %zu ones of %zu (threshold %g, %s): sparse %d, expected %d\n",
                        counts[d], c.nin, thr, name, !expect, expect);
                CU_FAIL("sparse path choice");
            }
            nsparse += expect;
            run_path(&c, 1, o1, i1, w1, b1); /* the path conv2d picks */
            run_path(&c, 0, o2, i2, w2, b2); /* dense */
            /* against the naive reference */
            memset(iref, 0, ni * sizeof *iref);
            memset(wref, 0, nw * sizeof *wref);
            memset(bref, 0, nb * sizeof *bref);
            ref_forward(oref, c.in_nchw, c.w, c.bias, s);
            ref_backward(iref, wref, bref, dout_nchw, c.in_nchw, c.w, s);
            const double rtol = TOL(1e-12, 1e-5);
            const double at_o = TOL(1e-14, 1e-6) * terms(s);
            const double at_i = TOL(1e-14, 1e-6) * ((double)(s->Co / s->groups) * s->k * s->k + 1);
            const double at_w = TOL(1e-14, 1e-6) * ((double)s->N * s->Ho * s->Wo + 1);
            snprintf(what, sizeof what, "out, %zu ones (%s)", counts[d], name);
            tensor_cnhw_to_nchw(got, o1, s->N, s->Co, s->Ho * s->Wo);
            CU_ASSERT(harness_close_d(what, got, oref, no, rtol, at_o));
            snprintf(what, sizeof what, "din, %zu ones (%s)", counts[d], name);
            tensor_cnhw_to_nchw(got, i1, s->N, s->Ci, s->H * s->W);
            CU_ASSERT(harness_close_d(what, got, iref, ni, rtol, at_i));
            snprintf(what, sizeof what, "dw, %zu ones (%s)", counts[d], name);
            CU_ASSERT(harness_close_d(what, w1, wref, nw, rtol, at_w));
            snprintf(what, sizeof what, "dbias, %zu ones (%s)", counts[d], name);
            CU_ASSERT(harness_close_d(what, b1, bref, nb, rtol, at_w));
            /* against the dense path: the same up to rounding, and din
             * (a GEMM either way) and dbias bit-identical */
            snprintf(what, sizeof what, "out sparse vs dense, %zu ones (%s)", counts[d], name);
            CHECK_CLOSE(what, o1, o2, no, TOL(1e-9, 1e-5), at_o);
            snprintf(what, sizeof what, "dw sparse vs dense, %zu ones (%s)", counts[d], name);
            CHECK_CLOSE(what, w1, w2, nw, TOL(1e-9, 1e-5), at_w);
            CU_ASSERT(memcmp(i1, i2, ni * sizeof *i1) == 0);
            CU_ASSERT(memcmp(b1, b2, nb * sizeof *b1) == 0);
            if (!expect) { /* the dense path itself: bit-identical */
                CU_ASSERT(memcmp(o1, o2, no * sizeof *o1) == 0);
                CU_ASSERT(memcmp(w1, w2, nw * sizeof *w1) == 0);
            }
        }
        free(o1), free(o2), free(i1), free(i2), free(w1), free(w2), free(b1), free(b2);
        free(oref), free(iref), free(wref), free(bref), free(got), free(dout_nchw);
        case_free(&c);
    }
    CU_ASSERT(nsparse >= 4 * (int)NSPARSE); /* 0, 1, 2% and just below each time */
    ctx_free(&ctx);
}

/* The sparse path (and the dense input gradient beside it) gives the same
 * bits with 1, 2 and 3 threads. */
static void test_sparse_threads(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 16);
    for (size_t i = 0; i < NSPARSE; i++) {
        conv_case c;
        case_init(&c, &ctx, sparse_specs[i]);
        make_spikes(&c, c.nin / 12);
        CU_ASSERT_FATAL(conv2d_spikes_sparse(&c.s, c.in));
        const size_t no = c.nout, ni = c.nin, nw = c.nw, nb = (size_t)c.s.Co;
        real *o1 = xcalloc(no, sizeof(real)), *o2 = xcalloc(no, sizeof(real));
        real *i1 = xcalloc(ni, sizeof(real)), *i2 = xcalloc(ni, sizeof(real));
        real *w1 = xcalloc(nw, sizeof(real)), *w2 = xcalloc(nw, sizeof(real));
        real *b1 = xcalloc(nb, sizeof(real)), *b2 = xcalloc(nb, sizeof(real));
        run_all(&c, 1, o1, i1, w1, b1);
        for (int th = 2; th <= 3; th++) {
            run_all(&c, th, o2, i2, w2, b2);
            char what[200], name[160];
            spec_str(name, sizeof name, &c.s, c.has_bias);
            snprintf(what, sizeof what, "sparse out (%s)", name);
            CU_ASSERT(same_bits(what, th, o1, o2, no));
            snprintf(what, sizeof what, "sparse dw (%s)", name);
            CU_ASSERT(same_bits(what, th, w1, w2, nw));
            snprintf(what, sizeof what, "dbias (%s)", name);
            CU_ASSERT(same_bits(what, th, b1, b2, nb));
            if (th == 2) { /* din is a GEMM: see test_thread_invariance */
                snprintf(what, sizeof what, "din (%s)", name);
                CU_ASSERT(same_bits(what, th, i1, i2, ni));
            }
        }
        free(o1), free(o2), free(i1), free(i2), free(w1), free(w2), free(b1), free(b2);
        case_free(&c);
    }
    ctx_set_threads(&ctx, 1);
    ctx_free(&ctx);
}

/* A 1x1 conv of a bitmap input (conv2d_forward_bits, conv2d_backward_bits_set)
 * is bit for bit the conv of the same spikes as reals, on the sparse path
 * (tiles and weight-gradient segments starting inside a 64-bit word) and on
 * the dense one (too many ones, or too few output channels). */
static void test_bits_input(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 18);
    static const spec specs[] = {
        /* N  Ci  H   W  Co  k  s  p  g  bias */
        {16, 40, 16, 16, 64, 1, 1, 0, 1, 1},  /* M 64, 2 segments */
        {3, 20, 10, 10, 48, 1, 1, 0, 1, 1},   /* M 48, 300 positions */
        {64, 16, 16, 16, 128, 1, 1, 0, 1, 0}, /* M 128: 32-position tiles, 8 segments */
        {5, 64, 5, 9, 32, 1, 1, 0, 1, 1},     /* M 32, 225 positions */
        {7, 64, 4, 4, 16, 1, 1, 0, 1, 1},     /* M 16: always dense */
    };
    int nsparse = 0;
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++)
        for (int dense = 0; dense < 2; dense++) {
            conv_case c;
            case_init(&c, &ctx, specs[i]);
            make_spikes(&c, dense ? c.nin / 2 : c.nin / 15);
            const conv2d_shape *sh = &c.s;
            const int Ci = sh->Ci;
            const size_t P = (size_t)sh->N * sh->H * sh->W, ld = spike_words(P);
            uint64_t *bits = xcalloc((size_t)Ci * ld, sizeof *bits);
            size_t ones = 0;
            for (int k = 0; k < Ci; k++)
                for (size_t j = 0; j < P; j++)
                    if (c.in[(size_t)k * P + j] == 1) {
                        bits[(size_t)k * ld + j / 64] |= UINT64_C(1) << (j % 64);
                        ones++;
                    }
            nsparse += conv2d_spikes_sparse(sh, c.in);
            real *dense_buf = xcalloc(c.nin, sizeof(real));
            real *o1 = xcalloc(c.nout, sizeof(real)), *o2 = xcalloc(c.nout, sizeof(real));
            real *i1 = xcalloc(c.nin, sizeof(real)), *i2 = xcalloc(c.nin, sizeof(real));
            real *w1 = xcalloc(c.nw, sizeof(real)), *w2 = xcalloc(c.nw, sizeof(real));
            real *b1 = xcalloc((size_t)sh->Co, sizeof(real));
            real *b2 = xcalloc((size_t)sh->Co, sizeof(real));
            conv2d_forward(&ctx, o1, c.in, c.w, c.bias, c.scratch, sh);
            conv2d_forward_bits(&ctx, o2, bits, ones, c.w, c.bias, c.scratch, dense_buf, sh);
            conv2d_backward_set(&ctx, i1, w1, c.bias ? b1 : NULL, c.r, c.in, c.w, c.scratch, sh);
            conv2d_backward_bits_set(&ctx, i2, w2, c.bias ? b2 : NULL, c.r, bits, ones, c.w,
                                     c.scratch, dense_buf, sh);
            char what[200], name[160];
            spec_str(name, sizeof name, sh, c.has_bias);
            snprintf(what, sizeof what, "bits forward (%s, %s)", name, dense ? "dense" : "sparse");
            CU_ASSERT(same_bits(what, 1, o1, o2, c.nout));
            snprintf(what, sizeof what, "bits dw (%s)", name);
            CU_ASSERT(same_bits(what, 1, w1, w2, c.nw));
            snprintf(what, sizeof what, "bits dbias (%s)", name);
            CU_ASSERT(same_bits(what, 1, b1, b2, (size_t)sh->Co));
            snprintf(what, sizeof what, "bits din (%s)", name);
            CU_ASSERT(same_bits(what, 1, i1, i2, c.nin));
            free(bits), free(dense_buf), free(o1), free(o2), free(i1), free(i2), free(w1), free(w2),
                free(b1), free(b2);
            case_free(&c);
        }
    CU_ASSERT_EQUAL(nsparse, 4); /* the sparse path was taken where it can be */
    ctx_free(&ctx);
}

/* One value other than 0 or 1 sends a sparse spike map down the dense
 * path, wherever it is; so do shapes the sparse path does not serve. */
static void test_sparse_needs_binary(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 17);
    static const real odd[] = {(real)0.5, 2, -1, (real)1e-30, (real)NAN};
    for (size_t i = 0; i < NSPARSE; i++) {
        conv_case c;
        case_init(&c, &ctx, sparse_specs[i]);
        make_spikes(&c, c.nin / 20);
        CU_ASSERT(conv2d_spikes_sparse(&c.s, c.in));
        const size_t where[] = {0, c.nin / 2, c.nin - 1};
        real *o1 = xcalloc(c.nout, sizeof(real)), *o2 = xcalloc(c.nout, sizeof(real));
        for (size_t v = 0; v < sizeof odd / sizeof *odd; v++)
            for (size_t j = 0; j < sizeof where / sizeof *where; j++) {
                const real keep = c.in[where[j]];
                c.in[where[j]] = odd[v];
                CU_ASSERT(!conv2d_spikes_sparse(&c.s, c.in));
                if (v < 4) { /* NaN outputs do not compare bitwise */
                    conv2d_forward(&ctx, o1, c.in, c.w, c.bias, c.scratch, &c.s);
                    c.s.sparse = 0;
                    conv2d_forward(&ctx, o2, c.in, c.w, c.bias, c.scratch, &c.s);
                    c.s.sparse = 1;
                    CU_ASSERT(memcmp(o1, o2, c.nout * sizeof *o1) == 0);
                }
                c.in[where[j]] = keep;
            }
        c.s.sparse = 0;
        CU_ASSERT(!conv2d_spikes_sparse(&c.s, c.in));
        CU_ASSERT_EQUAL(conv2d_sparse_density(&c.s), 0);
        free(o1);
        free(o2);
        case_free(&c);
    }
    /* depthwise and fewer than 32 output channels per group: never */
    static const spec never[] = {
        {4, 32, 8, 8, 32, 3, 1, 1, 32, 1}, /* depthwise */
        {4, 64, 8, 8, 16, 1, 1, 0, 1, 1},  /* PW2 of level 0: the GEMM wins */
        {4, 32, 8, 8, 64, 1, 1, 0, 4, 1},  /* 16 per group */
    };
    for (size_t i = 0; i < sizeof never / sizeof *never; i++) {
        conv_case c;
        case_init(&c, &ctx, never[i]);
        make_spikes(&c, c.nin / 20);
        CU_ASSERT(!conv2d_spikes_sparse(&c.s, c.in));
        CU_ASSERT_EQUAL(conv2d_sparse_density(&c.s), 0);
        case_free(&c);
    }
    ctx_free(&ctx);
}

/* A bad shape returns SIM_ESHAPE, leaves the shape untouched and explains. */
static void expect_bad(int N, int Ci, int H, int W, int Co, int k, int stride, int pad,
                       int groups, const char *needle)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    conv2d_shape s;
    memset(&s, 0x5a, sizeof s);
    conv2d_shape before = s;
    sim_status st = conv2d_shape_init(&ctx, &s, N, Ci, H, W, Co, k, stride, pad, groups);
    CU_ASSERT_EQUAL(st, SIM_ESHAPE);
    CU_ASSERT(memcmp(&s, &before, sizeof s) == 0);
    if (!strstr(ctx_errmsg(&ctx), needle)) {
        fprintf(stderr, "\n  message \"%s\" lacks \"%s\"\n", ctx_errmsg(&ctx), needle);
        CU_FAIL("error message");
    }
    CU_ASSERT(strchr(ctx_errmsg(&ctx), '\n') == NULL);
    ctx_free(&ctx);
}

static void test_bad_shapes(void)
{
    expect_bad(2, 6, 8, 8, 8, 3, 1, 1, 4, "Ci=6 not divisible by groups=4");
    expect_bad(2, 8, 8, 8, 6, 3, 1, 1, 4, "Co=6 not divisible by groups=4");
    expect_bad(0, 3, 8, 8, 4, 3, 1, 1, 1, "N=0");
    expect_bad(2, 3, -1, 8, 4, 3, 1, 1, 1, "H=-1");
    expect_bad(2, 3, 8, 8, 0, 3, 1, 1, 1, "Co=0");
    expect_bad(2, 3, 8, 8, 4, 0, 1, 1, 1, "k=0");
    expect_bad(2, 3, 8, 8, 4, 3, 0, 1, 1, "stride=0");
    expect_bad(2, 3, 8, 8, 4, 3, 1, -1, 1, "pad=-1");
    expect_bad(2, 3, 8, 8, 4, 3, 1, 1, 0, "groups=0");
    expect_bad(2, 3, 2, 8, 4, 5, 1, 0, 1, "smaller than kernel 5");
    expect_bad(2, 3, 8, 4, 4, 5, 1, 0, 1, "smaller than kernel 5"); /* W + 2 pad = k - 1 */
    expect_bad(2, 3, 2, 8, 4, 5, 2, 1, 1, "smaller than kernel 5"); /* H + 2 pad = k - 1 */
    expect_bad(1 << 20, 3, 1 << 10, 1 << 10, 4, 3, 1, 1, 1, "too large");
    expect_bad(1, 1 << 20, 8, 8, 1, 1 << 6, 1, 40, 1, "too large");
    expect_bad(1, 1, 8, 8, 1, 3, 1 << 30, 1 << 30, 1, "too large"); /* H + 2 pad > INT_MAX */

    /* good shapes: derived sizes, scratch and MACs */
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    conv2d_shape s;
    CU_ASSERT_EQUAL_FATAL(conv2d_shape_init(&ctx, &s, 64, 16, 16, 16, 32, 3, 2, 1, 1), SIM_OK);
    CU_ASSERT_EQUAL(s.Ho, 8);
    CU_ASSERT_EQUAL(s.Wo, 8);
    CU_ASSERT_EQUAL(conv2d_algo_of(&s), CONV2D_IM2COL);
    /* im2col columns, then the sparse path's partials: 2 segments of 4096
     * positions, each (Ci*k*k, Co) */
    CU_ASSERT_EQUAL(conv2d_scratch_elems(&s), (size_t)16 * 9 * 64 * 8 * 8 + 2 * 16 * 9 * 32);
    s.sparse = 0;
    CU_ASSERT_EQUAL(conv2d_scratch_elems(&s), (size_t)16 * 9 * 64 * 8 * 8);
    CU_ASSERT_EQUAL(conv2d_macs(&s), 32.0 * 16 * 9 * 64 * 8 * 8);
    CU_ASSERT_EQUAL_FATAL(conv2d_shape_init(&ctx, &s, 4, 6, 7, 5, 6, 3, 2, 0, 6), SIM_OK);
    CU_ASSERT_EQUAL(s.Ho, 3);
    CU_ASSERT_EQUAL(s.Wo, 2);
    CU_ASSERT_EQUAL(conv2d_algo_of(&s), CONV2D_DEPTHWISE);
    CU_ASSERT_EQUAL(conv2d_macs(&s), 6.0 * 9 * 4 * 3 * 2);
    CU_ASSERT_EQUAL_FATAL(conv2d_shape_init(&ctx, &s, 4, 8, 5, 5, 12, 1, 1, 0, 2), SIM_OK);
    CU_ASSERT_EQUAL(conv2d_algo_of(&s), CONV2D_GEMM_1X1);
    CU_ASSERT_EQUAL(conv2d_scratch_elems(&s), 0); /* 6 outputs per group: never sparse */
    CU_ASSERT_EQUAL(conv2d_macs(&s), 12.0 * 4 * 4 * 25);
    /* PW2 of level 2 of the fmnist model: a 1x1 GEMM needs scratch only for
     * the sparse path, one (Ci, Co) weight copy (1024 positions, 1 segment) */
    CU_ASSERT_EQUAL_FATAL(conv2d_shape_init(&ctx, &s, 64, 256, 4, 4, 64, 1, 1, 0, 1), SIM_OK);
    CU_ASSERT_EQUAL(conv2d_algo_of(&s), CONV2D_GEMM_1X1);
    CU_ASSERT_EQUAL(conv2d_scratch_elems(&s), (size_t)256 * 64);
    s.sparse = 0;
    CU_ASSERT_EQUAL(conv2d_scratch_elems(&s), 0);
    ctx_free(&ctx);
}

int main(void)
{
    static const harness_test tests[] = {
        {"forward vs naive NCHW reference", test_forward_reference},
        {"backward accumulates the naive reference gradient", test_backward_reference},
#if REAL_IS_DOUBLE
        {"backward vs finite differences", test_backward_finite_difference},
#endif
        {"1 vs 2 (depthwise also 3) threads bit-identical", test_thread_invariance},
        {"sparse spike path vs reference and dense path", test_sparse_reference},
        {"sparse spike path: 1, 2, 3 threads bit-identical", test_sparse_threads},
        {"non-binary inputs take the dense path", test_sparse_needs_binary},
        {"1x1 conv of a bitmap equals the conv of its reals", test_bits_input},
        {"bad shapes rejected", test_bad_shapes},
        {NULL, NULL},
    };
    return harness_run("conv2d", tests);
}
