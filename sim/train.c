/* train.c - the epoch loop of the dense trainer. */
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "io/dataset.h"
#include "sim/progress.h"
#include "sim/rng.h"

void train_defaults(train_opts *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->data, sizeof o->data, "fmnist");
    o->mode = TREV_REV;
    o->epochs = 10;
    o->batch = 64;
    o->threads = 2;
    o->seed = 1;
    optim_defaults(&o->opt);
    o->warmup_epochs = 1;
    o->aug_pad = 2;
    o->aug_flip = 0;
}

/* "name" or "name:DIR" -> dataset name and directory (NULL = default). */
static sim_status split_data(sim_ctx *ctx, const char *spec, char *name, size_t nlen,
                             const char **dir)
{
    const char *colon = strchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    if (n == 0 || n >= nlen)
        return ctx_error(ctx, SIM_EINVAL,
                         "--data: expected fmnist[:DIR] or cifar10:DIR, found '%s'", spec);
    memcpy(name, spec, n);
    name[n] = '\0';
    if (!strcmp(name, "fashion-mnist"))
        snprintf(name, nlen, "fmnist");
    if (strcmp(name, "fmnist") && strcmp(name, "cifar10"))
        return ctx_error(ctx, SIM_EINVAL,
                         "--data: unknown dataset '%s' (expected fmnist[:DIR] or cifar10:DIR)",
                         name);
    *dir = colon && colon[1] ? colon + 1 : NULL;
    return SIM_OK;
}

static sim_status load_split(sim_ctx *ctx, const char *spec, dataset *ds, int train, int limit)
{
    char name[32];
    const char *dir = NULL;
    sim_status st = split_data(ctx, spec, name, sizeof name, &dir);
    if (st == SIM_OK)
        st = dataset_load(ctx, ds, name, dir, train);
    if (st == SIM_OK && limit > 0 && limit < ds->n)
        ds->n = limit;
    return st;
}

static dataset_norm norm_of(const trev_config *c)
{
    dataset_norm nm;
    memset(&nm, 0, sizeof nm);
    nm.c = c->in_channels;
    for (int i = 0; i < c->in_channels && i < DATASET_MAXC && i < 3; i++) {
        nm.mean[i] = c->mean[i];
        nm.std[i] = c->std[i] > 0 ? c->std[i] : 1.0;
    }
    nm.size = c->input_size;
    return nm;
}

static int argmax_col(const real *lg, int K, int n, int i)
{
    int best = 0;
    for (int k = 1; k < K; k++)
        if (lg[(size_t)k * n + i] > lg[(size_t)best * n + i])
            best = k;
    return best;
}

/* Accuracy of every head on the test split. */
static sim_status evaluate(sim_ctx *ctx, trev_model *m, const dataset *test, const dataset_norm *nm,
                           int batch, real *images, int *labels, real *logits, double *acc)
{
    const trev_config *c = trev_cfg(m);
    const int nheads = c->inter_supv ? c->T : 1, K = c->classes;
    long correct[TREV_MAXT] = {0};
    int idx[4096];
    for (int s = 0; s < test->n; s += batch) {
        int nb = test->n - s < batch ? test->n - s : batch;
        for (int i = 0; i < nb; i++)
            idx[i] = s + i;
        sim_status st = dataset_batch(ctx, test, images, labels, idx, nb, nm, NULL);
        if (st == SIM_OK)
            st = trev_infer(ctx, m, images, nb, logits);
        if (st != SIM_OK)
            return st;
        for (int h = 0; h < nheads; h++)
            for (int i = 0; i < nb; i++)
                correct[h] += argmax_col(logits + (size_t)h * K * nb, K, nb, i) == labels[i];
    }
    for (int h = 0; h < nheads; h++)
        acc[h] = test->n ? (double)correct[h] / test->n : 0;
    return SIM_OK;
}

/* The training mode as logged: rev or plain for T-RevSNN; the LIF baseline
 * has one, backpropagation through time. */
static const char *train_mode_name(const train_opts *o)
{
    if (o->cfg.model == TREV_MODEL_LIF)
        return "bptt";
    return o->mode == TREV_REV ? "rev" : "plain";
}

static void options_json(const train_opts *o, char *buf, size_t len)
{
    snprintf(buf, len,
             "{\"data\": \"%.512s\", \"mode\": \"%s\", \"epochs\": %d, \"batch\": %d, \"threads\": %d, "
             "\"seed\": %llu, \"optim\": \"%s\", \"lr\": %.9g, \"min_lr\": %.9g, "
             "\"weight_decay\": %.9g, \"warmup_epochs\": %.9g, \"clip\": \"%s\", "
             "\"clip_value\": %.9g, \"ema\": %.9g, \"aug_pad\": %d, \"aug_flip\": %d, "
             "\"train_limit\": %d, \"test_limit\": %d}",
             o->data, train_mode_name(o), o->epochs, o->batch, o->threads,
             (unsigned long long)o->seed, o->opt.kind == OPTIM_LAMB ? "lamb" : "adamw", o->opt.lr,
             o->opt.min_lr, o->opt.weight_decay, o->warmup_epochs,
             o->opt.clip == CLIP_NORM ? "norm" : o->opt.clip == CLIP_AGC ? "agc" : "none",
             o->opt.clip_value, o->opt.ema_decay, o->aug_pad, o->aug_flip, o->train_limit,
             o->test_limit);
}

typedef struct {
    sim_ctx *ctx;
    const train_opts *o;
    trev_model *m;
    optim opt;
    dataset train, test;
    dataset_norm norm;
    real *images, *logits;
    int *labels, *order;
    FILE *log;
} trainer;

static void trainer_free(trainer *t)
{
    sim_ctx *ctx = t->ctx;
    optim_free(ctx, &t->opt);
    trev_destroy(ctx, t->m);
    dataset_free(ctx, &t->train);
    dataset_free(ctx, &t->test);
    mem_free(ctx, t->images);
    mem_free(ctx, t->logits);
    mem_free(ctx, t->labels);
    mem_free(ctx, t->order);
    if (t->log)
        fclose(t->log);
}

static int nonfinite_model(trainer *t, char *msg, size_t len);

static sim_status save(trainer *t, const char *path, int64_t epoch, int64_t batch_in_epoch)
{
    sim_ctx *ctx = t->ctx;
    char bad[160];
    if (nonfinite_model(t, bad, sizeof bad)) /* never overwrite a good checkpoint with these */
        return ctx_error(ctx, SIM_ENUMERIC, "at step %lld %s; not writing the checkpoint %s",
                         (long long)t->opt.step, bad, path);
    ckpt_state s;
    memset(&s, 0, sizeof s);
    s.epoch = epoch;
    s.step = t->opt.step;
    s.batch_in_epoch = batch_in_epoch;
    s.order = t->order;
    s.norder = t->train.n;
    s.rng_len = rng_state_size(ctx);
    s.rng = mem_alloc(ctx, MEM_SCRATCH, s.rng_len);
    if (!s.rng)
        return SIM_ENOMEM;
    rng_save(ctx, s.rng);
    snprintf(s.cmdline, sizeof s.cmdline, "%s", t->o->cmdline);
    options_json(t->o, s.options, sizeof s.options);
    sim_status st = ckpt_save(ctx, path, t->m, &t->opt, &s);
    mem_free(ctx, s.rng);
    return st;
}

static int all_finite(const real *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite((double)x[i]))
            return 0;
    return 1;
}

/* The first non-finite value of vals (laid out like the parameter table) as
 * "<parameter name> <what> is NaN|Inf" in msg; 0 if all are finite.
 * with_buffers: also look at BN buffers (they have no gradient). */
static int nonfinite_param(const trev_model *m, const real *vals, const char *what,
                           int with_buffers, char *msg, size_t len)
{
    for (int i = 0; i < trev_nparams(m); i++) {
        const trev_param *p = trev_param_at(m, i);
        if (p->buffer && !with_buffers)
            continue;
        const real *v = vals + p->offset;
        for (size_t j = 0; j < p->n; j++)
            if (!isfinite((double)v[j])) {
                snprintf(msg, len, "%s %s is %s", p->name, what,
                         isnan((double)v[j]) ? "NaN" : "Inf");
                return 1;
            }
    }
    return 0;
}

/* After a backward: the loss, then the turn-on states the model kept (every
 * column in plain mode, the last in rev mode), then every gradient. */
static int nonfinite_step(const trev_model *m, const trev_step *r, int n, char *msg, size_t len)
{
    if (!isfinite(r->loss)) {
        snprintf(msg, len, "the loss is %s", isnan(r->loss) ? "NaN" : "Inf");
        return 1;
    }
    const trev_config *c = trev_cfg(m);
    for (int t = 0; t < c->T; t++)
        for (int l = 0; l < TREV_LEVELS; l++) {
            const real *st = trev_state(m, t, l);
            int R = trev_resolution(m, l);
            if (!st || R < 1)
                continue;
            size_t cnt = (size_t)c->channels[l] * (size_t)n * (size_t)R * (size_t)R;
            for (size_t j = 0; j < cnt; j++)
                if (!isfinite((double)st[j])) {
                    snprintf(msg, len, "turn-on state c[level %d, t %d] is %s", l, t,
                             isnan((double)st[j]) ? "NaN" : "Inf");
                    return 1;
                }
        }
    return nonfinite_param(m, trev_grads((trev_model *)m), "gradient", 0, msg, len);
}

/* Parameters, optimizer moments and EMA must all be finite before they are
 * written to a checkpoint. */
static int nonfinite_model(trainer *t, char *msg, size_t len)
{
    if (nonfinite_param(t->m, trev_params(t->m), "parameter", 1, msg, len))
        return 1;
    if (t->opt.mom1 && nonfinite_param(t->m, t->opt.mom1, "first moment", 0, msg, len))
        return 1;
    if (t->opt.mom2 && nonfinite_param(t->m, t->opt.mom2, "second moment", 0, msg, len))
        return 1;
    return t->opt.ema && nonfinite_param(t->m, t->opt.ema, "EMA weight", 1, msg, len);
}

/* Hand a snapshot to o->on_progress (the --monitor page), with memory per role. */
static void report(const train_opts *o, const sim_ctx *ctx, train_progress *p)
{
    for (int r = 0; r < MEM_NROLES; r++)
        p->mem_current[r] = mem_current(ctx, (mem_role)r), p->mem_peak[r] = mem_peak(ctx, (mem_role)r);
    o->on_progress(o->progress_ud, p);
}

sim_status train_run(sim_ctx *ctx, const train_opts *o, train_result *res)
{
    trainer t;
    memset(&t, 0, sizeof t);
    memset(res, 0, sizeof *res);
    res->test_acc_ema = -1;
    t.ctx = ctx;
    t.o = o;
    sim_status st = SIM_OK;
    ckpt_state rs;
    memset(&rs, 0, sizeof rs);
    int resumed = 0;
    trev_config cfg = o->cfg;

    if (o->batch < 1 || o->batch > 4096)
        return ctx_error(ctx, SIM_EINVAL, "--batch: expected 1..4096, found %d", o->batch);
    if (o->epochs < 1)
        return ctx_error(ctx, SIM_EINVAL, "--epochs: expected >= 1, found %d", o->epochs);
    ctx_set_threads(ctx, o->threads);
    rng_seed(ctx, o->seed);

    /* the log and the checkpoint's directory must be writable before any
     * work is done */
    if (o->log[0] && !(t.log = fopen(o->log, "a")))
        return ctx_error(ctx, SIM_EIO, "--log %s: cannot open for appending", o->log);
    if (o->out[0]) {
        h5_file probe;
        int stale = h5_remove_stale_tmp(o->out);
        if (stale > 0 && !o->quiet)
            fprintf(stderr, "removed %d temporary file%s of %s left by killed runs\n", stale,
                    stale > 1 ? "s" : "", o->out);
        if (h5_create_atomic(ctx, o->out, &probe) != SIM_OK) {
            char msg[sizeof ctx->err];
            snprintf(msg, sizeof msg, "%s", ctx->err);
            if (t.log)
                fclose(t.log);
            return ctx_error(ctx, SIM_EIO, "--out: %s", msg);
        }
        h5_abort_atomic(ctx, &probe);
    }

    if (o->resume[0]) {
        h5_file f;
        st = ckpt_open_model(ctx, o->resume, &t.m, 1);
        if (st == SIM_OK)
            cfg = *trev_cfg(t.m);
        if (st == SIM_OK)
            st = h5_open_read(ctx, &f, o->resume);
        optim_config oc = o->opt;
        if (st == SIM_OK) {
            st = optim_init(ctx, &t.opt, t.m, &oc);
            if (st == SIM_OK)
                st = ckpt_load_state(ctx, &f, t.m, &t.opt, &rs);
            h5_close(ctx, &f);
        }
        if (st == SIM_OK && rs.rng)
            st = rng_load(ctx, rs.rng, rs.rng_len);
        resumed = st == SIM_OK;
    } else {
        st = trev_create(ctx, &t.m, &cfg, 1);
        if (st == SIM_OK)
            st = optim_init(ctx, &t.opt, t.m, &o->opt);
    }
    if (st == SIM_OK)
        st = load_split(ctx, o->data, &t.train, 1, o->train_limit);
    if (st == SIM_OK)
        st = load_split(ctx, o->data, &t.test, 0, o->test_limit);
    if (st == SIM_OK && (t.train.c != cfg.in_channels || t.train.h > cfg.input_size ||
                         t.train.w > cfg.input_size || t.train.classes != cfg.classes))
        st = ctx_error(ctx, SIM_EINVAL,
                       "--data %s: images are %dx%dx%d with %d classes, but the model expects %d "
                       "channel(s), at most %dx%d, %d classes",
                       o->data, t.train.c, t.train.h, t.train.w, t.train.classes, cfg.in_channels,
                       cfg.input_size, cfg.input_size, cfg.classes);
    if (st == SIM_OK && t.train.n < o->batch)
        st = ctx_error(ctx, SIM_EINVAL, "--batch %d is larger than the %d training images",
                       o->batch, t.train.n);
    if (st == SIM_OK)
        st = trev_prepare(ctx, t.m, o->batch, o->mode);
    const int nheads = cfg.inter_supv ? cfg.T : 1, K = cfg.classes;
    if (st == SIM_OK) {
        size_t img = (size_t)cfg.in_channels * o->batch * cfg.input_size * cfg.input_size;
        t.images = mem_calloc(ctx, MEM_DATA, img, sizeof(real));
        t.logits = mem_calloc(ctx, MEM_DATA, (size_t)nheads * K * o->batch, sizeof(real));
        t.labels = mem_calloc(ctx, MEM_DATA, (size_t)o->batch, sizeof(int));
        t.order = mem_calloc(ctx, MEM_DATA, (size_t)t.train.n, sizeof(int));
        if (!t.images || !t.logits || !t.labels || !t.order)
            st = SIM_ENOMEM;
    }
    if (st != SIM_OK) {
        ckpt_state_free(ctx, &rs);
        trainer_free(&t);
        return st;
    }
    t.norm = norm_of(&cfg);
    const long steps_per_epoch = t.train.n / o->batch;
    t.opt.cfg.total_steps = (double)steps_per_epoch * o->epochs;
    t.opt.cfg.warmup_steps = o->warmup_epochs * (double)steps_per_epoch;
    dataset_augment aug = {o->aug_pad, o->aug_flip};
    const dataset_augment *augp = (o->aug_pad > 0 || o->aug_flip) ? &aug : NULL;

    int epoch0 = 0;
    long batch0 = 0;
    if (resumed) {
        epoch0 = (int)rs.epoch;
        batch0 = (long)rs.batch_in_epoch;
        if (batch0 > 0) {
            if (rs.norder != t.train.n || batch0 > steps_per_epoch) {
                st = ctx_error(ctx, SIM_EFORMAT,
                               "%s: state/order has %d entries and batch %ld, but the training "
                               "split has %d images (%ld batches)",
                               o->resume, rs.norder, batch0, t.train.n, steps_per_epoch);
            } else {
                memcpy(t.order, rs.order, (size_t)t.train.n * sizeof *t.order);
            }
        }
        if (!o->quiet && st == SIM_OK)
            fprintf(stderr, "resuming %s at epoch %d, batch %ld (step %lld)\n", o->resume,
                    epoch0 + 1, batch0, (long long)t.opt.step);
    }
    ckpt_state_free(ctx, &rs);

    /* --on-nonfinite skip: a copy of the parameters taken before each step,
     * so a skipped batch also leaves the BN running statistics untouched */
    real *snap = NULL;
    if (o->on_nonfinite == TRAIN_NONFINITE_SKIP &&
        !(snap = mem_calloc(ctx, MEM_SCRATCH, trev_nvalues(t.m), sizeof *snap)))
        st = SIM_ENOMEM;
    double t_start = progress_now();
    long steps_run = 0;
    for (int ep = epoch0; ep < o->epochs && st == SIM_OK; ep++) {
        /* SIGINT/SIGTERM: checkpoint where we are and return - between
         * epochs before the shuffle (a checkpoint at batch 0 means "shuffle
         * on resume"), else after the current step (below) */
        if (batch0 == 0 && o->stop && *o->stop) {
            res->signalled = (int)*o->stop;
            res->interrupted = 1;
            if (o->out[0])
                st = save(&t, o->out, ep, 0);
            break;
        }
        if (batch0 == 0) { /* a fresh epoch; a resumed one keeps its order */
            for (int i = 0; i < t.train.n; i++)
                t.order[i] = i;
            rng_shuffle(ctx, RNG_DATA, t.order, (size_t)t.train.n);
        }
        progress bar;
        char label[48];
        snprintf(label, sizeof label, "epoch %d/%d", ep + 1, o->epochs);
        if (!o->quiet)
            progress_begin(&bar, stderr, label, steps_per_epoch);
        double loss_sum = 0, head_sum[TREV_MAXT] = {0}, t_ep = progress_now();
        long nsteps = 0, correct = 0, seen = 0;
        mem_reset_peak(ctx);
        for (long b = batch0; b < steps_per_epoch; b++) {
            if (b > 0 && o->stop && *o->stop) {
                res->signalled = (int)*o->stop;
                res->interrupted = 1;
                if (o->out[0])
                    st = save(&t, o->out, ep, b);
                break;
            }
            st = dataset_batch(ctx, &t.train, t.images, t.labels, t.order + b * o->batch, o->batch,
                               &t.norm, augp);
            if (st != SIM_OK)
                break;
            trev_zero_grads(t.m);
            if (snap)
                memcpy(snap, trev_params(t.m), trev_nvalues(t.m) * sizeof *snap);
            trev_step r;
            st = trev_train_step(ctx, t.m, t.images, t.labels, o->batch, &r, o->check_rebuild);
            if (st != SIM_OK)
                break;
            if (o->fault)
                o->fault(o->fault_ud, t.m, t.opt.step + 1);
            char bad[160];
            if (nonfinite_step(t.m, &r, o->batch, bad, sizeof bad)) {
                if (snap) {
                    memcpy(trev_params(t.m), snap, trev_nvalues(t.m) * sizeof *snap);
                    res->skipped++;
                    if (!o->quiet)
                        fprintf(stderr, "\n%s at step %lld (epoch %d, batch %ld): batch skipped "
                                "(%ld so far)\n", bad, (long long)t.opt.step + 1, ep + 1, b + 1,
                                res->skipped);
                    continue;
                }
                st = ctx_error(ctx, SIM_ENUMERIC,
                               "%s at step %lld (epoch %d, batch %ld); stopping, the last "
                               "checkpoint is kept (--on-nonfinite skip drops such batches)",
                               bad, (long long)t.opt.step + 1, ep + 1, b + 1);
                break;
            }
            if (r.max_rebuild_err > res->max_rebuild_err)
                res->max_rebuild_err = r.max_rebuild_err;
            optim_clip(&t.opt);
            double lr = optim_step(&t.opt);
            if (nonfinite_param(t.m, trev_params(t.m), "parameter", 0, bad, sizeof bad)) {
                st = ctx_error(ctx, SIM_ENUMERIC,
                               "%s after the update of step %lld (learning rate %g); stopping, "
                               "the last checkpoint is kept",
                               bad, (long long)t.opt.step, lr);
                break;
            }
            loss_sum += r.loss;
            for (int h = 0; h < r.nheads; h++)
                head_sum[h] += r.head_loss[h];
            nsteps++;
            steps_run++;
            const real *fin = r.logits + (size_t)(r.nheads - 1) * K * o->batch;
            for (int i = 0; i < o->batch; i++)
                correct += argmax_col(fin, K, o->batch, i) == t.labels[i];
            seen += o->batch;
            if (!o->quiet) {
                char info[160];
                double el = progress_now() - t_ep;
                snprintf(info, sizeof info, "loss %.4f acc %.3f lr %.2e %.0f img/s",
                         loss_sum / nsteps, (double)correct / seen, lr,
                         el > 0 ? seen / el : 0.0);
                progress_update(&bar, b + 1, info);
            }
            if (o->on_progress) {
                double el = progress_now() - t_ep;
                train_progress p = {ep + 1, o->epochs, t.opt.step, (int64_t)steps_per_epoch * o->epochs,
                                    b + 1, steps_per_epoch, r.loss, loss_sum / nsteps,
                                    (double)correct / seen, lr, el > 0 ? seen / el : 0.0,
                                    progress_now() - t_start, 0, 0, {0}, -1, {0}, {0}};
                report(o, ctx, &p);
            }
            if (o->out[0] && o->ckpt_every > 0 && t.opt.step % o->ckpt_every == 0 &&
                b + 1 < steps_per_epoch)
                st = save(&t, o->out, ep, b + 1);
            if (st == SIM_OK && o->max_steps > 0 && steps_run >= o->max_steps) {
                if (o->out[0])
                    st = save(&t, o->out, b + 1 < steps_per_epoch ? ep : ep + 1,
                              b + 1 < steps_per_epoch ? b + 1 : 0);
                res->interrupted = 1;
                break;
            }
            if (st != SIM_OK)
                break;
        }
        if (st != SIM_OK)
            break;
        double ep_time = progress_now() - t_ep;
        double ips = ep_time > 0 ? seen / ep_time : 0;
        if (!o->quiet) {
            char info[160];
            snprintf(info, sizeof info, "loss %.4f acc %.3f %.0f img/s",
                     nsteps ? loss_sum / nsteps : 0.0, seen ? (double)correct / seen : 0.0, ips);
            progress_end(&bar, info);
        }
        res->last_loss = nsteps ? loss_sum / nsteps : 0;
        res->images_per_s = ips;
        if (res->interrupted)
            break;
        st = evaluate(ctx, t.m, &t.test, &t.norm, o->batch, t.images, t.labels, t.logits,
                      res->test_acc);
        if (st == SIM_OK && t.opt.ema) {
            double ema_acc[TREV_MAXT];
            optim_swap_ema(&t.opt);
            st = evaluate(ctx, t.m, &t.test, &t.norm, o->batch, t.images, t.labels, t.logits,
                          ema_acc);
            optim_swap_ema(&t.opt);
            res->test_acc_ema = ema_acc[nheads - 1];
        }
        if (st != SIM_OK)
            break;
        res->nheads = nheads;
        res->epochs_done = ep + 1;
        if (o->on_progress) {
            train_progress p = {ep + 1, o->epochs, t.opt.step, (int64_t)steps_per_epoch * o->epochs,
                                steps_per_epoch, steps_per_epoch, 0, res->last_loss,
                                seen ? (double)correct / seen : 0.0,
                                optim_lr(&t.opt.cfg, (double)t.opt.step), ips,
                                progress_now() - t_start, 1, nheads, {0}, res->test_acc_ema,
                                {0}, {0}};
            memcpy(p.test_acc, res->test_acc, sizeof p.test_acc);
            report(o, ctx, &p);
        }
        if (!o->quiet) {
            fprintf(stderr, "epoch %d: test accuracy %.2f%% (final head)", ep + 1,
                    100 * res->test_acc[nheads - 1]);
            if (t.opt.ema)
                fprintf(stderr, ", EMA %.2f%%", 100 * res->test_acc_ema);
            fprintf(stderr, "\n");
        }
        if (t.log) {
            fprintf(t.log,
                    "{\"epoch\": %d, \"step\": %lld, \"loss\": %.6f, \"train_acc\": %.5f, "
                    "\"lr\": %.6g, \"images_per_s\": %.1f, \"epoch_seconds\": %.2f, "
                    "\"skipped_batches\": %ld, \"test_acc\": [",
                    ep + 1, (long long)t.opt.step, res->last_loss,
                    seen ? (double)correct / seen : 0.0, optim_lr(&t.opt.cfg, (double)t.opt.step),
                    ips, ep_time, res->skipped);
            for (int h = 0; h < nheads; h++)
                fprintf(t.log, "%s%.5f", h ? ", " : "", res->test_acc[h]);
            fprintf(t.log, "], \"head_loss\": [");
            for (int h = 0; h < nheads; h++)
                fprintf(t.log, "%s%.5f", h ? ", " : "", nsteps ? head_sum[h] / nsteps : 0.0);
            fprintf(t.log, "], \"test_acc_ema\": %.5f, \"model\": \"%s\", \"mode\": \"%s\", "
                    "\"T\": %d, \"memory\": ",
                    res->test_acc_ema, trev_model_name(cfg.model), train_mode_name(o), cfg.T);
            mem_report_json(ctx, t.log);
            fprintf(t.log, ", \"peak_rss\": %zu}\n", mem_peak_rss());
            fflush(t.log);
            if (ferror(t.log))
                st = ctx_error(ctx, SIM_EIO, "--log %s: write failed", o->log);
        }
        if (st == SIM_OK && o->out[0])
            st = save(&t, o->out, ep + 1, 0);
        batch0 = 0;
    }
    res->steps = t.opt.step;
    res->seconds = progress_now() - t_start;
    if (st == SIM_OK && !all_finite(trev_params(t.m), trev_nvalues(t.m)))
        st = ctx_error(ctx, SIM_ENUMERIC, "parameters became non-finite");
    mem_free(ctx, snap);
    trainer_free(&t);
    return st;
}
