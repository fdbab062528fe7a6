/* progress.h — telling a person how training goes: a progress bar for an epoch, and a CSV
 * log with one row per epoch.
 *
 * Example (compiled by make test: tests/programs/header_examples.sh):
 *   nn_progress *bar = nn_progress_new(&(nn_progress_opts){ .n_values = 2,
 *                                      .names = { "loss", "kl" } });
 *   for (int epoch = 0; epoch < 10; epoch++) {
 *       nn_progress_begin(bar, "epoch 3/10", nn_batcher_num_examples(it));
 *       while (nn_batcher_next(it, t, &b)) {
 *           ...
 *           nn_progress_step(bar, b.size, (double[]){ loss, kl });
 *       }
 *       nn_progress_end(bar);        // erases the bar; the caller prints its own line
 *       printf("epoch %d loss %.2f\n", epoch + 1, nn_progress_mean(bar, 0));
 *   }
 *   nn_progress_free(bar);
 *
 * On a terminal the bar is one line redrawn in place (at most 10 times a second) with the
 * examples done, the rate, the time left and the running means of the named values.  When
 * the output is not a terminal (a log file, a pipe, CI) nothing is printed per step: the
 * library prints at most one line per epoch, and only if asked (opts.summary).
 */
#ifndef HENBUN_NN_PROGRESS_H
#define HENBUN_NN_PROGRESS_H

#include "nn/error.h"

#include <stdbool.h>
#include <stdio.h>

HENBUN_BEGIN_DECLS

#define NN_PROGRESS_MAX_VALUES 8

typedef enum nn_progress_mode {
    NN_PROGRESS_AUTO = 0,   /* a bar if out is a terminal (isatty), else plain */
    NN_PROGRESS_TERMINAL,   /* always redraw a bar */
    NN_PROGRESS_PLAIN       /* never draw a bar */
} nn_progress_mode;

typedef struct nn_progress_opts {
    FILE *out;                  /* NULL: stderr */
    nn_progress_mode mode;
    bool summary;               /* at nn_progress_end print one line for the epoch */
    int n_values;               /* named values whose running means are shown */
    const char *names[NN_PROGRESS_MAX_VALUES]; /* copied (up to 15 characters each) */
} nn_progress_opts;

typedef struct nn_progress nn_progress;

/* A progress reporter (one per training run, reused for each epoch); o may be NULL. */
nn_progress *nn_progress_new(const nn_progress_opts *o);
void nn_progress_free(nn_progress *p); /* NULL is fine */
/* Starts an epoch of `total` examples; label (copied, up to 31 characters) starts the line. */
void nn_progress_begin(nn_progress *p, const char *label, long total);
/* Records a step of n examples with its n_values values (each the step's mean; NULL if
 * n_values is 0) and redraws the bar when due.  Means are weighted by n. */
void nn_progress_step(nn_progress *p, long n, const double *values);
/* Ends the epoch: erases the bar and, if opts.summary, prints
 * "<label> 60000 ex 4.9s 12245 ex/s loss 105.31 kl 25.20". */
void nn_progress_end(nn_progress *p);
/* Running mean of value i this epoch (weighted by examples), examples done, seconds since
 * nn_progress_begin. */
double nn_progress_mean(const nn_progress *p, int i);
long nn_progress_done(const nn_progress *p);
double nn_progress_seconds(const nn_progress *p);

/* ---------------------------------------------------------------------------------------
 * CSV log: a header of column names, then one row of numbers per call, flushed at once so
 * the file is readable while training runs.  Appends to an existing file whose header is
 * the same (a resumed run); writes the header only when the file is new or empty. */
typedef struct nn_csv nn_csv;

/* Opens (creates) path for appending.  Fails if the file exists with a different header.
 * Column names must not contain commas, quotes or newlines. */
nn_csv *nn_csv_open(const char *path, int n_cols, const char *const *names, nn_error *err);
/* Appends one row of n_cols values (%.9g) and flushes it. */
int nn_csv_row(nn_csv *c, const double *values, nn_error *err);
/* Closes the file; NULL is fine.  Returns 0, or -1 (and err) if the last flush failed. */
int nn_csv_close(nn_csv *c, nn_error *err);

HENBUN_END_DECLS

#endif
