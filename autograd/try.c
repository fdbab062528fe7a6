/* try.c — ag_try: a programmer error returned as -1 and a message instead of an abort, for
 * language bindings and programs that must outlive a bad call.  It is the longjmp handler
 * the tests use, packaged once: install a handler that jumps back here, run the call,
 * restore the caller's handler. */
#include "autograd/autograd.h"

#include <setjmp.h>
#include <stdio.h>

/* The innermost ag_try of this thread (ag_try nests: each frame restores the one outside). */
typedef struct try_frame {
    jmp_buf jump;
    char *msg;
    size_t msg_size;
} try_frame;
static _Thread_local try_frame *innermost;

static void jump_back(const char *op, const char *message, void *user) {
    (void)user;
    try_frame *f = innermost;
    if (f->msg && f->msg_size > 0) snprintf(f->msg, f->msg_size, "%s: %s", op, message);
    longjmp(f->jump, 1);
}

int ag_try(void (*fn)(void *ctx), void *ctx, char *msg, size_t msg_size) {
    try_frame frame = {.msg = msg, .msg_size = msg_size};
    try_frame *outer = innermost;
    void *previous_user;
    ag_error_fn previous = ag_get_error_handler(&previous_user);
    ag_set_error_handler(jump_back, NULL);
    innermost = &frame;
    int status = 0;
    if (setjmp(frame.jump) != 0) status = -1; /* jump_back landed here */
    else fn(ctx);
    innermost = outer;
    ag_set_error_handler(previous, previous_user);
    if (status == 0 && msg && msg_size > 0) msg[0] = '\0';
    return status;
}
