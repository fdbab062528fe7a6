/* gan_eval.c — judging generated images without an Inception network: a classifier trained
 * on the same data gives class probabilities (Inception score, class histogram, confidence)
 * and penultimate-layer features (a Fréchet distance between Gaussian fits).  The linear
 * algebra (Jacobi eigen-decomposition, matrix square roots) is written here in double:
 * 128-dimensional covariances need nothing faster. */
#include "vae/gan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SCORE_BATCH 500 /* images per classifier forward: no gradients, memory is small */

static void *xcalloc(size_t n, size_t size, const char *op) {
    void *p = calloc(n ? n : 1, size);
    if (!p) ag_error(op, "out of memory (%zu x %zu bytes)", n, size);
    return p;
}

/* ---- the classifier ------------------------------------------------------------------- */

/* The value of "key=" in a text of "key=value" lines, copied into buf; NULL if absent. */
static const char *meta_value(const char *text, const char *key, char *buf, size_t n) {
    size_t kl = strlen(key);
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > kl && !strncmp(line, key, kl) && line[kl] == '=') {
            size_t vl = len - kl - 1 < n - 1 ? len - kl - 1 : n - 1;
            memcpy(buf, line + kl + 1, vl);
            buf[vl] = 0;
            return buf;
        }
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

gan_scorer *gan_scorer_new(const char *spec, int ndim, const int *shape,
                           const nn_layer_type *const *layer_types, const char *path,
                           nn_error *err) {
    gan_scorer *s = xcalloc(1, sizeof *s, "gan_scorer_new");
    nn_param_list list = {0};
    ag_rng rng;
    ag_rng_seed(&rng, 0); /* initial values are overwritten by the file's */
    nn_error inner;
    s->net = nn_net_parse(spec, ndim, shape, layer_types, &rng, &inner);
    if (!s->net) {
        nn_fail(err, "%s: the classifier's spec does not build: %s", path, inner.msg);
        goto fail;
    }
    if (s->net->out_ndim != 1 || s->net->n_layers < 2) {
        nn_fail(err, "%s: a classifier must end in a layer giving one logit per class", path);
        goto fail;
    }
    s->n_classes = s->net->out_shape[0];
    const nn_layer *last = &s->net->layers[s->net->n_layers - 1];
    s->feat_dim = 1;
    for (int i = 0; i < last->in_ndim; i++) s->feat_dim *= last->in_shape[i];
    /* the net's tensors only: an optimizer's state beside them is passed over */
    nn_params_extend(&list, GAN_SCORER_PREFIX, &s->net->params);
    if (nn_checkpoint_load_weights(path, &list, NULL, err)) goto fail;
    nn_params_free(&list);
    return s;
fail:
    nn_params_free(&list);
    gan_scorer_free(s);
    return NULL;
}

gan_scorer *gan_scorer_load(const char *path, nn_error *err) {
    nn_ckpt_meta *meta = xcalloc(1, sizeof *meta, "gan_scorer_load"); /* 8 KiB: off the stack */
    gan_scorer *s = NULL;
    char spec[NN_CKPT_TEXT_MAX], input[64], dataset[sizeof s->dataset] = "";
    int shape[NN_MAX_SHAPE], ndim = 0, used = 0;
    if (nn_checkpoint_info(path, meta, NULL, err)) goto done;
    if (!meta_value(meta->text, GAN_SCORER_KEY_NET, spec, sizeof spec)) {
        nn_fail(err, "%s: not a classifier checkpoint (its meta text has no '"
                     GAN_SCORER_KEY_NET "=' line; train one with build/classify)", path);
        goto done;
    }
    if (meta_value(meta->text, GAN_SCORER_KEY_INPUT, input, sizeof input))
        for (int k; ndim < NN_MAX_SHAPE && sscanf(input + used, "%d%n", &shape[ndim], &k) == 1;)
            used += k, ndim++;
    if (ndim == 0 || input[used + strspn(input + used, " ")] != 0) {
        nn_fail(err, "%s: the meta text needs a line '" GAN_SCORER_KEY_INPUT "=C H W' (1 to %d "
                     "numbers)", path, NN_MAX_SHAPE);
        goto done;
    }
    meta_value(meta->text, GAN_SCORER_KEY_DATASET, dataset, sizeof dataset);
    s = gan_scorer_new(spec, ndim, shape, NULL, path, err);
    if (s) memcpy(s->dataset, dataset, sizeof s->dataset);
done:
    free(meta);
    return s;
}

int gan_scorer_describe(char *text, size_t cap, const char *spec, int ndim, const int *shape,
                        const char *dataset) {
    size_t len = strnlen(text, cap);
    if (len >= cap || strchr(spec, '\n') || (dataset && strchr(dataset, '\n'))) return -1;
    char *p = text + len;
    size_t room = cap - len;
    int n = snprintf(p, room, GAN_SCORER_KEY_NET "=%s\n" GAN_SCORER_KEY_INPUT "=", spec);
    for (int i = 0; i < ndim && n >= 0 && (size_t)n < room; i++)
        n += snprintf(p + n, room - (size_t)n, i ? " %d" : "%d", shape[i]);
    if (n >= 0 && (size_t)n < room)
        n += snprintf(p + n, room - (size_t)n, "\n");
    if (dataset && n >= 0 && (size_t)n < room)
        n += snprintf(p + n, room - (size_t)n, GAN_SCORER_KEY_DATASET "=%s\n", dataset);
    if (n < 0 || (size_t)n >= room) {
        *p = 0; /* did not fit: the text as it was */
        return -1;
    }
    return 0;
}

void gan_scorer_free(gan_scorer *s) {
    if (!s) return;
    nn_net_free(s->net);
    free(s);
}

void gan_scorer_run(const gan_scorer *s, const ag_real *x, int n, double *probs,
                    double *feats) {
    nn_net *net = s->net;
    int K = s->n_classes, F = s->feat_dim, L = net->n_layers;
    size_t in = 1;
    for (int i = 0; i < net->in_ndim; i++) in *= (size_t)net->in_shape[i];
    ag_tape *t = ag_tape_new(0);
    ag_set_grad_enabled(t, false);
    for (int start = 0; start < n; start += SCORE_BATCH) {
        int b = n - start < SCORE_BATCH ? n - start : SCORE_BATCH;
        int shape[4] = {b};
        memcpy(shape + 1, net->in_shape, sizeof(int) * (size_t)net->in_ndim);
        ag_tensor *h = ag_from_data(t, net->in_ndim + 1, shape, x + (size_t)start * in);
        /* nn_forward layer by layer, stopping before the last layer to keep its input. */
        for (int i = 0; i < L - 1; i++) h = net->layers[i].type->forward(&net->layers[i], t, h, false);
        if (feats)
            for (size_t j = 0; j < (size_t)b * F; j++) feats[(size_t)start * F + j] = h->data[j];
        ag_tensor *logits = net->layers[L - 1].type->forward(&net->layers[L - 1], t, h, false);
        if (probs)
            for (int i = 0; i < b; i++) {  /* softmax in double: p_k = e^{l_k − max} / Σ */
                const ag_real *l = logits->data + (size_t)i * K;
                double *p = probs + (size_t)(start + i) * K, mx = l[0], z = 0;
                for (int k = 1; k < K; k++) mx = l[k] > mx ? l[k] : mx;
                for (int k = 0; k < K; k++) z += p[k] = exp((double)l[k] - mx);
                for (int k = 0; k < K; k++) p[k] /= z;
            }
        ag_tape_clear(t);
    }
    ag_tape_free(t);
}

/* ---- scores from class probabilities ----------------------------------------------------- */

gan_class_scores gan_class_scores_of(const double *probs, int n, int k) {
    if (n < 1 || k < 1) ag_error("gan_class_scores_of", "need n >= 1 and k >= 1, got %d, %d", n, k);
    gan_class_scores r = {0};
    double *marg = xcalloc((size_t)k, sizeof *marg, "gan_class_scores_of");
    int *hist = xcalloc((size_t)k, sizeof *hist, "gan_class_scores_of");
    for (int i = 0; i < n; i++) {
        const double *p = probs + (size_t)i * k;
        int best = 0;
        for (int j = 0; j < k; j++) {
            marg[j] += p[j] / n;                /* p(y) = E_x p(y|x) */
            if (p[j] > p[best]) best = j;
        }
        hist[best]++;
        r.confidence += p[best] / n;
    }
    double kl = 0;                              /* E_x Σ_y p(y|x) ln(p(y|x) / p(y)), 0 ln 0 = 0 */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) {
            double p = probs[(size_t)i * k + j];
            if (p > 0) kl += p * log(p / marg[j]);
        }
    r.inception = exp(kl / n);
    for (int j = 0; j < k; j++) {
        double h = (double)hist[j] / n;
        if (hist[j] > 0) r.covered++, r.class_kl += h * log(h * k);  /* Σ h ln(h / (1/K)) */
    }
    free(marg);
    free(hist);
    return r;
}

/* ---- Gaussian fits and the Fréchet distance --------------------------------------------- */

void gan_gaussian_fit(gan_gaussian *g, const double *x, int n, int d) {
    if (n < 2 || d < 1) ag_error("gan_gaussian_fit", "need n >= 2 points of d >= 1, got %d, %d", n, d);
    g->d = d;
    g->mean = xcalloc((size_t)d, sizeof(double), "gan_gaussian_fit");
    g->cov = xcalloc((size_t)d * d, sizeof(double), "gan_gaussian_fit");
    for (int i = 0; i < n; i++)
        for (int a = 0; a < d; a++) g->mean[a] += x[(size_t)i * d + a] / n;
    double *c = xcalloc((size_t)d, sizeof(double), "gan_gaussian_fit");
    for (int i = 0; i < n; i++) {          /* Σ = Σ_i (x_i − μ)(x_i − μ)ᵀ / (n − 1) */
        for (int a = 0; a < d; a++) c[a] = x[(size_t)i * d + a] - g->mean[a];
        for (int a = 0; a < d; a++) {
            if (c[a] == 0) continue;       /* dead ReLU features: many exact zeros */
            double *row = g->cov + (size_t)a * d;
            for (int b = a; b < d; b++) row[b] += c[a] * c[b];
        }
    }
    for (int a = 0; a < d; a++)
        for (int b = a; b < d; b++) {
            double v = g->cov[(size_t)a * d + b] / (n - 1);
            g->cov[(size_t)a * d + b] = g->cov[(size_t)b * d + a] = v;
        }
    free(c);
}

void gan_gaussian_free(gan_gaussian *g) {
    free(g->mean);
    free(g->cov);
    g->mean = g->cov = NULL;
}

int gan_sym_eigen(const double *a_in, int n, double *w, double *v) {
    double *a = xcalloc((size_t)n * n, sizeof(double), "gan_sym_eigen");
    memcpy(a, a_in, sizeof(double) * (size_t)n * n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) v[(size_t)i * n + j] = i == j;
    double total = 0;
    for (size_t i = 0; i < (size_t)n * n; i++) total += a[i] * a[i];
    int sweep = 0;
    for (; sweep < 100; sweep++) {
        double off = 0;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) off += a[(size_t)p * n + q] * a[(size_t)p * n + q];
        if (off <= 1e-30 * total || off == 0) break;  /* ‖offdiag‖ ≤ 1e-15 ‖A‖ */
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) {
                double apq = a[(size_t)p * n + q];
                if (apq == 0) continue;
                /* Rotation J in the (p, q) plane with (JᵀAJ)_pq = 0:
                 * (c² − s²) a_pq + cs (a_pp − a_qq) = 0, i.e. t² + 2τt − 1 = 0 for t = s/c,
                 * τ = (a_qq − a_pp) / 2a_pq; the smaller root keeps the rotation under 45°. */
                double tau = (a[(size_t)q * n + q] - a[(size_t)p * n + p]) / (2 * apq);
                double t = (tau >= 0 ? 1 : -1) / (fabs(tau) + sqrt(1 + tau * tau));
                double c = 1 / sqrt(1 + t * t), s = t * c;
                for (int k = 0; k < n; k++) {   /* columns: A ← A J */
                    double akp = a[(size_t)k * n + p], akq = a[(size_t)k * n + q];
                    a[(size_t)k * n + p] = c * akp - s * akq;
                    a[(size_t)k * n + q] = s * akp + c * akq;
                }
                for (int k = 0; k < n; k++) {   /* rows: A ← Jᵀ A */
                    double apk = a[(size_t)p * n + k], aqk = a[(size_t)q * n + k];
                    a[(size_t)p * n + k] = c * apk - s * aqk;
                    a[(size_t)q * n + k] = s * apk + c * aqk;
                }
                a[(size_t)p * n + q] = a[(size_t)q * n + p] = 0;
                for (int k = 0; k < n; k++) {   /* V ← V J */
                    double vkp = v[(size_t)k * n + p], vkq = v[(size_t)k * n + q];
                    v[(size_t)k * n + p] = c * vkp - s * vkq;
                    v[(size_t)k * n + q] = s * vkp + c * vkq;
                }
            }
    }
    for (int i = 0; i < n; i++) w[i] = a[(size_t)i * n + i];
    /* Ascending order (selection sort: n is small), columns of V along. */
    for (int i = 0; i < n; i++) {
        int m = i;
        for (int j = i + 1; j < n; j++)
            if (w[j] < w[m]) m = j;
        if (m == i) continue;
        double tw = w[i];
        w[i] = w[m], w[m] = tw;
        for (int k = 0; k < n; k++) {
            double tv = v[(size_t)k * n + i];
            v[(size_t)k * n + i] = v[(size_t)k * n + m], v[(size_t)k * n + m] = tv;
        }
    }
    free(a);
    return sweep;
}

void gan_sqrtm_psd(const double *a, int n, double *s) {
    double *w = xcalloc((size_t)n, sizeof(double), "gan_sqrtm_psd");
    double *v = xcalloc((size_t)n * n, sizeof(double), "gan_sqrtm_psd");
    gan_sym_eigen(a, n, w, v);
    for (int k = 0; k < n; k++) w[k] = w[k] > 0 ? sqrt(w[k]) : 0;
    for (int i = 0; i < n; i++)             /* S = V diag(√w) Vᵀ */
        for (int j = i; j < n; j++) {
            double acc = 0;
            for (int k = 0; k < n; k++) acc += v[(size_t)i * n + k] * w[k] * v[(size_t)j * n + k];
            s[(size_t)i * n + j] = s[(size_t)j * n + i] = acc;
        }
    free(w);
    free(v);
}

double gan_frechet(const gan_gaussian *a, const gan_gaussian *b) {
    if (a->d != b->d) ag_error("gan_frechet", "Gaussians of dimension %d and %d", a->d, b->d);
    int d = a->d;
    double *sa = xcalloc((size_t)d * d, sizeof(double), "gan_frechet");
    double *tmp = xcalloc((size_t)d * d, sizeof(double), "gan_frechet");
    double *m = xcalloc((size_t)d * d, sizeof(double), "gan_frechet");
    double *w = xcalloc((size_t)d, sizeof(double), "gan_frechet");
    double *v = xcalloc((size_t)d * d, sizeof(double), "gan_frechet");
    gan_sqrtm_psd(a->cov, d, sa);
    for (int i = 0; i < d; i++)             /* tmp = Σa^½ Σb */
        for (int k = 0; k < d; k++) {
            double x = sa[(size_t)i * d + k];
            if (x == 0) continue;
            for (int j = 0; j < d; j++) tmp[(size_t)i * d + j] += x * b->cov[(size_t)k * d + j];
        }
    for (int i = 0; i < d; i++)             /* M = tmp Σa^½, symmetric up to rounding */
        for (int j = i; j < d; j++) {
            double acc = 0;
            for (int k = 0; k < d; k++) acc += tmp[(size_t)i * d + k] * sa[(size_t)k * d + j];
            m[(size_t)i * d + j] = acc;
        }
    for (int i = 0; i < d; i++)
        for (int j = 0; j < i; j++) m[(size_t)i * d + j] = m[(size_t)j * d + i];
    /* tr M^½ = Σ √λ_i(M): M is PSD, so only its eigenvalues are needed. */
    gan_sym_eigen(m, d, w, v);
    double tr_sqrt = 0, tr = 0, dmu = 0;
    for (int i = 0; i < d; i++) {
        tr_sqrt += w[i] > 0 ? sqrt(w[i]) : 0;
        tr += a->cov[(size_t)i * d + i] + b->cov[(size_t)i * d + i];
        double e = a->mean[i] - b->mean[i];
        dmu += e * e;
    }
    free(sa), free(tmp), free(m), free(w), free(v);
    double f = dmu + tr - 2 * tr_sqrt;      /* ‖μa − μb‖² + tr(Σa + Σb − 2 (Σa^½ Σb Σa^½)^½) */
    return f > 0 ? f : 0;                   /* rounding can leave −1e-12 for equal inputs */
}
