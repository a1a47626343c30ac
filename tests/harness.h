/* harness.h - shared helpers for the CUnit test programs.
 *
 * Each tests/<module>/test_<name>.c is its own program whose main() calls
 * harness_run with a table of tests; it prints CUnit's run summary and exits
 * non-zero when anything failed. Comparisons print the first differing
 * element and the maximum difference, so a failure says what went wrong. */
#ifndef TESTS_HARNESS_H
#define TESTS_HARNESS_H

#include <CUnit/CUnit.h>
#include <stddef.h>

#include "sim/ctx.h"
#include "sim/engine.h"
#include "sim/real.h"
#include "sim/train.h"

typedef struct {
    const char *name;
    void (*fn)(void);
} harness_test;

/* Run one suite (tests terminated by {NULL, NULL}); returns the exit code. */
int harness_run(const char *suite, const harness_test *tests);

/* Tolerance suited to the build: tol_double in the double build, tol_float
 * in the float build. */
#define TOL(tol_double, tol_float) (REAL_IS_DOUBLE ? (tol_double) : (tol_float))

/* Compare two arrays elementwise with |a-b| <= atol + rtol*|b|. On failure
 * prints `what`, the first failing index with both values and the max abs
 * difference, and returns 0; returns 1 when all match. */
int harness_close(const char *what, const real *a, const real *b, size_t n, double rtol,
                  double atol);
/* Same for double arrays (references computed in double). */
int harness_close_d(const char *what, const real *a, const double *b, size_t n, double rtol,
                    double atol);
#define CHECK_CLOSE(what, a, b, n, rtol, atol) CU_ASSERT(harness_close(what, a, b, n, rtol, atol))

/* Central finite-difference gradient check of a scalar function f(ud) with
 * respect to x[0..n). For each i with !skip[i] (skip may be NULL), perturbs
 * x[i] by +-h, evaluates f, restores x[i], and compares to g[i] with
 *   err_i = |g_i - fd_i| / max(|g_i|, |fd_i|, floor),
 *   floor = 1e-3 * max_j |fd_j| (so exact zeros do not divide by zero).
 * Checks at most max_points indices (evenly spread; 0 = all). Prints the
 * worst error; returns 1 when every err_i <= tol. A point where f returns
 * NaN (f's way of saying the perturbation crossed a kink) is skipped and
 * counted; the check fails if every point was skipped. */
int harness_grad_check(const char *what, double (*f)(void *ud), void *ud, real *x, const real *g,
                       size_t n, double h, double tol, const unsigned char *skip,
                       size_t max_points);

/* The same, reporting in *checked how many points were compared (0 when
 * every point was skipped; then nothing is printed, so the caller may retry
 * with a smaller step). */
int harness_grad_check_n(const char *what, double (*f)(void *ud), void *ud, real *x,
                         const real *g, size_t n, double h, double tol, const unsigned char *skip,
                         size_t max_points, size_t *checked);

/* An allocator hook (sim_ctx's sim_alloc_fn) that fails once `budget`
 * allocations have succeeded, counting every request in `calls`. */
typedef struct {
    long budget;
    long calls;
} harness_failing;
void *harness_failing_alloc(void *ud, void *ptr, size_t osize, size_t nsize);

/* Assert that the context's last message contains `text`; print it if not. */
#define CHECK_MSG(ctx, text)                                                                       \
    do {                                                                                           \
        if (!strstr(ctx_errmsg(ctx), (text)))                                                      \
            fprintf(stderr, "\n  message \"%s\" lacks \"%s\"\n", ctx_errmsg(ctx), (text));         \
        CU_ASSERT(strstr(ctx_errmsg(ctx), (text)) != NULL);                                        \
    } while (0)

/* A fresh directory /tmp/<name>.XXXXXX into dir (exits the program when it
 * cannot be made); dir/name in one of four rotating buffers; dir removed with
 * everything below it (subdirectories made writable first). */
void harness_mkdtemp(char *dir, size_t len, const char *name);
const char *harness_join(const char *dir, const char *name);
void harness_rmtree(const char *dir);

/* Entries of directory dir whose name contains `part` (-1 if dir cannot be
 * read), and whether a path exists. */
int harness_count_files(const char *dir, const char *part);
int harness_file_exists(const char *path);

/* Random T-RevSNN weights large enough that every spike site fires
 * sometimes: conv weights N(0, 0.6), alpha in [0.3, 0.9], BN statistics and
 * biases near their defaults, gains around 1 (RNG_AUX stream of ctx). */
void harness_random_trev(sim_ctx *ctx, trev_model *m);
/* The same scaled for LIF neurons (threshold 1, input halved by tau = 2):
 * conv weights N(0, wstd), biases around 0.6 (a little drive toward the
 * threshold), BN weights, gains and gamma in [1, 2]. */
void harness_random_lif(sim_ctx *ctx, trev_model *m, double wstd);

/* The fmnist preset with channels {4, 8, 8, 12}, T timesteps and `model`
 * (the LIF baseline without intermediate heads). */
trev_config harness_small_cfg(int T, int model);

/* A batch of n <= 32 Fashion-MNIST training images first, first + 7, ...
 * (32 x 32, normalized); returns 0 after printing why when the data cannot
 * be loaded. The caller frees images. */
typedef struct {
    real *images; /* (n, 1, 32, 32) */
    int labels[32];
    int n;
} harness_batch;
int harness_fmnist_batch(sim_ctx *ctx, harness_batch *b, int n, int first);

/* Whole-network finite differences with relaxed spikes: harness_fd_loss is
 * the loss of m on the batch, or NaN (counted in kinks) when the
 * perturbation moved some spike input across a kink of the relaxation,
 * i.e. the model's kink signature differs from base. */
typedef struct {
    sim_ctx *ctx;
    trev_model *m;
    const harness_batch *b;
    uint64_t base; /* kink signature at the unperturbed parameters */
    int kinks;
} harness_fd;
double harness_fd_loss(void *ud);

/* The configuration of the whole-network finite-difference tests: the
 * small `model` with T 3, channels {4, 6, 6, 8}, 10 classes and LeakyReLU
 * slope 0.3 (so its negative side is exercised). */
trev_config harness_fd_cfg(int model);

/* One training step of m on b after trev_prepare(mode), from zeroed
 * gradients (checking the rebuild in rev mode): a malloc'ed copy of the
 * gradients (trev_nvalues) and the step's record in *r; NULL after printing
 * the error. */
real *harness_step_grads(sim_ctx *ctx, trev_model *m, const harness_batch *b, trev_mode mode,
                         trev_step *r);

/* Set *u up for m with relaxed spikes on batch b: prepares m in `mode`,
 * runs one training step into zeroed gradients and asserts that
 * trev_forward_loss gives the step's loss (m created for training and its
 * weights set). */
void harness_fd_start(harness_fd *u, sim_ctx *ctx, trev_model *m, const harness_batch *b,
                      trev_mode mode);

/* Check every learnable tensor of u->m (up to 6 entries each; those for
 * which skip(name) is 1 passed over, skip may be NULL) against finite
 * differences of harness_fd_loss: steps h0, h0/10, ... down to 1e-9 until
 * some point is compared, tolerance 1e-5. Messages name the tensor, with
 * " (tag)" when tag is not NULL. Returns how many tensors failed; *checked
 * receives how many were checked. */
int harness_fd_tensors(harness_fd *u, double h0, const char *tag, int (*skip)(const char *name),
                       int *checked);

/* Two gradient arrays of models shaped like m, tensor by tensor: returns
 * the worst over learnable tensors of max|a - b| / max|a| (max|a - b| when
 * a is all zero) with that tensor's name in *name; *nonzero counts the
 * tensors where a is not all zero, *learnable the learnable tensors. */
double harness_grad_diff(const trev_model *m, const real *a, const real *b, const char **name,
                         int *nonzero, int *learnable);

/* Spikes per population (the first HARNESS_MAXPOP) and timestep, summed
 * over the images run: harness_log_spikes is an engine_opts on_step
 * callback with a harness_spike_log (zeroed by the caller) as ud. */
#define HARNESS_MAXPOP 64
typedef struct {
    uint64_t count[HARNESS_MAXPOP][TREV_MAXT];
} harness_spike_log;
void harness_log_spikes(void *ud, const engine *e, int64_t t);

/* Training options for a short run on a small model: fmnist with channels
 * {4, 8, 8, c3}, T 2, 2 epochs of 10 steps of 16 images, 32 test images,
 * one thread, EMA 0.9, quiet; the checkpoint is dir/out. */
void harness_train_small(train_opts *o, const char *dir, const char *out, int c3);

/* A context for a test, seeded; tests call ctx_free at the end. */
void harness_ctx(sim_ctx *ctx, unsigned long seed);

/* Path of a file in ../shared/testdata (env SIM_TESTDATA overrides). */
const char *harness_testdata(const char *name);

#endif
