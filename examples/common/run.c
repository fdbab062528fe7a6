/* run.c — see run.h.  _GNU_SOURCE is for glibc's feenableexcept (--fp-trap), and only
 * this file needs it. */
#define _GNU_SOURCE
#include "examples/common/run.h"
#include "examples/common/settings.h"

#include <errno.h>
#include <fenv.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- stopping ---------------------------------------------------------------------------- */

static volatile sig_atomic_t stop_signal;
/* The test hook (run.h): stop after this many steps of this process; 0 = never. */
static long stop_after_steps, steps_done;

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
    const char *hook = getenv("HENBUN_STOP_AFTER_STEPS");
    stop_after_steps = hook ? atol(hook) : 0;
}

bool run_step_done(void) {
    if (stop_after_steps > 0 && ++steps_done == stop_after_steps) raise(SIGINT);
    return stop_signal != 0;
}

bool run_stop_requested(void) { return stop_signal != 0; }

const char *run_stop_signal(void) {
    return stop_signal == SIGINT ? "SIGINT" : stop_signal == SIGTERM ? "SIGTERM" : NULL;
}

int run_stop_status(void) { return stop_signal ? 128 + stop_signal : 1; }

/* arg as the shell would need it: bare when it holds only safe characters, else in single
 * quotes (a quote inside becomes '\''). */
static void print_quoted(FILE *f, const char *arg) {
    bool plain = *arg != 0;
    for (const char *p = arg; *p && plain; p++)
        plain = strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./=:,+-@%",
                       *p) != NULL;
    if (plain) {
        fputs(arg, f);
        return;
    }
    fputc('\'', f);
    for (const char *p = arg; *p; p++)
        if (*p == '\'') fputs("'\\''", f);
        else fputc(*p, f);
    fputc('\'', f);
}

void run_print_resume(int argc, char **argv, const char *ckpt) {
    fputs("  resume with: ", stderr);
    print_quoted(stderr, argv[0]);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--resume")) { /* the old one; ours goes at the end */
            if (ckpt && i + 1 < argc) i++;
            continue;
        }
        if (!strncmp(argv[i], "--resume=", 9)) continue;
        fputc(' ', stderr);
        print_quoted(stderr, argv[i]);
    }
    fputs(" --resume", stderr);
    if (ckpt) {
        fputc(' ', stderr);
        print_quoted(stderr, ckpt);
    }
    fputc('\n', stderr);
}

/* ---- non-finite values ------------------------------------------------------------------- */

/* The message of run.h; loss and norm are printed when known (have_values). */
static void report(const char *prog, const nn_param_list *params, bool have_values,
                   double loss, double norm, const char *at, va_list ap) {
    const nn_param *bad = nn_params_first_nonfinite(params, true);
    const char *what = "the gradient of";
    if (!bad) bad = nn_params_first_nonfinite(params, false), what = "the parameter";
    fprintf(stderr, "%s: non-finite values at ", prog);
    vfprintf(stderr, at, ap);
    if (bad) fprintf(stderr, ": first in %s '%s'", what, bad->name);
    else if (have_values && !isfinite(loss)) fprintf(stderr, ": the loss");
    if (have_values) fprintf(stderr, " (loss %g, gradient norm %g)", loss, norm);
    fprintf(stderr, ".\n%s: stopped; the last checkpoint is left as it was (--fp-trap stops at "
                    "the first invalid operation)\n", prog);
}

bool run_check_finite(const char *prog, double loss, double grad_norm,
                      const nn_param_list *params, const char *at, ...) {
    if (isfinite(loss) && isfinite(grad_norm)) return true;
    va_list ap;
    va_start(ap, at);
    report(prog, params, true, loss, grad_norm, at, ap);
    va_end(ap);
    return false;
}

void run_report_nonfinite(const char *prog, const nn_param_list *params, const char *at, ...) {
    va_list ap;
    va_start(ap, at);
    report(prog, params, false, NAN, NAN, at, ap);
    va_end(ap);
}

int run_save_checkpoint(const char *prog, const char *path, const nn_param_list *tensors,
                        const nn_ckpt_meta *meta) {
    const nn_param *bad = nn_params_first_nonfinite(tensors, false);
    if (bad) {
        fprintf(stderr, "%s: '%s' holds a NaN or an inf: %s not saved, the one on disk is "
                        "left as it was\n", prog, bad->name, path);
        return -1;
    }
    nn_error err;
    if (nn_checkpoint_save(path, tensors, meta, &err)) {
        fprintf(stderr, "%s: %s\n", prog, err.msg);
        return -1;
    }
    return 0;
}

/* ---- --fp-trap --------------------------------------------------------------------------- */

static const char *trap_prog = "henbun"; /* set once, read by the handler */

/* write(2) of a string: the handler may call nothing that is not async-signal-safe. */
static void say(const char *s) {
    ssize_t r = write(STDERR_FILENO, s, strlen(s));
    (void)r;
}

static void on_fpe(int sig, siginfo_t *info, void *ctx) {
    (void)ctx;
    const char *what = "a floating-point exception";
    switch (info->si_code) {
    case FPE_FLTINV: what = "an invalid operation (a NaN made from numbers: 0/0, inf-inf, "
                            "sqrt or log of a negative)"; break;
    case FPE_FLTDIV: what = "a division by zero (or log 0)"; break;
    case FPE_FLTOVF: what = "an overflow (a result too large for the type)"; break;
    default: break;
    }
    char addr[2 + 16 + 1] = "0x";
    uintptr_t a = (uintptr_t)info->si_addr;
    for (int i = 0; i < 16; i++) addr[2 + i] = "0123456789abcdef"[(a >> (60 - 4 * i)) & 15];
    addr[18] = 0;
    say(trap_prog);
    say(": --fp-trap: ");
    say(what);
    say(" at instruction ");
    say(addr);
    say(".\n  To see the operation, run the same command under gdb (gdb --args ...; run; bt).\n");
    signal(sig, SIG_DFL); /* die of the signal, with a core file where enabled */
    raise(sig);
}

int run_fp_trap(const char *prog) {
#if defined(__GLIBC__) && defined(FE_INVALID) && defined(FE_DIVBYZERO) && defined(FE_OVERFLOW)
    trap_prog = prog;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fpe;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGFPE, &sa, NULL);
    const int except = FE_INVALID | FE_DIVBYZERO | FE_OVERFLOW;
    int failed = feenableexcept(except) == -1;
    /* The floating-point environment is per thread: OpenMP's threads, made already or not,
     * each enable the traps themselves (threads made later inherit them anyway). */
#pragma omp parallel reduction(| : failed)
    failed |= feenableexcept(except) == -1;
    if (!failed) return 0;
    fprintf(stderr, "%s: --fp-trap: this machine cannot trap floating-point exceptions\n", prog);
    return -1;
#else
    fprintf(stderr, "%s: --fp-trap needs glibc's feenableexcept, which this C library lacks\n",
            prog);
    return -1;
#endif
}

/* ---- exact resumption -------------------------------------------------------------------- */

/* Appends what fmt makes to text (size bytes in all); on overflow leaves text as it was. */
static int append(char *text, size_t size, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int append(char *text, size_t size, const char *fmt, ...) {
    size_t len = strlen(text);
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(text + len, size - len, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= size - len) {
        text[len] = 0;
        return -1;
    }
    return 0;
}

int run_text_put(char *text, size_t size, const char *key, const double *v, int n) {
    char line[64 + 32 * 16];
    if (n > 16 || strlen(key) > 63) return -1;
    int k = snprintf(line, sizeof line, "%s=", key);
    for (int i = 0; i < n; i++) /* %a: hexadecimal, exact for every double */
        k += snprintf(line + k, sizeof line - (size_t)k, i ? " %a" : "%a", v[i]);
    return append(text, size, "%s\n", line);
}

int run_text_get(const char *text, const char *key, double *v, int n) {
    const char *p = settings_value(text, key);
    double got[16];
    if (!p || n > 16) return -1;
    for (int i = 0; i < n; i++) {
        char *end;
        got[i] = strtod(p, &end);
        if (end == p) return -1;
        p = end;
    }
    memcpy(v, got, sizeof(double) * (size_t)n);
    return 0;
}

const char *run_settings_differ(const char *have, const char *want, char *buf, size_t n) {
    while (*want) {
        size_t h = strcspn(have, "\n"), w = strcspn(want, "\n");
        if (h != w || strncmp(have, want, w) != 0) {
            snprintf(buf, n, "%.*s in the checkpoint, %.*s here", (int)h, have, (int)w, want);
            return buf;
        }
        have += h + (have[h] == '\n');
        want += w + (want[w] == '\n');
    }
    return NULL;
}

int run_text_put_rng(char *text, size_t size, const char *key, const ag_rng *r) {
    return append(text, size, "%s=%016llx %016llx %016llx %016llx\n", key,
                  (unsigned long long)r->s[0], (unsigned long long)r->s[1],
                  (unsigned long long)r->s[2], (unsigned long long)r->s[3]);
}

int run_text_get_rng(const char *text, const char *key, ag_rng *r) {
    const char *p = settings_value(text, key);
    ag_rng got;
    if (!p) return -1;
    for (int i = 0; i < 4; i++) {
        char *end;
        got.s[i] = (uint64_t)strtoull(p, &end, 16);
        if (end == p) return -1;
        p = end;
    }
    *r = got;
    return 0;
}

/* Parses up to max comma-separated numbers of line into v; returns how many. */
static int parse_row(const char *line, double *v, int max) {
    int n = 0;
    for (const char *p = line; n < max;) {
        char *end;
        v[n] = strtod(p, &end);
        if (end == p) break;
        n++;
        if (*end != ',') break;
        p = end + 1;
    }
    return n;
}

int run_log_rewind(const char *path, int first, int k, const double *limit, nn_error *err) {
    FILE *in = fopen(path, "r");
    if (!in) return 0; /* no log yet: nothing to rewind */
    nn_atomic_file out;
    if (nn_atomic_begin(&out, path, err)) {
        fclose(in);
        return -1;
    }
    char line[4096];
    bool header = true;
    while (fgets(line, sizeof line, in)) {
        bool keep = header;
        header = false;
        double v[32];
        if (!keep && parse_row(line, v, 32) >= first + k) {
            keep = true; /* (v[first..]) <= limit, compared as tuples */
            for (int i = 0; i < k; i++) {
                if (v[first + i] < limit[i]) break;
                if (v[first + i] > limit[i]) {
                    keep = false;
                    break;
                }
            }
        }
        if (keep) fputs(line, out.f);
    }
    bool bad = ferror(in) != 0;
    fclose(in);
    bad |= ferror(out.f) != 0;
    return nn_atomic_end(&out, bad ? "a read or write error" : NULL, err);
}

/* ---- small things ------------------------------------------------------------------------ */

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

const char *run_dirname(char *buf, size_t n, const char *path) {
    snprintf(buf, n, "%s", path);
    char *slash = strrchr(buf, '/');
    if (!slash) snprintf(buf, n, ".");
    else *(slash == buf ? slash + 1 : slash) = 0; /* "/x.ckpt" -> "/" */
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

uint64_t run_seed(uint64_t seed, uint64_t a, uint64_t b) {
    return seed * 0x9E3779B97F4A7C15ULL ^ (a + 1) * 0xBF58476D1CE4E5B9ULL ^
           (b + 7) * 0x94D049BB133111EBULL;
}
