/* lifnet.c - building the event-driven LIF baseline from a model and
 * running images through it (see lifnet.h for the population layout). */
#include "lifnet.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "neurons/lif.h"
#include "topology/fold.h"
#include "topology/stem.h"

#define NPOPS (TREV_LEVELS * LIFNET_POPS_PER_LEVEL)

enum { U0, B1IN, B1D1, B1H, B1P2, U1, B2IN, B2D1, B2H, B2P2, U2, OUT };
static const char *const pop_suffix[LIFNET_POPS_PER_LEVEL] = {
    "u0",    "b1.in", "b1.d1",     "b1.hidden", "b1.p2", "u1",
    "b2.in", "b2.d1", "b2.hidden", "b2.p2",     "u2",    "out"};

/* Depthwise weight (C, k*k) scaled per channel by s (may be NULL) into w,
 * bias (scaled too) added into bias. */
static void depthwise(fold_builder *b, real *w, real *bias, const real *s, int C, int kk,
                      const char *prefix)
{
    const real *pw = fold_param(b, (size_t)C * kk, "%s/weight", prefix);
    const real *pb = fold_param(b, (size_t)C, "%s/bias", prefix);
    if (b->st != SIM_OK)
        return;
    for (int c = 0; c < C; c++) {
        const real sc = s ? s[c] : 1;
        for (int i = 0; i < kk; i++)
            w[(size_t)c * kk + i] = sc * pw[(size_t)c * kk + i];
        bias[c] += sc * pb[c];
    }
}

sim_status lifnet_build(sim_ctx *ctx, trevnet *net, const trev_model *m, const engine_opts *opts)
{
    memset(net, 0, sizeof *net);
    const trev_config *c = trev_cfg(m);
    if (c->model != TREV_MODEL_LIF)
        return ctx_error(ctx, SIM_EINVAL, "lifnet: the model is %s, not lif",
                         trev_model_name(c->model));
    net->cfg = *c;
    const int K = c->classes, k = c->kernel, kk = k * k, *C = c->channels;
    int R[TREV_LEVELS];
    for (int l = 0; l < TREV_LEVELS; l++)
        R[l] = trev_resolution(m, l);
    fold_builder b;
    fold_init(&b, ctx, m, "lifnet");
    pop_spec pops[NPOPS];
    char names[NPOPS][NEURON_NAME_MAX];
    proj_spec projs[NPOPS * 2];
    int np = 0;
    char pre[96];

    /* ---- populations (biases filled with the projections below) ---- */
    for (int l = 0; l < TREV_LEVELS; l++)
        for (int j = 0; j < LIFNET_POPS_PER_LEVEL; j++) {
            const int i = l * LIFNET_POPS_PER_LEVEL + j;
            const int ch = (j == B1H || j == B2H) ? 4 * C[l] : C[l];
            const int lif = j == B1IN || j == B1H || j == B2IN || j == B2H || j == OUT;
            snprintf(names[i], sizeof names[i], "L%d.%s", l, pop_suffix[j]);
            pops[i] = pop_spec_make(names[i], lif ? NEURON_LIF : NEURON_RELAY, ch, R[l], R[l], i);
            if (lif) { /* membrane tau * H: decay 1 - 1/tau, threshold tau * V_th */
                pops[i].tau = (real)LIF_TAU;
                pops[i].threshold = (real)(LIF_TAU * LIF_VTH);
            }
            pops[i].bias = fold_alloc_tmp(&b, (size_t)ch);
        }
    if (b.st == SIM_OK)
        for (int l = 0; l < TREV_LEVELS; l++) {
            net->pop_u0[l] = l * LIFNET_POPS_PER_LEVEL + U0;
            net->pop_turnon[l] = l * LIFNET_POPS_PER_LEVEL + OUT;
        }

    /* ---- projections ---- */
    for (int l = 0; l < TREV_LEVELS && b.st == SIM_OK; l++) {
        const int base = l * LIFNET_POPS_PER_LEVEL, Cl = C[l];
        if (l > 0) { /* Down: spikes of the level below, this timestep */
            const int ks = l == 3 ? 1 : 3, fan = C[l - 1] * ks * ks;
            real *w = fold_alloc_tmp(&b, (size_t)Cl * fan);
            snprintf(pre, sizeof pre, "lif/level%d/down", l);
            fold_bn(&b, w, (real *)pops[base + U0].bias, Cl, fan, pre);
            projs[np++] = l == 3 ? proj_spec_make(net->pop_turnon[l - 1], base + U0, PROJ_SPIKE,
                                                  PROJ_CONV1X1, 0, w)
                                 : proj_spec_conv(net->pop_turnon[l - 1], base + U0, PROJ_SPIKE,
                                                  PROJ_CONV, 0, 3, 2, 1, w);
        }
        for (int blk = 0; blk < 2 && b.st == SIM_OK; blk++) {
            const int u = base + (blk ? U1 : U0), in = base + (blk ? B2IN : B1IN);
            const int d1 = base + (blk ? B2D1 : B1D1), hid = base + (blk ? B2H : B1H);
            const int p2 = base + (blk ? B2P2 : B1P2), out = base + (blk ? U2 : U1);
            real *wd1 = fold_alloc_tmp(&b, (size_t)Cl * kk);
            real *wp1 = fold_alloc_tmp(&b, (size_t)4 * Cl * Cl);
            real *wp2 = fold_alloc_tmp(&b, (size_t)Cl * 4 * Cl);
            real *wd2 = fold_alloc_tmp(&b, (size_t)Cl * kk);
            if (b.st != SIM_OK)
                break;
            snprintf(pre, sizeof pre, "lif/level%d/block%d", l, blk + 1);
            char name[128];
            snprintf(name, sizeof name, "%s/dw1", pre);
            depthwise(&b, wd1, (real *)pops[d1].bias, NULL, Cl, kk, name);
            snprintf(name, sizeof name, "%s/pw1", pre);
            fold_wsconv(&b, wp1, (real *)pops[hid].bias, 4 * Cl, Cl, name);
            snprintf(name, sizeof name, "%s/pw2", pre);
            fold_wsconv(&b, wp2, (real *)pops[p2].bias, Cl, 4 * Cl, name);
            const real *gamma = blk ? NULL : fold_param(&b, (size_t)Cl, "%s/gamma", pre);
            snprintf(name, sizeof name, "%s/dw2", pre);
            depthwise(&b, wd2, (real *)pops[out].bias, gamma, Cl, kk, name);
            projs[np++] = proj_spec_make(u, in, PROJ_GRADED, PROJ_IDENTITY, 0, NULL);
            projs[np++] = proj_spec_conv(in, d1, PROJ_SPIKE, PROJ_DEPTHWISE, 0, k, 1, k / 2, wd1);
            projs[np++] = proj_spec_make(d1, hid, PROJ_GRADED, PROJ_CONV1X1, 0, wp1);
            projs[np++] = proj_spec_make(hid, p2, PROJ_SPIKE, PROJ_CONV1X1, 0, wp2);
            projs[np++] = proj_spec_conv(p2, out, PROJ_GRADED, PROJ_DEPTHWISE, 0, k, 1, k / 2, wd2);
            /* the residual */
            projs[np++] = proj_spec_make(u, out, PROJ_GRADED, PROJ_IDENTITY, 0, NULL);
        }
        projs[np++] = proj_spec_make(base + U2, base + OUT, PROJ_GRADED, PROJ_IDENTITY, 0, NULL);
    }
    assert(np <= (int)(sizeof projs / sizeof *projs));

    /* ---- dense stem and head (batch 1), one block starting at stem_w1 ---- */
    const int C3 = C[3];
    if (b.st == SIM_OK)
        b.st = stem_shapes(ctx, &net->stem1, &net->stem2, 1, c);
    if (b.st == SIM_OK) {
        const size_t fan1 = (size_t)c->in_channels * c->stem_kernel * c->stem_kernel;
        const size_t scr = stem_scratch_elems(&net->stem1, &net->stem2);
        const size_t a1 = (size_t)C[0] * net->stem1.Ho * net->stem1.Wo;
        const size_t sizes[] = {fan1 * C[0],       (size_t)C[0], (size_t)C[0] * C[0] * 9,
                                (size_t)C[0],      (size_t)K * C3, (size_t)K,
                                (size_t)K * K,     (size_t)K,    scr,
                                a1,                (size_t)C[0] * R[0] * R[0]};
        real **dst[] = {&net->stem_w1, &net->stem_b1, &net->stem_w2, &net->stem_b2,
                        &net->fh1_w,   &net->fh1_b,   &net->fh2_w,   &net->fh2_b,
                        &net->scratch, &net->a1,      &net->x};
        size_t total = 0;
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
            total += (sizes[i] + 15) / 16 * 16;
        real *blk = mem_calloc(ctx, MEM_ENGINE, total, sizeof *blk);
        if (!blk) {
            b.st = SIM_ENOMEM;
        } else {
            real *p = blk;
            for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
                *dst[i] = p;
                p += (sizes[i] + 15) / 16 * 16;
            }
            stem_fold(&b, net->stem_w1, net->stem_b1, net->stem_w2, net->stem_b2, c);
            fold_wsconv(&b, net->fh1_w, net->fh1_b, K, C3, "head/conv1");
            fold_wsconv(&b, net->fh2_w, net->fh2_b, K, K, "head/conv2");
        }
    }
    return trevnet_finish_build(ctx, net, &b, pops, NPOPS, projs, np, opts);
}

sim_status lifnet_run_image(sim_ctx *ctx, trevnet *net, const real *image, real *logits,
                            trevnet_stats *st)
{
    const int T = net->cfg.T, K = net->cfg.classes;
    trevnet_stats local;
    if (!st)
        st = &local;
    const uint64_t spikes0 = trevnet_begin_image(ctx, net, image, st);
    real lt[4096];
    double sum[4096];
    assert(K <= 4096);
    for (int o = 0; o < K; o++)
        sum[o] = 0;
    for (int t = 0; t < T; t++) {
        sim_status s = trevnet_step_column(ctx, net, t, st);
        if (s != SIM_OK)
            return s;
        trevnet_spike_head(net, lt, st); /* the head of this timestep */
        for (int o = 0; o < K; o++)
            sum[o] += (double)lt[o];
    }
    for (int o = 0; o < K; o++)
        logits[o] = (real)(sum[o] / T);
    trevnet_end_image(net, st, spikes0);
    return SIM_OK;
}
