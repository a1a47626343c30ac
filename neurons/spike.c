/* spike.c - the spike function Theta of turn-off neurons (model.md §1):
 * binary spikes at v >= 0.5, trained with the clipped straight-through
 * estimator (the derivative of clamp(v, 0, 1)). */
#include "spike.h"

#include "topology/elementwise.h" /* ELEMENTWISE_PAR_MIN */

#ifdef __AVX512F__
#include <immintrin.h>
#endif

size_t spike_forward(real *out /* (n) */, const real *v /* (n) */, size_t n)
{
    size_t count = 0;
#pragma omp parallel for schedule(static) reduction(+ : count) if (n >= ELEMENTWISE_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        int s = v[i] >= SPIKE_THRESHOLD; /* NaN does not fire */
        count += (size_t)s;
        out[i] = (real)s;
    }
    return count;
}

size_t spike_forward_bias(real *out, real *v, const real *bias, int C, size_t M)
{
    size_t count = 0;
#pragma omp parallel for schedule(static) reduction(+ : count)                                   \
    if ((size_t)C * M >= ELEMENTWISE_PAR_MIN)
    for (int c = 0; c < C; c++) {
        const real b = bias[c];
        real *x = v + (size_t)c * M, *o = out + (size_t)c * M;
        size_t k = 0;
        for (size_t i = 0; i < M; i++) {
            const real y = x[i] + b;
            const int s = y >= SPIKE_THRESHOLD; /* NaN does not fire */
            k += (size_t)s;
            x[i] = y;
            o[i] = (real)s;
        }
        count += k;
    }
    return count;
}

/* ---- bitmaps ---- */

/* Lanes of one vector and the mask of its first k (k may exceed the lanes). */
#ifdef __AVX512F__
#if REAL_IS_DOUBLE
#define BV_LANES 8
typedef __mmask8 bv_mask;
#define BV_LOADZ _mm512_maskz_loadu_pd
#define BV_SET1 _mm512_set1_pd
#define BV_ADD _mm512_add_pd
#define BV_CMP _mm512_mask_cmp_pd_mask
#define BV_MOVZ _mm512_maskz_mov_pd
#define BV_STORE _mm512_mask_storeu_pd
#define BV_FMADD _mm512_fmadd_pd
typedef __m512d bv_vec;
#else
#define BV_LANES 16
typedef __mmask16 bv_mask;
#define BV_LOADZ _mm512_maskz_loadu_ps
#define BV_SET1 _mm512_set1_ps
#define BV_ADD _mm512_add_ps
#define BV_CMP _mm512_mask_cmp_ps_mask
#define BV_MOVZ _mm512_maskz_mov_ps
#define BV_STORE _mm512_mask_storeu_ps
#define BV_FMADD _mm512_fmadd_ps
typedef __m512 bv_vec;
#endif
static inline bv_mask first_lanes(size_t k)
{
    return k >= BV_LANES ? (bv_mask)~0u : (bv_mask)((1u << k) - 1);
}
#endif

/* The spike and window bits of y = v + b for n <= 64 values. */
static inline void chunk_bits(const real *v, real b, size_t n, uint64_t *s, uint64_t *w)
{
    uint64_t sb = 0, wb = 0;
    size_t j = 0;
#ifdef __AVX512F__
    const bv_vec bv = BV_SET1(b), half = BV_SET1(SPIKE_THRESHOLD), lo = BV_SET1(SPIKE_CLIP_LO),
                 hi = BV_SET1(SPIKE_CLIP_HI);
    for (; j < n; j += BV_LANES) {
        const bv_mask k = first_lanes(n - j);
        const bv_vec y = BV_ADD(BV_LOADZ(k, v + j), bv);
        sb |= (uint64_t)BV_CMP(k, y, half, _CMP_GE_OQ) << j; /* NaN: neither */
        wb |= (uint64_t)BV_CMP(BV_CMP(k, y, lo, _CMP_GE_OQ), y, hi, _CMP_LE_OQ) << j;
    }
#endif
    for (; j < n; j++) {
        const real y = v[j] + b;
        sb |= (uint64_t)(y >= SPIKE_THRESHOLD) << j;
        wb |= (uint64_t)(y >= SPIKE_CLIP_LO && y <= SPIKE_CLIP_HI) << j;
    }
    *s = sb;
    *w = wb;
}

size_t spike_bits_bias(uint64_t *s, uint64_t *w, const real *v, const real *bias, int C, size_t M)
{
    const size_t ld = spike_words(M);
    size_t count = 0;
#pragma omp parallel for schedule(static) reduction(+ : count)                                   \
    if ((size_t)C * M >= ELEMENTWISE_PAR_MIN)
    for (int c = 0; c < C; c++) {
        const real *x = v + (size_t)c * M;
        uint64_t *sr = s + (size_t)c * ld, *wr = w + (size_t)c * ld;
        size_t k = 0;
        for (size_t q = 0; q < ld; q++) {
            const size_t o = q * 64;
            chunk_bits(x + o, bias[c], M - o < 64 ? M - o : 64, sr + q, wr + q);
            k += (size_t)__builtin_popcountll(sr[q]);
        }
        count += k;
    }
    return count;
}

/* out = src (ones when src is NULL) where the bit is set, else 0. Inlined
 * with src a constant NULL or not, so the loop keeps no test of it. */
static inline __attribute__((always_inline)) void select_bits(real *out, const real *src,
                                                              const uint64_t *bits, int C,
                                                              size_t M)
{
    const size_t ld = spike_words(M);
#pragma omp parallel for schedule(static) if ((size_t)C * M >= ELEMENTWISE_PAR_MIN)
    for (int c = 0; c < C; c++) {
        const real *g = src ? src + (size_t)c * M : NULL;
        real *d = out + (size_t)c * M;
        const uint64_t *br = bits + (size_t)c * ld;
        for (size_t i = 0; i < M;) {
            const uint64_t word = br[i / 64];
#ifdef __AVX512F__
            if (M - i >= BV_LANES) {
                const bv_mask k = (bv_mask)(word >> (i % 64));
                const bv_mask all = first_lanes(BV_LANES);
                BV_STORE(d + i, all, BV_MOVZ(k, g ? BV_LOADZ(all, g + i) : BV_SET1(1)));
                i += BV_LANES;
                continue;
            }
#endif
            d[i] = (word >> (i % 64)) & 1 ? (g ? g[i] : (real)1) : (real)0;
            i++;
        }
    }
}

void spike_backward_bits_set(real *dv, const real *ds, const uint64_t *w, int C, size_t M)
{
    select_bits(dv, ds, w, C, M);
}

void spike_bits_expand(real *out, const uint64_t *s, int C, size_t M)
{
    select_bits(out, NULL, s, C, M);
}

static void backward(real *dv, const real *ds, const real *v, size_t n, int add)
{
#pragma omp parallel for schedule(static) if (n >= ELEMENTWISE_PAR_MIN)
    for (size_t i = 0; i < n; i++) { /* branch-free so it vectorizes */
        real x = v[i];
        real g = (x >= SPIKE_CLIP_LO && x <= SPIKE_CLIP_HI) ? ds[i] : (real)0;
        dv[i] = add ? dv[i] + g : g;
    }
}

void spike_backward(real *dv /* (n) */, const real *ds /* (n) */, const real *v /* (n) */, size_t n)
{
    backward(dv, ds, v, n, 1);
}

void spike_backward_set(real *dv /* (n) */, const real *ds /* (n) */, const real *v /* (n) */,
                        size_t n)
{
    backward(dv, ds, v, n, 0);
}

size_t spike_forward_relaxed(real *out /* (n) */, const real *v /* (n) */, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        real x = v[i];
        count += x >= SPIKE_THRESHOLD;
        out[i] = x < SPIKE_CLIP_LO ? SPIKE_CLIP_LO : x > SPIKE_CLIP_HI ? SPIKE_CLIP_HI : x;
    }
    return count;
}

/* ---- 1x1 convs fused with a spike site ---- */

#ifdef __AVX512F__
/* A register block: FB_ROWS output rows by 64 positions. */
#define FB_ROWS (BV_LANES == 16 ? 4 : 2)
#define FB_VECS (64 / BV_LANES)

/* acc = bias (or 0) + W X for rows o0.. of W and the positions p0.. (lane
 * masks lm) of X (K, P); W's row o, column k is W[o * ldo + k * ldk]. The
 * k-sum runs in order, one FMA per term. */
static inline __attribute__((always_inline)) void
pw_block(bv_vec acc[FB_ROWS][FB_VECS], const real *W, size_t ldo, size_t ldk, const real *X,
         size_t P, size_t p0, const bv_mask *lm, int o0, int K, const real *bias)
{
    for (int r = 0; r < FB_ROWS; r++)
        for (int v = 0; v < FB_VECS; v++)
            acc[r][v] = BV_SET1(bias ? bias[o0 + r] : (real)0);
    for (int k = 0; k < K; k++) {
        const real *x = X + (size_t)k * P + p0;
        bv_vec xv[FB_VECS];
        for (int v = 0; v < FB_VECS; v++)
            xv[v] = BV_LOADZ(lm[v], x + v * BV_LANES);
        for (int r = 0; r < FB_ROWS; r++) {
            const bv_vec wv = BV_SET1(W[(size_t)(o0 + r) * ldo + (size_t)k * ldk]);
            for (int v = 0; v < FB_VECS; v++)
                acc[r][v] = BV_FMADD(wv, xv[v], acc[r][v]);
        }
    }
}

static inline void block_masks(bv_mask lm[FB_VECS], size_t n)
{
    for (int v = 0; v < FB_VECS; v++)
        lm[v] = first_lanes(n > (size_t)v * BV_LANES ? n - (size_t)v * BV_LANES : 0);
}
#endif

int spike_pw_fused(int M, int K)
{
#ifdef __AVX512F__
    return M % FB_ROWS == 0 && K >= 1 && K <= SPIKE_PW_KMAX;
#else
    (void)M, (void)K;
    return 0;
#endif
}

/* Below this many multiply-adds a fused kernel stays on the calling thread. */
#define FUSED_PAR_MIN ((size_t)1 << 22)

size_t spike_pw_bits(uint64_t *s, uint64_t *w, const real *W, const real *X, const real *bias,
                     int M, int K, size_t P)
{
    const size_t ld = spike_words(P);
    size_t count = 0;
#ifdef __AVX512F__
    const bv_vec half = BV_SET1(SPIKE_THRESHOLD), lo = BV_SET1(SPIKE_CLIP_LO),
                 hi = BV_SET1(SPIKE_CLIP_HI);
#pragma omp parallel for schedule(static) reduction(+ : count)                                   \
    if ((size_t)M * K * P >= FUSED_PAR_MIN)
    for (size_t q = 0; q < ld; q++) {
        const size_t p0 = q * 64;
        bv_mask lm[FB_VECS];
        block_masks(lm, P - p0 < 64 ? P - p0 : 64);
        for (int o0 = 0; o0 < M; o0 += FB_ROWS) {
            bv_vec acc[FB_ROWS][FB_VECS];
            pw_block(acc, W, (size_t)K, 1, X, P, p0, lm, o0, K, bias);
            for (int r = 0; r < FB_ROWS; r++) {
                uint64_t sb = 0, wb = 0;
                for (int v = 0; v < FB_VECS; v++) {
                    const bv_vec y = acc[r][v];
                    sb |= (uint64_t)BV_CMP(lm[v], y, half, _CMP_GE_OQ) << (v * BV_LANES);
                    wb |= (uint64_t)BV_CMP(BV_CMP(lm[v], y, lo, _CMP_GE_OQ), y, hi, _CMP_LE_OQ)
                          << (v * BV_LANES);
                }
                s[(size_t)(o0 + r) * ld + q] = sb;
                w[(size_t)(o0 + r) * ld + q] = wb;
                count += (size_t)__builtin_popcountll(sb);
            }
        }
    }
#else
    for (int o = 0; o < M; o++) /* reference loops (spike_pw_fused says 0 here) */
        for (size_t q = 0; q < ld; q++) {
            uint64_t sb = 0, wb = 0;
            for (size_t j = 0; j < 64 && q * 64 + j < P; j++) {
                real y = bias ? bias[o] : 0;
                for (int k = 0; k < K; k++)
                    y += W[(size_t)o * K + k] * X[(size_t)k * P + q * 64 + j];
                sb |= (uint64_t)(y >= SPIKE_THRESHOLD) << j;
                wb |= (uint64_t)(y >= SPIKE_CLIP_LO && y <= SPIKE_CLIP_HI) << j;
            }
            s[(size_t)o * ld + q] = sb;
            w[(size_t)o * ld + q] = wb;
            count += (size_t)__builtin_popcountll(sb);
        }
#endif
    return count;
}

void spike_pwT_window(real *out, const real *W, const real *X, const uint64_t *win, int M, int K,
                      size_t P)
{
    const size_t ld = spike_words(P);
#ifdef __AVX512F__
#pragma omp parallel for schedule(static) if ((size_t)M * K * P >= FUSED_PAR_MIN)
    for (size_t q = 0; q < ld; q++) {
        const size_t p0 = q * 64;
        bv_mask lm[FB_VECS];
        block_masks(lm, P - p0 < 64 ? P - p0 : 64);
        for (int o0 = 0; o0 < M; o0 += FB_ROWS) {
            bv_vec acc[FB_ROWS][FB_VECS];
            pw_block(acc, W, 1, (size_t)M, X, P, p0, lm, o0, K, NULL);
            for (int r = 0; r < FB_ROWS; r++) {
                const uint64_t wb = win[(size_t)(o0 + r) * ld + q];
                real *o = out + (size_t)(o0 + r) * P + p0;
                for (int v = 0; v < FB_VECS; v++)
                    BV_STORE(o + v * BV_LANES, lm[v],
                             BV_MOVZ((bv_mask)(wb >> (v * BV_LANES)), acc[r][v]));
            }
        }
    }
#else
    for (int o = 0; o < M; o++)
        for (size_t p = 0; p < P; p++) {
            real y = 0;
            for (int k = 0; k < K; k++)
                y += W[(size_t)k * M + o] * X[(size_t)k * P + p];
            out[(size_t)o * P + p] = (win[(size_t)o * ld + p / 64] >> (p % 64)) & 1 ? y : 0;
        }
#endif
}
