/* complexity.c — the compressed length of an 8-bit image (see complexity.h): PNG's row
 * filters, then zlib's deflate, the compressor PNG itself uses; zlib is already linked.
 * And a learned local coder: a pixel's code length given its causal neighbours. */
#include "nn/complexity.h"
#include "nn/layer.h"
#include "nn/optim.h"

#include <math.h>
#include <stdio.h>
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

/* ---- the learned local coder ------------------------------------------------------------ */

struct nn_local_coder {
    nn_local_coder_config cfg;
    int n_ctx;                /* context values per pixel: radius·(2·radius+1) + radius,
                                 + (2·side−1)² of the side image */
    nn_net *net;              /* (n_ctx) -> (3K): weight logits, locations, log-scales */
};

nn_local_coder *nn_local_coder_new(const nn_local_coder_config *cfg, nn_error *err) {
    if (cfg->radius < 1 || cfg->radius > 8 || cfg->hidden < 1 || cfg->components < 1 ||
        cfg->components > 64 || cfg->side < 0 || cfg->side > 8 || !(cfg->side_dropout >= 0) ||
        cfg->side_dropout >= 1 || (cfg->side_dropout > 0 && cfg->side == 0)) {
        nn_fail(err, "local coder: radius must be in [1, 8], hidden >= 1, components in "
                     "[1, 64], side in [0, 8], side_dropout in [0, 1) and 0 without a side "
                     "image (got %d, %d, %d, %d, %g)", cfg->radius, cfg->hidden,
                cfg->components, cfg->side, cfg->side_dropout);
        return NULL;
    }
    nn_local_coder *lc = calloc(1, sizeof *lc);
    if (!lc) ag_error("nn_local_coder_new", "out of memory");
    lc->cfg = *cfg;
    lc->n_ctx = cfg->radius * (2 * cfg->radius + 1) + cfg->radius +
                (cfg->side > 0 ? (2 * cfg->side - 1) * (2 * cfg->side - 1) : 0) +
                (cfg->side_dropout > 0);                          /* "the side image is there" */
    char text[160];
    snprintf(text, sizeof text, "linear %d, relu, linear %d, relu, linear %d", cfg->hidden,
             cfg->hidden, 3 * cfg->components);
    ag_rng rng;
    ag_rng_seed(&rng, cfg->seed);
    if (!(lc->net = nn_net_parse(text, 1, (int[]){lc->n_ctx}, NULL, &rng, err))) {
        free(lc);
        return NULL;
    }
    return lc;
}

void nn_local_coder_free(nn_local_coder *lc) {
    if (!lc) return;
    nn_net_free(lc->net);
    free(lc);
}

static double value_of(const nn_dataset *d, int i, size_t j) {
    return d->pixels ? d->pixels[(size_t)i * d->dim + j] / 255.0 : d->x[(size_t)i * d->dim + j];
}

/* Rows of the images idx[0..n): for every pixel (row-major) its context, centred values
 * x − ½ (0 outside the image reads as black, −½), then its window of the side image (the
 * same; all 0 where example e has none: side NULL or !present[e]) and, with side dropout,
 * 1 or 0 for whether it has one, into ctx (n·H·W, n_ctx) (zeros on entry); its own value
 * into x (n·H·W, 1). */
static void contexts(const nn_local_coder *lc, const nn_dataset *d, const ag_real *side,
                     const bool *present, const int *idx, int n, ag_tensor *ctx,
                     ag_tensor *x) {
    const int H = d->shape[1], W = d->shape[2], r = lc->cfg.radius, sr = lc->cfg.side - 1;
    const int win = sr >= 0 ? (2 * sr + 1) * (2 * sr + 1) : 0;
    long row = 0;
    for (int e = 0; e < n; e++) {
        const bool has = side && (!present || present[e]);
        for (int y = 0; y < H; y++)
            for (int xx = 0; xx < W; xx++, row++) {
                ag_real *c = ctx->data + row * lc->n_ctx;
                int k = 0;
                for (int dy = -r; dy <= 0; dy++)
                    for (int dx = -r; dx <= (dy < 0 ? r : -1); dx++) {
                        int yy = y + dy, xs = xx + dx;
                        bool in = yy >= 0 && xs >= 0 && xs < W;
                        c[k++] = (ag_real)((in ? value_of(d, idx[e], (size_t)yy * W + xs) : 0) -
                                           0.5);
                    }
                for (int dy = -sr; has && dy <= sr; dy++)
                    for (int dx = -sr; dx <= sr; dx++) {
                        int yy = y + dy, xs = xx + dx;
                        bool in = yy >= 0 && yy < H && xs >= 0 && xs < W;
                        c[k++] = (in ? side[(size_t)idx[e] * d->dim + (size_t)yy * W + xs] : 0) -
                                 (ag_real)0.5;
                    }
                if (lc->cfg.side_dropout > 0) c[has ? k : k + win] = has; /* after the window */
                x->data[row] = (ag_real)value_of(d, idx[e], (size_t)y * W + xx);
            }
    }
}

/* −ln p of every pixel of the batch's rows: (rows, 1). */
static ag_tensor *pixel_nll(nn_local_coder *lc, ag_tape *t, ag_tensor *ctx, ag_tensor *x) {
    const int K = lc->cfg.components;
    ag_tensor *out = nn_forward(lc->net, t, ctx, true);                   /* (rows, 3K) */
    return ag_discretized_logistic_mixture_nll(t, ag_slice(t, out, 1, 0, K),
                                               ag_slice(t, out, 1, K, 2 * K),
                                               ag_slice(t, out, 1, 2 * K, 3 * K), x, 256);
}

/* The checks of train and bits: images, and a side image when the coder wants one (with
 * side dropout it may go without), none when it does not. */
static void check_data(const nn_local_coder *lc, const nn_dataset *d, const ag_real *side,
                       const char *fn) {
    if (d->ndim != 3 || d->shape[0] != 1 || d->n < 1)
        ag_error(fn, "needs single-channel images (n >= 1), got %d examples of %d dims", d->n,
                 d->ndim);
    if (side ? lc->cfg.side == 0 : lc->cfg.side > 0 && lc->cfg.side_dropout == 0)
        ag_error(fn, "the coder was made with side = %d: %s", lc->cfg.side,
                 side ? "it takes no side image" : "it needs a side image");
}

double nn_local_coder_train(nn_local_coder *lc, const nn_dataset *d, const ag_real *side,
                            int steps, int batch, double lr, uint64_t seed) {
    check_data(lc, d, side, "nn_local_coder_train");
    if (batch < 1) ag_error("nn_local_coder_train", "batch must be >= 1, got %d", batch);
    const long rows = (long)batch * d->shape[1] * d->shape[2];
    int *idx = malloc(sizeof(int) * (size_t)batch);
    bool *present = malloc(sizeof(bool) * (size_t)batch);
    if (!idx || !present) ag_error("nn_local_coder_train", "out of memory");
    nn_optim *opt = nn_adam(&lc->net->params, lr);
    ag_tape *t = ag_tape_new(seed);
    ag_rng r;
    ag_rng_seed(&r, seed);
    double bits = NAN;
    for (int s = 0; s < steps; s++) {
        for (int e = 0; e < batch; e++) idx[e] = (int)ag_rng_below(&r, (uint32_t)d->n);
        for (int e = 0; e < batch && lc->cfg.side_dropout > 0; e++)
            present[e] = ag_rng_uniform(&r) >= lc->cfg.side_dropout;
        ag_tensor *ctx = ag_zeros(t, 2, (int[]){(int)rows, lc->n_ctx}),
                  *x = ag_zeros(t, 2, (int[]){(int)rows, 1});
        contexts(lc, d, side, lc->cfg.side_dropout > 0 ? present : NULL, idx, batch, ctx, x);
        nn_optim_zero_grad(opt);
        ag_tensor *loss = ag_mean(t, pixel_nll(lc, t, ctx, x));          /* nats per pixel */
        bits = loss->data[0] / log(2.0);
        ag_backward(t, loss);
        nn_optim_step(opt);
        ag_tape_clear(t);
    }
    ag_tape_free(t);
    nn_optim_free(opt);
    free(idx);
    free(present);
    return bits;
}

void nn_local_coder_bits(nn_local_coder *lc, const nn_dataset *d, const ag_real *side,
                         double *bits) {
    check_data(lc, d, side, "nn_local_coder_bits");
    enum { B = 64 };
    const int px = d->shape[1] * d->shape[2];
    int idx[B];
    ag_tape *t = ag_tape_new(1);
    ag_set_grad_enabled(t, false);
    for (int start = 0; start < d->n; start += B) {
        int b = d->n - start < B ? d->n - start : B;
        for (int e = 0; e < b; e++) idx[e] = start + e;
        ag_tensor *ctx = ag_zeros(t, 2, (int[]){b * px, lc->n_ctx}),
                  *x = ag_zeros(t, 2, (int[]){b * px, 1});
        contexts(lc, d, side, NULL, idx, b, ctx, x);
        ag_tensor *nll = pixel_nll(lc, t, ctx, x);
        for (int e = 0; e < b; e++) {
            double s = 0;
            for (int j = 0; j < px; j++) s += nll->data[(size_t)e * px + j];
            bits[start + e] = s / log(2.0);
        }
        ag_tape_clear(t);
    }
    ag_tape_free(t);
}
