/* plot.c — line plots, scatter plots and heat maps as PNG, drawn on the nn_image canvas:
 * axes with "nice" ticks (1, 2 or 5 times a power of ten), tick labels, a title, a legend.
 * No plotting library: a few rectangles, Bresenham lines and discs are enough for a loss
 * curve or a latent space.
 */
#include "nn/image.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const nn_rgb WHITE = {255, 255, 255}, BLACK = {0, 0, 0}, INK = {30, 30, 30},
                    GRID = {228, 228, 228}, FRAME = {110, 110, 110},
                    MINOR = {243, 243, 243}, REFERENCE = {120, 120, 120};

#define MAX_TICKS 32

/* The plot area on the canvas and the data range it shows. */
typedef struct axes {
    int px, py, pw, ph;     /* left, top, width, height in pixels */
    double x0, x1, y0, y1;  /* data at the left, right, bottom, top edges */
    bool log_y;             /* y0, y1 are log10 of the data */
} axes;

static int map_x(const axes *a, double x) {
    return a->px + (int)lround((x - a->x0) / (a->x1 - a->x0) * (a->pw - 1));
}
static int map_y(const axes *a, double y) {
    return a->py + a->ph - 1 - (int)lround((y - a->y0) / (a->y1 - a->y0) * (a->ph - 1));
}

/* Ticks at multiples of a nice step (1, 2 or 5 x 10^k, at least min_step) in [lo, hi]. */
static int nice_ticks(double lo, double hi, int target, double min_step, double *out) {
    double raw = (hi - lo) / target, p = pow(10, floor(log10(raw))), m = raw / p;
    double step = m < 1.5 ? p : m < 3.5 ? 2 * p : m < 7.5 ? 5 * p : 10 * p;
    if (step < min_step) step = min_step;
    int n = 0;
    for (double k = ceil(lo / step - 1e-9); k * step <= hi + 1e-9 * step && n < MAX_TICKS; k++)
        out[n++] = k * step + 0.0; /* + 0.0 turns -0 into 0 */
    return n;
}

/* Ticks for a log10 axis showing [lo, hi] (in log10 units), returned in log10 units.  The
 * mantissas per decade depend on the span, so there are about 4 to 12 labels: 1-9 (under
 * a decade), 1, 2, 5 (up to 3 decades), 1, 3 (up to 5), powers of ten beyond.  Less than a
 * third of a decade: plain steps of the values.  The bottom quarter always gets a tick,
 * because that is where a small error rate or a converged loss lives. */
static int log_ticks(double lo, double hi, double *out) {
    static const double all[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, m125[3] = {1, 2, 5},
                        m13[2] = {1, 3}, m1[1] = {1};
    double span = hi - lo;
    if (!(span > 0)) return 0;
    if (span < 0.35) { /* under a third of a decade: linear steps of the values */
        double v[MAX_TICKS];
        int n = nice_ticks(pow(10, lo), pow(10, hi), 5, 0, v), k = 0;
        for (int i = 0; i < n; i++)
            if (v[i] > 0) out[k++] = log10(v[i]);
        return k;
    }
    const double *m = span <= 1 ? all : span <= 3 ? m125 : span <= 5 ? m13 : m1;
    int per = span <= 1 ? 9 : span <= 3 ? 3 : span <= 5 ? 2 : 1, every = 1, n = 0;
    if (span > 10) every = (int)ceil(span / 10); /* many decades: every k-th power */
    for (double e = floor(lo); e <= ceil(hi) && n < MAX_TICKS; e++) {
        if ((long)fabs(e) % every) continue;
        for (int i = 0; i < per && n < MAX_TICKS; i++) {
            double v = e + log10(m[i]);
            if (v >= lo - 1e-9 && v <= hi + 1e-9) out[n++] = v;
        }
    }
    double quarter = lo + 0.25 * span;
    if ((n == 0 || out[0] > quarter) && n < MAX_TICKS) {
        /* The finest mantissa inside the bottom quarter, nearest its middle. */
        double best = NAN, mid = lo + 0.125 * span;
        for (double e = floor(lo); e <= ceil(quarter); e++)
            for (int i = 0; i < 9; i++) {
                double v = e + log10(all[i]);
                if (v >= lo && v <= quarter && (isnan(best) || fabs(v - mid) < fabs(best - mid)))
                    best = v;
            }
        if (!isnan(best)) {
            memmove(out + 1, out, sizeof *out * (size_t)n);
            out[0] = best, n++;
        }
    }
    return n;
}

int nn_axis_ticks(double lo, double hi, int target, bool log10_axis, double *out, int max) {
    double t[MAX_TICKS];
    if (!out || max < 1 || !isfinite(lo) || !isfinite(hi) || !(lo < hi)) return 0;
    int n = 0;
    if (log10_axis) {
        if (lo <= 0) return 0;
        n = log_ticks(log10(lo), log10(hi), t);
        for (int i = 0; i < n; i++) t[i] = pow(10, t[i]);
    } else {
        n = nice_ticks(lo, hi, target > 1 ? target : 2, 0, t);
    }
    if (n > max) n = max;
    memcpy(out, t, sizeof *t * (size_t)n);
    return n;
}

static void tick_label(double v, bool log, char *buf, size_t n) {
    double x = log ? pow(10, v) : v;
    if (log) x = strtod((snprintf(buf, n, "%.3g", x), buf), NULL); /* 2.9999999 -> 3 */
    snprintf(buf, n, "%.6g", x);
}

/* [lo, hi] widened by 5% on each side (and opened up when it is a single value). */
static void pad_range(double *lo, double *hi) {
    if (!(*lo <= *hi)) *lo = 0, *hi = 1; /* no finite data */
    if (*hi - *lo < 1e-12 * (fabs(*lo) + fabs(*hi)) || *hi == *lo) {
        double d = fabs(*lo) > 0 ? 0.1 * fabs(*lo) : 1;
        *lo -= d, *hi += d;
    }
    double m = 0.05 * (*hi - *lo);
    *lo -= m, *hi += m;
}

typedef struct ticks {
    double x[MAX_TICKS], y[MAX_TICKS];
    int nx, ny;
} ticks;

/* Places the plot area inside a w x h canvas, leaving room for the title, the axis labels
 * and the tick labels, plus `right` extra pixels on the right (legend, colour bar). */
static void layout(axes *a, ticks *t, int w, int h, int right, const char *title,
                   const char *xlabel, const char *ylabel) {
    char buf[48];
    int wide = 0;
    for (int i = 0; i < t->ny; i++) {
        tick_label(t->y[i], a->log_y, buf, sizeof buf);
        int tw = nn_text_width(buf, 1);
        if (tw > wide) wide = tw;
    }
    int top = 12 + (title ? nn_text_height(2) + 8 : 0) + (ylabel ? nn_text_height(1) + 6 : 0);
    int bottom = 8 + nn_text_height(1) + 6 + (xlabel ? nn_text_height(1) + 8 : 0);
    a->px = wide + 14;
    a->py = top;
    a->pw = w - a->px - 16 - right;
    a->ph = h - top - bottom;
    if (a->pw < 40 || a->ph < 40)
        ag_error("nn_plot", "a %d x %d canvas is too small for a plot", w, h);
}

/* Grid lines, frame, ticks and their labels, title and axis labels. */
static void draw_axes(nn_image *im, const axes *a, const ticks *t, const char *title,
                      const char *xlabel, const char *ylabel) {
    char buf[48];
    int bottom = a->py + a->ph - 1, right = a->px + a->pw - 1;
    for (int i = 0; i < t->nx; i++)
        nn_image_line(im, map_x(a, t->x[i]), a->py, map_x(a, t->x[i]), bottom, 1, GRID);
    if (a->log_y && a->y1 - a->y0 <= 6) /* faint lines at 1..9 x 10^k: the eye reads a log axis by them */
        for (double e = floor(a->y0); e <= a->y1; e++)
            for (int m = 1; m <= 9; m++) {
                double v = e + log10(m);
                if (v > a->y0 && v < a->y1)
                    nn_image_line(im, a->px, map_y(a, v), right, map_y(a, v), 1, MINOR);
            }
    for (int i = 0; i < t->ny; i++)
        nn_image_line(im, a->px, map_y(a, t->y[i]), right, map_y(a, t->y[i]), 1, GRID);
    nn_image_line(im, a->px, a->py, right, a->py, 1, FRAME);
    nn_image_line(im, a->px, bottom, right, bottom, 1, FRAME);
    nn_image_line(im, a->px, a->py, a->px, bottom, 1, FRAME);
    nn_image_line(im, right, a->py, right, bottom, 1, FRAME);
    for (int i = 0; i < t->nx; i++) {
        int x = map_x(a, t->x[i]);
        nn_image_line(im, x, bottom, x, bottom + 4, 1, FRAME);
        tick_label(t->x[i], false, buf, sizeof buf);
        nn_image_text(im, x - nn_text_width(buf, 1) / 2, bottom + 8, buf, 1, INK);
    }
    for (int i = 0; i < t->ny; i++) {
        int y = map_y(a, t->y[i]);
        nn_image_line(im, a->px - 4, y, a->px, y, 1, FRAME);
        tick_label(t->y[i], a->log_y, buf, sizeof buf);
        nn_image_text(im, a->px - 7 - nn_text_width(buf, 1), y - 3, buf, 1, INK);
    }
    if (title)
        nn_image_text(im, (im->w - nn_text_width(title, 2)) / 2, 10, title, 2, INK);
    if (ylabel)
        nn_image_text(im, a->px, a->py - nn_text_height(1) - 6, ylabel, 1, INK);
    if (xlabel)
        nn_image_text(im, a->px + (a->pw - nn_text_width(xlabel, 1)) / 2,
                      bottom + 8 + nn_text_height(1) + 6, xlabel, 1, INK);
}

/* Markers: 0 disc, 1 cross, 2 square, 3 ring. */
static void marker(nn_image *im, int kind, int x, int y, int r, nn_rgb c) {
    switch (kind % 4) {
    case 0: nn_image_disc(im, x, y, r, c); break;
    case 1:
        nn_image_line(im, x - r - 1, y - r - 1, x + r + 1, y + r + 1, 1, c);
        nn_image_line(im, x - r - 1, y + r + 1, x + r + 1, y - r - 1, 1, c);
        break;
    case 2: nn_image_fill_rect(im, x - r, y - r, 2 * r + 1, 2 * r + 1, c); break;
    default:
        nn_image_disc(im, x, y, r + 1, c);
        nn_image_disc(im, x, y, r - 1 > 0 ? r - 1 : 0, WHITE);
    }
}

/* A dashed line: 7 pixels on, 5 off, the pattern carried from segment to segment through
 * *phase so a polyline of short segments still looks dashed. */
static void dashed_line(nn_image *im, int x0, int y0, int x1, int y1, int width, nn_rgb c,
                        int *phase) {
    int steps = abs(x1 - x0) > abs(y1 - y0) ? abs(x1 - x0) : abs(y1 - y0);
    double len = hypot(x1 - x0, y1 - y0), per = steps ? len / steps : 0;
    double run = *phase;
    for (int i = 0; i <= steps; i++) {
        if ((int)run % 12 < 7) {
            int x = steps ? x0 + (int)lround((double)(x1 - x0) * i / steps) : x0;
            int y = steps ? y0 + (int)lround((double)(y1 - y0) * i / steps) : y0;
            nn_image_fill_rect(im, x - width / 2, y - width / 2, width, width, c);
        }
        if (i < steps) run += per;
    }
    *phase = (int)run % 12;
}

/* A legend entry is a sample (a line, or a marker kind >= 0) and a name. */
typedef struct legend_entry {
    const char *name;
    nn_rgb color;
    int marker; /* -1: a line, -2: a dashed line */
} legend_entry;

static void legend_size(const legend_entry *e, int n, int *w, int *h) {
    int wide = 0, rows = 0;
    for (int i = 0; i < n; i++)
        if (e[i].name) {
            int tw = nn_text_width(e[i].name, 1);
            if (tw > wide) wide = tw;
            rows++;
        }
    *w = rows ? 6 + 18 + 6 + wide + 6 : 0;
    *h = rows ? 12 * rows + 6 : 0;
}

/* A boxed legend with its top-left corner at (x, y). */
static void draw_legend_at(nn_image *im, const legend_entry *e, int n, int x, int y) {
    int w, h;
    legend_size(e, n, &w, &h);
    if (!w) return;
    nn_image_fill_rect(im, x, y, w, h, WHITE);
    nn_image_line(im, x, y, x + w - 1, y, 1, FRAME);
    nn_image_line(im, x, y + h - 1, x + w - 1, y + h - 1, 1, FRAME);
    nn_image_line(im, x, y, x, y + h - 1, 1, FRAME);
    nn_image_line(im, x + w - 1, y, x + w - 1, y + h - 1, 1, FRAME);
    int row = 0;
    for (int i = 0; i < n; i++) {
        if (!e[i].name) continue;
        int cy = y + 6 + 12 * row + 3, phase = 0;
        if (e[i].marker == -1) nn_image_line(im, x + 6, cy, x + 24, cy, 2, e[i].color);
        else if (e[i].marker == -2) dashed_line(im, x + 6, cy, x + 24, cy, 2, e[i].color, &phase);
        else marker(im, e[i].marker, x + 15, cy, 2, e[i].color);
        nn_image_text(im, x + 30, cy - 3, e[i].name, 1, INK);
        row++;
    }
}

/* A boxed legend with its top-right corner at (right, top). */
static void draw_legend(nn_image *im, const legend_entry *e, int n, int right, int top) {
    int w, h;
    legend_size(e, n, &w, &h);
    draw_legend_at(im, e, n, right - w, top);
}

static int legend_width(const legend_entry *e, int n) {
    int w, h;
    legend_size(e, n, &w, &h);
    return w;
}

/* Pixels of data (anything but the background and grid lines) in a rectangle. */
static long ink(const nn_image *im, int x, int y, int w, int h) {
    long n = 0;
    for (int j = y; j < y + h; j++)
        for (int i = x; i < x + w; i++) {
            if (i < 0 || j < 0 || i >= im->w || j >= im->h) continue;
            const uint8_t *p = im->rgb + 3 * ((size_t)j * (size_t)im->w + (size_t)i);
            nn_rgb c = {p[0], p[1], p[2]};
            bool bg = (c.r == WHITE.r && c.g == WHITE.g && c.b == WHITE.b) ||
                      (c.r == GRID.r && c.g == GRID.g && c.b == GRID.b) ||
                      (c.r == MINOR.r && c.g == MINOR.g && c.b == MINOR.b);
            n += !bg;
        }
    return n;
}

/* Places a legend of size lw x lh in the corner of the plot area with the least data under
 * it; returns false (nothing drawn) when every corner would cover some. */
static bool legend_in_corner(nn_image *im, const axes *a, const legend_entry *e, int n) {
    int lw, lh;
    legend_size(e, n, &lw, &lh);
    if (!lw) return true;
    int in = 6, xs[2] = {a->px + a->pw - in - lw, a->px + in},
        ys[2] = {a->py + in, a->py + a->ph - in - lh};
    if (lw + 2 * in > a->pw || lh + 2 * in > a->ph) return false;
    for (int corner = 0; corner < 4; corner++) { /* top right, top left, bottom right, bottom left */
        int x = xs[corner % 2], y = ys[corner / 2];
        if (ink(im, x - 3, y - 3, lw + 6, lh + 6) == 0) {
            draw_legend_at(im, e, n, x, y);
            return true;
        }
    }
    return false;
}

static int write_and_free(nn_image *im, const char *path, nn_error *err) {
    int rc = nn_image_write_png(im, path, err);
    nn_image_free(im);
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Line plots */

static double series_x(const nn_series *s, int i) { return s->x ? s->x[i] : i + 1; }

static int style_of(const nn_plot_opts *o, int k) { return o->styles ? o->styles[k] : 0; }

/* The colour of each series: data series take the palette in order, references grey. */
static nn_rgb series_color(const nn_plot_opts *o, int k) {
    int c = 0;
    for (int j = 0; j < k; j++) c += style_of(o, j) != NN_LINE_REFERENCE;
    return style_of(o, k) == NN_LINE_REFERENCE ? REFERENCE : nn_palette(c);
}

static nn_image *draw_lines(const nn_series *s, int n_series, const nn_plot_opts *o,
                            const axes *range, bool integer_x, const legend_entry *e, int ne,
                            bool outside) {
    axes a = *range;
    ticks t;
    t.nx = nice_ticks(a.x0, a.x1, 8, integer_x ? 1 : 0, t.x);
    t.ny = o->log_y ? log_ticks(a.y0, a.y1, t.y) : nice_ticks(a.y0, a.y1, 6, 0, t.y);
    int w = o->width > 0 ? o->width : 640, h = o->height > 0 ? o->height : 440;
    int lw = outside ? legend_width(e, ne) : 0;
    if (outside && w - lw - 8 < 200) w = lw + 8 + 200; /* a long legend widens the canvas */
    layout(&a, &t, w, h, outside ? lw + 8 : 0, o->title, o->xlabel, o->ylabel);
    nn_image *im = nn_image_new(w, h, WHITE);
    draw_axes(im, &a, &t, o->title, o->xlabel, o->ylabel);
    /* References first, so data is drawn over them. */
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < n_series; k++) {
            bool ref = style_of(o, k) == NN_LINE_REFERENCE;
            if (ref != (pass == 0)) continue;
            nn_rgb c = series_color(o, k);
            int px = 0, py = 0, phase = 0;
            bool have = false; /* a previous finite point to join */
            for (int i = 0; i < s[k].n; i++) {
                double x = series_x(&s[k], i), y = s[k].y[i];
                if (o->log_y) y = y > 0 ? log10(y) : NAN;
                if (!isfinite(x) || !isfinite(y)) {
                    have = false;
                    continue;
                }
                int qx = map_x(&a, x), qy = map_y(&a, y);
                if (have && style_of(o, k) == NN_LINE_SOLID) nn_image_line(im, px, py, qx, qy, 2, c);
                else if (have) dashed_line(im, px, py, qx, qy, 2, c, &phase);
                if (s[k].n <= 60 && !ref) nn_image_disc(im, qx, qy, 2, c); /* few points: mark each */
                px = qx, py = qy, have = true;
            }
        }
    if (o->ref_name) {
        double y = o->log_y ? (o->ref_y > 0 ? log10(o->ref_y) : NAN) : o->ref_y;
        int phase = 0;
        if (isfinite(y) && y >= a.y0 && y <= a.y1)
            dashed_line(im, a.px, map_y(&a, y), a.px + a.pw - 1, map_y(&a, y), 2, REFERENCE,
                        &phase);
    }
    if (o->legend != NN_LEGEND_NONE) {
        if (outside) draw_legend(im, e, ne, w - 8, a.py);
        else if (!legend_in_corner(im, &a, e, ne)) {
            nn_image_free(im);
            return NULL; /* no free corner: the caller draws it again with the legend outside */
        }
    }
    return im;
}

int nn_plot_lines_png(const char *path, const nn_series *s, int n_series,
                      const nn_plot_opts *o, nn_error *err) {
    static const nn_plot_opts defaults = {0};
    if (!o) o = &defaults;
    if (!path || !s || n_series < 1)
        ag_error("nn_plot_lines_png", "need a path and at least one series");
    int n_data = 0;
    for (int k = 0; k < n_series; k++) {
        int st = style_of(o, k);
        if (st < NN_LINE_SOLID || st > NN_LINE_REFERENCE)
            ag_error("nn_plot_lines_png", "series %d has style %d (0 to 2)", k, st);
        n_data += st != NN_LINE_REFERENCE;
    }
    if (n_data > 10 || n_series - n_data > 4)
        ag_error("nn_plot_lines_png", "%d data series and %d reference lines (at most 10 and 4)",
                 n_data, n_series - n_data);
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    bool integer_x = true;
    for (int k = 0; k < n_series; k++) {
        if (s[k].n < 0 || (s[k].n > 0 && !s[k].y))
            ag_error("nn_plot_lines_png", "series %d has n = %d and y %s", k, s[k].n,
                     s[k].y ? "set" : "NULL");
        if (s[k].x) integer_x = false;
        for (int i = 0; i < s[k].n; i++) {
            double x = series_x(&s[k], i), y = s[k].y[i];
            if (o->log_y) y = y > 0 ? log10(y) : NAN;
            if (!isfinite(x) || !isfinite(y)) continue;
            xlo = fmin(xlo, x), xhi = fmax(xhi, x), ylo = fmin(ylo, y), yhi = fmax(yhi, y);
        }
    }
    pad_range(&xlo, &xhi);
    pad_range(&ylo, &yhi);
    axes range = {.x0 = xlo, .x1 = xhi, .y0 = ylo, .y1 = yhi, .log_y = o->log_y};
    legend_entry e[15];
    int ne = 0;
    for (int k = 0; k < n_series; k++)
        e[ne++] = (legend_entry){s[k].name, series_color(o, k), style_of(o, k) ? -2 : -1};
    if (o->ref_name) e[ne++] = (legend_entry){o->ref_name, REFERENCE, -2};
    nn_image *im = NULL;
    if (o->legend != NN_LEGEND_OUTSIDE)
        im = draw_lines(s, n_series, o, &range, integer_x, e, ne, false);
    if (!im) im = draw_lines(s, n_series, o, &range, integer_x, e, ne, true);
    return write_and_free(im, path, err);
}

/* ---------------------------------------------------------------------------------------
 * Bar charts */

int nn_plot_bars_png(const char *path, const char *const *names, const double *values, int n,
                     const nn_plot_opts *o, nn_error *err) {
    static const nn_plot_opts defaults = {0};
    if (!o) o = &defaults;
    if (!path || !values || n < 1 || n > 4096)
        ag_error("nn_plot_bars_png", "need a path and 1 to 4096 values (got %d)", n);
    double lo = o->log_y ? INFINITY : 0, hi = o->log_y ? -INFINITY : 0;
    for (int i = 0; i < n; i++) {
        double v = o->log_y ? (values[i] > 0 ? log10(values[i]) : NAN) : values[i];
        if (isfinite(v)) lo = fmin(lo, v), hi = fmax(hi, v);
    }
    if (o->ref_name) {
        double v = o->log_y ? (o->ref_y > 0 ? log10(o->ref_y) : NAN) : o->ref_y;
        if (isfinite(v)) lo = fmin(lo, v), hi = fmax(hi, v);
    }
    pad_range(&lo, &hi);
    if (!o->log_y && lo > 0) lo = 0; /* bars grow from 0: keep it on the axis */
    double span = hi - lo;
    if (!o->log_y && lo < 0 && lo > -0.06 * span) lo = 0;
    axes a = {.x0 = 0, .x1 = n, .y0 = lo, .y1 = hi, .log_y = o->log_y};
    ticks t;
    t.nx = 0;
    t.ny = o->log_y ? log_ticks(lo, hi, t.y) : nice_ticks(lo, hi, 6, 0, t.y);
    int w = o->width > 0 ? o->width : (n * 18 + 120 > 640 ? n * 18 + 120 : 640);
    int h = o->height > 0 ? o->height : 440;
    legend_entry e[1] = {{o->ref_name, REFERENCE, -2}};
    layout(&a, &t, w, h, 0, o->title, o->xlabel, o->ylabel);
    nn_image *im = nn_image_new(w, h, WHITE);
    draw_axes(im, &a, &t, o->title, o->xlabel, o->ylabel);
    double base = o->log_y ? a.y0 : 0, slot = (double)a.pw / n;
    char buf[64];
    int widest = 0; /* label every k-th bar so the names do not overlap */
    for (int i = 0; i < n; i++) {
        if (names) snprintf(buf, sizeof buf, "%s", names[i] ? names[i] : "");
        else snprintf(buf, sizeof buf, "%d", i);
        if (nn_text_width(buf, 1) > widest) widest = nn_text_width(buf, 1);
    }
    int every = (int)ceil((widest + 6) / slot);
    if (every < 1) every = 1;
    int bottom = a.py + a.ph - 1;
    for (int i = 0; i < n; i++) {
        double v = o->log_y ? (values[i] > 0 ? log10(values[i]) : NAN) : values[i];
        int x0 = a.px + (int)lround(i * slot + 0.15 * slot),
            x1 = a.px + (int)lround((i + 1) * slot - 0.15 * slot);
        if (x1 <= x0) x1 = x0 + 1;
        if (isfinite(v)) {
            int y0 = map_y(&a, fmax(base, fmin(v, a.y1))), yb = map_y(&a, base);
            int top = y0 < yb ? y0 : yb, bot = y0 < yb ? yb : y0;
            nn_image_fill_rect(im, x0, top, x1 - x0, bot - top + 1, nn_palette(0));
        }
        if (i % every == 0) {
            if (names) snprintf(buf, sizeof buf, "%s", names[i] ? names[i] : "");
            else snprintf(buf, sizeof buf, "%d", i);
            int cx = a.px + (int)lround((i + 0.5) * slot);
            nn_image_line(im, cx, bottom, cx, bottom + 4, 1, FRAME);
            nn_image_text(im, cx - nn_text_width(buf, 1) / 2, bottom + 8, buf, 1, INK);
        }
    }
    if (!o->log_y && lo < 0)
        nn_image_line(im, a.px, map_y(&a, 0), a.px + a.pw - 1, map_y(&a, 0), 1, FRAME);
    if (o->ref_name) {
        double y = o->log_y ? (o->ref_y > 0 ? log10(o->ref_y) : NAN) : o->ref_y;
        int phase = 0;
        if (isfinite(y))
            dashed_line(im, a.px, map_y(&a, y), a.px + a.pw - 1, map_y(&a, y), 2, REFERENCE,
                        &phase);
        if (o->legend != NN_LEGEND_NONE && !legend_in_corner(im, &a, e, 1))
            draw_legend(im, e, 1, a.px + a.pw, 4); /* above the plot, right-aligned */
    }
    return write_and_free(im, path, err);
}

/* ---------------------------------------------------------------------------------------
 * Scatter plots */

int nn_plot_scatter_png(const char *path, const nn_points *sets, int n_sets,
                        const nn_plot_opts *o, nn_error *err) {
    static const nn_plot_opts defaults = {0};
    if (!o) o = &defaults;
    if (!path || !sets || n_sets < 1 || n_sets > 4)
        ag_error("nn_plot_scatter_png", "need a path and 1 to 4 point sets (got %d)", n_sets);
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    bool any_labels = false;
    bool present[10] = {false};
    long total = 0;
    for (int k = 0; k < n_sets; k++) {
        if (sets[k].n < 0 || (sets[k].n > 0 && !sets[k].xy))
            ag_error("nn_plot_scatter_png", "set %d has n = %d and xy %s", k, sets[k].n,
                     sets[k].xy ? "set" : "NULL");
        total += sets[k].n;
        if (sets[k].labels) any_labels = true;
        for (int i = 0; i < sets[k].n; i++) {
            double x = sets[k].xy[2 * i], y = sets[k].xy[2 * i + 1];
            if (sets[k].labels && sets[k].labels[i] >= 0 && sets[k].labels[i] < 10)
                present[sets[k].labels[i]] = true;
            if (!isfinite(x) || !isfinite(y)) continue;
            xlo = fmin(xlo, x), xhi = fmax(xhi, x), ylo = fmin(ylo, y), yhi = fmax(yhi, y);
        }
    }
    pad_range(&xlo, &xhi);
    pad_range(&ylo, &yhi);

    /* Legend: one entry per label present (the labelled sets), one per unlabelled set. */
    legend_entry e[14];
    char names[10][16];
    int ne = 0;
    for (int l = 0; l < 10; l++)
        if (present[l]) {
            snprintf(names[l], sizeof names[l], "%d", l);
            const char *name = o->class_names ? o->class_names[l] : names[l];
            e[ne++] = (legend_entry){name, nn_palette(l), 0};
        }
    for (int k = 0; k < n_sets; k++)
        if (!sets[k].labels) {
            /* Unlabelled sets beside labelled ones are black/grey, so colours keep meaning
             * labels; on their own they take the palette. */
            nn_rgb c = any_labels ? (k % 2 ? BLACK : (nn_rgb){90, 90, 90}) : nn_palette(k);
            e[ne++] = (legend_entry){sets[k].name ? sets[k].name : "points", c, k};
        }

    axes a = {.x0 = xlo, .x1 = xhi, .y0 = ylo, .y1 = yhi};
    ticks t;
    t.nx = nice_ticks(xlo, xhi, 8, 0, t.x);
    t.ny = nice_ticks(ylo, yhi, 6, 0, t.y);
    int w = o->width > 0 ? o->width : 640, h = o->height > 0 ? o->height : 440;
    int lw = legend_width(e, ne);
    layout(&a, &t, w, h, lw + 8, o->title, o->xlabel, o->ylabel);
    nn_image *im = nn_image_new(w, h, WHITE);
    draw_axes(im, &a, &t, o->title, o->xlabel, o->ylabel);

    int r = total > 20000 ? 1 : total > 2000 ? 2 : 3;
    for (int k = 0; k < n_sets; k++) {
        const legend_entry *mine = NULL;
        for (int j = 0; j < ne; j++)
            if (!sets[k].labels && e[j].marker == k) mine = &e[j];
        for (int i = 0; i < sets[k].n; i++) {
            double x = sets[k].xy[2 * i], y = sets[k].xy[2 * i + 1];
            if (!isfinite(x) || !isfinite(y)) continue;
            nn_rgb c = sets[k].labels ? nn_palette(sets[k].labels[i]) : mine->color;
            marker(im, k, map_x(&a, x), map_y(&a, y), r, c);
        }
    }
    draw_legend(im, e, ne, w - 8, a.py);
    return write_and_free(im, path, err);
}

/* ---------------------------------------------------------------------------------------
 * Heat maps */

int nn_plot_heatmap_png(const char *path, const double *v, int rows, int cols,
                        const nn_heatmap_opts *o, nn_error *err) {
    static const nn_heatmap_opts defaults = {0};
    if (!o) o = &defaults;
    if (!path || !v || rows < 1 || cols < 1)
        ag_error("nn_plot_heatmap_png", "need a path and a grid of values (got %d x %d)",
                 rows, cols);
    double vmin = o->vmin, vmax = o->vmax;
    if (!(vmin < vmax)) {
        vmin = INFINITY, vmax = -INFINITY;
        for (long i = 0; i < (long)rows * cols; i++)
            if (isfinite(v[i])) vmin = fmin(vmin, v[i]), vmax = fmax(vmax, v[i]);
        if (!(vmin < vmax)) vmax = vmin + 1; /* constant (or empty): one colour */
        if (!isfinite(vmin)) vmin = 0, vmax = 1;
    }
    bool extent = o->x0 != 0 || o->x1 != 0 || o->y0 != 0 || o->y1 != 0;
    axes a = {.x0 = extent ? o->x0 : 0, .x1 = extent ? o->x1 : cols,
              .y0 = extent ? o->y0 : 0, .y1 = extent ? o->y1 : rows};
    if (!(a.x0 != a.x1 && a.y0 != a.y1))
        ag_error("nn_plot_heatmap_png", "empty extent [%g, %g] x [%g, %g]", a.x0, a.x1, a.y0,
                 a.y1);
    int big = rows > cols ? rows : cols;
    int cell = o->cell > 0 ? o->cell : (400 / big > 0 ? 400 / big : 1);
    ticks t, tc;
    t.nx = nice_ticks(fmin(a.x0, a.x1), fmax(a.x0, a.x1), 6, 0, t.x);
    t.ny = nice_ticks(fmin(a.y0, a.y1), fmax(a.y0, a.y1), 6, 0, t.y);
    tc.nx = 0;
    tc.ny = nice_ticks(vmin, vmax, 5, 0, tc.y);

    /* The canvas is sized around the cells: plot area = cols*cell x rows*cell. */
    char buf[48];
    int bar_labels = 0;
    for (int i = 0; i < tc.ny; i++) {
        tick_label(tc.y[i], false, buf, sizeof buf);
        if (nn_text_width(buf, 1) > bar_labels) bar_labels = nn_text_width(buf, 1);
    }
    int right = 14 + 14 + 6 + bar_labels;
    axes probe = a;
    layout(&probe, &t, 1 << 14, 1 << 14, right, o->title, NULL, NULL); /* margins only */
    int w = probe.px + cols * cell + 16 + right;
    int h = probe.py + rows * cell + ((1 << 14) - probe.py - probe.ph);
    if (w < nn_text_width(o->title, 2) + 20) w = nn_text_width(o->title, 2) + 20;
    if (w > 1 << 15 || h > 1 << 15)
        ag_error("nn_plot_heatmap_png", "%d x %d cells of %d pixels is too large", rows, cols,
                 cell);
    a.px = probe.px, a.py = probe.py, a.pw = cols * cell, a.ph = rows * cell;
    nn_image *im = nn_image_new(w, h, WHITE);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            double x = v[(long)r * cols + c];
            nn_rgb col = isfinite(x) ? nn_colormap((x - vmin) / (vmax - vmin))
                                     : (nn_rgb){200, 200, 200};
            nn_image_fill_rect(im, a.px + c * cell, a.py + (rows - 1 - r) * cell, cell, cell,
                               col);
        }
    ticks frame = t; /* grid lines would cover the cells: draw only ticks and frame */
    int bottom = a.py + a.ph - 1;
    for (int i = 0; i < frame.nx; i++) {
        int x = map_x(&a, frame.x[i]);
        nn_image_line(im, x, bottom + 1, x, bottom + 4, 1, FRAME); /* below the cells */
        tick_label(frame.x[i], false, buf, sizeof buf);
        nn_image_text(im, x - nn_text_width(buf, 1) / 2, bottom + 8, buf, 1, INK);
    }
    for (int i = 0; i < frame.ny; i++) {
        int y = map_y(&a, frame.y[i]);
        nn_image_line(im, a.px - 4, y, a.px - 1, y, 1, FRAME);
        tick_label(frame.y[i], false, buf, sizeof buf);
        nn_image_text(im, a.px - 7 - nn_text_width(buf, 1), y - 3, buf, 1, INK);
    }
    if (o->title)
        nn_image_text(im, (w - nn_text_width(o->title, 2)) / 2, 10, o->title, 2, INK);

    /* Colour bar: value vmax at the top, vmin at the bottom, with its own ticks. */
    axes bar = {.px = a.px + a.pw + 14, .py = a.py, .pw = 14, .ph = a.ph,
                .x0 = 0, .x1 = 1, .y0 = vmin, .y1 = vmax};
    for (int j = 0; j < bar.ph; j++)
        nn_image_fill_rect(im, bar.px, bar.py + j, bar.pw, 1,
                           nn_colormap(1 - (double)j / (bar.ph > 1 ? bar.ph - 1 : 1)));
    for (int i = 0; i < tc.ny; i++) {
        int y = map_y(&bar, tc.y[i]);
        nn_image_line(im, bar.px + bar.pw, y, bar.px + bar.pw + 3, y, 1, FRAME);
        tick_label(tc.y[i], false, buf, sizeof buf);
        nn_image_text(im, bar.px + bar.pw + 6, y - 3, buf, 1, INK);
    }
    return write_and_free(im, path, err);
}

/* ---------------------------------------------------------------------------------------
 * Image grids inside axes */

int nn_plot_grid_png(const char *path, const ag_real *x, int n, int c, int h, int w,
                     const nn_grid_opts *g, const nn_grid_axes *ax, nn_error *err) {
    static const nn_grid_opts gdef = {0};
    static const nn_grid_axes adef = {0};
    if (!g) g = &gdef;
    if (!ax) ax = &adef;
    if (!path) ag_error("nn_plot_grid_png", "path is NULL");
    nn_grid_opts plain = *g;
    plain.title = NULL, plain.captions = NULL, plain.labels = NULL;
    nn_image *grid = nn_grid_image(x, n, c, h, w, &plain); /* checks the arguments */
    /* The tiles' places, as nn_grid_image lays them out (no title, no captions). */
    int s = g->scale > 1 ? g->scale : 1, pad = g->pad == 0 ? 2 : g->pad < 0 ? 0 : g->pad;
    int cols = g->cols > 0 ? g->cols : (int)ceil(sqrt((double)n));
    if (cols > n) cols = n;
    int rows = (n + cols - 1) / cols, tw = w * s, th = h * s;
    enum { TS = 2 }; /* text 16 pixels a line, glyphs 14 tall */
    char buf[64];
    int row_w = 0; /* the widest row label or row value */
    for (int r = 0; r < rows; r++) {
        if (ax->row_labels) snprintf(buf, sizeof buf, "%s", ax->row_labels[r] ? ax->row_labels[r] : "");
        else if (ax->row_values) snprintf(buf, sizeof buf, "%.3g", ax->row_values[r]);
        else buf[0] = 0;
        if (nn_text_width(buf, TS) > row_w) row_w = nn_text_width(buf, TS);
    }
    int line = nn_text_height(TS);
    int top = 6 + (ax->title ? line + 8 : 0) + (ax->ylabel ? line + 4 : 0);
    int left = 8 + row_w + (row_w ? 10 : 0);
    int bottom = 6 + (ax->col_values ? 6 + line : 0) + (ax->xlabel ? line + 4 : 0);
    int W = left + grid->w + 10, H = top + grid->h + bottom;
    if (ax->title && nn_text_width(ax->title, TS) + 16 > W) W = nn_text_width(ax->title, TS) + 16;
    nn_image *im = nn_image_new(W, H, WHITE);
    nn_image_blit(im, grid, left, top);
    if (ax->title) nn_image_text(im, (W - nn_text_width(ax->title, TS)) / 2, 6, ax->title, TS, INK);
    if (ax->ylabel) nn_image_text(im, 8, top - line - 2, ax->ylabel, TS, INK);
    for (int r = 0; r < rows; r++) {
        int cy = top + pad + r * (th + pad) + th / 2;
        if (ax->row_labels) snprintf(buf, sizeof buf, "%s", ax->row_labels[r] ? ax->row_labels[r] : "");
        else if (ax->row_values) snprintf(buf, sizeof buf, "%.3g", ax->row_values[r]);
        else continue;
        /* Rows closer than a line of text: label every k-th, keeping the middle one. */
        int every = (int)ceil((double)(line + 2) / (th + pad));
        if (every > 1 && (r - rows / 2) % every) continue;
        nn_image_text(im, left - 10 - nn_text_width(buf, TS), cy - line / 2 + 1, buf, TS, INK);
        if (ax->row_values && !ax->row_labels)
            nn_image_line(im, left - 6, cy, left - 1, cy, 1, FRAME);
    }
    if (ax->col_values) {
        int widest = 0;
        for (int j = 0; j < cols; j++) {
            snprintf(buf, sizeof buf, "%.3g", ax->col_values[j]);
            if (nn_text_width(buf, TS) > widest) widest = nn_text_width(buf, TS);
        }
        int every = (int)ceil((double)(widest + 8) / (tw + pad)), y = top + grid->h;
        for (int j = 0; j < cols; j++) {
            if ((j - cols / 2) % every) continue;
            int cx = left + pad + j * (tw + pad) + tw / 2;
            snprintf(buf, sizeof buf, "%.3g", ax->col_values[j]);
            nn_image_line(im, cx, y, cx, y + 5, 1, FRAME);
            nn_image_text(im, cx - nn_text_width(buf, TS) / 2, y + 8, buf, TS, INK);
        }
    }
    if (ax->xlabel)
        nn_image_text(im, left + (grid->w - nn_text_width(ax->xlabel, TS)) / 2,
                      H - line - 2, ax->xlabel, TS, INK);
    nn_image_free(grid);
    return write_and_free(im, path, err);
}

int nn_tensor_grid_axes_png(const char *path, const ag_tensor *x, const nn_grid_opts *g,
                            const nn_grid_axes *ax, nn_error *err) {
    char buf[64];
    if (!x) ag_error("nn_tensor_grid_axes_png", "tensor is NULL");
    int n = x->shape[0], c = 1, h = 0, w = 0;
    if (x->ndim == 4) {
        c = x->shape[1], h = x->shape[2], w = x->shape[3];
    } else if (x->ndim == 2) {
        int d = x->shape[1];
        if (g && g->tile_h > 0 && g->tile_w > 0) h = g->tile_h, w = g->tile_w;
        else h = w = (int)lround(sqrt((double)d));
        if ((long)h * w != d)
            ag_error("nn_tensor_grid_axes_png", "cannot tile rows of %d values (%s): set "
                     "tile_h and tile_w", d, ag_shape_str(x, buf, sizeof buf));
    } else {
        ag_error("nn_tensor_grid_axes_png", "expected (N, C, H, W) or (N, D), got %s",
                 ag_shape_str(x, buf, sizeof buf));
    }
    return nn_plot_grid_png(path, x->data, n, c, h, w, g, ax, err);
}
