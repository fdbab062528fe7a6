/* boltzmann_ising.c — the exact partition function of the finite periodic 2-D Ising model, the
 * reference the Boltzmann sampler's log Z estimates are measured against.
 *
 * Kaufman (Phys. Rev. 76, 1232 (1949)), for an n×m torus with coupling K = βJ:
 *   Z = ½ (2 sinh 2K)^(mn/2) (Z₁ + Z₂ + Z₃ + Z₄)
 *   Z₁ = Π_{r=0}^{n−1} 2 cosh(m γ_{2r+1} / 2)      Z₂ = Π 2 sinh(m γ_{2r+1} / 2)
 *   Z₃ = Π_{r=0}^{n−1} 2 cosh(m γ_{2r}   / 2)      Z₄ = Π 2 sinh(m γ_{2r}   / 2)
 *   cosh γ_k = cosh 2K · coth 2K − cos(πk / n)   (γ_k > 0 for k ≠ 0),
 *   γ₀ = 2K + ln tanh K, which is negative above the critical temperature (K < K_c), so Z₄
 * can be negative.  Everything is computed as (sign, log |·|) so that a 64×64 lattice does
 * not overflow. */
#include "vae/boltzmann.h"

#include <math.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* A signed number as sign · e^log; sign 0 means the number 0. */
typedef struct { int sign; double log; } signed_log;

static signed_log log_2cosh(double a) { /* ln(2 cosh a) = |a| + ln(1 + e^−2|a|) */
    double b = fabs(a);
    return (signed_log){1, b + log1p(exp(-2 * b))};
}

static signed_log log_2sinh(double a) { /* 2 sinh a = sign(a) e^|a| (1 − e^−2|a|) */
    if (a == 0) return (signed_log){0, -INFINITY};
    double b = fabs(a);
    return (signed_log){a > 0 ? 1 : -1, b + log1p(-exp(-2 * b))};
}

/* γ_k of Kaufman's formula for the angle index k on n columns. */
static double gamma_k(double K, int k, int n) {
    if (k == 0) return 2 * K + log(tanh(K));
    double c = cosh(2 * K) / tanh(2 * K) - cos(M_PI * k / n);   /* cosh 2K · coth 2K − cos */
    return acosh(c);
}

/* Π_{r<n} 2 f(m γ_{2r+odd} / 2) with f = cosh or sinh, as a signed log. */
static signed_log product(double K, int n, int m, int odd, bool use_sinh) {
    signed_log p = {1, 0};
    for (int r = 0; r < n; r++) {
        double a = 0.5 * m * gamma_k(K, 2 * r + odd, n);
        signed_log f = use_sinh ? log_2sinh(a) : log_2cosh(a);
        p.sign *= f.sign;
        p.log += f.log;
    }
    if (p.sign == 0) p.log = -INFINITY;
    return p;
}

double bz_ising_log_z(int rows, int cols, double beta) {
    if (rows < 2 || cols < 2 || !(beta > 0))
        ag_error("bz_ising_log_z", "need a lattice of at least 2x2 and beta > 0, got %dx%d, "
                 "beta %g", rows, cols, beta);
    int n = cols, m = rows;
    double K = beta;
    signed_log z[4] = {product(K, n, m, 1, false), product(K, n, m, 1, true),
                       product(K, n, m, 0, false), product(K, n, m, 0, true)};
    double top = -INFINITY, sum = 0;
    for (int i = 0; i < 4; i++)
        if (z[i].sign && z[i].log > top) top = z[i].log;
    for (int i = 0; i < 4; i++)
        if (z[i].sign) sum += z[i].sign * exp(z[i].log - top);    /* Σ Z_i / e^top */
    return log(0.5) + 0.5 * m * n * log(2 * sinh(2 * K)) + top + log(sum);
}

double bz_ising_energy_per_spin(int rows, int cols, double beta) {
    /* −(1/N) d ln Z / dβ; the step balances truncation (h²) against rounding (ε/h). */
    double h = 1e-5 * (beta > 1 ? beta : 1);
    return -(bz_ising_log_z(rows, cols, beta + h) - bz_ising_log_z(rows, cols, beta - h)) /
           (2 * h) / (rows * cols);
}
