/* cmd_info.c - `sim info`: parameter count, MACs per image and the bytes
 * each memory role takes for training at a batch size, in both modes. */
#include <stdio.h>
#include <string.h>

#include "sim/cli.h"
#include "sim/cmd_parse.h"
#include "sim/commands.h"

int cmd_fail(const char *cmd, sim_ctx *ctx)
{
    fprintf(stderr, "sim %s: %s\n", cmd, ctx_errmsg(ctx));
    int rc = ctx->last_status == SIM_EINVAL ? 2 : 1;
    ctx_free(ctx);
    return rc;
}

static const cli_opt opts[] = {
    CLI_MODEL_OPTS,
    {"batch", "N", "batch size for the memory figures (default 64)"},
    {"threads", "N", "training threads (default 1); 2 or more split the batch, each with its "
                     "own gradients"},
    {"json", NULL, "print JSON"},
    {"help", NULL, "this text"},
    {NULL, NULL, NULL},
};

int cmd_info_parse(sim_ctx *ctx, int argc, char **argv, trev_config *cfg, long *batch, int *json)
{
    cli_model cm;
    cli_model_begin(&cm);
    *batch = 64;
    *json = 0;
    for (int i = 1; i < argc;) {
        const char *val;
        int k = cli_next(ctx, argc, argv, &i, opts, &val, NULL);
        if (k < 0)
            return -1;
        const char *name = opts[k].name;
        int r = cli_model_option(ctx, &cm, name, val);
        if (r < 0)
            return -1;
        if (r)
            continue;
        if (!strcmp(name, "batch") && cli_long(ctx, "batch", val, 1, 4096, batch) != SIM_OK)
            return -1;
        if (!strcmp(name, "threads")) {
            long t;
            if (cli_long(ctx, "threads", val, 1, 256, &t) != SIM_OK)
                return -1;
            ctx_set_threads(ctx, (int)t); /* the memory plan depends on it */
        }
        if (!strcmp(name, "json"))
            *json = 1;
        if (!strcmp(name, "help"))
            return 1;
    }
    return cli_model_config(ctx, &cm, cfg) == SIM_OK ? 0 : -1;
}

int cmd_info(int argc, char **argv)
{
    sim_ctx ctx;
    if (ctx_init(&ctx, 1) != SIM_OK)
        return 1;
    long batch = 64;
    int json = 0;
    trev_config cfg;
    int pr = cmd_info_parse(&ctx, argc, argv, &cfg, &batch, &json);
    if (pr > 0) {
        cli_help(stdout, "sim info [--preset P] [--T N] [--batch N] [--threads N] [--json]",
                 "Parameter count, forward MACs per image and training memory per role\n"
                 "(reversible and plain mode) of a T-RevSNN configuration.",
                 opts);
        ctx_free(&ctx);
        return 0;
    }
    trev_model *m = NULL;
    if (pr < 0 || trev_create(&ctx, &m, &cfg, 0) != SIM_OK)
        return cmd_fail("info", &ctx);
    size_t rev[MEM_NROLES], plain[MEM_NROLES];
    if (trev_plan_bytes(&ctx, m, (int)batch, TREV_REV, rev) != SIM_OK ||
        trev_plan_bytes(&ctx, m, (int)batch, TREV_PLAIN, plain) != SIM_OK) {
        trev_destroy(&ctx, m);
        return cmd_fail("info", &ctx);
    }
    size_t params = trev_count_learnable(m);
    double macs = trev_macs_per_image(m);
    static const mem_role roles[] = {MEM_PARAMS, MEM_GRADS, MEM_ACTS, MEM_SCRATCH};
    if (json) {
        char cj[2048];
        trev_config_json(&cfg, cj, sizeof cj);
        printf("{\"config\": %s, \"parameters\": %zu, \"macs_per_image\": %.0f, \"batch\": %ld, "
               "\"threads\": %d, \"precision\": \"%s\", \"memory\": {",
               cj, params, macs, batch, ctx.threads, REAL_NAME);
        for (int mode = 0; mode < 2; mode++) {
            size_t *b = mode ? plain : rev;
            printf("%s\"%s\": {", mode ? ", " : "", mode ? "plain" : "rev");
            for (size_t r = 0; r < sizeof roles / sizeof *roles; r++)
                printf("%s\"%s\": %zu", r ? ", " : "", mem_role_name(roles[r]), b[roles[r]]);
            printf("}");
        }
        printf("}}\n");
    } else {
        printf("%spreset %s: channels %d,%d,%d,%d, T %d, kernel %d, input %dx%dx%d, %d classes\n",
               cfg.model == TREV_MODEL_LIF ? "LIF baseline, "
                                           : "",
               cfg.preset, cfg.channels[0], cfg.channels[1], cfg.channels[2], cfg.channels[3],
               cfg.T, cfg.kernel, cfg.in_channels, cfg.input_size, cfg.input_size, cfg.classes);
        printf("parameters      %zu (learnable, all heads)\n", params);
        printf("forward MACs    %.0f per image (dense inference, all heads)\n", macs);
        printf("training memory at batch %ld (%s, %d thread%s):\n", batch, REAL_NAME, ctx.threads,
               ctx.threads > 1 ? "s" : "");
        if (cfg.model == TREV_MODEL_LIF) {
            printf("  %-12s %16s\n", "role", "BPTT bytes");
            for (size_t r = 0; r < sizeof roles / sizeof *roles; r++)
                printf("  %-12s %16zu\n", mem_role_name(roles[r]), plain[roles[r]]);
            printf("  (optimizer state adds 2x params; activations grow linearly with T)\n");
        } else {
            printf("  %-12s %16s %16s\n", "role", "rev bytes", "plain bytes");
            for (size_t r = 0; r < sizeof roles / sizeof *roles; r++)
                printf("  %-12s %16zu %16zu\n", mem_role_name(roles[r]), rev[roles[r]],
                       plain[roles[r]]);
            printf("  (optimizer state adds 2x params; activations grow with T only in plain "
                   "mode)\n");
        }
    }
    trev_destroy(&ctx, m);
    ctx_free(&ctx);
    return 0;
}
