/* engine.c - network container and timestep loop of the event-driven
 * engine: validation of a whole network before anything is allocated, the
 * rank-ordered deliver/update cycle through the scheduler, external input,
 * reset between samples and the counters. */
#include "engine.h"

#include <assert.h>
#include <math.h>
#include <string.h>

engine_opts engine_opts_default(void)
{
    engine_opts o = {.e_mac_pj = ENGINE_E_MAC_PJ, .e_ac_pj = ENGINE_E_AC_PJ};
    return o;
}

/* Whole-network checks that no single population or projection can make:
 * unique names, and delay-0 projections going strictly up in rank (which
 * also rules out delay-0 cycles). */
static sim_status check_network(sim_ctx *ctx, const pop_spec *pops, int npop,
                                const proj_spec *projs, int nproj)
{
    for (int i = 0; i < npop; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(pops[i].name, pops[j].name) == 0)
                return ctx_error(ctx, SIM_EINVAL,
                                 "populations %d and %d are both named \"%s\"; names must be "
                                 "unique",
                                 j, i, pops[i].name);
    for (int j = 0; j < nproj; j++) {
        const proj_spec *s = &projs[j];
        const pop_spec *a = &pops[s->src], *b = &pops[s->dst];
        if (s->delay == 0 && a->rank >= b->rank)
            return ctx_error(ctx, SIM_EINVAL,
                             "projection %d (%s -> %s) has delay 0 but goes from rank %d to rank "
                             "%d: a delay-0 projection must go to a higher rank (or give it a "
                             "delay >= 1)",
                             j, a->name, b->name, a->rank, b->rank);
    }
    return SIM_OK;
}

sim_status engine_create(sim_ctx *ctx, engine *e, const pop_spec *pops, int npop,
                         const proj_spec *projs, int nproj, const engine_opts *opts)
{
    memset(e, 0, sizeof *e);
    e->opts = opts ? *opts : engine_opts_default();
    /* ---- validate everything, allocate nothing ---- */
    if (!(e->opts.e_mac_pj >= 0 && e->opts.e_ac_pj >= 0 && isfinite(e->opts.e_mac_pj) &&
          isfinite(e->opts.e_ac_pj)))
        return ctx_error(ctx, SIM_EINVAL,
                         "engine: energy per MAC %g pJ and per AC %g pJ must be finite and >= 0",
                         e->opts.e_mac_pj, e->opts.e_ac_pj);
    if (npop < 1 || !pops)
        return ctx_error(ctx, SIM_EINVAL, "engine: a network needs at least one population");
    if (nproj < 0 || (nproj > 0 && !projs))
        return ctx_error(ctx, SIM_EINVAL, "engine: %d projections but no projection array", nproj);
    sim_status st;
    for (int i = 0; i < npop; i++)
        if ((st = pop_check(ctx, &pops[i], i)) != SIM_OK)
            return st;
    for (int j = 0; j < nproj; j++)
        if ((st = proj_check(ctx, &projs[j], j, pops, npop)) != SIM_OK)
            return st;
    if ((st = check_network(ctx, pops, npop, projs, nproj)) != SIM_OK)
        return st;
    /* the most packets pending at once: a projection with delay d holds at
     * most d + 1 (emitted at t - d .. t) */
    size_t qcap = 0;
    for (int j = 0; j < nproj; j++)
        if (size_add(qcap, (size_t)projs[j].delay + 1, &qcap))
            return ctx_error(ctx, SIM_ENOMEM, "engine: pending-packet count overflows");

    /* ---- commit: tables, populations, projections, queue ---- */
    size_t bytes = 0, sz;
    size_t o_pops, o_projs, o_start, o_out, o_order;
#define PLAN(off, n, type)                                                                         \
    do {                                                                                           \
        bytes = (bytes + SIM_ALIGN - 1) / SIM_ALIGN * SIM_ALIGN;                                   \
        off = bytes;                                                                               \
        sz = (size_t)(n) * sizeof(type);                                                           \
        bytes += sz;                                                                               \
    } while (0)
    /* npop, nproj are ints: these sizes cannot overflow size_t */
    PLAN(o_pops, npop, population);
    PLAN(o_projs, nproj, projection);
    PLAN(o_start, npop + 1, int32_t);
    PLAN(o_out, nproj, int32_t);
    PLAN(o_order, npop, int32_t);
#undef PLAN
    unsigned char *tab = mem_alloc(ctx, MEM_ENGINE, bytes);
    if (!tab)
        return SIM_ENOMEM;
    e->tables = tab;
    e->pops = (population *)(tab + o_pops);
    e->projs = (projection *)(tab + o_projs);
    e->out_start = (int32_t *)(tab + o_start);
    e->out_proj = (int32_t *)(tab + o_out);
    e->order = (int32_t *)(tab + o_order);
    e->npop = npop;
    e->nproj = nproj;

    /* outgoing lists (counting sort by source, in projection order) */
    for (int j = 0; j < nproj; j++)
        e->out_start[projs[j].src + 1]++;
    for (int i = 0; i < npop; i++)
        e->out_start[i + 1] += e->out_start[i];
    for (int i = 0; i < npop; i++) /* order[] serves as the fill cursor per source */
        e->order[i] = e->out_start[i];
    for (int j = 0; j < nproj; j++)
        e->out_proj[e->order[projs[j].src]++] = j;
    /* populations by rank, stable (insertion sort; networks are small) */
    for (int i = 0; i < npop; i++) {
        int r = pops[i].rank, k = i;
        while (k > 0 && pops[e->order[k - 1]].rank > r) {
            e->order[k] = e->order[k - 1];
            k--;
        }
        e->order[k] = i;
    }

    for (int i = 0; i < npop; i++) {
        int depth = 1, graded = 0;
        for (int32_t k = e->out_start[i]; k < e->out_start[i + 1]; k++) {
            const proj_spec *s = &projs[e->out_proj[k]];
            if (s->delay + 1 > depth)
                depth = s->delay + 1;
            graded |= s->kind == PROJ_GRADED;
        }
        if ((st = pop_init(ctx, &e->pops[i], &pops[i], depth, graded)) != SIM_OK)
            goto fail;
    }
    for (int j = 0; j < nproj; j++)
        if ((st = proj_init(ctx, &e->projs[j], &projs[j], &pops[projs[j].src],
                            &pops[projs[j].dst])) != SIM_OK)
            goto fail;
    if ((st = scheduler_init(ctx, &e->queue, qcap)) != SIM_OK)
        goto fail;
    return SIM_OK;
fail:
    engine_free(ctx, e);
    return st;
}

void engine_free(sim_ctx *ctx, engine *e)
{
    if (e->tables) {
        for (int i = 0; i < e->npop; i++)
            pop_free(ctx, &e->pops[i]); /* a zeroed population frees nothing */
        for (int j = 0; j < e->nproj; j++)
            proj_free(ctx, &e->projs[j]);
    }
    scheduler_free(ctx, &e->queue);
    mem_free(ctx, e->tables);
    memset(e, 0, sizeof *e);
}

/* Deliver the packet of projection j due at timestep t. */
static void deliver(engine *e, int j, int64_t t)
{
    projection *pr = &e->projs[j];
    const population *src = &e->pops[pr->src];
    population *dst = &e->pops[pr->dst];
    const int64_t te = t - pr->delay; /* when the source emitted it */
    proj_counters c = {0};
    if (pr->kind == PROJ_SPIKE) {
        int32_t n;
        const int32_t *ids = pop_spikes_at(src, te, &n);
        proj_deliver_spikes(pr, dst->input, ids, n, pop_masks_at(src, te), t, &c);
    } else {
        proj_deliver_graded(pr, dst->input, pop_graded_at(src, te, NULL), t, &c);
    }
    proj_counters_add(&pr->step, &c);
    proj_counters_add(&pr->total, &c);
}

/* Schedule the packets population i emitted at timestep t. */
static sim_status emit(sim_ctx *ctx, engine *e, int i, int64_t t)
{
    const population *p = &e->pops[i];
    const size_t slot = (size_t)(t % p->depth);
    for (int32_t k = e->out_start[i]; k < e->out_start[i + 1]; k++) {
        int j = e->out_proj[k];
        const projection *pr = &e->projs[j];
        int32_t nev = pr->kind == PROJ_SPIKE ? p->nspikes[slot] : p->nnz[slot];
        if (nev == 0)
            continue; /* nothing to send, nothing to count */
        sim_status st =
            scheduler_push(ctx, &e->queue, t + pr->delay, e->pops[pr->dst].rank, (uint64_t)j);
        if (st != SIM_OK)
            return st;
    }
    return SIM_OK;
}

sim_status engine_step(sim_ctx *ctx, engine *e)
{
    const int64_t t = e->t;
    for (int j = 0; j < e->nproj; j++)
        memset(&e->projs[j].step, 0, sizeof e->projs[j].step);
    int i = 0;
    while (i < e->npop) {
        const int r = e->pops[e->order[i]].rank;
        const scheduler_item *it;
        while ((it = scheduler_peek(&e->queue)) && it->t == t && it->rank == r) {
            scheduler_item item;
            scheduler_pop(&e->queue, &item);
            deliver(e, (int)item.payload, t);
        }
        /* the rank rule leaves nothing due earlier than (t, r) */
        assert(!it || it->t > t || (it->t == t && it->rank > r));
        for (; i < e->npop && e->pops[e->order[i]].rank == r; i++) {
            pop_update(&e->pops[e->order[i]], t);
            sim_status st = emit(ctx, e, e->order[i], t);
            if (st != SIM_OK)
                return st;
        }
    }
    assert(!scheduler_peek(&e->queue) || scheduler_peek(&e->queue)->t > t);
    e->t = t + 1;
    if (e->opts.on_step)
        e->opts.on_step(e->opts.ud, e, t);
    return SIM_OK;
}

sim_status engine_run(sim_ctx *ctx, engine *e, int64_t nsteps)
{
    for (int64_t s = 0; s < nsteps; s++) {
        sim_status st = engine_step(ctx, e);
        if (st != SIM_OK)
            return st;
    }
    return SIM_OK;
}

void engine_reset(engine *e)
{
    for (int i = 0; i < e->npop; i++)
        pop_reset(&e->pops[i]);
    for (int j = 0; j < e->nproj; j++)
        memset(&e->projs[j].step, 0, sizeof e->projs[j].step);
    scheduler_clear(&e->queue);
    e->t = 0;
}

void engine_reset_counters(engine *e)
{
    for (int i = 0; i < e->npop; i++)
        pop_reset_counters(&e->pops[i]);
    for (int j = 0; j < e->nproj; j++)
        proj_reset_counters(&e->projs[j]);
    e->extra_macs = e->extra_acs = 0;
}

static sim_status check_pop(sim_ctx *ctx, const engine *e, int pop)
{
    if (pop < 0 || pop >= e->npop)
        return ctx_error(ctx, SIM_ENOTFOUND, "engine: population %d does not exist (0..%d)", pop,
                         e->npop - 1);
    return SIM_OK;
}

sim_status engine_inject_spikes(sim_ctx *ctx, engine *e, int pop, const int32_t *ids, int32_t n,
                                real amplitude)
{
    sim_status st = check_pop(ctx, e, pop);
    if (st != SIM_OK)
        return st;
    if (n < 0 || (n > 0 && !ids))
        return ctx_error(ctx, SIM_EINVAL, "engine: %d injected ids but no id array", n);
    return pop_inject_ids(ctx, &e->pops[pop], ids, n, amplitude);
}

sim_status engine_inject_values(sim_ctx *ctx, engine *e, int pop, const real *values)
{
    sim_status st = check_pop(ctx, e, pop);
    if (st != SIM_OK)
        return st;
    if (!values)
        return ctx_error(ctx, SIM_EINVAL, "engine: no values to inject into \"%s\"",
                         e->pops[pop].name);
    pop_inject_values(&e->pops[pop], values);
    return SIM_OK;
}

int engine_find_pop(const engine *e, const char *name)
{
    for (int i = 0; i < e->npop; i++)
        if (strcmp(e->pops[i].name, name) == 0)
            return i;
    return -1;
}

const population *engine_pop(const engine *e, int pop)
{
    return pop >= 0 && pop < e->npop ? &e->pops[pop] : NULL;
}

const projection *engine_proj(const engine *e, int proj)
{
    return proj >= 0 && proj < e->nproj ? &e->projs[proj] : NULL;
}

int64_t engine_time(const engine *e)
{
    return e->t;
}

const int32_t *engine_spikes(const engine *e, int pop, int32_t *n)
{
    assert(pop >= 0 && pop < e->npop);
    return pop_spikes(&e->pops[pop], n);
}

const real *engine_state(const engine *e, int pop)
{
    assert(pop >= 0 && pop < e->npop);
    return e->pops[pop].state;
}

double engine_firing_rate(const engine *e, int pop)
{
    assert(pop >= 0 && pop < e->npop);
    const population *p = &e->pops[pop];
    return p->updates ? (double)p->spikes_total / ((double)p->n * (double)p->updates) : 0.0;
}

void engine_count_extra(engine *e, uint64_t macs, uint64_t acs)
{
    e->extra_macs += macs;
    e->extra_acs += acs;
}

void engine_get_totals(const engine *e, engine_totals *tot)
{
    memset(tot, 0, sizeof *tot);
    for (int i = 0; i < e->npop; i++)
        tot->spikes += e->pops[i].spikes_total;
    for (int j = 0; j < e->nproj; j++) {
        const projection *pr = &e->projs[j];
        tot->events += pr->total.events;
        tot->acs += pr->total.acs;
        tot->macs += pr->total.macs;
        if (pr->kind == PROJ_SPIKE)
            tot->sop_spike += pr->total.sop;
        else
            tot->sop_graded += pr->total.sop;
    }
    tot->acs += e->extra_acs;
    tot->macs += e->extra_macs;
    tot->energy_pj = e->opts.e_mac_pj * (double)tot->macs + e->opts.e_ac_pj * (double)tot->acs;
    tot->energy_lit_pj = e->opts.e_ac_pj * (tot->sop_spike + (double)e->extra_acs) +
                         e->opts.e_mac_pj * (tot->sop_graded + (double)e->extra_macs);
}

void engine_print_counters(const engine *e, FILE *out)
{
    fprintf(out, "%-20s %-8s %-15s %4s %12s %10s\n", "population", "model", "shape (C,H,W)", "rank",
            "spikes", "rate");
    for (int i = 0; i < e->npop; i++) {
        const population *p = &e->pops[i];
        char shape[48];
        snprintf(shape, sizeof shape, "(%d,%d,%d)", p->C, p->H, p->W);
        fprintf(out, "%-20s %-8s %-15s %4d %12llu %10.4f\n", p->name, neuron_model_name(p->model),
                shape, p->rank, (unsigned long long)p->spikes_total, engine_firing_rate(e, i));
    }
    fprintf(out, "%-34s %-6s %5s %10s %12s %12s %14s\n", "projection", "kind", "delay", "events",
            "ACs", "MACs", "SOP estimate");
    for (int j = 0; j < e->nproj; j++) {
        const projection *pr = &e->projs[j];
        char name[96];
        snprintf(name, sizeof name, "%.15s->%.15s %s", e->pops[pr->src].name, e->pops[pr->dst].name,
                 proj_map_name(pr->map));
        fprintf(out, "%-34s %-6s %5d %10llu %12llu %12llu %14.1f\n", name, proj_kind_name(pr->kind),
                pr->delay, (unsigned long long)pr->total.events, (unsigned long long)pr->total.acs,
                (unsigned long long)pr->total.macs, pr->total.sop);
    }
    engine_totals tot;
    engine_get_totals(e, &tot);
    fprintf(out,
            "total: %llu spikes, %llu ACs, %llu MACs; energy %.1f pJ (E_AC %.2f, E_MAC %.2f "
            "pJ); literature estimate %.1f pJ\n",
            (unsigned long long)tot.spikes, (unsigned long long)tot.acs,
            (unsigned long long)tot.macs, tot.energy_pj, e->opts.e_ac_pj, e->opts.e_mac_pj,
            tot.energy_lit_pj);
}
