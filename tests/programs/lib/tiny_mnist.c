/* tiny_mnist.c — writes a tiny, deterministic stand-in for MNIST, so that the scripts in
 * tests/programs can train the example programs on machines without the real data (CI).
 *
 *   tiny_mnist DIR NTRAIN NTEST
 *
 * writes DIR/mnist/{train,t10k}-images-idx3-ubyte (28x28 greyscale) and
 * DIR/mnist/{train,t10k}-labels-idx1-ubyte (labels 0..9 in turn): image i of class k is a
 * bright disc whose centre depends on k, over faint noise.  Every byte is a function of
 * (split, i, pixel), so two runs write identical files and a failure reproduces anywhere.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t hash(uint64_t x) { /* splitmix64's finaliser */
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static void be32(FILE *f, uint32_t v) {
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    fwrite(b, 1, 4, f);
}

static int write_split(const char *dir, const char *prefix, int n, uint64_t salt) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", dir, prefix);
    FILE *im = fopen(path, "wb");
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", dir, prefix);
    FILE *lb = fopen(path, "wb");
    if (!im || !lb) {
        perror(path);
        return -1;
    }
    fwrite("\0\0\x08\x03", 1, 4, im);
    be32(im, (uint32_t)n), be32(im, 28), be32(im, 28);
    fwrite("\0\0\x08\x01", 1, 4, lb);
    be32(lb, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        int k = i % 10;
        int cx = 8 + 3 * (k % 5), cy = k < 5 ? 10 : 18; /* ten centres, two rows */
        unsigned char px[784];
        for (int p = 0; p < 784; p++) {
            int dx = p % 28 - cx, dy = p / 28 - cy;
            uint64_t h = hash(salt ^ ((uint64_t)i << 20) ^ (uint64_t)p);
            int v = dx * dx + dy * dy <= 20 ? 180 + (int)(h % 76) : (int)(h % 40);
            px[p] = (unsigned char)v;
        }
        fwrite(px, 1, sizeof px, im);
        unsigned char y = (unsigned char)k;
        fwrite(&y, 1, 1, lb);
    }
    int bad = ferror(im) || ferror(lb);
    bad |= fclose(im) != 0;
    bad |= fclose(lb) != 0;
    return bad ? -1 : 0;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: tiny_mnist DIR NTRAIN NTEST\n");
        return 2;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/mnist", argv[1]);
    mkdir(argv[1], 0777);
    mkdir(dir, 0777);
    int ntrain = atoi(argv[2]), ntest = atoi(argv[3]);
    if (ntrain < 1 || ntest < 1) {
        fprintf(stderr, "tiny_mnist: NTRAIN and NTEST must be >= 1\n");
        return 2;
    }
    if (write_split(dir, "train", ntrain, 0x7261696EULL) ||
        write_split(dir, "t10k", ntest, 0x74657374ULL))
        return 1;
    return 0;
}
