/* progress.c — the epoch progress bar (redrawn on a terminal, a plain line every few
 * seconds elsewhere) and the per-epoch CSV log.  See nn/progress.h.
 */
#include "nn/progress.h"
#include "autograd/autograd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

struct nn_progress {
    FILE *out;
    bool tty, summary;
    int n_values;
    char names[NN_PROGRESS_MAX_VALUES][16];
    char formats[NN_PROGRESS_MAX_VALUES][16];
    double scales[NN_PROGRESS_MAX_VALUES];
    char label[32];
    long total, done;
    long run_total, run_before;         /* the run's examples; done before this process */
    long run_done;                      /* done by this process in finished epochs */
    double run_start;                   /* the first nn_progress_begin; -1 before */
    double plain_every;                 /* seconds between plain lines; <= 0: none */
    double sum[NN_PROGRESS_MAX_VALUES]; /* sum over steps of value * examples */
    double start, last_draw;            /* seconds, monotonic clock */
    bool drawn;                         /* a bar is on the line and must be erased */
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

nn_progress *nn_progress_new(const nn_progress_opts *o) {
    static const nn_progress_opts defaults = {0};
    if (!o) o = &defaults;
    if (o->n_values < 0 || o->n_values > NN_PROGRESS_MAX_VALUES)
        ag_error("nn_progress_new", "n_values = %d (0 to %d)", o->n_values,
                 NN_PROGRESS_MAX_VALUES);
    /* The formats are checked before anything is allocated: ag_error may not return. */
    for (int i = 0; i < o->n_values; i++) {
        const char *f = o->formats[i] ? o->formats[i] : "%.4g";
        /* One conversion of a double (%f, %e or %g with flags, width, precision), plus %%. */
        int conversions = 0;
        for (const char *c = f; *c; c++) {
            if (*c != '%') continue;
            if (c[1] == '%') { c++; continue; }
            c += strspn(c + 1, "-+ #0123456789.") + 1;
            if (!*c || !strchr("fFeEgG", *c)) conversions = 99;
            conversions++;
        }
        if (conversions != 1 || strlen(f) >= sizeof ((nn_progress *)0)->formats[i])
            ag_error("nn_progress_new", "format \"%s\" of value %d: need one %%f, %%e or %%g "
                     "conversion, under 16 characters", f, i);
    }
    nn_progress *p = calloc(1, sizeof *p);
    if (!p) ag_error("nn_progress_new", "out of memory");
    p->out = o->out ? o->out : stderr;
    p->tty = o->mode == NN_PROGRESS_TERMINAL ||
             (o->mode == NN_PROGRESS_AUTO && isatty(fileno(p->out)));
    p->summary = o->summary;
    p->n_values = o->n_values;
    for (int i = 0; i < o->n_values; i++) {
        snprintf(p->names[i], sizeof p->names[i], "%s", o->names[i] ? o->names[i] : "?");
        snprintf(p->formats[i], sizeof p->formats[i], "%s",
                 o->formats[i] ? o->formats[i] : "%.4g");
        p->scales[i] = o->scales[i] != 0 ? o->scales[i] : 1;
    }
    p->run_total = o->run_total > 0 ? o->run_total : 0;
    p->run_start = -1;
    /* Plain lines by default only where a bar was wanted but cannot be drawn (AUTO on a
     * pipe or a file); PLAIN (a program's --quiet) stays quiet unless asked. */
    p->plain_every = o->plain_seconds < 0   ? 0
                     : o->plain_seconds > 0 ? o->plain_seconds
                     : o->mode == NN_PROGRESS_AUTO && !p->tty ? 10 : 0;
    return p;
}

void nn_progress_resume(nn_progress *p, long run_done) {
    if (!p) ag_error("nn_progress_resume", "progress is NULL");
    p->run_before = run_done > 0 ? run_done : 0;
}

void nn_progress_free(nn_progress *p) { free(p); }

void nn_progress_begin(nn_progress *p, const char *label, long total) {
    if (!p) ag_error("nn_progress_begin", "progress is NULL");
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    p->run_done += p->done; /* the previous epoch's examples */
    p->total = total > 0 ? total : 0;
    p->done = 0;
    memset(p->sum, 0, sizeof p->sum);
    p->start = now();
    if (p->run_start < 0) p->run_start = p->start;
    p->last_draw = -1;
    p->drawn = false;
}

double nn_progress_mean(const nn_progress *p, int i) {
    if (!p || i < 0 || i >= p->n_values)
        ag_error("nn_progress_mean", "value %d out of range [0, %d)", i, p ? p->n_values : 0);
    return p->done > 0 ? p->sum[i] / (double)p->done : 0;
}

long nn_progress_done(const nn_progress *p) { return p ? p->done : 0; }

double nn_progress_seconds(const nn_progress *p) { return p ? now() - p->start : 0; }

/* "1:05" or "1:02:03". */
static void clock_str(double s, char *buf, size_t n) {
    long t = s > 0 && s < 1e8 ? (long)(s + 0.5) : 0;
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

double nn_progress_run_eta(const nn_progress *p) {
    if (!p || !p->run_total || p->run_start < 0) return -1;
    long mine = p->run_done + p->done; /* examples this process has done */
    double t = now() - p->run_start;
    if (mine <= 0 || t <= 0) return -1;
    long left = p->run_total - p->run_before - mine;
    return left > 0 ? (double)left * t / (double)mine : 0;
}

const char *nn_progress_format(const nn_progress *p, int i, double v, char *buf, size_t n) {
    if (!p || i < 0 || i >= p->n_values || !buf || n == 0)
        ag_error("nn_progress_format", "value %d out of range [0, %d)", i, p ? p->n_values : 0);
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#endif
    snprintf(buf, n, p->formats[i], v * p->scales[i]); /* checked by nn_progress_new */
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
    return buf;
}

/* "loss 105.3  kl 25.2" appended to buf at k; returns the new length. */
static size_t values_str(const nn_progress *p, char *buf, size_t k, size_t n) {
    for (int i = 0; i < p->n_values && k < n; i++) {
        char v[64];
        nn_progress_format(p, i, nn_progress_mean(p, i), v, sizeof v);
        int w = snprintf(buf + k, n - k, "%s%s %s", i ? "  " : "", p->names[i], v);
        if (w < 0) break;
        k += (size_t)w;
    }
    return k < n ? k : n - 1;
}

const char *nn_progress_values(const nn_progress *p, char *buf, size_t n) {
    if (!p || !buf || n == 0) ag_error("nn_progress_values", "progress or buf is NULL");
    buf[0] = 0;
    values_str(p, buf, 0, n);
    return buf;
}

/* "eta 0:45" and, with a run total, ", run 12:30": the time left. */
static void eta_str(const nn_progress *p, double rate, char *buf, size_t n) {
    char e[24], r[24];
    clock_str(rate > 0 ? (double)(p->total - p->done) / rate : 0, e, sizeof e);
    double run = nn_progress_run_eta(p);
    if (run >= 0) {
        clock_str(run, r, sizeof r);
        snprintf(buf, n, "eta %s, run %s", e, r);
    } else {
        snprintf(buf, n, "eta %s", e);
    }
}

static int terminal_width(FILE *f) {
    struct winsize ws;
    if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
    return 100;
}

static void draw(nn_progress *p, double t) {
    char line[512], eta[64];
    double elapsed = t - p->start, rate = elapsed > 0 ? (double)p->done / elapsed : 0;
    enum { BAR = 24 };
    int fill = p->total > 0 ? (int)((double)BAR * (double)p->done / (double)p->total) : 0;
    if (fill > BAR) fill = BAR;
    char bar[BAR + 1];
    for (int i = 0; i < BAR; i++) bar[i] = i < fill ? '#' : '.';
    bar[BAR] = 0;
    eta_str(p, rate, eta, sizeof eta);
    int k = snprintf(line, sizeof line, "%s [%s] %ld/%ld  %.0f ex/s  %s  ", p->label, bar,
                     p->done, p->total, rate, eta);
    size_t len = values_str(p, line, k > 0 ? (size_t)k : 0, sizeof line);
    int width = terminal_width(p->out) - 1; /* never wrap: a wrapped line cannot be redrawn */
    if ((int)len > width) line[width] = 0;
    fprintf(p->out, "\r%s\033[K", line); /* \033[K erases what a longer line left behind */
    fflush(p->out);
    p->drawn = true;
    p->last_draw = t;
}

static void plain_line(nn_progress *p, double t) {
    char line[512], eta[64];
    double elapsed = t - p->start, rate = elapsed > 0 ? (double)p->done / elapsed : 0;
    eta_str(p, rate, eta, sizeof eta);
    int k = snprintf(line, sizeof line, "%s %ld/%ld (%.0f%%)  %.0f ex/s  %s  ", p->label,
                     p->done, p->total, p->total ? 100.0 * (double)p->done / (double)p->total : 0,
                     rate, eta);
    values_str(p, line, k > 0 ? (size_t)k : 0, sizeof line);
    fprintf(p->out, "%s\n", line);
    fflush(p->out);
    p->last_draw = t;
}

void nn_progress_step(nn_progress *p, long n, const double *values) {
    if (!p) ag_error("nn_progress_step", "progress is NULL");
    if (n < 0) ag_error("nn_progress_step", "n = %ld examples (must be >= 0)", n);
    if (p->n_values > 0 && !values) ag_error("nn_progress_step", "values is NULL");
    p->done += n;
    for (int i = 0; i < p->n_values; i++) p->sum[i] += values[i] * (double)n;
    double t = now();
    if (!p->tty) {
        /* A log file or a pipe: a plain line now and then, so a long run shows life. */
        if (p->plain_every > 0 && t - (p->last_draw < 0 ? p->start : p->last_draw) >= p->plain_every)
            plain_line(p, t);
        return;
    }
    if (p->last_draw < 0 || t - p->last_draw >= 0.1 || p->done >= p->total) draw(p, t);
}

void nn_progress_end(nn_progress *p) {
    if (!p) ag_error("nn_progress_end", "progress is NULL");
    if (p->drawn) fputs("\r\033[K", p->out);
    p->drawn = false;
    if (p->summary) {
        char line[512];
        double s = nn_progress_seconds(p);
        int k = snprintf(line, sizeof line, "%s %ld ex %.1fs %.0f ex/s  ", p->label, p->done, s,
                         s > 0 ? (double)p->done / s : 0);
        values_str(p, line, k > 0 ? (size_t)k : 0, sizeof line);
        fprintf(p->out, "%s\n", line);
    }
    fflush(p->out);
}

/* ---------------------------------------------------------------------------------------
 * CSV log */

struct nn_csv {
    FILE *f;
    int n_cols;
    char *path;
};

nn_csv *nn_csv_open(const char *path, int n_cols, const char *const *names, nn_error *err) {
    if (!path || !names || n_cols < 1)
        ag_error("nn_csv_open", "need a path and at least one column name");
    size_t hlen = 2;
    for (int i = 0; i < n_cols; i++) {
        if (!names[i] || strpbrk(names[i], ",\"\n\r"))
            ag_error("nn_csv_open", "column %d name %s%s%s is NULL or holds , \" or a newline",
                     i, names[i] ? "\"" : "", names[i] ? names[i] : "", names[i] ? "\"" : "");
        hlen += strlen(names[i]) + 1;
    }
    char *header = malloc(hlen), *line = malloc(hlen + 2);
    nn_csv *c = calloc(1, sizeof *c);
    if (!header || !line || !c) ag_error("nn_csv_open", "out of memory");
    size_t k = 0;
    for (int i = 0; i < n_cols; i++)
        k += (size_t)sprintf(header + k, "%s%s", i ? "," : "", names[i]);

    /* An existing, non-empty file must carry the same header (a resumed run). */
    FILE *r = fopen(path, "r");
    bool fresh = true;
    if (r) {
        if (fgets(line, (int)hlen + 2, r)) {
            fresh = false;
            line[strcspn(line, "\r\n")] = 0;
            if (strcmp(line, header) != 0) {
                nn_fail(err, "%s: the file's header \"%.200s\" differs from this run's "
                        "\"%.200s\"; move the old log away or choose another name",
                        path, line, header);
                fclose(r);
                goto fail;
            }
        }
        fclose(r);
    }
    c->f = fopen(path, "a");
    if (!c->f) {
        nn_fail(err, "%s: cannot open for appending: %s", path, strerror(errno));
        goto fail;
    }
    if (fresh && (fprintf(c->f, "%s\n", header) < 0 || fflush(c->f) != 0)) {
        nn_fail(err, "%s: cannot write: %s", path, strerror(errno));
        fclose(c->f);
        goto fail;
    }
    c->n_cols = n_cols;
    c->path = malloc(strlen(path) + 1);
    if (!c->path) ag_error("nn_csv_open", "out of memory");
    strcpy(c->path, path);
    free(header);
    free(line);
    return c;
fail:
    free(header);
    free(line);
    free(c);
    return NULL;
}

int nn_csv_row(nn_csv *c, const double *values, nn_error *err) {
    if (!c || !values) ag_error("nn_csv_row", "csv or values is NULL");
    for (int i = 0; i < c->n_cols; i++) fprintf(c->f, "%s%.9g", i ? "," : "", values[i]);
    fputc('\n', c->f);
    if (fflush(c->f) != 0 || ferror(c->f))
        return nn_fail(err, "%s: cannot write: %s", c->path, strerror(errno));
    return 0;
}

int nn_csv_close(nn_csv *c, nn_error *err) {
    if (!c) return 0;
    int rc = 0;
    if (fclose(c->f) != 0) rc = nn_fail(err, "%s: cannot close: %s", c->path, strerror(errno));
    free(c->path);
    free(c);
    return rc;
}
