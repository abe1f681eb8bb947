// Vectorised float kernels for the engine's hot loops. Each function is compiled for AVX-512, AVX2 and baseline
// x86-64 (target_clones) and the loader picks the best for the running CPU, so one binary runs everywhere.
#ifndef CKERNELS_H
#define CKERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// Softmax of `x[0..<n]` in place (max-subtracted).
void xk_softmax(float *x, int n);

/// Log-softmax of `x[0..<n]` in place: `(x - max) - log(sum(exp(x - max)))`, as PyTorch.
void xk_log_softmax(float *x, int n);

/// `sum(a[i] * b[i])`.
float xk_dot(const float *a, const float *b, int n);

/// `y[i] += alpha * x[i]`.
void xk_axpy(float alpha, const float *x, float *y, int n);

/// `x[i] = x[i] * sigmoid(x[i])` (SiLU / swish).
void xk_silu(float *x, int n);

#ifdef __cplusplus
}
#endif

#endif
