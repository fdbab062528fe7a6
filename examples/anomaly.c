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
 * The defaults (latent 3, the mlp preset, Bernoulli likelihood on grey values, 10 epochs)
 * gave the best mean AUROC with −ELBO as the score among the settings we measured on
 * MNIST: 0.768 (0.786 with --epochs 20); latent 2 or 5, Gaussian likelihoods, binarized
 * data, the iwae and conv presets all did worse.  Digit 1 stays near chance: −ELBO grows
 * with the amount of ink in an image, and a held-out 1, having little, scores like a
 * normal digit; 4, 7 and 9 pass for one another.
 *
 * Outputs in --out: roc.png (one ROC curve per held-out class), scores_D.png (the score
 * distributions of normal and held-out test images), auroc.csv, and a final line
 * "result: mean_auroc=... auroc_D=... ...".  Each class's VAE is saved (holdout_D.ckpt)
 * after every epoch and when Ctrl-C stops it; --resume continues exactly, since data
 * order and noise are functions of (seed, class, epoch, step), and only scores again the
 * classes already trained. */
#include "vae/vae.h"
#include "examples/common/cli.h"
#include "examples/common/run.h"
#include "examples/common/settings.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "anomaly"
#define MAX_CLASSES 10
#define ROC_POINTS 256 /* points per plotted ROC curve (the AUROC uses every threshold) */
#define HIST_BINS 60

typedef struct config {
    const char *dataset, *data_dir, *holdout, *score, *encoder, *decoder, *likelihood, *binarize;
    int latent, epochs, batch, threads, iwae_k, elbo_samples, train_n;
    double lr, sigma;
    uint64_t seed;
    const char *out;
    bool quiet, resume, fp_trap;
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
    "  build/anomaly --holdout 3                      one digit, 10 epochs\n"
    "  build/anomaly --holdout all                    all ten digits, per-digit table and mean\n"
    "  build/anomaly --holdout 1,7 --score iwae --iwae-k 50\n"
    "  build/anomaly --dataset fashion --holdout all\n"
    "\n"
    "Writes roc.png, scores_D.png per held-out class, auroc.csv, and holdout_D.ckpt after\n"
    "every epoch; Ctrl-C (or SIGTERM) ends the current step, saves it and prints the command\n"
    "that resumes the run exactly (the same flags and --resume).  The last line printed is\n"
    "'result: mean_auroc=... auroc_D=... latent=... epochs=... seconds=...'.";

/* Expands a preset name to spec text (into buf) or returns the text unchanged — the
 * presets of build/vae, so that a model studied there can be tried here, except that mlp
 * keeps the default He initialisation (build/vae's uses PyTorch's, to match its reference
 * run; the AUROCs in the README were measured with this one). */
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

static nn_dataset *load(const config *c, const char *split, nn_error *err) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", c->data_dir, c->dataset);
    nn_dataset *d = nn_dataset_load_mnist(dir, split, err);
    if (d && !strcmp(c->binarize, "static"))
        nn_dataset_binarize_bernoulli(d, run_seed(c->seed, !strcmp(split, "test"), 99));
    else if (d && !strcmp(c->binarize, "threshold"))
        nn_dataset_binarize_threshold(d, (ag_real)0.5);
    return d;
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

/* The checkpoint of held-out class cls in --out. */
static const char *ckpt_path(char *buf, size_t n, const config *c, int cls) {
    char name[32];
    snprintf(name, sizeof name, "holdout_%d.ckpt", cls);
    return run_path(buf, n, c->out, name);
}

/* The VAE of held-out class cls (spec text in enc, dec). */
static const vae_config *model(const config *c, const nn_dataset *d, int cls, char *enc,
                               char *dec) {
    static vae_config vc;
    vc = (vae_config){
        .x_ndim = 3, .x_shape = {d->shape[0], d->shape[1], d->shape[2]}, .z_dim = c->latent,
        .encoder_text = spec_text(c->encoder, true, c->latent, enc, 512),
        .decoder_text = spec_text(c->decoder, false, c->latent, dec, 512),
        .likelihood = !strcmp(c->likelihood, "bernoulli") ? VAE_BERNOULLI
                      : !strcmp(c->likelihood, "gaussian") ? VAE_GAUSSIAN
                                                          : VAE_GAUSSIAN_LEARNED,
        .sigma = c->sigma, .seed = run_seed(c->seed, 2, (uint64_t)cls)};
    return &vc;
}

/* Trains a VAE on `normal` (from its checkpoint, with --resume, when there is one; a
 * checkpoint is saved after every epoch and when a signal stops the training) and scores
 * every image of `test`.  Returns 0, 1 on a non-finite loss or a checkpoint that cannot
 * be used, 2 on a bad model spec, 3 when a signal stopped it (the checkpoint is saved). */
static int run_one(const config *c, int cls, const nn_dataset *normal, const nn_dataset *test,
                   nn_progress *bar, const char *settings, outcome *o) {
    double t0 = run_seconds();
    char enc[512], dec[512];
    nn_error err;
    vae *m = vae_new(model(c, normal, cls, enc, dec), &err);
    if (!m) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 2;
    }
    nn_optim *opt = nn_adam(vae_params(m), c->lr);
    nn_param_list saved = {0}; /* the VAE and Adam's state */
    nn_params_extend(&saved, NULL, vae_params(m));
    nn_optim_state(opt, "optim", &saved);
    ag_rng data_rng;
    nn_batcher *it = nn_batcher_new(normal, &(nn_batch_opts){.batch_size = c->batch,
                                        .binarize = !strcmp(c->binarize, "dynamic")}, &data_rng);
    const long per_epoch = nn_batcher_num_batches(it), n_examples = nn_batcher_num_examples(it);
    ag_tape *t = ag_tape_new(c->seed);
    uint64_t train_seed = run_seed(c->seed, 3, (uint64_t)cls);
    long step = 0;
    int rc = 0, start_epoch = 0;
    /* A stopped epoch's examples and sums of −ELBO, recon, KL; the last epoch's mean. */
    double part[4] = {0}, last = NAN;
    static nn_ckpt_meta meta; /* 8 KiB of text: off the stack */
    char prefix[4096 + 32], ckpt[4096];
    snprintf(prefix, sizeof prefix, "%sholdout=%d\n", settings, cls);
    ckpt_path(ckpt, sizeof ckpt, c, cls);
    if (c->resume && access(ckpt, F_OK) == 0) {
        const char *why = NULL; /* what is wrong with the checkpoint */
        char differ[512];
        if (nn_checkpoint_info(ckpt, &meta, NULL, &err)) why = err.msg;
        else if (run_settings_differ(meta.text, prefix, differ, sizeof differ)) why = differ;
        else if (nn_checkpoint_load(ckpt, &saved, &meta, &err)) why = err.msg;
        if (why) {
            if (why == err.msg) fprintf(stderr, PROG ": %s\n", why);
            else fprintf(stderr, PROG ": %s was made with other flags: %s\n", ckpt, why);
            rc = 1;
        } else {
            start_epoch = (int)meta.epoch, step = (long)meta.step;
            long first = (long)start_epoch * per_epoch; /* the epoch's first step */
            if (step < first || step >= first + per_epoch) {
                fprintf(stderr, PROG ": %s: step %ld is not in epoch %d of this data set (%ld "
                                "batches an epoch): was it trained on other data?\n", ckpt, step,
                        start_epoch + 1, per_epoch);
                rc = 1;
            }
            m->step = step;
            if (run_text_get(meta.text, "epoch_sums", part, 4)) memset(part, 0, sizeof part);
            run_text_get(meta.text, "train_neg_elbo", &last, 1);
        }
    }
    for (int epoch = start_epoch; epoch < c->epochs && !rc; epoch++) {
        char label[48];
        snprintf(label, sizeof label, "holdout %d, epoch %d/%d", cls, epoch + 1, c->epochs);
        ag_rng_seed(&data_rng, run_seed(c->seed, 1000 + (uint64_t)cls, (uint64_t)epoch));
        nn_progress_begin(bar, label, n_examples);
        nn_batch b; /* after a stop mid-epoch, skip the batches already trained on */
        long before = step - (long)epoch * per_epoch;
        for (long skip = before; skip > 0 && nn_batcher_next(it, t, &b); skip--) ag_tape_clear(t);
        /* The epoch's steps on −(seed 000 eq. (8)); the noise ε from (seed, step). */
        vae_epoch ep = {0};
        double n = 0, t_ep = run_seconds();
        while (nn_batcher_next(it, t, &b)) {
            nn_optim_zero_grad(opt);
            ag_rng_seed(ag_tape_rng(t), vae_step_seed(train_seed, step));
            vae_stats st;
            ag_tensor *loss = vae_loss(m, t, b.x, true, &st); /* −ELBO, batch mean */
            ag_backward(t, loss);
            double norm = nn_optim_step(opt);
            ag_tape_clear(t);
            if (!isfinite(st.loss) || !isfinite(norm)) { /* gradients kept: named below */
                ep.nonfinite = true;
                break;
            }
            step++, ep.steps++, n += b.size;
            ep.neg_elbo += st.neg_elbo * b.size, ep.recon += st.recon * b.size;
            ep.kl += st.kl * b.size;
            nn_progress_step(bar, b.size, (double[]){st.neg_elbo, st.recon, st.kl});
            if (run_step_done()) break;
        }
        if (n > 0) ep.neg_elbo /= n, ep.recon /= n, ep.kl /= n;
        ep.seconds = run_seconds() - t_ep;
        nn_progress_end(bar);
        if (ep.nonfinite) {
            run_report_nonfinite(PROG, vae_params(m), "holdout %d epoch %d step %ld", cls,
                                 epoch + 1, step + 1);
            rc = 1;
            break;
        }
        bool whole = step == (long)(epoch + 1) * per_epoch;
        if (before > 0 || !whole) { /* a stopped or resumed epoch: sums for its means */
            double n0 = (double)(before * c->batch < n_examples ? before * c->batch : n_examples);
            long upto = (before + ep.steps) * c->batch;
            double n1 = (double)(upto < n_examples ? upto : n_examples) - n0;
            part[0] += n1, part[1] += ep.neg_elbo * n1, part[2] += ep.recon * n1;
            part[3] += ep.kl * n1;
            if (whole)
                ep.neg_elbo = part[1] / part[0], ep.recon = part[2] / part[0],
                ep.kl = part[3] / part[0];
        }
        snprintf(meta.text, sizeof meta.text, "%s", prefix);
        if (!whole) { /* a signal stopped the epoch half-way */
            run_text_put(meta.text, sizeof meta.text, "epoch_sums", part, 4);
            run_text_put(meta.text, sizeof meta.text, "train_neg_elbo", &last, 1);
            meta.epoch = epoch, meta.step = step;
            rc = run_save_checkpoint(PROG, ckpt, &saved, &meta) ? 1 : 3;
            if (rc == 3)
                fprintf(stderr, PROG ": %s: stopped at holdout %d, epoch %d, step %ld; "
                                "checkpoint %s\n", run_stop_signal(), cls, epoch + 1, step, ckpt);
            break;
        }
        memset(part, 0, sizeof part);
        last = ep.neg_elbo;
        run_text_put(meta.text, sizeof meta.text, "train_neg_elbo", &last, 1);
        meta.epoch = epoch + 1, meta.step = step;
        if (run_save_checkpoint(PROG, ckpt, &saved, &meta)) {
            rc = 1;
            break;
        }
        if (!c->quiet) {
            printf("  holdout %d  epoch %2d/%d  train -elbo %7.2f (recon %6.2f kl %5.2f)  %.1fs\n",
                   cls, epoch + 1, c->epochs, ep.neg_elbo, ep.recon, ep.kl, ep.seconds);
            fflush(stdout);
        }
        if (run_stop_requested() && epoch + 1 < c->epochs) { /* between epochs */
            fprintf(stderr, PROG ": %s: stopped at holdout %d after epoch %d; checkpoint %s\n",
                    run_stop_signal(), cls, epoch + 1, ckpt);
            rc = 3;
        }
    }
    o->train_neg_elbo = last;
    if (!rc) {
        /* Scores: −ELBO, or −(IWAE bound) with k samples; higher means more anomalous. */
        bool iwae = !strcmp(c->score, "iwae");
        uint64_t eval_seed = run_seed(c->seed, 4, (uint64_t)cls);
        o->cls = cls;
        if (iwae || c->elbo_samples == 1) {
            vae_eval ev = vae_evaluate(m, test, 0, iwae ? c->iwae_k : 0, eval_seed);
            o->score = ev.score, ev.score = NULL; /* keep the scores, free the rest */
            vae_eval_free(&ev);
        } else {
            o->score = elbo_scores(m, test, c->elbo_samples, eval_seed);
        }
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
    }
    o->seconds = run_seconds() - t0;
    ag_tape_free(t);
    nn_batcher_free(it);
    nn_params_free(&saved);
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
    class_name(c, o->cls, name, sizeof name);
    nn_series s[2] = {{"normal test images", x, hn, HIST_BINS}, {name, x, ha, HIST_BINS}};
    snprintf(title, sizeof title, "%s held out: %s scores (AUROC %.3f)", name,
             !strcmp(c->score, "iwae") ? "-IWAE" : "-ELBO", o->auroc);
    return nn_plot_lines_png(path, s, 2, &(nn_plot_opts){.title = title,
                                                         .xlabel = "score (nats)",
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
        snprintf(names[i], sizeof names[i], "%s  %.3f", class_name(c, o[i].cls, cn, sizeof cn),
                 o[i].auroc);
        s[k++] = (nn_series){names[i], o[i].fpr, o[i].tpr, o[i].n_roc};
    }
    if (k < MAX_CLASSES) s[k++] = (nn_series){"chance", diag, diag, 2}; /* the plot takes 10 */
    snprintf(title, sizeof title, "ROC, held-out class vs the rest (%s, latent %d)", c->score,
             c->latent);
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

/* ---- the program ------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    config c = {.dataset = "mnist", .data_dir = "data", .holdout = "all", .score = "elbo",
                .encoder = "mlp", .decoder = "mlp", .likelihood = "bernoulli",
                .binarize = "none", .latent = 3, .epochs = 10, .batch = 128, .threads = 0,
                .iwae_k = 50, .elbo_samples = 1, .train_n = 0, .lr = 1e-3, .sigma = 1, .seed = 1,
                .out = "out/anomaly"};
    cli_opt opts[] = {
        {"dataset", CLI_CHOICE, &c.dataset, "mnist|fashion", "which data"},
        {"data", CLI_STRING, &c.data_dir, "DIR", "where `make data` put the datasets"},
        {"holdout", CLI_STRING, &c.holdout, "D|D,D|all",
         "class(es) to hold out, each in its own run; all = 0..9"},
        {"score", CLI_CHOICE, &c.score, "elbo|iwae",
         "anomaly score: -ELBO, or minus the IWAE bound with --iwae-k samples"},
        {"iwae-k", CLI_INT, &c.iwae_k, "K", "importance samples for --score iwae"},
        {"elbo-samples", CLI_INT, &c.elbo_samples, "L",
         "draws of z per test image for --score elbo (L of seed 000 eq. (8))"},
        {"latent", CLI_INT, &c.latent, "N", "latent dimensions"},
        {"encoder", CLI_STRING, &c.encoder, "SPEC", "preset mlp|conv|iwae, or spec text"},
        {"decoder", CLI_STRING, &c.decoder, "SPEC", "preset mlp|conv|iwae, or spec text"},
        {"likelihood", CLI_CHOICE, &c.likelihood, "bernoulli|gaussian|gaussian-learned",
         "p(x|z): Bernoulli logits, Gaussian with fixed sigma, or learned variance"},
        {"sigma", CLI_REAL, &c.sigma, "S", "standard deviation of the fixed Gaussian"},
        {"binarize", CLI_CHOICE, &c.binarize, "none|static|dynamic|threshold",
         "grey values, one fixed Bernoulli draw, a fresh draw per batch, or x > 0.5"},
        {"epochs", CLI_INT, &c.epochs, "N", "training epochs per held-out class"},
        {"batch", CLI_INT, &c.batch, "N", "minibatch size"},
        {"lr", CLI_REAL, &c.lr, "LR", "Adam learning rate"},
        {"train-n", CLI_INT, &c.train_n, "N", "train on the first N normal images only (0: all)"},
        {"seed", CLI_U64, &c.seed, "S", "seed of every random choice"},
        {"threads", CLI_INT, &c.threads, "N", "OpenMP threads (0: all cores)"},
        {"out", CLI_STRING, &c.out, "DIR",
         "roc.png, scores_D.png, auroc.csv and holdout_D.ckpt go here"},
        {"resume", CLI_FLAG, &c.resume, NULL,
         "continue a stopped run from the checkpoints in --out (give the same flags)"},
        {"quiet", CLI_FLAG, &c.quiet, NULL, "no progress bar or per-epoch lines"},
        {"fp-trap", CLI_FLAG, &c.fp_trap, NULL,
         "debugging: die at the first operation that makes a NaN or an inf"},
        {0}};
    cli_program prog = {PROG, "Anomaly detection with a VAE: train on all classes but one, "
                              "score the test set by -ELBO, report the AUROC.", epilog};
    int rc = cli_parse(argc, argv, &prog, opts);
    if (rc) return rc < 0 ? 2 : 0;
    int classes[MAX_CLASSES];
    int n_runs = parse_holdout(c.holdout, classes);
    if (n_runs < 0) {
        fprintf(stderr, PROG ": --holdout: '%s' is not a digit 0-9, a comma list of distinct "
                        "digits, or 'all'\n", c.holdout);
        return 2;
    }
    if (c.latent < 1 || c.batch < 1 || c.epochs < 1 || c.lr <= 0 || c.train_n < 0 ||
        c.iwae_k < 1 || c.elbo_samples < 1) {
        fprintf(stderr, PROG ": --latent, --batch, --epochs, --iwae-k, --elbo-samples must be "
                        ">= 1, --lr > 0, --train-n >= 0\n");
        return 2;
    }
    int threads = run_threads(c.threads);
    if (c.fp_trap && run_fp_trap(PROG)) return 2;

    nn_error err;
    nn_dataset *train = load(&c, "train", &err), *test = train ? load(&c, "test", &err) : NULL;
    if (!train || !test) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        nn_dataset_free(train);
        return 1;
    }
    if (!train->y || !test->y || train->n_classes > MAX_CLASSES) {
        fprintf(stderr, PROG ": %s/%s: expected labels 0-9\n", c.data_dir, c.dataset);
        nn_dataset_free(train);
        nn_dataset_free(test);
        return 1;
    }
    /* Every held-out class must leave images to train on and test images on both sides,
     * and the model must build, before --out is made or anything is trained. */
    for (int r = 0; r < n_runs; r++) {
        int n_normal = 0, n_anom = 0;
        for (int i = 0; i < train->n; i++) n_normal += train->y[i] != classes[r];
        for (int i = 0; i < test->n; i++) n_anom += test->y[i] == classes[r];
        if (c.train_n > 0 && c.train_n < n_normal) n_normal = c.train_n;
        const char *why = n_normal == 0 ? "no training images outside class %d to train on"
                          : n_anom == 0 ? "no test images of class %d"
                          : n_anom == test->n ? "only test images of class %d" : NULL;
        if (why) {
            fprintf(stderr, PROG ": %s/%s: ", c.data_dir, c.dataset);
            fprintf(stderr, why, classes[r]);
            fprintf(stderr, "\n");
            nn_dataset_free(train);
            nn_dataset_free(test);
            return 1;
        }
    }
    char enc[512], dec[512];
    vae *probe = vae_new(model(&c, train, classes[0], enc, dec), &err);
    if (!probe) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        nn_dataset_free(train);
        nn_dataset_free(test);
        return 2;
    }
    vae_free(probe);
    if (run_mkdir(c.out, &err)) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        nn_dataset_free(train);
        nn_dataset_free(test);
        return 1;
    }
    printf("henbun %s anomaly detection: %s, holdout %s, score %s", AG_REAL_NAME, c.dataset,
           c.holdout, c.score);
    if (!strcmp(c.score, "iwae")) printf(" (k=%d)", c.iwae_k);
    else if (c.elbo_samples > 1) printf(" (L=%d)", c.elbo_samples);
    printf(", latent %d, %s/%s, %s likelihood, %d epoch%s, %d thread%s\n", c.latent, c.encoder,
           c.decoder, c.likelihood, c.epochs, c.epochs == 1 ? "" : "s", threads,
           threads == 1 ? "" : "s");

    nn_progress *bar = nn_progress_new(&(nn_progress_opts){
        .mode = c.quiet ? NN_PROGRESS_PLAIN : NN_PROGRESS_AUTO, .n_values = 3,
        .names = {"-elbo", "recon", "kl"}});
    outcome *res = calloc((size_t)n_runs, sizeof *res);
    if (!res) ag_error(PROG, "out of memory");
    /* What fixes the training of a held-out class, as "key=value" lines (then holdout=):
     * a checkpoint made with other settings is not resumed.  (Not the epochs: --resume may
     * train further.) */
    const setting fixed[] = {
        {"dataset", SET_STRING, &c.dataset},       {"encoder", SET_STRING, &c.encoder},
        {"decoder", SET_STRING, &c.decoder},       {"likelihood", SET_STRING, &c.likelihood},
        {"sigma", SET_DOUBLE, &c.sigma},           {"binarize", SET_STRING, &c.binarize},
        {"latent", SET_INT, &c.latent},            {"batch", SET_INT, &c.batch},
        {"lr", SET_DOUBLE, &c.lr},                 {"train_n", SET_INT, &c.train_n},
        {"seed", SET_U64, &c.seed},
        {0}};
    static char settings[4096];
    settings_write(settings, sizeof settings, PROG, fixed);
    if (!c.resume) /* a new run: no checkpoint of an old one is taken for its own */
        for (int r = 0; r < n_runs; r++) {
            char ck[4096];
            remove(ckpt_path(ck, sizeof ck, &c, classes[r]));
        }
    run_catch_signals();
    double t0 = run_seconds();
    int code = 0;
    for (int r = 0; r < n_runs && !code; r++) {
        nn_dataset *normal = nn_dataset_filter_label(train, classes[r], false);
        if (c.train_n > 0 && c.train_n < normal->n) {
            nn_dataset *cut = nn_dataset_slice(normal, 0, c.train_n);
            nn_dataset_free(normal);
            normal = cut;
        }
        int n_anom = 0;
        for (int i = 0; i < test->n; i++) n_anom += test->y[i] == classes[r];
        if (n_anom == 0 || n_anom == test->n) {
            fprintf(stderr, PROG ": the test set has %s images of class %d\n",
                    n_anom ? "only" : "no", classes[r]);
            nn_dataset_free(normal);
            code = 1;
            break;
        }
        rc = run_one(&c, classes[r], normal, test, bar, settings, &res[r]);
        nn_dataset_free(normal);
        if (rc == 3) {
            run_print_resume(argc, argv, NULL);
            code = run_stop_status();
        } else if (rc) {
            code = rc;
        } else {
            char cn[40];
            printf("holdout %-12s AUROC %.3f   mean score: normal %.1f, held-out %.1f   "
                   "(%d test images held out, %.0fs)\n",
                   class_name(&c, classes[r], cn, sizeof cn), res[r].auroc, res[r].score_normal,
                   res[r].score_anomal, n_anom, res[r].seconds);
            fflush(stdout);
            if (run_stop_requested() && r + 1 < n_runs) { /* between held-out classes */
                fprintf(stderr, PROG ": %s: stopped after holdout %d\n", run_stop_signal(),
                        classes[r]);
                run_print_resume(argc, argv, NULL);
                code = run_stop_status();
            }
        }
    }
    double seconds = run_seconds() - t0;

    if (!code) {
        char path[4200];
        double mean = 0;
        if (n_runs > 1) printf("\n  class   AUROC\n");
        for (int r = 0; r < n_runs; r++) {
            mean += res[r].auroc / n_runs;
            if (n_runs > 1) printf("  %5d   %.3f\n", res[r].cls, res[r].auroc);
        }
        if (n_runs > 1) printf("  mean    %.3f\n\n", mean);
        if (roc_png(&c, res, n_runs, run_path(path, sizeof path, c.out, "roc.png"), &err) ||
            write_csv(run_path(path, sizeof path, c.out, "auroc.csv"), res, n_runs, &err)) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            code = 1;
        }
        for (int r = 0; r < n_runs && !code; r++) {
            char name[32];
            snprintf(name, sizeof name, "scores_%d.png", res[r].cls);
            if (scores_png(&c, &res[r], test->n, run_path(path, sizeof path, c.out, name), &err)) {
                fprintf(stderr, PROG ": %s\n", err.msg);
                code = 1;
            }
        }
        if (!code) {
            printf("pictures in %s/ (roc.png, scores_D.png, auroc.csv)\n", c.out);
            printf("result: mean_auroc=%.3f", mean);
            for (int r = 0; r < n_runs; r++) printf(" auroc_%d=%.3f", res[r].cls, res[r].auroc);
            printf(" score=%s", c.score);
            if (!strcmp(c.score, "iwae")) printf(" iwae_k=%d", c.iwae_k);
            else printf(" elbo_samples=%d", c.elbo_samples);
            printf(" latent=%d epochs=%d seconds=%.1f\n", c.latent, c.epochs, seconds);
        }
    }
    for (int r = 0; r < n_runs; r++) free(res[r].score), free(res[r].positive);
    free(res);
    nn_progress_free(bar);
    nn_dataset_free(train);
    nn_dataset_free(test);
    return code;
}
