/* boltzmann_parts.c — the parts of examples/boltzmann.c around its model and its step (see
 * boltzmann_parts.h): flags, help, the energies' defaults, the pictures, and the
 * measurements after training (importance weights, masses, the MCMC baseline, the result). */
#include "examples/common/boltzmann_parts.h"
#include "examples/common/run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "boltzmann"

/* many-well's defaults with --structure copies (the README's row) */

const char *const boltzmann_help_epilog =
    "energies (exact references computed by the program):\n"
    "  gmm          3-component 2-D Gaussian mixture, log Z = 0; mode masses = mixture weights\n"
    "  double-well  U = x1^4 - 6 x1^2 + x1 + x2^2/2: log Z = 11.020467, P(x1 > 0) = 0.0329\n"
    "  many-well    16 copies of U = x^4 - 6 x^2 - 0.5 x + y^2/2 (32-D): log Z = 164.6957,\n"
    "               P(x > 0) = 0.844 per copy\n"
    "  ising        L x L periodic Ising model at --beta, Bernoulli decoder, REINFORCE with a\n"
    "               leave-one-out baseline (VIMCO for K > 1); log Z from Kaufman's formula\n"
    "\nnetworks: encoder x -> (H, ACT) x LAYERS -> 2*LATENT, decoder z -> (H, ACT) x LAYERS ->\n"
    "2*dim (mean, logvar) or dim logits.  --structure copies (C copies of b values): one\n"
    "encoder (x_k, one-hot k) -> 2*LATENT/C and one decoder (z_k, one-hot k) -> 2*b, shared\n"
    "by the copies (--copy-bound: with K > 1, the bound log mean_K w per copy).  Flags left\n"
    "at 0 (-1 for --anneal) take the energy's defaults, the settings of the README's table:\n"
    "  gmm, double-well  latent 2, hidden 64, 6000 steps, anneal 3000 from 0.1, K 16, lr 1e-3\n"
    "  many-well        --structure copies: latent 2 per copy, hidden 64, 6000 steps of 256,\n"
    "                   anneal 3000 from 0.2, K 1 (seed 003 eq. (1.7)), lr 2e-3\n"
    "  many-well --structure joint  latent 32, hidden 128, 26000 steps, anneal 20000 from 0.2,\n"
    "                   K 16, lr 2e-3\n"
    "  ising            latent 32, hidden 256, 10000 steps, no annealing, K 8 (VIMCO), lr 3e-4\n"
    "\nexamples:\n"
    "  build/boltzmann --energy double-well\n"
    "  build/boltzmann --energy gmm --samples 1 --anneal 0      the seed's plain objective\n"
    "  build/boltzmann --energy ising --L 8 --beta 0.6\n"
    "  build/boltzmann --energy ising --beta 0.6 --load out/boltzmann/sampler.ckpt --latent-draws 32\n"
    "\nfiles in --out: log.csv (per logged step), curves.png (training), sampler.ckpt (saved\n"
    "every 10 logged steps and when Ctrl-C stops a run: for --load and --resume),\n"
    "density_*.png (2-D: exact, VAE samples, reweighted, as log densities),\n"
    "marginal.png and mode_masses.png (many-well: x1; P(x_k > 0) of every copy),\n"
    "magnetisation.png (ising).  Ctrl-C (or SIGTERM) ends the\n"
    "current step, saves sampler.ckpt and prints the command that resumes the run exactly.\n"
    "The last line printed is 'result: key=value ...'.";

cli_opt *boltzmann_options(bz_flags *c, run_flags *r) {
    static cli_opt opts[48];
    cli_opt table[] = {
        {"energy", CLI_CHOICE, &c->energy, "gmm|double-well|many-well|ising", "target energy"},
        {"L", CLI_INT, &c->L, "L", "ising: lattice side (L x L, periodic)"},
        {"beta", CLI_REAL, &c->beta, "B", "ising: inverse temperature (critical: 0.4407)"},
        {"iters", CLI_INT, &c->iters, "N", "training steps (0: energy default)"},
        {"batch", CLI_INT, &c->batch, "N", "draws per step (0: 256)"},
        {"lr", CLI_REAL, &c->lr, "LR", "Adam learning rate, cosine-decayed to 1/20 (0: default)"},
        {"samples", CLI_INT, &c->samples, "K",
         "draws per importance-weighted bound log mean_K w (1: seed 003 eq. (1.7); 0: default)"},
        {"anneal", CLI_INT, &c->anneal, "STEPS",
         "inverse temperature rises geometrically to 1 over this many steps (0: none, "
         "-1: energy default)"},
        {"anneal-from", CLI_REAL, &c->anneal_from, "B0",
         "inverse temperature at step 0 (0: energy default)"},
        {"latent", CLI_INT, &c->latent, "N", "latent dimensions (0: default)"},
        {"hidden", CLI_INT, &c->hidden, "H", "units per hidden layer (0: default)"},
        {"layers", CLI_INT, &c->layers, "N", "hidden layers in encoder and decoder"},
        {"structure", CLI_CHOICE, &c->structure, "auto|joint|copies",
         "copies: one network pair shared by the energy's independent copies, fed (copy, "
         "one-hot code), so log Q and log w are sums over copies (many-well; auto: copies "
         "for many-well, else joint)"},
        {"copy-bound", CLI_FLAG, &c->copy_bound, NULL,
         "with --structure copies and K > 1: the bound log mean_K w per copy, not per draw"},
        {"act", CLI_CHOICE, &c->act, "tanh|relu|elu|softplus", "hidden activation"},
        {"encoder", CLI_STRING, &c->encoder, "SPEC",
         "encoder spec text instead of --hidden/--layers/--act (must end in 2*LATENT)"},
        {"decoder", CLI_STRING, &c->decoder, "SPEC",
         "decoder spec text (must end in 2*dim, or dim for ising)"},
        {"score-gradient", CLI_FLAG, &c->score_gradient,  NULL,
         "keep the score term of log Q in the decoder's gradient (continuous x)"},
        {"clip", CLI_REAL, &c->clip, "C", "clip the gradient norm (0: off)"},
        {"eval-n", CLI_INT, &c->eval_n, "N", "draws for the final estimates (0: default)"},
        {"latent-draws", CLI_INT, &c->latent_draws, "M",
         "final weights average M extra z ~ P(z|x) per draw (0: the joint weights only)"},
        {"mcmc", CLI_CHOICE, &c->mcmc, "mala|metropolis|none",
         "baseline sampler (ising: single-spin-flip Metropolis either way)"},
        {"mcmc-chains", CLI_INT, &c->mcmc_chains, "N", "parallel chains of the baseline"},
        {"mcmc-steps", CLI_INT, &c->mcmc_steps, "N",
         "recorded steps (ising: sweeps) per chain after burn-in (0: 2000)"},
        {"log-every", CLI_INT, &c->log_every, "N", "steps between log lines and log.csv rows"},
        {"seed", CLI_U64, &c->seed, "S", "seed of every random choice"},
        {"threads", CLI_INT, &r->threads, "N", "OpenMP threads (0: all cores)"},
        {"out", CLI_STRING, &r->out, "DIR", "pictures, log.csv and sampler.ckpt go here"},
        {"load", CLI_STRING, &r->eval, "CKPT",
         "skip training: evaluate a saved sampler (same --energy and network flags)"},
        {"resume", CLI_STRING, &r->resume, "CKPT",
         "continue a stopped training from its checkpoint (give the same flags)"},
        {"quiet", CLI_FLAG, &r->quiet, NULL, "no per-step log lines"},
        {"fp-trap", CLI_FLAG, &r->fp_trap, NULL,
         "debugging: die at the first operation that makes a NaN or an inf"},
        {0}};
    memcpy(opts, table, sizeof table);
    return opts;
}

/* Energy-specific defaults for the flags left at 0. */
/* These are the settings the README's table was measured with. */
void boltzmann_defaults(bz_flags *c, const bz_energy *e) {
    if (!strcmp(c->structure, "auto")) c->structure = e->copies > 1 ? "copies" : "joint";
    if (!strcmp(c->structure, "copies")) {
        /* A 2-D sampler per copy, as for the double well, trained on every copy at once.
         * Annealing finds the minor wells (without it every copy falls into its major
         * one); the plain eq. (1.7), K = 1, then gives a tighter sampler than a K-draw
         * bound (the measurements: notes/manywell.md). */
        if (!c->latent) c->latent = 2 * e->copies;
        if (!c->hidden) c->hidden = 64;
        if (!c->iters) c->iters = 6000;
        if (!c->batch) c->batch = 256;
        if (!c->samples) c->samples = 1;
        if (c->anneal < 0) c->anneal = 3000;
        if (c->anneal_from <= 0) c->anneal_from = 0.2;
        if (c->lr <= 0) c->lr = 2e-3;
    }
    bool two_d = e->dim == 2, wells = e->copies > 0;
    if (!c->latent) c->latent = two_d ? 2 : e->binary ? 32 : e->dim;
    if (!c->hidden) c->hidden = two_d ? 64 : wells ? 128 : 256;
    if (!c->iters) c->iters = two_d ? 6000 : e->binary ? 10000 : 26000;
    if (!c->batch) c->batch = 256;
    if (!c->samples) c->samples = e->binary ? 8 : 16;
    if (c->anneal < 0) c->anneal = two_d ? 3000 : wells ? 20000 : 0;
    if (c->anneal_from <= 0) c->anneal_from = wells ? 0.2 : 0.1;
    if (c->lr <= 0) c->lr = e->binary ? 3e-4 : wells ? 2e-3 : 1e-3;
    if (!c->eval_n) c->eval_n = two_d ? 200000 : 100000;
    if (!c->mcmc_steps) c->mcmc_steps = 2000;
}

const char *boltzmann_net_text(const bz_flags *c, int out, char *buf, size_t n) {
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < c->layers && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "linear %d, %s, ", c->hidden, c->act);
    if (len < n) snprintf(buf + len, n - len, "linear %d", out);
    return buf;
}

int boltzmann_check(bz_flags *c, bz_energy *e, char *enc, char *dec, char *why, size_t n) {
    if (!strcmp(c->energy, "ising") && (c->L < 2 || c->L > 64 || !(c->beta > 0))) {
        snprintf(why, n, "--L must be in [2, 64] and --beta > 0");
        return -1;
    }
    *e = !strcmp(c->energy, "gmm")         ? bz_gmm()
         : !strcmp(c->energy, "many-well") ? bz_many_well(16)
         : !strcmp(c->energy, "ising")     ? bz_ising(c->L, c->L, c->beta)
                                           : bz_double_well();
    if (!strcmp(c->structure, "copies") && e->copies < 1) {
        snprintf(why, n, "--structure copies needs an energy made of independent copies "
                         "(many-well), not %s", c->energy);
        return -1;
    }
    boltzmann_defaults(c, e);
    bool copies = !strcmp(c->structure, "copies");
    if (c->copy_bound && !copies) {
        snprintf(why, n, "--copy-bound goes with --structure copies (a joint sampler has no "
                         "copies to bound apart)");
        return -1;
    }
    if (copies && (c->latent < 1 || c->latent % e->copies)) {
        snprintf(why, n, "--latent (%d) must be a multiple of the %d copies with --structure "
                         "copies (LATENT/%d per copy)", c->latent, e->copies, e->copies);
        return -1;
    }
    if (!e->binary) c->L = 0, c->beta = 0; /* only the Ising energy has them */
    if (c->samples < 1 || c->batch % c->samples) {
        snprintf(why, n, "--batch (%d) must be a multiple of --samples (%d >= 1)", c->batch,
                 c->samples);
        return -1;
    }
    if (c->iters < 0 || c->batch < 2 || c->latent < 1 || c->hidden < 1 || c->layers < 0 ||
        c->eval_n < 1 || c->latent_draws < 0 || c->anneal < 0 || !(c->anneal_from > 0) ||
        c->mcmc_chains < 1 || c->mcmc_steps < 1 || c->log_every < 1) {
        snprintf(why, n, "bad settings: --iters >= 0, --batch >= 2, --latent, --hidden, "
                         "--eval-n, --mcmc-chains, --mcmc-steps, --log-every >= 1, "
                         "--anneal >= 0, --anneal-from > 0");
        return -1;
    }
    int C = copies ? e->copies : 1; /* copies: the networks of one copy */
    if (!c->encoder) c->encoder = boltzmann_net_text(c, 2 * c->latent / C, enc, 1024);
    if (!c->decoder)
        c->decoder = boltzmann_net_text(c, e->binary ? e->dim : 2 * e->dim / C, dec, 1024);
    return 0;
}

void boltzmann_strip_joint(const bz_flags *c, char *text) {
    if (strcmp(c->structure, "joint")) return;
    for (const char *const *line = (const char *const[]){"structure=joint\n", "copy_bound=0\n",
                                                         NULL}; *line; line++) {
        char *at = strstr(text, *line);
        if (at && (at == text || at[-1] == '\n'))
            memmove(at, at + strlen(*line), strlen(at + strlen(*line)) + 1);
    }
}

void boltzmann_check_text(bz_flags *c, const char *text) {
    if (text[0] && !settings_value(text, "structure")) c->structure = "joint";
}

/* What fixes the sampler, then what fixes its training. */
const setting *boltzmann_settings(bz_flags *c) {
    static setting s[20];
    /* structure and copy_bound last: boltzmann_strip_joint takes them out for a joint
     * sampler */
    memcpy(s, (setting[]){
        {"energy", SET_STRING, &c->energy},          {"L", SET_INT, &c->L},
        {"beta", SET_DOUBLE, &c->beta},              {"latent", SET_INT, &c->latent},
        {"encoder", SET_STRING, &c->encoder},        {"decoder", SET_STRING, &c->decoder},
        {"iters", SET_INT, &c->iters},               {"batch", SET_INT, &c->batch},
        {"samples", SET_INT, &c->samples},           {"anneal", SET_INT, &c->anneal},
        {"anneal_from", SET_DOUBLE, &c->anneal_from}, {"lr", SET_DOUBLE, &c->lr},
        {"clip", SET_DOUBLE, &c->clip},              {"score_gradient", SET_BOOL, &c->score_gradient},
        {"log_every", SET_INT, &c->log_every},       {"seed", SET_U64, &c->seed},
        {"structure", SET_STRING, &c->structure},    {"copy_bound", SET_BOOL, &c->copy_bound},
        {0}}, sizeof(setting) * 19);
    return s;
}

/* ---- pictures ------------------------------------------------------------------------------ */

static void report(nn_error *err, int rc) {
    if (rc) fprintf(stderr, PROG ": %s\n", err->msg);
}

/* 2-D: the exact log density beside log histograms of the VAE's samples, raw and
 * reweighted, on one grid and one colour scale. */
static void pictures_2d(const bz_energy *e, const ag_real *x, const double *log_w, int n,
                        const char *out) {
    enum { G = 80 };
    const double lo[2] = {-4, -3}, hi[2] = {4, 5};
    static double exact[G * G], raw[G * G], rew[G * G];
    double cw = (hi[0] - lo[0]) / G, ch = (hi[1] - lo[1]) / G;
    ag_tape *t = ag_tape_new(0);
    ag_set_grad_enabled(t, false);
    ag_tensor *grid = ag_zeros(t, 2, (int[]){G * G, 2});
    for (int r = 0; r < G; r++)
        for (int c = 0; c < G; c++) {
            grid->data[(r * G + c) * 2] = (ag_real)(lo[0] + (c + 0.5) * cw);
            grid->data[(r * G + c) * 2 + 1] = (ag_real)(lo[1] + (r + 0.5) * ch);
        }
    ag_tensor *u = e->energy(e, t, grid);
    double vmax = 0;
    for (int i = 0; i < G * G; i++) {
        exact[i] = exp(-(double)u->data[i] - e->log_z);          /* μ(x) = e^−U / Z */
        if (exact[i] > vmax) vmax = exact[i];
    }
    ag_tape_free(t);
    memset(raw, 0, sizeof raw), memset(rew, 0, sizeof rew);
    double mx = -INFINITY, sw = 0;
    for (int i = 0; i < n; i++)
        if (log_w[i] > mx) mx = log_w[i];
    for (int i = 0; i < n; i++) sw += exp(log_w[i] - mx);
    for (int i = 0; i < n; i++) {
        int c = (int)floor((x[2 * i] - lo[0]) / cw), r = (int)floor((x[2 * i + 1] - lo[1]) / ch);
        if (c < 0 || c >= G || r < 0 || r >= G) continue;
        raw[r * G + c] += 1.0 / n / (cw * ch);                   /* densities, not counts */
        rew[r * G + c] += exp(log_w[i] - mx) / sw / (cw * ch);
    }
    /* Log densities, so that a minor well of 3% shows: the colour range spans 10 nats
     * below the exact density's peak, and emptier cells take its bottom colour. */
    double top = log(vmax), bottom = top - 10;
    for (int i = 0; i < G * G; i++) {
        exact[i] = fmax(log(exact[i]), bottom);
        raw[i] = raw[i] > 0 ? fmax(log(raw[i]), bottom) : bottom;
        rew[i] = rew[i] > 0 ? fmax(log(rew[i]), bottom) : bottom;
    }
    char path[4096];
    nn_error err;
    nn_heatmap_opts o = {.x0 = lo[0], .x1 = hi[0], .y0 = lo[1], .y1 = hi[1], .vmin = bottom,
                         .vmax = top};
    o.title = "exact log density";
    report(&err, nn_plot_heatmap_png(run_path(path, sizeof path, out, "density_exact.png"),
                                     exact, G, G, &o, &err));
    o.title = "VAE samples: log histogram";
    report(&err, nn_plot_heatmap_png(run_path(path, sizeof path, out, "density_vae.png"), raw,
                                     G, G, &o, &err));
    o.title = "reweighted by w: log histogram";
    report(&err, nn_plot_heatmap_png(run_path(path, sizeof path, out,
                                              "density_reweighted.png"), rew, G, G, &o, &err));
}

/* curves.png from log.csv (so that a resumed run draws the whole of its training): the
 * interval means of E[log w] and of the batch log Z estimates, beside the exact log Z. */
void boltzmann_curves_png(const char *log_path, const bz_energy *e, int log_every,
                       const char *out) {
    FILE *f = fopen(log_path, "r");
    if (!f) return;
    int n = 0, cap = 0;
    double *step = NULL, *elbo = NULL, *lz = NULL, *exact = NULL;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        double v[6]; /* step, beta, objective, neg_log_w, mean_log_w, batch_log_z */
        if (sscanf(line, "%lf,%lf,%lf,%lf,%lf,%lf", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
            continue; /* the header */
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            step = realloc(step, sizeof(double) * (size_t)cap);
            elbo = realloc(elbo, sizeof(double) * (size_t)cap);
            lz = realloc(lz, sizeof(double) * (size_t)cap);
            exact = realloc(exact, sizeof(double) * (size_t)cap);
            if (!step || !elbo || !lz || !exact) ag_error(PROG, "out of memory");
        }
        step[n] = v[0], elbo[n] = v[4], lz[n] = v[5], exact[n] = e->log_z;
        n++;
    }
    fclose(f);
    if (n > 1) {
        nn_series sr[3] = {{"E[log w] (lower bound)", step, elbo, n},
                           {"batch log Z estimate", step, lz, n},
                           {"exact log Z", step, exact, n}};
        char title[96];
        nn_error err;
        snprintf(title, sizeof title, "%s: training (means over %d steps)", e->name, log_every);
        report(&err, nn_plot_lines_png(out, sr, 3, &(nn_plot_opts){.title = title,
                                                                    .xlabel = "step",
                                                                    .ylabel = "nats"},
                                       &err));
    }
    free(step), free(elbo), free(lz), free(exact);
}

/* Many-well: the marginal of x1 (the first copy), exact against raw and reweighted
 * histograms of the samples. */
static void picture_marginal(const bz_energy *e, const ag_real *x, const double *log_w, int n,
                             const char *out) {
    enum { B = 120 };
    const double lo = -3, hi = 3, bw = (hi - lo) / B;
    double xs[B], exact[B], raw[B] = {0}, rew[B] = {0};
    double z1 = 0, mx = -INFINITY, sw = 0;
    for (int b = 0; b < B; b++) {                 /* e^−(x⁴ − 6x² − 0.5x), normalised below */
        double v = lo + (b + 0.5) * bw;
        xs[b] = v;
        exact[b] = exp(-(v * v * v * v - 6 * v * v - 0.5 * v));
        z1 += exact[b] * bw;
    }
    for (int b = 0; b < B; b++) exact[b] /= z1;
    for (int i = 0; i < n; i++)
        if (log_w[i] > mx) mx = log_w[i];
    for (int i = 0; i < n; i++) sw += exp(log_w[i] - mx);
    for (int i = 0; i < n; i++) {
        int b = (int)floor((x[(size_t)i * e->dim] - lo) / bw);
        if (b < 0 || b >= B) continue;
        raw[b] += 1.0 / n / bw;
        rew[b] += exp(log_w[i] - mx) / sw / bw;
    }
    nn_series s[3] = {{"exact", xs, exact, B}, {"VAE samples", xs, raw, B},
                      {"reweighted", xs, rew, B}};
    char path[4096];
    nn_error err;
    report(&err, nn_plot_lines_png(run_path(path, sizeof path, out, "marginal.png"), s, 3,
                                   &(nn_plot_opts){.title = "many-well: marginal of x1",
                                                   .xlabel = "x1", .ylabel = "density"},
                                   &err));
}

/* Many-well: the reweighted P(x_k > 0) of every copy k as bars, the exact mass as a dashed
 * line (named on the y axis: a legend would cover the title or the bars). */
static void picture_masses(const bz_energy *e, const double *mass, const char *out) {
    char path[4096], ylabel[64];
    nn_error err;
    snprintf(ylabel, sizeof ylabel, "reweighted mass (dashed: exact %.3f)", e->obs_exact[0]);
    report(&err, nn_plot_bars_png(run_path(path, sizeof path, out, "mode_masses.png"), NULL,
                                  mass, e->copies,
                                  &(nn_plot_opts){.title = "P(x_k > 0) of each copy",
                                                  .xlabel = "copy k", .ylabel = ylabel,
                                                  .ref_name = "exact", .ref_y = e->obs_exact[0],
                                                  .legend = NN_LEGEND_NONE},
                                  &err));
}

/* Ising: histograms of the magnetisation m, VAE raw / reweighted / Metropolis. */
static void picture_magnetisation(const bz_energy *e, const ag_real *x, const double *log_w,
                                  int n, const double *mcmc_m, long n_mcmc, const char *out) {
    int N = e->dim, B = N + 1;                    /* m takes the values −1, −1 + 2/N, ..., 1 */
    double *ms = calloc((size_t)B, sizeof(double)), *raw = calloc((size_t)B, sizeof(double));
    double *rew = calloc((size_t)B, sizeof(double)), *mc = calloc((size_t)B, sizeof(double));
    if (!ms || !raw || !rew || !mc) ag_error(PROG, "out of memory");
    double mx = -INFINITY, sw = 0;
    for (int i = 0; i < n; i++)
        if (log_w[i] > mx) mx = log_w[i];
    for (int i = 0; i < n; i++) sw += exp(log_w[i] - mx);
    for (int b = 0; b < B; b++) ms[b] = -1 + 2.0 * b / N;
    for (int i = 0; i < n; i++) {
        int up = 0;
        for (int j = 0; j < N; j++) up += x[(size_t)i * N + j] > 0.5;
        raw[up] += 1.0 / n;
        rew[up] += exp(log_w[i] - mx) / sw;
    }
    for (long i = 0; i < n_mcmc; i++) {
        int b = (int)lround((mcmc_m[i] + 1) * N / 2);
        if (b >= 0 && b < B) mc[b] += 1.0 / (double)n_mcmc;
    }
    nn_series s[3] = {{"VAE samples", ms, raw, B}, {"reweighted", ms, rew, B},
                      {"Metropolis", ms, mc, B}};
    char path[4096], title[96];
    nn_error err;
    snprintf(title, sizeof title, "Ising %dx%d, beta %.4g: magnetisation", e->rows, e->cols,
             e->beta);
    report(&err, nn_plot_lines_png(run_path(path, sizeof path, out, "magnetisation.png"), s,
                                   n_mcmc > 0 ? 3 : 2,
                                   &(nn_plot_opts){.title = title, .xlabel = "m",
                                                   .ylabel = "probability"}, &err));
    free(ms), free(raw), free(rew), free(mc);
}

/* ---- after training ------------------------------------------------------------------------ */

void boltzmann_measure(bz_sampler *s, const bz_energy *e, const bz_flags *c, const char *out,
                       double train_seconds, long steps) {
    double t0;
    /* ---- the estimates from fresh draws ---- */
    int n = c->eval_n;
    ag_real *x = malloc(sizeof(ag_real) * (size_t)n * e->dim);
    double *log_w = malloc(sizeof(double) * (size_t)n);
    double *f = malloc(sizeof(double) * (size_t)n * (e->n_obs > 0 ? e->n_obs : 1));
    if (!x || !log_w || !f) ag_error(PROG, "out of memory");
    /* The joint weights of the seed first (one decoder pass per draw), then, with
     * --latent-draws M > 0, fresh draws weighted by the marginal estimate of bz_draw; the
     * figures below (masses, pictures, the result line) use the latter when M > 0. */
    t0 = run_seconds();
    bz_draw(s, n, 0, c->seed * 0xBF58476D1CE4E5B9ULL + 2, x, log_w, NULL);
    double draw_seconds = run_seconds() - t0;
    bz_estimate joint = bz_estimate_weights(log_w, n), est = joint;
    printf("\n%d fresh draws in %.2fs, joint weights: log Z %.5f +- %.5f (exact %.5f, error "
           "%+.5f), ESS %.2f%%, E[log w] %.5f, joint KL bound %.5f, largest weight %.2g of the "
           "total\n", n, draw_seconds, joint.log_z, joint.log_z_se, e->log_z,
           joint.log_z - e->log_z, 100 * joint.ess, joint.mean_log_w,
           bz_kl_bound(&joint, e->log_z), joint.max_w);
    if (c->latent_draws > 0) {
        t0 = run_seconds();
        bz_draw(s, n, c->latent_draws, c->seed * 0xBF58476D1CE4E5B9ULL + 4, x, log_w, NULL);
        draw_seconds = run_seconds() - t0;
        est = bz_estimate_weights(log_w, n);
        printf("%d fresh draws in %.2fs, weights with %d encoder draws: log Z %.5f +- %.5f "
               "(error %+.5f), ESS %.2f%%, E[log w] %.5f, so KL(q || mu) <= %.5f, largest "
               "weight %.2g\n", n, draw_seconds, c->latent_draws, est.log_z, est.log_z_se,
               est.log_z - e->log_z, 100 * est.ess, est.mean_log_w,
               bz_kl_bound(&est, e->log_z), est.max_w);
    }
    for (int i = 0; i < n; i++) e->observe(e, x + (size_t)i * e->dim, f + (size_t)i * e->n_obs);
    double err_lz = est.log_z - e->log_z;
    double obs_w[BZ_MAX_OBS], obs_raw[BZ_MAX_OBS];
    for (int k = 0; k < e->n_obs; k++) {
        obs_w[k] = bz_expect(log_w, f + k, e->n_obs, n);
        obs_raw[k] = 0;
        for (int i = 0; i < n; i++) obs_raw[k] += f[(size_t)i * e->n_obs + k] / n;
        printf("  %-16s reweighted %.5f  raw %.5f  exact %.5f\n", e->obs_name[k], obs_w[k],
               obs_raw[k], e->obs_exact[k]);
    }
    /* Many-well: the per-copy masses, to show the worst copy, not only the mean. */
    double copy_min = NAN, copy_max = NAN;
    if (e->copies > 1) {
        double *ind = malloc(sizeof(double) * (size_t)n);
        double *mass = malloc(sizeof(double) * (size_t)e->copies);
        if (!ind || !mass) ag_error(PROG, "out of memory");
        copy_min = INFINITY, copy_max = -INFINITY;
        printf("  per-copy P(x>0), reweighted:");
        for (int k = 0; k < e->copies; k++) {
            for (int i = 0; i < n; i++) ind[i] = x[(size_t)i * e->dim + 2 * k] > 0;
            mass[k] = bz_expect(log_w, ind, 1, n);
            copy_min = fmin(copy_min, mass[k]), copy_max = fmax(copy_max, mass[k]);
            printf(" %.3f", mass[k]);
        }
        printf("\n  per-copy P(x>0), reweighted: min %.4f max %.4f (exact %.4f)\n", copy_min,
               copy_max, e->obs_exact[0]);
        picture_masses(e, mass, out);
        free(ind), free(mass);
    }
    double vae_ess_per_s = est.ess * n / draw_seconds;

    /* ---- the baseline ---- */
    bz_mcmc_result mc = {0};
    double *mc_traces = NULL;
    bool run_mcmc = strcmp(c->mcmc, "none") != 0;
    if (run_mcmc) {
        bz_mcmc_opts mo = {.kind = !strcmp(c->mcmc, "mala") ? BZ_MALA : BZ_METROPOLIS,
                           .chains = c->mcmc_chains, .steps = c->mcmc_steps,
                           .seed = c->seed * 0x94D049BB133111EBULL + 3};
        if (e->binary)
            mc_traces = malloc(sizeof(double) * (size_t)(1 + e->n_obs) * mo.chains * mo.steps);
        mo.traces = mc_traces;
        mc = bz_mcmc(e, &mo);
        printf("%s baseline: %d chains x %d %s (after %d burn-in), acceptance %.2f, tau %.1f, "
               "ESS %.0f in %.2fs = %.0f effective samples/s\n",
               e->binary ? "Metropolis" : c->mcmc, mc.chains, mc.steps,
               e->binary ? "sweeps" : "steps", mo.steps / 4, mc.accept, mc.tau, mc.ess,
               mc.seconds, mc.ess_per_second);
        for (int k = 0; k < e->n_obs; k++)
            printf("  %-16s chains %.5f  exact %.5f\n", e->obs_name[k], mc.obs[k],
                   e->obs_exact[k]);
    }
    printf("VAE sampler: %.0f effective samples/s (draws only; %.1fs of training before)\n",
           vae_ess_per_s, train_seconds);

    /* ---- pictures ---- */
    if (e->dim == 2) pictures_2d(e, x, log_w, n, out);
    else if (e->copies > 0) picture_marginal(e, x, log_w, n, out);
    else if (e->binary) {
        long nm = mc_traces ? (long)mc.chains * mc.steps : 0;
        /* the observable m is the 4th of the Ising model's: trace 1 + 3 */
        picture_magnetisation(e, x, log_w, n, mc_traces ? mc_traces + 4 * nm : NULL, nm, out);
    }

    /* ---- the result line ---- */
    printf("result: energy=%s log_z=%.5f exact=%.5f error=%.5f log_z_se=%.5f", e->name,
           est.log_z, e->log_z, err_lz, est.log_z_se);
    if (e->binary) printf(" rel_free_energy_error=%.2e", fabs(err_lz) / fabs(e->log_z));
    printf(" ess_pct=%.2f kl_bound=%.5f latent_draws=%d joint_log_z=%.5f joint_ess_pct=%.2f "
           "joint_kl_bound=%.5f", 100 * est.ess, bz_kl_bound(&est, e->log_z), c->latent_draws,
           joint.log_z, 100 * joint.ess, bz_kl_bound(&joint, e->log_z));
    for (int k = 0; k < e->n_obs; k++) {
        printf(" %s=%.5f", e->obs_name[k], obs_w[k]);
        if (isfinite(e->obs_exact[k])) printf(" %s_exact=%.5f", e->obs_name[k], e->obs_exact[k]);
    }
    if (e->copies > 1) printf(" copy_mass_min=%.4f copy_mass_max=%.4f", copy_min, copy_max);
    printf(" vae_ess_per_s=%.0f", vae_ess_per_s);
    if (run_mcmc) {
        printf(" mcmc_ess_per_s=%.0f mcmc_tau=%.1f", mc.ess_per_second, mc.tau);
        for (int k = 0; k < e->n_obs; k++) printf(" mcmc_%s=%.5f", e->obs_name[k], mc.obs[k]);
    }
    printf(" anneal=%d samples=%d iters=%ld batch=%d train_seconds=%.1f\n", c->anneal, c->samples, steps, c->batch,
           train_seconds);
    free(x), free(log_w), free(f), free(mc_traces);
}
