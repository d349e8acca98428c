#include <cstdlib>
// GEMM entry points: OpenBLAS when the build found it (LMS_HAVE_CBLAS),
// the portable blocked GEMM otherwise.
#include "gemm.h"

#include <algorithm>
#include <atomic>

#include "pool.h"

#if defined(LMS_HAVE_CBLAS)
#include <cblas.h>
#endif

namespace lms {

namespace {

std::atomic<int> g_batched_mode{0};

// C = beta * C; beta == 0 overwrites (NaN or garbage in C must not survive), as js.ts does.
void scale_c(int M, int N, float beta, float* C, int ldc) {
  if (beta == 1.0f) return;
  for (int i = 0; i < M; i++) {
    float* c = C + static_cast<int64_t>(i) * ldc;
    if (beta == 0.0f) std::fill(c, c + N, 0.0f);
    else for (int j = 0; j < N; j++) c[j] *= beta;
  }
}

// C = alpha·op(A)·op(B) + beta·C through cblas (or the portable kernel), no size policy.
void gemm_call(bool tA, bool tB, int M, int N, int K, float alpha,
               const float* A, int lda, const float* B, int ldb,
               float beta, float* C, int ldc, bool portable_threads) {
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == 0.0f) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
#if defined(LMS_HAVE_CBLAS)
  (void)portable_threads;
  cblas_sgemm(CblasRowMajor, tA ? CblasTrans : CblasNoTrans, tB ? CblasTrans : CblasNoTrans,
              M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
  scale_c(M, N, beta, C, ldc);
  portable_sgemm_acc(tA, tB, M, N, K, alpha, A, lda, B, ldb, C, ldc, portable_threads);
#endif
}

// One GEMM on the calling thread only (the batched path threads across matrices).
void sgemm_single_thread(bool tA, bool tB, int M, int N, int K, float alpha,
                         const float* A, int lda, const float* B, int ldb,
                         float beta, float* C, int ldc) {
  gemm_call(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, false);
}

#if defined(LMS_HAVE_CBLAS)
// OpenBLAS's thread count is process-global; JS calls kernels from one
// thread at a time per addon instance, so a scoped override is safe enough
// (and the pool refuses nested or concurrent parallel sections anyway).
struct BlasSingleThread {
  int prev;
  BlasSingleThread() : prev(openblas_get_num_threads()) {
    if (prev != 1) openblas_set_num_threads(1);
  }
  ~BlasSingleThread() {
    if (prev != 1) openblas_set_num_threads(prev);
  }
};
#endif

// LMS_GEMM_MT_MIN_FLOPS overrides the size below which a GEMM runs on one thread.
double mt_min_flops() {
  static const double v = [] {
    const char* e = std::getenv("LMS_GEMM_MT_MIN_FLOPS");
    return e ? std::atof(e) : 3.2e7;
  }();
  return v;
}

}  // namespace

const char* gemm_impl() {
#if defined(LMS_HAVE_CBLAS)
  return "openblas";
#else
  return "portable";
#endif
}

void set_batched_mode(int mode) { g_batched_mode.store(mode); }

void sgemm(bool tA, bool tB, int M, int N, int K, float alpha,
           const float* A, int lda, const float* B, int ldb,
           float beta, float* C, int ldc) {
#if defined(LMS_HAVE_CBLAS)
  // Below a few tens of MFLOP, waking OpenBLAS's threads costs more than
  // it saves (measured: a bert-micro scan ran 1.7x faster single-threaded,
  // with most of the difference spent in the kernel on thread hand-offs).
  if (2.0 * M * N * K < mt_min_flops()) {
    BlasSingleThread single;
    gemm_call(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, false);
    return;
  }
#endif
  gemm_call(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, true);
}

void sgemm_batched(bool tA, bool tB, int M, int N, int K, float alpha,
                   const float* A, int lda, int64_t sAo, int64_t sAi,
                   const float* B, int ldb, int64_t sBo, int64_t sBi,
                   float beta, float* C, int ldc, int64_t sCo, int64_t sCi,
                   int64_t outer, int64_t inner) {
  const int64_t count = outer * inner;
  if (count == 0 || M == 0 || N == 0) return;
  auto one = [&](int64_t idx) {
    const int64_t o = idx / inner, h = idx % inner;
    sgemm_single_thread(tA, tB, M, N, K, alpha, A + o * sAo + h * sAi, lda, B + o * sBo + h * sBi, ldb,
                        beta, C + o * sCo + h * sCi, ldc);
  };
  int mode = g_batched_mode.load();
  if (mode == 0 && 2.0 * M * N * static_cast<double>(K) * count < 2.0e6) {
    // A few tiny matrices (one batch row's heads in ragged attention): a
    // pool wake-up costs more than the arithmetic, so run them here, serially.
#if defined(LMS_HAVE_CBLAS)
    BlasSingleThread guard;
#endif
    for (int64_t i = 0; i < count; i++) one(i);
    return;
  }
  if (mode == 0) {
    // Attention-sized matrices are too small for a GEMM to split well over
    // cores, while heads are independent: give each core whole matrices.
    // A batch of one or two big GEMMs is better left to the threaded BLAS.
    const double flops = 2.0 * M * N * static_cast<double>(K);
    mode = (count >= 2 * pool_threads() || flops < 4.0e6) ? 2 : 1;
  }
  if (mode == 1 || pool_threads() == 1 || count == 1) {
    for (int64_t i = 0; i < count; i++) {
      const int64_t o = i / inner, h = i % inner;
      sgemm(tA, tB, M, N, K, alpha, A + o * sAo + h * sAi, lda, B + o * sBo + h * sBi, ldb,
            beta, C + o * sCo + h * sCi, ldc);
    }
    return;
  }
#if defined(LMS_HAVE_CBLAS)
  BlasSingleThread guard;
#endif
  parallel_for(count, one);
}

}  // namespace lms
