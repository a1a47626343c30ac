/* fuzz_json.c - libFuzzer target for io/json.c and the checkpoint config
 * parser built on it (ckpt_config_from_json). The input is the JSON text
 * (made NUL-terminated); every getter is tried on a fixed set of keys, and
 * json_escape output is checked to be a well-formed, NUL-terminated string
 * that json_get_string reads back. */
#include <string.h>

#include "fuzz_common.h"
#include "io/checkpoint.h"
#include "io/json.h"

static const char *const keys[] = {"channels", "T", "preset", "normalization", "mean",
                                   "inter_supv", "a", "", "\\\"", "x\"y"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json = malloc(size + 1);
    if (!json)
        return 0;
    memcpy(json, data, size);
    json[size] = '\0';
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        double d, arr[4];
        int b, n = -1;
        char str[16], obj[64];
        (void)json_get_number(json, keys[k], &d);
        (void)json_get_bool(json, keys[k], &b);
        if (json_get_string(json, keys[k], str, sizeof str))
            fuzz_assert(strlen(str) < sizeof str);
        if (json_get_numbers(json, keys[k], arr, 4, &n))
            fuzz_assert(n >= 0);
        if (json_get_object(json, keys[k], obj, sizeof obj)) {
            fuzz_assert(strlen(obj) < sizeof obj && obj[0] == '{');
            (void)json_get_numbers(obj, "mean", arr, 4, &n);
        }
        (void)json_get_string(json, keys[k], str, 1);
    }
    /* escape the input as a string value and read it back */
    size_t need = json_escape(NULL, 0, json);
    char *esc = malloc(need + 16), *wrapped = malloc(need + 16), *back = malloc(size + 1);
    if (esc && wrapped && back) {
        fuzz_assert(json_escape(esc, need + 1, json) == need);
        fuzz_assert(strlen(esc) == need);
        snprintf(wrapped, need + 16, "{\"k\":%s}", esc);
        fuzz_assert(json_get_string(wrapped, "k", back, size + 1));
        /* \uXXXX escapes of control characters read back lossily, others exactly */
        int ctrl = 0;
        for (size_t i = 0; i < size && json[i]; i++)
            ctrl |= (unsigned char)json[i] < 0x20;
        if (!ctrl)
            fuzz_assert(strcmp(back, json) == 0);
        char small[5];
        json_escape(small, sizeof small, json);
        fuzz_assert(strlen(small) < sizeof small);
    }
    free(esc);
    free(wrapped);
    free(back);
    /* the checkpoint config reader on the same text */
    sim_ctx ctx;
    if (fuzz_ctx_init(&ctx) == SIM_OK) {
        trev_config cfg;
        if (ckpt_config_from_json(&ctx, json, "fuzz", &cfg) == SIM_OK)
            fuzz_assert(trev_config_check(&ctx, &cfg) == SIM_OK);
        fuzz_ctx_done(&ctx);
    }
    free(json);
    return 0;
}
