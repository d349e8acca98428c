// Vectorisable float math for the transcendental-heavy kernels (GELU,
// softmax, log-softmax). glibc's erff/expf are scalar calls: erff alone
// costs ~17 ns per element, which made GELU slower than the FFN GEMMs
// around it. These are branch-free (selects only) so GCC/Clang vectorise
// the loops, and the loops are compiled for several ISAs (target_clones)
// so a portable build still uses AVX2/AVX-512 where the CPU has them.
//
// Accuracy (checked against double-precision libm over dense grids):
//   fexp:      ~2 ulp over the float range, 0 below -86.6, inf above 88.72
//   fnorm_cdf: Phi(x) with relative error < 5e-7 in both tails
#pragma once
#include <cstdint>
#include <cstring>
#include <limits>

// (Defining LMS_CLONES empty on the command line builds the baseline only.)
#if defined(LMS_CLONES)
#elif defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && __GNUC__ >= 11
#define LMS_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#elif defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define LMS_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#elif defined(__clang__) && defined(__x86_64__) && defined(__linux__) && __clang_major__ >= 14
#define LMS_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LMS_CLONES
#endif

#if defined(__GNUC__)
#define LMS_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define LMS_ALWAYS_INLINE inline
#endif

namespace lms {

// e^x, Cephes' expf scheme: x = n ln2 + r with |r| <= ln2/2, e^r by a
// degree-6 polynomial, 2^n by building the exponent bits. n is found with
// the 1.5 * 2^23 rounding trick, which needs no rounding instruction.
LMS_ALWAYS_INLINE float fexp(float x) {
  const float xc = x < -86.6f ? -86.6f : (x > 88.72283935546875f ? 88.72283935546875f : x);
  const float shifter = 12582912.0f;  // 1.5 * 2^23
  const float n = (xc * 1.44269504088896341f + shifter) - shifter;
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // n reaches 128 near the top of the range, one past the largest float
  // exponent: scale by 2^(n-1) and double.
  const int32_t bits = (static_cast<int32_t>(n) + 126) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  float y = (p * scale) * 2.0f;
  y = x < -86.6f ? 0.0f : y;  // e^-86.6 ~ 2.4e-38: flushing below is below float resolution anyway
  y = x > 88.72283935546875f ? std::numeric_limits<float>::infinity() : y;
  return x != x ? x : y;  // NaN in, NaN out
}

// Phi(x) = 0.5 erfc(-x / sqrt 2), the exact GELU gate. erfc(z) for z >= 0
// is Numerical Recipes' Chebyshev fit t exp(-z^2 + P(t)), t = 1/(1 + z/2),
// whose relative error is below 1.2e-7 for every z >= 0; the tail that
// matters for x << 0 is therefore accurate in relative terms, unlike
// 1 + erf(x / sqrt 2). With `ez2` non-null it also returns
// exp(-z^2) = exp(-x^2 / 2) for the GELU backward's density term.
LMS_ALWAYS_INLINE float fnorm_cdf(float x, float* ez2) {
  const float z = (x < 0.0f ? -x : x) * 0.70710678118654752f;
  const float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  const float z2 = z * z;
  float half_erfc;
  if (ez2) {
    const float e = fexp(-z2);
    *ez2 = e;
    half_erfc = 0.5f * t * e * fexp(p);
  } else {
    half_erfc = 0.5f * t * fexp(p - z2);
  }
  return x < 0.0f ? half_erfc : 1.0f - half_erfc;
}

// The loops below are defined in vmath.cc, each compiled per ISA.
// gelu: out, inp (n)
void vgelu_forward(float* out, const float* inp, int64_t n);
// dinp += dout * (Phi(x) + x phi(x))   (n)
void vgelu_backward(float* dinp, const float* dout, const float* inp, int64_t n);
// Writes exp(x[c] - shift) to out (when out is not null) and returns their sum.
double vexp_shift_sum(float* out, const float* x, float shift, int64_t n);
// max over x (-inf for n = 0); NaN entries are skipped, as js.ts's `if (x > max)` does.
float vmax(const float* x, int64_t n);
// One Adam(W) update in float (n): m, v moments; step_size = lr / (1 − β1^t),
// inv_sqrt_bc2 = 1 / √(1 − β2^t), decay = lr · weight_decay.
// ob1 = 1 − β1 and ob2 = 1 − β2 come from the caller, computed in double:
// 1 − float(0.999) is 1.3e-5 off in relative terms, which would scale every
// fresh gradient's weight by that much (float(β2) itself is off by 1e-8).
void vadam(float* param, const float* grad, float* m, float* v, int64_t n, float beta1, float beta2, float ob1,
           float ob2, float eps, float step_size, float inv_sqrt_bc2, float decay);
// dinp += dout - exp(out) * s   (one row of the log-softmax backward)
void vlogsoftmax_backward_row(float* dinp, const float* dout, const float* out, float s, int64_t n);
// dinp = dout * (Phi(x) + x phi(x))   (overwrites: the bias+GELU backward's scratch)
void vgelu_backward_set(float* dinp, const float* dout, const float* inp, int64_t n);
// d = s * exp(x - lse) (accumulate: d += …), one row of the fused cross-entropy backward
void vce_backward_row(float* d, const float* x, float lse, float s, int64_t n, bool accumulate);

// Inverted dropout on n elements whose flat indices start at i0: element i
// is kept when hash32(seed, i0 + i) >= thr (thr = ceil(p * 2^32), see
// dropout_threshold in kernels.cc), and a kept value is rounded from
// double(x) * s as js.ts does. keep may be null (fused ops regenerate the
// mask in their backward instead of storing it).
void vdropout_forward(float* out, uint8_t* keep, const float* inp, int64_t n, uint32_t seed, uint32_t i0, uint32_t thr,
                      double s);
// dinp += keep ? dout * s : 0, in double and rounded, as js.ts.
void vdropout_backward(float* dinp, const float* dout, const uint8_t* keep, int64_t n, double s);
// sum = dropout(x) + res, the mask regenerated from (seed, i0 + i) as vdropout_forward draws it.
void vdropout_add(float* sum, const float* x, const float* res, int64_t n, uint32_t seed, uint32_t i0, uint32_t thr,
                  double s);
// The dropout backward of a fused op: g = ds (float); dx (+)= keep ? double(g) * s : 0, the mask regenerated.
void vdropout_grad(float* dx, const float* ds, int64_t n, uint32_t seed, uint32_t i0, uint32_t thr, double s,
                   bool accumulate);
// One row of layer norm (C channels): mean and variance in double (eight
// partial sums), out = (x - m) * rstd * weight + bias; writes mean and rstd.
void vln_forward_row(float* out, float* mean, float* rstd, const float* x, const float* weight, const float* bias,
                     int64_t C, double eps);
// One row of the layer-norm backward with the row's saved m and s:
// ds = (dnorm - mean(dnorm) - norm * mean(dnorm * norm)) * s (when ds is not
// null), pw += norm * dout and pb += dout (double partial sums; either may be null).
void vln_backward_row(float* ds, double* pw, double* pb, const float* x, const float* dout, const float* weight,
                      double m, double s, int64_t C);
// AdamW over n elements with the gradient first scaled by gscale (rounded
// to float, as the clip's scale kernel rounds) when `scaled`, and zeroed
// after it is read when `zero`; otherwise exactly vadam.
void vadam_ex(float* param, float* grad, float* m, float* v, int64_t n, float beta1, float beta2, float ob1, float ob2,
              float eps, float step_size, float inv_sqrt_bc2, float decay, double gscale, bool scaled, bool zero);

}  // namespace lms
