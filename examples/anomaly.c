/* anomaly.c — anomaly detection with a VAE (seed 000 mentions it: finding defective items).
 *
 *   build/anomaly --holdout 3             train on every digit but 3, score the test set
 *   build/anomaly --holdout all           leave-one-digit-out over 0..9: a table and the mean
 *   build/anomaly --score iwae --iwae-k 50
 *   build/anomaly --likelihood logistic8 --score complexity --seeds 3
 *   build/anomaly --likelihood logistic8 --score ratio --perturb 0.15
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
 * Two scores correct for that, both over a likelihood of 8-bit values (--likelihood
 * logistic8, a discretized logistic per pixel, so −ln p is a code length of the image):
 * --score complexity (Serrà et al. 2020) subtracts the image's compressed length from
 * −log₂ p(x); --score ratio (Ren et al. 2019) subtracts the −ELBO of a background model,
 * the same VAE trained on the same images with pixels replaced by noise (--perturb), which
 * learns the population statistics (how much ink) but not the digits' shapes.
 *
 * One model per held-out class: main() loops over the classes and hands each model to the
 * harness (harness_run), which trains it, saves holdout_D.ckpt after every epoch and on
 * Ctrl-C, and resumes it exactly (data order and noise are functions of (seed, class,
 * epoch, step)).  The model is declared in model(), the step in step().  Flags, scores,
 * pictures, auroc.csv and the result line: examples/common/anomaly_parts.c. */
#include "examples/common/anomaly_parts.h"
#include "examples/common/harness.h"
#include "examples/common/run.h"
#include "examples/common/vae_parts.h" /* the presets mlp, conv, iwae */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "anomaly"

typedef struct anomaly {
    anomaly_flags c;
    int cls;                  /* the class held out now */
    bool background;          /* training the background model of --score ratio */
    char prefix[40];          /* "seed_2/" with --seeds N > 1, else "" */
    nn_dataset *all;          /* the whole training set; h->train is its normal part */
    vae *m;
    nn_optim *opt;
    nn_param_list saved;      /* the checkpoint: the VAE and Adam's moments */
    double last;              /* mean −ELBO of the last whole training epoch */
    char ckpt_name[80];       /* "holdout_3.ckpt", "seed_2/holdout_3_bg.ckpt" */
} anomaly;

static int check(harness *h, char *why, size_t n) {
    const anomaly_flags *c = &((anomaly *)h->program)->c;
    if (c->latent >= 1 && h->flags.batch >= 1 && h->flags.epochs >= 1 && c->lr > 0 &&
        c->train_n >= 0 && c->iwae_k >= 1 && c->elbo_samples >= 1) {
        if ((!strcmp(c->score, "complexity") || !strcmp(c->score, "ratio") ||
             !strcmp(c->score, "local")) &&
            strcmp(c->likelihood, "logistic8") && strcmp(c->likelihood, "mol8")) {
            snprintf(why, n, "--score %s compares code lengths of 8-bit images: it needs "
                             "--likelihood logistic8 or mol8, not %s", c->score,
                     c->likelihood);
            return -1;
        }
        if (c->score_k > 1 && (c->elbo_samples > 1 || !strcmp(c->score, "elbo") ||
                               !strcmp(c->score, "iwae") || !strcmp(c->score, "latent") ||
                               !strcmp(c->score, "knn"))) {
            snprintf(why, n, "--score-k %d: the IWAE bound inside --score complexity, ratio or "
                             "local, instead of --elbo-samples (got --score %s, "
                             "--elbo-samples %d)",
                     c->score_k, c->score, c->elbo_samples);
            return -1;
        }
        return 0;
    }
    snprintf(why, n, "--latent, --batch, --epochs, --iwae-k, --elbo-samples must be >= 1, "
                     "--lr > 0, --train-n >= 0");
    return -1;
}

static int load(harness *h) {
    anomaly *p = h->program;
    nn_error err;
    if (!(p->all = anomaly_load_split(&p->c, h->flags.seed, "train", &err)) ||
        !(h->test = anomaly_load_split(&p->c, h->flags.seed, "test", &err))) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 1;
    }
    if (!p->all->y || !h->test->y || p->all->n_classes > ANOMALY_CLASSES) {
        fprintf(stderr, PROG ": %s/%s: expected labels 0-9\n", p->c.data_dir, p->c.dataset);
        return 1;
    }
    h->batching.binarize = !strcmp(p->c.binarize, "dynamic");
    return 0;
}

/* The model: encoder q(z|x) and decoder p(x|z) as spec text (presets expanded), and the
 * likelihood; its initial weights depend on the held-out class (and on which model). */
static vae *model(const anomaly *p, const harness *h, nn_error *err) {
    const anomaly_flags *c = &p->c;
    const nn_dataset *d = h->test;
    char enc[512], dec[512];
    return vae_new(&(vae_config){
        .x_ndim = 3, .x_shape = {d->shape[0], d->shape[1], d->shape[2]}, .z_dim = c->latent,
        .encoder_text = vae_preset_text(c->encoder, true, c->latent, false, enc, sizeof enc),
        .decoder_text = anomaly_decoder_text(c, dec, sizeof dec),
        .likelihood = !strcmp(c->likelihood, "bernoulli") ? VAE_BERNOULLI
                      : !strcmp(c->likelihood, "gaussian") ? VAE_GAUSSIAN
                      : !strcmp(c->likelihood, "logistic8") ? VAE_LOGISTIC8
                      : !strcmp(c->likelihood, "mol8") ? VAE_LOGISTIC8_MIX
                                                        : VAE_GAUSSIAN_LEARNED,
        .sigma = c->sigma, .components = c->components,
        .seed = run_seed(h->flags.seed, p->background ? 5 : 2, (uint64_t)p->cls)}, err);
}

static int build(harness *h) {
    anomaly *p = h->program;
    nn_error err;
    if (!(p->m = model(p, h, &err))) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 2;
    }
    p->opt = nn_adam(vae_params(p->m), p->c.lr);
    nn_params_extend(&p->saved, NULL, vae_params(p->m));
    nn_optim_state(p->opt, "optim", &p->saved);
    h->params = vae_params(p->m), h->saved = &p->saved;
    return 0;
}

/* The background model's input (Ren et al. 2019): each value of x replaced, with
 * probability μ, by a uniform 8-bit value k/255; the draws from (seed, class, step). */
static void perturb(const anomaly *p, const harness *h, ag_tensor *x) {
    ag_rng r;
    ag_rng_seed(&r, vae_step_seed(run_seed(h->flags.seed, 7, (uint64_t)p->cls), h->step));
    for (size_t i = 0; i < x->size; i++)
        if (ag_rng_uniform(&r) < p->c.perturb) x->data[i] = (ag_real)(ag_rng_below(&r, 256) / 255.0);
}

/* One step on −(the bound of seed 000 eq. (8)); the noise ε from (seed, class, step). */
static harness_step step(harness *h, ag_tape *t, double *stats) {
    anomaly *p = h->program;
    nn_batch b = harness_batch(h, t);
    nn_optim_zero_grad(p->opt);
    if (p->background) perturb(p, h, b.x);
    ag_rng_seed(ag_tape_rng(t), vae_step_seed(run_seed(h->flags.seed, p->background ? 6 : 3,
                                                       (uint64_t)p->cls), h->step));
    vae_stats st;
    ag_tensor *loss = vae_loss(p->m, t, b.x, true, &st); /* −ELBO, batch mean */
    ag_backward(t, loss);
    double norm = nn_optim_step(p->opt);
    ag_tape_clear(t);
    stats[0] = st.neg_elbo, stats[1] = st.recon, stats[2] = st.kl;
    return (harness_step){st.loss, norm};
}

static void epoch_end(harness *h, const double *mean, double *row) {
    anomaly *p = h->program;
    (void)row; /* no log.csv: auroc.csv at the end */
    p->last = mean[0];
    if (!h->flags.quiet) {
        printf("  holdout %d%s  epoch %2d/%d  train -elbo %7.2f (recon %6.2f kl %5.2f)  %.1fs\n",
               p->cls, p->background ? " background" : "", h->epoch + 1, h->flags.epochs,
               mean[0], mean[1], mean[2], h->epoch_seconds);
        fflush(stdout);
    }
}

/* The background model's checkpoint says so, and its μ, before the last epoch's −ELBO
 * (resumed() compares the lines up to there); a mixture's checkpoint names its K (only
 * then, so the other likelihoods' checkpoints are as they were). */
static void background_text(const anomaly *p, char *text, size_t size) {
    size_t used = strlen(text);
    if (!strcmp(p->c.likelihood, "mol8"))
        snprintf(text + used, size - used, "components=%d\n", p->c.components);
    if (!p->background) return;
    used = strlen(text);
    snprintf(text + used, size - used, "background=1\nperturb=%.17g\n", p->c.perturb);
}

static void meta_text(harness *h, char *text, size_t size) {
    background_text(h->program, text, size);
    run_text_put(text, size, "train_neg_elbo", &((anomaly *)h->program)->last, 1);
}

static void release(harness *h) {
    anomaly *p = h->program;
    nn_params_free(&p->saved);
    nn_optim_free(p->opt);
    vae_free(p->m);
    p->saved = (nn_param_list){0}, p->opt = NULL, p->m = NULL;
}

/* --resume: class p->cls continues from its checkpoint if there is one made with these
 * settings (NULL: none, a fresh model; *code = 1 when it is there but will not do). */
static const char *resumed(harness *h, char *ckpt, size_t n, int *code) {
    anomaly *p = h->program;
    char want[NN_CKPT_TEXT_MAX], differ[512];
    nn_error err;
    snprintf(p->ckpt_name, sizeof p->ckpt_name, "%sholdout_%d%s.ckpt", p->prefix, p->cls,
             p->background ? "_bg" : "");
    harness_path(h, ckpt, n, h->ckpt_name = p->ckpt_name);
    p->last = NAN;
    if (!p->c.resume || access(ckpt, F_OK) != 0) return NULL;
    settings_write(want, sizeof want, PROG, h->remembered);
    background_text(p, want, sizeof want);
    if (nn_checkpoint_info(ckpt, &h->meta, NULL, &err))
        fprintf(stderr, PROG ": %s\n", err.msg), *code = 1;
    else if (run_settings_differ(h->meta.text, want, differ, sizeof differ))
        fprintf(stderr, PROG ": %s was made with other flags: %s\n", ckpt, differ), *code = 1;
    else
        run_text_get(h->meta.text, "train_neg_elbo", &p->last, 1);
    return ckpt;
}

/* Trains class p->cls's model (the background one if p->background) through the harness,
 * from its checkpoint with --resume; 0 or the exit status. */
static int train_one(anomaly *p, harness *h) {
    char ckpt[4096], label[48];
    snprintf(label, sizeof label, "holdout %d%s", p->cls, p->background ? " background" : "");
    h->run_label = label;
    h->order_stream = (p->background ? 2000 : 1000) + (uint64_t)p->cls;
    int code = 0;
    const char *from = resumed(h, ckpt, sizeof ckpt, &code);
    return code ? code : harness_run(h, from);
}

/* Class p->cls of the current seed: trains its model (and, for --score ratio, the
 * background model beside it) on the normal training images, scores the test set into o
 * and prints its line; 0 or the exit status. */
static int run_class(anomaly *p, harness *h, const double *bits, anomaly_outcome *o) {
    double t1 = run_seconds();
    p->background = false;
    nn_dataset_free(h->train);
    h->train = nn_dataset_filter_label(p->all, p->cls, false);
    if (p->c.train_n > 0 && p->c.train_n < h->train->n) {
        nn_dataset *cut = nn_dataset_slice(h->train, 0, p->c.train_n);
        nn_dataset_free(h->train);
        h->train = cut;
    }
    vae *fg = NULL;
    int code = train_one(p, h);
    double fg_last = p->last;
    if (!code && !strcmp(p->c.score, "ratio")) { /* keep the model, train the background one */
        fg = p->m, p->m = NULL;
        release(h);
        p->background = true;
        code = train_one(p, h);
    }
    double *local = NULL;
    if (!code && !strcmp(p->c.score, "local")) /* L(x) from a coder of the normal images */
        bits = local = anomaly_local_bits(&p->c, h->train, h->test,
                                          run_seed(h->flags.seed, 8, (uint64_t)p->cls));
    else if (!code && (!strcmp(p->c.score, "latent") || !strcmp(p->c.score, "knn"))) {
        /* both from all the normal images: the coders' teaching set, or the codes whose
         * density knn estimates */
        nn_dataset *normal = nn_dataset_filter_label(p->all, p->cls, false);
        bits = local = !strcmp(p->c.score, "knn")
                           ? anomaly_knn_scores(p->m, &p->c, normal, h->test)
                           : anomaly_latent_scores(p->m, &p->c, normal, h->test,
                                                   run_seed(h->flags.seed, 9, (uint64_t)p->cls));
        nn_dataset_free(normal);
    }
    if (!code) {
        anomaly_score(fg ? fg : p->m, fg ? p->m : NULL, &p->c, h->test, bits, p->cls,
                      run_seed(h->flags.seed, 4, (uint64_t)p->cls), o);
        o->train_neg_elbo = fg_last, o->seconds = run_seconds() - t1;
        int n_anom = 0;
        for (int i = 0; i < h->test->n; i++) n_anom += o->positive[i];
        char cn[40];
        printf("holdout %-12s AUROC %.3f   mean score: normal %.1f, held-out %.1f   "
               "(%d test images held out, %.0fs)\n",
               anomaly_class_name(&p->c, p->cls, cn, sizeof cn), o->auroc, o->score_normal,
               o->score_anomal, n_anom, o->seconds);
        fflush(stdout);
    }
    free(local);
    vae_free(fg);
    release(h);
    return code;
}

int main(int argc, char **argv) {
    static anomaly p = {.c = {.dataset = "mnist", .data_dir = "data", .holdout = "all",
        .score = "elbo", .encoder = "mlp", .decoder = "mlp", .likelihood = "bernoulli",
        .binarize = "none", .latent = 3, .iwae_k = 50, .elbo_samples = 1, .score_k = 1,
        .components = 5, .local_steps = 1500, .knn_k = 5, .knn_on = "latent",
        .local_radius = 2, .lr = 1e-3, .sigma = 1, .seeds = 1, .perturb = 0.15}};
    static harness h = {.name = PROG, .program = &p, .resume_in_out = true,
        .flags = {.epochs = 10, .batch = 128, .seed = 1, .out = "out/anomaly"},
        .stats = {"-elbo", "recon", "kl"}, .n_stats = 3, .n_bar = 3, .check = check,
        .load = load, .build = build, .train_step = step, .epoch_end = epoch_end,
        .meta_text = meta_text, .release = release};
    h.cli = &(cli_program){PROG, "Anomaly detection with a VAE: train on all classes but one, "
                                 "score the test set by -ELBO (or a corrected score), report "
                                 "the AUROC.",
                           anomaly_help_epilog};
    h.opts = anomaly_options(&p.c, &h.flags);
    h.remembered = anomaly_settings(&p.c, &h.flags, &p.cls);
    int code, classes[ANOMALY_CLASSES], n_runs = 0;
    if (harness_begin(&h, argc, argv, &code) &&
        (n_runs = anomaly_parse_holdout(p.c.holdout, classes)) < 0) {
        fprintf(stderr, PROG ": --holdout: '%s' is not a digit 0-9, a comma list of distinct "
                        "digits, or 'all'\n", p.c.holdout);
        code = 2;
    }
    /* Every class, and the model, are checked before --out is made or anything trained. */
    if (n_runs > 0 && !code) code = anomaly_check_classes(&p.c, p.all, h.test, classes, n_runs);
    nn_error err;
    vae *probe = code || !n_runs ? NULL : model(&p, &h, &err);
    if (!code && n_runs && !probe) fprintf(stderr, PROG ": %s\n", err.msg), code = 2;
    vae_free(probe);
    int n_seeds = code || !n_runs ? 0 : p.c.seeds;
    const uint64_t seed0 = h.flags.seed;
    const int ratio = !strcmp(p.c.score, "ratio");
    char ckpt[4096], dir[4200];
    if (!code && n_runs && run_mkdir(h.flags.out, &err))
        fprintf(stderr, PROG ": %s\n", err.msg), code = 1;
    for (int s = 0; s < n_seeds && !code && p.c.seeds > 1; s++) {
        snprintf(p.prefix, sizeof p.prefix, "seed_%llu", (unsigned long long)(seed0 + s));
        if (run_mkdir(run_path(dir, sizeof dir, h.flags.out, p.prefix), &err))
            fprintf(stderr, PROG ": %s\n", err.msg), code = 1;
    }
    if (!code && n_runs) anomaly_describe(&p.c, &h.flags, h.threads);
    for (int s = 0; s < n_seeds && !code && !p.c.resume; s++) /* old runs' are not ours */
        for (int r = 0; r < n_runs && !code; r++)
            for (int bg = 0; bg <= ratio; bg++) {
                if (p.c.seeds > 1)
                    snprintf(p.prefix, sizeof p.prefix, "seed_%llu/",
                             (unsigned long long)(seed0 + s));
                h.flags.seed = seed0 + s, p.cls = classes[r], p.background = bg;
                resumed(&h, ckpt, sizeof ckpt, &code);
                remove(ckpt);
            }
    anomaly_outcome *res = calloc((size_t)(n_seeds > 0 ? n_seeds : 1) * ANOMALY_CLASSES,
                                  sizeof *res);
    double *bits = !code && n_runs && !strcmp(p.c.score, "complexity")
                   ? anomaly_complexity_bits(h.test) : NULL;
    if (!res) ag_error(PROG, "out of memory");
    double t0 = run_seconds();
    for (int s = 0; s < n_seeds && !code; s++) {
        double t_seed = run_seconds();
        h.flags.seed = seed0 + (uint64_t)s;
        if (p.c.seeds > 1)
            snprintf(p.prefix, sizeof p.prefix, "seed_%llu/", (unsigned long long)h.flags.seed);
        anomaly_outcome *out = res + (size_t)s * n_runs;
        for (int r = 0; r < n_runs && !code; r++) {
            p.cls = classes[r];
            code = run_class(&p, &h, bits, &out[r]);
            if (!code && run_stop_requested() && (r + 1 < n_runs || s + 1 < n_seeds)) {
                fprintf(stderr, PROG ": %s: stopped after holdout %d\n", run_stop_signal(), p.cls);
                run_print_resume(argc, argv, NULL);
                code = run_stop_status();
            }
        }
        if (!code && p.c.seeds > 1) { /* this seed's table and pictures, in its directory */
            run_flags rs = h.flags;
            rs.out = run_path(dir, sizeof dir, h.flags.out, p.prefix);
            dir[strlen(dir) - 1] = '\0'; /* the prefix's '/' */
            printf("seed %llu:\n", (unsigned long long)h.flags.seed);
            code = anomaly_report(&p.c, &rs, out, n_runs, h.test->n, run_seconds() - t_seed,
                                  false);
        }
    }
    h.flags.seed = seed0;
    if (!code && n_seeds == 1)
        code = anomaly_report(&p.c, &h.flags, res, n_runs, h.test->n, run_seconds() - t0, true);
    else if (!code && n_seeds > 1)
        code = anomaly_report_seeds(&p.c, &h.flags, res, n_seeds, n_runs, run_seconds() - t0);
    for (int i = 0; i < (n_seeds > 0 ? n_seeds : 1) * ANOMALY_CLASSES; i++)
        free(res[i].score), free(res[i].positive);
    free(res);
    free(bits);
    nn_dataset_free(p.all);
    harness_end(&h);
    return code;
}
