// Portable cache-blocked SGEMM, used when OpenBLAS is not available at build
// time. The Goto/BLIS scheme: op(B) is packed into KC x NR strips, op(A)
// (pre-scaled by alpha) into MR x KC strips, and an MR x NR register tile
// of accumulators runs down K. Transposes are absorbed by the packing, so
// the micro-kernel only ever sees unit-stride panels.
//
// The micro-kernel is written with GCC/Clang vector extensions and
// instantiated three times on x86-64 (SSE, AVX2+FMA, AVX-512) behind
// __builtin_cpu_supports, so the baseline build flags stay portable while
// modern CPUs still get wide registers. Other compilers get a scalar tile.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "gemm.h"
#include "pool.h"

namespace lms {

namespace {

constexpr int KC = 256;   // a KC x NR strip of B stays in L1 across a row of tiles
constexpr int MC = 96;    // an MC x KC block of A stays in L2; multiple of every MR
constexpr int NC = 3072;  // multiple of every NR

#if defined(__GNUC__)
#define LMS_INLINE inline __attribute__((always_inline))
typedef float v4f __attribute__((vector_size(16)));
#if defined(__x86_64__) || defined(__i386__)
#define LMS_X86_DISPATCH 1
typedef float v8f __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));
#endif
#else
#define LMS_INLINE inline
#endif

struct Problem {
  bool tA, tB;
  int M, N, K;
  float alpha;
  const float* A;
  int lda;
  const float* B;
  int ldb;
  float* C;
  int ldc;
  bool parallel;
};

// op(A)[i][k] and op(B)[k][j] in the caller's layout.
LMS_INLINE float opA(const Problem& p, int64_t i, int64_t k) {
  return p.tA ? p.A[k * p.lda + i] : p.A[i * p.lda + k];
}
LMS_INLINE float opB(const Problem& p, int64_t k, int64_t j) {
  return p.tB ? p.B[j * p.ldb + k] : p.B[k * p.ldb + j];
}

// Bp: for each NR-wide strip of columns, kc rows of NR floats, zero-padded.
template <int NR>
LMS_INLINE void pack_b(const Problem& p, int pc, int kc, int jc, int nc, float* Bp) {
  for (int js = 0; js < nc; js += NR) {
    int nr = std::min(NR, nc - js);
    float* dst = Bp + static_cast<int64_t>(js) * kc;
    if (!p.tB && nr == NR) {
      for (int k = 0; k < kc; k++) {
        std::memcpy(dst + k * NR, p.B + static_cast<int64_t>(pc + k) * p.ldb + jc + js, NR * sizeof(float));
      }
    } else {
      for (int k = 0; k < kc; k++) {
        for (int j = 0; j < NR; j++) dst[k * NR + j] = j < nr ? opB(p, pc + k, jc + js + j) : 0.0f;
      }
    }
  }
}

// Ap: for each MR-tall strip of rows, kc columns of MR floats (alpha folded in).
template <int MR>
LMS_INLINE void pack_a(const Problem& p, int ic, int mc, int pc, int kc, float* Ap) {
  for (int is = 0; is < mc; is += MR) {
    int mr = std::min(MR, mc - is);
    float* dst = Ap + static_cast<int64_t>(is) * kc;
    for (int k = 0; k < kc; k++) {
      for (int i = 0; i < MR; i++) dst[k * MR + i] = i < mr ? p.alpha * opA(p, ic + is + i, pc + k) : 0.0f;
    }
  }
}

// C[0:mr, 0:nr] += Ap(MR x kc) * Bp(kc x NR), accumulators in registers.
template <typename V, int MR, int NV>
LMS_INLINE void micro_kernel(int kc, const float* __restrict Ap, const float* __restrict Bp,
                             float* C, int ldc, int mr, int nr) {
  constexpr int VW = sizeof(V) / sizeof(float);
  constexpr int NR = NV * VW;
  V acc[MR][NV];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NV; j++) acc[i][j] = V{};
  for (int k = 0; k < kc; k++) {
    V b[NV];
    for (int j = 0; j < NV; j++) std::memcpy(&b[j], Bp + k * NR + j * VW, sizeof(V));
    for (int i = 0; i < MR; i++) {
      const float a = Ap[k * MR + i];
      for (int j = 0; j < NV; j++) acc[i][j] += a * b[j];
    }
  }
  if (mr == MR && nr == NR) {
    for (int i = 0; i < MR; i++) {
      float* c = C + static_cast<int64_t>(i) * ldc;
      for (int j = 0; j < NV; j++) {
        V cv;
        std::memcpy(&cv, c + j * VW, sizeof(V));
        cv += acc[i][j];
        std::memcpy(c + j * VW, &cv, sizeof(V));
      }
    }
  } else {
    float tile[MR * NR];
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NV; j++) std::memcpy(tile + i * NR + j * VW, &acc[i][j], sizeof(V));
    for (int i = 0; i < mr; i++) {
      float* c = C + static_cast<int64_t>(i) * ldc;
      for (int j = 0; j < nr; j++) c[j] += tile[i * NR + j];
    }
  }
}

// Scratch per thread, reused across calls (a GEMM allocates nothing in steady state).
float* scratch(std::vector<float>& buf, size_t n) {
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}
thread_local std::vector<float> tl_a_pack;
thread_local std::vector<float> tl_b_pack;

// One (jc, pc) step: B's panel is packed, tasks fill (row block, column chunk).
struct Step {
  const Problem* p;
  const float* Bp;
  int jc, nc, pc, kc, strips, nChunks, stripsPerChunk;
};

// Tasks are (row block, column chunk): row blocks alone would leave cores
// idle when M is small (attention, short batches), so columns are split too.
template <typename V, int MR, int NV>
LMS_INLINE void gemm_task(const Step& st, int64_t t) {
  constexpr int NR = NV * static_cast<int>(sizeof(V) / sizeof(float));
  const Problem& p = *st.p;
  const int ib = static_cast<int>(t / st.nChunks), jch = static_cast<int>(t % st.nChunks);
  const int ic = ib * MC, mc = std::min(MC, p.M - ic);
  const int s0 = jch * st.stripsPerChunk, s1 = std::min(st.strips, s0 + st.stripsPerChunk);
  if (s0 >= s1) return;
  float* Ap = scratch(tl_a_pack, static_cast<size_t>(MC) * KC);
  pack_a<MR>(p, ic, mc, st.pc, st.kc, Ap);
  for (int s = s0; s < s1; s++) {
    const int js = s * NR, nr = std::min(NR, st.nc - js);
    for (int is = 0; is < mc; is += MR) {
      micro_kernel<V, MR, NV>(st.kc, Ap + static_cast<int64_t>(is) * st.kc, st.Bp + static_cast<int64_t>(js) * st.kc,
                              p.C + static_cast<int64_t>(ic + is) * p.ldc + st.jc + js, p.ldc,
                              std::min(MR, mc - is), nr);
    }
  }
}

// `task` is gemm_task<V, MR, NV> compiled for the same ISA (a lambda would
// not inherit the caller's target attribute).
template <typename V, int MR, int NV>
LMS_INLINE void gemm_blocked(const Problem& p, void (*task)(void*, int64_t)) {
  constexpr int NR = NV * static_cast<int>(sizeof(V) / sizeof(float));
  const int threads = p.parallel ? pool_threads() : 1;
  float* Bp = scratch(tl_b_pack, static_cast<size_t>(KC) * NC);
  for (int jc = 0; jc < p.N; jc += NC) {
    const int nc = std::min(NC, p.N - jc);
    const int strips = (nc + NR - 1) / NR;
    for (int pc = 0; pc < p.K; pc += KC) {
      const int kc = std::min(KC, p.K - pc);
      pack_b<NR>(p, pc, kc, jc, nc, Bp);
      const int mBlocks = (p.M + MC - 1) / MC;
      int nChunks = 1;
      if (threads > 1 && mBlocks < 2 * threads) nChunks = std::min(strips, (2 * threads + mBlocks - 1) / mBlocks);
      Step st{&p, Bp, jc, nc, pc, kc, strips, nChunks, (strips + nChunks - 1) / nChunks};
      const int64_t tasks = static_cast<int64_t>(mBlocks) * nChunks;
      if (threads > 1 && tasks > 1) parallel_for(tasks, task, &st);
      else for (int64_t t = 0; t < tasks; t++) task(&st, t);
    }
  }
}

#define LMS_GEMM_VARIANT(NAME, TARGET, V, MR, NV)                                          \
  TARGET void NAME##_task(void* st, int64_t t) { gemm_task<V, MR, NV>(*static_cast<Step*>(st), t); } \
  TARGET void NAME(const Problem& p) { gemm_blocked<V, MR, NV>(p, NAME##_task); }

#if defined(LMS_X86_DISPATCH)
LMS_GEMM_VARIANT(gemm_avx512, __attribute__((target("avx512f,avx512vl,avx2,fma"))), v16f, 8, 2)
LMS_GEMM_VARIANT(gemm_avx2, __attribute__((target("avx2,fma"))), v8f, 6, 2)
LMS_GEMM_VARIANT(gemm_sse, , v4f, 4, 2)

#elif defined(__GNUC__)
LMS_GEMM_VARIANT(gemm_generic, , v4f, 4, 2)
#else
LMS_GEMM_VARIANT(gemm_generic, , float, 4, 4)
#endif

#if defined(LMS_X86_DISPATCH)
// LMS_PORTABLE_ISA=sse|avx2 caps the choice, so tests can cover every variant.
int detect_isa() {
  __builtin_cpu_init();
  int best = 0;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) best = 2;
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = 1;
  if (const char* cap = std::getenv("LMS_PORTABLE_ISA")) {
    if (std::strcmp(cap, "sse") == 0) best = 0;
    else if (std::strcmp(cap, "avx2") == 0 && best > 1) best = 1;
  }
  return best;
}
int isa() {
  static const int v = detect_isa();
  return v;
}
#endif

}  // namespace

const char* portable_isa() {
#if defined(LMS_X86_DISPATCH)
  static const char* names[] = {"sse", "avx2", "avx512"};
  return names[isa()];
#elif defined(__GNUC__)
  return "vec4";
#else
  return "scalar";
#endif
}

void portable_sgemm_acc(bool transA, bool transB, int M, int N, int K, float alpha,
                        const float* A, int lda, const float* B, int ldb,
                        float* C, int ldc, bool parallel) {
  if (M <= 0 || N <= 0 || K <= 0 || alpha == 0.0f) return;
  Problem p{transA, transB, M, N, K, alpha, A, lda, B, ldb, C, ldc, parallel};
#if defined(LMS_X86_DISPATCH)
  switch (isa()) {
    case 2: gemm_avx512(p); return;
    case 1: gemm_avx2(p); return;
    default: gemm_sse(p); return;
  }
#else
  gemm_generic(p);
#endif
}

}  // namespace lms
