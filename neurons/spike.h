/* spike.h - the spike function Theta of turn-off neurons (model.md §1).
 *
 *   Theta(v) = 1 if v >= 0.5 else 0
 *   dTheta/dv = 1 if 0 <= v <= 1 else 0     (clipped straight-through)
 *
 * The same threshold is used in training and in inference. */
#ifndef NEURONS_SPIKE_H
#define NEURONS_SPIKE_H

#include <stddef.h>
#include <stdint.h>

#include "sim/real.h"

#define SPIKE_THRESHOLD ((real)0.5)
#define SPIKE_CLIP_LO ((real)0.0)
#define SPIKE_CLIP_HI ((real)1.0)

/* out[i] = Theta(v[i]); returns the number of spikes. out may equal v. */
size_t spike_forward(real *out, const real *v, size_t n);
/* A layer's bias and its spikes in one pass: v (C, M) += bias[c] per
 * channel, then out = Theta(v); returns the number of spikes. */
size_t spike_forward_bias(real *out /* (C, M) */, real *v /* (C, M) */, const real *bias /* (C) */,
                          int C, size_t M);
/* ---- spikes and surrogate windows as bits ----
 * A (C, M) map of binary values as C rows of spike_words(M) 64-bit words,
 * value i of row c at bit i % 64 of word c * ld + i / 64; bits past M are 0.
 * A layer whose spikes and surrogate window are all its backward needs keeps
 * these two bitmaps instead of two real maps (1/32 or 1/64 of the bytes). */
static inline size_t spike_words(size_t M) { return (M + 63) / 64; }
/* y = v + bias[c] per channel (v is left alone): s = Theta(y) and the
 * surrogate window w = (0 <= y <= 1) as bitmaps of ld = spike_words(M)
 * words per row; returns the number of spikes. */
size_t spike_bits_bias(uint64_t *s /* (C, ld) */, uint64_t *w /* (C, ld) */,
                       const real *v /* (C, M) */, const real *bias /* (C) */, int C, size_t M);
/* dv = ds where the window bit is set, else 0 (spike_backward_set through
 * a window bitmap). */
void spike_backward_bits_set(real *dv /* (C, M) */, const real *ds /* (C, M) */,
                             const uint64_t *w /* (C, ld) */, int C, size_t M);
/* out = the bitmap as 0/1 reals. */
void spike_bits_expand(real *out /* (C, M) */, const uint64_t *s /* (C, ld) */, int C, size_t M);

/* 1x1 convolutions fused with a spike site: the conv's output never goes to
 * memory (a GEMM writes it, zeroed first, and the spike pass reads it back;
 * measured 5-8 % faster training on the fmnist preset). spike_pw_fused says
 * whether the kernels serve (M, K) on this CPU (AVX-512, M a multiple of the
 * register block, K <= SPIKE_PW_KMAX); else use a GEMM and the functions
 * above. */
#define SPIKE_PW_KMAX 128
int spike_pw_fused(int M, int K);
/* spike_bits_bias of y = W X + bias (W (M, K), X (K, P)) without writing y:
 * each y sums bias and then the K products in order. */
size_t spike_pw_bits(uint64_t *s /* (M, ld) */, uint64_t *w /* (M, ld) */,
                     const real *W /* (M, K) */, const real *X /* (K, P) */,
                     const real *bias /* (M) or NULL */, int M, int K, size_t P);
/* out = W^T X where the window bit is set, else 0 (W (K, M), X (K, P)): the
 * input gradient of a 1x1 conv through the spike site feeding it. */
void spike_pwT_window(real *out /* (M, P) */, const real *W /* (K, M) */,
                      const real *X /* (K, P) */, const uint64_t *win /* (M, ld) */, int M, int K,
                      size_t P);

/* dv[i] += ds[i] if 0 <= v[i] <= 1. */
void spike_backward(real *dv, const real *ds, const real *v, size_t n);
/* dv[i] = ds[i] if 0 <= v[i] <= 1, else 0. */
void spike_backward_set(real *dv, const real *ds, const real *v, size_t n);

/* The relaxed spike clamp(v, 0, 1): spike_backward is its exact derivative.
 * Used only to check whole-network gradients against finite differences
 * (a network of binary spikes has zero derivative almost everywhere, so the
 * surrogate gradient can only be checked exactly for this relaxation).
 * Returns the number of v >= 0.5 like spike_forward. */
size_t spike_forward_relaxed(real *out, const real *v, size_t n);

#endif
