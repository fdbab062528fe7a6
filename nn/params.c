/* params.c — named parameter lists (see params.h). */
#include "nn/params.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nn_params_add(nn_param_list *l, const char *prefix, const char *name, ag_tensor *value,
                   bool trainable) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        nn_param *items = realloc(l->items, sizeof *items * (size_t)cap);
        if (!items) ag_error("params_add", "out of memory");
        l->items = items;
        l->cap = cap;
    }
    size_t len = strlen(name) + (prefix ? strlen(prefix) + 1 : 0) + 1;
    char *full = malloc(len);
    if (!full) ag_error("params_add", "out of memory");
    if (prefix) snprintf(full, len, "%s.%s", prefix, name);
    else snprintf(full, len, "%s", name);
    l->items[l->n++] = (nn_param){full, value, trainable};
}

void nn_params_extend(nn_param_list *dst, const char *prefix, const nn_param_list *src) {
    for (int i = 0; i < src->n; i++)
        nn_params_add(dst, prefix, src->items[i].name, src->items[i].value,
                      src->items[i].trainable);
}

void nn_params_free(nn_param_list *l) {
    for (int i = 0; i < l->n; i++) free(l->items[i].name);
    free(l->items);
    *l = (nn_param_list){0};
}

nn_param *nn_params_find(const nn_param_list *l, const char *name) {
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->items[i].name, name) == 0) return &l->items[i];
    return NULL;
}

size_t nn_params_count(const nn_param_list *l) {
    size_t n = 0;
    for (int i = 0; i < l->n; i++)
        if (l->items[i].trainable) n += l->items[i].value->size;
    return n;
}

void nn_params_zero_grad(const nn_param_list *l) {
    for (int i = 0; i < l->n; i++)
        if (l->items[i].trainable) ag_zero_grad(l->items[i].value);
}

void nn_params_set_requires_grad(const nn_param_list *l, bool on) {
    for (int i = 0; i < l->n; i++)
        if (l->items[i].trainable) l->items[i].value->requires_grad = on;
}

double nn_params_grad_norm(const nn_param_list *l) {
    double s = 0;
    for (int i = 0; i < l->n; i++) {
        const ag_tensor *x = l->items[i].value;
        if (!l->items[i].trainable || !x->grad) continue;
        for (size_t j = 0; j < x->size; j++) s += (double)x->grad[j] * x->grad[j];
    }
    return sqrt(s);
}

const nn_param *nn_params_first_nonfinite(const nn_param_list *l, bool check_grad) {
    for (int i = 0; i < l->n; i++) {
        const ag_tensor *x = l->items[i].value;
        const ag_real *v = check_grad ? x->grad : x->data;
        if (!v) continue;
        for (size_t j = 0; j < x->size; j++)
            if (!isfinite(v[j])) return &l->items[i];
    }
    return NULL;
}
