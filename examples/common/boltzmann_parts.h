/* boltzmann_parts.h — what examples/boltzmann.c needs besides its model and its training
 * step: its flags and help, the energies' default settings, the network text, curves.png,
 * and the measurements after training (log Z from importance weights, mode masses, the
 * MCMC baseline, the pictures and the result line). */
#ifndef HENBUN_EXAMPLES_BOLTZMANN_PARTS_H
#define HENBUN_EXAMPLES_BOLTZMANN_PARTS_H

#include "examples/common/harness.h"
#include "vae/boltzmann.h"

/* The sampler's own flags (--out, --load, --resume, --threads, --quiet, --fp-trap are the
 * run's: run_flags, --load being its eval). */
typedef struct bz_flags {
    const char *energy, *act, *mcmc, *encoder, *decoder;
    const char *structure;    /* auto (before boltzmann_check), joint or copies */
    bool copy_bound;          /* copies: the K-draw bound per copy, not over whole draws */
    int L, iters, batch, samples, latent_draws, anneal, latent, hidden, layers, eval_n;
    int mcmc_chains, mcmc_steps, log_every;
    double beta, lr, anneal_from, clip;
    uint64_t seed;
    bool score_gradient;
} bz_flags;


/* The option table and the settings a checkpoint keeps (static: one call each). */
cli_opt *boltzmann_options(bz_flags *c, run_flags *r);
const setting *boltzmann_settings(bz_flags *c);
extern const char *const boltzmann_help_epilog;
/* The energy's defaults for the flags left at 0 (-1 for --anneal): the README's table. */
void boltzmann_defaults(bz_flags *c, const bz_energy *e);
/* The energy of --energy into e, the defaults it implies (and the network text, into enc
 * and dec, 1024 bytes each), and the flags' ranges: 0, or -1 with why. */
int boltzmann_check(bz_flags *c, bz_energy *e, char *enc, char *dec, char *why, size_t n);
/* The settings lines that only --structure copies needs ("structure=joint\n",
 * "copy_bound=0\n") taken out of a checkpoint's text for a joint sampler, whose
 * checkpoints stay byte for byte what they were before --structure existed; a text
 * without them reads back as joint (boltzmann_check_text). */
void boltzmann_strip_joint(const bz_flags *c, char *text);
/* A checkpoint's text without a structure line was made by a joint sampler. */
void boltzmann_check_text(bz_flags *c, const char *text);
/* "linear H, ACT, ..., linear OUT" from --hidden, --layers, --act (into buf). */
const char *boltzmann_net_text(const bz_flags *c, int out, char *buf, size_t n);
/* curves.png (out) from log.csv: interval means of E[log w] and batch log Z, exact log Z. */
void boltzmann_curves_png(const char *log_path, const bz_energy *e, int log_every,
                          const char *out);
/* After training: --eval-n fresh draws weighted (joint, then with --latent-draws), the
 * masses against the exact ones, the MCMC baseline, the pictures, "result: ...". */
void boltzmann_measure(bz_sampler *s, const bz_energy *e, const bz_flags *c, const char *out,
                       double train_seconds, long steps);

#endif
