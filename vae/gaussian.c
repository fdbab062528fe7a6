/* gaussian.c — the diagonal-Gaussian densities every model of vae/ needs, once:
 *   ln N(x; μ, diag σ²) = −½ Σ_j [ln 2π + ln σ_j² + (x_j − μ_j)²/σ_j²]
 * is the q(z|x) of seed 000 eq. (2)-(8) (ln q in the IWAE weights and in β-TCVAE's
 * minibatch-weighted sampling, seed 002 eq. (7)), and P(z|x), Q(x|z) of seed 003
 * eq. (1.3)-(1.4); with μ = 0, σ = 1 it is the prior p(z) = π(z) (seed 000 eq. (1),
 * seed 003 eq. (1.2)).  Plus the split of an encoder's output into (μ, ln σ²) and the
 * building of a model's networks from spec arrays or text. */
#include "vae/gaussian.h"

ag_tensor *vae_gauss_log_density(ag_tape *t, ag_tensor *x, ag_tensor *mean, ag_tensor *logvar) {
    /* ag_gaussian_nll is −ln N per value; the sum over the row makes the diagonal Gaussian */
    return ag_neg(t, ag_sum_axis(t, ag_gaussian_nll(t, mean, logvar, x), 1, false));
}

ag_tensor *vae_gauss_log_prior(ag_tape *t, ag_tensor *z) {
    return ag_scale(t, ag_sum_axis(t, ag_add_scalar(t, ag_square(t, z), (ag_real)VAE_LOG_2PI), 1,
                                   false), (ag_real)-0.5);
}

void vae_gauss_log_prior_rows(const ag_tensor *z, double *out) {
    int n = z->shape[0], d = z->shape[1];
    for (int i = 0; i < n; i++) {
        double acc = 0;
        for (int j = 0; j < d; j++) acc += (double)z->data[i * d + j] * z->data[i * d + j];
        out[i] = -0.5 * (acc + d * VAE_LOG_2PI);
    }
}

void vae_gauss_split(ag_tape *t, ag_tensor *h, int z_dim, ag_tensor **mu, ag_tensor **logvar) {
    h = ag_reshape(t, h, 2, (int[]){h->shape[0], 2 * z_dim});               /* (N, 2·z_dim) */
    *mu = ag_slice(t, h, 1, 0, z_dim);
    *logvar = ag_slice(t, h, 1, z_dim, 2 * z_dim);
}

nn_net *vae_build_net(const nn_spec *spec, const char *text,
                      const nn_layer_type *const *layer_types, int ndim, const int *shape,
                      ag_rng *rng, const char *which, nn_error *err) {
    nn_error inner = {{0}};
    nn_net *net = NULL;
    if (spec) net = nn_net_new(spec, ndim, shape, rng, &inner);
    else if (text) net = nn_net_parse(text, ndim, shape, layer_types, rng, &inner);
    else snprintf(inner.msg, sizeof inner.msg, "no spec given");
    if (!net) nn_fail(err, "%s: %s", which, inner.msg);
    return net;
}
