/* run.h — what every training program needs around its loop: Ctrl-C that finishes the
 * current step and saves instead of losing the run, a check for non-finite losses and
 * gradients, and helpers for output paths.  The signal flag is the examples' one piece of
 * global state (a signal handler can reach nothing else). */
#ifndef HENBUN_EXAMPLES_RUN_H
#define HENBUN_EXAMPLES_RUN_H

#include <stdbool.h>

#include "nn/nn.h"

/* Installs SIGINT/SIGTERM handlers that only set a flag; a second Ctrl-C kills at once. */
void run_catch_signals(void);
/* True once SIGINT or SIGTERM arrived: finish the step, save, exit. */
bool run_stop_requested(void);
/* Name of the signal that stopped the run ("SIGINT"), or NULL. */
const char *run_stop_signal(void);

/* Checks the loss and the global gradient norm (what nn_optim_step returns); only when
 * one is not finite are the gradients scanned, and it prints
 * "<prog>: non-finite <what> at epoch E step S: first in '<tensor>'" and returns false. */
bool run_check_finite(const char *prog, double loss, double grad_norm,
                      const nn_param_list *params, int epoch, long step);

/* Creates the directory (and parents) if needed; 0 or -1 with err. */
int run_mkdir(const char *dir, nn_error *err);
/* Writes "<dir>/<name>" into buf and returns it. */
const char *run_path(char *buf, size_t n, const char *dir, const char *name);
/* Wall-clock seconds since an arbitrary origin (monotonic). */
double run_seconds(void);
/* Sets the thread count if n > 0 and returns the count in use. */
int run_threads(int n);

#endif
