/* test_scheduler.c - the delivery queue: random pushes with interleaved pops
 * come out in (t, rank, insertion) order as a sorted reference says, the
 * heap grows by doubling from nothing, and a failing allocator gives
 * SIM_ENOMEM with the queue intact and nothing leaked. */
#include <stdlib.h>
#include <string.h>

#include "sim/rng.h"
#include "sim/scheduler.h"
#include "tests/harness.h"

typedef struct {
    int64_t t;
    int32_t rank;
    uint64_t order; /* insertion number */
    int live;
} ref_item;

/* index of the smallest live reference item by (t, rank, order), or -1 */
static long ref_min(const ref_item *r, size_t n)
{
    long best = -1;
    for (size_t i = 0; i < n; i++) {
        if (!r[i].live)
            continue;
        if (best < 0)
            best = (long)i;
        else {
            const ref_item *a = &r[i], *b = &r[best];
            if (a->t < b->t || (a->t == b->t && a->rank < b->rank) ||
                (a->t == b->t && a->rank == b->rank && a->order < b->order))
                best = (long)i;
        }
    }
    return best;
}

static void test_random_order(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 11);
    for (int round = 0; round < 4; round++) {
        scheduler s;
        CU_ASSERT_EQUAL_FATAL(scheduler_init(&ctx, &s, (size_t)round), SIM_OK);
        const size_t N = 3000;
        ref_item *ref = calloc(N, sizeof *ref);
        size_t nref = 0, live = 0, mismatches = 0;
        /* few distinct keys, so that ties on (t, rank) are frequent; a
         * moving floor like the engine's clock, plus far-future outliers */
        int64_t now = 0;
        for (size_t step = 0; step < 2 * N; step++) {
            int do_push = nref < N && (live == 0 || rng_uniform(&ctx, RNG_AUX) < 0.55);
            if (do_push) {
                int64_t t = now + (int64_t)rng_int(&ctx, RNG_AUX, 6);
                if (rng_uniform(&ctx, RNG_AUX) < 0.02)
                    t += (int64_t)1 << 40; /* any delay */
                int32_t rank = (int32_t)rng_int(&ctx, RNG_AUX, 4);
                CU_ASSERT_EQUAL_FATAL(scheduler_push(&ctx, &s, t, rank, nref), SIM_OK);
                ref[nref] = (ref_item){t, rank, nref, 1};
                nref++, live++;
            } else if (live) {
                long m = ref_min(ref, nref);
                const scheduler_item *pk = scheduler_peek(&s);
                scheduler_item it;
                CU_ASSERT_PTR_NOT_NULL_FATAL(pk);
                int64_t pk_t = pk->t;
                CU_ASSERT_FATAL(scheduler_pop(&s, &it));
                CU_ASSERT_EQUAL(pk_t, it.t);
                if (it.payload != ref[m].order || it.t != ref[m].t || it.rank != ref[m].rank) {
                    if (!mismatches++)
                        fprintf(stderr,
                                "\n  pop %zu: got (t %lld, rank %d, item %llu), expected (t "
                                "%lld, rank %d, item %llu)\n",
                                step, (long long)it.t, it.rank, (unsigned long long)it.payload,
                                (long long)ref[m].t, ref[m].rank, (unsigned long long)ref[m].order);
                }
                ref[m].live = 0;
                live--;
                if (it.t > now && it.t < ((int64_t)1 << 40))
                    now = it.t;
            }
            CU_ASSERT_EQUAL_FATAL(scheduler_size(&s), live);
        }
        CU_ASSERT_EQUAL(mismatches, 0);
        /* drain: must come out sorted and then be empty */
        while (live) {
            long m = ref_min(ref, nref);
            scheduler_item it;
            CU_ASSERT_FATAL(scheduler_pop(&s, &it));
            CU_ASSERT_EQUAL_FATAL(it.payload, ref[m].order);
            ref[m].live = 0;
            live--;
        }
        CU_ASSERT_PTR_NULL(scheduler_peek(&s));
        CU_ASSERT_FALSE(scheduler_pop(&s, NULL));
        free(ref);
        scheduler_free(&ctx, &s);
    }
    CU_ASSERT_EQUAL(mem_current(&ctx, MEM_ENGINE), 0);
    ctx_free(&ctx);
}

/* Equal keys come out first-in first-out; clear restarts the sequence. */
static void test_fifo_and_clear(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 12);
    scheduler s;
    CU_ASSERT_EQUAL_FATAL(scheduler_init(&ctx, &s, 4), SIM_OK);
    for (uint64_t i = 0; i < 100; i++)
        CU_ASSERT_EQUAL_FATAL(scheduler_push(&ctx, &s, 7, 2, i), SIM_OK);
    for (uint64_t i = 0; i < 50; i++) {
        scheduler_item it;
        CU_ASSERT_FATAL(scheduler_pop(&s, &it));
        CU_ASSERT_EQUAL(it.payload, i);
    }
    scheduler_clear(&s);
    CU_ASSERT_EQUAL(scheduler_size(&s), 0);
    CU_ASSERT_EQUAL(scheduler_push(&ctx, &s, 1, 0, 5), SIM_OK);
    CU_ASSERT_EQUAL(scheduler_peek(&s)->seq, 0);
    scheduler_free(&ctx, &s);
    ctx_free(&ctx);
}

/* From zero capacity the heap doubles: capacities stay powers of two times
 * the first block, memory grows with it, and every item survives. */
static void test_growth(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 13);
    scheduler s;
    CU_ASSERT_EQUAL_FATAL(scheduler_init(&ctx, &s, 0), SIM_OK);
    CU_ASSERT_EQUAL(s.cap, 0);
    CU_ASSERT_EQUAL(mem_current(&ctx, MEM_ENGINE), 0);
    const size_t N = 100000;
    size_t grows = 0, cap = 0;
    for (size_t i = 0; i < N; i++) {
        /* descending t: every push sifts to the root */
        CU_ASSERT_EQUAL_FATAL(scheduler_push(&ctx, &s, (int64_t)(N - i), 0, i), SIM_OK);
        if (s.cap != cap) {
            CU_ASSERT(cap == 0 || s.cap == 2 * cap);
            cap = s.cap;
            grows++;
        }
    }
    CU_ASSERT(grows >= 13);
    CU_ASSERT_EQUAL(mem_current(&ctx, MEM_ENGINE), s.cap * sizeof(scheduler_item));
    for (size_t i = 0; i < N; i++) {
        scheduler_item it;
        CU_ASSERT_FATAL(scheduler_pop(&s, &it));
        CU_ASSERT_EQUAL_FATAL(it.t, (int64_t)(i + 1));
    }
    /* reserve beyond the address space is refused before allocating */
    CU_ASSERT_EQUAL(scheduler_reserve(&ctx, &s, SIZE_MAX / 4), SIM_ENOMEM);
    CU_ASSERT(strstr(ctx_errmsg(&ctx), "overflows") != NULL);
    scheduler_free(&ctx, &s);
    CU_ASSERT_EQUAL(mem_current(&ctx, MEM_ENGINE), 0);
    ctx_free(&ctx);
}

static void test_failing_allocator(void)
{
    sim_ctx ctx;
    harness_failing f = {.budget = 0};
    CU_ASSERT_EQUAL_FATAL(ctx_init_alloc(&ctx, 1, harness_failing_alloc, &f), SIM_OK);
    scheduler s;
    CU_ASSERT_EQUAL(scheduler_init(&ctx, &s, 8), SIM_ENOMEM);
    CU_ASSERT(strstr(ctx_errmsg(&ctx), "out of memory") != NULL);
    CU_ASSERT_EQUAL(ctx.nallocs, 0);
    /* one block allowed: fill it, the doubling fails, the queue is intact */
    f.budget = 1;
    CU_ASSERT_EQUAL_FATAL(scheduler_init(&ctx, &s, 8), SIM_OK);
    for (int i = 0; i < 8; i++)
        CU_ASSERT_EQUAL_FATAL(scheduler_push(&ctx, &s, 8 - i, 0, (uint64_t)i), SIM_OK);
    CU_ASSERT_EQUAL(scheduler_push(&ctx, &s, 0, 0, 99), SIM_ENOMEM);
    CU_ASSERT_EQUAL(scheduler_size(&s), 8);
    CU_ASSERT_EQUAL(s.cap, 8);
    CU_ASSERT_EQUAL(ctx.nallocs, 1);
    for (int i = 7; i >= 0; i--) {
        scheduler_item it;
        CU_ASSERT_FATAL(scheduler_pop(&s, &it));
        CU_ASSERT_EQUAL(it.payload, (uint64_t)i);
    }
    scheduler_free(&ctx, &s);
    CU_ASSERT_EQUAL(ctx.nallocs, 0);
    CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
    ctx_free(&ctx);
}

int main(void)
{
    static const harness_test tests[] = {
        {"random pushes and pops vs sorted reference", test_random_order},
        {"equal keys first-in first-out, clear", test_fifo_and_clear},
        {"growth by doubling", test_growth},
        {"failing allocator: SIM_ENOMEM, queue intact, no leak", test_failing_allocator},
        {NULL, NULL},
    };
    return harness_run("scheduler", tests);
}
