// Fused delta blocks on pixel groups: a delta convolution with the truncating accumulator (sparseAccumulate) as its
// epilogue, in one launch, for depthwise convs and for regular convs of a small reduction (input channels x taps
// <= 32: a network's first conv over RGB, the 1x1 expansions of 16-32 channels). Semantics are those of the delta
// conv followed by sparseAccumulate in place (src/kernels/cpu/): an output pixel is active iff an input pixel of its
// receptive field is; at an active pixel y = the conv of the active inputs, s = R + y, e = f(A + s) - f(A), flushed
// iff max_c |e| > threshold.
// What it saves over the two-kernel path: the conv output never goes to memory, the delta input is read only at
// active taps (no zero-filling of a lazily written input), and an output pixel with no active tap costs its window's
// mask bytes and its own. Layout: a pixel group (pixel_group.cuh) per output pixel, a lane per VEC channels
// (float4 where the channels divide by 4), at most V vectors a lane, held in registers from the loads to the
// writes: every load of a pixel (its taps, A and R) is in flight at once and the state is read once. A 3x3
// window's taps are unrolled. The state is float32 or IEEE half (S; the half-state rule of
// src/ops/sparse_accumulate.ts, as sparseAccumulateKernel). kFloat: the activation change in float32
// (activationExactInFloat; the same bits).
// A regular conv of a small reduction runs on the same groups, a lane per output channel holding that channel's
// filter in registers: a pixel's inputs are read once by every lane of its group (the same addresses, so one
// broadcast access per warp), where the tiled tensor-core kernel spends a 128-pixel tile on one active pixel and then
// writes a delta that the accumulator reads back. Its sums are float32 (no TF32 rounding).
#include <type_traits>

#include "delta.h"
#include "delta_activation.cuh"
#include "delta_state.cuh"
#include "pixel_group.cuh"
#include "pixel_list.cuh"
#include "storage.cuh"
#include "vec.cuh"
#include "launch.cuh"

namespace tfjs_delta {
namespace {

constexpr int kMinBlock = 128;
constexpr int kMaxChannels = 3072;
constexpr int kMaxSmallReduction = 32;     // a regular conv's input channels x taps, its filter held in registers
constexpr int64_t kMaxPixels = INT32_MAX;  // output pixels, indexed in 32 bits

// Whether tap t of the window whose top-left input pixel is (iy0, ix0) in image b reads an active input pixel: inside
// the image, and set in the mask (null: a dense input). KW: the window's width where known at compile time (0: p.kw).
template <int KW>
__device__ __forceinline__ bool tapActive(const DeltaConvParams& p, const uint8_t* __restrict__ mask, int b, int iy0,
                                          int ix0, int t) {
  const int kw = KW > 0 ? KW : p.kw;
  const int iy = iy0 + (t / kw) * p.dh, ix = ix0 + (t % kw) * p.dw;
  return iy >= 0 && iy < p.h && ix >= 0 && ix < p.w &&
         (mask == nullptr || mask[((int64_t)b * p.h + iy) * p.w + ix] != 0);
}

// KH, KW: the window where known at compile time (3x3: its taps' offsets are then constants and their loads
// unrolled), else 0 (at most 32 taps). CIN: 0 for a depthwise conv (multiplier 1), else a regular conv's input
// channels (VEC = V = 1: lane g of a group owns output channel g, its CIN x KH x KW filter values in registers).
// With a pixel list (pixel_list.cuh; `list` non-null) the groups take the listed output pixels, each with its bitmap
// of active taps from the list pass, instead of every output pixel; a group loads its next item while it works on this
// one, so that an iteration does not first wait on the list to learn which pixel it reads.
// A pixel's index is 32-bit (the launcher checks; the loop's base is 64-bit, as a grid's stride can pass 2^31):
// 64-bit divisions for its coordinates cost more than a pixel with no active tap otherwise does.
template <int VEC, int V, int KH, int KW, int CIN, typename S, bool kFloat>
__global__ void __launch_bounds__(kMaxGroupThreads)
    convAccumulateKernel(DeltaConvParams p, const float* __restrict__ x, const uint8_t* __restrict__ mask,
                         const float* __restrict__ w, S* __restrict__ a, S* __restrict__ r, float* __restrict__ outD,
                         uint8_t* __restrict__ outMask, double threshold, int act, double alpha, bool writeZeros,
                         int group, const int* __restrict__ list, const unsigned* __restrict__ listBits,
                         const int* __restrict__ listCount) {
  dependentLaunchPrologue();
  __shared__ float warpMax[kMaxGroupThreads / 32];
  const int slot = threadIdx.x / group, g = threadIdx.x % group, slots = blockDim.x / group;
  static_assert(CIN == 0 || (VEC == 1 && V == 1 && KH > 0 && CIN * KH * KW <= kMaxSmallReduction));
  constexpr int kReduction = CIN > 0 ? CIN * KH * KW : 1;
  const int kw = KW > 0 ? KW : p.kw, taps = KH > 0 ? KH * KW : p.kh * p.kw;
  const int co = CIN > 0 ? p.co : p.c;  // output channels
  const int vecs = co / VEC, width = group < 32 ? group : 32, pixels = p.n * p.oh * p.ow;
  // A regular conv's filter column of this lane's output channel: filter [kh, kw, c, co], reduction index
  // tap * CIN + input channel.
  float wr[kReduction];
  if constexpr (CIN > 0) {
#pragma unroll
    for (int k = 0; k < kReduction; ++k) wr[k] = g < co ? w[(int64_t)k * co + g] : 0.f;
  }
  const int items = list != nullptr ? *listCount : pixels;
  const int64_t rowStep = (int64_t)p.dh * p.w * p.c, colStep = (int64_t)p.dw * p.c;  // a tap's step in x
  const int64_t stride = (int64_t)gridDim.x * slots;
  const Vec<VEC> zeros = {};
  int64_t base = (int64_t)blockIdx.x * slots;
  int nextQ = pixels;  // q == pixels: past the end
  unsigned nextBits = 0;
  if (list != nullptr && base + slot < items) nextQ = list[base + slot], nextBits = listBits[base + slot];
  // The loop's bound is the block's, so that every thread reaches groupMax's barriers and the shuffles below.
  for (; base < items; base += stride) {
    int q = nextQ;
    unsigned bits = nextBits;
    if (list != nullptr) {
      const int64_t n = base + stride + slot;
      nextQ = pixels, nextBits = 0;
      if (n < items) nextQ = list[n], nextBits = listBits[n];
    } else {
      q = (int)min(base + slot, (int64_t)items);
    }
    int b = 0, iy0 = 0, ix0 = 0;
    if (q < pixels) {
      const int ox = q % p.ow, rest = q / p.ow, oy = rest % p.oh;
      b = rest / p.oh;
      iy0 = oy * p.sh - p.pt, ix0 = ox * p.sw - p.pl;
      // Without a list the lanes of a warp's share of the group read the window's mask bytes between them and OR
      // their bits together.
      if (list == nullptr)
        for (int t = g % width; t < taps; t += width)
          if (tapActive<KW>(p, mask, b, iy0, ix0, t)) bits |= 1u << t;
    }
    if (list == nullptr)
      for (int off = width / 2; off > 0; off >>= 1) bits |= __shfl_xor_sync(0xffffffffu, bits, off);
    const int64_t o = (int64_t)q * co;
    // The window's top-left element in x (outside the image where the window is: only taps inside it are read).
    const int64_t corner = (((int64_t)b * p.h + iy0) * p.w + ix0) * p.c;
    Vec<VEC> y[V], av[V], rv[V];
    float largest = 0.f;
    if (bits != 0) {
#pragma unroll
      for (int j = 0; j < V; ++j) {
        const int v = g + j * group;
        if (v >= vecs) break;
        const int c0 = v * VEC;
        av[j] = loadStored<VEC>(a + o + c0);
        rv[j] = loadStored<VEC>(r + o + c0);
#pragma unroll
        for (int i = 0; i < VEC; ++i) y[j].v[i] = 0.f;
#pragma unroll
        for (int t = 0; t < (KH > 0 ? KH * KW : 32); ++t) {  // taps in increasing order, as the reference sums them
          if (KH == 0 && t >= taps) break;
          if (!((bits >> t) & 1u)) continue;
          const float* xt = x + corner + (t / kw) * rowStep + (t % kw) * colStep;
          if constexpr (CIN == 0) {
            const Vec<VEC> xv = loadVec<VEC>(xt + c0);
            const Vec<VEC> wv = loadVec<VEC>(w + t * p.c + c0);
#pragma unroll
            for (int i = 0; i < VEC; ++i) y[j].v[i] += xv.v[i] * wv.v[i];
          } else {
            constexpr int kLoad = CIN % 4 == 0 ? 4 : 1;  // input channels a load
#pragma unroll
            for (int ci = 0; ci < CIN; ci += kLoad) {
              const Vec<kLoad> xv = loadVec<kLoad>(xt + ci);
#pragma unroll
              for (int u = 0; u < kLoad; ++u) y[j].v[0] += xv.v[u] * wr[t * CIN + ci + u];
            }
          }
        }
#pragma unroll
        for (int i = 0; i < VEC; ++i) {
          const float s = rv[j].v[i] + y[j].v[i], next = storedSum<S>(av[j].v[i] + s);
          const float e = activationChange<kFloat>(act, next, av[j].v[i], alpha);
          largest = fmaxf(largest, fabsf(e));
        }
      }
    } else if (q < pixels && writeZeros) {
      for (int v = g; v < vecs; v += group) storeVec<VEC>(outD + o + v * VEC, zeros);
    }
    largest = groupMax(largest, group, warpMax);
    const bool flush = bits != 0 && (double)largest > threshold;
    if (bits != 0) {
#pragma unroll
      for (int j = 0; j < V; ++j) {
        const int v = g + j * group;
        if (v >= vecs) break;
        const int c0 = v * VEC;
        Vec<VEC> d, nextA, nextR;
#pragma unroll
        for (int i = 0; i < VEC; ++i) {
          const float s = rv[j].v[i] + y[j].v[i], sum = av[j].v[i] + s, next = storedSum<S>(sum);
          d.v[i] = flush ? activationChange<kFloat>(act, next, av[j].v[i], alpha) : 0.f;
          nextA.v[i] = next;
          nextR.v[i] = flush ? sum - next : s;  // what the stored A lost (0 in float32 state)
        }
        if (flush) {
          storeVec<VEC>(outD + o + c0, d);
          storeStored<VEC>(a + o + c0, nextA);
        } else if (writeZeros) {
          storeVec<VEC>(outD + o + c0, d);
        }
        storeStored<VEC>(r + o + c0, nextR);
      }
    }
    if (q < pixels && g == 0) outMask[q] = flush ? 1 : 0;
  }
}

// The block's pixel list: a lane per output pixel ORs its window's mask bits; an output pixel with no active tap
// gets its mask byte here, the others go on the list with their bitmaps. KH, KW as the block's kernel.
template <int KH, int KW>
__global__ void __launch_bounds__(kListThreads)
    blockListKernel(DeltaConvParams p, const uint8_t* __restrict__ mask, int* __restrict__ list,
                    unsigned* __restrict__ listBits, int* __restrict__ count, uint8_t* __restrict__ outMask,
                    int* counters) {
  dependentLaunchPrologue();
  const int pixels = p.n * p.oh * p.ow, taps = KH > 0 ? KH * KW : p.kh * p.kw;
  int* const tally = appendCount(counters, count);
  // The loop bound is uniform per warp (appendPixel's ballot); 64-bit steps, as a grid's stride can pass 2^31.
  for (int64_t base = (int64_t)blockIdx.x * kListThreads + (threadIdx.x & ~31); base < pixels;
       base += (int64_t)gridDim.x * kListThreads) {
    const int64_t i = base + (threadIdx.x & 31);
    const int q = i < pixels ? (int)i : pixels;
    unsigned bits = 0;
    if (q < pixels) {
      const int ox = q % p.ow, rest = q / p.ow, oy = rest % p.oh, b = rest / p.oh;
      const int iy0 = oy * p.sh - p.pt, ix0 = ox * p.sw - p.pl;
#pragma unroll
      for (int t = 0; t < (KH > 0 ? KH * KW : 32); ++t) {
        if (KH == 0 && t >= taps) break;
        if (tapActive<KW>(p, mask, b, iy0, ix0, t)) bits |= 1u << t;
      }
      if (bits == 0) outMask[q] = 0;
    }
    appendPixel(bits != 0, q, bits, list, listBits, tally);
  }
  publishListCount(counters, count, gridDim.x);
}

// The op a block's errors name.
const char* blockOp(const DeltaConvParams& p) {
  return p.mode == DC_DEPTHWISE ? "fusedDeltaDepthwiseConv2d" : "fusedDeltaConv2d";
}

// A regular conv the pixel groups take: a window and input channel count with a kernel instance (the first conv over
// RGB, 3x3; 1x1 over 16, 24 or 32 channels), a lane per output channel.
bool smallConvFits(const DeltaConvParams& p) {
  return p.mode == DC_REGULAR && p.co > 0 && p.co <= kMaxGroupThreads &&
         ((p.kh == 3 && p.kw == 3 && p.c == 3) || (p.kh == 1 && p.kw == 1 && (p.c == 16 || p.c == 24 || p.c == 32)));
}

template <int VEC, int V, int KH, int KW, int CIN, typename S>
void launchConvAccumulateVec(cudaStream_t s, const DeltaConvParams& p, const float* x, const uint8_t* mask,
                             const float* w, S* a, S* r, float* outD, uint8_t* outMask, double threshold, int act,
                             double alpha, bool writeZeros, int* scratch) {
  const int channels = CIN > 0 ? p.co : p.c;
  const int group = pixelGroupFor(channels / VEC, V), threads = pixelGroupBlock(group, kMinBlock);
  if ((int64_t)group * V * VEC < channels) failArg(blockOp(p), "the pixel group does not cover the channels");
  const int64_t pixels = (int64_t)p.n * p.oh * p.ow;
  const int grid = scratch != nullptr ? listGrid(pixels, threads / group, threads) : gridFor(pixels, threads / group);
  const int* list = scratch != nullptr ? scratch + 1 : nullptr;
  const unsigned* bits = scratch != nullptr ? reinterpret_cast<const unsigned*>(scratch + 1 + pixels) : nullptr;
  const auto run = [&](auto kernel) {
    launchKernel(kernel, grid, threads, 0, s, p, x, mask, w, a, r, outD, outMask, threshold, act, alpha, writeZeros,
                 group, list, bits, scratch);
  };
  activationExactInFloat(act) ? run(convAccumulateKernel<VEC, V, KH, KW, CIN, S, true>)
                              : run(convAccumulateKernel<VEC, V, KH, KW, CIN, S, false>);
}

}  // namespace

bool convAccumulateFits(const DeltaConvParams& p) {
  if ((int64_t)p.n * p.oh * p.ow > kMaxPixels) return false;
  if (p.mode == DC_REGULAR) return smallConvFits(p);
  return p.mode == DC_DEPTHWISE && p.mult == 1 && p.kh * p.kw <= 32 && p.c > 0 && p.c <= kMaxChannels;
}

bool launchConvAccumulate(cudaStream_t s, const DeltaConvParams& p, const float* x, const uint8_t* mask, const float* w,
                          void* a, void* r, float* outD, uint8_t* outMask, double threshold, int act, double alpha,
                          bool writeZeros, bool halfState, int* scratch) {
  if (!convAccumulateFits(p))
    failArg(blockOp(p),
            p.mode == DC_REGULAR
                ? "unsupported geometry (a 3x3 window over 3 input channels, or 1x1 over 16, 24 or 32; at most 512 "
                  "output channels and 2^31 - 1 output pixels)"
                : "unsupported geometry (channel multiplier 1, at most 32 taps, 3072 channels and 2^31 - 1 output "
                  "pixels)");
  const int64_t pixels = (int64_t)p.n * p.oh * p.ow;
  if (pixels == 0) return false;
  // A pixel list needs a mask: an output pixel with no active tap then has nothing to do but its mask byte. Where the
  // delta is written whole, its zeros are one memset before the list (the listed pixels that do not flush keep them).
  if (mask == nullptr) scratch = nullptr;
  if (scratch != nullptr && writeZeros) {
    const int64_t channels = p.mode == DC_REGULAR ? p.co : p.c;  // outD's, as the kernel indexes it
    TD_CUDA(blockOp(p), cudaMemsetAsync(outD, 0, pixels * channels * sizeof(float), s));
    writeZeros = false;
  }
  if (scratch != nullptr) {
    int* const counters = startListCount(s, scratch, blockOp(p));
    const auto list = p.kh == 3 && p.kw == 3   ? blockListKernel<3, 3>
                      : p.kh == 1 && p.kw == 1 ? blockListKernel<1, 1>
                                               : blockListKernel<0, 0>;
    launchKernel(list, producerGrid(pixels, kListThreads, counters != nullptr), kListThreads, 0, s, p, mask,
                 scratch + 1, reinterpret_cast<unsigned*>(scratch + 1 + pixels), scratch, outMask, counters);
    TD_LAUNCHED(blockOp(p));
  }
  TD_STORAGE_DISPATCH(halfState, {
    T* sa = static_cast<T*>(a);
    T* sr = static_cast<T*>(r);
    if (p.mode == DC_REGULAR) {
      const auto run = [&](auto k, auto cin) {
        constexpr int K = decltype(k)::value, CIN = decltype(cin)::value;
        launchConvAccumulateVec<1, 1, K, K, CIN, T>(s, p, x, mask, w, sa, sr, outD, outMask, threshold, act, alpha,
                                                    writeZeros, scratch);
      };
      using One = std::integral_constant<int, 1>;
      using Three = std::integral_constant<int, 3>;
      switch (p.c) {
        case 3: run(Three{}, Three{}); break;
        case 16: run(One{}, std::integral_constant<int, 16>{}); break;
        case 24: run(One{}, std::integral_constant<int, 24>{}); break;
        default: run(One{}, std::integral_constant<int, 32>{}); break;
      }
    } else {
      // 4-channel loads need 16-byte rows of x: channels % 4 == 0 (tensor buffers themselves are 256-byte aligned).
      // A lane holds one vector wherever a group of kMaxGroupThreads lanes covers the channels, else V.
      const auto run = [&](auto vec, auto perLane) {
        constexpr int VEC = decltype(vec)::value, V = decltype(perLane)::value;
        p.kh == 3 && p.kw == 3
            ? launchConvAccumulateVec<VEC, V, 3, 3, 0, T>(s, p, x, mask, w, sa, sr, outD, outMask, threshold, act,
                                                          alpha, writeZeros, scratch)
            : launchConvAccumulateVec<VEC, V, 0, 0, 0, T>(s, p, x, mask, w, sa, sr, outD, outMask, threshold, act,
                                                          alpha, writeZeros, scratch);
      };
      using One = std::integral_constant<int, 1>;
      using Four = std::integral_constant<int, 4>;
      if (p.c % 4 == 0)
        p.c / 4 <= kMaxGroupThreads ? run(Four{}, One{}) : run(Four{}, std::integral_constant<int, 2>{});
      else
        p.c <= kMaxGroupThreads ? run(One{}, One{}) : run(One{}, std::integral_constant<int, 8>{});
    }
  });
  TD_LAUNCHED(blockOp(p));
  return scratch != nullptr;
}

}  // namespace tfjs_delta
