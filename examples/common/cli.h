/* cli.h — the command-line parser every example shares.  A program lists its options in
 * a table; --help is generated from the same table, so the two cannot disagree.
 *
 *   int epochs = 10; const char *dataset = "mnist";
 *   cli_opt opts[] = {
 *       {"epochs", CLI_INT, &epochs, "N", "passes over the training set"},
 *       {"dataset", CLI_CHOICE, &dataset, "mnist|fashion", "which data"},
 *       {0}};
 *   int rc = cli_parse(argc, argv, &(cli_program){"vae", "train a VAE", NULL}, opts);
 *   if (rc) return rc < 0 ? 2 : 0;      // -1: bad flag (message printed), 1: --help shown
 */
#ifndef HENBUN_EXAMPLES_CLI_H
#define HENBUN_EXAMPLES_CLI_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    CLI_INT,     /* int *            --epochs 10 */
    CLI_U64,     /* uint64_t *       --seed 7 */
    CLI_REAL,    /* double *         --lr 1e-3 */
    CLI_STRING,  /* const char **    --out DIR */
    CLI_CHOICE,  /* const char **    one of the '|'-separated words in metavar */
    CLI_FLAG,    /* bool *           --quiet (no value) */
} cli_type;

typedef struct cli_opt {
    const char *name;     /* without the leading "--" */
    cli_type type;
    void *dst;            /* holds the default on entry */
    const char *metavar;  /* "N", "DIR"; for CLI_CHOICE the choices "a|b|c" */
    const char *help;
} cli_opt;

typedef struct cli_program {
    const char *name;     /* "vae" */
    const char *summary;  /* one line */
    const char *epilog;   /* examples and notes after the option list; may be NULL */
} cli_program;

/* Parses --name VALUE and --name=VALUE.  Returns 0, 1 after printing --help to stdout, or
 * -1 after printing "<prog>: <problem>" to stderr (unknown option with a suggestion, a
 * missing or malformed value, a word outside the choices). */
int cli_parse(int argc, char **argv, const cli_program *prog, cli_opt *opts);
/* Prints the usage text (what --help shows). */
void cli_usage(const cli_program *prog, const cli_opt *opts, void *file);

#endif
