/* gan.c — the GAN's two losses, from logits so that ln D and ln(1 − D) never see a 0:
 *     ln D(x)     = ln σ(l)  = log_sigmoid(l)
 *     ln(1 − D(x)) = ln σ(−l) = log_sigmoid(−l)
 * Seed 004 eq. (20) is the discriminator's objective, eq. (21) the generator's. */
#include "vae/gan.h"
#include "vae/gaussian.h" /* vae_build_net */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LN2 0.6931471805599453

gan *gan_new(const gan_config *cfg, nn_error *err) {
    gan *g = calloc(1, sizeof *g);
    if (!g) ag_error("gan_new", "out of memory");
    g->cfg = *cfg;
    g->training = true;
    if (g->cfg.d_steps < 1) g->cfg.d_steps = 1;
    if (g->cfg.pack < 1) g->cfg.pack = 1;
    if (cfg->z_dim < 1 || cfg->x_ndim < 1 || cfg->x_ndim > NN_MAX_SHAPE) {
        nn_fail(err, "gan: need z_dim >= 1 and a sample shape of 1 to 3 dims");
        free(g);
        return NULL;
    }
    g->x_size = 1;
    for (int i = 0; i < cfg->x_ndim; i++) g->x_size *= cfg->x_shape[i];
    ag_rng rng;
    ag_rng_seed(&rng, cfg->seed);
    /* D's input: `pack` samples stacked along the first per-sample axis, which is what a
     * reshape of (n, ...) to (n/pack, pack·first, ...) produces: no copy needed. */
    int d_shape[NN_MAX_SHAPE];
    memcpy(d_shape, cfg->x_shape, sizeof d_shape);
    d_shape[0] *= g->cfg.pack;
    if (cfg->n_classes < 0 || (cfg->n_classes > 0 && g->cfg.pack != 1)) {
        nn_fail(err, "gan: n_classes must be >= 0, and a conditional gan needs pack = 1");
        free(g);
        return NULL;
    }
    /* a conditional G reads z and y's one-hot code, joined */
    g->generator = vae_build_net(cfg->generator, cfg->generator_text, cfg->layer_types, 1,
                                 (int[]){cfg->z_dim + cfg->n_classes}, &rng, "generator", err);
    if (g->generator)
        g->discriminator = vae_build_net(cfg->discriminator, cfg->discriminator_text,
                                         cfg->layer_types, cfg->x_ndim, d_shape, &rng,
                                         "discriminator", err);
    if (!g->generator || !g->discriminator) goto fail;
    if (nn_net_out_size(g->generator) != g->x_size) {
        nn_fail(err, "generator: must output one sample of %d values, it outputs %d",
                g->x_size, nn_net_out_size(g->generator));
        goto fail;
    }
    if (nn_net_out_size(g->discriminator) != 1) {
        nn_fail(err, "discriminator: must output 1 logit, it outputs %d (end it with 'linear 1')",
                nn_net_out_size(g->discriminator));
        goto fail;
    }
    nn_params_extend(&g->g_params, "generator", &g->generator->params);
    nn_params_extend(&g->d_params, "discriminator", &g->discriminator->params);
    if (cfg->n_classes > 0 && g->discriminator->n_layers < 1) {
        nn_fail(err, "discriminator: a conditional gan needs at least one layer (its input is φ)");
        goto fail;
    }
    if (cfg->n_classes > 0) { /* E: zeros, so D starts unconditional and no draw is taken */
        const nn_layer *last = &g->discriminator->layers[g->discriminator->n_layers - 1];
        g->feat_dim = 1;
        for (int i = 0; i < last->in_ndim; i++) g->feat_dim *= last->in_shape[i];
        g->projection = ag_tensor_new(2, (int[]){cfg->n_classes, g->feat_dim}, true);
        nn_params_add(&g->d_params, "discriminator", "projection", g->projection, true);
    }
    return g;
fail:
    gan_free(g);
    return NULL;
}

void gan_free(gan *g) {
    if (!g) return;
    nn_net_free(g->generator);
    nn_net_free(g->discriminator);
    nn_params_free(&g->g_params);
    nn_params_free(&g->d_params);
    ag_tensor_free(g->projection);
    free(g);
}

void gan_set_training(gan *g, bool on) { g->training = on; }

ag_tensor *gan_sample_z(gan *g, ag_tape *t, int n) {
    int shape[2] = {n, g->cfg.z_dim};
    return g->cfg.prior == GAN_PRIOR_UNIFORM ? ag_uniform(t, 2, shape, -1, 1)
                                             : ag_randn(t, 2, shape, 1);
}

/* A conditional gan's functions need labels; the others must not get any. */
static void check_labels(const gan *g, const int *y, const char *fn) {
    if (g->cfg.n_classes > 0 && !y)
        ag_error(fn, "this gan is conditional (n_classes = %d): use the *_labeled functions",
                 g->cfg.n_classes);
    if (g->cfg.n_classes == 0 && y) ag_error(fn, "labels given to an unconditional gan");
}

/* y's one-hot code (n, K), a constant on the tape; a label out of range is an error. */
static ag_tensor *one_hot(gan *g, ag_tape *t, const int *y, int n) {
    int K = g->cfg.n_classes;
    ag_tensor *h = ag_zeros(t, 2, (int[]){n, K});
    for (int i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] >= K)
            ag_error("gan_generate", "label %d of row %d is not in 0..%d", y[i], i, K - 1);
        h->data[(size_t)i * K + y[i]] = 1;
    }
    return h;
}

int *gan_sample_labels(gan *g, ag_tape *t, int n) {
    if (g->cfg.n_classes == 0) ag_error("gan_sample_labels", "this gan is unconditional");
    int *y = ag_tape_alloc(t, sizeof(int) * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) /* one uniform each: floor(u·K) < K as u < 1 */
        y[i] = (int)(ag_rng_uniform(ag_tape_rng(t)) * g->cfg.n_classes);
    return y;
}

ag_tensor *gan_generate(gan *g, ag_tape *t, ag_tensor *z) {
    return gan_generate_labeled(g, t, z, NULL);
}

ag_tensor *gan_generate_labeled(gan *g, ag_tape *t, ag_tensor *z, const int *y) {
    check_labels(g, y, "gan_generate");
    if (y) z = ag_concat(t, (ag_tensor *[]){z, one_hot(g, t, y, z->shape[0])}, 2, 1);
    ag_tensor *x = nn_forward(g->generator, t, z, g->training);
    int shape[AG_MAX_DIMS] = {z->shape[0]};
    memcpy(shape + 1, g->cfg.x_shape, sizeof(int) * (size_t)g->cfg.x_ndim);
    return ag_reshape(t, x, g->cfg.x_ndim + 1, shape);
}

/* D's logits with D in training mode or not (DRS wants D in evaluation mode while G
 * samples as it trained). */
static ag_tensor *d_logits(gan *g, ag_tape *t, ag_tensor *x, const int *y, bool training) {
    int n = x->shape[0], p = g->cfg.pack;
    check_labels(g, y, "gan_d_logits");
    if (n % p != 0)
        ag_error("gan_d_logits", "batch of %d samples is not a multiple of pack = %d", n, p);
    int shape[AG_MAX_DIMS] = {n / p};
    memcpy(shape + 1, g->cfg.x_shape, sizeof(int) * (size_t)g->cfg.x_ndim);
    shape[1] *= p;
    nn_net *d = g->discriminator;
    x = ag_reshape(t, x, g->cfg.x_ndim + 1, shape);
    if (!y) return ag_reshape(t, nn_forward(d, t, x, training), 1, (int[]){n / p});
    /* the projection discriminator: l = ψ(φ(x)) + Σ_f (e_y)_f φ_f(x) */
    ag_tensor *phi = nn_forward_to(d, t, x, training, d->n_layers - 1);
    nn_layer *last = &d->layers[d->n_layers - 1];          /* ψ: the last layer, on φ */
    ag_tensor *psi = last->type->forward(last, t, phi, training);
    ag_tensor *e = ag_index_select(t, g->projection, y, n);                   /* (n, F) */
    ag_tensor *proj = ag_sum_axis(t, ag_mul(t, e, ag_reshape(t, phi, 2, (int[]){n, g->feat_dim})),
                                  1, false);                                  /* (n) */
    return ag_add(t, ag_reshape(t, psi, 1, (int[]){n}), proj);
}

ag_tensor *gan_d_logits(gan *g, ag_tape *t, ag_tensor *x) {
    return d_logits(g, t, x, NULL, g->training);
}

ag_tensor *gan_d_logits_labeled(gan *g, ag_tape *t, ag_tensor *x, const int *y) {
    return d_logits(g, t, x, y, g->training);
}

ag_tensor *gan_discriminate(gan *g, ag_tape *t, ag_tensor *x) {
    if (g->cfg.pack != 1) ag_error("gan_discriminate", "D(x) of single samples needs pack = 1");
    return ag_sigmoid(t, gan_d_logits(g, t, x));
}

static double mean_sigmoid(const ag_tensor *l) {
    double s = 0;
    for (size_t i = 0; i < l->size; i++) s += 1 / (1 + exp(-(double)l->data[i]));
    return s / (double)l->size;
}

/* D's buffers (trainable = false) one after another: copied into a new tensor on the tape
 * (from NULL), or written back from one made so (returned as given). */
static ag_tensor *buffers(gan *g, ag_tape *t, ag_tensor *from) {
    const nn_param_list *l = &g->d_params;
    size_t n = 0;
    for (int i = 0; i < l->n; i++) n += l->items[i].trainable ? 0 : l->items[i].value->size;
    ag_tensor *b = from ? from : ag_zeros(t, 1, (int[]){n > 0 ? (int)n : 1});
    n = 0;
    for (int i = 0; i < l->n; i++) {
        ag_tensor *v = l->items[i].value;
        if (l->items[i].trainable) continue;
        if (from) memcpy(v->data, b->data + n, sizeof(ag_real) * v->size);
        else memcpy(b->data + n, v->data, sizeof(ag_real) * v->size);
        n += v->size;
    }
    return b;
}

ag_tensor *gan_d_loss(gan *g, ag_tape *t, ag_tensor *x_real, gan_stats *stats) {
    return gan_d_loss_labeled(g, t, x_real, NULL, stats);
}

ag_tensor *gan_d_loss_labeled(gan *g, ag_tape *t, ag_tensor *x_real, const int *y,
                              gan_stats *stats) {
    int n = x_real->shape[0];
    check_labels(g, y, "gan_d_loss");
    /* The fakes enter D as constants: D's step must not move G (eq. (20) maximises over D
     * only), and skipping G's backward halves the work. */
    bool grad = ag_set_grad_enabled(t, false);
    ag_tensor *fake = gan_generate_labeled(g, t, gan_sample_z(g, t, n), y);
    ag_set_grad_enabled(t, grad);
    /* For R1 below: the PRNG (D's dropout masks) and D's buffers (spectral norm's u, v;
     * batch norm's running statistics) before the real pass. */
    ag_rng before_real = *ag_tape_rng(t);
    ag_tensor *buffers_real = g->cfg.r1_gamma > 0 ? buffers(g, t, NULL) : NULL;
    ag_tensor *l_real = gan_d_logits_labeled(g, t, x_real, y),
              *l_fake = gan_d_logits_labeled(g, t, fake, y);
    /* V = mean ln σ(l_real) + mean ln σ(−l_fake);  D's loss is −V */
    ag_tensor *v = ag_add(t, ag_mean(t, ag_log_sigmoid(t, l_real)),
                          ag_mean(t, ag_log_sigmoid(t, ag_neg(t, l_fake))));
    ag_tensor *loss = ag_neg(t, v);
    if (g->cfg.label_smooth > 0) { /* real target 1 − s: −mean[(1 − s) ln σ(l) + s ln σ(−l)] */
        ag_real s = (ag_real)g->cfg.label_smooth;
        ag_tensor *real = ag_add(t, ag_scale(t, ag_log_sigmoid(t, l_real), 1 - s),
                                 ag_scale(t, ag_log_sigmoid(t, ag_neg(t, l_real)), s));
        loss = ag_neg(t, ag_add(t, ag_mean(t, real),
                                ag_mean(t, ag_log_sigmoid(t, ag_neg(t, l_fake)))));
    }
    ag_tensor *r1 = NULL;
    if (g->cfg.r1_gamma > 0) {
        /* ‖∇_x l‖² ≈ ((l(x + h·u) − l(x)) / h)², u ~ N(0, I): see gan_config */
        double h = g->cfg.r1_step > 0 ? g->cfg.r1_step : 1e-3;
        ag_tensor *u = ag_randn(t, x_real->ndim, x_real->shape, (ag_real)h);
        /* l(x + h·u) by the very D of l(x): the same dropout masks and the same σ(W) of
         * spectral norm (a fresh mask or σ would make the difference O(1)/h).  The real
         * pass is replayed from its PRNG and buffers, then both go on where they were. */
        ag_rng after = *ag_tape_rng(t);
        ag_tensor *now = buffers(g, t, NULL);
        buffers(g, t, buffers_real);
        *ag_tape_rng(t) = before_real;
        ag_tensor *l_moved = gan_d_logits_labeled(g, t, ag_add(t, x_real, u), y);
        *ag_tape_rng(t) = after;
        buffers(g, t, now);
        ag_tensor *dl = ag_sub(t, l_moved, l_real);
        r1 = ag_scale(t, ag_mean(t, ag_square(t, dl)), (ag_real)(1 / (h * h)));
        loss = ag_add(t, loss, ag_scale(t, r1, (ag_real)(g->cfg.r1_gamma / 2)));
    }
    if (stats) {
        stats->r1 = r1 ? ag_item(r1) : 0;
        stats->d_loss = ag_item(loss);
        stats->value = ag_item(v);
        stats->js = (stats->value + 2 * LN2) / 2;   /* eq. (14) solved for JS */
        stats->d_real = mean_sigmoid(l_real);
        stats->d_fake = mean_sigmoid(l_fake);
    }
    return loss;
}

ag_tensor *gan_g_loss(gan *g, ag_tape *t, int n, gan_stats *stats) {
    return gan_g_loss_labeled(g, t, NULL, n, stats);
}

ag_tensor *gan_g_loss_labeled(gan *g, ag_tape *t, const int *y, int n, gan_stats *stats) {
    check_labels(g, y, "gan_g_loss");
    ag_tensor *l = gan_d_logits_labeled(g, t, gan_generate_labeled(g, t, gan_sample_z(g, t, n), y), y);
    ag_tensor *loss = g->cfg.gen_loss == GAN_MINIMAX
                          ? ag_mean(t, ag_log_sigmoid(t, ag_neg(t, l)))   /* E ln(1 − D(G(z))) */
                          : ag_neg(t, ag_mean(t, ag_log_sigmoid(t, l)));  /* −E ln D(G(z)) */
    if (stats) stats->g_loss = ag_item(loss);
    return loss;
}

/* ---- discriminator rejection sampling (Azadi et al. 2019; see gan.h) ---------------------- */

gan_drs gan_drs_begin(const ag_real *logits, int n, double gamma) {
    if (n < 1) ag_error("gan_drs_begin", "the burn-in needs at least 1 logit, got %d", n);
    gan_drs d = {.max_logit = logits[0], .gamma = gamma};
    for (int i = 1; i < n; i++)
        if (logits[i] > d.max_logit) d.max_logit = logits[i];
    return d;
}

double gan_drs_accept_prob(const gan_drs *d, double logit) {
    double a = exp(fmin(logit - d->max_logit, 0)); /* e^{l − M}: p_d/p_g over its bound */
    if (d->gamma == 0 || a >= 1) return a;         /* (a = 1: kept for any γ) */
    return a / (a + (1 - a) * exp(d->gamma));       /* σ(logit a − γ) */
}

int gan_drs_filter(gan_drs *d, const ag_real *logits, int n, ag_rng *rng, ag_real *rows,
                   size_t row_size) {
    int kept = 0;
    for (int i = 0; i < n; i++) {
        if (logits[i] > d->max_logit) d->max_logit = logits[i]; /* M was too low: raise it */
        if (ag_rng_uniform(rng) >= gan_drs_accept_prob(d, logits[i])) continue;
        if (rows && kept != i)
            memmove(rows + (size_t)kept * row_size, rows + (size_t)i * row_size,
                    sizeof(ag_real) * row_size);
        kept++;
    }
    d->tried += n, d->kept += kept;
    return kept;
}

int gan_drs_sample(gan *g, ag_tape *t, gan_drs *d, int burn_in, int n, int batch,
                   long max_tries, ag_real *out) {
    const int p = g->cfg.pack;
    if (batch < 1 || batch % p != 0)
        ag_error("gan_drs_sample", "batch %d is not a positive multiple of pack = %d", batch, p);
    const size_t group = (size_t)p * (size_t)g->x_size; /* D decides on `pack` samples */
    bool grad = ag_set_grad_enabled(t, false);
    double gamma = d->gamma;
    bool begun = false;
    int done = 0, burnt = 0;
    long tries = 0;
    while (done < n && (max_tries <= 0 || tries < max_tries)) {
        ag_tensor *z = gan_sample_z(g, t, batch);
        const int *y = g->cfg.n_classes > 0 ? gan_sample_labels(g, t, batch) : NULL;
        ag_tensor *x = gan_generate_labeled(g, t, z, y);
        ag_tensor *l = d_logits(g, t, x, y, false);              /* (batch / pack) */
        int groups = batch / p;
        if (burnt < burn_in || !begun) {                         /* M from these only */
            gan_drs b = gan_drs_begin(l->data, groups, gamma);
            if (!begun || b.max_logit > d->max_logit) *d = b;
            begun = true, burnt += batch;
        } else {
            int kept = gan_drs_filter(d, l->data, groups, ag_tape_rng(t), x->data, group);
            size_t values = (size_t)kept * group, room = (size_t)(n - done) * g->x_size;
            memcpy(out + (size_t)done * g->x_size, x->data,
                   sizeof(ag_real) * (values < room ? values : room));
            done += values < room ? kept * p : n - done;
            tries += batch;
        }
        ag_tape_clear(t);
    }
    ag_set_grad_enabled(t, grad);
    return done;
}
