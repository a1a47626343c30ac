/* lif.c - LIF neurons over (C, T, M) timestep stacks: forward and BPTT
 * backward (see lif.h for the equations, surrogate and reset choice).
 *
 * Work is split into (channel, block of LIF_BLOCK positions) tiles; a tile
 * walks its timesteps in order carrying the membrane (forward) or g(H)
 * (backward) in a small local array, so every access is contiguous and
 * tiles are independent (results do not depend on the thread count). */
#include "lif.h"

#include <math.h>

#define LIF_BLOCK 256
#define LIF_PAR_MIN ((size_t)1 << 16) /* smaller stacks are not worth the fork */

size_t lif_forward(real *S, real *H, const real *X, int C, int T, size_t M, int relaxed)
{
    const real decay = (real)(1.0 - 1.0 / LIF_TAU), inv_tau = (real)(1.0 / LIF_TAU);
    const real vth = (real)LIF_VTH, k = (real)(M_PI / 2 * LIF_SURR_ALPHA);
    const size_t nb = (M + LIF_BLOCK - 1) / LIF_BLOCK, ntile = (size_t)C * nb;
    size_t spikes = 0;
#pragma omp parallel for schedule(static) reduction(+ : spikes) \
    if ((size_t)C * T * M >= LIF_PAR_MIN)
    for (size_t tile = 0; tile < ntile; tile++) {
        const size_t c = tile / nb, m0 = (tile % nb) * LIF_BLOCK;
        const size_t len = M - m0 < LIF_BLOCK ? M - m0 : LIF_BLOCK;
        real v[LIF_BLOCK] = {0};
        for (int t = 0; t < T; t++) {
            const size_t o = ((size_t)c * T + (size_t)t) * M + m0;
            for (size_t j = 0; j < len; j++) {
                real h = decay * v[j] + X[o + j] * inv_tau;
                int f = h >= vth;
                H[o + j] = h;
                if (relaxed)
                    S[o + j] = (real)(atan((double)(k * (h - vth))) / M_PI + 0.5);
                else
                    S[o + j] = (real)f;
                v[j] = f ? 0 : h;
                spikes += (size_t)f;
            }
        }
    }
    return spikes;
}

void lif_backward(real *gX, const real *gS, const real *H, int C, int T, size_t M)
{
    const real decay = (real)(1.0 - 1.0 / LIF_TAU), inv_tau = (real)(1.0 / LIF_TAU);
    const real vth = (real)LIF_VTH, k = (real)(M_PI / 2 * LIF_SURR_ALPHA),
               amp = (real)(LIF_SURR_ALPHA / 2);
    const size_t nb = (M + LIF_BLOCK - 1) / LIF_BLOCK, ntile = (size_t)C * nb;
#pragma omp parallel for schedule(static) if ((size_t)C * T * M >= LIF_PAR_MIN)
    for (size_t tile = 0; tile < ntile; tile++) {
        const size_t c = tile / nb, m0 = (tile % nb) * LIF_BLOCK;
        const size_t len = M - m0 < LIF_BLOCK ? M - m0 : LIF_BLOCK;
        real gh_next[LIF_BLOCK] = {0}; /* g(H_{t+1}) */
        for (int t = T - 1; t >= 0; t--) {
            const size_t o = ((size_t)c * T + (size_t)t) * M + m0;
            for (size_t j = 0; j < len; j++) {
                const real h = H[o + j];
                const real x = k * (h - vth);
                const real surr = amp / (1 + x * x);
                const real keep = h >= vth ? 0 : 1; /* dV/dH with the reset detached */
                real gh = gS[o + j] * surr + decay * gh_next[j] * keep;
                gX[o + j] += gh * inv_tau;
                gh_next[j] = gh;
            }
        }
    }
}
