/* spec.c — the spec-text parser: "conv 32 k4 s2 p1, relu, flatten, linear 40" becomes the
 * same nn_spec array a C programmer would write with the NN_* macros.  The grammar and
 * every key are documented in docs/spec.md; errors name the column (in characters: a UTF-8
 * character is one column) and quote whole words, non-ASCII letters included, and
 * nn_spec_caret shows the text with a caret under that column. */
#include "nn/layer.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const nn_layer_type *const builtin[] = {
    &nn_linear_type, &nn_conv_type, &nn_convt_type, &nn_maxpool_type, &nn_avgpool_type,
    &nn_batchnorm_type, &nn_layernorm_type, &nn_dropout_type, &nn_flatten_type,
    &nn_reshape_type, &nn_relu_type, &nn_leaky_relu_type, &nn_elu_type, &nn_tanh_type,
    &nn_sigmoid_type, &nn_softplus_type, &nn_exp_type, &nn_linear_sn_type, &nn_conv_sn_type,
    NULL};

static const nn_layer_type *lookup(const char *name, size_t len,
                                   const nn_layer_type *const *extra) {
    for (int pass = 0; pass < 2; pass++) {
        const nn_layer_type *const *table = pass ? builtin : extra;
        for (int i = 0; table && table[i]; i++)
            if (strlen(table[i]->name) == len && strncmp(table[i]->name, name, len) == 0)
                return table[i];
    }
    return NULL;
}

static int known_names(char *buf, size_t n, const nn_layer_type *const *extra) {
    size_t k = 0;
    for (int pass = 0; pass < 2; pass++) {
        const nn_layer_type *const *table = pass ? builtin : extra;
        for (int i = 0; table && table[i] && k < n; i++)
            k += (size_t)snprintf(buf + k, n - k, "%s%s", k ? ", " : "", table[i]->name);
    }
    return 0;
}

typedef struct {
    const char *text, *p;
    nn_error *err;
} parser;

/* UTF-8 continuation bytes (10xxxxxx) do not start a character. */
static bool continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

static int chars_between(const char *from, const char *to) {
    int n = 0;
    for (const char *q = from; q < to; q++) n += !continuation((unsigned char)*q);
    return n;
}

static int col(const parser *ps, const char *at) { return chars_between(ps->text, at) + 1; }

static void skip_spaces(parser *ps) {
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r') ps->p++;
}

/* A whole word: letters, digits, '_', '.', '=', ':', '-', '+', and any non-ASCII byte, so
 * that a word with a non-ASCII letter ("linéar") is reported whole and not cut before it. */
static size_t word_len(const char *p) {
    size_t n = 0;
    while (p[n] && (isalnum((unsigned char)p[n]) || (unsigned char)p[n] >= 0x80 ||
                    strchr("_.=:-+", p[n])))
        n++;
    return n;
}

static bool has_non_ascii(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] >= 0x80) return true;
    return false;
}

static int parse_int(parser *ps, const char *s, size_t len, int *out, const char *what) {
    char buf[32];
    if (len == 0 || len >= sizeof buf) goto bad;
    memcpy(buf, s, len);
    buf[len] = 0;
    char *end;
    errno = 0;
    long v = strtol(buf, &end, 10);
    if (*end || errno || v < 0 || v > 1000000) goto bad;
    *out = (int)v;
    return 0;
bad:
    return nn_fail(ps->err, "spec:%d: expected %s (a whole number), got '%.*s'", col(ps, s),
                   what, (int)len, s);
}

static int parse_real(parser *ps, const char *s, size_t len, double *out, const char *what) {
    char buf[48];
    if (len == 0 || len >= sizeof buf) goto bad;
    memcpy(buf, s, len);
    buf[len] = 0;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (*end || errno) goto bad;
    /* strtod also reads "-nan" and "-inf": no rate, slope, eps or deviation means anything
     * there, and a NaN slips past range checks such as dropout's "0 <= p < 1". */
    if (!isfinite(v))
        return nn_fail(ps->err, "spec:%d: %s must be a finite number, got '%.*s'", col(ps, s),
                       what, (int)len, s);
    *out = v;
    return 0;
bad:
    return nn_fail(ps->err, "spec:%d: expected %s (a number), got '%.*s'", col(ps, s), what,
                   (int)len, s);
}

static int parse_init(parser *ps, const char *s, size_t len, nn_spec *sp) {
    /* init=he | init=xavier | init=torch | init=normal:0.02 */
    const char *v = s + 5;
    size_t vl = len - 5;
    if (vl == 2 && !strncmp(v, "he", 2)) sp->init = NN_INIT_HE;
    else if (vl == 6 && !strncmp(v, "xavier", 6)) sp->init = NN_INIT_XAVIER;
    else if (vl == 5 && !strncmp(v, "torch", 5)) sp->init = NN_INIT_TORCH;
    else if (vl > 7 && !strncmp(v, "normal:", 7)) {
        sp->init = NN_INIT_NORMAL;
        return parse_real(ps, v + 7, vl - 7, &sp->init_std, "a standard deviation");
    } else
        return nn_fail(ps->err, "spec:%d: unknown init '%.*s' (he, xavier, torch, normal:STD)",
                       col(ps, v), (int)vl, v);
    return 0;
}

static int parse_layer(parser *ps, const nn_layer_type *const *extra, nn_spec *sp) {
    skip_spaces(ps);
    const char *name = ps->p;
    size_t len = word_len(name);
    if (len == 0 && !*name)
        return nn_fail(ps->err, "spec:%d: expected a layer name at the end (a trailing comma?)",
                       col(ps, name));
    if (len == 0)
        return nn_fail(ps->err, "spec:%d: expected a layer name, got '%c'", col(ps, name), *name);
    const nn_layer_type *ty = lookup(name, len, extra);
    if (!ty) {
        char known[512];
        known_names(known, sizeof known, extra);
        return nn_fail(ps->err, "spec:%d: unknown layer '%.*s'%s (known: %s)", col(ps, name),
                       (int)len, name, has_non_ascii(name, len) ? " (a non-ASCII letter: layer "
                       "names are plain ASCII)" : "", known);
    }
    memset(sp, 0, sizeof *sp);
    sp->type = ty;
    ps->p += len;
    sp->text = name;
    sp->text_len = (int)len;
    int positional = 0;
    for (;;) {
        skip_spaces(ps);
        if (!*ps->p || *ps->p == ',') break;
        const char *w = ps->p;
        size_t wl = word_len(w);
        sp->text_len = (int)(w + wl - name);
        if (wl == 0)
            return nn_fail(ps->err, "spec:%d: unexpected '%c' in '%s' (layers are separated "
                                    "by commas)", col(ps, w), *w, ty->name);
        ps->p += wl;
        if (wl > 5 && !strncmp(w, "init=", 5)) {
            if (parse_init(ps, w, wl, sp)) return -1;
            continue;
        }
        bool numeric = isdigit((unsigned char)w[0]) || w[0] == '.' || w[0] == '-';
        if (!numeric && ty->keys) {
            int *slot = NULL;
            size_t kl = 1;
            if (wl > 2 && !strncmp(w, "op", 2)) slot = &sp->op, kl = 2;
            else if (w[0] == 'k') slot = &sp->k;
            else if (w[0] == 's') slot = &sp->s;
            else if (w[0] == 'p') slot = &sp->p;
            if (slot && wl > kl && isdigit((unsigned char)w[kl])) {
                if (parse_int(ps, w + kl, wl - kl, slot, "a size after the key")) return -1;
                continue;
            }
            return nn_fail(ps->err, "spec:%d: unknown key '%.*s' for %s (usage: %s)",
                           col(ps, w), (int)wl, w, ty->name, ty->usage);
        }
        if (!numeric)
            return nn_fail(ps->err, "spec:%d: unexpected '%.*s' after %s (usage: %s)",
                           col(ps, w), (int)wl, w, ty->name, ty->usage);
        switch (ty->arg) {
        case NN_ARG_INT:
            if (positional) goto too_many;
            if (parse_int(ps, w, wl, &sp->n, "a size")) return -1;
            break;
        case NN_ARG_REAL:
        case NN_ARG_REAL_OPT:
            if (positional) goto too_many;
            if (parse_real(ps, w, wl, &sp->f, "a value")) return -1;
            break;
        case NN_ARG_SHAPE:
            if (positional == NN_MAX_SHAPE) goto too_many;
            if (parse_int(ps, w, wl, &sp->shape[positional], "a dimension")) return -1;
            sp->ndim = positional + 1;
            break;
        case NN_ARG_NONE:
            goto too_many;
        }
        positional++;
        continue;
    too_many:
        return nn_fail(ps->err, "spec:%d: too many numbers for %s (usage: %s)", col(ps, w),
                       ty->name, ty->usage);
    }
    if (positional == 0 && (ty->arg == NN_ARG_INT || ty->arg == NN_ARG_REAL ||
                            ty->arg == NN_ARG_SHAPE))
        return nn_fail(ps->err, "spec:%d: %s needs a number (usage: %s)", col(ps, ps->p),
                       ty->name, ty->usage);
    return 0;
}

int nn_spec_parse(const char *text, const nn_layer_type *const *extra, nn_spec *out, int max,
                  nn_error *err) {
    parser ps = {text, text, err};
    int n = 0;
    skip_spaces(&ps);
    if (!*ps.p) return nn_fail(err, "spec:1: empty spec (expected layers such as 'linear 400, relu')");
    for (;;) {
        if (n + 1 >= max) return nn_fail(err, "spec:%d: more than %d layers", col(&ps, ps.p), max - 1);
        if (parse_layer(&ps, extra, &out[n]) != 0) return -1;
        n++;
        skip_spaces(&ps);
        if (!*ps.p) break;
        ps.p++; /* the comma */
    }
    memset(&out[n], 0, sizeof out[n]);
    return n;
}

/* ---- showing where an error is ------------------------------------------------------------ */

enum { CARET_WINDOW = 100 }; /* characters of a long line shown around the column */

/* Writes text[from, to) with control characters but tab shown as '?'; returns nothing. */
static void put_visible(FILE *f, const char *from, const char *to) {
    for (const char *q = from; q < to; q++)
        fputc((unsigned char)*q < 0x20 && *q != '\t' ? '?' : *q, f);
}

void nn_spec_caret(FILE *f, const char *text, int col) {
    if (!f || !text) return;
    if (col < 1) col = 1;
    /* the byte where column col starts (or the end of the text) */
    const char *at = text;
    for (int c = 1; *at && c < col; c++)
        do at++; while (*at && continuation((unsigned char)*at));
    /* the line holding it */
    const char *start = at, *end = at;
    while (start > text && start[-1] != '\n') start--;
    while (*end && *end != '\n') end++;
    /* a long line: a window of about CARET_WINDOW characters around the column */
    const char *from = start, *to = end;
    bool cut_left = false, cut_right = false;
    if (chars_between(start, end) > CARET_WINDOW) {
        while (from < at && chars_between(from, at) > CARET_WINDOW / 2) {
            do from++; while (from < at && continuation((unsigned char)*from));
            cut_left = true;
        }
        to = from;
        for (int c = 0; to < end && c < CARET_WINDOW; c++)
            do to++; while (to < end && continuation((unsigned char)*to));
        cut_right = to < end;
    }
    fputs("  ", f);
    if (cut_left) fputs("...", f);
    put_visible(f, from, to);
    if (cut_right) fputs("...", f);
    fputs("\n  ", f);
    if (cut_left) fputs("   ", f);
    for (const char *q = from; q < at; q++) /* a tab stays a tab, so the caret lines up */
        if (!continuation((unsigned char)*q)) fputc(*q == '\t' ? '\t' : ' ', f);
    fputs("^\n", f);
}

void nn_spec_print_error(FILE *f, const char *prefix, const char *text, const char *msg) {
    if (!f || !msg) return;
    if (prefix) fprintf(f, "%s: %s\n", prefix, msg);
    else fprintf(f, "%s\n", msg);
    int c = 0;
    if (text && sscanf(msg, "spec:%d:", &c) == 1 && c >= 1) nn_spec_caret(f, text, c);
}
