/* harness.h — the run machinery of a training program, written once.  A program declares
 * its model, its data and its training step; the harness does everything around them:
 *
 *   - the flags (--help from the program's table), checked before anything is read or
 *     written; --out is created only once every flag and checkpoint field is known good;
 *   - checkpoints: the settings table as text beside the tensors, every field read back
 *     checked like a flag (exit 1 naming the field), --resume refusing flags that
 *     contradict the checkpoint, --eval of a saved model;
 *   - exact --resume, even mid-epoch: the data order comes from (seed, epoch), the
 *     batches already trained are skipped and the epoch's running sums are in the
 *     checkpoint, so a resumed run ends bit for bit where a straight one does;
 *   - Ctrl-C/SIGTERM: the step finishes, a checkpoint is saved, the resume command printed;
 *   - a NaN or inf stops the run naming the tensor; --fp-trap; the progress bar;
 *   - log.csv (rewound on --resume), pictures every --pictures-every epochs, the result line;
 *   - data parallelism (built with `make MPI=1`, run under mpirun -np N): each rank takes its
 *     slice of the same global batch (--batch), harness_backward sums the gradients, the
 *     parameters start from rank 0's, and only rank 0 prints and writes files; N ranks give
 *     one process's run (see README "Scaling out").
 *
 * A program fills a harness with its flags, its settings and its hooks, and calls
 * harness_main (see docs/write-a-program.md):
 *
 *   harness h = {.name = "vae", .cli = &prog, .opts = opts, .remembered = remembered,
 *                .ckpt_name = "vae.ckpt", .columns = cols, .n_columns = 8,
 *                .stats = {"-elbo", "recon", "kl", "loss"}, .n_stats = 4, .n_bar = 3,
 *                .check = check, .load = load, .build = build, .train_step = step,
 *                .epoch_end = epoch_end, .pictures = pictures, .result = result, .eval = eval,
 *                .program = &my_state};
 *   return harness_main(&h, argc, argv);
 *
 * Every hook gets the harness, whose fields below the line "the run" it may read. */
#ifndef HENBUN_EXAMPLES_HARNESS_H
#define HENBUN_EXAMPLES_HARNESS_H

#include "examples/common/cli.h"
#include "examples/common/settings.h"
#include "nn/dist.h"
#include "nn/nn.h"

#define HARNESS_MAX_STATS 8    /* figures a step reports */
#define HARNESS_MAX_COLUMNS 64 /* columns of log.csv */
/* The most numbers one tensor of a step may hold, by the flags (cli_product): 2^28, 1 GiB
 * of floats.  Flags that would multiply past it are a usage error (exit 2). */
#define HARNESS_MAX_VALUES ((size_t)1 << 28)

/* The flags every training program has; its option table points at these fields. */
typedef struct run_flags {
    int epochs, batch, threads, pictures_every;
    uint64_t seed;
    const char *out, *resume, *eval;
    const char *export_to;       /* --export FILE.safetensors: the model's weights */
    bool quiet, fp_trap;
    bool sync_bn;  /* --sync-bn (programs with batch norm): statistics over all ranks */
} run_flags;

/* What a training step returns: its loss and the gradient norm nn_optim_step returned,
 * which the harness checks (a NaN or inf stops the run, naming the tensor). */
typedef struct harness_step {
    double loss, grad_norm;
} harness_step;

/* A picture's caption on the run page (OUT/index.html): "samples.png", "64 samples ...". */
typedef struct harness_caption {
    const char *file, *caption;
} harness_caption;

typedef struct harness harness;
struct harness {
    /* ---- what the program declares ---- */
    const char *name;                /* "vae": messages, and the checkpoint's program= line */
    const cli_program *cli;
    cli_opt *opts;                   /* its flags; they point into flags and the program */
    run_flags flags;
    const setting *remembered;       /* what a checkpoint keeps of the settings */
    const char *const *may_change;   /* keys a flag may set anew on --resume or --eval
                                        (NULL-ended); on --resume the others must be as in
                                        the checkpoint if given */
    const char *ckpt_name;           /* "vae.ckpt", in --out */
    const char *const *columns;      /* log.csv's header: "epoch", ..., n_columns names
                                        (NULL: the program keeps no log.csv) */
    int n_columns;
    const char *stats[HARNESS_MAX_STATS]; /* what a step reports (means over its batch) */
    int n_stats, n_bar;              /* the first n_bar are shown on the progress bar */
    bool steps_weigh_equally;        /* an epoch's means: over steps (else over examples) */
    unsigned counts;                 /* bit i: stats[i] is a count over the step's examples
                                        (correct answers), summed as it is */
    nn_batch_opts batching;          /* batch_size is set from --batch */
    long steps_per_epoch;            /* without data (train NULL: the step makes its own):
                                        the steps between log rows, whose column 0 is then
                                        the step count (by which --resume rewinds log.csv) */
    int save_every;                  /* epochs between checkpoints (0: 1); the last epoch
                                        and a stop always save */
    int batches_per_step;            /* batches a step takes with harness_batch (0: 1) */
    long max_steps;                  /* > 0: stop there, even inside an epoch (--iters) */
    const char *step_name;           /* "step" (NULL) or "iteration", in messages */
    int log_step_column;             /* > 0: log.csv's column of the step count, by which a
                                        --resume rewinds it (else by the epoch, column 0;
                                        without data, by the step in column 0) */
    void *program;                   /* the program's own state, handed to every hook */
    /* A program that trains several models in turn (harness_run per model) sets these. */
    uint64_t order_stream;           /* epoch e's data order: run_seed(seed, stream, e)
                                        (0: stream 1) */
    const char *run_label;           /* "holdout 3": names the run on the bar and in messages */
    bool resume_in_out;              /* --resume is a flag: each run continues from its
                                        checkpoint in --out (the resume command says so) */
    const char *const *state_prefixes; /* names in saved that are training state, not the
                                        model ("optim.", ...; NULL-ended; NULL: "optim."):
                                        left out of --export, not needed by --eval */
    const harness_caption *captions; /* what each picture shows, for the run page
                                        ({file, caption} pairs, {0}-ended; may be NULL) */

    /* ---- the hooks (NULL: nothing to do) ---- */
    /* The settings are sound?  0, or -1 with why (no program name) in why[n]; called for
     * the flags (exit 2) and again for a checkpoint's settings (exit 1). */
    int (*check)(harness *h, char *why, size_t n);
    /* Loads the data into train/test (and settles defaults that depend on the settings;
     * NULL: the program has no data set, see steps_per_epoch):
     * 0, or an exit status after a message. */
    int (*load)(harness *h);
    /* Builds the model and its optimizer, sets params and saved: 0, or an exit status. */
    int (*build)(harness *h);
    /* Before the first step of a run, fresh or resumed from h->meta (then checked): seeds
     * or restores what the program draws from besides the data order (its own streams,
     * the tape t's generator, as gan2d does). */
    void (*begin_training)(harness *h, ag_tape *t, bool resumed);
    /* Prints what is trained (without --quiet, and for --eval). */
    void (*describe)(harness *h);
    /* One training step: takes its batch(es) with harness_batch, fills
     * stats[0..n_stats-1] and returns the loss and the gradient norm. */
    harness_step (*train_step)(harness *h, ag_tape *t, double *stats);
    /* After a whole epoch, with the means of its stats: evaluates, prints the epoch's line
     * and fills row[1..n_columns-1] of log.csv (row[0] is the epoch, unless it says else). */
    void (*epoch_end)(harness *h, const double *mean, double *row);
    /* Draws the pictures (after epoch_end, on --pictures-every's cadence and at the end). */
    void (*pictures)(harness *h);
    /* Appends the program's own lines to a checkpoint's meta text (after the settings); it
     * may set h->meta.rng too. */
    void (*meta_text)(harness *h, char *text, size_t size);
    /* Prints the last lines (where things are) and gives the figures of the result line
     * with harness_result; the harness prints "result: ..." after it and writes them to
     * result.json. */
    void (*result)(harness *h);
    /* --eval: measures the loaded model and gives its figures with harness_result (printed
     * as "result: ..." and written to eval.json); returns the exit status. */
    int (*eval)(harness *h);
    /* --export: the program's own metadata (key, value, ..., NULL; e.g. the spec text and
     * what a reader needs to rebuild the model), beside the harness's "format" (henbun),
     * "program", "precision", "config" (the settings text), "epoch" and "step".  The strings must outlive the call. */
    const char *const *(*export_meta)(harness *h);
    /* Frees what build() made (also when build failed half-way). */
    void (*release)(harness *h);

    /* ---- the run (the harness sets these; hooks read them) ---- */
    nn_dataset *train, *test;        /* set by load(); freed by the harness */
    const nn_param_list *params;     /* set by build(): the parameters, to name a NaN */
    nn_param_list *saved;            /* set by build(): what a checkpoint holds */
    nn_ckpt_meta meta;               /* the checkpoint's meta, as read or last written */
    int threads;                     /* in use */
    int epoch;                       /* the epoch being trained (0-based) */
    int start_epoch, epochs_done;    /* where this run began; whole epochs it trained */
    int n_epochs;                    /* epochs of the whole run (the last may be cut) */
    long per_epoch;                  /* steps an epoch */
    long step;                       /* training steps taken (by this model) */
    long steps_done;                 /* ... by this run */
    double epoch_seconds;            /* of the last epoch's training, without evaluation */
    double train_seconds, total_seconds; /* over the epochs of this run */
    double train_cpu;                /* CPU seconds of all threads spent training (clock()) */
    double epoch_t0;                 /* run_seconds() when the epoch began */
    nn_batcher *batcher;             /* the training batches (harness_batch) */
    ag_tape *tape;                   /* the training tape, cleared between steps: the hooks'
                                        passes (epoch_end's test pass) run on it rather than
                                        on an arena of their own; NULL outside training */
    int argc;                        /* the command line */
    char **argv;
    int step_examples;               /* examples the current step took (this rank's) */
    /* data parallelism (one rank of one without MPI) */
    nn_dist *dist;                   /* the job: rank, size */
    nn_dist_grads *grads[4];         /* the gradient sums (more than one rank): of params, */
    const nn_param_list *grads_of[4];/* ... or of these lists (harness_backward_of) */
    nn_dist_grads *last_grads;       /* the last one used */
    nn_dist_shard shard;             /* this rank's rows of the last batch / harness_rows */
    int dist_flags;                  /* the step's flags, OR-ed over ranks (NN_DIST_*) */
    long global_examples;            /* examples the current step took, all ranks */
};

/* Runs the program: parses, checks, loads, builds, trains or evaluates; returns the exit
 * status (0, 1 for the world, 2 for usage, 128 + signal when stopped). */
int harness_main(harness *h, int argc, char **argv);

/* The same in three parts, for a program that trains several models in turn (anomaly:
 * one per held-out class).  harness_begin parses and checks the flags (and the settings of
 * an --eval/--resume checkpoint), sets the threads and calls load(): true to go on, else
 * false with the exit status in *code.  Then, for each model, the program sets what
 * differs (h->train, ckpt_name, order_stream, run_label) and calls harness_run, which
 * builds, loads checkpoint ckpt (NULL: a fresh model) and trains or evaluates; it returns
 * the exit status and leaves the model built, for the program to measure and then free
 * (release is the program's to call).  harness_end frees the data sets. */
bool harness_begin(harness *h, int argc, char **argv, int *code);
int harness_run(harness *h, const char *ckpt);
void harness_end(harness *h);

/* The next training batch, on tape t (inside train_step). */
nn_batch harness_batch(harness *h, ag_tape *t);

/* The backward pass of a training step, in place of ag_backward(t, loss): in one process it
 * is ag_backward; under N ranks, the backward of this rank's part of the global loss (its
 * mean times its share of the rows of the last harness_batch / harness_rows) with the
 * gradients of params summed over the ranks, so that the nn_optim_step after it makes one
 * process's update on every rank.  A stop request and a NaN travel with the sums, so every
 * rank leaves together.  false when a rank's loss was a NaN or an inf. */
bool harness_backward(harness *h, ag_tape *t, ag_tensor *loss);
/* The same, summing the gradients of `params` only (a list that lives as long as the run):
 * for a model with one optimizer per network (a GAN's D and G), one sum per network. */
bool harness_backward_of(harness *h, ag_tape *t, ag_tensor *loss, const nn_param_list *params);

/* This rank's share of n rows that are not a data batch (a batch of noise): the number of
 * rows to make here (n in one process); it sets the weight of the next harness_backward. */
int harness_rows(harness *h, int n);

/* Noise drawn per row of a batch: under N ranks, advances t's PRNG past the draws of the
 * global batch's rows before this rank's slice (after = false; call it before drawing) or
 * after it (after = true; call it after drawing), so that every row gets the noise it gets
 * in one process.  per_row: 64-bit draws a row takes (a normal takes two, a uniform one).
 * Nothing in one process. */
void harness_skip_draws(harness *h, ag_tape *t, uint64_t per_row, bool after);

/* Is this the rank that prints and writes files (always, in one process)? */
bool harness_root(const harness *h);

/* Was --name given on the command line? */
bool harness_given(const harness *h, const char *name);

/* Appends " key=value ..." (printf-style, each pair led by a space) to the run's result
 * line, from the result and eval hooks.  The harness prints "result:<text>" once the hook
 * returns and writes the same figures to result.json (eval.json for --eval). */
void harness_result(harness *h, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prints a model's error msg ("encoder: spec:19: unknown layer ...") naming the flag whose
 * spec text it is, with the text-and-caret display (nn_spec_print_error):
 *   "vae: --encoder: spec:19: ..." then the text and a caret under column 19.
 * names[i] ("encoder") is the word before the message, flags[i] ("--encoder") the flag and
 * texts[i] the text as the user gave it (NULL: a preset, shown without caret); n of them. */
void harness_spec_error(const harness *h, const char *msg, int n, const char *const *names,
                        const char *const *flags, const char *const *texts);

/* Notes the option table's values as its defaults, before the flags are parsed: a field
 * holding its flag's default (0 for "automatic") passes harness_check_fields's range check.
 * harness_begin calls it. */
void harness_note_defaults(const harness *h);
/* Checks the fields of a checkpoint's meta text against h->remembered and h->opts, as a
 * --resume or --eval does before settings_read (exposed for tests/fuzz/fuzz_settings.c):
 * each field present once, whole, finite, in its flag's range or choices.  0, or -1 with
 * why ("field 'lr' ...") in why[n]. */
int harness_check_fields(const harness *h, const char *text, char *why, size_t n);

/* "<out>/<name>" in buf. */
const char *harness_path(const harness *h, char *buf, size_t n, const char *name);

#endif
