/* anomaly_parts.h — what examples/anomaly.c needs besides its model and its step: its flags
 * and the settings a checkpoint keeps, the help text, the network presets, the --holdout
 * list, the scores of the test images and what is made of them (AUROC, ROC curve, the
 * pictures, auroc.csv and the result line). */
#ifndef HENBUN_EXAMPLES_ANOMALY_PARTS_H
#define HENBUN_EXAMPLES_ANOMALY_PARTS_H

#include "examples/common/harness.h"
#include "vae/vae.h"

#define ANOMALY_CLASSES 10
#define ANOMALY_ROC_POINTS 256 /* points per plotted ROC curve (the AUROC uses them all) */

/* The program's own flags (the run's are in run_flags). */
typedef struct anomaly_flags {
    const char *dataset, *data_dir, *holdout, *score, *encoder, *decoder, *likelihood, *binarize;
    const char *knn_on;  /* --knn-on latent|pixels: the codes μ(x), or the images themselves */
    int latent, iwae_k, elbo_samples, train_n;
    int score_k;       /* --score-k K: −ln p inside complexity/ratio from the K-sample IWAE
                          bound (1: the −ELBO) */
    int components;    /* --likelihood mol8: logistics per pixel */
    int local_steps;   /* --score local|latent: training steps of the local coder */
    int local_radius;  /* --score local|latent: rows above and pixels left it sees */
    int knn_k;         /* --score knn: the k of the k-th nearest code */
    int seeds;         /* --seeds N: seeds seed .. seed+N-1, mean ± s.e. over them */
    double lr, sigma;
    double perturb;    /* --score ratio: the background model's pixel-replacement rate μ */
    bool resume; /* a flag: continue from the checkpoints in --out */
} anomaly_flags;

/* What one held-out class came to. */
typedef struct anomaly_outcome {
    int cls;
    double auroc;
    double score_normal, score_anomal; /* mean scores of normal and held-out test images */
    double train_neg_elbo;             /* mean −ELBO over the last training epoch */
    double seconds;
    int n_roc;                         /* ROC curve: false/true positive rates */
    double fpr[ANOMALY_ROC_POINTS], tpr[ANOMALY_ROC_POINTS];
    double *score;                     /* (n test) per-image scores; owned */
    bool *positive;                    /* (n test) held-out class?; owned */
} anomaly_outcome;

/* The option table and the checkpoint's settings table (static: one call each); the
 * settings end with holdout=, the class being trained (*cls). */
cli_opt *anomaly_options(anomaly_flags *c, run_flags *r);
const setting *anomaly_settings(anomaly_flags *c, run_flags *r, int *cls);
extern const char *const anomaly_help_epilog;
/* "3", "1,7" or "all" -> the classes to hold out in turn; -1 on a bad list. */
int anomaly_parse_holdout(const char *s, int *out);
/* A split of the data set, binarized as the flags say. */
nn_dataset *anomaly_load_split(const anomaly_flags *c, uint64_t seed, const char *split,
                               nn_error *err);
/* The decoder's spec text: a preset expanded (twice the outputs for --likelihood
 * logistic8, a location and a log-scale per pixel), or the user's text as it is. */
const char *anomaly_decoder_text(const anomaly_flags *c, char *buf, size_t n);
/* L(x) of every image of d: bits of its 8-bit pixels after PNG's row filters and zlib at
 * level 9 (nn_compressed_bits); d->n values for the caller to free. */
double *anomaly_complexity_bits(const nn_dataset *d);
/* --score local: L(x) of every test image from a local coder (nn/complexity.h: radius
 * --local-radius, 32 hidden units, 3 logistics) trained --local-steps steps on the normal images; test->n
 * values for the caller to free. */
double *anomaly_local_bits(const anomaly_flags *c, const nn_dataset *train,
                           const nn_dataset *test, uint64_t seed);
/* --score latent: per test image, the bits the VAE's latent code saves a local coder,
 * [KL(q(z|x) ‖ p(z)) + −ln p(x | x's neighbours, the decoded z)]/ln 2 − L_local(x), with
 * z ~ q(z|x) (the mean over --elbo-samples draws for the test images); both coders
 * trained --local-steps steps on 10 000 of the normal images, those after the first
 * --train-n (which the VAE trained on) if there are 1000 or more, else the first.
 * test->n values for the caller to free. */
double *anomaly_latent_scores(vae *m, const anomaly_flags *c, const nn_dataset *normal,
                              const nn_dataset *test, uint64_t seed);
/* --score knn: per test image, −ln q̂(μ(x)), the k-nearest-neighbour estimate (nn/knn.h,
 * k = --knn-k) of the density of the codes μ(x) = E_q(z|x)[z] of all the normal training
 * images, at the test image's code: a code that falls where no normal image's does is
 * anomalous, however little ink its image has.  With --knn-on pixels the same estimate
 * over the images themselves (d = 784; the VAE is not used): the reference that shows what
 * the code adds.  test->n values for the caller to free. */
double *anomaly_knn_scores(vae *m, const anomaly_flags *c, const nn_dataset *normal,
                           const nn_dataset *test);
/* Scores every test image (higher = more anomalous) by --score: −ELBO with L draws, or
 * −IWAE, of model m; complexity: −ELBO in bits − bits[i] (complexity from
 * anomaly_complexity_bits); ratio: −ELBO(m) − (−ELBO(bg)), minus the log-likelihood
 * ratio of m against the background model bg; local: as complexity; latent and knn: the
 * scores anomaly_latent_scores or anomaly_knn_scores made, passed as `complexity`.  Fills o. */
void anomaly_score(vae *m, vae *bg, const anomaly_flags *c, const nn_dataset *test,
                   const double *complexity, int cls, uint64_t seed, anomaly_outcome *o);
/* The table, roc.png, scores_D.png, auroc.csv and (if result_line) "result: ..."; 0 or 1
 * (after a message). */
int anomaly_report(const anomaly_flags *c, const run_flags *r, const anomaly_outcome *o,
                   int n_runs, int n_test, double seconds, bool result_line);
/* --seeds N > 1: the table of mean ± standard error over the seeds per class and for the
 * mean over classes, auroc.csv (those and each seed's AUROC) in r->out, and the result
 * line.  o[s * n_runs + i] is seed s's outcome of class i.  0 or 1 (after a message). */
int anomaly_report_seeds(const anomaly_flags *c, const run_flags *r, const anomaly_outcome *o,
                         int n_seeds, int n_runs, double seconds);
/* Every held-out class leaves images to train on and test images on both sides?  0, or
 * 1 after a message; 2 (a usage error) when --score knn's --knn-k exceeds a class's
 * normal training images. */
int anomaly_check_classes(const anomaly_flags *c, const nn_dataset *train,
                          const nn_dataset *test, const int *classes, int n_runs);
/* The header line: what is trained, and how. */
void anomaly_describe(const anomaly_flags *c, const run_flags *r, int threads);
/* "digit 3" or "3 dress" (into buf). */
const char *anomaly_class_name(const anomaly_flags *c, int cls, char *buf, size_t n);

#endif
