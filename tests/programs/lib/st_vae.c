/* st_vae.c — henbun's side of tests/programs/safetensors_numpy.sh: the classic MLP VAE of
 * examples/vae.c (mlp specs, latent 20, Bernoulli) exchanged with NumPy through
 * .safetensors files, in both directions.
 *
 *   st_vae export MODEL CODES   builds the VAE (seeded), writes its weights with the spec
 *                               text and config in __metadata__ to MODEL, and writes 16
 *                               fixed codes "z" and henbun's decoded pictures "x" to CODES
 *   st_vae import MODEL CODES   rebuilds the VAE from MODEL's metadata, loads its weights
 *                               (written by NumPy), decodes CODES's "z" and compares with
 *                               CODES's "x" (NumPy's pictures): exit 0 if every value is
 *                               within 1e-5, else 1; prints the largest difference
 */
#include "vae/vae.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_CODES 16
#define LATENT 20
#define TOL 1e-5

static int die(const char *msg) {
    fprintf(stderr, "st_vae: %s\n", msg);
    return 1;
}

/* The codes: fixed draws of N(0, 1), so both sides decode the same points. */
static void fill_codes(ag_tensor *z) {
    ag_rng r;
    ag_rng_seed(&r, 2024);
    for (size_t i = 0; i < z->size; i++) z->data[i] = (ag_real)ag_rng_normal(&r);
}

/* The decoder's output probabilities for z, copied into a heap tensor. */
static ag_tensor *decode(vae *m, const ag_tensor *z) {
    ag_tape *t = ag_tape_new(1);
    vae_set_training(m, false);
    ag_tensor *x = vae_decode(m, t, ag_from_data(t, 2, (int[]){z->shape[0], z->shape[1]}, z->data));
    ag_tensor *out = ag_tensor_new(2, (int[]){z->shape[0], (int)(x->size / (size_t)z->shape[0])}, false);
    memcpy(out->data, x->data, sizeof(ag_real) * x->size);
    ag_tape_free(t);
    return out;
}

static int export(const char *model_path, const char *codes_path) {
    nn_error err;
    const char *enc = "linear 400 init=torch, relu, linear 40 init=torch";
    const char *dec = "linear 400 init=torch, relu, linear 784 init=torch";
    vae *m = vae_new(&(vae_config){.x_ndim = 3, .x_shape = {1, 28, 28}, .z_dim = LATENT,
                                   .encoder_text = enc, .decoder_text = dec,
                                   .likelihood = VAE_BERNOULLI, .seed = 11}, &err);
    if (!m) return die(err.msg);
    const char *meta[] = {"format", "henbun", "model", "vae", "encoder", enc, "decoder", dec,
                          "latent", "20", "likelihood", "bernoulli", "x_shape", "1,28,28",
                          "precision", AG_REAL_NAME,
                          "config", "program=vae\ndataset=mnist\nlatent=20\nencoder=mlp\n", NULL};
    if (nn_safetensors_save(model_path, vae_params(m), meta, &err)) return die(err.msg);

    ag_tensor *z = ag_tensor_new(2, (int[]){N_CODES, LATENT}, false);
    fill_codes(z);
    ag_tensor *x = decode(m, z);
    nn_param_list codes = {0};
    nn_params_add(&codes, NULL, "z", z, false);
    nn_params_add(&codes, NULL, "x", x, false);
    int rc = nn_safetensors_save(codes_path, &codes, NULL, &err);
    nn_params_free(&codes);
    ag_tensor_free(z);
    ag_tensor_free(x);
    vae_free(m);
    return rc ? die(err.msg) : 0;
}

static int import(const char *model_path, const char *codes_path) {
    nn_error err;
    nn_safetensors *f = nn_safetensors_open(model_path, &err);
    if (!f) return die(err.msg);
    const char *enc = nn_safetensors_meta(f, "encoder"), *dec = nn_safetensors_meta(f, "decoder");
    const char *latent = nn_safetensors_meta(f, "latent"), *lik = nn_safetensors_meta(f, "likelihood");
    if (!enc || !dec || !latent || !lik || strcmp(lik, "bernoulli"))
        return die("the model's metadata lacks encoder, decoder, latent or a Bernoulli likelihood");
    vae *m = vae_new(&(vae_config){.x_ndim = 3, .x_shape = {1, 28, 28}, .z_dim = atoi(latent),
                                   .encoder_text = enc, .decoder_text = dec,
                                   .likelihood = VAE_BERNOULLI, .seed = 99}, &err);
    if (!m) return die(err.msg);
    if (nn_safetensors_read(f, vae_params(m), NULL, &err)) return die(err.msg);
    nn_safetensors_close(f);

    ag_tensor *z = ag_tensor_new(2, (int[]){N_CODES, m->cfg.z_dim}, false);
    ag_tensor *want = ag_tensor_new(2, (int[]){N_CODES, m->x_size}, false);
    nn_param_list codes = {0};
    nn_params_add(&codes, NULL, "z", z, false);
    nn_params_add(&codes, NULL, "x", want, false);
    if (nn_safetensors_load(codes_path, &codes, &err)) return die(err.msg);
    ag_tensor *x = decode(m, z);
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < x->size; i++) {
        double d = fabs((double)x->data[i] - (double)want->data[i]);
        if (!(d <= worst)) worst = d, at = i; /* a NaN counts as the worst */
    }
    printf("henbun (%s) decodes NumPy's weights: largest difference %.3g at value %zu "
           "(tolerance %g)\n", AG_REAL_NAME, worst, at, TOL);
    bool ok = worst <= TOL;
    nn_params_free(&codes);
    ag_tensor_free(z);
    ag_tensor_free(want);
    ag_tensor_free(x);
    vae_free(m);
    return ok ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "export")) return export(argv[2], argv[3]);
    if (argc == 4 && !strcmp(argv[1], "import")) return import(argv[2], argv[3]);
    fprintf(stderr, "usage: st_vae export|import MODEL.safetensors CODES.safetensors\n");
    return 2;
}
