/* tape_vae_step.c — chapter 1 of the tour (docs/01-tape.md): the tape of one training step
 * of a tiny VAE, as text (ag_tape_print) and as a Graphviz graph (ag_tape_write_dot).
 *
 *   tape_vae_step                  prints the tape and checks it
 *   tape_vae_step step.dot         also writes the graph; render it with
 *                                  dot -Tpng step.dot -o step.png   (Debian: graphviz)
 */
#include "vae/vae.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
static void expect(bool ok, const char *what) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    failures += !ok;
}

/* True if the text file at path contains s. */
static bool file_contains(const char *path, const char *s) {
    FILE *f = fopen(path, "r");
    if (!f) return false;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, s) != NULL;
}

int main(int argc, char **argv) {
    ag_set_num_threads(1); /* tensors this small are fastest on one thread */
    /* x has 6 values, z has 2: the smallest VAE that still has every piece of the big one. */
    nn_error err;
    vae *m = vae_new(&(vae_config){.x_ndim = 1, .x_shape = {6}, .z_dim = 2,
                                   .encoder_text = "linear 8, relu, linear 4",
                                   .decoder_text = "linear 8, relu, linear 6",
                                   .likelihood = VAE_BERNOULLI, .seed = 1},
                     &err);
    if (!m) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    /* Name the leaves, so the text dump and the graph say which parameter is which. */
    nn_param_list *params = vae_params(m);
    for (int i = 0; i < params->n; i++) params->items[i].value->name = params->items[i].name;

    ag_tape *t = ag_tape_new(7);
    static const ag_real data[4 * 6] = {1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1,
                                        1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1};
    ag_tensor *x = ag_from_data(t, 2, (int[]){4, 6}, data);                 /* (4, 6) */
    x->name = "x";
    nn_optim *opt = nn_adam(params, 1e-3);

    /* One training step: the forward records the tape, backward walks it. */
    vae_stats st;
    ag_tensor *loss = vae_loss(m, t, x, true, &st);                         /* −ELBO, (1) */
    ag_backward(t, loss);
    ag_tape_print(t, stdout);                 /* before the clear: the nodes still exist */
    int nodes = ag_tape_num_nodes(t);
    if (argc > 1 && ag_tape_write_dot(t, argv[1]) != 0) {
        fprintf(stderr, "tape_vae_step: cannot write %s\n", argv[1]);
        return 1;
    }
    /* The graph is also written to a file of the current directory here, checked, removed. */
    const char *path = "tape_vae_step.dot";
    bool dot_ok = ag_tape_write_dot(t, path) == 0 && file_contains(path, "digraph tape") &&
                  file_contains(path, "reparameterize") &&
                  file_contains(path, "encoder.0.linear.weight");
    remove(path);
    nn_optim_step(opt);
    nn_optim_zero_grad(opt);
    ag_tape_clear(t);

    printf("-ELBO %.4f = recon %.4f + KL %.4f, %d nodes\n", st.neg_elbo, st.recon, st.kl, nodes);
    expect(nodes > 20 && ag_tape_num_nodes(t) == 0,
           "a VAE step records a few dozen nodes; clear drops them");
    expect(dot_ok, "the DOT file names the ops and the parameters");
    expect(st.kl >= 0 && st.recon > 0, "recon > 0 and KL >= 0");

    nn_optim_free(opt);
    vae_free(m);
    ag_tape_free(t);
    printf("%s\n", failures ? "some checks FAILED" : "all checks passed");
    return failures != 0;
}
