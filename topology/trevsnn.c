/* trevsnn.c - T-RevSNN assembly: presets, parameter table, memory plan,
 * training step (plain and reversible backward) and inference forward.
 *
 * A column is 4 levels; a level is Down + Up -> u0 -> block1 -> block2 -> F,
 * and its turn-on state is c = F + alpha * c_prev (model.md §2). The same
 * level_forward/level_backward pair serves both training modes; they differ
 * only in where a level's internals come from during backward: stored from
 * the forward (plain) or recomputed from rebuilt states (rev, model.md §3).
 *
 * With several threads each call splits its batch into one slice per
 * thread, run by replicas of the model ("batch split" below); PW1's output
 * is kept as spike and window bitmaps (block_buf). */
#include "trevsnn.h"

#include <assert.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "neurons/spike.h"
#include "sim/rng.h"
#include "topology/batchnorm.h"
#include "topology/elementwise.h"
#include "topology/lifsnn.h"
#include "topology/loss.h"
#include "topology/modelstep.h"
#include "topology/paramtab.h"
#include "topology/stem.h"

#define ALPHA_MIN 1e-3
#define NONE ((size_t)-1)

/* ---- parameter references (offsets into the flat arrays, topology/paramtab.h) ---- */

typedef struct {
    paramtab_dw dw1, dw2; /* dw2 is the level's shared one in block2 */
    int pw1, pw2;         /* indices into m->pt.ws */
    size_t gamma;    /* NONE in block2 */
} block_ref;

typedef struct {
    paramtab_cbn down, up; /* down.w == NONE at l = 0; up.w == NONE at t = 0 or l = 3 */
    block_ref b[2];
    size_t alpha;
} level_ref;

/* ---- per-level activations (one column's worth in rev mode) ---- */

typedef struct {
    real *h, *d1, *p1, *s1, *p2, *d2, *out; /* (C,M) except p1, s1 (4C,M) */
    /* Theta(p1) and its surrogate window as bitmaps (neurons/spike.h), all
     * the backward needs of PW1's output: p1 and s1 are then NULL (they are
     * kept only for relaxed spikes, which are not binary) */
    uint64_t *s1b, *w1b;
    size_t ones; /* spikes in s1b */
} block_buf;

typedef struct {
    real *sdown, *dpre, *dstat; /* Theta(c_{l-1}), down conv out, BN mean/rstd */
    real *sup, *upre, *ustat;   /* Theta(c_{l+1}^{t-1}), up conv out, BN mean/rstd */
    real *u0;
    block_buf b[2];
} level_buf;

typedef struct {
    conv2d_shape down, up, dw, pw1, pw2;
} level_shapes;

struct trev_model {
    trev_config cfg;
    int R[TREV_LEVELS], S1; /* level resolutions; stem conv1 output size */
    paramtab pt; /* table, parameters, gradients, standardized weights */
    int stem1, stem2;
    level_ref *lev;           /* [T][4] */
    int head[TREV_MAXT];      /* intermediate heads (ws index), -1 if none */
    int fh1, fh2;             /* final head */

    /* plan for batch n (trev_prepare) */
    int n;
    trev_mode mode;
    int prepared;
    conv2d_shape stem1_s, stem2_s, head_s, fh2_s;
    level_shapes ls[TREV_LEVELS];
    real *acts, *scr;
    level_buf *buf;           /* [T][4] in plain mode, [1][4] in rev mode */
    real *st[2][TREV_LEVELS]; /* rev: alternating state sets */
    real *stp[TREV_MAXT][TREV_LEVELS]; /* state c_l^t for every t (aliases in rev mode) */
    real *gst[2][TREV_LEVELS];
    real *x, *a1, *a2;        /* stem output, conv1 out, leaky out */
    real *gx, *ga1, *ga2;
    real *conv_scr, *tmp1, *tmp2, *G0, *G1, *G2, *G4a, *G4b, *Gs, *Gt;
    real *hs, *hg, *hh, *ha, *hprob, *logits, *hgl, *hgg, *hgh, *hga; /* heads */
    /* batch split (trev_prepare with ctx->threads >= 2): a call's batch is
     * cut into slices run at once, one per thread, each by a replica with
     * its own plan for its slice; rep[0] is this model, the others share
     * its parameters, table and standardized weights and own their
     * gradients. Cross-slice sums (BN statistics) go through ctx->team. */
    modelstep_split sp;       /* gathered: (T, K, capacity) logits */
    struct trev_model *rep[TREV_MAXREP];
    int relaxed;              /* test hook: clamp(v,0,1) instead of spikes */
    uint64_t kink_hash, kink_pos; /* relaxed mode: which side of 0 and 1 every input is */

    /* another network behind this API (trevsnn.h "model variants"): pt.tab,
     * pt.p and pt.g then belong to impl, everything above is unused */
    const trev_variant *var;
    void *impl;
};

/* ======================= configuration and presets ======================= */

sim_status trev_preset(sim_ctx *ctx, trev_config *cfg, const char *name)
{
    static const struct {
        const char *name;
        int cin, size, raw, c[4], k, T, ks, s1, K;
    } P[] = {
        {"fmnist", 1, 32, 28, {16, 32, 64, 128}, 3, 4, 3, 1, 10},
        {"cifar10", 3, 32, 32, {32, 64, 128, 256}, 3, 4, 3, 1, 10},
        {"tiny", 3, 224, 224, {64, 128, 256, 384}, 5, 4, 7, 2, 1000},
        {"small", 3, 224, 224, {96, 192, 384, 512}, 5, 4, 7, 2, 1000},
    };
    for (size_t i = 0; i < sizeof P / sizeof *P; i++) {
        if (strcmp(name, P[i].name) != 0)
            continue;
        memset(cfg, 0, sizeof *cfg);
        snprintf(cfg->preset, sizeof cfg->preset, "%s", name);
        memcpy(cfg->channels, P[i].c, sizeof cfg->channels);
        cfg->T = P[i].T;
        cfg->kernel = P[i].k;
        cfg->in_channels = P[i].cin;
        cfg->input_size = P[i].size;
        cfg->raw_size = P[i].raw;
        cfg->stem_kernel = P[i].ks;
        cfg->stem_stride = P[i].s1;
        cfg->classes = P[i].K;
        cfg->leaky_slope = 1.0;
        cfg->label_smoothing = 0.1;
        cfg->inter_supv = 1;
        cfg->bn_momentum = 0.1;
        cfg->bn_eps = 1e-5;
        if (P[i].cin == 1) {
            cfg->mean[0] = 0.2860;
            cfg->std[0] = 0.3530;
        } else if (!strcmp(name, "cifar10")) {
            const double mu[3] = {0.4914, 0.4822, 0.4465}, sd[3] = {0.2470, 0.2435, 0.2616};
            memcpy(cfg->mean, mu, sizeof mu);
            memcpy(cfg->std, sd, sizeof sd);
        } else { /* ImageNet */
            const double mu[3] = {0.485, 0.456, 0.406}, sd[3] = {0.229, 0.224, 0.225};
            memcpy(cfg->mean, mu, sizeof mu);
            memcpy(cfg->std, sd, sizeof sd);
        }
        return SIM_OK;
    }
    return ctx_error(ctx, SIM_ENOTFOUND,
                     "unknown preset '%s' (expected fmnist, cifar10, tiny or small)", name);
}

const char *trev_model_name(int model)
{
    return model == TREV_MODEL_LIF ? "lif" : model == TREV_MODEL_TREVSNN ? "trevsnn" : "?";
}

sim_status trev_parse_model(sim_ctx *ctx, const char *name, int *model)
{
    if (!strcmp(name, "trevsnn"))
        *model = TREV_MODEL_TREVSNN;
    else if (!strcmp(name, "lif"))
        *model = TREV_MODEL_LIF;
    else
        return ctx_error(ctx, SIM_EINVAL, "unknown model '%s' (expected trevsnn or lif)", name);
    return SIM_OK;
}

sim_status trev_config_check(sim_ctx *ctx, const trev_config *c)
{
    if (c->model != TREV_MODEL_TREVSNN && c->model != TREV_MODEL_LIF)
        return ctx_error(ctx, SIM_EINVAL, "config: model %d, expected trevsnn or lif", c->model);
    if (c->model == TREV_MODEL_LIF && c->inter_supv)
        return ctx_error(ctx, SIM_EINVAL,
                         "config: the lif model has one head (the mean over timesteps); "
                         "inter_supv must be false");
    for (int l = 0; l < TREV_LEVELS; l++)
        if (c->channels[l] < 1 || c->channels[l] > 65536)
            return ctx_error(ctx, SIM_EINVAL, "config: channels[%d] = %d, expected 1..65536", l,
                             c->channels[l]);
    if (c->T < 1 || c->T > TREV_MAXT)
        return ctx_error(ctx, SIM_EINVAL, "config: T = %d, expected 1..%d", c->T, TREV_MAXT);
    if (c->kernel < 1 || c->kernel % 2 == 0 || c->kernel > 15)
        return ctx_error(ctx, SIM_EINVAL, "config: kernel = %d, expected an odd size 1..15",
                         c->kernel);
    if (c->stem_kernel < 1 || c->stem_kernel % 2 == 0 || c->stem_kernel > 15)
        return ctx_error(ctx, SIM_EINVAL, "config: stem_kernel = %d, expected an odd size 1..15",
                         c->stem_kernel);
    if (c->stem_stride < 1 || c->stem_stride > 4)
        return ctx_error(ctx, SIM_EINVAL, "config: stem_stride = %d, expected 1..4",
                         c->stem_stride);
    if (c->in_channels < 1 || c->in_channels > 64)
        return ctx_error(ctx, SIM_EINVAL, "config: in_channels = %d, expected 1..64",
                         c->in_channels);
    int div = 8 * c->stem_stride;
    if (c->input_size < div || c->input_size % div != 0 || c->input_size > 4096)
        return ctx_error(ctx, SIM_EINVAL,
                         "config: input_size = %d, expected a multiple of %d (16 per stride-1 "
                         "stem) up to 4096",
                         c->input_size, div);
    if (c->classes < 2 || c->classes > 100000)
        return ctx_error(ctx, SIM_EINVAL, "config: classes = %d, expected 2..100000", c->classes);
    if (!(c->label_smoothing >= 0 && c->label_smoothing < 1))
        return ctx_error(ctx, SIM_EINVAL, "config: label_smoothing = %g, expected [0, 1)",
                         c->label_smoothing);
    if (!isfinite(c->leaky_slope))
        return ctx_error(ctx, SIM_EINVAL, "config: leaky_slope is not finite");
    return SIM_OK;
}

int trev_config_json(const trev_config *c, char *buf, size_t len)
{
    return snprintf(buf, len,
                    "{\"preset\": \"%s\", \"model\": \"%s\", \"channels\": [%d, %d, %d, %d], "
                    "\"T\": %d, "
                    "\"kernel\": %d, \"in_channels\": %d, \"input_size\": %d, "
                    "\"stem_kernel\": %d, \"stem_stride\": %d, \"classes\": %d, "
                    "\"leaky_slope\": %.12g, \"label_smoothing\": %.12g, \"inter_supv\": %s, "
                    "\"bn_momentum\": %.12g, \"bn_eps\": %.12g, "
                    "\"normalization\": {\"mean\": [%.12g, %.12g, %.12g], "
                    "\"std\": [%.12g, %.12g, %.12g], \"raw_size\": %d, \"padding\": %d}}",
                    c->preset, trev_model_name(c->model), c->channels[0], c->channels[1],
                    c->channels[2], c->channels[3],
                    c->T, c->kernel, c->in_channels, c->input_size, c->stem_kernel,
                    c->stem_stride, c->classes, c->leaky_slope, c->label_smoothing,
                    c->inter_supv ? "true" : "false", c->bn_momentum, c->bn_eps, c->mean[0],
                    c->mean[1], c->mean[2], c->std[0], c->std[1], c->std[2], c->raw_size,
                    (c->input_size - c->raw_size) / 2);
}

/* =========================== parameter table ============================ */

static void build_table(paramtab_builder *b, trev_model *m)
{
    const trev_config *c = &m->cfg;
    const int *C = c->channels, k = c->kernel, T = c->T;
    char pre[96];
    stem_add(b, &m->stem1, &m->stem2, c);
    int shpw2[TREV_LEVELS];
    paramtab_dw shdw2[TREV_LEVELS];
    for (int l = 0; l < TREV_LEVELS; l++) {
        snprintf(pre, sizeof pre, "shared/level%d/pw2", l);
        shpw2[l] = paramtab_add_ws(b, pre, C[l], 4 * C[l], 1);
        snprintf(pre, sizeof pre, "shared/level%d/dw2", l);
        shdw2[l] = paramtab_add_dw(b, pre, C[l], k);
    }
    for (int t = 0; t < T; t++) {
        for (int l = 0; l < TREV_LEVELS; l++) {
            level_ref *L = &m->lev[t * TREV_LEVELS + l];
            char lp[48];
            snprintf(lp, sizeof lp, "col%d/level%d", t, l);
            L->down.w = L->up.w = NONE;
            if (l > 0) {
                snprintf(pre, sizeof pre, "%s/down", lp);
                L->down = paramtab_add_cbn(b, pre, C[l], C[l - 1], l == 3 ? 1 : 3);
            }
            if (t > 0 && l < 3) {
                snprintf(pre, sizeof pre, "%s/up", lp);
                L->up = paramtab_add_cbn(b, pre, C[l], C[l + 1], 1);
            }
            for (int bi = 0; bi < 2; bi++) {
                block_ref *B = &L->b[bi];
                snprintf(pre, sizeof pre, "%s/block%d/dw1", lp, bi + 1);
                B->dw1 = paramtab_add_dw(b, pre, C[l], k);
                snprintf(pre, sizeof pre, "%s/block%d/pw1", lp, bi + 1);
                B->pw1 = paramtab_add_ws(b, pre, 4 * C[l], C[l], 1);
                if (bi == 0) {
                    snprintf(pre, sizeof pre, "%s/block1/pw2", lp);
                    B->pw2 = paramtab_add_ws(b, pre, C[l], 4 * C[l], 1);
                    snprintf(pre, sizeof pre, "%s/block1/dw2", lp);
                    B->dw2 = paramtab_add_dw(b, pre, C[l], k);
                    snprintf(pre, sizeof pre, "%s/block1", lp);
                    B->gamma = paramtab_add_vec(b, pre, "gamma", C[l], TREV_INIT_ONE, 0);
                } else {
                    B->pw2 = shpw2[l];
                    B->dw2 = shdw2[l];
                    B->gamma = NONE;
                }
            }
            L->alpha = paramtab_add_vec(b, lp, "alpha", C[l], TREV_INIT_HALF, 0);
        }
    }
    for (int t = 0; t < T; t++)
        m->head[t] = -1;
    if (c->inter_supv)
        for (int t = 0; t + 1 < T; t++) {
            snprintf(pre, sizeof pre, "head%d/conv", t);
            m->head[t] = paramtab_add_ws(b, pre, c->classes, C[3], 1);
        }
    snprintf(pre, sizeof pre, "head%d/conv1", T - 1);
    m->fh1 = paramtab_add_ws(b, pre, c->classes, C[3], 1);
    snprintf(pre, sizeof pre, "head%d/conv2", T - 1);
    m->fh2 = paramtab_add_ws(b, pre, c->classes, c->classes, 1);
}

sim_status trev_create(sim_ctx *ctx, trev_model **out, const trev_config *cfg, int train)
{
    *out = NULL;
    sim_status st = trev_config_check(ctx, cfg);
    if (st != SIM_OK)
        return st;
    trev_model *m = mem_alloc(ctx, MEM_META, sizeof *m);
    if (!m)
        return SIM_ENOMEM;
    m->cfg = *cfg;
    modelstep_split_init(&m->sp);
    m->rep[0] = m;
    stem_resolutions(cfg, &m->S1, m->R);
    if (cfg->model != TREV_MODEL_TREVSNN) {
        trev_table tb;
        m->var = lifsnn_variant();
        st = m->var->create(ctx, &m->impl, cfg, train, &tb);
        if (st != SIM_OK) {
            mem_free(ctx, m);
            return st;
        }
        m->pt.tab = tb.tab;
        m->pt.ntab = m->pt.cap = tb.ntab;
        m->pt.nval = tb.nval;
        m->pt.p = tb.p;
        m->pt.g = tb.g;
        *out = m;
        return SIM_OK;
    }
    m->lev = mem_calloc(ctx, MEM_META, (size_t)cfg->T * TREV_LEVELS, sizeof *m->lev);
    if (!m->lev) {
        trev_destroy(ctx, m);
        return SIM_ENOMEM;
    }
    paramtab_builder b = {ctx, &m->pt, SIM_OK};
    build_table(&b, m);
    st = paramtab_finish(&b, train);
    if (st != SIM_OK) {
        trev_destroy(ctx, m);
        return st;
    }
    *out = m;
    return SIM_OK;
}

/* Frees the plan and, in a split model, the other replicas. */
static void free_plan(sim_ctx *ctx, trev_model *m)
{
    for (int r = 1; r < m->sp.nrep; r++) {
        trev_model *q = m->rep[r];
        free_plan(ctx, q);
        paramtab_free_own_grads(ctx, &q->pt);
        mem_free(ctx, q);
    }
    mem_free(ctx, m->acts);
    mem_free(ctx, m->scr);
    mem_free(ctx, m->buf);
    m->acts = m->scr = NULL;
    m->buf = NULL;
    m->prepared = 0;
    modelstep_split_free(ctx, &m->sp);
    m->rep[0] = m;
}

void trev_destroy(sim_ctx *ctx, trev_model *m)
{
    if (!m)
        return;
    if (m->var) { /* the variant owns the table and arrays */
        m->var->destroy(ctx, m->impl);
        mem_free(ctx, m);
        return;
    }
    free_plan(ctx, m);
    paramtab_free(ctx, &m->pt);
    mem_free(ctx, m->lev);
    mem_free(ctx, m);
}

const trev_config *trev_cfg(const trev_model *m) { return &m->cfg; }
int trev_nparams(const trev_model *m) { return m->pt.ntab; }
const trev_param *trev_param_at(const trev_model *m, int i) { return &m->pt.tab[i]; }
real *trev_params(trev_model *m) { return m->pt.p; }
real *trev_grads(trev_model *m) { return m->pt.g; }
size_t trev_nvalues(const trev_model *m) { return m->pt.nval; }
int trev_resolution(const trev_model *m, int l) { return m->R[l]; }

const trev_param *trev_param_find(const trev_model *m, const char *name)
{
    for (int i = 0; i < m->pt.ntab; i++)
        if (!strcmp(m->pt.tab[i].name, name))
            return &m->pt.tab[i];
    return NULL;
}

size_t trev_count_learnable(const trev_model *m)
{
    size_t n = 0;
    for (int i = 0; i < m->pt.ntab; i++)
        if (!m->pt.tab[i].buffer)
            n += m->pt.tab[i].n;
    return n;
}

void trev_zero_grads(trev_model *m)
{
    if (m->pt.g)
        memset(m->pt.g, 0, m->pt.nval * sizeof *m->pt.g);
}

/* ============================== memory plan ============================== */

typedef struct {
    conv2d_shape stem1, stem2, head, fh2;
    level_shapes ls[TREV_LEVELS];
} all_shapes;

static sim_status shapes_for(sim_ctx *ctx, const trev_model *m, int n, all_shapes *s)
{
    const trev_config *c = &m->cfg;
    const int *C = c->channels, *R = m->R, K = c->classes, k = c->kernel;
    sim_status st = SIM_OK;
#define SH(dst, ...)                                                                               \
    do {                                                                                           \
        if (st == SIM_OK)                                                                          \
            st = conv2d_shape_init(ctx, dst, __VA_ARGS__);                                         \
    } while (0)
    st = stem_shapes(ctx, &s->stem1, &s->stem2, n, c);
    SH(&s->head, n, C[3], 1, 1, K, 1, 1, 0, 1);
    SH(&s->fh2, n, K, 1, 1, K, 1, 1, 0, 1);
    for (int l = 0; l < TREV_LEVELS; l++) {
        level_shapes *L = &s->ls[l];
        memset(L, 0, sizeof *L);
        if (l > 0)
            SH(&L->down, n, C[l - 1], R[l - 1], R[l - 1], C[l], l == 3 ? 1 : 3, l == 3 ? 1 : 2,
               l == 3 ? 0 : 1, 1);
        if (l < 3)
            SH(&L->up, n, C[l + 1], R[l + 1], R[l + 1], C[l], 1, 1, 0, 1);
        SH(&L->dw, n, C[l], R[l], R[l], C[l], k, 1, k / 2, C[l]);
        SH(&L->pw1, n, C[l], R[l], R[l], 4 * C[l], 1, 1, 0, 1);
        SH(&L->pw2, n, 4 * C[l], R[l], R[l], C[l], 1, 1, 0, 1);
    }
#undef SH
    return st;
}

/* the plan's arenas are sliced with the shared carver (topology/paramtab.h) */
typedef paramtab_carver carver;
static real *take(carver *c, size_t n) { return paramtab_take(c, n); }

static size_t zmax(size_t a, size_t b) { return a > b ? a : b; }

/* The internals of one level: for level l when l >= 0, or (l = -1) one
 * buffer large enough for every level, each field sized for the largest
 * level that has it. M[l] = n R_l^2 positions. */
static level_buf level_carve(carver *A, const int *C, const size_t *M, int l, int T, int bits)
{
    size_t cm = 0, down_in = 0, up_in = 0, up_pre = 0, cmax = 0;
    for (int j = 0; j < TREV_LEVELS; j++) {
        if (l >= 0 && j != l)
            continue;
        const size_t CM = (size_t)C[j] * M[j];
        cm = zmax(cm, CM);
        cmax = zmax(cmax, (size_t)C[j]);
        if (j > 0)
            down_in = zmax(down_in, (size_t)C[j - 1] * M[j - 1]);
        if (j < 3 && T > 1) {
            up_in = zmax(up_in, (size_t)C[j + 1] * M[j + 1]);
            up_pre = zmax(up_pre, (size_t)C[j] * M[j + 1]);
        }
    }
    level_buf b;
    memset(&b, 0, sizeof b);
    if (down_in) {
        b.sdown = take(A, down_in);
        b.dpre = take(A, cm);
        b.dstat = take(A, 2 * cmax);
    }
    if (up_in) {
        b.sup = take(A, up_in);
        b.upre = take(A, up_pre);
        b.ustat = take(A, 2 * cmax);
    }
    b.u0 = take(A, cm);
    for (int k = 0; k < 2; k++) {
        block_buf *B = &b.b[k];
        B->h = take(A, cm);
        B->d1 = take(A, cm);
        if (bits) { /* 4C rows of M bits each, as whole reals */
            size_t words = 0;
            for (int j = 0; j < TREV_LEVELS; j++)
                if (l < 0 || j == l)
                    words = zmax(words, 4 * (size_t)C[j] * spike_words(M[j]));
            B->s1b = (uint64_t *)take(A, words * sizeof(uint64_t) / sizeof(real));
            B->w1b = (uint64_t *)take(A, words * sizeof(uint64_t) / sizeof(real));
        } else {
            B->p1 = take(A, 4 * cm);
            B->s1 = take(A, 4 * cm);
        }
        B->p2 = take(A, cm);
        B->d2 = take(A, cm);
        B->out = take(A, cm);
    }
    return b;
}

/* Assign (or count) every activation and scratch buffer for batch n. */
static void layout(trev_model *m, const all_shapes *sh, int n, trev_mode mode, carver *A,
                   carver *S, level_buf *bufs)
{
    const trev_config *c = &m->cfg;
    const int *C = c->channels, T = c->T, K = c->classes;
    size_t M[TREV_LEVELS], maxCM = 0, conv = 0;
    for (int l = 0; l < TREV_LEVELS; l++) {
        M[l] = (size_t)n * m->R[l] * m->R[l];
        maxCM = zmax(maxCM, (size_t)C[l] * M[l]);
        const level_shapes *L = &sh->ls[l];
        if (l > 0)
            conv = zmax(conv, conv2d_scratch_elems(&L->down));
        if (l < 3)
            conv = zmax(conv, conv2d_scratch_elems(&L->up));
        conv = zmax(conv, conv2d_scratch_elems(&L->dw));
        conv = zmax(conv, conv2d_scratch_elems(&L->pw1));
        conv = zmax(conv, conv2d_scratch_elems(&L->pw2));
    }
    conv = zmax(conv, stem_scratch_elems(&sh->stem1, &sh->stem2));
    conv = zmax(conv, conv2d_scratch_elems(&sh->head));
    conv = zmax(conv, conv2d_scratch_elems(&sh->fh2));
    size_t s1 = (size_t)C[0] * n * m->S1 * m->S1;

    /* activations: stem, states, level internals */
    m->x = take(A, (size_t)C[0] * M[0]);
    m->a1 = take(A, s1);
    m->a2 = take(A, s1);
    int nstate = mode == TREV_PLAIN ? T : 2;
    real *sets[TREV_MAXT][TREV_LEVELS] = {{NULL}};
    for (int t = 0; t < nstate; t++)
        for (int l = 0; l < TREV_LEVELS; l++)
            sets[t][l] = take(A, (size_t)C[l] * M[l]);
    for (int t = 0; t < T; t++)
        for (int l = 0; l < TREV_LEVELS; l++)
            m->stp[t][l] = sets[mode == TREV_PLAIN ? t : t % 2][l];
    for (int l = 0; l < TREV_LEVELS; l++) {
        m->st[0][l] = sets[0][l];
        m->st[1][l] = nstate > 1 ? sets[1][l] : NULL;
    }
    if (mode == TREV_PLAIN) {
        /* every level of every column keeps its internals for backward */
        for (int t = 0; t < T; t++)
            for (int l = 0; l < TREV_LEVELS; l++) {
                level_buf b = level_carve(A, C, M, l, T, !m->relaxed);
                if (bufs)
                    bufs[t * TREV_LEVELS + l] = b;
            }
    } else {
        /* reversible: one level at a time is recomputed and backpropagated
         * (model.md §3), so all levels share one buffer sized for the
         * largest: activation memory is stem + two state sets + one level */
        level_buf b = level_carve(A, C, M, -1, T, !m->relaxed);
        for (int l = 0; l < TREV_LEVELS; l++) {
            level_buf bl = b;
            if (l == 0)
                bl.sdown = bl.dpre = bl.dstat = NULL;
            if (l == 3 || T == 1)
                bl.sup = bl.upre = bl.ustat = NULL;
            if (bufs)
                bufs[l] = bl;
        }
    }

    /* scratch: conv workspace, gradient temporaries, state gradients, heads */
    m->conv_scr = take(S, conv);
    m->tmp1 = take(S, maxCM);
    m->tmp2 = take(S, maxCM);
    m->G0 = take(S, maxCM);
    m->G1 = take(S, maxCM);
    m->G2 = take(S, maxCM);
    m->G4a = take(S, 4 * maxCM);
    m->G4b = take(S, 4 * maxCM);
    m->Gs = take(S, maxCM);
    m->Gt = take(S, maxCM);
    for (int k = 0; k < 2; k++)
        for (int l = 0; l < TREV_LEVELS; l++)
            m->gst[k][l] = take(S, (size_t)C[l] * M[l]);
    m->gx = take(S, (size_t)C[0] * M[0]);
    m->ga1 = take(S, s1);
    m->ga2 = take(S, s1);
    size_t Kn = (size_t)K * n, C3n = (size_t)C[3] * n;
    m->hs = take(S, (size_t)C[3] * M[3]);
    m->hg = take(S, C3n);
    m->hh = take(S, Kn);
    m->ha = take(S, Kn);
    m->hprob = take(S, Kn);
    m->logits = take(S, Kn * (size_t)T);
    m->hgl = take(S, Kn);
    m->hgg = take(S, C3n);
    m->hgh = take(S, Kn);
    m->hga = take(S, Kn);
}

static sim_status plan_sizes(sim_ctx *ctx, trev_model *m, int n, trev_mode mode, size_t *acts,
                             size_t *scr, all_shapes *sh)
{
    sim_status st = shapes_for(ctx, m, n, sh);
    if (st != SIM_OK)
        return st;
    carver A = {NULL, 0}, S = {NULL, 0};
    /* counting pass writes only pointers derived from NULL bases into a
     * scratch copy of the model */
    trev_model tmp = *m;
    layout(&tmp, sh, n, mode, &A, &S, NULL);
    *acts = A.used;
    *scr = S.used;
    return SIM_OK;
}

/* Input elements per image. */
static size_t image_elems(const trev_model *m)
{
    return (size_t)m->cfg.in_channels * m->cfg.input_size * m->cfg.input_size;
}

sim_status trev_plan_bytes(sim_ctx *ctx, const trev_model *m, int n, trev_mode mode,
                           size_t out[MEM_NROLES])
{
    memset(out, 0, MEM_NROLES * sizeof *out);
    if (m->var)
        return m->var->plan_bytes(ctx, m->impl, n, out);
    const int R = modelstep_split_of(ctx->threads, n);
    size_t acts = 0, scr = 0;
    for (int r = 0; r < R; r++) {
        all_shapes sh;
        size_t a, sc;
        int cnt, off;
        modelstep_slice(n, R, r, &cnt, &off);
        trev_model tmp = *m;
        sim_status st = plan_sizes(ctx, &tmp, cnt, mode, &a, &sc, &sh);
        if (st != SIM_OK)
            return st;
        acts += a;
        scr += sc;
    }
    /* standardized weights and their gradients are scratch too */
    paramtab_plan_bytes(&m->pt, acts, scr, out);
    modelstep_split_bytes(R, n, &m->pt, image_elems(m), (size_t)m->cfg.T * m->cfg.classes, out);
    return SIM_OK;
}

static void set_shapes(trev_model *m, const all_shapes *sh, int n)
{
    m->n = n;
    m->stem1_s = sh->stem1;
    m->stem2_s = sh->stem2;
    m->head_s = sh->head;
    m->fh2_s = sh->fh2;
    memcpy(m->ls, sh->ls, sizeof m->ls);
}

/* The plan of one replica for slices of up to n images. */
static sim_status prepare_one(sim_ctx *ctx, trev_model *m, int n, trev_mode mode)
{
    all_shapes sh;
    size_t acts, scr;
    sim_status st = plan_sizes(ctx, m, n, mode, &acts, &scr, &sh);
    if (st != SIM_OK)
        return st;
    int ncol = mode == TREV_PLAIN ? m->cfg.T : 1;
    m->acts = mem_calloc(ctx, MEM_ACTS, acts, sizeof(real));
    m->scr = mem_calloc(ctx, MEM_SCRATCH, scr, sizeof(real));
    m->buf = mem_calloc(ctx, MEM_META, (size_t)ncol * TREV_LEVELS, sizeof *m->buf);
    if (!m->acts || !m->scr || !m->buf) {
        free_plan(ctx, m);
        return SIM_ENOMEM;
    }
    carver A = {m->acts, 0}, S = {m->scr, 0};
    layout(m, &sh, n, mode, &A, &S, m->buf);
    set_shapes(m, &sh, n);
    m->mode = mode;
    m->prepared = m->sp.capacity = n;
    return SIM_OK;
}

sim_status trev_prepare(sim_ctx *ctx, trev_model *m, int n, trev_mode mode)
{
    if (m->var)
        return m->var->prepare(ctx, m->impl, n);
    free_plan(ctx, m);
    if (n < 1)
        return ctx_error(ctx, SIM_EINVAL, "batch size %d, expected >= 1", n);
    const int R = modelstep_split_of(ctx->threads, n);
    int cnt, off;
    modelstep_slice(n, R, 0, &cnt, &off);
    sim_status st = prepare_one(ctx, m, cnt, mode);
    for (int r = 1; r < R && st == SIM_OK; r++) {
        /* a replica: the model's parameters and tables, its own gradients and plan */
        trev_model *q = mem_alloc(ctx, MEM_META, sizeof *q);
        if (!q) {
            st = SIM_ENOMEM;
            break;
        }
        *q = *m;
        q->acts = q->scr = NULL;
        q->buf = NULL;
        modelstep_split_init(&q->sp);
        q->rep[0] = q;
        m->rep[m->sp.nrep++] = q;
        st = paramtab_own_grads(ctx, &q->pt);
        modelstep_slice(n, R, r, &cnt, &off);
        if (st == SIM_OK)
            st = prepare_one(ctx, q, cnt, mode);
    }
    if (st == SIM_OK && R > 1)
        st = modelstep_split_alloc(ctx, &m->sp, n, R, image_elems(m),
                                   (size_t)m->cfg.T * m->cfg.classes);
    if (st != SIM_OK)
        free_plan(ctx, m);
    return st;
}

/* Switch the conv shapes to a batch of n <= the prepared size. */
static sim_status use_batch(sim_ctx *ctx, trev_model *m, int n)
{
    sim_status st = modelstep_check_batch(ctx, m->prepared, n);
    if (st != SIM_OK || n == m->n)
        return st;
    all_shapes sh;
    st = shapes_for(ctx, m, n, &sh);
    if (st == SIM_OK)
        set_shapes(m, &sh, n);
    return st;
}

/* =============================== forward =============================== */

#define P(off) (m->pt.p + (off))
#define G(off) (m->pt.g + (off))
#define WHAT(i) (m->pt.std + m->pt.ws[i].what)
#define GWHAT(i) (m->pt.gstd + m->pt.ws[i].what)

static size_t M_of(const trev_model *m, int l) { return modelstep_positions(m->n, m->R[l]); }

static void zero(real *x, size_t n)
{
    const size_t chunk = (size_t)1 << 16;
#pragma omp parallel for schedule(static) if (n >= 2 * chunk)
    for (size_t o = 0; o < n; o += chunk)
        memset(x + o, 0, (n - o < chunk ? n - o : chunk) * sizeof *x);
}

static void add_into(real *y, const real *x, size_t n)
{
#pragma omp parallel for schedule(static) if (n >= ELEMENTWISE_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        y[i] += x[i];
}

static size_t spike_site(const trev_model *m, real *s, const real *v, size_t n, trev_step *rec)
{
    size_t k;
    if (m->relaxed) {
        k = spike_forward_relaxed(s, v, n);
        trev_model *mm = (trev_model *)m; /* bookkeeping of the test hook only */
        for (size_t i = 0; i < n; i++) {
            uint64_t side = (uint64_t)(v[i] < 0) + 2u * (uint64_t)(v[i] > 1);
            mm->kink_hash += side * ((mm->kink_pos + i + 1) * 0x9e3779b97f4a7c15ull);
        }
        mm->kink_pos += n;
    } else {
        k = spike_forward(s, v, n);
    }
    modelstep_record(rec, k, n);
    return k;
}

/* spike_site of v + bias (C, M); v keeps the sum. */
static size_t bias_spike_site(const trev_model *m, real *s, real *v, const real *bias, int C,
                              size_t M, trev_step *rec)
{
    if (m->relaxed) {
        for (int c = 0; c < C; c++)
            for (size_t i = 0; i < M; i++)
                v[(size_t)c * M + i] += bias[c];
        return spike_site(m, s, v, (size_t)C * M, rec);
    }
    size_t k = spike_forward_bias(s, v, bias, C, M);
    modelstep_record(rec, k, (size_t)C * M);
    return k;
}

static void clamp_alpha(trev_model *m)
{
    for (int i = 0; i < m->cfg.T * TREV_LEVELS; i++) {
        real *a = P(m->lev[i].alpha);
        for (int c = 0; c < m->cfg.channels[i % TREV_LEVELS]; c++)
            if (!(fabs((double)a[c]) >= ALPHA_MIN))
                a[c] = (real)(a[c] < 0 ? -ALPHA_MIN : ALPHA_MIN);
    }
}

/* Conv without bias + BN: training (batch statistics into stat, running
 * statistics updated when update) or inference (running statistics). */
static void cbn_forward(sim_ctx *ctx, trev_model *m, const paramtab_cbn *r, real *out, real *stat,
                        const real *pre, int C, size_t M, int train, int update)
{
    real eps = (real)m->cfg.bn_eps;
    if (train)
        bn_forward_train(ctx, out, stat, stat + C, pre, P(r->bw), P(r->bb),
                         update ? P(r->rm) : NULL, update ? P(r->rv) : NULL, C, (int)M,
                         (real)m->cfg.bn_momentum, eps);
    else
        bn_forward_eval(ctx, out, pre, P(r->bw), P(r->bb), P(r->rm), P(r->rv), C, (int)M, eps);
}

/* Level l of column t: F = B2(B1(Down(cin) + Up(cup))) into B->b[1].out and,
 * when c is not NULL, the turn-on state c = F + alpha * cprev. */
static void level_forward(sim_ctx *ctx, trev_model *m, int t, int l, level_buf *B,
                          const real *cin, const real *cup, const real *cprev, real *c, int train,
                          int update_bn, trev_step *rec)
{
    const level_ref *L = &m->lev[t * TREV_LEVELS + l];
    const level_shapes *S = &m->ls[l];
    const int *Ch = m->cfg.channels;
    const int C = Ch[l];
    const size_t M = M_of(m, l), CM = (size_t)C * M;
    if (l == 0) {
        memcpy(B->u0, cin, CM * sizeof *cin); /* x enters level 0 unspiked */
    } else {
        spike_site(m, B->sdown, cin, (size_t)Ch[l - 1] * M_of(m, l - 1), rec);
        conv2d_forward(ctx, B->dpre, B->sdown, P(L->down.w), NULL, m->conv_scr, &S->down);
        cbn_forward(ctx, m, &L->down, B->u0, B->dstat, B->dpre, C, M, train, update_bn);
    }
    if (cup) {
        const size_t Mu = M_of(m, l + 1);
        spike_site(m, B->sup, cup, (size_t)Ch[l + 1] * Mu, rec);
        conv2d_forward(ctx, B->upre, B->sup, P(L->up.w), NULL, m->conv_scr, &S->up);
        cbn_forward(ctx, m, &L->up, m->tmp1, B->ustat, B->upre, C, Mu, train, update_bn);
        if (l < 2) {
            upsample2x_forward(m->tmp2, m->tmp1, C * m->n, m->R[l + 1], m->R[l + 1]);
            add_into(B->u0, m->tmp2, CM);
        } else {
            add_into(B->u0, m->tmp1, CM);
        }
    }
    const real *uin = B->u0;
    for (int k = 0; k < 2; k++) {
        const block_ref *R = &L->b[k];
        block_buf *K = &B->b[k];
        spike_site(m, K->h, uin, CM, rec);
        conv2d_forward(ctx, K->d1, K->h, P(R->dw1.w), P(R->dw1.b), m->conv_scr, &S->dw);
        /* PW1's bias goes in with its spikes, one pass over p1 */
        if (K->s1b && spike_pw_fused(4 * C, C)) { /* p1 never written */
            K->ones = spike_pw_bits(K->s1b, K->w1b, WHAT(R->pw1), K->d1, P(m->pt.ws[R->pw1].b),
                                    4 * C, C, M);
            modelstep_record(rec, K->ones, 4 * CM);
            conv2d_forward_bits(ctx, K->p2, K->s1b, K->ones, WHAT(R->pw2),
                                P(m->pt.ws[R->pw2].b), m->conv_scr, m->G4a, &S->pw2);
        } else if (K->s1b) { /* p1 only in passing (G4a), spikes and window as bits */
            conv2d_forward(ctx, m->G4a, K->d1, WHAT(R->pw1), NULL, m->conv_scr, &S->pw1);
            K->ones = spike_bits_bias(K->s1b, K->w1b, m->G4a, P(m->pt.ws[R->pw1].b), 4 * C, M);
            modelstep_record(rec, K->ones, 4 * CM);
            conv2d_forward_bits(ctx, K->p2, K->s1b, K->ones, WHAT(R->pw2),
                                P(m->pt.ws[R->pw2].b), m->conv_scr, m->G4a, &S->pw2);
        } else {
            conv2d_forward(ctx, K->p1, K->d1, WHAT(R->pw1), NULL, m->conv_scr, &S->pw1);
            bias_spike_site(m, K->s1, K->p1, P(m->pt.ws[R->pw1].b), 4 * C, M, rec);
            conv2d_forward(ctx, K->p2, K->s1, WHAT(R->pw2), P(m->pt.ws[R->pw2].b), m->conv_scr,
                           &S->pw2);
        }
        conv2d_forward(ctx, K->d2, K->p2, P(R->dw2.w), P(R->dw2.b), m->conv_scr, &S->dw);
        if (R->gamma != NONE) {
            scale_add_forward(K->out, uin, P(R->gamma), K->d2, C, M);
        } else {
            add_forward(K->out, uin, K->d2, CM);
        }
        uin = K->out;
    }
    if (!c)
        return;
    if (cprev)
        scale_add_forward(c, uin, P(L->alpha), cprev, C, M);
    else
        memcpy(c, uin, CM * sizeof *c);
}

static int head_slot(const trev_model *m, int t)
{
    return m->cfg.inter_supv ? t : (t == m->cfg.T - 1 ? 0 : -1);
}

static double head_weight(const trev_model *m, int t)
{
    const int T = m->cfg.T;
    if (!m->cfg.inter_supv)
        return 1.0;
    return (double)(t + 1) / T + (t == T - 1 ? 1.0 : 0.0);
}

/* Head of column t on c3 = c_3^t: logits (K, n). */
static void head_forward(sim_ctx *ctx, trev_model *m, int t, const real *c3, real *logits,
                         trev_step *rec)
{
    const int C3 = m->cfg.channels[3], K = m->cfg.classes, HW = m->R[3] * m->R[3];
    if (t == m->cfg.T - 1) {
        spike_site(m, m->hs, c3, (size_t)C3 * M_of(m, 3), rec);
        gap_forward(m->hg, m->hs, C3 * m->n, HW);
        conv2d_forward(ctx, m->hh, m->hg, WHAT(m->fh1), P(m->pt.ws[m->fh1].b), m->conv_scr,
                       &m->head_s);
        leaky_relu_forward(m->ha, m->hh, (size_t)K * m->n, (real)m->cfg.leaky_slope);
        conv2d_forward(ctx, logits, m->ha, WHAT(m->fh2), P(m->pt.ws[m->fh2].b), m->conv_scr,
                       &m->fh2_s);
    } else {
        int h = m->head[t];
        gap_forward(m->hg, c3, C3 * m->n, HW);
        conv2d_forward(ctx, logits, m->hg, WHAT(h), P(m->pt.ws[h].b), m->conv_scr, &m->head_s);
    }
}

/* The stem (stem.c) on the model's buffers. */
static void run_stem(sim_ctx *ctx, trev_model *m, const real *images)
{
    stem_forward(ctx, m->x, m->a1, m->a2, images, &m->pt, m->stem1, m->stem2,
                 (real)m->cfg.leaky_slope, m->conv_scr, &m->stem1_s, &m->stem2_s);
}

/* ============================== backward =============================== */

/* Gradients of level l of column t given g(c_l^t) = gc; accumulates into
 * g_cin (g of c_{l-1}^t, or of x), g_cup (g of c_{l+1}^{t-1}), g_cprev (g of
 * c_l^{t-1}) and the parameter gradients. B holds the level's internals. */
static void level_backward(sim_ctx *ctx, trev_model *m, int t, int l, const level_buf *B,
                           const real *cin, const real *cup, const real *cprev, const real *gc,
                           real *g_cin, real *g_cup, real *g_cprev)
{
    const level_ref *L = &m->lev[t * TREV_LEVELS + l];
    const level_shapes *S = &m->ls[l];
    const int *Ch = m->cfg.channels;
    const int C = Ch[l];
    const size_t M = M_of(m, l), CM = (size_t)C * M;
    real *scr = m->conv_scr;

    if (cprev) /* c = F + alpha * cprev */
        scale_add_backward(NULL, G(L->alpha), g_cprev, gc, P(L->alpha), cprev, C, M);
    real *gu = m->G0;
    memcpy(gu, gc, CM * sizeof *gu);
    for (int k = 1; k >= 0; k--) {
        const block_ref *R = &L->b[k];
        const block_buf *K = &B->b[k];
        const real *uin = k ? B->b[0].out : B->u0;
        const real *gd2 = gu;
        if (R->gamma != NONE) {
            scale_add_backward_set(G(R->gamma), m->G1, gu, P(R->gamma), K->d2, C, M);
            gd2 = m->G1;
        }
        conv2d_backward_set(ctx, m->G2, G(R->dw2.w), G(R->dw2.b), gd2, K->p2, P(R->dw2.w), scr,
                            &S->dw);
        if (K->s1b && spike_pw_fused(4 * C, C)) { /* the input gradient through the window */
            conv2d_backward_bits_set(ctx, NULL, GWHAT(R->pw2), G(m->pt.ws[R->pw2].b), m->G2,
                                     K->s1b, K->ones, WHAT(R->pw2), scr, m->G4b, &S->pw2);
            spike_pwT_window(m->G4b, WHAT(R->pw2), m->G2, K->w1b, 4 * C, C, M);
        } else if (K->s1b) { /* G4b: the bits expanded, when PW2 takes the dense path */
            conv2d_backward_bits_set(ctx, m->G4a, GWHAT(R->pw2), G(m->pt.ws[R->pw2].b), m->G2,
                                     K->s1b, K->ones, WHAT(R->pw2), scr, m->G4b, &S->pw2);
            spike_backward_bits_set(m->G4b, m->G4a, K->w1b, 4 * C, M);
        } else {
            conv2d_backward_set(ctx, m->G4a, GWHAT(R->pw2), G(m->pt.ws[R->pw2].b), m->G2, K->s1,
                                WHAT(R->pw2), scr, &S->pw2);
            spike_backward_set(m->G4b, m->G4a, K->p1, 4 * CM);
        }
        conv2d_backward_set(ctx, m->G1, GWHAT(R->pw1), G(m->pt.ws[R->pw1].b), m->G4b, K->d1,
                            WHAT(R->pw1), scr, &S->pw1);
        conv2d_backward_set(ctx, m->G2, G(R->dw1.w), G(R->dw1.b), m->G1, K->h, P(R->dw1.w), scr,
                            &S->dw);
        spike_backward(gu, m->G2, uin, CM); /* gu: residual + block path = g(uin) */
    }
    if (l == 0) {
        add_into(g_cin, gu, CM);
    } else {
        const size_t nin = (size_t)Ch[l - 1] * M_of(m, l - 1);
        bn_backward_set(ctx, m->G1, G(L->down.bw), G(L->down.bb), gu, B->dpre, B->dstat,
                        B->dstat + C, P(L->down.bw), C, (int)M);
        conv2d_backward_set(ctx, m->Gs, G(L->down.w), NULL, m->G1, B->sdown, P(L->down.w), scr,
                            &S->down);
        spike_backward(g_cin, m->Gs, cin, nin);
    }
    if (cup) {
        const size_t Mu = M_of(m, l + 1), nin = (size_t)Ch[l + 1] * Mu;
        const real *gbn = gu;
        if (l < 2) {
            upsample2x_backward_set(m->Gt, gu, C * m->n, m->R[l + 1], m->R[l + 1]);
            gbn = m->Gt;
        }
        bn_backward_set(ctx, m->G1, G(L->up.bw), G(L->up.bb), gbn, B->upre, B->ustat,
                        B->ustat + C, P(L->up.bw), C, (int)Mu);
        conv2d_backward_set(ctx, m->Gs, G(L->up.w), NULL, m->G1, B->sup, P(L->up.w), scr,
                            &S->up);
        spike_backward(g_cup, m->Gs, cup, nin);
    }
}

/* Head t backward from d(loss)/d(logits) = gl; recomputes the head's
 * internals from c3 and accumulates into g_c3. */
static void head_backward(sim_ctx *ctx, trev_model *m, int t, const real *c3, const real *gl,
                          real *g_c3)
{
    const int C3 = m->cfg.channels[3], K = m->cfg.classes, HW = m->R[3] * m->R[3];
    const size_t Kn = (size_t)K * m->n, C3n = (size_t)C3 * m->n;
    real *scr = m->conv_scr;
    head_forward(ctx, m, t, c3, m->tmp1, NULL);
    zero(m->hgg, C3n);
    if (t == m->cfg.T - 1) {
        zero(m->hga, Kn);
        conv2d_backward(ctx, m->hga, GWHAT(m->fh2), G(m->pt.ws[m->fh2].b), gl, m->ha, WHAT(m->fh2),
                        scr, &m->fh2_s);
        zero(m->hgh, Kn);
        leaky_relu_backward(m->hgh, m->hga, m->hh, Kn, (real)m->cfg.leaky_slope);
        conv2d_backward(ctx, m->hgg, GWHAT(m->fh1), G(m->pt.ws[m->fh1].b), m->hgh, m->hg,
                        WHAT(m->fh1), scr, &m->head_s);
        const size_t n3 = (size_t)C3 * M_of(m, 3);
        zero(m->Gs, n3);
        gap_backward(m->Gs, m->hgg, (int)C3n, HW);
        spike_backward(g_c3, m->Gs, c3, n3);
    } else {
        int h = m->head[t];
        conv2d_backward(ctx, m->hgg, GWHAT(h), G(m->pt.ws[h].b), gl, m->hg, WHAT(h), scr,
                        &m->head_s);
        gap_backward(g_c3, m->hgg, (int)C3n, HW);
    }
}

/* c_prev = (c - F) / alpha per channel (model.md §3). */
static void rebuild_state(real *cprev, const real *c, const real *F, const real *alpha, int C,
                          size_t M)
{
#pragma omp parallel for schedule(static) if ((size_t)C * M >= ELEMENTWISE_PAR_MIN)
    for (int ch = 0; ch < C; ch++) {
        const real a = alpha[ch];
        const size_t o = (size_t)ch * M;
        for (size_t i = 0; i < M; i++)
            cprev[o + i] = (c[o + i] - F[o + i]) / a;
    }
}

static level_buf *colbuf(trev_model *m, int t, int l)
{
    return &m->buf[(m->mode == TREV_PLAIN ? t : 0) * TREV_LEVELS + l];
}

/* Training-mode forward of all columns and heads with the loss into res
 * (this slice's share of the batch mean: its CE means times share);
 * running BN statistics updated when update_bn; every state copied into chk
 * (rev-mode diagnostics) when chk is not NULL. */
static void train_forward(sim_ctx *ctx, trev_model *m, const real *images, const int *labels,
                          double share, int update_bn, trev_step *res, real *chk,
                          size_t chk_off[TREV_MAXT][TREV_LEVELS])
{
    const trev_config *cf = &m->cfg;
    const int n = m->n;
    const size_t Kn = (size_t)cf->classes * n;
    m->kink_hash = m->kink_pos = 0;
    run_stem(ctx, m, images);
    for (int t = 0; t < cf->T; t++) {
        for (int l = 0; l < TREV_LEVELS; l++) {
            const real *cin = l ? m->stp[t][l - 1] : m->x;
            const real *cup = t > 0 && l < 3 ? m->stp[t - 1][l + 1] : NULL;
            const real *cprev = t > 0 ? m->stp[t - 1][l] : NULL;
            level_forward(ctx, m, t, l, colbuf(m, t, l), cin, cup, cprev, m->stp[t][l], 1,
                          update_bn, res);
            if (chk)
                memcpy(chk + chk_off[t][l], m->stp[t][l],
                       (size_t)cf->channels[l] * M_of(m, l) * sizeof *chk);
        }
        int slot = head_slot(m, t);
        if (slot >= 0) {
            real *lg = m->logits + (size_t)slot * Kn;
            head_forward(ctx, m, t, m->stp[t][3], lg, res);
            double ce = share * ce_forward(m->hprob, lg, labels, cf->classes, n,
                                           (real)cf->label_smoothing);
            res->head_loss[slot] = ce;
            res->loss += head_weight(m, t) * ce;
        }
    }
}

/* Rev-mode diagnostics: the offsets of every state in one copy of them
 * all, and its length. */
static size_t chk_layout(const trev_model *m, size_t off[TREV_MAXT][TREV_LEVELS])
{
    size_t all = 0;
    for (int t = 0; t < m->cfg.T; t++)
        for (int l = 0; l < TREV_LEVELS; l++) {
            off[t][l] = all;
            all += (size_t)m->cfg.channels[l] * M_of(m, l);
        }
    return all;
}

/* The training step of one slice (the batch set by use_batch), after the
 * checks, the alpha clamp and the standardization: the loss is the slice's
 * share of the batch mean, and the gradients and standardized-weight
 * gradients are added to m's. chk: NULL, or room for chk_layout. */
static void train_one(sim_ctx *ctx, trev_model *m, const real *images, const int *labels,
                      double share, int update_bn, trev_step *res, real *chk)
{
    const trev_config *cf = &m->cfg;
    const int n = m->n, T = cf->T, K = cf->classes, *Ch = cf->channels;
    const size_t Kn = (size_t)K * n;
    const int rev = m->mode == TREV_REV;
    memset(res, 0, sizeof *res);
    res->nheads = cf->inter_supv ? T : 1;
    res->logits = m->logits;
    size_t chk_off[TREV_MAXT][TREV_LEVELS];
    if (chk)
        chk_layout(m, chk_off);
    train_forward(ctx, m, images, labels, share, update_bn, res, chk, chk_off);

    /* ---- backward: columns T-1..0, levels 3..0 ---- */
    zero(m->gx, (size_t)Ch[0] * M_of(m, 0));
    for (int l = 0; l < TREV_LEVELS; l++)
        zero(m->gst[(T - 1) % 2][l], (size_t)Ch[l] * M_of(m, l));
    for (int t = T - 1; t >= 0; t--) {
        real **gcur = m->gst[t % 2], **gprev = m->gst[(t + 1) % 2];
        if (t > 0)
            for (int l = 0; l < TREV_LEVELS; l++)
                zero(gprev[l], (size_t)Ch[l] * M_of(m, l));
        int slot = head_slot(m, t);
        if (slot >= 0) {
            const real *lg = m->logits + (size_t)slot * Kn;
            ce_forward(m->hprob, lg, labels, K, n, (real)cf->label_smoothing);
            zero(m->hgl, Kn);
            ce_backward(m->hgl, m->hprob, labels, K, n, (real)cf->label_smoothing,
                        (real)(head_weight(m, t) * share));
            head_backward(ctx, m, t, m->stp[t][3], m->hgl, gcur[3]);
        }
        for (int l = TREV_LEVELS - 1; l >= 0; l--) {
            const real *cin = l ? m->stp[t][l - 1] : m->x;
            const real *cup = t > 0 && l < 3 ? m->stp[t - 1][l + 1] : NULL;
            real *cprev = t > 0 ? m->stp[t - 1][l] : NULL;
            level_buf *B = colbuf(m, t, l);
            if (rev) {
                /* recompute F_l^t (the levels share one buffer, so only the
                 * last level of the last column still holds its internals
                 * from the forward); rebuild c_l^{t-1} from c_l^t */
                if (t < T - 1 || l < TREV_LEVELS - 1)
                    level_forward(ctx, m, t, l, B, cin, cup, NULL, NULL, 1, 0, NULL);
                if (cprev) {
                    const size_t M = M_of(m, l);
                    rebuild_state(cprev, m->stp[t][l], B->b[1].out,
                                  P(m->lev[t * TREV_LEVELS + l].alpha), Ch[l], M);
                    if (chk) {
                        const real *ref = chk + chk_off[t - 1][l];
                        for (size_t i = 0; i < (size_t)Ch[l] * M; i++) {
                            double e = fabs((double)cprev[i] - (double)ref[i]);
                            if (e > res->max_rebuild_err)
                                res->max_rebuild_err = e;
                        }
                    }
                }
            }
            level_backward(ctx, m, t, l, B, cin, cup, cprev, gcur[l], l ? gcur[l - 1] : m->gx,
                           cup ? gprev[l + 1] : NULL, cprev ? gprev[l] : NULL);
        }
    }
    stem_backward(ctx, &m->pt, m->ga1, m->ga2, m->gx, images, m->a1, m->a2, m->stem1, m->stem2,
                  (real)cf->leaky_slope, m->conv_scr, &m->stem1_s, &m->stem2_s);
}

/* ============================= batch split ============================= */

/* The work of one slice: replica q, slice r at images off..off+cnt, which
 * are in img. */
typedef void (*slice_fn)(sim_ctx *ctx, trev_model *q, int r, int off, int cnt, const real *img,
                         void *arg);

/* Slices a call of n images runs in (1: m alone, on all its threads). */
static int slices_of(const trev_model *m, int n) { return n < m->sp.nrep ? n : m->sp.nrep; }

/* Size every replica's plan for its slice of n (R slices). */
static sim_status use_slices(sim_ctx *ctx, trev_model *m, int n, int R)
{
    sim_status st = modelstep_check_batch(ctx, m->sp.capacity, n);
    if (R == 1 && st == SIM_OK)
        return use_batch(ctx, m, n);
    for (int r = 0; r < R && st == SIM_OK; r++) {
        int cnt, off;
        modelstep_slice(n, R, r, &cnt, &off);
        st = use_batch(ctx, m->rep[r], cnt);
    }
    return st;
}

typedef struct {
    trev_model *m;
    slice_fn fn;
    void *arg;
} slice_call;

static void call_slice(sim_ctx *ctx, int r, int off, int cnt, const real *img, void *arg)
{
    slice_call *c = arg;
    c->fn(ctx, c->m->rep[r], r, off, cnt, img, c->arg);
}

/* fn on R slices of the n images at once, replica r on thread r
 * (modelstep_run_slices). */
static sim_status run_slices(sim_ctx *ctx, trev_model *m, const real *images, int n, int R,
                             slice_fn fn, void *arg)
{
    slice_call c = {m, fn, arg};
    return modelstep_run_slices(ctx, &m->sp, images, m->cfg.in_channels,
                                (size_t)m->cfg.input_size * m->cfg.input_size, n, R,
                                call_slice, &c);
}

/* The slices' logits (nheads, K, cnt) into out (nheads, K, n). */
static void gather_logits(const trev_model *m, int n, int R, int nheads, real *out)
{
    const real *src[TREV_MAXREP];
    for (int r = 0; r < R; r++)
        src[r] = m->rep[r]->logits;
    modelstep_gather(out, src, n, R, nheads * m->cfg.classes);
}

/* m's gradients (and standardized-weight gradients) += the other replicas'. */
static void sum_grads(sim_ctx *ctx, trev_model *m, int R)
{
    paramtab *others[TREV_MAXREP];
    for (int r = 1; r < R; r++)
        others[r - 1] = &m->rep[r]->pt;
    paramtab_sum_grads(ctx, &m->pt, others, R - 1);
}

typedef struct {
    const real *images;
    const int *labels;
    int n;
    trev_step rr[TREV_MAXREP];
    real *chk[TREV_MAXREP]; /* rev-mode diagnostics, or NULL */
} slice_job;

static void train_slice(sim_ctx *ctx, trev_model *q, int r, int off, int cnt, const real *img,
                        void *arg)
{
    slice_job *j = arg;
    if (r)
        paramtab_clear_grads(&q->pt);
    train_one(ctx, q, img, j->labels + off, (double)cnt / j->n, r == 0, &j->rr[r], j->chk[r]);
}

sim_status trev_train_step(sim_ctx *ctx, trev_model *m, const real *images, const int *labels,
                           int n, trev_step *res, int check_rebuild)
{
    if (m->var)
        return m->var->train_step(ctx, m->impl, images, labels, n, res);
    const int R = slices_of(m, n);
    sim_status st = use_slices(ctx, m, n, R);
    if (st == SIM_OK)
        st = modelstep_check_train(ctx, m->pt.g, labels, n, m->cfg.classes);
    if (st != SIM_OK)
        return st;
    slice_job j = {.images = images, .labels = labels, .n = n};
    if (m->mode == TREV_REV && check_rebuild) /* a copy of every forward state */
        for (int r = 0; r < R; r++) {
            size_t off[TREV_MAXT][TREV_LEVELS];
            j.chk[r] = mem_calloc(ctx, MEM_SCRATCH, chk_layout(m->rep[r], off), sizeof(real));
            if (!j.chk[r])
                st = SIM_ENOMEM;
        }
    if (st == SIM_OK) {
        clamp_alpha(m);
        paramtab_standardize(&m->pt, ctx->threads);
        zero(m->pt.gstd, m->pt.nstd);
        if (R == 1) {
            train_one(ctx, m, images, labels, 1.0, 1, res, j.chk[0]);
        } else {
            st = run_slices(ctx, m, images, n, R, train_slice, &j);
            if (st == SIM_OK) {
                modelstep_merge_steps(res, j.rr, R);
                gather_logits(m, n, R, res->nheads, m->sp.gathered);
                res->logits = m->sp.gathered;
                sum_grads(ctx, m, R);
            }
        }
        m->sp.last = R > 1;
        if (st == SIM_OK)
            paramtab_standardize_backward(&m->pt, ctx->threads);
    }
    for (int r = 0; r < R; r++)
        mem_free(ctx, j.chk[r]);
    return st;
}

void trev_set_relaxed_spikes(trev_model *m, int on)
{
    /* relaxed spikes are not binary: the plan keeps PW1's output as reals
     * (level_carve), so a plan made the other way cannot be used */
    if (m->prepared && !m->relaxed != !on) {
        for (int r = 0; r < m->sp.nrep; r++)
            m->rep[r]->prepared = 0;
        m->sp.capacity = 0;
    }
    if (m->var)
        m->var->set_relaxed(m->impl, on);
    for (int r = 0; r < m->sp.nrep; r++)
        m->rep[r]->relaxed = on;
    m->relaxed = on;
}

uint64_t trev_kink_signature(const trev_model *m)
{
    if (m->var)
        return m->var->kink_signature(m->impl);
    uint64_t h = m->kink_hash; /* a split call: every slice's, summed */
    for (int r = 1; m->sp.last && r < m->sp.nrep; r++)
        h += m->rep[r]->kink_hash * (uint64_t)(2 * r + 1);
    return h;
}

void *trev_variant_impl(const trev_model *m) { return m->impl; }

static void loss_slice(sim_ctx *ctx, trev_model *q, int r, int off, int cnt, const real *img,
                       void *arg)
{
    slice_job *j = arg;
    memset(&j->rr[r], 0, sizeof j->rr[r]);
    train_forward(ctx, q, img, j->labels + off, (double)cnt / j->n, 0, &j->rr[r], NULL, NULL);
}

sim_status trev_forward_loss(sim_ctx *ctx, trev_model *m, const real *images, const int *labels,
                             int n, double *loss)
{
    if (m->var)
        return m->var->forward_loss(ctx, m->impl, images, labels, n, loss);
    const int R = slices_of(m, n);
    sim_status st = use_slices(ctx, m, n, R);
    if (st == SIM_OK)
        st = modelstep_check_labels(ctx, labels, n, m->cfg.classes);
    if (st != SIM_OK)
        return st;
    clamp_alpha(m);
    paramtab_standardize(&m->pt, ctx->threads);
    slice_job j = {.images = images, .labels = labels, .n = n};
    if (R == 1) {
        memset(&j.rr[0], 0, sizeof j.rr[0]);
        train_forward(ctx, m, images, labels, 1.0, 0, &j.rr[0], NULL, NULL);
    } else {
        st = run_slices(ctx, m, images, n, R, loss_slice, &j);
    }
    m->sp.last = R > 1;
    *loss = 0;
    for (int r = 0; r < R; r++)
        *loss += j.rr[r].loss;
    return st;
}

const real *trev_state(const trev_model *m, int t, int l)
{
    if (m->var || !m->prepared || m->sp.last || t < 0 || t >= m->cfg.T || l < 0 ||
        l >= TREV_LEVELS)
        return NULL;
    if (m->mode == TREV_REV && t != m->cfg.T - 1)
        return NULL;
    return m->stp[t][l];
}

const real *trev_stem_output(const trev_model *m)
{
    if (m->var)
        return m->var->stem_output(m->impl);
    return m->prepared && !m->sp.last ? m->x : NULL;
}

sim_status trev_infer(sim_ctx *ctx, trev_model *m, const real *images, int n, real *logits)
{
    return trev_infer_rec(ctx, m, images, n, logits, NULL);
}

/* The inference forward of one slice (the batch set by use_batch), after
 * the alpha clamp and the standardization. */
static void infer_one(sim_ctx *ctx, trev_model *m, const real *images, real *logits,
                      trev_step *rec)
{
    const int T = m->cfg.T;
    const size_t Kn = (size_t)m->cfg.classes * m->n;
    if (rec)
        memset(rec, 0, sizeof *rec);
    run_stem(ctx, m, images);
    /* two alternating state sets suffice: st[t % 2] (plain mode has T sets) */
    for (int t = 0; t < T; t++) {
        for (int l = 0; l < TREV_LEVELS; l++) {
            real *c = m->stp[m->mode == TREV_PLAIN ? t : t % 2][l];
            const real *cin = l ? m->stp[m->mode == TREV_PLAIN ? t : t % 2][l - 1] : m->x;
            const real *cup =
                t > 0 && l < 3 ? m->stp[m->mode == TREV_PLAIN ? t - 1 : (t - 1) % 2][l + 1] : NULL;
            const real *cprev =
                t > 0 ? m->stp[m->mode == TREV_PLAIN ? t - 1 : (t - 1) % 2][l] : NULL;
            level_forward(ctx, m, t, l, colbuf(m, T - 1, l), cin, cup, cprev, c, 0, 0, rec);
        }
        int slot = head_slot(m, t);
        if (slot >= 0)
            head_forward(ctx, m, t, m->stp[m->mode == TREV_PLAIN ? t : t % 2][3],
                         logits + (size_t)slot * Kn, rec);
    }
}

static void infer_slice(sim_ctx *ctx, trev_model *q, int r, int off, int cnt, const real *img,
                        void *arg)
{
    slice_job *j = arg;
    (void)off, (void)cnt;
    infer_one(ctx, q, img, q->logits, &j->rr[r]);
}

sim_status trev_infer_rec(sim_ctx *ctx, trev_model *m, const real *images, int n, real *logits,
                          trev_step *rec)
{
    if (m->var)
        return m->var->infer_rec(ctx, m->impl, images, n, logits, rec);
    const int R = slices_of(m, n);
    sim_status st = use_slices(ctx, m, n, R);
    if (st != SIM_OK)
        return st;
    clamp_alpha(m);
    paramtab_standardize(&m->pt, ctx->threads);
    m->sp.last = R > 1;
    if (R == 1) {
        infer_one(ctx, m, images, logits, rec);
        return SIM_OK;
    }
    slice_job j = {.images = images, .n = n};
    st = run_slices(ctx, m, images, n, R, infer_slice, &j);
    if (st != SIM_OK)
        return st;
    gather_logits(m, n, R, m->cfg.inter_supv ? m->cfg.T : 1, logits);
    if (rec) {
        modelstep_merge_steps(rec, j.rr, R);
        rec->loss = 0;
    }
    return SIM_OK;
}

double trev_macs_per_image(const trev_model *m)
{
    if (m->var)
        return m->var->macs_per_image(m->impl);
    const trev_config *c = &m->cfg;
    const int *C = c->channels, k = c->kernel;
    double R2[TREV_LEVELS];
    for (int l = 0; l < TREV_LEVELS; l++)
        R2[l] = (double)m->R[l] * m->R[l];
    double macs = stem_macs_per_image(c);
    for (int t = 0; t < c->T; t++)
        for (int l = 0; l < TREV_LEVELS; l++) {
            if (l > 0)
                macs += (double)C[l] * C[l - 1] * (l == 3 ? 1 : 9) * R2[l];
            if (t > 0 && l < 3)
                macs += (double)C[l] * C[l + 1] * R2[l + 1];
            /* two blocks: dw1, pw1, pw2, dw2 */
            macs += 2 * ((double)C[l] * k * k * R2[l] * 2 + 2.0 * 4 * C[l] * C[l] * R2[l]);
        }
    const int K = c->classes;
    macs += (double)(c->inter_supv ? c->T - 1 : 0) * K * C[3] + (double)K * C[3] + (double)K * K;
    return macs;
}
