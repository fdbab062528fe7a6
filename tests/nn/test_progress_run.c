/* test_progress_run.c — the progress reporter over a whole run: the ETA covers every epoch
 * (and only what a resumed run has left), each value is formatted one way in the bar, the
 * plain lines and the caller's own line, and a plain line comes at a steady cadence when
 * the output is not a terminal. */
#include "tests/test.h"
#include "nn/progress.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static void sleep_ms(int ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static char *slurp_file(FILE *f) {
    fflush(f);
    long n = ftell(f);
    char *s = calloc(1, (size_t)n + 1);
    rewind(f);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) s[0] = 0;
    return s;
}

TEST(progress_eta_covers_the_whole_run) {
    FILE *f = tmpfile();
    nn_progress *p = nn_progress_new(&(nn_progress_opts){.out = f, .mode = NN_PROGRESS_PLAIN,
                                                        .run_total = 4 * 40});
    CHECK(nn_progress_run_eta(p) < 0); /* no rate yet */
    nn_progress_begin(p, "epoch 1/4", 40);
    for (int i = 0; i < 4; i++) sleep_ms(10), nn_progress_step(p, 10, NULL);
    nn_progress_end(p);
    nn_progress_begin(p, "epoch 2/4", 40);
    for (int i = 0; i < 2; i++) sleep_ms(10), nn_progress_step(p, 10, NULL);
    /* 60 of 160 examples in ~60 ms: ~100 ms left for the run, not ~20 ms for the epoch. */
    double eta = nn_progress_run_eta(p), per = nn_progress_seconds(p) / 20; /* s per example */
    CHECK(eta > 0.6 * 100 * per && eta < 2.5 * 100 * per);
    nn_progress_resume(p, 80); /* a resumed run: 80 examples were done before this process */
    double left = nn_progress_run_eta(p);
    CHECK(left >= 0 && left < 0.6 * eta);
    nn_progress_end(p);
    nn_progress_free(p);
    fclose(f);
    /* Without run_total there is no run ETA, and the bar shows the epoch's only. */
    p = nn_progress_new(NULL);
    nn_progress_begin(p, "e", 10);
    nn_progress_step(p, 5, NULL);
    CHECK(nn_progress_run_eta(p) == -1);
    nn_progress_free(p);
}

TEST(progress_values_formatted_one_way) {
    FILE *f = tmpfile();
    nn_progress *p = nn_progress_new(&(nn_progress_opts){
        .out = f, .mode = NN_PROGRESS_TERMINAL, .n_values = 2, .names = {"loss", "acc"},
        .formats = {NULL, "%.2f%%"}, .scales = {0, 100}, .run_total = 20});
    nn_progress_begin(p, "e1", 10); /* a short label: the bar is cut at 99 columns */
    nn_progress_step(p, 10, (double[]){0.25, 0.9716});
    char buf[64], all[128];
    CHECK(strcmp(nn_progress_format(p, 1, 0.9716, buf, sizeof buf), "97.16%") == 0);
    CHECK(strcmp(nn_progress_format(p, 0, 105.3125, buf, sizeof buf), "105.3") == 0);
    CHECK(strcmp(nn_progress_values(p, all, sizeof all), "loss 0.25  acc 97.16%") == 0);
    nn_progress_end(p);
    nn_progress_free(p);
    char *s = slurp_file(f);
    CHECK(s && strstr(s, "loss 0.25  acc 97.16%")); /* the bar: the same text */
    CHECK(s && strstr(s, ", run "));                  /* and the run's time left */
    free(s);
    fclose(f);
    EXPECT_ERROR(nn_progress_new(&(nn_progress_opts){.n_values = 1, .formats = {"%d"}}));
    EXPECT_ERROR(nn_progress_new(&(nn_progress_opts){.n_values = 1, .formats = {"%s"}}));
    EXPECT_ERROR(nn_progress_new(&(nn_progress_opts){.n_values = 1, .formats = {"%f %f"}}));
    EXPECT_ERROR(nn_progress_new(&(nn_progress_opts){.n_values = 1, .formats = {"no value"}}));
}

TEST(progress_plain_line_at_a_steady_cadence) {
    FILE *f = tmpfile();
    nn_progress *p = nn_progress_new(&(nn_progress_opts){
        .out = f, .mode = NN_PROGRESS_PLAIN, .n_values = 1, .names = {"loss"},
        .plain_seconds = 0.05, .run_total = 100});
    nn_progress_begin(p, "epoch 1/1", 100);
    for (int i = 0; i < 10; i++) sleep_ms(20), nn_progress_step(p, 10, (double[]){2.0});
    double took = nn_progress_seconds(p);
    nn_progress_end(p);
    nn_progress_free(p);
    char *s = slurp_file(f);
    int lines = 0;
    for (char *c = s; c && *c; c++) lines += *c == '\n';
    /* 200 ms of steps (more on a busy machine), a line every 50 ms at most: about 3 or 4
     * lines, each whole, no \r. */
    CHECK(lines >= 2 && lines <= took / 0.05 + 1);
    CHECK(s && !strchr(s, '\r') && strstr(s, "epoch 1/1 ") && strstr(s, "/100 (") &&
          strstr(s, "eta ") && strstr(s, "loss 2\n"));
    free(s);
    fclose(f);
    /* AUTO on a file (not a terminal) prints them too. */
    f = tmpfile();
    p = nn_progress_new(&(nn_progress_opts){.out = f, .plain_seconds = 0.01});
    nn_progress_begin(p, "auto", 10);
    nn_progress_step(p, 2, NULL);
    for (int i = 0; i < 4; i++) sleep_ms(15), nn_progress_step(p, 2, NULL);
    nn_progress_end(p);
    nn_progress_free(p);
    s = slurp_file(f);
    CHECK(s && strstr(s, "auto 4/10 (40%)"));
    free(s);
    fclose(f);
}
