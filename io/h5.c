/* h5.c - checked HDF5 helpers: open/create (also atomically), read tensors
 * with an expected shape, write tensors (fixed or appendable), attributes.
 *
 * Each public function silences HDF5's automatic error printing for its
 * duration (restoring the caller's handler afterwards) and turns any failure
 * into one ctx_error line; library failures carry the innermost message of
 * the HDF5 error stack. Internal functions follow one pattern: ids start as
 * H5I_INVALID_HID and a single cleanup block closes whatever was opened. */
#include "h5.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- error-stack handling ---- */

void h5_quiet_on(h5_quiet *q)
{
    if (H5Eget_auto2(H5E_DEFAULT, &q->fn, &q->data) < 0) {
        q->fn = NULL;
        q->data = NULL;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void h5_quiet_off(const h5_quiet *q)
{
    H5Eclear2(H5E_DEFAULT);
    H5Eset_auto2(H5E_DEFAULT, q->fn, q->data);
}

/* Run `call` (an expression of type sim_status) with HDF5 printing off. */
#define QUIET(call)                                                                                \
    do {                                                                                           \
        h5_quiet q_;                                                                               \
        h5_quiet_on(&q_);                                                                          \
        s = (call);                                                                                \
        h5_quiet_off(&q_);                                                                         \
    } while (0)

typedef struct {
    char *buf;
    size_t len;
} detail_buf;

static herr_t detail_cb(unsigned n, const H5E_error2_t *e, void *ud)
{
    detail_buf *d = ud;
    if (n == 0 && e && e->desc)
        snprintf(d->buf, d->len, "%s", e->desc);
    return 0;
}

const char *h5_error_detail(char *buf, size_t len)
{
    detail_buf d = {buf, len};
    buf[0] = '\0';
    if (H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, detail_cb, &d) < 0)
        buf[0] = '\0';
    if (!buf[0])
        snprintf(buf, len, "unknown HDF5 error");
    return buf;
}

/* Record a library failure: "FILE: WHAT: HDF5: detail". */
static sim_status lib_error(sim_ctx *ctx, const h5_file *f, const char *what, const char *name)
{
    char det[200];
    h5_error_detail(det, sizeof det);
    return ctx_error(ctx, SIM_ELIB, "%s: %s %s: HDF5: %s", f->path, what, name, det);
}

static void close_id(hid_t *id)
{
    if (*id < 0)
        return;
    switch (H5Iget_type(*id)) {
    case H5I_DATASET: H5Dclose(*id); break;
    case H5I_DATASPACE: H5Sclose(*id); break;
    case H5I_DATATYPE: H5Tclose(*id); break;
    case H5I_ATTR: H5Aclose(*id); break;
    case H5I_GENPROP_LST: H5Pclose(*id); break;
    case H5I_GROUP: H5Gclose(*id); break;
    default: break;
    }
    *id = H5I_INVALID_HID;
}

/* ---- types and shapes ---- */

static hid_t mem_type(h5_dtype t)
{
    switch (t) {
    case H5IO_FLOAT32: return H5T_NATIVE_FLOAT;
    case H5IO_FLOAT64: return H5T_NATIVE_DOUBLE;
    case H5IO_INT32: return H5T_NATIVE_INT32;
    case H5IO_INT64: return H5T_NATIVE_INT64;
    case H5IO_UINT8: return H5T_NATIVE_UINT8;
    default: return H5I_INVALID_HID;
    }
}

static hid_t file_type(h5_dtype t)
{
    switch (t) {
    case H5IO_FLOAT32: return H5T_IEEE_F32LE;
    case H5IO_FLOAT64: return H5T_IEEE_F64LE;
    case H5IO_INT32: return H5T_STD_I32LE;
    case H5IO_INT64: return H5T_STD_I64LE;
    case H5IO_UINT8: return H5T_STD_U8LE;
    default: return H5I_INVALID_HID;
    }
}

static int is_float(h5_dtype t)
{
    return t == H5IO_FLOAT32 || t == H5IO_FLOAT64;
}

static size_t dtype_size(h5_dtype t)
{
    static const size_t sz[H5IO_NDTYPES] = {4, 8, 4, 8, 1};
    return (unsigned)t < H5IO_NDTYPES ? sz[t] : 0;
}

static const char *class_name(H5T_class_t c)
{
    switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "variable-length";
    default: return "other";
    }
}

/* "(8, 1, 3, 3)"; "()" for a scalar. */
static char *dims_str(char *buf, size_t len, int nd, const hsize_t *d)
{
    size_t k = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < nd && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, i ? ", %llu" : "%llu", (unsigned long long)d[i]);
    if (k < len)
        snprintf(buf + k, len - k, ")");
    return buf;
}

/* Check an int shape (ndim 0..MAXDIM, extents >= 0) and convert it. */
static sim_status to_dims(sim_ctx *ctx, const h5_file *f, const char *name, int ndim,
                          const int *shape, hsize_t *dims)
{
    if (ndim < 0 || ndim > H5IO_MAXDIM || (ndim > 0 && !shape))
        return ctx_error(ctx, SIM_EINVAL, "%s: tensor %s: invalid rank %d (0..%d)", f->path,
                         name, ndim, H5IO_MAXDIM);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return ctx_error(ctx, SIM_EINVAL, "%s: tensor %s: negative extent %d in dimension %d",
                             f->path, name, shape[i], i);
        dims[i] = (hsize_t)shape[i];
    }
    return SIM_OK;
}

/* ---- paths ---- */

/* 1 if every component of path exists as a link under loc and the last one
 * resolves to an object. H5Lexists fails on missing intermediates, hence the
 * walk. */
static int path_exists(hid_t loc, const char *path)
{
    char buf[H5IO_PATHMAX];
    size_t n = strlen(path);
    if (n >= sizeof buf)
        return 0;
    memcpy(buf, path, n + 1);
    size_t i = 0;
    while (buf[i] == '/')
        i++;
    if (buf[i] == '\0')
        return 1; /* the root */
    for (; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char keep = buf[i];
        buf[i] = '\0';
        htri_t e = H5Lexists(loc, buf, H5P_DEFAULT);
        buf[i] = keep;
        if (e <= 0)
            return 0;
        if (keep == '\0')
            break;
    }
    return H5Oexists_by_name(loc, path, H5P_DEFAULT) > 0;
}

static sim_status check_open(sim_ctx *ctx, const h5_file *f, int need_write)
{
    if (!f || f->id < 0)
        return ctx_error(ctx, SIM_EINVAL, "%s: HDF5 file is not open",
                         f && f->path[0] ? f->path : "h5");
    if (need_write && !f->writable)
        return ctx_error(ctx, SIM_EINVAL, "%s: file is open read-only", f->path);
    return SIM_OK;
}

/* Open the dataset `name`: SIM_ENOTFOUND if missing, SIM_EFORMAT if it is
 * some other kind of object. */
static sim_status open_dataset(sim_ctx *ctx, const h5_file *f, const char *name, hid_t *out)
{
    *out = H5I_INVALID_HID;
    sim_status s = check_open(ctx, f, 0);
    if (s != SIM_OK)
        return s;
    if (!path_exists(f->id, name))
        return ctx_error(ctx, SIM_ENOTFOUND, "%s: tensor %s missing", f->path, name);
    hid_t o = H5Oopen(f->id, name, H5P_DEFAULT);
    if (o < 0)
        return lib_error(ctx, f, "cannot open", name);
    if (H5Iget_type(o) != H5I_DATASET) {
        H5Oclose(o);
        return ctx_error(ctx, SIM_EFORMAT, "%s: %s is a group, expected a tensor", f->path, name);
    }
    *out = o;
    return SIM_OK;
}

/* Rank and extents of an open dataset (dims needs H5IO_MAXDIM slots). */
static sim_status dataset_dims(sim_ctx *ctx, const h5_file *f, const char *name, hid_t d,
                               int *nd, hsize_t *dims, hsize_t *maxdims)
{
    hid_t sp = H5Dget_space(d);
    if (sp < 0)
        return lib_error(ctx, f, "cannot read the shape of tensor", name);
    sim_status s = SIM_OK;
    H5S_class_t cls = H5Sget_simple_extent_type(sp);
    int n = H5Sget_simple_extent_ndims(sp);
    if (cls == H5S_NULL)
        s = ctx_error(ctx, SIM_EFORMAT, "%s: tensor %s has an empty (null) dataspace", f->path,
                      name);
    else if (n < 0)
        s = lib_error(ctx, f, "cannot read the shape of tensor", name);
    else if (n > H5IO_MAXDIM)
        s = ctx_error(ctx, SIM_EFORMAT, "%s: tensor %s: expected at most %d dimensions, found %d",
                      f->path, name, H5IO_MAXDIM, n);
    else if (H5Sget_simple_extent_dims(sp, dims, maxdims) < 0)
        s = lib_error(ctx, f, "cannot read the shape of tensor", name);
    else
        *nd = n;
    H5Sclose(sp);
    return s;
}

/* ---- files ---- */

static sim_status set_path(sim_ctx *ctx, h5_file *f, const char *path)
{
    memset(f, 0, sizeof *f);
    f->id = H5I_INVALID_HID;
    if (!path || !*path)
        return ctx_error(ctx, SIM_EINVAL, "h5: empty file name");
    if (strlen(path) >= sizeof f->path)
        return ctx_error(ctx, SIM_EINVAL, "h5: file name too long (%zu characters, at most %zu)",
                         strlen(path), sizeof f->path - 1);
    memcpy(f->path, path, strlen(path) + 1);
    return SIM_OK;
}

#if (H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 10 && H5_VERS_RELEASE >= 7) ||                   \
    H5_VERSION_GE(1, 12, 1)
#define HAVE_FILE_LOCKING_PROP 1
#endif

/* A file-access list whose close also closes every object of the file, so a
 * committed atomic write is really complete when H5Fclose returns. File
 * locks are used where the file system supports them and skipped where it
 * does not (instead of failing to open). */
static hid_t strong_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0)
        return fapl;
    int bad = H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0;
#ifdef HAVE_FILE_LOCKING_PROP
    bad |= H5Pset_file_locking(fapl, 1, 1) < 0;
#endif
    if (bad) {
        H5Pclose(fapl);
        return H5I_INVALID_HID;
    }
    return fapl;
}

static sim_status open_impl(sim_ctx *ctx, h5_file *f, const char *path, int rw)
{
    sim_status s = set_path(ctx, f, path);
    if (s != SIM_OK)
        return s;
    struct stat st;
    if (stat(path, &st) != 0)
        return ctx_error(ctx, SIM_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return ctx_error(ctx, SIM_EIO, "%s: cannot open: not a regular file", path);
    if (access(path, rw ? R_OK | W_OK : R_OK) != 0)
        return ctx_error(ctx, SIM_EIO, "%s: cannot open for %s: %s", path,
                         rw ? "writing" : "reading", strerror(errno));
#if H5_VERSION_GE(1, 12, 0)
    htri_t is = H5Fis_accessible(path, H5P_DEFAULT);
#else
    htri_t is = H5Fis_hdf5(path);
#endif
    if (is == 0)
        return ctx_error(ctx, SIM_EFORMAT, "%s: not an HDF5 file (%lld bytes)", path,
                         (long long)st.st_size);
    if (is < 0) {
        char det[200];
        return ctx_error(ctx, SIM_EFORMAT, "%s: not a readable HDF5 file: %s", path,
                         h5_error_detail(det, sizeof det));
    }
    hid_t fapl = strong_fapl();
    if (fapl < 0)
        return lib_error(ctx, f, "cannot set up", "file access");
    f->id = H5Fopen(path, rw ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (f->id < 0) {
        char det[200];
        return ctx_error(ctx, SIM_EIO, "%s: cannot open HDF5 file: %s", path,
                         h5_error_detail(det, sizeof det));
    }
    f->writable = rw;
    return SIM_OK;
}

sim_status h5_open_read(sim_ctx *ctx, h5_file *f, const char *path)
{
    sim_status s;
    QUIET(open_impl(ctx, f, path, 0));
    return s;
}

sim_status h5_open_rw(sim_ctx *ctx, h5_file *f, const char *path)
{
    sim_status s;
    QUIET(open_impl(ctx, f, path, 1));
    return s;
}

/* Create `path` (the name the OS sees) for f, truncating it. in_memory: the
 * HDF5 file lives in memory (core driver, no backing store) and `path` is
 * left empty, to be written by write_image at commit; HDF5 then never writes
 * to disk, so a full disk cannot fail inside the library (whose H5Fclose,
 * after a failed flush, leaves a file behind that crashes H5_term_library at
 * exit - found by tests/crash/kill_train.sh with libhdf5 1.10.8). */
static sim_status create_file(sim_ctx *ctx, h5_file *f, const char *path, const char *what,
                              int in_memory)
{
    /* open(2) first: its errno says clearly why a directory is unusable */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0)
        return ctx_error(ctx, SIM_EIO, "%s: cannot create %s%s%s: %s", f->path, what,
                         *what ? " " : "", *what ? path : "", strerror(errno));
    if (close(fd) != 0)
        return ctx_error(ctx, SIM_EIO, "%s: cannot create %s: %s", f->path, path,
                         strerror(errno));
    hid_t fapl = strong_fapl();
    if (fapl >= 0 && in_memory && H5Pset_fapl_core(fapl, (size_t)1 << 20, 0) < 0) {
        H5Pclose(fapl);
        fapl = H5I_INVALID_HID;
    }
    if (fapl < 0)
        return lib_error(ctx, f, "cannot set up", "file access");
    f->id = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f->id < 0) {
        char det[200];
        return ctx_error(ctx, SIM_EIO, "%s: cannot create HDF5 file %s: %s", f->path, path,
                         h5_error_detail(det, sizeof det));
    }
    f->writable = 1;
    return SIM_OK;
}

static sim_status create_impl(sim_ctx *ctx, h5_file *f, const char *path)
{
    sim_status s = set_path(ctx, f, path);
    if (s != SIM_OK)
        return s;
    return create_file(ctx, f, path, "", 0);
}

sim_status h5_create(sim_ctx *ctx, h5_file *f, const char *path)
{
    sim_status s;
    QUIET(create_impl(ctx, f, path));
    return s;
}

static sim_status close_impl(sim_ctx *ctx, h5_file *f)
{
    if (f->id < 0)
        return SIM_OK;
    herr_t e = H5Fclose(f->id);
    f->id = H5I_INVALID_HID;
    if (e < 0)
        return lib_error(ctx, f, "cannot close", "file");
    return SIM_OK;
}

sim_status h5_close(sim_ctx *ctx, h5_file *f)
{
    sim_status s;
    QUIET(close_impl(ctx, f));
    return s;
}

static sim_status create_atomic_impl(sim_ctx *ctx, const char *final_path, h5_file *w,
                                     int in_memory)
{
    sim_status s = set_path(ctx, w, final_path);
    if (s != SIM_OK)
        return s;
    struct stat st;
    if (stat(final_path, &st) == 0 && S_ISDIR(st.st_mode))
        return ctx_error(ctx, SIM_EINVAL, "%s: is a directory, expected a file name",
                         final_path);
    int n = snprintf(w->tmp, sizeof w->tmp, "%s.tmp.%ld", final_path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof w->tmp) {
        w->tmp[0] = '\0';
        return ctx_error(ctx, SIM_EINVAL, "%s: file name too long for a temporary", final_path);
    }
    s = create_file(ctx, w, w->tmp, "temporary", in_memory);
    w->in_memory = in_memory;
    if (s != SIM_OK) {
        if (unlink(w->tmp) != 0 && errno != ENOENT) {
            /* nothing more to do: the error above is the one to report */
        }
        w->tmp[0] = '\0';
    }
    return s;
}

sim_status h5_create_atomic(sim_ctx *ctx, const char *final_path, h5_file *w)
{
    sim_status s;
    QUIET(create_atomic_impl(ctx, final_path, w, 0));
    return s;
}

sim_status h5_create_atomic_mem(sim_ctx *ctx, const char *final_path, h5_file *w)
{
    sim_status s;
    QUIET(create_atomic_impl(ctx, final_path, w, 1));
    return s;
}

int h5_remove_stale_tmp(const char *final_path)
{
    char dir[H5IO_PATHMAX], prefix[H5IO_PATHMAX];
    const char *slash = strrchr(final_path, '/');
    const char *base = slash ? slash + 1 : final_path;
    int nd = slash ? snprintf(dir, sizeof dir, "%.*s", (int)(slash - final_path + 1), final_path)
                   : snprintf(dir, sizeof dir, ".");
    int np = snprintf(prefix, sizeof prefix, "%s.tmp.", base);
    if (nd < 0 || (size_t)nd >= sizeof dir || np < 0 || (size_t)np >= sizeof prefix)
        return -1;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, (size_t)np) != 0)
            continue;
        char *end;
        errno = 0;
        long pid = strtol(e->d_name + np, &end, 10);
        if (errno || end == e->d_name + np || *end != '\0' || pid <= 0 || pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* alive (or not ours to judge): its writer may still commit it */
        char path[2 * H5IO_PATHMAX];
        snprintf(path, sizeof path, "%s%s%s", dir, slash ? "" : "/", e->d_name);
        if (unlink(path) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

/* fsync a file or directory by name. */
static int fsync_path(const char *path, int dir)
{
    int fd = open(path, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    int err = errno;
    if (close(fd) != 0 && r == 0)
        return -1;
    /* some file systems cannot fsync a directory; that is not a failure */
    if (r != 0 && dir && (err == EINVAL || err == ENOTSUP))
        r = 0;
    errno = err;
    return r;
}

/* The in-memory file of an atomic write goes to the temporary with plain
 * write(2)s, so EFBIG and ENOSPC come back to us as one clear error. */
static sim_status write_image(sim_ctx *ctx, h5_file *w)
{
    sim_status s = SIM_OK;
    unsigned char *img = NULL;
    ssize_t n = -1;
    if (H5Fflush(w->id, H5F_SCOPE_GLOBAL) < 0 || (n = H5Fget_file_image(w->id, NULL, 0)) < 0)
        s = lib_error(ctx, w, "cannot serialize temporary", w->tmp);
    else if (!(img = mem_alloc(ctx, MEM_SCRATCH, (size_t)n)))
        s = SIM_ENOMEM;
    else if (H5Fget_file_image(w->id, img, (size_t)n) != n)
        s = lib_error(ctx, w, "cannot serialize temporary", w->tmp);
    herr_t e = H5Fclose(w->id);
    w->id = H5I_INVALID_HID;
    if (s == SIM_OK && e < 0)
        s = lib_error(ctx, w, "cannot close temporary", w->tmp);
    int fd = -1;
    if (s == SIM_OK && (fd = open(w->tmp, O_WRONLY | O_TRUNC | O_CLOEXEC)) < 0)
        s = ctx_error(ctx, SIM_EIO, "%s: cannot open temporary %s: %s", w->path, w->tmp,
                      strerror(errno));
    for (size_t off = 0; s == SIM_OK && off < (size_t)n;) {
        ssize_t k = write(fd, img + off, (size_t)n - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            s = ctx_error(ctx, SIM_EIO, "%s: cannot write temporary %s (%zd bytes): %s",
                          w->path, w->tmp, n, k < 0 ? strerror(errno) : "no progress");
        else
            off += (size_t)k;
    }
    if (fd >= 0 && close(fd) != 0 && s == SIM_OK)
        s = ctx_error(ctx, SIM_EIO, "%s: cannot write temporary %s: %s", w->path, w->tmp,
                      strerror(errno));
    mem_free(ctx, img);
    return s;
}

static sim_status commit_impl(sim_ctx *ctx, h5_file *w)
{
    if (!w->tmp[0])
        return ctx_error(ctx, SIM_EINVAL, "%s: not an atomic write (use h5_create_atomic)",
                         w->path);
    sim_status s = SIM_OK;
    if (w->id >= 0 && w->in_memory) {
        s = write_image(ctx, w);
    } else if (w->id >= 0) {
        herr_t e = H5Fclose(w->id);
        w->id = H5I_INVALID_HID;
        if (e < 0)
            s = lib_error(ctx, w, "cannot close temporary", w->tmp);
    }
    if (s == SIM_OK && fsync_path(w->tmp, 0) != 0)
        s = ctx_error(ctx, SIM_EIO, "%s: cannot fsync temporary %s: %s", w->path, w->tmp,
                      strerror(errno));
    if (s == SIM_OK && rename(w->tmp, w->path) != 0)
        s = ctx_error(ctx, SIM_EIO, "%s: cannot rename %s onto it: %s", w->path, w->tmp,
                      strerror(errno));
    if (s != SIM_OK) {
        unlink(w->tmp); /* best effort; the recorded error is the one to report */
        w->tmp[0] = '\0';
        return s;
    }
    w->tmp[0] = '\0';
    /* make the rename itself durable */
    char dir[H5IO_PATHMAX];
    const char *slash = strrchr(w->path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == w->path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - w->path), w->path);
    if (fsync_path(dir, 1) != 0)
        return ctx_error(ctx, SIM_EIO, "%s: written, but cannot fsync directory %s: %s",
                         w->path, dir, strerror(errno));
    return SIM_OK;
}

sim_status h5_commit_atomic(sim_ctx *ctx, h5_file *w)
{
    sim_status s;
    QUIET(commit_impl(ctx, w));
    return s;
}

void h5_abort_atomic(sim_ctx *ctx, h5_file *w)
{
    (void)ctx;
    h5_quiet q;
    h5_quiet_on(&q);
    if (w->id >= 0)
        H5Fclose(w->id); /* failure does not matter: the file is deleted */
    w->id = H5I_INVALID_HID;
    h5_quiet_off(&q);
    if (w->tmp[0])
        unlink(w->tmp);
    w->tmp[0] = '\0';
}

/* ---- datasets ---- */

int h5_exists(const h5_file *f, const char *path)
{
    if (!f || f->id < 0 || !path)
        return 0;
    h5_quiet q;
    h5_quiet_on(&q);
    int e = path_exists(f->id, path);
    h5_quiet_off(&q);
    return e;
}

static h5_dtype nearest_dtype(hid_t t)
{
    H5T_class_t c = H5Tget_class(t);
    size_t sz = H5Tget_size(t);
    if (c == H5T_FLOAT)
        return sz <= 4 ? H5IO_FLOAT32 : H5IO_FLOAT64;
    if (c == H5T_INTEGER) {
        if (sz == 1 && H5Tget_sign(t) == H5T_SGN_NONE)
            return H5IO_UINT8;
        return sz <= 4 ? H5IO_INT32 : H5IO_INT64;
    }
    return H5IO_NDTYPES;
}

static sim_status shape_impl(sim_ctx *ctx, const h5_file *f, const char *name, int *ndim,
                             int *shape, h5_dtype *dtype)
{
    hid_t d;
    sim_status s = open_dataset(ctx, f, name, &d);
    if (s != SIM_OK)
        return s;
    int nd = 0;
    hsize_t dims[H5IO_MAXDIM];
    s = dataset_dims(ctx, f, name, d, &nd, dims, NULL);
    for (int i = 0; s == SIM_OK && i < nd; i++) {
        if (dims[i] > (hsize_t)INT_MAX) {
            s = ctx_error(ctx, SIM_EFORMAT, "%s: tensor %s: extent %llu too large", f->path,
                          name, (unsigned long long)dims[i]);
            break;
        }
        shape[i] = (int)dims[i];
    }
    if (s == SIM_OK && dtype) {
        hid_t t = H5Dget_type(d);
        if (t < 0)
            s = lib_error(ctx, f, "cannot read the type of tensor", name);
        else {
            *dtype = nearest_dtype(t);
            H5Tclose(t);
        }
    }
    if (s == SIM_OK)
        *ndim = nd;
    H5Dclose(d);
    return s;
}

sim_status h5_shape(sim_ctx *ctx, const h5_file *f, const char *name, int *ndim,
                    int shape[H5IO_MAXDIM], h5_dtype *dtype)
{
    sim_status s;
    QUIET(shape_impl(ctx, f, name, ndim, shape, dtype));
    return s;
}

static sim_status read_impl(sim_ctx *ctx, const h5_file *f, const char *name, void *out,
                            h5_dtype mem, int ndim, const int *shape)
{
    hsize_t want[H5IO_MAXDIM];
    sim_status s = to_dims(ctx, f, name, ndim, shape, want);
    if (s != SIM_OK)
        return s;
    hid_t d, t = H5I_INVALID_HID;
    s = open_dataset(ctx, f, name, &d);
    if (s != SIM_OK)
        return s;
    int nd = 0;
    hsize_t dims[H5IO_MAXDIM];
    s = dataset_dims(ctx, f, name, d, &nd, dims, NULL);
    if (s == SIM_OK) {
        int same = nd == ndim;
        for (int i = 0; same && i < nd; i++)
            same = dims[i] == want[i];
        if (!same) {
            char e[128], g[128];
            s = ctx_error(ctx, SIM_ESHAPE, "%s: tensor %s: expected shape %s, found %s",
                          f->path, name, dims_str(e, sizeof e, ndim, want),
                          dims_str(g, sizeof g, nd, dims));
        }
    }
    if (s == SIM_OK && (t = H5Dget_type(d)) < 0)
        s = lib_error(ctx, f, "cannot read the type of tensor", name);
    if (s == SIM_OK) {
        H5T_class_t c = H5Tget_class(t);
        H5T_class_t need = is_float(mem) ? H5T_FLOAT : H5T_INTEGER;
        if (c != need)
            s = ctx_error(ctx, SIM_EFORMAT, "%s: tensor %s: expected %s data, found %s",
                          f->path, name, is_float(mem) ? "float32 or float64" : "integer",
                          class_name(c));
    }
    if (s == SIM_OK && H5Dread(d, mem_type(mem), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
        s = lib_error(ctx, f, "cannot read tensor", name);
    close_id(&t);
    H5Dclose(d);
    return s;
}

sim_status h5_read_real(sim_ctx *ctx, const h5_file *f, const char *name, real *out, int ndim,
                        const int *shape)
{
    sim_status s;
    QUIET(read_impl(ctx, f, name, out, H5IO_REAL, ndim, shape));
    return s;
}

sim_status h5_read_int64(sim_ctx *ctx, const h5_file *f, const char *name, int64_t *out,
                         int ndim, const int *shape)
{
    sim_status s;
    QUIET(read_impl(ctx, f, name, out, H5IO_INT64, ndim, shape));
    return s;
}

sim_status h5_read_int32(sim_ctx *ctx, const h5_file *f, const char *name, int32_t *out,
                         int ndim, const int *shape)
{
    sim_status s;
    QUIET(read_impl(ctx, f, name, out, H5IO_INT32, ndim, shape));
    return s;
}

static sim_status check_types(sim_ctx *ctx, const h5_file *f, const char *name, h5_dtype mem,
                              h5_dtype stored)
{
    if ((unsigned)mem >= H5IO_NDTYPES || (unsigned)stored >= H5IO_NDTYPES)
        return ctx_error(ctx, SIM_EINVAL, "%s: tensor %s: invalid data type", f->path, name);
    if (is_float(mem) != is_float(stored))
        return ctx_error(ctx, SIM_EINVAL,
                         "%s: tensor %s: cannot store %s memory data as %s", f->path, name,
                         is_float(mem) ? "float" : "integer", is_float(stored) ? "float" : "integer");
    return SIM_OK;
}

/* Remove an existing object at name so it can be written anew. */
static sim_status unlink_existing(sim_ctx *ctx, h5_file *f, const char *name)
{
    if (path_exists(f->id, name) && H5Ldelete(f->id, name, H5P_DEFAULT) < 0)
        return lib_error(ctx, f, "cannot replace", name);
    return SIM_OK;
}

/* Create a dataset with intermediate groups. */
static hid_t create_dataset(hid_t loc, const char *name, hid_t ftype, hid_t space, hid_t dcpl)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl < 0)
        return H5I_INVALID_HID;
    hid_t d = H5I_INVALID_HID;
    if (H5Pset_create_intermediate_group(lcpl, 1) >= 0)
        d = H5Dcreate2(loc, name, ftype, space, lcpl, dcpl, H5P_DEFAULT);
    H5Pclose(lcpl);
    return d;
}

static sim_status write_impl(sim_ctx *ctx, h5_file *f, const char *name, const void *data,
                             h5_dtype mem, h5_dtype stored, int ndim, const int *shape)
{
    sim_status s = check_open(ctx, f, 1);
    if (s != SIM_OK)
        return s;
    hsize_t dims[H5IO_MAXDIM];
    if ((s = to_dims(ctx, f, name, ndim, shape, dims)) != SIM_OK ||
        (s = check_types(ctx, f, name, mem, stored)) != SIM_OK)
        return s;
    int empty = 0; /* a zero extent: nothing to write */
    for (int i = 0; i < ndim; i++)
        empty |= dims[i] == 0;
    if (!empty && !data)
        return ctx_error(ctx, SIM_EINVAL, "%s: tensor %s: no data", f->path, name);
    if ((s = unlink_existing(ctx, f, name)) != SIM_OK)
        return s;
    hid_t sp = ndim ? H5Screate_simple(ndim, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t d = H5I_INVALID_HID;
    if (sp < 0)
        s = lib_error(ctx, f, "cannot create the dataspace of tensor", name);
    else if ((d = create_dataset(f->id, name, file_type(stored), sp, H5P_DEFAULT)) < 0)
        s = lib_error(ctx, f, "cannot create tensor", name);
    else if (!empty && H5Dwrite(d, mem_type(mem), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        s = lib_error(ctx, f, "cannot write tensor", name);
    if (d >= 0 && H5Dclose(d) < 0 && s == SIM_OK)
        s = lib_error(ctx, f, "cannot close tensor", name);
    if (sp >= 0)
        H5Sclose(sp);
    return s;
}

sim_status h5_write(sim_ctx *ctx, h5_file *f, const char *name, const void *data, h5_dtype mem,
                    h5_dtype stored, int ndim, const int *shape)
{
    sim_status s;
    QUIET(write_impl(ctx, f, name, data, mem, stored, ndim, shape));
    return s;
}

sim_status h5_write_real(sim_ctx *ctx, h5_file *f, const char *name, const real *data,
                         int ndim, const int *shape, h5_dtype stored)
{
    if (!is_float(stored))
        return ctx_error(ctx, SIM_EINVAL, "%s: tensor %s: a real tensor is stored as float32 "
                         "or float64", f->path, name);
    return h5_write(ctx, f, name, data, H5IO_REAL, stored, ndim, shape);
}

sim_status h5_write_int64(sim_ctx *ctx, h5_file *f, const char *name, const int64_t *data,
                          int ndim, const int *shape)
{
    return h5_write(ctx, f, name, data, H5IO_INT64, H5IO_INT64, ndim, shape);
}

static sim_status create_appendable_impl(sim_ctx *ctx, h5_file *f, const char *name,
                                         h5_dtype stored, int row_ndim, const int *row_shape,
                                         int chunk_rows, int deflate)
{
    sim_status s = check_open(ctx, f, 1);
    if (s != SIM_OK)
        return s;
    hsize_t dims[H5IO_MAXDIM], maxdims[H5IO_MAXDIM], chunk[H5IO_MAXDIM];
    if (row_ndim < 0 || row_ndim >= H5IO_MAXDIM)
        return ctx_error(ctx, SIM_EINVAL, "%s: tensor %s: invalid row rank %d (0..%d)", f->path,
                         name, row_ndim, H5IO_MAXDIM - 1);
    if ((s = to_dims(ctx, f, name, row_ndim, row_shape, dims + 1)) != SIM_OK ||
        (s = check_types(ctx, f, name, stored, stored)) != SIM_OK)
        return s;
    if (chunk_rows < 1 || deflate < 0 || deflate > 9)
        return ctx_error(ctx, SIM_EINVAL,
                         "%s: tensor %s: expected chunk_rows >= 1 and deflate 0..9, found %d "
                         "and %d", f->path, name, chunk_rows, deflate);
    int nd = row_ndim + 1;
    size_t chunk_bytes = dtype_size(stored);
    dims[0] = 0;
    maxdims[0] = H5S_UNLIMITED;
    chunk[0] = (hsize_t)chunk_rows;
    if (size_mul(chunk_bytes, (size_t)chunk_rows, &chunk_bytes))
        chunk_bytes = SIZE_MAX;
    for (int i = 1; i < nd; i++) {
        if (dims[i] == 0)
            return ctx_error(ctx, SIM_EINVAL, "%s: tensor %s: zero extent in a row", f->path,
                             name);
        maxdims[i] = chunk[i] = dims[i];
        if (size_mul(chunk_bytes, (size_t)dims[i], &chunk_bytes))
            chunk_bytes = SIZE_MAX;
    }
    if (chunk_bytes >= ((size_t)1 << 32))
        return ctx_error(ctx, SIM_EINVAL,
                         "%s: tensor %s: a chunk of %d rows exceeds HDF5's 4 GiB chunk limit",
                         f->path, name, chunk_rows);
    if ((s = unlink_existing(ctx, f, name)) != SIM_OK)
        return s;
    hid_t sp = H5Screate_simple(nd, dims, maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t d = H5I_INVALID_HID;
    if (sp < 0 || dcpl < 0 || H5Pset_chunk(dcpl, nd, chunk) < 0 ||
        (deflate > 0 && H5Pset_deflate(dcpl, (unsigned)deflate) < 0))
        s = lib_error(ctx, f, "cannot set up appendable tensor", name);
    else if ((d = create_dataset(f->id, name, file_type(stored), sp, dcpl)) < 0)
        s = lib_error(ctx, f, "cannot create appendable tensor", name);
    if (d >= 0 && H5Dclose(d) < 0 && s == SIM_OK)
        s = lib_error(ctx, f, "cannot close tensor", name);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (sp >= 0)
        H5Sclose(sp);
    return s;
}

sim_status h5_create_appendable(sim_ctx *ctx, h5_file *f, const char *name, h5_dtype stored,
                                int row_ndim, const int *row_shape, int chunk_rows, int deflate)
{
    sim_status s;
    QUIET(create_appendable_impl(ctx, f, name, stored, row_ndim, row_shape, chunk_rows,
                                 deflate));
    return s;
}

static sim_status append_impl(sim_ctx *ctx, h5_file *f, const char *name, const void *data,
                              h5_dtype mem, int rows)
{
    sim_status s = check_open(ctx, f, 1);
    if (s != SIM_OK)
        return s;
    if ((unsigned)mem >= H5IO_NDTYPES || rows < 0 || (rows > 0 && !data))
        return ctx_error(ctx, SIM_EINVAL, "%s: tensor %s: invalid append of %d rows", f->path,
                         name, rows);
    hid_t d, t = H5I_INVALID_HID, fsp = H5I_INVALID_HID, msp = H5I_INVALID_HID;
    if ((s = open_dataset(ctx, f, name, &d)) != SIM_OK)
        return s;
    int nd = 0;
    hsize_t dims[H5IO_MAXDIM], maxdims[H5IO_MAXDIM], start[H5IO_MAXDIM], count[H5IO_MAXDIM];
    s = dataset_dims(ctx, f, name, d, &nd, dims, maxdims);
    if (s == SIM_OK && (nd < 1 || maxdims[0] != H5S_UNLIMITED))
        s = ctx_error(ctx, SIM_EFORMAT,
                      "%s: tensor %s: expected an appendable tensor (unlimited first "
                      "dimension), found a fixed one", f->path, name);
    if (s == SIM_OK && (t = H5Dget_type(d)) < 0)
        s = lib_error(ctx, f, "cannot read the type of tensor", name);
    if (s == SIM_OK && (H5Tget_class(t) == H5T_FLOAT) != is_float(mem))
        s = ctx_error(ctx, SIM_EINVAL, "%s: tensor %s: cannot append %s data to a %s tensor",
                      f->path, name, is_float(mem) ? "float" : "integer",
                      class_name(H5Tget_class(t)));
    if (s != SIM_OK || rows == 0)
        goto done;
    for (int i = 0; i < nd; i++) {
        start[i] = 0;
        count[i] = dims[i];
    }
    start[0] = dims[0];
    count[0] = (hsize_t)rows;
    dims[0] += (hsize_t)rows;
    if (H5Dset_extent(d, dims) < 0) {
        s = lib_error(ctx, f, "cannot extend tensor", name);
        goto done;
    }
    if ((fsp = H5Dget_space(d)) < 0 ||
        H5Sselect_hyperslab(fsp, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
        (msp = H5Screate_simple(nd, count, NULL)) < 0) {
        s = lib_error(ctx, f, "cannot select rows of tensor", name);
        goto done;
    }
    if (H5Dwrite(d, mem_type(mem), msp, fsp, H5P_DEFAULT, data) < 0)
        s = lib_error(ctx, f, "cannot append to tensor", name);
done:
    close_id(&msp);
    close_id(&fsp);
    close_id(&t);
    H5Dclose(d);
    return s;
}

sim_status h5_append(sim_ctx *ctx, h5_file *f, const char *name, const void *data, h5_dtype mem,
                     int rows)
{
    sim_status s;
    QUIET(append_impl(ctx, f, name, data, mem, rows));
    return s;
}

sim_status h5_append_real(sim_ctx *ctx, h5_file *f, const char *name, const real *data, int rows)
{
    return h5_append(ctx, f, name, data, H5IO_REAL, rows);
}

/* ---- attributes ---- */

static const char *obj_name(const char *obj)
{
    return obj && *obj ? obj : "/";
}

/* Open the object an attribute lives on. */
static sim_status open_object(sim_ctx *ctx, const h5_file *f, const char *obj, const char *attr,
                              int need_write, hid_t *out)
{
    *out = H5I_INVALID_HID;
    sim_status s = check_open(ctx, f, need_write);
    if (s != SIM_OK)
        return s;
    obj = obj_name(obj);
    if (!path_exists(f->id, obj))
        return ctx_error(ctx, SIM_ENOTFOUND, "%s: object %s missing (for attribute %s)",
                         f->path, obj, attr);
    if ((*out = H5Oopen(f->id, obj, H5P_DEFAULT)) < 0)
        return lib_error(ctx, f, "cannot open", obj);
    return SIM_OK;
}

/* Create (replacing) attribute `name` of file type ftype holding buf
 * (memory type mtype) on obj. */
static sim_status set_attr_impl(sim_ctx *ctx, h5_file *f, const char *obj, const char *name,
                                hid_t ftype, hid_t mtype, const void *buf)
{
    hid_t o, sp = H5I_INVALID_HID, a = H5I_INVALID_HID;
    sim_status s = open_object(ctx, f, obj, name, 1, &o);
    if (s != SIM_OK)
        return s;
    htri_t ex = H5Aexists(o, name);
    if (ex < 0 || (ex > 0 && H5Adelete(o, name) < 0))
        s = lib_error(ctx, f, "cannot replace attribute", name);
    else if ((sp = H5Screate(H5S_SCALAR)) < 0 ||
             (a = H5Acreate2(o, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        s = lib_error(ctx, f, "cannot create attribute", name);
    else if (H5Awrite(a, mtype, buf) < 0)
        s = lib_error(ctx, f, "cannot write attribute", name);
    if (a >= 0 && H5Aclose(a) < 0 && s == SIM_OK)
        s = lib_error(ctx, f, "cannot close attribute", name);
    close_id(&sp);
    H5Oclose(o);
    return s;
}

hid_t h5_vlen_str_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0)
        return t;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

static sim_status set_attr_str_impl(sim_ctx *ctx, h5_file *f, const char *obj, const char *name,
                                    const char *value)
{
    if (!value)
        return ctx_error(ctx, SIM_EINVAL, "%s: attribute %s: no value", f->path, name);
    hid_t t = h5_vlen_str_type();
    if (t < 0)
        return lib_error(ctx, f, "cannot create string type for attribute", name);
    sim_status s = set_attr_impl(ctx, f, obj, name, t, t, &value);
    H5Tclose(t);
    return s;
}

sim_status h5_set_attr_str(sim_ctx *ctx, h5_file *f, const char *obj, const char *name,
                           const char *value)
{
    sim_status s;
    QUIET(set_attr_str_impl(ctx, f, obj, name, value));
    return s;
}

sim_status h5_set_attr_int(sim_ctx *ctx, h5_file *f, const char *obj, const char *name,
                           int64_t value)
{
    sim_status s;
    QUIET(set_attr_impl(ctx, f, obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value));
    return s;
}

sim_status h5_set_attr_double(sim_ctx *ctx, h5_file *f, const char *obj, const char *name,
                              double value)
{
    sim_status s;
    QUIET(set_attr_impl(ctx, f, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value));
    return s;
}

/* Open attribute `name` on obj, checking it exists, holds one element and is
 * of class `want` (or also integer when want_alt is H5T_INTEGER). */
static sim_status open_attr(sim_ctx *ctx, const h5_file *f, const char *obj, const char *name,
                            H5T_class_t want, H5T_class_t want_alt, const char *expected,
                            hid_t *o, hid_t *a, hid_t *t)
{
    *a = *t = H5I_INVALID_HID;
    sim_status s = open_object(ctx, f, obj, name, 0, o);
    if (s != SIM_OK)
        return s;
    htri_t ex = H5Aexists(*o, name);
    if (ex < 0)
        return lib_error(ctx, f, "cannot look up attribute", name);
    if (ex == 0)
        return ctx_error(ctx, SIM_ENOTFOUND, "%s: attribute %s missing on %s", f->path, name,
                         obj_name(obj));
    if ((*a = H5Aopen(*o, name, H5P_DEFAULT)) < 0 || (*t = H5Aget_type(*a)) < 0)
        return lib_error(ctx, f, "cannot open attribute", name);
    H5T_class_t c = H5Tget_class(*t);
    if (c != want && c != want_alt)
        return ctx_error(ctx, SIM_EFORMAT, "%s: attribute %s on %s: expected %s, found %s",
                         f->path, name, obj_name(obj), expected, class_name(c));
    hid_t sp = H5Aget_space(*a);
    if (sp < 0)
        return lib_error(ctx, f, "cannot read the shape of attribute", name);
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    if (np != 1)
        return ctx_error(ctx, SIM_EFORMAT,
                         "%s: attribute %s on %s: expected one value, found %lld", f->path, name,
                         obj_name(obj), (long long)np);
    return SIM_OK;
}

static sim_status get_attr_str_impl(sim_ctx *ctx, const h5_file *f, const char *obj,
                                    const char *name, char **out)
{
    *out = NULL;
    hid_t o = H5I_INVALID_HID, a, t, mt = H5I_INVALID_HID;
    sim_status s = open_attr(ctx, f, obj, name, H5T_STRING, H5T_STRING, "a string", &o, &a, &t);
    if (s != SIM_OK)
        goto done;
    htri_t var = H5Tis_variable_str(t);
    if (var < 0 || (mt = H5Tcopy(H5T_C_S1)) < 0) {
        s = lib_error(ctx, f, "cannot read the type of attribute", name);
        goto done;
    }
    if (var) {
        char *v = NULL;
        if (H5Tset_size(mt, H5T_VARIABLE) < 0 || H5Tset_cset(mt, H5Tget_cset(t)) < 0 ||
            H5Aread(a, mt, &v) < 0) {
            s = lib_error(ctx, f, "cannot read attribute", name);
            goto done;
        }
        size_t n = v ? strnlen(v, H5IO_MAX_STR + 1) : 0;
        if (n > H5IO_MAX_STR) {
            H5free_memory(v);
            s = ctx_error(ctx, SIM_EFORMAT, "%s: attribute %s on %s: longer than %zu bytes",
                          f->path, name, obj_name(obj), H5IO_MAX_STR);
            goto done;
        }
        *out = mem_alloc(ctx, MEM_SCRATCH, n + 1);
        if (*out)
            memcpy(*out, v ? v : "", n + 1);
        else
            s = SIM_ENOMEM;
        if (v)
            H5free_memory(v);
    } else {
        size_t n = H5Tget_size(t);
        if (n == 0 || n == SIZE_MAX) {
            s = lib_error(ctx, f, "cannot read the size of attribute", name);
            goto done;
        }
        if (n > H5IO_MAX_STR) {
            s = ctx_error(ctx, SIM_EFORMAT, "%s: attribute %s on %s: %zu bytes, expected at most "
                          "%zu", f->path, name, obj_name(obj), n, H5IO_MAX_STR);
            goto done;
        }
        /* convert to a NUL-terminated string one byte longer */
        if (H5Tset_size(mt, n + 1) < 0 || H5Tset_strpad(mt, H5T_STR_NULLTERM) < 0 ||
            H5Tset_cset(mt, H5Tget_cset(t)) < 0) {
            s = lib_error(ctx, f, "cannot read attribute", name);
            goto done;
        }
        *out = mem_alloc(ctx, MEM_SCRATCH, n + 1);
        if (!*out)
            s = SIM_ENOMEM;
        else if (H5Aread(a, mt, *out) < 0)
            s = lib_error(ctx, f, "cannot read attribute", name);
        else
            (*out)[n] = '\0';
    }
done:
    if (s != SIM_OK && *out) {
        mem_free(ctx, *out);
        *out = NULL;
    }
    close_id(&mt);
    close_id(&t);
    close_id(&a);
    close_id(&o);
    return s;
}

sim_status h5_get_attr_str(sim_ctx *ctx, const h5_file *f, const char *obj, const char *name,
                           char **out)
{
    sim_status s;
    QUIET(get_attr_str_impl(ctx, f, obj, name, out));
    return s;
}

static sim_status get_attr_num_impl(sim_ctx *ctx, const h5_file *f, const char *obj,
                                    const char *name, int want_float, void *out)
{
    hid_t o = H5I_INVALID_HID, a, t;
    sim_status s = want_float ? open_attr(ctx, f, obj, name, H5T_FLOAT, H5T_INTEGER, "a number",
                                          &o, &a, &t)
                              : open_attr(ctx, f, obj, name, H5T_INTEGER, H5T_INTEGER,
                                          "an integer", &o, &a, &t);
    if (s == SIM_OK &&
        H5Aread(a, want_float ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64, out) < 0)
        s = lib_error(ctx, f, "cannot read attribute", name);
    close_id(&t);
    close_id(&a);
    close_id(&o);
    return s;
}

sim_status h5_get_attr_int(sim_ctx *ctx, const h5_file *f, const char *obj, const char *name,
                           int64_t *out)
{
    sim_status s;
    QUIET(get_attr_num_impl(ctx, f, obj, name, 0, out));
    return s;
}

sim_status h5_get_attr_double(sim_ctx *ctx, const h5_file *f, const char *obj,
                              const char *name, double *out)
{
    sim_status s;
    QUIET(get_attr_num_impl(ctx, f, obj, name, 1, out));
    return s;
}
