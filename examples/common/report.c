/* report.c — the run page (index.html) and the compare page, written from a run folder's
 * log.csv, pictures, run.json, result.json and eval.json.  See report.h for the files.
 *
 * The pages are plain HTML with inline CSS and inline SVG charts drawn here from the log,
 * so they need no server, no script and nothing from the internet.  Reading is strict
 * (a malformed file is an error naming it) because these files come from outside.
 */
#include "examples/common/report.h"
#include "nn/image.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- a growing string ------------------------------------------------------------------ */

typedef struct sb {
    char *s;
    size_t n, cap;
} sb;

static void sb_grow(sb *b, size_t more) {
    if (b->n + more + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + more + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) ag_error("report", "out of memory");
    b->s = s, b->cap = cap;
}

static void sb_puts(sb *b, const char *s) {
    size_t k = strlen(s);
    sb_grow(b, k);
    memcpy(b->s + b->n, s, k + 1);
    b->n += k;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void sb_printf(sb *b, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    sb_grow(b, (size_t)k);
    if ((size_t)k < sizeof small) {
        memcpy(b->s + b->n, small, (size_t)k + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(b->s + b->n, (size_t)k + 1, fmt, ap);
        va_end(ap);
    }
    b->n += (size_t)k;
}

/* Text as HTML (also right for attribute values in double quotes). */
static void sb_html(sb *b, const char *s) {
    for (; s && *s; s++) switch (*s) {
        case '&': sb_puts(b, "&amp;"); break;
        case '<': sb_puts(b, "&lt;"); break;
        case '>': sb_puts(b, "&gt;"); break;
        case '"': sb_puts(b, "&quot;"); break;
        default: sb_grow(b, 1), b->s[b->n++] = *s, b->s[b->n] = 0;
        }
}

/* A relative link: bytes outside a safe set as %XX, so names with spaces or '#' work. */
static void sb_url(sb *b, const char *s) {
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || strchr("-_.~/", c)) sb_grow(b, 1), b->s[b->n++] = (char)c, b->s[b->n] = 0;
        else sb_printf(b, "%%%02X", c);
    }
}

static void sb_json_str(sb *b, const char *s) {
    sb_puts(b, "\"");
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') sb_printf(b, "\\%c", c);
        else if (c == '\n') sb_puts(b, "\\n");
        else if (c == '\t') sb_puts(b, "\\t");
        else if (c < 0x20) sb_printf(b, "\\u%04x", c);
        else sb_grow(b, 1), b->s[b->n++] = (char)c, b->s[b->n] = 0;
    }
    sb_puts(b, "\"");
}

/* ---- files ------------------------------------------------------------------------------ */

/* Writes len bytes to path whole or not at all (nn_atomic_begin/end). */
static int write_atomic(const char *path, const char *data, size_t len, nn_error *err) {
    nn_atomic_file out;
    if (nn_atomic_begin(&out, path, err)) return -1;
    bool ok = fwrite(data, 1, len, out.f) == len;
    return nn_atomic_end(&out, ok ? NULL : strerror(errno ? errno : EIO), err);
}

static void join(char *buf, size_t n, const char *dir, const char *name) {
    snprintf(buf, n, "%s/%s", dir, name);
}

/* The whole file (NUL-terminated) or NULL: *missing says whether it simply is not there. */
static char *read_all(const char *path, bool *missing, nn_error *err) {
    *missing = false;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) *missing = true;
        else nn_fail(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    for (size_t r; s && (r = fread(s + n, 1, cap - n - 1, f)) > 0;) {
        n += r;
        if (n + 1 == cap) {
            char *t = realloc(s, cap *= 2);
            if (!t) free(s);
            s = t;
        }
    }
    if (!s) ag_error("report", "out of memory");
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(s);
        nn_fail(err, "%s: cannot read: %s", path, strerror(errno));
        return NULL;
    }
    s[n] = 0;
    return s;
}

/* ---- JSON (the subset these files use: objects, arrays, strings, numbers, literals) ----- */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;
typedef struct jv {
    jtype t;
    double num;          /* J_NUM; J_BOOL: 0 or 1 */
    char *str;           /* J_STR */
    int n;               /* J_ARR, J_OBJ: items */
    struct jv *items;
    char **keys;         /* J_OBJ */
} jv;

typedef struct jparser {
    const char *s, *path;
    size_t i;
    nn_error *err;
    bool failed;
} jparser;

static void jfail(jparser *p, const char *what) {
    if (!p->failed) nn_fail(p->err, "%s: byte %zu: %s", p->path, p->i + 1, what);
    p->failed = true;
}

static void jspace(jparser *p) {
    while (p->s[p->i] && isspace((unsigned char)p->s[p->i])) p->i++;
}

static char *jstring(jparser *p) {
    if (p->s[p->i] != '"') return jfail(p, "expected a string"), NULL;
    p->i++;
    sb b = {0};
    sb_grow(&b, 0);
    b.s[0] = 0;
    for (;;) {
        char c = p->s[p->i];
        if (!c) {
            jfail(p, "unterminated string");
            free(b.s);
            return NULL;
        }
        p->i++;
        if (c == '"') break;
        if (c == '\\') {
            char e = p->s[p->i++];
            const char *m = strchr("\"\\/bfnrt", e);
            if (e == 'u') {
                unsigned v = 0;
                for (int k = 0; k < 4; k++) {
                    char h = p->s[p->i];
                    if (!isxdigit((unsigned char)h)) {
                        jfail(p, "bad \\u escape");
                        free(b.s);
                        return NULL;
                    }
                    v = v * 16 + (unsigned)(isdigit((unsigned char)h) ? h - '0' : (tolower(h) - 'a' + 10));
                    p->i++;
                }
                if (v < 0x80) sb_printf(&b, "%c", (char)v); /* enough for our own files */
                else if (v < 0x800) sb_printf(&b, "%c%c", 0xC0 | (v >> 6), 0x80 | (v & 63));
                else sb_printf(&b, "%c%c%c", 0xE0 | (v >> 12), 0x80 | ((v >> 6) & 63), 0x80 | (v & 63));
                continue;
            }
            if (!e || !m) {
                jfail(p, "bad escape in a string");
                free(b.s);
                return NULL;
            }
            static const char out[] = "\"\\/\b\f\n\r\t";
            c = out[m - "\"\\/bfnrt"];
        }
        sb_grow(&b, 1);
        b.s[b.n++] = c, b.s[b.n] = 0;
    }
    return b.s;
}

static void jfree(jv *v) {
    if (!v) return;
    free(v->str);
    for (int k = 0; k < v->n; k++) {
        jfree(&v->items[k]);
        if (v->keys) free(v->keys[k]);
    }
    free(v->items);
    free(v->keys);
}

static bool jvalue(jparser *p, jv *v, int depth) {
    memset(v, 0, sizeof *v);
    jspace(p);
    if (depth > 16) return jfail(p, "nested too deeply"), false;
    char c = p->s[p->i];
    if (c == '{' || c == '[') {
        bool obj = c == '{';
        v->t = obj ? J_OBJ : J_ARR;
        p->i++;
        jspace(p);
        if (p->s[p->i] == (obj ? '}' : ']')) return p->i++, true;
        for (int cap = 0;;) {
            if (v->n == cap) {
                cap = cap ? 2 * cap : 8;
                v->items = realloc(v->items, sizeof *v->items * (size_t)cap);
                if (obj) v->keys = realloc(v->keys, sizeof *v->keys * (size_t)cap);
                if (!v->items || (obj && !v->keys)) ag_error("report", "out of memory");
            }
            jspace(p);
            if (obj) {
                char *k = jstring(p);
                if (!k) return false;
                v->keys[v->n] = k;
                jspace(p);
                if (p->s[p->i] != ':') {
                    v->items[v->n++] = (jv){0};
                    return jfail(p, "expected ':'"), false;
                }
                p->i++;
            }
            bool ok = jvalue(p, &v->items[v->n], depth + 1);
            v->n++;
            if (!ok) return false;
            jspace(p);
            if (p->s[p->i] == ',') { p->i++; continue; }
            if (p->s[p->i] == (obj ? '}' : ']')) return p->i++, true;
            return jfail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'"), false;
        }
    }
    if (c == '"') {
        v->t = J_STR;
        return (v->str = jstring(p)) != NULL;
    }
    static const char *lit[3] = {"null", "true", "false"};
    for (int k = 0; k < 3; k++)
        if (!strncmp(p->s + p->i, lit[k], strlen(lit[k]))) {
            p->i += strlen(lit[k]);
            v->t = k ? J_BOOL : J_NULL;
            v->num = k == 1;
            return true;
        }
    char *end;
    v->num = strtod(p->s + p->i, &end);
    if (end == p->s + p->i || !(c == '-' || isdigit((unsigned char)c)))
        return jfail(p, "expected a value"), false;
    v->t = J_NUM;
    p->i = (size_t)(end - p->s);
    return true;
}

/* Parses DIR/NAME into v: 1 when read, 0 when there is no such file, -1 (err) when bad. */
static int jload(const char *dir, const char *name, jv *v, nn_error *err) {
    char path[4096];
    join(path, sizeof path, dir, name);
    bool missing;
    char *s = read_all(path, &missing, err);
    memset(v, 0, sizeof *v);
    if (!s) return missing ? 0 : -1;
    jparser p = {s, path, 0, err, false};
    bool ok = jvalue(&p, v, 0);
    if (ok) {
        jspace(&p);
        if (p.s[p.i]) jfail(&p, "text after the value"), ok = false;
        else if (v->t != J_OBJ) jfail(&p, "expected an object {...}"), ok = false;
    }
    free(s);
    if (!ok) {
        jfree(v);
        memset(v, 0, sizeof *v);
        return -1;
    }
    return 1;
}

static const jv *jget(const jv *o, const char *key) {
    if (!o || o->t != J_OBJ) return NULL;
    for (int k = 0; k < o->n; k++)
        if (!strcmp(o->keys[k], key)) return &o->items[k];
    return NULL;
}

static const char *jstr(const jv *o, const char *key) {
    const jv *v = jget(o, key);
    return v && v->t == J_STR ? v->str : NULL;
}

/* A value as text: numbers with %.6g, strings as they are. */
static void jtext(sb *b, const jv *v) {
    if (!v) return;
    switch (v->t) {
    case J_NUM: sb_printf(b, "%.6g", v->num); break;
    case J_STR: sb_html(b, v->str); break;
    case J_BOOL: sb_puts(b, v->num ? "true" : "false"); break;
    case J_ARR:
        for (int k = 0; k < v->n; k++) {
            if (k) sb_puts(b, ", ");
            jtext(b, &v->items[k]);
        }
        break;
    default: sb_puts(b, "&ndash;");
    }
}

static void jtext_plain(char *buf, size_t n, const jv *v) {
    sb b = {0};
    jtext(&b, v);
    snprintf(buf, n, "%s", b.s ? b.s : "");
    free(b.s);
}

/* ---- writing run.json and result.json --------------------------------------------------- */

static void shell_quote(sb *b, const char *a) {
    bool plain = *a != 0;
    for (const char *s = a; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("-_./=:,+@%", *s)) plain = false;
    if (plain) {
        sb_puts(b, a);
        return;
    }
    sb_puts(b, "'");
    for (const char *s = a; *s; s++)
        if (*s == '\'') sb_puts(b, "'\\''");
        else sb_printf(b, "%c", *s);
    sb_puts(b, "'");
}

int report_write_run_json(const char *dir, const report_run *r, nn_error *err) {
    if (!dir || !r) ag_error("report_write_run_json", "dir or run is NULL");
    sb b = {0}, cmd = {0};
    sb_puts(&b, "{\n  \"program\": ");
    sb_json_str(&b, r->program ? r->program : "");
    sb_grow(&cmd, 0);
    cmd.s[0] = 0;
    for (int i = 0; i < r->argc; i++) {
        if (i) sb_puts(&cmd, " ");
        shell_quote(&cmd, r->argv[i] ? r->argv[i] : "");
    }
    sb_puts(&b, ",\n  \"command\": ");
    sb_json_str(&b, cmd.s);
    sb_puts(&b, ",\n  \"status\": ");
    sb_json_str(&b, r->status ? r->status : "done");
    time_t now = time(NULL);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    sb_printf(&b, ",\n  \"written\": \"%s\",\n  \"settings\": {", stamp);
    int k = 0;
    for (const char *s = r->settings; s && *s;) {
        const char *eol = strchr(s, '\n'), *eq = strchr(s, '=');
        if (!eol) eol = s + strlen(s);
        if (eq && eq < eol) {
            char key[256], val[1024];
            snprintf(key, sizeof key, "%.*s", (int)(eq - s), s);
            snprintf(val, sizeof val, "%.*s", (int)(eol - eq - 1), eq + 1);
            sb_puts(&b, k++ ? ",\n    " : "\n    ");
            sb_json_str(&b, key);
            sb_puts(&b, ": ");
            sb_json_str(&b, val);
        }
        s = *eol ? eol + 1 : eol;
    }
    sb_puts(&b, k ? "\n  },\n  \"captions\": {" : "},\n  \"captions\": {");
    for (int i = 0; i < r->n_captions; i++) {
        sb_puts(&b, i ? ",\n    " : "\n    ");
        sb_json_str(&b, r->caption_files[i]);
        sb_puts(&b, ": ");
        sb_json_str(&b, r->captions[i]);
    }
    sb_puts(&b, r->n_captions ? "\n  }\n}\n" : "}\n}\n");
    char path[4096];
    join(path, sizeof path, dir, "run.json");
    int rc = write_atomic(path, b.s, b.n, err);
    free(b.s);
    free(cmd.s);
    return rc;
}

/* A number when all of s is one (and finite). */
static bool whole_number(const char *s, double *v) {
    char *end;
    while (isspace((unsigned char)*s)) s++;
    if (!*s) return false;
    *v = strtod(s, &end);
    while (isspace((unsigned char)*end)) end++;
    return !*end && isfinite(*v);
}

/* The fewest digits that read back as the same double (1.9, not 1.8999999999999999). */
static void shortest(sb *b, double v) {
    char buf[40];
    for (int p = 6; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, v);
        if (strtod(buf, NULL) == v) break;
    }
    sb_puts(b, buf);
}

static void figure_json(sb *b, const char *val) {
    double v;
    if (whole_number(val, &v)) {
        shortest(b, v);
        return;
    }
    /* A list: two or more numbers separated by commas and/or spaces. */
    sb list = {0};
    int count = 0;
    const char *s = val;
    for (;;) {
        while (*s == ',' || isspace((unsigned char)*s)) s++;
        if (!*s) break;
        char *end;
        double x = strtod(s, &end);
        if (end == s || (*end && *end != ',' && !isspace((unsigned char)*end))) {
            count = -1;
            break;
        }
        sb_puts(&list, count ? ", " : "");
        if (isfinite(x)) shortest(&list, x);
        else sb_puts(&list, "null");
        count++;
        s = end;
    }
    if (count >= 2) sb_printf(b, "[%s]", list.s);
    else sb_json_str(b, val);
    free(list.s);
}

int report_write_figures_json(const char *dir, const char *name, const char *const *keys,
                              const char *const *values, int n, nn_error *err) {
    if (!dir || !name || n < 0 || (n > 0 && (!keys || !values)))
        ag_error("report_write_figures_json", "need a folder, a name and n >= 0 pairs");
    sb b = {0};
    sb_puts(&b, "{");
    for (int i = 0; i < n; i++) {
        sb_puts(&b, i ? ",\n  " : "\n  ");
        sb_json_str(&b, keys[i]);
        sb_puts(&b, ": ");
        figure_json(&b, values[i] ? values[i] : "");
    }
    sb_puts(&b, n ? "\n}\n" : "}\n");
    char path[4096];
    join(path, sizeof path, dir, name);
    int rc = write_atomic(path, b.s, b.n, err);
    free(b.s);
    return rc;
}

int report_write_result_json(const char *dir, const char *const *keys,
                             const char *const *values, int n, nn_error *err) {
    return report_write_figures_json(dir, "result.json", keys, values, n, err);
}

/* ---- log.csv ---------------------------------------------------------------------------- */

typedef struct csv {
    int ncol, nrow;
    char **names;
    double *v;          /* nrow x ncol; an empty field is NaN */
} csv;

static void csv_free(csv *c) {
    for (int k = 0; k < c->ncol; k++) free(c->names[k]);
    free(c->names);
    free(c->v);
    memset(c, 0, sizeof *c);
}

/* 1 read, 0 no file, -1 bad (err names the file and line).  A last line without its newline
 * is a row being written this instant: it is left out. */
static int csv_load(const char *dir, csv *c, nn_error *err) {
    char path[4096];
    join(path, sizeof path, dir, "log.csv");
    memset(c, 0, sizeof *c);
    bool missing;
    char *s = read_all(path, &missing, err);
    if (!s) return missing ? 0 : -1;
    char *line = s, *eol = strchr(line, '\n');
    if (!eol) { /* no complete header yet */
        free(s);
        return 0;
    }
    *eol = 0;
    if (eol > line && eol[-1] == '\r') eol[-1] = 0;
    for (char *t = line; ; t++) {
        char *comma = strchr(t, ',');
        size_t len = comma ? (size_t)(comma - t) : strlen(t);
        c->names = realloc(c->names, sizeof *c->names * (size_t)(c->ncol + 1));
        if (!c->names || !(c->names[c->ncol] = malloc(len + 1))) ag_error("report", "out of memory");
        memcpy(c->names[c->ncol], t, len);
        c->names[c->ncol++][len] = 0;
        if (!comma) break;
        t = comma;
    }
    int cap = 0, lineno = 1;
    for (line = eol + 1; (eol = strchr(line, '\n')); line = eol + 1) {
        lineno++;
        *eol = 0;
        if (eol > line && eol[-1] == '\r') eol[-1] = 0;
        if (!*line) continue;
        if (c->nrow == cap) {
            cap = cap ? 2 * cap : 64;
            c->v = realloc(c->v, sizeof *c->v * (size_t)cap * (size_t)c->ncol);
            if (!c->v) ag_error("report", "out of memory");
        }
        double *row = c->v + (size_t)c->nrow * (size_t)c->ncol;
        char *t = line;
        for (int k = 0; k < c->ncol; k++) {
            char *end = t;
            row[k] = (*t == ',' || !*t) ? NAN : strtod(t, &end);
            if (*end != (k + 1 < c->ncol ? ',' : 0)) {
                nn_fail(err, "%s: line %d: field %d (%s) is not a number, or the row has %s "
                        "than the header's %d columns", path, lineno, k + 1, c->names[k],
                        *end == ',' ? "more" : "fewer", c->ncol);
                free(s);
                csv_free(c);
                return -1;
            }
            t = *end ? end + 1 : end;
        }
        c->nrow++;
    }
    free(s);
    return 1;
}

static int csv_col(const csv *c, const char *name) {
    for (int k = 0; k < c->ncol; k++)
        if (!strcmp(c->names[k], name)) return k;
    return -1;
}

/* The x axis of a log: the first column named like a counter, else the first column. */
static int csv_xcol(const csv *c) {
    static const char *names[] = {"epoch", "step", "iter", "iteration", "steps", "iters"};
    for (int j = 0; j < (int)(sizeof names / sizeof *names); j++)
        if (csv_col(c, names[j]) >= 0) return csv_col(c, names[j]);
    return c->ncol > 0 ? 0 : -1;
}

/* Columns not worth a chart: the x axis, counters, wall-clock time. */
static bool skip_col(const csv *c, int k, int xcol) {
    static const char *names[] = {"run", "seconds", "time", "iters", "epoch", "step", "iter"};
    if (k == xcol) return true;
    for (int j = 0; j < (int)(sizeof names / sizeof *names); j++)
        if (!strcmp(c->names[k], names[j])) return true;
    return false;
}

/* Which chart a column goes to: train_x, test_x, val_x share "x"; *_loss share "loss";
 * d_* (a discriminator's outputs) share "d". */
static void group_key(const char *name, char *key, size_t n) {
    static const char *pre[] = {"train_", "test_", "val_", "valid_", "eval_"};
    for (int j = 0; j < 5; j++)
        if (!strncmp(name, pre[j], strlen(pre[j]))) {
            name += strlen(pre[j]);
            break;
        }
    size_t len = strlen(name);
    if (!strcmp(name, "loss") || (len > 5 && !strcmp(name + len - 5, "_loss")))
        snprintf(key, n, "loss");
    else if (!strncmp(name, "d_", 2)) snprintf(key, n, "D outputs");
    else snprintf(key, n, "%s", name);
}

/* ---- pictures -------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.png names in dir, sorted (temporary files of atomic writes left out). */
static int list_pngs(const char *dir, char ***out) {
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 5 || strcmp(e->d_name + len - 4, ".png")) continue;
        char path[4096];
        struct stat st;
        join(path, sizeof path, dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue; /* a folder named x.png */
        *out = realloc(*out, sizeof **out * (size_t)(n + 1));
        if (!*out || !((*out)[n] = strdup(e->d_name))) ag_error("report", "out of memory");
        n++;
    }
    closedir(d);
    if (n > 1) qsort(*out, (size_t)n, sizeof **out, cmp_str);
    return n;
}

/* What a picture shows, when run.json gives no caption: by the names the programs use. */
static const char *default_caption(const char *f) {
    static const struct { const char *prefix, *text; } known[] = {
        {"samples", "Samples from the model (decoder or generator at fixed random codes)"},
        {"recon", "Test images (left) and their reconstructions (right)"},
        {"manifold", "The decoder over a grid of 2-D latent codes at Gaussian quantiles"},
        {"latent", "E[z|x] of the test images, coloured by class"},
        {"traverse", "Latent traversal: one dimension from -3 to 3 per row, the others fixed"},
        {"curves", "Training curves"},
        {"progress", "The generator at fixed codes over training (one row per epoch)"},
        {"roc", "ROC curve per held-out class, with the chance line"},
        {"scores", "Anomaly scores of normal and held-out test images"},
        {"errors", "Misclassified test images (true and predicted class)"},
        {"density", "Density over the plane"},
        {"marginal", "Marginal density: exact, sampler and reweighted"},
        {"magnetisation", "Distribution of the magnetisation"},
        {"kl", "KL per latent dimension"},
    };
    for (size_t j = 0; j < sizeof known / sizeof *known; j++)
        if (!strncmp(f, known[j].prefix, strlen(known[j].prefix))) return known[j].text;
    if (strstr(f, "_iter")) return "Generated (crosses) and real points at this iteration";
    if (strstr(f, "_final")) return "Generated and real points at the end of the run";
    return NULL;
}

/* ---- one run ---------------------------------------------------------------------------- */

typedef struct run_data {
    const char *dir;
    char label[256];
    jv run, result, eval;
    csv log;
    char **pngs;
    int npng;
} run_data;

static void run_free(run_data *r) {
    jfree(&r->run), jfree(&r->result), jfree(&r->eval);
    csv_free(&r->log);
    for (int k = 0; k < r->npng; k++) free(r->pngs[k]);
    free(r->pngs);
}

static int run_load(const char *dir, run_data *r, nn_error *err) {
    memset(r, 0, sizeof *r);
    r->dir = dir;
    struct stat st;
    if (stat(dir, &st) != 0) return nn_fail(err, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return nn_fail(err, "%s: not a folder (give a run's folder)", dir);
    if (jload(dir, "run.json", &r->run, err) < 0 || jload(dir, "result.json", &r->result, err) < 0 ||
        jload(dir, "eval.json", &r->eval, err) < 0 || csv_load(dir, &r->log, err) < 0) {
        run_free(r);
        return -1;
    }
    r->npng = list_pngs(dir, &r->pngs);
    return 0;
}

static bool running(const run_data *r) {
    const char *s = jstr(&r->run, "status");
    return s && !strcmp(s, "running");
}

static const char *caption_of(const run_data *r, const char *f) {
    const char *c = jstr(jget(&r->run, "captions"), f);
    return c ? c : default_caption(f);
}

/* ---- SVG charts -------------------------------------------------------------------------- */

static const char *const COLORS[10] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                       "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};

typedef struct line {
    const char *name;
    const double *x, *y;  /* n values each, stride apart */
    int n, stride;
    int color;            /* index into COLORS */
} line;

enum { CW = 460, CH = 270, ML = 62, MR = 14, MT = 12, MB = 40 };

/* Short tick labels: 20k for 20000 and 1.5M for 1500000, so that step counts fit. */
static void tick_text(char *buf, size_t n, double v) {
    double a = fabs(v);
    if (a >= 1e6 && fmod(a, 1e5) == 0) snprintf(buf, n, "%gM", v / 1e6);
    else if (a >= 1e4 && fmod(a, 100) == 0) snprintf(buf, n, "%gk", v / 1e3);
    else snprintf(buf, n, "%.4g", a < 1e-12 ? 0 : v);
}

/* One chart: lines over a shared x axis, a log y axis when asked; legend above it in HTML
 * so it never covers the data. */
static void svg_lines(sb *b, const char *title, const char *xlabel, const line *ls, int nl,
                      bool log_y) {
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    int points = 0;
    for (int k = 0; k < nl; k++)
        for (int i = 0; i < ls[k].n; i++) {
            double x = ls[k].x[(size_t)i * ls[k].stride], y = ls[k].y[(size_t)i * ls[k].stride];
            if (!isfinite(x) || !isfinite(y) || (log_y && y <= 0)) continue;
            x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y);
            points++;
        }
    sb_puts(b, "<figure class=\"chart\"><figcaption>");
    sb_html(b, title);
    sb_puts(b, "</figcaption><div class=\"legend\">");
    for (int k = 0; k < nl; k++) {
        sb_printf(b, "<span><i style=\"background:%s\"></i>", COLORS[ls[k].color % 10]);
        sb_html(b, ls[k].name);
        sb_puts(b, "</span>");
    }
    sb_puts(b, "</div>");
    if (!points) {
        sb_puts(b, "<p class=\"note\">no finite values yet</p></figure>\n");
        return;
    }
    if (x1 == x0) x0 -= 1, x1 += 1;
    if (log_y) y0 = log10(y0), y1 = log10(y1);
    if (y1 - y0 < 1e-12 * (fabs(y0) + fabs(y1)) || y1 == y0) {
        double d = fabs(y0) > 0 ? 0.1 * fabs(y0) : 1;
        y0 -= d, y1 += d;
    }
    double m = 0.05 * (y1 - y0);
    y0 -= m, y1 += m;
    int pw = CW - ML - MR, ph = CH - MT - MB;
#define SX(x) (ML + ((x) - x0) / (x1 - x0) * pw)
#define SY(y) (MT + ph - ((y) - y0) / (y1 - y0) * ph)
    sb_printf(b, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\">", CW, CH,
              CW, CH);
    sb_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"frame\"/>", ML,
              MT, pw, ph);
    double t[64];
    char buf[48];
    int nt = nn_axis_ticks(x0, x1, 6, false, t, 64);
    bool integer_x = true; /* epochs, steps: no tick at 2.5 */
    for (int k = 0; k < nl && integer_x; k++)
        for (int i = 0; i < ls[k].n && integer_x; i++) {
            double x = ls[k].x[(size_t)i * ls[k].stride];
            integer_x = !isfinite(x) || x == floor(x);
        }
    for (int i = 0; i < nt; i++) {
        if (integer_x && t[i] != floor(t[i])) continue;
        double px = SX(t[i]);
        tick_text(buf, sizeof buf, t[i]);
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" class=\"grid\"/>"
                  "<text x=\"%.1f\" y=\"%d\" class=\"tx\">%s</text>", px, MT, px, MT + ph, px,
                  MT + ph + 14, buf);
    }
    nt = nn_axis_ticks(log_y ? pow(10, y0) : y0, log_y ? pow(10, y1) : y1, 6, log_y, t, 64);
    for (int i = 0; i < nt; i++) {
        double py = SY(log_y ? log10(t[i]) : t[i]);
        tick_text(buf, sizeof buf, t[i]);
        sb_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/>"
                  "<text x=\"%d\" y=\"%.1f\" class=\"ty\">%s</text>", ML, py, ML + pw, py,
                  ML - 5, py + 4, buf);
    }
    sb_printf(b, "<text x=\"%d\" y=\"%d\" class=\"tx\">", ML + pw / 2, CH - 6);
    sb_html(b, xlabel);
    sb_puts(b, log_y ? " &#183; log y</text>" : "</text>");
    for (int k = 0; k < nl; k++) {
        const line *l = &ls[k];
        bool open = false;
        double px = 0;
        sb_printf(b, "<g stroke=\"%s\" fill=\"%s\"><title>", COLORS[l->color % 10],
                  COLORS[l->color % 10]);
        sb_html(b, l->name);
        sb_puts(b, "</title>");
        for (int i = 0; i < l->n; i++) {
            double x = l->x[(size_t)i * l->stride], y = l->y[(size_t)i * l->stride];
            bool good = isfinite(x) && isfinite(y) && !(log_y && y <= 0);
            if (open && (!good || x < px)) sb_puts(b, "\"/>"), open = false; /* a gap, or x restarts */
            if (!good) continue;
            double sy = SY(log_y ? log10(y) : y);
            sb_printf(b, "%s%.1f,%.1f", open ? " " : "<polyline points=\"", SX(x), sy);
            open = true, px = x;
        }
        if (open) sb_puts(b, "\"/>");
        if (l->n <= 40)
            for (int i = 0; i < l->n; i++) {
                double x = l->x[(size_t)i * l->stride], y = l->y[(size_t)i * l->stride];
                if (!isfinite(x) || !isfinite(y) || (log_y && y <= 0)) continue;
                sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\"><title>%g: %.6g</title>"
                          "</circle>", SX(x), SY(log_y ? log10(y) : y), x, y);
            }
        sb_puts(b, "</g>");
    }
#undef SX
#undef SY
    sb_puts(b, "</svg></figure>\n");
}

/* A bar chart of a list of numbers (bar i labelled by its index). */
static void svg_bars(sb *b, const char *title, const jv *arr) {
    int n = arr->n;
    double lo = 0, hi = 0;
    for (int i = 0; i < n; i++)
        if (arr->items[i].t == J_NUM) lo = fmin(lo, arr->items[i].num), hi = fmax(hi, arr->items[i].num);
    if (hi == lo) hi = lo + 1;
    int w = ML + MR + (n * 22 > 360 ? n * 22 : 360), pw = w - ML - MR, ph = CH - MT - MB;
    double top = hi + 0.05 * (hi - lo), bot = lo < 0 ? lo - 0.05 * (hi - lo) : 0;
#define BY(v) (MT + ph - ((v) - bot) / (top - bot) * ph)
    sb_puts(b, "<figure class=\"chart\"><figcaption>");
    sb_html(b, title);
    sb_printf(b, "</figcaption><svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
              "role=\"img\"><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
              "class=\"frame\"/>", w, CH, w, CH, ML, MT, pw, ph);
    double t[64];
    char buf[48];
    int nt = nn_axis_ticks(bot, top, 6, false, t, 64);
    for (int i = 0; i < nt; i++) {
        tick_text(buf, sizeof buf, t[i]);
        sb_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/>"
                  "<text x=\"%d\" y=\"%.1f\" class=\"ty\">%s</text>", ML, BY(t[i]), ML + pw,
                  BY(t[i]), ML - 5, BY(t[i]) + 4, buf);
    }
    double slot = (double)pw / n;
    for (int i = 0; i < n; i++) {
        double v = arr->items[i].t == J_NUM ? arr->items[i].num : 0, y = BY(fmax(v, 0)),
               h = fabs(BY(v) - BY(0));
        sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                  "<title>%d: %.6g</title></rect>", ML + i * slot + 0.15 * slot, y, 0.7 * slot,
                  h, COLORS[0], i, v);
        if (n <= 40 || i % 5 == 0)
            sb_printf(b, "<text x=\"%.1f\" y=\"%d\" class=\"tx\">%d</text>",
                      ML + (i + 0.5) * slot, MT + ph + 14, i);
    }
    sb_printf(b, "<text x=\"%d\" y=\"%d\" class=\"tx\">index</text></svg></figure>\n",
              ML + pw / 2, CH - 6);
#undef BY
}

/* Positive values spanning more than ~1.5 decades read better on a log axis. */
static bool wants_log(const line *ls, int nl) {
    double lo = INFINITY, hi = -INFINITY;
    for (int k = 0; k < nl; k++)
        for (int i = 0; i < ls[k].n; i++) {
            double y = ls[k].y[(size_t)i * ls[k].stride];
            if (!isfinite(y)) continue;
            if (y <= 0) return false;
            lo = fmin(lo, y), hi = fmax(hi, y);
        }
    return lo > 0 && hi / lo > 30;
}

/* ---- the page's frame ------------------------------------------------------------------- */

static const char *CSS =
    "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d1d1f;"
    "background:#f6f6f4}main{max-width:1240px;margin:0 auto;padding:18px 24px 60px}"
    "h1{font-size:24px;margin:8px 0 4px}h2{font-size:18px;margin:28px 0 10px;border-bottom:1px "
    "solid #ddd;padding-bottom:4px}h3{font-size:15px;margin:14px 0 6px}"
    "nav a{margin-right:14px}a{color:#0b5cad}.note{color:#666;font-size:13px}"
    "pre{background:#fff;border:1px solid #ddd;padding:8px 10px;overflow-x:auto;"
    "white-space:pre-wrap;word-break:break-all}"
    "table{border-collapse:collapse;background:#fff;margin:4px 0 10px}td,th{border:1px solid "
    "#ddd;padding:3px 10px;text-align:left;vertical-align:top}th{background:#eef0f3}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}tr.diff td{background:#fff3c4}"
    ".badge{display:inline-block;padding:1px 9px;border-radius:9px;font-size:13px;color:#fff;"
    "background:#2e7d32;vertical-align:middle}.badge.running{background:#c77700}"
    ".badge.stopped,.badge.failed{background:#b3261e}"
    ".charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(470px,1fr));gap:14px}"
    "figure{margin:0;background:#fff;border:1px solid #ddd;padding:8px}"
    "figure.chart figcaption{font-weight:600}figcaption{font-size:13px;color:#333}"
    "svg{max-width:100%;height:auto;display:block}.charts svg{width:100%}svg text{font:11px system-ui,sans-serif;"
    "fill:#333}svg .tx{text-anchor:middle}svg .ty{text-anchor:end}"
    "svg .frame{fill:none;stroke:#999}svg .grid{stroke:#e6e6e6}"
    "svg polyline{fill:none;stroke-width:1.8}svg circle{stroke:none}"
    ".legend span{margin-right:12px;font-size:12px;white-space:nowrap}.legend i{display:"
    "inline-block;width:14px;height:3px;margin:0 4px 3px 0;vertical-align:middle}"
    ".pics{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}"
    ".pics figure{max-width:100%}.pics img{display:block;max-width:100%;height:auto;"
    "image-rendering:pixelated}.pics code{color:#666;font-size:12px}"
    ".side{display:flex;flex-wrap:nowrap;gap:10px;align-items:flex-start}"
    ".side figure{flex:1 1 0;min-width:0}";

static void page_head(sb *b, const char *title, int refresh) {
    sb_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    if (refresh > 0) sb_printf(b, "<meta http-equiv=\"refresh\" content=\"%d\">\n", refresh);
    sb_puts(b, "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
               "<title>");
    sb_html(b, title);
    sb_printf(b, "</title>\n<style>%s</style></head>\n", CSS);
}

/* A picture link: the file name plus ?v=<mtime>, so a reload shows a rewritten picture. */
static void img_tag(sb *b, const char *prefix, const char *dir, const char *f, const char *alt) {
    char path[4096];
    join(path, sizeof path, dir, f);
    struct stat st;
    long v = stat(path, &st) == 0 ? (long)st.st_mtime : 0;
    sb_puts(b, "<a href=\"");
    sb_url(b, prefix), sb_url(b, f);
    sb_puts(b, "\"><img src=\"");
    sb_url(b, prefix), sb_url(b, f);
    sb_printf(b, "?v=%ld\" alt=\"", v);
    sb_html(b, alt);
    sb_puts(b, "\"></a>");
}

/* A table of figures: scalars as rows; lists get a bar chart each, after the table. */
static void figures(sb *b, const jv *o) {
    int scalars = 0;
    for (int k = 0; k < o->n; k++) scalars += o->items[k].t != J_ARR;
    if (scalars) sb_puts(b, "<table><tr><th>figure</th><th>value</th></tr>\n");
    for (int k = 0; k < o->n; k++) {
        if (o->items[k].t == J_ARR) continue;
        sb_puts(b, "<tr><td>");
        sb_html(b, o->keys[k]);
        sb_printf(b, "</td><td class=\"%s\">", o->items[k].t == J_NUM ? "num" : "");
        jtext(b, &o->items[k]);
        sb_puts(b, "</td></tr>\n");
    }
    if (scalars) sb_puts(b, "</table>\n");
    bool any = false;
    for (int k = 0; k < o->n; k++)
        if (o->items[k].t == J_ARR && o->items[k].n > 0) {
            if (!any) sb_puts(b, "<div class=\"charts\">");
            any = true;
            svg_bars(b, o->keys[k], &o->items[k]);
        }
    if (any) sb_puts(b, "</div>\n");
}

/* The log's charts: one per group of columns. */
/* The log's charts: one per group of columns.  A log of several runs (a `run` column, as
 * gan2d's repeated runs) gets one line per run and column, named "modes, run 2". */
static void log_charts(sb *b, const csv *c) {
    int xcol = csv_xcol(c), rcol = csv_col(c, "run");
    bool used[256] = {false};
    if (c->ncol > 256 || xcol < 0) return;
    /* The rows of each run: contiguous segments of one `run` value (at most 10). */
    int seg_start[11] = {0}, nseg = 1;
    for (int i = 1; rcol >= 0 && i < c->nrow && nseg <= 10; i++)
        if (c->v[(size_t)i * c->ncol + rcol] != c->v[(size_t)(i - 1) * c->ncol + rcol])
            seg_start[nseg++] = i;
    if (nseg > 10) nseg = 1; /* too many runs to tell apart: one line, broken where x falls */
    seg_start[nseg] = c->nrow;
    static char names[10][96];
    sb_puts(b, "<div class=\"charts\">\n");
    for (int k = 0; k < c->ncol; k++) {
        if (used[k] || skip_col(c, k, xcol)) continue;
        char key[128], other[128];
        group_key(c->names[k], key, sizeof key);
        line ls[10];
        int nl = 0, ncols = 0;
        for (int j = k; j < c->ncol && nl + nseg <= 10; j++) {
            if (used[j] || skip_col(c, j, xcol)) continue;
            group_key(c->names[j], other, sizeof other);
            if (strcmp(key, other)) continue;
            used[j] = true, ncols++;
            for (int g = 0; g < nseg; g++, nl++) {
                size_t off = (size_t)seg_start[g] * c->ncol;
                const char *name = c->names[j];
                if (nseg > 1) {
                    snprintf(names[nl], sizeof names[nl], "%s, run %g", c->names[j],
                             c->v[off + rcol]);
                    name = names[nl];
                }
                ls[nl] = (line){name, c->v + off + xcol, c->v + off + j,
                                seg_start[g + 1] - seg_start[g], c->ncol, nl};
            }
        }
        svg_lines(b, ncols > 1 ? key : c->names[k], c->names[xcol], ls, nl, wants_log(ls, nl));
    }
    sb_puts(b, "</div>\n");
}

static void settings_table(sb *b, const jv *s) {
    sb_puts(b, "<table><tr><th>setting</th><th>value</th></tr>\n");
    for (int k = 0; k < s->n; k++) {
        sb_puts(b, "<tr><td>");
        sb_html(b, s->keys[k]);
        sb_puts(b, "</td><td>");
        jtext(b, &s->items[k]);
        sb_puts(b, "</td></tr>\n");
    }
    sb_puts(b, "</table>\n");
}

static void status_badge(sb *b, const run_data *r) {
    const char *s = jstr(&r->run, "status");
    if (!s) return;
    sb_puts(b, " <span class=\"badge ");
    sb_html(b, s);
    sb_puts(b, "\">");
    sb_html(b, s);
    sb_puts(b, "</span>");
}

static const char *base_name(const char *path, char *buf, size_t n) {
    snprintf(buf, n, "%s", path);
    size_t k = strlen(buf);
    while (k > 1 && buf[k - 1] == '/') buf[--k] = 0;
    char *slash = strrchr(buf, '/');
    return slash && slash[1] ? slash + 1 : buf;
}

int report_write_page(const char *dir, const report_opts *o, nn_error *err) {
    if (!dir) ag_error("report_write_page", "dir is NULL");
    int refresh = o && o->refresh > 0 ? o->refresh : 10;
    run_data r;
    if (run_load(dir, &r, err)) return -1;
    char name[256], title[512], stamp[32];
    const char *program = jstr(&r.run, "program");
    snprintf(title, sizeof title, "%s%s%s", program ? program : "", program ? " — " : "",
             base_name(dir, name, sizeof name));
    time_t now = time(NULL);
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", localtime(&now));
    bool live = running(&r);
    sb b = {0};
    page_head(&b, title, live ? refresh : 0);
    sb_printf(&b, "<body data-rows=\"%d\" data-pictures=\"%d\"><main>\n<h1>", r.log.nrow, r.npng);
    sb_html(&b, title);
    status_badge(&b, &r);
    sb_printf(&b, "</h1>\n<p class=\"note\">written %s", stamp);
    if (live) sb_printf(&b, " &#183; the run is training: this page reloads every %d s", refresh);
    if (r.log.nrow) sb_printf(&b, " &#183; <span id=\"rows\">%d</span> rows in log.csv", r.log.nrow);
    sb_puts(&b, "</p>\n<nav>");
    if (r.result.n) sb_puts(&b, "<a href=\"#result\">result</a>");
    if (r.eval.n) sb_puts(&b, "<a href=\"#eval\">evaluation</a>");
    if (r.log.nrow) sb_puts(&b, "<a href=\"#curves\">curves</a>");
    if (r.npng) sb_puts(&b, "<a href=\"#pictures\">pictures</a>");
    if (jget(&r.run, "settings")) sb_puts(&b, "<a href=\"#settings\">settings</a>");
    sb_puts(&b, "</nav>\n");
    const char *cmd = jstr(&r.run, "command");
    if (cmd && *cmd) {
        sb_puts(&b, "<h2 id=\"command\">Command</h2><pre>");
        sb_html(&b, cmd);
        sb_puts(&b, "</pre>\n");
    }
    if (r.result.n) {
        sb_puts(&b, "<h2 id=\"result\">Result</h2>\n");
        figures(&b, &r.result);
    }
    if (r.eval.n) {
        sb_puts(&b, "<h2 id=\"eval\">Evaluation</h2>\n");
        figures(&b, &r.eval);
    }
    if (r.log.nrow) {
        sb_puts(&b, "<h2 id=\"curves\">Training curves</h2>\n");
        log_charts(&b, &r.log);
        sb_puts(&b, "<p class=\"note\">From <a href=\"log.csv\">log.csv</a>; hover a line for "
                    "its name, a point for its value.</p>\n");
    }
    if (r.npng) {
        sb_puts(&b, "<h2 id=\"pictures\">Pictures</h2>\n<div class=\"pics\">\n");
        for (int k = 0; k < r.npng; k++) {
            const char *cap = caption_of(&r, r.pngs[k]);
            sb_puts(&b, "<figure>");
            img_tag(&b, "", dir, r.pngs[k], cap ? cap : r.pngs[k]);
            sb_puts(&b, "<figcaption>");
            if (cap) sb_html(&b, cap), sb_puts(&b, " &#183; ");
            sb_puts(&b, "<code>");
            sb_html(&b, r.pngs[k]);
            sb_puts(&b, "</code></figcaption></figure>\n");
        }
        sb_puts(&b, "</div>\n");
    }
    const jv *set = jget(&r.run, "settings");
    if (set && set->t == J_OBJ) {
        sb_puts(&b, "<h2 id=\"settings\">Settings</h2>\n<p class=\"note\">What the checkpoint "
                    "remembers.</p>\n");
        settings_table(&b, set);
    }
    if (!r.result.n && !r.eval.n && !r.log.nrow && !r.npng && !cmd)
        sb_puts(&b, "<p>Nothing in this folder yet: no log.csv, pictures or run.json.</p>\n");
    sb_puts(&b, "</main></body></html>\n");
    char path[4096];
    join(path, sizeof path, dir, "index.html");
    int rc = write_atomic(path, b.s, b.n, err);
    free(b.s);
    run_free(&r);
    return rc;
}

/* ---- the compare page ------------------------------------------------------------------- */

/* The link from the folder `from` to `to` (both existing): relative when possible. */
static void rel_path(char *buf, size_t n, const char *from, const char *to) {
    char a[PATH_MAX], t[PATH_MAX];
    if (!realpath(from, a) || !realpath(to, t)) {
        snprintf(buf, n, "%s", to);
        return;
    }
    size_t common = 0; /* the longest shared prefix that ends at a component boundary */
    for (size_t i = 0;; i++) {
        bool end_a = !a[i] || a[i] == '/', end_t = !t[i] || t[i] == '/';
        if (end_a && end_t) common = i;
        if (!a[i] || !t[i] || a[i] != t[i]) break;
    }
    sb b = {0};
    sb_grow(&b, 0);
    b.s[0] = 0;
    for (const char *s = a + common; *s; s++)
        if (*s == '/' && s[1]) sb_puts(&b, b.n ? "/.." : "..");
    const char *rest = t + common;
    while (*rest == '/') rest++;
    if (*rest) {
        if (b.n) sb_puts(&b, "/");
        sb_puts(&b, rest);
    }
    snprintf(buf, n, "%s", b.n ? b.s : ".");
    free(b.s);
}

int report_write_compare(const char *page, const char *const *dirs, int n, nn_error *err) {
    if (!page || !dirs || n < 1) ag_error("report_write_compare", "need a page and runs");
    run_data *r = calloc((size_t)n, sizeof *r);
    if (!r) ag_error("report", "out of memory");
    int loaded = 0, rc = -1;
    char pdir[4096], name[256];
    snprintf(pdir, sizeof pdir, "%s", page);
    char *slash = strrchr(pdir, '/');
    if (slash) *slash = 0;
    else snprintf(pdir, sizeof pdir, ".");
    for (; loaded < n; loaded++)
        if (run_load(dirs[loaded], &r[loaded], err)) goto done;
    /* Labels: the folder's name, or its path when two runs share a name. */
    for (int i = 0; i < n; i++) {
        char mine[256];
        snprintf(r[i].label, sizeof r[i].label, "%s", base_name(dirs[i], mine, sizeof mine));
        for (int j = 0; j < n; j++)
            if (j != i && !strcmp(base_name(dirs[j], name, sizeof name), r[i].label)) {
                snprintf(r[i].label, sizeof r[i].label, "%s", dirs[i]);
                break;
            }
    }
    char **rel = calloc((size_t)n, sizeof *rel);
    if (!rel) ag_error("report", "out of memory");
    for (int i = 0; i < n; i++) {
        char buf[4096];
        rel_path(buf, sizeof buf, pdir, dirs[i]);
        size_t len = strlen(buf) + 2;
        rel[i] = malloc(len);
        if (!rel[i]) ag_error("report", "out of memory");
        else snprintf(rel[i], len, "%s/", buf);
    }
    sb b = {0};
    char title[64];
    snprintf(title, sizeof title, "henbun: %d runs compared", n);
    page_head(&b, title, 0);
    sb_printf(&b, "<body data-runs=\"%d\"><main>\n<h1>%s</h1>\n", n, title);
    sb_puts(&b, "<nav><a href=\"#result\">result</a><a href=\"#settings\">settings</a>"
                "<a href=\"#curves\">curves</a><a href=\"#pictures\">pictures</a></nav>\n");

    sb_puts(&b, "<h2 id=\"runs\">Runs</h2>\n<table id=\"runlist\"><tr><th>#</th><th>run</th>"
                "<th>program</th><th>status</th><th>epochs/rows</th><th>command</th></tr>\n");
    for (int i = 0; i < n; i++) {
        const char *prog = jstr(&r[i].run, "program"), *st = jstr(&r[i].run, "status"),
                   *cmd = jstr(&r[i].run, "command");
        sb_printf(&b, "<tr class=\"run\"><td style=\"white-space:nowrap\"><i style=\"display:inline-block;width:12px;"
                  "height:12px;background:%s\"></i> %d</td><td><a href=\"", COLORS[i % 10], i + 1);
        sb_url(&b, rel[i]);
        sb_puts(&b, "index.html\">");
        sb_html(&b, r[i].label);
        sb_puts(&b, "</a></td><td>");
        sb_html(&b, prog ? prog : "");
        sb_puts(&b, "</td><td>");
        sb_html(&b, st ? st : "");
        sb_printf(&b, "</td><td class=\"num\">%d</td><td><code>", r[i].log.nrow);
        sb_html(&b, cmd ? cmd : "");
        sb_puts(&b, "</code></td></tr>\n");
    }
    sb_puts(&b, "</table>\n");

    /* Result figures: one row per key in any run, one column per run. */
    sb_puts(&b, "<h2 id=\"result\">Result</h2>\n<table><tr><th>figure</th>");
    for (int i = 0; i < n; i++) sb_puts(&b, "<th>"), sb_html(&b, r[i].label), sb_puts(&b, "</th>");
    sb_puts(&b, "</tr>\n");
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            const jv *o = pass ? &r[i].eval : &r[i].result;
            for (int k = 0; k < o->n; k++) {
                bool seen = false; /* listed already by an earlier run */
                for (int j = 0; j < i && !seen; j++)
                    seen = jget(pass ? &r[j].eval : &r[j].result, o->keys[k]) != NULL;
                if (seen) continue;
                sb_puts(&b, "<tr><td>");
                sb_html(&b, o->keys[k]);
                if (pass) sb_puts(&b, " <span class=\"note\">(eval)</span>");
                sb_puts(&b, "</td>");
                for (int j = 0; j < n; j++) {
                    const jv *v = jget(pass ? &r[j].eval : &r[j].result, o->keys[k]);
                    sb_printf(&b, "<td class=\"num\">");
                    if (v) jtext(&b, v);
                    else sb_puts(&b, "&ndash;");
                    sb_puts(&b, "</td>");
                }
                sb_puts(&b, "</tr>\n");
            }
        }
    sb_puts(&b, "</table>\n");

    /* Settings: every key of any run; the rows whose values differ highlighted, first. */
    sb_puts(&b, "<h2 id=\"settings\">Settings</h2>\n<p class=\"note\">Highlighted: the "
                "settings that differ between the runs.</p>\n<table><tr><th>setting</th>");
    for (int i = 0; i < n; i++) sb_puts(&b, "<th>"), sb_html(&b, r[i].label), sb_puts(&b, "</th>");
    sb_puts(&b, "</tr>\n");
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) { /* the shared settings: folded away, one click to see */
            sb_puts(&b, "</table>\n<details><summary>the settings the runs share</summary>"
                        "<table><tr><th>setting</th>");
            for (int i = 0; i < n; i++)
                sb_puts(&b, "<th>"), sb_html(&b, r[i].label), sb_puts(&b, "</th>");
            sb_puts(&b, "</tr>\n");
        }
        for (int i = 0; i < n; i++) {
            const jv *s = jget(&r[i].run, "settings");
            for (int k = 0; s && s->t == J_OBJ && k < s->n; k++) {
                bool seen = false, differ = false;
                for (int j = 0; j < i && !seen; j++) seen = jget(jget(&r[j].run, "settings"), s->keys[k]);
                if (seen) continue;
                char v0[512], vj[512];
                jtext_plain(v0, sizeof v0, &s->items[k]);
                for (int j = 0; j < n; j++) {
                    const jv *v = jget(jget(&r[j].run, "settings"), s->keys[k]);
                    if (!v) { differ = true; continue; }
                    jtext_plain(vj, sizeof vj, v);
                    if (strcmp(v0, vj)) differ = true;
                }
                if (differ != (pass == 0)) continue;
                sb_printf(&b, "<tr%s><td>", differ ? " class=\"diff\"" : "");
                sb_html(&b, s->keys[k]);
                sb_puts(&b, "</td>");
                for (int j = 0; j < n; j++) {
                    const jv *v = jget(jget(&r[j].run, "settings"), s->keys[k]);
                    sb_puts(&b, "<td>");
                    if (v) jtext(&b, v);
                    else sb_puts(&b, "&ndash;");
                    sb_puts(&b, "</td>");
                }
                sb_puts(&b, "</tr>\n");
            }
        }
    }
    sb_puts(&b, "</table></details>\n");

    /* Curves: each log column (by name, in any run) with one line per run that has it. */
    sb_puts(&b, "<h2 id=\"curves\">Curves</h2>\n<div class=\"charts\">\n");
    for (int i = 0; i < n; i++) {
        const csv *c = &r[i].log;
        for (int k = 0; k < c->ncol; k++) {
            if (skip_col(c, k, csv_xcol(c))) continue;
            bool seen = false;
            for (int j = 0; j < i && !seen; j++) seen = csv_col(&r[j].log, c->names[k]) >= 0 &&
                                                        !skip_col(&r[j].log, csv_col(&r[j].log, c->names[k]), csv_xcol(&r[j].log));
            if (seen) continue;
            line ls[10];
            int nl = 0;
            for (int j = 0; j < n && nl < 10; j++) {
                const csv *d = &r[j].log;
                int col = csv_col(d, c->names[k]), x = csv_xcol(d);
                if (col < 0 || col == x) continue;
                ls[nl++] = (line){r[j].label, d->v + x, d->v + col, d->nrow, d->ncol, j};
            }
            /* Colours follow the run: a run without this column leaves its colour unused. */
            svg_lines(&b, c->names[k], c->names[csv_xcol(c)], ls, nl, wants_log(ls, nl));
        }
    }
    sb_puts(&b, "</div>\n");

    /* Pictures of the same name side by side. */
    sb_puts(&b, "<h2 id=\"pictures\">Pictures</h2>\n");
    for (int i = 0; i < n; i++)
        for (int k = 0; k < r[i].npng; k++) {
            const char *f = r[i].pngs[k];
            bool seen = false;
            for (int j = 0; j < i && !seen; j++)
                for (int q = 0; q < r[j].npng && !seen; q++) seen = !strcmp(r[j].pngs[q], f);
            if (seen) continue;
            const char *cap = caption_of(&r[i], f);
            sb_puts(&b, "<h3>");
            sb_html(&b, f);
            if (cap) sb_puts(&b, " <span class=\"note\">"), sb_html(&b, cap), sb_puts(&b, "</span>");
            sb_puts(&b, "</h3>\n<div class=\"side pics\">");
            for (int j = 0; j < n; j++)
                for (int q = 0; q < r[j].npng; q++)
                    if (!strcmp(r[j].pngs[q], f)) {
                        sb_puts(&b, "<figure>");
                        img_tag(&b, rel[j], r[j].dir, f, r[j].label);
                        sb_puts(&b, "<figcaption>");
                        sb_html(&b, r[j].label);
                        sb_puts(&b, "</figcaption></figure>");
                    }
            sb_puts(&b, "</div>\n");
        }
    sb_puts(&b, "</main></body></html>\n");
    rc = write_atomic(page, b.s, b.n, err);
    free(b.s);
    for (int i = 0; i < n; i++) free(rel[i]);
    free(rel);
done:
    for (int i = 0; i < loaded; i++) run_free(&r[i]);
    free(r);
    return rc;
}
