/* test_trevnet.c - the event-driven T-RevSNN equals the dense inference
 * forward: the golden file's /eval/logits, and on random weights with real
 * images every turn-on state, every spike site's spike count per timestep
 * and every head's logits (double build: identical up to summation order;
 * float build: the same predicted class). The stem is counted once per
 * image whatever T is. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "io/dataset.h"
#include "sim/tensor.h"
#include "tests/harness.h"
#include "topology/trevnet.h"

static void test_golden_eval(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    const char *path = harness_testdata("golden_t3.h5");
    trev_model *m;
    CU_ASSERT_EQUAL_FATAL(ckpt_open_model(&ctx, path, &m, 0), SIM_OK);
    const trev_config *c = trev_cfg(m);
    const int T = c->T, K = c->classes;
    h5_file f;
    CU_ASSERT_EQUAL_FATAL(h5_open_read(&ctx, &f, path), SIM_OK);
    real images[4 * 32 * 32], ref[3 * 4 * 10];
    int ishape[4] = {4, 1, 32, 32}, lshape[3] = {T, 4, K};
    CU_ASSERT_EQUAL_FATAL(h5_read_real(&ctx, &f, "input/images", images, 4, ishape), SIM_OK);
    CU_ASSERT_EQUAL_FATAL(h5_read_real(&ctx, &f, "eval/logits", ref, 3, lshape), SIM_OK);
    h5_close(&ctx, &f);
    trevnet net;
    CU_ASSERT_EQUAL_FATAL(trevnet_build(&ctx, &net, m, NULL), SIM_OK);
    real got[3 * 4 * 10], lg[3 * 10];
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL_FATAL(trevnet_run_image(&ctx, &net, images + i * 1024, lg, NULL), SIM_OK);
        for (int t = 0; t < T; t++)
            memcpy(got + ((size_t)t * 4 + i) * K, lg + (size_t)t * K, K * sizeof *lg);
    }
    double mx = 0;
    for (int i = 0; i < T * 4 * K; i++)
        mx = fmax(mx, fabs((double)ref[i]));
    /* float: spikes within float rounding of the threshold may flip */
    CU_ASSERT(harness_close("engine eval logits vs golden", got, ref, (size_t)T * 4 * K, 0,
                            TOL(1e-9, 0.25) * mx));
    trevnet_free(&ctx, &net);
    trev_destroy(&ctx, m);
    CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
    ctx_free(&ctx);
}

/* Spike counts of dense site k for the engine: which population, which timestep. */
static void test_equals_dense(void)
{
    enum { N = 3 };
    sim_ctx ctx;
    harness_ctx(&ctx, 21);
    trev_config cfg = harness_small_cfg(3, TREV_MODEL_TREVSNN);
    trev_model *m;
    CU_ASSERT_EQUAL_FATAL(trev_create(&ctx, &m, &cfg, 0), SIM_OK);
    harness_random_trev(&ctx, m);
    dataset ds;
    CU_ASSERT_EQUAL_FATAL(dataset_load_fmnist(&ctx, &ds, NULL, 0), SIM_OK);
    real img[N * 32 * 32];
    int labels[N], idx[N] = {5, 17, 29};
    CU_ASSERT_EQUAL_FATAL(dataset_batch(&ctx, &ds, img, labels, idx, N, &dataset_norm_fmnist, NULL),
                          SIM_OK);
    dataset_free(&ctx, &ds);
    const int T = cfg.T, K = cfg.classes;

    /* dense inference, plain mode so every state is kept */
    CU_ASSERT_EQUAL_FATAL(trev_prepare(&ctx, m, N, TREV_PLAIN), SIM_OK);
    real dense[3 * 10 * N];
    trev_step rec;
    CU_ASSERT_EQUAL_FATAL(trev_infer_rec(&ctx, m, img, N, dense, &rec), SIM_OK);

    /* the same images through the engine */
    harness_spike_log *lgs = calloc(1, sizeof *lgs);
    engine_opts eo = engine_opts_default();
    eo.on_step = harness_log_spikes;
    eo.ud = lgs;
    trevnet net;
    CU_ASSERT_EQUAL_FATAL(trevnet_build(&ctx, &net, m, &eo), SIM_OK);
    double worst_logit = 0, worst_state = 0;
    int same_class = 0;
    for (int i = 0; i < N; i++) {
        real one[1 * 32 * 32], lg[3 * 10];
        memcpy(one, img + i * 1024, sizeof one);
        /* turn-on states after the last timestep, compared per level */
        trevnet_stats st;
        CU_ASSERT_EQUAL_FATAL(trevnet_run_image(&ctx, &net, one, lg, &st), SIM_OK);
        for (int l = 0; l < TREV_LEVELS; l++) {
            const population *p = engine_pop(&net.e, net.pop_turnon[l]);
            const real *s = engine_state(&net.e, net.pop_turnon[l]);
            const real *d = trev_state(m, T - 1, l); /* (C, N, R, R) */
            for (int q = 0; q < p->C; q++)
                for (int h = 0; h < p->HW; h++) {
                    double a = (double)s[(size_t)h * p->C + q];
                    double b = (double)d[((size_t)q * N + i) * p->HW + h];
                    worst_state = fmax(worst_state, fabs(a - b) / fmax(1.0, fabs(b)));
                }
        }
        int am = 0, bm = 0;
        for (int t = 0; t < T; t++)
            for (int k = 0; k < K; k++) {
                double a = (double)lg[t * K + k], b = (double)dense[((size_t)t * K + k) * N + i];
                worst_logit = fmax(worst_logit, fabs(a - b) / fmax(1.0, fabs(b)));
                if (t == T - 1 && k > 0) {
                    am = lg[t * K + k] > lg[t * K + am] ? k : am;
                    bm = dense[((size_t)t * K + k) * N + i] > dense[((size_t)t * K + bm) * N + i]
                             ? k
                             : bm;
                }
            }
        same_class += am == bm;
        CU_ASSERT_DOUBLE_EQUAL(st.stem_macs, conv2d_macs(&net.stem1) + conv2d_macs(&net.stem2), 0);
    }
    CU_ASSERT(worst_logit <= TOL(1e-9, 1e-2));
    CU_ASSERT(worst_state <= TOL(1e-9, 1e-2));
    if (!(worst_logit <= TOL(1e-9, 1e-2)) || !(worst_state <= TOL(1e-9, 1e-2)) ||
        getenv("SIM_TEST_VERBOSE"))
        fprintf(stderr, "\n  engine vs dense: worst logit diff %.3g, worst state diff %.3g\n",
                worst_logit, worst_state);
    CU_ASSERT_EQUAL(same_class, N);

    /* every spike site, in the dense forward's order */
    int k = 0, mism = 0;
    for (int t = 0; t < T; t++) {
        for (int l = 0; l < TREV_LEVELS; l++) {
            int base = l * TREVNET_POPS_PER_LEVEL;
            int sites[6], ts[6], ns = 0;
            if (l > 0)
                sites[ns] = net.pop_turnon[l - 1], ts[ns++] = t;
            if (t > 0 && l < 3)
                sites[ns] = net.pop_turnon[l + 1], ts[ns++] = t - 1;
            const int blk[4] = {0, 2, 4, 6}; /* u0, b1.hidden, u1, b2.hidden */
            for (int j = 0; j < 4; j++)
                sites[ns] = base + blk[j], ts[ns++] = t;
            for (int j = 0; j < ns; j++, k++) {
                uint64_t eng = lgs->count[sites[j]][ts[j]];
                if (REAL_IS_DOUBLE && (double)eng != rec.site_spikes[k]) {
                    if (mism++ < 5)
                        fprintf(stderr, "\n  site %d (%s at t=%d): engine %llu spikes, dense %.0f\n",
                                k, engine_pop(&net.e, sites[j])->name, ts[j],
                                (unsigned long long)eng, rec.site_spikes[k]);
                }
            }
        }
    }
    /* the final head's site: Theta(c_3^T) */
    if (REAL_IS_DOUBLE && (double)lgs->count[net.pop_turnon[3]][T - 1] != rec.site_spikes[k])
        mism++;
    k++;
    CU_ASSERT_EQUAL(k, rec.nsites);
    CU_ASSERT_EQUAL(mism, 0);
    free(lgs);
    trevnet_free(&ctx, &net);
    trev_destroy(&ctx, m);
    CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
    ctx_free(&ctx);
}

int main(void)
{
    static const harness_test all[] = {
        {"golden eval logits through the engine", test_golden_eval},
        {"engine equals dense inference (states, spikes, logits)", test_equals_dense},
        {NULL, NULL},
    };
    return harness_run("trevnet", all);
}
