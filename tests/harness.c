/* harness.c - CUnit runner and numeric comparison helpers for the tests. */
#include "harness.h"

#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/dataset.h"
#include "sim/blas.h"
#include "sim/rng.h"
#include "topology/trevsnn.h"

int harness_run(const char *suite, const harness_test *tests)
{
    char err[256];
    if (blas_init(err, sizeof err) != SIM_OK) {
        fprintf(stderr, "%s: %s\n", suite, err);
        return 1;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite(suite, NULL, NULL);
    if (!s) {
        CU_cleanup_registry();
        return 1;
    }
    for (const harness_test *t = tests; t->name; t++)
        if (!CU_add_test(s, t->name, t->fn)) {
            CU_cleanup_registry();
            return 1;
        }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned ran = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (ran == 0) {
        fprintf(stderr, "%s: no test ran\n", suite);
        return 1;
    }
    return failed ? 1 : 0;
}

static int close_impl(const char *what, const real *a, const real *bf, const double *bd,
                      size_t n, double rtol, double atol)
{
    double maxd = 0;
    size_t first = n, worst = 0;
    for (size_t i = 0; i < n; i++) {
        double x = (double)a[i], y = bd ? bd[i] : (double)bf[i];
        double d = fabs(x - y);
        int bad = !(d <= atol + rtol * fabs(y)); /* NaN counts as bad */
        if (bad && first == n)
            first = i;
        if (!(d <= maxd)) {
            maxd = d;
            worst = i;
        }
    }
    if (first == n)
        return 1;
    double fy = bd ? bd[first] : (double)bf[first];
    double wy = bd ? bd[worst] : (double)bf[worst];
    fprintf(stderr,
            "\n  %s: mismatch at [%zu]: got %.17g, expected %.17g; max |diff| %.3g at [%zu] "
            "(got %.17g, expected %.17g); rtol %g atol %g, n %zu\n",
            what, first, (double)a[first], fy, maxd, worst, (double)a[worst], wy, rtol, atol, n);
    return 0;
}

int harness_close(const char *what, const real *a, const real *b, size_t n, double rtol,
                  double atol)
{
    return close_impl(what, a, b, NULL, n, rtol, atol);
}

int harness_close_d(const char *what, const real *a, const double *b, size_t n, double rtol,
                    double atol)
{
    return close_impl(what, a, NULL, b, n, rtol, atol);
}

int harness_grad_check(const char *what, double (*f)(void *ud), void *ud, real *x, const real *g,
                       size_t n, double h, double tol, const unsigned char *skip,
                       size_t max_points)
{
    return harness_grad_check_n(what, f, ud, x, g, n, h, tol, skip, max_points, NULL);
}

int harness_grad_check_n(const char *what, double (*f)(void *ud), void *ud, real *x,
                         const real *g, size_t n, double h, double tol, const unsigned char *skip,
                         size_t max_points, size_t *checked)
{
    size_t step = (max_points && n > max_points) ? n / max_points : 1;
    size_t npts = 0, nskip = 0;
    double *fd = calloc(n, sizeof *fd);
    if (!fd)
        return 0;
    double fdmax = 0;
    for (size_t i = 0; i < n; i += step) {
        if (skip && skip[i])
            continue;
        real keep = x[i];
        x[i] = (real)(keep + h);
        double fp = f(ud);
        x[i] = (real)(keep - h);
        double fm = f(ud);
        x[i] = keep;
        fd[i] = (fp - fm) / (2 * h);
        if (isnan(fd[i])) { /* f said this point is not smooth here: skip it */
            nskip++;
            continue;
        }
        if (fabs(fd[i]) > fdmax)
            fdmax = fabs(fd[i]);
        npts++;
    }
    double floor_ = fdmax > 0 ? 1e-3 * fdmax : 1e-12;
    double worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i += step) {
        if ((skip && skip[i]) || isnan(fd[i]))
            continue;
        double gi = (double)g[i];
        double den = fmax(fmax(fabs(gi), fabs(fd[i])), floor_);
        double e = fabs(gi - fd[i]) / den;
        if (!(e <= worst)) {
            worst = e;
            wi = i;
        }
    }
    int ok = worst <= tol && npts > 0;
    if (checked)
        *checked = npts;
    if ((!ok && (npts > 0 || !checked)) || getenv("SIM_TEST_VERBOSE"))
        fprintf(stderr,
                "\n  %s: gradient check %s: worst rel err %.3g at [%zu] (analytic %.12g, "
                "numeric %.12g), %zu points (%zu skipped as not smooth), h %g, tol %g\n",
                what, ok ? "ok" : "FAILED", worst, wi, (double)g[wi], fd[wi], npts, nskip,
                h, tol);
    free(fd);
    return ok;
}

void harness_ctx(sim_ctx *ctx, unsigned long seed)
{
    if (ctx_init(ctx, seed) != SIM_OK) {
        fprintf(stderr, "cannot initialize context\n");
        exit(1);
    }
}

const char *harness_testdata(const char *name)
{
    static char buf[4096];
    const char *dir = getenv("SIM_TESTDATA");
    snprintf(buf, sizeof buf, "%s/%s", dir && *dir ? dir : "../shared/testdata", name);
    return buf;
}

/* Random parameters by leaf name: conv weights N(0, wstd), alpha in [0.3,
 * 0.9], running_var in [0.5, 1.5], running_mean in [-0.2, 0.2], biases
 * bias_mid + span_b * (u - 1/2), the rest (BN weights, gains, gamma)
 * gain_lo + span_g * u. */
static void random_params(sim_ctx *ctx, trev_model *m, double wstd, double bias_mid,
                          double span_b, double gain_lo, double span_g)
{
    real *p = trev_params(m);
    for (int i = 0; i < trev_nparams(m); i++) {
        const trev_param *t = trev_param_at(m, i);
        real *v = p + t->offset;
        const char *leaf = strrchr(t->name, '/') + 1;
        for (size_t j = 0; j < t->n; j++) {
            double u = rng_uniform(ctx, RNG_AUX);
            if (!strcmp(leaf, "weight") && t->ndim == 4)
                v[j] = (real)rng_normal(ctx, RNG_AUX, wstd);
            else if (!strcmp(leaf, "alpha"))
                v[j] = (real)(0.3 + 0.6 * u);
            else if (!strcmp(leaf, "running_var"))
                v[j] = (real)(0.5 + u);
            else if (!strcmp(leaf, "running_mean"))
                v[j] = (real)(0.4 * (u - 0.5));
            else if (!strcmp(leaf, "bias"))
                v[j] = (real)(bias_mid + span_b * (u - 0.5));
            else
                v[j] = (real)(gain_lo + span_g * u);
        }
    }
}

void harness_random_trev(sim_ctx *ctx, trev_model *m)
{
    random_params(ctx, m, 0.6, 0.0, 0.4, 0.7, 0.6);
}

void harness_random_lif(sim_ctx *ctx, trev_model *m, double wstd)
{
    random_params(ctx, m, wstd, 0.6, 0.8, 1.0, 1.0);
}

trev_config harness_small_cfg(int T, int model)
{
    trev_config c;
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    trev_preset(&ctx, &c, "fmnist");
    ctx_free(&ctx);
    int ch[4] = {4, 8, 8, 12};
    memcpy(c.channels, ch, sizeof ch);
    c.T = T;
    c.model = model;
    if (model == TREV_MODEL_LIF)
        c.inter_supv = 0;
    return c;
}

int harness_fmnist_batch(sim_ctx *ctx, harness_batch *b, int n, int first)
{
    dataset ds;
    if (dataset_load_fmnist(ctx, &ds, NULL, 0) != SIM_OK) {
        fprintf(stderr, "\n  %s\n", ctx_errmsg(ctx));
        return 0;
    }
    int idx[32];
    for (int i = 0; i < n; i++)
        idx[i] = first + 7 * i;
    b->n = n;
    b->images = malloc((size_t)n * 32 * 32 * sizeof *b->images);
    sim_status st =
        dataset_batch(ctx, &ds, b->images, b->labels, idx, n, &dataset_norm_fmnist, NULL);
    dataset_free(ctx, &ds);
    return st == SIM_OK;
}

double harness_fd_loss(void *ud)
{
    harness_fd *u = ud;
    double loss = 0;
    trev_forward_loss(u->ctx, u->m, u->b->images, u->b->labels, u->b->n, &loss);
    if (trev_kink_signature(u->m) != u->base) {
        u->kinks++;
        return NAN;
    }
    return loss;
}

trev_config harness_fd_cfg(int model)
{
    trev_config c = harness_small_cfg(3, model);
    const int ch[4] = {4, 6, 6, 8};
    memcpy(c.channels, ch, sizeof ch);
    c.classes = 10;
    c.leaky_slope = 0.3;
    return c;
}

real *harness_step_grads(sim_ctx *ctx, trev_model *m, const harness_batch *b, trev_mode mode,
                         trev_step *r)
{
    if (trev_prepare(ctx, m, b->n, mode) != SIM_OK)
        return NULL;
    trev_zero_grads(m);
    if (trev_train_step(ctx, m, b->images, b->labels, b->n, r, mode == TREV_REV) != SIM_OK) {
        fprintf(stderr, "\n  %s\n", ctx_errmsg(ctx));
        return NULL;
    }
    const size_t n = trev_nvalues(m);
    real *g = malloc(n * sizeof *g);
    if (g)
        memcpy(g, trev_grads(m), n * sizeof *g);
    return g;
}

void harness_fd_start(harness_fd *u, sim_ctx *ctx, trev_model *m, const harness_batch *b,
                      trev_mode mode)
{
    trev_set_relaxed_spikes(m, 1);
    CU_ASSERT_EQUAL_FATAL(trev_prepare(ctx, m, b->n, mode), SIM_OK);
    trev_zero_grads(m);
    trev_step r;
    CU_ASSERT_EQUAL_FATAL(trev_train_step(ctx, m, b->images, b->labels, b->n, &r, 0), SIM_OK);
    double l0;
    CU_ASSERT_EQUAL_FATAL(trev_forward_loss(ctx, m, b->images, b->labels, b->n, &l0), SIM_OK);
    CU_ASSERT(fabs(l0 - r.loss) <= 1e-12 * fabs(l0));
    harness_fd v = {ctx, m, b, trev_kink_signature(m), 0};
    *u = v;
}

int harness_fd_tensors(harness_fd *u, double h0, const char *tag, int (*skip)(const char *name),
                       int *checked)
{
    trev_model *m = u->m;
    int failed = 0;
    *checked = 0;
    for (int i = 0; i < trev_nparams(m); i++) {
        const trev_param *p = trev_param_at(m, i);
        if (p->buffer || (skip && skip(p->name)))
            continue;
        char what[160];
        if (tag)
            snprintf(what, sizeof what, "%s (%s)", p->name, tag);
        else
            snprintf(what, sizeof what, "%s", p->name);
        /* parameters that touch every position (stem gains, biases) move
         * many inputs, so at h0 every point may cross a kink: only then
         * retry with smaller steps */
        size_t nck = 0;
        int ok = 0;
        for (double h = h0; h >= 1e-9 && nck == 0; h /= 10)
            ok = harness_grad_check_n(what, harness_fd_loss, u, trev_params(m) + p->offset,
                                      trev_grads(m) + p->offset, p->n, h, 1e-5, NULL, 6, &nck);
        failed += !ok;
        (*checked)++;
    }
    return failed;
}

double harness_grad_diff(const trev_model *m, const real *a, const real *b, const char **name,
                         int *nonzero, int *learnable)
{
    double worst = 0;
    *name = "";
    *nonzero = *learnable = 0;
    for (int i = 0; i < trev_nparams(m); i++) {
        const trev_param *p = trev_param_at(m, i);
        if (p->buffer)
            continue;
        (*learnable)++;
        double mx = 0, d = 0;
        for (size_t j = 0; j < p->n; j++) {
            mx = fmax(mx, fabs((double)a[p->offset + j]));
            d = fmax(d, fabs((double)a[p->offset + j] - (double)b[p->offset + j]));
        }
        *nonzero += mx > 0;
        const double rel = mx > 0 ? d / mx : d;
        if (rel > worst) {
            worst = rel;
            *name = p->name;
        }
    }
    return worst;
}

void harness_log_spikes(void *ud, const engine *e, int64_t t)
{
    harness_spike_log *lg = ud;
    for (int p = 0; p < e->npop && p < HARNESS_MAXPOP; p++) {
        int32_t n;
        engine_spikes(e, p, &n);
        lg->count[p][t] += (uint64_t)n;
    }
}

void harness_train_small(train_opts *o, const char *dir, const char *out, int c3)
{
    train_defaults(o);
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    trev_preset(&ctx, &o->cfg, "fmnist");
    ctx_free(&ctx);
    int ch[4] = {4, 8, 8, c3};
    memcpy(o->cfg.channels, ch, sizeof ch);
    o->cfg.T = 2;
    o->epochs = 2;
    o->batch = 16;
    o->threads = 1;
    o->train_limit = 160; /* 10 steps per epoch */
    o->test_limit = 32;
    o->opt.ema_decay = 0.9;
    o->quiet = 1;
    snprintf(o->out, sizeof o->out, "%s/%s", dir, out);
}

void *harness_failing_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    harness_failing *f = ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    f->calls++;
    if (f->budget-- <= 0)
        return NULL;
    return aligned_alloc(SIM_ALIGN, (nsize + SIM_ALIGN - 1) / SIM_ALIGN * SIM_ALIGN);
}

int harness_count_files(const char *dir, const char *part)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strstr(e->d_name, part))
            n++;
    closedir(d);
    return n;
}

int harness_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

void harness_mkdtemp(char *dir, size_t len, const char *name)
{
    snprintf(dir, len, "/tmp/%s.XXXXXX", name);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
}

const char *harness_join(const char *dir, const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

void harness_rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[600];
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
                chmod(p, 0700);
                harness_rmtree(p);
            } else {
                unlink(p);
            }
        }
        closedir(d);
    }
    rmdir(dir);
}
