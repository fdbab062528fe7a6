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

#include <stdbool.h>

HENBUN_BEGIN_DECLS

/* Bits of the zlib stream (deflate at `level` 0-9, its 2-byte header and 4-byte checksum
 * included, so 8·bytes) of an h×w greyscale image of 8-bit pixels, row-major.  png_filter:
 * first each row is filtered as a PNG writer does (a filter-type byte, then the residuals
 * of the filter None, Sub, Up, Average or Paeth with the smallest sum of |residual| as a
 * signed byte: PNG's recommended heuristic), so the length is that of a PNG's image data.
 * -1 on a zlib failure or bad arguments. */
long nn_compressed_bits(const unsigned char *pixels, int h, int w, int level, bool png_filter);

HENBUN_END_DECLS

#endif
