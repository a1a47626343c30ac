/* lifsnn.c - the conventional LIF baseline (see lifsnn.h): parameter
 * table, memory plan, multi-step forward over (C, T*n, H, W) stacks, BPTT
 * backward, and the trev_variant table that puts it behind the trev_* API.
 *
 * Forward, per level: [Down: LIF -> conv -> BN] -> 2 blocks; each block is
 * LIF -> DW1 -> PW1 -> LIF -> PW2 -> DW2 (-> gamma) + residual. Every layer
 * runs once on the whole T*n stack; only the LIF neurons walk the timesteps.
 * Backward visits the same layers in reverse, each LIF doing BPTT inside
 * its stack (neurons/lif.c). */
#include "lifsnn.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "neurons/lif.h"
#include "sim/rng.h"
#include "topology/batchnorm.h"
#include "topology/conv2d.h"
#include "topology/elementwise.h"
#include "topology/loss.h"
#include "topology/modelstep.h"
#include "topology/paramtab.h"
#include "topology/stem.h"

#define NONE ((size_t)-1)

/* ---- parameter references (offsets into the flat arrays, topology/paramtab.h) ---- */

typedef struct {
    paramtab_dw dw1, dw2;
    int pw1, pw2;  /* indices into m->pt.ws */
    size_t gamma;  /* NONE in block 2 */
} blk_ref;

typedef struct {
    paramtab_cbn down; /* down.w == NONE at level 0 */
    blk_ref b[2];
} lev_ref;

/* ---- activations kept for BPTT, all (C, T, n*H*W) ---- */

typedef struct {
    real *H, *S; /* membrane before reset (surrogate argument), spikes */
} site_buf;

typedef struct {
    site_buf in, hid; /* hid is 4C */
    real *d1, *p2, *d2, *out;
} blk_buf;

typedef struct {
    site_buf down;      /* LIF of the previous level's output (C_{l-1}, at R_{l-1}) */
    real *dpre, *dstat; /* Down conv output, BN mean and rstd (2C) */
    real *u0;
    blk_buf b[2];
} lev_buf;

typedef struct {
    conv2d_shape stem1, stem2, head1, head2; /* stem at batch n, the rest at T*n */
    conv2d_shape down[TREV_LEVELS], dw[TREV_LEVELS], pw1[TREV_LEVELS], pw2[TREV_LEVELS];
} lif_shapes;

typedef struct lifsnn {
    trev_config cfg;
    int R[TREV_LEVELS], S1;
    paramtab pt; /* table, parameters, gradients, standardized weights */
    int stem1, stem2, fh1, fh2;
    lev_ref lev[TREV_LEVELS];

    /* plan for batches of up to `prepared` images; shapes for batch n */
    int n, prepared;
    lif_shapes sh;
    real *acts, *scr;
    lev_buf lb[TREV_LEVELS];
    site_buf head;
    real *x, *a1, *a2;           /* stem output (C0, n, R0, R0), conv1 out, leaky out */
    real *hg, *hh, *ha, *lt;     /* head: GAP (C3, Tn), conv1 (K, Tn), leaky, logits_t */
    real *logits, *hprob;        /* mean logits (K, n), softmax */
    real *conv_scr, *Ga, *Gb, *G1, *G2, *G4a, *G4b;
    real *gx, *ga1, *ga2, *hgl, *hglt, *hga, *hgh, *hgg;
    int relaxed;
    uint64_t kink_hash, kink_pos;

    /* batch split (topology/modelstep.h), as in trevsnn.c: rep[0] is this
     * model, the others share its parameters and standardized weights */
    modelstep_split sp; /* gathered: (K, capacity) logits */
    struct lifsnn *rep[TREV_MAXREP];
} lifsnn;

#define P(off) (m->pt.p + (off))
#define G(off) (m->pt.g + (off))
#define WHAT(i) (m->pt.std + m->pt.ws[i].what)
#define GWHAT(i) (m->pt.gstd + m->pt.ws[i].what)

/* =========================== parameter table ============================ */

static void build_table(paramtab_builder *b, lifsnn *m)
{
    const trev_config *c = &m->cfg;
    const int *C = c->channels, k = c->kernel;
    char pre[96];
    stem_add(b, &m->stem1, &m->stem2, c);
    for (int l = 0; l < TREV_LEVELS; l++) {
        lev_ref *L = &m->lev[l];
        L->down.w = NONE;
        if (l > 0) {
            snprintf(pre, sizeof pre, "lif/level%d/down", l);
            L->down = paramtab_add_cbn(b, pre, C[l], C[l - 1], l == 3 ? 1 : 3);
        }
        for (int bi = 0; bi < 2; bi++) {
            blk_ref *B = &L->b[bi];
            snprintf(pre, sizeof pre, "lif/level%d/block%d/dw1", l, bi + 1);
            B->dw1 = paramtab_add_dw(b, pre, C[l], k);
            snprintf(pre, sizeof pre, "lif/level%d/block%d/pw1", l, bi + 1);
            B->pw1 = paramtab_add_ws(b, pre, 4 * C[l], C[l], 1);
            snprintf(pre, sizeof pre, "lif/level%d/block%d/pw2", l, bi + 1);
            B->pw2 = paramtab_add_ws(b, pre, C[l], 4 * C[l], 1);
            snprintf(pre, sizeof pre, "lif/level%d/block%d/dw2", l, bi + 1);
            B->dw2 = paramtab_add_dw(b, pre, C[l], k);
            B->gamma = NONE;
            if (bi == 0) {
                snprintf(pre, sizeof pre, "lif/level%d/block1", l);
                B->gamma = paramtab_add_vec(b, pre, "gamma", C[l], TREV_INIT_ONE, 0);
            }
        }
    }
    m->fh1 = paramtab_add_ws(b, "head/conv1", c->classes, C[3], 1);
    m->fh2 = paramtab_add_ws(b, "head/conv2", c->classes, c->classes, 1);
}

/* Frees the plan and the other replicas. */
static void lif_free_plan(sim_ctx *ctx, lifsnn *m)
{
    for (int r = 1; r < m->sp.nrep; r++) {
        lifsnn *q = m->rep[r];
        lif_free_plan(ctx, q);
        paramtab_free_own_grads(ctx, &q->pt);
        mem_free(ctx, q);
    }
    mem_free(ctx, m->acts);
    mem_free(ctx, m->scr);
    m->acts = m->scr = NULL;
    m->prepared = 0;
    modelstep_split_free(ctx, &m->sp);
    m->rep[0] = m;
}

static void lif_destroy(sim_ctx *ctx, void *impl)
{
    lifsnn *m = impl;
    if (!m)
        return;
    lif_free_plan(ctx, m);
    paramtab_free(ctx, &m->pt);
    mem_free(ctx, m);
}

static sim_status lif_create(sim_ctx *ctx, void **impl, const trev_config *cfg, int train,
                             trev_table *tab)
{
    *impl = NULL;
    lifsnn *m = mem_alloc(ctx, MEM_META, sizeof *m);
    if (!m)
        return SIM_ENOMEM;
    m->cfg = *cfg;
    modelstep_split_init(&m->sp);
    m->rep[0] = m;
    stem_resolutions(cfg, &m->S1, m->R);
    paramtab_builder b = {ctx, &m->pt, SIM_OK};
    build_table(&b, m);
    sim_status st = paramtab_finish(&b, train);
    if (st != SIM_OK) {
        lif_destroy(ctx, m);
        return st;
    }
    tab->tab = m->pt.tab;
    tab->ntab = m->pt.ntab;
    tab->nval = m->pt.nval;
    tab->p = m->pt.p;
    tab->g = m->pt.g;
    *impl = m;
    return SIM_OK;
}

/* ============================== memory plan ============================== */

static sim_status shapes_for(sim_ctx *ctx, const lifsnn *m, int n, lif_shapes *s)
{
    const trev_config *c = &m->cfg;
    const int *C = c->channels, *R = m->R, K = c->classes, k = c->kernel, TN = c->T * n;
    sim_status st = SIM_OK;
#define SH(dst, ...)                                                                               \
    do {                                                                                           \
        if (st == SIM_OK)                                                                          \
            st = conv2d_shape_init(ctx, dst, __VA_ARGS__);                                         \
    } while (0)
    memset(s, 0, sizeof *s);
    st = stem_shapes(ctx, &s->stem1, &s->stem2, n, c);
    SH(&s->head1, TN, C[3], 1, 1, K, 1, 1, 0, 1);
    SH(&s->head2, TN, K, 1, 1, K, 1, 1, 0, 1);
    for (int l = 0; l < TREV_LEVELS; l++) {
        if (l > 0)
            SH(&s->down[l], TN, C[l - 1], R[l - 1], R[l - 1], C[l], l == 3 ? 1 : 3,
               l == 3 ? 1 : 2, l == 3 ? 0 : 1, 1);
        SH(&s->dw[l], TN, C[l], R[l], R[l], C[l], k, 1, k / 2, C[l]);
        SH(&s->pw1[l], TN, C[l], R[l], R[l], 4 * C[l], 1, 1, 0, 1);
        SH(&s->pw2[l], TN, 4 * C[l], R[l], R[l], C[l], 1, 1, 0, 1);
    }
#undef SH
    return st;
}

/* the plan's arenas are sliced with the shared carver (topology/paramtab.h) */
typedef paramtab_carver carver;
static real *take(carver *c, size_t n) { return paramtab_take(c, n); }

static size_t zmax(size_t a, size_t b) { return a > b ? a : b; }

/* Assign (or count) every activation and scratch buffer for batch n. */
static void layout(lifsnn *m, const lif_shapes *sh, int n, carver *A, carver *S)
{
    const trev_config *c = &m->cfg;
    const int *C = c->channels, T = c->T, K = c->classes;
    const size_t TN = (size_t)T * n;
    size_t CM[TREV_LEVELS], maxCM = 0, conv = 0;
    for (int l = 0; l < TREV_LEVELS; l++) {
        CM[l] = (size_t)C[l] * TN * m->R[l] * m->R[l];
        maxCM = zmax(maxCM, CM[l]);
        if (l > 0)
            conv = zmax(conv, conv2d_scratch_elems(&sh->down[l]));
        conv = zmax(conv, conv2d_scratch_elems(&sh->dw[l]));
        conv = zmax(conv, conv2d_scratch_elems(&sh->pw1[l]));
        conv = zmax(conv, conv2d_scratch_elems(&sh->pw2[l]));
    }
    conv = zmax(conv, stem_scratch_elems(&sh->stem1, &sh->stem2));
    conv = zmax(conv, conv2d_scratch_elems(&sh->head1));
    conv = zmax(conv, conv2d_scratch_elems(&sh->head2));
    const size_t s1 = (size_t)C[0] * n * m->S1 * m->S1, x = (size_t)C[0] * n * m->R[0] * m->R[0];

    /* activations: the stem once, then every layer at every timestep */
    m->x = take(A, x);
    m->a1 = take(A, s1);
    m->a2 = take(A, s1);
    for (int l = 0; l < TREV_LEVELS; l++) {
        lev_buf *B = &m->lb[l];
        memset(B, 0, sizeof *B);
        if (l > 0) {
            B->down.H = take(A, CM[l - 1]);
            B->down.S = take(A, CM[l - 1]);
            B->dpre = take(A, CM[l]);
            B->dstat = take(A, 2 * (size_t)C[l]);
        }
        B->u0 = take(A, CM[l]);
        for (int k = 0; k < 2; k++) {
            blk_buf *K2 = &B->b[k];
            K2->in.H = take(A, CM[l]);
            K2->in.S = take(A, CM[l]);
            K2->d1 = take(A, CM[l]);
            K2->hid.H = take(A, 4 * CM[l]);
            K2->hid.S = take(A, 4 * CM[l]);
            K2->p2 = take(A, CM[l]);
            K2->d2 = take(A, CM[l]);
            K2->out = take(A, CM[l]);
        }
    }
    m->head.H = take(A, CM[3]);
    m->head.S = take(A, CM[3]);
    m->hg = take(A, (size_t)C[3] * TN);
    m->hh = take(A, (size_t)K * TN);
    m->ha = take(A, (size_t)K * TN);
    m->lt = take(A, (size_t)K * TN);

    /* scratch: conv workspace, gradient temporaries, logits */
    m->conv_scr = take(S, conv);
    m->Ga = take(S, maxCM);
    m->Gb = take(S, maxCM);
    m->G1 = take(S, maxCM);
    m->G2 = take(S, maxCM);
    m->G4a = take(S, 4 * maxCM);
    m->G4b = take(S, 4 * maxCM);
    m->gx = take(S, x);
    m->ga1 = take(S, s1);
    m->ga2 = take(S, s1);
    m->logits = take(S, (size_t)K * n);
    m->hprob = take(S, (size_t)K * n);
    m->hgl = take(S, (size_t)K * n);
    m->hglt = take(S, (size_t)K * TN);
    m->hga = take(S, (size_t)K * TN);
    m->hgh = take(S, (size_t)K * TN);
    m->hgg = take(S, (size_t)C[3] * TN);
}

static sim_status plan_sizes(sim_ctx *ctx, const lifsnn *m, int n, size_t *acts, size_t *scr,
                             lif_shapes *sh)
{
    if (n < 1)
        return ctx_error(ctx, SIM_EINVAL, "batch size %d, expected >= 1", n);
    sim_status st = shapes_for(ctx, m, n, sh);
    if (st != SIM_OK)
        return st;
    carver A = {NULL, 0}, S = {NULL, 0};
    lifsnn tmp = *m; /* the counting pass writes only NULL-based pointers */
    layout(&tmp, sh, n, &A, &S);
    *acts = A.used;
    *scr = S.used;
    return SIM_OK;
}

static size_t image_elems(const lifsnn *m)
{
    return (size_t)m->cfg.in_channels * m->cfg.input_size * m->cfg.input_size;
}

static sim_status lif_plan_bytes(sim_ctx *ctx, const void *impl, int n, size_t out[MEM_NROLES])
{
    const lifsnn *m = impl;
    memset(out, 0, MEM_NROLES * sizeof *out);
    const int R = modelstep_split_of(ctx->threads, n);
    size_t acts = 0, scr = 0;
    for (int r = 0; r < R; r++) {
        lif_shapes sh;
        size_t a = 0, sc = 0;
        int cnt, off;
        modelstep_slice(n, R, r, &cnt, &off);
        sim_status st = plan_sizes(ctx, m, cnt, &a, &sc, &sh);
        if (st != SIM_OK)
            return st;
        acts += a;
        scr += sc;
    }
    paramtab_plan_bytes(&m->pt, acts, scr, out); /* as trevsnn.c counts it */
    modelstep_split_bytes(R, n, &m->pt, image_elems(m), (size_t)m->cfg.classes, out);
    return SIM_OK;
}

/* The plan of one replica for slices of up to n images. */
static sim_status prepare_one(sim_ctx *ctx, lifsnn *m, int n)
{
    lif_shapes sh;
    size_t acts = 0, scr = 0;
    sim_status st = plan_sizes(ctx, m, n, &acts, &scr, &sh);
    if (st != SIM_OK)
        return st;
    m->acts = mem_calloc(ctx, MEM_ACTS, acts, sizeof(real));
    m->scr = mem_calloc(ctx, MEM_SCRATCH, scr, sizeof(real));
    if (!m->acts || !m->scr) {
        lif_free_plan(ctx, m);
        return SIM_ENOMEM;
    }
    carver A = {m->acts, 0}, S = {m->scr, 0};
    layout(m, &sh, n, &A, &S);
    m->sh = sh;
    m->n = n;
    m->prepared = m->sp.capacity = n;
    return SIM_OK;
}

static sim_status lif_prepare(sim_ctx *ctx, void *impl, int n)
{
    lifsnn *m = impl;
    lif_free_plan(ctx, m);
    if (n < 1)
        return ctx_error(ctx, SIM_EINVAL, "batch size %d, expected >= 1", n);
    const int R = modelstep_split_of(ctx->threads, n);
    int cnt, off;
    modelstep_slice(n, R, 0, &cnt, &off);
    sim_status st = prepare_one(ctx, m, cnt);
    for (int r = 1; r < R && st == SIM_OK; r++) {
        lifsnn *q = mem_alloc(ctx, MEM_META, sizeof *q);
        if (!q) {
            st = SIM_ENOMEM;
            break;
        }
        *q = *m; /* the parameters and tables; its own gradients and plan */
        q->acts = q->scr = NULL;
        modelstep_split_init(&q->sp);
        q->rep[0] = q;
        m->rep[m->sp.nrep++] = q;
        st = paramtab_own_grads(ctx, &q->pt);
        modelstep_slice(n, R, r, &cnt, &off);
        if (st == SIM_OK)
            st = prepare_one(ctx, q, cnt);
    }
    if (st == SIM_OK && R > 1)
        st = modelstep_split_alloc(ctx, &m->sp, n, R, image_elems(m), (size_t)m->cfg.classes);
    if (st != SIM_OK)
        lif_free_plan(ctx, m);
    return st;
}

/* Switch the shapes to a batch of n <= the prepared size (the buffers,
 * sized for the prepared batch, hold a smaller stack at their start). */
static sim_status use_batch(sim_ctx *ctx, lifsnn *m, int n)
{
    sim_status st = modelstep_check_batch(ctx, m->prepared, n);
    if (st != SIM_OK || n == m->n)
        return st;
    lif_shapes sh;
    st = shapes_for(ctx, m, n, &sh);
    if (st == SIM_OK) {
        m->sh = sh;
        m->n = n;
    }
    return st;
}

/* =============================== forward =============================== */

static size_t M_of(const lifsnn *m, int l) /* positions of one timestep */
{
    return modelstep_positions(m->n, m->R[l]);
}

static void zero(real *x, size_t n) { memset(x, 0, n * sizeof *x); }

/* One LIF site over the whole stack: X (C, T, M) -> s->H, s->S. In relaxed
 * mode also hashes which side of V_th (the reset's switch, the one kink of
 * the relaxed network) every membrane lies on. */
static void site(lifsnn *m, site_buf *s, const real *X, int C, size_t M, trev_step *rec)
{
    const int T = m->cfg.T;
    const size_t total = (size_t)C * T * M;
    size_t k = lif_forward(s->S, s->H, X, C, T, M, m->relaxed);
    if (m->relaxed) {
        const real vth = (real)LIF_VTH;
        for (size_t i = 0; i < total; i++) {
            const uint64_t piece = 1 + (uint64_t)(s->H[i] >= vth);
            m->kink_hash += piece * ((m->kink_pos + i + 1) * 0x9e3779b97f4a7c15ull);
        }
        m->kink_pos += total;
    }
    modelstep_record(rec, k, total);
}

/* Level l on the whole stack: input = x (l = 0) or level l-1's output. */
static void level_forward(sim_ctx *ctx, lifsnn *m, int l, int train, int update_bn,
                          trev_step *rec)
{
    const trev_config *cf = &m->cfg;
    const int T = cf->T, *Ch = cf->channels, C = Ch[l];
    const size_t M = M_of(m, l), CM = (size_t)C * T * M;
    const lev_ref *L = &m->lev[l];
    lev_buf *B = &m->lb[l];
    if (l == 0) { /* the stem output is the input of every timestep */
        for (int c = 0; c < C; c++)
            for (int t = 0; t < T; t++)
                memcpy(B->u0 + ((size_t)c * T + t) * M, m->x + (size_t)c * M, M * sizeof *m->x);
    } else {
        site(m, &B->down, m->lb[l - 1].b[1].out, Ch[l - 1], M_of(m, l - 1), rec);
        conv2d_forward(ctx, B->dpre, B->down.S, P(L->down.w), NULL, m->conv_scr, &m->sh.down[l]);
        const real eps = (real)cf->bn_eps;
        if (train)
            bn_forward_train(ctx, B->u0, B->dstat, B->dstat + C, B->dpre, P(L->down.bw),
                             P(L->down.bb), update_bn ? P(L->down.rm) : NULL,
                             update_bn ? P(L->down.rv) : NULL, C, (int)(T * M),
                             (real)cf->bn_momentum, eps);
        else
            bn_forward_eval(ctx, B->u0, B->dpre, P(L->down.bw), P(L->down.bb), P(L->down.rm),
                            P(L->down.rv), C, (int)(T * M), eps);
    }
    const real *uin = B->u0;
    for (int k = 0; k < 2; k++) {
        const blk_ref *R = &L->b[k];
        blk_buf *K = &B->b[k];
        site(m, &K->in, uin, C, M, rec);
        conv2d_forward(ctx, K->d1, K->in.S, P(R->dw1.w), P(R->dw1.b), m->conv_scr, &m->sh.dw[l]);
        /* PW1 writes the hidden LIF's input into hid.H; the LIF runs in place */
        conv2d_forward(ctx, K->hid.H, K->d1, WHAT(R->pw1), P(m->pt.ws[R->pw1].b), m->conv_scr,
                       &m->sh.pw1[l]);
        site(m, &K->hid, K->hid.H, 4 * C, M, rec);
        conv2d_forward(ctx, K->p2, K->hid.S, WHAT(R->pw2), P(m->pt.ws[R->pw2].b), m->conv_scr,
                       &m->sh.pw2[l]);
        conv2d_forward(ctx, K->d2, K->p2, P(R->dw2.w), P(R->dw2.b), m->conv_scr, &m->sh.dw[l]);
        if (R->gamma != NONE) {
            scale_add_forward(K->out, uin, P(R->gamma), K->d2, C, (size_t)T * M);
        } else {
            add_forward(K->out, uin, K->d2, CM);
        }
        uin = K->out;
    }
}

/* Head on every timestep, then the mean of the logits over timesteps. */
static void head_forward(sim_ctx *ctx, lifsnn *m, trev_step *rec)
{
    const trev_config *cf = &m->cfg;
    const int T = cf->T, C3 = cf->channels[3], K = cf->classes, n = m->n;
    const int TN = T * n, HW = m->R[3] * m->R[3];
    site(m, &m->head, m->lb[3].b[1].out, C3, M_of(m, 3), rec);
    gap_forward(m->hg, m->head.S, C3 * TN, HW);
    conv2d_forward(ctx, m->hh, m->hg, WHAT(m->fh1), P(m->pt.ws[m->fh1].b), m->conv_scr,
                   &m->sh.head1);
    leaky_relu_forward(m->ha, m->hh, (size_t)K * TN, (real)cf->leaky_slope);
    conv2d_forward(ctx, m->lt, m->ha, WHAT(m->fh2), P(m->pt.ws[m->fh2].b), m->conv_scr,
                   &m->sh.head2);
    for (int k = 0; k < K; k++)
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int t = 0; t < T; t++)
                s += (double)m->lt[(size_t)k * TN + (size_t)t * n + i];
            m->logits[(size_t)k * n + i] = (real)(s / T);
        }
}

static void forward(sim_ctx *ctx, lifsnn *m, const real *images, int train, int update_bn,
                    trev_step *rec)
{
    m->kink_hash = m->kink_pos = 0;
    stem_forward(ctx, m->x, m->a1, m->a2, images, &m->pt, m->stem1, m->stem2,
                 (real)m->cfg.leaky_slope, m->conv_scr, &m->sh.stem1, &m->sh.stem2);
    for (int l = 0; l < TREV_LEVELS; l++)
        level_forward(ctx, m, l, train, update_bn, rec);
    head_forward(ctx, m, rec);
}

/* ============================== backward =============================== */

/* d(loss)/d(mean logits) in m->hgl -> d(loss)/d(level-3 output) into gu. */
static void head_backward(sim_ctx *ctx, lifsnn *m, real *gu)
{
    const trev_config *cf = &m->cfg;
    const int T = cf->T, C3 = cf->channels[3], K = cf->classes, n = m->n;
    const size_t TN = (size_t)T * n, M3 = M_of(m, 3), n3 = (size_t)C3 * T * M3;
    for (int k = 0; k < K; k++)
        for (int t = 0; t < T; t++)
            for (int i = 0; i < n; i++)
                m->hglt[(size_t)k * TN + (size_t)t * n + i] = m->hgl[(size_t)k * n + i] / (real)T;
    zero(m->hga, (size_t)K * TN);
    conv2d_backward(ctx, m->hga, GWHAT(m->fh2), G(m->pt.ws[m->fh2].b), m->hglt, m->ha, WHAT(m->fh2),
                    m->conv_scr, &m->sh.head2);
    zero(m->hgh, (size_t)K * TN);
    leaky_relu_backward(m->hgh, m->hga, m->hh, (size_t)K * TN, (real)cf->leaky_slope);
    zero(m->hgg, (size_t)C3 * TN);
    conv2d_backward(ctx, m->hgg, GWHAT(m->fh1), G(m->pt.ws[m->fh1].b), m->hgh, m->hg, WHAT(m->fh1),
                    m->conv_scr, &m->sh.head1);
    zero(m->G2, n3);
    gap_backward(m->G2, m->hgg, (int)(C3 * TN), m->R[3] * m->R[3]);
    zero(gu, n3);
    lif_backward(gu, m->G2, m->head.H, C3, T, M3);
}

/* Level l given gu = d(loss)/d(its output); on return gu holds d(loss)/d(u0)
 * and, for l > 0, g_in receives d(loss)/d(level l-1's output). */
static void level_backward(sim_ctx *ctx, lifsnn *m, int l, real *gu, real *g_in)
{
    const trev_config *cf = &m->cfg;
    const int T = cf->T, *Ch = cf->channels, C = Ch[l];
    const size_t M = M_of(m, l), TM = (size_t)T * M, CM = (size_t)C * TM;
    const lev_ref *L = &m->lev[l];
    const lev_buf *B = &m->lb[l];
    real *scr = m->conv_scr;
    for (int k = 1; k >= 0; k--) {
        const blk_ref *R = &L->b[k];
        const blk_buf *K = &B->b[k];
        /* out = uin + gamma * d2: gu already is the residual part of g(uin) */
        const real *gd2 = gu;
        if (R->gamma != NONE) {
            scale_add_backward_set(G(R->gamma), m->G1, gu, P(R->gamma), K->d2, C, TM);
            gd2 = m->G1;
        }
        conv2d_backward_set(ctx, m->G2, G(R->dw2.w), G(R->dw2.b), gd2, K->p2, P(R->dw2.w), scr,
                            &m->sh.dw[l]);
        conv2d_backward_set(ctx, m->G4a, GWHAT(R->pw2), G(m->pt.ws[R->pw2].b), m->G2, K->hid.S,
                            WHAT(R->pw2), scr, &m->sh.pw2[l]);
        zero(m->G4b, 4 * CM);
        lif_backward(m->G4b, m->G4a, K->hid.H, 4 * C, T, M);
        conv2d_backward_set(ctx, m->G1, GWHAT(R->pw1), G(m->pt.ws[R->pw1].b), m->G4b, K->d1,
                            WHAT(R->pw1), scr, &m->sh.pw1[l]);
        conv2d_backward_set(ctx, m->G2, G(R->dw1.w), G(R->dw1.b), m->G1, K->in.S, P(R->dw1.w),
                            scr, &m->sh.dw[l]);
        lif_backward(gu, m->G2, K->in.H, C, T, M); /* gu += block path: g(uin) */
    }
    if (l == 0)
        return;
    const int Cp = Ch[l - 1];
    const size_t Mp = M_of(m, l - 1), nin = (size_t)Cp * T * Mp;
    bn_backward_set(ctx, m->G1, G(L->down.bw), G(L->down.bb), gu, B->dpre, B->dstat,
                    B->dstat + C, P(L->down.bw), C, (int)TM);
    conv2d_backward_set(ctx, m->G2, G(L->down.w), NULL, m->G1, B->down.S, P(L->down.w), scr,
                        &m->sh.down[l]);
    zero(g_in, nin);
    lif_backward(g_in, m->G2, B->down.H, Cp, T, Mp);
}

/* The backward of the loss times share (this slice's part of the batch
 * mean), adding to the gradients and standardized-weight gradients. */
static void backward(sim_ctx *ctx, lifsnn *m, const real *images, const int *labels, double share)
{
    const trev_config *cf = &m->cfg;
    const int T = cf->T, K = cf->classes, n = m->n, C0 = cf->channels[0];
    zero(m->hgl, (size_t)K * n);
    ce_backward(m->hgl, m->hprob, labels, K, n, (real)cf->label_smoothing, (real)share);
    real *gu = m->Ga, *gin = m->Gb;
    head_backward(ctx, m, gu);
    for (int l = TREV_LEVELS - 1; l >= 0; l--) {
        level_backward(ctx, m, l, gu, gin);
        if (l > 0) {
            real *sw = gu;
            gu = gin;
            gin = sw;
        }
    }
    /* x feeds every timestep: its gradient is the sum over t */
    const size_t M = M_of(m, 0);
    for (int c = 0; c < C0; c++) {
        real *gx = m->gx + (size_t)c * M;
        memcpy(gx, gu + (size_t)c * T * M, M * sizeof *gx);
        for (int t = 1; t < T; t++) {
            const real *g = gu + ((size_t)c * T + t) * M;
            for (size_t i = 0; i < M; i++)
                gx[i] += g[i];
        }
    }
    stem_backward(ctx, &m->pt, m->ga1, m->ga2, m->gx, images, m->a1, m->a2, m->stem1, m->stem2,
                  (real)cf->leaky_slope, m->conv_scr, &m->sh.stem1, &m->sh.stem2);
}

/* ========================= the variant entry points ====================== */

/* Slices of a call of n images (1: m alone, on all its threads), with
 * every replica's shapes set for its slice. */
static sim_status use_slices(sim_ctx *ctx, lifsnn *m, int n, int *R)
{
    *R = n < m->sp.nrep ? n : m->sp.nrep;
    sim_status st = modelstep_check_batch(ctx, m->sp.capacity, n);
    if (*R == 1 && st == SIM_OK)
        return use_batch(ctx, m, n);
    for (int r = 0; r < *R && st == SIM_OK; r++) {
        int cnt, off;
        modelstep_slice(n, *R, r, &cnt, &off);
        st = use_batch(ctx, m->rep[r], cnt);
    }
    return st;
}

typedef struct {
    lifsnn *m;
    int kind; /* 0 train, 1 loss, 2 infer */
    const int *labels;
    int n;
    trev_step rr[TREV_MAXREP];
} lif_job;

/* One slice's step: forward, the loss times share, backward (train). The
 * running BN statistics move only in training and with update_bn. */
static void slice_step(sim_ctx *ctx, lifsnn *m, int kind, const real *images, const int *labels,
                       double share, int update_bn, trev_step *res)
{
    const trev_config *cf = &m->cfg;
    memset(res, 0, sizeof *res);
    forward(ctx, m, images, kind != 2, kind == 0 && update_bn, kind == 1 ? NULL : res);
    res->nheads = 1;
    res->logits = m->logits;
    if (kind == 2)
        return;
    res->loss = share * ce_forward(m->hprob, m->logits, labels, cf->classes, m->n,
                                   (real)cf->label_smoothing);
    res->head_loss[0] = res->loss;
    if (kind == 0)
        backward(ctx, m, images, labels, share);
}

static void lif_slice(sim_ctx *ctx, int r, int off, int cnt, const real *img, void *arg)
{
    lif_job *j = arg;
    lifsnn *q = j->m->rep[r];
    if (r && j->kind == 0)
        paramtab_clear_grads(&q->pt);
    slice_step(ctx, q, j->kind, img, j->labels ? j->labels + off : NULL, (double)cnt / j->n,
               r == 0, &j->rr[r]);
}

/* A train (0), loss (1) or inference (2) call on n images, split over the
 * replicas when there are several; res gets the merged record with the
 * (K, n) logits. */
static sim_status run(sim_ctx *ctx, lifsnn *m, int kind, const real *images, const int *labels,
                      int n, trev_step *res)
{
    int R;
    sim_status st = use_slices(ctx, m, n, &R);
    if (st == SIM_OK && kind == 0)
        st = modelstep_check_train(ctx, m->pt.g, labels, n, m->cfg.classes);
    if (st == SIM_OK && kind == 1)
        st = modelstep_check_labels(ctx, labels, n, m->cfg.classes);
    if (st != SIM_OK)
        return st;
    paramtab_standardize(&m->pt, ctx->threads);
    if (kind == 0)
        zero(m->pt.gstd, m->pt.nstd);
    m->sp.last = R > 1;
    if (R == 1) {
        slice_step(ctx, m, kind, images, labels, 1.0, 1, res);
    } else {
        lif_job j = {.m = m, .kind = kind, .labels = labels, .n = n};
        st = modelstep_run_slices(ctx, &m->sp, images, m->cfg.in_channels,
                                  (size_t)m->cfg.input_size * m->cfg.input_size, n, R, lif_slice,
                                  &j);
        if (st != SIM_OK)
            return st;
        modelstep_merge_steps(res, j.rr, R);
        const real *src[TREV_MAXREP];
        for (int r = 0; r < R; r++)
            src[r] = m->rep[r]->logits;
        modelstep_gather(m->sp.gathered, src, n, R, m->cfg.classes);
        res->logits = m->sp.gathered;
        if (kind == 0) {
            paramtab *others[TREV_MAXREP];
            for (int r = 1; r < R; r++)
                others[r - 1] = &m->rep[r]->pt;
            paramtab_sum_grads(ctx, &m->pt, others, R - 1);
        }
    }
    if (kind == 0)
        paramtab_standardize_backward(&m->pt, ctx->threads);
    return SIM_OK;
}

static sim_status lif_train_step(sim_ctx *ctx, void *impl, const real *images, const int *labels,
                                 int n, trev_step *res)
{
    return run(ctx, impl, 0, images, labels, n, res);
}

static sim_status lif_forward_loss(sim_ctx *ctx, void *impl, const real *images,
                                   const int *labels, int n, double *loss)
{
    trev_step res;
    sim_status st = run(ctx, impl, 1, images, labels, n, &res);
    *loss = res.loss;
    return st;
}

static sim_status lif_infer_rec(sim_ctx *ctx, void *impl, const real *images, int n,
                                real *logits, trev_step *rec)
{
    trev_step res;
    sim_status st = run(ctx, impl, 2, images, NULL, n, &res);
    if (st != SIM_OK)
        return st;
    memcpy(logits, res.logits, (size_t)((lifsnn *)impl)->cfg.classes * n * sizeof *logits);
    if (rec) {
        *rec = res;
        rec->loss = 0;
        rec->logits = logits;
    }
    return SIM_OK;
}

static double lif_macs_per_image(const void *impl)
{
    const lifsnn *m = impl;
    const trev_config *c = &m->cfg;
    const int *C = c->channels, k = c->kernel, K = c->classes;
    const double macs = stem_macs_per_image(c);
    double step = (double)K * C[3] + (double)K * K; /* head */
    for (int l = 0; l < TREV_LEVELS; l++) {
        const double R2 = (double)m->R[l] * m->R[l];
        if (l > 0)
            step += (double)C[l] * C[l - 1] * (l == 3 ? 1 : 9) * R2;
        step += 2 * ((double)C[l] * k * k * R2 * 2 + 2.0 * 4 * C[l] * C[l] * R2);
    }
    return macs + c->T * step;
}

static void lif_set_relaxed(void *impl, int on)
{
    lifsnn *m = impl;
    for (int r = 0; r < m->sp.nrep; r++)
        m->rep[r]->relaxed = on;
}

static uint64_t lif_kink_signature(const void *impl)
{
    const lifsnn *m = impl;
    uint64_t h = m->kink_hash; /* a split call: every slice's, summed */
    for (int r = 1; m->sp.last && r < m->sp.nrep; r++)
        h += m->rep[r]->kink_hash * (uint64_t)(2 * r + 1);
    return h;
}

static const real *lif_stem_output(const void *impl)
{
    const lifsnn *m = impl;
    return m->prepared && !m->sp.last ? m->x : NULL;
}

static const trev_variant variant = {
    "lif",
    lif_create,
    lif_destroy,
    lif_plan_bytes,
    lif_prepare,
    lif_train_step,
    lif_forward_loss,
    lif_infer_rec,
    lif_macs_per_image,
    lif_set_relaxed,
    lif_kink_signature,
    lif_stem_output,
};

const trev_variant *lifsnn_variant(void) { return &variant; }

/* ============================ site accessors ============================ */

/* Site s -> level (or TREV_LEVELS for the head) and kind 0 down, 1 b1.in,
 * 2 b1.hidden, 3 b2.in, 4 b2.hidden (-1: head). */
static int site_where(int s, int *kind)
{
    if (s < 0 || s >= LIFSNN_NSITES)
        return -1;
    if (s == LIFSNN_NSITES - 1) {
        *kind = -1;
        return TREV_LEVELS;
    }
    if (s < 4) {
        *kind = s + 1;
        return 0;
    }
    *kind = (s - 4) % 5;
    return 1 + (s - 4) / 5;
}

const char *lifsnn_site_name(int s, char *buf, size_t len)
{
    static const char *const kinds[5] = {"down", "b1.in", "b1.hidden", "b2.in", "b2.hidden"};
    int kind, l = site_where(s, &kind);
    if (l < 0)
        snprintf(buf, len, "?");
    else if (l == TREV_LEVELS)
        snprintf(buf, len, "head.in");
    else
        snprintf(buf, len, "L%d.%s", l, kinds[kind]);
    return buf;
}

const real *lifsnn_site_spikes(const trev_model *tm, int s, int *C, int *HW)
{
    if (trev_cfg(tm)->model != TREV_MODEL_LIF)
        return NULL;
    const lifsnn *m = trev_variant_impl(tm);
    int kind, l = site_where(s, &kind);
    if (!m->prepared || m->sp.last || l < 0)
        return NULL;
    const int *Ch = m->cfg.channels;
    if (l == TREV_LEVELS) {
        *C = Ch[3];
        *HW = m->R[3] * m->R[3];
        return m->head.S;
    }
    if (kind == 0) {
        *C = Ch[l - 1];
        *HW = m->R[l - 1] * m->R[l - 1];
        return m->lb[l].down.S;
    }
    const blk_buf *K = &m->lb[l].b[(kind - 1) / 2];
    *C = kind % 2 ? Ch[l] : 4 * Ch[l];
    *HW = m->R[l] * m->R[l];
    return kind % 2 ? K->in.S : K->hid.S;
}

const real *lifsnn_step_logits(const trev_model *tm)
{
    if (trev_cfg(tm)->model != TREV_MODEL_LIF)
        return NULL;
    const lifsnn *m = trev_variant_impl(tm);
    return m->prepared && !m->sp.last ? m->lt : NULL;
}
