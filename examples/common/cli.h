/* cli.h — the command-line parser every example shares.  A program lists its options in
 * a table; --help is generated from the same table, so the two cannot disagree.
 *
 *   int epochs = 10, threads = 0; double lr = 1e-3; const char *dataset = "mnist";
 *   cli_opt opts[] = {
 *       {"epochs", CLI_INT, &epochs, "N", "passes over the training set", CLI_IN(1, 100000)},
 *       {"lr", CLI_REAL, &lr, "RATE", "learning rate", CLI_IN_OC(0, 10)},    // (0, 10]
 *       {"dataset", CLI_CHOICE, &dataset, "mnist|fashion", "which data"},
 *       CLI_THREADS_OPT(&threads),
 *       {0}};
 *   int rc = cli_parse(argc, argv, &(cli_program){"vae", "train a VAE", NULL}, opts);
 *   if (rc) return rc < 0 ? 2 : 0;  // -1: bad flag (message printed), 1: --help/--version
 *
 * Ranges.  Every numeric option (CLI_INT, CLI_U64, CLI_REAL) may carry a cli_range as its
 * sixth field; leaving it out means "any value of the type" (for CLI_REAL: any FINITE
 * number: inf and nan are always refused).  A value outside its range is refused with
 *   "<prog>: --lr: must be in (0, 10], got 0"
 * and cli_parse returns -1, before the program has touched any file.  The default value in
 * the table is not checked (a default of 0 may mean "automatic" while the user may not
 * type 0: give a range that excludes 0 and keep the default).  Helpers:
 *   CLI_IN(a, b)       [a, b]     both inclusive
 *   CLI_IN_OC(a, b)    (a, b]     e.g. a learning rate or a standard deviation
 *   CLI_IN_CO(a, b)    [a, b)     e.g. a probability that may be 0 but not 1
 *   CLI_IN_OO(a, b)    (a, b)
 *   CLI_AT_LEAST(a)    [a, any)   e.g. CLI_AT_LEAST(0) for a count that may be 0
 *   CLI_ABOVE(a)       (a, any)   e.g. CLI_ABOVE(0) for a strictly positive real
 * Bounds are doubles: exact for every int, and for CLI_U64 up to 2^53.
 *
 * --threads.  An option named "threads" of type CLI_INT that has no range of its own gets
 * [0, cli_max_threads()]: 0 means "all cores" (explicitly), a negative count is an error,
 * and so is more than cli_max_threads() (4 x the cores, at least 4, at most 256): threads
 * beyond the cores only make OpenMP slower.
 *
 * --version prints "<prog> (henbun <version>, float|double)" and returns 1 like --help.
 */
#ifndef HENBUN_EXAMPLES_CLI_H
#define HENBUN_EXAMPLES_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CLI_INT,     /* int *            --epochs 10 */
    CLI_U64,     /* uint64_t *       --seed 7 */
    CLI_REAL,    /* double *         --lr 1e-3 (always finite) */
    CLI_STRING,  /* const char **    --out DIR */
    CLI_CHOICE,  /* const char **    one of the '|'-separated words in metavar */
    CLI_FLAG,    /* bool *           --quiet (no value) */
} cli_type;

enum {
    CLI_HAS_MIN = 1,  /* min is a bound */
    CLI_HAS_MAX = 2,  /* max is a bound */
    CLI_MIN_OPEN = 4, /* min itself is excluded */
    CLI_MAX_OPEN = 8, /* max itself is excluded */
};

/* All zeros (the default when left out of an initializer): no bound but the type's own. */
typedef struct cli_range {
    double min, max;
    unsigned flags;   /* CLI_HAS_MIN | CLI_HAS_MAX | CLI_MIN_OPEN | CLI_MAX_OPEN */
} cli_range;

#define CLI_IN(a, b) {(a), (b), CLI_HAS_MIN | CLI_HAS_MAX}
#define CLI_IN_OC(a, b) {(a), (b), CLI_HAS_MIN | CLI_HAS_MAX | CLI_MIN_OPEN}
#define CLI_IN_CO(a, b) {(a), (b), CLI_HAS_MIN | CLI_HAS_MAX | CLI_MAX_OPEN}
#define CLI_IN_OO(a, b) {(a), (b), CLI_HAS_MIN | CLI_HAS_MAX | CLI_MIN_OPEN | CLI_MAX_OPEN}
#define CLI_AT_LEAST(a) {(a), 0, CLI_HAS_MIN}
#define CLI_ABOVE(a) {(a), 0, CLI_HAS_MIN | CLI_MIN_OPEN}

/* Option tables leave out the trailing range (and often more) on purpose: a missing field is
 * zero, which means "no range".  -Wextra's missing-field-initializers would flag every such
 * entry, so it is off in the files that include this header (the examples' mains). */
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif

typedef struct cli_opt {
    const char *name;     /* without the leading "--" */
    cli_type type;
    void *dst;            /* holds the default on entry */
    const char *metavar;  /* "N", "DIR"; for CLI_CHOICE the choices "a|b|c" */
    const char *help;
    cli_range range;      /* numeric options only; {0}: any (finite) value of the type */
} cli_opt;

/* The usual --threads entry (the range comes from the name, see above). */
#define CLI_THREADS_OPT(dst) \
    {"threads", CLI_INT, (dst), "N", "OpenMP threads (0: all cores)", {0, 0, 0}}

typedef struct cli_program {
    const char *name;     /* "vae" */
    const char *summary;  /* one line */
    const char *epilog;   /* examples and notes after the option list; may be NULL */
} cli_program;

/* Parses --name VALUE and --name=VALUE.  Returns 0, 1 after printing --help or --version
 * to stdout, or -1 after printing "<prog>: <problem>" to stderr (unknown option with a
 * suggestion, a missing or malformed value, a number outside its range or not finite, a
 * word outside the choices). */
int cli_parse(int argc, char **argv, const cli_program *prog, cli_opt *opts);
/* Prints the usage text (what --help shows). */
void cli_usage(const cli_program *prog, const cli_opt *opts, void *file);
/* Prints "<name> (henbun VERSION, float|double)": what --version shows. */
void cli_version(const char *name);
/* Is x inside o's range (its own, or --threads' implicit one)?  What cli_parse checks,
 * without the message: the harness checks a checkpoint's fields with it. */
bool cli_in_range(const cli_opt *o, double x);
/* The largest --threads accepted: 4 x the online cores, at least 4, at most 256. */
int cli_max_threads(void);

/* Overflow-safe sizes for what the flags multiply into allocations (batch x features,
 * samples x latent...).  *out = the product of the n non-negative factors; false (and *out
 * untouched) when a factor is negative or the product exceeds limit.  A program then says
 * "<prog>: --batch 1000000 x --latent 100000 is too large" and exits 2. */
bool cli_product(size_t *out, size_t limit, int n, const long long *factors);

#endif
