/* test_lifnet.c - the event-driven LIF baseline equals the dense LIF
 * inference forward: on random weights with real and synthetic images,
 * every spike site's spike count per timestep and the mean logits (double
 * build: identical spikes, logits up to summation order; float build: the
 * same predicted class). The stem is counted once per image, and
 * `sim run` on a LIF checkpoint works end to end. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "io/dataset.h"
#include "sim/rng.h"
#include "sim/train.h"
#include "tests/harness.h"
#include "topology/lifnet.h"
#include "topology/lifsnn.h"

#define N 3

static char dir[64];

/* Dense site s -> engine population (lifnet.h): per level [down = the level
 * below's out], b1.in, b1.hidden, b2.in, b2.hidden; head = L3.out. */
static int site_pop(int s)
{
    static const int kind_pop[5] = {-1, 1, 3, 6, 8}; /* b1.in, b1.hidden, b2.in, b2.hidden */
    if (s == LIFSNN_NSITES - 1)
        return 3 * LIFNET_POPS_PER_LEVEL + 11;
    int l = s < 4 ? 0 : 1 + (s - 4) / 5, kind = s < 4 ? s + 1 : (s - 4) % 5;
    if (kind == 0)
        return (l - 1) * LIFNET_POPS_PER_LEVEL + 11;
    return l * LIFNET_POPS_PER_LEVEL + kind_pop[kind];
}

static void equals_dense(const char *what, int T, int synthetic, uint64_t seed)
{
    sim_ctx ctx;
    harness_ctx(&ctx, seed);
    trev_config cfg = harness_small_cfg(T, TREV_MODEL_LIF);
    trev_model *m;
    CU_ASSERT_EQUAL_FATAL(trev_create(&ctx, &m, &cfg, 0), SIM_OK);
    harness_random_lif(&ctx, m, 0.6);
    real img[N * 32 * 32];
    if (synthetic) { /* smooth blobs plus noise, roughly normalized */
        for (int i = 0; i < N; i++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                    img[(i * 32 + y) * 32 + x] =
                        (real)(1.5 * sin(0.3 * (x + 3 * i)) * cos(0.2 * y) +
                               rng_normal(&ctx, RNG_AUX, 0.3));
    } else {
        dataset ds;
        CU_ASSERT_EQUAL_FATAL(dataset_load_fmnist(&ctx, &ds, NULL, 0), SIM_OK);
        int labels[N], idx[N] = {5, 17, 29};
        CU_ASSERT_EQUAL_FATAL(
            dataset_batch(&ctx, &ds, img, labels, idx, N, &dataset_norm_fmnist, NULL), SIM_OK);
        dataset_free(&ctx, &ds);
    }
    const int K = cfg.classes;
    CU_ASSERT_EQUAL_FATAL(trev_prepare(&ctx, m, N, TREV_PLAIN), SIM_OK);
    real dense[10 * N];
    trev_step rec;
    CU_ASSERT_EQUAL_FATAL(trev_infer_rec(&ctx, m, img, N, dense, &rec), SIM_OK);
    CU_ASSERT_EQUAL(rec.nsites, LIFSNN_NSITES);

    engine_opts eo = engine_opts_default();
    eo.on_step = harness_log_spikes;
    trevnet net;
    harness_spike_log *lgs = calloc(N, sizeof *lgs);
    double worst_logit = 0;
    int same_class = 0, mism = 0;
    uint64_t total_spikes = 0;
    for (int i = 0; i < N; i++) {
        eo.ud = &lgs[i];
        CU_ASSERT_EQUAL_FATAL(lifnet_build(&ctx, &net, m, &eo), SIM_OK);
        real lg[10];
        trevnet_stats st;
        CU_ASSERT_EQUAL_FATAL(lifnet_run_image(&ctx, &net, img + i * 1024, lg, &st), SIM_OK);
        CU_ASSERT_DOUBLE_EQUAL(st.stem_macs, conv2d_macs(&net.stem1) + conv2d_macs(&net.stem2), 0);
        CU_ASSERT_EQUAL(net.e.npop, TREV_LEVELS * LIFNET_POPS_PER_LEVEL);
        int am = 0, bm = 0;
        for (int k = 0; k < K; k++) {
            double a = (double)lg[k], b = (double)dense[(size_t)k * N + i];
            worst_logit = fmax(worst_logit, fabs(a - b) / fmax(1.0, fabs(b)));
            am = lg[k] > lg[am] ? k : am;
            bm = dense[(size_t)k * N + i] > dense[(size_t)bm * N + i] ? k : bm;
        }
        same_class += am == bm;
        /* every site at every timestep */
        for (int s = 0; s < LIFSNN_NSITES; s++) {
            int C, HW;
            const real *S = lifsnn_site_spikes(m, s, &C, &HW);
            CU_ASSERT_PTR_NOT_NULL_FATAL(S);
            CU_ASSERT_EQUAL(engine_pop(&net.e, site_pop(s))->n, C * HW);
            for (int t = 0; t < T; t++) {
                double d = 0;
                for (int c = 0; c < C; c++)
                    for (int q = 0; q < HW; q++)
                        d += (double)S[(((size_t)c * T + t) * N + i) * HW + q];
                uint64_t eng = lgs[i].count[site_pop(s)][t];
                total_spikes += eng;
                if (REAL_IS_DOUBLE && (double)eng != d && mism++ < 5) {
                    char nm[32];
                    fprintf(stderr, "\n  %s image %d site %s t=%d: engine %llu spikes, dense %.0f",
                            what, i, lifsnn_site_name(s, nm, sizeof nm), t,
                            (unsigned long long)eng, d);
                }
            }
        }
        trevnet_free(&ctx, &net);
    }
    CU_ASSERT_EQUAL(mism, 0);
    CU_ASSERT(worst_logit <= TOL(1e-9, 1e-2));
    CU_ASSERT_EQUAL(same_class, N);
    CU_ASSERT(total_spikes > 0);
    if (mism || !(worst_logit <= TOL(1e-9, 1e-2)) || getenv("SIM_TEST_VERBOSE"))
        fprintf(stderr, "\n  %s: worst logit difference %.3g, %llu spikes, %d site mismatches\n",
                what, worst_logit, (unsigned long long)total_spikes, mism);
    free(lgs);
    trev_destroy(&ctx, m);
    CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
    ctx_free(&ctx);
}

static void test_equals_dense_real(void) { equals_dense("fmnist images, T=3", 3, 0, 21); }
static void test_equals_dense_synthetic(void) { equals_dense("synthetic images, T=5", 5, 1, 22); }

/* A T-RevSNN model is refused with a message. */
static void test_wrong_model(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    trev_config cfg = harness_small_cfg(4, TREV_MODEL_TREVSNN);
    trev_model *m;
    CU_ASSERT_EQUAL_FATAL(trev_create(&ctx, &m, &cfg, 0), SIM_OK);
    trevnet net;
    CU_ASSERT_EQUAL(lifnet_build(&ctx, &net, m, NULL), SIM_EINVAL);
    CHECK_MSG(&ctx, "not lif");
    trev_destroy(&ctx, m);
    CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
    ctx_free(&ctx);
}

/* `sim run --model CKPT` on a (briefly trained) LIF checkpoint. */
static void test_sim_run(void)
{
    const char *sim = getenv("SIM_BIN");
    if (!sim || access(sim, X_OK) != 0) {
        fprintf(stderr, "\n  SIM_BIN not set: skipping `sim run`");
        return;
    }
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    train_opts o;
    train_result r;
    train_defaults(&o);
    trev_preset(&ctx, &o.cfg, "fmnist");
    int ch[4] = {4, 8, 8, 12};
    memcpy(o.cfg.channels, ch, sizeof ch);
    o.cfg.T = 2;
    o.cfg.model = TREV_MODEL_LIF;
    o.cfg.inter_supv = 0;
    o.epochs = 1;
    o.batch = 16;
    o.threads = 1;
    o.train_limit = 64;
    o.test_limit = 16;
    o.quiet = 1;
    snprintf(o.out, sizeof o.out, "%s", harness_join(dir, "lif.h5"));
    CU_ASSERT_EQUAL_FATAL(train_run(&ctx, &o, &r), SIM_OK);
    ctx_free(&ctx);
    static char cmd[8192], out[1 << 17];
    snprintf(cmd, sizeof cmd, "%s run --model %s --images 6 --json --quiet --compare-dense 2>&1",
             sim, o.out);
    FILE *p = popen(cmd, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    CU_ASSERT_EQUAL(pclose(p), 0);
    static const char *keys[] = {"\"accuracy\"", "\"energy_uj_per_image\"", "\"L2.b1.hidden\"",
                                 "\"L3.out\"", "\"dense_same_class\": 6"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        CU_ASSERT(strstr(out, keys[i]) != NULL);
        if (!strstr(out, keys[i]))
            fprintf(stderr, "\n  `sim run` output lacks %s: %.400s\n", keys[i], out);
    }
    /* engine and dense spike totals agree (double: exactly) */
    const char *a = strstr(out, "\"dense_turnoff_spikes\": ");
    const char *b = strstr(out, "\"engine_turnoff_spikes\": ");
    CU_ASSERT_FATAL(a && b);
    double ds = atof(a + strlen("\"dense_turnoff_spikes\": "));
    double es = atof(b + strlen("\"engine_turnoff_spikes\": "));
    CU_ASSERT(ds > 0);
    CU_ASSERT(fabs(ds - es) <= TOL(0, 1e-3) * ds);
}

int main(void)
{
    harness_mkdtemp(dir, sizeof dir, "sim-lifnet");
    static const harness_test all[] = {
        {"engine equals dense (fmnist images): spikes per site and timestep, logits",
         test_equals_dense_real},
        {"engine equals dense (synthetic images, T = 5)", test_equals_dense_synthetic},
        {"a T-RevSNN model is refused", test_wrong_model},
        {"sim run on a LIF checkpoint", test_sim_run},
        {NULL, NULL},
    };
    int rc = harness_run("lifnet", all);
    harness_rmtree(dir);
    return rc;
}
