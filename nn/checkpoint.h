/* checkpoint.h — saving and restoring named tensors (parameters, buffers, optimizer state)
 * with a little metadata, atomically and with a checksum.  The byte layout is documented in
 * docs/checkpoint-format.md.
 *
 * Example (compiled by make test: tests/programs/header_examples.sh):
 *   nn_param_list all = {0};
 *   nn_params_extend(&all, NULL, &model_params);
 *   nn_optim_state(opt, NULL, &all);                   // Adam's m, v and the step count
 *   nn_ckpt_meta meta = { .step = step, .epoch = epoch, .rng = rng };
 *   snprintf(meta.text, sizeof meta.text, "%s", spec_text);
 *   if (nn_checkpoint_save("run/ckpt.bin", &all, &meta, &err)) { puts(err.msg); exit(1); }
 *   ...
 *   if (nn_checkpoint_load("run/ckpt.bin", &all, &meta, &err)) { puts(err.msg); exit(1); }
 *
 * Loading is all-or-nothing: the whole file is read and its CRC-32 verified, every tensor
 * of the list must be in the file with the same shape and the file may hold no other, and
 * only then are the tensors (and meta) written (nn_checkpoint_load_weights: the file may
 * hold others, which are passed over).  A file saved by the float build loads
 * into the double build and vice versa (values are converted).
 */
#ifndef HENBUN_NN_CHECKPOINT_H
#define HENBUN_NN_CHECKPOINT_H

#include "autograd/autograd.h"
#include "nn/error.h"
#include "nn/params.h"

#include <stdint.h>

HENBUN_BEGIN_DECLS

#define NN_CKPT_VERSION 1
/* Bytes of meta.text, including its terminating NUL.  A text is saved only when it is at
 * most NN_CKPT_TEXT_MAX - 2 bytes long: one that fills the array to the last byte is what
 * snprintf(meta.text, sizeof meta.text, ...) leaves when it cuts, so saving refuses it
 * (nothing is ever cut silently; a program should also check snprintf's result).  Files
 * whose text is longer than this build's limit are refused by the loader, with the length. */
#define NN_CKPT_TEXT_MAX 65536
#define NN_CKPT_NAME_MAX 1024 /* bytes of a tensor name, without a NUL */

/* What a training program needs, besides tensors, to resume exactly where it stopped. */
typedef struct nn_ckpt_meta {
    int64_t step;                 /* e.g. minibatches seen */
    int64_t epoch;
    ag_rng rng;                   /* the program's PRNG state (minibatch order, noise) */
    char text[NN_CKPT_TEXT_MAX];  /* free-form, NUL-terminated: model spec, command line */
} nn_ckpt_meta;

/* Writes every tensor of the list (trainable or not) and meta (NULL: zeros, empty text)
 * to path.  Atomic: writes "path.tmp.<pid>", flushes and fsyncs it, then renames it over
 * path; on any failure the temporary file is removed, the old path is left untouched, and
 * -1 is returned with err naming the file.  A meta text of NN_CKPT_TEXT_MAX - 1 bytes (an
 * array filled to the end: probably cut) is such a failure.  Names must be unique and non-empty (misuse:
 * ag_error). */
int nn_checkpoint_save(const char *path, const nn_param_list *tensors, const nn_ckpt_meta *meta,
                       nn_error *err);

/* Reads path into the existing tensors of the list (data only, converted to ag_real) and
 * into meta (NULL: ignored).  Returns 0, or -1 with err saying what is wrong — bad magic,
 * unsupported version, checksum mismatch (corrupt or truncated), the first tensor of the
 * list that is missing or has another shape (both shapes given), or a tensor in the file
 * the list does not have — in which case no tensor and no field of meta was modified. */
int nn_checkpoint_load(const char *path, const nn_param_list *tensors, nn_ckpt_meta *meta,
                       nn_error *err);

/* Like nn_checkpoint_load, but tensors of the file that the list does not name are passed
 * over: a model's weights out of a training checkpoint that also holds an optimizer's
 * state (or anything else), or out of a weights-only file.  Every tensor of the list must
 * still be in the file with its shape; all-or-nothing as above.
 *
 * Example (compiled by make test: tests/programs/header_examples.sh):
 *   nn_param_list w = {0};
 *   nn_params_extend(&w, "net", &net->params);        // no optimizer built to load them
 *   if (nn_checkpoint_load_weights("run/ckpt.bin", &w, NULL, &err)) { puts(err.msg); exit(1); }
 */
int nn_checkpoint_load_weights(const char *path, const nn_param_list *tensors,
                               nn_ckpt_meta *meta, nn_error *err);

/* Reads and verifies path like nn_checkpoint_load but touches no tensor: fills meta
 * (for a program that rebuilds its model from meta.text before loading the weights) and,
 * when file (a FILE*) is non-NULL, prints the version, precision, meta and one line per
 * tensor "name (shape)".  Returns 0, or -1 with err. */
int nn_checkpoint_info(const char *path, nn_ckpt_meta *meta, void *file, nn_error *err);

HENBUN_END_DECLS

#endif
