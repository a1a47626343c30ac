/* test_cifar_train.c - end-to-end training on CIFAR-10 binary files
 * (`--data cifar10:DIR`): a small synthetic dataset in the real file format
 * (data_batch_1..5.bin and test_batch.bin, records of 1 label byte + 3072
 * channel-planar pixel bytes) is written to a temporary directory, and a
 * shrunk cifar10 preset trains on it with flips on, as the CLI sets for
 * CIFAR. The run must succeed, write a checkpoint that loads as a 3-channel
 * model, lower the loss and classify the test split well above chance.
 * A truncated data_batch_3.bin must fail with a message naming that file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "sim/rng.h"
#include "sim/train.h"
#include "tests/harness.h"

#define SIDE 32
#define PIXELS (3 * SIDE * SIDE)
#define RECORDS 200 /* per file: 1000 training and 200 test images */
#define SQUARE 16

static char dir[64];

/* Class k is a SQUARE x SQUARE patch of colour k at a random place on
 * uniform noise (64..191 in every channel). Training flips and shifts the
 * images, so the class cue is the colour, which survives both (a position
 * cue would be mirrored), and it needs all three channels. */
static const unsigned char palette[10][3] = {
    {255, 0, 0},   {0, 255, 0},   {0, 0, 255},   {255, 255, 0}, {255, 0, 255},
    {0, 255, 255}, {255, 255, 255}, {0, 0, 0}, {255, 128, 0}, {128, 0, 255},
};

static void make_record(sim_ctx *ctx, unsigned char *rec, int label)
{
    rec[0] = (unsigned char)label;
    unsigned char *px = rec + 1; /* (3, 32, 32) */
    for (int i = 0; i < PIXELS; i++)
        px[i] = (unsigned char)(64 + rng_int(ctx, RNG_AUX, 128));
    int y0 = (int)rng_int(ctx, RNG_AUX, SIDE - SQUARE + 1);
    int x0 = (int)rng_int(ctx, RNG_AUX, SIDE - SQUARE + 1);
    for (int c = 0; c < 3; c++)
        for (int y = y0; y < y0 + SQUARE; y++)
            for (int x = x0; x < x0 + SQUARE; x++)
                px[(c * SIDE + y) * SIDE + x] = palette[label][c];
}

/* Write one file of RECORDS records; labels cycle through every class
 * (RECORDS / 10 of each), in an order that differs between files. */
static int write_file(sim_ctx *ctx, const char *path, int file)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "\n  %s: cannot create\n", path);
        return 0;
    }
    static unsigned char rec[1 + PIXELS];
    int ok = 1;
    for (int r = 0; r < RECORDS && ok; r++) {
        make_record(ctx, rec, (7 * r + 3 * file) % 10);
        ok = fwrite(rec, 1, sizeof rec, f) == sizeof rec;
    }
    if (fclose(f) != 0)
        ok = 0;
    return ok;
}

/* Write a CIFAR-10 directory dir/sub (path to out); returns 1 on success. */
static int write_cifar(const char *sub, unsigned long seed, char *out, size_t len)
{
    sim_ctx ctx;
    harness_ctx(&ctx, seed);
    snprintf(out, len, "%s/%s", dir, sub);
    int ok = mkdir(out, 0700) == 0;
    if (!ok)
        fprintf(stderr, "\n  %s: cannot create directory\n", out);
    char path[320];
    for (int i = 1; i <= 6 && ok; i++) {
        if (i <= 5)
            snprintf(path, sizeof path, "%s/data_batch_%d.bin", out, i);
        else
            snprintf(path, sizeof path, "%s/test_batch.bin", out);
        ok = write_file(&ctx, path, i);
    }
    ctx_free(&ctx);
    return ok;
}

static void opts_cifar(train_opts *o, const char *data_dir, int epochs)
{
    train_defaults(o);
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    trev_preset(&ctx, &o->cfg, "cifar10");
    ctx_free(&ctx);
    /* 4 stem channels learn too slowly to be reliable in 200 steps; with 8
     * everywhere the final head reached 50..89% test accuracy over 30 data
     * and training seeds, float and double */
    const int ch[TREV_LEVELS] = {8, 8, 8, 8};
    memcpy(o->cfg.channels, ch, sizeof ch);
    o->cfg.T = 2;
    snprintf(o->data, sizeof o->data, "cifar10:%s", data_dir);
    o->epochs = epochs;
    o->batch = 20; /* 50 steps per epoch over the 1000 training images */
    o->threads = 1;
    o->opt.lr = 5e-3;
    o->aug_flip = 1; /* what `sim train --data cifar10:DIR` sets */
    o->quiet = 1;
}

/* The "loss" of every line of a JSON-lines training log, in order. */
static int read_losses(const char *path, double *loss, int max)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[8192];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "\"loss\": ");
        if (p)
            loss[n++] = strtod(p + 8, NULL);
    }
    fclose(f);
    return n;
}

static void test_cifar_trains(void)
{
    char data[256];
    CU_ASSERT_FATAL(write_cifar("cifar", 11, data, sizeof data));
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    train_opts o;
    train_result r;
    const int epochs = 4;
    opts_cifar(&o, data, epochs);
    snprintf(o.out, sizeof o.out, "%s/cifar.h5", dir);
    snprintf(o.log, sizeof o.log, "%s/cifar.jsonl", dir);
    sim_status st = train_run(&ctx, &o, &r);
    if (st != SIM_OK)
        fprintf(stderr, "\n  %s\n", ctx_errmsg(&ctx));
    CU_ASSERT_EQUAL_FATAL(st, SIM_OK);
    CU_ASSERT_EQUAL(r.epochs_done, epochs);
    CU_ASSERT_EQUAL(r.steps, 5 * RECORDS / o.batch * epochs);
    CU_ASSERT_EQUAL(r.nheads, 2);

    /* the loss fell from the first epoch to the last (by 1.2 or more in
     * those 30 runs; 2 heads at chance give 2 ln 10 = 4.6) */
    double loss[16];
    int nl = read_losses(o.log, loss, 16);
    CU_ASSERT_EQUAL_FATAL(nl, epochs);
    CU_ASSERT_DOUBLE_EQUAL(loss[nl - 1], r.last_loss, 1e-5);
    const int fell = loss[nl - 1] < loss[0] - 0.5;
    CU_ASSERT(fell);

    /* final head on the 200 test images (20 per class): chance is 10% +- 2% */
    const double acc = r.test_acc[r.nheads - 1];
    CU_ASSERT(acc >= 0.35);
    if (!(acc >= 0.35 && fell) || getenv("SIM_TEST_VERBOSE")) {
        fprintf(stderr, "\n  losses");
        for (int i = 0; i < nl; i++)
            fprintf(stderr, " %.4f", loss[i]);
        fprintf(stderr, "; test accuracy per head");
        for (int h = 0; h < r.nheads; h++)
            fprintf(stderr, " %.3f", r.test_acc[h]);
        fprintf(stderr, "; %.2f s\n", r.seconds);
    }

    /* the checkpoint loads as the 3-channel model that was trained */
    trev_model *m = NULL;
    st = ckpt_open_model(&ctx, o.out, &m, 0);
    if (st != SIM_OK)
        fprintf(stderr, "\n  %s\n", ctx_errmsg(&ctx));
    CU_ASSERT_EQUAL_FATAL(st, SIM_OK);
    const trev_config *c = trev_cfg(m);
    CU_ASSERT_EQUAL(c->in_channels, 3);
    CU_ASSERT_EQUAL(c->input_size, 32);
    CU_ASSERT_EQUAL(c->classes, 10);
    CU_ASSERT_EQUAL(c->T, 2);
    CU_ASSERT_EQUAL(memcmp(c->channels, o.cfg.channels, sizeof c->channels), 0);
    CU_ASSERT_STRING_EQUAL(c->preset, "cifar10");
    trev_destroy(&ctx, m);
    ctx_free(&ctx);
}

/* A data file cut mid-record fails before training, naming the file; so
 * does a missing test split. Nothing is written. */
static void test_cifar_bad_files(void)
{
    char data[256], path[320];
    CU_ASSERT_FATAL(write_cifar("truncated", 12, data, sizeof data));
    snprintf(path, sizeof path, "%s/data_batch_3.bin", data);
    CU_ASSERT_EQUAL_FATAL(truncate(path, (off_t)RECORDS * (1 + PIXELS) - 1000), 0);
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    train_opts o;
    train_result r;
    opts_cifar(&o, data, 1);
    snprintf(o.out, sizeof o.out, "%s/truncated.h5", dir);
    CU_ASSERT_NOT_EQUAL(train_run(&ctx, &o, &r), SIM_OK);
    CU_ASSERT(strstr(ctx_errmsg(&ctx), "data_batch_3.bin") != NULL);
    CU_ASSERT_EQUAL(r.steps, 0);
    CU_ASSERT_EQUAL(access(o.out, F_OK), -1);
    if (!strstr(ctx_errmsg(&ctx), "data_batch_3.bin"))
        fprintf(stderr, "\n  message: %s\n", ctx_errmsg(&ctx));

    CU_ASSERT_FATAL(write_cifar("notest", 13, data, sizeof data));
    snprintf(path, sizeof path, "%s/test_batch.bin", data);
    CU_ASSERT_EQUAL_FATAL(unlink(path), 0);
    opts_cifar(&o, data, 1);
    snprintf(o.out, sizeof o.out, "%s/notest.h5", dir);
    CU_ASSERT_NOT_EQUAL(train_run(&ctx, &o, &r), SIM_OK);
    CU_ASSERT(strstr(ctx_errmsg(&ctx), "test_batch.bin") != NULL);
    CU_ASSERT_EQUAL(access(o.out, F_OK), -1);
    if (!strstr(ctx_errmsg(&ctx), "test_batch.bin"))
        fprintf(stderr, "\n  message: %s\n", ctx_errmsg(&ctx));
    ctx_free(&ctx);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/sim-cifar-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    static const harness_test all[] = {
        {"cifar10:DIR trains, checkpoints and beats chance", test_cifar_trains},
        {"bad CIFAR-10 files fail naming the file", test_cifar_bad_files},
        {NULL, NULL},
    };
    int rc = harness_run("cifar_train", all);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}
