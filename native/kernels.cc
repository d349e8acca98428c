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
#include <vector>

#include "pool.h"
#include "vmath.h"

namespace lms {

namespace {

// Splits [0, n) into chunks over the pool when the work is large enough to
// repay a wake-up (~10 us); `cost` is a rough per-item cost in nanoseconds.
// Four chunks per thread, taken dynamically: when another process holds a
// core and a worker runs late, the caller takes its share instead of
// waiting (measured on 2 shared cores: one chunk per thread often left the
// caller idle for a whole scheduler slice).
constexpr int kChunksPerThread = 4;

template <typename F>
void for_range(int64_t n, double cost_ns, F&& body) {
  const int threads = pool_threads();
  if (threads <= 1 || n < 2 || n * cost_ns < 200000.0) {
    body(int64_t{0}, n);
    return;
  }
  const int64_t chunks = std::min<int64_t>(n, int64_t{threads} * kChunksPerThread);
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

// How many row chunks a reduction into per-column partial sums (dweight,
// dbias) is split into: kChunksPerThread per thread when the rows are worth
// a wake-up. The count depends only on R and the thread count, never on
// scheduling, so the sums are reproducible.
int64_t row_chunks(int64_t R, double cost_per_row_ns) {
  const int threads = pool_threads();
  if (threads <= 1 || R < 2 || R * cost_per_row_ns < 200000.0) return 1;
  return std::min<int64_t>(R, int64_t{threads} * kChunksPerThread);
}

// Runs body(chunk, lo, hi) over `chunks` contiguous row ranges of [0, R), on the pool when chunks > 1.
template <typename F>
void for_chunks(int64_t R, int64_t chunks, F&& body) {
  const int64_t per = chunks > 0 ? (R + chunks - 1) / chunks : 0;
  auto one = [&](int64_t c) {
    const int64_t lo = c * per, hi = std::min(R, lo + per);
    if (lo < hi) body(c, lo, hi);
  };
  if (chunks <= 1) {
    if (R > 0) body(int64_t{0}, int64_t{0}, R);
  } else {
    parallel_for(chunks, one);
  }
}

// js.ts keeps an element when double(hash) >= p * 2^32; for an integer hash
// that is hash >= ceil(p * 2^32). False when no hash can reach it (p within
// 2^-32 of 1): then nothing is kept.
bool dropout_threshold(double p, uint32_t* thr) {
  const double t = std::ceil(p * 4294967296.0);
  if (t > 4294967295.0) return false;
  *thr = t <= 0 ? 0u : static_cast<uint32_t>(t);
  return true;
}

inline void ln_forward_row(float* o, float* mean, float* rstd, const float* x, const float* weight, const float* bias,
                           int64_t C, double eps) {
  vln_forward_row(o, mean, rstd, x, weight, bias, C, eps);
}

// The layer-norm backward over rows, shared by layerNorm and the fused
// residual + layerNorm: for each row r, the input gradient
//   ds = (dnorm - mean(dnorm) - norm * mean(dnorm * norm)) * rstd,  dnorm = weight * dout
// (row means in double, eight lanes each) goes to emit(r, ds) as floats when
// need_ds; dweight and dbias get Σ_r norm * dout and Σ_r dout, summed in
// double per chunk of rows (one per thread) and added in chunk order.
template <typename Emit>
void ln_backward_rows(float* dweight, float* dbias, const float* dout, const float* inp, const float* weight,
                      const float* mean, const float* rstd, int64_t R, int64_t C, bool need_ds, Emit&& emit) {
  const bool params = dweight || dbias;
  const int64_t chunks = row_chunks(R, 3.0 * C);
  std::vector<double> part(params ? static_cast<size_t>(chunks * 2 * C) : 0, 0.0);
  for_chunks(R, chunks, [&](int64_t ci, int64_t lo, int64_t hi) {
    double* pw = params ? part.data() + ci * 2 * C : nullptr;
    double* pb = pw ? pw + C : nullptr;
    std::vector<float> ds(need_ds ? C : 0);
    for (int64_t r = lo; r < hi; r++) {
      vln_backward_row(need_ds ? ds.data() : nullptr, dweight ? pw : nullptr, dbias ? pb : nullptr, inp + r * C,
                       dout + r * C, weight, mean[r], rstd[r], C);
      if (need_ds) emit(r, ds.data());
    }
  });
  if (!params) return;
  for (int64_t ci = 0; ci < chunks; ci++) {
    const double* pw = part.data() + ci * 2 * C;
    const double* pb = pw + C;
    if (dweight)
      for (int64_t c = 0; c < C; c++) dweight[c] = static_cast<float>(dweight[c] + pw[c]);
    if (dbias)
      for (int64_t c = 0; c < C; c++) dbias[c] = static_cast<float>(dbias[c] + pb[c]);
  }
}

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
    for (int64_t r = lo; r < hi; r++) ln_forward_row(out + r * C, mean + r, rstd + r, inp + r * C, weight, bias, C, eps);
  });
}

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int64_t R, int64_t C) {
  ln_backward_rows(dweight, dbias, dout, inp, weight, mean, rstd, R, C, dinp != nullptr, [&](int64_t r, const float* ds) {
    float* di = dinp + r * C;
    for (int64_t k = 0; k < C; k++) di[k] += ds[k];
  });
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
  uint32_t thr;
  if (!dropout_threshold(p, &thr)) {
    std::fill(out, out + N, 0.0f);
    std::fill(keep, keep + N, uint8_t{0});
    return;
  }
  const double s = 1.0 / (1.0 - p);
  for_range(N, 0.5, [&](int64_t lo, int64_t hi) {
    vdropout_forward(out + lo, keep + lo, inp + lo, hi - lo, seed, static_cast<uint32_t>(lo), thr, s);
  });
}

void dropout_backward(float* dinp, const float* dout, const uint8_t* keep, int64_t N, double p) {
  const double s = 1.0 / (1.0 - p);
  for_range(N, 0.5, [&](int64_t lo, int64_t hi) { vdropout_backward(dinp + lo, dout + lo, keep + lo, hi - lo, s); });
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

int64_t first_non_finite(const float* x, int64_t N) {
  // Every weight of a checkpoint passes through here on load, so the common
  // case (all finite) must run at memory speed: each block reduces
  // branch-free (vectorised compares; NaN fails `<=`), and only a block that
  // holds a NaN or an infinity is walked again for the element.
  constexpr int64_t kBlock = 4096;
  const float big = std::numeric_limits<float>::max();
  for (int64_t start = 0; start < N; start += kBlock) {
    const int64_t end = std::min(N, start + kBlock);
    int bad = 0;
    for (int64_t i = start; i < end; i++) bad |= !(std::fabs(x[i]) <= big);
    if (bad) {
      for (int64_t i = start; i < end; i++) if (!(std::fabs(x[i]) <= big)) return i;
    }
  }
  return -1;
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

// ----------------------------------------------------------------------------
// fused cross-entropy: logits, dlogits (R, C); labels, lse (R)

double cross_entropy_forward(float* lse, const float* logits, const int32_t* labels, int64_t R, int64_t C,
                             int32_t ignore) {
  std::vector<double> loss(static_cast<size_t>(R), 0.0);
  for_range(R, 1.0 * C, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; r++) {
      if (labels[r] == ignore) {
        lse[r] = 0.0f;
        continue;
      }
      const float* x = logits + r * C;
      const float mx = vmax(x, C);
      const double l = mx + std::log(vexp_shift_sum(nullptr, x, mx, C));
      lse[r] = static_cast<float>(l);
      loss[r] = l - x[labels[r]];
    }
  });
  double s = 0;
  for (int64_t r = 0; r < R; r++) s += loss[r];
  return s;
}

void cross_entropy_backward(float* dlogits, const float* logits, const float* lse, const int32_t* labels, int64_t R,
                            int64_t C, double scale, int32_t ignore, bool accumulate) {
  const float sc = static_cast<float>(scale);
  for_range(R, 0.7 * C, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; r++) {
      float* d = dlogits + r * C;
      if (labels[r] == ignore) {
        if (!accumulate) std::fill(d, d + C, 0.0f);
        continue;
      }
      const float* x = logits + r * C;
      const int32_t l = labels[r];
      const float old = accumulate ? d[l] : 0.0f;
      vce_backward_row(d, x, lse[r], sc, C, accumulate);
      d[l] = old + sc * (fexp(x[l] - lse[r]) - 1.0f);
    }
  });
}

// ----------------------------------------------------------------------------
// fused residual + layer norm (with the residual branch's dropout):
// x, res, sum, out, dout, dx, dres (R, C); weight, bias, dweight, dbias (C); mean, rstd (R)

void add_layernorm_forward(float* out, float* sum, float* mean, float* rstd, const float* x, const float* res,
                           const float* weight, const float* bias, int64_t R, int64_t C, double eps, double p,
                           uint32_t seed) {
  uint32_t thr = 0;
  const bool drop = p > 0;
  const bool any = !drop || dropout_threshold(p, &thr);
  const double s = drop ? 1.0 / (1.0 - p) : 1.0;
  for_range(R, 1.5 * C, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; r++) {
      float* sm = sum + r * C;
      const float* xr = x + r * C;
      const float* rr = res + r * C;
      if (!drop) {
        for (int64_t c = 0; c < C; c++) sm[c] = xr[c] + rr[c];
      } else if (any) {
        vdropout_add(sm, xr, rr, C, seed, static_cast<uint32_t>(r * C), thr, s);
      } else {
        std::memcpy(sm, rr, C * sizeof(float));
      }
      ln_forward_row(out + r * C, mean + r, rstd + r, sm, weight, bias, C, eps);
    }
  });
}

void add_layernorm_backward(float* dx, float* dres, float* dweight, float* dbias, const float* dout, const float* sum,
                            const float* weight, const float* mean, const float* rstd, int64_t R, int64_t C, double p,
                            uint32_t seed, bool accumulate_x, bool accumulate_res) {
  uint32_t thr = 0;
  const bool drop = p > 0;
  const bool any = !drop || dropout_threshold(p, &thr);
  const double s = drop ? 1.0 / (1.0 - p) : 1.0;
  ln_backward_rows(dweight, dbias, dout, sum, weight, mean, rstd, R, C, dx || dres, [&](int64_t r, const float* ds) {
    if (dres) {
      float* d = dres + r * C;
      if (accumulate_res)
        for (int64_t k = 0; k < C; k++) d[k] += ds[k];
      else
        std::memcpy(d, ds, C * sizeof(float));
    }
    if (dx) {
      float* d = dx + r * C;
      if (!drop) {
        if (accumulate_x)
          for (int64_t k = 0; k < C; k++) d[k] += ds[k];
        else
          std::memcpy(d, ds, C * sizeof(float));
      } else if (any) {
        vdropout_grad(d, ds, C, seed, static_cast<uint32_t>(r * C), thr, s, accumulate_x);
      } else if (!accumulate_x) {
        std::fill(d, d + C, 0.0f);
      }
    }
  });
}

// ----------------------------------------------------------------------------
// fused bias + GELU: inp, pre, out, dout, dpre (R, C); bias, dbias (C)

void bias_gelu_forward(float* out, float* pre, const float* inp, const float* bias, int64_t R, int64_t C) {
  for_range(R, 1.2 * C, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; r++) {
      float* p = pre + r * C;
      const float* x = inp + r * C;
      for (int64_t c = 0; c < C; c++) p[c] = x[c] + bias[c];
      vgelu_forward(out + r * C, p, C);
    }
  });
}

void bias_gelu_backward(float* dpre, float* dbias, const float* dout, const float* pre, int64_t R, int64_t C) {
  const int64_t chunks = row_chunks(R, 1.6 * C);
  std::vector<double> part(dbias ? static_cast<size_t>(chunks * C) : 0, 0.0);
  for_chunks(R, chunks, [&](int64_t ci, int64_t lo, int64_t hi) {
    double* pb = dbias ? part.data() + ci * C : nullptr;
    for (int64_t r = lo; r < hi; r++) {
      float* d = dpre + r * C;
      vgelu_backward_set(d, dout + r * C, pre + r * C, C);
      if (pb)
        for (int64_t c = 0; c < C; c++) pb[c] += d[c];
    }
  });
  if (!dbias) return;
  for (int64_t ci = 0; ci < chunks; ci++)
    for (int64_t c = 0; c < C; c++) dbias[c] = static_cast<float>(dbias[c] + part[ci * C + c]);
}

// ----------------------------------------------------------------------------
// multi-tensor AdamW and squared norm: one pool pass over every tensor, in
// chunks of a few hundred KB so the 30k-row embedding splits across threads

namespace {
struct Piece {
  int64_t t, lo, hi;
};
std::vector<Piece> pieces(const int64_t* ns, int64_t count, int64_t size) {
  std::vector<Piece> out;
  for (int64_t t = 0; t < count; t++)
    for (int64_t lo = 0; lo < ns[t]; lo += size) out.push_back({t, lo, std::min(ns[t], lo + size)});
  return out;
}
}  // namespace

void adam_step_many(float* const* params, float* const* grads, float* const* ms, float* const* vs, const int64_t* ns,
                    const double* wds, int64_t count, double lr, double beta1, double beta2, double eps, double step,
                    double gscale) {
  const double bc1 = 1.0 - std::pow(beta1, step);
  const double bc2 = 1.0 - std::pow(beta2, step);
  const float step_size = static_cast<float>(lr / bc1);
  const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  const bool scaled = gscale != 1.0;
  const std::vector<Piece> work = pieces(ns, count, 1 << 16);
  auto one = [&](int64_t i) {
    const Piece& w = work[static_cast<size_t>(i)];
    const int64_t o = w.lo;
    vadam_ex(params[w.t] + o, grads[w.t] + o, ms[w.t] + o, vs[w.t] + o, w.hi - o, static_cast<float>(beta1),
             static_cast<float>(beta2), static_cast<float>(1.0 - beta1), static_cast<float>(1.0 - beta2),
             static_cast<float>(eps), step_size, inv_sqrt_bc2, static_cast<float>(lr * wds[w.t]), gscale, scaled, true);
  };
  int64_t total = 0;
  for (int64_t t = 0; t < count; t++) total += ns[t];
  if (total * 2.0 < 200000.0) {
    for (size_t i = 0; i < work.size(); i++) one(static_cast<int64_t>(i));
  } else {
    parallel_for(static_cast<int64_t>(work.size()), one);
  }
}

double sum_squares_many(const float* const* xs, const int64_t* ns, int64_t count) {
  const std::vector<Piece> work = pieces(ns, count, 1 << 18);
  std::vector<double> part(work.size(), 0.0);
  auto one = [&](int64_t i) {
    const Piece& w = work[static_cast<size_t>(i)];
    part[static_cast<size_t>(i)] = dot_f64(xs[w.t] + w.lo, xs[w.t] + w.lo, w.hi - w.lo);
  };
  int64_t total = 0;
  for (int64_t t = 0; t < count; t++) total += ns[t];
  if (total * 0.15 < 200000.0) {
    for (size_t i = 0; i < work.size(); i++) one(static_cast<int64_t>(i));
  } else {
    parallel_for(static_cast<int64_t>(work.size()), one);
  }
  double s = 0;
  for (double v : part) s += v;
  return s;
}

}  // namespace lms
