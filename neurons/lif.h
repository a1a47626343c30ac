/* lif.h - the leaky integrate-and-fire neuron of the conventional spiking
 * baseline (topology/lifsnn.h), over whole timestep stacks, forward and
 * backward through time (BPTT).
 *
 * SpikingJelly's LIFNode with tau = LIF_TAU, threshold LIF_VTH, hard reset
 * to 0, decay_input = True, V^0 = 0 for every image:
 *
 *   H_t = V_{t-1} + (X_t - V_{t-1}) / tau      (computed as (1-1/tau) V + X/tau)
 *   S_t = Theta(H_t - V_th)                     (fires when H_t >= V_th)
 *   V_t = H_t (1 - S_t)
 *
 * Surrogate gradient: SpikingJelly's default ATan with alpha = LIF_SURR_ALPHA
 * (2), the derivative of S~ = atan(pi/2 alpha (H - V_th)) / pi + 1/2:
 *
 *   dS/dH = (alpha/2) / (1 + (pi/2 alpha (H - V_th))^2)
 *
 * (1 at the threshold, never zero: a rectangular surrogate of width 1 was
 * tried first and left every 4C hidden layer silent and without gradient
 * at the model's init, whose hidden inputs are ~0.1 - far below the window
 * |H - 1| <= 0.5; T-RevSNN's window [0, 1] starts at 0). The reset is
 * DETACHED (as in Spikformer, SEW-ResNet, SpikingJelly's detach_reset=True):
 * dV/dH = 1 - S, no gradient through S along the reset path. So
 *
 *   g(H_t) = g(S_t) * surrogate(H_t) + (1 - 1/tau) g(H_{t+1}) (1 - S_t)
 *   g(X_t) = g(H_t) / tau
 *
 * Layout: (C, T, M) - for a channel, T consecutive slices of M values (M =
 * N*H*W), i.e. the channel-major (C, T*N, H, W) stack with t-major batch
 * that the convolutions of the baseline run on.
 *
 * Relaxed test mode (finite-difference checks only): the emitted spike is
 * S~ = atan(pi/2 alpha (H - V_th)) / pi + 1/2, whose exact derivative is the
 * surrogate, while the reset still uses the binary S_t - a piecewise-constant
 * function of H, so the detached reset IS the exact derivative away from
 * H = V_th. The whole network is then smooth except where some membrane
 * crosses V_th, and its true gradient equals the surrogate gradient. */
#ifndef NEURONS_LIF_H
#define NEURONS_LIF_H

#include <stddef.h>

#include "sim/real.h"

#define LIF_TAU 2.0
#define LIF_VTH 1.0
#define LIF_SURR_ALPHA 2.0

/* H receives the membrane before reset (the surrogate's argument), S the
 * spikes (binary, or the relaxation when relaxed). X may equal H (in place).
 * Returns the number of binary spikes (H >= V_th). */
size_t lif_forward(real *S /* (C, T, M) */, real *H /* (C, T, M) */, const real *X /* (C, T, M) */,
                   int C, int T, size_t M, int relaxed);

/* Accumulates (+=) d(loss)/dX into gX from gS = d(loss)/dS, given the H of
 * the forward. gX must not alias gS or H. */
void lif_backward(real *gX /* (C, T, M) */, const real *gS /* (C, T, M) */,
                  const real *H /* (C, T, M) */, int C, int T, size_t M);

#endif
