/* cmd_serve.c - `sim serve`: load a checkpoint and serve live
 * classification over HTTP (sim/server.h) until SIGINT or SIGTERM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "sim/cli.h"
#include "sim/commands.h"
#include "sim/http.h"
#include "sim/server.h"

int cmd_serve(int argc, char **argv)
{
    static const cli_opt opts[] = {
        {"model", "CKPT", "checkpoint to serve (required)"},
        {"listen", "HOST:PORT", "address to listen on (default 127.0.0.1:8080; port 0: any free one)"},
        {"threads", "N", "worker threads, each with its own network (default 2)"},
        {"queue", "N", "jobs that may wait for a worker; more are answered 503 (default 64)"},
        {"max-body", "BYTES", "largest request body (default 4194304); more is answered 413"},
        {"timeout", "S", "read timeout per request, and longest wait in the queue (default 30)"},
        {"energy", "P", "energy constants: fp32 (default: 4.6 pJ/MAC, 0.9 pJ/AC), fp16, int8"},
        {"help", NULL, "this text"},
        {NULL, NULL, NULL},
    };
    sim_ctx ctx;
    if (ctx_init(&ctx, 1) != SIM_OK)
        return 1;
    server_config cfg;
    server_defaults(&cfg);
    char host[64] = "127.0.0.1";
    const char *model = NULL;
    long v;
    sim_status st = SIM_OK;
    for (int i = 1; i < argc && st == SIM_OK;) {
        const char *val;
        int k = cli_next(&ctx, argc, argv, &i, opts, &val, NULL);
        if (k < 0)
            return cmd_fail("serve", &ctx);
        const char *n = opts[k].name;
        if (!strcmp(n, "help")) {
            cli_help(stdout, "sim serve --model CKPT [--listen HOST:PORT] [--threads N]",
                     "Serve live classification by the event-driven engine over HTTP:\n"
                     "  POST /v1/classify  one PNG, binary PGM or raw image (?width=W&height=H)\n"
                     "  GET  /v1/model     the model; GET /metrics (Prometheus); GET / (a page)\n"
                     "Binds to loopback by default; stops cleanly on SIGINT or SIGTERM.",
                     opts);
            ctx_free(&ctx);
            return 0;
        } else if (!strcmp(n, "model")) {
            model = val;
        } else if (!strcmp(n, "listen")) {
            st = http_parse_listen(&ctx, n, val, host, sizeof host, &cfg.port);
        } else if (!strcmp(n, "threads")) {
            if ((st = cli_long(&ctx, n, val, 1, 256, &v)) == SIM_OK)
                cfg.threads = (int)v;
        } else if (!strcmp(n, "queue")) {
            if ((st = cli_long(&ctx, n, val, 1, 100000, &v)) == SIM_OK)
                cfg.queue = (int)v;
        } else if (!strcmp(n, "max-body")) {
            if ((st = cli_long(&ctx, n, val, 64, 1L << 30, &v)) == SIM_OK)
                cfg.max_body = (size_t)v;
        } else if (!strcmp(n, "timeout")) {
            st = cli_double(&ctx, n, val, 0.01, 86400, &cfg.timeout_s);
        } else if (!strcmp(n, "energy")) {
            if (!strcmp(val, "fp32"))
                cfg.e_mac_pj = 4.6, cfg.e_ac_pj = 0.9;
            else if (!strcmp(val, "fp16"))
                cfg.e_mac_pj = 1.5, cfg.e_ac_pj = 0.4;
            else if (!strcmp(val, "int8"))
                cfg.e_mac_pj = 0.23, cfg.e_ac_pj = 0.03;
            else
                st = ctx_error(&ctx, SIM_EINVAL, "--energy: expected fp32, fp16 or int8, found '%s'",
                               val);
        }
    }
    if (st == SIM_OK && !model)
        st = ctx_error(&ctx, SIM_EINVAL, "serve: --model CKPT is required");
    if (st != SIM_OK)
        return cmd_fail("serve", &ctx);
    cfg.host = host;
    cfg.model_name = model;
    cfg.handle_signals = 1;
    trev_model *m = NULL;
    if (ckpt_open_model(&ctx, model, &m, 0) != SIM_OK)
        return cmd_fail("serve", &ctx);
    server *srv = NULL;
    st = server_create(&ctx, &srv, m, &cfg);
    trev_destroy(&ctx, m); /* every worker has its own network now */
    if (st != SIM_OK)
        return cmd_fail("serve", &ctx);
    fprintf(stderr, "serving %s on http://%s%s%s:%d/ with %d worker thread(s); Ctrl-C stops\n",
            model, strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
            server_port(srv), cfg.threads);
    st = server_run(srv);
    server_destroy(srv);
    if (st != SIM_OK) {
        ctx_error(&ctx, st, "serve: the event loop failed");
        return cmd_fail("serve", &ctx);
    }
    fprintf(stderr, "serve: stopped\n");
    ctx_free(&ctx);
    return 0;
}
