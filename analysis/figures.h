/* figures.h - the figures of `sim analyze`, drawn with analysis/plot.h and
 * written as DIR/<name>.png and DIR/<name>.svg:
 *
 *   raster    every spike of one image (report.image): x = timestep, each
 *             timestep a band in which a neuron keeps a fixed horizontal
 *             place (so the spikes of a timestep do not pile onto one
 *             vertical line), y = neuron id, populations stacked top to
 *             bottom in network order, one band each, labelled;
 *   heatmap   firing rate per population (rows) and timestep (columns),
 *             viridis with a colour bar;
 *   energy    counted and literature energy per image of the
 *             FIGURES_TOP_PROJ most costly projections and the rest as
 *             "other", horizontal bars with their share;
 *   training  from a training log: loss, test accuracy per head with EMA
 *             and training accuracy, images/s and learning rate per epoch.
 *
 * Every figure has a title, axis labels and tick labels, and is
 * FIGURES_WIDTH pixels wide. */
#ifndef ANALYSIS_FIGURES_H
#define ANALYSIS_FIGURES_H

#include "analysis/report.h"
#include "analysis/trainlog.h"
#include "sim/ctx.h"

#define FIGURES_WIDTH 900
#define FIGURES_TOP_PROJ 20

sim_status figures_raster(sim_ctx *ctx, const report *r, const char *dir);
sim_status figures_heatmap(sim_ctx *ctx, const report *r, const char *dir);
sim_status figures_energy(sim_ctx *ctx, const report *r, const char *dir);
/* raster (when r->image >= 0), heatmap and energy. */
sim_status figures_trace(sim_ctx *ctx, const report *r, const char *dir);
sim_status figures_training(sim_ctx *ctx, const trainlog *lg, const char *dir);

#endif
