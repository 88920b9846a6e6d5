// The kernel bodies, written once and compiled once per variant: a variant file defines
// LK_TABLE_NAME (the table it fills; a file that takes single bodies, IntegerDotVNNI.c, leaves
// it undefined), LK_FMA_NATIVE (1 where a fused multiply-add is one
// instruction) and LK_F16 (LK_F16_F16C, LK_F16_NEON or LK_F16_INTEGER), may wrap this file
// in a `#pragma clang attribute` target, and includes it. System headers come first so the
// target attribute only reaches the functions below.
//
// Each body mirrors the Swift SIMD8 code it replaced, operation for operation: `fmadd`
// where Swift wrote `addingProduct`, a separate multiply and add where Swift wrote `a * b + c`
// (Swift never fuses, so contraction is off here too), the same horizontal sums and the same
// scalar tails. 8-lane vectors throughout, so the sum orders stay those of the Swift code.
// Without a native FMA (the x86-64 baseline) `fmadd` rounds twice: results then differ from
// the FMA variants in the last bits, within the tolerances the tests check against the
// reference twins.

#pragma STDC FP_CONTRACT OFF
// Every vector helper is static and always inlined, so no 256-bit value crosses a call
// boundary in the baseline variant and the "AVX vector argument changes the ABI" warning
// does not apply.
#pragma clang diagnostic ignored "-Wpsabi"

#define LK_F16_INTEGER 0
#define LK_F16_F16C 1
#define LK_F16_NEON 2

#define LK_INLINE static inline __attribute__((always_inline))
/// Before a loop over fewer than 8 leftovers: kept scalar, because a vectorised copy of every
/// tail (with its alias checks) costs registers the main loop needs (rope: 62 → 76 GB/s).
#define LK_TAIL _Pragma("clang loop vectorize(disable) interleave(disable) unroll(disable)")

typedef float f8 __attribute__((vector_size(32)));
typedef int32_t i8v __attribute__((vector_size(32)));
typedef uint32_t u8v __attribute__((vector_size(32)));
typedef uint16_t u16x8 __attribute__((vector_size(16)));

// MARK: Vector helpers

LK_INLINE f8 ld(const float *p) { f8 v; __builtin_memcpy(&v, p, sizeof v); return v; }
LK_INLINE void st(float *p, f8 v) { __builtin_memcpy(p, &v, sizeof v); }
LK_INLINE f8 ld_part(const float *p, ptrdiff_t w) {
    f8 v = {0};
    LK_TAIL for (ptrdiff_t j = 0; j < w; j++) v[j] = p[j];
    return v;
}
LK_INLINE void st_part(float *p, f8 v, ptrdiff_t w) {
    LK_TAIL for (ptrdiff_t j = 0; j < w; j++) p[j] = v[j];
}
LK_INLINE f8 splat(float x) { return (f8){x, x, x, x, x, x, x, x}; }
/// m ? a : b, lane by lane (m from a vector comparison: all ones or zero).
LK_INLINE f8 sel(i8v m, f8 a, f8 b) { return (f8)(((i8v)a & m) | ((i8v)b & ~m)); }
LK_INLINE u8v selu(i8v m, u8v a, u8v b) { return (a & (u8v)m) | (b & ~(u8v)m); }

/// a * b + c: fused (one rounding) where the variant has FMA, Swift's `c.addingProduct(a, b)`.
LK_INLINE f8 fmadd(f8 a, f8 b, f8 c) {
#if LK_FMA_NATIVE
#if __has_builtin(__builtin_elementwise_fma)
    return __builtin_elementwise_fma(a, b, c);
#else
    f8 r;
    for (int j = 0; j < 8; j++) r[j] = __builtin_fmaf(a[j], b[j], c[j]);
    return r;
#endif
#else
    return a * b + c;
#endif
}

LK_INLINE f8 vsqrt(f8 x) {
#if __has_builtin(__builtin_elementwise_sqrt)
    return __builtin_elementwise_sqrt(x);
#else
    f8 r;
    for (int j = 0; j < 8; j++) r[j] = __builtin_sqrtf(x[j]);
    return r;
#endif
}

/// Swift's SIMDMath.hsum: (lanes 0-3 + 4-7), then (0-1 + 2-3), then the two.
LK_INLINE float hsum(f8 v) {
    float a0 = v[0] + v[4], a1 = v[1] + v[5], a2 = v[2] + v[6], a3 = v[3] + v[7];
    float b0 = a0 + a2, b1 = a1 + a3;
    return b0 + b1;
}

LK_INLINE float hmax(f8 v) {
    float m = v[0];
    for (int j = 1; j < 8; j++) if (v[j] > m) m = v[j];
    return m;
}

LK_INLINE f8 vmax(f8 a, f8 b) { return sel(b > a, b, a); }

/// exp(x) to about 1 ulp on [-87, 88] (Cephes expf coefficients, range reduction by
/// x = n·ln2 + r with |r| ≤ ln2/2). Below -87 gives 0, above 88 gives exp(88).
LK_INLINE f8 vexp(f8 xin) {
    f8 x = sel(xin > splat(88.0f), splat(88.0f), xin);
    x = sel(x < splat(-87.0f), splat(-87.0f), x);
    // Round x·log2(e) to nearest with the 1.5·2^23 trick: the integer lands in the low
    // mantissa bits of t, which also gives 2^n by integer arithmetic.
    const f8 magic = splat(12582912.0f);
    f8 t = fmadd(x, splat(1.4426950408889634f), magic);
    f8 n = t - magic;
    f8 r = fmadd(n, splat(-0.693359375f), x);
    r = fmadd(n, splat(2.1219444e-4f), r);
    f8 p = splat(1.9875691500e-4f);
    p = fmadd(p, r, splat(1.3981999507e-3f));
    p = fmadd(p, r, splat(8.3334519073e-3f));
    p = fmadd(p, r, splat(4.1665795894e-2f));
    p = fmadd(p, r, splat(1.6666665459e-1f));
    p = fmadd(p, r, splat(5.0000001201e-1f));
    f8 r2 = r * r;
    f8 e = fmadd(p, r2, r + splat(1.0f));
    u8v bits = (((u8v)t - 0x4B400000u) + 127u) << 23;
    f8 result = e * (f8)bits;
    return sel(xin < splat(-87.0f), splat(0.0f), result);
}

LK_INLINE f8 vsigmoid(f8 x) { return splat(1.0f) / (splat(1.0f) + vexp(-x)); }

LK_INLINE float row_max(const float *p, ptrdiff_t n) {
    f8 mv = splat(-__builtin_inff());
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) mv = vmax(mv, ld(p + i));
    float m = hmax(mv);
    LK_TAIL for (; i < n; i++) if (p[i] > m) m = p[i];
    return m;
}

// MARK: Exponential family

static float k_exp(float x) { return vexp(splat(x))[0]; }

static float k_softmax_row(float *p, ptrdiff_t n) {
    float m = row_max(p, n);
    f8 mv = splat(m), acc = splat(0.0f);
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) {
        f8 e = vexp(ld(p + i) - mv);
        st(p + i, e);
        acc += e;
    }
    float sum = hsum(acc);
    if (i < n) {                                   // the tail, summed in order
        f8 e = vexp(ld_part(p + i, n - i) - mv);
        st_part(p + i, e, n - i);
        LK_TAIL for (ptrdiff_t j = 0; j < n - i; j++) sum += e[j];
    }
    f8 inv = splat(1 / sum);
    for (i = 0; i + 8 <= n; i += 8) st(p + i, ld(p + i) * inv);
    LK_TAIL for (; i < n; i++) p[i] *= 1 / sum;
    return m + (float)log((double)sum);
}

static float k_cross_entropy_row(const float *x, ptrdiff_t n, ptrdiff_t target, float grad_scale, float *grad) {
    float xt = x[target];                          // before grad (maybe x) is written
    float m = row_max(x, n);
    f8 mv = splat(m), acc = splat(0.0f);
    ptrdiff_t i = 0;
    float sum;
    if (grad) {
        for (; i + 8 <= n; i += 8) {
            f8 e = vexp(ld(x + i) - mv);
            st(grad + i, e);
            acc += e;
        }
        sum = hsum(acc);
        if (i < n) {
            f8 e = vexp(ld_part(x + i, n - i) - mv);
            st_part(grad + i, e, n - i);
            LK_TAIL for (ptrdiff_t j = 0; j < n - i; j++) sum += e[j];
        }
        f8 k = splat(grad_scale / sum);
        for (i = 0; i + 8 <= n; i += 8) st(grad + i, ld(grad + i) * k);
        LK_TAIL for (; i < n; i++) grad[i] *= grad_scale / sum;
        grad[target] -= grad_scale;
    } else {
        for (; i + 8 <= n; i += 8) acc += vexp(ld(x + i) - mv);
        sum = hsum(acc);
        if (i < n) {
            f8 e = vexp(ld_part(x + i, n - i) - mv);
            LK_TAIL for (ptrdiff_t j = 0; j < n - i; j++) sum += e[j];
        }
    }
    return m + (float)log((double)sum) - xt;
}

static void k_softmax_backward_row(float *p, float *dp, ptrdiff_t n, float lse, float d) {
    f8 lv = splat(lse), dv = splat(d);
    ptrdiff_t j = 0;
    for (; j + 8 <= n; j += 8) {
        f8 pv = vexp(ld(p + j) - lv);
        st(p + j, pv);
        st(dp + j, pv * (ld(dp + j) - dv));
    }
    if (j < n) {
        ptrdiff_t w = n - j;
        f8 pv = vexp(ld_part(p + j, w) - lv);
        st_part(p + j, pv, w);
        st_part(dp + j, pv * (ld_part(dp + j, w) - dv), w);
    }
}

static void k_silu(const float *x, float *out, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) { f8 v = ld(x + i); st(out + i, v * vsigmoid(v)); }
    if (i < n) { f8 v = ld_part(x + i, n - i); st_part(out + i, v * vsigmoid(v), n - i); }
}

static void k_silu_backward(const float *x, const float *dy, float *dx, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i += 8) {
        ptrdiff_t w = n - i < 8 ? n - i : 8;
        f8 xv = w == 8 ? ld(x + i) : ld_part(x + i, w);
        f8 dv = w == 8 ? ld(dy + i) : ld_part(dy + i, w);
        f8 s = vsigmoid(xv);
        f8 g = dv * s * (splat(1.0f) + xv * (splat(1.0f) - s));
        if (w == 8) st(dx + i, g); else st_part(dx + i, g, w);
    }
}

// Gated activations: out = act(gate) * up with act(g) = g·s(g), and backward
// dgate = dy·up·s·slope(g, s) (act'(g) = s·slope), dup = dy·g·s. SwiGLU: s = sigmoid(g),
// slope = 1 + g(1 − s). GeGLU with the tanh GELU: ½(1 + tanh u) = sigmoid(2u),
// u = √(2/π)(g + 0.044715g³), and since 1 − tanh²(u) = 4s(1 − s) (no cancellation near
// |tanh| = 1), slope = 1 + 2g(1 − s)·√(2/π)(1 + 3·0.044715g²).
LK_INLINE f8 silu_s(f8 g) { return vsigmoid(g); }
LK_INLINE f8 silu_slope(f8 g, f8 s) { return splat(1.0f) + g * (splat(1.0f) - s); }

LK_INLINE f8 gelu_tanh_s(f8 g) {
    f8 u = splat(0.7978845608028654f) * fmadd(splat(0.044715f) * (g * g), g, g);
    return vsigmoid(u + u);
}
LK_INLINE f8 gelu_tanh_slope(f8 g, f8 s) {
    f8 inner = splat(0.7978845608028654f) * fmadd(splat(3 * 0.044715f) * g, g, splat(1.0f));
    return fmadd(splat(2.0f) * g * (splat(1.0f) - s), inner, splat(1.0f));
}

LK_INLINE void gated_rows(const float *gate, const float *up, float *out, ptrdiff_t n, f8 (*act_s)(f8)) {
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) { f8 g = ld(gate + i); st(out + i, g * act_s(g) * ld(up + i)); }
    if (i < n) {
        ptrdiff_t w = n - i;
        f8 g = ld_part(gate + i, w);
        st_part(out + i, g * act_s(g) * ld_part(up + i, w), w);
    }
}

LK_INLINE void gated_rows_backward(const float *gate, const float *up, const float *dy, float *dgate, float *dup, ptrdiff_t n,
                                   f8 (*act_s)(f8), f8 (*slope)(f8, f8)) {
    for (ptrdiff_t i = 0; i < n; i += 8) {
        ptrdiff_t w = n - i < 8 ? n - i : 8;
        f8 g = w == 8 ? ld(gate + i) : ld_part(gate + i, w);
        f8 u = w == 8 ? ld(up + i) : ld_part(up + i, w);
        f8 d = w == 8 ? ld(dy + i) : ld_part(dy + i, w);
        f8 s = act_s(g);
        f8 dg = d * u * s * slope(g, s);
        f8 du = d * (g * s);
        if (w == 8) {
            if (dgate) st(dgate + i, dg);
            if (dup) st(dup + i, du);
        } else {
            if (dgate) st_part(dgate + i, dg, w);
            if (dup) st_part(dup + i, du, w);
        }
    }
}

static void k_swiglu(const float *gate, const float *up, float *out, ptrdiff_t n) { gated_rows(gate, up, out, n, silu_s); }
static void k_swiglu_backward(const float *gate, const float *up, const float *dy, float *dgate, float *dup, ptrdiff_t n) {
    gated_rows_backward(gate, up, dy, dgate, dup, n, silu_s, silu_slope);
}
static void k_geglu(const float *gate, const float *up, float *out, ptrdiff_t n) { gated_rows(gate, up, out, n, gelu_tanh_s); }
static void k_geglu_backward(const float *gate, const float *up, const float *dy, float *dgate, float *dup, ptrdiff_t n) {
    gated_rows_backward(gate, up, dy, dgate, dup, n, gelu_tanh_s, gelu_tanh_slope);
}

// MARK: Reductions, norms, elementwise

static float k_dot(const float *a, const float *b, ptrdiff_t n) {
    f8 acc0 = splat(0.0f), acc1 = splat(0.0f);
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = fmadd(ld(a + i), ld(b + i), acc0);
        acc1 = fmadd(ld(a + i + 8), ld(b + i + 8), acc1);
    }
    if (i + 8 <= n) { acc0 = fmadd(ld(a + i), ld(b + i), acc0); i += 8; }
    float s = hsum(acc0 + acc1);
    LK_TAIL for (; i < n; i++) s += a[i] * b[i];
    return s;
}

// Four dot products against one w, each with exactly k_dot's operations in k_dot's order (so a
// row's result is the same bits whichever of the two computed it), w loaded once for all four.
LK_INLINE void dot4(const float *x0, const float *x1, const float *x2, const float *x3, const float *w, ptrdiff_t n, float *out) {
    f8 a0 = splat(0.0f), b0 = splat(0.0f), a1 = splat(0.0f), b1 = splat(0.0f);
    f8 a2 = splat(0.0f), b2 = splat(0.0f), a3 = splat(0.0f), b3 = splat(0.0f);
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) {
        f8 w0 = ld(w + i), w1 = ld(w + i + 8);
        a0 = fmadd(ld(x0 + i), w0, a0); b0 = fmadd(ld(x0 + i + 8), w1, b0);
        a1 = fmadd(ld(x1 + i), w0, a1); b1 = fmadd(ld(x1 + i + 8), w1, b1);
        a2 = fmadd(ld(x2 + i), w0, a2); b2 = fmadd(ld(x2 + i + 8), w1, b2);
        a3 = fmadd(ld(x3 + i), w0, a3); b3 = fmadd(ld(x3 + i + 8), w1, b3);
    }
    if (i + 8 <= n) {
        f8 w0 = ld(w + i);
        a0 = fmadd(ld(x0 + i), w0, a0); a1 = fmadd(ld(x1 + i), w0, a1);
        a2 = fmadd(ld(x2 + i), w0, a2); a3 = fmadd(ld(x3 + i), w0, a3);
        i += 8;
    }
    float s0 = hsum(a0 + b0), s1 = hsum(a1 + b1), s2 = hsum(a2 + b2), s3 = hsum(a3 + b3);
    LK_TAIL for (; i < n; i++) { s0 += x0[i] * w[i]; s1 += x1[i] * w[i]; s2 += x2[i] * w[i]; s3 += x3[i] * w[i]; }
    out[0] = s0; out[1] = s1; out[2] = s2; out[3] = s3;
}

// y[i·ldy + j] (+)= alpha · dot(x_i, w_j) for rows i < m of x and rows j < n of w (length k
// each): every element is k_dot's arithmetic on its own pair, in the same order whatever m is,
// so a row computes the same floats alone or among others (decoding alone or in a batch). w_j
// stays in L1 while the rows of x pass over it, four at a time.
static void k_rows_dot_t(const float *x, ptrdiff_t m, ptrdiff_t ldx, const float *w, ptrdiff_t n, ptrdiff_t k,
                         float *y, ptrdiff_t ldy, float alpha, int accumulate) {
    for (ptrdiff_t j = 0; j < n; j++) {
        const float *wj = w + j * k;
        ptrdiff_t i = 0;
        float d[4];
        for (; i + 4 <= m; i += 4) {
            dot4(x + i * ldx, x + (i + 1) * ldx, x + (i + 2) * ldx, x + (i + 3) * ldx, wj, k, d);
            for (int r = 0; r < 4; r++) {
                float *yi = y + (i + r) * ldy + j;
                *yi = accumulate ? *yi + alpha * d[r] : alpha * d[r];
            }
        }
        for (; i < m; i++) {
            float v = alpha * k_dot(x + i * ldx, wj, k);
            float *yi = y + i * ldy + j;
            *yi = accumulate ? *yi + v : v;
        }
    }
}

LK_INLINE float rmsnorm_row(const float *x, const float *w, float eps, float *y, ptrdiff_t n) {
    float ms = k_dot(x, x, n) / (float)n;
    float s = 1 / __builtin_sqrtf(ms + eps);
    f8 sv = splat(s);
    ptrdiff_t i = 0;
    if (w) {
        for (; i + 8 <= n; i += 8) st(y + i, ld(x + i) * sv * ld(w + i));
        LK_TAIL for (; i < n; i++) y[i] = x[i] * s * w[i];
    } else {
        for (; i + 8 <= n; i += 8) st(y + i, ld(x + i) * sv);
        LK_TAIL for (; i < n; i++) y[i] = x[i] * s;
    }
    return s;
}

LK_INLINE void rmsnorm_backward_row(const float *x, const float *w, float s, const float *dy,
                                    float *dx, float *acc, float *g, ptrdiff_t n) {
    if (w) {
        for (ptrdiff_t i = 0; i < n; i++) g[i] = dy[i] * w[i];
    } else {
        __builtin_memcpy(g, dy, (size_t)n * sizeof(float));
    }
    if (dx) {
        float c = k_dot(g, x, n) / (float)n * s * s;
        f8 sv = splat(s), cv = splat(-c);
        ptrdiff_t i = 0;
        for (; i + 8 <= n; i += 8) st(dx + i, fmadd(ld(x + i), cv, ld(g + i)) * sv);
        LK_TAIL for (; i < n; i++) dx[i] = (g[i] - x[i] * c) * s;
    }
    if (acc) {
        f8 sv = splat(s);
        ptrdiff_t i = 0;
        for (; i + 8 <= n; i += 8) st(acc + i, fmadd(ld(dy + i) * ld(x + i), sv, ld(acc + i)));
        LK_TAIL for (; i < n; i++) acc[i] += dy[i] * x[i] * s;
    }
}

static void k_rmsnorm_rows(const float *x, const float *w, float eps, float *y, float *rstd, ptrdiff_t rows, ptrdiff_t n) {
    for (ptrdiff_t r = 0; r < rows; r++) {
        float s = rmsnorm_row(x + r * n, w, eps, y + r * n, n);
        if (rstd) rstd[r] = s;
    }
}

static void k_rmsnorm_backward_rows(const float *x, const float *w, const float *rstd, const float *dy, float *dx,
                                    float *acc, float *g, ptrdiff_t rows, ptrdiff_t n) {
    for (ptrdiff_t r = 0; r < rows; r++)
        rmsnorm_backward_row(x + r * n, w, rstd[r], dy + r * n, dx ? dx + r * n : NULL, acc, g, n);
}

static void k_add(const float *a, const float *b, float *out, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) st(out + i, ld(a + i) + ld(b + i));
    LK_TAIL for (; i < n; i++) out[i] = a[i] + b[i];
}

static void k_mul(const float *a, const float *b, float *out, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) st(out + i, ld(a + i) * ld(b + i));
    LK_TAIL for (; i < n; i++) out[i] = a[i] * b[i];
}

static void k_scale(const float *a, float s, float *out, ptrdiff_t n) {
    f8 sv = splat(s);
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) st(out + i, ld(a + i) * sv);
    LK_TAIL for (; i < n; i++) out[i] = a[i] * s;
}

static void k_axpy(float *dst, const float *src, ptrdiff_t n, float alpha) {
    f8 av = splat(alpha);
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) st(dst + i, fmadd(ld(src + i), av, ld(dst + i)));
    LK_TAIL for (; i < n; i++) dst[i] += alpha * src[i];
}

static void k_adamw(float *w, const float *g, float *m, float *v, ptrdiff_t n, float lr, float beta1,
                    float beta2, float eps, float wd, float bc1, float bc2) {
    f8 decay = splat(1 - lr * wd);
    f8 b1 = splat(beta1), b2 = splat(beta2), ob1 = splat(1 - beta1), ob2 = splat(1 - beta2);
    f8 step = splat(-lr / bc1), sbc2 = splat(1 / __builtin_sqrtf(bc2)), ev = splat(eps);
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) {
        f8 gv = ld(g + i);
        f8 mv = fmadd(ob1, gv, b1 * ld(m + i));
        f8 vv = fmadd(ob2 * gv, gv, b2 * ld(v + i));
        st(m + i, mv);
        st(v + i, vv);
        f8 denom = vsqrt(vv) * sbc2 + ev;
        st(w + i, fmadd(step, mv / denom, ld(w + i) * decay));
    }
    LK_TAIL for (; i < n; i++) {
        float gi = g[i];
        m[i] = beta1 * m[i] + (1 - beta1) * gi;
        v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
        float denom = __builtin_sqrtf(v[i]) / __builtin_sqrtf(bc2) + eps;
        w[i] = w[i] * (1 - lr * wd) - (lr / bc1) * m[i] / denom;
    }
}

// Two loops rather than a branch per head: the layouts vectorise differently, and a shared
// loop made the compiler set up both per token (~10 % of the kernel at head_dim 64).
LK_INLINE void rope_half_split(const float *x, float *y, const int32_t *positions, const float *cos_table,
                               const float *sin_table, ptrdiff_t tokens, ptrdiff_t heads, ptrdiff_t hd, ptrdiff_t rot,
                               int inverse) {
    ptrdiff_t half = rot / 2;
    const u8v sign = (u8v){0} + (inverse ? 0x80000000u : 0u);   // negating sin flips its sign bit, exactly
    for (ptrdiff_t t = 0; t < tokens; t++) {
        const float *c = cos_table + (ptrdiff_t)positions[t] * half, *s = sin_table + (ptrdiff_t)positions[t] * half;
        for (ptrdiff_t h = 0; h < heads; h++) {
            const float *xr = x + (t * heads + h) * hd;
            float *yr = y + (t * heads + h) * hd;
            ptrdiff_t i = 0;
            for (; i + 8 <= half; i += 8) {
                f8 x1 = ld(xr + i), x2 = ld(xr + i + half), cv = ld(c + i);
                f8 sv = (f8)((u8v)ld(s + i) ^ sign);
                st(yr + i, x1 * cv - x2 * sv);
                st(yr + i + half, x2 * cv + x1 * sv);
            }
            LK_TAIL for (; i < half; i++) {
                float x1 = xr[i], x2 = xr[i + half];
                float sv = inverse ? -s[i] : s[i];
                yr[i] = x1 * c[i] - x2 * sv;
                yr[i + half] = x2 * c[i] + x1 * sv;
            }
            // Partial rotary: dimensions past `rot` pass through.
            if (yr != xr) for (ptrdiff_t d = rot; d < hd; d++) yr[d] = xr[d];
        }
    }
}

LK_INLINE void rope_interleaved(const float *x, float *y, const int32_t *positions, const float *cos_table,
                                const float *sin_table, ptrdiff_t tokens, ptrdiff_t heads, ptrdiff_t hd, ptrdiff_t rot,
                                int inverse) {
    ptrdiff_t half = rot / 2;
    for (ptrdiff_t t = 0; t < tokens; t++) {
        const float *c = cos_table + (ptrdiff_t)positions[t] * half, *s = sin_table + (ptrdiff_t)positions[t] * half;
        for (ptrdiff_t h = 0; h < heads; h++) {
            const float *xr = x + (t * heads + h) * hd;
            float *yr = y + (t * heads + h) * hd;
            for (ptrdiff_t i = 0; i < half; i++) {
                float x1 = xr[2 * i], x2 = xr[2 * i + 1];
                float sv = inverse ? -s[i] : s[i];
                yr[2 * i] = x1 * c[i] - x2 * sv;
                yr[2 * i + 1] = x2 * c[i] + x1 * sv;
            }
            if (yr != xr) for (ptrdiff_t d = rot; d < hd; d++) yr[d] = xr[d];
        }
    }
}

static void k_rope(const float *x, float *y, const int32_t *positions, const float *cos_table, const float *sin_table,
                   ptrdiff_t tokens, ptrdiff_t heads, ptrdiff_t hd, ptrdiff_t rot, int interleaved, int inverse) {
    if (interleaved) rope_interleaved(x, y, positions, cos_table, sin_table, tokens, heads, hd, rot, inverse);
    else rope_half_split(x, y, positions, cos_table, sin_table, tokens, heads, hd, rot, inverse);
}

// MARK: Half precision

LK_INLINE uint16_t ld16(const void *p, ptrdiff_t i) {
    uint16_t h;
    __builtin_memcpy(&h, (const char *)p + 2 * i, 2);
    return h;
}
LK_INLINE void st16(void *p, ptrdiff_t i, uint16_t h) { __builtin_memcpy((char *)p + 2 * i, &h, 2); }

#if LK_F16 == LK_F16_INTEGER
/// binary16 bits to float32 by integer arithmetic, as F16C converts (NaN made quiet).
LK_INLINE f8 h2f(u8v h) {
    u8v sign = (h & 0x8000u) << 16;
    u8v em = h & 0x7fffu;
    u8v normal = (em << 13) + ((127u - 15u) << 23);
    u8v special = (em << 13) | 0x7f800000u | ((u8v)(em > 0x7c00u) & 0x00400000u);
    u8v sub = (u8v)(__builtin_convertvector((i8v)em, f8) * splat(0x1p-24f));   // exact below 2^-14
    u8v r = selu(em >= 0x7c00u, special, normal);
    r = selu(em < 0x400u, sub, r);
    return (f8)(r | sign);
}

/// float32 to binary16 bits, round to nearest even, as F16C converts (F. Giesen's
/// float_to_half_fast3_rtne, with F16C's NaN: quiet, payload truncated).
LK_INLINE u8v f2h(f8 f) {
    u8v b = (u8v)f;
    u8v sign = (b >> 16) & 0x8000u;
    u8v a = b & 0x7fffffffu;
    u8v odd = (a >> 13) & 1u;
    u8v normal = (a + 0xC8000FFFu + odd) >> 13;                     // rebias 127 → 15, round
    u8v sub = (u8v)((f8)a + splat(0.5f)) - 0x3F000000u;             // the add rounds at 2^-24
    u8v nan = 0x7E00u | ((a >> 13) & 0x3FFu);
    u8v r = selu(a < 0x38800000u, sub, normal);
    r = selu(a >= 0x47800000u, (u8v){0x7C00u, 0x7C00u, 0x7C00u, 0x7C00u, 0x7C00u, 0x7C00u, 0x7C00u, 0x7C00u}, r);
    r = selu(a > 0x7F800000u, nan, r);
    return r | sign;
}

LK_INLINE float half_to_float(uint16_t h) {
    u8v v = {h, h, h, h, h, h, h, h};
    return h2f(v)[0];
}
#elif LK_F16 == LK_F16_F16C
LK_INLINE float half_to_float(uint16_t h) { return _cvtsh_ss(h); }
#else
LK_INLINE float half_to_float(uint16_t h) {
    _Float16 x;
    __builtin_memcpy(&x, &h, 2);
    return (float)x;
}
#endif

static void k_f16_to_f32(const void *src, float *dst, ptrdiff_t n) {
    ptrdiff_t i = 0;
#if LK_F16 == LK_F16_F16C
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const char *)src + 2 * i))));
#elif LK_F16 == LK_F16_INTEGER
    for (; i + 8 <= n; i += 8) {
        u16x8 h;
        __builtin_memcpy(&h, (const char *)src + 2 * i, sizeof h);
        st(dst + i, h2f(__builtin_convertvector(h, u8v)));
    }
#endif
    for (; i < n; i++) dst[i] = half_to_float(ld16(src, i));
}

/// Eight bf16 (or f16) values widened exactly, as k_bf16_to_f32 (k_f16_to_f32) writes them.
LK_INLINE f8 ld_half(const uint16_t *p, int bf16) {
    u16x8 h;
    __builtin_memcpy(&h, p, sizeof h);
    if (bf16) return (f8)(__builtin_convertvector(h, u8v) << 16);
#if LK_F16 == LK_F16_F16C
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
#elif LK_F16 == LK_F16_INTEGER
    return h2f(__builtin_convertvector(h, u8v));
#else
    f8 v;
    for (int j = 0; j < 8; j++) v[j] = half_to_float(h[j]);
    return v;
#endif
}

LK_INLINE float half_value(uint16_t h, int bf16) {
    if (!bf16) return half_to_float(h);
    uint32_t b = (uint32_t)h << 16;
    float f;
    __builtin_memcpy(&f, &b, 4);
    return f;
}

// y[i·ldy + j] = dot(x_i, w_j) for n rows of k bf16 (or f16) weights, widened in registers
// and never stored: each sum is k_dot's on the widened row, operation for operation (so the
// product is the widened matrix's, bit for bit, and a row's result does not depend on m).
// Two rows of w at a time, so four chains of fused multiply-adds overlap.
static void k_rows_dot_half(const float *x, ptrdiff_t m, ptrdiff_t ldx, const void *w, int bf16, ptrdiff_t n, ptrdiff_t k,
                            float *y, ptrdiff_t ldy) {
    const uint16_t *wh = (const uint16_t *)w;
    ptrdiff_t j = 0;
    for (; j + 2 <= n; j += 2) {
        const uint16_t *w0 = wh + j * k, *w1 = w0 + k;
        for (ptrdiff_t i = 0; i < m; i++) {
            const float *xi = x + i * ldx;
            f8 a0 = splat(0.0f), b0 = splat(0.0f), a1 = splat(0.0f), b1 = splat(0.0f);
            ptrdiff_t c = 0;
            for (; c + 16 <= k; c += 16) {
                f8 xl = ld(xi + c), xh = ld(xi + c + 8);
                a0 = fmadd(xl, ld_half(w0 + c, bf16), a0); b0 = fmadd(xh, ld_half(w0 + c + 8, bf16), b0);
                a1 = fmadd(xl, ld_half(w1 + c, bf16), a1); b1 = fmadd(xh, ld_half(w1 + c + 8, bf16), b1);
            }
            if (c + 8 <= k) {
                f8 xl = ld(xi + c);
                a0 = fmadd(xl, ld_half(w0 + c, bf16), a0); a1 = fmadd(xl, ld_half(w1 + c, bf16), a1);
                c += 8;
            }
            float s0 = hsum(a0 + b0), s1 = hsum(a1 + b1);
            LK_TAIL for (; c < k; c++) { s0 += xi[c] * half_value(w0[c], bf16); s1 += xi[c] * half_value(w1[c], bf16); }
            y[i * ldy + j] = s0;
            y[i * ldy + j + 1] = s1;
        }
    }
    for (; j < n; j++) {
        const uint16_t *w0 = wh + j * k;
        for (ptrdiff_t i = 0; i < m; i++) {
            const float *xi = x + i * ldx;
            f8 a0 = splat(0.0f), b0 = splat(0.0f);
            ptrdiff_t c = 0;
            for (; c + 16 <= k; c += 16) {
                a0 = fmadd(ld(xi + c), ld_half(w0 + c, bf16), a0);
                b0 = fmadd(ld(xi + c + 8), ld_half(w0 + c + 8, bf16), b0);
            }
            if (c + 8 <= k) { a0 = fmadd(ld(xi + c), ld_half(w0 + c, bf16), a0); c += 8; }
            float s0 = hsum(a0 + b0);
            LK_TAIL for (; c < k; c++) s0 += xi[c] * half_value(w0[c], bf16);
            y[i * ldy + j] = s0;
        }
    }
}

static void k_f32_to_f16(const float *src, void *dst, ptrdiff_t n) {
    ptrdiff_t i = 0;
#if LK_F16 == LK_F16_F16C
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)((char *)dst + 2 * i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    LK_TAIL for (; i < n; i++) st16(dst, i, _cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT));
#elif LK_F16 == LK_F16_INTEGER
    for (; i + 8 <= n; i += 8) {
        u16x8 h = __builtin_convertvector(f2h(ld(src + i)), u16x8);
        __builtin_memcpy((char *)dst + 2 * i, &h, sizeof h);
    }
    if (i < n) {
        u8v h = f2h(ld_part(src + i, n - i));
        LK_TAIL for (ptrdiff_t j = 0; j < n - i; j++) st16(dst, i + j, (uint16_t)h[j]);
    }
#else
    for (; i < n; i++) {
        _Float16 x = (_Float16)src[i];
        uint16_t h;
        __builtin_memcpy(&h, &x, 2);
        st16(dst, i, h);
    }
#endif
}

static void k_bf16_to_f32(const void *src, float *dst, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) {
        u16x8 h;
        __builtin_memcpy(&h, (const char *)src + 2 * i, sizeof h);
        st(dst + i, (f8)(__builtin_convertvector(h, u8v) << 16));
    }
    LK_TAIL for (; i < n; i++) {
        uint32_t b = (uint32_t)ld16(src, i) << 16;
        __builtin_memcpy(dst + i, &b, 4);
    }
}

/// Round to nearest even on the upper half; any NaN becomes 0x7FC0 (Kernels.bf16Bits).
LK_INLINE u8v f2bf(f8 f) {
    u8v b = (u8v)f;
    u8v r = (b + 0x7FFFu + ((b >> 16) & 1u)) >> 16;
    return selu(f != f, (u8v){0x7FC0u, 0x7FC0u, 0x7FC0u, 0x7FC0u, 0x7FC0u, 0x7FC0u, 0x7FC0u, 0x7FC0u}, r);
}

static void k_f32_to_bf16(const float *src, void *dst, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) {
        u16x8 h = __builtin_convertvector(f2bf(ld(src + i)), u16x8);
        __builtin_memcpy((char *)dst + 2 * i, &h, sizeof h);
    }
    if (i < n) {
        u8v h = f2bf(ld_part(src + i, n - i));
        LK_TAIL for (ptrdiff_t j = 0; j < n - i; j++) st16(dst, i + j, (uint16_t)h[j]);
    }
}

// MARK: GGML blocks (ggml-common.h). Fixed trip counts, so the loops vectorise.

LK_INLINE float half_at(const uint8_t *p, int offset) {
    uint16_t h;
    __builtin_memcpy(&h, p + offset, 2);
    return half_to_float(h);
}

/// Q4_0: d (f16), 16 bytes of nibbles; low nibbles are elements 0..<16, high 16..<32.
static void k_q4_0(const void *src, ptrdiff_t blocks, float *dst) {
    for (ptrdiff_t b = 0; b < blocks; b++) {
        const uint8_t *p = (const uint8_t *)src + b * 18;
        float d = half_at(p, 0);
        const uint8_t *q = p + 2;
        float *y = dst + b * 32;
        for (int j = 0; j < 16; j++) {
            y[j] = (float)((int32_t)(q[j] & 0x0F) - 8) * d;
            y[j + 16] = (float)((int32_t)(q[j] >> 4) - 8) * d;
        }
    }
}

/// Q4_1: d, m (f16), nibbles; y = d·q + m.
static void k_q4_1(const void *src, ptrdiff_t blocks, float *dst) {
    for (ptrdiff_t b = 0; b < blocks; b++) {
        const uint8_t *p = (const uint8_t *)src + b * 20;
        float d = half_at(p, 0), m = half_at(p, 2);
        const uint8_t *q = p + 4;
        float *y = dst + b * 32;
        for (int j = 0; j < 16; j++) {
            y[j] = (float)(q[j] & 0x0F) * d + m;
            y[j + 16] = (float)(q[j] >> 4) * d + m;
        }
    }
}

/// Q5_0: d (f16), 32 high bits (u32 LE, bit i for element i), nibbles; q - 16.
static void k_q5_0(const void *src, ptrdiff_t blocks, float *dst) {
    for (ptrdiff_t b = 0; b < blocks; b++) {
        const uint8_t *p = (const uint8_t *)src + b * 22;
        float d = half_at(p, 0);
        uint32_t qh;
        __builtin_memcpy(&qh, p + 2, 4);
        const uint8_t *q = p + 6;
        float *y = dst + b * 32;
        for (int j = 0; j < 16; j++) {
            int32_t h0 = (int32_t)((qh >> j) & 1) << 4, h1 = (int32_t)((qh >> (j + 16)) & 1) << 4;
            y[j] = (float)(((int32_t)(q[j] & 0x0F) | h0) - 16) * d;
            y[j + 16] = (float)(((int32_t)(q[j] >> 4) | h1) - 16) * d;
        }
    }
}

/// Q5_1: d, m (f16), 32 high bits, nibbles; y = d·q + m.
static void k_q5_1(const void *src, ptrdiff_t blocks, float *dst) {
    for (ptrdiff_t b = 0; b < blocks; b++) {
        const uint8_t *p = (const uint8_t *)src + b * 24;
        float d = half_at(p, 0), m = half_at(p, 2);
        uint32_t qh;
        __builtin_memcpy(&qh, p + 4, 4);
        const uint8_t *q = p + 8;
        float *y = dst + b * 32;
        for (int j = 0; j < 16; j++) {
            uint32_t h0 = ((qh >> j) & 1) << 4, h1 = ((qh >> (j + 16)) & 1) << 4;
            y[j] = (float)((uint32_t)(q[j] & 0x0F) | h0) * d + m;
            y[j + 16] = (float)((uint32_t)(q[j] >> 4) | h1) * d + m;
        }
    }
}

/// Q8_0: d (f16), 32 int8.
static void k_q8_0(const void *src, ptrdiff_t blocks, float *dst) {
    for (ptrdiff_t b = 0; b < blocks; b++) {
        const uint8_t *p = (const uint8_t *)src + b * 34;
        float d = half_at(p, 0);
        const int8_t *q = (const int8_t *)(p + 2);
        float *y = dst + b * 32;
        for (int j = 0; j < 32; j++) y[j] = (float)q[j] * d;
    }
}

typedef uint8_t lk_u8x8 __attribute__((vector_size(8)));
typedef int8_t lk_i8x8 __attribute__((vector_size(8)));

/// The 32 weights of one GGML block as four f8: Q4_0 (d·(q − 8)), Q4_1 (d·q + m), Q8_0 (d·q).
LK_INLINE void ggml_block(int type, const uint8_t *p, f8 w[4]) {
    if (type == LK_ROWS_Q8_0) {
        f8 d = splat(half_at(p, 0));
        for (int i = 0; i < 4; i++) {
            lk_i8x8 q; __builtin_memcpy(&q, p + 2 + 8 * i, 8);
            w[i] = __builtin_convertvector(q, f8) * d;
        }
        return;
    }
    const uint8_t *q = p + (type == LK_ROWS_Q4_1 ? 4 : 2);
    lk_u8x8 lo0, lo1;
    __builtin_memcpy(&lo0, q, 8);
    __builtin_memcpy(&lo1, q + 8, 8);
    f8 n0 = __builtin_convertvector(lo0 & 15, f8), n1 = __builtin_convertvector(lo1 & 15, f8);
    f8 n2 = __builtin_convertvector(lo0 >> 4, f8), n3 = __builtin_convertvector(lo1 >> 4, f8);
    f8 d = splat(half_at(p, 0));
    if (type == LK_ROWS_Q4_1) {
        f8 m = splat(half_at(p, 2));
        w[0] = fmadd(n0, d, m); w[1] = fmadd(n1, d, m); w[2] = fmadd(n2, d, m); w[3] = fmadd(n3, d, m);
    } else {
        f8 eight = splat(8.0f);
        w[0] = (n0 - eight) * d; w[1] = (n1 - eight) * d; w[2] = (n2 - eight) * d; w[3] = (n3 - eight) * d;
    }
}

// y[i·ldy + j] = dot(x_i, w_j) for the GGML-encoded rows w_j (k/32 blocks each), reading the
// blocks directly (no widened copy in memory): each block becomes 32 floats in registers (the
// values k_q4_0 / k_q4_1 / k_q8_0 write), used by up to four rows of x. Every pair's sum is
// k_dot's on the dequantized row, operation for operation (two accumulators over alternate
// eight-float chunks, then hsum of their sum), so kept blocks compute what the widened matrix
// computes, and a row's result does not depend on the others (batch-invariant).
static void k_rows_dot_ggml(int type, const float *x, ptrdiff_t m, ptrdiff_t ldx, const void *src, ptrdiff_t n, ptrdiff_t k,
                            float *y, ptrdiff_t ldy) {
    const ptrdiff_t block_bytes = type == LK_ROWS_Q8_0 ? 34 : type == LK_ROWS_Q4_1 ? 20 : 18, blocks = k / 32;
    const ptrdiff_t row_bytes = blocks * block_bytes, row_lines = (row_bytes + 63) / 64;
    const ptrdiff_t per_block = (row_lines + blocks - 1) / blocks;
    for (ptrdiff_t j = 0; j < n; j++) {
        const uint8_t *row = (const uint8_t *)src + j * row_bytes;
        for (ptrdiff_t i0 = 0; i0 < m; i0 += 4) {
            int rows = (int)(m - i0 < 4 ? m - i0 : 4);
            f8 acc0[4] = {splat(0.0f), splat(0.0f), splat(0.0f), splat(0.0f)}, acc1[4] = {splat(0.0f), splat(0.0f), splat(0.0f), splat(0.0f)};
            for (ptrdiff_t b = 0; b < blocks; b++) {
                // Rows are short: fetch the next one's lines while this one computes.
                if (i0 == 0 && j + 1 < n)
                    for (ptrdiff_t l = b * per_block; l < (b + 1) * per_block && l < row_lines; l++) __builtin_prefetch(row + row_bytes + 64 * l);
                f8 w[4];
                ggml_block(type, row + b * block_bytes, w);
                for (int r = 0; r < rows; r++) {
                    const float *xr = x + (i0 + r) * ldx + b * 32;
                    acc0[r] = fmadd(ld(xr), w[0], acc0[r]);
                    acc1[r] = fmadd(ld(xr + 8), w[1], acc1[r]);
                    acc0[r] = fmadd(ld(xr + 16), w[2], acc0[r]);
                    acc1[r] = fmadd(ld(xr + 24), w[3], acc1[r]);
                }
            }
            for (int r = 0; r < rows; r++) y[(i0 + r) * ldy + j] = hsum(acc0[r] + acc1[r]);
        }
    }
}

// MARK: 4-bit (NF4/FP4) rows

/// Elements 16c…16c+15 of a bitsandbytes 4-bit row (8 code bytes, element 2i the high nibble of
/// byte i) as two f8 in element order: the 16-entry table already multiplied by the block's
/// scale, `lo` entries 0-7, `hi` entries 8-15.
LK_INLINE void fourbit_16(const uint8_t *p, f8 lo, f8 hi, f8 *w0, f8 *w1) {
#if LK_INT8_DOT
    // Dword L takes code byte L/2 as its low byte (vpshufb within each 128-bit lane of the
    // broadcast 8 bytes); even L shift right 4 (the high nibble). vpermps reads index bits
    // 0-2, and bit 3, moved to the sign, picks the half of the table.
    uint64_t bytes;
    __builtin_memcpy(&bytes, p, 8);
    __m256i q = _mm256_set1_epi64x((long long)bytes);
    const __m256i pick0 = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                           2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i pick1 = _mm256_setr_epi8(4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5,
                                           6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7);
    const __m256i shifts = _mm256_setr_epi32(4, 0, 4, 0, 4, 0, 4, 0);
    __m256i i0 = _mm256_srlv_epi32(_mm256_shuffle_epi8(q, pick0), shifts);
    __m256i i1 = _mm256_srlv_epi32(_mm256_shuffle_epi8(q, pick1), shifts);
    __m256 l = (__m256)lo, h = (__m256)hi;
    *w0 = (f8)_mm256_blendv_ps(_mm256_permutevar8x32_ps(l, i0), _mm256_permutevar8x32_ps(h, i0),
                               _mm256_castsi256_ps(_mm256_slli_epi32(i0, 28)));
    *w1 = (f8)_mm256_blendv_ps(_mm256_permutevar8x32_ps(l, i1), _mm256_permutevar8x32_ps(h, i1),
                               _mm256_castsi256_ps(_mm256_slli_epi32(i1, 28)));
#else
    float t[16];
    st(t, lo);
    st(t + 8, hi);
    f8 a, b;
    for (int i = 0; i < 4; i++) {
        a[2 * i] = t[p[i] >> 4]; a[2 * i + 1] = t[p[i] & 15];
        b[2 * i] = t[p[4 + i] >> 4]; b[2 * i + 1] = t[p[4 + i] & 15];
    }
    *w0 = a; *w1 = b;
#endif
}

// y[i·ldy + j] = dot(x_i, w_j) for n rows of bitsandbytes 4-bit codes (k a multiple of 16, the
// rows starting at element `first_element` of the matrix, codes at its byte): each weight is
// table[code] × its block's scale (lk_4bit_scale, blocks of 2^block_shift), the value
// bnb's dequantize_4bit gives, made in registers and never stored. Every pair's sum is k_dot's
// on the dequantized row, operation for operation, so the product is the widened matrix's,
// bit for bit, and a row's result does not depend on the others.
static void k_rows_dot_4bit(const float *table, const float *x, ptrdiff_t m, ptrdiff_t ldx, const uint8_t *codes,
                            ptrdiff_t n, ptrdiff_t k, const lk_4bit_scales *scales, ptrdiff_t first_element,
                            int block_shift, float *y, ptrdiff_t ldy) {
    const f8 tlo = ld(table), thi = ld(table + 8);
    for (ptrdiff_t j = 0; j < n; j++) {
        const ptrdiff_t e0 = first_element + j * k;
        const uint8_t *row = codes + j * (k / 2);
        for (ptrdiff_t i0 = 0; i0 < m; i0 += 4) {
            int rows = (int)(m - i0 < 4 ? m - i0 : 4);
            f8 acc0[4] = {splat(0.0f), splat(0.0f), splat(0.0f), splat(0.0f)}, acc1[4] = {splat(0.0f), splat(0.0f), splat(0.0f), splat(0.0f)};
            for (ptrdiff_t c = 0; c < k;) {
                const ptrdiff_t b = (e0 + c) >> block_shift;
                ptrdiff_t end = ((b + 1) << block_shift) - e0;
                if (end > k) end = k;
                const f8 s = splat(lk_4bit_scale(scales, b)), lo = tlo * s, hi = thi * s;
                for (; c < end; c += 16) {
                    f8 w0, w1;
                    fourbit_16(row + c / 2, lo, hi, &w0, &w1);
                    for (int r = 0; r < rows; r++) {
                        const float *xr = x + (i0 + r) * ldx + c;
                        acc0[r] = fmadd(ld(xr), w0, acc0[r]);
                        acc1[r] = fmadd(ld(xr + 8), w1, acc1[r]);
                    }
                }
            }
            for (int r = 0; r < rows; r++) y[(i0 + r) * ldy + j] = hsum(acc0[r] + acc1[r]);
        }
    }
}

/// Q2_K: scales[16] (4-bit scale, 4-bit min), qs[64] (2-bit), d, dmin (f16).
static void k_q2_k(const void *src, ptrdiff_t blocks, float *dst) {
    for (ptrdiff_t b = 0; b < blocks; b++) {
        const uint8_t *p = (const uint8_t *)src + b * 84;
        const uint8_t *sc = p, *qs = p + 16;
        float d = half_at(p, 80), dmin = half_at(p, 82);
        float *y = dst + b * 256;
        for (int n = 0; n < 2; n++) {
            for (int j = 0; j < 4; j++) {
                int shift = 2 * j;
                for (int half = 0; half < 2; half++) {
                    uint8_t s = sc[8 * n + 2 * j + half];
                    float dl = d * (float)(s & 0x0F), ml = dmin * (float)(s >> 4);
                    const uint8_t *q = qs + 32 * n + 16 * half;
                    float *out = y + 128 * n + 32 * j + 16 * half;
                    for (int l = 0; l < 16; l++) out[l] = dl * (float)((q[l] >> shift) & 3) - ml;
                }
            }
        }
    }
}

/// Q3_K: hmask[32], qs[64] (2-bit), scales[12] (16 × 6-bit, offset 32), d (f16). A clear
/// hmask bit subtracts 4 from the 2-bit value.
static void k_q3_k(const void *src, ptrdiff_t blocks, float *dst) {
    float scales[16];
    for (ptrdiff_t b = 0; b < blocks; b++) {
        const uint8_t *p = (const uint8_t *)src + b * 110;
        const uint8_t *hm = p, *qs = p + 32, *s = p + 96;
        float d = half_at(p, 108);
        for (int i = 0; i < 16; i++) {
            uint8_t low = i < 8 ? (s[i] & 0x0F) : (s[i - 8] >> 4);
            uint8_t high = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
            scales[i] = d * (float)((int)(low | high << 4) - 32);
        }
        float *y = dst + b * 256;
        for (int n = 0; n < 2; n++) {
            for (int j = 0; j < 4; j++) {
                int shift = 2 * j, bit = 4 * n + j;
                for (int half = 0; half < 2; half++) {
                    float dl = scales[8 * n + 2 * j + half];
                    float *out = y + 128 * n + 32 * j + 16 * half;
                    for (int l0 = 0; l0 < 16; l0++) {
                        int l = 16 * half + l0;
                        int32_t q2 = (qs[32 * n + l] >> shift) & 3;
                        int32_t h = (hm[l] >> bit) & 1;
                        out[l0] = dl * (float)(q2 - 4 + 4 * h);
                    }
                }
            }
        }
    }
}

/// The 6-bit scale and min of sub-block j (0..<8) packed into 12 bytes (Q4_K, Q5_K).
LK_INLINE void scale_min_k4(int j, const uint8_t *q, float *sc, float *m) {
    if (j < 4) {
        *sc = (float)(q[j] & 63);
        *m = (float)(q[j + 4] & 63);
    } else {
        *sc = (float)((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4));
        *m = (float)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/// Q4_K: d, dmin (f16), scales[12], qs[128]; each 32 bytes hold 64 elements, low nibbles first.
static void k_q4_k(const void *src, ptrdiff_t blocks, float *dst) {
    for (ptrdiff_t b = 0; b < blocks; b++) {
        const uint8_t *p = (const uint8_t *)src + b * 144;
        float d = half_at(p, 0), dmin = half_at(p, 2);
        const uint8_t *sc = p + 4, *qs = sc + 12;
        float *y = dst + b * 256;
        for (int g = 0; g < 4; g++) {
            float s1, m1, s2, m2;
            scale_min_k4(2 * g, sc, &s1, &m1);
            scale_min_k4(2 * g + 1, sc, &s2, &m2);
            float d1 = d * s1, n1 = dmin * m1, d2 = d * s2, n2 = dmin * m2;
            const uint8_t *q = qs + 32 * g;
            float *out = y + 64 * g;
            for (int l = 0; l < 32; l++) {
                out[l] = d1 * (float)(q[l] & 0x0F) - n1;
                out[l + 32] = d2 * (float)(q[l] >> 4) - n2;
            }
        }
    }
}

/// Q5_K: as Q4_K plus qh[32]: bit 2g of qh[l] is the fifth bit of element 64g + l, bit 2g+1
/// that of element 64g + 32 + l.
static void k_q5_k(const void *src, ptrdiff_t blocks, float *dst) {
    for (ptrdiff_t b = 0; b < blocks; b++) {
        const uint8_t *p = (const uint8_t *)src + b * 176;
        float d = half_at(p, 0), dmin = half_at(p, 2);
        const uint8_t *sc = p + 4, *qh = sc + 12, *qs = qh + 32;
        float *y = dst + b * 256;
        for (int g = 0; g < 4; g++) {
            float s1, m1, s2, m2;
            scale_min_k4(2 * g, sc, &s1, &m1);
            scale_min_k4(2 * g + 1, sc, &s2, &m2);
            float d1 = d * s1, n1 = dmin * m1, d2 = d * s2, n2 = dmin * m2;
            const uint8_t *q = qs + 32 * g;
            float *out = y + 64 * g;
            int b1 = 2 * g, b2 = 2 * g + 1;
            for (int l = 0; l < 32; l++) {
                uint8_t h1 = (uint8_t)(((qh[l] >> b1) & 1) << 4), h2 = (uint8_t)(((qh[l] >> b2) & 1) << 4);
                out[l] = d1 * (float)((q[l] & 0x0F) | h1) - n1;
                out[l + 32] = d2 * (float)((q[l] >> 4) | h2) - n2;
            }
        }
    }
}

/// Q6_K: ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] (int8), d (f16).
static void k_q6_k(const void *src, ptrdiff_t blocks, float *dst) {
    for (ptrdiff_t b = 0; b < blocks; b++) {
        const uint8_t *p = (const uint8_t *)src + b * 210;
        float d = half_at(p, 208);
        float *y = dst + b * 256;
        for (int n = 0; n < 2; n++) {
            const uint8_t *ql = p + 64 * n, *qh = p + 128 + 32 * n;
            const int8_t *sc = (const int8_t *)(p + 192) + 8 * n;
            float *out = y + 128 * n;
            for (int half = 0; half < 2; half++) {
                float d0 = d * (float)sc[half], d1 = d * (float)sc[half + 2];
                float d2 = d * (float)sc[half + 4], d3 = d * (float)sc[half + 6];
                for (int l0 = 0; l0 < 16; l0++) {
                    int l = 16 * half + l0;
                    uint8_t h = qh[l];
                    int32_t q1 = (int32_t)((ql[l] & 0x0F) | ((h & 3) << 4)) - 32;
                    int32_t q2 = (int32_t)((ql[l + 32] & 0x0F) | (((h >> 2) & 3) << 4)) - 32;
                    int32_t q3 = (int32_t)((ql[l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
                    int32_t q4 = (int32_t)((ql[l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
                    out[l] = d0 * (float)q1;
                    out[l + 32] = d1 * (float)q2;
                    out[l + 64] = d2 * (float)q3;
                    out[l + 96] = d3 * (float)q4;
                }
            }
        }
    }
}

/// Q8_K: d (f32), qs[256] (int8), bsums[16] (unused for dequantization).
static void k_q8_k(const void *src, ptrdiff_t blocks, float *dst) {
    for (ptrdiff_t b = 0; b < blocks; b++) {
        const uint8_t *p = (const uint8_t *)src + b * 292;
        float d;
        __builtin_memcpy(&d, p, 4);
        const int8_t *q = (const int8_t *)(p + 4);
        float *y = dst + b * 256;
        for (int j = 0; j < 256; j++) y[j] = (float)q[j] * d;
    }
}

/// scores[j] = scale · k_dot(q, k + j·stride, hd) for j < n: one query against n key rows.
static void k_dots_strided(const float *q, const float *k, ptrdiff_t n, ptrdiff_t hd, ptrdiff_t stride, float scale, float *scores) {
    for (ptrdiff_t j = 0; j < n; j++) scores[j] = scale * k_dot(q, k + j * stride, hd);
}

/// out[d] = Σ_j p[j] · v[j·stride + d] for d < hd, each key added in order as k_axpy adds it
/// (one multiply-add per lane; the scalar tail multiplies, then adds); 64 outputs at a time
/// stay in registers while the rows stream by.
static void k_weighted_rows(const float *p, const float *v, ptrdiff_t n, ptrdiff_t hd, ptrdiff_t stride, float *out) {
    ptrdiff_t d0 = 0;
    for (; d0 + 64 <= hd; d0 += 64) {
        f8 acc[8];
        for (int i = 0; i < 8; i++) acc[i] = splat(0.0f);
        for (ptrdiff_t j = 0; j < n; j++) {
            f8 pj = splat(p[j]);
            const float *row = v + j * stride + d0;
            for (int i = 0; i < 8; i++) acc[i] = fmadd(ld(row + 8 * i), pj, acc[i]);
        }
        for (int i = 0; i < 8; i++) st(out + d0 + 8 * i, acc[i]);
    }
    for (; d0 + 8 <= hd; d0 += 8) {
        f8 acc = splat(0.0f);
        for (ptrdiff_t j = 0; j < n; j++) acc = fmadd(ld(v + j * stride + d0), splat(p[j]), acc);
        st(out + d0, acc);
    }
    LK_TAIL for (; d0 < hd; d0++) {
        float s = 0;
        for (ptrdiff_t j = 0; j < n; j++) s += p[j] * v[j * stride + d0];
        out[d0] = s;
    }
}

#include "IntegerDotBodies.h"

#ifdef LK_TABLE_NAME
const lk_kernel_table LK_TABLE_NAME = {
    .exp = k_exp,
    .softmax_row = k_softmax_row,
    .cross_entropy_row = k_cross_entropy_row,
    .softmax_backward_row = k_softmax_backward_row,
    .silu = k_silu,
    .silu_backward = k_silu_backward,
    .swiglu = k_swiglu,
    .swiglu_backward = k_swiglu_backward,
    .geglu = k_geglu,
    .geglu_backward = k_geglu_backward,
    .dot = k_dot,
    .rows_dot_t = k_rows_dot_t,
    .rows_dot_ggml = k_rows_dot_ggml,
    .rows_dot_4bit = k_rows_dot_4bit,
    .rows_dot_half = k_rows_dot_half,
    .dots_strided = k_dots_strided,
    .weighted_rows = k_weighted_rows,
    .quantize_q8x = k_quantize_q8x,
    .rows_dot_q8x = k_rows_dot_q8x,
    .rmsnorm_rows = k_rmsnorm_rows,
    .rmsnorm_backward_rows = k_rmsnorm_backward_rows,
    .add = k_add,
    .mul = k_mul,
    .scale = k_scale,
    .axpy = k_axpy,
    .adamw = k_adamw,
    .rope = k_rope,
    .f16_to_f32 = k_f16_to_f32,
    .bf16_to_f32 = k_bf16_to_f32,
    .f32_to_f16 = k_f32_to_f16,
    .f32_to_bf16 = k_f32_to_bf16,
    .q4_0 = k_q4_0, .q4_1 = k_q4_1, .q5_0 = k_q5_0, .q5_1 = k_q5_1, .q8_0 = k_q8_0,
    .q2_k = k_q2_k, .q3_k = k_q3_k, .q4_k = k_q4_k, .q5_k = k_q5_k, .q6_k = k_q6_k, .q8_k = k_q8_k,
};
#endif
