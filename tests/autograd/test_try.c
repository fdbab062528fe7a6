/* test_try.c — ag_try turns a programmer error into a return value: the message, the
 * caller's handler restored (with its user pointer), nesting, and a tape that keeps
 * working after the failed call once cleared. */
#include "tests/test.h"
#include "autograd/autograd.h"

#include <string.h>

typedef struct { ag_tape *t; int a_cols, b_rows; ag_real result; } matmul_call;

static void do_matmul(void *ctx) { /* sum((ones(2, a_cols) · ones(b_rows, 3))) */
    matmul_call *c = ctx;
    ag_tensor *a = ag_ones(c->t, 2, (int[]){2, c->a_cols});
    ag_tensor *b = ag_ones(c->t, 2, (int[]){c->b_rows, 3});
    c->result = ag_item(ag_sum(c->t, ag_matmul(c->t, a, b, false, false)));
}

static void never_called(const char *op, const char *message, void *user) {
    (void)op, (void)message, (void)user;
}

TEST(try_returns_a_programmer_error_with_its_message) {
    int marker = 0;
    void *before_user;
    ag_error_fn before = ag_get_error_handler(&before_user);
    ag_set_error_handler(never_called, &marker);
    ag_tape *t = ag_tape_new(1);
    char msg[256] = "stale";
    matmul_call good = {t, 4, 4, 0};
    CHECK(ag_try(do_matmul, &good, msg, sizeof msg) == 0);
    CHECK(good.result == 24 && msg[0] == '\0'); /* 2×3 entries of 4 */
    matmul_call bad = {t, 4, 5, -1};
    CHECK(ag_try(do_matmul, &bad, msg, sizeof msg) == -1);
    CHECK(strstr(msg, "matmul: inner dimensions differ: (2, 4) · (5, 3)") == msg);
    CHECK(bad.result == -1); /* the call stopped at the error */
    /* the caller's handler and user pointer are back */
    void *user = NULL;
    CHECK(ag_get_error_handler(&user) == never_called && user == &marker);
    /* the tape works again once cleared, and gives what a fresh one gives */
    ag_tape_clear(t);
    CHECK(ag_try(do_matmul, &good, NULL, 0) == 0 && good.result == 24);
    CHECK(ag_try(do_matmul, &bad, NULL, 0) == -1); /* no message buffer is fine */
    ag_tape_free(t);
    ag_set_error_handler(before, before_user);
}

typedef struct { ag_tape *t; int inner_status; char inner_msg[128]; } nested_call;

static void inner_fails_then_outer_fails(void *ctx) {
    nested_call *c = ctx;
    matmul_call bad = {c->t, 2, 3, 0};
    c->inner_status = ag_try(do_matmul, &bad, c->inner_msg, sizeof c->inner_msg);
    ag_tensor *x = ag_ones(c->t, 1, (int[]){3});
    ag_reshape(c->t, x, 1, (int[]){4}); /* an error for the outer ag_try */
}

TEST(try_nests) {
    ag_tape *t = ag_tape_new(1);
    nested_call c = {t, 0, ""};
    char msg[256];
    CHECK(ag_try(inner_fails_then_outer_fails, &c, msg, sizeof msg) == -1);
    CHECK(c.inner_status == -1 && strstr(c.inner_msg, "matmul:") == c.inner_msg);
    CHECK(strstr(msg, "reshape") != NULL);
    ag_tape_free(t);
}
