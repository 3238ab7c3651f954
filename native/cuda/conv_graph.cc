// Convolutions through cuDNN's graph (backend) API with one finalized execution plan per shape. The legacy
// cudnnConvolutionForward of cuDNN 9 costs ~100 us of host time per call (measured on an H100: a conv's host
// time matched its GPU time whatever its size), which made every model launch-bound; an execution plan built
// once costs only a variant pack and cudnnBackendExecute per call (the path PyTorch takes).
#include <cstdlib>
#include <vector>

#include "context.h"

namespace tfjs_delta {
namespace {

constexpr const char* kWhere = "conv(graph)";

struct Desc {
  cudnnBackendDescriptor_t d = nullptr;
  explicit Desc(cudnnBackendDescriptorType_t t) { TD_CUDNN(kWhere, cudnnBackendCreateDescriptor(t, &d)); }
  ~Desc() {
    if (d) cudnnBackendDestroyDescriptor(d);
  }
  Desc(const Desc&) = delete;
  Desc& operator=(const Desc&) = delete;
  void set(cudnnBackendAttributeName_t n, cudnnBackendAttributeType_t t, int64_t count, const void* v) {
    TD_CUDNN(kWhere, cudnnBackendSetAttribute(d, n, t, count, v));
  }
  void finalize() { TD_CUDNN(kWhere, cudnnBackendFinalize(d)); }
};

// Descriptors made in a loop, destroyed with the list: also those made before a creation that throws.
struct DescList {
  std::vector<cudnnBackendDescriptor_t> d;
  DescList() = default;
  ~DescList() {
    for (cudnnBackendDescriptor_t x : d)
      if (x) cudnnBackendDestroyDescriptor(x);
  }
  DescList(const DescList&) = delete;
  DescList& operator=(const DescList&) = delete;
  void make(cudnnBackendDescriptorType_t t, size_t n) {
    d.assign(n, nullptr);
    for (cudnnBackendDescriptor_t& x : d) TD_CUDNN(kWhere, cudnnBackendCreateDescriptor(t, &x));
  }
};

// NHWC-ordered strides of a tensor described as (N, C, spatial...).
void channelsLast(int nd, const int64_t* dims, int64_t* strides) {
  int64_t s = dims[1];
  for (int i = nd - 1; i >= 0; --i) {
    strides[2 + i] = s;
    s *= dims[2 + i];
  }
  strides[1] = 1;
  strides[0] = s;
}

void tensor(Desc& t, int64_t uid, int nd, const int64_t* dims, bool half) {
  int64_t strides[5];
  channelsLast(nd, dims, strides);
  cudnnDataType_t dt = half ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
  int64_t align = 16;
  t.set(CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt);
  t.set(CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, nd + 2, dims);
  t.set(CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, nd + 2, strides);
  t.set(CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
  t.set(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align);
  t.finalize();
}

bool usesTensorCores(cudnnBackendDescriptor_t cfg) {
  cudnnBackendDescriptor_t engine;
  if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINE_DESCRIPTOR, &engine) != CUDNN_STATUS_SUCCESS) return true;
  int64_t n = 0;
  bool tc = true;  // unknown counts as tensor cores: strict fp32 must not get TF32 by accident
  if (cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n, &engine) ==
      CUDNN_STATUS_SUCCESS) {
    cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
    int64_t count = 0;
    if (cudnnBackendGetAttribute(engine, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                                 CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &count, notes) == CUDNN_STATUS_SUCCESS) {
      tc = false;
      for (int64_t i = 0; i < count; ++i) tc = tc || notes[i] == CUDNN_NUMERICAL_NOTE_TENSOR_CORE;
    }
  }
  cudnnBackendDestroyDescriptor(engine);
  return tc;
}

void execute(Context& c, cudnnBackendDescriptor_t plan, const ConvArgs& a, void* ws) {
  void* ptrs[3] = {a.x, a.w, a.y};
  int64_t uids[3] = {1, 2, 3};
  Desc pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  pack.set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, ptrs);
  pack.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, uids);
  pack.set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws);
  pack.finalize();
  TD_CUDNN(kWhere, cudnnBackendExecute(c.cudnn, plan, pack.d));
}

}  // namespace

bool buildGraphPlan(Context& c, ConvArgs& a, size_t workspaceLimit, cudnnBackendDescriptor_t* planOut,
                    size_t* workspaceOut) {
  const int nd = a.nd;
  int64_t xd[5] = {a.n, a.c, 1, 1, 1}, yd[5] = {a.n, a.k, 1, 1, 1}, wd[5] = {a.k, a.c / a.groups, 1, 1, 1};
  int64_t pad[3], padAfter[3], stride[3], dil[3];
  for (int i = 0; i < nd; ++i) {
    xd[2 + i] = a.xs[i], yd[2 + i] = a.ys[i], wd[2 + i] = a.ws[i];
    pad[i] = a.pad[i], padAfter[i] = a.padAfter[i], stride[i] = a.stride[i], dil[i] = a.dil[i];
  }
  Desc x(CUDNN_BACKEND_TENSOR_DESCRIPTOR), w(CUDNN_BACKEND_TENSOR_DESCRIPTOR), y(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  tensor(x, 1, nd, xd, a.half);
  tensor(w, 2, nd, wd, a.half);
  tensor(y, 3, nd, yd, a.half);

  Desc conv(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
  cudnnDataType_t comp = CUDNN_DATA_FLOAT;
  cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  int64_t spatial = nd;
  conv.set(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp);
  conv.set(CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode);
  conv.set(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &spatial);
  conv.set(CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, nd, dil);
  conv.set(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, nd, stride);
  conv.set(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, nd, pad);
  conv.set(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, nd, padAfter);
  conv.finalize();

  float alpha = 1.f, beta = 0.f;
  Desc op(a.backwardData ? CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR
                         : CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR);
  // The same six attributes under the forward and backward-data names: x (dx), w, y (dy), conv, alpha, beta.
  static const cudnnBackendAttributeName_t kFwd[6] = {
      CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X,     CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W,
      CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y,     CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC,
      CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA};
  static const cudnnBackendAttributeName_t kBwd[6] = {
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX,    CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W,
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY,    CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC,
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA};
  const cudnnBackendAttributeName_t* names = a.backwardData ? kBwd : kFwd;
  cudnnBackendDescriptor_t parts[4] = {x.d, w.d, y.d, conv.d};
  for (int i = 0; i < 4; ++i) op.set(names[i], CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &parts[i]);
  op.set(names[4], CUDNN_TYPE_FLOAT, 1, &alpha);
  op.set(names[5], CUDNN_TYPE_FLOAT, 1, &beta);
  op.finalize();

  Desc graph(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  graph.set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &op.d);
  graph.set(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &c.cudnn);
  graph.finalize();

  Desc heur(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
  cudnnBackendHeurMode_t hm = CUDNN_HEUR_MODE_A;
  heur.set(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph.d);
  heur.set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &hm);
  heur.finalize();
  int64_t available = 0;
  TD_CUDNN(kWhere, cudnnBackendGetAttribute(heur.d, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0,
                                            &available, nullptr));
  DescList cfgs;
  cfgs.make(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, (size_t)available);
  int64_t got = 0;
  cudnnStatus_t st = cudnnBackendGetAttribute(heur.d, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                              available, &got, cfgs.d.data());

  // Finalize plans for the first few acceptable configs, time each with CUDA events, keep the fastest
  // (TFJS_DELTA_CUDNN_CANDIDATES: how many). Default 6, 24 on half data: measured on FLAVR 512^2 (H100), 24 found
  // 0.37 ms faster half plans per frame and nothing for TF32 (docs/compiled-streams.md).
  const int fromEnv = (int)envInt("TFJS_DELTA_CUDNN_CANDIDATES", 0, 1, 1024);
  const int kCandidates = fromEnv > 0 ? fromEnv : a.half ? 24 : 6;
  cudnnBackendDescriptor_t best = nullptr;
  size_t bestWs = 0;
  float bestMs = 1e30f;
  int tried = 0;
  const bool timeThem = c.findAlgorithms;
  cudaEvent_t e0 = nullptr, e1 = nullptr;
  if (timeThem) {
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
  }
  for (int64_t i = 0; st == CUDNN_STATUS_SUCCESS && i < got && tried < kCandidates; ++i) {
    if (!c.allowTF32 && !a.half && usesTensorCores(cfgs.d[i])) continue;  // half data: tensor cores are the point
    cudnnBackendDescriptor_t plan;
    if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &plan) != CUDNN_STATUS_SUCCESS) continue;
    int64_t ws = 0, n = 0;
    bool ok = cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &c.cudnn) ==
                  CUDNN_STATUS_SUCCESS &&
              cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                                       &cfgs.d[i]) == CUDNN_STATUS_SUCCESS &&
              cudnnBackendFinalize(plan) == CUDNN_STATUS_SUCCESS &&
              cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &n, &ws) ==
                  CUDNN_STATUS_SUCCESS &&
              (size_t)ws <= workspaceLimit;
    float ms = 0;
    if (ok) {
      ++tried;
      if (timeThem) {
        try {
          void* wsp = ws ? c.ensureWorkspace((size_t)ws) : nullptr;
          execute(c, plan, a, wsp);  // warm-up
          cudaEventRecord(e0, c.stream);
          for (int r = 0; r < 3; ++r) execute(c, plan, a, wsp);
          cudaEventRecord(e1, c.stream);
          ok = cudaEventSynchronize(e1) == cudaSuccess && cudaEventElapsedTime(&ms, e0, e1) == cudaSuccess;
        } catch (const Error&) {
          ok = false;
        }
        cudaGetLastError();
      }
    }
    if (ok && (!best || ms < bestMs)) {
      if (best) cudnnBackendDestroyDescriptor(best);
      best = plan, bestWs = (size_t)ws, bestMs = ms;
      if (!timeThem) break;  // heuristics order only
    } else {
      cudnnBackendDestroyDescriptor(plan);
    }
  }
  if (e0) cudaEventDestroy(e0);
  if (e1) cudaEventDestroy(e1);
  if (!best) return false;
  *planOut = best;
  *workspaceOut = bestWs;
  return true;
}

void runGraphPlan(Context& c, cudnnBackendDescriptor_t plan, size_t workspace, const ConvArgs& a) {
  execute(c, plan, a, workspace ? c.ensureWorkspace(workspace) : nullptr);
}

}  // namespace tfjs_delta
