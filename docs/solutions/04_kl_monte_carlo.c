/* 04_kl_monte_carlo.c — solution to the exercise of docs/04-vae.md.
 *
 * The exercise: the ELBO's KL term is computed in closed form by vae_kl_normal,
 *   KL(N(mu, σ²) ‖ N(0, I)) = ½ Σ_j (mu_j² + σ_j² − 1 − ln σ_j²)   (seed 003 eq. (2.10)),
 * rather than sampled like the reconstruction term (seed 000 eq. (7)).  Check it by Monte
 * Carlo: KL = E_q[ln q(z) − ln p(z)], with z drawn through ag_reparameterize.  Then check
 * seed 003 eq. (2.10) in general (two isotropic Gaussians, neither standard) the same way,
 * and say why the closed form is preferred in training. */
#include "vae/vae.h"

#include <math.h>
#include <stdio.h>

#define LOG_2PI 1.8378770664093453

/* ln N(z; m, s² I) for a d-vector. */
static double log_normal(const ag_real *z, const double *m, double s, int d) {
    double q = 0;
    for (int j = 0; j < d; j++) q += (z[j] - m[j]) * (z[j] - m[j]);
    return -0.5 * (d * LOG_2PI + 2 * d * log(s) + q / (s * s));
}

int main(void) {
    enum { D = 3, S = 200000 };
    int failures = 0;
    ag_tape *t = ag_tape_new(11);
    ag_set_grad_enabled(t, false);

    /* ---- 1. KL(q ‖ N(0, I)): closed form against the mean of ln q − ln p ------------------- */
    const ag_real mu_v[D] = {0.5f, -1.0f, 2.0f}, lv_v[D] = {-1.0f, 0.3f, 0.0f};
    ag_tensor *mu = ag_from_data(t, 2, (int[]){1, D}, mu_v);
    ag_tensor *lv = ag_from_data(t, 2, (int[]){1, D}, lv_v);
    double closed = ag_item(vae_kl_normal(t, mu, lv));
    /* S draws at once: mu and logvar repeated over S rows, z = mu + σ·ε */
    ag_tensor *mus = ag_broadcast_to(t, mu, 2, (int[]){S, D});
    ag_tensor *lvs = ag_broadcast_to(t, lv, 2, (int[]){S, D});
    ag_tensor *z = ag_reparameterize(t, mus, lvs);
    double mc = 0, mc2 = 0;
    for (int i = 0; i < S; i++) {
        const ag_real *zi = z->data + (size_t)i * D;
        double lq = 0, lp = 0;
        for (int j = 0; j < D; j++) {       /* diagonal q: a sum of 1-D log densities */
            double s = exp(0.5 * lv_v[j]);
            lq += -0.5 * (LOG_2PI + lv_v[j] + (zi[j] - mu_v[j]) * (zi[j] - mu_v[j]) / (s * s));
            lp += -0.5 * (LOG_2PI + zi[j] * zi[j]);
        }
        mc += (lq - lp) / S, mc2 += (lq - lp) * (lq - lp) / S;
    }
    double se = sqrt((mc2 - mc * mc) / S);
    printf("KL(q || N(0,I)): closed form %.5f, Monte Carlo %.5f ± %.5f (%d draws)\n", closed, mc,
           se, S);
    failures += fabs(closed - mc) > 4 * se;

    /* ---- 2. seed 003 eq. (2.10): KL(N(mx, sx² I) ‖ N(my, sy² I)) ------------------------------
     *   = ½ [ d ln(sy²/sx²) − d + d sx²/sy² + |my − mx|²/sy² ] */
    const double mx[D] = {1, 0, -1}, my[D] = {0, 0.5, 0};
    const double sx = 0.7, sy = 1.3;
    double dist2 = 0;
    for (int j = 0; j < D; j++) dist2 += (my[j] - mx[j]) * (my[j] - mx[j]);
    double closed2 = 0.5 * (D * log(sy * sy / (sx * sx)) - D + D * sx * sx / (sy * sy) +
                            dist2 / (sy * sy));
    ag_tensor *eps = ag_randn(t, 2, (int[]){S, D}, 1);
    double mc_b = 0, mc_b2 = 0;
    for (int i = 0; i < S; i++) {
        ag_real zi[D];
        for (int j = 0; j < D; j++) zi[j] = (ag_real)(mx[j] + sx * eps->data[(size_t)i * D + j]);
        double v = log_normal(zi, mx, sx, D) - log_normal(zi, my, sy, D);
        mc_b += v / S, mc_b2 += v * v / S;
    }
    double se_b = sqrt((mc_b2 - mc_b * mc_b) / S);
    printf("eq. (2.10):      closed form %.5f, Monte Carlo %.5f ± %.5f\n", closed2, mc_b, se_b);
    failures += fabs(closed2 - mc_b) > 4 * se_b;

    /* Why the closed form: the Monte-Carlo estimate with one draw per example (what a training
     * step would use) has this standard deviation, nearly as large as the KL itself. */
    printf("one-draw Monte-Carlo KL: standard deviation %.3f, against a value of %.3f\n",
           sqrt(mc2 - mc * mc), closed);

    ag_tape_free(t);
    printf("%s\n", failures ? "FAIL" : "all checks passed");
    return failures != 0;
}
