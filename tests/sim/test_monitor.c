/* test_monitor.c - the training monitor (sim/monitor.c): a tiny training
 * run (train_run on 160 Fashion-MNIST images, 2 epochs) publishes through
 * train_opts.on_progress to a monitor on an ephemeral loopback port, which
 * is polled over HTTP while the run goes on and checked after it: epoch,
 * step, steps total, loss, lr, images/s, test accuracy per epoch, memory
 * per role; /metrics and / answer; the loss curve is thinned to at most
 * MONITOR_CURVE points. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/json.h"
#include "sim/http.h"
#include "sim/monitor.h"
#include "sim/train.h"
#include "tests/harness.h"

static char dir[64];

static int get(int port, const char *path, char **body)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    http_client c;
    int status = -1;
    size_t n;
    *body = NULL;
    if (http_client_open(&ctx, &c, "127.0.0.1", port, 10) == SIM_OK) {
        if (http_client_request(&ctx, &c, "GET", path, NULL, NULL, 0, &status, body, &n) != SIM_OK)
            fprintf(stderr, "\n  GET %s: %s\n", path, ctx_errmsg(&ctx));
        http_client_close(&c);
    }
    ctx_free(&ctx);
    if (!*body)
        *body = calloc(1, 1);
    return status;
}

typedef struct {
    train_opts o;
    train_result r;
    sim_status st;
    volatile int finished;
} run;

static void *train_main(void *arg)
{
    run *r = arg;
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    r->st = train_run(&ctx, &r->o, &r->r);
    if (r->st != SIM_OK)
        fprintf(stderr, "\n  train_run: %s\n", ctx_errmsg(&ctx));
    ctx_free(&ctx);
    r->finished = 1;
    return NULL;
}

static void test_monitor_training(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    monitor *mon;
    CU_ASSERT_EQUAL_FATAL(monitor_start(&ctx, &mon, "127.0.0.1", 0, "test run"), SIM_OK);
    int port = monitor_port(mon);
    CU_ASSERT_FATAL(port > 0);
    char *body;
    CU_ASSERT_EQUAL(get(port, "/v1/progress", &body), 200);
    CU_ASSERT(strstr(body, "\"started\": false") != NULL);
    free(body);

    static run r;
    train_defaults(&r.o);
    trev_preset(&ctx, &r.o.cfg, "fmnist");
    int ch[4] = {4, 8, 8, 12};
    memcpy(r.o.cfg.channels, ch, sizeof ch);
    r.o.cfg.T = 2;
    r.o.epochs = 2;
    r.o.batch = 16;
    r.o.threads = 1;
    r.o.train_limit = 160; /* 10 steps per epoch */
    r.o.test_limit = 32;
    r.o.opt.ema_decay = 0.9;
    r.o.quiet = 1;
    snprintf(r.o.out, sizeof r.o.out, "%s/m.h5", dir);
    r.o.on_progress = monitor_progress;
    r.o.progress_ud = mon;
    pthread_t th;
    pthread_create(&th, NULL, train_main, &r);
    /* poll while it trains: the step never goes backwards */
    int polls = 0, seen_running = 0;
    double last_step = -1;
    while (!r.finished && polls < 2000) {
        CU_ASSERT_EQUAL(get(port, "/v1/progress", &body), 200);
        double step;
        if (json_get_number(body, "step", &step)) {
            CU_ASSERT(step >= last_step);
            last_step = step;
            seen_running |= step > 0;
        }
        free(body);
        polls++;
        usleep(2000);
    }
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL_FATAL(r.st, SIM_OK);
    monitor_finish(mon, "done");
    CU_ASSERT_EQUAL(get(port, "/v1/progress", &body), 200);
    double v;
    CU_ASSERT(json_get_number(body, "epoch", &v) && v == 2);
    CU_ASSERT(json_get_number(body, "epochs", &v) && v == 2);
    CU_ASSERT(json_get_number(body, "step", &v) && v == 20);
    CU_ASSERT(json_get_number(body, "steps_total", &v) && v == 20);
    CU_ASSERT(json_get_number(body, "lr", &v) && v > 0);
    CU_ASSERT(json_get_number(body, "images_per_s", &v) && v > 0);
    CU_ASSERT(json_get_number(body, "mean_loss", &v) && v > 0 && v == v);
    int done;
    CU_ASSERT(json_get_bool(body, "done", &done) && done);
    char mem[2048];
    CU_ASSERT(json_get_object(body, "memory", mem, sizeof mem));
    char params[128];
    CU_ASSERT(json_get_object(mem, "params", params, sizeof params) &&
              json_get_number(params, "current", &v) && v > 0);
    /* two evaluated epochs with the accuracy of both heads, and a curve of
     * 20 steps */
    const char *t = strstr(body, "\"test\": [");
    CU_ASSERT(t && strstr(t, "{\"epoch\": 1,") && strstr(t, "{\"epoch\": 2,"));
    char curve[4096];
    int n = 0;
    double steps[64];
    CU_ASSERT(json_get_object(body, "curve", curve, sizeof curve) &&
              json_get_numbers(curve, "step", steps, 64, &n) && n == 20 && steps[19] == 20);
    if (!seen_running)
        fprintf(stderr, "\n  (note: the run finished before a poll saw it running)\n");
    free(body);
    CU_ASSERT_EQUAL(get(port, "/metrics", &body), 200);
    CU_ASSERT(strstr(body, "sim_train_steps_total 20\n") != NULL);
    CU_ASSERT(strstr(body, "sim_train_test_accuracy{head=\"1\"}") != NULL);
    CU_ASSERT(strstr(body, "sim_train_memory_bytes{role=\"activations\"}") != NULL);
    free(body);
    CU_ASSERT_EQUAL(get(port, "/", &body), 200);
    CU_ASSERT(strstr(body, "/v1/progress") != NULL);
    free(body);
    CU_ASSERT_EQUAL(get(port, "/../etc/passwd", &body), 404);
    CU_ASSERT(strstr(body, "\"error\"") != NULL);
    free(body);
    monitor_stop(mon);
    ctx_free(&ctx);
}

/* The loss curve stays within MONITOR_CURVE points, evenly thinned. */
static void test_curve_thinning(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    monitor *mon;
    CU_ASSERT_EQUAL_FATAL(monitor_start(&ctx, &mon, "127.0.0.1", 0, "thinning"), SIM_OK);
    train_progress p;
    memset(&p, 0, sizeof p);
    const int N = 3 * MONITOR_CURVE + 5;
    for (int i = 1; i <= N; i++) {
        p.step = i;
        p.loss = 1.0;
        monitor_progress(mon, &p);
    }
    char *body;
    CU_ASSERT_EQUAL(get(monitor_port(mon), "/v1/progress", &body), 200);
    static char curve[1 << 16];
    static double steps[MONITOR_CURVE + 8], loss[MONITOR_CURVE + 8];
    int ns = 0, nl = 0;
    CU_ASSERT_FATAL(json_get_object(body, "curve", curve, sizeof curve));
    CU_ASSERT(json_get_numbers(curve, "step", steps, MONITOR_CURVE + 8, &ns));
    CU_ASSERT(json_get_numbers(curve, "loss", loss, MONITOR_CURVE + 8, &nl));
    CU_ASSERT(ns == nl && ns <= MONITOR_CURVE && ns >= MONITOR_CURVE / 2);
    double spp;
    CU_ASSERT(json_get_number(curve, "steps_per_point", &spp) && spp == 4); /* 1, 2, then 4 */
    int evenly = 1;
    for (int i = 1; i < ns && evenly; i++)
        if (steps[i] - steps[i - 1] != spp || loss[i] != 1.0) {
            fprintf(stderr, "\n  point %d: step %g after %g, loss %g\n", i, steps[i],
                    steps[i - 1], loss[i]);
            evenly = 0;
        }
    CU_ASSERT(evenly);
    free(body);
    monitor_stop(mon);
    ctx_free(&ctx);
}

int main(void)
{
    static const harness_test tests[] = {
        {"a tiny training run seen through /v1/progress, /metrics, /", test_monitor_training},
        {"the loss curve is thinned evenly", test_curve_thinning},
        {NULL, NULL},
    };
    harness_mkdtemp(dir, sizeof dir, "test_monitor");
    int rc = harness_run("monitor", tests);
    harness_rmtree(dir);
    return rc;
}
