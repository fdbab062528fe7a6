/* error.c — nn_fail: the one way nn/ reports an outside-world error (see nn/error.h);
 * nn_read_file, the one whole-file read of checkpoints and .safetensors files; and
 * nn_atomic_begin/end, the one all-or-nothing write of checkpoints, .safetensors files,
 * pictures and run pages. */
#include "nn/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int nn_fail(nn_error *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int nn_read_file(const char *path, unsigned char **buf, size_t *len, nn_error *err) {
    /* O_NONBLOCK, then fstat: a FIFO or a device is refused instead of hanging the open. */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return nn_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return nn_fail(err, "%s: not a regular file", path);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl != -1) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return nn_fail(err, "%s: cannot open: %s", path, strerror(errno));
    }
    if ((uintmax_t)st.st_size > SIZE_MAX) {
        fclose(f);
        return nn_fail(err, "%s: too large to read (%jd bytes)", path, (intmax_t)st.st_size);
    }
    *len = (size_t)st.st_size;
    *buf = malloc(*len ? *len : 1);
    if (!*buf) {
        fclose(f);
        return nn_fail(err, "%s: out of memory for %zu bytes", path, *len);
    }
    size_t got = fread(*buf, 1, *len, f);
    bool failed = ferror(f) != 0;
    fclose(f);
    if (failed || got != *len)
        return nn_fail(err, "%s: read error after %zu of %zu bytes", path, got, *len);
    return 0;
}

/* ---- writing a file whole or not at all ------------------------------------------------ */

int nn_atomic_begin(nn_atomic_file *a, const char *path, nn_error *err) {
    a->f = NULL, a->path = path;
    size_t n = strlen(path) + 32;
    a->tmp = malloc(n);
    if (!a->tmp) return nn_fail(err, "%s: out of memory", path);
    snprintf(a->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    /* O_NONBLOCK: a FIFO squatting on the temporary name must not hang the open. */
    int fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_CLOEXEC, 0666);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
        errno = EINVAL;
    } else if (fd < 0 && errno == ENXIO) {
        errno = EINVAL; /* a FIFO without a reader: the non-blocking open says ENXIO */
    }
    if (fd >= 0) {
        int fl = fcntl(fd, F_GETFL);
        if (fl != -1) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
        a->f = fdopen(fd, "wb");
        if (!a->f) {
            int e = errno;
            close(fd);
            unlink(a->tmp);
            errno = e;
        }
    }
    if (!a->f) {
        int e = errno;
        nn_fail(err, "%s: cannot create the temporary file %s: %s", path, a->tmp,
                e == EINVAL ? "it exists and is not a regular file" : strerror(e));
        free(a->tmp);
        a->tmp = NULL;
        return -1;
    }
    return 0;
}

/* The directory part of path, fsynced so that the rename itself is durable.  Best effort:
 * some file systems refuse to fsync a directory, and the file is complete either way. */
static void sync_parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

int nn_atomic_end(nn_atomic_file *a, const char *why, nn_error *err) {
    if (!a->f) return nn_fail(err, "%s: nothing to finish (nn_atomic_begin failed)", a->path);
    if (!why && (fflush(a->f) != 0 || fsync(fileno(a->f)) != 0)) why = strerror(errno);
    errno = 0;
    if (fclose(a->f) != 0 && !why) why = strerror(errno ? errno : EIO);
    a->f = NULL;
    if (!why && rename(a->tmp, a->path) != 0) why = strerror(errno);
    int rc = 0;
    if (why) {
        rc = nn_fail(err, "%s: cannot write (via %s): %s; the old file, if any, is unchanged",
                     a->path, a->tmp, why);
        unlink(a->tmp);
    } else {
        sync_parent_dir(a->path);
    }
    free(a->tmp);
    a->tmp = NULL;
    return rc;
}
