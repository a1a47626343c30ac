/* report.c - read and validate a spike trace and reduce it to per
 * population, per projection and per image figures (see report.h).
 *
 * Attributes go through io/h5.h's checked getters; datasets are read here
 * with the HDF5 C API, because io/h5.h has no compound, uint64 or string
 * readers: every dataset is checked (rank 1, type class, compound members
 * by name) before anything is sized from it, and HDF5's automatic error
 * printing is off while report_load runs. */
#include "report.h"

#include <assert.h>
#include <gsl/gsl_histogram.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/h5.h"
#include "io/json.h"

/* One row of /energy/counters in memory. */
typedef struct {
    int64_t sample, timestep;
    int32_t projection;
    uint64_t events, acs, macs;
    double sop;
} counter_row;

/* A compound member we need: name, stored class, place in memory. */
typedef struct {
    const char *name;
    H5T_class_t cls;
    size_t off;
    hid_t mem;
} member;

/* ---- messages ---- */

/* A format error: "PATH: <message>". */
static sim_status bad(sim_ctx *ctx, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static sim_status bad(sim_ctx *ctx, const char *path, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ctx_error(ctx, SIM_EFORMAT, "%s: %s", path, msg);
}

/* An HDF5 call failed on an object: "PATH: OBJ: cannot WHAT: detail". */
static sim_status lib_fail(sim_ctx *ctx, const char *path, const char *obj, const char *what)
{
    char det[200];
    h5_error_detail(det, sizeof det);
    return ctx_error(ctx, SIM_EFORMAT, "%s: %s: cannot %s (HDF5: %s)", path, obj, what, det);
}

static const char *class_name(H5T_class_t c)
{
    switch (c) {
    case H5T_INTEGER: return "an integer";
    case H5T_FLOAT: return "a float";
    case H5T_STRING: return "a string";
    case H5T_COMPOUND: return "a compound";
    case H5T_ENUM: return "an enum";
    case H5T_ARRAY: return "an array";
    case H5T_VLEN: return "a variable-length sequence";
    case H5T_BITFIELD: return "a bitfield";
    case H5T_OPAQUE: return "an opaque type";
    case H5T_REFERENCE: return "a reference";
    case H5T_TIME: return "a time";
    default: return "an unknown type";
    }
}

static void close_id(hid_t *id, herr_t (*fn)(hid_t))
{
    if (*id >= 0)
        fn(*id);
    *id = H5I_INVALID_HID;
}

/* ---- datasets ---- */

/* Open the 1-D dataset `name` whose type class must be cls; its length into
 * *len and (if ftype is not NULL) its file type into *ftype. */
static sim_status open_1d(sim_ctx *ctx, const h5_file *f, const char *name, H5T_class_t cls,
                          const char *what, hid_t *d, hsize_t *len, hid_t *ftype)
{
    *d = H5I_INVALID_HID;
    if (ftype)
        *ftype = H5I_INVALID_HID;
    if (!h5_exists(f, name))
        return bad(ctx, f->path, "not a trevsnn trace: dataset %s missing (expected %s)", name,
                   what);
    if ((*d = H5Dopen2(f->id, name, H5P_DEFAULT)) < 0)
        return bad(ctx, f->path, "%s: expected a dataset (%s), found another kind of object",
                   name, what);
    hid_t sp = H5Dget_space(*d), t = H5Dget_type(*d);
    sim_status s = SIM_OK;
    if (sp < 0 || t < 0) {
        s = lib_fail(ctx, f->path, name, "read the shape and type");
    } else {
        int nd = H5Sget_simple_extent_ndims(sp);
        hsize_t dims[H5S_MAX_RANK];
        if (nd != 1 || H5Sget_simple_extent_dims(sp, dims, NULL) != 1)
            s = bad(ctx, f->path, "%s: expected a 1-D dataset (%s), found rank %d", name, what,
                    nd);
        else if (H5Tget_class(t) != cls)
            s = bad(ctx, f->path, "%s: expected %s (%s), found %s", name, class_name(cls), what,
                    class_name(H5Tget_class(t)));
        else
            *len = dims[0];
    }
    if (sp >= 0)
        H5Sclose(sp);
    if (s == SIM_OK && ftype)
        *ftype = t;
    else if (t >= 0)
        H5Tclose(t);
    if (s != SIM_OK)
        close_id(d, H5Dclose);
    return s;
}

/* Check that the compound file type of `name` has every member of m with
 * its class, and build the memory type (size msize) reading them. */
static sim_status member_type(sim_ctx *ctx, const h5_file *f, const char *name, hid_t ftype,
                              const member *m, int n, size_t msize, hid_t *mt)
{
    *mt = H5I_INVALID_HID;
    for (int i = 0; i < n; i++) {
        int k = H5Tget_member_index(ftype, m[i].name);
        if (k < 0)
            return bad(ctx, f->path, "%s: member %s missing (expected %s)", name, m[i].name,
                       class_name(m[i].cls));
        H5T_class_t c = H5Tget_member_class(ftype, (unsigned)k);
        if (c != m[i].cls)
            return bad(ctx, f->path, "%s: member %s: expected %s, found %s", name, m[i].name,
                       class_name(m[i].cls), class_name(c));
    }
    if ((*mt = H5Tcreate(H5T_COMPOUND, msize)) < 0)
        return lib_fail(ctx, f->path, name, "build a row type for");
    for (int i = 0; i < n; i++)
        if (H5Tinsert(*mt, m[i].name, m[i].off, m[i].mem) < 0) {
            close_id(mt, H5Tclose);
            return lib_fail(ctx, f->path, name, "build a row type for");
        }
    return SIM_OK;
}

/* Read rows [start, start + n) of the 1-D dataset d as memory type mt. */
static sim_status read_rows(sim_ctx *ctx, const h5_file *f, const char *name, hid_t d, hid_t mt,
                            hsize_t start, hsize_t n, void *buf)
{
    if (n == 0)
        return SIM_OK;
    hid_t fsp = H5Dget_space(d), msp = H5Screate_simple(1, &n, NULL);
    sim_status s = SIM_OK;
    if (fsp < 0 || msp < 0 ||
        H5Sselect_hyperslab(fsp, H5S_SELECT_SET, &start, NULL, &n, NULL) < 0 ||
        H5Dread(d, mt, msp, fsp, H5P_DEFAULT, buf) < 0)
        s = lib_fail(ctx, f->path, name, "read rows of");
    if (msp >= 0)
        H5Sclose(msp);
    if (fsp >= 0)
        H5Sclose(fsp);
    return s;
}

static char *dup_str(sim_ctx *ctx, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = mem_alloc(ctx, MEM_META, n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* ---- the pieces of a trace ---- */

static sim_status read_root(sim_ctx *ctx, const h5_file *f, report *r)
{
    char *fmt = NULL;
    if (h5_get_attr_str(ctx, f, "/", "format", &fmt) != SIM_OK)
        return bad(ctx, f->path, "not a trevsnn trace: root attribute format missing or not a "
                   "string (expected \"%s\")", TRACE_FORMAT);
    int ok = !strcmp(fmt, TRACE_FORMAT);
    sim_status s = ok ? SIM_OK : bad(ctx, f->path, "not a trevsnn trace: format is \"%.80s\", "
                                     "expected \"%s\"", fmt, TRACE_FORMAT);
    mem_free(ctx, fmt);
    if (s != SIM_OK)
        return s;
    int64_t v;
    if (h5_get_attr_int(ctx, f, "/", "version", &v) != SIM_OK)
        return bad(ctx, f->path, "trace: root attribute version missing or not an integer "
                   "(expected %d)", TRACE_VERSION);
    if (v < 1 || v > TRACE_VERSION)
        return bad(ctx, f->path, "trace version %lld, expected 1..%d (written by a newer "
                   "program?)", (long long)v, TRACE_VERSION);
    static const char *const groups[] = {"/spikes", "/energy", "/meta"};
    for (size_t i = 0; i < sizeof groups / sizeof *groups; i++)
        if (!h5_exists(f, groups[i]))
            return bad(ctx, f->path, "not a trevsnn trace: group %s missing", groups[i]);
    /* /meta: T and dt_ms are needed, the strings are for display */
    int64_t T;
    double dt;
    if (h5_get_attr_int(ctx, f, "/meta", "T", &T) != SIM_OK)
        return bad(ctx, f->path, "trace: /meta attribute T missing or not an integer");
    if (T < 1 || T > REPORT_MAX_T)
        return bad(ctx, f->path, "trace: /meta T = %lld, expected 1..%d", (long long)T,
                   REPORT_MAX_T);
    if (h5_get_attr_double(ctx, f, "/meta", "dt_ms", &dt) != SIM_OK)
        return bad(ctx, f->path, "trace: /meta attribute dt_ms missing or not a number");
    if (!isfinite(dt) || dt <= 0)
        return bad(ctx, f->path, "trace: /meta dt_ms = %g, expected a finite number > 0", dt);
    r->T = (int)T;
    r->dt_ms = dt;
    char **strs[] = {&r->preset, &r->checkpoint, &r->checksum, &r->version, &r->command_line};
    static const char *const names[] = {"preset", "checkpoint", "checksum", "version",
                                        "command_line"};
    for (int i = 0; i < 5; i++)
        if (h5_get_attr_str(ctx, f, "/meta", names[i], strs[i]) != SIM_OK &&
            !(*strs[i] = dup_str(ctx, "")))
            return SIM_ENOMEM;
    if (h5_get_attr_double(ctx, f, "/energy", "e_mac_pj", &r->e_mac_pj) != SIM_OK ||
        h5_get_attr_double(ctx, f, "/energy", "e_ac_pj", &r->e_ac_pj) != SIM_OK)
        return bad(ctx, f->path, "trace: /energy attributes e_mac_pj and e_ac_pj (numbers) "
                   "expected: %s", ctx_errmsg(ctx));
    if (!isfinite(r->e_mac_pj) || !isfinite(r->e_ac_pj))
        return bad(ctx, f->path, "trace: /energy constants must be finite, found %g and %g",
                   r->e_mac_pj, r->e_ac_pj);
    return SIM_OK;
}

static sim_status read_samples(sim_ctx *ctx, const h5_file *f, report *r)
{
    const char *name = "/samples";
    hid_t d, ft, mt = H5I_INVALID_HID;
    hsize_t n;
    sim_status s = open_1d(ctx, f, name, H5T_COMPOUND, "a table of images", &d, &n, &ft);
    if (s != SIM_OK)
        return s;
    const member m[] = {
        {"index", H5T_INTEGER, offsetof(trace_sample_row, index), H5T_NATIVE_INT64},
        {"first_timestep", H5T_INTEGER, offsetof(trace_sample_row, first_timestep),
         H5T_NATIVE_INT64},
        {"label", H5T_INTEGER, offsetof(trace_sample_row, label), H5T_NATIVE_INT32},
        {"prediction", H5T_INTEGER, offsetof(trace_sample_row, prediction), H5T_NATIVE_INT32},
        {"spikes", H5T_INTEGER, offsetof(trace_sample_row, spikes), H5T_NATIVE_UINT64},
        {"energy_pj", H5T_FLOAT, offsetof(trace_sample_row, energy_pj), H5T_NATIVE_DOUBLE},
        {"energy_lit_pj", H5T_FLOAT, offsetof(trace_sample_row, energy_lit_pj),
         H5T_NATIVE_DOUBLE},
    };
    s = member_type(ctx, f, name, ft, m, (int)(sizeof m / sizeof *m), sizeof(trace_sample_row),
                    &mt);
    if (s == SIM_OK && n > REPORT_MAX_SAMPLES)
        s = bad(ctx, f->path, "%s: %llu images, expected at most %d", name,
                (unsigned long long)n, REPORT_MAX_SAMPLES);
    if (s == SIM_OK && n > 0 &&
        !(r->samples = mem_calloc(ctx, MEM_DATA, (size_t)n, sizeof *r->samples)))
        s = SIM_ENOMEM;
    if (s == SIM_OK)
        s = read_rows(ctx, f, name, d, mt, 0, n, r->samples);
    if (s == SIM_OK)
        r->nsamples = (int64_t)n;
    for (int64_t i = 0; i < r->nsamples && s == SIM_OK; i++) {
        const trace_sample_row *sm = &r->samples[i];
        if (sm->first_timestep != i * r->T)
            s = bad(ctx, f->path, "%s row %lld: first_timestep %lld, expected %lld (image i "
                    "occupies timesteps i*T..i*T+T-1, T=%d)", name, (long long)i,
                    (long long)sm->first_timestep, (long long)(i * r->T), r->T);
        else if (!isfinite(sm->energy_pj) || !isfinite(sm->energy_lit_pj))
            s = bad(ctx, f->path, "%s row %lld: energy is not finite", name, (long long)i);
        else {
            r->correct += sm->prediction == sm->label;
            r->sample_spikes += sm->spikes;
            r->energy_pj += sm->energy_pj;
            r->energy_lit_pj += sm->energy_lit_pj;
        }
    }
    close_id(&mt, H5Tclose);
    close_id(&ft, H5Tclose);
    close_id(&d, H5Dclose);
    return s;
}

/* /energy/projections: names (variable- or fixed-length strings). */
static sim_status read_proj_names(sim_ctx *ctx, const h5_file *f, report *r)
{
    const char *name = "/energy/projections";
    hid_t d, ft, mt = H5I_INVALID_HID, sp = H5I_INVALID_HID;
    hsize_t n;
    sim_status s = open_1d(ctx, f, name, H5T_STRING, "projection names", &d, &n, &ft);
    if (s != SIM_OK)
        return s;
    char **vbuf = NULL;
    char *fbuf = NULL;
    size_t fsize = 0;
    if (n > REPORT_MAX_PROJS)
        s = bad(ctx, f->path, "%s: %llu projections, expected at most %d", name,
                (unsigned long long)n, REPORT_MAX_PROJS);
    if (s == SIM_OK && n > 0 &&
        !(r->projs = mem_calloc(ctx, MEM_META, (size_t)n, sizeof *r->projs)))
        s = SIM_ENOMEM;
    htri_t var = s == SIM_OK ? H5Tis_variable_str(ft) : 0;
    if (s == SIM_OK && (var < 0 || (mt = H5Tcopy(H5T_C_S1)) < 0))
        s = lib_fail(ctx, f->path, name, "read the type of");
    if (s == SIM_OK && n > 0 && var) {
        if (!(vbuf = mem_calloc(ctx, MEM_SCRATCH, (size_t)n, sizeof *vbuf)))
            s = SIM_ENOMEM;
        else if (H5Tset_size(mt, H5T_VARIABLE) < 0 || H5Tset_cset(mt, H5Tget_cset(ft)) < 0 ||
                 H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, vbuf) < 0)
            s = lib_fail(ctx, f->path, name, "read");
    } else if (s == SIM_OK && n > 0) {
        fsize = H5Tget_size(ft);
        if (fsize == 0 || fsize > REPORT_MAX_NAME)
            s = bad(ctx, f->path, "%s: strings of %zu bytes, expected 1..%d", name, fsize,
                    REPORT_MAX_NAME);
        else if (!(fbuf = mem_calloc(ctx, MEM_SCRATCH, (size_t)n, fsize + 1)))
            s = SIM_ENOMEM;
        else if (H5Tset_size(mt, fsize + 1) < 0 || H5Tset_strpad(mt, H5T_STR_NULLTERM) < 0 ||
                 H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, fbuf) < 0)
            s = lib_fail(ctx, f->path, name, "read");
    }
    for (hsize_t j = 0; j < n && s == SIM_OK; j++) {
        const char *nm = var ? vbuf[j] : fbuf + j * (fsize + 1);
        if (!nm)
            nm = "";
        if (strlen(nm) > REPORT_MAX_NAME)
            s = bad(ctx, f->path, "%s[%llu]: name longer than %d bytes", name,
                    (unsigned long long)j, REPORT_MAX_NAME);
        else if (!(r->projs[j].name = dup_str(ctx, nm)))
            s = SIM_ENOMEM;
        else
            r->nproj = (int)j + 1;
    }
    if (vbuf) {
        if ((sp = H5Dget_space(d)) >= 0)
            H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, vbuf);
        mem_free(ctx, vbuf);
    }
    mem_free(ctx, fbuf);
    close_id(&sp, H5Sclose);
    close_id(&mt, H5Tclose);
    close_id(&ft, H5Tclose);
    close_id(&d, H5Dclose);
    return s;
}

/* /energy/counters, streamed: sums per projection. */
static sim_status read_counters(sim_ctx *ctx, const h5_file *f, report *r)
{
    const char *name = "/energy/counters";
    hid_t d, ft, mt = H5I_INVALID_HID;
    hsize_t n;
    sim_status s = open_1d(ctx, f, name, H5T_COMPOUND, "a table of counters", &d, &n, &ft);
    if (s != SIM_OK)
        return s;
    const member m[] = {
        {"sample", H5T_INTEGER, offsetof(counter_row, sample), H5T_NATIVE_INT64},
        {"timestep", H5T_INTEGER, offsetof(counter_row, timestep), H5T_NATIVE_INT64},
        {"projection", H5T_INTEGER, offsetof(counter_row, projection), H5T_NATIVE_INT32},
        {"events", H5T_INTEGER, offsetof(counter_row, events), H5T_NATIVE_UINT64},
        {"acs", H5T_INTEGER, offsetof(counter_row, acs), H5T_NATIVE_UINT64},
        {"macs", H5T_INTEGER, offsetof(counter_row, macs), H5T_NATIVE_UINT64},
        {"sop", H5T_FLOAT, offsetof(counter_row, sop), H5T_NATIVE_DOUBLE},
    };
    s = member_type(ctx, f, name, ft, m, (int)(sizeof m / sizeof *m), sizeof(counter_row), &mt);
    /* at most one row per image, timestep and projection */
    double most = (double)r->nsamples * r->T * r->nproj;
    if (s == SIM_OK && (double)n > most)
        s = bad(ctx, f->path, "%s: %llu rows, expected at most %.0f (images x T x projections)",
                name, (unsigned long long)n, most);
    counter_row *buf = NULL;
    if (s == SIM_OK && n > 0 &&
        !(buf = mem_calloc(ctx, MEM_SCRATCH, REPORT_BLOCK, sizeof *buf)))
        s = SIM_ENOMEM;
    for (hsize_t start = 0; start < n && s == SIM_OK; start += REPORT_BLOCK) {
        hsize_t k = n - start < REPORT_BLOCK ? n - start : REPORT_BLOCK;
        s = read_rows(ctx, f, name, d, mt, start, k, buf);
        for (hsize_t i = 0; i < k && s == SIM_OK; i++) {
            const counter_row *c = &buf[i];
            if (c->projection < 0 || c->projection >= r->nproj || c->sample < 0 ||
                c->sample >= r->nsamples || c->timestep < 0 || c->timestep >= r->T ||
                !isfinite(c->sop) || c->sop < 0) {
                s = bad(ctx, f->path, "%s row %llu: projection %d, image %lld, timestep %lld, "
                        "sop %g; expected projection 0..%d, image 0..%lld, timestep 0..%d, "
                        "sop >= 0", name, (unsigned long long)(start + i), (int)c->projection,
                        (long long)c->sample, (long long)c->timestep, c->sop, r->nproj - 1,
                        (long long)r->nsamples - 1, r->T - 1);
                break;
            }
            report_proj *p = &r->projs[c->projection];
            p->events += c->events;
            p->acs += c->acs;
            p->macs += c->macs;
            p->sop += c->sop;
        }
    }
    if (s == SIM_OK)
        r->energy_rows = (int64_t)n;
    mem_free(ctx, buf);
    close_id(&mt, H5Tclose);
    close_id(&ft, H5Tclose);
    close_id(&d, H5Dclose);
    for (int j = 0; j < r->nproj && s == SIM_OK; j++) {
        report_proj *p = &r->projs[j];
        p->graded = p->macs > 0;
        p->energy_pj = r->e_mac_pj * (double)p->macs + r->e_ac_pj * (double)p->acs;
        p->energy_lit_pj = p->sop * (p->graded ? r->e_mac_pj : r->e_ac_pj);
        r->proj_energy_pj += p->energy_pj;
        r->proj_energy_lit_pj += p->energy_lit_pj;
    }
    return s;
}

/* The population names under /spikes and their n_nodes. */
static sim_status read_pop_list(sim_ctx *ctx, const h5_file *f, report *r)
{
    hid_t g = H5Gopen2(f->id, "/spikes", H5P_DEFAULT);
    if (g < 0)
        return bad(ctx, f->path, "/spikes: expected a group of populations, found another kind "
                   "of object");
    H5G_info_t info;
    sim_status s = SIM_OK;
    if (H5Gget_info(g, &info) < 0)
        s = lib_fail(ctx, f->path, "/spikes", "list");
    else if (info.nlinks < 1 || info.nlinks > REPORT_MAX_POPS)
        s = bad(ctx, f->path, "/spikes: %llu populations, expected 1..%d",
                (unsigned long long)info.nlinks, REPORT_MAX_POPS);
    else if (!(r->pops = mem_calloc(ctx, MEM_META, (size_t)info.nlinks, sizeof *r->pops)))
        s = SIM_ENOMEM;
    char nm[REPORT_MAX_NAME + 1], path[REPORT_MAX_NAME + 16];
    for (hsize_t i = 0; s == SIM_OK && i < info.nlinks; i++) {
        ssize_t len = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, NULL, 0,
                                         H5P_DEFAULT);
        if (len < 1 || len > REPORT_MAX_NAME) {
            s = bad(ctx, f->path, "/spikes: population %llu: name of %lld bytes, expected "
                    "1..%d", (unsigned long long)i, (long long)len, REPORT_MAX_NAME);
            break;
        }
        if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, nm, sizeof nm,
                               H5P_DEFAULT) < 0) {
            s = lib_fail(ctx, f->path, "/spikes", "list");
            break;
        }
        report_pop *p = &r->pops[i];
        if (!(p->name = dup_str(ctx, nm))) {
            s = SIM_ENOMEM;
            break;
        }
        r->npop = (int)i + 1;
        snprintf(path, sizeof path, "/spikes/%s", nm);
        int64_t nn;
        if (h5_get_attr_int(ctx, f, path, "n_nodes", &nn) != SIM_OK)
            s = bad(ctx, f->path, "%s: attribute n_nodes (integer) expected: %s", path,
                    ctx_errmsg(ctx));
        else if (nn < 0 || nn > REPORT_MAX_NODES - r->n_nodes)
            s = bad(ctx, f->path, "%s: n_nodes %lld, expected 0..%lld (all populations "
                    "together)", path, (long long)nn, (long long)(REPORT_MAX_NODES - r->n_nodes));
        else if (!(p->spikes_t = mem_calloc(ctx, MEM_DATA, (size_t)r->T, sizeof *p->spikes_t)))
            s = SIM_ENOMEM;
        else {
            p->n_nodes = nn;
            r->n_nodes += nn;
        }
    }
    H5Gclose(g);
    return s;
}

/* Keep one spike of the selected image. At most one spike per neuron and
 * timestep, so img_n never exceeds n_nodes x T. */
static sim_status keep_spike(sim_ctx *ctx, const char *path, report_pop *p, int T, int32_t t,
                             int32_t id)
{
    if (p->img_n == p->img_cap) {
        int64_t most = p->n_nodes * T;
        if (p->img_cap >= most)
            return bad(ctx, path, "/spikes/%s: more than n_nodes x T = %lld spikes in one image "
                       "(a neuron spiking twice in a timestep?)", p->name, (long long)most);
        int64_t cap = p->img_cap ? 2 * p->img_cap : 4096;
        if (cap > most)
            cap = most;
        int32_t *nt = mem_calloc(ctx, MEM_DATA, (size_t)cap, sizeof *nt);
        int32_t *ni = mem_calloc(ctx, MEM_DATA, (size_t)cap, sizeof *ni);
        if (!nt || !ni) {
            mem_free(ctx, nt);
            mem_free(ctx, ni);
            return SIM_ENOMEM;
        }
        if (p->img_n) {
            memcpy(nt, p->img_t, (size_t)p->img_n * sizeof *nt);
            memcpy(ni, p->img_id, (size_t)p->img_n * sizeof *ni);
        }
        mem_free(ctx, p->img_t);
        mem_free(ctx, p->img_id);
        p->img_t = nt;
        p->img_id = ni;
        p->img_cap = cap;
    }
    p->img_t[p->img_n] = t;
    p->img_id[p->img_n++] = id;
    return SIM_OK;
}

/* Stream the spikes of population p: counts per timestep within the image,
 * silent neurons, and the selected image's spikes. seen: (n_nodes) bytes,
 * tbuf / ibuf: (REPORT_BLOCK) scratch. */
static sim_status read_pop_spikes(sim_ctx *ctx, const h5_file *f, report *r, report_pop *p,
                                  unsigned char *seen, double *tbuf, uint64_t *ibuf)
{
    char ts_name[REPORT_MAX_NAME + 32], id_name[REPORT_MAX_NAME + 32];
    snprintf(ts_name, sizeof ts_name, "/spikes/%s/timestamps", p->name);
    snprintf(id_name, sizeof id_name, "/spikes/%s/node_ids", p->name);
    hid_t dts, dids;
    hsize_t nts, nids;
    sim_status s = open_1d(ctx, f, ts_name, H5T_FLOAT, "spike times in ms", &dts, &nts, NULL);
    if (s != SIM_OK)
        return s;
    s = open_1d(ctx, f, id_name, H5T_INTEGER, "node ids", &dids, &nids, NULL);
    if (s != SIM_OK) {
        H5Dclose(dts);
        return s;
    }
    const int64_t steps = r->nsamples * r->T;
    const double most = (double)p->n_nodes * (double)steps;
    if (nts != nids)
        s = bad(ctx, f->path, "/spikes/%s: %llu timestamps but %llu node ids, expected as many",
                p->name, (unsigned long long)nts, (unsigned long long)nids);
    else if ((double)nts > most)
        s = bad(ctx, f->path, "/spikes/%s: %llu spikes, expected at most n_nodes x timesteps = "
                "%.0f", p->name, (unsigned long long)nts, most);
    int64_t lo = -1, hi = -1; /* the selected image's timesteps */
    if (r->image >= 0) {
        lo = r->samples[r->image].first_timestep;
        hi = lo + r->T;
    }
    memset(seen, 0, (size_t)p->n_nodes);
    /* the order trace_spikes writes (by_time; ascending ids within a
     * timestep): so no neuron spikes twice in a timestep, and a file that
     * claims many rows without holding them (HDF5 fill values: all 0) fails
     * at its second row instead of being read for hours */
    int64_t prev_t = -1;
    uint64_t prev_id = 0;
    for (hsize_t start = 0; start < nts && s == SIM_OK; start += REPORT_BLOCK) {
        hsize_t k = nts - start < REPORT_BLOCK ? nts - start : REPORT_BLOCK;
        s = read_rows(ctx, f, ts_name, dts, H5T_NATIVE_DOUBLE, start, k, tbuf);
        if (s == SIM_OK)
            s = read_rows(ctx, f, id_name, dids, H5T_NATIVE_UINT64, start, k, ibuf);
        for (hsize_t i = 0; i < k && s == SIM_OK; i++) {
            double q = tbuf[i] / r->dt_ms;
            if (!(q > -0.5 && q < (double)steps - 0.5)) {
                s = bad(ctx, f->path, "%s[%llu]: %g ms is not within the %lld timesteps of "
                        "dt %g ms that /samples covers", ts_name,
                        (unsigned long long)(start + i), tbuf[i], (long long)steps, r->dt_ms);
                break;
            }
            if (ibuf[i] >= (uint64_t)p->n_nodes) {
                s = bad(ctx, f->path, "%s[%llu]: node id %llu, expected 0..%lld", id_name,
                        (unsigned long long)(start + i), (unsigned long long)ibuf[i],
                        (long long)p->n_nodes - 1);
                break;
            }
            int64_t t = llround(q);
            if (t < prev_t || (t == prev_t && ibuf[i] <= prev_id)) {
                s = bad(ctx, f->path, "/spikes/%s[%llu]: spike (timestep %lld, node %llu) after "
                        "(timestep %lld, node %llu); expected timesteps that do not decrease "
                        "and node ids strictly ascending within a timestep", p->name,
                        (unsigned long long)(start + i), (long long)t,
                        (unsigned long long)ibuf[i], (long long)prev_t,
                        (unsigned long long)prev_id);
                break;
            }
            prev_t = t;
            prev_id = ibuf[i];
            p->spikes_t[t % r->T]++;
            seen[ibuf[i]] = 1;
            if (t >= lo && t < hi)
                s = keep_spike(ctx, f->path, p, r->T, (int32_t)(t - lo), (int32_t)ibuf[i]);
        }
    }
    H5Dclose(dts);
    H5Dclose(dids);
    if (s != SIM_OK)
        return s;
    p->spikes = nts;
    r->spikes += nts;
    p->silent = 0;
    for (int64_t i = 0; i < p->n_nodes; i++)
        p->silent += !seen[i];
    return SIM_OK;
}

/* ---- ordering and statistics ---- */

/* Network order: the first projection "SRC->DST" whose DST is the name. */
static int first_target(const report *r, const char *name)
{
    size_t n = strlen(name);
    for (int j = 0; j < r->nproj; j++) {
        const char *arrow = strstr(r->projs[j].name, "->");
        if (arrow && strlen(arrow + 2) == n && !memcmp(arrow + 2, name, n))
            return j;
    }
    return -1;
}

static int cmp_pop(const void *a, const void *b)
{
    const report_pop *x = a, *y = b;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void histogram(report_hist *h, const double *x, int64_t n, const summary *sm)
{
    memset(h, 0, sizeof *h);
    h->nbins = REPORT_HIST_BINS;
    if (n == 0)
        return;
    h->lo = sm->min;
    h->hi = sm->max > sm->min ? sm->max : sm->min + 1;
    gsl_histogram *g = gsl_histogram_alloc(REPORT_HIST_BINS);
    if (!g)
        return;
    gsl_histogram_set_ranges_uniform(g, h->lo, h->hi);
    uint64_t top = 0; /* the maximum itself: GSL's bins are half-open */
    for (int64_t i = 0; i < n; i++) {
        if (x[i] >= h->hi)
            top++;
        else
            gsl_histogram_increment(g, x[i]);
    }
    for (int b = 0; b < REPORT_HIST_BINS; b++)
        h->counts[b] = (uint64_t)gsl_histogram_get(g, (size_t)b);
    h->counts[REPORT_HIST_BINS - 1] += top;
    gsl_histogram_free(g);
}

static sim_status image_stats(sim_ctx *ctx, report *r)
{
    size_t n = (size_t)r->nsamples;
    if (n == 0)
        return SIM_OK;
    double *x = mem_calloc(ctx, MEM_SCRATCH, n, sizeof *x);
    double *scr = mem_calloc(ctx, MEM_SCRATCH, n, sizeof *scr);
    if (!x || !scr) {
        mem_free(ctx, x);
        mem_free(ctx, scr);
        return SIM_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        x[i] = (double)r->samples[i].spikes;
    summary_of(&r->spikes_stats, x, n, scr);
    histogram(&r->spikes_hist, x, (int64_t)n, &r->spikes_stats);
    for (size_t i = 0; i < n; i++)
        x[i] = r->samples[i].energy_pj;
    summary_of(&r->energy_stats, x, n, scr);
    histogram(&r->energy_hist, x, (int64_t)n, &r->energy_stats);
    for (size_t i = 0; i < n; i++)
        x[i] = r->samples[i].energy_lit_pj;
    summary_of(&r->energy_lit_stats, x, n, scr);
    mem_free(ctx, x);
    mem_free(ctx, scr);
    return SIM_OK;
}

/* ---- public ---- */

static sim_status load(sim_ctx *ctx, const h5_file *f, report *r, const report_opts *opts)
{
    sim_status s;
    if ((s = read_root(ctx, f, r)) != SIM_OK || (s = read_samples(ctx, f, r)) != SIM_OK)
        return s;
    if (opts && opts->image >= 0) {
        if (opts->image >= r->nsamples)
            return ctx_error(ctx, SIM_ERANGE, "%s: image %lld requested, the trace holds %lld "
                             "images (0..%lld)", f->path, (long long)opts->image,
                             (long long)r->nsamples, (long long)r->nsamples - 1);
        r->image = opts->image;
    }
    if ((s = read_proj_names(ctx, f, r)) != SIM_OK || (s = read_counters(ctx, f, r)) != SIM_OK ||
        (s = read_pop_list(ctx, f, r)) != SIM_OK)
        return s;
    int64_t most = 0;
    for (int p = 0; p < r->npop; p++)
        most = r->pops[p].n_nodes > most ? r->pops[p].n_nodes : most;
    unsigned char *seen = mem_alloc(ctx, MEM_SCRATCH, (size_t)most + 1);
    double *tbuf = mem_calloc(ctx, MEM_SCRATCH, REPORT_BLOCK, sizeof *tbuf);
    uint64_t *ibuf = mem_calloc(ctx, MEM_SCRATCH, REPORT_BLOCK, sizeof *ibuf);
    s = seen && tbuf && ibuf ? SIM_OK : SIM_ENOMEM;
    for (int p = 0; p < r->npop && s == SIM_OK; p++)
        s = read_pop_spikes(ctx, f, r, &r->pops[p], seen, tbuf, ibuf);
    mem_free(ctx, seen);
    mem_free(ctx, tbuf);
    mem_free(ctx, ibuf);
    if (s != SIM_OK)
        return s;
    for (int p = 0; p < r->npop; p++)
        r->pops[p].order = first_target(r, r->pops[p].name);
    qsort(r->pops, (size_t)r->npop, sizeof *r->pops, cmp_pop);
    return image_stats(ctx, r);
}

sim_status report_load(sim_ctx *ctx, report *r, const char *path, const report_opts *opts)
{
    assert(ctx && r);
    memset(r, 0, sizeof *r);
    r->image = -1;
    if (!path || !*path)
        return ctx_error(ctx, SIM_EINVAL, "analyze: no trace file given");
    snprintf(r->path, sizeof r->path, "%s", path);
    h5_file f;
    sim_status s = h5_open_read(ctx, &f, path);
    /* a readable file HDF5 cannot open: most likely cut short */
    if (s != SIM_OK && access(path, R_OK) == 0 && !strstr(ctx_errmsg(ctx), "not an HDF5 file") &&
        !strstr(ctx_errmsg(ctx), "not a regular file")) {
        char keep[sizeof ctx->err];
        snprintf(keep, sizeof keep, "%s", ctx_errmsg(ctx));
        ctx_error(ctx, s, "%s (expected a complete trevsnn trace: truncated or corrupt?)",
                  keep);
    }
    if (s != SIM_OK)
        return s;
    h5_quiet q;
    h5_quiet_on(&q);
    s = load(ctx, &f, r, opts);
    h5_quiet_off(&q);
    char keep[sizeof ctx->err];
    snprintf(keep, sizeof keep, "%s", ctx->err);
    sim_status cs = h5_close(ctx, &f);
    if (s != SIM_OK) {
        ctx_error(ctx, s, "%s", keep); /* the first failure is the one to report */
        report_free(ctx, r);
        r->image = -1;
        return s;
    }
    if (cs != SIM_OK) {
        report_free(ctx, r);
        return cs;
    }
    return SIM_OK;
}

void report_free(sim_ctx *ctx, report *r)
{
    if (!r)
        return;
    for (int p = 0; p < r->npop; p++) {
        mem_free(ctx, r->pops[p].name);
        mem_free(ctx, r->pops[p].spikes_t);
        mem_free(ctx, r->pops[p].img_t);
        mem_free(ctx, r->pops[p].img_id);
    }
    /* a population list read part way: names beyond npop were not set */
    mem_free(ctx, r->pops);
    for (int j = 0; j < r->nproj; j++)
        mem_free(ctx, r->projs[j].name);
    mem_free(ctx, r->projs);
    mem_free(ctx, r->samples);
    char **strs[] = {&r->preset, &r->checkpoint, &r->checksum, &r->version, &r->command_line};
    for (int i = 0; i < 5; i++)
        mem_free(ctx, *strs[i]);
    char path[sizeof r->path];
    memcpy(path, r->path, sizeof path);
    memset(r, 0, sizeof *r);
    memcpy(r->path, path, sizeof path);
    r->image = -1;
}

double report_rate(const report *r, int p)
{
    double d = (double)r->pops[p].n_nodes * (double)r->nsamples * r->T;
    return d > 0 ? (double)r->pops[p].spikes / d : 0.0;
}

double report_rate_t(const report *r, int p, int t)
{
    double d = (double)r->pops[p].n_nodes * (double)r->nsamples;
    return d > 0 ? (double)r->pops[p].spikes_t[t] / d : 0.0;
}

void report_proj_order(const report *r, int *idx)
{
    for (int j = 0; j < r->nproj; j++)
        idx[j] = j;
    /* insertion sort: stable, no comparator state (nproj is small) */
    for (int a = 1; a < r->nproj; a++) {
        int v = idx[a], b = a;
        while (b > 0) {
            const report_proj *x = &r->projs[idx[b - 1]], *y = &r->projs[v];
            if (x->energy_pj > y->energy_pj || (x->energy_pj == y->energy_pj && idx[b - 1] < v))
                break;
            idx[b] = idx[b - 1];
            b--;
        }
        idx[b] = v;
    }
}

/* ---- printing ---- */

static double per_image(const report *r, double x)
{
    return r->nsamples > 0 ? x / (double)r->nsamples : 0.0;
}

static void print_stats_row(FILE *out, const char *what, const summary *s, double scale,
                            int dec)
{
    fprintf(out, "  %-22s %12.*f %12.*f %12.*f %12.*f %12.*f %12.*f %12.*f\n", what, dec,
            s->mean * scale, dec, s->sd * scale, dec, s->min * scale, dec, s->q05 * scale, dec,
            s->median * scale, dec, s->q95 * scale, dec, s->max * scale);
}

static void print_hist(FILE *out, const char *what, const report_hist *h, double scale,
                       int64_t n)
{
    fprintf(out, "histogram of %s (%d bins):\n", what, h->nbins);
    uint64_t most = 1;
    for (int b = 0; b < h->nbins; b++)
        most = h->counts[b] > most ? h->counts[b] : most;
    double w = (h->hi - h->lo) / h->nbins;
    for (int b = 0; b < h->nbins && n > 0; b++) {
        int bar = (int)((40.0 * (double)h->counts[b] + most - 1) / (double)most);
        fprintf(out, "  [%12.6g, %12.6g%c %6llu  ", (h->lo + b * w) * scale,
                (h->lo + (b + 1) * w) * scale, b == h->nbins - 1 ? ']' : ')',
                (unsigned long long)h->counts[b]);
        for (int k = 0; k < bar; k++)
            fputc('#', out);
        fputc('\n', out);
    }
}

void report_print(FILE *out, const report *r)
{
    const double n = (double)r->nsamples;
    fprintf(out, "%s: %lld images of T=%d timesteps (dt %g ms), preset %s, checkpoint %s\n",
            r->path, (long long)r->nsamples, r->T, r->dt_ms, *r->preset ? r->preset : "?",
            *r->checkpoint ? r->checkpoint : "?");
    fprintf(out, "accuracy %.2f%% (%lld of %lld images)\n",
            r->nsamples ? 100.0 * (double)r->correct / n : 0.0, (long long)r->correct,
            (long long)r->nsamples);
    fprintf(out, "spikes %llu in /spikes (%s /samples), %.1f per image; %lld neurons in %d "
            "populations\n", (unsigned long long)r->spikes,
            r->spikes == r->sample_spikes ? "matches" : "DIFFERS from",
            per_image(r, (double)r->spikes), (long long)r->n_nodes, r->npop);
    fprintf(out, "\npopulations: firing rate = spikes / (neurons x images), per timestep t; "
            "silent = never spiked\n");
    fprintf(out, "  %-18s %9s %12s %11s %9s %8s", "population", "neurons", "spikes",
            "spikes/img", "rate", "silent");
    const int tshow = r->T < 16 ? r->T : 16;
    for (int t = 0; t < tshow; t++)
        fprintf(out, " %5st=%-2d", "", t);
    fputc('\n', out);
    for (int p = 0; p < r->npop; p++) {
        const report_pop *pp = &r->pops[p];
        fprintf(out, "  %-18s %9lld %12llu %11.1f %9.4f %7.2f%%", pp->name,
                (long long)pp->n_nodes, (unsigned long long)pp->spikes,
                per_image(r, (double)pp->spikes), report_rate(r, p),
                pp->n_nodes ? 100.0 * (double)pp->silent / (double)pp->n_nodes : 0.0);
        for (int t = 0; t < tshow; t++)
            fprintf(out, " %9.4f", report_rate_t(r, p, t));
        fputc('\n', out);
    }
    if (tshow < r->T)
        fprintf(out, "  (timesteps %d..%d in --json)\n", tshow, r->T - 1);

    fprintf(out, "\nprojections: E = %g pJ x MACs + %g pJ x ACs; literature estimate = sop x "
            "(pJ per MAC if graded, per AC if spike-driven); per image, by energy\n",
            r->e_mac_pj, r->e_ac_pj);
    fprintf(out, "  %-28s %6s %12s %12s %12s %10s %10s %7s\n", "projection", "kind", "events",
            "ACs", "MACs", "E uJ", "lit uJ", "share");
    int *idx = r->nproj ? calloc((size_t)r->nproj, sizeof *idx) : NULL;
    if (idx || !r->nproj) {
        if (idx)
            report_proj_order(r, idx);
        for (int k = 0; k < r->nproj; k++) {
            const report_proj *pr = &r->projs[idx[k]];
            fprintf(out, "  %-28s %6s %12.0f %12.0f %12.0f %10.4f %10.4f %6.2f%%\n", pr->name,
                    pr->graded ? "graded" : "spike", per_image(r, (double)pr->events),
                    per_image(r, (double)pr->acs), per_image(r, (double)pr->macs),
                    per_image(r, pr->energy_pj) * 1e-6, per_image(r, pr->energy_lit_pj) * 1e-6,
                    r->proj_energy_pj > 0 ? 100.0 * pr->energy_pj / r->proj_energy_pj : 0.0);
        }
        free(idx);
    }
    fprintf(out, "  %-28s %6s %12s %12s %12s %10.4f %10.4f %6.2f%%\n", "all projections", "", "",
            "", "", per_image(r, r->proj_energy_pj) * 1e-6,
            per_image(r, r->proj_energy_lit_pj) * 1e-6, r->proj_energy_pj > 0 ? 100.0 : 0.0);
    fprintf(out, "  per image from /samples (with the dense stem and the heads): %.4f uJ counted, "
            "%.4f uJ literature estimate\n", per_image(r, r->energy_pj) * 1e-6,
            per_image(r, r->energy_lit_pj) * 1e-6);

    fprintf(out, "\nper image (%lld images): %12s %12s %12s %12s %12s %12s %12s\n",
            (long long)r->nsamples, "mean", "sd", "min", "5%", "50%", "95%", "max");
    print_stats_row(out, "spikes", &r->spikes_stats, 1, 1);
    print_stats_row(out, "energy uJ (counted)", &r->energy_stats, 1e-6, 4);
    print_stats_row(out, "energy uJ (literature)", &r->energy_lit_stats, 1e-6, 4);
    print_hist(out, "spikes per image", &r->spikes_hist, 1, r->nsamples);
    print_hist(out, "energy per image (uJ)", &r->energy_hist, 1e-6, r->nsamples);

    const int64_t show = r->nsamples < 20 ? r->nsamples : 20;
    fprintf(out, "\nimages%s:\n  %6s %8s %6s %10s %10s %12s %12s\n",
            show < r->nsamples ? " (the first 20; all in --json)" : "", "image", "index",
            "label", "prediction", "spikes", "E uJ", "lit uJ");
    for (int64_t i = 0; i < show; i++) {
        const trace_sample_row *sm = &r->samples[i];
        fprintf(out, "  %6lld %8lld %6d %10d %10llu %12.4f %12.4f%s\n", (long long)i,
                (long long)sm->index, (int)sm->label, (int)sm->prediction,
                (unsigned long long)sm->spikes, sm->energy_pj * 1e-6, sm->energy_lit_pj * 1e-6,
                sm->label == sm->prediction ? "" : "  wrong");
    }
}

/* A JSON string literal. */
static void put_str(FILE *out, const char *s)
{
    size_t len = 6 * strlen(s) + 3;
    char small[512], *buf = len <= sizeof small ? small : malloc(len);
    if (!buf) {
        fputs("\"\"", out);
        return;
    }
    json_escape(buf, len, s);
    fputs(buf, out);
    if (buf != small)
        free(buf);
}

static void put_stats(FILE *out, const char *key, const summary *s, const report_hist *h)
{
    fprintf(out, ", \"%s\": {\"n\": %zu, \"mean\": %.15g, \"sd\": %.15g, \"min\": %.15g, "
            "\"q05\": %.15g, \"median\": %.15g, \"q95\": %.15g, \"max\": %.15g", key, s->n,
            s->mean, s->sd, s->min, s->q05, s->median, s->q95, s->max);
    if (h) {
        fprintf(out, ", \"histogram\": {\"lo\": %.15g, \"hi\": %.15g, \"counts\": [", h->lo,
                h->hi);
        for (int b = 0; b < h->nbins; b++)
            fprintf(out, "%s%llu", b ? ", " : "", (unsigned long long)h->counts[b]);
        fputs("]}", out);
    }
    fputc('}', out);
}

void report_print_json(FILE *out, const report *r)
{
    fputs("{\"file\": ", out);
    put_str(out, r->path);
    fprintf(out, ", \"format\": \"%s\", \"images\": %lld, \"T\": %d, \"dt_ms\": %.15g, "
            "\"correct\": %lld, \"accuracy\": %.15g, \"spikes\": %llu, \"sample_spikes\": %llu, "
            "\"neurons\": %lld, \"e_mac_pj\": %.15g, \"e_ac_pj\": %.15g, \"meta\": {\"preset\": ",
            TRACE_FORMAT, (long long)r->nsamples, r->T, r->dt_ms, (long long)r->correct,
            r->nsamples ? (double)r->correct / (double)r->nsamples : 0.0,
            (unsigned long long)r->spikes, (unsigned long long)r->sample_spikes,
            (long long)r->n_nodes, r->e_mac_pj, r->e_ac_pj);
    put_str(out, r->preset);
    fputs(", \"checkpoint\": ", out);
    put_str(out, r->checkpoint);
    fputs(", \"checksum\": ", out);
    put_str(out, r->checksum);
    fputs(", \"version\": ", out);
    put_str(out, r->version);
    fputs(", \"command_line\": ", out);
    put_str(out, r->command_line);
    fputs("}, \"populations\": [", out);
    for (int p = 0; p < r->npop; p++) {
        const report_pop *pp = &r->pops[p];
        fputs(p ? ", {\"name\": " : "{\"name\": ", out);
        put_str(out, pp->name);
        fprintf(out, ", \"neurons\": %lld, \"spikes\": %llu, \"spikes_per_image\": %.15g, "
                "\"rate\": %.15g, \"silent\": %lld, \"silent_share\": %.15g, \"spikes_t\": [",
                (long long)pp->n_nodes, (unsigned long long)pp->spikes,
                per_image(r, (double)pp->spikes), report_rate(r, p), (long long)pp->silent,
                pp->n_nodes ? (double)pp->silent / (double)pp->n_nodes : 0.0);
        for (int t = 0; t < r->T; t++)
            fprintf(out, "%s%llu", t ? ", " : "", (unsigned long long)pp->spikes_t[t]);
        fputs("], \"rate_t\": [", out);
        for (int t = 0; t < r->T; t++)
            fprintf(out, "%s%.15g", t ? ", " : "", report_rate_t(r, p, t));
        fputs("]}", out);
    }
    fputs("], \"projections\": [", out);
    for (int j = 0; j < r->nproj; j++) {
        const report_proj *pr = &r->projs[j];
        fputs(j ? ", {\"name\": " : "{\"name\": ", out);
        put_str(out, pr->name);
        fprintf(out, ", \"kind\": \"%s\", \"events\": %llu, \"acs\": %llu, \"macs\": %llu, "
                "\"sop\": %.15g, \"energy_pj\": %.15g, \"energy_lit_pj\": %.15g, "
                "\"share\": %.15g}", pr->graded ? "graded" : "spike",
                (unsigned long long)pr->events, (unsigned long long)pr->acs,
                (unsigned long long)pr->macs, pr->sop, pr->energy_pj, pr->energy_lit_pj,
                r->proj_energy_pj > 0 ? pr->energy_pj / r->proj_energy_pj : 0.0);
    }
    fprintf(out, "], \"projection_energy_pj\": %.15g, \"projection_energy_lit_pj\": %.15g, "
            "\"energy_pj\": %.15g, \"energy_lit_pj\": %.15g", r->proj_energy_pj,
            r->proj_energy_lit_pj, r->energy_pj, r->energy_lit_pj);
    put_stats(out, "spikes_per_image", &r->spikes_stats, &r->spikes_hist);
    put_stats(out, "energy_pj_per_image", &r->energy_stats, &r->energy_hist);
    put_stats(out, "energy_lit_pj_per_image", &r->energy_lit_stats, NULL);
    fputs(", \"samples\": [", out);
    for (int64_t i = 0; i < r->nsamples; i++) {
        const trace_sample_row *sm = &r->samples[i];
        fprintf(out, "%s{\"index\": %lld, \"label\": %d, \"prediction\": %d, \"spikes\": %llu, "
                "\"energy_pj\": %.15g, \"energy_lit_pj\": %.15g}", i ? ", " : "",
                (long long)sm->index, (int)sm->label, (int)sm->prediction,
                (unsigned long long)sm->spikes, sm->energy_pj, sm->energy_lit_pj);
    }
    fputs("]}\n", out);
}
