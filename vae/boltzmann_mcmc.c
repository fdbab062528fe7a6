/* boltzmann_mcmc.c — the honest baseline for the Boltzmann sampler: Metropolis and MALA chains on
 * the same energies (∇U from the same tape), and the integrated autocorrelation time that
 * turns a chain's length into effective samples.  See boltzmann.h for the interface. */
#include "vae/boltzmann.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* U(x) for every chain into u, and ∇U into grad when it is non-NULL (MALA). */
static void energy_of(const bz_energy *e, ag_tape *t, const ag_real *x, int chains, double *u,
                      ag_real *grad) {
    ag_tape_clear(t);
    ag_set_grad_enabled(t, grad != NULL);
    ag_tensor *xt = ag_from_data(t, 2, (int[]){chains, e->dim}, x);
    xt->requires_grad = grad != NULL;
    ag_tensor *ut = e->energy(e, t, xt);
    for (int c = 0; c < chains; c++) u[c] = ut->data[c];
    if (grad) {
        ag_backward(t, ag_sum(t, ut));                   /* ∂(Σ_c U(x_c))/∂x_c = ∇U(x_c) */
        memcpy(grad, xt->grad, sizeof(ag_real) * xt->size);
    }
}

typedef struct chains_state {
    const bz_energy *e;
    ag_tape *t;
    ag_rng *rng;
    int n, d;
    ag_real *x, *xp, *g, *gp; /* current and proposed states, their gradients (MALA) */
    double *u, *up;
} chains_state;

/* One step of every continuous chain; returns the mean acceptance. */
static double step_continuous(chains_state *s, bz_mcmc_kind kind, double h) {
    int n = s->n, d = s->d;
    bool mala = kind == BZ_MALA;
    for (int c = 0; c < n; c++)
        for (int j = 0; j < d; j++) {
            size_t k = (size_t)c * d + j;
            double drift = mala ? -0.5 * h * h * s->g[k] : 0;     /* −½h²∇U (MALA) */
            s->xp[k] = (ag_real)(s->x[k] + drift + h * ag_rng_normal(s->rng));
        }
    energy_of(s->e, s->t, s->xp, n, s->up, mala ? s->gp : NULL);
    double acc = 0;
    for (int c = 0; c < n; c++) {
        double log_a = s->u[c] - s->up[c];                       /* ln μ(x')/μ(x) */
        if (mala) {
            /* + ln q(x|x') − ln q(x'|x), q(b|a) = N(b; a − ½h²∇U(a), h²I) */
            double fwd = 0, bwd = 0;
            for (int j = 0; j < d; j++) {
                size_t k = (size_t)c * d + j;
                double a = s->xp[k] - s->x[k] + 0.5 * h * h * s->g[k];
                double b = s->x[k] - s->xp[k] + 0.5 * h * h * s->gp[k];
                fwd += a * a, bwd += b * b;
            }
            log_a += (fwd - bwd) / (2 * h * h);
        }
        if (log(ag_rng_uniform(s->rng)) < log_a) {
            memcpy(s->x + (size_t)c * d, s->xp + (size_t)c * d, sizeof(ag_real) * d);
            if (mala) memcpy(s->g + (size_t)c * d, s->gp + (size_t)c * d, sizeof(ag_real) * d);
            s->u[c] = s->up[c];
            acc += 1;
        }
    }
    return acc / n;
}

/* One sweep of single-bit flips of every binary chain; returns the acceptance per flip. */
static double step_binary(chains_state *s) {
    const bz_energy *e = s->e;
    int n = s->n, d = s->d;
    double acc = 0;
    if (e->flip_delta) {
        for (int c = 0; c < n; c++) {
            ag_real *x = s->x + (size_t)c * d;
            for (int i = 0; i < d; i++) {
                double du = e->flip_delta(e, x, i);
                if (du <= 0 || ag_rng_uniform(s->rng) < exp(-du)) {
                    x[i] = 1 - x[i];
                    s->u[c] += du;
                    acc += 1;
                }
            }
        }
        return acc / ((double)n * d);
    }
    int *site = malloc(sizeof(int) * (size_t)n);
    if (!site) ag_error("bz_mcmc", "out of memory");
    for (int sweep = 0; sweep < d; sweep++) {
        memcpy(s->xp, s->x, sizeof(ag_real) * (size_t)n * d);
        for (int c = 0; c < n; c++) {
            site[c] = (int)ag_rng_below(s->rng, (uint32_t)d);
            ag_real *b = &s->xp[(size_t)c * d + site[c]];
            *b = 1 - *b;
        }
        energy_of(e, s->t, s->xp, n, s->up, NULL);
        for (int c = 0; c < n; c++)
            if (log(ag_rng_uniform(s->rng)) < s->u[c] - s->up[c]) {
                s->x[(size_t)c * d + site[c]] = s->xp[(size_t)c * d + site[c]];
                s->u[c] = s->up[c];
                acc += 1;
            }
    }
    free(site);
    return acc / ((double)n * d);
}

bz_mcmc_result bz_mcmc(const bz_energy *e, const bz_mcmc_opts *o) {
    bz_mcmc_opts opt = *o;
    if (opt.chains <= 0) opt.chains = 64;
    if (opt.steps <= 0) opt.steps = 1000;
    if (opt.burn_in < 0) opt.burn_in = 0;
    else if (opt.burn_in == 0) opt.burn_in = opt.steps / 4;
    if (opt.step <= 0) opt.step = 0.5;
    int n = opt.chains, d = e->dim, T = opt.steps, n_tr = 1 + e->n_obs;
    size_t nd = (size_t)n * d;
    chains_state s = {.e = e, .t = ag_tape_new(opt.seed ^ 0x5DEECE66DULL), .n = n, .d = d};
    ag_rng rng;
    ag_rng_seed(&rng, opt.seed);
    s.rng = &rng;
    s.x = malloc(sizeof(ag_real) * nd), s.xp = malloc(sizeof(ag_real) * nd);
    s.g = malloc(sizeof(ag_real) * nd), s.gp = malloc(sizeof(ag_real) * nd);
    s.u = malloc(sizeof(double) * n), s.up = malloc(sizeof(double) * n);
    /* traces[k][c·T + step]: U, then each observable */
    double *traces = malloc(sizeof(double) * (size_t)n_tr * n * T);
    double *f = malloc(sizeof(double) * (e->n_obs > 0 ? e->n_obs : 1));
    if (!s.x || !s.xp || !s.g || !s.gp || !s.u || !s.up || !traces || !f)
        ag_error("bz_mcmc", "out of memory");
    for (size_t k = 0; k < nd; k++)
        s.x[k] = opt.init ? opt.init[k]
                 : e->binary ? (ag_real)(ag_rng_uniform(&rng) < 0.5)
                             : (ag_real)ag_rng_normal(&rng);
    bool mala = !e->binary && opt.kind == BZ_MALA;
    energy_of(e, s.t, s.x, n, s.u, mala ? s.g : NULL);

    double h = opt.step, target = opt.kind == BZ_MALA ? 0.57 : 0.3;
    bz_mcmc_result r = {.chains = n, .steps = T};
    double acc = 0, seconds = 0;
    for (int it = 0; it < opt.burn_in + T; it++) {
        double t0 = now();
        double a = e->binary ? step_binary(&s) : step_continuous(&s, opt.kind, h);
        if (it < opt.burn_in) {
            /* Robbins–Monro on ln h towards the target acceptance, gain fading as 1/√it. */
            if (!e->binary) h *= exp((a - target) / sqrt(1.0 + it));
            continue;
        }
        seconds += now() - t0;
        acc += a;
        int step = it - opt.burn_in;
        for (int c = 0; c < n; c++) {
            traces[(size_t)c * T + step] = s.u[c];
            if (e->n_obs) {
                e->observe(e, s.x + (size_t)c * d, f);
                for (int k = 0; k < e->n_obs; k++)
                    traces[(size_t)(k + 1) * n * T + (size_t)c * T + step] = f[k];
            }
        }
    }
    r.accept = acc / T;
    r.step = h;
    r.seconds = seconds;
    r.tau = 1;
    for (int k = 0; k < n_tr; k++) {
        const double *tr = traces + (size_t)k * n * T;
        double tau = bz_autocorr_time(tr, n, T), mean = 0;
        if (tau > r.tau) r.tau = tau;
        for (size_t i = 0; i < (size_t)n * T; i++) mean += tr[i];
        mean /= (double)n * T;
        if (k == 0) r.mean_u = mean;
        else r.obs[k - 1] = mean;
    }
    if (opt.traces) memcpy(opt.traces, traces, sizeof(double) * (size_t)n_tr * n * T);
    r.ess = (double)n * T / r.tau;
    r.ess_per_second = seconds > 0 ? r.ess / seconds : INFINITY;
    ag_tape_free(s.t);
    free(s.x), free(s.xp), free(s.g), free(s.gp), free(s.u), free(s.up), free(traces), free(f);
    return r;
}

double bz_autocorr_time(const double *trace, int chains, int n) {
    if (chains < 1 || n < 2) return 1;
    size_t total = (size_t)chains * n;
    double mean = 0;
    for (size_t i = 0; i < total; i++) mean += trace[i];
    mean /= (double)total;
    /* Autocovariance about the overall mean, pooled over chains: chains stuck in different
     * modes then show up as a slowly decaying correlation, not as good mixing. */
    double c0 = 0;
    for (size_t i = 0; i < total; i++) c0 += (trace[i] - mean) * (trace[i] - mean);
    c0 /= (double)total;
    if (!(c0 > 0)) return 1;
    double tau = 1;
    for (int lag = 1; lag < n; lag++) {
        double ct = 0;
        for (int c = 0; c < chains; c++) {
            const double *tr = trace + (size_t)c * n;
            for (int i = 0; i + lag < n; i++) ct += (tr[i] - mean) * (tr[i + lag] - mean);
        }
        ct /= (double)chains * (n - lag);
        tau += 2 * ct / c0;                          /* τ = 1 + 2 Σ ρ(t) */
        if (lag >= 5 * tau) break;                   /* Sokal's window: M ≥ 5τ(M) */
    }
    return tau < 1 ? 1 : tau;
}
