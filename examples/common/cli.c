/* cli.c — see cli.h.  Values are validated completely (no trailing junk, no overflow, no
 * inf or nan, inside the option's range) before the program sees any of them. */
#include "examples/common/cli.h"

#include "autograd/autograd.h" /* ag_real: which precision --version reports */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef HENBUN_VERSION_STRING
#define HENBUN_VERSION_STRING "0.3.0"
#endif

int cli_max_threads(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    long m = 4 * cores;
    return m < 4 ? 4 : m > 256 ? 256 : (int)m;
}

bool cli_product(size_t *out, size_t limit, int n, const long long *factors) {
    size_t p = 1;
    for (int i = 0; i < n; i++) {
        if (factors[i] < 0) return false;
        size_t f = (size_t)factors[i];
        if ((unsigned long long)factors[i] > SIZE_MAX) return false;
        if (f && p > limit / f) return false;
        p *= f;
    }
    if (p > limit) return false;
    *out = p;
    return true;
}

/* The range an option is checked against: its own, or the implicit one of --threads. */
static cli_range range_of(const cli_opt *o) {
    if (o->range.flags == 0 && o->type == CLI_INT && !strcmp(o->name, "threads"))
        return (cli_range)CLI_IN(0, cli_max_threads());
    return o->range;
}

/* A bound for messages: integers without a fraction, others with %g. */
static void bound_str(double x, char *buf, size_t n) {
    if (x == floor(x) && fabs(x) < 1e18) snprintf(buf, n, "%.0f", x);
    else snprintf(buf, n, "%g", x);
}

/* "in [a, b]", "in (a, b]", ">= a", "> a", "<= b": what a message says a value must be. */
static void range_str(cli_range r, char *buf, size_t n) {
    char a[40], b[40];
    bound_str(r.min, a, sizeof a);
    bound_str(r.max, b, sizeof b);
    if ((r.flags & CLI_HAS_MIN) && (r.flags & CLI_HAS_MAX))
        snprintf(buf, n, "in %c%s, %s%c", r.flags & CLI_MIN_OPEN ? '(' : '[', a, b,
                 r.flags & CLI_MAX_OPEN ? ')' : ']');
    else if (r.flags & CLI_HAS_MIN)
        snprintf(buf, n, "%s %s", r.flags & CLI_MIN_OPEN ? ">" : ">=", a);
    else
        snprintf(buf, n, "%s %s", r.flags & CLI_MAX_OPEN ? "<" : "<=", b);
}

bool cli_in_range(const cli_opt *o, double x) {
    cli_range r = range_of(o);
    bool lo_ok = !(r.flags & CLI_HAS_MIN) || (r.flags & CLI_MIN_OPEN ? x > r.min : x >= r.min);
    bool hi_ok = !(r.flags & CLI_HAS_MAX) || (r.flags & CLI_MAX_OPEN ? x < r.max : x <= r.max);
    return lo_ok && hi_ok;
}

/* 0 when x is inside o's range, else prints "<prog>: --name: must be in [a, b], got V". */
static int check_range(const cli_program *prog, const cli_opt *o, double x, const char *v) {
    if (cli_in_range(o, x)) return 0;
    cli_range r = range_of(o);
    char want[100];
    range_str(r, want, sizeof want);
    fprintf(stderr, "%s: --%s: must be %s, got %s%s\n", prog->name, o->name, want, v,
            !strcmp(o->name, "threads") && x < 0 ? " (0 means all cores)" : "");
    return -1;
}

static void value_str(const cli_opt *o, char *buf, size_t n) {
    switch (o->type) {
    case CLI_INT: snprintf(buf, n, "%d", *(int *)o->dst); break;
    case CLI_U64: snprintf(buf, n, "%" PRIu64, *(uint64_t *)o->dst); break;
    case CLI_REAL: snprintf(buf, n, "%g", *(double *)o->dst); break;
    case CLI_STRING:
    case CLI_CHOICE: snprintf(buf, n, "%s", *(const char **)o->dst ? *(const char **)o->dst : ""); break;
    case CLI_FLAG: buf[0] = 0; break;
    }
}

void cli_usage(const cli_program *prog, const cli_opt *opts, void *file) {
    FILE *f = file ? file : stdout;
    fprintf(f, "usage: %s [options]\n%s\n\noptions:\n", prog->name, prog->summary);
    for (const cli_opt *o = opts; o->name; o++) {
        char left[96], def[128];
        if (o->type == CLI_FLAG) snprintf(left, sizeof left, "--%s", o->name);
        else snprintf(left, sizeof left, "--%s %s", o->name, o->metavar ? o->metavar : "X");
        value_str(o, def, sizeof def);
        fprintf(f, "  %-30s %s", left, o->help);
        if (def[0]) fprintf(f, " [%s]", def);
        /* only a table's own ranges: --threads' implicit one depends on the machine */
        cli_range r = o->range;
        if (r.flags && (o->type == CLI_INT || o->type == CLI_U64 || o->type == CLI_REAL)) {
            char want[100];
            range_str(r, want, sizeof want);
            fprintf(f, " (%s)", want);
        }
        fputc('\n', f);
    }
    fprintf(f, "  %-30s %s\n", "--help", "show this text");
    fprintf(f, "  %-30s %s\n", "--version", "show the program's and henbun's version");
    if (prog->epilog) fprintf(f, "\n%s\n", prog->epilog);
}

/* Edit distance, for "did you mean". */
static int distance(const char *a, const char *b) {
    int la = (int)strlen(a), lb = (int)strlen(b), d[64][64];
    if (la > 63 || lb > 63) return 99;
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}

static bool in_choices(const char *choices, const char *v) {
    size_t n = strlen(v);
    for (const char *p = choices; p && *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0) return true;
        p = bar ? bar + 1 : NULL;
    }
    return false;
}

static int set_value(const cli_program *prog, cli_opt *o, const char *v) {
    char *end;
    errno = 0;
    switch (o->type) {
    case CLI_INT: {
        long x = strtol(v, &end, 10);
        if (!*v || *end || errno || x < INT_MIN || x > INT_MAX) goto bad;
        if (check_range(prog, o, (double)x, v)) return -1;
        *(int *)o->dst = (int)x;
        break;
    }
    case CLI_U64: {
        if (*v == '-') goto bad;
        unsigned long long x = strtoull(v, &end, 10);
        if (!*v || *end || errno) goto bad;
        if (check_range(prog, o, (double)x, v)) return -1;
        *(uint64_t *)o->dst = (uint64_t)x;
        break;
    }
    case CLI_REAL: {
        double x = strtod(v, &end);
        if (!*v || *end) goto bad;
        if (!isfinite(x) || (errno == ERANGE && x != 0)) { /* "inf", "nan", "1e999" */
            fprintf(stderr, "%s: --%s: must be a finite number, got '%s'\n", prog->name,
                    o->name, v);
            return -1;
        }
        /* a value too small for a double (1e-400) is 0 or a subnormal: keep it, range-check it */
        if (check_range(prog, o, x, v)) return -1;
        *(double *)o->dst = x;
        break;
    }
    case CLI_CHOICE:
        if (!in_choices(o->metavar, v)) {
            fprintf(stderr, "%s: --%s: '%s' is not one of %s\n", prog->name, o->name, v,
                    o->metavar);
            return -1;
        }
        /* fall through */
    case CLI_STRING:
        *(const char **)o->dst = v;
        break;
    case CLI_FLAG:
        break;
    }
    return 0;
bad:
    fprintf(stderr, "%s: --%s: expected %s, got '%s'\n", prog->name, o->name,
            o->type == CLI_REAL ? "a number" : "a whole number", v);
    return -1;
}

void cli_version(const char *name) {
    printf("%s (henbun %s, %s)\n", name, HENBUN_VERSION_STRING,
           sizeof(ag_real) == sizeof(double) ? "double" : "float");
}

int cli_parse(int argc, char **argv, const cli_program *prog, cli_opt *opts) {
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            cli_usage(prog, opts, stdout);
            return 1;
        }
        if (!strcmp(arg, "--version")) {
            cli_version(prog->name);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "%s: unexpected argument '%s' (options start with --; see --help)\n",
                    prog->name, arg);
            return -1;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        cli_opt *o = opts;
        for (; o->name; o++)
            if (strlen(o->name) == len && strncmp(o->name, name, len) == 0) break;
        if (!o->name) {
            char word[64];
            snprintf(word, sizeof word, "%.*s", (int)(len < 63 ? len : 63), name);
            const cli_opt *best = NULL;
            int bd = 3;
            for (const cli_opt *c = opts; c->name; c++) {
                int d = distance(word, c->name);
                if (d < bd) bd = d, best = c;
            }
            fprintf(stderr, "%s: unknown option '--%s'", prog->name, word);
            if (best) fprintf(stderr, " (did you mean --%s?)", best->name);
            fprintf(stderr, "; see --help\n");
            return -1;
        }
        if (o->type == CLI_FLAG) {
            if (eq) {
                fprintf(stderr, "%s: --%s takes no value\n", prog->name, o->name);
                return -1;
            }
            *(bool *)o->dst = true;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) {
            fprintf(stderr, "%s: --%s needs a value (%s)\n", prog->name, o->name,
                    o->metavar ? o->metavar : "X");
            return -1;
        }
        if (set_value(prog, o, v)) return -1;
    }
    return 0;
}
