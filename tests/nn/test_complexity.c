/* test_complexity.c — nn_compressed_bits (nn/complexity.c), the L(x) of Serrà et al.: the
 * length orders images by how much there is to say about them (blank < a digit-like
 * stroke < noise, which no compressor shrinks), PNG's row filters pay off on a ramp where
 * plain deflate finds few repeats, the length is the zlib stream's (checked against
 * zlib's own compress2 on the same bytes), and bad arguments are refused.  The learned
 * local coder: it learns what its causal neighbours predict (rows copying the row above
 * cost about one row), its code lengths are those of a distribution (−log₂ of 256
 * probabilities per pixel summing to 1, checked on 1×1 images), a side image reaches it
 * (the image itself as side image makes noise cheap; one coder trained with side dropout
 * codes with and without it), and misuse is refused. */
#include "tests/test.h"
#include "nn/nn.h"

#include <math.h>
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

/* n images h×w of random bytes (binary: of random 0s and 255s); rows_copy: every row after
 * the first repeats the one above. */
static nn_dataset *random_images(int n, int h, int w, bool rows_copy, bool binary,
                                 uint64_t seed) {
    nn_dataset *d = nn_dataset_new_pixels(n, 3, (int[]){1, h, w}, false);
    ag_rng r;
    ag_rng_seed(&r, seed);
    for (int i = 0; i < n; i++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                uint8_t *p = d->pixels + (size_t)i * d->dim + (size_t)y * w + x;
                *p = rows_copy && y > 0 ? p[-w]
                     : binary ? (uint8_t)(255 * ag_rng_below(&r, 2))
                              : (uint8_t)ag_rng_below(&r, 256);
            }
    return d;
}

static double mean_bits(nn_local_coder *lc, const nn_dataset *d, const ag_real *side) {
    double bits[64], m = 0;
    nn_local_coder_bits(lc, d, side, bits);
    for (int i = 0; i < d->n; i++) m += bits[i] / d->n;
    return m;
}

TEST(local_coder_learns_what_the_row_above_predicts) {
    /* 8×8 black-and-white images whose rows all copy the first: 8 bits of content.  A
     * coder that sees the row above learns to copy it; untrained it pays over 1 bit a pixel. */
    nn_dataset *d = random_images(64, 8, 8, true, true, 5);
    nn_error err;
    nn_local_coder *lc = nn_local_coder_new(&(nn_local_coder_config){.radius = 1, .hidden = 16,
                                            .components = 2, .seed = 1}, &err);
    CHECK(lc != NULL);
    double before = mean_bits(lc, d, NULL);
    nn_local_coder_train(lc, d, NULL, 300, 8, 1e-2, 2);
    double after = mean_bits(lc, d, NULL);
    CHECK(before > 64);                     /* over a bit a pixel: it knows nothing yet */
    CHECK(after < 24);                      /* the copies are nearly free */
    CHECK(after > 8 - 2);                   /* the first row cannot be: ~1 bit a pixel */
    nn_local_coder_free(lc);
    nn_dataset_free(d);
}

TEST(local_coder_lengths_are_a_distribution) {
    /* 1×1 images of every value 0..255: no neighbours, so each length is −log₂ p(k) of one
     * mixture; Σ_k 2^−bits = 1. */
    nn_dataset *d = nn_dataset_new_pixels(256, 3, (int[]){1, 1, 1}, false);
    for (int k = 0; k < 256; k++) d->pixels[k] = (uint8_t)k;
    nn_error err;
    nn_local_coder *lc = nn_local_coder_new(&(nn_local_coder_config){.radius = 2, .hidden = 8,
                                            .components = 3, .seed = 4}, &err);
    nn_local_coder_train(lc, d, NULL, 20, 4, 1e-2, 3); /* some shape, not the initial one */
    double bits[256], sum = 0;
    nn_local_coder_bits(lc, d, NULL, bits);
    for (int k = 0; k < 256; k++) sum += exp2(-bits[k]);
    CHECK_NEAR(sum, 1.0, 1e-4);
    nn_local_coder_free(lc);
    nn_dataset_free(d);
}

TEST(local_coder_sees_its_side_image) {
    /* Noise: neighbours say nothing (~8 bits a pixel), but a side image equal to the image
     * holds each pixel's value at the centre of its window. */
    nn_dataset *d = random_images(32, 6, 6, false, false, 9);
    ag_real side[32 * 36];
    for (size_t i = 0; i < 32 * 36; i++) side[i] = (ag_real)(d->pixels[i] / 255.0);
    nn_error err;
    nn_local_coder *with = nn_local_coder_new(&(nn_local_coder_config){.radius = 1, .side = 1,
                                              .hidden = 16, .components = 2, .seed = 1}, &err),
                   *alone = nn_local_coder_new(&(nn_local_coder_config){.radius = 1,
                                               .hidden = 16, .components = 2, .seed = 1}, &err);
    nn_local_coder_train(with, d, side, 400, 8, 1e-2, 2);
    nn_local_coder_train(alone, d, NULL, 400, 8, 1e-2, 2);
    double b_with = mean_bits(with, d, side), b_alone = mean_bits(alone, d, NULL);
    CHECK(b_alone > 7 * 36);
    CHECK(b_with < b_alone / 2);
    /* misuse: a side image for a coder made without one, and none for one made with */
    EXPECT_ERROR(nn_local_coder_bits(alone, d, side, (double[32]){0}));
    CHECK(strstr(test_last_error, "side"));
    EXPECT_ERROR(nn_local_coder_train(with, d, NULL, 1, 8, 1e-2, 2));
    CHECK(strstr(test_last_error, "needs a side image"));
    /* one coder trained half the time without its side image codes both ways */
    nn_local_coder *both = nn_local_coder_new(&(nn_local_coder_config){.radius = 1, .side = 1,
                                              .side_dropout = 0.5, .hidden = 16,
                                              .components = 2, .seed = 1}, &err);
    nn_local_coder_train(both, d, side, 800, 8, 1e-2, 2);
    double b_both = mean_bits(both, d, side), b_none = mean_bits(both, d, NULL);
    CHECK(b_none > 7 * 36);
    CHECK(b_both < 0.7 * b_none); /* half its training had no side image: less than `with` */
    nn_local_coder_free(both);
    nn_local_coder_free(with);
    nn_local_coder_free(alone);
    nn_dataset_free(d);
}

TEST(local_coder_refuses_bad_configs) {
    nn_error err;
    CHECK(nn_local_coder_new(&(nn_local_coder_config){.radius = 0, .hidden = 8, .components = 1},
                             &err) == NULL);
    CHECK(strstr(err.msg, "radius"));
    CHECK(nn_local_coder_new(&(nn_local_coder_config){.radius = 1, .hidden = 8, .components = 0},
                             &err) == NULL);
    CHECK(nn_local_coder_new(&(nn_local_coder_config){.radius = 1, .hidden = 8, .components = 2,
                                                      .side = 9}, &err) == NULL);
    CHECK(nn_local_coder_new(&(nn_local_coder_config){.radius = 1, .hidden = 8, .components = 2,
                                                      .side_dropout = 0.5}, &err) == NULL);
    CHECK(strstr(err.msg, "side_dropout"));
    CHECK(nn_local_coder_new(&(nn_local_coder_config){.radius = 1, .hidden = 8, .components = 2,
                                                      .side = 1, .side_dropout = 1}, &err) == NULL);
    nn_local_coder_free(NULL);
}
