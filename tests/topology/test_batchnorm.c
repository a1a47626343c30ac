/* test_batchnorm.c - BatchNorm on (C, M): training forward, saved statistics
 * and running-statistics update against naive double references, eval mode,
 * exact gradients against finite differences, accumulation and thread
 * invariance. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/rng.h"
#include "tests/harness.h"
#include "topology/batchnorm.h"

#define EPS 1e-5
#define MOM 0.1

/* Random shape with odd sizes; M = N*H*W >= 2. */
static void random_shape(sim_ctx *ctx, int *C, int *M)
{
    int N = 1 + (int)rng_int(ctx, RNG_AUX, 3);
    int H = 1 + (int)rng_int(ctx, RNG_AUX, 5);
    int W = 2 + (int)rng_int(ctx, RNG_AUX, 5);
    *C = 1 + (int)rng_int(ctx, RNG_AUX, 6);
    *M = N * H * W;
}

/* Inputs with a channel-dependent offset and spread, so that mean and
 * variance matter; channel 2 (mod 4) has a variance near eps and channel 3
 * (mod 4) is constant, so that eps matters too. */
static void fill_input(sim_ctx *ctx, real *x, int C, int M)
{
    for (int c = 0; c < C; c++) {
        double sd = c % 4 == 2 ? 1e-2 : c % 4 == 3 ? 0 : 0.5 + 0.4 * c;
        for (int m = 0; m < M; m++)
            x[(size_t)c * M + m] = (real)(0.7 * c - 1.0 + sd * rng_normal(ctx, RNG_AUX, 1.0));
    }
}

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

static void test_forward_train(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 11);
    for (int rep = 0; rep < 8; rep++) {
        int C, M;
        random_shape(&ctx, &C, &M);
        if (rep == 0)
            C = 5; /* every kind of channel */
        size_t n = (size_t)C * M;
        real *x = alloc_real(n), *y = alloc_real(n), *mean = alloc_real(C), *rstd = alloc_real(C);
        real *w = alloc_real(C), *b = alloc_real(C), *rm = alloc_real(C), *rv = alloc_real(C);
        double *ref = alloc_double(n), *rmean = alloc_double(C), *rrstd = alloc_double(C);
        double *rrm = alloc_double(C), *rrv = alloc_double(C);
        fill_input(&ctx, x, C, M);
        rng_fill_uniform(&ctx, RNG_AUX, w, C, 0.5, 1.5);
        rng_fill_uniform(&ctx, RNG_AUX, b, C, -1, 1);
        rng_fill_uniform(&ctx, RNG_AUX, rm, C, -1, 1);
        rng_fill_uniform(&ctx, RNG_AUX, rv, C, 0.5, 2);
        for (int c = 0; c < C; c++) {
            const real *xc = x + (size_t)c * M;
            double s = 0;
            for (int m = 0; m < M; m++)
                s += xc[m];
            double mu = s / M, v = 0;
            for (int m = 0; m < M; m++)
                v += (xc[m] - mu) * (xc[m] - mu);
            v /= M;
            rmean[c] = mu;
            rrstd[c] = 1 / sqrt(v + EPS);
            for (int m = 0; m < M; m++)
                ref[(size_t)c * M + m] = (xc[m] - mu) / sqrt(v + EPS) * w[c] + b[c];
            /* unbiased variance from pairwise differences, an independent
             * formula: sum_{i<j} (x_i - x_j)^2 / (M (M - 1)) */
            double pd = 0;
            for (int i = 0; i < M; i++)
                for (int j = i + 1; j < M; j++)
                    pd += ((double)xc[i] - xc[j]) * ((double)xc[i] - xc[j]);
            double vu = pd / ((double)M * (M - 1));
            rrm[c] = (1 - MOM) * rm[c] + MOM * mu;
            rrv[c] = (1 - MOM) * rv[c] + MOM * vu;
        }
        bn_forward_train(&ctx, y, mean, rstd, x, w, b, rm, rv, C, M, (real)MOM, (real)EPS);
        CU_ASSERT(harness_close_d("bn train out", y, ref, n, TOL(1e-12, 1e-5), TOL(1e-12, 1e-5)));
        CU_ASSERT(harness_close_d("bn saved mean", mean, rmean, C, TOL(1e-12, 1e-6),
                                  TOL(1e-13, 1e-6)));
        CU_ASSERT(harness_close_d("bn saved rstd", rstd, rrstd, C, TOL(1e-12, 1e-6), 0));
        CU_ASSERT(harness_close_d("bn running mean", rm, rrm, C, TOL(1e-12, 1e-6),
                                  TOL(1e-13, 1e-6)));
        CU_ASSERT(harness_close_d("bn running var (unbiased)", rv, rrv, C, TOL(1e-12, 1e-6),
                                  TOL(1e-13, 1e-6)));
        free(x), free(y), free(mean), free(rstd), free(w), free(b), free(rm), free(rv);
        free(ref), free(rmean), free(rrstd), free(rrm), free(rrv);
    }
    ctx_free(&ctx);
}

/* NULL running pointers: no update, same output; one pointer alone updates
 * only its own statistic. */
static void test_running_null(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 12);
    const int C = 3, M = 17;
    const size_t n = (size_t)C * M;
    real x[3 * 17], y1[3 * 17], y2[3 * 17], mean[3], rstd[3], w[3] = {1, 0.5, 2}, b[3] = {0, 1, -1};
    real rm[3] = {0.25, -0.5, 1}, rv[3] = {1, 2, 0.5}, rm0[3], rv0[3];
    fill_input(&ctx, x, C, M);
    memcpy(rm0, rm, sizeof rm);
    memcpy(rv0, rv, sizeof rv);
    bn_forward_train(&ctx, y1, mean, rstd, x, w, b, NULL, NULL, C, M, (real)MOM, (real)EPS);
    CU_ASSERT(memcmp(rm, rm0, sizeof rm) == 0);
    CU_ASSERT(memcmp(rv, rv0, sizeof rv) == 0);
    bn_forward_train(&ctx, y2, mean, rstd, x, w, b, rm, NULL, C, M, (real)MOM, (real)EPS);
    CU_ASSERT(memcmp(y1, y2, n * sizeof *y1) == 0);
    CU_ASSERT(memcmp(rv, rv0, sizeof rv) == 0);
    for (int c = 0; c < C; c++)
        CU_ASSERT(rm[c] != rm0[c]);
    memcpy(rm, rm0, sizeof rm);
    bn_forward_train(&ctx, y2, mean, rstd, x, w, b, NULL, rv, C, M, (real)MOM, (real)EPS);
    CU_ASSERT(memcmp(rm, rm0, sizeof rm) == 0);
    for (int c = 0; c < C; c++)
        CU_ASSERT(rv[c] != rv0[c]);
    ctx_free(&ctx);
}

static void test_forward_eval(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 13);
    for (int rep = 0; rep < 6; rep++) {
        int C, M;
        random_shape(&ctx, &C, &M);
        size_t n = (size_t)C * M;
        real *x = alloc_real(n), *y = alloc_real(n), *w = alloc_real(C), *b = alloc_real(C);
        real *rm = alloc_real(C), *rv = alloc_real(C);
        double *ref = alloc_double(n);
        fill_input(&ctx, x, C, M);
        rng_fill_uniform(&ctx, RNG_AUX, w, C, -1.5, 1.5);
        rng_fill_uniform(&ctx, RNG_AUX, b, C, -1, 1);
        rng_fill_uniform(&ctx, RNG_AUX, rm, C, -1, 1);
        rng_fill_uniform(&ctx, RNG_AUX, rv, C, 0.1, 3);
        rv[0] = (real)2e-5; /* a running variance where eps matters */
        for (int c = 0; c < C; c++)
            for (int m = 0; m < M; m++) {
                size_t i = (size_t)c * M + m;
                ref[i] = ((double)x[i] - rm[c]) / sqrt((double)rv[c] + EPS) * w[c] + b[c];
            }
        bn_forward_eval(&ctx, y, x, w, b, rm, rv, C, M, (real)EPS);
        CU_ASSERT(harness_close_d("bn eval out", y, ref, n, TOL(1e-12, 1e-5), TOL(1e-12, 1e-5)));
        free(x), free(y), free(w), free(b), free(rm), free(rv), free(ref);
    }
    ctx_free(&ctx);
}

typedef struct {
    sim_ctx *ctx;
    real *x, *w, *b, *R, *y, *mean, *rstd;
    int C, M;
} bn_problem;

/* L = sum(R .* bn_train(x; w, b)). */
static double bn_loss(void *ud)
{
    bn_problem *p = ud;
    bn_forward_train(p->ctx, p->y, p->mean, p->rstd, p->x, p->w, p->b, NULL, NULL, p->C, p->M,
                     (real)MOM, (real)EPS);
    double L = 0;
    for (size_t i = 0; i < (size_t)p->C * p->M; i++)
        L += (double)p->R[i] * p->y[i];
    return L;
}

/* Backward into zeroed buffers and into prefilled ones: the latter must end
 * as prefill + gradient; in the double build, the gradient matches finite
 * differences w.r.t. input, weight and bias. */
static void test_backward(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 14);
    for (int rep = 0; rep < 5; rep++) {
        int C, M;
        random_shape(&ctx, &C, &M);
        if (rep == 0)
            C = 5; /* every kind of channel */
        size_t n = (size_t)C * M;
        bn_problem p = {&ctx, alloc_real(n), alloc_real(C), alloc_real(C), alloc_real(n),
                        alloc_real(n), alloc_real(C), alloc_real(C), C, M};
        real *dx = alloc_real(n), *dw = alloc_real(C), *db = alloc_real(C);
        real *px = alloc_real(n), *pw = alloc_real(C), *pb = alloc_real(C);
        double *ex = alloc_double(n), *ew = alloc_double(C), *eb = alloc_double(C);
        fill_input(&ctx, p.x, C, M);
        rng_fill_uniform(&ctx, RNG_AUX, p.w, C, 0.5, 1.5);
        rng_fill_uniform(&ctx, RNG_AUX, p.b, C, -1, 1);
        rng_fill_uniform(&ctx, RNG_AUX, p.R, n, -1, 1);
        (void)bn_loss(&p); /* saved mean and rstd */
        bn_backward(&ctx, dx, dw, db, p.R, p.x, p.mean, p.rstd, p.w, C, M);
        /* textbook gradient (Ioffe & Szegedy) from statistics recomputed in
         * double; this also covers the float build */
        for (int c = 0; c < C; c++) {
            const real *xc = p.x + (size_t)c * M, *rc = p.R + (size_t)c * M;
            double mu = 0, var = 0, sg = 0, sgx = 0;
            for (int m = 0; m < M; m++)
                mu += xc[m];
            mu /= M;
            for (int m = 0; m < M; m++)
                var += (xc[m] - mu) * (xc[m] - mu);
            var /= M;
            double rs = 1 / sqrt(var + EPS);
            for (int m = 0; m < M; m++) {
                sg += rc[m];
                sgx += rc[m] * (xc[m] - mu) * rs;
            }
            ew[c] = sgx, eb[c] = sg;
            for (int m = 0; m < M; m++) {
                double dxhat = (double)rc[m] * p.w[c], xhat = (xc[m] - mu) * rs;
                ex[(size_t)c * M + m] =
                    rs * (dxhat - p.w[c] * sg / M - xhat * p.w[c] * sgx / M);
            }
        }
        CU_ASSERT(harness_close_d("bn din vs textbook", dx, ex, n, TOL(1e-9, 2e-4),
                                  TOL(1e-9, 2e-4)));
        CU_ASSERT(harness_close_d("bn dweight vs textbook", dw, ew, C, TOL(1e-9, 2e-4),
                                  TOL(1e-9, 2e-4)));
        CU_ASSERT(harness_close_d("bn dbias vs textbook", db, eb, C, TOL(1e-12, 1e-5),
                                  TOL(1e-12, 1e-5)));
        rng_fill_uniform(&ctx, RNG_AUX, px, n, -1, 1);
        rng_fill_uniform(&ctx, RNG_AUX, pw, C, -1, 1);
        rng_fill_uniform(&ctx, RNG_AUX, pb, C, -1, 1);
        for (size_t i = 0; i < n; i++)
            ex[i] = (double)px[i] + dx[i];
        for (int c = 0; c < C; c++) {
            ew[c] = (double)pw[c] + dw[c];
            eb[c] = (double)pb[c] + db[c];
        }
        bn_backward(&ctx, px, pw, pb, p.R, p.x, p.mean, p.rstd, p.w, C, M);
        CU_ASSERT(harness_close_d("bn accumulate din", px, ex, n, TOL(1e-14, 1e-6),
                                  TOL(1e-14, 1e-6)));
        CU_ASSERT(harness_close_d("bn accumulate dweight", pw, ew, C, TOL(1e-14, 1e-6),
                                  TOL(1e-14, 1e-6)));
        CU_ASSERT(harness_close_d("bn accumulate dbias", pb, eb, C, TOL(1e-14, 1e-6),
                                  TOL(1e-14, 1e-6)));
        /* bn_backward_set: din overwritten (NaN before), dweight and dbias
         * still accumulate */
        for (size_t i = 0; i < n; i++)
            px[i] = (real)NAN;
        memcpy(pw, dw, C * sizeof *pw), memcpy(pb, db, C * sizeof *pb);
        bn_backward_set(&ctx, px, pw, pb, p.R, p.x, p.mean, p.rstd, p.w, C, M);
        CU_ASSERT(memcmp(px, dx, n * sizeof *px) == 0);
        for (int c = 0; c < C; c++) {
            CU_ASSERT(pw[c] == dw[c] + dw[c]);
            CU_ASSERT(pb[c] == db[c] + db[c]);
        }
#if REAL_IS_DOUBLE
        /* h well below the 1e-2 spread of the near-eps channel, where the
         * third derivative is large */
        CU_ASSERT(harness_grad_check("bn d/din", bn_loss, &p, p.x, dx, n, 1e-6, 1e-6, NULL, 0));
        CU_ASSERT(harness_grad_check("bn d/dweight", bn_loss, &p, p.w, dw, C, 1e-5, 1e-6, NULL,
                                     0));
        CU_ASSERT(harness_grad_check("bn d/dbias", bn_loss, &p, p.b, db, C, 1e-5, 1e-6, NULL, 0));
#endif
        free(p.x), free(p.w), free(p.b), free(p.R), free(p.y), free(p.mean), free(p.rstd);
        free(dx), free(dw), free(db), free(px), free(pw), free(pb), free(ex), free(ew), free(eb);
    }
    ctx_free(&ctx);
}

/* Forward (train and eval) and backward with 2 threads are bit-identical to
 * 1 thread; the shape is large enough to run the parallel loops. */
static void test_threads(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 15);
    const int C = 37, M = 3 * 25 * 27; /* C*M far above the serial cutoff */
    const size_t n = (size_t)C * M;
    real *x = alloc_real(n), *R = alloc_real(n), *w = alloc_real(C), *b = alloc_real(C);
    real *y[2], *ye[2], *mean[2], *rstd[2], *rm[2], *rv[2], *dx[2], *dw[2], *db[2];
    fill_input(&ctx, x, C, M);
    rng_fill_uniform(&ctx, RNG_AUX, R, n, -1, 1);
    rng_fill_uniform(&ctx, RNG_AUX, w, C, 0.5, 1.5);
    rng_fill_uniform(&ctx, RNG_AUX, b, C, -1, 1);
    for (int t = 0; t < 2; t++) {
        y[t] = alloc_real(n), ye[t] = alloc_real(n), dx[t] = alloc_real(n);
        mean[t] = alloc_real(C), rstd[t] = alloc_real(C), rm[t] = alloc_real(C);
        rv[t] = alloc_real(C), dw[t] = alloc_real(C), db[t] = alloc_real(C);
        for (int c = 0; c < C; c++)
            rv[t][c] = 1;
        ctx_set_threads(&ctx, t + 1);
        bn_forward_train(&ctx, y[t], mean[t], rstd[t], x, w, b, rm[t], rv[t], C, M, (real)MOM,
                         (real)EPS);
        bn_forward_eval(&ctx, ye[t], x, w, b, rm[t], rv[t], C, M, (real)EPS);
        bn_backward(&ctx, dx[t], dw[t], db[t], R, x, mean[t], rstd[t], w, C, M);
    }
    CU_ASSERT(memcmp(y[0], y[1], n * sizeof(real)) == 0);
    CU_ASSERT(memcmp(ye[0], ye[1], n * sizeof(real)) == 0);
    CU_ASSERT(memcmp(mean[0], mean[1], C * sizeof(real)) == 0);
    CU_ASSERT(memcmp(rstd[0], rstd[1], C * sizeof(real)) == 0);
    CU_ASSERT(memcmp(rm[0], rm[1], C * sizeof(real)) == 0);
    CU_ASSERT(memcmp(rv[0], rv[1], C * sizeof(real)) == 0);
    CU_ASSERT(memcmp(dx[0], dx[1], n * sizeof(real)) == 0);
    CU_ASSERT(memcmp(dw[0], dw[1], C * sizeof(real)) == 0);
    CU_ASSERT(memcmp(db[0], db[1], C * sizeof(real)) == 0);
    for (int t = 0; t < 2; t++) {
        free(y[t]), free(ye[t]), free(dx[t]), free(mean[t]), free(rstd[t]);
        free(rm[t]), free(rv[t]), free(dw[t]), free(db[t]);
    }
    free(x), free(R), free(w), free(b);
    ctx_free(&ctx);
}

int main(void)
{
    static const harness_test tests[] = {
        {"training forward, saved and running statistics", test_forward_train},
        {"NULL running statistics are left alone", test_running_null},
        {"eval forward uses running statistics", test_forward_eval},
        {"backward: accumulation and finite differences", test_backward},
        {"2 threads bit-identical to 1", test_threads},
        {NULL, NULL},
    };
    return harness_run("batchnorm", tests);
}
