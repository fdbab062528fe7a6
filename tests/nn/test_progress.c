/* test_progress.c — the progress bar (silent when not a terminal except one optional line
 * per epoch, redrawn with \r on a terminal) and the CSV log (header once, rows appended,
 * a different header refused). */
#include "tests/test.h"
#include "nn/progress.h"

#include <stdlib.h>
#include <string.h>

/* The whole file as a string (caller frees). */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *s = calloc(1, 1 << 16);
    size_t n = fread(s, 1, (1 << 16) - 1, f);
    s[n] = 0;
    fclose(f);
    return s;
}

static int count_char(const char *s, char c) {
    int n = 0;
    for (; s && *s; s++) n += *s == c;
    return n;
}

/* Two epochs of 5 steps through a progress reporter writing to path. */
static char *run_epochs(const char *path, nn_progress_mode mode, bool summary) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    nn_progress *p = nn_progress_new(&(nn_progress_opts){.out = f, .mode = mode,
                                                        .summary = summary, .n_values = 2,
                                                        .names = {"loss", "kl"}});
    for (int epoch = 0; epoch < 2; epoch++) {
        nn_progress_begin(p, epoch ? "epoch 2/2" : "epoch 1/2", 50);
        for (int i = 0; i < 5; i++) nn_progress_step(p, 10, (double[]){100.0 + i, 2.0});
        CHECK(nn_progress_done(p) == 50);
        CHECK_NEAR(nn_progress_mean(p, 0), 102.0, 1e-12);
        nn_progress_end(p);
    }
    nn_progress_free(p);
    fclose(f);
    return slurp(path);
}

TEST(progress_plain_prints_at_most_one_line_per_epoch) {
    const char *path = test_tmp_path("plain.txt");
    char *s = run_epochs(path, NN_PROGRESS_PLAIN, false);
    CHECK(s && s[0] == 0); /* nothing at all: the caller prints its own line */
    free(s);
    s = run_epochs(path, NN_PROGRESS_PLAIN, true);
    CHECK(count_char(s, '\n') == 2 && count_char(s, '\r') == 0 && !strchr(s, '\033'));
    CHECK(s && strstr(s, "epoch 1/2 50 ex") && strstr(s, "loss 102") && strstr(s, "kl 2\n"));
    free(s);
    /* AUTO on a regular file is plain too. */
    s = run_epochs(path, NN_PROGRESS_AUTO, false);
    CHECK(s && s[0] == 0);
    free(s);
}

TEST(progress_terminal_redraws_and_erases) {
    const char *path = test_tmp_path("tty.txt");
    char *s = run_epochs(path, NN_PROGRESS_TERMINAL, false);
    CHECK(s && strstr(s, "\repoch 1/2 [") && strstr(s, "50/50") && strstr(s, "eta "));
    CHECK(s && strstr(s, "########################]")); /* the full bar at the end */
    CHECK(count_char(s, '\n') == 0);                    /* redrawn in place, then erased */
    size_t n = s ? strlen(s) : 0;
    CHECK(n >= 4 && strcmp(s + n - 4, "\r\033[K") == 0);
    free(s);
    s = run_epochs(path, NN_PROGRESS_TERMINAL, true);
    CHECK(count_char(s, '\n') == 2); /* the bar is replaced by the summary line */
    CHECK(s && strstr(s, "\r\033[Kepoch 2/2 50 ex"));
    free(s);
}

TEST(progress_means_are_weighted_by_examples) {
    FILE *f = fopen(test_tmp_path("w.txt"), "w");
    nn_progress *p = nn_progress_new(&(nn_progress_opts){.out = f, .n_values = 1,
                                                        .names = {"loss"}});
    nn_progress_begin(p, "e", 4);
    nn_progress_step(p, 1, (double[]){1});
    nn_progress_step(p, 3, (double[]){3});
    CHECK_NEAR(nn_progress_mean(p, 0), 2.5, 1e-12); /* (1*1 + 3*3) / 4 */
    CHECK(nn_progress_seconds(p) >= 0);
    EXPECT_ERROR(nn_progress_mean(p, 1));
    EXPECT_ERROR(nn_progress_step(p, 1, NULL));
    nn_progress_end(p);
    nn_progress_free(p);
    fclose(f);
    EXPECT_ERROR(nn_progress_new(&(nn_progress_opts){.n_values = 9}));
}

TEST(progress_csv_header_once_and_append) {
    const char *path = test_tmp_path("log.csv");
    const char *cols[3] = {"epoch", "train_loss", "test_loss"};
    nn_error err = {{0}};
    nn_csv *c = nn_csv_open(path, 3, cols, &err);
    CHECK(c != NULL);
    if (!c) return;
    CHECK(nn_csv_row(c, (double[]){1, 105.25, 107.5}, &err) == 0);
    char *s = slurp(path); /* flushed: readable before close */
    CHECK(s && strcmp(s, "epoch,train_loss,test_loss\n1,105.25,107.5\n") == 0);
    free(s);
    CHECK(nn_csv_close(c, &err) == 0);
    /* A resumed run appends without a second header. */
    c = nn_csv_open(path, 3, cols, &err);
    CHECK(c != NULL);
    CHECK(nn_csv_row(c, (double[]){2, 0.1, 1e-12}, &err) == 0);
    CHECK(nn_csv_close(c, &err) == 0);
    s = slurp(path);
    CHECK(s && strcmp(s, "epoch,train_loss,test_loss\n1,105.25,107.5\n2,0.1,1e-12\n") == 0);
    free(s);
    /* A different header is refused, naming the file. */
    const char *other[2] = {"epoch", "loss"};
    CHECK(nn_csv_open(path, 2, other, &err) == NULL);
    CHECK(strstr(err.msg, path) && strstr(err.msg, "differs"));
    /* An empty existing file gets the header. */
    const char *empty = test_tmp_path("empty.csv");
    fclose(fopen(empty, "w"));
    c = nn_csv_open(empty, 2, other, &err);
    CHECK(c && nn_csv_row(c, (double[]){1, 2}, &err) == 0 && nn_csv_close(c, &err) == 0);
    s = slurp(empty);
    CHECK(s && strcmp(s, "epoch,loss\n1,2\n") == 0);
    free(s);
    EXPECT_ERROR(nn_csv_open(path, 1, (const char *[]){"a,b"}, &err));
    char dir[600];
    snprintf(dir, sizeof dir, "%s/missing/log.csv", test_tmpdir());
    CHECK(nn_csv_open(dir, 2, other, &err) == NULL && strstr(err.msg, "missing/log.csv"));
}
