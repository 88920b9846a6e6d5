// The AVX512_VNNI form of the 8-bit-activation products (lk_rows_dot_q8x): IntegerDotBodies.h's
// AVX2 body with vpdpbusd in place of vpmaddubsw + vpmaddwd (one instruction for two, on the
// same 256-bit registers). The integers are the same and every float operation is the AVX2
// variant's, so the results are its bits. Only called after Dispatch.c has checked
// lk_cpu_has_avx512_vnni(); no table is filled here (LK_TABLE_NAME stays undefined).
#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include "KernelTable.h"

#define LK_FMA_NATIVE 1
#define LK_F16 LK_F16_F16C
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512vnni"))), apply_to = function)
#define LK_INT8_DOT 1
#define LK_INT8_VNNI 1
#pragma clang diagnostic ignored "-Wunused-function"
#include "KernelBodies.h"

void lk_rows_dot_q8x_vnni(int type, const void *xq, ptrdiff_t m, ptrdiff_t ldxq, const void *src, ptrdiff_t n, ptrdiff_t k,
                          float *y, ptrdiff_t ldy) {
    k_rows_dot_q8x(type, xq, m, ldxq, src, n, k, y, ldy);
}
#pragma clang attribute pop
#endif
