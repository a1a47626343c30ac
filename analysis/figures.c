/* figures.c - the raster, rate heatmap, energy and training figures of
 * `sim analyze` (see figures.h), on top of analysis/plot.h. Each figure is
 * a draw callback over a const view of the data, so the PNG and the SVG
 * are drawn by the same code. */
#include "figures.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analysis/plot.h"

/* ---- raster ---- */

/* Colour of a population by its kind (the name's last dot-separated part:
 * u0, hidden, u1, turnon, ...), so equal kinds share a colour. */
static const char *kind_of(const char *name)
{
    const char *a = strrchr(name, '.');
    return a ? a + 1 : name;
}

static int kind_colour(const report *r, int p)
{
    int k = 0; /* distinct kinds before the first population of p's kind */
    for (int q = 0; q < p; q++) {
        if (!strcmp(kind_of(r->pops[q].name), kind_of(r->pops[p].name)))
            return kind_colour(r, q);
        int first = 1;
        for (int z = 0; z < q && first; z++)
            first = strcmp(kind_of(r->pops[z].name), kind_of(r->pops[q].name)) != 0;
        k += first;
    }
    return k;
}

static void draw_raster(cairo_t *cr, int W, int H, void *ud)
{
    const report *r = ud;
    const trace_sample_row *sm = &r->samples[r->image];
    char title[256], sub[256];
    snprintf(title, sizeof title, "Spike raster of image %lld (dataset index %lld, label %d, "
             "predicted %d)", (long long)r->image, (long long)sm->index, (int)sm->label,
             (int)sm->prediction);
    uint64_t nimg = 0;
    for (int p = 0; p < r->npop; p++)
        nimg += (uint64_t)r->pops[p].img_n;
    snprintf(sub, sizeof sub, "%llu spikes, T = %d timesteps of %g ms; y: neuron id 0..n-1 down "
             "each population's band; x: each neuron at a fixed offset", (unsigned long long)nimg,
             r->T, r->dt_ms);
    plot_begin(cr, W, H, title, sub);
    const int np = r->npop > 0 ? r->npop : 1;
    plot_axes a = {150, 72, W - 150 - 95, H - 72 - 62, 0, r->T, 0, np};
    /* alternate population bands, then the frame and labels */
    for (int p = 0; p < r->npop; p++) {
        if (p % 2)
            continue;
        cairo_set_source_rgb(cr, 0.95, 0.95, 0.96);
        double y1 = plot_py(&a, np - p), y2 = plot_py(&a, np - p - 1);
        cairo_rectangle(cr, a.x0, y1, a.w, y2 - y1);
        cairo_fill(cr);
    }
    plot_axes_draw(cr, &a, "timestep t within the image (spikes at time t·dt; bands spread "
                   "a timestep's spikes by neuron)", NULL, PLOT_NO_XTICKS | PLOT_NO_YTICKS);
    const double band = a.h / np;
    const double fs = band >= 14 ? 10.5 : band >= 9 ? 8 : 0;
    /* the dots go onto an image layer, one fill per population: a trace has
     * far too many spikes for one vector object each in the SVG */
    const int lw = (int)ceil(a.w), lh = (int)ceil(a.h);
    cairo_surface_t *layer = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, lw, lh);
    cairo_t *lc = cairo_create(layer);
    plot_axes la = a;
    la.x0 = la.y0 = 0;
    const double dot = band >= 20 ? 1.3 : 1.0;
    for (int p = 0; p < r->npop; p++) {
        const report_pop *pp = &r->pops[p];
        double rgb[3];
        plot_palette(kind_colour(r, p), rgb);
        for (int64_t i = 0; i < pp->img_n; i++) {
            double frac = fmod((double)pp->img_id[i] * 0.6180339887498949, 1.0);
            double x = plot_px(&la, pp->img_t[i] + 0.05 + 0.9 * frac);
            double y = plot_py(&la, np - p - (pp->img_id[i] + 0.5) / (double)pp->n_nodes);
            cairo_rectangle(lc, x - dot / 2, y - dot / 2, dot, dot);
        }
        plot_set_rgb(lc, rgb, 0.85);
        cairo_fill(lc);
    }
    cairo_destroy(lc);
    cairo_set_source_surface(cr, layer, a.x0, a.y0);
    cairo_paint(cr);
    cairo_surface_destroy(layer);
    for (int p = 0; p < r->npop; p++) {
        const report_pop *pp = &r->pops[p];
        double yc = plot_py(&a, np - p - 0.5);
        char lab[64];
        if (fs > 0) {
            cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
            snprintf(lab, sizeof lab, "%.20s", pp->name);
            plot_text(cr, a.x0 - 8, yc, fs, 1, 0.5, 0, 0, lab);
            snprintf(lab, sizeof lab, "%lld", (long long)pp->img_n);
            cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
            plot_text(cr, a.x0 + a.w + 8, yc, fs, 0, 0.5, 0, 0, lab);
        }
        /* tick marks at population boundaries */
        cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
        cairo_set_line_width(cr, 1);
        double yb = round(plot_py(&a, np - p)) + 0.5;
        cairo_move_to(cr, a.x0 - 4, yb);
        cairo_line_to(cr, a.x0, yb);
        cairo_stroke(cr);
    }
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    plot_text(cr, a.x0 - 8, a.y0 - 15, 11, 1, 0, 0, 1, "population");
    plot_text(cr, a.x0 + a.w + 8, a.y0 - 15, 11, 0, 0, 0, 1, "spikes");
    /* timestep bands: separators and labels */
    for (int t = 0; t < r->T; t++) {
        char lab[48];
        double x = plot_px(&a, t + 0.5);
        snprintf(lab, sizeof lab, "t = %d (%g ms)", t, t * r->dt_ms);
        if (r->T <= 12 || t % ((r->T + 11) / 12) == 0)
            plot_text(cr, x, a.y0 + a.h + 8, 11, 0.5, 0, 0, 0, lab);
        if (t > 0) {
            double xs = round(plot_px(&a, t)) + 0.5;
            cairo_set_source_rgb(cr, 0.55, 0.55, 0.55);
            cairo_set_line_width(cr, 1);
            cairo_move_to(cr, xs, a.y0);
            cairo_line_to(cr, xs, a.y0 + a.h);
            cairo_stroke(cr);
            cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        }
    }
    plot_axes_frame(cr, &a);
}

sim_status figures_raster(sim_ctx *ctx, const report *r, const char *dir)
{
    if (r->image < 0 || r->image >= r->nsamples)
        return ctx_error(ctx, SIM_ERANGE, "%s: raster: no image selected (the trace holds %lld "
                         "images)", r->path, (long long)r->nsamples);
    int h = 120 + 26 * r->npop;
    h = h < 420 ? 420 : h > 900 ? 900 : h;
    return plot_write(ctx, dir, "raster", FIGURES_WIDTH, h, draw_raster, (void *)r);
}

/* ---- heatmap ---- */

static void draw_heatmap(cairo_t *cr, int W, int H, void *ud)
{
    const report *r = ud;
    char sub[256];
    snprintf(sub, sizeof sub, "spikes / (neurons × images) at each timestep, %lld images of "
             "T = %d; %.2f%% accuracy", (long long)r->nsamples, r->T,
             r->nsamples ? 100.0 * (double)r->correct / (double)r->nsamples : 0.0);
    plot_begin(cr, W, H, "Firing rate per population and timestep", sub);
    const int np = r->npop > 0 ? r->npop : 1;
    plot_axes a = {150, 72, W - 150 - 140, H - 72 - 62, 0, r->T, 0, np};
    double hi = 0;
    for (int p = 0; p < r->npop; p++)
        for (int t = 0; t < r->T; t++)
            hi = fmax(hi, report_rate_t(r, p, t));
    if (hi <= 0)
        hi = 1;
    const double cw = a.w / r->T, ch = a.h / np;
    for (int p = 0; p < r->npop; p++) {
        for (int t = 0; t < r->T; t++) {
            double v = report_rate_t(r, p, t), rgb[3];
            plot_viridis(v / hi, rgb);
            double x = plot_px(&a, t), y = plot_py(&a, np - p);
            plot_set_rgb(cr, rgb, 1);
            cairo_rectangle(cr, x, y, cw + 0.5, ch + 0.5);
            cairo_fill(cr);
            if (cw >= 44 && ch >= 12) {
                char lab[32];
                snprintf(lab, sizeof lab, "%.3f", v);
                double lum = 0.3 * rgb[0] + 0.59 * rgb[1] + 0.11 * rgb[2];
                if (lum > 0.55)
                    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
                else
                    cairo_set_source_rgb(cr, 1, 1, 1);
                plot_text(cr, x + cw / 2, y + ch / 2, ch >= 18 ? 10.5 : 9, 0.5, 0.5, 0, 0, lab);
            }
        }
    }
    plot_axes_draw(cr, &a, "timestep t within the image", NULL,
                   PLOT_NO_XTICKS | PLOT_NO_YTICKS);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    const double fs = ch >= 14 ? 10.5 : ch >= 9 ? 8 : 0;
    for (int p = 0; p < r->npop && fs > 0; p++) {
        char lab[32];
        snprintf(lab, sizeof lab, "%.20s", r->pops[p].name);
        plot_text(cr, a.x0 - 8, plot_py(&a, np - p - 0.5), fs, 1, 0.5, 0, 0, lab);
    }
    plot_text(cr, a.x0 - 8, a.y0 - 15, 11, 1, 0, 0, 1, "population");
    for (int t = 0; t < r->T; t++) {
        if (r->T > 16 && t % ((r->T + 15) / 16))
            continue;
        char lab[16];
        snprintf(lab, sizeof lab, "%d", t);
        plot_text(cr, plot_px(&a, t + 0.5), a.y0 + a.h + 8, 11, 0.5, 0, 0, 0, lab);
    }
    plot_colorbar(cr, a.x0 + a.w + 22, a.y0, 16, a.h, 0, hi,
                  "firing rate (spikes per neuron and timestep)");
}

sim_status figures_heatmap(sim_ctx *ctx, const report *r, const char *dir)
{
    int h = 120 + 24 * r->npop;
    h = h < 380 ? 380 : h > 900 ? 900 : h;
    return plot_write(ctx, dir, "heatmap", FIGURES_WIDTH, h, draw_heatmap, (void *)r);
}

/* ---- energy ---- */

typedef struct {
    const report *r;
    int n;                                       /* bars */
    int idx[FIGURES_TOP_PROJ];                   /* projections shown */
    double e[FIGURES_TOP_PROJ + 1], lit[FIGURES_TOP_PROJ + 1]; /* uJ per image */
    int nother;                                  /* projections in "other" */
} energy_view;

static void draw_energy(cairo_t *cr, int W, int H, void *ud)
{
    const energy_view *v = ud;
    const report *r = v->r;
    const int nb = v->n + (v->nother > 0);
    double top = 0, total = r->proj_energy_pj / (r->nsamples ? (double)r->nsamples : 1) * 1e-6;
    for (int i = 0; i < nb; i++)
        top = fmax(top, fmax(v->e[i], v->lit[i]));
    if (top <= 0)
        top = 1;
    char sub[256];
    snprintf(sub, sizeof sub, "E = %g pJ × MACs + %g pJ × ACs; all %d projections: %.2f µJ per "
             "image counted, %.2f µJ literature estimate", r->e_mac_pj, r->e_ac_pj, r->nproj,
             total, r->proj_energy_lit_pj / (r->nsamples ? (double)r->nsamples : 1) * 1e-6);
    plot_begin(cr, W, H, "Energy per projection and image: counted vs literature estimate",
               sub);
    const int nrows = nb > 0 ? nb : 1;
    plot_axes a = {215, 72, W - 215 - 30, H - 72 - 62, 0, top * 1.12, 0, nrows};
    plot_axes_draw(cr, &a, "energy per image (µJ)", NULL, PLOT_GRID_X | PLOT_NO_YTICKS);
    double cb[3], cl[3];
    plot_palette(0, cb);
    plot_palette(1, cl);
    const double rh = a.h / nrows, bh = fmin(rh * 0.36, 12);
    for (int i = 0; i < nb; i++) {
        double yc = plot_py(&a, nrows - i - 0.5);
        double x0 = plot_px(&a, 0);
        plot_set_rgb(cr, cb, 1);
        cairo_rectangle(cr, x0, yc - bh - 0.5, plot_px(&a, v->e[i]) - x0, bh);
        cairo_fill(cr);
        plot_set_rgb(cr, cl, 1);
        cairo_rectangle(cr, x0, yc + 0.5, plot_px(&a, v->lit[i]) - x0, bh);
        cairo_fill(cr);
        char lab[96];
        if (i < v->n)
            snprintf(lab, sizeof lab, "%.30s", r->projs[v->idx[i]].name);
        else
            snprintf(lab, sizeof lab, "other (%d projections)", v->nother);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        double fs = rh >= 16 ? 10 : 8;
        plot_text(cr, a.x0 - 6, yc, fs, 1, 0.5, 0, 0, lab);
        snprintf(lab, sizeof lab, "%.1f%%", total > 0 ? 100 * v->e[i] / total : 0.0);
        cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
        plot_text(cr, fmax(plot_px(&a, v->e[i]), plot_px(&a, v->lit[i])) + 4, yc, fs, 0, 0.5,
                  0, 0, lab);
    }
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    plot_text(cr, a.x0 - 6, a.y0 - 15, 11, 1, 0, 0, 1, "projection (source->target)");
    const char *labels[2] = {"counted (operations performed)", "literature (rate × dense FLOPs)"};
    const double rgb[2][3] = {{cb[0], cb[1], cb[2]}, {cl[0], cl[1], cl[2]}};
    plot_legend(cr, a.x0 + a.w - 8, a.y0 + a.h - 52, 2, labels, rgb, NULL);
    plot_axes_frame(cr, &a);
}

sim_status figures_energy(sim_ctx *ctx, const report *r, const char *dir)
{
    energy_view v;
    memset(&v, 0, sizeof v);
    v.r = r;
    int *idx = r->nproj ? mem_calloc(ctx, MEM_SCRATCH, (size_t)r->nproj, sizeof *idx) : NULL;
    if (r->nproj && !idx)
        return SIM_ENOMEM;
    if (idx)
        report_proj_order(r, idx);
    const double per = r->nsamples ? 1e-6 / (double)r->nsamples : 1e-6;
    /* with one bar to spare, show it instead of an "other" of one */
    int keep = r->nproj <= FIGURES_TOP_PROJ ? r->nproj : FIGURES_TOP_PROJ - 1;
    for (int k = 0; k < r->nproj; k++) {
        const report_proj *p = &r->projs[idx[k]];
        if (k < keep) {
            v.idx[v.n] = idx[k];
            v.e[v.n] = p->energy_pj * per;
            v.lit[v.n++] = p->energy_lit_pj * per;
        } else {
            v.e[keep] += p->energy_pj * per;
            v.lit[keep] += p->energy_lit_pj * per;
            v.nother++;
        }
    }
    mem_free(ctx, idx);
    int nb = v.n + (v.nother > 0);
    int h = 130 + 26 * nb;
    h = h < 360 ? 360 : h;
    return plot_write(ctx, dir, "energy", FIGURES_WIDTH, h, draw_energy, &v);
}

sim_status figures_trace(sim_ctx *ctx, const report *r, const char *dir)
{
    sim_status s = SIM_OK;
    if (r->image >= 0)
        s = figures_raster(ctx, r, dir);
    if (s == SIM_OK)
        s = figures_heatmap(ctx, r, dir);
    if (s == SIM_OK)
        s = figures_energy(ctx, r, dir);
    return s;
}

/* ---- training ---- */

/* A polyline with round markers through (x[i], y[i]) of a; dashed if asked. */
static void series(cairo_t *cr, const plot_axes *a, const double *x, const double *y, int n,
                   const double rgb[3], int dashed)
{
    cairo_save(cr);
    cairo_rectangle(cr, a->x0, a->y0, a->w, a->h);
    cairo_clip(cr);
    plot_set_rgb(cr, rgb, 1);
    cairo_set_line_width(cr, 2);
    if (dashed) {
        const double d[2] = {6, 4};
        cairo_set_dash(cr, d, 2, 0);
    }
    for (int i = 0; i < n; i++) {
        if (i == 0)
            cairo_move_to(cr, plot_px(a, x[i]), plot_py(a, y[i]));
        else
            cairo_line_to(cr, plot_px(a, x[i]), plot_py(a, y[i]));
    }
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    for (int i = 0; i < n; i++) {
        cairo_arc(cr, plot_px(a, x[i]), plot_py(a, y[i]), 3, 0, 2 * M_PI);
        cairo_fill(cr);
    }
    cairo_restore(cr);
}

/* A data range with a margin; [lo, hi] of the values y[0..n). */
static void range_of(const double *y, int n, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        *lo = fmin(*lo, y[i]);
        *hi = fmax(*hi, y[i]);
    }
    if (!(*hi > *lo)) {
        double d = fabs(*lo) > 0 ? 0.1 * fabs(*lo) : 1;
        *lo -= d;
        *hi += d;
    }
    double m = 0.08 * (*hi - *lo);
    *lo -= m;
    *hi += m;
}

typedef struct {
    const trainlog *lg;
    double *x, *y; /* scratch (n) each */
    char names[TRAINLOG_MAX_HEADS][24]; /* legend labels */
} train_view;

static void panel(cairo_t *cr, plot_axes *a, const char *title, const char *xl, const char *yl)
{
    plot_axes_draw(cr, a, xl, yl, PLOT_GRID_X | PLOT_GRID_Y);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    plot_text(cr, a->x0 + a->w / 2, a->y0 - 20, 12.5, 0.5, 0, 0, 1, title);
}

static void draw_training(cairo_t *cr, int W, int H, void *ud)
{
    train_view *v = ud;
    const trainlog *lg = v->lg;
    const int n = lg->n;
    const trainlog_epoch *last = &lg->e[n - 1];
    char sub[320];
    int k = snprintf(sub, sizeof sub, "%d epochs; final head %.2f%% test accuracy", n,
                     100 * last->test_acc[last->nheads - 1]);
    if (lg->has_ema && k > 0 && (size_t)k < sizeof sub)
        snprintf(sub + k, sizeof sub - (size_t)k, ", EMA %.2f%%", 100 * last->test_acc_ema);
    const char *base = strrchr(lg->path, '/');
    char title[256];
    snprintf(title, sizeof title, "Training curves: %.100s", base ? base + 1 : lg->path);
    plot_begin(cr, W, H, title, sub);
    double *x = v->x, *y = v->y, lo, hi, xlo, xhi;
    for (int i = 0; i < n; i++)
        x[i] = lg->e[i].epoch;
    range_of(x, n, &xlo, &xhi);
    const double pw = (W - 3 * 80) / 2.0, ph = (H - 70 - 2 * 78) / 2.0;
    const double px[2] = {80, 80 * 2 + pw}, py[2] = {90, 90 + ph + 78};
    double c[3];
    /* (a) loss */
    for (int i = 0; i < n; i++)
        y[i] = lg->e[i].loss;
    range_of(y, n, &lo, &hi);
    plot_axes a = {px[0], py[0], pw, ph, xlo, xhi, lo, hi};
    panel(cr, &a, "training loss (last step of the epoch)", "epoch", "loss");
    plot_palette(0, c);
    series(cr, &a, x, y, n, c, 0);
    /* (b) accuracy, % */
    lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        const trainlog_epoch *e = &lg->e[i];
        for (int h = 0; h < e->nheads; h++)
            lo = fmin(lo, 100 * e->test_acc[h]), hi = fmax(hi, 100 * e->test_acc[h]);
        if (e->train_acc > 0)
            lo = fmin(lo, 100 * e->train_acc), hi = fmax(hi, 100 * e->train_acc);
        if (lg->has_ema)
            lo = fmin(lo, 100 * e->test_acc_ema), hi = fmax(hi, 100 * e->test_acc_ema);
    }
    double m = fmax(0.5, 0.08 * (hi - lo));
    plot_axes b = {px[1], py[0], pw, ph, xlo, xhi, fmax(0, lo - m), fmin(100, hi + m)};
    panel(cr, &b, "accuracy", "epoch", "accuracy (%)");
    const char *labels[TRAINLOG_MAX_HEADS + 2];
    double rgb[TRAINLOG_MAX_HEADS + 2][3];
    int style[TRAINLOG_MAX_HEADS + 2], nl = 0;
    for (int h = 0; h < lg->nheads; h++) {
        int cnt = 0;
        for (int i = 0; i < n; i++)
            if (h < lg->e[i].nheads) {
                x[cnt] = lg->e[i].epoch;
                y[cnt++] = 100 * lg->e[i].test_acc[h];
            }
        plot_viridis(lg->nheads > 1 ? 0.1 + 0.75 * h / (lg->nheads - 1) : 0.3, c);
        series(cr, &b, x, y, cnt, c, 0);
        if (lg->nheads <= 8) {
            snprintf(v->names[h], sizeof v->names[h], h == lg->nheads - 1 ? "test, final head %d"
                     : "test, head %d", h);
            labels[nl] = v->names[h];
            memcpy(rgb[nl], c, sizeof c);
            style[nl++] = 1;
        }
    }
    for (int i = 0; i < n; i++)
        x[i] = lg->e[i].epoch;
    if (lg->has_ema) {
        for (int i = 0; i < n; i++)
            y[i] = 100 * lg->e[i].test_acc_ema;
        plot_palette(3, c);
        series(cr, &b, x, y, n, c, 1);
        labels[nl] = "test, EMA weights";
        memcpy(rgb[nl], c, sizeof c);
        style[nl++] = 1;
    }
    for (int i = 0; i < n; i++)
        y[i] = 100 * lg->e[i].train_acc;
    plot_palette(7, c);
    series(cr, &b, x, y, n, c, 1);
    labels[nl] = "training (running)";
    memcpy(rgb[nl], c, sizeof c);
    style[nl++] = 1;
    plot_legend(cr, b.x0 + b.w - 6, b.y0 + b.h - 8 - (8 + 18 * nl), nl, labels,
                (const double(*)[3])rgb, style);
    /* (c) images/s */
    for (int i = 0; i < n; i++)
        y[i] = lg->e[i].images_per_s;
    range_of(y, n, &lo, &hi);
    plot_axes cc = {px[0], py[1], pw, ph, xlo, xhi, fmax(0, lo), hi};
    panel(cr, &cc, "training throughput", "epoch", "images / s");
    plot_palette(2, c);
    series(cr, &cc, x, y, n, c, 0);
    /* (d) learning rate */
    for (int i = 0; i < n; i++)
        y[i] = lg->e[i].lr;
    range_of(y, n, &lo, &hi);
    plot_axes d = {px[1], py[1], pw, ph, xlo, xhi, fmax(0, lo), hi};
    panel(cr, &d, "learning rate (end of the epoch)", "epoch", "learning rate");
    plot_palette(4, c);
    series(cr, &d, x, y, n, c, 0);
}

sim_status figures_training(sim_ctx *ctx, const trainlog *lg, const char *dir)
{
    if (lg->n < 1)
        return ctx_error(ctx, SIM_EINVAL, "%s: no epochs to plot", lg->path);
    train_view v;
    memset(&v, 0, sizeof v);
    v.lg = lg;
    v.x = mem_calloc(ctx, MEM_SCRATCH, (size_t)lg->n, sizeof(double));
    v.y = mem_calloc(ctx, MEM_SCRATCH, (size_t)lg->n, sizeof(double));
    sim_status s = v.x && v.y ? plot_write(ctx, dir, "training", FIGURES_WIDTH, 640,
                                           draw_training, &v)
                              : SIM_ENOMEM;
    mem_free(ctx, v.x);
    mem_free(ctx, v.y);
    return s;
}
