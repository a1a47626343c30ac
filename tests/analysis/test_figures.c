/* test_figures.c - every figure of `sim analyze` (analysis/figures.c) from
 * a generated trace and training log: both files exist, the PNG decodes
 * with libpng to the expected size and is not blank (many colours, enough
 * drawn pixels), the SVG is an SVG document of some size; the raster of an
 * image with spikes has visibly more ink than that of a silent image; an
 * unselected raster image is an error. */
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/figures.h"
#include "analysis/plot.h"
#include "tests/harness.h"

static char tmpdir[64];

/* A trace of 3 populations (T = 4, 4 images): image 1 is silent, the
 * others fire at rates rising with the timestep. */
static const char *make_trace(void)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/trace.h5", tmpdir);
    sim_ctx ctx;
    harness_ctx(&ctx, 7);
    const char *pops[3] = {"L0.u0", "L0.hidden", "L0.turnon"};
    const int32_t sizes[3] = {400, 1600, 400};
    const char *projs[4] = {"L0.turnon->L0.u0", "L0.u0->L0.hidden", "L0.hidden->L0.turnon",
                            "L0.u0->L0.turnon"};
    trace_meta meta = {"tiny", "m.h5", "", "test", "", 1.0, 4, 4.6, 0.9};
    trace *tr = NULL;
    CU_ASSERT_FATAL(trace_create(&ctx, &tr, path, &meta, pops, sizes, 3, projs, 4) == SIM_OK);
    int32_t *ids = malloc(1600 * sizeof *ids);
    CU_ASSERT_FATAL(ids != NULL);
    unsigned long seed = 12345;
    for (int s = 0; s < 4; s++) {
        uint64_t total = 0;
        for (int t = 0; t < 4; t++) {
            for (int p = 0; p < 3; p++) {
                int n = 0;
                double rate = s == 1 ? 0 : 0.05 + 0.08 * t + 0.05 * p;
                for (int i = 0; i < sizes[p]; i++) {
                    seed = seed * 6364136223846793005ul + 1442695040888963407ul;
                    if ((double)(seed >> 11) / 9007199254740992.0 < rate)
                        ids[n++] = i;
                }
                CU_ASSERT(trace_spikes(&ctx, tr, p, 4 * s + t, ids, n) == SIM_OK);
                total += (uint64_t)n;
            }
            proj_counters c[4] = {{10, 600, 0, 650}, {40, 0, 900, 880},
                                  {70, 2000, 0, 1900}, {5, 50, 0, 20}};
            CU_ASSERT(trace_energy(&ctx, tr, s, t, c) == SIM_OK);
        }
        trace_sample_row row = {s, 4 * s, s % 3, 1, total, 1e6 + 1e4 * s, 1.1e6};
        CU_ASSERT(trace_sample(&ctx, tr, &row) == SIM_OK);
    }
    free(ids);
    CU_ASSERT_FATAL(trace_close(&ctx, tr) == SIM_OK);
    ctx_free(&ctx);
    return path;
}

static int png_stats(const char *path, int *w, int *h, int *colours, long *ink)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path))
        return -1;
    im.format = PNG_FORMAT_RGBA;
    png_bytep buf = malloc(PNG_IMAGE_SIZE(im));
    if (!buf || !png_image_finish_read(&im, NULL, buf, 0, NULL)) {
        free(buf);
        png_image_free(&im);
        return -1;
    }
    *w = (int)im.width;
    *h = (int)im.height;
    static uint32_t seen[2000];
    int nseen = 0;
    *ink = 0;
    for (size_t i = 0; i < (size_t)im.width * im.height; i++) {
        uint32_t c;
        memcpy(&c, buf + 4 * i, 4);
        *ink += c != 0xffffffffu;
        int k = 0;
        while (k < nseen && seen[k] != c)
            k++;
        if (k == nseen && nseen < 2000)
            seen[nseen++] = c;
    }
    *colours = nseen;
    free(buf);
    return 0;
}

/* Check DIR/STEM.{png,svg}; returns the PNG's drawn pixels. */
static long check_figure(const char *dir, const char *stem, int want_w, int want_h)
{
    char png[256], svg[256];
    snprintf(png, sizeof png, "%s/%s.png", dir, stem);
    snprintf(svg, sizeof svg, "%s/%s.svg", dir, stem);
    int w = 0, h = 0, colours = 0;
    long ink = 0;
    int ok = png_stats(png, &w, &h, &colours, &ink) == 0;
    if (!ok)
        fprintf(stderr, "\n  %s does not decode\n", png);
    CU_ASSERT_FATAL(ok);
    if (w != want_w || h != want_h || colours < 50 || ink < (long)w * h / 50)
        fprintf(stderr, "\n  %s: %dx%d (expected %dx%d), %d colours, %ld drawn pixels\n", png, w,
                h, want_w, want_h, colours, ink);
    CU_ASSERT_EQUAL(w, want_w);
    CU_ASSERT_EQUAL(h, want_h);
    CU_ASSERT(colours >= 50);
    CU_ASSERT(ink >= (long)w * h / 50);
    FILE *f = fopen(svg, "r");
    CU_ASSERT_FATAL(f != NULL);
    char head[16] = {0};
    CU_ASSERT(fread(head, 1, sizeof head - 1, f) > 5);
    fseek(f, -16, SEEK_END);
    char tail[17] = {0};
    CU_ASSERT(fread(tail, 1, 16, f) == 16);
    long size = ftell(f);
    fclose(f);
    CU_ASSERT(!strncmp(head, "<?xml", 5) || !strncmp(head, "<svg", 4));
    CU_ASSERT(strstr(tail, "</svg>") != NULL);
    CU_ASSERT(size > 5000);
    return ink;
}

static void test_trace_figures(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    const char *path = make_trace();
    report r;
    report_opts o = {0};
    CU_ASSERT_FATAL(report_load(&ctx, &r, path, &o) == SIM_OK);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/figs", tmpdir);
    CU_ASSERT_FATAL(figures_trace(&ctx, &r, dir) == SIM_OK);
    /* heights follow the row counts: 3 populations, 4 projections */
    long busy = check_figure(dir, "raster", FIGURES_WIDTH, 420);
    check_figure(dir, "heatmap", FIGURES_WIDTH, 380);
    check_figure(dir, "energy", FIGURES_WIDTH, 360);
    report_free(&ctx, &r);
    /* the silent image: same frame, far fewer drawn pixels */
    o.image = 1;
    CU_ASSERT_FATAL(report_load(&ctx, &r, path, &o) == SIM_OK);
    snprintf(dir, sizeof dir, "%s/silent", tmpdir);
    CU_ASSERT_FATAL(figures_raster(&ctx, &r, dir) == SIM_OK);
    long quiet = check_figure(dir, "raster", FIGURES_WIDTH, 420);
    if (busy < quiet + 5000)
        fprintf(stderr, "\n  raster ink: %ld with spikes, %ld without\n", busy, quiet);
    CU_ASSERT(busy > quiet + 5000);
    report_free(&ctx, &r);
    /* no image selected */
    CU_ASSERT_FATAL(report_load(&ctx, &r, path, NULL) == SIM_OK);
    CU_ASSERT_EQUAL(figures_raster(&ctx, &r, dir), SIM_ERANGE);
    CHECK_MSG(&ctx, "no image selected");
    report_free(&ctx, &r);
    CU_ASSERT_EQUAL(ctx.nallocs, 0);
    ctx_free(&ctx);
}

static void test_training_figure(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    const char *path = harness_join(tmpdir, "train.jsonl");
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    for (int e = 1; e <= 5; e++)
        fprintf(f, "{\"epoch\": %d, \"step\": %d, \"loss\": %g, \"train_acc\": %g, \"lr\": %g, "
                "\"images_per_s\": %g, \"test_acc\": [%g, %g, %g], \"test_acc_ema\": %g}\n", e,
                100 * e, 3.0 / e, 0.6 + 0.05 * e, 0.002 / e, 200.0 + 5 * e, 0.7 + 0.03 * e,
                0.72 + 0.03 * e, 0.73 + 0.03 * e, 0.5 + 0.08 * e);
    fclose(f);
    trainlog lg;
    CU_ASSERT_FATAL(trainlog_load(&ctx, &lg, path) == SIM_OK);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/train", tmpdir);
    CU_ASSERT_FATAL(figures_training(&ctx, &lg, dir) == SIM_OK);
    check_figure(dir, "training", FIGURES_WIDTH, 640);
    trainlog_free(&ctx, &lg);
    CU_ASSERT_EQUAL(ctx.nallocs, 0);
    ctx_free(&ctx);
}

int main(void)
{
    harness_mkdtemp(tmpdir, sizeof tmpdir, "test_figures");
    static const harness_test tests[] = {
        {"raster, heatmap and energy figures of a trace", test_trace_figures},
        {"training curves of a log", test_training_figure},
        {NULL, NULL},
    };
    int rc = harness_run("analysis/figures", tests);
    harness_rmtree(tmpdir);
    plot_release();
    return rc;
}
