/* batchnorm.h - BatchNorm2d on channel-major activations viewed as (C, M),
 * M = N*H*W. eps 1e-5, momentum 0.1 in the model (passed in here).
 *
 * Training: normalize with the batch mean and biased variance; when
 * running_mean/running_var are not NULL, update them with momentum using the
 * UNBIASED batch variance (PyTorch's rule). Passing NULL skips the update,
 * which the reversible backward uses when it recomputes a column, so running
 * statistics change once per step. Inference: running statistics. */
#ifndef TOPOLOGY_BATCHNORM_H
#define TOPOLOGY_BATCHNORM_H

#include "sim/ctx.h"
#include "sim/real.h"

void bn_forward_train(sim_ctx *ctx, real *out /* (C, M) */, real *mean /* (C) saved */,
                      real *rstd /* (C) saved, 1/sqrt(var+eps) */, const real *in /* (C, M) */,
                      const real *weight /* (C) */, const real *bias /* (C) */,
                      real *running_mean /* (C) or NULL */, real *running_var /* (C) or NULL */,
                      int C, int M, real momentum, real eps);

void bn_forward_eval(sim_ctx *ctx, real *out /* (C, M) */, const real *in /* (C, M) */,
                     const real *weight, const real *bias, const real *running_mean,
                     const real *running_var, int C, int M, real eps);

/* Training-mode backward; accumulates (+=) into din, dweight, dbias. */
void bn_backward(sim_ctx *ctx, real *din /* (C, M) */, real *dweight /* (C) */,
                 real *dbias /* (C) */, const real *dout /* (C, M) */, const real *in /* (C, M) */,
                 const real *mean /* (C) */, const real *rstd /* (C) */,
                 const real *weight /* (C) */, int C, int M);
/* bn_backward, except that din is overwritten instead of accumulated. */
void bn_backward_set(sim_ctx *ctx, real *din /* (C, M) */, real *dweight /* (C) */,
                     real *dbias /* (C) */, const real *dout /* (C, M) */,
                     const real *in /* (C, M) */, const real *mean /* (C) */,
                     const real *rstd /* (C) */, const real *weight /* (C) */, int C, int M);

#endif
