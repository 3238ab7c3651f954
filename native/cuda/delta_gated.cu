// The SE gate of conv3dGated (FLAVR): gate = sigmoid(mean_{DHW}(y) . Wg + bg) per batch row and channel, then
// out = act(y * gate) in one pass. The convolution and the mean run on cuDNN / the reduce kernels.
#include "delta.h"
#include "storage.cuh"
#include "launch.cuh"

namespace tfjs_delta {
namespace {

constexpr int kThreads = 256;

// One block per batch row; a thread per output channel, reading the row's means from shared memory.
__global__ void gateSigmoidKernel(const float* __restrict__ mean, const float* __restrict__ wg,
                                  const float* __restrict__ bg, float* __restrict__ gate, int64_t c) {
  dependentLaunchPrologue();
  extern __shared__ float sMean[];
  const int64_t n = blockIdx.x;
  for (int64_t i = threadIdx.x; i < c; i += blockDim.x) sMean[i] = mean[n * c + i];
  __syncthreads();
  for (int64_t co = threadIdx.x; co < c; co += blockDim.x) {
    float z = bg[co];
    for (int64_t ci = 0; ci < c; ++ci) z = fmaf(sMean[ci], wg[ci * c + co], z);
    gate[n * c + co] = 1.f / (1.f + expf(-z));
  }
}

__device__ __forceinline__ float act(int op, float v, float alpha) {
  switch (op) {
    case U_RELU: return v < 0.f ? 0.f : v;
    case U_RELU6: return v < 0.f ? 0.f : (v > 6.f ? 6.f : v);
    case U_LEAKYRELU: return v > 0.f ? v : alpha * v;
    case U_SIGMOID: return 1.f / (1.f + expf(-v));
    case U_TANH: return tanhf(v);
  }
  return v;
}

template <typename T, typename I>
__global__ void applyGateKernel(const T* __restrict__ y, const float* __restrict__ gate, T* __restrict__ out, I total,
                                I perRow, I c, int op, float alpha) {
  dependentLaunchPrologue();
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < total; i += (I)gridDim.x * blockDim.x)
    out[i] = fromFloat<T>(act(op, toFloat(y[i]) * gate[(i / perRow) * c + i % c], alpha));
}

template <typename I>
__global__ void applyGateHalf8(const uint4* __restrict__ y, const float* __restrict__ gate, uint4* __restrict__ out,
                               I n8, I perRow, I c, int op, float alpha) {
  dependentLaunchPrologue();
  mapHalf8(y, out, n8, [=](I e, float v) { return act(op, v * gate[(e / perRow) * c + e % c], alpha); });
}

}  // namespace

void launchGateSigmoid(cudaStream_t s, const float* mean, const float* wg, const float* bg, float* gate, int64_t n,
                       int64_t c) {
  if (n == 0 || c == 0) return;
  if (n > 0x7fffffff || c * (int64_t)sizeof(float) > 48 * 1024) failArg("gateSigmoid", "too many channels");
  launchKernel(gateSigmoidKernel, (unsigned)n, kThreads, c * sizeof(float), s, mean, wg, bg, gate, c);
  TD_LAUNCHED("gateSigmoid");
}

void launchApplyGate(cudaStream_t s, const void* y, const float* gate, void* out, int64_t n, int64_t voxels, int64_t c,
                     int act, float alpha, bool half) {
  const int64_t total = n * voxels * c;
  if (total == 0) return;
  if (half && half8Ok(total, y, out)) {
    TD_INDEX_DISPATCH(total < kIndex32Limit,
                      launchKernel(applyGateHalf8<I>, gridFor(total / 8, kThreads), kThreads, 0, s, (const uint4*)y,
                                   gate, (uint4*)out, (I)(total / 8), (I)(voxels * c), (I)c, act, alpha));
    TD_LAUNCHED("applyGate");
    return;
  }
  const int grid = gridFor(total, kThreads);
  TD_STORAGE_DISPATCH(
      half, TD_INDEX_DISPATCH(total < kIndex32Limit,
                              launchKernel(applyGateKernel<T, I>, grid, kThreads, 0, s, (const T*)y, gate, (T*)out,
                                           (I)total, (I)(voxels * c), (I)c, act, alpha)));
  TD_LAUNCHED("applyGate");
}

}  // namespace tfjs_delta
