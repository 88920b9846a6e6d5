// The table of kernel entry points one variant provides. KernelBodies.h fills one per
// variant translation unit (KernelsPortable.c, KernelsAVX2.c); Dispatch.c picks one.
#ifndef LORIKEET_KERNEL_TABLE_H
#define LORIKEET_KERNEL_TABLE_H

#include "CKernels.h"

/// Block b's scale (lk_4bit_scales), as FourBitMatrix.blockScales resolves it.
static inline float lk_4bit_scale(const lk_4bit_scales *s, ptrdiff_t b) {
    if (s->absmax) return s->absmax[b];
    float v = s->code_values[s->codes[b]] * s->absmax2[b / s->block_size2];
    return v + s->offset;
}

typedef void (*lk_ggml_fn)(const void *src, ptrdiff_t blocks, float *dst);

typedef struct lk_kernel_table {
    float (*exp)(float);
    float (*softmax_row)(float *, ptrdiff_t);
    float (*cross_entropy_row)(const float *, ptrdiff_t, ptrdiff_t, float, float *);
    void (*softmax_backward_row)(float *, float *, ptrdiff_t, float, float);
    void (*silu)(const float *, float *, ptrdiff_t);
    void (*silu_backward)(const float *, const float *, float *, ptrdiff_t);
    void (*swiglu)(const float *, const float *, float *, ptrdiff_t);
    void (*swiglu_backward)(const float *, const float *, const float *, float *, float *, ptrdiff_t);
    void (*geglu)(const float *, const float *, float *, ptrdiff_t);
    void (*geglu_backward)(const float *, const float *, const float *, float *, float *, ptrdiff_t);
    float (*dot)(const float *, const float *, ptrdiff_t);
    void (*rows_dot_ggml)(int, const float *, ptrdiff_t, ptrdiff_t, const void *, ptrdiff_t, ptrdiff_t, float *, ptrdiff_t);
    void (*rows_dot_4bit)(const float *, const float *, ptrdiff_t, ptrdiff_t, const uint8_t *, ptrdiff_t, ptrdiff_t,
                          const lk_4bit_scales *, ptrdiff_t, int, float *, ptrdiff_t);
    void (*rows_dot_half)(const float *, ptrdiff_t, ptrdiff_t, const void *, int, ptrdiff_t, ptrdiff_t, float *, ptrdiff_t);
    void (*dots_strided)(const float *, const float *, ptrdiff_t, ptrdiff_t, ptrdiff_t, float, float *);
    void (*weighted_rows)(const float *, const float *, ptrdiff_t, ptrdiff_t, ptrdiff_t, float *);
    void (*quantize_q8x)(const float *, ptrdiff_t, void *);
    void (*rows_dot_q8x)(int, const void *, ptrdiff_t, ptrdiff_t, const void *, ptrdiff_t, ptrdiff_t, float *, ptrdiff_t);
    void (*rows_dot_t)(const float *, ptrdiff_t, ptrdiff_t, const float *, ptrdiff_t, ptrdiff_t, float *, ptrdiff_t, float, int);
    void (*rmsnorm_rows)(const float *, const float *, float, float *, float *, ptrdiff_t, ptrdiff_t);
    void (*rmsnorm_backward_rows)(const float *, const float *, const float *, const float *, float *, float *, float *,
                                  ptrdiff_t, ptrdiff_t);
    void (*add)(const float *, const float *, float *, ptrdiff_t);
    void (*mul)(const float *, const float *, float *, ptrdiff_t);
    void (*scale)(const float *, float, float *, ptrdiff_t);
    void (*axpy)(float *, const float *, ptrdiff_t, float);
    void (*adamw)(float *, const float *, float *, float *, ptrdiff_t, float, float, float, float, float, float, float);
    void (*rope)(const float *, float *, const int32_t *, const float *, const float *, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                 ptrdiff_t, int, int);
    void (*f16_to_f32)(const void *, float *, ptrdiff_t);
    void (*bf16_to_f32)(const void *, float *, ptrdiff_t);
    void (*f32_to_f16)(const float *, void *, ptrdiff_t);
    void (*f32_to_bf16)(const float *, void *, ptrdiff_t);
    lk_ggml_fn q4_0, q4_1, q5_0, q5_1, q8_0, q2_k, q3_k, q4_k, q5_k, q6_k, q8_k;
} lk_kernel_table;

extern const lk_kernel_table lk_kernels_portable;
#if defined(__x86_64__)
extern const lk_kernel_table lk_kernels_avx2;
#endif

#endif
