/* dataset.c - Fashion-MNIST and CIFAR-10 loaders and the batch builder.
 *
 * IDX files (Fashion-MNIST) are read through zlib's gzread, which also reads
 * uncompressed files. Each file is read twice: a counting pass that
 * decompresses into a small stack buffer and checks that the payload is
 * exactly as long as the header claims (and that the gzip stream, CRC
 * included, is intact), then, with the size proven, one allocation and the
 * real read. So a header claiming billions of bytes costs nothing but an
 * error message. CIFAR-10 files are checked by their size (a multiple of the
 * 3073-byte record) before anything is allocated.
 *
 * Loading validates into a temporary dataset; the caller's struct is written
 * only when everything is valid. */
#include "dataset.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "sim/rng.h"

const dataset_norm dataset_norm_fmnist = {
    .c = 1, .mean = {0.2860}, .std = {0.3530}, .size = 32};
const dataset_norm dataset_norm_cifar10 = {
    .c = 3, .mean = {0.4914, 0.4822, 0.4465}, .std = {0.2470, 0.2435, 0.2616}, .size = 32};

static const char *const fmnist_classes[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot",
};
static const char *const cifar10_classes[10] = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
};

#define IDX_MAGIC_IMAGES 0x00000803u /* unsigned byte, 3 dimensions */
#define IDX_MAGIC_LABELS 0x00000801u /* unsigned byte, 1 dimension */
#define CIFAR_SIDE 32
#define CIFAR_PIXELS (3 * CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_RECORD (1 + CIFAR_PIXELS)

/* ---- IDX files ---- */

typedef struct {
    gzFile gz;
    char path[DATASET_PATHMAX];
    int ndim;
    unsigned dims[3];
    size_t header;  /* header bytes */
    size_t payload; /* data bytes the header promises */
} idx_file;

static sim_status path_join(sim_ctx *ctx, char *out, size_t len, const char *dir,
                            const char *name)
{
    int n = snprintf(out, len, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= len)
        return ctx_error(ctx, SIM_EINVAL, "%s/%s: path too long", dir, name);
    return SIM_OK;
}

/* Record a zlib failure on f. */
static sim_status gz_fail(sim_ctx *ctx, const idx_file *f)
{
    int err = Z_OK;
    const char *msg = gzerror(f->gz, &err);
    if (err == Z_ERRNO)
        return ctx_error(ctx, SIM_EIO, "%s: read error: %s", f->path, strerror(errno));
    return ctx_error(ctx, SIM_EFORMAT, "%s: corrupt gzip data: %s", f->path,
                     msg && *msg ? msg : "unknown zlib error");
}

/* Read up to n bytes into buf; *got receives how many arrived before the end
 * of the data. A truncated gzip stream counts as an early end (the caller
 * reports the short count); any other zlib or read error is returned. */
static sim_status gz_read(sim_ctx *ctx, const idx_file *f, unsigned char *buf, size_t n,
                          size_t *got)
{
    *got = 0;
    while (*got < n) {
        size_t want = n - *got;
        if (want > (1u << 30))
            want = 1u << 30;
        int r = gzread(f->gz, buf + *got, (unsigned)want);
        if (r < 0)
            return gz_fail(ctx, f);
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    int err = Z_OK;
    gzerror(f->gz, &err);
    if (err != Z_OK && err != Z_BUF_ERROR) /* Z_BUF_ERROR: input ended early */
        return gz_fail(ctx, f);
    return SIM_OK;
}

static unsigned be32(const unsigned char *p)
{
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | (unsigned)p[3];
}

static sim_status idx_header(sim_ctx *ctx, idx_file *f, int is_gz, unsigned magic);

/* Open dir/<base>.gz, or dir/<base> when there is no .gz, and check its
 * header (idx_header). */
static sim_status idx_open(sim_ctx *ctx, idx_file *f, const char *dir, const char *base,
                           unsigned magic)
{
    memset(f, 0, sizeof *f);
    char gzname[256], plain[DATASET_PATHMAX];
    snprintf(gzname, sizeof gzname, "%s.gz", base);
    sim_status s = path_join(ctx, f->path, sizeof f->path, dir, gzname);
    if (s != SIM_OK || (s = path_join(ctx, plain, sizeof plain, dir, base)) != SIM_OK)
        return s;
    struct stat st;
    int is_gz = 1;
    if (stat(f->path, &st) != 0) {
        int e = errno;
        if (stat(plain, &st) != 0)
            return ctx_error(ctx, SIM_EIO, "%s: cannot open (nor %s): %s", f->path, plain,
                             strerror(e));
        memcpy(f->path, plain, sizeof plain);
        is_gz = 0;
    }
    if (!S_ISREG(st.st_mode))
        return ctx_error(ctx, SIM_EIO, "%s: not a regular file", f->path);
    f->gz = gzopen(f->path, "rb");
    if (!f->gz)
        return ctx_error(ctx, SIM_EIO, "%s: cannot open: %s", f->path,
                         errno ? strerror(errno) : "out of memory");
    return idx_header(ctx, f, is_gz, magic);
}

/* Check the header of the opened stream f->gz (is_gz: it must be gzipped):
 * magic, dimensions within bounds, overflow-free payload size. */
static sim_status idx_header(sim_ctx *ctx, idx_file *f, int is_gz, unsigned magic)
{
    sim_status s;
    if (gzbuffer(f->gz, 1u << 17) != 0) /* before the first read; larger reads are faster */
        return ctx_error(ctx, SIM_ENOMEM, "%s: cannot set the zlib buffer size", f->path);
    if (is_gz && gzdirect(f->gz))
        return ctx_error(ctx, SIM_EFORMAT,
                         "%s: not a gzip file (expected the gzip signature 1f 8b)", f->path);

    unsigned char hdr[16];
    size_t got;
    f->ndim = (int)(magic & 0xff);
    f->header = 4 + 4 * (size_t)f->ndim;
    if ((s = gz_read(ctx, f, hdr, f->header, &got)) != SIM_OK)
        return s;
    if (got >= 4 && be32(hdr) != magic)
        return ctx_error(ctx, SIM_EFORMAT,
                         "%s: bad magic number: expected 0x%08x (IDX unsigned byte, %d "
                         "dimension%s), found 0x%08x",
                         f->path, magic, f->ndim, f->ndim > 1 ? "s" : "", be32(hdr));
    if (got < f->header)
        return ctx_error(ctx, SIM_EFORMAT,
                         "%s: truncated header: expected %zu bytes, found %zu", f->path,
                         f->header, got);
    size_t payload = 1;
    for (int i = 0; i < f->ndim; i++) {
        f->dims[i] = be32(hdr + 4 + 4 * i);
        unsigned lim = i == 0 ? DATASET_MAX_IMAGES : DATASET_MAX_SIDE;
        if (f->dims[i] < 1 || f->dims[i] > lim)
            return ctx_error(ctx, SIM_EFORMAT,
                             "%s: implausible header: dimension %d is %u, expected 1..%u",
                             f->path, i, f->dims[i], lim);
        if (size_mul(payload, f->dims[i], &payload))
            return ctx_error(ctx, SIM_EFORMAT, "%s: header sizes overflow", f->path);
    }
    f->payload = payload;
    return SIM_OK;
}

static void idx_close(idx_file *f)
{
    if (f->gz)
        gzclose_r(f->gz);
    f->gz = NULL;
}

/* Describe the header for messages: "10000 images of 28x28" / "10000 labels". */
static void idx_desc(const idx_file *f, char *buf, size_t len)
{
    if (f->ndim == 3)
        snprintf(buf, len, "%u images of %ux%u", f->dims[0], f->dims[1], f->dims[2]);
    else
        snprintf(buf, len, "%u labels", f->dims[0]);
}

/* Counting pass: the data after the header must be exactly f->payload bytes
 * and the gzip stream must end cleanly. Reads through a stack buffer. */
static sim_status idx_check_length(sim_ctx *ctx, idx_file *f)
{
    unsigned char buf[1 << 15];
    size_t total = 0, got;
    sim_status s;
    do {
        size_t want = sizeof buf;
        if ((s = gz_read(ctx, f, buf, want, &got)) != SIM_OK)
            return s;
        total += got;
    } while (got == sizeof buf && total <= f->payload);
    char desc[96];
    idx_desc(f, desc, sizeof desc);
    if (total < f->payload)
        return ctx_error(ctx, SIM_EFORMAT,
                         "%s: truncated: expected %zu bytes of data after the header (%s), "
                         "found %zu",
                         f->path, f->payload, desc, total);
    if (total > f->payload)
        return ctx_error(ctx, SIM_EFORMAT,
                         "%s: expected %zu bytes of data after the header (%s), found more "
                         "(at least %zu)",
                         f->path, f->payload, desc, total);
    int err = Z_OK;
    gzerror(f->gz, &err);
    if (err == Z_BUF_ERROR) /* all data present, but the gzip trailer is cut off */
        return ctx_error(ctx, SIM_EFORMAT,
                         "%s: truncated gzip stream: expected a trailer after %zu bytes of "
                         "data, found the end of the file",
                         f->path, total);
    if (gzrewind(f->gz) != 0)
        return gz_fail(ctx, f);
    if ((s = gz_read(ctx, f, buf, f->header, &got)) != SIM_OK)
        return s;
    if (got != f->header)
        return ctx_error(ctx, SIM_EIO, "%s: changed while being read", f->path);
    return SIM_OK;
}

/* Read the proven payload into a new MEM_DATA block. */
static sim_status idx_read_payload(sim_ctx *ctx, idx_file *f, unsigned char **out)
{
    *out = NULL;
    if (f->payload > DATASET_MAX_BYTES) /* proven present, but more than we hold */
        return ctx_error(ctx, SIM_EFORMAT, "%s: %zu bytes of data, expected at most %zu",
                         f->path, f->payload, DATASET_MAX_BYTES);
    *out = mem_alloc(ctx, MEM_DATA, f->payload);
    if (!*out)
        return SIM_ENOMEM;
    size_t got;
    unsigned char extra;
    sim_status s = gz_read(ctx, f, *out, f->payload, &got);
    if (s == SIM_OK && got != f->payload)
        s = ctx_error(ctx, SIM_EIO, "%s: changed while being read (%zu of %zu bytes)", f->path,
                      got, f->payload);
    if (s == SIM_OK && (s = gz_read(ctx, f, &extra, 1, &got)) == SIM_OK && got != 0)
        s = ctx_error(ctx, SIM_EIO, "%s: changed while being read (grew)", f->path);
    if (s != SIM_OK) {
        mem_free(ctx, *out);
        *out = NULL;
    }
    return s;
}

static sim_status check_labels(sim_ctx *ctx, const char *path, const int *labels, int n,
                               int classes)
{
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= classes)
            return ctx_error(ctx, SIM_EFORMAT,
                             "%s: label of image %d is %d, expected 0..%d", path, i, labels[i],
                             classes - 1);
    return SIM_OK;
}

/* Read an opened image/label IDX pair into ds (validate, then commit); closes
 * both files. */
static sim_status fmnist_read(sim_ctx *ctx, dataset *ds, idx_file *fi, idx_file *fl,
                              const char *dir, int train)
{
    dataset tmp = {0};
    unsigned char *lbytes = NULL;
    sim_status s = SIM_OK;
    /* headers first: cheap and catches mismatched files before any reading */
    if (fi->dims[0] != fl->dims[0])
        s = ctx_error(ctx, SIM_EFORMAT, "%s: %u labels, but %s has %u images", fl->path,
                      fl->dims[0], fi->path, fi->dims[0]);
    if (s == SIM_OK)
        s = idx_check_length(ctx, fl);
    if (s == SIM_OK)
        s = idx_check_length(ctx, fi);
    if (s == SIM_OK)
        s = idx_read_payload(ctx, fl, &lbytes);
    if (s == SIM_OK) {
        tmp.n = (int)fi->dims[0];
        tmp.labels = mem_calloc(ctx, MEM_DATA, (size_t)tmp.n, sizeof *tmp.labels);
        if (!tmp.labels)
            s = SIM_ENOMEM;
    }
    if (s == SIM_OK) {
        for (int i = 0; i < tmp.n; i++)
            tmp.labels[i] = lbytes[i];
        s = check_labels(ctx, fl->path, tmp.labels, tmp.n, 10);
    }
    if (s == SIM_OK)
        s = idx_read_payload(ctx, fi, &tmp.pixels);
    mem_free(ctx, lbytes);
    idx_close(fi);
    idx_close(fl);
    if (s != SIM_OK) {
        dataset_free(ctx, &tmp);
        return s;
    }
    tmp.c = 1;
    tmp.h = (int)fi->dims[1];
    tmp.w = (int)fi->dims[2];
    tmp.classes = 10;
    tmp.train = train ? 1 : 0;
    snprintf(tmp.name, sizeof tmp.name, "fmnist");
    snprintf(tmp.path, sizeof tmp.path, "%s", dir);
    *ds = tmp;
    return SIM_OK;
}

sim_status dataset_load_fmnist(sim_ctx *ctx, dataset *ds, const char *dir, int train)
{
    memset(ds, 0, sizeof *ds);
    if (!dir)
        dir = DATASET_FMNIST_DIR;
    const char *pre = train ? "train" : "t10k";
    char iname[64], lname[64];
    snprintf(iname, sizeof iname, "%s-images-idx3-ubyte", pre);
    snprintf(lname, sizeof lname, "%s-labels-idx1-ubyte", pre);

    idx_file fi = {0}, fl = {0};
    sim_status s = idx_open(ctx, &fi, dir, iname, IDX_MAGIC_IMAGES);
    if (s == SIM_OK)
        s = idx_open(ctx, &fl, dir, lname, IDX_MAGIC_LABELS);
    if (s != SIM_OK) {
        idx_close(&fi);
        idx_close(&fl);
        return s;
    }
    return fmnist_read(ctx, ds, &fi, &fl, dir, train);
}

/* Open an in-memory IDX stream (gzipped or plain) as f: the bytes go to an
 * anonymous memory file that zlib reads like any other, so the parsing is
 * exactly the path-based one. */
static sim_status idx_open_mem(sim_ctx *ctx, idx_file *f, const char *name, const void *buf,
                               size_t len, unsigned magic)
{
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", name);
    int fd = memfd_create("idx", MFD_CLOEXEC);
    if (fd < 0)
        return ctx_error(ctx, SIM_EIO, "%s: cannot create a memory file: %s", name,
                         strerror(errno));
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, (const unsigned char *)buf + off, len - off);
        if (w <= 0) {
            int e = errno;
            close(fd);
            return ctx_error(ctx, SIM_EIO, "%s: cannot fill a memory file: %s", name,
                             strerror(e));
        }
        off += (size_t)w;
    }
    if (lseek(fd, 0, SEEK_SET) != 0 || !(f->gz = gzdopen(fd, "rb"))) {
        close(fd);
        return ctx_error(ctx, SIM_EIO, "%s: cannot open a memory file", name);
    }
    return idx_header(ctx, f, 0, magic);
}

sim_status dataset_parse_fmnist(sim_ctx *ctx, dataset *ds, const void *images, size_t images_len,
                                const void *labels, size_t labels_len, int train)
{
    memset(ds, 0, sizeof *ds);
    idx_file fi = {0}, fl = {0};
    sim_status s = idx_open_mem(ctx, &fi, "(images)", images, images_len, IDX_MAGIC_IMAGES);
    if (s == SIM_OK)
        s = idx_open_mem(ctx, &fl, "(labels)", labels, labels_len, IDX_MAGIC_LABELS);
    if (s != SIM_OK) {
        idx_close(&fi);
        idx_close(&fl);
        return s;
    }
    return fmnist_read(ctx, ds, &fi, &fl, "(memory)", train);
}

/* ---- CIFAR-10 ---- */

/* Check one 3073-byte record (record r of `path`) and store it as image k. */
static sim_status cifar_record(sim_ctx *ctx, dataset *tmp, size_t k, const unsigned char *rec,
                               const char *path, size_t r)
{
    if (rec[0] >= 10)
        return ctx_error(ctx, SIM_EFORMAT, "%s: label of record %zu is %d, expected 0..9", path,
                         r, rec[0]);
    tmp->labels[k] = rec[0];
    memcpy(tmp->pixels + k * CIFAR_PIXELS, rec + 1, CIFAR_PIXELS);
    return SIM_OK;
}

static void cifar_finish(dataset *tmp, const char *dir, int train)
{
    tmp->c = 3;
    tmp->h = tmp->w = CIFAR_SIDE;
    tmp->classes = 10;
    tmp->train = train ? 1 : 0;
    snprintf(tmp->name, sizeof tmp->name, "cifar10");
    snprintf(tmp->path, sizeof tmp->path, "%s", dir);
}

sim_status dataset_parse_cifar10(sim_ctx *ctx, dataset *ds, const void *buf, size_t len,
                                 int train)
{
    memset(ds, 0, sizeof *ds);
    const char *name = "(memory)";
    if (len == 0 || len % CIFAR_RECORD != 0)
        return ctx_error(ctx, SIM_EFORMAT,
                         "%s: size %zu bytes is not a positive multiple of %d (1 label + %d "
                         "pixel bytes per record)",
                         name, len, CIFAR_RECORD, CIFAR_PIXELS);
    size_t total = len / CIFAR_RECORD;
    if (total > DATASET_MAX_IMAGES || total > DATASET_MAX_BYTES / CIFAR_PIXELS)
        return ctx_error(ctx, SIM_EFORMAT, "%s: more than %zu images", name,
                         DATASET_MAX_BYTES / CIFAR_PIXELS);
    dataset tmp = {0};
    sim_status s = SIM_OK;
    tmp.n = (int)total;
    tmp.pixels = mem_calloc(ctx, MEM_DATA, total, CIFAR_PIXELS);
    tmp.labels = mem_calloc(ctx, MEM_DATA, total, sizeof *tmp.labels);
    if (!tmp.pixels || !tmp.labels)
        s = SIM_ENOMEM;
    const unsigned char *p = buf;
    for (size_t k = 0; k < total && s == SIM_OK; k++)
        s = cifar_record(ctx, &tmp, k, p + k * CIFAR_RECORD, name, k);
    if (s != SIM_OK) {
        dataset_free(ctx, &tmp);
        return s;
    }
    cifar_finish(&tmp, name, train);
    *ds = tmp;
    return SIM_OK;
}

sim_status dataset_load_cifar10(sim_ctx *ctx, dataset *ds, const char *dir, int train)
{
    memset(ds, 0, sizeof *ds);
    if (!dir)
        dir = DATASET_CIFAR10_DIR;
    enum { MAXFILES = 5 };
    char paths[MAXFILES][DATASET_PATHMAX];
    size_t counts[MAXFILES];
    int nfiles = train ? 5 : 1;
    size_t total = 0;
    sim_status s = SIM_OK;

    /* sizes first: every file must exist and hold whole records */
    for (int i = 0; i < nfiles && s == SIM_OK; i++) {
        char base[32];
        if (train)
            snprintf(base, sizeof base, "data_batch_%d.bin", i + 1);
        else
            snprintf(base, sizeof base, "test_batch.bin");
        if ((s = path_join(ctx, paths[i], sizeof paths[i], dir, base)) != SIM_OK)
            break;
        struct stat st;
        if (stat(paths[i], &st) != 0)
            s = ctx_error(ctx, SIM_EIO, "%s: cannot open: %s", paths[i], strerror(errno));
        else if (!S_ISREG(st.st_mode))
            s = ctx_error(ctx, SIM_EIO, "%s: not a regular file", paths[i]);
        else if (st.st_size <= 0 || st.st_size % CIFAR_RECORD != 0)
            s = ctx_error(ctx, SIM_EFORMAT,
                          "%s: size %lld bytes is not a positive multiple of %d (1 label + "
                          "%d pixel bytes per record)",
                          paths[i], (long long)st.st_size, CIFAR_RECORD, CIFAR_PIXELS);
        else {
            counts[i] = (size_t)(st.st_size / CIFAR_RECORD);
            total += counts[i];
            if (total > DATASET_MAX_IMAGES || total > DATASET_MAX_BYTES / CIFAR_PIXELS)
                s = ctx_error(ctx, SIM_EFORMAT, "%s: more than %zu images in total", paths[i],
                              DATASET_MAX_BYTES / CIFAR_PIXELS);
        }
    }
    if (s != SIM_OK)
        return s;

    dataset tmp = {0};
    tmp.n = (int)total;
    tmp.pixels = mem_calloc(ctx, MEM_DATA, total, CIFAR_PIXELS);
    tmp.labels = mem_calloc(ctx, MEM_DATA, total, sizeof *tmp.labels);
    if (!tmp.pixels || !tmp.labels)
        s = SIM_ENOMEM;
    size_t k = 0;
    for (int i = 0; i < nfiles && s == SIM_OK; i++) {
        FILE *fp = fopen(paths[i], "rb");
        if (!fp) {
            s = ctx_error(ctx, SIM_EIO, "%s: cannot open: %s", paths[i], strerror(errno));
            break;
        }
        unsigned char rec[CIFAR_RECORD];
        for (size_t r = 0; r < counts[i] && s == SIM_OK; r++, k++) {
            if (fread(rec, 1, sizeof rec, fp) != sizeof rec)
                s = ctx_error(ctx, SIM_EIO, "%s: read error or file shrank at record %zu: %s",
                              paths[i], r, ferror(fp) ? strerror(errno) : "end of file");
            else
                s = cifar_record(ctx, &tmp, k, rec, paths[i], r);
        }
        if (fclose(fp) != 0 && s == SIM_OK)
            s = ctx_error(ctx, SIM_EIO, "%s: close failed: %s", paths[i], strerror(errno));
    }
    if (s != SIM_OK) {
        dataset_free(ctx, &tmp);
        return s;
    }
    cifar_finish(&tmp, dir, train);
    *ds = tmp;
    return SIM_OK;
}

sim_status dataset_load(sim_ctx *ctx, dataset *ds, const char *name, const char *dir,
                        int train)
{
    if (name && (!strcmp(name, "fmnist") || !strcmp(name, "fashion-mnist")))
        return dataset_load_fmnist(ctx, ds, dir, train);
    if (name && !strcmp(name, "cifar10"))
        return dataset_load_cifar10(ctx, ds, dir, train);
    memset(ds, 0, sizeof *ds);
    return ctx_error(ctx, SIM_ENOTFOUND, "dataset: unknown dataset '%s', expected fmnist or "
                     "cifar10", name ? name : "(null)");
}

void dataset_free(sim_ctx *ctx, dataset *ds)
{
    mem_free(ctx, ds->pixels);
    mem_free(ctx, ds->labels);
    memset(ds, 0, sizeof *ds);
}

sim_status dataset_norm_preset(sim_ctx *ctx, const char *name, dataset_norm *out)
{
    if (name && (!strcmp(name, "fmnist") || !strcmp(name, "fashion-mnist"))) {
        *out = dataset_norm_fmnist;
        return SIM_OK;
    }
    if (name && !strcmp(name, "cifar10")) {
        *out = dataset_norm_cifar10;
        return SIM_OK;
    }
    return ctx_error(ctx, SIM_ENOTFOUND,
                     "dataset: no normalization preset '%s', expected fmnist or cifar10",
                     name ? name : "(null)");
}

const char *dataset_class_name(const dataset *ds, int k)
{
    if (!ds || k < 0 || k >= ds->classes || k >= 10)
        return "?";
    if (!strcmp(ds->name, "fmnist"))
        return fmnist_classes[k];
    if (!strcmp(ds->name, "cifar10"))
        return cifar10_classes[k];
    return "?";
}

/* ---- batches ---- */

static sim_status check_batch_args(sim_ctx *ctx, const dataset *ds, const int *indices, int nb,
                                   const dataset_norm *norm, const dataset_augment *aug)
{
    if (!ds || !ds->pixels || !ds->labels || ds->n < 1)
        return ctx_error(ctx, SIM_EINVAL, "dataset_batch: dataset is not loaded");
    if (nb < 0 || (nb > 0 && !indices))
        return ctx_error(ctx, SIM_EINVAL, "dataset_batch: invalid batch size %d", nb);
    if (!norm || norm->c != ds->c || norm->c > DATASET_MAXC)
        return ctx_error(ctx, SIM_EINVAL,
                         "dataset_batch: normalization for %d channels, dataset %s has %d",
                         norm ? norm->c : 0, ds->name, ds->c);
    if (norm->size < ds->h || norm->size < ds->w || norm->size > DATASET_MAX_SIDE)
        return ctx_error(ctx, SIM_EINVAL,
                         "dataset_batch: output size %d, expected %d..%d for %dx%d images",
                         norm->size, ds->h > ds->w ? ds->h : ds->w, DATASET_MAX_SIDE, ds->h,
                         ds->w);
    for (int c = 0; c < norm->c; c++)
        if (!(norm->std[c] > 0) || !isfinite(norm->std[c]) || !isfinite(norm->mean[c]))
            return ctx_error(ctx, SIM_EINVAL,
                             "dataset_batch: channel %d: mean %g std %g, expected finite "
                             "values and std > 0",
                             c, norm->mean[c], norm->std[c]);
    if (aug && (aug->pad < 0 || aug->pad > norm->size))
        return ctx_error(ctx, SIM_EINVAL, "dataset_batch: crop padding %d, expected 0..%d",
                         aug->pad, norm->size);
    for (int b = 0; b < nb; b++)
        if (indices[b] < 0 || indices[b] >= ds->n)
            return ctx_error(ctx, SIM_ERANGE,
                             "dataset_batch: batch entry %d is image %d, dataset %s has %d "
                             "images",
                             b, indices[b], ds->name, ds->n);
    return SIM_OK;
}

sim_status dataset_batch(sim_ctx *ctx, const dataset *ds, real *out, int *labels_out,
                         const int *indices, int nb, const dataset_norm *norm,
                         const dataset_augment *aug)
{
    sim_status s = check_batch_args(ctx, ds, indices, nb, norm, aug);
    if (s != SIM_OK)
        return s;
    const int C = ds->c, h = ds->h, w = ds->w, S = norm->size;
    const size_t SS = (size_t)S * (size_t)S, img = (size_t)h * (size_t)w;
    const int top = (S - h) / 2, left = (S - w) / 2;

    /* every pixel value once per channel, computed in double */
    real lut[DATASET_MAXC][256];
    for (int c = 0; c < C; c++)
        for (int x = 0; x < 256; x++)
            lut[c][x] = (real)(((double)x / 255.0 - norm->mean[c]) / norm->std[c]);

    for (int b = 0; b < nb; b++) {
        int dy = 0, dx = 0, flip = 0;
        if (aug && aug->pad > 0) {
            unsigned long span = 2ul * (unsigned long)aug->pad + 1ul;
            dy = (int)rng_int(ctx, RNG_DATA, span) - aug->pad;
            dx = (int)rng_int(ctx, RNG_DATA, span) - aug->pad;
        }
        if (aug && aug->flip)
            flip = rng_uniform(ctx, RNG_DATA) < 0.5;
        const unsigned char *src = ds->pixels + (size_t)indices[b] * (size_t)C * img;
        /* rows/columns of the source that land inside the S x S output */
        int y0 = -(top + dy), y1 = S - (top + dy);
        int x0 = -(left + dx), x1 = S - (left + dx);
        if (y0 < 0) y0 = 0;
        if (x0 < 0) x0 = 0;
        if (y1 > h) y1 = h;
        if (x1 > w) x1 = w;
        for (int c = 0; c < C; c++) {
            real *dst = out + ((size_t)c * (size_t)nb + (size_t)b) * SS;
            const unsigned char *sp = src + (size_t)c * img;
            const real *L = lut[c];
            for (size_t i = 0; i < SS; i++)
                dst[i] = 0;
            for (int y = y0; y < y1; y++) {
                real *row = dst + (size_t)(y + top + dy) * (size_t)S;
                const unsigned char *srow = sp + (size_t)y * (size_t)w;
                if (flip)
                    for (int x = x0; x < x1; x++)
                        row[S - 1 - (x + left + dx)] = L[srow[x]];
                else
                    for (int x = x0; x < x1; x++)
                        row[x + left + dx] = L[srow[x]];
            }
        }
        if (labels_out)
            labels_out[b] = ds->labels[indices[b]];
    }
    return SIM_OK;
}
