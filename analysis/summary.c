/* summary.c - sample statistics on a sorted copy, via GSL. */
#include "summary.h"

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <string.h>

void summary_of(summary *s, const double *x, size_t n, double *scratch)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    if (n == 0)
        return;
    memcpy(scratch, x, n * sizeof *x);
    gsl_sort(scratch, 1, n);
    s->mean = gsl_stats_mean(scratch, 1, n);
    s->sd = n > 1 ? gsl_stats_sd_m(scratch, 1, n, s->mean) : 0.0;
    s->min = scratch[0];
    s->max = scratch[n - 1];
    s->median = gsl_stats_median_from_sorted_data(scratch, 1, n);
    s->q05 = gsl_stats_quantile_from_sorted_data(scratch, 1, n, 0.05);
    s->q25 = gsl_stats_quantile_from_sorted_data(scratch, 1, n, 0.25);
    s->q75 = gsl_stats_quantile_from_sorted_data(scratch, 1, n, 0.75);
    s->q95 = gsl_stats_quantile_from_sorted_data(scratch, 1, n, 0.95);
}
