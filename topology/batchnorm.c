/* batchnorm.c - BatchNorm2d on channel-major activations viewed as (C, M),
 * M = N*H*W contiguous per channel.
 *
 * Every channel is independent, so the loops run in parallel over channels
 * with a static schedule and no reduction crosses a thread: the results are
 * bit-identical for any thread count. Per-channel sums are accumulated in
 * double so that the float build keeps accurate statistics for large M. */
#include "batchnorm.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>

/* Below this many elements the parallel region costs more than it saves. */
#define BN_PAR_MIN 16384

/* Batch mean and biased variance of one channel, two-pass in double. */
static void channel_stats(const real *x /* (M) */, int M, double *mean, double *var)
{
    double s = 0;
    for (int m = 0; m < M; m++)
        s += (double)x[m];
    double mu = s / M;
    double ss = 0;
    for (int m = 0; m < M; m++) {
        double d = (double)x[m] - mu;
        ss += d * d;
    }
    *mean = mu;
    *var = ss / M;
}

void bn_forward_train(sim_ctx *ctx, real *out /* (C, M) */, real *mean /* (C) saved */,
                      real *rstd /* (C) saved, 1/sqrt(var+eps) */, const real *in /* (C, M) */,
                      const real *weight /* (C) */, const real *bias /* (C) */,
                      real *running_mean /* (C) or NULL */, real *running_var /* (C) or NULL */,
                      int C, int M, real momentum, real eps)
{
    assert(C >= 1 && M >= 2); /* the unbiased variance needs two values per channel */
    const double keep = 1.0 - (double)momentum, unbias = (double)M / (M - 1);
    const int par = (size_t)C * (size_t)M >= BN_PAR_MIN && C > 1;
#pragma omp parallel for num_threads(ctx->threads) schedule(static) if (par)
    for (int c = 0; c < C; c++) {
        const real *x = in + (size_t)c * M;
        real *y = out + (size_t)c * M;
        double mu, var;
        channel_stats(x, M, &mu, &var);
        double rs = 1.0 / sqrt(var + (double)eps);
        double sc = (double)weight[c] * rs, b = (double)bias[c];
        for (int m = 0; m < M; m++)
            y[m] = (real)(((double)x[m] - mu) * sc + b);
        mean[c] = (real)mu;
        rstd[c] = (real)rs;
        if (running_mean)
            running_mean[c] = (real)(keep * running_mean[c] + (double)momentum * mu);
        if (running_var)
            running_var[c] = (real)(keep * running_var[c] + (double)momentum * var * unbias);
    }
}

void bn_forward_eval(sim_ctx *ctx, real *out /* (C, M) */, const real *in /* (C, M) */,
                     const real *weight /* (C) */, const real *bias /* (C) */,
                     const real *running_mean /* (C) */, const real *running_var /* (C) */,
                     int C, int M, real eps)
{
    assert(C >= 1 && M >= 1);
    const int par = (size_t)C * (size_t)M >= BN_PAR_MIN && C > 1;
#pragma omp parallel for num_threads(ctx->threads) schedule(static) if (par)
    for (int c = 0; c < C; c++) {
        const real *x = in + (size_t)c * M;
        real *y = out + (size_t)c * M;
        double mu = (double)running_mean[c];
        double sc = (double)weight[c] / sqrt((double)running_var[c] + (double)eps);
        double b = (double)bias[c];
        for (int m = 0; m < M; m++)
            y[m] = (real)(((double)x[m] - mu) * sc + b);
    }
}

/* With xhat = (x - mean) * rstd and y = w * xhat + b, the exact gradient
 * through the batch statistics is
 *   dx = w * rstd * (dy - mean(dy) - xhat * mean(dy * xhat)),
 *   dw = sum dy * xhat,  db = sum dy. */
/* bn_backward (add 1) and bn_backward_set (add 0). */
static void backward(sim_ctx *ctx, real *din, real *dweight, real *dbias, const real *dout,
                     const real *in, const real *mean, const real *rstd, const real *weight, int C,
                     int M, int add)
{
    assert(C >= 1 && M >= 1);
    const int par = (size_t)C * (size_t)M >= BN_PAR_MIN && C > 1;
#pragma omp parallel for num_threads(ctx->threads) schedule(static) if (par)
    for (int c = 0; c < C; c++) {
        const real *x = in + (size_t)c * M, *dy = dout + (size_t)c * M;
        real *dx = din + (size_t)c * M;
        const double mu = (double)mean[c], rs = (double)rstd[c];
        double sdy = 0, sdyx = 0;
        for (int m = 0; m < M; m++) {
            double g = (double)dy[m];
            sdy += g;
            sdyx += g * ((double)x[m] - mu) * rs;
        }
        dbias[c] += (real)sdy;
        dweight[c] += (real)sdyx;
        const double k = (double)weight[c] * rs, mdy = sdy / M, mdyx = sdyx / M;
        for (int m = 0; m < M; m++) {
            double xhat = ((double)x[m] - mu) * rs;
            const real g = (real)(k * ((double)dy[m] - mdy - xhat * mdyx));
            dx[m] = add ? dx[m] + g : g;
        }
    }
}

void bn_backward(sim_ctx *ctx, real *din /* (C, M) */, real *dweight /* (C) */,
                 real *dbias /* (C) */, const real *dout /* (C, M) */, const real *in /* (C, M) */,
                 const real *mean /* (C) */, const real *rstd /* (C) */,
                 const real *weight /* (C) */, int C, int M)
{
    backward(ctx, din, dweight, dbias, dout, in, mean, rstd, weight, C, M, 1);
}

void bn_backward_set(sim_ctx *ctx, real *din /* (C, M) */, real *dweight /* (C) */,
                     real *dbias /* (C) */, const real *dout /* (C, M) */,
                     const real *in /* (C, M) */, const real *mean /* (C) */,
                     const real *rstd /* (C) */, const real *weight /* (C) */, int C, int M)
{
    backward(ctx, din, dweight, dbias, dout, in, mean, rstd, weight, C, M, 0);
}
