/* plot.c — line plots, scatter plots and heat maps as PNG, drawn on the nn_image canvas:
 * axes with "nice" ticks (1, 2 or 5 times a power of ten), tick labels, a title, a legend.
 * No plotting library: a few rectangles, Bresenham lines and discs are enough for a loss
 * curve or a latent space.
 */
#include "nn/image.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const nn_rgb WHITE = {255, 255, 255}, BLACK = {0, 0, 0}, INK = {30, 30, 30},
                    GRID = {228, 228, 228}, FRAME = {110, 110, 110};

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

/* Ticks for a log10 axis showing [lo, hi] (in log10 units): 1, 2, 5 x 10^k when the range
 * spans at most two decades, else powers of ten only.  Values returned in log10 units. */
static int log_ticks(double lo, double hi, double *out) {
    static const double mult[3] = {1, 2, 5};
    int per = hi - lo <= 2 ? 3 : 1, n = 0;
    for (double e = floor(lo); e <= ceil(hi) && n < MAX_TICKS; e++)
        for (int i = 0; i < per && n < MAX_TICKS; i++) {
            double v = e + log10(mult[i]);
            if (v >= lo - 1e-9 && v <= hi + 1e-9) out[n++] = v;
        }
    if (n < 2) return nice_ticks(lo, hi, 4, 0, out); /* less than a decade: plain steps */
    return n;
}

static void tick_label(double v, bool log, char *buf, size_t n) {
    snprintf(buf, n, "%.6g", log ? pow(10, v) : v);
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

/* A legend entry is a sample (a line, or a marker kind >= 0) and a name. */
typedef struct legend_entry {
    const char *name;
    nn_rgb color;
    int marker; /* -1: a line */
} legend_entry;

/* A boxed legend with its top-right corner at (right, top). */
static void draw_legend(nn_image *im, const legend_entry *e, int n, int right, int top) {
    int wide = 0, rows = 0;
    for (int i = 0; i < n; i++)
        if (e[i].name) {
            int w = nn_text_width(e[i].name, 1);
            if (w > wide) wide = w;
            rows++;
        }
    if (!rows) return;
    int w = 6 + 18 + 6 + wide + 6, h = 12 * rows + 6, x = right - w, y = top;
    nn_image_fill_rect(im, x, y, w, h, WHITE);
    nn_image_line(im, x, y, x + w - 1, y, 1, FRAME);
    nn_image_line(im, x, y + h - 1, x + w - 1, y + h - 1, 1, FRAME);
    nn_image_line(im, x, y, x, y + h - 1, 1, FRAME);
    nn_image_line(im, x + w - 1, y, x + w - 1, y + h - 1, 1, FRAME);
    int row = 0;
    for (int i = 0; i < n; i++) {
        if (!e[i].name) continue;
        int cy = y + 6 + 12 * row + 3;
        if (e[i].marker < 0) nn_image_line(im, x + 6, cy, x + 24, cy, 2, e[i].color);
        else marker(im, e[i].marker, x + 15, cy, 2, e[i].color);
        nn_image_text(im, x + 30, cy - 3, e[i].name, 1, INK);
        row++;
    }
}

static int legend_width(const legend_entry *e, int n) {
    int wide = 0;
    for (int i = 0; i < n; i++)
        if (e[i].name && nn_text_width(e[i].name, 1) > wide) wide = nn_text_width(e[i].name, 1);
    return 6 + 18 + 6 + wide + 6;
}

static int write_and_free(nn_image *im, const char *path, nn_error *err) {
    int rc = nn_image_write_png(im, path, err);
    nn_image_free(im);
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Line plots */

static double series_x(const nn_series *s, int i) { return s->x ? s->x[i] : i + 1; }

int nn_plot_lines_png(const char *path, const nn_series *s, int n_series,
                      const nn_plot_opts *o, nn_error *err) {
    static const nn_plot_opts defaults = {0};
    if (!o) o = &defaults;
    if (!path || !s || n_series < 1)
        ag_error("nn_plot_lines_png", "need a path and at least one series");
    if (n_series > 10) ag_error("nn_plot_lines_png", "%d series (at most 10)", n_series);
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
    axes a = {.x0 = xlo, .x1 = xhi, .y0 = ylo, .y1 = yhi, .log_y = o->log_y};
    ticks t;
    t.nx = nice_ticks(xlo, xhi, 8, integer_x ? 1 : 0, t.x);
    t.ny = o->log_y ? log_ticks(ylo, yhi, t.y) : nice_ticks(ylo, yhi, 6, 0, t.y);
    int w = o->width > 0 ? o->width : 640, h = o->height > 0 ? o->height : 440;
    layout(&a, &t, w, h, 0, o->title, o->xlabel, o->ylabel);
    nn_image *im = nn_image_new(w, h, WHITE);
    draw_axes(im, &a, &t, o->title, o->xlabel, o->ylabel);

    legend_entry e[10];
    for (int k = 0; k < n_series; k++) {
        nn_rgb c = nn_palette(k);
        int px = 0, py = 0;
        bool have = false; /* a previous finite point to join */
        for (int i = 0; i < s[k].n; i++) {
            double x = series_x(&s[k], i), y = s[k].y[i];
            if (o->log_y) y = y > 0 ? log10(y) : NAN;
            if (!isfinite(x) || !isfinite(y)) {
                have = false;
                continue;
            }
            int qx = map_x(&a, x), qy = map_y(&a, y);
            if (have) nn_image_line(im, px, py, qx, qy, 2, c);
            if (s[k].n <= 60) nn_image_disc(im, qx, qy, 2, c); /* few points: mark each */
            px = qx, py = qy, have = true;
        }
        e[k] = (legend_entry){s[k].name, c, -1};
    }
    draw_legend(im, e, n_series, a.px + a.pw - 8, a.py + 8);
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
