/* test_trevsnn.c - the assembled network: parameter counts of the presets
 * (model.md §4), reversible gradients equal plain backprop for T in
 * {1, 2, 4, 8}, a whole-network finite-difference gradient check, and the
 * memory claim (reversible activation memory flat in T). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "topology/trevsnn.h"

static void test_preset_counts(void)
{
    static const struct {
        const char *name;
        size_t params;
    } want[] = {
        {"fmnist", 1349880}, {"cifar10", 5282152}, {"tiny", 17376912}, {"small", 32331312}};
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        trev_config c;
        trev_model *m;
        CU_ASSERT_EQUAL_FATAL(trev_preset(&ctx, &c, want[i].name), SIM_OK);
        CU_ASSERT_EQUAL_FATAL(trev_create(&ctx, &m, &c, 0), SIM_OK);
        CU_ASSERT_EQUAL(trev_count_learnable(m), want[i].params);
        if (trev_count_learnable(m) != want[i].params)
            fprintf(stderr, "\n  %s: %zu parameters, expected %zu\n", want[i].name,
                    trev_count_learnable(m), want[i].params);
        /* the paper's backbone + single linear head counts (model.md §4) */
        if (!strcmp(want[i].name, "small") || !strcmp(want[i].name, "tiny")) {
            c.inter_supv = 0;
            trev_model *b;
            CU_ASSERT_EQUAL_FATAL(trev_create(&ctx, &b, &c, 0), SIM_OK);
            size_t K = (size_t)c.classes, C3 = (size_t)c.channels[3];
            /* final head conv1 (K x C3 + 2K) and conv2 (K x K + 2K) vs linear C3->K (K x C3 + K) */
            size_t backbone_linear = trev_count_learnable(b) - (K * K + 2 * K) - K;
            CU_ASSERT_EQUAL(backbone_linear, !strcmp(want[i].name, "small") ? 29786312u : 15215912u);
            (void)C3;
            trev_destroy(&ctx, b);
        }
        trev_destroy(&ctx, m);
    }
    CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
    ctx_free(&ctx);
}

/* Gradients of one training step in `mode` into a fresh copy. */
static real *grads_of(sim_ctx *ctx, const trev_config *c, uint64_t seed, const harness_batch *b,
                      trev_mode mode, double *loss, double *rebuild)
{
    trev_model *m;
    sim_ctx wctx;
    harness_ctx(&wctx, seed);
    if (trev_create(ctx, &m, c, 1) != SIM_OK)
        return NULL;
    harness_random_trev(&wctx, m);
    ctx_free(&wctx);
    trev_step r;
    real *g = harness_step_grads(ctx, m, b, mode, &r);
    if (!g)
        return NULL;
    *loss = r.loss;
    *rebuild = r.max_rebuild_err;
    trev_destroy(ctx, m);
    return g;
}

static void test_rev_equals_plain(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 3);
    harness_batch b;
    CU_ASSERT_FATAL(harness_fmnist_batch(&ctx, &b, 6, 100));
    /* the last case is wide enough (64 channels) for PW2 to take the sparse
     * path of its spike bitmap (conv2d_forward_bits) */
    const int Ts[] = {1, 2, 4, 8, 2};
    for (size_t k = 0; k < 5; k++) {
        trev_config c = harness_small_cfg(Ts[k], TREV_MODEL_TREVSNN);
        if (k == 4)
            for (int l = 0; l < TREV_LEVELS; l++)
                c.channels[l] = 64;
        double lp, lr, e0, e1;
        real *gp = grads_of(&ctx, &c, 11 + k, &b, TREV_PLAIN, &lp, &e0);
        real *gr = grads_of(&ctx, &c, 11 + k, &b, TREV_REV, &lr, &e1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(gp);
        CU_ASSERT_PTR_NOT_NULL_FATAL(gr);
        CU_ASSERT(fabs(lp - lr) <= 1e-12 * fabs(lp));
        /* compare tensor by tensor, relative to each tensor's largest gradient */
        trev_model *m;
        CU_ASSERT_EQUAL_FATAL(trev_create(&ctx, &m, &c, 0), SIM_OK);
        const char *wname;
        int nonzero, learnable;
        double worst = harness_grad_diff(m, gp, gr, &wname, &nonzero, &learnable);
        double tol = TOL(1e-9, 2e-2);
        CU_ASSERT(worst <= tol);
        /* every tensor except column 0's four alphas gets a gradient */
        CU_ASSERT_EQUAL(nonzero, learnable - 4);
        if (!(worst <= tol) || getenv("SIM_TEST_VERBOSE"))
            fprintf(stderr, "\n  T=%d: rev vs plain worst relative gradient difference %.3g (%s), "
                    "rebuild error %.3g\n", Ts[k], worst, wname, e1);
        CU_ASSERT(e1 <= TOL(1e-12, 1e-3));
        trev_destroy(&ctx, m);
        free(gp);
        free(gr);
    }
    free(b.images);
    ctx_free(&ctx);
}

#if REAL_IS_DOUBLE
/* The whole network against central finite differences. Binary spikes have
 * zero derivative almost everywhere, so the check replaces them with their
 * relaxation clamp(v, 0, 1), whose exact derivative is the surrogate the
 * backward uses. A perturbation that moves any spike input across a kink
 * (0 or 1) is detected by the model's kink signature and that point is
 * skipped - the whole-network version of skipping points near Theta's
 * threshold and clip edges. Every parameter tensor is checked (up to 6
 * entries each), in plain and in rev mode. */
/* Column 0's alphas multiply c^0 = 0: gradient 0, and FD is 0 too. */
static int col0_alpha(const char *name)
{
    return strstr(name, "col0/") && strstr(name, "alpha");
}

static void test_finite_differences(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 5);
    harness_batch b;
    CU_ASSERT_FATAL(harness_fmnist_batch(&ctx, &b, 3, 100));
    trev_config c = harness_fd_cfg(TREV_MODEL_TREVSNN);
    for (int mode = 0; mode < 2; mode++) {
        trev_model *m;
        CU_ASSERT_EQUAL_FATAL(trev_create(&ctx, &m, &c, 1), SIM_OK);
        harness_random_trev(&ctx, m);
        harness_fd u;
        harness_fd_start(&u, &ctx, m, &b, mode ? TREV_REV : TREV_PLAIN);
        int checked;
        int failed = harness_fd_tensors(&u, 1e-6, mode ? "rev" : "plain", col0_alpha, &checked);
        CU_ASSERT_EQUAL(failed, 0);
        CU_ASSERT(checked > 100);
        if (failed || getenv("SIM_TEST_VERBOSE"))
            fprintf(stderr, "\n  %s: %d tensors checked, %d evaluations crossed a kink\n",
                    mode ? "rev" : "plain", checked, u.kinks);
        trev_destroy(&ctx, m);
    }
    free(b.images);
    ctx_free(&ctx);
}
#endif

/* The O(L) claim: reversible-mode activation bytes do not grow with T;
 * plain mode grows linearly. The plan matches what is really allocated. */
static void test_memory_flat_in_T(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    trev_config c;
    trev_preset(&ctx, &c, "fmnist");
    size_t rev[9], plain[9];
    const int Ts[] = {1, 8};
    for (int k = 0; k < 2; k++) {
        c.T = Ts[k];
        trev_model *m;
        CU_ASSERT_EQUAL_FATAL(trev_create(&ctx, &m, &c, 1), SIM_OK);
        size_t r[MEM_NROLES], p[MEM_NROLES];
        CU_ASSERT_EQUAL_FATAL(trev_plan_bytes(&ctx, m, 64, TREV_REV, r), SIM_OK);
        CU_ASSERT_EQUAL_FATAL(trev_plan_bytes(&ctx, m, 64, TREV_PLAIN, p), SIM_OK);
        rev[k] = r[MEM_ACTS];
        plain[k] = p[MEM_ACTS];
        CU_ASSERT_EQUAL_FATAL(trev_prepare(&ctx, m, 64, TREV_REV), SIM_OK);
        CU_ASSERT_EQUAL(mem_current(&ctx, MEM_ACTS), r[MEM_ACTS]);
        trev_destroy(&ctx, m);
    }
    double rr = (double)rev[1] / rev[0], pr = (double)plain[1] / plain[0];
    CU_ASSERT(rr <= 1.15);
    CU_ASSERT(pr >= 4.0);
    if (!(rr <= 1.15) || !(pr >= 4.0) || getenv("SIM_TEST_VERBOSE"))
        fprintf(stderr, "\n  activation bytes T=1 -> T=8: rev %zu -> %zu (x%.2f), plain %zu -> %zu "
                "(x%.2f)\n", rev[0], rev[1], rr, plain[0], plain[1], pr);
    ctx_free(&ctx);
}

/* The batch split (threads >= 2: one slice of the batch per thread, BN
 * statistics summed over the team) computes the same step as the whole
 * batch on one thread: loss, logits, every gradient, the BN running
 * statistics and the inference logits, in both modes, with slices of
 * unequal size (7 images in 2 and 3 slices). Every role's bytes equal the
 * plan's. */
static void test_split_equals_whole(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 5);
    harness_batch b;
    CU_ASSERT_FATAL(harness_fmnist_batch(&ctx, &b, 7, 300));
    trev_config c = harness_small_cfg(3, TREV_MODEL_TREVSNN);
    const int K = c.classes, T = c.T;
    const size_t nl = (size_t)T * K * b.n;
    for (int mode = 0; mode < 2; mode++) {
        const trev_mode md = mode ? TREV_REV : TREV_PLAIN;
        real *g[3] = {NULL}, *p[3] = {NULL}, *lg[3] = {NULL}, *il[3] = {NULL};
        double loss[3], floss[3], rebuild[3];
        for (int k = 0; k < 3; k++) { /* 1, 2, 3 threads */
            ctx_set_threads(&ctx, k + 1);
            trev_model *m;
            sim_ctx wctx;
            harness_ctx(&wctx, 41);
            CU_ASSERT_EQUAL_FATAL(trev_create(&ctx, &m, &c, 1), SIM_OK);
            harness_random_trev(&wctx, m);
            ctx_free(&wctx);
            size_t plan[MEM_NROLES];
            CU_ASSERT_EQUAL_FATAL(trev_plan_bytes(&ctx, m, b.n, md, plan), SIM_OK);
            const size_t acts0 = mem_current(&ctx, MEM_ACTS), grads0 = mem_current(&ctx, MEM_GRADS);
            trev_step r;
            real *gk = harness_step_grads(&ctx, m, &b, md, &r);
            CU_ASSERT_PTR_NOT_NULL_FATAL(gk);
            CU_ASSERT_EQUAL(mem_current(&ctx, MEM_ACTS) - acts0, plan[MEM_ACTS]);
            CU_ASSERT_EQUAL(mem_current(&ctx, MEM_GRADS) - grads0,
                            plan[MEM_GRADS] - trev_nvalues(m) * sizeof(real));
            g[k] = gk;
            loss[k] = r.loss;
            rebuild[k] = r.max_rebuild_err;
            lg[k] = malloc(nl * sizeof(real));
            memcpy(lg[k], r.logits, nl * sizeof(real));
            p[k] = malloc(trev_nvalues(m) * sizeof(real));
            memcpy(p[k], trev_params(m), trev_nvalues(m) * sizeof(real)); /* running stats */
            CU_ASSERT_EQUAL(trev_forward_loss(&ctx, m, b.images, b.labels, b.n, &floss[k]), SIM_OK);
            il[k] = malloc(nl * sizeof(real));
            CU_ASSERT_EQUAL(trev_infer(&ctx, m, b.images, b.n, il[k]), SIM_OK);
            trev_destroy(&ctx, m);
        }
        trev_model *m;
        CU_ASSERT_EQUAL_FATAL(trev_create(&ctx, &m, &c, 0), SIM_OK);
        for (int k = 1; k < 3; k++) {
            char what[64];
            CU_ASSERT(fabs(loss[k] - loss[0]) <= TOL(1e-12, 1e-5) * fabs(loss[0]));
            CU_ASSERT(fabs(floss[k] - floss[0]) <= TOL(1e-12, 1e-5) * fabs(floss[0]));
            CU_ASSERT(rebuild[k] <= TOL(1e-12, 1e-3));
            snprintf(what, sizeof what, "%s, %d threads: logits", mode ? "rev" : "plain", k + 1);
            CHECK_CLOSE(what, lg[k], lg[0], nl, TOL(1e-10, 1e-4), TOL(1e-12, 1e-5));
            snprintf(what, sizeof what, "%s, %d threads: inference logits", mode ? "rev" : "plain",
                     k + 1);
            CHECK_CLOSE(what, il[k], il[0], nl, TOL(1e-10, 1e-4), TOL(1e-12, 1e-5));
            snprintf(what, sizeof what, "%s, %d threads: parameters and BN buffers",
                     mode ? "rev" : "plain", k + 1);
            CHECK_CLOSE(what, p[k], p[0], trev_nvalues(m), TOL(1e-12, 1e-5), TOL(1e-14, 1e-6));
            const char *wname;
            int nonzero, learnable;
            double worst = harness_grad_diff(m, g[0], g[k], &wname, &nonzero, &learnable);
            CU_ASSERT(worst <= TOL(1e-10, 2e-2));
            if (!(worst <= TOL(1e-10, 2e-2)) || getenv("SIM_TEST_VERBOSE"))
                fprintf(stderr, "\n  %s: %d threads vs 1: worst relative gradient difference "
                        "%.3g (%s)\n", mode ? "rev" : "plain", k + 1, worst, wname);
        }
        trev_destroy(&ctx, m);
        for (int k = 0; k < 3; k++)
            free(g[k]), free(p[k]), free(lg[k]), free(il[k]);
    }
    CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
    free(b.images);
    ctx_free(&ctx);
}

static void test_bad_inputs(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    trev_config c = harness_small_cfg(2, TREV_MODEL_TREVSNN);
    trev_model *m;
    CU_ASSERT_EQUAL_FATAL(trev_create(&ctx, &m, &c, 1), SIM_OK);
    real img[2 * 32 * 32] = {0};
    int labels[2] = {3, 10};
    trev_step r;
    CU_ASSERT_EQUAL(trev_train_step(&ctx, m, img, labels, 2, &r, 0), SIM_EINVAL); /* not prepared */
    CU_ASSERT_EQUAL_FATAL(trev_prepare(&ctx, m, 2, TREV_PLAIN), SIM_OK);
    CU_ASSERT_EQUAL(trev_train_step(&ctx, m, img, labels, 2, &r, 0), SIM_ERANGE);
    CU_ASSERT(strstr(ctx_errmsg(&ctx), "label 10") != NULL);
    labels[1] = 1;
    CU_ASSERT_EQUAL(trev_train_step(&ctx, m, img, labels, 3, &r, 0), SIM_ERANGE); /* batch > plan */
    CU_ASSERT_EQUAL(trev_train_step(&ctx, m, img, labels, 2, &r, 0), SIM_OK);
    trev_destroy(&ctx, m);
    c.input_size = 30;
    CU_ASSERT_EQUAL(trev_create(&ctx, &m, &c, 1), SIM_EINVAL);
    c = harness_small_cfg(0, TREV_MODEL_TREVSNN);
    CU_ASSERT_EQUAL(trev_create(&ctx, &m, &c, 1), SIM_EINVAL);
    CU_ASSERT_EQUAL(trev_preset(&ctx, &c, "huge"), SIM_ENOTFOUND);
    CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
    ctx_free(&ctx);
}

int main(void)
{
    static const harness_test all[] = {
        {"preset parameter counts", test_preset_counts},
        {"reversible gradients equal plain, T = 1, 2, 4, 8 (and wide)", test_rev_equals_plain},
#if REAL_IS_DOUBLE
        {"whole-network finite differences", test_finite_differences},
#endif
        {"activation memory flat in T (rev)", test_memory_flat_in_T},
        {"batch split over 2 and 3 threads equals the whole batch", test_split_equals_whole},
        {"bad inputs rejected", test_bad_inputs},
        {NULL, NULL},
    };
    return harness_run("trevsnn", all);
}
