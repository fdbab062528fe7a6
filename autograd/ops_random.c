/* ops_random.c — ops that draw noise: the reparameterization trick and dropout.
 *
 * The noise comes from the tape's PRNG (ag_tape_rng), drawn in forward in element order,
 * so a run is reproducible from the tape's seed, and ag_gradcheck (which reseeds the tape
 * before every evaluation) sees the same noise each time.  The drawn noise is kept on the
 * tape for backward: the gradient is taken with the noise held fixed. */
#include "autograd/autograd.h"
#include "autograd/internal.h"

#include <math.h>

#ifdef AG_DOUBLE
#define EXP exp
#else
#define EXP expf
#endif

/* ---- reparameterization: z = μ + σ·ε, σ = e^(logvar/2), ε ~ N(0, I) ----------------------
 * Seed 001 (/work/shared/seeds/001_*.txt): sampling z ~ q(z|x) = N(μ, σ²) is not
 * differentiable, but z = μ + σ·ε with ε drawn independently of μ and σ is, so the
 * gradient of E[log p(x|z)] passes through the sample into the encoder:
 *   dz/dμ = 1,   dz/dlogvar = ε · ½ e^(logvar/2). */

/* Normals cost ~40 ns each (log, sqrt, cos in double) against ~2 ns for the uniforms they
 * come from, so threads pay from about a thousand of them. */
#define NORMAL_PAR_MIN 1024

static void reparam_fwd(ag_node *n) {
    const ag_real *mu = n->in[0]->data, *lv = n->in[1]->data;
    ag_real *z = n->out->data;
    long size = (long)n->out->size;
    ag_real *eps = n->saved = ag_tape_alloc(n->tape, (size_t)size * sizeof(ag_real));
    /* The uniforms serially, from one stream in element order (ag_rng_normal's draws), so
     * z is the same for any thread count; their transform into ε on every thread. */
    double *uv = ag_tape_alloc(n->tape, 2 * (size_t)size * sizeof *uv);
    ag_rng *r = ag_tape_rng(n->tape);
    for (long i = 0; i < size; i++) {
        uv[2 * i] = 1.0 - ag_rng_uniform(r);
        uv[2 * i + 1] = ag_rng_uniform(r);
    }
    AG_PARALLEL_FOR(i, size, size >= NORMAL_PAR_MIN, {
        eps[i] = (ag_real)ag_normal_of_uniforms(uv[2 * i], uv[2 * i + 1]);
        z[i] = mu[i] + EXP((ag_real)0.5 * lv[i]) * eps[i];                /* μ + σ·ε */
    });
}

static void reparam_bwd(ag_node *n) {
    const ag_real *lv = n->in[1]->data, *eps = n->saved, *dz = n->out->grad;
    ag_real *dmu = ag_node_grad(n, 0), *dlv = ag_node_grad(n, 1);
    long size = (long)n->out->size;
    AG_PARALLEL_FOR(i, size, size > AG_PAR_MIN, {
        if (dmu) dmu[i] += dz[i];                                           /* dz/dμ = 1 */
        if (dlv) dlv[i] += dz[i] * eps[i] * (ag_real)0.5 * EXP((ag_real)0.5 * lv[i]); /* ε·σ/2 */
    });
}

static const ag_op reparam_op = {"reparameterize", reparam_fwd, reparam_bwd};

ag_tensor *ag_reparameterize(ag_tape *t, ag_tensor *mu, ag_tensor *logvar) {
    if (!ag_same_shape(mu, logvar)) {
        char a[64], b[64];
        ag_error("reparameterize", "mu %s and logvar %s must have the same shape",
                 ag_shape_str(mu, a, sizeof a), ag_shape_str(logvar, b, sizeof b));
    }
    return ag_apply(t, &reparam_op, (ag_tensor *[]){mu, logvar}, 2, mu->ndim, mu->shape, NULL,
                    0);
}

/* ---- inverted dropout ----------------------------------------------------------------------
 * Training: y = x · m / (1-p) with m ~ Bernoulli(1-p), so E[y] = x and evaluation needs
 * no rescaling (it is the identity).  The mask is saved as one byte per element;
 * dy/dx = m / (1-p). */

typedef struct { ag_real scale; ag_real p; } dropout_attr;

static void dropout_fwd(ag_node *n) {
    const dropout_attr *a = AG_ATTR(n, dropout_attr);
    const ag_real *x = n->in[0]->data;
    ag_real *y = n->out->data;
    size_t size = n->out->size;
    unsigned char *keep = n->saved = ag_tape_alloc(n->tape, size ? size : 1);
    ag_rng *r = ag_tape_rng(n->tape);
    for (size_t i = 0; i < size; i++) {                                  /* serial: see above */
        keep[i] = ag_rng_uniform(r) >= (double)a->p;                     /* P(keep) = 1 - p */
        y[i] = keep[i] ? x[i] * a->scale : 0;
    }
}

static void dropout_bwd(ag_node *n) {
    const dropout_attr *a = AG_ATTR(n, dropout_attr);
    ag_real *dx = ag_node_grad(n, 0);
    if (!dx) return;
    const unsigned char *keep = n->saved;
    const ag_real *dy = n->out->grad;
    long size = (long)n->out->size;
    AG_PARALLEL_FOR(i, size, size > AG_PAR_MIN, {
        if (keep[i]) dx[i] += dy[i] * a->scale;                          /* m / (1-p) */
    });
}

static const ag_op dropout_op = {"dropout", dropout_fwd, dropout_bwd};

ag_tensor *ag_dropout(ag_tape *t, ag_tensor *x, ag_real p, bool training) {
    if (!(p >= 0 && p < 1)) /* also rejects NaN */
        ag_error("dropout", "p = %g is not in [0, 1)", (double)p);
    if (!training || p == 0) return x; /* identity: no copy, no node */
    dropout_attr a = {.scale = 1 / (1 - p), .p = p};
    return ag_apply(t, &dropout_op, &x, 1, x->ndim, x->shape, &a, sizeof a);
}
