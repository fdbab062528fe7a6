/* test_gradcheck_report.c — what ag_gradcheck says, not only whether it passes: the
 * tensor's name, which tolerance held (a gradient near 0 passes on the absolute one with a
 * large relative error, and the line must not read like a failure), a kink within ±h told
 * apart from a wrong backward, and shape errors that name their tensors.  The step and
 * tolerances are given explicitly (the float build's defaults), so both builds check the
 * same thing. */
#define _GNU_SOURCE /* open_memstream */
#include "tests/test.h"
#include "autograd/autograd.h"

#include <stdlib.h>
#include <string.h>

static const ag_gradcheck_opts float_opts = {.eps = 1e-2, .rtol = 2e-2, .atol = 1e-3, .seed = 7};

static ag_tensor *named(int n, const ag_real *v, const char *name) {
    ag_tensor *x = ag_tensor_new(1, (int[]){n}, true);
    memcpy(x->data, v, (size_t)n * sizeof *v);
    x->name = name;
    return x;
}

/* The report line, in a malloc'd string. */
static char *report_line(const char *label, const ag_gradcheck_report *r) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ag_gradcheck_print(label, r, f);
    fclose(f);
    return buf;
}

static ag_tensor *cube_sum(ag_tape *t, ag_tensor **in, void *ctx) {
    (void)ctx;
    return ag_sum(t, ag_pow(t, in[0], 3));
}
static ag_tensor *max_of_two(ag_tape *t, ag_tensor **in, void *ctx) {
    (void)ctx;
    return ag_max(t, in[0]);
}
static ag_tensor *scaled(ag_tape *t, ag_tensor **in, void *ctx) {
    (void)ctx;
    return ag_sum(t, ag_mul(t, in[0], in[1]));
}

TEST(gradcheck_report_names_the_tensor_and_the_tolerance) {
    /* x³ at 1e-3: analytic 3e-6, numeric 3x² + h² = 1.03e-4: passes on atol, rel ~1 */
    ag_tensor *x = named(2, (const ag_real[]){1e-3f, 2e-3f}, "tiny");
    ag_gradcheck_report r = ag_gradcheck(cube_sum, &x, 1, NULL, &float_opts);
    CHECK(r.ok && r.passed_on_abs && r.max_rel_err > 0.5);
    CHECK(r.name != NULL && strcmp(r.name, "tiny") == 0);
    char *line = report_line("cube", &r);
    if (!strstr(line, "ok   cube") || !strstr(line, "<= atol 1e-03, rel") ||
        !strstr(line, "not needed") || !strstr(line, "input 0 'tiny' ["))
        test_fail(__FILE__, __LINE__, "line: %s", line);
    free(line);
    /* at 1 and 2 the relative tolerance is what holds */
    x->data[0] = 1, x->data[1] = 2;
    r = ag_gradcheck(cube_sum, &x, 1, NULL, &float_opts);
    CHECK(r.ok && !r.passed_on_abs);
    line = report_line("cube", &r);
    if (!strstr(line, "<= rtol 2e-02 (abs") || strstr(line, "not needed"))
        test_fail(__FILE__, __LINE__, "line: %s", line);
    free(line);
    ag_tensor_free(x);
}

TEST(gradcheck_report_tells_a_kink_from_a_wrong_backward) {
    /* max(1, 0.995): the pieces are closer than h = 0.01.  Backward (1 for x0) is right,
     * but the central difference is 0.75: the report must say non-smooth, not just FAIL. */
    ag_tensor *x = named(2, (const ag_real[]){1.0f, 0.995f}, "pieces");
    ag_gradcheck_report r = ag_gradcheck(max_of_two, &x, 1, NULL, &float_opts);
    CHECK(!r.ok && r.kink);
    /* one-sided slopes that disagree, the analytic gradient equal to one of them (for x1,
     * whose gradient is 0: 0 from below, 0.5 from above) */
    CHECK(fabs(r.slope_hi - r.slope_lo) > 0.25);
    CHECK(fabs(r.analytic - r.slope_lo) < 1e-2 || fabs(r.analytic - r.slope_hi) < 1e-2);
    char *line = report_line("max", &r);
    if (!strstr(line, "FAIL") || !strstr(line, "non-smooth within h=0.01") ||
        !strstr(line, "rerun in double or move the point") || !strstr(line, "'pieces'"))
        test_fail(__FILE__, __LINE__, "line: %s", line);
    free(line);
    /* moved away from the tie, the same op passes */
    x->data[1] = 0.5f;
    r = ag_gradcheck(max_of_two, &x, 1, NULL, &float_opts);
    CHECK(r.ok && !r.kink);
    ag_tensor_free(x);

    /* a smooth function is not called non-smooth, even when tolerances too tight for float
     * make it fail: its one-sided slopes agree */
    ag_tensor *in[2] = {named(3, (const ag_real[]){1, 2, 3}, "a"),
                        named(3, (const ag_real[]){0.5f, -1, 2}, "b")};
    r = ag_gradcheck(scaled, in, 2, NULL, &(ag_gradcheck_opts){.eps = 1e-2, .rtol = 1e-9,
                                                                .atol = 1e-12, .seed = 7});
    /* an exact gradient of a bilinear function: even tight tolerances are met or nearly,
     * and whatever fails is not a kink (both one-sided slopes agree) */
    CHECK(!r.kink);
    ag_tensor_free(in[0]);
    ag_tensor_free(in[1]);
}

TEST(gradcheck_shape_errors_name_the_tensors) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *a = named(3, (const ag_real[]){1, 2, 3}, "weight");
    ag_tensor *b = named(4, (const ag_real[]){1, 2, 3, 4}, "bias");
    EXPECT_ERROR(ag_add(t, a, b));
    if (!strstr(test_last_error, "'weight' (3)") || !strstr(test_last_error, "'bias' (4)"))
        test_fail(__FILE__, __LINE__, "message: %s", test_last_error);
    ag_tensor *m = ag_tensor_new(2, (int[]){2, 3}, false), *n = ag_tensor_new(2, (int[]){2, 3}, false);
    m->name = "W";
    EXPECT_ERROR(ag_matmul(t, m, n, false, false));
    if (!strstr(test_last_error, "'W' (2, 3)"))
        test_fail(__FILE__, __LINE__, "message: %s", test_last_error);
    ag_tensor *w = ag_tensor_new(2, (int[]){4, 5}, false);
    EXPECT_ERROR(ag_linear(t, m, w, NULL));
    ag_tensor_free(w);
    if (!strstr(test_last_error, "x 'W' (2, 3)"))
        test_fail(__FILE__, __LINE__, "message: %s", test_last_error);
    ag_tensor_free(a);
    ag_tensor_free(b);
    ag_tensor_free(m);
    ag_tensor_free(n);
    ag_tape_free(t);
}
