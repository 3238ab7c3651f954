// The pointwise delta block: a 1x1, stride-1 delta conv (no bias, TF32 tensor cores, the packed filter of
// delta_conv_tc.cu) with the truncating accumulator (sparseAccumulate, in place) as its epilogue, run over a work
// list of the active pixels. Semantics are those of deltaConv2d followed by sparseAccumulate (src/kernels/cpu/): an
// output pixel is active iff its input pixel is; there y = the conv, s = R + y, e = f(A + s) - f(A), flushed iff
// max_c |e| > threshold.
//
// Why a work list: the tiled kernel launches a block per 8x16-pixel tile and channel slice, so a sparse frame whose
// active pixels touch most tiles costs nearly what a dense one does, and one block's K loop sets the floor. Here
//   1. pointwiseListKernel compacts the active pixels into a list with a device-side count (any order: every
//      pixel's result is computed on its own, so the order changes nothing), writes the inactive pixels' mask bytes
//      and zeroes the scratch of step 2;
//   2. pointwiseAccumulateKernel runs a fixed grid (a captured CUDA graph replays it as is): block (x, y) takes
//      groups x, x + gridDim.x, ... of 32 listed pixels while the count has them, times output-channel slice y of
//      NB channels. Per group and slice: the 32 gathered input rows times the slice's filter, K in double-buffered
//      chunks of 32 or 64 channels (cp.async), mma.sync m16n8k8; then s = R + y is stored into R and the slice's
//      max |f(A + s) - f(A)| per pixel is merged into the pixel's maximum (atomicMax on the bits of a non-negative
//      float). The slice that finishes a group last (an arrival counter per group after a fence) decides the flush
//      of its 32 pixels over all channels: flushed pixels emit f(A + s) - f(A), A += s, R = 0; the others keep R = s.
// So a layer at 5% activity moves about 5% of the dense layer's data and multiplies 5% of its rows, the
// accumulator costs no launch and no pass over the conv output, and an inactive pixel costs its mask byte. Each
// group is a serial chain of copies, barriers, atomics and a fence, though, and that latency bounds it: it pays only
// at low activity on large grids (docs/delta-kernels.md), so the backend runs it on request only.
#include <algorithm>

#include "delta.h"
#include "delta_activation.cuh"
#include "mma_tf32.cuh"
#include "launch.cuh"

namespace tfjs_delta {
namespace {

constexpr int kRows = 32;          // listed pixels per group: two m16 fragments
constexpr int kListThreads = 256;  // pointwiseListKernel

// Active pixels -> list, with one atomicAdd per block and pass: each thread takes 8 consecutive pixels (one 8-byte
// mask load), a block-wide scan of the threads' counts gives every active pixel its slot (pixels keep their order
// within a pass). Every pixel's output mask byte is written 0 here (the accumulate kernel writes the listed pixels'
// flush flags after), inactive pixels get zeros in outD with writeZeros, and the arrivals and listed maxima are
// zeroed. The loop bound is uniform per block, so every thread takes part in each barrier.
__global__ void __launch_bounds__(kListThreads)
    pointwiseListKernel(const uint8_t* __restrict__ mask, int pixels, int co, int* __restrict__ list,
                        int* __restrict__ count, unsigned* __restrict__ maxBits, unsigned* __restrict__ arrivals,
                        int groups, uint8_t* __restrict__ outMask, float* __restrict__ outD, bool writeZeros) {
  dependentLaunchPrologue();
  __shared__ int warpTotals[kListThreads / 32];
  __shared__ int blockBase;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  constexpr int kPerPass = kListThreads * 8;
  for (int64_t base = (int64_t)blockIdx.x * kPerPass; base < pixels; base += (int64_t)gridDim.x * kPerPass) {
    const int64_t p0 = base + threadIdx.x * 8;
    uint8_t flags[8];
    if (p0 + 8 <= pixels && mask != nullptr) {
      const uint2 v = *reinterpret_cast<const uint2*>(mask + p0);  // mask buffers are 256-byte aligned
#pragma unroll
      for (int i = 0; i < 8; ++i) flags[i] = (uint8_t)(((i < 4 ? v.x : v.y) >> (8 * (i & 3))) & 0xff);
    } else {
#pragma unroll
      for (int i = 0; i < 8; ++i) flags[i] = p0 + i < pixels && (mask == nullptr || mask[p0 + i] != 0);
    }
    int mine = 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) mine += flags[i] != 0;
    int before = mine;  // inclusive scan over the warp
#pragma unroll
    for (int off = 1; off < 32; off <<= 1) {
      const int t = __shfl_up_sync(0xffffffffu, before, off);
      if (lane >= off) before += t;
    }
    if (lane == 31) warpTotals[warp] = before;
    __syncthreads();
    if (threadIdx.x == 0) {
      int total = 0;
      for (int w = 0; w < kListThreads / 32; ++w) {
        const int t = warpTotals[w];
        warpTotals[w] = total;
        total += t;
      }
      blockBase = total > 0 ? atomicAdd(count, total) : 0;
    }
    __syncthreads();
    int slot = blockBase + warpTotals[warp] + before - mine;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int64_t p = p0 + i;
      if (p >= pixels) break;
      if (flags[i]) {
        list[slot] = (int)p;
        maxBits[slot] = 0;
        ++slot;
      } else if (writeZeros) {
        for (int c = 0; c < co; ++c) outD[p * co + c] = 0.f;
      }
    }
    if (p0 + 8 <= pixels)
      *reinterpret_cast<uint2*>(outMask + p0) = make_uint2(0u, 0u);
    else
      for (int64_t p = p0; p < pixels; ++p) outMask[p] = 0;
    for (int64_t g = base + threadIdx.x; g < base + kPerPass && g < groups; g += kListThreads) arrivals[g] = 0;
    __syncthreads();  // warpTotals and blockBase are rewritten by the next pass
  }
}

template <int NB, int CK>
__device__ __forceinline__ void stageChunk(float* sA, float* sB, const int* sRows, int c, int c16, int ci0, int co0,
                                           const float* __restrict__ x, const float* __restrict__ packed) {
  constexpr int kThreads = NB * 4;
  constexpr int q4 = CK / 4, kCKP = CK + 4;
  for (int i = threadIdx.x; i < kRows * q4; i += kThreads) {
    const int row = i / q4, ci = ci0 + (i % q4) * 4;
    const int pix = sRows[row];
    const bool valid = pix >= 0 && ci < c;  // c % 4 == 0: a float4 is all in or all out
    copy16(sA + row * kCKP + (i % q4) * 4, valid ? x + (int64_t)pix * c + ci : x, valid);
  }
  // The packed filter holds, per 32 output channels and 16 input channels, 512 floats in fragment order; a chunk
  // of CK input channels is one run of CK * 32 floats per slice of 32 output channels.
  constexpr int run4 = CK * 32 / 4;
  for (int i = threadIdx.x; i < NB / 32 * run4; i += kThreads) {
    const int sl = i / run4, j = i % run4;
    const bool valid = ci0 / 16 + j / 128 < c16;
    copy16ca(sB + (int64_t)i * 4,
             valid ? packed + ((int64_t)(co0 / 32 + sl) * c16 + ci0 / 16) * 512 + (int64_t)j * 4 : packed, valid);
  }
}

// Warps: 2 (the m16 halves of a group's 32 rows) x NB / 16 (16 output channels each: two n8 fragments).
// Input channels in chunks of CK (32 or 64), two buffers in dynamic shared memory. Registers capped so that 768
// threads fit per SM: a group's chain of copies, barriers and the epilogue is latency, hidden only by other blocks.
template <int NB, int CK>
__global__ void __launch_bounds__(NB * 4, 768 / (NB * 4))
    pointwiseAccumulateKernel(int c, int co, const float* __restrict__ x, const float* __restrict__ packed,
                              const int* __restrict__ list, const int* __restrict__ count, unsigned* maxBits,
                              unsigned* arrivals, float* a, float* r, float* __restrict__ outD,
                              uint8_t* __restrict__ outMask, double threshold, int act, double alpha, bool writeZeros) {
  dependentLaunchPrologue();
  constexpr int kThreads = NB * 4;
  constexpr int kCKP = CK + 4;                    // staged input row (floats): ldmatrix rows conflict-free
  constexpr int kStage = kRows * kCKP + NB * CK;  // floats per buffer: the rows' chunk, then the filter chunk
  extern __shared__ __align__(128) float stages[];
  __shared__ int sRows[kRows];
  __shared__ int sLast;
  __shared__ bool sFlush[kRows];

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int mf = warp & 1, nq = warp >> 1;  // rows mf*16.., channels co0 + nq*16..
  const int gid = lane >> 2, tig = lane & 3;
  const int co0 = blockIdx.y * NB;
  const int c16 = (c + 15) / 16, chunks = (c + CK - 1) / CK;
  const int total = *count;
  const int aLane = ((lane & 7) + ((lane >> 3) & 1) * 8) * kCKP + (lane >> 4) * 4 + mf * 16 * kCKP;
  // this warp's B fragments: slice nq / 2 of the staged filter, n8 fragments 2 * (nq % 2) and the next
  const int bLane = (nq >> 1) * (CK * 32) + (nq & 1) * 2 * 64 + lane * 2;

  for (int g = blockIdx.x; g * kRows < total; g += gridDim.x) {
    if (threadIdx.x < kRows)
      sRows[threadIdx.x] = g * kRows + (int)threadIdx.x < total ? list[g * kRows + threadIdx.x] : -1;
    __syncthreads();
    stageChunk<NB, CK>(stages, stages + kRows * kCKP, sRows, c, c16, 0, co0, x, packed);
    commitCopies();
    // This slice's state at the group's pixels, loaded now so that it arrives while the K loop runs (only this
    // block writes R here, and A changes only in phase 2, after every slice's phase 1).
    float2 rv[2][2], av[2][2];
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      const int pix = sRows[mf * 16 + gid + 8 * hr];
#pragma unroll
      for (int nf = 0; nf < 2; ++nf) {
        const int64_t o = (int64_t)(pix < 0 ? 0 : pix) * co + co0 + nq * 16 + nf * 8 + 2 * tig;
        rv[hr][nf] = pix < 0 ? make_float2(0.f, 0.f) : *reinterpret_cast<const float2*>(r + o);
        av[hr][nf] = pix < 0 ? make_float2(0.f, 0.f) : *reinterpret_cast<const float2*>(a + o);
      }
    }

    float acc[2][4] = {};
    for (int chunk = 0; chunk < chunks; ++chunk) {
      float* sA = stages + (chunk & 1) * kStage;
      const float* sB = sA + kRows * kCKP;
      if (chunk + 1 < chunks) {  // the other buffer was released by the barrier that ended chunk - 1
        float* nA = stages + ((chunk + 1) & 1) * kStage;
        stageChunk<NB, CK>(nA, nA + kRows * kCKP, sRows, c, c16, (chunk + 1) * CK, co0, x, packed);
        commitCopies();
        waitCopies<1>();
      } else {
        waitCopies<0>();
      }
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < CK / 8; ++kk) {
        unsigned A[4];
        ldsm4(A, sA + aLane + kk * 8);
#pragma unroll
        for (int e = 0; e < 4; ++e) A[e] = toTf32Bits(A[e]);
#pragma unroll
        for (int nf = 0; nf < 2; ++nf) {
          const float2 v = *reinterpret_cast<const float2*>(sB + bLane + (kk >> 1) * 512 + (kk & 1) * 256 + nf * 64);
          mma1688(acc[nf], A, __float_as_uint(v.x), __float_as_uint(v.y));
        }
      }
      __syncthreads();  // every warp is done with this buffer
    }

    // Phase 1 (this slice): R = R + y; the pixel's largest |f(A + s) - f(A)| over the slice.
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      const int pix = sRows[mf * 16 + gid + 8 * hr];
      float largest = 0.f;
      if (pix >= 0) {
#pragma unroll
        for (int nf = 0; nf < 2; ++nf) {
          const int64_t o = (int64_t)pix * co + co0 + nq * 16 + nf * 8 + 2 * tig;
          const float2 s = make_float2(rv[hr][nf].x + acc[nf][2 * hr], rv[hr][nf].y + acc[nf][2 * hr + 1]);
          const float2 ai = av[hr][nf];
          *reinterpret_cast<float2*>(r + o) = s;
          const float ex = (float)(deltaActivate(act, ai.x + s.x, alpha) - deltaActivate(act, ai.x, alpha));
          const float ey = (float)(deltaActivate(act, ai.y + s.y, alpha) - deltaActivate(act, ai.y, alpha));
          largest = fmaxf(largest, fmaxf(fabsf(ex), fabsf(ey)));  // fmaxf skips NaN, as the reference's max does
        }
      }
      largest = fmaxf(largest, __shfl_xor_sync(0xffffffffu, largest, 1));
      largest = fmaxf(largest, __shfl_xor_sync(0xffffffffu, largest, 2));
      if (pix >= 0 && tig == 0 && largest > 0.f)
        atomicMax(maxBits + g * kRows + mf * 16 + gid + 8 * hr, __float_as_uint(largest));
    }
    __threadfence();  // this slice's R and maxima are visible before its arrival is counted
    __syncthreads();
    if (threadIdx.x == 0) sLast = gridDim.y == 1 || atomicAdd(arrivals + g, 1u) == gridDim.y - 1;
    __syncthreads();
    if (sLast) {
      // Phase 2 (the last slice of the group): the flush decisions over all channels, then the flush as one flat
      // loop over (row, 4 channels), so that many rows' loads are in flight at once.
      __threadfence();
      if (threadIdx.x < kRows) {
        const int pix = sRows[threadIdx.x];
        const bool flush = pix >= 0 && (double)__uint_as_float(__ldcg(maxBits + g * kRows + threadIdx.x)) > threshold;
        sFlush[threadIdx.x] = flush;
        if (pix >= 0) outMask[pix] = flush ? 1 : 0;
      }
      __syncthreads();
      const int q4 = co / 4;
#pragma unroll 4
      for (int e = threadIdx.x; e < kRows * q4; e += kThreads) {
        const int row = e / q4;
        const int pix = sRows[row];
        if (pix < 0) continue;
        const int64_t o = (int64_t)pix * co + (e - row * q4) * 4;
        if (sFlush[row]) {
          const float4 s = __ldcg(reinterpret_cast<const float4*>(r + o));
          const float4 ai = __ldcg(reinterpret_cast<const float4*>(a + o));
          const float4 next = make_float4(ai.x + s.x, ai.y + s.y, ai.z + s.z, ai.w + s.w);
          float4 e4;
          e4.x = (float)(deltaActivate(act, next.x, alpha) - deltaActivate(act, ai.x, alpha));
          e4.y = (float)(deltaActivate(act, next.y, alpha) - deltaActivate(act, ai.y, alpha));
          e4.z = (float)(deltaActivate(act, next.z, alpha) - deltaActivate(act, ai.z, alpha));
          e4.w = (float)(deltaActivate(act, next.w, alpha) - deltaActivate(act, ai.w, alpha));
          *reinterpret_cast<float4*>(outD + o) = e4;
          *reinterpret_cast<float4*>(a + o) = next;
          *reinterpret_cast<float4*>(r + o) = make_float4(0.f, 0.f, 0.f, 0.f);
        } else if (writeZeros) {
          *reinterpret_cast<float4*>(outD + o) = make_float4(0.f, 0.f, 0.f, 0.f);
        }
      }
    }
    __syncthreads();  // sRows and the stages are rewritten by the next group
  }
}

struct Args {
  int c, co;
  const float* x;
  const float* packed;
  const int* list;
  const int* count;
  unsigned* maxBits;
  unsigned* arrivals;
  float *a, *r, *outD;
  uint8_t* outMask;
  double threshold;
  int act;
  double alpha;
  bool writeZeros;
};

// Launches over `groups` groups of `slices` slices: as many blocks as the SMs hold at once (the kernel's occupancy,
// measured once per instance), so that every block is resident and loops over groups; never more than there are
// groups.
template <int NB, int CK>
void launchAccumulate(cudaStream_t s, int groups, int slices, const Args& g) {
  constexpr size_t smem = 2 * (size_t)(kRows * (CK + 4) + NB * CK) * sizeof(float);
  static int resident = 0;  // blocks per SM
  if (resident == 0) {
    // above 48 KiB dynamic shared memory needs an opt-in per kernel instance
    TD_CUDA("deltaPointwiseAccumulate", cudaFuncSetAttribute(pointwiseAccumulateKernel<NB, CK>,
                                                             cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    TD_CUDA("deltaPointwiseAccumulate",
            cudaOccupancyMaxActiveBlocksPerMultiprocessor(&resident, pointwiseAccumulateKernel<NB, CK>, NB * 4, smem));
    if (resident < 1) resident = 1;
  }
  const int perSlice = std::max(1, resident * multiProcessors() / slices);
  const dim3 grid((unsigned)std::min(groups, perSlice), (unsigned)slices);
  launchKernel(pointwiseAccumulateKernel<NB, CK>, grid, NB * 4, smem, s, g.c, g.co, g.x, g.packed, g.list, g.count,
               g.maxBits, g.arrivals, g.a, g.r, g.outD, g.outMask, g.threshold, g.act, g.alpha, g.writeZeros);
}

}  // namespace

bool pointwiseAccumulateFits(const DeltaConvParams& p) {
  return p.mode == DC_REGULAR && p.kh == 1 && p.kw == 1 && p.sh == 1 && p.sw == 1 && p.pt == 0 && p.pl == 0 &&
         p.oh == p.h && p.ow == p.w && p.c > 0 && p.c % 4 == 0 && p.co > 0 && p.co % 32 == 0 &&
         (int64_t)p.n * p.h * p.w < kIndex32Limit;
}

int64_t pointwiseAccumulateScratchInts(const DeltaConvParams& p) {
  const int64_t pixels = (int64_t)p.n * p.h * p.w;
  return 2 * pixels + (pixels + kRows - 1) / kRows + 1;
}

void launchPointwiseAccumulate(cudaStream_t s, const DeltaConvParams& p, const float* x, const uint8_t* mask,
                               const float* packed, float* a, float* r, float* outD, uint8_t* outMask, int* scratch,
                               double threshold, int act, double alpha, bool writeZeros) {
  if (!pointwiseAccumulateFits(p))
    failArg("deltaPointwiseAccumulate",
            "unsupported geometry (1x1, stride 1, no padding, channels % 4 == 0, output channels % 32 == 0)");
  const int pixels = p.n * p.h * p.w;
  if (pixels == 0) return;
  const int groups = (pixels + kRows - 1) / kRows;
  int* list = scratch;
  unsigned* maxBits = reinterpret_cast<unsigned*>(scratch + pixels);
  unsigned* arrivals = reinterpret_cast<unsigned*>(scratch + 2 * (int64_t)pixels);
  int* count = scratch + 2 * (int64_t)pixels + groups;
  TD_CUDA("deltaPointwiseAccumulate", cudaMemsetAsync(count, 0, sizeof(int), s));
  launchKernel(pointwiseListKernel, gridFor(pixels, kListThreads * 8), kListThreads, 0, s, mask, pixels, p.co, list,
               count, maxBits, arrivals, groups, outMask, outD, writeZeros);
  TD_LAUNCHED("deltaPointwiseList");
  // Slices of 64 output channels where they divide (256 threads), else 32 (128 threads).
  const int nb = p.co % 64 == 0 ? 64 : 32, slices = p.co / nb;
  const bool wide = p.c > 32;  // chunks of 64 input channels: half the barriers per group
  const Args args{p.c, p.co, x,    packed,  list,      count, maxBits, arrivals,
                  a,   r,    outD, outMask, threshold, act,   alpha,   writeZeros};
  if (nb == 64)
    wide ? launchAccumulate<64, 64>(s, groups, slices, args) : launchAccumulate<64, 32>(s, groups, slices, args);
  else
    wide ? launchAccumulate<32, 64>(s, groups, slices, args) : launchAccumulate<32, 32>(s, groups, slices, args);
  TD_LAUNCHED("deltaPointwiseAccumulate");
}

}  // namespace tfjs_delta
