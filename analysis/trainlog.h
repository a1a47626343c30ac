/* trainlog.h - read the JSON-lines training log that `sim --train --log`
 * writes (sim/train.c): one object per epoch with epoch, step, loss,
 * train_acc, lr, images_per_s, epoch_seconds, test_acc (one per head),
 * head_loss, test_acc_ema, mode, T, memory, peak_rss.
 *
 * Lines are read one at a time (at most TRAINLOG_MAX_LINE bytes, at most
 * TRAINLOG_MAX_EPOCHS lines); blank lines are skipped. A line that is not
 * such an object is an error naming the file, the line number and the key
 * that was expected ("log.jsonl:3: key loss missing or not a number"). */
#ifndef ANALYSIS_TRAINLOG_H
#define ANALYSIS_TRAINLOG_H

#include <stdio.h>

#include "sim/ctx.h"

#define TRAINLOG_MAX_HEADS 64
#define TRAINLOG_MAX_LINE (1 << 16)
#define TRAINLOG_MAX_EPOCHS 100000

typedef struct {
    double epoch, step, loss, train_acc, lr, images_per_s, epoch_seconds;
    int nheads;
    double test_acc[TRAINLOG_MAX_HEADS]; /* one per head, the last is the final head */
    double test_acc_ema;                 /* 0 when the run kept no EMA */
    double peak_rss;                     /* bytes, 0 if absent */
} trainlog_epoch;

typedef struct {
    char path[4096];
    int n;                 /* epochs (lines) */
    trainlog_epoch *e;     /* (n) in file order */
    int nheads;            /* most heads of any line */
    int has_ema;           /* some line has test_acc_ema > 0 */
} trainlog;

/* Read the log at path into lg. SIM_EIO: cannot open or read;
 * SIM_EFORMAT: a bad line or no epoch at all; SIM_ENOMEM. On failure lg
 * holds nothing. */
sim_status trainlog_load(sim_ctx *ctx, trainlog *lg, const char *path);
void trainlog_free(sim_ctx *ctx, trainlog *lg);

/* A table of the epochs, and the same as one JSON object. */
void trainlog_print(FILE *out, const trainlog *lg);
void trainlog_print_json(FILE *out, const trainlog *lg);

#endif
