/* plot.c - generic cairo drawing for the figures (see plot.h): PNG and SVG
 * output of one draw callback, text, axes with nice ticks, colour maps. */
#include "plot.h"

#include <cairo-svg.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

double plot_px(const plot_axes *a, double x)
{
    double d = a->xmax - a->xmin;
    return a->x0 + (d != 0 ? (x - a->xmin) / d : 0.5) * a->w;
}

double plot_py(const plot_axes *a, double y)
{
    double d = a->ymax - a->ymin;
    return a->y0 + a->h - (d != 0 ? (y - a->ymin) / d : 0.5) * a->h;
}

/* ---- output ---- */

static sim_status make_dir(sim_ctx *ctx, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return ctx_error(ctx, SIM_EIO, "--plot-dir %s: expected a directory, found a file",
                             dir);
        return SIM_OK;
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return ctx_error(ctx, SIM_EIO, "--plot-dir %s: cannot create: %s", dir, strerror(errno));
    return SIM_OK;
}

static sim_status cairo_fail(sim_ctx *ctx, const char *path, cairo_status_t cs)
{
    return ctx_error(ctx, SIM_EIO, "%s: cannot write the figure: %s", path,
                     cairo_status_to_string(cs));
}

sim_status plot_write(sim_ctx *ctx, const char *dir, const char *stem, int width, int height,
                      plot_draw_fn draw, void *ud)
{
    sim_status s = make_dir(ctx, dir);
    if (s != SIM_OK)
        return s;
    char path[4096];
    /* PNG */
    snprintf(path, sizeof path, "%s/%s.png", dir, stem);
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height);
    cairo_status_t cs = cairo_surface_status(img);
    if (cs == CAIRO_STATUS_SUCCESS) {
        cairo_t *cr = cairo_create(img);
        draw(cr, width, height, ud);
        cs = cairo_status(cr);
        cairo_destroy(cr);
        if (cs == CAIRO_STATUS_SUCCESS)
            cs = cairo_surface_write_to_png(img, path);
    }
    cairo_surface_destroy(img);
    if (cs != CAIRO_STATUS_SUCCESS)
        return cairo_fail(ctx, path, cs);
    /* SVG: the same drawing; the file is complete after cairo_surface_finish */
    snprintf(path, sizeof path, "%s/%s.svg", dir, stem);
    cairo_surface_t *svg = cairo_svg_surface_create(path, width, height);
    cs = cairo_surface_status(svg);
    if (cs == CAIRO_STATUS_SUCCESS) {
        cairo_t *cr = cairo_create(svg);
        draw(cr, width, height, ud);
        cs = cairo_status(cr);
        cairo_destroy(cr);
        cairo_surface_finish(svg);
        if (cs == CAIRO_STATUS_SUCCESS)
            cs = cairo_surface_status(svg);
    }
    cairo_surface_destroy(svg);
    if (cs != CAIRO_STATUS_SUCCESS)
        return cairo_fail(ctx, path, cs);
    return SIM_OK;
}

void plot_release(void)
{
    cairo_debug_reset_static_data();
    /* fontconfig is cairo's dependency and already loaded: looked up at run
     * time, so the build does not need to link it itself */
    void (*fc_fini)(void) = NULL;
    *(void **)&fc_fini = dlsym(RTLD_DEFAULT, "FcFini");
    if (fc_fini)
        fc_fini();
}

/* ---- text ---- */

static void set_font(cairo_t *cr, double size, int bold)
{
    cairo_select_font_face(cr, PLOT_FONT, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

double plot_text_width(cairo_t *cr, double size, int bold, const char *text)
{
    cairo_text_extents_t te;
    set_font(cr, size, bold);
    cairo_text_extents(cr, text, &te);
    return te.x_advance;
}

void plot_text(cairo_t *cr, double x, double y, double size, double halign, double valign,
               double angle, int bold, const char *text)
{
    cairo_text_extents_t te;
    set_font(cr, size, bold);
    cairo_text_extents(cr, text, &te);
    /* a fixed ascent (not the string's own) keeps labels of a row aligned */
    double asc = 0.72 * size;
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, angle);
    cairo_move_to(cr, -halign * te.x_advance, asc - valign * asc);
    cairo_show_text(cr, text);
    cairo_restore(cr);
}

void plot_begin(cairo_t *cr, int width, int height, const char *title, const char *subtitle)
{
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_rectangle(cr, 0, 0, width, height);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    plot_text(cr, width / 2.0, 12, 16, 0.5, 0, 0, 1, title);
    if (subtitle) {
        cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
        plot_text(cr, width / 2.0, 34, 11.5, 0.5, 0, 0, 0, subtitle);
    }
}

/* ---- ticks and axes ---- */

int plot_ticks(double lo, double hi, int target, double *ticks, int cap, double *step)
{
    if (!(hi > lo)) {
        double d = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1;
        lo -= d;
        hi += d;
    }
    if (target < 2)
        target = 2;
    double raw = (hi - lo) / target, mag = pow(10, floor(log10(raw))), st = mag;
    static const double mult[] = {1, 2, 2.5, 5, 10};
    for (int i = 0; i < 5; i++)
        if (mag * mult[i] >= raw) {
            st = mag * mult[i];
            break;
        }
    int n = 0;
    double eps = st * 1e-9;
    for (double v = ceil((lo - eps) / st) * st; v <= hi + eps && n < cap; v += st)
        ticks[n++] = fabs(v) < eps ? 0 : v;
    if (step)
        *step = st;
    return n;
}

void plot_format(char *buf, size_t len, double v, double step)
{
    const char *suffix = "";
    double a = fabs(v) > fabs(step) ? fabs(v) : fabs(step);
    if (a >= 1e6 * 0.999 && fabs(step) >= 1e4) {
        v /= 1e6, step /= 1e6, suffix = "M";
    } else if (a >= 1e4 && fabs(step) >= 100) {
        v /= 1e3, step /= 1e3, suffix = "k";
    }
    /* the fewest decimals that show the step exactly (2.5 needs one) */
    int dec = 0;
    double st = fabs(step);
    while (dec < 8 && st > 0 && fabs(st * pow(10, dec) - round(st * pow(10, dec))) >
                                    1e-6 * st * pow(10, dec))
        dec++;
    if (dec > 8)
        dec = 8;
    snprintf(buf, len, "%.*f%s", dec, v, suffix);
}

void plot_axes_frame(cairo_t *cr, const plot_axes *a)
{
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, round(a->x0) + 0.5, round(a->y0) + 0.5, round(a->w), round(a->h));
    cairo_stroke(cr);
}

void plot_axes_draw(cairo_t *cr, const plot_axes *a, const char *xlabel, const char *ylabel,
                    unsigned flags)
{
    double ticks[PLOT_MAX_TICKS], step;
    char lab[48];
    double ymaxw = 0;
    cairo_set_line_width(cr, 1);
    if (!(flags & PLOT_NO_XTICKS)) {
        int n = plot_ticks(a->xmin, a->xmax, (int)(a->w / 90) + 2, ticks, PLOT_MAX_TICKS, &step);
        for (int i = 0; i < n; i++) {
            double x = round(plot_px(a, ticks[i])) + 0.5;
            if (x < a->x0 - 0.5 || x > a->x0 + a->w + 1)
                continue;
            if (flags & PLOT_GRID_X) {
                cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
                cairo_move_to(cr, x, a->y0);
                cairo_line_to(cr, x, a->y0 + a->h);
                cairo_stroke(cr);
            }
            cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
            cairo_move_to(cr, x, a->y0 + a->h);
            cairo_line_to(cr, x, a->y0 + a->h + 5);
            cairo_stroke(cr);
            plot_format(lab, sizeof lab, ticks[i], step);
            plot_text(cr, x, a->y0 + a->h + 8, 11, 0.5, 0, 0, 0, lab);
        }
    }
    if (!(flags & PLOT_NO_YTICKS)) {
        int n = plot_ticks(a->ymin, a->ymax, (int)(a->h / 60) + 2, ticks, PLOT_MAX_TICKS, &step);
        for (int i = 0; i < n; i++) {
            double y = round(plot_py(a, ticks[i])) + 0.5;
            if (y < a->y0 - 1 || y > a->y0 + a->h + 1)
                continue;
            if (flags & PLOT_GRID_Y) {
                cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
                cairo_move_to(cr, a->x0, y);
                cairo_line_to(cr, a->x0 + a->w, y);
                cairo_stroke(cr);
            }
            cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
            cairo_move_to(cr, a->x0 - 5, y);
            cairo_line_to(cr, a->x0, y);
            cairo_stroke(cr);
            plot_format(lab, sizeof lab, ticks[i], step);
            plot_text(cr, a->x0 - 8, y, 11, 1, 0.5, 0, 0, lab);
            double w = plot_text_width(cr, 11, 0, lab);
            ymaxw = w > ymaxw ? w : ymaxw;
        }
    } else {
        ymaxw = 40;
    }
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    if (xlabel)
        plot_text(cr, a->x0 + a->w / 2, a->y0 + a->h + 28, 12.5, 0.5, 0, 0, 0, xlabel);
    if (ylabel)
        plot_text(cr, a->x0 - ymaxw - 16, a->y0 + a->h / 2, 12.5, 0.5, 1, -M_PI / 2, 0, ylabel);
    plot_axes_frame(cr, a);
}

/* ---- colours ---- */

void plot_viridis(double v, double rgb[3])
{
    /* viridis at 9 evenly spaced points, interpolated linearly */
    static const double c[9][3] = {
        {0.267, 0.005, 0.329}, {0.283, 0.141, 0.458}, {0.254, 0.265, 0.530},
        {0.207, 0.372, 0.553}, {0.164, 0.471, 0.558}, {0.128, 0.567, 0.551},
        {0.135, 0.659, 0.518}, {0.478, 0.821, 0.318}, {0.993, 0.906, 0.144},
    };
    if (!(v > 0))
        v = 0;
    if (v > 1)
        v = 1;
    double x = v * 8;
    int i = (int)x;
    if (i > 7)
        i = 7;
    double f = x - i;
    for (int k = 0; k < 3; k++)
        rgb[k] = c[i][k] + f * (c[i + 1][k] - c[i][k]);
}

void plot_palette(int i, double rgb[3])
{
    static const double c[10][3] = {
        {0.122, 0.467, 0.706}, {1.000, 0.498, 0.055}, {0.173, 0.627, 0.173},
        {0.839, 0.153, 0.157}, {0.580, 0.404, 0.741}, {0.549, 0.337, 0.294},
        {0.890, 0.467, 0.761}, {0.498, 0.498, 0.498}, {0.737, 0.741, 0.133},
        {0.090, 0.745, 0.812},
    };
    int k = ((i % 10) + 10) % 10;
    memcpy(rgb, c[k], sizeof c[k]);
}

void plot_set_rgb(cairo_t *cr, const double rgb[3], double alpha)
{
    cairo_set_source_rgba(cr, rgb[0], rgb[1], rgb[2], alpha);
}

void plot_colorbar(cairo_t *cr, double x, double y, double w, double h, double lo, double hi,
                   const char *label)
{
    cairo_pattern_t *g = cairo_pattern_create_linear(0, y + h, 0, y);
    for (int i = 0; i <= 16; i++) {
        double rgb[3];
        plot_viridis(i / 16.0, rgb);
        cairo_pattern_add_color_stop_rgb(g, i / 16.0, rgb[0], rgb[1], rgb[2]);
    }
    cairo_rectangle(cr, x, y, w, h);
    cairo_set_source(cr, g);
    cairo_fill(cr);
    cairo_pattern_destroy(g);
    plot_axes a = {x, y, w, h, 0, 1, lo, hi};
    double ticks[PLOT_MAX_TICKS], step, maxw = 0;
    char lab[48];
    int n = plot_ticks(lo, hi, (int)(h / 50) + 2, ticks, PLOT_MAX_TICKS, &step);
    cairo_set_line_width(cr, 1);
    for (int i = 0; i < n; i++) {
        double yy = round(plot_py(&a, ticks[i])) + 0.5;
        if (yy < y - 1 || yy > y + h + 1)
            continue;
        cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
        cairo_move_to(cr, x + w, yy);
        cairo_line_to(cr, x + w + 4, yy);
        cairo_stroke(cr);
        plot_format(lab, sizeof lab, ticks[i], step);
        plot_text(cr, x + w + 7, yy, 11, 0, 0.5, 0, 0, lab);
        double tw = plot_text_width(cr, 11, 0, lab);
        maxw = tw > maxw ? tw : maxw;
    }
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
    cairo_rectangle(cr, round(x) + 0.5, round(y) + 0.5, round(w), round(h));
    cairo_stroke(cr);
    if (label)
        plot_text(cr, x + w + maxw + 12, y + h / 2, 12, 0.5, 0, -M_PI / 2, 0, label);
}

void plot_legend(cairo_t *cr, double x, double y, int n, const char *const *labels,
                 const double (*rgb)[3], const int *style)
{
    double maxw = 0;
    for (int i = 0; i < n; i++) {
        double w = plot_text_width(cr, 11, 0, labels[i]);
        maxw = w > maxw ? w : maxw;
    }
    double bw = maxw + 42, bh = 8 + 18 * n, x0 = x - bw;
    cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
    cairo_rectangle(cr, x0, y, bw, bh);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.7, 0.7, 0.7);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    for (int i = 0; i < n; i++) {
        double yy = y + 13 + 18 * i;
        plot_set_rgb(cr, rgb[i], 1);
        if (style && style[i] == 1) {
            cairo_set_line_width(cr, 2.2);
            cairo_move_to(cr, x0 + 7, yy);
            cairo_line_to(cr, x0 + 29, yy);
            cairo_stroke(cr);
        } else {
            cairo_rectangle(cr, x0 + 9, yy - 5, 18, 10);
            cairo_fill(cr);
        }
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        plot_text(cr, x0 + 35, yy, 11, 0, 0.5, 0, 0, labels[i]);
    }
}
