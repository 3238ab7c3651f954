// Context, error helpers and the caching device allocator.
#include "context.h"

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

namespace {
std::unique_ptr<Context> g_ctx;
constexpr size_t kSmallRound = 512, kLargeRound = 1 << 20, kSmallLimit = 1 << 20;
size_t roundUp(size_t b) {
  size_t r = b <= kSmallLimit ? kSmallRound : kLargeRound;
  return b == 0 ? r : (b + r - 1) / r * r;
}
}  // namespace

void* Allocator::alloc(size_t bytes) {
  const size_t want = roundUp(bytes);
  auto it = free_.lower_bound(want);
  if (it != free_.end() && it->first <= want + want / 4 + kSmallRound) {  // close fit: reuse
    void* p = it->second;
    size_t got = it->first;
    free_.erase(it);
    cached_ -= got;
    live_[p] = got;
    inUse_ += got;
    return p;
  }
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, want);
  if (e == cudaErrorMemoryAllocation) {  // give the cache back to the driver and retry once
    cudaGetLastError();
    emptyCache();
    e = cudaMalloc(&p, want);
  }
  if (e != cudaSuccess) {
    cudaGetLastError();
    fail("alloc", "cudaMalloc", std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) + ") for " +
                                    std::to_string(want) + " bytes; in use " + std::to_string(inUse_) + ", cached " +
                                    std::to_string(cached_));
  }
  live_[p] = want;
  inUse_ += want;
  return p;
}

void Allocator::release(void* p) {
  if (!p) return;
  auto it = live_.find(p);
  if (it == live_.end()) failArg("free", "pointer not allocated by this allocator (double free?)");
  free_.emplace(it->second, p);
  cached_ += it->second;
  inUse_ -= it->second;
  live_.erase(it);
}

size_t Allocator::sizeOf(void* p) const {
  auto it = live_.find(p);
  return it == live_.end() ? 0 : it->second;
}

void Allocator::emptyCache() {
  if (free_.empty()) return;
  TD_CUDA("emptyCache", cudaDeviceSynchronize());
  for (auto& kv : free_) TD_CUDA("emptyCache", cudaFree(kv.second));
  free_.clear();
  cached_ = 0;
}

void* Context::ensureWorkspace(size_t bytes) {
  if (bytes <= workspaceBytes) return workspace;
  if (workspace) allocator.release(workspace);  // stream order: later kernels cannot overlap earlier users
  workspace = allocator.alloc(bytes);
  workspaceBytes = allocator.sizeOf(workspace);
  return workspace;
}

Context& ctx() {
  if (!g_ctx) throw Error("cuda backend not initialised: call init() first");
  return *g_ctx;
}

Context& initContext() {
  if (g_ctx) return *g_ctx;
  auto c = std::make_unique<Context>();
  int count = 0;
  TD_CUDA("init", cudaGetDeviceCount(&count));
  if (count == 0) failArg("init", "no CUDA device found");
  c->device = 0;
  TD_CUDA("init", cudaSetDevice(0));
  TD_CUDA("init", cudaGetDeviceProperties(&c->props, 0));
  TD_CUDA("init", cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
  TD_CUDNN("init", cudnnCreate(&c->cudnn));
  TD_CUDNN("init", cudnnSetStream(c->cudnn, c->stream));
  TD_CUBLAS("init", cublasCreate(&c->cublas));
  TD_CUBLAS("init", cublasSetStream(c->cublas, c->stream));
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
  cudaStreamDestroy(g_ctx->stream);
  g_ctx.reset();
}

}  // namespace tfjs_delta
