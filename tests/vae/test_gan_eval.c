/* test_gan_eval.c — the classifier-based scores of vae/gan_eval.c against closed forms:
 *   - Inception score: K for confident predictions spread evenly over K classes, 1 for
 *     constant predictions, and a hand-computed two-class case; histogram KL and coverage;
 *   - Jacobi eigen-decomposition and the PSD square root on random SPD matrices
 *     (A = V diag(w) Vᵀ with V orthogonal, S·S = A);
 *   - Fréchet distance: 0 for identical Gaussians, ‖Δμ‖² for shifted ones, and
 *     ‖Δμ‖² + Σ(√a_i − √b_i)² for diagonal covariances, also after a common rotation
 *     (which exercises the full-matrix path) and with the arguments swapped;
 *   - Gaussian fits (mean and unbiased covariance) of a handful of points;
 *   - the scorer: a tiny classifier saved with its optimizer's state and the meta lines of
 *     gan_scorer_describe, loaded back, its probabilities and penultimate features against
 *     nn_forward; the same weights from a weights-only file with the spec passed in
 *     (gan_scorer_new); malformed or missing description lines and wrong specs refused. */
#include "tests/test.h"
#include "vae/gan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- class scores ------------------------------------------------------------------------ */

TEST(gan_eval_inception_uniform_confident_is_k) {
    enum { K = 10, N = 50 };
    static double p[N * K];
    for (int i = 0; i < N; i++)
        for (int k = 0; k < K; k++) p[i * K + k] = k == i % K;  /* one-hot, classes in turn */
    gan_class_scores s = gan_class_scores_of(p, N, K);
    CHECK_NEAR(s.inception, K, 1e-12);
    CHECK_NEAR(s.class_kl, 0, 1e-12);
    CHECK(s.covered == K);
    CHECK_NEAR(s.confidence, 1, 1e-12);
}

TEST(gan_eval_inception_constant_is_one) {
    enum { K = 10, N = 20 };
    static double p[N * K];
    for (int i = 0; i < N; i++)
        for (int k = 0; k < K; k++) p[i * K + k] = k == 3 ? 0.55 : 0.05; /* same row always */
    gan_class_scores s = gan_class_scores_of(p, N, K);
    CHECK_NEAR(s.inception, 1, 1e-12);
    CHECK(s.covered == 1);
    CHECK_NEAR(s.class_kl, log(K), 1e-12);   /* all mass on one class: ln K */
    CHECK_NEAR(s.confidence, 0.55, 1e-12);
}

TEST(gan_eval_inception_two_classes_by_hand) {
    /* p(y|x) = (0.9, 0.1) and (0.1, 0.9): p(y) = (½, ½),
     * KL = 0.9 ln 1.8 + 0.1 ln 0.2 for each row. */
    double p[4] = {0.9, 0.1, 0.1, 0.9};
    gan_class_scores s = gan_class_scores_of(p, 2, 2);
    CHECK_NEAR(s.inception, exp(0.9 * log(1.8) + 0.1 * log(0.2)), 1e-12);
    CHECK_NEAR(s.confidence, 0.9, 1e-12);
    /* three images, argmax classes 0, 0, 1 of 2: h = (2/3, 1/3) */
    double q[6] = {0.8, 0.2, 0.6, 0.4, 0.3, 0.7};
    gan_class_scores t = gan_class_scores_of(q, 3, 2);
    CHECK_NEAR(t.class_kl, 2.0 / 3 * log(4.0 / 3) + 1.0 / 3 * log(2.0 / 3), 1e-12);
    CHECK(t.covered == 2);
}

/* ---- linear algebra ----------------------------------------------------------------------- */

/* A random SPD matrix B Bᵀ + 0.1 I, with B (n, n) standard normal. */
static void random_spd(ag_rng *r, int n, double *a) {
    double *b = malloc(sizeof(double) * (size_t)n * n);
    for (int i = 0; i < n * n; i++) b[i] = ag_rng_normal(r);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = i == j ? 0.1 : 0;
            for (int k = 0; k < n; k++) s += b[i * n + k] * b[j * n + k];
            a[i * n + j] = s;
        }
    free(b);
}

TEST(gan_eval_jacobi_eigen_reconstructs) {
    enum { N = 24 };
    static double a[N * N], v[N * N], w[N];
    ag_rng r;
    ag_rng_seed(&r, 5);
    random_spd(&r, N, a);
    int sweeps = gan_sym_eigen(a, N, w, v);
    CHECK(sweeps > 0 && sweeps < 30);
    double err_rec = 0, err_orth = 0, scale = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double rec = 0, dot = 0;
            for (int k = 0; k < N; k++) {
                rec += v[i * N + k] * w[k] * v[j * N + k];  /* (V diag(w) Vᵀ)_ij */
                dot += v[k * N + i] * v[k * N + j];          /* (VᵀV)_ij */
            }
            err_rec = fmax(err_rec, fabs(rec - a[i * N + j]));
            err_orth = fmax(err_orth, fabs(dot - (i == j)));
            scale = fmax(scale, fabs(a[i * N + j]));
        }
    CHECK(err_rec <= 1e-11 * scale);
    CHECK(err_orth <= 1e-12);
    for (int i = 1; i < N; i++) CHECK(w[i - 1] <= w[i]);
    CHECK(w[0] > 0.09);   /* B Bᵀ + 0.1 I: every eigenvalue is at least 0.1 */
}

TEST(gan_eval_sqrtm_squares_back) {
    enum { N = 32 };
    static double a[N * N], s[N * N];
    ag_rng r;
    ag_rng_seed(&r, 9);
    random_spd(&r, N, a);
    gan_sqrtm_psd(a, N, s);
    double err = 0, scale = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double ss = 0;
            for (int k = 0; k < N; k++) ss += s[i * N + k] * s[k * N + j];
            err = fmax(err, fabs(ss - a[i * N + j]));
            scale = fmax(scale, fabs(a[i * N + j]));
            CHECK(s[i * N + j] == s[j * N + i]);
        }
    CHECK(err <= 1e-10 * scale);
    /* a singular PSD matrix (rank 1, u uᵀ): √ = u uᵀ / ‖u‖ */
    double u[3] = {1, 2, 2}, p[9], q[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) p[i * 3 + j] = u[i] * u[j];
    gan_sqrtm_psd(p, 3, q);
    for (int i = 0; i < 9; i++) CHECK_NEAR(q[i], p[i] / 3, 1e-7);
}

/* ---- Fréchet distance --------------------------------------------------------------------- */

static gan_gaussian gaussian(int d, const double *mean, const double *cov) {
    gan_gaussian g = {d, malloc(sizeof(double) * (size_t)d), malloc(sizeof(double) * (size_t)d * d)};
    memcpy(g.mean, mean, sizeof(double) * (size_t)d);
    memcpy(g.cov, cov, sizeof(double) * (size_t)d * d);
    return g;
}

TEST(gan_eval_frechet_identical_and_shifted) {
    enum { D = 16 };
    static double cov[D * D], mu[D], mu2[D];
    ag_rng r;
    ag_rng_seed(&r, 3);
    random_spd(&r, D, cov);
    double d2 = 0;
    for (int i = 0; i < D; i++) {
        mu[i] = ag_rng_normal(&r), mu2[i] = mu[i] + 0.1 * (i - 5);
        d2 += 0.01 * (i - 5) * (i - 5);
    }
    gan_gaussian a = gaussian(D, mu, cov), b = gaussian(D, mu, cov), c = gaussian(D, mu2, cov);
    double tr = 0;
    for (int i = 0; i < D; i++) tr += cov[i * D + i];
    CHECK_NEAR(gan_frechet(&a, &b), 0, 1e-9 * tr);
    CHECK_NEAR(gan_frechet(&a, &c), d2, 1e-9 * tr);
    gan_gaussian_free(&a), gan_gaussian_free(&b), gan_gaussian_free(&c);
}

TEST(gan_eval_frechet_diagonal_closed_form) {
    /* Diagonal Σa = diag(a_i), Σb = diag(b_i): FID = ‖Δμ‖² + Σ (√a_i − √b_i)²; the same
     * after rotating both by one orthogonal R (FID is invariant), and symmetric in (a, b). */
    enum { D = 12 };
    static double ca[D * D], cb[D * D], ra[D * D], rb[D * D], rot[D * D], w[D], spd[D * D];
    double ma[D], mb[D], rma[D], rmb[D], expect = 0;
    ag_rng r;
    ag_rng_seed(&r, 11);
    for (int i = 0; i < D; i++) {
        double a = 0.2 + ag_rng_uniform(&r) * 3, b = i == 4 ? 0 : 0.2 + ag_rng_uniform(&r) * 3;
        ca[i * D + i] = a, cb[i * D + i] = b;  /* one zero variance: a singular Σb */
        ma[i] = ag_rng_normal(&r), mb[i] = ag_rng_normal(&r);
        expect += (ma[i] - mb[i]) * (ma[i] - mb[i]) + (sqrt(a) - sqrt(b)) * (sqrt(a) - sqrt(b));
    }
    gan_gaussian a = gaussian(D, ma, ca), b = gaussian(D, mb, cb);
    CHECK_NEAR(gan_frechet(&a, &b), expect, 1e-10 * expect);
    CHECK_NEAR(gan_frechet(&b, &a), expect, 1e-10 * expect);
    random_spd(&r, D, spd);
    gan_sym_eigen(spd, D, w, rot);           /* eigenvectors: a random orthogonal R */
    for (int i = 0; i < D; i++) {
        rma[i] = rmb[i] = 0;
        for (int k = 0; k < D; k++) rma[i] += rot[i * D + k] * ma[k], rmb[i] += rot[i * D + k] * mb[k];
        for (int j = 0; j < D; j++) {        /* R diag Rᵀ */
            double sa = 0, sb = 0;
            for (int k = 0; k < D; k++)
                sa += rot[i * D + k] * ca[k * D + k] * rot[j * D + k],
                sb += rot[i * D + k] * cb[k * D + k] * rot[j * D + k];
            ra[i * D + j] = sa, rb[i * D + j] = sb;
        }
    }
    gan_gaussian c = gaussian(D, rma, ra), e = gaussian(D, rmb, rb);
    CHECK_NEAR(gan_frechet(&c, &e), expect, 1e-7 * expect);
    CHECK_NEAR(gan_frechet(&e, &c), expect, 1e-7 * expect);
    gan_gaussian_free(&a), gan_gaussian_free(&b), gan_gaussian_free(&c), gan_gaussian_free(&e);
}

TEST(gan_eval_gaussian_fit_small) {
    /* points (0,0), (2,0), (0,4), (2,4): mean (1, 2), var 4/3 and 16/3, no covariance */
    double x[8] = {0, 0, 2, 0, 0, 4, 2, 4};
    gan_gaussian g;
    gan_gaussian_fit(&g, x, 4, 2);
    CHECK_NEAR(g.mean[0], 1, 1e-15);
    CHECK_NEAR(g.mean[1], 2, 1e-15);
    CHECK_NEAR(g.cov[0], 4.0 / 3, 1e-15);
    CHECK_NEAR(g.cov[3], 16.0 / 3, 1e-14);
    CHECK_NEAR(g.cov[1], 0, 1e-15);
    CHECK(g.cov[1] == g.cov[2]);
    gan_gaussian_free(&g);
}

/* ---- the scorer, from a checkpoint ---------------------------------------------------------- */

TEST(gan_eval_scorer_loads_classifier_checkpoint) {
    const char *spec = "linear 6, relu, linear 3";
    int in_shape[3] = {1, 2, 2};
    ag_rng r;
    ag_rng_seed(&r, 21);
    nn_error err;
    nn_net *net = nn_net_parse(spec, 3, in_shape, NULL, &r, &err);
    CHECK(net != NULL);
    if (!net) return;
    for (int i = 0; i < net->params.n; i++)   /* nonzero biases too */
        ag_fill_randn(&r, net->params.items[i].value, 0.7);
    nn_optim *opt = nn_adam(&net->params, 1e-3);
    nn_param_list saved = {0};
    nn_params_extend(&saved, "net", &net->params);
    nn_optim_state(opt, "optim", &saved);
    static nn_ckpt_meta meta;
    snprintf(meta.text, sizeof meta.text, "program=classify\nclasses=3\n");  /* the program's own */
    CHECK(gan_scorer_describe(meta.text, sizeof meta.text, spec, 3, in_shape, "mnist") == 0);
    CHECK(strstr(meta.text, "program=classify\nclasses=3\nnet=linear 6, relu, linear 3\n"
                            "input=1 2 2\ndataset=mnist\n") != NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/scorer.ckpt", test_tmpdir());
    CHECK(nn_checkpoint_save(path, &saved, &meta, &err) == 0);

    gan_scorer *s = gan_scorer_load(path, &err);
    CHECK(s != NULL);
    if (s) {
        CHECK(s->n_classes == 3 && s->feat_dim == 6 && !strcmp(s->dataset, "mnist"));
        enum { N = 7 };
        ag_real x[N * 4];
        for (int i = 0; i < N * 4; i++) x[i] = (ag_real)ag_rng_normal(&r);
        double probs[N * 3], feats[N * 6];
        gan_scorer_run(s, x, N, probs, feats);
        ag_tape *t = ag_tape_new(0);
        ag_tensor *xt = ag_from_data(t, 4, (int[]){N, 1, 2, 2}, x);
        ag_tensor *p = ag_softmax(t, nn_forward(net, t, xt, false), 1);
        ag_tensor *h = ag_relu(t, ag_linear(t, ag_reshape(t, xt, 2, (int[]){N, 4}),
                                            net->params.items[0].value, net->params.items[1].value));
        for (int i = 0; i < N * 3; i++) CHECK_NEAR(probs[i], p->data[i], 1e-6);
        for (int i = 0; i < N * 6; i++) CHECK_NEAR(feats[i], h->data[i], 1e-6);
        /* the same weights from a weights-only file, spec and shape passed in */
        nn_param_list w = {0};
        nn_params_extend(&w, GAN_SCORER_PREFIX, &net->params);
        char wpath[512];
        snprintf(wpath, sizeof wpath, "%s/scorer_weights.ckpt", test_tmpdir());
        CHECK(nn_checkpoint_save(wpath, &w, NULL, &err) == 0);
        nn_params_free(&w);
        gan_scorer *s2 = gan_scorer_new(spec, 3, in_shape, NULL, wpath, &err);
        CHECK(s2 != NULL);
        if (s2) {
            double probs2[N * 3], feats2[N * 6];
            gan_scorer_run(s2, x, N, probs2, feats2);
            CHECK(!memcmp(probs, probs2, sizeof probs) && !memcmp(feats, feats2, sizeof feats));
            CHECK(s2->dataset[0] == 0);
        }
        gan_scorer_free(s2);
        /* a spec whose tensors the file does not have */
        CHECK(gan_scorer_new("linear 6, relu, linear 4", 3, in_shape, NULL, wpath, &err) == NULL);
        CHECK(strstr(err.msg, "net.2.linear.weight") != NULL);
        ag_tape_free(t);
    }
    gan_scorer_free(s);
    /* a description that does not fit the text: refused, text unchanged */
    char small[24] = "a=b\n";
    CHECK(gan_scorer_describe(small, sizeof small, spec, 3, in_shape, NULL) == -1);
    CHECK(!strcmp(small, "a=b\n"));
    /* a malformed input line */
    snprintf(meta.text, sizeof meta.text, "net=%s\ninput=1 2 x\n", spec);
    CHECK(nn_checkpoint_save(path, &saved, &meta, &err) == 0);
    CHECK(gan_scorer_load(path, &err) == NULL);
    CHECK(strstr(err.msg, "input=") != NULL);

    /* not a classifier: no net= line */
    snprintf(meta.text, sizeof meta.text, "program=vae\n");
    CHECK(nn_checkpoint_save(path, &saved, &meta, &err) == 0);
    CHECK(gan_scorer_load(path, &err) == NULL);
    CHECK(strstr(err.msg, "net=") != NULL);
    /* a spec that does not fit the saved tensors */
    snprintf(meta.text, sizeof meta.text, "input=1 2 2\nnet=linear 5, relu, linear 3\noptim=adam\n");
    CHECK(nn_checkpoint_save(path, &saved, &meta, &err) == 0);
    CHECK(gan_scorer_load(path, &err) == NULL);
    CHECK(gan_scorer_load("/nonexistent/classifier.ckpt", &err) == NULL);

    nn_params_free(&saved);
    nn_optim_free(opt);
    nn_net_free(net);
}
