/* read_trace.c - a spike trace read with nothing but the HDF5 C API, as
 * any user would: the layout (see io/trace.h and engine.md §4) is
 *
 *   /                 attr format = "trevsnn-trace"
 *   /meta             attrs T (timesteps per image), dt_ms, preset, ...
 *   /samples          one row per image (index, first_timestep, label, ...)
 *   /spikes/<pop>     attr n_nodes; datasets timestamps (float64, ms) and
 *                     node_ids (uint64), SONATA style
 *
 * and image i occupies timesteps i*T .. i*T+T-1, timestamp = timestep *
 * dt_ms. The program prints each population's firing rate per timestep of
 * the image (spikes / (neurons x images)).
 *
 *   build/float/examples/read_trace [TRACE.h5]     (e.g. from sim run --trace)
 *
 * Without an argument it first writes a small trace with io/trace.h (two
 * populations, three images) and reads that. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/trace.h"

/* ---- writing a demo trace (the only use of the simulator's library) ---- */

static int write_demo(const char *path)
{
    sim_ctx ctx;
    if (ctx_init(&ctx, 1) != SIM_OK)
        return -1;
    const char *pops[2] = {"input", "output"};
    const int32_t sizes[2] = {8, 4};
    trace_meta meta = {"demo", "", "", "read_trace", "read_trace", 1.0, 4, 4.6, 0.9};
    trace *tr = NULL;
    sim_status s = trace_create(&ctx, &tr, path, &meta, pops, sizes, 2, NULL, 0);
    for (int img = 0; img < 3 && s == SIM_OK; img++) {
        for (int t = 0; t < 4 && s == SIM_OK; t++) {
            int32_t in[8], out[4], nin = 0, nout = 0;
            for (int i = 0; i < 8; i++) /* input: more spikes at later timesteps */
                if ((i + img) % 4 <= t)
                    in[nin++] = i;
            for (int j = 0; j < 4; j++) /* output: every other neuron from t = 2 */
                if (t >= 2 && j % 2 == 0)
                    out[nout++] = j;
            s = trace_spikes(&ctx, tr, 0, img * 4 + t, in, nin);
            if (s == SIM_OK)
                s = trace_spikes(&ctx, tr, 1, img * 4 + t, out, nout);
        }
        trace_sample_row row = {img, img * 4, 0, 0, 0, 0, 0};
        if (s == SIM_OK)
            s = trace_sample(&ctx, tr, &row);
    }
    if (s == SIM_OK)
        s = trace_close(&ctx, tr);
    else
        trace_abort(&ctx, tr);
    if (s != SIM_OK)
        fprintf(stderr, "read_trace: %s\n", ctx_errmsg(&ctx));
    ctx_free(&ctx);
    return s == SIM_OK ? 0 : -1;
}

/* ---- reading, HDF5 C API only ---- */

/* A scalar numeric attribute of object obj, converted to double. */
static int attr_double(hid_t file, const char *obj, const char *name, double *out)
{
    hid_t a = H5Aopen_by_name(file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0)
        return -1;
    herr_t e = H5Aread(a, H5T_NATIVE_DOUBLE, out);
    H5Aclose(a);
    return e < 0 ? -1 : 0;
}

/* The root attribute format (a variable-length string) equals want. */
static int has_format(hid_t file, const char *want)
{
    hid_t a = H5Aopen_by_name(file, "/", "format", H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0)
        return 0;
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    char *s = NULL;
    int ok = H5Aread(a, t, &s) >= 0 && s && !strcmp(s, want);
    if (s)
        H5free_memory(s);
    H5Tclose(t);
    H5Aclose(a);
    return ok;
}

/* Length of a 1-D dataset, -1 if it cannot be opened. */
static long long length_of(hid_t file, const char *path)
{
    hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
    if (d < 0)
        return -1;
    hid_t sp = H5Dget_space(d);
    long long n = (long long)H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    H5Dclose(d);
    return n;
}

/* Spikes of population `pop` per timestep within the image into count[T];
 * the timestamps are read in blocks, so a long trace needs little memory. */
static int count_spikes(hid_t file, const char *pop, double dt_ms, int T, long long *count)
{
    char path[512];
    snprintf(path, sizeof path, "/spikes/%s/timestamps", pop);
    hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
    if (d < 0)
        return -1;
    hid_t fsp = H5Dget_space(d);
    hsize_t n = (hsize_t)H5Sget_simple_extent_npoints(fsp);
    enum { BLOCK = 65536 };
    static double ts[BLOCK];
    int rc = 0;
    for (hsize_t start = 0; start < n && rc == 0; start += BLOCK) {
        hsize_t k = n - start < BLOCK ? n - start : BLOCK;
        hid_t msp = H5Screate_simple(1, &k, NULL);
        H5Sselect_hyperslab(fsp, H5S_SELECT_SET, &start, NULL, &k, NULL);
        if (H5Dread(d, H5T_NATIVE_DOUBLE, msp, fsp, H5P_DEFAULT, ts) < 0)
            rc = -1;
        for (hsize_t i = 0; i < k && rc == 0; i++) {
            long long t = (long long)(ts[i] / dt_ms + 0.5); /* global timestep */
            count[t % T]++;
        }
        H5Sclose(msp);
    }
    H5Sclose(fsp);
    H5Dclose(d);
    return rc;
}

int main(int argc, char **argv)
{
    char tmpdir[] = "/tmp/read_trace.XXXXXX", made[64] = "";
    const char *path = argc > 1 ? argv[1] : NULL;
    if (!path) {
        if (!mkdtemp(tmpdir)) {
            perror("read_trace: mkdtemp");
            return 1;
        }
        snprintf(made, sizeof made, "%s/demo.h5", tmpdir);
        if (write_demo(made) != 0)
            return 1;
        printf("no trace given: wrote a small one to %s\n", made);
        path = made;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* we report errors ourselves */
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
        fprintf(stderr, "read_trace: %s: cannot open as HDF5\n", path);
        return 1;
    }
    double T_attr = 0, dt_ms = 0;
    long long images = length_of(file, "/samples");
    if (!has_format(file, "trevsnn-trace") || attr_double(file, "/meta", "T", &T_attr) < 0 ||
        attr_double(file, "/meta", "dt_ms", &dt_ms) < 0 || images < 0 || T_attr < 1 ||
        T_attr > 4096 || !(dt_ms > 0)) {
        fprintf(stderr, "read_trace: %s: not a trevsnn trace (format, /meta T and dt_ms, "
                "/samples expected)\n", path);
        H5Fclose(file);
        return 1;
    }
    const int T = (int)T_attr;
    printf("%s: %lld images of T = %d timesteps, dt %g ms\n", path, images, T, dt_ms);

    /* the populations are the groups under /spikes */
    hid_t g = H5Gopen2(file, "/spikes", H5P_DEFAULT);
    H5G_info_t info;
    if (g < 0 || H5Gget_info(g, &info) < 0) {
        fprintf(stderr, "read_trace: %s: no /spikes group\n", path);
        H5Fclose(file);
        return 1;
    }
    long long *count = calloc((size_t)T, sizeof *count);
    printf("firing rate per timestep (spikes / (neurons x images)):\n  %-16s %8s", "population",
           "neurons");
    for (int t = 0; t < T && t < 8; t++)
        printf("   t=%-4d", t);
    printf("\n");
    int rc = 0;
    for (hsize_t i = 0; i < info.nlinks && count && rc == 0; i++) {
        char name[256], obj[300];
        if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                               H5P_DEFAULT) < 0)
            continue;
        snprintf(obj, sizeof obj, "/spikes/%s", name);
        double n_nodes = 0;
        memset(count, 0, (size_t)T * sizeof *count);
        if (attr_double(file, obj, "n_nodes", &n_nodes) < 0 ||
            count_spikes(file, name, dt_ms, T, count) < 0) {
            fprintf(stderr, "read_trace: %s: cannot read population %s\n", path, name);
            rc = 1;
            break;
        }
        printf("  %-16s %8.0f", name, n_nodes);
        for (int t = 0; t < T && t < 8; t++)
            printf(" %8.4f", n_nodes > 0 && images > 0 ? count[t] / (n_nodes * images) : 0.0);
        printf("\n");
    }
    free(count);
    H5Gclose(g);
    H5Fclose(file);
    if (made[0]) {
        unlink(made);
        rmdir(tmpdir);
    }
    return rc;
}
