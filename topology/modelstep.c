/* modelstep.c - per-call checks and site records of the models (see
 * modelstep.h). */
#include "modelstep.h"

#include <omp.h>
#include <string.h>

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

int modelstep_split_of(int threads, int n)
{
    int R = threads < TREV_MAXREP ? threads : TREV_MAXREP;
    return R >= 2 && n >= 2 * R ? R : 1;
}

void modelstep_slice(int n, int R, int r, int *cnt, int *off)
{
    *cnt = n / R + (r < n % R);
    *off = r * (n / R) + (r < n % R ? r : n % R);
}

void modelstep_split_init(modelstep_split *sp)
{
    memset(sp, 0, sizeof *sp);
    sp->nrep = 1;
}

void modelstep_split_bytes(int R, int n, const paramtab *pt, size_t image_elems, size_t rows,
                           size_t out[MEM_NROLES])
{
    if (R < 2)
        return;
    out[MEM_GRADS] += (size_t)(R - 1) * pt->nval * sizeof(real);
    out[MEM_SCRATCH] += ((size_t)(R - 1) * pt->nstd + (size_t)n * (image_elems + rows)) *
                            sizeof(real) +
                        (size_t)R * MODELSTEP_TEAM_CAP * sizeof(double);
}

sim_status modelstep_split_alloc(sim_ctx *ctx, modelstep_split *sp, int n, int R,
                                 size_t image_elems, size_t rows)
{
    int ok = 1;
    for (int r = 0; r < R; r++) {
        int cnt, off;
        modelstep_slice(n, R, r, &cnt, &off);
        sp->img[r] = mem_calloc(ctx, MEM_SCRATCH, (size_t)cnt * image_elems, sizeof(real));
        ok &= sp->img[r] != NULL;
    }
    sp->gathered = mem_calloc(ctx, MEM_SCRATCH, rows * (size_t)n, sizeof(real));
    sp->team_sums = mem_calloc(ctx, MEM_SCRATCH, (size_t)R * MODELSTEP_TEAM_CAP, sizeof(double));
    sp->capacity = n;
    return ok && sp->gathered && sp->team_sums ? SIM_OK : SIM_ENOMEM;
}

void modelstep_split_free(sim_ctx *ctx, modelstep_split *sp)
{
    for (int r = 0; r < TREV_MAXREP; r++)
        mem_free(ctx, sp->img[r]);
    mem_free(ctx, sp->gathered);
    mem_free(ctx, sp->team_sums);
    modelstep_split_init(sp);
}

/* Images off..off+cnt of the channel-major (C_in, n, SS) into dst (C_in, cnt, SS). */
static void take_slice(real *dst, const real *images, int C_in, size_t SS, int n, int off, int cnt)
{
    for (int c = 0; c < C_in; c++)
        memcpy(dst + (size_t)c * cnt * SS, images + ((size_t)c * n + off) * SS,
               (size_t)cnt * SS * sizeof *dst);
}

sim_status modelstep_run_slices(sim_ctx *ctx, const modelstep_split *sp, const real *images,
                                int C_in, size_t SS, int n, int R, modelstep_slice_fn fn,
                                void *arg)
{
    sim_team tm[TREV_MAXREP];
    int started = 1;
#pragma omp parallel num_threads(R)
    {
        if (omp_get_num_threads() != R) {
#pragma omp atomic write
            started = 0;
        } else {
            const int r = omp_get_thread_num();
            int cnt, off;
            modelstep_slice(n, R, r, &cnt, &off);
            omp_set_num_threads(1);
            sim_ctx c = *ctx; /* nothing in a slice allocates or fails */
            c.threads = 1;
            tm[r] = (sim_team){
                .size = R, .rank = r, .sums = sp->team_sums, .cap = MODELSTEP_TEAM_CAP};
            c.team = &tm[r];
            take_slice(sp->img[r], images, C_in, SS, n, off, cnt);
            fn(&c, r, off, cnt, sp->img[r], arg);
        }
    }
    if (!started)
        return ctx_error(ctx, SIM_ENOMEM, "batch split: could not start %d threads", R);
    return SIM_OK;
}

void modelstep_merge_steps(trev_step *res, const trev_step *rr, int R)
{
    *res = rr[0];
    for (int r = 1; r < R; r++) {
        res->loss += rr[r].loss;
        for (int i = 0; i < res->nheads; i++)
            res->head_loss[i] += rr[r].head_loss[i];
        for (int i = 0; i < res->nsites; i++) {
            res->site_spikes[i] += rr[r].site_spikes[i];
            res->site_total[i] += rr[r].site_total[i];
        }
        if (rr[r].max_rebuild_err > res->max_rebuild_err)
            res->max_rebuild_err = rr[r].max_rebuild_err;
    }
}

void modelstep_gather(real *out, const real *const *src, int n, int R, int rows)
{
    for (int r = 0; r < R; r++) {
        int cnt, off;
        modelstep_slice(n, R, r, &cnt, &off);
        for (int i = 0; i < rows; i++)
            memcpy(out + (size_t)i * n + off, src[r] + (size_t)i * cnt,
                   (size_t)cnt * sizeof *out);
    }
}
