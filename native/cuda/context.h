// Host-side state of the 'cuda' backend: the device, its one stream, the cuDNN and cuBLAS handles, the caching
// device allocator and the shared workspace. Everything runs on `stream`; only reads synchronise. There is one
// context per process, on one device chosen at init: one worker process per GPU.
#pragma once
#include <cublas_v2.h>
#include <cudnn.h>

#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common.h"

namespace tfjs_delta {

#define TD_CUDNN(where, call)                                                        \
  do {                                                                               \
    cudnnStatus_t td_s_ = (call);                                                    \
    if (td_s_ != CUDNN_STATUS_SUCCESS) ::tfjs_delta::failCudnn(where, #call, td_s_); \
  } while (0)
#define TD_CUBLAS(where, call)                                                                                 \
  do {                                                                                                         \
    cublasStatus_t td_s_ = (call);                                                                             \
    if (td_s_ != CUBLAS_STATUS_SUCCESS)                                                                        \
      ::tfjs_delta::fail(where, #call,                                                                         \
                         std::string(cublasGetStatusName(td_s_)) + " (" + cublasGetStatusString(td_s_) + ")"); \
  } while (0)
[[noreturn]] void failCudnn(const char* where, const char* call, cudnnStatus_t s);

// Caching allocator: freed blocks go to a size-keyed free list and are reused by later allocations of a close
// size. With a single stream, stream order makes reuse safe without events.
//
// While a compiled plan is being captured into a CUDA graph (plan.cc), allocations belong to that plan's pool:
// the graph replays with the pointers it saw, so no block it touches may go back to the shared free list while
// the plan lives. Blocks freed during the capture are reused only by later allocations of the same capture
// (stream order = graph order); blocks that received host data during the capture (constants) are never
// reused, since a replay would overwrite them before they are read; blocks from before the capture that are
// freed during it are held until the plan is destroyed.
class Allocator {
 public:
  // `hostData`: the caller uploads into the block right away (no poison fill; a constant when capturing).
  void* alloc(size_t bytes, bool hostData = false);
  void release(void* p);
  void emptyCache();  // returns the free blocks to the driver (synchronises)
  size_t inUse() const { return inUse_; }
  size_t cached() const { return cached_; }
  size_t reserved() const { return inUse_ + cached_; }
  size_t peakInUse() const { return peak_; }  // the most inUse() has been since resetPeak()
  void resetPeak() { peak_ = inUse_; }
  size_t liveBlocks() const { return live_.size(); }
  size_t sizeOf(void* p) const;

  void beginPool(int plan);    // allocations and frees from now on belong to `plan` (a capture starts)
  void endPool();              // the capture ended (the pool lives on until destroyPool)
  void destroyPool(int plan);  // the plan is gone: its blocks return to the shared cache
  int capturing() const { return capturing_; }
  size_t poolBytes(int plan) const;  // bytes owned by the plan's pool (live + held for replay)

 private:
  struct Pool {
    std::multimap<size_t, void*> free;           // freed during the capture: reusable by that capture
    std::vector<std::pair<void*, size_t>> held;  // freed but still read by replays: back at destroyPool
    std::unordered_set<void*> constants;
    size_t owned = 0;  // bytes of blocks allocated into this pool
  };
  void* takeClose(std::multimap<size_t, void*>& list, size_t want);
  std::multimap<size_t, void*> free_;
  std::unordered_map<void*, size_t> live_;
  std::unordered_map<void*, int> owner_;  // live blocks allocated into a plan's pool
  std::map<int, Pool> pools_;
  int capturing_ = 0;
  size_t inUse_ = 0, cached_ = 0, peak_ = 0;
  void addInUse(size_t bytes) {
    inUse_ += bytes;
    if (inUse_ > peak_) peak_ = inUse_;
  }
};

struct Context {
  int device = -1;
  cudaDeviceProp props{};
  cudaStream_t stream = nullptr;
  cudnnHandle_t cudnn = nullptr;
  cublasHandle_t cublas = nullptr;
  bool allowTF32 = true;
  bool findAlgorithms = true;  // benchmark cuDNN algorithms once per shape (else heuristics only)
  bool poison = false;         // tests: fill every new tensor buffer with 0xFF bytes (NaN / -1)
  Allocator allocator;
  void* workspace = nullptr;
  size_t workspaceBytes = 0;
  int* listCounters = nullptr;   // two ints, zero between list producers on the stream (pixel_list.cuh)
  bool useListCounters = false;  // TFJS_DELTA_CUDA_LIST_COUNTERS (default on) at init; setOptions({listCounters})
  bool workspaceInPlan = false;  // the current workspace was captured into a plan
  std::vector<void*> retiredWorkspaces;  // outgrown, but still replayed by plans
  void* ensureWorkspace(size_t bytes);   // grows the shared workspace (stream-ordered reuse)
  void noPlansLeft();                    // the last plan is gone: frees retired workspaces
};

// The initialised context; throws a clear Error when init() has not succeeded. Makes the context's device the
// calling thread's current device first, so that no allocation or launch lands on another GPU.
Context& ctx();
// Initialises `device` (validated against cudaGetDeviceCount), then the stream, the library handles and every
// later allocation on it. Throws on failure, or when the context already lives on another device.
Context& initContext(int device);
void destroyContext();

// ---- conv.cc (cuDNN) ----
struct ConvArgs {
  int nd;                       // spatial dims: 2 or 3
  bool backwardData;            // false: y = conv(x, w); true: x = conv_transpose(y, w) (cudnnConvolutionBackwardData)
  int64_t n, c, k, groups;      // batch, x channels, y channels, groups (depthwise: groups = c)
  int64_t xs[3], ys[3], ws[3];  // spatial sizes of x, y and the filter
  int pad[3], stride[3], dil[3];
  int padAfter[3];  // pads after each spatial dim (pad: before); forward convs only, the graph API's post-paddings
  void* x;
  void* w;
  void* y;    // NDHWC x, KTRSC filter, NDHWC y (for backwardData: y is input, x output)
  bool half;  // x, w and y stored as IEEE half (fp32 accumulation)
};
// False where the pads are asymmetric and no cuDNN engine takes them (nothing launched: the caller pads x itself).
bool convolution(ConvArgs& a);
// conv_graph.cc: an execution plan of cuDNN's graph API for this shape (false when no engine fits).
bool buildGraphPlan(Context& c, ConvArgs& a, size_t workspaceLimit, cudnnBackendDescriptor_t* plan, size_t* workspace);
void runGraphPlan(Context& c, cudnnBackendDescriptor_t plan, size_t workspace, const ConvArgs& a);
void clearConvCache();
size_t convCacheSize();
struct ConvPlanInfo {
  std::string key;
  int algo;
  size_t workspace;
  int mathType;
};
std::vector<ConvPlanInfo> convPlans();  // for profiling: which algorithm each cached shape uses

// ---- matmul.cc (cuBLAS) ----
// Row-major C[b] = op(A[b]) * op(B[b]); batch stride 0 broadcasts.
void gemm(const float* a, const float* b, float* c, int64_t batch, int64_t m, int64_t n, int64_t k, bool transA,
          bool transB, int64_t strideA, int64_t strideB);

}  // namespace tfjs_delta
