/* plot.h - the generic part of our figures, drawn with cairo: a figure is
 * a draw callback run twice, once onto an image surface written as PNG and
 * once onto an SVG surface, so both files show the same picture. Helpers
 * draw text (DejaVu Sans, any anchor and angle), axes with "nice" ticks,
 * tick labels, axis labels and grid lines, a title, legends, the viridis
 * colour map and a colour bar, and a categorical palette.
 *
 * Coordinates are device units (pixels of the PNG, points of the SVG); a
 * plot_axes maps a data rectangle onto a box of the figure. */
#ifndef ANALYSIS_PLOT_H
#define ANALYSIS_PLOT_H

#include <cairo.h>
#include <stddef.h>

#include "sim/ctx.h"

#define PLOT_MAX_TICKS 32
#define PLOT_FONT "DejaVu Sans"

/* A data rectangle [xmin, xmax] x [ymin, ymax] drawn in the box whose top
 * left corner is (x0, y0), w wide and h high (y grows upwards in data). */
typedef struct {
    double x0, y0, w, h;
    double xmin, xmax, ymin, ymax;
} plot_axes;

double plot_px(const plot_axes *a, double x);
double plot_py(const plot_axes *a, double y);

/* Draws one figure of width x height onto cr (the surface is blank). */
typedef void (*plot_draw_fn)(cairo_t *cr, int width, int height, void *ud);

/* Draw the figure into DIR/STEM.png and DIR/STEM.svg (DIR is created when
 * missing, its parent must exist). Errors name the file and cairo's
 * reason. */
sim_status plot_write(sim_ctx *ctx, const char *dir, const char *stem, int width, int height,
                      plot_draw_fn draw, void *ud);

/* Release cairo's static caches and fontconfig's configuration (what the
 * text drawing loaded), so leak checkers see a clean exit. Call it when no
 * cairo object is alive any more, e.g. at the end of a command. */
void plot_release(void);

/* White background, a bold title centred at the top and an optional
 * smaller subtitle below it (NULL: none). */
void plot_begin(cairo_t *cr, int width, int height, const char *title, const char *subtitle);

/* Text of the given size anchored at (x, y): halign 0 left, 0.5 centre, 1
 * right; valign 0 top, 0.5 middle, 1 baseline-ish bottom; rotated by
 * angle radians about the anchor. */
void plot_text(cairo_t *cr, double x, double y, double size, double halign, double valign,
               double angle, int bold, const char *text);
double plot_text_width(cairo_t *cr, double size, int bold, const char *text);

/* Up to cap "nice" tick values (steps 1, 2, 5 x 10^k) covering [lo, hi]
 * with about `target` ticks; returns their number and the step. */
int plot_ticks(double lo, double hi, int target, double *ticks, int cap, double *step);
/* A tick label: enough decimals for the step; large values as 12k, 3.4M. */
void plot_format(char *buf, size_t len, double v, double step);

enum {
    PLOT_GRID_X = 1,     /* vertical grid lines at the x ticks */
    PLOT_GRID_Y = 2,     /* horizontal grid lines at the y ticks */
    PLOT_NO_XTICKS = 4,  /* the caller labels x itself */
    PLOT_NO_YTICKS = 8,  /* the caller labels y itself */
};
/* Frame, ticks, tick labels, grid (flags) and the axis labels (NULL: none)
 * of a; draw the data after this, the frame is drawn again by
 * plot_axes_frame. */
void plot_axes_draw(cairo_t *cr, const plot_axes *a, const char *xlabel, const char *ylabel,
                    unsigned flags);
void plot_axes_frame(cairo_t *cr, const plot_axes *a);

/* Colours: viridis for v in [0, 1] (clamped), and a categorical palette
 * (Tableau 10) by index. */
void plot_viridis(double v, double rgb[3]);
void plot_palette(int i, double rgb[3]);
void plot_set_rgb(cairo_t *cr, const double rgb[3], double alpha);

/* A vertical colour bar at (x, y), w x h, mapping [lo, hi] with viridis,
 * ticks on its right and a rotated label beyond them. */
void plot_colorbar(cairo_t *cr, double x, double y, double w, double h, double lo, double hi,
                   const char *label);

/* A legend box with its top right corner at (x, y): n entries, each a
 * colour swatch (style 0: filled box, 1: line) and a label. */
void plot_legend(cairo_t *cr, double x, double y, int n, const char *const *labels,
                 const double (*rgb)[3], const int *style);

#endif
