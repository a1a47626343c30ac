/* trainlog.c - the JSON-lines training log, read with io/json.h's
 * top-level key reader (see trainlog.h). */
#include "trainlog.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/json.h"

/* Parse one line into e; 0 on success, else the missing key in *bad_key. */
static int parse_line(const char *line, trainlog_epoch *e, const char **bad_key)
{
    static const char *const keys[] = {"epoch", "loss", "images_per_s"};
    double *dst[] = {&e->epoch, &e->loss, &e->images_per_s};
    memset(e, 0, sizeof *e);
    for (int i = 0; i < 3; i++)
        if (!json_get_number(line, keys[i], dst[i]) || !isfinite(*dst[i])) {
            *bad_key = keys[i];
            return -1;
        }
    if (!json_get_numbers(line, "test_acc", e->test_acc, TRAINLOG_MAX_HEADS, &e->nheads) ||
        e->nheads < 1) {
        *bad_key = "test_acc";
        return -1;
    }
    /* optional */
    json_get_number(line, "step", &e->step);
    json_get_number(line, "train_acc", &e->train_acc);
    json_get_number(line, "lr", &e->lr);
    json_get_number(line, "epoch_seconds", &e->epoch_seconds);
    json_get_number(line, "test_acc_ema", &e->test_acc_ema);
    json_get_number(line, "peak_rss", &e->peak_rss);
    return 0;
}

sim_status trainlog_load(sim_ctx *ctx, trainlog *lg, const char *path)
{
    assert(ctx && lg);
    memset(lg, 0, sizeof *lg);
    if (!path || !*path)
        return ctx_error(ctx, SIM_EINVAL, "analyze: no training log given");
    snprintf(lg->path, sizeof lg->path, "%s", path);
    FILE *f = fopen(path, "r");
    if (!f)
        return ctx_error(ctx, SIM_EIO, "%s: cannot open: %s", path, strerror(errno));
    char *line = mem_alloc(ctx, MEM_SCRATCH, TRAINLOG_MAX_LINE);
    int cap = 0;
    sim_status s = line ? SIM_OK : SIM_ENOMEM;
    for (long ln = 1; s == SIM_OK && fgets(line, TRAINLOG_MAX_LINE, f); ln++) {
        size_t len = strlen(line);
        if (len == TRAINLOG_MAX_LINE - 1 && line[len - 1] != '\n') {
            s = ctx_error(ctx, SIM_EFORMAT, "%s:%ld: line longer than %d bytes", path, ln,
                          TRAINLOG_MAX_LINE - 2);
            break;
        }
        const char *p = line;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (!*p)
            continue;
        if (*p != '{') {
            s = ctx_error(ctx, SIM_EFORMAT, "%s:%ld: expected a JSON object per line, found "
                          "'%.20s'", path, ln, p);
            break;
        }
        if (lg->n == TRAINLOG_MAX_EPOCHS) {
            s = ctx_error(ctx, SIM_EFORMAT, "%s:%ld: more than %d epochs", path, ln,
                          TRAINLOG_MAX_EPOCHS);
            break;
        }
        if (lg->n == cap) {
            int ncap = cap ? 2 * cap : 16;
            trainlog_epoch *ne = mem_calloc(ctx, MEM_DATA, (size_t)ncap, sizeof *ne);
            if (!ne) {
                s = SIM_ENOMEM;
                break;
            }
            if (lg->n)
                memcpy(ne, lg->e, (size_t)lg->n * sizeof *ne);
            mem_free(ctx, lg->e);
            lg->e = ne;
            cap = ncap;
        }
        const char *key = "";
        if (parse_line(p, &lg->e[lg->n], &key) != 0) {
            s = ctx_error(ctx, SIM_EFORMAT, "%s:%ld: key %s missing or not %s (expected a "
                          "training log line of sim --train --log)", path, ln, key,
                          strcmp(key, "test_acc") ? "a finite number" : "an array of numbers");
            break;
        }
        trainlog_epoch *e = &lg->e[lg->n++];
        lg->nheads = e->nheads > lg->nheads ? e->nheads : lg->nheads;
        lg->has_ema |= e->test_acc_ema > 0;
    }
    if (s == SIM_OK && ferror(f))
        s = ctx_error(ctx, SIM_EIO, "%s: read error", path);
    if (s == SIM_OK && lg->n == 0)
        s = ctx_error(ctx, SIM_EFORMAT, "%s: no epochs (expected JSON lines written by sim "
                      "--train --log)", path);
    fclose(f);
    mem_free(ctx, line);
    if (s != SIM_OK)
        trainlog_free(ctx, lg);
    return s;
}

void trainlog_free(sim_ctx *ctx, trainlog *lg)
{
    if (!lg)
        return;
    mem_free(ctx, lg->e);
    lg->e = NULL;
    lg->n = 0;
    lg->nheads = 0;
    lg->has_ema = 0;
}

void trainlog_print(FILE *out, const trainlog *lg)
{
    fprintf(out, "%s: %d epochs, %d head%s%s\n", lg->path, lg->n, lg->nheads,
            lg->nheads == 1 ? "" : "s", lg->has_ema ? ", EMA weights" : "");
    fprintf(out, "  %6s %8s %10s %10s", "epoch", "step", "loss", "train acc");
    for (int h = 0; h < lg->nheads; h++) {
        char nm[24];
        snprintf(nm, sizeof nm, "head %d", h);
        fprintf(out, " %8s", nm);
    }
    fprintf(out, "%s %10s %10s %9s\n", lg->has_ema ? "      EMA" : "", "lr", "images/s",
            "seconds");
    for (int i = 0; i < lg->n; i++) {
        const trainlog_epoch *e = &lg->e[i];
        fprintf(out, "  %6g %8.0f %10.4f %9.2f%%", e->epoch, e->step, e->loss,
                100 * e->train_acc);
        for (int h = 0; h < lg->nheads; h++) {
            if (h < e->nheads)
                fprintf(out, " %7.2f%%", 100 * e->test_acc[h]);
            else
                fprintf(out, " %8s", "-");
        }
        if (lg->has_ema)
            fprintf(out, " %7.2f%%", 100 * e->test_acc_ema);
        fprintf(out, " %10.3g %10.1f %9.1f\n", e->lr, e->images_per_s, e->epoch_seconds);
    }
    const trainlog_epoch *last = &lg->e[lg->n - 1];
    double best = 0;
    int best_i = 0;
    for (int i = 0; i < lg->n; i++) {
        double a = lg->e[i].test_acc[lg->e[i].nheads - 1];
        if (a > best)
            best = a, best_i = i;
    }
    fprintf(out, "final head: %.2f%% after epoch %g (best %.2f%% at epoch %g)%s", 
            100 * last->test_acc[last->nheads - 1], last->epoch, 100 * best, lg->e[best_i].epoch,
            lg->has_ema ? "" : "\n");
    if (lg->has_ema)
        fprintf(out, "; EMA %.2f%%\n", 100 * last->test_acc_ema);
}

void trainlog_print_json(FILE *out, const trainlog *lg)
{
    char file[8192];
    json_escape(file, sizeof file, lg->path);
    fprintf(out, "{\"file\": %s, \"epochs\": %d, \"heads\": %d, \"has_ema\": %s", file, lg->n,
            lg->nheads, lg->has_ema ? "true" : "false");
    const trainlog_epoch *last = &lg->e[lg->n - 1];
    fprintf(out, ", \"final_test_acc\": %.15g, \"final_test_acc_ema\": %.15g, \"final_loss\": "
            "%.15g, \"log\": [", last->test_acc[last->nheads - 1], last->test_acc_ema,
            last->loss);
    for (int i = 0; i < lg->n; i++) {
        const trainlog_epoch *e = &lg->e[i];
        fprintf(out, "%s{\"epoch\": %.15g, \"step\": %.15g, \"loss\": %.15g, \"train_acc\": "
                "%.15g, \"lr\": %.15g, \"images_per_s\": %.15g, \"epoch_seconds\": %.15g, "
                "\"test_acc\": [", i ? ", " : "", e->epoch, e->step, e->loss, e->train_acc, e->lr,
                e->images_per_s, e->epoch_seconds);
        for (int h = 0; h < e->nheads; h++)
            fprintf(out, "%s%.15g", h ? ", " : "", e->test_acc[h]);
        fprintf(out, "], \"test_acc_ema\": %.15g}", e->test_acc_ema);
    }
    fputs("]}\n", out);
}
