/* test_faults.c - numerical faults and interruptions of the training driver
 * (docs/reliability.md): a NaN or Inf injected into a gradient, a turn-on
 * state, a parameter or a BN buffer is reported within the step, naming the
 * tensor; --on-nonfinite stop fails the run and keeps the last good
 * checkpoint, skip drops the batch and counts it; a checkpoint is never
 * written with non-finite values; a stop request (what SIGINT/SIGTERM set)
 * ends the run after the current step with a checkpoint from which --resume
 * finishes with the same weights as an uninterrupted run (bit-identical in
 * the float build; the double build's checkpoints round to float32). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "sim/train.h"
#include "tests/harness.h"

static char dir[64];

/* 2 epochs of 10 steps on a small model, one thread */
static void opts_small(train_opts *o, const char *out) { harness_train_small(o, dir, out, 8); }

/* What to break, and when. */
typedef struct {
    int64_t at[4]; /* steps (1-based) at which to inject once; 0 ends the list */
    enum { F_GRAD, F_STATE, F_PARAM, F_BUFFER, F_STOP } what;
    double value;                  /* NAN or INFINITY */
    const char *param;             /* table entry to poison */
    volatile sig_atomic_t *stop;   /* F_STOP: the flag to raise */
    int hits;
} fault;

static void inject(void *ud, trev_model *m, int64_t step)
{
    fault *f = ud;
    int now = 0;
    for (int i = 0; i < 4 && f->at[i]; i++)
        if (f->at[i] == step) { /* once: after a skip the next batch has the same step */
            f->at[i] = -step;
            now = 1;
        }
    if (!now)
        return;
    f->hits++;
    const trev_param *p = f->param ? trev_param_find(m, f->param) : NULL;
    switch (f->what) {
    case F_GRAD: trev_grads(m)[p->offset + p->n / 2] = (real)f->value; break;
    case F_PARAM:
    case F_BUFFER: trev_params(m)[p->offset + p->n - 1] = (real)f->value; break;
    case F_STATE: ((real *)trev_state(m, trev_cfg(m)->T - 1, 2))[5] = (real)f->value; break;
    case F_STOP: *f->stop = SIGTERM; break;
    }
}

/* step and finiteness of a checkpoint's parameters, moments and EMA */
static int64_t ckpt_step(const char *path, int *finite)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    trev_model *m = NULL;
    int64_t step = -1;
    *finite = 0;
    h5_file f;
    if (ckpt_open_model(&ctx, path, &m, 0) == SIM_OK && h5_open_read(&ctx, &f, path) == SIM_OK) {
        h5_read_int64(&ctx, &f, "optim/step", &step, 0, NULL);
        *finite = 1;
        real *v = trev_params(m);
        for (size_t i = 0; i < trev_nvalues(m); i++)
            *finite &= isfinite((double)v[i]);
        h5_close(&ctx, &f);
    } else {
        fprintf(stderr, "\n  %s\n", ctx_errmsg(&ctx));
    }
    trev_destroy(&ctx, m);
    ctx_free(&ctx);
    return step;
}

static void test_nan_gradient_stops(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    train_opts o;
    train_result r;
    opts_small(&o, "grad.h5");
    o.ckpt_every = 5;
    fault f = {{7}, F_GRAD, NAN, "col1/level2/block1/dw1/weight", NULL, 0};
    o.fault = inject;
    o.fault_ud = &f;
    CU_ASSERT_EQUAL(train_run(&ctx, &o, &r), SIM_ENUMERIC);
    CHECK_MSG(&ctx, "col1/level2/block1/dw1/weight gradient is NaN at step 7");
    CHECK_MSG(&ctx, "last checkpoint is kept");
    CU_ASSERT_EQUAL(r.steps, 6);
    int finite;
    CU_ASSERT_EQUAL(ckpt_step(o.out, &finite), 5);
    CU_ASSERT(finite);
    CU_ASSERT_EQUAL(harness_count_files(dir, ".tmp."), 0);
    ctx_free(&ctx);
}

static void test_inf_state_and_parameter(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    train_opts o;
    train_result r;
    opts_small(&o, "state.h5");
    fault f = {{3}, F_STATE, INFINITY, NULL, NULL, 0};
    o.fault = inject;
    o.fault_ud = &f;
    CU_ASSERT_EQUAL(train_run(&ctx, &o, &r), SIM_ENUMERIC);
    CHECK_MSG(&ctx, "turn-on state c[level 2, t 1] is Inf at step 3");
    CU_ASSERT_EQUAL(access(o.out, F_OK), -1); /* no checkpoint yet, none written */
    /* a parameter poisoned before the update: caught right after it */
    opts_small(&o, "param.h5");
    o.ckpt_every = 2;
    fault g = {{3}, F_PARAM, NAN, "stem/conv1/weight", NULL, 0};
    o.fault_ud = &g;
    o.fault = inject;
    CU_ASSERT_EQUAL(train_run(&ctx, &o, &r), SIM_ENUMERIC);
    CHECK_MSG(&ctx, "stem/conv1/weight parameter is NaN after the update of step 3");
    int finite;
    CU_ASSERT_EQUAL(ckpt_step(o.out, &finite), 2);
    CU_ASSERT(finite);
    ctx_free(&ctx);
}

/* A BN running statistic has no gradient: only the check before writing a
 * checkpoint sees it, and it refuses to overwrite the good one. */
static void test_checkpoint_never_nonfinite(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    train_opts o;
    train_result r;
    opts_small(&o, "buffer.h5");
    o.ckpt_every = 2;
    fault f = {{5}, F_BUFFER, NAN, NULL, NULL, 0};
    trev_model *m;
    CU_ASSERT_EQUAL_FATAL(trev_create(&ctx, &m, &o.cfg, 0), SIM_OK);
    for (int i = 0; i < trev_nparams(m) && !f.param; i++)
        if (trev_param_at(m, i)->buffer)
            f.param = trev_param_at(m, i)->name;
    CU_ASSERT_PTR_NOT_NULL_FATAL(f.param);
    o.fault = inject;
    o.fault_ud = &f;
    CU_ASSERT_EQUAL(train_run(&ctx, &o, &r), SIM_ENUMERIC);
    CHECK_MSG(&ctx, "parameter is NaN; not writing the checkpoint");
    CHECK_MSG(&ctx, f.param);
    int finite;
    CU_ASSERT_EQUAL(ckpt_step(o.out, &finite), 4);
    CU_ASSERT(finite);
    trev_destroy(&ctx, m);
    ctx_free(&ctx);
}

static void test_skip_counts_batches(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    train_opts o;
    train_result r;
    opts_small(&o, "skip.h5");
    o.on_nonfinite = TRAIN_NONFINITE_SKIP;
    snprintf(o.log, sizeof o.log, "%s/skip.jsonl", dir);
    /* steps count optimizer updates, so the k-th attempted batch after a
     * skip has the same number as the skipped one */
    fault f = {{3, 12}, F_GRAD, INFINITY, "stem/conv2/weight", NULL, 0};
    o.fault = inject;
    o.fault_ud = &f;
    CU_ASSERT_EQUAL(train_run(&ctx, &o, &r), SIM_OK);
    CU_ASSERT_EQUAL(r.skipped, 2);
    CU_ASSERT_EQUAL(r.steps, 18);
    CU_ASSERT_EQUAL(f.hits, 2);
    int finite;
    CU_ASSERT_EQUAL(ckpt_step(o.out, &finite), 18);
    CU_ASSERT(finite);
    char line[4096];
    FILE *lg = fopen(o.log, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(lg);
    int n = 0, last_skipped = -1;
    while (fgets(line, sizeof line, lg)) {
        const char *p = strstr(line, "\"skipped_batches\": ");
        CU_ASSERT_PTR_NOT_NULL(p);
        if (p)
            last_skipped = atoi(p + strlen("\"skipped_batches\": "));
        n++;
    }
    fclose(lg);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_EQUAL(last_skipped, 2);
    ctx_free(&ctx);
}

/* A stop request during step 7 (what cmd_train's SIGTERM handler sets):
 * the step finishes, a checkpoint is written, and resuming from it ends
 * with exactly the weights of an uninterrupted run. */
static void test_stop_request_resumes(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    train_opts o;
    train_result r;
    volatile sig_atomic_t flag = 0;
    opts_small(&o, "stop.h5");
    fault f = {{7}, F_STOP, 0, NULL, &flag, 0};
    o.fault = inject;
    o.fault_ud = &f;
    o.stop = &flag;
    CU_ASSERT_EQUAL_FATAL(train_run(&ctx, &o, &r), SIM_OK);
    CU_ASSERT_EQUAL(r.signalled, SIGTERM);
    CU_ASSERT(r.interrupted);
    CU_ASSERT_EQUAL(r.steps, 7);
    int finite;
    CU_ASSERT_EQUAL(ckpt_step(o.out, &finite), 7);
    train_opts o2;
    opts_small(&o2, "stop.h5");
    snprintf(o2.resume, sizeof o2.resume, "%s", o.out);
    CU_ASSERT_EQUAL_FATAL(train_run(&ctx, &o2, &r), SIM_OK);
    CU_ASSERT_EQUAL(r.steps, 20);
    train_opts o3;
    opts_small(&o3, "straight.h5");
    CU_ASSERT_EQUAL_FATAL(train_run(&ctx, &o3, &r), SIM_OK);
    sim_ctx c2;
    harness_ctx(&c2, 1);
    trev_model *a = NULL, *b = NULL;
    CU_ASSERT_EQUAL_FATAL(ckpt_open_model(&c2, o.out, &a, 0), SIM_OK);
    CU_ASSERT_EQUAL_FATAL(ckpt_open_model(&c2, o3.out, &b, 0), SIM_OK);
    CHECK_CLOSE("resumed after a stop request vs uninterrupted", trev_params(a), trev_params(b),
                trev_nvalues(a), TOL(1e-3, 0), TOL(1e-5, 0));
    trev_destroy(&c2, a);
    trev_destroy(&c2, b);
    ctx_free(&c2);
    ctx_free(&ctx);
}

int main(void)
{
    harness_mkdtemp(dir, sizeof dir, "sim-faults");
    static const harness_test all[] = {
        {"NaN gradient: named, stops, keeps the checkpoint", test_nan_gradient_stops},
        {"Inf turn-on state and NaN parameter are caught", test_inf_state_and_parameter},
        {"a checkpoint is never written with NaN", test_checkpoint_never_nonfinite},
        {"--on-nonfinite skip drops and counts batches", test_skip_counts_batches},
        {"stop request: checkpoint, resume, same weights", test_stop_request_resumes},
        {NULL, NULL},
    };
    int rc = harness_run("faults", all);
    harness_rmtree(dir);
    return rc;
}
