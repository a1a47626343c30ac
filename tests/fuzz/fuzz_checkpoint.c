/* fuzz_checkpoint.c - libFuzzer target for the checkpoint loader: the input
 * is written to a temporary file and loaded the way `sim --train --resume`
 * and `sim run` load one (ckpt_open_model, then optimizer state with
 * ckpt_load_state). HDF5 parses the container; a crash inside libhdf5 on a
 * malformed file is the library's (noted in docs/reliability.md), but our
 * code must never crash, leak or allocate beyond the stated bounds
 * (io/checkpoint.h). */
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "io/checkpoint.h"

static char path[256];

static void write_input(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        const char *dir = getenv("FUZZ_TMPDIR");
        snprintf(path, sizeof path, "%s/fuzz_ckpt.%ld.h5", dir ? dir : "/tmp", (long)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    if (fclose(f) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    write_input(data, size);
    sim_ctx ctx;
    if (fuzz_ctx_init(&ctx) != SIM_OK)
        return 0;
    trev_model *m = NULL;
    sim_status st = ckpt_open_model(&ctx, path, &m, 1);
    if (st == SIM_OK) {
        fuzz_assert(m != NULL);
        h5_file f;
        optim o;
        memset(&o, 0, sizeof o);
        optim_config oc;
        optim_defaults(&oc);
        oc.ema_decay = 0.99;
        if (h5_open_read(&ctx, &f, path) == SIM_OK) {
            if (optim_init(&ctx, &o, m, &oc) == SIM_OK) {
                ckpt_state s;
                if (ckpt_load_state(&ctx, &f, m, &o, &s) == SIM_OK) {
                    fuzz_assert(s.norder >= 0 && (s.norder == 0) == (s.order == NULL));
                    ckpt_state_free(&ctx, &s);
                }
                optim_free(&ctx, &o);
            }
            h5_close(&ctx, &f);
        }
        trev_destroy(&ctx, m);
    } else {
        fuzz_assert(m == NULL);
    }
    /* every file, group, dataset, type and attribute we opened is closed */
    fuzz_assert(H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL) == 0);
    fuzz_ctx_done(&ctx);
    return 0;
}
