/* summary.h - summary statistics of a sample with GSL: mean, standard
 * deviation, min, max, median and quantiles. Used for benchmark medians and
 * (later) per-image spike and energy statistics. */
#ifndef ANALYSIS_SUMMARY_H
#define ANALYSIS_SUMMARY_H

#include <stddef.h>

typedef struct {
    size_t n;
    double mean, sd; /* sd: sample standard deviation (n - 1), 0 for n < 2 */
    double min, max, median, q05, q25, q75, q95;
} summary;

/* Summarize x[0..n); scratch holds n doubles (x itself is not reordered).
 * n == 0 gives all zeros. */
void summary_of(summary *s, const double *x, size_t n, double *scratch);

#endif
