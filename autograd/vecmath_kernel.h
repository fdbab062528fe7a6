/* vecmath_kernel.h — the body of vecmath_avx512.c and vecmath_avx2.c: BCE-with-logits
 * forward and backward over W-lane vectors (GCC/clang vector extensions, so one text serves
 * both widths; each file's target flags decide the instructions).  Every function carries
 * the file's suffix (V(name) -> name_avx512 ...).
 *
 * exp and log1p are our own, for the ranges BCE needs, with the error bounds that
 * tests/autograd/test_loss.c checks against double-precision references:
 *   exp_neg(x), x <= 0: 2^n · p(r), n = round(x/ln2), r = x - n·ln2 in two parts (Cody &
 *     Waite), |r| <= ln2/2, p the degree-7 Taylor polynomial of e^r (truncation
 *     0.347^8/8! = 5e-9 relative).  x is clamped at -87 (e^-87 = 1.6e-38, the smallest
 *     normal float is 1.2e-38): below it the result is e^-87 instead of something smaller.
 *   log1p_01(t), 0 <= t <= 1: u = 1 + t rounded (in [1, 2]), c = (t - (u - 1))/u the
 *     rounding lost, u = 2^k·m with k in {0, 1}, m in [√½, √2], f = m - 1 (exact),
 *     log(1+f) = f - f²/2 + f³·P(f), P of degree 7 fitted by us (iteratively reweighted
 *     least squares on the relative error over [√½-1, √2-1]: 5.9e-9 in exact arithmetic).
 *     result k·ln2 + log m + c.
 *   1/u here and in σ(l) = 1/(1 + e): the hardware's reciprocal estimate and one Newton
 *     step (recip below), so there is no division anywhere.
 * Divisions (two per vector in log1p, one in σ) were half of the BCE loops' time.
 * Measured worst errors over a 2^16-point sweep of each range: 0.79 ulp (exp) and 1.04 ulp
 * (log1p); the test asserts <= 4 ulp.  glibc's scalar expf/log1pf are within 1 ulp, so
 * the BCE values and gradients differ from the scalar loop in the last bits. */
#include "autograd/vecmath.h"

#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define V__(name, isa) name##_##isa
#define V_(name, isa) V__(name, isa)
#define V(name) V_(name, VM_ISA)

typedef float vf __attribute__((vector_size(W * 4)));
typedef int32_t vi __attribute__((vector_size(W * 4)));
typedef float vf8 __attribute__((vector_size(32)));        /* 8 floats, 8 doubles: the */
typedef double vd8 __attribute__((vector_size(64)));       /* gradient norm's 8 sums */

static inline vf V(load)(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
static inline void V(store)(float *p, vf v) { memcpy(p, &v, sizeof v); }
static inline vf V(splat)(float x) { return (vf){0} + x; }
/* m ? a : b per lane (m: all ones or all zeros). */
static inline vf V(sel)(vi m, vf a, vf b) { return (vf)((m & (vi)a) | (~m & (vi)b)); }

/* a·b + c rounded once.  The polynomials below are chains of dependent steps; with a
 * separate multiply and add each step costs twice the latency, and the BCE loops were
 * bound by that latency, not by the number of operations. */
static inline vf V(fma)(vf a, vf b, vf c)
{
#if W == 16
    return (vf)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#else
    return (vf)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#endif
}
/* c0 + x·(c1 + x·(c2 + ...)) by Horner's rule, one fma a step */
#define HORNER2(x, c0, c1) V(fma)(x, V(splat)(c1), V(splat)(c0))
#define HORNER(x, c0, rest) V(fma)(x, rest, V(splat)(c0))

static inline vf V(exp_neg)(vf x)
{
    x = V(sel)(x < -87.0f, V(splat)(-87.0f), x);
    const vf magic = V(splat)(12582912.0f);                 /* 1.5·2^23: rounds to integer */
    vf n = (x * 1.44269504088896341f + magic) - magic;
    vf r = (x - n * 0.693145751953125f) - n * 1.42860682030941723e-06f;
    vf p = HORNER(r, 1.0f, HORNER(r, 1.0f, HORNER(r, 0.5f, HORNER(r, 1.0f / 6, HORNER(r,
           1.0f / 24, HORNER(r, 1.0f / 120, HORNER2(r, 1.0f / 720, 1.0f / 5040)))))));
    vi e = (__builtin_convertvector(n, vi) + 127) << 23;     /* 2^n, n >= -126 */
    return p * (vf)e;
}

/* 1/x without a division: the hardware's estimate (12 bits, 14 with AVX-512) and one
 * Newton step r·(2 - x·r), within about 1 ulp. */
static inline vf V(recip)(vf x)
{
#if W == 16
    vf r = (vf)_mm512_rcp14_ps((__m512)x);
#else
    vf r = (vf)_mm256_rcp_ps((__m256)x);
#endif
    return r * (2.0f - x * r);
}

static inline vf V(log1p_01)(vf t)
{
    vf u = 1.0f + t;
    vf c = (t - (u - 1.0f)) * V(recip)(u);
    vi big = u > 1.41421356f;
    vf m = V(sel)(big, u * 0.5f, u);                        /* u = 2^k·m, k = big */
    vf f = m - 1.0f, f2 = f * f;
    vf p = HORNER(f, 0.333333313f, HORNER(f, -0.250008196f, HORNER(f, 0.200012237f, HORNER(f,
           -0.166233793f, HORNER(f, 0.142018363f, HORNER(f, -0.13160044f,
           HORNER2(f, 0.127609327f, -0.0763405263f)))))));
    vf lm = V(fma)(f2, V(fma)(f, p, V(splat)(-0.5f)), f);   /* f - f²/2 + f³·P(f) */
    return V(sel)(big, V(splat)(0.693147180559945309f), V(splat)(0.0f)) + lm + c;
}

/* max(l,0) - l·y + log1p(e^-|l|) */
static inline vf V(bce_value)(vf l, vf y)
{
    vf a = (vf)((vi)l & 0x7fffffff);
    vf lp = V(sel)(l > 0.0f, l, V(splat)(0.0f));
    return lp - l * y + V(log1p_01)(V(exp_neg)(-a));
}

/* σ(l): 1/(1+e) for l >= 0, e/(1+e) for l < 0, e = e^-|l| */
static inline vf V(sigmoid)(vf l)
{
    vf e = V(exp_neg)(-(vf)((vi)l & 0x7fffffff));
    vf r = V(recip)(1.0f + e);
    return V(sel)(l >= 0.0f, r, e * r);
}

void V(ag_bce_fwd)(long n, const float *l, const float *y, float *out)
{
    long i = 0;
    for (; i + W <= n; i += W) V(store)(out + i, V(bce_value)(V(load)(l + i), V(load)(y + i)));
    if (i < n) {                /* the tail through padded copies: the same arithmetic */
        size_t k = (size_t)(n - i) * sizeof(float);
        float a[W] = {0}, b[W] = {0}, c[W];
        memcpy(a, l + i, k), memcpy(b, y + i, k);
        V(store)(c, V(bce_value)(V(load)(a), V(load)(b)));
        memcpy(out + i, c, k);
    }
}

/* Σ bce over n values, added in double: W running double lanes (a fixed order, whatever
 * the thread count), then the lanes and the tail in index order.  Two vectors a step, so
 * that two independent chains of the polynomials are in flight. */
#if W == 16
typedef __m512d vdh;                              /* half a vector's lanes, in double */
static inline vdh V(lo_pd)(vf x) { return _mm512_cvtps_pd(_mm512_castps512_ps256((__m512)x)); }
static inline vdh V(hi_pd)(vf x)
{
    return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd((__m512)x), 1)));
}
#else
typedef __m256d vdh;
static inline vdh V(lo_pd)(vf x) { return _mm256_cvtps_pd(_mm256_castps256_ps128((__m256)x)); }
static inline vdh V(hi_pd)(vf x) { return _mm256_cvtps_pd(_mm256_extractf128_ps((__m256)x, 1)); }
#endif
/* acc[0] += the low half of x's lanes, acc[1] += the high half, in double */
static inline void V(add_wide)(vdh *acc, vf x)
{
    acc[0] += V(lo_pd)(x);
    acc[1] += V(hi_pd)(x);
}

double V(ag_bce_sum)(long n, const float *l, const float *y)
{
    vdh acc[2] = {{0}}, acc2[2] = {{0}};
    long i = 0;
    for (; i + 2 * W <= n; i += 2 * W) {
        V(add_wide)(acc, V(bce_value)(V(load)(l + i), V(load)(y + i)));
        V(add_wide)(acc2, V(bce_value)(V(load)(l + i + W), V(load)(y + i + W)));
    }
    if (i + W <= n) {
        V(add_wide)(acc, V(bce_value)(V(load)(l + i), V(load)(y + i)));
        i += W;
    }
    double s = 0;
    for (int k = 0; k < 2; k++) {
        acc[k] += acc2[k];
        for (int j = 0; j < W / 2; j++) s += acc[k][j];
    }
    if (i < n) {                /* the tail through padded copies; the padding is not added */
        size_t k = (size_t)(n - i) * sizeof(float);
        float a[W] = {0}, b[W] = {0}, c[W];
        memcpy(a, l + i, k), memcpy(b, y + i, k);
        V(store)(c, V(bce_value)(V(load)(a), V(load)(b)));
        for (long j = 0; j < n - i; j++) s += c[j];
    }
    return s;
}

/* dl += g·(σ(l) - y), or dl = 0 + g·(σ(l) - y) when dl is fresh (not yet written: the
 * same bits as adding into zeros, without reading them); dy += -g·l */
static inline void V(bce_bwd_block)(const float *l, const float *y, vf g, float *dl, bool fresh,
                                    float *dy)
{
    vf x = V(load)(l);
    if (dl) V(store)(dl, (fresh ? V(splat)(0.0f) : V(load)(dl)) + g * (V(sigmoid)(x) - V(load)(y)));
    if (dy) V(store)(dy, V(load)(dy) - g * x);                              /* -l */
}

/* The backward over n values with the output gradient dout[i] (dout != NULL) or the one
 * value g for all of them (dout == NULL: the gradient of a sum). */
static void V(bce_bwd)(long n, const float *l, const float *y, const float *dout, float g,
                       float *dl, bool fresh, float *dy)
{
    long i = 0;
    for (; i + W <= n; i += W)
        V(bce_bwd_block)(l + i, y + i, dout ? V(load)(dout + i) : V(splat)(g), dl ? dl + i : NULL,
                         fresh, dy ? dy + i : NULL);
    if (i < n) {
        size_t k = (size_t)(n - i) * sizeof(float);
        float a[W] = {0}, b[W] = {0}, d[W] = {0}, p[W] = {0}, q[W] = {0};
        memcpy(a, l + i, k), memcpy(b, y + i, k);
        if (dout) memcpy(d, dout + i, k);
        if (dl && !fresh) memcpy(p, dl + i, k);
        if (dy) memcpy(q, dy + i, k);
        V(bce_bwd_block)(a, b, dout ? V(load)(d) : V(splat)(g), dl ? p : NULL, fresh, dy ? q : NULL);
        if (dl) memcpy(dl + i, p, k);
        if (dy) memcpy(dy + i, q, k);
    }
}

void V(ag_bce_bwd)(long n, const float *l, const float *y, const float *dout, float *dl, float *dy)
{
    V(bce_bwd)(n, l, y, dout, 0, dl, false, dy);
}

void V(ag_bce_sum_bwd)(long n, const float *l, const float *y, float g, float *dl, bool dl_fresh,
                       float *dy)
{
    V(bce_bwd)(n, l, y, NULL, g, dl, dl_fresh, dy);
}

/* ---- Adam's update (nn/optim.c), the same arithmetic as its scalar loop ----------------
 * gj = c·g + l2·w;  m = β1 m + (1-β1) gj;  v = β2 v + (1-β2) gj gj;
 * w = decay·w − step·m / (√v · inv_sqrt_bc2 + eps)
 * Every operation is the scalar loop's, in its order (no fused multiply-add: ISO C mode
 * does not contract), and sqrt and division are correctly rounded in every width, so the
 * result is bit for bit the scalar loop's.  With sumsq != NULL also Σ g² in double, in the
 * order of nn/optim.c's sum_squares: element j into partial sum j mod 8, the n mod 8 last
 * ones into s in order, then the 8 partial sums in order. */

static inline vf8 V(load8)(const float *p) { vf8 x; memcpy(&x, p, sizeof x); return x; }

static inline void V(adam_scalar)(float *w, const float *g, float *m, float *v,
                                  const ag_adam_hyper *h)
{
#pragma STDC FP_CONTRACT OFF
    float gj = h->c * *g + h->l2 * *w;
    *m = h->b1 * *m + (1 - h->b1) * gj;
    *v = h->b2 * *v + (1 - h->b2) * gj * gj;
    *w = h->decay * *w - h->step * *m / (__builtin_sqrtf(*v) * h->inv_sqrt_bc2 + h->eps);
}

void V(ag_adam_update)(long n, float *w, const float *g, float *m, float *v,
                       const ag_adam_hyper *h, double *sumsq)
{
#pragma STDC FP_CONTRACT OFF    /* clang contracts by default; GCC does not in ISO C mode */
    const vf c = V(splat)(h->c), l2 = V(splat)(h->l2), b1 = V(splat)(h->b1),
             b2 = V(splat)(h->b2), ob1 = V(splat)(1 - h->b1), ob2 = V(splat)(1 - h->b2),
             step = V(splat)(h->step), isb = V(splat)(h->inv_sqrt_bc2),
             eps = V(splat)(h->eps), decay = V(splat)(h->decay);
    vd8 acc = {0};
    long j = 0;
    for (; j + W <= n; j += W) {
        vf gj = c * V(load)(g + j) + l2 * V(load)(w + j);
        vf mj = b1 * V(load)(m + j) + ob1 * gj;
        vf vj = b2 * V(load)(v + j) + ob2 * gj * gj;
        vf r;
#if W == 16
        r = (vf)_mm512_sqrt_ps((__m512)vj);
#else
        r = (vf)_mm256_sqrt_ps((__m256)vj);
#endif
        V(store)(m + j, mj);
        V(store)(v + j, vj);
        V(store)(w + j, decay * V(load)(w + j) - step * mj / (r * isb + eps));
        if (sumsq)
            for (int k = 0; k < W; k += 8) {
                vd8 d = __builtin_convertvector(V(load8)(g + j + k), vd8);
                acc += d * d;
            }
    }
    for (long i = j; i < n; i++) V(adam_scalar)(w + i, g + i, m + i, v + i, h);
    if (!sumsq) return;
    for (; j + 8 <= n; j += 8) {
        vd8 d = __builtin_convertvector(V(load8)(g + j), vd8);
        acc += d * d;
    }
    double s = 0;
    for (; j < n; j++) s += (double)g[j] * g[j];
    for (int k = 0; k < 8; k++) s += acc[k];
    *sumsq = s;
}

/* For the tests: the vector exp and log1p on n values. */
void V(ag_vec_exp_neg)(long n, const float *x, float *out)
{
    for (long i = 0; i + W <= n; i += W) V(store)(out + i, V(exp_neg)(V(load)(x + i)));
}
void V(ag_vec_log1p_01)(long n, const float *x, float *out)
{
    for (long i = 0; i + W <= n; i += W) V(store)(out + i, V(log1p_01)(V(load)(x + i)));
}
