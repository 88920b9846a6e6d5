// The AVX-512 form of the 4-bit row product (KernelBodies.h, k_rows_dot_4bit): 16 weights per
// step, one vpshufb, one shift and one vpermps over the whole 16-entry table instead of the
// AVX2 form's two permutes and a blend. Lanes 0-7 of the accumulator are k_dot's first f8
// accumulator and lanes 8-15 its second, each fused multiply-add the same, so the sums are
// the AVX2 variant's bit for bit. Only called after lk_cpu_has_avx512_skx() said yes.
#include <stdint.h>
#include <string.h>
#include "KernelTable.h"
#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__)
#include <immintrin.h>

#define FOURBIT_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

/// KernelBodies.h's hsum of (lanes 0-7 + lanes 8-15).
FOURBIT_TARGET static inline float fourbit_hsum(__m512 acc) {
    float v[16];
    _mm512_storeu_ps(v, acc);
    float s[8];
    for (int l = 0; l < 8; l++) s[l] = v[l] + v[8 + l];
    float a0 = s[0] + s[4], a1 = s[1] + s[5], a2 = s[2] + s[6], a3 = s[3] + s[7];
    float b0 = a0 + a2, b1 = a1 + a3;
    return b0 + b1;
}

/// Dword L of 16 takes code byte L/2 of the 8 at `p` as its low byte (vpshufb on the bytes
/// broadcast to every 128-bit lane), even L shifted right 4 (the high nibble comes first);
/// vpermps then reads index bits 0-3.
FOURBIT_TARGET static inline __attribute__((always_inline)) __m512i fourbit_indices(const uint8_t *p) {
    const __m512i pick = _mm512_set_epi32(0x07070707, 0x07070707, 0x06060606, 0x06060606,
                                          0x05050505, 0x05050505, 0x04040404, 0x04040404,
                                          0x03030303, 0x03030303, 0x02020202, 0x02020202,
                                          0x01010101, 0x01010101, 0x00000000, 0x00000000);
    const __m512i shifts = _mm512_set_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4);
    uint64_t bytes;
    memcpy(&bytes, p, 8);
    return _mm512_srlv_epi32(_mm512_shuffle_epi8(_mm512_set1_epi64((long long)bytes), pick), shifts);
}

/// JR output rows (codes k/2 bytes apart, the first one's first block `block`) against IR rows
/// of x, where blocks do not span rows (bs divides k): JR·IR independent accumulators, so the
/// fused multiply-adds of one row overlap those of the others.
FOURBIT_TARGET static inline __attribute__((always_inline)) void fourbit_tile(
    int JR, int IR, __m512 lut, const float *x, ptrdiff_t ldx, const uint8_t *codes, ptrdiff_t k,
    const lk_4bit_scales *scales, ptrdiff_t block, int block_shift, float *y, ptrdiff_t ldy) {
    __m512 acc[4][4];
    for (int r = 0; r < JR; r++)
        for (int i = 0; i < IR; i++) acc[r][i] = _mm512_setzero_ps();
    const ptrdiff_t bs = (ptrdiff_t)1 << block_shift, per_row = k >> block_shift;
    for (ptrdiff_t c0 = 0; c0 < k; c0 += bs) {
        __m512 w_lut[4];
        for (int r = 0; r < JR; r++) w_lut[r] = _mm512_mul_ps(lut, _mm512_set1_ps(lk_4bit_scale(scales, block + r * per_row + (c0 >> block_shift))));
        for (ptrdiff_t c = c0; c < c0 + bs; c += 16) {
            for (int r = 0; r < JR; r++) {
                __m512 w = _mm512_permutexvar_ps(fourbit_indices(codes + r * (k / 2) + c / 2), w_lut[r]);
                for (int i = 0; i < IR; i++) acc[r][i] = _mm512_fmadd_ps(_mm512_loadu_ps(x + i * ldx + c), w, acc[r][i]);
            }
        }
    }
    for (int r = 0; r < JR; r++)
        for (int i = 0; i < IR; i++) y[i * ldy + r] = fourbit_hsum(acc[r][i]);
}

/// One output row of any alignment: the block's scale changes wherever a block ends.
FOURBIT_TARGET static void fourbit_row(__m512 lut, const float *x, ptrdiff_t m, ptrdiff_t ldx, const uint8_t *row,
                                       ptrdiff_t k, const lk_4bit_scales *scales, ptrdiff_t e0, int block_shift,
                                       float *y, ptrdiff_t ldy) {
    for (ptrdiff_t i0 = 0; i0 < m; i0 += 4) {
        int rows = (int)(m - i0 < 4 ? m - i0 : 4);
        __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
        for (ptrdiff_t c = 0; c < k;) {
            const ptrdiff_t b = (e0 + c) >> block_shift;
            ptrdiff_t end = ((b + 1) << block_shift) - e0;
            if (end > k) end = k;
            const __m512 w_lut = _mm512_mul_ps(lut, _mm512_set1_ps(lk_4bit_scale(scales, b)));
            for (; c < end; c += 16) {
                __m512 w = _mm512_permutexvar_ps(fourbit_indices(row + c / 2), w_lut);
                for (int r = 0; r < rows; r++)
                    acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(x + (i0 + r) * ldx + c), w, acc[r]);
            }
        }
        for (int r = 0; r < rows; r++) y[(i0 + r) * ldy] = fourbit_hsum(acc[r]);
    }
}

FOURBIT_TARGET void lk_rows_dot_4bit_avx512(const float *table, const float *x, ptrdiff_t m, ptrdiff_t ldx,
                                            const uint8_t *codes, ptrdiff_t n, ptrdiff_t k,
                                            const lk_4bit_scales *scales, ptrdiff_t first_element, int block_shift,
                                            float *y, ptrdiff_t ldy) {
    const __m512 lut = _mm512_loadu_ps(table);
    ptrdiff_t j = 0;
    if ((k & (((ptrdiff_t)1 << block_shift) - 1)) == 0) {
        // Blocks start every row: four rows at a time, x in groups of up to four.
        for (; j + 4 <= n; j += 4) {
            const ptrdiff_t block = (first_element + j * k) >> block_shift;
            const uint8_t *c = codes + j * (k / 2);
            for (ptrdiff_t i0 = 0; i0 < m; i0 += 4) {
                const float *xi = x + i0 * ldx;
                float *yi = y + i0 * ldy + j;
                switch (m - i0 < 4 ? m - i0 : 4) {
                case 1: fourbit_tile(4, 1, lut, xi, ldx, c, k, scales, block, block_shift, yi, ldy); break;
                case 2: fourbit_tile(4, 2, lut, xi, ldx, c, k, scales, block, block_shift, yi, ldy); break;
                case 3: fourbit_tile(4, 3, lut, xi, ldx, c, k, scales, block, block_shift, yi, ldy); break;
                default: fourbit_tile(4, 4, lut, xi, ldx, c, k, scales, block, block_shift, yi, ldy); break;
                }
            }
        }
    }
    for (; j < n; j++)
        fourbit_row(lut, x, m, ldx, codes + j * (k / 2), k, scales, first_element + j * k, block_shift, y + j, ldy);
}
#endif
