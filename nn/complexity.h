/* complexity.h — the compressed length of an 8-bit image, the input-complexity estimate
 * L(x) of Serrà et al. (ICLR 2020): a general-purpose compressor's code length, in bits,
 * stands in for the image's complexity, and S(x) = −log₂ p(x) − L(x) corrects a
 * likelihood for it (examples/anomaly.c --score complexity).
 *
 * Example:
 *   unsigned char px[28 * 28];   ... values 0..255, row-major ...
 *   long bits = nn_compressed_bits(px, 28, 28, 9, true);  // PNG-filtered rows, zlib -9
 */
#ifndef HENBUN_NN_COMPLEXITY_H
#define HENBUN_NN_COMPLEXITY_H

#include "autograd/autograd.h"
#include "nn/data.h"
#include "nn/error.h"

#include <stdbool.h>

HENBUN_BEGIN_DECLS

/* Bits of the zlib stream (deflate at `level` 0-9, its 2-byte header and 4-byte checksum
 * included, so 8·bytes) of an h×w greyscale image of 8-bit pixels, row-major.  png_filter:
 * first each row is filtered as a PNG writer does (a filter-type byte, then the residuals
 * of the filter None, Sub, Up, Average or Paeth with the smallest sum of |residual| as a
 * signed byte: PNG's recommended heuristic), so the length is that of a PNG's image data.
 * -1 on a zlib failure or bad arguments. */
long nn_compressed_bits(const unsigned char *pixels, int h, int w, int level, bool png_filter);

/* ---- a learned local coder ---------------------------------------------------------------
 * A stronger L(x) than a general-purpose compressor, in the spirit of the context-modelling
 * coders Serrà et al. found best (FLIF): each 8-bit pixel predicted from its causal
 * neighbours only — the `radius` rows above and the `radius` pixels to its left, 0 outside
 * the image — by a small MLP whose outputs are a mixture of discretized logistics
 * (ag_discretized_logistic_mixture_nll).  Trained on the normal images, it learns their
 * local statistics (stroke texture, edge values, background) but, seeing no more than a
 * 5×5 half-window, not the shapes they make; −log₂ p of the image under it is its code
 * length, L(x) in bits.  Comparing a model's −log₂ p(x) with it is the likelihood ratio
 * against a model of local pixel statistics that Schirrmeister et al. (NeurIPS 2020)
 * argue removes what dominates a likelihood's value.
 *
 *   nn_local_coder *lc = nn_local_coder_new(&(nn_local_coder_config){.radius = 2,
 *       .hidden = 32, .components = 3, .seed = 1}, &err);
 *   nn_local_coder_train(lc, normal_images, NULL, 2000, 16, 1e-3, 7);
 *   nn_local_coder_bits(lc, test_images, NULL, bits);     // bits[i] of image i
 */
typedef struct nn_local_coder nn_local_coder;
typedef struct nn_local_coder_config {
    int radius;     /* rows above and pixels to the left in the context (>= 1) */
    int side;       /* > 0: each pixel also sees the (2·side−1)² window centred on it of a
                       side image given with the data (e.g. a VAE's reconstruction from its
                       latent code: p(x_j | x's causal neighbours, side image)); 0: none */
    double side_dropout; /* > 0: in training each image goes without its side image with
                       this chance (the window reads 0, and an extra input says so), so the
                       one coder also codes without one: side NULL to train/bits.  Both
                       lengths then share all their local modelling. */
    int hidden;     /* units of its two hidden layers (ReLU) */
    int components; /* logistics in each pixel's mixture */
    uint64_t seed;  /* initial weights */
} nn_local_coder_config;
/* NULL (err says why) on a bad config. */
nn_local_coder *nn_local_coder_new(const nn_local_coder_config *cfg, nn_error *err);
/* `steps` Adam steps (learning rate lr) on the mean −ln p per pixel of `batch` images of d
 * (single-channel images, values k/255) drawn with replacement from a PRNG seeded by seed.
 * side: with cfg.side > 0, d->n side images of d's shape, row-major (else NULL).  Returns
 * the last step's mean bits per pixel. */
double nn_local_coder_train(nn_local_coder *lc, const nn_dataset *d, const ag_real *side,
                            int steps, int batch, double lr, uint64_t seed);
/* −log₂ p of each image of d under the coder: d->n values into bits (side as above). */
void nn_local_coder_bits(nn_local_coder *lc, const nn_dataset *d, const ag_real *side,
                         double *bits);
void nn_local_coder_free(nn_local_coder *lc); /* NULL is fine */

HENBUN_END_DECLS

#endif
