/* fuzz_settings.c — libFuzzer target for what a --resume or --eval does with a checkpoint's
 * settings (examples/common/harness.c, settings.c): the input is the meta text, checked by
 * harness_check_fields against a program's tables and then read back by settings_read.
 * The tables have one setting of every kind (int, long, u64, double, bool, string, choice),
 * most tied to a flag whose range has a shape the real programs use (closed, half-open,
 * one-sided, none), one without a flag.
 *
 * The text comes from a file (its CRC only proves it was not damaged, not that it is
 * sane).  A crash or sanitizer report here is a bug; and whenever the check accepts the text
 * and settings_read succeeds, every value must be finite, inside its flag's range and (for
 * a choice) one of the choices, else the target aborts: a validation hole is a finding. */
#include "examples/common/harness.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) abort();
    memcpy(text, data, size);
    text[size] = 0;

    int latent = 20, samples = 1, warmup = 0;
    long step = 0;
    uint64_t seed = 1;
    double lr = 1e-3, beta = 1, drop = 0.5, shift = 0;
    bool binarize = false;
    const char *dataset = "mnist", *objective = "elbo", *net = "linear 10";
    cli_opt opts[] = {
        {"latent", CLI_INT, &latent, "N", "latent size", CLI_IN(1, 4096)},
        {"warmup", CLI_INT, &warmup, "N", "KL warm-up epochs", CLI_AT_LEAST(0)},
        {"seed", CLI_U64, &seed, "S", "random seed", CLI_IN(0, 1e15)},
        {"lr", CLI_REAL, &lr, "RATE", "learning rate", CLI_IN_OC(0, 10)},
        {"beta", CLI_REAL, &beta, "B", "KL weight", CLI_ABOVE(0)},
        {"drop", CLI_REAL, &drop, "P", "a probability", CLI_IN_CO(0, 1)},
        {"shift", CLI_REAL, &shift, "X", "any finite number"},
        {"binarize", CLI_FLAG, &binarize, NULL, "dynamic binarization"},
        {"dataset", CLI_CHOICE, &dataset, "mnist|fashion", "which data"},
        {"objective", CLI_CHOICE, &objective, "elbo|iwae|beta", "the loss"},
        {"net", CLI_STRING, &net, "SPEC", "the network"},
        {0}};
    const setting remembered[] = {
        {"latent", SET_INT, &latent},     {"warmup", SET_INT, &warmup},
        {"samples", SET_INT, &samples},   {"step", SET_LONG, &step},
        {"seed", SET_U64, &seed},         {"lr", SET_DOUBLE, &lr},
        {"beta", SET_DOUBLE, &beta},      {"drop", SET_DOUBLE, &drop},
        {"shift", SET_DOUBLE, &shift},    {"binarize", SET_BOOL, &binarize},
        {"dataset", SET_STRING, &dataset}, {"objective", SET_STRING, &objective},
        {"net", SET_STRING, &net},        {0}};
    harness h = {.name = "fuzz", .opts = opts, .remembered = remembered};

    harness_note_defaults(&h); /* as harness_begin does: every default here is in range */
    char why[768];
    if (harness_check_fields(&h, text, why, sizeof why) == 0 &&
        settings_read(text, "fuzz", remembered, "fuzz.ckpt") == 0) {
        bool ok = latent >= 1 && latent <= 4096 && warmup >= 0 && seed <= (uint64_t)1e15;
        ok = ok && lr > 0 && lr <= 10 && beta > 0 && isfinite(beta) && drop >= 0 && drop < 1;
        ok = ok && isfinite(shift);
        ok = ok && (!strcmp(dataset, "mnist") || !strcmp(dataset, "fashion"));
        ok = ok && (!strcmp(objective, "elbo") || !strcmp(objective, "iwae") ||
                    !strcmp(objective, "beta"));
        ok = ok && net && !strchr(net, '\n');
        if (!ok) abort();
    }
    free(text);
    return 0;
}
