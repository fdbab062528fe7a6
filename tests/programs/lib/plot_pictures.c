/* plot_pictures.c — one picture per plot fault the run pages brought up, drawn the way the
 * programs draw them but from made-up data (no training), so a person can look at the fix:
 *
 *   roc.png         ROC curves per held-out digit: the legend sits in the free corner, the
 *                   chance line is a dashed grey reference, not a data series
 *   curves_bz.png   training curves with a dashed exact value: the legend in a free corner
 *   legend_out.png  curves through every corner: the legend goes outside the plot
 *   log_axis.png    loss and error on a log axis over 2.5 decades: a tick in every decade
 *                   and in the bottom quarter, where the test error lives
 *   manifold.png    a 20 x 20 grid of tiles with z1 and z2 axes at Gaussian quantiles
 *   traverse.png    a latent traversal with 16-pixel row labels left of their rows and the
 *                   z values along x
 *   kl_bars.png     KL per latent dimension as bars on a log axis, a dashed threshold
 *
 *   plot_pictures OUT_DIR
 */
#include "nn/image.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* The standard normal quantile by bisection on erfc (slow, exact enough for axes). */
static double normal_quantile(double p) {
    double lo = -10, hi = 10;
    for (int i = 0; i < 100; i++) {
        double mid = 0.5 * (lo + hi);
        if (0.5 * erfc(-mid / sqrt(2)) < p) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
}

static int fail(const nn_error *err) {
    fprintf(stderr, "plot_pictures: %s\n", err->msg);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: plot_pictures OUT_DIR\n");
        return 2;
    }
    const char *out = argv[1];
    mkdir(out, 0755);
    char path[1024];
    nn_error err;

    /* ROC per digit: TPR = FPR^(1/k), steep for easy digits. */
    enum { R = 50 };
    static double fpr[R], tpr[9][R];
    static char names[9][32];
    nn_series s[10];
    int styles[10] = {0};
    for (int i = 0; i < R; i++) fpr[i] = (double)i / (R - 1);
    for (int d = 0; d < 9; d++) {
        double k = 1.5 + 1.2 * d, auc = k / (k + 1);
        for (int i = 0; i < R; i++) tpr[d][i] = pow(fpr[i], 1 / k);
        snprintf(names[d], sizeof names[d], "digit %d  %.3f", d, auc);
        s[d] = (nn_series){names[d], fpr, tpr[d], R};
    }
    static const double diag[2] = {0, 1};
    s[9] = (nn_series){"chance", diag, diag, 2};
    styles[9] = NN_LINE_REFERENCE;
    snprintf(path, sizeof path, "%s/roc.png", out);
    if (nn_plot_lines_png(path, s, 10, &(nn_plot_opts){.title = "ROC, held-out digit vs the rest",
                                                       .xlabel = "false positive rate",
                                                       .ylabel = "true positive rate",
                                                       .width = 640, .height = 560,
                                                       .styles = styles}, &err))
        return fail(&err);

    /* Curves in every corner (the Boltzmann sampler's training): the legend goes outside. */
    enum { T = 120 };
    static double step[T], lb[T], lz[T], exact[T];
    for (int i = 0; i < T; i++) {
        step[i] = 100.0 * (i + 1);
        lb[i] = 40 - 30 * exp(-i / 12.0);
        lz[i] = 41 + 3 * sin(i * 0.7) * exp(-i / 40.0) - 30 * exp(-i / 6.0) + 2 * ((i * 7919) % 13) / 13.0;
        exact[i] = 41.5;
    }
    nn_series bz[3] = {{"E[log w] (lower bound)", step, lb, T},
                       {"batch log Z estimate", step, lz, T},
                       {"exact log Z", step, exact, T}};
    snprintf(path, sizeof path, "%s/curves_bz.png", out);
    if (nn_plot_lines_png(path, bz, 3, &(nn_plot_opts){.title = "Ising 8x8: training",
                                                       .xlabel = "step", .ylabel = "nats",
                                                       .styles = (int[]){0, 0, NN_LINE_REFERENCE}},
                          &err))
        return fail(&err);

    /* Waves through all four corners: no free corner, so the legend goes outside. */
    static double wave[4][T];
    nn_series wv[4];
    static const char *wn[4] = {"phase 0", "phase 1/4", "phase 1/2", "phase 3/4"};
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < T; i++) wave[k][i] = sin(2 * M_PI * (i / 30.0 + k / 4.0));
        wv[k] = (nn_series){wn[k], step, wave[k], T};
    }
    snprintf(path, sizeof path, "%s/legend_out.png", out);
    if (nn_plot_lines_png(path, wv, 4, &(nn_plot_opts){.title = "no free corner",
                                                       .xlabel = "step"}, &err))
        return fail(&err);

    /* Classify's curves: losses and error rates over 2.5 decades, log axis. */
    enum { E = 20 };
    static double tl[E], vl[E], te[E], ve[E];
    for (int e = 0; e < E; e++) {
        tl[e] = 0.9 * exp(-e / 3.0) + 0.008, vl[e] = 0.8 * exp(-e / 3.5) + 0.04;
        te[e] = 0.25 * exp(-e / 3.0) + 0.002, ve[e] = 0.2 * exp(-e / 4.0) + 0.011;
    }
    nn_series cl[4] = {{"train loss", NULL, tl, E}, {"test loss", NULL, vl, E},
                       {"train error", NULL, te, E}, {"test error", NULL, ve, E}};
    snprintf(path, sizeof path, "%s/log_axis.png", out);
    if (nn_plot_lines_png(path, cl, 4, &(nn_plot_opts){.title = "classify: loss and error",
                                                       .xlabel = "epoch", .log_y = true},
                          &err))
        return fail(&err);

    /* The manifold: tiles whose blob moves with z1 and grows with z2. */
    enum { K = 20, P = 28 };
    static ag_real tiles[K * K * P * P];
    double zx[K], zy[K];
    for (int j = 0; j < K; j++) zx[j] = normal_quantile((j + 0.5) / K);
    for (int i = 0; i < K; i++) zy[i] = normal_quantile(1 - (i + 0.5) / K);
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++)
            for (int y = 0; y < P; y++)
                for (int x = 0; x < P; x++) {
                    double cx = 14 + 4 * zx[j], r = 4 + 1.2 * (zy[i] + 2);
                    double d2 = (x - cx) * (x - cx) + (y - 14.0) * (y - 14.0);
                    tiles[((i * K + j) * P + y) * P + x] = (ag_real)exp(-d2 / (2 * r * r / 4));
                }
    snprintf(path, sizeof path, "%s/manifold.png", out);
    if (nn_plot_grid_png(path, tiles, K * K, 1, P, P, &(nn_grid_opts){.cols = K, .pad = -1},
                         &(nn_grid_axes){.title = "decoder over z", .xlabel = "z1",
                                         .ylabel = "z2", .col_values = zx, .row_values = zy},
                         &err))
        return fail(&err);

    /* A traversal: 6 rows (dimensions), 11 columns z_j = -3 .. 3. */
    enum { ROWS = 6, COLS = 11 };
    double zs[COLS];
    const char *rowl[ROWS] = {"z3", "z0", "z12", "z7", "z1", "z19"};
    for (int q = 0; q < COLS; q++) zs[q] = -3 + 6.0 * q / (COLS - 1);
    for (int r = 0; r < ROWS; r++)
        for (int q = 0; q < COLS; q++)
            for (int y = 0; y < P; y++)
                for (int x = 0; x < P; x++) {
                    double cx = 14 + (r % 2 ? 3 * zs[q] : 0), cy = 14 + (r % 2 ? 0 : 3 * zs[q]);
                    double d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
                    tiles[((r * COLS + q) * P + y) * P + x] = (ag_real)exp(-d2 / 18);
                }
    snprintf(path, sizeof path, "%s/traverse.png", out);
    if (nn_plot_grid_png(path, tiles, ROWS * COLS, 1, P, P,
                         &(nn_grid_opts){.cols = COLS, .scale = 2},
                         &(nn_grid_axes){.title = "latent traversal", .xlabel = "z_j",
                                         .col_values = zs, .row_labels = rowl}, &err))
        return fail(&err);

    /* KL per dimension: a few informative dimensions, the rest collapsed. */
    double kl[20];
    for (int j = 0; j < 20; j++) kl[j] = j < 6 ? 3.2 / (1 + j) : 0.0004 * (1 + j % 3);
    snprintf(path, sizeof path, "%s/kl_bars.png", out);
    if (nn_plot_bars_png(path, NULL, kl, 20, &(nn_plot_opts){.title = "KL per latent dimension",
                                                             .xlabel = "dimension",
                                                             .ylabel = "nats", .log_y = true,
                                                             .ref_name = "0.01 nats",
                                                             .ref_y = 0.01}, &err))
        return fail(&err);
    printf("%s: roc.png curves_bz.png legend_out.png log_axis.png manifold.png traverse.png kl_bars.png\n", out);
    return 0;
}
