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

/* How OpenMP threads wait between parallel regions matters more than
 * anything else on a two-core machine: a training step has ~2,400 regions.
 * Spinning a little (GOMP_SPINCOUNT) hands work over in a few microseconds;
 * sleeping (passive) costs ~40 us per region to wake the other thread.
 * Measured at T=4 (sim bench-train, 2 threads): idle machine, spin 3000:
 * 437 images/s, passive: 250; with one busy process beside us, spin 3000:
 * 135, passive: 213 (libgomp's default spin: 80).  So bin/sim looks at how
 * busy the CPUs are when it starts (about 40 ms of /proc/stat) and spins
 * briefly when the other threads' CPUs are idle, sleeps otherwise.  libgomp
 * reads its policy only from the environment when it is loaded, so bin/sim
 * sets it and re-executes itself once; a user's OMP_WAIT_POLICY or
 * GOMP_SPINCOUNT is left alone. */
#define SPIN_WAIT_COUNT "3000"

/* Busy CPUs (0..ncpu) over a short window, from the aggregate "cpu" line
 * of /proc/stat; -1 when it cannot be read. */
static double busy_cpus(void)
{
    unsigned long long a[2][8];
    for (int k = 0; k < 2; k++) {
        FILE *f = fopen("/proc/stat", "r");
        if (!f)
            return -1;
        int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &a[k][0], &a[k][1], &a[k][2],
                       &a[k][3], &a[k][4], &a[k][5], &a[k][6], &a[k][7]);
        fclose(f);
        if (n != 8)
            return -1;
        if (k == 0)
            usleep(40000);
    }
    unsigned long long total = 0, idle = 0;
    for (int i = 0; i < 8; i++)
        total += a[1][i] - a[0][i];
    idle = (a[1][3] - a[0][3]) + (a[1][4] - a[0][4]); /* idle + iowait */
    if (total == 0)
        return -1;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    return (double)(total - idle) / (double)total * (double)(ncpu > 0 ? ncpu : 1);
}

/* Commands that spend their time in two-thread OpenMP regions: training.
 * (The engine and the server's workers are sequential, so `run` and `serve`
 * would only pay the 40 ms sample.) */
static int is_parallel_command(const char *cmd)
{
    return !strcmp(cmd, "--train") || !strcmp(cmd, "train") || !strcmp(cmd, "bench-train");
}

static void choose_wait_policy(int argc, char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT") || getenv("SIM_NO_REEXEC"))
        return;
    double busy = argc >= 2 && is_parallel_command(argv[1]) ? busy_cpus() : -1;
    if (busy >= 0 && busy < 0.5)
        setenv("GOMP_SPINCOUNT", SPIN_WAIT_COUNT, 1);
    else
        setenv("OMP_WAIT_POLICY", "passive", 1);
    char b[32];
    snprintf(b, sizeof b, "%.2f", busy);
    setenv("SIM_BUSY_CPUS", b, 1); /* for the record (sim bench-train) */
    setenv("SIM_NO_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the default policy */
}

int main(int argc, char **argv)
{
    choose_wait_policy(argc, argv);
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
