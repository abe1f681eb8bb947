#include "ckernels.h"

#include <math.h>
#include <stdint.h>
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
