/* complexity.c — the compressed length of an 8-bit image (see complexity.h): PNG's row
 * filters, then zlib's deflate, the compressor PNG itself uses; zlib is already linked. */
#include "nn/complexity.h"

#include <stdlib.h>
#include <zlib.h>

static int paeth(int a, int b, int c) { /* PNG's predictor: the neighbour nearest a + b − c */
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Row y filtered by filter f into out[0..w): residual = pixel − prediction (mod 256), the
 * prediction from the left (a), upper (b) and upper-left (c) pixels, 0 outside the image. */
static void filter_row(const unsigned char *px, int y, int w, int f, unsigned char *out) {
    const unsigned char *row = px + (size_t)y * w, *up = y > 0 ? row - w : NULL;
    for (int x = 0; x < w; x++) {
        int a = x > 0 ? row[x - 1] : 0, b = up ? up[x] : 0, c = up && x > 0 ? up[x - 1] : 0;
        int pred = f == 0 ? 0 : f == 1 ? a : f == 2 ? b : f == 3 ? (a + b) / 2 : paeth(a, b, c);
        out[x] = (unsigned char)(row[x] - pred);
    }
}

long nn_compressed_bits(const unsigned char *pixels, int h, int w, int level, bool png_filter) {
    if (!pixels || h < 1 || w < 1 || level < 0 || level > 9) return -1;
    size_t row = (size_t)w + png_filter, n = row * (size_t)h;
    uLongf size = compressBound((uLong)n);
    unsigned char *raw = malloc(n), *z = malloc(size);
    long bits = -1;
    if (!raw || !z) goto done;
    for (int y = 0; y < h; y++) {
        unsigned char *out = raw + (size_t)y * row;
        if (!png_filter) {
            filter_row(pixels, y, w, 0, out);
            continue;
        }
        long best = -1;
        for (int f = 0; f < 5; f++) { /* keep the filter of least Σ |residual as signed| */
            filter_row(pixels, y, w, f, out + 1);
            long s = 0;
            for (int x = 0; x < w; x++) s += out[1 + x] < 128 ? out[1 + x] : 256 - out[1 + x];
            if (best < 0 || s < best) best = s, out[0] = (unsigned char)f;
        }
        filter_row(pixels, y, w, out[0], out + 1);
    }
    if (compress2(z, &size, raw, (uLong)n, level) == Z_OK) bits = 8L * (long)size;
done:
    free(raw);
    free(z);
    return bits;
}
