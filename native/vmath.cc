// The transcendental loops of vmath.h, one clone per ISA (see LMS_CLONES).
#include "vmath.h"

#include "kernels.h"  // hash32

#include <cmath>

namespace lms {

// gelu: out, inp (n)
LMS_CLONES void vgelu_forward(float* out, const float* inp, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float x = inp[i];
    out[i] = x * fnorm_cdf(x, nullptr);
  }
}

// dinp += dout * (Phi(x) + x phi(x))
LMS_CLONES void vgelu_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float x = inp[i];
    float ez2;
    const float cdf = fnorm_cdf(x, &ez2);
    dinp[i] += dout[i] * (cdf + x * 0.39894228040143267794f * ez2);
  }
}

namespace {
template <bool kScaled, bool kZero>
LMS_ALWAYS_INLINE void adam_loop(float* __restrict param, float* __restrict grad, float* __restrict m,
                                 float* __restrict v, int64_t n, float beta1, float beta2, float ob1, float ob2,
                                 float eps, float step_size, float inv_sqrt_bc2, float decay, double gscale) {
  for (int64_t i = 0; i < n; i++) {
    const float g = kScaled ? static_cast<float>(static_cast<double>(grad[i]) * gscale) : grad[i];
    if (kZero) grad[i] = 0.0f;
    const float mi = beta1 * m[i] + ob1 * g;
    const float vi = beta2 * v[i] + ob2 * g * g;
    m[i] = mi;
    v[i] = vi;
    const float p = param[i];
    param[i] = p - step_size * mi / (std::sqrt(vi) * inv_sqrt_bc2 + eps) - decay * p;
  }
}
}  // namespace

// Float throughout so the loop vectorises: the double version spent 11% of
// a roberta-mini pretraining step here (16M parameters, a division and a
// square root each).
LMS_CLONES void vadam(float* __restrict param, const float* __restrict grad, float* __restrict m, float* __restrict v,
                      int64_t n, float beta1, float beta2, float ob1, float ob2, float eps, float step_size,
                      float inv_sqrt_bc2, float decay) {
  // adam_loop<false, false> never writes grad.
  adam_loop<false, false>(param, const_cast<float*>(grad), m, v, n, beta1, beta2, ob1, ob2, eps, step_size, inv_sqrt_bc2,
                          decay, 1.0);
}

// Writes exp(x[c] - shift) to out (when out is not null) and returns their
// sum. Blocks of 256 are summed in float by 16 lanes, blocks added in
// double: accurate to ~1e-7 relative even over a 30k-token vocabulary.
LMS_CLONES double vexp_shift_sum(float* out, const float* x, float shift, int64_t n) {
  double total = 0.0;
  float buf[256];
  for (int64_t b = 0; b < n; b += 256) {
    const int m = static_cast<int>(n - b < 256 ? n - b : 256);
    float* e = out ? out + b : buf;
    for (int i = 0; i < m; i++) e[i] = fexp(x[b + i] - shift);
    float acc[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 16 <= m; i += 16)
      for (int j = 0; j < 16; j++) acc[j] += e[i + j];
    double s = 0.0;
    for (; i < m; i++) s += e[i];
    for (int j = 0; j < 16; j++) s += acc[j];
    total += s;
  }
  return total;
}

// 16 running maxima, so the loop is not one serial dependency chain. GCC
// will not vectorise a float `?:` max reduction on its own (NaN rules), so
// the GNU build spells the lanes as a vector; `v > m ? v : m` skips NaN
// exactly like js.ts's `if (x > max)`.
LMS_CLONES float vmax(const float* x, int64_t n) {
  const float ninf = -std::numeric_limits<float>::infinity();
  int64_t i = 0;
  float r = ninf;
#if defined(__GNUC__) && !defined(__clang__)
  typedef float v16f __attribute__((vector_size(64)));
  v16f m = v16f{} + ninf;
  for (; i + 16 <= n; i += 16) {
    v16f v;
    std::memcpy(&v, x + i, sizeof v);
    m = v > m ? v : m;
  }
  for (int j = 0; j < 16; j++) r = m[j] > r ? m[j] : r;
#endif
  for (; i < n; i++) r = x[i] > r ? x[i] : r;
  return r;
}

// dinp += dout - exp(out) * s   (one row of the log-softmax backward)
LMS_CLONES void vlogsoftmax_backward_row(float* dinp, const float* dout, const float* out, float s,
                                                int64_t n) {
  for (int64_t i = 0; i < n; i++) dinp[i] += dout[i] - fexp(out[i]) * s;
}

LMS_CLONES void vgelu_backward_set(float* dinp, const float* dout, const float* inp, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float x = inp[i];
    float ez2;
    const float cdf = fnorm_cdf(x, &ez2);
    dinp[i] = dout[i] * (cdf + x * 0.39894228040143267794f * ez2);
  }
}

LMS_CLONES void vce_backward_row(float* d, const float* x, float lse, float s, int64_t n, bool accumulate) {
  if (accumulate)
    for (int64_t i = 0; i < n; i++) d[i] += s * fexp(x[i] - lse);
  else
    for (int64_t i = 0; i < n; i++) d[i] = s * fexp(x[i] - lse);
}

// hash32 is written with 32-bit multiplies and shifts only, so these loops
// vectorise (vpmulld); the keep test is an unsigned compare. The dropout
// loops must round like js.ts (a double product, a double sum, a float
// store): no FMA contraction in them, or AVX2/AVX-512 clones would fuse
// `dinp + dout * s` and differ from js in the last bit.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#elif defined(__clang__)
#pragma clang fp contract(off)
#endif
LMS_CLONES void vdropout_forward(float* out, uint8_t* keep, const float* inp, int64_t n, uint32_t seed, uint32_t i0,
                                 uint32_t thr, double s) {
  if (keep) {
    for (int64_t i = 0; i < n; i++) {
      const bool k = hash32(seed, i0 + static_cast<uint32_t>(i)) >= thr;
      keep[i] = k ? 1 : 0;
      out[i] = k ? static_cast<float>(static_cast<double>(inp[i]) * s) : 0.0f;
    }
  } else {
    for (int64_t i = 0; i < n; i++) {
      const bool k = hash32(seed, i0 + static_cast<uint32_t>(i)) >= thr;
      out[i] = k ? static_cast<float>(static_cast<double>(inp[i]) * s) : 0.0f;
    }
  }
}

LMS_CLONES void vdropout_backward(float* dinp, const float* dout, const uint8_t* keep, int64_t n, double s) {
  for (int64_t i = 0; i < n; i++) {
    const float v = static_cast<float>(static_cast<double>(dinp[i]) + static_cast<double>(dout[i]) * s);
    dinp[i] = keep[i] ? v : dinp[i];
  }
}

LMS_CLONES void vdropout_add(float* sum, const float* x, const float* res, int64_t n, uint32_t seed, uint32_t i0,
                             uint32_t thr, double s) {
  for (int64_t i = 0; i < n; i++) {
    const bool k = hash32(seed, i0 + static_cast<uint32_t>(i)) >= thr;
    const float d = k ? static_cast<float>(static_cast<double>(x[i]) * s) : 0.0f;
    sum[i] = d + res[i];
  }
}

LMS_CLONES void vdropout_grad(float* dx, const float* ds, int64_t n, uint32_t seed, uint32_t i0, uint32_t thr, double s,
                              bool accumulate) {
  if (accumulate) {
    for (int64_t i = 0; i < n; i++) {
      const bool k = hash32(seed, i0 + static_cast<uint32_t>(i)) >= thr;
      const float v = static_cast<float>(static_cast<double>(dx[i]) + static_cast<double>(ds[i]) * s);
      dx[i] = k ? v : dx[i];
    }
  } else {
    for (int64_t i = 0; i < n; i++) {
      const bool k = hash32(seed, i0 + static_cast<uint32_t>(i)) >= thr;
      dx[i] = k ? static_cast<float>(static_cast<double>(ds[i]) * s) : 0.0f;
    }
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

// The same eight-lane double sums as kernels.cc's sum_f64 and friends, here
// so the row loops below get the AVX2/AVX-512 clones (kernels.cc is built
// for the x86-64-v2 baseline only).
LMS_CLONES void vln_forward_row(float* o, float* mean, float* rstd, const float* x, const float* weight,
                                const float* bias, int64_t C, double eps) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= C; i += 8)
    for (int j = 0; j < 8; j++) acc[j] += x[i + j];
  double sm = 0;
  for (; i < C; i++) sm += x[i];
  sm += ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  const double m = sm / static_cast<double>(C);
  double bcc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  i = 0;
  for (; i + 8 <= C; i += 8)
    for (int j = 0; j < 8; j++) {
      const double d = x[i + j] - m;
      bcc[j] += d * d;
    }
  double sq = 0;
  for (; i < C; i++) {
    const double d = x[i] - m;
    sq += d * d;
  }
  sq += ((bcc[0] + bcc[1]) + (bcc[2] + bcc[3])) + ((bcc[4] + bcc[5]) + (bcc[6] + bcc[7]));
  const double s = 1.0 / std::sqrt(sq / static_cast<double>(C) + eps);
  for (int64_t c = 0; c < C; c++) o[c] = static_cast<float>((x[c] - m) * s * weight[c] + bias[c]);
  *mean = static_cast<float>(m);
  *rstd = static_cast<float>(s);
}

LMS_CLONES void vln_backward_row(float* ds, double* pw, double* pb, const float* x, const float* d,
                                 const float* weight, double m, double s, int64_t C) {
  if (ds) {
    double a0[8] = {0, 0, 0, 0, 0, 0, 0, 0}, a1[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t c = 0;
    for (; c + 8 <= C; c += 8)
      for (int j = 0; j < 8; j++) {
        const double dnorm = static_cast<double>(weight[c + j]) * d[c + j];
        a0[j] += dnorm;
        a1[j] += dnorm * ((x[c + j] - m) * s);
      }
    double dnormMean = 0, dnormNormMean = 0;
    for (; c < C; c++) {
      const double dnorm = static_cast<double>(weight[c]) * d[c];
      dnormMean += dnorm;
      dnormNormMean += dnorm * ((x[c] - m) * s);
    }
    for (int j = 0; j < 8; j++) {
      dnormMean += a0[j];
      dnormNormMean += a1[j];
    }
    dnormMean /= static_cast<double>(C);
    dnormNormMean /= static_cast<double>(C);
    for (int64_t k = 0; k < C; k++) {
      const double norm = (x[k] - m) * s;
      const double dnorm = static_cast<double>(weight[k]) * d[k];
      ds[k] = static_cast<float>((dnorm - dnormMean - norm * dnormNormMean) * s);
    }
  }
  if (pb)
    for (int64_t c = 0; c < C; c++) pb[c] += d[c];
  if (pw)
    for (int64_t c = 0; c < C; c++) pw[c] += (x[c] - m) * s * d[c];
}


LMS_CLONES void vadam_ex(float* param, float* grad, float* m, float* v, int64_t n, float beta1, float beta2, float ob1,
                         float ob2, float eps, float step_size, float inv_sqrt_bc2, float decay, double gscale,
                         bool scaled, bool zero) {
  if (scaled && zero)
    adam_loop<true, true>(param, grad, m, v, n, beta1, beta2, ob1, ob2, eps, step_size, inv_sqrt_bc2, decay, gscale);
  else if (scaled)
    adam_loop<true, false>(param, grad, m, v, n, beta1, beta2, ob1, ob2, eps, step_size, inv_sqrt_bc2, decay, gscale);
  else if (zero)
    adam_loop<false, true>(param, grad, m, v, n, beta1, beta2, ob1, ob2, eps, step_size, inv_sqrt_bc2, decay, gscale);
  else
    adam_loop<false, false>(param, grad, m, v, n, beta1, beta2, ob1, ob2, eps, step_size, inv_sqrt_bc2, decay, gscale);
}

}  // namespace lms
