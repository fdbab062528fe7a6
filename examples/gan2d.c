/* gan2d.c — the GAN of seed 004 on the 2-D toy mixtures that measure mode collapse, in the
 * protocol of the VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018) papers:
 *
 *   ring  8 Gaussians, means (cos 2πi/8, sin 2πi/8), standard deviation 0.01
 *   grid  25 Gaussians, means {−4, −2, 0, 2, 4}², standard deviation 0.05
 *
 * After training, 2500 generated points are scored: a point is high-quality when it lies
 * within 3 standard deviations of its nearest mode; a mode is captured when at least one
 * high-quality point is nearest to it; the reverse KL is KL(q ‖ uniform) for q the
 * histogram of high-quality points over the modes.  --runs N repeats with N seeds and
 * prints mean ± standard error, beside the published figures.
 *
 *   build/gan2d                               vanilla GAN on the ring, one run
 *   build/gan2d --dataset grid --pack 2       PacGAN2 on the grid
 *   build/gan2d --runs 10 --pack 2            ten seeds: a table and the result line
 *   build/gan2d --dataset grid --drs          also D's rejection sampling (gan_drs_sample)
 *
 * The networks are smaller and the runs shorter than PacGAN's (G 3x128 ReLU, D 2x128 leaky
 * ReLU, learning rate 2e-3 falling to 1e-5 along a cosine, 20 000 iterations on the ring and
 * 50 000 on the grid: ten runs take minutes on one core).  Real points are drawn fresh each
 * step, so the harness runs without a data set, an "epoch" being a logging interval.
 *
 * step() takes k discriminator steps (ascent on V, seed 004 eq. (20)) and one generator
 * step (eq. (21), or its non-saturating form).  The log shows D on real and generated
 * points and the JS estimate (V + 2 ln 2)/2 of eq. (14), averaged over the interval.  Each
 * run is one harness_run: run_NN.ckpt at every logged iteration and on Ctrl-C, with both
 * PRNG streams, so --resume continues exactly.  The rest: examples/common/gan2d_parts.c. */
#include "examples/common/gan2d_parts.h"
#include "examples/common/harness.h"
#include "examples/common/run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "gan2d"

typedef struct gan2d {
    gan2d_flags c;
    mixture m;
    int run;                          /* 0-based */
    uint64_t seed;                    /* of this run */
    gan *g;
    nn_optim *opt_g, *opt_d;
    nn_ema *ema;                      /* --ema: the average of G's weights (NULL: off) */
    nn_param_list params, saved;      /* G and D; and with both optimizers' states */
    ag_rng data;                      /* the real points' stream */
    ag_tape *t;                       /* whose generator draws z (saved in a checkpoint) */
    double next_picture;              /* of run 1, in --pictures steps */
    ag_real real[2 * GAN2D_N_EVAL], fake[2 * GAN2D_N_EVAL]; /* for pictures and scores */
    gan2d_scores last;                /* scores of the last log row */
    nn_csv *csv;
    char ckpt_name[32];
} gan2d;

static int check(harness *h, char *why, size_t n) {
    gan2d_flags *c = &((gan2d *)h->program)->c;
    if (c->iters == 0) c->iters = strcmp(c->dataset, "ring") ? 50000 : 20000;
    if (c->runs >= 1 && c->pack >= 1 && c->d_steps >= 1 && c->iters >= 1 && h->flags.batch >= 1
        && c->z >= 1 && c->lr > 0 && c->lr_min >= 0 && c->beta1 >= 0 && c->beta1 < 1
        && (!c->ema_warmup || c->ema > 0))
        return 0;
    snprintf(why, n, "--runs, --pack, --d-steps, --iters, --batch, --z must be >= 1, "
                     "--lr > 0, --lr-min >= 0, 0 <= --beta1 < 1, --ema-warmup needs --ema");
    return -1;
}

/* The model: generator and discriminator as spec text, the loss, PacGAN's packing. */
static gan *model(const gan2d_flags *c, uint64_t seed, nn_error *err) {
    return gan_new(&(gan_config){.x_ndim = 1, .x_shape = {2}, .z_dim = c->z,
        .prior = !strcmp(c->prior, "uniform") ? GAN_PRIOR_UNIFORM : GAN_PRIOR_NORMAL,
        .generator_text = c->generator, .discriminator_text = c->discriminator,
        .gen_loss = !strcmp(c->gen_loss, "minimax") ? GAN_MINIMAX : GAN_NON_SATURATING,
        .d_steps = c->d_steps, .pack = c->pack, .r1_gamma = c->r1, .r1_step = c->r1_step,
        .seed = seed}, err);
}

static int build(harness *h) {
    gan2d *p = h->program;
    const gan2d_flags *c = &p->c;
    nn_error err;
    if (!(p->g = model(c, p->seed = run_seed(h->flags.seed, 100, (uint64_t)p->run), &err))) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 1;
    }
    p->opt_g = nn_adam(&p->g->g_params, c->lr), p->opt_d = nn_adam(&p->g->d_params, c->lr);
    nn_optim_set_betas(p->opt_g, c->beta1, 0.999, 1e-8);
    nn_optim_set_betas(p->opt_d, c->beta1, 0.999, 1e-8);
    if (!strcmp(c->schedule, "cosine")) { /* D takes d_steps steps an iteration */
        nn_optim_set_schedule(p->opt_g, &(nn_lr_schedule){.kind = NN_LR_COSINE,
                                  .total_steps = c->iters, .min_lr = c->lr_min});
        nn_optim_set_schedule(p->opt_d, &(nn_lr_schedule){.kind = NN_LR_COSINE,
                                  .total_steps = c->iters * c->d_steps, .min_lr = c->lr_min});
    }
    nn_params_extend(&p->params, NULL, &p->g->g_params);
    nn_params_extend(&p->params, NULL, &p->g->d_params);
    nn_params_extend(&p->saved, NULL, &p->params);
    if (c->ema > 0) { /* G's average, saved beside it */
        p->ema = nn_ema_new(&p->g->g_params, c->ema);
        p->ema->warmup = c->ema_warmup;
        nn_ema_state(p->ema, "ema", &p->saved);
    }
    nn_optim_state(p->opt_g, "opt_g", &p->saved);
    nn_optim_state(p->opt_d, "opt_d", &p->saved);
    h->params = &p->params, h->saved = &p->saved;
    h->steps_per_epoch = c->log_every > 0 && c->log_every < c->iters ? c->log_every : c->iters;
    h->max_steps = c->iters;
    return 0;
}

/* The run's streams: fresh from its seed, or as its checkpoint left them. */
static void begin_training(harness *h, ag_tape *t, bool resumed) {
    gan2d *p = h->program;
    double sums[7] = {0, 0, 0, 0, 0, 0, 1};
    p->t = t;
    ag_rng_seed(&p->data, run_seed(p->seed, 1, 0));
    ag_rng_seed(ag_tape_rng(t), run_seed(p->seed, 2, 0));
    mixture_sample(&p->m, &p->data, p->real, GAN2D_N_EVAL); /* for the pictures only */
    if (resumed) {
        p->data = h->meta.rng;
        run_text_get(h->meta.text, "sums", sums, 7);
        run_text_get_rng(h->meta.text, "tape_rng", ag_tape_rng(t));
    }
    p->next_picture = sums[6];
}

/* One iteration: k steps of D on fresh real points, then one step of G. */
static harness_step step(harness *h, ag_tape *t, double *stats) {
    gan2d *p = h->program;
    const int n = h->flags.batch * p->c.pack; /* points per step, real and generated each */
    gan_stats st;
    for (int k = 0; k < p->c.d_steps; k++) {
        nn_optim_zero_grad(p->opt_d);
        ag_tensor *x = ag_zeros(t, 2, (int[]){n, 2});
        mixture_sample(&p->m, &p->data, x->data, n);
        ag_tensor *d_loss = gan_d_loss(p->g, t, x, &st);  /* eq. (20): ascend V in D */
        ag_backward(t, d_loss);
        double norm = nn_optim_step(p->opt_d);
        ag_tape_clear(t);
        if (!isfinite(st.d_loss) || !isfinite(norm)) return (harness_step){st.d_loss, norm};
    }
    nn_optim_zero_grad(p->opt_g);
    nn_params_set_requires_grad(&p->g->d_params, false); /* no dW for D: G's step */
    ag_tensor *g_loss = gan_g_loss(p->g, t, n, &st);      /* eq. (21): descend in G */
    ag_backward(t, g_loss);
    nn_params_set_requires_grad(&p->g->d_params, true);
    double norm = nn_optim_step(p->opt_g);
    if (p->ema) p->ema->updates = h->step, nn_ema_update(p->ema); /* t: resume-exact */
    ag_tape_clear(t);
    memcpy(stats, (double[]){st.d_loss, st.g_loss, st.d_real, st.d_fake, st.js}, 5 * sizeof *stats);
    /* Run 1's scatter plots, --pictures of them spread over the iterations. */
    if (p->c.pictures > 0 && p->run == 0 &&
        h->step + 1 >= (long)p->next_picture * p->c.iters / p->c.pictures) {
        gan_use_average(p->ema, true); /* --ema: pictures and scores of G's average */
        gan2d_snapshot(p->g, &p->c, &h->flags, &p->m, run_seed(p->seed, 3, 0), h->step + 1,
                       p->real, p->fake);
        gan_use_average(p->ema, false);
        p->next_picture++;
    }
    return (harness_step){st.g_loss, norm};
}

/* A logging interval's line and row of log.csv (the harness keeps no log: one for all runs). */
static void epoch_end(harness *h, const double *mean, double *row) {
    gan2d *p = h->program;
    const gan2d_flags *c = &p->c;
    (void)row;
    if (c->log_every <= 0) return;
    gan_use_average(p->ema, true);
    gan2d_generate(p->g, run_seed(p->seed, 3, 0), p->fake);
    gan_use_average(p->ema, false);
    gan2d_scores s = gan2d_score(&p->m, p->fake, GAN2D_N_EVAL);
    if (!h->flags.quiet) {
        printf("run %2d/%d  iter %6ld/%d  D(real) %.3f D(fake) %.3f  JS~%.4f  d_loss %.4f "
               "g_loss %.4f  modes %2d hq %5.1f%% rkl %.3f  %.1fs\n", p->run + 1, c->runs,
               h->step, c->iters, mean[2], mean[3], mean[4], mean[0], mean[1], s.modes, s.hq,
               s.rkl, h->train_seconds + h->epoch_seconds);
        fflush(stdout);
    }
    nn_error err;
    if (nn_csv_row(p->csv, (double[]){p->run + 1, h->step, mean[0], mean[1], mean[2], mean[3],
                                      mean[4], s.modes, s.hq, s.rkl}, &err))
        fprintf(stderr, PROG ": %s\n", err.msg);
}

/* Besides the settings: the streams and the next picture ("sums" as it always was: the
 * interval's running sums are the harness's epoch_sums). */
static void meta_text(harness *h, char *text, size_t size) {
    gan2d *p = h->program;
    gan_optional_text(gan2d_optionals(&p->c), text, size); /* first: gan2d_open_log compares */
    run_text_put(text, size, "sums", (double[]){0, 0, 0, 0, 0, 0, p->next_picture}, 7);
    run_text_put_rng(text, size, "tape_rng", ag_tape_rng(p->t));
    h->meta.rng = p->data;
}

static void release(harness *h) {
    gan2d *p = h->program;
    nn_params_free(&p->saved), nn_params_free(&p->params);
    nn_optim_free(p->opt_g), nn_optim_free(p->opt_d);
    nn_ema_free(p->ema);
    gan_free(p->g);
    p->saved = p->params = (nn_param_list){0}, p->opt_g = p->opt_d = NULL, p->g = NULL;
    p->ema = NULL;
}

int main(int argc, char **argv) {
    static gan2d p = {.c = {.dataset = "ring", .gen_loss = "ns", .prior = "normal",
        .generator = "linear 128, relu, linear 128, relu, linear 128, relu, linear 2",
        .discriminator = "linear 128, leaky_relu 0.2, linear 128, leaky_relu 0.2, linear 1",
        .schedule = "cosine", .runs = 1, .pack = 1, .d_steps = 1, .z = 2, .log_every = 5000,
        .pictures = 5, .lr = 2e-3, .lr_min = 1e-5, .beta1 = 0.5, .r1_step = 1e-3}};
    static harness h = {.name = PROG, .program = &p, .resume_in_out = true,
        .flags = {.batch = 100, .seed = 1, .threads = 1, .out = "out/gan2d"},
        .stats = {"d_loss", "g_loss", "d_real", "d_fake", "js"}, .n_stats = 5, .n_bar = 2,
        .steps_weigh_equally = true, .step_name = "iteration", .check = check,
        .build = build, .begin_training = begin_training, .train_step = step,
        .epoch_end = epoch_end, .meta_text = meta_text, .release = release};
    h.cli = &(cli_program){PROG, "a GAN on the ring and grid mixtures (mode collapse)",
                           gan2d_help_epilog};
    h.opts = gan2d_options(&p.c, &h.flags);
    h.remembered = gan2d_settings(&p.c, &h.flags);
    int code, done = 0;
    if (!harness_begin(&h, argc, argv, &code)) return code;
    mixture_init(&p.m, p.c.dataset);
    nn_error err;
    gan *probe = model(&p.c, 0, &err); /* spec errors now, before any output is written */
    if (!probe) return fprintf(stderr, PROG ": %s\n", err.msg), 2;
    if (!h.flags.quiet) gan2d_describe(&p.c, &p.m, h.flags.batch, h.threads, probe);
    gan_free(probe);
    if (run_mkdir(h.flags.out, &err)) return fprintf(stderr, PROG ": %s\n", err.msg), 1;
    if (!(p.csv = gan2d_open_log(&p.c, &h))) return 1;
    gan2d_scores *s = calloc((size_t)p.c.runs, sizeof *s), *own = calloc((size_t)p.c.runs, sizeof *own);
    gan2d_scores *drs = calloc((size_t)p.c.runs, sizeof *drs);   /* --drs: the same runs */
    gan2d_drs_stats *ds = calloc((size_t)p.c.runs, sizeof *ds);
    double *seconds = calloc((size_t)p.c.runs, sizeof *seconds);
    char ckpt[4096], label[32];
    for (p.run = 0; p.run < p.c.runs && !code; p.run++) {
        snprintf(p.ckpt_name, sizeof p.ckpt_name, "run_%02d.ckpt", p.run + 1);
        snprintf(label, sizeof label, "run %d", p.run + 1);
        h.ckpt_name = p.ckpt_name, h.run_label = label;
        harness_path(&h, ckpt, sizeof ckpt, p.ckpt_name);
        bool from = p.c.resume && access(ckpt, F_OK) == 0; /* its flags: gan2d_open_log */
        if (!(code = harness_run(&h, from ? ckpt : NULL))) {
            seconds[p.run] = h.train_seconds;
            if (p.ema) { /* G's own weights first, on the same z: the average's baseline */
                gan2d_generate(p.g, run_seed(p.seed, 4, 0), p.fake);
                own[done] = gan2d_score(&p.m, p.fake, GAN2D_N_EVAL);
            }
            gan2d_scores *r = &s[done++]; /* its sample: z not seen in the pictures */
            gan_use_average(p.ema, true);
            *r = gan2d_final(p.g, &p.c, &h.flags, &p.m, run_seed(p.seed, 4, 0), p.run, p.real,
                             p.fake, NULL);
            if (p.c.drs) { /* the same G (or average), its points filtered by D */
                gan2d_drs_stats *d = &ds[done - 1];
                drs[done - 1] = gan2d_final(p.g, &p.c, &h.flags, &p.m, run_seed(p.seed, 4, 0),
                                            p.run, p.real, p.fake, d);
                if (d->n < GAN2D_N_EVAL)
                    fprintf(stderr, PROG ": run %d: D kept %d of %ld points: scored on those\n",
                            p.run + 1, d->n, GAN2D_DRS_TRIES);
            }
            gan_use_average(p.ema, false);
            if (p.ema && !h.flags.quiet)
                printf("run %d/%d, G's own weights: %d/%d modes, %.1f%% high-quality, "
                       "reverse KL %.3f\n", p.run + 1, p.c.runs, own[done - 1].modes, p.m.k,
                       own[done - 1].hq, own[done - 1].rkl);
            if (!h.flags.quiet)
                printf("run %d/%d: %d/%d modes, %.1f%% high-quality, reverse KL %.3f, %.1f s\n",
                       p.run + 1, p.c.runs, r->modes, p.m.k, r->hq, r->rkl, seconds[p.run]);
            if (p.c.drs && !h.flags.quiet)
                printf("run %d/%d with DRS: %d/%d modes, %.1f%% high-quality, reverse KL %.3f, "
                       "%.1f%% of points kept, %.2f s\n", p.run + 1, p.c.runs, drs[done - 1].modes,
                       p.m.k, drs[done - 1].hq, drs[done - 1].rkl, 100 * ds[done - 1].accept,
                       ds[done - 1].seconds);
            fflush(stdout);
        }
        release(&h);
        if (!code && run_stop_requested() && p.run + 1 < p.c.runs) { /* between runs */
            fprintf(stderr, PROG ": %s: stopped after run %d\n", run_stop_signal(), p.run + 1);
            run_print_resume(argc, argv, NULL);
            code = run_stop_status();
        }
    }
    nn_csv_close(p.csv, NULL);
    if (p.c.ema > 0 && done > 0) { /* the runs' own weights beside their average */
        double hq = 0, hq2 = 0, modes = 0;
        for (int r = 0; r < done; r++) hq += own[r].hq, hq2 += own[r].hq * own[r].hq, modes += own[r].modes;
        hq /= done, modes /= done;
        double se = done > 1 ? sqrt(fmax(hq2 / done - hq * hq, 0) * done / (done - 1) / done) : 0;
        printf("\nG's own weights (the same runs, without --ema): modes %.2f, hq %.1f%% +- %.1f\n",
               modes, hq, se);
    }
    gan2d_report(&p.c, &h.flags, &p.m, s, seconds, done, p.c.drs ? drs : NULL, ds);
    free(s), free(own), free(seconds), free(drs), free(ds);
    harness_end(&h);
    return code;
}
