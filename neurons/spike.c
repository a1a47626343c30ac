/* spike.c - the spike function Theta of turn-off neurons (model.md §1):
 * binary spikes at v >= 0.5, trained with the clipped straight-through
 * estimator (the derivative of clamp(v, 0, 1)). */
#include "spike.h"

#include "topology/elementwise.h" /* ELEMENTWISE_PAR_MIN */

size_t spike_forward(real *out /* (n) */, const real *v /* (n) */, size_t n)
{
    size_t count = 0;
#pragma omp parallel for schedule(static) reduction(+ : count) if (n >= ELEMENTWISE_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        int s = v[i] >= SPIKE_THRESHOLD; /* NaN does not fire */
        count += (size_t)s;
        out[i] = (real)s;
    }
    return count;
}

size_t spike_forward_bias(real *out, real *v, const real *bias, int C, size_t M)
{
    size_t count = 0;
#pragma omp parallel for schedule(static) reduction(+ : count) if ((size_t)C * M >= ELEMENTWISE_PAR_MIN)
    for (int c = 0; c < C; c++) {
        const real b = bias[c];
        real *x = v + (size_t)c * M, *o = out + (size_t)c * M;
        size_t k = 0;
        for (size_t i = 0; i < M; i++) {
            const real y = x[i] + b;
            const int s = y >= SPIKE_THRESHOLD; /* NaN does not fire */
            k += (size_t)s;
            x[i] = y;
            o[i] = (real)s;
        }
        count += k;
    }
    return count;
}

static void backward(real *dv, const real *ds, const real *v, size_t n, int add)
{
#pragma omp parallel for schedule(static) if (n >= ELEMENTWISE_PAR_MIN)
    for (size_t i = 0; i < n; i++) { /* branch-free so it vectorizes */
        real x = v[i];
        real g = (x >= SPIKE_CLIP_LO && x <= SPIKE_CLIP_HI) ? ds[i] : (real)0;
        dv[i] = add ? dv[i] + g : g;
    }
}

void spike_backward(real *dv /* (n) */, const real *ds /* (n) */, const real *v /* (n) */, size_t n)
{
    backward(dv, ds, v, n, 1);
}

void spike_backward_set(real *dv /* (n) */, const real *ds /* (n) */, const real *v /* (n) */,
                        size_t n)
{
    backward(dv, ds, v, n, 0);
}

size_t spike_forward_relaxed(real *out /* (n) */, const real *v /* (n) */, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        real x = v[i];
        count += x >= SPIKE_THRESHOLD;
        out[i] = x < SPIKE_CLIP_LO ? SPIKE_CLIP_LO : x > SPIKE_CLIP_HI ? SPIKE_CLIP_HI : x;
    }
    return count;
}
