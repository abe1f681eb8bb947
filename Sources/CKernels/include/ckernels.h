// Vectorised float kernels for the engine's hot loops. Each function is compiled for AVX-512, AVX2 and baseline
// x86-64 (target_clones) and the loader picks the best for the running CPU, so one binary runs everywhere.
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>
#include <stdint.h>

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

/// Scaled dot-product attention of one query (`head_dim` floats) over `count` keys for one head: keys and values
/// rows are `stride` floats apart. Writes the probabilities to `scores` and the weighted values to `output`.
void xk_attend(const float *query, const float *keys, const float *values, int stride, int count, int head_dim,
               float scaling, float *scores, float *output);

/// `x[i] = x[i] * sigmoid(x[i])` (SiLU / swish).
void xk_silu(float *x, int n);

/// The first `i` in `0..<n` with `x[i] + add > threshold` (float addition, as written), or `n`.
int xk_first_above(const float *x, int n, float add, float threshold);

/// Threads the products (GEMMs) called from this thread may use: the thread itself plus helper threads of its own,
/// started on first use and stopped when the thread exits. 1 (the default): products run on the calling thread only.
/// Results are identical for every value.
void xk_set_threads(int threads);

/// This thread's `xk_set_threads` value.
int xk_threads(void);

/// Floats needed to pack a weight of `n` output × `k` input features.
size_t xk_packed_size(int n, int k);

/// Packs `w` (`[n, k]` row-major, PyTorch's `nn.Linear.weight`) into panels of 32 output columns.
void xk_pack_weight(const float *w, int n, int k, float *packed);

/// Row `row` of the weight packed by `xk_pack_weight` (`k` floats of column `row` of the panels) into `out`.
void xk_packed_row(const float *packed, int k, int row, float *out);

/// The same from half-precision panels (`xk_pack_weight_f16`, `xk_pack_halves`), widened to floats.
void xk_packed_row_f16(const uint16_t *packed, int k, int row, float *out);

/// `y[m, n] = x[m, k] · wᵀ + bias` (bias may be NULL) with `w` packed by `xk_pack_weight`.
void xk_gemm_packed(const float *x, int m, int k, const float *packed, const float *bias, int n, float *y);

/// Packs `w` into half-precision panels when every value is exactly representable as a half (weights that came
/// from a float16 checkpoint); returns 0, leaving `packed` unspecified, when one is not.
int xk_pack_weight_f16(const float *w, int n, int k, uint16_t *packed);

/// Packs the IEEE halves `w` (row-major `[n, k]`, as a float16 checkpoint stores them; need not be aligned) into
/// the panels of `xk_pack_weight_f16`: the same bits that packing their float values would store.
void xk_pack_halves(const void *w, int n, int k, uint16_t *packed);

/// 1 when none of `count` IEEE halves (need not be aligned) is NaN or infinite.
int xk_halves_finite(const void *h, size_t count);

/// `xk_gemm_packed` over half-precision panels (widened to float in registers: exact, so results are identical).
void xk_gemm_packed_f16(const float *x, int m, int k, const uint16_t *packed, const float *bias, int n, float *y);

/// The instruction set the kernels run with: 4 (x86-64-v4, AVX-512), 3 (x86-64-v3, AVX2 + FMA) or 0 (baseline).
int xk_gemm_level(void);

/// Bytes of int8 panels for a weight of `n` output × `k` input features (k padded to a multiple of 4).
size_t xk_packed_i8_size(int n, int k);

/// Output columns padded to whole panels: the length of the `scales` and `compensation` arrays.
size_t xk_packed_i8_columns(int n);

/// Quantises `w` (`[n, k]` row-major) per output row — scale `127 / max|row|`, round to nearest even — into
/// panels of 32 columns × groups of 4 k (`vpdpbusd`'s layout), with each column's dequantisation scale
/// (`max|row| / 127`) and compensation (`128 · Σ q`, for the unsigned shift of the activations).
void xk_pack_weight_i8(const float *w, int n, int k, int8_t *packed, float *scales, int32_t *compensation);

/// `xk_pack_weight_i8` of IEEE halves `w` (row-major `[n, k]`; need not be aligned), widened row by row: the same
/// panels, scales and compensation as packing their float values.
void xk_pack_halves_i8(const void *w, int n, int k, int8_t *packed, float *scales, int32_t *compensation);

/// Row `row` of the int8 panels (`xk_pack_weight_i8`), dequantised with its `scale` (`scales[row]`) into `out`.
void xk_packed_row_i8(const int8_t *packed, int k, int row, float scale, float *out);

/// Output columns per panel of the packed layouts (float, half and int8): stacked matrices whose parts have a
/// multiple of this many rows can be packed part by part.
#define XK_PANEL_COLUMNS 32

/// Rows of `x` (`[m, k]`) quantised per row, stored as `q + 128` in tiles of 12 rows: group g of four k (k rounded up
/// to 4, kp) of row i at `(i / 12)·12·kp + g·48 + (i % 12)·4`; `out` holds whole tiles. `scales[i] = max|row i| / 127`.
void xk_quantize_rows(const float *x, int m, int k, uint8_t *out, float *scales);

/// `y[m, n] ≈ x[m, k] · wᵀ + bias` with `w` packed by `xk_pack_weight_i8` and `x` quantised per row on the fly.
/// `level` 1 runs the AVX-512 VNNI kernel (only where `xk_int8_level()` returns 1), 0 the portable one; both give
/// identical results.
void xk_gemm_packed_i8(const float *x, int m, int k, const int8_t *packed, const float *scales,
                       const int32_t *compensation, const float *bias, int n, float *y, int level);

/// 1 when the CPU has AVX-512 VNNI (with BW and VL), else 0.
int xk_int8_level(void);

/// IEEE half → float for `count` values (the source need not be aligned).
void xk_f16_to_f32(const uint16_t *source, float *destination, size_t count);

/// float → IEEE half for `count` values; returns 1 when every value converted exactly (the floats came from
/// halves), else 0 (the halves are then approximations).
int xk_f32_to_f16_exact(const float *source, uint16_t *destination, size_t count);

/// bfloat16 → float for `count` values.
void xk_bf16_to_f32(const uint16_t *source, float *destination, size_t count);

/// 1 when no value is NaN or infinite.
int xk_all_finite(const float *x, size_t count);

#ifdef __cplusplus
}
#endif

#endif
