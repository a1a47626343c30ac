/* main.c - bin/sim: the command-line front end.
 *
 *   sim --version                    version, precision, BLAS and its GFLOP/s
 *   sim --help                       usage
 *
 * Subcommands are added by the trainer, engine, analysis and server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/blas.h"
#include "sim/commands.h"
#include "sim/real.h"
#include "sim/version.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sim [--version] [--help] <command> [options]\n"
            "\n"
            "T-RevSNN: temporal reversible spiking neural networks, trained densely\n"
            "and run event-driven.\n"
            "\n"
            "commands:\n"
            "  --train     train a model (also: sim train); see sim --train --help\n"
            "  run         run test images through the event-driven engine\n"
            "  analyze     summarize and plot a spike trace or a training log\n"
            "  serve       serve live classification over HTTP (POST /v1/classify, GET /)\n"
            "  bench-serve load test of the HTTP server: throughput, p50/p99 latency (JSON)\n"
            "  info        parameter count, MACs and memory per role of a configuration\n"
            "  bench-train training images/s and memory of one configuration (JSON)\n"
            "  --version   print version, precision, BLAS library and measured GFLOP/s\n"
            "  --help      this text\n"
            "\n"
            "Every command takes --help.\n");
}

static int print_version(void)
{
    char err[256];
    printf("sim %s (T-RevSNN simulator), %s precision\n", SIM_VERSION, REAL_NAME);
    if (blas_init(err, sizeof err) != SIM_OK) {
        fprintf(stderr, "sim: %s\n", err);
        return 1;
    }
    double g1 = blas_measure_gflops(512, 0.6, 1);
    double g2 = blas_measure_gflops(512, 0.6, 2);
    printf("BLAS: %s\n", blas_name());
    printf("GEMM 512x512x512 (%s): %.1f GFLOP/s on 1 thread, %.1f GFLOP/s on 2 threads (split by blas_gemm_par) "
           "(median of bursts)\n",
           REAL_IS_DOUBLE ? "dgemm" : "sgemm", g1, g2);
    return 0;
}

/* OpenMP's default wait policy spins for a while at every barrier; when
 * other processes share the two cores that turns each of the hundreds of
 * parallel regions of a training step into a lost timeslice (measured under
 * load: 63 vs 459 images/s). libgomp reads OMP_WAIT_POLICY only from the
 * environment when it is loaded, so unless the user chose a policy, bin/sim
 * sets "passive" and re-executes itself once. */
static void prefer_passive_waiting(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("SIM_NO_REEXEC"))
        return;
    setenv("OMP_WAIT_POLICY", "passive", 1);
    setenv("SIM_NO_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the default policy */
}

int main(int argc, char **argv)
{
    prefer_passive_waiting(argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))
        return print_version();
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--train") || !strcmp(argv[1], "train"))
        return cmd_train(argc - 1, argv + 1);
    if (!strcmp(argv[1], "info"))
        return cmd_info(argc - 1, argv + 1);
    if (!strcmp(argv[1], "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(argv[1], "analyze"))
        return cmd_analyze(argc - 1, argv + 1);
    if (!strcmp(argv[1], "serve"))
        return cmd_serve(argc - 1, argv + 1);
    if (!strcmp(argv[1], "bench-serve"))
        return cmd_bench_serve(argc - 1, argv + 1);
    if (!strcmp(argv[1], "bench-train"))
        return cmd_bench_train(argc - 1, argv + 1);
    fprintf(stderr, "sim: unknown command or option '%s' (expected --train, run, analyze, info, bench-train, --version, --help)\n",
            argv[1]);
    return 2;
}
