/* test_trainlog.c - reading the JSON-lines training log (analysis/
 * trainlog.c): values of every epoch, optional keys, blank lines, and bad
 * logs (missing file, a line that is not an object, a missing key, no
 * epoch) failing with the file and line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/trainlog.h"
#include "io/json.h"
#include "tests/harness.h"

static char tmpdir[64];

static const char *write_log(const char *name, const char *text)
{
    const char *path = harness_join(tmpdir, name);
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(text, f);
    fclose(f);
    return path;
}

static const char *good =
    "{\"epoch\": 1, \"step\": 10, \"loss\": 2.5, \"train_acc\": 0.5, \"lr\": 0.002, "
    "\"images_per_s\": 100.5, \"epoch_seconds\": 3.0, \"test_acc\": [0.6, 0.7], \"head_loss\": "
    "[1, 2], \"test_acc_ema\": 0.4, \"mode\": \"rev\", \"T\": 2, \"memory\": {\"params\": "
    "{\"current\": 5, \"peak\": 6}}, \"peak_rss\": 1000}\n"
    "\n"
    "{\"epoch\": 2, \"step\": 20, \"loss\": 1.5, \"train_acc\": 0.75, \"lr\": 0.001, "
    "\"images_per_s\": 120, \"epoch_seconds\": 2.5, \"test_acc\": [0.8, 0.9], \"test_acc_ema\": "
    "0.85}\n";

static void test_values(void)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    trainlog lg;
    CU_ASSERT_FATAL(trainlog_load(&ctx, &lg, write_log("good.jsonl", good)) == SIM_OK);
    CU_ASSERT_EQUAL_FATAL(lg.n, 2);
    CU_ASSERT_EQUAL(lg.nheads, 2);
    CU_ASSERT_EQUAL(lg.has_ema, 1);
    CU_ASSERT_DOUBLE_EQUAL(lg.e[0].loss, 2.5, 0);
    CU_ASSERT_DOUBLE_EQUAL(lg.e[0].peak_rss, 1000, 0);
    CU_ASSERT_DOUBLE_EQUAL(lg.e[0].test_acc[1], 0.7, 0);
    CU_ASSERT_DOUBLE_EQUAL(lg.e[1].epoch, 2, 0);
    CU_ASSERT_DOUBLE_EQUAL(lg.e[1].images_per_s, 120, 0);
    CU_ASSERT_DOUBLE_EQUAL(lg.e[1].test_acc_ema, 0.85, 0);
    CU_ASSERT_DOUBLE_EQUAL(lg.e[1].lr, 0.001, 0);
    CU_ASSERT_DOUBLE_EQUAL(lg.e[1].peak_rss, 0, 0); /* absent */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    trainlog_print(f, &lg);
    fclose(f);
    CU_ASSERT(strstr(buf, "2 epochs, 2 heads, EMA weights") != NULL);
    CU_ASSERT(strstr(buf, "final head: 90.00% after epoch 2 (best 90.00% at epoch 2); EMA "
                          "85.00%") != NULL);
    free(buf);
    buf = NULL;
    f = open_memstream(&buf, &len);
    trainlog_print_json(f, &lg);
    fclose(f);
    double v, acc[4];
    int n;
    CU_ASSERT(json_get_number(buf, "epochs", &v) && v == 2);
    CU_ASSERT(json_get_number(buf, "final_test_acc", &v) && fabs(v - 0.9) < 1e-15);
    CU_ASSERT(json_get_number(buf, "final_loss", &v) && v == 1.5);
    const char *second = strstr(buf, "{\"epoch\": 2");
    CU_ASSERT_FATAL(second != NULL);
    char obj[1024];
    snprintf(obj, sizeof obj, "%.*s", (int)(strchr(second, '}') - second + 1), second);
    CU_ASSERT(json_get_numbers(obj, "test_acc", acc, 4, &n) && n == 2 && acc[1] == 0.9);
    free(buf);
    trainlog_free(&ctx, &lg);
    CU_ASSERT_EQUAL(ctx.nallocs, 0);
    ctx_free(&ctx);
}

static void expect_fail(const char *path, sim_status want, const char *text)
{
    sim_ctx ctx;
    harness_ctx(&ctx, 1);
    trainlog lg;
    CU_ASSERT_EQUAL(trainlog_load(&ctx, &lg, path), want);
    CHECK_MSG(&ctx, path);
    CHECK_MSG(&ctx, text);
    CU_ASSERT_EQUAL(lg.n, 0);
    CU_ASSERT_EQUAL(ctx.nallocs, 0);
    ctx_free(&ctx);
}

static void test_bad_logs(void)
{
    expect_fail(harness_join(tmpdir, "missing.jsonl"), SIM_EIO, "cannot open");
    expect_fail(write_log("empty.jsonl", "\n\n"), SIM_EFORMAT, "no epochs");
    expect_fail(write_log("text.jsonl", "{\"epoch\": 1, \"loss\": 1, \"images_per_s\": 1, "
                          "\"test_acc\": [0.5]}\nepoch 2 done\n"),
                SIM_EFORMAT, "text.jsonl:2: expected a JSON object per line");
    expect_fail(write_log("noloss.jsonl", "{\"epoch\": 1, \"images_per_s\": 1, \"test_acc\": "
                          "[0.5]}\n"), SIM_EFORMAT, "noloss.jsonl:1: key loss missing");
    expect_fail(write_log("noacc.jsonl", "{\"epoch\": 1, \"loss\": 1, \"images_per_s\": 1, "
                          "\"test_acc\": 0.5}\n"), SIM_EFORMAT, "key test_acc missing or not an "
                "array");
}

int main(void)
{
    harness_mkdtemp(tmpdir, sizeof tmpdir, "test_trainlog");
    static const harness_test tests[] = {
        {"values, optional keys, blank lines, table and JSON", test_values},
        {"bad logs name the file and line", test_bad_logs},
        {NULL, NULL},
    };
    int rc = harness_run("analysis/trainlog", tests);
    harness_rmtree(tmpdir);
    return rc;
}
