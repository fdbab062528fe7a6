/* fake_run.c — a run folder made of tiny synthetic data, for the report tests: log.csv with
 * ROWS epochs of smooth made-up curves, a few small PNGs drawn with nn/image, run.json,
 * result.json (with a per-dimension list, drawn as bars) and eval.json, through the same
 * functions the training programs call.  Nothing here trains.
 *
 *   fake_run DIR ROWS SEED STATUS      e.g. fake_run build/t/run1 5 1 running
 *   fake_run --append DIR              one more row in DIR/log.csv (a new epoch)
 */
#include "examples/common/report.h"
#include "nn/image.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void row(FILE *f, int e, int seed) {
    double s = 1 + 0.1 * seed;
    fprintf(f, "%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.3f\n", e, 90 + 60 * s / (e + 1), 20 + 5 * s / (e + 1),
            95 + 55 * s / (e + 1), 22 + 4 * s / (e + 1), 0.5 * s * pow(0.6, e), 1.5 * e);
}

static int die(const char *msg) {
    fprintf(stderr, "fake_run: %s\n", msg);
    return 1;
}

int main(int argc, char **argv) {
    char path[1024];
    if (argc == 3 && !strcmp(argv[1], "--append")) {
        snprintf(path, sizeof path, "%s/log.csv", argv[2]);
        FILE *f = fopen(path, "r");
        if (!f) return die("no log.csv to append to");
        int rows = -1;
        for (int ch; (ch = fgetc(f)) != EOF;) rows += ch == '\n';
        fclose(f);
        if (!(f = fopen(path, "a"))) return die("cannot append");
        row(f, rows + 1, 1);
        fclose(f);
        return 0;
    }
    if (argc != 5) return die("usage: fake_run DIR ROWS SEED STATUS | fake_run --append DIR");
    const char *dir = argv[1], *status = argv[4];
    int rows = atoi(argv[2]), seed = atoi(argv[3]);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/log.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f) return die("cannot write log.csv");
    fprintf(f, "epoch,train_neg_elbo,train_kl,test_neg_elbo,test_kl,test_err,seconds\n");
    for (int e = 1; e <= rows; e++) row(f, e, seed);
    fclose(f);

    /* Pictures: a grid of 16 blobs, and a small line plot. */
    ag_real px[16 * 12 * 12];
    for (int k = 0; k < 16; k++)
        for (int i = 0; i < 12; i++)
            for (int j = 0; j < 12; j++)
                px[(k * 12 + i) * 12 + j] =
                    (ag_real)exp(-((i - 6.0) * (i - 6.0) + (j - 3.0 - (k + seed) % 6) * (j - 3.0 - (k + seed) % 6)) / 8);
    nn_error err;
    snprintf(path, sizeof path, "%s/samples.png", dir);
    if (nn_grid_png(path, px, 16, 1, 12, 12, &(nn_grid_opts){.cols = 4, .scale = 3}, &err))
        return die(err.msg);
    double y[8];
    for (int i = 0; i < 8; i++) y[i] = 1.0 / (i + 1 + seed);
    snprintf(path, sizeof path, "%s/curves.png", dir);
    if (nn_plot_lines_png(path, (nn_series[]){{"loss", NULL, y, 8}}, 1,
                          &(nn_plot_opts){.title = "made-up loss", .width = 320, .height = 220},
                          &err))
        return die(err.msg);
    snprintf(path, sizeof path, "%s/odd name #1.png", dir); /* a name a URL must escape */
    if (nn_grid_png(path, px, 4, 1, 12, 12, &(nn_grid_opts){.cols = 4, .scale = 2}, &err))
        return die(err.msg);

    char lr[32], settings[256];
    snprintf(lr, sizeof lr, "%g", 0.001 * seed);
    snprintf(settings, sizeof settings, "program=fake\nlatent=8\nlr=%s\nbatch=64\nseed=%d\n", lr, seed);
    char *args[] = {"build/fake", "--lr", lr, "--out", (char *)dir, "--note", "it's a test"};
    const char *files[] = {"samples.png"}, *caps[] = {"16 made-up samples <b>escaped</b>"};
    if (report_write_run_json(dir, &(report_run){.program = "fake", .argc = 7, .argv = args,
                                                 .settings = settings, .status = status,
                                                 .n_captions = 1, .caption_files = files,
                                                 .captions = caps}, &err))
        return die(err.msg);
    char elbo[32];
    snprintf(elbo, sizeof elbo, "%.2f", 95 + 55.0 * (1 + 0.1 * seed) / (rows + 1));
    const char *keys[] = {"test_neg_elbo", "active_units", "kl_dims", "note"};
    const char *vals[] = {elbo, "5", "2.5,1.9,0.8,0.3,0.004,0.002,0.001,0.0005", "made up"};
    if (report_write_result_json(dir, keys, vals, 4, &err)) return die(err.msg);
    const char *ekeys[] = {"mi", "tc", "kl_dims"};
    const char *evals[] = {"3.1", "0.4", "2.5 1.9 0.8 0.3 0.004 0.002 0.001 0.0005"};
    if (report_write_figures_json(dir, "eval.json", ekeys, evals, 3, &err)) return die(err.msg);
    return 0;
}
