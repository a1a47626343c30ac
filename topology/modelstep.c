/* modelstep.c - per-call checks and site records of the models (see
 * modelstep.h). */
#include "modelstep.h"

sim_status modelstep_check_batch(sim_ctx *ctx, int prepared, int n)
{
    if (!prepared)
        return ctx_error(ctx, SIM_EINVAL, "model: trev_prepare was not called");
    if (n < 1 || n > prepared)
        return ctx_error(ctx, SIM_ERANGE, "model: batch of %d images, prepared for 1..%d", n,
                         prepared);
    return SIM_OK;
}

sim_status modelstep_check_labels(sim_ctx *ctx, const int *labels, int n, int classes)
{
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= classes)
            return ctx_error(ctx, SIM_ERANGE, "label %d of image %d outside 0..%d", labels[i], i,
                             classes - 1);
    return SIM_OK;
}

sim_status modelstep_check_train(sim_ctx *ctx, const real *g, const int *labels, int n,
                                 int classes)
{
    if (!g)
        return ctx_error(ctx, SIM_EINVAL, "model was created for inference, not training");
    return modelstep_check_labels(ctx, labels, n, classes);
}

void modelstep_record(trev_step *rec, size_t spikes, size_t total)
{
    if (!rec || rec->nsites >= (int)(sizeof rec->site_spikes / sizeof *rec->site_spikes))
        return;
    rec->site_spikes[rec->nsites] = (double)spikes;
    rec->site_total[rec->nsites] = (double)total;
    rec->nsites++;
}

size_t modelstep_positions(int n, int R) { return (size_t)n * (size_t)R * (size_t)R; }
