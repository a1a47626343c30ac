/* test_spike.c - the spike function Theta: forward against the definition
 * (the threshold itself fires), the spike count, and the clipped
 * straight-through gradient as the derivative of clamp(v, 0, 1), with its
 * inclusive edges and accumulation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "neurons/spike.h"
#include "sim/rng.h"
#include "tests/harness.h"

static void test_forward(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 41);
    const size_t n = 301;
    real *v = calloc(n, sizeof *v), *s = calloc(n, sizeof *s), *inpl = calloc(n, sizeof *inpl);
    rng_fill_uniform(&ctx, RNG_AUX, v, n, -1, 2);
    v[0] = (real)0.5;
    v[1] = REAL_IS_DOUBLE ? (real)nextafter(0.5, 0) : (real)nextafterf(0.5f, 0);
    v[2] = 0;
    v[3] = 1;
    v[4] = (real)-0.5;
    size_t ref_count = 0;
    for (size_t i = 0; i < n; i++)
        ref_count += (double)v[i] >= 0.5;
    size_t count = spike_forward(s, v, n);
    CU_ASSERT_EQUAL(count, ref_count);
    for (size_t i = 0; i < n; i++)
        CU_ASSERT_FATAL(s[i] == ((double)v[i] >= 0.5 ? 1 : 0));
    CU_ASSERT(s[0] == 1);
    CU_ASSERT(s[1] == 0);
    CU_ASSERT(s[2] == 0 && s[3] == 1 && s[4] == 0);
    memcpy(inpl, v, n * sizeof *inpl); /* out == v */
    CU_ASSERT_EQUAL(spike_forward(inpl, inpl, n), ref_count);
    CU_ASSERT(memcmp(inpl, s, n * sizeof *s) == 0);
    CU_ASSERT_EQUAL(spike_forward(s, v, 0), 0);
    free(v), free(s), free(inpl);
    ctx_free(&ctx);
}

/* spike_forward_bias: v + bias[c] kept in v, and its spikes, equal adding
 * the bias and then spike_forward, element for element (2 threads too). */
static void test_forward_bias(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 43);
    const int C = 7;
    const size_t M = 9000, n = C * M;
    real *v = calloc(n, sizeof *v), *ref = calloc(n, sizeof *ref), *s = calloc(n, sizeof *s);
    real *sref = calloc(n, sizeof *sref), b[7];
    rng_fill_uniform(&ctx, RNG_AUX, v, n, -1, 1);
    rng_fill_uniform(&ctx, RNG_AUX, b, C, -0.5, 1);
    for (int c = 0; c < C; c++)
        for (size_t i = 0; i < M; i++)
            ref[c * M + i] = v[c * M + i] + b[c];
    const size_t count = spike_forward(sref, ref, n);
    for (int threads = 1; threads <= 2; threads++) {
        ctx_set_threads(&ctx, threads);
        real *w = malloc(n * sizeof *w);
        memcpy(w, v, n * sizeof *w);
        CU_ASSERT_EQUAL(spike_forward_bias(s, w, b, C, M), count);
        CU_ASSERT(memcmp(w, ref, n * sizeof *w) == 0);
        CU_ASSERT(memcmp(s, sref, n * sizeof *s) == 0);
        free(w);
    }
    CU_ASSERT(count > 0 && count < n);
    free(v), free(ref), free(s), free(sref);
    ctx_free(&ctx);
}

/* The bitmaps against the real-valued functions, bit for bit: spikes and
 * window of v + bias (the threshold and both clip edges, NaN), the count,
 * the window applied to a gradient and the expansion, for row lengths on
 * both sides of the 64-bit words and of the vector lanes. */
static void test_bits(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 47);
    const size_t Ms[] = {1, 15, 16, 17, 63, 64, 65, 200, 4096};
    for (size_t t = 0; t < sizeof Ms / sizeof *Ms; t++) {
        const int C = 3;
        const size_t M = Ms[t], n = C * M, ld = spike_words(M);
        real *v = calloc(n, sizeof *v), *y = calloc(n, sizeof *y), *s = calloc(n, sizeof *s);
        real *ds = calloc(n, sizeof *ds), *dv = calloc(n, sizeof *dv);
        real *ref = calloc(n, sizeof *ref);
        uint64_t *sb = calloc(C * ld, 8), *wb = calloc(C * ld, 8);
        real b[3] = {(real)0.25, 0, (real)-0.5};
        rng_fill_uniform(&ctx, RNG_AUX, v, n, -1, 2);
        rng_fill_uniform(&ctx, RNG_AUX, ds, n, -1, 1);
        if (M >= 8) { /* the edges, after the bias of channel 1 (0) */
            v[M] = (real)0.5, v[M + 1] = 0, v[M + 2] = 1, v[M + 3] = (real)NAN;
            v[M + 4] = REAL_IS_DOUBLE ? (real)nextafter(1, 2) : (real)nextafterf(1, 2);
            v[M + 5] = (real)-1e-30; /* not subnormal: the threads run with DAZ */
        }
        for (int c = 0; c < C; c++)
            for (size_t i = 0; i < M; i++)
                y[c * M + i] = v[c * M + i] + b[c];
        const size_t count = spike_forward(s, y, n);
        CU_ASSERT_EQUAL(spike_bits_bias(sb, wb, v, b, C, M), count);
        spike_backward_set(ref, ds, y, n);
        spike_backward_bits_set(dv, ds, wb, C, M);
        int same_s = 1, same_w = 1, pad = 0;
        for (int c = 0; c < C; c++) {
            for (size_t i = 0; i < M; i++) {
                const size_t q = c * ld + i / 64;
                same_s &= ((sb[q] >> (i % 64)) & 1) == (s[c * M + i] == 1);
                same_w &= memcmp(&dv[c * M + i], &ref[c * M + i], sizeof(real)) == 0;
            }
            pad |= M % 64 && (sb[c * ld + ld - 1] | wb[c * ld + ld - 1]) >> (M % 64);
        }
        CU_ASSERT(same_s);
        CU_ASSERT(same_w);
        CU_ASSERT(!pad); /* bits past M stay 0 */
        spike_bits_expand(dv, sb, C, M);
        CU_ASSERT(memcmp(dv, s, n * sizeof *s) == 0);
        if (M >= 8) {
            const uint64_t *w1 = wb + ld, *s1 = sb + ld; /* channel 1: bias 0 */
            CU_ASSERT((*s1 & 0x3f) == 0x15); /* 0.5, 1 and 1+ fire; 0, NaN and -1e-30 do not */
            CU_ASSERT((*w1 & 0x3f) == 0x7); /* the window holds 0.5, 0 and 1 only */
        }
        free(v), free(y), free(s), free(ds), free(dv), free(ref), free(sb), free(wb);
    }
    ctx_free(&ctx);
}

/* The fused 1x1 conv + spike kernels against the plain sums: every spike
 * and window bit of y = W X + b equals the reference's except where y lies
 * within rounding of a threshold, and the windowed W^T X is close to the
 * reference where the window is open and exactly 0 elsewhere; K up to
 * SPIKE_PW_KMAX, P across word and lane tails. (On CPUs without the fused
 * kernels the reference loops are checked.) */
static void test_pw_fused(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 53);
    const int Ks[] = {1, 16, 32, 128};
    const size_t Ps[] = {1, 63, 64, 65, 1000};
    for (size_t a = 0; a < sizeof Ks / sizeof *Ks; a++)
        for (size_t b = 0; b < sizeof Ps / sizeof *Ps; b++) {
            const int K = Ks[a], M = 8;
            const size_t P = Ps[b], ld = spike_words(P);
            real *W = calloc((size_t)M * K, sizeof *W), *X = calloc((size_t)K * P, sizeof *X);
            real *bias = calloc(M, sizeof *bias), *out = calloc((size_t)M * P, sizeof *out);
            double *y = calloc((size_t)M * P, sizeof *y), *z = calloc((size_t)M * P, sizeof *z);
            uint64_t *sb = calloc((size_t)M * ld, 8), *wb = calloc((size_t)M * ld, 8);
            rng_fill_normal(&ctx, RNG_AUX, W, (size_t)M * K, 1.0 / sqrt(K));
            rng_fill_normal(&ctx, RNG_AUX, X, (size_t)K * P, 1);
            rng_fill_normal(&ctx, RNG_AUX, bias, M, 0.5);
            for (int o = 0; o < M; o++) /* y = W X + b; z = W^T X with W read as (K, M) */
                for (size_t p = 0; p < P; p++) {
                    double u = bias[o], v = 0;
                    for (int k = 0; k < K; k++) {
                        u += (double)W[(size_t)o * K + k] * X[(size_t)k * P + p];
                        v += (double)W[(size_t)k * M + o] * X[(size_t)k * P + p];
                    }
                    y[(size_t)o * P + p] = u;
                    z[(size_t)o * P + p] = v;
                }
            size_t ref = 0, bad = 0, badw = 0;
            const size_t n = spike_pw_bits(sb, wb, W, X, bias, M, K, P);
            const double tol = TOL(1e-12, 1e-4) * sqrt(K);
            spike_pwT_window(out, W, X, wb, M, K, P);
            for (int o = 0; o < M; o++)
                for (size_t p = 0; p < P; p++) {
                    const double u = y[(size_t)o * P + p];
                    const int s = (int)(sb[(size_t)o * ld + p / 64] >> (p % 64)) & 1;
                    const int w = (int)(wb[(size_t)o * ld + p / 64] >> (p % 64)) & 1;
                    ref += u >= 0.5;
                    bad += s != (u >= 0.5) && fabs(u - 0.5) > tol;
                    bad += w != (u >= 0 && u <= 1) && fabs(u) > tol && fabs(u - 1) > tol;
                    const double g = out[(size_t)o * P + p], e = w ? z[(size_t)o * P + p] : 0;
                    badw += w ? fabs(g - e) > tol * (1 + fabs(e)) : g != 0;
                }
            CU_ASSERT_EQUAL(bad, 0);
            CU_ASSERT_EQUAL(badw, 0);
            CU_ASSERT((double)n >= (double)ref - (double)M * P * 0.001 - 1 &&
                      (double)n <= (double)ref + (double)M * P * 0.001 + 1);
            int pad = 0; /* bits past P stay 0 */
            for (int o = 0; o < M && P % 64; o++)
                pad |= (sb[(size_t)o * ld + ld - 1] | wb[(size_t)o * ld + ld - 1]) >> (P % 64) != 0;
            CU_ASSERT(!pad);
            if (bad || badw || pad)
                fprintf(stderr, "\n  K %d P %zu: %zu bits and %zu gradients off\n", K, P, bad,
                        badw);
            free(W), free(X), free(bias), free(out), free(y), free(z), free(sb), free(wb);
        }
    ctx_free(&ctx);
}

typedef struct {
    real *v, *R;
    size_t n;
} clamp_problem;

#if REAL_IS_DOUBLE
/* L = sum(R .* clamp(v, 0, 1)); the straight-through gradient is its
 * derivative away from the kinks. */
static double clamp_loss(void *ud)
{
    clamp_problem *p = ud;
    double L = 0;
    for (size_t i = 0; i < p->n; i++)
        L += (double)p->R[i] * fmin(fmax((double)p->v[i], 0), 1);
    return L;
}
#endif

static void test_backward(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 42);
    const size_t n = 400;
    const double h = 1e-4; /* L is piecewise linear: no truncation error off the kinks */
    clamp_problem p = {calloc(n, sizeof(real)), calloc(n, sizeof(real)), n};
    real *dv = calloc(n, sizeof *dv), *pre = calloc(n, sizeof *pre), *acc = calloc(n, sizeof *acc);
    unsigned char *skip = calloc(n, 1);
    rng_fill_uniform(&ctx, RNG_AUX, p.v, n, -1, 2);
    rng_fill_uniform(&ctx, RNG_AUX, p.R, n, -1, 1);
    spike_backward(dv, p.R, p.v, n);
    size_t inside = 0;
    for (size_t i = 0; i < n; i++) {
        double x = p.v[i];
        skip[i] = fabs(x) < 2 * h || fabs(x - 1) < 2 * h;
        int in = x >= 0 && x <= 1;
        inside += (size_t)in;
        CU_ASSERT_FATAL(dv[i] == (in ? p.R[i] : 0));
    }
    CU_ASSERT(inside > n / 5 && inside < n - n / 5); /* both regimes are exercised */
#if REAL_IS_DOUBLE
    CU_ASSERT(harness_grad_check("spike surrogate vs d clamp(v,0,1)/dv", clamp_loss, &p, p.v, dv,
                                 n, h, 1e-6, skip, 0));
#endif
    /* accumulation */
    rng_fill_uniform(&ctx, RNG_AUX, pre, n, -1, 1);
    memcpy(acc, pre, n * sizeof *acc);
    spike_backward(acc, p.R, p.v, n);
    for (size_t i = 0; i < n; i++)
        CU_ASSERT_FATAL(acc[i] == pre[i] + dv[i]);
    /* spike_backward_set overwrites what was there (NaN here) */
    for (size_t i = 0; i < n; i++)
        acc[i] = (real)NAN;
    spike_backward_set(acc, p.R, p.v, n);
    CU_ASSERT(memcmp(acc, dv, n * sizeof *acc) == 0);

    /* the edges: 0 and 1 are inside, anything beyond them outside */
    const real above = REAL_IS_DOUBLE ? (real)(1 + 1e-9) : (real)nextafterf(1.0f, 2.0f);
    real ev[6] = {0, 1, (real)-1e-9, above, (real)0.5, (real)-0.0};
    real eds[6] = {3, 5, 7, 11, 13, 17}, edv[6] = {1, 1, 1, 1, 1, 1};
    CU_ASSERT(above > 1);
    spike_backward(edv, eds, ev, 6);
    CU_ASSERT(edv[0] == 4);
    CU_ASSERT(edv[1] == 6);
    CU_ASSERT(edv[2] == 1);
    CU_ASSERT(edv[3] == 1);
    CU_ASSERT(edv[4] == 14);
    CU_ASSERT(edv[5] == 18);
    free(p.v), free(p.R), free(dv), free(pre), free(acc), free(skip);
    ctx_free(&ctx);
}

int main(void)
{
    static const harness_test tests[] = {
        {"Theta forward and spike count", test_forward},
        {"clipped straight-through gradient", test_backward},
        {"bias and spikes in one pass", test_forward_bias},
        {"spikes and window as bitmaps", test_bits},
        {"1x1 conv fused with spikes and window", test_pw_fused},
        {NULL, NULL},
    };
    return harness_run("spike", tests);
}
