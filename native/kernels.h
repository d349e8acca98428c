// Elementwise and row kernels, float32, with exactly the semantics of
// src/engine/kernels/js.ts (see types.ts for the contract). Pointers are
// trusted: the N-API layer (addon.cc) has checked types, sizes and ranges.
//
// Shape letters as in llm.c: R = rows, C = channels, N = elements.
// Every *_backward ACCUMULATES into its gradient outputs.
#pragma once
#include <cstdint>

namespace lms {

// Bit-for-bit the hash32 of js.ts (dropout masks must match across kernel sets).
inline uint32_t hash32(uint32_t seed, uint32_t i) {
  uint32_t x = (i * 0x9e3779b1u) ^ seed;
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

void bias_add(float* out, const float* inp, const float* bias, int64_t R, int64_t C);
void bias_backward(float* dbias, const float* dout, int64_t R, int64_t C);

void gelu_forward(float* out, const float* inp, int64_t N);
void gelu_backward(float* dinp, const float* dout, const float* inp, int64_t N);

void tanh_forward(float* out, const float* inp, int64_t N);
void tanh_backward(float* dinp, const float* dout, const float* out, int64_t N);

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int64_t R, int64_t C, double eps);
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int64_t R, int64_t C);

void softmax_forward(float* out, const float* inp, const float* mask, double scale, int64_t R, int64_t C,
                     int64_t rows_per_mask);
void softmax_backward(float* dinp, const float* dout, const float* out, double scale, int64_t R, int64_t C);

void logsoftmax_forward(float* out, const float* inp, int64_t R, int64_t C);
void logsoftmax_backward(float* dinp, const float* dout, const float* out, int64_t R, int64_t C);

void embedding_forward(float* out, const int32_t* ids, const float* table, int64_t N, int64_t C);
void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int64_t N, int64_t C);

void dropout_forward(float* out, uint8_t* keep, const float* inp, int64_t N, double p, uint32_t seed);
void dropout_backward(float* dinp, const float* dout, const uint8_t* keep, int64_t N, double p);

void add(float* out, const float* a, const float* b, int64_t N);
void axpy(int64_t N, double alpha, const float* x, float* y);
void scale(float* x, int64_t N, double alpha);
double sum(const float* x, int64_t N);
double sum_squared_diff(const float* a, const float* b, int64_t N);  // b may be null
double max_abs(const float* x, int64_t N);
int64_t first_non_finite(const float* x, int64_t N);  // -1 when every element is finite

void adam_step(float* param, const float* grad, float* m, float* v, int64_t N, double lr, double beta1,
               double beta2, double eps, double weight_decay, double step);

// ---- fused kernels (see types.ts for each contract) ----
// `accumulate` false overwrites the gradient output (a gradient buffer
// allocated for this writer, never zeroed), true adds into it.

// Mean-free cross-entropy over rows of logits (R, C) against labels (R):
// writes lse[r] = log Σ exp(logits[r, :]) and returns Σ_r (lse[r] - logits[r, label_r])
// over rows whose label is not `ignore` (lse[r] = 0 on those).
double cross_entropy_forward(float* lse, const float* logits, const int32_t* labels, int64_t R, int64_t C,
                             int32_t ignore);
// dlogits (+)= scale * (softmax(logits) - onehot(label)) on labelled rows (0 / untouched on ignored ones).
void cross_entropy_backward(float* dlogits, const float* logits, const float* lse, const int32_t* labels, int64_t R,
                            int64_t C, double scale, int32_t ignore, bool accumulate);

// sum = dropout(x; p, seed) + res, out = layernorm(sum) (R, C); p = 0: no dropout.
void add_layernorm_forward(float* out, float* sum, float* mean, float* rstd, const float* x, const float* res,
                           const float* weight, const float* bias, int64_t R, int64_t C, double eps, double p,
                           uint32_t seed);
// From dout: ds = layernorm'(sum); dres (+)= ds; dx (+)= dropout'(ds); dweight, dbias +=. Any of dx, dres,
// dweight, dbias may be null.
void add_layernorm_backward(float* dx, float* dres, float* dweight, float* dbias, const float* dout, const float* sum,
                            const float* weight, const float* mean, const float* rstd, int64_t R, int64_t C, double p,
                            uint32_t seed, bool accumulate_x, bool accumulate_res);

// pre = inp + bias (pre may alias inp), out = gelu(pre)   (R, C)
void bias_gelu_forward(float* out, float* pre, const float* inp, const float* bias, int64_t R, int64_t C);
// dpre = dout * gelu'(pre) (overwritten), dbias += Σ_r dpre (dbias may be null)
void bias_gelu_backward(float* dpre, float* dbias, const float* dout, const float* pre, int64_t R, int64_t C);

// One AdamW step over `count` tensors (sizes ns, weight decays wds), each
// gradient scaled by gscale first (skipped when gscale == 1) and zeroed after.
void adam_step_many(float* const* params, float* const* grads, float* const* ms, float* const* vs, const int64_t* ns,
                    const double* wds, int64_t count, double lr, double beta1, double beta2, double eps, double step,
                    double gscale);
// Σ over tensors of Σ x², in double, tensors added in order.
double sum_squares_many(const float* const* xs, const int64_t* ns, int64_t count);

}  // namespace lms
