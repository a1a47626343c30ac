/* engine.h - the event-driven simulation engine (engine.md): a network of
 * populations (neurons/neuron.h) and projections (topology/projection.h)
 * that exchange packets of spikes or graded values through a scheduler
 * (sim/scheduler.h), with synaptic work proportional to the events.
 *
 * Timestep t runs, for each population rank r in increasing order:
 *   1. deliver every packet scheduled for (t, r): each adds into the input
 *      buffer of its target population;
 *   2. update every population of rank r (neurons/neuron.h); each then emits
 *      one packet per outgoing projection, scheduled for (t + delay, rank of
 *      the target). Empty packets (no spikes, all-zero values) are not sent.
 * A delay-0 projection must therefore go from a lower to a higher rank;
 * delays >= 1 may go anywhere, including back to the source. External input
 * (engine_inject_*) adds into a population's input buffer for the next
 * timestep the engine runs.
 *
 * Build once with engine_create: everything is validated first (shapes of
 * every map against both populations, ranks, delays, parameters) and only
 * then allocated, all of it under MEM_ENGINE and sized for the worst case
 * (every neuron firing, every packet pending), so engine_step never
 * allocates.
 *
 * Counters: per projection (events, ACs, MACs, literature SOP estimate) for
 * the last timestep and since the last counter reset; per population spikes;
 * totals and energy E = e_mac * MACs + e_ac * ACs in pJ (model.md §5). */
#ifndef SIM_ENGINE_H
#define SIM_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "neurons/neuron.h"
#include "sim/ctx.h"
#include "sim/real.h"
#include "sim/scheduler.h"
#include "topology/projection.h"

#define ENGINE_E_MAC_PJ 4.6 /* 45 nm FP32 multiply-accumulate, Horowitz 2014 */
#define ENGINE_E_AC_PJ 0.9  /* 45 nm FP32 accumulate */

typedef struct engine engine;

/* Called after every timestep t; the engine's accessors show that step. */
typedef void (*engine_step_fn)(void *ud, const engine *e, int64_t t);

typedef struct {
    double e_mac_pj, e_ac_pj; /* energy per MAC and per AC */
    engine_step_fn on_step;   /* may be NULL */
    void *ud;                 /* passed to on_step */
} engine_opts;

typedef struct {
    uint64_t spikes;      /* emitted by all populations */
    uint64_t events;      /* delivered by all projections */
    uint64_t acs, macs;   /* projections plus engine_count_extra */
    double sop_spike;     /* literature estimate of spike projections (ACs) */
    double sop_graded;    /* ... of graded projections (MACs) */
    double energy_pj;     /* e_mac * macs + e_ac * acs */
    double energy_lit_pj; /* e_ac * sop_spike + e_mac * (sop_graded + extra macs) */
} engine_totals;

struct engine {
    int npop, nproj;
    population *pops;   /* (npop) */
    projection *projs;  /* (nproj) */
    int32_t *out_start; /* (npop + 1): outgoing projections of population i are */
    int32_t *out_proj;  /* out_proj[out_start[i] .. out_start[i+1]) */
    int32_t *order;     /* (npop) population indices by rank (stable) */
    scheduler queue;
    int64_t t; /* the next timestep to run */
    engine_opts opts;
    uint64_t extra_macs, extra_acs; /* engine_count_extra (e.g. the stem) */
    void *tables;                   /* the MEM_ENGINE block behind the arrays above */
};

/* e_mac 4.6 pJ, e_ac 0.9 pJ, no callback. */
engine_opts engine_opts_default(void);

/* Validate the network and build the engine. Population i is pops[i];
 * projections refer to populations by index. On failure nothing stays
 * allocated and the status comes with a one-line message in ctx. opts may
 * be NULL for the defaults. */
sim_status engine_create(sim_ctx *ctx, engine *e, const pop_spec *pops, int npop,
                         const proj_spec *projs, int nproj, const engine_opts *opts);
void engine_free(sim_ctx *ctx, engine *e);

/* Run one timestep / n timesteps. */
sim_status engine_step(sim_ctx *ctx, engine *e);
sim_status engine_run(sim_ctx *ctx, engine *e, int64_t nsteps);

/* Between samples: clear every state, input buffer, history and pending
 * packet and restart at timestep 0. Counters are kept. */
void engine_reset(engine *e);
void engine_reset_counters(engine *e);

/* External input for the next timestep: add amplitude to the input of the
 * given public neuron ids (SIM_ERANGE for a bad id, nothing added), or add a
 * whole (C, H, W) array of values. */
sim_status engine_inject_spikes(sim_ctx *ctx, engine *e, int pop, const int32_t *ids, int32_t n,
                                real amplitude);
sim_status engine_inject_values(sim_ctx *ctx, engine *e, int pop,
                                const real *values /* (C, H, W) */);

/* Index of the population with this name, or -1. */
int engine_find_pop(const engine *e, const char *name);
const population *engine_pop(const engine *e, int pop);
const projection *engine_proj(const engine *e, int proj);
int64_t engine_time(const engine *e);
/* Spikes (public ids, ascending) the population emitted in the last
 * timestep run; *n the count. */
const int32_t *engine_spikes(const engine *e, int pop, int32_t *n);
/* Membrane state (H, W, C) of a TURN_ON (c) or LIF (v) population, else NULL. */
const real *engine_state(const engine *e, int pop);
/* Spikes / (neurons * updates) since the last counter reset. */
double engine_firing_rate(const engine *e, int pop);

/* Operations done outside the engine that belong to the energy budget
 * (e.g. the stem, once per image). */
void engine_count_extra(engine *e, uint64_t macs, uint64_t acs);
void engine_get_totals(const engine *e, engine_totals *tot);
/* A table of populations, projections and totals. */
void engine_print_counters(const engine *e, FILE *out);

#endif
