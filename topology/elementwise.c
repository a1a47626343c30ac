/* elementwise.c - nearest x2 upsampling, global average pooling, leaky ReLU
 * and the per-channel scale-and-add (gamma and alpha terms), forward and
 * backward. Backward functions accumulate (+=). Sums over a plane are taken
 * in double so the float build stays accurate on large planes. */
#include "elementwise.h"

#include <assert.h>

void upsample2x_forward(real *out /* (rows, 2H, 2W) */, const real *in /* (rows, H, W) */,
                        int rows, int H, int W)
{
    const size_t W2 = 2 * (size_t)W;
    for (int r = 0; r < rows; r++)
        for (int y = 0; y < H; y++) {
            const real *src = in + ((size_t)r * H + y) * W;
            real *d0 = out + ((size_t)r * 2 * H + 2 * (size_t)y) * W2;
            real *d1 = d0 + W2;
            for (int x = 0; x < W; x++) {
                real v = src[x];
                d0[2 * x] = d0[2 * x + 1] = v;
                d1[2 * x] = d1[2 * x + 1] = v;
            }
        }
}

static void up_backward(real *din, const real *dout, int rows, int H, int W, int add)
{
    const size_t W2 = 2 * (size_t)W;
    for (int r = 0; r < rows; r++)
        for (int y = 0; y < H; y++) {
            real *dst = din + ((size_t)r * H + y) * W;
            const real *s0 = dout + ((size_t)r * 2 * H + 2 * (size_t)y) * W2;
            const real *s1 = s0 + W2;
            for (int x = 0; x < W; x++) {
                const real g = (s0[2 * x] + s0[2 * x + 1]) + (s1[2 * x] + s1[2 * x + 1]);
                dst[x] = add ? dst[x] + g : g;
            }
        }
}

void upsample2x_backward(real *din /* (rows, H, W) */, const real *dout /* (rows, 2H, 2W) */,
                         int rows, int H, int W)
{
    up_backward(din, dout, rows, H, W, 1);
}

void upsample2x_backward_set(real *din /* (rows, H, W) */, const real *dout /* (rows, 2H, 2W) */,
                             int rows, int H, int W)
{
    up_backward(din, dout, rows, H, W, 0);
}

void gap_forward(real *out /* (rows) */, const real *in /* (rows, HW) */, int rows, int HW)
{
    assert(HW >= 1);
    for (int r = 0; r < rows; r++) {
        const real *x = in + (size_t)r * HW;
        double s = 0;
        for (int i = 0; i < HW; i++)
            s += (double)x[i];
        out[r] = (real)(s / HW);
    }
}

void gap_backward(real *din /* (rows, HW) */, const real *dout /* (rows) */, int rows, int HW)
{
    assert(HW >= 1);
    for (int r = 0; r < rows; r++) {
        real g = (real)((double)dout[r] / HW);
        real *dx = din + (size_t)r * HW;
        for (int i = 0; i < HW; i++)
            dx[i] += g;
    }
}

void leaky_relu_forward(real *out /* (n) */, const real *in /* (n) */, size_t n, real slope)
{
    for (size_t i = 0; i < n; i++) {
        real x = in[i];
        out[i] = x >= 0 ? x : slope * x;
    }
}

void leaky_relu_backward(real *din /* (n) */, const real *dout /* (n) */, const real *in /* (n) */,
                         size_t n, real slope)
{
    for (size_t i = 0; i < n; i++) {
        real g = dout[i];
        din[i] += in[i] >= 0 ? g : slope * g;
    }
}

void add_forward(real *out, const real *a, const real *b, size_t n)
{
#pragma omp parallel for schedule(static) if (n >= ELEMENTWISE_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

void scale_add_forward(real *out /* (C, M) */, const real *a /* (C, M) */, const real *s /* (C) */,
                       const real *b /* (C, M) */, int C, size_t M)
{
#pragma omp parallel for schedule(static) if ((size_t)C * M >= ELEMENTWISE_PAR_MIN)
    for (int c = 0; c < C; c++) {
        const size_t o = (size_t)c * M;
        const real sc = s[c];
        for (size_t m = 0; m < M; m++)
            out[o + m] = a[o + m] + sc * b[o + m];
    }
}

/* scale_add_backward (add_db 1) and scale_add_backward_set (add_db 0). */
static void sa_backward(real *da, real *ds, real *db, const real *dout, const real *s,
                        const real *b, int C, size_t M, int add_db)
{
    /* one thread per channel: the ds sum keeps its order for any thread count */
#pragma omp parallel for schedule(static) if ((size_t)C * M >= ELEMENTWISE_PAR_MIN)
    for (int c = 0; c < C; c++) {
        const size_t o = (size_t)c * M;
        if (ds) {
            double acc = 0;
            for (size_t m = 0; m < M; m++)
                acc += (double)dout[o + m] * (double)b[o + m];
            ds[c] += (real)acc;
        }
        if (da)
            for (size_t m = 0; m < M; m++)
                da[o + m] += dout[o + m];
        if (db) {
            const real sc = s[c];
            for (size_t m = 0; m < M; m++)
                db[o + m] = add_db ? db[o + m] + sc * dout[o + m] : sc * dout[o + m];
        }
    }
}

void scale_add_backward(real *da /* (C, M) or NULL */, real *ds /* (C) or NULL */,
                        real *db /* (C, M) or NULL */, const real *dout /* (C, M) */,
                        const real *s /* (C) */, const real *b /* (C, M) */, int C, size_t M)
{
    sa_backward(da, ds, db, dout, s, b, C, M, 1);
}

void scale_add_backward_set(real *ds /* (C) or NULL */, real *db /* (C, M) */,
                            const real *dout /* (C, M) */, const real *s /* (C) */,
                            const real *b /* (C, M) */, int C, size_t M)
{
    sa_backward(NULL, ds, db, dout, s, b, C, M, 0);
}
