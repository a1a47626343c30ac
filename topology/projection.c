/* projection.c - validation, weight transposition and the event-driven
 * fan-out (scatter) of every map, one pair of kernels (spikes, graded
 * values) per map in a table.
 *
 * The target buffer is position-major (Ho, Wo, Co), and weights are stored
 * with the output channel last, so the work of one event at one target
 * position is a contiguous vector add (spikes) or axpy (graded values)
 * over Co. Sparse packets are scattered event by event; dense ones are
 * gathered per target position (from the per-pixel channel masks a source
 * population hands over), which performs the same adds, counted the same
 * way, without a branch per event and with the target in registers.
 * Nothing here allocates after proj_init. */
#include "projection.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "sim/blas.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

/* y[0..n) += w[0..n) */
static inline void vec_add(real *restrict y, const real *restrict w, int n)
{
    for (int i = 0; i < n; i++)
        y[i] += w[i];
}

/* y[0..n) += a * w[0..n) */
static inline void vec_axpy(real *restrict y, real a, const real *restrict w, int n)
{
    for (int i = 0; i < n; i++)
        y[i] += a * w[i];
}

/* Valid kernel offsets along one axis for source coordinate y: the target
 * coordinate is oy = (y + pad - ky) / stride, which must be a whole number
 * in [0, Ho). They are ky = *ky0 + i*stride with oy = *oy0 - i for
 * i < the returned count. A few divisions per axis instead of one per tap;
 * none for stride 1. */
static int axis_taps(int y, int pad, int k, int s, int Ho, int *ky0, int *oy0)
{
    const int ry = y + pad; /* oy * s = ry - ky */
    const int kmax = ry < k - 1 ? ry : k - 1;
    int kmin = ry - (Ho - 1) * s; /* oy <= Ho - 1 */
    if (kmin < 0)
        kmin = 0;
    if (s == 1) {
        *ky0 = kmin, *oy0 = ry - kmin;
        return kmax >= kmin ? kmax - kmin + 1 : 0;
    }
    kmin += (ry - kmin) % s; /* first ky >= kmin with ry - ky divisible by s */
    if (kmin > kmax)
        return 0;
    *ky0 = kmin, *oy0 = (ry - kmin) / s;
    return (kmax - kmin) / s + 1;
}

/* Valid taps of a k x k map for the source pixel (y, x): target positions
 * oy*Wo + ox into pos[] and kernel offsets ky*k + kx into tap[]; returns the
 * count. oy*stride + ky - pad = y, and the same along x. Run once per
 * source pixel at proj_init to fill the tap table. */
static int conv_taps(const projection *pr, int y, int x, int32_t *pos, int32_t *tap)
{
    const int k = pr->k, s = pr->stride;
    int ky0 = 0, oy0 = 0, kx0 = 0, ox0 = 0;
    const int ny = axis_taps(y, pr->pad, k, s, pr->Ho, &ky0, &oy0);
    const int nx = axis_taps(x, pr->pad, k, s, pr->Wo, &kx0, &ox0);
    int n = 0;
    for (int i = 0; i < ny; i++) {
        const int ky = ky0 + i * s, oy = oy0 - i;
        for (int j = 0; j < nx; j++) {
            pos[n] = oy * pr->Wo + ox0 - j;
            tap[n] = ky * k + kx0 + j * s;
            n++;
        }
    }
    return n;
}

/* The taps of source pixel q from the table built by proj_init. */
static inline int taps_of(const projection *pr, int q, const int32_t **pos, const int32_t **tap)
{
    const int32_t a = pr->tap_off[q];
    *pos = pr->tap_pos + a;
    *tap = pr->tap_k + a;
    return pr->tap_off[q + 1] - a;
}

/* Channel of public id `id` = c*HW + q, with *base = c*HW kept from the
 * previous id: spike lists are ascending, so the channel only moves
 * forward and the division is needed once per channel, not per spike. */
static inline int id_channel(int32_t id, int HW, int *c, int32_t *base)
{
    if (id < *base || id - *base >= HW) {
        *c = id / HW;
        *base = *c * HW;
    }
    return (int)(id - *base);
}

/* Calls BODY(args..., width) with the width as a compile-time constant for
 * the channel counts of the presets (so the vector loops over channels
 * unroll and the source vector stays in registers), else as a variable. */
#define BY_WIDTH(width, BODY, ...)                                                                 \
    do {                                                                                           \
        switch (width) {                                                                           \
        case 16:                                                                                   \
            BODY(__VA_ARGS__, 16);                                                                 \
            break;                                                                                 \
        case 32:                                                                                   \
            BODY(__VA_ARGS__, 32);                                                                 \
            break;                                                                                 \
        case 64:                                                                                   \
            BODY(__VA_ARGS__, 64);                                                                 \
            break;                                                                                 \
        case 128:                                                                                  \
            BODY(__VA_ARGS__, 128);                                                                \
            break;                                                                                 \
        default:                                                                                   \
            BODY(__VA_ARGS__, width);                                                              \
        }                                                                                          \
    } while (0)

/* 1 when a width of n values is whole 64-byte vectors, at most 8 of them:
 * few enough to keep as accumulators in registers. */
static inline int in_vectors(int n)
{
    return n % REAL_VLEN == 0 && n <= 8 * REAL_VLEN;
}

/* Nonzero values in v[0..n). */
static inline int count_nonzero(const real *v, int n)
{
    int nz = 0;
    for (int i = 0; i < n; i++)
        nz += v[i] != 0;
    return nz;
}

static void conv_graded(const projection *pr, real *dst, const real *w, const real *vals,
                        uint64_t *events, uint64_t *ops);
static void dw_graded(const projection *pr, real *dst, const real *w, const real *vals,
                      uint64_t *events, uint64_t *ops);

/* A spike packet (ascending public ids) as a 0/1 map of the source in its
 * storage layout (H, W, C), in pr->spike_map. */
static const real *spike_map_fill(const projection *pr, const int32_t *ids, int32_t n)
{
    const int HW = pr->H * pr->W, C = pr->Ci;
    real *map = pr->spike_map;
    int c = 0;
    int32_t base = 0;
    memset(map, 0, (size_t)pr->n_src * sizeof *map);
    for (int32_t i = 0; i < n; i++) {
        const int q = id_channel(ids[i], HW, &c, &base);
        map[(size_t)q * C + c] = 1;
    }
    return map;
}

/* ---- PROJ_CONV and PROJ_CONV1X1: weights (Ci, k, k, Co) ---- */

/* Each spike adds its channel's weight vector at every tap. */
static inline __attribute__((always_inline)) void
conv_spikes_scatter(const projection *pr, real *dst, const real *w, const int32_t *ids, int32_t n,
                    int HW, int kk, uint64_t *cnt, const int Co)
{
    int ci = 0;
    int32_t base = 0;
    if (pr->map == PROJ_CONV1X1) { /* one tap: the source pixel itself */
        for (int32_t i = 0; i < n; i++) {
            const int q = id_channel(ids[i], HW, &ci, &base);
            vec_add(dst + (size_t)q * Co, w + (size_t)ci * Co, Co);
        }
        *cnt += (uint64_t)n * (uint64_t)Co;
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        const int q = id_channel(ids[i], HW, &ci, &base);
        const int32_t *pos, *tap;
        const int nt = taps_of(pr, q, &pos, &tap);
        const real *wc = w + (size_t)ci * kk * Co;
        for (int j = 0; j < nt; j++)
            vec_add(dst + (size_t)pos[j] * Co, wc + (size_t)tap[j] * Co, Co);
        *cnt += (uint64_t)nt * (uint64_t)Co;
    }
}

/* The packet as per-pixel channel masks: `masks` when the caller has them
 * (the source population writes them in its update), else built from the
 * ids into pr->chan_mask. */
static const uint64_t *chan_masks(const projection *pr, const int32_t *ids, int32_t n,
                                  const uint64_t *masks)
{
    if (masks)
        return masks;
    const int HW = pr->H * pr->W, nw = pr->mask_words;
    uint64_t *mask = pr->chan_mask;
    int c = 0;
    int32_t base = 0;
    memset(mask, 0, (size_t)HW * nw * sizeof *mask);
    for (int32_t i = 0; i < n; i++) {
        const int q = id_channel(ids[i], HW, &c, &base);
        mask[(size_t)q * nw + (c >> 6)] |= (uint64_t)1 << (c & 63);
    }
    return mask;
}

/* y[0..NV*REAL_VLEN) += the sum of the rows w + off[j], j < n. Narrow
 * targets add into several partial sums so that the adds do not wait on
 * each other. Written with vector types: left to itself, the compiler
 * vectorizes across the rows (with gathers) instead of along them. */
static inline __attribute__((always_inline)) void
add_rows_v(real *y, const real *w, const int32_t *off, int n, const int NV)
{
    const int na = NV <= 2 ? 4 : NV <= 4 ? 2 : 1;
    real_vec a[4][8];
    for (int v = 0; v < NV; v++) {
        a[0][v] = *(const real_vec *)(y + v * REAL_VLEN);
        for (int u = 1; u < na; u++)
            a[u][v] = (real_vec){0};
    }
    int j = 0;
    for (; j + na <= n; j += na)
        for (int u = 0; u < na; u++)
            for (int v = 0; v < NV; v++)
                a[u][v] += *(const real_vec *)(w + off[j + u] + v * REAL_VLEN);
    for (; j < n; j++)
        for (int v = 0; v < NV; v++)
            a[0][v] += *(const real_vec *)(w + off[j] + v * REAL_VLEN);
    for (int v = 0; v < NV; v++) {
        const real_vec t = na == 4   ? (a[0][v] + a[1][v]) + (a[2][v] + a[3][v])
                        : na == 2 ? a[0][v] + a[1][v]
                                  : a[0][v];
        *(real_vec *)(y + v * REAL_VLEN) = t;
    }
}

/* y[0..Co) += the sum of the rows w + off[j], j < n. */
static inline __attribute__((always_inline)) void add_rows(real *restrict y, const real *w,
                                                           const int32_t *off, int n, const int Co)
{
    if (in_vectors(Co)) {
        add_rows_v(y, w, off, n, Co / REAL_VLEN);
        return;
    }
    for (int j = 0; j < n; j++)
        vec_add(y, w + off[j], Co);
}

/* Appends base + i*stride for every set bit i of x, ascending, at out[m]
 * (which has room for 16 more); returns the new m. With AVX-512 16 bits at
 * a time and without a branch per bit: the offsets of the set lanes are
 * compressed to the front of a vector (the register form of vpcompressd)
 * and the whole vector is stored. */
static inline int append_offsets(int32_t *out, int m, uint64_t x, int32_t base, int32_t stride,
                                 int bits)
{
#if defined(__AVX512F__)
    const __m512i lane = _mm512_mullo_epi32(
        _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
        _mm512_set1_epi32(stride));
    for (int j = 0; j < bits; j += 16, x >>= 16) {
        const __mmask16 mk = (__mmask16)(x & 0xFFFF);
        const __m512i offs = _mm512_add_epi32(lane, _mm512_set1_epi32(base + j * stride));
        _mm512_storeu_si512((void *)(out + m), _mm512_maskz_compress_epi32(mk, offs));
        m += __builtin_popcount((unsigned)mk);
    }
#else
    (void)bits;
    for (; x; x &= x - 1)
        out[m++] = base + __builtin_ctzll(x) * stride;
#endif
    return m;
}

#define GATHER_ROWS 256 /* weight rows collected before they are added */

/* Each target position adds, tap by tap, the weight vectors of the
 * channels that fired at the tap's source pixel: the same adds as the
 * scatter (one per spike and valid tap), but without a branch per spike
 * and with the target vector loaded and stored once per GATHER_ROWS adds
 * instead of once per add. The sums come in another order than the
 * scatter's. */
static inline __attribute__((always_inline)) void
conv_spikes_gather(const projection *pr, real *dst, const real *w, const uint64_t *mask,
                   uint64_t *cnt, const int Co)
{
    const int k = pr->k, s = pr->stride, p = pr->pad, H = pr->H, W = pr->W, kk = k * k;
    const int nw = pr->mask_words, Ci = pr->Ci;
    const int32_t cstride = kk * Co; /* weights (Ci, k, k, Co) */
    int32_t off[GATHER_ROWS + 64 + 16];
    uint64_t adds = 0;
    for (int oy = 0; oy < pr->Ho; oy++)
        for (int ox = 0; ox < pr->Wo; ox++) {
            real *restrict y = dst + ((size_t)oy * pr->Wo + ox) * Co;
            int nr = 0;
            for (int ky = 0; ky < k; ky++) {
                const int iy = oy * s + ky - p;
                if (iy < 0 || iy >= H)
                    continue;
                for (int kx = 0; kx < k; kx++) {
                    const int ix = ox * s + kx - p;
                    if (ix < 0 || ix >= W)
                        continue;
                    const uint64_t *mq = mask + ((size_t)iy * W + ix) * nw;
                    const int32_t t0 = (ky * k + kx) * Co;
                    for (int wi = 0; wi < nw; wi++) {
                        const int bits = Ci - 64 * wi < 64 ? Ci - 64 * wi : 64;
                        nr = append_offsets(off, nr, mq[wi], t0 + 64 * wi * cstride, cstride,
                                            bits);
                        if (nr >= GATHER_ROWS) {
                            add_rows(y, w, off, nr, Co);
                            adds += (uint64_t)nr;
                            nr = 0;
                        }
                    }
                }
            }
            add_rows(y, w, off, nr, Co);
            adds += (uint64_t)nr;
        }
    *cnt += adds * (uint64_t)Co;
}

static void conv_spikes(const projection *pr, real *dst, const real *w, const int32_t *ids,
                        int32_t n, const uint64_t *masks, uint64_t *ops)
{
    const int HW = pr->H * pr->W, Co = pr->Co, kk = pr->k * pr->k;
    uint64_t cnt = 0;
    if (pr->chan_mask && (int64_t)n * PROJ_GATHER_INV >= (int64_t)pr->Ho * pr->Wo) {
        const uint64_t *m = chan_masks(pr, ids, n, masks);
        BY_WIDTH(Co, conv_spikes_gather, pr, dst, w, m, &cnt);
    } else {
        BY_WIDTH(Co, conv_spikes_scatter, pr, dst, w, ids, n, HW, kk, &cnt);
    }
    *ops += cnt;
}

/* Graded values into a conv map. A 1x1 map whose input is mostly nonzero
 * (the real-valued middle of a block) is one GEMM, dst (HW, Co) +=
 * vals (HW, Ci) w (Ci, Co): the same sum, computed the way a CPU does it
 * fastest. The counters still count what the event semantics performs (one
 * MAC per nonzero value and weight), so they do not depend on the path. */
static void conv_graded(const projection *pr, real *dst, const real *w, const real *vals,
                        uint64_t *events, uint64_t *ops)
{
    const int Ci = pr->Ci, Co = pr->Co, kk = pr->k * pr->k, HW = pr->H * pr->W;
    if (pr->map == PROJ_CONV1X1) {
        const uint64_t nz = (uint64_t)count_nonzero(vals, HW * Ci);
        if (nz * PROJ_GEMM_DENSITY_INV >= (uint64_t)HW * (uint64_t)Ci) {
            /* one thread; blas_gemm_par cuts a wide product into column
             * pieces that OpenBLAS runs without re-packing the weights */
            blas_gemm_par(1, BLAS_N, BLAS_N, HW, Co, Ci, 1, vals, Ci, w, Co, 1, dst, Co);
            *events += nz;
            *ops += nz * (uint64_t)Co;
            return;
        }
    }
    uint64_t ev = 0, cnt = 0;
    for (int q = 0; q < HW; q++) {
        const real *v = vals + (size_t)q * Ci;
        const int32_t *pos, *tap;
        const int nt = taps_of(pr, q, &pos, &tap);
        for (int ci = 0; ci < Ci; ci++) {
            real g = v[ci];
            if (g == 0)
                continue;
            const real *wc = w + (size_t)ci * kk * Co;
            for (int j = 0; j < nt; j++)
                vec_axpy(dst + (size_t)pos[j] * Co, g, wc + (size_t)tap[j] * Co, Co);
            ev++;
            cnt += (uint64_t)nt * (uint64_t)Co;
        }
    }
    *events += ev;
    *ops += cnt;
}

/* ---- PROJ_DEPTHWISE: weights (k, k, C), channel last ---- */

/* 1 when the map is stride 1 with "same" padding (the model's depthwise
 * maps): the maps the gathers below take. */
static inline int dw_same(const projection *pr)
{
    return pr->stride == 1 && 2 * pr->pad == pr->k - 1;
}

#if defined(__AVX512F__)
/* y += w on the lanes whose bit is set in k. */
static inline real_vec mask_add(real_vec y, unsigned k, const real *w)
{
#if REAL_IS_DOUBLE
    return (real_vec)_mm512_mask_add_pd((__m512d)y, (__mmask8)k, (__m512d)y, _mm512_loadu_pd(w));
#else
    return (real_vec)_mm512_mask_add_ps((__m512)y, (__mmask16)k, (__m512)y, _mm512_loadu_ps(w));
#endif
}
#endif

/* A "same" depthwise map gathered per target pixel, the C = NV*REAL_VLEN
 * target values in registers across the k*k taps: each tap adds its source
 * pixel's values times the tap's weights (vals), or, for a spike packet
 * given as channel masks (masks, AVX-512 only), the tap's weights on the
 * lanes whose channel fired. Exactly one of vals and masks is given. Per
 * channel the adds come in the scatter's order (sources ascending), so the
 * sums are bit-identical to it. */
static inline __attribute__((always_inline)) void
dw_gather_vec(const projection *pr, real *dst, const real *w, const real *vals,
              const uint64_t *masks, const int NV)
{
    const int H = pr->H, W = pr->W, k = pr->k, p = pr->pad, C = NV * REAL_VLEN;
    const int nw = (C + 63) / 64;
    for (int oy = 0; oy < H; oy++)
        for (int ox = 0; ox < W; ox++) {
            real *y = dst + ((size_t)oy * W + ox) * C;
            real_vec a[8];
            for (int v = 0; v < NV; v++)
                a[v] = *(const real_vec *)(y + v * REAL_VLEN);
            for (int ky = 0; ky < k; ky++) {
                const int iy = oy + ky - p;
                if (iy < 0 || iy >= H)
                    continue;
                for (int kx = 0; kx < k; kx++) {
                    const int ix = ox + kx - p;
                    if (ix < 0 || ix >= W)
                        continue;
                    const size_t q = (size_t)iy * W + ix;
                    const real *wt = w + (size_t)(ky * k + kx) * C;
                    for (int v = 0; v < NV; v++) {
                        const int c0 = v * REAL_VLEN;
#if defined(__AVX512F__)
                        if (masks) {
                            const uint64_t *mq = masks + q * nw;
                            a[v] = mask_add(a[v],
                                            (unsigned)(mq[c0 >> 6] >> (c0 & 63)) &
                                                ((1u << REAL_VLEN) - 1),
                                            wt + c0);
                            continue;
                        }
#endif
                        a[v] += *(const real_vec *)(vals + q * C + c0) *
                                *(const real_vec *)(wt + c0);
                    }
                }
            }
            for (int v = 0; v < NV; v++)
                *(real_vec *)(y + v * REAL_VLEN) = a[v];
        }
    (void)nw;
    (void)masks;
}

#if defined(__AVX512F__)
/* A dense spike packet given as the source's channel masks into a "same"
 * map of C channels (in_vectors(C)): dw_gather_vec with the masks. ACs:
 * per source pixel, its spikes times its valid taps. */
static inline __attribute__((always_inline)) void
dw_spikes_masked(const projection *pr, real *dst, const real *w, const uint64_t *masks,
                 uint64_t *cnt, const int C)
{
    const int nw = (C + 63) / 64;
    uint64_t adds = 0;
    for (int q = 0; q < pr->H * pr->W; q++) {
        int ones = 0;
        for (int wi = 0; wi < nw; wi++)
            ones += __builtin_popcountll(masks[(size_t)q * nw + wi]);
        adds += (uint64_t)ones * (uint64_t)(pr->tap_off[q + 1] - pr->tap_off[q]);
    }
    dw_gather_vec(pr, dst, w, NULL, masks, C / REAL_VLEN);
    *cnt += adds;
}
#endif

static void dw_spikes(const projection *pr, real *dst, const real *w, const int32_t *ids, int32_t n,
                      const uint64_t *masks, uint64_t *ops)
{
    const int HW = pr->H * pr->W, C = pr->Co;
    uint64_t cnt = 0;
    int c = 0;
    int32_t base = 0;
#if defined(__AVX512F__)
    if (masks && (int64_t)n * PROJ_DW_DENSE_INV >= (int64_t)pr->n_src && dw_same(pr) &&
        in_vectors(C)) {
        BY_WIDTH(C, dw_spikes_masked, pr, dst, w, masks, &cnt);
        *ops += cnt;
        return;
    }
#else
    (void)masks;
#endif
    if (pr->spike_map && (int64_t)n * PROJ_DW_DENSE_INV >= (int64_t)pr->n_src) {
        /* many spikes: the graded path on a 0/1 map of the source adds
         * whole channel vectors per pixel and tap and counts one AC per
         * spike and tap (w * 1: the same sums as the scatter) */
        uint64_t ev = 0;
        dw_graded(pr, dst, w, spike_map_fill(pr, ids, n), &ev, ops);
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        const int q = id_channel(ids[i], HW, &c, &base);
        const int32_t *pos, *tap;
        const int nt = taps_of(pr, q, &pos, &tap);
        for (int j = 0; j < nt; j++)
            dst[(size_t)pos[j] * C + c] += w[(size_t)tap[j] * C + c];
        cnt += (uint64_t)nt;
    }
    *ops += cnt;
}

/* The model's depthwise maps (stride 1, "same" padding) gathered per
 * target pixel: dst[o] gets the products of its k*k sources added in the
 * order the scatter adds them (sources ascending), one after another from
 * its old value, so the sums are bit-identical to the scatter's; all-zero
 * sources add exactly 0. The target vector stays in registers across the
 * taps (dw_gather_vec), or in a stack array for other widths. */
#define DW_GATHER_CMAX 1024
static inline __attribute__((always_inline)) void
dw_graded_gather(const projection *pr, real *dst, const real *w, const real *vals, const int C)
{
    const int H = pr->H, W = pr->W, k = pr->k, p = pr->pad;
    if (in_vectors(C)) {
        dw_gather_vec(pr, dst, w, vals, NULL, C / REAL_VLEN);
        return;
    }
    real acc[DW_GATHER_CMAX];
    for (int oy = 0; oy < H; oy++)
        for (int ox = 0; ox < W; ox++) {
            real *restrict y = dst + ((size_t)oy * W + ox) * C;
            for (int c = 0; c < C; c++)
                acc[c] = y[c];
            for (int ky = 0; ky < k; ky++) {
                const int iy = oy + ky - p;
                if (iy < 0 || iy >= H)
                    continue;
                for (int kx = 0; kx < k; kx++) {
                    const int ix = ox + kx - p;
                    if (ix < 0 || ix >= W)
                        continue;
                    const real *restrict v = vals + ((size_t)iy * W + ix) * C;
                    const real *restrict wt = w + (size_t)(ky * k + kx) * C;
                    for (int c = 0; c < C; c++)
                        acc[c] += v[c] * wt[c];
                }
            }
            for (int c = 0; c < C; c++)
                y[c] = acc[c];
        }
}

/* Graded values: per source pixel and tap one vector multiply-add over the
 * channels (zeros included: they add exactly nothing); the counters count
 * only the nonzero values' taps, as the event semantics does. */
static void dw_graded(const projection *pr, real *dst, const real *w, const real *vals,
                      uint64_t *events, uint64_t *ops)
{
    const int C = pr->Co, HW = pr->H * pr->W;
    const int gather = dw_same(pr) && C <= DW_GATHER_CMAX;
    uint64_t ev = 0, cnt = 0;
    for (int q = 0; q < HW; q++) {
        const real *restrict v = vals + (size_t)q * C;
        const uint64_t nz = (uint64_t)count_nonzero(v, C);
        if (!nz)
            continue;
        const int32_t *pos, *tap;
        const int nt = taps_of(pr, q, &pos, &tap);
        ev += nz;
        cnt += nz * (uint64_t)nt;
        if (gather)
            continue;
        for (int j = 0; j < nt; j++) {
            real *restrict y = dst + (size_t)pos[j] * C;
            const real *restrict wt = w + (size_t)tap[j] * C;
            for (int c = 0; c < C; c++)
                y[c] += v[c] * wt[c];
        }
    }
    if (gather)
        BY_WIDTH(C, dw_graded_gather, pr, dst, w, vals);
    *events += ev;
    *ops += cnt;
}

/* ---- PROJ_UPSAMPLE2_1X1: weights (Ci, Co); pixel (y, x) -> 2x2 block ---- */

/* A packet with at least one spike per two source pixels: the weight rows
 * are summed per source pixel first, then each sum is added to its 2x2
 * block, a quarter of the target adds and no division per spike. (The
 * counters count the event semantics: 4 * Co per spike.) */
static inline __attribute__((always_inline)) void
up_spikes_pixels(const projection *pr, real *dst, const real *w, const int32_t *ids, int32_t n,
                 const int Co)
{
    const int W = pr->W, HW = pr->H * W, Wo = pr->Wo;
    real *lo = pr->up_sum;
    int ci = 0;
    int32_t base = 0;
    memset(lo, 0, (size_t)HW * Co * sizeof *lo);
    for (int32_t i = 0; i < n; i++) {
        const int q = id_channel(ids[i], HW, &ci, &base);
        vec_add(lo + (size_t)q * Co, w + (size_t)ci * Co, Co);
    }
    for (int y = 0; y < pr->H; y++)
        for (int x = 0; x < W; x++) {
            const real *v = lo + ((size_t)y * W + x) * Co;
            for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++)
                    vec_add(dst + ((size_t)(2 * y + dy) * Wo + 2 * x + dx) * Co, v, Co);
        }
}

static void up_spikes(const projection *pr, real *dst, const real *w, const int32_t *ids, int32_t n,
                      const uint64_t *masks, uint64_t *ops)
{
    (void)masks;
    const int HW = pr->H * pr->W, Co = pr->Co, Wo = pr->Wo;
    int ci = 0;
    int32_t base = 0;
    *ops += (uint64_t)n * 4u * (uint64_t)Co;
    if (pr->up_sum && 2 * (int64_t)n >= HW) {
        BY_WIDTH(Co, up_spikes_pixels, pr, dst, w, ids, n);
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        const int q = id_channel(ids[i], HW, &ci, &base);
        int y = q / pr->W, x = q % pr->W;
        const real *wc = w + (size_t)ci * Co;
        for (int dy = 0; dy < 2; dy++)
            for (int dx = 0; dx < 2; dx++)
                vec_add(dst + ((size_t)(2 * y + dy) * Wo + 2 * x + dx) * Co, wc, Co);
    }
}

static void up_graded(const projection *pr, real *dst, const real *w, const real *vals,
                      uint64_t *events, uint64_t *ops)
{
    const int Ci = pr->Ci, Co = pr->Co, Wo = pr->Wo;
    uint64_t ev = 0;
    for (int y = 0; y < pr->H; y++)
        for (int x = 0; x < pr->W; x++) {
            const real *v = vals + ((size_t)y * pr->W + x) * Ci;
            for (int ci = 0; ci < Ci; ci++) {
                real g = v[ci];
                if (g == 0)
                    continue;
                const real *wc = w + (size_t)ci * Co;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++)
                        vec_axpy(dst + ((size_t)(2 * y + dy) * Wo + 2 * x + dx) * Co, g, wc, Co);
                ev++;
            }
        }
    *events += ev;
    *ops += ev * 4u * (uint64_t)Co;
}

/* ---- PROJ_IDENTITY: weights (C) or NULL for 1 ---- */

static void id_spikes(const projection *pr, real *dst, const real *w, const int32_t *ids, int32_t n,
                      const uint64_t *masks, uint64_t *ops)
{
    (void)masks;
    const int HW = pr->H * pr->W, C = pr->Co;
    int c = 0;
    int32_t base = 0;
    for (int32_t i = 0; i < n; i++) {
        const int q = id_channel(ids[i], HW, &c, &base);
        dst[(size_t)q * C + c] += w ? w[c] : (real)1;
    }
    *ops += (uint64_t)n;
}

static void id_graded(const projection *pr, real *dst, const real *w, const real *vals,
                      uint64_t *events, uint64_t *ops)
{
    const size_t n = (size_t)pr->n_src;
    const int C = pr->Co;
    uint64_t ev = 0;
    if (w) {
        for (size_t i = 0; i < n; i++)
            if (vals[i] != 0) {
                dst[i] += vals[i] * w[i % (size_t)C];
                ev++;
            }
    } else {
        for (size_t i = 0; i < n; i++)
            if (vals[i] != 0) {
                dst[i] += vals[i];
                ev++;
            }
    }
    *events += ev;
    *ops += ev;
}

/* ---- PROJ_DENSE: weights (n_src public, n_dst storage) ---- */

static void dense_spikes(const projection *pr, real *dst, const real *w, const int32_t *ids,
                         int32_t n, const uint64_t *masks, uint64_t *ops)
{
    (void)masks;
    const int nd = pr->n_dst;
    for (int32_t i = 0; i < n; i++)
        vec_add(dst, w + (size_t)ids[i] * nd, nd);
    *ops += (uint64_t)n * (uint64_t)nd;
}

static void dense_graded(const projection *pr, real *dst, const real *w, const real *vals,
                         uint64_t *events, uint64_t *ops)
{
    const int nd = pr->n_dst, Ci = pr->Ci, HW = pr->H * pr->W;
    uint64_t ev = 0;
    for (int q = 0; q < HW; q++)
        for (int c = 0; c < Ci; c++) {
            real g = vals[(size_t)q * Ci + c];
            if (g == 0)
                continue;
            vec_axpy(dst, g, w + ((size_t)c * HW + q) * nd, nd);
            ev++;
        }
    *events += ev;
    *ops += ev * (uint64_t)nd;
}

typedef void (*spikes_fn)(const projection *pr, real *dst /* (Ho, Wo, Co) */, const real *w,
                          const int32_t *ids, int32_t n,
                          const uint64_t *masks /* (H, W, ceil(Ci/64)) or NULL */, uint64_t *ops);
typedef void (*graded_fn)(const projection *pr, real *dst /* (Ho, Wo, Co) */, const real *w,
                          const real *vals /* (H, W, Ci) */, uint64_t *events, uint64_t *ops);

static const struct {
    const char *name;
    spikes_fn spikes;
    graded_fn graded;
} maps[PROJ_NMAPS] = {
    [PROJ_CONV] = {"conv", conv_spikes, conv_graded},
    [PROJ_DEPTHWISE] = {"depthwise", dw_spikes, dw_graded},
    [PROJ_CONV1X1] = {"conv1x1", conv_spikes, conv_graded},
    [PROJ_UPSAMPLE2_1X1] = {"upsample2+1x1", up_spikes, up_graded},
    [PROJ_IDENTITY] = {"identity", id_spikes, id_graded},
    [PROJ_DENSE] = {"dense", dense_spikes, dense_graded},
};

const char *proj_map_name(proj_map m)
{
    return (unsigned)m < PROJ_NMAPS ? maps[m].name : "?";
}

const char *proj_kind_name(proj_kind k)
{
    return k == PROJ_SPIKE ? "spike" : k == PROJ_GRADED ? "graded" : "?";
}

proj_spec proj_spec_make(int src, int dst, proj_kind kind, proj_map map, int delay,
                         const real *weights)
{
    proj_spec s = {.src = src,
                   .dst = dst,
                   .kind = kind,
                   .map = map,
                   .delay = delay,
                   .k = 1,
                   .stride = 1,
                   .pad = 0,
                   .nsets = 1,
                   .weights = weights};
    return s;
}

proj_spec proj_spec_conv(int src, int dst, proj_kind kind, proj_map map, int delay, int k,
                         int stride, int pad, const real *weights)
{
    proj_spec s = proj_spec_make(src, dst, kind, map, delay, weights);
    s.k = k, s.stride = stride, s.pad = pad;
    return s;
}

/* Geometry of a spec: k, stride, pad actually used. */
static void spec_geometry(const proj_spec *s, int *k, int *stride, int *pad)
{
    if (s->map == PROJ_CONV || s->map == PROJ_DEPTHWISE) {
        *k = s->k, *stride = s->stride, *pad = s->pad;
    } else {
        *k = 1, *stride = 1, *pad = 0;
    }
}

static int spec_nsets(const proj_spec *s)
{
    return s->nsets < 1 ? 1 : s->nsets;
}

/* weights per set, in elements (0 for a unit identity); all factors are
 * < 2^31, products of two fit in 64 bits, the rest are checked */
static int weights_per_set(const proj_spec *s, const pop_spec *src, const pop_spec *dst,
                           size_t *out)
{
    int k, st, pad;
    spec_geometry(s, &k, &st, &pad);
    size_t n_src = (size_t)src->C * src->H * src->W, n_dst = (size_t)dst->C * dst->H * dst->W;
    switch (s->map) {
    case PROJ_CONV:
        return size_mul((size_t)dst->C * src->C, (size_t)k * k, out);
    case PROJ_DEPTHWISE:
        *out = (size_t)dst->C * k * k;
        return 0;
    case PROJ_CONV1X1:
    case PROJ_UPSAMPLE2_1X1:
        *out = (size_t)dst->C * src->C;
        return 0;
    case PROJ_IDENTITY:
        *out = s->weights ? (size_t)dst->C : 0;
        return 0;
    case PROJ_DENSE:
        return size_mul(n_src, n_dst, out);
    default:
        *out = 0;
        return 1;
    }
}

size_t proj_weight_count(const proj_spec *s, const pop_spec *src, const pop_spec *dst)
{
    size_t per, all;
    if (weights_per_set(s, src, dst, &per) || size_mul(per, (size_t)spec_nsets(s), &all))
        return 0;
    return all;
}

sim_status proj_check(sim_ctx *ctx, const proj_spec *s, int index, const pop_spec *pops, int npop)
{
    if (s->src < 0 || s->src >= npop || s->dst < 0 || s->dst >= npop)
        return ctx_error(ctx, SIM_ENOTFOUND,
                         "projection %d: populations %d -> %d, but the network has %d (0..%d)",
                         index, s->src, s->dst, npop, npop - 1);
    const pop_spec *a = &pops[s->src], *b = &pops[s->dst];
    if ((unsigned)s->kind >= PROJ_NKINDS)
        return ctx_error(ctx, SIM_EINVAL, "projection %d (%s -> %s): unknown kind %d", index,
                         a->name, b->name, (int)s->kind);
    if ((unsigned)s->map >= PROJ_NMAPS)
        return ctx_error(ctx, SIM_EINVAL, "projection %d (%s -> %s): unknown map %d", index,
                         a->name, b->name, (int)s->map);
    const char *what = maps[s->map].name, *kind = proj_kind_name(s->kind);
#define PFX "projection %d (%s -> %s, %s %s): "
#define PARGS index, a->name, b->name, kind, what
    if (s->delay < 0)
        return ctx_error(ctx, SIM_EINVAL, PFX "delay %d must be >= 0", PARGS, s->delay);
    if (s->delay == INT32_MAX)
        return ctx_error(ctx, SIM_ERANGE, PFX "delay %d is too large", PARGS, s->delay);
    if (s->nsets < 0)
        return ctx_error(ctx, SIM_EINVAL, PFX "%d weight sets, expected >= 1", PARGS, s->nsets);
    if (s->kind == PROJ_SPIKE && a->model == NEURON_RELAY)
        return ctx_error(ctx, SIM_EINVAL,
                         PFX "the source is a relay population, which never spikes; use a "
                             "graded projection",
                         PARGS);
    int k, st, pad;
    spec_geometry(s, &k, &st, &pad);
    int64_t Ho = -1, Wo = -1, Co = b->C; /* expected target shape; Co = b->C: any */
    switch (s->map) {
    case PROJ_CONV:
    case PROJ_DEPTHWISE:
        if (k < 1 || k > PROJ_KMAX || st < 1 || pad < 0 || pad > PROJ_KMAX)
            return ctx_error(ctx, SIM_EINVAL,
                             PFX "kernel %d stride %d pad %d: expected 1 <= k <= %d, "
                                 "stride >= 1, 0 <= pad <= %d",
                             PARGS, k, st, pad, PROJ_KMAX, PROJ_KMAX);
        if ((int64_t)a->H + 2 * pad < k || (int64_t)a->W + 2 * pad < k)
            return ctx_error(ctx, SIM_ESHAPE,
                             PFX "kernel %d with pad %d does not fit the source (%d, %d, %d)",
                             PARGS, k, pad, a->C, a->H, a->W);
        Ho = ((int64_t)a->H + 2 * pad - k) / st + 1;
        Wo = ((int64_t)a->W + 2 * pad - k) / st + 1;
        if (s->map == PROJ_DEPTHWISE)
            Co = a->C;
        break;
    case PROJ_CONV1X1:
        Ho = a->H, Wo = a->W;
        break;
    case PROJ_UPSAMPLE2_1X1:
        Ho = 2 * (int64_t)a->H, Wo = 2 * (int64_t)a->W;
        break;
    case PROJ_IDENTITY:
        Ho = a->H, Wo = a->W, Co = a->C;
        break;
    case PROJ_DENSE:
        Ho = b->H, Wo = b->W; /* any shape */
        break;
    default:
        break;
    }
    if (Co != b->C || Ho != b->H || Wo != b->W)
        return ctx_error(ctx, SIM_ESHAPE,
                         PFX "maps the source (%d, %d, %d) to (%lld, %lld, %lld) but the target "
                             "is (%d, %d, %d)",
                         PARGS, a->C, a->H, a->W, (long long)Co, (long long)Ho, (long long)Wo, b->C,
                         b->H, b->W);
    if (!s->weights && s->map != PROJ_IDENTITY)
        return ctx_error(ctx, SIM_EINVAL, PFX "weights are missing (NULL)", PARGS);
    size_t nw = proj_weight_count(s, a, b), per;
    if (weights_per_set(s, a, b, &per) || (per && nw == 0) || nw > (size_t)PTRDIFF_MAX)
        return ctx_error(ctx, SIM_ERANGE, PFX "%d sets of weights overflow the address space",
                         PARGS, spec_nsets(s));
    for (size_t i = 0; i < nw; i++)
        if (!isfinite((double)s->weights[i]))
            return ctx_error(ctx, SIM_ENUMERIC, PFX "weight [%zu] is %g", PARGS, i,
                             (double)s->weights[i]);
#undef PFX
#undef PARGS
    return SIM_OK;
}

/* The tap table of a conv or depthwise map: for source pixel q, its valid
 * (target position, kernel offset) pairs are entries tap_off[q] ..
 * tap_off[q+1]-1 of tap_pos and tap_k. Computing them once here keeps the
 * divisions of conv_taps out of the per-spike path. */
static sim_status build_taps(sim_ctx *ctx, projection *pr)
{
    const int HW = pr->H * pr->W, kk = pr->k * pr->k;
    int32_t pos[PROJ_KMAX * PROJ_KMAX], tap[PROJ_KMAX * PROJ_KMAX];
    pr->tap_off = mem_alloc(ctx, MEM_ENGINE, ((size_t)HW + 1) * sizeof *pr->tap_off);
    if (!pr->tap_off)
        return SIM_ENOMEM;
    size_t total = 0;
    for (int q = 0; q < HW; q++) {
        pr->tap_off[q] = (int32_t)total;
        total += (size_t)conv_taps(pr, q / pr->W, q % pr->W, pos, tap);
    }
    pr->tap_off[HW] = (int32_t)total;
    assert(total <= (size_t)HW * (size_t)kk);
    (void)kk;
    pr->tap_pos = mem_alloc(ctx, MEM_ENGINE, (total ? total : 1) * sizeof *pr->tap_pos);
    pr->tap_k = mem_alloc(ctx, MEM_ENGINE, (total ? total : 1) * sizeof *pr->tap_k);
    if (!pr->tap_pos || !pr->tap_k) {
        proj_free(ctx, pr);
        return SIM_ENOMEM;
    }
    for (int q = 0; q < HW; q++)
        conv_taps(pr, q / pr->W, q % pr->W, pr->tap_pos + pr->tap_off[q], pr->tap_k + pr->tap_off[q]);
    return SIM_OK;
}

sim_status proj_init(sim_ctx *ctx, projection *pr, const proj_spec *s, const pop_spec *a,
                     const pop_spec *b)
{
    memset(pr, 0, sizeof *pr);
    int k, st, pad;
    spec_geometry(s, &k, &st, &pad);
    pr->kind = s->kind, pr->map = s->map;
    pr->src = s->src, pr->dst = s->dst, pr->delay = s->delay;
    pr->k = k, pr->stride = st, pr->pad = pad;
    pr->nsets = spec_nsets(s);
    pr->Ci = a->C, pr->H = a->H, pr->W = a->W;
    pr->Co = b->C, pr->Ho = b->H, pr->Wo = b->W;
    pr->n_src = (int32_t)((int64_t)a->C * a->H * a->W);
    pr->n_dst = (int32_t)((int64_t)b->C * b->H * b->W);
    const double Ci = pr->Ci, Co = pr->Co, HWo = (double)pr->Ho * pr->Wo;
    switch (s->map) {
    case PROJ_CONV:
    case PROJ_CONV1X1:
        pr->dense_flops = Co * HWo * Ci * k * k;
        break;
    case PROJ_DEPTHWISE:
        pr->dense_flops = Co * HWo * k * k;
        break;
    case PROJ_UPSAMPLE2_1X1:
        pr->dense_flops = Co * Ci * pr->H * pr->W;
        break;
    case PROJ_IDENTITY:
        pr->dense_flops = pr->n_src;
        break;
    default:
        pr->dense_flops = (double)pr->n_src * pr->n_dst;
        break;
    }
    if (s->map == PROJ_CONV || s->map == PROJ_CONV1X1 || s->map == PROJ_DEPTHWISE) {
        sim_status st_t = build_taps(ctx, pr);
        if (st_t != SIM_OK)
            return st_t;
    }
    if (s->kind == PROJ_SPIKE) { /* the dense-packet scratch of the map, if it has one */
        const size_t HW = (size_t)pr->H * pr->W;
        void *scr = pr; /* stays non-NULL for the maps without scratch */
        if (s->map == PROJ_CONV || s->map == PROJ_CONV1X1) {
            pr->mask_words = (pr->Ci + 63) / 64;
            scr = pr->chan_mask =
                mem_alloc(ctx, MEM_ENGINE, HW * pr->mask_words * sizeof(uint64_t));
        } else if (s->map == PROJ_DEPTHWISE) {
            scr = pr->spike_map = mem_alloc(ctx, MEM_ENGINE, (size_t)pr->n_src * sizeof(real));
        } else if (s->map == PROJ_UPSAMPLE2_1X1) {
            scr = pr->up_sum = mem_alloc(ctx, MEM_ENGINE, HW * pr->Co * sizeof(real));
        }
        if (!scr) {
            proj_free(ctx, pr);
            return SIM_ENOMEM;
        }
    }
    int ovf = weights_per_set(s, a, b, &pr->wset);
    assert(!ovf);
    (void)ovf;
    size_t nw = pr->wset * (size_t)pr->nsets; /* checked by proj_check */
    if (nw == 0)
        return SIM_OK; /* unit identity */
    real *w = mem_calloc(ctx, MEM_ENGINE, nw, sizeof *w);
    if (!w) {
        proj_free(ctx, pr);
        return SIM_ENOMEM;
    }
    pr->w = w;
    const int C_i = pr->Ci, C_o = pr->Co, kk = k * k;
    for (int set = 0; set < pr->nsets; set++) {
        const real *in = s->weights + (size_t)set * pr->wset;
        real *out = w + (size_t)set * pr->wset;
        switch (s->map) {
        case PROJ_CONV:
        case PROJ_CONV1X1:
        case PROJ_UPSAMPLE2_1X1: /* (Co, Ci, k, k) -> (Ci, k, k, Co) */
            for (int co = 0; co < C_o; co++)
                for (int ci = 0; ci < C_i; ci++)
                    for (int t = 0; t < kk; t++)
                        out[((size_t)ci * kk + t) * C_o + co] =
                            in[((size_t)co * C_i + ci) * kk + t];
            break;
        case PROJ_DENSE: { /* (n_dst public, n_src) -> (n_src, n_dst storage) */
            const size_t ns = (size_t)pr->n_src, nd = (size_t)pr->n_dst;
            const int HWo2 = pr->Ho * pr->Wo;
            for (size_t j = 0; j < nd; j++) {
                size_t js = (size_t)neuron_index_of(C_o, HWo2, (int32_t)j);
                for (size_t i = 0; i < ns; i++)
                    out[i * nd + js] = in[j * ns + i];
            }
            break;
        }
        case PROJ_DEPTHWISE: /* (C, 1, k, k) -> (k, k, C) */
            for (int c = 0; c < C_o; c++)
                for (int t = 0; t < kk; t++)
                    out[(size_t)t * C_o + c] = in[(size_t)c * kk + t];
            break;
        default: /* identity (C): as given */
            memcpy(out, in, pr->wset * sizeof *out);
            break;
        }
    }
    return SIM_OK;
}

void proj_free(sim_ctx *ctx, projection *pr)
{
    mem_free(ctx, pr->w);
    mem_free(ctx, pr->tap_off);
    mem_free(ctx, pr->tap_pos);
    mem_free(ctx, pr->tap_k);
    mem_free(ctx, pr->spike_map);
    mem_free(ctx, pr->chan_mask);
    mem_free(ctx, pr->up_sum);
    memset(pr, 0, sizeof *pr);
}

static const real *weight_set(const projection *pr, int64_t t)
{
    if (!pr->w)
        return NULL;
    int set = t < pr->nsets ? (int)t : pr->nsets - 1;
    return pr->w + (size_t)set * pr->wset;
}

void proj_deliver_spikes(const projection *pr, real *dst, const int32_t *ids, int32_t n,
                         const uint64_t *masks, int64_t t, proj_counters *c)
{
    assert(pr->kind == PROJ_SPIKE);
    uint64_t ops = 0;
    maps[pr->map].spikes(pr, dst, weight_set(pr, t), ids, n, masks, &ops);
    c->events += (uint64_t)n;
    c->acs += ops;
    c->sop += (double)n / pr->n_src * pr->dense_flops;
}

void proj_deliver_graded(const projection *pr, real *dst, const real *values, int64_t t,
                         proj_counters *c)
{
    assert(pr->kind == PROJ_GRADED);
    uint64_t ev = 0, ops = 0;
    const real *w = weight_set(pr, t);
    maps[pr->map].graded(pr, dst, w, values, &ev, &ops);
    c->events += ev;
    if (pr->map == PROJ_IDENTITY && !w)
        c->acs += ops; /* a plain add per value */
    else
        c->macs += ops;
    c->sop += (double)ev / pr->n_src * pr->dense_flops;
}

void proj_counters_add(proj_counters *acc, const proj_counters *c)
{
    acc->events += c->events;
    acc->acs += c->acs;
    acc->macs += c->macs;
    acc->sop += c->sop;
}

void proj_reset_counters(projection *pr)
{
    memset(&pr->step, 0, sizeof pr->step);
    memset(&pr->total, 0, sizeof pr->total);
}
