/* lifnet.h - a trained LIF baseline (topology/lifsnn.h) as an event-driven
 * network, the counterpart of trevnet.h, so `sim run` measures spikes,
 * operations and energy of both models the same way.
 *
 * Populations per level l (ranks 12 l + 0..11 within a timestep; every
 * projection has delay 0, a timestep of the dense network is one timestep
 * of the engine):
 *
 *   L{l}.u0          relay (C)     u0 = Down(spikes of L{l-1}.out) (BN folded)
 *                                  (level 0: the stem output x, injected every timestep)
 *   L{l}.b1.in       LIF (C)       graded identity from u0
 *   L{l}.b1.d1       relay (C)     DW1 of b1.in's spikes
 *   L{l}.b1.hidden   LIF (4C)      PW1 of d1 (graded, a dense second stage)
 *   L{l}.b1.p2       relay (C)     PW2 of hidden's spikes
 *   L{l}.u1          relay (C)     u0 (graded identity) + gamma * DW2 of p2 (graded)
 *   L{l}.b2.in, L{l}.b2.d1, L{l}.b2.hidden, L{l}.b2.p2   the same for block 2
 *   L{l}.u2          relay (C)     u1 + DW2 of block 2's p2
 *   L{l}.out         LIF (C)       graded identity from u2: the Down input of
 *                                  level l+1, or (l = 3) the head's input
 *
 * LIF neurons. The engine's LIF is v = decay * v_prev + input + bias, fire
 * v >= threshold, hard reset to 0 (neurons/neuron.h). With decay = 1 - 1/tau
 * and threshold tau * V_th it equals the dense H = V + (X - V)/tau, fire
 * H >= V_th, exactly: the engine's membrane is tau * H (a power of two for
 * tau = 2, so no rounding differs), and inputs need no 1/tau scaling - the
 * graded identities stay plain adds (ACs).
 *
 * BatchNorm (running statistics) is folded into the Down weights and u0's
 * bias, WSConv weights are standardized once, gamma is folded into block 1's
 * DW2. The stem runs densely once per image; the head (GAP -> WSConv ->
 * LeakyReLU -> WSConv) runs after every timestep on L3.out's spikes (each
 * spike adds its channel's column of conv1, ACs), and the logits are
 * averaged over timesteps as in the dense model.
 *
 * The network lives in a trevnet struct (trevnet.h): e, cfg, the stem and
 * final-head arrays (fh1/fh2 hold head/conv1 and conv2) are used as there;
 * pop_u0[l] is L{l}.u0, pop_turnon[l] is L{l}.out. trevnet_free frees it. */
#ifndef TOPOLOGY_LIFNET_H
#define TOPOLOGY_LIFNET_H

#include "topology/trevnet.h"

#define LIFNET_POPS_PER_LEVEL 12

/* Build the event-driven network of a LIF model (cfg.model == TREV_MODEL_LIF). */
sim_status lifnet_build(sim_ctx *ctx, trevnet *net, const trev_model *m,
                        const engine_opts *opts);

/* Run one image (C_in, S, S) (normalized, padded) through T timesteps from
 * a reset state: the mean logits over timesteps into logits (K), the
 * operation split into st (may be NULL). Counters accumulate in the engine
 * across images until reset. */
sim_status lifnet_run_image(sim_ctx *ctx, trevnet *net, const real *image, real *logits,
                            trevnet_stats *st);

#endif
