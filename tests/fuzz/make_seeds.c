/* make_seeds.c - writes the small HDF5 seeds of tests/fuzz/corpus/checkpoint/
 * (the committed files were made with it; the large full checkpoint seed
 * comes from a one-step `sim --train` run, see docs/reliability.md):
 *
 *   make_seeds DIR
 *
 * weights_t1.h5   a weights-only checkpoint of the smallest model
 * attrs_only.h5   format, version and config, no tensors
 * bad_format.h5   a wrong format attribute
 * huge_config.h5  a config whose parameter count exceeds CKPT_MAX_VALUES */
#include <stdio.h>
#include <string.h>

#include "io/checkpoint.h"

static int attrs_file(sim_ctx *ctx, const char *path, const char *format, const char *config)
{
    h5_file f;
    if (h5_create(ctx, &f, path) != SIM_OK || h5_set_attr_str(ctx, &f, "/", "format", format) ||
        h5_set_attr_int(ctx, &f, "/", "version", CKPT_VERSION) ||
        h5_set_attr_str(ctx, &f, "/", "config", config) || h5_close(ctx, &f) != SIM_OK) {
        fprintf(stderr, "%s: %s\n", path, ctx_errmsg(ctx));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds DIR\n");
        return 2;
    }
    sim_ctx ctx;
    ctx_init(&ctx, 1);
    trev_config cfg;
    trev_preset(&ctx, &cfg, "fmnist");
    cfg.T = 1;
    for (int l = 0; l < TREV_LEVELS; l++)
        cfg.channels[l] = 1;
    cfg.inter_supv = 0;
    trev_model *m;
    char path[4200], json[2048];
    if (trev_create(&ctx, &m, &cfg, 0) != SIM_OK)
        return 1;
    snprintf(path, sizeof path, "%s/weights_t1.h5", argv[1]);
    if (ckpt_save(&ctx, path, m, NULL, NULL) != SIM_OK) {
        fprintf(stderr, "%s\n", ctx_errmsg(&ctx));
        return 1;
    }
    trev_destroy(&ctx, m);
    trev_config_json(&cfg, json, sizeof json);
    int rc = 0;
    snprintf(path, sizeof path, "%s/attrs_only.h5", argv[1]);
    rc |= attrs_file(&ctx, path, CKPT_FORMAT, json);
    snprintf(path, sizeof path, "%s/bad_format.h5", argv[1]);
    rc |= attrs_file(&ctx, path, "something-else", json);
    for (int l = 0; l < TREV_LEVELS; l++)
        cfg.channels[l] = 65536;
    trev_config_json(&cfg, json, sizeof json);
    snprintf(path, sizeof path, "%s/huge_config.h5", argv[1]);
    rc |= attrs_file(&ctx, path, CKPT_FORMAT, json);
    ctx_free(&ctx);
    return rc;
}
