/* server.c - `sim serve`: routes, the worker pool and its bounded queue,
 * image preprocessing as in training, the classification JSON (with a
 * spike raster), /v1/model and Prometheus /metrics. The HTTP protocol is in
 * sim/http.c; the page is generated from sim/assets/index.html. */
#include "sim/server.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io/dataset.h"
#include "io/image.h"
#include "io/json.h"
#include "sim/assets.h"
#include "sim/http.h"
#include "sim/progress.h"
#include "topology/trevnet.h"

#define MAXPOP 64
#define NBUCKETS 14

enum { EP_ROOT, EP_CLASSIFY, EP_MODEL, EP_METRICS, EP_OTHER, EP_N };
static const char *const ep_names[EP_N] = {"/", "/v1/classify", "/v1/model", "/metrics", "other"};
static const int codes[] = {200, 400, 404, 405, 408, 411, 413, 414, 415, 431, 500, 501, 503, 505};
#define NCODES ((int)(sizeof codes / sizeof codes[0]))
static const double buckets[NBUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,  0.5,    1,     2.5,  5,     10,  30};

/* Spikes of one image: counts per population and timestep, and a sample
 * of (t, population, id) for drawing. */
typedef struct {
    int T, per_cell; /* events kept per (t, population) */
    uint64_t counts[MAXPOP][TREV_MAXT];
    int32_t (*ev)[3]; /* (SERVER_RASTER_MAX, 3) */
    int nev;
} raster;

typedef struct {
    struct server *srv;
    pthread_t th;
    int started;
    sim_ctx ctx;
    trevnet net;
    int built;
    real *img, *logits;
    raster rec;
} worker;

typedef struct {
    http_exchange *x;
    const http_head *h;
    const unsigned char *body;
    size_t len;
    double t_queued;
} job;

struct server {
    server_config cfg;
    http_server *http;
    trev_config mcfg;
    size_t nparams;
    int nworkers;
    worker *w;
    /* the job queue */
    pthread_mutex_t qlock;
    pthread_cond_t qcond;
    job *q;
    int qhead, qlen, stopping;
    /* metrics */
    pthread_mutex_t mlock;
    uint64_t requests[EP_N][NCODES + 1]; /* last column: other codes */
    uint64_t hist[EP_N][NBUCKETS + 1];
    double hist_sum[EP_N];
    uint64_t images, spikes, acs, macs, rejected_full;
    double energy_uj, sim_seconds;
    char *model_json;
    size_t model_json_len;
};

void server_defaults(server_config *c)
{
    memset(c, 0, sizeof *c);
    c->host = "127.0.0.1";
    c->port = 8080;
    c->threads = 2;
    c->queue = 64;
    c->max_body = 4u << 20;
    c->timeout_s = 30;
    c->e_mac_pj = ENGINE_E_MAC_PJ;
    c->e_ac_pj = ENGINE_E_AC_PJ;
    c->model_name = "";
}

/* ---- per-image spike recording (engine callback) ---- */

static void on_step(void *ud, const engine *e, int64_t t)
{
    raster *r = ud;
    if (t < 0 || t >= r->T)
        return;
    for (int p = 0; p < e->npop && p < MAXPOP; p++) {
        int32_t n;
        const int32_t *ids = engine_spikes(e, p, &n);
        r->counts[p][t] += (uint64_t)n;
        int keep = n < r->per_cell ? n : r->per_cell;
        for (int i = 0; i < keep && r->nev < SERVER_RASTER_MAX; i++) {
            int32_t *ev = r->ev[r->nev++];
            ev[0] = (int32_t)t, ev[1] = p;
            ev[2] = ids[(int64_t)i * n / keep]; /* evenly strided through the ids */
        }
    }
}

/* Appends ",x" (no comma before the first) in decimal; x >= 0. */
static char *put_int(char *b, int32_t x, int comma)
{
    char tmp[12];
    int n = 0;
    if (comma)
        *b++ = ',';
    do
        tmp[n++] = (char)('0' + x % 10);
    while ((x /= 10) > 0);
    while (n > 0)
        *b++ = tmp[--n];
    return b;
}

/* The raster's events as [t,population,id],... (up to SERVER_RASTER_MAX
 * triples; formatted by hand: fprintf per event was a fifth of a request's
 * CPU time). */
static void write_events(FILE *f, const raster *r)
{
    char buf[4096];
    char *b = buf;
    for (int i = 0; i < r->nev; i++) {
        if (b - buf > (long)sizeof buf - 48) {
            fwrite(buf, 1, (size_t)(b - buf), f);
            b = buf;
        }
        if (i)
            *b++ = ',';
        *b++ = '[';
        b = put_int(b, r->ev[i][0], 0);
        b = put_int(b, r->ev[i][1], 1);
        b = put_int(b, r->ev[i][2], 1);
        *b++ = ']';
    }
    fwrite(buf, 1, (size_t)(b - buf), f);
}

/* ---- class names ---- */

static const char *class_name(const trev_config *c, int k, char *buf, size_t len)
{
    dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.classes = c->classes;
    snprintf(ds.name, sizeof ds.name, "%s", c->classes != 10 ? "" : c->in_channels == 1 ? "fmnist"
                                                                                           : "cifar10");
    const char *n = dataset_class_name(&ds, k);
    if (!strcmp(n, "?")) {
        snprintf(buf, len, "class %d", k);
        return buf;
    }
    return n;
}

/* ---- classification (worker thread) ---- */

static int status_of(sim_status st)
{
    switch (st) {
    case SIM_EFORMAT:
    case SIM_EINVAL:
    case SIM_ESHAPE:
        return 400;
    case SIM_ERANGE:
        return 413;
    case SIM_ENOMEM:
        return 503;
    default:
        return 500;
    }
}

/* Decode the body by Content-Type (sniffing octet-stream and no type). */
static int decode_body(worker *w, const job *j, image_u8 *im)
{
    sim_ctx *ctx = &w->ctx;
    const trev_config *c = &w->srv->mcfg;
    const char *ct = http_header(j->h, "content-type");
    char type[128] = "";
    if (ct) {
        size_t n = strcspn(ct, ";");
        snprintf(type, sizeof type, "%.*s", (int)(n < 127 ? n : 127), ct);
        while (n > 0 && type[n - 1] == ' ')
            type[--n] = 0;
    }
    int png = !strcasecmp(type, "image/png");
    int pgm = !strcasecmp(type, "image/x-portable-graymap") ||
              !strcasecmp(type, "image/x-portable-anymap") || !strcasecmp(type, "image/x-pgm");
    int raw = !type[0] || !strcasecmp(type, "application/octet-stream");
    if (!png && !pgm && !raw) {
        http_respond_error(j->x, 415,
                           "Content-Type '%s': expected image/png, image/x-portable-graymap or "
                           "application/octet-stream (raw pixels with ?width=W&height=H)",
                           type);
        return 0;
    }
    if (j->len == 0) {
        http_respond_error(j->x, 400, "empty request body: send one image");
        return 0;
    }
    char wv[32] = "", hv[32] = "";
    int have_w = http_query(j->h->query, "width", wv, sizeof wv) ||
                 (http_header(j->h, "x-image-width") &&
                  snprintf(wv, sizeof wv, "%s", http_header(j->h, "x-image-width")) > 0);
    int have_h = http_query(j->h->query, "height", hv, sizeof hv) ||
                 (http_header(j->h, "x-image-height") &&
                  snprintf(hv, sizeof hv, "%s", http_header(j->h, "x-image-height")) > 0);
    if (raw && !(have_w && have_h)) { /* sniff the formats we know */
        png = image_is_png(j->body, j->len);
        pgm = !png && image_is_pgm(j->body, j->len);
        raw = !png && !pgm;
    }
    sim_status st;
    if (png) {
        st = image_decode_png(ctx, j->body, j->len, c->in_channels == 1 ? 1 : 3, im);
    } else if (pgm) {
        st = image_decode_pgm(ctx, j->body, j->len, im);
    } else {
        char *e1 = NULL, *e2 = NULL;
        long W = have_w ? strtol(wv, &e1, 10) : 0, H = have_h ? strtol(hv, &e2, 10) : 0;
        if (!have_w || !have_h || !e1 || *e1 || !e2 || *e2 || W < 1 || H < 1 ||
            W > IMAGE_MAX_SIDE || H > IMAGE_MAX_SIDE) {
            http_respond_error(j->x, 400,
                               "raw pixels need ?width=W&height=H (or X-Image-Width and "
                               "X-Image-Height) with 1..%d each",
                               IMAGE_MAX_SIDE);
            return 0;
        }
        st = image_decode_raw(ctx, j->body, j->len, (int)W, (int)H, im);
    }
    if (st != SIM_OK) {
        http_respond_error(j->x, status_of(st), "%s", ctx_errmsg(ctx));
        return 0;
    }
    return 1;
}

/* Fit to the model's raw size and channels, then normalize and pad exactly
 * as training does (dataset_batch). */
static sim_status preprocess(worker *w, const image_u8 *im, int *resized)
{
    sim_ctx *ctx = &w->ctx;
    const trev_config *c = &w->srv->mcfg;
    int raw = c->raw_size > 0 ? c->raw_size : c->input_size;
    image_u8 fit;
    sim_status st = image_fit(ctx, im, c->in_channels, raw, &fit);
    if (st != SIM_OK)
        return st;
    *resized = im->w != raw || im->h != raw;
    int label = 0, idx = 0;
    dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.n = 1, ds.c = fit.c, ds.h = fit.h, ds.w = fit.w, ds.classes = c->classes;
    ds.pixels = fit.pixels;
    ds.labels = &label;
    dataset_norm nm;
    memset(&nm, 0, sizeof nm);
    nm.c = c->in_channels;
    for (int k = 0; k < nm.c && k < 3; k++)
        nm.mean[k] = c->mean[k], nm.std[k] = c->std[k] > 0 ? c->std[k] : 1;
    nm.size = c->input_size;
    st = dataset_batch(ctx, &ds, w->img, NULL, &idx, 1, &nm, NULL);
    image_free(ctx, &fit);
    return st;
}

static void print_real(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, REAL_IS_DOUBLE ? "%.17g" : "%.9g", v);
    else
        fprintf(f, "null");
}

static void classify(worker *w, const job *j)
{
    server *s = w->srv;
    sim_ctx *ctx = &w->ctx;
    const trev_config *c = &s->mcfg;
    double t0 = progress_now();
    if (s->cfg.timeout_s > 0 && t0 - j->t_queued > s->cfg.timeout_s) {
        http_respond_error(j->x, 503, "the job waited %.1f s in the queue (limit %g s)",
                           t0 - j->t_queued, s->cfg.timeout_s);
        return;
    }
    image_u8 im;
    if (!decode_body(w, j, &im))
        return;
    int resized = 0;
    sim_status st = preprocess(w, &im, &resized);
    int iw = im.w, ih = im.h, ic = im.c;
    image_free(ctx, &im);
    if (st != SIM_OK) {
        http_respond_error(j->x, status_of(st), "%s", ctx_errmsg(ctx));
        return;
    }
    engine *e = &w->net.e;
    raster *r = &w->rec;
    int nspk = 0;
    for (int p = 0; p < e->npop; p++)
        nspk += engine_pop(e, p)->model != NEURON_RELAY;
    memset(r->counts, 0, sizeof r->counts);
    r->nev = 0;
    r->per_cell = SERVER_RASTER_MAX / ((nspk > 0 ? nspk : 1) * c->T);
    if (r->per_cell < 1)
        r->per_cell = 1;
    engine_totals before, after;
    engine_get_totals(e, &before);
    double t1 = progress_now();
    trevnet_stats rs;
    st = trevnet_run_image(ctx, &w->net, w->img, w->logits, &rs);
    double t2 = progress_now();
    if (st != SIM_OK) {
        http_respond_error(j->x, 500, "simulation failed: %s", ctx_errmsg(ctx));
        return;
    }
    engine_get_totals(e, &after);
    const int K = c->classes, nheads = c->inter_supv ? c->T : 1;
    const real *fin = w->logits + (size_t)(nheads - 1) * K;
    int pred = 0;
    for (int k = 1; k < K; k++)
        pred = fin[k] > fin[pred] ? k : pred;
    double mx = fin[pred], zsum = 0;
    for (int k = 0; k < K; k++)
        zsum += exp((double)fin[k] - mx);
    uint64_t spikes = after.spikes - before.spikes, acs = after.acs - before.acs,
             macs = after.macs - before.macs;
    double energy_uj = (after.energy_pj - before.energy_pj) * 1e-6;

    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    if (!f) {
        http_respond_error(j->x, 503, "out of memory");
        return;
    }
    char nb[64];
    fprintf(f, "{\"class\": %d, \"name\": ", pred);
    char esc[160];
    json_escape(esc, sizeof esc, class_name(c, pred, nb, sizeof nb));
    fprintf(f, "%s, \"logits\": [", esc);
    for (int k = 0; k < K; k++) {
        fprintf(f, "%s", k ? ", " : "");
        print_real(f, fin[k]);
    }
    fprintf(f, "], \"probabilities\": [");
    for (int k = 0; k < K; k++)
        fprintf(f, "%s%.6f", k ? ", " : "", exp((double)fin[k] - mx) / zsum);
    fprintf(f, "], \"classes\": [");
    for (int k = 0; k < K; k++) {
        json_escape(esc, sizeof esc, class_name(c, k, nb, sizeof nb));
        fprintf(f, "%s%s", k ? ", " : "", esc);
    }
    fprintf(f, "], \"heads\": %d, \"spikes\": %llu, \"accumulates\": %llu, \"macs\": %llu, "
               "\"energy_uj\": %.6f, \"latency_ms\": %.3f, \"simulation_ms\": %.3f, "
               "\"queue_ms\": %.3f, \"T\": %d, "
               "\"input\": {\"width\": %d, \"height\": %d, \"channels\": %d, \"resized\": %s}, "
               "\"populations\": [",
            nheads, (unsigned long long)spikes, (unsigned long long)acs,
            (unsigned long long)macs, energy_uj, 1e3 * (t2 - t0), 1e3 * (t2 - t1),
            1e3 * (t0 - j->t_queued), c->T, iw, ih, ic, resized ? "true" : "false");
    for (int p = 0, first = 1; p < e->npop && p < MAXPOP; p++) {
        const population *pp = engine_pop(e, p);
        if (pp->model == NEURON_RELAY)
            continue;
        uint64_t tot = 0;
        for (int t = 0; t < c->T; t++)
            tot += r->counts[p][t];
        fprintf(f, "%s{\"index\": %d, \"name\": \"%s\", \"neurons\": %d, \"spikes\": %llu, "
                   "\"per_timestep\": [",
                first ? "" : ", ", p, pp->name, pp->n, (unsigned long long)tot);
        for (int t = 0; t < c->T; t++)
            fprintf(f, "%s%llu", t ? ", " : "", (unsigned long long)r->counts[p][t]);
        fprintf(f, "]}");
        first = 0;
    }
    fprintf(f, "], \"raster\": {\"per_cell_limit\": %d, \"events\": [", r->per_cell);
    write_events(f, r);
    fprintf(f, "]}}\n");
    if (fclose(f) != 0 || !out) {
        free(out);
        http_respond_error(j->x, 503, "out of memory");
        return;
    }
    /* counted before the answer, so a client's next /metrics includes it */
    pthread_mutex_lock(&s->mlock);
    s->images++;
    s->spikes += spikes;
    s->acs += acs;
    s->macs += macs;
    s->energy_uj += energy_uj;
    s->sim_seconds += t2 - t1;
    pthread_mutex_unlock(&s->mlock);
    http_respond(j->x, 200, "application/json", out, outlen, NULL);
    free(out);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    server *s = w->srv;
    for (;;) {
        pthread_mutex_lock(&s->qlock);
        while (!s->stopping && s->qlen == 0)
            pthread_cond_wait(&s->qcond, &s->qlock);
        if (s->stopping) {
            pthread_mutex_unlock(&s->qlock);
            return NULL;
        }
        job j = s->q[s->qhead];
        s->qhead = (s->qhead + 1) % s->cfg.queue;
        s->qlen--;
        pthread_mutex_unlock(&s->qlock);
        classify(w, &j);
    }
}

/* ---- routes (event-loop thread) ---- */

static int endpoint_of(const char *path)
{
    for (int i = 0; i < EP_OTHER; i++)
        if (!strcmp(path, ep_names[i]))
            return i;
    return EP_OTHER;
}

static void send_metrics(server *s, http_exchange *x)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f) {
        http_respond_error(x, 503, "out of memory");
        return;
    }
    pthread_mutex_lock(&s->mlock);
    fprintf(f, "# HELP sim_http_requests_total HTTP requests answered, by endpoint and status.\n"
               "# TYPE sim_http_requests_total counter\n");
    for (int e = 0; e < EP_N; e++)
        for (int k = 0; k <= NCODES; k++)
            if (s->requests[e][k])
            {
                char code[16];
                if (k < NCODES)
                    snprintf(code, sizeof code, "%d", codes[k]);
                else
                    snprintf(code, sizeof code, "other");
                fprintf(f, "sim_http_requests_total{endpoint=\"%s\",code=\"%s\"} %llu\n",
                        ep_names[e], code, (unsigned long long)s->requests[e][k]);
            }
    fprintf(f, "# HELP sim_http_request_duration_seconds Time from a complete request to its "
               "response, by endpoint.\n# TYPE sim_http_request_duration_seconds histogram\n");
    for (int e = 0; e < EP_N; e++) {
        uint64_t cum = 0;
        for (int b = 0; b <= NBUCKETS; b++) {
            cum += s->hist[e][b];
            if (b < NBUCKETS)
                fprintf(f, "sim_http_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} "
                           "%llu\n",
                        ep_names[e], buckets[b], (unsigned long long)cum);
            else
                fprintf(f, "sim_http_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} "
                           "%llu\n",
                        ep_names[e], (unsigned long long)cum);
        }
        fprintf(f, "sim_http_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n", ep_names[e],
                s->hist_sum[e]);
        fprintf(f, "sim_http_request_duration_seconds_count{endpoint=\"%s\"} %llu\n", ep_names[e],
                (unsigned long long)cum);
    }
    fprintf(f,
            "# HELP sim_images_classified_total Images run through the event-driven engine.\n"
            "# TYPE sim_images_classified_total counter\nsim_images_classified_total %llu\n"
            "# HELP sim_spikes_total Spikes emitted while classifying.\n"
            "# TYPE sim_spikes_total counter\nsim_spikes_total %llu\n"
            "# HELP sim_accumulates_total Synaptic accumulate operations.\n"
            "# TYPE sim_accumulates_total counter\nsim_accumulates_total %llu\n"
            "# HELP sim_macs_total Multiply-accumulate operations.\n"
            "# TYPE sim_macs_total counter\nsim_macs_total %llu\n"
            "# HELP sim_energy_microjoules_total Counted energy (E_MAC MACs + E_AC ACs).\n"
            "# TYPE sim_energy_microjoules_total counter\nsim_energy_microjoules_total %.6f\n"
            "# HELP sim_simulation_seconds_total Time the workers spent simulating.\n"
            "# TYPE sim_simulation_seconds_total counter\nsim_simulation_seconds_total %.6f\n"
            "# HELP sim_queue_rejected_total Classify requests refused because the queue was "
            "full.\n# TYPE sim_queue_rejected_total counter\nsim_queue_rejected_total %llu\n",
            (unsigned long long)s->images, (unsigned long long)s->spikes,
            (unsigned long long)s->acs, (unsigned long long)s->macs, s->energy_uj,
            s->sim_seconds, (unsigned long long)s->rejected_full);
    pthread_mutex_unlock(&s->mlock);
    pthread_mutex_lock(&s->qlock);
    int qlen = s->qlen;
    pthread_mutex_unlock(&s->qlock);
    fprintf(f, "# HELP sim_queue_jobs Jobs waiting for a worker.\n# TYPE sim_queue_jobs gauge\n"
               "sim_queue_jobs %d\n# HELP sim_workers Worker threads.\n# TYPE sim_workers gauge\n"
               "sim_workers %d\n",
            qlen, s->nworkers);
    if (fclose(f) != 0 || !out) {
        free(out);
        http_respond_error(x, 503, "out of memory");
        return;
    }
    http_respond(x, 200, "text/plain; version=0.0.4; charset=utf-8", out, len, NULL);
    free(out);
}

static void handle(void *ud, http_exchange *x, const http_head *h, const unsigned char *body,
                   size_t len)
{
    server *s = ud;
    int ep = endpoint_of(h->path);
    const char *want = ep == EP_CLASSIFY ? "POST" : "GET";
    if (ep == EP_OTHER) {
        http_respond_error(x, 404, "no such path (try GET /, GET /v1/model, GET /metrics or "
                                   "POST /v1/classify)");
        return;
    }
    if (strcmp(h->method, want)) {
        char allow[64];
        snprintf(allow, sizeof allow, "Allow: %s\r\n", want);
        char msg[4600]; /* the path is printable ASCII: escaping at most doubles it */
        size_t n = (size_t)snprintf(msg, sizeof msg, "{\"error\": ");
        char text[2200];
        snprintf(text, sizeof text, "method %s is not allowed on %s: use %s", h->method, h->path,
                 want);
        n += json_escape(msg + n, sizeof msg - n - 4, text);
        n += (size_t)snprintf(msg + n, sizeof msg - n, "}\n");
        http_respond(x, 405, "application/json", msg, n, allow);
        return;
    }
    if (ep == EP_ROOT) {
        http_respond(x, 200, "text/html; charset=utf-8", asset_index_html, asset_index_html_len,
                     "Content-Security-Policy: default-src 'self'; style-src 'self' "
                     "'unsafe-inline'; script-src 'self' 'unsafe-inline'\r\n");
    } else if (ep == EP_MODEL) {
        http_respond(x, 200, "application/json", s->model_json, s->model_json_len, NULL);
    } else if (ep == EP_METRICS) {
        send_metrics(s, x);
    } else {
        job j = {x, h, body, len, progress_now()};
        pthread_mutex_lock(&s->qlock);
        int full = s->qlen >= s->cfg.queue;
        if (!full) {
            s->q[(s->qhead + s->qlen) % s->cfg.queue] = j;
            s->qlen++;
            pthread_cond_signal(&s->qcond);
        }
        pthread_mutex_unlock(&s->qlock);
        if (full) {
            pthread_mutex_lock(&s->mlock);
            s->rejected_full++;
            pthread_mutex_unlock(&s->mlock);
            http_respond_error(x, 503, "all %d workers busy and %d jobs queued: retry later",
                               s->nworkers, s->cfg.queue);
        }
    }
}

static void on_done(void *ud, const http_head *h, int status, double seconds)
{
    server *s = ud;
    int ep = h ? endpoint_of(h->path) : EP_OTHER, k = 0;
    while (k < NCODES && codes[k] != status)
        k++;
    int b = 0;
    while (b < NBUCKETS && seconds > buckets[b])
        b++;
    pthread_mutex_lock(&s->mlock);
    s->requests[ep][k]++;
    s->hist[ep][b]++;
    s->hist_sum[ep] += seconds;
    pthread_mutex_unlock(&s->mlock);
}

/* ---- setup ---- */

static sim_status model_json(server *s, const trev_model *m)
{
    const trev_config *c = &s->mcfg;
    const engine *e = &s->w[0].net.e;
    FILE *f = open_memstream(&s->model_json, &s->model_json_len);
    if (!f)
        return SIM_ENOMEM;
    char esc[600], nb[64];
    json_escape(esc, sizeof esc, s->cfg.model_name ? s->cfg.model_name : "");
    fprintf(f, "{\"model\": %s, \"preset\": \"%s\", \"parameters\": %zu, \"T\": %d, "
               "\"classes\": %d, \"class_names\": [",
            esc, c->preset, trev_count_learnable(m), c->T, c->classes);
    for (int k = 0; k < c->classes; k++) {
        json_escape(esc, sizeof esc, class_name(c, k, nb, sizeof nb));
        fprintf(f, "%s%s", k ? ", " : "", esc);
    }
    fprintf(f, "], \"threshold\": %g, \"heads\": %d, \"input\": {\"channels\": %d, "
               "\"raw_size\": %d, \"input_size\": %d, \"mean\": [",
            (double)NEURON_THRESHOLD, c->inter_supv ? c->T : 1, c->in_channels, c->raw_size,
            c->input_size);
    for (int k = 0; k < c->in_channels && k < 3; k++)
        fprintf(f, "%s%g", k ? ", " : "", c->mean[k]);
    fprintf(f, "], \"std\": [");
    for (int k = 0; k < c->in_channels && k < 3; k++)
        fprintf(f, "%s%g", k ? ", " : "", c->std[k]);
    fprintf(f, "]}, \"energy\": {\"e_mac_pj\": %g, \"e_ac_pj\": %g}, \"workers\": %d, "
               "\"queue\": %d, \"max_body\": %zu, \"populations\": [",
            s->cfg.e_mac_pj, s->cfg.e_ac_pj, s->nworkers, s->cfg.queue, s->cfg.max_body);
    static const char *const kinds[] = {"turn-off", "turn-on", "lif", "relay"};
    for (int p = 0; p < e->npop; p++) {
        const population *pp = engine_pop(e, p);
        fprintf(f, "%s{\"index\": %d, \"name\": \"%s\", \"kind\": \"%s\", \"neurons\": %d, "
                   "\"shape\": [%d, %d, %d], \"threshold\": %g}",
                p ? ", " : "", p, pp->name,
                pp->model >= 0 && pp->model < NEURON_NMODELS ? kinds[pp->model] : "?", pp->n,
                pp->C, pp->H, pp->W, (double)pp->threshold);
    }
    fprintf(f, "]}\n");
    return fclose(f) == 0 ? SIM_OK : SIM_ENOMEM;
}

sim_status server_create(sim_ctx *ctx, server **out, trev_model *m, const server_config *cfg)
{
    *out = NULL;
    if (cfg->threads < 1 || cfg->threads > 256 || cfg->queue < 1 || cfg->queue > 100000)
        return ctx_error(ctx, SIM_EINVAL, "server: expected 1..256 threads and a queue of "
                         "1..100000, found %d and %d", cfg->threads, cfg->queue);
    server *s = calloc(1, sizeof *s);
    if (!s)
        return ctx_error(ctx, SIM_ENOMEM, "server: out of memory");
    s->cfg = *cfg;
    s->mcfg = *trev_cfg(m);
    pthread_mutex_init(&s->qlock, NULL);
    pthread_cond_init(&s->qcond, NULL);
    pthread_mutex_init(&s->mlock, NULL);
    s->q = calloc((size_t)cfg->queue, sizeof *s->q);
    s->w = calloc((size_t)cfg->threads, sizeof *s->w);
    sim_status st = s->q && s->w ? SIM_OK : ctx_error(ctx, SIM_ENOMEM, "server: out of memory");
    const trev_config *c = &s->mcfg;
    if (st == SIM_OK && (c->T > TREV_MAXT || c->in_channels > 3))
        st = ctx_error(ctx, SIM_EINVAL, "server: T %d and %d input channels, expected at most "
                       "%d and 3", c->T, c->in_channels, TREV_MAXT);
    /* every worker's network, built here so that m is not shared later */
    for (int i = 0; i < cfg->threads && st == SIM_OK; i++) {
        worker *w = &s->w[i];
        w->srv = s;
        s->nworkers = i + 1;
        if ((st = ctx_init(&w->ctx, 1 + (uint64_t)i)) != SIM_OK) {
            st = ctx_error(ctx, st, "server: worker context: %s", sim_strerror(st));
            break;
        }
        engine_opts eo = engine_opts_default();
        eo.e_mac_pj = cfg->e_mac_pj, eo.e_ac_pj = cfg->e_ac_pj;
        eo.on_step = on_step;
        eo.ud = &w->rec;
        w->rec.T = c->T;
        w->rec.ev = calloc(SERVER_RASTER_MAX, sizeof *w->rec.ev);
        size_t npix = (size_t)c->in_channels * c->input_size * c->input_size;
        const int nheads = c->inter_supv ? c->T : 1;
        w->img = mem_calloc(&w->ctx, MEM_DATA, npix, sizeof *w->img);
        w->logits = mem_calloc(&w->ctx, MEM_DATA, (size_t)nheads * c->classes, sizeof *w->logits);
        if (!w->rec.ev || !w->img || !w->logits) {
            st = ctx_error(ctx, SIM_ENOMEM, "server: out of memory for worker %d", i);
            break;
        }
        if ((st = trevnet_build(&w->ctx, &w->net, m, &eo)) != SIM_OK) {
            st = ctx_error(ctx, st, "server: %s", ctx_errmsg(&w->ctx));
            break;
        }
        w->built = 1;
        if (w->net.e.npop > MAXPOP)
            st = ctx_error(ctx, SIM_EINVAL, "server: %d populations, at most %d supported",
                           w->net.e.npop, MAXPOP);
    }
    if (st == SIM_OK && model_json(s, m) != SIM_OK)
        st = ctx_error(ctx, SIM_ENOMEM, "server: out of memory");
    if (st == SIM_OK) {
        http_config hc = {cfg->host, cfg->port, cfg->max_body, cfg->timeout_s, 512,
                          cfg->handle_signals, handle, on_done, s};
        st = http_start(ctx, &s->http, &hc);
    }
    for (int i = 0; i < s->nworkers && st == SIM_OK; i++) {
        if (pthread_create(&s->w[i].th, NULL, worker_main, &s->w[i]) != 0)
            st = ctx_error(ctx, SIM_ELIB, "server: cannot start worker thread %d", i);
        else
            s->w[i].started = 1;
    }
    if (st != SIM_OK) {
        server_destroy(s);
        return st;
    }
    *out = s;
    return SIM_OK;
}

int server_port(const server *s)
{
    return http_port(s->http);
}

sim_status server_run(server *s)
{
    return http_run(s->http);
}

void server_stop(server *s)
{
    http_stop(s->http);
}

void server_destroy(server *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->qlock);
    s->stopping = 1;
    pthread_cond_broadcast(&s->qcond);
    pthread_mutex_unlock(&s->qlock);
    for (int i = 0; i < s->nworkers; i++)
        if (s->w[i].started)
            pthread_join(s->w[i].th, NULL);
    http_free(s->http); /* after the workers: queued jobs point into connections */
    for (int i = 0; i < s->nworkers; i++) {
        worker *w = &s->w[i];
        if (w->built)
            trevnet_free(&w->ctx, &w->net);
        if (w->img)
            mem_free(&w->ctx, w->img);
        if (w->logits)
            mem_free(&w->ctx, w->logits);
        free(w->rec.ev);
        ctx_free(&w->ctx);
    }
    free(s->w);
    free(s->q);
    free(s->model_json);
    pthread_mutex_destroy(&s->qlock);
    pthread_cond_destroy(&s->qcond);
    pthread_mutex_destroy(&s->mlock);
    free(s);
}
