/* test_limits.c - resource bounds and fuzzing regressions of the loaders
 * (docs/reliability.md): files claiming absurd shapes or counts are rejected
 * before anything of that size is allocated (the bounds are stated in
 * io/dataset.h, io/checkpoint.h and io/h5.h), out-of-range numbers in a
 * checkpoint config are errors rather than undefined conversions (found by
 * fuzz_json), and the temporaries of killed checkpoint writers are cleaned. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "io/dataset.h"
#include "tests/harness.h"

static char dir[64];

static void put_be32(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* IDX headers far beyond the data: the claimed size is never allocated */
static void test_idx_claims(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    struct {
        unsigned n, h, w;
        const char *text;
    } cases[] = {
        {0x80000000u, 0x10000, 0x10000, "dimension 0 is 2147483648"},
        {100, 0x10000, 0x10000, "dimension 1 is 65536"},
        {10000000, 4096, 4096, "expected 10000000 bytes of data after the header"},
        {300, 4096, 4096, "found 64"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        unsigned char img[16 + 64], lbl[8 + 64];
        put_be32(img, 0x803);
        put_be32(img + 4, cases[c].n);
        put_be32(img + 8, cases[c].h);
        put_be32(img + 12, cases[c].w);
        memset(img + 16, 9, 64);
        put_be32(lbl, 0x801);
        put_be32(lbl + 4, cases[c].n);
        memset(lbl + 8, 1, 64);
        mem_reset_peak(&ctx);
        dataset ds;
        CU_ASSERT_EQUAL(dataset_parse_fmnist(&ctx, &ds, img, sizeof img, lbl, sizeof lbl, 0),
                        SIM_EFORMAT);
        CHECK_MSG(&ctx, cases[c].text);
        CU_ASSERT_PTR_NULL(ds.pixels);
        CU_ASSERT(ctx.mem_peak_total <= 4096);
    }
    /* the in-memory parser agrees with the file reader on a valid pair */
    unsigned char img[16 + 2 * 4], lbl[8 + 2] = {0, 0, 8, 1, 0, 0, 0, 2, 3, 9};
    put_be32(img, 0x803);
    put_be32(img + 4, 2);
    put_be32(img + 8, 2);
    put_be32(img + 12, 2);
    for (int i = 0; i < 8; i++)
        img[16 + i] = (unsigned char)(i * 30);
    dataset ds;
    CU_ASSERT_EQUAL_FATAL(dataset_parse_fmnist(&ctx, &ds, img, sizeof img, lbl, sizeof lbl, 1),
                          SIM_OK);
    CU_ASSERT(ds.n == 2 && ds.h == 2 && ds.w == 2 && ds.labels[0] == 3 && ds.labels[1] == 9);
    CU_ASSERT(ds.pixels[7] == 210);
    dataset_free(&ctx, &ds);
    /* CIFAR-10 from memory: whole records only, labels checked */
    unsigned char rec[2 * 3073];
    memset(rec, 5, sizeof rec);
    CU_ASSERT_EQUAL(dataset_parse_cifar10(&ctx, &ds, rec, sizeof rec - 1, 0), SIM_EFORMAT);
    CHECK_MSG(&ctx, "not a positive multiple of 3073");
    rec[3073] = 10;
    CU_ASSERT_EQUAL(dataset_parse_cifar10(&ctx, &ds, rec, sizeof rec, 0), SIM_EFORMAT);
    CHECK_MSG(&ctx, "label of record 1 is 10");
    rec[3073] = 4;
    CU_ASSERT_EQUAL_FATAL(dataset_parse_cifar10(&ctx, &ds, rec, sizeof rec, 0), SIM_OK);
    CU_ASSERT(ds.n == 2 && ds.c == 3 && ds.labels[1] == 4);
    dataset_free(&ctx, &ds);
    CU_ASSERT_EQUAL(ctx.nallocs, 0);
    ctx_free(&ctx);
}

static trev_config small_config(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    trev_config cfg;
    trev_preset(&ctx, &cfg, "fmnist");
    ctx_free(&ctx);
    int ch[4] = {2, 2, 4, 4};
    memcpy(cfg.channels, ch, sizeof ch);
    cfg.T = 2;
    return cfg;
}

/* The bound used to refuse huge configs is an upper bound, and not a loose
 * one, of the real parameter count. */
static void test_values_bound(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    const char *presets[] = {"fmnist", "cifar10", "tiny", "small"};
    for (int i = 0; i < 5; i++) {
        trev_config cfg;
        if (i < 4)
            trev_preset(&ctx, &cfg, presets[i]);
        else
            cfg = small_config();
        trev_model *m;
        CU_ASSERT_EQUAL_FATAL(trev_create(&ctx, &m, &cfg, 0), SIM_OK);
        double n = (double)trev_nvalues(m), ub = ckpt_values_bound(&cfg);
        if (!(ub >= n && ub <= 4 * n))
            fprintf(stderr, "\n  preset %d: %g values, bound %g\n", i, n, ub);
        CU_ASSERT(ub >= n && ub <= 4 * n);
        CU_ASSERT(ub <= (double)CKPT_MAX_VALUES);
        trev_destroy(&ctx, m);
    }
    ctx_free(&ctx);
}

/* A checkpoint whose config describes an enormous model is refused before
 * the model is built. */
static void test_ckpt_huge_config(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    trev_config cfg = small_config();
    for (int l = 0; l < TREV_LEVELS; l++)
        cfg.channels[l] = 65536;
    char json[2048];
    trev_config_json(&cfg, json, sizeof json);
    const char *path = harness_join(dir, "huge.h5");
    h5_file f;
    CU_ASSERT_EQUAL_FATAL(h5_create(&ctx, &f, path), SIM_OK);
    CU_ASSERT_EQUAL(h5_set_attr_str(&ctx, &f, "/", "format", CKPT_FORMAT), SIM_OK);
    CU_ASSERT_EQUAL(h5_set_attr_str(&ctx, &f, "/", "config", json), SIM_OK);
    CU_ASSERT_EQUAL(h5_close(&ctx, &f), SIM_OK);
    mem_reset_peak(&ctx);
    trev_model *m = NULL;
    CU_ASSERT_EQUAL(ckpt_open_model(&ctx, path, &m, 1), SIM_EFORMAT);
    CHECK_MSG(&ctx, "huge.h5: config: a model of channels 65536,65536,65536,65536");
    CHECK_MSG(&ctx, "expected at most 134217728");
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT(ctx.mem_peak_total < ((size_t)1 << 20));
    ctx_free(&ctx);
}

/* Write a valid small checkpoint with optimizer state, then replace one of
 * its datasets by an int32 dataset claiming `extent` entries (no storage:
 * HDF5 allocates contiguous data late, so the file stays small). */
static const char *ckpt_with_claim(sim_ctx *ctx, const char *name, const char *dset,
                                   hsize_t extent)
{
    trev_config cfg = small_config();
    trev_model *m;
    optim o;
    optim_config oc;
    optim_defaults(&oc);
    CU_ASSERT_FATAL(trev_create(ctx, &m, &cfg, 1) == SIM_OK);
    CU_ASSERT_FATAL(optim_init(ctx, &o, m, &oc) == SIM_OK);
    int order[4] = {3, 1, 2, 0};
    unsigned char rng[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    ckpt_state s;
    memset(&s, 0, sizeof s);
    s.order = order;
    s.norder = 4;
    s.rng = rng;
    s.rng_len = sizeof rng;
    const char *path = harness_join(dir, name);
    CU_ASSERT_EQUAL_FATAL(ckpt_save(ctx, path, m, &o, &s), SIM_OK);
    optim_free(ctx, &o);
    trev_destroy(ctx, m);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    CU_ASSERT(H5Ldelete(f, dset, H5P_DEFAULT) >= 0);
    hid_t sp = H5Screate_simple(1, &extent, NULL);
    hid_t d = H5Dcreate2(f, dset, H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT_FATAL(d >= 0);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
    return path;
}

static void test_ckpt_huge_state(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    struct {
        const char *dset;
        hsize_t extent;
        const char *text;
    } cases[] = {
        {"state/order", 2147483647, "state/order: 2147483647 entries, expected 1..10000000"},
        {"state/order", 0, "state/order: 0 entries"},
        {"state/order", (hsize_t)1 << 40, "tensor state/order: extent 1099511627776 too large"},
        {"state/rng", 2147483647, "state/rng: unexpected shape"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        const char *path = ckpt_with_claim(&ctx, "claim.h5", cases[c].dset, cases[c].extent);
        trev_model *m = NULL;
        CU_ASSERT_EQUAL_FATAL(ckpt_open_model(&ctx, path, &m, 1), SIM_OK);
        optim o;
        optim_config oc;
        optim_defaults(&oc);
        CU_ASSERT_EQUAL_FATAL(optim_init(&ctx, &o, m, &oc), SIM_OK);
        h5_file f;
        CU_ASSERT_EQUAL_FATAL(h5_open_read(&ctx, &f, path), SIM_OK);
        size_t before = ctx.mem_cur_total;
        mem_reset_peak(&ctx);
        ckpt_state s;
        CU_ASSERT_EQUAL(ckpt_load_state(&ctx, &f, m, &o, &s), SIM_EFORMAT);
        CHECK_MSG(&ctx, cases[c].text);
        CU_ASSERT(ctx.mem_peak_total - before < ((size_t)1 << 20));
        CU_ASSERT_PTR_NULL(s.order);
        h5_close(&ctx, &f);
        optim_free(&ctx, &o);
        trev_destroy(&ctx, m);
    }
    CU_ASSERT_EQUAL(ctx.nallocs, 0);
    ctx_free(&ctx);
}

static void test_long_attribute(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    const char *path = harness_join(dir, "attr.h5");
    size_t n = H5IO_MAX_STR + 10;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    h5_file f;
    CU_ASSERT_EQUAL_FATAL(h5_create(&ctx, &f, path), SIM_OK);
    CU_ASSERT_EQUAL(h5_set_attr_str(&ctx, &f, "/", "config", big), SIM_OK);
    CU_ASSERT_EQUAL(h5_close(&ctx, &f), SIM_OK);
    free(big);
    CU_ASSERT_EQUAL_FATAL(h5_open_read(&ctx, &f, path), SIM_OK);
    char *v = NULL;
    mem_reset_peak(&ctx);
    CU_ASSERT_EQUAL(h5_get_attr_str(&ctx, &f, "/", "config", &v), SIM_EFORMAT);
    CHECK_MSG(&ctx, "attribute config on /: longer than 1048576 bytes");
    CU_ASSERT_PTR_NULL(v);
    CU_ASSERT(ctx.mem_peak_total < 4096);
    h5_close(&ctx, &f);
    CU_ASSERT_EQUAL(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
    ctx_free(&ctx);
}

/* fuzz_json found that a config number outside int's range was converted
 * to int (undefined behaviour); now each is an error naming the key. */
static void test_config_numbers(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    trev_config cfg = small_config();
    char good[2048];
    trev_config_json(&cfg, good, sizeof good);
    trev_config back;
    CU_ASSERT_EQUAL_FATAL(ckpt_config_from_json(&ctx, good, "c.json", &back), SIM_OK);
    struct {
        const char *from, *to, *text;
    } cases[] = {
        {"\"channels\": [2, 2, 4, 4]", "\"channels\": [2, 2, 4, 8.9e40]",
         "channels[3] is 8.9e+40, expected an integer"},
        {"\"channels\": [2, 2, 4, 4]", "\"channels\": [2, -1e300, 4, 4]", "channels[1]"},
        {"\"channels\": [2, 2, 4, 4]", "\"channels\": [2, 2.5, 4, 4]", "channels[1]"},
        {"\"T\": 2", "\"T\": 1e20", "expected integer key \"T\""},
        {"\"classes\": 10", "\"classes\": -3e9", "expected integer key \"classes\""},
        {"\"raw_size\": 28", "\"raw_size\": 1e300", "raw_size is 1e+300, expected an integer"},
        {"\"raw_size\": 28", "\"raw_size\": 33", "raw_size is 33, expected 1..input_size (32)"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        char json[2048], *p = strstr(good, cases[c].from);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        snprintf(json, sizeof json, "%.*s%s%s", (int)(p - good), good, cases[c].to,
                 p + strlen(cases[c].from));
        CU_ASSERT_EQUAL(ckpt_config_from_json(&ctx, json, "c.json", &back), SIM_EFORMAT);
        CHECK_MSG(&ctx, cases[c].text);
    }
    ctx_free(&ctx);
}

static void test_stale_temporaries(void)
{
    const char *fin = harness_join(dir, "run.h5");
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);
    char p1[512], p2[512], p3[512], p4[512];
    snprintf(p1, sizeof p1, "%s.tmp.%ld", fin, (long)dead);      /* writer gone: removed */
    snprintf(p2, sizeof p2, "%s.tmp.%ld", fin, (long)getppid()); /* alive: kept */
    snprintf(p3, sizeof p3, "%s.tmp.x12", fin);                  /* not a pid: kept */
    snprintf(p4, sizeof p4, "%sx.tmp.%ld", fin, (long)dead);     /* another file's: kept */
    const char *all[] = {p1, p2, p3, p4};
    for (int i = 0; i < 4; i++) {
        FILE *f = fopen(all[i], "w");
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        fclose(f);
    }
    CU_ASSERT_EQUAL(h5_remove_stale_tmp(fin), 1);
    CU_ASSERT(!harness_file_exists(p1));
    CU_ASSERT(harness_file_exists(p2) && harness_file_exists(p3) && harness_file_exists(p4));
    CU_ASSERT_EQUAL(h5_remove_stale_tmp("/nonexistent-dir/x.h5"), -1);
    for (int i = 1; i < 4; i++)
        unlink(all[i]);
}

int main(void)
{
    harness_mkdtemp(dir, sizeof dir, "sim-limits");
    static const harness_test all[] = {
        {"IDX headers beyond the data allocate nothing", test_idx_claims},
        {"parameter-count bound is an upper bound", test_values_bound},
        {"checkpoint config of a huge model refused", test_ckpt_huge_config},
        {"checkpoint state with huge extents refused", test_ckpt_huge_state},
        {"string attribute beyond H5IO_MAX_STR refused", test_long_attribute},
        {"config numbers out of int range (fuzz_json)", test_config_numbers},
        {"stale temporaries of dead writers removed", test_stale_temporaries},
        {NULL, NULL},
    };
    int rc = harness_run("limits", all);
    harness_rmtree(dir);
    return rc;
}
