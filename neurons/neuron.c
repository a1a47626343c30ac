/* neuron.c - populations: validation, one-block allocation, the four neuron
 * models' updates over position-major (H, W, C) arrays, and the history of
 * emitted spike lists and graded outputs.
 *
 * An update is one vectorizable pass over the neurons in storage order that
 * marks the neurons that fire (a bit each, in one 64-bit word per channel
 * and 64 positions) and counts them per channel; the spike list is then
 * written in ascending public id c*HW + p by walking the set bits of each
 * channel that fired, so its cost follows the spikes, not the neurons. The
 * same spikes are also kept as per-position channel masks, the form the
 * conv and depthwise maps gather dense packets from. */
#include "neuron.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

/* One update rule per model (STYLE.md item 3). Reads and clears p->input,
 * updates p->state, writes graded values to g (may be NULL) and counts their
 * nonzeros into *nnz, sets the bit of every neuron that fires in fired[]
 * (zeroed by the caller; bit q%64 of word (q/64)*C + c for position q and
 * channel c) and counts them per channel into p->chan_count; returns the
 * spike count. No data-dependent store, so the loops vectorize. The vector
 * tiles also write the per-position channel masks (see population.masks);
 * the plain loops leave them to pop_update. */
typedef int32_t (*update_fn)(population *p, const real *bias /* (C) */,
                             const real *alpha /* (C) or NULL */, real *g /* (H, W, C) */,
                             uint64_t *fired /* (ceil(HW/64), C) */,
                             uint64_t *masks /* (HW, ceil(C/64)) */, int32_t *nnz);

/* Appends base + i for every set bit i of x, ascending, at out[m]; returns
 * the new m. With AVX-512, 16 bits at a time: the ids of the set lanes are
 * compressed to the front of a vector and stored under a mask (the
 * register form: the memory form of vpcompressd is slow on some cores). */
static int32_t emit_word(int32_t *out, int32_t m, uint64_t x, int32_t base)
{
#if defined(__AVX512F__)
    const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    for (int j = 0; x; j += 16, x >>= 16) {
        const __mmask16 mk = (__mmask16)(x & 0xFFFF);
        if (!mk)
            continue;
        const int cnt = __builtin_popcount((unsigned)mk);
        const __m512i ids = _mm512_add_epi32(iota, _mm512_set1_epi32(base + j));
        _mm512_mask_storeu_epi32(out + m, (__mmask16)((1u << cnt) - 1),
                                 _mm512_maskz_compress_epi32(mk, ids));
        m += cnt;
    }
#else
    for (; x; x &= x - 1)
        out[m++] = base + __builtin_ctzll(x);
#endif
    return m;
}

/* Words of the fired bit map of C channels over HW positions. */
static size_t fired_words(int C, int HW)
{
    return (size_t)C * (size_t)((HW + 63) / 64);
}

/* Spikes of an update: the sum of its per-channel counts. */
static int32_t total_count(const int32_t *cnt, int C)
{
    int32_t k = 0;
    for (int c = 0; c < C; c++)
        k += cnt[c];
    return k;
}

#if defined(__AVX512F__)
/* The spiking models' updates with AVX-512, for C a multiple of the vector
 * length: tiles of 64 positions by NV vectors of channels, whose fired bits
 * and spike counts stay in registers across the 64 positions and are
 * stored once per tile (the plain loops below load and store a fired word
 * per neuron). The values are computed with the same expressions, in the
 * same order, as the plain loops. */

static inline real_vec uload(const real *x)
{
    return *(const real_vec *)x;
}
static inline void ustore(real *x, real_vec v)
{
    *(real_vec *)x = v;
}
static inline unsigned ucmp_ge(real_vec v, real_vec th)
{
#if REAL_IS_DOUBLE
    return _mm512_cmp_pd_mask((__m512d)v, (__m512d)th, _CMP_GE_OQ);
#else
    return _mm512_cmp_ps_mask((__m512)v, (__m512)th, _CMP_GE_OQ);
#endif
}
static inline unsigned ucmp_ne0(real_vec v)
{
#if REAL_IS_DOUBLE
    return _mm512_cmp_pd_mask((__m512d)v, _mm512_setzero_pd(), _CMP_NEQ_UQ);
#else
    return _mm512_cmp_ps_mask((__m512)v, _mm512_setzero_ps(), _CMP_NEQ_UQ);
#endif
}

/* v with the lanes whose bit is set in k replaced by 0 */
static inline real_vec uzero_where(real_vec v, unsigned k)
{
#if REAL_IS_DOUBLE
    return (real_vec)_mm512_mask_mov_pd((__m512d)v, (__mmask8)k, _mm512_setzero_pd());
#else
    return (real_vec)_mm512_mask_mov_ps((__m512)v, (__mmask16)k, _mm512_setzero_ps());
#endif
}

enum { UM_TURN_OFF, UM_TURN_ON, UM_LIF };

static inline __attribute__((always_inline)) int32_t
update_tiles(population *p, const real *bias, const real *alpha, real *g, uint64_t *fired,
             uint64_t *masks, int32_t *nnz, const int model, const int NV)
{
    /* the masks as pieces of REAL_VLEN bits, one per vector of channels
     * (the words are little-endian: piece i holds bits i*REAL_VLEN..) */
#if REAL_IS_DOUBLE
    typedef uint8_t piece;
#else
    typedef uint16_t piece;
#endif
    piece *mp = (piece *)masks;
    const int ppq = p->mask_words * (64 / REAL_VLEN); /* pieces per position */
    const int C = p->C, HW = p->HW, CB = NV * REAL_VLEN;
    const real_vec th = (real_vec){0} + p->threshold, zero = (real_vec){0};
    int32_t nz = 0;
    for (int q0 = 0; q0 < HW; q0 += 64) {
        const int q1 = HW - q0 < 64 ? HW : q0 + 64;
        for (int c0 = 0; c0 < C; c0 += CB) {
            /* fired words of the tile's channels: REAL_VLEN per vector, 8 per
             * __m512i; spike counts: REAL_VLEN int32 lanes per vector */
            __m512i fw[4][2], cn[4];
            for (int j = 0; j < NV; j++)
                fw[j][0] = fw[j][1] = cn[j] = _mm512_setzero_si512();
            for (int q = q0; q < q1; q++) {
                const __m512i bit = _mm512_set1_epi64((long long)((uint64_t)1 << (q - q0)));
                real *in = p->input + (size_t)q * C + c0;
                real *st = p->state ? p->state + (size_t)q * C + c0 : NULL;
                real *gq = g ? g + (size_t)q * C + c0 : NULL;
                for (int j = 0; j < NV; j++) {
                    const int o = j * REAL_VLEN;
                    real_vec v;
                    if (model == UM_TURN_OFF)
                        v = uload(in + o) + uload(bias + c0 + o);
                    else if (model == UM_TURN_ON)
                        v = uload(in + o) + uload(bias + c0 + o) +
                            uload(alpha + c0 + o) * uload(st + o);
                    else
                        v = uload(alpha + c0 + o) * uload(st + o) + uload(in + o) +
                            uload(bias + c0 + o);
                    ustore(in + o, zero);
                    if (gq) {
                        ustore(gq + o, v);
                        nz += __builtin_popcount(ucmp_ne0(v));
                    }
                    const unsigned k = ucmp_ge(v, th);
                    mp[(size_t)q * ppq + (c0 + o) / REAL_VLEN] = (piece)k;
                    if (model == UM_TURN_ON)
                        ustore(st + o, v);
                    else if (model == UM_LIF) /* hard reset */
                        ustore(st + o, uzero_where(v, k));
                    fw[j][0] = _mm512_mask_or_epi64(fw[j][0], (__mmask8)k, fw[j][0], bit);
                    if (REAL_VLEN == 16)
                        fw[j][1] =
                            _mm512_mask_or_epi64(fw[j][1], (__mmask8)(k >> 8), fw[j][1], bit);
                    cn[j] = _mm512_mask_add_epi32(cn[j], (__mmask16)k, cn[j],
                                                  _mm512_set1_epi32(1));
                }
            }
            uint64_t *f = fired + (size_t)(q0 >> 6) * C + c0;
            int32_t *cnt = p->chan_count + c0;
            for (int j = 0; j < NV; j++) {
                _mm512_storeu_si512((void *)(f + j * REAL_VLEN), fw[j][0]);
                if (REAL_VLEN == 16)
                    _mm512_storeu_si512((void *)(f + j * REAL_VLEN + 8), fw[j][1]);
                int32_t *cj = cnt + j * REAL_VLEN;
                if (REAL_VLEN == 16) {
                    const __m512i old = _mm512_loadu_si512((void *)cj);
                    _mm512_storeu_si512((void *)cj, _mm512_add_epi32(old, cn[j]));
                } else {
                    const __m256i old = _mm256_loadu_si256((__m256i *)cj);
                    _mm256_storeu_si256((__m256i *)cj,
                                        _mm256_add_epi32(old, _mm512_castsi512_si256(cn[j])));
                }
            }
        }
    }
    *nnz = nz;
    return total_count(p->chan_count, C);
}

/* 1 when a spiking model's update runs in vector tiles (C a multiple of
 * the vector length): they write every fired word and the masks whole. */
static int update_tiled(const population *p)
{
    return p->C % REAL_VLEN == 0;
}

/* update_tiles for the model with the widest tile that divides C; -1 when
 * the update is not tiled. */
static inline __attribute__((always_inline)) int32_t
update_vec(population *p, const real *bias, const real *alpha, real *g, uint64_t *fired,
           uint64_t *masks, int32_t *nnz, const int model)
{
    const int C = p->C;
    if (!update_tiled(p))
        return -1;
    if (C % (4 * REAL_VLEN) == 0)
        return update_tiles(p, bias, alpha, g, fired, masks, nnz, model, 4);
    if (C % (2 * REAL_VLEN) == 0)
        return update_tiles(p, bias, alpha, g, fired, masks, nnz, model, 2);
    return update_tiles(p, bias, alpha, g, fired, masks, nnz, model, 1);
}
#define UPDATE_VEC(model)                                                                          \
    do {                                                                                           \
        const int32_t k_ = update_vec(p, bias, alpha, g, fired, masks, nnz, model);                \
        if (k_ >= 0)                                                                               \
            return k_;                                                                             \
    } while (0)
#else
#define UPDATE_VEC(model) ((void)masks)
static int update_tiled(const population *p)
{
    (void)p;
    return 0;
}
#endif

static int32_t update_turn_off(population *p, const real *bias, const real *alpha, real *g,
                               uint64_t *fired, uint64_t *masks, int32_t *nnz)
{
    UPDATE_VEC(UM_TURN_OFF);
    (void)alpha;
    const int C = p->C, HW = p->HW;
    const real th = p->threshold;
    int32_t *restrict cnt = p->chan_count;
    int32_t nz = 0;
    for (int q = 0; q < HW; q++) {
        real *restrict in = p->input + (size_t)q * C;
        real *restrict gq = g ? g + (size_t)q * C : NULL;
        uint64_t *restrict f = fired + (size_t)(q >> 6) * C;
        const int sh = q & 63;
        for (int c = 0; c < C; c++) {
            real v = in[c] + bias[c];
            in[c] = 0;
            if (gq) {
                gq[c] = v;
                nz += v != 0;
            }
            f[c] |= (uint64_t)(v >= th) << sh;
            cnt[c] += v >= th;
        }
    }
    *nnz = nz;
    return total_count(cnt, C);
}

static int32_t update_turn_on(population *p, const real *bias, const real *alpha, real *g,
                              uint64_t *fired, uint64_t *masks, int32_t *nnz)
{
    UPDATE_VEC(UM_TURN_ON);
    const int C = p->C, HW = p->HW;
    const real th = p->threshold;
    int32_t *restrict cnt = p->chan_count;
    int32_t nz = 0;
    for (int q = 0; q < HW; q++) {
        real *restrict in = p->input + (size_t)q * C;
        real *restrict s = p->state + (size_t)q * C;
        real *restrict gq = g ? g + (size_t)q * C : NULL;
        uint64_t *restrict f = fired + (size_t)(q >> 6) * C;
        const int sh = q & 63;
        for (int c = 0; c < C; c++) {
            real v = in[c] + bias[c] + alpha[c] * s[c];
            in[c] = 0;
            s[c] = v;
            if (gq) {
                gq[c] = v;
                nz += v != 0;
            }
            f[c] |= (uint64_t)(v >= th) << sh;
            cnt[c] += v >= th;
        }
    }
    *nnz = nz;
    return total_count(cnt, C);
}

static int32_t update_lif(population *p, const real *bias, const real *alpha, real *g,
                          uint64_t *fired, uint64_t *masks, int32_t *nnz)
{
    UPDATE_VEC(UM_LIF);
    const int C = p->C, HW = p->HW;
    const real th = p->threshold;
    int32_t *restrict cnt = p->chan_count;
    int32_t nz = 0;
    for (int q = 0; q < HW; q++) {
        real *restrict in = p->input + (size_t)q * C;
        real *restrict s = p->state + (size_t)q * C;
        real *restrict gq = g ? g + (size_t)q * C : NULL;
        uint64_t *restrict f = fired + (size_t)(q >> 6) * C;
        const int sh = q & 63;
        for (int c = 0; c < C; c++) {
            real v = alpha[c] * s[c] + in[c] + bias[c];
            in[c] = 0;
            if (gq) {
                gq[c] = v;
                nz += v != 0;
            }
            int fi = v >= th;
            s[c] = fi ? 0 : v; /* hard reset */
            f[c] |= (uint64_t)fi << sh;
            cnt[c] += fi;
        }
    }
    *nnz = nz;
    return total_count(cnt, C);
}

static int32_t update_relay(population *p, const real *bias, const real *alpha, real *g,
                            uint64_t *fired, uint64_t *masks, int32_t *nnz)
{
    (void)alpha;
    (void)fired;
    (void)masks;
    const int C = p->C, HW = p->HW;
    int32_t nz = 0;
    for (int q = 0; q < HW; q++) {
        real *restrict in = p->input + (size_t)q * C;
        real *restrict gq = g ? g + (size_t)q * C : NULL;
        for (int c = 0; c < C; c++) {
            real v = in[c] + bias[c];
            in[c] = 0;
            if (gq) {
                gq[c] = v;
                nz += v != 0;
            }
        }
    }
    *nnz = nz;
    return 0;
}

static const struct {
    const char *name;
    update_fn update;
    int has_state, has_alpha, spikes;
} models[NEURON_NMODELS] = {
    [NEURON_TURN_OFF] = {"turn-off", update_turn_off, 0, 0, 1},
    [NEURON_TURN_ON] = {"turn-on", update_turn_on, 1, 1, 1},
    [NEURON_LIF] = {"lif", update_lif, 1, 1, 1},
    [NEURON_RELAY] = {"relay", update_relay, 0, 0, 0},
};

const char *neuron_model_name(neuron_model m)
{
    return (unsigned)m < NEURON_NMODELS ? models[m].name : "?";
}

pop_spec pop_spec_make(const char *name, neuron_model model, int C, int H, int W, int rank)
{
    pop_spec s = {.name = name,
                  .model = model,
                  .C = C,
                  .H = H,
                  .W = W,
                  .rank = rank,
                  .threshold = NEURON_THRESHOLD,
                  .nsets = 1,
                  .tau = NEURON_TAU};
    return s;
}

void neuron_to_public(real *out, const real *in, int C, int HW)
{
    for (int q = 0; q < HW; q++)
        for (int c = 0; c < C; c++)
            out[(size_t)c * HW + q] = in[(size_t)q * C + c];
}

void neuron_from_public(real *out, const real *in, int C, int HW)
{
    for (int q = 0; q < HW; q++)
        for (int c = 0; c < C; c++)
            out[(size_t)q * C + c] = in[(size_t)c * HW + q];
}

/* index of the first non-finite element of x[0..n), or -1 */
static long first_nonfinite(const real *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite((double)x[i]))
            return (long)i;
    return -1;
}

static int spec_nsets(const pop_spec *s)
{
    return s->nsets < 1 ? 1 : s->nsets;
}

sim_status pop_check(sim_ctx *ctx, const pop_spec *s, int index)
{
    if (!s->name || !s->name[0])
        return ctx_error(ctx, SIM_EINVAL, "population %d: a name is required", index);
    size_t len = strnlen(s->name, NEURON_NAME_MAX);
    if (len >= NEURON_NAME_MAX)
        return ctx_error(ctx, SIM_ERANGE, "population %d (\"%.20s...\"): name longer than %d bytes",
                         index, s->name, NEURON_NAME_MAX - 1);
    const char *nm = s->name;
    if ((unsigned)s->model >= NEURON_NMODELS)
        return ctx_error(ctx, SIM_EINVAL, "population %d (\"%s\"): unknown neuron model %d", index,
                         nm, (int)s->model);
    if (s->C < 1 || s->H < 1 || s->W < 1)
        return ctx_error(ctx, SIM_ESHAPE,
                         "population %d (\"%s\"): shape (%d, %d, %d) must be positive", index, nm,
                         s->C, s->H, s->W);
    int64_t n = (int64_t)s->C * s->H * s->W; /* each < 2^31: no int64 overflow */
    if (n > INT32_MAX)
        return ctx_error(ctx, SIM_ERANGE,
                         "population %d (\"%s\"): %lld neurons, at most %d supported", index, nm,
                         (long long)n, INT32_MAX);
    if (s->rank < 0)
        return ctx_error(ctx, SIM_EINVAL, "population %d (\"%s\"): rank %d must be >= 0", index, nm,
                         s->rank);
    if (s->nsets < 0)
        return ctx_error(ctx, SIM_EINVAL,
                         "population %d (\"%s\"): %d parameter sets, expected >= 1", index, nm,
                         s->nsets);
    if (!isfinite((double)s->threshold))
        return ctx_error(ctx, SIM_ENUMERIC, "population %d (\"%s\"): threshold is %g", index, nm,
                         (double)s->threshold);
    size_t npar = (size_t)spec_nsets(s) * (size_t)s->C; /* both < 2^31: fits in 64 bits */
    long bad;
    if (s->bias && (bad = first_nonfinite(s->bias, npar)) >= 0)
        return ctx_error(ctx, SIM_ENUMERIC, "population %d (\"%s\"): bias[%ld] is %g", index, nm,
                         bad, (double)s->bias[bad]);
    if (models[s->model].has_alpha) {
        const char *what = s->model == NEURON_LIF ? "decay" : "alpha";
        if (s->alpha && (bad = first_nonfinite(s->alpha, npar)) >= 0)
            return ctx_error(ctx, SIM_ENUMERIC, "population %d (\"%s\"): %s[%ld] is %g", index, nm,
                             what, bad, (double)s->alpha[bad]);
        if (s->model == NEURON_LIF && !s->alpha && !(s->tau >= 1 && isfinite((double)s->tau)))
            return ctx_error(ctx, SIM_EINVAL,
                             "population %d (\"%s\"): LIF time constant tau %g must be >= 1 "
                             "(decay = 1 - 1/tau), or give a decay per channel",
                             index, nm, (double)s->tau);
    }
    return SIM_OK;
}

/* Reserve n elements of `size` bytes at a SIM_ALIGN boundary after *total;
 * *off receives the offset. 1 on overflow. */
static int plan(size_t *total, size_t *off, size_t n, size_t size)
{
    size_t bytes, start;
    if (size_mul(n, size, &bytes) || size_add(*total, SIM_ALIGN - 1, &start))
        return 1;
    start = start / SIM_ALIGN * SIM_ALIGN;
    *off = start;
    return size_add(start, bytes, total);
}

sim_status pop_init(sim_ctx *ctx, population *p, const pop_spec *s, int depth, int keep_graded)
{
    assert(depth >= 1);
    memset(p, 0, sizeof *p);
    const int spikes = models[s->model].spikes;
    const size_t n = (size_t)s->C * s->H * s->W, ns = (size_t)spec_nsets(s);
    const size_t D = (size_t)depth, npar = ns * (size_t)s->C;
    size_t total = 0, o_bias = 0, o_alpha = 0, o_state = 0, o_input = 0, o_spk = 0, o_nspk = 0,
           o_g = 0, o_nnz = 0, o_slot = 0, o_cnt = 0, o_scr = 0, o_msk = 0, dn = 0, dmw = 0;
    int ovf = size_mul(D, n, &dn);
    ovf |= plan(&total, &o_bias, npar, sizeof(real));
    if (models[s->model].has_alpha)
        ovf |= plan(&total, &o_alpha, npar, sizeof(real));
    if (models[s->model].has_state)
        ovf |= plan(&total, &o_state, n, sizeof(real));
    ovf |= plan(&total, &o_input, n, sizeof(real));
    const size_t nmw = (size_t)(s->C + 63) / 64 * (size_t)s->H * (size_t)s->W;
    if (spikes) {
        ovf |= plan(&total, &o_spk, dn, sizeof(int32_t));
        ovf |= plan(&total, &o_scr, fired_words(s->C, s->H * s->W), sizeof(uint64_t));
        ovf |= size_mul(D, nmw, &dmw);
        ovf |= plan(&total, &o_msk, dmw, sizeof(uint64_t));
    }
    ovf |= plan(&total, &o_nspk, D, sizeof(int32_t));
    if (keep_graded)
        ovf |= plan(&total, &o_g, dn, sizeof(real));
    ovf |= plan(&total, &o_nnz, D, sizeof(int32_t));
    ovf |= plan(&total, &o_slot, D, sizeof(int64_t));
    ovf |= plan(&total, &o_cnt, (size_t)s->C, sizeof(int32_t));
    if (ovf)
        return ctx_error(ctx, SIM_ENOMEM,
                         "population \"%s\": %d history slots of %zu neurons overflow the "
                         "address space",
                         s->name, depth, n);
    unsigned char *block = mem_alloc(ctx, MEM_ENGINE, total);
    if (!block)
        return SIM_ENOMEM;

    snprintf(p->name, sizeof p->name, "%s", s->name);
    p->model = s->model;
    p->C = s->C, p->H = s->H, p->W = s->W, p->HW = s->H * s->W;
    p->n = (int32_t)n;
    p->rank = s->rank;
    p->threshold = s->threshold;
    p->nsets = (int)ns;
    p->depth = depth;
    p->block = block;
    p->bias = (real *)(block + o_bias);
    if (s->bias)
        memcpy(p->bias, s->bias, npar * sizeof(real));
    if (models[s->model].has_alpha) {
        p->alpha = (real *)(block + o_alpha);
        real def = s->model == NEURON_LIF ? (real)(1 - 1 / (double)s->tau) : NEURON_ALPHA;
        for (size_t i = 0; i < npar; i++)
            p->alpha[i] = s->alpha ? s->alpha[i] : def;
    }
    if (models[s->model].has_state)
        p->state = (real *)(block + o_state);
    p->input = (real *)(block + o_input);
    if (spikes) {
        p->spikes = (int32_t *)(block + o_spk);
        p->fired = (uint64_t *)(block + o_scr);
        p->masks = (uint64_t *)(block + o_msk);
        p->mask_words = (s->C + 63) / 64;
    }
    p->nspikes = (int32_t *)(block + o_nspk);
    if (keep_graded)
        p->graded = (real *)(block + o_g);
    p->nnz = (int32_t *)(block + o_nnz);
    p->slot_t = (int64_t *)(block + o_slot);
    p->chan_count = (int32_t *)(block + o_cnt);
    pop_reset(p);
    return SIM_OK;
}

void pop_free(sim_ctx *ctx, population *p)
{
    mem_free(ctx, p->block);
    memset(p, 0, sizeof *p);
}

void pop_reset(population *p)
{
    const size_t n = (size_t)p->n;
    if (p->state)
        memset(p->state, 0, n * sizeof(real));
    memset(p->input, 0, n * sizeof(real));
    if (p->graded)
        memset(p->graded, 0, (size_t)p->depth * n * sizeof(real));
    for (int i = 0; i < p->depth; i++) {
        p->nspikes[i] = 0;
        p->nnz[i] = 0;
        p->slot_t[i] = -1;
    }
    p->last_t = -1;
    p->spikes_step = 0;
}

void pop_reset_counters(population *p)
{
    p->spikes_step = p->spikes_total = p->updates = 0;
}

void pop_update(population *p, int64_t t)
{
    assert(t >= 0 && t > p->last_t);
    const int C = p->C;
    const int set = t < p->nsets ? (int)t : p->nsets - 1;
    const size_t slot = (size_t)(t % p->depth);
    const real *bias = p->bias + (size_t)set * C;
    const real *alpha = p->alpha ? p->alpha + (size_t)set * C : NULL;
    real *g = p->graded ? p->graded + slot * (size_t)p->n : NULL;
    int32_t *out = p->spikes ? p->spikes + slot * (size_t)p->n : NULL;
    memset(p->chan_count, 0, (size_t)C * sizeof *p->chan_count);
    uint64_t *masks =
        p->masks ? p->masks + slot * (size_t)p->HW * (size_t)p->mask_words : NULL;
    const size_t mask_bytes = (size_t)p->HW * p->mask_words * sizeof *masks;
    const int tiled = p->fired && update_tiled(p);
    if (p->fired && !tiled) /* the plain loops OR into the fired words */
        memset(p->fired, 0, fired_words(C, p->HW) * sizeof *p->fired);
    if (masks && (!tiled || C % 64)) /* built from the list below, or the
                                      * tiles leave the bits past C alone */
        memset(masks, 0, mask_bytes);
    int32_t nnz = 0;
    int32_t k = models[p->model].update(p, bias, alpha, g, p->fired, masks, &nnz);
    if (k > 0) {
        /* public order, ascending c*HW + q: the set bits of each channel
         * that fired, word by word */
        const int HW = p->HW, nw = (HW + 63) / 64;
        const uint64_t *f = p->fired;
        int32_t m = 0;
        for (int c = 0; c < C && m < k; c++) {
            if (!p->chan_count[c])
                continue;
            for (int w = 0; w < nw; w++)
                m = emit_word(out, m, f[(size_t)w * C + c], c * HW + 64 * w);
        }
        assert(m == k);
    }
    if (masks && !tiled) { /* the plain loops: from the list */
        const int HW = p->HW, nw = p->mask_words;
        for (int32_t i = 0; i < k; i++) {
            const int c = out[i] / HW, q = out[i] % HW;
            masks[(size_t)q * nw + (c >> 6)] |= (uint64_t)1 << (c & 63);
        }
    }
    p->nspikes[slot] = k;
    p->nnz[slot] = nnz;
    p->slot_t[slot] = t;
    p->last_t = t;
    p->spikes_step = (uint64_t)k;
    p->spikes_total += (uint64_t)k;
    p->updates++;
}

sim_status pop_inject_ids(sim_ctx *ctx, population *p, const int32_t *ids, int32_t n,
                          real amplitude)
{
    for (int32_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= p->n)
            return ctx_error(ctx, SIM_ERANGE,
                             "population \"%s\": injected neuron id %d (entry %d) is outside "
                             "0..%d",
                             p->name, ids[i], i, p->n - 1);
    for (int32_t i = 0; i < n; i++)
        p->input[neuron_index_of(p->C, p->HW, ids[i])] += amplitude;
    return SIM_OK;
}

void pop_inject_values(population *p, const real *values)
{
    const int C = p->C, HW = p->HW;
    for (int q = 0; q < HW; q++)
        for (int c = 0; c < C; c++)
            p->input[(size_t)q * C + c] += values[(size_t)c * HW + q];
}

const int32_t *pop_spikes_at(const population *p, int64_t t, int32_t *n)
{
    size_t slot = (size_t)(t % p->depth);
    assert(t >= 0 && p->slot_t[slot] == t);
    *n = p->nspikes[slot];
    return p->spikes ? p->spikes + slot * (size_t)p->n : NULL;
}

const uint64_t *pop_masks_at(const population *p, int64_t t)
{
    size_t slot = (size_t)(t % p->depth);
    assert(t >= 0 && p->slot_t[slot] == t);
    return p->masks ? p->masks + slot * (size_t)p->HW * (size_t)p->mask_words : NULL;
}

const int32_t *pop_spikes(const population *p, int32_t *n)
{
    if (p->last_t < 0) {
        *n = 0;
        return p->spikes;
    }
    return pop_spikes_at(p, p->last_t, n);
}

const real *pop_graded_at(const population *p, int64_t t, int32_t *nnz)
{
    size_t slot = (size_t)(t % p->depth);
    assert(t >= 0 && p->slot_t[slot] == t);
    if (nnz)
        *nnz = p->nnz[slot];
    return p->graded ? p->graded + slot * (size_t)p->n : NULL;
}
