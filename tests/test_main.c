/* test_main.c — runs every registered TEST, optionally only those whose name or file
 * contains argv[1], and ends with the line "N passed, N failed". */
#include "tests/test.h"
#include "autograd/autograd.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TESTS 4096
static struct { const char *name, *file; test_fn fn; } tests[MAX_TESTS];
static int n_tests, current_failed, any_failed;
char test_last_error[512];
jmp_buf *test_error_jump;
static char tmpdir[256];

void test_register(const char *name, test_fn fn, const char *file) {
    if (n_tests == MAX_TESTS) { fprintf(stderr, "too many tests\n"); exit(2); }
    tests[n_tests].name = name; tests[n_tests].fn = fn; tests[n_tests].file = file;
    n_tests++;
}

void test_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "    %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    current_failed = 1;
}

const char *test_tmpdir(void) {
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/henbun-test-XXXXXX");
        if (!mkdtemp(tmpdir)) { perror("mkdtemp"); exit(2); }
    }
    return tmpdir;
}

const char *test_tmp_path(const char *name) {
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", test_tmpdir(), name);
    return p;
}

/* Errors raised inside EXPECT_ERROR jump back; anywhere else they fail the test loudly. */
static void trap(const char *op, const char *msg, void *user) {
    (void)user;
    snprintf(test_last_error, sizeof test_last_error, "%s: %s", op, msg);
    if (test_error_jump) longjmp(*test_error_jump, 1);
    fprintf(stderr, "henbun: %s: %s (unexpected error)\n", op, msg);
    abort();
}
void test_install_error_trap(void) { ag_set_error_handler(trap, NULL); }

static int by_file(const void *a, const void *b) {
    const int *x = a, *y = b;
    int c = strcmp(tests[*x].file, tests[*y].file);
    return c ? c : *x - *y;
}

int main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0, order[MAX_TESTS];
    for (int i = 0; i < n_tests; i++) order[i] = i;
    qsort(order, (size_t)n_tests, sizeof order[0], by_file);
    test_install_error_trap();
    for (int k = 0; k < n_tests; k++) {
        int i = order[k];
        if (filter && !strstr(tests[i].name, filter) && !strstr(tests[i].file, filter))
            continue;
        current_failed = 0;
        tests[i].fn();
        printf("%s %-48s %s\n", current_failed ? "FAIL" : "ok  ", tests[i].name,
               tests[i].file);
        fflush(stdout);
        if (current_failed) failed++, any_failed = 1; else passed++;
    }
    if (tmpdir[0] && !any_failed) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
