/* tensor.c - allocation and layout helpers for the small tensor type. */
#include "tensor.h"

#include <stdio.h>
#include <string.h>

size_t shape_numel(int ndim, const int *shape)
{
    if (ndim < 1 || ndim > TENSOR_MAXDIM)
        return 0;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0 || size_mul(n, (size_t)shape[i], &n))
            return 0;
    }
    return n;
}

char *shape_str(char *buf, size_t len, int ndim, const int *shape)
{
    size_t k = 0;
    k += (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < ndim && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, i ? ", %d" : "%d", shape[i]);
    if (k < len)
        snprintf(buf + k, len - k, ")");
    return buf;
}

sim_status tensor_alloc(sim_ctx *ctx, tensor *t, mem_role role, int ndim, const int *shape)
{
    memset(t, 0, sizeof *t);
    size_t n = shape_numel(ndim, shape);
    if (n == 0) {
        char s[96];
        shape_str(s, sizeof s, ndim < 0 ? 0 : ndim > TENSOR_MAXDIM ? TENSOR_MAXDIM : ndim, shape);
        return ctx_error(ctx, SIM_ESHAPE, "tensor: invalid shape %s (ndim %d)", s, ndim);
    }
    t->data = mem_calloc(ctx, role, n, sizeof(real));
    if (!t->data)
        return SIM_ENOMEM;
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->n = n;
    return SIM_OK;
}

void tensor_free(sim_ctx *ctx, tensor *t)
{
    mem_free(ctx, t->data);
    memset(t, 0, sizeof *t);
}

int tensor_has_shape(const tensor *t, int ndim, const int *shape)
{
    if (t->ndim != ndim)
        return 0;
    for (int i = 0; i < ndim; i++)
        if (t->shape[i] != shape[i])
            return 0;
    return 1;
}

void tensor_nchw_to_cnhw(real *out, const real *in, int N, int C, int HW)
{
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            memcpy(out + ((size_t)c * N + n) * HW, in + ((size_t)n * C + c) * HW,
                   (size_t)HW * sizeof *in);
}

void tensor_cnhw_to_nchw(real *out, const real *in, int N, int C, int HW)
{
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            memcpy(out + ((size_t)n * C + c) * HW, in + ((size_t)c * N + n) * HW,
                   (size_t)HW * sizeof *in);
}
