/* train_step.c - the library in 60 lines: build the fmnist T-RevSNN, take
 * one reversible training step on 16 Fashion-MNIST test images, and print
 * the loss, the firing rate and what each memory role costs.
 *
 *   make && build/float/examples/train_step
 */
#include <stdio.h>

#include "io/dataset.h"
#include "sim/ctx.h"
#include "topology/trevsnn.h"

int main(void)
{
    enum { N = 16 };
    sim_ctx ctx;
    trev_config cfg;
    trev_model *m;
    dataset test;
    if (ctx_init(&ctx, 42) != SIM_OK || trev_preset(&ctx, &cfg, "fmnist") != SIM_OK ||
        trev_create(&ctx, &m, &cfg, 1 /* with gradients */) != SIM_OK ||
        dataset_load_fmnist(&ctx, &test, NULL, 0 /* test split */) != SIM_OK) {
        fprintf(stderr, "train_step: %s\n", ctx_errmsg(&ctx));
        return 1;
    }
    /* plan and allocate activations for batches of N in reversible mode */
    if (trev_prepare(&ctx, m, N, TREV_REV) != SIM_OK) {
        fprintf(stderr, "train_step: %s\n", ctx_errmsg(&ctx));
        return 1;
    }
    /* a batch: normalized, zero-padded 28 -> 32, channel-major (C, N, 32, 32) */
    static real images[N * 32 * 32];
    int labels[N], idx[N];
    for (int i = 0; i < N; i++)
        idx[i] = i;
    dataset_batch(&ctx, &test, images, labels, idx, N, &dataset_norm_fmnist, NULL);

    trev_step res;
    trev_zero_grads(m);
    if (trev_train_step(&ctx, m, images, labels, N, &res, 0) != SIM_OK) {
        fprintf(stderr, "train_step: %s\n", ctx_errmsg(&ctx));
        return 1;
    }
    double spikes = 0, sites = 0;
    for (int k = 0; k < res.nsites; k++) {
        spikes += res.site_spikes[k];
        sites += res.site_total[k];
    }
    printf("T-RevSNN fmnist preset: %zu parameters, T = %d\n", trev_count_learnable(m), cfg.T);
    printf("loss %.4f (final head cross-entropy %.4f), firing rate %.3f over %d spike sites\n",
           res.loss, res.head_loss[res.nheads - 1], spikes / sites, res.nsites);
    mem_report(&ctx, stdout);

    dataset_free(&ctx, &test);
    trev_destroy(&ctx, m);
    ctx_free(&ctx);
    return 0;
}
