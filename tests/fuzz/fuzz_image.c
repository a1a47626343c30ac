/* fuzz_image.c - libFuzzer target for io/image.c (PNG via libpng, binary
 * PGM, raw pixels) and image_fit. The first input byte picks the decoder
 * (and the channel count asked of libpng, or the raw image's width); the
 * rest is the file. A decoded image must be within IMAGE_MAX_* and survive
 * fitting to the network input in both channel counts. */
#include "fuzz_common.h"
#include "io/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const unsigned char *buf = data + 1;
    size_t len = size - 1;
    sim_ctx ctx;
    if (fuzz_ctx_init(&ctx) != SIM_OK)
        return 0;
    image_u8 img = {0};
    sim_status st;
    switch (data[0] % 4) {
    case 0: st = image_decode_png(&ctx, buf, len, 1, &img); break;
    case 1: st = image_decode_png(&ctx, buf, len, 3, &img); break;
    case 2: st = image_decode_pgm(&ctx, buf, len, &img); break;
    default: {
        int w = 1 + data[0] / 4, h = w ? (int)(len / (size_t)w) : 0;
        st = image_decode_raw(&ctx, buf, len, w, h > 0 ? h : 1, &img);
        break;
    }
    }
    (void)image_is_png(buf, len);
    (void)image_is_pgm(buf, len);
    if (st == SIM_OK) {
        fuzz_assert(img.w >= 1 && img.h >= 1 && img.w <= IMAGE_MAX_SIDE && img.h <= IMAGE_MAX_SIDE);
        fuzz_assert(img.c == 1 || img.c == 3);
        fuzz_assert((size_t)img.w * img.h <= IMAGE_MAX_PIXELS);
        fuzz_assert(mem_size(img.pixels) >= (size_t)img.c * img.w * img.h);
        for (int c = 1; c <= 3; c += 2) {
            image_u8 fit = {0};
            if (image_fit(&ctx, &img, c, 32, &fit) == SIM_OK) {
                fuzz_assert(fit.w == 32 && fit.h == 32 && fit.c == c);
                image_free(&ctx, &fit);
            }
        }
        image_free(&ctx, &img);
    } else {
        fuzz_assert(img.pixels == NULL);
    }
    fuzz_ctx_done(&ctx);
    return 0;
}
