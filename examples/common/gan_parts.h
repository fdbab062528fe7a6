/* gan_parts.h — what examples/gan.c needs besides its model and its step: its flags and
 * the settings a checkpoint keeps, the help text, samples.png and progress.png (whose rows
 * travel in the checkpoint), the scores a saved classifier gives the samples (Inception
 * score, classes, FID against the test set) and what the program prints. */
#ifndef HENBUN_EXAMPLES_GAN_PARTS_H
#define HENBUN_EXAMPLES_GAN_PARTS_H

#include "examples/common/harness.h"
#include "vae/gan.h"

#define PROGRESS_COLS 10  /* fixed z's per row of progress.png */
#define PROGRESS_ROWS 16  /* rows kept; beyond, every other row is dropped */
#define FIXED_N 64        /* fixed z's of samples.png (the first PROGRESS_COLS make progress.png) */
#define GAN_CLASSES 10    /* --conditional: MNIST's and Fashion-MNIST's labels */

/* The GAN's own flags (the run's are in run_flags). */
typedef struct gan_flags {
    const char *dataset, *data_dir, *arch, *generator, *discriminator, *gen_loss, *sample_bn;
    int z_dim, d_steps, iters, eval_n, score_n;
    double lr, beta1;
    const char *classifier;
    /* issue #20's quality options, each 0 (off) by default: TTUR's own rates (0: --lr),
     * the moving average of G's weights, spectral normalisation of the preset D, one-sided
     * label smoothing and the R1 penalty. */
    double lr_d, lr_g, ema, label_smooth, r1;
    bool sn, ema_warmup;  /* ema_warmup: nn_ema's warm-up of the decay (nn/ema.h) */
    /* --conditional: G(z, y) and a projection D on the data's labels (vae/gan.h), samples
     * of uniformly drawn labels.  A setting, kept only when on. */
    bool conditional;
    /* --drs: the final scores, --eval and samples_drs.png also from samples that D
     * filtered (discriminator rejection sampling, vae/gan.h), log-odds shift drs_gamma.
     * Not a setting: training is the same without it. */
    bool drs;
    double drs_gamma;
} gan_flags;

/* Settings a checkpoint keeps only when they are not 0, so that a run without them writes
 * the very checkpoint it wrote before they existed (tests/programs/identity.sh): the flag
 * that sets one (without "--") and its setting (SET_DOUBLE or SET_BOOL). */
typedef struct gan_optional { const char *flag; setting set; } gan_optional;
/* Appends "key=value" of each non-zero entry to a checkpoint's meta text. */
void gan_optional_text(const gan_optional *o, char *text, size_t n);
/* Whether the entries' values differ from those of a checkpoint's text (absent: 0); NULL,
 * or why ("ema=0.999 in the checkpoint, ema=0 here"). */
const char *gan_optional_differ(const gan_optional *o, const char *text, char *why, size_t n);
/* After --resume or --eval (text in h->meta): the checkpoint's values.  On --resume a
 * flag given with another value is refused as for every other setting; a field that is
 * not a number in its flag's range is refused.  0, or 1 after a message. */
int gan_optional_read(harness *h, const gan_optional *o);
/* The moving average's weights in G (on: true) or its own again (false); nothing without
 * --ema.  Samples, scores and pictures are drawn between the two calls. */
void gan_use_average(nn_ema *ema, bool on);

/* progress.png's rows: the iteration count at which each was taken; a row is taken at the
 * end of every stride-th epoch and of the run. */
typedef struct gan_progress { int rows, stride; long iters[PROGRESS_ROWS]; } gan_progress;

/* The real side of the comparison, computed once: the Gaussian fit of the classifier's
 * features of the first half of the test set, the floor (second half against it) and the
 * Inception score of the whole test set. */
typedef struct gan_reference {
    gan_scorer *sc;
    gan_gaussian real;
    double fid_floor, real_is;
    int half;
} gan_reference;

typedef struct gan_scores {
    gan_class_scores cls;
    double fid;
    int n;
    gan_drs drs;           /* with DRS: its M and counts (kept / tried: the acceptance) */
    double seconds, cpu;   /* drawing the samples (with DRS: the burn-in and the rejects) */
} gan_scores;

#define GAN_DRS_BURN_IN 10000   /* samples that fix DRS's M */
#define GAN_DRS_TRIES 100       /* DRS offers at most 100 samples per sample wanted */

/* What the program keeps. */
typedef struct gan_program {
    gan_flags c;
    gan *g;
    nn_optim *opt_g, *opt_d;
    nn_ema *ema;           /* --ema: the average of G's weights (NULL: off) */
    int *labels;           /* --conditional: the last real batch's labels, for G's step */
    nn_param_list params;  /* generator.* and discriminator.*: to name a NaN */
    ag_tensor *progress;   /* (PROGRESS_ROWS·PROGRESS_COLS, C, H, W): progress.png's rows */
    nn_param_list saved;   /* generator.*, discriminator.*, [ema.generator.*], opt_g.*,
                              opt_d.*, progress.images */
    gan_progress ps;
    gan_reference ref;     /* ref.sc NULL: no scores */
    double last[5];        /* the last epoch's means: d_loss, g_loss, D(x), D(G(z)), js */
} gan_program;

cli_opt *gan_options(gan_flags *c, run_flags *r);
const setting *gan_settings(gan_program *p, run_flags *r);
const gan_optional *gan_optionals(gan_flags *c);  /* lr_d, lr_g, ema, sn, label_smooth, r1,
                                                     conditional */
extern const char *const gan_help_epilog;

/* The line "progress_iters=I1 I2 ..." of the checkpoint's text, written and read back. */
void gan_progress_to_text(const gan_progress *ps, char *buf, size_t n);
void gan_progress_from_text(gan_progress *ps, const char *text);

/* n samples G(z), z from a generator seeded with `seed`, into out (n × x_size), made in
 * batches of `batch` (batch norm: each batch's statistics, or with running_bn the running
 * averages).  A conditional G gets label i % GAN_CLASSES for sample i when by_column (the
 * pictures: one class a column), else labels drawn uniformly after each batch's z.
 * Nothing is recorded for gradients. */
void gan_generate_n(gan *g, int n, int batch, uint64_t seed, bool running_bn, bool by_column,
                    ag_real *out);
/* The same through DRS (gan_drs_sample, d->gamma given; D in evaluation mode): returns how
 * many samples it drew, n or fewer when D kept under 1 in GAN_DRS_TRIES. */
int gan_generate_drs(gan *g, int n, int batch, uint64_t seed, bool running_bn, gan_drs *d,
                     ag_real *out);
/* Loads the classifier at path and scores the test set (prints a line): 0, or -1. */
int gan_reference_init(gan_reference *r, const char *path, const gan_flags *c,
                       const nn_dataset *test);
void gan_reference_free(gan_reference *r);
/* Scores of n samples, G's own (drs false) or through DRS with γ = c->drs_gamma. */
gan_scores gan_score(gan *g, const gan_reference *r, const gan_flags *c, int batch, int n,
                     uint64_t seed, bool drs);
/* samples.png: G of FIXED_N fixed z's; the first PROGRESS_COLS of them also become a row of
 * progress.png when `row`. */
void gan_pictures(gan_program *p, const run_flags *r, long per_epoch, long step, bool row);
/* --drs: samples_drs.png, FIXED_N samples through DRS (z and the uniforms from the seed of
 * samples.png), in directory dir. */
void gan_pictures_drs(gan_program *p, const run_flags *r, const char *dir);

/* Hooks of the harness (h->program is a gan_program): the header, the last lines and
 * "result: ...", --eval's scores, freeing what the program built. */
void gan_describe(harness *h);
void gan_print_result(harness *h);
/* --export's metadata: model=gan, arch, latent, dataset, and --generator/--discriminator's
 * spec text when given. */
const char *const *gan_export_meta(harness *h);
/* What each picture shows (the run page's captions). */
extern const harness_caption gan_captions[];
int gan_print_eval(harness *h);
void gan_release(harness *h);

#endif
