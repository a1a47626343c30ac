/* test_loss.c - softmax cross-entropy with label smoothing on (K, N) logits:
 * value and softmax against an independent textbook formula, stability for
 * huge logits, gradient against finite differences (double build), the
 * scale argument and accumulation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/rng.h"
#include "tests/harness.h"
#include "topology/loss.h"

static real *alloc_real(size_t n)
{
    real *p = calloc(n ? n : 1, sizeof *p);
    if (!p)
        abort();
    return p;
}

/* Textbook reference, no max subtraction (logits are moderate): returns
 * mean_n -sum_k target_k log(exp(l_k) / sum_j exp(l_j)) and the softmax. */
static double ref_ce(double *probs, const real *logits, const int *labels, int K, int N,
                     double e, double shift)
{
    double total = 0;
    for (int n = 0; n < N; n++) {
        double z = 0;
        for (int k = 0; k < K; k++)
            z += exp((double)logits[(size_t)k * N + n] - shift);
        double l = 0;
        for (int k = 0; k < K; k++) {
            double p = exp((double)logits[(size_t)k * N + n] - shift) / z;
            double t = (k == labels[n] ? 1 - e : 0) + e / K;
            probs[(size_t)k * N + n] = p;
            l -= t * log(p);
        }
        total += l;
    }
    return total / N;
}

static void test_forward(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 31);
    const double smooth[3] = {0, 0.1, 0.35};
    for (int rep = 0; rep < 9; rep++) {
        int K = 1 + (int)rng_int(&ctx, RNG_AUX, 12), N = 1 + (int)rng_int(&ctx, RNG_AUX, 7);
        size_t n = (size_t)K * N;
        double e = smooth[rep % 3];
        real *logits = alloc_real(n), *probs = alloc_real(n);
        double *rp = calloc(n, sizeof *rp);
        int *labels = calloc((size_t)N, sizeof *labels);
        rng_fill_uniform(&ctx, RNG_AUX, logits, n, -4, 4);
        for (int i = 0; i < N; i++)
            labels[i] = (int)rng_int(&ctx, RNG_AUX, (unsigned long)K);
        double ref = ref_ce(rp, logits, labels, K, N, e, 0);
        double got = ce_forward(probs, logits, labels, K, N, (real)e);
        CU_ASSERT(fabs(got - ref) <= TOL(1e-13, 1e-6) * (1 + fabs(ref)));
        CU_ASSERT(harness_close_d("ce softmax", probs, rp, n, TOL(1e-13, 1e-6), TOL(1e-15, 1e-7)));
        /* huge logits: shift every logit by +1000 (softmax and loss are
         * shift-invariant); a naive exp would overflow */
        for (size_t i = 0; i < n; i++)
            logits[i] += 1000;
        double big = ce_forward(probs, logits, labels, K, N, (real)e);
        CU_ASSERT(isfinite(big));
        double refbig = ref_ce(rp, logits, labels, K, N, e, 1000);
        CU_ASSERT(fabs(big - refbig) <= TOL(1e-12, 1e-3) * (1 + fabs(refbig)));
        CU_ASSERT(harness_close_d("ce softmax, huge logits", probs, rp, n, TOL(1e-12, 1e-3),
                                  TOL(1e-14, 1e-5)));
        free(logits), free(probs), free(rp), free(labels);
    }
    /* a known value: K = 2, logits (0, 0), smoothing 0 -> log 2 */
    real l2[2] = {0, 0}, p2[2];
    int y = 1;
    CU_ASSERT(fabs(ce_forward(p2, l2, &y, 2, 1, 0) - log(2.0)) < 1e-6);
    CU_ASSERT(p2[0] == (real)0.5 && p2[1] == (real)0.5);
    ctx_free(&ctx);
}

typedef struct {
    real *logits, *probs;
    int *labels;
    int K, N;
    real e;
} ce_problem;

static double ce_loss(void *ud)
{
    ce_problem *p = ud;
    return ce_forward(p->probs, p->logits, p->labels, p->K, p->N, p->e);
}

static void test_backward(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 32);
    const double smooth[2] = {0, 0.1};
    for (int rep = 0; rep < 6; rep++) {
        ce_problem p;
        p.K = 2 + (int)rng_int(&ctx, RNG_AUX, 11), p.N = 1 + (int)rng_int(&ctx, RNG_AUX, 7);
        p.e = (real)smooth[rep % 2];
        size_t n = (size_t)p.K * p.N;
        p.logits = alloc_real(n), p.probs = alloc_real(n);
        p.labels = calloc((size_t)p.N, sizeof *p.labels);
        real *g = alloc_real(n), *pre = alloc_real(n), *acc = alloc_real(n);
        double *ref = calloc(n, sizeof *ref), *e = calloc(n, sizeof *e);
        rng_fill_uniform(&ctx, RNG_AUX, p.logits, n, -3, 3);
        for (int i = 0; i < p.N; i++)
            p.labels[i] = (int)rng_int(&ctx, RNG_AUX, (unsigned long)p.K);
        (void)ce_loss(&p);
        ce_backward(g, p.probs, p.labels, p.K, p.N, p.e, 1);
        /* analytic reference (p - t) / N from a textbook softmax */
        double *rp = calloc(n, sizeof *rp);
        (void)ref_ce(rp, p.logits, p.labels, p.K, p.N, (double)p.e, 0);
        for (int k = 0; k < p.K; k++)
            for (int i = 0; i < p.N; i++) {
                size_t j = (size_t)k * p.N + i;
                double t = (k == p.labels[i] ? 1 - (double)p.e : 0) + (double)p.e / p.K;
                ref[j] = (rp[j] - t) / p.N;
            }
        CU_ASSERT(harness_close_d("ce gradient", g, ref, n, TOL(1e-12, 1e-5), TOL(1e-14, 1e-7)));
        /* scale is respected and the result accumulates */
        const real scale = (real)2.5;
        rng_fill_uniform(&ctx, RNG_AUX, pre, n, -1, 1);
        memcpy(acc, pre, n * sizeof *acc);
        ce_backward(acc, p.probs, p.labels, p.K, p.N, p.e, scale);
        for (size_t i = 0; i < n; i++)
            e[i] = (double)pre[i] + (double)scale * g[i];
        CU_ASSERT(harness_close_d("ce scaled, accumulated", acc, e, n, TOL(1e-14, 1e-6),
                                  TOL(1e-14, 1e-6)));
#if REAL_IS_DOUBLE
        CU_ASSERT(harness_grad_check(p.e == 0 ? "ce d/dlogits, smoothing 0"
                                              : "ce d/dlogits, smoothing 0.1",
                                     ce_loss, &p, p.logits, g, n, 1e-5, 1e-6, NULL, 0));
#endif
        free(p.logits), free(p.probs), free(p.labels), free(g), free(pre), free(acc);
        free(ref), free(e), free(rp);
    }
    ctx_free(&ctx);
}

int main(void)
{
    static const harness_test tests[] = {
        {"forward value and softmax", test_forward},
        {"gradient, scale and accumulation", test_backward},
        {NULL, NULL},
    };
    return harness_run("loss", tests);
}
