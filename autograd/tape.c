/* tape.c — the Wengert list.  Ops append nodes as they run (so the list is already in
 * topological order: no graph search, no recursion); backward walks it once in reverse.
 * The tape also owns the arena every intermediate of a step lives in: a chain of big
 * blocks with a bump pointer, reset in O(1) by ag_tape_clear. */
#include "autograd/autograd.h"
#include "autograd/internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 64            /* cache line: keeps SIMD loads aligned */
#define ARENA_MIN_BLOCK (1u << 20)

typedef struct block {
    struct block *next;
    size_t size, used;
    _Alignas(ARENA_ALIGN) unsigned char mem[];
} block;

struct ag_tape {
    block *head;        /* block being filled; older blocks follow via next */
    size_t reserved;    /* bytes in all blocks */
    ag_node **nodes;    /* recorded nodes in execution order */
    int n_nodes, cap_nodes;
    bool grad_enabled;
    ag_rng rng;
    void (*hook)(void *ctx, int i); /* ag_tape_set_backward_hook, or NULL */
    void *hook_ctx;
};

static block *block_new(size_t size) {
    block *b = aligned_alloc(ARENA_ALIGN, (sizeof(block) + size + ARENA_ALIGN - 1) /
                                              ARENA_ALIGN * ARENA_ALIGN);
    if (!b) ag_error("tape", "out of memory for an arena block of %zu bytes", size);
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

ag_tape *ag_tape_new(uint64_t seed) {
    ag_tape *t = calloc(1, sizeof *t);
    if (!t) ag_error("tape_new", "out of memory");
    t->head = block_new(ARENA_MIN_BLOCK);
    t->reserved = ARENA_MIN_BLOCK;
    t->grad_enabled = true;
    ag_rng_seed(&t->rng, seed);
    return t;
}

void ag_tape_free(ag_tape *t) {
    if (!t) return;
    for (block *b = t->head, *next; b; b = next) next = b->next, free(b);
    free(t->nodes);
    free(t);
}

void *ag_tape_alloc(ag_tape *t, size_t bytes) {
    if (bytes > SIZE_MAX / 2) /* rounding it up below would wrap around to a few bytes */
        ag_error("tape_alloc", "%zu bytes: more than this machine can address", bytes);
    bytes = (bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    if (t->head->used + bytes > t->head->size) {
        /* Grow geometrically; ag_tape_clear later merges the chain into one block. */
        size_t size = t->head->size * 2;
        if (size < bytes) size = bytes;
        block *b = block_new(size);
        b->next = t->head;
        t->head = b;
        t->reserved += size;
    }
    void *p = t->head->mem + t->head->used;
    t->head->used += bytes;
    return p;
}

void ag_tape_clear(ag_tape *t) {
    if (t->head->next) {
        /* The step needed more than one block: replace the chain by a single block big
         * enough for all of it, so the next step of the same size allocates nothing. */
        size_t total = t->reserved;
        for (block *b = t->head, *next; b; b = next) next = b->next, free(b);
        t->head = block_new(total);
        t->reserved = total;
    }
    t->head->used = 0;
    t->n_nodes = 0;
}

ag_rng *ag_tape_rng(ag_tape *t) { return &t->rng; }

bool ag_set_grad_enabled(ag_tape *t, bool on) {
    bool prev = t->grad_enabled;
    t->grad_enabled = on;
    return prev;
}
bool ag_grad_enabled(const ag_tape *t) { return t->grad_enabled; }

size_t ag_tape_bytes_reserved(const ag_tape *t) { return t->reserved; }
size_t ag_tape_bytes_used(const ag_tape *t) {
    size_t used = 0;
    for (const block *b = t->head; b; b = b->next) used += b->used;
    return used;
}
int ag_tape_num_nodes(const ag_tape *t) { return t->n_nodes; }

ag_node *ag_tape_node(const ag_tape *t, int i) {
    if (i < 0 || i >= t->n_nodes)
        ag_error("tape_node", "node %d of a tape with %d nodes", i, t->n_nodes);
    return t->nodes[i];
}

void ag_tape_set_backward_hook(ag_tape *t, void (*fn)(void *ctx, int i), void *ctx) {
    t->hook = fn;
    t->hook_ctx = ctx;
}

/* ---- applying an op ------------------------------------------------------------------ */

/* ag_apply, and ag_apply_view when `alias` is non-NULL: the output is then a header over
 * that memory instead of a fresh arena buffer. */
static ag_tensor *apply(ag_tape *t, const ag_op *op, ag_tensor **in, int n_in, int out_ndim,
                        const int *out_shape, const void *attr, size_t attr_size,
                        ag_real *alias) {
    if (!t) ag_error(op->name, "no tape given");
    if (n_in < 0 || n_in > AG_MAX_INPUTS)
        ag_error(op->name, "%d inputs; an op takes at most %d", n_in, AG_MAX_INPUTS);
    if (attr_size > AG_MAX_ATTR)
        ag_error(op->name, "attributes of %zu bytes exceed AG_MAX_ATTR (%d)", attr_size,
                 AG_MAX_ATTR);
    bool record = t->grad_enabled && op->backward;
    if (record) {
        bool any = false;
        for (int i = 0; i < n_in; i++) any |= in[i] && in[i]->requires_grad;
        record = any;
    }
    ag_tensor *out;
    if (alias) {
        out = ag_tape_alloc(t, sizeof *out);
        ag_tensor_init(out, out_ndim, out_shape, alias);
    } else {
        out = ag_empty(t, out_ndim, out_shape);
    }
    /* Unrecorded ops still run through a node (on the stack) so forward has one signature. */
    ag_node local, *n = record ? ag_tape_alloc(t, sizeof *n) : &local;
    memset(n, 0, sizeof *n);
    n->op = op;
    n->tape = t;
    n->out = out;
    n->n_in = n_in;
    for (int i = 0; i < n_in; i++) n->in[i] = in[i];
    if (attr_size) memcpy(n->attr, attr, attr_size);
    op->forward(n);
    if (record) {
        if (t->n_nodes == t->cap_nodes) {
            int cap = t->cap_nodes ? 2 * t->cap_nodes : 256;
            ag_node **nodes = realloc(t->nodes, sizeof *nodes * (size_t)cap);
            if (!nodes) ag_error(op->name, "out of memory for the tape");
            t->nodes = nodes;
            t->cap_nodes = cap;
        }
        t->nodes[t->n_nodes++] = n;
        out->node = n;
        out->requires_grad = true;
    }
    return out;
}

ag_tensor *ag_apply(ag_tape *t, const ag_op *op, ag_tensor **in, int n_in, int out_ndim,
                    const int *out_shape, const void *attr, size_t attr_size) {
    return apply(t, op, in, n_in, out_ndim, out_shape, attr, attr_size, NULL);
}

ag_tensor *ag_apply_view(ag_tape *t, const ag_op *op, ag_tensor *x, int out_ndim,
                         const int *out_shape) {
    return apply(t, op, &x, 1, out_ndim, out_shape, NULL, 0, x->data);
}

ag_real *ag_node_grad(ag_node *n, int i) {
    ag_tensor *x = n->in[i];
    if (!x || !x->requires_grad) return NULL;
    if (!x->grad) {
        if (x->owns_memory) ag_error(n->op->name, "parameter without a gradient buffer");
        x->grad = ag_tape_alloc(n->tape, x->size * sizeof(ag_real));
        ag_zero_fill(x->grad, x->size);
    }
    return x->grad;
}

ag_real *ag_node_grad_fresh(ag_node *n, int i, bool *fresh) {
    ag_tensor *x = n->in[i];
    *fresh = false;
    if (!x || !x->requires_grad) return NULL;
    if (!x->grad) {
        if (x->owns_memory) ag_error(n->op->name, "parameter without a gradient buffer");
        x->grad = ag_tape_alloc(n->tape, x->size * sizeof(ag_real));
        *fresh = true;
    }
    return x->grad;
}

/* ---- the reverse sweep ---------------------------------------------------------------- */

void ag_backward_seed(ag_tape *t, ag_tensor *out, const ag_tensor *seed) {
    if (!out->requires_grad)
        ag_error("backward", "the output does not require grad (no input needed a gradient, "
                             "or grad mode was off)");
    if (seed && !ag_same_shape(seed, out)) {
        char a[64], b[64];
        ag_error("backward", "seed of shape %s for an output of shape %s",
                 ag_shape_str(seed, a, sizeof a), ag_shape_str(out, b, sizeof b));
    }
    /* Intermediates start from zero on every call; only leaves accumulate. */
    for (int i = 0; i < t->n_nodes; i++) {
        ag_tensor *y = t->nodes[i]->out;
        if (y->grad) ag_zero_fill(y->grad, y->size);
    }
    if (!out->grad) {
        out->grad = ag_tape_alloc(t, out->size * sizeof(ag_real));
        memset(out->grad, 0, out->size * sizeof(ag_real));
    }
    for (size_t i = 0; i < out->size; i++) out->grad[i] += seed ? seed->data[i] : 1;
    /* The tape is in execution order, so walking it backwards visits every node after all
     * of its consumers: its output gradient is complete when its backward runs. */
    for (int i = t->n_nodes - 1; i >= 0; i--) {
        ag_node *n = t->nodes[i];
        if (n->out->grad) n->op->backward(n);
        if (t->hook) t->hook(t->hook_ctx, i);
    }
}

void ag_backward(ag_tape *t, ag_tensor *loss) {
    if (loss->size != 1) {
        char b[64];
        ag_error("backward", "loss must have one element, got shape %s (use ag_sum or "
                             "ag_mean, or ag_backward_seed)", ag_shape_str(loss, b, sizeof b));
    }
    ag_backward_seed(t, loss, NULL);
}

/* ---- looking at the tape --------------------------------------------------------------- */

static int node_index(const ag_tape *t, const ag_node *n) {
    for (int i = 0; i < t->n_nodes; i++)
        if (t->nodes[i] == n) return i;
    return -1;
}

void ag_tape_print(const ag_tape *t, void *file) {
    FILE *f = file ? file : stdout;
    fprintf(f, "tape: %d nodes, arena %zu / %zu bytes\n", t->n_nodes, ag_tape_bytes_used(t),
            t->reserved);
    for (int i = 0; i < t->n_nodes; i++) {
        const ag_node *n = t->nodes[i];
        char b[64];
        fprintf(f, "  %%%-4d %-20s %-18s %9zu B  <-", i, n->op->name,
                ag_shape_str(n->out, b, sizeof b), n->out->size * sizeof(ag_real));
        for (int k = 0; k < n->n_in; k++) {
            const ag_tensor *x = n->in[k];
            if (!x) continue;
            int j = x->node ? node_index(t, x->node) : -1;
            if (j >= 0) fprintf(f, " %%%d", j);
            else fprintf(f, " %s%s", x->name ? x->name : "leaf", ag_shape_str(x, b, sizeof b));
        }
        fputc('\n', f);
    }
}

int ag_tape_write_dot(const ag_tape *t, const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    fprintf(f, "digraph tape {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n");
    /* Leaves first (boxes; filled when they require grad), then one ellipse per op. */
    for (int i = 0; i < t->n_nodes; i++) {
        const ag_node *n = t->nodes[i];
        char b[64];
        for (int k = 0; k < n->n_in; k++) {
            const ag_tensor *x = n->in[k];
            if (!x || x->node) continue;
            fprintf(f, "  leaf%p [shape=box, style=\"%s\", label=\"%s\\n%s\"];\n", (void *)x,
                    x->requires_grad ? "filled" : "solid", x->name ? x->name : "input",
                    ag_shape_str(x, b, sizeof b));
            fprintf(f, "  leaf%p -> n%d;\n", (void *)x, i);
        }
        fprintf(f, "  n%d [label=\"%s\\n%s\"];\n", i, n->op->name,
                ag_shape_str(n->out, b, sizeof b));
        for (int k = 0; k < n->n_in; k++) {
            const ag_tensor *x = n->in[k];
            if (x && x->node) fprintf(f, "  n%d -> n%d;\n", node_index(t, x->node), i);
        }
    }
    fprintf(f, "}\n");
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return -1;
    }
    return 0;
}
