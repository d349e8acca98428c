#include <csignal>
#include <unistd.h>
// N-API surface of the native kernel set. Every entry point checks what JS
// hands it before any pointer is formed (types, non-negative integer sizes,
// every index range against the buffer lengths) and throws a JS TypeError or
// RangeError naming the kernel and the sizes: a bad call from JS must never
// crash the process. The kernels themselves (kernels.cc, gemm.cc) trust
// their arguments.
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "gemm.h"
#include "kernels.h"
#include "pool.h"

namespace {

constexpr double kMaxSafe = 9007199254740991.0;  // 2^53 - 1
constexpr double kIntMax = 2147483647.0;         // cblas takes int sizes

template <typename T>
struct View {
  T* p = nullptr;
  double n = 0;  // element count (double: compared against computed extents)
};

const char* typed_array_name(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "typed array";
  }
}

std::string describe(const Napi::Value& v) {
  if (v.IsTypedArray()) return typed_array_name(v.As<Napi::TypedArray>().TypedArrayType());
  if (v.IsNull()) return "null";
  if (v.IsUndefined()) return "undefined";
  if (v.IsNumber()) {
    std::ostringstream os;
    os << "number " << v.As<Napi::Number>().DoubleValue();
    return os.str();
  }
  if (v.IsBoolean()) return "boolean";
  if (v.IsString()) return "string";
  if (v.IsArray()) return "Array";
  if (v.IsArrayBuffer()) return "ArrayBuffer";
  if (v.IsFunction()) return "function";
  return "object";
}

// Reads and checks the arguments of one kernel call.
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* kernel, size_t count) : info_(info), kernel_(kernel) {
    if (info.Length() < count) {
      std::ostringstream os;
      os << "expected " << count << " arguments, got " << info.Length();
      type_error(os.str());
    }
  }

  [[noreturn]] void type_error(const std::string& msg) const {
    throw Napi::TypeError::New(info_.Env(), std::string("native ") + kernel_ + ": " + msg);
  }
  [[noreturn]] void range_error(const std::string& msg) const {
    throw Napi::RangeError::New(info_.Env(), std::string("native ") + kernel_ + ": " + msg);
  }

  // One napi_get_typedarray_info per buffer (it fails cleanly on non-typed
  // arrays): the checks stay cheap next to kernels of a few hundred elements.
  template <typename T>
  View<T> typed(size_t i, const char* name, napi_typedarray_type want, const char* wantName) const {
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    napi_status st = napi_get_typedarray_info(info_.Env(), info_[i], &type, &length, &data, nullptr, nullptr);
    if (st != napi_ok || type != want) {
      const std::string got = describe(info_[i]);
      std::string msg = std::string(name) + " must be a" + (wantName[0] == 'I' ? "n " : " ") + wantName;
      if (want == napi_float32_array) {
        msg += " (the native kernel set is float32-only";
        if (got == "Float64Array") msg += "; float64 work needs the js kernels";
        msg += ")";
      }
      type_error(msg + ", got " + got);
    }
    return {static_cast<T*>(data), static_cast<double>(length)};
  }

  View<float> f32(size_t i, const char* name) const {
    return typed<float>(i, name, napi_float32_array, "Float32Array");
  }

  // p stays null for JS null / undefined.
  View<float> f32_or_null(size_t i, const char* name) const {
    const Napi::Value v = info_[i];
    if (v.IsNull() || v.IsUndefined()) return {};
    return f32(i, name);
  }

  View<uint8_t> u8(size_t i, const char* name) const {
    return typed<uint8_t>(i, name, napi_uint8_array, "Uint8Array");
  }

  View<int32_t> i32(size_t i, const char* name) const {
    return typed<int32_t>(i, name, napi_int32_array, "Int32Array");
  }

  double number(size_t i, const char* name) const {
    double d;
    if (napi_get_value_double(info_.Env(), info_[i], &d) != napi_ok)
      type_error(std::string(name) + " must be a number, got " + describe(info_[i]));
    return d;
  }

  // A size, count, offset, stride or leading dimension: an integer in [0, max].
  int64_t size(size_t i, const char* name, double max = kMaxSafe) const {
    const double d = number(i, name);
    if (!(d >= 0) || d != std::floor(d) || d > max) {
      std::ostringstream os;
      os << name << " must be a non-negative integer";
      if (max < kMaxSafe) os << " <= " << static_cast<int64_t>(max);
      os << ", got " << d;
      range_error(os.str());
    }
    return static_cast<int64_t>(d);
  }

  bool boolean(size_t i, const char* name) const {
    bool b;
    if (napi_get_value_bool(info_.Env(), info_[i], &b) != napi_ok)
      type_error(std::string(name) + " must be a boolean, got " + describe(info_[i]));
    return b;
  }

  // Seeds follow js.ts's `seed >>> 0` (ToUint32).
  uint32_t uint32(size_t i, const char* name) const {
    uint32_t u;
    if (napi_get_value_uint32(info_.Env(), info_[i], &u) != napi_ok)
      type_error(std::string(name) + " must be a number, got " + describe(info_[i]));
    return u;
  }

  // Throws unless `buf` holds at least `need` elements; `what` says why that many.
  template <typename T>
  void need(const View<T>& buf, const char* name, double need, const std::string& what) const {
    if (buf.n < need) {
      std::ostringstream os;
      os.precision(17);
      os << name << " is too short: " << what << " needs " << need << " elements, but it has " << buf.n;
      range_error(os.str());
    }
  }

  const char* kernel() const { return kernel_; }

 private:
  const Napi::CallbackInfo& info_;
  const char* kernel_;
};

std::string dims(std::initializer_list<std::pair<const char*, double>> kv) {
  std::ostringstream os;
  os.precision(17);
  bool first = true;
  for (auto& [k, v] : kv) {
    os << (first ? "" : ", ") << k << "=" << v;
    first = false;
  }
  return os.str();
}

// ---------------------------------------------------------------------------
// GEMM

// Checks one operand of a GEMM: stored rows x cols with leading dimension ld,
// repeated `count` times at the largest batch offset `span`. Returns nothing;
// throws on a short buffer or ld < cols.
void check_operand(const Args& a, const View<float>& buf, const char* name, const char* ldName, bool trans,
                   double rows, double cols, int64_t off, int64_t ld, double span) {
  if (ld < cols) {
    std::ostringstream os;
    os << ldName << "=" << ld << " is smaller than the " << cols << " columns " << name
       << " has as stored (trans" << name << "=" << (trans ? "true" : "false") << ")";
    a.range_error(os.str());
  }
  const double need = off + span + (rows - 1) * static_cast<double>(ld) + cols;
  std::ostringstream os;
  os << name << " stored " << rows << "x" << cols << " (offset " << off << ", " << ldName << "=" << ld;
  if (span > 0) os << ", last matrix at +" << static_cast<int64_t>(span);
  os << ")";
  a.need(buf, name, need, os.str());
}

struct GemmShape {
  bool tA, tB;
  int M, N, K;
  double alpha, beta;
};

// sgemm(transA, transB, M, N, K, alpha, A, offA, lda, B, offB, ldb, beta, C, offC, ldc)
Napi::Value Sgemm(const Napi::CallbackInfo& info) {
  Args a(info, "sgemm", 16);
  GemmShape s;
  s.tA = a.boolean(0, "transA");
  s.tB = a.boolean(1, "transB");
  s.M = static_cast<int>(a.size(2, "M", kIntMax));
  s.N = static_cast<int>(a.size(3, "N", kIntMax));
  s.K = static_cast<int>(a.size(4, "K", kIntMax));
  s.alpha = a.number(5, "alpha");
  View<float> A = a.f32(6, "A");
  const int64_t offA = a.size(7, "offA");
  const int lda = static_cast<int>(a.size(8, "lda", kIntMax));
  View<float> B = a.f32(9, "B");
  const int64_t offB = a.size(10, "offB");
  const int ldb = static_cast<int>(a.size(11, "ldb", kIntMax));
  s.beta = a.number(12, "beta");
  View<float> C = a.f32(13, "C");
  const int64_t offC = a.size(14, "offC");
  const int ldc = static_cast<int>(a.size(15, "ldc", kIntMax));
  if (s.M == 0 || s.N == 0) return info.Env().Undefined();
  check_operand(a, C, "C", "ldc", false, s.M, s.N, offC, ldc, 0);
  if (s.K > 0 && s.alpha != 0) {  // otherwise A and B are never read (C = beta C)
    check_operand(a, A, "A", "lda", s.tA, s.tA ? s.K : s.M, s.tA ? s.M : s.K, offA, lda, 0);
    check_operand(a, B, "B", "ldb", s.tB, s.tB ? s.N : s.K, s.tB ? s.K : s.N, offB, ldb, 0);
  }
  lms::sgemm(s.tA, s.tB, s.M, s.N, s.K, static_cast<float>(s.alpha), A.p + offA, lda, B.p + offB, ldb,
             static_cast<float>(s.beta), C.p + offC, ldc);
  return info.Env().Undefined();
}

// sgemmBatched(transA, transB, M, N, K, alpha,
//   A, offA, lda, sAo, sAi, B, offB, ldb, sBo, sBi, beta, C, offC, ldc, sCo, sCi, outer, inner)
Napi::Value SgemmBatched(const Napi::CallbackInfo& info) {
  Args a(info, "sgemmBatched", 24);
  GemmShape s;
  s.tA = a.boolean(0, "transA");
  s.tB = a.boolean(1, "transB");
  s.M = static_cast<int>(a.size(2, "M", kIntMax));
  s.N = static_cast<int>(a.size(3, "N", kIntMax));
  s.K = static_cast<int>(a.size(4, "K", kIntMax));
  s.alpha = a.number(5, "alpha");
  View<float> A = a.f32(6, "A");
  const int64_t offA = a.size(7, "offA");
  const int lda = static_cast<int>(a.size(8, "lda", kIntMax));
  const int64_t sAo = a.size(9, "strideAOuter");
  const int64_t sAi = a.size(10, "strideAInner");
  View<float> B = a.f32(11, "B");
  const int64_t offB = a.size(12, "offB");
  const int ldb = static_cast<int>(a.size(13, "ldb", kIntMax));
  const int64_t sBo = a.size(14, "strideBOuter");
  const int64_t sBi = a.size(15, "strideBInner");
  s.beta = a.number(16, "beta");
  View<float> C = a.f32(17, "C");
  const int64_t offC = a.size(18, "offC");
  const int ldc = static_cast<int>(a.size(19, "ldc", kIntMax));
  const int64_t sCo = a.size(20, "strideCOuter");
  const int64_t sCi = a.size(21, "strideCInner");
  const int64_t outer = a.size(22, "outer", kIntMax);
  const int64_t inner = a.size(23, "inner", kIntMax);
  if (s.M == 0 || s.N == 0 || outer == 0 || inner == 0) return info.Env().Undefined();
  // Strides are non-negative, so the last matrix is the furthest one.
  auto span = [&](int64_t so, int64_t si) { return static_cast<double>(outer - 1) * so + static_cast<double>(inner - 1) * si; };
  check_operand(a, C, "C", "ldc", false, s.M, s.N, offC, ldc, span(sCo, sCi));
  if (s.K > 0 && s.alpha != 0) {
    check_operand(a, A, "A", "lda", s.tA, s.tA ? s.K : s.M, s.tA ? s.M : s.K, offA, lda, span(sAo, sAi));
    check_operand(a, B, "B", "ldb", s.tB, s.tB ? s.N : s.K, s.tB ? s.K : s.N, offB, ldb, span(sBo, sBi));
  }
  lms::sgemm_batched(s.tA, s.tB, s.M, s.N, s.K, static_cast<float>(s.alpha), A.p + offA, lda, sAo, sAi,
                     B.p + offB, ldb, sBo, sBi, static_cast<float>(s.beta), C.p + offC, ldc, sCo, sCi, outer,
                     inner);
  return info.Env().Undefined();
}

// ---------------------------------------------------------------------------
// Row and elementwise kernels

std::string rc(double R, double C) { return dims({{"R", R}, {"C", C}}) + " (R*C)"; }
std::string nn(double N) { return dims({{"N", N}}); }

// biasAdd(out, inp, bias, R, C)
Napi::Value BiasAdd(const Napi::CallbackInfo& info) {
  Args a(info, "biasAdd", 5);
  auto out = a.f32(0, "out");
  auto inp = a.f32(1, "inp");
  auto bias = a.f32(2, "bias");
  const int64_t R = a.size(3, "R"), C = a.size(4, "C");
  const double RC = static_cast<double>(R) * C;
  a.need(out, "out", RC, rc(R, C));
  a.need(inp, "inp", RC, rc(R, C));
  if (R > 0) a.need(bias, "bias", C, dims({{"C", double(C)}}));
  lms::bias_add(out.p, inp.p, bias.p, R, C);
  return info.Env().Undefined();
}

// biasBackward(dbias, dout, R, C)
Napi::Value BiasBackward(const Napi::CallbackInfo& info) {
  Args a(info, "biasBackward", 4);
  auto dbias = a.f32(0, "dbias");
  auto dout = a.f32(1, "dout");
  const int64_t R = a.size(2, "R"), C = a.size(3, "C");
  a.need(dout, "dout", static_cast<double>(R) * C, rc(R, C));
  if (R > 0) a.need(dbias, "dbias", C, dims({{"C", double(C)}}));
  lms::bias_backward(dbias.p, dout.p, R, C);
  return info.Env().Undefined();
}

// Two-buffer elementwise kernels: f(out, inp, N)
template <void (*F)(float*, const float*, int64_t)>
Napi::Value Unary(const Napi::CallbackInfo& info, const char* kernel) {
  Args a(info, kernel, 3);
  auto out = a.f32(0, "out");
  auto inp = a.f32(1, "inp");
  const int64_t N = a.size(2, "N");
  a.need(out, "out", N, nn(N));
  a.need(inp, "inp", N, nn(N));
  F(out.p, inp.p, N);
  return info.Env().Undefined();
}

// Three-buffer backward kernels: f(dinp, dout, saved, N)
template <void (*F)(float*, const float*, const float*, int64_t)>
Napi::Value UnaryBackward(const Napi::CallbackInfo& info, const char* kernel, const char* savedName) {
  Args a(info, kernel, 4);
  auto dinp = a.f32(0, "dinp");
  auto dout = a.f32(1, "dout");
  auto saved = a.f32(2, savedName);
  const int64_t N = a.size(3, "N");
  a.need(dinp, "dinp", N, nn(N));
  a.need(dout, "dout", N, nn(N));
  a.need(saved, savedName, N, nn(N));
  F(dinp.p, dout.p, saved.p, N);
  return info.Env().Undefined();
}

Napi::Value GeluForward(const Napi::CallbackInfo& info) { return Unary<lms::gelu_forward>(info, "geluForward"); }
Napi::Value GeluBackward(const Napi::CallbackInfo& info) {
  return UnaryBackward<lms::gelu_backward>(info, "geluBackward", "inp");
}
Napi::Value TanhForward(const Napi::CallbackInfo& info) { return Unary<lms::tanh_forward>(info, "tanhForward"); }
Napi::Value TanhBackward(const Napi::CallbackInfo& info) {
  return UnaryBackward<lms::tanh_backward>(info, "tanhBackward", "out");
}

// layerNormForward(out, mean, rstd, inp, weight, bias, R, C, eps)
Napi::Value LayerNormForward(const Napi::CallbackInfo& info) {
  Args a(info, "layerNormForward", 9);
  auto out = a.f32(0, "out");
  auto mean = a.f32(1, "mean");
  auto rstd = a.f32(2, "rstd");
  auto inp = a.f32(3, "inp");
  auto weight = a.f32(4, "weight");
  auto bias = a.f32(5, "bias");
  const int64_t R = a.size(6, "R"), C = a.size(7, "C");
  const double eps = a.number(8, "eps");
  const double RC = static_cast<double>(R) * C;
  a.need(out, "out", RC, rc(R, C));
  a.need(inp, "inp", RC, rc(R, C));
  a.need(mean, "mean", R, dims({{"R", double(R)}}));
  a.need(rstd, "rstd", R, dims({{"R", double(R)}}));
  if (R > 0) {
    a.need(weight, "weight", C, dims({{"C", double(C)}}));
    a.need(bias, "bias", C, dims({{"C", double(C)}}));
  }
  lms::layernorm_forward(out.p, mean.p, rstd.p, inp.p, weight.p, bias.p, R, C, eps);
  return info.Env().Undefined();
}

// layerNormBackward(dinp | null, dweight | null, dbias | null, dout, inp, weight, mean, rstd, R, C)
Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
  Args a(info, "layerNormBackward", 10);
  auto dinp = a.f32_or_null(0, "dinp");
  auto dweight = a.f32_or_null(1, "dweight");
  auto dbias = a.f32_or_null(2, "dbias");
  auto dout = a.f32(3, "dout");
  auto inp = a.f32(4, "inp");
  auto weight = a.f32(5, "weight");
  auto mean = a.f32(6, "mean");
  auto rstd = a.f32(7, "rstd");
  const int64_t R = a.size(8, "R"), C = a.size(9, "C");
  const double RC = static_cast<double>(R) * C;
  if (dinp.p) a.need(dinp, "dinp", RC, rc(R, C));
  a.need(dout, "dout", RC, rc(R, C));
  a.need(inp, "inp", RC, rc(R, C));
  a.need(mean, "mean", R, dims({{"R", double(R)}}));
  a.need(rstd, "rstd", R, dims({{"R", double(R)}}));
  if (R > 0) {
    if (dinp.p) a.need(weight, "weight", C, dims({{"C", double(C)}}));
    if (dweight.p) a.need(dweight, "dweight", C, dims({{"C", double(C)}}));
    if (dbias.p) a.need(dbias, "dbias", C, dims({{"C", double(C)}}));
  }
  lms::layernorm_backward(dinp.p, dweight.p, dbias.p, dout.p, inp.p, weight.p, mean.p, rstd.p, R, C);
  return info.Env().Undefined();
}

// softmaxForward(out, inp, mask | null, scale, R, C, rowsPerMask)
Napi::Value SoftmaxForward(const Napi::CallbackInfo& info) {
  Args a(info, "softmaxForward", 7);
  auto out = a.f32(0, "out");
  auto inp = a.f32(1, "inp");
  auto mask = a.f32_or_null(2, "mask");
  const double scale = a.number(3, "scale");
  const int64_t R = a.size(4, "R"), C = a.size(5, "C");
  const double RC = static_cast<double>(R) * C;
  a.need(out, "out", RC, rc(R, C));
  a.need(inp, "inp", RC, rc(R, C));
  int64_t rowsPerMask = 1;
  if (mask.p) {
    rowsPerMask = a.size(6, "rowsPerMask");
    if (rowsPerMask == 0) a.range_error("rowsPerMask must be >= 1 when a mask is given, got 0");
    if (R > 0) {
      const double maskRows = static_cast<double>((R - 1) / rowsPerMask + 1);
      a.need(mask, "mask", maskRows * C,
             dims({{"R", double(R)}, {"C", double(C)}, {"rowsPerMask", double(rowsPerMask)}}) +
                 " (ceil(R / rowsPerMask) * C)");
    }
  }
  lms::softmax_forward(out.p, inp.p, mask.p, scale, R, C, rowsPerMask);
  return info.Env().Undefined();
}

// softmaxBackward(dinp, dout, out, scale, R, C)
Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  Args a(info, "softmaxBackward", 6);
  auto dinp = a.f32(0, "dinp");
  auto dout = a.f32(1, "dout");
  auto out = a.f32(2, "out");
  const double scale = a.number(3, "scale");
  const int64_t R = a.size(4, "R"), C = a.size(5, "C");
  const double RC = static_cast<double>(R) * C;
  a.need(dinp, "dinp", RC, rc(R, C));
  a.need(dout, "dout", RC, rc(R, C));
  a.need(out, "out", RC, rc(R, C));
  lms::softmax_backward(dinp.p, dout.p, out.p, scale, R, C);
  return info.Env().Undefined();
}

// logSoftmaxForward(out, inp, R, C)
Napi::Value LogSoftmaxForward(const Napi::CallbackInfo& info) {
  Args a(info, "logSoftmaxForward", 4);
  auto out = a.f32(0, "out");
  auto inp = a.f32(1, "inp");
  const int64_t R = a.size(2, "R"), C = a.size(3, "C");
  const double RC = static_cast<double>(R) * C;
  a.need(out, "out", RC, rc(R, C));
  a.need(inp, "inp", RC, rc(R, C));
  lms::logsoftmax_forward(out.p, inp.p, R, C);
  return info.Env().Undefined();
}

// logSoftmaxBackward(dinp, dout, out, R, C)
Napi::Value LogSoftmaxBackward(const Napi::CallbackInfo& info) {
  Args a(info, "logSoftmaxBackward", 5);
  auto dinp = a.f32(0, "dinp");
  auto dout = a.f32(1, "dout");
  auto out = a.f32(2, "out");
  const int64_t R = a.size(3, "R"), C = a.size(4, "C");
  const double RC = static_cast<double>(R) * C;
  a.need(dinp, "dinp", RC, rc(R, C));
  a.need(dout, "dout", RC, rc(R, C));
  a.need(out, "out", RC, rc(R, C));
  lms::logsoftmax_backward(dinp.p, dout.p, out.p, R, C);
  return info.Env().Undefined();
}

// Every id must name a whole row of the table: 0 <= id < table.length / C.
void check_ids(const Args& a, const View<int32_t>& ids, const View<float>& table, const char* tableName,
               int64_t N, int64_t C) {
  a.need(ids, "ids", N, nn(N));
  if (C == 0) return;  // nothing is read or written
  const double rows = std::floor(table.n / static_cast<double>(C));
  for (int64_t n = 0; n < N; n++) {
    const int32_t id = ids.p[n];
    if (id < 0 || id >= rows) {
      std::ostringstream os;
      os << "ids[" << n << "] = " << id << " is out of range [0, " << static_cast<int64_t>(rows) << ") ("
         << tableName << " has " << static_cast<int64_t>(table.n) << " elements, C=" << C << ")";
      a.range_error(os.str());
    }
  }
}

// embeddingForward(out, ids, table, N, C)
Napi::Value EmbeddingForward(const Napi::CallbackInfo& info) {
  Args a(info, "embeddingForward", 5);
  auto out = a.f32(0, "out");
  auto ids = a.i32(1, "ids");
  auto table = a.f32(2, "table");
  const int64_t N = a.size(3, "N"), C = a.size(4, "C");
  a.need(out, "out", static_cast<double>(N) * C, dims({{"N", double(N)}, {"C", double(C)}}) + " (N*C)");
  check_ids(a, ids, table, "table", N, C);
  lms::embedding_forward(out.p, ids.p, table.p, N, C);
  return info.Env().Undefined();
}

// embeddingBackward(dtable, dout, ids, N, C)
Napi::Value EmbeddingBackward(const Napi::CallbackInfo& info) {
  Args a(info, "embeddingBackward", 5);
  auto dtable = a.f32(0, "dtable");
  auto dout = a.f32(1, "dout");
  auto ids = a.i32(2, "ids");
  const int64_t N = a.size(3, "N"), C = a.size(4, "C");
  a.need(dout, "dout", static_cast<double>(N) * C, dims({{"N", double(N)}, {"C", double(C)}}) + " (N*C)");
  check_ids(a, ids, dtable, "dtable", N, C);  // all checked before any row is touched
  lms::embedding_backward(dtable.p, dout.p, ids.p, N, C);
  return info.Env().Undefined();
}

// dropoutForward(out, keep, inp, N, p, seed)
Napi::Value DropoutForward(const Napi::CallbackInfo& info) {
  Args a(info, "dropoutForward", 6);
  auto out = a.f32(0, "out");
  auto keep = a.u8(1, "keep");
  auto inp = a.f32(2, "inp");
  const int64_t N = a.size(3, "N");
  const double p = a.number(4, "p");
  const uint32_t seed = a.uint32(5, "seed");
  a.need(out, "out", N, nn(N));
  a.need(keep, "keep", N, nn(N));
  a.need(inp, "inp", N, nn(N));
  lms::dropout_forward(out.p, keep.p, inp.p, N, p, seed);
  return info.Env().Undefined();
}

// dropoutBackward(dinp, dout, keep, N, p)
Napi::Value DropoutBackward(const Napi::CallbackInfo& info) {
  Args a(info, "dropoutBackward", 5);
  auto dinp = a.f32(0, "dinp");
  auto dout = a.f32(1, "dout");
  auto keep = a.u8(2, "keep");
  const int64_t N = a.size(3, "N");
  const double p = a.number(4, "p");
  a.need(dinp, "dinp", N, nn(N));
  a.need(dout, "dout", N, nn(N));
  a.need(keep, "keep", N, nn(N));
  lms::dropout_backward(dinp.p, dout.p, keep.p, N, p);
  return info.Env().Undefined();
}

// add(out, a, b, N)
Napi::Value Add(const Napi::CallbackInfo& info) {
  Args a(info, "add", 4);
  auto out = a.f32(0, "out");
  auto x = a.f32(1, "a");
  auto y = a.f32(2, "b");
  const int64_t N = a.size(3, "N");
  a.need(out, "out", N, nn(N));
  a.need(x, "a", N, nn(N));
  a.need(y, "b", N, nn(N));
  lms::add(out.p, x.p, y.p, N);
  return info.Env().Undefined();
}

// axpy(N, alpha, x, offX, y, offY)
Napi::Value Axpy(const Napi::CallbackInfo& info) {
  Args a(info, "axpy", 6);
  const int64_t N = a.size(0, "N");
  const double alpha = a.number(1, "alpha");
  auto x = a.f32(2, "x");
  const int64_t offX = a.size(3, "offX");
  auto y = a.f32(4, "y");
  const int64_t offY = a.size(5, "offY");
  if (N == 0) return info.Env().Undefined();
  a.need(x, "x", static_cast<double>(offX) + N, dims({{"offX", double(offX)}, {"N", double(N)}}) + " (offX+N)");
  a.need(y, "y", static_cast<double>(offY) + N, dims({{"offY", double(offY)}, {"N", double(N)}}) + " (offY+N)");
  lms::axpy(N, alpha, x.p + offX, y.p + offY);
  return info.Env().Undefined();
}

// scale(x, N, alpha)
Napi::Value Scale(const Napi::CallbackInfo& info) {
  Args a(info, "scale", 3);
  auto x = a.f32(0, "x");
  const int64_t N = a.size(1, "N");
  const double alpha = a.number(2, "alpha");
  a.need(x, "x", N, nn(N));
  lms::scale(x.p, N, alpha);
  return info.Env().Undefined();
}

// sum(x, N) -> number
Napi::Value Sum(const Napi::CallbackInfo& info) {
  Args a(info, "sum", 2);
  auto x = a.f32(0, "x");
  const int64_t N = a.size(1, "N");
  a.need(x, "x", N, nn(N));
  return Napi::Number::New(info.Env(), lms::sum(x.p, N));
}

// sumSquaredDiff(a, b | null, N) -> number
Napi::Value SumSquaredDiff(const Napi::CallbackInfo& info) {
  Args a(info, "sumSquaredDiff", 3);
  auto x = a.f32(0, "a");
  auto y = a.f32_or_null(1, "b");
  const int64_t N = a.size(2, "N");
  a.need(x, "a", N, nn(N));
  if (y.p) a.need(y, "b", N, nn(N));
  return Napi::Number::New(info.Env(), lms::sum_squared_diff(x.p, y.p, N));
}

// maxAbs(x, N) -> number
Napi::Value MaxAbs(const Napi::CallbackInfo& info) {
  Args a(info, "maxAbs", 2);
  auto x = a.f32(0, "x");
  const int64_t N = a.size(1, "N");
  a.need(x, "x", N, nn(N));
  return Napi::Number::New(info.Env(), lms::max_abs(x.p, N));
}

// firstNonFinite(x, N) -> index of the first NaN/±Infinity, or -1
Napi::Value FirstNonFinite(const Napi::CallbackInfo& info) {
  Args a(info, "firstNonFinite", 2);
  auto x = a.f32(0, "x");
  const int64_t N = a.size(1, "N");
  a.need(x, "x", N, nn(N));
  return Napi::Number::New(info.Env(), static_cast<double>(lms::first_non_finite(x.p, N)));
}

// adamStep(param, grad, m, v, N, lr, beta1, beta2, eps, weightDecay, step)
Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  Args a(info, "adamStep", 11);
  auto param = a.f32(0, "param");
  auto grad = a.f32(1, "grad");
  auto m = a.f32(2, "m");
  auto v = a.f32(3, "v");
  const int64_t N = a.size(4, "N");
  const double lr = a.number(5, "lr"), beta1 = a.number(6, "beta1"), beta2 = a.number(7, "beta2");
  const double eps = a.number(8, "eps"), wd = a.number(9, "weightDecay"), step = a.number(10, "step");
  a.need(param, "param", N, nn(N));
  a.need(grad, "grad", N, nn(N));
  a.need(m, "m", N, nn(N));
  a.need(v, "v", N, nn(N));
  lms::adam_step(param.p, grad.p, m.p, v.p, N, lr, beta1, beta2, eps, wd, step);
  return info.Env().Undefined();
}

// ---------------------------------------------------------------------------
// Fused kernels (contracts in types.ts)

void check_labels(const Args& a, const View<int32_t>& labels, int64_t R, int64_t C, int32_t ignore) {
  a.need(labels, "labels", R, dims({{"R", double(R)}}));
  for (int64_t r = 0; r < R; r++) {
    const int32_t l = labels.p[r];
    if (l != ignore && (l < 0 || l >= C)) {
      std::ostringstream os;
      os << "labels[" << r << "] = " << l << " is outside [0, " << C << ") and is not ignoreIndex " << ignore;
      a.range_error(os.str());
    }
  }
}

int32_t int32_arg(const Args& a, const Napi::CallbackInfo& info, size_t i, const char* name) {
  const double d = a.number(i, name);
  if (d != std::floor(d) || d < -2147483648.0 || d > 2147483647.0) {
    std::ostringstream os;
    os << name << " must be a 32-bit integer, got " << d;
    a.range_error(os.str());
  }
  (void)info;
  return static_cast<int32_t>(d);
}

// crossEntropyForward(lse, logits, labels, R, C, ignoreIndex) -> number
Napi::Value CrossEntropyForward(const Napi::CallbackInfo& info) {
  Args a(info, "crossEntropyForward", 6);
  auto lse = a.f32(0, "lse");
  auto logits = a.f32(1, "logits");
  auto labels = a.i32(2, "labels");
  const int64_t R = a.size(3, "R"), C = a.size(4, "C");
  const int32_t ignore = int32_arg(a, info, 5, "ignoreIndex");
  a.need(logits, "logits", static_cast<double>(R) * C, rc(R, C));
  a.need(lse, "lse", R, dims({{"R", double(R)}}));
  check_labels(a, labels, R, C, ignore);
  return Napi::Number::New(info.Env(), lms::cross_entropy_forward(lse.p, logits.p, labels.p, R, C, ignore));
}

// crossEntropyBackward(dlogits, logits, lse, labels, R, C, scale, ignoreIndex, accumulate)
Napi::Value CrossEntropyBackward(const Napi::CallbackInfo& info) {
  Args a(info, "crossEntropyBackward", 9);
  auto dlogits = a.f32(0, "dlogits");
  auto logits = a.f32(1, "logits");
  auto lse = a.f32(2, "lse");
  auto labels = a.i32(3, "labels");
  const int64_t R = a.size(4, "R"), C = a.size(5, "C");
  const double scale = a.number(6, "scale");
  const int32_t ignore = int32_arg(a, info, 7, "ignoreIndex");
  const bool accumulate = a.boolean(8, "accumulate");
  const double RC = static_cast<double>(R) * C;
  a.need(dlogits, "dlogits", RC, rc(R, C));
  a.need(logits, "logits", RC, rc(R, C));
  a.need(lse, "lse", R, dims({{"R", double(R)}}));
  check_labels(a, labels, R, C, ignore);
  lms::cross_entropy_backward(dlogits.p, logits.p, lse.p, labels.p, R, C, scale, ignore, accumulate);
  return info.Env().Undefined();
}

// addLayerNormForward(out, sum, mean, rstd, x, res, weight, bias, R, C, eps, p, seed)
Napi::Value AddLayerNormForward(const Napi::CallbackInfo& info) {
  Args a(info, "addLayerNormForward", 13);
  auto out = a.f32(0, "out");
  auto sum = a.f32(1, "sum");
  auto mean = a.f32(2, "mean");
  auto rstd = a.f32(3, "rstd");
  auto x = a.f32(4, "x");
  auto res = a.f32(5, "res");
  auto weight = a.f32(6, "weight");
  auto bias = a.f32(7, "bias");
  const int64_t R = a.size(8, "R"), C = a.size(9, "C");
  const double eps = a.number(10, "eps");
  const double p = a.number(11, "p");
  const uint32_t seed = a.uint32(12, "seed");
  if (!(p >= 0 && p < 1)) a.range_error("p must be in [0, 1)");
  const double RC = static_cast<double>(R) * C;
  a.need(out, "out", RC, rc(R, C));
  a.need(sum, "sum", RC, rc(R, C));
  a.need(x, "x", RC, rc(R, C));
  a.need(res, "res", RC, rc(R, C));
  a.need(mean, "mean", R, dims({{"R", double(R)}}));
  a.need(rstd, "rstd", R, dims({{"R", double(R)}}));
  if (R > 0) {
    a.need(weight, "weight", C, dims({{"C", double(C)}}));
    a.need(bias, "bias", C, dims({{"C", double(C)}}));
  }
  lms::add_layernorm_forward(out.p, sum.p, mean.p, rstd.p, x.p, res.p, weight.p, bias.p, R, C, eps, p, seed);
  return info.Env().Undefined();
}

// addLayerNormBackward(dx | null, dres | null, dweight | null, dbias | null, dout, sum, weight, mean, rstd,
//                      R, C, p, seed, accumulateX, accumulateRes)
Napi::Value AddLayerNormBackward(const Napi::CallbackInfo& info) {
  Args a(info, "addLayerNormBackward", 15);
  auto dx = a.f32_or_null(0, "dx");
  auto dres = a.f32_or_null(1, "dres");
  auto dweight = a.f32_or_null(2, "dweight");
  auto dbias = a.f32_or_null(3, "dbias");
  auto dout = a.f32(4, "dout");
  auto sum = a.f32(5, "sum");
  auto weight = a.f32(6, "weight");
  auto mean = a.f32(7, "mean");
  auto rstd = a.f32(8, "rstd");
  const int64_t R = a.size(9, "R"), C = a.size(10, "C");
  const double p = a.number(11, "p");
  const uint32_t seed = a.uint32(12, "seed");
  const bool accX = a.boolean(13, "accumulateX");
  const bool accRes = a.boolean(14, "accumulateRes");
  if (!(p >= 0 && p < 1)) a.range_error("p must be in [0, 1)");
  const double RC = static_cast<double>(R) * C;
  if (dx.p) a.need(dx, "dx", RC, rc(R, C));
  if (dres.p) a.need(dres, "dres", RC, rc(R, C));
  a.need(dout, "dout", RC, rc(R, C));
  a.need(sum, "sum", RC, rc(R, C));
  a.need(mean, "mean", R, dims({{"R", double(R)}}));
  a.need(rstd, "rstd", R, dims({{"R", double(R)}}));
  if (R > 0) {
    a.need(weight, "weight", C, dims({{"C", double(C)}}));
    if (dweight.p) a.need(dweight, "dweight", C, dims({{"C", double(C)}}));
    if (dbias.p) a.need(dbias, "dbias", C, dims({{"C", double(C)}}));
  }
  lms::add_layernorm_backward(dx.p, dres.p, dweight.p, dbias.p, dout.p, sum.p, weight.p, mean.p, rstd.p, R, C, p, seed,
                              accX, accRes);
  return info.Env().Undefined();
}

// biasGeluForward(out, pre, inp, bias, R, C)
Napi::Value BiasGeluForward(const Napi::CallbackInfo& info) {
  Args a(info, "biasGeluForward", 6);
  auto out = a.f32(0, "out");
  auto pre = a.f32(1, "pre");
  auto inp = a.f32(2, "inp");
  auto bias = a.f32(3, "bias");
  const int64_t R = a.size(4, "R"), C = a.size(5, "C");
  const double RC = static_cast<double>(R) * C;
  a.need(out, "out", RC, rc(R, C));
  a.need(pre, "pre", RC, rc(R, C));
  a.need(inp, "inp", RC, rc(R, C));
  if (R > 0) a.need(bias, "bias", C, dims({{"C", double(C)}}));
  lms::bias_gelu_forward(out.p, pre.p, inp.p, bias.p, R, C);
  return info.Env().Undefined();
}

// biasGeluBackward(dpre, dbias | null, dout, pre, R, C)
Napi::Value BiasGeluBackward(const Napi::CallbackInfo& info) {
  Args a(info, "biasGeluBackward", 6);
  auto dpre = a.f32(0, "dpre");
  auto dbias = a.f32_or_null(1, "dbias");
  auto dout = a.f32(2, "dout");
  auto pre = a.f32(3, "pre");
  const int64_t R = a.size(4, "R"), C = a.size(5, "C");
  const double RC = static_cast<double>(R) * C;
  a.need(dpre, "dpre", RC, rc(R, C));
  a.need(dout, "dout", RC, rc(R, C));
  a.need(pre, "pre", RC, rc(R, C));
  if (R > 0 && dbias.p) a.need(dbias, "dbias", C, dims({{"C", double(C)}}));
  lms::bias_gelu_backward(dpre.p, dbias.p, dout.p, pre.p, R, C);
  return info.Env().Undefined();
}

// A JS array of Float32Arrays: pointers and lengths, each element checked.
struct F32List {
  std::vector<float*> p;
  std::vector<int64_t> n;
};

F32List f32_list(const Args& a, const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsArray()) a.type_error(std::string(name) + " must be an Array of Float32Array, got " + describe(info[i]));
  Napi::Array arr = info[i].As<Napi::Array>();
  F32List out;
  const uint32_t len = arr.Length();
  out.p.resize(len);
  out.n.resize(len);
  for (uint32_t k = 0; k < len; k++) {
    Napi::Value v = arr.Get(k);
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    if (napi_get_typedarray_info(info.Env(), v, &type, &length, &data, nullptr, nullptr) != napi_ok ||
        type != napi_float32_array) {
      std::ostringstream os;
      os << name << "[" << k << "] must be a Float32Array, got " << describe(v);
      a.type_error(os.str());
    }
    out.p[k] = static_cast<float*>(data);
    out.n[k] = static_cast<int64_t>(length);
  }
  return out;
}

// adamStepMany(params[], grads[], m[], v[], weightDecays[], lr, beta1, beta2, eps, step, gradScale)
Napi::Value AdamStepMany(const Napi::CallbackInfo& info) {
  Args a(info, "adamStepMany", 11);
  F32List P = f32_list(a, info, 0, "params"), G = f32_list(a, info, 1, "grads");
  F32List M = f32_list(a, info, 2, "m"), V = f32_list(a, info, 3, "v");
  if (!info[4].IsArray()) a.type_error("weightDecays must be an Array of numbers, got " + describe(info[4]));
  Napi::Array wdArr = info[4].As<Napi::Array>();
  const size_t count = P.p.size();
  if (G.p.size() != count || M.p.size() != count || V.p.size() != count || wdArr.Length() != count) {
    std::ostringstream os;
    os << "params, grads, m, v and weightDecays must have the same length, got " << count << ", " << G.p.size()
       << ", " << M.p.size() << ", " << V.p.size() << ", " << wdArr.Length();
    a.range_error(os.str());
  }
  std::vector<double> wd(count);
  for (size_t k = 0; k < count; k++) {
    Napi::Value v = wdArr.Get(static_cast<uint32_t>(k));
    if (!v.IsNumber()) a.type_error("weightDecays[" + std::to_string(k) + "] must be a number, got " + describe(v));
    wd[k] = v.As<Napi::Number>().DoubleValue();
    const int64_t n = P.n[k];
    if (G.n[k] < n || M.n[k] < n || V.n[k] < n) {
      std::ostringstream os;
      os << "tensor " << k << ": param has " << n << " elements but grad/m/v have " << G.n[k] << "/" << M.n[k] << "/"
         << V.n[k];
      a.range_error(os.str());
    }
  }
  const double lr = a.number(5, "lr"), beta1 = a.number(6, "beta1"), beta2 = a.number(7, "beta2");
  const double eps = a.number(8, "eps"), step = a.number(9, "step"), gscale = a.number(10, "gradScale");
  lms::adam_step_many(P.p.data(), G.p.data(), M.p.data(), V.p.data(), P.n.data(), wd.data(),
                      static_cast<int64_t>(count), lr, beta1, beta2, eps, step, gscale);
  return info.Env().Undefined();
}

// sumSquaresMany(xs[]) -> number
Napi::Value SumSquaresMany(const Napi::CallbackInfo& info) {
  Args a(info, "sumSquaresMany", 1);
  F32List X = f32_list(a, info, 0, "xs");
  std::vector<const float*> p(X.p.begin(), X.p.end());
  return Napi::Number::New(info.Env(), lms::sum_squares_many(p.data(), X.n.data(), static_cast<int64_t>(p.size())));
}

// setBatchedMode(0 | 1 | 2): benchmarking knob, see gemm.h.
Napi::Value SetBatchedMode(const Napi::CallbackInfo& info) {
  Args a(info, "setBatchedMode", 1);
  lms::set_batched_mode(static_cast<int>(a.size(0, "mode", 2)));
  return info.Env().Undefined();
}

// hash32(seed, i): exposed so tests can compare with js.ts bit for bit.
Napi::Value Hash32(const Napi::CallbackInfo& info) {
  Args a(info, "hash32", 2);
  return Napi::Number::New(info.Env(), lms::hash32(a.uint32(0, "seed"), a.uint32(1, "i")));
}

// Ctrl-C during a long synchronous job (a scan, pretraining): the JS event
// loop is busy, so a process.on('SIGINT') handler would never run and the
// key would do nothing. A C handler sets a flag the job polls between steps;
// a second signal exits at once. The notice is printed by the JS side when
// it first sees the flag: a write from here would land inside a live
// progress bar, which redraws over it.
volatile sig_atomic_t g_interrupts = 0;
struct sigaction g_prev_int, g_prev_term;
bool g_installed = false;

void on_interrupt(int) {
  g_interrupts = g_interrupts + 1;
  if (g_interrupts >= 2) _exit(130);
}

// installInterruptHandler(): SIGINT and SIGTERM set the flag from now on.
Napi::Value InstallInterruptHandler(const Napi::CallbackInfo& info) {
  if (!g_installed) {
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &g_prev_int);
    sigaction(SIGTERM, &sa, &g_prev_term);
    g_installed = true;
  }
  g_interrupts = 0;
  return info.Env().Undefined();
}

// removeInterruptHandler(): restores whatever handled the signals before.
Napi::Value RemoveInterruptHandler(const Napi::CallbackInfo& info) {
  if (g_installed) {
    sigaction(SIGINT, &g_prev_int, nullptr);
    sigaction(SIGTERM, &g_prev_term, nullptr);
    g_installed = false;
  }
  return info.Env().Undefined();
}

// interrupted() -> boolean: whether a signal arrived since installation.
Napi::Value Interrupted(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), g_interrupts > 0);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto fn = [&](const char* name, Napi::Function::Callback cb) { exports.Set(name, Napi::Function::New(env, cb, name)); };
  fn("sgemm", Sgemm);
  fn("sgemmBatched", SgemmBatched);
  fn("biasAdd", BiasAdd);
  fn("biasBackward", BiasBackward);
  fn("geluForward", GeluForward);
  fn("geluBackward", GeluBackward);
  fn("tanhForward", TanhForward);
  fn("tanhBackward", TanhBackward);
  fn("layerNormForward", LayerNormForward);
  fn("layerNormBackward", LayerNormBackward);
  fn("softmaxForward", SoftmaxForward);
  fn("softmaxBackward", SoftmaxBackward);
  fn("logSoftmaxForward", LogSoftmaxForward);
  fn("logSoftmaxBackward", LogSoftmaxBackward);
  fn("embeddingForward", EmbeddingForward);
  fn("embeddingBackward", EmbeddingBackward);
  fn("dropoutForward", DropoutForward);
  fn("dropoutBackward", DropoutBackward);
  fn("add", Add);
  fn("axpy", Axpy);
  fn("scale", Scale);
  fn("sum", Sum);
  fn("sumSquaredDiff", SumSquaredDiff);
  fn("maxAbs", MaxAbs);
  fn("firstNonFinite", FirstNonFinite);
  fn("adamStep", AdamStep);
  fn("crossEntropyForward", CrossEntropyForward);
  fn("crossEntropyBackward", CrossEntropyBackward);
  fn("addLayerNormForward", AddLayerNormForward);
  fn("addLayerNormBackward", AddLayerNormBackward);
  fn("biasGeluForward", BiasGeluForward);
  fn("biasGeluBackward", BiasGeluBackward);
  fn("adamStepMany", AdamStepMany);
  fn("sumSquaresMany", SumSquaresMany);
  fn("setBatchedMode", SetBatchedMode);
  fn("hash32", Hash32);
  fn("installInterruptHandler", InstallInterruptHandler);
  fn("removeInterruptHandler", RemoveInterruptHandler);
  fn("interrupted", Interrupted);
  exports.Set("gemmImpl", Napi::String::New(env, lms::gemm_impl()));
  exports.Set("portableIsa", Napi::String::New(env, lms::portable_isa()));
  exports.Set("threads", Napi::Number::New(env, lms::pool_threads()));
  return exports;
}

}  // namespace

NODE_API_MODULE(lms_kernels, Init)
