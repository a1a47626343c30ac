/* test_report.c - reading a spike trace back (analysis/report.c) and
 * `sim analyze` end to end.
 *
 * A small trace with hand-chosen spikes, samples and counters is written
 * with io/trace.h; every number the report derives from it (spikes and
 * rates per population and timestep, silent neurons, network order,
 * energy per projection and its share, accuracy, per-image statistics and
 * histogram, the spikes of one image) is checked exactly against values
 * worked out by hand below. Broken files (missing, not HDF5, truncated,
 * HDF5 but not a trace, wrong dtypes, a missing group, a node id out of
 * range) must fail with the documented status and a message naming the
 * file. The JSON output is parsed back with io/json.h, and bin/sim
 * ($SIM_BIN) is run on the trace: tables, --json, --plot-dir, errors. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "analysis/report.h"
#include "io/h5.h"
#include "io/json.h"
#include "tests/harness.h"

static char tmpdir[64];

/* ---- the fixture ----
 *
 * T = 2, three images (global timesteps g = 2 s + t), dt 0.5 ms.
 * Populations: "z_in" (4 neurons), "a_out" (3 neurons); projections
 * j0 "z_in->a_out" (spike-driven: ACs) and j1 "bias->a_out" (graded: MACs).
 *
 *   z_in  spikes  g0 {0,1}  g1 {1}  g2 {0,1,2}  g3 {}  g4 {1}  g5 {0}
 *   a_out spikes  g1 {2}    g3 {0,2}   g5 {2}
 *
 * so z_in: 8 spikes, by t 6 / 2, neuron 3 silent; a_out: 4 spikes, by t
 * 0 / 4, neuron 1 silent; per image 4, 5, 3 spikes. Labels / predictions
 * (0,0) (1,2) (2,2): 2 of 3 correct. Counters per image s and timestep:
 * j0 acs 10 (s+1), sop 1.5; j1 macs 5, sop 2. Energy constants 4.6 / 0.9
 * pJ: j0 E = 0.9 x 120 = 108, lit 0.9 x 9 = 8.1; j1 E = 4.6 x 30 = 138,
 * lit 4.6 x 12 = 55.2. */

static const int32_t z_sizes[2] = {4, 3};

static void write_fixture(const char *path)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    const char *pops[2] = {"z_in", "a_out"};
    const char *projs[2] = {"z_in->a_out", "bias->a_out"};
    trace_meta meta = {"tiny", "model.h5", "0badf00d", "test", "sim run --trace", 0.5, 2, 4.6,
                       0.9};
    trace *tr = NULL;
    CU_ASSERT_FATAL(trace_create(&ctx, &tr, path, &meta, pops, z_sizes, 2, projs, 2) == SIM_OK);
    static const int32_t z[6][3] = {{0, 1}, {1}, {0, 1, 2}, {0}, {1}, {0}};
    static const int zn[6] = {2, 1, 3, 0, 1, 1};
    static const int32_t a[6][2] = {{0}, {2}, {0}, {0, 2}, {0}, {2}};
    static const int an[6] = {0, 1, 0, 2, 0, 1};
    static const int32_t lab[3] = {0, 1, 2}, pred[3] = {0, 2, 2};
    static const uint64_t spk[3] = {4, 5, 3};
    static const double en[3] = {100, 200, 600}, lit[3] = {110, 220, 330};
    for (int s = 0; s < 3; s++) {
        for (int t = 0; t < 2; t++) {
            int g = 2 * s + t;
            CU_ASSERT(trace_spikes(&ctx, tr, 0, g, z[g], zn[g]) == SIM_OK);
            CU_ASSERT(trace_spikes(&ctx, tr, 1, g, a[g], an[g]) == SIM_OK);
            proj_counters c[2] = {{0, 10u * (uint64_t)(s + 1), 0, 1.5}, {3, 0, 5, 2.0}};
            CU_ASSERT(trace_energy(&ctx, tr, s, t, c) == SIM_OK);
        }
        trace_sample_row row = {100 + s, 2 * s, lab[s], pred[s], spk[s], en[s], lit[s]};
        CU_ASSERT(trace_sample(&ctx, tr, &row) == SIM_OK);
    }
    CU_ASSERT_FATAL(trace_close(&ctx, tr) == SIM_OK);
    ctx_free(&ctx);
}

static const char *fixture(void)
{
    static char path[128];
    if (!path[0]) {
        snprintf(path, sizeof path, "%s/fixture.h5", tmpdir);
        write_fixture(path);
    }
    return path;
}

/* ---- the numbers ---- */

static void test_numbers(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    report r;
    report_opts o = {1};
    sim_status s = report_load(&ctx, &r, fixture(), &o);
    if (s != SIM_OK)
        fprintf(stderr, "\n  %s\n", ctx_errmsg(&ctx));
    CU_ASSERT_FATAL(s == SIM_OK);
    CU_ASSERT_EQUAL(r.T, 2);
    CU_ASSERT_DOUBLE_EQUAL(r.dt_ms, 0.5, 0);
    CU_ASSERT_STRING_EQUAL(r.preset, "tiny");
    CU_ASSERT_STRING_EQUAL(r.checksum, "0badf00d");
    CU_ASSERT_EQUAL(r.nsamples, 3);
    CU_ASSERT_EQUAL(r.correct, 2);
    CU_ASSERT_EQUAL(r.n_nodes, 7);
    /* network order: z_in is no projection's target, a_out is j0's */
    CU_ASSERT_EQUAL_FATAL(r.npop, 2);
    CU_ASSERT_STRING_EQUAL(r.pops[0].name, "z_in");
    CU_ASSERT_STRING_EQUAL(r.pops[1].name, "a_out");
    const report_pop *z = &r.pops[0], *a = &r.pops[1];
    CU_ASSERT_EQUAL(z->n_nodes, 4);
    CU_ASSERT_EQUAL(z->spikes, 8);
    CU_ASSERT_EQUAL(z->spikes_t[0], 6);
    CU_ASSERT_EQUAL(z->spikes_t[1], 2);
    CU_ASSERT_EQUAL(z->silent, 1);
    CU_ASSERT_EQUAL(a->spikes, 4);
    CU_ASSERT_EQUAL(a->spikes_t[0], 0);
    CU_ASSERT_EQUAL(a->spikes_t[1], 4);
    CU_ASSERT_EQUAL(a->silent, 1);
    CU_ASSERT_EQUAL(r.spikes, 12);
    CU_ASSERT_EQUAL(r.sample_spikes, 12);
    CU_ASSERT_DOUBLE_EQUAL(report_rate(&r, 0), 8.0 / 24, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(report_rate_t(&r, 0, 0), 6.0 / 12, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(report_rate_t(&r, 1, 1), 4.0 / 9, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(report_rate_t(&r, 1, 0), 0.0, 0);
    /* projections */
    CU_ASSERT_EQUAL_FATAL(r.nproj, 2);
    CU_ASSERT_STRING_EQUAL(r.projs[0].name, "z_in->a_out");
    CU_ASSERT_EQUAL(r.projs[0].acs, 120);
    CU_ASSERT_EQUAL(r.projs[0].macs, 0);
    CU_ASSERT_EQUAL(r.projs[0].events, 0);
    CU_ASSERT_EQUAL(r.projs[0].graded, 0);
    CU_ASSERT_DOUBLE_EQUAL(r.projs[0].sop, 9.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r.projs[0].energy_pj, 108.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(r.projs[0].energy_lit_pj, 8.1, 1e-9);
    CU_ASSERT_EQUAL(r.projs[1].events, 18);
    CU_ASSERT_EQUAL(r.projs[1].macs, 30);
    CU_ASSERT_EQUAL(r.projs[1].graded, 1);
    CU_ASSERT_DOUBLE_EQUAL(r.projs[1].energy_pj, 138.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(r.projs[1].energy_lit_pj, 55.2, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(r.proj_energy_pj, 246.0, 1e-9);
    CU_ASSERT_EQUAL(r.energy_rows, 12);
    int idx[2];
    report_proj_order(&r, idx);
    CU_ASSERT(idx[0] == 1 && idx[1] == 0);
    /* per image */
    CU_ASSERT_DOUBLE_EQUAL(r.energy_pj, 900.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(r.spikes_stats.mean, 4.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r.spikes_stats.sd, 1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r.spikes_stats.median, 4.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r.spikes_stats.min, 3.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(r.spikes_stats.max, 5.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(r.energy_stats.mean, 300.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(r.energy_stats.q95, 560.0, 1e-9); /* 200 + 0.9 x 400 */
    /* histogram over [3, 5] in 12 bins: 3 -> 0, 4 -> 6, 5 (the max) -> 11 */
    uint64_t total = 0;
    for (int b = 0; b < REPORT_HIST_BINS; b++)
        total += r.spikes_hist.counts[b];
    CU_ASSERT_EQUAL(total, 3);
    CU_ASSERT_EQUAL(r.spikes_hist.counts[0], 1);
    CU_ASSERT_EQUAL(r.spikes_hist.counts[6], 1);
    CU_ASSERT_EQUAL(r.spikes_hist.counts[REPORT_HIST_BINS - 1], 1);
    CU_ASSERT_DOUBLE_EQUAL(r.spikes_hist.lo, 3.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(r.spikes_hist.hi, 5.0, 0);
    /* the spikes of image 1 (g2, g3): z_in t0 {0,1,2}; a_out t1 {0,2} */
    CU_ASSERT_EQUAL(r.image, 1);
    CU_ASSERT_EQUAL_FATAL(z->img_n, 3);
    for (int i = 0; i < 3; i++)
        CU_ASSERT(z->img_t[i] == 0 && z->img_id[i] == i);
    CU_ASSERT_EQUAL_FATAL(a->img_n, 2);
    CU_ASSERT(a->img_t[0] == 1 && a->img_id[0] == 0 && a->img_t[1] == 1 && a->img_id[1] == 2);
    report_free(&ctx, &r);
    CU_ASSERT_EQUAL(r.npop, 0);
    CU_ASSERT_EQUAL(ctx.nallocs, 0); /* everything released */
    ctx_free(&ctx);
}

/* The tables and the JSON object carry the same numbers. */
static void test_print_and_json(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    report r;
    CU_ASSERT_FATAL(report_load(&ctx, &r, fixture(), NULL) == SIM_OK);
    CU_ASSERT_EQUAL(r.image, -1);
    CU_ASSERT_EQUAL(r.pops[0].img_n, 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_FATAL(f != NULL);
    report_print(f, &r);
    fclose(f);
    CU_ASSERT(strstr(buf, "accuracy 66.67% (2 of 3 images)") != NULL);
    CU_ASSERT(strstr(buf, "matches /samples") != NULL);
    CU_ASSERT(strstr(buf, "bias->a_out") != NULL);
    CU_ASSERT(strstr(buf, "  wrong") != NULL);
    /* z_in: 4 neurons, 8 spikes, 2.7 per image, rate 1/3, 25% silent, 0.5 / 1/6 by t */
    const char *line = strstr(buf, "\n  z_in ");
    long long nn = 0, ns = 0;
    double per = 0, rate = 0, silent = 0, r0 = 0, r1 = 0;
    CU_ASSERT_FATAL(line != NULL);
    CU_ASSERT_EQUAL(sscanf(line, " z_in %lld %lld %lf %lf %lf%% %lf %lf", &nn, &ns, &per, &rate,
                           &silent, &r0, &r1), 7);
    CU_ASSERT(nn == 4 && ns == 8);
    CU_ASSERT_DOUBLE_EQUAL(per, 2.7, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(rate, 0.3333, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(silent, 25.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r0, 0.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r1, 0.1667, 1e-12);
    free(buf);
    buf = NULL;
    f = open_memstream(&buf, &len);
    report_print_json(f, &r);
    fclose(f);
    double v;
    CU_ASSERT(json_get_number(buf, "accuracy", &v) && fabs(v - 2.0 / 3) < 1e-12);
    CU_ASSERT(json_get_number(buf, "images", &v) && v == 3);
    CU_ASSERT(json_get_number(buf, "spikes", &v) && v == 12);
    CU_ASSERT(json_get_number(buf, "projection_energy_pj", &v) && fabs(v - 246) < 1e-9);
    char obj[4096], str[64];
    CU_ASSERT(json_get_object(buf, "spikes_per_image", obj, sizeof obj));
    CU_ASSERT(json_get_number(obj, "mean", &v) && fabs(v - 4) < 1e-12);
    CU_ASSERT(json_get_number(obj, "sd", &v) && fabs(v - 1) < 1e-12);
    char hist[1024];
    double counts[REPORT_HIST_BINS];
    int n = 0;
    CU_ASSERT(json_get_object(obj, "histogram", hist, sizeof hist));
    CU_ASSERT(json_get_numbers(hist, "counts", counts, REPORT_HIST_BINS, &n) &&
              n == REPORT_HIST_BINS && counts[0] == 1 && counts[6] == 1 && counts[11] == 1);
    CU_ASSERT(json_get_object(buf, "meta", obj, sizeof obj));
    CU_ASSERT(json_get_string(obj, "command_line", str, sizeof str) &&
              !strcmp(str, "sim run --trace"));
    /* the whole thing is one object: balanced braces, one line */
    int depth = 0, minimum = 1, lines = 0;
    for (const char *p = buf; *p; p++) {
        depth += (*p == '{') - (*p == '}');
        if (p != buf && depth < minimum && p[1] && p[1] != '\n')
            minimum = depth;
        lines += *p == '\n';
    }
    CU_ASSERT_EQUAL(depth, 0);
    CU_ASSERT_EQUAL(minimum, 1);
    CU_ASSERT_EQUAL(lines, 1);
    free(buf);
    report_free(&ctx, &r);
    ctx_free(&ctx);
}

/* ---- broken files ---- */

/* report_load must fail with status want and a message containing the
 * file name and `text`; nothing may stay allocated. */
static void expect_fail(const char *path, const report_opts *o, sim_status want,
                        const char *text)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    report r;
    sim_status s = report_load(&ctx, &r, path, o);
    if (s != want)
        fprintf(stderr, "\n  %s: status %d, expected %d (%s)\n", path, s, want,
                ctx_errmsg(&ctx));
    CU_ASSERT_EQUAL(s, want);
    CHECK_MSG(&ctx, path);
    CHECK_MSG(&ctx, text);
    CU_ASSERT(strchr(ctx_errmsg(&ctx), '\n') == NULL);
    CU_ASSERT_EQUAL(r.npop, 0);
    CU_ASSERT_EQUAL(r.nsamples, 0);
    report_free(&ctx, &r);
    CU_ASSERT_EQUAL(ctx.nallocs, 0);
    ctx_free(&ctx);
}

static void copy_file(const char *from, const char *to, long limit)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    CU_ASSERT_FATAL(a && b);
    char buf[8192];
    long done = 0;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0 && (limit < 0 || done < limit)) {
        if (limit >= 0 && done + (long)n > limit)
            n = (size_t)(limit - done);
        fwrite(buf, 1, n, b);
        done += (long)n;
    }
    fclose(a);
    fclose(b);
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* A copy of the fixture changed with the raw HDF5 API by `edit`. */
static const char *edited(const char *name, void (*edit)(hid_t))
{
    const char *path = harness_join(tmpdir, name);
    copy_file(fixture(), path, -1);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    edit(f);
    H5Fclose(f);
    return path;
}

static void edit_samples_float(hid_t f)
{
    CU_ASSERT(H5Ldelete(f, "/samples", H5P_DEFAULT) >= 0);
    hsize_t n = 3;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, "/samples", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT,
                         H5P_DEFAULT);
    CU_ASSERT(d >= 0);
    H5Dclose(d);
    H5Sclose(sp);
}

static void edit_label_float(hid_t f)
{
    CU_ASSERT(H5Ldelete(f, "/samples", H5P_DEFAULT) >= 0);
    hid_t t = H5Tcreate(H5T_COMPOUND, 40);
    H5Tinsert(t, "index", 0, H5T_STD_I64LE);
    H5Tinsert(t, "first_timestep", 8, H5T_STD_I64LE);
    H5Tinsert(t, "label", 16, H5T_IEEE_F64LE);
    H5Tinsert(t, "prediction", 24, H5T_STD_I32LE);
    H5Tinsert(t, "spikes", 28, H5T_STD_U64LE);
    hsize_t n = 3;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, "/samples", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT(d >= 0);
    H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
}

static void edit_no_energy(hid_t f)
{
    CU_ASSERT(H5Ldelete(f, "/energy", H5P_DEFAULT) >= 0);
}

static void edit_bad_id(hid_t f)
{
    hid_t d = H5Dopen2(f, "/spikes/a_out/node_ids", H5P_DEFAULT);
    hid_t sp = H5Dget_space(d);
    hsize_t start = 1, one = 1;
    H5Sselect_hyperslab(sp, H5S_SELECT_SET, &start, NULL, &one, NULL);
    hid_t msp = H5Screate_simple(1, &one, NULL);
    uint64_t bad = 99;
    CU_ASSERT(H5Dwrite(d, H5T_NATIVE_UINT64, msp, sp, H5P_DEFAULT, &bad) >= 0);
    H5Sclose(msp);
    H5Sclose(sp);
    H5Dclose(d);
}

static void edit_huge_nodes(hid_t f)
{
    hid_t g = H5Gopen2(f, "/spikes/z_in", H5P_DEFAULT);
    CU_ASSERT(H5Adelete(g, "n_nodes") >= 0);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(g, "n_nodes", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int64_t v = (int64_t)1 << 40;
    H5Awrite(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a);
    H5Sclose(sp);
    H5Gclose(g);
}

/* z_in's spikes replaced by 2^30 rows that the file does not hold (a
 * chunked dataset with no chunk written reads as fill values: time 0,
 * node 0), with n_nodes raised so the row count is within n_nodes x
 * timesteps. Before the order check this was read block by block for
 * minutes, keeping every row as a spike of image 0 (arrays growing
 * towards n_nodes x T entries: gigabytes). */
static void edit_phantom_spikes(hid_t f)
{
    static const char *const names[2] = {"/spikes/z_in/timestamps", "/spikes/z_in/node_ids"};
    const hid_t types[2] = {H5T_IEEE_F64LE, H5T_STD_U64LE};
    for (int i = 0; i < 2; i++) {
        CU_ASSERT(H5Ldelete(f, names[i], H5P_DEFAULT) >= 0);
        hsize_t n = (hsize_t)1 << 30, chunk = 1024;
        hid_t sp = H5Screate_simple(1, &n, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(dcpl, 1, &chunk);
        hid_t d = H5Dcreate2(f, names[i], types[i], sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        CU_ASSERT(d >= 0);
        H5Dclose(d);
        H5Pclose(dcpl);
        H5Sclose(sp);
    }
    hid_t g = H5Gopen2(f, "/spikes/z_in", H5P_DEFAULT);
    CU_ASSERT(H5Adelete(g, "n_nodes") >= 0);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(g, "n_nodes", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int64_t v = ((int64_t)1 << 28) - 16;
    H5Awrite(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a);
    H5Sclose(sp);
    H5Gclose(g);
}

/* a_out's spikes of g3 {0, 2} made {2, 2}: the same neuron twice in one
 * timestep. */
static void edit_twice(hid_t f)
{
    hid_t d = H5Dopen2(f, "/spikes/a_out/node_ids", H5P_DEFAULT);
    hid_t sp = H5Dget_space(d);
    hsize_t start = 1, one = 1;
    H5Sselect_hyperslab(sp, H5S_SELECT_SET, &start, NULL, &one, NULL);
    hid_t msp = H5Screate_simple(1, &one, NULL);
    uint64_t two = 2;
    CU_ASSERT(H5Dwrite(d, H5T_NATIVE_UINT64, msp, sp, H5P_DEFAULT, &two) >= 0);
    H5Sclose(msp);
    H5Sclose(sp);
    H5Dclose(d);
}

static void edit_format(hid_t f)
{
    CU_ASSERT(H5Adelete(f, "format") >= 0);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 16);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "format", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, "sonata-spikes\0\0\0");
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
}

static void test_bad_files(void)
{
    expect_fail(harness_join(tmpdir, "missing.h5"), NULL, SIM_EIO, "cannot open");
    const char *txt = harness_join(tmpdir, "text.h5");
    FILE *f = fopen(txt, "w");
    fputs("this is not HDF5\n", f);
    fclose(f);
    expect_fail(txt, NULL, SIM_EFORMAT, "not an HDF5 file");
    /* an HDF5 file that is something else (a bare file with one dataset) */
    const char *other = harness_join(tmpdir, "other.h5");
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    h5_file hf;
    CU_ASSERT_FATAL(h5_create(&ctx, &hf, other) == SIM_OK);
    int64_t x[2] = {1, 2};
    int shape[1] = {2};
    CU_ASSERT(h5_write_int64(&ctx, &hf, "x", x, 1, shape) == SIM_OK);
    CU_ASSERT(h5_close(&ctx, &hf) == SIM_OK);
    ctx_free(&ctx);
    expect_fail(other, NULL, SIM_EFORMAT, "root attribute format missing");
    expect_fail(edited("format.h5", edit_format), NULL, SIM_EFORMAT,
                "format is \"sonata-spikes\", expected \"trevsnn-trace\"");
    expect_fail(edited("samples_float.h5", edit_samples_float), NULL, SIM_EFORMAT,
                "/samples: expected a compound");
    expect_fail(edited("label_float.h5", edit_label_float), NULL, SIM_EFORMAT,
                "member label: expected an integer, found a float");
    expect_fail(edited("no_energy.h5", edit_no_energy), NULL, SIM_EFORMAT,
                "group /energy missing");
    expect_fail(edited("bad_id.h5", edit_bad_id), NULL, SIM_EFORMAT,
                "node_ids[1]: node id 99, expected 0..2");
    expect_fail(edited("huge.h5", edit_huge_nodes), NULL, SIM_EFORMAT,
                "n_nodes 1099511627776, expected 0..");
    report_opts img0 = {0};
    expect_fail(edited("phantom.h5", edit_phantom_spikes), &img0, SIM_EFORMAT,
                "/spikes/z_in[1]: spike (timestep 0, node 0) after (timestep 0, node 0)");
    expect_fail(edited("twice.h5", edit_twice), NULL, SIM_EFORMAT,
                "/spikes/a_out[2]: spike (timestep 3, node 2) after (timestep 3, node 2)");
    /* truncated at several lengths: never a crash, always a clean failure */
    long full = file_size(fixture());
    CU_ASSERT_FATAL(full > 4096);
    const long cuts[] = {0, 100, 2048, full / 2, full - 512};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        const char *cut = harness_join(tmpdir, "cut.h5");
        copy_file(fixture(), cut, cuts[i]);
        harness_ctx(&ctx, 1);
        report r;
        sim_status s = report_load(&ctx, &r, cut, NULL);
        if (s == SIM_OK)
            fprintf(stderr, "\n  truncated to %ld of %ld bytes: loaded\n", cuts[i], full);
        CU_ASSERT(s == SIM_EFORMAT || s == SIM_EIO);
        CHECK_MSG(&ctx, cut);
        report_free(&ctx, &r);
        CU_ASSERT_EQUAL(ctx.nallocs, 0);
        ctx_free(&ctx);
    }
    /* an image beyond the trace */
    report_opts o = {3};
    expect_fail(fixture(), &o, SIM_ERANGE, "image 3 requested, the trace holds 3 images");
}

/* ---- bin/sim analyze ---- */

/* Run a shell command; its stdout into out (up to len), exit status back. */
static int run(const char *cmd, char *out, size_t len)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_command(void)
{
    const char *sim = getenv("SIM_BIN");
    if (!sim || !*sim) {
        fprintf(stderr, "\n  SIM_BIN not set (make run-tests sets it): skipped\n");
        return;
    }
    static char out[1 << 16], cmd[1024];
    /* tables */
    snprintf(cmd, sizeof cmd, "%s analyze %s", sim, fixture());
    CU_ASSERT_EQUAL(run(cmd, out, sizeof out), 0);
    CU_ASSERT(strstr(out, "accuracy 66.67% (2 of 3 images)") != NULL);
    CU_ASSERT(strstr(out, "z_in->a_out") != NULL);
    /* JSON, parsed back */
    snprintf(cmd, sizeof cmd, "%s analyze %s --json", sim, fixture());
    CU_ASSERT_EQUAL(run(cmd, out, sizeof out), 0);
    double v;
    CU_ASSERT(json_get_number(out, "accuracy", &v) && fabs(v - 2.0 / 3) < 1e-12);
    CU_ASSERT(json_get_number(out, "energy_pj", &v) && fabs(v - 900) < 1e-9);
    /* plots */
    char dir[128];
    snprintf(dir, sizeof dir, "%s/plots", tmpdir);
    snprintf(cmd, sizeof cmd, "%s analyze %s --image 2 --plot-dir %s", sim, fixture(), dir);
    CU_ASSERT_EQUAL(run(cmd, out, sizeof out), 0);
    static const char *const files[] = {"raster.png", "raster.svg", "heatmap.png",
                                        "heatmap.svg", "energy.png", "energy.svg"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        const char *p = harness_join(dir, files[i]);
        if (!harness_file_exists(p))
            fprintf(stderr, "\n  %s missing\n", p);
        CU_ASSERT(file_size(p) > 1000);
    }
    /* errors: one line on stderr naming the file, exit 1; usage errors exit 2 */
    snprintf(cmd, sizeof cmd, "%s analyze %s/nope.h5 2>&1", sim, tmpdir);
    CU_ASSERT_EQUAL(run(cmd, out, sizeof out), 1);
    CU_ASSERT(strstr(out, "nope.h5: cannot open") != NULL);
    CU_ASSERT(strchr(out, '\n') == strrchr(out, '\n'));
    snprintf(cmd, sizeof cmd, "%s analyze %s/text.h5 2>&1", sim, tmpdir);
    CU_ASSERT_EQUAL(run(cmd, out, sizeof out), 1);
    CU_ASSERT(strstr(out, "sim analyze: ") == out && strstr(out, "not an HDF5 file"));
    snprintf(cmd, sizeof cmd, "%s analyze %s --image 7 2>&1", sim, fixture());
    CU_ASSERT_EQUAL(run(cmd, out, sizeof out), 1);
    CU_ASSERT(strstr(out, "image 7 requested") != NULL);
    snprintf(cmd, sizeof cmd, "%s analyze 2>&1", sim);
    CU_ASSERT_EQUAL(run(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s analyze %s --log x.jsonl 2>&1", sim, fixture());
    CU_ASSERT_EQUAL(run(cmd, out, sizeof out), 2);
    CU_ASSERT(strstr(out, "found both") != NULL);
    snprintf(cmd, sizeof cmd, "%s analyze --help", sim);
    CU_ASSERT_EQUAL(run(cmd, out, sizeof out), 0);
    CU_ASSERT(strstr(out, "--plot-dir") != NULL);
}

int main(void)
{
    harness_mkdtemp(tmpdir, sizeof tmpdir, "test_report");
    static const harness_test tests[] = {
        {"every number of a hand-made trace", test_numbers},
        {"tables and JSON carry the same numbers", test_print_and_json},
        {"broken, truncated and foreign files fail cleanly", test_bad_files},
        {"sim analyze end to end", test_command},
        {NULL, NULL},
    };
    int rc = harness_run("analysis/report", tests);
    harness_rmtree(tmpdir);
    return rc;
}
