/* run.c — see run.h. */
#include "examples/common/run.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) {
    if (stop_signal) {        /* second signal: the user means it */
        signal(sig, SIG_DFL);
        raise(sig);
    }
    stop_signal = sig;
}

void run_catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

bool run_stop_requested(void) { return stop_signal != 0; }

const char *run_stop_signal(void) {
    return stop_signal == SIGINT ? "SIGINT" : stop_signal == SIGTERM ? "SIGTERM" : NULL;
}

bool run_check_finite(const char *prog, double loss, double grad_norm,
                      const nn_param_list *params, int epoch, long step) {
    if (isfinite(loss) && isfinite(grad_norm)) return true;
    const nn_param *bad = NULL;
    const char *what = NULL;
    if (!isfinite(loss)) what = "loss";
    else if ((bad = nn_params_first_nonfinite(params, true))) what = "gradient";
    else if ((bad = nn_params_first_nonfinite(params, false))) what = "parameter";
    if (!what) return true;
    fprintf(stderr, "%s: non-finite %s at epoch %d step %ld", prog, what, epoch, step);
    if (bad) fprintf(stderr, ": first in '%s'", bad->name);
    fprintf(stderr, " (loss %g); stopping, the last checkpoint is intact\n", loss);
    return false;
}

int run_mkdir(const char *dir, nn_error *err) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1;; p++) {
        char c = *p;
        if (c == '/' || c == 0) {
            *p = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return nn_fail(err, "%s: cannot create directory: %s", buf, strerror(errno));
            *p = c;
        }
        if (!c) break;
    }
    return 0;
}

const char *run_path(char *buf, size_t n, const char *dir, const char *name) {
    snprintf(buf, n, "%s/%s", dir, name);
    return buf;
}

double run_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int run_threads(int n) {
    if (n > 0) ag_set_num_threads(n);
    return ag_num_threads();
}
