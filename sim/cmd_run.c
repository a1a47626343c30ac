/* cmd_run.c - `sim run`: test images, one after another, through the
 * event-driven engine (topology/trevnet.h): accuracy, spikes and firing
 * rates per population and timestep, accumulates and multiply-accumulates,
 * energy per image (counted, and the literature estimate), time per image,
 * and the O(1) breakdown (the stem once per image, each column's work). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "analysis/summary.h"
#include "io/checkpoint.h"
#include "io/dataset.h"
#include "io/trace.h"
#include "sim/version.h"
#include "sim/cli.h"
#include "sim/cmd_parse.h"
#include "sim/commands.h"
#include "sim/progress.h"
#include "topology/lifnet.h"
#include "topology/trevnet.h"

#define MAXPOP 64

typedef struct {
    uint64_t spikes[MAXPOP][TREV_MAXT]; /* summed over images */
    /* tracing (tr NULL: off): the sample's position in the run and scratch */
    sim_ctx *ctx;
    trace *tr;
    int64_t sample, T;
    proj_counters step[4 * MAXPOP];
    int trace_pop[MAXPOP]; /* trace population of an engine population, -1: not traced */
    sim_status st;         /* first trace error */
} run_log;

/* After every timestep: spike counts, and the spikes and counters into the
 * trace (image i of the run occupies timesteps [i T, (i+1) T)). */
static void on_step(void *ud, const engine *e, int64_t t)
{
    run_log *lg = ud;
    for (int p = 0; p < e->npop && p < MAXPOP; p++) {
        int32_t n;
        const int32_t *ids = engine_spikes(e, p, &n);
        lg->spikes[p][t] += (uint64_t)n;
        if (lg->tr && lg->st == SIM_OK && lg->trace_pop[p] >= 0)
            lg->st = trace_spikes(lg->ctx, lg->tr, lg->trace_pop[p], lg->sample * lg->T + t, ids,
                                  n);
    }
    if (lg->tr && lg->st == SIM_OK) {
        for (int j = 0; j < e->nproj; j++)
            lg->step[j] = engine_proj(e, j)->step;
        lg->st = trace_energy(lg->ctx, lg->tr, lg->sample, t, lg->step);
    }
}

/* CRC32 of a file as 8 hex digits (for the trace's /meta). */
static void file_crc32(const char *path, char out[16])
{
    snprintf(out, 16, "unreadable");
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    unsigned long crc = crc32(0L, Z_NULL, 0);
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        crc = crc32(crc, buf, (uInt)n);
    fclose(f);
    snprintf(out, 16, "%08lx", crc);
}

/* Open the trace for this network: the spiking populations (relays never
 * spike and are left out) and every projection, by name. */
static sim_status open_trace(sim_ctx *ctx, run_log *lg, const char *path, const trevnet *net,
                             const char *model, const char *cmdline, const engine_opts *eo)
{
    const engine *e = &net->e;
    const char *pn[MAXPOP];
    int32_t ps[MAXPOP];
    int np = 0;
    static char projn[4 * MAXPOP][160];
    const char *pjn[4 * MAXPOP];
    for (int p = 0; p < e->npop; p++) {
        lg->trace_pop[p] = -1;
        if (engine_pop(e, p)->model == NEURON_RELAY)
            continue;
        lg->trace_pop[p] = np;
        pn[np] = engine_pop(e, p)->name;
        ps[np++] = engine_pop(e, p)->n;
    }
    for (int j = 0; j < e->nproj; j++) {
        const projection *pr = engine_proj(e, j);
        snprintf(projn[j], sizeof projn[j], "%s->%s", engine_pop(e, pr->src)->name,
                 engine_pop(e, pr->dst)->name);
        pjn[j] = projn[j];
    }
    char crc[16];
    file_crc32(model, crc);
    trace_meta meta = {net->cfg.preset, model, crc, SIM_VERSION, cmdline, 1.0, net->cfg.T,
                       eo->e_mac_pj, eo->e_ac_pj};
    return trace_create(ctx, &lg->tr, path, &meta, pn, ps, np, pjn, e->nproj);
}

/* Energy constants per operation (model.md §5). */
static sim_status energy_preset(sim_ctx *ctx, const char *s, engine_opts *o)
{
    if (!strcmp(s, "fp32")) {
        o->e_mac_pj = 4.6, o->e_ac_pj = 0.9;
    } else if (!strcmp(s, "fp16")) {
        o->e_mac_pj = 1.5, o->e_ac_pj = 0.4;
    } else if (!strcmp(s, "int8")) {
        o->e_mac_pj = 0.23, o->e_ac_pj = 0.03;
    } else {
        return ctx_error(ctx, SIM_EINVAL, "--energy: expected fp32, fp16 or int8, found '%s'", s);
    }
    return SIM_OK;
}

/* The dense inference path on the same images, for comparison: median
 * latency at batch 1 and throughput at batch 64 (from the median batch). */
static sim_status time_dense(sim_ctx *ctx, trev_model *m, const dataset *ds,
                             const dataset_norm *nm, long first, long count, double *ms1,
                             double *ips64, int *pred, double *spikes)
{
    const trev_config *c = trev_cfg(m);
    const int B = 64, nheads = c->inter_supv ? c->T : 1;
    size_t px = (size_t)c->in_channels * c->input_size * c->input_size;
    real *img = mem_calloc(ctx, MEM_DATA, px * B, sizeof *img);
    real *lg = mem_calloc(ctx, MEM_DATA, (size_t)nheads * c->classes * B, sizeof *lg);
    double *t1 = calloc((size_t)count, sizeof *t1), *scr = calloc((size_t)count, sizeof *scr);
    double *tb = calloc((size_t)count, sizeof *tb);
    int idx[64];
    sim_status st = img && lg && t1 && scr && tb ? trev_prepare(ctx, m, B, TREV_REV) : SIM_ENOMEM;
    for (long i = 0; i < count && st == SIM_OK; i++) {
        idx[0] = (int)(first + i);
        double t0 = progress_now();
        st = dataset_batch(ctx, ds, img, NULL, idx, 1, nm, NULL);
        trev_step rec;
        if (st == SIM_OK)
            st = trev_infer_rec(ctx, m, img, 1, lg, &rec);
        t1[i] = 1e3 * (progress_now() - t0);
        const real *fin = lg + (size_t)(nheads - 1) * c->classes;
        pred[i] = 0;
        for (int k = 1; k < c->classes; k++)
            pred[i] = fin[k] > fin[pred[i]] ? k : pred[i];
        /* the turn-off sites (block inputs and hidden layers): per column and
         * level, after the Down and Up sites, come h1, s1, h2, s2 */
        spikes[i] = 0;
        if (c->model == TREV_MODEL_LIF) /* the LIF baseline: every site is a LIF population */
            for (int k = 0; k < rec.nsites; k++)
                spikes[i] += rec.site_spikes[k];
        for (int t = 0, k = 0; c->model == TREV_MODEL_TREVSNN && t < c->T; t++)
            for (int l = 0; l < TREV_LEVELS; l++) {
                k += (l > 0) + (t > 0 && l < 3);
                for (int j = 0; j < 4; j++, k++)
                    spikes[i] += rec.site_spikes[k];
            }
    }
    /* batch 64: the median over batches of the time per image, the same
     * statistic as the engine's median latency (a mean would charge the
     * dense path, and not the engine, with the shared machine's hiccups) */
    long nbat = 0;
    for (long i = 0; i < count && st == SIM_OK; i += B) {
        int nb = (int)(count - i < B ? count - i : B);
        for (int j = 0; j < nb; j++)
            idx[j] = (int)(first + i + j);
        double t0 = progress_now();
        st = dataset_batch(ctx, ds, img, NULL, idx, nb, nm, NULL);
        if (st == SIM_OK)
            st = trev_infer(ctx, m, img, nb, lg);
        scr[nbat++] = (progress_now() - t0) / nb;
    }
    if (st == SIM_OK) {
        summary sm;
        summary_of(&sm, scr, (size_t)nbat, tb);
        const double per_image = sm.median;
        summary_of(&sm, t1, (size_t)count, scr);
        *ms1 = sm.median;
        *ips64 = per_image > 0 ? 1 / per_image : 0;
    }
    free(t1), free(scr), free(tb);
    mem_free(ctx, img);
    mem_free(ctx, lg);
    return st;
}

static const cli_opt run_opts_tab[] = {
    {"model", "CKPT", "checkpoint to run (required)"},
    {"data", "SPEC", "fmnist[:DIR] (default) or cifar10:DIR; the test split is used"},
    {"images", "N", "run the first N test images (default 100)"},
    {"range", "A:B", "run test images A..B-1"},
    {"trace", "OUT.h5", "write spikes, samples and counters (SONATA layout, see README)"},
    {"energy", "P", "energy constants: fp32 (default: 4.6 pJ/MAC, 0.9 pJ/AC), fp16, int8"},
    {"threads", "N", "threads for the stem and the dense path of --compare-dense (default 1; "
                     "the engine is sequential)"},
    {"json", NULL, "print the results as JSON"},
    {"compare-dense", NULL, "also time the dense inference path on the same images (batch 1 and 64)"},
    {"quiet", NULL, "no progress output"},
    {"help", NULL, "this text"},
    {NULL, NULL, NULL},
};

/* "A:B" with 0 <= A < B <= RUN_MAX_IMAGES, nothing after B. */
static sim_status parse_range(sim_ctx *ctx, const char *val, long *first, long *count)
{
    long a = -1, b = -1;
    char tail;
    if (sscanf(val, "%ld:%ld%c", &a, &b, &tail) != 2 || a < 0 || b <= a || b > RUN_MAX_IMAGES)
        return ctx_error(ctx, SIM_EINVAL, "--range: expected A:B with 0 <= A < B <= %ld, found "
                         "'%s'", (long)RUN_MAX_IMAGES, val);
    *first = a;
    *count = b - a;
    return SIM_OK;
}

int cmd_run_parse(sim_ctx *ctx, int argc, char **argv, run_opts *o)
{
    memset(o, 0, sizeof *o);
    o->data = "fmnist";
    o->count = 100;
    o->threads = 1;
    engine_opts eo = engine_opts_default();
    o->e_mac_pj = eo.e_mac_pj;
    o->e_ac_pj = eo.e_ac_pj;
    for (int i = 1; i < argc;) {
        const char *val;
        int k = cli_next(ctx, argc, argv, &i, run_opts_tab, &val, NULL);
        if (k < 0)
            return -1;
        const char *n = run_opts_tab[k].name;
        sim_status st = SIM_OK;
        if (!strcmp(n, "help")) {
            return 1;
        } else if (!strcmp(n, "model")) {
            o->model = val;
        } else if (!strcmp(n, "data")) {
            o->data = val;
        } else if (!strcmp(n, "trace")) {
            o->trace = val;
        } else if (!strcmp(n, "images")) {
            st = cli_long(ctx, n, val, 1, RUN_MAX_IMAGES, &o->count);
            o->first = 0; /* the first N: the last of --images / --range wins */
            o->have_range = 0;
        } else if (!strcmp(n, "range")) {
            st = parse_range(ctx, val, &o->first, &o->count);
            o->have_range = 1;
        } else if (!strcmp(n, "energy")) {
            eo = engine_opts_default();
            st = energy_preset(ctx, val, &eo);
            o->e_mac_pj = eo.e_mac_pj;
            o->e_ac_pj = eo.e_ac_pj;
        } else if (!strcmp(n, "threads")) {
            st = cli_long(ctx, n, val, 1, 256, &o->threads);
        } else if (!strcmp(n, "json")) {
            o->json = 1;
        } else if (!strcmp(n, "quiet")) {
            o->quiet = 1;
        } else if (!strcmp(n, "compare-dense")) {
            o->compare = 1;
        }
        if (st != SIM_OK)
            return -1;
    }
    if (!o->model) {
        ctx_error(ctx, SIM_EINVAL, "run: --model CKPT is required");
        return -1;
    }
    return 0;
}

int cmd_run(int argc, char **argv)
{
    sim_ctx ctx;
    if (ctx_init(&ctx, 1) != SIM_OK)
        return 1;
    run_opts ro;
    int parsed = cmd_run_parse(&ctx, argc, argv, &ro);
    if (parsed > 0) {
        cli_help(stdout, "sim run --model CKPT [--data SPEC] [--images N | --range A:B] [--json]",
                 "Run test images one after another through the event-driven engine and report\n"
                 "accuracy, spikes, firing rates, synaptic operations, energy and time per image.",
                 run_opts_tab);
        ctx_free(&ctx);
        return 0;
    }
    if (parsed < 0)
        return cmd_fail("run", &ctx);
    const char *model = ro.model, *data = ro.data, *trace_path = ro.trace;
    const long first = ro.first, count = ro.count;
    const int json = ro.json, quiet = ro.quiet, have_range = ro.have_range, compare = ro.compare;
    engine_opts eo = engine_opts_default();
    eo.e_mac_pj = ro.e_mac_pj;
    eo.e_ac_pj = ro.e_ac_pj;
    sim_status st = SIM_OK;
    ctx_set_threads(&ctx, (int)ro.threads);

    trev_model *m = NULL;
    if (ckpt_open_model(&ctx, model, &m, 0) != SIM_OK)
        return cmd_fail("run", &ctx);
    const trev_config *cfg = trev_cfg(m);
    char name[32];
    const char *colon = strchr(data, ':');
    snprintf(name, sizeof name, "%.*s", colon ? (int)(colon - data) : (int)strlen(data), data);
    dataset ds;
    if (dataset_load(&ctx, &ds, name, colon && colon[1] ? colon + 1 : NULL, 0) != SIM_OK) {
        trev_destroy(&ctx, m);
        return cmd_fail("run", &ctx);
    }
    if (first + count > ds.n) {
        ctx_error(&ctx, SIM_ERANGE, "--%s: images %ld..%ld requested, the %s test split has %d",
                  have_range ? "range" : "images", first, first + count - 1, ds.name, ds.n);
        dataset_free(&ctx, &ds);
        trev_destroy(&ctx, m);
        return cmd_fail("run", &ctx);
    }
    if (ds.c != cfg->in_channels || ds.h > cfg->input_size || ds.classes != cfg->classes) {
        ctx_error(&ctx, SIM_EINVAL,
                  "--data %s: images are %dx%dx%d with %d classes, the model %s expects %d "
                  "channel(s), at most %dx%d, %d classes",
                  data, ds.c, ds.h, ds.w, ds.classes, model, cfg->in_channels, cfg->input_size,
                  cfg->input_size, cfg->classes);
        dataset_free(&ctx, &ds);
        trev_destroy(&ctx, m);
        return cmd_fail("run", &ctx);
    }

    run_log *lg = calloc(1, sizeof *lg);
    eo.on_step = on_step;
    eo.ud = lg;
    trevnet net;
    /* the checkpoint's model decides the network (trevnet.h or lifnet.h) */
    const int lif = cfg->model == TREV_MODEL_LIF;
    if (!lg || (lif ? lifnet_build : trevnet_build)(&ctx, &net, m, &eo) != SIM_OK) {
        free(lg);
        dataset_free(&ctx, &ds);
        trev_destroy(&ctx, m);
        return cmd_fail("run", &ctx);
    }
    /* an unwritable trace path fails here, before any simulation work */
    if (trace_path) {
        char cmdline[2048] = "sim ";
        cli_join(cmdline + 4, sizeof cmdline - 4, argc, argv);
        lg->ctx = &ctx;
        lg->T = trev_cfg(m)->T;
        if (net.e.nproj > 4 * MAXPOP || net.e.npop > MAXPOP ||
            open_trace(&ctx, lg, trace_path, &net, model, cmdline, &eo) != SIM_OK) {
            free(lg);
            trevnet_free(&ctx, &net);
            dataset_free(&ctx, &ds);
            trev_destroy(&ctx, m);
            return cmd_fail("run", &ctx);
        }
    }
    const int T = cfg->T, K = cfg->classes, nheads = cfg->inter_supv ? T : 1;
    dataset_norm nm;
    memset(&nm, 0, sizeof nm);
    nm.c = cfg->in_channels;
    for (int c = 0; c < nm.c && c < 3; c++)
        nm.mean[c] = cfg->mean[c], nm.std[c] = cfg->std[c] > 0 ? cfg->std[c] : 1;
    nm.size = cfg->input_size;
    size_t npix = (size_t)cfg->in_channels * cfg->input_size * cfg->input_size;
    real *img = mem_calloc(&ctx, MEM_DATA, npix, sizeof *img);
    real *logits = mem_calloc(&ctx, MEM_DATA, (size_t)nheads * K, sizeof *logits);
    double *ms = calloc((size_t)count, sizeof *ms), *en = calloc((size_t)count, sizeof *en);
    double *spk = calloc((size_t)count, sizeof *spk), *scratch = calloc((size_t)count, sizeof *scratch);
    double *spk_sites = calloc((size_t)count, sizeof *spk_sites);
    int *epred = calloc((size_t)count, sizeof *epred);
    if (!img || !logits || !ms || !en || !spk || !scratch || !spk_sites || !epred)
        st = SIM_ENOMEM;
    long correct = 0;
    double off_before = 0; /* turn-off spikes of the images before this one */
    double col_acs[TREV_MAXT] = {0}, col_macs[TREV_MAXT] = {0}, stem_macs = 0, head_ops = 0;
    progress bar;
    if (!quiet)
        progress_begin(&bar, stderr, "run", count);
    engine_reset_counters(&net.e);
    for (long i = 0; i < count && st == SIM_OK; i++) {
        int idx = (int)(first + i), label;
        engine_totals before, after;
        engine_get_totals(&net.e, &before);
        double t0 = progress_now();
        st = dataset_batch(&ctx, &ds, img, &label, &idx, 1, &nm, NULL);
        trevnet_stats rs;
        lg->sample = i;
        if (st == SIM_OK)
            st = (lif ? lifnet_run_image : trevnet_run_image)(&ctx, &net, img, logits, &rs);
        if (st == SIM_OK)
            st = lg->st;
        if (st != SIM_OK)
            break;
        ms[i] = 1e3 * (progress_now() - t0);
        engine_get_totals(&net.e, &after);
        const real *fin = logits + (size_t)(nheads - 1) * K;
        int pred = 0;
        for (int k = 1; k < K; k++)
            pred = fin[k] > fin[pred] ? k : pred;
        correct += pred == label;
        epred[i] = pred;
        spk_sites[i] = 0;
        for (int p = 0; p < net.e.npop; p++) {
            const population *pp = engine_pop(&net.e, p);
            if (pp->model == NEURON_TURN_OFF || pp->model == NEURON_LIF)
                spk_sites[i] += (double)pp->spikes_total;
        }
        spk_sites[i] -= off_before;
        off_before += spk_sites[i];
        en[i] = after.energy_pj - before.energy_pj;
        spk[i] = (double)(after.spikes - before.spikes);
        if (lg->tr) {
            trace_sample_row row = {idx, i * T, label, pred, after.spikes - before.spikes, en[i],
                                    after.energy_lit_pj - before.energy_lit_pj};
            st = trace_sample(&ctx, lg->tr, &row);
        }
        for (int t = 0; t < T; t++) {
            col_acs[t] += rs.column_acs[t];
            col_macs[t] += rs.column_macs[t];
        }
        stem_macs += rs.stem_macs;
        head_ops += rs.head_macs + rs.head_acs;
        if (!quiet) {
            char info[96];
            snprintf(info, sizeof info, "acc %.3f  %.2f ms/image", (double)correct / (i + 1),
                     ms[i]);
            progress_update(&bar, i + 1, info);
        }
    }
    if (!quiet && st == SIM_OK)
        progress_end(&bar, "");
    if (lg->tr) { /* committed only when the whole run succeeded */
        if (st == SIM_OK)
            st = trace_close(&ctx, lg->tr);
        else
            trace_abort(&ctx, lg->tr);
        lg->tr = NULL;
    }
    double dense_ms1 = 0, dense_ips64 = 0, dense_spikes = 0, eng_spikes = 0;
    long same_class = 0;
    if (st == SIM_OK && compare) {
        int *dpred = calloc((size_t)count, sizeof *dpred);
        double *dspk = calloc((size_t)count, sizeof *dspk);
        st = dpred && dspk ? time_dense(&ctx, m, &ds, &nm, first, count, &dense_ms1, &dense_ips64,
                                        dpred, dspk)
                           : SIM_ENOMEM;
        for (long i = 0; st == SIM_OK && i < count; i++) {
            same_class += dpred[i] == epred[i];
            dense_spikes += dspk[i];
            eng_spikes += spk_sites[i];
        }
        free(dpred);
        free(dspk);
    }
    if (st == SIM_OK) {
        engine_totals tot;
        engine_get_totals(&net.e, &tot);
        const double n = (double)count;
        summary sm_ms, sm_en, sm_spk;
        summary_of(&sm_ms, ms, (size_t)count, scratch);
        summary_of(&sm_en, en, (size_t)count, scratch);
        summary_of(&sm_spk, spk, (size_t)count, scratch);
        const engine *e = &net.e;
        if (json) {
            printf("{\"model\": \"%s\", \"images\": %ld, \"first\": %ld, \"accuracy\": %.5f, "
                   "\"spikes_per_image\": %.1f, \"acs_per_image\": %.1f, \"macs_per_image\": %.1f, "
                   "\"energy_uj_per_image\": %.6f, \"energy_lit_uj_per_image\": %.6f, "
                   "\"ms_per_image\": {\"median\": %.4f, \"mean\": %.4f, \"q95\": %.4f}, "
                   "\"dense_ms_per_image_batch1\": %.4f, \"dense_images_per_s_batch64\": %.1f, "
                   "\"dense_same_class\": %ld, \"dense_turnoff_spikes\": %.0f, \"engine_turnoff_spikes\": %.0f, "
                   "\"stem_macs_per_image\": %.0f, \"column_acs_per_image\": [",
                   model, count, first, correct / n, tot.spikes / n, tot.acs / n, tot.macs / n,
                   tot.energy_pj / n * 1e-6, tot.energy_lit_pj / n * 1e-6, sm_ms.median,
                   sm_ms.mean, sm_ms.q95, dense_ms1, dense_ips64, same_class, dense_spikes,
                   eng_spikes, stem_macs / n);
            for (int t = 0; t < T; t++)
                printf("%s%.1f", t ? ", " : "", col_acs[t] / n);
            printf("], \"column_macs_per_image\": [");
            for (int t = 0; t < T; t++)
                printf("%s%.1f", t ? ", " : "", col_macs[t] / n);
            printf("], \"populations\": [");
            for (int p = 0; p < e->npop; p++) {
                const population *pp = engine_pop(e, p);
                printf("%s{\"name\": \"%s\", \"neurons\": %d, \"spikes_per_image\": %.2f, "
                       "\"rate\": [",
                       p ? ", " : "", pp->name, pp->n, (double)pp->spikes_total / n);
                for (int t = 0; t < T; t++)
                    printf("%s%.5f", t ? ", " : "", lg->spikes[p][t] / (n * pp->n));
                printf("]}");
            }
            printf("], \"projections\": [");
            for (int j = 0; j < e->nproj; j++) {
                const projection *pr = engine_proj(e, j);
                printf("%s{\"src\": \"%s\", \"dst\": \"%s\", \"map\": \"%s\", \"kind\": \"%s\", "
                       "\"events\": %.1f, \"acs\": %.1f, \"macs\": %.1f, \"sop\": %.1f}",
                       j ? ", " : "", engine_pop(e, pr->src)->name, engine_pop(e, pr->dst)->name,
                       proj_map_name(pr->map), proj_kind_name(pr->kind), pr->total.events / n,
                       pr->total.acs / n, pr->total.macs / n, pr->total.sop / n);
            }
            printf("]}\n");
        } else {
            printf("%s: %ld test images from %ld, accuracy %.2f%%\n", model, count, first,
                   100.0 * correct / n);
            printf("per image: %.0f spikes (sd %.0f), %.0f ACs, %.0f MACs, energy %.3f uJ counted "
                   "(literature estimate %.3f uJ), %.3f ms median (%.3f ms 95th pct)\n",
                   tot.spikes / n, sm_spk.sd, tot.acs / n, tot.macs / n, tot.energy_pj / n * 1e-6,
                   tot.energy_lit_pj / n * 1e-6, sm_ms.median, sm_ms.q95);
            if (compare) {
                printf("dense inference path on the same images: %.3f ms per image at batch 1 "
                       "(event-driven %.3f ms), %.0f images/s at batch 64 (event-driven %.0f)\n",
                       dense_ms1, sm_ms.median, dense_ips64, 1e3 / sm_ms.mean);
                printf("engine vs dense: same predicted class on %ld of %ld images; turn-off "
                       "spikes %.0f vs %.0f (relative difference %.2g)\n",
                       same_class, count, eng_spikes, dense_spikes,
                       dense_spikes > 0 ? fabs(eng_spikes - dense_spikes) / dense_spikes : 0.0);
            }
            printf("O(1) encoding: the stem costs %.0f MACs once per image; per column (timestep):\n",
                   stem_macs / n);
            printf("  %-4s %14s %14s\n", "t", "ACs/image", "MACs/image");
            for (int t = 0; t < T; t++)
                printf("  %-4d %14.0f %14.0f\n", t, col_acs[t] / n, col_macs[t] / n);
            printf("  heads: %.0f operations per image\n", head_ops / n);
            printf("firing rate per population and timestep:\n  %-16s", "population");
            for (int t = 0; t < T; t++)
                printf(" %8s%d", "t=", t);
            printf("\n");
            for (int p = 0; p < e->npop; p++) {
                const population *pp = engine_pop(e, p);
                if (pp->model == NEURON_RELAY)
                    continue;
                printf("  %-16s", pp->name);
                for (int t = 0; t < T; t++)
                    printf(" %9.4f", lg->spikes[p][t] / (n * pp->n));
                printf("\n");
            }
        }
    }
    free(ms), free(en), free(spk), free(scratch), free(lg), free(spk_sites), free(epred);
    mem_free(&ctx, img);
    mem_free(&ctx, logits);
    trevnet_free(&ctx, &net);
    dataset_free(&ctx, &ds);
    trev_destroy(&ctx, m);
    if (st != SIM_OK)
        return cmd_fail("run", &ctx);
    ctx_free(&ctx);
    return 0;
}
