/* test_lifsnn.c - the conventional LIF baseline (topology/lifsnn.h): the LIF
 * neuron against a scalar SpikingJelly-style reference, a whole-network
 * finite-difference check of BPTT (relaxed spikes, double build), gradients
 * independent of the thread count, activation memory linear in T and equal
 * to what is allocated, a short training run that lowers the loss, a
 * checkpoint round trip with model "lif", and `sim --train --model lif`,
 * `sim info --model lif` and `sim bench-train --model lif` end to end. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "neurons/lif.h"
#include "sim/optim.h"
#include "sim/rng.h"
#include "sim/train.h"
#include "tests/harness.h"
#include "topology/lifsnn.h"

static char dir[64];

/* ---- the neuron ---- */

static void test_lif_neuron(void)
{
    enum { C = 3, T = 6, M = 300 };
    sim_ctx ctx;
    harness_ctx(&ctx, 2);
    real *X = malloc(sizeof(real) * C * T * M), *H = malloc(sizeof(real) * C * T * M);
    real *S = malloc(sizeof(real) * C * T * M);
    for (int i = 0; i < C * T * M; i++)
        X[i] = (real)rng_normal(&ctx, RNG_AUX, 1.5) + (real)0.8;
    size_t k = lif_forward(S, H, X, C, T, M, 0);
    size_t ref_k = 0;
    int bad = 0;
    for (int c = 0; c < C; c++)
        for (int m = 0; m < M; m++) {
            double v = 0; /* SpikingJelly: H = V + (X - V)/tau, S = H >= V_th, hard reset */
            for (int t = 0; t < T; t++) {
                size_t o = ((size_t)c * T + t) * M + m;
                double h = v + ((double)X[o] - v) / LIF_TAU;
                int s = h >= LIF_VTH;
                ref_k += (size_t)s;
                double err = fabs((double)H[o] - h);
                if ((double)S[o] != s || err > TOL(1e-14, 1e-5) * (1 + fabs(h))) {
                    if (bad++ < 3)
                        fprintf(stderr, "\n  c %d m %d t %d: H %g S %g, reference %g %d", c, m, t,
                                (double)H[o], (double)S[o], h, s);
                }
                v = s ? 0 : h;
            }
        }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(k, ref_k);
    CU_ASSERT(k > 0 && k < (size_t)C * T * M);
    /* in place (X == H) gives the same */
    real *H2 = malloc(sizeof(real) * C * T * M);
    memcpy(H2, X, sizeof(real) * C * T * M);
    CU_ASSERT_EQUAL(lif_forward(S, H2, H2, C, T, M, 0), k);
    CU_ASSERT(memcmp(H2, H, sizeof(real) * C * T * M) == 0);
    free(X), free(H), free(S), free(H2);
    ctx_free(&ctx);
}

static void test_param_table(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    trev_config c;
    trev_preset(&ctx, &c, "fmnist");
    c.model = TREV_MODEL_LIF;
    trev_model *m;
    CU_ASSERT_EQUAL(trev_create(&ctx, &m, &c, 0), SIM_EINVAL); /* lif needs inter_supv off */
    CHECK_MSG(&ctx, "inter_supv");
    c.inter_supv = 0;
    CU_ASSERT_EQUAL_FATAL(trev_create(&ctx, &m, &c, 0), SIM_OK);
    CU_ASSERT_PTR_NOT_NULL(trev_param_find(m, "lif/level1/block1/dw1/weight"));
    CU_ASSERT_PTR_NOT_NULL(trev_param_find(m, "lif/level3/down/bn/running_var"));
    CU_ASSERT_PTR_NOT_NULL(trev_param_find(m, "lif/level2/block2/pw2/gain"));
    CU_ASSERT_PTR_NOT_NULL(trev_param_find(m, "head/conv2/weight"));
    CU_ASSERT_PTR_NULL(trev_param_find(m, "lif/level0/down/conv/weight"));
    CU_ASSERT_PTR_NULL(trev_param_find(m, "lif/level0/block2/gamma"));
    for (int i = 0; i < trev_nparams(m); i++) /* no per-column or alpha parameters */
        CU_ASSERT(!strstr(trev_param_at(m, i)->name, "col") &&
                  !strstr(trev_param_at(m, i)->name, "alpha"));
    /* the same count at every T: one set of weights for all timesteps */
    size_t n4 = trev_count_learnable(m);
    trev_destroy(&ctx, m);
    c.T = 8;
    CU_ASSERT_EQUAL_FATAL(trev_create(&ctx, &m, &c, 0), SIM_OK);
    CU_ASSERT_EQUAL(trev_count_learnable(m), n4);
    if (getenv("SIM_TEST_VERBOSE"))
        fprintf(stderr, "\n  fmnist lif: %zu learnable parameters, %.0f MACs/image at T=8\n", n4,
                trev_macs_per_image(m));
    trev_destroy(&ctx, m);
    CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
    ctx_free(&ctx);
}

/* Gradients of one training step at `threads` threads into a fresh copy;
 * the parameters after it (BN running statistics) into *params and the
 * step's logits into *logits (malloc'd). */
static real *grads_of(const trev_config *c, const harness_batch *b, int threads, double *loss,
                      double *spike_rate, real **params, real **logits)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 7);
    ctx_set_threads(&ctx, threads);
    trev_model *m;
    if (trev_create(&ctx, &m, c, 1) != SIM_OK)
        return NULL;
    harness_random_lif(&ctx, m, 0.6);
    trev_step r;
    real *g = harness_step_grads(&ctx, m, b, TREV_PLAIN, &r);
    if (!g)
        return NULL;
    *loss = r.loss;
    const size_t nl = (size_t)c->classes * b->n;
    *logits = malloc(nl * sizeof(real));
    memcpy(*logits, r.logits, nl * sizeof(real));
    *params = malloc(trev_nvalues(m) * sizeof(real));
    memcpy(*params, trev_params(m), trev_nvalues(m) * sizeof(real));
    double s = 0, tot = 0;
    for (int k = 0; k < r.nsites; k++)
        s += r.site_spikes[k], tot += r.site_total[k];
    *spike_rate = s / tot;
    CU_ASSERT_EQUAL(r.nsites, LIFSNN_NSITES);
    trev_destroy(&ctx, m);
    ctx_free(&ctx);
    return g;
}

/* 2 and 3 threads split the batch of 7 (4 + 3, 3 + 2 + 2; BN statistics
 * summed over the slices): the same step as one thread on the whole batch. */
static void test_threads_invariance(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 3);
    harness_batch b;
    CU_ASSERT_FATAL(harness_fmnist_batch(&ctx, &b, 7, 100));
    trev_config c = harness_small_cfg(4, TREV_MODEL_LIF);
    double l1, r1;
    real *p1, *lg1;
    real *g1 = grads_of(&c, &b, 1, &l1, &r1, &p1, &lg1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g1);
    trev_model *m;
    CU_ASSERT_EQUAL_FATAL(trev_create(&ctx, &m, &c, 0), SIM_OK);
    CU_ASSERT(r1 > 0.02 && r1 < 0.9);
    for (int th = 2; th <= 3; th++) {
        double l2, r2;
        real *p2, *lg2;
        real *g2 = grads_of(&c, &b, th, &l2, &r2, &p2, &lg2);
        CU_ASSERT_PTR_NOT_NULL_FATAL(g2);
        CU_ASSERT(fabs(l1 - l2) <= TOL(1e-12, 1e-5) * fabs(l1));
        CU_ASSERT(fabs(r1 - r2) <= 1e-6);
        CHECK_CLOSE("logits", lg2, lg1, (size_t)c.classes * b.n, TOL(1e-10, 1e-4),
                    TOL(1e-12, 1e-5));
        CHECK_CLOSE("parameters and BN buffers", p2, p1, trev_nvalues(m), TOL(1e-12, 1e-5),
                    TOL(1e-14, 1e-6));
        const char *wname;
        int nonzero, learnable;
        double worst = harness_grad_diff(m, g1, g2, &wname, &nonzero, &learnable);
        CU_ASSERT(worst <= TOL(1e-10, 1e-3));
        CU_ASSERT_EQUAL(nonzero, learnable); /* every tensor is reached by the gradient */
        if (!(worst <= TOL(1e-10, 1e-3)) || nonzero != learnable || getenv("SIM_TEST_VERBOSE"))
            fprintf(stderr, "\n  1 vs %d threads: worst relative gradient difference %.3g (%s); "
                    "%d of %d tensors nonzero; firing rate %.3f\n", th, worst, wname, nonzero,
                    learnable, r1);
        free(g2), free(p2), free(lg2);
    }
    trev_destroy(&ctx, m);
    free(g1), free(p1), free(lg1), free(b.images);
    ctx_free(&ctx);
}

#if REAL_IS_DOUBLE
/* BPTT through the whole network against central finite differences. With
 * relaxed spikes (neurons/lif.h: the atan curve whose derivative is the
 * surrogate; the reset still binary) the forward is smooth between threshold
 * crossings and its exact derivative is the surrogate gradient with the
 * detached reset, so the check is exact wherever no membrane crosses V_th;
 * perturbations that do are detected by the kink signature and skipped. Every parameter tensor is
 * checked (up to 6 entries each), including BN and gamma. */
static void test_finite_differences(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 5);
    harness_batch b;
    CU_ASSERT_FATAL(harness_fmnist_batch(&ctx, &b, 3, 100));
    trev_config c = harness_fd_cfg(TREV_MODEL_LIF);
    trev_model *m;
    CU_ASSERT_EQUAL_FATAL(trev_create(&ctx, &m, &c, 1), SIM_OK);
    harness_random_lif(&ctx, m, 0.6);
    harness_fd u;
    harness_fd_start(&u, &ctx, m, &b, TREV_PLAIN);
    int checked;
    int failed = harness_fd_tensors(&u, 1e-5, NULL, NULL, &checked);
    CU_ASSERT_EQUAL(failed, 0);
    CU_ASSERT(checked > 60);
    if (failed || getenv("SIM_TEST_VERBOSE"))
        fprintf(stderr, "\n  %d tensors checked, %d evaluations crossed a kink\n", checked,
                u.kinks);
    trev_destroy(&ctx, m);
    free(b.images);
    ctx_free(&ctx);
}
#endif

/* Memory: activations grow linearly with T (the O(L T) of BPTT), and the
 * plan equals what trev_prepare allocates. */
static void test_memory_linear_in_T(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    trev_config c;
    trev_preset(&ctx, &c, "fmnist");
    c.model = TREV_MODEL_LIF;
    c.inter_supv = 0;
    size_t acts[2];
    const int Ts[] = {1, 8};
    for (int k = 0; k < 2; k++) {
        c.T = Ts[k];
        trev_model *m;
        CU_ASSERT_EQUAL_FATAL(trev_create(&ctx, &m, &c, 1), SIM_OK);
        size_t plan[MEM_NROLES];
        CU_ASSERT_EQUAL_FATAL(trev_plan_bytes(&ctx, m, 64, TREV_PLAIN, plan), SIM_OK);
        acts[k] = plan[MEM_ACTS];
        size_t scr0 = mem_current(&ctx, MEM_SCRATCH);
        CU_ASSERT_EQUAL_FATAL(trev_prepare(&ctx, m, 64, TREV_PLAIN), SIM_OK);
        CU_ASSERT_EQUAL(mem_current(&ctx, MEM_ACTS), plan[MEM_ACTS]);
        CU_ASSERT_EQUAL(mem_current(&ctx, MEM_PARAMS), plan[MEM_PARAMS]);
        CU_ASSERT_EQUAL(mem_current(&ctx, MEM_GRADS), plan[MEM_GRADS]);
        /* scratch = the arena plus the standardized weights and their gradients */
        CU_ASSERT_EQUAL(mem_current(&ctx, MEM_SCRATCH), plan[MEM_SCRATCH]);
        (void)scr0;
        trev_destroy(&ctx, m);
    }
    double ratio = (double)acts[1] / acts[0];
    CU_ASSERT(ratio >= 7.0 && ratio <= 8.0);
    if (!(ratio >= 7.0 && ratio <= 8.0) || getenv("SIM_TEST_VERBOSE"))
        fprintf(stderr, "\n  lif activation bytes T=1 -> T=8: %zu -> %zu (x%.2f)\n", acts[0],
                acts[1], ratio);
    CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
    ctx_free(&ctx);
}

/* A few AdamW steps on one batch lower its loss clearly. */
static void test_training_lowers_loss(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 9);
    harness_batch b;
    CU_ASSERT_FATAL(harness_fmnist_batch(&ctx, &b, 16, 300));
    trev_config c = harness_small_cfg(4, TREV_MODEL_LIF);
    trev_model *m;
    CU_ASSERT_EQUAL_FATAL(trev_create(&ctx, &m, &c, 1), SIM_OK);
    CU_ASSERT_EQUAL_FATAL(trev_prepare(&ctx, m, b.n, TREV_PLAIN), SIM_OK);
    optim o;
    optim_config oc;
    optim_defaults(&oc);
    oc.lr = 5e-3;
    oc.total_steps = 40;
    CU_ASSERT_EQUAL_FATAL(optim_init(&ctx, &o, m, &oc), SIM_OK);
    double first = 0, last = 0;
    for (int s = 0; s < 40; s++) {
        trev_zero_grads(m);
        trev_step r;
        CU_ASSERT_EQUAL_FATAL(trev_train_step(&ctx, m, b.images, b.labels, b.n, &r, 0), SIM_OK);
        if (s == 0)
            first = r.loss;
        last = r.loss;
        optim_step(&o);
    }
    CU_ASSERT(last < 0.8 * first);
    if (!(last < 0.8 * first) || getenv("SIM_TEST_VERBOSE"))
        fprintf(stderr, "\n  loss on one batch: %.4f -> %.4f after 40 steps\n", first, last);
    optim_free(&ctx, &o);
    trev_destroy(&ctx, m);
    free(b.images);
    CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
    ctx_free(&ctx);
}

/* Save and load: config with "model": "lif", every tensor, same inference. */
static void test_checkpoint_round_trip(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 4);
    harness_batch b;
    CU_ASSERT_FATAL(harness_fmnist_batch(&ctx, &b, 4, 50));
    trev_config c = harness_small_cfg(3, TREV_MODEL_LIF);
    trev_model *m, *r;
    CU_ASSERT_EQUAL_FATAL(trev_create(&ctx, &m, &c, 0), SIM_OK);
    harness_random_lif(&ctx, m, 0.6);
    char json[2048];
    trev_config_json(&c, json, sizeof json);
    CU_ASSERT(strstr(json, "\"model\": \"lif\"") != NULL);
    const char *path = harness_join(dir, "lif.h5");
    CU_ASSERT_EQUAL_FATAL(ckpt_save(&ctx, path, m, NULL, NULL), SIM_OK);
    CU_ASSERT_EQUAL_FATAL(ckpt_open_model(&ctx, path, &r, 0), SIM_OK);
    CU_ASSERT_EQUAL(trev_cfg(r)->model, TREV_MODEL_LIF);
    CU_ASSERT_EQUAL(trev_cfg(r)->T, 3);
    CU_ASSERT_EQUAL(trev_nvalues(r), trev_nvalues(m));
    /* parameters went through float32 */
    int same = 1;
    for (size_t i = 0; i < trev_nvalues(m); i++)
        same &= trev_params(r)[i] == (real)(float)trev_params(m)[i];
    CU_ASSERT(same);
    memcpy(trev_params(m), trev_params(r), trev_nvalues(m) * sizeof(real));
    real l1[10 * 4], l2[10 * 4];
    CU_ASSERT_EQUAL_FATAL(trev_prepare(&ctx, m, 4, TREV_REV), SIM_OK);
    CU_ASSERT_EQUAL_FATAL(trev_prepare(&ctx, r, 4, TREV_REV), SIM_OK);
    CU_ASSERT_EQUAL_FATAL(trev_infer(&ctx, m, b.images, 4, l1), SIM_OK);
    CU_ASSERT_EQUAL_FATAL(trev_infer(&ctx, r, b.images, 4, l2), SIM_OK);
    CU_ASSERT(memcmp(l1, l2, sizeof l1) == 0);
    /* an unknown model name is a format error naming the file */
    trev_destroy(&ctx, m);
    trev_destroy(&ctx, r);
    trev_config bad;
    CU_ASSERT_EQUAL(ckpt_config_from_json(&ctx,
                                          "{\"model\": \"gru\", \"channels\": [4, 8, 8, 12], "
                                          "\"T\": 2, \"kernel\": 3, \"in_channels\": 1, "
                                          "\"input_size\": 32, \"stem_kernel\": 3, "
                                          "\"stem_stride\": 1, \"classes\": 10, "
                                          "\"leaky_slope\": 1, "
                                          "\"label_smoothing\": 0.1, \"inter_supv\": false}",
                                          "x.h5", &bad),
                    SIM_EFORMAT);
    CHECK_MSG(&ctx, "gru");
    free(b.images);
    CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
    ctx_free(&ctx);
}

/* The trainer with model lif: runs, checkpoints, and an interrupted run
 * resumed from its checkpoint ends where the uninterrupted one does
 * (bit-identical in the float build, where checkpoints hold exact values). */
static void test_trainer_and_resume(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    train_opts a, b;
    train_result ra, rb;
    for (int k = 0; k < 2; k++) {
        train_opts *o = k ? &b : &a;
        train_defaults(o);
        o->cfg = harness_small_cfg(2, TREV_MODEL_LIF);
        o->epochs = 1;
        o->batch = 16;
        o->threads = 1;
        o->train_limit = 160;
        o->test_limit = 32;
        o->warmup_epochs = 0.5;
        o->quiet = 1;
        snprintf(o->out, sizeof o->out, "%s", harness_join(dir, k ? "part.h5" : "full.h5"));
    }
    CU_ASSERT_EQUAL_FATAL(train_run(&ctx, &a, &ra), SIM_OK);
    CU_ASSERT_EQUAL(ra.steps, 10);
    CU_ASSERT_EQUAL(ra.nheads, 1);
    CU_ASSERT(isfinite(ra.last_loss) && ra.test_acc[0] >= 0);
    b.max_steps = 4;
    CU_ASSERT_EQUAL_FATAL(train_run(&ctx, &b, &rb), SIM_OK);
    CU_ASSERT(rb.interrupted);
    snprintf(b.resume, sizeof b.resume, "%s", b.out);
    b.max_steps = 0;
    CU_ASSERT_EQUAL_FATAL(train_run(&ctx, &b, &rb), SIM_OK);
    CU_ASSERT_EQUAL(rb.steps, 10);
    trev_model *ma, *mb;
    CU_ASSERT_EQUAL_FATAL(ckpt_open_model(&ctx, a.out, &ma, 0), SIM_OK);
    CU_ASSERT_EQUAL_FATAL(ckpt_open_model(&ctx, b.out, &mb, 0), SIM_OK);
    CU_ASSERT_EQUAL(trev_cfg(ma)->model, TREV_MODEL_LIF);
    double d = 0, mx = 0;
    for (size_t i = 0; i < trev_nvalues(ma); i++) {
        d = fmax(d, fabs((double)trev_params(ma)[i] - (double)trev_params(mb)[i]));
        mx = fmax(mx, fabs((double)trev_params(ma)[i]));
    }
    CU_ASSERT(d <= TOL(1e-4, 0) * mx);
    if (!(d <= TOL(1e-4, 0) * mx) || getenv("SIM_TEST_VERBOSE"))
        fprintf(stderr, "\n  resumed vs uninterrupted: max parameter difference %.3g\n", d);
    trev_destroy(&ctx, ma);
    trev_destroy(&ctx, mb);
    ctx_free(&ctx);
}

/* Run a command; its stdout into out (up to len bytes). 0 on exit status 0. */
static int run_cmd(const char *cmd, char *out, size_t len)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    return pclose(p);
}

static void test_cli(void)
{
    const char *sim = getenv("SIM_BIN");
    if (!sim || access(sim, X_OK) != 0) {
        fprintf(stderr, "\n  SIM_BIN not set: skipping the command-line checks");
        return;
    }
    static char out[1 << 16];
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "%s --train --model lif --channels 4,8,8,12 --T 2 --epochs 1 --batch 16 "
             "--train-limit 64 --test-limit 32 --threads 1 --quiet --json --out %s 2>&1",
             sim, harness_join(dir, "cli.h5"));
    CU_ASSERT_EQUAL(run_cmd(cmd, out, sizeof out), 0);
    CU_ASSERT(strstr(out, "\"steps\": 4") != NULL);
    if (!strstr(out, "\"steps\": 4"))
        fprintf(stderr, "\n  %s\n  -> %s\n", cmd, out);
    CU_ASSERT(harness_file_exists(harness_join(dir, "cli.h5")));
    snprintf(cmd, sizeof cmd, "%s info --model lif --T 4 --json 2>&1", sim);
    CU_ASSERT_EQUAL(run_cmd(cmd, out, sizeof out), 0);
    CU_ASSERT(strstr(out, "\"model\": \"lif\"") != NULL);
    snprintf(cmd, sizeof cmd,
             "%s bench-train --model lif --channels 4,8,8,12 --T 2 --batch 8 --steps 1 "
             "--repeats 1 --threads 1 2>&1",
             sim);
    CU_ASSERT_EQUAL(run_cmd(cmd, out, sizeof out), 0);
    static const char *keys[] = {"\"model\": \"lif\"", "\"images_per_s\"", "\"activation_bytes\"",
                                 "\"peak_rss\"", "\"firing_rate\""};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        CU_ASSERT(strstr(out, keys[i]) != NULL);
        if (!strstr(out, keys[i]))
            fprintf(stderr, "\n  bench-train output lacks %s: %s\n", keys[i], out);
    }
    snprintf(cmd, sizeof cmd, "%s --train --model gru --quiet 2>&1", sim);
    CU_ASSERT_NOT_EQUAL(run_cmd(cmd, out, sizeof out), 0);
    CU_ASSERT(strstr(out, "--model") != NULL);
}

int main(void)
{
    harness_mkdtemp(dir, sizeof dir, "sim-lifsnn");
    static const harness_test all[] = {
        {"LIF neuron equals the SpikingJelly recurrence", test_lif_neuron},
        {"parameter table (one weight set, names)", test_param_table},
        {"batch split over 2 and 3 threads equals one thread", test_threads_invariance},
#if REAL_IS_DOUBLE
        {"whole-network finite differences (relaxed spikes)", test_finite_differences},
#endif
        {"activation memory linear in T, plan = allocation", test_memory_linear_in_T},
        {"training lowers the loss", test_training_lowers_loss},
        {"checkpoint round trip with model lif", test_checkpoint_round_trip},
        {"trainer and resume with model lif", test_trainer_and_resume},
        {"sim --train/info/bench-train --model lif", test_cli},
        {NULL, NULL},
    };
    int rc = harness_run("lifsnn", all);
    harness_rmtree(dir);
    return rc;
}
