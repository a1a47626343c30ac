/* cmd_train.c - `sim --train`: train T-RevSNN on Fashion-MNIST or CIFAR-10.
 *
 * SIGINT and SIGTERM ask the trainer to finish the current step, write a
 * checkpoint and return; the command then exits with 128 + the signal
 * number. A second signal kills at once (the handler is one-shot). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "sim/cli.h"
#include "sim/cmd_parse.h"
#include "sim/commands.h"
#include "sim/http.h"
#include "sim/monitor.h"
#include "sim/train.h"

static const cli_opt opts[] = {
    CLI_MODEL_OPTS,
    {"data", "SPEC", "fmnist[:DIR] (default, Debian's dataset-fashion-mnist) or cifar10:DIR"},
    {"mode", "M", "rev (default: reversible, O(L) memory) or plain (keeps every column)"},
    {"epochs", "N", "epochs (default 10)"},
    {"batch", "N", "batch size (default 64)"},
    {"lr", "X", "peak learning rate (default 2e-3)"},
    {"min-lr", "X", "final learning rate of the cosine schedule (default 1e-5)"},
    {"wd", "X", "weight decay on conv weights (default 0.05)"},
    {"optim", "NAME", "adamw (default) or lamb"},
    {"warmup", "EPOCHS", "linear warmup length in epochs (default 1)"},
    {"clip", "C", "gradient clipping: none (default), norm:X or agc:F"},
    {"ema", "DECAY", "keep EMA weights with this decay and evaluate them too (e.g. 0.999)"},
    {"augment", "PAD[,flip]", "random crop with padding PAD (default 2), optional flips"},
    {"seed", "S", "random seed (default 1)"},
    {"threads", "N", "threads (default 2)"},
    {"train-limit", "N", "use only the first N training images"},
    {"test-limit", "N", "evaluate on the first N test images"},
    {"out", "CKPT", "checkpoint path, written atomically each epoch (default out/model.h5)"},
    {"log", "FILE", "append one JSON object per epoch"},
    {"resume", "CKPT", "continue the run saved in CKPT"},
    {"ckpt-every", "STEPS", "also checkpoint every STEPS optimizer steps"},
    {"max-steps", "N", "stop after N steps in this run, checkpointing (resume later)"},
    {"on-nonfinite", "stop|skip",
     "NaN/Inf in loss, gradient or state: stop (default, keep the last checkpoint) or skip "
     "the batch"},
    {"check-rebuild", NULL, "rev mode: measure the state reconstruction error (uses more memory)"},
    {"monitor", "HOST:PORT", "serve a live page, /v1/progress and /metrics (e.g. 127.0.0.1:8081)"},
    {"quiet", NULL, "no progress output"},
    {"json", NULL, "print the final summary as JSON"},
    {"help", NULL, "this text"},
    {NULL, NULL, NULL},
};

int cmd_train_parse(sim_ctx *ctx, int argc, char **argv, train_opts *o, int *json)
{
    train_defaults(o);
    snprintf(o->out, sizeof o->out, "out/model.h5");
    *json = 0;
    cli_model cm;
    cli_model_begin(&cm);
    int preset_given = 0;
    long v;
    double d = 0;
    sim_status st = SIM_OK;
    for (int i = 1; i < argc && st == SIM_OK;) {
        const char *val;
        int k = cli_next(ctx, argc, argv, &i, opts, &val, NULL);
        if (k < 0)
            return -1;
        const char *n = opts[k].name;
        int r = cli_model_option(ctx, &cm, n, val);
        if (r < 0)
            return -1;
        if (r) {
            preset_given |= !strcmp(n, "preset");
            continue;
        }
        if (!strcmp(n, "help")) {
            return 1;
        } else if (!strcmp(n, "data")) {
            snprintf(o->data, sizeof o->data, "%s", val);
        } else if (!strcmp(n, "mode")) {
            if (!strcmp(val, "rev"))
                o->mode = TREV_REV;
            else if (!strcmp(val, "plain"))
                o->mode = TREV_PLAIN;
            else
                st = ctx_error(ctx, SIM_EINVAL, "--mode: expected rev or plain, found '%s'", val);
        } else if (!strcmp(n, "epochs")) {
            if ((st = cli_long(ctx, n, val, 1, 100000, &v)) == SIM_OK)
                o->epochs = (int)v;
        } else if (!strcmp(n, "batch")) {
            if ((st = cli_long(ctx, n, val, 1, 4096, &v)) == SIM_OK)
                o->batch = (int)v;
        } else if (!strcmp(n, "lr")) {
            st = cli_double(ctx, n, val, 0, 10, &o->opt.lr);
        } else if (!strcmp(n, "min-lr")) {
            st = cli_double(ctx, n, val, 0, 10, &o->opt.min_lr);
        } else if (!strcmp(n, "wd")) {
            st = cli_double(ctx, n, val, 0, 10, &o->opt.weight_decay);
        } else if (!strcmp(n, "optim")) {
            st = optim_parse_kind(ctx, val, &o->opt.kind);
        } else if (!strcmp(n, "warmup")) {
            st = cli_double(ctx, n, val, 0, 1e6, &o->warmup_epochs);
        } else if (!strcmp(n, "clip")) {
            st = optim_parse_clip(ctx, val, &o->opt.clip, &o->opt.clip_value);
        } else if (!strcmp(n, "ema")) {
            if ((st = cli_double(ctx, n, val, 0, 1, &d)) == SIM_OK && d >= 1)
                st = ctx_error(ctx, SIM_EINVAL, "--ema: expected a decay in [0, 1), found '%s'",
                               val);
            o->opt.ema_decay = d;
        } else if (!strcmp(n, "augment")) {
            char rest[16] = "";
            int pad = -1;
            if (sscanf(val, "%d%15s", &pad, rest) < 1 || pad < 0 || pad > 16 ||
                (rest[0] && strcmp(rest, ",flip")))
                st = ctx_error(ctx, SIM_EINVAL,
                               "--augment: expected PAD or PAD,flip with PAD in 0..16, found '%s'",
                               val);
            o->aug_pad = pad;
            o->aug_flip = rest[0] != '\0';
        } else if (!strcmp(n, "seed")) {
            if ((st = cli_long(ctx, n, val, 0, 0x7fffffffL, &v)) == SIM_OK)
                o->seed = (uint64_t)v;
        } else if (!strcmp(n, "threads")) {
            if ((st = cli_long(ctx, n, val, 1, 256, &v)) == SIM_OK)
                o->threads = (int)v;
        } else if (!strcmp(n, "train-limit")) {
            if ((st = cli_long(ctx, n, val, 1, 100000000, &v)) == SIM_OK)
                o->train_limit = (int)v;
        } else if (!strcmp(n, "test-limit")) {
            if ((st = cli_long(ctx, n, val, 1, 100000000, &v)) == SIM_OK)
                o->test_limit = (int)v;
        } else if (!strcmp(n, "out")) {
            snprintf(o->out, sizeof o->out, "%s", val);
        } else if (!strcmp(n, "log")) {
            snprintf(o->log, sizeof o->log, "%s", val);
        } else if (!strcmp(n, "resume")) {
            snprintf(o->resume, sizeof o->resume, "%s", val);
        } else if (!strcmp(n, "ckpt-every")) {
            if ((st = cli_long(ctx, n, val, 1, 1L << 40, &v)) == SIM_OK)
                o->ckpt_every = v;
        } else if (!strcmp(n, "max-steps")) {
            if ((st = cli_long(ctx, n, val, 1, 1L << 40, &v)) == SIM_OK)
                o->max_steps = v;
        } else if (!strcmp(n, "on-nonfinite")) {
            if (!strcmp(val, "stop"))
                o->on_nonfinite = TRAIN_NONFINITE_STOP;
            else if (!strcmp(val, "skip"))
                o->on_nonfinite = TRAIN_NONFINITE_SKIP;
            else
                st = ctx_error(ctx, SIM_EINVAL, "--on-nonfinite: expected stop or skip, found '%s'",
                               val);
        } else if (!strcmp(n, "check-rebuild")) {
            o->check_rebuild = 1;
        } else if (!strcmp(n, "monitor")) {
            snprintf(o->monitor, sizeof o->monitor, "%s", val);
        } else if (!strcmp(n, "quiet")) {
            o->quiet = 1;
        } else if (!strcmp(n, "json")) {
            *json = 1;
        }
    }
    if (st != SIM_OK)
        return -1;
    /* CIFAR-10 data without a preset means the cifar10 preset */
    if (!preset_given && !strncmp(o->data, "cifar10", 7))
        snprintf(cm.preset, sizeof cm.preset, "cifar10");
    if (!strncmp(o->data, "cifar10", 7) && !strstr(o->data, ",flip") && !o->aug_flip)
        o->aug_flip = 1; /* flips only for CIFAR */
    if (cli_model_config(ctx, &cm, &o->cfg) != SIM_OK)
        return -1;
    cli_join(o->cmdline, sizeof o->cmdline, argc, argv);
    return 0;
}

/* The one piece of global state: what a signal handler may touch. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

/* --monitor HOST:PORT: the live page (sim/monitor.h), fed by on_progress. */
static sim_status start_monitor(sim_ctx *ctx, train_opts *o, monitor **mon)
{
    char host[64];
    int port;
    sim_status st = http_parse_listen(ctx, "monitor", o->monitor, host, sizeof host, &port);
    if (st == SIM_OK)
        st = monitor_start(ctx, mon, host, port, o->cmdline);
    if (st != SIM_OK)
        return st;
    o->on_progress = monitor_progress;
    o->progress_ud = *mon;
    fprintf(stderr, "monitor: http://%s:%d/\n", host, monitor_port(*mon));
    return SIM_OK;
}

int cmd_train(int argc, char **argv)
{
    sim_ctx ctx;
    if (ctx_init(&ctx, 1) != SIM_OK)
        return 1;
    train_opts o;
    int json = 0;
    int pr = cmd_train_parse(&ctx, argc, argv, &o, &json);
    if (pr < 0)
        return cmd_fail("--train", &ctx);
    if (pr > 0) {
        cli_help(stdout, "sim --train [options]",
                 "Train T-RevSNN with the exact reversible backward (model.md) and write HDF5\n"
                 "checkpoints. Progress goes to stderr; a live bar on a terminal.",
                 opts);
        ctx_free(&ctx);
        return 0;
    }
    sim_status st;
    /* the output directory "out/" is created on demand */
    if (o.out[0] && !strncmp(o.out, "out/", 4))
        (void)system("mkdir -p out");
    /* a full file-size limit (ulimit -f) then fails the write with EFBIG,
     * reported like any other write error, instead of killing us */
    signal(SIGXFSZ, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    o.stop = &stop_signal;
    monitor *mon = NULL;
    if (o.monitor[0] && start_monitor(&ctx, &o, &mon) != SIM_OK)
        return cmd_fail("--train", &ctx);
    train_result res;
    st = train_run(&ctx, &o, &res);
    if (mon) {
        monitor_finish(mon, st == SIM_OK ? "done" : ctx_errmsg(&ctx));
        monitor_stop(mon);
    }
    if (st != SIM_OK)
        return cmd_fail("--train", &ctx);
    if (res.signalled) {
        fprintf(stderr, "sim --train: stopped by %s after step %lld%s%s%s\n",
                res.signalled == SIGINT ? "SIGINT" : "SIGTERM", (long long)res.steps,
                o.out[0] ? "; checkpoint written, resume with --resume " : " (no checkpoint: --out "
                                                                         "is empty)",
                o.out, "");
        ctx_free(&ctx);
        return 128 + res.signalled;
    }
    if (res.skipped && !o.quiet)
        fprintf(stderr, "sim --train: %ld batch%s skipped for non-finite values\n", res.skipped,
                res.skipped > 1 ? "es" : "");
    int nh = res.nheads > 0 ? res.nheads : 1;
    if (json) {
        printf("{\"epochs\": %d, \"steps\": %lld, \"interrupted\": %s, \"loss\": %.6f, "
               "\"test_acc\": [",
               res.epochs_done, (long long)res.steps, res.interrupted ? "true" : "false",
               res.last_loss);
        for (int h = 0; h < res.nheads; h++)
            printf("%s%.5f", h ? ", " : "", res.test_acc[h]);
        printf("], \"test_acc_ema\": %.5f, \"images_per_s\": %.1f, \"seconds\": %.1f, "
               "\"max_rebuild_err\": %.3g, \"checkpoint\": \"%s\"}\n",
               res.test_acc_ema, res.images_per_s, res.seconds, res.max_rebuild_err, o.out);
    } else if (res.interrupted) {
        printf("stopped after %lld steps; resume with --resume %s\n", (long long)res.steps, o.out);
    } else if (o.resume[0] && res.epochs_done == 0) {
        printf("nothing to train: %s already finished all %d epochs (%lld steps); raise "
               "--epochs to continue\n",
               o.resume, o.epochs, (long long)res.steps);
    } else {
        printf("trained %d epochs (%lld steps) in %.1f s: final-head test accuracy %.2f%%, "
               "%.0f images/s; checkpoint %s\n",
               res.epochs_done, (long long)res.steps, res.seconds, 100 * res.test_acc[nh - 1],
               res.images_per_s, o.out[0] ? o.out : "(none)");
    }
    ctx_free(&ctx);
    return 0;
}
