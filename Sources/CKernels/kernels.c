#include "ckernels.h"

#include <math.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <stdlib.h>
#include <pthread.h>

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

typedef float v16 __attribute__((vector_size(64), aligned(4)));

// The largest x[i] (NaNs are passed over; -infinity for none). Sixteen lanes run side by side and meet at the end:
// a maximum is the same in any order (±0 may come out either way; they compare equal), and one chain of scalar
// comparisons would wait 4 cycles per element (a 58k-row vocabulary's log-softmax).
static inline __attribute__((always_inline)) float xk_max(const float *x, int n) {
    v16 lanes = (v16){0} - INFINITY;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        v16 v;
        memcpy(&v, x + i, sizeof v);
        lanes = __builtin_elementwise_max(lanes, v);
    }
    float m = -INFINITY;
    for (int j = 0; j < 16; j++) m = lanes[j] > m ? lanes[j] : m;
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

// The largest |x[i]| (at least 0; NaNs passed over), sixteen lanes at a time as xk_max.
static inline __attribute__((always_inline)) float xk_max_abs(const float *x, int n) {
    v16 lanes = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        v16 v;
        memcpy(&v, x + i, sizeof v);
        lanes = __builtin_elementwise_max(lanes, __builtin_elementwise_abs(v));
    }
    float m = 0.0f;
    for (int j = 0; j < 16; j++) m = lanes[j] > m ? lanes[j] : m;
    for (; i < n; i++) m = fabsf(x[i]) > m ? fabsf(x[i]) : m;
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

// output[d] = Σ_j p[j] · value_j[d] in order of j (no reassociation: the order is the result), 64 dimensions at a
// time in registers: through memory, each step would wait on the previous step's store.
static inline __attribute__((always_inline)) void xk_weighted_values(const float *p, const float *values, int stride,
                                                                    int count, int head_dim, float *output) {
    int d0 = 0;
    for (; d0 + 64 <= head_dim; d0 += 64) {
        v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        for (int j = 0; j < count; j++) {
            const float *value = values + (size_t)j * stride + d0;
            v16 v0, v1, v2, v3;
            memcpy(&v0, value, 64); memcpy(&v1, value + 16, 64); memcpy(&v2, value + 32, 64); memcpy(&v3, value + 48, 64);
            a0 = a0 + p[j] * v0; a1 = a1 + p[j] * v1; a2 = a2 + p[j] * v2; a3 = a3 + p[j] * v3;
        }
        memcpy(output + d0, &a0, 64); memcpy(output + d0 + 16, &a1, 64);
        memcpy(output + d0 + 32, &a2, 64); memcpy(output + d0 + 48, &a3, 64);
    }
    for (int d = d0; d < head_dim; d++) output[d] = 0.0f;
    for (int j = 0; j < count && d0 < head_dim; j++) {
        const float *value = values + (size_t)j * stride;
        for (int d = d0; d < head_dim; d++) output[d] += p[j] * value[d];
    }
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
    for (int j = 0; j < count; j++) scores[j] *= inverse;
    xk_weighted_values(scores, values, stride, count, head_dim, output);
}

// The first i in [0, n) with x[i] + add > threshold, or n. Blocks of 16 are tested without branches (the
// comparisons vectorise), so a scan where few values pass runs at memory speed.
XK_CLONES int xk_first_above(const float *x, int n, float add, float threshold) {
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        int any = 0;
        for (int j = 0; j < 16; j++) any |= x[i + j] + add > threshold;
        if (any) break;
    }
    for (; i < n; i++)
        if (x[i] + add > threshold) return i;
    return n;
}

// MARK: Threads within one product
//
// A thread may lend its products helper threads (`xk_set_threads`): a product large enough is then split by output
// panels between the thread and its helpers — every column is still computed by one thread in the same order, so
// results do not depend on the split. The helpers belong to the calling thread (started on first use, stopped when
// it exits): threads that translate batches of their own never wait for one another. Idle helpers spin briefly
// (back-to-back products of one decoder step follow within microseconds), then sleep on a condition variable.

#include <stdatomic.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define XK_PAUSE() _mm_pause()
#else
#define XK_PAUSE() ((void)0)
#endif

enum { XK_MAX_THREADS = 64, XK_SPIN = 2000 };

typedef struct xk_pool xk_pool;
typedef struct { xk_pool *pool; int index; unsigned generation; } xk_helper;  // the generation it was started in
struct xk_pool {
    pthread_t threads[XK_MAX_THREADS];
    xk_helper helpers[XK_MAX_THREADS];
    int count;  // helpers started
    pthread_mutex_t mutex;
    pthread_cond_t start, done;
    atomic_uint generation;  // bumped for each job (and to stop)
    atomic_int pending;      // helpers still working on the current job
    void (*function)(void *, int, int);
    void *context;
    int parts;
    int stop;
};

static _Thread_local int xk_thread_count = 1;
static pthread_key_t xk_pool_key;
static pthread_once_t xk_pool_once = PTHREAD_ONCE_INIT;

static void *xk_helper_main(void *argument) {
    xk_helper *helper = argument;
    xk_pool *p = helper->pool;
    unsigned seen = helper->generation;  // a job posted before the thread runs is still seen as new
    for (;;) {
        int spins = 0;
        unsigned g;
        while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen) {
            if (++spins < XK_SPIN) { XK_PAUSE(); continue; }
            pthread_mutex_lock(&p->mutex);
            while (atomic_load_explicit(&p->generation, memory_order_acquire) == seen) pthread_cond_wait(&p->start, &p->mutex);
            pthread_mutex_unlock(&p->mutex);
        }
        seen = g;
        if (p->stop) return 0;
        if (helper->index < p->parts) p->function(p->context, helper->index, p->parts);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mutex);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mutex);
        }
    }
}

static void xk_pool_free(void *argument) {
    xk_pool *p = argument;
    pthread_mutex_lock(&p->mutex);
    p->stop = 1;
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mutex);
    for (int i = 0; i < p->count; i++) pthread_join(p->threads[i], 0);
    pthread_mutex_destroy(&p->mutex);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p);
}

static void xk_pool_key_init(void) { pthread_key_create(&xk_pool_key, xk_pool_free); }

// The calling thread's pool with at least `helpers` helpers (fewer when threads cannot be started).
static xk_pool *xk_pool_get(int helpers) {
    pthread_once(&xk_pool_once, xk_pool_key_init);
    xk_pool *p = pthread_getspecific(xk_pool_key);
    if (!p) {
        p = calloc(1, sizeof *p);
        if (!p) return 0;
        pthread_mutex_init(&p->mutex, 0);
        pthread_cond_init(&p->start, 0);
        pthread_cond_init(&p->done, 0);
        pthread_setspecific(xk_pool_key, p);
    }
    while (p->count < helpers && p->count < XK_MAX_THREADS) {
        p->helpers[p->count] = (xk_helper){p, p->count + 1, atomic_load_explicit(&p->generation, memory_order_relaxed)};
        if (pthread_create(&p->threads[p->count], 0, xk_helper_main, &p->helpers[p->count]) != 0) break;
        p->count++;
    }
    return p;
}

void xk_set_threads(int threads) { xk_thread_count = threads < 1 ? 1 : (threads > XK_MAX_THREADS ? XK_MAX_THREADS : threads); }

int xk_threads(void) { return xk_thread_count; }

// Runs function(context, part, parts) for part 0..<parts: part 0 on the calling thread, the others on its helpers.
static void xk_parallel(void (*function)(void *, int, int), void *context, int parts) {
    xk_pool *p = parts > 1 ? xk_pool_get(parts - 1) : 0;
    if (p && parts > p->count + 1) parts = p->count + 1;
    if (!p || parts <= 1) { function(context, 0, 1); return; }
    p->function = function;
    p->context = context;
    p->parts = parts;
    atomic_store_explicit(&p->pending, p->count, memory_order_relaxed);
    pthread_mutex_lock(&p->mutex);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mutex);
    function(context, 0, parts);
    for (int spins = 0; atomic_load_explicit(&p->pending, memory_order_acquire) != 0 && spins < XK_SPIN; spins++) XK_PAUSE();
    if (atomic_load_explicit(&p->pending, memory_order_acquire) != 0) {
        pthread_mutex_lock(&p->mutex);
        while (atomic_load_explicit(&p->pending, memory_order_acquire) != 0) pthread_cond_wait(&p->done, &p->mutex);
        pthread_mutex_unlock(&p->mutex);
    }
}

// A product of `work` multiply-adds over `panels` output panels: split among the thread's helpers when it is large
// enough to pay for waking them (about a million multiply-adds, ~20 µs on one core) and each gets two panels.
static void xk_parallel_panels(void (*function)(void *, int, int), void *context, size_t work, int panels) {
    int parts = xk_thread_count;
    if (parts > panels / 2) parts = panels / 2;
    if (work < ((size_t)1 << 20)) parts = 1;
    xk_parallel(function, context, parts < 1 ? 1 : parts);
}

// MARK: GEMM with pre-packed weights
//
// y[m, n] = x[m, k] · wᵀ + bias for a weight w [n, k] (PyTorch's nn.Linear layout) packed once at load into
// panels of 32 output columns: panel p holds, for each k, the 32 weights of columns 32p..32p+31 (zero past n).
// A 12 × 32 register tile accumulates over k in order with one FMA per step, as OpenBLAS's kernels do within a
// K block, so results equal `cblas_sgemm` + bias bit for bit whenever OpenBLAS does not split K (k <= its block).
// Panels are the outer loop: each weight panel is read from memory once per call, the activations stay in cache.

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

XK_CLONES void xk_pack_weight(const float *w, int n, int k, float *packed) {
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

void xk_packed_row(const float *packed, int k, int row, float *out) {
    const float *column = packed + (size_t)(row / NR) * k * NR + row % NR;
    for (int kk = 0; kk < k; kk++) out[kk] = column[(size_t)kk * NR];
}

void xk_packed_row_f16(const uint16_t *packed, int k, int row, float *out) {
    const _Float16 *column = (const _Float16 *)packed + (size_t)(row / NR) * k * NR + row % NR;
    for (int kk = 0; kk < k; kk++) out[kk] = (float)column[(size_t)kk * NR];
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

// One MR × NR tile over k rows kb..<ke of a panel. `first`: the sums start at zero, else from `y` (the previous k
// block's sums, stored as floats: reloading them continues the same chain of fused multiply-adds, so blocking k
// changes no bit of the result); `bias` (only with the last block) is added at the end, as before blocking.
// `next`: the panel the following tile will read (or NULL); its lines of this k block are prefetched into L2 while
// this one computes, k row by k row: the hardware prefetchers stop at each 4 KiB page, so a panel streamed from
// memory (a large vocabulary's output projection is ~100 MB) would otherwise stall at every page.
static inline __attribute__((always_inline)) void tile(const float *x, int k, int kb, int ke, const void *panel,
                                                      int half, int rows, int first, const float *bias, float *y,
                                                      int ldy, int cols, const char *next) {
    v16 a0[MR], a1[MR];
    if (first) {
#pragma clang loop unroll(full)
        for (int i = 0; i < rows; i++) { a0[i] = (v16){0}; a1[i] = (v16){0}; }
    } else {
#pragma clang loop unroll(full)
        for (int i = 0; i < rows; i++) {
            if (cols == NR) {
                memcpy(&a0[i], y + (size_t)i * ldy, 64);
                memcpy(&a1[i], y + (size_t)i * ldy + 16, 64);
            } else {
                float t[NR] = {0};
                memcpy(t, y + (size_t)i * ldy, cols * sizeof(float));
                memcpy(&a0[i], t, 64); memcpy(&a1[i], t + 16, 64);
            }
        }
    }
    for (int kk = kb; kk < ke; kk++) {
        v16 w0, w1;
        if (half) load_f16(panel, kk, &w0, &w1); else load_f32(panel, kk, &w0, &w1);
        if (next) {
            const char *line = next + (size_t)kk * NR * (half ? 2 : 4);
            __builtin_prefetch(line, 0, 2);
            if (!half) __builtin_prefetch(line + 64, 0, 2);
        }
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
        v16 r0 = bias ? a0[i] + b0 : a0[i], r1 = bias ? a1[i] + b1 : a1[i];
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

#define TILE(R)                                                                                                    \
    case R:                                                                                                        \
        if (next) tile(xb, k, kb, ke, panel, HALF, R, first, bp, yb, n, cols, next);                              \
        else tile(xb, k, kb, ke, panel, HALF, R, first, bp, yb, n, cols, 0);                                      \
        break;

// Blocks: KC k rows at a time, so that a tile's panel block and the rows' activations stay in L2 however large k
// is (4096 in the FFN of the large models); MB rows at a time, so that the activations of a block (MB × KC floats,
// 480 KiB) stay in L2 while every panel passes. The decoder's rows (beams × sentences ≤ MB) are one block, and a
// k ≤ KC is one block: each weight is then read once per call.
enum { KC = 512, MB = 20 * MR };

#define GEMM_BODY                                                                                                  \
    for (int mb = 0; mb < m; mb += MB) {                                                                           \
        int me = m - mb < MB ? m : mb + MB;                                                                        \
        for (int kb = 0; kb < k; kb += KC) {                                                                       \
            int ke = k - kb < KC ? k : kb + KC, first = kb == 0;                                                   \
            for (int p = p0; p < p1; p++) {                                                                        \
                const char *panel = (const char *)packed + (size_t)p * k * NR * ELEMENT;                           \
                int cols = n - p * NR < NR ? n - p * NR : NR;                                                      \
                float bpad[NR];                                                                                    \
                const float *bp = 0;                                                                               \
                if (bias && ke == k) {                                                                             \
                    memset(bpad, 0, sizeof bpad);                                                                  \
                    memcpy(bpad, bias + p * NR, cols * sizeof(float));                                             \
                    bp = bpad;                                                                                     \
                }                                                                                                  \
                for (int m0 = mb; m0 < me; m0 += MR) {                                                             \
                    int rows = me - m0 < MR ? me - m0 : MR;                                                        \
                    const float *xb = x + (size_t)m0 * k;                                                          \
                    float *yb = y + (size_t)m0 * n + p * NR;                                                       \
                    const char *next = m0 == mb && p + 1 < p1 ? panel + (size_t)k * NR * ELEMENT : 0;              \
                    switch (rows) { TILE(12) TILE(11) TILE(10) TILE(9) TILE(8) TILE(7) TILE(6) TILE(5) TILE(4)     \
                                    TILE(3) TILE(2) TILE(1) }                                                      \
                }                                                                                                  \
            }                                                                                                      \
        }                                                                                                          \
    }

// Panels p0..<p1 of the product.
XK_CLONES static void gemm_f32(const float *x, int m, int k, const float *packed, const float *bias, int n, float *y,
                               int p0, int p1) {
#define HALF 0
#define ELEMENT 4
    GEMM_BODY
#undef HALF
#undef ELEMENT
}

XK_CLONES static void gemm_f16(const float *x, int m, int k, const uint16_t *packed, const float *bias, int n,
                               float *y, int p0, int p1) {
#define HALF 1
#define ELEMENT 2
    GEMM_BODY
#undef HALF
#undef ELEMENT
}

typedef struct {
    const float *x; int m, k; const void *packed; const float *bias; int n; float *y; int half;
} gemm_job;

static void gemm_part(void *context, int part, int parts) {
    const gemm_job *j = context;
    int panels = (j->n + NR - 1) / NR, p0 = panels * part / parts, p1 = panels * (part + 1) / parts;
    if (j->half) gemm_f16(j->x, j->m, j->k, j->packed, j->bias, j->n, j->y, p0, p1);
    else gemm_f32(j->x, j->m, j->k, j->packed, j->bias, j->n, j->y, p0, p1);
}

static void gemm(const float *x, int m, int k, const void *packed, const float *bias, int n, float *y, int half) {
    gemm_job job = {x, m, k, packed, bias, n, y, half};
    xk_parallel_panels(gemm_part, &job, (size_t)m * n * k, (n + NR - 1) / NR);
}

void xk_gemm_packed(const float *x, int m, int k, const float *packed, const float *bias, int n, float *y) {
    gemm(x, m, k, packed, bias, n, y, 0);
}

void xk_gemm_packed_f16(const float *x, int m, int k, const uint16_t *packed, const float *bias, int n, float *y) {
    gemm(x, m, k, packed, bias, n, y, 1);
}

// Row by row (contiguous reads); a panel (32 × k halves) stays in cache while its columns are scattered into it.
// `halves`: w holds IEEE halves (need not be aligned), copied as they are; else floats, narrowed, and the packing
// stops (returns 0) at the first float that is not exactly a half.
static inline __attribute__((always_inline)) int pack_f16(const void *w, int halves, int n, int k, uint16_t *packed) {
    int panels = (n + NR - 1) / NR;
    _Float16 *out = (_Float16 *)packed;
    for (int p = 0; p < panels; p++) {
        _Float16 *panel = out + (size_t)p * k * NR;
        for (int j = 0; j < NR; j++) {
            int col = p * NR + j;
            if (col >= n) {
                for (int kk = 0; kk < k; kk++) panel[kk * NR + j] = 0;
                continue;
            }
            if (halves) {
                const char *row = (const char *)w + (size_t)col * k * 2;
                for (int kk = 0; kk < k; kk++) memcpy(&panel[kk * NR + j], row + (size_t)kk * 2, 2);
                continue;
            }
            const float *row = (const float *)w + (size_t)col * k;
            int exact = 1;
            for (int kk = 0; kk < k; kk++) {
                _Float16 half = (_Float16)row[kk];
                exact &= (float)half == row[kk];
                panel[kk * NR + j] = half;
            }
            if (!exact) return 0;
        }
    }
    return 1;
}

XK_CLONES int xk_pack_weight_f16(const float *w, int n, int k, uint16_t *packed) { return pack_f16(w, 0, n, k, packed); }

// A half copied as it is equals a half widened to float and narrowed again: the panels of xk_pack_weight_f16.
XK_CLONES void xk_pack_halves(const void *w, int n, int k, uint16_t *packed) { pack_f16(w, 1, n, k, packed); }

XK_CLONES int xk_halves_finite(const void *h, size_t count) {
    const char *bytes = (const char *)h;
    uint16_t bad = 0;
    for (size_t i = 0; i < count; i++) {
        uint16_t half;
        memcpy(&half, bytes + i * 2, 2);
        bad |= (uint16_t)((half & 0x7c00u) == 0x7c00u);  // exponent all ones: Inf or NaN
    }
    return bad == 0;
}

// MARK: Conversions for loading checkpoints

XK_CLONES void xk_f16_to_f32(const uint16_t *source, float *destination, size_t count) {
    const _Float16 *halves = (const _Float16 *)source;
    for (size_t i = 0; i < count; i++) destination[i] = (float)halves[i];
}

XK_CLONES int xk_f32_to_f16_exact(const float *source, uint16_t *destination, size_t count) {
    _Float16 *halves = (_Float16 *)destination;
    int exact = 1;
    for (size_t i = 0; i < count; i++) {
        halves[i] = (_Float16)source[i];
        exact &= (float)halves[i] == source[i];
    }
    return exact;
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

// MARK: int8 GEMM
//
// y[m, n] ≈ x[m, k] · wᵀ + bias with w quantised per output row (scale 127 / max|row|, round to nearest even) and
// x quantised per row on each call the same way, shifted by +128 to unsigned bytes for `vpdpbusd` (u8 × s8 → s32).
// The shift adds 128 · Σₖ w_q[j, k] to column j; that sum is computed at packing ("compensation") and subtracted.
// Panels of 32 output columns hold, for each group of 4 k, 32 × 4 bytes: column j's 4 weights in its 32-bit lane.
// k is padded to a multiple of 4 with zero weights. Accumulation is exact integer arithmetic, so the AVX-512 VNNI
// kernel and the portable one give identical results; the dequantisation is one fused multiply-add in both:
// y = fma((float)(acc − compensation), x_scale · w_scale, bias).

#define I8_KPAD(k) (((k) + 3) & ~3)

size_t xk_packed_i8_size(int n, int k) { return (size_t)((n + NR - 1) / NR) * NR * (size_t)I8_KPAD(k); }
size_t xk_packed_i8_columns(int n) { return (size_t)((n + NR - 1) / NR) * NR; }

// Each row is quantised into a contiguous buffer (vectorised: |w| maximum on the bit patterns — finite weights
// order like unsigned integers once the sign is cleared —, multiply, round to nearest even, clamp), then scattered
// into its panel 4 bytes at a time. `halves`: w holds IEEE halves (need not be aligned), widened row by row.
static inline __attribute__((always_inline)) void pack_i8(const void *w, int halves, int n, int k, int8_t *packed,
                                                          float *scales, int32_t *compensation) {
    int kp = I8_KPAD(k), panels = (n + NR - 1) / NR;
    int8_t *q = aligned_alloc(64, ((size_t)kp + 63) & ~(size_t)63);
    float *widened = halves ? aligned_alloc(64, ((size_t)k * 4 + 63) & ~(size_t)63) : 0;
    if (!q || (halves && !widened)) abort();
    for (int col = 0; col < panels * NR; col++) {
        int p = col / NR, j = col % NR;
        int8_t *panel = packed + (size_t)p * NR * kp;
        float amax = 0.0f;
        int32_t sum = 0;
        memset(q, 0, (size_t)kp);
        if (col < n) {
            const float *row;
            if (halves) {
                const char *source = (const char *)w + (size_t)col * k * 2;
                for (int kk = 0; kk < k; kk++) {
                    _Float16 half;
                    memcpy(&half, source + (size_t)kk * 2, 2);
                    widened[kk] = (float)half;
                }
                row = widened;
            } else {
                row = (const float *)w + (size_t)col * k;
            }
            uint32_t bits_max = 0;
            for (int kk = 0; kk < k; kk++) {
                uint32_t bits;
                memcpy(&bits, row + kk, 4);
                bits &= 0x7fffffffu;
                bits_max = bits > bits_max ? bits : bits_max;
            }
            memcpy(&amax, &bits_max, 4);
            float scale = amax > 0.0f ? 127.0f / amax : 0.0f;
            for (int kk = 0; kk < k; kk++) {
                float v = __builtin_roundevenf(row[kk] * scale);
                v = v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : v);
                q[kk] = (int8_t)(int)v;
                sum += (int)v;
            }
        }
        for (int g = 0; g < kp / 4; g++) memcpy(panel + (size_t)g * NR * 4 + j * 4, q + 4 * g, 4);
        scales[col] = amax / 127.0f;
        compensation[col] = 128 * sum;
    }
    free(q);
    free(widened);
}

XK_CLONES void xk_pack_weight_i8(const float *w, int n, int k, int8_t *packed, float *scales, int32_t *compensation) {
    pack_i8(w, 0, n, k, packed, scales, compensation);
}

XK_CLONES void xk_pack_halves_i8(const void *w, int n, int k, int8_t *packed, float *scales, int32_t *compensation) {
    pack_i8(w, 1, n, k, packed, scales, compensation);
}

// Quantised activations of one call: per thread, grown as needed, freed when the thread exits.
typedef struct { uint8_t *bytes; float *scales; size_t byte_capacity, row_capacity; } xk_i8_scratch;
static pthread_key_t xk_i8_key;
static pthread_once_t xk_i8_once = PTHREAD_ONCE_INIT;
static void xk_i8_free(void *p) {
    xk_i8_scratch *s = p;
    free(s->bytes); free(s->scales); free(s);
}
static void xk_i8_key_init(void) { pthread_key_create(&xk_i8_key, xk_i8_free); }

static xk_i8_scratch *xk_i8_get(int m, int kp) {
    pthread_once(&xk_i8_once, xk_i8_key_init);
    xk_i8_scratch *s = pthread_getspecific(xk_i8_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s) abort();
        pthread_setspecific(xk_i8_key, s);
    }
    size_t bytes = (size_t)m * kp + 64;
    if (bytes > s->byte_capacity) {
        free(s->bytes);
        s->bytes = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
        if (!s->bytes) abort();
        s->byte_capacity = bytes;
    }
    if ((size_t)m > s->row_capacity) {
        free(s->scales);
        s->scales = malloc((size_t)m * sizeof(float));
        if (!s->scales) abort();
        s->row_capacity = (size_t)m;
    }
    return s;
}

// Rows of x → unsigned bytes (q + 128) and per-row scales max|x| / 127, in the kernels' layout: rows in tiles of MR
// (tile t at t·MR·kp); within a tile, group g of four k (padding = 128, i.e. zero) holds the MR rows' four bytes side
// by side at g·MR·4 + i·4. A tile reads one group's inputs at fixed offsets from one pointer, rather than from MR
// rows kp apart (an address computed per row, every group).
XK_CLONES void xk_quantize_rows(const float *x, int m, int k, uint8_t *out, float *scales) {
    int kp = I8_KPAD(k);
    uint8_t q[kp];
    for (int i = 0; i < m; i++) {
        const float *row = x + (size_t)i * k;
        float amax = xk_max_abs(row, k);
        float scale = amax > 0.0f ? 127.0f / amax : 0.0f;
        for (int kk = 0; kk < k; kk++) {
            float v = __builtin_roundevenf(row[kk] * scale);
            v = v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : v);
            q[kk] = (uint8_t)((int)v + 128);
        }
        for (int kk = k; kk < kp; kk++) q[kk] = 128;
        uint8_t *tile = out + (size_t)(i / MR) * MR * kp + (i % MR) * 4;
        for (int g = 0; g < kp / 4; g++) memcpy(tile + (size_t)g * MR * 4, q + 4 * g, 4);
        scales[i] = amax / 127.0f;
    }
}

// Portable kernel over the same panels.
XK_CLONES static void i8_gemm_generic(const uint8_t *xq, const float *xs, int m, int kp, const int8_t *packed,
                                      const float *ws, const int32_t *comp, const float *bias, int n, float *y,
                                      int p0, int p1) {
    for (int p = p0; p < p1; p++) {
        const int8_t *panel = packed + (size_t)p * NR * kp;
        int cols = n - p * NR < NR ? n - p * NR : NR;
        for (int i = 0; i < m; i++) {
            int32_t acc[NR] = {0};
            const uint8_t *row = xq + (size_t)(i / MR) * MR * kp + (i % MR) * 4;  // xk_quantize_rows' layout
            for (int g = 0; g < kp / 4; g++)
                for (int j = 0; j < NR; j++)
                    for (int t = 0; t < 4; t++)
                        acc[j] += (int32_t)row[(size_t)g * MR * 4 + t] * (int32_t)panel[(size_t)g * NR * 4 + j * 4 + t];
            for (int j = 0; j < cols; j++) {
                int col = p * NR + j;
                y[(size_t)i * n + col] = fmaf((float)(acc[j] - comp[col]), xs[i] * ws[col], bias ? bias[col] : 0.0f);
            }
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

VNNI static inline __attribute__((always_inline)) void i8_tile_vnni(const uint8_t *xq, int kp, const int8_t *panel,
                                                                    int rows, const float *xs, const float *ws,
                                                                    const int32_t *comp, const float *bias, float *y,
                                                                    int ldy, int cols, const int8_t *next) {
    __m512i a0[MR], a1[MR];
#pragma clang loop unroll(full)
    for (int i = 0; i < rows; i++) { a0[i] = _mm512_setzero_si512(); a1[i] = _mm512_setzero_si512(); }
    for (int g = 0; g < kp / 4; g++) {
        __m512i w0 = _mm512_load_si512((const void *)(panel + (size_t)g * NR * 4));
        __m512i w1 = _mm512_load_si512((const void *)(panel + (size_t)g * NR * 4 + 64));
        if (next) {
            __builtin_prefetch(next + (size_t)g * NR * 4, 0, 2);
            __builtin_prefetch(next + (size_t)g * NR * 4 + 64, 0, 2);
        }
#pragma clang loop unroll(full)
        for (int i = 0; i < rows; i++) {
            int32_t four;
            memcpy(&four, xq + (size_t)g * MR * 4 + i * 4, 4);
            __m512i x = _mm512_set1_epi32(four);
            a0[i] = _mm512_dpbusd_epi32(a0[i], x, w0);
            a1[i] = _mm512_dpbusd_epi32(a1[i], x, w1);
        }
    }
    __m512i c0 = _mm512_loadu_si512((const void *)comp), c1 = _mm512_loadu_si512((const void *)(comp + 16));
    __m512 s0 = _mm512_loadu_ps(ws), s1 = _mm512_loadu_ps(ws + 16);
    __m512 b0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
    __m512 b1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
    __mmask16 m0 = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1);
    __mmask16 m1 = cols >= 32 ? 0xffff : (cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1));
#pragma clang loop unroll(full)
    for (int i = 0; i < rows; i++) {
        __m512 x = _mm512_set1_ps(xs[i]);
        __m512 r0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(a0[i], c0)), _mm512_mul_ps(x, s0), b0);
        __m512 r1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(a1[i], c1)), _mm512_mul_ps(x, s1), b1);
        _mm512_mask_storeu_ps(y + (size_t)i * ldy, m0, r0);
        _mm512_mask_storeu_ps(y + (size_t)i * ldy + 16, m1, r1);
    }
}

#define I8TILE(R)                                                                                                  \
    case R:                                                                                                        \
        if (next) i8_tile_vnni(xb, kp, panel, R, xs + m0, ws + p * NR, comp + p * NR, bp, yb, n, cols, next);     \
        else i8_tile_vnni(xb, kp, panel, R, xs + m0, ws + p * NR, comp + p * NR, bp, yb, n, cols, 0);             \
        break;

VNNI static void i8_gemm_vnni(const uint8_t *xq, const float *xs, int m, int kp, const int8_t *packed,
                              const float *ws, const int32_t *comp, const float *bias, int n, float *y, int p0, int p1) {
    for (int p = p0; p < p1; p++) {
        const int8_t *panel = packed + (size_t)p * NR * kp;
        int cols = n - p * NR < NR ? n - p * NR : NR;
        float bpad[NR];
        const float *bp = 0;
        if (bias) { memset(bpad, 0, sizeof bpad); memcpy(bpad, bias + p * NR, cols * sizeof(float)); bp = bpad; }
        for (int m0 = 0; m0 < m; m0 += MR) {
            int rows = m - m0 < MR ? m - m0 : MR;
            const uint8_t *xb = xq + (size_t)m0 * kp;
            float *yb = y + (size_t)m0 * n + p * NR;
            // The first tile of a panel brings the next panel into L2 (see `tile`).
            const int8_t *next = m0 == 0 && p + 1 < p1 ? panel + (size_t)NR * kp : 0;
            switch (rows) { I8TILE(12) I8TILE(11) I8TILE(10) I8TILE(9) I8TILE(8) I8TILE(7) I8TILE(6) I8TILE(5)
                            I8TILE(4) I8TILE(3) I8TILE(2) I8TILE(1) }
        }
    }
}
#endif

void xk_packed_row_i8(const int8_t *packed, int k, int row, float scale, float *out) {
    int kp = I8_KPAD(k);
    const int8_t *column = packed + (size_t)(row / NR) * NR * kp + (row % NR) * 4;
    for (int kk = 0; kk < k; kk++) out[kk] = (float)column[(size_t)(kk / 4) * NR * 4 + kk % 4] * scale;
}

typedef struct {
    const uint8_t *xq; const float *xs; int m, kp; const int8_t *packed; const float *ws; const int32_t *comp;
    const float *bias; int n; float *y; int level;
} i8_job;

static void i8_part(void *context, int part, int parts) {
    const i8_job *j = context;
    int panels = (j->n + NR - 1) / NR, p0 = panels * part / parts, p1 = panels * (part + 1) / parts;
#if defined(__x86_64__)
    if (j->level >= 1) {
        i8_gemm_vnni(j->xq, j->xs, j->m, j->kp, j->packed, j->ws, j->comp, j->bias, j->n, j->y, p0, p1);
        return;
    }
#endif
    i8_gemm_generic(j->xq, j->xs, j->m, j->kp, j->packed, j->ws, j->comp, j->bias, j->n, j->y, p0, p1);
}

int xk_int8_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        return 1;
#endif
    return 0;
}

void xk_gemm_packed_i8(const float *x, int m, int k, const int8_t *packed, const float *scales,
                       const int32_t *compensation, const float *bias, int n, float *y, int level) {
    if (m <= 0) return;
    int kp = I8_KPAD(k);
    // Blocks of rows, so the quantised copy stays small (and in cache) however many rows the encoder sends; the
    // decoder's rows (beams × sentences) fit in one block, so its weights are still read once per call.
    enum { BLOCK = 20 * MR };
    xk_i8_scratch *s = xk_i8_get(m < BLOCK ? (m + MR - 1) / MR * MR : BLOCK, kp);  // whole tiles
    for (int r0 = 0; r0 < m; r0 += BLOCK) {
        int rows = m - r0 < BLOCK ? m - r0 : BLOCK;
        xk_quantize_rows(x + (size_t)r0 * k, rows, k, s->bytes, s->scales);
        i8_job job = {s->bytes, s->scales, rows, kp, packed, scales, compensation, bias, n, y + (size_t)r0 * n, level};
        xk_parallel_panels(i8_part, &job, (size_t)rows * n * k, (n + NR - 1) / NR);
    }
}
