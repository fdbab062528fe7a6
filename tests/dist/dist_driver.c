/* dist_driver.c — trains the classic MLP VAE (784-400-20-400-784, Bernoulli) data-parallel
 * under mpirun, for tests/programs/dist.sh and bench/dist_bench.sh: the same program at 1
 * and at N ranks must give the same parameters and losses (nn/dist.h).
 *
 * A step: the global minibatch of step s is B indices drawn from a PRNG seeded by (seed, s)
 * (so a resumed run sees the same batches), each rank takes its slice, skips the noise of
 * the rows before it, runs the VAE loss (mean over its rows) and nn_dist_backward with its
 * weight, then the optimizer; rank 0 logs the losses summed over the ranks and saves.
 *
 *   dist_driver [options]                 (under mpirun -np N, or alone)
 *   dist_driver --compare A B RTOL        compares two --params dumps
 *   dist_driver --info CKPT               lists a checkpoint's tensors (nn_checkpoint_info)
 * Fault injection for the tests: --die-at S (the last rank kills itself at step S),
 * --nan-at S (the last rank's loss turns NaN), --stop-at S (the last rank asks to stop, as a
 * signal would), --bad-data-rank R (rank R cannot "read" its data). */
#include "nn/dist.h"
#include "nn/nn.h"
#include "vae/vae.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define Z_DIM 20

typedef struct {
    int steps, batch, n, threads, every, die_at, nan_at, stop_at, bad_rank, epochs;
    uint64_t seed;
    bool bn, sync_bn, no_overlap, sgd;
    const char *params, *grads, *log, *ckpt, *resume, *data;
} opts;

static void usage(void) {
    puts("usage: dist_driver [--steps 50] [--batch 32] [--n 256] [--seed 1] [--threads 1]\n"
         "                   [--bn] [--sync-bn] [--no-overlap] [--sgd] [--data MNIST_DIR --epochs E]\n"
         "                   [--params FILE] [--grads FILE] [--log FILE]\n"
         "                   [--ckpt FILE --every K] [--resume FILE]\n"
         "                   [--die-at S] [--nan-at S] [--stop-at S] [--bad-data-rank R]\n"
         "       dist_driver --compare A B RTOL\n"
         "       dist_driver --info CKPT");
}

/* ---- dumps: name, size, values as doubles; the comparison the tests use ------------------ */

static void dump(const char *path, const nn_param_list *l, bool grads) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) { fprintf(stderr, "cannot write %s\n", tmp); exit(1); }
    for (int i = 0; i < l->n; i++) {
        const ag_tensor *x = l->items[i].value;
        const ag_real *v = grads ? x->grad : x->data;
        if (!v) continue;
        fprintf(f, "%s %zu\n", l->items[i].name, x->size);
        for (size_t j = 0; j < x->size; j++) {
            double d = v[j];
            fwrite(&d, sizeof d, 1, f);
        }
    }
    if (fclose(f) || rename(tmp, path)) { fprintf(stderr, "cannot write %s\n", path); exit(1); }
}

/* Every tensor: ‖a−b‖₂ <= rtol · ‖b‖₂, the relative error of the tensor as a vector
 * (per-element ratios would be ruled by values that happen to be near zero).  Also prints
 * the largest element difference over max|b|, for the record.  0 if all pass. */
static int compare(const char *pa, const char *pb, double rtol) {
    FILE *fa = fopen(pa, "rb"), *fb = fopen(pb, "rb");
    if (!fa || !fb) { fprintf(stderr, "cannot read %s or %s\n", pa, pb); return 2; }
    char na[256], nb[256];
    size_t sa, sb;
    int bad = 0, tensors = 0;
    double worst = 0, worst_elem = 0;
    char worst_name[256] = "";
    while (fscanf(fa, "%255s %zu", na, &sa) == 2) {
        if (fscanf(fb, "%255s %zu", nb, &sb) != 2 || strcmp(na, nb) || sa != sb) {
            fprintf(stderr, "%s: tensor %s (%zu) does not match %s in %s\n", pa, na, sa, nb, pb);
            return 1;
        }
        fgetc(fa), fgetc(fb); /* the newline */
        double *a = malloc(sizeof *a * sa), *b = malloc(sizeof *b * sa);
        if (!a || !b || fread(a, sizeof *a, sa, fa) != sa || fread(b, sizeof *b, sa, fb) != sa) {
            fprintf(stderr, "truncated dump\n");
            return 1;
        }
        double diff = 0, scale = 0, d2 = 0, b2 = 0;
        for (size_t j = 0; j < sa; j++) {
            if (!isfinite(a[j]) || !isfinite(b[j])) diff = d2 = INFINITY;
            else if (fabs(a[j] - b[j]) > diff) diff = fabs(a[j] - b[j]);
            if (fabs(b[j]) > scale) scale = fabs(b[j]);
            d2 += (a[j] - b[j]) * (a[j] - b[j]), b2 += b[j] * b[j];
        }
        double rel = b2 > 0 ? sqrt(d2 / b2) : sqrt(d2), elem = scale > 0 ? diff / scale : diff;
        if (elem > worst_elem) worst_elem = elem;
        if (rel > worst || tensors == 0) worst = rel, snprintf(worst_name, sizeof worst_name, "%s", na);
        if (!(rel <= rtol)) bad = 1;
        tensors++;
        free(a), free(b);
    }
    if (tensors == 0) { fprintf(stderr, "%s holds no tensor\n", pa); return 1; }
    printf("%d tensors, worst relative difference %.3g (%s; largest element difference / "
           "max|value| %.3g), tolerance %g: %s\n", tensors, worst, worst_name, worst_elem, rtol,
           bad ? "FAIL" : "ok");
    fclose(fa), fclose(fb);
    return bad;
}

/* ---- data: ten random prototypes, each example one of them with 10% of pixels flipped --- */

static nn_dataset *make_data(int n, uint64_t seed) {
    nn_dataset *d = nn_dataset_new(n, 1, (int[]){784}, false);
    ag_rng r;
    ag_rng_seed(&r, seed);
    static unsigned char proto[10][784];
    for (int k = 0; k < 10; k++)
        for (int j = 0; j < 784; j++) proto[k][j] = ag_rng_uniform(&r) < 0.3;
    for (int i = 0; i < n; i++) {
        int k = (int)ag_rng_below(&r, 10);
        for (int j = 0; j < 784; j++)
            d->x[(size_t)i * 784 + j] = (ag_real)(proto[k][j] ^ (ag_rng_uniform(&r) < 0.1));
    }
    return d;
}

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static double wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc == 5 && !strcmp(argv[1], "--compare")) return compare(argv[2], argv[3], atof(argv[4]));
    if (argc == 3 && !strcmp(argv[1], "--info")) { /* a checkpoint's tensors, for the scaling estimate */
        nn_error err;
        nn_ckpt_meta meta;
        if (nn_checkpoint_info(argv[2], &meta, stdout, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
        return 0;
    }
    opts o = {.steps = 50, .batch = 32, .n = 256, .threads = 1, .seed = 1, .every = 10,
              .die_at = -1, .nan_at = -1, .stop_at = -1, .bad_rank = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define INT(flag, field) if (!strcmp(a, flag) && v) { o.field = atoi(v); i++; continue; }
#define STR(flag, field) if (!strcmp(a, flag) && v) { o.field = v; i++; continue; }
#define BOOL(flag, field) if (!strcmp(a, flag)) { o.field = true; continue; }
        INT("--steps", steps) INT("--batch", batch) INT("--n", n) INT("--threads", threads)
        INT("--every", every) INT("--die-at", die_at) INT("--nan-at", nan_at)
        INT("--stop-at", stop_at) INT("--bad-data-rank", bad_rank) INT("--epochs", epochs)
        BOOL("--bn", bn) BOOL("--sync-bn", sync_bn) BOOL("--no-overlap", no_overlap)
        BOOL("--sgd", sgd)
        STR("--params", params) STR("--grads", grads) STR("--log", log) STR("--ckpt", ckpt)
        STR("--resume", resume) STR("--data", data)
        if (!strcmp(a, "--seed") && v) { o.seed = strtoull(v, NULL, 10); i++; continue; }
        if (!strcmp(a, "--help")) { usage(); return 0; }
        fprintf(stderr, "dist_driver: unknown option %s\n", a);
        usage();
        return 2;
    }
    nn_dist *d = nn_dist_init(&argc, &argv);
    int rank = nn_dist_rank(d), size = nn_dist_size(d), last = size - 1;
    bool root = nn_dist_is_root(d);
    ag_set_num_threads(o.threads);
    nn_dist_sync_batchnorm(d, o.sync_bn);

    /* Data: every rank holds the whole set (it is small) and takes its rows of each batch. */
    if (rank == o.bad_rank) nn_dist_abort(d, "cannot read the training data (injected fault)");
    nn_dataset *data;
    if (o.data) {
        nn_error err;
        data = nn_dataset_load_mnist(o.data, "train", &err);
        if (!data) nn_dist_abort(d, "%s", err.msg);
        nn_dataset_binarize_threshold(data, (ag_real)0.5);
    } else {
        data = make_data(o.n, 12345);
    }
    int steps_per_epoch = data->n / o.batch;
    if (o.epochs > 0) o.steps = o.epochs * steps_per_epoch;

    nn_error err;
    vae *m = vae_new(&(vae_config){.x_ndim = 1, .x_shape = {784}, .z_dim = Z_DIM,
                                   .encoder_text = o.bn ? "batchnorm, linear 400, relu, linear 40"
                                                        : "linear 400, relu, linear 40",
                                   .decoder_text = "linear 400, relu, linear 784",
                                   .likelihood = VAE_BERNOULLI, .seed = o.seed},
                     &err);
    if (!m) nn_dist_abort(d, "%s", err.msg);
    nn_param_list *params = vae_params(m);
    nn_optim *opt = o.sgd ? nn_sgd(params, 2e-4, 0, false) : nn_adam(params, 1e-3);
    nn_param_list all = {0}; /* what a checkpoint holds */
    nn_params_extend(&all, NULL, params);
    nn_optim_state(opt, NULL, &all);

    long step = 0, first;
    if (o.resume) { /* rank 0 reads the file, everyone gets its contents */
        double s = 0;
        if (root) {
            nn_ckpt_meta meta;
            if (nn_checkpoint_load(o.resume, &all, &meta, &err)) nn_dist_abort(d, "%s", err.msg);
            s = (double)meta.step;
        }
        nn_dist_sum(d, &s, 1);
        step = (long)s;
        m->step = step;
    }
    nn_dist_broadcast(d, &all);
    first = step;

    nn_dist_grads *g = nn_dist_grads_new(d, params, 0);
    nn_dist_grads_set_overlap(g, !o.no_overlap);
    double fig[3];
    nn_dist_grads_set_figures(g, fig, 3);
    FILE *log = NULL;
    if (root && o.log) {
        log = fopen(o.log, o.resume ? "a" : "w");
        if (!log) nn_dist_abort(d, "cannot write %s", o.log);
    }
    ag_tape *t = ag_tape_new(o.seed);
    int *idx = malloc(sizeof(int) * (size_t)o.batch), *perm = malloc(sizeof(int) * (size_t)data->n);
    if (!idx || !perm) nn_dist_abort(d, "out of memory");
    double cpu0 = cpu_seconds(), wall0 = wall_seconds(), fwd = 0;
    int status = 0;
    for (; step < o.steps; step++) {
        /* The global batch of this step, the same on every rank and at every rank count. */
        ag_rng br;
        ag_rng_seed(&br, vae_step_seed(o.seed ^ 0xDA7AULL, step));
        if (o.data) { /* epochs: consecutive batches of one shuffle of the set per epoch */
            long e = step / steps_per_epoch, k = step % steps_per_epoch;
            if (k == 0 || step == first) {
                ag_rng_seed(&br, vae_step_seed(o.seed ^ 0xE90C4ULL, e));
                for (int i = 0; i < data->n; i++) perm[i] = i;
                for (int i = data->n - 1; i > 0; i--) {
                    int j = (int)ag_rng_below(&br, (uint32_t)i + 1), tmp = perm[i];
                    perm[i] = perm[j], perm[j] = tmp;
                }
            }
            memcpy(idx, perm + k * o.batch, sizeof(int) * (size_t)o.batch);
        } else {
            for (int i = 0; i < o.batch; i++) idx[i] = (int)ag_rng_below(&br, (uint32_t)data->n);
        }
        /* The global batch as a batcher hands it out, narrowed to this rank's rows. */
        nn_batch b = {.x = nn_dataset_batch(data, t, idx, o.batch, true, NULL), .index = idx,
                      .size = o.batch};
        nn_dist_shard s = nn_dist_shard_batch(d, t, &b);
        ag_tensor *x = b.x;
        if (b.size != s.count || b.index != idx + s.offset) nn_dist_abort(d, "bad shard");
        if (rank == last && step == o.die_at) raise(SIGKILL);
        if (rank == last && step == o.nan_at) x->data[0] = (ag_real)NAN;
        ag_rng_seed(ag_tape_rng(t), vae_step_seed(o.seed, step));
        nn_dist_rng_skip(ag_tape_rng(t), 2 * (uint64_t)Z_DIM * (uint64_t)s.offset);
        double f0 = wall_seconds();
        vae_stats st;
        ag_tensor *loss = vae_loss(m, t, x, true, &st);
        fwd += wall_seconds() - f0;
        /* The losses for the log travel with the gradients (summed over the ranks). */
        fig[0] = st.loss * s.count, fig[1] = st.recon * s.count, fig[2] = st.kl * s.count;
        int flags = nn_dist_backward(g, t, loss, s.weight,
                                     rank == last && step == o.stop_at ? NN_DIST_STOP : 0);
        if (flags & NN_DIST_NONFINITE) {
            if (!isfinite(st.loss))
                fprintf(stderr, "henbun: rank %d of %d: non-finite loss at step %ld\n", rank,
                        size, step + 1);
            if (root)
                fprintf(stderr, "henbun: non-finite loss on %d rank(s) at step %ld: every rank "
                                "stops\n", nn_dist_grads_nonfinite_ranks(g), step + 1);
            status = 1;
            break;
        }
        if (o.grads && root && step + 1 == o.steps) dump(o.grads, params, true);
        nn_optim_step(opt);
        nn_optim_zero_grad(opt);
        ag_tape_clear(t);
        if (log) fprintf(log, "%ld,%.9g,%.9g,%.9g\n", step + 1, fig[0] / o.batch,
                         fig[1] / o.batch, fig[2] / o.batch);
        bool save = o.ckpt && (step + 1) % o.every == 0;
        if (flags & NN_DIST_STOP) save = o.ckpt != NULL;
        if (save && root) {
            nn_ckpt_meta meta = {.step = step + 1};
            if (nn_checkpoint_save(o.ckpt, &all, &meta, &err)) nn_dist_abort(d, "%s", err.msg);
        }
        if (flags & NN_DIST_STOP) {
            if (root) fprintf(stderr, "stopped after step %ld; resume with --resume %s\n",
                              step + 1, o.ckpt ? o.ckpt : "(no --ckpt)");
            step++;
            status = 130;
            break;
        }
    }
    double cpu = cpu_seconds() - cpu0, wall = wall_seconds() - wall0;
    /* Every rank must hold the very same trainable parameters: compare with rank 0's, bit for
     * bit.  (Batch norm's running statistics are per rank without --sync-bn.) */
    double differ = 0;
    if (status == 0 && size > 1) {
        for (int i = 0; i < params->n; i++) {
            ag_tensor *p = params->items[i].value;
            if (!params->items[i].trainable) continue;
            ag_real *mine = malloc(sizeof(ag_real) * p->size);
            memcpy(mine, p->data, sizeof(ag_real) * p->size);
            nn_dist_broadcast(d, &(nn_param_list){.items = &params->items[i], .n = 1});
            differ += memcmp(mine, p->data, sizeof(ag_real) * p->size) != 0;
            free(mine);
        }
        nn_dist_sum(d, &differ, 1);
    }
    if (differ > 0 && root) fprintf(stderr, "ranks hold different parameters\n"), status = 1;
    if (root && o.params && status != 1) dump(o.params, &all, false);
    double cpus[2] = {cpu, nn_dist_grads_wait_seconds(g)};
    nn_dist_sum(d, cpus, 2);
    long done = step - first;
    if (root && status == 0)
        printf("result: ranks=%d threads=%d steps=%ld seconds=%.3f cpu_seconds=%.3f "
               "ms_per_step=%.3f forward_ms=%.3f comm_wait_ms=%.3f overlap=%d params=%zu\n",
               size, o.threads, done, wall, cpus[0], 1e3 * wall / (done ? done : 1),
               1e3 * fwd / (done ? done : 1), 1e3 * cpus[1] / size / (done ? done : 1),
               !o.no_overlap, nn_params_count(params));
    if (log) fclose(log);
    free(idx), free(perm);
    ag_tape_free(t);
    nn_dist_grads_free(g);
    nn_params_free(&all);
    nn_optim_free(opt);
    vae_free(m);
    nn_dataset_free(data);
    nn_dist_finalize(d);
    return status;
}
