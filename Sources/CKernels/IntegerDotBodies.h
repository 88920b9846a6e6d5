// Products of GGML-encoded weight rows with activations rounded to 8 bits, the way
// llama.cpp decodes: each row of x is quantized once into 32-value blocks (lk_q8x_block),
// and every 32 weights times 32 activations is an exact integer sum, scaled once in float.
// Included by KernelBodies.h (after its helpers); LK_INT8_DOT selects the AVX2 integer
// instructions (LK_INT8_VNNI as well: AVX512_VNNI's vpdpbusd on 256-bit registers in place of
// vpmaddubsw + vpmaddwd), else plain C computes the same integers.
//
// The arithmetic, identical in both variants (only the fused multiply-add differs, as
// everywhere in these kernels): for every 32-weight group g of a row, eight int32 lanes
// hold the exact sums s_l = Σ w_q·x_q over elements 4l..4l+3, where w_q is the group's
// integer code (signed: Q4_0 q−8, Q5_0 q−16, Q8_0 q, Q6_K (q−32)·its 16-element scale;
// unsigned: Q4_1, Q5_1, Q4_K, Q5_K q). Then acc_l = fma(scale_g · d_x, s_l, acc_l) over the
// groups in order, and for the formats with an offset (Q4_1, Q5_1: +m; Q4_K, Q5_K: −dmin·m_j)
// one scalar sum mins = fma(offset_g, s_x, mins), s_x = d_x·Σx_q. The result is
// hsum(acc) + mins. A row's result does not depend on the other rows (batch-invariant).

#if LK_INT8_DOT
/// 32 nibbles (16 bytes): the low nibbles (elements 0..<16) in the low half, the high ones
/// (16..<32) in the high half, as bytes 0..15.
LK_INLINE __m256i q8x_nibbles(const uint8_t *q) {
    __m128i t = _mm_loadu_si128((const __m128i *)q);
    __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(t), _mm_srli_epi16(t, 4), 1);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

/// 0x10 in byte i where bit i of `bits` is set, else 0.
LK_INLINE __m256i q8x_fifth_bits(uint32_t bits) {
    const __m256i which = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                           2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i mask = _mm256_set1_epi64x(0x8040201008040201LL);
    __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int32_t)bits), which);
    __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, mask), mask);
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

typedef __m256i q8x_codes;

/// Four unsigned bytes of u times four signed bytes of x, summed into each of eight int32
/// lanes. vpmaddubsw's 16-bit pair sums cannot saturate here (unsigned codes are at most 63,
/// |w| at most 128 and |x| at most 127: below 2^15), so vpdpbusd, which does not saturate,
/// gives the same integers.
LK_INLINE __m256i q8x_dot4(__m256i u, __m256i x) {
#if LK_INT8_VNNI
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, x);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, x), _mm256_set1_epi16(1));
#endif
}

/// The eight lane sums of unsigned codes (at most 63) times signed activations.
LK_INLINE i8v q8x_lanes_unsigned(q8x_codes u, const int8_t *xq) {
    return (i8v)q8x_dot4(u, _mm256_loadu_si256((const __m256i *)xq));
}

/// The eight lane sums of signed codes (−128…127) times signed activations (|x| ≤ 127):
/// |w| times x with w's sign, an unsigned-by-signed product.
LK_INLINE i8v q8x_lanes_signed(q8x_codes w, const int8_t *xq) {
    __m256i x = _mm256_loadu_si256((const __m256i *)xq);
    return (i8v)q8x_dot4(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
}

LK_INLINE q8x_codes q8x_sub(q8x_codes v, int8_t c) { return _mm256_sub_epi8(v, _mm256_set1_epi8(c)); }
LK_INLINE q8x_codes q8x_or(q8x_codes a, q8x_codes b) { return _mm256_or_si256(a, b); }
LK_INLINE q8x_codes q8x_load(const uint8_t *p) { return _mm256_loadu_si256((const __m256i *)p); }
/// The low (shift 0) or high (shift 4) nibbles of 32 bytes.
LK_INLINE q8x_codes q8x_nibble_of(q8x_codes v, int shift) {
    return _mm256_and_si256(_mm256_srli_epi16(v, shift), _mm256_set1_epi8(0x0F));
}
/// ((v >> shift) & mask) << 4 in every byte (mask ≤ 3, so no bit crosses a byte).
LK_INLINE q8x_codes q8x_high_bits(q8x_codes v, int shift, int8_t mask) {
    return _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(v, shift), _mm256_set1_epi8(mask)), 4);
}
#else
typedef struct { int8_t v[32]; } q8x_codes;

LK_INLINE i8v q8x_lanes_signed(q8x_codes w, const int8_t *xq) {
    i8v r;
    for (int l = 0; l < 8; l++) {
        int32_t s = 0;
        for (int e = 4 * l; e < 4 * l + 4; e++) s += (int32_t)w.v[e] * (int32_t)xq[e];
        r[l] = s;
    }
    return r;
}
LK_INLINE i8v q8x_lanes_unsigned(q8x_codes u, const int8_t *xq) { return q8x_lanes_signed(u, xq); }

LK_INLINE q8x_codes q8x_nibbles(const uint8_t *q) {
    q8x_codes r;
    for (int j = 0; j < 16; j++) {
        r.v[j] = (int8_t)(q[j] & 0x0F);
        r.v[j + 16] = (int8_t)(q[j] >> 4);
    }
    return r;
}
LK_INLINE q8x_codes q8x_fifth_bits(uint32_t bits) {
    q8x_codes r;
    for (int j = 0; j < 32; j++) r.v[j] = (int8_t)(((bits >> j) & 1) << 4);
    return r;
}
LK_INLINE q8x_codes q8x_sub(q8x_codes v, int8_t c) {
    for (int j = 0; j < 32; j++) v.v[j] = (int8_t)(v.v[j] - c);
    return v;
}
LK_INLINE q8x_codes q8x_or(q8x_codes a, q8x_codes b) {
    for (int j = 0; j < 32; j++) a.v[j] = (int8_t)(a.v[j] | b.v[j]);
    return a;
}
LK_INLINE q8x_codes q8x_load(const uint8_t *p) {
    q8x_codes r;
    __builtin_memcpy(r.v, p, 32);
    return r;
}
LK_INLINE q8x_codes q8x_nibble_of(q8x_codes v, int shift) {
    for (int j = 0; j < 32; j++) v.v[j] = (int8_t)(((uint8_t)v.v[j] >> shift) & 0x0F);
    return v;
}
LK_INLINE q8x_codes q8x_high_bits(q8x_codes v, int shift, int8_t mask) {
    for (int j = 0; j < 32; j++) v.v[j] = (int8_t)((((uint8_t)v.v[j] >> shift) & mask) << 4);
    return v;
}
#endif

/// a * b + c for one float, fused where the variant has FMA (as `fmadd` is).
LK_INLINE float fmadd1(float a, float b, float c) {
#if LK_FMA_NATIVE
    return __builtin_fmaf(a, b, c);
#else
    return a * b + c;
#endif
}

/// Quantizes x[0..<k] (k a multiple of 32) into k/32 activation blocks at dst: per block
/// d = max|x| / 127, q = x · (1/d) rounded to nearest even (0 when d is 0), s = d · Σq.
static void k_quantize_q8x(const float *x, ptrdiff_t k, void *dst) {
    lk_q8x_block *out = (lk_q8x_block *)dst;
    for (ptrdiff_t b = 0; b < k / 32; b++) {
        const float *xb = x + 32 * b;
        f8 a = splat(0.0f);
        for (int i = 0; i < 4; i++) {
            f8 v = ld(xb + 8 * i);
            a = vmax(a, sel(v < splat(0.0f), -v, v));
        }
        float amax = hmax(a);
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        int32_t sum = 0;
        for (int i = 0; i < 32; i++) {
            int32_t q = (int32_t)__builtin_rintf(xb[i] * id);
            out[b].q[i] = (int8_t)q;
            sum += q;
        }
        out[b].d = d;
        out[b].s = d * (float)sum;
    }
}

// One 32-weight group of a row: its codes, the scale of its codes, the offset (0 when the
// format has none) and, for Q6_K, the integer scale of each lane.
typedef struct {
    q8x_codes codes;
    float scale, offset;
    i8v lane_scale;
} q8x_group;

LK_INLINE q8x_group q8x_group_q4_0(const uint8_t *row, ptrdiff_t g) {
    const uint8_t *p = row + 18 * g;
    return (q8x_group){.codes = q8x_sub(q8x_nibbles(p + 2), 8), .scale = half_at(p, 0)};
}
LK_INLINE q8x_group q8x_group_q4_1(const uint8_t *row, ptrdiff_t g) {
    const uint8_t *p = row + 20 * g;
    return (q8x_group){.codes = q8x_nibbles(p + 4), .scale = half_at(p, 0), .offset = half_at(p, 2)};
}
LK_INLINE q8x_group q8x_group_q5_0(const uint8_t *row, ptrdiff_t g) {
    const uint8_t *p = row + 22 * g;
    uint32_t qh;
    __builtin_memcpy(&qh, p + 2, 4);
    return (q8x_group){.codes = q8x_sub(q8x_or(q8x_nibbles(p + 6), q8x_fifth_bits(qh)), 16), .scale = half_at(p, 0)};
}
LK_INLINE q8x_group q8x_group_q5_1(const uint8_t *row, ptrdiff_t g) {
    const uint8_t *p = row + 24 * g;
    uint32_t qh;
    __builtin_memcpy(&qh, p + 4, 4);
    return (q8x_group){.codes = q8x_or(q8x_nibbles(p + 8), q8x_fifth_bits(qh)), .scale = half_at(p, 0), .offset = half_at(p, 2)};
}
LK_INLINE q8x_group q8x_group_q8_0(const uint8_t *row, ptrdiff_t g) {
    const uint8_t *p = row + 34 * g;
    return (q8x_group){.codes = q8x_load(p + 2), .scale = half_at(p, 0)};
}
/// Group j (0..<8) of the Q4_K or Q5_K block at p (d, dmin, then the 6-bit scales and mins
/// at p + 4): its codes, scale d·sc_j and offset −dmin·m_j.
LK_INLINE q8x_group q8x_group_k(const uint8_t *p, int j, q8x_codes codes) {
    float s, m;
    scale_min_k4(j, p + 4, &s, &m);
    return (q8x_group){.codes = codes, .scale = half_at(p, 0) * s, .offset = -(half_at(p, 2) * m)};
}
/// Q4_K group g (0..<8 per 256): element l is nibble (g odd: high) of qs[32·(g/2) + l].
LK_INLINE q8x_group q8x_group_q4_k(const uint8_t *row, ptrdiff_t g) {
    const uint8_t *p = row + 144 * (g / 8);
    int j = (int)(g % 8);
    return q8x_group_k(p, j, q8x_nibble_of(q8x_load(p + 16 + 32 * (j / 2)), 4 * (j & 1)));
}
/// Q5_K group g: as Q4_K, plus bit j of qh[l] as the fifth bit.
LK_INLINE q8x_group q8x_group_q5_k(const uint8_t *row, ptrdiff_t g) {
    const uint8_t *p = row + 176 * (g / 8);
    int j = (int)(g % 8);
    q8x_codes low = q8x_nibble_of(q8x_load(p + 48 + 32 * (j / 2)), 4 * (j & 1));
    return q8x_group_k(p, j, q8x_or(low, q8x_high_bits(q8x_load(p + 16), j, 1)));
}
/// Q6_K group g = 4·n + t (n: 128-element half, t: quarter): low 4 bits from
/// ql[64n + 32(t odd) + l] (t ≥ 2: high nibble), high 2 bits from qh[32n + l] >> 2t; the
/// first 16 elements scale by scales[8n + 2t], the others by scales[8n + 2t + 1].
LK_INLINE q8x_group q8x_group_q6_k(const uint8_t *row, ptrdiff_t g) {
    const uint8_t *p = row + 210 * (g / 8);
    int n = (int)(g % 8) / 4, t = (int)(g % 4);
    q8x_codes low = q8x_nibble_of(q8x_load(p + 64 * n + 32 * (t & 1)), 4 * (t >> 1));
    q8x_codes codes = q8x_sub(q8x_or(low, q8x_high_bits(q8x_load(p + 128 + 32 * n), 2 * t, 3)), 32);
    const int8_t *sc = (const int8_t *)(p + 192) + 8 * n + 2 * t;
    int32_t a = sc[0], b = sc[1];
    return (q8x_group){.codes = codes, .scale = half_at(p, 208), .lane_scale = (i8v){a, a, a, a, b, b, b, b}};
}

// One kernel per format: `decode` reads group g of a row, `is_signed` picks the product,
// `has_offset` adds the mins term, `has_lane_scale` multiplies the lanes (Q6_K). The tile
// computes J weight rows times R activation rows; it is always inlined with constant J and
// R, so its accumulators stay in registers (a row's sums keep their order whatever the tile).
#define LK_Q8X_ROWS(name, decode, block_bytes, block_groups, is_signed, has_offset, has_lane_scale)                     \
    LK_INLINE void name##_tile(const uint8_t *row, ptrdiff_t row_bytes, int J, const uint8_t *xq, ptrdiff_t ldxq, int R, \
                               ptrdiff_t groups, float *y, ptrdiff_t ldy, const uint8_t *next, ptrdiff_t next_lines) {  \
        f8 acc[4][4];                                                                                                   \
        float mins[4][4];                                                                                               \
        for (int j = 0; j < J; j++)                                                                                     \
            for (int r = 0; r < R; r++) { acc[j][r] = splat(0.0f); mins[j][r] = 0.0f; }                                \
        const ptrdiff_t per_group = (next_lines + groups - 1) / groups;                                                 \
        for (ptrdiff_t g = 0; g < groups; g++) {                                                                        \
            /* Rows are short (a few hundred bytes): fetch the next tile's lines while this one computes. */           \
            for (ptrdiff_t l = g * per_group; l < (g + 1) * per_group && l < next_lines; l++)                           \
                __builtin_prefetch(next + 64 * l);                                                                      \
            for (int j = 0; j < J; j++) {                                                                               \
                q8x_group w = decode(row + j * row_bytes, g);                                                           \
                for (int r = 0; r < R; r++) {                                                                           \
                    const lk_q8x_block *xb = (const lk_q8x_block *)(xq + r * ldxq) + g;                                 \
                    i8v s = is_signed ? q8x_lanes_signed(w.codes, xb->q) : q8x_lanes_unsigned(w.codes, xb->q);          \
                    if (has_lane_scale) s = s * w.lane_scale;                                                           \
                    acc[j][r] = fmadd(splat(w.scale * xb->d), __builtin_convertvector(s, f8), acc[j][r]);              \
                    if (has_offset) mins[j][r] = fmadd1(w.offset, xb->s, mins[j][r]);                                   \
                }                                                                                                       \
            }                                                                                                           \
        }                                                                                                               \
        for (int j = 0; j < J; j++)                                                                                     \
            for (int r = 0; r < R; r++) y[r * ldy + j] = hsum(acc[j][r]) + mins[j][r];                                  \
    }                                                                                                                   \
    static void name(const void *xq, ptrdiff_t m, ptrdiff_t ldxq, const void *src, ptrdiff_t n, ptrdiff_t groups,       \
                     float *y, ptrdiff_t ldy) {                                                                         \
        const ptrdiff_t row_bytes = groups / (block_groups) * (block_bytes);                                            \
        const uint8_t *w = (const uint8_t *)src, *x = (const uint8_t *)xq;                                              \
        ptrdiff_t j = 0;                                                                                                \
        if (m == 1) {                                                                                                   \
            /* Decoding: four weight rows at once, four independent sums in flight. */                                  \
            for (; j + 4 <= n; j += 4)                                                                                  \
                name##_tile(w + j * row_bytes, row_bytes, 4, x, ldxq, 1, groups, y + j, ldy,                            \
                            w + (j + 4) * row_bytes, j + 8 <= n ? (4 * row_bytes + 63) / 64 : 0);                       \
        }                                                                                                               \
        for (; j < n; j++) {                                                                                            \
            for (ptrdiff_t i = 0; i < m; i += 4) {                                                                      \
                const uint8_t *xi = x + i * ldxq;                                                                       \
                float *yi = y + i * ldy + j;                                                                            \
                switch (m - i < 4 ? m - i : 4) {                                                                        \
                case 1: name##_tile(w + j * row_bytes, row_bytes, 1, xi, ldxq, 1, groups, yi, ldy, w, 0); break;              \
                case 2: name##_tile(w + j * row_bytes, row_bytes, 1, xi, ldxq, 2, groups, yi, ldy, w, 0); break;              \
                case 3: name##_tile(w + j * row_bytes, row_bytes, 1, xi, ldxq, 3, groups, yi, ldy, w, 0); break;              \
                default: name##_tile(w + j * row_bytes, row_bytes, 1, xi, ldxq, 4, groups, yi, ldy, w, 0); break;             \
                }                                                                                                       \
            }                                                                                                           \
        }                                                                                                               \
    }

// A block's bytes and its 32-weight groups (K formats: 256 weights, 8 groups).
LK_Q8X_ROWS(k_q8x_q4_0, q8x_group_q4_0, 18, 1, 1, 0, 0)
LK_Q8X_ROWS(k_q8x_q4_1, q8x_group_q4_1, 20, 1, 0, 1, 0)
LK_Q8X_ROWS(k_q8x_q5_0, q8x_group_q5_0, 22, 1, 1, 0, 0)
LK_Q8X_ROWS(k_q8x_q5_1, q8x_group_q5_1, 24, 1, 0, 1, 0)
LK_Q8X_ROWS(k_q8x_q8_0, q8x_group_q8_0, 34, 1, 1, 0, 0)
LK_Q8X_ROWS(k_q8x_q4_k, q8x_group_q4_k, 144, 8, 0, 1, 0)
LK_Q8X_ROWS(k_q8x_q5_k, q8x_group_q5_k, 176, 8, 0, 1, 0)
LK_Q8X_ROWS(k_q8x_q6_k, q8x_group_q6_k, 210, 8, 1, 0, 1)

static void k_rows_dot_q8x(int type, const void *xq, ptrdiff_t m, ptrdiff_t ldxq, const void *src, ptrdiff_t n, ptrdiff_t k,
                           float *y, ptrdiff_t ldy) {
    ptrdiff_t groups = k / 32;
    switch (type) {
    case LK_ROWS_Q4_0: k_q8x_q4_0(xq, m, ldxq, src, n, groups, y, ldy); break;
    case LK_ROWS_Q4_1: k_q8x_q4_1(xq, m, ldxq, src, n, groups, y, ldy); break;
    case LK_ROWS_Q5_0: k_q8x_q5_0(xq, m, ldxq, src, n, groups, y, ldy); break;
    case LK_ROWS_Q5_1: k_q8x_q5_1(xq, m, ldxq, src, n, groups, y, ldy); break;
    case LK_ROWS_Q8_0: k_q8x_q8_0(xq, m, ldxq, src, n, groups, y, ldy); break;
    case LK_ROWS_Q4_K: k_q8x_q4_k(xq, m, ldxq, src, n, groups, y, ldy); break;
    case LK_ROWS_Q5_K: k_q8x_q5_k(xq, m, ldxq, src, n, groups, y, ldy); break;
    case LK_ROWS_Q6_K: k_q8x_q6_k(xq, m, ldxq, src, n, groups, y, ldy); break;
    default: break;
    }
}
