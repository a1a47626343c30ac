/* test_h5.c - the checked HDF5 helpers: tensor and attribute round trips,
 * one-line error messages, float64 files read into either build, appendable
 * datasets, atomic writes, the golden reference file, and that HDF5's own
 * error printing stays off and no object ids leak on error paths. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/h5.h"
#include "tests/harness.h"

/* ---- temporary directories ---- */

static char tmpdir[64];

static const char *tpath(const char *name) { return harness_join(tmpdir, name); }

static void make_tmpdir(void) { harness_mkdtemp(tmpdir, sizeof tmpdir, "test_h5"); }


/* Open HDF5 objects of file f other than the file itself (leak check). */
static ssize_t open_objects(const h5_file *f)
{
    return H5Fget_obj_count(f->id, H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE |
                                       H5F_OBJ_ATTR);
}

#define CHECK_MSG_EQ(ctx, text)                                                                  \
    do {                                                                                         \
        if (strcmp(ctx_errmsg(ctx), (text)))                                                     \
            fprintf(stderr, "\n  message \"%s\"\n  expected \"%s\"\n", ctx_errmsg(ctx), (text)); \
        CU_ASSERT_STRING_EQUAL(ctx_errmsg(ctx), (text));                                         \
    } while (0)

/* ---- tests ---- */

static void test_roundtrip(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    const char *p = tpath("rt.h5");
    h5_file f;
    CU_ASSERT_EQUAL_FATAL(h5_create(&ctx, &f, p), SIM_OK);
    int sh[3] = {2, 3, 4};
    real a[24];
    int64_t iv[5] = {-3, 0, 7, 1LL << 40, 9};
    for (int i = 0; i < 24; i++)
        a[i] = (real)(0.25 * i - 2.5); /* exact in float and double */
    CU_ASSERT_EQUAL(h5_write_real(&ctx, &f, "params/a/w64", a, 3, sh, H5IO_FLOAT64), SIM_OK);
    CU_ASSERT_EQUAL(h5_write_real(&ctx, &f, "/params/a/w32", a, 3, sh, H5IO_FLOAT32), SIM_OK);
    int five = 5;
    CU_ASSERT_EQUAL(h5_write_int64(&ctx, &f, "labels", iv, 1, &five), SIM_OK);
    real sc = (real)1.5;
    CU_ASSERT_EQUAL(h5_write_real(&ctx, &f, "loss", &sc, 0, NULL, H5IO_FLOAT64), SIM_OK);
    /* writing again replaces */
    a[0] = 100;
    CU_ASSERT_EQUAL(h5_write_real(&ctx, &f, "params/a/w64", a, 3, sh, H5IO_FLOAT64), SIM_OK);
    /* storing floats as integers is refused */
    CU_ASSERT_EQUAL(h5_write(&ctx, &f, "bad", a, H5IO_REAL, H5IO_INT32, 3, sh), SIM_EINVAL);
    CU_ASSERT_EQUAL(open_objects(&f), 0);
    CU_ASSERT_EQUAL(h5_close(&ctx, &f), SIM_OK);
    CU_ASSERT_EQUAL(h5_close(&ctx, &f), SIM_OK); /* closing twice is harmless */

    CU_ASSERT_EQUAL_FATAL(h5_open_read(&ctx, &f, p), SIM_OK);
    CU_ASSERT(h5_exists(&f, "params/a"));
    CU_ASSERT(h5_exists(&f, "/params/a/w32"));
    CU_ASSERT(!h5_exists(&f, "params/b/w32"));
    CU_ASSERT(!h5_exists(&f, "params/a/w32/x"));
    real b[24];
    CU_ASSERT_EQUAL(h5_read_real(&ctx, &f, "params/a/w64", b, 3, sh), SIM_OK);
    CHECK_CLOSE("w64", b, a, 24, 0, 0);
    CU_ASSERT_EQUAL(h5_read_real(&ctx, &f, "params/a/w32", b, 3, sh), SIM_OK);
    CU_ASSERT_EQUAL(b[0], (real)-2.5); /* the value before the rewrite of w64 */
    CHECK_CLOSE("w32", b + 1, a + 1, 23, 0, 0);
    int64_t jv[5];
    int32_t kv[5];
    CU_ASSERT_EQUAL(h5_read_int64(&ctx, &f, "labels", jv, 1, &five), SIM_OK);
    CU_ASSERT(memcmp(iv, jv, sizeof iv) == 0);
    CU_ASSERT_EQUAL(h5_read_int32(&ctx, &f, "labels", kv, 1, &five), SIM_OK);
    CU_ASSERT_EQUAL(kv[2], 7);
    CU_ASSERT_EQUAL(kv[0], -3);
    real sc2 = 0;
    CU_ASSERT_EQUAL(h5_read_real(&ctx, &f, "loss", &sc2, 0, NULL), SIM_OK);
    CU_ASSERT_EQUAL(sc2, (real)1.5);
    /* probing shapes and stored types */
    int nd = -1, got[H5IO_MAXDIM];
    h5_dtype dt = H5IO_NDTYPES;
    CU_ASSERT_EQUAL(h5_shape(&ctx, &f, "params/a/w32", &nd, got, &dt), SIM_OK);
    CU_ASSERT_EQUAL(nd, 3);
    CU_ASSERT(got[0] == 2 && got[1] == 3 && got[2] == 4);
    CU_ASSERT_EQUAL(dt, H5IO_FLOAT32);
    CU_ASSERT_EQUAL(h5_shape(&ctx, &f, "labels", &nd, got, &dt), SIM_OK);
    CU_ASSERT(nd == 1 && got[0] == 5 && dt == H5IO_INT64);
    CU_ASSERT_EQUAL(h5_shape(&ctx, &f, "loss", &nd, got, NULL), SIM_OK);
    CU_ASSERT_EQUAL(nd, 0);
    CU_ASSERT_EQUAL(h5_shape(&ctx, &f, "nothing", &nd, got, NULL), SIM_ENOTFOUND);
    /* writing to a read-only file is refused */
    CU_ASSERT_EQUAL(h5_write_real(&ctx, &f, "x", a, 1, &five, H5IO_FLOAT32), SIM_EINVAL);
    CU_ASSERT_EQUAL(open_objects(&f), 0);
    CU_ASSERT_EQUAL(h5_close(&ctx, &f), SIM_OK);
    CU_ASSERT_EQUAL(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
    CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
    ctx_free(&ctx);
}

static void test_read_errors(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    const char *p = tpath("err.h5");
    h5_file f;
    CU_ASSERT_EQUAL_FATAL(h5_create(&ctx, &f, p), SIM_OK);
    int sh3[3] = {8, 3, 3};
    real w[72] = {0};
    int64_t lab[8] = {0};
    CU_ASSERT_EQUAL(h5_write_real(&ctx, &f, "stem/conv1/weight", w, 3, sh3, H5IO_FLOAT32),
                    SIM_OK);
    CU_ASSERT_EQUAL(h5_write_int64(&ctx, &f, "labels", lab, 1, sh3), SIM_OK);
    CU_ASSERT_EQUAL(h5_close(&ctx, &f), SIM_OK);

    CU_ASSERT_EQUAL_FATAL(h5_open_read(&ctx, &f, p), SIM_OK);
    char want[512];
    int sh4[4] = {8, 1, 3, 3};
    CU_ASSERT_EQUAL(h5_read_real(&ctx, &f, "stem/conv1/weight", w, 4, sh4), SIM_ESHAPE);
    snprintf(want, sizeof want,
             "%s: tensor stem/conv1/weight: expected shape (8, 1, 3, 3), found (8, 3, 3)", p);
    CHECK_MSG_EQ(&ctx, want);
    CU_ASSERT_EQUAL(h5_read_real(&ctx, &f, "stem/conv1/bias", w, 1, sh4), SIM_ENOTFOUND);
    snprintf(want, sizeof want, "%s: tensor stem/conv1/bias missing", p);
    CHECK_MSG_EQ(&ctx, want);
    /* a missing intermediate group is just as missing */
    CU_ASSERT_EQUAL(h5_read_real(&ctx, &f, "col7/level0/alpha", w, 1, sh4), SIM_ENOTFOUND);
    CHECK_MSG(&ctx, "tensor col7/level0/alpha missing");
    /* a group is not a tensor */
    CU_ASSERT_EQUAL(h5_read_real(&ctx, &f, "stem/conv1", w, 1, sh4), SIM_EFORMAT);
    CHECK_MSG(&ctx, "stem/conv1 is a group");
    /* integers are not floats and the other way round */
    CU_ASSERT_EQUAL(h5_read_real(&ctx, &f, "labels", w, 1, sh3), SIM_EFORMAT);
    CHECK_MSG(&ctx, "expected float32 or float64 data, found integer");
    CU_ASSERT_EQUAL(h5_read_int64(&ctx, &f, "stem/conv1/weight", lab, 3, sh3), SIM_EFORMAT);
    CHECK_MSG(&ctx, "expected integer data, found float");
    /* nothing leaked on those error paths */
    CU_ASSERT_EQUAL(open_objects(&f), 0);
    CU_ASSERT_EQUAL(h5_close(&ctx, &f), SIM_OK);

    /* files: missing, not HDF5, a directory */
    CU_ASSERT_EQUAL(h5_open_read(&ctx, &f, tpath("none.h5")), SIM_EIO);
    CHECK_MSG(&ctx, tpath("none.h5"));
    CHECK_MSG(&ctx, "No such file");
    FILE *fp = fopen(tpath("text.h5"), "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    fputs("this is not an HDF5 file\n", fp);
    fclose(fp);
    CU_ASSERT_EQUAL(h5_open_read(&ctx, &f, tpath("text.h5")), SIM_EFORMAT);
    snprintf(want, sizeof want, "%s: not an HDF5 file", tpath("text.h5"));
    CHECK_MSG(&ctx, want);
    CU_ASSERT_EQUAL(h5_open_read(&ctx, &f, tmpdir), SIM_EIO);
    CHECK_MSG(&ctx, "not a regular file");
    /* messages are one line */
    CU_ASSERT(strchr(ctx_errmsg(&ctx), '\n') == NULL);
    CU_ASSERT_EQUAL(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
    ctx_free(&ctx);
}

/* A caller's HDF5 error handler: counts calls. */
static int handler_calls;
static herr_t counting_handler(hid_t stack, void *ud)
{
    (void)stack;
    (void)ud;
    handler_calls++;
    return 0;
}

static void test_error_printing_off(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    H5E_auto2_t old_fn;
    void *old_data;
    CU_ASSERT_FATAL(H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data) >= 0);
    CU_ASSERT_FATAL(H5Eset_auto2(H5E_DEFAULT, counting_handler, &ctx) >= 0);
    handler_calls = 0;
    h5_file f;
    CU_ASSERT_EQUAL(h5_open_read(&ctx, &f, tpath("text.h5")), SIM_EFORMAT);
    CU_ASSERT_EQUAL(h5_create(&ctx, &f, tpath("q.h5")), SIM_OK);
    int one = 1;
    real x = 1;
    /* provoke HDF5-level failures: an object path through a dataset */
    CU_ASSERT_EQUAL(h5_write_real(&ctx, &f, "d", &x, 1, &one, H5IO_FLOAT32), SIM_OK);
    CU_ASSERT_NOT_EQUAL(h5_write_real(&ctx, &f, "d/e", &x, 1, &one, H5IO_FLOAT32), SIM_OK);
    CU_ASSERT(strstr(ctx_errmsg(&ctx), "d/e") != NULL);
    CU_ASSERT_NOT_EQUAL(h5_set_attr_int(&ctx, &f, "d/e", "a", 1), SIM_OK);
    CU_ASSERT_EQUAL(h5_close(&ctx, &f), SIM_OK);
    CU_ASSERT_EQUAL(handler_calls, 0);
    /* and the caller's handler is back in place */
    H5E_auto2_t fn;
    void *data;
    CU_ASSERT(H5Eget_auto2(H5E_DEFAULT, &fn, &data) >= 0);
    CU_ASSERT(fn == counting_handler && data == &ctx);
    CU_ASSERT(H5Eset_auto2(H5E_DEFAULT, old_fn, old_data) >= 0);
    ctx_free(&ctx);
}

/* Values that are not representable in float: a float64 file read into the
 * float build is rounded to nearest, the double build reads them exactly. */
static void test_float64_file(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    const char *p = tpath("f64.h5");
    double v[6] = {0.1, 1.0 / 3.0, -2.0 / 7.0, 1e-30, 12345.6789, -0.0};
    /* written with the plain HDF5 API as float64, independent of h5_write */
    hid_t fid = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t d2[2] = {2, 3};
    hid_t sp = H5Screate_simple(2, d2, NULL);
    hid_t ds = H5Dcreate2(fid, "v", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT_FATAL(ds >= 0);
    CU_ASSERT(H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Fclose(fid);

    h5_file f;
    CU_ASSERT_EQUAL_FATAL(h5_open_read(&ctx, &f, p), SIM_OK);
    real r[6];
    int sh[2] = {2, 3};
    CU_ASSERT_EQUAL(h5_read_real(&ctx, &f, "v", r, 2, sh), SIM_OK);
    for (int i = 0; i < 6; i++) {
        real want = (real)v[i]; /* C's double -> float rounds to nearest */
        if (r[i] != want)
            fprintf(stderr, "\n  v[%d]: got %.17g, expected %.17g\n", i, (double)r[i],
                    (double)want);
        CU_ASSERT_EQUAL(r[i], want);
    }
    CU_ASSERT(fabs((double)r[0] - 0.1) <= TOL(0, 1e-8));
    CU_ASSERT_EQUAL(h5_close(&ctx, &f), SIM_OK);
    ctx_free(&ctx);
}

static void test_appendable(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    const char *p = tpath("trace.h5");
    h5_file f;
    CU_ASSERT_EQUAL_FATAL(h5_create(&ctx, &f, p), SIM_OK);
    int row[1] = {3};
    CU_ASSERT_EQUAL(h5_create_appendable(&ctx, &f, "traces/v", H5IO_FLOAT32, 1, row, 4, 0),
                    SIM_OK);
    CU_ASSERT_EQUAL(h5_create_appendable(&ctx, &f, "traces/spikes", H5IO_INT64, 0, NULL, 16, 4),
                    SIM_OK);
    real all[3 * 12];
    for (int i = 0; i < 36; i++)
        all[i] = (real)(i * 0.5);
    /* appends of 3, 0, 5 and 2 rows (crossing chunk boundaries) */
    CU_ASSERT_EQUAL(h5_append_real(&ctx, &f, "traces/v", all, 3), SIM_OK);
    CU_ASSERT_EQUAL(h5_append_real(&ctx, &f, "traces/v", all, 0), SIM_OK);
    CU_ASSERT_EQUAL(h5_append_real(&ctx, &f, "traces/v", all + 9, 5), SIM_OK);
    CU_ASSERT_EQUAL(h5_append_real(&ctx, &f, "traces/v", all + 24, 2), SIM_OK);
    int nd, sh[H5IO_MAXDIM];
    CU_ASSERT_EQUAL(h5_shape(&ctx, &f, "traces/v", &nd, sh, NULL), SIM_OK);
    CU_ASSERT(nd == 2 && sh[0] == 10 && sh[1] == 3);
    int64_t ids[20];
    for (int i = 0; i < 20; i++)
        ids[i] = 1000 + i;
    for (int k = 0; k < 4; k++)
        CU_ASSERT_EQUAL(h5_append(&ctx, &f, "traces/spikes", ids + 5 * k, H5IO_INT64, 5),
                        SIM_OK);
    /* a fixed dataset cannot grow; float data does not go into an int trace */
    CU_ASSERT_EQUAL(h5_write_real(&ctx, &f, "fixed", all, 1, row, H5IO_FLOAT32), SIM_OK);
    CU_ASSERT_EQUAL(h5_append_real(&ctx, &f, "fixed", all, 1), SIM_EFORMAT);
    CHECK_MSG(&ctx, "expected an appendable tensor");
    CU_ASSERT_EQUAL(h5_append_real(&ctx, &f, "traces/spikes", all, 1), SIM_EINVAL);
    CU_ASSERT_EQUAL(h5_append_real(&ctx, &f, "traces/none", all, 1), SIM_ENOTFOUND);
    CU_ASSERT_EQUAL(h5_create_appendable(&ctx, &f, "bad", H5IO_FLOAT32, 1, row, 0, 0),
                    SIM_EINVAL);
    CU_ASSERT_EQUAL(open_objects(&f), 0);
    CU_ASSERT_EQUAL(h5_close(&ctx, &f), SIM_OK);

    /* reopen and append more, then read everything back */
    CU_ASSERT_EQUAL_FATAL(h5_open_rw(&ctx, &f, p), SIM_OK);
    CU_ASSERT_EQUAL(h5_append_real(&ctx, &f, "traces/v", all + 30, 2), SIM_OK);
    CU_ASSERT_EQUAL(h5_close(&ctx, &f), SIM_OK);
    CU_ASSERT_EQUAL_FATAL(h5_open_read(&ctx, &f, p), SIM_OK);
    real back[36];
    int shv[2] = {12, 3};
    CU_ASSERT_EQUAL(h5_read_real(&ctx, &f, "traces/v", back, 2, shv), SIM_OK);
    real want[36];
    memcpy(want, all, 9 * sizeof *want);            /* rows 0..2 */
    memcpy(want + 9, all + 9, 15 * sizeof *want);   /* rows 3..7 */
    memcpy(want + 24, all + 24, 6 * sizeof *want);  /* rows 8..9 */
    memcpy(want + 30, all + 30, 6 * sizeof *want);  /* rows 10..11 */
    CHECK_CLOSE("appended rows", back, want, 36, 0, 0);
    int64_t got[20];
    int n20 = 20;
    CU_ASSERT_EQUAL(h5_read_int64(&ctx, &f, "traces/spikes", got, 1, &n20), SIM_OK);
    CU_ASSERT(memcmp(got, ids, sizeof ids) == 0);
    /* it really is chunked, unlimited and (for spikes) deflated */
    hid_t d = H5Dopen2(f.id, "traces/spikes", H5P_DEFAULT);
    hid_t dsp = H5Dget_space(d), dcpl = H5Dget_create_plist(d);
    hsize_t cur[1], mx[1], ch[1];
    CU_ASSERT(H5Sget_simple_extent_dims(dsp, cur, mx) == 1);
    CU_ASSERT(mx[0] == H5S_UNLIMITED);
    CU_ASSERT(H5Pget_layout(dcpl) == H5D_CHUNKED);
    CU_ASSERT(H5Pget_chunk(dcpl, 1, ch) == 1 && ch[0] == 16);
    CU_ASSERT(H5Pget_nfilters(dcpl) == 1);
    H5Pclose(dcpl);
    H5Sclose(dsp);
    H5Dclose(d);
    CU_ASSERT_EQUAL(h5_close(&ctx, &f), SIM_OK);
    ctx_free(&ctx);
}

static void test_attributes(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    const char *p = tpath("attr.h5");
    h5_file f;
    CU_ASSERT_EQUAL_FATAL(h5_create(&ctx, &f, p), SIM_OK);
    real x[2] = {1, 2};
    int two = 2;
    CU_ASSERT_EQUAL(h5_write_real(&ctx, &f, "params/w", x, 1, &two, H5IO_FLOAT32), SIM_OK);
    const char *json = "{\"channels\": [8, 16], \"name\": \"caf\xc3\xa9\"}";
    CU_ASSERT_EQUAL(h5_set_attr_str(&ctx, &f, "/", "config", json), SIM_OK);
    CU_ASSERT_EQUAL(h5_set_attr_str(&ctx, &f, NULL, "format", "old"), SIM_OK);
    CU_ASSERT_EQUAL(h5_set_attr_str(&ctx, &f, "", "format", "trevsnn-checkpoint"), SIM_OK);
    CU_ASSERT_EQUAL(h5_set_attr_int(&ctx, &f, "/", "version", 3), SIM_OK);
    CU_ASSERT_EQUAL(h5_set_attr_int(&ctx, &f, "params/w", "step", -(1LL << 40)), SIM_OK);
    CU_ASSERT_EQUAL(h5_set_attr_double(&ctx, &f, "params", "lr", 2.5e-4), SIM_OK);
    CU_ASSERT_EQUAL(h5_set_attr_str(&ctx, &f, "params/w", "empty", ""), SIM_OK);
    CU_ASSERT_EQUAL(h5_set_attr_int(&ctx, &f, "nowhere", "a", 1), SIM_ENOTFOUND);
    CHECK_MSG(&ctx, "object nowhere missing");
    /* a fixed-length string attribute, as numpy bytes would be stored */
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 5);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f.id, "fixed", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT(H5Awrite(a, t, "abc\0\0") >= 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    CU_ASSERT_EQUAL(h5_close(&ctx, &f), SIM_OK);

    CU_ASSERT_EQUAL_FATAL(h5_open_read(&ctx, &f, p), SIM_OK);
    char *s = NULL;
    CU_ASSERT_EQUAL(h5_get_attr_str(&ctx, &f, "/", "config", &s), SIM_OK);
    CU_ASSERT(s && !strcmp(s, json));
    mem_free(&ctx, s);
    CU_ASSERT_EQUAL(h5_get_attr_str(&ctx, &f, "/", "format", &s), SIM_OK);
    CU_ASSERT(s && !strcmp(s, "trevsnn-checkpoint"));
    mem_free(&ctx, s);
    CU_ASSERT_EQUAL(h5_get_attr_str(&ctx, &f, "params/w", "empty", &s), SIM_OK);
    CU_ASSERT(s && !strcmp(s, ""));
    mem_free(&ctx, s);
    CU_ASSERT_EQUAL(h5_get_attr_str(&ctx, &f, "/", "fixed", &s), SIM_OK);
    CU_ASSERT(s && !strcmp(s, "abc"));
    mem_free(&ctx, s);
    int64_t v = 0;
    CU_ASSERT_EQUAL(h5_get_attr_int(&ctx, &f, "/", "version", &v), SIM_OK);
    CU_ASSERT_EQUAL(v, 3);
    CU_ASSERT_EQUAL(h5_get_attr_int(&ctx, &f, "/params/w", "step", &v), SIM_OK);
    CU_ASSERT_EQUAL(v, -(1LL << 40));
    double lr = 0;
    CU_ASSERT_EQUAL(h5_get_attr_double(&ctx, &f, "params", "lr", &lr), SIM_OK);
    CU_ASSERT_EQUAL(lr, 2.5e-4);
    CU_ASSERT_EQUAL(h5_get_attr_double(&ctx, &f, "/", "version", &lr), SIM_OK);
    CU_ASSERT_EQUAL(lr, 3.0);
    /* errors: missing, wrong kind */
    CU_ASSERT_EQUAL(h5_get_attr_int(&ctx, &f, "/", "epoch", &v), SIM_ENOTFOUND);
    CHECK_MSG(&ctx, "attribute epoch missing on /");
    CHECK_MSG(&ctx, p);
    CU_ASSERT_EQUAL(h5_get_attr_int(&ctx, &f, "/", "format", &v), SIM_EFORMAT);
    CHECK_MSG(&ctx, "expected an integer, found string");
    CU_ASSERT_EQUAL(h5_get_attr_str(&ctx, &f, "/", "version", &s), SIM_EFORMAT);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_EQUAL(h5_get_attr_str(&ctx, &f, "params/x", "a", &s), SIM_ENOTFOUND);
    /* the string is variable-length UTF-8, as h5py writes str */
    a = H5Aopen(f.id, "config", H5P_DEFAULT);
    t = H5Aget_type(a);
    CU_ASSERT(H5Tis_variable_str(t) > 0);
    CU_ASSERT(H5Tget_cset(t) == H5T_CSET_UTF8);
    H5Tclose(t);
    H5Aclose(a);
    CU_ASSERT_EQUAL(open_objects(&f), 0);
    CU_ASSERT_EQUAL(h5_close(&ctx, &f), SIM_OK);
    CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
    ctx_free(&ctx);
}

static void test_atomic(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    const char *fin = tpath("ckpt.h5");
    h5_file w;
    real x[3] = {1, 2, 3};
    int three = 3;

    /* commit: nothing at the final path before, no temporary after */
    CU_ASSERT_EQUAL_FATAL(h5_create_atomic(&ctx, fin, &w), SIM_OK);
    CU_ASSERT_EQUAL(h5_write_real(&ctx, &w, "params/x", x, 1, &three, H5IO_FLOAT32), SIM_OK);
    CU_ASSERT_EQUAL(h5_set_attr_str(&ctx, &w, "/", "format", "trevsnn-checkpoint"), SIM_OK);
    CU_ASSERT(!harness_file_exists(fin));
    CU_ASSERT_EQUAL(harness_count_files(tmpdir, "ckpt.h5.tmp."), 1);
    char tmpname[64];
    snprintf(tmpname, sizeof tmpname, "ckpt.h5.tmp.%ld", (long)getpid());
    CU_ASSERT_EQUAL(harness_count_files(tmpdir, tmpname), 1);
    CU_ASSERT_EQUAL(h5_commit_atomic(&ctx, &w), SIM_OK);
    CU_ASSERT(harness_file_exists(fin));
    CU_ASSERT_EQUAL(harness_count_files(tmpdir, "ckpt.h5.tmp."), 0);
    h5_file r;
    real y[3];
    CU_ASSERT_EQUAL_FATAL(h5_open_read(&ctx, &r, fin), SIM_OK);
    CU_ASSERT_EQUAL(h5_read_real(&ctx, &r, "params/x", y, 1, &three), SIM_OK);
    CHECK_CLOSE("committed", y, x, 3, 0, 0);
    CU_ASSERT_EQUAL(h5_close(&ctx, &r), SIM_OK);

    /* abort: the committed file stays as it was, the temporary goes */
    CU_ASSERT_EQUAL_FATAL(h5_create_atomic(&ctx, fin, &w), SIM_OK);
    real z[3] = {7, 8, 9};
    CU_ASSERT_EQUAL(h5_write_real(&ctx, &w, "params/x", z, 1, &three, H5IO_FLOAT32), SIM_OK);
    h5_abort_atomic(&ctx, &w);
    CU_ASSERT_EQUAL(harness_count_files(tmpdir, "ckpt.h5.tmp."), 0);
    CU_ASSERT_EQUAL_FATAL(h5_open_read(&ctx, &r, fin), SIM_OK);
    CU_ASSERT_EQUAL(h5_read_real(&ctx, &r, "params/x", y, 1, &three), SIM_OK);
    CHECK_CLOSE("kept after abort", y, x, 3, 0, 0);
    CU_ASSERT_EQUAL(h5_close(&ctx, &r), SIM_OK);

    /* a second commit replaces the first */
    CU_ASSERT_EQUAL_FATAL(h5_create_atomic(&ctx, fin, &w), SIM_OK);
    CU_ASSERT_EQUAL(h5_write_real(&ctx, &w, "params/x", z, 1, &three, H5IO_FLOAT32), SIM_OK);
    CU_ASSERT_EQUAL(h5_commit_atomic(&ctx, &w), SIM_OK);
    CU_ASSERT_EQUAL_FATAL(h5_open_read(&ctx, &r, fin), SIM_OK);
    CU_ASSERT_EQUAL(h5_read_real(&ctx, &r, "params/x", y, 1, &three), SIM_OK);
    CHECK_CLOSE("replaced", y, z, 3, 0, 0);
    CU_ASSERT_EQUAL(h5_close(&ctx, &r), SIM_OK);
    CU_ASSERT_EQUAL(harness_count_files(tmpdir, "ckpt.h5"), 1);

    /* an unusable directory fails at create time, naming the path and why */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/no-such-dir/ckpt.h5", tmpdir);
    CU_ASSERT_EQUAL(h5_create_atomic(&ctx, bad, &w), SIM_EIO);
    CHECK_MSG(&ctx, bad);
    CHECK_MSG(&ctx, "No such file or directory");
    snprintf(bad, sizeof bad, "%s/ckpt.h5/sub.h5", tmpdir); /* a file used as a directory */
    CU_ASSERT_EQUAL(h5_create_atomic(&ctx, bad, &w), SIM_EIO);
    CHECK_MSG(&ctx, "Not a directory");
    CU_ASSERT_EQUAL(h5_create_atomic(&ctx, tmpdir, &w), SIM_EINVAL);
    CHECK_MSG(&ctx, "is a directory");
    if (geteuid() != 0) { /* root writes into read-only directories anyway */
        const char *ro = tpath("ro");
        CU_ASSERT_FATAL(mkdir(ro, 0555) == 0);
        snprintf(bad, sizeof bad, "%s/ckpt.h5", ro);
        CU_ASSERT_EQUAL(h5_create_atomic(&ctx, bad, &w), SIM_EIO);
        CHECK_MSG(&ctx, "Permission denied");
        rmdir(ro);
    }
    CU_ASSERT_EQUAL(harness_count_files(tmpdir, "tmp"), 0);
    CU_ASSERT_EQUAL(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
    ctx_free(&ctx);
}

/* Read a dataset's raw little-endian float64 values with h5dump, an
 * independent reader. Returns the count read, or -1 if h5dump is missing. */
static int h5dump_doubles(const char *file, const char *dset, double *out, int n)
{
    char bin[300], cmd[1200];
    snprintf(bin, sizeof bin, "%s/dump.bin", tmpdir);
    snprintf(cmd, sizeof cmd, "h5dump -b LE -d '%s' -o '%s' '%s' >/dev/null 2>&1", dset, bin,
             file);
    if (system(cmd) != 0)
        return -1;
    FILE *fp = fopen(bin, "rb");
    if (!fp)
        return -1;
    int got = (int)fread(out, sizeof *out, (size_t)n, fp);
    fclose(fp);
    unlink(bin);
    return got;
}

static void test_golden_file(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    const char *p = harness_testdata("golden_t3.h5");
    h5_file f;
    CU_ASSERT_EQUAL_FATAL(h5_open_read(&ctx, &f, p), SIM_OK);
    char *cfg = NULL;
    CU_ASSERT_EQUAL(h5_get_attr_str(&ctx, &f, "/", "config", &cfg), SIM_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT(cfg[0] == '{' && cfg[strlen(cfg) - 1] == '}');
    CU_ASSERT(strstr(cfg, "\"channels\": [8, 16, 16, 32]") != NULL);
    CU_ASSERT(strstr(cfg, "\"T\": 3") != NULL);
    mem_free(&ctx, cfg);
    char *fmt = NULL;
    CU_ASSERT_EQUAL(h5_get_attr_str(&ctx, &f, "/", "format", &fmt), SIM_OK);
    CU_ASSERT(fmt && !strcmp(fmt, "trevsnn-golden"));
    mem_free(&ctx, fmt);
    int64_t ver = 0;
    CU_ASSERT_EQUAL(h5_get_attr_int(&ctx, &f, "/", "version", &ver), SIM_OK);
    CU_ASSERT_EQUAL(ver, 1);

    int nd = 0, sh[H5IO_MAXDIM];
    h5_dtype dt;
    CU_ASSERT_EQUAL(h5_shape(&ctx, &f, "/params/stem/conv1/weight", &nd, sh, &dt), SIM_OK);
    CU_ASSERT_EQUAL(nd, 4);
    CU_ASSERT(sh[0] == 8 && sh[1] == 1 && sh[2] == 3 && sh[3] == 3);
    CU_ASSERT_EQUAL(dt, H5IO_FLOAT64);
    real w[72];
    int want[4] = {8, 1, 3, 3};
    CU_ASSERT_EQUAL(h5_read_real(&ctx, &f, "/params/stem/conv1/weight", w, 4, want), SIM_OK);
    double ref[72];
    int n = h5dump_doubles(p, "/params/stem/conv1/weight", ref, 72);
    if (n < 0)
        fprintf(stderr, "\n  (h5dump not available: skipping the independent value check) ");
    else {
        CU_ASSERT_EQUAL(n, 72);
        CU_ASSERT(harness_close_d("golden conv1 weight", w, ref, 72, TOL(0, 1e-7), 0));
    }
    int wrong[3] = {8, 3, 3};
    CU_ASSERT_EQUAL(h5_read_real(&ctx, &f, "/params/stem/conv1/weight", w, 3, wrong),
                    SIM_ESHAPE);
    CHECK_MSG(&ctx, "expected shape (8, 3, 3), found (8, 1, 3, 3)");
    real loss;
    CU_ASSERT_EQUAL(h5_read_real(&ctx, &f, "/train/loss", &loss, 0, NULL), SIM_OK);
    CU_ASSERT(isfinite((double)loss) && loss > 0);
    CU_ASSERT_EQUAL(open_objects(&f), 0);
    CU_ASSERT_EQUAL(h5_close(&ctx, &f), SIM_OK);
    CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
    ctx_free(&ctx);
}

int main(void)
{
    static const harness_test tests[] = {
        {"tensor round trips and shape probes", test_roundtrip},
        {"read errors are one line naming file and tensor", test_read_errors},
        {"HDF5 error printing off, caller's handler restored", test_error_printing_off},
        {"float64 file into this build", test_float64_file},
        {"appendable datasets grow and read back", test_appendable},
        {"string, integer and float attributes", test_attributes},
        {"atomic write: commit, abort, bad directory", test_atomic},
        {"golden file: config, shapes, values", test_golden_file},
        {NULL, NULL},
    };
    make_tmpdir();
    int rc = harness_run("io/h5", tests);
    harness_rmtree(tmpdir);
    return rc;
}
