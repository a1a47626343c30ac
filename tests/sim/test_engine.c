/* test_engine.c - the event-driven engine (sim/engine.c with
 * neurons/neuron.c and topology/projection.c):
 *
 *  (a) random small networks (3-6 populations of all four models, random
 *      shapes, random maps of every kind and both kinds, random delays 0..4
 *      under the rank rule, parameter sets switching by timestep, random
 *      external input) give exactly the spikes, states and operation counts
 *      of a brute-force clock-driven reference written here from the
 *      definitions: dense connection matrices built in gather form, every
 *      neuron and every synapse visited every timestep, delay lines holding
 *      every past output;
 *  (b) a silent population's projections count nothing;
 *  (c) ACs of disjoint input patterns add up exactly, doubling with uniform
 *      fan-out doubles them;
 *  (d) every map, spike and graded, against a naive dense computation;
 *  (e) bad networks are rejected with statuses and messages, leaking nothing;
 *  plus a failing allocator, external-input errors, reset, and the speed of
 *  a conv 3x3 64->64 fan-out.
 *
 * Exactness. The reference accumulates in long double, and for every neuron
 * and timestep it checks that the terms summed (deliveries, bias, leak
 * term, injections) are all multiples of 2^e with total magnitude below
 * 2^(p-1+e), p the mantissa bits of `real`: then EVERY summation order
 * gives the same value in `real`, so the engine must agree bit for bit
 * whatever order it delivers in. Parameters are drawn from dyadic grids so
 * that nearly all networks pass this certificate; a network that does not
 * is counted and skipped (the test requires most to pass). */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim/engine.h"
#include "sim/rng.h"
#include "tests/harness.h"

#define MAXP 6
#define MAXJ 16
#define MAXT 12
#define MAXN 256

/* ------------------------------------------------------------------ */
/* random networks                                                     */

typedef struct {
    int npop, nproj, T;
    pop_spec ps[MAXP];
    char names[MAXP][16];
    real *bias[MAXP], *alpha[MAXP];
    proj_spec js[MAXJ];
    real *w[MAXJ];
    int inj_mode[MAXP]; /* 0 none, 1 spike ids with amplitude 1, 2 dense values */
    real *inj[MAXP];    /* (T, C, H, W) amplitudes */
} tnet;

static int rnd(sim_ctx *ctx, int n)
{
    return (int)rng_int(ctx, RNG_AUX, (unsigned long)n);
}

static real pick(sim_ctx *ctx, const double *v, int n)
{
    return (real)v[rnd(ctx, n)];
}

static int numel(const pop_spec *p)
{
    return p->C * p->H * p->W;
}

static int conv_out(int H, int k, int s, int pad)
{
    return H + 2 * pad < k ? 0 : (H + 2 * pad - k) / s + 1;
}

typedef struct {
    proj_map map;
    int k, s, pad;
} mapc;

/* every map (with geometry) that takes shape a to shape b */
static int candidates(const pop_spec *a, const pop_spec *b, mapc *out)
{
    int n = 0;
    if (numel(a) * numel(b) <= 65536)
        out[n++] = (mapc){PROJ_DENSE, 1, 1, 0};
    if (a->C == b->C && a->H == b->H && a->W == b->W)
        out[n++] = (mapc){PROJ_IDENTITY, 1, 1, 0};
    if (a->H == b->H && a->W == b->W)
        out[n++] = (mapc){PROJ_CONV1X1, 1, 1, 0};
    if (b->H == 2 * a->H && b->W == 2 * a->W)
        out[n++] = (mapc){PROJ_UPSAMPLE2_1X1, 1, 1, 0};
    for (int k = 1; k <= 3; k++)
        for (int s = 1; s <= 2; s++)
            for (int pad = 0; pad < k; pad++)
                if (conv_out(a->H, k, s, pad) == b->H && conv_out(a->W, k, s, pad) == b->W) {
                    out[n++] = (mapc){PROJ_CONV, k, s, pad};
                    if (a->C == b->C)
                        out[n++] = (mapc){PROJ_DEPTHWISE, k, s, pad};
                }
    return n;
}

/* a target shape for `map` from source a, or 0 when that map does not fit */
static int derive_shape(sim_ctx *ctx, const pop_spec *a, proj_map map, mapc *mc, pop_spec *b)
{
    *mc = (mapc){map, 1, 1, 0};
    b->C = 1 + rnd(ctx, 4);
    switch (map) {
    case PROJ_CONV:
    case PROJ_DEPTHWISE:
        mc->k = 1 + rnd(ctx, 3), mc->s = 1 + rnd(ctx, 2), mc->pad = rnd(ctx, mc->k);
        b->H = conv_out(a->H, mc->k, mc->s, mc->pad);
        b->W = conv_out(a->W, mc->k, mc->s, mc->pad);
        if (map == PROJ_DEPTHWISE)
            b->C = a->C;
        return b->H > 0 && b->W > 0;
    case PROJ_CONV1X1:
        b->H = a->H, b->W = a->W;
        return 1;
    case PROJ_UPSAMPLE2_1X1:
        b->H = 2 * a->H, b->W = 2 * a->W;
        return b->H <= 8 && b->W <= 8;
    case PROJ_IDENTITY:
        b->C = a->C, b->H = a->H, b->W = a->W;
        return 1;
    default:
        b->C = 1 + rnd(ctx, 3), b->H = 1 + rnd(ctx, 4), b->W = 1 + rnd(ctx, 4);
        return numel(a) * numel(b) <= 65536;
    }
}

/* weights per set of s; unit: an identity without weights */
static size_t weights_per_set(const tnet *n, const proj_spec *s, int unit)
{
    const pop_spec *a = &n->ps[s->src], *b = &n->ps[s->dst];
    switch (s->map) {
    case PROJ_CONV:
        return (size_t)b->C * a->C * s->k * s->k;
    case PROJ_DEPTHWISE:
        return (size_t)b->C * s->k * s->k;
    case PROJ_CONV1X1:
    case PROJ_UPSAMPLE2_1X1:
        return (size_t)b->C * a->C;
    case PROJ_IDENTITY:
        return unit ? 0 : (size_t)b->C;
    default:
        return (size_t)numel(a) * numel(b);
    }
}

static const double spike_w[] = {-1,    -0.875, -0.75, -0.625, -0.5,  -0.375, -0.25, -0.125,
                                 0.125, 0.25,   0.375, 0.5,    0.625, 0.75,   0.875, 1};
/* graded weights, alphas, decays: 0.75 multiplies mantissas by 3, which a
 * float's 24 bits cannot absorb over many timesteps; only the double build
 * draws it (the first entries are shared) */
static const double graded_w[] = {-1, -0.5, 0.5, 1, -0.25, 0.25, -0.75, 0.75};
static const double alphas[] = {0.5, 1, -0.5, 0, 0.25, 0.75};
static const double decays[] = {0, 0.5, 1, 0.25, 0.75};
static const double taus[] = {1, 2, 4};
static const double thresholds[] = {0.25, 0.5, 0.75, 1};
static const double biases[] = {0, 0.125, -0.125, 0.25, -0.25, 0.5};
static const double inj_vals[] = {0.5, -0.5, 1, 0.25, -0.25};

static void add_proj(sim_ctx *ctx, tnet *n, int src, int dst, const mapc *mc)
{
    proj_spec *s = &n->js[n->nproj];
    const pop_spec *a = &n->ps[src], *b = &n->ps[dst];
    proj_kind kind = a->model == NEURON_RELAY || rnd(ctx, 2) ? PROJ_GRADED : PROJ_SPIKE;
    int delay = a->rank < b->rank ? rnd(ctx, 5) : 1 + rnd(ctx, 4);
    *s = proj_spec_conv(src, dst, kind, mc->map, delay, mc->k, mc->s, mc->pad, NULL);
    if (mc->map != PROJ_CONV && mc->map != PROJ_DEPTHWISE)
        s->k = 1, s->stride = 1, s->pad = 0;
    s->nsets = rnd(ctx, 3) == 0 ? 1 + rnd(ctx, 3) : 1;
    int unit = mc->map == PROJ_IDENTITY && rnd(ctx, 2);
    if (!unit) {
        size_t per = weights_per_set(n, s, 0), nw = per * (size_t)s->nsets;
        real *w = malloc(nw * sizeof *w);
        int ng = REAL_IS_DOUBLE ? 8 : 4;
        for (size_t i = 0; i < nw; i++)
            w[i] = kind == PROJ_SPIKE ? pick(ctx, spike_w, 16) : pick(ctx, graded_w, ng);
        s->weights = w;
        n->w[n->nproj] = w;
    } else {
        s->nsets = 1;
    }
    n->nproj++;
}

static void gen_net(sim_ctx *ctx, tnet *n)
{
    memset(n, 0, sizeof *n);
    n->T = 10;
    n->npop = 3 + rnd(ctx, 4);
    const int na = REAL_IS_DOUBLE ? 6 : 4, nd = REAL_IS_DOUBLE ? 5 : 3, nt = REAL_IS_DOUBLE ? 3 : 2;
    mapc first[MAXP];
    int parent[MAXP];
    for (int i = 0; i < n->npop; i++) {
        pop_spec *p = &n->ps[i];
        snprintf(n->names[i], sizeof n->names[i], "p%d", i);
        *p = pop_spec_make(n->names[i], (neuron_model)rnd(ctx, NEURON_NMODELS), 1, 1, 1,
                           rnd(ctx, 4));
        if (i == 0) {
            p->C = 1 + rnd(ctx, 4), p->H = 2 + rnd(ctx, 5), p->W = 2 + rnd(ctx, 5);
        } else {
            parent[i] = rnd(ctx, i);
            while (
                !derive_shape(ctx, &n->ps[parent[i]], (proj_map)rnd(ctx, PROJ_NMAPS), &first[i], p))
                ;
        }
        p->threshold = pick(ctx, thresholds, 4);
        p->nsets = rnd(ctx, 3) == 0 ? 1 + rnd(ctx, 3) : 1;
        size_t np = (size_t)p->nsets * p->C;
        if (rnd(ctx, 2)) {
            n->bias[i] = malloc(np * sizeof(real));
            for (size_t c = 0; c < np; c++)
                n->bias[i][c] = pick(ctx, biases, 6);
            p->bias = n->bias[i];
        }
        if ((p->model == NEURON_TURN_ON || p->model == NEURON_LIF) && rnd(ctx, 3)) {
            n->alpha[i] = malloc(np * sizeof(real));
            for (size_t c = 0; c < np; c++)
                n->alpha[i][c] =
                    p->model == NEURON_LIF ? pick(ctx, decays, nd) : pick(ctx, alphas, na);
            p->alpha = n->alpha[i];
        }
        if (p->model == NEURON_LIF)
            p->tau = pick(ctx, taus, nt);
    }
    for (int i = 1; i < n->npop; i++)
        add_proj(ctx, n, parent[i], i, &first[i]);
    int extra = rnd(ctx, n->npop + 2);
    for (int x = 0; x < extra && n->nproj < MAXJ; x++) {
        int src = rnd(ctx, n->npop), dst = rnd(ctx, n->npop);
        mapc c[64];
        int nc = candidates(&n->ps[src], &n->ps[dst], c);
        if (nc)
            add_proj(ctx, n, src, dst, &c[rnd(ctx, nc)]);
    }
    /* external input: spikes into population 0, values into another */
    int other = 1 + rnd(ctx, n->npop - 1);
    for (int i = 0; i < n->npop; i++) {
        n->inj_mode[i] = i == 0 ? 1 : (i == other && rnd(ctx, 2)) ? 2 : 0;
        if (!n->inj_mode[i])
            continue;
        size_t m = (size_t)n->T * numel(&n->ps[i]);
        n->inj[i] = calloc(m, sizeof(real));
        for (size_t k = 0; k < m; k++)
            if (rng_uniform(ctx, RNG_AUX) < 0.35)
                n->inj[i][k] = n->inj_mode[i] == 1 ? (real)1 : pick(ctx, inj_vals, 5);
    }
}

static void free_net(tnet *n)
{
    for (int i = 0; i < MAXP; i++)
        free(n->bias[i]), free(n->alpha[i]), free(n->inj[i]);
    for (int j = 0; j < MAXJ; j++)
        free(n->w[j]);
}

/* ------------------------------------------------------------------ */
/* brute-force clock-driven reference                                  */

typedef struct {
    char *spk[MAXP];          /* (T, n) spike indicator, public order */
    long double *val[MAXP];   /* (T, n) value compared with the threshold */
    long double *state[MAXP]; /* (T, n) state after the update */
    uint64_t events[MAXJ], acs[MAXJ], macs[MAXJ];
    double sop[MAXJ];
    int certified; /* every accumulation order-independent in `real` */
} ref_out;

/* Dense connection matrix (n_dst, n_src) of projection j, weight set `set`,
 * in gather form from the definition of each map; 0 = no synapse (the
 * random weights are never 0). */
static double *ref_matrix(const tnet *n, int j, int set)
{
    const proj_spec *s = &n->js[j];
    const pop_spec *a = &n->ps[s->src], *b = &n->ps[s->dst];
    const int ns = numel(a), nd = numel(b), Ci = a->C, H = a->H, W = a->W;
    const int Co = b->C, Ho = b->H, Wo = b->W;
    double *M = calloc((size_t)ns * nd, sizeof *M);
    const real *w = s->weights ? s->weights + (size_t)set * weights_per_set(n, s, 0) : NULL;
    int k = s->k, st = s->stride, pad = s->pad;
    if (s->map == PROJ_CONV1X1)
        k = 1, st = 1, pad = 0;
    for (int co = 0; co < Co; co++)
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
                double *row = M + ((size_t)(co * Ho + oy) * Wo + ox) * ns;
                switch (s->map) {
                case PROJ_CONV:
                case PROJ_CONV1X1:
                case PROJ_DEPTHWISE:
                    for (int ci = 0; ci < Ci; ci++) {
                        if (s->map == PROJ_DEPTHWISE && ci != co)
                            continue;
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int y = oy * st + ky - pad, x = ox * st + kx - pad;
                                if (y < 0 || y >= H || x < 0 || x >= W)
                                    continue;
                                double v = s->map == PROJ_DEPTHWISE
                                               ? w[(co * k + ky) * k + kx]
                                               : w[((co * Ci + ci) * k + ky) * k + kx];
                                row[(ci * H + y) * W + x] = v;
                            }
                    }
                    break;
                case PROJ_UPSAMPLE2_1X1:
                    for (int ci = 0; ci < Ci; ci++)
                        row[(ci * H + oy / 2) * W + ox / 2] = w[co * Ci + ci];
                    break;
                case PROJ_IDENTITY:
                    row[(co * H + oy) * W + ox] = w ? w[co] : 1.0;
                    break;
                default: /* dense */
                    for (int i = 0; i < ns; i++)
                        row[i] = w[(size_t)((co * Ho + oy) * Wo + ox) * ns + i];
                    break;
                }
            }
    return M;
}

static double ref_dense_flops(const tnet *n, int j)
{
    const proj_spec *s = &n->js[j];
    const pop_spec *a = &n->ps[s->src], *b = &n->ps[s->dst];
    switch (s->map) {
    case PROJ_CONV:
        return (double)b->C * b->H * b->W * a->C * s->k * s->k;
    case PROJ_DEPTHWISE:
        return (double)b->C * b->H * b->W * s->k * s->k;
    case PROJ_CONV1X1:
        return (double)b->C * b->H * b->W * a->C;
    case PROJ_UPSAMPLE2_1X1:
        return (double)b->C * a->C * a->H * a->W;
    case PROJ_IDENTITY:
        return numel(a);
    default:
        return (double)numel(a) * numel(b);
    }
}

/* exponent of the lowest set bit of x != 0 */
static int lowbit(long double x)
{
    int e;
    long double m = frexpl(fabsl(x), &e); /* x = m 2^e, m in [0.5, 1) */
    uint64_t M = (uint64_t)ldexpl(m, 64); /* exact: long double has 64 bits */
    return e - 64 + __builtin_ctzll(M);
}

typedef struct {
    long double acc[MAXN], A[MAXN];
    int emin[MAXN];
} accum;

static void acc_add(accum *a, int i, long double term)
{
    if (term == 0)
        return;
    a->acc[i] += term;
    a->A[i] += fabsl(term);
    int e = lowbit(term);
    if (e < a->emin[i])
        a->emin[i] = e;
}

static void ref_run(const tnet *n, ref_out *r)
{
    memset(r, 0, sizeof *r);
    r->certified = 1;
    const int T = n->T, p_bits = REAL_IS_DOUBLE ? 53 : 24;
    for (int i = 0; i < n->npop; i++) {
        size_t m = (size_t)T * numel(&n->ps[i]);
        r->spk[i] = calloc(m, 1);
        r->val[i] = calloc(m, sizeof(long double));
        r->state[i] = calloc(m, sizeof(long double));
    }
    double *M[MAXJ][3];
    for (int j = 0; j < n->nproj; j++)
        for (int set = 0; set < 3; set++)
            M[j][set] =
                set < (n->js[j].nsets < 1 ? 1 : n->js[j].nsets) ? ref_matrix(n, j, set) : NULL;
    /* populations by rank; delay-0 edges go strictly up, so any order of
     * equal ranks is fine */
    int order[MAXP];
    for (int i = 0; i < n->npop; i++)
        order[i] = i;
    for (int i = 1; i < n->npop; i++)
        for (int k = i; k > 0 && n->ps[order[k - 1]].rank > n->ps[order[k]].rank; k--) {
            int tmp = order[k];
            order[k] = order[k - 1], order[k - 1] = tmp;
        }
    static accum a;
    for (int t = 0; t < T; t++)
        for (int oi = 0; oi < n->npop; oi++) {
            const int pi = order[oi];
            const pop_spec *p = &n->ps[pi];
            const int np = numel(p), HW = p->H * p->W;
            for (int i = 0; i < np; i++)
                a.acc[i] = 0, a.A[i] = 0, a.emin[i] = 1 << 20;
            if (n->inj[pi])
                for (int i = 0; i < np; i++)
                    acc_add(&a, i, n->inj[pi][(size_t)t * np + i]);
            for (int j = 0; j < n->nproj; j++) {
                const proj_spec *s = &n->js[j];
                int te = t - s->delay;
                if (s->dst != pi || te < 0)
                    continue;
                int nsets = s->nsets < 1 ? 1 : s->nsets;
                const double *Mj = M[j][t < nsets ? t : nsets - 1];
                const int ns = numel(&n->ps[s->src]);
                const char *spk = r->spk[s->src] + (size_t)te * ns;
                const long double *val = r->val[s->src] + (size_t)te * ns;
                for (int is = 0; is < ns; is++) {
                    long double x = s->kind == PROJ_SPIKE ? (spk[is] ? 1 : 0) : val[is];
                    if (x == 0)
                        continue;
                    r->events[j]++;
                    for (int jd = 0; jd < np; jd++) {
                        double wv = Mj[(size_t)jd * ns + is];
                        if (wv == 0)
                            continue; /* no synapse */
                        if (s->kind == PROJ_SPIKE || (s->map == PROJ_IDENTITY && !s->weights))
                            r->acs[j]++;
                        else
                            r->macs[j]++;
                        acc_add(&a, jd, s->kind == PROJ_SPIKE ? (long double)wv : x * wv);
                    }
                }
            }
            int pset = t < p->nsets ? t : p->nsets - 1;
            for (int i = 0; i < np; i++) {
                int c = i / HW;
                if (p->bias)
                    acc_add(&a, i, p->bias[pset * p->C + c]);
                long double prev = t > 0 ? r->state[pi][(size_t)(t - 1) * np + i] : 0;
                long double coef = 0;
                if (p->model == NEURON_TURN_ON)
                    coef = p->alpha ? p->alpha[pset * p->C + c] : 0.5L;
                else if (p->model == NEURON_LIF)
                    coef = p->alpha ? p->alpha[pset * p->C + c]
                                    : (long double)(real)(1 - 1 / (double)p->tau);
                if (p->model == NEURON_TURN_ON || p->model == NEURON_LIF)
                    acc_add(&a, i, coef * prev);
                long double v = a.acc[i];
                int fire = p->model != NEURON_RELAY && v >= (long double)p->threshold;
                r->spk[pi][(size_t)t * np + i] = (char)fire;
                r->val[pi][(size_t)t * np + i] = v;
                r->state[pi][(size_t)t * np + i] = p->model == NEURON_TURN_ON        ? v
                                                   : p->model == NEURON_LIF && !fire ? v
                                                                                     : 0;
                if (a.A[i] > 0 && !(ldexpl(a.A[i], -a.emin[i]) < ldexpl(1, p_bits - 1)))
                    r->certified = 0;
            }
        }
    for (int j = 0; j < n->nproj; j++) {
        r->sop[j] = (double)r->events[j] / numel(&n->ps[n->js[j].src]) * ref_dense_flops(n, j);
        for (int set = 0; set < 3; set++)
            free(M[j][set]);
    }
}

static void free_ref(ref_out *r)
{
    for (int i = 0; i < MAXP; i++)
        free(r->spk[i]), free(r->val[i]), free(r->state[i]);
}

/* ------------------------------------------------------------------ */
/* running the engine on a tnet                                        */

typedef struct {
    const tnet *n;
    char *spk[MAXP];   /* (T, n) indicator from the exported spike lists */
    real *state[MAXP]; /* (T, n) public order, TURN_ON and LIF */
    int unsorted;      /* an exported list was not strictly ascending */
    int calls;
} record;

static void record_step(void *ud, const engine *e, int64_t t)
{
    record *rec = ud;
    rec->calls++;
    for (int i = 0; i < e->npop; i++) {
        const population *p = engine_pop(e, i);
        int32_t k;
        const int32_t *ids = engine_spikes(e, i, &k);
        for (int32_t s = 0; s < k; s++) {
            if (s > 0 && ids[s] <= ids[s - 1])
                rec->unsorted = 1;
            if (ids[s] >= 0 && ids[s] < p->n)
                rec->spk[i][(size_t)t * p->n + ids[s]] = 1;
        }
        const real *st = engine_state(e, i);
        if (st)
            neuron_to_public(rec->state[i] + (size_t)t * p->n, st, p->C, p->HW);
    }
}

static void record_init(record *rec, const tnet *n)
{
    memset(rec, 0, sizeof *rec);
    rec->n = n;
    for (int i = 0; i < n->npop; i++) {
        size_t m = (size_t)n->T * numel(&n->ps[i]);
        rec->spk[i] = calloc(m, 1);
        rec->state[i] = calloc(m, sizeof(real));
    }
}

static void record_clear(record *rec)
{
    for (int i = 0; i < rec->n->npop; i++) {
        size_t m = (size_t)rec->n->T * numel(&rec->n->ps[i]);
        memset(rec->spk[i], 0, m);
        memset(rec->state[i], 0, m * sizeof(real));
    }
    rec->unsorted = rec->calls = 0;
}

/* T timesteps with the network's external input */
static sim_status drive(sim_ctx *ctx, const tnet *n, engine *e)
{
    sim_status st;
    for (int t = 0; t < n->T; t++) {
        for (int i = 0; i < n->npop; i++) {
            int np = numel(&n->ps[i]);
            const real *x = n->inj[i] ? n->inj[i] + (size_t)t * np : NULL;
            if (n->inj_mode[i] == 1) {
                int32_t ids[MAXN], k = 0;
                for (int q = 0; q < np; q++)
                    if (x[q] != 0)
                        ids[k++] = q;
                if ((st = engine_inject_spikes(ctx, e, i, ids, k, 1)) != SIM_OK)
                    return st;
            } else if (n->inj_mode[i] == 2) {
                if ((st = engine_inject_values(ctx, e, i, x)) != SIM_OK)
                    return st;
            }
        }
        if ((st = engine_step(ctx, e)) != SIM_OK)
            return st;
    }
    return SIM_OK;
}

static void free_record(record *rec)
{
    for (int i = 0; i < MAXP; i++)
        free(rec->spk[i]), free(rec->state[i]);
}

/* fprintf to stderr unless quiet (after the first few failing networks) */
static int stderr_quiet;
static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
    if (stderr_quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

/* Compare an engine run with the reference; prints the first difference. */
static int compare(const tnet *n, const engine *e, const record *rec, const ref_out *r, int net)
{
    static int reported; /* print the first few failing networks only */
    if (reported >= 3)
        stderr_quiet = 1;
    int ok = 1;
    if (rec->unsorted) {
        report("\n  net %d: an exported spike list is not ascending\n", net);
        ok = 0;
    }
    if (rec->calls != n->T) {
        report("\n  net %d: on_step called %d times for %d steps\n", net, rec->calls, n->T);
        ok = 0;
    }
    for (int i = 0; i < n->npop && ok; i++) {
        const pop_spec *p = &n->ps[i];
        const int np = numel(p);
        for (int t = 0; t < n->T && ok; t++)
            for (int q = 0; q < np; q++) {
                size_t at = (size_t)t * np + q;
                if (rec->spk[i][at] != r->spk[i][at]) {
                    report("\n  net %d: population %s (%s, %d,%d,%d) t %d neuron %d: engine "
                           "%s, reference %s (reference value %.17Lg, threshold %g)\n",
                           net, p->name, neuron_model_name(p->model), p->C, p->H, p->W, t, q,
                           rec->spk[i][at] ? "spikes" : "silent",
                           r->spk[i][at] ? "spikes" : "silent", r->val[i][at],
                           (double)p->threshold);
                    ok = 0;
                    break;
                }
                if ((p->model == NEURON_TURN_ON || p->model == NEURON_LIF) &&
                    (long double)rec->state[i][at] != r->state[i][at]) {
                    report("\n  net %d: population %s t %d neuron %d: state %.17g, reference "
                           "%.17Lg\n",
                           net, p->name, t, q, (double)rec->state[i][at], r->state[i][at]);
                    ok = 0;
                    break;
                }
            }
    }
    for (int j = 0; j < n->nproj && ok; j++) {
        const projection *pr = engine_proj(e, j);
        if (pr->total.events != r->events[j] || pr->total.acs != r->acs[j] ||
            pr->total.macs != r->macs[j] ||
            fabs(pr->total.sop - r->sop[j]) > 1e-9 * (1 + r->sop[j])) {
            report("\n  net %d: projection %d (%s %s, delay %d): engine events %llu ACs %llu "
                   "MACs %llu SOP %.3f, reference %llu %llu %llu %.3f\n",
                   net, j, proj_kind_name(pr->kind), proj_map_name(pr->map), pr->delay,
                   (unsigned long long)pr->total.events, (unsigned long long)pr->total.acs,
                   (unsigned long long)pr->total.macs, pr->total.sop,
                   (unsigned long long)r->events[j], (unsigned long long)r->acs[j],
                   (unsigned long long)r->macs[j], r->sop[j]);
            ok = 0;
        }
    }
    reported += !ok;
    return ok;
}

/* (a) */
static void test_random_vs_reference(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 2024);
    const int NETS = 300;
    int certified = 0, passed = 0;
    size_t spiked = 0, neuron_steps = 0;
    int covered[PROJ_NMAPS][PROJ_NKINDS] = {{0}};
    int delays_used[5] = {0}, models_used[NEURON_NMODELS] = {0};
    for (int net = 0; net < NETS; net++) {
        tnet n;
        gen_net(&ctx, &n);
        ref_out r;
        ref_run(&n, &r);
        engine e;
        record rec;
        record_init(&rec, &n);
        engine_opts o = engine_opts_default();
        o.on_step = record_step;
        o.ud = &rec;
        sim_status st = engine_create(&ctx, &e, n.ps, n.npop, n.js, n.nproj, &o);
        if (st == SIM_OK)
            st = drive(&ctx, &n, &e);
        if (st != SIM_OK) {
            fprintf(stderr, "\n  net %d: %s\n", net, ctx_errmsg(&ctx));
            CU_FAIL("engine run failed");
        } else if (r.certified) {
            certified++;
            int ok = compare(&n, &e, &rec, &r, net);
            passed += ok;
            CU_ASSERT(ok);
            /* the same again after a reset: state, history, queue cleared */
            engine_reset(&e);
            engine_reset_counters(&e);
            record_clear(&rec);
            CU_ASSERT_EQUAL(drive(&ctx, &n, &e), SIM_OK);
            CU_ASSERT(compare(&n, &e, &rec, &r, net));
            for (int j = 0; j < n.nproj; j++) {
                if (r.events[j])
                    covered[n.js[j].map][n.js[j].kind]++;
                delays_used[n.js[j].delay]++;
            }
            for (int i = 0; i < n.npop; i++) {
                models_used[n.ps[i].model]++;
                size_t m = (size_t)n.T * numel(&n.ps[i]);
                for (size_t q = 0; q < m; q++)
                    spiked += r.spk[i][q];
                neuron_steps += m;
            }
        }
        if (st == SIM_OK)
            engine_free(&ctx, &e);
        free_record(&rec);
        free_ref(&r);
        free_net(&n);
    }
    fprintf(stderr,
            "\n  %d random networks: %d certified exact in %s, %d matched the reference "
            "(%.1f%% of %zu neuron-steps spiked)\n",
            NETS, certified, REAL_NAME, passed, 100.0 * spiked / (neuron_steps ? neuron_steps : 1),
            neuron_steps);
    CU_ASSERT(certified >= NETS * 3 / 4);
    CU_ASSERT_EQUAL(passed, certified);
    /* the networks exercised every map in both kinds, every delay, every model */
    for (int m = 0; m < PROJ_NMAPS; m++)
        for (int k = 0; k < PROJ_NKINDS; k++)
            if (!covered[m][k]) {
                fprintf(stderr, "\n  no active %s %s projection was tested\n",
                        proj_kind_name((proj_kind)k), proj_map_name((proj_map)m));
                CU_FAIL("coverage");
            }
    for (int d = 0; d < 5; d++)
        CU_ASSERT(delays_used[d] > 0);
    for (int m = 0; m < NEURON_NMODELS; m++)
        CU_ASSERT(models_used[m] > 0);
    CU_ASSERT_EQUAL(mem_current(&ctx, MEM_ENGINE), 0);
    ctx_free(&ctx);
}

/* ------------------------------------------------------------------ */
/* (d) every map against a naive dense computation                     */

typedef struct {
    proj_map map;
    int Ci, H, W, Co, k, s, pad;
    int unit; /* identity without weights */
} mcase;

static void case_out_shape(const mcase *m, int *Co, int *Ho, int *Wo)
{
    *Co = m->Co, *Ho = m->H, *Wo = m->W;
    if (m->map == PROJ_CONV || m->map == PROJ_DEPTHWISE) {
        *Ho = conv_out(m->H, m->k, m->s, m->pad);
        *Wo = conv_out(m->W, m->k, m->s, m->pad);
    } else if (m->map == PROJ_UPSAMPLE2_1X1) {
        *Ho = 2 * m->H, *Wo = 2 * m->W;
    } else if (m->map == PROJ_DENSE) {
        *Ho = 3, *Wo = 2;
    }
    if (m->map == PROJ_DEPTHWISE || m->map == PROJ_IDENTITY)
        *Co = m->Ci;
}

/* out (Co, Ho, Wo) += map(in (Ci, H, W)) straight from the layer
 * definitions; *ops counts weight x nonzero-input terms */
static void naive_map(double *out, const double *in, const mcase *m, const real *w, uint64_t *ops)
{
    int Co, Ho, Wo;
    case_out_shape(m, &Co, &Ho, &Wo);
    const int Ci = m->Ci, H = m->H, W = m->W, k = m->k;
    for (int co = 0; co < Co; co++)
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
                double sum = 0;
                switch (m->map) {
                case PROJ_CONV:
                case PROJ_DEPTHWISE:
                    for (int ci = 0; ci < Ci; ci++) {
                        if (m->map == PROJ_DEPTHWISE && ci != co)
                            continue;
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int y = oy * m->s + ky - m->pad, x = ox * m->s + kx - m->pad;
                                if (y < 0 || y >= H || x < 0 || x >= W)
                                    continue; /* zero padding */
                                double v = in[(ci * H + y) * W + x];
                                double wv = m->map == PROJ_CONV
                                                ? w[((co * Ci + ci) * k + ky) * k + kx]
                                                : w[(co * k + ky) * k + kx];
                                sum += wv * v;
                                *ops += v != 0;
                            }
                    }
                    break;
                case PROJ_CONV1X1:
                    for (int ci = 0; ci < Ci; ci++) {
                        double v = in[(ci * H + oy) * W + ox];
                        sum += w[co * Ci + ci] * v;
                        *ops += v != 0;
                    }
                    break;
                case PROJ_UPSAMPLE2_1X1: /* nearest: (oy, ox) reads (oy/2, ox/2) */
                    for (int ci = 0; ci < Ci; ci++) {
                        double v = in[(ci * H + oy / 2) * W + ox / 2];
                        sum += w[co * Ci + ci] * v;
                        *ops += v != 0;
                    }
                    break;
                case PROJ_IDENTITY: {
                    double v = in[(co * H + oy) * W + ox];
                    sum = (m->unit ? 1.0 : w[co]) * v;
                    *ops += v != 0;
                    break;
                }
                default: { /* dense (n_dst, n_src) */
                    int ns = Ci * H * W, j = (co * Ho + oy) * Wo + ox;
                    for (int i = 0; i < ns; i++) {
                        sum += w[(size_t)j * ns + i] * in[i];
                        *ops += in[i] != 0;
                    }
                }
                }
                out[(co * Ho + oy) * Wo + ox] += sum;
            }
}

static void test_maps_vs_dense(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 77);
    static const mcase cases[] = {
        {PROJ_CONV, 3, 7, 5, 4, 3, 2, 1, 0},          {PROJ_CONV, 2, 6, 6, 3, 3, 1, 1, 0},
        {PROJ_CONV, 3, 8, 6, 2, 2, 2, 0, 0},          {PROJ_CONV, 2, 9, 7, 3, 5, 1, 2, 0},
        {PROJ_CONV, 2, 9, 9, 2, 3, 3, 0, 0},          {PROJ_CONV, 2, 5, 4, 3, 3, 1, 2, 0},
        {PROJ_DEPTHWISE, 4, 7, 6, 4, 3, 1, 1, 0},     {PROJ_DEPTHWISE, 3, 8, 8, 3, 3, 2, 1, 0},
        {PROJ_DEPTHWISE, 2, 9, 7, 2, 5, 2, 2, 0},     {PROJ_CONV1X1, 5, 4, 3, 6, 1, 1, 0, 0},
        {PROJ_UPSAMPLE2_1X1, 3, 4, 5, 4, 1, 1, 0, 0}, {PROJ_IDENTITY, 3, 5, 4, 3, 1, 1, 0, 0},
        {PROJ_IDENTITY, 3, 5, 4, 3, 1, 1, 0, 1},      {PROJ_DENSE, 3, 3, 4, 2, 1, 1, 0, 0},
        /* the widths the gather of spike packets runs as vectors (16, 32,
         * 64 and 128 in float), one that is not, and sources of more than
         * 64 channels (several mask words per pixel) */
        {PROJ_CONV, 70, 5, 4, 32, 3, 2, 1, 0},        {PROJ_CONV, 6, 6, 5, 16, 3, 1, 1, 0},
        {PROJ_CONV1X1, 130, 3, 3, 64, 1, 1, 0, 0},    {PROJ_CONV1X1, 9, 4, 4, 128, 1, 1, 0, 0},
        {PROJ_CONV1X1, 20, 3, 2, 48, 1, 1, 0, 0},     {PROJ_CONV, 4, 5, 5, 20, 2, 2, 0, 0},
        /* depthwise widths that the "same" gather runs as vectors */
        {PROJ_DEPTHWISE, 16, 5, 4, 16, 3, 1, 1, 0},   {PROJ_DEPTHWISE, 32, 4, 4, 32, 3, 1, 1, 0},
    };
    const int ncase = (int)(sizeof cases / sizeof cases[0]);
    for (int ci = 0; ci < ncase; ci++) {
        const mcase *m = &cases[ci];
        int Co, Ho, Wo;
        case_out_shape(m, &Co, &Ho, &Wo);
        pop_spec ps[2] = {pop_spec_make("src", NEURON_TURN_ON, m->Ci, m->H, m->W, 0),
                          pop_spec_make("dst", NEURON_TURN_OFF, Co, Ho, Wo, 1)};
        const int ns = m->Ci * m->H * m->W, nd = Co * Ho * Wo;
        for (int kind = 0; kind < PROJ_NKINDS; kind++) {
            proj_spec sp =
                proj_spec_conv(0, 1, (proj_kind)kind, m->map, 0, m->k, m->s, m->pad, NULL);
            static const real dummy[1];
            sp.nsets = m->unit ? 1 : 2;
            sp.weights = dummy; /* counted with weights present */
            size_t per = m->unit ? 0 : proj_weight_count(&sp, &ps[0], &ps[1]) / 2;
            real *w = malloc((2 * per + 1) * sizeof *w);
            rng_fill_uniform(&ctx, RNG_AUX, w, 2 * per + 1, -1, 1);
            sp.weights = m->unit ? NULL : w;
            CU_ASSERT_EQUAL_FATAL(proj_check(&ctx, &sp, 0, ps, 2), SIM_OK);
            projection pr;
            CU_ASSERT_EQUAL_FATAL(proj_init(&ctx, &pr, &sp, &ps[0], &ps[1]), SIM_OK);
            double *in = calloc((size_t)ns, sizeof *in), *ref = calloc((size_t)nd, sizeof *ref);
            real *in_st = calloc((size_t)ns, sizeof *in_st),
                 *in_pub = calloc((size_t)ns, sizeof *in_pub);
            real *buf = calloc((size_t)nd, sizeof *buf), *base = calloc((size_t)nd, sizeof *base),
                 *got = calloc((size_t)nd, sizeof *got);
            int32_t *ids = calloc((size_t)ns, sizeof *ids), nid = 0;
            uint64_t *masks = calloc((size_t)m->H * m->W * ((m->Ci + 63) / 64), sizeof *masks);
            for (int t = 0; t < 6; t += 5) { /* t 0: set 0; t 5: set 1 */
                /* spike packets: dense at t 0 (the gather and dense kernels),
                 * sparse at t 5 (the scatter); neuron 0 always fires */
                const double rate = t == 0 ? 0.3 : 0.02;
                nid = 0;
                for (int i = 0; i < ns; i++) {
                    double u = rng_uniform(&ctx, RNG_AUX);
                    in[i] = kind == PROJ_SPIKE ? (u < rate || i == 0)
                                               : (u < 0.4 ? 0 : 2 * u - 1.2);
                    in_pub[i] = (real)in[i];
                    if (kind == PROJ_SPIKE && in[i] != 0)
                        ids[nid++] = i;
                }
                /* the target buffer already holds something: delivery adds */
                rng_fill_uniform(&ctx, RNG_AUX, base, (size_t)nd, -1, 1);
                for (int j = 0; j < nd; j++)
                    ref[j] = base[j];
                uint64_t ops = 0;
                naive_map(ref, in, m, m->unit ? NULL : w + (t ? per : 0), &ops);
                /* spikes go in twice: as ids alone, and with the per-pixel
                 * channel masks a source population hands over */
                const int mw = (m->Ci + 63) / 64;
                for (int i = 0; i < m->H * m->W * mw; i++)
                    masks[i] = 0;
                for (int i = 0; i < nid; i++) {
                    const int ch = ids[i] / (m->H * m->W), q = ids[i] % (m->H * m->W);
                    masks[(size_t)q * mw + ch / 64] |= (uint64_t)1 << (ch % 64);
                }
                for (int via = 0; via < (kind == PROJ_SPIKE ? 2 : 1); via++) {
                    neuron_from_public(buf, base, Co, Ho * Wo);
                    proj_counters c = {0};
                    if (kind == PROJ_SPIKE) {
                        proj_deliver_spikes(&pr, buf, ids, nid, via ? masks : NULL, t, &c);
                    } else {
                        neuron_from_public(in_st, in_pub, m->Ci, m->H * m->W);
                        proj_deliver_graded(&pr, buf, in_st, t, &c);
                    }
                    neuron_to_public(got, buf, Co, Ho * Wo);
                    char what[96];
                    snprintf(what, sizeof what, "%s %s k%d s%d p%d t%d%s", proj_kind_name(pr.kind),
                             proj_map_name(m->map), m->k, m->s, m->pad, t, via ? " masks" : "");
                    CU_ASSERT(harness_close_d(what, got, ref, (size_t)nd, TOL(1e-12, 1e-5),
                                              TOL(1e-12, 1e-5)));
                    uint64_t nev = 0;
                    for (int i = 0; i < ns; i++)
                        nev += in[i] != 0;
                    CU_ASSERT_EQUAL(c.events, nev);
                    int plain = kind == PROJ_SPIKE || m->unit;
                    CU_ASSERT_EQUAL(plain ? c.acs : c.macs, ops);
                    CU_ASSERT_EQUAL(plain ? c.macs : c.acs, 0);
                    CU_ASSERT(ops > 0);
                    if ((plain ? c.acs : c.macs) != ops)
                        fprintf(stderr, "\n  %s: %llu ops, naive %llu\n", what,
                                (unsigned long long)(plain ? c.acs : c.macs),
                                (unsigned long long)ops);
                    double dense = m->map == PROJ_UPSAMPLE2_1X1 ? (double)Co * m->Ci * m->H * m->W
                                   : m->map == PROJ_DENSE       ? (double)ns * nd
                                   : m->map == PROJ_IDENTITY    ? ns
                                   : m->map == PROJ_DEPTHWISE   ? (double)nd * m->k * m->k
                                                                : (double)nd * m->Ci * m->k * m->k;
                    CU_ASSERT(fabs(c.sop - (double)nev / ns * dense) < 1e-9 * dense);
                }
            }
            proj_free(&ctx, &pr);
            free(w), free(in), free(ref), free(in_st), free(in_pub), free(buf), free(base);
            free(got), free(ids), free(masks);
        }
    }
    CU_ASSERT_EQUAL(mem_current(&ctx, MEM_ENGINE), 0);
    ctx_free(&ctx);
}

/* ------------------------------------------------------------------ */
/* (b), (c): counting is event-driven                                  */

/* A source population (index 0) feeding sinks through every map in both
 * kinds; a second source (index 1) that receives nothing. */
typedef struct {
    pop_spec ps[8];
    proj_spec js[32];
    real *w[32];
    int nproj;
} fanout_net;

static void fanout_add(sim_ctx *ctx, fanout_net *f, int src, int dst, proj_kind kind, proj_map map,
                       int delay, int k, int s, int pad, int unit)
{
    proj_spec sp = proj_spec_conv(src, dst, kind, map, delay, k, s, pad, NULL);
    real *w = NULL;
    if (!unit) {
        static const real dummy[1];
        sp.weights = dummy; /* counted with weights present */
        size_t nw = proj_weight_count(&sp, &f->ps[src], &f->ps[dst]);
        w = malloc(nw * sizeof *w);
        rng_fill_uniform(ctx, RNG_AUX, w, nw, -0.2, 0.2);
    }
    sp.weights = w;
    f->w[f->nproj] = w;
    f->js[f->nproj++] = sp;
}

static void fanout_build(sim_ctx *ctx, fanout_net *f, neuron_model src_model)
{
    memset(f, 0, sizeof *f);
    f->ps[0] = pop_spec_make("in", src_model, 3, 8, 8, 0);
    f->ps[1] = pop_spec_make("silent", src_model, 3, 8, 8, 0);
    f->ps[2] = pop_spec_make("sink.conv", NEURON_RELAY, 4, 8, 8, 1);
    f->ps[3] = pop_spec_make("sink.same", NEURON_RELAY, 3, 8, 8, 1);
    f->ps[4] = pop_spec_make("sink.up", NEURON_RELAY, 4, 16, 16, 1);
    f->ps[5] = pop_spec_make("sink.down", NEURON_RELAY, 3, 4, 4, 1);
    f->ps[6] = pop_spec_make("sink.dense", NEURON_RELAY, 2, 3, 3, 1);
    for (int src = 0; src < 2; src++)
        for (int kind = 0; kind < PROJ_NKINDS; kind++) {
            proj_kind kd = (proj_kind)kind;
            int d = kind; /* delay 0 and 1 */
            fanout_add(ctx, f, src, 2, kd, PROJ_CONV, d, 3, 1, 1, 0);
            fanout_add(ctx, f, src, 2, kd, PROJ_CONV1X1, d, 1, 1, 0, 0);
            fanout_add(ctx, f, src, 3, kd, PROJ_DEPTHWISE, d, 3, 1, 1, 0);
            fanout_add(ctx, f, src, 3, kd, PROJ_IDENTITY, d, 1, 1, 0, 1);
            fanout_add(ctx, f, src, 4, kd, PROJ_UPSAMPLE2_1X1, d, 1, 1, 0, 0);
            fanout_add(ctx, f, src, 5, kd, PROJ_DEPTHWISE, d, 3, 2, 1, 0);
            fanout_add(ctx, f, src, 6, kd, PROJ_DENSE, d, 1, 1, 0, 0);
        }
}

static void fanout_free(fanout_net *f)
{
    for (int j = 0; j < f->nproj; j++)
        free(f->w[j]);
}

/* Every spiking model's update, neuron by neuron, against its rule written
 * out here, at channel counts that take the vector tiles and ones that do
 * not, position counts below, at and across 64 (the fired-word tiles), with
 * and without graded output: spikes (ascending ids), states, graded values
 * and counts must be identical, bit for bit. Inputs are drawn so that the
 * value lands exactly on the threshold now and then. */
static void test_updates_vs_rule(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 91);
    static const int Cs[] = {1, 8, 16, 24, 32, 48, 64, 128};
    static const int HWs[][2] = {{1, 5}, {8, 8}, {9, 9}, {3, 50}};
    static const real vals[] = {-1, 0, 0.25, 0.5, 0.75, 1, 2};
    const neuron_model models[] = {NEURON_TURN_OFF, NEURON_TURN_ON, NEURON_LIF};
    for (int mi = 0; mi < 3; mi++)
        for (size_t ci = 0; ci < sizeof Cs / sizeof Cs[0]; ci++)
            for (size_t hi = 0; hi < sizeof HWs / sizeof HWs[0]; hi++) {
                const int C = Cs[ci], H = HWs[hi][0], W = HWs[hi][1], HW = H * W, n = C * HW;
                const int keep = (int)((ci + hi) & 1);
                pop_spec sp = pop_spec_make("p", models[mi], C, H, W, 0);
                real *bias = malloc((size_t)C * sizeof *bias);
                for (int c = 0; c < C; c++)
                    bias[c] = c % 3 == 0 ? 0 : (real)(rng_uniform(&ctx, RNG_AUX) - 0.5);
                sp.bias = bias;
                population pop;
                CU_ASSERT_EQUAL_FATAL(pop_init(&ctx, &pop, &sp, 1, keep), SIM_OK);
                real *in = malloc((size_t)n * sizeof *in), *st = calloc((size_t)n, sizeof *st);
                int32_t *want = malloc((size_t)n * sizeof *want);
                int bad = 0;
                for (int t = 0; t < 3; t++) {
                    for (int i = 0; i < n; i++) { /* public order */
                        double u = rng_uniform(&ctx, RNG_AUX);
                        in[i] = u < 0.6 ? vals[(int)(u * 11.6)] : (real)(4 * u - 2.5);
                    }
                    pop_inject_values(&pop, in);
                    pop_update(&pop, t);
                    /* the rule, in storage order (q, c), public id c*HW + q */
                    int32_t nw = 0, nnz = 0;
                    char *fire = calloc((size_t)n, 1);
                    real *gv = malloc((size_t)n * sizeof *gv);
                    for (int q = 0; q < HW; q++)
                        for (int c = 0; c < C; c++) {
                            const size_t i = (size_t)q * C + c;
                            const real x = in[(size_t)c * HW + q], a = pop.alpha ? pop.alpha[c] : 0;
                            real v = models[mi] == NEURON_TURN_OFF ? x + bias[c]
                                     : models[mi] == NEURON_TURN_ON ? x + bias[c] + a * st[i]
                                                                    : a * st[i] + x + bias[c];
                            gv[i] = v;
                            nnz += v != 0;
                            fire[(size_t)c * HW + q] = v >= pop.threshold;
                            if (models[mi] == NEURON_TURN_ON)
                                st[i] = v;
                            else if (models[mi] == NEURON_LIF)
                                st[i] = v >= pop.threshold ? 0 : v;
                        }
                    for (int i = 0; i < n; i++)
                        if (fire[i])
                            want[nw++] = i;
                    int32_t got_n = 0;
                    const int32_t *got = pop_spikes(&pop, &got_n);
                    bad += got_n != nw || (nw && memcmp(got, want, (size_t)nw * sizeof *got));
                    if (pop.state)
                        bad += memcmp(pop.state, st, (size_t)n * sizeof *st) != 0;
                    if (keep) {
                        int32_t gnz = -1;
                        const real *g = pop_graded_at(&pop, t, &gnz);
                        bad += gnz != nnz || memcmp(g, gv, (size_t)n * sizeof *gv) != 0;
                    }
                    bad += pop.spikes_step != (uint64_t)nw;
                    /* the same spikes as per-position channel masks */
                    const int mw = (C + 63) / 64;
                    const uint64_t *mk = pop_masks_at(&pop, t);
                    for (int q = 0; q < HW && mk; q++)
                        for (int w = 0; w < mw; w++) {
                            uint64_t m = 0;
                            for (int c = 64 * w; c < C && c < 64 * (w + 1); c++)
                                m |= (uint64_t)fire[(size_t)c * HW + q] << (c - 64 * w);
                            bad += mk[(size_t)q * mw + w] != m;
                        }
                    bad += mk == NULL;
                    for (int i = 0; i < n; i++)
                        bad += pop.input[i] != 0;
                    free(fire), free(gv);
                }
                if (bad)
                    fprintf(stderr, "\n  %s C=%d HW=%dx%d graded=%d: %d mismatches\n",
                            neuron_model_name(models[mi]), C, H, W, keep, bad);
                CU_ASSERT_EQUAL(bad, 0);
                pop_free(&ctx, &pop);
                free(bias), free(in), free(st), free(want);
            }
    CU_ASSERT_EQUAL(mem_current(&ctx, MEM_ENGINE), 0);
    ctx_free(&ctx);
}

static void test_silent_costs_nothing(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 31);
    for (int mi = 0; mi < 3; mi++) {
        neuron_model model = mi == 0 ? NEURON_TURN_OFF : mi == 1 ? NEURON_TURN_ON : NEURON_LIF;
        fanout_net f;
        fanout_build(&ctx, &f, model);
        engine e;
        CU_ASSERT_EQUAL_FATAL(engine_create(&ctx, &e, f.ps, 7, f.js, f.nproj, NULL), SIM_OK);
        int32_t ids[192], n = 0;
        for (int step = 0; step < 10; step++) {
            n = 0;
            for (int32_t i = 0; i < 192; i++)
                if (rng_uniform(&ctx, RNG_AUX) < 0.2)
                    ids[n++] = i;
            CU_ASSERT_EQUAL(engine_inject_spikes(&ctx, &e, 0, ids, n, 1), SIM_OK);
            CU_ASSERT_EQUAL(engine_step(&ctx, &e), SIM_OK);
        }
        for (int j = 0; j < f.nproj; j++) {
            const projection *pr = engine_proj(&e, j);
            if (pr->src == 1) {
                CU_ASSERT_EQUAL(pr->total.events, 0);
                CU_ASSERT_EQUAL(pr->total.acs, 0);
                CU_ASSERT_EQUAL(pr->total.macs, 0);
                CU_ASSERT_EQUAL(pr->total.sop, 0);
            } else {
                CU_ASSERT(pr->total.events > 0);
                CU_ASSERT(pr->total.acs + pr->total.macs > 0);
            }
        }
        CU_ASSERT_EQUAL(engine_pop(&e, 1)->spikes_total, 0);
        CU_ASSERT(engine_pop(&e, 0)->spikes_total > 0);
        CU_ASSERT_EQUAL(engine_firing_rate(&e, 1), 0);
        engine_free(&ctx, &e);
        fanout_free(&f);
    }
    CU_ASSERT_EQUAL(mem_current(&ctx, MEM_ENGINE), 0);
    ctx_free(&ctx);
}

/* Counters of one timestep with `ids` injected into the source. */
static void one_step_counts(sim_ctx *ctx, engine *e, const int32_t *ids, int32_t n,
                            proj_counters *out /* (nproj) */)
{
    engine_reset(e);
    engine_reset_counters(e);
    CU_ASSERT_EQUAL(engine_inject_spikes(ctx, e, 0, ids, n, 1), SIM_OK);
    CU_ASSERT_EQUAL(engine_run(ctx, e, 2), SIM_OK); /* delay-1 packets arrive at t 1 */
    for (int j = 0; j < e->nproj; j++)
        out[j] = engine_proj(e, j)->total;
}

static void test_acs_add_up(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 32);
    fanout_net f;
    fanout_build(&ctx, &f, NEURON_TURN_OFF);
    engine e;
    CU_ASSERT_EQUAL_FATAL(engine_create(&ctx, &e, f.ps, 7, f.js, f.nproj, NULL), SIM_OK);
    for (int round = 0; round < 5; round++) {
        /* A and B disjoint and equally large, U their union */
        int perm[192];
        for (int i = 0; i < 192; i++)
            perm[i] = i;
        rng_shuffle(&ctx, RNG_AUX, perm, 192);
        int32_t A[48], B[48], U[96];
        int na = 10 + round * 9;
        for (int i = 0; i < na; i++)
            A[i] = perm[i], B[i] = perm[na + i];
        int nu = 0;
        for (int i = 0; i < 192; i++) /* ascending, as a population would emit */
            for (int k = 0; k < 2 * na; k++)
                if (perm[k] == i)
                    U[nu++] = i;
        proj_counters ca[32], cb[32], cu[32];
        one_step_counts(&ctx, &e, A, na, ca);
        one_step_counts(&ctx, &e, B, na, cb);
        one_step_counts(&ctx, &e, U, nu, cu);
        for (int j = 0; j < f.nproj; j++) {
            const projection *pr = engine_proj(&e, j);
            if (pr->src != 0)
                continue;
            CU_ASSERT_EQUAL(ca[j].events, (uint64_t)na);
            CU_ASSERT_EQUAL(cu[j].events, ca[j].events + cb[j].events);
            CU_ASSERT_EQUAL(cu[j].acs, ca[j].acs + cb[j].acs);
            CU_ASSERT_EQUAL(cu[j].macs, ca[j].macs + cb[j].macs);
            CU_ASSERT(ca[j].acs + ca[j].macs > 0);
            /* uniform fan-out: twice the spikes, exactly twice the work */
            if (pr->map != PROJ_CONV && pr->map != PROJ_DEPTHWISE) {
                CU_ASSERT_EQUAL(cu[j].acs, 2 * ca[j].acs);
                CU_ASSERT_EQUAL(cu[j].macs, 2 * ca[j].macs);
            }
            if (pr->kind == PROJ_SPIKE)
                CU_ASSERT_EQUAL(cu[j].macs, 0);
        }
    }
    engine_free(&ctx, &e);
    fanout_free(&f);
    ctx_free(&ctx);
}

/* ------------------------------------------------------------------ */
/* (e) bad networks                                                    */

static void expect_reject(sim_ctx *ctx, const char *what, const pop_spec *ps, int np,
                          const proj_spec *js, int nj, sim_status want, const char *msg)
{
    engine e;
    sim_status st = engine_create(ctx, &e, ps, np, js, nj, NULL);
    int ok = st == want && strstr(ctx_errmsg(ctx), msg) != NULL;
    if (!ok)
        fprintf(stderr, "\n  %s: got %s \"%s\", expected %s with \"%s\"\n", what, sim_strerror(st),
                ctx_errmsg(ctx), sim_strerror(want), msg);
    CU_ASSERT(ok);
    if (st == SIM_OK)
        engine_free(ctx, &e);
    /* a rejected network leaves nothing allocated and the engine empty */
    CU_ASSERT_EQUAL(mem_current(ctx, MEM_ENGINE), 0);
    CU_ASSERT_PTR_NULL(e.pops);
}

static void test_bad_networks(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 5);
    static real w[4096];
    for (int i = 0; i < 4096; i++)
        w[i] = (real)0.01;
    pop_spec ps[3] = {pop_spec_make("a", NEURON_TURN_OFF, 2, 8, 8, 0),
                      pop_spec_make("b", NEURON_TURN_OFF, 3, 5, 5, 1),
                      pop_spec_make("c", NEURON_RELAY, 2, 8, 8, 2)};
    proj_spec j;

    j = proj_spec_conv(0, 1, PROJ_SPIKE, PROJ_CONV, 0, 3, 2, 1, w); /* gives (3, 4, 4) */
    expect_reject(&ctx, "conv shape", ps, 2, &j, 1, SIM_ESHAPE,
                  "(3, 4, 4) but the target is (3, 5, 5)");
    j = proj_spec_conv(0, 1, PROJ_SPIKE, PROJ_DEPTHWISE, 0, 3, 2, 0, w); /* C 2 -> 3 */
    expect_reject(&ctx, "depthwise channels", ps, 2, &j, 1, SIM_ESHAPE, "but the target is");
    j = proj_spec_make(0, 1, PROJ_SPIKE, PROJ_UPSAMPLE2_1X1, 0, w);
    expect_reject(&ctx, "upsample shape", ps, 2, &j, 1, SIM_ESHAPE, "(3, 16, 16)");
    j = proj_spec_make(0, 1, PROJ_SPIKE, PROJ_IDENTITY, 0, NULL);
    expect_reject(&ctx, "identity shape", ps, 2, &j, 1, SIM_ESHAPE, "maps the source (2, 8, 8)");
    j = proj_spec_make(0, 2, PROJ_SPIKE, PROJ_CONV1X1, 0, w);
    ps[2].C = 3;
    expect_reject(&ctx, "1x1 ok", ps, 3, &j, 1, SIM_OK, "");
    ps[2].H = 7;
    expect_reject(&ctx, "1x1 shape", ps, 3, &j, 1, SIM_ESHAPE,
                  "(3, 8, 8) but the target is (3, 7, 8)");
    ps[2].C = 2, ps[2].H = 8;

    /* ranks and delays */
    pop_spec same[2] = {pop_spec_make("x", NEURON_TURN_OFF, 2, 4, 4, 1),
                        pop_spec_make("y", NEURON_TURN_ON, 2, 4, 4, 1)};
    proj_spec cyc[2] = {proj_spec_make(0, 1, PROJ_SPIKE, PROJ_IDENTITY, 0, NULL),
                        proj_spec_make(1, 0, PROJ_SPIKE, PROJ_IDENTITY, 0, NULL)};
    expect_reject(&ctx, "delay 0 within a rank", same, 2, cyc, 1, SIM_EINVAL,
                  "has delay 0 but goes from rank 1 to rank 1");
    same[1].rank = 2;
    expect_reject(&ctx, "delay-0 cycle", same, 2, cyc, 2, SIM_EINVAL,
                  "projection 1 (y -> x) has delay 0 but goes from rank 2 to rank 1");
    cyc[1].delay = 1; /* the same loop with a delay is fine */
    expect_reject(&ctx, "cycle with delay", same, 2, cyc, 2, SIM_OK, "");
    proj_spec self = proj_spec_make(1, 1, PROJ_GRADED, PROJ_IDENTITY, 0, NULL);
    expect_reject(&ctx, "delay-0 self loop", same, 2, &self, 1, SIM_EINVAL, "higher rank");
    self.delay = 3;
    expect_reject(&ctx, "self loop with delay", same, 2, &self, 1, SIM_OK, "");
    j = proj_spec_make(0, 1, PROJ_SPIKE, PROJ_IDENTITY, -1, NULL);
    expect_reject(&ctx, "negative delay", same, 2, &j, 1, SIM_EINVAL, "delay -1 must be >= 0");

    /* references, kinds, weights */
    j = proj_spec_make(0, 7, PROJ_SPIKE, PROJ_IDENTITY, 1, NULL);
    expect_reject(&ctx, "missing population", same, 2, &j, 1, SIM_ENOTFOUND, "0 -> 7");
    pop_spec rel[2] = {pop_spec_make("r", NEURON_RELAY, 2, 4, 4, 0),
                       pop_spec_make("s", NEURON_TURN_OFF, 2, 4, 4, 1)};
    j = proj_spec_make(0, 1, PROJ_SPIKE, PROJ_IDENTITY, 0, NULL);
    expect_reject(&ctx, "spikes from a relay", rel, 2, &j, 1, SIM_EINVAL, "never spikes");
    j.kind = PROJ_GRADED;
    expect_reject(&ctx, "graded from a relay", rel, 2, &j, 1, SIM_OK, "");
    j = proj_spec_conv(0, 1, PROJ_GRADED, PROJ_CONV, 0, 3, 1, 1, NULL);
    expect_reject(&ctx, "missing weights", rel, 2, &j, 1, SIM_EINVAL, "weights are missing");
    j = proj_spec_conv(0, 1, PROJ_GRADED, PROJ_CONV, 0, 17, 1, 8, w);
    expect_reject(&ctx, "oversized kernel", rel, 2, &j, 1, SIM_EINVAL, "kernel 17");
    real bad[2 * 2 * 9];
    for (int i = 0; i < 36; i++)
        bad[i] = 0;
    bad[20] = (real)NAN;
    j = proj_spec_conv(0, 1, PROJ_GRADED, PROJ_CONV, 0, 3, 1, 1, bad);
    expect_reject(&ctx, "NaN weight", rel, 2, &j, 1, SIM_ENUMERIC, "weight [20]");
    j = proj_spec_make(0, 1, PROJ_GRADED, PROJ_DENSE, 0, w);
    j.nsets = 3; /* 3 sets of 32 x 32 = 3072 weights: fits in w */
    expect_reject(&ctx, "dense with sets", rel, 2, &j, 1, SIM_OK, "");

    /* populations */
    pop_spec p1 = pop_spec_make("z", NEURON_LIF, 2, 0, 4, 0);
    expect_reject(&ctx, "empty shape", &p1, 1, NULL, 0, SIM_ESHAPE, "(2, 0, 4) must be positive");
    p1 = pop_spec_make("z", NEURON_LIF, 1 << 16, 1 << 8, 1 << 8, 0);
    expect_reject(&ctx, "too many neurons", &p1, 1, NULL, 0, SIM_ERANGE, "at most");
    p1 = pop_spec_make("z", NEURON_LIF, 2, 2, 2, 0);
    p1.tau = (real)0.5;
    expect_reject(&ctx, "tau < 1", &p1, 1, NULL, 0, SIM_EINVAL, "tau 0.5 must be >= 1");
    p1 = pop_spec_make("z", NEURON_LIF, 2, 2, 2, -1);
    expect_reject(&ctx, "negative rank", &p1, 1, NULL, 0, SIM_EINVAL, "rank -1");
    p1 = pop_spec_make("an.unreasonably.long.population.name.that.goes.on.and.on.and.on.and.on",
                       NEURON_LIF, 2, 2, 2, 0);
    expect_reject(&ctx, "long name", &p1, 1, NULL, 0, SIM_ERANGE, "name longer than 63");
    p1 = pop_spec_make("z", (neuron_model)9, 2, 2, 2, 0);
    expect_reject(&ctx, "unknown model", &p1, 1, NULL, 0, SIM_EINVAL, "unknown neuron model 9");
    pop_spec dup[2] = {pop_spec_make("twin", NEURON_LIF, 1, 1, 1, 0),
                       pop_spec_make("twin", NEURON_LIF, 1, 1, 1, 0)};
    expect_reject(&ctx, "duplicate names", dup, 2, NULL, 0, SIM_EINVAL, "must be unique");
    expect_reject(&ctx, "no populations", dup, 0, NULL, 0, SIM_EINVAL, "at least one population");
    real nanb[1] = {(real)INFINITY};
    p1 = pop_spec_make("z", NEURON_TURN_OFF, 1, 2, 2, 0);
    p1.bias = nanb;
    expect_reject(&ctx, "infinite bias", &p1, 1, NULL, 0, SIM_ENUMERIC, "bias[0] is inf");
    ctx_free(&ctx);
}

/* ------------------------------------------------------------------ */
/* allocation failures, external input, speed                          */

static void test_failing_allocator(void)
{
    sim_ctx hctx;
    harness_ctx(&hctx, 3);
    fanout_net f;
    fanout_build(&hctx, &f, NEURON_TURN_ON);
    int succeeded = 0;
    for (int budget = 0; budget < 100 && !succeeded; budget++) {
        sim_ctx ctx;
        harness_failing fl = {.budget = budget};
        CU_ASSERT_EQUAL_FATAL(ctx_init_alloc(&ctx, 1, harness_failing_alloc, &fl), SIM_OK);
        engine e;
        sim_status st = engine_create(&ctx, &e, f.ps, 7, f.js, f.nproj, NULL);
        if (st == SIM_OK) {
            succeeded = 1;
            CU_ASSERT(budget > 10);
            CU_ASSERT_EQUAL(engine_run(&ctx, &e, 3), SIM_OK); /* no allocation in steps */
            engine_free(&ctx, &e);
        } else {
            CU_ASSERT_EQUAL(st, SIM_ENOMEM);
            CU_ASSERT(strstr(ctx_errmsg(&ctx), "out of memory") != NULL);
        }
        CU_ASSERT_EQUAL(ctx.nallocs, 0);
        CU_ASSERT_EQUAL(ctx.mem_cur_total, 0);
        ctx_free(&ctx);
    }
    CU_ASSERT(succeeded);
    fanout_free(&f);
    ctx_free(&hctx);
}

static void test_external_input(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 4);
    pop_spec ps[2] = {pop_spec_make("in", NEURON_TURN_OFF, 2, 3, 3, 0),
                      pop_spec_make("out", NEURON_RELAY, 2, 3, 3, 1)};
    proj_spec j = proj_spec_make(0, 1, PROJ_GRADED, PROJ_IDENTITY, 0, NULL);
    engine e;
    CU_ASSERT_EQUAL_FATAL(engine_create(&ctx, &e, ps, 2, &j, 1, NULL), SIM_OK);
    int32_t ids[3] = {4, 17, 18};
    CU_ASSERT_EQUAL(engine_inject_spikes(&ctx, &e, 0, ids, 3, 1), SIM_ERANGE);
    CU_ASSERT(strstr(ctx_errmsg(&ctx), "id 18 (entry 2) is outside 0..17") != NULL);
    CU_ASSERT_EQUAL(engine_inject_spikes(&ctx, &e, 2, ids, 1, 1), SIM_ENOTFOUND);
    CU_ASSERT_EQUAL(engine_inject_values(&ctx, &e, -1, NULL), SIM_ENOTFOUND);
    CU_ASSERT_EQUAL(engine_find_pop(&e, "out"), 1);
    CU_ASSERT_EQUAL(engine_find_pop(&e, "nope"), -1);
    /* nothing of the rejected call was added: only ids 4 and 17 fire */
    CU_ASSERT_EQUAL(engine_inject_spikes(&ctx, &e, 0, ids, 2, 1), SIM_OK);
    real vals[18] = {0};
    vals[9] = (real)0.75; /* c 1, y 0, x 0 */
    CU_ASSERT_EQUAL(engine_inject_values(&ctx, &e, 0, vals), SIM_OK);
    CU_ASSERT_EQUAL(engine_step(&ctx, &e), SIM_OK);
    int32_t n;
    const int32_t *s = engine_spikes(&e, 0, &n);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT(s[0] == 4 && s[1] == 9 && s[2] == 17);
    CU_ASSERT_EQUAL(engine_time(&e), 1);
    /* the relay saw the graded values 1, 0.75, 1 at those neurons */
    const population *out = engine_pop(&e, 1);
    real pub[18];
    neuron_to_public(pub, pop_graded_at(engine_pop(&e, 0), 0, NULL), 2, 9);
    CU_ASSERT(pub[4] == 1 && pub[9] == (real)0.75 && pub[17] == 1 && pub[0] == 0);
    CU_ASSERT_EQUAL(engine_proj(&e, 0)->total.acs, 3);
    CU_ASSERT_EQUAL(out->spikes_total, 0);
    /* the next step starts from an empty input */
    CU_ASSERT_EQUAL(engine_step(&ctx, &e), SIM_OK);
    engine_spikes(&e, 0, &n);
    CU_ASSERT_EQUAL(n, 0);
    engine_totals tot;
    engine_count_extra(&e, 100, 10);
    engine_get_totals(&e, &tot);
    CU_ASSERT_EQUAL(tot.acs, 13);
    CU_ASSERT_EQUAL(tot.macs, 100);
    CU_ASSERT(fabs(tot.energy_pj - (100 * 4.6 + 13 * 0.9)) < 1e-9);
    engine_free(&ctx, &e);
    ctx_free(&ctx);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Not a pass/fail test: the fan-out rate of a conv 3x3 64->64 on 32x32 at a
 * 20% spike rate, and the time of a whole engine step of that network. */
static void test_fanout_speed(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 6);
    const int C = 64, H = 32, W = 32, n = C * H * W;
    pop_spec ps[2] = {pop_spec_make("in", NEURON_TURN_OFF, C, H, W, 0),
                      pop_spec_make("out", NEURON_TURN_OFF, C, H, W, 1)};
    real *w = malloc((size_t)C * C * 9 * sizeof *w);
    rng_fill_uniform(&ctx, RNG_AUX, w, (size_t)C * C * 9, -0.05, 0.05);
    proj_spec js[2] = {proj_spec_conv(0, 1, PROJ_SPIKE, PROJ_CONV, 0, 3, 1, 1, w),
                       proj_spec_conv(0, 1, PROJ_GRADED, PROJ_CONV, 1, 3, 1, 1, w)};
    engine e;
    CU_ASSERT_EQUAL_FATAL(engine_create(&ctx, &e, ps, 2, js, 1, NULL), SIM_OK);
    int32_t *ids = malloc((size_t)n * sizeof *ids), k = 0;
    for (int32_t i = 0; i < n; i++)
        if (rng_uniform(&ctx, RNG_AUX) < 0.2)
            ids[k++] = i;
    real *buf = calloc((size_t)n, sizeof *buf);
    proj_counters c = {0};
    int reps = 0;
    double t0 = now_s(), dt;
    do {
        proj_deliver_spikes(engine_proj(&e, 0), buf, ids, k, NULL, 0, &c);
        reps++;
    } while ((dt = now_s() - t0) < 0.3);
    fprintf(stderr,
            "\n  conv3x3 64->64 32x32, %.1f%% spikes, %s: %.2f G AC/s (%.2f ms per "
            "delivery of %llu ACs)\n",
            100.0 * k / n, REAL_NAME, (double)c.acs / dt * 1e-9, dt / reps * 1e3,
            (unsigned long long)(c.acs / (uint64_t)reps));
    /* graded values on the same map, 20% nonzero */
    real *vals = calloc((size_t)n, sizeof *vals);
    for (int32_t i = 0; i < k; i++)
        vals[neuron_index_of(C, H * W, ids[i])] = (real)0.5;
    proj_counters cg = {0};
    projection pg;
    CU_ASSERT_EQUAL_FATAL(proj_init(&ctx, &pg, &js[1], &ps[0], &ps[1]), SIM_OK);
    reps = 0;
    t0 = now_s();
    do {
        proj_deliver_graded(&pg, buf, vals, 0, &cg);
        reps++;
    } while ((dt = now_s() - t0) < 0.2);
    fprintf(stderr, "  same map, graded values: %.2f G MAC/s\n", (double)cg.macs / dt * 1e-9);
    proj_free(&ctx, &pg);
    /* whole steps: inject, deliver, two population updates */
    reps = 0;
    t0 = now_s();
    do {
        engine_inject_spikes(&ctx, &e, 0, ids, k, 1);
        engine_step(&ctx, &e);
        reps++;
    } while ((dt = now_s() - t0) < 0.3);
    fprintf(stderr, "  engine step of that network: %.2f ms\n", dt / reps * 1e3);
    CU_ASSERT_EQUAL(engine_pop(&e, 0)->spikes_step, (uint64_t)k);
    engine_free(&ctx, &e);
    free(w), free(ids), free(buf), free(vals);
    ctx_free(&ctx);
}

int main(void)
{
    static const harness_test tests[] = {
        {"(a) random networks vs brute-force reference", test_random_vs_reference},
        {"(d) every map vs naive dense computation", test_maps_vs_dense},
        {"neuron updates vs their rules, bit for bit", test_updates_vs_rule},
        {"(b) a silent population costs nothing", test_silent_costs_nothing},
        {"(c) ACs of disjoint patterns add up", test_acs_add_up},
        {"(e) bad networks rejected", test_bad_networks},
        {"failing allocator: SIM_ENOMEM, no leak", test_failing_allocator},
        {"external input, accessors, totals", test_external_input},
        {"fan-out speed (informational)", test_fanout_speed},
        {NULL, NULL},
    };
    return harness_run("engine", tests);
}
