/* stem.c - the dense stem of every model (see stem.h): its two WSConv
 * layers in the parameter table, shapes, forward, backward, and the load-time
 * fold of the event-driven builders. */
#include "stem.h"

#include <string.h>

#include "topology/elementwise.h"

void stem_add(paramtab_builder *b, int *w1, int *w2, const trev_config *c)
{
    const int C0 = c->channels[0];
    *w1 = paramtab_add_ws(b, "stem/conv1", C0, c->in_channels, c->stem_kernel);
    *w2 = paramtab_add_ws(b, "stem/conv2", C0, C0, 3);
}

void stem_resolutions(const trev_config *c, int *S1, int R[TREV_LEVELS])
{
    *S1 = c->input_size / c->stem_stride;
    R[0] = *S1 / 2;
    R[1] = R[0] / 2;
    R[2] = R[1] / 2;
    R[3] = R[2];
}

double stem_macs_per_image(const trev_config *c)
{
    int S1, R[TREV_LEVELS];
    stem_resolutions(c, &S1, R);
    const int C0 = c->channels[0];
    return (double)C0 * c->in_channels * c->stem_kernel * c->stem_kernel * S1 * S1 +
           (double)C0 * C0 * 9 * R[0] * R[0];
}

sim_status stem_shapes(sim_ctx *ctx, conv2d_shape *s1, conv2d_shape *s2, int n,
                       const trev_config *c)
{
    const int C0 = c->channels[0];
    sim_status st = conv2d_shape_init(ctx, s1, n, c->in_channels, c->input_size, c->input_size,
                                      C0, c->stem_kernel, c->stem_stride, c->stem_kernel / 2, 1);
    if (st == SIM_OK)
        st = conv2d_shape_init(ctx, s2, n, C0, s1->Ho, s1->Wo, C0, 3, 2, 1, 1);
    return st;
}

size_t stem_scratch_elems(const conv2d_shape *s1, const conv2d_shape *s2)
{
    const size_t a = conv2d_scratch_elems(s1), b = conv2d_scratch_elems(s2);
    return a > b ? a : b;
}

/* elements of a1 (and a2) */
static size_t a1_elems(const conv2d_shape *s1)
{
    return (size_t)s1->Co * s1->N * s1->Ho * s1->Wo;
}

void stem_apply(sim_ctx *ctx, real *x, real *a1, real *a2, const real *images, const real *w1,
                const real *b1, const real *w2, const real *b2, real slope, real *scr,
                const conv2d_shape *s1, const conv2d_shape *s2)
{
    conv2d_forward(ctx, a1, images, w1, b1, scr, s1);
    leaky_relu_forward(a2, a1, a1_elems(s1), slope);
    conv2d_forward(ctx, x, a2, w2, b2, scr, s2);
}

void stem_forward(sim_ctx *ctx, real *x, real *a1, real *a2, const real *images,
                  const paramtab *t, int w1, int w2, real slope, real *scr,
                  const conv2d_shape *s1, const conv2d_shape *s2)
{
    const paramtab_ws *l1 = &t->ws[w1], *l2 = &t->ws[w2];
    stem_apply(ctx, x, a1, a2, images, t->std + l1->what, t->p + l1->b, t->std + l2->what,
               t->p + l2->b, slope, scr, s1, s2);
}

void stem_backward(sim_ctx *ctx, paramtab *t, real *ga1, real *ga2, const real *gx,
                   const real *images, const real *a1, const real *a2, int w1, int w2,
                   real slope, real *scr, const conv2d_shape *s1, const conv2d_shape *s2)
{
    const paramtab_ws *l1 = &t->ws[w1], *l2 = &t->ws[w2];
    const size_t n1 = a1_elems(s1);
    memset(ga2, 0, n1 * sizeof *ga2);
    conv2d_backward(ctx, ga2, t->gstd + l2->what, t->g + l2->b, gx, a2, t->std + l2->what, scr,
                    s2);
    memset(ga1, 0, n1 * sizeof *ga1);
    leaky_relu_backward(ga1, ga2, a1, n1, slope);
    conv2d_backward(ctx, NULL, t->gstd + l1->what, t->g + l1->b, ga1, images, t->std + l1->what,
                    scr, s1);
}

void stem_fold(fold_builder *b, real *w1, real *b1, real *w2, real *b2, const trev_config *c)
{
    const int C0 = c->channels[0];
    fold_wsconv(b, w1, b1, C0, c->in_channels * c->stem_kernel * c->stem_kernel, "stem/conv1");
    fold_wsconv(b, w2, b2, C0, C0 * 9, "stem/conv2");
}
