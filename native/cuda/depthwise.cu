// Dense depthwise convolution (channel multiplier 1, NHWC) with FusedDepthwiseConv2D's bias and activation as its
// epilogue. cuDNN runs these as grouped convolutions through a direct kernel that is latency-bound on the small grids
// of a MobileNet's deep layers; a depthwise conv is memory-bound (9 multiply-adds an element for 3x3), so one
// thread per (output pixel, 4 channels), consecutive threads on consecutive channels, reads each input row
// coalesced and keeps a 3x3 window's nine loads in flight at once.
#include "common.h"
#include "storage.cuh"
#include "unary_op.cuh"
#include "launch.cuh"

namespace tfjs_delta {
namespace {

constexpr int kThreads = 256;

inline int blocksFor(int64_t n) { return gridFor(n, kThreads); }

// KH, KW: the window when known at compile time (3x3), else 0. With a known window every tap's input load is issued
// before the first multiply, a tap outside the input reading its clamped neighbour and counting as zero: behind a
// bounds branch each load would wait for the one before it, nine memory latencies in a row (the filter loads carry no
// branch). Taps are summed in row-major order, as the 'cpu' kernel sums them.
template <int VEC, int KH, int KW, typename TX, typename TY, typename I>
__global__ void depthwiseConvKernel(DepthwiseParams p, const TX* __restrict__ x, const float* __restrict__ w,
                                    const float* __restrict__ bias, TY* __restrict__ y, int act, float alpha) {
  dependentLaunchPrologue();
  const int vecs = p.c / VEC;
  const I items = (I)p.n * p.oh * p.ow * vecs;
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < items; i += (I)gridDim.x * blockDim.x) {
    const int c0 = (int)(i % vecs) * VEC;
    const I q = i / vecs;
    const int ox = (int)(q % p.ow);
    const I rest = q / p.ow;
    const int oy = (int)(rest % p.oh), b = (int)(rest / p.oh);
    const int iy0 = oy * p.sh - p.pt, ix0 = ox * p.sw - p.pl;
    const TX* image = x + (I)b * p.h * p.w * p.c + c0;
    float acc[VEC] = {};
    if constexpr (KH > 0) {
      Vec<VEC> xv[KH][KW];
      bool inside[KH][KW];
#pragma unroll
      for (int ky = 0; ky < KH; ++ky) {
        const int iy = iy0 + ky * p.dh;
        const bool rowInside = iy >= 0 && iy < p.h;
        const int cy = min(max(iy, 0), p.h - 1);
#pragma unroll
        for (int kx = 0; kx < KW; ++kx) {
          const int ix = ix0 + kx * p.dw;
          inside[ky][kx] = rowInside && ix >= 0 && ix < p.w;
          const int cx = min(max(ix, 0), p.w - 1);
          xv[ky][kx] = loadStored<VEC>(image + ((I)cy * p.w + cx) * p.c);
        }
      }
#pragma unroll
      for (int ky = 0; ky < KH; ++ky)
#pragma unroll
        for (int kx = 0; kx < KW; ++kx) {
          const Vec<VEC> wv = loadVec<VEC>(w + (ky * KW + kx) * p.c + c0);
          if (inside[ky][kx]) {
#pragma unroll
            for (int e = 0; e < VEC; ++e) acc[e] += xv[ky][kx].v[e] * wv.v[e];
          }
        }
    } else {
      for (int ky = 0; ky < p.kh; ++ky) {
        const int iy = iy0 + ky * p.dh;
        if (iy < 0 || iy >= p.h) continue;
        for (int kx = 0; kx < p.kw; ++kx) {
          const int ix = ix0 + kx * p.dw;
          if (ix < 0 || ix >= p.w) continue;
          const Vec<VEC> xv = loadStored<VEC>(image + ((I)iy * p.w + ix) * p.c);
          const Vec<VEC> wv = loadVec<VEC>(w + (ky * p.kw + kx) * p.c + c0);
#pragma unroll
          for (int e = 0; e < VEC; ++e) acc[e] += xv.v[e] * wv.v[e];
        }
      }
    }
    Vec<VEC> out;
#pragma unroll
    for (int e = 0; e < VEC; ++e) out.v[e] = unaryOp(act, bias ? acc[e] + bias[c0 + e] : acc[e], alpha);
    storeStored<VEC>(y + q * p.c + c0, out);
  }
}

template <int VEC, int KH, int KW, typename TX, typename TY>
void launchTyped(cudaStream_t s, const DepthwiseParams& p, const void* x, const float* w, const float* bias, void* y,
                 int act, float alpha) {
  const int64_t items = (int64_t)p.n * p.oh * p.ow * (p.c / VEC);
  const int64_t largest = items * VEC > (int64_t)p.n * p.h * p.w * p.c ? items * VEC : (int64_t)p.n * p.h * p.w * p.c;
  TD_INDEX_DISPATCH(largest < kIndex32Limit,
                    launchKernel(depthwiseConvKernel<VEC, KH, KW, TX, TY, I>, blocksFor(items), kThreads, 0, s, p,
                                 static_cast<const TX*>(x), w, bias, static_cast<TY*>(y), act, alpha));
}

template <int VEC, typename TX, typename TY>
void launchWindow(cudaStream_t s, const DepthwiseParams& p, const void* x, const float* w, const float* bias, void* y,
                  int act, float alpha) {
  if (p.kh == 3 && p.kw == 3)
    launchTyped<VEC, 3, 3, TX, TY>(s, p, x, w, bias, y, act, alpha);
  else
    launchTyped<VEC, 0, 0, TX, TY>(s, p, x, w, bias, y, act, alpha);
}

}  // namespace

void launchDepthwiseConv(cudaStream_t s, const DepthwiseParams& p, const void* x, bool xHalf, const float* w,
                         const float* bias, void* y, bool yHalf, int act, float alpha) {
  if (act < 0 || act >= U_COUNT) failArg("depthwiseConv2d", "unknown activation " + std::to_string(act));
  if (p.n < 0 || p.h < 1 || p.w < 1 || p.c < 1 || p.oh < 0 || p.ow < 0 || p.kh < 1 || p.kw < 1 || p.sh < 1 ||
      p.sw < 1 || p.dh < 1 || p.dw < 1)
    failArg("depthwiseConv2d", "bad geometry (sizes, window, strides and dilations must be positive)");
  if ((int64_t)p.n * p.oh * p.ow == 0) return;
  // 4 channels at a time need 16-byte rows (8-byte for half): channels % 4 == 0 (tensor buffers are 256-byte aligned)
  const bool vec4 = p.c % 4 == 0;
  TD_STORAGE_DISPATCH(xHalf, {
    using TX = T;
    TD_STORAGE_DISPATCH(yHalf, {
      if (vec4)
        launchWindow<4, TX, T>(s, p, x, w, bias, y, act, alpha);
      else
        launchWindow<1, TX, T>(s, p, x, w, bias, y, act, alpha);
    });
  });
  TD_LAUNCHED("depthwiseConv2d");
}

}  // namespace tfjs_delta
