/* wsconv.c - weight standardization of WSConv layers (model.md §2).
 *
 * Each output channel's weights (one row of fan_in values) are centred, scaled
 * to unit biased variance (eps 1e-6 inside the square root), multiplied by the
 * learnable gain and by fan_in^(-1/2). Sums run in double, so the float build
 * keeps accurate statistics. Backward is the exact adjoint, including the
 * paths through the mean and the variance:
 *   xhat = (w - mean) * rstd,  what = s * xhat,  s = gain * fan^(-1/2)
 *   dgain += fan^(-1/2) * sum(dwhat * xhat)
 *   dw    += rstd * (dx - mean(dx) - xhat * mean(dx * xhat)),  dx = s * dwhat */
#include "wsconv.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>

void wsconv_standardize(real *what /* (Co, fan) */, real *stats /* (2, Co) */,
                        const real *w /* (Co, fan) */, const real *gain /* (Co) */, int Co,
                        int fan)
{
    assert(Co >= 1 && fan >= 1);
    const double inv_sqrt_fan = 1.0 / sqrt((double)fan);
    for (int o = 0; o < Co; o++) {
        const real *wo = w + (size_t)o * fan;
        real *out = what + (size_t)o * fan;
        double sum = 0;
        for (int i = 0; i < fan; i++)
            sum += (double)wo[i];
        const double mean = sum / fan;
        double ss = 0;
        for (int i = 0; i < fan; i++) {
            const double d = (double)wo[i] - mean;
            ss += d * d;
        }
        const double rstd = 1.0 / sqrt(ss / fan + WSCONV_EPS);
        const double scale = (double)gain[o] * rstd * inv_sqrt_fan;
        for (int i = 0; i < fan; i++)
            out[i] = (real)(((double)wo[i] - mean) * scale);
        stats[o] = (real)mean;
        stats[Co + o] = (real)rstd;
    }
}

void wsconv_standardize_backward(real *dw /* (Co, fan) */, real *dgain /* (Co) */,
                                 const real *dwhat /* (Co, fan) */, const real *w /* (Co, fan) */,
                                 const real *gain /* (Co) */, const real *stats /* (2, Co) */,
                                 int Co, int fan)
{
    assert(Co >= 1 && fan >= 1);
    const double inv_sqrt_fan = 1.0 / sqrt((double)fan);
    for (int o = 0; o < Co; o++) {
        const real *wo = w + (size_t)o * fan, *g = dwhat + (size_t)o * fan;
        real *d = dw + (size_t)o * fan;
        const double mean = (double)stats[o], rstd = (double)stats[Co + o];
        /* sum(dwhat) and sum(dwhat * xhat) */
        double sg = 0, sgx = 0;
        for (int i = 0; i < fan; i++) {
            const double xhat = ((double)wo[i] - mean) * rstd;
            sg += (double)g[i];
            sgx += (double)g[i] * xhat;
        }
        dgain[o] += (real)(sgx * inv_sqrt_fan);
        const double sc = (double)gain[o] * inv_sqrt_fan; /* dx = sc * dwhat */
        const double mg = sc * sg / fan, mgx = sc * sgx / fan;
        for (int i = 0; i < fan; i++) {
            const double xhat = ((double)wo[i] - mean) * rstd;
            d[i] += (real)(rstd * (sc * (double)g[i] - mg - xhat * mgx));
        }
    }
}
