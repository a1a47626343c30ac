/* trace.c - the spike-trace writer: a SONATA spike layout plus per-image
 * samples, per-projection energy counters and run metadata (see trace.h).
 *
 * Files are created, committed and aborted through io/h5.h's atomic
 * writes, and scalar attributes go through its checked setters. What
 * io/h5.h has no helper for (uint64 and compound rows, the SONATA enum,
 * datasets kept open while streaming) is done here on the file id, with
 * the same conventions: HDF5's automatic error printing is off for the
 * duration of each public call, and a failure becomes one ctx_error line
 * naming the file, the object and the innermost HDF5 message.
 *
 * Buffers are fixed: one per population (allocated at its first spike) and
 * one each for energy and sample rows. A full buffer is appended at once. */
#include "trace.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "io/h5.h"

#define DISK_CHUNK_SPIKES 8192 /* spikes per on-disk chunk (64 KiB of float64) */
#define DISK_CHUNK_ROWS 1024   /* energy and sample rows per on-disk chunk */
#define NAME_MAX_LEN 1024      /* longest population name */

_Static_assert(TRACE_CHUNK_SPIKES % DISK_CHUNK_SPIKES == 0, "whole chunks per spike append");
_Static_assert(TRACE_CHUNK_ROWS % DISK_CHUNK_ROWS == 0, "whole chunks per row append");

/* One row of /energy/counters in memory. */
typedef struct {
    int64_t sample, timestep;
    int32_t projection;
    uint64_t events, acs, macs;
    double sop;
} energy_row;

typedef struct {
    const char *name;   /* inside the trace's block */
    int32_t size;       /* neurons */
    hid_t ts, ids;      /* timestamps and node_ids datasets */
    hsize_t len;        /* spikes in the file */
    double *tbuf;       /* (TRACE_CHUNK_SPIKES) timestamps, NULL until the first spike */
    uint64_t *ibuf;     /* (TRACE_CHUNK_SPIKES) node ids */
    int32_t nbuf;       /* buffered spikes */
    int64_t last_t;     /* last timestep given, -1 before the first */
    int32_t last_id;    /* last node id written at last_t, -1 none */
    uint64_t count;     /* spikes accepted */
} trace_pop;

struct trace {
    h5_file f;
    double dt_ms;
    int T;
    int npop, nproj;
    trace_pop *pops;             /* (npop), inside this block */
    hid_t samples, energy;       /* datasets */
    hid_t sample_mt, energy_mt;  /* memory compound types */
    hsize_t samples_len, energy_len;
    trace_sample_row *sbuf;      /* (TRACE_CHUNK_ROWS), NULL until the first row */
    energy_row *ebuf;            /* (TRACE_CHUNK_ROWS) */
    int nsbuf, nebuf;
    int64_t nsamples;            /* rows accepted */
    sim_status failed;           /* first I/O failure, sticky */
    char failmsg[256];           /* its message */
};

/* ---- HDF5 error printing and messages ---- */

/* A library failure: "FILE: trace: WHAT OBJ: HDF5: detail". Marks the
 * trace failed (every later call fails, close deletes the temporary). */
static sim_status lib_error(sim_ctx *ctx, trace *tr, const char *what, const char *obj)
{
    char det[200];
    h5_error_detail(det, sizeof det);
    sim_status s = ctx_error(ctx, SIM_ELIB, "%s: trace: %s %s: HDF5: %s", tr->f.path, what, obj,
                             det);
    if (tr->failed == SIM_OK) {
        tr->failed = s;
        snprintf(tr->failmsg, sizeof tr->failmsg, "%s", ctx_errmsg(ctx));
    }
    return s;
}

/* Record a failure reported by an io/h5.h helper (message already set). */
static sim_status mark_failed(sim_ctx *ctx, trace *tr, sim_status s)
{
    if (s != SIM_OK && tr->failed == SIM_OK) {
        tr->failed = s;
        snprintf(tr->failmsg, sizeof tr->failmsg, "%s", ctx_errmsg(ctx));
    }
    return s;
}

static sim_status check_usable(sim_ctx *ctx, const trace *tr)
{
    if (tr->failed != SIM_OK)
        return ctx_error(ctx, tr->failed, "%s: trace unusable after an earlier error (%s)",
                         tr->f.path, tr->failmsg);
    return SIM_OK;
}

static void close_hid(hid_t *id, herr_t (*fn)(hid_t))
{
    if (*id >= 0)
        fn(*id);
    *id = H5I_INVALID_HID;
}

/* ---- types ---- */

typedef struct {
    const char *name;
    size_t mem_off;
    hid_t mem_type, file_type;
} field;

/* A compound memory type of size msize and its packed little-endian file
 * counterpart with the same member names. */
static int make_compound(const field *fl, int n, size_t msize, hid_t *mt, hid_t *ft)
{
    size_t fsize = 0;
    for (int i = 0; i < n; i++)
        fsize += H5Tget_size(fl[i].file_type);
    *mt = H5Tcreate(H5T_COMPOUND, msize);
    *ft = H5Tcreate(H5T_COMPOUND, fsize);
    if (*mt < 0 || *ft < 0)
        return -1;
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        if (H5Tinsert(*mt, fl[i].name, fl[i].mem_off, fl[i].mem_type) < 0 ||
            H5Tinsert(*ft, fl[i].name, off, fl[i].file_type) < 0)
            return -1;
        off += H5Tget_size(fl[i].file_type);
    }
    return 0;
}

static int sample_types(hid_t *mt, hid_t *ft)
{
    const field fl[] = {
        {"index", offsetof(trace_sample_row, index), H5T_NATIVE_INT64, H5T_STD_I64LE},
        {"first_timestep", offsetof(trace_sample_row, first_timestep), H5T_NATIVE_INT64,
         H5T_STD_I64LE},
        {"label", offsetof(trace_sample_row, label), H5T_NATIVE_INT32, H5T_STD_I32LE},
        {"prediction", offsetof(trace_sample_row, prediction), H5T_NATIVE_INT32, H5T_STD_I32LE},
        {"spikes", offsetof(trace_sample_row, spikes), H5T_NATIVE_UINT64, H5T_STD_U64LE},
        {"energy_pj", offsetof(trace_sample_row, energy_pj), H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE},
        {"energy_lit_pj", offsetof(trace_sample_row, energy_lit_pj), H5T_NATIVE_DOUBLE,
         H5T_IEEE_F64LE},
    };
    return make_compound(fl, (int)(sizeof fl / sizeof fl[0]), sizeof(trace_sample_row), mt, ft);
}

static int energy_types(hid_t *mt, hid_t *ft)
{
    const field fl[] = {
        {"sample", offsetof(energy_row, sample), H5T_NATIVE_INT64, H5T_STD_I64LE},
        {"timestep", offsetof(energy_row, timestep), H5T_NATIVE_INT64, H5T_STD_I64LE},
        {"projection", offsetof(energy_row, projection), H5T_NATIVE_INT32, H5T_STD_I32LE},
        {"events", offsetof(energy_row, events), H5T_NATIVE_UINT64, H5T_STD_U64LE},
        {"acs", offsetof(energy_row, acs), H5T_NATIVE_UINT64, H5T_STD_U64LE},
        {"macs", offsetof(energy_row, macs), H5T_NATIVE_UINT64, H5T_STD_U64LE},
        {"sop", offsetof(energy_row, sop), H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE},
    };
    return make_compound(fl, (int)(sizeof fl / sizeof fl[0]), sizeof(energy_row), mt, ft);
}

/* SONATA's sorting enum over uint8 (as libsonata writes it). */
static hid_t sorting_type(void)
{
    hid_t t = H5Tenum_create(H5T_STD_U8LE);
    if (t < 0)
        return t;
    static const char *const names[3] = {"none", "by_id", "by_time"};
    for (uint8_t v = 0; v < 3; v++)
        if (H5Tenum_insert(t, names[v], &v) < 0) {
            H5Tclose(t);
            return H5I_INVALID_HID;
        }
    return t;
}

/* ---- layout ---- */

static sim_status make_group(sim_ctx *ctx, trace *tr, const char *name)
{
    hid_t g = H5Gcreate2(tr->f.id, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return lib_error(ctx, tr, "cannot create group", name);
    if (H5Gclose(g) < 0)
        return lib_error(ctx, tr, "cannot close group", name);
    return SIM_OK;
}

/* The sorting attribute (scalar enum) on obj. */
static sim_status set_sorting(sim_ctx *ctx, trace *tr, const char *obj, trace_sorting v)
{
    hid_t o = H5I_INVALID_HID, t = H5I_INVALID_HID, sp = H5I_INVALID_HID, a = H5I_INVALID_HID;
    sim_status s = SIM_OK;
    uint8_t val = (uint8_t)v;
    if ((o = H5Oopen(tr->f.id, obj, H5P_DEFAULT)) < 0 || (t = sorting_type()) < 0 ||
        (sp = H5Screate(H5S_SCALAR)) < 0 ||
        (a = H5Acreate2(o, "sorting", t, sp, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        H5Awrite(a, t, &val) < 0)
        s = lib_error(ctx, tr, "cannot write attribute sorting on", obj);
    if (a >= 0 && H5Aclose(a) < 0 && s == SIM_OK)
        s = lib_error(ctx, tr, "cannot close attribute sorting on", obj);
    close_hid(&sp, H5Sclose);
    close_hid(&t, H5Tclose);
    close_hid(&o, H5Oclose);
    return s;
}

/* An empty 1-D dataset of file type ftype, unlimited, chunked by chunk rows,
 * without a chunk cache; left open in *out. */
static sim_status make_appendable(sim_ctx *ctx, trace *tr, const char *name, hid_t ftype,
                                  hsize_t chunk, hid_t *out)
{
    hsize_t dims = 0, maxdims = H5S_UNLIMITED;
    hid_t sp = H5Screate_simple(1, &dims, &maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    sim_status s = SIM_OK;
    if (sp < 0 || dcpl < 0 || dapl < 0 || H5Pset_chunk(dcpl, 1, &chunk) < 0 ||
        H5Pset_chunk_cache(dapl, H5D_CHUNK_CACHE_NSLOTS_DEFAULT, 0,
                           H5D_CHUNK_CACHE_W0_DEFAULT) < 0)
        s = lib_error(ctx, tr, "cannot set up dataset", name);
    else if ((*out = H5Dcreate2(tr->f.id, name, ftype, sp, H5P_DEFAULT, dcpl, dapl)) < 0)
        s = lib_error(ctx, tr, "cannot create dataset", name);
    close_hid(&dapl, H5Pclose);
    close_hid(&dcpl, H5Pclose);
    close_hid(&sp, H5Sclose);
    return s;
}

/* /energy/projections: the names as variable-length strings. */
static sim_status write_names(sim_ctx *ctx, trace *tr, const char *name,
                              const char *const *names, int n)
{
    hsize_t dims = (hsize_t)n;
    hid_t t = h5_vlen_str_type();
    hid_t sp = H5Screate_simple(1, &dims, NULL);
    hid_t d = H5I_INVALID_HID;
    sim_status s = SIM_OK;
    if (t < 0 || sp < 0 || (d = H5Dcreate2(tr->f.id, name, t, sp, H5P_DEFAULT, H5P_DEFAULT,
                                           H5P_DEFAULT)) < 0)
        s = lib_error(ctx, tr, "cannot create dataset", name);
    else if (n > 0 && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, names) < 0)
        s = lib_error(ctx, tr, "cannot write dataset", name);
    if (d >= 0 && H5Dclose(d) < 0 && s == SIM_OK)
        s = lib_error(ctx, tr, "cannot close dataset", name);
    close_hid(&sp, H5Sclose);
    close_hid(&t, H5Tclose);
    return s;
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

static sim_status build_layout(sim_ctx *ctx, trace *tr, const trace_meta *meta,
                               const char *const *proj_names)
{
    sim_status s;
    h5_file *f = &tr->f;
    char path[2 * NAME_MAX_LEN];
    /* root and /meta */
    if ((s = h5_set_attr_str(ctx, f, "/", "format", TRACE_FORMAT)) != SIM_OK ||
        (s = h5_set_attr_int(ctx, f, "/", "version", TRACE_VERSION)) != SIM_OK ||
        (s = make_group(ctx, tr, "/meta")) != SIM_OK ||
        (s = h5_set_attr_str(ctx, f, "/meta", "preset", str_or_empty(meta->preset))) != SIM_OK ||
        (s = h5_set_attr_str(ctx, f, "/meta", "checkpoint", str_or_empty(meta->checkpoint))) !=
            SIM_OK ||
        (s = h5_set_attr_str(ctx, f, "/meta", "checksum", str_or_empty(meta->checksum))) !=
            SIM_OK ||
        (s = h5_set_attr_str(ctx, f, "/meta", "version", str_or_empty(meta->version))) !=
            SIM_OK ||
        (s = h5_set_attr_str(ctx, f, "/meta", "command_line",
                             str_or_empty(meta->command_line))) != SIM_OK ||
        (s = h5_set_attr_double(ctx, f, "/meta", "dt_ms", tr->dt_ms)) != SIM_OK ||
        (s = h5_set_attr_int(ctx, f, "/meta", "T", tr->T)) != SIM_OK)
        return mark_failed(ctx, tr, s);
    /* /spikes */
    if ((s = make_group(ctx, tr, "/spikes")) != SIM_OK ||
        (s = set_sorting(ctx, tr, "/spikes", TRACE_SORT_BY_TIME)) != SIM_OK)
        return s;
    for (int p = 0; p < tr->npop; p++) {
        trace_pop *pp = &tr->pops[p];
        snprintf(path, sizeof path, "/spikes/%s", pp->name);
        if ((s = make_group(ctx, tr, path)) != SIM_OK ||
            (s = set_sorting(ctx, tr, path, TRACE_SORT_BY_TIME)) != SIM_OK)
            return s;
        if ((s = h5_set_attr_int(ctx, f, path, "n_nodes", pp->size)) != SIM_OK)
            return mark_failed(ctx, tr, s);
        snprintf(path, sizeof path, "/spikes/%s/timestamps", pp->name);
        if ((s = make_appendable(ctx, tr, path, H5T_IEEE_F64LE, DISK_CHUNK_SPIKES, &pp->ts)) !=
            SIM_OK)
            return s;
        if ((s = h5_set_attr_str(ctx, f, path, "units", "ms")) != SIM_OK)
            return mark_failed(ctx, tr, s);
        snprintf(path, sizeof path, "/spikes/%s/node_ids", pp->name);
        if ((s = make_appendable(ctx, tr, path, H5T_STD_U64LE, DISK_CHUNK_SPIKES, &pp->ids)) !=
            SIM_OK)
            return s;
    }
    /* /samples and /energy */
    hid_t sft = H5I_INVALID_HID, eft = H5I_INVALID_HID;
    if (sample_types(&tr->sample_mt, &sft) < 0 || energy_types(&tr->energy_mt, &eft) < 0)
        s = lib_error(ctx, tr, "cannot build the row types of", "/samples and /energy");
    if (s == SIM_OK)
        s = make_appendable(ctx, tr, "/samples", sft, DISK_CHUNK_ROWS, &tr->samples);
    if (s == SIM_OK)
        s = make_group(ctx, tr, "/energy");
    if (s == SIM_OK)
        s = make_appendable(ctx, tr, "/energy/counters", eft, DISK_CHUNK_ROWS, &tr->energy);
    close_hid(&sft, H5Tclose);
    close_hid(&eft, H5Tclose);
    if (s != SIM_OK || (s = write_names(ctx, tr, "/energy/projections", proj_names,
                                        tr->nproj)) != SIM_OK)
        return s;
    if ((s = h5_set_attr_double(ctx, f, "/energy", "e_mac_pj", meta->e_mac_pj)) != SIM_OK ||
        (s = h5_set_attr_double(ctx, f, "/energy", "e_ac_pj", meta->e_ac_pj)) != SIM_OK ||
        (s = h5_set_attr_str(ctx, f, "/energy", "units", "pJ")) != SIM_OK)
        return mark_failed(ctx, tr, s);
    return SIM_OK;
}

/* ---- appending ---- */

/* Append n rows of memory type mt from buf to the 1-D dataset d whose
 * length is *len. */
static sim_status append_rows(sim_ctx *ctx, trace *tr, hid_t d, const char *what, hsize_t *len,
                              hid_t mt, const void *buf, hsize_t n)
{
    if (n == 0)
        return SIM_OK;
    hsize_t start = *len, newlen = *len + n;
    hid_t fsp = H5I_INVALID_HID, msp = H5I_INVALID_HID;
    sim_status s = SIM_OK;
    if (H5Dset_extent(d, &newlen) < 0)
        s = lib_error(ctx, tr, "cannot extend", what);
    else if ((fsp = H5Dget_space(d)) < 0 ||
             H5Sselect_hyperslab(fsp, H5S_SELECT_SET, &start, NULL, &n, NULL) < 0 ||
             (msp = H5Screate_simple(1, &n, NULL)) < 0)
        s = lib_error(ctx, tr, "cannot select rows of", what);
    else if (H5Dwrite(d, mt, msp, fsp, H5P_DEFAULT, buf) < 0)
        s = lib_error(ctx, tr, "cannot append to", what);
    else
        *len = newlen;
    close_hid(&msp, H5Sclose);
    close_hid(&fsp, H5Sclose);
    return s;
}

static sim_status flush_pop(sim_ctx *ctx, trace *tr, trace_pop *p)
{
    if (p->nbuf == 0)
        return SIM_OK;
    char what[NAME_MAX_LEN + 64];
    hsize_t len_ids = p->len;
    snprintf(what, sizeof what, "/spikes/%s/timestamps", p->name);
    sim_status s = append_rows(ctx, tr, p->ts, what, &p->len, H5T_NATIVE_DOUBLE, p->tbuf,
                               (hsize_t)p->nbuf);
    if (s == SIM_OK) {
        snprintf(what, sizeof what, "/spikes/%s/node_ids", p->name);
        s = append_rows(ctx, tr, p->ids, what, &len_ids, H5T_NATIVE_UINT64, p->ibuf,
                        (hsize_t)p->nbuf);
    }
    if (s == SIM_OK)
        p->nbuf = 0;
    return s;
}

static sim_status flush_samples(sim_ctx *ctx, trace *tr)
{
    sim_status s = append_rows(ctx, tr, tr->samples, "/samples", &tr->samples_len,
                               tr->sample_mt, tr->sbuf, (hsize_t)tr->nsbuf);
    if (s == SIM_OK)
        tr->nsbuf = 0;
    return s;
}

static sim_status flush_energy(sim_ctx *ctx, trace *tr)
{
    sim_status s = append_rows(ctx, tr, tr->energy, "/energy/counters", &tr->energy_len,
                               tr->energy_mt, tr->ebuf, (hsize_t)tr->nebuf);
    if (s == SIM_OK)
        tr->nebuf = 0;
    return s;
}

static sim_status flush_all(sim_ctx *ctx, trace *tr)
{
    sim_status s = SIM_OK;
    for (int p = 0; p < tr->npop && s == SIM_OK; p++)
        s = flush_pop(ctx, tr, &tr->pops[p]);
    if (s == SIM_OK)
        s = flush_samples(ctx, tr);
    if (s == SIM_OK)
        s = flush_energy(ctx, tr);
    return s;
}

/* ---- create, close, abort ---- */

/* Close every dataset and type; 0 if all closed cleanly. */
static int close_objects(trace *tr)
{
    int bad = 0;
    for (int p = 0; p < tr->npop; p++) {
        if (tr->pops[p].ts >= 0)
            bad |= H5Dclose(tr->pops[p].ts) < 0;
        if (tr->pops[p].ids >= 0)
            bad |= H5Dclose(tr->pops[p].ids) < 0;
        tr->pops[p].ts = tr->pops[p].ids = H5I_INVALID_HID;
    }
    hid_t *ds[] = {&tr->samples, &tr->energy};
    for (int i = 0; i < 2; i++) {
        if (*ds[i] >= 0)
            bad |= H5Dclose(*ds[i]) < 0;
        *ds[i] = H5I_INVALID_HID;
    }
    hid_t *ts[] = {&tr->sample_mt, &tr->energy_mt};
    for (int i = 0; i < 2; i++) {
        if (*ts[i] >= 0)
            bad |= H5Tclose(*ts[i]) < 0;
        *ts[i] = H5I_INVALID_HID;
    }
    return bad;
}

static void free_trace(sim_ctx *ctx, trace *tr)
{
    for (int p = 0; p < tr->npop; p++) {
        mem_free(ctx, tr->pops[p].tbuf);
        mem_free(ctx, tr->pops[p].ibuf);
    }
    mem_free(ctx, tr->sbuf);
    mem_free(ctx, tr->ebuf);
    mem_free(ctx, tr);
}

static sim_status check_args(sim_ctx *ctx, const char *path, const trace_meta *meta,
                             const char *const *pop_names, const int32_t *pop_sizes, int npop,
                             const char *const *proj_names, int nproj)
{
    const char *fn = path ? path : "trace";
    if (!path || !*path)
        return ctx_error(ctx, SIM_EINVAL, "trace: empty file name");
    if (!meta)
        return ctx_error(ctx, SIM_EINVAL, "%s: trace: no metadata (trace_meta)", fn);
    if (meta->T < 1)
        return ctx_error(ctx, SIM_EINVAL, "%s: trace: expected T >= 1 timesteps per image, "
                         "found %d", fn, meta->T);
    if (!(meta->dt_ms >= 0) || !isfinite(meta->dt_ms))
        return ctx_error(ctx, SIM_EINVAL, "%s: trace: expected a finite timestep dt_ms > 0 "
                         "(0 for the default 1 ms), found %g", fn, meta->dt_ms);
    if (!isfinite(meta->e_mac_pj) || !isfinite(meta->e_ac_pj))
        return ctx_error(ctx, SIM_EINVAL, "%s: trace: energy constants must be finite, found "
                         "e_mac %g pJ, e_ac %g pJ", fn, meta->e_mac_pj, meta->e_ac_pj);
    if (npop < 1 || !pop_names || !pop_sizes)
        return ctx_error(ctx, SIM_EINVAL, "%s: trace: expected at least one population, "
                         "found %d", fn, npop);
    if (nproj < 0 || (nproj > 0 && !proj_names))
        return ctx_error(ctx, SIM_EINVAL, "%s: trace: invalid projection list (%d names)", fn,
                         nproj);
    for (int p = 0; p < npop; p++) {
        const char *n = pop_names[p];
        if (!n || !*n || strchr(n, '/') || !strcmp(n, ".") || !strcmp(n, "..") ||
            strlen(n) > NAME_MAX_LEN)
            return ctx_error(ctx, SIM_EINVAL, "%s: trace: population %d: invalid name \"%s\" "
                             "(expected 1..%d characters, no '/', not \".\" or \"..\")", fn, p,
                             n ? n : "(null)", NAME_MAX_LEN);
        if (pop_sizes[p] < 0)
            return ctx_error(ctx, SIM_EINVAL, "%s: trace: population %s: negative size %d", fn,
                             n, (int)pop_sizes[p]);
        for (int q = 0; q < p; q++)
            if (!strcmp(pop_names[q], n))
                return ctx_error(ctx, SIM_EINVAL, "%s: trace: populations %d and %d are both "
                                 "named \"%s\"", fn, q, p, n);
    }
    for (int j = 0; j < nproj; j++)
        if (!proj_names[j])
            return ctx_error(ctx, SIM_EINVAL, "%s: trace: projection %d has no name", fn, j);
    return SIM_OK;
}

sim_status trace_create(sim_ctx *ctx, trace **out, const char *path, const trace_meta *meta,
                        const char *const *pop_names, const int32_t *pop_sizes, int npop,
                        const char *const *proj_names, int nproj)
{
    assert(ctx && out);
    *out = NULL;
    sim_status s = check_args(ctx, path, meta, pop_names, pop_sizes, npop, proj_names, nproj);
    if (s != SIM_OK)
        return s;
    /* one block: the struct, the population table, the names */
    size_t bytes = sizeof(trace) + (size_t)npop * sizeof(trace_pop);
    for (int p = 0; p < npop; p++)
        bytes += strlen(pop_names[p]) + 1;
    trace *tr = mem_alloc(ctx, MEM_META, bytes);
    if (!tr)
        return SIM_ENOMEM;
    tr->pops = (trace_pop *)(tr + 1);
    char *names = (char *)(tr->pops + npop);
    tr->npop = npop;
    tr->nproj = nproj;
    tr->T = meta->T;
    tr->dt_ms = meta->dt_ms > 0 ? meta->dt_ms : 1.0;
    tr->samples = tr->energy = tr->sample_mt = tr->energy_mt = H5I_INVALID_HID;
    tr->failed = SIM_OK;
    for (int p = 0; p < npop; p++) {
        size_t n = strlen(pop_names[p]) + 1;
        memcpy(names, pop_names[p], n);
        tr->pops[p].name = names;
        names += n;
        tr->pops[p].size = pop_sizes[p];
        tr->pops[p].ts = tr->pops[p].ids = H5I_INVALID_HID;
        tr->pops[p].last_t = -1;
        tr->pops[p].last_id = -1;
    }
    if ((s = h5_create_atomic(ctx, path, &tr->f)) != SIM_OK) {
        mem_free(ctx, tr);
        return s;
    }
    h5_quiet q;
    h5_quiet_on(&q);
    s = build_layout(ctx, tr, meta, proj_names);
    if (s != SIM_OK)
        close_objects(tr);
    h5_quiet_off(&q);
    if (s != SIM_OK) {
        h5_abort_atomic(ctx, &tr->f);
        free_trace(ctx, tr);
        return s;
    }
    *out = tr;
    return SIM_OK;
}

sim_status trace_close(sim_ctx *ctx, trace *tr)
{
    assert(ctx);
    if (!tr)
        return ctx_error(ctx, SIM_EINVAL, "trace_close: no trace");
    h5_quiet q;
    h5_quiet_on(&q);
    sim_status s = check_usable(ctx, tr);
    if (s == SIM_OK)
        s = flush_all(ctx, tr);
    if (close_objects(tr) && s == SIM_OK)
        s = lib_error(ctx, tr, "cannot close the datasets of", "the trace");
    h5_quiet_off(&q);
    if (s == SIM_OK)
        s = h5_commit_atomic(ctx, &tr->f); /* removes the temporary on failure */
    else
        h5_abort_atomic(ctx, &tr->f);
    free_trace(ctx, tr);
    return s;
}

void trace_abort(sim_ctx *ctx, trace *tr)
{
    if (!tr)
        return;
    h5_quiet q;
    h5_quiet_on(&q);
    close_objects(tr);
    h5_quiet_off(&q);
    h5_abort_atomic(ctx, &tr->f);
    free_trace(ctx, tr);
}

/* ---- rows ---- */

sim_status trace_spikes(sim_ctx *ctx, trace *tr, int pop, int64_t t, const int32_t *ids,
                        int32_t n)
{
    assert(ctx && tr);
    sim_status s = check_usable(ctx, tr);
    if (s != SIM_OK)
        return s;
    if (pop < 0 || pop >= tr->npop)
        return ctx_error(ctx, SIM_EINVAL, "%s: trace: population %d out of range (0..%d)",
                         tr->f.path, pop, tr->npop - 1);
    trace_pop *p = &tr->pops[pop];
    if (n < 0 || (n > 0 && !ids))
        return ctx_error(ctx, SIM_EINVAL, "%s: trace: population %s: invalid packet of %d "
                         "spikes", tr->f.path, p->name, (int)n);
    if (t < 0 || t < p->last_t)
        return ctx_error(ctx, SIM_EINVAL, "%s: trace: population %s: timestep %lld after %lld; "
                         "expected timesteps >= 0 that do not decrease", tr->f.path, p->name,
                         (long long)t, (long long)p->last_t);
    /* validate the whole packet before buffering any of it */
    for (int32_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= p->size)
            return ctx_error(ctx, SIM_EINVAL, "%s: trace: population %s, timestep %lld: node id "
                             "%d out of range (0..%d)", tr->f.path, p->name, (long long)t,
                             (int)ids[i], (int)p->size - 1);
        if (i > 0 && ids[i] <= ids[i - 1])
            return ctx_error(ctx, SIM_EINVAL, "%s: trace: population %s, timestep %lld: node ids "
                             "not strictly ascending (%d after %d at position %d)", tr->f.path,
                             p->name, (long long)t, (int)ids[i], (int)ids[i - 1], (int)i);
    }
    /* a second packet of the same timestep continues the ascending ids
     * (what analysis/report.c checks: no neuron twice in a timestep) */
    if (n > 0 && t == p->last_t && ids[0] <= p->last_id)
        return ctx_error(ctx, SIM_EINVAL, "%s: trace: population %s, timestep %lld: node id %d "
                         "after %d in the same timestep; expected strictly ascending ids",
                         tr->f.path, p->name, (long long)t, (int)ids[0], (int)p->last_id);
    if (n == 0)
        return SIM_OK;
    if (!p->tbuf) {
        p->tbuf = mem_calloc(ctx, MEM_ENGINE, TRACE_CHUNK_SPIKES, sizeof *p->tbuf);
        p->ibuf = mem_calloc(ctx, MEM_ENGINE, TRACE_CHUNK_SPIKES, sizeof *p->ibuf);
        if (!p->tbuf || !p->ibuf) {
            mem_free(ctx, p->tbuf);
            mem_free(ctx, p->ibuf);
            p->tbuf = NULL;
            p->ibuf = NULL;
            return SIM_ENOMEM;
        }
    }
    p->last_t = t;
    p->last_id = ids[n - 1];
    const double ts = (double)t * tr->dt_ms;
    h5_quiet q;
    h5_quiet_on(&q);
    for (int32_t i = 0; i < n && s == SIM_OK;) {
        int32_t k = TRACE_CHUNK_SPIKES - p->nbuf;
        if (k > n - i)
            k = n - i;
        for (int32_t j = 0; j < k; j++) {
            p->tbuf[p->nbuf + j] = ts;
            p->ibuf[p->nbuf + j] = (uint64_t)ids[i + j];
        }
        p->nbuf += k;
        p->count += (uint64_t)k;
        i += k;
        if (p->nbuf == TRACE_CHUNK_SPIKES)
            s = flush_pop(ctx, tr, p);
    }
    h5_quiet_off(&q);
    return s;
}

sim_status trace_energy(sim_ctx *ctx, trace *tr, int64_t sample, int64_t t_in_sample,
                        const proj_counters *per_proj)
{
    assert(ctx && tr);
    sim_status s = check_usable(ctx, tr);
    if (s != SIM_OK)
        return s;
    if (sample < 0 || t_in_sample < 0)
        return ctx_error(ctx, SIM_EINVAL, "%s: trace: energy row: expected sample >= 0 and "
                         "timestep >= 0, found %lld and %lld", tr->f.path, (long long)sample,
                         (long long)t_in_sample);
    if (tr->nproj == 0)
        return SIM_OK;
    if (!per_proj)
        return ctx_error(ctx, SIM_EINVAL, "%s: trace: energy row: no counters for %d "
                         "projections", tr->f.path, tr->nproj);
    if (!tr->ebuf && !(tr->ebuf = mem_calloc(ctx, MEM_ENGINE, TRACE_CHUNK_ROWS,
                                             sizeof *tr->ebuf)))
        return SIM_ENOMEM;
    h5_quiet q;
    h5_quiet_on(&q);
    for (int j = 0; j < tr->nproj && s == SIM_OK; j++) {
        energy_row *r = &tr->ebuf[tr->nebuf++];
        r->sample = sample;
        r->timestep = t_in_sample;
        r->projection = j;
        r->events = per_proj[j].events;
        r->acs = per_proj[j].acs;
        r->macs = per_proj[j].macs;
        r->sop = per_proj[j].sop;
        if (tr->nebuf == TRACE_CHUNK_ROWS)
            s = flush_energy(ctx, tr);
    }
    h5_quiet_off(&q);
    return s;
}

sim_status trace_sample(sim_ctx *ctx, trace *tr, const struct trace_sample *sm)
{
    assert(ctx && tr);
    sim_status s = check_usable(ctx, tr);
    if (s != SIM_OK)
        return s;
    if (!sm)
        return ctx_error(ctx, SIM_EINVAL, "%s: trace: no sample row", tr->f.path);
    const int64_t want = tr->nsamples * tr->T;
    if (sm->first_timestep != want)
        return ctx_error(ctx, SIM_EINVAL, "%s: trace: sample %lld (dataset index %lld): expected "
                         "first_timestep %lld (%lld images of T=%d before it), found %lld",
                         tr->f.path, (long long)tr->nsamples, (long long)sm->index,
                         (long long)want, (long long)tr->nsamples, tr->T,
                         (long long)sm->first_timestep);
    if (sm->index < 0)
        return ctx_error(ctx, SIM_EINVAL, "%s: trace: sample %lld: negative dataset index %lld",
                         tr->f.path, (long long)tr->nsamples, (long long)sm->index);
    if (!tr->sbuf && !(tr->sbuf = mem_calloc(ctx, MEM_ENGINE, TRACE_CHUNK_ROWS,
                                             sizeof *tr->sbuf)))
        return SIM_ENOMEM;
    tr->sbuf[tr->nsbuf++] = *sm;
    tr->nsamples++;
    if (tr->nsbuf == TRACE_CHUNK_ROWS) {
        h5_quiet q;
        h5_quiet_on(&q);
        s = flush_samples(ctx, tr);
        h5_quiet_off(&q);
    }
    return s;
}

/* ---- inspection ---- */

const char *trace_path(const trace *tr)
{
    return tr ? tr->f.path : "";
}

const char *trace_tmp_path(const trace *tr)
{
    return tr ? tr->f.tmp : "";
}

uint64_t trace_spike_count(const trace *tr, int pop)
{
    return tr && pop >= 0 && pop < tr->npop ? tr->pops[pop].count : 0;
}
