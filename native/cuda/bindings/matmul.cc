// Entries of the matrix-multiply family (matmul.cc, cuBLAS).
#include "../context.h"
#include "binding.h"

namespace tfjs_delta {
namespace {

using Info = Napi::CallbackInfo;

// Row-major c[b] = op(a[b]) * op(b[b]); a batch stride of 0 broadcasts.
struct GemmArgs {
  const float* a;
  const float* b;
  float* c;
  int64_t batch, m, n, k;
  bool transA, transB;
  int64_t strideA, strideB;
};
Napi::Value gemmEntry(const Info& info) {
  const Fields f(info);
  GemmArgs a;
  a.a = f.ptr<const float>("a");
  a.b = f.ptr<const float>("b");
  a.c = f.ptr<float>("c");
  a.batch = f.i64("batch");
  a.m = f.i64("m");
  a.n = f.i64("n");
  a.k = f.i64("k");
  a.transA = f.flag("transA");
  a.transB = f.flag("transB");
  a.strideA = f.i64("strideA");
  a.strideB = f.i64("strideB");
  gemm(a.a, a.b, a.c, a.batch, a.m, a.n, a.k, a.transA, a.transB, a.strideA, a.strideB);
  return f.undefined();
}

const Entry kEntries[] = {{"gemm", gemmEntry}};

}  // namespace

void registerMatmul(Napi::Env env, Napi::Object exports) { defineEntries(env, exports, kEntries); }

}  // namespace tfjs_delta
