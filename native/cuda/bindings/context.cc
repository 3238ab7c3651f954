// Entries of the device, memory and timing family (context.cc, the allocator).
#include <cublas_v2.h>
#include <cuda_profiler_api.h>
#include <cudnn.h>

#include <vector>

#include "../context.h"
#include "../plan.h"
#include "binding.h"

namespace tfjs_delta {
namespace {

using Info = Napi::CallbackInfo;

// Never throws for a missing GPU: it says why, so that the JS side can fall back with the reason.
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

struct InitArgs {
  int device;
};
Napi::Value init(const Info& info) {
  const Fields f(info);
  InitArgs a;
  a.device = f.i32("device");
  Context& c = initContext(a.device);
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("device", c.device);
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

// Options left out keep their value; conv plans are keyed by allowTF32, so a change never reuses a stale plan.
Napi::Value setOptions(const Info& info) {
  Context& c = ctx();
  const Fields f(info);
  c.allowTF32 = f.optFlag("allowTF32", c.allowTF32);
  c.findAlgorithms = f.optFlag("findAlgorithms", c.findAlgorithms);
  c.poison = f.optFlag("poison", c.poison);
  c.useListCounters = f.optFlag("listCounters", c.useListCounters);
  return f.undefined();
}

Napi::Value getOptions(const Info& info) {
  Context& c = ctx();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("allowTF32", c.allowTF32);
  o.Set("findAlgorithms", c.findAlgorithms);
  o.Set("poison", c.poison);
  o.Set("listCounters", c.useListCounters);
  return o;
}

struct AllocArgs {
  size_t bytes;
  bool hostData;  // an upload into the block follows at once: no poison fill, a constant while capturing
};
Napi::Value alloc(const Info& info) {
  const Fields f(info);
  AllocArgs a;
  a.bytes = static_cast<size_t>(f.i64("bytes"));
  a.hostData = f.optFlag("hostData");
  Context& c = ctx();
  void* p = c.allocator.alloc(a.bytes, a.hostData);
  if (c.poison && a.bytes && !a.hostData) TD_CUDA("alloc", cudaMemsetAsync(p, 0xFF, a.bytes, c.stream));
  return Napi::Number::New(info.Env(), (double)(uintptr_t)p);
}

struct FreeArgs {
  void* ptr;
};
Napi::Value release(const Info& info) {
  const Fields f(info);
  FreeArgs a;
  a.ptr = f.ptr("ptr");
  ctx().allocator.release(a.ptr);
  return f.undefined();
}

Napi::Value memory(const Info& info) {
  Context& c = ctx();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("inUse", (double)c.allocator.inUse());
  o.Set("cached", (double)c.allocator.cached());
  o.Set("reserved", (double)c.allocator.reserved());
  o.Set("peakInUse", (double)c.allocator.peakInUse());
  o.Set("blocks", (double)c.allocator.liveBlocks());
  o.Set("workspace", (double)c.workspaceBytes);
  o.Set("convPlans", (double)convCacheSize());
  size_t freeB = 0, totalB = 0;
  TD_CUDA("memory", cudaMemGetInfo(&freeB, &totalB));
  o.Set("deviceFree", (double)freeB);
  o.Set("deviceTotal", (double)totalB);
  return o;
}

Napi::Value resetPeakMemory(const Info& info) {
  ctx().allocator.resetPeak();
  return info.Env().Undefined();
}

Napi::Value emptyCache(const Info& info) {
  Context& c = ctx();
  refuseWhileCapturing("emptyCache");
  TD_CUDA("emptyCache", cudaStreamSynchronize(c.stream));
  c.allocator.emptyCache();
  return info.Env().Undefined();
}

struct UploadArgs {
  void* dst;
  const void* values;
  size_t bytes;
};
Napi::Value upload(const Info& info) {
  const Fields f(info);
  UploadArgs a;
  a.dst = f.ptr("dst");
  a.values = f.bytes("values", &a.bytes);
  Context& c = ctx();
  if (a.bytes && capturingPlan()) {  // a constant of the captured frame: copied now, not recorded
    uploadNow(a.dst, a.values, a.bytes);
    return f.undefined();
  }
  // Pageable source: the copy is staged before the call returns, so the JS array may be collected afterwards.
  if (a.bytes) TD_CUDA("upload", cudaMemcpyAsync(a.dst, a.values, a.bytes, cudaMemcpyHostToDevice, c.stream));
  return f.undefined();
}

struct DownloadArgs {
  const void* src;
  void* out;
  size_t bytes;
};
Napi::Value download(const Info& info) {
  const Fields f(info);
  DownloadArgs a;
  a.src = f.ptr("src");
  a.out = f.bytes("out", &a.bytes);
  Context& c = ctx();
  refuseWhileCapturing("download");
  if (a.bytes) TD_CUDA("download", cudaMemcpyAsync(a.out, a.src, a.bytes, cudaMemcpyDeviceToHost, c.stream));
  TD_CUDA("download", cudaStreamSynchronize(c.stream));
  return f.undefined();
}

struct CopyArgs {
  void* dst;
  const void* src;
  size_t bytes;
};
Napi::Value copy(const Info& info) {
  const Fields f(info);
  CopyArgs a;
  a.dst = f.ptr("dst");
  a.src = f.ptr("src");
  a.bytes = static_cast<size_t>(f.i64("bytes"));
  if (a.bytes) TD_CUDA("copy", cudaMemcpyAsync(a.dst, a.src, a.bytes, cudaMemcpyDeviceToDevice, ctx().stream));
  return f.undefined();
}

Napi::Value sync(const Info& info) {
  refuseWhileCapturing("sync");
  TD_CUDA("sync", cudaStreamSynchronize(ctx().stream));
  return info.Env().Undefined();
}

// Event pairs are recycled: benchmarks time thousands of calls.
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

struct TimerEndArgs {
  int timer;
};
Napi::Value timerEnd(const Info& info) {
  const Fields f(info);
  TimerEndArgs a;
  a.timer = f.i32("timer");
  Context& c = ctx();
  if (a.timer < 0 || 2 * a.timer + 1 >= (int)g_events.size()) failArg("timerEnd", "unknown timer id");
  g_freeEvents.push_back(a.timer);
  TD_CUDA("timerEnd", cudaEventRecord(g_events[2 * a.timer + 1], c.stream));
  TD_CUDA("timerEnd", cudaEventSynchronize(g_events[2 * a.timer + 1]));
  float ms = 0;
  TD_CUDA("timerEnd", cudaEventElapsedTime(&ms, g_events[2 * a.timer], g_events[2 * a.timer + 1]));
  return Napi::Number::New(info.Env(), ms);
}

// Brackets what a profiler started with collection off (ncu --profile-from-start off) collects: the work queued
// between on and off. Without a profiler attached both are no-ops.
Napi::Value profiler(const Info& info) {
  const Fields f(info);
  const bool on = f.flag("on");
  refuseWhileCapturing("profiler");
  TD_CUDA("profiler", cudaStreamSynchronize(ctx().stream));
  TD_CUDA("profiler", on ? cudaProfilerStart() : cudaProfilerStop());
  return info.Env().Undefined();
}

const Entry kEntries[] = {
    {"probe", probe},
    {"init", init},
    {"setOptions", setOptions},
    {"getOptions", getOptions},
    {"alloc", alloc},
    {"free", release},
    {"memory", memory},
    {"resetPeakMemory", resetPeakMemory},
    {"emptyCache", emptyCache},
    {"upload", upload},
    {"download", download},
    {"copy", copy},
    {"sync", sync},
    {"timerStart", timerStart},
    {"timerEnd", timerEnd},
    {"profiler", profiler},
};

}  // namespace

void registerContext(Napi::Env env, Napi::Object exports) { defineEntries(env, exports, kEntries); }

}  // namespace tfjs_delta
