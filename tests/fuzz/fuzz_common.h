/* fuzz_common.h - shared bits of the libFuzzer harnesses in tests/fuzz/.
 *
 * Each fuzz_<name>.c defines LLVMFuzzerTestOneInput for one parser. A
 * context per input, so allocations are accounted and leaks show up in
 * LeakSanitizer; errors from the parser are the expected outcome for most
 * inputs and are ignored. A parser that succeeds must leave a consistent
 * result, which the harness checks with fuzz_assert (a crash is a finding). */
#ifndef TESTS_FUZZ_COMMON_H
#define TESTS_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim/ctx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define fuzz_assert(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond);     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Resource bound every loader states (DATASET_MAX_BYTES, CKPT_MAX_VALUES
 * reals, H5IO_MAX_STR...): no single allocation through the context may
 * exceed 1 GiB, whatever the input claims. The hook aborts (a finding)
 * instead of failing the allocation, so an unbounded size cannot hide
 * behind a graceful SIM_ENOMEM. */
#define FUZZ_MAX_ALLOC ((size_t)1 << 30)

static inline void *fuzz_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    if (nsize > FUZZ_MAX_ALLOC) {
        fprintf(stderr, "fuzz: allocation of %zu bytes exceeds the bound of %zu\n", nsize,
                FUZZ_MAX_ALLOC);
        abort();
    }
    void *p = NULL;
    return posix_memalign(&p, SIM_ALIGN, nsize) == 0 ? p : NULL;
}

static inline sim_status fuzz_ctx_init(sim_ctx *ctx)
{
    return ctx_init_alloc(ctx, 1, fuzz_alloc, NULL);
}

/* The context must be back to zero live allocations after the parser and
 * the harness freed everything. */
#define fuzz_ctx_done(ctx)                                                                         \
    do {                                                                                           \
        fuzz_assert((ctx)->nallocs == 0);                                                          \
        ctx_free(ctx);                                                                             \
    } while (0)

#endif
