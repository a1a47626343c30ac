/* lifsnn.h - the conventional multi-timestep spiking baseline (issue 6):
 * the T-RevSNN widths, levels and blocks as an ordinary feed-forward LIF
 * network with ONE set of weights shared by all timesteps, trained with
 * backpropagation through time that keeps every timestep (O(L*T) memory).
 * It is selected with cfg.model = TREV_MODEL_LIF and runs behind the trev_*
 * API of topology/trevsnn.h (create, plan, prepare, train step, inference),
 * so the trainer, optimizer, checkpoints, `sim info` and `sim bench-train`
 * take it unchanged.
 *
 * Network (model.md §2 pieces, no Up connections, no turn-on neurons, no
 * alpha, no intermediate heads):
 *
 *   x = stem(image)                         once per image, as in T-RevSNN;
 *                                           x is the input of every timestep
 *   level 0:  u = x
 *   level l:  u = BN(Conv_down(LIF(u_{l-1})))  (Down_l of model.md, l = 1..3)
 *             u = u + gamma * DW2(PW2(LIF(PW1(DW1(LIF(u))))))      block 1
 *             u = u +         DW2(PW2(LIF(PW1(DW1(LIF(u))))))      block 2
 *   head:     logits_t = WSConv(K->K)(LeakyReLU(WSConv(C3->K)(GAP(LIF(u_3)))))
 *   output:   mean over t of logits_t; loss CE with label smoothing of it
 *
 * Every spike site Theta of T-RevSNN (block inputs, the 4C hidden layers,
 * the Down inputs, the head input) is a LIF neuron with state across
 * timesteps (neurons/lif.h: tau 2, threshold 1, hard reset to 0, V = 0 at
 * the start of each image; ATan surrogate (alpha 2) as SpikingJelly's
 * default; reset detached). The residual streams u are real-valued. DW/PW/WSConv/gamma as
 * in T-RevSNN (init too).
 *
 * Implementation: layer by layer over all timesteps at once. Activations are
 * (C, T*n, H, W) channel-major with a t-major batch (sample t*n + i), so
 * every convolution is ONE call on the T*n stack, and the LIF recurrence
 * then walks t inside each channel (neurons/lif.c). BatchNorm in the Down
 * layers normalizes over all T*n samples (multi-step BN); running statistics
 * are updated once per training step. Memory is planned first and allocated
 * once per role (params, grads, activations, scratch), exactly like
 * trevsnn.c; activations grow linearly with T.
 *
 * Parameter names (docs/checkpoint.md, "LIF baseline"):
 *   stem/conv{1,2}/{weight,bias,gain}
 *   lif/level{l}/down/conv/weight                                        (l >= 1)
 *   lif/level{l}/down/bn/{weight,bias,running_mean,running_var}          (l >= 1)
 *   lif/level{l}/block{b}/{dw1,dw2}/{weight,bias}
 *   lif/level{l}/block{b}/{pw1,pw2}/{weight,bias,gain}
 *   lif/level{l}/block1/gamma
 *   head/conv1/{weight,bias,gain}, head/conv2/{weight,bias,gain}
 *
 * Spike sites, in forward order (trev_step.site_spikes, summed over t):
 * per level l: [l >= 1: down], block1.in, block1.hidden, block2.in,
 * block2.hidden; then head - LIFSNN_NSITES in all. */
#ifndef TOPOLOGY_LIFSNN_H
#define TOPOLOGY_LIFSNN_H

#include "topology/trevsnn.h"

#define LIFSNN_NSITES 20

/* The variant table trev_create uses for TREV_MODEL_LIF. */
const trev_variant *lifsnn_variant(void);

/* Name of spike site s ("L1.down", "L0.b1.in", "L2.b2.hidden", "head.in").
 * Written into buf; returns buf. */
const char *lifsnn_site_name(int s, char *buf, size_t len);
/* Spikes of site s in the last forward: (C, T, n*H*W) (binary unless the
 * relaxed test hook is on); *C and *HW receive the channels and positions
 * per image. NULL when m is not a prepared LIF model or s is out of range. */
const real *lifsnn_site_spikes(const trev_model *m, int s, int *C, int *HW);
/* Head logits of every timestep of the last forward, (K, T*n). */
const real *lifsnn_step_logits(const trev_model *m);

#endif
