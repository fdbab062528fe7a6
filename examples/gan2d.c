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
 *
 * The networks are smaller and the runs shorter than PacGAN's (G 4x400 with batch norm,
 * D 3x200 maxout, learning rate 1e-4, 400 000 iterations): G 3x128 ReLU, D 2x128 leaky
 * ReLU, learning rate 2e-3 falling to 1e-5 along a cosine, 20 000 iterations on the ring and
 * 50 000 on the grid, so that ten runs take minutes on one core.  Real points are drawn
 * fresh each step (PacGAN drew a fixed set of 100 000).
 *
 * Each iteration takes k discriminator steps (ascent on V, seed 004 eq. (20)) and one
 * generator step (eq. (21), or its non-saturating form).  The log shows D on real and
 * generated points and the JS estimate (V + 2 ln 2)/2 of eq. (14) — of the packed
 * distributions when --pack > 1 — averaged over the logging interval.
 *
 * Each run saves its state (networks, Adam's moments, both PRNG streams and the running
 * sums) to --out/run_NN.ckpt at every logged iteration and when Ctrl-C stops it, so that
 * --resume continues the experiment exactly. */
#include "vae/gan.h"
#include "examples/common/cli.h"
#include "examples/common/run.h"
#include "examples/common/settings.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "gan2d"
#define MAX_MODES 25
#define N_EVAL 2500 /* points scored, as in both papers */

/* ---- configuration ------------------------------------------------------------------------ */

typedef struct config {
    const char *dataset, *gen_loss, *prior, *generator, *discriminator, *schedule, *out;
    int runs, pack, d_steps, iters, batch, z, threads, log_every, pictures;
    double lr, lr_min, beta1, r1, r1_step;
    uint64_t seed;
    bool quiet, resume, fp_trap;
} config;

static const char *epilog =
    "Architecture (defaults; override with spec text, see docs/spec.md):\n"
    "  generator      linear 128, relu, linear 128, relu, linear 128, relu, linear 2\n"
    "  discriminator  linear 128, leaky_relu 0.2, linear 128, leaky_relu 0.2, linear 1\n"
    "                 (its input is 2*PACK values: PACK points side by side)\n"
    "--batch counts D's decisions: each step sees BATCH*PACK real and as many generated points,\n"
    "as in PacGAN.  Real points are drawn fresh every step.\n"
    "\nexamples:\n"
    "  build/gan2d --dataset ring                    vanilla GAN, one run, pictures in out/gan2d\n"
    "  build/gan2d --dataset grid --pack 2 --runs 10 PacGAN2, ten seeds, mean and standard error\n"
    "\nEach run saves run_NN.ckpt in --out at every logged iteration; Ctrl-C (or SIGTERM)\n"
    "ends the current iteration, saves it and prints the command that resumes the experiment\n"
    "exactly (the same flags and --resume).\n"
    "\nThe last line printed is 'result: key=value ...' with the means over the runs.";

/* ---- the mixtures ------------------------------------------------------------------------- */

typedef struct mixture {
    int k;                      /* modes, equally likely */
    double std;                 /* per coordinate */
    double mean[MAX_MODES][2];
} mixture;

static void mixture_init(mixture *m, const char *name) {
    if (!strcmp(name, "ring")) {
        m->k = 8, m->std = 0.01;
        for (int i = 0; i < 8; i++)
            m->mean[i][0] = cos(2 * M_PI * i / 8), m->mean[i][1] = sin(2 * M_PI * i / 8);
    } else {
        m->k = 25, m->std = 0.05;
        for (int i = 0; i < 25; i++) m->mean[i][0] = -4 + 2 * (i % 5), m->mean[i][1] = -4 + 2 * (i / 5);
    }
}

/* n points, xy[2i], xy[2i+1]: a mode uniformly at random plus N(0, std² I). */
static void mixture_sample(const mixture *m, ag_rng *r, ag_real *xy, int n) {
    for (int i = 0; i < n; i++) {
        int c = (int)ag_rng_below(r, (uint32_t)m->k);
        xy[2 * i] = (ag_real)(m->mean[c][0] + m->std * ag_rng_normal(r));
        xy[2 * i + 1] = (ag_real)(m->mean[c][1] + m->std * ag_rng_normal(r));
    }
}

/* ---- the scores --------------------------------------------------------------------------- */

typedef struct scores {
    int modes;      /* captured modes */
    double hq;      /* % of points within 3 std of their nearest mode */
    double rkl;     /* KL(q ‖ uniform) of the high-quality points' mode histogram, nats */
} scores;

static scores score(const mixture *m, const ag_real *xy, int n) {
    int count[MAX_MODES] = {0}, good = 0;
    for (int i = 0; i < n; i++) {
        int best = 0;
        double bd = INFINITY;
        for (int c = 0; c < m->k; c++) {
            double dx = xy[2 * i] - m->mean[c][0], dy = xy[2 * i + 1] - m->mean[c][1];
            double d = dx * dx + dy * dy;
            if (d < bd) bd = d, best = c;
        }
        if (sqrt(bd) <= 3 * m->std) count[best]++, good++;
    }
    scores s = {0, 100.0 * good / n, 0};
    for (int c = 0; c < m->k; c++) {
        if (!count[c]) continue;
        s.modes++;
        double q = (double)count[c] / good;
        s.rkl += q * log(q * m->k);          /* Σ q ln(q / (1/K)) */
    }
    if (!good) s.rkl = log(m->k);            /* nothing to histogram: as far as it gets */
    return s;
}

/* ---- one run ------------------------------------------------------------------------------ */

/* N_EVAL generated points into xy (eval mode, no gradients), with z from a fixed seed so
 * the pictures of a run are comparable across iterations. */
static void generate(gan *g, uint64_t seed, ag_real *xy) {
    ag_tape *t = ag_tape_new(seed);
    ag_set_grad_enabled(t, false);
    gan_set_training(g, false);
    ag_tensor *x = gan_generate(g, t, gan_sample_z(g, t, N_EVAL));
    memcpy(xy, x->data, sizeof(ag_real) * 2 * N_EVAL);
    gan_set_training(g, true);
    ag_tape_free(t);
}

static void picture(const config *c, const ag_real *real, const ag_real *fake, const char *name,
                    const char *title) {
    char path[4096];
    nn_error err;
    nn_points sets[2] = {{"real", real, N_EVAL, NULL}, {"generated", fake, N_EVAL, NULL}};
    if (nn_plot_scatter_png(run_path(path, sizeof path, c->out, name), sets, 2,
                            &(nn_plot_opts){.title = title, .xlabel = "x1", .ylabel = "x2",
                                            .width = 640, .height = 640},
                            &err))
        fprintf(stderr, PROG ": %s\n", err.msg);
}

typedef struct run_result {
    scores s;
    double seconds;
    bool failed, stopped; /* stopped: by a signal, with a checkpoint to resume from */
    long iter;            /* iterations done when it failed or stopped */
} run_result;

static gan *make_gan(const config *c, uint64_t seed, nn_error *err) {
    return gan_new(&(gan_config){.x_ndim = 1, .x_shape = {2}, .z_dim = c->z,
                                 .prior = !strcmp(c->prior, "uniform") ? GAN_PRIOR_UNIFORM
                                                                       : GAN_PRIOR_NORMAL,
                                 .generator_text = c->generator,
                                 .discriminator_text = c->discriminator,
                                 .gen_loss = !strcmp(c->gen_loss, "minimax") ? GAN_MINIMAX
                                                                             : GAN_NON_SATURATING,
                                 .d_steps = c->d_steps, .pack = c->pack, .r1_gamma = c->r1,
                                 .r1_step = c->r1_step, .seed = seed},
                   err);
}

/* The checkpoint of run `run` (0-based) in --out. */
static const char *ckpt_path(char *buf, size_t n, const config *c, int run) {
    char name[32];
    snprintf(name, sizeof name, "run_%02d.ckpt", run + 1);
    return run_path(buf, n, c->out, name);
}

/* Trains run `run` (from its checkpoint when resuming and there is one), saves its
 * checkpoint at every logged iteration, at the end and when a signal stops it, then
 * scores it.  A run its checkpoint shows finished is only scored again (the same
 * numbers: the scored sample's z come from a fixed seed). */
static run_result train_run(const config *c, const mixture *m, int run, nn_csv *csv,
                            const char *settings) {
    run_result res = {{0}, 0, false, false, 0};
    uint64_t seed = run_seed(c->seed, 100, (uint64_t)run);
    nn_error err;
    gan *g = make_gan(c, seed, &err);
    if (!g) { /* main built one already, so only out of memory gets here */
        fprintf(stderr, PROG ": %s\n", err.msg);
        res.failed = true;
        return res;
    }
    nn_optim *opt_g = nn_adam(&g->g_params, c->lr), *opt_d = nn_adam(&g->d_params, c->lr);
    nn_optim_set_betas(opt_g, c->beta1, 0.999, 1e-8);
    nn_optim_set_betas(opt_d, c->beta1, 0.999, 1e-8);
    if (!strcmp(c->schedule, "cosine")) {
        nn_optim_set_schedule(opt_g, &(nn_lr_schedule){.kind = NN_LR_COSINE,
                                                       .total_steps = c->iters,
                                                       .min_lr = c->lr_min});
        nn_optim_set_schedule(opt_d, &(nn_lr_schedule){.kind = NN_LR_COSINE,
                                                       .total_steps = c->iters * g->cfg.d_steps,
                                                       .min_lr = c->lr_min});
    }
    nn_param_list saved = {0}; /* G, D and both optimizers' states */
    nn_params_extend(&saved, NULL, &g->g_params);
    nn_params_extend(&saved, NULL, &g->d_params);
    nn_optim_state(opt_g, "opt_g", &saved);
    nn_optim_state(opt_d, "opt_d", &saved);
    ag_rng data_rng;
    ag_rng_seed(&data_rng, run_seed(seed, 1, 0));
    ag_tape *t = ag_tape_new(run_seed(seed, 2, 0));
    const int n = c->batch * c->pack; /* points per step, real and generated each */
    ag_real *real = malloc(sizeof(ag_real) * 2 * N_EVAL), *fake = malloc(sizeof(ag_real) * 2 * N_EVAL);
    if (!real || !fake) ag_error(PROG, "out of memory");
    mixture_sample(m, &data_rng, real, N_EVAL); /* for the pictures only */
    const uint64_t eval_seed = run_seed(seed, 3, 0);
    /* d_loss, g_loss, d_real, d_fake, js summed over the logging interval, its iterations
     * and the next picture: what a checkpoint keeps besides tensors.  (Not the seconds:
     * a checkpoint depends on nothing but the settings, so two runs give the same bytes;
     * a resumed run's seconds count this process's training only.) */
    double sum[7] = {0, 0, 0, 0, 0, 0, 1};
    int start = 1;
    char ckpt[4096];
    ckpt_path(ckpt, sizeof ckpt, c, run);
    static nn_ckpt_meta meta; /* 8 KiB of text: off the stack */
    if (c->resume && access(ckpt, F_OK) == 0) {
        char differ[512];
        res.failed = true; /* until the checkpoint proves good */
        if (nn_checkpoint_info(ckpt, &meta, NULL, &err))
            fprintf(stderr, PROG ": %s\n", err.msg);
        else if (run_settings_differ(meta.text, settings, differ, sizeof differ))
            fprintf(stderr, PROG ": %s was made with other flags: %s\n", ckpt, differ);
        else if (nn_checkpoint_load(ckpt, &saved, &meta, &err))
            fprintf(stderr, PROG ": %s\n", err.msg);
        else if (run_text_get(meta.text, "sums", sum, 7) ||
                 run_text_get_rng(meta.text, "tape_rng", ag_tape_rng(t)))
            fprintf(stderr, PROG ": %s lacks the running sums or the PRNG state\n", ckpt);
        else
            res.failed = false;
        data_rng = meta.rng;
        start = (int)meta.step + 1;
    }
    int next_picture = (int)sum[6];
    double t0 = run_seconds();
    gan_stats st = {0};
    for (int it = start; it <= c->iters && !res.failed; it++) {
        for (int k = 0; k < g->cfg.d_steps; k++) {   /* eq. (20): ascend V in D */
            ag_tensor *x = ag_zeros(t, 2, (int[]){n, 2});
            mixture_sample(m, &data_rng, x->data, n);
            ag_tensor *loss = gan_d_loss(g, t, x, &st);
            ag_backward(t, loss);
            double gn = nn_optim_step(opt_d);
            ag_tape_clear(t);
            /* before the gradients are zeroed: a bad one is named */
            if (!run_check_finite(PROG, st.d_loss, gn, &g->d_params, "run %d iteration %d (D)",
                                  run + 1, it)) goto fail;
            nn_optim_zero_grad(opt_d);
        }
        ag_tensor *loss = gan_g_loss(g, t, n, &st);     /* eq. (21): descend in G */
        ag_backward(t, loss);
        double gn = nn_optim_step(opt_g);
        ag_tape_clear(t);
        if (!run_check_finite(PROG, st.g_loss, gn, &g->g_params, "run %d iteration %d (G)",
                              run + 1, it)) goto fail;
        nn_optim_zero_grad(opt_g);
        nn_optim_zero_grad(opt_d); /* G's loss also reached D's parameters */

        double v[5] = {st.d_loss, st.g_loss, st.d_real, st.d_fake, st.js};
        for (int i = 0; i < 5; i++) sum[i] += v[i];
        sum[5]++;
        bool log_now = c->log_every > 0 && (it % c->log_every == 0 || it == c->iters);
        bool pic_now = c->pictures > 0 && run == 0 &&
                       it >= (long)next_picture * c->iters / c->pictures;
        if (log_now || pic_now) {
            generate(g, eval_seed, fake);
            scores s = score(m, fake, N_EVAL);
            double mean[5];
            for (int i = 0; i < 5; i++) mean[i] = sum[i] / sum[5];
            if (log_now && !c->quiet) {
                printf("run %2d/%d  iter %6d/%d  D(real) %.3f D(fake) %.3f  JS~%.4f  "
                       "d_loss %.4f g_loss %.4f  modes %2d hq %5.1f%% rkl %.3f  %.1fs\n",
                       run + 1, c->runs, it, c->iters, mean[2], mean[3], mean[4], mean[0],
                       mean[1], s.modes, s.hq, s.rkl, run_seconds() - t0);
                fflush(stdout);
            }
            if (csv && log_now &&
                nn_csv_row(csv, (double[]){run + 1, it, mean[0], mean[1], mean[2], mean[3],
                                           mean[4], s.modes, s.hq, s.rkl},
                           &err))
                fprintf(stderr, PROG ": %s\n", err.msg);
            if (pic_now) {
                char name[64], title[128];
                snprintf(name, sizeof name, "%s_iter%06d.png", c->dataset, it);
                snprintf(title, sizeof title, "%s pack %d, iter %d: %d modes, %.1f%% hq",
                         c->dataset, c->pack, it, s.modes, s.hq);
                picture(c, real, fake, name, title);
                next_picture++;
            }
            if (log_now) memset(sum, 0, sizeof(double) * 6);
        }
        bool stop = run_step_done();
        if (log_now || it == c->iters || stop) {
            sum[6] = next_picture;
            snprintf(meta.text, sizeof meta.text, "%s", settings);
            run_text_put(meta.text, sizeof meta.text, "sums", sum, 7);
            run_text_put_rng(meta.text, sizeof meta.text, "tape_rng", ag_tape_rng(t));
            meta.step = it, meta.epoch = run, meta.rng = data_rng;
            if (run_save_checkpoint(PROG, ckpt, &saved, &meta)) goto fail;
        }
        if (stop && it < c->iters) {
            res.stopped = true;
            res.iter = it;
            goto fail;
        }
    }
    if (res.failed) goto done;
    res.seconds = run_seconds() - t0;
    generate(g, run_seed(seed, 4, 0), fake); /* the scored sample: z not seen in the pictures */
    res.s = score(m, fake, N_EVAL);
    {
        char name[64], title[128];
        snprintf(name, sizeof name, "%s_run%02d_final.png", c->dataset, run + 1);
        snprintf(title, sizeof title, "%s pack %d run %d: %d/%d modes %.1f%% hq rkl %.3f",
                 c->dataset, c->pack, run + 1, res.s.modes, m->k, res.s.hq, res.s.rkl);
        picture(c, real, fake, name, title);
    }
    goto done;
fail:
    res.failed = true;
done:
    free(real);
    free(fake);
    ag_tape_free(t);
    nn_params_free(&saved);
    nn_optim_free(opt_g);
    nn_optim_free(opt_d);
    gan_free(g);
    return res;
}

/* ---- the program -------------------------------------------------------------------------- */

static void mean_se(const double *v, int n, double *mean, double *se) {
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) s2 += (v[i] - *mean) * (v[i] - *mean);
    *se = n > 1 ? sqrt(s2 / (n - 1) / n) : 0;
}

int main(int argc, char **argv) {
    config c = {.dataset = "ring", .gen_loss = "ns", .prior = "normal",
                .generator = "linear 128, relu, linear 128, relu, linear 128, relu, linear 2",
                .discriminator = "linear 128, leaky_relu 0.2, linear 128, leaky_relu 0.2, linear 1",
                .schedule = "cosine", .out = "out/gan2d", .runs = 1, .pack = 1, .d_steps = 1,
                .iters = 0, .batch = 100, .z = 2, .threads = 1, .log_every = 5000,
                .pictures = 5, .lr = 2e-3, .lr_min = 1e-5, .beta1 = 0.5, .r1 = 0, .r1_step = 1e-3,
                .seed = 1};
    cli_opt opts[] = {
        {"dataset", CLI_CHOICE, &c.dataset, "ring|grid", "8 Gaussians on a circle, or 25 on a grid"},
        {"runs", CLI_INT, &c.runs, "N", "independent runs (seeds) to average"},
        {"pack", CLI_INT, &c.pack, "P", "PacGAN: D judges P points at once (1: vanilla GAN)"},
        {"gen-loss", CLI_CHOICE, &c.gen_loss, "ns|minimax",
         "generator loss: -E ln D(G(z)), or E ln(1-D(G(z))) of eq. (21)"},
        {"d-steps", CLI_INT, &c.d_steps, "K", "discriminator steps per generator step"},
        {"iters", CLI_INT, &c.iters, "N", "generator steps per run (0: ring 20000, grid 50000)"},
        {"batch", CLI_INT, &c.batch, "B", "D decisions per step (B*PACK points)"},
        {"lr", CLI_REAL, &c.lr, "LR", "Adam learning rate of G and D"},
        {"lr-min", CLI_REAL, &c.lr_min, "LR", "final learning rate of the cosine schedule"},
        {"schedule", CLI_CHOICE, &c.schedule, "cosine|constant", "learning-rate schedule"},
        {"beta1", CLI_REAL, &c.beta1, "B", "Adam's first-moment decay"},
        {"r1", CLI_REAL, &c.r1, "GAMMA", "R1 gradient penalty on D at real points (0: off)"},
        {"r1-step", CLI_REAL, &c.r1_step, "H", "finite-difference step of the R1 estimate"},
        {"z", CLI_INT, &c.z, "N", "latent dimensions"},
        {"prior", CLI_CHOICE, &c.prior, "normal|uniform", "z ~ N(0, I) or U(-1, 1)^N"},
        {"generator", CLI_STRING, &c.generator, "SPEC", "generator layers (ends in linear 2)"},
        {"discriminator", CLI_STRING, &c.discriminator, "SPEC",
         "discriminator layers (ends in linear 1)"},
        {"seed", CLI_U64, &c.seed, "S", "seed of run 1 (the others derive from it)"},
        {"threads", CLI_INT, &c.threads, "N", "OpenMP threads (small nets: 1 is fastest)"},
        {"log-every", CLI_INT, &c.log_every, "N", "print a line every N iterations (0: never)"},
        {"pictures", CLI_INT, &c.pictures, "N", "scatter plots during run 1 (0: none)"},
        {"out", CLI_STRING, &c.out, "DIR", "pictures, log.csv and run_NN.ckpt go here"},
        {"resume", CLI_FLAG, &c.resume, NULL,
         "continue a stopped experiment from the checkpoints in --out (give the same flags)"},
        {"quiet", CLI_FLAG, &c.quiet, NULL, "only the table and the result line"},
        {"fp-trap", CLI_FLAG, &c.fp_trap, NULL,
         "debugging: die at the first operation that makes a NaN or an inf"},
        {0}};
    int rc = cli_parse(argc, argv,
                       &(cli_program){PROG, "a GAN on the ring and grid mixtures (mode collapse)",
                                      epilog},
                       opts);
    if (rc) return rc < 0 ? 2 : 0;
    if (c.iters == 0) c.iters = strcmp(c.dataset, "ring") ? 50000 : 20000;
    if (c.runs < 1 || c.pack < 1 || c.d_steps < 1 || c.iters < 1 || c.batch < 1 || c.z < 1 ||
        c.lr <= 0 || c.lr_min < 0 || c.beta1 < 0 || c.beta1 >= 1) {
        fprintf(stderr, PROG ": --runs, --pack, --d-steps, --iters, --batch, --z must be >= 1, "
                        "--lr > 0, --lr-min >= 0, 0 <= --beta1 < 1\n");
        return 2;
    }
    int threads = run_threads(c.threads);
    if (c.fp_trap && run_fp_trap(PROG)) return 2;
    mixture m;
    mixture_init(&m, c.dataset);
    nn_error err;
    gan *probe = make_gan(&c, 0, &err); /* spec errors now, before any output is written */
    if (!probe) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 2;
    }
    if (!c.quiet) {
        printf("henbun %s GAN on the %s (%d modes, std %g): pack %d, %s generator loss, "
               "%d D step%s, %d iterations of %d points, lr %g (%s), %d thread%s\n",
               AG_REAL_NAME, c.dataset, m.k, m.std, c.pack, c.gen_loss, c.d_steps,
               c.d_steps == 1 ? "" : "s", c.iters, c.batch * c.pack, c.lr, c.schedule,
               threads, threads == 1 ? "" : "s");
        nn_describe(probe->generator, "generator", stdout);
        nn_describe(probe->discriminator, "discriminator", stdout);
    }
    gan_free(probe);
    if (run_mkdir(c.out, &err)) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 1;
    }
    char path[4096];
    /* What fixes a run, as "key=value" lines: a checkpoint made with other settings is not
     * resumed. */
    const setting fixed[] = {
        {"dataset", SET_STRING, &c.dataset},       {"gen_loss", SET_STRING, &c.gen_loss},
        {"prior", SET_STRING, &c.prior},           {"generator", SET_STRING, &c.generator},
        {"discriminator", SET_STRING, &c.discriminator},
        {"schedule", SET_STRING, &c.schedule},     {"pack", SET_INT, &c.pack},
        {"d_steps", SET_INT, &c.d_steps},          {"iters", SET_INT, &c.iters},
        {"batch", SET_INT, &c.batch},              {"z", SET_INT, &c.z},
        {"lr", SET_DOUBLE, &c.lr},                 {"lr_min", SET_DOUBLE, &c.lr_min},
        {"beta1", SET_DOUBLE, &c.beta1},           {"r1", SET_DOUBLE, &c.r1},
        {"r1_step", SET_DOUBLE, &c.r1_step},       {"seed", SET_U64, &c.seed},
        {"log_every", SET_INT, &c.log_every},
        {0}};
    static char settings[8192];
    settings_write(settings, sizeof settings, PROG, fixed);
    static const char *cols[] = {"run", "iter", "d_loss", "g_loss", "d_real", "d_fake", "js",
                                 "modes", "hq", "rkl"};
    run_path(path, sizeof path, c.out, "log.csv");
    if (!c.resume) { /* a new experiment: a new log, and no checkpoint of an old one */
        remove(path);
        for (int r = 0; r < c.runs; r++) remove(ckpt_path(path, sizeof path, &c, r));
        run_path(path, sizeof path, c.out, "log.csv");
    } else {
        /* The log keeps the rows up to the first run its checkpoint does not show finished
         * (rows written after that checkpoint are written again). */
        double limit[2] = {c.runs, c.iters};
        static nn_ckpt_meta meta;
        for (int r = 0; r < c.runs; r++) {
            char ck[4096];
            if (nn_checkpoint_info(ckpt_path(ck, sizeof ck, &c, r), &meta, NULL, NULL)) {
                limit[0] = r + 1, limit[1] = 0;
                break;
            }
            char why[512];
            if (run_settings_differ(meta.text, settings, why, sizeof why)) { /* touch nothing */
                fprintf(stderr, PROG ": %s was made with other flags: %s\n", ck, why);
                return 1;
            }
            if (meta.step < c.iters) {
                limit[0] = r + 1, limit[1] = (double)meta.step;
                break;
            }
        }
        if (run_log_rewind(path, 0, 2, limit, &err)) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            return 1;
        }
    }
    nn_csv *csv = nn_csv_open(path, 10, cols, &err);
    if (!csv) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 1;
    }
    run_catch_signals();
    run_result *res = calloc((size_t)c.runs, sizeof *res);
    double seconds = 0;
    int done = 0, code = 0;
    for (int r = 0; r < c.runs; r++) {
        res[r] = train_run(&c, &m, r, csv, settings);
        if (res[r].stopped) {
            fprintf(stderr, PROG ": %s: stopped at run %d iteration %ld; checkpoint %s\n",
                    run_stop_signal(), r + 1, res[r].iter, ckpt_path(path, sizeof path, &c, r));
            run_print_resume(argc, argv, NULL);
            code = run_stop_status();
        }
        if (res[r].failed) {
            if (!code) code = 1;
            break;
        }
        seconds += res[r].seconds;
        done++;
        if (!c.quiet) {
            printf("run %d/%d: %d/%d modes, %.1f%% high-quality, reverse KL %.3f, %.1f s\n",
                   r + 1, c.runs, res[r].s.modes, m.k, res[r].s.hq, res[r].s.rkl,
                   res[r].seconds);
            fflush(stdout);
        }
        if (run_stop_requested() && r + 1 < c.runs) { /* between runs: nothing lost */
            fprintf(stderr, PROG ": %s: stopped after run %d\n", run_stop_signal(), r + 1);
            run_print_resume(argc, argv, NULL);
            code = run_stop_status();
            break;
        }
    }
    nn_csv_close(csv, NULL);
    if (done > 0) {
        double *v[3], mean[3], se[3];
        for (int k = 0; k < 3; k++) v[k] = malloc(sizeof(double) * (size_t)done);
        printf("\n%-30s %8s %8s %8s %9s\n", "run", "modes", "hq %", "rkl", "seconds");
        for (int r = 0; r < done; r++) {
            v[0][r] = res[r].s.modes, v[1][r] = res[r].s.hq, v[2][r] = res[r].s.rkl;
            printf("%-30d %5d/%-2d %8.1f %8.3f %9.1f\n", r + 1, res[r].s.modes, m.k,
                   res[r].s.hq, res[r].s.rkl, res[r].seconds);
        }
        for (int k = 0; k < 3; k++) mean_se(v[k], done, &mean[k], &se[k]), free(v[k]);
        char label[64];
        snprintf(label, sizeof label, "%s (pack %d): mean", c.pack == 1 ? "GAN" : "PacGAN",
                 c.pack);
        printf("%-30s %8.2f %8.1f %8.3f %9.1f\n", label, mean[0], mean[1], mean[2],
               seconds / done);
        printf("%-30s %8.2f %8.1f %8.3f\n", "  standard error", se[0], se[1], se[2]);
        const bool ring = m.k == 8; /* Lin et al. 2018, table 1 */
        printf("%-30s %8s %8s %8s\n", "published GAN", ring ? "6.3" : "17.3",
               ring ? "98.2" : "94.8", "-");
        printf("%-30s %8s %8s %8s\n", "published PacGAN4", ring ? "7.8" : "24.8",
               ring ? "95.9" : "93.6", ring ? "0.07" : "0.04");
        printf("pictures and log.csv in %s/\n", c.out);
        printf("result: dataset=%s runs=%d modes=%.2f modes_se=%.2f hq=%.1f hq_se=%.1f rkl=%.3f "
               "rkl_se=%.3f pack=%d gen_loss=%s d_steps=%d iters=%d batch=%d seconds=%.1f "
               "sec_per_run=%.1f\n",
               c.dataset, done, mean[0], se[0], mean[1], se[1], mean[2], se[2], c.pack,
               c.gen_loss, c.d_steps, c.iters, c.batch, seconds, seconds / done);
    }
    free(res);
    return code;
}
