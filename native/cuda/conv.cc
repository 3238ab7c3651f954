// Convolution family through cuDNN: NHWC / NDHWC activations, KRSC / KTRSC filters, grouped convolutions for
// depthwise. A plan is built once per shape and cached: the graph API's execution plan (conv_graph.cc) where an
// engine takes the shape, else the legacy API's descriptors, algorithm and workspace size (benchmarked once with
// cudnnFind*Ex unless findAlgorithms is off). Pads that differ before and after go to the graph API only (the legacy
// descriptor's pads are symmetric); where no engine takes them, convolution() returns false and the caller pads x.
// TF32 is allowed unless the context asks for strict fp32 (then only FMA-math algorithms are accepted).
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <unordered_set>
#include <vector>

#include "context.h"
#include "plan.h"

namespace tfjs_delta {
namespace {

struct Plan {
  std::string key;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  int algo = 0;  // legacy API algorithm (algo -1: graph plan)
  size_t workspace = 0;
  cudnnBackendDescriptor_t graph = nullptr;  // graph-API execution plan, preferred when it exists
};
std::unordered_map<std::string, Plan> g_plans;
// Shapes with asymmetric pads that no graph-API engine took: their callers pad x themselves.
std::unordered_set<std::string> g_noAsymmetricPlan;

bool asymmetric(const ConvArgs& a) {
  for (int i = 0; i < a.nd; ++i)
    if (a.pad[i] != a.padAfter[i]) return true;
  return false;
}

std::string keyOf(const ConvArgs& a, bool tf32) {
  std::ostringstream k;
  k << a.nd << (a.backwardData ? 'b' : 'f')
    << (a.half ? 'h'
        : tf32 ? 't'
               : 's')
    << ':' << a.n << ',' << a.c << ',' << a.k << ',' << a.groups;
  for (int i = 0; i < a.nd; ++i)
    k << '|' << a.xs[i] << ',' << a.ys[i] << ',' << a.ws[i] << ',' << a.pad[i] << ',' << a.padAfter[i] << ','
      << a.stride[i] << ',' << a.dil[i];
  return k.str();
}

size_t workspaceLimit() { return (size_t)envInt("TFJS_DELTA_CUDNN_WORKSPACE_MB", 512, 1, int64_t(1) << 20) << 20; }

cudnnDataType_t dataType(const ConvArgs& a) { return a.half ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT; }

void setTensor(const char* where, cudnnTensorDescriptor_t d, int nd, int64_t n, int64_t c, const int64_t* s,
               cudnnDataType_t dt) {
  int dims[5] = {(int)n, (int)c, 1, 1, 1};
  for (int i = 0; i < nd; ++i) dims[2 + i] = (int)s[i];
  TD_CUDNN(where, cudnnSetTensorNdDescriptorEx(d, CUDNN_TENSOR_NHWC, dt, nd + 2, dims));
}

bool acceptable(cudnnMathType_t m, bool tf32) { return tf32 || m == CUDNN_FMA_MATH; }

// Temporary buffer for algorithm search, freed right after (search happens once per shape).
struct SearchBuffer {
  void* p = nullptr;
  size_t bytes = 0;
  explicit SearchBuffer(size_t want) {
    for (bytes = want; bytes >= (1u << 20); bytes /= 2)
      if (cudaMalloc(&p, bytes) == cudaSuccess) return;
    cudaGetLastError();
    p = nullptr;
    bytes = 0;
  }
  ~SearchBuffer() {
    if (p) {
      cudaDeviceSynchronize();
      cudaFree(p);
    }
  }
};

template <typename Perf>
bool pick(const Perf* perf, int count, bool tf32, size_t limit, Plan& plan) {
  for (int i = 0; i < count; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > limit || !acceptable(perf[i].mathType, tf32))
      continue;
    plan.algo = (int)perf[i].algo;
    plan.workspace = perf[i].memory;
    plan.math = perf[i].mathType;
    TD_CUDNN("conv", cudnnSetConvolutionMathType(plan.conv, perf[i].mathType));
    return true;
  }
  return false;
}

// Null where the pads are asymmetric and no graph-API engine takes them.
Plan* planFor(Context& c, ConvArgs& a) {
  const std::string key = keyOf(a, c.allowTF32);
  auto it = g_plans.find(key);
  if (it != g_plans.end()) return &it->second;
  const bool asym = asymmetric(a);
  if (asym && g_noAsymmetricPlan.count(key)) return nullptr;
  const char* where = a.backwardData ? "convBackwardData" : "conv";
  const bool tensorCores = c.allowTF32 || a.half;
  if (asym) {
    // Only the graph API takes pre- and post-paddings apart (the legacy descriptor's pads are symmetric).
    if (a.backwardData) failArg(where, "asymmetric pads on a backward-data convolution");
    // Timing candidates synchronises the stream, which would break a capture (and leave the shape on the copy).
    if (c.findAlgorithms) refuseWhileCapturing("conv plan search (asymmetric pads)");
    for (int i = 0; i < a.nd; ++i) {
      const int64_t span = a.xs[i] + a.pad[i] + a.padAfter[i] - ((a.ws[i] - 1) * a.dil[i] + 1);
      const int64_t out = span < 0 ? 0 : span / a.stride[i] + 1;
      if (out != a.ys[i])
        failArg(where, "output size mismatch in spatial dim " + std::to_string(i) + " for pads " +
                           std::to_string(a.pad[i]) + ", " + std::to_string(a.padAfter[i]) + ": they give " +
                           std::to_string(out) + ", caller expects " + std::to_string(a.ys[i]));
    }
    Plan p;
    p.key = key;
    bool built = false;
    if (!envFlag("TFJS_DELTA_CUDNN_LEGACY")) {
      TD_CUDA(where, cudaGetLastError());  // an earlier kernel's error is reported as such, not taken for this one's
      try {
        built = buildGraphPlan(c, a, workspaceLimit(), &p.graph, &p.workspace);
      } catch (const Error&) {
        // A descriptor cuDNN will not finalize with these pads: the caller's copy runs instead. A CUDA error
        // (memory, a fault while timing) is not the pads' doing and is reported.
        if (cudaPeekAtLastError() != cudaSuccess) throw;
        built = false;
      }
    }
    if (!built) {
      g_noAsymmetricPlan.insert(key);
      return nullptr;
    }
    p.algo = -1;
    p.math = tensorCores ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
    return &g_plans.emplace(key, p).first->second;
  }
  Plan p;
  p.key = key;
  TD_CUDNN(where, cudnnCreateTensorDescriptor(&p.x));
  TD_CUDNN(where, cudnnCreateTensorDescriptor(&p.y));
  TD_CUDNN(where, cudnnCreateFilterDescriptor(&p.w));
  TD_CUDNN(where, cudnnCreateConvolutionDescriptor(&p.conv));
  setTensor(where, p.x, a.nd, a.n, a.c, a.xs, dataType(a));
  setTensor(where, p.y, a.nd, a.n, a.k, a.ys, dataType(a));
  int fdims[5] = {(int)a.k, (int)(a.c / a.groups), 1, 1, 1};
  for (int i = 0; i < a.nd; ++i) fdims[2 + i] = (int)a.ws[i];
  TD_CUDNN(where, cudnnSetFilterNdDescriptor(p.w, dataType(a), CUDNN_TENSOR_NHWC, a.nd + 2, fdims));
  TD_CUDNN(where, cudnnSetConvolutionNdDescriptor(p.conv, a.nd, a.pad, a.stride, a.dil, CUDNN_CROSS_CORRELATION,
                                                  CUDNN_DATA_FLOAT));
  TD_CUDNN(where, cudnnSetConvolutionGroupCount(p.conv, (int)a.groups));
  TD_CUDNN(where, cudnnSetConvolutionMathType(p.conv, tensorCores ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));

  int out[5];
  TD_CUDNN(where, cudnnGetConvolutionNdForwardOutputDim(p.conv, p.x, p.w, a.nd + 2, out));
  for (int i = 0; i < a.nd; ++i)
    if (out[2 + i] != a.ys[i])
      failArg(where, "output size mismatch in spatial dim " + std::to_string(i) + ": cuDNN computes " +
                         std::to_string(out[2 + i]) + ", caller expects " + std::to_string(a.ys[i]));

  const bool legacy = envFlag("TFJS_DELTA_CUDNN_LEGACY");
  // One search under a workspace cap: the graph API first, then the legacy API's algorithms.
  auto search = [&](size_t limit) -> bool {
    if (!legacy && buildGraphPlan(c, a, limit, &p.graph, &p.workspace)) {
      p.algo = -1;
      p.math = tensorCores ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
      return true;
    }
    constexpr int kMax = 16;
    int returned = 0;
    bool ok = false;
    if (!a.backwardData) {
      cudnnConvolutionFwdAlgoPerf_t perf[kMax];
      if (c.findAlgorithms) {
        SearchBuffer ws(limit);
        TD_CUDNN(where, cudnnFindConvolutionForwardAlgorithmEx(c.cudnn, p.x, a.x, p.w, a.w, p.conv, p.y, a.y, kMax,
                                                               &returned, perf, ws.p, ws.bytes));
        ok = pick(perf, returned, tensorCores, ws.bytes, p);
      }
      if (!ok) {
        TD_CUDNN(where, cudnnGetConvolutionForwardAlgorithm_v7(c.cudnn, p.x, p.w, p.conv, p.y, kMax, &returned, perf));
        ok = pick(perf, returned, tensorCores, limit, p);
      }
    } else {
      cudnnConvolutionBwdDataAlgoPerf_t perf[kMax];
      if (c.findAlgorithms) {
        SearchBuffer ws(limit);
        TD_CUDNN(where, cudnnFindConvolutionBackwardDataAlgorithmEx(c.cudnn, p.w, a.w, p.y, a.y, p.conv, p.x, a.x, kMax,
                                                                    &returned, perf, ws.p, ws.bytes));
        ok = pick(perf, returned, tensorCores, ws.bytes, p);
      }
      if (!ok) {
        TD_CUDNN(where,
                 cudnnGetConvolutionBackwardDataAlgorithm_v7(c.cudnn, p.w, p.y, p.conv, p.x, kMax, &returned, perf));
        ok = pick(perf, returned, tensorCores, limit, p);
      }
    }
    return ok;
  };
  bool ok = search(workspaceLimit());
  if (!ok) {
    // Large 3-D convolutions (FLAVR's decoder at 512x512) need more workspace than the default cap
    // offers every algorithm: search again with up to half of the free device memory.
    size_t freeBytes = 0, totalBytes = 0;
    TD_CUDA(where, cudaMemGetInfo(&freeBytes, &totalBytes));
    if (freeBytes / 2 > workspaceLimit()) ok = search(freeBytes / 2);
  }
  if (!ok) failArg(where, "cuDNN offers no algorithm for this convolution (" + key + ")");
  return &g_plans.emplace(key, p).first->second;
}

}  // namespace

bool convolution(ConvArgs& a) {
  Context& c = ctx();
  const char* where = a.backwardData ? "convBackwardData" : "conv";
  if (a.nd != 2 && a.nd != 3) failArg(where, "only 2-D and 3-D convolutions");
  if (a.groups < 1 || a.c % a.groups || a.k % a.groups) failArg(where, "channels not divisible by groups");
  for (int i = 0; i < a.nd; ++i)
    if (a.stride[i] < 1 || a.dil[i] < 1)
      failArg(where, "strides and dilations must be >= 1, got " + std::to_string(a.stride[i]) + " and " +
                         std::to_string(a.dil[i]) + " in spatial dim " + std::to_string(i));
  if (a.n == 0) return true;
  Plan* found = planFor(c, a);
  if (found == nullptr) return false;
  Plan& p = *found;
  void* ws = p.workspace ? c.ensureWorkspace(p.workspace) : nullptr;
  if (p.graph) {
    runGraphPlan(c, p.graph, p.workspace, a);
    return true;
  }
  const float one = 1.f, zero = 0.f;
  if (!a.backwardData)
    TD_CUDNN(where, cudnnConvolutionForward(c.cudnn, &one, p.x, a.x, p.w, a.w, p.conv,
                                            (cudnnConvolutionFwdAlgo_t)p.algo, ws, p.workspace, &zero, p.y, a.y));
  else
    TD_CUDNN(where,
             cudnnConvolutionBackwardData(c.cudnn, &one, p.w, a.w, p.y, a.y, p.conv,
                                          (cudnnConvolutionBwdDataAlgo_t)p.algo, ws, p.workspace, &zero, p.x, a.x));
  return true;
}

void clearConvCache() {
  for (auto& kv : g_plans) {
    // A plan for asymmetric pads has only its graph.
    if (kv.second.x) cudnnDestroyTensorDescriptor(kv.second.x);
    if (kv.second.y) cudnnDestroyTensorDescriptor(kv.second.y);
    if (kv.second.w) cudnnDestroyFilterDescriptor(kv.second.w);
    if (kv.second.conv) cudnnDestroyConvolutionDescriptor(kv.second.conv);
    if (kv.second.graph) cudnnBackendDestroyDescriptor(kv.second.graph);
  }
  g_plans.clear();
  g_noAsymmetricPlan.clear();
}

size_t convCacheSize() { return g_plans.size(); }

std::vector<ConvPlanInfo> convPlans() {
  std::vector<ConvPlanInfo> out;
  for (auto& kv : g_plans) out.push_back({kv.first, kv.second.algo, kv.second.workspace, (int)kv.second.math});
  return out;
}

}  // namespace tfjs_delta
