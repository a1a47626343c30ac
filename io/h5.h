/* h5.h - small checked helpers over the HDF5 C API.
 *
 * Every helper turns off HDF5's automatic error-stack printing while it runs
 * and reports failures as one line in the context (ctx_error), naming the
 * file, the object, what was expected and what was found:
 *
 *     ckpt.h5: tensor params/stem/conv1/weight missing
 *     ckpt.h5: tensor params/stem/conv1/weight: expected shape (8, 1, 3, 3), found (8, 3, 3)
 *
 * Tensors are read into `real` buffers whatever their stored float width
 * (float32 or float64; HDF5 converts), and written as float32 or float64 as
 * the caller chooses. Object paths may start with '/' or not; writers create
 * intermediate groups. Appendable datasets are chunked and unlimited in their
 * first dimension, for traces streamed while a simulation runs.
 *
 * Files meant to appear complete or not at all (checkpoints) are written with
 * h5_create_atomic: a temporary FINAL.tmp.<pid> in the same directory, closed,
 * fsync'ed and renamed onto FINAL by h5_commit_atomic. Small files
 * (checkpoints) use h5_create_atomic_mem: the HDF5 file is built in memory
 * and written by us at commit, so a full disk is one clear error, never a
 * failure inside libhdf5 (whose file, after a failed flush, crashes
 * H5_term_library at exit in 1.10.8).
 *
 * No hid_t escapes these helpers except h5_file.id; every error path closes
 * what it opened. */
#ifndef IO_H5_H
#define IO_H5_H

#include <hdf5.h>
#include <stdint.h>

#include "sim/ctx.h"
#include "sim/real.h"

#define H5IO_MAXDIM 8 /* most dimensions h5_shape reports */
#define H5IO_PATHMAX 4096
/* Longest string attribute h5_get_attr_str returns (resource bound: a file
 * claiming a longer one is rejected before we allocate for it). */
#define H5IO_MAX_STR ((size_t)1 << 20)

/* How numbers are stored in (or held in memory for) a dataset. */
typedef enum {
    H5IO_FLOAT32 = 0,
    H5IO_FLOAT64,
    H5IO_INT32,
    H5IO_INT64,
    H5IO_UINT8,
    H5IO_NDTYPES
} h5_dtype;

/* The h5_dtype of `real` in this build. */
#define H5IO_REAL (REAL_IS_DOUBLE ? H5IO_FLOAT64 : H5IO_FLOAT32)

typedef struct {
    hid_t id;                   /* HDF5 file id; H5I_INVALID_HID when closed */
    int writable;               /* opened for writing */
    char path[H5IO_PATHMAX];    /* the name used in messages (the final path) */
    char tmp[H5IO_PATHMAX];     /* atomic writes: the temporary file, else "" */
    int in_memory;              /* h5_create_atomic_mem: built in memory until commit */
} h5_file;

/* ---- HDF5's own error reporting ---- */

/* Turn HDF5's automatic error-stack printing off, remembering the caller's
 * handler; h5_quiet_off clears the stack and restores the handler. */
typedef struct {
    H5E_auto2_t fn;
    void *data;
} h5_quiet;
void h5_quiet_on(h5_quiet *q);
void h5_quiet_off(const h5_quiet *q);
/* The innermost message of the current HDF5 error stack into buf
 * ("unknown HDF5 error" when the stack is empty); returns buf. */
const char *h5_error_detail(char *buf, size_t len);

/* A new variable-length UTF-8 string type (what h5py reads as str); the
 * caller closes it. H5I_INVALID_HID on failure. */
hid_t h5_vlen_str_type(void);

/* ---- files ---- */

/* Open an existing file read-only. SIM_EIO when it cannot be opened (missing,
 * unreadable), SIM_EFORMAT when it is not HDF5. */
sim_status h5_open_read(sim_ctx *ctx, h5_file *f, const char *path);
/* Open an existing file for reading and writing (e.g. to append to traces). */
sim_status h5_open_rw(sim_ctx *ctx, h5_file *f, const char *path);
/* Create (truncate) a file in place. */
sim_status h5_create(sim_ctx *ctx, h5_file *f, const char *path);
/* Close a file opened by h5_open_* or h5_create (all its objects too).
 * Closing a closed file is a no-op. An atomic write ends with
 * h5_commit_atomic or h5_abort_atomic instead. */
sim_status h5_close(sim_ctx *ctx, h5_file *f);

/* Start an atomic write of final_path: creates final_path.tmp.<pid> in the
 * same directory and opens it in w. Fails here, with the reason, when the
 * directory is missing or not writable. */
sim_status h5_create_atomic(sim_ctx *ctx, const char *final_path, h5_file *w);
/* The same, with the HDF5 file held in memory (core driver) until
 * h5_commit_atomic writes it to the temporary with plain write(2)s: for
 * files that fit in memory twice (the image is copied once at commit). */
sim_status h5_create_atomic_mem(sim_ctx *ctx, const char *final_path, h5_file *w);
/* Close w, fsync the temporary, rename it onto the final path and fsync the
 * directory. On failure the temporary is removed and the final path is left
 * as it was. */
sim_status h5_commit_atomic(sim_ctx *ctx, h5_file *w);
/* Close w and remove the temporary; the final path is untouched. */
void h5_abort_atomic(sim_ctx *ctx, h5_file *w);
/* Remove final_path.tmp.<pid> files whose process no longer exists (left by
 * a writer that was killed). Returns how many were removed (-1 when the
 * directory cannot be read). */
int h5_remove_stale_tmp(const char *final_path);

/* ---- datasets ---- */

/* 1 if an object (group or dataset) exists at path, else 0. */
int h5_exists(const h5_file *f, const char *path);
/* Shape of the dataset at name: *ndim (0 for a scalar) and shape[0..ndim).
 * SIM_ENOTFOUND when missing; SIM_EFORMAT for more than H5IO_MAXDIM
 * dimensions or extents beyond INT_MAX. dtype (may be NULL) receives the
 * stored type, mapped to the nearest h5_dtype. */
sim_status h5_shape(sim_ctx *ctx, const h5_file *f, const char *name, int *ndim,
                    int shape[H5IO_MAXDIM], h5_dtype *dtype);

/* Read a float dataset of exactly the given shape (ndim 0: scalar) into out
 * (prod(shape) elements), converting float32/float64 to real. */
sim_status h5_read_real(sim_ctx *ctx, const h5_file *f, const char *name, real *out, int ndim,
                        const int *shape);
/* The same for integer datasets (any stored integer width). */
sim_status h5_read_int64(sim_ctx *ctx, const h5_file *f, const char *name, int64_t *out,
                         int ndim, const int *shape);
sim_status h5_read_int32(sim_ctx *ctx, const h5_file *f, const char *name, int32_t *out,
                         int ndim, const int *shape);

/* Write a dataset (ndim 0: scalar) from memory of type `mem` (which must be
 * of the same kind, float or integer, as `stored`), creating intermediate
 * groups and replacing an existing dataset of that name. */
sim_status h5_write(sim_ctx *ctx, h5_file *f, const char *name, const void *data, h5_dtype mem,
                    h5_dtype stored, int ndim, const int *shape);
/* Write a real buffer stored as H5IO_FLOAT32 or H5IO_FLOAT64. */
sim_status h5_write_real(sim_ctx *ctx, h5_file *f, const char *name, const real *data,
                         int ndim, const int *shape, h5_dtype stored);
sim_status h5_write_int64(sim_ctx *ctx, h5_file *f, const char *name, const int64_t *data,
                          int ndim, const int *shape);

/* Create an empty appendable dataset of shape (0, row_shape...), unlimited in
 * the first dimension, chunked by chunk_rows rows and, when deflate is 1..9,
 * compressed. row_ndim may be 0 (a 1-D dataset of scalars). */
sim_status h5_create_appendable(sim_ctx *ctx, h5_file *f, const char *name, h5_dtype stored,
                                int row_ndim, const int *row_shape, int chunk_rows,
                                int deflate);
/* Append `rows` rows (rows * prod(row_shape) elements of type mem) to an
 * appendable dataset: extends it and writes the new hyperslab. */
sim_status h5_append(sim_ctx *ctx, h5_file *f, const char *name, const void *data, h5_dtype mem,
                     int rows);
sim_status h5_append_real(sim_ctx *ctx, h5_file *f, const char *name, const real *data,
                          int rows);

/* ---- attributes on the root ("/") or any object path ---- */

/* A UTF-8 variable-length string (what h5py writes and reads as str);
 * replaces an existing attribute of that name. */
sim_status h5_set_attr_str(sim_ctx *ctx, h5_file *f, const char *obj, const char *name,
                           const char *value);
sim_status h5_set_attr_int(sim_ctx *ctx, h5_file *f, const char *obj, const char *name,
                           int64_t value);
sim_status h5_set_attr_double(sim_ctx *ctx, h5_file *f, const char *obj, const char *name,
                              double value);
/* Read a string attribute (variable- or fixed-length). *out is allocated
 * with mem_alloc (role MEM_SCRATCH), NUL-terminated; free with mem_free. */
sim_status h5_get_attr_str(sim_ctx *ctx, const h5_file *f, const char *obj, const char *name,
                           char **out);
/* Read a scalar (or one-element) integer / float attribute. */
sim_status h5_get_attr_int(sim_ctx *ctx, const h5_file *f, const char *obj, const char *name,
                           int64_t *out);
sim_status h5_get_attr_double(sim_ctx *ctx, const h5_file *f, const char *obj,
                              const char *name, double *out);

#endif
