/* trevnet.h - a trained T-RevSNN as an event-driven network (engine.md §2).
 *
 * Every spike site of the dense model becomes a turn-off population, every
 * real-valued middle of a composite map a relay population, and every
 * turn-on state a turn-on population; column t runs at timestep t. Per
 * level l (ranks 10 l + 0..9 within a timestep):
 *
 *   L{l}.u0          turn-off (C)   u0 = Down(L{l-1}.turnon, delay 0) + Up(L{l+1}.turnon, delay 1)
 *                                   (level 0: the stem output x, injected every timestep)
 *   L{l}.b1.d1       relay (C)      DW1 of u0's spikes
 *   L{l}.b1.hidden   turn-off (4C)  PW1 of d1 (graded, a dense second stage)
 *   L{l}.b1.p2       relay (C)      PW2 of hidden's spikes
 *   L{l}.u1          turn-off (C)   u0 (graded identity) + gamma * DW2 of p2 (graded)
 *   L{l}.b2.d1, L{l}.b2.hidden, L{l}.b2.p2   the same for block 2 (shared PW2s/DW2s)
 *   L{l}.u2          relay (C)      u1 + DW2s of p2 = F
 *   L{l}.turnon      turn-on (C)    c = F + alpha_t * c_prev
 *
 * BatchNorm (running statistics) is folded into the Down/Up weights and a
 * constant input current at load time, WSConv weights are standardized once,
 * gamma is folded into block 1's DW2; per-column weights, biases and alphas
 * become parameter sets selected by the timestep. The stem runs densely once
 * per image (its MACs are counted once, whatever T); the heads read the
 * level-3 turn-on population (real state for intermediate heads, spikes for
 * the final head) and their operations are counted too. */
#ifndef TOPOLOGY_TREVNET_H
#define TOPOLOGY_TREVNET_H

#include "sim/engine.h"
#include "topology/conv2d.h"
#include "topology/fold.h"
#include "topology/trevsnn.h"

#define TREVNET_POPS_PER_LEVEL 10

typedef struct {
    engine e;
    trev_config cfg;
    int pop_u0[TREV_LEVELS], pop_turnon[TREV_LEVELS];
    /* dense stem and heads, prepared at build time */
    conv2d_shape stem1, stem2;
    real *stem_w1, *stem_b1, *stem_w2, *stem_b2; /* standardized */
    real *head_w, *head_b;   /* (T-1, K, C3), (T-1, K) intermediate heads */
    real *fh1_w, *fh1_b, *fh2_w, *fh2_b; /* final head */
    real *scratch, *a1, *x;  /* stem scratch and activations (batch 1) */
    double stem_macs;
} trevnet;

/* Per image: operations and spikes, split so the O(1)-in-T claim shows. */
typedef struct {
    double stem_macs;           /* dense stem, once per image */
    double head_macs, head_acs; /* heads */
    double x_acs;               /* the stem output added into level 0 each timestep */
    double column_acs[TREV_MAXT], column_macs[TREV_MAXT]; /* engine work per timestep */
    uint64_t spikes;
} trevnet_stats;

/* Build the event-driven network of a model (parameters as loaded). */
sim_status trevnet_build(sim_ctx *ctx, trevnet *net, const trev_model *m,
                         const engine_opts *opts);
void trevnet_free(sim_ctx *ctx, trevnet *net);

/* Run one image (C_in, S, S) (normalized, padded) through T timesteps from
 * a reset state: logits of every head into logits (nheads, K) (only the
 * final head when !inter_supv), the operation split into st (may be NULL).
 * Counters accumulate in the engine across images until reset. */
sim_status trevnet_run_image(sim_ctx *ctx, trevnet *net, const real *image, real *logits,
                             trevnet_stats *st);

/* The end of building, shared with lifnet_build: when b has no error, the
 * stem's MACs and the engine of pops and projs; then b's temporaries are
 * freed and, on error, the dense block (from stem_w1). Returns b's status. */
sim_status trevnet_finish_build(sim_ctx *ctx, trevnet *net, fold_builder *b, const pop_spec *pops,
                                int npop, const proj_spec *projs, int nproj,
                                const engine_opts *opts);

/* The steps of running one image, shared with lifnet_run_image (lifnet.h):
 * begin resets the engine and st, runs the dense stem into net->x and
 * returns the engine's spike count so far (for end); step_column injects x
 * into L0.u0, runs timestep t and counts its work; spike_head is the final
 * head on the spikes of pop_turnon[3] (GAP -> conv1 -> LeakyReLU -> conv2)
 * into logits (K); end counts the heads' operations into the engine and
 * the image's spikes into st. */
uint64_t trevnet_begin_image(sim_ctx *ctx, trevnet *net, const real *image, trevnet_stats *st);
sim_status trevnet_step_column(sim_ctx *ctx, trevnet *net, int t, trevnet_stats *st);
void trevnet_spike_head(trevnet *net, real *logits /* (K) */, trevnet_stats *st);
void trevnet_end_image(trevnet *net, trevnet_stats *st, uint64_t spikes0);

#endif
