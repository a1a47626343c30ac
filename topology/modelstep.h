/* modelstep.h - checks and bookkeeping that every model behind the trev_*
 * API (trevsnn.c, lifsnn.c) does per call: the batch against the prepared
 * plan, the labels against the classes, and one spike site's counts in a
 * trev_step record. */
#ifndef TOPOLOGY_MODELSTEP_H
#define TOPOLOGY_MODELSTEP_H

#include "topology/trevsnn.h"

/* SIM_EINVAL when nothing is prepared (prepared = 0), SIM_ERANGE when n is
 * outside 1..prepared. */
sim_status modelstep_check_batch(sim_ctx *ctx, int prepared, int n);

/* SIM_ERANGE naming the first label outside 0..classes-1. */
sim_status modelstep_check_labels(sim_ctx *ctx, const int *labels /* (n) */, int n, int classes);

/* A training step: the model has gradients (g not NULL), then the labels
 * as modelstep_check_labels. */
sim_status modelstep_check_train(sim_ctx *ctx, const real *g, const int *labels /* (n) */, int n,
                                 int classes);

/* Append a site's spike count and size to rec (NULL, or full: ignored). */
void modelstep_record(trev_step *rec, size_t spikes, size_t total);

/* Positions of one timestep at resolution R for a batch of n: n R R. */
size_t modelstep_positions(int n, int R);

#endif
