// Entries of the elementwise family (elementwise.cu). `half`: the float activations are in half storage.
#include "../context.h"
#include "binding.h"

namespace tfjs_delta {
namespace {

using Info = Napi::CallbackInfo;

struct UnaryArgs {
  int op;
  const void* x;
  void* y;
  int64_t n;
  float alpha;
  bool half;
};
Napi::Value unary(const Info& info) {
  const Fields f(info);
  UnaryArgs a;
  a.op = f.i32("op");
  a.x = f.ptr("x");
  a.y = f.ptr("y");
  a.n = f.i64("n");
  a.alpha = f.f32("alpha");
  a.half = f.optFlag("half");
  launchUnary(ctx().stream, a.op, a.x, a.y, a.n, a.alpha, a.half);
  return f.undefined();
}

// Broadcasting: `out` is contiguous with shape outShape; a and b strides are 0 on their broadcast dims.
struct BinaryArgs {
  int op, dtype;
  const void* a;
  const void* b;
  void* out;
  Dims aDims, bDims, outDims;
};
Napi::Value binary(const Info& info) {
  const Fields f(info);
  BinaryArgs a;
  a.op = f.i32("op");
  a.dtype = f.i32("dtype");
  a.a = f.ptr("a");
  a.b = f.ptr("b");
  a.out = f.ptr("out");
  broadcastDims(f, &a.aDims, &a.bDims, &a.outDims);
  launchBinary(ctx().stream, a.op, a.dtype, a.a, a.b, a.out, a.aDims, a.bDims, a.outDims);
  return f.undefined();
}

// y = act(y + bias[i % biasLen]) in place; prelu (alpha per element, i % preluLen) when act is leakyrelu.
struct BiasActArgs {
  void* y;
  int64_t n;
  const float* bias;
  int64_t biasLen;
  int act;
  float alpha;
  const float* prelu;
  int64_t preluLen;
  bool half;
};
Napi::Value biasAct(const Info& info) {
  const Fields f(info);
  BiasActArgs a;
  a.y = f.ptr("y");
  a.n = f.i64("n");
  a.bias = f.ptr<const float>("bias");
  a.biasLen = f.i64("biasLen");
  a.act = f.i32("act");
  a.alpha = f.f32("alpha");
  a.prelu = f.ptr<const float>("prelu");
  a.preluLen = f.i64("preluLen");
  a.half = f.optFlag("half");
  launchBiasAct(ctx().stream, a.y, a.n, a.bias, a.biasLen, a.act, a.alpha, a.prelu, a.preluLen, a.half);
  return f.undefined();
}

struct BatchNormArgs {
  const void* x;
  void* y;
  int64_t n;
  const float *mean, *variance, *offset, *scale;
  int64_t meanLen, varianceLen, offsetLen, scaleLen;
  float epsilon;
  bool half;
};
Napi::Value batchNorm(const Info& info) {
  const Fields f(info);
  BatchNormArgs a;
  a.x = f.ptr("x");
  a.y = f.ptr("y");
  a.n = f.i64("n");
  a.mean = f.ptr<const float>("mean");
  a.meanLen = f.i64("meanLen");
  a.variance = f.ptr<const float>("variance");
  a.varianceLen = f.i64("varianceLen");
  a.offset = f.ptr<const float>("offset");
  a.offsetLen = f.i64("offsetLen");
  a.scale = f.ptr<const float>("scale");
  a.scaleLen = f.i64("scaleLen");
  a.epsilon = f.f32("epsilon");
  a.half = f.optFlag("half");
  launchBatchNorm(ctx().stream, a.x, a.y, a.n, a.mean, a.meanLen, a.variance, a.varianceLen, a.offset, a.offsetLen,
                  a.scale, a.scaleLen, a.epsilon, a.half);
  return f.undefined();
}

struct CastArgs {
  const void* x;
  int srcDtype;
  void* y;
  int dstDtype;
  int64_t n;
};
Napi::Value cast(const Info& info) {
  const Fields f(info);
  CastArgs a;
  a.x = f.ptr("x");
  a.srcDtype = f.i32("srcDtype");
  a.y = f.ptr("y");
  a.dstDtype = f.i32("dstDtype");
  a.n = f.i64("n");
  launchCast(ctx().stream, a.x, a.srcDtype, a.y, a.dstDtype, a.n);
  return f.undefined();
}

struct FillArgs {
  void* y;
  int dtype;
  int64_t n;
  double value;
};
Napi::Value fill(const Info& info) {
  const Fields f(info);
  FillArgs a;
  a.y = f.ptr("y");
  a.dtype = f.i32("dtype");
  a.n = f.i64("n");
  a.value = f.number("value");
  launchFill(ctx().stream, a.y, a.dtype, a.n, a.value);
  return f.undefined();
}

struct SoftmaxArgs {
  const float* x;
  float* y;
  int64_t rows, cols;
};
Napi::Value softmax(const Info& info) {
  const Fields f(info);
  SoftmaxArgs a;
  a.x = f.ptr<const float>("x");
  a.y = f.ptr<float>("y");
  a.rows = f.i64("rows");
  a.cols = f.i64("cols");
  launchSoftmax(ctx().stream, a.x, a.y, a.rows, a.cols);
  return f.undefined();
}

const Entry kEntries[] = {
    {"unary", unary}, {"binary", binary}, {"biasAct", biasAct}, {"batchNorm", batchNorm},
    {"cast", cast},   {"fill", fill},     {"softmax", softmax},
};

}  // namespace

void registerElementwise(Napi::Env env, Napi::Object exports) { defineEntries(env, exports, kEntries); }

}  // namespace tfjs_delta
