/* test_elementwise.c - nearest x2 upsampling, global average pooling, leaky
 * ReLU and per-channel scale-and-add: forward against naive double
 * references (odd sizes, aliasing), backward against finite differences in
 * the double build, and accumulation into prefilled gradients. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/rng.h"
#include "tests/harness.h"
#include "topology/elementwise.h"

static real *alloc_real(size_t n)
{
    real *p = calloc(n ? n : 1, sizeof *p);
    if (!p)
        abort();
    return p;
}

static double *alloc_double(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof *p);
    if (!p)
        abort();
    return p;
}

static int rand_in(sim_ctx *ctx, int lo, int hi)
{
    return lo + (int)rng_int(ctx, RNG_AUX, (unsigned long)(hi - lo + 1));
}

/* A generic linear-functional problem: L = sum(R .* out), out = fwd(p). */
typedef struct {
    real *in, *in2, *s, *out, *R;
    int rows, H, W, C;
    size_t nout, M;
    real slope;
} ew_problem;

static double dot_R(const ew_problem *p)
{
    double L = 0;
    for (size_t i = 0; i < p->nout; i++)
        L += (double)p->R[i] * p->out[i];
    return L;
}

/* Check dst == prefill + g elementwise, where dst was prefilled before the
 * backward and g came from a backward into zeros. */
static int check_accum(const char *what, const real *dst, const real *prefill, const real *g,
                       size_t n)
{
    double *e = alloc_double(n);
    for (size_t i = 0; i < n; i++)
        e[i] = (double)prefill[i] + g[i];
    int ok = harness_close_d(what, dst, e, n, TOL(1e-14, 1e-6), TOL(1e-14, 1e-6));
    free(e);
    return ok;
}

/* ---- upsample ---- */

static double up_loss(void *ud)
{
    ew_problem *p = ud;
    upsample2x_forward(p->out, p->in, p->rows, p->H, p->W);
    return dot_R(p);
}

static void test_upsample(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 21);
    for (int rep = 0; rep < 6; rep++) {
        ew_problem p = {0};
        p.rows = rand_in(&ctx, 1, 5), p.H = rand_in(&ctx, 1, 5), p.W = rand_in(&ctx, 1, 6);
        size_t nin = (size_t)p.rows * p.H * p.W;
        p.nout = 4 * nin;
        p.in = alloc_real(nin), p.out = alloc_real(p.nout), p.R = alloc_real(p.nout);
        real *din = alloc_real(nin), *pre = alloc_real(nin), *acc = alloc_real(nin);
        double *ref = alloc_double(p.nout), *dref = alloc_double(nin);
        rng_fill_uniform(&ctx, RNG_AUX, p.in, nin, -2, 2);
        rng_fill_uniform(&ctx, RNG_AUX, p.R, p.nout, -1, 1);
        const int H2 = 2 * p.H, W2 = 2 * p.W;
        for (int r = 0; r < p.rows; r++)
            for (int y = 0; y < H2; y++)
                for (int x = 0; x < W2; x++) {
                    size_t o = ((size_t)r * H2 + y) * W2 + x;
                    size_t i = ((size_t)r * p.H + y / 2) * p.W + x / 2;
                    ref[o] = p.in[i];
                    dref[i] += p.R[o]; /* the 4 children of i */
                }
        (void)up_loss(&p);
        CU_ASSERT(harness_close_d("upsample forward", p.out, ref, p.nout, 0, 0));
        upsample2x_backward(din, p.R, p.rows, p.H, p.W);
        CU_ASSERT(harness_close_d("upsample backward", din, dref, nin, TOL(1e-14, 1e-6),
                                  TOL(1e-14, 1e-6)));
        rng_fill_uniform(&ctx, RNG_AUX, pre, nin, -1, 1);
        memcpy(acc, pre, nin * sizeof *acc);
        upsample2x_backward(acc, p.R, p.rows, p.H, p.W);
        CU_ASSERT(check_accum("upsample accumulate", acc, pre, din, nin));
        for (size_t i = 0; i < nin; i++)
            acc[i] = (real)NAN;
        upsample2x_backward_set(acc, p.R, p.rows, p.H, p.W);
        CU_ASSERT(memcmp(acc, din, nin * sizeof *acc) == 0);
#if REAL_IS_DOUBLE
        CU_ASSERT(harness_grad_check("upsample d/din", up_loss, &p, p.in, din, nin, 1e-5, 1e-6,
                                     NULL, 0));
#endif
        free(p.in), free(p.out), free(p.R), free(din), free(pre), free(acc), free(ref);
        free(dref);
    }
    ctx_free(&ctx);
}

/* ---- global average pooling ---- */

static double gap_loss(void *ud)
{
    ew_problem *p = ud;
    gap_forward(p->out, p->in, p->rows, p->H * p->W);
    return dot_R(p);
}

static void test_gap(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 22);
    for (int rep = 0; rep < 6; rep++) {
        ew_problem p = {0};
        p.rows = rand_in(&ctx, 1, 7), p.H = rand_in(&ctx, 1, 5), p.W = rand_in(&ctx, 1, 7);
        const int HW = p.H * p.W;
        size_t nin = (size_t)p.rows * HW;
        p.nout = (size_t)p.rows;
        p.in = alloc_real(nin), p.out = alloc_real(p.nout), p.R = alloc_real(p.nout);
        real *din = alloc_real(nin), *pre = alloc_real(nin), *acc = alloc_real(nin);
        double *ref = alloc_double(p.nout), *dref = alloc_double(nin);
        rng_fill_uniform(&ctx, RNG_AUX, p.in, nin, -2, 3);
        rng_fill_uniform(&ctx, RNG_AUX, p.R, p.nout, -1, 1);
        for (int r = 0; r < p.rows; r++) {
            double s = 0;
            for (int i = 0; i < HW; i++) {
                s += p.in[(size_t)r * HW + i];
                dref[(size_t)r * HW + i] = (double)p.R[r] / HW;
            }
            ref[r] = s / HW;
        }
        (void)gap_loss(&p);
        CU_ASSERT(harness_close_d("gap forward", p.out, ref, p.nout, TOL(1e-14, 1e-6),
                                  TOL(1e-14, 1e-6)));
        gap_backward(din, p.R, p.rows, HW);
        CU_ASSERT(harness_close_d("gap backward", din, dref, nin, TOL(1e-14, 1e-6),
                                  TOL(1e-14, 1e-6)));
        rng_fill_uniform(&ctx, RNG_AUX, pre, nin, -1, 1);
        memcpy(acc, pre, nin * sizeof *acc);
        gap_backward(acc, p.R, p.rows, HW);
        CU_ASSERT(check_accum("gap accumulate", acc, pre, din, nin));
#if REAL_IS_DOUBLE
        CU_ASSERT(harness_grad_check("gap d/din", gap_loss, &p, p.in, din, nin, 1e-5, 1e-6, NULL,
                                     0));
#endif
        free(p.in), free(p.out), free(p.R), free(din), free(pre), free(acc), free(ref);
        free(dref);
    }
    ctx_free(&ctx);
}

/* ---- leaky ReLU ---- */

static double lrelu_loss(void *ud)
{
    ew_problem *p = ud;
    leaky_relu_forward(p->out, p->in, p->nout, p->slope);
    return dot_R(p);
}

static void test_leaky_relu(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 23);
    const real slopes[4] = {(real)0.1, 1, 0, (real)-0.3};
    const double h = 1e-5;
    for (int si = 0; si < 4; si++) {
        ew_problem p = {0};
        size_t n = (size_t)rand_in(&ctx, 50, 151);
        p.nout = n, p.slope = slopes[si];
        p.in = alloc_real(n), p.out = alloc_real(n), p.R = alloc_real(n);
        real *din = alloc_real(n), *pre = alloc_real(n), *acc = alloc_real(n), *inpl = alloc_real(n);
        double *ref = alloc_double(n), *dref = alloc_double(n);
        unsigned char *skip = calloc(n, 1);
        rng_fill_uniform(&ctx, RNG_AUX, p.in, n, -2, 2);
        rng_fill_uniform(&ctx, RNG_AUX, p.R, n, -1, 1);
        p.in[0] = 0; /* the kink itself belongs to the x >= 0 side */
        p.in[1] = (real)-0.0;
        p.in[2] = (real)-1e-30;
        for (size_t i = 0; i < n; i++) {
            double x = p.in[i];
            ref[i] = x >= 0 ? x : (double)p.slope * x;
            dref[i] = x >= 0 ? (double)p.R[i] : (double)p.slope * p.R[i];
            skip[i] = fabs(x) < 2 * h;
        }
        (void)lrelu_loss(&p);
        CU_ASSERT(harness_close_d("leaky relu forward", p.out, ref, n, TOL(1e-15, 1e-7), 0));
        memcpy(inpl, p.in, n * sizeof *inpl);
        leaky_relu_forward(inpl, inpl, n, p.slope);
        CU_ASSERT(memcmp(inpl, p.out, n * sizeof *inpl) == 0);
        leaky_relu_backward(din, p.R, p.in, n, p.slope);
        CU_ASSERT(harness_close_d("leaky relu backward", din, dref, n, TOL(1e-15, 1e-7), 0));
        CU_ASSERT(din[0] == p.R[0] && din[1] == p.R[1]); /* gradient 1 at x = 0 */
        rng_fill_uniform(&ctx, RNG_AUX, pre, n, -1, 1);
        memcpy(acc, pre, n * sizeof *acc);
        leaky_relu_backward(acc, p.R, p.in, n, p.slope);
        CU_ASSERT(check_accum("leaky relu accumulate", acc, pre, din, n));
#if REAL_IS_DOUBLE
        CU_ASSERT(harness_grad_check("leaky relu d/din", lrelu_loss, &p, p.in, din, n, h, 1e-6,
                                     skip, 0));
#endif
        free(p.in), free(p.out), free(p.R), free(din), free(pre), free(acc), free(inpl);
        free(ref), free(dref), free(skip);
    }
    ctx_free(&ctx);
}

/* ---- scale-and-add ---- */

static double sa_loss(void *ud)
{
    ew_problem *p = ud;
    scale_add_forward(p->out, p->in, p->s, p->in2, p->C, p->M);
    return dot_R(p);
}

static void test_scale_add(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 24);
    for (int rep = 0; rep < 6; rep++) {
        ew_problem p = {0};
        p.C = rand_in(&ctx, 1, 7), p.M = (size_t)rand_in(&ctx, 1, 45);
        const int C = p.C;
        const size_t M = p.M, n = (size_t)C * M;
        p.nout = n;
        p.in = alloc_real(n), p.in2 = alloc_real(n), p.s = alloc_real(C), p.out = alloc_real(n);
        p.R = alloc_real(n);
        real *da = alloc_real(n), *db = alloc_real(n), *ds = alloc_real(C), *tmp = alloc_real(n);
        real *pa = alloc_real(n), *pb = alloc_real(n), *ps = alloc_real(C);
        real *aa = alloc_real(n), *ab = alloc_real(n), *as = alloc_real(C);
        double *ref = alloc_double(n), *rda = alloc_double(n), *rdb = alloc_double(n);
        double *rds = alloc_double(C);
        rng_fill_uniform(&ctx, RNG_AUX, p.in, n, -2, 2);
        rng_fill_uniform(&ctx, RNG_AUX, p.in2, n, -2, 2);
        rng_fill_uniform(&ctx, RNG_AUX, p.s, C, -1.5, 1.5);
        rng_fill_uniform(&ctx, RNG_AUX, p.R, n, -1, 1);
        for (int c = 0; c < C; c++)
            for (size_t m = 0; m < M; m++) {
                size_t i = (size_t)c * M + m;
                ref[i] = (double)p.in[i] + (double)p.s[c] * p.in2[i];
                rda[i] = p.R[i];
                rdb[i] = (double)p.s[c] * p.R[i];
                rds[c] += (double)p.R[i] * p.in2[i];
            }
        (void)sa_loss(&p);
        CU_ASSERT(harness_close_d("scale_add forward", p.out, ref, n, TOL(1e-15, 1e-6),
                                  TOL(1e-15, 1e-6)));
        /* out aliasing a, then b */
        memcpy(tmp, p.in, n * sizeof *tmp);
        scale_add_forward(tmp, tmp, p.s, p.in2, C, M);
        CU_ASSERT(memcmp(tmp, p.out, n * sizeof *tmp) == 0);
        memcpy(tmp, p.in2, n * sizeof *tmp);
        scale_add_forward(tmp, p.in, p.s, tmp, C, M);
        CU_ASSERT(memcmp(tmp, p.out, n * sizeof *tmp) == 0);

        scale_add_backward(da, ds, db, p.R, p.s, p.in2, C, M);
        CU_ASSERT(harness_close_d("scale_add da", da, rda, n, 0, 0));
        CU_ASSERT(harness_close_d("scale_add db", db, rdb, n, TOL(1e-15, 1e-6), TOL(1e-15, 1e-6)));
        CU_ASSERT(harness_close_d("scale_add ds", ds, rds, C, TOL(1e-13, 1e-5), TOL(1e-13, 1e-5)));
        /* each gradient alone (the others NULL) gives the same values */
        memset(aa, 0, n * sizeof *aa), memset(ab, 0, n * sizeof *ab), memset(as, 0, C * sizeof *as);
        scale_add_backward(aa, NULL, NULL, p.R, p.s, p.in2, C, M);
        scale_add_backward(NULL, as, NULL, p.R, p.s, p.in2, C, M);
        scale_add_backward(NULL, NULL, ab, p.R, p.s, p.in2, C, M);
        CU_ASSERT(memcmp(aa, da, n * sizeof *aa) == 0);
        CU_ASSERT(memcmp(ab, db, n * sizeof *ab) == 0);
        CU_ASSERT(memcmp(as, ds, C * sizeof *as) == 0);
        /* accumulation into prefilled buffers */
        rng_fill_uniform(&ctx, RNG_AUX, pa, n, -1, 1);
        rng_fill_uniform(&ctx, RNG_AUX, pb, n, -1, 1);
        rng_fill_uniform(&ctx, RNG_AUX, ps, C, -1, 1);
        memcpy(aa, pa, n * sizeof *aa), memcpy(ab, pb, n * sizeof *ab);
        memcpy(as, ps, C * sizeof *as);
        scale_add_backward(aa, as, ab, p.R, p.s, p.in2, C, M);
        CU_ASSERT(check_accum("scale_add accumulate da", aa, pa, da, n));
        CU_ASSERT(check_accum("scale_add accumulate db", ab, pb, db, n));
        CU_ASSERT(check_accum("scale_add accumulate ds", as, ps, ds, C));
        /* scale_add_backward_set: db overwritten (NaN before), ds accumulates */
        for (size_t i = 0; i < n; i++)
            ab[i] = (real)NAN;
        memcpy(as, ps, C * sizeof *as);
        scale_add_backward_set(as, ab, p.R, p.s, p.in2, C, M);
        CU_ASSERT(memcmp(ab, db, n * sizeof *ab) == 0);
        CU_ASSERT(check_accum("scale_add_backward_set ds", as, ps, ds, C));
#if REAL_IS_DOUBLE
        CU_ASSERT(harness_grad_check("scale_add d/da", sa_loss, &p, p.in, da, n, 1e-5, 1e-6, NULL,
                                     0));
        CU_ASSERT(harness_grad_check("scale_add d/db", sa_loss, &p, p.in2, db, n, 1e-5, 1e-6,
                                     NULL, 0));
        CU_ASSERT(harness_grad_check("scale_add d/ds", sa_loss, &p, p.s, ds, C, 1e-5, 1e-6, NULL,
                                     0));
#endif
        free(p.in), free(p.in2), free(p.s), free(p.out), free(p.R), free(da), free(db);
        free(ds), free(tmp), free(pa), free(pb), free(ps), free(aa), free(ab), free(as);
        free(ref), free(rda), free(rdb), free(rds);
    }
    ctx_free(&ctx);
}

/* out = a + b, exactly, in and out of place, below and above the size that
 * runs in parallel (2 threads). */
static void test_add(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 25);
    const size_t sizes[] = {1, 37, ELEMENTWISE_PAR_MIN + 5};
    for (int r = 0; r < 3; r++) {
        const size_t n = sizes[r];
        real *a = alloc_real(n), *b = alloc_real(n), *out = alloc_real(n), *tmp = alloc_real(n);
        rng_fill_uniform(&ctx, RNG_AUX, a, n, -2, 2);
        rng_fill_uniform(&ctx, RNG_AUX, b, n, -2, 2);
        add_forward(out, a, b, n);
        int bad = 0;
        for (size_t i = 0; i < n; i++)
            bad += out[i] != a[i] + b[i];
        CU_ASSERT_EQUAL(bad, 0);
        memcpy(tmp, a, n * sizeof *tmp);
        add_forward(tmp, tmp, b, n);
        CU_ASSERT(memcmp(tmp, out, n * sizeof *tmp) == 0);
        free(a), free(b), free(out), free(tmp);
    }
    ctx_free(&ctx);
}

int main(void)
{
    static const harness_test tests[] = {
        {"elementwise add", test_add},
        {"nearest x2 upsampling", test_upsample},
        {"global average pooling", test_gap},
        {"leaky ReLU", test_leaky_relu},
        {"per-channel scale-and-add", test_scale_add},
        {NULL, NULL},
    };
    return harness_run("elementwise", tests);
}
