/* image.h — pictures as PNG: image grids of samples, line plots of losses, scatter plots of
 * latent codes, heat maps of densities; and the small RGB canvas they are drawn on.
 *
 * Example (compiled by make test: tests/programs/header_examples.sh):
 *   nn_error err;
 *   if (nn_tensor_grid_png("out/samples.png", x, &(nn_grid_opts){ .cols = 8, .scale = 2 },
 *                          &err)) fprintf(stderr, "%s\n", err.msg);
 *   double train[10], test[10];   ... one value per epoch ...
 *   nn_series s[] = { { "train", NULL, train, 10 }, { "test", NULL, test, 10 } };
 *   nn_plot_lines_png("out/loss.png", s, 2, &(nn_plot_opts){ .title = "-ELBO",
 *                     .xlabel = "epoch" }, &err);
 *
 * Every PNG is written to a temporary file in the target's directory and renamed over the
 * target, so a reader never sees half a picture.  Values outside [0, 1] in grids are
 * clamped.  Text uses a built-in 5x7 bitmap font (printable ASCII).  Bad arguments (NULL,
 * wrong shapes) go to ag_error; file-system failures are returned through nn_error.
 */
#ifndef HENBUN_NN_IMAGE_H
#define HENBUN_NN_IMAGE_H

#include "autograd/autograd.h"
#include "nn/error.h"

#include <stdbool.h>
#include <stdint.h>

HENBUN_BEGIN_DECLS

/* ---------------------------------------------------------------------------------------
 * The canvas.  Drawing is clipped to the canvas; coordinates are pixels, (0, 0) top-left. */
typedef struct nn_rgb { uint8_t r, g, b; } nn_rgb;

typedef struct nn_image {
    int w, h;
    uint8_t *rgb;       /* w * h * 3 bytes, row-major; owned */
} nn_image;

nn_image *nn_image_new(int w, int h, nn_rgb background); /* free with nn_image_free */
void nn_image_free(nn_image *im);                        /* NULL is fine */
/* Writes im as an RGB PNG at path, atomically (temporary file + rename). 0, or -1 + err. */
int nn_image_write_png(const nn_image *im, const char *path, nn_error *err);

/* Pixel (x, y) := c; coordinates outside the canvas are ignored. */
void nn_image_set(nn_image *im, int x, int y, nn_rgb c);
/* The w x h rectangle with top-left corner (x, y) := c, clipped to the canvas. */
void nn_image_fill_rect(nn_image *im, int x, int y, int w, int h, nn_rgb c);
/* A line of the given width in pixels (Bresenham, a width x width square per point). */
void nn_image_line(nn_image *im, int x0, int y0, int x1, int y1, int width, nn_rgb c);
void nn_image_disc(nn_image *im, int cx, int cy, int r, nn_rgb c);    /* filled circle */
/* Copies src into im with its top-left corner at (x, y). */
void nn_image_blit(nn_image *im, const nn_image *src, int x, int y);
/* Text with its top-left corner at (x, y); each font pixel becomes scale x scale pixels.
 * A glyph cell is 6x8 font pixels (5x7 glyph, 1 column of spacing, 1 row of descender);
 * characters outside printable ASCII print as '?'.  Returns the width drawn. */
int nn_image_text(nn_image *im, int x, int y, const char *s, int scale, nn_rgb c);
int nn_text_width(const char *s, int scale);   /* pixels nn_image_text would use */
int nn_text_height(int scale);                 /* 8 * scale */

/* Ten distinct colours for class labels (i taken modulo 10), and a perceptual colour map
 * (dark blue, teal, green, yellow: viridis-like) for v in [0, 1] (clamped). */
nn_rgb nn_palette(int i);
nn_rgb nn_colormap(double v);

/* ---------------------------------------------------------------------------------------
 * Image grids.  n images of c channels (1: grey, 3: RGB) and h x w pixels, values in [0, 1],
 * tiled row by row. */
typedef struct nn_grid_opts {
    int cols;                    /* tiles per row; 0: ceil(sqrt(n)) */
    int pad;                     /* pixels between and around tiles; 0: 2, negative: none */
    int scale;                   /* each pixel becomes scale x scale; 0 or 1: none */
    int tile_h, tile_w;          /* for 2-D (N, D) tensors: tile size; 0: square sqrt(D) */
    const int *labels;           /* optional: a number printed under each tile */
    const char *const *captions; /* optional: a string printed under each tile */
    const char *title;           /* optional: a line of text above the grid */
} nn_grid_opts;

/* The grid as a canvas (caller frees), from n images stored contiguously (n, c, h, w). */
nn_image *nn_grid_image(const ag_real *x, int n, int c, int h, int w, const nn_grid_opts *o);
/* The same written as a PNG.  o may be NULL (defaults). */
int nn_grid_png(const char *path, const ag_real *x, int n, int c, int h, int w,
                const nn_grid_opts *o, nn_error *err);
/* From a tensor: (N, C, H, W) with C = 1 or 3, (N, H, W), or (N, D) with tile_h x tile_w
 * = D (a square when they are 0, e.g. 784 -> 28x28). */
int nn_tensor_grid_png(const char *path, const ag_tensor *x, const nn_grid_opts *o,
                       nn_error *err);
/* Two grids of the same layout side by side with a caption above each (the captions
 * default to "original" and "reconstruction"): a and b must have the same shape. */
int nn_tensor_pair_png(const char *path, const ag_tensor *a, const ag_tensor *b,
                       const char *caption_a, const char *caption_b, const nn_grid_opts *o,
                       nn_error *err);

/* ---------------------------------------------------------------------------------------
 * Plots (plot.c): axes with "nice" ticks and tick labels, a title, a legend.  Every
 * *_png function writes its file atomically (a temporary file, then rename) and returns 0,
 * or -1 with err naming the file. */
typedef enum nn_legend_place {
    NN_LEGEND_AUTO = 0,     /* the corner of the plot area free of data, else outside */
    NN_LEGEND_OUTSIDE,      /* right of the plot area, never over the data */
    NN_LEGEND_NONE
} nn_legend_place;

typedef struct nn_plot_opts {
    const char *title, *xlabel, *ylabel; /* optional */
    int width, height;                   /* pixels; 0: 640 x 440 */
    bool log_y;                          /* line plots: log10 y axis (values <= 0 skipped) */
    const char *const *class_names;      /* scatter legend for labels 0..9 (NULL: digits) */
    nn_legend_place legend;              /* line plots and bars: where the legend goes */
    const char *ref_name;                /* lines and bars: a dashed horizontal reference */
    double ref_y;                        /*   line at y = ref_y, named in the legend */
    const int *styles;                   /* line plots: an nn_line_style per series; NULL:
                                          * all solid */
} nn_plot_opts;

/* Nice tick values for an axis showing [lo, hi] (data units), about `target` of them, at
 * most max, written to out (returns the count).  Linear: multiples of 1, 2 or 5 x 10^k.
 * log10_axis (lo > 0): 1, 2, 5 x 10^k, or 1, 3 x 10^k, or powers of ten as the span grows,
 * with a tick in every decade shown and always one in the bottom quarter of the axis. */
int nn_axis_ticks(double lo, double hi, int target, bool log10_axis, double *out, int max);

/* How a line is drawn (nn_plot_opts.styles).  A reference line (a chance diagonal, a known
 * optimum) is dashed and grey, drawn under the data, and takes no colour from the series. */
typedef enum nn_line_style { NN_LINE_SOLID = 0, NN_LINE_DASHED, NN_LINE_REFERENCE } nn_line_style;

/* One named line: n points (x[i], y[i]); x NULL means 1, 2, ..., n (epochs).  Non-finite
 * values leave a gap.  At most 10 data series and 4 reference lines per plot. */
typedef struct nn_series {
    const char *name;
    const double *x, *y;
    int n;
} nn_series;
int nn_plot_lines_png(const char *path, const nn_series *s, int n_series,
                      const nn_plot_opts *o, nn_error *err);

/* A bar chart: bar i of height values[i] (from 0), named names[i] under it (names NULL:
 * 0, 1, ..., n-1; names are thinned out when they would overlap).  o->ref_name/ref_y add a
 * dashed threshold line (e.g. the 0.01 nats of an active unit); o->log_y is honoured. */
int nn_plot_bars_png(const char *path, const char *const *names, const double *values, int n,
                     const nn_plot_opts *o, nn_error *err);

/* One set of n 2-D points xy[2i], xy[2i+1] (e.g. the data of an (n, 2) tensor).  With
 * labels, points are coloured by label (nn_palette) and the legend lists the labels; a set
 * without labels gets one colour and its name in the legend.  Sets after the first are
 * drawn with other markers (cross, square, ring) so "real" and "generated" stay apart. */
typedef struct nn_points {
    const char *name;
    const ag_real *xy;
    int n;
    const int *labels;  /* optional */
} nn_points;
int nn_plot_scatter_png(const char *path, const nn_points *sets, int n_sets,
                        const nn_plot_opts *o, nn_error *err);

/* A heat map of a rows x cols grid of values v[r * cols + c] through nn_colormap, with a
 * colour bar.  Row 0 is drawn at the bottom (y grows upward, like a density p(x, y)). */
typedef struct nn_heatmap_opts {
    const char *title;      /* optional */
    double x0, x1, y0, y1;  /* the grid's extent on the axes; all 0: cell indices */
    double vmin, vmax;      /* colour range; vmin == vmax: the values' min and max */
    int cell;               /* pixels per cell; 0: about 400 pixels across */
} nn_heatmap_opts;
int nn_plot_heatmap_png(const char *path, const double *v, int rows, int cols,
                        const nn_heatmap_opts *o, nn_error *err);

/* An image grid (nn_grid_opts: cols, pad, scale; its captions and labels are not used)
 * inside axes: the value each column and each row shows, as ticks and labels at least
 * 10 pixels tall beside the tiles (e.g. the decoder over a grid of z: z1 along x, z2 along
 * y), or a label per row left of it (a latent traversal: "z3").  Optional fields may be
 * NULL; col_values has cols entries, row_values and row_labels one per row, top row first. */
typedef struct nn_grid_axes {
    const char *title, *xlabel, *ylabel;
    const double *col_values;
    const double *row_values;
    const char *const *row_labels;
} nn_grid_axes;
int nn_plot_grid_png(const char *path, const ag_real *x, int n, int c, int h, int w,
                     const nn_grid_opts *g, const nn_grid_axes *ax, nn_error *err);
/* The same from a tensor (N, C, H, W) with C = 1 or 3, or (N, D) with square tiles or
 * g->tile_h x g->tile_w = D. */
int nn_tensor_grid_axes_png(const char *path, const ag_tensor *x, const nn_grid_opts *g,
                            const nn_grid_axes *ax, nn_error *err);
HENBUN_END_DECLS

#endif
