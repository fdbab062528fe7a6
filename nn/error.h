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
#include <stdio.h>

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

/* Writing a file whole or not at all, the one way nn/ and the programs write results.
 * nn_atomic_begin opens "<path>.tmp.<pid>" beside path for writing (a FIFO or anything but a
 * regular file squatting on that name is refused at once, without hanging); the caller
 * writes through a->f and then calls nn_atomic_end with why = NULL, or with the reason its
 * writing failed.  nn_atomic_end flushes and fsyncs the file, renames it over path and
 * fsyncs the directory; on any failure it removes the temporary file, leaves path as it was
 * and says so in err.  Both return 0, or -1 with err naming the file; after a failed begin
 * there is nothing to end.  (Programs clean up a temporary file whose process died: see
 * examples/common/outdir.c.) */
typedef struct nn_atomic_file {
    FILE *f;          /* write here */
    const char *path; /* the caller's string, kept until nn_atomic_end */
    char *tmp;        /* "<path>.tmp.<pid>" */
} nn_atomic_file;
int nn_atomic_begin(nn_atomic_file *a, const char *path, nn_error *err);
int nn_atomic_end(nn_atomic_file *a, const char *why, nn_error *err);

HENBUN_END_DECLS

#endif
