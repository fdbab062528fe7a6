/* cli_driver.c — a program around examples/common/cli.c for tests/programs/cli_ranges.sh:
 * one option of every kind and every sort of range.  On a successful parse it prints each
 * value ("epochs=3 ...") and exits 0; a refused flag exits 2, --help/--version exit 0.
 * With the single argument "product A B C LIMIT" it prints cli_product's answer instead. */
#include "examples/common/cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc == 6 && !strcmp(argv[1], "product")) {
        long long f[3] = {atoll(argv[2]), atoll(argv[3]), atoll(argv[4])};
        size_t out = 0;
        bool ok = cli_product(&out, (size_t)strtoull(argv[5], NULL, 10), 3, f);
        printf(ok ? "%zu\n" : "overflow\n", out);
        return 0;
    }
    int epochs = 10, batch = 100, threads = 0, every = 1;
    uint64_t seed = 1;
    double lr = 1e-3, p = 0.5, beta = 1, free_real = 0;
    const char *out = "out";
    cli_opt opts[] = {
        {"epochs", CLI_INT, &epochs, "N", "passes", CLI_AT_LEAST(0)},
        {"batch", CLI_INT, &batch, "N", "minibatch", CLI_IN(1, 60000)},
        {"every", CLI_INT, &every, "N", "steps between pictures", CLI_ABOVE(0)},
        {"seed", CLI_U64, &seed, "S", "seed", CLI_IN(0, 1e15)},
        {"lr", CLI_REAL, &lr, "RATE", "learning rate", CLI_IN_OC(0, 10)},
        {"p", CLI_REAL, &p, "P", "a probability below 1", CLI_IN_CO(0, 1)},
        {"beta", CLI_REAL, &beta, "B", "strictly positive", CLI_ABOVE(0)},
        {"x", CLI_REAL, &free_real, "X", "any finite number"},
        CLI_THREADS_OPT(&threads),
        {"out", CLI_STRING, &out, "DIR", "output"},
        {0}};
    cli_program prog = {"driver", "cli range test driver", NULL};
    int rc = cli_parse(argc, argv, &prog, opts);
    if (rc) return rc < 0 ? 2 : 0;
    printf("epochs=%d batch=%d every=%d seed=%" PRIu64 " lr=%g p=%g beta=%g x=%g threads=%d "
           "max_threads=%d\n", epochs, batch, every, seed, lr, p, beta, free_real, threads,
           cli_max_threads());
    return 0;
}
