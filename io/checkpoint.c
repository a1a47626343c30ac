/* checkpoint.c - reading T-RevSNN configurations and parameters from HDF5. */
#include "checkpoint.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "io/json.h"

/* v as an int when it is an integer within int's range (converting an
 * out-of-range double to int is undefined behaviour: found by fuzz_json). */
static int json_int(double v, int *out)
{
    if (!(v >= INT_MIN && v <= INT_MAX) || v != (double)(long long)v)
        return 0;
    *out = (int)v;
    return 1;
}

sim_status ckpt_config_from_json(sim_ctx *ctx, const char *json, const char *file,
                                 trev_config *cfg)
{
    trev_config c;
    memset(&c, 0, sizeof c);
    double ch[8], v;
    int n = 0, b;
    if (!json_get_numbers(json, "channels", ch, 8, &n) || n != TREV_LEVELS)
        return ctx_error(ctx, SIM_EFORMAT, "%s: config: expected \"channels\" with 4 numbers%s",
                         file, n ? ", found another count" : "");
    for (int l = 0; l < TREV_LEVELS; l++)
        if (!json_int(ch[l], &c.channels[l]))
            return ctx_error(ctx, SIM_EFORMAT, "%s: config: channels[%d] is %g, expected an "
                             "integer", file, l, ch[l]);
    static const struct {
        const char *key;
        size_t off;
    } ints[] = {
        {"T", offsetof(trev_config, T)},
        {"kernel", offsetof(trev_config, kernel)},
        {"in_channels", offsetof(trev_config, in_channels)},
        {"input_size", offsetof(trev_config, input_size)},
        {"stem_kernel", offsetof(trev_config, stem_kernel)},
        {"stem_stride", offsetof(trev_config, stem_stride)},
        {"classes", offsetof(trev_config, classes)},
    };
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        int *dst = (int *)((char *)&c + ints[i].off);
        if (!json_get_number(json, ints[i].key, &v) || !json_int(v, dst))
            return ctx_error(ctx, SIM_EFORMAT, "%s: config: expected integer key \"%s\"", file,
                             ints[i].key);
    }
    if (!json_get_number(json, "leaky_slope", &c.leaky_slope))
        return ctx_error(ctx, SIM_EFORMAT, "%s: config: expected number \"leaky_slope\"", file);
    if (!json_get_number(json, "label_smoothing", &c.label_smoothing))
        return ctx_error(ctx, SIM_EFORMAT, "%s: config: expected number \"label_smoothing\"",
                         file);
    if (!json_get_bool(json, "inter_supv", &b))
        return ctx_error(ctx, SIM_EFORMAT, "%s: config: expected boolean \"inter_supv\"", file);
    c.inter_supv = b;
    /* optional keys */
    if (!json_get_string(json, "preset", c.preset, sizeof c.preset))
        snprintf(c.preset, sizeof c.preset, "custom");
    char model[16];
    if (json_get_string(json, "model", model, sizeof model) && /* absent: trevsnn */
        trev_parse_model(ctx, model, &c.model) != SIM_OK)
        return ctx_error(ctx, SIM_EFORMAT, "%s: config: \"model\" is '%s', expected trevsnn or lif",
                         file, model);
    c.bn_momentum = json_get_number(json, "bn_momentum", &v) ? v : 0.1;
    c.bn_eps = json_get_number(json, "bn_eps", &v) ? v : 1e-5;
    char norm[512];
    c.raw_size = c.input_size;
    for (int i = 0; i < 3; i++)
        c.std[i] = 1.0;
    if (json_get_object(json, "normalization", norm, sizeof norm)) {
        double mu[3], sd[3];
        int nm = 0, ns = 0;
        if (json_get_numbers(norm, "mean", mu, 3, &nm) && json_get_numbers(norm, "std", sd, 3, &ns))
            for (int i = 0; i < 3 && i < nm && i < ns; i++) {
                c.mean[i] = mu[i];
                c.std[i] = sd[i];
            }
        if (json_get_number(norm, "raw_size", &v) && !json_int(v, &c.raw_size))
            return ctx_error(ctx, SIM_EFORMAT, "%s: config: normalization raw_size is %g, "
                             "expected an integer", file, v);
    }
    sim_status st = trev_config_check(ctx, &c);
    if (st != SIM_OK) {
        char msg[sizeof ctx->err];
        snprintf(msg, sizeof msg, "%s", ctx->err);
        return ctx_error(ctx, st, "%s: %s", file, msg);
    }
    if (c.raw_size < 1 || c.raw_size > c.input_size)
        return ctx_error(ctx, SIM_EFORMAT, "%s: config: normalization raw_size is %d, expected "
                         "1..input_size (%d)", file, c.raw_size, c.input_size);
    *cfg = c;
    return SIM_OK;
}

sim_status ckpt_read_config(sim_ctx *ctx, const h5_file *f, trev_config *cfg)
{
    char *json = NULL;
    sim_status st = h5_get_attr_str(ctx, f, "/", "config", &json);
    if (st != SIM_OK)
        return st;
    st = ckpt_config_from_json(ctx, json, f->path, cfg);
    mem_free(ctx, json);
    return st;
}

/* Write (write = 1) or read every table entry of the model, values in
 * `vals`, under group/<name>[/leaf]; learnable_only skips BN buffers. */
static sim_status table_io(sim_ctx *ctx, h5_file *f, trev_model *m, real *vals, const char *group,
                           const char *leaf, int learnable_only, int write)
{
    sim_status st = SIM_OK;
    for (int i = 0; i < trev_nparams(m) && st == SIM_OK; i++) {
        const trev_param *p = trev_param_at(m, i);
        if (learnable_only && p->buffer)
            continue;
        char name[192];
        snprintf(name, sizeof name, "%s/%s%s%s", group, p->name, leaf ? "/" : "", leaf ? leaf : "");
        st = write ? h5_write_real(ctx, f, name, vals + p->offset, p->ndim, p->shape, H5IO_FLOAT32)
                   : h5_read_real(ctx, f, name, vals + p->offset, p->ndim, p->shape);
    }
    return st;
}

static sim_status write_table(sim_ctx *ctx, h5_file *f, trev_model *m, const real *vals,
                              const char *group, const char *leaf, int learnable_only)
{
    return table_io(ctx, f, m, (real *)vals, group, leaf, learnable_only, 1);
}

static sim_status read_table(sim_ctx *ctx, const h5_file *f, trev_model *m, real *vals,
                             const char *group, const char *leaf, int learnable_only)
{
    return table_io(ctx, (h5_file *)f, m, vals, group, leaf, learnable_only, 0);
}

sim_status ckpt_load_params(sim_ctx *ctx, trev_model *m, const h5_file *f, const char *group)
{
    size_t nval = trev_nvalues(m);
    real *tmp = mem_calloc(ctx, MEM_SCRATCH, nval, sizeof *tmp);
    if (!tmp)
        return SIM_ENOMEM;
    sim_status st = read_table(ctx, f, m, tmp, group, NULL, 0);
    if (st == SIM_OK)
        memcpy(trev_params(m), tmp, nval * sizeof *tmp);
    mem_free(ctx, tmp);
    return st;
}

/* Values of one table entry with `out` output channels: the weights plus a
 * generous allowance for per-channel vectors (bias, gain, BN buffers). */
static double entry_bound(double out, double in, double k)
{
    return out * in * k * k + 8 * out;
}

double ckpt_values_bound(const trev_config *c)
{
    const double k = c->kernel, T = c->T, K = c->classes;
    double C[TREV_LEVELS], n = 0;
    for (int l = 0; l < TREV_LEVELS; l++)
        C[l] = c->channels[l];
    n += entry_bound(C[0], c->in_channels, c->stem_kernel) + entry_bound(C[0], C[0], 3);
    for (int l = 0; l < TREV_LEVELS; l++) {
        double col = 3 * entry_bound(C[l], 1, k) + 3 * entry_bound(4 * C[l], C[l], 1) +
                     entry_bound(C[l], 4 * C[l], 1) + 2 * C[l];
        if (l > 0)
            col += entry_bound(C[l], C[l - 1], 3);
        if (l < 3)
            col += entry_bound(C[l], C[l + 1], 1);
        n += entry_bound(C[l], 4 * C[l], 1) + entry_bound(C[l], 1, k) + T * col;
    }
    return n + (T + 1) * entry_bound(K, C[3], 1) + entry_bound(K, K, 1);
}

sim_status ckpt_open_model(sim_ctx *ctx, const char *path, trev_model **out, int train)
{
    *out = NULL;
    h5_file f;
    sim_status st = h5_open_read(ctx, &f, path);
    if (st != SIM_OK)
        return st;
    char *fmt = NULL;
    st = h5_get_attr_str(ctx, &f, "/", "format", &fmt);
    if (st == SIM_OK && strcmp(fmt, CKPT_FORMAT) != 0 && strcmp(fmt, "trevsnn-golden") != 0)
        st = ctx_error(ctx, SIM_EFORMAT, "%s: format attribute is '%s', expected '%s'", path, fmt,
                       CKPT_FORMAT);
    mem_free(ctx, fmt);
    trev_config cfg;
    if (st == SIM_OK)
        st = ckpt_read_config(ctx, &f, &cfg);
    if (st == SIM_OK && ckpt_values_bound(&cfg) > (double)CKPT_MAX_VALUES)
        st = ctx_error(ctx, SIM_EFORMAT,
                       "%s: config: a model of channels %d,%d,%d,%d, T %d, %d classes could "
                       "have %.3g parameters, expected at most %zu",
                       path, cfg.channels[0], cfg.channels[1], cfg.channels[2], cfg.channels[3],
                       cfg.T, cfg.classes, ckpt_values_bound(&cfg), CKPT_MAX_VALUES);
    trev_model *m = NULL;
    if (st == SIM_OK)
        st = trev_create(ctx, &m, &cfg, train);
    if (st == SIM_OK)
        st = ckpt_load_params(ctx, m, &f, "params");
    h5_close(ctx, &f);
    if (st != SIM_OK) {
        trev_destroy(ctx, m);
        return st;
    }
    *out = m;
    return SIM_OK;
}

static sim_status write_i64(sim_ctx *ctx, h5_file *f, const char *name, int64_t v)
{
    return h5_write_int64(ctx, f, name, &v, 0, NULL);
}

sim_status ckpt_save(sim_ctx *ctx, const char *path, trev_model *m, const optim *o,
                     const ckpt_state *s)
{
    h5_file f;
    sim_status st = h5_create_atomic_mem(ctx, path, &f); /* full disk: a clean error */
    if (st != SIM_OK)
        return st;
    char json[2048];
    trev_config_json(trev_cfg(m), json, sizeof json);
    st = h5_set_attr_str(ctx, &f, "/", "format", CKPT_FORMAT);
    if (st == SIM_OK)
        st = h5_set_attr_int(ctx, &f, "/", "version", CKPT_VERSION);
    if (st == SIM_OK)
        st = h5_set_attr_str(ctx, &f, "/", "config", json);
    if (st == SIM_OK)
        st = write_table(ctx, &f, m, trev_params(m), "params", NULL, 0);
    if (st == SIM_OK && o) {
        st = write_table(ctx, &f, m, o->mom1, "optim", "exp_avg", 1);
        if (st == SIM_OK)
            st = write_table(ctx, &f, m, o->mom2, "optim", "exp_avg_sq", 1);
        if (st == SIM_OK)
            st = write_i64(ctx, &f, "optim/step", o->step);
        if (st == SIM_OK && o->ema)
            st = write_table(ctx, &f, m, o->ema, "ema", NULL, 0);
    }
    if (st == SIM_OK && s) {
        st = write_i64(ctx, &f, "state/epoch", s->epoch);
        if (st == SIM_OK)
            st = write_i64(ctx, &f, "state/step", s->step);
        if (st == SIM_OK)
            st = write_i64(ctx, &f, "state/batch_in_epoch", s->batch_in_epoch);
        if (st == SIM_OK && s->order && s->norder > 0)
            st = h5_write(ctx, &f, "state/order", s->order, H5IO_INT32, H5IO_INT32, 1,
                          &s->norder);
        if (st == SIM_OK && s->rng && s->rng_len > 0) {
            int32_t *bytes = mem_calloc(ctx, MEM_SCRATCH, s->rng_len, sizeof *bytes);
            int len = (int)s->rng_len;
            if (!bytes)
                st = SIM_ENOMEM;
            for (size_t i = 0; bytes && i < s->rng_len; i++)
                bytes[i] = s->rng[i];
            if (st == SIM_OK)
                st = h5_write(ctx, &f, "state/rng", bytes, H5IO_INT32, H5IO_UINT8, 1, &len);
            mem_free(ctx, bytes);
        }
        if (st == SIM_OK)
            st = h5_set_attr_str(ctx, &f, "state", "command_line", s->cmdline);
        if (st == SIM_OK)
            st = h5_set_attr_str(ctx, &f, "state", "options", s->options);
    }
    if (st != SIM_OK) {
        h5_abort_atomic(ctx, &f);
        return st;
    }
    return h5_commit_atomic(ctx, &f);
}

static sim_status read_i64(sim_ctx *ctx, const h5_file *f, const char *name, int64_t *v)
{
    return h5_read_int64(ctx, f, name, v, 0, NULL);
}

void ckpt_state_free(sim_ctx *ctx, ckpt_state *s)
{
    mem_free(ctx, s->order);
    mem_free(ctx, s->rng);
    s->order = NULL;
    s->rng = NULL;
}

sim_status ckpt_load_state(sim_ctx *ctx, const h5_file *f, trev_model *m, optim *o,
                           ckpt_state *s)
{
    memset(s, 0, sizeof *s);
    int64_t step = 0;
    sim_status st = read_table(ctx, f, m, o->mom1, "optim", "exp_avg", 1);
    if (st == SIM_OK)
        st = read_table(ctx, f, m, o->mom2, "optim", "exp_avg_sq", 1);
    if (st == SIM_OK)
        st = read_i64(ctx, f, "optim/step", &step);
    if (st == SIM_OK && o->ema) {
        if (h5_exists(f, "ema"))
            st = read_table(ctx, f, m, o->ema, "ema", NULL, 0);
        else
            memcpy(o->ema, trev_params(m), trev_nvalues(m) * sizeof(real));
    }
    if (st == SIM_OK)
        st = read_i64(ctx, f, "state/epoch", &s->epoch);
    if (st == SIM_OK)
        st = read_i64(ctx, f, "state/step", &s->step);
    if (st == SIM_OK)
        st = read_i64(ctx, f, "state/batch_in_epoch", &s->batch_in_epoch);
    int nd, shape[H5IO_MAXDIM];
    if (st == SIM_OK && h5_exists(f, "state/order")) {
        st = h5_shape(ctx, f, "state/order", &nd, shape, NULL);
        if (st == SIM_OK && nd != 1)
            st = ctx_error(ctx, SIM_EFORMAT, "%s: state/order: expected 1 dimension, found %d",
                           f->path, nd);
        if (st == SIM_OK && (shape[0] < 1 || shape[0] > CKPT_MAX_ORDER))
            st = ctx_error(ctx, SIM_EFORMAT, "%s: state/order: %d entries, expected 1..%d",
                           f->path, shape[0], CKPT_MAX_ORDER);
        if (st == SIM_OK) {
            s->norder = shape[0];
            s->order = mem_calloc(ctx, MEM_DATA, (size_t)shape[0], sizeof *s->order);
            st = s->order ? h5_read_int32(ctx, f, "state/order", s->order, 1, shape) : SIM_ENOMEM;
        }
    }
    if (st == SIM_OK && h5_exists(f, "state/rng")) {
        st = h5_shape(ctx, f, "state/rng", &nd, shape, NULL);
        int32_t *bytes = NULL;
        if (st == SIM_OK && nd == 1 && shape[0] > 0 && shape[0] <= CKPT_MAX_RNG) {
            bytes = mem_calloc(ctx, MEM_SCRATCH, (size_t)shape[0], sizeof *bytes);
            s->rng = mem_calloc(ctx, MEM_DATA, (size_t)shape[0], 1);
            st = bytes && s->rng ? h5_read_int32(ctx, f, "state/rng", bytes, 1, shape) : SIM_ENOMEM;
            for (int i = 0; st == SIM_OK && i < shape[0]; i++)
                s->rng[i] = (unsigned char)bytes[i];
            s->rng_len = (size_t)shape[0];
        } else if (st == SIM_OK) {
            st = ctx_error(ctx, SIM_EFORMAT, "%s: state/rng: unexpected shape", f->path);
        }
        mem_free(ctx, bytes);
    }
    if (st == SIM_OK) {
        char *str = NULL;
        if (h5_get_attr_str(ctx, f, "state", "command_line", &str) == SIM_OK)
            snprintf(s->cmdline, sizeof s->cmdline, "%s", str);
        mem_free(ctx, str);
        str = NULL;
        if (h5_get_attr_str(ctx, f, "state", "options", &str) == SIM_OK)
            snprintf(s->options, sizeof s->options, "%s", str);
        mem_free(ctx, str);
    }
    if (st != SIM_OK) {
        ckpt_state_free(ctx, s);
        return st;
    }
    o->step = step;
    return SIM_OK;
}
