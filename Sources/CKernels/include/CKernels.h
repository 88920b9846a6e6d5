// Lorikeet's hot CPU kernels in C, each compiled more than once (portable, and on x86-64
// also for AVX2+FMA+F16C) and picked once at run time from the CPU's features, so the
// package needs no compiler flags: a Swift release build targets plain SSE2 on x86-64, where
// SIMD multiply-adds are library calls. Internal plumbing: Swift wrappers in TensorCore and
// Quantization call these; the Swift `…Reference` twins are what tests compare them with.
// Every kernel mirrors the arithmetic (operation order, fused multiply-adds) of the Swift
// code it replaced, so on an FMA machine results are bit for bit what they were.
// Lengths are element counts; pointers need no alignment; the ranges a kernel reads and
// writes may overlap only where a comment says so.
#ifndef LORIKEET_CKERNELS_H
#define LORIKEET_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#pragma clang assume_nonnull begin

// MARK: Dispatch

/// Kernel variants. LK_SIMD_PORTABLE is plain C for the baseline of the target (SSE2 on
/// x86-64, NEON with FMA on arm64); LK_SIMD_AVX2 needs AVX2, FMA and F16C (x86-64-v3).
enum { LK_SIMD_PORTABLE = 0, LK_SIMD_AVX2 = 1, LK_SIMD_LEVEL_COUNT = 2 };

/// The variant in use. Chosen at first use: the best this CPU supports, or the one named
/// by the environment variable LORIKEET_SIMD ("portable" or "avx2") when it is supported.
int lk_simd_level(void);
/// 1 when this build has `level` and the CPU (and OS) can run it, else 0.
int lk_simd_level_supported(int level);
/// Switches every kernel to `level` (for tests and benchmarks; not while kernels run).
/// Returns 0, or -1 when the level is unsupported (nothing changes then).
int lk_simd_set_level(int level);
/// 1 when the CPU and OS run AVX-512 F, CD, BW, DQ and VL (Skylake-SP and later), else 0.
int lk_cpu_has_avx512_skx(void);
/// Whether kernels with an AVX-512 form (lk_rows_dot_4bit; lk_rows_dot_q8x where the CPU also has
/// AVX512_VNNI) use it at the avx2 level, where the CPU has AVX-512 (the default); the forms compute
/// the same bits. Returns 0, or -1 when asked on a CPU without.
int lk_simd_set_avx512(int on);
/// 1 while the AVX-512 forms are on (lk_simd_set_avx512), else 0.
int lk_simd_avx512(void);
/// 1 when the CPU and OS run AVX512_BF16 (vdpbf16ps) besides lk_cpu_has_avx512_skx's set, else 0.
int lk_cpu_has_avx512_bf16(void);
/// 1 when the CPU and OS run AVX512_VNNI (vpdpbusd) besides lk_cpu_has_avx512_skx's set, else 0.
int lk_cpu_has_avx512_vnni(void);
/// "portable", "avx2", or "unknown".
const char *lk_simd_level_name(int level);

// MARK: Threads

/// A task of a parallel job: task index 0..<tasks.
typedef void (*lk_task_fn)(void *_Nullable ctx, int task);
/// Runs fn(ctx, i) for i in 0..<tasks on up to `threads` threads (the caller and persistent
/// workers that spin briefly between jobs, then sleep), returning when all are done. Called
/// while another job runs, or from inside a task, it runs the tasks on the calling thread.
void lk_parallel_for(int tasks, int threads, lk_task_fn fn, void *_Nullable ctx);

// MARK: Exponential family (Cephes expf polynomial, ~1 ulp on [-87, 88])

/// exp(x) with the polynomial the kernels use (below -87: 0; above 88: exp(88)).
float lk_exp(float x);
/// Softmax of p[0..<n] in place; returns the row's logsumexp.
float lk_softmax_row(float *p, ptrdiff_t n);
/// Cross-entropy of one row of logits x against class `target`: returns
/// logsumexp(x) - x[target]; when grad is non-null writes (softmax(x) - onehot) * grad_scale
/// there. grad may be x itself (in place).
float lk_cross_entropy_row(const float *x, ptrdiff_t n, ptrdiff_t target, float grad_scale,
                           float *_Nullable grad);
/// Attention backward on one score row: p = exp(p - lse) (the probabilities, in place) and
/// dp = p * (dp - d), where d = dot(dOut, out) of the row.
void lk_softmax_backward_row(float *p, float *dp, ptrdiff_t n, float lse, float d);
/// out = x * sigmoid(x).
void lk_silu(const float *x, float *out, ptrdiff_t n);
/// dx = dy * s * (1 + x * (1 - s)), s = sigmoid(x).
void lk_silu_backward(const float *x, const float *dy, float *dx, ptrdiff_t n);
/// out = silu(gate) * up.
void lk_swiglu(const float *gate, const float *up, float *out, ptrdiff_t n);
/// dgate = dy * up * silu'(gate), dup = dy * silu(gate); either output may be null, and
/// dup may be gate itself.
void lk_swiglu_backward(const float *gate, const float *up, const float *dy,
                        float *_Nullable dgate, float *_Nullable dup, ptrdiff_t n);
/// out = gelu(gate) * up with the tanh GELU (gelu_pytorch_tanh), computed as gate * s,
/// s = sigmoid(2u), u = sqrt(2/pi) * (gate + 0.044715 * gate^3).
void lk_geglu(const float *gate, const float *up, float *out, ptrdiff_t n);
/// dgate = dy * up * gelu'(gate), dup = dy * gelu(gate); either output may be null, and
/// dup may be gate itself.
void lk_geglu_backward(const float *gate, const float *up, const float *dy,
                       float *_Nullable dgate, float *_Nullable dup, ptrdiff_t n);

// MARK: Reductions, norms, elementwise

/// Sum of a[i] * b[i] (two 8-lane accumulators, then the tail in order).
float lk_dot(const float *a, const float *b, ptrdiff_t n);
/// Block encodings the row products read: `lk_rows_dot_ggml` the first three,
/// `lk_rows_dot_q8x` all of them.
enum {
    LK_ROWS_Q4_0 = 0, LK_ROWS_Q4_1 = 1, LK_ROWS_Q8_0 = 2, LK_ROWS_Q5_0 = 3, LK_ROWS_Q5_1 = 4,
    LK_ROWS_Q4_K = 5, LK_ROWS_Q5_K = 6, LK_ROWS_Q6_K = 7
};
/// y[i·ldy + j] = dot(x[i·ldx …], row j of the GGML blocks at src) over k (a multiple of 32), i < m,
/// j < n: the weights never widened to memory; a row's result does not depend on m.
void lk_rows_dot_ggml(int type, const float *x, ptrdiff_t m, ptrdiff_t ldx, const void *src, ptrdiff_t n, ptrdiff_t k,
                      float *y, ptrdiff_t ldy);
/// The block scales of a bitsandbytes 4-bit matrix: absmax[b] when `absmax` is set, else double
/// quantization's code_values[codes[b]] × absmax2[b / block_size2] + offset (a multiply, then an add).
typedef struct lk_4bit_scales {
    const float *_Nullable absmax;
    const uint8_t *_Nullable codes;
    const float *_Nullable code_values;
    const float *_Nullable absmax2;
    float offset;
    ptrdiff_t block_size2;
} lk_4bit_scales;
/// y[i·ldy + j] = dot(x[i·ldx …], row j) over k (a multiple of 16), i < m, j < n, for n rows of a
/// bitsandbytes NF4/FP4 matrix read from its codes (two per byte, element 2i in the high
/// nibble of byte i): `codes` at the byte of element `first_element` (where the rows start),
/// `table` the 16 code values, blocks of 2^block_shift weights over the whole matrix. Each
/// weight is table[code] × its block's scale, as dequantize_4bit gives it, and each sum
/// lk_dot's on the dequantized row: the widened product's bits; a row's result does not
/// depend on m.
void lk_rows_dot_4bit(const float *table, const float *x, ptrdiff_t m, ptrdiff_t ldx, const uint8_t *codes, ptrdiff_t n,
                      ptrdiff_t k, const lk_4bit_scales *scales, ptrdiff_t first_element, int block_shift, float *y,
                      ptrdiff_t ldy);
/// y[i·ldy + j] = dot(x[i·ldx …], row j of w) over k, i < m, j < n, for w's rows of k bf16 (bf16 = 1) or
/// f16 values, widened in registers: each sum lk_dot's on the widened row (the widened product's
/// bits); a row's result does not depend on m.
void lk_rows_dot_half(const float *x, ptrdiff_t m, ptrdiff_t ldx, const void *w, int bf16, ptrdiff_t n, ptrdiff_t k,
                      float *y, ptrdiff_t ldy);
/// scores[j] = scale · lk_dot(q, k + j·ld, hd) for j < n (one query row against key rows).
void lk_dots_strided(const float *q, const float *k, ptrdiff_t n, ptrdiff_t hd, ptrdiff_t ld, float scale, float *scores);
/// out[d] = Σ_j p[j] · v[j·ld + d] for d < hd, keys added in order, each as lk_axpy adds.
void lk_weighted_rows(const float *p, const float *v, ptrdiff_t n, ptrdiff_t hd, ptrdiff_t ld, float *out);
/// 32 activations rounded to 8 bits: x ≈ d · q, d = max|x| / 127, s = d · Σq (40 bytes).
typedef struct lk_q8x_block { float d, s; int8_t q[32]; } lk_q8x_block;
/// x[0..<k] (k a multiple of 32) as k/32 blocks at dst: q = x · (1/d) rounded to nearest even.
void lk_quantize_q8x(const float *x, ptrdiff_t k, void *dst);
/// y[i·ldy + j] = dot(row i of the quantized activations (k/32 blocks, ldxq bytes apart),
/// row j of the GGML blocks at src) for i < m, j < n: integer sums of codes times 8-bit
/// activations per 32 weights, scaled in float (IntegerDotBodies.h gives the exact order);
/// a row's result does not depend on m. K formats need k a multiple of 256.
void lk_rows_dot_q8x(int type, const void *xq, ptrdiff_t m, ptrdiff_t ldxq, const void *src, ptrdiff_t n, ptrdiff_t k,
                     float *y, ptrdiff_t ldy);
/// y[i·ldy + j] = alpha · dot(x[i·ldx …], w[j·k …]) over k (plus the old y[i·ldy + j] when
/// accumulate), i < m, j < n; each element one lk_dot, so a row's result does not depend on m.
void lk_rows_dot_t(const float *x, ptrdiff_t m, ptrdiff_t ldx, const float *w, ptrdiff_t n, ptrdiff_t k,
                   float *y, ptrdiff_t ldy, float alpha, int accumulate);
/// RMSNorm of `rows` rows of n: y = x * rstd * w (w may be null: no weight), and, when
/// rstd_out is non-null, each row's rstd = 1 / sqrt(mean(x^2) + eps) there.
void lk_rmsnorm_rows(const float *x, const float *_Nullable w, float eps, float *y,
                     float *_Nullable rstd_out, ptrdiff_t rows, ptrdiff_t n);
/// RMSNorm backward of `rows` rows of n. g (n floats of scratch) receives dy * w per row;
/// dx (if non-null) = rstd * (g - x * rstd^2 * mean(g * x)); dw_acc (if non-null, n floats)
/// += dy * x * rstd, summed over the rows in order.
void lk_rmsnorm_backward_rows(const float *x, const float *_Nullable w, const float *rstd,
                              const float *dy, float *_Nullable dx, float *_Nullable dw_acc,
                              float *g, ptrdiff_t rows, ptrdiff_t n);
/// out = a + b (out may alias a or b).
void lk_add(const float *a, const float *b, float *out, ptrdiff_t n);
/// out = a * b (out may alias a or b).
void lk_mul(const float *a, const float *b, float *out, ptrdiff_t n);
/// out = a * s (out may alias a).
void lk_scale(const float *a, float s, float *out, ptrdiff_t n);
/// dst += alpha * src.
void lk_axpy(float *dst, const float *src, ptrdiff_t n, float alpha);
/// One AdamW update of n weights in torch.optim.AdamW's order (bc1, bc2: bias corrections).
void lk_adamw(float *w, const float *g, float *m, float *v, ptrdiff_t n, float lr, float beta1,
              float beta2, float eps, float weight_decay, float bc1, float bc2);
/// Rotary embedding of `tokens` tokens, each x[heads][head_dim], into y (y may be x): token
/// t rotates the first `rotary_dim` values of each head by the cos/sin rows positions[t] of
/// the tables (rotary_dim / 2 floats per row); the others pass through. Pairs
/// (i, i + rotary_dim/2), or (2i, 2i+1) when `interleaved`; `inverse` applies the transposed
/// rotation (the backward; the inverse when the tables are unscaled).
void lk_rope(const float *x, float *y, const int32_t *positions, const float *cos_table,
             const float *sin_table, ptrdiff_t tokens, ptrdiff_t heads, ptrdiff_t head_dim,
             ptrdiff_t rotary_dim, int interleaved, int inverse);

// MARK: Half precision

/// IEEE binary16 to float32 (exact; a NaN comes back quiet, as F16C converts it).
void lk_f16_to_f32(const void *src, float *dst, ptrdiff_t n);
/// bfloat16 to float32 (exact).
void lk_bf16_to_f32(const void *src, float *dst, ptrdiff_t n);
/// float32 to binary16, round to nearest even (F16C's results, NaN payloads included).
void lk_f32_to_f16(const float *src, void *dst, ptrdiff_t n);
/// float32 to bfloat16, round to nearest even; every NaN becomes 0x7FC0.
void lk_f32_to_bf16(const float *src, void *dst, ptrdiff_t n);

// MARK: bf16 matrix products (GemmBF16.c)

/// C[m, n] = alpha · op(A)[m, k] · op(B)[k, n] + beta · C, row-major like cblas_sgemm, with
/// op(A) and op(B) rounded to bfloat16 (nearest even; denormals and the results' denormals
/// flush to zero, as vdpbf16ps does) and products summed in float32, in pairs along k and
/// blocks of 768 k. beta == 0 never reads C. Single-threaded; packing buffers are per thread.
/// Needs lk_cpu_has_avx512_bf16(); returns 0, or -1 when it cannot run (no x86-64 kernel, or no
/// memory for the packing buffers), leaving C as it was.
int lk_gemm_bf16(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha, const float *a,
                 ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc);

// MARK: GGML block dequantization (layouts: ggml-common.h); `blocks` whole blocks

void lk_ggml_q4_0(const void *src, ptrdiff_t blocks, float *dst);
void lk_ggml_q4_1(const void *src, ptrdiff_t blocks, float *dst);
void lk_ggml_q5_0(const void *src, ptrdiff_t blocks, float *dst);
void lk_ggml_q5_1(const void *src, ptrdiff_t blocks, float *dst);
void lk_ggml_q8_0(const void *src, ptrdiff_t blocks, float *dst);
void lk_ggml_q2_k(const void *src, ptrdiff_t blocks, float *dst);
void lk_ggml_q3_k(const void *src, ptrdiff_t blocks, float *dst);
void lk_ggml_q4_k(const void *src, ptrdiff_t blocks, float *dst);
void lk_ggml_q5_k(const void *src, ptrdiff_t blocks, float *dst);
void lk_ggml_q6_k(const void *src, ptrdiff_t blocks, float *dst);
void lk_ggml_q8_k(const void *src, ptrdiff_t blocks, float *dst);

#pragma clang assume_nonnull end

#endif
