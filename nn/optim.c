/* optim.c — SGD (momentum, Nesterov), Adam and AdamW, global-norm clipping and learning-rate
 * schedules (see optim.h for the formulas).
 *
 * A step is: compute the global gradient norm, pick the clip factor and the scheduled
 * learning rate, then run one elementwise loop per parameter.  The loops have no branches
 * inside, so the compiler vectorises them; large tensors are split across OpenMP threads
 * (elementwise work, so the result does not depend on the thread count).  The gradient
 * norm is summed in double over fixed chunks whose partial sums are added in a fixed order,
 * so that it — and the clip factor — is the same for any thread count: a run resumed on
 * another machine stays bit-identical.
 */
#include "nn/optim.h"
#include "autograd/parallel.h" /* AG_PARALLEL_FOR: threads for big loops, no malloc */
#include "autograd/vecmath.h"  /* Adam's loop in AVX-512 / AVX2, picked at run time */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parameters with at least this many values are updated by all OpenMP threads. */
#define NN_OPTIM_PAR_MIN 32768
/* The gradient norm sums chunks of this many values, in parallel, then the chunks in order. */
#define NORM_CHUNK 16384
/* The step count lives in a tensor as {t / 2^20, t mod 2^20}: both parts stay exact in
 * float (24-bit mantissa) for t < 2^44, so the count survives a checkpoint in any build. */
#define STEP_BASE 1048576.0
#define PI 3.14159265358979323846

struct nn_optim {
    nn_optim_kind kind;
    nn_param_list params;   /* private copy of the trainable entries */
    ag_tensor **m;          /* per parameter: SGD momentum b, or Adam's m; NULL if no state */
    ag_tensor **v;          /* per parameter: Adam's v; NULL for SGD */
    ag_tensor *step;        /* (2): the step count, see STEP_BASE */
    double lr;              /* base learning rate, scaled by the schedule */
    double momentum;        /* SGD */
    bool nesterov;          /* SGD */
    double beta1, beta2, eps;
    double weight_decay;    /* L2 in the gradient (SGD, Adam) or decoupled (AdamW) */
    double clip_norm;       /* <= 0: off */
    double last_norm;       /* ‖g‖ before clipping in the last step */
    double *partials;       /* one per NORM_CHUNK of the largest parameter */
    nn_lr_schedule sched;
};

static ag_real real_sqrt(ag_real x) {
#ifdef AG_DOUBLE
    return sqrt(x);
#else
    return sqrtf(x);
#endif
}

/* ---- making one -------------------------------------------------------------------------- */

static void check_lr(const char *op, double lr) {
    if (!(lr > 0) || !isfinite(lr)) ag_error(op, "learning rate %g must be positive and finite", lr);
}

static ag_tensor *state_like(const ag_tensor *x) { return ag_tensor_new(x->ndim, x->shape, false); }

/* Common constructor: copies the trainable entries and allocates every state tensor now,
 * so that no step ever allocates. */
static nn_optim *optim_new(const char *op, nn_optim_kind kind, const nn_param_list *params,
                           double lr) {
    if (!params) ag_error(op, "params is NULL");
    check_lr(op, lr);
    for (int i = 0; i < params->n; i++) { /* all checks before any allocation */
        const nn_param *p = &params->items[i];
        if (!p->trainable) continue;
        if (!p->value) ag_error(op, "parameter '%s' has no tensor", p->name);
        for (int j = 0; j < i; j++)
            if (params->items[j].trainable && params->items[j].value == p->value)
                ag_error(op, "the tensor of '%s' is listed twice (also as '%s'): it would be "
                         "updated twice per step", p->name, params->items[j].name);
    }
    nn_optim *o = calloc(1, sizeof *o);
    if (!o) ag_error(op, "out of memory");
    o->kind = kind;
    o->lr = lr;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->sched.kind = NN_LR_CONSTANT;
    for (int i = 0; i < params->n; i++) {
        const nn_param *p = &params->items[i];
        if (p->trainable) nn_params_add(&o->params, NULL, p->name, p->value, true);
    }
    int n = o->params.n;
    size_t chunks = 1;
    for (int i = 0; i < n; i++) {
        size_t c = (o->params.items[i].value->size + NORM_CHUNK - 1) / NORM_CHUNK;
        if (c > chunks) chunks = c;
    }
    o->m = calloc((size_t)(n ? n : 1), sizeof *o->m);
    o->v = calloc((size_t)(n ? n : 1), sizeof *o->v);
    o->partials = calloc(chunks, sizeof *o->partials);
    if (!o->m || !o->v || !o->partials) ag_error(op, "out of memory");
    o->step = ag_tensor_new(1, (int[]){2}, false);
    return o;
}

/* Moment buffers (zeros) for every parameter; v only for Adam and AdamW. */
static void alloc_state(nn_optim *o, bool with_v) {
    for (int i = 0; i < o->params.n; i++) {
        o->m[i] = state_like(o->params.items[i].value);
        if (with_v) o->v[i] = state_like(o->params.items[i].value);
    }
}

nn_optim *nn_sgd(const nn_param_list *params, double lr, double momentum, bool nesterov) {
    if (!(momentum >= 0 && momentum < 1))
        ag_error("nn_sgd", "momentum %g must be in [0, 1)", momentum);
    if (nesterov && momentum == 0)
        ag_error("nn_sgd", "Nesterov momentum needs momentum > 0");
    nn_optim *o = optim_new("nn_sgd", NN_SGD, params, lr);
    o->momentum = momentum;
    o->nesterov = nesterov;
    if (momentum > 0) alloc_state(o, false);
    return o;
}

nn_optim *nn_adam(const nn_param_list *params, double lr) {
    nn_optim *o = optim_new("nn_adam", NN_ADAM, params, lr);
    alloc_state(o, true);
    return o;
}

nn_optim *nn_adamw(const nn_param_list *params, double lr, double weight_decay) {
    if (!(weight_decay >= 0) || !isfinite(weight_decay))
        ag_error("nn_adamw", "weight decay %g must be >= 0 and finite", weight_decay);
    nn_optim *o = optim_new("nn_adamw", NN_ADAMW, params, lr);
    alloc_state(o, true);
    nn_optim_set_weight_decay(o, weight_decay);
    return o;
}

void nn_optim_free(nn_optim *o) {
    if (!o) return;
    for (int i = 0; i < o->params.n; i++) {
        ag_tensor_free(o->m[i]);
        ag_tensor_free(o->v[i]);
    }
    free(o->m);
    free(o->v);
    free(o->partials);
    ag_tensor_free(o->step);
    nn_params_free(&o->params);
    free(o);
}

void nn_optim_set_betas(nn_optim *o, double beta1, double beta2, double eps) {
    if (o->kind == NN_SGD) ag_error("nn_optim_set_betas", "SGD has no betas (use Adam or AdamW)");
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
        ag_error("nn_optim_set_betas", "betas (%g, %g) must be in [0, 1)", beta1, beta2);
    if (!(eps > 0)) ag_error("nn_optim_set_betas", "eps %g must be positive", eps);
    o->beta1 = beta1;
    o->beta2 = beta2;
    o->eps = eps;
}

void nn_optim_set_weight_decay(nn_optim *o, double wd) {
    if (!(wd >= 0) || !isfinite(wd))
        ag_error("nn_optim_set_weight_decay", "weight decay %g must be >= 0 and finite", wd);
    o->weight_decay = wd;
}

void nn_optim_set_lr(nn_optim *o, double lr) {
    check_lr("nn_optim_set_lr", lr);
    o->lr = lr;
}

void nn_optim_set_clip_norm(nn_optim *o, double max_norm) { o->clip_norm = max_norm; }

/* ---- schedules ----------------------------------------------------------------------------- */

static void check_schedule(const char *op, const nn_lr_schedule *s) {
    if (s->warmup_steps < 0) ag_error(op, "warmup_steps %d must be >= 0", s->warmup_steps);
    switch (s->kind) {
    case NN_LR_CONSTANT: break;
    case NN_LR_STEP:
        if (s->step_size <= 0) ag_error(op, "step schedule: step_size %d must be > 0", s->step_size);
        if (!(s->gamma > 0 && s->gamma <= 1))
            ag_error(op, "step schedule: gamma %g must be in (0, 1]", s->gamma);
        break;
    case NN_LR_COSINE:
        if (s->total_steps <= 0)
            ag_error(op, "cosine schedule: total_steps %d must be > 0", s->total_steps);
        if (!(s->min_lr >= 0)) ag_error(op, "cosine schedule: min_lr %g must be >= 0", s->min_lr);
        break;
    default: ag_error(op, "unknown schedule kind %d", (int)s->kind);
    }
}

double nn_lr_at(const nn_lr_schedule *s, double base_lr, int64_t t) {
    if (!s) return base_lr;
    check_schedule("nn_lr_at", s);
    if (t < s->warmup_steps) return base_lr * (double)(t + 1) / s->warmup_steps; /* linear ramp */
    int64_t k = t - s->warmup_steps; /* the schedule's own clock */
    switch (s->kind) {
    case NN_LR_STEP: return base_lr * pow(s->gamma, (double)(k / s->step_size));
    case NN_LR_COSINE: {
        double T = s->total_steps, u = k < s->total_steps ? (double)k / T : 1.0;
        return s->min_lr + (base_lr - s->min_lr) * 0.5 * (1 + cos(PI * u));
    }
    default: return base_lr;
    }
}

void nn_optim_set_schedule(nn_optim *o, const nn_lr_schedule *s) {
    if (s) check_schedule("nn_optim_set_schedule", s);
    o->sched = s ? *s : (nn_lr_schedule){.kind = NN_LR_CONSTANT};
}

/* ---- queries --------------------------------------------------------------------------- */

int64_t nn_optim_steps(const nn_optim *o) {
    return (int64_t)o->step->data[0] * (int64_t)STEP_BASE + (int64_t)o->step->data[1];
}

static void set_steps(nn_optim *o, int64_t t) {
    o->step->data[0] = (ag_real)(t / (int64_t)STEP_BASE);
    o->step->data[1] = (ag_real)(t % (int64_t)STEP_BASE);
}

double nn_optim_lr(const nn_optim *o) { return nn_lr_at(&o->sched, o->lr, nn_optim_steps(o)); }
double nn_optim_grad_norm(const nn_optim *o) { return o->last_norm; }
nn_optim_kind nn_optim_get_kind(const nn_optim *o) { return o->kind; }
const nn_param_list *nn_optim_params(const nn_optim *o) { return &o->params; }
void nn_optim_zero_grad(nn_optim *o) { nn_params_zero_grad(&o->params); }

/* ---- the gradient norm -------------------------------------------------------------------- */

/* Σ g² in double with 8 interleaved partial sums: a fixed order of additions, and eight
 * independent chains the compiler keeps in vector registers (6x a single running sum). */
static double sum_squares(const ag_real *g, size_t n) {
    double acc[8] = {0};
    size_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) acc[k] += (double)g[j + k] * g[j + k];
    double s = 0;
    for (; j < n; j++) s += (double)g[j] * g[j];
    for (int k = 0; k < 8; k++) s += acc[k];
    return s;
}

/* ‖g‖ = √(Σ g²) over every parameter that has a gradient.  Chunks are fixed by NORM_CHUNK,
 * not by the thread count, so the sum is bit-identical however many threads run. */
static double global_grad_norm(nn_optim *o) {
    double total = 0;
    for (int i = 0; i < o->params.n; i++) {
        const ag_tensor *x = o->params.items[i].value;
        if (!x->grad) continue;
        const ag_real *g = x->grad;
        size_t n = x->size, chunks = (n + NORM_CHUNK - 1) / NORM_CHUNK;
        double *part = o->partials;
        AG_PARALLEL_FOR(c, (long)chunks, n >= NN_OPTIM_PAR_MIN, {
            size_t lo = (size_t)c * NORM_CHUNK, len = n - lo < NORM_CHUNK ? n - lo : NORM_CHUNK;
            part[c] = sum_squares(g + lo, len);
        });
        for (size_t c = 0; c < chunks; c++) total += part[c];
    }
    return sqrt(total);
}

/* ---- the updates ------------------------------------------------------------------------ */
/* Each takes g already scaled by the clip factor `c`; `l2` is the weight decay folded into
 * the gradient (0 for AdamW). */

static void sgd_plain(size_t n, ag_real *restrict w, const ag_real *restrict g, ag_real lr,
                      ag_real c, ag_real l2) {
    AG_PARALLEL_FOR_SIMD(j, (long)n, n >= NN_OPTIM_PAR_MIN, {
        w[j] -= lr * (c * g[j] + l2 * w[j]);
    });
}

static void sgd_momentum(size_t n, ag_real *restrict w, const ag_real *restrict g,
                         ag_real *restrict b, ag_real lr, ag_real c, ag_real l2, ag_real mu) {
    AG_PARALLEL_FOR_SIMD(j, (long)n, n >= NN_OPTIM_PAR_MIN, {
        b[j] = mu * b[j] + (c * g[j] + l2 * w[j]); /* b = μb + g */
        w[j] -= lr * b[j];
    });
}

static void sgd_nesterov(size_t n, ag_real *restrict w, const ag_real *restrict g,
                         ag_real *restrict b, ag_real lr, ag_real c, ag_real l2, ag_real mu) {
    AG_PARALLEL_FOR_SIMD(j, (long)n, n >= NN_OPTIM_PAR_MIN, {
        ag_real gj = c * g[j] + l2 * w[j];
        b[j] = mu * b[j] + gj;                     /* b = μb + g */
        w[j] -= lr * (gj + mu * b[j]);             /* look ahead: g + μb */
    });
}

/* Kingma & Ba's Algorithm 1, w ← w − lr·m̂/(√v̂ + eps) with m̂ = m/(1−β1^t), v̂ = v/(1−β2^t),
 * the two bias corrections folded into scalars so the loop does one division:
 *   w ← decay·w − step · m / (√v · inv_sqrt_bc2 + eps),  step = lr/(1−β1^t),
 *   inv_sqrt_bc2 = 1/√(1−β2^t),  decay = 1 − lr·wd for AdamW and 1 for Adam.
 * sqrt can only be vectorised when it need not set errno (build with -fno-math-errno);
 * otherwise asking for simd would only make clang warn that it cannot. */
#ifdef __NO_MATH_ERRNO__
#define ADAM_FOR AG_PARALLEL_FOR_SIMD
#else
#define ADAM_FOR AG_PARALLEL_FOR
#endif
static void adam_update(size_t n, ag_real *restrict w, const ag_real *restrict g,
                        ag_real *restrict m, ag_real *restrict v, ag_real c, ag_real l2,
                        ag_real b1, ag_real b2, ag_real step, ag_real inv_sqrt_bc2,
                        ag_real eps, ag_real decay) {
    ADAM_FOR(j, (long)n, n >= NN_OPTIM_PAR_MIN, {
        ag_real gj = c * g[j] + l2 * w[j];
        m[j] = b1 * m[j] + (1 - b1) * gj;          /* m = β1 m + (1-β1) g */
        v[j] = b2 * v[j] + (1 - b2) * gj * gj;     /* v = β2 v + (1-β2) g² */
        w[j] = decay * w[j] - step * m[j] / (real_sqrt(v[j]) * inv_sqrt_bc2 + eps);
    });
}

/* The update of elements [lo, lo+n) of parameter i, with the gradient scaled by c.  With
 * sumsq != NULL it also returns Σ g² of those elements there (sum_squares's value). */
static void update_range(nn_optim *o, int i, size_t lo, size_t n, double lr, ag_real c,
                         double bc1, double bc2, double *sumsq) {
    ag_tensor *x = o->params.items[i].value;
    ag_real *w = x->data + lo;
    const ag_real *g = x->grad + lo;
    if (o->kind == NN_SGD) {
        if (sumsq) *sumsq = sum_squares(g, n);
        ag_real l2 = (ag_real)o->weight_decay, mu = (ag_real)o->momentum;
        if (o->momentum == 0) sgd_plain(n, w, g, (ag_real)lr, c, l2);
        else if (o->nesterov) sgd_nesterov(n, w, g, o->m[i]->data + lo, (ag_real)lr, c, l2, mu);
        else sgd_momentum(n, w, g, o->m[i]->data + lo, (ag_real)lr, c, l2, mu);
        return;
    }
    bool decoupled = o->kind == NN_ADAMW;
    ag_real l2 = decoupled ? 0 : (ag_real)o->weight_decay, b1 = (ag_real)o->beta1,
            b2 = (ag_real)o->beta2, step = (ag_real)(lr / bc1),
            inv_sqrt_bc2 = (ag_real)(1 / sqrt(bc2)), eps = (ag_real)o->eps,
            decay = decoupled ? (ag_real)(1 - lr * o->weight_decay) : 1;
    ag_real *m = o->m[i]->data + lo, *v = o->v[i]->data + lo;
#ifdef AG_HAVE_VECMATH
    /* The same arithmetic in wide vectors, and Σ g² in the same pass (without
     * -march=native the loops below are SSE2: sqrt and division took 9% of a VAE epoch). */
    ag_isa isa = ag_kernel_isa();
    if (isa != AG_ISA_PORTABLE) {
        ag_adam_hyper h = {c, l2, b1, b2, step, inv_sqrt_bc2, eps, decay};
        (isa == AG_ISA_AVX512 ? ag_adam_update_avx512 : ag_adam_update_avx2)((long)n, w, g, m, v,
                                                                           &h, sumsq);
        return;
    }
#endif
    if (sumsq) *sumsq = sum_squares(g, n);
    adam_update(n, w, g, m, v, c, l2, b1, b2, step, inv_sqrt_bc2, eps, decay);
}

/* Without clipping, nothing waits for the norm, so each parameter takes one pass: every
 * NORM_CHUNK-sized chunk adds up its Σg² and is then updated while it is in cache (the
 * update does not change g).  The chunks and the order they are summed in are those of
 * global_grad_norm, so the norm is the same number bit for bit, and so is every update.
 * With clipping the norm must be known before the first update: two passes. */
double nn_optim_step(nn_optim *o) {
    int64_t t = nn_optim_steps(o);
    double lr = nn_lr_at(&o->sched, o->lr, t);
    double bc1 = 1 - pow(o->beta1, (double)(t + 1)); /* Adam's bias corrections 1 - β^t */
    double bc2 = 1 - pow(o->beta2, (double)(t + 1));
    double norm;

    if (o->clip_norm > 0) {
        norm = global_grad_norm(o);
        ag_real c = norm > o->clip_norm ? (ag_real)(o->clip_norm / norm) : 1;
        for (int i = 0; i < o->params.n; i++) {
            ag_tensor *x = o->params.items[i].value;
            if (!x->grad) continue; /* no gradient ever reached it */
            update_range(o, i, 0, x->size, lr, c, bc1, bc2, NULL);
        }
    } else {
        double total = 0;
        for (int i = 0; i < o->params.n; i++) {
            ag_tensor *x = o->params.items[i].value;
            if (!x->grad) continue;
            size_t n = x->size, chunks = (n + NORM_CHUNK - 1) / NORM_CHUNK;
            double *part = o->partials;
            /* inside a threaded loop, update_range's own loops run on the calling thread */
            AG_PARALLEL_FOR(c, (long)chunks, n >= NN_OPTIM_PAR_MIN, {
                size_t lo = (size_t)c * NORM_CHUNK, len = n - lo < NORM_CHUNK ? n - lo : NORM_CHUNK;
                update_range(o, i, lo, len, lr, 1, bc1, bc2, &part[c]);
            });
            for (size_t c = 0; c < chunks; c++) total += part[c];
        }
        norm = sqrt(total);
    }
    o->last_norm = norm;
    set_steps(o, t + 1);
    return norm;
}

/* ---- state for checkpoints ------------------------------------------------------------- */

/* "prefix.s", or s when prefix is NULL, in buf. */
static const char *join(char *buf, size_t n, const char *prefix, const char *s) {
    int k = prefix ? snprintf(buf, n, "%s.%s", prefix, s) : snprintf(buf, n, "%s", s);
    if (k < 0 || (size_t)k >= n) ag_error("nn_optim_state", "prefix '%s' is too long", prefix);
    return buf;
}

void nn_optim_state(const nn_optim *o, const char *prefix, nn_param_list *out) {
    char a[256], b[256];
    nn_params_add(out, NULL, join(a, sizeof a, prefix, "optim.step"), o->step, false);
    for (int i = 0; i < o->params.n; i++) {
        const char *name = o->params.items[i].name;
        if (o->kind == NN_SGD) {
            if (o->m[i])
                nn_params_add(out, join(a, sizeof a, prefix, "sgd.momentum"), name, o->m[i], false);
        } else {
            nn_params_add(out, join(a, sizeof a, prefix, "adam.m"), name, o->m[i], false);
            nn_params_add(out, join(b, sizeof b, prefix, "adam.v"), name, o->v[i], false);
        }
    }
}
