/* blas.h - one small wrapper over CBLAS GEMM.
 *
 * The BLAS is loaded at run time with dlopen so that we can pick its kernel
 * before it initializes: Debian's OpenBLAS 0.3.21 detects some virtual CPUs
 * as "Prescott" and then runs sgemm ~4x below the CPU's speed. Unless the user
 * set OPENBLAS_CORETYPE, blas_init sets it from the CPU's features (AVX-512 ->
 * SkylakeX, AVX2+FMA -> Haswell) and then opens OpenBLAS. If OpenBLAS is
 * absent it falls back to BLIS, then to the reference CBLAS. The library
 * handle is process-wide and written once (pthread_once); nothing else here
 * is mutable.
 *
 * All matrices are row-major. */
#ifndef SIM_BLAS_H
#define SIM_BLAS_H

#include <stddef.h>

#include "real.h"
#include "status.h"

typedef enum { BLAS_N = 0, BLAS_T = 1 } blas_trans;

/* Load the library (idempotent, thread-safe). On failure returns SIM_ELIB
 * and, if err is not NULL, writes a one-line reason into it. */
sim_status blas_init(char *err, size_t errlen);
/* C = alpha op(A) op(B) + beta C; op(A) is M x K, op(B) is K x N. Aborts with
 * a message if no BLAS can be loaded (call blas_init first to handle it). */
void blas_gemm(blas_trans ta, blas_trans tb, int M, int N, int K, real alpha, const real *A,
               int lda, const real *B, int ldb, real beta, real *C, int ldc);
/* The same product split over `threads` threads of our own (OpenMP): the
 * larger of M and N is cut into contiguous blocks, each computed by a
 * single-threaded BLAS call, so every output element is summed in the same
 * order whatever the thread count (results are bit-identical for 1, 2, 3...
 * threads). The BLAS library's own threading stays off: two thread pools on
 * two cores only fight. Small products run on the calling thread. Skinny
 * shapes are cut into pieces that do not depend on the thread count: a few
 * rows times many columns into column pieces, a small A B^T with a long K
 * into fixed K segments whose partial sums are added in a fixed order. */
void blas_gemm_par(int threads, blas_trans ta, blas_trans tb, int M, int N, int K, real alpha,
                   const real *A, int lda, const real *B, int ldb, real beta, real *C, int ldc);
/* C (M,N) = op(A) (M,K) B (K,N) + bias (M) broadcast along the rows, when
 * the shape is one that blas_gemm_par cuts into column pieces: each piece
 * takes its bias just before its product, while it is in cache. Returns 1
 * when done, 0 (C untouched) when the caller should fill the bias and call
 * blas_gemm_par with beta 1 instead. Same results for any thread count. */
int blas_gemm_bias_par(int threads, blas_trans ta, int M, int N, int K, const real *A, int lda,
                       const real *B, int ldb, const real *bias /* (M) */, real *C, int ldc);
/* Library, version and kernel in use, e.g. "OpenBLAS 0.3.21 (core SkylakeX)". */
const char *blas_name(void);
/* Measure GEMM speed on an n x n x n product for about `seconds`, split over
 * `threads` of our own threads as blas_gemm_par does (the way the simulator
 * runs its products); returns GFLOP/s in the build's precision. */
double blas_measure_gflops(int n, double seconds, int threads);

#endif
