/* fuzz_cifar10.c - libFuzzer target for the CIFAR-10 binary reader: the
 * input is one batch file (records of 1 label byte + 3072 pixel bytes). */
#include "fuzz_common.h"
#include "io/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sim_ctx ctx;
    if (fuzz_ctx_init(&ctx) != SIM_OK)
        return 0;
    dataset ds;
    if (dataset_parse_cifar10(&ctx, &ds, data, size, 0) == SIM_OK) {
        fuzz_assert(ds.n >= 1 && ds.c == 3 && ds.h == 32 && ds.w == 32);
        fuzz_assert((size_t)ds.n * 3073 == size);
        for (int i = 0; i < ds.n; i++)
            fuzz_assert(ds.labels[i] >= 0 && ds.labels[i] < 10 && ds.labels[i] == data[i * 3073]);
        real out[3 * 32 * 32];
        int idx = ds.n - 1, lab;
        dataset_augment aug = {2, 1};
        fuzz_assert(dataset_batch(&ctx, &ds, out, &lab, &idx, 1, &dataset_norm_cifar10, &aug) ==
                    SIM_OK);
        dataset_free(&ctx, &ds);
    } else {
        fuzz_assert(ds.pixels == NULL && ds.labels == NULL);
    }
    fuzz_ctx_done(&ctx);
    return 0;
}
