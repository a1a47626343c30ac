/* rng.h - seeded random streams (GSL mt19937), one per rng_stream.
 *
 * Stream i of seed s is seeded with splitmix64(s, i), so streams are
 * independent and reproducible. The state of every stream can be saved into
 * and restored from a byte buffer (checkpoints store it). */
#ifndef SIM_RNG_H
#define SIM_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "ctx.h"
#include "real.h"

sim_status rng_seed(sim_ctx *ctx, uint64_t seed);
/* Uniform in [0, 1). */
double rng_uniform(sim_ctx *ctx, rng_stream s);
/* Uniform integer in [0, n). */
unsigned long rng_int(sim_ctx *ctx, rng_stream s, unsigned long n);
/* Normal with mean 0 and standard deviation sd. */
double rng_normal(sim_ctx *ctx, rng_stream s, double sd);
/* Normal(0, sd) truncated to [-2 sd, 2 sd] by rejection. */
double rng_trunc_normal(sim_ctx *ctx, rng_stream s, double sd);
/* Fill x[0..n) with Normal(0, sd) / uniform [lo, hi). */
void rng_fill_normal(sim_ctx *ctx, rng_stream s, real *x, size_t n, double sd);
void rng_fill_uniform(sim_ctx *ctx, rng_stream s, real *x, size_t n, double lo, double hi);
/* Fisher-Yates shuffle of an index array. */
void rng_shuffle(sim_ctx *ctx, rng_stream s, int *idx, size_t n);

/* Bytes needed to save all streams. */
size_t rng_state_size(const sim_ctx *ctx);
/* Copy all streams' state to buf (rng_state_size bytes) / restore it.
 * rng_load returns SIM_EFORMAT when n does not match. */
void rng_save(const sim_ctx *ctx, unsigned char *buf);
sim_status rng_load(sim_ctx *ctx, const unsigned char *buf, size_t n);

#endif
