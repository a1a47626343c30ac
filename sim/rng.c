/* rng.c - GSL-backed random streams owned by the context. */
#include "rng.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <string.h>

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

sim_status rng_seed(sim_ctx *ctx, uint64_t seed)
{
    ctx->seed = seed;
    for (int i = 0; i < RNG_NSTREAMS; i++) {
        if (!ctx->rng[i]) {
            ctx->rng[i] = gsl_rng_alloc(gsl_rng_mt19937);
            if (!ctx->rng[i])
                return ctx_error(ctx, SIM_ENOMEM, "cannot allocate random stream %d", i);
        }
        /* mt19937 takes an unsigned long seed; 0 is remapped by GSL, fine */
        gsl_rng_set(ctx->rng[i], (unsigned long)splitmix64(seed * 8u + (uint64_t)i));
    }
    return SIM_OK;
}

double rng_uniform(sim_ctx *ctx, rng_stream s)
{
    return gsl_rng_uniform(ctx->rng[s]);
}

unsigned long rng_int(sim_ctx *ctx, rng_stream s, unsigned long n)
{
    return gsl_rng_uniform_int(ctx->rng[s], n);
}

double rng_normal(sim_ctx *ctx, rng_stream s, double sd)
{
    return gsl_ran_gaussian_ziggurat(ctx->rng[s], sd);
}

double rng_trunc_normal(sim_ctx *ctx, rng_stream s, double sd)
{
    for (;;) {
        double v = gsl_ran_gaussian_ziggurat(ctx->rng[s], 1.0);
        if (v >= -2.0 && v <= 2.0)
            return v * sd;
    }
}

void rng_fill_normal(sim_ctx *ctx, rng_stream s, real *x, size_t n, double sd)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (real)gsl_ran_gaussian_ziggurat(ctx->rng[s], sd);
}

void rng_fill_uniform(sim_ctx *ctx, rng_stream s, real *x, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (real)(lo + (hi - lo) * gsl_rng_uniform(ctx->rng[s]));
}

void rng_shuffle(sim_ctx *ctx, rng_stream s, int *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = gsl_rng_uniform_int(ctx->rng[s], i);
        int t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

size_t rng_state_size(const sim_ctx *ctx)
{
    size_t n = 0;
    for (int i = 0; i < RNG_NSTREAMS; i++)
        n += gsl_rng_size(ctx->rng[i]);
    return n;
}

void rng_save(const sim_ctx *ctx, unsigned char *buf)
{
    for (int i = 0; i < RNG_NSTREAMS; i++) {
        size_t sz = gsl_rng_size(ctx->rng[i]);
        memcpy(buf, gsl_rng_state(ctx->rng[i]), sz);
        buf += sz;
    }
}

sim_status rng_load(sim_ctx *ctx, const unsigned char *buf, size_t n)
{
    if (n != rng_state_size(ctx))
        return ctx_error(ctx, SIM_EFORMAT, "random state: expected %zu bytes, found %zu",
                         rng_state_size(ctx), n);
    for (int i = 0; i < RNG_NSTREAMS; i++) {
        size_t sz = gsl_rng_size(ctx->rng[i]);
        memcpy(gsl_rng_state(ctx->rng[i]), buf, sz);
        buf += sz;
    }
    return SIM_OK;
}
