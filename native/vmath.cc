// The transcendental loops of vmath.h, one clone per ISA (see LMS_CLONES).
#include "vmath.h"

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

// Float throughout so the loop vectorises: the double version spent 11% of
// a roberta-mini pretraining step here (16M parameters, a division and a
// square root each).
LMS_CLONES void vadam(float* __restrict param, const float* __restrict grad, float* __restrict m, float* __restrict v,
                      int64_t n, float beta1, float beta2, float ob1, float ob2, float eps, float step_size,
                      float inv_sqrt_bc2, float decay) {
  for (int64_t i = 0; i < n; i++) {
    const float g = grad[i];
    const float mi = beta1 * m[i] + ob1 * g;
    const float vi = beta2 * v[i] + ob2 * g * g;
    m[i] = mi;
    v[i] = vi;
    const float p = param[i];
    param[i] = p - step_size * mi / (std::sqrt(vi) * inv_sqrt_bc2 + eps) - decay * p;
  }
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

}  // namespace lms
