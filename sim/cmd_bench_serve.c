/* cmd_bench_serve.c - `sim bench-serve`: a load test of `sim serve` in one
 * process. Starts the server on an ephemeral loopback port (its event loop
 * in a thread), then C client threads each keep one connection open and
 * send their share of R classify requests (a fixed 28x28 raw image fitted
 * to the model), one after another; prints throughput and latency
 * percentiles as JSON. Without --model, a random-weight model of --preset. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "sim/cli.h"
#include "sim/commands.h"
#include "sim/http.h"
#include "sim/progress.h"
#include "sim/server.h"

typedef struct {
    int port, count, errors;
    const unsigned char *img;
    size_t len;
    double *lat; /* (count) milliseconds */
    char err[256];
} client_job;

static void *client_main(void *arg)
{
    client_job *j = arg;
    sim_ctx ctx;
    if (ctx_init(&ctx, 1) != SIM_OK) {
        j->errors = j->count;
        return NULL;
    }
    http_client c;
    sim_status st = http_client_open(&ctx, &c, "127.0.0.1", j->port, 60);
    for (int i = 0; i < j->count && st == SIM_OK; i++) {
        int status;
        char *resp;
        size_t rl;
        double t0 = progress_now();
        st = http_client_request(&ctx, &c, "POST", "/v1/classify?width=28&height=28",
                                 "application/octet-stream", j->img, j->len, &status, &resp, &rl);
        j->lat[i] = 1e3 * (progress_now() - t0);
        if (st == SIM_OK && status != 200) {
            j->errors++;
            snprintf(j->err, sizeof j->err, "status %d: %.200s", status, resp);
        }
        free(resp);
    }
    if (st != SIM_OK) {
        j->errors = j->count;
        snprintf(j->err, sizeof j->err, "%s", ctx_errmsg(&ctx));
    }
    http_client_close(&c);
    ctx_free(&ctx);
    return NULL;
}

static void *loop_main(void *arg)
{
    server_run(arg);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int cmd_bench_serve(int argc, char **argv)
{
    static const cli_opt opts[] = {
        {"model", "CKPT", "checkpoint (default: random weights of --preset)"},
        {"preset", "P", "preset of the random-weight model (default fmnist)"},
        {"requests", "N", "requests in all (default 2000)"},
        {"connections", "C", "client connections, one thread each (default 16)"},
        {"threads", "N", "server worker threads (default 2)"},
        {"help", NULL, "this text"},
        {NULL, NULL, NULL},
    };
    sim_ctx ctx;
    if (ctx_init(&ctx, 1) != SIM_OK)
        return 1;
    const char *model = NULL, *preset = "fmnist";
    long requests = 2000, conns = 16, threads = 2;
    sim_status st = SIM_OK;
    for (int i = 1; i < argc && st == SIM_OK;) {
        const char *val;
        int k = cli_next(&ctx, argc, argv, &i, opts, &val, NULL);
        if (k < 0)
            return cmd_fail("bench-serve", &ctx);
        const char *n = opts[k].name;
        if (!strcmp(n, "help")) {
            cli_help(stdout, "sim bench-serve [--model CKPT] [--requests N] [--connections C]",
                     "Load test of the classification server on loopback (JSON).", opts);
            ctx_free(&ctx);
            return 0;
        } else if (!strcmp(n, "model")) {
            model = val;
        } else if (!strcmp(n, "preset")) {
            preset = val;
        } else if (!strcmp(n, "requests")) {
            st = cli_long(&ctx, n, val, 1, 10000000, &requests);
        } else if (!strcmp(n, "connections")) {
            st = cli_long(&ctx, n, val, 1, 1000, &conns);
        } else if (!strcmp(n, "threads")) {
            st = cli_long(&ctx, n, val, 1, 256, &threads);
        }
    }
    if (st != SIM_OK)
        return cmd_fail("bench-serve", &ctx);
    trev_model *m = NULL;
    if (model) {
        st = ckpt_open_model(&ctx, model, &m, 0);
    } else {
        trev_config cfg;
        st = trev_preset(&ctx, &cfg, preset);
        if (st == SIM_OK)
            st = trev_create(&ctx, &m, &cfg, 0);
    }
    if (st != SIM_OK)
        return cmd_fail("bench-serve", &ctx);
    server_config sc;
    server_defaults(&sc);
    sc.port = 0;
    sc.threads = (int)threads;
    sc.queue = (int)conns + 16;
    sc.model_name = model ? model : preset;
    server *srv = NULL;
    st = server_create(&ctx, &srv, m, &sc);
    trev_destroy(&ctx, m);
    if (st != SIM_OK)
        return cmd_fail("bench-serve", &ctx);
    pthread_t loop;
    pthread_create(&loop, NULL, loop_main, srv);
    /* a fixed image: a bright ellipse on black */
    unsigned char img[28 * 28];
    for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++) {
            double dy = (y - 13.5) / 11, dx = (x - 13.5) / 7;
            img[y * 28 + x] = dy * dy + dx * dx < 1 ? (unsigned char)(120 + 4 * y) : 0;
        }
    client_job *jobs = calloc((size_t)conns, sizeof *jobs);
    pthread_t *th = calloc((size_t)conns, sizeof *th);
    double *lat = calloc((size_t)requests, sizeof *lat);
    if (!jobs || !th || !lat) {
        ctx_error(&ctx, SIM_ENOMEM, "bench-serve: out of memory");
        return cmd_fail("bench-serve", &ctx);
    }
    double t0 = progress_now();
    long off = 0;
    for (long i = 0; i < conns; i++) {
        client_job *j = &jobs[i];
        j->port = server_port(srv);
        j->count = (int)(requests / conns + (i < requests % conns));
        j->img = img;
        j->len = sizeof img;
        j->lat = lat + off;
        off += j->count;
        pthread_create(&th[i], NULL, client_main, j);
    }
    long errors = 0;
    for (long i = 0; i < conns; i++) {
        pthread_join(th[i], NULL);
        errors += jobs[i].errors;
        if (jobs[i].errors && !ctx.err[0])
            snprintf(ctx.err, sizeof ctx.err, "%s", jobs[i].err);
    }
    double el = progress_now() - t0;
    server_stop(srv);
    pthread_join(loop, NULL);
    server_destroy(srv);
    double sum = 0;
    for (long i = 0; i < requests; i++)
        sum += lat[i];
    qsort(lat, (size_t)requests, sizeof *lat, cmp_double);
    printf("{\"requests\": %ld, \"connections\": %ld, \"server_threads\": %ld, \"model\": \"%s\", "
           "\"errors\": %ld, \"seconds\": %.3f, \"requests_per_s\": %.1f, \"latency_ms\": "
           "{\"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"mean\": %.3f, \"max\": %.3f}}\n",
           requests, conns, threads, model ? model : preset, errors, el, requests / el,
           lat[(requests - 1) / 2], lat[(long)((requests - 1) * 0.9)],
           lat[(long)((requests - 1) * 0.99)], sum / requests, lat[requests - 1]);
    if (errors)
        fprintf(stderr, "bench-serve: %ld failed requests, e.g. %s\n", errors, ctx.err);
    free(jobs), free(th), free(lat);
    ctx_free(&ctx);
    return errors ? 1 : 0;
}
