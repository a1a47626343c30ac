/* loss.h - softmax cross-entropy with label smoothing on channel-major
 * logits (K, N): column n holds the K logits of image n.
 *
 * With smoothing e, the target of image n is (1-e) onehot(y_n) + e/K, and
 * the loss is the mean over images of -sum_k target_k log softmax_k. */
#ifndef TOPOLOGY_LOSS_H
#define TOPOLOGY_LOSS_H

#include "sim/real.h"

/* Returns the mean loss; probs receives the softmax (K, N). Labels must be
 * in [0, K) (asserted; validate input before). */
double ce_forward(real *probs /* (K, N) */, const real *logits /* (K, N) */,
                  const int *labels /* (N) */, int K, int N, real smoothing);
/* dlogits += scale * d(mean loss)/d(logits). */
void ce_backward(real *dlogits /* (K, N) */, const real *probs /* (K, N) */,
                 const int *labels /* (N) */, int K, int N, real smoothing, real scale);

#endif
