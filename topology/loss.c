/* loss.c - softmax cross-entropy with label smoothing on channel-major logits
 * (K, N), forward (mean loss and softmax) and backward.
 *
 * Per image n: lse = max + log sum_k exp(l_k - max) in double (stable for any
 * logit magnitude), probs = exp(l - lse), and with target
 * t = (1-e) onehot(y) + e/K the loss is  lse - sum_k t_k l_k. */
#include "loss.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>

double ce_forward(real *probs /* (K, N) */, const real *logits /* (K, N) */,
                  const int *labels /* (N) */, int K, int N, real smoothing)
{
    assert(K >= 1 && N >= 1);
    const double e = (double)smoothing, off = e / K;
    double total = 0;
    for (int n = 0; n < N; n++) {
        const int y = labels[n];
        assert(y >= 0 && y < K);
        double mx = (double)logits[n];
        for (int k = 1; k < K; k++)
            if ((double)logits[(size_t)k * N + n] > mx)
                mx = (double)logits[(size_t)k * N + n];
        double se = 0, sl = 0;
        for (int k = 0; k < K; k++) {
            double l = (double)logits[(size_t)k * N + n];
            se += exp(l - mx);
            sl += l;
        }
        const double lse = mx + log(se);
        for (int k = 0; k < K; k++)
            probs[(size_t)k * N + n] = (real)exp((double)logits[(size_t)k * N + n] - lse);
        total += lse - (1.0 - e) * (double)logits[(size_t)y * N + n] - off * sl;
    }
    return total / N;
}

/* d(loss_n)/d(l_k) = p_k - t_k; the mean divides by N. */
void ce_backward(real *dlogits /* (K, N) */, const real *probs /* (K, N) */,
                 const int *labels /* (N) */, int K, int N, real smoothing, real scale)
{
    assert(K >= 1 && N >= 1);
    const double e = (double)smoothing, off = e / K, g = (double)scale / N;
    for (int n = 0; n < N; n++) {
        const int y = labels[n];
        assert(y >= 0 && y < K);
        for (int k = 0; k < K; k++) {
            const size_t i = (size_t)k * N + n;
            double t = off + (k == y ? 1.0 - e : 0.0);
            dlogits[i] += (real)(g * ((double)probs[i] - t));
        }
    }
}
