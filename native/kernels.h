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

void adam_step(float* param, const float* grad, float* m, float* v, int64_t N, double lr, double beta1,
               double beta2, double eps, double weight_decay, double step);

}  // namespace lms
