/* image.c - PNG (libpng's simplified API), binary PGM and raw decoders on
 * memory buffers, with every header dimension checked before allocation,
 * and the channel / size conversion to a model's input. */
#include "io/image.h"

#include <png.h>
#include <string.h>

static sim_status check_dims(sim_ctx *ctx, const char *what, unsigned long w, unsigned long h)
{
    if (w < 1 || h < 1 || w > IMAGE_MAX_SIDE || h > IMAGE_MAX_SIDE ||
        (unsigned long long)w * h > IMAGE_MAX_PIXELS)
        return ctx_error(ctx, SIM_ERANGE,
                         "%s: image is %lux%lu, expected 1..%d pixels a side and at most %u "
                         "pixels",
                         what, w, h, IMAGE_MAX_SIDE, IMAGE_MAX_PIXELS);
    return SIM_OK;
}

static sim_status image_alloc(sim_ctx *ctx, image_u8 *img, int w, int h, int c)
{
    memset(img, 0, sizeof *img);
    img->pixels = mem_calloc(ctx, MEM_DATA, (size_t)w * h, (size_t)c);
    if (!img->pixels)
        return SIM_ENOMEM;
    img->w = w, img->h = h, img->c = c;
    return SIM_OK;
}

void image_free(sim_ctx *ctx, image_u8 *img)
{
    if (img->pixels)
        mem_free(ctx, img->pixels);
    memset(img, 0, sizeof *img);
}

int image_is_png(const unsigned char *buf, size_t len)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    return len >= 8 && !memcmp(buf, sig, 8);
}

int image_is_pgm(const unsigned char *buf, size_t len)
{
    return len >= 3 && buf[0] == 'P' && buf[1] == '5' &&
           (buf[2] == ' ' || buf[2] == '\t' || buf[2] == '\n' || buf[2] == '\r' || buf[2] == '#');
}

/* Interleaved (h, w, c) -> planar (c, h, w). */
static void deinterleave(unsigned char *dst, const unsigned char *src, size_t npix, int c)
{
    for (int k = 0; k < c; k++)
        for (size_t i = 0; i < npix; i++)
            dst[(size_t)k * npix + i] = src[i * (size_t)c + (size_t)k];
}

sim_status image_decode_png(sim_ctx *ctx, const unsigned char *buf, size_t len, int want_c,
                            image_u8 *out)
{
    memset(out, 0, sizeof *out);
    if (want_c != 1 && want_c != 3)
        return ctx_error(ctx, SIM_EINVAL, "PNG: expected 1 or 3 output channels, asked %d",
                         want_c);
    if (!image_is_png(buf, len))
        return ctx_error(ctx, SIM_EFORMAT, "PNG: no PNG signature in %zu bytes", len);
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&im, buf, len)) {
        sim_status s = ctx_error(ctx, SIM_EFORMAT, "PNG: %s", im.message);
        png_image_free(&im);
        return s;
    }
    sim_status s = check_dims(ctx, "PNG", im.width, im.height);
    if (s != SIM_OK) {
        png_image_free(&im);
        return s;
    }
    im.format = want_c == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    size_t npix = (size_t)im.width * im.height;
    unsigned char *tmp = mem_calloc(ctx, MEM_SCRATCH, npix, (size_t)want_c);
    if (!tmp) {
        png_image_free(&im);
        return SIM_ENOMEM;
    }
    png_color black = {0, 0, 0};
    if (!png_image_finish_read(&im, &black, tmp, 0, NULL)) {
        s = ctx_error(ctx, SIM_EFORMAT, "PNG: %s", im.message);
        png_image_free(&im);
        mem_free(ctx, tmp);
        return s;
    }
    s = image_alloc(ctx, out, (int)im.width, (int)im.height, want_c);
    if (s == SIM_OK)
        deinterleave(out->pixels, tmp, npix, want_c);
    png_image_free(&im);
    mem_free(ctx, tmp);
    return s;
}

/* Next PGM header token (a decimal number) after whitespace and comments:
 * 1 and *v on success, 0 on a bad or missing number. */
static int pgm_number(const unsigned char *buf, size_t len, size_t *pos, unsigned long *v)
{
    size_t i = *pos;
    for (;;) {
        while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
            i++;
        if (i < len && buf[i] == '#') {
            while (i < len && buf[i] != '\n')
                i++;
            continue;
        }
        break;
    }
    if (i >= len || buf[i] < '0' || buf[i] > '9')
        return 0;
    unsigned long x = 0;
    while (i < len && buf[i] >= '0' && buf[i] <= '9') {
        if (x > 100000000ul)
            return 0; /* absurd: stop before overflowing */
        x = x * 10 + (unsigned long)(buf[i] - '0');
        i++;
    }
    *v = x;
    *pos = i;
    return 1;
}

sim_status image_decode_pgm(sim_ctx *ctx, const unsigned char *buf, size_t len, image_u8 *out)
{
    memset(out, 0, sizeof *out);
    if (!image_is_pgm(buf, len))
        return ctx_error(ctx, SIM_EFORMAT, "PGM: expected the binary 'P5' magic");
    size_t pos = 2;
    unsigned long w, h, maxval;
    if (!pgm_number(buf, len, &pos, &w) || !pgm_number(buf, len, &pos, &h) ||
        !pgm_number(buf, len, &pos, &maxval))
        return ctx_error(ctx, SIM_EFORMAT, "PGM: header truncated or malformed at byte %zu",
                         pos);
    sim_status s = check_dims(ctx, "PGM", w, h);
    if (s != SIM_OK)
        return s;
    if (maxval < 1 || maxval > 65535)
        return ctx_error(ctx, SIM_EFORMAT, "PGM: maxval %lu, expected 1..65535", maxval);
    /* exactly one whitespace byte separates the header from the raster */
    if (pos >= len || !(buf[pos] == ' ' || buf[pos] == '\t' || buf[pos] == '\n' || buf[pos] == '\r'))
        return ctx_error(ctx, SIM_EFORMAT, "PGM: expected whitespace after maxval at byte %zu",
                         pos);
    pos++;
    size_t bps = maxval > 255 ? 2 : 1, npix = (size_t)w * h;
    if (len - pos < npix * bps)
        return ctx_error(ctx, SIM_EFORMAT, "PGM: %lux%lu image needs %zu raster bytes, found %zu",
                         w, h, npix * bps, len - pos);
    if ((s = image_alloc(ctx, out, (int)w, (int)h, 1)) != SIM_OK)
        return s;
    const unsigned char *r = buf + pos;
    for (size_t i = 0; i < npix; i++) {
        unsigned long v = bps == 2 ? ((unsigned long)r[2 * i] << 8) | r[2 * i + 1] : r[i];
        if (v > maxval)
            v = maxval;
        out->pixels[i] = (unsigned char)((v * 255 + maxval / 2) / maxval);
    }
    return SIM_OK;
}

sim_status image_decode_raw(sim_ctx *ctx, const unsigned char *buf, size_t len, int w, int h,
                            image_u8 *out)
{
    memset(out, 0, sizeof *out);
    sim_status s = check_dims(ctx, "raw", w < 0 ? 0 : (unsigned long)w, h < 0 ? 0 : (unsigned long)h);
    if (s != SIM_OK)
        return s;
    size_t npix = (size_t)w * h;
    int c = len == npix ? 1 : len == 3 * npix ? 3 : 0;
    if (!c)
        return ctx_error(ctx, SIM_EFORMAT,
                         "raw: a %dx%d image needs %zu (grey) or %zu (RGB) bytes, found %zu", w, h,
                         npix, 3 * npix, len);
    if ((s = image_alloc(ctx, out, w, h, c)) != SIM_OK)
        return s;
    deinterleave(out->pixels, buf, npix, c);
    return SIM_OK;
}

sim_status image_fit(sim_ctx *ctx, const image_u8 *in, int c, int size, image_u8 *out)
{
    memset(out, 0, sizeof *out);
    if ((c != 1 && c != 3) || size < 1 || size > IMAGE_MAX_SIDE || !in->pixels ||
        (in->c != 1 && in->c != 3))
        return ctx_error(ctx, SIM_EINVAL, "image_fit: %d channels at %d pixels from a %d-channel "
                         "image, expected 1 or 3 channels",
                         c, size, in->c);
    sim_status s = image_alloc(ctx, out, size, size, c);
    if (s != SIM_OK)
        return s;
    const size_t ipl = (size_t)in->w * in->h, opl = (size_t)size * size;
    for (int oy = 0; oy < size; oy++) {
        /* source rows [y0, y1) covered by output row oy (at least one) */
        int y0 = (int)((long)oy * in->h / size), y1 = (int)(((long)oy + 1) * in->h / size);
        if (y1 <= y0)
            y1 = y0 + 1;
        for (int ox = 0; ox < size; ox++) {
            int x0 = (int)((long)ox * in->w / size), x1 = (int)(((long)ox + 1) * in->w / size);
            if (x1 <= x0)
                x1 = x0 + 1;
            double sum[3] = {0, 0, 0};
            for (int k = 0; k < in->c; k++)
                for (int y = y0; y < y1; y++)
                    for (int x = x0; x < x1; x++)
                        sum[k] += in->pixels[(size_t)k * ipl + (size_t)y * in->w + x];
            double area = (double)(y1 - y0) * (x1 - x0);
            for (int k = 0; k < in->c; k++)
                sum[k] /= area;
            size_t o = (size_t)oy * size + ox;
            if (c == in->c) {
                for (int k = 0; k < c; k++)
                    out->pixels[(size_t)k * opl + o] = (unsigned char)(sum[k] + 0.5);
            } else if (c == 3) { /* grey -> RGB */
                for (int k = 0; k < 3; k++)
                    out->pixels[(size_t)k * opl + o] = (unsigned char)(sum[0] + 0.5);
            } else { /* RGB -> grey */
                double yv = 0.299 * sum[0] + 0.587 * sum[1] + 0.114 * sum[2];
                out->pixels[o] = (unsigned char)(yv > 255 ? 255 : yv + 0.5);
            }
        }
    }
    return SIM_OK;
}
