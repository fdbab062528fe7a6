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
 * One model per held-out class: main() loops over the classes and hands each model to the
 * harness (harness_run), which trains it, saves holdout_D.ckpt after every epoch and on
 * Ctrl-C, and resumes it exactly (data order and noise are functions of (seed, class,
 * epoch, step)).  The model is declared in model(), the step in step().  Flags, scores,
 * pictures, auroc.csv and the result line: examples/common/anomaly_parts.c. */
#include "examples/common/anomaly_parts.h"
#include "examples/common/harness.h"
#include "examples/common/run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "anomaly"

typedef struct anomaly {
    anomaly_flags c;
    int cls;                  /* the class held out now */
    nn_dataset *all;          /* the whole training set; h->train is its normal part */
    vae *m;
    nn_optim *opt;
    nn_param_list saved;      /* the checkpoint: the VAE and Adam's moments */
    double last;              /* mean −ELBO of the last whole training epoch */
    char ckpt_name[32];       /* "holdout_3.ckpt" */
} anomaly;

static int check(harness *h, char *why, size_t n) {
    const anomaly_flags *c = &((anomaly *)h->program)->c;
    if (c->latent >= 1 && h->flags.batch >= 1 && h->flags.epochs >= 1 && c->lr > 0 &&
        c->train_n >= 0 && c->iwae_k >= 1 && c->elbo_samples >= 1)
        return 0;
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
 * likelihood; its initial weights depend on the held-out class. */
static vae *model(const anomaly *p, const harness *h, nn_error *err) {
    const anomaly_flags *c = &p->c;
    const nn_dataset *d = h->test;
    char enc[512], dec[512];
    return vae_new(&(vae_config){
        .x_ndim = 3, .x_shape = {d->shape[0], d->shape[1], d->shape[2]}, .z_dim = c->latent,
        .encoder_text = anomaly_spec_text(c->encoder, true, c->latent, enc, sizeof enc),
        .decoder_text = anomaly_spec_text(c->decoder, false, c->latent, dec, sizeof dec),
        .likelihood = !strcmp(c->likelihood, "bernoulli") ? VAE_BERNOULLI
                      : !strcmp(c->likelihood, "gaussian") ? VAE_GAUSSIAN : VAE_GAUSSIAN_LEARNED,
        .sigma = c->sigma, .seed = run_seed(h->flags.seed, 2, (uint64_t)p->cls)}, err);
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

/* One step on −(the bound of seed 000 eq. (8)); the noise ε from (seed, class, step). */
static harness_step step(harness *h, ag_tape *t, double *stats) {
    anomaly *p = h->program;
    nn_batch b = harness_batch(h, t);
    nn_optim_zero_grad(p->opt);
    ag_rng_seed(ag_tape_rng(t), vae_step_seed(run_seed(h->flags.seed, 3, (uint64_t)p->cls),
                                              h->step));
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
        printf("  holdout %d  epoch %2d/%d  train -elbo %7.2f (recon %6.2f kl %5.2f)  %.1fs\n",
               p->cls, h->epoch + 1, h->flags.epochs, mean[0], mean[1], mean[2],
               h->epoch_seconds);
        fflush(stdout);
    }
}

static void meta_text(harness *h, char *text, size_t size) {
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
    snprintf(p->ckpt_name, sizeof p->ckpt_name, "holdout_%d.ckpt", p->cls);
    harness_path(h, ckpt, n, h->ckpt_name = p->ckpt_name);
    p->last = NAN;
    if (!p->c.resume || access(ckpt, F_OK) != 0) return NULL;
    settings_write(want, sizeof want, PROG, h->remembered);
    if (nn_checkpoint_info(ckpt, &h->meta, NULL, &err))
        fprintf(stderr, PROG ": %s\n", err.msg), *code = 1;
    else if (run_settings_differ(h->meta.text, want, differ, sizeof differ))
        fprintf(stderr, PROG ": %s was made with other flags: %s\n", ckpt, differ), *code = 1;
    else
        run_text_get(h->meta.text, "train_neg_elbo", &p->last, 1);
    return ckpt;
}

int main(int argc, char **argv) {
    static anomaly p = {.c = {.dataset = "mnist", .data_dir = "data", .holdout = "all",
        .score = "elbo", .encoder = "mlp", .decoder = "mlp", .likelihood = "bernoulli",
        .binarize = "none", .latent = 3, .iwae_k = 50, .elbo_samples = 1, .lr = 1e-3,
        .sigma = 1}};
    static harness h = {.name = PROG, .program = &p, .resume_in_out = true,
        .flags = {.epochs = 10, .batch = 128, .seed = 1, .out = "out/anomaly"},
        .stats = {"-elbo", "recon", "kl"}, .n_stats = 3, .n_bar = 3, .check = check,
        .load = load, .build = build, .train_step = step, .epoch_end = epoch_end,
        .meta_text = meta_text, .release = release};
    h.cli = &(cli_program){PROG, "Anomaly detection with a VAE: train on all classes but one, "
                                 "score the test set by -ELBO, report the AUROC.",
                           anomaly_help_epilog};
    h.opts = anomaly_options(&p.c, &h.flags);
    h.remembered = anomaly_settings(&p.c, &h.flags, &p.cls);
    int code, classes[ANOMALY_CLASSES], n_runs = 0;
    static anomaly_outcome res[ANOMALY_CLASSES];
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
    if (!code && n_runs && run_mkdir(h.flags.out, &err))
        fprintf(stderr, PROG ": %s\n", err.msg), code = 1;
    if (!code && n_runs) anomaly_describe(&p.c, &h.flags, h.threads);
    char ckpt[4096], label[32];
    for (int r = 0; r < n_runs && !code && !p.c.resume; r++) { /* old runs' are not ours */
        p.cls = classes[r];
        resumed(&h, ckpt, sizeof ckpt, &code);
        remove(ckpt);
    }
    double t0 = run_seconds();
    for (int r = 0; r < n_runs && !code; r++) {
        double t1 = run_seconds();
        p.cls = classes[r];
        nn_dataset_free(h.train);
        h.train = nn_dataset_filter_label(p.all, p.cls, false);
        if (p.c.train_n > 0 && p.c.train_n < h.train->n) {
            nn_dataset *cut = nn_dataset_slice(h.train, 0, p.c.train_n);
            nn_dataset_free(h.train);
            h.train = cut;
        }
        snprintf(label, sizeof label, "holdout %d", p.cls);
        h.run_label = label, h.order_stream = 1000 + (uint64_t)p.cls;
        const char *from = resumed(&h, ckpt, sizeof ckpt, &code);
        if (!code) code = harness_run(&h, from);
        if (!code) {
            anomaly_score(p.m, &p.c, h.test, p.cls, run_seed(h.flags.seed, 4, (uint64_t)p.cls),
                          &res[r]);
            res[r].train_neg_elbo = p.last, res[r].seconds = run_seconds() - t1;
            int n_anom = 0;
            for (int i = 0; i < h.test->n; i++) n_anom += res[r].positive[i];
            char cn[40];
            printf("holdout %-12s AUROC %.3f   mean score: normal %.1f, held-out %.1f   "
                   "(%d test images held out, %.0fs)\n",
                   anomaly_class_name(&p.c, p.cls, cn, sizeof cn), res[r].auroc,
                   res[r].score_normal, res[r].score_anomal, n_anom, res[r].seconds);
            fflush(stdout);
        }
        release(&h);
        if (!code && run_stop_requested() && r + 1 < n_runs) { /* between held-out classes */
            fprintf(stderr, PROG ": %s: stopped after holdout %d\n", run_stop_signal(), p.cls);
            run_print_resume(argc, argv, NULL);
            code = run_stop_status();
        }
    }
    if (!code && n_runs)
        code = anomaly_report(&p.c, &h.flags, res, n_runs, h.test->n, run_seconds() - t0);
    for (int r = 0; r < n_runs; r++) free(res[r].score), free(res[r].positive);
    nn_dataset_free(p.all);
    harness_end(&h);
    return code;
}
