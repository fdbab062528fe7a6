/* test_plot.c — the plot fixes, checked on the pixels of the PNGs written: log-axis ticks
 * (every decade, the bottom quarter, nice values), a legend that never covers data (a free
 * corner, else outside), reference lines dashed and grey, bar heights, and grid labels
 * tall enough to read and beside their rows. */
#include "tests/test.h"
#include "nn/image.h"

#include <stb/stb_image.h> /* declarations; the implementation is in libstb */
#include <stdlib.h>
#include <string.h>

static unsigned char *load(const char *path, int *w, int *h) {
    int c;
    return stbi_load(path, w, h, &c, 3);
}

static bool is(const unsigned char *p, nn_rgb c) { return p[0] == c.r && p[1] == c.g && p[2] == c.b; }

static long count(const unsigned char *px, int w, int h, nn_rgb c) {
    long n = 0;
    for (long i = 0; i < (long)w * h; i++) n += is(px + 3 * i, c);
    return n;
}

TEST(plot_log_ticks_every_decade_and_bottom_quarter) {
    static const double r[][2] = {{0.002, 2.3}, {0.008, 0.9}, {1e-5, 10}, {0.3, 2},
                                  {50, 80},     {1e-9, 1e3},  {0.0101, 0.95}, {3, 2000},
                                  {0.011, 5} /* powers of ten only left [0.011, 0.1) bare */};
    for (size_t k = 0; k < sizeof r / sizeof *r; k++) {
        double t[64], lo = r[k][0], hi = r[k][1], span = log10(hi / lo);
        int n = nn_axis_ticks(lo, hi, 6, true, t, 64);
        CHECK(n >= 2 && n <= 16);
        bool bottom = false;
        for (int i = 0; i < n; i++) {
            CHECK(t[i] >= lo * (1 - 1e-9) && t[i] <= hi * (1 + 1e-9));
            if (log10(t[i] / lo) <= 0.25 * span + 1e-9) bottom = true;
            char s[32];
            snprintf(s, sizeof s, "%.2g", t[i]); /* nice: two significant digits at most */
            CHECK_NEAR(strtod(s, NULL) / t[i], 1, 1e-9);
        }
        if (!bottom) printf("    no tick in the bottom quarter of [%g, %g]\n", lo, hi);
        CHECK(bottom);
        /* Every power of ten inside the range is a tick (up to 10 decades). */
        for (int e = (int)ceil(log10(lo) - 1e-9); span <= 10 && pow(10, e) <= hi * (1 + 1e-9); e++) {
            bool found = false;
            for (int i = 0; i < n; i++) found |= fabs(t[i] / pow(10, e) - 1) < 1e-9;
            if (!found) printf("    10^%d missing from the ticks of [%g, %g]\n", e, lo, hi);
            CHECK(found);
        }
    }
    double t[8];
    CHECK(nn_axis_ticks(0, 1, 5, false, t, 8) == 6 && t[0] == 0 && fabs(t[5] - 1) < 1e-12);
    CHECK(nn_axis_ticks(-1, 1, 5, true, t, 8) == 0); /* no log axis through 0 */
}

/* A diagonal leaves two corners free: the legend goes in one and covers no data pixel. */
TEST(plot_legend_never_covers_data) {
    enum { N = 40 };
    double x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = i, y[i] = i;
    nn_series s = {"a rather long series name", x, y, N};
    const char *with = test_tmp_path("legend_auto.png"), *without = test_tmp_path("legend_none.png");
    CHECK(nn_plot_lines_png(with, &s, 1, &(nn_plot_opts){.title = "t"}, NULL) == 0);
    CHECK(nn_plot_lines_png(without, &s, 1, &(nn_plot_opts){.title = "t",
                                                            .legend = NN_LEGEND_NONE}, NULL) == 0);
    int w1, h1, w2, h2;
    unsigned char *a = load(with, &w1, &h1), *b = load(without, &w2, &h2);
    CHECK(a && b && w1 == w2 && h1 == h2); /* the legend went inside: same layout */
    if (a && b && w1 == w2 && h1 == h2) {
        long covered = 0, data = 0, differ = 0;
        for (long i = 0; i < (long)w1 * h1; i++) {
            if (is(b + 3 * i, nn_palette(0))) data++, covered += !is(a + 3 * i, nn_palette(0));
            differ += memcmp(a + 3 * i, b + 3 * i, 3) != 0;
        }
        CHECK(data > 500 && covered == 0 && differ > 100);
    }
    free(a), free(b);

    /* Waves through every corner: the legend goes outside, as NN_LEGEND_OUTSIDE puts it. */
    static double wy[4][200], wx[200];
    nn_series ws[4];
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < 200; i++) wx[i] = i, wy[k][i] = sin(2 * M_PI * (i / 40.0 + k / 4.0));
        ws[k] = (nn_series){"wave", wx, wy[k], 200};
    }
    with = test_tmp_path("waves_auto.png"), without = test_tmp_path("waves_outside.png");
    CHECK(nn_plot_lines_png(with, ws, 4, NULL, NULL) == 0);
    CHECK(nn_plot_lines_png(without, ws, 4, &(nn_plot_opts){.legend = NN_LEGEND_OUTSIDE}, NULL) == 0);
    a = load(with, &w1, &h1), b = load(without, &w2, &h2);
    CHECK(a && b && w1 == w2 && h1 == h2 && memcmp(a, b, (size_t)w1 * h1 * 3) == 0);
    free(a), free(b);
}

/* A reference line is grey and dashed (about 7 of every 12 pixels drawn) and takes no
 * palette colour: the data series keeps the first. */
TEST(plot_reference_line_is_dashed_grey) {
    static const double d[2] = {0, 1}, fx[5] = {0, 0.1, 0.3, 0.6, 1}, fy[5] = {0, 0.6, 0.85, 0.95, 1};
    nn_series s[2] = {{"roc", fx, fy, 5}, {"chance", d, d, 2}};
    const char *ref = test_tmp_path("ref.png"), *solid = test_tmp_path("solid.png");
    CHECK(nn_plot_lines_png(ref, s, 2, &(nn_plot_opts){.legend = NN_LEGEND_NONE,
                                                       .styles = (int[]){0, NN_LINE_REFERENCE}},
                            NULL) == 0);
    CHECK(nn_plot_lines_png(solid, s, 2, &(nn_plot_opts){.legend = NN_LEGEND_NONE}, NULL) == 0);
    int w, h, w2, h2;
    unsigned char *a = load(ref, &w, &h), *b = load(solid, &w2, &h2);
    CHECK(a && b);
    if (a && b) {
        long grey = count(a, w, h, (nn_rgb){120, 120, 120}), line = count(b, w2, h2, nn_palette(1));
        CHECK(count(a, w, h, nn_palette(1)) == 0 && count(a, w, h, nn_palette(0)) > 100);
        CHECK(line > 300 && grey > 0.4 * line && grey < 0.8 * line);
    }
    free(a), free(b);
    EXPECT_ERROR(nn_plot_lines_png(ref, s, 2, &(nn_plot_opts){.styles = (int[]){0, 7}}, NULL));
}

/* Bars grow from 0 in proportion to their values. */
TEST(plot_bars_heights_follow_values) {
    const char *p = test_tmp_path("bars.png");
    CHECK(nn_plot_bars_png(p, (const char *[]){"a", "b", "c"}, (double[]){1, 2, 0.5}, 3,
                           &(nn_plot_opts){.title = "bars"}, NULL) == 0);
    int w, h;
    unsigned char *a = load(p, &w, &h);
    CHECK(a != NULL);
    if (!a) return;
    int heights[8], nb = 0, prev = 0;
    for (int x = 0; x < w; x++) { /* each bar: a run of columns holding the bar colour */
        int n = 0;
        for (int y = 0; y < h; y++) n += is(a + 3 * ((size_t)y * w + x), nn_palette(0));
        if (n > 0 && prev == 0 && nb < 8) heights[nb++] = n;
        prev = n;
    }
    CHECK(nb == 3);
    if (nb == 3) {
        CHECK_NEAR((double)heights[1] / heights[0], 2, 0.03);
        CHECK_NEAR((double)heights[2] / heights[0], 0.5, 0.03);
    }
    free(a);
    EXPECT_ERROR(nn_plot_bars_png(p, NULL, (double[]){1}, 0, NULL, NULL));
}

/* Row labels of an image grid are at least 10 pixels tall, left of the grid, one per row
 * and spaced as the rows are. */
TEST(plot_grid_row_labels_are_tall_and_beside_their_rows) {
    enum { N = 12, S = 8 };
    ag_real x[N * S * S];
    for (int i = 0; i < N * S * S; i++) x[i] = (ag_real)(i % 7) / 7;
    const char *p = test_tmp_path("grid_axes.png");
    CHECK(nn_plot_grid_png(p, x, N, 1, S, S, &(nn_grid_opts){.cols = 4, .scale = 4},
                           &(nn_grid_axes){.row_labels = (const char *[]){"z1", "z2", "z3"},
                                           .col_values = (double[]){-1, 0, 1, 2},
                                           .xlabel = "z"}, NULL) == 0);
    int w, h;
    unsigned char *a = load(p, &w, &h);
    CHECK(a != NULL);
    if (!a) return;
    /* Ink in the margin left of the grid (the first column of the grid is white padding). */
    int grid_left = 0;
    for (int xx = 0; xx < w && !grid_left; xx++)
        for (int y = 0; y < h; y++) {
            const unsigned char *q = a + 3 * ((size_t)y * w + xx);
            if (q[0] < 200 && !is(q, (nn_rgb){30, 30, 30}) && xx > 10) grid_left = xx;
        }
    int starts[8], ends[8], runs = 0, gap = 99;
    for (int y = 0; y < h; y++) {
        bool any = false;
        for (int xx = 0; xx < grid_left - 2; xx++) any |= is(a + 3 * ((size_t)y * w + xx), (nn_rgb){30, 30, 30});
        if (any && gap > 4 && runs < 8) starts[runs] = y, ends[runs++] = y;
        if (any) ends[runs - 1] = y, gap = 0;
        else gap++;
    }
    CHECK(runs == 3);
    if (runs == 3) {
        for (int r = 0; r < 3; r++) CHECK(ends[r] - starts[r] + 1 >= 10);
        int row_pitch = S * 4 + 2; /* tile + padding */
        CHECK(abs((starts[1] - starts[0]) - row_pitch) <= 1 && abs((starts[2] - starts[1]) - row_pitch) <= 1);
    }
    free(a);
}
