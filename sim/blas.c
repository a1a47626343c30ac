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

void blas_gemm_par(int threads, blas_trans ta, blas_trans tb, int M, int N, int K, real alpha,
                   const real *A, int lda, const real *Bm, int ldb, real beta, real *C, int ldc)
{
    const double flops = 2.0 * M * N * K;
    if (threads <= 1 || flops < 4e6 || (M < 32 && N < 32)) {
        blas_gemm(ta, tb, M, N, K, alpha, A, lda, Bm, ldb, beta, C, ldc);
        return;
    }
    ensure();
    const int split_n = N >= M;
    const int len = split_n ? N : M, align = 16;
    /* blocks of equal size rounded to `align`, one per thread */
    int chunk = (len + threads - 1) / threads;
    chunk = (chunk + align - 1) / align * align;
    const int nblk = (len + chunk - 1) / chunk;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int b = 0; b < nblk; b++) {
        const int o = b * chunk, n = len - o < chunk ? len - o : chunk;
        if (split_n) { /* columns o..o+n of B and C */
            const real *Bb = tb == BLAS_N ? Bm + o : Bm + (size_t)o * ldb;
            blas_gemm(ta, tb, M, n, K, alpha, A, lda, Bb, ldb, beta, C + o, ldc);
        } else { /* rows o..o+n of A and C */
            const real *Ab = ta == BLAS_N ? A + (size_t)o * lda : A + o;
            blas_gemm(ta, tb, n, N, K, alpha, Ab, lda, Bm, ldb, beta, C + (size_t)o * ldc, ldc);
        }
    }
}

const char *blas_name(void)
{
    if (blas_init(NULL, 0) != SIM_OK)
        return "none";
    return B.name;
}

void blas_set_threads(int n)
{
    if (blas_init(NULL, 0) == SIM_OK && B.set_threads)
        B.set_threads(n < 1 ? 1 : n);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

double blas_measure_gflops(int n, double seconds)
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
    blas_gemm(BLAS_N, BLAS_N, n, n, n, 1, a, n, b, n, 0, c, n); /* warm up */
    /* median of several timed bursts */
    double rates[7];
    int nr = 0;
    double t_end = now() + seconds;
    while (nr < 7 && (nr < 3 || now() < t_end)) {
        int reps = 0;
        double t0 = now(), t1;
        do {
            blas_gemm(BLAS_N, BLAS_N, n, n, n, 1, a, n, b, n, 0, c, n);
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
