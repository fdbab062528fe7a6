/* test_vae.c — the VAE library (vae/vae.c, vae/train.c) against what it claims to compute:
 *   - gradients of the KL term, of −ln p(x|z) for each likelihood and of the whole loss
 *     (ELBO with L = 1 and 3 samples, IWAE with k = 4) w.r.t. every parameter, against
 *     central differences (ag_gradcheck reseeds the tape's PRNG before every evaluation,
 *     so the reparameterization noise is the same in each);
 *   - values: the closed-form KL against a Monte-Carlo estimate, the likelihoods against
 *     their formulas, the IWAE bound against the ELBO and against log p(x) integrated on a
 *     grid (possible because z is 2-D);
 *   - vae_auroc on hand cases and against a brute-force count over all pairs;
 *   - vae_new's errors; a tiny VAE learning a toy dataset; bit-identical repeated runs. */
#include "tests/test.h"
#include "vae/vae.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef AG_DOUBLE
#define VAL_TOL 1e-10 /* relative, for forward values against direct formulas */
#else
#define VAL_TOL 1e-5
#endif

#define LOG_2PI 1.8378770664093453

/* ---- helpers ----------------------------------------------------------------------------- */

/* The tiny VAE of the gradient checks: x of 6 values, z of 2. */
static vae *tiny_vae(vae_likelihood lik, vae_objective obj, int samples) {
    nn_error err = {{0}};
    vae *m = vae_new(&(vae_config){.x_ndim = 1, .x_shape = {6}, .z_dim = 2,
                                   .encoder_text = "linear 5, tanh, linear 4",
                                   .decoder_text = "linear 5, tanh, linear 6",
                                   .likelihood = lik, .sigma = 0.7, .objective = obj,
                                   .samples = samples, .seed = 5},
                     &err);
    if (!m) test_fail(__FILE__, __LINE__, "vae_new: %s", err.msg);
    return m;
}

/* A heap tensor with values uniform in [lo, hi). */
static ag_tensor *uniform_tensor(ag_rng *r, int ndim, const int *shape, double lo, double hi,
                                 bool requires_grad, const char *name) {
    ag_tensor *x = ag_tensor_new(ndim, shape, requires_grad);
    x->name = name;
    for (size_t i = 0; i < x->size; i++) x->data[i] = (ag_real)(lo + (hi - lo) * ag_rng_uniform(r));
    return x;
}

static void check_report(const char *label, const ag_gradcheck_report *rep) {
    if (!rep->ok || !rep->accumulates) {
        ag_gradcheck_print(label, rep, stderr);
        test_fail(__FILE__, __LINE__, "%s: gradient check failed%s", label,
                  rep->accumulates ? "" : " (a second backward did not accumulate)");
    }
}

/* The toy dataset: 8-pixel binary patterns, each one of 4 prototypes with every pixel
 * flipped with probability 0.05; the label is the prototype. */
static const int PROTO[4][8] = {{1, 1, 1, 1, 0, 0, 0, 0},
                                {0, 0, 0, 0, 1, 1, 1, 1},
                                {1, 0, 1, 0, 1, 0, 1, 0},
                                {0, 1, 1, 0, 0, 1, 1, 0}};

static nn_dataset *toy_data(int n, uint64_t seed) {
    nn_dataset *d = nn_dataset_new(n, 1, (int[]){8}, true);
    ag_rng r;
    ag_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        int k = (int)ag_rng_below(&r, 4);
        d->y[i] = k;
        for (int j = 0; j < 8; j++)
            d->x[i * 8 + j] = (ag_real)(ag_rng_uniform(&r) < 0.05 ? 1 - PROTO[k][j] : PROTO[k][j]);
    }
    nn_dataset_update_classes(d);
    return d;
}

static vae *toy_vae(uint64_t seed) {
    nn_error err = {{0}};
    vae *m = vae_new(&(vae_config){.x_ndim = 1, .x_shape = {8}, .z_dim = 2,
                                   .encoder_text = "linear 16, tanh, linear 4",
                                   .decoder_text = "linear 16, tanh, linear 8",
                                   .likelihood = VAE_BERNOULLI, .seed = seed},
                     &err);
    if (!m) test_fail(__FILE__, __LINE__, "vae_new: %s", err.msg);
    return m;
}

/* Trains m on d with Adam (lr 0.01, batches of 32) for `epochs` epochs through
 * vae_train_epoch; losses[e] (if non-NULL) gets each epoch's mean loss. */
static void train_toy(vae *m, const nn_dataset *d, int epochs, uint64_t seed, double *losses) {
    nn_optim *opt = nn_adam(vae_params(m), 1e-2);
    ag_rng rng;
    ag_rng_seed(&rng, seed);
    nn_batcher *it = nn_batcher_new(d, &(nn_batch_opts){.batch_size = 32}, &rng);
    ag_tape *t = ag_tape_new(seed);
    long step = 0;
    for (int e = 0; e < epochs; e++) {
        vae_epoch ep = vae_train_epoch(m, opt, it, t, seed, &step, NULL, NULL);
        CHECK(!ep.nonfinite && !ep.interrupted);
        CHECK(ep.steps == nn_batcher_num_batches(it));
        if (losses) losses[e] = ep.loss;
    }
    CHECK(step == (long)epochs * nn_batcher_num_batches(it));
    ag_tape_free(t);
    nn_batcher_free(it);
    nn_optim_free(opt);
}

static int hamming(const ag_real *p, const int *proto) { /* p thresholded at ½ */
    int d = 0;
    for (int j = 0; j < 8; j++) d += (p[j] > (ag_real)0.5) != proto[j];
    return d;
}

/* ---- gradients --------------------------------------------------------------------------- */

static ag_tensor *kl_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    (void)ctx;
    return vae_kl_normal(t, in[0], in[1]);
}

TEST(gradcheck_vae_kl_normal) {
    ag_rng r;
    ag_rng_seed(&r, 1);
    ag_tensor *mu = uniform_tensor(&r, 2, (int[]){3, 4}, -1.5, 1.5, true, "mu");
    ag_tensor *lv = uniform_tensor(&r, 2, (int[]){3, 4}, -2, 1, true, "logvar");
    ag_gradcheck_report rep = ag_gradcheck(kl_fn, (ag_tensor *[]){mu, lv}, 2, NULL, NULL);
    check_report("vae_kl_normal", &rep);
    /* The value: ½ Σ_j (mu² + e^logvar − 1 − logvar) per row. */
    ag_tape *t = ag_tape_new(1);
    ag_tensor *kl = vae_kl_normal(t, mu, lv);
    CHECK(kl->ndim == 1 && kl->shape[0] == 3);
    for (int i = 0; i < 3; i++) {
        double want = 0;
        for (int j = 0; j < 4; j++) {
            double u = mu->data[i * 4 + j], v = lv->data[i * 4 + j];
            want += 0.5 * (u * u + exp(v) - 1 - v);
        }
        CHECK_NEAR(kl->data[i], want, VAL_TOL * fabs(want));
    }
    ag_tape_free(t);
    ag_tensor_free(mu);
    ag_tensor_free(lv);
}

typedef struct { vae *m; ag_tensor *x; } vae_ctx;

static ag_tensor *nll_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    vae_ctx *c = ctx;
    return vae_neg_log_likelihood(c->m, t, in[0], c->x);
}

/* −ln p(x|z) per example from the formula of each likelihood, in double. */
static double nll_formula(const vae *m, const ag_real *raw, const ag_real *x, int n) {
    double s = 0;
    for (int j = 0; j < n; j++) {
        double l = raw[j], y = x[j];
        if (m->cfg.likelihood == VAE_BERNOULLI) {
            double p = 1 / (1 + exp(-l));
            s -= y * log(p) + (1 - y) * log(1 - p);
        } else {
            double lv = m->cfg.likelihood == VAE_GAUSSIAN ? 2 * log(m->cfg.sigma)
                                                          : (double)m->x_logvar->data[j];
            s += 0.5 * (LOG_2PI + lv + (y - l) * (y - l) * exp(-lv));
        }
    }
    return s;
}

static void nll_case(const char *label, vae_likelihood lik) {
    vae *m = tiny_vae(lik, VAE_ELBO, 1);
    if (!m) return;
    ag_rng r;
    ag_rng_seed(&r, 2);
    ag_tensor *raw = uniform_tensor(&r, 2, (int[]){4, 6}, -2, 2, true, "raw");
    /* Grey values in [0, 1] for the Bernoulli (BCE is its log-likelihood there too). */
    ag_tensor *x = uniform_tensor(&r, 2, (int[]){4, 6}, lik == VAE_BERNOULLI ? 0 : -1.5, 1,
                                  false, "x");
    ag_tensor *in[2] = {raw, m->x_logvar};
    if (m->x_logvar) /* away from 0 so a logvar ignored by the formula would show */
        for (int j = 0; j < 6; j++) m->x_logvar->data[j] = (ag_real)(-1 + 0.4 * j);
    vae_ctx c = {m, x};
    ag_gradcheck_report rep = ag_gradcheck(nll_fn, in, m->x_logvar ? 2 : 1, &c, NULL);
    check_report(label, &rep);
    ag_tape *t = ag_tape_new(1);
    ag_tensor *nll = vae_neg_log_likelihood(m, t, raw, x);
    CHECK(nll->ndim == 1 && nll->shape[0] == 4);
    for (int i = 0; i < 4; i++) {
        double want = nll_formula(m, raw->data + i * 6, x->data + i * 6, 6);
        CHECK_NEAR(nll->data[i], want, VAL_TOL * fmax(1, fabs(want)));
    }
    if (m->x_logvar) { /* the learned variance is a trainable parameter of the model */
        nn_param *p = nn_params_find(vae_params(m), "likelihood.logvar");
        CHECK(p && p->value == m->x_logvar && p->trainable);
    }
    ag_tape_free(t);
    ag_tensor_free(raw);
    ag_tensor_free(x);
    vae_free(m);
}

TEST(gradcheck_vae_nll_bernoulli) { nll_case("nll bernoulli", VAE_BERNOULLI); }
TEST(gradcheck_vae_nll_gaussian_fixed) { nll_case("nll gaussian sigma=0.7", VAE_GAUSSIAN); }
TEST(gradcheck_vae_nll_gaussian_learned) {
    nll_case("nll gaussian learned", VAE_GAUSSIAN_LEARNED);
}

static ag_tensor *loss_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    (void)in; /* the inputs are the model's own parameters: vae_loss reads them */
    vae_ctx *c = ctx;
    return vae_loss(c->m, t, c->x, false, NULL);
}

/* Gradchecks vae_loss on a fixed batch of 3 w.r.t. every trainable parameter, and demands
 * that each parameter received some gradient (a parameter the loss ignored would pass the
 * comparison with both sides zero). */
static void loss_case(const char *label, vae_likelihood lik, vae_objective obj, int samples) {
    vae *m = tiny_vae(lik, obj, samples);
    if (!m) return;
    ag_rng r;
    ag_rng_seed(&r, 3);
    ag_tensor *x = ag_tensor_new(2, (int[]){3, 6}, false);
    for (size_t i = 0; i < x->size; i++)
        x->data[i] = lik == VAE_BERNOULLI ? (ag_real)(ag_rng_uniform(&r) < 0.5)
                                          : (ag_real)(2 * ag_rng_uniform(&r) - 1);
    if (m->x_logvar)
        for (int j = 0; j < 6; j++) m->x_logvar->data[j] = (ag_real)(0.3 - 0.2 * j);
    ag_tensor *in[16];
    int n = 0;
    size_t total = 0;
    nn_param_list *ps = vae_params(m);
    for (int i = 0; i < ps->n && n < 16; i++)
        if (ps->items[i].trainable) {
            in[n] = ps->items[i].value;
            in[n++]->name = ps->items[i].name;
            total += ps->items[i].value->size;
        }
    CHECK(n == (m->x_logvar ? 9 : 8)); /* 2 linears in each net, weight + bias, + logvar */
    vae_ctx c = {m, x};
    ag_gradcheck_report rep = ag_gradcheck(loss_fn, in, n, &c, NULL);
    check_report(label, &rep);
    CHECK(rep.evaluations == (int)(2 * total));
    for (int k = 0; k < n; k++) {
        bool any = false;
        for (size_t i = 0; i < in[k]->size; i++) any |= in[k]->grad[i] != 0;
        if (!any) test_fail(__FILE__, __LINE__, "%s: %s got no gradient", label, in[k]->name);
    }
    ag_tensor_free(x);
    vae_free(m);
}

TEST(gradcheck_vae_loss_elbo_one_sample) {
    loss_case("loss elbo L=1", VAE_BERNOULLI, VAE_ELBO, 1);
}
TEST(gradcheck_vae_loss_elbo_three_samples) {
    loss_case("loss elbo L=3", VAE_BERNOULLI, VAE_ELBO, 3);
}
TEST(gradcheck_vae_loss_iwae_k4) { loss_case("loss iwae k=4", VAE_BERNOULLI, VAE_IWAE, 4); }
TEST(gradcheck_vae_loss_gaussian_learned) {
    loss_case("loss elbo gaussian learned", VAE_GAUSSIAN_LEARNED, VAE_ELBO, 2);
}

/* The loss with β and warm-up: KL weight β·step/warmup, and −ELBO in the stats unweighted. */
TEST(vae_loss_kl_weight_follows_warmup) {
    vae *m = tiny_vae(VAE_BERNOULLI, VAE_ELBO, 1);
    if (!m) return;
    m->cfg.beta = 2, m->cfg.warmup_steps = 4;
    ag_tape *t = ag_tape_new(9);
    ag_tensor *x = ag_full(t, 2, (int[]){2, 6}, 1);
    double w[6];
    for (int s = 0; s < 6; s++) {
        vae_stats st;
        ag_tape_clear(t);
        x = ag_full(t, 2, (int[]){2, 6}, 1);
        vae_loss(m, t, x, true, &st);
        w[s] = st.kl_weight;
        CHECK_NEAR(st.loss, st.recon + st.kl_weight * st.kl, 1e-9 * fmax(1, st.loss) + VAL_TOL);
        CHECK_NEAR(st.neg_elbo, st.recon + st.kl, 1e-12);
    }
    CHECK(w[0] == 0 && w[1] == 0.5 && w[2] == 1 && w[3] == 1.5 && w[4] == 2 && w[5] == 2);
    CHECK(m->step == 6);
    ag_tape_free(t);
    vae_free(m);
}

/* ---- values ------------------------------------------------------------------------------ */

/* KL(q ‖ p) = E_q[ln q(z) − ln p(z)]: the closed form against the mean over n draws of
 * z = mu + σ·ε, with a tolerance of 5 standard errors of that mean (estimated from the
 * draws; the seed is fixed, so the test is deterministic).  The standard error is about
 * 0.006 nats here, so forgetting the "− 1" (off by 1.5) or using σ for σ² would fail. */
TEST(vae_kl_closed_form_matches_monte_carlo) {
    enum { Z = 3, DRAWS = 100000 };
    const double mu[Z] = {0.5, -1.2, 0.1}, lv[Z] = {-0.7, 0.4, -2.0};
    ag_tape *t = ag_tape_new(77);
    ag_tensor *mu1 = ag_zeros(t, 2, (int[]){1, Z}), *lv1 = ag_zeros(t, 2, (int[]){1, Z});
    ag_tensor *mun = ag_zeros(t, 2, (int[]){DRAWS, Z}), *lvn = ag_zeros(t, 2, (int[]){DRAWS, Z});
    for (int j = 0; j < Z; j++) {
        mu1->data[j] = (ag_real)mu[j], lv1->data[j] = (ag_real)lv[j];
        for (int i = 0; i < DRAWS; i++)
            mun->data[i * Z + j] = (ag_real)mu[j], lvn->data[i * Z + j] = (ag_real)lv[j];
    }
    double closed = ag_item(vae_kl_normal(t, mu1, lv1));
    ag_tensor *z = ag_reparameterize(t, mun, lvn);
    double s = 0, ss = 0;
    for (int i = 0; i < DRAWS; i++) {
        double d = 0; /* ln q(z) − ln p(z); the ½ ln 2π cancel */
        for (int j = 0; j < Z; j++) {
            double v = z->data[i * Z + j], e = v - mu[j];
            d += -0.5 * lv[j] - 0.5 * e * e * exp(-lv[j]) + 0.5 * v * v;
        }
        s += d, ss += d * d;
    }
    double mean = s / DRAWS, se = sqrt((ss / DRAWS - mean * mean) / DRAWS);
    CHECK(se < 0.02);
    CHECK_NEAR(closed, mean, 5 * se);
    ag_tape_free(t);
}

/* Shared by the IWAE tests: a toy VAE trained for 20 epochs and 20 test examples. */
typedef struct { vae *m; nn_dataset *train, *test; } toy_model;

static toy_model trained_toy(void) {
    toy_model tm = {toy_vae(21), toy_data(512, 100), toy_data(256, 200)};
    if (tm.m) train_toy(tm.m, tm.train, 20, 21, NULL);
    return tm;
}
static void toy_free(toy_model *tm) {
    vae_free(tm->m);
    nn_dataset_free(tm->train);
    nn_dataset_free(tm->test);
}

/* Mean and standard error of v[0..n). */
static void mean_se(const double *v, int n, double *mean, double *se) {
    double s = 0, ss = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) ss += (v[i] - *mean) * (v[i] - *mean);
    *se = sqrt(ss / (n - 1) / n);
}

/* The k-sample bound L_k = E ln (1/k) Σ w_k: L_1 is the ELBO in expectation, and
 * L_1 ≤ L_10 ≤ L_100 ≤ ln p(x) (Burda et al. 2016, theorem 1).  With z 2-D, ln p(x) =
 * ln ∫ p(x|z) p(z) dz is computed directly on a 200 x 200 grid over [−6, 6]² (the
 * integrand is smooth: a 600 x 600 grid agrees to 1e-6 nats).  Each example's bound is
 * drawn R times, and comparisons allow 5 standard errors of the Monte-Carlo noise. */
TEST(vae_iwae_bound_orders_between_elbo_and_log_px) {
    toy_model tm = trained_toy();
    if (!tm.m) return;
    vae *m = tm.m;
    /* Thousands of small ops: on a busy machine, waking a second thread for each costs
     * more than it saves (seconds instead of a fraction of one).  Restored at the end. */
    int threads = ag_num_threads();
    ag_set_num_threads(1);
    enum { NX = 20, R = 200, G = 200 };
    int idx[NX * R];
    for (int i = 0; i < NX * R; i++) idx[i] = i % NX; /* each example R times */
    ag_tape *t = ag_tape_new(31);
    ag_set_grad_enabled(t, false);
    ag_tensor *x = nn_dataset_batch(tm.test, t, idx, NX * R, true, NULL);
    static double b1[NX * R], b10[NX * R], b100[NX * R], elbo[NX * R];
    vae_iwae_bound(m, t, x, 1, b1);
    vae_iwae_bound(m, t, x, 10, b10);
    vae_iwae_bound(m, t, x, 100, b100);
    /* The ELBO of one draw per row, from the pieces: −KL − (−ln p(x|z)), z ~ q. */
    ag_tensor *mu, *lv;
    vae_encode(m, t, x, &mu, &lv);
    ag_tensor *kl = vae_kl_normal(t, mu, lv);
    ag_tensor *z = ag_reparameterize(t, mu, lv);
    ag_tensor *nll = vae_neg_log_likelihood(m, t, vae_decode_raw(m, t, z), x);
    for (int i = 0; i < NX * R; i++) elbo[i] = -(double)kl->data[i] - (double)nll->data[i];
    /* The training loss with objective IWAE and k = 10: minus the mean of the same bound. */
    m->cfg.objective = VAE_IWAE, m->cfg.samples = 10;
    double iwae_loss = ag_item(vae_loss(m, t, x, false, NULL));
    m->cfg.objective = VAE_ELBO, m->cfg.samples = 1;

    /* ln p(x) on the grid: Σ_g p(x|z_g) N(z_g; 0, I) h², per example, in log space. */
    double h = 12.0 / G, logpx[NX], mx[NX], acc[NX];
    for (int i = 0; i < NX; i++) mx[i] = -INFINITY, acc[i] = 0;
    for (int row = 0; row < G; row++) {
        ag_tape_clear(t);
        ag_tensor *zs = ag_zeros(t, 2, (int[]){G, 2});
        for (int c = 0; c < G; c++) {
            zs->data[2 * c] = (ag_real)(-6 + h * (c + 0.5));
            zs->data[2 * c + 1] = (ag_real)(-6 + h * (row + 0.5));
        }
        ag_tensor *logits = vae_decode_raw(m, t, zs); /* (G, 8) */
        for (int c = 0; c < G; c++) {
            double z0 = zs->data[2 * c], z1 = zs->data[2 * c + 1];
            double lpz = -LOG_2PI - 0.5 * (z0 * z0 + z1 * z1);
            double lp1[8], lp0[8]; /* ln σ(l), ln (1 − σ(l)) */
            for (int j = 0; j < 8; j++) {
                double l = logits->data[c * 8 + j];
                lp1[j] = -log1p(exp(-l));
                lp0[j] = lp1[j] - l;
            }
            for (int i = 0; i < NX; i++) {
                const ag_real *xi = nn_dataset_example(tm.test, i);
                double v = lpz;
                for (int j = 0; j < 8; j++) v += xi[j] > 0.5 ? lp1[j] : lp0[j];
                if (v > mx[i]) acc[i] = acc[i] * exp(mx[i] - v) + 1, mx[i] = v;
                else acc[i] += exp(v - mx[i]);
            }
        }
    }
    for (int i = 0; i < NX; i++) logpx[i] = mx[i] + log(acc[i]) + 2 * log(h);

    /* Each row's distance below ln p(x): comparing rows of the same examples removes the
     * spread of ln p(x) between examples, leaving only the Monte-Carlo noise.  With k = 1
     * the bound is ln w itself, and w = p(x|z) p(z) / q(z|x) is an unbiased estimate of
     * p(x): w / p(x) averages to 1 (this checks ln q and ln p(z) inside the weights). */
    static double ratio[NX * R];
    for (int i = 0; i < NX * R; i++) {
        double l = logpx[i % NX];
        ratio[i] = exp(b1[i] - l);
        b1[i] = l - b1[i], b10[i] = l - b10[i], b100[i] = l - b100[i], elbo[i] = l - elbo[i];
    }
    double g1, s1, g10, s10, g100, s100, ge, se, mr, sr, lp = 0;
    mean_se(ratio, NX * R, &mr, &sr);
    CHECK_NEAR(mr, 1, 5 * sr);
    CHECK(sr < 0.02);
    mean_se(b1, NX * R, &g1, &s1);
    mean_se(b10, NX * R, &g10, &s10);
    mean_se(b100, NX * R, &g100, &s100);
    mean_se(elbo, NX * R, &ge, &se);
    /* k = 1 is the ELBO in expectation. */
    CHECK_NEAR(g1, ge, 5 * sqrt(s1 * s1 + se * se));
    /* Each step up in k closes the gap by more than the noise, and none passes ln p(x). */
    CHECK(g10 < g1 - 5 * sqrt(s1 * s1 + s10 * s10));
    CHECK(g100 < g10 - 5 * sqrt(s10 * s10 + s100 * s100));
    CHECK(g100 > -5 * s100);
    /* At k = 100 the gap is under a third of the ELBO's. */
    CHECK(g100 < g1 / 3);
    /* vae_loss with IWAE k = 10 is minus the mean bound (the same rows, other draws). */
    for (int i = 0; i < NX * R; i++) lp += logpx[i % NX];
    CHECK_NEAR(-iwae_loss, lp / (NX * R) - g10, 5 * sqrt(2.0) * s10);
    ag_set_num_threads(threads);
    ag_tape_free(t);
    toy_free(&tm);
}

/* vae_evaluate's per-example scores: −ELBO by default, −IWAE bound when k > 0, and the
 * means it reports agree with them. */
TEST(vae_evaluate_scores_agree_with_means) {
    toy_model tm = trained_toy();
    if (!tm.m) return;
    vae_eval a = vae_evaluate(tm.m, tm.test, 100, 0, 5);
    vae_eval b = vae_evaluate(tm.m, tm.test, 100, 50, 5);
    CHECK(a.n == 100 && b.n == 100 && isnan(a.iwae_nll) && !isnan(b.iwae_nll));
    double sa = 0, sb = 0;
    for (int i = 0; i < 100; i++) sa += a.score[i], sb += b.score[i];
    CHECK_NEAR(sa / 100, a.neg_elbo, 1e-9 * fabs(a.neg_elbo) + VAL_TOL);
    CHECK_NEAR(sb / 100, b.iwae_nll, 1e-9 * fabs(b.iwae_nll) + VAL_TOL);
    CHECK(b.iwae_nll < a.neg_elbo); /* a tighter bound on −ln p(x) */
    CHECK(a.active_units >= 1 && a.active_units <= 2);
    CHECK(tm.m->training); /* evaluation mode was switched back */
    vae_eval_free(&a);
    vae_eval_free(&b);
    toy_free(&tm);
}

/* The test pass of a training loop runs on the training tape (vae_evaluate_on): the same
 * bits as on a tape of its own, nothing allocated in the arena after the first pass, and
 * the tape handed back as it came (cleared, same PRNG state, same grad mode).  And an
 * example's figures do not depend on the batch it falls in: 200 examples (batches of 128
 * and 72) score as the first 200 of 256 (128 and 128). */
static bool same_bits(const void *a, const void *b, size_t n) { return !memcmp(a, b, n); }

#ifndef HENBUN_ASAN /* the allocation counter of tests/autograd/test_alloc.c */
void test_alloc_count_begin(void);
long test_alloc_count_end(void);
#endif

TEST(vae_evaluate_on_reuses_the_tape_and_changes_no_bit) {
    toy_model tm = trained_toy();
    if (!tm.m) return;
    int z = tm.m->cfg.z_dim, n = tm.test->n;
    vae_eval a = vae_evaluate(tm.m, tm.test, 0, 0, 5);
    ag_tape *t = ag_tape_new(99);
    size_t fresh = ag_tape_bytes_reserved(t);
    ag_rng before = *ag_tape_rng(t);
    vae_eval b = vae_evaluate_on(tm.m, t, tm.test, 0, 0, 5);
    size_t warm = ag_tape_bytes_reserved(t);
    vae_eval c = vae_evaluate_on(tm.m, t, tm.test, 0, 0, 5);
    CHECK(same_bits(a.score, b.score, sizeof(double) * n));
    CHECK(same_bits(a.score, c.score, sizeof(double) * n));
    CHECK(same_bits(a.mu, c.mu, sizeof(ag_real) * n * z));
    CHECK(a.neg_elbo == c.neg_elbo && a.kl == c.kl);
    CHECK(warm == fresh && ag_tape_bytes_reserved(t) == warm); /* no block added */
    CHECK(ag_tape_bytes_used(t) == 0 && ag_tape_num_nodes(t) == 0);
    CHECK(same_bits(ag_tape_rng(t), &before, sizeof before) && ag_grad_enabled(t));
#ifndef HENBUN_ASAN
    /* Its allocations are the result's arrays: the tape and arena of vae_evaluate are not
     * among them (a tape and its first block, at least two calls). */
    test_alloc_count_begin();
    vae_eval d = vae_evaluate_on(tm.m, t, tm.test, 0, 0, 5);
    long on = test_alloc_count_end();
    test_alloc_count_begin();
    vae_eval e = vae_evaluate(tm.m, tm.test, 0, 0, 5);
    long own = test_alloc_count_end();
    if (on + 2 > own) test_fail(__FILE__, __LINE__, "%ld allocations on the tape, %ld with "
                                "a tape of its own", on, own);
    vae_eval_free(&d), vae_eval_free(&e);
#endif
    ag_set_grad_enabled(t, false);
    vae_eval_free(&c);
    c = vae_evaluate_on(tm.m, t, tm.test, 200, 0, 5);
    CHECK(c.n == 200 && same_bits(a.score, c.score, sizeof(double) * 200));
    CHECK(same_bits(a.mu, c.mu, sizeof(ag_real) * 200 * z));
    CHECK(!ag_grad_enabled(t));
    EXPECT_ERROR(vae_evaluate_on(tm.m, NULL, tm.test, 0, 0, 5));
    ag_tape_free(t);
    vae_eval_free(&a), vae_eval_free(&b), vae_eval_free(&c);
    toy_free(&tm);
}

/* ---- AUROC ------------------------------------------------------------------------------- */

TEST(vae_auroc_hand_cases) {
    const double s[4] = {1, 2, 3, 4};
    CHECK(vae_auroc(s, (bool[]){0, 0, 1, 1}, 4) == 1);   /* positives score highest */
    CHECK(vae_auroc(s, (bool[]){1, 1, 0, 0}, 4) == 0);   /* reversed */
    const double tie[4] = {2, 2, 2, 2};
    CHECK(vae_auroc(tie, (bool[]){0, 1, 0, 1}, 4) == 0.5);
    /* Positives {0.9, 0.4}, negatives {0.5, 0.3, 0.4}: 0.9 beats all three (3); 0.4 beats
     * 0.3, loses to 0.5, ties 0.4 (1.5): 4.5 of 6 pairs. */
    const double h[5] = {0.5, 0.9, 0.3, 0.4, 0.4};
    CHECK_NEAR(vae_auroc(h, (bool[]){0, 1, 0, 1, 0}, 5), 0.75, 1e-15);
    CHECK(isnan(vae_auroc(s, (bool[]){0, 0, 0, 0}, 4))); /* no positives: undefined */
    CHECK(isnan(vae_auroc(s, (bool[]){1, 1, 1, 1}, 4)));
}

/* Against the definition, P(score⁺ > score⁻) + ½ P(tie), counted over all pairs, on
 * scores with many ties. */
TEST(vae_auroc_matches_pair_count) {
    enum { N = 300 };
    double s[N];
    bool pos[N];
    ag_rng r;
    ag_rng_seed(&r, 4);
    for (int i = 0; i < N; i++) {
        pos[i] = ag_rng_uniform(&r) < 0.3;
        s[i] = (double)ag_rng_below(&r, 12) + (pos[i] ? 2 : 0); /* overlapping, tied */
    }
    double wins = 0, pairs = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (pos[i] && !pos[j]) wins += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0, pairs++;
    double a = vae_auroc(s, pos, N);
    CHECK_NEAR(a, wins / pairs, 1e-12);
    CHECK(a > 0.55 && a < 0.9);
}

/* ---- construction errors ----------------------------------------------------------------- */

static vae *try_new(const char *enc, const char *dec, int z, nn_error *err) {
    return vae_new(&(vae_config){.x_ndim = 1, .x_shape = {6}, .z_dim = z, .encoder_text = enc,
                                 .decoder_text = dec},
                   err);
}

TEST(vae_new_reports_bad_configs) {
    nn_error err = {{0}};
    CHECK(!try_new("linear 5, tanh, linear 3", "linear 5, tanh, linear 6", 2, &err));
    CHECK(strstr(err.msg, "encoder") && strstr(err.msg, "2 x latent = 4") &&
          strstr(err.msg, "outputs 3"));
    CHECK(!try_new("linear 5, tanh, linear 4", "linear 5, tanh, linear 7", 2, &err));
    CHECK(strstr(err.msg, "decoder") && strstr(err.msg, "6 values") &&
          strstr(err.msg, "outputs 7"));
    CHECK(!try_new("linear 5, tanhh, linear 4", "linear 5, tanh, linear 6", 2, &err));
    CHECK(strstr(err.msg, "encoder") && strstr(err.msg, "spec:") && strstr(err.msg, "tanhh"));
    CHECK(!try_new("linear 5, tanh, linear 4", "linear 5,, linear 6", 2, &err));
    CHECK(strstr(err.msg, "decoder") && strstr(err.msg, "spec:"));
    CHECK(!try_new("linear 5, tanh, linear 0", "linear 5, tanh, linear 6", 0, &err));
    CHECK(strstr(err.msg, "latent"));
    /* And a good one, for contrast. */
    vae *m = try_new("linear 5, tanh, linear 4", "linear 5, tanh, linear 6", 2, &err);
    CHECK(m && m->x_size == 6 && m->cfg.samples == 1 && m->cfg.beta == 1 && !m->x_logvar);
    CHECK(m && vae_params(m)->n == 8);
    CHECK(m && nn_params_count(vae_params(m)) == (6 * 5 + 5) + (5 * 4 + 4)     /* encoder */
                                                 + (2 * 5 + 5) + (5 * 6 + 6)); /* decoder */
    vae_free(m);
}

/* ---- learning ---------------------------------------------------------------------------- */

/* A VAE with a 2-D latent learns the 4-prototype toy data.  The data's entropy is
 * ln 4 + 8·H(0.05) = 2.97 nats, so −ELBO ≥ 2.97; an untrained model sits near 8 ln 2 =
 * 5.5 (6.0 measured).  After 20 epochs (320 Adam steps; 3.57 measured) the test −ELBO must
 * be below 3.8 and at least 1.5 times lower than at the start.  Reconstructions must
 * denoise: thresholded at ½ they must differ from the example's prototype in under half
 * as many pixels as the examples themselves do (0.41; 0.08 measured).  Prior samples must
 * look like prototypes: the nearest one within 1 pixel on average (0.31 measured, where
 * uniform random bits are 2.53 away), each prototype nearest to at least 10% of them. */
TEST(vae_learns_toy_prototypes) {
    vae *m = toy_vae(21);
    nn_dataset *train = toy_data(512, 100), *test = toy_data(256, 200);
    if (!m) return;
    vae_eval e0 = vae_evaluate(m, test, 0, 0, 3);
    train_toy(m, train, 20, 21, NULL);
    vae_eval e1 = vae_evaluate(m, test, 0, 0, 3);
    CHECK(e1.neg_elbo < 3.8);
    CHECK(e1.neg_elbo * 1.5 < e0.neg_elbo);
    CHECK(e1.neg_elbo > 2.7); /* a bound: not below the data's entropy (less sampling noise) */

    ag_tape *t = ag_tape_new(8);
    ag_set_grad_enabled(t, false);
    vae_set_training(m, false);
    int idx[256];
    for (int i = 0; i < 256; i++) idx[i] = i;
    int labels[256];
    ag_tensor *x = nn_dataset_batch(test, t, idx, 256, true, labels);
    ag_tensor *rec = vae_reconstruct(m, t, x);
    double d_rec = 0, d_data = 0;
    for (int i = 0; i < 256; i++) {
        d_rec += hamming(rec->data + i * 8, PROTO[labels[i]]);
        d_data += hamming(x->data + i * 8, PROTO[labels[i]]);
    }
    d_rec /= 256, d_data /= 256;
    CHECK(d_rec < 0.5 * d_data);

    ag_tensor *s = vae_sample(m, t, 256);
    double d_sample = 0;
    int seen[4] = {0};
    for (int i = 0; i < 256; i++) {
        int best = 9, which = 0;
        for (int k = 0; k < 4; k++) {
            int d = hamming(s->data + i * 8, PROTO[k]);
            if (d < best) best = d, which = k;
        }
        d_sample += best;
        seen[which]++;
    }
    d_sample /= 256;
    CHECK(d_sample < 1.0);
    for (int k = 0; k < 4; k++) CHECK(seen[k] >= 256 / 10);
    ag_tape_free(t);
    vae_eval_free(&e0);
    vae_eval_free(&e1);
    vae_free(m);
    nn_dataset_free(train);
    nn_dataset_free(test);
}

/* Two runs with the same seed give bit-identical losses and parameters; another seed
 * gives other losses (so the comparison is not vacuous). */
TEST(vae_training_is_deterministic) {
    enum { E = 3 };
    nn_dataset *d = toy_data(256, 100);
    double la[E], lb[E], lc[E];
    vae *a = toy_vae(4), *b = toy_vae(4), *c = toy_vae(4);
    if (!a || !b || !c) return;
    train_toy(a, d, E, 4, la);
    train_toy(b, d, E, 4, lb);
    train_toy(c, d, E, 5, lc); /* same initial weights, other data order and noise */
    CHECK(memcmp(la, lb, sizeof la) == 0);
    CHECK(memcmp(la, lc, sizeof la) != 0);
    nn_param_list *pa = vae_params(a), *pb = vae_params(b);
    CHECK(pa->n == pb->n);
    for (int i = 0; i < pa->n && i < pb->n; i++)
        CHECK(memcmp(pa->items[i].value->data, pb->items[i].value->data,
                     pa->items[i].value->size * sizeof(ag_real)) == 0);
    vae_free(a);
    vae_free(b);
    vae_free(c);
    nn_dataset_free(d);
}
