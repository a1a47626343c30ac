/* conv2d.h - 2-D convolution with square kernel, stride, zero padding,
 * groups (depthwise included) and optional bias, forward and backward.
 *
 * Activations are channel-major (C, N, H, W) (see sim/tensor.h); weights are
 * OIHW (Co, Ci/groups, k, k). Strategy per shape: depthwise (groups == Ci ==
 * Co) runs direct loops; 1x1 stride-1 unpadded is one GEMM over the whole
 * batch; everything else is im2col + GEMM per group.
 *
 * Binary inputs (spike maps: every value 0 or 1) with few ones take a sparse
 * path in the 1x1 and im2col strategies: the forward adds the weight column
 * of each spike instead of multiplying (conv2d_spikes_sparse), and the
 * weight gradient sums the output gradient over each input channel's spike
 * positions. The input gradient stays a GEMM. The sparse sums run in another
 * order than the GEMM's, so results differ from the dense path by rounding;
 * they are still the same for any thread count. */
#ifndef TOPOLOGY_CONV2D_H
#define TOPOLOGY_CONV2D_H

#include <stddef.h>
#include <stdint.h>

#include "sim/ctx.h"
#include "sim/real.h"

typedef struct {
    int N, Ci, H, W;                /* input (Ci, N, H, W) */
    int Co, k, stride, pad, groups; /* weight (Co, Ci/groups, k, k) */
    int Ho, Wo;                     /* output (Co, N, Ho, Wo), derived */
    int sparse; /* 1 (set by conv2d_shape_init): a sparse binary input may take
                 * the spike path; 0: always dense (tests, benchmarks) */
} conv2d_shape;

/* Fraction of ones below which (strictly) a binary input takes the sparse
 * path when Co/groups >= 64; half of it for 32 <= Co/groups < 64 (measured
 * on the fmnist model's layers, see conv2d.c). */
#define CONV2D_SPARSE_DENSITY 0.25

/* Validate and fill a shape. Rejects non-positive sizes, Ci or Co not
 * divisible by groups, and an output smaller than 1x1, with SIM_ESHAPE and a
 * message in ctx naming the sizes. */
sim_status conv2d_shape_init(sim_ctx *ctx, conv2d_shape *s, int N, int Ci, int H, int W, int Co,
                             int k, int stride, int pad, int groups);
/* Elements of scratch (real) that forward and backward need for this shape
 * (im2col columns, then the sparse path's transposed weights or weight-
 * gradient partials when the shape can take it). */
size_t conv2d_scratch_elems(const conv2d_shape *s);

/* out = conv(in, w) + bias. out is overwritten. */
void conv2d_forward(sim_ctx *ctx, real *out /* (Co, N, Ho, Wo) */,
                    const real *in /* (Ci, N, H, W) */, const real *w /* (Co, Ci/g, k, k) */,
                    const real *bias /* (Co) or NULL */, real *scratch,
                    const conv2d_shape *s);

/* Accumulates (+=) into din, dw and dbias; din and dbias may be NULL. */
void conv2d_backward(sim_ctx *ctx, real *din /* (Ci, N, H, W) or NULL */,
                     real *dw /* (Co, Ci/g, k, k) */, real *dbias /* (Co) or NULL */,
                     const real *dout /* (Co, N, Ho, Wo) */, const real *in /* (Ci, N, H, W) */,
                     const real *w /* (Co, Ci/g, k, k) */, real *scratch, const conv2d_shape *s);

/* conv2d_backward, except that din is overwritten instead of accumulated
 * (no zeroing pass ahead of it); dw and dbias still accumulate. */
void conv2d_backward_set(sim_ctx *ctx, real *din /* (Ci, N, H, W) */,
                         real *dw /* (Co, Ci/g, k, k) */, real *dbias /* (Co) or NULL */,
                         const real *dout /* (Co, N, Ho, Wo) */, const real *in /* (Ci, N, H, W) */,
                         const real *w /* (Co, Ci/g, k, k) */, real *scratch,
                         const conv2d_shape *s);

/* The same for a 1x1 conv (one group) whose input is a binary map held as a
 * bitmap with `ones` ones (neurons/spike.h): the sparse path reads the bits
 * (same sums as from the real map); otherwise the bits are expanded into
 * `dense` (Ci, N, H, W) and the real path runs. */
void conv2d_forward_bits(sim_ctx *ctx, real *out /* (Co, N, H, W) */, const uint64_t *in,
                         size_t ones, const real *w /* (Co, Ci) */, const real *bias /* or NULL */,
                         real *scratch, real *dense, const conv2d_shape *s);
void conv2d_backward_bits_set(sim_ctx *ctx, real *din /* (Ci, N, H, W) or NULL */,
                              real *dw /* (Co, Ci) */, real *dbias /* (Co) or NULL */,
                              const real *dout /* (Co, N, H, W) */, const uint64_t *in, size_t ones,
                              const real *w /* (Co, Ci) */, real *scratch, real *dense,
                              const conv2d_shape *s);

/* Multiply-accumulates of one forward pass (for energy accounting). */
double conv2d_macs(const conv2d_shape *s);

/* The strategy forward and backward use for a shape (for tests and benchmarks). */
typedef enum {
    CONV2D_DEPTHWISE = 0, /* groups == Ci == Co: direct loops per channel */
    CONV2D_GEMM_1X1,      /* k 1, stride 1, pad 0: GEMM straight on the activations */
    CONV2D_IM2COL         /* everything else: im2col + GEMM per group */
} conv2d_algo;
conv2d_algo conv2d_algo_of(const conv2d_shape *s);
/* 1 when forward and backward take the sparse spike path for this input:
 * the shape allows it (1x1 or im2col, s->sparse, 32..256 output channels per
 * group) and every value of in is 0 or 1 with a fraction of ones below
 * conv2d_sparse_density(s). */
int conv2d_spikes_sparse(const conv2d_shape *s, const real *in /* (Ci, N, H, W) */);
/* The density threshold of that test for this shape; 0 when the shape never
 * takes the sparse path (depthwise, s->sparse 0, fewer than 32 or more than
 * 256 output channels per group). */
double conv2d_sparse_density(const conv2d_shape *s);

#endif
