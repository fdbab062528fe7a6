/* report.h — every run as a web page: OUT/index.html, written from what the run folder holds,
 * self-contained (inline CSS and SVG, no script, nothing fetched) so that it opens from
 * file:// on any machine; and a compare page that overlays several runs.
 *
 * A run folder holds, all optional:
 *   log.csv      a header row of column names, then one row of numbers per epoch or step
 *                (nn_csv); the page draws one chart per group of columns (train_x with test_x,
 *                *_loss together, d_* together, every other column alone).  A falling first
 *                column (a new run of gan2d's `run`, `iter`) starts a new line segment.
 *   *.png        pictures, each shown with its caption.
 *   run.json     what the run is (report_write_run_json):
 *                  { "program": "vae",
 *                    "command": "build/vae --epochs 10 --out out",
 *                    "status":  "running",        -- or "done", "stopped", "failed"
 *                    "settings": { "lr": "0.001", ... },   -- the checkpoint's key=value text
 *                    "captions": { "samples.png": "64 samples from the prior", ... } }
 *   result.json  the figures of the program's `result:` line (report_write_result_json):
 *                  { "test_neg_elbo": 98.21, "active_units": 11, "kl_dims": [0.01, 2.9, ...] }
 *                a value is a number, a string, or a list of numbers (drawn as a bar chart).
 *   eval.json    the same shape, for --eval's measurements (report_write_figures_json).
 * While run.json says "running" the page reloads itself every few seconds (a meta refresh);
 * the last write (status "done") drops the refresh.
 *
 * Every file is written atomically (a temporary file in the same folder, then rename), so a
 * browser reloading mid-write sees the old page or the new one, never half of one.
 *
 *   report_write_run_json(out, &(report_run){ .program = "vae", .argc = argc, .argv = argv,
 *                         .settings = meta.text, .status = "running" }, &err);
 *   report_write_page(out, NULL, &err);                 // after each epoch
 *   report_write_result_json(out, keys, values, n, &err);
 *   ... run.json again with .status = "done", then report_write_page once more.
 */
#ifndef HENBUN_EXAMPLES_REPORT_H
#define HENBUN_EXAMPLES_REPORT_H

#include "nn/error.h"

/* What run.json records.  Every field may be NULL / 0. */
typedef struct report_run {
    const char *program;           /* "vae" */
    int argc;                      /* the command line, as given (shell-quoted in the file) */
    char *const *argv;
    const char *settings;          /* "key=value\n" lines: the checkpoint's settings text */
    const char *status;            /* "running" (the page reloads itself), "done", ... */
    int n_captions;                /* captions[i] describes the picture files[i] */
    const char *const *caption_files;
    const char *const *captions;
} report_run;

/* Writes DIR/run.json.  0, or -1 with err naming the file. */
int report_write_run_json(const char *dir, const report_run *r, nn_error *err);

/* Writes DIR/NAME (a JSON object) from n key=value pairs as the `result:` line prints them:
 * a value that reads as a number is written as one, a comma- or space-separated list of
 * numbers as a list ("0.1,2.5,0.02"), anything else as a string. */
int report_write_figures_json(const char *dir, const char *name, const char *const *keys,
                              const char *const *values, int n, nn_error *err);
/* report_write_figures_json(dir, "result.json", ...). */
int report_write_result_json(const char *dir, const char *const *keys,
                             const char *const *values, int n, nn_error *err);

typedef struct report_opts {
    int refresh;        /* seconds between reloads while the run is running; 0: 10 */
} report_opts;

/* Reads DIR (log.csv, *.png, run.json, result.json, eval.json) and writes DIR/index.html.
 * o may be NULL.  A malformed file is an error naming it (and the line, or the byte
 * offset of the JSON); a missing one only leaves its section out. */
int report_write_page(const char *dir, const report_opts *o, nn_error *err);

/* One page comparing n run folders: a table of the runs, their result figures side by side,
 * the settings that differ highlighted, each log column's curves overlaid (one line per
 * run), and the pictures of the same name side by side.  Image links are relative to the
 * page's folder. */
int report_write_compare(const char *page, const char *const *dirs, int n, nn_error *err);

#endif
