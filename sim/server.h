/* server.h - the live classification service behind `sim serve`: an HTTP
 * server (sim/http.h) on one event loop, and a fixed pool of worker threads,
 * each with its own sim_ctx and its own event-driven network
 * (topology/trevnet.h) built from one loaded model, fed through a bounded
 * job queue. Simulation never runs on the event loop; a full queue is
 * answered 503 at once.
 *
 *   POST /v1/classify   one image (PNG, binary PGM, or raw bytes with
 *                       ?width=W&height=H): class, logits, spikes per
 *                       population, ACs, MACs, energy, latency, raster
 *   GET  /v1/model      preset, parameters, T, threshold, energy constants,
 *                       populations
 *   GET  /metrics       Prometheus text format
 *   GET  /              the demo page (embedded, sim/assets/index.html)
 *
 * Every error is JSON {"error": "..."} with a 4xx/5xx status; no file is
 * ever served from disk. Images are preprocessed as in training: fitted to
 * the model's raw size (Fashion-MNIST 28x28; other sizes are resized, see
 * io/image.h), converted to its channels, normalized with the checkpoint's
 * mean/std and zero-padded to the input size. */
#ifndef SIM_SERVER_H
#define SIM_SERVER_H

#include <stddef.h>

#include "sim/ctx.h"
#include "sim/engine.h"
#include "topology/trevsnn.h"

#define SERVER_RASTER_MAX 4096 /* (t, population, id) triples per response */

typedef struct {
    const char *host;  /* default "127.0.0.1" */
    int port;          /* 0: ephemeral */
    int threads;       /* worker threads (>= 1) */
    int queue;         /* jobs waiting beyond the running ones */
    size_t max_body;   /* bytes */
    double timeout_s;  /* request read timeout, and the longest a job may wait queued */
    double e_mac_pj, e_ac_pj;
    int handle_signals; /* SIGINT / SIGTERM end server_run */
    const char *model_name; /* shown by /v1/model (e.g. the checkpoint path) */
} server_config;

void server_defaults(server_config *c);

typedef struct server server;

/* Build every worker's network from m (m is only read, and may be destroyed
 * once this returns), bind the socket and start the workers. */
sim_status server_create(sim_ctx *ctx, server **out, trev_model *m, const server_config *cfg);
int server_port(const server *s);
/* Serve until server_stop (any thread) or a signal. */
sim_status server_run(server *s);
void server_stop(server *s);
/* Stop the workers, close every connection, free everything. */
void server_destroy(server *s);

#endif
