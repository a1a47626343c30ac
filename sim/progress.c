/* progress.c - progress bar / plain progress lines. */
#include "progress.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

double progress_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void progress_begin(progress *p, FILE *out, const char *label, long total)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->tty = isatty(fileno(out));
    p->total = total > 0 ? total : 1;
    p->t0 = p->last_print = progress_now();
    snprintf(p->label, sizeof p->label, "%s", label);
}

static void fmt_time(char *buf, size_t len, double s)
{
    if (s < 0 || s > 1e7)
        s = 0;
    long x = (long)(s + 0.5);
    if (x >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", x / 3600, x / 60 % 60, x % 60);
    else
        snprintf(buf, len, "%ld:%02ld", x / 60, x % 60);
}

static void print(progress *p, const char *info, int final)
{
    double now = progress_now(), el = now - p->t0;
    double frac = (double)p->done / (double)p->total;
    char eta[32], elapsed[32];
    fmt_time(eta, sizeof eta, frac > 0 ? el * (1 - frac) / frac : 0);
    fmt_time(elapsed, sizeof elapsed, el);
    if (p->tty) {
        char bar[31];
        int w = (int)(frac * 30 + 0.5);
        for (int i = 0; i < 30; i++)
            bar[i] = i < w ? '#' : '.';
        bar[30] = '\0';
        fprintf(p->out, "\r\033[K%s [%s] %ld/%ld %s %s %s", p->label, bar, p->done, p->total,
                info ? info : "", final ? "in" : "ETA", final ? elapsed : eta);
        if (final)
            fputc('\n', p->out);
    } else {
        fprintf(p->out, "%s %ld/%ld (%3.0f%%) %s %s %s\n", p->label, p->done, p->total,
                100 * frac, info ? info : "", final ? "in" : "ETA", final ? elapsed : eta);
    }
    fflush(p->out);
    p->last_print = now;
}

void progress_update(progress *p, long done, const char *info)
{
    p->done = done;
    double now = progress_now();
    double every = p->tty ? 0.2 : 10.0;
    if (now - p->last_print >= every)
        print(p, info, 0);
}

void progress_end(progress *p, const char *info)
{
    print(p, info, 1);
}
