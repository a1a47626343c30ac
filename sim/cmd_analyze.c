/* cmd_analyze.c - `sim analyze`: what a spike trace (sim run --trace) or a
 * training log (sim --train --log) says, as aligned tables or one JSON
 * object, and optionally as figures (PNG and SVG) in a directory:
 *
 *   sim analyze TRACE.h5 [--image I] [--plot-dir DIR] [--json]
 *       populations (spikes, firing rate per timestep, silent neurons),
 *       projections (ACs, MACs, energy counted and literature estimate),
 *       images (accuracy, statistics and histograms of spikes and energy);
 *       plots: raster of image I, rate heatmap, energy per projection
 *   sim analyze --log train.jsonl [--plot-dir DIR] [--json]
 *       loss, test accuracy per head and EMA, images/s per epoch;
 *       plot: training curves
 *
 * The reading and validation is analysis/report.c and analysis/trainlog.c,
 * the figures analysis/figures.c. */
#include <stdio.h>
#include <string.h>

#include "analysis/figures.h"
#include "analysis/plot.h"
#include "analysis/report.h"
#include "analysis/trainlog.h"
#include "sim/cli.h"
#include "sim/commands.h"

static int analyze_log(sim_ctx *ctx, const char *path, const char *plot_dir, int json)
{
    trainlog lg;
    if (trainlog_load(ctx, &lg, path) != SIM_OK)
        return cmd_fail("analyze", ctx);
    if (json)
        trainlog_print_json(stdout, &lg);
    else
        trainlog_print(stdout, &lg);
    sim_status st = SIM_OK;
    if (plot_dir) {
        st = figures_training(ctx, &lg, plot_dir);
        plot_release();
        if (st == SIM_OK)
            fprintf(json ? stderr : stdout, "plots: %s/training.png, %s/training.svg\n",
                    plot_dir, plot_dir);
    }
    trainlog_free(ctx, &lg);
    if (st != SIM_OK)
        return cmd_fail("analyze", ctx);
    ctx_free(ctx);
    return 0;
}

static int analyze_trace(sim_ctx *ctx, const char *path, long image, const char *plot_dir,
                         int json)
{
    report r;
    report_opts o = {image};
    if (report_load(ctx, &r, path, &o) != SIM_OK)
        return cmd_fail("analyze", ctx);
    if (json)
        report_print_json(stdout, &r);
    else
        report_print(stdout, &r);
    sim_status st = SIM_OK;
    if (plot_dir) {
        st = figures_trace(ctx, &r, plot_dir);
        plot_release();
        if (st == SIM_OK)
            fprintf(json ? stderr : stdout, "plots: %s/{raster,heatmap,energy}.{png,svg} "
                    "(raster of image %lld)\n", plot_dir, (long long)r.image);
    }
    report_free(ctx, &r);
    if (st != SIM_OK)
        return cmd_fail("analyze", ctx);
    ctx_free(ctx);
    return 0;
}

int cmd_analyze(int argc, char **argv)
{
    static const cli_opt opts[] = {
        {"log", "FILE", "analyze a training log (JSON lines of sim --train --log) instead"},
        {"image", "I", "image (row of /samples, from 0) for the raster plot (default 0)"},
        {"plot-dir", "DIR", "write figures there as PNG and SVG (created if missing)"},
        {"json", NULL, "print one JSON object instead of tables"},
        {"help", NULL, "this text"},
        {NULL, NULL, NULL},
    };
    sim_ctx ctx;
    if (ctx_init(&ctx, 1) != SIM_OK)
        return 1;
    const char *trace_file = NULL, *log_file = NULL, *plot_dir = NULL;
    long image = 0;
    int json = 0, have_image = 0;
    for (int i = 1; i < argc;) {
        const char *val;
        int k = cli_next(&ctx, argc, argv, &i, opts, &val, &trace_file);
        if (k == -2)
            continue; /* the positional TRACE */
        if (k < 0)
            return cmd_fail("analyze", &ctx);
        const char *n = opts[k].name;
        if (!strcmp(n, "help")) {
            cli_help(stdout, "sim analyze TRACE.h5 [--image I] [--plot-dir DIR] [--json]\n"
                     "       sim analyze --log train.jsonl [--plot-dir DIR] [--json]",
                     "Summarize a spike trace written by sim run --trace: spikes, firing rates\n"
                     "and silent neurons per population, synaptic operations and energy per\n"
                     "projection, accuracy and per-image statistics; or a training log. With\n"
                     "--plot-dir also draw the figures (raster, rate heatmap, energy per\n"
                     "projection; training curves) as PNG and SVG.",
                     opts);
            ctx_free(&ctx);
            return 0;
        } else if (!strcmp(n, "log")) {
            log_file = val;
        } else if (!strcmp(n, "image")) {
            if (cli_long(&ctx, n, val, 0, REPORT_MAX_SAMPLES - 1, &image) != SIM_OK)
                return cmd_fail("analyze", &ctx);
            have_image = 1;
        } else if (!strcmp(n, "plot-dir")) {
            plot_dir = val;
        } else if (!strcmp(n, "json")) {
            json = 1;
        }
    }
    if (!trace_file && !log_file) {
        ctx_error(&ctx, SIM_EINVAL, "expected a trace file (sim analyze TRACE.h5) or --log "
                  "FILE, found neither (see --help)");
        return cmd_fail("analyze", &ctx);
    }
    if (trace_file && log_file) {
        ctx_error(&ctx, SIM_EINVAL, "expected a trace file or --log FILE, found both ('%s' "
                  "and '%s')", trace_file, log_file);
        return cmd_fail("analyze", &ctx);
    }
    if (log_file && have_image) {
        ctx_error(&ctx, SIM_EINVAL, "--image selects an image of a trace, not of --log");
        return cmd_fail("analyze", &ctx);
    }
    if (plot_dir && !*plot_dir) {
        ctx_error(&ctx, SIM_EINVAL, "--plot-dir: expected a directory, found ''");
        return cmd_fail("analyze", &ctx);
    }
    return log_file ? analyze_log(&ctx, log_file, plot_dir, json)
               : analyze_trace(&ctx, trace_file, have_image || plot_dir ? image : -1, plot_dir,
                               json);
}
