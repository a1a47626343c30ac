/* ctx.h - the simulator context: configuration, memory accounting, random
 * streams, thread count and the last error message. There is no global
 * mutable state; every function that allocates, draws random numbers or can
 * fail takes a sim_ctx.
 *
 * Memory is allocated by role so that any program can print, and any test can
 * assert, how many bytes parameters, gradients, optimizer state, activations
 * and scratch take (current and peak). The allocator is a hook in the style of
 * Lua's lua_Alloc, so tests can inject a counting or failing allocator. */
#ifndef SIM_CTX_H
#define SIM_CTX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <gsl/gsl_rng.h>

#include "status.h"

typedef enum {
    MEM_PARAMS = 0, /* learnable parameters and BN buffers */
    MEM_GRADS,      /* parameter gradients */
    MEM_OPTIM,      /* optimizer moments, EMA weights */
    MEM_ACTS,       /* activations kept for backward */
    MEM_SCRATCH,    /* temporaries reused within one layer or column */
    MEM_DATA,       /* datasets and input batches */
    MEM_ENGINE,     /* event-engine state: populations, queues, counters */
    MEM_META,       /* bookkeeping: parameter tables, names, shapes */
    MEM_NROLES
} mem_role;

/* Allocator hook. ptr == NULL: allocate nsize bytes aligned to SIM_ALIGN.
 * nsize == 0: free ptr (osize is its size). Returns NULL on failure. */
typedef void *(*sim_alloc_fn)(void *ud, void *ptr, size_t osize, size_t nsize);

#define SIM_ALIGN 64

/* Independent random streams, so that e.g. data shuffling does not change
 * when the initialization draws one more number. */
typedef enum {
    RNG_INIT = 0, /* parameter initialization */
    RNG_DATA,     /* shuffling and augmentation */
    RNG_AUX,      /* everything else (tests, dropout-like noise, engine) */
    RNG_NSTREAMS
} rng_stream;

/* A team of threads that each run one slice of a batch (topology/trevsnn.c
 * "batch split"): the replicas' contexts point to the same sums buffer and
 * differ in rank. */
typedef struct sim_team {
    int size, rank;
    double *sums; /* (size, cap), shared by the team */
    size_t cap;
} sim_team;

typedef struct sim_ctx {
    sim_alloc_fn alloc;
    void *alloc_ud;
    size_t mem_cur[MEM_NROLES];
    size_t mem_peak[MEM_NROLES];
    size_t mem_cur_total, mem_peak_total;
    uint64_t nallocs; /* live allocations */
    int threads;      /* worker threads for our loops and BLAS */
    sim_team *team;   /* NULL, or this thread's place in a batch-split team */
    uint64_t seed;
    gsl_rng *rng[RNG_NSTREAMS];
    sim_status last_status;
    char err[512]; /* last error message, one line */
} sim_ctx;

/* Initialize a context with the default allocator, one thread and seed. */
sim_status ctx_init(sim_ctx *ctx, uint64_t seed);
/* Same with a custom allocator hook. */
sim_status ctx_init_alloc(sim_ctx *ctx, uint64_t seed, sim_alloc_fn fn, void *ud);
void ctx_free(sim_ctx *ctx);
/* Set the thread count used by our parallel loops and by BLAS. */
void ctx_set_threads(sim_ctx *ctx, int threads);

/* Inside a batch-split team: v[0..k) summed over the team's members in rank
 * order, the same result in every member (every member must call it with
 * the same k <= cap, outside any nested parallel region). A no-op without a
 * team. */
void team_sum(sim_ctx *ctx, double *v, size_t k);
/* Record an error: formats a one-line message into ctx->err and returns s,
 * so that callers can write `return ctx_error(ctx, SIM_EIO, "...", ...)`. */
sim_status ctx_error(sim_ctx *ctx, sim_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The last message, or the status name if none was recorded. */
const char *ctx_errmsg(const sim_ctx *ctx);

/* Checked allocation: zeroed, SIM_ALIGN-aligned, accounted to `role`.
 * Returns NULL (and records SIM_ENOMEM in ctx) on failure. */
void *mem_alloc(sim_ctx *ctx, mem_role role, size_t bytes);
/* n elements of `size` bytes each, overflow-checked. */
void *mem_calloc(sim_ctx *ctx, mem_role role, size_t n, size_t size);
void mem_free(sim_ctx *ctx, void *p);
/* Bytes a block from mem_alloc holds (0 for NULL). */
size_t mem_size(const void *p);

size_t mem_current(const sim_ctx *ctx, mem_role role);
size_t mem_peak(const sim_ctx *ctx, mem_role role);
void mem_reset_peak(sim_ctx *ctx);
const char *mem_role_name(mem_role role);
/* One line per role: current and peak bytes. */
void mem_report(const sim_ctx *ctx, FILE *out);
/* The same as a JSON object {"params": {"current": .., "peak": ..}, ...}. */
void mem_report_json(const sim_ctx *ctx, FILE *out);

/* Overflow-checked size arithmetic: return 0 and set *out, or 1 on overflow. */
int size_mul(size_t a, size_t b, size_t *out);
int size_add(size_t a, size_t b, size_t *out);

/* Peak resident set size of this process in bytes (getrusage). */
size_t mem_peak_rss(void);

#endif
