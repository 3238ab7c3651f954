// N-API entry points of the 'cuda' backend: a thin dispatch layer. Each function unpacks its JS arguments and
// calls one launcher; every C++ exception is turned into a JS Error naming the function (never a crash, never an
// "unknown exception"). Device pointers travel as JS numbers (< 2^53).
#include <napi.h>

#include <cublas_v2.h>
#include <cudnn.h>

#include <cstring>
#include <vector>

#include "context.h"
#include "delta.h"
#include "plan.h"

namespace tfjs_delta {
namespace {

using Info = Napi::CallbackInfo;

double num(const Info& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsNumber())
    throw Error(std::string("argument ") + std::to_string(i) + " (" + name + ") must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}
int64_t i64(const Info& info, size_t i, const char* name) { return (int64_t)num(info, i, name); }
// A trailing boolean that older callers leave out: the half storage of a kernel's float activations.
bool optFlag(const Info& info, size_t i) { return i < info.Length() && info[i].IsBoolean() && info[i].As<Napi::Boolean>().Value(); }
bool flag(const Info& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsBoolean())
    throw Error(std::string("argument ") + std::to_string(i) + " (" + name + ") must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}
template <typename T = void>
T* ptr(const Info& info, size_t i, const char* name) {
  return reinterpret_cast<T*>((uintptr_t)num(info, i, name));
}
std::vector<int64_t> ints(const Info& info, size_t i, const char* name) {
  std::vector<int64_t> out;
  if (i < info.Length() && info[i].IsArray()) {
    Napi::Array a = info[i].As<Napi::Array>();
    out.resize(a.Length());
    for (uint32_t k = 0; k < a.Length(); ++k) out[k] = (int64_t)a.Get(k).As<Napi::Number>().DoubleValue();
    return out;
  }
  throw Error(std::string("argument ") + std::to_string(i) + " (" + name + ") must be an array of numbers");
}
Dims dims(const std::vector<int64_t>& shape, const std::vector<int64_t>* strides, const char* where) {
  if (shape.size() > (size_t)kMaxRank) failArg(where, "rank above " + std::to_string(kMaxRank));
  if (strides && strides->size() != shape.size()) failArg(where, "strides and shape differ in rank");
  Dims d{};
  d.rank = (int)shape.size();
  int64_t s = 1;
  for (int k = d.rank - 1; k >= 0; --k) {
    d.shape[k] = shape[k];
    d.stride[k] = strides ? (*strides)[k] : s;
    s *= shape[k];
  }
  return d;
}
struct HostView {
  void* data;
  size_t bytes;
};
HostView typed(const Info& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsTypedArray())
    throw Error(std::string("argument ") + std::to_string(i) + " (" + name + ") must be a TypedArray");
  Napi::TypedArray t = info[i].As<Napi::TypedArray>();
  Napi::ArrayBuffer ab = t.ArrayBuffer();
  return {static_cast<uint8_t*>(ab.Data()) + t.ByteOffset(), t.ByteLength()};
}

// ---- device, memory, timing ----
Napi::Value probe(const Info& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  int count = 0, driver = 0, runtime = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  o.Set("driverVersion", driver);
  o.Set("runtimeVersion", runtime);
  o.Set("deviceCount", e == cudaSuccess ? count : 0);
  std::string reason;
  if (e != cudaSuccess) {
    cudaGetLastError();
    reason = std::string("cudaGetDeviceCount failed: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
  } else if (count == 0) {
    reason = "no CUDA device found";
  }
  o.Set("ok", reason.empty());
  o.Set("reason", reason);
  return o;
}

Napi::Value init(const Info& info) {
  Context& c = initContext();
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", std::string(c.props.name));
  o.Set("computeCapability", std::to_string(c.props.major) + "." + std::to_string(c.props.minor));
  o.Set("totalMemory", (double)c.props.totalGlobalMem);
  o.Set("multiProcessors", c.props.multiProcessorCount);
  int driver = 0, runtime = 0, cublasVer = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  cublasGetVersion(c.cublas, &cublasVer);
  o.Set("driverVersion", driver);
  o.Set("runtimeVersion", runtime);
  o.Set("cudnnVersion", (double)cudnnGetVersion());
  o.Set("cublasVersion", cublasVer);
  return o;
}

Napi::Value setOptions(const Info& info) {
  Context& c = ctx();
  if (info.Length() < 1 || !info[0].IsObject()) throw Error("argument 0 (options) must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  if (o.Has("allowTF32")) c.allowTF32 = o.Get("allowTF32").ToBoolean();  // conv plans are keyed by it
  if (o.Has("findAlgorithms")) c.findAlgorithms = o.Get("findAlgorithms").ToBoolean();
  if (o.Has("poison")) c.poison = o.Get("poison").ToBoolean();
  return info.Env().Undefined();
}

Napi::Value getOptions(const Info& info) {
  Context& c = ctx();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("allowTF32", c.allowTF32);
  o.Set("findAlgorithms", c.findAlgorithms);
  o.Set("poison", c.poison);
  return o;
}

Napi::Value alloc(const Info& info) {
  Context& c = ctx();
  size_t bytes = (size_t)i64(info, 0, "bytes");
  const bool hostData = info.Length() > 1 && info[1].ToBoolean();  // an upload follows at once
  void* p = c.allocator.alloc(bytes, hostData);
  if (c.poison && bytes && !hostData) TD_CUDA("alloc", cudaMemsetAsync(p, 0xFF, bytes, c.stream));
  return Napi::Number::New(info.Env(), (double)(uintptr_t)p);
}
Napi::Value release(const Info& info) {
  ctx().allocator.release(ptr(info, 0, "ptr"));
  return info.Env().Undefined();
}
Napi::Value memory(const Info& info) {
  Context& c = ctx();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("inUse", (double)c.allocator.inUse());
  o.Set("cached", (double)c.allocator.cached());
  o.Set("reserved", (double)c.allocator.reserved());
  o.Set("blocks", (double)c.allocator.liveBlocks());
  o.Set("workspace", (double)c.workspaceBytes);
  o.Set("convPlans", (double)convCacheSize());
  size_t freeB = 0, totalB = 0;
  TD_CUDA("memory", cudaMemGetInfo(&freeB, &totalB));
  o.Set("deviceFree", (double)freeB);
  o.Set("deviceTotal", (double)totalB);
  return o;
}
Napi::Value emptyCache(const Info& info) {
  Context& c = ctx();
  refuseWhileCapturing("emptyCache");
  TD_CUDA("emptyCache", cudaStreamSynchronize(c.stream));
  c.allocator.emptyCache();
  return info.Env().Undefined();
}

Napi::Value upload(const Info& info) {
  Context& c = ctx();
  void* dst = ptr(info, 0, "dst");
  HostView h = typed(info, 1, "values");
  if (h.bytes && capturingPlan()) {  // a constant of the captured frame: copied now, not recorded
    uploadNow(dst, h.data, h.bytes);
    return info.Env().Undefined();
  }
  if (h.bytes) TD_CUDA("upload", cudaMemcpyAsync(dst, h.data, h.bytes, cudaMemcpyHostToDevice, c.stream));
  // Pageable source: the copy is staged before the call returns, so the JS array may be collected afterwards.
  return info.Env().Undefined();
}
Napi::Value download(const Info& info) {
  Context& c = ctx();
  refuseWhileCapturing("download");
  const void* src = ptr(info, 0, "src");
  HostView h = typed(info, 1, "out");
  if (h.bytes) TD_CUDA("download", cudaMemcpyAsync(h.data, src, h.bytes, cudaMemcpyDeviceToHost, c.stream));
  TD_CUDA("download", cudaStreamSynchronize(c.stream));
  return info.Env().Undefined();
}
Napi::Value copy(const Info& info) {
  Context& c = ctx();
  size_t bytes = (size_t)i64(info, 2, "bytes");
  if (bytes)
    TD_CUDA("copy", cudaMemcpyAsync(ptr(info, 0, "dst"), ptr(info, 1, "src"), bytes, cudaMemcpyDeviceToDevice, c.stream));
  return info.Env().Undefined();
}
Napi::Value sync(const Info& info) {
  refuseWhileCapturing("sync");
  TD_CUDA("sync", cudaStreamSynchronize(ctx().stream));
  return info.Env().Undefined();
}

std::vector<cudaEvent_t> g_events;
std::vector<int> g_freeEvents;
Napi::Value timerStart(const Info& info) {
  Context& c = ctx();
  refuseWhileCapturing("timerStart");
  int id;
  if (!g_freeEvents.empty()) {
    id = g_freeEvents.back();
    g_freeEvents.pop_back();
  } else {
    cudaEvent_t a, b;
    TD_CUDA("timerStart", cudaEventCreate(&a));
    TD_CUDA("timerStart", cudaEventCreate(&b));
    g_events.push_back(a);
    g_events.push_back(b);
    id = (int)g_events.size() / 2 - 1;
  }
  TD_CUDA("timerStart", cudaEventRecord(g_events[2 * id], c.stream));
  return Napi::Number::New(info.Env(), id);
}
Napi::Value timerEnd(const Info& info) {
  Context& c = ctx();
  int id = (int)i64(info, 0, "timer");
  if (id < 0 || 2 * id + 1 >= (int)g_events.size()) failArg("timerEnd", "unknown timer id");
  g_freeEvents.push_back(id);
  TD_CUDA("timerEnd", cudaEventRecord(g_events[2 * id + 1], c.stream));
  TD_CUDA("timerEnd", cudaEventSynchronize(g_events[2 * id + 1]));
  float ms = 0;
  TD_CUDA("timerEnd", cudaEventElapsedTime(&ms, g_events[2 * id], g_events[2 * id + 1]));
  return Napi::Number::New(info.Env(), ms);
}

Napi::Value convPlansFn(const Info& info) {
  auto plans = convPlans();
  Napi::Array a = Napi::Array::New(info.Env(), plans.size());
  for (size_t i = 0; i < plans.size(); ++i) {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("key", plans[i].key);
    o.Set("algo", plans[i].algo);
    o.Set("workspace", (double)plans[i].workspace);
    o.Set("mathType", plans[i].mathType);
    a.Set((uint32_t)i, o);
  }
  return a;
}

// ---- kernels ----
Napi::Value unary(const Info& info) {
  launchUnary(ctx().stream, (int)i64(info, 0, "op"), ptr(info, 1, "x"), ptr(info, 2, "y"), i64(info, 3, "n"),
              (float)num(info, 4, "alpha"), optFlag(info, 5));
  return info.Env().Undefined();
}
Napi::Value binary(const Info& info) {
  auto shape = ints(info, 5, "outShape"), as = ints(info, 6, "aStrides"), bs = ints(info, 7, "bStrides");
  launchBinary(ctx().stream, (int)i64(info, 0, "op"), (int)i64(info, 1, "dtype"), ptr(info, 2, "a"),
               ptr(info, 3, "b"), ptr(info, 4, "out"), dims(shape, &as, "binary"), dims(shape, &bs, "binary"),
               dims(shape, nullptr, "binary"));
  return info.Env().Undefined();
}
Napi::Value biasAct(const Info& info) {
  launchBiasAct(ctx().stream, ptr(info, 0, "y"), i64(info, 1, "n"), ptr<const float>(info, 2, "bias"),
                i64(info, 3, "biasLen"), (int)i64(info, 4, "act"), (float)num(info, 5, "alpha"),
                ptr<const float>(info, 6, "prelu"), i64(info, 7, "preluLen"), optFlag(info, 8));
  return info.Env().Undefined();
}
Napi::Value batchNorm(const Info& info) {
  launchBatchNorm(ctx().stream, ptr(info, 0, "x"), ptr(info, 1, "y"), i64(info, 2, "n"),
                  ptr<const float>(info, 3, "mean"), i64(info, 4, "meanLen"), ptr<const float>(info, 5, "variance"),
                  i64(info, 6, "varianceLen"), ptr<const float>(info, 7, "offset"), i64(info, 8, "offsetLen"),
                  ptr<const float>(info, 9, "scale"), i64(info, 10, "scaleLen"), (float)num(info, 11, "epsilon"),
                  optFlag(info, 12));
  return info.Env().Undefined();
}
Napi::Value cast(const Info& info) {
  launchCast(ctx().stream, ptr(info, 0, "x"), (int)i64(info, 1, "srcDtype"), ptr(info, 2, "y"),
             (int)i64(info, 3, "dstDtype"), i64(info, 4, "n"));
  return info.Env().Undefined();
}
Napi::Value fill(const Info& info) {
  launchFill(ctx().stream, ptr(info, 0, "y"), (int)i64(info, 1, "dtype"), i64(info, 2, "n"), num(info, 3, "value"));
  return info.Env().Undefined();
}
Napi::Value softmax(const Info& info) {
  launchSoftmax(ctx().stream, ptr<const float>(info, 0, "x"), ptr<float>(info, 1, "y"), i64(info, 2, "rows"),
                i64(info, 3, "cols"));
  return info.Env().Undefined();
}
Napi::Value stridedCopy(const Info& info) {
  auto shape = ints(info, 3, "shape"), ss = ints(info, 4, "srcStrides"), ds = ints(info, 7, "dstStrides");
  launchStridedCopy(ctx().stream, (int)i64(info, 0, "elemBytes"), ptr(info, 1, "src"), i64(info, 2, "srcOffset"),
                    dims(shape, &ss, "stridedCopy"), ptr(info, 5, "dst"), i64(info, 6, "dstOffset"),
                    dims(shape, &ds, "stridedCopy"));
  return info.Env().Undefined();
}
Napi::Value pad(const Info& info) {
  auto in = ints(info, 2, "inShape"), out = ints(info, 4, "outShape"), before = ints(info, 5, "before");
  if (in.size() != out.size() || before.size() != out.size()) failArg("pad", "ranks differ");
  launchPad(ctx().stream, (int)i64(info, 0, "dtype"), ptr(info, 1, "x"), dims(in, nullptr, "pad"), ptr(info, 3, "y"),
            dims(out, nullptr, "pad"), before.data(), (int)i64(info, 6, "mode"), num(info, 7, "value"));
  return info.Env().Undefined();
}
Napi::Value resize(const Info& info) {
  launchResize(ctx().stream, flag(info, 0, "bilinear"), ptr<const float>(info, 1, "x"), ptr<float>(info, 6, "y"),
               i64(info, 2, "n"), i64(info, 3, "h"), i64(info, 4, "w"), i64(info, 5, "c"), i64(info, 7, "outH"),
               i64(info, 8, "outW"), flag(info, 9, "alignCorners"), flag(info, 10, "halfPixelCenters"));
  return info.Env().Undefined();
}
Napi::Value reduce(const Info& info) {
  Context& c = ctx();
  int64_t outer = i64(info, 3, "outer"), r = i64(info, 4, "r"), inner = i64(info, 5, "inner");
  size_t scratch = reduceScratch(outer, r, inner);
  launchReduce(c.stream, (int)i64(info, 0, "op"), ptr(info, 1, "x"), optFlag(info, 6), ptr<float>(info, 2, "y"), outer,
               r, inner, scratch ? c.ensureWorkspace(scratch) : nullptr);
  return info.Env().Undefined();
}
Napi::Value pool(const Info& info) {
  auto v = ints(info, 3, "params");
  if (v.size() != 20) failArg("pool", "params must hold 20 numbers");
  PoolParams p{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7],
               (int)v[8], (int)v[9], (int)v[10], (int)v[11], (int)v[12], (int)v[13], (int)v[14], (int)v[15],
               (int)v[16], (int)v[17], (int)v[18], (int)v[19]};
  launchPool(ctx().stream, flag(info, 0, "isMax"), ptr(info, 1, "x"), ptr(info, 2, "y"), p, optFlag(info, 4));
  return info.Env().Undefined();
}
// conv(params[24], x, w, y): params = nd, backwardData, n, c, k, groups, xs[3], ys[3], ws[3], pad[3], stride[3], dil[3]
Napi::Value conv(const Info& info) {
  auto v = ints(info, 0, "params");
  if (v.size() != 24) failArg("conv", "params must hold 24 numbers");
  ConvArgs a{};
  a.nd = (int)v[0];
  a.backwardData = v[1] != 0;
  a.n = v[2], a.c = v[3], a.k = v[4], a.groups = v[5];
  for (int i = 0; i < 3; ++i) {
    a.xs[i] = v[6 + i], a.ys[i] = v[9 + i], a.ws[i] = v[12 + i];
    a.pad[i] = (int)v[15 + i], a.stride[i] = (int)v[18 + i], a.dil[i] = (int)v[21 + i];
  }
  a.x = ptr(info, 1, "x"), a.w = ptr(info, 2, "w"), a.y = ptr(info, 3, "y");
  a.half = optFlag(info, 4);
  convolution(a);
  return info.Env().Undefined();
}
Napi::Value gemmFn(const Info& info) {
  gemm(ptr<const float>(info, 0, "a"), ptr<const float>(info, 1, "b"), ptr<float>(info, 2, "c"), i64(info, 3, "batch"),
       i64(info, 4, "m"), i64(info, 5, "n"), i64(info, 6, "k"), flag(info, 7, "transA"), flag(info, 8, "transB"),
       i64(info, 9, "strideA"), i64(info, 10, "strideB"));
  return info.Env().Undefined();
}

// ---- delta kernels (issue 7): masks are uint8 device buffers, 0 = a null pointer (dense) ----
Napi::Value compare(const Info& info) {
  auto shape = ints(info, 5, "outShape"), as = ints(info, 6, "aStrides"), bs = ints(info, 7, "bStrides");
  launchCompare(ctx().stream, (int)i64(info, 0, "op"), (int)i64(info, 1, "dtype"), ptr(info, 2, "a"), ptr(info, 3, "b"),
                ptr<uint8_t>(info, 4, "out"), dims(shape, &as, "compare"), dims(shape, &bs, "compare"),
                dims(shape, nullptr, "compare"));
  return info.Env().Undefined();
}
Napi::Value selectFn(const Info& info) {
  launchSelect(ctx().stream, (int)i64(info, 0, "elemBytes"), ptr<const uint8_t>(info, 1, "cond"),
               i64(info, 2, "condInner"), ptr(info, 3, "a"), ptr(info, 4, "b"), ptr(info, 5, "out"), i64(info, 6, "n"));
  return info.Env().Undefined();
}
Napi::Value tile(const Info& info) {
  auto in = ints(info, 2, "inShape"), out = ints(info, 4, "outShape");
  if (in.size() != out.size()) failArg("tile", "ranks differ");
  launchTile(ctx().stream, (int)i64(info, 0, "elemBytes"), ptr(info, 1, "x"), dims(in, nullptr, "tile"),
             ptr(info, 3, "out"), dims(out, nullptr, "tile"));
  return info.Env().Undefined();
}
Napi::Value anyAll(const Info& info) {
  launchAnyAll(ctx().stream, flag(info, 0, "isAll"), ptr<const uint8_t>(info, 1, "x"), ptr<uint8_t>(info, 2, "y"),
               i64(info, 3, "outer"), i64(info, 4, "r"), i64(info, 5, "inner"));
  return info.Env().Undefined();
}
Napi::Value clip(const Info& info) {
  launchClip(ctx().stream, ptr<const float>(info, 0, "x"), ptr<float>(info, 1, "y"), i64(info, 2, "n"),
             (float)num(info, 3, "lo"), (float)num(info, 4, "hi"));
  return info.Env().Undefined();
}
Napi::Value zeroInactive(const Info& info) {
  launchZeroInactive(ctx().stream, ptr<float>(info, 0, "x"), ptr<const uint8_t>(info, 1, "mask"),
                     i64(info, 2, "pixels"), i64(info, 3, "channels"));
  return info.Env().Undefined();
}
Napi::Value busyWait(const Info& info) {
  launchBusyWait(ctx().stream, num(info, 0, "microseconds"));
  return info.Env().Undefined();
}
Napi::Value sparseAccumulate(const Info& info) {
  launchSparseAccumulate(ctx().stream, ptr<const float>(info, 0, "a"), ptr<const float>(info, 1, "r"),
                         ptr<const float>(info, 2, "d"), ptr<const uint8_t>(info, 3, "mask"), ptr<float>(info, 4, "outD"),
                         ptr<float>(info, 5, "outA"), ptr<float>(info, 6, "outR"), ptr<uint8_t>(info, 7, "outMask"),
                         i64(info, 8, "pixels"), i64(info, 9, "channels"), num(info, 10, "threshold"),
                         (int)i64(info, 11, "act"), num(info, 12, "alpha"), flag(info, 13, "writeZeros"));
  return info.Env().Undefined();
}
Napi::Value deltaScale(const Info& info) {
  launchDeltaScale(ctx().stream, ptr<const float>(info, 0, "x"), ptr<const uint8_t>(info, 1, "mask"),
                   ptr<const float>(info, 2, "scale"), ptr<float>(info, 3, "y"), i64(info, 4, "pixels"),
                   i64(info, 5, "channels"), flag(info, 6, "writeZeros"));
  return info.Env().Undefined();
}
Napi::Value deltaAdd(const Info& info) {
  launchDeltaAdd(ctx().stream, ptr<const float>(info, 0, "a"), ptr<const uint8_t>(info, 1, "maskA"),
                 ptr<const float>(info, 2, "b"), ptr<const uint8_t>(info, 3, "maskB"), ptr<float>(info, 4, "y"),
                 ptr<uint8_t>(info, 5, "outMask"), i64(info, 6, "pixels"), i64(info, 7, "channels"),
                 flag(info, 8, "writeZeros"));
  return info.Env().Undefined();
}
// deltaPad(params[8] = n h w c oh ow top left, x, mask, y, outMask, writeZeros)
Napi::Value deltaPad(const Info& info) {
  auto v = ints(info, 0, "params");
  if (v.size() != 8) failArg("deltaPad", "params must hold 8 numbers");
  DeltaPadParams q{(int)v[0], (int)v[1], (int)v[2], (int)v[3], (int)v[4], (int)v[5], (int)v[6], (int)v[7]};
  launchDeltaPad(ctx().stream, q, ptr<const float>(info, 1, "x"), ptr<const uint8_t>(info, 2, "mask"),
                 ptr<float>(info, 3, "y"), ptr<uint8_t>(info, 4, "outMask"), flag(info, 5, "writeZeros"));
  return info.Env().Undefined();
}
// deltaMaxPool(params[12] = n h w c oh ow kh kw sh sw pt pl, a, d, mask, outD, outA, outMask, writeZeros)
Napi::Value deltaMaxPool(const Info& info) {
  auto v = ints(info, 0, "params");
  if (v.size() != 12) failArg("deltaMaxPool", "params must hold 12 numbers");
  DeltaPoolParams p{(int)v[0], (int)v[1], (int)v[2], (int)v[3], (int)v[4], (int)v[5],
                    (int)v[6], (int)v[7], (int)v[8], (int)v[9], (int)v[10], (int)v[11]};
  launchDeltaMaxPool(ctx().stream, p, ptr<const float>(info, 1, "a"), ptr<const float>(info, 2, "d"),
                     ptr<const uint8_t>(info, 3, "mask"), ptr<float>(info, 4, "outD"), ptr<float>(info, 5, "outA"),
                     ptr<uint8_t>(info, 6, "outMask"), flag(info, 7, "writeZeros"));
  return info.Env().Undefined();
}
// params[17] = mode n h w c oh ow co kh kw sh sw dh dw pt pl mult
DeltaConvParams convParams(const Info& info, const char* where) {
  auto v = ints(info, 0, "params");
  if (v.size() != 17) failArg(where, "params must hold 17 numbers");
  for (int64_t e : v)
    if (e < -(int64_t(1) << 30) || e > (int64_t(1) << 30)) failArg(where, "geometry out of range");
  DeltaConvParams p{};
  int* f[] = {&p.mode, &p.n, &p.h, &p.w, &p.c, &p.oh, &p.ow, &p.co, &p.kh, &p.kw, &p.sh, &p.sw, &p.dh, &p.dw,
              &p.pt, &p.pl, &p.mult};
  for (int i = 0; i < 17; ++i) *f[i] = (int)v[i];
  return p;
}
// deltaConv(params, x, mask, w, bias, y, outMask, writeZeros) -> whether the tensor-core kernel ran
Napi::Value deltaConv(const Info& info) {
  Context& c = ctx();
  DeltaConvParams p = convParams(info, "deltaConv");
  bool tc = launchDeltaConv(c.stream, p, ptr<const float>(info, 1, "x"), ptr<const uint8_t>(info, 2, "mask"),
                            ptr<const float>(info, 3, "w"), ptr<const float>(info, 4, "bias"), ptr<float>(info, 5, "y"),
                            ptr<uint8_t>(info, 6, "outMask"), flag(info, 7, "writeZeros"), c.allowTF32);
  return Napi::Boolean::New(info.Env(), tc);
}
Napi::Value deltaConvMask(const Info& info) {
  DeltaConvParams p = convParams(info, "deltaConvMask");
  launchDeltaConvMask(ctx().stream, p, ptr<const uint8_t>(info, 1, "mask"), ptr<uint8_t>(info, 2, "outMask"));
  return info.Env().Undefined();
}
Napi::Value gateSigmoid(const Info& info) {
  launchGateSigmoid(ctx().stream, ptr<const float>(info, 0, "mean"), ptr<const float>(info, 1, "wg"),
                    ptr<const float>(info, 2, "bg"), ptr<float>(info, 3, "gate"), i64(info, 4, "n"), i64(info, 5, "c"));
  return info.Env().Undefined();
}
Napi::Value applyGate(const Info& info) {
  launchApplyGate(ctx().stream, ptr(info, 0, "y"), ptr<const float>(info, 1, "gate"), ptr(info, 2, "out"),
                  i64(info, 3, "n"), i64(info, 4, "voxels"), i64(info, 5, "c"), (int)i64(info, 6, "act"),
                  (float)num(info, 7, "alpha"), optFlag(info, 8));
  return info.Env().Undefined();
}

// ---- compiled plans (plan.cc) ----
Napi::Value planBeginFn(const Info& info) { return Napi::Number::New(info.Env(), planBegin(ctx())); }
Napi::Value planEndFn(const Info& info) {
  return Napi::Number::New(info.Env(), (double)planEnd(ctx(), (int)i64(info, 0, "plan")));
}
Napi::Value planAbortFn(const Info& info) {
  planAbort(ctx(), (int)i64(info, 0, "plan"));
  return info.Env().Undefined();
}
Napi::Value planLaunchFn(const Info& info) {
  planLaunch(ctx(), (int)i64(info, 0, "plan"));
  return info.Env().Undefined();
}
Napi::Value planDestroyFn(const Info& info) {
  planDestroy(ctx(), (int)i64(info, 0, "plan"));
  return info.Env().Undefined();
}
Napi::Value planBytesFn(const Info& info) {
  return Napi::Number::New(info.Env(), (double)planBytes(ctx(), (int)i64(info, 0, "plan")));
}

// ---- dispatch ----
struct Entry {
  const char* name;
  Napi::Value (*fn)(const Info&);
};
const Entry kEntries[] = {
    {"probe", probe},       {"init", init},           {"setOptions", setOptions}, {"getOptions", getOptions}, {"alloc", alloc},
    {"free", release},      {"memory", memory},       {"emptyCache", emptyCache}, {"upload", upload},
    {"download", download}, {"copy", copy},           {"sync", sync},             {"timerStart", timerStart},
    {"timerEnd", timerEnd}, {"unary", unary},         {"binary", binary},         {"biasAct", biasAct},
    {"batchNorm", batchNorm}, {"cast", cast},         {"fill", fill},             {"softmax", softmax},
    {"stridedCopy", stridedCopy}, {"pad", pad},       {"resize", resize},         {"reduce", reduce},
    {"pool", pool},         {"conv", conv},           {"gemm", gemmFn},           {"convPlans", convPlansFn},
    {"compare", compare},   {"select", selectFn},       {"tile", tile},             {"anyAll", anyAll},
    {"clip", clip},         {"zeroInactive", zeroInactive}, {"sparseAccumulate", sparseAccumulate},
    {"deltaMaxPool", deltaMaxPool}, {"deltaConv", deltaConv}, {"deltaConvMask", deltaConvMask},
    {"gateSigmoid", gateSigmoid}, {"applyGate", applyGate}, {"busyWait", busyWait},
    {"deltaScale", deltaScale}, {"deltaAdd", deltaAdd}, {"deltaPad", deltaPad},
    {"planBegin", planBeginFn}, {"planEnd", planEndFn}, {"planAbort", planAbortFn}, {"planLaunch", planLaunchFn},
    {"planDestroy", planDestroyFn}, {"planBytes", planBytesFn},
};

Napi::Value dispatch(const Info& info) {
  const Entry* e = static_cast<const Entry*>(info.Data());
  try {
    return e->fn(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& ex) {
    throw Napi::Error::New(info.Env(), std::string("tfjs-delta cuda.") + e->name + ": " + ex.what());
  } catch (...) {
    throw Napi::Error::New(info.Env(), std::string("tfjs-delta cuda.") + e->name + ": non-standard C++ exception");
  }
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  for (const Entry& e : kEntries)
    exports.Set(e.name, Napi::Function::New(env, dispatch, e.name, const_cast<Entry*>(&e)));
  exports.Set("cudnnHeaderVersion", (double)CUDNN_VERSION);
  exports.Set("cudaHeaderVersion", (double)CUDART_VERSION);
  return exports;
}

}  // namespace
}  // namespace tfjs_delta

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return tfjs_delta::Init(env, exports); }
NODE_API_MODULE(tfjs_delta_cuda, InitAddon)
