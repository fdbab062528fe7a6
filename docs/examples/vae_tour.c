/* vae_tour.c — chapter 4 of the tour (docs/04-vae.md): the VAE of seeds 000 and 001 on
 * data small enough to reason about, with every claim of the chapter checked.
 *
 * The data: 6 binary pixels, each example one of three prototypes with 5% of its pixels
 * flipped.  The latent code needs to say little more than "which prototype".
 *   1. seed 000 eq. (8) assembled by hand from the pieces equals vae_loss;
 *   2. training with Adam raises the ELBO;
 *   3. the IWAE bound with k = 1 is the ELBO again, and with k = 64 it is tighter;
 *   4. the blur of seed 001: with a Gaussian likelihood of σ = 1 the code collapses
 *      (KL ≈ 0) and every reconstruction is the average image, while the Bernoulli
 *      likelihood keeps the prototypes apart;
 *   5. a layer type of your own (docs/add-a-layer.md) inside the encoder's spec text,
 *      through vae_config.layer_types: it trains with the rest of the model. */
#include "vae/vae.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { D = 6, N = 256, STEPS = 400, BATCH = 64 };

static int failures;
static void expect(bool ok, const char *what) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    failures += !ok;
}

static const int prototype[3][D] = {{1, 1, 0, 0, 0, 0}, {0, 0, 1, 1, 0, 0}, {0, 0, 0, 0, 1, 1}};

static void make_data(ag_rng *r, ag_real *x, int *which, int n) {
    for (int i = 0; i < n; i++) {
        which[i] = (int)ag_rng_below(r, 3);
        for (int j = 0; j < D; j++)
            x[i * D + j] = (ag_real)(prototype[which[i]][j] ^ (ag_rng_uniform(r) < 0.05));
    }
}

static vae *make_vae(vae_likelihood lik, const char *encoder,
                     const nn_layer_type *const *layer_types) {
    nn_error err;
    vae *m = vae_new(&(vae_config){.x_ndim = 1, .x_shape = {D}, .z_dim = 2,
                                   .encoder_text = encoder,  /* "linear 32, tanh, linear 4" */
                                   .decoder_text = "linear 32, tanh, linear 6",
                                   .layer_types = layer_types, /* the user's (section 5) */
                                   .likelihood = lik, .sigma = 1, .seed = 5},
                     &err);
    if (!m) fprintf(stderr, "%s\n", err.msg);
    return m;
}

/* STEPS Adam steps on minibatches of x; returns the last batch's statistics. */
static vae_stats train(vae *m, ag_tape *t, const ag_real *x) {
    nn_optim *opt = nn_adam(vae_params(m), 1e-2);
    vae_stats st = {0};
    for (int step = 0; step < STEPS; step++) {
        int start = (step * BATCH) % N;
        ag_tensor *xb = ag_from_data(t, 2, (int[]){BATCH, D}, x + start * D);
        ag_backward(t, vae_loss(m, t, xb, true, &st));
        nn_optim_step(opt);
        nn_optim_zero_grad(opt);
        ag_tape_clear(t);
    }
    nn_optim_free(opt);
    return st;
}

/* Mean over examples of ‖reconstruction − average image of the data‖². */
static double distance_to_mean_image(vae *m, ag_tape *t, const ag_real *x) {
    double mean[D] = {0}, s = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++) mean[j] += x[i * D + j] / (double)N;
    bool grad = ag_set_grad_enabled(t, false);
    ag_tensor *rec = vae_reconstruct(m, t, ag_from_data(t, 2, (int[]){N, D}, x));
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++) s += pow(rec->data[i * D + j] - mean[j], 2) / N;
    ag_set_grad_enabled(t, grad);
    ag_tape_clear(t);
    return s;
}

/* A layer of our own: "gain", y = x ⊙ γ with a learned γ per feature (starting at 1).
 * Built from a tape op, so its gradient needs no code here. */
static int gain_build(nn_layer *l, ag_rng *rng, nn_error *err) {
    (void)rng;
    if (l->in_ndim != 1) return nn_fail(err, "gain needs a vector input (D) per example");
    ag_fill(nn_layer_param(l, "gamma", 1, l->in_shape, true), 1);  /* (D), owned by l */
    l->out_ndim = 1;
    l->out_shape[0] = l->in_shape[0];
    return 0;
}
static ag_tensor *gain_forward(nn_layer *l, ag_tape *t, ag_tensor *x, bool training) {
    (void)training;
    return ag_mul(t, x, l->params.items[0].value);                 /* (N, D) ⊙ (D) */
}
static const nn_layer_type gain_type = {.name = "gain", .usage = "gain",
                                        .build = gain_build, .forward = gain_forward};

int main(void) {
    ag_set_num_threads(1); /* tensors this small are fastest on one thread */
    static ag_real x[N * D];
    static int which[N];
    ag_rng data_rng;
    ag_rng_seed(&data_rng, 1);
    make_data(&data_rng, x, which, N);
    ag_tape *t = ag_tape_new(9);
    vae *m = make_vae(VAE_BERNOULLI, "linear 32, tanh, linear 4", NULL);
    if (!m) return 1;
    ag_tensor *xs = ag_from_data(t, 2, (int[]){N, D}, x);

    /* ---- 1. eq. (8) by hand, with the same noise as vae_loss ------------------------------- */
    ag_rng_seed(ag_tape_rng(t), 123);
    vae_stats st;
    double library = ag_item(vae_loss(m, t, xs, false, &st));
    ag_rng_seed(ag_tape_rng(t), 123);
    ag_tensor *mu, *logvar;
    vae_encode(m, t, xs, &mu, &logvar);                        /* q(z|x) = N(mu, e^logvar) */
    ag_tensor *kl = vae_kl_normal(t, mu, logvar);              /* KL(q(z|x) ‖ p(z)), (N) */
    ag_tensor *z = ag_reparameterize(t, mu, logvar);           /* z = mu + σ·ε (seed 001) */
    ag_tensor *nll = vae_neg_log_likelihood(m, t, vae_decode_raw(m, t, z), xs); /* −ln p(x|z) */
    double by_hand = ag_item(ag_mean(t, nll)) + ag_item(ag_mean(t, kl));      /* −L, L = 1 */
    printf("-ELBO before training: vae_loss %.6f, by hand %.6f (KL %.4f)\n", library, by_hand,
           st.kl);
    expect(fabs(library - by_hand) < 1e-5, "eq. (8) by hand equals vae_loss");
    ag_tape_clear(t);

    /* ---- 2. training raises the ELBO -------------------------------------------------------- */
    vae_stats end = train(m, t, x);
    printf("-ELBO after %d steps: %.3f (recon %.3f + KL %.3f)\n", STEPS, end.neg_elbo, end.recon,
           end.kl);
    expect(end.neg_elbo < 0.6 * library, "training lowers -ELBO by 40% or more");

    /* ---- 3. the IWAE bound: k = 1 is the ELBO, k = 64 is tighter ----------------------------- */
    static double b1[N], b64[N];
    xs = ag_from_data(t, 2, (int[]){N, D}, x);
    vae_iwae_bound(m, t, xs, 1, b1);
    vae_iwae_bound(m, t, xs, 64, b64);
    ag_set_grad_enabled(t, false);
    vae_loss(m, t, xs, false, &st);
    ag_set_grad_enabled(t, true);
    double m1 = 0, m64 = 0;
    for (int i = 0; i < N; i++) m1 += b1[i] / N, m64 += b64[i] / N;
    printf("mean bounds on ln p(x): ELBO %.3f, IWAE k=1 %.3f, IWAE k=64 %.3f\n", -st.neg_elbo,
           m1, m64);
    expect(fabs(m1 + st.neg_elbo) < 0.1, "IWAE with k = 1 estimates the ELBO");
    expect(m64 > m1, "IWAE with k = 64 is a tighter (higher) bound");
    ag_tape_clear(t);

    /* ---- 4. the blur: Bernoulli against a Gaussian likelihood with σ = 1 --------------------- */
    vae *g = make_vae(VAE_GAUSSIAN, "linear 32, tanh, linear 4", NULL);
    if (!g) return 1;
    vae_stats gst = train(g, t, x);
    double d_bern = distance_to_mean_image(m, t, x), d_gauss = distance_to_mean_image(g, t, x);
    printf("Bernoulli:    KL %.3f nats, reconstructions %.3f from the average image\n", end.kl,
           d_bern);
    printf("Gaussian σ=1: KL %.3f nats, reconstructions %.3f from the average image\n", gst.kl,
           d_gauss);
    expect(end.kl > 0.5 && d_bern > 0.1, "Bernoulli: the code tells the prototypes apart");
    expect(gst.kl < 0.1 && d_gauss < 0.01,
           "Gaussian σ=1: the code collapses, every picture is the average");

    /* ---- 5. your own layer in the encoder ---------------------------------------------------- */
    static const nn_layer_type *const my_layers[] = {&gain_type, NULL}; /* NULL-terminated */
    vae *u = make_vae(VAE_BERNOULLI, "linear 32, gain, tanh, linear 4", my_layers);
    if (!u) return 1;
    ag_tensor *gamma = u->encoder->layers[1].params.items[0].value;   /* "encoder.1.gain.gamma" */
    vae_stats ust = train(u, t, x);
    double moved = 0;
    for (int i = 0; i < 32; i++) moved = fmax(moved, fabs(gamma->data[i] - 1));
    printf("encoder with a gain layer: -ELBO %.3f after %d steps, gamma moved up to %.3f\n",
           ust.neg_elbo, STEPS, moved);
    expect(ust.neg_elbo < 0.6 * library && moved > 0.01, "the user's layer trains inside the VAE");
    vae_free(u);
    u = make_vae(VAE_BERNOULLI, "linear 32, gain, tanh, linear 4", NULL); /* no table: */
    expect(!u, "... without the table, 'gain' is an unknown layer");

    vae_free(m);
    vae_free(g);
    ag_tape_free(t);
    printf("%s\n", failures ? "some checks FAILED" : "all checks passed");
    return failures != 0;
}
