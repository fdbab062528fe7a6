/* anomaly_parts.c — the parts of examples/anomaly.c around its model and its step (see
 * anomaly_parts.h): flags, help, presets, the scores of the test images, the ROC curve,
 * the pictures, auroc.csv and the result line. */
#include "examples/common/anomaly_parts.h"
#include "examples/common/run.h"
#include "examples/common/vae_parts.h" /* vae_preset_text */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "anomaly"
#define MAX_CLASSES ANOMALY_CLASSES
#define ROC_POINTS ANOMALY_ROC_POINTS
#define HIST_BINS 60

typedef anomaly_flags config;
typedef anomaly_outcome outcome;

static const char *const fashion_names[MAX_CLASSES] = {
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "boot"};


const char *const anomaly_help_epilog =
    "Leave-one-class-out: for each held-out class the VAE trains on the other nine classes of\n"
    "the training set, then every test image is scored by --score (higher = more anomalous)\n"
    "and the AUROC of finding the held-out class among the test images is reported.\n"
    "\n"
    "scores (--score):\n"
    "  elbo        -ELBO, a bound on -ln p(x) in nats (the default; Bernoulli on grey values)\n"
    "  iwae        minus the IWAE bound with --iwae-k samples\n"
    "  complexity  Serra et al. 2020: S(x) = -log2 p(x) - L(x), -log2 p the -ELBO in bits of\n"
    "              the 8-bit image and L(x) its compressed length in bits (PNG's row filters,\n"
    "              then zlib level 9); needs --likelihood logistic8 or mol8\n"
    "  ratio       Ren et al. 2019: minus the log-likelihood ratio, -ELBO(x) - (-ELBO_bg(x)),\n"
    "              against a background VAE of the same shape trained on the same images with\n"
    "              each pixel replaced by a uniform 8-bit value with probability --perturb;\n"
    "              trains both (holdout_D.ckpt, holdout_D_bg.ckpt); needs --likelihood\n"
    "              logistic8 or mol8\n"
    "  local       complexity with L(x) from a learned local coder: each pixel from its causal\n"
    "              neighbours (--local-radius rows above and pixels left), trained\n"
    "              --local-steps steps on the normal images; needs --likelihood logistic8\n"
    "              or mol8\n"
    "  latent      the bits the VAE's code saves a local coder: [KL + -log2 p(x | neighbours,\n"
    "              3x3 of the image decoded from z ~ q(z|x))] - (-log2 p(x | neighbours)), two\n"
    "              coders trained --local-steps steps on 10000 normal images; any likelihood\n"
    "  --likelihood logistic8: a discretized logistic per pixel over the 256 grey levels (the\n"
    "  decoder gives a location and a log-scale per pixel), so -ln p is in nats of 8-bit images;\n"
    "  --likelihood mol8: a mixture of --components K of them per pixel (PixelCNN++'s\n"
    "  likelihood; K weights, locations and log-scales per pixel).  Complexity and ratio take\n"
    "  either.\n"
    "  --seeds N trains and scores with seeds S..S+N-1 (in OUT/seed_S/) and reports each\n"
    "  class's mean AUROC +- its standard error over the seeds.\n"
    "\n"
    "presets for --encoder/--decoder (build/vae's; or give spec text, docs/spec.md):\n"
    "  mlp    encoder: linear 400, relu, linear 2*LATENT     decoder: linear 400, relu, linear 784\n"
    "         (He/Xavier initialisation here; build/vae's mlp uses init=torch)\n"
    "  conv   encoder: conv 32 k4 s2 p1, relu, conv 64 k4 s2 p1, relu, flatten, linear 256, relu,\n"
    "                  linear 2*LATENT\n"
    "         decoder: linear 256, relu, linear 3136, relu, reshape 64 7 7, convt 32 k4 s2 p1,\n"
    "                  relu, convt 1 k4 s2 p1\n"
    "  iwae   encoder: linear 200, tanh, linear 200, tanh, linear 2*LATENT\n"
    "         decoder: linear 200, tanh, linear 200, tanh, linear 784\n"
    "\n"
    "examples:\n"
    "  build/anomaly --holdout 3                      one digit, 10 epochs\n"
    "  build/anomaly --holdout all                    all ten digits, per-digit table and mean\n"
    "  build/anomaly --holdout 1,7 --score iwae --iwae-k 50\n"
    "  build/anomaly --dataset fashion --holdout all\n"
    "  build/anomaly --likelihood logistic8 --score complexity --seeds 3\n"
    "  build/anomaly --likelihood logistic8 --score ratio --perturb 0.15\n"
    "  build/anomaly --likelihood logistic8 --latent 20 --score latent --seeds 3\n"
    "  build/anomaly --likelihood logistic8 --latent 20 --score knn --seeds 3\n"
    "\n"
    "Writes roc.png, scores_D.png per held-out class, auroc.csv, and holdout_D.ckpt after\n"
    "every epoch; Ctrl-C (or SIGTERM) ends the current step, saves it and prints the command\n"
    "that resumes the run exactly (the same flags and --resume).  The last line printed is\n"
    "'result: mean_auroc=... auroc_D=... latent=... epochs=... seconds=...'.";

cli_opt *anomaly_options(anomaly_flags *c, run_flags *r) {
    static cli_opt opts[32];
    cli_opt table[] = {
        {"dataset", CLI_CHOICE, &c->dataset, "mnist|fashion", "which data"},
        {"data", CLI_STRING, &c->data_dir, "DIR", "where `make data` put the datasets"},
        {"holdout", CLI_STRING, &c->holdout, "D|D,D|all",
         "class(es) to hold out, each in its own run; all = 0..9"},
        {"score", CLI_CHOICE, &c->score, "elbo|iwae|complexity|ratio|local|latent|knn",
         "anomaly score: -ELBO, minus the IWAE bound, complexity-corrected, likelihood "
         "ratio, corrected by a learned local coder, the bits the latent code saves "
         "a local coder, or the density of the normal images' codes (below)"},
        {"knn-on", CLI_CHOICE, &c->knn_on, "latent|pixels",
         "--score knn: distances between codes mu(x), or between the images themselves (no "
         "model: a reference)"},
        {"knn-k", CLI_INT, &c->knn_k, "K",
         "--score knn: the density from the distance to the K-th nearest normal code",
         CLI_IN(1, 1000)},
        {"local-steps", CLI_INT, &c->local_steps, "N",
         "--score local|latent: training steps of each local coder (16 images a step)",
         CLI_IN(1, 10000000)},
        {"local-radius", CLI_INT, &c->local_radius, "R",
         "--score local|latent: the coder sees R rows above and R pixels to the left",
         CLI_IN(1, 8)},
        {"perturb", CLI_REAL, &c->perturb, "MU",
         "--score ratio: chance that the background model sees a pixel replaced by noise",
         CLI_IN_OC(0, 1)},
        {"seeds", CLI_INT, &c->seeds, "N", "runs with seeds S..S+N-1: mean +- s.e.",
         CLI_IN(1, 1000)},
        {"iwae-k", CLI_INT, &c->iwae_k, "K", "importance samples for --score iwae"},
        {"score-k", CLI_INT, &c->score_k, "K",
         "--score complexity|ratio|local: -ln p from the K-sample IWAE bound (1: the -ELBO)",
         CLI_IN(1, 100000)},
        {"elbo-samples", CLI_INT, &c->elbo_samples, "L",
         "draws of z per test image for --score elbo and the corrected scores (L of seed 000 "
         "eq. (8))"},
        {"latent", CLI_INT, &c->latent, "N", "latent dimensions"},
        {"encoder", CLI_STRING, &c->encoder, "SPEC", "preset mlp|conv|iwae, or spec text"},
        {"decoder", CLI_STRING, &c->decoder, "SPEC", "preset mlp|conv|iwae, or spec text"},
        {"likelihood", CLI_CHOICE, &c->likelihood,
         "bernoulli|gaussian|gaussian-learned|logistic8|mol8",
         "p(x|z): Bernoulli logits, Gaussian with fixed sigma or learned variance, a "
         "discretized logistic over 8-bit values, or a mixture of them"},
        {"components", CLI_INT, &c->components, "K",
         "--likelihood mol8: logistics in each pixel's mixture", CLI_IN(1, 64)},
        {"sigma", CLI_REAL, &c->sigma, "S", "standard deviation of the fixed Gaussian"},
        {"binarize", CLI_CHOICE, &c->binarize, "none|static|dynamic|threshold",
         "grey values, one fixed Bernoulli draw, a fresh draw per batch, or x > 0.5"},
        {"epochs", CLI_INT, &r->epochs, "N", "training epochs per held-out class"},
        {"batch", CLI_INT, &r->batch, "N", "minibatch size"},
        {"lr", CLI_REAL, &c->lr, "LR", "Adam learning rate"},
        {"train-n", CLI_INT, &c->train_n, "N", "train on the first N normal images only (0: all)"},
        {"seed", CLI_U64, &r->seed, "S", "seed of every random choice"},
        {"threads", CLI_INT, &r->threads, "N", "OpenMP threads (0: all cores)"},
        {"out", CLI_STRING, &r->out, "DIR",
         "roc.png, scores_D.png, auroc.csv and holdout_D.ckpt go here"},
        {"resume", CLI_FLAG, &c->resume, NULL,
         "continue a stopped run from the checkpoints in --out (give the same flags)"},
        {"quiet", CLI_FLAG, &r->quiet, NULL, "no progress bar or per-epoch lines"},
        {"fp-trap", CLI_FLAG, &r->fp_trap, NULL,
         "debugging: die at the first operation that makes a NaN or an inf"},
        {0}};
    memcpy(opts, table, sizeof table);
    return opts;
}

/* What fixes the training of a held-out class (not the epochs: --resume may train
 * further); a checkpoint made with other settings is not resumed. */
const setting *anomaly_settings(anomaly_flags *c, run_flags *r, int *cls) {
    static setting s[13];
    memcpy(s, (setting[]){
        {"dataset", SET_STRING, &c->dataset},       {"encoder", SET_STRING, &c->encoder},
        {"decoder", SET_STRING, &c->decoder},       {"likelihood", SET_STRING, &c->likelihood},
        {"sigma", SET_DOUBLE, &c->sigma},           {"binarize", SET_STRING, &c->binarize},
        {"latent", SET_INT, &c->latent},            {"batch", SET_INT, &r->batch},
        {"lr", SET_DOUBLE, &c->lr},                 {"train_n", SET_INT, &c->train_n},
        {"seed", SET_U64, &r->seed},                {"holdout", SET_INT, cls},
        {0}}, sizeof s);
    return s;
}

/* "3", "1,7" or "all" -> the list of classes to hold out in turn; -1 on a bad list. */
int anomaly_parse_holdout(const char *s, int *out) {
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
    double *fx = malloc(sizeof(double) * ((size_t)n + 1));
    double *ty = malloc(sizeof(double) * ((size_t)n + 1));
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

nn_dataset *anomaly_load_split(const config *c, uint64_t seed, const char *split,
                               nn_error *err) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", c->data_dir, c->dataset);
    nn_dataset *d = nn_dataset_load_mnist(dir, split, err);
    if (d && !strcmp(c->binarize, "static"))
        nn_dataset_binarize_bernoulli(d, run_seed(seed, !strcmp(split, "test"), 99));
    else if (d && !strcmp(c->binarize, "threshold"))
        nn_dataset_binarize_threshold(d, (ag_real)0.5);
    return d;
}


const char *anomaly_decoder_text(const anomaly_flags *c, char *buf, size_t n) {
    const char *text = vae_preset_text(c->decoder, false, c->latent, false, buf, n);
    int per = !strcmp(c->likelihood, "logistic8") ? 2
              : !strcmp(c->likelihood, "mol8") ? 3 * c->components : 1;
    if (text != buf || per == 1) return text;
    /* a preset for the discretized logistic: its parameters per pixel (2 for logistic8,
     * locations and log-scales; 3K for mol8) from the preset's last layer */
    char tail[512], *at = strstr(buf, "linear 784");
    if (at) {
        snprintf(tail, sizeof tail, "%s", at + 10);
        snprintf(at, n - (size_t)(at - buf), "linear %d%s", 784 * per, tail);
    } else if ((at = strstr(buf, "convt 1 "))) {
        snprintf(tail, sizeof tail, "%s", at + 7);
        snprintf(at, n - (size_t)(at - buf), "convt %d%s", per, tail);
    }
    return buf;
}

double *anomaly_complexity_bits(const nn_dataset *d) {
    int h = d->shape[1], w = d->shape[2], size = d->shape[0] * h * w;
    double *bits = malloc(sizeof(double) * (size_t)d->n);
    unsigned char *px = malloc((size_t)size);
    if (!bits || !px) ag_error(PROG, "out of memory");
    for (int i = 0; i < d->n; i++) {
        const unsigned char *img = px;
        if (d->pixels) { /* a data set of bytes (MNIST's loader): the 8-bit image itself */
            img = d->pixels + (size_t)i * size;
        } else {
            const ag_real *x = d->x + (size_t)i * size;
            for (int j = 0; j < size; j++) { /* the 8-bit value k of x = k/255 */
                double v = floor((double)x[j] * 255 + 0.5);
                px[j] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
        long b = nn_compressed_bits(img, d->shape[0] * h, w, 9, true);
        if (b < 0) ag_error(PROG, "zlib failed to compress image %d", i);
        bits[i] = (double)b;
    }
    free(px);
    return bits;
}

/* −ELBO of every image of d with L draws of z each, seed 000 eq. (8): the KL in closed
 * form plus the mean over the draws of −ln p(x|z_l).  (vae_evaluate draws one; more draws
 * make the ranking less noisy.)  Returns d->n scores, which the caller frees. */
static double *elbo_scores(vae *m, const nn_dataset *d, int L, uint64_t seed) {
    int bs = 4096 / L > 1 ? 4096 / L : 1; /* images per pass: about 4096 decoded rows */
    double *score = malloc(sizeof(double) * (size_t)d->n);
    int *idx = malloc(sizeof(int) * (size_t)bs), *rep = malloc(sizeof(int) * (size_t)bs * L);
    if (!score || !idx || !rep) ag_error(PROG, "out of memory");
    ag_tape *t = ag_tape_new(seed);
    ag_set_grad_enabled(t, false);
    bool was_training = m->training;
    vae_set_training(m, false);
    for (int start = 0; start < d->n; start += bs) {
        int b = d->n - start < bs ? d->n - start : bs;
        for (int i = 0; i < b; i++) idx[i] = start + i;
        for (int l = 0; l < L; l++)
            for (int i = 0; i < b; i++) rep[l * b + i] = i;  /* rows [x; x; ...; x] */
        ag_tape_clear(t);
        ag_tensor *x = nn_dataset_batch(d, t, idx, b, false, NULL), *mu, *logvar;
        vae_encode(m, t, x, &mu, &logvar);
        ag_tensor *kl = vae_kl_normal(t, mu, logvar);                               /* (b) */
        ag_tensor *z = ag_reparameterize(t, ag_index_select(t, mu, rep, b * L),
                                         ag_index_select(t, logvar, rep, b * L));
        ag_tensor *nll = vae_neg_log_likelihood(m, t, vae_decode_raw(m, t, z),
                                                ag_index_select(t, x, rep, b * L));  /* (L·b) */
        for (int i = 0; i < b; i++) {
            double s = 0;
            for (int l = 0; l < L; l++) s += nll->data[l * b + i];
            score[start + i] = kl->data[i] + s / L;
        }
    }
    vae_set_training(m, was_training);
    ag_tape_free(t);
    free(idx);
    free(rep);
    return score;
}

double *anomaly_local_bits(const anomaly_flags *c, const nn_dataset *train,
                           const nn_dataset *test, uint64_t seed) {
    nn_error err;
    nn_local_coder *lc = nn_local_coder_new(&(nn_local_coder_config){.radius = c->local_radius,
                                            .hidden = 32, .components = 3, .seed = seed}, &err);
    double *bits = malloc(sizeof(double) * (size_t)(test->n > 0 ? test->n : 1));
    if (!lc || !bits) ag_error(PROG, "local coder: %s", lc ? "out of memory" : err.msg);
    nn_local_coder_train(lc, train, NULL, c->local_steps, 16, 1e-3, seed + 1);
    nn_local_coder_bits(lc, test, NULL, bits);
    nn_local_coder_free(lc);
    return bits;
}

/* One pass of the encoder over d's examples, in evaluation mode, batches of 128: into
 * whichever outputs are non-NULL, μ(x) (d->n rows of the latent size), the decoded mean of
 * p(x|z) at one draw z ~ q(z|x) (d->n images; noise from seed) and the KL term (d->n). */
static void encode_all(vae *m, const nn_dataset *d, uint64_t seed, ag_real *mu_out,
                       ag_real *side, double *kl) {
    enum { B = 128 };
    int idx[B];
    ag_tape *t = ag_tape_new(seed);
    ag_set_grad_enabled(t, false);
    bool was_training = m->training;
    vae_set_training(m, false);
    for (int start = 0; start < d->n; start += B) {
        int b = d->n - start < B ? d->n - start : B;
        for (int i = 0; i < b; i++) idx[i] = start + i;
        ag_tensor *x = nn_dataset_batch(d, t, idx, b, false, NULL), *mu, *logvar;
        vae_encode(m, t, x, &mu, &logvar);
        size_t zd = (size_t)mu->shape[1];
        if (mu_out) memcpy(mu_out + (size_t)start * zd, mu->data, sizeof(ag_real) * zd * (size_t)b);
        if (kl) {
            ag_tensor *k = vae_kl_normal(t, mu, logvar);
            for (int i = 0; i < b; i++) kl[start + i] = k->data[i];
        }
        if (side) {
            ag_tensor *img = vae_decode(m, t, ag_reparameterize(t, mu, logvar));
            memcpy(side + (size_t)start * d->dim, img->data, sizeof(ag_real) * d->dim * (size_t)b);
        }
        ag_tape_clear(t);
    }
    vae_set_training(m, was_training);
    ag_tape_free(t);
}

/* The side images of d's examples for the conditional coder (encode_all), and each one's
 * KL term into kl. */
static ag_real *decoded_images(vae *m, const nn_dataset *d, uint64_t seed, double *kl) {
    ag_real *side = malloc(sizeof(ag_real) * d->dim * (size_t)d->n);
    if (!side) ag_error(PROG, "out of memory");
    encode_all(m, d, seed, NULL, side, kl);
    return side;
}

double *anomaly_latent_scores(vae *m, const anomaly_flags *c, const nn_dataset *normal,
                              const nn_dataset *test, uint64_t seed) {
    /* The coders learn how far to trust the decoded image from images the VAE has not
     * seen, as the test images are (the VAE decodes its own training images better, and a
     * coder taught on them trusts it too much): the normal images after --train-n. */
    int from = c->train_n > 0 && normal->n - c->train_n >= 1000 ? c->train_n : 0;
    nn_dataset *tr = nn_dataset_slice(normal, from, normal->n - from < 10000 ? normal->n
                                                                              : from + 10000);
    const int L = c->elbo_samples;
    double *kl_tr = malloc(sizeof(double) * (size_t)tr->n),
           *kl = malloc(sizeof(double) * (size_t)test->n),
           *bits = malloc(sizeof(double) * (size_t)test->n),
           *score = calloc((size_t)test->n, sizeof(double));
    if (!kl_tr || !kl || !bits || !score) ag_error(PROG, "out of memory");
    ag_real *side_tr = decoded_images(m, tr, run_seed(seed, 1, 0), kl_tr);
    /* One coder, trained with and (half the time) without the decoded image, gives both
     * lengths: what it learnt of local statistics is the same in both and cancels in the
     * difference (two coders trained apart differ by more than z's contribution). */
    nn_error err;
    nn_local_coder *lc = nn_local_coder_new(&(nn_local_coder_config){.radius = c->local_radius,
        .side = 2, .side_dropout = 0.5, .hidden = 32, .components = 3,
        .seed = run_seed(seed, 3, 0)}, &err);
    if (!lc) ag_error(PROG, "local coder: %s", err.msg);
    nn_local_coder_train(lc, tr, side_tr, c->local_steps, 16, 1e-3, run_seed(seed, 4, 0));
    nn_local_coder_bits(lc, test, NULL, bits);
    for (int i = 0; i < test->n; i++) score[i] = -bits[i];
    for (int l = 0; l < L; l++) { /* seed 000 eq. (8): the mean over L draws of z */
        ag_real *side = decoded_images(m, test, run_seed(seed, 2, (uint64_t)l), kl);
        nn_local_coder_bits(lc, test, side, bits);
        for (int i = 0; i < test->n; i++) score[i] += (kl[i] / log(2.0) + bits[i]) / L;
        free(side);
    }
    nn_local_coder_free(lc);
    nn_dataset_free(tr);
    free(side_tr), free(kl_tr), free(kl), free(bits);
    return score;
}

/* μ(x), the mean of q(z|x), of every image of d: d->n rows of the latent size. */
static ag_real *posterior_means(vae *m, const nn_dataset *d, int latent) {
    ag_real *mu = malloc(sizeof(ag_real) * (size_t)latent * (size_t)(d->n > 0 ? d->n : 1));
    if (!mu) ag_error(PROG, "out of memory");
    encode_all(m, d, 0, mu, NULL, NULL);
    return mu;
}

/* The images of d as values, d->n rows of d->dim. */
static ag_real *images(const nn_dataset *d) {
    ag_real *x = malloc(sizeof(ag_real) * (size_t)d->dim * (size_t)(d->n > 0 ? d->n : 1));
    if (!x) ag_error(PROG, "out of memory");
    for (int i = 0; i < d->n; i++) nn_dataset_values(d, i, x + (size_t)i * d->dim);
    return x;
}

double *anomaly_knn_scores(vae *m, const anomaly_flags *c, const nn_dataset *normal,
                           const nn_dataset *test) {
    /* All the normal training images, not only the --train-n the VAE trained on: more codes
     * make a finer estimate of q(z) (seed 1, 5 epochs on 20k: mean AUROC 0.900 from the
     * 20k codes, 0.913 from all 54k, k = 10). */
    bool pixels = !strcmp(c->knn_on, "pixels");
    const int d = pixels ? (int)normal->dim : c->latent;
    ag_real *ref = pixels ? images(normal) : posterior_means(m, normal, d),
            *q = pixels ? images(test) : posterior_means(m, test, d);
    double *score = malloc(sizeof(double) * (size_t)(test->n > 0 ? test->n : 1));
    if (!score) ag_error(PROG, "out of memory");
    nn_error err;
    if (nn_knn_distances(ref, normal->n, q, test->n, d, c->knn_k, score, &err))
        ag_error(PROG, "%s", err.msg); /* sizes checked in load(): a bug if reached */
    for (int i = 0; i < test->n; i++)
        score[i] = nn_knn_neg_log_density(score[i], c->knn_k, normal->n, d);
    free(ref), free(q);
    return score;
}

/* −ELBO of every test image: with one draw of z as vae_evaluate makes it, else with L. */
static double *neg_elbo(vae *m, const nn_dataset *test, int L, uint64_t seed) {
    if (L > 1) return elbo_scores(m, test, L, seed);
    vae_eval ev = vae_evaluate(m, test, 0, 0, seed);
    double *score = ev.score;
    ev.score = NULL; /* keep the scores, free the rest */
    vae_eval_free(&ev);
    return score;
}

/* −ln p(x) of every test image as the corrected scores use it: the −ELBO (L draws), or
 * with --score-k K > 1 minus the K-sample IWAE bound (Burda et al. 2016), which is nearer
 * −ln p(x) than the −ELBO by the gap the ELBO leaves, a gap larger for images q(z|x)
 * fits poorly. */
static double *neg_log_p(vae *m, const anomaly_flags *c, const nn_dataset *test,
                         uint64_t seed) {
    if (c->score_k <= 1) return neg_elbo(m, test, c->elbo_samples, seed);
    vae_eval ev = vae_evaluate(m, test, 0, c->score_k, seed);
    double *score = ev.score;
    ev.score = NULL;
    vae_eval_free(&ev);
    return score;
}

void anomaly_score(vae *m, vae *bg, const anomaly_flags *c, const nn_dataset *test,
                   const double *complexity, int cls, uint64_t seed, anomaly_outcome *o) {
    /* Scores: −ELBO, or −(IWAE bound) with k samples; higher means more anomalous. */
    bool iwae = !strcmp(c->score, "iwae");
    o->cls = cls;
    if (!strcmp(c->score, "complexity") || !strcmp(c->score, "local")) {
        /* Serrà et al. eq. (2): S = −log₂ p(x) − L(x), both in bits of the 8-bit image; L
         * from zlib, or (local) from the learned local coder of this class's model */
        o->score = neg_log_p(m, c, test, seed);
        for (int i = 0; i < test->n; i++) o->score[i] = o->score[i] / log(2.0) - complexity[i];
    } else if (!strcmp(c->score, "ratio")) {
        /* Ren et al.: LLR = ln p_fg(x) − ln p_bg(x); low is anomalous, so the score is
         * −LLR = (−ln p_fg) − (−ln p_bg), both bounded by their −ELBO or −IWAE (the same
         * z noise) */
        o->score = neg_log_p(m, c, test, seed);
        double *b = neg_log_p(bg, c, test, seed);
        for (int i = 0; i < test->n; i++) o->score[i] -= b[i];
        free(b);
    } else if (!strcmp(c->score, "latent") || !strcmp(c->score, "knn")) { /* made before */
        o->score = malloc(sizeof(double) * (size_t)(test->n > 0 ? test->n : 1));
        if (!o->score) ag_error(PROG, "out of memory");
        memcpy(o->score, complexity, sizeof(double) * (size_t)test->n);
    } else if (iwae) {
        vae_eval ev = vae_evaluate(m, test, 0, c->iwae_k, seed);
        o->score = ev.score, ev.score = NULL; /* keep the scores, free the rest */
        vae_eval_free(&ev);
    } else {
        o->score = neg_elbo(m, test, c->elbo_samples, seed);
    }
    o->positive = malloc(sizeof(bool) * (size_t)(test->n > 0 ? test->n : 1));
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
}

/* ---- outputs -------------------------------------------------------------------------------- */

const char *anomaly_class_name(const config *c, int cls, char *buf, size_t n) {
    if (!strcmp(c->dataset, "fashion")) snprintf(buf, n, "%d %s", cls, fashion_names[cls]);
    else snprintf(buf, n, "digit %d", cls);
    return buf;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Histograms of the scores of normal and held-out test images, as fractions per bin, over
 * the 0.5% to 99.5% quantiles of all scores (a few extreme scores would squash the rest). */
static int scores_png(const config *c, const outcome *o, int n, const char *path, nn_error *err) {
    double *sorted = malloc(sizeof(double) * (size_t)n);
    if (!sorted) ag_error(PROG, "out of memory");
    memcpy(sorted, o->score, sizeof(double) * (size_t)n);
    qsort(sorted, (size_t)n, sizeof(double), by_value);
    double lo = sorted[n / 200], hi = sorted[n - 1 - n / 200], w = (hi - lo) / HIST_BINS;
    free(sorted);
    if (!(w > 0)) w = 1;
    double x[HIST_BINS], hn[HIST_BINS] = {0}, ha[HIST_BINS] = {0}, nn = 0, na = 0;
    for (int b = 0; b < HIST_BINS; b++) x[b] = lo + (b + 0.5) * w;
    for (int i = 0; i < n; i++) {
        int b = (int)floor((o->score[i] - lo) / w);
        if (b < 0 || b >= HIST_BINS) continue;
        if (o->positive[i]) ha[b]++, na++;
        else hn[b]++, nn++;
    }
    for (int b = 0; b < HIST_BINS; b++) hn[b] /= nn > 0 ? nn : 1, ha[b] /= na > 0 ? na : 1;
    char name[48], title[160];
    anomaly_class_name(c, o->cls, name, sizeof name);
    nn_series s[2] = {{"normal test images", x, hn, HIST_BINS}, {name, x, ha, HIST_BINS}};
    bool cx = !strcmp(c->score, "complexity") || !strcmp(c->score, "local") ||
              !strcmp(c->score, "latent");
    snprintf(title, sizeof title, "%s held out: %s scores (AUROC %.3f)", name,
             !strcmp(c->score, "iwae") ? "-IWAE" : cx ? "-log2 p - L"
             : !strcmp(c->score, "ratio") ? "-LLR" : "-ELBO", o->auroc);
    return nn_plot_lines_png(path, s, 2, &(nn_plot_opts){.title = title,
                                                         .xlabel = cx ? "score (bits)"
                                                                      : "score (nats)",
                                                         .ylabel = "fraction per bin"}, err);
}

static int roc_png(const config *c, const outcome *o, int n_out, const char *path,
                   nn_error *err) {
    static const double diag[2] = {0, 1};
    nn_series s[MAX_CLASSES + 1];
    char names[MAX_CLASSES][48], title[128];
    int k = 0;
    for (int i = 0; i < n_out; i++) {
        char cn[40];
        snprintf(names[i], sizeof names[i], "%s  %.3f", anomaly_class_name(c, o[i].cls, cn, sizeof cn),
                 o[i].auroc);
        s[k++] = (nn_series){names[i], o[i].fpr, o[i].tpr, o[i].n_roc};
    }
    if (k < MAX_CLASSES) s[k++] = (nn_series){"chance", diag, diag, 2}; /* the plot takes 10 */
    if (strcmp(c->likelihood, "bernoulli"))
        snprintf(title, sizeof title, "ROC (%s, %s, latent %d)", c->score, c->likelihood,
                 c->latent); /* short: the plot's title has room for ~48 characters */
    else
        snprintf(title, sizeof title, "ROC, held-out class vs the rest (%s, latent %d)",
                 c->score, c->latent);
    return nn_plot_lines_png(path, s, k, &(nn_plot_opts){.title = title,
                                                         .xlabel = "false positive rate",
                                                         .ylabel = "true positive rate",
                                                         .width = 640, .height = 560}, err);
}

/* auroc.csv, written to a temporary file and renamed, so it is never half there. */
static int write_csv(const char *path, const outcome *o, int n, nn_error *err) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return nn_fail(err, "%s: cannot write", tmp);
    fprintf(f, "holdout,auroc,score_normal,score_anomalous,train_neg_elbo,seconds\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "%d,%.6f,%.4f,%.4f,%.4f,%.1f\n", o[i].cls, o[i].auroc, o[i].score_normal,
                o[i].score_anomal, o[i].train_neg_elbo, o[i].seconds);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return nn_fail(err, "%s: cannot write", path);
    }
    return 0;
}

/* " score=... elbo_samples=... latent=... epochs=..." of the result line. */
static void result_settings(const config *c, const run_flags *r) {
    printf(" score=%s", c->score);
    if (!strcmp(c->score, "iwae")) printf(" iwae_k=%d", c->iwae_k);
    else if (c->score_k > 1) printf(" score_k=%d", c->score_k);
    else printf(" elbo_samples=%d", c->elbo_samples);
    if (strcmp(c->likelihood, "bernoulli")) printf(" likelihood=%s", c->likelihood);
    if (!strcmp(c->likelihood, "mol8")) printf(" components=%d", c->components);
    if (!strcmp(c->score, "ratio")) printf(" perturb=%g", c->perturb);
    if (!strcmp(c->score, "local") || !strcmp(c->score, "latent")) {
        printf(" local_steps=%d", c->local_steps);
        if (c->local_radius != 2) printf(" local_radius=%d", c->local_radius);
    }
    if (!strcmp(c->score, "knn"))
        printf(" knn_k=%d%s", c->knn_k, strcmp(c->knn_on, "latent") ? " knn_on=pixels" : "");
    printf(" latent=%d epochs=%d", c->latent, r->epochs);
}

int anomaly_report(const anomaly_flags *c, const run_flags *r, const anomaly_outcome *res,
                   int n_runs, int n_test, double seconds, bool result_line) {
    char path[4200];
    nn_error err;
    double mean = 0;
    if (n_runs > 1) printf("\n  class   AUROC\n");
    for (int i = 0; i < n_runs; i++) {
        mean += res[i].auroc / n_runs;
        if (n_runs > 1) printf("  %5d   %.3f\n", res[i].cls, res[i].auroc);
    }
    if (n_runs > 1) printf("  mean    %.3f\n\n", mean);
    if (roc_png(c, res, n_runs, run_path(path, sizeof path, r->out, "roc.png"), &err) ||
        write_csv(run_path(path, sizeof path, r->out, "auroc.csv"), res, n_runs, &err)) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 1;
    }
    for (int i = 0; i < n_runs; i++) {
        char name[32];
        snprintf(name, sizeof name, "scores_%d.png", res[i].cls);
        if (scores_png(c, &res[i], n_test, run_path(path, sizeof path, r->out, name), &err)) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            return 1;
        }
    }
    printf("pictures in %s/ (roc.png, scores_D.png, auroc.csv)\n", r->out);
    if (!result_line) return 0;
    printf("result: mean_auroc=%.3f", mean);
    for (int i = 0; i < n_runs; i++) printf(" auroc_%d=%.3f", res[i].cls, res[i].auroc);
    result_settings(c, r);
    printf(" seconds=%.1f\n", seconds);
    return 0;
}

/* Mean and standard error (sample s.d. / √n; 0 for one value) of v[0..n). */
static void mean_se(const double *v, int n, double *mean, double *se) {
    double m = 0, ss = 0;
    for (int i = 0; i < n; i++) m += v[i] / n;
    for (int i = 0; i < n; i++) ss += (v[i] - m) * (v[i] - m);
    *mean = m, *se = n > 1 ? sqrt(ss / (n - 1) / n) : 0;
}

/* Seed s's AUROC of class i, or (i = n_runs) its mean over the classes. */
static double seed_auroc(const outcome *o, int s, int i, int n_runs) {
    if (i < n_runs) return o[s * n_runs + i].auroc;
    double a = 0;
    for (int j = 0; j < n_runs; j++) a += o[s * n_runs + j].auroc / n_runs;
    return a;
}

int anomaly_report_seeds(const anomaly_flags *c, const run_flags *r, const anomaly_outcome *o,
                         int n_seeds, int n_runs, double seconds) {
    /* rows: the classes, then the mean over classes (its s.e. over the seeds' means) */
    double mean[MAX_CLASSES + 1], se[MAX_CLASSES + 1], v[1000];
    for (int i = 0; i <= n_runs; i++) {
        for (int s = 0; s < n_seeds; s++) v[s] = seed_auroc(o, s, i, n_runs);
        mean_se(v, n_seeds, &mean[i], &se[i]);
    }
    printf("\n  class   AUROC over %d seeds (%llu..%llu): mean +- s.e.\n", n_seeds,
           (unsigned long long)r->seed, (unsigned long long)(r->seed + (uint64_t)n_seeds - 1));
    for (int i = 0; i <= n_runs; i++) {
        if (i < n_runs) printf("  %5d   %.3f +- %.3f  ", o[i].cls, mean[i], se[i]);
        else printf("  mean    %.3f +- %.3f  ", mean[i], se[i]);
        for (int s = 0; s < n_seeds && s < 10; s++) printf(" %.3f", seed_auroc(o, s, i, n_runs));
        printf("\n");
        if (i == n_runs - 1) printf("\n");
    }
    char path[4200], tmp[4300];
    nn_error err;
    run_path(path, sizeof path, r->out, "auroc.csv");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f) {
        fprintf(f, "holdout,auroc_mean,auroc_se,seeds");
        for (int s = 0; s < n_seeds; s++)
            fprintf(f, ",auroc_seed_%llu", (unsigned long long)(r->seed + (uint64_t)s));
        fprintf(f, "\n");
        for (int i = 0; i <= n_runs; i++) {
            if (i < n_runs) fprintf(f, "%d", o[i].cls);
            else fprintf(f, "mean");
            fprintf(f, ",%.6f,%.6f,%d", mean[i], se[i], n_seeds);
            for (int s = 0; s < n_seeds; s++) fprintf(f, ",%.6f", seed_auroc(o, s, i, n_runs));
            fprintf(f, "\n");
        }
    }
    if (!f || fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        nn_fail(&err, "%s: cannot write", path);
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 1;
    }
    printf("per-seed pictures in %s/seed_S/; auroc.csv (mean, s.e., each seed) in %s/\n",
           r->out, r->out);
    printf("result: mean_auroc=%.3f mean_auroc_se=%.3f", mean[n_runs], se[n_runs]);
    for (int i = 0; i < n_runs; i++)
        printf(" auroc_%d=%.3f auroc_%d_se=%.3f", o[i].cls, mean[i], o[i].cls, se[i]);
    result_settings(c, r);
    printf(" seeds=%d seconds=%.1f\n", n_seeds, seconds);
    return 0;
}

int anomaly_check_classes(const anomaly_flags *c, const nn_dataset *train,
                          const nn_dataset *test, const int *classes, int n_runs) {
    for (int r = 0; r < n_runs; r++) {
        int n_normal = 0, n_anom = 0;
        for (int i = 0; i < train->n; i++) n_normal += train->y[i] != classes[r];
        for (int i = 0; i < test->n; i++) n_anom += test->y[i] == classes[r];
        if (!strcmp(c->score, "knn") && n_normal > 0 && c->knn_k > n_normal) {
            fprintf(stderr, PROG ": --knn-k %d: %s/%s has only %d training images outside "
                            "class %d, whose codes the score measures\n", c->knn_k,
                    c->data_dir, c->dataset, n_normal, classes[r]);
            return 2;
        }
        if (c->train_n > 0 && c->train_n < n_normal) n_normal = c->train_n;
        const char *why = n_normal == 0 ? "no training images outside class %d to train on"
                          : n_anom == 0 ? "no test images of class %d"
                          : n_anom == test->n ? "only test images of class %d" : NULL;
        if (why) {
            fprintf(stderr, PROG ": %s/%s: ", c->data_dir, c->dataset);
            fprintf(stderr, why, classes[r]);
            fprintf(stderr, "\n");
            return 1;
        }
    }
    return 0;
}

void anomaly_describe(const anomaly_flags *c, const run_flags *r, int threads) {
    printf("henbun %s anomaly detection: %s, holdout %s, score %s", AG_REAL_NAME, c->dataset,
           c->holdout, c->score);
    if (!strcmp(c->score, "iwae")) printf(" (k=%d)", c->iwae_k);
    else if (!strcmp(c->score, "local") || !strcmp(c->score, "latent"))
        printf(" (local coder: %d steps)", c->local_steps);
    else if (!strcmp(c->score, "ratio")) printf(" (background: perturb %g)", c->perturb);
    else if (!strcmp(c->score, "knn")) printf(" (k=%d, on the %s)", c->knn_k, c->knn_on);
    else if (c->elbo_samples > 1) printf(" (L=%d)", c->elbo_samples);
    if (c->score_k > 1) printf(" (-ln p from IWAE, k=%d)", c->score_k);
    printf(", latent %d, %s/%s, %s likelihood, %d epoch%s, %d thread%s\n", c->latent, c->encoder,
           c->decoder, c->likelihood, r->epochs, r->epochs == 1 ? "" : "s", threads,
           threads == 1 ? "" : "s");
    if (c->seeds > 1)
        printf("seeds %llu..%llu, one directory each\n", (unsigned long long)r->seed,
               (unsigned long long)(r->seed + (uint64_t)c->seeds - 1));
}
