/* error.c — nn_fail: the one way nn/ reports an outside-world error (see nn/error.h); and
 * nn_read_file, the one whole-file read of checkpoints and .safetensors files. */
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
