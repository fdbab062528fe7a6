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
 * examples done, the rate, the time left in the epoch and, given opts.run_total, in the
 * whole run, and the running means of the named values.  When the output is not a terminal
 * (a log file, a pipe, CI) in AUTO mode, a plain line with the same figures is printed
 * every opts.plain_seconds (10 s by default), so the log of a long run shows life; a short
 * epoch prints none, and at its end one line only if asked (opts.summary).  PLAIN mode
 * prints no plain lines unless opts.plain_seconds asks for them.
 *
 * The figures are formatted one way everywhere: each value has a printf format and a scale
 * (opts.formats, opts.scales: "%.2f%%" and 100 show 0.9716 as 97.16%), and the caller's
 * own epoch line uses the same through nn_progress_format / nn_progress_values:
 *
 *   char a[32], all[256];
 *   printf("epoch %d %s  test acc %s\n", e, nn_progress_values(bar, all, sizeof all),
 *          nn_progress_format(bar, 1, test_acc, a, sizeof a));
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
    const char *formats[NN_PROGRESS_MAX_VALUES]; /* one double's printf format; NULL: "%.4g" */
    double scales[NN_PROGRESS_MAX_VALUES];       /* shown = value * scale; 0: 1 */
    long run_total;             /* examples in the whole run (all epochs): the ETA then also
                                 * covers the run; 0: the epoch's only */
    double plain_seconds;       /* not a terminal: a line every this many seconds; 0: 10 s
                                 * in AUTO mode, none in PLAIN (--quiet); negative: never */
} nn_progress_opts;

typedef struct nn_progress nn_progress;

/* A progress reporter (one per training run, reused for each epoch); o may be NULL. */
nn_progress *nn_progress_new(const nn_progress_opts *o);
void nn_progress_free(nn_progress *p); /* NULL is fine */
/* A resumed run: run_done examples of opts.run_total were done before this process (the
 * run's ETA counts only what is left). */
void nn_progress_resume(nn_progress *p, long run_done);
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
/* Seconds left in the whole run at the rate measured since the first nn_progress_begin
 * (evaluations between epochs included); -1 without opts.run_total or a rate yet. */
double nn_progress_run_eta(const nn_progress *p);
/* v formatted as value i is in the bar ("97.16%"), into buf; returns buf. */
const char *nn_progress_format(const nn_progress *p, int i, double v, char *buf, size_t n);
/* The running means as the bar shows them, "loss 105.3  acc 97.16%", into buf; buf. */
const char *nn_progress_values(const nn_progress *p, char *buf, size_t n);

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
