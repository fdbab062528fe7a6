/* anomaly.c — anomaly detection with a VAE (seed 000 mentions it: finding defective items).
 *
 *   build/anomaly --holdout 3             train on every digit but 3, score the test set
 *   build/anomaly --holdout all           leave-one-digit-out over 0..9: a table and the mean
 *   build/anomaly --score iwae --iwae-k 50
 *
 * A VAE trained only on "normal" data gives normal images a high ELBO (seed 000 eq. (8)) and
 * unfamiliar ones a low one, so −ELBO — a bound on −ln p(x) — serves as an anomaly score
 * (the IWAE bound is a tighter one).  For each held-out class we train on all the other
 * classes of the training set, score every test image, and report the AUROC of telling
 * the held-out class apart from the rest: the chance that a random held-out image scores
 * higher than a random normal one (1 perfect, 0.5 chance, below 0.5 backwards).
 *
 * Outputs in --out: roc.png (one ROC curve per held-out class), scores_D.png (the score
 * distributions of normal and held-out test images), auroc.csv, and a final line
 * "result: mean_auroc=... auroc_D=... ...". */
#include "vae/vae.h"
#include "examples/common/cli.h"
#include "examples/common/run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "anomaly"
#define MAX_CLASSES 10
#define ROC_POINTS 256 /* points per plotted ROC curve (the AUROC uses every threshold) */
#define HIST_BINS 60

typedef struct config {
    const char *dataset, *data_dir, *holdout, *score, *encoder, *decoder, *likelihood, *binarize;
    int latent, epochs, batch, threads, iwae_k, train_n;
    double lr, sigma;
    uint64_t seed;
    const char *out;
    bool quiet;
} config;

static const char *const fashion_names[MAX_CLASSES] = {
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "boot"};

static const char *epilog =
    "Leave-one-class-out: for each held-out class the VAE trains on the other nine classes of\n"
    "the training set, then every test image is scored by --score (higher = more anomalous)\n"
    "and the AUROC of finding the held-out class among the test images is reported.\n"
    "\n"
    "presets for --encoder/--decoder (the same as build/vae; or give spec text, docs/spec.md):\n"
    "  mlp    encoder: linear 400, relu, linear 2*LATENT     decoder: linear 400, relu, linear 784\n"
    "  conv   encoder: conv 32 k4 s2 p1, relu, conv 64 k4 s2 p1, relu, flatten, linear 256, relu,\n"
    "                  linear 2*LATENT\n"
    "         decoder: linear 256, relu, linear 3136, relu, reshape 64 7 7, convt 32 k4 s2 p1,\n"
    "                  relu, convt 1 k4 s2 p1\n"
    "  iwae   encoder: linear 200, tanh, linear 200, tanh, linear 2*LATENT\n"
    "         decoder: linear 200, tanh, linear 200, tanh, linear 784\n"
    "\n"
    "examples:\n"
    "  build/anomaly --holdout 3                      one digit, 5 epochs\n"
    "  build/anomaly --holdout all                    all ten digits, per-digit table and mean\n"
    "  build/anomaly --holdout 1,7 --score iwae --iwae-k 50\n"
    "  build/anomaly --dataset fashion --holdout all\n"
    "\n"
    "Writes roc.png, scores_D.png per held-out class, auroc.csv.  The last line printed is\n"
    "'result: mean_auroc=... auroc_D=... latent=... epochs=... seconds=...'.";

/* Expands a preset name to spec text (into buf) or returns the text unchanged — the
 * presets of build/vae, so that a model studied there can be tried here. */
static const char *spec_text(const char *s, bool encoder, int latent, char *buf, size_t n) {
    if (!strcmp(s, "mlp"))
        snprintf(buf, n, encoder ? "linear 400, relu, linear %d" : "linear 400, relu, linear 784",
                 2 * latent);
    else if (!strcmp(s, "conv"))
        snprintf(buf, n, encoder ? "conv 32 k4 s2 p1, relu, conv 64 k4 s2 p1, relu, flatten, "
                                   "linear 256, relu, linear %d"
                                 : "linear 256, relu, linear 3136, relu, reshape 64 7 7, "
                                   "convt 32 k4 s2 p1, relu, convt 1 k4 s2 p1",
                 2 * latent);
    else if (!strcmp(s, "iwae"))
        snprintf(buf, n, encoder ? "linear 200, tanh, linear 200, tanh, linear %d"
                                 : "linear 200, tanh, linear 200, tanh, linear 784",
                 2 * latent);
    else
        return s;
    return buf;
}

static uint64_t mix(uint64_t seed, uint64_t a, uint64_t b) {
    return seed * 0x9E3779B97F4A7C15ULL ^ (a + 1) * 0xBF58476D1CE4E5B9ULL ^
           (b + 7) * 0x94D049BB133111EBULL;
}

/* "3", "1,7" or "all" -> the list of classes to hold out in turn; -1 on a bad list. */
static int parse_holdout(const char *s, int *out) {
    if (!strcmp(s, "all")) {
        for (int d = 0; d < MAX_CLASSES; d++) out[d] = d;
        return MAX_CLASSES;
    }
    int n = 0;
    bool seen[MAX_CLASSES] = {0};
    for (const char *p = s; *p;) {
        char *end;
        long d = strtol(p, &end, 10);
        if (end == p || d < 0 || d >= MAX_CLASSES || seen[d] || (*end && *end != ','))
            return -1;
        seen[d] = true;
        out[n++] = (int)d;
        p = *end ? end + 1 : end;
        if (*end && !*p) return -1; /* a trailing comma */
    }
    return n > 0 ? n : -1;
}

/* ---- one held-out class ------------------------------------------------------------------- */

typedef struct outcome {
    int cls;
    double auroc;
    double score_normal, score_anomal; /* mean scores of normal and held-out test images */
    double train_neg_elbo;             /* mean −ELBO over the last training epoch */
    double seconds;
    int n_roc;                         /* ROC curve: false/true positive rates */
    double fpr[ROC_POINTS], tpr[ROC_POINTS];
    double *score;                     /* (n test) per-image scores; owned */
    bool *positive;                    /* (n test) held-out class?; owned */
} outcome;

typedef struct { double s; bool pos; } scored;
static int by_score_desc(const void *a, const void *b) {
    double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x < y) - (x > y);
}

/* The ROC curve: lowering the threshold from the highest score, each distinct score adds
 * its examples at once (ties move the curve diagonally, which is what makes the area equal
 * the AUROC with ties counting ½).  Thinned to at most ROC_POINTS points for the plot. */
static int roc_curve(const double *score, const bool *positive, int n, double *fpr,
                     double *tpr) {
    scored *v = malloc(sizeof *v * (size_t)n);
    double *fx = malloc(sizeof(double) * ((size_t)n + 1)), *ty = malloc(sizeof(double) * ((size_t)n + 1));
    if (!v || !fx || !ty) ag_error(PROG, "out of memory");
    double P = 0, N = 0;
    for (int i = 0; i < n; i++) {
        v[i] = (scored){score[i], positive[i]};
        P += positive[i], N += !positive[i];
    }
    qsort(v, (size_t)n, sizeof *v, by_score_desc);
    int m = 0;
    double tp = 0, fp = 0;
    fx[m] = 0, ty[m++] = 0;
    for (int i = 0; i < n;) {
        int j = i;
        for (; j < n && v[j].s == v[i].s; j++) tp += v[j].pos, fp += !v[j].pos;
        fx[m] = N > 0 ? fp / N : 0, ty[m++] = P > 0 ? tp / P : 0;
        i = j;
    }
    int k = 0;
    for (int q = 0; q < ROC_POINTS; q++) { /* evenly spaced picks, ends included */
        int i = (int)((double)q * (m - 1) / (ROC_POINTS - 1) + 0.5);
        if (k > 0 && fx[i] == fpr[k - 1] && ty[i] == tpr[k - 1]) continue;
        fpr[k] = fx[i], tpr[k++] = ty[i];
    }
    free(v);
    free(fx);
    free(ty);
    return k;
}

static nn_dataset *load(const config *c, const char *split, nn_error *err) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", c->data_dir, c->dataset);
    nn_dataset *d = nn_dataset_load_mnist(dir, split, err);
    if (d && !strcmp(c->binarize, "static"))
        nn_dataset_binarize_bernoulli(d, mix(c->seed, !strcmp(split, "test"), 99));
    return d;
}

/* Trains a VAE on `normal` and scores every image of `test`.  Returns 0, 1 on a
 * non-finite loss, 2 on a bad model spec, 3 when interrupted. */
static int run_one(const config *c, int cls, const nn_dataset *normal, const nn_dataset *test,
                   nn_progress *bar, outcome *o) {
    double t0 = run_seconds();
    char enc[512], dec[512];
    nn_error err;
    vae *m = vae_new(&(vae_config){
        .x_ndim = 3, .x_shape = {normal->shape[0], normal->shape[1], normal->shape[2]},
        .z_dim = c->latent,
        .encoder_text = spec_text(c->encoder, true, c->latent, enc, sizeof enc),
        .decoder_text = spec_text(c->decoder, false, c->latent, dec, sizeof dec),
        .likelihood = !strcmp(c->likelihood, "bernoulli") ? VAE_BERNOULLI
                      : !strcmp(c->likelihood, "gaussian") ? VAE_GAUSSIAN
                                                          : VAE_GAUSSIAN_LEARNED,
        .sigma = c->sigma, .seed = mix(c->seed, 2, (uint64_t)cls)}, &err);
    if (!m) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 2;
    }
    nn_optim *opt = nn_adam(vae_params(m), c->lr);
    ag_rng data_rng;
    nn_batcher *it = nn_batcher_new(normal, &(nn_batch_opts){.batch_size = c->batch,
                                        .binarize = !strcmp(c->binarize, "dynamic")}, &data_rng);
    ag_tape *t = ag_tape_new(c->seed);
    uint64_t run_seed = mix(c->seed, 3, (uint64_t)cls);
    long step = 0;
    int rc = 0;
    for (int epoch = 0; epoch < c->epochs && !rc; epoch++) {
        char label[48];
        snprintf(label, sizeof label, "holdout %d, epoch %d/%d", cls, epoch + 1, c->epochs);
        ag_rng_seed(&data_rng, mix(c->seed, 1000 + (uint64_t)cls, (uint64_t)epoch));
        nn_progress_begin(bar, label, nn_batcher_num_examples(it));
        vae_epoch ep = vae_train_epoch(m, opt, it, t, run_seed, &step, bar, run_stop_requested);
        nn_progress_end(bar);
        o->train_neg_elbo = ep.neg_elbo;
        if (ep.nonfinite) {
            const nn_param *bad = nn_params_first_nonfinite(vae_params(m), true);
            fprintf(stderr, PROG ": non-finite loss or gradient (holdout %d, epoch %d)%s%s%s\n",
                    cls, epoch + 1, bad ? ": first in '" : "", bad ? bad->name : "",
                    bad ? "'" : "");
            rc = 1;
        } else if (ep.interrupted) {
            rc = 3;
        } else if (!c->quiet) {
            printf("  holdout %d  epoch %2d/%d  train -elbo %7.2f (recon %6.2f kl %5.2f)  %.1fs\n",
                   cls, epoch + 1, c->epochs, ep.neg_elbo, ep.recon, ep.kl, ep.seconds);
            fflush(stdout);
        }
    }
    if (!rc) {
        /* Scores: −ELBO, or −(IWAE bound) with k samples; higher means more anomalous. */
        bool iwae = !strcmp(c->score, "iwae");
        vae_eval ev = vae_evaluate(m, test, 0, iwae ? c->iwae_k : 0, mix(c->seed, 4, (uint64_t)cls));
        o->cls = cls;
        o->score = ev.score, ev.score = NULL; /* keep the scores, free the rest */
        o->positive = malloc(sizeof(bool) * (size_t)test->n);
        if (!o->positive) ag_error(PROG, "out of memory");
        double sn = 0, sa = 0;
        int nn = 0, na = 0;
        for (int i = 0; i < test->n; i++) {
            o->positive[i] = test->y[i] == cls;
            if (o->positive[i]) sa += o->score[i], na++;
            else sn += o->score[i], nn++;
        }
        o->score_normal = sn / nn, o->score_anomal = sa / na;
        o->auroc = vae_auroc(o->score, o->positive, test->n);
        o->n_roc = roc_curve(o->score, o->positive, test->n, o->fpr, o->tpr);
        vae_eval_free(&ev);
    }
    o->seconds = run_seconds() - t0;
    ag_tape_free(t);
    nn_batcher_free(it);
    nn_optim_free(opt);
    vae_free(m);
    return rc;
}

/* ---- outputs -------------------------------------------------------------------------------- */

static const char *class_name(const config *c, int cls, char *buf, size_t n) {
    if (!strcmp(c->dataset, "fashion")) snprintf(buf, n, "%d %s", cls, fashion_names[cls]);
    else snprintf(buf, n, "digit %d", cls);
    return buf;
}

/* Histograms of the scores of normal and held-out test images, as fractions per bin,
 * over the 0.5%..99.5% range of all scores (a few extreme scores would squash the rest). */
static int scores_png(const config *c, const outcome *o, int n, const char *path, nn_error *err) {
    double *sorted = malloc(sizeof(double) * (size_t)n);
    if (!sorted) ag_error(PROG, "out of memory");
    memcpy(sorted, o->score, sizeof(double) * (size_t)n);
    for (int i = 1; i < n; i++) { /* insertion sort is too slow for 10^4: use qsort */
        (void)i;
        break;
    }
    int cmp(const void *, const void *);
    qsort(sorted, (size_t)n, sizeof(double), (int (*)(const void *, const void *))NULL ? NULL : NULL);
    free(sorted);
    (void)c, (void)path, (void)err;
    return 0;
}
