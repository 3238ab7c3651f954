// Byte <-> float frame conversions, four values a thread: one 32-bit word of bytes against four floats or halves.
#include "common.h"
#include "frame_bytes.h"
#include "storage.cuh"
#include "launch.cuh"

namespace tfjs_delta {
namespace {

constexpr int kFrameThreads = 256;

int wordBlocks(int64_t words) { return gridFor(words, kFrameThreads); }

__device__ __forceinline__ uint8_t toByte(float v) {
  // fmaxf(NaN, 0) is 0; roundf rounds half away from zero.
  return static_cast<uint8_t>(fminf(roundf(fmaxf(v, 0.f)), 255.f));
}

template <typename T>
__global__ void fromBytesKernel(const uint32_t* __restrict__ x, T* __restrict__ y, int64_t n, float scale) {
  dependentLaunchPrologue();
  const int64_t words = (n + 3) / 4;
  for (int64_t w = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; w < words; w += (int64_t)gridDim.x * blockDim.x) {
    const uint32_t v = x[w];
    const int64_t base = w * 4;
#pragma unroll
    for (int j = 0; j < 4; ++j)
      if (base + j < n) y[base + j] = fromFloat<T>(static_cast<float>((v >> (8 * j)) & 0xFF) * scale);
  }
}

template <typename T>
__global__ void toBytesKernel(const T* __restrict__ x, uint32_t* __restrict__ y, int64_t n, float scale) {
  dependentLaunchPrologue();
  const int64_t words = (n + 3) / 4;
  for (int64_t w = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; w < words; w += (int64_t)gridDim.x * blockDim.x) {
    const int64_t base = w * 4;
    uint32_t v = 0;
#pragma unroll
    for (int j = 0; j < 4; ++j)
      if (base + j < n) v |= static_cast<uint32_t>(toByte(toFloat(x[base + j]) * scale)) << (8 * j);
    y[w] = v;
  }
}

}  // namespace

void launchFramesFromBytes(cudaStream_t s, const uint8_t* x, void* y, int64_t n, float scale, bool half) {
  if (n == 0) return;
  const int g = wordBlocks((n + 3) / 4);
  TD_STORAGE_DISPATCH(half, launchKernel(fromBytesKernel<T>, g, kFrameThreads, 0, s,
                                         reinterpret_cast<const uint32_t*>(x), static_cast<T*>(y), n, scale));
  TD_LAUNCHED("framesFromBytes");
}

void launchFramesToBytes(cudaStream_t s, const void* x, uint8_t* y, int64_t n, float scale, bool half) {
  if (n == 0) return;
  const int g = wordBlocks((n + 3) / 4);
  TD_STORAGE_DISPATCH(half, launchKernel(toBytesKernel<T>, g, kFrameThreads, 0, s, static_cast<const T*>(x),
                                         reinterpret_cast<uint32_t*>(y), n, scale));
  TD_LAUNCHED("framesToBytes");
}

}  // namespace tfjs_delta
