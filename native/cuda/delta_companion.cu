// Delta companion kernels: the delta forms of an affine per-channel layer (batch norm's scale) and of a residual
// add, working only at active pixels. Semantics of src/kernels/composite/DeltaScaleShift.ts and DeltaAdd.ts (float32
// products and sums; a masked input's inactive pixels are exact zeros, read here as zeros without touching them,
// so a lazily written input needs no zero-filling pass first).
#include "delta.h"
#include "launch.cuh"
#include "vec.cuh"

namespace tfjs_delta {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

// One warp per pixel, lanes over channels (coalesced along the channel axis).
__global__ void deltaScaleKernel(const float* __restrict__ x, const uint8_t* __restrict__ mask,
                                 const float* __restrict__ scale, float* __restrict__ y, int64_t pixels, int channels,
                                 bool writeZeros) {
  dependentLaunchPrologue();
  const int lane = threadIdx.x & 31;
  const int64_t stride = (int64_t)gridDim.x * kWarps;
  for (int64_t p = (int64_t)blockIdx.x * kWarps + threadIdx.x / 32; p < pixels; p += stride) {
    const int64_t o = p * channels;
    if (mask != nullptr && !mask[p]) {
      if (writeZeros)
        for (int c = lane; c < channels; c += 32) y[o + c] = 0.f;
      continue;
    }
    for (int c = lane; c < channels; c += 32) y[o + c] = x[o + c] * scale[c];
  }
}

__global__ void deltaAddKernel(const float* __restrict__ a, const uint8_t* __restrict__ ma, const float* __restrict__ b,
                               const uint8_t* __restrict__ mb, float* __restrict__ y, uint8_t* __restrict__ outMask,
                               int64_t pixels, int channels, bool writeZeros) {
  dependentLaunchPrologue();
  const int lane = threadIdx.x & 31;
  const int64_t stride = (int64_t)gridDim.x * kWarps;
  for (int64_t p = (int64_t)blockIdx.x * kWarps + threadIdx.x / 32; p < pixels; p += stride) {
    const int64_t o = p * channels;
    const bool ia = ma == nullptr || ma[p], ib = mb == nullptr || mb[p];
    if (outMask != nullptr && lane == 0) outMask[p] = (ia || ib) ? 1 : 0;
    if (!ia && !ib) {
      if (writeZeros)
        for (int c = lane; c < channels; c += 32) y[o + c] = 0.f;
      continue;
    }
    for (int c = lane; c < channels; c += 32) y[o + c] = (ia ? a[o + c] : 0.f) + (ib ? b[o + c] : 0.f);
  }
}

// deltaAddKernel with a thread per 4 channels (channels % 4 == 0, 16-byte aligned rows): MobileNetV2's residuals
// have 24 to 160 channels, so a warp a pixel left most lanes idle on the narrow ones and issued scalar accesses. The
// thread holding a pixel's first vector writes its mask.
template <typename I>
__global__ void deltaAddVecKernel(const float4* __restrict__ a, const uint8_t* __restrict__ ma,
                                  const float4* __restrict__ b, const uint8_t* __restrict__ mb, float4* __restrict__ y,
                                  uint8_t* __restrict__ outMask, I vectors, I perPixel, bool writeZeros) {
  dependentLaunchPrologue();
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < vectors; i += (I)gridDim.x * blockDim.x) {
    const I p = i / perPixel;
    const bool ia = ma == nullptr || ma[p], ib = mb == nullptr || mb[p];
    if (outMask != nullptr && i == p * perPixel) outMask[p] = (ia || ib) ? 1 : 0;
    if (!ia && !ib) {
      if (writeZeros) y[i] = float4{};
      continue;
    }
    const float4 u = ia ? a[i] : float4{}, v = ib ? b[i] : float4{};
    y[i] = make_float4(u.x + v.x, u.y + v.y, u.z + v.z, u.w + v.w);
  }
}

// y = x zero-padded in H and W (NHWC); outMask = x's mask (all active when x is dense) padded with inactive pixels.
__global__ void deltaPadKernel(const float* __restrict__ x, const uint8_t* __restrict__ mask, float* __restrict__ y,
                               uint8_t* __restrict__ outMask, DeltaPadParams q, bool writeZeros) {
  dependentLaunchPrologue();
  const int lane = threadIdx.x & 31;
  const int64_t pixels = (int64_t)q.n * q.oh * q.ow;
  const int64_t stride = (int64_t)gridDim.x * kWarps;
  for (int64_t p = (int64_t)blockIdx.x * kWarps + threadIdx.x / 32; p < pixels; p += stride) {
    const int ox = (int)(p % q.ow), oy = (int)((p / q.ow) % q.oh), b = (int)(p / ((int64_t)q.ow * q.oh));
    const int iy = oy - q.top, ix = ox - q.left;
    const int64_t src = ((int64_t)b * q.h + iy) * q.w + ix;
    const bool active = iy >= 0 && iy < q.h && ix >= 0 && ix < q.w && (mask == nullptr || mask[src]);
    if (lane == 0) outMask[p] = active ? 1 : 0;
    const int64_t o = p * q.c;
    if (active) {
      for (int c = lane; c < q.c; c += 32) y[o + c] = x[src * q.c + c];
    } else if (writeZeros) {
      for (int c = lane; c < q.c; c += 32) y[o + c] = 0.f;
    }
  }
}

void checkGeometry(const char* where, int64_t pixels, int64_t channels) {
  if (pixels < 0 || channels <= 0 || channels > 0x7fffffff) failArg(where, "invalid pixels / channels");
}

}  // namespace

void launchDeltaScale(cudaStream_t s, const float* x, const uint8_t* mask, const float* scale, float* y, int64_t pixels,
                      int64_t channels, bool writeZeros) {
  checkGeometry("deltaScale", pixels, channels);
  if (pixels == 0) return;
  launchKernel(deltaScaleKernel, gridFor(pixels, kWarps), kThreads, 0, s, x, mask, scale, y, pixels, (int)channels,
               writeZeros);
  TD_LAUNCHED("deltaScale");
}

void launchDeltaPad(cudaStream_t s, const DeltaPadParams& q, const float* x, const uint8_t* mask, float* y,
                    uint8_t* outMask, bool writeZeros) {
  if (q.n < 0 || q.h <= 0 || q.w <= 0 || q.c <= 0 || q.top < 0 || q.left < 0 || q.oh < q.h + q.top ||
      q.ow < q.w + q.left)
    failArg("deltaPad", "invalid geometry");
  const int64_t pixels = (int64_t)q.n * q.oh * q.ow;
  if (pixels == 0) return;
  launchKernel(deltaPadKernel, gridFor(pixels, kWarps), kThreads, 0, s, x, mask, y, outMask, q, writeZeros);
  TD_LAUNCHED("deltaPad");
}

void launchDeltaAdd(cudaStream_t s, const float* a, const uint8_t* ma, const float* b, const uint8_t* mb, float* y,
                    uint8_t* outMask, int64_t pixels, int64_t channels, bool writeZeros) {
  checkGeometry("deltaAdd", pixels, channels);
  if (pixels == 0) return;
  if (float4Rows(channels, a, b, y)) {
    const int64_t vectors = pixels * (channels / 4);
    const auto* a4 = reinterpret_cast<const float4*>(a);
    const auto* b4 = reinterpret_cast<const float4*>(b);
    auto* y4 = reinterpret_cast<float4*>(y);
    TD_INDEX_DISPATCH(vectors < kIndex32Limit,
                      launchKernel(deltaAddVecKernel<I>, gridFor(vectors, kThreads), kThreads, 0, s, a4, ma, b4, mb, y4,
                                   outMask, (I)vectors, (I)(channels / 4), writeZeros));
  } else {
    launchKernel(deltaAddKernel, gridFor(pixels, kWarps), kThreads, 0, s, a, ma, b, mb, y, outMask, pixels,
                 (int)channels, writeZeros);
  }
  TD_LAUNCHED("deltaAdd");
}

}  // namespace tfjs_delta
