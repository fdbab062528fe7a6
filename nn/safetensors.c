/* safetensors.c — .safetensors files (nn/safetensors.h, docs/safetensors.md).
 *
 * Saving builds the JSON header in memory, pads it with spaces so the data starts at a
 * multiple of 8 bytes, and streams header and values into "path.tmp.<pid>", which is
 * fsynced and renamed over path.  Loading reads the whole file, parses the header with our
 * JSON reader, checks every entry (dtype, shape, offsets against the data's size, the
 * tensors tiling the data with no gap or overlap), matches the model's list, and only then
 * copies values.  Values are little-endian, assembled byte by byte, as in checkpoint.c.
 */
#include "nn/safetensors.h"

#include "nn/checkpoint.h" /* NN_CKPT_NAME_MAX: the same limit on names */
#include "nn/json.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef AG_DOUBLE
#define OUR_DTYPE "F64"
#else
#define OUR_DTYPE "F32"
#endif

static void put_le(unsigned char *p, uint64_t x, int n) {
    for (int i = 0; i < n; i++) p[i] = (unsigned char)(x >> (8 * i));
}
static uint64_t get_le(const unsigned char *p, int n) {
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--) x = x << 8 | p[i];
    return x;
}

/* ---- saving -------------------------------------------------------------------------------- */

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first repeated string of an array of n, or NULL.  Raised by the caller only after
 * the scratch array is freed, so an error handler that longjmps leaks nothing. */
static const char *first_duplicate(const char **s, int n, bool *oom) {
    const char **sorted = malloc(sizeof *sorted * (size_t)(n ? n : 1)), *dup = NULL;
    if (!sorted) {
        *oom = true;
        return NULL;
    }
    memcpy(sorted, s, sizeof *sorted * (size_t)n);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_str_ptr);
    for (int i = 1; i < n && !dup; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0) dup = sorted[i];
    free(sorted);
    return dup;
}

/* Programmer errors in what nn_safetensors_save was given: ag_error, and -1 should the
 * handler return. */
#define MISUSE(...)                                                                    \
    do {                                                                               \
        ag_error("nn_safetensors_save", __VA_ARGS__);                                  \
        return -1;                                                                     \
    } while (0)
static int check_inputs(const nn_param_list *l, const char *const *meta) {
    int nmeta = 0;
    for (; meta && meta[2 * nmeta]; nmeta++) {
        const char *key = meta[2 * nmeta], *value = meta[2 * nmeta + 1];
        if (!value) MISUSE("metadata key '%s' has no value", key);
        if (!nn_json_utf8_ok(key) || !nn_json_utf8_ok(value))
            MISUSE("metadata '%s' is not valid UTF-8", key);
    }
    for (int i = 0; i < l->n; i++) {
        const nn_param *p = &l->items[i];
        size_t len = p->name ? strlen(p->name) : 0;
        if (len == 0 || len > NN_CKPT_NAME_MAX)
            MISUSE("entry %d has an empty or over-long name (%zu bytes, at most %d)", i, len,
                   NN_CKPT_NAME_MAX);
        if (!strcmp(p->name, "__metadata__") || !nn_json_utf8_ok(p->name))
            MISUSE("entry %d: '%s' cannot be a tensor name", i, p->name);
        if (!p->value) MISUSE("entry '%s' has no tensor", p->name);
    }
    int n = l->n > nmeta ? l->n : nmeta;
    const char **s = malloc(sizeof *s * (size_t)(n ? n : 1));
    if (!s) MISUSE("out of memory");
    bool oom = false;
    for (int i = 0; i < l->n; i++) s[i] = l->items[i].name;
    const char *dup_name = first_duplicate(s, l->n, &oom);
    for (int i = 0; i < nmeta; i++) s[i] = meta[2 * i];
    const char *dup_key = first_duplicate(s, nmeta, &oom);
    free(s);
    if (oom) MISUSE("out of memory");
    if (dup_name) MISUSE("the name '%s' appears twice in the list", dup_name);
    if (dup_key) MISUSE("the metadata key '%s' appears twice", dup_key);
    return 0;
}
#undef MISUSE

/* The header: metadata, then one entry per tensor in list order, padded with spaces. */
#define RAW(o, literal) nn_json_raw(o, literal, sizeof literal - 1)
static nn_json_out make_header(const nn_param_list *l, const char *const *meta) {
    nn_json_out o = {0};
    RAW(&o, "{");
    if (meta && meta[0]) {
        RAW(&o, "\"__metadata__\":{");
        for (int i = 0; meta[2 * i]; i++) {
            if (i) RAW(&o, ",");
            nn_json_string(&o, meta[2 * i]);
            RAW(&o, ":");
            nn_json_string(&o, meta[2 * i + 1]);
        }
        RAW(&o, "}");
    }
    uint64_t offset = 0;
    for (int i = 0; i < l->n; i++) {
        const ag_tensor *x = l->items[i].value;
        if (i || (meta && meta[0])) RAW(&o, ",");
        nn_json_string(&o, l->items[i].name);
        RAW(&o, ":{\"dtype\":\"" OUR_DTYPE "\",\"shape\":[");
        for (int d = 0; d < x->ndim; d++) {
            if (d) RAW(&o, ",");
            nn_json_uint_out(&o, (uint64_t)x->shape[d]);
        }
        RAW(&o, "],\"data_offsets\":[");
        nn_json_uint_out(&o, offset);
        RAW(&o, ",");
        offset += (uint64_t)x->size * sizeof(ag_real);
        nn_json_uint_out(&o, offset);
        RAW(&o, "]}");
    }
    RAW(&o, "}");
    while (!o.oom && (8 + o.len) % 8) RAW(&o, " ");
    return o;
}
#undef RAW

/* Header and values into f; errno of the first failure, or 0. */
static int write_body(FILE *f, const nn_json_out *h, const nn_param_list *l) {
    unsigned char b[8192];
    put_le(b, h->len, 8);
    if (fwrite(b, 1, 8, f) != 8 || fwrite(h->buf, 1, h->len, f) != h->len) return errno ? errno : EIO;
    const size_t per = sizeof b / sizeof(ag_real);
    for (int t = 0; t < l->n; t++) {
        const ag_tensor *x = l->items[t].value;
        for (size_t i = 0; i < x->size; i += per) {
            size_t k = x->size - i < per ? x->size - i : per;
            for (size_t j = 0; j < k; j++) {
#ifdef AG_DOUBLE
                uint64_t u;
#else
                uint32_t u;
#endif
                memcpy(&u, &x->data[i + j], sizeof u);
                put_le(b + sizeof u * j, u, (int)sizeof u);
            }
            if (fwrite(b, sizeof(ag_real), k, f) != k) return errno ? errno : EIO;
        }
    }
    return 0;
}

int nn_safetensors_save(const char *path, const nn_param_list *tensors,
                        const char *const *metadata, nn_error *err) {
    if (!path || !tensors) {
        ag_error("nn_safetensors_save", "path or tensors is NULL");
        return -1; /* if a handler returns */
    }
    if (check_inputs(tensors, metadata)) return nn_fail(err, "%s: not written (misuse)", path);
    nn_json_out h = make_header(tensors, metadata);
    if (h.oom) {
        free(h.buf);
        return nn_fail(err, "%s: out of memory for the header", path);
    }
    nn_atomic_file out;
    if (nn_atomic_begin(&out, path, err)) {
        free(h.buf);
        return -1;
    }
    int e = write_body(out.f, &h, tensors);
    free(h.buf);
    return nn_atomic_end(&out, e ? strerror(e) : NULL, err);
}

/* ---- reading and verifying ---------------------------------------------------------------- */

typedef struct entry {
    const char *name;            /* decoded, in the JSON document's pool */
    int node;                    /* its node in the document */
    int width;                   /* bytes per value: 4 (F32) or 8 (F64) */
    int ndim, shape[AG_MAX_DIMS];
    size_t count;
    uint64_t begin, end;         /* data_offsets */
    bool used;
} entry;

struct nn_safetensors {
    char *path;
    unsigned char *buf;
    size_t len;
    const unsigned char *data;   /* after the header */
    size_t data_len;
    nn_json doc;
    int meta;                    /* the "__metadata__" node, or -1 */
    entry *e;                    /* sorted by name */
    int n;
};

void nn_safetensors_close(nn_safetensors *f) {
    if (!f) return;
    free(f->path);
    free(f->buf);
    nn_json_free(&f->doc);
    free(f->e);
    free(f);
}

static const char *shape_str(int ndim, const int *shape, char *buf, size_t n) {
    int k = snprintf(buf, n, "(");
    for (int d = 0; d < ndim && k > 0 && (size_t)k < n; d++)
        k += snprintf(buf + k, n - (size_t)k, d ? ", %d" : "%d", shape[d]);
    if (k > 0 && (size_t)k < n) snprintf(buf + k, n - (size_t)k, ")");
    return buf;
}

/* Byte offset in the file of a node of the header (for messages). */
static size_t at(const nn_safetensors *f, int node) { return 8 + f->doc.nodes[node].pos; }

/* The tensor entry `node` (a member of the header's object) into e. */
static int parse_entry(nn_safetensors *f, int node, entry *e, nn_error *err) {
    const nn_json *d = &f->doc;
    const nn_json_node *v = &d->nodes[node];
    const char *name = nn_json_key(d, node), *p = f->path;
    *e = (entry){.name = name, .node = node};
    if (v->key_len == 0 || v->key_len > NN_CKPT_NAME_MAX || strlen(name) != v->key_len)
        return nn_fail(err, "%s: byte %zu: a tensor name must be 1 to %d bytes, without NUL", p,
                       at(f, node), NN_CKPT_NAME_MAX);
    if (v->kind != NN_JSON_OBJECT)
        return nn_fail(err, "%s: byte %zu: tensor '%s' must be an object {dtype, shape, "
                       "data_offsets}", p, at(f, node), name);
    int dtype = -1, shape = -1, offsets = -1;
    for (int c = v->first; c >= 0; c = d->nodes[c].next) {
        const char *k = nn_json_key(d, c);
        if (!strcmp(k, "dtype")) dtype = c;
        else if (!strcmp(k, "shape")) shape = c;
        else if (!strcmp(k, "data_offsets")) offsets = c;
        else return nn_fail(err, "%s: byte %zu: tensor '%s' has an unknown field '%s'", p,
                            at(f, c), name, k);
    }
    if (dtype < 0 || shape < 0 || offsets < 0)
        return nn_fail(err, "%s: byte %zu: tensor '%s' lacks '%s'", p, at(f, node), name,
                       dtype < 0 ? "dtype" : shape < 0 ? "shape" : "data_offsets");
    const char *dt = d->nodes[dtype].kind == NN_JSON_STRING ? nn_json_str(d, dtype) : "";
    if (!strcmp(dt, "F32")) e->width = 4;
    else if (!strcmp(dt, "F64")) e->width = 8;
    else return nn_fail(err, "%s: byte %zu: tensor '%s' has dtype %s%s%s; henbun reads F32 and "
                        "F64", p, at(f, dtype), name, *dt ? "\"" : "(not a string)", dt, *dt ? "\"" : "");

    const nn_json_node *s = &d->nodes[shape];
    if (s->kind != NN_JSON_ARRAY || s->count > AG_MAX_DIMS)
        return nn_fail(err, "%s: byte %zu: the shape of '%s' must be an array of at most %d "
                       "sizes", p, at(f, shape), name, AG_MAX_DIMS);
    e->count = 1;
    for (int c = s->first; c >= 0; c = d->nodes[c].next) {
        uint64_t dim;
        if (!nn_json_uint(d, c, &dim) || dim > INT_MAX)
            return nn_fail(err, "%s: byte %zu: the shape of '%s' holds something other than a "
                           "size 0..%d", p, at(f, c), name, INT_MAX);
        e->shape[e->ndim++] = (int)dim;
        if (dim && e->count > SIZE_MAX / dim) e->count = SIZE_MAX; /* caught below */
        else e->count *= dim;
    }
    const nn_json_node *o = &d->nodes[offsets];
    if (o->kind != NN_JSON_ARRAY || o->count != 2 || !nn_json_uint(d, o->first, &e->begin) ||
        !nn_json_uint(d, d->nodes[o->first].next, &e->end))
        return nn_fail(err, "%s: byte %zu: data_offsets of '%s' must be [begin, end], two "
                       "integers", p, at(f, offsets), name);
    char sb[96];
    if (e->begin > e->end || e->end > f->data_len)
        return nn_fail(err, "%s: tensor '%s': data_offsets [%llu, %llu] lie outside the %zu "
                       "bytes of data", p, name, (unsigned long long)e->begin,
                       (unsigned long long)e->end, f->data_len);
    if (e->count > f->data_len / (size_t)e->width) /* also catches the saturated product */
        return nn_fail(err, "%s: tensor '%s' of shape %s needs more bytes than the file has", p,
                       name, shape_str(e->ndim, e->shape, sb, sizeof sb));
    if (e->end - e->begin != (uint64_t)e->count * (uint64_t)e->width)
        return nn_fail(err, "%s: tensor '%s' of shape %s and dtype %s needs %zu bytes, but its "
                       "data_offsets [%llu, %llu] hold %llu", p, name,
                       shape_str(e->ndim, e->shape, sb, sizeof sb), dt,
                       e->count * (size_t)e->width, (unsigned long long)e->begin,
                       (unsigned long long)e->end, (unsigned long long)(e->end - e->begin));
    return 0;
}

static int cmp_by_offset(const void *a, const void *b) {
    const entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}
static int cmp_by_name(const void *a, const void *b) {
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

/* The metadata object: strings only. */
static int check_metadata(nn_safetensors *f, nn_error *err) {
    const nn_json *d = &f->doc;
    if (d->nodes[f->meta].kind != NN_JSON_OBJECT)
        return nn_fail(err, "%s: byte %zu: __metadata__ must be an object of strings", f->path,
                       at(f, f->meta));
    for (int c = d->nodes[f->meta].first; c >= 0; c = d->nodes[c].next)
        if (d->nodes[c].kind != NN_JSON_STRING)
            return nn_fail(err, "%s: byte %zu: metadata '%s' is not a string", f->path, at(f, c),
                           nn_json_key(d, c));
    return 0;
}

static int verify(nn_safetensors *f, nn_error *err) {
    const char *p = f->path;
    if (f->len < 8)
        return nn_fail(err, "%s: %zu bytes is too short for a .safetensors file (no header "
                       "length)", p, f->len);
    uint64_t n = get_le(f->buf, 8);
    if (n > f->len - 8)
        return nn_fail(err, "%s: the header length %llu exceeds the %zu bytes after it (not a "
                       ".safetensors file, or truncated)", p, (unsigned long long)n, f->len - 8);
    if (n < 2 || n > NN_ST_HEADER_MAX)
        return nn_fail(err, "%s: header length %llu is outside 2..%u bytes", p,
                       (unsigned long long)n, NN_ST_HEADER_MAX);
    if (f->buf[8] != '{')
        return nn_fail(err, "%s: byte 8: the header must start with '{'", p);
    f->data = f->buf + 8 + n;
    f->data_len = f->len - 8 - (size_t)n;
    size_t pos;
    const char *why;
    /* A real header spends more than 5 bytes on each value (a tensor entry is about 50 bytes
     * for 6 to 10 values): the cap keeps a hostile header of "[0,0,0,..." from costing
     * dozens of times its size in nodes. */
    if (nn_json_parse(&f->doc, (const char *)f->buf + 8, (size_t)n, (int)(n / 4 + 16), &pos, &why))
        return nn_fail(err, "%s: byte %zu: JSON header: %s", p, 8 + pos, why);

    const nn_json *d = &f->doc;
    f->meta = -1;
    f->e = malloc(sizeof *f->e * (size_t)(d->nodes[0].count ? d->nodes[0].count : 1));
    if (!f->e) return nn_fail(err, "%s: out of memory", p);
    for (int c = d->nodes[0].first; c >= 0; c = d->nodes[c].next) {
        if (!strcmp(nn_json_key(d, c), "__metadata__")) {
            f->meta = c;
            if (check_metadata(f, err)) return -1;
        } else if (parse_entry(f, c, &f->e[f->n++], err)) {
            return -1;
        }
    }
    /* The tensors must tile the data: sorted by offset, each starts where the last ended. */
    qsort(f->e, (size_t)f->n, sizeof *f->e, cmp_by_offset);
    uint64_t end = 0;
    for (int i = 0; i < f->n; i++) {
        if (f->e[i].begin != end)
            return nn_fail(err, "%s: tensor '%s' starts at data offset %llu, but the previous "
                           "tensor ends at %llu (%s)", p, f->e[i].name,
                           (unsigned long long)f->e[i].begin, (unsigned long long)end,
                           f->e[i].begin < end ? "they overlap" : "a gap");
        end = f->e[i].end;
    }
    if (end != f->data_len)
        return nn_fail(err, "%s: the tensors cover %llu bytes of data, but the file has %zu "
                       "after the header", p, (unsigned long long)end, f->data_len);
    qsort(f->e, (size_t)f->n, sizeof *f->e, cmp_by_name); /* names are unique: the JSON
                                                             reader refuses duplicate keys */
    return 0;
}

nn_safetensors *nn_safetensors_open(const char *path, nn_error *err) {
    if (!path) {
        ag_error("nn_safetensors_open", "path is NULL");
        return NULL;
    }
    nn_safetensors *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        nn_fail(err, "%s: out of memory", path);
        return NULL;
    }
    if (nn_read_file(f->path, &f->buf, &f->len, err) || verify(f, err)) {
        nn_safetensors_close(f);
        return NULL;
    }
    return f;
}

const char *nn_safetensors_meta(const nn_safetensors *f, const char *key) {
    if (!f || !key) {
        ag_error("nn_safetensors_meta", "file or key is NULL");
        return NULL;
    }
    if (f->meta < 0) return NULL;
    for (int c = f->doc.nodes[f->meta].first; c >= 0; c = f->doc.nodes[c].next)
        if (!strcmp(nn_json_key(&f->doc, c), key)) return nn_json_str(&f->doc, c);
    return NULL;
}

static entry *find(const nn_safetensors *f, const char *name) {
    entry key = {.name = name};
    return bsearch(&key, f->e, (size_t)f->n, sizeof *f->e, cmp_by_name);
}

static bool has_prefix(const char *s, const char *prefix) {
    return prefix && *prefix && !strncmp(s, prefix, strlen(prefix));
}

static double value_at(const entry *e, const unsigned char *data, size_t j) {
    if (e->width == 4) {
        uint32_t u = (uint32_t)get_le(data + e->begin + 4 * j, 4);
        float x;
        memcpy(&x, &u, 4);
        return x;
    }
    uint64_t u = get_le(data + e->begin + 8 * j, 8);
    double x;
    memcpy(&x, &u, 8);
    return x;
}

/* Every check of a load, before anything is written.  *state: how many state entries the
 * file had. */
static int match(nn_safetensors *f, const nn_param_list *l, const char *prefix, int *state,
                 nn_error *err) {
    char fs[96], ms[96];
    int n_state = 0, missing_state = 0;
    const char *first_missing = NULL, *first_present = NULL;
    for (int i = 0; i < f->n; i++) f->e[i].used = false;
    for (int i = 0; i < l->n; i++) {
        const nn_param *p = &l->items[i];
        entry *e = find(f, p->name);
        bool is_state = has_prefix(p->name, prefix);
        if (!e && is_state) {
            missing_state++;
            if (!first_missing) first_missing = p->name;
            continue;
        }
        if (!e)
            return nn_fail(err, "%s: tensor '%s' %s is missing from the file (the weights of "
                           "another model?)", f->path, p->name,
                           ag_shape_str(p->value, ms, sizeof ms));
        if (is_state && !first_present) first_present = p->name;
        n_state += is_state;
        bool same = e->ndim == p->value->ndim;
        for (int k = 0; same && k < e->ndim; k++) same = e->shape[k] == p->value->shape[k];
        if (!same)
            return nn_fail(err, "%s: tensor '%s' has shape %s in the file but %s in the model",
                           f->path, p->name, shape_str(e->ndim, e->shape, fs, sizeof fs),
                           ag_shape_str(p->value, ms, sizeof ms));
        if (e->used) { /* misuse: raised by the caller, once nothing is left to free */
            *state = i;
            return -2;
        }
        e->used = true;
#ifndef AG_DOUBLE
        if (e->width == 8) /* float64 -> float32: a finite value beyond FLT_MAX would become inf */
            for (size_t j = 0; j < e->count; j++) {
                double v = value_at(e, f->data, j);
                if (isfinite(v) && isinf((float)v))
                    return nn_fail(err, "%s: tensor '%s' holds %g, which does not fit in float",
                                   f->path, p->name, v);
            }
#endif
    }
    if (missing_state && n_state)
        return nn_fail(err, "%s: the file has part of the state: '%s' but not '%s'", f->path,
                       first_present, first_missing);
    for (int i = 0; i < f->n; i++)
        if (!f->e[i].used)
            return nn_fail(err, "%s: the file has a tensor '%s' %s that the model does not (the "
                           "weights of another model?)", f->path, f->e[i].name,
                           shape_str(f->e[i].ndim, f->e[i].shape, fs, sizeof fs));
    *state = n_state;
    return 0;
}

/* The values of the file into the list's tensors, once match() has passed. */
static void copy_values(const nn_safetensors *f, const nn_param_list *tensors) {
    for (int i = 0; i < tensors->n; i++) { /* everything checked: now write */
        ag_tensor *x = tensors->items[i].value;
        const entry *e = find(f, tensors->items[i].name);
        if (!e) continue; /* state the file does not have */
        if (e->width == (int)sizeof(ag_real)) { /* same precision: the bits, exactly */
            for (size_t j = 0; j < x->size; j++) {
                uint64_t u = get_le(f->data + e->begin + sizeof(ag_real) * j, (int)sizeof(ag_real));
#ifdef AG_DOUBLE
                memcpy(&x->data[j], &u, 8);
#else
                uint32_t u32 = (uint32_t)u;
                memcpy(&x->data[j], &u32, 4);
#endif
            }
        } else {
            for (size_t j = 0; j < x->size; j++) x->data[j] = (ag_real)value_at(e, f->data, j);
        }
    }
}

int nn_safetensors_read(nn_safetensors *f, const nn_param_list *tensors,
                        const char *state_prefix, nn_error *err) {
    if (!f || !tensors) {
        ag_error("nn_safetensors_read", "file or tensors is NULL");
        return -1;
    }
    int state = 0, r = match(f, tensors, state_prefix, &state, err);
    if (r == -2)
        ag_error("nn_safetensors_read", "the name '%s' appears twice in the list",
                 tensors->items[state].name);
    if (r) return -1; /* also after ag_error, if a handler returns */
    copy_values(f, tensors);
    return state > 0;
}

int nn_safetensors_load_weights(const char *path, const nn_param_list *tensors,
                                const char *state_prefix, nn_error *err) {
    if (!path || !tensors) {
        ag_error("nn_safetensors_load", "path or tensors is NULL");
        return -1;
    }
    nn_safetensors *f = nn_safetensors_open(path, err);
    if (!f) return -1;
    int state = 0, r = match(f, tensors, state_prefix, &state, err);
    if (r == -2) {
        nn_safetensors_close(f);
        ag_error("nn_safetensors_load", "the name '%s' appears twice in the list",
                 tensors->items[state].name);
        return -1; /* if a handler returns instead of jumping */
    }
    if (r == 0) copy_values(f, tensors);
    nn_safetensors_close(f);
    return r < 0 ? -1 : state > 0;
}

int nn_safetensors_load(const char *path, const nn_param_list *tensors, nn_error *err) {
    return nn_safetensors_load_weights(path, tensors, NULL, err) < 0 ? -1 : 0;
}

void nn_safetensors_print(const nn_safetensors *f, void *file) {
    FILE *out = file;
    const nn_json *d = &f->doc;
    size_t values = 0;
    for (int i = 0; i < f->n; i++) values += f->e[i].count;
    fprintf(out, "%s: safetensors, %d tensors, %zu values, %zu bytes of data\n", f->path, f->n,
            values, f->data_len);
    if (f->meta >= 0)
        for (int c = d->nodes[f->meta].first; c >= 0; c = d->nodes[c].next)
            fprintf(out, "  %s = %s\n", nn_json_key(d, c), nn_json_str(d, c));
    char sb[96];
    for (int c = d->nodes[0].first; c >= 0; c = d->nodes[c].next) { /* file order */
        if (c == f->meta) continue;
        const entry *e = find(f, nn_json_key(d, c));
        fprintf(out, "  %s %s %s\n", e->name, e->width == 4 ? "F32" : "F64",
                shape_str(e->ndim, e->shape, sb, sizeof sb));
    }
}

bool nn_safetensors_probe(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    unsigned char b[9];
    struct stat st;
    bool yes = fstat(fileno(f), &st) == 0 && fread(b, 1, 9, f) == 9 && b[8] == '{' &&
               get_le(b, 8) <= (uint64_t)st.st_size - 8;
    fclose(f);
    return yes;
}
