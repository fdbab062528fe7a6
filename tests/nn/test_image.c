/* test_image.c — pictures: grids read back with stb_image (size, tile pixels, padding,
 * captions), atomic writes leave no temporary file, the font, and the plots (the right
 * colours in the right places). */
#include "tests/test.h"
#include "nn/image.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <stb/stb_image.h> /* declarations only: libstb holds stbi_load */

typedef struct png { int w, h; unsigned char *rgb; } png;

static png load(const char *path) {
    png p = {0, 0, NULL};
    int c;
    p.rgb = stbi_load(path, &p.w, &p.h, &c, 3);
    CHECK(p.rgb != NULL);
    return p;
}

static bool px_is(const png *p, int x, int y, int r, int g, int b) {
    if (!p->rgb || x < 0 || y < 0 || x >= p->w || y >= p->h) return false;
    const unsigned char *q = p->rgb + 3 * ((size_t)y * p->w + x);
    return q[0] == r && q[1] == g && q[2] == b;
}

/* Pixels of exactly colour c, with the bounding box of where they are. */
static int find_color(const png *p, nn_rgb c, int *x0, int *y0, int *x1, int *y1) {
    int n = 0;
    *x0 = *y0 = 1 << 30, *x1 = *y1 = -1;
    for (int y = 0; y < p->h; y++)
        for (int x = 0; x < p->w; x++)
            if (px_is(p, x, y, c.r, c.g, c.b)) {
                n++;
                if (x < *x0) *x0 = x;
                if (y < *y0) *y0 = y;
                if (x > *x1) *x1 = x;
                if (y > *y1) *y1 = y;
            }
    return n;
}

static int count_temp_files(void) {
    DIR *d = opendir(test_tmpdir());
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++; /* nn_atomic_begin's "<path>.tmp.<pid>" */
    if (d) closedir(d);
    return n;
}

TEST(image_grid_png_pixels_and_layout) {
    /* 5 grey images of 3x4; image k pixel (i, j) = (10 k + 4 i + j) / 255. */
    ag_real x[5 * 12];
    for (int k = 0; k < 5; k++)
        for (int p = 0; p < 12; p++) x[k * 12 + p] = (ag_real)(10 * k + p) / 255;
    x[0] = (ag_real)-0.5; /* clamped to 0 */
    x[1] = (ag_real)7;    /* clamped to 1 */
    const char *path = test_tmp_path("grid.png");
    nn_error err = {{0}};
    int rc = nn_grid_png(path, x, 5, 1, 3, 4, &(nn_grid_opts){.cols = 3, .pad = 1, .scale = 2},
                         &err);
    CHECK(rc == 0);
    png p = load(path);
    /* width = pad + cols (4*2 + pad), height = pad + rows (3*2 + pad) */
    CHECK(p.w == 1 + 3 * 9 && p.h == 1 + 2 * 7);
    /* image 4 is tile (row 1, col 1): top-left at (1 + 9, 1 + 7); its pixel (2, 3) is
     * scaled to a 2x2 block at (10 + 6, 8 + 4). */
    int v = 10 * 4 + 4 * 2 + 3;
    CHECK(px_is(&p, 16, 12, v, v, v) && px_is(&p, 17, 13, v, v, v));
    CHECK(px_is(&p, 1, 1, 0, 0, 0) && px_is(&p, 3, 1, 255, 255, 255)); /* clamped */
    CHECK(px_is(&p, 0, 0, 255, 255, 255) && px_is(&p, 9, 5, 255, 255, 255)); /* padding */
    CHECK(px_is(&p, 20, 10, 255, 255, 255)); /* the sixth tile is empty */
    stbi_image_free(p.rgb);
    CHECK(count_temp_files() == 0);
}

TEST(image_tensor_grid_rgb_and_labels) {
    ag_tape *t = ag_tape_new(1);
    /* Two RGB images of 2x2: the first red, the second (0, 0.5, 1). */
    ag_tensor *x = ag_zeros(t, 4, (int[]){2, 3, 2, 2});
    for (int i = 0; i < 4; i++) {
        x->data[i] = 1;
        x->data[12 + 4 + i] = (ag_real)0.5, x->data[12 + 8 + i] = 1;
    }
    const char *path = test_tmp_path("rgb.png");
    CHECK(nn_tensor_grid_png(path, x, &(nn_grid_opts){.pad = -1}, NULL) == 0);
    png p = load(path);
    CHECK(p.w == 4 && p.h == 2);
    CHECK(px_is(&p, 1, 1, 255, 0, 0) && px_is(&p, 3, 0, 0, 128, 255));
    stbi_image_free(p.rgb);

    /* (N, D) rows tile as squares; labels add a caption strip with dark text in it. */
    ag_tensor *flat = ag_full(t, 2, (int[]){3, 64}, (ag_real)1);
    CHECK(nn_tensor_grid_png(path, flat, &(nn_grid_opts){.labels = (int[]){1, 7, 42},
                                                          .pad = 2}, NULL) == 0);
    p = load(path);
    int cap = nn_text_height(1) + 2;
    CHECK(p.w == 2 + 2 * 10 && p.h == 2 + 2 * (8 + cap + 2));
    int dark = 0; /* text pixels under the first tile */
    for (int y = 10; y < 10 + cap; y++)
        for (int xx = 2; xx < 10; xx++) dark += px_is(&p, xx, y, 30, 30, 30);
    CHECK(dark > 3);
    stbi_image_free(p.rgb);

    /* Originals | reconstructions: two grids side by side. */
    ag_tensor *a = ag_full(t, 2, (int[]){4, 16}, 0), *b = ag_full(t, 2, (int[]){4, 16}, 1);
    CHECK(nn_tensor_pair_png(path, a, b, NULL, NULL, &(nn_grid_opts){.scale = 4}, NULL) == 0);
    p = load(path);
    int x0, y0, x1, y1;
    CHECK(find_color(&p, (nn_rgb){0, 0, 0}, &x0, &y0, &x1, &y1) == 4 * 16 * 16);
    CHECK(x1 < p.w / 2); /* originals (black) on the left */
    stbi_image_free(p.rgb);

    EXPECT_ERROR(nn_tensor_grid_png(path, ag_zeros(t, 2, (int[]){2, 10}), NULL, NULL));
    EXPECT_ERROR(nn_tensor_grid_png(path, ag_zeros(t, 4, (int[]){2, 2, 3, 3}), NULL, NULL));
    EXPECT_ERROR(nn_tensor_pair_png(path, a, ag_zeros(t, 2, (int[]){3, 16}), NULL, NULL,
                                    NULL, NULL));
    ag_tape_free(t);
}

TEST(image_write_is_atomic_and_reports_errors) {
    nn_image *im = nn_image_new(3, 2, (nn_rgb){1, 2, 3});
    char path[600];
    snprintf(path, sizeof path, "%s/no-such-dir/x.png", test_tmpdir());
    nn_error err = {{0}};
    CHECK(nn_image_write_png(im, path, &err) == -1);
    CHECK(strstr(err.msg, path) != NULL);
    struct stat st;
    CHECK(stat(path, &st) != 0);
    /* Overwriting an existing picture replaces it whole and leaves no temporary file. */
    const char *ok = test_tmp_path("atomic.png");
    CHECK(nn_image_write_png(im, ok, &err) == 0);
    nn_image_set(im, 2, 1, (nn_rgb){200, 100, 50});
    CHECK(nn_image_write_png(im, ok, &err) == 0);
    png p = load(ok);
    CHECK(p.w == 3 && p.h == 2 && px_is(&p, 0, 0, 1, 2, 3) && px_is(&p, 2, 1, 200, 100, 50));
    stbi_image_free(p.rgb);
    CHECK(count_temp_files() == 0);
    nn_image_free(im);
}

TEST(image_font_and_primitives) {
    /* Every printable glyph but the space draws something; distinct glyphs differ. */
    nn_image *im = nn_image_new(6, 8, (nn_rgb){0, 0, 0});
    unsigned char seen[95][48];
    int empty = 0, dup = 0;
    for (int c = 32; c < 127; c++) {
        nn_image_fill_rect(im, 0, 0, 6, 8, (nn_rgb){0, 0, 0});
        char s[2] = {(char)c, 0};
        CHECK(nn_image_text(im, 0, 0, s, 1, (nn_rgb){255, 255, 255}) == 5);
        int on = 0;
        for (int i = 0; i < 48; i++) on += (seen[c - 32][i] = im->rgb[3 * i]) != 0;
        empty += on == 0;
        for (int d = 32; d < c; d++) dup += memcmp(seen[d - 32], seen[c - 32], 48) == 0;
    }
    CHECK(empty == 1 && dup == 0);
    CHECK(nn_text_width("abc", 2) == 34 && nn_text_height(2) == 16);
    nn_image_free(im);

    /* A diagonal line touches both ends; a disc of radius 3 fills its centre, not corners. */
    im = nn_image_new(20, 20, (nn_rgb){255, 255, 255});
    nn_image_line(im, 1, 2, 15, 9, 1, (nn_rgb){0, 0, 0});
    CHECK(im->rgb[3 * (2 * 20 + 1)] == 0 && im->rgb[3 * (9 * 20 + 15)] == 0);
    int on = 0;
    for (int i = 0; i < 400; i++) on += im->rgb[3 * i] == 0;
    CHECK(on == 15); /* one pixel per column of a shallow line */
    nn_image_disc(im, 10, 15, 3, (nn_rgb){0, 0, 255});
    CHECK(im->rgb[3 * (15 * 20 + 10) + 2] == 255 && im->rgb[3 * (15 * 20 + 10)] == 0);
    CHECK(im->rgb[3 * (12 * 20 + 7)] == 255); /* corner of the bounding box stays white */
    nn_image_line(im, -50, -50, 100, 100, 3, (nn_rgb){0, 0, 0}); /* clipped, no crash */
    nn_image_free(im);
    nn_rgb lo = nn_colormap(0), hi = nn_colormap(1), nan = nn_colormap(NAN);
    CHECK(lo.r == 68 && lo.b == 84 && hi.r == 253 && hi.g == 231 && nan.r == lo.r);
    CHECK(nn_palette(3).r != nn_palette(4).r && nn_palette(13).g == nn_palette(3).g);
}

TEST(image_line_plot) {
    double train[6] = {120, 110, 104, 101, 99, 98}, test[6] = {125, 115, 110, NAN, 106, 105};
    nn_series s[2] = {{"train", NULL, train, 6}, {"test", NULL, test, 6}};
    const char *path = test_tmp_path("lines.png");
    nn_error err = {{0}};
    CHECK(nn_plot_lines_png(path, s, 2, &(nn_plot_opts){.title = "-ELBO", .xlabel = "epoch",
                                                        .ylabel = "nats"}, &err) == 0);
    png p = load(path);
    CHECK(p.w == 640 && p.h == 440);
    int x0, y0, x1, y1, x2, y2, x3, y3;
    int n0 = find_color(&p, nn_palette(0), &x0, &y0, &x1, &y1);
    int n1 = find_color(&p, nn_palette(1), &x2, &y2, &x3, &y3);
    CHECK(n0 > 200 && n1 > 200);
    /* The curves span the plot: train (lower values) ends below test's start. */
    CHECK(x1 - x0 > 400 && y1 > y2);
    stbi_image_free(p.rgb);
    /* log y and explicit x work too; an all-NaN series draws empty axes. */
    double xs[3] = {0.5, 1, 4}, ys[3] = {1e-3, 1e-1, 10}, nan[2] = {NAN, NAN};
    nn_series l[2] = {{"loss", xs, ys, 3}, {"none", NULL, nan, 2}};
    CHECK(nn_plot_lines_png(path, l, 2, &(nn_plot_opts){.log_y = true, .width = 300,
                                                        .height = 200}, &err) == 0);
    p = load(path);
    CHECK(p.w == 300 && p.h == 200 && find_color(&p, nn_palette(0), &x0, &y0, &x1, &y1) > 50);
    stbi_image_free(p.rgb);
}

TEST(image_scatter_and_heatmap) {
    /* Label 0 at the left, label 1 at the right; generated points (no labels) in between. */
    ag_real xy[2 * 40], gen[2 * 5];
    int labels[40];
    for (int i = 0; i < 40; i++) {
        labels[i] = i % 2;
        xy[2 * i] = (ag_real)(labels[i] ? 10 + i % 3 : -10 - i % 3);
        xy[2 * i + 1] = (ag_real)(i % 5);
    }
    for (int i = 0; i < 5; i++) gen[2 * i] = 0, gen[2 * i + 1] = (ag_real)i;
    nn_points sets[2] = {{"real", xy, 40, labels}, {"generated", gen, 5, NULL}};
    const char *path = test_tmp_path("scatter.png");
    CHECK(nn_plot_scatter_png(path, sets, 2, &(nn_plot_opts){.title = "z"}, NULL) == 0);
    png p = load(path);
    int ax0, ay0, ax1, ay1, bx0, by0, bx1, by1, cx0, cy0, cx1, cy1;
    CHECK(find_color(&p, nn_palette(0), &ax0, &ay0, &ax1, &ay1) > 40);
    CHECK(find_color(&p, nn_palette(1), &bx0, &by0, &bx1, &by1) > 40);
    CHECK(find_color(&p, (nn_rgb){0, 0, 0}, &cx0, &cy0, &cx1, &cy1) > 10);
    CHECK(ax0 < bx0 && ax0 < cx0); /* label 0's points are the leftmost */
    stbi_image_free(p.rgb);

    /* 2x2 heat map, row 0 at the bottom: v = [[0, 1], [2, 3]]. */
    double v[4] = {0, 1, 2, 3};
    path = test_tmp_path("heat.png");
    CHECK(nn_plot_heatmap_png(path, v, 2, 2, &(nn_heatmap_opts){.title = "p(x, y)",
                              .x0 = -1, .x1 = 1, .y0 = -1, .y1 = 1, .cell = 30}, NULL) == 0);
    p = load(path);
    int c0x, c0y, c2x, c2y, c1x, c1y, dummy;
    CHECK(find_color(&p, nn_colormap(0), &c0x, &c0y, &dummy, &dummy) >= 900);
    CHECK(find_color(&p, nn_colormap(2.0 / 3), &c2x, &c2y, &dummy, &dummy) >= 900);
    CHECK(find_color(&p, nn_colormap(1.0 / 3), &c1x, &c1y, &dummy, &dummy) >= 900);
    CHECK(c0x < c1x);  /* v[0] left of v[1] on the bottom row */
    CHECK(c2y < c0y);  /* row 1 (v[2]) drawn above row 0 */
    stbi_image_free(p.rgb);
    EXPECT_ERROR(nn_plot_heatmap_png(path, v, 0, 2, NULL, NULL));
}
