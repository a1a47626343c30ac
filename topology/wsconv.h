/* wsconv.h - weight standardization for WSConv layers (model.md §2).
 *
 * Per output channel o with fan_in = Ci/groups * k * k:
 *   what_o = gain_o * (w_o - mean(w_o)) / sqrt(var(w_o) + 1e-6) * fan_in^(-1/2)
 * with the biased variance. The standardized weight then goes through an
 * ordinary conv2d; backward maps d(what) back to d(w) and d(gain) through
 * the standardization. */
#ifndef TOPOLOGY_WSCONV_H
#define TOPOLOGY_WSCONV_H

#include "sim/real.h"

#define WSCONV_EPS 1e-6

/* what and w are (Co, fan); stats receives (2, Co): mean then 1/sqrt(var+eps). */
void wsconv_standardize(real *what /* (Co, fan) */, real *stats /* (2, Co) */,
                        const real *w /* (Co, fan) */, const real *gain /* (Co) */, int Co,
                        int fan);
/* Accumulates (+=) into dw and dgain. */
void wsconv_standardize_backward(real *dw /* (Co, fan) */, real *dgain /* (Co) */,
                                 const real *dwhat /* (Co, fan) */, const real *w /* (Co, fan) */,
                                 const real *gain /* (Co) */, const real *stats /* (2, Co) */,
                                 int Co, int fan);

#endif
