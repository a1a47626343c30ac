/* tensor.h - a small tensor: shape plus a contiguous buffer of `real`.
 *
 * Layout convention of the whole simulator: activations are stored
 * channel-major, (C, N, H, W), so that a 1x1 convolution over a whole batch
 * is a single GEMM  W (Co x Ci) * X (Ci x N*H*W)  and per-channel work
 * (BatchNorm, depthwise convolution, alpha/gamma scaling) reads contiguous
 * memory and parallelizes over channels without reductions across threads.
 * Images enter and logits leave in the usual (N, C, H, W) / (N, K) order;
 * tensor_nchw_to_cnhw and tensor_cnhw_to_nchw convert at that boundary.
 * Weights are in PyTorch's OIHW layout everywhere. */
#ifndef SIM_TENSOR_H
#define SIM_TENSOR_H

#include <stddef.h>

#include "ctx.h"
#include "real.h"

#define TENSOR_MAXDIM 4

typedef struct {
    int ndim;
    int shape[TENSOR_MAXDIM];
    size_t n; /* number of elements */
    real *data;
} tensor;

/* Allocate (zeroed) a tensor of the given shape under `role`. Rejects
 * ndim outside 1..4, non-positive extents and overflowing sizes. */
sim_status tensor_alloc(sim_ctx *ctx, tensor *t, mem_role role, int ndim, const int *shape);
void tensor_free(sim_ctx *ctx, tensor *t);
/* Product of the extents (0 for an invalid shape); *ok cleared on overflow. */
size_t shape_numel(int ndim, const int *shape);
/* "(2, 3, 4)" into buf; returns buf. */
char *shape_str(char *buf, size_t len, int ndim, const int *shape);
/* 1 if t has exactly this shape. */
int tensor_has_shape(const tensor *t, int ndim, const int *shape);

/* (N, C, HW) <-> (C, N, HW) for a contiguous buffer; out and in must not
 * overlap. */
void tensor_nchw_to_cnhw(real *out, const real *in, int N, int C, int HW);
void tensor_cnhw_to_nchw(real *out, const real *in, int N, int C, int HW);

#endif
