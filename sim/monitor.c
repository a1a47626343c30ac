/* monitor.c - the training monitor: progress state under one mutex (the
 * trainer copies in, the event-loop thread copies out), the HTTP routes,
 * and the server thread. The page is generated from sim/assets/monitor.html. */
#include "sim/monitor.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json.h"
#include "sim/assets.h"
#include "sim/http.h"
#include "sim/progress.h"

typedef struct {
    int epoch;
    double loss, train_acc, images_per_s, seconds, test_acc_ema;
    int nheads;
    double test_acc[TREV_MAXT];
} epoch_row;

struct monitor {
    http_server *http;
    pthread_t th;
    char title[256];
    pthread_mutex_t lock;
    /* guarded by lock */
    train_progress last;
    int have, finished;
    char status[256];
    int ncurve, stride, pending; /* curve points, steps per point, steps since the last */
    int64_t curve_step[MONITOR_CURVE];
    float curve_loss[MONITOR_CURVE];
    double acc_loss; /* loss summed over the pending steps */
    int nepochs;
    epoch_row *epochs; /* (MONITOR_EPOCHS) */
    uint64_t requests[3];
};

void monitor_progress(void *ud, const train_progress *p)
{
    monitor *m = ud;
    pthread_mutex_lock(&m->lock);
    m->last = *p;
    m->have = 1;
    if (p->evaluated) {
        if (m->nepochs < MONITOR_EPOCHS) {
            epoch_row *r = &m->epochs[m->nepochs++];
            r->epoch = p->epoch, r->loss = p->mean_loss, r->train_acc = p->train_acc;
            r->images_per_s = p->images_per_s, r->seconds = p->seconds;
            r->test_acc_ema = p->test_acc_ema, r->nheads = p->nheads;
            memcpy(r->test_acc, p->test_acc, sizeof r->test_acc);
        }
    } else {
        /* one point per `stride` steps (their mean loss); when the curve is
         * full, merge neighbours and double the stride */
        m->acc_loss += p->loss;
        if (++m->pending >= m->stride && m->ncurve == MONITOR_CURVE) {
            for (int i = 0; i < MONITOR_CURVE / 2; i++) {
                m->curve_step[i] = m->curve_step[2 * i + 1];
                m->curve_loss[i] = 0.5f * (m->curve_loss[2 * i] + m->curve_loss[2 * i + 1]);
            }
            m->ncurve = MONITOR_CURVE / 2;
            m->stride *= 2;
        }
        if (m->pending >= m->stride) {
            m->curve_step[m->ncurve] = p->step;
            m->curve_loss[m->ncurve++] = (float)(m->acc_loss / m->pending);
            m->acc_loss = 0;
            m->pending = 0;
        }
    }
    pthread_mutex_unlock(&m->lock);
}

void monitor_finish(monitor *m, const char *status)
{
    pthread_mutex_lock(&m->lock);
    m->finished = 1;
    snprintf(m->status, sizeof m->status, "%s", status);
    pthread_mutex_unlock(&m->lock);
}

static void mem_json(FILE *f, const train_progress *p)
{
    fprintf(f, "{");
    for (int r = 0; r < MEM_NROLES; r++)
        fprintf(f, "%s\"%s\": {\"current\": %zu, \"peak\": %zu}", r ? ", " : "",
                mem_role_name((mem_role)r), p->mem_current[r], p->mem_peak[r]);
    fprintf(f, "}");
}

static void progress_json(monitor *m, FILE *f)
{
    pthread_mutex_lock(&m->lock);
    const train_progress *p = &m->last;
    char esc[600];
    json_escape(esc, sizeof esc, m->title);
    fprintf(f, "{\"title\": %s, \"started\": %s, \"done\": %s, ", esc, m->have ? "true" : "false",
            m->finished ? "true" : "false");
    json_escape(esc, sizeof esc, m->status);
    fprintf(f, "\"status\": %s, \"epoch\": %d, \"epochs\": %d, \"step\": %lld, \"steps_total\": %lld, "
               "\"batch\": %ld, \"batches\": %ld, \"loss\": %.6g, \"mean_loss\": %.6g, "
               "\"train_acc\": %.5f, \"lr\": %.6g, \"images_per_s\": %.1f, \"seconds\": %.2f, "
               "\"memory\": ",
            esc, p->epoch, p->epochs, (long long)p->step, (long long)p->steps_total, p->batch,
            p->batches, p->loss, p->mean_loss, p->train_acc, p->lr, p->images_per_s, p->seconds);
    mem_json(f, p);
    fprintf(f, ", \"test\": [");
    for (int i = 0; i < m->nepochs; i++) {
        const epoch_row *r = &m->epochs[i];
        fprintf(f, "%s{\"epoch\": %d, \"loss\": %.6g, \"train_acc\": %.5f, \"images_per_s\": %.1f, "
                   "\"seconds\": %.2f, \"test_acc_ema\": %.5f, \"test_acc\": [",
                i ? ", " : "", r->epoch, r->loss, r->train_acc, r->images_per_s, r->seconds,
                r->test_acc_ema);
        for (int h = 0; h < r->nheads; h++)
            fprintf(f, "%s%.5f", h ? ", " : "", r->test_acc[h]);
        fprintf(f, "]}");
    }
    fprintf(f, "], \"curve\": {\"steps_per_point\": %d, \"step\": [", m->stride);
    for (int i = 0; i < m->ncurve; i++)
        fprintf(f, "%s%lld", i ? "," : "", (long long)m->curve_step[i]);
    fprintf(f, "], \"loss\": [");
    for (int i = 0; i < m->ncurve; i++)
        fprintf(f, "%s%.5g", i ? "," : "", (double)m->curve_loss[i]);
    fprintf(f, "]}}\n");
    pthread_mutex_unlock(&m->lock);
}

static void metrics_text(monitor *m, FILE *f)
{
    pthread_mutex_lock(&m->lock);
    const train_progress *p = &m->last;
    fprintf(f, "# TYPE sim_train_epoch gauge\nsim_train_epoch %d\n"
               "# TYPE sim_train_steps_total counter\nsim_train_steps_total %lld\n"
               "# TYPE sim_train_steps_planned gauge\nsim_train_steps_planned %lld\n"
               "# TYPE sim_train_loss gauge\nsim_train_loss %.6g\n"
               "# TYPE sim_train_learning_rate gauge\nsim_train_learning_rate %.6g\n"
               "# TYPE sim_train_images_per_second gauge\nsim_train_images_per_second %.1f\n"
               "# TYPE sim_train_done gauge\nsim_train_done %d\n",
            p->epoch, (long long)p->step, (long long)p->steps_total, p->loss, p->lr,
            p->images_per_s, m->finished);
    if (m->nepochs > 0) {
        const epoch_row *r = &m->epochs[m->nepochs - 1];
        fprintf(f, "# TYPE sim_train_test_accuracy gauge\n");
        for (int h = 0; h < r->nheads; h++)
            fprintf(f, "sim_train_test_accuracy{head=\"%d\"} %.5f\n", h, r->test_acc[h]);
    }
    fprintf(f, "# TYPE sim_train_memory_bytes gauge\n");
    for (int r = 0; r < MEM_NROLES; r++)
        fprintf(f, "sim_train_memory_bytes{role=\"%s\"} %zu\n", mem_role_name((mem_role)r),
                p->mem_current[r]);
    fprintf(f, "# TYPE sim_monitor_requests_total counter\n");
    static const char *const names[3] = {"/", "/v1/progress", "/metrics"};
    for (int i = 0; i < 3; i++)
        fprintf(f, "sim_monitor_requests_total{endpoint=\"%s\"} %llu\n", names[i],
                (unsigned long long)m->requests[i]);
    pthread_mutex_unlock(&m->lock);
}

static void handle(void *ud, http_exchange *x, const http_head *h, const unsigned char *body,
                   size_t len)
{
    (void)body, (void)len;
    monitor *m = ud;
    int ep = !strcmp(h->path, "/") ? 0 : !strcmp(h->path, "/v1/progress") ? 1
             : !strcmp(h->path, "/metrics")                              ? 2
                                                                         : -1;
    if (ep < 0) {
        http_respond_error(x, 404, "no such path (try GET /, GET /v1/progress or GET /metrics)");
        return;
    }
    if (strcmp(h->method, "GET")) {
        http_respond_error(x, 405, "only GET is allowed here");
        return;
    }
    pthread_mutex_lock(&m->lock);
    m->requests[ep]++;
    pthread_mutex_unlock(&m->lock);
    if (ep == 0) {
        http_respond(x, 200, "text/html; charset=utf-8", asset_monitor_html,
                     asset_monitor_html_len, NULL);
        return;
    }
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    if (!f) {
        http_respond_error(x, 503, "out of memory");
        return;
    }
    if (ep == 1)
        progress_json(m, f);
    else
        metrics_text(m, f);
    if (fclose(f) != 0 || !out) {
        free(out);
        http_respond_error(x, 503, "out of memory");
        return;
    }
    http_respond(x, 200, ep == 1 ? "application/json" : "text/plain; version=0.0.4; charset=utf-8",
                 out, n, NULL);
    free(out);
}

static void *loop_main(void *arg)
{
    monitor *m = arg;
    http_run(m->http);
    return NULL;
}

sim_status monitor_start(sim_ctx *ctx, monitor **out, const char *host, int port,
                         const char *title)
{
    *out = NULL;
    monitor *m = calloc(1, sizeof *m);
    epoch_row *rows = calloc(MONITOR_EPOCHS, sizeof *rows);
    if (!m || !rows) {
        free(m);
        free(rows);
        return ctx_error(ctx, SIM_ENOMEM, "monitor: out of memory");
    }
    m->epochs = rows;
    m->stride = 1;
    m->last.test_acc_ema = -1;
    snprintf(m->title, sizeof m->title, "%s", title ? title : "");
    snprintf(m->status, sizeof m->status, "running");
    pthread_mutex_init(&m->lock, NULL);
    http_config hc = {host, port, 1024, 30, 64, 0, handle, NULL, m};
    sim_status st = http_start(ctx, &m->http, &hc);
    if (st == SIM_OK && pthread_create(&m->th, NULL, loop_main, m) != 0) {
        http_free(m->http);
        st = ctx_error(ctx, SIM_ELIB, "monitor: cannot start the server thread");
    }
    if (st != SIM_OK) {
        pthread_mutex_destroy(&m->lock);
        free(m->epochs);
        free(m);
        return st;
    }
    *out = m;
    return SIM_OK;
}

int monitor_port(const monitor *m)
{
    return http_port(m->http);
}

void monitor_stop(monitor *m)
{
    if (!m)
        return;
    http_stop(m->http);
    pthread_join(m->th, NULL);
    http_free(m->http);
    pthread_mutex_destroy(&m->lock);
    free(m->epochs);
    free(m);
}
