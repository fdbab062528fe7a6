/* test_complexity.c — nn_compressed_bits (nn/complexity.c), the L(x) of Serrà et al.: the
 * length orders images by how much there is to say about them (blank < a digit-like
 * stroke < noise, which no compressor shrinks), PNG's row filters pay off on a ramp where
 * plain deflate finds few repeats, the length is the zlib stream's (checked against
 * zlib's own compress2 on the same bytes), and bad arguments are refused. */
#include "tests/test.h"
#include "nn/nn.h"

#include <string.h>
#include <zlib.h>

TEST(compressed_bits_orders_blank_stroke_noise) {
    unsigned char blank[28 * 28] = {0}, stroke[28 * 28] = {0}, noise[28 * 28];
    for (int y = 4; y < 24; y++) stroke[y * 28 + 13] = stroke[y * 28 + 14] = 255; /* a "1" */
    ag_rng r;
    ag_rng_seed(&r, 3);
    for (int i = 0; i < 28 * 28; i++) noise[i] = (unsigned char)ag_rng_below(&r, 256);
    for (int f = 0; f < 2; f++) {
        long b0 = nn_compressed_bits(blank, 28, 28, 9, f), b1 = nn_compressed_bits(stroke, 28, 28, 9, f),
             b2 = nn_compressed_bits(noise, 28, 28, 9, f);
        CHECK(b0 > 0 && b0 < b1 && b1 < b2);
        CHECK(b0 < 30 * 8);          /* 784 zeros: a few bytes of deflate and 6 of zlib */
        CHECK(b2 >= 28 * 28 * 8);    /* random bytes do not compress */
        CHECK(b0 % 8 == 0 && b2 % 8 == 0);
    }
}

TEST(compressed_bits_png_filters_help_on_a_ramp) {
    /* pixel = 5x + 7y: the Sub filter leaves a constant 5 in every row */
    unsigned char ramp[28 * 28];
    for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++) ramp[y * 28 + x] = (unsigned char)(5 * x + 7 * y);
    long plain = nn_compressed_bits(ramp, 28, 28, 9, false);
    long filtered = nn_compressed_bits(ramp, 28, 28, 9, true);
    CHECK(filtered > 0 && filtered * 3 < plain);
}

TEST(compressed_bits_is_the_zlib_stream_length) {
    unsigned char img[20 * 12];
    for (int i = 0; i < 20 * 12; i++) img[i] = (unsigned char)(i * i % 251);
    for (int level = 1; level <= 9; level += 8) {
        unsigned char z[1024];
        uLongf n = sizeof z;
        CHECK(compress2(z, &n, img, sizeof img, level) == Z_OK);
        CHECK(nn_compressed_bits(img, 20, 12, level, false) == 8L * (long)n);
    }
}

TEST(compressed_bits_refuses_bad_arguments) {
    unsigned char px[4] = {0};
    CHECK(nn_compressed_bits(NULL, 2, 2, 9, true) == -1);
    CHECK(nn_compressed_bits(px, 0, 2, 9, true) == -1);
    CHECK(nn_compressed_bits(px, 2, -1, 9, true) == -1);
    CHECK(nn_compressed_bits(px, 2, 2, 10, true) == -1);
    CHECK(nn_compressed_bits(px, 2, 2, -1, false) == -1);
}
