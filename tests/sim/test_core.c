/* test_core.c - the core runtime: status names, role-accounted memory with a
 * failing allocator, random streams and their saved state, tensors, BLAS. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/blas.h"
#include "sim/rng.h"
#include "sim/tensor.h"
#include "tests/harness.h"

static void test_strerror(void)
{
    for (int s = 0; s < SIM_NSTATUS; s++) {
        CU_ASSERT_PTR_NOT_NULL(sim_strerror((sim_status)s));
        CU_ASSERT(strcmp(sim_strerror((sim_status)s), "unknown status") != 0);
    }
    CU_ASSERT_STRING_EQUAL(sim_strerror(SIM_NSTATUS), "unknown status");
}

static void test_mem_roles(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    void *a = mem_alloc(&ctx, MEM_PARAMS, 1000);
    void *b = mem_alloc(&ctx, MEM_ACTS, 3000);
    void *c = mem_alloc(&ctx, MEM_ACTS, 500);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT((uintptr_t)a % SIM_ALIGN == 0);
    CU_ASSERT(((unsigned char *)b)[2999] == 0); /* zeroed */
    CU_ASSERT_EQUAL(mem_current(&ctx, MEM_PARAMS), 1000);
    CU_ASSERT_EQUAL(mem_current(&ctx, MEM_ACTS), 3500);
    CU_ASSERT_EQUAL(mem_size(b), 3000);
    mem_free(&ctx, b);
    CU_ASSERT_EQUAL(mem_current(&ctx, MEM_ACTS), 500);
    CU_ASSERT_EQUAL(mem_peak(&ctx, MEM_ACTS), 3500);
    CU_ASSERT_EQUAL(ctx.mem_peak_total, 4500);
    mem_free(&ctx, a);
    mem_free(&ctx, c);
    mem_free(&ctx, NULL);
    CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
    CU_ASSERT_EQUAL(ctx.nallocs, 0);
    ctx_free(&ctx);
}

static void test_mem_failing_allocator(void)
{
    sim_ctx ctx;
    harness_failing f = {.budget = 1};
    CU_ASSERT_EQUAL_FATAL(ctx_init_alloc(&ctx, 1, harness_failing_alloc, &f), SIM_OK);
    void *a = mem_alloc(&ctx, MEM_SCRATCH, 64);
    CU_ASSERT_PTR_NOT_NULL(a);
    tensor t;
    int shape[2] = {10, 10};
    CU_ASSERT_EQUAL(tensor_alloc(&ctx, &t, MEM_ACTS, 2, shape), SIM_ENOMEM);
    CU_ASSERT_PTR_NULL(t.data);
    CU_ASSERT(strstr(ctx_errmsg(&ctx), "out of memory") != NULL);
    CU_ASSERT_EQUAL(mem_current(&ctx, MEM_ACTS), 0);
    /* overflowing sizes are refused before reaching the allocator */
    int calls = f.calls;
    CU_ASSERT_PTR_NULL(mem_calloc(&ctx, MEM_DATA, SIZE_MAX / 2, 4));
    CU_ASSERT_EQUAL(f.calls, calls);
    mem_free(&ctx, a);
    ctx_free(&ctx);
}

static void test_tensor_shapes(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    tensor t;
    int bad[3] = {2, 0, 3};
    CU_ASSERT_EQUAL(tensor_alloc(&ctx, &t, MEM_ACTS, 3, bad), SIM_ESHAPE);
    CU_ASSERT(strstr(ctx_errmsg(&ctx), "(2, 0, 3)") != NULL);
    int huge[4] = {1 << 30, 1 << 30, 1 << 30, 1 << 30};
    CU_ASSERT_EQUAL(tensor_alloc(&ctx, &t, MEM_ACTS, 4, huge), SIM_ESHAPE);
    int five[5] = {1, 1, 1, 1, 1};
    CU_ASSERT_EQUAL(tensor_alloc(&ctx, &t, MEM_ACTS, 5, five), SIM_ESHAPE);
    int ok[4] = {2, 3, 4, 5};
    CU_ASSERT_EQUAL_FATAL(tensor_alloc(&ctx, &t, MEM_ACTS, 4, ok), SIM_OK);
    CU_ASSERT_EQUAL(t.n, 120);
    CU_ASSERT(tensor_has_shape(&t, 4, ok));
    CU_ASSERT_EQUAL(mem_current(&ctx, MEM_ACTS), 120 * sizeof(real));
    /* layout round trip (N, C, HW) -> (C, N, HW) -> back */
    real *back = malloc(t.n * sizeof *back), *cn = malloc(t.n * sizeof *cn);
    for (size_t i = 0; i < t.n; i++)
        t.data[i] = (real)i;
    tensor_nchw_to_cnhw(cn, t.data, 2, 3, 20);
    CU_ASSERT_EQUAL(cn[1 * 20], (real)(3 * 20)); /* c=0, n=1 */
    CU_ASSERT_EQUAL(cn[2 * 20], (real)(1 * 20)); /* c=1, n=0 */
    tensor_cnhw_to_nchw(back, cn, 2, 3, 20);
    CU_ASSERT(memcmp(back, t.data, t.n * sizeof *back) == 0);
    free(back);
    free(cn);
    tensor_free(&ctx, &t);
    CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
    ctx_free(&ctx);
}

static void test_rng_streams(void)
{
    sim_ctx a, b;
    harness_ctx(&a, 42);
    harness_ctx(&b, 42);
    /* same seed, same numbers; streams are independent of each other */
    double x = rng_uniform(&a, RNG_DATA);
    (void)rng_uniform(&b, RNG_INIT);
    CU_ASSERT_EQUAL(x, rng_uniform(&b, RNG_DATA));
    CU_ASSERT(rng_uniform(&a, RNG_INIT) != rng_uniform(&a, RNG_DATA));
    /* save, draw, restore, draw again: identical */
    size_t n = rng_state_size(&a);
    unsigned char *st = malloc(n);
    rng_save(&a, st);
    double d1 = rng_normal(&a, RNG_AUX, 1.0);
    CU_ASSERT_EQUAL(rng_load(&a, st, n), SIM_OK);
    CU_ASSERT_EQUAL(d1, rng_normal(&a, RNG_AUX, 1.0));
    CU_ASSERT_EQUAL(rng_load(&a, st, n - 1), SIM_EFORMAT);
    free(st);
    /* truncated normal stays within 2 sd and has about the right spread */
    double s2 = 0;
    int N = 20000;
    for (int i = 0; i < N; i++) {
        double v = rng_trunc_normal(&a, RNG_INIT, 0.02);
        CU_ASSERT_FATAL(fabs(v) <= 0.04);
        s2 += v * v;
    }
    double sd = sqrt(s2 / N); /* truncation at 2 sd gives sd*0.8796 */
    CU_ASSERT(fabs(sd - 0.02 * 0.8796) < 0.0006);
    /* a shuffle is a permutation */
    int idx[100], seen[100] = {0};
    for (int i = 0; i < 100; i++)
        idx[i] = i;
    rng_shuffle(&a, RNG_DATA, idx, 100);
    int moved = 0;
    for (int i = 0; i < 100; i++) {
        seen[idx[i]]++;
        moved += idx[i] != i;
    }
    for (int i = 0; i < 100; i++)
        CU_ASSERT_EQUAL(seen[i], 1);
    CU_ASSERT(moved > 50);
    ctx_free(&a);
    ctx_free(&b);
}

static void test_blas_gemm(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 7);
    CU_ASSERT_EQUAL_FATAL(blas_init(NULL, 0), SIM_OK);
    CU_ASSERT(strlen(blas_name()) > 0);
    /* all four transpose combinations against a naive triple loop */
    const int M = 13, N = 7, K = 19;
    real A[13 * 19], Bm[19 * 7], C[13 * 7];
    double ref[13 * 7];
    rng_fill_uniform(&ctx, RNG_AUX, A, M * K, -1, 1);
    rng_fill_uniform(&ctx, RNG_AUX, Bm, K * N, -1, 1);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            /* interpret the same buffers as A (MxK or KxM) and B (KxN or NxK) */
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double s = 0;
                    for (int k = 0; k < K; k++) {
                        double a = ta ? A[k * M + i] : A[i * K + k];
                        double b = tb ? Bm[j * K + k] : Bm[k * N + j];
                        s += a * b;
                    }
                    ref[i * N + j] = 0.5 * s + 2.0 * (i - j);
                    C[i * N + j] = (real)(i - j);
                }
            blas_gemm(ta ? BLAS_T : BLAS_N, tb ? BLAS_T : BLAS_N, M, N, K, 0.5, A, ta ? M : K,
                      Bm, tb ? K : N, 2.0, C, N);
            CU_ASSERT(harness_close_d("gemm", C, ref, (size_t)M * N, TOL(1e-12, 1e-5),
                                      TOL(1e-12, 1e-5)));
        }
    CU_ASSERT(blas_measure_gflops(64, 0.01, 1) > 0.1);
    ctx_free(&ctx);
}

/* The threaded split gives bit-identical results for every thread count
 * and agrees with a naive product, for both split directions and all
 * transpose combinations. */
static void test_blas_gemm_par(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 8);
    /* the last three reach the skinny paths: column pieces (K >= M), K
     * segments of a small A B^T, and A B^T computed transposed (N > M);
     * the last one with 3 threads also once gave a block small enough for
     * OpenBLAS's small kernels, which sum in another order */
    const int shapes[][3] = {{40, 700, 37}, {300, 50, 64}, {33, 129, 300},
                             {12, 3000, 40}, {14, 20, 6000}, {20, 150, 2000}};
    for (int si = 0; si < 6; si++) {
        const int M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
        real *A = malloc((size_t)M * K * sizeof *A), *Bm = malloc((size_t)K * N * sizeof *Bm);
        real *C1 = malloc((size_t)M * N * sizeof *C1), *C2 = malloc((size_t)M * N * sizeof *C2);
        double *ref = malloc((size_t)M * N * sizeof *ref);
        rng_fill_normal(&ctx, RNG_AUX, A, (size_t)M * K, 1.0);
        rng_fill_normal(&ctx, RNG_AUX, Bm, (size_t)K * N, 1.0);
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++) {
                        double s = 0;
                        for (int k = 0; k < K; k++)
                            s += (double)(ta ? A[k * M + i] : A[i * K + k]) *
                                 (tb ? Bm[j * K + k] : Bm[k * N + j]);
                        ref[i * N + j] = s + 0.5 * (i + j);
                    }
                for (int th = 1; th <= 3; th++) {
                    real *C = th == 1 ? C1 : C2;
                    for (int i = 0; i < M; i++)
                        for (int j = 0; j < N; j++)
                            C[i * N + j] = (real)(i + j);
                    blas_gemm_par(th, ta ? BLAS_T : BLAS_N, tb ? BLAS_T : BLAS_N, M, N, K, 1, A,
                                  ta ? M : K, Bm, tb ? K : N, 0.5, C, N);
                    if (th > 1)
                        CU_ASSERT(memcmp(C1, C2, (size_t)M * N * sizeof *C1) == 0);
                }
                CU_ASSERT(harness_close_d("gemm_par", C1, ref, (size_t)M * N, TOL(1e-11, 1e-4),
                                          TOL(1e-10, 1e-3)));
            }
        free(A), free(Bm), free(C1), free(C2), free(ref);
    }
    ctx_free(&ctx);
}

int main(void)
{
    static const harness_test tests[] = {
        {"status names", test_strerror},
        {"memory accounting per role", test_mem_roles},
        {"failing allocator and overflow", test_mem_failing_allocator},
        {"tensor shapes and layouts", test_tensor_shapes},
        {"random streams", test_rng_streams},
        {"BLAS gemm vs naive", test_blas_gemm},
        {"threaded gemm split: invariant and correct", test_blas_gemm_par},
        {NULL, NULL},
    };
    return harness_run("core", tests);
}
