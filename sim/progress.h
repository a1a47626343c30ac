/* progress.h - a one-line live progress bar on a terminal; plain lines (at
 * most one every few seconds, and at the end) when stderr is not a terminal,
 * so logs and CI output stay readable. */
#ifndef SIM_PROGRESS_H
#define SIM_PROGRESS_H

#include <stdio.h>

typedef struct {
    FILE *out;
    int tty;
    long total, done;
    double t0, last_print;
    char label[64];
} progress;

double progress_now(void); /* monotonic seconds */
void progress_begin(progress *p, FILE *out, const char *label, long total);
/* Report `done` of `total`; `info` is appended (e.g. "loss 0.41  1200 img/s"). */
void progress_update(progress *p, long done, const char *info);
/* Finish the line; prints the final state once. */
void progress_end(progress *p, const char *info);

#endif
