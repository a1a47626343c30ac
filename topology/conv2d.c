/* conv2d.c - 2-D convolution on channel-major (C, N, H, W) activations.
 *
 * Three strategies (conv2d_algo_of picks one per shape):
 *  - depthwise (groups == Ci == Co): direct loops per channel. With stride 1
 *    a block of images is copied into a zero-padded tile on the stack, so
 *    every kernel tap is one long contiguous multiply-add over the tile (the
 *    positions that fall into the padding are computed and dropped); the
 *    input gradient is the same loop over the output gradient with the kernel
 *    flipped. Other strides, kernels above 7 and planes too big for a tile
 *    use row loops with hoisted bounds.
 *  - 1x1, stride 1, pad 0: the activations of a group already are the GEMM
 *    operand (Ci/g, N*H*W), so each group is one GEMM over the whole batch.
 *  - otherwise: im2col into the caller's scratch (rows Ci/g*k*k, columns
 *    N*Ho*Wo) and one GEMM per group; backward reuses the scratch for the
 *    column gradient and scatters it back with col2im.
 *
 * Binary inputs with few ones (spike maps, checked at run time by
 * conv2d_spikes_sparse) take a sparse path in the last two strategies; the
 * operand S (K, P) is the activations (1x1) or the im2col columns. Forward,
 * out (M, P) = W (M, K) S + bias: tiles of positions accumulate, position-
 * major on the stack, the row of a transposed weight copy Wt (K, M) for each
 * one in S (adds, no multiplies; each add is contiguous over M), and the tile
 * is transposed into out. Weight gradient, dW (M, K) += G (M, P) S^T: tiles of
 * G are transposed on the stack and each one S[k, p] adds row p of the tile
 * into a (K, M) partial; fixed position segments (their number depends on P
 * only) sum into their own partials, added in segment order. The input
 * gradient stays a GEMM. Ones are found 64 positions at a time as bit masks.
 * The adds run in another order than the GEMM's sums, so the sparse path
 * differs from the dense one by rounding only.
 *
 * Our own loops run in parallel over channels (or im2col rows, position
 * tiles, segments) with a static schedule; no sum crosses a thread and every
 * sum runs in a fixed order, so results are bit-identical for any thread
 * count. */
#include "conv2d.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "neurons/spike.h"
#include "sim/blas.h"

/* Elements of one depthwise stack tile (two of them live per thread) and the
 * largest kernel the tiles handle. */
#define DW_TILE 4096
#define DW_KMAX 7

/* Sparse spike path: elements of one position-major tile on the stack
 * (positions x output channels), the fewest and most positions of a tile
 * (so the most output channels it handles), and the positions per weight-
 * gradient segment and the most segments. Larger tiles (up to 64k
 * elements) measured no faster. */
#define SP_ACC 4096
#define SP_TMIN 16
#define SP_TMAX 512
#define SP_MMAX (SP_ACC / SP_TMIN)
#define SP_SEG_LEN 2048
#define SP_NSEG_MAX 8
/* The fewest output channels (per group) worth the sparse path: the scan
 * for ones costs the same per input value whatever M, while the GEMM's work
 * per input value grows with M. Measured on the fmnist model at batch 64
 * (1 thread, AVX-512): with M = 16 (PW2 of level 0) the GEMM wins at every
 * density, even 5%; with M = 32 the sparse path wins below about 15%, with
 * M >= 64 below about 25-30% (conv2d_sparse_density). */
#define SP_MMIN 32
/* Below this many values a sparse-path loop stays on the calling thread. */
#define SP_PAR_MIN 65536

/* Multiply-add a*b + c. The build is strict ISO C, where GCC does not
 * contract a*b + c into one instruction; with FMA hardware say so. */
#if defined(__FMA__) && REAL_IS_DOUBLE
#define MADD(a, b, c) fma(a, b, c)
#elif defined(__FMA__)
#define MADD(a, b, c) fmaf(a, b, c)
#else
#define MADD(a, b, c) ((a) * (b) + (c))
#endif

sim_status conv2d_shape_init(sim_ctx *ctx, conv2d_shape *s, int N, int Ci, int H, int W, int Co,
                             int k, int stride, int pad, int groups)
{
    if (N < 1 || Ci < 1 || H < 1 || W < 1 || Co < 1)
        return ctx_error(ctx, SIM_ESHAPE,
                         "conv2d: sizes must be positive, got N=%d Ci=%d H=%d W=%d Co=%d", N, Ci,
                         H, W, Co);
    if (k < 1 || stride < 1 || pad < 0 || groups < 1)
        return ctx_error(ctx, SIM_ESHAPE,
                         "conv2d: need k>=1 stride>=1 pad>=0 groups>=1, got k=%d stride=%d "
                         "pad=%d groups=%d",
                         k, stride, pad, groups);
    if (Ci % groups)
        return ctx_error(ctx, SIM_ESHAPE, "conv2d: Ci=%d not divisible by groups=%d", Ci, groups);
    if (Co % groups)
        return ctx_error(ctx, SIM_ESHAPE, "conv2d: Co=%d not divisible by groups=%d", Co, groups);
    long long hp = (long long)H + 2LL * pad, wp = (long long)W + 2LL * pad;
    if (hp < k || wp < k)
        return ctx_error(ctx, SIM_ESHAPE,
                         "conv2d: output smaller than 1x1: input %dx%d with pad %d is smaller "
                         "than kernel %d",
                         H, W, pad, k);
    long long Ho = (hp - k) / stride + 1, Wo = (wp - k) / stride + 1;
    /* GEMM dimensions and our indices are int: the padded planes, the batch
     * planes and the im2col rows must fit */
    size_t nhw, nhwo, kk, rows;
    int over = hp > INT_MAX || wp > INT_MAX ||
               size_mul((size_t)N * (size_t)H, (size_t)W, &nhw) ||
               size_mul((size_t)N * (size_t)Ho, (size_t)Wo, &nhwo) ||
               size_mul((size_t)k, (size_t)k, &kk) || size_mul((size_t)(Ci / groups), kk, &rows);
    if (over || nhw > INT_MAX || nhwo > INT_MAX || rows > INT_MAX)
        return ctx_error(ctx, SIM_ESHAPE,
                         "conv2d: too large for int indexing: N=%d Ci=%d H=%d W=%d k=%d pad=%d "
                         "(H+2*pad, W+2*pad, N*H*W, N*Ho*Wo and Ci/groups*k*k must be <= %d)",
                         N, Ci, H, W, k, pad, INT_MAX);
    *s = (conv2d_shape){.N = N, .Ci = Ci, .H = H, .W = W, .Co = Co, .k = k, .stride = stride,
                        .pad = pad, .groups = groups, .Ho = (int)Ho, .Wo = (int)Wo, .sparse = 1};
    return SIM_OK;
}

conv2d_algo conv2d_algo_of(const conv2d_shape *s)
{
    if (s->groups == s->Ci && s->groups == s->Co)
        return CONV2D_DEPTHWISE;
    if (s->k == 1 && s->stride == 1 && s->pad == 0)
        return CONV2D_GEMM_1X1;
    return CONV2D_IM2COL;
}

/* Weight-gradient segments of the sparse path for P positions: a function
 * of P alone, so the sums do not depend on the thread count. */
static int sp_nseg(size_t P)
{
    size_t n = P / SP_SEG_LEN;
    return n < 1 ? 1 : n > SP_NSEG_MAX ? SP_NSEG_MAX : (int)n;
}

/* 1 when the shape may take the sparse path (the input decides the rest). */
static int sp_shape_ok(const conv2d_shape *s)
{
    const int M = s->Co / s->groups;
    return s->sparse && conv2d_algo_of(s) != CONV2D_DEPTHWISE && M >= SP_MMIN && M <= SP_MMAX;
}

double conv2d_sparse_density(const conv2d_shape *s)
{
    if (!sp_shape_ok(s))
        return 0;
    return s->Co / s->groups >= 2 * SP_MMIN ? CONV2D_SPARSE_DENSITY : CONV2D_SPARSE_DENSITY / 2;
}

/* Elements of im2col columns of one group. */
static size_t col_elems(const conv2d_shape *s)
{
    if (conv2d_algo_of(s) != CONV2D_IM2COL)
        return 0;
    return (size_t)(s->Ci / s->groups) * (size_t)s->k * (size_t)s->k * (size_t)s->N *
           (size_t)s->Ho * (size_t)s->Wo;
}

/* Elements of the sparse path's scratch, after the columns: the transposed
 * weights (K, M) in forward, one (K, M) partial per segment in backward. */
static size_t sp_elems(const conv2d_shape *s)
{
    if (!sp_shape_ok(s))
        return 0;
    const size_t K = (size_t)(s->Ci / s->groups) * s->k * s->k, M = (size_t)(s->Co / s->groups);
    return (size_t)sp_nseg((size_t)s->N * s->Ho * s->Wo) * K * M;
}

size_t conv2d_scratch_elems(const conv2d_shape *s)
{
    return col_elems(s) + sp_elems(s);
}

double conv2d_macs(const conv2d_shape *s)
{
    return (double)s->Co * (s->Ci / s->groups) * s->k * s->k * (double)s->N * s->Ho * s->Wo;
}

/* Output positions o in [*lo, *hi) whose input index o*stride - pad + kk lies
 * in [0, n), for one kernel offset kk along an axis of n inputs, no outputs. */
static void tap_range(int *lo, int *hi, int n, int no, int kk, int stride, int pad)
{
    int first = pad - kk; /* smallest o*stride allowed */
    int l = first > 0 ? (first + stride - 1) / stride : 0;
    int last = n - 1 + pad - kk; /* largest o*stride allowed */
    int h = last < 0 ? 0 : last / stride + 1;
    *lo = l < no ? l : no;
    *hi = h < no ? h : no;
    if (*hi < *lo)
        *hi = *lo;
}

/* Tile geometry of the stride-1 depthwise path. Each image is padded to
 * Hp x Wp and nb images are stacked in one flat tile; output (oy, ox) of
 * image i sits at flat position q = (i*Hp + oy)*Wp + ox and tap (ki, kj)
 * reads the padded input at q + ki*Wp + kj. Positions with ox >= Wo or
 * oy >= Ho are computed too and dropped, which keeps every tap one long
 * contiguous loop. The backward pass keeps `front` zeros ahead of the output
 * gradient so that the input gradient is the same kind of loop with the
 * kernel flipped; nb leaves room for them. */
typedef struct {
    int Hp, Wp, plane, nb, front;
} dw_tile;

/* 1 (and the geometry) when the stride-1 tile path applies. */
static int dw_tile_of(const conv2d_shape *s, dw_tile *t)
{
    if (s->stride != 1 || s->k > DW_KMAX)
        return 0;
    long long hp = (long long)s->H + 2 * s->pad, wp = (long long)s->W + 2 * s->pad;
    long long front = (long long)(s->k - 1) * (wp + 1);
    if (hp * wp + front > DW_TILE)
        return 0;
    t->Hp = (int)hp;
    t->Wp = (int)wp;
    t->plane = (int)(hp * wp);
    t->front = (int)front;
    t->nb = (DW_TILE - t->front) / t->plane;
    return 1;
}

/* Flat length covering every output of m images in a tile. */
static int dw_tile_len(const dw_tile *t, const conv2d_shape *s, int m)
{
    return ((m - 1) * t->Hp + s->Ho - 1) * t->Wp + s->Wo;
}

/* dst[r*ds + x] = src[r*ss + x] (add: +=) for r < rows, x < width. Inlined
 * with a constant width, short rows become a few vector moves instead of a
 * loop with a remainder each. */
static inline __attribute__((always_inline)) void
rows_op(real *restrict dst, int ds, const real *restrict src, int ss, int rows, int width, int add)
{
    for (int r = 0; r < rows; r++) {
        real *d = dst + (size_t)r * ds;
        const real *a = src + (size_t)r * ss;
        if (add) {
#pragma omp simd
            for (int x = 0; x < width; x++)
                d[x] += a[x];
        } else {
#pragma omp simd
            for (int x = 0; x < width; x++)
                d[x] = a[x];
        }
    }
}

/* rows_op with the model's plane widths as compile-time constants. */
static inline void rows_apply(real *dst, int ds, const real *src, int ss, int rows, int width,
                              int add)
{
    switch (width) {
    case 4:
        rows_op(dst, ds, src, ss, rows, 4, add);
        break;
    case 8:
        rows_op(dst, ds, src, ss, rows, 8, add);
        break;
    case 16:
        rows_op(dst, ds, src, ss, rows, 16, add);
        break;
    case 32:
        rows_op(dst, ds, src, ss, rows, 32, add);
        break;
    default:
        rows_op(dst, ds, src, ss, rows, width, add);
        break;
    }
}

static void rows_copy(real *dst, int ds, const real *src, int ss, int rows, int width)
{
    rows_apply(dst, ds, src, ss, rows, width, 0);
}

/* Copy images n0..n0+m of one channel into the interior of a tile whose
 * border is already zero. */
static void dw_tile_load(real *tile /* (m, Hp, Wp) */, const real *src /* (N, H, W) */,
                         const dw_tile *t, const conv2d_shape *s, int n0, int m)
{
    const int H = s->H, W = s->W, p = s->pad, Wp = t->Wp;
    for (int i = 0; i < m; i++)
        rows_copy(tile + (size_t)i * t->plane + (size_t)p * Wp + p, Wp,
                  src + (size_t)(n0 + i) * H * W, W, H, W);
}

/* acc[q] += sum over taps of w[ki*k + kj] * src[q + ki*Wp + kj], q < L.
 * A 3x3 kernel is one pass over q; other kernels take their rows in chunks
 * of three, two and one taps. */
static void dw_taps(real *restrict acc /* (L) */, const real *restrict src /* (L + (k-1)*(Wp+1)) */,
                    const real *w /* (k, k) */, int k, int Wp, int L)
{
    if (k == 3) {
        const real *r0 = src, *r1 = src + Wp, *r2 = src + 2 * Wp;
        const real w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6],
                   w7 = w[7], w8 = w[8];
#pragma omp simd
        for (int q = 0; q < L; q++) {
            real a = acc[q];
            a = MADD(w0, r0[q], a);
            a = MADD(w1, r0[q + 1], a);
            a = MADD(w2, r0[q + 2], a);
            a = MADD(w3, r1[q], a);
            a = MADD(w4, r1[q + 1], a);
            a = MADD(w5, r1[q + 2], a);
            a = MADD(w6, r2[q], a);
            a = MADD(w7, r2[q + 1], a);
            a = MADD(w8, r2[q + 2], a);
            acc[q] = a;
        }
        return;
    }
    for (int ki = 0; ki < k; ki++) {
        const real *row = src + ki * Wp, *wr = w + ki * k;
        int kj = 0;
        for (; kj + 3 <= k; kj += 3) {
            const real *r = row + kj, w0 = wr[kj], w1 = wr[kj + 1], w2 = wr[kj + 2];
#pragma omp simd
            for (int q = 0; q < L; q++)
                acc[q] = MADD(w2, r[q + 2], MADD(w1, r[q + 1], MADD(w0, r[q], acc[q])));
        }
        if (kj + 2 <= k) {
            const real *r = row + kj, w0 = wr[kj], w1 = wr[kj + 1];
#pragma omp simd
            for (int q = 0; q < L; q++)
                acc[q] = MADD(w1, r[q + 1], MADD(w0, r[q], acc[q]));
            kj += 2;
        }
        if (kj < k) {
            const real *r = row + kj, w0 = wr[kj];
#pragma omp simd
            for (int q = 0; q < L; q++)
                acc[q] = MADD(w0, r[q], acc[q]);
        }
    }
}

/* dw[ki*k + kj] += sum_q g[q] * src[q + ki*Wp + kj], q < L, three taps of a
 * kernel row per pass over g. */
static void dw_dots(real *dw /* (k, k) */, const real *restrict g /* (L) */,
                    const real *restrict src /* (L + (k-1)*(Wp+1)) */, int k, int Wp, int L)
{
    for (int ki = 0; ki < k; ki++) {
        const real *row = src + ki * Wp;
        int kj = 0;
        for (; kj + 3 <= k; kj += 3) {
            const real *r = row + kj;
            real a0 = 0, a1 = 0, a2 = 0;
#pragma omp simd reduction(+ : a0, a1, a2)
            for (int q = 0; q < L; q++) {
                a0 = MADD(g[q], r[q], a0);
                a1 = MADD(g[q], r[q + 1], a1);
                a2 = MADD(g[q], r[q + 2], a2);
            }
            dw[ki * k + kj] += a0;
            dw[ki * k + kj + 1] += a1;
            dw[ki * k + kj + 2] += a2;
        }
        for (; kj < k; kj++) {
            const real *r = row + kj;
            real a0 = 0;
#pragma omp simd reduction(+ : a0)
            for (int q = 0; q < L; q++)
                a0 = MADD(g[q], r[q], a0);
            dw[ki * k + kj] += a0;
        }
    }
}

/* Depthwise forward of one channel, stride 1, through stack tiles. */
static void dw_forward_tiled(real *out /* (N, Ho, Wo) */, const real *in /* (N, H, W) */,
                             const real *w /* (k, k) */, real b, const conv2d_shape *s,
                             const dw_tile *t)
{
    real pin[DW_TILE], acc[DW_TILE];
    const int Ho = s->Ho, Wo = s->Wo, Wp = t->Wp;
    memset(pin, 0, (size_t)t->nb * t->plane * sizeof *pin);
    for (int n0 = 0; n0 < s->N; n0 += t->nb) {
        const int m = s->N - n0 < t->nb ? s->N - n0 : t->nb;
        const int L = dw_tile_len(t, s, m);
        dw_tile_load(pin, in, t, s, n0, m);
#pragma omp simd
        for (int q = 0; q < L; q++)
            acc[q] = b;
        dw_taps(acc, pin, w, s->k, Wp, L);
        for (int i = 0; i < m; i++)
            rows_copy(out + (size_t)(n0 + i) * Ho * Wo, Wo, acc + i * t->plane, Wp, Ho, Wo);
    }
}
/* 3x3 "same" depthwise on 4x4 planes (levels 2 and 3 of the presets),
 * float with AVX-512: one plane is one vector, and each tap is a masked lane
 * permutation of it, so no padded tile is built. The forward adds the taps
 * in the tiled path's order with the same fused multiply-adds; the backward
 * sums the weight gradient per vector lane first, then across lanes.
 * Measured at batch 64, 1 thread: 2.6x (forward) and 3.3x (backward) the
 * tiled path's speed. */
#if defined(__AVX512F__) && !REAL_IS_DOUBLE
#define DW4 1
typedef struct {
    __m512i idx[9], tidx[9];    /* lanes a tap reads: forward, adjoint */
    __mmask16 mask[9], tmask[9]; /* lanes inside the plane */
} dw4_perm;

static dw4_perm dw4_perms(void)
{
    dw4_perm d;
    for (int t = 0; t < 9; t++) {
        const int dy = t / 3 - 1, dx = t % 3 - 1;
        int idx[16], tidx[16];
        unsigned m = 0, tm = 0;
        for (int q = 0; q < 16; q++) {
            const int y = q / 4, x = q % 4;
            const int fy = y + dy, fx = x + dx, ty = y - dy, tx = x - dx;
            const int fin = fy >= 0 && fy < 4 && fx >= 0 && fx < 4;
            const int tin = ty >= 0 && ty < 4 && tx >= 0 && tx < 4;
            idx[q] = fin ? fy * 4 + fx : 0;
            tidx[q] = tin ? ty * 4 + tx : 0;
            m |= (unsigned)fin << q;
            tm |= (unsigned)tin << q;
        }
        d.idx[t] = _mm512_loadu_si512(idx);
        d.tidx[t] = _mm512_loadu_si512(tidx);
        d.mask[t] = (__mmask16)m;
        d.tmask[t] = (__mmask16)tm;
    }
    return d;
}

static int dw4_applies(const conv2d_shape *s)
{
    return s->k == 3 && s->stride == 1 && s->pad == 1 && s->H == 4 && s->W == 4;
}

static void dw4_forward(real *out /* (N, 16) */, const real *in /* (N, 16) */,
                        const real *w /* (9) */, real b, int N, const dw4_perm *d)
{
    for (int n = 0; n < N; n++) {
        const __m512 v = _mm512_loadu_ps(in + (size_t)n * 16);
        __m512 acc = _mm512_set1_ps(b);
        for (int t = 0; t < 9; t++)
            acc = _mm512_fmadd_ps(_mm512_set1_ps(w[t]),
                                  _mm512_maskz_permutexvar_ps(d->mask[t], d->idx[t], v), acc);
        _mm512_storeu_ps(out + (size_t)n * 16, acc);
    }
}

static void dw4_backward(real *din /* (N, 16) or NULL */, real *dw /* (9) */,
                         const real *dout /* (N, 16) */, const real *in /* (N, 16) */,
                         const real *w /* (9) */, int N, int add, const dw4_perm *d)
{
    __m512 gw[9];
    for (int t = 0; t < 9; t++)
        gw[t] = _mm512_setzero_ps();
    for (int n = 0; n < N; n++) {
        const __m512 g = _mm512_loadu_ps(dout + (size_t)n * 16);
        const __m512 v = _mm512_loadu_ps(in + (size_t)n * 16);
        for (int t = 0; t < 9; t++)
            gw[t] = _mm512_fmadd_ps(g, _mm512_maskz_permutexvar_ps(d->mask[t], d->idx[t], v),
                                    gw[t]);
        if (!din)
            continue;
        real *dx = din + (size_t)n * 16;
        __m512 acc = add ? _mm512_loadu_ps(dx) : _mm512_setzero_ps();
        for (int t = 0; t < 9; t++)
            acc = _mm512_fmadd_ps(_mm512_set1_ps(w[t]),
                                  _mm512_maskz_permutexvar_ps(d->tmask[t], d->tidx[t], g), acc);
        _mm512_storeu_ps(dx, acc);
    }
    for (int t = 0; t < 9; t++)
        dw[t] += _mm512_reduce_add_ps(gw[t]);
}

/* The same for planes 16 wide (level 0): a row is one vector, and the taps
 * of a row are that row shifted by one lane left or right with a zero
 * coming in. 16 channels of 16x16 at batch 64, one thread: forward 153 ->
 * 106 us, backward 348 -> 187 us. */
static int dw16_applies(const conv2d_shape *s)
{
    return s->k == 3 && s->stride == 1 && s->pad == 1 && s->W == 16 && s->H <= 64;
}

/* r shifted by dx in {-1, 0, 1} lanes: lane x gets r[x + dx], 0 outside. */
static inline __m512 dw16_shift(__m512 r, int dx)
{
    if (dx == 0)
        return r;
    const __m512i left = _mm512_set_epi32(14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0);
    const __m512i right = _mm512_set_epi32(15, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1);
    return dx < 0 ? _mm512_maskz_permutexvar_ps((__mmask16)0xFFFE, left, r)
                  : _mm512_maskz_permutexvar_ps((__mmask16)0x7FFF, right, r);
}

/* acc + the 3x3 taps of output row y over the rows of src (H, 16): tap
 * (ky, kx) reads row y + ky - 1 shifted by kx - 1 lanes (the forward), or,
 * transposed, row y + 1 - ky shifted by 1 - kx (the input gradient). */
static inline __m512 dw16_row(__m512 acc, const real *src, int H, int y, const real *w /* (9) */,
                              int transposed)
{
    for (int ky = 0; ky < 3; ky++) {
        const int iy = transposed ? y + 1 - ky : y + ky - 1;
        if (iy < 0 || iy >= H)
            continue;
        const __m512 r = _mm512_loadu_ps(src + (size_t)iy * 16);
        for (int kx = 0; kx < 3; kx++)
            acc = _mm512_fmadd_ps(_mm512_set1_ps(w[ky * 3 + kx]),
                                  dw16_shift(r, transposed ? 1 - kx : kx - 1), acc);
    }
    return acc;
}

static void dw16_forward(real *out /* (N, H, 16) */, const real *in /* (N, H, 16) */,
                         const real *w /* (9) */, real b, int N, int H)
{
    for (int n = 0; n < N; n++) {
        const real *x = in + (size_t)n * H * 16;
        real *o = out + (size_t)n * H * 16;
        for (int y = 0; y < H; y++)
            _mm512_storeu_ps(o + (size_t)y * 16, dw16_row(_mm512_set1_ps(b), x, H, y, w, 0));
    }
}

static void dw16_backward(real *din /* (N, H, 16) or NULL */, real *dw /* (9) */,
                          const real *dout /* (N, H, 16) */, const real *in /* (N, H, 16) */,
                          const real *w /* (9) */, int N, int H, int add)
{
    __m512 gw[9];
    for (int t = 0; t < 9; t++)
        gw[t] = _mm512_setzero_ps();
    for (int n = 0; n < N; n++) {
        const real *x = in + (size_t)n * H * 16, *g = dout + (size_t)n * H * 16;
        for (int y = 0; y < H; y++) {
            const __m512 gy = _mm512_loadu_ps(g + (size_t)y * 16);
            for (int ky = 0; ky < 3; ky++) {
                const int iy = y + ky - 1;
                if (iy < 0 || iy >= H)
                    continue;
                const __m512 r = _mm512_loadu_ps(x + (size_t)iy * 16);
                for (int kx = 0; kx < 3; kx++)
                    gw[ky * 3 + kx] = _mm512_fmadd_ps(gy, dw16_shift(r, kx - 1), gw[ky * 3 + kx]);
            }
        }
        if (!din)
            continue;
        real *dx = din + (size_t)n * H * 16;
        for (int iy = 0; iy < H; iy++) { /* input row iy feeds output rows iy + 1 - ky */
            __m512 acc = add ? _mm512_loadu_ps(dx + (size_t)iy * 16) : _mm512_setzero_ps();
            _mm512_storeu_ps(dx + (size_t)iy * 16, dw16_row(acc, g, H, iy, w, 1));
        }
    }
    for (int t = 0; t < 9; t++)
        dw[t] += _mm512_reduce_add_ps(gw[t]);
}
#else
#define DW4 0
#endif

/* Depthwise forward of one channel, any stride, row loops. */
static void dw_forward_rows(real *out /* (N, Ho, Wo) */, const real *in /* (N, H, W) */,
                            const real *w /* (k, k) */, real b, const conv2d_shape *s)
{
    const int k = s->k, st = s->stride, p = s->pad, H = s->H, W = s->W, Ho = s->Ho, Wo = s->Wo;
    for (int n = 0; n < s->N; n++) {
        const real *img = in + (size_t)n * H * W;
        for (int oy = 0; oy < Ho; oy++) {
            real *o = out + ((size_t)n * Ho + oy) * Wo;
            for (int ox = 0; ox < Wo; ox++)
                o[ox] = b;
            for (int ki = 0; ki < k; ki++) {
                const int iy = oy * st - p + ki;
                if (iy < 0 || iy >= H)
                    continue;
                for (int kj = 0; kj < k; kj++) {
                    int lo, hi;
                    tap_range(&lo, &hi, W, Wo, kj, st, p);
                    const real wv = w[ki * k + kj];
                    const real *r = img + (size_t)iy * W;
                    const int off = kj - p; /* output ox reads r[ox*st + off] */
                    if (st == 1) {
#pragma omp simd
                        for (int ox = lo; ox < hi; ox++)
                            o[ox] += wv * r[ox + off];
                    } else {
                        for (int ox = lo; ox < hi; ox++)
                            o[ox] += wv * r[ox * st + off];
                    }
                }
            }
        }
    }
}

/* Depthwise backward of one channel, stride 1, through stack tiles.
 * dw[tap] += <dout, input shifted by the tap>; the padded input gradient is
 *   dpin[r] = sum over taps of w[ki, kj] * dout[r - ki*Wp - kj],
 * the forward loop over dout (with `front` zeros ahead) and the flipped
 * kernel. */
static void dw_backward_tiled(real *din /* (N, H, W) or NULL */, real *dw /* (k, k) */,
                              const real *dout /* (N, Ho, Wo) */, const real *in /* (N, H, W) */,
                              const real *w /* (k, k) */, const conv2d_shape *s,
                              const dw_tile *t, int add)
{
    real pin[DW_TILE];  /* padded input, then its gradient */
    real gbuf[DW_TILE];  /* front zeros, then dout in tile positions */
    real wflip[DW_KMAX * DW_KMAX];
    const int k = s->k, H = s->H, W = s->W, Ho = s->Ho, Wo = s->Wo, p = s->pad, Wp = t->Wp;
    real *pd = gbuf + t->front;
    for (int i = 0; i < k * k; i++)
        wflip[i] = w[k * k - 1 - i];
    /* the front and the dropped positions stay zero */
    memset(gbuf, 0, ((size_t)t->front + (size_t)t->nb * t->plane) * sizeof *gbuf);
    for (int n0 = 0; n0 < s->N; n0 += t->nb) {
        const int m = s->N - n0 < t->nb ? s->N - n0 : t->nb;
        const int L = dw_tile_len(t, s, m);
        for (int i = 0; i < m; i++)
            rows_copy(pd + i * t->plane, Wp, dout + (size_t)(n0 + i) * Ho * Wo, Wo, Ho, Wo);
        memset(pin, 0, (size_t)m * t->plane * sizeof *pin);
        dw_tile_load(pin, in, t, s, n0, m);
        dw_dots(dw, pd, pin, k, Wp, L);
        if (!din)
            continue;
        /* dpin over the positions of the input interior: up to the last
         * interior element of image m-1 */
        const int Lin = ((m - 1) * t->Hp + p + H - 1) * Wp + p + W;
        memset(pin, 0, (size_t)Lin * sizeof *pin);
        dw_taps(pin, gbuf, wflip, k, Wp, Lin);
        for (int i = 0; i < m; i++)
            rows_apply(din + (size_t)(n0 + i) * H * W, W,
                       pin + (size_t)i * t->plane + (size_t)p * Wp + p, Wp, H, W, add);
    }
}

/* Depthwise backward of one channel, any stride, row loops. */
static void dw_backward_rows(real *din /* (N, H, W) or NULL */, real *dw /* (k, k) */,
                             const real *dout /* (N, Ho, Wo) */, const real *in /* (N, H, W) */,
                             const real *w /* (k, k) */, const conv2d_shape *s, int add)
{
    const int k = s->k, st = s->stride, p = s->pad, H = s->H, W = s->W, Ho = s->Ho, Wo = s->Wo;
    for (int ki = 0; ki < k; ki++) {
        int ylo, yhi;
        tap_range(&ylo, &yhi, H, Ho, ki, st, p);
        for (int kj = 0; kj < k; kj++) {
            int lo, hi;
            tap_range(&lo, &hi, W, Wo, kj, st, p);
            real acc = 0;
            for (int n = 0; n < s->N; n++)
                for (int oy = ylo; oy < yhi; oy++) {
                    const real *g = dout + ((size_t)n * Ho + oy) * Wo;
                    const real *r = in + ((size_t)n * H + oy * st - p + ki) * W;
                    const int off = kj - p;
                    if (st == 1) {
#pragma omp simd reduction(+ : acc)
                        for (int ox = lo; ox < hi; ox++)
                            acc += g[ox] * r[ox + off];
                    } else {
                        for (int ox = lo; ox < hi; ox++)
                            acc += g[ox] * r[ox * st + off];
                    }
                }
            dw[ki * k + kj] += acc;
        }
    }
    if (!din)
        return;
    if (!add)
        memset(din, 0, (size_t)s->N * H * W * sizeof *din);
    for (int n = 0; n < s->N; n++)
        for (int oy = 0; oy < Ho; oy++) {
            const real *g = dout + ((size_t)n * Ho + oy) * Wo;
            for (int ki = 0; ki < k; ki++) {
                const int iy = oy * st - p + ki;
                if (iy < 0 || iy >= H)
                    continue;
                for (int kj = 0; kj < k; kj++) {
                    int lo, hi;
                    tap_range(&lo, &hi, W, Wo, kj, st, p);
                    const real wv = w[ki * k + kj];
                    real *r = din + ((size_t)n * H + iy) * W;
                    const int off = kj - p;
                    if (st == 1) {
#pragma omp simd
                        for (int ox = lo; ox < hi; ox++)
                            r[ox + off] += wv * g[ox];
                    } else {
                        for (int ox = lo; ox < hi; ox++)
                            r[ox * st + off] += wv * g[ox];
                    }
                }
            }
        }
}

/* Sum of x[0..n), fixed order. */
static real sum_row(const real *x, size_t n)
{
    real acc = 0;
#pragma omp simd reduction(+ : acc)
    for (size_t i = 0; i < n; i++)
        acc += x[i];
    return acc;
}

/* out[c, :] = bias[c] for every channel, the GEMM then adds with beta 1. */
static void fill_bias(sim_ctx *ctx, real *out /* (C, P) */, const real *bias /* (C) */, int C,
                      int P)
{
#pragma omp parallel for num_threads(ctx->threads) schedule(static)
    for (int c = 0; c < C; c++) {
        real *o = out + (size_t)c * P, b = bias[c];
        for (int i = 0; i < P; i++)
            o[i] = b;
    }
}

/* out (Co, P) = w (Co, K) * x (K, P) + bias (Co) or NULL. The bias goes in
 * piece by piece with the product where blas_gemm_bias_par cuts it into
 * pieces, else in one pass ahead of a GEMM with beta 1; either way the same
 * sums for any thread count. */
static void gemm_bias(sim_ctx *ctx, real *out /* (Co, P) */, const real *w /* (Co, K) */,
                      const real *x /* (K, P) */, const real *bias /* (Co) or NULL */, int Co,
                      int K, int P)
{
    if (bias && blas_gemm_bias_par(ctx->threads, BLAS_N, Co, P, K, w, K, x, P, bias, out, P))
        return;
    if (bias)
        fill_bias(ctx, out, bias, Co, P);
    blas_gemm_par(ctx->threads, BLAS_N, BLAS_N, Co, P, K, 1, w, K, x, P, bias ? 1 : 0, out, P);
}

/* dbias[c] += sum over the plane of dout[c]. */
static void bias_backward(sim_ctx *ctx, real *dbias /* (C) */, const real *dout /* (C, P) */,
                          int C, int P)
{
#pragma omp parallel for num_threads(ctx->threads) schedule(static)
    for (int c = 0; c < C; c++)
        dbias[c] += sum_row(dout + (size_t)c * P, (size_t)P);
}

/* col[(ci, ki, kj), (n, oy, ox)] = in[ci, n, oy*st - p + ki, ox*st - p + kj]
 * or 0 in the padding, for the Cg input channels of one group. */
/* The rows of one tap over the batch: d[(n, oy), ox] = the input at
 * (oy*st - p + ki, ox*st + off), 0 in the padding. Inlined with constant
 * Wo and stride, the row loop is a few masked vector moves. */
static inline __attribute__((always_inline)) void
im2col_tap(real *restrict dst, const real *restrict src, int N, int H, int W, int Ho, int ki, int p,
           int ylo, int yhi, int xlo, int xhi, int off, const int Wo, const int st)
{
    for (int n = 0; n < N; n++)
        for (int oy = 0; oy < Ho; oy++) {
            real *restrict d = dst + ((size_t)n * Ho + oy) * Wo;
            if (oy < ylo || oy >= yhi) {
                for (int ox = 0; ox < Wo; ox++)
                    d[ox] = 0;
                continue;
            }
            const real *restrict a = src + ((size_t)n * H + oy * st - p + ki) * W;
            for (int ox = 0; ox < Wo; ox++)
                d[ox] = ox >= xlo && ox < xhi ? a[ox * st + off] : 0;
        }
}

/* Stride 1: the inside of a row is one contiguous copy. */
static void im2col_tap_s1(real *dst, const real *src, int N, int H, int W, int Ho, int ki, int p,
                          int ylo, int yhi, int xlo, int xhi, int off, int Wo)
{
    for (int n = 0; n < N; n++)
        for (int oy = 0; oy < Ho; oy++) {
            real *d = dst + ((size_t)n * Ho + oy) * Wo;
            if (oy < ylo || oy >= yhi) {
                memset(d, 0, (size_t)Wo * sizeof *d);
                continue;
            }
            const real *a = src + ((size_t)n * H + oy - p + ki) * W;
            memset(d, 0, (size_t)xlo * sizeof *d);
            memcpy(d + xlo, a + xlo + off, (size_t)(xhi - xlo) * sizeof *d);
            memset(d + xhi, 0, (size_t)(Wo - xhi) * sizeof *d);
        }
}

static void im2col(sim_ctx *ctx, real *col /* (Cg*k*k, N*Ho*Wo) */,
                   const real *in /* (Cg, N, H, W) */, int Cg, const conv2d_shape *s)
{
    const int k = s->k, st = s->stride, p = s->pad, N = s->N, H = s->H, W = s->W, Ho = s->Ho,
              Wo = s->Wo, rows = Cg * k * k;
    const size_t P = (size_t)N * Ho * Wo;
#pragma omp parallel for num_threads(ctx->threads) schedule(static)
    for (int r = 0; r < rows; r++) {
        const int ci = r / (k * k), ki = r / k % k, kj = r % k;
        int ylo, yhi, xlo, xhi;
        tap_range(&ylo, &yhi, H, Ho, ki, st, p);
        tap_range(&xlo, &xhi, W, Wo, kj, st, p);
        const real *src = in + (size_t)ci * N * H * W;
        real *dst = col + (size_t)r * P;
        const int off = kj - p; /* output ox reads input column ox*st + off */
        if (st == 2 && Wo == 8)
            im2col_tap(dst, src, N, H, W, Ho, ki, p, ylo, yhi, xlo, xhi, off, 8, 2);
        else if (st == 2 && Wo == 4)
            im2col_tap(dst, src, N, H, W, Ho, ki, p, ylo, yhi, xlo, xhi, off, 4, 2);
        else if (st == 2 && Wo == 16)
            im2col_tap(dst, src, N, H, W, Ho, ki, p, ylo, yhi, xlo, xhi, off, 16, 2);
        else if (st == 1)
            im2col_tap_s1(dst, src, N, H, W, Ho, ki, p, ylo, yhi, xlo, xhi, off, Wo);
        else
            im2col_tap(dst, src, N, H, W, Ho, ki, p, ylo, yhi, xlo, xhi, off, Wo, st);
    }
}

/* din += col scattered back (the adjoint of im2col), or din = it when add
 * is 0, parallel over input channels; each channel sums its k*k rows in a
 * fixed order. */
static void col2im(sim_ctx *ctx, real *din /* (Cg, N, H, W) */,
                   const real *col /* (Cg*k*k, N*Ho*Wo) */, int Cg, const conv2d_shape *s,
                   int add)
{
    const int k = s->k, st = s->stride, p = s->pad, N = s->N, H = s->H, W = s->W, Ho = s->Ho,
              Wo = s->Wo;
    const size_t P = (size_t)N * Ho * Wo;
#pragma omp parallel for num_threads(ctx->threads) schedule(static)
    for (int ci = 0; ci < Cg; ci++) {
        real *dst = din + (size_t)ci * N * H * W;
        if (!add)
            memset(dst, 0, (size_t)N * H * W * sizeof *dst);
        for (int ki = 0; ki < k; ki++) {
            int ylo, yhi;
            tap_range(&ylo, &yhi, H, Ho, ki, st, p);
            for (int kj = 0; kj < k; kj++) {
                int xlo, xhi;
                tap_range(&xlo, &xhi, W, Wo, kj, st, p);
                const int off = kj - p;
                const real *src = col + ((size_t)ci * k * k + ki * k + kj) * P;
                for (int n = 0; n < N; n++)
                    for (int oy = ylo; oy < yhi; oy++) {
                        const real *c = src + ((size_t)n * Ho + oy) * Wo;
                        real *d = dst + ((size_t)n * H + oy * st - p + ki) * W;
                        if (st == 1) {
#pragma omp simd
                            for (int ox = xlo; ox < xhi; ox++)
                                d[ox + off] += c[ox];
                        } else {
                            for (int ox = xlo; ox < xhi; ox++)
                                d[ox * st + off] += c[ox];
                        }
                    }
            }
        }
    }
}

/* ========================= sparse spike path ========================= */

int conv2d_spikes_sparse(const conv2d_shape *s, const real *in /* (Ci, N, H, W) */)
{
    const double dens = conv2d_sparse_density(s);
    if (dens <= 0)
        return 0;
    const size_t n = (size_t)s->Ci * s->N * s->H * s->W, chunk = 4096;
    const double lim = dens * (double)n;
    size_t ones = 0;
    /* chunk by chunk, so that real-valued activations (and dense spikes)
     * are turned away after a small part; the chunk's sums are int and
     * real so that the loop is a few vector instructions per element */
    for (size_t o = 0; o < n; o += chunk) {
        const int m = n - o < chunk ? (int)(n - o) : (int)chunk;
        const real *x = in + o;
        int bad = 0, c = 0;
#pragma omp simd reduction(| : bad) reduction(+ : c)
        for (int i = 0; i < m; i++) {
            const real v = x[i];
            bad |= (v != 0) & (v != 1); /* NaN too */
            c += v != 0;
        }
        ones += (size_t)c;
        if (bad || (double)ones >= lim)
            return 0;
    }
    return 1;
}

/* Positions per tile of the sparse path with M output channels: as many as
 * fit SP_ACC, a multiple of SP_TMIN, at most 512. */
static int sp_tile(int M)
{
    const int t = SP_ACC / M / SP_TMIN * SP_TMIN;
    return t > SP_TMAX ? SP_TMAX : t;
}

/* Bit j set when x[j] != 0, j < n <= 64. */
static inline uint64_t sp_mask(const real *x, int n)
{
    uint64_t m = 0;
    int j = 0;
#if defined(__AVX512F__) && REAL_IS_DOUBLE
    for (; j + 8 <= n; j += 8)
        m |= (uint64_t)_mm512_cmp_pd_mask(_mm512_loadu_pd(x + j), _mm512_setzero_pd(), _CMP_NEQ_UQ)
             << j;
#elif defined(__AVX512F__)
    for (; j + 16 <= n; j += 16)
        m |= (uint64_t)_mm512_cmp_ps_mask(_mm512_loadu_ps(x + j), _mm512_setzero_ps(), _CMP_NEQ_UQ)
             << j;
#elif defined(__AVX2__) && REAL_IS_DOUBLE
    for (; j + 4 <= n; j += 4)
        m |= (uint64_t)_mm256_movemask_pd(
                 _mm256_cmp_pd(_mm256_loadu_pd(x + j), _mm256_setzero_pd(), _CMP_NEQ_UQ))
             << j;
#elif defined(__AVX2__)
    for (; j + 8 <= n; j += 8)
        m |= (uint64_t)_mm256_movemask_ps(
                 _mm256_cmp_ps(_mm256_loadu_ps(x + j), _mm256_setzero_ps(), _CMP_NEQ_UQ))
             << j;
#endif
    for (; j < n; j++)
        m |= (uint64_t)(x[j] != 0) << j;
    return m;
}

/* n <= 64 bits of a bitmap row from bit o on (neurons/spike.h layout). */
static inline uint64_t sp_bits(const uint64_t *row, size_t o, int n)
{
    const size_t q = o / 64, sh = o % 64;
    uint64_t m = row[q] >> sh;
    if (sh && (int)(64 - sh) < n)
        m |= row[q + 1] << (64 - sh);
    return n < 64 ? m & ((UINT64_C(1) << n) - 1) : m;
}

/* For every one S[k, p0 + j] (k < K, j < n), add a row of M values:
 *   fwd: d = acc + j*M (a position), a = src + k*M (a weight column);
 *   else d = acc + k*M (an input channel), a = src + j*M (a gradient column).
 * S is real (rows of ldS values) or, with bits, a bitmap (rows of ldS
 * words). Inlined with constant M, each add is a few vector instructions. */
static inline __attribute__((always_inline)) void
sp_tile_adds(real *restrict acc, const real *restrict src, const void *S, size_t ldS, size_t p0,
             int K, int n, int M, int fwd, int bits)
{
    for (int k = 0; k < K; k++) {
        const real *srow = bits ? NULL : (const real *)S + (size_t)k * ldS + p0;
        const uint64_t *brow = bits ? (const uint64_t *)S + (size_t)k * ldS : NULL;
        for (int j0 = 0; j0 < n; j0 += 64) {
            const int len = n - j0 < 64 ? n - j0 : 64;
            uint64_t m = bits ? sp_bits(brow, p0 + (size_t)j0, len) : sp_mask(srow + j0, len);
            while (m) {
                const int j = j0 + __builtin_ctzll(m);
                m &= m - 1;
                real *d = fwd ? acc + (size_t)j * M : acc + (size_t)k * M;
                const real *a = fwd ? src + (size_t)k * M : src + (size_t)j * M;
#pragma omp simd
                for (int i = 0; i < M; i++)
                    d[i] += a[i];
            }
        }
    }
}

/* sp_tile_adds with the model's channel counts as constants. */
static void sp_adds(real *acc, const real *src, const void *S, size_t ldS, size_t p0, int K, int n,
                    int M, int fwd, int bits)
{
#define SP_CASE(m)                                                                                 \
    case m:                                                                                        \
        if (fwd && bits)                                                                           \
            sp_tile_adds(acc, src, S, ldS, p0, K, n, m, 1, 1);                                     \
        else if (fwd)                                                                              \
            sp_tile_adds(acc, src, S, ldS, p0, K, n, m, 1, 0);                                     \
        else if (bits)                                                                             \
            sp_tile_adds(acc, src, S, ldS, p0, K, n, m, 0, 1);                                     \
        else                                                                                       \
            sp_tile_adds(acc, src, S, ldS, p0, K, n, m, 0, 0);                                     \
        return;
    switch (M) {
        SP_CASE(8)
        SP_CASE(16)
        SP_CASE(32)
        SP_CASE(64)
        SP_CASE(128)
    default:
        sp_tile_adds(acc, src, S, ldS, p0, K, n, M, fwd, bits);
    }
#undef SP_CASE
}

/* out (M, P) = w (M, K) S (K, P) + bias (M) or 0, S binary: real (K, P),
 * or a bitmap (K, spike_words(P)) with bits. Parallel over position tiles;
 * each output value adds its bias, then the weights of its ones in order of
 * k. wt (K, M) is scratch. */
static void sp_forward(sim_ctx *ctx, real *out /* (M, P) */, const real *w /* (M, K) */,
                       const void *S, int bits, const real *bias /* (M) or NULL */, int M, int K,
                       size_t P, real *wt /* (K, M) */)
{
    const size_t ldS = bits ? spike_words(P) : P;
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++)
            wt[(size_t)k * M + i] = w[(size_t)i * K + k];
    const int tp = sp_tile(M);
    const long nt = (long)((P + (size_t)tp - 1) / (size_t)tp);
#pragma omp parallel for num_threads(ctx->threads) schedule(static) if (nt > 1 && K * P >= SP_PAR_MIN)
    for (long t = 0; t < nt; t++) {
        real acc[SP_ACC]; /* (n, M) */
        const size_t p0 = (size_t)t * tp;
        const int n = P - p0 < (size_t)tp ? (int)(P - p0) : tp;
        for (int j = 0; j < n; j++)
            for (int i = 0; i < M; i++)
                acc[j * M + i] = bias ? bias[i] : 0;
        sp_adds(acc, wt, S, ldS, p0, K, n, M, 1, bits);
        for (int i = 0; i < M; i++) {
            real *o = out + (size_t)i * P + p0;
            for (int j = 0; j < n; j++)
                o[j] = acc[j * M + i];
        }
    }
}

/* dw (M, K) += G (M, P) S (K, P)^T, S binary: dw[i, k] += the sum of
 * G[i, p] over the ones S[k, p]. Fixed segments of positions (sp_nseg) sum
 * in position order into their own (K, M) partial in scratch; the partials
 * are added in segment order. */
static void sp_wgrad(sim_ctx *ctx, real *dw /* (M, K) */, const real *G /* (M, P) */,
                     const void *S /* as sp_forward */, int bits, int M, int K, size_t P,
                     real *part /* (nseg, K, M) */)
{
    const size_t ldS = bits ? spike_words(P) : P;
    const int nseg = sp_nseg(P), tp = sp_tile(M);
    const size_t KM = (size_t)K * M;
#pragma omp parallel for num_threads(ctx->threads) schedule(static) if (nseg > 1)
    for (int sg = 0; sg < nseg; sg++) {
        real gt[SP_ACC]; /* (n, M): a tile of G transposed */
        real *acc = part + (size_t)sg * KM;
        memset(acc, 0, KM * sizeof *acc);
        const size_t a = P * sg / nseg, b = P * (sg + 1) / nseg;
        for (size_t p0 = a; p0 < b; p0 += tp) {
            const int n = b - p0 < (size_t)tp ? (int)(b - p0) : tp;
            for (int i = 0; i < M; i++) {
                const real *g = G + (size_t)i * P + p0;
                for (int j = 0; j < n; j++)
                    gt[j * M + i] = g[j];
            }
            sp_adds(acc, gt, S, ldS, p0, K, n, M, 0, bits);
        }
    }
#pragma omp parallel for num_threads(ctx->threads) schedule(static) if (nseg * KM >= SP_PAR_MIN)
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++) {
            real v = part[(size_t)k * M + i];
            for (int sg = 1; sg < nseg; sg++)
                v += part[(size_t)sg * KM + (size_t)k * M + i];
            dw[(size_t)i * K + k] += v;
        }
}

void conv2d_forward(sim_ctx *ctx, real *out /* (Co, N, Ho, Wo) */,
                    const real *in /* (Ci, N, H, W) */, const real *w /* (Co, Ci/g, k, k) */,
                    const real *bias /* (Co) or NULL */, real *scratch, const conv2d_shape *s)
{
    const int N = s->N, g = s->groups, Cg = s->Ci / g, Cog = s->Co / g, kk = s->k * s->k;
    const size_t HW = (size_t)s->H * s->W, P = (size_t)N * s->Ho * s->Wo;
    const int sparse = conv2d_spikes_sparse(s, in);
    real *spscr = sparse ? scratch + col_elems(s) : NULL;
    assert(!sparse || scratch);
    switch (conv2d_algo_of(s)) {
    case CONV2D_DEPTHWISE: {
        dw_tile t;
        const int tiled = dw_tile_of(s, &t);
#if DW4
        const int dw4 = dw4_applies(s), dw16 = dw16_applies(s);
        dw4_perm d4;
        if (dw4) /* only for 4x4 planes */
            d4 = dw4_perms();
#endif
#pragma omp parallel for num_threads(ctx->threads) schedule(static)
        for (int c = 0; c < s->Co; c++) {
            real *o = out + (size_t)c * P;
            const real *x = in + (size_t)c * N * HW, *wc = w + (size_t)c * kk;
            const real b = bias ? bias[c] : 0;
#if DW4
            if (dw4) {
                dw4_forward(o, x, wc, b, N, &d4);
                continue;
            }
            if (dw16) {
                dw16_forward(o, x, wc, b, N, s->H);
                continue;
            }
#endif
            if (tiled)
                dw_forward_tiled(o, x, wc, b, s, &t);
            else
                dw_forward_rows(o, x, wc, b, s);
        }
        break;
    }
    case CONV2D_GEMM_1X1:
        for (int gi = 0; gi < g; gi++) {
            real *og = out + (size_t)gi * Cog * P;
            const real *wg = w + (size_t)gi * Cog * Cg, *xg = in + (size_t)gi * Cg * P;
            const real *bg = bias ? bias + (size_t)gi * Cog : NULL;
            if (sparse)
                sp_forward(ctx, og, wg, xg, 0, bg, Cog, Cg, P, spscr);
            else
                gemm_bias(ctx, og, wg, xg, bg, Cog, Cg, (int)P);
        }
        break;
    case CONV2D_IM2COL:
        assert(scratch);
        for (int gi = 0; gi < g; gi++) {
            real *og = out + (size_t)gi * Cog * P;
            const real *wg = w + (size_t)gi * Cog * Cg * kk;
            const real *bg = bias ? bias + (size_t)gi * Cog : NULL;
            im2col(ctx, scratch, in + (size_t)gi * Cg * N * HW, Cg, s);
            if (sparse)
                sp_forward(ctx, og, wg, scratch, 0, bg, Cog, Cg * kk, P, spscr);
            else
                gemm_bias(ctx, og, wg, scratch, bg, Cog, Cg * kk, (int)P);
        }
        break;
    }
}

/* conv2d_backward (add 1) and conv2d_backward_set (add 0). */
static void backward(sim_ctx *ctx, real *din, real *dw, real *dbias, const real *dout,
                     const real *in, const real *w, real *scratch, const conv2d_shape *s, int add)
{
    assert(dw);
    const int N = s->N, g = s->groups, Cg = s->Ci / g, Cog = s->Co / g, kk = s->k * s->k;
    const size_t HW = (size_t)s->H * s->W, P = (size_t)N * s->Ho * s->Wo, NHW = (size_t)N * HW;
    const int sparse = conv2d_spikes_sparse(s, in);
    real *spscr = sparse ? scratch + col_elems(s) : NULL;
    assert(!sparse || scratch);
    if (dbias)
        bias_backward(ctx, dbias, dout, s->Co, (int)P);
    switch (conv2d_algo_of(s)) {
    case CONV2D_DEPTHWISE: {
        dw_tile t;
        const int tiled = dw_tile_of(s, &t);
#if DW4
        const int dw4 = dw4_applies(s), dw16 = dw16_applies(s);
        dw4_perm d4;
        if (dw4) /* only for 4x4 planes */
            d4 = dw4_perms();
#endif
#pragma omp parallel for num_threads(ctx->threads) schedule(static)
        for (int c = 0; c < s->Co; c++) {
            real *dx = din ? din + (size_t)c * NHW : NULL;
            const real *x = in + (size_t)c * NHW, *go = dout + (size_t)c * P;
#if DW4
            if (dw4) {
                dw4_backward(dx, dw + (size_t)c * kk, go, x, w + (size_t)c * kk, N, add, &d4);
                continue;
            }
            if (dw16) {
                dw16_backward(dx, dw + (size_t)c * kk, go, x, w + (size_t)c * kk, N, s->H, add);
                continue;
            }
#endif
            if (tiled)
                dw_backward_tiled(dx, dw + (size_t)c * kk, go, x, w + (size_t)c * kk, s, &t, add);
            else
                dw_backward_rows(dx, dw + (size_t)c * kk, go, x, w + (size_t)c * kk, s, add);
        }
        break;
    }
    case CONV2D_GEMM_1X1:
        for (int gi = 0; gi < g; gi++) {
            const real *wg = w + (size_t)gi * Cog * Cg, *dog = dout + (size_t)gi * Cog * P;
            const real *xg = in + (size_t)gi * Cg * P;
            /* dW (Cog, Cg) += dout (Cog, P) * in^T (P, Cg) */
            if (sparse)
                sp_wgrad(ctx, dw + (size_t)gi * Cog * Cg, dog, xg, 0, Cog, Cg, P, spscr);
            else
                blas_gemm_par(ctx->threads, BLAS_N, BLAS_T, Cog, Cg, (int)P, 1, dog, (int)P, xg,
                              (int)P, 1, dw + (size_t)gi * Cog * Cg, Cg);
            /* din (Cg, P) (+)= W^T (Cg, Cog) * dout (Cog, P) */
            if (din)
                blas_gemm_par(ctx->threads, BLAS_T, BLAS_N, Cg, (int)P, Cog, 1, wg, Cg, dog, (int)P,
                              add ? 1 : 0, din + (size_t)gi * Cg * P, (int)P);
        }
        break;
    case CONV2D_IM2COL:
        assert(scratch);
        for (int gi = 0; gi < g; gi++) {
            const real *wg = w + (size_t)gi * Cog * Cg * kk, *dog = dout + (size_t)gi * Cog * P;
            im2col(ctx, scratch, in + (size_t)gi * Cg * NHW, Cg, s);
            /* dW (Cog, Cg*k*k) += dout (Cog, P) * col^T (P, Cg*k*k) */
            if (sparse)
                sp_wgrad(ctx, dw + (size_t)gi * Cog * Cg * kk, dog, scratch, 0, Cog, Cg * kk, P,
                         spscr);
            else
                blas_gemm_par(ctx->threads, BLAS_N, BLAS_T, Cog, Cg * kk, (int)P, 1, dog, (int)P,
                              scratch, (int)P, 1, dw + (size_t)gi * Cog * Cg * kk, Cg * kk);
            if (!din)
                continue;
            /* dcol (Cg*k*k, P) = W^T (Cg*k*k, Cog) * dout (Cog, P), then scatter */
            blas_gemm_par(ctx->threads, BLAS_T, BLAS_N, Cg * kk, (int)P, Cog, 1, wg, Cg * kk, dog,
                          (int)P, 0, scratch, (int)P);
            col2im(ctx, din + (size_t)gi * Cg * NHW, scratch, Cg, s, add);
        }
        break;
    }
}

void conv2d_backward(sim_ctx *ctx, real *din /* (Ci, N, H, W) or NULL */,
                     real *dw /* (Co, Ci/g, k, k) */, real *dbias /* (Co) or NULL */,
                     const real *dout /* (Co, N, Ho, Wo) */, const real *in /* (Ci, N, H, W) */,
                     const real *w /* (Co, Ci/g, k, k) */, real *scratch, const conv2d_shape *s)
{
    backward(ctx, din, dw, dbias, dout, in, w, scratch, s, 1);
}

void conv2d_backward_set(sim_ctx *ctx, real *din /* (Ci, N, H, W) */,
                         real *dw /* (Co, Ci/g, k, k) */, real *dbias /* (Co) or NULL */,
                         const real *dout /* (Co, N, Ho, Wo) */, const real *in /* (Ci, N, H, W) */,
                         const real *w /* (Co, Ci/g, k, k) */, real *scratch,
                         const conv2d_shape *s)
{
    backward(ctx, din, dw, dbias, dout, in, w, scratch, s, 0);
}

/* ---- 1x1 convs of bitmap inputs (neurons/spike.h layout) ---- */

/* 1 when a bitmap of `ones` ones takes the sparse path of s. */
static int bits_sparse(const conv2d_shape *s, size_t ones)
{
    const double dens = conv2d_sparse_density(s);
    return dens > 0 && (double)ones < dens * (double)s->Ci * s->N * s->H * s->W;
}

void conv2d_forward_bits(sim_ctx *ctx, real *out, const uint64_t *in, size_t ones, const real *w,
                         const real *bias, real *scratch, real *dense, const conv2d_shape *s)
{
    assert(conv2d_algo_of(s) == CONV2D_GEMM_1X1 && s->groups == 1);
    const size_t P = (size_t)s->N * s->Ho * s->Wo;
    if (bits_sparse(s, ones)) {
        sp_forward(ctx, out, w, in, 1, bias, s->Co, s->Ci, P, scratch);
        return;
    }
    spike_bits_expand(dense, in, s->Ci, P);
    conv2d_forward(ctx, out, dense, w, bias, scratch, s);
}

void conv2d_backward_bits_set(sim_ctx *ctx, real *din, real *dw, real *dbias, const real *dout,
                              const uint64_t *in, size_t ones, const real *w, real *scratch,
                              real *dense, const conv2d_shape *s)
{
    assert(conv2d_algo_of(s) == CONV2D_GEMM_1X1 && s->groups == 1);
    const size_t P = (size_t)s->N * s->Ho * s->Wo;
    if (!bits_sparse(s, ones)) {
        spike_bits_expand(dense, in, s->Ci, P);
        conv2d_backward_set(ctx, din, dw, dbias, dout, dense, w, scratch, s);
        return;
    }
    if (dbias)
        bias_backward(ctx, dbias, dout, s->Co, (int)P);
    sp_wgrad(ctx, dw, dout, in, 1, s->Co, s->Ci, P, scratch);
    if (din)
        blas_gemm_par(ctx->threads, BLAS_T, BLAS_N, s->Ci, (int)P, s->Co, 1, w, s->Ci, dout,
                      (int)P, 0, din, (int)P);
}
