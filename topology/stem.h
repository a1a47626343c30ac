/* stem.h - the dense stem shared by T-RevSNN (trevsnn.c), the LIF baseline
 * (lifsnn.c) and their event-driven forms (trevnet.c, lifnet.c):
 *
 *   images (Cin, n, S, S) -> WSConv k x k, stride s -> a1 (C0, n, S1, S1)
 *   -> LeakyReLU -> a2 -> WSConv 3 x 3, stride 2 -> x (C0, n, R0, R0)
 *
 * with k, s = cfg stem_kernel, stem_stride and S1 = S / s. It runs once per
 * image whatever T; x then enters level 0 at every timestep. */
#ifndef TOPOLOGY_STEM_H
#define TOPOLOGY_STEM_H

#include "topology/conv2d.h"
#include "topology/fold.h"
#include "topology/paramtab.h"

/* "stem/conv1" and "stem/conv2" into the table; their WSConv indices into *w1, *w2. */
void stem_add(paramtab_builder *b, int *w1, int *w2, const trev_config *c);

/* Sizes: S1 = S / s after conv1, R[0] = S1 / 2 the stem's output, and the
 * levels above it R[1] = R[0] / 2, R[2] = R[1] / 2, R[3] = R[2]. */
void stem_resolutions(const trev_config *c, int *S1, int R[TREV_LEVELS]);

/* Multiply-accumulates of the stem per image. */
double stem_macs_per_image(const trev_config *c);

/* Shapes of conv1 and conv2 at batch n. */
sim_status stem_shapes(sim_ctx *ctx, conv2d_shape *s1, conv2d_shape *s2, int n,
                       const trev_config *c);

/* Scratch elements either conv needs. */
size_t stem_scratch_elems(const conv2d_shape *s1, const conv2d_shape *s2);

/* Forward with explicit weights; a2 may be a1 (LeakyReLU in place) when
 * nothing is kept for backward. */
void stem_apply(sim_ctx *ctx, real *x /* (C0, n, R0, R0) */, real *a1 /* (C0, n, S1, S1) */,
                real *a2 /* (C0, n, S1, S1) */, const real *images /* (Cin, n, S, S) */,
                const real *w1 /* (C0, Cin k k) */, const real *b1 /* (C0) */,
                const real *w2 /* (C0, C0 9) */, const real *b2 /* (C0) */, real slope,
                real *scr, const conv2d_shape *s1, const conv2d_shape *s2);

/* Forward with the standardized weights and biases of WSConv layers w1, w2
 * of t (paramtab_standardize done); keeps a1 and a2 for stem_backward. */
void stem_forward(sim_ctx *ctx, real *x /* (C0, n, R0, R0) */, real *a1 /* (C0, n, S1, S1) */,
                  real *a2 /* (C0, n, S1, S1) */, const real *images /* (Cin, n, S, S) */,
                  const paramtab *t, int w1, int w2, real slope, real *scr,
                  const conv2d_shape *s1, const conv2d_shape *s2);

/* Backward from gx: accumulates (+=) into t->gstd (standardized weights)
 * and t->g (biases); ga1, ga2 are overwritten temporaries. */
void stem_backward(sim_ctx *ctx, paramtab *t, real *ga1 /* (C0, n, S1, S1) */,
                   real *ga2 /* (C0, n, S1, S1) */, const real *gx /* (C0, n, R0, R0) */,
                   const real *images /* (Cin, n, S, S) */, const real *a1, const real *a2,
                   int w1, int w2, real slope, real *scr, const conv2d_shape *s1,
                   const conv2d_shape *s2);

/* Load time: the standardized weights and the biases of a trained model's
 * "stem/conv1", "stem/conv2" into w1, b1, w2, b2. */
void stem_fold(fold_builder *b, real *w1 /* (C0, Cin k k) */, real *b1 /* (C0) */,
               real *w2 /* (C0, C0 9) */, real *b2 /* (C0) */, const trev_config *c);

#endif
