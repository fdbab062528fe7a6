/* gaussian.c — the diagonal-Gaussian densities every model of vae/ needs, once:
 *   ln N(x; μ, diag σ²) = −½ Σ_j [ln 2π + ln σ_j² + (x_j − μ_j)²/σ_j²]
 * is the q(z|x) of seed 000 eq. (2)-(8) (ln q in the IWAE weights and in β-TCVAE's
 * minibatch-weighted sampling, seed 002 eq. (7)), and P(z|x), Q(x|z) of seed 003
 * eq. (1.3)-(1.4); with μ = 0, σ = 1 it is the prior p(z) = π(z) (seed 000 eq. (1),
 * seed 003 eq. (1.2)).  Plus the split of an encoder's output into (μ, ln σ²) and the
 * building of a model's networks from spec arrays or text (the encoder/decoder pair of
 * the VAE and the Boltzmann sampler, and the GAN's two nets). */
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

int vae_build_coder_pair(const nn_spec *encoder_spec, const char *encoder_text,
                         const nn_spec *decoder_spec, const char *decoder_text,
                         const nn_layer_type *const *layer_types, int x_ndim,
                         const int *x_shape, int z_dim, int dec_out, const char *dec_what,
                         ag_rng *rng, nn_net **encoder, nn_net **decoder,
                         nn_param_list *params, nn_error *err) {
    *encoder = vae_build_net(encoder_spec, encoder_text, layer_types, x_ndim, x_shape, rng,
                             "encoder", err);
    if (!*encoder) return -1;
    *decoder = vae_build_net(decoder_spec, decoder_text, layer_types, 1, (int[]){z_dim}, rng,
                             "decoder", err);
    if (!*decoder) return -1;
    if (nn_net_out_size(*encoder) != 2 * z_dim)
        return nn_fail(err, "encoder: must output 2 x latent = %d values (mu, then logvar), it "
                            "outputs %d (end it with 'linear %d')", 2 * z_dim,
                       nn_net_out_size(*encoder), 2 * z_dim);
    if (nn_net_out_size(*decoder) != dec_out)
        return nn_fail(err, "decoder: must output %d values (%s), it outputs %d (end it with "
                            "'linear %d')", dec_out, dec_what, nn_net_out_size(*decoder),
                       dec_out);
    nn_params_extend(params, "encoder", &(*encoder)->params);
    nn_params_extend(params, "decoder", &(*decoder)->params);
    return 0;
}
