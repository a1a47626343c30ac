/* image.h - decoding single images from memory buffers (HTTP request
 * bodies) into 8-bit planar pixels, and fitting them to a model's input.
 *
 * The decoders are pure functions of (buffer, length, limits): nothing is
 * read outside [buf, buf + len), and the dimensions a header announces are
 * checked against IMAGE_MAX_SIDE / IMAGE_MAX_PIXELS and against the bytes
 * actually present before any pixel memory is allocated, so they can be
 * fed arbitrary bytes (fuzzing). Pixels are allocated under MEM_DATA.
 *
 *   PNG  any colour type and bit depth libpng reads (grey, grey+alpha, RGB,
 *        RGBA, palette, 16-bit); converted by libpng to grey or RGB, alpha
 *        composited onto black (the Fashion-MNIST background).
 *   PGM  binary "P5" with comments, maxval 1..65535 (16-bit big endian above
 *        255), rescaled to 0..255.
 *   raw  w*h grey bytes or w*h*3 interleaved RGB bytes. */
#ifndef IO_IMAGE_H
#define IO_IMAGE_H

#include <stddef.h>

#include "sim/ctx.h"

#define IMAGE_MAX_SIDE 4096
#define IMAGE_MAX_PIXELS (16u << 20) /* 16 Mpixel */

typedef struct {
    int w, h, c;           /* c: 1 (grey) or 3 (RGB) */
    unsigned char *pixels; /* (c, h, w) planar, like io/dataset.h */
} image_u8;

/* Decode a PNG; want_c (1 or 3) is the channel count asked of libpng. */
sim_status image_decode_png(sim_ctx *ctx, const unsigned char *buf, size_t len, int want_c,
                            image_u8 *out);
/* Decode a binary PGM (P5). */
sim_status image_decode_pgm(sim_ctx *ctx, const unsigned char *buf, size_t len, image_u8 *out);
/* Raw pixels of a w x h image: len must be w*h (grey) or 3*w*h (RGB,
 * interleaved). */
sim_status image_decode_raw(sim_ctx *ctx, const unsigned char *buf, size_t len, int w, int h,
                            image_u8 *out);
/* 1 if buf starts like a PNG / a binary PGM. */
int image_is_png(const unsigned char *buf, size_t len);
int image_is_pgm(const unsigned char *buf, size_t len);

/* Convert to c channels (grey -> RGB replicates, RGB -> grey uses the
 * Rec. 601 luma 0.299 R + 0.587 G + 0.114 B) and to size x size: an image
 * already that size is copied; any other size is resampled by area
 * averaging (downscaling) or nearest neighbour (upscaling), stretching both
 * axes independently. out is a new image; in is left alone. */
sim_status image_fit(sim_ctx *ctx, const image_u8 *in, int c, int size, image_u8 *out);

void image_free(sim_ctx *ctx, image_u8 *img);

#endif
