// Row-major single-precision GEMM, C = alpha * op(A) * op(B) + beta * C,
// op(A) M x K, op(B) K x N. Pointers already include the element offsets;
// the N-API layer has checked every index range, lda >= cols of A as
// stored, and that all sizes fit an int.
#pragma once
#include <cstdint>

namespace lms {

// "openblas" or "portable": which GEMM this build compiled in.
const char* gemm_impl();
// Which micro-kernel the portable GEMM picked for this CPU ("avx512", "avx2", "sse", "scalar").
const char* portable_isa();

void sgemm(bool transA, bool transB, int M, int N, int K, float alpha,
           const float* A, int lda, const float* B, int ldb,
           float beta, float* C, int ldc);

// outer x inner GEMMs of one shape; matrix (o, h) starts at
// X + o * strideXOuter + h * strideXInner for X in A, B, C.
void sgemm_batched(bool transA, bool transB, int M, int N, int K, float alpha,
                   const float* A, int lda, int64_t sAo, int64_t sAi,
                   const float* B, int ldb, int64_t sBo, int64_t sBi,
                   float beta, float* C, int ldc, int64_t sCo, int64_t sCi,
                   int64_t outer, int64_t inner);

// The cache-blocked fallback: C += alpha * op(A) * op(B) (beta is applied
// by the caller). `parallel` lets it split its tiles over the pool.
void portable_sgemm_acc(bool transA, bool transB, int M, int N, int K, float alpha,
                        const float* A, int lda, const float* B, int ldb,
                        float* C, int ldc, bool parallel);

// Batched-GEMM strategy knobs, exposed for benchmarking: 0 = automatic,
// 1 = serial loop (OpenBLAS may thread each GEMM), 2 = one GEMM per pool task.
void set_batched_mode(int mode);

}  // namespace lms
