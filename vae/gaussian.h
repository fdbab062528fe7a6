/* gaussian.h — the diagonal-Gaussian pieces that the VAE (vae.c, vae_objectives.c,
 * vae_measure.c) and the Boltzmann sampler (boltzmann*.c) share, written once in
 * gaussian.c.  Internal to vae/ (not part of the public API: vae.h and gan.h are). */
#ifndef HENBUN_VAE_GAUSSIAN_H
#define HENBUN_VAE_GAUSSIAN_H

#include "nn/nn.h"

#define VAE_LOG_2PI 1.8378770664093453 /* ln 2π, the normalising constant of N(0, 1) */

/* ln N(x; mean, diag e^logvar) per row, summed over the last axis of 2-D tensors:
 *   −½ Σ_j [ln 2π + logvar_j + (x_j − mean_j)² e^−logvar_j]   (N). */
ag_tensor *vae_gauss_log_density(ag_tape *t, ag_tensor *x, ag_tensor *mean, ag_tensor *logvar);
/* ln N(z; 0, I) per row of z (N, d): −½ Σ_j (z_j² + ln 2π), on the tape (N). */
ag_tensor *vae_gauss_log_prior(ag_tape *t, ag_tensor *z);
/* The same in double, off the tape, into out (N): −½ (Σ_j z_j² + d ln 2π). */
void vae_gauss_log_prior_rows(const ag_tensor *z, double *out);
/* An encoder's output h (N, 2·z_dim, or any shape of that size per row) split into the
 * mean and log-variance of its Gaussian, each (N, z_dim): mu first, then logvar. */
void vae_gauss_split(ag_tape *t, ag_tensor *h, int z_dim, ag_tensor **mu, ag_tensor **logvar);

/* One network of a model: from the spec array when given, else from spec text (which may
 * name the user's layer types, a NULL-terminated array or NULL), for inputs of the given
 * per-example shape.  NULL with err = "WHICH: what the builder said" on failure. */
nn_net *vae_build_net(const nn_spec *spec, const char *text,
                      const nn_layer_type *const *layer_types, int ndim, const int *shape,
                      ag_rng *rng, const char *which, nn_error *err);

/* The two networks of a Gaussian-latent model (the VAE, the Boltzmann sampler): the
 * encoder maps x (x_ndim, x_shape) to 2·z_dim values, the mean and log-variance of its
 * Gaussian; the decoder maps z (z_dim) to dec_out values (dec_what says which, for the
 * error).  Both built from rng in that order, their parameters appended to params as
 * "encoder.*" and "decoder.*".  0, or -1 with err (the nets built so far are left in
 * *encoder / *decoder for the caller's free). */
int vae_build_coder_pair(const nn_spec *encoder_spec, const char *encoder_text,
                         const nn_spec *decoder_spec, const char *decoder_text,
                         const nn_layer_type *const *layer_types, int x_ndim,
                         const int *x_shape, int z_dim, int dec_out, const char *dec_what,
                         ag_rng *rng, nn_net **encoder, nn_net **decoder,
                         nn_param_list *params, nn_error *err);

#endif
