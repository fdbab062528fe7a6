/* fuzz_safetensors.c — libFuzzer target for the .safetensors reader (nn/safetensors.c) and
 * the JSON reader and writer under it (nn/json.c).
 *
 * Each input is used three ways:
 *   - as JSON text: nn_json_parse; when it parses, the tree is walked (every child count
 *     must match its links), written back with the JSON writer and parsed again, and the
 *     second tree must equal the first — the writer's escapes and the reader agree;
 *   - as a file: nn_safetensors_open, print, metadata look-ups, and loads into the small
 *     model of fuzz_common.h (strict, and weights-only with Adam's state optional);
 *   - as the same file with its length prefix rewritten to end the header at the input's
 *     last '}', so mutations of the JSON keep reaching the entry and layout checks instead
 *     of failing at the length.
 * A crash, sanitizer report, leak or abort means a downloaded file can take down the program
 * that loads it.  The loader's all-or-nothing promise is checked too: after a failed load
 * no tensor has changed. */
#include "nn/json.h"
#include "tests/fuzz/fuzz_common.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- JSON: parse, write back, parse again ----------------------------------------------- */

static void write_node(const nn_json *d, int i, nn_json_out *o) {
    const nn_json_node *v = &d->nodes[i];
    switch (v->kind) {
    case NN_JSON_NULL: nn_json_raw(o, "null", 4); break;
    case NN_JSON_TRUE: nn_json_raw(o, "true", 4); break;
    case NN_JSON_FALSE: nn_json_raw(o, "false", 5); break;
    case NN_JSON_NUMBER: nn_json_raw(o, d->text + v->str, v->len); break;
    case NN_JSON_STRING:
        /* embedded NULs (from \u0000) cannot pass through a C string: the writer's users
         * never have them; cut there, and compare only up to it */
        nn_json_string(o, nn_json_str(d, i));
        break;
    case NN_JSON_ARRAY:
    case NN_JSON_OBJECT: {
        bool obj = v->kind == NN_JSON_OBJECT;
        nn_json_raw(o, obj ? "{" : "[", 1);
        int count = 0;
        for (int c = v->first; c >= 0; c = d->nodes[c].next, count++) {
            if (c <= i) __builtin_trap(); /* children come after their parent */
            if (count) nn_json_raw(o, ",", 1);
            if (obj) {
                nn_json_string(o, nn_json_key(d, c));
                nn_json_raw(o, ":", 1);
            }
            write_node(d, c, o);
        }
        if (count != v->count) __builtin_trap();
        nn_json_raw(o, obj ? "}" : "]", 1);
        break;
    }
    }
}

/* Same structure and (NUL-cut) strings. */
static bool same_tree(const nn_json *a, int i, const nn_json *b, int j) {
    const nn_json_node *x = &a->nodes[i], *y = &b->nodes[j];
    if (x->kind != y->kind || x->count != y->count) return false;
    if (x->kind == NN_JSON_STRING && strcmp(nn_json_str(a, i), nn_json_str(b, j))) return false;
    if (x->kind == NN_JSON_NUMBER &&
        (x->len != y->len || memcmp(a->text + x->str, b->text + y->str, x->len)))
        return false;
    for (int c = x->first, e = y->first; c >= 0; c = a->nodes[c].next, e = b->nodes[e].next) {
        if (x->kind == NN_JSON_OBJECT && strcmp(nn_json_key(a, c), nn_json_key(b, e))) return false;
        if (!same_tree(a, c, b, e)) return false;
    }
    return true;
}

static bool has_nul(const nn_json *d) {
    for (int i = 0; i < d->n; i++)
        if ((d->nodes[i].kind == NN_JSON_STRING && strlen(nn_json_str(d, i)) != d->nodes[i].len) ||
            (d->nodes[i].key_len && strlen(nn_json_key(d, i)) != d->nodes[i].key_len))
            return true;
    return false;
}

static void try_json(const uint8_t *data, size_t size) {
    nn_json a, b;
    size_t pos;
    const char *why;
    if (nn_json_parse(&a, (const char *)data, size, 0, &pos, &why) == 0) {
        nn_json_out o = {0};
        write_node(&a, 0, &o);
        if (o.oom) abort();
        /* Keys cut at a NUL may collide, which the second parse rightly refuses. */
        bool nul = has_nul(&a);
        int rc = nn_json_parse(&b, o.buf, o.len, 0, &pos, &why);
        if (!nul && (rc != 0 || !same_tree(&a, 0, &b, 0))) __builtin_trap();
        nn_json_free(&b);
        free(o.buf);
    } else if (pos > size || !why) {
        __builtin_trap();
    }
    nn_json_free(&a);
}

/* ---- files ------------------------------------------------------------------------------ */

static void fill_pattern(const nn_param_list *l) {
    for (int i = 0; i < l->n; i++)
        for (size_t j = 0; j < l->items[i].value->size; j++)
            l->items[i].value->data[j] = (ag_real)(-1234.5 - (double)j);
}

static bool has_pattern(const nn_param_list *l) {
    for (int i = 0; i < l->n; i++)
        for (size_t j = 0; j < l->items[i].value->size; j++)
            if (l->items[i].value->data[j] != (ag_real)(-1234.5 - (double)j)) return false;
    return true;
}

static void try_file(const char *path, const uint8_t *data, size_t size, fuzz_model *m) {
    fuzz_write_file(path, data, size);
    nn_error err;
    nn_safetensors *f = nn_safetensors_open(path, &err);
    bool opened = f != NULL;
    if (f) {
        char out[4096];
        FILE *o = fmemopen(out, sizeof out, "w"); /* output past 4 KiB is dropped */
        if (!o) abort();
        nn_safetensors_print(f, o);
        fclose(o);
        (void)nn_safetensors_meta(f, "spec");
        (void)nn_safetensors_meta(f, "");
        fill_pattern(&m->all);
        if (nn_safetensors_read(f, &m->net->params, NULL, &err) != 0 && !has_pattern(&m->all))
            __builtin_trap(); /* a failed load wrote */
        fill_pattern(&m->all);
        if (nn_safetensors_read(f, &m->all, "adam.", &err) < 0 && !has_pattern(&m->all))
            __builtin_trap();
        nn_safetensors_close(f);
    }
    fill_pattern(&m->all);
    int rc = nn_safetensors_load(path, &m->all, &err);
    if (rc != 0 && !has_pattern(&m->all)) __builtin_trap();
    if (rc == 0 && !opened) __builtin_trap(); /* load accepted what open refused */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    try_json(data, size);

    char path[64];
    fuzz_tmp_path(path, sizeof path, "safetensors");
    fuzz_model m;
    fuzz_model_new(&m, 1);
    try_file(path, data, size, &m);
    const uint8_t *close = NULL;
    for (size_t i = size; i > 8 && !close; i--)
        if (data[i - 1] == '}') close = data + i - 1;
    if (close) { /* the header ends at the last '}' */
        uint8_t *fixed = malloc(size);
        if (!fixed) abort();
        memcpy(fixed, data, size);
        uint64_t n = (uint64_t)(close - data) - 7;
        for (int i = 0; i < 8; i++) fixed[i] = (uint8_t)(n >> (8 * i));
        if (memcmp(fixed, data, 8) != 0) try_file(path, fixed, size, &m);
        free(fixed);
    }
    unlink(path);
    fuzz_model_free(&m);
    return 0;
}
