/* ctx.c - context, role-accounted allocation and error messages.
 *
 * Every block carries a small header (its size and role) in front of the
 * pointer handed out, so mem_free needs only the pointer and the accounting
 * is exact. */
#include "ctx.h"

#include <assert.h>
#include <omp.h>
#ifdef __SSE__
#include <xmmintrin.h>
#endif
#include <gsl/gsl_rng.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "blas.h"
#include "rng.h"

typedef struct {
    size_t bytes;
    size_t total; /* bytes including header, as passed to the hook */
    int role;
    unsigned magic;
} mem_header;

#define MEM_MAGIC 0x5eed5eedu
#define HDR_SIZE SIM_ALIGN /* keeps the payload aligned */

_Static_assert(sizeof(mem_header) <= HDR_SIZE, "header must fit its slot");

static void *default_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    size_t rounded = (nsize + SIM_ALIGN - 1) / SIM_ALIGN * SIM_ALIGN;
    return aligned_alloc(SIM_ALIGN, rounded);
}

static const char *const role_names[MEM_NROLES] = {
    [MEM_PARAMS] = "params",   [MEM_GRADS] = "grads", [MEM_OPTIM] = "optim",
    [MEM_ACTS] = "activations", [MEM_SCRATCH] = "scratch",
    [MEM_DATA] = "data",       [MEM_ENGINE] = "engine",    [MEM_META] = "meta",
};

const char *mem_role_name(mem_role role)
{
    return (unsigned)role < MEM_NROLES ? role_names[role] : "?";
}

sim_status ctx_init_alloc(sim_ctx *ctx, uint64_t seed, sim_alloc_fn fn, void *ud)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->alloc = fn ? fn : default_alloc;
    ctx->alloc_ud = ud;
    ctx_set_threads(ctx, 1);
    return rng_seed(ctx, seed);
}

sim_status ctx_init(sim_ctx *ctx, uint64_t seed)
{
    return ctx_init_alloc(ctx, seed, NULL, NULL);
}

void ctx_free(sim_ctx *ctx)
{
    for (int i = 0; i < RNG_NSTREAMS; i++) {
        if (ctx->rng[i])
            gsl_rng_free(ctx->rng[i]);
        ctx->rng[i] = NULL;
    }
}

void ctx_set_threads(sim_ctx *ctx, int threads)
{
    if (threads < 1)
        threads = 1;
    ctx->threads = threads;
    /* the default team size of parallel loops without a num_threads clause
     * (elementwise layers); BLAS itself stays single-threaded because
     * blas_gemm_par splits products over our own threads */
    omp_set_num_threads(threads);
#ifdef __SSE__
    /* flush subnormals to zero on every worker: a trained network's tiny
     * gradients must not fall onto the ~100x slower subnormal path */
#pragma omp parallel num_threads(threads)
    _mm_setcsr(_mm_getcsr() | 0x8040u); /* FTZ | DAZ */
#endif
}

void team_sum(sim_ctx *ctx, double *v, size_t k)
{
    const sim_team *tm = ctx->team;
    if (!tm || tm->size < 2)
        return;
    assert(k <= tm->cap);
    memcpy(tm->sums + (size_t)tm->rank * tm->cap, v, k * sizeof *v);
#pragma omp barrier
    for (size_t i = 0; i < k; i++) {
        double s = tm->sums[i];
        for (int r = 1; r < tm->size; r++)
            s += tm->sums[(size_t)r * tm->cap + i];
        v[i] = s;
    }
    /* nobody overwrites its row before everyone has read it */
#pragma omp barrier
}

sim_status ctx_error(sim_ctx *ctx, sim_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err, sizeof ctx->err, fmt, ap);
    va_end(ap);
    /* keep the message on one line */
    for (char *p = ctx->err; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    ctx->last_status = s;
    return s;
}

const char *ctx_errmsg(const sim_ctx *ctx)
{
    return ctx->err[0] ? ctx->err : sim_strerror(ctx->last_status);
}

int size_mul(size_t a, size_t b, size_t *out)
{
    return __builtin_mul_overflow(a, b, out);
}

int size_add(size_t a, size_t b, size_t *out)
{
    return __builtin_add_overflow(a, b, out);
}

void *mem_alloc(sim_ctx *ctx, mem_role role, size_t bytes)
{
    assert((unsigned)role < MEM_NROLES);
    size_t total;
    if (size_add(bytes, HDR_SIZE, &total)) {
        ctx_error(ctx, SIM_ENOMEM, "allocation of %zu bytes for %s overflows", bytes,
                  mem_role_name(role));
        return NULL;
    }
    unsigned char *raw = ctx->alloc(ctx->alloc_ud, NULL, 0, total);
    if (!raw) {
        ctx_error(ctx, SIM_ENOMEM, "out of memory: %zu bytes for %s (%zu bytes in use)",
                  bytes, mem_role_name(role), ctx->mem_cur_total);
        return NULL;
    }
    memset(raw, 0, total);
    mem_header *h = (mem_header *)raw;
    h->bytes = bytes;
    h->total = total;
    h->role = (int)role;
    h->magic = MEM_MAGIC;
    ctx->mem_cur[role] += bytes;
    if (ctx->mem_cur[role] > ctx->mem_peak[role])
        ctx->mem_peak[role] = ctx->mem_cur[role];
    ctx->mem_cur_total += bytes;
    if (ctx->mem_cur_total > ctx->mem_peak_total)
        ctx->mem_peak_total = ctx->mem_cur_total;
    ctx->nallocs++;
    return raw + HDR_SIZE;
}

void *mem_calloc(sim_ctx *ctx, mem_role role, size_t n, size_t size)
{
    size_t bytes;
    if (size_mul(n, size, &bytes)) {
        ctx_error(ctx, SIM_ENOMEM, "allocation of %zu x %zu bytes for %s overflows", n, size,
                  mem_role_name(role));
        return NULL;
    }
    return mem_alloc(ctx, role, bytes);
}

static mem_header *header_of(const void *p)
{
    mem_header *h = (mem_header *)((unsigned char *)p - HDR_SIZE);
    if (h->magic != MEM_MAGIC) {
        fprintf(stderr, "mem: pointer %p was not allocated by mem_alloc or is corrupt\n", p);
        abort();
    }
    return h;
}

size_t mem_size(const void *p)
{
    return p ? header_of(p)->bytes : 0;
}

void mem_free(sim_ctx *ctx, void *p)
{
    if (!p)
        return;
    mem_header *h = header_of(p);
    ctx->mem_cur[h->role] -= h->bytes;
    ctx->mem_cur_total -= h->bytes;
    ctx->nallocs--;
    h->magic = 0;
    ctx->alloc(ctx->alloc_ud, h, h->total, 0);
}

size_t mem_current(const sim_ctx *ctx, mem_role role)
{
    return ctx->mem_cur[role];
}

size_t mem_peak(const sim_ctx *ctx, mem_role role)
{
    return ctx->mem_peak[role];
}

void mem_reset_peak(sim_ctx *ctx)
{
    for (int r = 0; r < MEM_NROLES; r++)
        ctx->mem_peak[r] = ctx->mem_cur[r];
    ctx->mem_peak_total = ctx->mem_cur_total;
}

void mem_report(const sim_ctx *ctx, FILE *out)
{
    fprintf(out, "%-12s %14s %14s\n", "memory role", "current bytes", "peak bytes");
    for (int r = 0; r < MEM_NROLES; r++)
        fprintf(out, "%-12s %14zu %14zu\n", role_names[r], ctx->mem_cur[r], ctx->mem_peak[r]);
    fprintf(out, "%-12s %14zu %14zu\n", "total", ctx->mem_cur_total, ctx->mem_peak_total);
}

void mem_report_json(const sim_ctx *ctx, FILE *out)
{
    fputc('{', out);
    for (int r = 0; r < MEM_NROLES; r++)
        fprintf(out, "\"%s\": {\"current\": %zu, \"peak\": %zu}, ", role_names[r],
                ctx->mem_cur[r], ctx->mem_peak[r]);
    fprintf(out, "\"total\": {\"current\": %zu, \"peak\": %zu}}", ctx->mem_cur_total,
            ctx->mem_peak_total);
}

size_t mem_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (size_t)ru.ru_maxrss * 1024u;
}
