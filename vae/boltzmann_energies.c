/* boltzmann_energies.c — the built-in energies of the Boltzmann sampler (see boltzmann.h), written
 * with henbun ops so that the tape gives ∇U, with their exact references: a normalised
 * Gaussian mixture, the double well, Many-Well and the Ising model (Kaufman's ln Z lives in
 * vae/boltzmann_ising.c).  Exact values are computed here (quadrature), not copied in. */
#include "vae/boltzmann.h"
#include "vae/gaussian.h"

#include <math.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------------------ */

/* Column j of x (N, D) as (N, 1). */
static ag_tensor *column(ag_tape *t, ag_tensor *x, int j) { return ag_slice(t, x, 1, j, j + 1); }

/* ln ∫ e^−(x⁴ − 6x² + a·x) dx and the share of the integral on x > 0, by Simpson's rule on
 * [−8, 8] (the integrand is below e^−3700 at the ends).  The quartic wells' 1-D factor. */
static void quartic_well(double a, double *log_z, double *p_pos) {
    const int n = 16000; /* even: Simpson pairs; x = 0 falls on a node */
    const double lo = -8, h = 16.0 / n;
    /* Shift by the minimum of the exponent so the sum cannot overflow. */
    double umin = INFINITY;
    for (int i = 0; i <= n; i++) {
        double x = lo + i * h, u = x * x * x * x - 6 * x * x + a * x;
        if (u < umin) umin = u;
    }
    double total = 0, pos = 0;
    for (int i = 0; i <= n; i++) {
        double x = lo + i * h, u = x * x * x * x - 6 * x * x + a * x;
        double wgt = (i == 0 || i == n) ? 1 : (i % 2 ? 4 : 2);
        double v = wgt * exp(-(u - umin));
        total += v;
        if (i > n / 2) pos += v;
        else if (i == n / 2) pos += 0.5 * v; /* the node at 0 is shared by both halves */
    }
    *log_z = log(total * h / 3) - umin;
    *p_pos = pos / total;
}

/* ---- a normalised 2-D Gaussian mixture -------------------------------------------------- */

#define GMM_K 3
static const double GMM_W[GMM_K] = {0.5, 0.3, 0.2};
static const double GMM_MEAN[GMM_K][2] = {{-2, 0}, {2, 0}, {0, 2.5}};
static const double GMM_SD[GMM_K] = {0.6, 0.5, 0.4};

static ag_tensor *gmm_energy(const bz_energy *e, ag_tape *t, ag_tensor *x) {
    (void)e;
    ag_tensor *comp[GMM_K];
    for (int k = 0; k < GMM_K; k++) {
        ag_real m[2] = {(ag_real)GMM_MEAN[k][0], (ag_real)GMM_MEAN[k][1]};
        ag_tensor *d = ag_sub(t, x, ag_from_data(t, 2, (int[]){1, 2}, m));   /* (N, 2) */
        ag_tensor *sq = ag_sum_axis(t, ag_square(t, d), 1, true);            /* (N, 1) */
        double s2 = GMM_SD[k] * GMM_SD[k];
        /* ln w_k + ln N(x; m_k, s² I) = ln w_k − ln(2π s²) − |x − m_k|² / 2s² */
        comp[k] = ag_add_scalar(t, ag_scale(t, sq, (ag_real)(-0.5 / s2)),
                                (ag_real)(log(GMM_W[k]) - VAE_LOG_2PI - log(s2)));
    }
    ag_tensor *lp = ag_concat(t, comp, GMM_K, 1);                             /* (N, K) */
    return ag_neg(t, ag_logsumexp_axis(t, lp, 1, false));                     /* −ln p(x) */
}

static void gmm_observe(const bz_energy *e, const ag_real *x, double *f) {
    (void)e;
    double lp[GMM_K], mx = -INFINITY, sum = 0;
    for (int k = 0; k < GMM_K; k++) {
        double dx = x[0] - GMM_MEAN[k][0], dy = x[1] - GMM_MEAN[k][1];
        double s2 = GMM_SD[k] * GMM_SD[k];
        lp[k] = log(GMM_W[k]) - log(s2) - 0.5 * (dx * dx + dy * dy) / s2;
        if (lp[k] > mx) mx = lp[k];
    }
    for (int k = 0; k < GMM_K; k++) sum += exp(lp[k] - mx);
    for (int k = 0; k < GMM_K; k++) f[k] = exp(lp[k] - mx) / sum;   /* r_k(x) */
}

bz_energy bz_gmm(void) {
    bz_energy e = {.name = "gmm", .dim = 2, .energy = gmm_energy, .log_z = 0, .n_obs = GMM_K,
                   .observe = gmm_observe};
    static const char *names[GMM_K] = {"mass_mode1", "mass_mode2", "mass_mode3"};
    for (int k = 0; k < GMM_K; k++) e.obs_name[k] = names[k], e.obs_exact[k] = GMM_W[k];
    return e;
}

/* ---- the double well: U = x₁⁴ − 6x₁² + x₁ + ½x₂² ------------------------------------------ */

static ag_tensor *double_well_energy(const bz_energy *e, ag_tape *t, ag_tensor *x) {
    (void)e;
    ag_tensor *a = column(t, x, 0), *b = column(t, x, 1);
    ag_tensor *a2 = ag_square(t, a);
    ag_tensor *u = ag_add(t, ag_sub(t, ag_square(t, a2), ag_scale(t, a2, 6)), a); /* a⁴−6a²+a */
    u = ag_add(t, u, ag_scale(t, ag_square(t, b), (ag_real)0.5));             /* + ½b² */
    return ag_reshape(t, u, 1, (int[]){x->shape[0]});
}

static void double_well_observe(const bz_energy *e, const ag_real *x, double *f) {
    (void)e;
    f[0] = x[0] > 0;
}

bz_energy bz_double_well(void) {
    bz_energy e = {.name = "double-well", .dim = 2, .energy = double_well_energy, .n_obs = 1,
                   .observe = double_well_observe};
    double lz, p;
    quartic_well(1.0, &lz, &p);
    e.log_z = lz + 0.5 * VAE_LOG_2PI; /* the x₂ factor: ∫ e^−x²/2 = √(2π) */
    e.obs_name[0] = "mass_minor";
    e.obs_exact[0] = p;
    return e;
}

/* ---- Many-Well: copies of U = x⁴ − 6x² − 0.5x + ½y² ---------------------------------------- */

/* U of each copy, (N, copies): the structured sampler's per-copy bound needs the terms. */
static ag_tensor *many_well_copy_energy(const bz_energy *e, ag_tape *t, ag_tensor *x) {
    int n = x->shape[0], c = e->copies;
    ag_tensor *xy = ag_reshape(t, x, 3, (int[]){n, c, 2});
    ag_tensor *a = ag_reshape(t, ag_slice(t, xy, 2, 0, 1), 2, (int[]){n, c});  /* x_k */
    ag_tensor *b = ag_reshape(t, ag_slice(t, xy, 2, 1, 2), 2, (int[]){n, c});  /* y_k */
    ag_tensor *a2 = ag_square(t, a);
    ag_tensor *u = ag_sub(t, ag_square(t, a2), ag_scale(t, a2, 6));          /* a⁴ − 6a² */
    u = ag_sub(t, u, ag_scale(t, a, (ag_real)0.5));                            /* − 0.5a */
    return ag_add(t, u, ag_scale(t, ag_square(t, b), (ag_real)0.5));           /* + ½b² */
}

static ag_tensor *many_well_energy(const bz_energy *e, ag_tape *t, ag_tensor *x) {
    return ag_sum_axis(t, many_well_copy_energy(e, t, x), 1, false);          /* (N) */
}

static void many_well_observe(const bz_energy *e, const ag_real *x, double *f) {
    double s = 0;
    for (int k = 0; k < e->copies; k++) s += x[2 * k] > 0;
    f[0] = s / e->copies;
    f[1] = x[0] > 0;
}

bz_energy bz_many_well(int copies) {
    if (copies < 1) ag_error("bz_many_well", "need at least one copy, got %d", copies);
    bz_energy e = {.name = "many-well", .dim = 2 * copies, .energy = many_well_energy,
                   .n_obs = 2, .observe = many_well_observe, .copies = copies,
                   .copy_energy = many_well_copy_energy};
    double lz, p;
    quartic_well(-0.5, &lz, &p);
    e.log_z = copies * (lz + 0.5 * VAE_LOG_2PI);
    e.obs_name[0] = "mass_pos_mean", e.obs_exact[0] = p;
    e.obs_name[1] = "mass_pos_copy1", e.obs_exact[1] = p;
    return e;
}

/* ---- the Ising model: U = β·E, E = −Σ_<ij> s_i s_j on a torus ------------------------------ */

static ag_tensor *ising_energy(const bz_energy *e, ag_tape *t, ag_tensor *x) {
    int n = x->shape[0], R = e->rows, C = e->cols;
    ag_tensor *s = ag_add_scalar(t, ag_scale(t, x, 2), -1);                   /* s = 2x − 1 */
    s = ag_reshape(t, s, 3, (int[]){n, R, C});
    /* The right and lower neighbours of every site, wrapping around (a roll by one). */
    ag_tensor *right = ag_concat(t, (ag_tensor *[]){ag_slice(t, s, 2, 1, C),
                                                    ag_slice(t, s, 2, 0, 1)}, 2, 2);
    ag_tensor *down = ag_concat(t, (ag_tensor *[]){ag_slice(t, s, 1, 1, R),
                                                   ag_slice(t, s, 1, 0, 1)}, 2, 1);
    ag_tensor *bonds = ag_mul(t, s, ag_add(t, right, down));       /* s_i (s_right + s_down) */
    bonds = ag_reshape(t, bonds, 2, (int[]){n, R * C});
    return ag_scale(t, ag_sum_axis(t, bonds, 1, false), (ag_real)-e->beta);   /* β·E */
}

static void ising_observe(const bz_energy *e, const ag_real *x, double *f) {
    int R = e->rows, C = e->cols, N = R * C;
    double bonds = 0, m = 0;
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) {
            double s = 2 * x[r * C + c] - 1;
            double right = 2 * x[r * C + (c + 1) % C] - 1, down = 2 * x[((r + 1) % R) * C + c] - 1;
            bonds += s * (right + down);
            m += s;
        }
    m /= N;
    f[0] = -bonds / N;                    /* E / N */
    f[1] = m > 0 ? 1 : m == 0 ? 0.5 : 0;  /* P(m > 0) + ½ P(m = 0) */
    f[2] = fabs(m);
    f[3] = m;
}

/* Flipping s_i changes E by 2 s_i h_i, h_i the sum of its four neighbours. */
static double ising_flip_delta(const bz_energy *e, const ag_real *x, int i) {
    int R = e->rows, C = e->cols, r = i / C, c = i % C;
    double h = (2 * x[r * C + (c + 1) % C] - 1) + (2 * x[r * C + (c + C - 1) % C] - 1) +
               (2 * x[((r + 1) % R) * C + c] - 1) + (2 * x[((r + R - 1) % R) * C + c] - 1);
    return e->beta * 2 * (2 * x[i] - 1) * h;
}

bz_energy bz_ising(int rows, int cols, double beta) {
    if (rows < 2 || cols < 2)
        ag_error("bz_ising", "the lattice must be at least 2x2, got %dx%d", rows, cols);
    bz_energy e = {.name = "ising", .dim = rows * cols, .binary = true, .energy = ising_energy,
                   .n_obs = 4, .observe = ising_observe,
                   .flip_delta = ising_flip_delta, .rows = rows, .cols = cols,
                   .beta = beta};
    e.log_z = bz_ising_log_z(rows, cols, beta);
    e.obs_name[0] = "energy_per_spin", e.obs_exact[0] = bz_ising_energy_per_spin(rows, cols, beta);
    e.obs_name[1] = "mass_m_pos", e.obs_exact[1] = 0.5;
    e.obs_name[2] = "abs_m", e.obs_exact[2] = NAN;
    e.obs_name[3] = "m", e.obs_exact[3] = 0;
    return e;
}
