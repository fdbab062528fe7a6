/* image.c — the RGB canvas, its drawing primitives and 5x7 font, atomic PNG writing (through
 * Debian's libstb), and image grids of samples.  Plots live in plot.c on the same canvas.
 */
#include "nn/image.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Declarations only: the implementation is compiled into libstb (-lstb). */
#include <stb/stb_image_write.h>

/* ---------------------------------------------------------------------------------------
 * Font: printable ASCII (32..126), one glyph per row of 8 bytes, one byte per pixel row,
 * bit 4 = leftmost of 5 columns.  Capitals and digits use rows 0-6, lowercase letters rows
 * 2-6, and descenders (g j p q y , ;) reach row 7. */
static const uint8_t font5x7[95][8] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* space */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04, 0x00}, /* ! */
    {0x0A, 0x0A, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x00}, /* " */
    {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A, 0x00}, /* # */
    {0x04, 0x0F, 0x14, 0x0E, 0x05, 0x1E, 0x04, 0x00}, /* $ */
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03, 0x00}, /* % */
    {0x0C, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0D, 0x00}, /* & */
    {0x04, 0x04, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00}, /* ' */
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02, 0x00}, /* ( */
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08, 0x00}, /* ) */
    {0x00, 0x04, 0x15, 0x0E, 0x15, 0x04, 0x00, 0x00}, /* * */
    {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00, 0x00}, /* + */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08}, /* , */
    {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00, 0x00}, /* - */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C, 0x00}, /* . */
    {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00, 0x00}, /* / */
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E, 0x00}, /* 0 */
    {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E, 0x00}, /* 1 */
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F, 0x00}, /* 2 */
    {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E, 0x00}, /* 3 */
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02, 0x00}, /* 4 */
    {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E, 0x00}, /* 5 */
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E, 0x00}, /* 6 */
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08, 0x00}, /* 7 */
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E, 0x00}, /* 8 */
    {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C, 0x00}, /* 9 */
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00, 0x00}, /* : */
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x04, 0x08, 0x00}, /* ; */
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02, 0x00}, /* < */
    {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00, 0x00}, /* = */
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08, 0x00}, /* > */
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04, 0x00}, /* ? */
    {0x0E, 0x11, 0x01, 0x0D, 0x15, 0x15, 0x0E, 0x00}, /* @ */
    {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11, 0x00}, /* A */
    {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E, 0x00}, /* B */
    {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E, 0x00}, /* C */
    {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C, 0x00}, /* D */
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F, 0x00}, /* E */
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10, 0x00}, /* F */
    {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F, 0x00}, /* G */
    {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11, 0x00}, /* H */
    {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E, 0x00}, /* I */
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C, 0x00}, /* J */
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11, 0x00}, /* K */
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F, 0x00}, /* L */
    {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11, 0x00}, /* M */
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x00}, /* N */
    {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E, 0x00}, /* O */
    {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10, 0x00}, /* P */
    {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D, 0x00}, /* Q */
    {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11, 0x00}, /* R */
    {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E, 0x00}, /* S */
    {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00}, /* T */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E, 0x00}, /* U */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04, 0x00}, /* V */
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A, 0x00}, /* W */
    {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11, 0x00}, /* X */
    {0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04, 0x00}, /* Y */
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F, 0x00}, /* Z */
    {0x0E, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0E, 0x00}, /* [ */
    {0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00, 0x00}, /* \ */
    {0x0E, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0E, 0x00}, /* ] */
    {0x04, 0x0A, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00}, /* ^ */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F, 0x00}, /* _ */
    {0x08, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* ` */
    {0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F, 0x00}, /* a */
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E, 0x00}, /* b */
    {0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E, 0x00}, /* c */
    {0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F, 0x00}, /* d */
    {0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E, 0x00}, /* e */
    {0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08, 0x00}, /* f */
    {0x00, 0x00, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x0E}, /* g */
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00}, /* h */
    {0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E, 0x00}, /* i */
    {0x02, 0x00, 0x06, 0x02, 0x02, 0x02, 0x12, 0x0C}, /* j */
    {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12, 0x00}, /* k */
    {0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E, 0x00}, /* l */
    {0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11, 0x00}, /* m */
    {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00}, /* n */
    {0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E, 0x00}, /* o */
    {0x00, 0x00, 0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10}, /* p */
    {0x00, 0x00, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x01}, /* q */
    {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10, 0x00}, /* r */
    {0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E, 0x00}, /* s */
    {0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06, 0x00}, /* t */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D, 0x00}, /* u */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04, 0x00}, /* v */
    {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A, 0x00}, /* w */
    {0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x00}, /* x */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0F, 0x01, 0x0E}, /* y */
    {0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F, 0x00}, /* z */
    {0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02, 0x00}, /* { */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00}, /* | */
    {0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08, 0x00}, /* } */
    {0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00, 0x00}, /* ~ */
};

/* ---------------------------------------------------------------------------------------
 * Canvas */

nn_image *nn_image_new(int w, int h, nn_rgb bg) {
    if (w < 1 || h < 1 || w > 1 << 15 || h > 1 << 15)
        ag_error("nn_image_new", "%d x %d pixels (each side must be 1 to 32768)", w, h);
    nn_image *im = malloc(sizeof *im);
    uint8_t *rgb = malloc((size_t)w * (size_t)h * 3);
    if (!im || !rgb) ag_error("nn_image_new", "out of memory for %d x %d pixels", w, h);
    *im = (nn_image){.w = w, .h = h, .rgb = rgb};
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++)
        rgb[3 * i] = bg.r, rgb[3 * i + 1] = bg.g, rgb[3 * i + 2] = bg.b;
    return im;
}

void nn_image_free(nn_image *im) {
    if (!im) return;
    free(im->rgb);
    free(im);
}

void nn_image_set(nn_image *im, int x, int y, nn_rgb c) {
    if (x < 0 || y < 0 || x >= im->w || y >= im->h) return;
    uint8_t *p = im->rgb + 3 * ((size_t)y * (size_t)im->w + (size_t)x);
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
}

void nn_image_fill_rect(nn_image *im, int x, int y, int w, int h, nn_rgb c) {
    int x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    int x1 = x + w > im->w ? im->w : x + w, y1 = y + h > im->h ? im->h : y + h;
    for (int j = y0; j < y1; j++)
        for (int i = x0; i < x1; i++) nn_image_set(im, i, j, c);
}

/* Bresenham: step along the major axis, carry the error of the minor one.  Each point
 * stamps a width x width square centred on the line. */
void nn_image_line(nn_image *im, int x0, int y0, int x1, int y1, int width, nn_rgb c) {
    int dx = abs(x1 - x0), dy = -abs(y1 - y0);
    int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, e = dx + dy;
    int half = (width - 1) / 2;
    if (width < 1) width = 1, half = 0;
    for (;;) {
        nn_image_fill_rect(im, x0 - half, y0 - half, width, width, c);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * e;
        if (e2 >= dy) e += dy, x0 += sx; /* e2 >= dy: the x step keeps us closer */
        if (e2 <= dx) e += dx, y0 += sy;
    }
}

void nn_image_disc(nn_image *im, int cx, int cy, int r, nn_rgb c) {
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++)
            if (dx * dx + dy * dy <= r * r + r) nn_image_set(im, cx + dx, cy + dy, c);
}

void nn_image_blit(nn_image *im, const nn_image *src, int x, int y) {
    for (int j = 0; j < src->h; j++)
        for (int i = 0; i < src->w; i++) {
            const uint8_t *p = src->rgb + 3 * ((size_t)j * (size_t)src->w + (size_t)i);
            nn_image_set(im, x + i, y + j, (nn_rgb){p[0], p[1], p[2]});
        }
}

int nn_text_width(const char *s, int scale) {
    if (scale < 1) scale = 1;
    size_t n = s ? strlen(s) : 0;
    return n ? (int)(6 * n - 1) * scale : 0; /* no spacing after the last glyph */
}

int nn_text_height(int scale) { return 8 * (scale < 1 ? 1 : scale); }

int nn_image_text(nn_image *im, int x, int y, const char *s, int scale, nn_rgb c) {
    if (!s) return 0;
    if (scale < 1) scale = 1;
    for (int k = 0; s[k]; k++) {
        unsigned ch = (unsigned char)s[k];
        const uint8_t *g = font5x7[(ch >= 32 && ch < 127 ? ch : '?') - 32];
        for (int row = 0; row < 8; row++)
            for (int col = 0; col < 5; col++)
                if (g[row] & (0x10 >> col))
                    nn_image_fill_rect(im, x + (6 * k + col) * scale, y + row * scale, scale,
                                       scale, c);
    }
    return nn_text_width(s, scale);
}

nn_rgb nn_palette(int i) {
    static const nn_rgb tab[10] = { /* the "Tableau 10" colours, easy to tell apart */
        {31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189},
        {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
    return tab[((i % 10) + 10) % 10];
}

nn_rgb nn_colormap(double v) {
    static const double stops[5][3] = { /* viridis at 0, 1/4, 1/2, 3/4, 1 */
        {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
    v = v > 0 ? (v < 1 ? v : 1) : 0; /* also maps NaN to 0 */
    double f = v * 4;
    int k = f >= 4 ? 3 : (int)f;
    f -= k;
    double c[3];
    for (int i = 0; i < 3; i++) c[i] = stops[k][i] + f * (stops[k + 1][i] - stops[k][i]);
    return (nn_rgb){(uint8_t)lround(c[0]), (uint8_t)lround(c[1]), (uint8_t)lround(c[2])};
}

/* ---------------------------------------------------------------------------------------
 * PNG, atomically (nn_atomic_begin/end: a temporary file beside the target, renamed over it). */

typedef struct png_sink { FILE *f; bool ok; } png_sink;

static void png_write(void *ctx, void *data, int size) {
    png_sink *s = ctx;
    if (s->ok && fwrite(data, 1, (size_t)size, s->f) != (size_t)size) s->ok = false;
}

int nn_image_write_png(const nn_image *im, const char *path, nn_error *err) {
    if (!im || !path) ag_error("nn_image_write_png", "image or path is NULL");
    nn_atomic_file out;
    if (nn_atomic_begin(&out, path, err)) return -1;
    png_sink s = {out.f, true};
    const char *why = NULL;
    errno = 0;
    if (!stbi_write_png_to_func(png_write, &s, im->w, im->h, 3, im->rgb, im->w * 3))
        why = "the PNG encoder failed";
    else if (!s.ok)
        why = errno ? strerror(errno) : "short write";
    return nn_atomic_end(&out, why, err);
}

/* ---------------------------------------------------------------------------------------
 * Grids */

static const nn_rgb WHITE = {255, 255, 255}, INK = {30, 30, 30};

static uint8_t to_byte(ag_real v) { /* clamp to [0, 1] (NaN -> 0), then round */
    double u = v > 0 ? (v < 1 ? (double)v : 1.0) : 0.0;
    return (uint8_t)lround(u * 255);
}

/* Text centred in a box of width w, cut to as many characters as fit. */
static void caption(nn_image *im, int x, int y, int w, const char *s, int scale) {
    char buf[64];
    int fit = (w / scale + 1) / 6;
    snprintf(buf, sizeof buf, "%s", s);
    if (fit < (int)strlen(buf)) buf[fit > 0 ? fit : 0] = 0;
    nn_image_text(im, x + (w - nn_text_width(buf, scale)) / 2, y, buf, scale, INK);
}

nn_image *nn_grid_image(const ag_real *x, int n, int c, int h, int w, const nn_grid_opts *o) {
    static const nn_grid_opts defaults = {0};
    if (!o) o = &defaults;
    if (!x || n < 1 || (c != 1 && c != 3) || h < 1 || w < 1)
        ag_error("nn_grid_image", "need n >= 1 images of 1 or 3 channels, got n=%d c=%d "
                 "h=%d w=%d%s", n, c, h, w, x ? "" : " (x is NULL)");
    int s = o->scale > 1 ? o->scale : 1;
    int pad = o->pad == 0 ? 2 : o->pad < 0 ? 0 : o->pad;
    int cols = o->cols > 0 ? o->cols : (int)ceil(sqrt((double)n));
    if (cols > n) cols = n;
    int rows = (n + cols - 1) / cols;
    int ts = s >= 3 ? 2 : 1;                          /* text scale */
    int cap_h = o->labels || o->captions ? nn_text_height(ts) + 2 : 0;
    int title_h = o->title ? nn_text_height(ts) + 6 : 0;
    int tw = w * s, th = h * s;
    long W = pad + (long)cols * (tw + pad), H = title_h + pad + (long)rows * (th + cap_h + pad);
    if (W > 1 << 15 || H > 1 << 15)
        ag_error("nn_grid_image", "a %ld x %ld grid is too large (at most 32768 a side)", W, H);
    if (o->title && nn_text_width(o->title, ts) + 2 * pad > W)
        W = nn_text_width(o->title, ts) + 2 * pad;
    nn_image *im = nn_image_new((int)W, (int)H, WHITE);
    if (o->title) nn_image_text(im, pad, 3, o->title, ts, INK);
    size_t plane = (size_t)h * (size_t)w;
    for (int k = 0; k < n; k++) {
        int x0 = pad + (k % cols) * (tw + pad);
        int y0 = title_h + pad + (k / cols) * (th + cap_h + pad);
        const ag_real *img = x + (size_t)k * (size_t)c * plane;
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++) {
                size_t p = (size_t)i * (size_t)w + (size_t)j;
                uint8_t r = to_byte(img[p]);
                nn_rgb col = {r, r, r}; /* grey, or red of RGB planes (3, h, w) */
                if (c == 3) {
                    col.g = to_byte(img[plane + p]);
                    col.b = to_byte(img[2 * plane + p]);
                }
                nn_image_fill_rect(im, x0 + j * s, y0 + i * s, s, s, col);
            }
        char num[16];
        const char *text = o->captions ? o->captions[k] : NULL;
        if (!text && o->labels) snprintf(num, sizeof num, "%d", o->labels[k]), text = num;
        if (text) caption(im, x0, y0 + th + 2, tw, text, ts);
    }
    return im;
}

int nn_grid_png(const char *path, const ag_real *x, int n, int c, int h, int w,
                const nn_grid_opts *o, nn_error *err) {
    nn_image *im = nn_grid_image(x, n, c, h, w, o);
    int rc = nn_image_write_png(im, path, err);
    nn_image_free(im);
    return rc;
}

/* (n, c, h, w) of a tensor read as a batch of images; see nn_tensor_grid_png. */
static void image_shape(const char *op, const ag_tensor *x, const nn_grid_opts *o, int *n,
                        int *c, int *h, int *w) {
    char buf[64];
    if (!x) ag_error(op, "tensor is NULL");
    *n = x->shape[0], *c = 1;
    if (x->ndim == 4) {
        *c = x->shape[1], *h = x->shape[2], *w = x->shape[3];
    } else if (x->ndim == 3) {
        *h = x->shape[1], *w = x->shape[2];
    } else if (x->ndim == 2) {
        int d = x->shape[1];
        if (o && o->tile_h > 0 && o->tile_w > 0) {
            *h = o->tile_h, *w = o->tile_w;
        } else {
            *h = *w = (int)lround(sqrt((double)d));
        }
        if ((long)*h * *w != d)
            ag_error(op, "cannot tile rows of %d values (%s): set tile_h and tile_w", d,
                     ag_shape_str(x, buf, sizeof buf));
    } else {
        ag_error(op, "expected (N, C, H, W), (N, H, W) or (N, D), got %s",
                 ag_shape_str(x, buf, sizeof buf));
    }
    if (*c != 1 && *c != 3)
        ag_error(op, "%d channels (%s): images need 1 (grey) or 3 (RGB)", *c,
                 ag_shape_str(x, buf, sizeof buf));
}

int nn_tensor_grid_png(const char *path, const ag_tensor *x, const nn_grid_opts *o,
                       nn_error *err) {
    int n = 0, c = 0, h = 0, w = 0;
    image_shape("nn_tensor_grid_png", x, o, &n, &c, &h, &w);
    return nn_grid_png(path, x->data, n, c, h, w, o, err);
}

int nn_tensor_pair_png(const char *path, const ag_tensor *a, const ag_tensor *b,
                       const char *caption_a, const char *caption_b, const nn_grid_opts *o,
                       nn_error *err) {
    int n = 0, c = 0, h = 0, w = 0, n2 = 0, c2 = 0, h2 = 0, w2 = 0;
    image_shape("nn_tensor_pair_png", a, o, &n, &c, &h, &w);
    image_shape("nn_tensor_pair_png", b, o, &n2, &c2, &h2, &w2);
    if (n != n2 || c != c2 || h != h2 || w != w2)
        ag_error("nn_tensor_pair_png", "the two batches differ: %d x (%d, %d, %d) vs %d x "
                 "(%d, %d, %d)", n, c, h, w, n2, c2, h2, w2);
    nn_grid_opts g = o ? *o : (nn_grid_opts){0};
    const char *title = g.title;
    g.title = NULL;
    nn_image *ia = nn_grid_image(a->data, n, c, h, w, &g);
    nn_image *ib = nn_grid_image(b->data, n, c, h, w, &g);
    int ts = g.scale >= 3 ? 2 : 1, line = nn_text_height(ts) + 6, gap = 12;
    int top = (title ? line : 0) + line;
    nn_image *im = nn_image_new(ia->w + gap + ib->w, top + ia->h, WHITE);
    if (title) nn_image_text(im, 2, 3, title, ts, INK);
    caption(im, 0, top - line + 3, ia->w, caption_a ? caption_a : "original", ts);
    caption(im, ia->w + gap, top - line + 3, ib->w, caption_b ? caption_b : "reconstruction",
            ts);
    nn_image_blit(im, ia, 0, top);
    nn_image_blit(im, ib, ia->w + gap, top);
    int rc = nn_image_write_png(im, path, err);
    nn_image_free(ia);
    nn_image_free(ib);
    nn_image_free(im);
    return rc;
}
