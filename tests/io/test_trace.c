/* test_trace.c - the spike-trace writer. Every file is read back with the
 * HDF5 C API directly (not through io/trace.c or io/h5.c) and, where
 * /usr/bin/python3 has h5py, by h5py: SONATA layout and dtypes, the sorting
 * enum, every spike, empty datasets of a silent population, /samples,
 * /energy, /meta; two million spikes streamed with bounded memory; nothing
 * at the final path before close and no temporary after close or abort;
 * argument errors that leave the trace intact; unwritable paths; a write
 * failing half way (file size limit); running out of memory at every
 * allocation. */
#include <dirent.h>
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/trace.h"
#include "tests/harness.h"

/* ---- temporary directory ---- */

static char tmpdir[64];

static const char *tpath(const char *name) { return harness_join(tmpdir, name); }

static void make_tmpdir(void) { harness_mkdtemp(tmpdir, sizeof tmpdir, "test_trace"); }



/* ---- independent HDF5 readers (plain C API) ---- */

/* A string attribute (fixed or variable length) of obj into buf; 0 on success. */
static int read_attr_str(hid_t loc, const char *obj, const char *name, char *buf, size_t n)
{
    int rc = -1;
    buf[0] = '\0';
    hid_t a = H5Aopen_by_name(loc, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0)
        return -1;
    hid_t t = H5Aget_type(a), mt = H5Tcopy(H5T_C_S1);
    if (t >= 0 && mt >= 0 && H5Tget_class(t) == H5T_STRING) {
        if (H5Tis_variable_str(t) > 0) {
            char *v = NULL;
            if (H5Tset_size(mt, H5T_VARIABLE) >= 0 && H5Tset_cset(mt, H5Tget_cset(t)) >= 0 &&
                H5Aread(a, mt, &v) >= 0 && v) {
                snprintf(buf, n, "%s", v);
                H5free_memory(v);
                rc = 0;
            }
        } else {
            size_t sz = H5Tget_size(t);
            char *v = calloc(1, sz + 1);
            if (v && H5Tset_size(mt, sz + 1) >= 0 && H5Tset_cset(mt, H5Tget_cset(t)) >= 0 &&
                H5Aread(a, mt, v) >= 0) {
                snprintf(buf, n, "%s", v);
                rc = 0;
            }
            free(v);
        }
    }
    if (mt >= 0)
        H5Tclose(mt);
    if (t >= 0)
        H5Tclose(t);
    H5Aclose(a);
    return rc;
}

/* A numeric attribute read as double (mem H5T_NATIVE_DOUBLE) or int64;
 * *cls receives its stored class. */
static int read_attr_num(hid_t loc, const char *obj, const char *name, hid_t mem, void *out,
                         H5T_class_t *cls)
{
    hid_t a = H5Aopen_by_name(loc, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0)
        return -1;
    hid_t t = H5Aget_type(a);
    *cls = H5Tget_class(t);
    int rc = H5Aread(a, mem, out) < 0 ? -1 : 0;
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

/* Check a 1-D chunked unlimited dataset whose stored type equals ftype
 * (ftype < 0: a compound, checked by the caller); returns its length or -1. */
static long long check_appendable(hid_t f, const char *name, hid_t ftype)
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    CU_ASSERT_FATAL(d >= 0);
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d), pl = H5Dget_create_plist(d);
    long long len = -1;
    hsize_t dims[2] = {0, 0}, maxd[2] = {0, 0};
    int ok = 1;
    if (ftype >= 0 && H5Tequal(t, ftype) <= 0) {
        fprintf(stderr, "\n  %s: stored type is not the expected one (class %d, size %zu)\n",
                name, (int)H5Tget_class(t), H5Tget_size(t));
        ok = 0;
    }
    if (H5Sget_simple_extent_ndims(sp) != 1 || H5Sget_simple_extent_dims(sp, dims, maxd) != 1 ||
        maxd[0] != H5S_UNLIMITED) {
        fprintf(stderr, "\n  %s: expected 1-D unlimited\n", name);
        ok = 0;
    }
    if (H5Pget_layout(pl) != H5D_CHUNKED) {
        fprintf(stderr, "\n  %s: expected a chunked layout\n", name);
        ok = 0;
    }
    CU_ASSERT(ok);
    if (ok)
        len = (long long)dims[0];
    H5Pclose(pl);
    H5Sclose(sp);
    H5Tclose(t);
    H5Dclose(d);
    return len;
}

/* Read a whole 1-D dataset as mem type (element size esz) into a malloc'ed
 * buffer; *n receives its length. NULL on error (and on n == 0 returns a
 * 1-byte buffer so callers can tell). */
static void *read_all(hid_t f, const char *name, hid_t mem, size_t esz, size_t *n)
{
    *n = 0;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0)
        return NULL;
    hid_t sp = H5Dget_space(d);
    hsize_t dims[1] = {0};
    void *buf = NULL;
    if (H5Sget_simple_extent_ndims(sp) == 1 && H5Sget_simple_extent_dims(sp, dims, NULL) == 1) {
        buf = malloc(dims[0] ? dims[0] * esz : 1);
        if (buf && dims[0] && H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
            free(buf);
            buf = NULL;
        }
        *n = (size_t)dims[0];
    }
    H5Sclose(sp);
    H5Dclose(d);
    return buf;
}

/* The sorting attribute of obj: checks it is a scalar enum over uint8 with
 * exactly {none 0, by_id 1, by_time 2}; returns the stored value or -1. */
static int read_sorting(hid_t f, const char *obj)
{
    hid_t a = H5Aopen_by_name(f, obj, "sorting", H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) {
        fprintf(stderr, "\n  %s: no sorting attribute\n", obj);
        return -1;
    }
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a), super = H5I_INVALID_HID;
    int ok = H5Tget_class(t) == H5T_ENUM && H5Sget_simple_extent_type(sp) == H5S_SCALAR;
    if (ok) {
        super = H5Tget_super(t);
        ok = super >= 0 && H5Tequal(super, H5T_STD_U8LE) > 0 && H5Tget_nmembers(t) == 3;
    }
    static const char *const want[3] = {"none", "by_id", "by_time"};
    for (unsigned i = 0; ok && i < 3; i++) {
        uint8_t v = 0xff;
        char *nm = H5Tget_member_name(t, i);
        ok = nm && H5Tget_member_value(t, i, &v) >= 0;
        if (ok) {
            /* members may be stored in any order: look the name up by value */
            char byval[32];
            ok = v < 3 && !strcmp(nm, want[v]) &&
                 H5Tenum_nameof(t, &v, byval, sizeof byval) >= 0 && !strcmp(byval, want[v]);
        }
        if (nm)
            H5free_memory(nm);
    }
    int value = -1;
    uint8_t v = 0xff;
    if (ok && H5Aread(a, t, &v) >= 0) /* enum to the same enum: no conversion */
        value = v;
    if (!ok)
        fprintf(stderr, "\n  %s: sorting is not a scalar uint8 enum {none 0, by_id 1, "
                        "by_time 2}\n", obj);
    if (super >= 0)
        H5Tclose(super);
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(a);
    return value;
}

/* Member `name` of the compound type t exists and is stored as ftype. */
static int member_is(hid_t t, const char *name, hid_t ftype)
{
    int i = H5Tget_member_index(t, name);
    if (i < 0) {
        fprintf(stderr, "\n  compound member %s missing\n", name);
        return 0;
    }
    hid_t m = H5Tget_member_type(t, (unsigned)i);
    int eq = H5Tequal(m, ftype) > 0;
    H5Tclose(m);
    if (!eq)
        fprintf(stderr, "\n  compound member %s has another type\n", name);
    return eq;
}

/* ---- the small trace: known spikes, samples, energy ---- */

enum { NPOP = 3, NPROJ = 2, T_STEPS = 4, NSAMP = 3 };
static const char *const pop_names[NPOP] = {"L0.stream", "L0.turnon", "L1.silent"};
static const int32_t pop_sizes[NPOP] = {50, 20, 10};
static const char *const proj_names[NPROJ] = {"down:L0.stream->L0.turnon", "up:L1->L0"};
static const double DT = 0.5;

/* Which neurons fire: population 0, i = t (mod 5) (10 of 50 per step);
 * population 1 at even t, i = -t (mod 3); population 2 never. */
static int fires(int p, int64_t t, int i)
{
    if (p == 0)
        return (7 * i + 3 * (int)t) % 5 == 0;
    if (p == 1)
        return t % 2 == 0 && (i + (int)t) % 3 == 0;
    return 0;
}

static proj_counters counters_of(int64_t k, int64_t t, int j)
{
    proj_counters c;
    c.events = (uint64_t)(100 * k + 10 * t + j);
    c.acs = 9 * c.events;
    c.macs = j ? 0 : (uint64_t)(64 * t);
    c.sop = 0.5 * (double)c.events;
    return c;
}

static trace_sample_row sample_of(int64_t k, uint64_t spikes)
{
    trace_sample_row s = {.index = 100 + k, .first_timestep = k * T_STEPS,
                          .label = (int32_t)k, .prediction = (int32_t)((2 * k) % 10),
                          .spikes = spikes, .energy_pj = 1.5 * (double)k + 0.25,
                          .energy_lit_pj = 10.0 + (double)k};
    return s;
}

static trace_meta small_meta(void)
{
    trace_meta m = {.preset = "fmnist", .checkpoint = "out/demo.h5",
                    .checksum = "crc32:1a2b3c4d", .version = "0.3.0-test",
                    .command_line = "sim --engine --trace out/t.h5", .dt_ms = DT,
                    .T = T_STEPS, .e_mac_pj = 4.6, .e_ac_pj = 0.9};
    return m;
}

/* Write the small trace to path; returns the final status of close. */
static sim_status write_small(sim_ctx *ctx, const char *path)
{
    trace_meta m = small_meta();
    trace *tr = NULL;
    sim_status s = trace_create(ctx, &tr, path, &m, pop_names, pop_sizes, NPOP, proj_names,
                                NPROJ);
    if (s != SIM_OK)
        return s;
    int32_t ids[64];
    for (int64_t k = 0; k < NSAMP && s == SIM_OK; k++) {
        uint64_t spikes = 0;
        for (int64_t ti = 0; ti < T_STEPS && s == SIM_OK; ti++) {
            int64_t t = k * T_STEPS + ti;
            for (int p = 0; p < NPOP && s == SIM_OK; p++) {
                int32_t n = 0;
                for (int i = 0; i < pop_sizes[p]; i++)
                    if (fires(p, t, i))
                        ids[n++] = i;
                spikes += (uint64_t)n;
                s = trace_spikes(ctx, tr, p, t, ids, n); /* n == 0 for the silent one */
            }
            proj_counters c[NPROJ];
            for (int j = 0; j < NPROJ; j++)
                c[j] = counters_of(k, ti, j);
            if (s == SIM_OK)
                s = trace_energy(ctx, tr, k, ti, c);
        }
        trace_sample_row row = sample_of(k, spikes);
        if (s == SIM_OK)
            s = trace_sample(ctx, tr, &row);
    }
    if (s != SIM_OK) {
        trace_abort(ctx, tr);
        return s;
    }
    return trace_close(ctx, tr);
}

static void test_layout_and_values(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    const char *p = tpath("small.h5");
    CU_ASSERT_EQUAL_FATAL(write_small(&ctx, p), SIM_OK);
    CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
    CU_ASSERT_EQUAL(harness_count_files(tmpdir, ".tmp."), 0);

    hid_t f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    char buf[256];
    H5T_class_t cls;
    int64_t iv = 0;
    double dv = 0;

    /* root and /meta */
    CU_ASSERT(read_attr_str(f, "/", "format", buf, sizeof buf) == 0 &&
              !strcmp(buf, "trevsnn-trace"));
    CU_ASSERT(read_attr_num(f, "/", "version", H5T_NATIVE_INT64, &iv, &cls) == 0 && iv == 1 &&
              cls == H5T_INTEGER);
    static const char *const meta_str[][2] = {
        {"preset", "fmnist"},           {"checkpoint", "out/demo.h5"},
        {"checksum", "crc32:1a2b3c4d"}, {"version", "0.3.0-test"},
        {"command_line", "sim --engine --trace out/t.h5"},
    };
    for (size_t i = 0; i < sizeof meta_str / sizeof meta_str[0]; i++) {
        int ok = read_attr_str(f, "/meta", meta_str[i][0], buf, sizeof buf) == 0 &&
                 !strcmp(buf, meta_str[i][1]);
        if (!ok)
            fprintf(stderr, "\n  /meta %s = \"%s\", expected \"%s\"\n", meta_str[i][0], buf,
                    meta_str[i][1]);
        CU_ASSERT(ok);
    }
    CU_ASSERT(read_attr_num(f, "/meta", "dt_ms", H5T_NATIVE_DOUBLE, &dv, &cls) == 0 &&
              dv == 0.5 && cls == H5T_FLOAT);
    CU_ASSERT(read_attr_num(f, "/meta", "T", H5T_NATIVE_INT64, &iv, &cls) == 0 && iv == 4 &&
              cls == H5T_INTEGER);

    /* /spikes: sorting on the group and on every population */
    CU_ASSERT_EQUAL(read_sorting(f, "/spikes"), 2);
    H5G_info_t gi;
    CU_ASSERT(H5Gget_info_by_name(f, "/spikes", &gi, H5P_DEFAULT) >= 0 && gi.nlinks == NPOP);
    long long want_count[NPOP] = {120, 40, 0}; /* counted by hand from fires() */
    for (int q = 0; q < NPOP; q++) {
        char grp[128], ts_name[160], id_name[160];
        snprintf(grp, sizeof grp, "/spikes/%s", pop_names[q]);
        snprintf(ts_name, sizeof ts_name, "%s/timestamps", grp);
        snprintf(id_name, sizeof id_name, "%s/node_ids", grp);
        CU_ASSERT_EQUAL(read_sorting(f, grp), 2);
        CU_ASSERT(read_attr_num(f, grp, "n_nodes", H5T_NATIVE_INT64, &iv, &cls) == 0 &&
                  iv == pop_sizes[q]);
        CU_ASSERT(read_attr_str(f, ts_name, "units", buf, sizeof buf) == 0 && !strcmp(buf, "ms"));
        long long nts = check_appendable(f, ts_name, H5T_IEEE_F64LE);
        long long nid = check_appendable(f, id_name, H5T_STD_U64LE);
        CU_ASSERT_EQUAL(nts, want_count[q]);
        CU_ASSERT_EQUAL(nid, want_count[q]);
        size_t n1, n2;
        double *ts = read_all(f, ts_name, H5T_NATIVE_DOUBLE, sizeof(double), &n1);
        uint64_t *id = read_all(f, id_name, H5T_NATIVE_UINT64, sizeof(uint64_t), &n2);
        CU_ASSERT_FATAL(ts && id);
        CU_ASSERT_EQUAL(n1, (size_t)want_count[q]);
        CU_ASSERT_EQUAL(n2, (size_t)want_count[q]);
        /* every spike, in order */
        size_t k = 0;
        int bad = 0;
        for (int64_t t = 0; t < NSAMP * T_STEPS; t++)
            for (int i = 0; i < pop_sizes[q]; i++) {
                if (!fires(q, t, i))
                    continue;
                if (k >= n1 || k >= n2) {
                    bad++;
                    continue;
                }
                if (ts[k] != (double)t * 0.5 || id[k] != (uint64_t)i) {
                    if (!bad)
                        fprintf(stderr, "\n  %s row %zu: (%g ms, %llu), expected (%g ms, %d)\n",
                                grp, k, ts[k], (unsigned long long)id[k], (double)t * 0.5, i);
                    bad++;
                }
                k++;
            }
        CU_ASSERT_EQUAL(bad, 0);
        CU_ASSERT_EQUAL(k, n1);
        if (q == 0 && n1 > 11) /* literal spot checks: t = 0, i = 0; t = 1, i = 1 */
            CU_ASSERT(ts[0] == 0.0 && id[0] == 0 && ts[10] == 0.5 && id[10] == 1);
        free(ts);
        free(id);
    }

    /* /samples, read through a struct of another member order */
    typedef struct {
        double energy_lit_pj, energy_pj;
        uint64_t spikes;
        int32_t prediction, label;
        int64_t first_timestep, index;
    } srow_t;
    srow_t srow[NSAMP];
    hid_t smt = H5Tcreate(H5T_COMPOUND, sizeof(srow_t));
    H5Tinsert(smt, "index", offsetof(srow_t, index), H5T_NATIVE_INT64);
    H5Tinsert(smt, "first_timestep", offsetof(srow_t, first_timestep), H5T_NATIVE_INT64);
    H5Tinsert(smt, "label", offsetof(srow_t, label), H5T_NATIVE_INT32);
    H5Tinsert(smt, "prediction", offsetof(srow_t, prediction), H5T_NATIVE_INT32);
    H5Tinsert(smt, "spikes", offsetof(srow_t, spikes), H5T_NATIVE_UINT64);
    H5Tinsert(smt, "energy_pj", offsetof(srow_t, energy_pj), H5T_NATIVE_DOUBLE);
    H5Tinsert(smt, "energy_lit_pj", offsetof(srow_t, energy_lit_pj), H5T_NATIVE_DOUBLE);
    CU_ASSERT_EQUAL(check_appendable(f, "/samples", -1), NSAMP);
    hid_t d = H5Dopen2(f, "/samples", H5P_DEFAULT);
    hid_t ft = H5Dget_type(d);
    CU_ASSERT(H5Tget_class(ft) == H5T_COMPOUND && H5Tget_nmembers(ft) == 7);
    CU_ASSERT(member_is(ft, "index", H5T_STD_I64LE) &&
              member_is(ft, "first_timestep", H5T_STD_I64LE) &&
              member_is(ft, "label", H5T_STD_I32LE) && member_is(ft, "prediction", H5T_STD_I32LE) &&
              member_is(ft, "spikes", H5T_STD_U64LE) &&
              member_is(ft, "energy_pj", H5T_IEEE_F64LE) &&
              member_is(ft, "energy_lit_pj", H5T_IEEE_F64LE));
    CU_ASSERT(H5Dread(d, smt, H5S_ALL, H5S_ALL, H5P_DEFAULT, srow) >= 0);
    for (int k = 0; k < NSAMP; k++) {
        /* spikes per image: 4 steps x 10 (population 0) plus population 1:
         * image 0 t=0,2: 7+7; image 1 t=4,6: 6+7; image 2 t=8,10: 7+6 */
        static const uint64_t want_spikes[NSAMP] = {54, 53, 53};
        int ok = srow[k].index == 100 + k && srow[k].first_timestep == 4 * k &&
                 srow[k].label == k && srow[k].prediction == (2 * k) % 10 &&
                 srow[k].spikes == want_spikes[k] && srow[k].energy_pj == 1.5 * k + 0.25 &&
                 srow[k].energy_lit_pj == 10.0 + k;
        if (!ok)
            fprintf(stderr, "\n  /samples row %d: index %lld first %lld label %d pred %d spikes "
                    "%llu energy %g lit %g\n", k, (long long)srow[k].index,
                    (long long)srow[k].first_timestep, srow[k].label, srow[k].prediction,
                    (unsigned long long)srow[k].spikes, srow[k].energy_pj,
                    srow[k].energy_lit_pj);
        CU_ASSERT(ok);
    }
    H5Tclose(ft);
    H5Dclose(d);
    H5Tclose(smt);

    /* /energy */
    CU_ASSERT(read_attr_num(f, "/energy", "e_mac_pj", H5T_NATIVE_DOUBLE, &dv, &cls) == 0 &&
              dv == 4.6);
    CU_ASSERT(read_attr_num(f, "/energy", "e_ac_pj", H5T_NATIVE_DOUBLE, &dv, &cls) == 0 &&
              dv == 0.9);
    CU_ASSERT(read_attr_str(f, "/energy", "units", buf, sizeof buf) == 0 && !strcmp(buf, "pJ"));
    enum { NROWS = NSAMP * T_STEPS * NPROJ };
    CU_ASSERT_EQUAL(check_appendable(f, "/energy/counters", -1), NROWS);
    typedef struct {
        double sop;
        uint64_t macs, acs, events;
        int32_t projection;
        int64_t timestep, sample;
    } erow_t;
    erow_t erow[NROWS];
    hid_t emt = H5Tcreate(H5T_COMPOUND, sizeof(erow_t));
    H5Tinsert(emt, "sample", offsetof(erow_t, sample), H5T_NATIVE_INT64);
    H5Tinsert(emt, "timestep", offsetof(erow_t, timestep), H5T_NATIVE_INT64);
    H5Tinsert(emt, "projection", offsetof(erow_t, projection), H5T_NATIVE_INT32);
    H5Tinsert(emt, "events", offsetof(erow_t, events), H5T_NATIVE_UINT64);
    H5Tinsert(emt, "acs", offsetof(erow_t, acs), H5T_NATIVE_UINT64);
    H5Tinsert(emt, "macs", offsetof(erow_t, macs), H5T_NATIVE_UINT64);
    H5Tinsert(emt, "sop", offsetof(erow_t, sop), H5T_NATIVE_DOUBLE);
    d = H5Dopen2(f, "/energy/counters", H5P_DEFAULT);
    ft = H5Dget_type(d);
    CU_ASSERT(H5Tget_class(ft) == H5T_COMPOUND && H5Tget_nmembers(ft) == 7);
    CU_ASSERT(member_is(ft, "sample", H5T_STD_I64LE) && member_is(ft, "timestep", H5T_STD_I64LE) &&
              member_is(ft, "projection", H5T_STD_I32LE) &&
              member_is(ft, "events", H5T_STD_U64LE) && member_is(ft, "acs", H5T_STD_U64LE) &&
              member_is(ft, "macs", H5T_STD_U64LE) && member_is(ft, "sop", H5T_IEEE_F64LE));
    CU_ASSERT(H5Dread(d, emt, H5S_ALL, H5S_ALL, H5P_DEFAULT, erow) >= 0);
    int r = 0, ebad = 0;
    for (int k = 0; k < NSAMP; k++)
        for (int t = 0; t < T_STEPS; t++)
            for (int j = 0; j < NPROJ; j++, r++) {
                uint64_t ev = (uint64_t)(100 * k + 10 * t + j);
                if (erow[r].sample != k || erow[r].timestep != t || erow[r].projection != j ||
                    erow[r].events != ev || erow[r].acs != 9 * ev ||
                    erow[r].macs != (j ? 0u : (uint64_t)(64 * t)) || erow[r].sop != 0.5 * ev) {
                    if (!ebad)
                        fprintf(stderr, "\n  /energy/counters row %d: (%lld, %lld, %d, %llu, "
                                "%llu, %llu, %g)\n", r, (long long)erow[r].sample,
                                (long long)erow[r].timestep, erow[r].projection,
                                (unsigned long long)erow[r].events,
                                (unsigned long long)erow[r].acs,
                                (unsigned long long)erow[r].macs, erow[r].sop);
                    ebad++;
                }
            }
    CU_ASSERT_EQUAL(ebad, 0);
    H5Tclose(ft);
    H5Dclose(d);
    H5Tclose(emt);
    /* projection names, in index order */
    d = H5Dopen2(f, "/energy/projections", H5P_DEFAULT);
    CU_ASSERT_FATAL(d >= 0);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, H5T_VARIABLE);
    H5Tset_cset(st, H5T_CSET_UTF8);
    hid_t sp = H5Dget_space(d);
    CU_ASSERT_EQUAL(H5Sget_simple_extent_npoints(sp), NPROJ);
    char *pn[NPROJ] = {NULL, NULL};
    CU_ASSERT(H5Dread(d, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, pn) >= 0);
    for (int j = 0; j < NPROJ; j++) {
        CU_ASSERT(pn[j] && !strcmp(pn[j], proj_names[j]));
        if (pn[j])
            H5free_memory(pn[j]);
    }
    H5Sclose(sp);
    H5Tclose(st);
    H5Dclose(d);
    CU_ASSERT_EQUAL(H5Fget_obj_count(f, H5F_OBJ_ALL), 1); /* the reader leaked nothing */
    CU_ASSERT(H5Fclose(f) >= 0);
    ctx_free(&ctx);
}

/* ---- h5py (and bmtk, when installed) read the same file ---- */

static const char *const py_script =
    "import sys\n"
    "try:\n"
    "    import h5py, numpy as np\n"
    "except Exception as e:\n"
    "    print('SKIP h5py unavailable:', e); sys.exit(0)\n"
    "f = h5py.File(sys.argv[1], 'r')\n"
    "for name in sys.argv[2:]:\n"
    "    g = f['spikes'][name]\n"
    "    ids = g['node_ids'][()]; ts = g['timestamps'][()]\n"
    "    enum = h5py.check_enum_dtype(g.attrs.get_id('sorting').dtype) or {}\n"
    "    print('pop', name, ids.dtype.name, ts.dtype.name, len(ids), int(ids.sum()),\n"
    "          '%.17g' % float((ts * ids).sum()), g['timestamps'].attrs['units'],\n"
    "          int(g.attrs['sorting']), ','.join('%s=%d' % kv for kv in sorted(enum.items())))\n"
    "s = f['samples'][()]\n"
    "print('samples', ','.join(s.dtype.names))\n"
    "for r in s:\n"
    "    print('row', int(r['index']), int(r['first_timestep']), int(r['label']),\n"
    "          int(r['prediction']), int(r['spikes']), '%.17g' % r['energy_pj'],\n"
    "          '%.17g' % r['energy_lit_pj'])\n"
    "e = f['energy/counters'][()]\n"
    "print('energy', len(e), int(e['acs'].sum()), int(e['macs'].sum()))\n"
    "print('meta', f['meta'].attrs['preset'], f['meta'].attrs['T'])\n"
    "try:\n"
    "    from bmtk.utils.reports.spike_trains import SpikeTrains\n"
    "except Exception as e:\n"
    "    print('NOBMTK', type(e).__name__); sys.exit(0)\n"
    "st = SpikeTrains.from_sonata(sys.argv[1])\n"
    "print('bmtk', ','.join(sorted(st.populations)), len(st),\n"
    "      len(st.get_times(5, population=sys.argv[2])))\n";

static void test_h5py_reads(void)
{
    if (access("/usr/bin/python3", X_OK) != 0) {
        fprintf(stderr, "\n  (/usr/bin/python3 not available: skipping the h5py check) ");
        return;
    }
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    const char *p = tpath("py.h5");
    CU_ASSERT_EQUAL_FATAL(write_small(&ctx, p), SIM_OK);
    const char *script = tpath("read_trace.py");
    FILE *fp = fopen(script, "w");
    CU_ASSERT_FATAL(fp != NULL);
    fputs(py_script, fp);
    fclose(fp);
    /* stdout carries the answers; warnings go to a file shown on failure */
    const char *errf = tpath("read_trace.err");
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 -W ignore '%s' '%s' '%s' '%s' '%s' 2>'%s'",
             script, p, pop_names[0], pop_names[1], pop_names[2], errf);
    FILE *pp = popen(cmd, "r");
    CU_ASSERT_FATAL(pp != NULL);
    char out[64][512];
    int nl = 0;
    while (nl < 64 && fgets(out[nl], sizeof out[nl], pp)) {
        out[nl][strcspn(out[nl], "\n")] = '\0';
        nl++;
    }
    int rc = pclose(pp);
    if (rc != 0) {
        char line[512];
        FILE *ef = fopen(errf, "r");
        fprintf(stderr, "\n  python3 exited with status %d:", rc);
        while (ef && fgets(line, sizeof line, ef))
            fprintf(stderr, "\n  | %s", line);
        if (ef)
            fclose(ef);
    }
    CU_ASSERT_EQUAL(rc, 0);
    if (nl > 0 && !strncmp(out[0], "SKIP", 4)) {
        fprintf(stderr, "\n  (%s: skipping the h5py check) ", out[0]);
        ctx_free(&ctx);
        return;
    }
    /* the expected lines, from fires() and sample_of() */
    char want[16][256];
    int nw = 0;
    for (int q = 0; q < NPOP; q++) {
        long long n = 0, sum = 0;
        double tsum = 0;
        for (int64_t t = 0; t < NSAMP * T_STEPS; t++)
            for (int i = 0; i < pop_sizes[q]; i++)
                if (fires(q, t, i)) {
                    n++;
                    sum += i;
                    tsum += (double)t * DT * i;
                }
        snprintf(want[nw++], sizeof want[0],
                 "pop %s uint64 float64 %lld %lld %.17g ms 2 by_id=1,by_time=2,none=0",
                 pop_names[q], n, sum, tsum);
    }
    snprintf(want[nw++], sizeof want[0],
             "samples index,first_timestep,label,prediction,spikes,energy_pj,energy_lit_pj");
    static const int want_spikes[NSAMP] = {54, 53, 53};
    for (int k = 0; k < NSAMP; k++) {
        trace_sample_row s = sample_of(k, (uint64_t)want_spikes[k]);
        snprintf(want[nw++], sizeof want[0], "row %lld %lld %d %d %d %.17g %.17g",
                 (long long)s.index, (long long)s.first_timestep, s.label, s.prediction,
                 want_spikes[k], s.energy_pj, s.energy_lit_pj);
    }
    long long acs = 0, macs = 0;
    for (int k = 0; k < NSAMP; k++)
        for (int t = 0; t < T_STEPS; t++)
            for (int j = 0; j < NPROJ; j++) {
                proj_counters c = counters_of(k, t, j);
                acs += (long long)c.acs;
                macs += (long long)c.macs;
            }
    snprintf(want[nw++], sizeof want[0], "energy %d %lld %lld", NSAMP * T_STEPS * NPROJ, acs,
             macs);
    snprintf(want[nw++], sizeof want[0], "meta fmnist 4");
    int ok = nl >= nw;
    for (int i = 0; i < nw && i < nl; i++)
        if (strcmp(out[i], want[i])) {
            fprintf(stderr, "\n  h5py line %d: \"%s\"\n  expected     \"%s\"\n", i, out[i],
                    want[i]);
            ok = 0;
            break;
        }
    if (nl < nw)
        for (int i = 0; i < nl; i++)
            fprintf(stderr, "\n  h5py: %s", out[i]);
    CU_ASSERT(ok);
    /* bmtk's SONATA spike reader, optional (Debian python3-bmtk) */
    if (nl > nw && !strncmp(out[nw], "NOBMTK", 6))
        fprintf(stderr, "\n  (bmtk not installed: skipping the bmtk check) ");
    else if (nl > nw) {
        /* all populations, every spike, node 5 of population 0 fires at t = 0, 5, 10 */
        char wb[256];
        snprintf(wb, sizeof wb, "bmtk %s,%s,%s 160 3", pop_names[0], pop_names[1], pop_names[2]);
        if (strcmp(out[nw], wb))
            fprintf(stderr, "\n  bmtk: \"%s\"\n  expected \"%s\"\n", out[nw], wb);
        CU_ASSERT_STRING_EQUAL(out[nw], wb);
    } else
        CU_FAIL("no bmtk line");
    ctx_free(&ctx);
}

/* ---- two million spikes, bounded memory ---- */

static void test_large_stream(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    const char *p = tpath("large.h5");
    const char *const names[2] = {"big", "sparse"};
    const int32_t sizes[2] = {4096, 1000};
    enum { STEPS = 1000 };
    trace_meta m = {.dt_ms = 0, .T = 10, .e_mac_pj = 4.6, .e_ac_pj = 0.9}; /* dt default 1 */
    trace *tr = NULL;
    CU_ASSERT_EQUAL_FATAL(trace_create(&ctx, &tr, p, &m, names, sizes, 2, NULL, 0), SIM_OK);
    int32_t *ids = malloc(4096 * sizeof *ids);
    CU_ASSERT_FATAL(ids != NULL);
    size_t mem_steady = 0, mem_mid = 0; /* after every buffer exists; half way */
    sim_status s = SIM_OK;
    for (int t = 0; t < STEPS && s == SIM_OK; t++) {
        int32_t n = 0;
        for (int i = 0; i < 4096; i++)
            if ((i + t) % 2 == 0)
                ids[n++] = i;
        s = trace_spikes(&ctx, tr, 0, t, ids, n);
        n = 0;
        for (int i = 0; i < 1000; i++)
            if ((13 * i + t) % 97 == 0)
                ids[n++] = i;
        if (s == SIM_OK)
            s = trace_spikes(&ctx, tr, 1, t, ids, n);
        if (s == SIM_OK && t % 10 == 9) {
            trace_sample_row row = {.index = t / 10, .first_timestep = t - 9};
            s = trace_sample(&ctx, tr, &row);
        }
        if (t == 9)
            mem_steady = ctx.mem_cur_total;
        if (t == STEPS / 2)
            mem_mid = ctx.mem_cur_total;
    }
    CU_ASSERT_EQUAL(s, SIM_OK);
    if (s != SIM_OK)
        fprintf(stderr, "\n  %s\n", ctx_errmsg(&ctx));
    const uint64_t nbig = (uint64_t)STEPS * 2048;
    CU_ASSERT_EQUAL(trace_spike_count(tr, 0), nbig);
    /* memory: constant once the buffers exist and far below the spike data
     * (2M spikes x 16 bytes = 32 MB): two population buffers, one row
     * buffer, the trace itself */
    size_t bound = 2 * (size_t)TRACE_CHUNK_SPIKES * 16 + (size_t)TRACE_CHUNK_ROWS * 64 +
                   64 * 1024;
    CU_ASSERT(mem_steady > 0);
    CU_ASSERT_EQUAL(mem_mid, mem_steady);
    CU_ASSERT_EQUAL(ctx.mem_cur_total, mem_steady);
    if (ctx.mem_peak_total > bound)
        fprintf(stderr, "\n  trace memory peak %zu bytes, bound %zu\n", ctx.mem_peak_total,
                bound);
    CU_ASSERT(ctx.mem_peak_total <= bound);
    size_t before_close = ctx.mem_cur_total;
    CU_ASSERT(before_close <= bound);
    CU_ASSERT_EQUAL(trace_close(&ctx, tr), SIM_OK);
    CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
    free(ids);

    hid_t f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    CU_ASSERT_EQUAL(check_appendable(f, "/spikes/big/timestamps", H5T_IEEE_F64LE),
                    (long long)nbig);
    size_t n1, n2;
    double *ts = read_all(f, "/spikes/big/timestamps", H5T_NATIVE_DOUBLE, 8, &n1);
    uint64_t *id = read_all(f, "/spikes/big/node_ids", H5T_NATIVE_UINT64, 8, &n2);
    CU_ASSERT_FATAL(ts && id);
    CU_ASSERT_EQUAL(n1, nbig);
    CU_ASSERT_EQUAL(n2, nbig);
    size_t k = 0, bad = 0;
    for (int t = 0; t < STEPS && k < n1 && k < n2; t++)
        for (int i = 0; i < 4096 && k < n1 && k < n2; i++) {
            if ((i + t) % 2)
                continue;
            if (ts[k] != (double)t || id[k] != (uint64_t)i) {
                if (!bad)
                    fprintf(stderr, "\n  big row %zu: (%g, %llu), expected (%d, %d)\n", k, ts[k],
                            (unsigned long long)id[k], t, i);
                bad++;
            }
            k++;
        }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(k, nbig);
    free(ts);
    free(id);
    uint64_t nsparse = 0;
    for (int t = 0; t < STEPS; t++)
        for (int i = 0; i < 1000; i++)
            nsparse += (13 * i + t) % 97 == 0;
    CU_ASSERT_EQUAL(check_appendable(f, "/spikes/sparse/node_ids", H5T_STD_U64LE),
                    (long long)nsparse);
    CU_ASSERT_EQUAL(check_appendable(f, "/samples", -1), STEPS / 10);
    CU_ASSERT_EQUAL(check_appendable(f, "/energy/counters", -1), 0);
    double dt = 0;
    H5T_class_t cls;
    CU_ASSERT(read_attr_num(f, "/meta", "dt_ms", H5T_NATIVE_DOUBLE, &dt, &cls) == 0 && dt == 1.0);
    H5Fclose(f);
    ctx_free(&ctx);
}

/* ---- atomic: nothing at the final path before close, no temporary after ---- */

static void test_atomic(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    const char *p = tpath("atomic.h5");
    trace_meta m = small_meta();
    trace *tr = NULL;
    CU_ASSERT_EQUAL_FATAL(trace_create(&ctx, &tr, p, &m, pop_names, pop_sizes, NPOP, proj_names,
                                       NPROJ), SIM_OK);
    CU_ASSERT(!harness_file_exists(p));
    CU_ASSERT(harness_file_exists(trace_tmp_path(tr)));
    CU_ASSERT_EQUAL(harness_count_files(tmpdir, "atomic.h5.tmp."), 1);
    int32_t ids[50];
    for (int i = 0; i < 50; i++)
        ids[i] = i;
    for (int t = 0; t < 3000; t++) /* 150000 spikes: two flushes into the temporary */
        CU_ASSERT_EQUAL_FATAL(trace_spikes(&ctx, tr, 0, t, ids, 50), SIM_OK);
    CU_ASSERT(!harness_file_exists(p));
    CU_ASSERT_EQUAL(trace_close(&ctx, tr), SIM_OK);
    CU_ASSERT(harness_file_exists(p));
    CU_ASSERT_EQUAL(harness_count_files(tmpdir, ".tmp."), 0);

    /* abort: an existing final file stays as it was */
    FILE *fp = fopen(p, "w");
    CU_ASSERT_FATAL(fp != NULL);
    fputs("old trace", fp);
    fclose(fp);
    CU_ASSERT_EQUAL_FATAL(trace_create(&ctx, &tr, p, &m, pop_names, pop_sizes, NPOP, proj_names,
                                       NPROJ), SIM_OK);
    for (int t = 0; t < 2000; t++)
        CU_ASSERT_EQUAL_FATAL(trace_spikes(&ctx, tr, 0, t, ids, 50), SIM_OK);
    CU_ASSERT_EQUAL(harness_count_files(tmpdir, ".tmp."), 1);
    trace_abort(&ctx, tr);
    CU_ASSERT_EQUAL(harness_count_files(tmpdir, ".tmp."), 0);
    char buf[32] = {0};
    fp = fopen(p, "r");
    CU_ASSERT_FATAL(fp != NULL);
    CU_ASSERT(fgets(buf, sizeof buf, fp) != NULL);
    fclose(fp);
    CU_ASSERT_STRING_EQUAL(buf, "old trace");
    trace_abort(&ctx, NULL); /* no-op */
    CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
    ctx_free(&ctx);
}

/* ---- unwritable paths fail in trace_create ---- */

static void test_unwritable(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    trace_meta m = small_meta();
    trace *tr = (trace *)&ctx; /* must be reset to NULL */
    const char *bad = "/nonexistent-trevsnn-dir/sub/trace.h5";
    CU_ASSERT_EQUAL(trace_create(&ctx, &tr, bad, &m, pop_names, pop_sizes, NPOP, proj_names,
                                 NPROJ), SIM_EIO);
    CU_ASSERT_PTR_NULL(tr);
    CHECK_MSG(&ctx, bad);
    CHECK_MSG(&ctx, "No such file or directory");
    /* a directory as the file name */
    CU_ASSERT_EQUAL(trace_create(&ctx, &tr, tmpdir, &m, pop_names, pop_sizes, NPOP, proj_names,
                                 NPROJ), SIM_EINVAL);
    CHECK_MSG(&ctx, tmpdir);
    CHECK_MSG(&ctx, "is a directory");
    /* a read-only directory (root may write anyway: then only the above) */
    const char *ro = tpath("readonly");
    CU_ASSERT_FATAL(mkdir(ro, 0555) == 0);
    char rop[600];
    snprintf(rop, sizeof rop, "%s/trace.h5", ro);
    if (geteuid() != 0) {
        CU_ASSERT_EQUAL(trace_create(&ctx, &tr, rop, &m, pop_names, pop_sizes, NPOP, proj_names,
                                     NPROJ), SIM_EIO);
        CHECK_MSG(&ctx, rop);
        CHECK_MSG(&ctx, "Permission denied");
    } else
        fprintf(stderr, "\n  (running as root: skipping the read-only directory case) ");
    rmdir(ro);
    CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
    CU_ASSERT_EQUAL(harness_count_files(tmpdir, ".tmp."), 0);
    ctx_free(&ctx);
}

/* ---- argument errors: reported, the trace stays as it was ---- */

static void test_argument_errors(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    const char *p = tpath("args.h5");
    trace_meta m = small_meta();
    trace *tr = NULL;
    /* bad creation arguments: nothing on disk */
    const char *const dup[2] = {"a", "a"};
    const char *const slash[2] = {"a", "b/c"};
    const int32_t sz[2] = {5, 5};
    CU_ASSERT_EQUAL(trace_create(&ctx, &tr, p, &m, dup, sz, 2, NULL, 0), SIM_EINVAL);
    CHECK_MSG(&ctx, "both named \"a\"");
    CU_ASSERT_EQUAL(trace_create(&ctx, &tr, p, &m, slash, sz, 2, NULL, 0), SIM_EINVAL);
    CHECK_MSG(&ctx, "invalid name \"b/c\"");
    trace_meta m0 = m;
    m0.T = 0;
    CU_ASSERT_EQUAL(trace_create(&ctx, &tr, p, &m0, pop_names, pop_sizes, NPOP, NULL, 0),
                    SIM_EINVAL);
    CHECK_MSG(&ctx, "expected T >= 1");
    m0 = m;
    m0.dt_ms = -1;
    CU_ASSERT_EQUAL(trace_create(&ctx, &tr, p, &m0, pop_names, pop_sizes, NPOP, NULL, 0),
                    SIM_EINVAL);
    CHECK_MSG(&ctx, "dt_ms");
    CU_ASSERT_EQUAL(harness_count_files(tmpdir, "args"), 0);

    CU_ASSERT_EQUAL_FATAL(trace_create(&ctx, &tr, p, &m, pop_names, pop_sizes, NPOP, proj_names,
                                       NPROJ), SIM_OK);
    int32_t ok_ids[3] = {1, 4, 49};
    CU_ASSERT_EQUAL(trace_spikes(&ctx, tr, 0, 5, ok_ids, 3), SIM_OK);
    CU_ASSERT_EQUAL(trace_spikes(&ctx, tr, 0, 4, ok_ids, 3), SIM_EINVAL);
    CHECK_MSG(&ctx, "L0.stream: timestep 4 after 5");
    int32_t unsorted[3] = {1, 7, 3};
    CU_ASSERT_EQUAL(trace_spikes(&ctx, tr, 0, 6, unsorted, 3), SIM_EINVAL);
    CHECK_MSG(&ctx, "not strictly ascending (3 after 7 at position 2)");
    int32_t range[3] = {1, 2, 50}; /* a valid prefix, then out of range */
    CU_ASSERT_EQUAL(trace_spikes(&ctx, tr, 0, 6, range, 3), SIM_EINVAL);
    CHECK_MSG(&ctx, "node id 50 out of range (0..49)");
    CU_ASSERT_EQUAL(trace_spikes(&ctx, tr, 3, 6, ok_ids, 3), SIM_EINVAL);
    CHECK_MSG(&ctx, "population 3 out of range (0..2)");
    CU_ASSERT_EQUAL(trace_spike_count(tr, 0), 3);
    trace_sample_row row = {.index = 7, .first_timestep = 4}; /* the first must start at 0 */
    CU_ASSERT_EQUAL(trace_sample(&ctx, tr, &row), SIM_EINVAL);
    CHECK_MSG(&ctx, "expected first_timestep 0");
    row.first_timestep = 0;
    CU_ASSERT_EQUAL(trace_sample(&ctx, tr, &row), SIM_OK);
    CU_ASSERT_EQUAL(trace_energy(&ctx, tr, -1, 0, NULL), SIM_EINVAL);
    /* the same timestep again must continue the ascending ids (no neuron
     * twice in a timestep: analysis/report.c relies on it); the packet
     * after the errors lands */
    int32_t more[2] = {0, 2};
    CU_ASSERT_EQUAL(trace_spikes(&ctx, tr, 0, 5, more, 2), SIM_EINVAL);
    CHECK_MSG(&ctx, "timestep 5: node id 0 after 49 in the same timestep");
    CU_ASSERT_EQUAL(trace_spikes(&ctx, tr, 0, 6, more, 2), SIM_OK);
    CU_ASSERT_EQUAL(trace_close(&ctx, tr), SIM_OK);

    hid_t f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    size_t n;
    uint64_t *id = read_all(f, "/spikes/L0.stream/node_ids", H5T_NATIVE_UINT64, 8, &n);
    CU_ASSERT_FATAL(id != NULL);
    CU_ASSERT_EQUAL(n, 5);
    if (n == 5)
        CU_ASSERT(id[0] == 1 && id[1] == 4 && id[2] == 49 && id[3] == 0 && id[4] == 2);
    free(id);
    CU_ASSERT_EQUAL(check_appendable(f, "/samples", -1), 1);
    H5Fclose(f);
    CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
    ctx_free(&ctx);
}

/* ---- a write failing half way (file size limit): sticky error, cleanup ---- */

/* In a child process, so that the file size limit stays there, and so does
 * HDF5 1.10's state after a failed chunk write (its free lists keep the
 * chunk buffer, and closing the library at exit would then complain). */
#define CHILD_CHECK(cond)                                                                        \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "\n  child: %s:%d: %s (last message: %s)\n", __FILE__, __LINE__,     \
                    #cond, ctx_errmsg(&ctx));                                                    \
            fails++;                                                                             \
        }                                                                                        \
    } while (0)

static int write_failure_child(const char *p)
{
    int fails = 0;
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    trace_meta m = small_meta();
    trace *tr = NULL;
    if (trace_create(&ctx, &tr, p, &m, pop_names, pop_sizes, NPOP, proj_names, NPROJ) != SIM_OK)
        return 1;
    struct rlimit lim;
    if (getrlimit(RLIMIT_FSIZE, &lim) != 0)
        return 1;
    lim.rlim_cur = 256 * 1024; /* the first flush (1 MiB) cannot fit */
    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
        return 1;
    int32_t ids[50];
    for (int i = 0; i < 50; i++)
        ids[i] = i;
    sim_status s = SIM_OK;
    int t = 0;
    for (; t < 5000 && s == SIM_OK; t++)
        s = trace_spikes(&ctx, tr, 0, t, ids, 50);
    CHILD_CHECK(s == SIM_ELIB);
    CHILD_CHECK(t == TRACE_CHUNK_SPIKES / 50 + 1); /* failed at the first flush */
    CHILD_CHECK(strstr(ctx_errmsg(&ctx), p) != NULL);
    CHILD_CHECK(strstr(ctx_errmsg(&ctx), "/spikes/L0.stream/timestamps") != NULL);
    /* every later call fails, repeating the first error */
    CHILD_CHECK(trace_spikes(&ctx, tr, 1, t, ids, 3) == SIM_ELIB);
    CHILD_CHECK(strstr(ctx_errmsg(&ctx), "unusable after an earlier error") != NULL);
    trace_sample_row row = {0};
    CHILD_CHECK(trace_sample(&ctx, tr, &row) == SIM_ELIB);
    CHILD_CHECK(trace_close(&ctx, tr) == SIM_ELIB);
    CHILD_CHECK(strstr(ctx_errmsg(&ctx), "/spikes/L0.stream/timestamps") != NULL);
    CHILD_CHECK(ctx.mem_cur_total == 0);
    ctx_free(&ctx);
    return fails;
}

static void test_write_failure(void)
{
    const char *p = tpath("full.h5");
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0)
        _exit(write_failure_child(p) ? 1 : 0);
    int status = 0;
    CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CU_ASSERT(!harness_file_exists(p));
    CU_ASSERT_EQUAL(harness_count_files(tmpdir, ".tmp."), 0);
}

/* ---- out of memory at every allocation: clean failure, nothing left ---- */

static void test_out_of_memory(void)
{
    harness_failing fl = {0, 0};
    sim_ctx ctx;
    CU_ASSERT_EQUAL_FATAL(ctx_init_alloc(&ctx, 1, harness_failing_alloc, &fl), SIM_OK);
    const char *p = tpath("oom.h5");
    int succeeded = 0;
    for (long budget = 0; budget < 20 && !succeeded; budget++) {
        fl.budget = budget;
        sim_status s = write_small(&ctx, p);
        CU_ASSERT(s == SIM_OK || s == SIM_ENOMEM);
        if (s == SIM_ENOMEM)
            CHECK_MSG(&ctx, "out of memory");
        CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
        CU_ASSERT_EQUAL(harness_count_files(tmpdir, ".tmp."), 0);
        CU_ASSERT_EQUAL(harness_file_exists(p), s == SIM_OK);
        succeeded = s == SIM_OK;
    }
    CU_ASSERT(succeeded);
    ctx_free(&ctx);
}

int main(void)
{
    static const harness_test tests[] = {
        {"layout, dtypes, sorting enum, every spike, samples, energy, meta",
         test_layout_and_values},
        {"h5py (and bmtk if installed) read the trace", test_h5py_reads},
        {"two million spikes stream with bounded memory", test_large_stream},
        {"atomic: final path only after close, no temporary left", test_atomic},
        {"unwritable path fails in trace_create naming it", test_unwritable},
        {"argument errors leave the trace intact", test_argument_errors},
        {"a failed write: sticky error, temporary removed", test_write_failure},
        {"out of memory at every allocation", test_out_of_memory},
        {NULL, NULL},
    };
    make_tmpdir();
    int rc = harness_run("io/trace", tests);
    harness_rmtree(tmpdir);
    return rc;
}
