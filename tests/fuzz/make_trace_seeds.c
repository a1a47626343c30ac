/* make_trace_seeds.c - writes the small valid spike traces of
 * tests/fuzz/corpus/trace/ with the real writer (io/trace.h); the committed
 * seeds are these files repacked with h5repack (small chunks, and gzip) and
 * cut short (docs/reliability.md):
 *
 *   make_trace_seeds DIR
 *
 * two_images.h5   3 populations (one silent), 2 projections, T=2, 2 images
 * one_image.h5    1 population, no projections, T=1, 1 image, dt 0.5 ms
 * no_spikes.h5    2 populations that never spike, 1 projection, 3 images */
#include <stdio.h>
#include <string.h>

#include "io/trace.h"

/* One trace of nimg images of T timesteps; population p spikes at node
 * (i + t + p) % size when (i + t + p) is odd, when spiking is set. */
static int write_trace(sim_ctx *ctx, const char *path, int T, double dt, int nimg, int npop,
                       int nproj, int spiking)
{
    static const char *const pn[] = {"stem", "col0.l1", "head"};
    static const int32_t ps[] = {4, 6, 3};
    static const char *const jn[] = {"stem->col0.l1", "col0.l1->head"};
    trace_meta meta = {"fmnist", "ck.h5", "0badc0de", "seed", "make_trace_seeds", dt, T,
                       4.6, 0.9};
    trace *tr = NULL;
    sim_status s = trace_create(ctx, &tr, path, &meta, pn, ps, npop, jn, nproj);
    for (int i = 0; i < nimg && s == SIM_OK; i++) {
        uint64_t spikes = 0;
        for (int t = 0; t < T && s == SIM_OK; t++) {
            for (int p = 0; p < npop && s == SIM_OK; p++) {
                int32_t id = (i + t + p) % ps[p];
                int32_t n = spiking && p < 2 && (i + t + p) % 2 ? 1 : 0;
                s = trace_spikes(ctx, tr, p, (int64_t)i * T + t, &id, n);
                spikes += (uint64_t)n;
            }
            proj_counters pc[2] = {{3, 3, 0, 2.5}, {1, 0, 6, 4.0}};
            if (s == SIM_OK && nproj > 0)
                s = trace_energy(ctx, tr, i, t, pc);
        }
        trace_sample_row row = {100 + i, (int64_t)i * T, i % 10, (i * 3) % 10, spikes,
                                10.0 + i, 20.0 + i};
        if (s == SIM_OK)
            s = trace_sample(ctx, tr, &row);
    }
    if (s == SIM_OK)
        s = trace_close(ctx, tr);
    else
        trace_abort(ctx, tr);
    if (s != SIM_OK) {
        fprintf(stderr, "%s: %s\n", path, ctx_errmsg(ctx));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_trace_seeds DIR\n");
        return 2;
    }
    sim_ctx ctx;
    if (ctx_init(&ctx, 1) != SIM_OK)
        return 1;
    char path[4096];
    int bad = 0;
    snprintf(path, sizeof path, "%s/two_images.h5", argv[1]);
    bad |= write_trace(&ctx, path, 2, 1.0, 2, 3, 2, 1);
    snprintf(path, sizeof path, "%s/one_image.h5", argv[1]);
    bad |= write_trace(&ctx, path, 1, 0.5, 1, 1, 0, 1);
    snprintf(path, sizeof path, "%s/no_spikes.h5", argv[1]);
    bad |= write_trace(&ctx, path, 1, 1.0, 3, 2, 1, 0);
    ctx_free(&ctx);
    return bad;
}
