/* test_server.c - the classification service (sim/server.c over
 * sim/http.c) in process: a small random-weight fmnist-preset model is
 * saved to a temporary checkpoint and loaded back, the server listens on an
 * ephemeral loopback port with its event loop in a thread, and every
 * endpoint is exercised over real sockets:
 *   - POST /v1/classify with raw bytes, a PNG (written here with libpng)
 *     and a PGM of the same image gives the class and logits of
 *     trevnet_run_image run here on the same preprocessed image;
 *   - GET /v1/model, GET /metrics (counters parsed and seen to increase),
 *     GET / (the embedded page);
 *   - malformed requests get 4xx JSON errors and the server answers the
 *     next request: bad PNG, truncated PGM, wrong raw size, wrong content
 *     type, huge Content-Length (413), unknown path (404), wrong method
 *     (405), path traversal (404), garbage request line (400), a request
 *     left unfinished (408). */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <png.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "io/json.h"
#include "sim/http.h"
#include "sim/server.h"
#include "tests/harness.h"
#include "topology/trevnet.h"

static char dir[64];
static sim_ctx g_ctx;
static trev_model *g_model;
static server *g_srv;
static pthread_t g_loop;
static int g_port;
static unsigned char g_img[28 * 28];

static void *loop_main(void *arg)
{
    server_run(arg);
    return NULL;
}

/* One request on a fresh connection: status and body (freed by caller). */
static int request(const char *method, const char *target, const char *ctype, const void *body,
                   size_t len, char **resp)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    http_client c;
    int status = -1;
    size_t rl;
    *resp = NULL;
    if (http_client_open(&ctx, &c, "127.0.0.1", g_port, 10) == SIM_OK) {
        if (http_client_request(&ctx, &c, method, target, ctype, body, len, &status, resp, &rl) !=
            SIM_OK)
            fprintf(stderr, "\n  %s %s: %s\n", method, target, ctx_errmsg(&ctx));
        http_client_close(&c);
    } else {
        fprintf(stderr, "\n  %s\n", ctx_errmsg(&ctx));
    }
    ctx_free(&ctx);
    if (!*resp)
        *resp = calloc(1, 1);
    return status;
}

/* Raw bytes on a fresh connection; everything until the server closes
 * (or 5 s) into out. */
static size_t raw_exchange(const char *bytes, size_t n, char *out, size_t cap, double wait_s)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)g_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t got = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 && send(fd, bytes, n, MSG_NOSIGNAL) >= 0) {
        if (wait_s > 0)
            usleep((useconds_t)(wait_s * 1e6));
        ssize_t r;
        while (got + 1 < cap && (r = recv(fd, out + got, cap - 1 - got, 0)) > 0)
            got += (size_t)r;
    }
    out[got] = 0;
    close(fd);
    return got;
}

static int status_of(const char *resp)
{
    int s = -1;
    sscanf(resp, "HTTP/1.1 %d", &s);
    return s;
}

static int is_json_error(const char *body)
{
    char msg[512];
    return body && json_get_string(body, "error", msg, sizeof msg) && msg[0];
}

/* The same preprocessing as training, written out: (x/255 - mean)/std,
 * centred in the 32x32 input with zeros (in normalized space) around. */
static void reference_logits(const unsigned char *px, real *logits, int *cls)
{
    const trev_config *c = trev_cfg(g_model);
    int S = c->input_size, off = (S - 28) / 2, K = c->classes, nheads = c->inter_supv ? c->T : 1;
    real *img = calloc((size_t)S * S, sizeof *img);
    for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++)
            img[(y + off) * S + x + off] =
                (real)(((double)px[y * 28 + x] / 255.0 - c->mean[0]) / c->std[0]);
    trevnet net;
    real *all = calloc((size_t)nheads * K, sizeof *all);
    CU_ASSERT_EQUAL_FATAL(trevnet_build(&g_ctx, &net, g_model, NULL), SIM_OK);
    CU_ASSERT_EQUAL_FATAL(trevnet_run_image(&g_ctx, &net, img, all, NULL), SIM_OK);
    memcpy(logits, all + (size_t)(nheads - 1) * K, (size_t)K * sizeof *logits);
    *cls = 0;
    for (int k = 1; k < K; k++)
        *cls = logits[k] > logits[*cls] ? k : *cls;
    trevnet_free(&g_ctx, &net);
    free(img);
    free(all);
}

/* The raster's events: [t,population,id] triples, at most
 * SERVER_RASTER_MAX, t < T, ordered by (t, population) with ascending ids
 * inside each, and closed by "]}". */
static void check_raster(const char *body)
{
    const char *p = strstr(body, "\"events\": [");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    p += strlen("\"events\": [");
    const int T = trev_cfg(g_model)->T;
    long n = 0, pt = -1, pp = -1, pid = -1, bad = 0;
    while (*p == '[') {
        char *e;
        long v[3];
        p++;
        for (int k = 0; k < 3; k++) {
            v[k] = strtol(p, &e, 10);
            bad += e == p || (k < 2 ? *e != ',' : *e != ']');
            p = e + 1;
        }
        bad += v[0] < 0 || v[0] >= T || v[1] < 0 || v[2] < 0;
        int same = v[0] == pt && v[1] == pp;
        bad += v[0] < pt || (v[0] == pt && v[1] < pp) || (same && v[2] <= pid);
        pt = v[0], pp = v[1], pid = v[2];
        n++;
        if (*p == ',')
            p++;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(n > 0 && n <= SERVER_RASTER_MAX);
    CU_ASSERT(strncmp(p, "]}", 2) == 0);
}

/* A classify response against the reference. */
static void check_classify(const char *what, int status, const char *body)
{
    if (status != 200)
        fprintf(stderr, "\n  %s: status %d: %s\n", what, status, body);
    CU_ASSERT_EQUAL_FATAL(status, 200);
    real ref[16];
    int cls;
    reference_logits(g_img, ref, &cls);
    double got[16], c;
    int n = 0;
    CU_ASSERT(json_get_number(body, "class", &c));
    CU_ASSERT_EQUAL((int)c, cls);
    CU_ASSERT(json_get_numbers(body, "logits", got, 16, &n));
    CU_ASSERT_EQUAL_FATAL(n, trev_cfg(g_model)->classes);
    CU_ASSERT(harness_close_d(what, ref, got, (size_t)n, 1e-6, 1e-6));
    double spikes, acs, energy;
    CU_ASSERT(json_get_number(body, "spikes", &spikes) && spikes > 0);
    CU_ASSERT(json_get_number(body, "accumulates", &acs) && acs > 0);
    CU_ASSERT(json_get_number(body, "energy_uj", &energy) && energy > 0);
    CU_ASSERT(strstr(body, "\"raster\": {") && strstr(body, "\"per_timestep\": ["));
    check_raster(body);
}

static void test_classify_formats(void)
{
    char *body;
    int st = request("POST", "/v1/classify?width=28&height=28", "application/octet-stream", g_img,
                     sizeof g_img, &body);
    check_classify("raw", st, body);
    free(body);
    /* raw with the size in X-Image-Width / X-Image-Height headers */
    static char req[1024 + sizeof g_img], out[65536];
    int hn = snprintf(req, 1024,
                      "POST /v1/classify HTTP/1.1\r\nContent-Type: application/octet-stream\r\n"
                      "X-Image-Width: 28\r\nX-Image-Height: 28\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      sizeof g_img);
    memcpy(req + hn, g_img, sizeof g_img);
    raw_exchange(req, (size_t)hn + sizeof g_img, out, sizeof out, 0);
    const char *b = strstr(out, "\r\n\r\n");
    check_classify("raw, size in headers", status_of(out), b ? b + 4 : "");
    /* a PGM, with its type and sniffed from octet-stream */
    char pgm[64 + sizeof g_img];
    int n = snprintf(pgm, 64, "P5\n# test\n28 28\n255\n");
    memcpy(pgm + n, g_img, sizeof g_img);
    st = request("POST", "/v1/classify", "image/x-portable-graymap", pgm, (size_t)n + sizeof g_img,
                 &body);
    check_classify("pgm", st, body);
    free(body);
    st = request("POST", "/v1/classify", "application/octet-stream", pgm, (size_t)n + sizeof g_img,
                 &body);
    check_classify("pgm sniffed", st, body);
    free(body);
    /* PNG, grey and RGB (equal channels: libpng's grey conversion keeps them) */
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = im.height = 28;
    im.format = PNG_FORMAT_GRAY;
    static unsigned char png[16384];
    png_alloc_size_t plen = sizeof png;
    CU_ASSERT_FATAL(png_image_write_to_memory(&im, png, &plen, 0, g_img, 0, NULL));
    st = request("POST", "/v1/classify", "image/png", png, plen, &body);
    check_classify("png", st, body);
    free(body);
    /* an RGBA PNG 56x56 (resized by area averaging: 2x2 blocks of equal
     * pixels give the same 28x28 image) */
    static unsigned char rgba[56 * 56 * 4];
    for (int y = 0; y < 56; y++)
        for (int x = 0; x < 56; x++)
            for (int k = 0; k < 4; k++)
                rgba[(y * 56 + x) * 4 + k] = k == 3 ? 255 : g_img[(y / 2) * 28 + x / 2];
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = im.height = 56;
    im.format = PNG_FORMAT_RGBA;
    plen = sizeof png;
    CU_ASSERT_FATAL(png_image_write_to_memory(&im, png, &plen, 0, rgba, 0, NULL));
    st = request("POST", "/v1/classify", "image/png", png, plen, &body);
    check_classify("png rgba 56x56", st, body);
    CU_ASSERT(strstr(body, "\"resized\": true") != NULL);
    free(body);
}

static void test_model_and_page(void)
{
    char *body;
    int st = request("GET", "/v1/model", NULL, NULL, 0, &body);
    CU_ASSERT_EQUAL(st, 200);
    double T, thr, params, emac;
    char preset[32];
    CU_ASSERT(json_get_number(body, "T", &T) && (int)T == trev_cfg(g_model)->T);
    CU_ASSERT(json_get_number(body, "threshold", &thr) && thr == 0.5);
    CU_ASSERT(json_get_number(body, "parameters", &params) &&
              (size_t)params == trev_count_learnable(g_model));
    CU_ASSERT(json_get_string(body, "preset", preset, sizeof preset) && !strcmp(preset, "fmnist"));
    char energy[256];
    CU_ASSERT(json_get_object(body, "energy", energy, sizeof energy) &&
              json_get_number(energy, "e_mac_pj", &emac) && emac == 4.6);
    CU_ASSERT(strstr(body, "\"name\": \"L3.turnon\"") != NULL);
    free(body);
    st = request("GET", "/", NULL, NULL, 0, &body);
    CU_ASSERT_EQUAL(st, 200);
    CU_ASSERT(strstr(body, "<canvas") && strstr(body, "/v1/classify") && strstr(body, "selftest"));
    free(body);
    st = request("GET", "/?selftest=1", NULL, NULL, 0, &body);
    CU_ASSERT_EQUAL(st, 200);
    free(body);
}

/* Value of a metric line "name value" (exact name with labels). */
static double metric(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, name, n) && p[n] == ' ')
            return atof(p + n + 1);
    return 0;
}

static void test_metrics(void)
{
    char *m0, *m1, *body;
    CU_ASSERT_EQUAL(request("GET", "/metrics", NULL, NULL, 0, &m0), 200);
    CU_ASSERT(strstr(m0, "# TYPE sim_http_request_duration_seconds histogram") != NULL);
    CU_ASSERT_EQUAL(request("POST", "/v1/classify?width=28&height=28", "application/octet-stream",
                            g_img, sizeof g_img, &body), 200);
    free(body);
    CU_ASSERT_EQUAL(request("GET", "/nope", NULL, NULL, 0, &body), 404);
    free(body);
    CU_ASSERT_EQUAL(request("GET", "/metrics", NULL, NULL, 0, &m1), 200);
    const char *ok = "sim_http_requests_total{endpoint=\"/v1/classify\",code=\"200\"}";
    const char *nf = "sim_http_requests_total{endpoint=\"other\",code=\"404\"}";
    const char *cnt = "sim_http_request_duration_seconds_count{endpoint=\"/v1/classify\"}";
    const char *inf = "sim_http_request_duration_seconds_bucket{endpoint=\"/v1/classify\",le=\"+Inf\"}";
    CU_ASSERT_EQUAL(metric(m1, "sim_images_classified_total"),
                    metric(m0, "sim_images_classified_total") + 1);
    CU_ASSERT_EQUAL(metric(m1, ok), metric(m0, ok) + 1);
    CU_ASSERT_EQUAL(metric(m1, nf), metric(m0, nf) + 1);
    CU_ASSERT(metric(m1, cnt) >= metric(m0, cnt) + 1);
    CU_ASSERT_EQUAL(metric(m1, cnt), metric(m1, inf));
    CU_ASSERT(metric(m1, "sim_spikes_total") > metric(m0, "sim_spikes_total"));
    CU_ASSERT(metric(m1, "sim_energy_microjoules_total") > metric(m0, "sim_energy_microjoules_total"));
    CU_ASSERT(metric(m1, "sim_workers") == 2);
    free(m0);
    free(m1);
}

/* The server still answers after a bad request. */
static void check_alive(const char *after)
{
    char *body;
    int st = request("GET", "/v1/model", NULL, NULL, 0, &body);
    if (st != 200)
        fprintf(stderr, "\n  no answer after %s\n", after);
    CU_ASSERT_EQUAL(st, 200);
    free(body);
}

static void expect_error(const char *what, int want, int st, const char *body)
{
    if (st != want || !is_json_error(body))
        fprintf(stderr, "\n  %s: expected %d with a JSON error, got %d: %.300s\n", what, want, st,
                body);
    CU_ASSERT_EQUAL(st, want);
    CU_ASSERT(is_json_error(body));
    check_alive(what);
}

static void test_bad_requests(void)
{
    char *body;
    const unsigned char badpng[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13,
                                    'I', 'H', 'D', 'R', 1, 2, 3};
    int st = request("POST", "/v1/classify", "image/png", badpng, sizeof badpng, &body);
    expect_error("bad PNG", 400, st, body);
    free(body);
    char pgm[64 + sizeof g_img];
    int n = snprintf(pgm, 64, "P5 28 28 255\n");
    memcpy(pgm + n, g_img, sizeof g_img);
    st = request("POST", "/v1/classify", "image/x-portable-graymap", pgm, (size_t)n + 500, &body);
    expect_error("truncated PGM", 400, st, body);
    free(body);
    st = request("POST", "/v1/classify", "image/x-portable-graymap", "P5 99999 99999 255\n", 19,
                 &body);
    expect_error("absurd PGM", 413, st, body);
    free(body);
    st = request("POST", "/v1/classify?width=28&height=27", "application/octet-stream", g_img,
                 sizeof g_img, &body);
    expect_error("wrong raw size", 400, st, body);
    free(body);
    st = request("POST", "/v1/classify", "application/octet-stream", g_img, sizeof g_img, &body);
    expect_error("raw without size", 400, st, body);
    free(body);
    st = request("POST", "/v1/classify", "text/plain", "hello", 5, &body);
    expect_error("wrong content type", 415, st, body);
    free(body);
    st = request("POST", "/v1/classify", "image/png", NULL, 0, &body);
    expect_error("empty body", 400, st, body);
    free(body);
    st = request("GET", "/v1/nothing", NULL, NULL, 0, &body);
    expect_error("unknown path", 404, st, body);
    free(body);
    st = request("GET", "/v1/classify", NULL, NULL, 0, &body);
    expect_error("GET classify", 405, st, body);
    free(body);
    st = request("POST", "/v1/model", "application/json", "{}", 2, &body);
    expect_error("POST model", 405, st, body);
    free(body);
    st = request("DELETE", "/", NULL, NULL, 0, &body);
    expect_error("DELETE /", 405, st, body);
    free(body);
    const char *trav[] = {"/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/v1/../../etc/passwd",
                          "//etc/passwd", "/index.html", "/sim/assets/index.html"};
    for (size_t i = 0; i < sizeof trav / sizeof *trav; i++) {
        st = request("GET", trav[i], NULL, NULL, 0, &body);
        expect_error(trav[i], 404, st, body);
        CU_ASSERT(strstr(body, "root:") == NULL);
        free(body);
    }
    /* raw protocol errors: the connection is answered and closed */
    static char out[8192];
    const char *huge = "POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                       "Content-Length: 99999999999\r\n\r\n";
    raw_exchange(huge, strlen(huge), out, sizeof out, 0);
    char *b = strstr(out, "\r\n\r\n");
    expect_error("huge Content-Length", 413, status_of(out), b ? b + 4 : "");
    const char *garbage = "GARBAGE\x01\x02 / HTTP/1.1\r\n\r\n";
    raw_exchange(garbage, strlen(garbage), out, sizeof out, 0);
    b = strstr(out, "\r\n\r\n");
    expect_error("garbage request line", 400, status_of(out), b ? b + 4 : "");
    const char *ver = "GET / HTTP/2.0\r\n\r\n";
    raw_exchange(ver, strlen(ver), out, sizeof out, 0);
    b = strstr(out, "\r\n\r\n");
    expect_error("HTTP/2.0", 505, status_of(out), b ? b + 4 : "");
    const char *chunked = "POST /v1/classify HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    raw_exchange(chunked, strlen(chunked), out, sizeof out, 0);
    b = strstr(out, "\r\n\r\n");
    expect_error("chunked", 411, status_of(out), b ? b + 4 : "");
    /* a body that never comes: 408 after the read timeout (0.5 s) */
    const char *slow = "POST /v1/classify HTTP/1.1\r\nContent-Type: image/png\r\nContent-Length: 100\r\n\r\nabc";
    raw_exchange(slow, strlen(slow), out, sizeof out, 0);
    b = strstr(out, "\r\n\r\n");
    expect_error("unfinished body", 408, status_of(out), b ? b + 4 : "");
    /* keep-alive: two requests on one connection */
    const char *two = "GET /v1/model HTTP/1.1\r\n\r\nGET /nothing HTTP/1.1\r\nConnection: close\r\n\r\n";
    raw_exchange(two, strlen(two), out, sizeof out, 0);
    CU_ASSERT(status_of(out) == 200);
    b = strstr(out, "HTTP/1.1 404");
    CU_ASSERT(b != NULL);
}

/* Many concurrent clients on a one-slot queue: every answer is a 200 or a
 * 503 JSON error, nothing hangs. */
typedef struct {
    int ok, busy, other;
} load_result;

static void *load_client(void *arg)
{
    load_result *r = arg;
    for (int i = 0; i < 8; i++) {
        char *body;
        int st = request("POST", "/v1/classify?width=28&height=28", "application/octet-stream",
                         g_img, sizeof g_img, &body);
        if (st == 200)
            r->ok++;
        else if (st == 503 && is_json_error(body))
            r->busy++;
        else
            r->other++;
        free(body);
    }
    return NULL;
}

static void test_concurrent(void)
{
    enum { N = 6 };
    pthread_t th[N];
    load_result r[N];
    memset(r, 0, sizeof r);
    for (int i = 0; i < N; i++)
        pthread_create(&th[i], NULL, load_client, &r[i]);
    int ok = 0, busy = 0, other = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ok += r[i].ok, busy += r[i].busy, other += r[i].other;
    }
    CU_ASSERT_EQUAL(other, 0);
    CU_ASSERT(ok > 0);
    CU_ASSERT_EQUAL(ok + busy, N * 8);
    check_alive("concurrent load");
}

static int setup(void)
{
    harness_mkdtemp(dir, sizeof dir, "test_server");
    harness_ctx(&g_ctx, 7);
    trev_config cfg;
    trev_preset(&g_ctx, &cfg, "fmnist");
    int ch[4] = {4, 8, 8, 12};
    memcpy(cfg.channels, ch, sizeof ch);
    cfg.T = 3;
    trev_model *m;
    if (trev_create(&g_ctx, &m, &cfg, 0) != SIM_OK)
        return 1;
    harness_random_trev(&g_ctx, m);
    const char *path = harness_join(dir, "random.h5");
    if (ckpt_save(&g_ctx, path, m, NULL, NULL) != SIM_OK) {
        fprintf(stderr, "%s\n", ctx_errmsg(&g_ctx));
        return 1;
    }
    trev_destroy(&g_ctx, m);
    if (ckpt_open_model(&g_ctx, path, &g_model, 0) != SIM_OK) {
        fprintf(stderr, "%s\n", ctx_errmsg(&g_ctx));
        return 1;
    }
    for (int i = 0; i < 28 * 28; i++) { /* a blob with texture */
        int y = i / 28, x = i % 28;
        double r = ((y - 14) * (y - 14) + (x - 12) * (x - 12)) / 100.0;
        g_img[i] = r < 1 ? (unsigned char)(255 * (1 - r) * (0.6 + 0.4 * ((x * 7 + y * 3) % 5) / 4.0)) : 0;
    }
    server_config sc;
    server_defaults(&sc);
    sc.port = 0;
    sc.threads = 2;
    sc.queue = 1;
    sc.max_body = 1 << 16;
    sc.timeout_s = 0.5;
    sc.model_name = path;
    if (server_create(&g_ctx, &g_srv, g_model, &sc) != SIM_OK) {
        fprintf(stderr, "%s\n", ctx_errmsg(&g_ctx));
        return 1;
    }
    g_port = server_port(g_srv);
    if (g_port <= 0)
        return 1;
    pthread_create(&g_loop, NULL, loop_main, g_srv);
    return 0;
}

static void teardown(void)
{
    server_stop(g_srv);
    pthread_join(g_loop, NULL);
    server_destroy(g_srv);
    trev_destroy(&g_ctx, g_model);
    ctx_free(&g_ctx);
    harness_rmtree(dir);
}

/* The pure parser the connections use (sim/http.h http_parse_request):
 * need-more, the head length, and the body rules (411, 413) decided before
 * any body byte is read. */
static void test_parse_request(void)
{
    static http_head h;
    http_request r;
    const char *get = "GET /v1/model?x=1 HTTP/1.1\r\nHost: a\r\n\r\n";
    CU_ASSERT_EQUAL(http_parse_request(get, strlen(get) - 1, 100, &h, &r), 0);
    CU_ASSERT_EQUAL(http_parse_request(get, strlen(get), 100, &h, &r), 1);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_EQUAL(r.have_head, 1);
    CU_ASSERT_EQUAL(r.head_len, (long)strlen(get));
    CU_ASSERT_EQUAL(r.body_len, 0);
    CU_ASSERT_STRING_EQUAL(h.path, "/v1/model");
    CU_ASSERT_STRING_EQUAL(h.query, "x=1");
    /* the body that follows does not change the decision */
    const char *post = "POST /v1/classify HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcdGET";
    CU_ASSERT_EQUAL(http_parse_request(post, strlen(post), 4, &h, &r), 1);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_EQUAL(r.body_len, 4);
    CU_ASSERT_EQUAL(r.head_len, (long)strlen(post) - 7);
    CU_ASSERT_EQUAL(http_parse_request(post, strlen(post), 3, &h, &r), 1);
    CU_ASSERT_EQUAL(r.status, 413);
    CU_ASSERT_EQUAL(r.have_head, 1);
    CU_ASSERT(strstr(r.err, "4 bytes, the limit is 3") != NULL);
    const char *huge = "POST / HTTP/1.1\r\nContent-Length: 999999999999999999\r\n\r\n";
    CU_ASSERT_EQUAL(http_parse_request(huge, strlen(huge), (size_t)1 << 30, &h, &r), 1);
    CU_ASSERT_EQUAL(r.status, 413);
    const char *chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    CU_ASSERT_EQUAL(http_parse_request(chunked, strlen(chunked), 100, &h, &r), 1);
    CU_ASSERT_EQUAL(r.status, 411);
    CU_ASSERT_EQUAL(r.have_head, 1);
    const char *h2 = "GET / HTTP/2.0\r\n\r\n";
    CU_ASSERT_EQUAL(http_parse_request(h2, strlen(h2), 100, &h, &r), 1);
    CU_ASSERT_EQUAL(r.status, 505);
    CU_ASSERT_EQUAL(r.have_head, 0);
    CU_ASSERT(r.err[0] != '\0');
    const char *junk = "\x16\x03\x01 hello, a TLS client";
    CU_ASSERT_EQUAL(http_parse_request(junk, strlen(junk), 100, &h, &r), 1);
    CU_ASSERT_EQUAL(r.status, 400);
}

int main(void)
{
    static const harness_test tests[] = {
        {"http_parse_request: head length, 411, 413, 505, 400", test_parse_request},
        {"classify raw, PGM, PNG = trevnet_run_image", test_classify_formats},
        {"GET /v1/model and GET /", test_model_and_page},
        {"GET /metrics counters increase", test_metrics},
        {"malformed requests: 4xx JSON, server survives", test_bad_requests},
        {"concurrent clients, one-slot queue: 200 or 503", test_concurrent},
        {NULL, NULL},
    };
    if (setup()) {
        fprintf(stderr, "test_server: setup failed\n");
        return 1;
    }
    int rc = harness_run("server", tests);
    teardown();
    return rc;
}
