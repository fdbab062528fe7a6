/* cli.c — see cli.h.  Values are validated completely (no trailing junk, no overflow). */
#include "examples/common/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        fputc('\n', f);
    }
    fprintf(f, "  %-30s %s\n", "--help", "show this text");
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
        *(int *)o->dst = (int)x;
        break;
    }
    case CLI_U64: {
        if (*v == '-') goto bad;
        unsigned long long x = strtoull(v, &end, 10);
        if (!*v || *end || errno) goto bad;
        *(uint64_t *)o->dst = (uint64_t)x;
        break;
    }
    case CLI_REAL: {
        double x = strtod(v, &end);
        if (!*v || *end || errno) goto bad;
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

int cli_parse(int argc, char **argv, const cli_program *prog, cli_opt *opts) {
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            cli_usage(prog, opts, stdout);
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
