/* batchnorm.c - BatchNorm2d on channel-major activations viewed as (C, M),
 * M = N*H*W contiguous per channel.
 *
 * Every channel is independent, so the loops run in parallel over channels
 * with a static schedule and no reduction crosses a thread: the results are
 * bit-identical for any thread count. Per-channel sums are accumulated in
 * double so that the float build keeps accurate statistics for large M.
 *
 * In a batch-split team (ctx->team, topology/trevsnn.c) every member holds a
 * slice of the batch: the per-channel sums are then the team's (team_sum),
 * so the statistics are those of the whole batch. */
#include "batchnorm.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>

/* Below this many elements the parallel region costs more than it saves. */
#define BN_PAR_MIN 16384

/* Sum of one channel and the sum of its squared deviations from mu, in
 * double. */
static double chan_sum(const real *x /* (M) */, int M)
{
    double s = 0;
    for (int m = 0; m < M; m++)
        s += (double)x[m];
    return s;
}

static double chan_ssd(const real *x /* (M) */, int M, double mu)
{
    double ss = 0;
    for (int m = 0; m < M; m++) {
        double d = (double)x[m] - mu;
        ss += d * d;
    }
    return ss;
}

/* y = (x - mu) * w * rstd + b for one channel; the saved statistics and
 * (when given) the running ones are updated from mean mu and biased
 * variance var over Mt values. */
static void chan_normalize(real *y, const real *x, int M, int c, double mu, double var, int Mt,
                           const real *weight, const real *bias, real *mean, real *rstd,
                           real *running_mean, real *running_var, real momentum, real eps)
{
    const double keep = 1.0 - (double)momentum, unbias = (double)Mt / (Mt - 1);
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

/* Largest C of a batch-split BN (its per-channel sums live on the stack). */
#define BN_TEAM_CMAX 2048

void bn_forward_train(sim_ctx *ctx, real *out /* (C, M) */, real *mean /* (C) saved */,
                      real *rstd /* (C) saved, 1/sqrt(var+eps) */, const real *in /* (C, M) */,
                      const real *weight /* (C) */, const real *bias /* (C) */,
                      real *running_mean /* (C) or NULL */, real *running_var /* (C) or NULL */,
                      int C, int M, real momentum, real eps)
{
    assert(C >= 1 && M >= 1);
    const int par = (size_t)C * (size_t)M >= BN_PAR_MIN && C > 1;
    if (!ctx->team) { /* the whole batch: one pass over the channels */
        assert(M >= 2); /* the unbiased variance needs two values per channel */
#pragma omp parallel for num_threads(ctx->threads) schedule(static) if (par)
        for (int c = 0; c < C; c++) {
            const real *x = in + (size_t)c * M;
            const double mu = chan_sum(x, M) / M;
            chan_normalize(out + (size_t)c * M, x, M, c, mu, chan_ssd(x, M, mu) / M, M, weight,
                           bias, mean, rstd, running_mean, running_var, momentum, eps);
        }
        return;
    }
    /* a slice of a split batch: the statistics are the team's sums; only
     * rank 0 moves the running statistics */
    assert(C <= BN_TEAM_CMAX);
    double s[BN_TEAM_CMAX + 1];
#pragma omp parallel for num_threads(ctx->threads) schedule(static) if (par)
    for (int c = 0; c < C; c++)
        s[c] = chan_sum(in + (size_t)c * M, M);
    s[C] = M;
    team_sum(ctx, s, (size_t)C + 1);
    const int Mt = (int)s[C];
    assert(Mt >= 2);
    for (int c = 0; c < C; c++)
        s[c] /= Mt;
    double ss[BN_TEAM_CMAX];
#pragma omp parallel for num_threads(ctx->threads) schedule(static) if (par)
    for (int c = 0; c < C; c++)
        ss[c] = chan_ssd(in + (size_t)c * M, M, s[c]);
    team_sum(ctx, ss, (size_t)C);
    if (ctx->team->rank)
        running_mean = running_var = NULL;
#pragma omp parallel for num_threads(ctx->threads) schedule(static) if (par)
    for (int c = 0; c < C; c++)
        chan_normalize(out + (size_t)c * M, in + (size_t)c * M, M, c, s[c], ss[c] / Mt, Mt,
                       weight, bias, mean, rstd, running_mean, running_var, momentum, eps);
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
/* Of one channel: the sums of dy and of dy * xhat. */
static void chan_gsums(const real *dy, const real *x, int M, double mu, double rs, double *sdy,
                       double *sdyx)
{
    double a = 0, b = 0;
    for (int m = 0; m < M; m++) {
        double g = (double)dy[m];
        a += g;
        b += g * ((double)x[m] - mu) * rs;
    }
    *sdy = a;
    *sdyx = b;
}

/* dx of one channel from the sums over Mt values. */
static void chan_dx(real *dx, const real *dy, const real *x, int M, double mu, double rs, double w,
                    double sdy, double sdyx, int Mt, int add)
{
    const double k = w * rs, mdy = sdy / Mt, mdyx = sdyx / Mt;
    for (int m = 0; m < M; m++) {
        double xhat = ((double)x[m] - mu) * rs;
        const real g = (real)(k * ((double)dy[m] - mdy - xhat * mdyx));
        dx[m] = add ? dx[m] + g : g;
    }
}

/* bn_backward (add 1) and bn_backward_set (add 0). */
static void backward(sim_ctx *ctx, real *din, real *dweight, real *dbias, const real *dout,
                     const real *in, const real *mean, const real *rstd, const real *weight, int C,
                     int M, int add)
{
    assert(C >= 1 && M >= 1);
    const int par = (size_t)C * (size_t)M >= BN_PAR_MIN && C > 1;
    if (!ctx->team) {
#pragma omp parallel for num_threads(ctx->threads) schedule(static) if (par)
        for (int c = 0; c < C; c++) {
            const size_t o = (size_t)c * M;
            const double mu = (double)mean[c], rs = (double)rstd[c];
            double sdy, sdyx;
            chan_gsums(dout + o, in + o, M, mu, rs, &sdy, &sdyx);
            dbias[c] += (real)sdy;
            dweight[c] += (real)sdyx;
            chan_dx(din + o, dout + o, in + o, M, mu, rs, (double)weight[c], sdy, sdyx, M, add);
        }
        return;
    }
    /* a slice of a split batch: the team's sums; rank 0 takes the
     * parameter gradients of the whole batch */
    assert(C <= BN_TEAM_CMAX);
    double s[2 * BN_TEAM_CMAX + 1];
#pragma omp parallel for num_threads(ctx->threads) schedule(static) if (par)
    for (int c = 0; c < C; c++) {
        const size_t o = (size_t)c * M;
        chan_gsums(dout + o, in + o, M, (double)mean[c], (double)rstd[c], &s[c], &s[C + c]);
    }
    s[2 * C] = M;
    team_sum(ctx, s, 2 * (size_t)C + 1);
    const int Mt = (int)s[2 * C];
    if (!ctx->team->rank)
        for (int c = 0; c < C; c++) {
            dbias[c] += (real)s[c];
            dweight[c] += (real)s[C + c];
        }
#pragma omp parallel for num_threads(ctx->threads) schedule(static) if (par)
    for (int c = 0; c < C; c++) {
        const size_t o = (size_t)c * M;
        chan_dx(din + o, dout + o, in + o, M, (double)mean[c], (double)rstd[c], (double)weight[c],
                s[c], s[C + c], Mt, add);
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
