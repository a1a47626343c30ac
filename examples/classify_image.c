/* classify_image.c - one Fashion-MNIST image through the event-driven
 * engine: load a checkpoint, turn the network into populations and
 * projections, run the image spike by spike for T timesteps and print the
 * predicted class, the logits of the final head and the spikes of every
 * population.
 *
 *   build/float/examples/classify_image [CKPT [IMAGE]]
 *
 * Without a checkpoint the program makes one: the fmnist preset with its
 * random initial weights, saved to a temporary file and loaded back like
 * any other (the prediction is then a guess, but every step is the real
 * one). Without Fashion-MNIST (Debian's dataset-fashion-mnist) it draws a
 * synthetic "trouser" instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "io/dataset.h"
#include "sim/ctx.h"
#include "topology/trevnet.h"

/* Two dark-to-bright legs on a black 28 x 28 background, normalized like
 * the dataset and centred in size x size: a crude pair of trousers. */
static void synthetic_image(real *img /* (1, S, S) */, const trev_config *c)
{
    const int S = c->input_size, off = (S - 28) / 2;
    for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++) {
            int leg = y >= 3 && y < 26 && ((x >= 7 && x < 13) || (x >= 15 && x < 21));
            int waist = y >= 3 && y < 7 && x >= 7 && x < 21;
            double v = leg || waist ? 200 / 255.0 : 0.0;
            img[(y + off) * S + x + off] = (real)((v - c->mean[0]) / c->std[0]);
        }
}

static int fail(sim_ctx *ctx)
{
    fprintf(stderr, "classify_image: %s\n", ctx_errmsg(ctx));
    return 1;
}

int main(int argc, char **argv)
{
    sim_ctx ctx;
    if (ctx_init(&ctx, 42) != SIM_OK)
        return 1;

    /* 1. A checkpoint: the one given, or a freshly initialized model. */
    char tmpdir[] = "/tmp/classify_image.XXXXXX", made[64] = "";
    const char *ckpt = argc > 1 ? argv[1] : NULL;
    if (!ckpt) {
        trev_config cfg;
        trev_model *fresh = NULL;
        if (!mkdtemp(tmpdir)) {
            perror("classify_image: mkdtemp");
            return 1;
        }
        snprintf(made, sizeof made, "%s/fmnist-random.h5", tmpdir);
        if (trev_preset(&ctx, &cfg, "fmnist") != SIM_OK ||
            trev_create(&ctx, &fresh, &cfg, 0) != SIM_OK ||
            ckpt_save(&ctx, made, fresh, NULL, NULL) != SIM_OK)
            return fail(&ctx);
        trev_destroy(&ctx, fresh);
        printf("no checkpoint given: saved the fmnist preset with random weights to %s\n", made);
        ckpt = made;
    }
    trev_model *m = NULL;
    if (ckpt_open_model(&ctx, ckpt, &m, 0 /* inference only */) != SIM_OK)
        return fail(&ctx);
    const trev_config *cfg = trev_cfg(m);

    /* 2. The event-driven network: every spike site a population of
     *    turn-off neurons, every turn-on state a population of turn-on
     *    neurons, the convolutions projections between them. */
    engine_opts eo = engine_opts_default(); /* 4.6 pJ per MAC, 0.9 pJ per AC */
    trevnet net;
    if (trevnet_build(&ctx, &net, m, &eo) != SIM_OK)
        return fail(&ctx);

    /* 3. One test image, normalized and zero-padded to the model's input. */
    const int S = cfg->input_size;
    real *img = mem_calloc(&ctx, MEM_DATA, (size_t)cfg->in_channels * S * S, sizeof *img);
    int nheads = cfg->inter_supv ? cfg->T : 1, K = cfg->classes;
    real *logits = mem_calloc(&ctx, MEM_DATA, (size_t)nheads * K, sizeof *logits);
    if (!img || !logits)
        return fail(&ctx);
    dataset ds;
    int idx = argc > 2 ? atoi(argv[2]) : 0, label = -1;
    if (dataset_load_fmnist(&ctx, &ds, NULL, 0 /* test split */) == SIM_OK) {
        dataset_norm nm = dataset_norm_fmnist;
        nm.size = S;
        if (idx < 0 || idx >= ds.n)
            idx = 0;
        if (dataset_batch(&ctx, &ds, img, &label, &idx, 1, &nm, NULL) != SIM_OK)
            return fail(&ctx);
        printf("Fashion-MNIST test image %d, label %d (%s)\n", idx, label,
               dataset_class_name(&ds, label));
    } else {
        printf("Fashion-MNIST not found (%s): using a synthetic trousers image\n",
               ctx_errmsg(&ctx));
        memset(&ds, 0, sizeof ds); /* only its name, for the class names below */
        snprintf(ds.name, sizeof ds.name, "fmnist");
        ds.classes = 10;
        synthetic_image(img, cfg);
    }

    /* 4. T timesteps, spike by spike. */
    trevnet_stats st;
    if (trevnet_run_image(&ctx, &net, img, logits, &st) != SIM_OK)
        return fail(&ctx);
    const real *fin = logits + (size_t)(nheads - 1) * K; /* the final head */
    int pred = 0;
    for (int k = 1; k < K; k++)
        pred = fin[k] > fin[pred] ? k : pred;
    printf("predicted class %d: %s%s\n", pred, dataset_class_name(&ds, pred),
           label < 0 ? "" : pred == label ? " (correct)" : " (wrong)");
    int flat = 1;
    for (int k = 1; k < K; k++)
        flat &= fin[k] == fin[0];
    printf("logits of the final head%s:\n",
           flat ? " (all equal: untrained heads start at zero, the class is arbitrary)" : "");
    for (int k = 0; k < K; k++)
        printf("  %d %-12s %9.4f%s\n", k, dataset_class_name(&ds, k), (double)fin[k],
               k == pred ? "  <-" : "");
    printf("spikes per population over T = %d timesteps (%llu in all):\n", cfg->T,
           (unsigned long long)st.spikes);
    for (int p = 0; p < net.e.npop; p++) {
        const population *pp = engine_pop(&net.e, p);
        if (pp->model == NEURON_RELAY) /* relays pass real values on, they never spike */
            continue;
        printf("  %-14s %7d neurons %8llu spikes  rate %.4f\n", pp->name, (int)pp->n,
               (unsigned long long)pp->spikes_total,
               (double)pp->spikes_total / ((double)pp->n * cfg->T));
    }
    double acs = 0, macs = 0;
    for (int t = 0; t < cfg->T; t++)
        acs += st.column_acs[t], macs += st.column_macs[t];
    printf("operations: the stem %.0f MACs once, the columns %.0f ACs and %.0f MACs, the heads "
           "%.0f\n", st.stem_macs, acs, macs, st.head_macs + st.head_acs);

    dataset_free(&ctx, &ds);
    mem_free(&ctx, img);
    mem_free(&ctx, logits);
    trevnet_free(&ctx, &net);
    trev_destroy(&ctx, m);
    ctx_free(&ctx);
    if (made[0]) {
        unlink(made);
        rmdir(tmpdir);
    }
    return 0;
}
