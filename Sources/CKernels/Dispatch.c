// Picks the kernel variant once, at first use, and forwards every lk_* entry point to it.
// x86-64 features come from CPUID and XGETBV directly (AVX2, FMA, F16C, and the OS saving
// YMM state), which works the same with libgcc or compiler-rt and on Linux or macOS.
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "KernelTable.h"
#if defined(__x86_64__)
#include <cpuid.h>
#endif

static const char *const level_names[LK_SIMD_LEVEL_COUNT] = {"portable", "avx2"};

static const lk_kernel_table *const tables[LK_SIMD_LEVEL_COUNT] = {
    &lk_kernels_portable,
#if defined(__x86_64__)
    &lk_kernels_avx2,
#else
    NULL,
#endif
};

#if defined(__x86_64__)
static int cpu_has_avx2_fma_f16c(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const unsigned fma = 1u << 12, osxsave = 1u << 27, avx = 1u << 28, f16c = 1u << 29;
    if ((c & (fma | osxsave | avx | f16c)) != (fma | osxsave | avx | f16c)) return 0;
    unsigned xcr0_lo, xcr0_hi;
    __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 0x6) != 0x6) return 0;                 // the OS saves XMM and YMM state
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & (1u << 5)) != 0;                          // AVX2
}
#endif

int lk_cpu_has_avx512_skx(void) {
#if defined(__x86_64__)
    if (!lk_simd_level_supported(LK_SIMD_AVX2)) return 0;
    unsigned a, b, c, d;
    unsigned xcr0_lo, xcr0_hi;
    __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 0xE6) != 0xE6) return 0;               // the OS saves opmask and ZMM state too
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    const unsigned f = 1u << 16, dq = 1u << 17, cd = 1u << 28, bw = 1u << 30, vl = 1u << 31;
    return (b & (f | dq | cd | bw | vl)) == (f | dq | cd | bw | vl);
#else
    return 0;
#endif
}

#if defined(__x86_64__)
/// probe()'s answer, asked once (CPUID is slow under some hypervisors); racing first calls
/// store the same answer.
static int cached_probe(_Atomic int *slot, int (*probe)(void)) {
    int v = atomic_load_explicit(slot, memory_order_relaxed);
    if (v < 0) {
        v = probe();
        atomic_store_explicit(slot, v, memory_order_relaxed);
    }
    return v;
}

static int cpu_has_avx512_bf16(void) {
    unsigned a = 0, b, c, d;
    return lk_cpu_has_avx512_skx() && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5)) != 0;
}

static int cpu_has_avx512_vnni(void) {
    unsigned a, b, c = 0, d;
    return lk_cpu_has_avx512_skx() && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (c & (1u << 11)) != 0;
}
#endif

int lk_cpu_has_avx512_bf16(void) {
#if defined(__x86_64__)
    static _Atomic int cached = -1;
    return cached_probe(&cached, cpu_has_avx512_bf16);
#else
    return 0;
#endif
}

int lk_cpu_has_avx512_vnni(void) {
#if defined(__x86_64__)
    static _Atomic int cached = -1;
    return cached_probe(&cached, cpu_has_avx512_vnni);
#else
    return 0;
#endif
}

int lk_simd_level_supported(int level) {
    if (level == LK_SIMD_PORTABLE) return 1;
#if defined(__x86_64__)
    if (level == LK_SIMD_AVX2) {
        static _Atomic int cached = -1;
        return cached_probe(&cached, cpu_has_avx2_fma_f16c);
    }
#endif
    return 0;
}

const char *lk_simd_level_name(int level) {
    return level >= 0 && level < LK_SIMD_LEVEL_COUNT ? level_names[level] : "unknown";
}

static int default_level(void) {
    const char *wanted = getenv("LORIKEET_SIMD");
    if (wanted) {
        for (int level = 0; level < LK_SIMD_LEVEL_COUNT; level++) {
            if (strcmp(wanted, level_names[level]) == 0 && lk_simd_level_supported(level)) return level;
        }
    }
    for (int level = LK_SIMD_LEVEL_COUNT - 1; level > 0; level--) {
        if (lk_simd_level_supported(level)) return level;
    }
    return LK_SIMD_PORTABLE;
}

// Tables are constant data, so a relaxed load is enough; racing first calls all store the
// same level.
static _Atomic int active_level = -1;

static inline const lk_kernel_table *table(void) {
    int level = atomic_load_explicit(&active_level, memory_order_relaxed);
    if (__builtin_expect(level < 0, 0)) {
        level = default_level();
        atomic_store_explicit(&active_level, level, memory_order_relaxed);
    }
    return tables[level];
}

int lk_simd_level(void) {
    (void)table();
    return atomic_load_explicit(&active_level, memory_order_relaxed);
}

int lk_simd_set_level(int level) {
    if (level < 0 || level >= LK_SIMD_LEVEL_COUNT || !lk_simd_level_supported(level)) return -1;
    atomic_store_explicit(&active_level, level, memory_order_relaxed);
    return 0;
}

float lk_exp(float x) { return table()->exp(x); }
float lk_softmax_row(float *p, ptrdiff_t n) { return table()->softmax_row(p, n); }
float lk_cross_entropy_row(const float *x, ptrdiff_t n, ptrdiff_t target, float grad_scale, float *grad) {
    return table()->cross_entropy_row(x, n, target, grad_scale, grad);
}
void lk_softmax_backward_row(float *p, float *dp, ptrdiff_t n, float lse, float d) {
    table()->softmax_backward_row(p, dp, n, lse, d);
}
void lk_silu(const float *x, float *out, ptrdiff_t n) { table()->silu(x, out, n); }
void lk_silu_backward(const float *x, const float *dy, float *dx, ptrdiff_t n) { table()->silu_backward(x, dy, dx, n); }
void lk_swiglu(const float *gate, const float *up, float *out, ptrdiff_t n) { table()->swiglu(gate, up, out, n); }
void lk_swiglu_backward(const float *gate, const float *up, const float *dy, float *dgate, float *dup, ptrdiff_t n) {
    table()->swiglu_backward(gate, up, dy, dgate, dup, n);
}
void lk_geglu(const float *gate, const float *up, float *out, ptrdiff_t n) { table()->geglu(gate, up, out, n); }
void lk_geglu_backward(const float *gate, const float *up, const float *dy, float *dgate, float *dup, ptrdiff_t n) {
    table()->geglu_backward(gate, up, dy, dgate, dup, n);
}
float lk_dot(const float *a, const float *b, ptrdiff_t n) { return table()->dot(a, b, n); }
void lk_rows_dot_ggml(int type, const float *x, ptrdiff_t m, ptrdiff_t ldx, const void *src, ptrdiff_t n, ptrdiff_t k,
                      float *y, ptrdiff_t ldy) {
    table()->rows_dot_ggml(type, x, m, ldx, src, n, k, y, ldy);
}
// Whether kernels with an AVX-512 form use it (where the CPU has it): -1 until first asked.
static _Atomic int avx512_on = -1;

static int avx512_forms(void) {
    int on = atomic_load_explicit(&avx512_on, memory_order_relaxed);
    if (__builtin_expect(on < 0, 0)) {
        on = lk_cpu_has_avx512_skx();
        atomic_store_explicit(&avx512_on, on, memory_order_relaxed);
    }
    return on;
}

int lk_simd_avx512(void) { return avx512_forms(); }

int lk_simd_set_avx512(int on) {
    if (on && !lk_cpu_has_avx512_skx()) return -1;
    atomic_store_explicit(&avx512_on, on ? 1 : 0, memory_order_relaxed);
    return 0;
}

#if defined(__x86_64__)
void lk_rows_dot_4bit_avx512(const float *table, const float *x, ptrdiff_t m, ptrdiff_t ldx, const uint8_t *codes,
                             ptrdiff_t n, ptrdiff_t k, const lk_4bit_scales *scales, ptrdiff_t first_element,
                             int block_shift, float *y, ptrdiff_t ldy);
#endif
void lk_rows_dot_4bit(const float *values, const float *x, ptrdiff_t m, ptrdiff_t ldx, const uint8_t *codes, ptrdiff_t n,
                      ptrdiff_t k, const lk_4bit_scales *scales, ptrdiff_t first_element, int block_shift, float *y,
                      ptrdiff_t ldy) {
#if defined(__x86_64__)
    // The AVX-512 form computes the AVX2 variant's bits, so it stands in for that one only.
    if (table() == &lk_kernels_avx2 && avx512_forms()) {
        lk_rows_dot_4bit_avx512(values, x, m, ldx, codes, n, k, scales, first_element, block_shift, y, ldy);
        return;
    }
#endif
    table()->rows_dot_4bit(values, x, m, ldx, codes, n, k, scales, first_element, block_shift, y, ldy);
}
void lk_rows_dot_half(const float *x, ptrdiff_t m, ptrdiff_t ldx, const void *w, int bf16, ptrdiff_t n, ptrdiff_t k,
                      float *y, ptrdiff_t ldy) {
    table()->rows_dot_half(x, m, ldx, w, bf16, n, k, y, ldy);
}
void lk_dots_strided(const float *q, const float *k, ptrdiff_t n, ptrdiff_t hd, ptrdiff_t ld, float scale, float *scores) {
    table()->dots_strided(q, k, n, hd, ld, scale, scores);
}
void lk_weighted_rows(const float *p, const float *v, ptrdiff_t n, ptrdiff_t hd, ptrdiff_t ld, float *out) {
    table()->weighted_rows(p, v, n, hd, ld, out);
}
void lk_quantize_q8x(const float *x, ptrdiff_t k, void *dst) { table()->quantize_q8x(x, k, dst); }
#if defined(__x86_64__)
void lk_rows_dot_q8x_vnni(int type, const void *xq, ptrdiff_t m, ptrdiff_t ldxq, const void *src, ptrdiff_t n, ptrdiff_t k,
                          float *y, ptrdiff_t ldy);
#endif
void lk_rows_dot_q8x(int type, const void *xq, ptrdiff_t m, ptrdiff_t ldxq, const void *src, ptrdiff_t n, ptrdiff_t k,
                     float *y, ptrdiff_t ldy) {
#if defined(__x86_64__)
    // As the 4-bit form: the VNNI form computes the AVX2 variant's bits, so it stands in for that one only.
    if (table() == &lk_kernels_avx2 && avx512_forms() && lk_cpu_has_avx512_vnni()) {
        lk_rows_dot_q8x_vnni(type, xq, m, ldxq, src, n, k, y, ldy);
        return;
    }
#endif
    table()->rows_dot_q8x(type, xq, m, ldxq, src, n, k, y, ldy);
}
void lk_rows_dot_t(const float *x, ptrdiff_t m, ptrdiff_t ldx, const float *w, ptrdiff_t n, ptrdiff_t k,
                   float *y, ptrdiff_t ldy, float alpha, int accumulate) {
    table()->rows_dot_t(x, m, ldx, w, n, k, y, ldy, alpha, accumulate);
}
void lk_rmsnorm_rows(const float *x, const float *w, float eps, float *y, float *rstd_out, ptrdiff_t rows, ptrdiff_t n) {
    table()->rmsnorm_rows(x, w, eps, y, rstd_out, rows, n);
}
void lk_rmsnorm_backward_rows(const float *x, const float *w, const float *rstd, const float *dy, float *dx,
                              float *dw_acc, float *g, ptrdiff_t rows, ptrdiff_t n) {
    table()->rmsnorm_backward_rows(x, w, rstd, dy, dx, dw_acc, g, rows, n);
}
void lk_add(const float *a, const float *b, float *out, ptrdiff_t n) { table()->add(a, b, out, n); }
void lk_mul(const float *a, const float *b, float *out, ptrdiff_t n) { table()->mul(a, b, out, n); }
void lk_scale(const float *a, float s, float *out, ptrdiff_t n) { table()->scale(a, s, out, n); }
void lk_axpy(float *dst, const float *src, ptrdiff_t n, float alpha) { table()->axpy(dst, src, n, alpha); }
void lk_adamw(float *w, const float *g, float *m, float *v, ptrdiff_t n, float lr, float beta1, float beta2,
              float eps, float weight_decay, float bc1, float bc2) {
    table()->adamw(w, g, m, v, n, lr, beta1, beta2, eps, weight_decay, bc1, bc2);
}
void lk_rope(const float *x, float *y, const int32_t *positions, const float *cos_table, const float *sin_table,
             ptrdiff_t tokens, ptrdiff_t heads, ptrdiff_t head_dim, ptrdiff_t rotary_dim, int interleaved, int inverse) {
    table()->rope(x, y, positions, cos_table, sin_table, tokens, heads, head_dim, rotary_dim, interleaved, inverse);
}
void lk_f16_to_f32(const void *src, float *dst, ptrdiff_t n) { table()->f16_to_f32(src, dst, n); }
void lk_bf16_to_f32(const void *src, float *dst, ptrdiff_t n) { table()->bf16_to_f32(src, dst, n); }
void lk_f32_to_f16(const float *src, void *dst, ptrdiff_t n) { table()->f32_to_f16(src, dst, n); }
void lk_f32_to_bf16(const float *src, void *dst, ptrdiff_t n) { table()->f32_to_bf16(src, dst, n); }
void lk_ggml_q4_0(const void *src, ptrdiff_t blocks, float *dst) { table()->q4_0(src, blocks, dst); }
void lk_ggml_q4_1(const void *src, ptrdiff_t blocks, float *dst) { table()->q4_1(src, blocks, dst); }
void lk_ggml_q5_0(const void *src, ptrdiff_t blocks, float *dst) { table()->q5_0(src, blocks, dst); }
void lk_ggml_q5_1(const void *src, ptrdiff_t blocks, float *dst) { table()->q5_1(src, blocks, dst); }
void lk_ggml_q8_0(const void *src, ptrdiff_t blocks, float *dst) { table()->q8_0(src, blocks, dst); }
void lk_ggml_q2_k(const void *src, ptrdiff_t blocks, float *dst) { table()->q2_k(src, blocks, dst); }
void lk_ggml_q3_k(const void *src, ptrdiff_t blocks, float *dst) { table()->q3_k(src, blocks, dst); }
void lk_ggml_q4_k(const void *src, ptrdiff_t blocks, float *dst) { table()->q4_k(src, blocks, dst); }
void lk_ggml_q5_k(const void *src, ptrdiff_t blocks, float *dst) { table()->q5_k(src, blocks, dst); }
void lk_ggml_q6_k(const void *src, ptrdiff_t blocks, float *dst) { table()->q6_k(src, blocks, dst); }
void lk_ggml_q8_k(const void *src, ptrdiff_t blocks, float *dst) { table()->q8_k(src, blocks, dst); }
