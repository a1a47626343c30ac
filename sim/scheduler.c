/* scheduler.c - binary min-heap of pending deliveries keyed by
 * (t, rank, seq). Sift-up on push, sift-down on pop; the capacity doubles
 * through mem_alloc with overflow checks. */
#include "scheduler.h"

#include <string.h>

/* 1 if a comes out before b. seq is unique, so this is a total order. */
static int item_before(const scheduler_item *a, const scheduler_item *b)
{
    if (a->t != b->t)
        return a->t < b->t;
    if (a->rank != b->rank)
        return a->rank < b->rank;
    return a->seq < b->seq;
}

sim_status scheduler_init(sim_ctx *ctx, scheduler *s, size_t cap)
{
    memset(s, 0, sizeof *s);
    return cap ? scheduler_reserve(ctx, s, cap) : SIM_OK;
}

void scheduler_free(sim_ctx *ctx, scheduler *s)
{
    mem_free(ctx, s->items);
    memset(s, 0, sizeof *s);
}

sim_status scheduler_reserve(sim_ctx *ctx, scheduler *s, size_t cap)
{
    if (cap <= s->cap)
        return SIM_OK;
    size_t bytes;
    if (size_mul(cap, sizeof *s->items, &bytes))
        return ctx_error(ctx, SIM_ENOMEM,
                         "scheduler: room for %zu pending deliveries overflows the address space",
                         cap);
    scheduler_item *items = mem_alloc(ctx, MEM_ENGINE, bytes);
    if (!items)
        return SIM_ENOMEM; /* mem_alloc recorded the message */
    if (s->n)
        memcpy(items, s->items, s->n * sizeof *items);
    mem_free(ctx, s->items);
    s->items = items;
    s->cap = cap;
    return SIM_OK;
}

sim_status scheduler_push(sim_ctx *ctx, scheduler *s, int64_t t, int32_t rank, uint64_t payload)
{
    if (s->n == s->cap) {
        size_t cap;
        if (s->cap == 0)
            cap = 16;
        else if (size_mul(s->cap, 2, &cap))
            return ctx_error(ctx, SIM_ENOMEM,
                             "scheduler: cannot grow beyond %zu pending deliveries", s->cap);
        sim_status st = scheduler_reserve(ctx, s, cap);
        if (st != SIM_OK)
            return st;
    }
    scheduler_item it = {.t = t, .rank = rank, .seq = s->next_seq++, .payload = payload};
    /* sift up: move parents down until it fits */
    size_t i = s->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!item_before(&it, &s->items[parent]))
            break;
        s->items[i] = s->items[parent];
        i = parent;
    }
    s->items[i] = it;
    return SIM_OK;
}

int scheduler_pop(scheduler *s, scheduler_item *out)
{
    if (s->n == 0)
        return 0;
    if (out)
        *out = s->items[0];
    scheduler_item last = s->items[--s->n];
    size_t n = s->n, i = 0;
    /* sift down: move the smaller child up until `last` fits */
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && item_before(&s->items[child + 1], &s->items[child]))
            child++;
        if (!item_before(&s->items[child], &last))
            break;
        s->items[i] = s->items[child];
        i = child;
    }
    if (n)
        s->items[i] = last;
    return 1;
}

const scheduler_item *scheduler_peek(const scheduler *s)
{
    return s->n ? &s->items[0] : NULL;
}

size_t scheduler_size(const scheduler *s)
{
    return s->n;
}

void scheduler_clear(scheduler *s)
{
    s->n = 0;
    s->next_seq = 0;
}
