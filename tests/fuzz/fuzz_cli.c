/* fuzz_cli.c — libFuzzer target for the examples' command-line parser
 * (examples/common/cli.c).  The input is split into arguments at every NUL byte or newline
 * (argv[0] is "fuzz") and parsed against a table with one option of every kind (int, u64,
 * real, string, choice, flag) whose names are close to each other, so the "did you mean"
 * edit distance is exercised too.  The numeric options carry ranges of every shape
 * (closed, half-open, one-sided, the implicit one of --threads, none).
 *
 * Command lines come from users and scripts.  A crash, sanitizer report, leak or abort
 * here means some arguments make a program die instead of printing "<prog>: <problem>" and
 * exiting with status 2.  The target also checks that a successful parse leaves every
 * choice option holding one of its choices and every number finite and inside its range.  Run it with -close_fd_mask=3: the parser
 * prints its messages and --help, which would only slow the fuzzer down. */
#include "examples/common/cli.h"

#include <stdbool.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_ARGS = 64 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size + 1);
    char *argv[MAX_ARGS + 2] = {"fuzz"};
    if (!buf) abort();
    memcpy(buf, data, size);
    buf[size] = 0;
    int argc = 1;
    char *start = buf;
    for (size_t i = 0; i <= size && argc <= MAX_ARGS; i++) {
        if (i == size || buf[i] == 0 || buf[i] == '\n') {
            buf[i] = 0;
            if (i < size || start < buf + size) argv[argc++] = start; /* no empty last arg */
            start = buf + i + 1;
        }
    }
    argv[argc] = NULL;

    int epochs = 10, batch = 100, threads = 0, every = 1;
    uint64_t seed = 1;
    double lr = 1e-3, beta = 1, p = 0.5, x = 0;
    const char *out = "out", *data_dir = "data/mnist", *dataset = "mnist", *model = "vae";
    bool quiet = false, binarize = false;
    static const char *const model_choices = "vae|iwae|infovae|tcvae";
    cli_opt opts[] = {
        {"epochs", CLI_INT, &epochs, "N", "passes over the training set", CLI_AT_LEAST(0)},
        {"batch", CLI_INT, &batch, "N", "minibatch size", CLI_IN(1, 60000)},
        {"every", CLI_INT, &every, "N", "steps between pictures", CLI_ABOVE(0)},
        {"seed", CLI_U64, &seed, "S", "random seed", CLI_IN(0, 1e15)},
        {"lr", CLI_REAL, &lr, "RATE", "learning rate", CLI_IN_OC(0, 10)},
        {"beta", CLI_REAL, &beta, "B", "weight of the KL term", CLI_ABOVE(0)},
        {"p", CLI_REAL, &p, "P", "a probability", CLI_IN_CO(0, 1)},
        {"x", CLI_REAL, &x, "X", "any finite number"},
        CLI_THREADS_OPT(&threads),
        {"out", CLI_STRING, &out, "DIR", "output directory"},
        {"data", CLI_STRING, &data_dir, "DIR", "data directory"},
        {"dataset", CLI_CHOICE, &dataset, "mnist|fashion", "which data set"},
        {"model", CLI_CHOICE, &model, model_choices, "objective"},
        {"quiet", CLI_FLAG, &quiet, NULL, "no progress bar"},
        {"binarize", CLI_FLAG, &binarize, NULL, "dynamic binarization"},
        {0}};
    cli_program prog = {"fuzz", "the fuzz target's option table", "examples:\n  fuzz --lr 1e-3"};
    int rc = cli_parse(argc, argv, &prog, opts);
    if (rc < -1 || rc > 1) __builtin_trap();
    if (rc == 0) {
        bool ok = !strcmp(dataset, "mnist") || !strcmp(dataset, "fashion");
        ok = ok && (!strcmp(model, "vae") || !strcmp(model, "iwae") || !strcmp(model, "infovae") ||
                    !strcmp(model, "tcvae"));
        ok = ok && epochs >= 0 && batch >= 1 && batch <= 60000 && every > 0 && seed <= 1e15;
        ok = ok && lr > 0 && lr <= 10 && beta > 0 && isfinite(beta) && p >= 0 && p < 1;
        ok = ok && isfinite(x) && threads >= 0 && threads <= cli_max_threads();
        if (!ok) __builtin_trap();
    }
    free(buf);
    return 0;
}
