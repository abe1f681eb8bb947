#include "ckernels.h"

#include <math.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#if defined(__x86_64__) && defined(__linux__)
#define XK_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define XK_CLONES
#endif

// exp(x) for float, Cephes-style: x = n·ln2 + r, |r| <= ln2/2, degree-6 polynomial; max error ~1 ulp on
// [-87, 88]. Written without branches or libm calls so that loops calling it vectorise.
static inline float xk_exp(float x) {
    x = x < -87.33654f ? -87.33654f : (x > 88.72283f ? 88.72283f : x);
    float n = __builtin_roundevenf(x * 1.44269504088896341f);
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float xk_max(const float *x, int n) {
    float m = -INFINITY;
    for (int i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

XK_CLONES void xk_softmax(float *x, int n) {
#pragma clang fp reassociate(on)  // lets the sum vectorise
    float m = xk_max(x, n);
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        float e = xk_exp(x[i] - m);
        x[i] = e;
        sum += e;
    }
    float inverse = 1.0f / sum;
    for (int i = 0; i < n; i++) x[i] *= inverse;
}

XK_CLONES void xk_log_softmax(float *x, int n) {
#pragma clang fp reassociate(on)  // lets the sum vectorise
    float m = xk_max(x, n);
    float sum = 0.0f;
    for (int i = 0; i < n; i++) sum += xk_exp(x[i] - m);
    float log_sum = logf(sum);
    for (int i = 0; i < n; i++) x[i] = (x[i] - m) - log_sum;
}

XK_CLONES float xk_dot(const float *a, const float *b, int n) {
#pragma clang fp reassociate(on)  // lets the sum vectorise
    float sum = 0.0f;
    for (int i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}

XK_CLONES void xk_axpy(float alpha, const float *x, float *y, int n) {
    for (int i = 0; i < n; i++) y[i] += alpha * x[i];
}

XK_CLONES void xk_silu(float *x, int n) {
    for (int i = 0; i < n; i++) x[i] = x[i] / (1.0f + xk_exp(-x[i]));
}

// Scaled dot-product attention of one query over `count` keys for one head; keys/values rows `stride` apart.
// Leaves the probabilities in `scores`.
XK_CLONES void xk_attend(const float *query, const float *keys, const float *values, int stride, int count,
                         int head_dim, float scaling, float *scores, float *output) {
#pragma clang fp reassociate(on)  // lets the dot products vectorise
    float m = -INFINITY;
    for (int j = 0; j < count; j++) {
        const float *key = keys + (size_t)j * stride;
        float dot = 0.0f;
        for (int d = 0; d < head_dim; d++) dot += query[d] * key[d];
        scores[j] = dot * scaling;
        m = scores[j] > m ? scores[j] : m;
    }
    float sum = 0.0f;
    for (int j = 0; j < count; j++) {
        scores[j] = xk_exp(scores[j] - m);
        sum += scores[j];
    }
    float inverse = 1.0f / sum;
    for (int d = 0; d < head_dim; d++) output[d] = 0.0f;
    for (int j = 0; j < count; j++) {
        float p = scores[j] * inverse;
        scores[j] = p;
        const float *value = values + (size_t)j * stride;
        for (int d = 0; d < head_dim; d++) output[d] += p * value[d];
    }
}

// MARK: GEMM with pre-packed weights
//
// y[m, n] = x[m, k] · wᵀ + bias for a weight w [n, k] (PyTorch's nn.Linear layout) packed once at load into
// panels of 32 output columns: panel p holds, for each k, the 32 weights of columns 32p..32p+31 (zero past n).
// A 12 × 32 register tile accumulates over k in order with one FMA per step, as OpenBLAS's kernels do within a
// K block, so results equal `cblas_sgemm` + bias bit for bit whenever OpenBLAS does not split K (k <= its block).
// Panels are the outer loop: each weight panel is read from memory once per call, the activations stay in cache.

typedef float v16 __attribute__((vector_size(64), aligned(4)));
#define NR 32
#define MR 12

int xk_gemm_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) return 4;
    if (__builtin_cpu_supports("x86-64-v3")) return 3;
#endif
    return 0;
}

size_t xk_packed_size(int n, int k) { return (size_t)((n + NR - 1) / NR) * NR * (size_t)k; }

void xk_pack_weight(const float *w, int n, int k, float *packed) {
    int panels = (n + NR - 1) / NR;
    for (int p = 0; p < panels; p++) {
        float *panel = packed + (size_t)p * k * NR;
        for (int kk = 0; kk < k; kk++)
            for (int j = 0; j < NR; j++) {
                int col = p * NR + j;
                panel[kk * NR + j] = col < n ? w[(size_t)col * k + kk] : 0.0f;
            }
    }
}

// Loads 32 weights of one k row of a panel as floats: two vectors of 16.
static inline __attribute__((always_inline)) void load_f32(const void *panel, int kk, v16 *w0, v16 *w1) {
    const float *p = (const float *)panel + (size_t)kk * NR;
    *w0 = *(const v16 *)p;
    *w1 = *(const v16 *)(p + 16);
}

typedef _Float16 h16 __attribute__((vector_size(32), aligned(2)));

// The same from half-precision storage (exact: every half is a float).
static inline __attribute__((always_inline)) void load_f16(const void *panel, int kk, v16 *w0, v16 *w1) {
    const _Float16 *p = (const _Float16 *)panel + (size_t)kk * NR;
    *w0 = __builtin_convertvector(*(const h16 *)p, v16);
    *w1 = __builtin_convertvector(*(const h16 *)(p + 16), v16);
}

static inline __attribute__((always_inline)) void tile(const float *x, int k, const void *panel, int half, int rows,
                                                      const float *bias, float *y, int ldy, int cols) {
    v16 a0[MR], a1[MR];
#pragma clang loop unroll(full)
    for (int i = 0; i < rows; i++) { a0[i] = (v16){0}; a1[i] = (v16){0}; }
    for (int kk = 0; kk < k; kk++) {
        v16 w0, w1;
        if (half) load_f16(panel, kk, &w0, &w1); else load_f32(panel, kk, &w0, &w1);
#pragma clang loop unroll(full)
        for (int i = 0; i < rows; i++) {
            float xv = x[(size_t)i * k + kk];
            a0[i] = a0[i] + w0 * xv;
            a1[i] = a1[i] + w1 * xv;
        }
    }
    v16 b0 = {0}, b1 = {0};
    if (bias) { memcpy(&b0, bias, 16 * sizeof(float)); memcpy(&b1, bias + 16, 16 * sizeof(float)); }
#pragma clang loop unroll(full)
    for (int i = 0; i < rows; i++) {
        v16 r0 = a0[i] + b0, r1 = a1[i] + b1;
        if (cols == NR) {
            *(v16 *)(y + (size_t)i * ldy) = r0;
            *(v16 *)(y + (size_t)i * ldy + 16) = r1;
        } else {
            float t[NR];
            memcpy(t, &r0, 64); memcpy(t + 16, &r1, 64);
            memcpy(y + (size_t)i * ldy, t, cols * sizeof(float));
        }
    }
}

#define TILE(R) \
    case R: tile(xb, k, panel, HALF, R, bp, yb, n, cols); break;

#define GEMM_BODY                                                                                                  \
    int panels = (n + NR - 1) / NR;                                                                                \
    for (int p = 0; p < panels; p++) {                                                                             \
        const char *panel = (const char *)packed + (size_t)p * k * NR * ELEMENT;                                   \
        int cols = n - p * NR < NR ? n - p * NR : NR;                                                              \
        float bpad[NR];                                                                                            \
        const float *bp = 0;                                                                                       \
        if (bias) { memset(bpad, 0, sizeof bpad); memcpy(bpad, bias + p * NR, cols * sizeof(float)); bp = bpad; }  \
        for (int m0 = 0; m0 < m; m0 += MR) {                                                                       \
            int rows = m - m0 < MR ? m - m0 : MR;                                                                  \
            const float *xb = x + (size_t)m0 * k;                                                                  \
            float *yb = y + (size_t)m0 * n + p * NR;                                                               \
            switch (rows) { TILE(12) TILE(11) TILE(10) TILE(9) TILE(8) TILE(7) TILE(6) TILE(5) TILE(4) TILE(3)     \
                            TILE(2) TILE(1) }                                                                      \
        }                                                                                                          \
    }

XK_CLONES void xk_gemm_packed(const float *x, int m, int k, const float *packed, const float *bias, int n, float *y) {
#define HALF 0
#define ELEMENT 4
    GEMM_BODY
#undef HALF
#undef ELEMENT
}

XK_CLONES void xk_gemm_packed_f16(const float *x, int m, int k, const uint16_t *packed, const float *bias, int n, float *y) {
#define HALF 1
#define ELEMENT 2
    GEMM_BODY
#undef HALF
#undef ELEMENT
}

int xk_pack_weight_f16(const float *w, int n, int k, uint16_t *packed) {
    int panels = (n + NR - 1) / NR;
    _Float16 *out = (_Float16 *)packed;
    for (int p = 0; p < panels; p++) {
        _Float16 *panel = out + (size_t)p * k * NR;
        for (int kk = 0; kk < k; kk++)
            for (int j = 0; j < NR; j++) {
                int col = p * NR + j;
                float value = col < n ? w[(size_t)col * k + kk] : 0.0f;
                _Float16 half = (_Float16)value;
                if ((float)half != value) return 0;
                panel[kk * NR + j] = half;
            }
    }
    return 1;
}

// MARK: Conversions for loading checkpoints

XK_CLONES void xk_f16_to_f32(const uint16_t *source, float *destination, size_t count) {
    const _Float16 *halves = (const _Float16 *)source;
    for (size_t i = 0; i < count; i++) destination[i] = (float)halves[i];
}

XK_CLONES void xk_bf16_to_f32(const uint16_t *source, float *destination, size_t count) {
    uint32_t *bits = (uint32_t *)destination;
    for (size_t i = 0; i < count; i++) bits[i] = (uint32_t)source[i] << 16;
}

XK_CLONES int xk_all_finite(const float *x, size_t count) {
    // Exponent bits all ones means Inf or NaN; OR the test over the block so the loop vectorises.
    const uint32_t *bits = (const uint32_t *)x;
    uint32_t bad = 0;
    for (size_t i = 0; i < count; i++) bad |= ((bits[i] & 0x7f800000u) == 0x7f800000u);
    return bad == 0;
}
