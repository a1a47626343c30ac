/* blas.c - run-time loaded CBLAS with the kernel chosen from the CPU. */
#include "blas.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CBLAS ABI constants (identical in every CBLAS). */
enum { CB_ROW_MAJOR = 101, CB_NO_TRANS = 111, CB_TRANS = 112 };

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int,
                         const float *, int, float, float *, int);
typedef void (*dgemm_fn)(int, int, int, int, int, int, double, const double *, int,
                         const double *, int, double, double *, int);
typedef char *(*str_fn)(void);
typedef void (*setint_fn)(int);

static struct {
    pthread_once_t once;
    void *handle;
    sgemm_fn sgemm;
    dgemm_fn dgemm;
    setint_fn set_threads;
    char name[160];
    char err[256];
} B = {.once = PTHREAD_ONCE_INIT};

/* Choose an OpenBLAS kernel from the CPU features, unless the user chose. */
static const char *pick_coretype(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return "Haswell";
    return NULL; /* let OpenBLAS decide */
}

static int try_open(const char *lib)
{
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return 0;
    sgemm_fn s = (sgemm_fn)dlsym(h, "cblas_sgemm");
    dgemm_fn d = (dgemm_fn)dlsym(h, "cblas_dgemm");
    if (!s || !d) {
        dlclose(h);
        return 0;
    }
    B.handle = h;
    B.sgemm = s;
    B.dgemm = d;
    return 1;
}

static void load(void)
{
    static const char *const openblas[] = {"libopenblas.so.0", "libopenblas.so"};
    static const char *const others[] = {"libblis.so.4", "libblis.so", "libcblas.so.3",
                                         "libblas.so.3"};
    const char *user = getenv("OPENBLAS_CORETYPE");
    const char *core = user && *user ? user : pick_coretype();
    if (!(user && *user) && core)
        setenv("OPENBLAS_CORETYPE", core, 0);
    /* We never use OpenBLAS's own threads (blas_gemm_par splits products
     * over our OpenMP team), but its pool is started at load and its idle
     * workers spin in sched_yield, taking time from our threads on a 2-core
     * machine (measured: 3-7% faster training with the pool off). Unless the
     * user chose, start it with one thread. */
    setenv("OPENBLAS_NUM_THREADS", "1", 0);
    for (size_t i = 0; i < sizeof openblas / sizeof *openblas && !B.handle; i++) {
        if (try_open(openblas[i])) {
            str_fn cfg = (str_fn)dlsym(B.handle, "openblas_get_config");
            str_fn corename = (str_fn)dlsym(B.handle, "openblas_get_corename");
            B.set_threads = (setint_fn)dlsym(B.handle, "openblas_set_num_threads");
            char ver[64] = "OpenBLAS";
            if (cfg) { /* "OpenBLAS 0.3.21 NO_LAPACKE ..." -> its first two words */
                const char *c = cfg();
                size_t k = 0;
                for (int words = 0; c[k] && k + 1 < sizeof ver; k++) {
                    if (c[k] == ' ' && ++words == 2)
                        break;
                    ver[k] = c[k];
                }
                ver[k] = '\0';
            }
            snprintf(B.name, sizeof B.name, "%s (%s, core %s%s)", ver, openblas[i],
                     corename ? corename() : "?", user && *user ? ", from OPENBLAS_CORETYPE" : "");
        }
    }
    for (size_t i = 0; i < sizeof others / sizeof *others && !B.handle; i++) {
        if (try_open(others[i])) {
            B.set_threads = (setint_fn)dlsym(B.handle, "bli_thread_set_num_threads");
            snprintf(B.name, sizeof B.name, "%s", others[i]);
        }
    }
    if (!B.handle)
        snprintf(B.err, sizeof B.err,
                 "no CBLAS library found (tried libopenblas.so.0, libblis.so.4, libcblas.so.3, "
                 "libblas.so.3); install libopenblas0 (make deps)");
    else if (B.set_threads)
        B.set_threads(1);
}

sim_status blas_init(char *err, size_t errlen)
{
    pthread_once(&B.once, load);
    if (B.handle)
        return SIM_OK;
    if (err && errlen)
        snprintf(err, errlen, "%s", B.err);
    return SIM_ELIB;
}

static void ensure(void)
{
    if (blas_init(NULL, 0) != SIM_OK) {
        fprintf(stderr, "blas: %s\n", B.err);
        abort();
    }
}

void blas_gemm(blas_trans ta, blas_trans tb, int M, int N, int K, real alpha, const real *A,
               int lda, const real *Bm, int ldb, real beta, real *C, int ldc)
{
    ensure();
    if (M == 0 || N == 0)
        return;
    int a = ta == BLAS_T ? CB_TRANS : CB_NO_TRANS;
    int b = tb == BLAS_T ? CB_TRANS : CB_NO_TRANS;
#ifdef SIM_DOUBLE
    B.dgemm(CB_ROW_MAJOR, a, b, M, N, K, alpha, A, lda, Bm, ldb, beta, C, ldc);
#else
    B.sgemm(CB_ROW_MAJOR, a, b, M, N, K, alpha, A, lda, Bm, ldb, beta, C, ldc);
#endif
}

/* OpenBLAS (0.3.21, x86-64) hands a product with M*N*K at most this to its
 * small-matrix kernels, which skip packing; with B not transposed any shape
 * qualifies, with only B transposed M*N must be at most GEMM_SMALL_MN too.
 * The skinny products of a conv layer (a few output channels, a whole batch
 * of positions) run about twice as fast cut into pieces below the limit
 * than in one call. Other libraries just see smaller products. */
#define GEMM_SMALL_MNK 1000000.0
#define GEMM_SMALL_MN 1200
/* K segments of a weight-gradient product (A B^T with small M*N), each
 * summed into its own partial; a fixed number, whatever the thread count. */
#define GEMM_KSEG 4
/* The largest C (elements) that a B^T product computes transposed on the
 * stack when N > M: OpenBLAS is up to 1.5x faster with the longer side of
 * the output first. */
#define GEMM_SWAP_MAX 16384
/* Below this many flops a product stays on the calling thread. */
#define GEMM_PAR_FLOPS 4e6

/* Largest power of two p <= cap with p * per <= GEMM_SMALL_MNK; 0 if none. */
static int small_piece(double per, int cap)
{
    int p = 0;
    for (int q = 1; q <= cap && (double)q * per <= GEMM_SMALL_MNK; q *= 2)
        p = q;
    return p;
}

/* Column pieces for C (M,N) = op(A) (M,K) B (K,N): 0 when one call is
 * better. Pieces pay when K >= M (few output rows per position); with more
 * rows than K the packed kernels win. */
static int npiece_width(int M, int N, int K)
{
    if (K < M)
        return 0;
    const int nc = small_piece((double)M * K, N / 2);
    return nc >= 64 ? nc : 0;
}

/* C (M,N) = alpha op(A) B + beta C, or with rowbias alpha op(A) B + rowbias
 * (beta unused), in pieces of nc columns of B and C; the bias is written
 * just before its piece, while the piece is in cache. The pieces do not
 * depend on the thread count, so neither do the sums. */
static void gemm_npieces(int threads, blas_trans ta, int M, int N, int K, real alpha,
                         const real *A, int lda, const real *Bm, int ldb, real beta,
                         const real *rowbias, real *C, int ldc, int nc)
{
    const int np = (N + nc - 1) / nc;
    const int par = threads > 1 && 2.0 * M * N * K >= GEMM_PAR_FLOPS;
#pragma omp parallel for num_threads(threads) schedule(static) if (par)
    for (int p = 0; p < np; p++) {
        const int o = p * nc, n = N - o < nc ? N - o : nc;
        if (rowbias)
            for (int i = 0; i < M; i++) {
                real *c = C + (size_t)i * ldc + o, b = rowbias[i];
                for (int j = 0; j < n; j++)
                    c[j] = b;
            }
        blas_gemm(ta, BLAS_N, M, n, K, alpha, A, lda, Bm + o, ldb, rowbias ? 1 : beta, C + o,
                  ldc);
    }
}

/* C (M,N) = alpha A (M,K) B^T (K,N) + beta C for M*N <= GEMM_SMALL_MN and a
 * long K (a weight gradient summed over positions): K is cut into
 * GEMM_KSEG fixed segments, each summed in kc-long small products into a
 * partial on the stack, and the partials are added in a fixed order. */
static void gemm_ksegments(int threads, int M, int N, int K, real alpha, const real *A, int lda,
                           const real *Bm, int ldb, real beta, real *C, int ldc, int kc)
{
    real part[GEMM_KSEG][GEMM_SMALL_MN];
    const int MN = M * N;
    const int nch = (K + kc - 1) / kc; /* chunks of kc, dealt to the segments */
    const int par = threads > 1 && 2.0 * M * N * K >= GEMM_PAR_FLOPS;
#pragma omp parallel for num_threads(threads) schedule(static) if (par)
    for (int sgi = 0; sgi < GEMM_KSEG; sgi++) {
        const int c0 = nch * sgi / GEMM_KSEG, c1 = nch * (sgi + 1) / GEMM_KSEG;
        if (c0 == c1)
            for (int i = 0; i < MN; i++)
                part[sgi][i] = 0;
        for (int c = c0; c < c1; c++) {
            const int k0 = c * kc, kn = K - k0 < kc ? K - k0 : kc;
            blas_gemm(BLAS_N, BLAS_T, M, N, kn, alpha, A + k0, lda, Bm + k0, ldb, c == c0 ? 0 : 1,
                      part[sgi], N);
        }
    }
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            real s = part[0][i * N + j];
            for (int sgi = 1; sgi < GEMM_KSEG; sgi++)
                s += part[sgi][i * N + j];
            real *c = C + (size_t)i * ldc + j;
            *c = beta == 0 ? s : beta * *c + s;
        }
}

/* The general split: the larger of M and N cut into one block per thread. */
static void gemm_split(int threads, blas_trans ta, blas_trans tb, int M, int N, int K, real alpha,
                       const real *A, int lda, const real *Bm, int ldb, real beta, real *C,
                       int ldc)
{
    const double flops = 2.0 * M * N * K;
    if (threads <= 1 || flops < GEMM_PAR_FLOPS || (M < 32 && N < 32)) {
        blas_gemm(ta, tb, M, N, K, alpha, A, lda, Bm, ldb, beta, C, ldc);
        return;
    }
    const int split_n = N >= M;
    const int len = split_n ? N : M, other = split_n ? M : N, align = 16;
    /* blocks of equal size rounded to `align`, one per thread, and each
     * above the small-kernel limit: a block that OpenBLAS sent to its small
     * kernels would sum in another order than the whole product does */
    int chunk = (len + threads - 1) / threads;
    const int wmin = (int)(GEMM_SMALL_MNK / ((double)other * K)) + 1;
    if (chunk < wmin)
        chunk = wmin;
    chunk = (chunk + align - 1) / align * align;
    /* the last block takes the remainder, so none is narrower than chunk */
    const int nblk = len / chunk > 1 ? len / chunk : 1;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int b = 0; b < nblk; b++) {
        const int o = b * chunk, n = b == nblk - 1 ? len - o : chunk;
        if (split_n) { /* columns o..o+n of B and C */
            const real *Bb = tb == BLAS_N ? Bm + o : Bm + (size_t)o * ldb;
            blas_gemm(ta, tb, M, n, K, alpha, A, lda, Bb, ldb, beta, C + o, ldc);
        } else { /* rows o..o+n of A and C */
            const real *Ab = ta == BLAS_N ? A + (size_t)o * lda : A + o;
            blas_gemm(ta, tb, n, N, K, alpha, Ab, lda, Bm, ldb, beta, C + (size_t)o * ldc, ldc);
        }
    }
}

void blas_gemm_par(int threads, blas_trans ta, blas_trans tb, int M, int N, int K, real alpha,
                   const real *A, int lda, const real *Bm, int ldb, real beta, real *C, int ldc)
{
    ensure();
    if (M == 0 || N == 0)
        return;
    if (tb == BLAS_N) { /* forward and input-gradient products */
        const int nc = npiece_width(M, N, K);
        if (nc) {
            gemm_npieces(threads, ta, M, N, K, alpha, A, lda, Bm, ldb, beta, NULL, C, ldc, nc);
            return;
        }
    } else if (ta == BLAS_N && (size_t)M * N <= GEMM_SMALL_MN) { /* small weight gradient */
        const int kc = small_piece((double)M * N, K / (2 * GEMM_KSEG));
        if (kc >= 32) {
            gemm_ksegments(threads, M, N, K, alpha, A, lda, Bm, ldb, beta, C, ldc, kc);
            return;
        }
    } else if (ta == BLAS_N && N > M && (size_t)M * N <= GEMM_SWAP_MAX &&
               (double)M * N * K >= 4 * GEMM_SMALL_MNK) {
        /* C^T (N,M) = B A^T on the stack, then C = beta C + (C^T)^T. The
         * product is big enough that no thread's block reaches the small
         * kernels, so the sums stay the same for any thread count. */
        real ct[GEMM_SWAP_MAX];
        gemm_split(threads, BLAS_N, BLAS_T, N, M, K, alpha, Bm, ldb, A, lda, 0, ct, M);
        for (int i = 0; i < M; i++) {
            real *c = C + (size_t)i * ldc;
            for (int j = 0; j < N; j++)
                c[j] = beta == 0 ? ct[(size_t)j * M + i] : beta * c[j] + ct[(size_t)j * M + i];
        }
        return;
    }
    gemm_split(threads, ta, tb, M, N, K, alpha, A, lda, Bm, ldb, beta, C, ldc);
}

int blas_gemm_bias_par(int threads, blas_trans ta, int M, int N, int K, const real *A, int lda,
                       const real *Bm, int ldb, const real *bias, real *C, int ldc)
{
    ensure();
    const int nc = npiece_width(M, N, K);
    if (M == 0 || N == 0 || !nc)
        return 0;
    gemm_npieces(threads, ta, M, N, K, 1, A, lda, Bm, ldb, 0, bias, C, ldc, nc);
    return 1;
}

const char *blas_name(void)
{
    if (blas_init(NULL, 0) != SIM_OK)
        return "none";
    return B.name;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

double blas_measure_gflops(int n, double seconds, int threads)
{
    ensure();
    size_t nn = (size_t)n * (size_t)n;
    real *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = malloc(nn * sizeof *c);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return 0.0;
    }
    for (size_t i = 0; i < nn; i++) {
        a[i] = (real)((i % 7) * 0.1);
        b[i] = (real)((i % 5) * 0.1);
        c[i] = 0;
    }
    blas_gemm_par(threads, BLAS_N, BLAS_N, n, n, n, 1, a, n, b, n, 0, c, n); /* warm up */
    /* median of several timed bursts */
    double rates[7];
    int nr = 0;
    double t_end = now() + seconds;
    while (nr < 7 && (nr < 3 || now() < t_end)) {
        int reps = 0;
        double t0 = now(), t1;
        do {
            blas_gemm_par(threads, BLAS_N, BLAS_N, n, n, n, 1, a, n, b, n, 0, c, n);
            reps++;
            t1 = now();
        } while (t1 - t0 < seconds / 7);
        rates[nr++] = 2.0 * n * (double)nn * reps / (t1 - t0) * 1e-9;
    }
    free(a), free(b), free(c);
    for (int i = 1; i < nr; i++) /* insertion sort */
        for (int j = i; j > 0 && rates[j] < rates[j - 1]; j--) {
            double t = rates[j];
            rates[j] = rates[j - 1];
            rates[j - 1] = t;
        }
    return rates[nr / 2];
}
