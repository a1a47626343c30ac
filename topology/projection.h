/* projection.h - synaptic projections of the event-driven engine: a linear
 * map from a source population to a target population with a delay d >= 0
 * timesteps (engine.md §1).
 *
 * Kinds:
 *   PROJ_SPIKE   driven by the source's spike list: each spike adds the
 *                source neuron's fan-out weights into the target's input
 *                buffer, one AC per weight added;
 *   PROJ_GRADED  driven by the source's real graded output (turn-on state c,
 *                relay output, ...): each nonzero value times its fan-out
 *                weights, one MAC per weight; an identity map without
 *                weights adds the value itself, one AC per value. Zero values
 *                are not sent (no work, no count).
 *
 * Maps (source (Ci, H, W) -> target (Co, Ho, Wo)); weights are given in
 * PyTorch layouts with a leading parameter-set axis (nsets, ...), the engine
 * copies and transposes them for the scatter form:
 *   PROJ_CONV         k x k, stride, zero padding; Ho = (H + 2 pad - k)/stride + 1;
 *                     weights (nsets, Co, Ci, k, k), stored (nsets, Ci, k, k, Co);
 *                     input (ci, y, x) adds W[co, ci, ky, kx] to every (co, oy, ox)
 *                     with oy*stride + ky - pad = y and ox*stride + kx - pad = x;
 *   PROJ_DEPTHWISE    the same with groups = C = Ci = Co; weights (nsets, C, 1, k, k);
 *   PROJ_CONV1X1      1x1 stride 1 (k, stride, pad ignored); weights (nsets, Co, Ci, 1, 1);
 *   PROJ_UPSAMPLE2_1X1 nearest x2 upsampling then 1x1: Ho = 2H, Wo = 2W; a source
 *                     neuron reaches the 4 target positions of its pixel;
 *                     weights (nsets, Co, Ci, 1, 1);
 *   PROJ_IDENTITY     same shape; weights (nsets, C) per-channel scale, or NULL
 *                     for weight 1;
 *   PROJ_DENSE        all to all; weights (nsets, n_dst, n_src) indexed by the
 *                     public ids c*H*W + y*W + x of target and source.
 * A packet delivered at timestep t uses weight set min(t, nsets - 1) (the
 * column of the target for T-RevSNN's per-column weights).
 *
 * Counters per projection: input events (spikes or nonzero values), ACs,
 * MACs and the literature estimate SOP = (events / n_src) x dense FLOPs of
 * the map, the dense FLOPs being the MACs of the equivalent dense layer per
 * timestep (for PROJ_UPSAMPLE2_1X1 the 1x1 convolution at the source
 * resolution followed by a free upsampling, as the dense network computes
 * it). */
#ifndef TOPOLOGY_PROJECTION_H
#define TOPOLOGY_PROJECTION_H

#include <stddef.h>
#include <stdint.h>

#include "neurons/neuron.h"
#include "sim/ctx.h"
#include "sim/real.h"

typedef enum { PROJ_SPIKE = 0, PROJ_GRADED, PROJ_NKINDS } proj_kind;

typedef enum {
    PROJ_CONV = 0,
    PROJ_DEPTHWISE,
    PROJ_CONV1X1,
    PROJ_UPSAMPLE2_1X1,
    PROJ_IDENTITY,
    PROJ_DENSE,
    PROJ_NMAPS
} proj_map;

#define PROJ_KMAX 15 /* largest kernel size of conv and depthwise maps */
/* A graded 1x1 map runs as one GEMM when at least 1/PROJ_GEMM_DENSITY_INV of
 * its input values are nonzero (below that the scatter does less work). */
#define PROJ_GEMM_DENSITY_INV 4
/* A spike packet into a depthwise map is laid out as a dense 0/1 map and
 * added by channel vectors when it holds at least 1/PROJ_DW_DENSE_INV of the
 * source neurons. */
#define PROJ_DW_DENSE_INV 8
/* A spike packet into a conv or 1x1 map is gathered per target position
 * (from a bit mask of the channels that fired at each source pixel) when it
 * holds at least one spike per PROJ_GATHER_INV target positions; sparser
 * packets are scattered spike by spike. */
#define PROJ_GATHER_INV 2

/* What the caller describes; the engine copies the weights. */
typedef struct {
    int src, dst; /* population indices in the engine */
    proj_kind kind;
    proj_map map;
    int delay;           /* timesteps, >= 0 */
    int k, stride, pad;  /* PROJ_CONV and PROJ_DEPTHWISE */
    int nsets;           /* weight sets by delivery timestep (0 or 1: constant) */
    const real *weights; /* layout per map, see above */
} proj_spec;

typedef struct {
    uint64_t events; /* spikes or nonzero graded values delivered */
    uint64_t acs;    /* accumulates: weights added for spikes, plain adds */
    uint64_t macs;   /* multiply-accumulates: graded value times weight */
    double sop;      /* literature estimate: input rate x dense FLOPs */
} proj_counters;

typedef struct {
    proj_kind kind;
    proj_map map;
    int src, dst, delay;
    int k, stride, pad, nsets;
    int Ci, H, W, Co, Ho, Wo; /* source (Ci, H, W), target (Co, Ho, Wo) */
    int32_t n_src, n_dst;
    real *w;             /* (nsets, wset) scatter layout, NULL for a unit identity */
    size_t wset;         /* elements per weight set */
    double dense_flops;  /* MACs of the equivalent dense layer per timestep */
    /* conv and depthwise maps: the taps of source pixel q are entries
     * tap_off[q] .. tap_off[q+1]-1 of tap_pos (target position oy*Wo+ox)
     * and tap_k (kernel offset ky*k+kx) */
    int32_t *tap_off, *tap_pos, *tap_k;
    /* spike-driven depthwise maps: a 0/1 map of the source (H, W, C) for
     * packets dense enough to take the graded kernel (channel vectors) */
    real *spike_map;
    /* spike-driven conv and 1x1 maps: per source pixel, the channels that
     * fired, bit c%64 of word (q, c/64), mask_words words per pixel, for
     * packets delivered without the source population's masks */
    uint64_t *chan_mask;
    int mask_words;
    /* spike-driven upsample maps: per source pixel sums of weight rows
     * (H, W, Co), for dense packets */
    real *up_sum;
    proj_counters step;  /* the last timestep run */
    proj_counters total; /* since the last counter reset */
} projection;

/* A spec with one weight set and k 1, stride 1, pad 0. */
proj_spec proj_spec_make(int src, int dst, proj_kind kind, proj_map map, int delay,
                         const real *weights);
/* A PROJ_CONV or PROJ_DEPTHWISE spec. */
proj_spec proj_spec_conv(int src, int dst, proj_kind kind, proj_map map, int delay, int k,
                         int stride, int pad, const real *weights);

const char *proj_kind_name(proj_kind k);
const char *proj_map_name(proj_map m);

/* Check a spec against the populations (without allocating): indices, kind,
 * map and geometry against both shapes, delay >= 0, weights present and
 * finite, no spike projection out of a relay. `index` labels the message. */
sim_status proj_check(sim_ctx *ctx, const proj_spec *spec, int index, const pop_spec *pops,
                      int npop);
/* Number of weights the spec's layout holds (all sets); 0 for a unit identity. */
size_t proj_weight_count(const proj_spec *spec, const pop_spec *src, const pop_spec *dst);
/* Allocate (MEM_ENGINE) and transpose the weights of a checked spec. */
sim_status proj_init(sim_ctx *ctx, projection *pr, const proj_spec *spec, const pop_spec *src,
                     const pop_spec *dst);
void proj_free(sim_ctx *ctx, projection *pr);

/* Deliver a packet at timestep t into the target's input buffer: spikes
 * (public source ids, ascending, and optionally the same spikes as the
 * source population's channel masks, see population.masks; NULL: built
 * from the ids when needed) or graded values (the source's storage
 * layout). Adds events, ACs/MACs and the SOP estimate into *c. */
void proj_deliver_spikes(const projection *pr, real *dst_input /* (Ho, Wo, Co) */,
                         const int32_t *ids /* (n) */, int32_t n,
                         const uint64_t *masks /* (H, W, ceil(Ci/64)) or NULL */, int64_t t,
                         proj_counters *c);
void proj_deliver_graded(const projection *pr, real *dst_input /* (Ho, Wo, Co) */,
                         const real *values /* (H, W, Ci) */, int64_t t, proj_counters *c);

void proj_counters_add(proj_counters *acc, const proj_counters *c);
void proj_reset_counters(projection *pr);

#endif
