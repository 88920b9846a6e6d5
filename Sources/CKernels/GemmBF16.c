// Matrix products in bf16 with f32 accumulation, on x86-64 CPUs with AVX512_BF16 (Cooper
// Lake, Sapphire Rapids and later Xeons, Zen 4 and later). Inputs arrive as f32 and are rounded
// to bf16 (nearest even) while they are packed, the way a cast to bfloat16 rounds them; each
// vdpbf16ps then adds two exact bf16 products into an f32 lane, so a row of C costs half the
// instructions of an f32 FMA kernel. The layout is the classic one: B packed in blocks of
// KC × NC, A in blocks of MC × KC, and an MR × NR register tile of C (8 rows × 48 columns,
// 24 zmm accumulators) computed over the packed panels; a narrow product (few columns, many
// rows) is computed transposed, so its tiles stay full. Single-threaded: BLAS.gemm splits a
// product into bands over Lorikeet's pool. Only called after lk_cpu_has_avx512_bf16() said yes.
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

enum { MR = 8, NV = 3, NR = 16 * NV, KC = 768, MC = MR * 12, NC = 3072 };

// Packing buffers, one pair per thread (the pool's workers live as long as the process; other
// threads free theirs when they end).
typedef struct { uint32_t *a, *b; } scratch_t;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static void scratch_free(void *p) {
    scratch_t *s = p;
    free(s->a);
    free(s->b);
    free(s);
}
static void scratch_key_make(void) { pthread_key_create(&scratch_key, scratch_free); }
static scratch_t *scratch(void) {
    pthread_once(&scratch_once, scratch_key_make);
    scratch_t *s = pthread_getspecific(scratch_key);
    if (s) return s;
    s = calloc(1, sizeof *s);
    if (!s) return NULL;
    if (posix_memalign((void **)&s->a, 64, (size_t)(MC + MR) * (KC / 2) * 4) != 0) s->a = NULL;
    if (posix_memalign((void **)&s->b, 64, (size_t)(NC + NR) * (KC / 2) * 4) != 0) s->b = NULL;
    if (!s->a || !s->b) { scratch_free(s); return NULL; }
    pthread_setspecific(scratch_key, s);
    return s;
}

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

// Packs `rows` rows whose elements run along k (src[r * ld + p], p < kc) into panels of `w`
// rows: word [q][r] holds bf16(src[r][2q]) in its low half and bf16(src[r][2q + 1]) in its high
// half; rows past `rows` and the odd k past kc are zero.
BF16_TARGET static void pack_along_k(const float *src, ptrdiff_t ld, ptrdiff_t rows, ptrdiff_t kc, int w, uint32_t *dst) {
    const ptrdiff_t kp = (kc + 1) / 2;
    uint32_t words[KC / 2];
    for (ptrdiff_t r0 = 0; r0 < rows; r0 += w) {
        for (int r = 0; r < w; r++) {
            if (r0 + r >= rows) {
                for (ptrdiff_t q = 0; q < kp; q++) dst[q * w + r] = 0;
                continue;
            }
            const float *row = src + (r0 + r) * ld;
            for (ptrdiff_t p = 0; p < kc; p += 32) {
                const ptrdiff_t left = kc - p;
                const __mmask16 lo = (__mmask16)(left >= 16 ? 0xffff : (1u << left) - 1);
                const __mmask16 hi = (__mmask16)(left >= 32 ? 0xffff : left <= 16 ? 0 : (1u << (left - 16)) - 1);
                __m512bh v = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, row + p + 16), _mm512_maskz_loadu_ps(lo, row + p));
                _mm512_mask_storeu_epi32(words + p / 2, (__mmask16)(left >= 32 ? 0xffff : (1u << ((left + 1) / 2)) - 1),
                                         (__m512i)v);
            }
            for (ptrdiff_t q = 0; q < kp; q++) dst[q * w + r] = words[q];
        }
        dst += kp * w;
    }
}

// Packs `cols` columns of a block stored with k as its row index (src[p * ld + c], p < kc) into
// panels of `w` columns, the same words as pack_along_k: [q][c] = bf16(src[2q][c]) |
// bf16(src[2q + 1][c]) << 16.
BF16_TARGET static void pack_across_k(const float *src, ptrdiff_t ld, ptrdiff_t cols, ptrdiff_t kc, int w, uint32_t *dst) {
    const ptrdiff_t kp = (kc + 1) / 2;
    // cvtne2ps puts the 16 values of the first row in the low half, the second row's above;
    // this interleaves them pairwise.
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                                23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (ptrdiff_t c0 = 0; c0 < cols; c0 += w) {
        for (ptrdiff_t q = 0; q < kp; q++) {
            const float *even = src + 2 * q * ld + c0, *odd = even + ld;
            const int has_odd = 2 * q + 1 < kc;
            for (int c = 0; c < w; c += 16) {
                const ptrdiff_t left = cols - c0 - c;
                const __mmask16 m = (__mmask16)(left >= 16 ? 0xffff : left <= 0 ? 0 : (1u << left) - 1);
                const __m512 lo = _mm512_maskz_loadu_ps(m, even + c);
                const __m512 hi = has_odd ? _mm512_maskz_loadu_ps(m, odd + c) : _mm512_setzero_ps();
                const __m512i v = _mm512_permutexvar_epi16(interleave, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
                _mm512_mask_storeu_epi32(dst + q * w + c, (__mmask16)(w - c >= 16 ? 0xffff : (1u << (w - c)) - 1), v);
            }
        }
        dst += kp * w;
    }
}

// C tile (mr ≤ MR rows, nr ≤ NR columns) = alpha · Σ_q A-panel[q] ⊗ B-panel[q] + beta · C, where
// element (r, j) of the tile lives at c[r * rs + j * cs]: rows along C's rows (cs == 1), or,
// computing the transposed product, along its columns (rs == 1).
BF16_TARGET static void tile(ptrdiff_t kp, const uint32_t *pa, const uint32_t *pb, float *c, ptrdiff_t rs, ptrdiff_t cs,
                             int mr, int nr, float alpha, float beta) {
    __m512 acc[MR][NV];
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
    for (ptrdiff_t q = 0; q < kp; q++) {
        __m512bh b[NV];
        for (int v = 0; v < NV; v++) b[v] = (__m512bh)_mm512_loadu_si512(pb + 16 * v);
#pragma clang loop unroll(full)
        for (int r = 0; r < MR; r++) {
            const __m512bh a = (__m512bh)_mm512_set1_epi32((int)pa[r]);
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], a, b[v]);
        }
        pa += MR;
        pb += NR;
    }
    if (cs != 1) {
        float t[MR][NR];
        for (int r = 0; r < MR; r++)
            for (int v = 0; v < NV; v++) _mm512_storeu_ps(t[r] + 16 * v, acc[r][v]);
        for (int j = 0; j < nr; j++) {
            float *col = c + j * cs;
            for (int r = 0; r < mr; r++) col[r * rs] = alpha * t[r][j] + (beta != 0 ? beta * col[r * rs] : 0);
        }
        return;
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int r = 0; r < mr; r++) {
        float *row = c + r * rs;
        for (int v = 0; v < NV; v++) {
            const int left = nr - 16 * v;
            if (left <= 0) break;
            const __mmask16 m = (__mmask16)(left >= 16 ? 0xffff : (1u << left) - 1);
            __m512 x = _mm512_mul_ps(va, acc[r][v]);
            if (beta != 0) x = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m, row + 16 * v), x);
            _mm512_mask_storeu_ps(row + 16 * v, m, x);
        }
    }
}

// The product with C's elements at c[i * rs + j * cs] (see tile).
static void gemm_strided(scratch_t *s, int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                         const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta, float *c, ptrdiff_t rs,
                         ptrdiff_t cs) {
    for (ptrdiff_t j0 = 0; j0 < n; j0 += NC) {
        const ptrdiff_t nc = n - j0 < NC ? n - j0 : NC;
        for (ptrdiff_t p0 = 0; p0 < k; p0 += KC) {
            const ptrdiff_t kc = k - p0 < KC ? k - p0 : KC, kp = (kc + 1) / 2;
            const float blockBeta = p0 == 0 ? beta : 1;
            if (trans_b) pack_along_k(b + j0 * ldb + p0, ldb, nc, kc, NR, s->b);
            else pack_across_k(b + p0 * ldb + j0, ldb, nc, kc, NR, s->b);
            for (ptrdiff_t i0 = 0; i0 < m; i0 += MC) {
                const ptrdiff_t mc = m - i0 < MC ? m - i0 : MC;
                if (trans_a) pack_across_k(a + p0 * lda + i0, lda, mc, kc, MR, s->a);
                else pack_along_k(a + i0 * lda + p0, lda, mc, kc, MR, s->a);
                for (ptrdiff_t jr = 0; jr < nc; jr += NR) {
                    for (ptrdiff_t ir = 0; ir < mc; ir += MR) {
                        const int mr = (int)(mc - ir < MR ? mc - ir : MR), nr = (int)(nc - jr < NR ? nc - jr : NR);
                        tile(kp, s->a + ir * kp, s->b + jr * kp, c + (i0 + ir) * rs + (j0 + jr) * cs, rs, cs, mr, nr, alpha,
                             blockBeta);
                    }
                }
            }
        }
    }
}

// Multiply-adds the tiles spend on an m × n product, padding included.
static ptrdiff_t padded(ptrdiff_t m, ptrdiff_t n) { return (m + MR - 1) / MR * MR * ((n + NR - 1) / NR * NR); }

int lk_gemm_bf16(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha, const float *a, ptrdiff_t lda,
                 const float *b, ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc) {
    if (m <= 0 || n <= 0) return 0;
    scratch_t *s = scratch();
    if (!s) return -1;
    if (k <= 0) {
        for (ptrdiff_t i = 0; i < m; i++)
            for (ptrdiff_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
        return 0;
    }
    // A narrow C (LoRA's rank-16 products, attention's 64-wide ones) would leave most of each
    // 48-column tile empty: compute Cᵀ = op(B)ᵀ · op(A)ᵀ instead, its tiles stored transposed,
    // when that spends a tenth fewer multiply-adds. Each element is the same sum either way.
    if (10 * padded(n, m) < 9 * padded(m, n)) gemm_strided(s, !trans_b, !trans_a, n, m, k, alpha, b, ldb, a, lda, beta, c, 1, ldc);
    else gemm_strided(s, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, 1);
    return 0;
}

#else

int lk_gemm_bf16(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha, const float *a, ptrdiff_t lda,
                 const float *b, ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc) {
    (void)trans_a; (void)trans_b; (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)lda; (void)b; (void)ldb;
    (void)beta; (void)c; (void)ldc;
    return -1;
}

#endif
