/* boltzmann.c — train a VAE to sample a Gibbs distribution μ(x) = e^−U(x)/Z from the
 * energy alone (seed 003), then measure it against exact answers and against MCMC.
 *
 *   build/boltzmann --energy double-well          the Boltzmann-generator double well
 *   build/boltzmann --energy gmm                  a normalised 2-D Gaussian mixture
 *   build/boltzmann --energy many-well            Many-Well-32 (16 copies, 2^16 modes)
 *   build/boltzmann --energy ising --L 8 --beta 0.4407
 *
 * Training draws z ~ N(0, I), x ~ Q(x|z) and lowers E[log Q(x|z) − log P(z|x) + β·U(x)]
 * (seed 003 eq. (1.7)), or with --samples K the importance-weighted −log mean_K w, β rising
 * to 1 over --anneal steps.  Afterwards --eval-n fresh draws give importance weights
 * w = e^−U P(z|x) / (π(z) Q(x|z)) (and, with --latent-draws M, the weights that average M
 * encoder draws): log Z ≈ log mean w against the exact value (quadrature, or Kaufman's
 * formula for the Ising model), the effective sample size, and reweighted mode masses
 * against their exact values.  A Metropolis/MALA run on
 * the same energy gives the baseline's effective samples per second.  The last line is
 * 'result: key=value ...'.
 *
 * sampler.ckpt holds the networks, Adam's moments and the state of the one PRNG stream of
 * training; it is saved every ten logged steps, at the end, and when Ctrl-C stops a run,
 * which --resume then continues exactly. */
#include "examples/common/boltzmann_parts.h"
#include "examples/common/run.h"
#include "examples/common/settings.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "boltzmann"

int main(int argc, char **argv) {
    bz_flags c = {.energy = "double-well", .act = "tanh", .mcmc = "mala", .out = "out/boltzmann",
                .L = 8, .beta = 0.4407, .layers = 2, .anneal = -1, .clip = 100,
                .threads = 1, .latent_draws = 8, .mcmc_chains = 64, .log_every = 50, .seed = 1};
    cli_opt *opts = boltzmann_options(&c);
    cli_program prog = {PROG, "Train a VAE as a sampler of exp(-U(x))/Z from the energy alone "
                              "(seed 003) and measure it against exact answers and MCMC.",
                        boltzmann_help_epilog};
    int rc = cli_parse(argc, argv, &prog, opts);
    if (rc) return rc < 0 ? 2 : 0;
    bz_energy e;
    if (boltzmann_check(&c, &e)) return 2; /* the energy, its defaults, the flags' ranges */
    int threads = run_threads(c.threads);
    if (c.fp_trap && run_fp_trap(PROG)) return 2;
    nn_error err;
    char enc[1024], dec[1024];
    bz_config bc = {.z_dim = c.latent,
                    .encoder_text = c.encoder ? c.encoder
                                              : boltzmann_net_text(&c, 2 * c.latent, enc, sizeof enc),
                    .decoder_text = c.decoder ? c.decoder
                                              : boltzmann_net_text(&c, e.binary ? e.dim : 2 * e.dim, dec,
                                                         sizeof dec),
                    .path_gradient = !c.score_gradient, .samples = c.samples,
                    .seed = c.seed};
    bz_sampler *s = bz_new(&e, &bc, &err);
    if (!s) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 2;
    }
    printf("henbun %s Boltzmann sampler: %s, dim %d, exact log Z %.6f, %d thread%s\n",
           AG_REAL_NAME, e.name, e.dim, e.log_z, threads, threads == 1 ? "" : "s");
    printf("  latent %d, encoder '%s', decoder '%s' (%s likelihood, %s gradient)\n", c.latent,
           bc.encoder_text, bc.decoder_text, e.binary ? "Bernoulli" : "Gaussian",
           e.binary ? "score-function" : c.score_gradient ? "full reparameterised" : "path");
    if (!c.load)
        printf("  %d steps of %d draws (bounds of K = %d), Adam lr %g, anneal %d steps from "
               "beta %g\n", c.iters, c.batch, c.samples, c.lr, c.anneal, c.anneal > 0 ? c.anneal_from : 1.0);
    fflush(stdout);

    nn_optim *opt = nn_adam(bz_params(s), c.lr);
    if (c.clip > 0) nn_optim_set_clip_norm(opt, c.clip);
    if (c.iters > 0)
        nn_optim_set_schedule(opt, &(nn_lr_schedule){.kind = NN_LR_COSINE,
                                                     .total_steps = c.iters,
                                                     .min_lr = c.lr / 20});
    /* A checkpoint holds the networks and Adam's state; its text starts with what fixes
     * the sampler (which --load checks) and goes on with what fixes the training (which
     * --resume checks too), then the running sums of a stopped logging interval. */
    nn_param_list saved = {0};
    nn_params_extend(&saved, NULL, bz_params(s));
    nn_optim_state(opt, "optim", &saved);
    static nn_ckpt_meta meta; /* 8 KiB of text: off the stack */
    int L = e.binary ? c.L : 0;                /* only the Ising energy has them */
    double beta = e.binary ? c.beta : 0.0;
    const setting fix_sampler[] = {
        {"energy", SET_STRING, &e.name},           {"L", SET_INT, &L},
        {"beta", SET_DOUBLE, &beta},               {"latent", SET_INT, &c.latent},
        {"encoder", SET_STRING, &bc.encoder_text}, {"decoder", SET_STRING, &bc.decoder_text},
        {0}};
    const setting fix_training[] = {
        {"iters", SET_INT, &c.iters},              {"batch", SET_INT, &c.batch},
        {"samples", SET_INT, &c.samples},          {"anneal", SET_INT, &c.anneal},
        {"anneal_from", SET_DOUBLE, &c.anneal_from}, {"lr", SET_DOUBLE, &c.lr},
        {"clip", SET_DOUBLE, &c.clip},             {"score_gradient", SET_BOOL, &c.score_gradient},
        {"log_every", SET_INT, &c.log_every},      {"seed", SET_U64, &c.seed},
        {0}};
    char model[2048], settings[3072];
    settings_write(model, sizeof model, PROG, fix_sampler);
    snprintf(settings, sizeof settings, "%s", model);
    settings_append(settings, sizeof settings, fix_training);
    const char *ckpt_in = c.load ? c.load : c.resume;
    const char *expect = c.load ? model : settings;
    int step = 0;
    if (ckpt_in) {
        if (nn_checkpoint_info(ckpt_in, &meta, NULL, &err)) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            bz_free(s), nn_optim_free(opt), nn_params_free(&saved);
            return 1;
        }
        char why[512];
        const char *who = settings_value(meta.text, "program");
        if (!who || strncmp(who, PROG "\n", strlen(PROG) + 1)) {
            fprintf(stderr, PROG ": %s is not a checkpoint of " PROG " (program=%.*s)\n",
                    ckpt_in, who ? (int)strcspn(who, "\n") : 1, who ? who : "?");
            bz_free(s), nn_optim_free(opt), nn_params_free(&saved);
            return 1;
        }
        if (run_settings_differ(meta.text, expect, why, sizeof why)) {
            fprintf(stderr, PROG ": %s holds another %s (give the flags it was made with): "
                            "%s\n", ckpt_in, c.load ? "sampler" : "training", why);
            bz_free(s), nn_optim_free(opt), nn_params_free(&saved);
            return 2;
        }
        /* The whole state; a sampler saved before checkpoints held Adam's (--load only)
         * has the networks alone. */
        if (nn_checkpoint_load(ckpt_in, &saved, &meta, &err) &&
            (!c.load || nn_checkpoint_load(ckpt_in, bz_params(s), &meta, NULL))) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            bz_free(s), nn_optim_free(opt), nn_params_free(&saved);
            return 1;
        }
        if (c.load) {
            printf("  loaded %s (trained %lld steps); no training\n", c.load,
                   (long long)meta.step);
            c.iters = 0;
        } else {
            step = (int)meta.step;
            printf("  resuming %s at step %d\n", c.resume, step);
        }
    }

    if (run_mkdir(c.out, &err)) { /* only now: every flag and checkpoint is known good */
        fprintf(stderr, PROG ": %s\n", err.msg);
        bz_free(s), nn_optim_free(opt), nn_params_free(&saved);
        return 1;
    }
    char path[4096], ckpt[4096], log_path[4096];
    run_path(ckpt, sizeof ckpt, c.out, "sampler.ckpt");
    run_path(log_path, sizeof log_path, c.out, "log.csv");
    static const char *cols[] = {"step", "beta", "objective", "neg_log_w", "mean_log_w",
                                 "batch_log_z", "batch_ess", "seconds"};
    /* A new run starts a new log; a resumed one drops the rows written after its
     * checkpoint (they are written again). */
    nn_csv *csv = NULL;
    if (step < c.iters) {
        if (!c.resume) remove(log_path);
        else if (run_log_rewind(log_path, 0, 1, (double[]){step}, &err)) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            bz_free(s), nn_optim_free(opt), nn_params_free(&saved);
            return 1;
        }
        csv = nn_csv_open(log_path, 8, cols, &err);
        if (!csv) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            bz_free(s), nn_optim_free(opt), nn_params_free(&saved);
            return 1;
        }
    }

    /* ---- training ---- */
    /* One stream of noise for the whole run (the tape's PRNG): a checkpoint keeps its state. */
    ag_tape *t = ag_tape_new(c.seed * 0x9E3779B97F4A7C15ULL + 1);
    double acc[3] = {0}; /* the logging interval's Σ batch log Z, Σ E[log w], steps */
    if (c.resume) {
        *ag_tape_rng(t) = meta.rng;
        if (run_text_get(meta.text, "interval_sums", acc, 3)) memset(acc, 0, sizeof acc);
    }
    double t0 = run_seconds();
    int code = 0;
    run_catch_signals();
    for (; step < c.iters; step++) {
        double beta = bz_anneal_beta(step, c.anneal, c.anneal_from);
        bz_stats st; /* the step: −(the K-draw bound on log Z, seed 003 eq. (1.7) at K = 1) */
        ag_tensor *loss = bz_loss(s, t, c.batch, beta, &st);
        ag_backward(t, loss);
        double norm = nn_optim_step(opt);
        ag_tape_clear(t);
        if (!run_check_finite(PROG, st.objective, norm, bz_params(s), "step %d", step + 1)) {
            code = 1;
            break;
        }
        nn_optim_zero_grad(opt); /* after the check, which names a bad gradient */
        acc[0] += st.log_z, acc[1] += -st.neg_log_w, acc[2]++;
        bool log_now = (step + 1) % c.log_every == 0 || step + 1 == c.iters;
        if (log_now) {
            double sec = run_seconds() - t0;
            double row[8] = {step + 1, beta, st.objective, st.neg_log_w, acc[1] / acc[2],
                             acc[0] / acc[2], st.ess, sec};
            if (nn_csv_row(csv, row, &err)) fprintf(stderr, PROG ": %s\n", err.msg);
            if (!c.quiet && ((step + 1) % (c.log_every * 10) == 0 || step + 1 == c.iters))
                printf("step %6d  beta %.3f  E[log w] %9.4f  batch log Z %9.4f  ESS %5.1f%%  "
                       "%.0fs\n", step + 1, beta, acc[1] / acc[2], acc[0] / acc[2],
                       100 * st.ess, sec);
            fflush(stdout);
            memset(acc, 0, sizeof acc);
        }
        bool stop = run_step_done();
        /* A checkpoint every ten logging intervals, at the end, and when a signal came. */
        if ((log_now && (step + 1) % (c.log_every * 10) == 0) || step + 1 == c.iters || stop) {
            snprintf(meta.text, sizeof meta.text, "%s", settings);
            run_text_put(meta.text, sizeof meta.text, "interval_sums", acc, 3);
            meta.step = step + 1, meta.epoch = 0, meta.rng = *ag_tape_rng(t);
            if (run_save_checkpoint(PROG, ckpt, &saved, &meta)) {
                code = 1;
                step++;
                break;
            }
        }
        if (stop && step + 1 < c.iters) {
            fprintf(stderr, PROG ": %s: stopped after step %d; checkpoint %s (measure it as it "
                            "is with --load)\n", run_stop_signal(), step + 1, ckpt);
            run_print_resume(argc, argv, ckpt);
            code = run_stop_status();
            step++;
            break;
        }
    }
    double train_seconds = run_seconds() - t0;
    bool trained = csv != NULL;
    nn_csv_close(csv, NULL);
    ag_tape_free(t);
    nn_params_free(&saved);
    if (trained)
        boltzmann_curves_png(log_path, &e, c.log_every, run_path(path, sizeof path, c.out, "curves.png"));
    if (code) {
        bz_free(s), nn_optim_free(opt);
        return code;
    }

    boltzmann_measure(s, &e, &c, train_seconds, step);
    nn_optim_free(opt);
    bz_free(s);
    return 0;
}
