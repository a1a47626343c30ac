/* scheduler.h - the event engine's queue of pending packet deliveries.
 *
 * A binary min-heap of items keyed by (delivery timestep t, rank, insertion
 * sequence). Items come out in increasing t, then increasing rank (the
 * topological order of the target population within a timestep), then in
 * the order they were pushed, so a run is deterministic and equal keys are
 * first-in first-out. Any delay >= 0 works: t is a 64-bit timestep and
 * nothing assumes a bound on how far ahead an item lies.
 *
 * The heap grows by doubling through mem_alloc (role MEM_ENGINE); the engine
 * reserves the largest number of packets that can ever be pending when it
 * builds a network, so pushes inside the timestep loop never allocate. */
#ifndef SIM_SCHEDULER_H
#define SIM_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#include "ctx.h"

typedef struct {
    int64_t t;        /* delivery timestep */
    int32_t rank;     /* rank of the target population within timestep t */
    uint64_t seq;     /* insertion sequence number: breaks ties first-in first-out */
    uint64_t payload; /* opaque to the scheduler (the engine stores a projection index) */
} scheduler_item;

typedef struct {
    scheduler_item *items; /* (cap) heap-ordered, items[0] is the next to pop */
    size_t n, cap;
    uint64_t next_seq;
} scheduler;

/* An empty queue with room for `cap` items (cap 0 allocates nothing yet). */
sim_status scheduler_init(sim_ctx *ctx, scheduler *s, size_t cap);
void scheduler_free(sim_ctx *ctx, scheduler *s);
/* Make room for at least `cap` items. On failure (SIM_ENOMEM: out of memory
 * or a size that overflows) the queue is unchanged. */
sim_status scheduler_reserve(sim_ctx *ctx, scheduler *s, size_t cap);
/* Add an item; doubles the capacity when full. On SIM_ENOMEM the queue is
 * unchanged. */
sim_status scheduler_push(sim_ctx *ctx, scheduler *s, int64_t t, int32_t rank, uint64_t payload);
/* Remove the smallest item into *out (may be NULL); returns 0 when empty. */
int scheduler_pop(scheduler *s, scheduler_item *out);
/* The smallest item, or NULL when empty. Valid until the next push or pop. */
const scheduler_item *scheduler_peek(const scheduler *s);
size_t scheduler_size(const scheduler *s);
/* Drop every item and restart the sequence numbers; keeps the memory. */
void scheduler_clear(scheduler *s);

#endif
