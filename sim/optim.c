/* optim.c - AdamW / LAMB updates, clipping, schedule and EMA over the flat
 * parameter array, tensor by tensor as the parameter table describes. */
#include "optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void optim_defaults(optim_config *c)
{
    memset(c, 0, sizeof *c);
    c->kind = OPTIM_ADAMW;
    c->lr = 2e-3;
    c->min_lr = 1e-5;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->eps = 1e-8;
    c->weight_decay = 0.05;
    c->clip = CLIP_NONE;
    c->ema_decay = 0;
}

sim_status optim_parse_kind(sim_ctx *ctx, const char *s, optim_kind *out)
{
    if (!strcmp(s, "adamw"))
        *out = OPTIM_ADAMW;
    else if (!strcmp(s, "lamb"))
        *out = OPTIM_LAMB;
    else
        return ctx_error(ctx, SIM_EINVAL, "--optim: expected adamw or lamb, found '%s'", s);
    return SIM_OK;
}

sim_status optim_parse_clip(sim_ctx *ctx, const char *s, clip_kind *kind, double *value)
{
    char *end;
    if (!strcmp(s, "none")) {
        *kind = CLIP_NONE;
        *value = 0;
        return SIM_OK;
    }
    if (!strncmp(s, "norm:", 5) || !strncmp(s, "agc:", 4)) {
        const char *num = s + (s[0] == 'n' ? 5 : 4);
        double v = strtod(num, &end);
        if (end != num && *end == '\0' && v > 0 && isfinite(v)) {
            *kind = s[0] == 'n' ? CLIP_NORM : CLIP_AGC;
            *value = v;
            return SIM_OK;
        }
    }
    return ctx_error(ctx, SIM_EINVAL,
                     "--clip: expected none, norm:X or agc:F with a positive number, found '%s'",
                     s);
}

sim_status optim_init(sim_ctx *ctx, optim *o, trev_model *m, const optim_config *cfg)
{
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->m = m;
    o->nval = trev_nvalues(m);
    o->mom1 = mem_calloc(ctx, MEM_OPTIM, o->nval, sizeof(real));
    o->mom2 = mem_calloc(ctx, MEM_OPTIM, o->nval, sizeof(real));
    if (cfg->ema_decay > 0) {
        o->ema = mem_calloc(ctx, MEM_OPTIM, o->nval, sizeof(real));
        if (o->ema)
            memcpy(o->ema, trev_params(m), o->nval * sizeof(real));
    }
    if (!o->mom1 || !o->mom2 || (cfg->ema_decay > 0 && !o->ema)) {
        optim_free(ctx, o);
        return SIM_ENOMEM;
    }
    return SIM_OK;
}

void optim_free(sim_ctx *ctx, optim *o)
{
    mem_free(ctx, o->mom1);
    mem_free(ctx, o->mom2);
    mem_free(ctx, o->ema);
    o->mom1 = o->mom2 = o->ema = NULL;
}

double optim_lr(const optim_config *c, double step)
{
    if (c->warmup_steps > 0 && step < c->warmup_steps) /* capped: warmup may be fractional */
        return c->lr * fmin(1.0, (step + 1) / c->warmup_steps);
    double span = c->total_steps - c->warmup_steps;
    if (span <= 0)
        return c->lr;
    double p = (step - c->warmup_steps) / span;
    if (p > 1)
        p = 1;
    return c->min_lr + 0.5 * (c->lr - c->min_lr) * (1 + cos(M_PI * p));
}

double optim_grad_norm(const trev_model *m, int *finite)
{
    double s = 0;
    const real *g = trev_grads((trev_model *)m);
    for (int i = 0; i < trev_nparams(m); i++) {
        const trev_param *p = trev_param_at(m, i);
        if (p->buffer)
            continue;
        for (size_t j = 0; j < p->n; j++)
            s += (double)g[p->offset + j] * g[p->offset + j];
    }
    if (finite)
        *finite = isfinite(s);
    return sqrt(s);
}

/* Adaptive gradient clipping per output unit (row of a weight, or the
 * whole tensor for vectors): g *= min(1, lambda * max(|w|, 1e-3) / |g|). */
static void agc(trev_model *m, double lambda)
{
    real *w = trev_params(m), *g = trev_grads(m);
    for (int i = 0; i < trev_nparams(m); i++) {
        const trev_param *p = trev_param_at(m, i);
        if (p->buffer)
            continue;
        size_t units = p->ndim > 1 ? (size_t)p->shape[0] : 1, len = p->n / units;
        for (size_t u = 0; u < units; u++) {
            real *gu = g + p->offset + u * len;
            const real *wu = w + p->offset + u * len;
            double gn = 0, wn = 0;
            for (size_t j = 0; j < len; j++) {
                gn += (double)gu[j] * gu[j];
                wn += (double)wu[j] * wu[j];
            }
            gn = sqrt(gn);
            wn = fmax(sqrt(wn), 1e-3);
            if (gn > lambda * wn) {
                real s = (real)(lambda * wn / gn);
                for (size_t j = 0; j < len; j++)
                    gu[j] *= s;
            }
        }
    }
}

double optim_clip(optim *o)
{
    double norm = optim_grad_norm(o->m, NULL);
    if (o->cfg.clip == CLIP_NORM && norm > o->cfg.clip_value) {
        real s = (real)(o->cfg.clip_value / norm);
        real *g = trev_grads(o->m);
        for (size_t i = 0; i < o->nval; i++)
            g[i] *= s;
    } else if (o->cfg.clip == CLIP_AGC) {
        agc(o->m, o->cfg.clip_value);
    }
    return norm;
}

double optim_step(optim *o)
{
    const optim_config *c = &o->cfg;
    trev_model *m = o->m;
    real *w = trev_params(m), *g = trev_grads(m);
    double lr = optim_lr(c, (double)o->step);
    o->step++;
    const double b1 = c->beta1, b2 = c->beta2;
    const double bc1 = 1 - pow(b1, (double)o->step), bc2 = 1 - pow(b2, (double)o->step);
    for (int i = 0; i < trev_nparams(m); i++) {
        const trev_param *p = trev_param_at(m, i);
        if (p->buffer)
            continue;
        real *wp = w + p->offset, *gp = g + p->offset;
        real *m1 = o->mom1 + p->offset, *m2 = o->mom2 + p->offset;
        const double wd = p->decay ? c->weight_decay : 0.0;
        if (c->kind == OPTIM_ADAMW) { /* elementwise: any thread count, same bits */
#pragma omp parallel for schedule(static) if (p->n >= 16384)
            for (size_t j = 0; j < p->n; j++) {
                m1[j] = (real)(b1 * m1[j] + (1 - b1) * gp[j]);
                m2[j] = (real)(b2 * m2[j] + (1 - b2) * (double)gp[j] * gp[j]);
                double u = (m1[j] / bc1) / (sqrt(m2[j] / bc2) + c->eps);
                wp[j] = (real)(wp[j] - lr * (u + wd * wp[j]));
            }
        } else {
            for (size_t j = 0; j < p->n; j++) {
                m1[j] = (real)(b1 * m1[j] + (1 - b1) * gp[j]);
                m2[j] = (real)(b2 * m2[j] + (1 - b2) * (double)gp[j] * gp[j]);
            } /* LAMB: layer-wise trust ratio |w| / |update| */
            double wn = 0, un = 0;
            for (size_t j = 0; j < p->n; j++) {
                double u = (m1[j] / bc1) / (sqrt(m2[j] / bc2) + c->eps) + wd * wp[j];
                wn += (double)wp[j] * wp[j];
                un += u * u;
            }
            wn = sqrt(wn);
            un = sqrt(un);
            double trust = (wn > 0 && un > 0) ? wn / un : 1.0;
            for (size_t j = 0; j < p->n; j++) {
                double u = (m1[j] / bc1) / (sqrt(m2[j] / bc2) + c->eps) + wd * wp[j];
                wp[j] = (real)(wp[j] - lr * trust * u);
            }
        }
    }
    if (o->ema) {
        const double d = c->ema_decay;
        for (size_t i = 0; i < o->nval; i++)
            o->ema[i] = (real)(d * o->ema[i] + (1 - d) * w[i]);
    }
    return lr;
}

void optim_swap_ema(optim *o)
{
    if (!o->ema)
        return;
    real *w = trev_params(o->m);
    for (size_t i = 0; i < o->nval; i++) {
        real t = w[i];
        w[i] = o->ema[i];
        o->ema[i] = t;
    }
}
