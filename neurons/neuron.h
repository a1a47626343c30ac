/* neuron.h - populations of the event-driven engine: one neuron model, a
 * shape (C, H, W) and per-neuron state as structs of arrays (model.md §1,
 * engine.md §1).
 *
 * Models (v is compared with the population's threshold, default 0.5):
 *   TURN_OFF  stateless: v = input + bias of this timestep, fire v >= th,
 *             nothing is kept for the next timestep;
 *   TURN_ON   c = input + bias + alpha[ch] * c_prev, fire c >= th, never reset;
 *             its real state c is also available as a graded output;
 *   LIF       v = decay[ch] * v + input + bias, fire v >= th, hard reset to 0;
 *             decay = 1 - 1/tau unless given per channel;
 *   RELAY     linear: its output is input + bias of this timestep; it never
 *             spikes (a graded source for a dense second stage).
 * The graded output of every model is the value that was compared with the
 * threshold (for LIF before the reset; for RELAY its output).
 *
 * Layouts. Per-neuron arrays are position-major, (H, W, C) with channels
 * contiguous ("storage index" (y*W + x)*C + c), so that one spike's fan-out
 * to all output channels of a target position is one contiguous vector add.
 * The PUBLIC neuron id is SONATA's c*H*W + y*W + x; every spike list the
 * engine exports holds public ids, ascending. neuron_index_of/neuron_id_of
 * convert between the two.
 *
 * Input. Spike and graded deliveries only add into `input`; pop_update reads
 * and clears it (STYLE.md item 8).
 *
 * Parameter sets. bias and alpha/decay may have nsets sets (one per column of
 * T-RevSNN); the update at timestep t uses set min(t, nsets - 1).
 *
 * History. The spike list and (when some projection reads it) the graded
 * output of the update at timestep t live in slot t % depth, depth being
 * 1 + the largest delay of the population's outgoing projections, so a
 * packet delivered d timesteps later still finds them. */
#ifndef NEURONS_NEURON_H
#define NEURONS_NEURON_H

#include <stddef.h>
#include <stdint.h>

#include "sim/ctx.h"
#include "sim/real.h"

typedef enum {
    NEURON_TURN_OFF = 0,
    NEURON_TURN_ON,
    NEURON_LIF,
    NEURON_RELAY,
    NEURON_NMODELS
} neuron_model;

#define NEURON_NAME_MAX 64           /* bytes of a name including the NUL */
#define NEURON_THRESHOLD ((real)0.5) /* default threshold, model.md §1 */
#define NEURON_ALPHA ((real)0.5)     /* default turn-on leak, model.md §2 init */
#define NEURON_TAU ((real)2)         /* default LIF time constant: decay 0.5 */

/* What the caller describes; the engine copies everything. */
typedef struct {
    const char *name; /* unique within an engine, < NEURON_NAME_MAX bytes */
    neuron_model model;
    int C, H, W; /* shape; C*H*W < 2^31 */
    int rank;    /* >= 0: order of the update within a timestep */
    real threshold;
    int nsets;         /* parameter sets by timestep (0 or 1: constant) */
    const real *bias;  /* (nsets, C) constant input current, or NULL for 0 */
    const real *alpha; /* (nsets, C): TURN_ON alpha, LIF decay; NULL: default */
    real tau;          /* LIF without alpha: decay = 1 - 1/tau, tau >= 1 */
} pop_spec;

typedef struct {
    char name[NEURON_NAME_MAX];
    neuron_model model;
    int C, H, W, HW;
    int32_t n; /* C*H*W */
    int rank;
    real threshold;
    int nsets;
    real *bias;          /* (nsets, C) */
    real *alpha;         /* (nsets, C) TURN_ON alpha or LIF decay; NULL otherwise */
    real *state;         /* (H, W, C) c or v; NULL for TURN_OFF and RELAY */
    real *input;         /* (H, W, C) accumulation buffer */
    int depth;           /* history slots */
    int32_t *spikes;     /* (depth, n) public ids, ascending; NULL for RELAY */
    int32_t *nspikes;    /* (depth) */
    real *graded;        /* (depth, H, W, C) or NULL when nothing reads it */
    int32_t *nnz;        /* (depth) nonzero graded values per slot */
    int64_t *slot_t;     /* (depth) timestep a slot holds, -1 for none */
    int32_t *chan_count;  /* (C) spikes per channel of the last update */
    uint64_t *fired;      /* (ceil(HW/64), C): bit q%64 of word (q/64, c) is set when
                           * neuron (q, c) fired in the last update */
    int mask_words;       /* ceil(C/64) */
    uint64_t *masks;      /* (depth, HW, mask_words): each slot's spikes as channel
                           * masks, bit c%64 of word (q, c/64) for neuron (q, c) */
    int64_t last_t;      /* timestep of the last update, -1 before the first */
    /* counters: spikes of the last update, since the last counter reset,
     * and how many updates that covers (firing rate = total / (n * updates)) */
    uint64_t spikes_step, spikes_total, updates;
    void *block; /* the one MEM_ENGINE allocation holding the arrays */
} population;

/* A spec with the defaults: threshold 0.5, one parameter set, no bias,
 * default alpha 0.5 (TURN_ON) or tau 2 (LIF). */
pop_spec pop_spec_make(const char *name, neuron_model model, int C, int H, int W, int rank);

const char *neuron_model_name(neuron_model m);

/* Storage index (y*W + x)*C + c of public id c*HW + y*W + x, and back. */
static inline int32_t neuron_index_of(int C, int HW, int32_t id)
{
    return (id % HW) * C + id / HW;
}
static inline int32_t neuron_id_of(int C, int HW, int32_t index)
{
    return (index % C) * HW + index / C;
}
/* Whole arrays: (H, W, C) storage <-> (C, H, W) public. */
void neuron_to_public(real *out /* (C, H, W) */, const real *in /* (H, W, C) */, int C, int HW);
void neuron_from_public(real *out /* (H, W, C) */, const real *in /* (C, H, W) */, int C, int HW);

/* Check a spec without allocating: name, model, shape, rank, finite
 * parameters. `index` only labels the message. */
sim_status pop_check(sim_ctx *ctx, const pop_spec *spec, int index);
/* Allocate (MEM_ENGINE, one block) and initialize a checked spec with
 * `depth` history slots; keep_graded: some projection reads graded values. */
sim_status pop_init(sim_ctx *ctx, population *p, const pop_spec *spec, int depth, int keep_graded);
void pop_free(sim_ctx *ctx, population *p);
/* Clear state, input, history (between samples); counters are kept. */
void pop_reset(population *p);
void pop_reset_counters(population *p);

/* Apply the model at timestep t: read and clear `input`, update the state,
 * write the spike list (and graded output) into slot t % depth. */
void pop_update(population *p, int64_t t);

/* Add amplitude to the input of the given public ids / add a whole public
 * (C, H, W) array. Out-of-range ids: SIM_ERANGE, nothing added. */
sim_status pop_inject_ids(sim_ctx *ctx, population *p, const int32_t *ids, int32_t n,
                          real amplitude);
void pop_inject_values(population *p, const real *values /* (C, H, W) */);

/* Spikes (public ids, ascending) of the update at timestep t, which must be
 * one of the last `depth` updates; *n receives the count. */
const int32_t *pop_spikes_at(const population *p, int64_t t, int32_t *n);
/* The same spikes as channel masks per position (see population.masks),
 * NULL for a population that does not spike. */
const uint64_t *pop_masks_at(const population *p, int64_t t);
/* Spikes of the last update (none before the first). */
const int32_t *pop_spikes(const population *p, int32_t *n);
/* Graded output (H, W, C) of the update at timestep t (one of the last
 * `depth`), NULL when not kept; *nnz (may be NULL) its nonzero count. */
const real *pop_graded_at(const population *p, int64_t t, int32_t *nnz);

#endif
