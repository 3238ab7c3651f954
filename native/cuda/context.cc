// Context, error helpers and the caching device allocator.
#include "context.h"

#include "plan.h"

#include <cerrno>
#include <cstdlib>
#include <memory>

namespace tfjs_delta {

void fail(const char* where, const char* call, const std::string& status) {
  throw Error(std::string(where) + ": " + call + " failed: " + status);
}
void failArg(const char* where, const std::string& what) { throw Error(std::string(where) + ": " + what); }
void failCudnn(const char* where, const char* call, cudnnStatus_t s) {
  char detail[512] = {0};
  cudnnGetLastErrorString(detail, sizeof(detail));
  std::string msg = cudnnGetErrorString(s);
  if (detail[0]) msg += std::string(" (") + detail + ")";
  fail(where, call, msg);
}

bool envFlag(const char* name, bool whenUnset) {
  const char* e = std::getenv(name);
  if (e == nullptr || e[0] == '\0') return whenUnset;
  const std::string v(e);
  if (v == "1" || v == "true" || v == "yes") return true;
  if (v == "0" || v == "false" || v == "no") return false;
  throw Error(std::string(name) + "=" + v + ": expected 1/true/yes or 0/false/no");
}

int64_t envInt(const char* name, int64_t whenUnset, int64_t min, int64_t max) {
  const char* e = std::getenv(name);
  if (e == nullptr || e[0] == '\0') return whenUnset;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(e, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max)
    throw Error(std::string(name) + "=" + e + ": expected a whole number from " + std::to_string(min) + " to " +
                std::to_string(max));
  return v;
}

int multiProcessors() { return ctx().props.multiProcessorCount; }
size_t sharedMemoryPerBlockOptIn() { return ctx().props.sharedMemPerBlockOptin; }

int* listCounters() {
  Context& c = ctx();
  return c.useListCounters ? c.listCounters : nullptr;
}

bool dependentLaunches() {
  static const bool on = envFlag("TFJS_DELTA_CUDA_PDL", true) && ctx().props.major >= 9;
  return on;
}

namespace {
std::unique_ptr<Context> g_ctx;
constexpr size_t kSmallRound = 512, kLargeRound = 1 << 20, kSmallLimit = 1 << 20;
size_t roundUp(size_t b) {
  size_t r = b <= kSmallLimit ? kSmallRound : kLargeRound;
  return b == 0 ? r : (b + r - 1) / r * r;
}
}  // namespace

void* Allocator::takeClose(std::multimap<size_t, void*>& list, size_t want) {
  auto it = list.lower_bound(want);
  if (it == list.end() || it->first > want + want / 4 + kSmallRound) return nullptr;  // close fit only
  void* p = it->second;
  size_t got = it->first;
  list.erase(it);
  cached_ -= got;
  live_[p] = got;
  addInUse(got);
  return p;
}

void* Allocator::alloc(size_t bytes, bool hostData) {
  const size_t want = roundUp(bytes);
  Pool* pool = capturing_ ? &pools_[capturing_] : nullptr;
  void* p = nullptr;
  bool fresh = true;  // the block is new to the pool
  // A constant must not reuse a block this capture has written: a replay would overwrite it before it is read.
  if (pool && !hostData) fresh = (p = takeClose(pool->free, want)) == nullptr;
  if (!p) p = takeClose(free_, want);
  if (!p) {
    cudaError_t e = cudaMalloc(&p, want);
    if (e == cudaErrorMemoryAllocation && !pool) {  // give the cache back to the driver and retry once
      cudaGetLastError();
      emptyCache();
      e = cudaMalloc(&p, want);
    }
    if (e != cudaSuccess) {
      cudaGetLastError();
      fail("alloc", "cudaMalloc",
           std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) + ") for " + std::to_string(want) +
               " bytes; in use " + std::to_string(inUse_) + ", cached " + std::to_string(cached_) +
               (pool ? " (while capturing a compiled plan: the cache cannot be emptied)" : ""));
    }
    live_[p] = want;
    addInUse(want);
  }
  if (pool) {
    owner_[p] = capturing_;
    if (fresh) pool->owned += live_[p];
    if (hostData) pool->constants.insert(p);
  }
  return p;
}

void Allocator::release(void* p) {
  if (!p) return;
  auto it = live_.find(p);
  if (it == live_.end()) failArg("free", "pointer not allocated by this allocator (double free?)");
  const size_t size = it->second;
  cached_ += size;
  inUse_ -= size;
  live_.erase(it);
  auto o = owner_.find(p);
  if (o != owner_.end()) {  // a plan's block: never back to the shared list while the plan lives
    Pool& pool = pools_[o->second];
    if (capturing_ == o->second && !pool.constants.count(p))
      pool.free.emplace(size, p);
    else
      pool.held.emplace_back(p, size);
    owner_.erase(o);
    return;
  }
  if (capturing_) {  // from before the capture, and the graph reads it: held for the plan
    pools_[capturing_].held.emplace_back(p, size);
    return;
  }
  free_.emplace(size, p);
}

size_t Allocator::sizeOf(void* p) const {
  auto it = live_.find(p);
  return it == live_.end() ? 0 : it->second;
}

void Allocator::emptyCache() {
  if (free_.empty()) return;
  if (capturing_) failArg("emptyCache", "not allowed while a compiled plan is being captured");
  TD_CUDA("emptyCache", cudaDeviceSynchronize());
  for (auto& kv : free_) TD_CUDA("emptyCache", cudaFree(kv.second));
  free_.clear();
  cached_ = 0;
  for (auto& kv : pools_) {  // pools keep theirs
    for (auto& f : kv.second.free) cached_ += f.first;
    for (auto& h : kv.second.held) cached_ += h.second;
  }
}

void Allocator::beginPool(int plan) {
  if (capturing_) failArg("beginPool", "a capture is already in progress");
  pools_[plan];
  capturing_ = plan;
}

void Allocator::endPool() { capturing_ = 0; }

void Allocator::destroyPool(int plan) {
  auto it = pools_.find(plan);
  if (it == pools_.end()) return;
  if (capturing_ == plan) capturing_ = 0;
  for (auto& f : it->second.free) free_.emplace(f.first, f.second);
  for (auto& h : it->second.held) free_.emplace(h.second, h.first);
  for (auto o = owner_.begin(); o != owner_.end();) o = o->second == plan ? owner_.erase(o) : std::next(o);
  pools_.erase(it);
}

size_t Allocator::poolBytes(int plan) const {
  auto it = pools_.find(plan);
  return it == pools_.end() ? 0 : it->second.owned;
}

void* Context::ensureWorkspace(size_t bytes) {
  if (bytes > workspaceBytes) {
    // Stream order keeps later kernels off earlier users' bytes, but a captured plan replays the pointer it saw:
    // such a workspace is kept until no plan is left.
    if (workspace && workspaceInPlan)
      retiredWorkspaces.push_back(workspace);
    else if (workspace)
      allocator.release(workspace);
    workspace = allocator.alloc(bytes);
    workspaceBytes = allocator.sizeOf(workspace);
    workspaceInPlan = false;
  }
  if (capturingPlan()) workspaceInPlan = true;
  return workspace;
}

void Context::noPlansLeft() {
  for (void* w : retiredWorkspaces) allocator.release(w);
  retiredWorkspaces.clear();
  workspaceInPlan = false;
}

namespace {
// The runtime's current device belongs to each host thread: a thread that did not initialise the context (a
// Node.js worker thread) starts on device 0 and would allocate and launch there.
thread_local int t_device = -1;
}  // namespace

Context& ctx() {
  if (!g_ctx) throw Error("cuda backend not initialised: call init() first");
  if (t_device != g_ctx->device) {
    TD_CUDA("ctx", cudaSetDevice(g_ctx->device));
    t_device = g_ctx->device;
  }
  return *g_ctx;
}

Context& initContext(int device) {
  if (g_ctx) {
    if (g_ctx->device != device)
      failArg("init", "the context already lives on CUDA device " + std::to_string(g_ctx->device) +
                          " and cannot move to device " + std::to_string(device) + ": one device per process");
    return ctx();
  }
  auto c = std::make_unique<Context>();
  int count = 0;
  TD_CUDA("init", cudaGetDeviceCount(&count));
  if (count == 0) failArg("init", "no CUDA device found");
  if (device < 0 || device >= count)
    failArg("init", "device " + std::to_string(device) + " does not exist: this machine has " + std::to_string(count) +
                        " CUDA device" + (count == 1 ? "" : "s") + " (0 to " + std::to_string(count - 1) + ")");
  c->device = device;
  // Bound before the stream, the handles and the first allocation: each belongs to the device current then.
  TD_CUDA("init", cudaSetDevice(device));
  t_device = device;
  TD_CUDA("init", cudaGetDeviceProperties(&c->props, device));
  TD_CUDA("init", cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
  TD_CUDNN("init", cudnnCreate(&c->cudnn));
  TD_CUDNN("init", cudnnSetStream(c->cudnn, c->stream));
  TD_CUBLAS("init", cublasCreate(&c->cublas));
  TD_CUBLAS("init", cublasSetStream(c->cublas, c->stream));
  TD_CUDA("init", cudaMalloc(&c->listCounters, 2 * sizeof(int)));
  // On the context's stream: a non-blocking stream does not wait for the legacy default stream's memset.
  TD_CUDA("init", cudaMemsetAsync(c->listCounters, 0, 2 * sizeof(int), c->stream));
  c->useListCounters = envFlag("TFJS_DELTA_CUDA_LIST_COUNTERS", true);
  g_ctx = std::move(c);
  return *g_ctx;
}

void destroyContext() {
  if (!g_ctx) return;
  cudaStreamSynchronize(g_ctx->stream);
  clearConvCache();
  g_ctx->allocator.emptyCache();
  cublasDestroy(g_ctx->cublas);
  cudnnDestroy(g_ctx->cudnn);
  cudaFree(g_ctx->listCounters);
  cudaStreamDestroy(g_ctx->stream);
  g_ctx.reset();
}

}  // namespace tfjs_delta
