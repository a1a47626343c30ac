/* fuzz_idx.c - libFuzzer target for the IDX (Fashion-MNIST) reader.
 *
 * Input: a 4-byte big-endian length L, then L bytes of the image file and
 * the rest as the label file (each gzipped or plain). When the input is too
 * short for the split, the whole input is the image file and the label file
 * is derived (a valid one for as many images as the header claims, capped),
 * so mutations of a lone image header still reach the payload checks. */
#include <string.h>

#include "fuzz_common.h"
#include "io/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *img = data, *lbl = NULL;
    size_t nimg = size, nlbl = 0;
    uint8_t derived[8 + 256];
    if (size >= 4) {
        size_t L = (size_t)data[0] << 24 | (size_t)data[1] << 16 | (size_t)data[2] << 8 | data[3];
        if (L <= size - 4) {
            img = data + 4;
            nimg = L;
            lbl = data + 4 + L;
            nlbl = size - 4 - L;
        }
    }
    if (!lbl) {
        /* labels for the claimed image count (bytes 4..7 of the image file) */
        unsigned n = size >= 8 ? (unsigned)data[4] << 24 | (unsigned)data[5] << 16 |
                                     (unsigned)data[6] << 8 | data[7]
                               : 1;
        if (n > 256)
            n = 256;
        memcpy(derived, "\0\0\x08\x01", 4);
        derived[4] = (uint8_t)(n >> 24);
        derived[5] = (uint8_t)(n >> 16);
        derived[6] = (uint8_t)(n >> 8);
        derived[7] = (uint8_t)n;
        for (unsigned i = 0; i < n; i++)
            derived[8 + i] = (uint8_t)(i % 10);
        lbl = derived;
        nlbl = 8 + n;
    }
    sim_ctx ctx;
    if (fuzz_ctx_init(&ctx) != SIM_OK)
        return 0;
    dataset ds;
    if (dataset_parse_fmnist(&ctx, &ds, img, nimg, lbl, nlbl, 1) == SIM_OK) {
        fuzz_assert(ds.n >= 1 && ds.c == 1 && ds.h >= 1 && ds.w >= 1);
        fuzz_assert(mem_size(ds.pixels) >= (size_t)ds.n * ds.h * ds.w);
        unsigned sum = 0;
        for (int i = 0; i < ds.n; i++) {
            fuzz_assert(ds.labels[i] >= 0 && ds.labels[i] < 10);
            sum += ds.pixels[(size_t)i * ds.h * ds.w + (size_t)ds.h * ds.w - 1];
        }
        (void)sum;
        /* a batch of the first image must work when it fits the network input */
        if (ds.h <= 32 && ds.w <= 32) {
            real out[32 * 32];
            int idx = 0, lab;
            fuzz_assert(dataset_batch(&ctx, &ds, out, &lab, &idx, 1, &dataset_norm_fmnist,
                                      NULL) == SIM_OK);
        }
        dataset_free(&ctx, &ds);
    } else {
        fuzz_assert(ds.pixels == NULL && ds.labels == NULL);
        fuzz_assert(ctx_errmsg(&ctx)[0] != '\0');
    }
    fuzz_ctx_done(&ctx);
    return 0;
}
