// Fused delta blocks: a depthwise delta convolution with the truncating accumulator (sparseAccumulate) as its
// epilogue, in one launch. Semantics are those of deltaDepthwiseConv2d followed by sparseAccumulate in place
// (src/kernels/cpu/): an output pixel is active iff an input pixel of its receptive field is; at an active pixel
// y = the conv of the active inputs, s = R + y, e = f(A + s) - f(A), flushed iff max_c |e| > threshold.
// What it saves over the two-kernel path: the conv output never goes to memory (it is staged in shared memory
// for the flush decision), the delta input is read only at active taps (no zero-filling of a lazily written
// input), and an output pixel with no active tap costs one mask read per tap and its mask byte. Layout: a lane
// group per output pixel sized to the channel count (few channels: many pixels per warp), float4 channels where
// they divide by 4, and a 3x3 window's loads unrolled so that all nine are in flight at once. The state is float32
// or IEEE half (S; the half-state rule of src/ops/sparse_accumulate.ts, as sparseAccumulateKernel).
#include "delta.h"
#include "delta_activation.cuh"
#include "delta_state.cuh"
#include "storage.cuh"
#include "vec.cuh"

namespace tfjs_delta {
namespace {

constexpr int kThreads = 128;
constexpr size_t kStageBytes = 48 * 1024;

// A group of `group` lanes (a power of two <= 32) per output pixel, each lane VEC channels at a time; `stage`
// holds each lane's conv outputs between the flush decision and the writes (a lane reads back only its own). TAPS: the
// window's size when known at compile time (its loads are then unrolled and all in flight at once), else 0.
template <int VEC, int TAPS, typename S>
__global__ void depthwiseAccumulateKernel(DeltaConvParams p, const float* __restrict__ x,
                                          const uint8_t* __restrict__ mask, const float* __restrict__ w,
                                          S* __restrict__ a, S* __restrict__ r, float* __restrict__ outD,
                                          uint8_t* __restrict__ outMask, double threshold, int act, double alpha,
                                          bool writeZeros, int group) {
  extern __shared__ float stageAll[];
  const int slot = threadIdx.x / group, g = threadIdx.x % group, slots = blockDim.x / group;
  const int lane = threadIdx.x & 31;
  const unsigned groupMask = group == 32 ? 0xffffffffu : ((1u << group) - 1) << (lane / group * group);
  float* stage = stageAll + (size_t)slot * p.c;
  const int taps = TAPS > 0 ? TAPS : p.kh * p.kw;
  const int vecs = p.c / VEC;
  const int64_t pixels = (int64_t)p.n * p.oh * p.ow;
  for (int64_t q = (int64_t)blockIdx.x * slots + slot; q < pixels; q += (int64_t)gridDim.x * slots) {
    const int ox = (int)(q % p.ow), oy = (int)((q / p.ow) % p.oh), b = (int)(q / ((int64_t)p.ow * p.oh));
    const int iy0 = oy * p.sh - p.pt, ix0 = ox * p.sw - p.pl;
    // Every lane of the group derives the same active taps (the mask bytes are shared through L1).
    unsigned bits = 0;
    for (int t = 0; t < taps; ++t) {
      const int iy = iy0 + (t / p.kw) * p.dh, ix = ix0 + (t % p.kw) * p.dw;
      if (iy >= 0 && iy < p.h && ix >= 0 && ix < p.w &&
          (mask == nullptr || mask[((int64_t)b * p.h + iy) * p.w + ix] != 0))
        bits |= 1u << t;
    }
    const int64_t o = q * p.c;
    if (bits == 0) {
      if (writeZeros)
        for (int c = g; c < p.c; c += group) outD[o + c] = 0.f;
      if (g == 0) outMask[q] = 0;
      continue;
    }
    float largest = 0.f;
    for (int v = g; v < vecs; v += group) {
      const int c0 = v * VEC;
      float y[VEC] = {};
#pragma unroll
      for (int t = 0; t < (TAPS > 0 ? TAPS : 32); ++t) {  // taps in increasing order, as the reference sums them
        if (TAPS == 0 && t >= taps) break;
        if (!((bits >> t) & 1u)) continue;
        const int iy = iy0 + (t / p.kw) * p.dh, ix = ix0 + (t % p.kw) * p.dw;
        const Vec<VEC> xv = loadVec<VEC>(x + (((int64_t)b * p.h + iy) * p.w + ix) * p.c + c0);
        const Vec<VEC> wv = loadVec<VEC>(w + (int64_t)t * p.c + c0);
#pragma unroll
        for (int i = 0; i < VEC; ++i) y[i] += xv.v[i] * wv.v[i];
      }
      const Vec<VEC> av = loadStored<VEC>(a + o + c0), rv = loadStored<VEC>(r + o + c0);
#pragma unroll
      for (int i = 0; i < VEC; ++i) {
        stage[c0 + i] = y[i];
        const float s = rv.v[i] + y[i], next = storedSum<S>(av.v[i] + s);
        const float e = (float)(deltaActivate(act, next, alpha) - deltaActivate(act, av.v[i], alpha));
        largest = fmaxf(largest, fabsf(e));
      }
    }
    for (int off = group / 2; off > 0; off >>= 1) largest = fmaxf(largest, __shfl_xor_sync(groupMask, largest, off));
    const bool flush = (double)largest > threshold;
    // Each lane finishes the channels it staged (no other lane's), with the loads and stores of the first pass.
    for (int v = g; v < vecs; v += group) {
      const int c0 = v * VEC;
      const Vec<VEC> av = loadStored<VEC>(a + o + c0), rv = loadStored<VEC>(r + o + c0);
      Vec<VEC> d, nextA, nextR;
#pragma unroll
      for (int i = 0; i < VEC; ++i) {
        const float s = rv.v[i] + stage[c0 + i], sum = av.v[i] + s, next = storedSum<S>(sum);
        d.v[i] = flush ? (float)(deltaActivate(act, next, alpha) - deltaActivate(act, av.v[i], alpha)) : 0.f;
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
    if (g == 0) outMask[q] = flush ? 1 : 0;
  }
}

int groupFor(int vecs) {
  int g = 1;
  while (g < vecs && g < 32) g *= 2;
  return g;
}

template <int VEC, typename S>
void launchDepthwiseAccumulateVec(cudaStream_t s, const DeltaConvParams& p, const float* x, const uint8_t* mask,
                                  const float* w, S* a, S* r, float* outD, uint8_t* outMask, double threshold, int act,
                                  double alpha, bool writeZeros) {
  const int group = groupFor(p.c / VEC), slots = kThreads / group;
  const int64_t pixels = (int64_t)p.n * p.oh * p.ow;
  const size_t smem = (size_t)slots * p.c * sizeof(float);
  if (p.kh * p.kw == 9)
    depthwiseAccumulateKernel<VEC, 9, S><<<gridFor(pixels, slots), kThreads, smem, s>>>(
        p, x, mask, w, a, r, outD, outMask, threshold, act, alpha, writeZeros, group);
  else
    depthwiseAccumulateKernel<VEC, 0, S><<<gridFor(pixels, slots), kThreads, smem, s>>>(
        p, x, mask, w, a, r, outD, outMask, threshold, act, alpha, writeZeros, group);
}

}  // namespace

bool depthwiseAccumulateFits(const DeltaConvParams& p) {
  if (p.mode != DC_DEPTHWISE || p.mult != 1 || p.kh * p.kw > 32 || p.c <= 0) return false;
  const int vec = p.c % 4 == 0 ? 4 : 1;
  return (size_t)(kThreads / groupFor(p.c / vec)) * p.c * sizeof(float) <= kStageBytes;
}

void launchDepthwiseAccumulate(cudaStream_t s, const DeltaConvParams& p, const float* x, const uint8_t* mask,
                               const float* w, void* a, void* r, float* outD, uint8_t* outMask, double threshold,
                               int act, double alpha, bool writeZeros, bool halfState) {
  if (!depthwiseAccumulateFits(p))
    failArg("fusedDeltaDepthwiseConv2d",
            "unsupported geometry (channel multiplier 1, at most 32 taps and 3072 channels)");
  if ((int64_t)p.n * p.oh * p.ow == 0) return;
  // 4-channel loads need 16-byte rows of x: channels % 4 == 0 (tensor buffers themselves are 256-byte aligned)
  TD_STORAGE_DISPATCH(halfState, {
    T* sa = static_cast<T*>(a);
    T* sr = static_cast<T*>(r);
    if (p.c % 4 == 0)
      launchDepthwiseAccumulateVec<4>(s, p, x, mask, w, sa, sr, outD, outMask, threshold, act, alpha, writeZeros);
    else
      launchDepthwiseAccumulateVec<1>(s, p, x, mask, w, sa, sr, outD, outMask, threshold, act, alpha, writeZeros);
  });
  TD_LAUNCHED("fusedDeltaDepthwiseConv2d");
}

}  // namespace tfjs_delta
