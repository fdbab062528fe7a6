/* ema.c — the moving average of parameters (see ema.h). */
#include "nn/ema.h"

#include <stdlib.h>
#include <string.h>

nn_ema *nn_ema_new(const nn_param_list *params, double decay) {
    if (!(decay >= 0 && decay < 1)) ag_error("nn_ema_new", "decay %g is not in [0, 1)", decay);
    nn_ema *e = calloc(1, sizeof *e);
    if (!e) ag_error("nn_ema_new", "out of memory");
    e->decay = decay;
    e->live = calloc((size_t)params->n + 1, sizeof *e->live);
    if (!e->live) ag_error("nn_ema_new", "out of memory");
    for (int i = 0; i < params->n; i++) {
        const nn_param *p = &params->items[i];
        if (!p->trainable) continue;
        ag_tensor *s = ag_tensor_new(p->value->ndim, p->value->shape, false);
        memcpy(s->data, p->value->data, sizeof(ag_real) * p->value->size);
        nn_params_add(&e->shadow, NULL, p->name, s, false);
        e->live[e->n++] = p->value;
    }
    return e;
}

void nn_ema_free(nn_ema *e) {
    if (!e) return;
    for (int i = 0; i < e->shadow.n; i++) ag_tensor_free(e->shadow.items[i].value);
    nn_params_free(&e->shadow);
    free(e->live);
    free(e);
}

double nn_ema_decay(const nn_ema *e) {
    if (!e->warmup) return e->decay;
    double t = e->updates > 0 ? (double)e->updates : 0, w = (1 + t) / (10 + t);
    return w < e->decay ? w : e->decay;
}

void nn_ema_update(nn_ema *e) {
    if (e->swapped) ag_error("nn_ema_update", "the averages are swapped in: swap back first");
    const ag_real a = (ag_real)(1 - nn_ema_decay(e));
    e->updates++;
    for (int i = 0; i < e->n; i++) {
        ag_real *s = e->shadow.items[i].value->data;
        const ag_real *w = e->live[i]->data;
        for (size_t j = 0, m = e->live[i]->size; j < m; j++) s[j] += a * (w[j] - s[j]);
    }
}

void nn_ema_swap(nn_ema *e) {
    for (int i = 0; i < e->n; i++) {
        ag_real *s = e->shadow.items[i].value->data, *w = e->live[i]->data;
        for (size_t j = 0, m = e->live[i]->size; j < m; j++) {
            ag_real x = s[j];
            s[j] = w[j], w[j] = x;
        }
    }
    e->swapped = !e->swapped;
}

void nn_ema_state(const nn_ema *e, const char *prefix, nn_param_list *dst) {
    for (int i = 0; i < e->shadow.n; i++)
        nn_params_add(dst, prefix, e->shadow.items[i].name, e->shadow.items[i].value, false);
}
