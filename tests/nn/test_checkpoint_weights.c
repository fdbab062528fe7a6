/* test_checkpoint_weights.c — nn_checkpoint_load_weights: a model's weights out of a
 * training checkpoint that also holds an optimizer's state, and out of a weights-only
 * file, bit for bit; a tensor of the list that is missing or has another shape fails with
 * its name and leaves every tensor untouched; nn_checkpoint_load stays strict about the
 * same extra tensors. */
#include "tests/test.h"
#include "nn/nn.h"

#include <string.h>

static nn_net *small_net(uint64_t seed, const char *spec) {
    ag_rng r;
    ag_rng_seed(&r, seed);
    nn_error err;
    nn_net *net = nn_net_parse(spec, 1, (int[]){3}, NULL, &r, &err);
    if (!net) fprintf(stderr, "%s\n", err.msg);
    return net;
}

static bool same_values(const nn_param_list *a, const nn_param_list *b) {
    if (a->n != b->n) return false;
    for (int i = 0; i < a->n; i++)
        if (a->items[i].value->size != b->items[i].value->size ||
            memcmp(a->items[i].value->data, b->items[i].value->data,
                   sizeof(ag_real) * a->items[i].value->size))
            return false;
    return true;
}

TEST(checkpoint_load_weights_passes_over_optimizer_state) {
    const char *spec = "linear 4, batchnorm, relu, linear 2";
    nn_net *a = small_net(1, spec), *b = small_net(2, spec), *c = small_net(3, spec);
    CHECK(a && b && c);
    if (!a || !b || !c) return;
    nn_optim *opt = nn_adam(&a->params, 1e-3);
    nn_param_list full = {0}, wa = {0}, wb = {0}, wc = {0};
    nn_params_extend(&full, "net", &a->params);
    nn_optim_state(opt, "optim", &full);                 /* a training checkpoint */
    nn_params_extend(&wa, "net", &a->params);
    nn_params_extend(&wb, "net", &b->params);
    nn_params_extend(&wc, "net", &c->params);
    char path[512], wpath[512];
    snprintf(path, sizeof path, "%s/train.ckpt", test_tmpdir());
    snprintf(wpath, sizeof wpath, "%s/weights.ckpt", test_tmpdir());
    nn_error err;
    CHECK(nn_checkpoint_save(path, &full, NULL, &err) == 0);
    CHECK(!same_values(&wa, &wb));
    /* the strict loader refuses the optimizer's tensors; the weights loader reads past them */
    CHECK(nn_checkpoint_load(path, &wb, NULL, &err) == -1 && strstr(err.msg, "optim.") != NULL);
    CHECK(nn_checkpoint_load_weights(path, &wb, NULL, &err) == 0);
    CHECK(same_values(&wa, &wb));
    /* a weights-only file */
    CHECK(nn_checkpoint_save(wpath, &wa, NULL, &err) == 0);
    CHECK(nn_checkpoint_load_weights(wpath, &wc, NULL, &err) == 0);
    CHECK(same_values(&wa, &wc));
    nn_params_free(&full), nn_params_free(&wa), nn_params_free(&wb), nn_params_free(&wc);
    nn_optim_free(opt);
    nn_net_free(a), nn_net_free(b), nn_net_free(c);
}

TEST(checkpoint_load_weights_rejects_missing_and_misshapen) {
    nn_net *a = small_net(1, "linear 4, relu, linear 2");
    nn_net *wide = small_net(2, "linear 5, relu, linear 2");
    nn_net *deep = small_net(3, "linear 4, relu, linear 2, relu, linear 2");
    CHECK(a && wide && deep);
    if (!a || !wide || !deep) return;
    nn_param_list wa = {0}, ww = {0}, wd = {0};
    nn_params_extend(&wa, "net", &a->params);
    nn_params_extend(&ww, "net", &wide->params);
    nn_params_extend(&wd, "net", &deep->params);
    char path[512];
    snprintf(path, sizeof path, "%s/small.ckpt", test_tmpdir());
    nn_error err;
    CHECK(nn_checkpoint_save(path, &wa, NULL, &err) == 0);
    /* another shape: both shapes named, nothing written */
    ag_real w0 = ww.items[0].value->data[0];
    CHECK(nn_checkpoint_load_weights(path, &ww, NULL, &err) == -1);
    CHECK(strstr(err.msg, "net.0.linear.weight") != NULL && strstr(err.msg, "shape") != NULL);
    CHECK(ww.items[0].value->data[0] == w0);
    /* a tensor the file lacks: named, and the tensors the file does have are untouched */
    ag_real d0 = wd.items[0].value->data[0];
    CHECK(nn_checkpoint_load_weights(path, &wd, NULL, &err) == -1);
    CHECK(strstr(err.msg, "net.4.linear.weight") != NULL && strstr(err.msg, "missing") != NULL);
    CHECK(wd.items[0].value->data[0] == d0);
    nn_params_free(&wa), nn_params_free(&ww), nn_params_free(&wd);
    nn_net_free(a), nn_net_free(wide), nn_net_free(deep);
}
