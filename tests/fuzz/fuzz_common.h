/* fuzz_common.h — what the fuzz targets and the seed-corpus generator (make_corpus.c) must
 * agree on: the small model whose checkpoints fuzz_checkpoint loads, and the per-process
 * scratch file the targets hand to path-taking loaders.  Header-only (static functions),
 * because each fuzz target is one translation unit linked with libFuzzer. */
#ifndef HENBUN_TESTS_FUZZ_COMMON_H
#define HENBUN_TESTS_FUZZ_COMMON_H

#include "nn/nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The checkpointed model: a small MLP with batch norm (so buffers are in the file too)
 * and Adam's state (optim.step, adam.m.*, adam.v.*), on inputs of 4 values. */
#define FUZZ_CKPT_SPEC "linear 3, batchnorm, relu, linear 2"
#define FUZZ_CKPT_IN 4

typedef struct fuzz_model {
    nn_net *net;
    nn_optim *opt;
    nn_param_list all; /* the net's entries, then the optimizer's: what a program saves */
} fuzz_model;

/* Builds the model with weights from `seed`; aborts if the library cannot (a harness bug). */
static inline void fuzz_model_new(fuzz_model *m, uint64_t seed) {
    ag_rng rng;
    ag_rng_seed(&rng, seed);
    nn_error err;
    m->net = nn_net_parse(FUZZ_CKPT_SPEC, 1, (int[]){FUZZ_CKPT_IN}, NULL, &rng, &err);
    if (!m->net) {
        fprintf(stderr, "fuzz_model_new: %s\n", err.msg);
        abort();
    }
    m->opt = nn_adam(&m->net->params, 1e-3);
    m->all = (nn_param_list){0};
    nn_params_extend(&m->all, NULL, &m->net->params);
    nn_optim_state(m->opt, NULL, &m->all);
}

static inline void fuzz_model_free(fuzz_model *m) {
    nn_params_free(&m->all);
    nn_optim_free(m->opt);
    nn_net_free(m->net);
}

/* "/tmp/henbun-fuzz-<what>-<pid>": one scratch file per process, so parallel fuzzing jobs
 * (-jobs=N, -fork=N) never share it.  The caller unlinks it after each use. */
static inline const char *fuzz_tmp_path(char *buf, size_t n, const char *what) {
    snprintf(buf, n, "/tmp/henbun-fuzz-%s-%ld", what, (long)getpid());
    return buf;
}

/* Writes the bytes to path (replacing it); aborts on failure, which would be the
 * machine's problem and not a finding.  Removes the old file first: ext4 flushes a file
 * that was truncated and rewritten when it is closed, which costs milliseconds a run. */
static inline void fuzz_write_file(const char *path, const uint8_t *data, size_t size) {
    unlink(path);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

#endif
