/* error.h — errors from the outside world (files, data, text), returned instead of aborting.
 *
 * Programmer errors (a NULL where none is allowed, a bad shape) go through ag_error and abort
 * by default.  Everything a user can get wrong without a bug in their code — a missing or
 * truncated file, a header that lies — is returned: the function returns -1 (or NULL) and,
 * when the caller passed an nn_error, fills it with one line "<file>: <what is wrong>".
 *
 * Example (compiled by make test: tests/programs/header_examples.sh):
 *   nn_error err;
 *   nn_dataset *d = nn_dataset_load_mnist("data/mnist", "train", &err);
 *   if (!d) { fprintf(stderr, "%s\n", err.msg); return 1; }
 */
#ifndef HENBUN_NN_ERROR_H
#define HENBUN_NN_ERROR_H

#include "autograd/version.h"
#include <stddef.h>

HENBUN_BEGIN_DECLS

typedef struct nn_error {
    char msg[512]; /* "<file>: <what is wrong>", NUL-terminated, truncated if longer */
} nn_error;

/* Formats the message into err (when err is non-NULL) and returns -1, so a failing function
 * can end with `return nn_fail(err, "%s: truncated", path);`. */
int nn_fail(nn_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Reads the whole regular file at path into *buf (malloc'd, *len bytes; the caller frees
 * it).  Opened non-blocking and checked with fstat first, so a FIFO or a device is refused
 * ("not a regular file") instead of hanging.  0, or -1 with err naming the file. */
int nn_read_file(const char *path, unsigned char **buf, size_t *len, nn_error *err);

HENBUN_END_DECLS

#endif
