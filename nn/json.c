/* json.c — the JSON reader and writer of nn/json.h: a recursive-descent parser over a byte
 * range (RFC 8259 grammar, UTF-8 checked), nodes in one growing array, decoded strings in
 * one growing character pool.  Recursion is bounded by NN_JSON_MAX_DEPTH, so a text of
 * nested brackets cannot exhaust the stack. */
#include "nn/json.h"

#include <stdlib.h>
#include <string.h>

typedef struct parser {
    nn_json *doc;
    const unsigned char *s;
    size_t len, i;
    size_t err_pos;
    const char *err;
} parser;

static int fail(parser *p, size_t pos, const char *msg) {
    if (!p->err) {
        p->err = msg;
        p->err_pos = pos;
    }
    return -1;
}

/* ---- storage ------------------------------------------------------------------------------ */

static int new_node(parser *p, nn_json_kind kind, size_t pos) {
    nn_json *d = p->doc;
    if (d->n == d->max) return fail(p, pos, "too many values");
    if (d->n == d->cap) {
        int cap = d->cap ? (d->cap < d->max / 2 ? 2 * d->cap : d->max) : 16;
        nn_json_node *n = realloc(d->nodes, sizeof *n * (size_t)cap);
        if (!n) return fail(p, pos, "out of memory");
        d->nodes = n;
        d->cap = cap;
    }
    d->nodes[d->n] = (nn_json_node){.kind = kind, .pos = pos, .first = -1, .next = -1};
    return d->n++;
}

static int put_char(parser *p, char c) {
    nn_json *d = p->doc;
    if (d->nchars == d->chars_cap) {
        size_t cap = d->chars_cap ? 2 * d->chars_cap : 256;
        char *b = realloc(d->chars, cap);
        if (!b) return fail(p, p->i, "out of memory");
        d->chars = b;
        d->chars_cap = cap;
    }
    d->chars[d->nchars++] = c;
    return 0;
}

static int put_utf8(parser *p, uint32_t cp) { /* cp < 0x110000, not a surrogate */
    if (cp < 0x80) return put_char(p, (char)cp);
    if (cp < 0x800)
        return put_char(p, (char)(0xC0 | cp >> 6)) | put_char(p, (char)(0x80 | (cp & 0x3F)));
    if (cp < 0x10000)
        return put_char(p, (char)(0xE0 | cp >> 12)) |
               put_char(p, (char)(0x80 | (cp >> 6 & 0x3F))) |
               put_char(p, (char)(0x80 | (cp & 0x3F)));
    return put_char(p, (char)(0xF0 | cp >> 18)) | put_char(p, (char)(0x80 | (cp >> 12 & 0x3F))) |
           put_char(p, (char)(0x80 | (cp >> 6 & 0x3F))) | put_char(p, (char)(0x80 | (cp & 0x3F)));
}

/* ---- lexing ------------------------------------------------------------------------------- */

static void skip_space(parser *p) {
    while (p->i < p->len && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
                             p->s[p->i] == '\r'))
        p->i++;
}

/* Length of the valid UTF-8 sequence at s[0..n) (its first byte >= 0x80), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    size_t k;
    uint32_t cp, min;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) k = 2, cp = s[0] & 0x1F, min = 0x80;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF) k = 3, cp = s[0] & 0x0F, min = 0x800;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4) k = 4, cp = s[0] & 0x07, min = 0x10000;
    else return 0;
    if (k > n) return 0;
    for (size_t j = 1; j < k; j++) {
        if ((s[j] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[j] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return k;
}

static int hex4(parser *p, size_t at, uint32_t *out) {
    if (p->len - at < 4) return fail(p, at, "truncated \\u escape");
    uint32_t v = 0;
    for (size_t j = at; j < at + 4; j++) {
        unsigned c = p->s[j];
        int h = c >= '0' && c <= '9' ? (int)c - '0'
              : c >= 'a' && c <= 'f' ? (int)c - 'a' + 10
              : c >= 'A' && c <= 'F' ? (int)c - 'A' + 10 : -1;
        if (h < 0) return fail(p, j, "\\u must be followed by four hex digits");
        v = v << 4 | (uint32_t)h;
    }
    *out = v;
    return 0;
}

/* A string at p->i (which is '"'): decoded into the pool; *off and *n say where. */
static int parse_string(parser *p, size_t *off, size_t *n) {
    size_t start = p->i++;
    *off = p->doc->nchars;
    for (;;) {
        if (p->i >= p->len) return fail(p, start, "unterminated string");
        unsigned char c = p->s[p->i];
        if (c == '"') {
            p->i++;
            break;
        }
        if (c < 0x20) return fail(p, p->i, "control character in a string (escape it)");
        if (c >= 0x80) {
            size_t k = utf8_len(p->s + p->i, p->len - p->i);
            if (!k) return fail(p, p->i, "invalid UTF-8 in a string");
            for (size_t j = 0; j < k; j++)
                if (put_char(p, (char)p->s[p->i + j])) return -1;
            p->i += k;
            continue;
        }
        if (c != '\\') {
            if (put_char(p, (char)c)) return -1;
            p->i++;
            continue;
        }
        if (p->i + 1 >= p->len) return fail(p, start, "unterminated string");
        size_t esc = p->i;
        char e = (char)p->s[p->i + 1], out;
        p->i += 2;
        switch (e) {
        case '"': out = '"'; break;
        case '\\': out = '\\'; break;
        case '/': out = '/'; break;
        case 'b': out = '\b'; break;
        case 'f': out = '\f'; break;
        case 'n': out = '\n'; break;
        case 'r': out = '\r'; break;
        case 't': out = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            if (hex4(p, p->i, &cp)) return -1;
            p->i += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(p, esc, "lone low surrogate");
            if (cp >= 0xD800 && cp <= 0xDBFF) { /* must pair with \uDC00..\uDFFF */
                if (p->len - p->i < 6 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u')
                    return fail(p, esc, "high surrogate without its low half");
                if (hex4(p, p->i + 2, &lo)) return -1;
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return fail(p, esc, "high surrogate without its low half");
                p->i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (put_utf8(p, cp)) return -1;
            continue;
        }
        default: return fail(p, esc, "unknown escape in a string");
        }
        if (put_char(p, out)) return -1;
    }
    *n = p->doc->nchars - *off;
    return put_char(p, 0);
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?  — kept as text; see nn_json_uint. */
static int parse_number(parser *p, int node) {
    const unsigned char *s = p->s;
    size_t start = p->i, i = p->i, n = p->len;
#define DIGITS(what)                                                                   \
    do {                                                                               \
        if (i >= n || s[i] < '0' || s[i] > '9') return fail(p, i, "expected a digit " what); \
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;                               \
    } while (0)
    if (i < n && s[i] == '-') i++;
    if (i < n && s[i] == '0') i++;
    else DIGITS("in a number");
    if (i < n && s[i] == '.') {
        i++;
        DIGITS("after the decimal point");
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        DIGITS("in the exponent");
    }
#undef DIGITS
    p->doc->nodes[node].str = start;
    p->doc->nodes[node].len = i - start;
    p->i = i;
    return 0;
}

typedef struct key_ref {
    const char *s;
    size_t n, pos;
} key_ref;

static int cmp_key_ref(const void *a, const void *b) {
    const key_ref *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, n);
    if (c) return c;
    if (x->n != y->n) return x->n < y->n ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos; /* the later one is reported */
}

/* An object's keys must be unique: sorted copies, neighbours compared. */
static int check_duplicates(parser *p, int obj) {
    nn_json *d = p->doc;
    int n = d->nodes[obj].count;
    if (n < 2) return 0;
    key_ref *k = malloc(sizeof *k * (size_t)n);
    if (!k) return fail(p, d->nodes[obj].pos, "out of memory");
    int j = 0;
    for (int c = d->nodes[obj].first; c >= 0; c = d->nodes[c].next, j++)
        k[j] = (key_ref){d->chars + d->nodes[c].key, d->nodes[c].key_len, d->nodes[c].key_pos};
    qsort(k, (size_t)n, sizeof *k, cmp_key_ref);
    size_t dup = 0;
    bool found = false;
    for (int i = 1; i < n; i++)
        if (k[i].n == k[i - 1].n && memcmp(k[i].s, k[i - 1].s, k[i].n) == 0 &&
            (!found || k[i].pos < dup)) {
            dup = k[i].pos;
            found = true;
        }
    free(k);
    return found ? fail(p, dup, "duplicate key in an object") : 0;
}

static int parse_value(parser *p, int depth);

/* '[' or '{' at p->i: children appended and linked. */
static int parse_container(parser *p, int node, bool object, int depth) {
    char close = object ? '}' : ']';
    int last = -1;
    p->i++;
    skip_space(p);
    if (p->i < p->len && p->s[p->i] == close) {
        p->i++;
        return 0;
    }
    for (;;) {
        size_t key = 0, key_len = 0, key_pos = 0;
        skip_space(p);
        if (object) {
            key_pos = p->i;
            if (p->i >= p->len || p->s[p->i] != '"') return fail(p, p->i, "expected a key string");
            if (parse_string(p, &key, &key_len)) return -1;
            skip_space(p);
            if (p->i >= p->len || p->s[p->i] != ':') return fail(p, p->i, "expected ':' after the key");
            p->i++;
            skip_space(p);
        }
        int child = parse_value(p, depth + 1);
        if (child < 0) return -1;
        nn_json_node *c = &p->doc->nodes[child];
        c->key = key;
        c->key_len = key_len;
        c->key_pos = key_pos;
        if (last < 0) p->doc->nodes[node].first = child;
        else p->doc->nodes[last].next = child;
        last = child;
        p->doc->nodes[node].count++;
        skip_space(p);
        if (p->i < p->len && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->len && p->s[p->i] == close) {
            p->i++;
            return object ? check_duplicates(p, node) : 0;
        }
        return fail(p, p->i, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static bool literal(parser *p, const char *word) {
    size_t n = strlen(word);
    if (p->len - p->i < n || memcmp(p->s + p->i, word, n) != 0) return false;
    p->i += n;
    return true;
}

/* The value at p->i (whitespace already skipped); returns its node index or -1. */
static int parse_value(parser *p, int depth) {
    if (depth > NN_JSON_MAX_DEPTH) return fail(p, p->i, "nested too deeply");
    if (p->i >= p->len) return fail(p, p->i, "expected a value, found the end of the text");
    size_t pos = p->i;
    unsigned char c = p->s[p->i];
    int node;
    if (c == '{' || c == '[') {
        if ((node = new_node(p, c == '{' ? NN_JSON_OBJECT : NN_JSON_ARRAY, pos)) < 0) return -1;
        return parse_container(p, node, c == '{', depth) ? -1 : node;
    }
    if (c == '"') {
        if ((node = new_node(p, NN_JSON_STRING, pos)) < 0) return -1;
        size_t off, n;
        if (parse_string(p, &off, &n)) return -1;
        p->doc->nodes[node].str = off;
        p->doc->nodes[node].len = n;
        return node;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        if ((node = new_node(p, NN_JSON_NUMBER, pos)) < 0) return -1;
        return parse_number(p, node) ? -1 : node;
    }
    if (literal(p, "true")) return new_node(p, NN_JSON_TRUE, pos);
    if (literal(p, "false")) return new_node(p, NN_JSON_FALSE, pos);
    if (literal(p, "null")) return new_node(p, NN_JSON_NULL, pos);
    return fail(p, pos, "expected a value (object, array, string, number, true, false, null)");
}

int nn_json_parse(nn_json *doc, const char *text, size_t len, int max_values, size_t *err_pos,
                  const char **err_msg) {
    *doc = (nn_json){.text = text, .text_len = len,
                     .max = max_values > 0 && max_values < (1 << 30) ? max_values : 1 << 30};
    parser p = {.doc = doc, .s = (const unsigned char *)text, .len = len};
    skip_space(&p);
    if (parse_value(&p, 0) >= 0) {
        skip_space(&p);
        if (p.i != len) fail(&p, p.i, "unexpected text after the value");
    }
    if (p.err) {
        if (err_pos) *err_pos = p.err_pos;
        if (err_msg) *err_msg = p.err;
        return -1;
    }
    return 0;
}

void nn_json_free(nn_json *doc) {
    free(doc->nodes);
    free(doc->chars);
    *doc = (nn_json){0};
}

const char *nn_json_str(const nn_json *doc, int node) { return doc->chars + doc->nodes[node].str; }
const char *nn_json_key(const nn_json *doc, int node) { return doc->chars + doc->nodes[node].key; }

bool nn_json_uint(const nn_json *doc, int node, uint64_t *out) {
    const nn_json_node *v = &doc->nodes[node];
    if (v->kind != NN_JSON_NUMBER) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < v->len; i++) {
        unsigned c = (unsigned char)doc->text[v->str + i];
        if (c < '0' || c > '9') return false; /* a sign, fraction or exponent */
        if (x > (UINT64_MAX - (c - '0')) / 10) return false;
        x = 10 * x + (c - '0');
    }
    *out = x;
    return true;
}

/* ---- writing ------------------------------------------------------------------------------ */

bool nn_json_utf8_ok(const char *s) {
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = utf8_len(u + i, n - i);
        if (!k) return false;
        i += k;
    }
    return true;
}

void nn_json_raw(nn_json_out *o, const char *s, size_t n) {
    if (o->oom) return;
    if (o->cap - o->len < n + 1) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap - o->len < n + 1) cap *= 2;
        char *b = realloc(o->buf, cap);
        if (!b) {
            o->oom = true;
            return;
        }
        o->buf = b;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = 0;
}

void nn_json_string(nn_json_out *o, const char *s) {
    nn_json_raw(o, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        if (*c == '"' || *c == '\\') {
            esc[0] = '\\', esc[1] = (char)*c;
            nn_json_raw(o, esc, 2);
        } else if (*c < 0x20) { /* \n, \t and the rest as \u00XX: always valid */
            static const char hex[] = "0123456789abcdef";
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[*c >> 4], esc[5] = hex[*c & 15];
            nn_json_raw(o, esc, 6);
        } else {
            nn_json_raw(o, (const char *)c, 1);
        }
    }
    nn_json_raw(o, "\"", 1);
}

void nn_json_uint_out(nn_json_out *o, uint64_t x) {
    char b[24];
    int i = 24;
    do b[--i] = (char)('0' + x % 10); while (x /= 10);
    nn_json_raw(o, b + i, (size_t)(24 - i));
}
