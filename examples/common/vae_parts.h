/* vae_parts.h — what examples/vae.c needs besides its model and its step: its flags and
 * the settings a checkpoint keeps (one table each), the network presets and the help text
 * that lists them, the pictures, and seed 002's measurements of the codes. */
#ifndef HENBUN_EXAMPLES_VAE_PARTS_H
#define HENBUN_EXAMPLES_VAE_PARTS_H

#include "examples/common/harness.h"
#include "vae/vae.h"

/* The VAE's own flags (the run's are in run_flags). */
typedef struct vae_flags {
    const char *dataset, *data_dir, *binarize, *encoder, *decoder, *likelihood, *objective;
    int latent, samples, warmup, iwae_k, eval_n;
    double beta, sigma, lr, lr_min;
    const char *kernel;                        /* seed 002: InfoVAE / MMD-VAE, β-TCVAE */
    double alpha, lambda, kernel_scale, tc_beta, gamma;
    int measure_n, measure_outer, probe_n, probe_epochs;
} vae_flags;

/* What the program keeps: its flags, the model and its optimizer. */
typedef struct vae_program {
    vae_flags c;
    vae *m;
    nn_optim *opt;
    nn_param_list saved;           /* the checkpoint: parameters and Adam's moments */
    vae_eval ev;                   /* the last epoch's test figures */
    double *train_curve, *test_curve; /* -ELBO per epoch, for curves.png */
} vae_program;

/* The option table (for --help and parsing) and the checkpoint's settings table, pointing
 * into c and r (static tables: one program, one call each). */
cli_opt *vae_options(vae_flags *c, run_flags *r);
const setting *vae_settings(vae_flags *c, run_flags *r);
/* --help's text after the options: presets, examples, objectives, measurements. */
extern const char *const vae_help_epilog;
/* The preset "mlp", "conv" or "iwae" as spec text for a latent size (into buf), or s
 * itself when it is spec text already. */
/* The settings are sound (the flags, and again a checkpoint's): 0, or -1 with why. */
int vae_check(harness *h, char *why, size_t n);
/* torch_init: the mlp preset's layers use PyTorch's default initialisation (build/vae, to
 * match its PyTorch reference run); false: He/Xavier by look-ahead (build/anomaly, whose
 * README figures were measured so).  The one place the presets are written. */
const char *vae_preset_text(const char *s, bool encoder, int latent, bool torch_init, char *buf,
                            size_t n);

/* samples.png, recon.png, curves.png (when train_curve), and manifold.png + latent.png
 * (2-d codes) or traverse.png, in r->out.  Drawn on tape (the training tape: cleared, its
 * PRNG state and grad mode put back), or on a tape of its own when tape is NULL. */
void vae_pictures(vae *m, ag_tape *tape, const nn_dataset *test, const vae_eval *ev, const vae_flags *c,
                  const run_flags *r, const double *train_curve, const double *test_curve,
                  int n_epochs, const char *title);
/* Seed 002's measurements of the codes (I(x;z), TC, ... and a linear probe): printed, and
 * appended to result as " key=value" pairs. */
void vae_measure_codes(vae *m, const nn_dataset *train, const nn_dataset *test,
                       const vae_flags *c, const run_flags *r, char *result, size_t size);

/* --export's metadata: model=vae, encoder/decoder (spec text), latent, likelihood, x_shape,
 * objective, dataset (the keys of docs/safetensors.md that scripts/henbun_safetensors.py reads). */
const char *const *vae_export_meta(harness *h);
/* What each picture shows (the run page's captions). */
extern const harness_caption vae_captions[];

/* Hooks of the harness (h->program is a vae_program): the header (model and threads), the
 * pictures, the last lines of a training run (where the files are, "result: ..."), --eval's
 * figures (returns the exit status), and freeing what the program built. */
void vae_describe(harness *h);
void vae_pictures_hook(harness *h);
void vae_print_result(harness *h);
int vae_print_eval(harness *h);
void vae_release(harness *h);

#endif
