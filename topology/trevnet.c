/* trevnet.c - building the event-driven T-RevSNN network from a model and
 * running images through it (see trevnet.h for the population layout). */
#include "trevnet.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "topology/fold.h"
#include "topology/stem.h"

#define NPOPS (TREV_LEVELS * TREVNET_POPS_PER_LEVEL)
#define ALPHA_MIN 1e-3 /* as the dense forward clamps it */

enum { U0, B1D1, B1H, B1P2, U1, B2D1, B2H, B2P2, U2, TURNON };
static const char *const pop_suffix[TREVNET_POPS_PER_LEVEL] = {
    "u0", "b1.d1", "b1.hidden", "b1.p2", "u1", "b2.d1", "b2.hidden", "b2.p2", "u2", "turnon"};

sim_status trevnet_build(sim_ctx *ctx, trevnet *net, const trev_model *m, const engine_opts *opts)
{
    memset(net, 0, sizeof *net);
    const trev_config *c = trev_cfg(m);
    net->cfg = *c;
    const int T = c->T, K = c->classes, k = c->kernel, *C = c->channels;
    int R[TREV_LEVELS];
    for (int l = 0; l < TREV_LEVELS; l++)
        R[l] = trev_resolution(m, l);
    fold_builder b;
    fold_init(&b, ctx, m, "trevnet");
    pop_spec pops[NPOPS];
    char names[NPOPS][NEURON_NAME_MAX];
    proj_spec projs[NPOPS * 3];
    int np = 0;
    char pre[96];

    /* ---- populations ---- */
    for (int l = 0; l < TREV_LEVELS; l++) {
        for (int j = 0; j < TREVNET_POPS_PER_LEVEL; j++) {
            int i = l * TREVNET_POPS_PER_LEVEL + j;
            int ch = (j == B1H || j == B2H) ? 4 * C[l] : C[l];
            neuron_model model = (j == U0 || j == B1H || j == U1 || j == B2H) ? NEURON_TURN_OFF
                                 : j == TURNON                                 ? NEURON_TURN_ON
                                                                               : NEURON_RELAY;
            snprintf(names[i], sizeof names[i], "L%d.%s", l, pop_suffix[j]);
            pops[i] = pop_spec_make(names[i], model, ch, R[l], R[l], i);
            int shared = j == B2P2 || j == U2;
            pops[i].nsets = shared ? 1 : T;
            real *bias = fold_alloc_tmp(&b, (size_t)pops[i].nsets * ch);
            pops[i].bias = bias;
            for (int t = 0; t < pops[i].nsets && b.st == SIM_OK; t++) {
                real *bt = bias + (size_t)t * ch;
                snprintf(pre, sizeof pre, "col%d/level%d", t, l);
                char name[128];
                switch (j) {
                case B1D1:
                case B2D1:
                    snprintf(name, sizeof name, "%s/block%d/dw1/bias", pre, j == B1D1 ? 1 : 2);
                    fold_copy_param(&b, bt, (size_t)ch, name);
                    break;
                case B1H:
                case B2H:
                    snprintf(name, sizeof name, "%s/block%d/pw1/bias", pre, j == B1H ? 1 : 2);
                    fold_copy_param(&b, bt, (size_t)ch, name);
                    break;
                case B1P2:
                    snprintf(name, sizeof name, "%s/block1/pw2/bias", pre);
                    fold_copy_param(&b, bt, (size_t)ch, name);
                    break;
                case U1: { /* gamma * DW2 bias */
                    const real *g = fold_param(&b, (size_t)ch, "%s/block1/gamma", pre);
                    const real *db = fold_param(&b, (size_t)ch, "%s/block1/dw2/bias", pre);
                    for (int q = 0; g && db && q < ch; q++)
                        bt[q] = g[q] * db[q];
                    break;
                }
                case B2P2:
                    snprintf(name, sizeof name, "shared/level%d/pw2/bias", l);
                    fold_copy_param(&b, bt, (size_t)ch, name);
                    break;
                case U2:
                    snprintf(name, sizeof name, "shared/level%d/dw2/bias", l);
                    fold_copy_param(&b, bt, (size_t)ch, name);
                    break;
                default: /* U0's BN shifts are added with the Down/Up folds; TURNON none */
                    break;
                }
            }
            if (j == TURNON) {
                real *alpha = fold_alloc_tmp(&b, (size_t)T * ch);
                pops[i].alpha = alpha;
                for (int t = 0; t < T && b.st == SIM_OK; t++) {
                    const real *a = fold_param(&b, (size_t)ch, "col%d/level%d/alpha", t, l);
                    for (int q = 0; a && q < ch; q++)
                        alpha[(size_t)t * ch + q] =
                            fabs((double)a[q]) >= ALPHA_MIN ? a[q]
                                                            : (real)(a[q] < 0 ? -ALPHA_MIN : ALPHA_MIN);
                }
            }
        }
        net->pop_u0[l] = l * TREVNET_POPS_PER_LEVEL + U0;
        net->pop_turnon[l] = l * TREVNET_POPS_PER_LEVEL + TURNON;
    }

    /* ---- projections ---- */
    for (int l = 0; l < TREV_LEVELS && b.st == SIM_OK; l++) {
        const int base = l * TREVNET_POPS_PER_LEVEL, Cl = C[l], kk = k * k;
        real *u0_bias = (real *)pops[base + U0].bias;
        if (l > 0) { /* Down: spikes of the level below, this timestep */
            int ks = l == 3 ? 1 : 3, fan = C[l - 1] * ks * ks;
            real *w = fold_alloc_tmp(&b, (size_t)T * Cl * fan);
            for (int t = 0; t < T && b.st == SIM_OK; t++) {
                snprintf(pre, sizeof pre, "col%d/level%d/down", t, l);
                fold_bn(&b, w + (size_t)t * Cl * fan, u0_bias + (size_t)t * Cl, Cl, fan, pre);
            }
            projs[np] = l == 3 ? proj_spec_make(net->pop_turnon[l - 1], base + U0, PROJ_SPIKE,
                                                PROJ_CONV1X1, 0, w)
                               : proj_spec_conv(net->pop_turnon[l - 1], base + U0, PROJ_SPIKE,
                                                PROJ_CONV, 0, 3, 2, 1, w);
            projs[np++].nsets = T;
        }
        if (l < 3 && T > 1) { /* Up: spikes of the level above, previous timestep */
            int fan = C[l + 1];
            /* set 0 stays zero: no Up at t = 0 */
            real *w = fold_alloc_tmp(&b, (size_t)T * Cl * fan);
            for (int t = 1; t < T && b.st == SIM_OK; t++) {
                snprintf(pre, sizeof pre, "col%d/level%d/up", t, l);
                fold_bn(&b, w + (size_t)t * Cl * fan, u0_bias + (size_t)t * Cl, Cl, fan, pre);
            }
            projs[np] = proj_spec_make(net->pop_turnon[l + 1], base + U0, PROJ_SPIKE,
                                       l < 2 ? PROJ_UPSAMPLE2_1X1 : PROJ_CONV1X1, 1, w);
            projs[np++].nsets = T;
        }
        for (int blk = 0; blk < 2 && b.st == SIM_OK; blk++) {
            const int in = base + (blk ? U1 : U0), d1 = base + (blk ? B2D1 : B1D1);
            const int hid = base + (blk ? B2H : B1H), p2 = base + (blk ? B2P2 : B1P2);
            const int out = base + (blk ? U2 : U1);
            real *wd1 = fold_alloc_tmp(&b, (size_t)T * Cl * kk);
            real *wp1 = fold_alloc_tmp(&b, (size_t)T * 4 * Cl * Cl);
            int sets2 = blk ? 1 : T;
            real *wp2 = fold_alloc_tmp(&b, (size_t)sets2 * Cl * 4 * Cl);
            real *wd2 = fold_alloc_tmp(&b, (size_t)sets2 * Cl * kk);
            for (int t = 0; t < T && b.st == SIM_OK; t++) {
                char name[128];
                snprintf(pre, sizeof pre, "col%d/level%d/block%d", t, l, blk + 1);
                snprintf(name, sizeof name, "%s/dw1/weight", pre);
                fold_copy_param(&b, wd1 + (size_t)t * Cl * kk, (size_t)Cl * kk, name);
                snprintf(name, sizeof name, "%s/pw1", pre);
                fold_standardized(&b, wp1 + (size_t)t * 4 * Cl * Cl, 4 * Cl, Cl, name);
                if (blk == 0) { /* block 1's own PW2 and gamma-scaled DW2 */
                    snprintf(name, sizeof name, "%s/pw2", pre);
                    fold_standardized(&b, wp2 + (size_t)t * Cl * 4 * Cl, Cl, 4 * Cl, name);
                    const real *g = fold_param(&b, (size_t)Cl, "%s/gamma", pre);
                    const real *dw = fold_param(&b, (size_t)Cl * kk, "%s/dw2/weight", pre);
                    for (int q = 0; g && dw && q < Cl * kk; q++)
                        wd2[(size_t)t * Cl * kk + q] = g[q / kk] * dw[q];
                }
            }
            if (blk == 1 && b.st == SIM_OK) {
                snprintf(pre, sizeof pre, "shared/level%d/pw2", l);
                fold_standardized(&b, wp2, Cl, 4 * Cl, pre);
                snprintf(pre, sizeof pre, "shared/level%d/dw2/weight", l);
                fold_copy_param(&b, wd2, (size_t)Cl * kk, pre);
            }
            projs[np] = proj_spec_conv(in, d1, PROJ_SPIKE, PROJ_DEPTHWISE, 0, k, 1, k / 2, wd1);
            projs[np++].nsets = T;
            projs[np] = proj_spec_make(d1, hid, PROJ_GRADED, PROJ_CONV1X1, 0, wp1);
            projs[np++].nsets = T;
            projs[np] = proj_spec_make(hid, p2, PROJ_SPIKE, PROJ_CONV1X1, 0, wp2);
            projs[np++].nsets = sets2;
            projs[np] = proj_spec_conv(p2, out, PROJ_GRADED, PROJ_DEPTHWISE, 0, k, 1, k / 2, wd2);
            projs[np++].nsets = sets2;
            projs[np++] = proj_spec_make(in, out, PROJ_GRADED, PROJ_IDENTITY, 0, NULL); /* residual */
        }
        projs[np++] = proj_spec_make(base + U2, base + TURNON, PROJ_GRADED, PROJ_IDENTITY, 0, NULL);
    }

    /* ---- dense stem and heads (batch 1) ---- */
    const int C3 = C[3], nh = c->inter_supv ? T - 1 : 0;
    if (b.st == SIM_OK)
        b.st = stem_shapes(ctx, &net->stem1, &net->stem2, 1, c);
    if (b.st == SIM_OK) {
        size_t fan1 = (size_t)c->in_channels * c->stem_kernel * c->stem_kernel;
        size_t scr = stem_scratch_elems(&net->stem1, &net->stem2);
        size_t a1 = (size_t)C[0] * net->stem1.Ho * net->stem1.Wo;
        size_t total = fan1 * C[0] + C[0] + (size_t)C[0] * C[0] * 9 + C[0] + (size_t)nh * K * C3 +
                       (size_t)nh * K + (size_t)K * C3 + K + (size_t)K * K + K + scr + a1 +
                       (size_t)C[0] * R[0] * R[0];
        real *blk = mem_calloc(ctx, MEM_ENGINE, total + 16, sizeof *blk);
        if (!blk) {
            b.st = SIM_ENOMEM;
        } else {
            real *p = blk;
#define TAKE(dst, n)                                                                               \
    do {                                                                                           \
        dst = p;                                                                                   \
        p += (n);                                                                                  \
    } while (0)
            TAKE(net->stem_w1, fan1 * C[0]);
            TAKE(net->stem_b1, (size_t)C[0]);
            TAKE(net->stem_w2, (size_t)C[0] * C[0] * 9);
            TAKE(net->stem_b2, (size_t)C[0]);
            TAKE(net->head_w, (size_t)nh * K * C3);
            TAKE(net->head_b, (size_t)nh * K);
            TAKE(net->fh1_w, (size_t)K * C3);
            TAKE(net->fh1_b, (size_t)K);
            TAKE(net->fh2_w, (size_t)K * K);
            TAKE(net->fh2_b, (size_t)K);
            TAKE(net->scratch, scr);
            TAKE(net->a1, a1);
            TAKE(net->x, (size_t)C[0] * R[0] * R[0]);
#undef TAKE
            stem_fold(&b, net->stem_w1, net->stem_b1, net->stem_w2, net->stem_b2, c);
            for (int t = 0; t < nh; t++) {
                snprintf(pre, sizeof pre, "head%d/conv", t);
                fold_wsconv(&b, net->head_w + (size_t)t * K * C3, net->head_b + (size_t)t * K, K,
                            C3, pre);
            }
            snprintf(pre, sizeof pre, "head%d/conv1", T - 1);
            fold_wsconv(&b, net->fh1_w, net->fh1_b, K, C3, pre);
            snprintf(pre, sizeof pre, "head%d/conv2", T - 1);
            fold_wsconv(&b, net->fh2_w, net->fh2_b, K, K, pre);
        }
    }
    return trevnet_finish_build(ctx, net, &b, pops, NPOPS, projs, np, opts);
}

sim_status trevnet_finish_build(sim_ctx *ctx, trevnet *net, fold_builder *b, const pop_spec *pops,
                                int npop, const proj_spec *projs, int nproj,
                                const engine_opts *opts)
{
    if (b->st == SIM_OK) {
        net->stem_macs = conv2d_macs(&net->stem1) + conv2d_macs(&net->stem2);
        b->st = engine_create(ctx, &net->e, pops, npop, projs, nproj, opts);
    }
    fold_free_tmp(b);
    if (b->st != SIM_OK) {
        mem_free(ctx, net->stem_w1); /* the block holding all dense arrays */
        net->stem_w1 = NULL;
    }
    return b->st;
}

/* ---- the parts of running an image shared with lifnet_run_image ---- */

uint64_t trevnet_begin_image(sim_ctx *ctx, trevnet *net, const real *image, trevnet_stats *st)
{
    engine *e = &net->e;
    memset(st, 0, sizeof *st);
    engine_reset(e);
    engine_totals start;
    engine_get_totals(e, &start);
    /* the stem, once per image (LeakyReLU in place: nothing is kept) */
    stem_apply(ctx, net->x, net->a1, net->a1, image, net->stem_w1, net->stem_b1, net->stem_w2,
               net->stem_b2, (real)net->cfg.leaky_slope, net->scratch, &net->stem1, &net->stem2);
    st->stem_macs = net->stem_macs;
    engine_count_extra(e, (uint64_t)net->stem_macs, 0);
    return start.spikes;
}

sim_status trevnet_step_column(sim_ctx *ctx, trevnet *net, int t, trevnet_stats *st)
{
    engine *e = &net->e;
    const size_t nx = (size_t)net->cfg.channels[0] * net->stem2.Ho * net->stem2.Wo;
    engine_totals before, after;
    engine_get_totals(e, &before);
    sim_status s = engine_inject_values(ctx, e, net->pop_u0[0], net->x);
    if (s == SIM_OK)
        s = engine_step(ctx, e);
    if (s != SIM_OK)
        return s;
    engine_count_extra(e, 0, nx); /* x added into level 0's input */
    st->x_acs += (double)nx;
    engine_get_totals(e, &after);
    st->column_acs[t] = (double)(after.acs - before.acs);
    st->column_macs[t] = (double)(after.macs - before.macs);
    return SIM_OK;
}

void trevnet_spike_head(trevnet *net, real *logits, trevnet_stats *st)
{
    const int K = net->cfg.classes, C3 = net->cfg.channels[3];
    const int HW3 = engine_pop(&net->e, net->pop_turnon[3])->HW;
    real h[4096];
    assert(K <= 4096);
    /* each spike adds its channel's column of conv1 (the GAP's 1/HW applied once) */
    int32_t ns;
    const int32_t *ids = engine_spikes(&net->e, net->pop_turnon[3], &ns);
    for (int o = 0; o < K; o++)
        h[o] = 0;
    for (int32_t i = 0; i < ns; i++) {
        const int q = ids[i] / HW3;
        for (int o = 0; o < K; o++)
            h[o] += net->fh1_w[(size_t)o * C3 + q];
    }
    for (int o = 0; o < K; o++) {
        real v = h[o] / (real)HW3 + net->fh1_b[o];
        h[o] = v >= 0 ? v : (real)net->cfg.leaky_slope * v;
    }
    for (int o = 0; o < K; o++) {
        real acc = net->fh2_b[o];
        for (int q = 0; q < K; q++)
            acc += net->fh2_w[(size_t)o * K + q] * h[q];
        logits[o] = acc;
    }
    st->head_acs += (double)ns * K;
    st->head_macs += (double)K * K + K;
}

void trevnet_end_image(trevnet *net, trevnet_stats *st, uint64_t spikes0)
{
    engine_count_extra(&net->e, (uint64_t)st->head_macs, (uint64_t)st->head_acs);
    engine_totals tot;
    engine_get_totals(&net->e, &tot);
    st->spikes = tot.spikes - spikes0;
}

void trevnet_free(sim_ctx *ctx, trevnet *net)
{
    engine_free(ctx, &net->e);
    mem_free(ctx, net->stem_w1); /* the block holding all dense arrays */
    memset(net, 0, sizeof *net);
}

sim_status trevnet_run_image(sim_ctx *ctx, trevnet *net, const real *image, real *logits,
                             trevnet_stats *st)
{
    const trev_config *c = &net->cfg;
    const int T = c->T, K = c->classes, C3 = c->channels[3];
    engine *e = &net->e;
    const int HW3 = engine_pop(e, net->pop_turnon[3])->HW;
    trevnet_stats local;
    if (!st)
        st = &local;
    const uint64_t spikes0 = trevnet_begin_image(ctx, net, image, st);
    real g[4096];
    assert(C3 <= 4096 && K <= 4096);
    for (int t = 0; t < T; t++) {
        sim_status s = trevnet_step_column(ctx, net, t, st);
        if (s != SIM_OK)
            return s;
        if (c->inter_supv && t < T - 1) { /* real-valued readout of c_3^t */
            const real *s3 = engine_state(e, net->pop_turnon[3]); /* (H, W, C) */
            for (int q = 0; q < C3; q++)
                g[q] = 0;
            for (int p = 0; p < HW3; p++)
                for (int q = 0; q < C3; q++)
                    g[q] += s3[(size_t)p * C3 + q];
            for (int q = 0; q < C3; q++)
                g[q] /= (real)HW3;
            real *lg = logits + (size_t)t * K;
            for (int o = 0; o < K; o++) {
                real acc = net->head_b[(size_t)t * K + o];
                for (int q = 0; q < C3; q++)
                    acc += net->head_w[((size_t)t * K + o) * C3 + q] * g[q];
                lg[o] = acc;
            }
            st->head_acs += (double)C3 * HW3;
            st->head_macs += (double)K * C3;
        }
    }
    /* final head: spikes of c_3^T -> average -> conv1 -> LeakyReLU -> conv2 */
    trevnet_spike_head(net, logits + (size_t)(c->inter_supv ? T - 1 : 0) * K, st);
    trevnet_end_image(net, st, spikes0);
    return SIM_OK;
}
