/* train.c — the training and evaluation loops shared by the VAE programs (see vae.h). */
#include "vae/vae.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

uint64_t vae_step_seed(uint64_t seed, long step) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ULL + (uint64_t)step * 0xBF58476D1CE4E5B9ULL + 1;
    z = (z ^ (z >> 31)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 29);
}

vae_epoch vae_train_epoch(vae *m, nn_optim *opt, nn_batcher *it, ag_tape *t, uint64_t seed,
                          long *step, nn_progress *bar, bool (*should_stop)(void)) {
    vae_epoch e = {0};
    double t0 = now(), n = 0;
    nn_batch b;
    while (nn_batcher_next(it, t, &b)) {
        ag_rng_seed(ag_tape_rng(t), vae_step_seed(seed, *step));
        vae_stats st;
        ag_tensor *loss = vae_loss(m, t, b.x, true, &st);
        ag_backward(t, loss);
        double norm = nn_optim_step(opt);
        ag_tape_clear(t);
        if (!isfinite(st.loss) || !isfinite(norm)) {
            e.nonfinite = true; /* gradients kept, so the caller can name the culprit */
            break;
        }
        nn_optim_zero_grad(opt);
        (*step)++;
        e.steps++;
        n += b.size;
        e.neg_elbo += st.neg_elbo * b.size, e.recon += st.recon * b.size;
        e.kl += st.kl * b.size, e.loss += st.loss * b.size;
        if (bar) nn_progress_step(bar, b.size, (double[]){st.neg_elbo, st.recon, st.kl});
        if (should_stop && should_stop()) {
            e.interrupted = true;
            break;
        }
    }
    if (n > 0) e.neg_elbo /= n, e.recon /= n, e.kl /= n, e.loss /= n;
    e.seconds = now() - t0;
    return e;
}

vae_eval vae_evaluate(vae *m, const nn_dataset *d, int n, int iwae_k, uint64_t seed) {
    ag_tape *t = ag_tape_new(seed);
    vae_eval r = vae_evaluate_on(m, t, d, n, iwae_k, seed);
    ag_tape_free(t);
    return r;
}

vae_eval vae_evaluate_on(vae *m, ag_tape *t, const nn_dataset *d, int n, int iwae_k,
                         uint64_t seed) {
    if (!t) ag_error("vae_evaluate_on", "tape is NULL");
    if (n <= 0 || n > d->n) n = d->n;
    /* Batches of 128 keep the pass's arena (~27 kB an MNIST example) within a training
     * step's, so the training tape serves it without growing; an example's ELBO does not
     * depend on the batch it is in (test vae_evaluate_batches_change_no_bit).  The IWAE
     * bound's draws do (vae_iwae_bound takes its noise per batch): its batches stay 500. */
    int z = m->cfg.z_dim, bs = iwae_k > 0 ? 500 : 128;
    vae_eval r = {.iwae_nll = NAN, .n = n};
    r.kl_per_dim = calloc((size_t)z, sizeof(double));
    r.mu_var = calloc((size_t)z, sizeof(double));
    r.mu = malloc(sizeof(ag_real) * (size_t)n * (size_t)z);
    r.score = malloc(sizeof(double) * (size_t)n);
    int *idx = malloc(sizeof(int) * (size_t)bs);
    if (!r.kl_per_dim || !r.mu_var || !r.mu || !r.score || !idx)
        ag_error("vae_evaluate", "out of memory");
    /* The caller's tape as it was, put back at the end: only its arena has served. */
    ag_rng rng_was = *ag_tape_rng(t);
    ag_rng_seed(ag_tape_rng(t), seed);
    bool grad_was = ag_set_grad_enabled(t, false);
    bool was_training = m->training;
    vae_set_training(m, false);
    /* The figures are those of the plain ELBO (β = 1, one sample), whatever the training
     * objective was, so that every model is measured the same way. */
    vae_config keep = m->cfg;
    m->cfg.objective = VAE_ELBO, m->cfg.samples = 1, m->cfg.beta = 1, m->cfg.warmup_steps = 0;
    double iw = 0;
    for (int start = 0; start < n; start += bs) {
        int b = n - start < bs ? n - start : bs;
        for (int i = 0; i < b; i++) idx[i] = start + i;
        ag_tape_clear(t);
        ag_tensor *x = nn_dataset_batch(d, t, idx, b, false, NULL);
        ag_tensor *mu, *logvar;
        vae_encode(m, t, x, &mu, &logvar);
        ag_tensor *kl = vae_kl_normal(t, mu, logvar);                          /* (b) */
        ag_tensor *zs = ag_reparameterize(t, mu, logvar);
        ag_tensor *nll = vae_neg_log_likelihood(m, t, vae_decode_raw(m, t, zs), x); /* (b) */
        for (int i = 0; i < b; i++) {
            r.recon += nll->data[i], r.kl += kl->data[i];
            r.score[start + i] = (double)nll->data[i] + kl->data[i];
            for (int j = 0; j < z; j++) {
                double u = mu->data[(size_t)i * z + j], lv = logvar->data[(size_t)i * z + j];
                r.mu[(size_t)(start + i) * z + j] = (ag_real)u;
                r.kl_per_dim[j] += 0.5 * (u * u + exp(lv) - 1 - lv);
            }
        }
        if (iwae_k > 0) {
            double *bound = r.score + start;
            vae_iwae_bound(m, t, x, iwae_k, bound);
            for (int i = 0; i < b; i++) iw += bound[i], bound[i] = -bound[i];
        }
    }
    m->cfg = keep;
    vae_set_training(m, was_training);
    for (int j = 0; j < z; j++) {
        double s = 0, s2 = 0;
        for (int i = 0; i < n; i++) {
            double u = r.mu[(size_t)i * z + j];
            s += u, s2 += u * u;
        }
        r.mu_var[j] = s2 / n - (s / n) * (s / n);
        r.active_units += r.mu_var[j] > 0.01;
        r.kl_per_dim[j] /= n;
    }
    r.recon /= n, r.kl /= n;
    r.neg_elbo = r.recon + r.kl;
    if (iwae_k > 0) r.iwae_nll = -iw / n;
    ag_tape_clear(t);
    ag_set_grad_enabled(t, grad_was);
    *ag_tape_rng(t) = rng_was;
    free(idx);
    return r;
}

void vae_eval_free(vae_eval *e) {
    free(e->kl_per_dim);
    free(e->mu_var);
    free(e->mu);
    free(e->score);
    memset(e, 0, sizeof *e);
}

typedef struct { double s; bool pos; } scored;
static int by_score(const void *a, const void *b) {
    double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x > y) - (x < y);
}

double vae_auroc(const double *score, const bool *positive, int n) {
    /* Mann–Whitney: AUROC = (Σ ranks of positives − P(P+1)/2) / (P·N), average ranks for
     * tied scores. */
    scored *v = malloc(sizeof *v * (size_t)n);
    if (!v) ag_error("vae_auroc", "out of memory");
    for (int i = 0; i < n; i++) v[i] = (scored){score[i], positive[i]};
    qsort(v, (size_t)n, sizeof *v, by_score);
    double rank_sum = 0, P = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && v[j].s == v[i].s) j++;
        double avg = 0.5 * (i + 1 + j); /* ranks i+1 .. j */
        for (int k = i; k < j; k++)
            if (v[k].pos) rank_sum += avg, P++;
        i = j;
    }
    free(v);
    double N = n - P;
    if (P == 0 || N == 0) return NAN;
    return (rank_sum - P * (P + 1) / 2) / (P * N);
}
