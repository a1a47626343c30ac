/* test_dataset.c - dataset loaders and the batch builder: the real
 * Fashion-MNIST files, generated IDX (gzipped and plain) and CIFAR-10 files
 * with every kind of corruption, normalization and padding against
 * hand-computed values and the golden reference input, and augmentation. */
#include <dirent.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "io/dataset.h"
#include "io/h5.h"
#include "sim/rng.h"
#include "tests/harness.h"

/* ---- temporary files ---- */

static char tmproot[64];
static char subdir[128]; /* the current case's directory */
static int ncase;

static const char *tpath(const char *name) { return harness_join(subdir, name); }

/* A fresh empty directory for one case. */
static const char *new_case(void)
{
    snprintf(subdir, sizeof subdir, "%s/case%d", tmproot, ncase++);
    if (mkdir(subdir, 0755) != 0) {
        perror(subdir);
        exit(1);
    }
    return subdir;
}

static void write_bytes(const char *path, const unsigned char *b, size_t n, int gz)
{
    if (gz) {
        gzFile g = gzopen(path, "wb");
        if (!g || (n && gzwrite(g, b, (unsigned)n) != (int)n) || gzclose(g) != Z_OK) {
            fprintf(stderr, "cannot write %s\n", path);
            exit(1);
        }
    } else {
        FILE *fp = fopen(path, "wb");
        if (!fp || fwrite(b, 1, n, fp) != n || fclose(fp) != 0) {
            fprintf(stderr, "cannot write %s\n", path);
            exit(1);
        }
    }
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void put_be32(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* A small IDX set: n images of h x w and n labels, in one of several
 * corrupted variants. Pixel (i, y, x) = (37 i + 11 y + 3 x) mod 256. */
typedef struct {
    int n, h, w;
    int label_n;          /* labels in the label file (default n) */
    unsigned img_magic;   /* default 0x803 */
    unsigned lab_magic;   /* default 0x801 */
    int bad_label;        /* put label 10 at index 2 */
    long cut_images;      /* bytes to drop from the end of the image data */
    int gz_images, gz_labels;
    unsigned hdr_n;       /* override the image count in the header (0: none) */
    unsigned hdr_h, hdr_w;
} idx_spec;

static unsigned char pix(int i, int y, int x)
{
    return (unsigned char)((37 * i + 11 * y + 3 * x) % 256);
}

static int lab(int i)
{
    return (i * 7 + 3) % 10;
}

static void write_idx_set(const char *dir, const char *prefix, const idx_spec *sp)
{
    int n = sp->n, ln = sp->label_n ? sp->label_n : n;
    size_t isz = 16 + (size_t)n * sp->h * sp->w;
    unsigned char *ib = malloc(isz), *lb = malloc(8 + (size_t)ln);
    put_be32(ib, sp->img_magic ? sp->img_magic : 0x803);
    put_be32(ib + 4, sp->hdr_n ? sp->hdr_n : (unsigned)n);
    put_be32(ib + 8, sp->hdr_h ? sp->hdr_h : (unsigned)sp->h);
    put_be32(ib + 12, sp->hdr_w ? sp->hdr_w : (unsigned)sp->w);
    for (int i = 0; i < n; i++)
        for (int y = 0; y < sp->h; y++)
            for (int x = 0; x < sp->w; x++)
                ib[16 + ((size_t)i * sp->h + y) * sp->w + x] = pix(i, y, x);
    put_be32(lb, sp->lab_magic ? sp->lab_magic : 0x801);
    put_be32(lb + 4, (unsigned)ln);
    for (int i = 0; i < ln; i++)
        lb[8 + i] = (unsigned char)lab(i);
    if (sp->bad_label)
        lb[8 + 2] = 10;
    char p[600];
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte%s", dir, prefix, sp->gz_images ? ".gz" : "");
    write_bytes(p, ib, isz - (size_t)sp->cut_images, sp->gz_images);
    snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte%s", dir, prefix, sp->gz_labels ? ".gz" : "");
    write_bytes(p, lb, 8 + (size_t)ln, sp->gz_labels);
    free(ib);
    free(lb);
}

/* After a failed load: the struct is empty and nothing stays allocated. */
#define CHECK_EMPTY(ctx, ds)                                                                     \
    do {                                                                                         \
        CU_ASSERT_PTR_NULL((ds).pixels);                                                         \
        CU_ASSERT_PTR_NULL((ds).labels);                                                         \
        CU_ASSERT_EQUAL((ds).n, 0);                                                              \
        CU_ASSERT_EQUAL((ctx)->mem_cur_total, 0);                                                \
    } while (0)

/* ---- the real Fashion-MNIST ---- */

static void check_fmnist_split(int train)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    dataset ds;
    sim_status s = dataset_load_fmnist(&ctx, &ds, NULL, train);
    if (s != SIM_OK)
        fprintf(stderr, "\n  %s\n", ctx_errmsg(&ctx));
    CU_ASSERT_EQUAL_FATAL(s, SIM_OK);
    int N = train ? 60000 : 10000;
    CU_ASSERT_EQUAL(ds.n, N);
    CU_ASSERT(ds.c == 1 && ds.h == 28 && ds.w == 28 && ds.classes == 10);
    CU_ASSERT_EQUAL(ds.train, train);
    CU_ASSERT_STRING_EQUAL(ds.name, "fmnist");
    CU_ASSERT_STRING_EQUAL(ds.path, DATASET_FMNIST_DIR);
    /* Fashion-MNIST is balanced: 6000 / 1000 images per class */
    int hist[10] = {0};
    for (int i = 0; i < ds.n; i++) {
        CU_ASSERT_FATAL(ds.labels[i] >= 0 && ds.labels[i] < 10);
        hist[ds.labels[i]]++;
    }
    for (int k = 0; k < 10; k++)
        CU_ASSERT_EQUAL(hist[k], N / 10);
    /* the first image of both splits is an ankle boot (label 9) */
    CU_ASSERT_EQUAL(ds.labels[0], 9);
    CU_ASSERT_STRING_EQUAL(dataset_class_name(&ds, ds.labels[0]), "Ankle boot");
    CU_ASSERT_STRING_EQUAL(dataset_class_name(&ds, 0), "T-shirt/top");
    CU_ASSERT_STRING_EQUAL(dataset_class_name(&ds, 10), "?");
    /* pixels: every value 0..255 occurs; images have a dark border */
    int seen0 = 0, seen255 = 0;
    size_t npx = (size_t)ds.n * 28 * 28;
    for (size_t i = 0; i < npx; i++) {
        seen0 |= ds.pixels[i] == 0;
        seen255 |= ds.pixels[i] == 255;
    }
    CU_ASSERT(seen0 && seen255);
    CU_ASSERT_EQUAL(mem_current(&ctx, MEM_DATA), npx + (size_t)N * sizeof(int));
    dataset_free(&ctx, &ds);
    CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
    ctx_free(&ctx);
}

static void test_fmnist_test_split(void)
{
    check_fmnist_split(0);
}

static void test_fmnist_train_split(void)
{
    check_fmnist_split(1);
}

/* ---- generated IDX files ---- */

static void check_generated(const dataset *ds, int n, int h, int w)
{
    CU_ASSERT_EQUAL_FATAL(ds->n, n);
    CU_ASSERT(ds->c == 1 && ds->h == h && ds->w == w);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        bad += ds->labels[i] != lab(i);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                bad += ds->pixels[((size_t)i * h + y) * w + x] != pix(i, y, x);
    }
    CU_ASSERT_EQUAL(bad, 0);
}

static void test_idx_generated(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    dataset ds;
    /* gzipped, plain, and mixed; test and train names */
    idx_spec sp = {.n = 7, .h = 5, .w = 3, .gz_images = 1, .gz_labels = 1};
    const char *dir = new_case();
    write_idx_set(dir, "t10k", &sp);
    CU_ASSERT_EQUAL_FATAL(dataset_load_fmnist(&ctx, &ds, dir, 0), SIM_OK);
    check_generated(&ds, 7, 5, 3);
    CU_ASSERT_STRING_EQUAL(ds.path, dir);
    dataset_free(&ctx, &ds);

    idx_spec plain = {.n = 4, .h = 28, .w = 28};
    dir = new_case();
    write_idx_set(dir, "train", &plain);
    CU_ASSERT_EQUAL_FATAL(dataset_load(&ctx, &ds, "fmnist", dir, 1), SIM_OK);
    check_generated(&ds, 4, 28, 28);
    CU_ASSERT_EQUAL(ds.train, 1);
    dataset_free(&ctx, &ds);
    /* the test split is not there */
    CU_ASSERT_EQUAL(dataset_load_fmnist(&ctx, &ds, dir, 0), SIM_EIO);
    CHECK_MSG(&ctx, "t10k-images-idx3-ubyte.gz");
    CHECK_EMPTY(&ctx, ds);

    idx_spec mixed = {.n = 3, .h = 2, .w = 9, .gz_images = 1};
    dir = new_case();
    write_idx_set(dir, "t10k", &mixed);
    CU_ASSERT_EQUAL_FATAL(dataset_load_fmnist(&ctx, &ds, dir, 0), SIM_OK);
    check_generated(&ds, 3, 2, 9);
    dataset_free(&ctx, &ds);
    /* with both present the .gz wins: make the plain one wrong */
    idx_spec other = {.n = 3, .h = 2, .w = 9, .img_magic = 0x1234};
    write_idx_set(dir, "t10k", &other); /* plain images, plain labels (overwrites labels) */
    CU_ASSERT_EQUAL_FATAL(dataset_load_fmnist(&ctx, &ds, dir, 0), SIM_OK);
    check_generated(&ds, 3, 2, 9);
    dataset_free(&ctx, &ds);

    CU_ASSERT_EQUAL(dataset_load(&ctx, &ds, "mnist", dir, 0), SIM_ENOTFOUND);
    CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
    ctx_free(&ctx);
}

/* Load a corrupted set; check status, that the message names `file` and
 * contains `text`, and that nothing stays allocated. */
static void expect_bad(const idx_spec *sp, sim_status want, const char *file, const char *text)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    const char *dir = new_case();
    write_idx_set(dir, "t10k", sp);
    dataset ds;
    sim_status s = dataset_load_fmnist(&ctx, &ds, dir, 0);
    if (s != want)
        fprintf(stderr, "\n  status %s, expected %s: %s\n", sim_strerror(s), sim_strerror(want),
                ctx_errmsg(&ctx));
    CU_ASSERT_EQUAL(s, want);
    CHECK_MSG(&ctx, tpath(file));
    CHECK_MSG(&ctx, text);
    CU_ASSERT(strchr(ctx_errmsg(&ctx), '\n') == NULL);
    CHECK_EMPTY(&ctx, ds);
    ctx_free(&ctx);
}

static void test_idx_corrupt(void)
{
    const char *IMG = "t10k-images-idx3-ubyte", *IMGZ = "t10k-images-idx3-ubyte.gz";
    const char *LAB = "t10k-labels-idx1-ubyte", *LABZ = "t10k-labels-idx1-ubyte.gz";
    idx_spec sp;

    sp = (idx_spec){.n = 5, .h = 4, .w = 3, .img_magic = 0x804, .gz_images = 1};
    expect_bad(&sp, SIM_EFORMAT, IMGZ, "expected 0x00000803");
    sp = (idx_spec){.n = 5, .h = 4, .w = 3, .lab_magic = 0x08010000};
    expect_bad(&sp, SIM_EFORMAT, LAB, "found 0x08010000");
    /* truncated data, plain and gzipped: 60 bytes promised, 55 there */
    sp = (idx_spec){.n = 5, .h = 4, .w = 3, .cut_images = 5};
    expect_bad(&sp, SIM_EFORMAT, IMG, "expected 60 bytes of data after the header");
    expect_bad(&sp, SIM_EFORMAT, IMG, "found 55");
    sp.gz_images = 1;
    expect_bad(&sp, SIM_EFORMAT, IMGZ, "found 55");
    /* a truncated header */
    sp = (idx_spec){.n = 5, .h = 4, .w = 3, .cut_images = 60 + 6};
    expect_bad(&sp, SIM_EFORMAT, IMG, "truncated header: expected 16 bytes, found 10");
    /* image / label count mismatch: both files named */
    sp = (idx_spec){.n = 5, .h = 4, .w = 3, .label_n = 4, .gz_labels = 1};
    expect_bad(&sp, SIM_EFORMAT, LABZ, "4 labels");
    expect_bad(&sp, SIM_EFORMAT, IMG, "5 images");
    /* label out of range */
    sp = (idx_spec){.n = 5, .h = 4, .w = 3, .bad_label = 1};
    expect_bad(&sp, SIM_EFORMAT, LAB, "label of image 2 is 10, expected 0..9");
    /* too much data for the header */
    sp = (idx_spec){.n = 5, .h = 4, .w = 3, .hdr_n = 4};
    expect_bad(&sp, SIM_EFORMAT, LAB, "5 labels, but");
    sp = (idx_spec){.n = 5, .h = 4, .w = 3, .hdr_w = 2, .label_n = 5};
    expect_bad(&sp, SIM_EFORMAT, IMG, "expected 40 bytes");
    expect_bad(&sp, SIM_EFORMAT, IMG, "found more");
    /* implausible dimensions */
    sp = (idx_spec){.n = 5, .h = 4, .w = 3, .hdr_h = 5000};
    expect_bad(&sp, SIM_EFORMAT, IMG, "dimension 1 is 5000, expected 1..4096");
}

static void test_idx_bad_gzip_and_missing(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    dataset ds;
    idx_spec sp = {.n = 50, .h = 8, .w = 8, .gz_images = 1, .gz_labels = 1};

    /* garbage under a .gz name */
    const char *dir = new_case();
    write_idx_set(dir, "t10k", &sp);
    unsigned char junk[300];
    for (int i = 0; i < 300; i++)
        junk[i] = (unsigned char)(i * 131 + 7);
    write_bytes(tpath("t10k-images-idx3-ubyte.gz"), junk, sizeof junk, 0);
    CU_ASSERT_EQUAL(dataset_load_fmnist(&ctx, &ds, dir, 0), SIM_EFORMAT);
    CHECK_MSG(&ctx, tpath("t10k-images-idx3-ubyte.gz"));
    CHECK_MSG(&ctx, "not a gzip file");
    CHECK_EMPTY(&ctx, ds);

    /* a gzip file with a damaged CRC, and one with damaged compressed data */
    dir = new_case();
    write_idx_set(dir, "t10k", &sp);
    const char *gzp = tpath("t10k-images-idx3-ubyte.gz");
    long sz = file_size(gzp);
    CU_ASSERT_FATAL(sz > 40);
    FILE *fp = fopen(gzp, "r+b");
    fseek(fp, sz - 8, SEEK_SET); /* the CRC32 of the trailer */
    fputc(0x5a, fp);
    fputc(0xa5, fp);
    fclose(fp);
    CU_ASSERT_EQUAL(dataset_load_fmnist(&ctx, &ds, dir, 0), SIM_EFORMAT);
    CHECK_MSG(&ctx, gzp);
    CHECK_MSG(&ctx, "corrupt gzip data");
    CHECK_EMPTY(&ctx, ds);
    dir = new_case();
    write_idx_set(dir, "t10k", &sp);
    gzp = tpath("t10k-images-idx3-ubyte.gz");
    sz = file_size(gzp);
    fp = fopen(gzp, "r+b");
    fseek(fp, 12, SEEK_SET); /* inside the deflate stream */
    for (int i = 0; i < 16; i++)
        fputc(0xff, fp);
    fclose(fp);
    CU_ASSERT_EQUAL(dataset_load_fmnist(&ctx, &ds, dir, 0), SIM_EFORMAT);
    CHECK_MSG(&ctx, gzp);
    CHECK_EMPTY(&ctx, ds);
    /* a gzip file cut in the middle, and one cut only in its trailer */
    dir = new_case();
    write_idx_set(dir, "t10k", &sp);
    gzp = tpath("t10k-images-idx3-ubyte.gz");
    sz = file_size(gzp);
    CU_ASSERT_FATAL(truncate(gzp, sz / 2) == 0);
    CU_ASSERT_EQUAL(dataset_load_fmnist(&ctx, &ds, dir, 0), SIM_EFORMAT);
    CHECK_MSG(&ctx, gzp);
    CHECK_MSG(&ctx, "truncated");
    CHECK_EMPTY(&ctx, ds);
    dir = new_case();
    write_idx_set(dir, "t10k", &sp);
    gzp = tpath("t10k-images-idx3-ubyte.gz");
    CU_ASSERT_FATAL(truncate(gzp, file_size(gzp) - 3) == 0);
    CU_ASSERT_EQUAL(dataset_load_fmnist(&ctx, &ds, dir, 0), SIM_EFORMAT);
    CHECK_MSG(&ctx, gzp);
    CHECK_MSG(&ctx, "truncated gzip stream");
    CHECK_EMPTY(&ctx, ds);

    /* missing files: each name is reported */
    dir = new_case();
    CU_ASSERT_EQUAL(dataset_load_fmnist(&ctx, &ds, dir, 0), SIM_EIO);
    CHECK_MSG(&ctx, tpath("t10k-images-idx3-ubyte.gz"));
    CHECK_MSG(&ctx, "No such file");
    write_idx_set(dir, "t10k", &sp);
    unlink(tpath("t10k-labels-idx1-ubyte.gz"));
    CU_ASSERT_EQUAL(dataset_load_fmnist(&ctx, &ds, dir, 0), SIM_EIO);
    CHECK_MSG(&ctx, tpath("t10k-labels-idx1-ubyte"));
    CHECK_EMPTY(&ctx, ds);
    ctx_free(&ctx);
}

/* Headers claiming huge sizes are refused without allocating them. */
static void test_idx_absurd_headers(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    dataset ds;
    struct {
        unsigned n, h, w;
        sim_status want;
        const char *text;
    } cases[] = {
        /* within the bounds, but the files hold 100 bytes */
        {100, 4096, 4096, SIM_EFORMAT, "expected 1677721600 bytes of data after the header "
                                       "(100 images of 4096x4096), found 100"},
        {10000000, 28, 28, SIM_EFORMAT, "(10000000 labels), found 100"},
        /* beyond them */
        {0xffffffffu, 28, 28, SIM_EFORMAT, "implausible header"},
        {10000001, 1, 1, SIM_EFORMAT, "dimension 0 is 10000001"},
        {0, 28, 28, SIM_EFORMAT, "dimension 0 is 0"},
        {100, 0xffffffffu, 0xffffffffu, SIM_EFORMAT, "implausible header"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *dir = new_case();
        unsigned char b[16 + 100], l[8 + 100];
        put_be32(b, 0x803);
        put_be32(b + 4, cases[c].n);
        put_be32(b + 8, cases[c].h);
        put_be32(b + 12, cases[c].w);
        memset(b + 16, 7, 100);
        put_be32(l, 0x801);
        put_be32(l + 4, cases[c].n);
        memset(l + 8, 1, 100);
        write_bytes(tpath("t10k-images-idx3-ubyte.gz"), b, sizeof b, 1);
        write_bytes(tpath("t10k-labels-idx1-ubyte.gz"), l, sizeof l, 1);
        mem_reset_peak(&ctx);
        sim_status s = dataset_load_fmnist(&ctx, &ds, dir, 0);
        CU_ASSERT_EQUAL(s, cases[c].want);
        CHECK_MSG(&ctx, cases[c].text);
        CHECK_EMPTY(&ctx, ds);
        /* at most the 100 real labels were ever allocated */
        if (ctx.mem_peak_total > 4096)
            fprintf(stderr, "\n  case %zu: peak %zu bytes\n", c, ctx.mem_peak_total);
        CU_ASSERT(ctx.mem_peak_total <= 4096);
    }
    CU_ASSERT(mem_peak_rss() < ((size_t)1 << 30));
    ctx_free(&ctx);
}

/* ---- CIFAR-10 ---- */

static unsigned char cpix(int r, int c, int y, int x)
{
    return (unsigned char)((r * 29 + c * 101 + y * 7 + x * 3) % 256);
}

/* Write `n` records starting at record number r0 to path; extra bytes at
 * the end when `extra`. Labels (r0 + i) % 10, or 10 for record bad_at. */
static void write_cifar(const char *path, int r0, int n, int extra, int bad_at)
{
    size_t sz = (size_t)n * 3073 + (size_t)extra;
    unsigned char *b = calloc(sz ? sz : 1, 1);
    for (int i = 0; i < n; i++) {
        unsigned char *rec = b + (size_t)i * 3073;
        rec[0] = (unsigned char)(i == bad_at ? 10 : (r0 + i) % 10);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                    rec[1 + c * 1024 + y * 32 + x] = cpix(r0 + i, c, y, x);
    }
    write_bytes(path, b, sz, 0);
    free(b);
}

static void test_cifar10(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    dataset ds;
    const char *dir = new_case();
    write_cifar(tpath("test_batch.bin"), 0, 3, 0, -1);
    CU_ASSERT_EQUAL_FATAL(dataset_load_cifar10(&ctx, &ds, dir, 0), SIM_OK);
    CU_ASSERT(ds.n == 3 && ds.c == 3 && ds.h == 32 && ds.w == 32 && ds.classes == 10);
    CU_ASSERT_STRING_EQUAL(ds.name, "cifar10");
    int bad = 0;
    for (int r = 0; r < 3; r++) {
        bad += ds.labels[r] != r;
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                    bad += ds.pixels[(((size_t)r * 3 + c) * 32 + y) * 32 + x] != cpix(r, c, y, x);
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_STRING_EQUAL(dataset_class_name(&ds, 0), "airplane");
    CU_ASSERT_STRING_EQUAL(dataset_class_name(&ds, 9), "truck");
    CU_ASSERT_STRING_EQUAL(dataset_class_name(&ds, 3), "cat");
    dataset_free(&ctx, &ds);

    /* the training split: five files concatenated in order */
    int counts[5] = {2, 1, 3, 1, 2}, r0 = 0;
    char name[64];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "data_batch_%d.bin", i + 1);
        write_cifar(tpath(name), r0, counts[i], 0, -1);
        r0 += counts[i];
    }
    CU_ASSERT_EQUAL_FATAL(dataset_load(&ctx, &ds, "cifar10", dir, 1), SIM_OK);
    CU_ASSERT_EQUAL(ds.n, 9);
    bad = 0;
    for (int r = 0; r < 9; r++) {
        bad += ds.labels[r] != r % 10;
        bad += ds.pixels[(size_t)r * 3072 + 2 * 1024 + 31 * 32 + 5] != cpix(r, 2, 31, 5);
    }
    CU_ASSERT_EQUAL(bad, 0);
    dataset_free(&ctx, &ds);

    /* bad sizes, a bad label, a missing batch */
    write_cifar(tpath("data_batch_3.bin"), 3, 3, 1, -1);
    CU_ASSERT_EQUAL(dataset_load_cifar10(&ctx, &ds, dir, 1), SIM_EFORMAT);
    CHECK_MSG(&ctx, tpath("data_batch_3.bin"));
    CHECK_MSG(&ctx, "size 9220 bytes is not a positive multiple of 3073");
    CHECK_EMPTY(&ctx, ds);
    write_cifar(tpath("data_batch_3.bin"), 3, 0, 0, -1);
    CU_ASSERT_EQUAL(dataset_load_cifar10(&ctx, &ds, dir, 1), SIM_EFORMAT);
    CHECK_MSG(&ctx, "size 0 bytes");
    write_cifar(tpath("data_batch_3.bin"), 3, 3, 0, 1);
    CU_ASSERT_EQUAL(dataset_load_cifar10(&ctx, &ds, dir, 1), SIM_EFORMAT);
    CHECK_MSG(&ctx, tpath("data_batch_3.bin"));
    CHECK_MSG(&ctx, "label of record 1 is 10");
    CHECK_EMPTY(&ctx, ds);
    unlink(tpath("data_batch_3.bin"));
    CU_ASSERT_EQUAL(dataset_load_cifar10(&ctx, &ds, dir, 1), SIM_EIO);
    CHECK_MSG(&ctx, tpath("data_batch_3.bin"));
    CHECK_EMPTY(&ctx, ds);
    ctx_free(&ctx);
}

/* ---- batches ---- */

/* A dataset built in the test (not by a loader; not freed by dataset_free). */
static dataset tiny(unsigned char *px, int *labels, int n, int c, int h, int w)
{
    dataset ds = {.n = n, .c = c, .h = h, .w = w, .classes = 10, .pixels = px,
                  .labels = labels};
    snprintf(ds.name, sizeof ds.name, "tiny");
    return ds;
}

static void test_batch_values(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    /* two 3x2 images with pixels 0, 51, 255, ...; output 5x5 */
    unsigned char px[2 * 6] = {0, 51, 255, 0, 51, 255, /* image 0 */
                               255, 255, 255, 0, 0, 0 /* image 1 */};
    int labels[2] = {4, 7};
    dataset ds = tiny(px, labels, 2, 1, 3, 2);
    dataset_norm nm = dataset_norm_fmnist;
    nm.size = 5;
    real out[2 * 25];
    int lo[2] = {-1, -1};
    int idx[2] = {1, 0};
    CU_ASSERT_EQUAL_FATAL(dataset_batch(&ctx, &ds, out, lo, idx, 2, &nm, NULL), SIM_OK);
    CU_ASSERT(lo[0] == 7 && lo[1] == 4);
    /* (x/255 - 0.2860)/0.3530 for x = 0, 51, 255, worked out by hand */
    const double v0 = -0.81019830028328612, v51 = -0.24362606232294609,
                 v255 = 2.0226628895184136;
    /* 3 rows centred in 5: rows 1..3; 2 columns in 5: left (5-2)/2 = 1 */
    double want[2 * 25] = {0};
    const double img0[6] = {v0, v51, v255, v0, v51, v255};
    const double img1[6] = {v255, v255, v255, v0, v0, v0};
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 2; x++) {
            want[0 * 25 + (y + 1) * 5 + (x + 1)] = img1[y * 2 + x]; /* batch entry 0 = image 1 */
            want[1 * 25 + (y + 1) * 5 + (x + 1)] = img0[y * 2 + x];
        }
    CU_ASSERT(harness_close_d("normalized and padded", out, want, 50, TOL(1e-15, 1e-6), 0));

    /* three channels, CIFAR norm: out is (C, nb, S, S) */
    unsigned char p3[2 * 3 * 4];
    for (int i = 0; i < 24; i++)
        p3[i] = (unsigned char)(i * 10);
    dataset d3 = tiny(p3, labels, 2, 3, 2, 2);
    dataset_norm n3 = dataset_norm_cifar10;
    n3.size = 4;
    real o3[3 * 2 * 16];
    int idx2[2] = {0, 1};
    CU_ASSERT_EQUAL_FATAL(dataset_batch(&ctx, &d3, o3, NULL, idx2, 2, &n3, NULL), SIM_OK);
    const double mean[3] = {0.4914, 0.4822, 0.4465}, sd[3] = {0.2470, 0.2435, 0.2616};
    int bad = 0;
    for (int c = 0; c < 3; c++)
        for (int b = 0; b < 2; b++)
            for (int y = 0; y < 4; y++)
                for (int x = 0; x < 4; x++) {
                    double e = 0;
                    if (y >= 1 && y < 3 && x >= 1 && x < 3) {
                        int v = p3[((b * 3 + c) * 2 + (y - 1)) * 2 + (x - 1)];
                        e = (v / 255.0 - mean[c]) / sd[c];
                    }
                    double g = (double)o3[((c * 2 + b) * 4 + y) * 4 + x];
                    bad += fabs(g - e) > TOL(1e-15, 1e-6);
                }
    CU_ASSERT_EQUAL(bad, 0);

    /* errors are caught before anything is written */
    for (int i = 0; i < 50; i++)
        out[i] = (real)-7;
    int badidx[2] = {0, 2};
    CU_ASSERT_EQUAL(dataset_batch(&ctx, &ds, out, lo, badidx, 2, &nm, NULL), SIM_ERANGE);
    CHECK_MSG(&ctx, "batch entry 1 is image 2");
    CU_ASSERT_EQUAL(out[0], (real)-7);
    CU_ASSERT_EQUAL(out[49], (real)-7);
    CU_ASSERT_EQUAL(dataset_batch(&ctx, &ds, out, lo, idx, 2, &n3, NULL), SIM_EINVAL);
    nm.size = 2;
    CU_ASSERT_EQUAL(dataset_batch(&ctx, &ds, out, lo, idx, 2, &nm, NULL), SIM_EINVAL);
    CU_ASSERT_EQUAL(out[0], (real)-7);
    dataset_norm pre;
    CU_ASSERT_EQUAL(dataset_norm_preset(&ctx, "cifar10", &pre), SIM_OK);
    CU_ASSERT(pre.c == 3 && pre.size == 32 && pre.std[2] == 0.2616);
    CU_ASSERT_EQUAL(dataset_norm_preset(&ctx, "fmnist", &pre), SIM_OK);
    CU_ASSERT(pre.c == 1 && pre.size == 32 && pre.mean[0] == 0.2860 && pre.std[0] == 0.3530);
    CU_ASSERT_EQUAL(dataset_norm_preset(&ctx, "imagenet", &pre), SIM_ENOTFOUND);
    ctx_free(&ctx);
}

/* The first four Fashion-MNIST test images equal the golden file's input. */
static void test_batch_golden(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    dataset ds;
    CU_ASSERT_EQUAL_FATAL(dataset_load_fmnist(&ctx, &ds, NULL, 0), SIM_OK);
    real out[4 * 32 * 32];
    int labels[4], idx[4] = {0, 1, 2, 3};
    CU_ASSERT_EQUAL_FATAL(
        dataset_batch(&ctx, &ds, out, labels, idx, 4, &dataset_norm_fmnist, NULL), SIM_OK);
    /* the reference, read as float64 with the plain HDF5 API */
    double ref[4 * 32 * 32];
    long long rl[4];
    hid_t f = H5Fopen(harness_testdata("golden_t3.h5"), H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    hid_t d = H5Dopen2(f, "/input/images", H5P_DEFAULT);
    CU_ASSERT(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, ref) >= 0);
    H5Dclose(d);
    d = H5Dopen2(f, "/input/labels", H5P_DEFAULT);
    CU_ASSERT(H5Dread(d, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, rl) >= 0);
    H5Dclose(d);
    H5Fclose(f);
    /* (4, 1, 32, 32) NCHW equals our (1, 4, 32, 32) CNHW */
    CU_ASSERT(harness_close_d("golden input", out, ref, 4 * 32 * 32, 0, TOL(1e-12, 1e-6)));
    for (int b = 0; b < 4; b++)
        CU_ASSERT_EQUAL(labels[b], rl[b]);
    /* and via h5_read_int64 */
    h5_file hf;
    int64_t l64[4];
    int four = 4;
    CU_ASSERT_EQUAL_FATAL(h5_open_read(&ctx, &hf, harness_testdata("golden_t3.h5")), SIM_OK);
    CU_ASSERT_EQUAL(h5_read_int64(&ctx, &hf, "/input/labels", l64, 1, &four), SIM_OK);
    CU_ASSERT_EQUAL(h5_close(&ctx, &hf), SIM_OK);
    for (int b = 0; b < 4; b++)
        CU_ASSERT_EQUAL(labels[b], l64[b]);
    dataset_free(&ctx, &ds);
    ctx_free(&ctx);
}

/* ref shifted by (dy, dx), zero-filled, then mirrored when flip. */
static void shifted(real *o, const real *ref, int S, int dy, int dx, int flip)
{
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            int sy = y - dy, sx = (flip ? S - 1 - x : x) - dx;
            o[y * S + x] = (sy >= 0 && sy < S && sx >= 0 && sx < S) ? ref[sy * S + sx] : 0;
        }
}

/* Find (dy, dx, flip) with out == shifted(ref); returns 0 if none. */
static int find_transform(const real *out, const real *ref, int S, int pad, int *dy, int *dx,
                          int *flip)
{
    real *t = malloc((size_t)S * S * sizeof *t);
    for (int f = 0; f <= 1; f++)
        for (int a = -pad; a <= pad; a++)
            for (int b = -pad; b <= pad; b++) {
                shifted(t, ref, S, a, b, f);
                if (!memcmp(t, out, (size_t)S * S * sizeof *t)) {
                    *dy = a;
                    *dx = b;
                    *flip = f;
                    free(t);
                    return 1;
                }
            }
    free(t);
    return 0;
}

static void test_batch_augment(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 5);
    dataset ds;
    CU_ASSERT_EQUAL_FATAL(dataset_load_fmnist(&ctx, &ds, NULL, 0), SIM_OK);
    enum { NB = 64, S = 32 };
    static real ref[NB * S * S], a1[NB * S * S], a2[NB * S * S];
    int idx[NB];
    for (int b = 0; b < NB; b++)
        idx[b] = b * 97 % ds.n;
    const dataset_norm *nm = &dataset_norm_fmnist;
    CU_ASSERT_EQUAL_FATAL(dataset_batch(&ctx, &ds, ref, NULL, idx, NB, nm, NULL), SIM_OK);

    /* same seed, same batch; another seed, another batch */
    dataset_augment aug = {.pad = 4, .flip = 1};
    sim_ctx c1, c2, c3;
    harness_ctx(&c1, 11);
    harness_ctx(&c2, 11);
    harness_ctx(&c3, 12);
    CU_ASSERT_EQUAL(dataset_batch(&c1, &ds, a1, NULL, idx, NB, nm, &aug), SIM_OK);
    CU_ASSERT_EQUAL(dataset_batch(&c2, &ds, a2, NULL, idx, NB, nm, &aug), SIM_OK);
    CU_ASSERT(memcmp(a1, a2, sizeof a1) == 0);
    CU_ASSERT_EQUAL(dataset_batch(&c3, &ds, a2, NULL, idx, NB, nm, &aug), SIM_OK);
    CU_ASSERT(memcmp(a1, a2, sizeof a1) != 0);

    /* every image is a shifted (and maybe mirrored) copy; the shifts vary */
    int seen[9][9] = {{0}}, flips = 0, distinct = 0, unexplained = 0;
    for (int b = 0; b < NB; b++) {
        int dy, dx, fl;
        if (!find_transform(a1 + (size_t)b * S * S, ref + (size_t)b * S * S, S, 4, &dy, &dx,
                            &fl)) {
            unexplained++;
            continue;
        }
        distinct += !seen[dy + 4][dx + 4]++;
        flips += fl;
    }
    CU_ASSERT_EQUAL(unexplained, 0);
    CU_ASSERT(distinct >= 20);        /* 64 draws from 81 shifts */
    CU_ASSERT(flips > 10 && flips < 54);

    /* the documented draw order: dy, dx, then the flip, per image */
    aug = (dataset_augment){.pad = 3, .flip = 1};
    sim_ctx c4, c5;
    harness_ctx(&c4, 21);
    harness_ctx(&c5, 21);
    CU_ASSERT_EQUAL(dataset_batch(&c4, &ds, a1, NULL, idx, NB, nm, &aug), SIM_OK);
    int order_bad = 0;
    for (int b = 0; b < NB; b++) {
        int dy = (int)rng_int(&c5, RNG_DATA, 7) - 3;
        int dx = (int)rng_int(&c5, RNG_DATA, 7) - 3;
        int fl = rng_uniform(&c5, RNG_DATA) < 0.5;
        real t[S * S];
        shifted(t, ref + (size_t)b * S * S, S, dy, dx, fl);
        order_bad += memcmp(t, a1 + (size_t)b * S * S, sizeof t) != 0;
    }
    CU_ASSERT_EQUAL(order_bad, 0);
    /* both streams are now in the same place */
    CU_ASSERT_EQUAL(rng_uniform(&c4, RNG_DATA), rng_uniform(&c5, RNG_DATA));

    /* flip only: each image is the reference or its mirror, and both occur */
    aug = (dataset_augment){.pad = 0, .flip = 1};
    CU_ASSERT_EQUAL(dataset_batch(&c1, &ds, a1, NULL, idx, NB, nm, &aug), SIM_OK);
    int same = 0, mirrored = 0;
    for (int b = 0; b < NB; b++) {
        const real *o = a1 + (size_t)b * S * S, *r = ref + (size_t)b * S * S;
        int is_same = 1, is_mirror = 1;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                is_same &= o[y * S + x] == r[y * S + x];
                is_mirror &= o[y * S + x] == r[y * S + (S - 1 - x)];
            }
        same += is_same;
        mirrored += is_mirror && !is_same;
    }
    CU_ASSERT_EQUAL(same + mirrored, NB);
    CU_ASSERT(same > 0 && mirrored > 0);

    /* no augmentation (NULL, or pad 0 without flip) draws nothing */
    sim_ctx c6, c7;
    harness_ctx(&c6, 31);
    harness_ctx(&c7, 31);
    CU_ASSERT_EQUAL(dataset_batch(&c6, &ds, a1, NULL, idx, NB, nm, NULL), SIM_OK);
    aug = (dataset_augment){.pad = 0, .flip = 0};
    CU_ASSERT_EQUAL(dataset_batch(&c6, &ds, a2, NULL, idx, NB, nm, &aug), SIM_OK);
    CU_ASSERT(memcmp(a1, ref, sizeof a1) == 0 && memcmp(a2, ref, sizeof a2) == 0);
    CU_ASSERT_EQUAL(rng_uniform(&c6, RNG_DATA), rng_uniform(&c7, RNG_DATA));
    dataset_free(&ctx, &ds);
    ctx_free(&c1);
    ctx_free(&c2);
    ctx_free(&c3);
    ctx_free(&c4);
    ctx_free(&c5);
    ctx_free(&c6);
    ctx_free(&c7);
    ctx_free(&ctx);
}

int main(void)
{
    static const harness_test tests[] = {
        {"Fashion-MNIST test split", test_fmnist_test_split},
        {"Fashion-MNIST train split", test_fmnist_train_split},
        {"generated IDX files, gzipped and plain", test_idx_generated},
        {"corrupt IDX files: magic, length, counts, labels", test_idx_corrupt},
        {"bad gzip and missing files", test_idx_bad_gzip_and_missing},
        {"absurd header sizes allocate nothing", test_idx_absurd_headers},
        {"CIFAR-10 binary files", test_cifar10},
        {"batch normalization and padding by hand", test_batch_values},
        {"batch equals the golden input", test_batch_golden},
        {"augmentation: reproducible shifts and flips", test_batch_augment},
        {NULL, NULL},
    };
    harness_mkdtemp(tmproot, sizeof tmproot, "test_dataset");
    int rc = harness_run("io/dataset", tests);
    harness_rmtree(tmproot);
    return rc;
}
