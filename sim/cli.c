/* cli.c - option parsing helpers for bin/sim. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int cli_next(sim_ctx *ctx, int argc, char **argv, int *i, const cli_opt *opts, const char **val,
             const char **positional)
{
    const char *a = argv[*i];
    *val = NULL;
    if (strncmp(a, "--", 2) != 0) {
        if (positional && !*positional) {
            *positional = a;
            (*i)++;
            return -2;
        }
        ctx_error(ctx, SIM_EINVAL, "unexpected argument '%s' (options start with --)", a);
        return -1;
    }
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    for (int k = 0; opts[k].name; k++) {
        if (strlen(opts[k].name) != len || strncmp(opts[k].name, name, len) != 0)
            continue;
        if (!opts[k].arg) {
            if (eq) {
                ctx_error(ctx, SIM_EINVAL, "option --%s takes no value, found '%s'", opts[k].name,
                          eq + 1);
                return -1;
            }
            (*i)++;
            return k;
        }
        if (eq) {
            *val = eq + 1;
            (*i)++;
        } else if (*i + 1 < argc) {
            *val = argv[*i + 1];
            *i += 2;
        } else {
            ctx_error(ctx, SIM_EINVAL, "option --%s expects a value (%s)", opts[k].name,
                      opts[k].arg);
            return -1;
        }
        return k;
    }
    ctx_error(ctx, SIM_EINVAL, "unknown option '%.*s' (see --help)", (int)(len + 2), a);
    return -1;
}

sim_status cli_long(sim_ctx *ctx, const char *opt, const char *val, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (end == val || *end != '\0' || errno || v < lo || v > hi)
        return ctx_error(ctx, SIM_EINVAL, "--%s: expected an integer in %ld..%ld, found '%s'", opt,
                         lo, hi, val);
    *out = v;
    return SIM_OK;
}

sim_status cli_double(sim_ctx *ctx, const char *opt, const char *val, double lo, double hi,
                      double *out)
{
    char *end;
    double v = strtod(val, &end);
    if (end == val || *end != '\0' || !isfinite(v) || v < lo || v > hi)
        return ctx_error(ctx, SIM_EINVAL, "--%s: expected a number in [%g, %g], found '%s'", opt,
                         lo, hi, val);
    *out = v;
    return SIM_OK;
}

void cli_help(FILE *out, const char *usage, const char *about, const cli_opt *opts)
{
    fprintf(out, "usage: %s\n\n%s\n\noptions:\n", usage, about);
    for (int k = 0; opts[k].name; k++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", opts[k].name, opts[k].arg ? " " : "",
                 opts[k].arg ? opts[k].arg : "");
        fprintf(out, "  %-24s %s\n", left, opts[k].help);
    }
}

void cli_join(char *buf, size_t len, int argc, char **argv)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < argc && k + 1 < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%s", i ? " " : "", argv[i]);
}

void cli_model_begin(cli_model *cm)
{
    memset(cm, 0, sizeof *cm);
    snprintf(cm->preset, sizeof cm->preset, "fmnist");
    cm->inter_supv = -1;
}

int cli_model_option(sim_ctx *ctx, cli_model *cm, const char *name, const char *val)
{
    long v = 0;
    if (!strcmp(name, "model")) {
        if (trev_parse_model(ctx, val, &cm->model) != SIM_OK) {
            ctx_error(ctx, SIM_EINVAL, "--model: expected trevsnn or lif, found '%s'", val);
            return -1;
        }
        return 1;
    }
    if (!strcmp(name, "preset")) {
        trev_config tmp;
        if (trev_preset(ctx, &tmp, val) != SIM_OK) {
            ctx_error(ctx, SIM_EINVAL,
                      "--preset: expected fmnist, cifar10, tiny or small, found '%s'", val);
            return -1;
        }
        snprintf(cm->preset, sizeof cm->preset, "%s", val);
        return 1;
    }
    if (!strcmp(name, "T")) {
        if (cli_long(ctx, "T", val, 1, TREV_MAXT, &v) != SIM_OK)
            return -1;
        cm->T = (int)v;
        return 1;
    }
    if (!strcmp(name, "kernel")) {
        if (cli_long(ctx, "kernel", val, 1, 15, &v) != SIM_OK || v % 2 == 0) {
            ctx_error(ctx, SIM_EINVAL, "--kernel: expected an odd integer in 1..15, found '%s'",
                      val);
            return -1;
        }
        cm->kernel = (int)v;
        return 1;
    }
    if (!strcmp(name, "channels")) {
        int c[TREV_LEVELS], n = 0;
        const char *p = val;
        while (*p && n < TREV_LEVELS) {
            char *end;
            long x = strtol(p, &end, 10);
            if (end == p || x < 1 || x > 65536)
                break;
            c[n++] = (int)x;
            p = end;
            if (*p == ',')
                p++;
            else
                break;
        }
        if (n != TREV_LEVELS || *p != '\0') {
            ctx_error(ctx, SIM_EINVAL,
                      "--channels: expected four positive integers like 16,32,64,128, found '%s'",
                      val);
            return -1;
        }
        memcpy(cm->channels, c, sizeof c);
        cm->have_channels = 1;
        return 1;
    }
    if (!strcmp(name, "no-inter-supv")) {
        cm->inter_supv = 0;
        return 1;
    }
    return 0;
}

sim_status cli_model_config(sim_ctx *ctx, const cli_model *cm, trev_config *cfg)
{
    sim_status st = trev_preset(ctx, cfg, cm->preset);
    if (st != SIM_OK)
        return st;
    if (cm->T)
        cfg->T = cm->T;
    if (cm->kernel)
        cfg->kernel = cm->kernel;
    if (cm->have_channels)
        memcpy(cfg->channels, cm->channels, sizeof cfg->channels);
    if (cm->inter_supv >= 0)
        cfg->inter_supv = cm->inter_supv;
    cfg->model = cm->model;
    if (cm->model == TREV_MODEL_LIF)
        cfg->inter_supv = 0; /* one head: the mean of the per-timestep logits */
    return trev_config_check(ctx, cfg);
}
