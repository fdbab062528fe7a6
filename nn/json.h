/* json.h — a small JSON reader and writer, internal to nn/ (the safetensors header is its
 * one user).  The reader takes untrusted bytes: it checks the whole grammar of RFC 8259,
 * UTF-8 and \u escapes (surrogate pairs joined, lone ones refused), refuses duplicate keys
 * in an object and nesting deeper than NN_JSON_MAX_DEPTH, and reports the first problem
 * with its byte position.  Memory grows with what was actually parsed, never with a number
 * the text claims.
 *
 *   nn_json doc;
 *   size_t pos; const char *why;
 *   if (nn_json_parse(&doc, text, len, &pos, &why)) printf("byte %zu: %s\n", pos, why);
 *   for (int i = doc.nodes[0].first; i >= 0; i = doc.nodes[i].next)
 *       printf("%s\n", nn_json_key(&doc, i));
 *   nn_json_free(&doc);
 */
#ifndef HENBUN_NN_JSON_H
#define HENBUN_NN_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NN_JSON_MAX_DEPTH 64

typedef enum {
    NN_JSON_NULL, NN_JSON_FALSE, NN_JSON_TRUE, NN_JSON_NUMBER, NN_JSON_STRING, NN_JSON_ARRAY,
    NN_JSON_OBJECT
} nn_json_kind;

/* One value.  Nodes live in one array (doc.nodes, the root at index 0); an array's or
 * object's children are linked through first/next, in text order. */
typedef struct nn_json_node {
    nn_json_kind kind;
    size_t pos;         /* byte offset of the value in the text */
    size_t str, len;    /* STRING: decoded bytes at doc.chars + str (NUL-terminated there;
                           len may count embedded NULs from \u0000).  NUMBER: the literal
                           at text + str */
    size_t key, key_len;/* a member of an object: its decoded key, like str/len, */
    size_t key_pos;     /* and the key's byte offset in the text */
    int count;          /* ARRAY, OBJECT: number of children */
    int first, next;    /* child and sibling indices, -1 for none */
} nn_json_node;

typedef struct nn_json {
    const char *text;
    size_t text_len;
    nn_json_node *nodes;
    int n, cap, max;    /* nodes used, allocated, allowed */
    char *chars;        /* every decoded string and key, each NUL-terminated */
    size_t nchars, chars_cap;
} nn_json;

/* Parses text[0..len) (one value, surrounded by optional whitespace) into at most
 * max_values nodes (<= 0: no limit but memory; a caller that knows its documents can bound
 * what a hostile text costs).  Returns 0, or -1 with *err_pos (byte offset) and *err_msg
 * (static text) saying what is wrong.  doc must be freed with nn_json_free either way. */
int nn_json_parse(nn_json *doc, const char *text, size_t len, int max_values, size_t *err_pos,
                  const char **err_msg);
void nn_json_free(nn_json *doc);

/* Decoded string of a STRING node, and the key of an object member. */
const char *nn_json_str(const nn_json *doc, int node);
const char *nn_json_key(const nn_json *doc, int node);
/* The value of a NUMBER node that is a plain non-negative integer literal (no sign,
 * fraction or exponent) fitting in 64 bits; false otherwise. */
bool nn_json_uint(const nn_json *doc, int node, uint64_t *out);

/* ---- writing ------------------------------------------------------------------------------
 * A growing buffer; after a failed allocation it stops growing and sets oom. */
typedef struct nn_json_out {
    char *buf;
    size_t len, cap;
    bool oom;
} nn_json_out;

bool nn_json_utf8_ok(const char *s);                          /* valid UTF-8? */
void nn_json_raw(nn_json_out *o, const char *s, size_t n);  /* bytes as they are */
void nn_json_string(nn_json_out *o, const char *s);          /* "…" with escapes */
void nn_json_uint_out(nn_json_out *o, uint64_t x);            /* decimal */

#endif
