/* fuzz_trace.c - libFuzzer target for the spike-trace reader of
 * analysis/report.c (`sim analyze TRACE.h5`): the input is written to a
 * temporary file and loaded with report_load, keeping the spikes of image
 * 0 or 1 for a third of the inputs each (the --image path), then reduced
 * and printed (tables and JSON) to /dev/null. As with the checkpoint
 * target, libhdf5's own hangs and huge mallocs on corrupt files are the
 * library's (fork mode, docs/reliability.md); our code must not crash,
 * leak, leave an HDF5 object open or allocate beyond the bounds of
 * analysis/report.h (any single allocation over FUZZ_MAX_ALLOC aborts). */
#include <hdf5.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "analysis/report.h"
#include "fuzz_common.h"

static char path[256];
static FILE *devnull;

static void write_input(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        const char *dir = getenv("FUZZ_TMPDIR");
        snprintf(path, sizeof path, "%s/fuzz_trace.%ld.h5", dir ? dir : "/tmp", (long)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    if (fclose(f) != 0)
        abort();
}

/* What report_load promises of a report it returns. */
static void check_report(const report *r)
{
    fuzz_assert(r->T >= 1 && r->T <= REPORT_MAX_T && r->dt_ms > 0 && isfinite(r->dt_ms));
    fuzz_assert(r->npop >= 1 && r->npop <= REPORT_MAX_POPS && r->pops);
    fuzz_assert(r->nproj >= 0 && r->nproj <= REPORT_MAX_PROJS && (r->nproj == 0 || r->projs));
    fuzz_assert(r->nsamples >= 0 && r->nsamples <= REPORT_MAX_SAMPLES);
    fuzz_assert(r->correct >= 0 && r->correct <= r->nsamples);
    fuzz_assert(r->n_nodes >= 0 && r->n_nodes <= REPORT_MAX_NODES);
    fuzz_assert(r->preset && r->checkpoint && r->checksum && r->version && r->command_line);
    uint64_t spikes = 0;
    int64_t nodes = 0;
    for (int p = 0; p < r->npop; p++) {
        const report_pop *pp = &r->pops[p];
        fuzz_assert(pp->name && pp->spikes_t);
        fuzz_assert(pp->silent >= 0 && pp->silent <= pp->n_nodes);
        uint64_t st = 0;
        for (int t = 0; t < r->T; t++)
            st += pp->spikes_t[t];
        fuzz_assert(st == pp->spikes);
        spikes += pp->spikes;
        nodes += pp->n_nodes;
        fuzz_assert(pp->img_n >= 0 && pp->img_n <= pp->n_nodes * r->T);
        for (int64_t i = 0; i < pp->img_n; i++)
            fuzz_assert(pp->img_t[i] >= 0 && pp->img_t[i] < r->T && pp->img_id[i] >= 0 &&
                        pp->img_id[i] < pp->n_nodes);
        if (p > 0) /* network order */
            fuzz_assert(r->pops[p - 1].order <= pp->order);
    }
    fuzz_assert(spikes == r->spikes && nodes == r->n_nodes);
    fuzz_assert(r->image == -1 || (r->image >= 0 && r->image < r->nsamples));
    for (int p = 0; p < r->npop; p++) {
        double rate = report_rate(r, p);
        fuzz_assert(rate >= 0);
        for (int t = 0; t < r->T; t++)
            fuzz_assert(report_rate_t(r, p, t) >= 0);
    }
    int *idx = r->nproj ? malloc((size_t)r->nproj * sizeof *idx) : NULL;
    if (idx) {
        report_proj_order(r, idx);
        for (int k = 1; k < r->nproj; k++)
            fuzz_assert(r->projs[idx[k - 1]].energy_pj >= r->projs[idx[k]].energy_pj ||
                        isnan(r->projs[idx[k]].energy_pj) ||
                        isnan(r->projs[idx[k - 1]].energy_pj));
        free(idx);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!devnull && !(devnull = fopen("/dev/null", "w")))
        abort();
    write_input(data, size);
    sim_ctx ctx;
    if (fuzz_ctx_init(&ctx) != SIM_OK)
        return 0;
    report r;
    report_opts o = {(int64_t)(size % 3) - 1};
    sim_status st = report_load(&ctx, &r, path, &o);
    if (st == SIM_OK) {
        check_report(&r);
        fuzz_assert(r.image == o.image);
        report_print(devnull, &r);
        report_print_json(devnull, &r);
    } else {
        fuzz_assert(ctx_errmsg(&ctx)[0] != '\0');
        fuzz_assert(r.npop == 0 && r.nproj == 0 && r.nsamples == 0 && r.pops == NULL);
    }
    report_free(&ctx, &r);
    /* every file, group, dataset, type and attribute we opened is closed */
    fuzz_assert(H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL) == 0);
    fuzz_ctx_done(&ctx);
    return 0;
}
