/* test_ema_warmup.c — the warm-up of nn_ema's decay (nn/ema.h): update t uses
 * min(β, (1 + t)/(10 + t)); without warm-up every update uses β (the average of before);
 * and an average that stops, is rebuilt with `updates` set to the count of updates done
 * (as a program resuming from its checkpoint's step does) and goes on, ends bit for bit
 * where an unbroken one ends. */
#include "tests/test.h"
#include "nn/ema.h"

#include <string.h>

/* One tensor of 1 value, θ_t = t + 1 after update t: the average follows a known recursion. */
static double run(nn_ema *e, ag_tensor *w, int from, int to) {
    for (int t = from; t < to; t++) {
        w->data[0] = (ag_real)(t + 1);
        nn_ema_update(e);
    }
    return e->shadow.items[0].value->data[0];
}

TEST(ema_warmup_decay_and_exact_resume) {
    nn_param_list l = {0};
    ag_tensor *w = ag_tensor_new(1, (int[]){1}, true);
    nn_params_add(&l, NULL, "w", w, true);
    for (int warm = 0; warm < 2; warm++) {
        w->data[0] = 0;
        nn_ema *e = nn_ema_new(&l, 0.999);
        e->warmup = warm;
        double want = 0; /* the recursion in double, rounded as nn_ema_update rounds */
        ag_real s = 0;
        for (int t = 0; t < 50; t++) {
            double beta = warm ? ((1.0 + t) / (10.0 + t) < 0.999 ? (1.0 + t) / (10.0 + t) : 0.999)
                               : 0.999;
            CHECK_NEAR(nn_ema_decay(e), beta, 1e-15);
            ag_real a = (ag_real)(1 - beta);
            s += a * ((ag_real)(t + 1) - s);
            want = s;
            run(e, w, t, t + 1);
        }
        CHECK(e->updates == 50);
        CHECK_NEAR(e->shadow.items[0].value->data[0], want, 0);
        /* without warm-up θ_0 = 0 still weighs 0.999^50 = 95%: the average is near 0;
         * with it the first update nearly copies θ (β_0 = 0.1) and it follows θ ≈ 50 */
        if (warm) CHECK(want > 30);
        else CHECK(want < 2);
        nn_ema_free(e);
    }
    /* Stopped after 37 updates and rebuilt: shadow and `updates` restored, as on resume. */
    w->data[0] = 0;
    nn_ema *a = nn_ema_new(&l, 0.99);
    a->warmup = true;
    double straight = run(a, w, 0, 300);
    w->data[0] = 0;
    nn_ema *b = nn_ema_new(&l, 0.99);
    b->warmup = true;
    run(b, w, 0, 37);
    ag_real kept = b->shadow.items[0].value->data[0];
    nn_ema_free(b);
    nn_ema *c = nn_ema_new(&l, 0.99);
    c->warmup = true;
    c->shadow.items[0].value->data[0] = kept; /* the checkpoint's ema.* tensors */
    c->updates = 37;                          /* its step count */
    CHECK_NEAR(run(c, w, 37, 300), straight, 0);
    nn_ema_free(a), nn_ema_free(c);
    nn_params_free(&l);
    ag_tensor_free(w);
}
