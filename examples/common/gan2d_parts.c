/* gan2d_parts.c — the parts of examples/gan2d.c around its model and its step (see
 * gan2d_parts.h): flags, help, the mixtures and their scores, pictures, log.csv, the table. */
#include "examples/common/gan2d_parts.h"
#include "examples/common/run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROG "gan2d"

const char *const gan2d_help_epilog =
    "Architecture (defaults; override with spec text, see docs/spec.md):\n"
    "  generator      linear 128, relu, linear 128, relu, linear 128, relu, linear 2\n"
    "  discriminator  linear 128, leaky_relu 0.2, linear 128, leaky_relu 0.2, linear 1\n"
    "                 (its input is 2*PACK values: PACK points side by side)\n"
    "--batch counts D's decisions: each step sees BATCH*PACK real and as many generated points,\n"
    "as in PacGAN.  Real points are drawn fresh every step.\n"
    "\nexamples:\n"
    "  build/gan2d --dataset ring                    vanilla GAN, one run, pictures in out/gan2d\n"
    "  build/gan2d --dataset grid --pack 2 --runs 10 PacGAN2, ten seeds, mean and standard error\n"
    "\n--drs: after training, D also filters G's points (Azadi et al. 2019): a point x is\n"
    "kept with probability exp(l(x) - M), l = D's logit, M its largest value, which turns\n"
    "p_g into p_d when D is optimal (seed 004 eq. (4), (13): p_d/p_g = exp(l)).  Both rows\n"
    "are printed, without and with DRS, from the same runs, with the share of points kept;\n"
    "--drs-gamma G < 0 keeps more (odds of keeping times exp(-G)) but corrects less.\n"
    "Training is the same with or without it.\n"
    "\nEach run saves run_NN.ckpt in --out at every logged iteration; Ctrl-C (or SIGTERM)\n"
    "ends the current iteration, saves it and prints the command that resumes the experiment\n"
    "exactly (the same flags and --resume).\n"
    "\nThe last line printed is 'result: key=value ...' with the means over the runs.";

cli_opt *gan2d_options(gan2d_flags *c, run_flags *r) {
    static cli_opt opts[40];
    cli_opt table[] = {
        {"dataset", CLI_CHOICE, &c->dataset, "ring|grid", "8 Gaussians on a circle, or 25 on a grid"},
        {"runs", CLI_INT, &c->runs, "N", "independent runs (seeds) to average"},
        {"pack", CLI_INT, &c->pack, "P", "PacGAN: D judges P points at once (1: vanilla GAN)"},
        {"gen-loss", CLI_CHOICE, &c->gen_loss, "ns|minimax",
         "generator loss: -E ln D(G(z)), or E ln(1-D(G(z))) of eq. (21)"},
        {"d-steps", CLI_INT, &c->d_steps, "K", "discriminator steps per generator step"},
        {"iters", CLI_INT, &c->iters, "N", "generator steps per run (0: ring 20000, grid 50000)"},
        {"batch", CLI_INT, &r->batch, "B", "D decisions per step (B*PACK points)"},
        {"lr", CLI_REAL, &c->lr, "LR", "Adam learning rate of G and D"},
        {"lr-min", CLI_REAL, &c->lr_min, "LR", "final learning rate of the cosine schedule"},
        {"schedule", CLI_CHOICE, &c->schedule, "cosine|constant", "learning-rate schedule"},
        {"beta1", CLI_REAL, &c->beta1, "B", "Adam's first-moment decay"},
        {"r1", CLI_REAL, &c->r1, "GAMMA", "R1 gradient penalty on D at real points (0: off)"},
        {"r1-step", CLI_REAL, &c->r1_step, "H", "finite-difference step of the R1 estimate"},
        {"ema", CLI_REAL, &c->ema, "DECAY",
         "score and draw a moving average of G's weights, decay DECAY per G step, e.g. 0.999 "
         "(0: off); G's own weights are scored too", CLI_IN_CO(0, 1)},
        {"ema-warmup", CLI_FLAG, &c->ema_warmup, NULL,
         "with --ema: decay min(DECAY, (1+t)/(10+t)) at G step t (forgets G's initial weights)"},
        {"drs", CLI_FLAG, &c->drs, NULL,
         "also score points drawn by discriminator rejection sampling (see below)"},
        {"drs-gamma", CLI_REAL, &c->drs_gamma, "G",
         "DRS: shift of the log-odds of keeping a point (0: exact; < 0 keeps more)",
         CLI_IN(-50, 50)},
        {"z", CLI_INT, &c->z, "N", "latent dimensions"},
        {"prior", CLI_CHOICE, &c->prior, "normal|uniform", "z ~ N(0, I) or U(-1, 1)^N"},
        {"generator", CLI_STRING, &c->generator, "SPEC", "generator layers (ends in linear 2)"},
        {"discriminator", CLI_STRING, &c->discriminator, "SPEC",
         "discriminator layers (ends in linear 1)"},
        {"seed", CLI_U64, &r->seed, "S", "seed of run 1 (the others derive from it)"},
        {"threads", CLI_INT, &r->threads, "N", "OpenMP threads (small nets: 1 is fastest)"},
        {"log-every", CLI_INT, &c->log_every, "N", "print a line every N iterations (0: never)"},
        {"pictures", CLI_INT, &c->pictures, "N", "scatter plots during run 1 (0: none)"},
        {"out", CLI_STRING, &r->out, "DIR", "pictures, log.csv and run_NN.ckpt go here"},
        {"resume", CLI_FLAG, &c->resume, NULL,
         "continue a stopped experiment from the checkpoints in --out (give the same flags)"},
        {"quiet", CLI_FLAG, &r->quiet, NULL, "only the table and the result line"},
        {"fp-trap", CLI_FLAG, &r->fp_trap, NULL,
         "debugging: die at the first operation that makes a NaN or an inf"},
        {0}};
    memcpy(opts, table, sizeof table);
    return opts;
}

/* What fixes a run: a checkpoint made with other settings is not resumed. */
const setting *gan2d_settings(gan2d_flags *c, run_flags *r) {
    static setting s[24];
    const setting table[] = {
        {"dataset", SET_STRING, &c->dataset},       {"gen_loss", SET_STRING, &c->gen_loss},
        {"prior", SET_STRING, &c->prior},           {"generator", SET_STRING, &c->generator},
        {"discriminator", SET_STRING, &c->discriminator},
        {"schedule", SET_STRING, &c->schedule},     {"pack", SET_INT, &c->pack},
        {"d_steps", SET_INT, &c->d_steps},          {"iters", SET_INT, &c->iters},
        {"batch", SET_INT, &r->batch},              {"z", SET_INT, &c->z},
        {"lr", SET_DOUBLE, &c->lr},                 {"lr_min", SET_DOUBLE, &c->lr_min},
        {"beta1", SET_DOUBLE, &c->beta1},           {"r1", SET_DOUBLE, &c->r1},
        {"r1_step", SET_DOUBLE, &c->r1_step},       {"seed", SET_U64, &r->seed},
        {"log_every", SET_INT, &c->log_every},
        {0}};
    memcpy(s, table, sizeof table);
    return s;
}

const gan_optional *gan2d_optionals(gan2d_flags *c) {
    static gan_optional table[3];
    memcpy(table, (gan_optional[]){{"ema", {"ema", SET_DOUBLE, &c->ema}},
                                   {"ema-warmup", {"ema_warmup", SET_BOOL, &c->ema_warmup}},
                                   {NULL, {0}}},
           sizeof table);
    return table;
}

/* ---- the mixtures ------------------------------------------------------------------------- */

void mixture_init(mixture *m, const char *name) {
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
void mixture_sample(const mixture *m, ag_rng *r, ag_real *xy, int n) {
    for (int i = 0; i < n; i++) {
        int c = (int)ag_rng_below(r, (uint32_t)m->k);
        xy[2 * i] = (ag_real)(m->mean[c][0] + m->std * ag_rng_normal(r));
        xy[2 * i + 1] = (ag_real)(m->mean[c][1] + m->std * ag_rng_normal(r));
    }
}

/* ---- the scores --------------------------------------------------------------------------- */

gan2d_scores gan2d_score(const mixture *m, const ag_real *xy, int n) {
    int count[GAN2D_MAX_MODES] = {0}, good = 0;
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
    gan2d_scores s = {0, 100.0 * good / n, 0};
    for (int c = 0; c < m->k; c++) {
        if (!count[c]) continue;
        s.modes++;
        double q = (double)count[c] / good;
        s.rkl += q * log(q * m->k);          /* Σ q ln(q / (1/K)) */
    }
    if (!good) s.rkl = log(m->k);            /* nothing to histogram: as far as it gets */
    return s;
}

/* ---- pictures, log, table --------------------------------------------------------------- */

void gan2d_generate(gan *g, uint64_t seed, ag_real *xy) {
    ag_tape *t = ag_tape_new(seed);
    ag_set_grad_enabled(t, false);
    gan_set_training(g, false);
    ag_tensor *x = gan_generate(g, t, gan_sample_z(g, t, GAN2D_N_EVAL));
    memcpy(xy, x->data, sizeof(ag_real) * 2 * GAN2D_N_EVAL);
    gan_set_training(g, true);
    ag_tape_free(t);
}

void gan2d_picture(const run_flags *c, const ag_real *real, const ag_real *fake, int n,
                   const char *name, const char *title) {
    char path[4096];
    nn_error err;
    nn_points sets[2] = {{"real", real, GAN2D_N_EVAL, NULL}, {"generated", fake, n, NULL}};
    if (nn_plot_scatter_png(run_path(path, sizeof path, c->out, name), sets, 2,
                            &(nn_plot_opts){.title = title, .xlabel = "x1", .ylabel = "x2",
                                            .width = 640, .height = 640},
                            &err))
        fprintf(stderr, PROG ": %s\n", err.msg);
}

void gan2d_snapshot(gan *g, const gan2d_flags *c, const run_flags *r, const mixture *m,
                    uint64_t seed, long iter, const ag_real *real, ag_real *fake) {
    gan2d_generate(g, seed, fake);
    gan2d_scores s = gan2d_score(m, fake, GAN2D_N_EVAL);
    char name[64], title[128];
    snprintf(name, sizeof name, "%s_iter%06ld.png", c->dataset, iter);
    snprintf(title, sizeof title, "%s pack %d, iter %ld: %d modes, %.1f%% hq", c->dataset,
             c->pack, iter, s.modes, s.hq);
    gan2d_picture(r, real, fake, GAN2D_N_EVAL, name, title);
}

/* GAN2D_N_EVAL points (or fewer) through DRS into xy, z and the uniforms from seed; G in
 * evaluation mode as gan2d_generate has it (gan_generate_drs's running_bn). */
static void generate_drs(gan *g, uint64_t seed, double gamma, gan2d_drs_stats *st, ag_real *xy) {
    double t0 = run_seconds();
    clock_t c0 = clock();
    gan_drs d = {.gamma = gamma};
    st->n = gan_generate_drs(g, GAN2D_N_EVAL, 500 * g->cfg.pack, seed, true, &d, xy);
    st->accept = d.tried ? (double)d.kept / d.tried : 0;
    st->seconds = run_seconds() - t0, st->cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
}

gan2d_scores gan2d_final(gan *g, const gan2d_flags *c, const run_flags *r, const mixture *m,
                         uint64_t seed, int run, const ag_real *real, ag_real *fake,
                         gan2d_drs_stats *drs) {
    int n = GAN2D_N_EVAL;
    if (drs) generate_drs(g, seed, c->drs_gamma, drs, fake), n = drs->n;
    else gan2d_generate(g, seed, fake);
    gan2d_scores s = n > 0 ? gan2d_score(m, fake, n) : (gan2d_scores){0, 0, log(m->k)};
    char name[64], title[128];
    snprintf(name, sizeof name, "%s_run%02d_final%s.png", c->dataset, run + 1, drs ? "_drs" : "");
    snprintf(title, sizeof title, "%s pack %d run %d%s: %d/%d modes %.1f%% hq rkl %.3f",
             c->dataset, c->pack, run + 1, drs ? " DRS" : "", s.modes, m->k, s.hq, s.rkl);
    gan2d_picture(r, real, fake, n, name, title);
    return s;
}

nn_csv *gan2d_open_log(const gan2d_flags *c, const harness *h) {
    static const char *cols[] = {"run", "iter", "d_loss", "g_loss", "d_real", "d_fake", "js",
                                 "modes", "hq", "rkl"};
    char path[4096];
    nn_error err;
    harness_path(h, path, sizeof path, "log.csv");
    if (!c->resume) { /* a new experiment: a new log, and no checkpoint of an old one */
        remove(path);
        for (int r = 0; r < c->runs; r++) {
            char name[32], ck[4096];
            snprintf(name, sizeof name, "run_%02d.ckpt", r + 1);
            remove(harness_path(h, ck, sizeof ck, name));
        }
    } else {
        /* The log keeps the rows up to the first run its checkpoint does not show finished
         * (rows written after that checkpoint are written again). */
        double limit[2] = {c->runs, c->iters};
        static nn_ckpt_meta meta;
        char want[NN_CKPT_TEXT_MAX];
        settings_write(want, sizeof want, PROG, h->remembered);
        gan_optional_text(gan2d_optionals((gan2d_flags *)c), want, sizeof want);
        for (int r = 0; r < c->runs; r++) {
            char name[32], ck[4096], why[512];
            snprintf(name, sizeof name, "run_%02d.ckpt", r + 1);
            if (nn_checkpoint_info(harness_path(h, ck, sizeof ck, name), &meta, NULL, NULL)) {
                limit[0] = r + 1, limit[1] = 0;
                break;
            }
            if (run_settings_differ(meta.text, want, why, sizeof why) || /* touch nothing */
                gan_optional_differ(gan2d_optionals((gan2d_flags *)c), meta.text, why, sizeof why)) {
                fprintf(stderr, PROG ": %s was made with other flags: %s\n", ck, why);
                return NULL;
            }
            if (meta.step < c->iters) {
                limit[0] = r + 1, limit[1] = (double)meta.step;
                break;
            }
        }
        if (run_log_rewind(path, 0, 2, limit, &err)) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            return NULL;
        }
    }
    nn_csv *csv = nn_csv_open(path, 10, cols, &err);
    if (!csv) fprintf(stderr, PROG ": %s\n", err.msg);
    return csv;
}

void gan2d_describe(const gan2d_flags *c, const mixture *m, int batch, int threads, gan *g) {
    printf("henbun %s GAN on the %s (%d modes, std %g): pack %d, %s generator loss, "
           "%d D step%s, %d iterations of %d points, lr %g (%s), %d thread%s\n",
           AG_REAL_NAME, c->dataset, m->k, m->std, c->pack, c->gen_loss, c->d_steps,
           c->d_steps == 1 ? "" : "s", c->iters, batch * c->pack, c->lr, c->schedule,
           threads, threads == 1 ? "" : "s");
    nn_describe(g->generator, "generator", stdout);
    nn_describe(g->discriminator, "discriminator", stdout);
}

static void mean_se(const double *v, int n, double *mean, double *se) {
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) s2 += (v[i] - *mean) * (v[i] - *mean);
    *se = n > 1 ? sqrt(s2 / (n - 1) / n) : 0;
}

void gan2d_report(const gan2d_flags *c, const run_flags *rf, const mixture *m,
                  const gan2d_scores *s, const double *secs, int done,
                  const gan2d_scores *drs, const gan2d_drs_stats *ds) {
    double seconds = 0;
    for (int r = 0; r < done; r++) seconds += secs[r];
    if (done > 0) {
        double *v[3], mean[3], se[3];
        for (int k = 0; k < 3; k++) v[k] = malloc(sizeof(double) * (size_t)done);
        printf("\n%-30s %8s %8s %8s %9s\n", "run", "modes", "hq %", "rkl", "seconds");
        for (int r = 0; r < done; r++) {
            v[0][r] = s[r].modes, v[1][r] = s[r].hq, v[2][r] = s[r].rkl;
            printf("%-30d %5d/%-2d %8.1f %8.3f %9.1f\n", r + 1, s[r].modes, m->k,
                   s[r].hq, s[r].rkl, secs[r]);
        }
        for (int k = 0; k < 3; k++) mean_se(v[k], done, &mean[k], &se[k]), free(v[k]);
        char label[64];
        snprintf(label, sizeof label, "%s (pack %d): mean", c->pack == 1 ? "GAN" : "PacGAN",
                 c->pack);
        printf("%-30s %8.2f %8.1f %8.3f %9.1f\n", label, mean[0], mean[1], mean[2],
               seconds / done);
        printf("%-30s %8.2f %8.1f %8.3f\n", "  standard error", se[0], se[1], se[2]);
        double dmean[5], dse[5], dcpu = 0; /* --drs: modes, hq, rkl, acceptance, seconds */
        if (drs) {
            double *w = malloc(sizeof(double) * 5 * (size_t)done);
            if (!w) exit(1);
            for (int r = 0; r < done; r++) {
                w[r] = drs[r].modes, w[done + r] = drs[r].hq, w[2 * done + r] = drs[r].rkl;
                w[3 * done + r] = ds[r].accept, w[4 * done + r] = ds[r].seconds, dcpu += ds[r].cpu;
            }
            for (int k = 0; k < 5; k++) mean_se(w + (size_t)k * done, done, &dmean[k], &dse[k]);
            free(w);
            printf("%-30s %8.2f %8.1f %8.3f %9.2f  (DRS alone; %.1f%% of points kept)\n",
                   "with DRS: mean", dmean[0], dmean[1], dmean[2], dmean[4], 100 * dmean[3]);
            printf("%-30s %8.2f %8.1f %8.3f\n", "  standard error", dse[0], dse[1], dse[2]);
        }
        const bool ring = m->k == 8; /* Lin et al. 2018, table 1 */
        printf("%-30s %8s %8s %8s\n", "published GAN", ring ? "6.3" : "17.3",
               ring ? "98.2" : "94.8", "-");
        printf("%-30s %8s %8s %8s\n", "published PacGAN4", ring ? "7.8" : "24.8",
               ring ? "95.9" : "93.6", ring ? "0.07" : "0.04");
        printf("pictures and log.csv in %s/\n", rf->out);
        printf("result: dataset=%s runs=%d modes=%.2f modes_se=%.2f hq=%.1f hq_se=%.1f rkl=%.3f "
               "rkl_se=%.3f pack=%d gen_loss=%s d_steps=%d iters=%d batch=%d seconds=%.1f "
               "sec_per_run=%.1f",
               c->dataset, done, mean[0], se[0], mean[1], se[1], mean[2], se[2], c->pack,
               c->gen_loss, c->d_steps, c->iters, rf->batch, seconds, seconds / done);
        if (drs) /* the runs' DRS points, on the same line */
            printf(" drs_modes=%.2f drs_modes_se=%.2f drs_hq=%.1f drs_hq_se=%.1f drs_rkl=%.3f "
                   "drs_rkl_se=%.3f drs_accept=%.4f drs_accept_se=%.4f drs_gamma=%g "
                   "drs_seconds=%.2f drs_cpu_seconds=%.2f", dmean[0], dse[0], dmean[1], dse[1],
                   dmean[2], dse[2], dmean[3], dse[3], c->drs_gamma, dmean[4] * done, dcpu);
        printf("\n");
    }
}
