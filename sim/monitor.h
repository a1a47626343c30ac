/* monitor.h - the live training monitor behind `sim --train --monitor
 * HOST:PORT`: an HTTP server (sim/http.h) on its own event-loop thread
 * that shows what train_run publishes through train_opts.on_progress.
 *
 *   GET /             a page with loss and accuracy curves, images/s and
 *                     memory per role, polling /v1/progress every second
 *   GET /v1/progress  JSON: epoch, step, steps total, loss, lr, images/s,
 *                     test accuracy per epoch so far, memory per role, and
 *                     the loss curve (at most MONITOR_CURVE points, thinned
 *                     evenly as training goes on)
 *   GET /metrics      Prometheus text format
 *
 * The trainer's side, monitor_progress, only takes a mutex and copies a
 * snapshot (a few hundred bytes): training is never slowed noticeably. */
#ifndef SIM_MONITOR_H
#define SIM_MONITOR_H

#include "sim/ctx.h"
#include "sim/train.h"

#define MONITOR_CURVE 2048 /* loss-curve points kept */
#define MONITOR_EPOCHS 4096 /* epochs whose accuracy is kept */

typedef struct monitor monitor;

/* Bind host:port (port 0: ephemeral) and start the server thread. */
sim_status monitor_start(sim_ctx *ctx, monitor **out, const char *host, int port,
                         const char *title);
int monitor_port(const monitor *m);
/* train_opts.on_progress: ud is the monitor. */
void monitor_progress(void *ud, const train_progress *p);
/* Mark the run finished ("done", or an error message) for the page. */
void monitor_finish(monitor *m, const char *status);
/* Stop the server thread and free everything. */
void monitor_stop(monitor *m);

#endif
