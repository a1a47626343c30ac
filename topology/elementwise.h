/* elementwise.h - the small layers: nearest x2 upsampling, global average
 * pooling, leaky ReLU, and the per-channel scale-and-add used for the gamma
 * (block) and alpha (turn-on leak) terms. Backward functions accumulate (+=)
 * into gradients the caller zeroed. `rows` counts independent planes, e.g.
 * C*N for a (C, N, H, W) tensor. */
#ifndef TOPOLOGY_ELEMENTWISE_H
#define TOPOLOGY_ELEMENTWISE_H

#include <stddef.h>

#include "sim/real.h"

/* Arrays at least this long are processed by the OpenMP team (the thread
 * count set by ctx_set_threads); shorter ones are not worth the fork. */
#define ELEMENTWISE_PAR_MIN ((size_t)1 << 16)

/* out[r, 2y+i, 2x+j] = in[r, y, x]. */
void upsample2x_forward(real *out /* (rows, 2H, 2W) */, const real *in /* (rows, H, W) */,
                        int rows, int H, int W);
void upsample2x_backward(real *din /* (rows, H, W) */, const real *dout /* (rows, 2H, 2W) */,
                         int rows, int H, int W);
/* The same, overwriting din instead of accumulating into it. */
void upsample2x_backward_set(real *din /* (rows, H, W) */, const real *dout /* (rows, 2H, 2W) */,
                             int rows, int H, int W);

/* out[r] = mean over the HW plane of in[r]. */
void gap_forward(real *out /* (rows) */, const real *in /* (rows, HW) */, int rows, int HW);
void gap_backward(real *din /* (rows, HW) */, const real *dout /* (rows) */, int rows, int HW);

/* out = x >= 0 ? x : slope * x; out may equal in. */
void leaky_relu_forward(real *out, const real *in, size_t n, real slope);
void leaky_relu_backward(real *din, const real *dout, const real *in, size_t n, real slope);

/* out = a + b elementwise; out may equal a or b. */
void add_forward(real *out, const real *a, const real *b, size_t n);

/* out[c, m] = a[c, m] + s[c] * b[c, m]; out may equal a or b. */
void scale_add_forward(real *out /* (C, M) */, const real *a /* (C, M) */, const real *s /* (C) */,
                       const real *b /* (C, M) */, int C, size_t M);
/* da += dout; ds[c] += sum_m dout*b; db += s*dout. Any of da, ds, db may be NULL. */
void scale_add_backward(real *da, real *ds, real *db, const real *dout, const real *s,
                        const real *b, int C, size_t M);
/* ds[c] += sum_m dout*b (ds may be NULL); db = s*dout, overwritten. */
void scale_add_backward_set(real *ds, real *db, const real *dout, const real *s, const real *b,
                            int C, size_t M);

#endif
