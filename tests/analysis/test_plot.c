/* test_plot.c - the generic cairo drawing (analysis/plot.c): nice ticks and
 * tick labels, the colour maps, and plot_write producing a PNG (decoded
 * with libpng: size, drawn pixels) and an SVG of the same figure, and
 * failing with the file name when the directory cannot be used. */
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/plot.h"
#include "tests/harness.h"

static char tmpdir[64];

static void test_ticks(void)
{
    double t[PLOT_MAX_TICKS], step;
    int n = plot_ticks(0, 10, 5, t, PLOT_MAX_TICKS, &step);
    CU_ASSERT_EQUAL(n, 6);
    CU_ASSERT_DOUBLE_EQUAL(step, 2, 0);
    for (int i = 0; i < n; i++)
        CU_ASSERT_DOUBLE_EQUAL(t[i], 2 * i, 1e-12);
    n = plot_ticks(0.013, 0.087, 4, t, PLOT_MAX_TICKS, &step);
    CU_ASSERT_DOUBLE_EQUAL(step, 0.02, 1e-15);
    CU_ASSERT_EQUAL(n, 4); /* 0.02 0.04 0.06 0.08 */
    CU_ASSERT_DOUBLE_EQUAL(t[0], 0.02, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(t[3], 0.08, 1e-12);
    n = plot_ticks(-3, 3, 6, t, PLOT_MAX_TICKS, &step);
    CU_ASSERT_EQUAL(n, 7);
    CU_ASSERT_EQUAL(t[3], 0); /* an exact zero, not -1e-17 */
    n = plot_ticks(5, 5, 5, t, PLOT_MAX_TICKS, &step); /* empty range: widened */
    CU_ASSERT(n >= 2 && t[0] <= 5 && t[n - 1] >= 5);
    n = plot_ticks(0, 1e9, 1000, t, 3, &step); /* capped */
    CU_ASSERT_EQUAL(n, 3);
    char b[32];
    plot_format(b, sizeof b, 7.5, 2.5);
    CU_ASSERT_STRING_EQUAL(b, "7.5");
    plot_format(b, sizeof b, 0.25, 0.05);
    CU_ASSERT_STRING_EQUAL(b, "0.25");
    plot_format(b, sizeof b, 4, 2);
    CU_ASSERT_STRING_EQUAL(b, "4");
    plot_format(b, sizeof b, 25000, 5000);
    CU_ASSERT_STRING_EQUAL(b, "25k");
    plot_format(b, sizeof b, 3500000, 500000);
    CU_ASSERT_STRING_EQUAL(b, "3.5M");
    plot_format(b, sizeof b, 0.001, 0.0005);
    CU_ASSERT_STRING_EQUAL(b, "0.0010");
}

static void test_colours(void)
{
    double lo[3], hi[3], mid[3], c[3];
    plot_viridis(0, lo);
    plot_viridis(1, hi);
    plot_viridis(0.5, mid);
    CU_ASSERT(lo[2] > lo[1] && hi[0] > 0.9 && hi[1] > 0.85); /* dark purple to yellow */
    CU_ASSERT(mid[1] > lo[1] && mid[1] < hi[1]);
    plot_viridis(-3, c);
    CU_ASSERT(!memcmp(c, lo, sizeof c));
    plot_viridis(NAN, c);
    CU_ASSERT(!memcmp(c, lo, sizeof c));
    plot_viridis(7, c);
    CU_ASSERT(!memcmp(c, hi, sizeof c));
    plot_palette(0, lo);
    plot_palette(10, hi);
    plot_palette(-10, mid);
    CU_ASSERT(!memcmp(lo, hi, sizeof lo) && !memcmp(lo, mid, sizeof lo));
    plot_palette(1, hi);
    CU_ASSERT(memcmp(lo, hi, sizeof lo) != 0);
    plot_axes a = {10, 20, 100, 50, 0, 10, -1, 1};
    CU_ASSERT_DOUBLE_EQUAL(plot_px(&a, 5), 60, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(plot_py(&a, 1), 20, 1e-12);  /* top */
    CU_ASSERT_DOUBLE_EQUAL(plot_py(&a, -1), 70, 1e-12); /* bottom */
}

/* A small figure: axes, a red diagonal, a colour bar, a legend. */
static void draw_demo(cairo_t *cr, int w, int h, void *ud)
{
    (void)ud;
    plot_begin(cr, w, h, "demo", "subtitle");
    plot_axes a = {60, 60, w - 160, h - 110, 0, 1, 0, 100};
    plot_axes_draw(cr, &a, "x", "y", PLOT_GRID_X | PLOT_GRID_Y);
    cairo_set_source_rgb(cr, 1, 0, 0);
    cairo_set_line_width(cr, 3);
    cairo_move_to(cr, plot_px(&a, 0), plot_py(&a, 0));
    cairo_line_to(cr, plot_px(&a, 1), plot_py(&a, 100));
    cairo_stroke(cr);
    plot_colorbar(cr, w - 80, 60, 14, h - 110, 0, 0.5, "rate");
    const char *labels[1] = {"line"};
    const double rgb[1][3] = {{1, 0, 0}};
    const int style[1] = {1};
    plot_legend(cr, a.x0 + a.w - 4, a.y0 + 4, 1, labels, rgb, style);
}

/* Decode a PNG; its size, the number of distinct colours (capped at 1000)
 * and of pixels that are not white. 0 on success. */
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
    uint32_t seen[1000];
    int nseen = 0;
    *ink = 0;
    for (size_t i = 0; i < (size_t)im.width * im.height; i++) {
        uint32_t c;
        memcpy(&c, buf + 4 * i, 4);
        if (c != 0xffffffffu)
            (*ink)++;
        int k = 0;
        while (k < nseen && seen[k] != c)
            k++;
        if (k == nseen && nseen < 1000)
            seen[nseen++] = c;
    }
    *colours = nseen;
    free(buf);
    return 0;
}

static void test_write(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/new", tmpdir); /* created by plot_write */
    CU_ASSERT_FATAL(plot_write(&ctx, dir, "demo", 400, 260, draw_demo, NULL) == SIM_OK);
    int w = 0, h = 0, colours = 0;
    long ink = 0;
    CU_ASSERT_FATAL(png_stats(harness_join(dir, "demo.png"), &w, &h, &colours, &ink) == 0);
    CU_ASSERT_EQUAL(w, 400);
    CU_ASSERT_EQUAL(h, 260);
    if (colours <= 20 || ink < 2000)
        fprintf(stderr, "\n  demo.png: %d colours, %ld drawn pixels\n", colours, ink);
    CU_ASSERT(colours > 20);             /* text anti-aliasing, the colour bar */
    CU_ASSERT(ink > 2000 && ink < 400L * 260 / 2);
    FILE *f = fopen(harness_join(dir, "demo.svg"), "r");
    CU_ASSERT_FATAL(f != NULL);
    char head[64] = {0};
    CU_ASSERT(fread(head, 1, sizeof head - 1, f) > 10);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    CU_ASSERT(!strncmp(head, "<?xml", 5) || !strncmp(head, "<svg", 4));
    CU_ASSERT(size > 2000);
    /* a file where the directory should be, and a missing parent */
    const char *file = harness_join(tmpdir, "afile");
    f = fopen(file, "w");
    fclose(f);
    CU_ASSERT_EQUAL(plot_write(&ctx, file, "demo", 100, 100, draw_demo, NULL), SIM_EIO);
    CHECK_MSG(&ctx, "expected a directory, found a file");
    snprintf(dir, sizeof dir, "%s/no/such", tmpdir);
    CU_ASSERT_EQUAL(plot_write(&ctx, dir, "demo", 100, 100, draw_demo, NULL), SIM_EIO);
    CHECK_MSG(&ctx, "no/such: cannot create");
    ctx_free(&ctx);
}

int main(void)
{
    harness_mkdtemp(tmpdir, sizeof tmpdir, "test_plot");
    static const harness_test tests[] = {
        {"nice ticks and tick labels", test_ticks},
        {"colour maps and axes mapping", test_colours},
        {"PNG and SVG of one figure, unusable directories", test_write},
        {NULL, NULL},
    };
    int rc = harness_run("analysis/plot", tests);
    harness_rmtree(tmpdir);
    plot_release();
    return rc;
}
