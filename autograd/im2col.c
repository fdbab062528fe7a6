/* im2col.c — the data-movement kernels under convolution: im2col, its adjoint col2im,
 * the (N, C, P) ↔ (C, N, P) axis swap and the per-channel sum (see im2col.h).
 *
 * None of these does arithmetic worth the name; they are memory-bound copies, and what
 * slows such copies down is per-element bookkeeping.  So each (image, channel) plane is
 * first copied into a zero-padded plane, (H + 2·pad) × (W + 2·pad), held in per-thread
 * scratch: there every window tap reads real memory and the loops need no bounds tests.
 * Tap (i, j) of window (oh, ow) then sits at offs[oh·Wo + ow] + i·Wp + j, one table of
 * offsets shared by all taps, so copying a tap's Ho×Wo block is a single gather loop
 * over it (a vector gather), or a memcpy per row at stride 1.  On the DCGAN's k4 s2
 * layers (7×7 blocks) this made im2col twice as fast as copying clipped 7-wide rows.
 * col2im, the adjoint, sums into the same padded plane by scatter in general, and by a
 * gather per stride phase where the geometry allows (every DCGAN layer): 1.45× faster on
 * the 64-channel 7→14 layer, 1.9× on the 14→28 one (1 thread, same bits).
 *
 * Threads split the batch × channel planes: no two threads ever write the same memory. */
#include "autograd/im2col.h"
#include "autograd/internal.h"

#include <omp.h>
#include <stddef.h>
#include <string.h>

/* Scratch: the window offsets (Ho·Wo ints), then one padded plane per thread. */
typedef struct {
    int Hp, Wp;          /* padded plane */
    size_t plane;        /* values per padded plane, rounded up to a cache line */
    size_t offs_bytes;   /* bytes of the offset table, rounded up to a cache line */
} pad_layout;

static pad_layout layout(const ag_conv_geom *g)
{
    pad_layout L = {g->H + 2 * g->pad, g->W + 2 * g->pad, 0, 0};
    size_t line = 64 / sizeof(ag_real);
    L.plane = ((size_t)L.Hp * L.Wp + line - 1) / line * line;
    /* im2col's window offsets (Ho·Wo) or col2im's column table (⌈H/s⌉·Wo), the larger */
    size_t rows = (size_t)g->Ho > ((size_t)g->H + g->stride - 1) / g->stride
                      ? (size_t)g->Ho : ((size_t)g->H + g->stride - 1) / g->stride;
    L.offs_bytes = (rows * g->Wo * sizeof(int) + 63) / 64 * 64;
    return L;
}

size_t ag_conv_scratch_bytes(const ag_conv_geom *g)
{
    pad_layout L = layout(g);
    return L.offs_bytes + (size_t)omp_get_max_threads() * L.plane * sizeof(ag_real);
}

/* offs[oh·Wo + ow] = where window (oh, ow) starts in the padded plane. */
static const int *window_offsets(const ag_conv_geom *g, const pad_layout *L, void *scratch)
{
    int *offs = scratch;
    for (int oh = 0; oh < g->Ho; oh++)
        for (int ow = 0; ow < g->Wo; ow++)
            offs[oh * g->Wo + ow] = oh * g->stride * L->Wp + ow * g->stride;
    return offs;
}

/* This thread's padded plane; call inside the parallel region. */
static ag_real *thread_plane(void *scratch, const pad_layout *L)
{
    return (ag_real *)(void *)((char *)scratch + L->offs_bytes) +
           (size_t)omp_get_thread_num() * L->plane;
}

/* restrict: the loops below then vectorise without run-time overlap checks. */
static void gather(ag_real *restrict dst, const ag_real *restrict src, const int *restrict idx,
                   int n)
{
    for (int q = 0; q < n; q++) dst[q] = src[idx[q]];
}
static void scatter_add(ag_real *restrict dst, const ag_real *restrict src,
                        const int *restrict idx, int n)
{
    for (int q = 0; q < n; q++) dst[idx[q]] += src[q];   /* idx has no repeats */
}
static void add_row(ag_real *restrict dst, const ag_real *restrict src, int n)
{
    for (int k = 0; k < n; k++) dst[k] += src[k];
}

void ag_im2col(const ag_conv_geom *g, int N, const ag_real *img, ag_real *col, void *scratch)
{
    const int C = g->C, H = g->H, W = g->W, kh = g->kh, kw = g->kw, p = g->pad;
    const int Ho = g->Ho, Wo = g->Wo, P = Ho * Wo;
    const size_t ld = (size_t)N * P;                        /* row length of col */
    const pad_layout L = layout(g);
    const int *offs = window_offsets(g, &L, scratch);
    const long work = (long)N * C * kh * kw * P;
    /* plane nc = (image n, channel c) */
    AG_PARALLEL_FOR(nc, (long)N * C, work > AG_PAR_MIN, {
        const int n = (int)(nc / C), c = (int)(nc % C);
        /* the padded copy: p zero rows, H rows framed by p zeros, p zero rows */
        const ag_real *plane = img + (size_t)nc * H * W;
        ag_real *pp = thread_plane(scratch, &L);
        memset(pp, 0, sizeof *pp * (size_t)p * L.Wp);
        for (int h = 0; h < H; h++) {
            ag_real *row = pp + (size_t)(h + p) * L.Wp;
            memset(row, 0, sizeof *row * (size_t)p);
            memcpy(row + p, plane + (size_t)h * W, sizeof *row * (size_t)W);
            memset(row + p + W, 0, sizeof *row * (size_t)p);
        }
        memset(pp + (size_t)(H + p) * L.Wp, 0, sizeof *pp * (size_t)p * L.Wp);
        for (int i = 0; i < kh; i++)
            for (int j = 0; j < kw; j++) {
                const ag_real *tap = pp + (size_t)i * L.Wp + j;
                ag_real *dst = col + ((size_t)(c * kh + i) * kw + j) * ld + (size_t)n * P;
                if (g->stride == 1)     /* the block's rows are rows of the plane */
                    for (int oh = 0; oh < Ho; oh++)
                        memcpy(dst + (size_t)oh * Wo, tap + (size_t)oh * L.Wp,
                               sizeof *dst * (size_t)Wo);
                else
                    gather(dst, tap, offs, P);
            }
    });
}

/* col2im as a gather by phase.  The pixels (h, w) with h ≡ h0, w ≡ w0 (mod stride) form
 * a grid (a, b) of na × nb pixels, h = h0 + s·a, w = w0 + s·b, and every tap (i, j) that
 * reaches one of them reaches it at window (oi + a, oj + b): a shifted copy of the tap's
 * Ho×Wo block.  When nb == Wo (true whenever the stride divides the padded width evenly
 * enough, and on every DCGAN layer) the grid and the block have the same row length, so
 * the whole shifted block is ONE contiguous run of col added onto the grid's sums: a long
 * vector loop instead of Ho scattered rows.  Columns the shift pushes past the block's
 * edge (b + oj outside [0, Wo)) are masked to +0 through a table of b per position.
 * Each pixel still adds its taps in (i, j) order starting from +0, and adding +0 to such a
 * sum (never −0) changes no bit: the results are the scatter's exactly. */
static bool phases_fit(const ag_conv_geom *g)
{
    for (int q = 0; q < g->stride; q++) {
        int w0 = ((q - g->pad) % g->stride + g->stride) % g->stride;
        if (w0 < g->W && (g->W - w0 + g->stride - 1) / g->stride != g->Wo) return false;
    }
    return true;
}

static void col2im_plane_by_phase(const ag_conv_geom *g, const ag_real *taps, size_t ld,
                                  ag_real *out, ag_real b, bool accumulate,
                                  const int *restrict bcol, ag_real *restrict acc)
{
    const int H = g->H, W = g->W, kh = g->kh, kw = g->kw, p = g->pad, s = g->stride;
    const int Ho = g->Ho, Wo = g->Wo, nb = Wo;
    for (int qh = 0; qh < s; qh++) {
        int h0 = ((qh - p) % s + s) % s;             /* first h with (h + pad) % s == qh */
        if (h0 >= H) continue;
        int na = (H - h0 + s - 1) / s;
        for (int qw = 0; qw < s; qw++) {
            int w0 = ((qw - p) % s + s) % s;
            if (w0 >= W) continue;
            memset(acc, 0, sizeof *acc * (size_t)na * nb);
            for (int i = qh; i < kh; i += s) {
                int oi = (h0 + p - i) / s;               /* exact: i ≡ h0 + pad (mod s) */
                int a0 = oi < 0 ? -oi : 0, a1 = Ho - oi < na ? Ho - oi : na;
                if (a0 >= a1) continue;
                for (int j = qw; j < kw; j += s) {
                    int oj = (w0 + p - j) / s;
                    int b0 = oj < 0 ? -oj : 0, b1 = Wo - oj < nb ? Wo - oj : nb;
                    if (b0 >= b1) continue;
                    /* grid position t = a·nb + b reads block entry t + oi·Wo + oj; from the
                     * first valid position to the last, every read stays in the block */
                    int t0 = a0 * nb + b0, t1 = (a1 - 1) * nb + b1;
                    const ag_real *src = taps + (size_t)(i * kw + j) * ld +
                                         (ptrdiff_t)oi * Wo + oj;
                    if (b0 == 0 && b1 == nb)
                        for (int t = t0; t < t1; t++) acc[t] += src[t];
                    else
                        for (int t = t0; t < t1; t++) {   /* & and a plain load: no branch */
                            ag_real v = src[t];
                            acc[t] += ((bcol[t] >= b0) & (bcol[t] < b1)) ? v : 0;
                        }
                }
            }
            for (int a = 0; a < na; a++) {
                ag_real *o = out + (size_t)(h0 + s * a) * W + w0;
                const ag_real *v = acc + (size_t)a * nb;
                if (accumulate)
                    for (int t = 0; t < nb; t++) o[(size_t)t * s] += v[t];
                else
                    for (int t = 0; t < nb; t++) o[(size_t)t * s] = v[t] + b;
            }
        }
    }
}

void ag_col2im(const ag_conv_geom *g, int N, const ag_real *col, ag_real *img,
               const ag_real *bias, bool accumulate, void *scratch)
{
    if (phases_fit(g)) {   /* the gather above; else the scatter below */
        const int C = g->C, P = g->Ho * g->Wo, na_max = (g->H + g->stride - 1) / g->stride;
        const size_t ld = (size_t)N * P;
        const pad_layout L = layout(g);
        int *bcol = scratch;                          /* b of each grid position */
        for (int t = 0; t < na_max * g->Wo; t++) bcol[t] = t % g->Wo;
        const long work = (long)N * C * g->kh * g->kw * P;
        AG_PARALLEL_FOR(nc, (long)N * C, work > AG_PAR_MIN, {
            const int n = (int)(nc / C), c = (int)(nc % C);
            col2im_plane_by_phase(g, col + (size_t)c * g->kh * g->kw * ld + (size_t)n * P, ld,
                                  img + (size_t)nc * g->H * g->W,
                                  bias && !accumulate ? bias[c] : 0, accumulate, bcol,
                                  thread_plane(scratch, &L));
        });
        return;
    }

    const int C = g->C, H = g->H, W = g->W, kh = g->kh, kw = g->kw, p = g->pad;
    const int Ho = g->Ho, Wo = g->Wo, P = Ho * Wo;
    const size_t ld = (size_t)N * P;
    const pad_layout L = layout(g);
    const int *offs = window_offsets(g, &L, scratch);
    const long work = (long)N * C * kh * kw * P;
    /* plane nc = (image n, channel c) */
    AG_PARALLEL_FOR(nc, (long)N * C, work > AG_PAR_MIN, {
        const int n = (int)(nc / C), c = (int)(nc % C);
        /* Sum every tap into the padded plane; what lands on the padding is dropped. */
        ag_real *pp = thread_plane(scratch, &L);
        memset(pp, 0, sizeof *pp * (size_t)L.Hp * L.Wp);
        for (int i = 0; i < kh; i++)
            for (int j = 0; j < kw; j++) {
                ag_real *tap = pp + (size_t)i * L.Wp + j;
                const ag_real *src = col + ((size_t)(c * kh + i) * kw + j) * ld + (size_t)n * P;
                if (g->stride == 1)
                    for (int oh = 0; oh < Ho; oh++)
                        add_row(tap + (size_t)oh * L.Wp, src + (size_t)oh * Wo, Wo);
                else
                    scatter_add(tap, src, offs, P);
            }
        /* One write (or one addition) per pixel. */
        ag_real *out = img + (size_t)nc * H * W;
        ag_real b = bias && !accumulate ? bias[c] : 0;
        for (int h = 0; h < H; h++) {
            const ag_real *sum = pp + (size_t)(h + p) * L.Wp + p;
            ag_real *o = out + (size_t)h * W;
            if (accumulate)
                add_row(o, sum, W);
            else
                for (int w = 0; w < W; w++) o[w] = sum[w] + b;
        }
    });
}

void ag_swap01(int A, int B, int P, const ag_real *src, ag_real *dst, const ag_real *bias,
               bool accumulate)
{
    const long work = (long)A * B * P;
    AG_PARALLEL_FOR(ab, (long)A * B, work > AG_PAR_MIN, {   /* row ab = (a, b) of src */
        const long a = ab / B, b = ab % B;
        const ag_real *x = src + (size_t)ab * P;
        ag_real *y = dst + ((size_t)b * A + a) * P;
        if (accumulate)
            add_row(y, x, P);
        else if (bias)
            for (int p = 0; p < P; p++) y[p] = x[p] + bias[a];
        else
            memcpy(y, x, sizeof *y * (size_t)P);
    });
}

void ag_channel_sum(int N, int C, int P, const ag_real *x, ag_real *sum)
{
    const long work = (long)N * C * P;
    AG_PARALLEL_FOR(c, C, work > AG_PAR_MIN, {
        double total = 0;   /* N·P terms: a double keeps float's rounding out of the bias */
        for (int n = 0; n < N; n++) {
            const ag_real *v = x + ((size_t)n * C + c) * P;
            ag_real lane[8] = {0};  /* 8 running sums: no chain of dependent adds */
            int p = 0;
            for (; p + 8 <= P; p += 8)
                for (int l = 0; l < 8; l++) lane[l] += v[p + l];
            for (; p < P; p++) lane[0] += v[p];
            for (int l = 0; l < 8; l++) total += lane[l];
        }
        sum[c] += (ag_real)total;
    });
}
