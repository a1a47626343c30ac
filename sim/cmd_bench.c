/* cmd_bench.c - `sim bench-train`: training throughput and memory of one
 * configuration, measured in this process (peak RSS is per process, so the
 * bench script runs one process per configuration). Real Fashion-MNIST
 * batches are used so spike rates are realistic; timing is the median of
 * repeated bursts, beside the BLAS GFLOP/s measured in the same run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/summary.h"
#include "io/dataset.h"
#include "sim/blas.h"
#include "sim/cli.h"
#include "sim/commands.h"
#include "sim/progress.h"
#include "sim/rng.h"
#include "topology/trevsnn.h"

/* The OpenMP wait policy this process runs with (sim/main.c chooses it
 * unless the user set one). */
static const char *omp_wait_name(void)
{
    const char *pol = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    static char buf[64];
    if (pol)
        snprintf(buf, sizeof buf, "OMP_WAIT_POLICY=%.40s", pol);
    else if (spin)
        snprintf(buf, sizeof buf, "GOMP_SPINCOUNT=%.40s", spin);
    else
        snprintf(buf, sizeof buf, "default");
    return buf;
}

int cmd_bench_train(int argc, char **argv)
{
    static const cli_opt opts[] = {
        CLI_MODEL_OPTS,
        {"mode", "M", "rev (default) or plain"},
        {"batch", "N", "batch size (default 64)"},
        {"threads", "N", "threads (default 2)"},
        {"steps", "N", "training steps per timed burst (default 8)"},
        {"repeats", "N", "timed bursts; the median is reported (default 5)"},
        {"help", NULL, "this text"},
        {NULL, NULL, NULL},
    };
    sim_ctx ctx;
    if (ctx_init(&ctx, 1) != SIM_OK)
        return 1;
    cli_model cm;
    cli_model_begin(&cm);
    long batch = 64, threads = 2, steps = 8, repeats = 5;
    trev_mode mode = TREV_REV;
    for (int i = 1; i < argc;) {
        const char *val;
        int k = cli_next(&ctx, argc, argv, &i, opts, &val, NULL);
        if (k < 0)
            return cmd_fail("bench-train", &ctx);
        const char *n = opts[k].name;
        int r = cli_model_option(&ctx, &cm, n, val);
        sim_status st = SIM_OK;
        if (r < 0)
            return cmd_fail("bench-train", &ctx);
        if (r)
            continue;
        if (!strcmp(n, "help")) {
            cli_help(stdout,
                     "sim bench-train [--model trevsnn|lif] [--preset P] [--T N] "
                     "[--mode rev|plain] [options]",
                     "Training images/s (median of bursts), activation bytes and peak RSS of one\n"
                     "configuration, as one JSON object.",
                     opts);
            ctx_free(&ctx);
            return 0;
        }
        if (!strcmp(n, "mode")) {
            if (!strcmp(val, "rev") || !strcmp(val, "plain"))
                mode = strcmp(val, "rev") ? TREV_PLAIN : TREV_REV;
            else
                st = ctx_error(&ctx, SIM_EINVAL, "--mode: expected rev or plain, found '%s'", val);
        } else if (!strcmp(n, "batch")) {
            st = cli_long(&ctx, n, val, 1, 4096, &batch);
        } else if (!strcmp(n, "threads")) {
            st = cli_long(&ctx, n, val, 1, 256, &threads);
        } else if (!strcmp(n, "steps")) {
            st = cli_long(&ctx, n, val, 1, 100000, &steps);
        } else if (!strcmp(n, "repeats")) {
            st = cli_long(&ctx, n, val, 1, 1000, &repeats);
        }
        if (st != SIM_OK)
            return cmd_fail("bench-train", &ctx);
    }
    trev_config cfg;
    trev_model *m = NULL;
    dataset ds;
    memset(&ds, 0, sizeof ds);
    if (cli_model_config(&ctx, &cm, &cfg) != SIM_OK || trev_create(&ctx, &m, &cfg, 1) != SIM_OK ||
        dataset_load_fmnist(&ctx, &ds, NULL, 1) != SIM_OK)
        return cmd_fail("bench-train", &ctx);
    if (cfg.in_channels != 1 || cfg.input_size != 32) {
        ctx_error(&ctx, SIM_EINVAL, "bench-train measures on Fashion-MNIST: use an fmnist-shaped "
                                    "preset (1 channel, 32x32)");
        return cmd_fail("bench-train", &ctx);
    }
    ctx_set_threads(&ctx, (int)threads);
    size_t plan[MEM_NROLES];
    if (trev_plan_bytes(&ctx, m, (int)batch, mode, plan) != SIM_OK ||
        trev_prepare(&ctx, m, (int)batch, mode) != SIM_OK)
        return cmd_fail("bench-train", &ctx);
    real *images = mem_calloc(&ctx, MEM_DATA, (size_t)batch * 32 * 32, sizeof *images);
    int *labels = mem_calloc(&ctx, MEM_DATA, (size_t)batch, sizeof *labels);
    int *idx = mem_calloc(&ctx, MEM_DATA, (size_t)batch, sizeof *idx);
    double *rates = calloc((size_t)repeats, sizeof *rates);
    if (!images || !labels || !idx || !rates)
        return cmd_fail("bench-train", &ctx);
    /* plain SGD-free steps: forward + backward (the optimizer is outside the
     * comparison of modes and costs the same in both) */
    trev_step res;
    long batch_no = 0;
    double spikes = 0, sites = 0;
    for (long r = -1; r < repeats; r++) { /* r = -1: warm-up burst */
        double t0 = progress_now();
        for (long s = 0; s < steps; s++, batch_no++) {
            for (long i = 0; i < batch; i++)
                idx[i] = (int)((batch_no * batch + i) % ds.n);
            if (dataset_batch(&ctx, &ds, images, labels, idx, (int)batch, &dataset_norm_fmnist,
                              NULL) != SIM_OK)
                return cmd_fail("bench-train", &ctx);
            trev_zero_grads(m);
            if (trev_train_step(&ctx, m, images, labels, (int)batch, &res, 0) != SIM_OK)
                return cmd_fail("bench-train", &ctx);
            for (int k = 0; k < res.nsites; k++) {
                spikes += res.site_spikes[k];
                sites += res.site_total[k];
            }
        }
        double dt = progress_now() - t0;
        if (r >= 0)
            rates[r] = (double)(steps * batch) / dt;
    }
    double sorted[1000];
    summary sm;
    summary_of(&sm, rates, (size_t)repeats, sorted);
    double gflops = blas_measure_gflops(512, 0.5, 1);
    /* the LIF baseline has one training mode (BPTT over every timestep) */
    const char *mode_name = cfg.model == TREV_MODEL_LIF ? "bptt"
                            : mode == TREV_REV           ? "rev"
                                                         : "plain";
    printf("{\"model\": \"%s\", \"preset\": \"%s\", \"T\": %d, \"mode\": \"%s\", \"batch\": %ld, "
           "\"threads\": %ld, \"precision\": \"%s\", \"images_per_s\": %.1f, "
           "\"images_per_s_runs\": [",
           trev_model_name(cfg.model), cfg.preset, cfg.T, mode_name, batch, threads, REAL_NAME,
           sm.median);
    for (long r = 0; r < repeats; r++)
        printf("%s%.1f", r ? ", " : "", rates[r]);
    printf("], \"activation_bytes\": %zu, \"activation_bytes_peak\": %zu, \"scratch_bytes\": %zu, "
           "\"param_bytes\": %zu, \"peak_rss\": %zu, \"firing_rate\": %.4f, "
           "\"blas\": \"%s\", \"blas_gflops_threads\": %.1f, \"omp_wait\": \"%s\", "
           "\"busy_cpus_at_start\": %s}\n",
           plan[MEM_ACTS], mem_peak(&ctx, MEM_ACTS), plan[MEM_SCRATCH], plan[MEM_PARAMS],
           mem_peak_rss(), sites > 0 ? spikes / sites : 0.0, blas_name(), gflops, omp_wait_name(),
           getenv("SIM_BUSY_CPUS") ? getenv("SIM_BUSY_CPUS") : "null");
    free(rates);
    mem_free(&ctx, images);
    mem_free(&ctx, labels);
    mem_free(&ctx, idx);
    dataset_free(&ctx, &ds);
    trev_destroy(&ctx, m);
    ctx_free(&ctx);
    return 0;
}
