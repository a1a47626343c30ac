/* test_cli.c - bin/sim as a user meets it: --help on every command, one-line
 * errors with the right exit codes for bad options and files, JSON output
 * that parses, a checkpoint with a missing or misshapen tensor named in the
 * error, and `sim run` on a freshly trained tiny checkpoint. Runs the binary
 * given in $SIM_BIN (set by make run-tests). */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/json.h"
#include "sim/cmd_parse.h"
#include "tests/harness.h"

static char dir[64];
static const char *sim;

/* Run a command line (with the binary prefixed); capture stdout and stderr. */
static int run(char *out, size_t olen, char *err, size_t elen, const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s >%s/out.txt 2>%s/err.txt", sim, args, dir, dir);
    int rc = system(cmd);
    char path[128];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(out, 1, olen - 1, f) : 0;
    out[n] = '\0';
    if (f)
        fclose(f);
    snprintf(path, sizeof path, "%s/err.txt", dir);
    f = fopen(path, "r");
    n = f ? fread(err, 1, elen - 1, f) : 0;
    err[n] = '\0';
    if (f)
        fclose(f);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static char out[1 << 20], err[1 << 16];

static void test_help_everywhere(void)
{
    const char *cmds[] = {"--help", "--train --help", "train --help", "run --help", "info --help",
                          "bench-train --help"};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        CU_ASSERT_EQUAL(run(out, sizeof out, err, sizeof err, cmds[i]), 0);
        CU_ASSERT(strstr(out, "usage") != NULL);
    }
}

static void test_usage_errors(void)
{
    struct {
        const char *args, *needle;
        int rc;
    } cases[] = {
        {"--bogus", "--bogus", 2},
        {"info --T 0", "--T", 2},
        {"info --channels 1,2,3", "--channels", 2},
        {"info --preset huge", "huge", 2},
        {"--train --lr abc", "--lr", 2},
        {"--train --mode fast", "--mode", 2},
        {"--train --epochs", "--epochs", 2},
        {"--train --data mnist --quiet", "mnist", 2},
        {"run", "--model", 2},
        {"run --model /nonexistent/x.h5", "/nonexistent/x.h5", 1},
        {"run --model x.h5 --range 5:2", "--range", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int rc = run(out, sizeof out, err, sizeof err, cases[i].args);
        CU_ASSERT_EQUAL(rc, cases[i].rc);
        CU_ASSERT(strstr(err, cases[i].needle) != NULL);
        CU_ASSERT_EQUAL(lines(err), 1);
        if (rc != cases[i].rc || !strstr(err, cases[i].needle) || lines(err) != 1)
            fprintf(stderr, "\n  sim %s: exit %d, stderr: %s\n", cases[i].args, rc, err);
    }
}

static void test_info_json(void)
{
    CU_ASSERT_EQUAL_FATAL(run(out, sizeof out, err, sizeof err, "info --preset fmnist --json"), 0);
    double params = 0, T = 0;
    CU_ASSERT(json_get_number(out, "parameters", &params));
    CU_ASSERT_EQUAL(params, 1349880);
    char cfg[2048];
    CU_ASSERT(json_get_object(out, "config", cfg, sizeof cfg));
    CU_ASSERT(json_get_number(cfg, "T", &T));
    CU_ASSERT_EQUAL(T, 4);
}

/* Copy a checkpoint with one tensor deleted / replaced by a misshapen one. */
static void tamper(const char *src, const char *dst, const char *tensor, int reshape)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp %s %s", src, dst);
    CU_ASSERT_FATAL(system(cmd) == 0);
    hid_t f = H5Fopen(dst, H5F_ACC_RDWR, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    CU_ASSERT(H5Ldelete(f, tensor, H5P_DEFAULT) >= 0);
    if (reshape) {
        hsize_t dims[2] = {3, 5};
        float zeros[15] = {0};
        hid_t sp = H5Screate_simple(2, dims, NULL);
        hid_t ds = H5Dcreate2(f, tensor, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros);
        H5Dclose(ds);
        H5Sclose(sp);
    }
    H5Fclose(f);
}

static void test_train_then_run(void)
{
    char args[1024], ck[128], bad[128];
    snprintf(ck, sizeof ck, "%s/tiny.h5", dir);
    snprintf(args, sizeof args,
             "--train --channels 4,8,8,8 --T 2 --batch 32 --epochs 1 --train-limit 128 "
             "--test-limit 64 --threads 1 --out %s --json",
             ck);
    CU_ASSERT_EQUAL_FATAL(run(out, sizeof out, err, sizeof err, args), 0);
    double steps = 0;
    CU_ASSERT(json_get_number(out, "steps", &steps));
    CU_ASSERT_EQUAL(steps, 4);
    CU_ASSERT(access(ck, F_OK) == 0);

    snprintf(args, sizeof args, "run --model %s --images 5 --json --quiet", ck);
    CU_ASSERT_EQUAL_FATAL(run(out, sizeof out, err, sizeof err, args), 0);
    double acc = -1, images = 0, spikes = -1, e = -1, stem = 0;
    CU_ASSERT(json_get_number(out, "accuracy", &acc));
    CU_ASSERT(json_get_number(out, "images", &images));
    CU_ASSERT(json_get_number(out, "spikes_per_image", &spikes));
    CU_ASSERT(json_get_number(out, "energy_uj_per_image", &e));
    CU_ASSERT(json_get_number(out, "stem_macs_per_image", &stem));
    CU_ASSERT(acc >= 0 && acc <= 1);
    CU_ASSERT_EQUAL(images, 5);
    CU_ASSERT(spikes > 0 && e > 0);
    /* stem: 3x3 1->4 on 32x32 plus 3x3 stride 2 4->4 on 16x16 */
    CU_ASSERT_EQUAL(stem, 4.0 * 1 * 9 * 32 * 32 + 4.0 * 4 * 9 * 16 * 16);
    double cols[8];
    int nc = 0;
    CU_ASSERT(json_get_numbers(out, "column_acs_per_image", cols, 8, &nc));
    CU_ASSERT_EQUAL(nc, 2);

    /* a trace: its spikes, read back with the HDF5 C API, equal the counters */
    char tr[128];
    snprintf(tr, sizeof tr, "%s/trace.h5", dir);
    snprintf(args, sizeof args, "run --model %s --images 3 --json --quiet --trace %s", ck, tr);
    CU_ASSERT_EQUAL_FATAL(run(out, sizeof out, err, sizeof err, args), 0);
    double per_image = 0;
    CU_ASSERT(json_get_number(out, "spikes_per_image", &per_image));
    hid_t f = H5Fopen(tr, H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    hid_t g = H5Gopen2(f, "/spikes", H5P_DEFAULT);
    hsize_t npop = 0, total = 0;
    H5Gget_num_objs(g, &npop);
    CU_ASSERT(npop > 10);
    for (hsize_t i = 0; i < npop; i++) {
        char name[128], path[192];
        H5Gget_objname_by_idx(g, i, name, sizeof name);
        snprintf(path, sizeof path, "/spikes/%s/node_ids", name);
        hid_t d = H5Dopen2(f, path, H5P_DEFAULT), sp = H5Dget_space(d);
        hsize_t n = 0;
        H5Sget_simple_extent_dims(sp, &n, NULL);
        hid_t ty = H5Dget_type(d);
        CU_ASSERT(H5Tget_class(ty) == H5T_INTEGER && H5Tget_size(ty) == 8 &&
                  H5Tget_sign(ty) == H5T_SGN_NONE);
        total += n;
        H5Tclose(ty), H5Sclose(sp), H5Dclose(d);
    }
    H5Gclose(g);
    hid_t smp = H5Dopen2(f, "/samples", H5P_DEFAULT), ssp = H5Dget_space(smp);
    hsize_t nsamp = 0;
    H5Sget_simple_extent_dims(ssp, &nsamp, NULL);
    CU_ASSERT_EQUAL(nsamp, 3);
    H5Sclose(ssp), H5Dclose(smp), H5Fclose(f);
    CU_ASSERT_DOUBLE_EQUAL((double)total, per_image * 3, 0.5);
    /* an unwritable trace path fails before any simulation */
    snprintf(args, sizeof args, "run --model %s --images 3 --quiet --trace /nonexistent/t.h5", ck);
    CU_ASSERT_EQUAL(run(out, sizeof out, err, sizeof err, args), 1);
    CU_ASSERT(strstr(err, "/nonexistent/t.h5") != NULL);
    CU_ASSERT(strstr(err, "run 3/3") == NULL);

    /* the engine agrees with the dense forward on the class of every image and
     * (up to float ties at the threshold) on the spikes */
    snprintf(args, sizeof args, "run --model %s --images 20 --compare-dense --json --quiet", ck);
    CU_ASSERT_EQUAL_FATAL(run(out, sizeof out, err, sizeof err, args), 0);
    double same = -1, ds = 0, es = 0;
    CU_ASSERT(json_get_number(out, "dense_same_class", &same));
    CU_ASSERT(json_get_number(out, "dense_turnoff_spikes", &ds));
    CU_ASSERT(json_get_number(out, "engine_turnoff_spikes", &es));
    CU_ASSERT_EQUAL(same, 20);
    CU_ASSERT(ds > 0 && fabs(es - ds) <= 1e-4 * ds);

    /* out of range */
    snprintf(args, sizeof args, "run --model %s --range 9999:10001 --quiet", ck);
    CU_ASSERT_EQUAL(run(out, sizeof out, err, sizeof err, args), 1);
    CU_ASSERT(strstr(err, "10000") != NULL);

    /* a missing tensor and a misshapen one are named, with both shapes */
    snprintf(bad, sizeof bad, "%s/missing.h5", dir);
    tamper(ck, bad, "/params/col1/level2/block1/pw1/gain", 0);
    snprintf(args, sizeof args, "run --model %s --images 1 --quiet", bad);
    CU_ASSERT_EQUAL(run(out, sizeof out, err, sizeof err, args), 1);
    CU_ASSERT(strstr(err, "col1/level2/block1/pw1/gain") != NULL);
    CU_ASSERT(strstr(err, "missing") != NULL);
    CU_ASSERT_EQUAL(lines(err), 1);
    snprintf(bad, sizeof bad, "%s/shape.h5", dir);
    tamper(ck, bad, "/params/stem/conv2/weight", 1);
    snprintf(args, sizeof args, "run --model %s --images 1 --quiet", bad);
    CU_ASSERT_EQUAL(run(out, sizeof out, err, sizeof err, args), 1);
    CU_ASSERT(strstr(err, "stem/conv2/weight") != NULL);
    CU_ASSERT(strstr(err, "(4, 4, 3, 3)") != NULL);
    CU_ASSERT(strstr(err, "(3, 5)") != NULL);
    /* resuming training from it fails the same way and writes nothing */
    snprintf(args, sizeof args, "--train --resume %s --out %s/new.h5 --quiet", bad, dir);
    CU_ASSERT_EQUAL(run(out, sizeof out, err, sizeof err, args), 1);
    CU_ASSERT(strstr(err, "stem/conv2/weight") != NULL);
    snprintf(bad, sizeof bad, "%s/new.h5", dir);
    CU_ASSERT(access(bad, F_OK) != 0);
}

/* cmd_run_parse (sim/cmd_parse.h): `sim run`'s options without running. */
static int run_parse(run_opts *o, sim_ctx *ctx, const char *line)
{
    static char buf[512];
    char *argv[32];
    int argc = 0;
    snprintf(buf, sizeof buf, "run %s", line);
    for (char *t = strtok(buf, " "); t && argc < 31; t = strtok(NULL, " "))
        argv[argc++] = t;
    argv[argc] = NULL;
    return cmd_run_parse(ctx, argc, argv, o);
}

static void test_run_parse(void)
{
    sim_ctx ctx;
    CU_ASSERT_FATAL(ctx_init(&ctx, 1) == SIM_OK);
    run_opts o;
    CU_ASSERT_EQUAL(run_parse(&o, &ctx, "--model m.h5"), 0);
    CU_ASSERT_STRING_EQUAL(o.model, "m.h5");
    CU_ASSERT_STRING_EQUAL(o.data, "fmnist");
    CU_ASSERT(o.first == 0 && o.count == 100 && o.threads == 1 && !o.trace && !o.have_range);
    CU_ASSERT(o.e_mac_pj == 4.6 && o.e_ac_pj == 0.9);
    CU_ASSERT_EQUAL(run_parse(&o, &ctx, "--model m --range 3:7 --energy int8 --trace t.h5 "
                                        "--threads 4 --json --quiet --compare-dense"), 0);
    CU_ASSERT(o.first == 3 && o.count == 4 && o.have_range && o.threads == 4);
    CU_ASSERT(o.json && o.quiet && o.compare && !strcmp(o.trace, "t.h5"));
    CU_ASSERT(o.e_mac_pj == 0.23 && o.e_ac_pj == 0.03);
    /* the last of --range / --images wins */
    CU_ASSERT_EQUAL(run_parse(&o, &ctx, "--model m --range 3:7 --images 5"), 0);
    CU_ASSERT(o.first == 0 && o.count == 5 && !o.have_range);
    CU_ASSERT_EQUAL(run_parse(&o, &ctx, "--help"), 1);
    CU_ASSERT_EQUAL(run_parse(&o, &ctx, "--images 5"), -1);
    CU_ASSERT(strstr(ctx_errmsg(&ctx), "--model CKPT is required") != NULL);
    CU_ASSERT_EQUAL(run_parse(&o, &ctx, "--model m --range 5:"), -1);
    CU_ASSERT(strstr(ctx_errmsg(&ctx), "--range: expected A:B") != NULL);
    CU_ASSERT_EQUAL(run_parse(&o, &ctx, "--model m --range 7:3"), -1);
    CU_ASSERT_EQUAL(run_parse(&o, &ctx, "--model m --range 0:99999999999999999999"), -1);
    CU_ASSERT_EQUAL(run_parse(&o, &ctx, "--model m --energy fp64"), -1);
    CU_ASSERT(strstr(ctx_errmsg(&ctx), "fp32, fp16 or int8") != NULL);
    CU_ASSERT_EQUAL(run_parse(&o, &ctx, "--model m --threads 0"), -1);
    CU_ASSERT_EQUAL(run_parse(&o, &ctx, "--model m stray"), -1);
    ctx_free(&ctx);
}

int main(void)
{
    sim = getenv("SIM_BIN");
    if (!sim || !*sim)
        sim = "./bin/sim";
    if (access(sim, X_OK) != 0) {
        fprintf(stderr, "test_cli: %s is not an executable (set SIM_BIN)\n", sim);
        return 1;
    }
    snprintf(dir, sizeof dir, "/tmp/sim-cli-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    static const harness_test all[] = {
        {"cmd_run_parse: options, defaults, errors", test_run_parse},
        {"--help on every command", test_help_everywhere},
        {"usage errors: one line, exit 2; file errors exit 1", test_usage_errors},
        {"info --json", test_info_json},
        {"train a tiny model, run it, tampered checkpoints", test_train_then_run},
        {NULL, NULL},
    };
    int rc = harness_run("cli", all);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0 && rc == 0)
        rc = 1;
    return rc;
}
