/* test_train.c - the training driver: a run interrupted and resumed ends
 * with bit-identical weights to an uninterrupted one (one thread, float
 * build, where checkpoints hold the exact values); same seed, same loss
 * curve; bad options and files fail before any work with one-line errors;
 * the float state-reconstruction error stays bounded on a trained model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "sim/train.h"
#include "tests/harness.h"

static char dir[64];

static void opts_small(train_opts *o, const char *out)
{
    harness_train_small(o, dir, out, 12);
    o->warmup_epochs = 0.5;
}

/* Parameters (and EMA) of a checkpoint as a flat array. */
static real *load_values(const char *path, size_t *n)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    trev_model *m;
    if (ckpt_open_model(&ctx, path, &m, 0) != SIM_OK) {
        fprintf(stderr, "\n  %s\n", ctx_errmsg(&ctx));
        ctx_free(&ctx);
        return NULL;
    }
    *n = trev_nvalues(m);
    real *v = malloc(*n * sizeof *v);
    memcpy(v, trev_params(m), *n * sizeof *v);
    trev_destroy(&ctx, m);
    ctx_free(&ctx);
    return v;
}

static void test_resume_bit_identical(void)
{
    sim_ctx ctx;
    train_opts a, b;
    train_result ra, rb;
    opts_small(&a, "full.h5");
    harness_ctx(&ctx, 1);
    CU_ASSERT_EQUAL_FATAL(train_run(&ctx, &a, &ra), SIM_OK);
    CU_ASSERT_EQUAL(ra.epochs_done, 2);
    CU_ASSERT_EQUAL(ra.steps, 20);
    /* the same run stopped after 7 steps (mid-epoch), then again after 6
     * more (crossing the epoch boundary), then resumed to the end */
    opts_small(&b, "part.h5");
    b.max_steps = 7;
    CU_ASSERT_EQUAL_FATAL(train_run(&ctx, &b, &rb), SIM_OK);
    CU_ASSERT(rb.interrupted);
    CU_ASSERT_EQUAL(rb.steps, 7);
    snprintf(b.resume, sizeof b.resume, "%s", b.out);
    b.max_steps = 6;
    CU_ASSERT_EQUAL_FATAL(train_run(&ctx, &b, &rb), SIM_OK);
    CU_ASSERT_EQUAL(rb.steps, 13);
    b.max_steps = 0;
    CU_ASSERT_EQUAL_FATAL(train_run(&ctx, &b, &rb), SIM_OK);
    CU_ASSERT_EQUAL(rb.steps, 20);
    CU_ASSERT_FALSE(rb.interrupted);
    size_t na, nb;
    real *va = load_values(a.out, &na), *vb = load_values(b.out, &nb);
    CU_ASSERT_PTR_NOT_NULL_FATAL(va);
    CU_ASSERT_PTR_NOT_NULL_FATAL(vb);
    CU_ASSERT_EQUAL_FATAL(na, nb);
#if REAL_IS_DOUBLE
    /* checkpoints hold float32: a resumed double run continues from rounded
     * weights, so only closeness can be asserted here */
    CU_ASSERT(harness_close("resumed weights", vb, va, na, 1e-4, 1e-5));
#else
    size_t diff = 0;
    for (size_t i = 0; i < na; i++)
        diff += memcmp(&va[i], &vb[i], sizeof *va) != 0;
    CU_ASSERT_EQUAL(diff, 0);
    if (diff)
        fprintf(stderr, "\n  %zu of %zu values differ after resume\n", diff, na);
    CU_ASSERT_EQUAL(memcmp(&ra.test_acc[1], &rb.test_acc[1], sizeof ra.test_acc[1]), 0);
#endif
    free(va);
    free(vb);
    ctx_free(&ctx);
}

static void test_same_seed_same_curve(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    train_opts a;
    train_result r1, r2, r3;
    opts_small(&a, "seed.h5");
    a.epochs = 1;
    CU_ASSERT_EQUAL_FATAL(train_run(&ctx, &a, &r1), SIM_OK);
    CU_ASSERT_EQUAL_FATAL(train_run(&ctx, &a, &r2), SIM_OK);
    CU_ASSERT_EQUAL(memcmp(&r1.last_loss, &r2.last_loss, sizeof r1.last_loss), 0);
    a.seed = 2;
    CU_ASSERT_EQUAL_FATAL(train_run(&ctx, &a, &r3), SIM_OK);
    CU_ASSERT(r3.last_loss != r1.last_loss);
    /* 2 threads: deterministic too */
    a.seed = 1;
    a.threads = 2;
    CU_ASSERT_EQUAL_FATAL(train_run(&ctx, &a, &r2), SIM_OK);
    CU_ASSERT_EQUAL_FATAL(train_run(&ctx, &a, &r3), SIM_OK);
    CU_ASSERT_EQUAL(memcmp(&r2.last_loss, &r3.last_loss, sizeof r2.last_loss), 0);
    ctx_free(&ctx);
}

static void test_bad_inputs(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    train_opts o;
    train_result r;
    opts_small(&o, "bad.h5");
    snprintf(o.data, sizeof o.data, "fmnist:%s/nodata", dir);
    CU_ASSERT_EQUAL(train_run(&ctx, &o, &r), SIM_EIO);
    CU_ASSERT(strstr(ctx_errmsg(&ctx), "nodata") != NULL);
    opts_small(&o, "bad.h5");
    snprintf(o.data, sizeof o.data, "mnist");
    CU_ASSERT_EQUAL(train_run(&ctx, &o, &r), SIM_EINVAL);
    CU_ASSERT(strstr(ctx_errmsg(&ctx), "mnist") != NULL);
    /* an unwritable checkpoint path fails before any training */
    opts_small(&o, "no/such/dir/x.h5");
    CU_ASSERT_EQUAL(train_run(&ctx, &o, &r), SIM_EIO);
    CU_ASSERT(strstr(ctx_errmsg(&ctx), "no/such/dir") != NULL);
    CU_ASSERT_EQUAL(r.steps, 0);
    /* resuming from something that is not a checkpoint */
    opts_small(&o, "bad.h5");
    snprintf(o.resume, sizeof o.resume, "%s/garbage.h5", dir);
    FILE *f = fopen(o.resume, "w");
    fputs("not hdf5", f);
    fclose(f);
    CU_ASSERT_NOT_EQUAL(train_run(&ctx, &o, &r), SIM_OK);
    CU_ASSERT(strstr(ctx_errmsg(&ctx), "garbage.h5") != NULL);
    CU_ASSERT_EQUAL(access(o.out, F_OK), -1); /* nothing written */
    /* batch larger than the data */
    opts_small(&o, "bad.h5");
    o.batch = 1000;
    CU_ASSERT_EQUAL(train_run(&ctx, &o, &r), SIM_EINVAL);
    ctx_free(&ctx);
}

/* Reversible mode in float: the rebuilt states differ from the forward's by
 * rounding amplified through 1/alpha; on a trained model it stays small. */
static void test_rebuild_error_bounded(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    train_opts o;
    train_result r;
    opts_small(&o, "rebuild.h5");
    o.cfg.T = 4;
    o.epochs = 1;
    o.check_rebuild = 1;
    CU_ASSERT_EQUAL_FATAL(train_run(&ctx, &o, &r), SIM_OK);
    CU_ASSERT(r.max_rebuild_err < TOL(1e-12, 1e-3));
    if (!(r.max_rebuild_err < TOL(1e-12, 1e-3)) || getenv("SIM_TEST_VERBOSE"))
        fprintf(stderr, "\n  max state reconstruction error %.3g\n", r.max_rebuild_err);
    ctx_free(&ctx);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/sim-train-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    static const harness_test all[] = {
        {"interrupted and resumed run is bit-identical", test_resume_bit_identical},
        {"same seed, same loss curve", test_same_seed_same_curve},
        {"bad inputs fail early with one line", test_bad_inputs},
        {"float state reconstruction error bounded", test_rebuild_error_bounded},
        {NULL, NULL},
    };
    int rc = harness_run("train", all);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}
