/* error.c — nn_fail: the one way nn/ reports an outside-world error (see nn/error.h). */
#include "nn/error.h"

#include <stdarg.h>
#include <stdio.h>

int nn_fail(nn_error *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}
