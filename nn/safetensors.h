/* safetensors.h — weights in and out as .safetensors, the format PyTorch, NumPy and Hugging
 * Face users exchange tensors in (docs/safetensors.md):
 *
 *   u64 N (little-endian) | N bytes of JSON header, padded with spaces | raw little-endian data
 *   header: {"__metadata__": {"key": "value", ...},
 *            "decoder.0.linear.weight": {"dtype": "F32", "shape": [400, 20],
 *                                        "data_offsets": [0, 32000]}, ...}
 *
 *   const char *meta[] = {"model", "vae", "decoder", spec_text, NULL};   // key, value, ..., NULL
 *   if (nn_safetensors_save("vae.safetensors", vae_params(m), meta, &err)) ...
 *   if (nn_safetensors_load("vae.safetensors", vae_params(m), &err)) ...
 *
 * Our tensors are already in PyTorch's layout (linear (out, in), conv (F, C, k, k),
 * transposed conv (C, F, k, k)), so the names and shapes are all a reader needs.  Writing is
 * atomic (temporary file, fsync, rename).  Reading trusts nothing in the file: the header
 * length, the JSON (ours: nn/json.h, fuzzed), every dtype, shape and offset, and that the
 * tensors tile the data exactly, are checked before any value is copied; a load either
 * succeeds completely or changes nothing.  F32 and F64 files load into either build. */
#ifndef HENBUN_NN_SAFETENSORS_H
#define HENBUN_NN_SAFETENSORS_H

#include "autograd/autograd.h"
#include "nn/error.h"
#include "nn/params.h"

#include <stdbool.h>

HENBUN_BEGIN_DECLS

/* Largest header accepted when reading (the reference implementation's limit). */
#define NN_ST_HEADER_MAX (100u << 20)

/* Writes every tensor of the list (in its order, dtype F32 in the float build and F64 in
 * the double build) and the metadata: a NULL-terminated array of key, value strings
 * (NULL: none), stored in "__metadata__".  Atomic like nn_checkpoint_save; returns 0, or
 * -1 with err naming the file (nothing is left at path on failure).  Misuse (ag_error):
 * empty, over-long or duplicate names, the name "__metadata__", a NULL tensor or value,
 * a repeated metadata key, text that is not valid UTF-8. */
int nn_safetensors_save(const char *path, const nn_param_list *tensors,
                        const char *const *metadata, nn_error *err);

/* Reads path into the existing tensors of the list: every tensor of the list must be in
 * the file with the same shape, and the file may hold no other.  Values are converted to
 * ag_real (a float64 value beyond float's range is an error in the float build).  Returns
 * 0, or -1 with err (the file, the tensor, both shapes) and nothing modified. */
int nn_safetensors_load(const char *path, const nn_param_list *tensors, nn_error *err);

/* Weights-only loading, for --eval and --resume: like nn_safetensors_load, except that the
 * entries of the list whose names start with state_prefix (e.g. "optim.", where a program
 * put nn_optim_state) may be missing from the file — all of them, then they are left as
 * they are, or none.  Returns 0 when the file held the weights only, 1 when it held the
 * state too (and it was loaded), -1 on error (nothing modified). */
int nn_safetensors_load_weights(const char *path, const nn_param_list *tensors,
                                const char *state_prefix, nn_error *err);

/* ---- looking inside ---------------------------------------------------------------------- */

/* An opened, fully verified file (its data in memory). */
typedef struct nn_safetensors nn_safetensors;

nn_safetensors *nn_safetensors_open(const char *path, nn_error *err); /* NULL + err */
void nn_safetensors_close(nn_safetensors *f);                        /* NULL is fine */
/* The metadata value of key, or NULL; valid until close. */
const char *nn_safetensors_meta(const nn_safetensors *f, const char *key);
/* Loads like nn_safetensors_load_weights (state_prefix NULL: every entry is required). */
int nn_safetensors_read(nn_safetensors *f, const nn_param_list *tensors,
                        const char *state_prefix, nn_error *err);
/* Prints the dtype, the metadata and one line "name dtype (shape)" per tensor to file (a FILE*). */
void nn_safetensors_print(const nn_safetensors *f, void *file);

/* True when path starts like a .safetensors file (a header length that fits in the file,
 * then '{'), so a program can tell it from a henbun checkpoint ("HENBUNCK") before choosing
 * a loader.  It only looks: nn_safetensors_open still verifies everything. */
bool nn_safetensors_probe(const char *path);

HENBUN_END_DECLS

#endif
