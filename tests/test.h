/* test.h — henbun's tiny test harness: no framework, one binary per precision.
 *
 *   TEST(adds_numbers) { CHECK(1 + 1 == 2); CHECK_NEAR(0.1 + 0.2, 0.3, 1e-12); }
 *
 * TEST registers the function before main runs (a constructor), so a new test file only
 * has to exist under tests/<floor>/ to be built and run.  A failed CHECK prints file:line
 * and the values, marks the test failed and carries on with the next statement.
 * EXPECT_ERROR(stmt) asserts that stmt reaches ag_error (the handler longjmps back). */
#ifndef HENBUN_TEST_H
#define HENBUN_TEST_H

#include <math.h>
#include <setjmp.h>
#include <stdio.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn, const char *file);
void test_fail(const char *file, int line, const char *fmt, ...);
/* Temporary directory for this run (created once, removed at exit unless a test failed). */
const char *test_tmpdir(void);
/* "<test_tmpdir()>/<name>", in one of 8 rotating buffers (valid until 8 more calls). */
const char *test_tmp_path(const char *name);

/* The last error message ag_error produced while EXPECT_ERROR was active. */
extern char test_last_error[512];
extern jmp_buf *test_error_jump;
void test_install_error_trap(void);

#define TEST(name)                                                                     \
    static void name(void);                                                            \
    __attribute__((constructor)) static void name##_register(void) {                   \
        test_register(#name, name, __FILE__);                                          \
    }                                                                                  \
    static void name(void)

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                          \
    do {                                                                               \
        double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);                 \
        if (!(fabs(a_ - b_) <= t_))                                                    \
            test_fail(__FILE__, __LINE__, "CHECK_NEAR(%s, %s): %.10g vs %.10g (tol %g)", \
                      #a, #b, a_, b_, t_);                                             \
    } while (0)

/* Runs stmt; passes if it raised an ag_error (message kept in test_last_error). */
#define EXPECT_ERROR(stmt)                                                             \
    do {                                                                               \
        jmp_buf jb_;                                                                   \
        jmp_buf *prev_ = test_error_jump;                                              \
        test_error_jump = &jb_;                                                        \
        test_last_error[0] = 0;                                                        \
        if (setjmp(jb_) == 0) {                                                        \
            stmt;                                                                      \
            test_error_jump = prev_;                                                   \
            test_fail(__FILE__, __LINE__, "expected an error from: %s", #stmt);        \
        } else {                                                                       \
            test_error_jump = prev_;                                                   \
        }                                                                              \
    } while (0)

#endif
