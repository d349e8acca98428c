// Elementwise and row kernels; each forward sits next to its backward.
// js.ts computes in double and rounds on store; here values stay float32
// where that is within float tolerance, and every reduction the contract
// says is "accumulated in double" (row sums, means, variances, dots) is,
// with several partial sums so the loop still pipelines.
#include "kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "pool.h"
#include "vmath.h"

namespace lms {

namespace {

// Splits [0, n) into chunks over the pool when the work is large enough to
// repay a wake-up (~10 us); `cost` is a rough per-item cost in nanoseconds.
template <typename F>
void for_range(int64_t n, double cost_ns, F&& body) {
  const int threads = pool_threads();
  if (threads <= 1 || n < 2 || n * cost_ns < 200000.0) {
    body(int64_t{0}, n);
    return;
  }
  const int64_t chunks = std::min<int64_t>(n, threads);
  const int64_t per = (n + chunks - 1) / chunks;
  parallel_for(chunks, [&](int64_t c) {
    const int64_t lo = c * per, hi = std::min(n, lo + per);
    if (lo < hi) body(lo, hi);
  });
}

// Σ x, in double, eight independent partial sums.
inline double sum_f64(const float* x, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) acc[j] += x[i + j];
  double s = 0;
  for (; i < n; i++) s += x[i];
  return s + ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// Σ (x - m)², in double.
inline double sumsq_centered_f64(const float* x, double m, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) {
      const double d = x[i + j] - m;
      acc[j] += d * d;
    }
  double s = 0;
  for (; i < n; i++) {
    const double d = x[i] - m;
    s += d * d;
  }
  return s + ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// Σ a ⊙ b, in double.
inline double dot_f64(const float* a, const float* b, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) acc[j] += static_cast<double>(a[i + j]) * b[i + j];
  double s = 0;
  for (; i < n; i++) s += static_cast<double>(a[i]) * b[i];
  return s + ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

}  // namespace

// ----------------------------------------------------------------------------
// bias: out, inp (R, C); bias, dbias (C)

void bias_add(float* out, const float* inp, const float* bias, int64_t R, int64_t C) {
  for (int64_t r = 0; r < R; r++) {
    float* o = out + r * C;
    const float* x = inp + r * C;
    for (int64_t c = 0; c < C; c++) o[c] = x[c] + bias[c];
  }
}

void bias_backward(float* dbias, const float* dout, int64_t R, int64_t C) {
  // Row by row into dbias, in float, in the same order as js.ts.
  for (int64_t r = 0; r < R; r++) {
    const float* d = dout + r * C;
    for (int64_t c = 0; c < C; c++) dbias[c] += d[c];
  }
}

// ----------------------------------------------------------------------------
// gelu (exact, erf form): out, inp, dinp, dout (N)

void gelu_forward(float* out, const float* inp, int64_t N) {
  for_range(N, 1.0, [&](int64_t lo, int64_t hi) { vgelu_forward(out + lo, inp + lo, hi - lo); });
}

void gelu_backward(float* dinp, const float* dout, const float* inp, int64_t N) {
  for_range(N, 1.5, [&](int64_t lo, int64_t hi) { vgelu_backward(dinp + lo, dout + lo, inp + lo, hi - lo); });
}

// ----------------------------------------------------------------------------
// tanh: out, inp, dinp, dout (N); the backward uses the forward's output

void tanh_forward(float* out, const float* inp, int64_t N) {
  for_range(N, 5.0, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) out[i] = std::tanh(inp[i]);
  });
}

void tanh_backward(float* dinp, const float* dout, const float* out, int64_t N) {
  for (int64_t i = 0; i < N; i++) dinp[i] += dout[i] * (1.0f - out[i] * out[i]);
}

// ----------------------------------------------------------------------------
// layernorm: out, inp, dout, dinp (R, C); weight, bias, dweight, dbias (C);
// mean, rstd (R) saved by the forward for the backward

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int64_t R, int64_t C, double eps) {
  for_range(R, 1.0 * C, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; r++) {
      const float* x = inp + r * C;
      float* o = out + r * C;
      const double m = sum_f64(x, C) / static_cast<double>(C);
      const double v = sumsq_centered_f64(x, m, C) / static_cast<double>(C);
      const double s = 1.0 / std::sqrt(v + eps);
      for (int64_t c = 0; c < C; c++) o[c] = static_cast<float>((x[c] - m) * s * weight[c] + bias[c]);
      mean[r] = static_cast<float>(m);
      rstd[r] = static_cast<float>(s);
    }
  });
}

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int64_t R, int64_t C) {
  // dweight/dbias are shared across rows, so rows run serially in js.ts order.
  for (int64_t r = 0; r < R; r++) {
    const float* x = inp + r * C;
    const float* d = dout + r * C;
    const double m = mean[r], s = rstd[r];
    if (dinp) {
      // Two row means in double, eight lanes each so the loop vectorises.
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
      float* di = dinp + r * C;
      for (int64_t k = 0; k < C; k++) {
        const double norm = (x[k] - m) * s;
        const double dnorm = static_cast<double>(weight[k]) * d[k];
        di[k] = static_cast<float>(di[k] + (dnorm - dnormMean - norm * dnormNormMean) * s);
      }
    }
    if (dbias)
      for (int64_t c = 0; c < C; c++) dbias[c] += d[c];
    if (dweight)
      for (int64_t c = 0; c < C; c++) dweight[c] = static_cast<float>(dweight[c] + (x[c] - m) * s * d[c]);
  }
}

// ----------------------------------------------------------------------------
// softmax over the last axis with scale and additive mask:
// out, inp, dout, dinp (R, C); mask (ceil(R / rows_per_mask), C) or null

void softmax_forward(float* out, const float* inp, const float* mask, double scale, int64_t R, int64_t C,
                     int64_t rows_per_mask) {
  const float sc = static_cast<float>(scale);
  for_range(R, 2.0 * C, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; r++) {
      const float* x = inp + r * C;
      float* o = out + r * C;
      if (mask) {
        const float* mk = mask + (r / rows_per_mask) * C;
        for (int64_t c = 0; c < C; c++) o[c] = sc * x[c] + mk[c];
      } else {
        for (int64_t c = 0; c < C; c++) o[c] = sc * x[c];
      }
      const float mx = vmax(o, C);
      if (mx == kNegInf) {  // fully masked row: zeros, not NaN
        std::fill(o, o + C, 0.0f);
        continue;
      }
      const double s = vexp_shift_sum(o, o, mx, C);
      const float inv = static_cast<float>(1.0 / s);
      for (int64_t c = 0; c < C; c++) o[c] *= inv;
    }
  });
}

void softmax_backward(float* dinp, const float* dout, const float* out, double scale, int64_t R, int64_t C) {
  for_range(R, 1.0 * C, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; r++) {
      const float* d = dout + r * C;
      const float* y = out + r * C;
      float* di = dinp + r * C;
      const float dot = static_cast<float>(dot_f64(d, y, C));
      const float sc = static_cast<float>(scale);
      for (int64_t c = 0; c < C; c++) di[c] += sc * y[c] * (d[c] - dot);
    }
  });
}

// ----------------------------------------------------------------------------
// log-softmax (no mask, no scale): out, inp, dout, dinp (R, C)

void logsoftmax_forward(float* out, const float* inp, int64_t R, int64_t C) {
  for_range(R, 2.0 * C, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; r++) {
      const float* x = inp + r * C;
      float* o = out + r * C;
      const float mx = vmax(x, C);
      const double lse = mx + std::log(vexp_shift_sum(nullptr, x, mx, C));
      for (int64_t c = 0; c < C; c++) o[c] = static_cast<float>(x[c] - lse);
    }
  });
}

void logsoftmax_backward(float* dinp, const float* dout, const float* out, int64_t R, int64_t C) {
  for_range(R, 2.0 * C, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; r++) {
      const float* d = dout + r * C;
      float* di = dinp + r * C;
      const float s = static_cast<float>(sum_f64(d, C));
      vlogsoftmax_backward_row(di, d, out + r * C, s, C);
    }
  });
}

// ----------------------------------------------------------------------------
// embedding: out, dout (N, C); ids (N); table, dtable (V, C)

void embedding_forward(float* out, const int32_t* ids, const float* table, int64_t N, int64_t C) {
  for (int64_t n = 0; n < N; n++) std::memcpy(out + n * C, table + static_cast<int64_t>(ids[n]) * C, C * sizeof(float));
}

void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int64_t N, int64_t C) {
  for (int64_t n = 0; n < N; n++) {
    float* dst = dtable + static_cast<int64_t>(ids[n]) * C;
    const float* src = dout + n * C;
    for (int64_t c = 0; c < C; c++) dst[c] += src[c];
  }
}

// ----------------------------------------------------------------------------
// inverted dropout: out, inp, keep, dinp, dout (N). keep[i] depends only on
// (seed, i), and out = inp * keep / (1 - p) is rounded from double as in js.ts.

void dropout_forward(float* out, uint8_t* keep, const float* inp, int64_t N, double p, uint32_t seed) {
  const double threshold = p * 4294967296.0;
  const double s = 1.0 / (1.0 - p);
  for (int64_t i = 0; i < N; i++) {
    const bool k = static_cast<double>(hash32(seed, static_cast<uint32_t>(i))) >= threshold;
    keep[i] = k ? 1 : 0;
    out[i] = k ? static_cast<float>(inp[i] * s) : 0.0f;
  }
}

void dropout_backward(float* dinp, const float* dout, const uint8_t* keep, int64_t N, double p) {
  const double s = 1.0 / (1.0 - p);
  for (int64_t i = 0; i < N; i++)
    if (keep[i]) dinp[i] = static_cast<float>(dinp[i] + dout[i] * s);
}

// ----------------------------------------------------------------------------
// vector helpers (N elements); scalar multipliers are applied in double and
// rounded once, as js.ts does

void add(float* out, const float* a, const float* b, int64_t N) {
  for (int64_t i = 0; i < N; i++) out[i] = a[i] + b[i];
}

void axpy(int64_t N, double alpha, const float* x, float* y) {
  for (int64_t i = 0; i < N; i++) y[i] = static_cast<float>(y[i] + alpha * x[i]);
}

void scale(float* x, int64_t N, double alpha) {
  for (int64_t i = 0; i < N; i++) x[i] = static_cast<float>(x[i] * alpha);
}

double sum(const float* x, int64_t N) { return sum_f64(x, N); }

double sum_squared_diff(const float* a, const float* b, int64_t N) {
  if (!b) return dot_f64(a, a, N);
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= N; i += 8)
    for (int j = 0; j < 8; j++) {
      const double d = static_cast<double>(a[i + j]) - b[i + j];
      acc[j] += d * d;
    }
  double s = 0;
  for (; i < N; i++) {
    const double d = static_cast<double>(a[i]) - b[i];
    s += d * d;
  }
  return s + ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

double max_abs(const float* x, int64_t N) {
  // `v > m ? v : m` skips NaN exactly like js.ts's `if (v > m)`.
  float m = 0.0f;
  for (int64_t i = 0; i < N; i++) {
    const float v = std::fabs(x[i]);
    m = v > m ? v : m;
  }
  return m;
}

// ----------------------------------------------------------------------------
// Adam(W): param, grad, m, v (N). In double, rounding m and v to float
// before they are read back, as js.ts does, so the two sets agree to the
// last bit or two (pow() and FMA contraction may differ).

void adam_step(float* param, const float* grad, float* m, float* v, int64_t N, double lr, double beta1,
               double beta2, double eps, double weight_decay, double step) {
  const double bc1 = 1.0 - std::pow(beta1, step);
  const double bc2 = 1.0 - std::pow(beta2, step);
  const float step_size = static_cast<float>(lr / bc1);
  const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  const float decay = static_cast<float>(lr * weight_decay);
  for_range(N, 2.0, [&](int64_t lo, int64_t hi) {
    vadam(param + lo, grad + lo, m + lo, v + lo, hi - lo, static_cast<float>(beta1), static_cast<float>(beta2),
          static_cast<float>(1.0 - beta1), static_cast<float>(1.0 - beta2), static_cast<float>(eps), step_size, inv_sqrt_bc2, decay);
  });
}

}  // namespace lms
