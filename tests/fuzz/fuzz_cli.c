/* fuzz_cli.c - libFuzzer target for the command-line parsing of `sim --train`,
 * `sim info` and `sim run` (sim/cmd_parse.h: parse only, nothing runs), and
 * of cli_join on the same arguments.
 *
 * Input: the arguments separated by NUL bytes (at most 64); the first byte
 * picks the subcommand. */
#include <string.h>

#include "fuzz_common.h"
#include "sim/cli.h"
#include "sim/cmd_parse.h"

#define MAXARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int which = data[0] % 3;
    /* a private NUL-terminated copy, split into argv */
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    char *argv[MAXARGS + 2];
    int argc = 0;
    argv[argc++] = (char *)(which == 0 ? "train" : which == 1 ? "info" : "run");
    for (size_t i = 0; i < size - 1 && argc < MAXARGS;) {
        argv[argc++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    argv[argc] = NULL;
    sim_ctx ctx;
    if (fuzz_ctx_init(&ctx) != SIM_OK) {
        free(buf);
        return 0;
    }
    if (which == 0) {
        train_opts o;
        int json = -1;
        int r = cmd_train_parse(&ctx, argc, argv, &o, &json);
        fuzz_assert(r >= -1 && r <= 1);
        if (r == 0) {
            fuzz_assert(json == 0 || json == 1);
            fuzz_assert(o.batch >= 1 && o.epochs >= 1 && o.threads >= 1);
            fuzz_assert(trev_config_check(&ctx, &o.cfg) == SIM_OK);
            fuzz_assert(memchr(o.out, '\0', sizeof o.out) && memchr(o.data, '\0', sizeof o.data));
        } else if (r < 0) {
            fuzz_assert(ctx_errmsg(&ctx)[0] != '\0');
        }
    } else if (which == 1) {
        trev_config cfg;
        long batch = 0;
        int json = -1;
        int r = cmd_info_parse(&ctx, argc, argv, &cfg, &batch, &json);
        if (r == 0)
            fuzz_assert(batch >= 1 && batch <= 4096 && trev_config_check(&ctx, &cfg) == SIM_OK);
    } else {
        run_opts o;
        int r = cmd_run_parse(&ctx, argc, argv, &o);
        fuzz_assert(r >= -1 && r <= 1);
        if (r == 0) {
            fuzz_assert(o.model != NULL && o.data != NULL);
            fuzz_assert(o.first >= 0 && o.count >= 1 && o.first + o.count <= RUN_MAX_IMAGES);
            fuzz_assert(o.threads >= 1 && o.threads <= 256);
            fuzz_assert(o.e_mac_pj > 0 && o.e_ac_pj > 0);
        } else if (r < 0) {
            fuzz_assert(ctx_errmsg(&ctx)[0] != '\0');
        }
        char joined[64];
        cli_join(joined, sizeof joined, argc, argv);
        fuzz_assert(strlen(joined) < sizeof joined);
    }
    ctx_free(&ctx);
    free(buf);
    return 0;
}
