/* run.h — what every training program needs around its loop, so that a run can be stopped
 * and continued without losing or corrupting anything:
 *
 *   - Ctrl-C (SIGINT) or SIGTERM finishes the current step; the program then saves a
 *     checkpoint atomically, prints how to resume and exits with 128 + the signal number;
 *   - a non-finite loss or gradient stops the run with a message naming the step and the
 *     first tensor at fault, before anything is saved, and no checkpoint is ever written
 *     holding a NaN or an inf: the last good one stays as it was;
 *   - --fp-trap turns the first invalid operation, division by zero or overflow into a
 *     SIGFPE at the instruction that made it (a debugger then shows the operation);
 *   - a few helpers that make --resume exact: the log rewound to the checkpoint, running
 *     sums stored bit for bit in the checkpoint's text.
 *
 * The signal flag, the test hook's step counter and --fp-trap's program name are the
 * examples' only global state: a signal handler can reach nothing else.
 *
 * Test hook: with HENBUN_STOP_AFTER_STEPS=N in the environment, the N-th call of
 * run_step_done() raises SIGINT itself, so that a test can stop a run at an exact step
 * instead of racing a timer.  It is read once, by run_catch_signals(). */
#ifndef HENBUN_EXAMPLES_RUN_H
#define HENBUN_EXAMPLES_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "nn/nn.h"

/* ---- stopping ---------------------------------------------------------------------------- */

/* Installs SIGINT/SIGTERM handlers that only set a flag (a second signal kills at once),
 * and reads the test hook HENBUN_STOP_AFTER_STEPS. */
void run_catch_signals(void);
/* Call once after every training step (it is what a training loop's should_stop poll
 * should be): true once SIGINT or SIGTERM arrived.  Counts the steps for the test hook. */
bool run_step_done(void);
/* True once SIGINT or SIGTERM arrived (a query: counts nothing). */
bool run_stop_requested(void);
/* Name of the signal that stopped the run ("SIGINT"), or NULL. */
const char *run_stop_signal(void);
/* The exit status of a stopped run: 128 + the signal's number (130 for SIGINT), as a
 * shell reports a program the signal killed; 1 if no signal arrived. */
int run_stop_status(void);
/* Prints "  resume with: ARGV0 ARGS... --resume CKPT" to stderr: the command line as it
 * was given (shell-quoted where needed), any --resume it had replaced.  ckpt NULL: the
 * program's --resume is a flag without a value. */
void run_print_resume(int argc, char **argv, const char *ckpt);

/* ---- non-finite values ------------------------------------------------------------------- */

/* Checks the loss and the global gradient norm (what nn_optim_step returns).  When either
 * is not finite, prints
 *   "<prog>: non-finite values at <where>: first in the gradient of '<tensor>' ..."
 * where <where> is `at` formatted with the arguments that follow ("epoch %d step %ld"),
 * and returns false.  The gradients are scanned first, then the values, each in the list's
 * order (the optimizer has stepped already, so a NaN gradient is in its parameter too):
 * call it before zeroing the gradients. */
bool run_check_finite(const char *prog, double loss, double grad_norm,
                      const nn_param_list *params, const char *at, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
/* The same message for a step already known to be bad (loss and norm not at hand). */
void run_report_nonfinite(const char *prog, const nn_param_list *params, const char *at, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* nn_checkpoint_save, refusing (with a message, returning -1) when a tensor of the list
 * holds a NaN or an inf, so that the file on disk is always the last good state.  Other
 * failures print "<prog>: <err>" and return -1. */
int run_save_checkpoint(const char *prog, const char *path, const nn_param_list *tensors,
                        const nn_ckpt_meta *meta);

/* --fp-trap: from now on, in this thread and in OpenMP's threads, an invalid operation
 * (a NaN made from numbers), a division by zero or an overflow raises SIGFPE at the
 * instruction; the handler prints which exception and where, then the program dies (under
 * gdb: stop, then `bt`).  Call after run_threads.  Returns 0, or -1 after printing why
 * (glibc's feenableexcept is needed). */
int run_fp_trap(const char *prog);

/* ---- exact resumption -------------------------------------------------------------------- */

/* Appends the line "key=v1 v2 ...\n" (n <= 16 values) to text (size bytes in all), the
 * values in C99's hexadecimal notation, which reads back bit for bit: running sums stored
 * this way make a resumed epoch's means those of an uninterrupted one.  Returns 0, or -1
 * (text unchanged) if it does not fit. */
int run_text_put(char *text, size_t size, const char *key, const double *v, int n);
/* Reads n values of the line "key=..." (at the start of a line) of text into v.  0, or -1
 * (v unchanged) when the line is missing or short. */
int run_text_get(const char *text, const char *key, double *v, int n);
/* For a checkpoint whose text must start with the settings `want` (key=value lines):
 * NULL when it does, else buf holding the first line that differs, "lr=0.002 in the
 * checkpoint, lr=0.001 here". */
const char *run_settings_differ(const char *have, const char *want, char *buf, size_t n);
/* The same for a PRNG's state: "key=s0 s1 s2 s3\n" in hexadecimal. */
int run_text_put_rng(char *text, size_t size, const char *key, const ag_rng *r);
int run_text_get_rng(const char *text, const char *key, ag_rng *r);
/* Keeps the header of the CSV log at path and the rows whose columns first..first+k-1 are,
 * as a tuple, at most limit[0..k-1] (e.g. the epochs a checkpoint has seen), dropping the
 * rest: rows a run wrote after its last checkpoint, which the resumed run writes again.
 * Atomic (temporary file, rename); no file is fine.  Returns 0, or -1 with err. */
int run_log_rewind(const char *path, int first, int k, const double *limit, nn_error *err);

/* ---- small things ------------------------------------------------------------------------ */

/* Creates the directory (and parents) if needed; 0 or -1 with err. */
int run_mkdir(const char *dir, nn_error *err);
/* Writes "<dir>/<name>" into buf and returns it. */
const char *run_path(char *buf, size_t n, const char *dir, const char *name);
/* The directory part of path ("." when it has none) into buf, returned. */
const char *run_dirname(char *buf, size_t n, const char *path);
/* Wall-clock seconds since an arbitrary origin (monotonic). */
double run_seconds(void);
/* The seed of one random stream of a run: the run's seed, what the stream is for (a) and
 * its index (b, e.g. the epoch), mixed with odd 64-bit constants so that streams differ. */
uint64_t run_seed(uint64_t seed, uint64_t a, uint64_t b);
/* Sets the thread count if n > 0 and returns the count in use. */
int run_threads(int n);

#endif
