// Tiled delta convolutions (regular convs, masked input): an implicit GEMM per output tile. On a dense input (no mask)
// they serve dense convs too, with the bias and activation in the store (ConvEpilogue): one pass over the output where
// cuDNN's conv and a bias-activation pass make three.
//   deltaConvMmaKernel (below the WMMA kernel): the TF32 path for c % 4 == 0 and co % 32 == 0 (co % 4 == 0 with
//     mmaPartial, the last channel block part empty): mma.sync
//     m16n8k8, ldmatrix, K or N split across warps, double-buffered chunks, a packed TF32 filter (derived buffer).
//   deltaConvTcKernel: TF32 WMMA for the other shapes, and, without TF32, the strict-fp32 FFMA variant.
// Either runs a block per output tile and channel block, or, where that grid would take many waves, a grid of as many
// blocks as the GPU holds over a list of the active tiles (convTileListKernel; the kListed instances), so that the
// inactive tiles of a sparse frame cost a warp of the list pass each instead of a block's turn on a multiprocessor.
// The WMMA kernel (TF32 WMMA m16n16k8, fp32 accumulation): a block owns 8x16 output pixels x 32 output channels
// (8 warps, each one output row = 16 pixels times 2 fragments of 16 channels). Per block:
//   1. the mask of the tile's input footprint goes to shared memory (the tile's one mask read); each output's
//      mask is the OR over its receptive field (with an accumulator's list, AccumulateList, the first channel block
//      also appends the active outputs to it); a tile with no active output writes its mask and exits;
//   2. per chunk of CK input channels the footprint (inactive and out-of-image pixels as zeros) and the filter
//      taps of that chunk are copied to shared memory with cp.async (all copies in flight at once: a version that
//      staged with plain loads and was bound by their latency, ~90 us per tile), then every warp runs its MMAs
//      (operands rounded to TF32 in registers); a warp whose 16 output pixels are all inactive skips its MMAs;
//   3. the accumulators go through shared memory to coalesced NHWC stores.
// The A operand of tap (ky, kx) for output row py is a strided view of the staged footprint: row m (pixel m of
// the row) starts at ((py*sh + ky*dh) * FW + kx*dw + m*sw) * CKP, so lda = sw * CKP.
// Templated on the filter size and chunk (3x3 and 1x1 common cases: loops fully unrolled so shared loads of later
// k-steps overlap the MMAs; 0 = runtime values) and on TF32: the strict-fp32 variant stages the same tiles and
// runs FFMAs instead (each lane one output channel, 16 pixel accumulators, float4 loads along channels).
#include <mma.h>

#include <cstdlib>
#include <type_traits>

#include "delta.h"
#include "delta_accumulate_row.cuh"
#include "mma_tf32.cuh"
#include "pixel_list.cuh"
#include "launch.cuh"
#include "pixel_group.cuh"
#include "unary_op.cuh"

namespace tfjs_delta {
namespace {

using namespace nvcuda;

constexpr int kTH = 8, kTW = 16, kNB = 32, kFrags = kNB / 16, kWarps = kTH, kThreads = kWarps * 32;
constexpr int kWRow = kNB + 8;                       // padded filter row (floats): fewer bank conflicts
constexpr int kStageFloats = kWarps * kFrags * 256;  // accumulator staging: 16 KiB
constexpr size_t kSmemLimit = 100 * 1024;

__device__ __forceinline__ void copy4(float* dst, const float* src, bool valid) {
  const unsigned d = (unsigned)__cvta_generic_to_shared(dst);
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(d), "l"(src), "r"(valid ? 4 : 0));
}
__device__ __forceinline__ void copiesDone() { asm volatile("cp.async.commit_group;\ncp.async.wait_group 0;\n" ::); }
template <typename Frag>
__device__ __forceinline__ void toTf32(Frag& f) {
#pragma unroll
  for (int i = 0; i < f.num_elements; ++i) f.x[i] = wmma::__float_to_tf32(f.x[i]);
}

using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major>;
using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major>;
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 8, float>;

struct TcShape {
  int fh, fw, ck, ckp;
  size_t inFloats, wFloats, smem;
};

TcShape shapeFor(const DeltaConvParams& p, int ck) {
  TcShape t;
  t.fh = (kTH - 1) * p.sh + (p.kh - 1) * p.dh + 1;
  t.fw = (kTW - 1) * p.sw + (p.kw - 1) * p.dw + 1;
  t.ck = ck;
  t.ckp = ck == 8 ? 8 : ck + 8;  // multiples of 8 floats keep every WMMA pointer 32-byte aligned
  t.inFloats = (size_t)t.fh * t.fw * t.ckp;
  t.wFloats = (size_t)p.kh * p.kw * ck * kWRow;
  size_t bytes = (t.inFloats + t.wFloats) * sizeof(float) + (((size_t)t.fh * t.fw + 15) / 16) * 16;
  t.smem = bytes < kStageFloats * sizeof(float) ? kStageFloats * sizeof(float) : bytes;
  return t;
}

// The output flags of one 8x16 tile: active where the footprint of (py, px) holds an active input pixel (sMask, the
// tile's input footprint of width fw). Written to sAct and, by the first channel block only, to outMask; with an
// accumulator's list (acc.scratch), the first channel block also appends the tile's active pixels to it and writes
// acc.outMask zero at the inactive ones. `threads` >= 128 and a multiple of 32: one pass, whole warps (the append's
// ballot).
__device__ __forceinline__ void tileOutputFlags(const DeltaConvParams& p, const uint8_t* sMask, int fw, int kh, int kw,
                                                bool any, uint8_t* sAct, uint8_t* outMask, const AccumulateList& acc,
                                                int b, int oy0, int ox0, int threads) {
  for (int t = threadIdx.x; t < kTH * kTW; t += threads) {
    const int py = t / kTW, px = t % kTW;
    uint8_t a = 0;
    if (any)
      for (int ky = 0; ky < kh && !a; ++ky)
        for (int kx = 0; kx < kw; ++kx)
          if (sMask[(py * p.sh + ky * p.dh) * fw + px * p.sw + kx * p.dw]) {
            a = 1;
            break;
          }
    sAct[t] = a;
    const int oy = oy0 + py, ox = ox0 + px;
    const bool inside = oy < p.oh && ox < p.ow;
    if (blockIdx.y == 0 && outMask != nullptr && inside) outMask[((int64_t)b * p.oh + oy) * p.ow + ox] = a;
    if (blockIdx.y == 0 && acc.scratch != nullptr) {
      const int q = inside ? (b * p.oh + oy) * p.ow + ox : 0;  // < 2^31 (checked by launchDeltaConv)
      if (inside && !a) acc.outMask[q] = 0;
      appendPixel(inside && a, q, 0, acc.scratch + 1, nullptr, appendCount(acc.counters, acc.scratch));
    }
  }
}

// A tiled kernel's work: every tile of the grid (items null: block (x, y, z) = tile x, channel block y, image z), or
// the listed tiles (items[i] = image * tiles + tile, *count of them), which a fixed grid of blocks takes in turn.
struct TileItems {
  const int* items;
  const int* count;
};

// The tile list: a warp per tile ORs the tile's input footprint mask (fh x fw, as the kernels stage it); an active
// tile goes on the list, an inactive one gets its output mask bytes here (and the accumulator's, with acc.scratch):
// what the kernels' first channel block would write for it. kListLoads bytes a lane are in flight before the early
// exit's test: a footprint mostly inactive is read in fh * fw / (32 kListLoads) round trips, not one per byte.
constexpr int kListLoads = 8;
__global__ void __launch_bounds__(256)
    convTileListKernel(DeltaConvParams p, const uint8_t* __restrict__ mask, int fh, int fw, int tilesW, int tiles,
                       uint8_t* __restrict__ outMask, AccumulateList acc, int* __restrict__ list,
                       int* __restrict__ count, int* counters) {
  dependentLaunchPrologue();
  int* const tally = appendCount(counters, count);
  const int lane = threadIdx.x % 32, warps = blockDim.x / 32;
  const int total = p.n * tiles;  // < 2^31 (checked by the launcher)
  for (int item = blockIdx.x * warps + threadIdx.x / 32; item < total; item += gridDim.x * warps) {
    const int b = item / tiles, tile = item % tiles;
    const int oy0 = (tile / tilesW) * kTH, ox0 = (tile % tilesW) * kTW;
    const int iy0 = oy0 * p.sh - p.pt, ix0 = ox0 * p.sw - p.pl;
    bool any = false;
    for (int i0 = lane; i0 < fh * fw && !any; i0 += 32 * kListLoads) {
      uint8_t v[kListLoads];
#pragma unroll
      for (int u = 0; u < kListLoads; ++u) {
        const int i = i0 + 32 * u, iy = iy0 + i / fw, ix = ix0 + i % fw;
        v[u] = i < fh * fw && iy >= 0 && iy < p.h && ix >= 0 && ix < p.w ? mask[((int64_t)b * p.h + iy) * p.w + ix] : 0;
      }
#pragma unroll
      for (int u = 0; u < kListLoads; ++u) any = any || v[u] != 0;
    }
    if (__any_sync(kFullWarp, any)) {
      if (lane == 0) list[atomicAdd(tally, 1)] = item;
      continue;
    }
    for (int t = lane; t < kTH * kTW; t += 32) {
      const int oy = oy0 + t / kTW, ox = ox0 + t % kTW;
      if (oy >= p.oh || ox >= p.ow) continue;
      const int64_t q = ((int64_t)b * p.oh + oy) * p.ow + ox;
      if (outMask != nullptr) outMask[q] = 0;
      if (acc.scratch != nullptr) acc.outMask[q] = 0;
    }
  }
  publishListCount(counters, count, gridDim.x);
}

// Runs runTile(tile, image) for this block's tiles: its own (blockIdx.x, blockIdx.z), or with kListed the listed
// ones in turn, a barrier between two (the previous tile is done with shared memory).
template <bool kListed, typename F>
__device__ __forceinline__ void forEachTile(const TileItems& work, int tiles, const F& runTile) {
  if constexpr (kListed) {
    const int items = *work.count;
    for (int item = blockIdx.x; item < items; item += gridDim.x) {
      if (item != blockIdx.x) __syncthreads();
      const int e = work.items[item];
      runTile(e % tiles, e / tiles);
    }
  } else {
    runTile((int)blockIdx.x, (int)blockIdx.z);
  }
}

template <int KH_, int KW_, int CK_, bool kTf32, int kMinBlocks, bool kListed>
__global__ void __launch_bounds__(kThreads, kMinBlocks)
    deltaConvTcKernel(DeltaConvParams p, int FH, int FW, int ckRuntime, int CKP, int inFloats, int wFloats,
                      const float* __restrict__ x, const uint8_t* __restrict__ mask, const float* __restrict__ w,
                      float* __restrict__ y, uint8_t* __restrict__ outMask, bool writeZeros, ConvEpilogue ep,
                      AccumulateList accList, TileItems work) {
  dependentLaunchPrologue();
  extern __shared__ __align__(128) float smem[];
  const int KH = KH_ ? KH_ : p.kh, KW = KW_ ? KW_ : p.kw, CK = CK_ ? CK_ : ckRuntime;
  float* sIn = smem;
  float* sW = smem + inFloats;
  uint8_t* sMask = reinterpret_cast<uint8_t*>(sW + wFloats);
  __shared__ uint8_t sAct[kTH * kTW];

  const int tilesW = (p.ow + kTW - 1) / kTW, tiles = tilesW * ((p.oh + kTH - 1) / kTH);
  const int co0 = blockIdx.y * kNB;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  // One output tile; an inactive one returns after its masks.
  const auto runTile = [&](const int tile, const int b) {
    const int oy0 = (tile / tilesW) * kTH, ox0 = (tile % tilesW) * kTW;
    const int iy0 = oy0 * p.sh - p.pt, ix0 = ox0 * p.sw - p.pl;

    // 1. footprint mask (in-image and active), output masks, tile skip.
    int any = 0;
    for (int i = threadIdx.x; i < FH * FW; i += kThreads) {
      const int iy = iy0 + i / FW, ix = ix0 + i % FW;
      uint8_t a = 0;
      if (iy >= 0 && iy < p.h && ix >= 0 && ix < p.w)
        a = mask == nullptr ? 1 : (mask[((int64_t)b * p.h + iy) * p.w + ix] != 0);
      sMask[i] = a;
      any |= a;
    }
    any = __syncthreads_or(any);
    tileOutputFlags(p, sMask, FW, p.kh, p.kw, any, sAct, outMask, accList, b, oy0, ox0, kThreads);
    if (!any) {
      if (writeZeros)
        for (int e = threadIdx.x; e < kTH * kTW * kNB; e += kThreads) {
          const int t = e / kNB, n = e % kNB;
          const int oy = oy0 + t / kTW, ox = ox0 + t % kTW, co = co0 + n;
          if (oy < p.oh && ox < p.ow && co < p.co)
            y[(((int64_t)b * p.oh + oy) * p.ow + ox) * p.co + co] = applyEpilogue(ep, 0.f, co);
        }
      return;
    }
    __syncthreads();
    const bool warpActive = __any_sync(0xffffffffu, lane < kTW && sAct[warp * kTW + lane]);

    FragC acc[kFrags];
    float facc[kTW];  // strict fp32: pixel m of this warp's row, output channel co0 + lane
    if constexpr (kTf32) {
#pragma unroll
      for (int j = 0; j < kFrags; ++j) wmma::fill_fragment(acc[j], 0.f);
    } else {
#pragma unroll
      for (int m = 0; m < kTW; ++m) facc[m] = 0.f;
    }

    const int taps = KH * KW;
    const bool vec4 = (p.c % 4) == 0, wvec4 = (p.co % 4) == 0;
    for (int ci0 = 0; ci0 < p.c; ci0 += CK) {
      if (ci0 > 0) __syncthreads();  // the previous chunk's MMAs are done with sIn / sW
      // 2a. input footprint chunk, 2b. filter chunk [tap][ci][n] (zeros past c / co), as asynchronous copies
      if (vec4) {
        const int q4 = CK / 4;
        for (int i = threadIdx.x; i < FH * FW * q4; i += kThreads) {
          const int pos = i / q4, ci = (i % q4) * 4;
          const bool valid = sMask[pos] && ci0 + ci < p.c;
          const float* src =
              valid ? x + (((int64_t)b * p.h + iy0 + pos / FW) * p.w + ix0 + pos % FW) * p.c + ci0 + ci : x;
          copy16(sIn + pos * CKP + ci, src, valid);
        }
      } else {
        for (int i = threadIdx.x; i < FH * FW * CK; i += kThreads) {
          const int pos = i / CK, ci = i % CK;
          const bool valid = sMask[pos] && ci0 + ci < p.c;
          const float* src =
              valid ? x + (((int64_t)b * p.h + iy0 + pos / FW) * p.w + ix0 + pos % FW) * p.c + ci0 + ci : x;
          copy4(sIn + pos * CKP + ci, src, valid);
        }
      }
      if (wvec4) {
        constexpr int n4 = kNB / 4;
        for (int i = threadIdx.x; i < taps * CK * n4; i += kThreads) {
          const int n = (i % n4) * 4, ci = (i / n4) % CK, tap = i / (n4 * CK);
          const bool valid = ci0 + ci < p.c && co0 + n < p.co;
          const float* src = valid ? w + ((int64_t)tap * p.c + ci0 + ci) * p.co + co0 + n : w;
          copy16(sW + (tap * CK + ci) * kWRow + n, src, valid);
        }
      } else {
        for (int i = threadIdx.x; i < taps * CK * kNB; i += kThreads) {
          const int n = i % kNB, ci = (i / kNB) % CK, tap = i / (kNB * CK);
          const bool valid = ci0 + ci < p.c && co0 + n < p.co;
          const float* src = valid ? w + ((int64_t)tap * p.c + ci0 + ci) * p.co + co0 + n : w;
          copy4(sW + (tap * CK + ci) * kWRow + n, src, valid);
        }
      }
      copiesDone();
      __syncthreads();
      if (!warpActive) continue;
      if constexpr (kTf32) {
#pragma unroll
        for (int ky = 0; ky < KH; ++ky)
#pragma unroll
          for (int kx = 0; kx < KW; ++kx) {
            const int tap = ky * KW + kx;
            const float* aRow = sIn + ((warp * p.sh + ky * p.dh) * FW + kx * p.dw) * CKP;
#pragma unroll
            for (int k8 = 0; k8 < CK; k8 += 8) {
              FragA af;
              wmma::load_matrix_sync(af, aRow + k8, p.sw * CKP);
              toTf32(af);
#pragma unroll
              for (int j = 0; j < kFrags; ++j) {
                FragB bf;
                wmma::load_matrix_sync(bf, sW + (tap * CK + k8) * kWRow + j * 16, kWRow);
                toTf32(bf);
                wmma::mma_sync(acc[j], af, bf, acc[j]);
              }
            }
          }
      } else {
        const int pixStride = p.sw * CKP;
#pragma unroll
        for (int ky = 0; ky < KH; ++ky)
#pragma unroll
          for (int kx = 0; kx < KW; ++kx) {
            const float* xr = sIn + ((warp * p.sh + ky * p.dh) * FW + kx * p.dw) * CKP;
            const float* wr = sW + (ky * KW + kx) * CK * kWRow + lane;
#pragma unroll 2
            for (int ci = 0; ci < CK; ci += 4) {
              const float w0 = wr[ci * kWRow], w1 = wr[(ci + 1) * kWRow], w2 = wr[(ci + 2) * kWRow],
                          w3 = wr[(ci + 3) * kWRow];
#pragma unroll
              for (int m = 0; m < kTW; ++m) {
                const float4 v = *reinterpret_cast<const float4*>(xr + m * pixStride + ci);
                facc[m] = fmaf(v.x, w0, fmaf(v.y, w1, fmaf(v.z, w2, fmaf(v.w, w3, facc[m]))));
              }
            }
          }
      }
    }
    // 3. results -> coalesced NHWC stores (all valid outputs of an active tile; inactive outputs of it are exact
    //    zeros: their whole receptive field was staged as zeros)
    if constexpr (kTf32) {
      __syncthreads();
      float* stage = smem + warp * (kFrags * 256);
#pragma unroll
      for (int j = 0; j < kFrags; ++j) wmma::store_matrix_sync(stage + j * 256, acc[j], 16, wmma::mem_row_major);
      __syncwarp();
      for (int e = lane; e < kTW * kNB; e += 32) {
        const int px = e / kNB, n = e % kNB;
        const int oy = oy0 + warp, ox = ox0 + px, co = co0 + n;
        if (oy < p.oh && ox < p.ow && co < p.co)
          y[(((int64_t)b * p.oh + oy) * p.ow + ox) * p.co + co] =
              applyEpilogue(ep, stage[(n / 16) * 256 + px * 16 + n % 16], co);
      }
    } else {
      const int oy = oy0 + warp, co = co0 + lane;
      if (oy < p.oh && co < p.co)
#pragma unroll
        for (int m = 0; m < kTW; ++m)
          if (ox0 + m < p.ow)
            y[(((int64_t)b * p.oh + oy) * p.ow + ox0 + m) * p.co + co] = applyEpilogue(ep, facc[m], co);
    }
  };
  forEachTile<kListed>(work, tiles, runTile);
  // The first channel block's blocks append the accumulator's pixels.
  if (blockIdx.y == 0) publishListCount(accList.counters, accList.scratch, gridDim.x * gridDim.z);
}

// ---- The mma.sync kernel (TF32 tensor cores, c % 4 == 0, co % 32 == 0; co % 4 == 0 with mmaPartial) ----
// Same output tile (8x16 pixels) and the same mask phase as above, 8 warps, but a short critical path. Warp w owns
// output rows 2*(w%4) and 2*(w%4)+1 (two m16 fragments) times 32 output channels (four n8 fragments); the other
// warp index (w/4) splits either K or N:
//   NB = 32 (3x3 default): 32 channels per block, warps 0-3 multiply the first half of every chunk's input
//     channels and warps 4-7 the second half; the two partial sums meet in shared memory at the end;
//   NB = 64 (1x1 default): 64 channels per block, warps 4-7 take channels 32-63; the input is staged once for
//     all 64 output channels (a 1x1 conv over 256 channels is bound by reading its input).
// Operands: A by ldmatrix.x4 straight from the staged footprint (row = pixel, 4 consecutive channels = 16 bytes;
// rows CK + 4 floats apart: conflict-free), B by two scalar loads per fragment from the staged filter rows (NB + 8
// floats apart: conflict-free); both rounded to TF32 once, in shared memory, by the thread that copied them.
// Chunks of CK input channels are double-buffered (the copies of chunk i+1 are in flight while chunk i is
// multiplied); the first chunk's copies are issued before the output masks are derived. Each footprint pixel's
// source offset (or -1: masked / outside) is computed once, in the mask phase. At most 128 registers: 2 blocks per SM
// (3 for the 1x1 instances over chunks of up to 32 channels: mmaMinBlocks).
constexpr int kMThreads = 256;
constexpr size_t kMmaSmemLimit = 160 * 1024;

__device__ __forceinline__ void roundTf32(float* p) {
  float4 v = *reinterpret_cast<float4*>(p);
  v.x = wmma::__float_to_tf32(v.x);
  v.y = wmma::__float_to_tf32(v.y);
  v.z = wmma::__float_to_tf32(v.z);
  v.w = wmma::__float_to_tf32(v.w);
  *reinterpret_cast<float4*>(p) = v;
}
// Stages chunk ci0 (kRound false: asynchronous copies, zeros for masked / out-of-range elements), or rounds to
// TF32 what this thread copied for it (kRound true, after its copies landed). sOff: footprint pixel -> input
// pixel index (-1: masked or outside the image).
// kPacked: w is the packed TF32 filter (packedFilterIndex): the chunk's filter slice of each group of 32 output
// channels is one contiguous run, copied as is (already rounded: the rounding pass skips it).
template <bool kRound, bool kPacked, int CK, int NB>
__device__ __forceinline__ void mmaStage(const DeltaConvParams& p, float* sIn, float* sW, const int* sOff, int fpix,
                                         int taps, int ci0, int co0, const float* __restrict__ x,
                                         const float* __restrict__ w) {
  constexpr int CKP = CK + 4, q4 = CK / 4, n4 = NB / 4, WROW = NB + 8;
  for (int i = threadIdx.x; i < fpix * q4; i += kMThreads) {
    const int pos = i / q4, ci = (i % q4) * 4;
    float* dst = sIn + pos * CKP + ci;
    if constexpr (kRound) {
      roundTf32(dst);
    } else {
      const int off = sOff[pos];
      const bool valid = off >= 0 && ci0 + ci < p.c;
      copy16(dst, valid ? x + (int64_t)off * p.c + ci0 + ci : x, valid);
    }
  }
  if constexpr (kPacked) {
    if constexpr (!kRound) {
      const int c16 = (p.c + 15) / 16, run4 = CK / 16 * taps * 128;  // float4s per 32-channel slice and chunk
      for (int i = threadIdx.x; i < NB / 32 * run4; i += kMThreads) {
        const int sl = i / run4, j = i % run4;
        const int cg = ci0 / 16 + j / (taps * 128);
        const bool valid = cg < c16;
        copy16ca(
            sW + (int64_t)i * 4,
            valid ? w + ((int64_t)(co0 / 32 + sl) * c16 * taps + (int64_t)(ci0 / 16) * taps) * 512 + (int64_t)j * 4 : w,
            valid);
      }
    }
    return;
  }
  const float* wc = w + (int64_t)ci0 * p.co + co0;
  for (int i = threadIdx.x; i < taps * CK * n4; i += kMThreads) {
    const int n = (i % n4) * 4, ci = (i / n4) % CK, tap = i / (n4 * CK);
    float* dst = sW + (tap * CK + ci) * WROW + n;
    if constexpr (kRound) {
      roundTf32(dst);
    } else {
      const bool valid = ci0 + ci < p.c && co0 + n < p.co;  // a part-empty last block: zeros past co
      copy16ca(dst, valid ? wc + ((int64_t)tap * p.c + ci) * p.co + n : w, valid);
    }
  }
}

// Blocks a multiprocessor should hold: 1x1 convs over chunks of up to 32 channels are latency-bound per tile (their
// few MMAs wait behind the mask, copy and store phases), so more of them run side by side.
template <int KH, int KW, int CK>
constexpr int mmaMinBlocks() {
  return KH == 1 && KW == 1 && CK <= 32 ? 3 : 2;
}

// The footprint of the tile whose input window starts at (iy0, ix0) in image b: sOff[i] its input pixel's index (-1
// where masked or outside the image) and sMask[i] whether that pixel is active, for the fpix = FH x FW footprint
// pixels. Returns whether any is (every thread of the block: a barrier).
__device__ __forceinline__ int stageFootprint(const DeltaConvParams& p, const uint8_t* __restrict__ mask, int* sOff,
                                              uint8_t* sMask, int fpix, int FW, int b, int iy0, int ix0) {
  int any = 0;
  for (int i = threadIdx.x; i < fpix; i += kMThreads) {
    const int iy = iy0 + i / FW, ix = ix0 + i % FW;
    int off = -1;
    if (iy >= 0 && iy < p.h && ix >= 0 && ix < p.w) {
      const int q = (b * p.h + iy) * p.w + ix;  // < 2^31 (checked by the launcher)
      if (mask == nullptr || mask[q] != 0) off = q;
    }
    sOff[i] = off;
    sMask[i] = off >= 0;
    any |= off >= 0;
  }
  return __syncthreads_or(any);
}

// The sums of one channel block (output channels co0 .. co0 + NB) of the tile over every chunk of CK input
// channels, into acc: warp w owns output rows 2*(w%4) and 2*(w%4)+1 and, by w/4, half of K (NB 32) or of the
// channels (NB 64). The first chunk's copies are already issued and committed; later chunks are double-buffered
// (chunk i+1's copies in flight while chunk i is multiplied). Ends behind a barrier: both stages are free again.
template <int KH_, int KW_, int CK, int NB, bool kPacked>
__device__ __forceinline__ void mmaChannelBlock(const DeltaConvParams& p, int FW, int inFloats, int stageFloats,
                                                float* stages, const int* sOff, int fpix, int co0,
                                                const float* __restrict__ x, const float* __restrict__ w,
                                                bool roundOperands, bool warpActive, float (&acc)[2][4][4]) {
  constexpr int CKP = CK + 4, WROW = NB + 8;
  constexpr bool kSplitK = NB == 32;
  const int KH = KH_ ? KH_ : p.kh, KW = KW_ ? KW_ : p.kw, taps = KH * KW;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int ms = warp & 3, wk = warp >> 2;
  const int gid = lane >> 2, tig = lane & 3;
#pragma unroll
  for (int mf = 0; mf < 2; ++mf)
#pragma unroll
    for (int nf = 0; nf < 4; ++nf)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[mf][nf][e] = 0.f;

  const int chunks = (p.c + CK - 1) / CK;
  constexpr int kSteps = kSplitK ? CK / 16 : CK / 8;  // k8 steps per tap and chunk for this warp
  const int kBase = kSplitK ? wk * (CK / 2) : 0;
  const int nBase = kSplitK ? 0 : wk * 32;
  // ldmatrix row of this lane: pixel (lane & 7) + 8 * ((lane >> 3) & 1) of the fragment, channels + 4 * (lane >> 4)
  const int aLane = ((lane & 7) + ((lane >> 3) & 1) * 8) * p.sw * CKP + (lane >> 4) * 4 + kBase;
  const int bLane = kPacked ? (nBase / 32) * (CK / 16) * taps * 512 + lane * 2 : (kBase + tig) * WROW + nBase + gid;
  const int kk0 = kBase / 8;            // first k8 step of this warp within a tap's chunk
  const int rowStep = p.sh * FW * CKP;  // footprint offset of the next output row

  for (int chunk = 0; chunk < chunks; ++chunk) {
    float* sIn = stages + (chunk & 1) * stageFloats;
    float* sW = sIn + inFloats;
    if (chunk + 1 < chunks) {  // the other buffer was released by the barrier that ended chunk - 1
      float* nIn = stages + ((chunk + 1) & 1) * stageFloats;
      mmaStage<false, kPacked, CK, NB>(p, nIn, nIn + inFloats, sOff, fpix, taps, (chunk + 1) * CK, co0, x, w);
      commitCopies();
      waitCopies<1>();
    } else {
      waitCopies<0>();
    }
    if (!kPacked && roundOperands) mmaStage<true, kPacked, CK, NB>(p, sIn, sW, sOff, fpix, taps, chunk * CK, co0, x, w);
    __syncthreads();
    if (warpActive) {
#pragma unroll
      for (int ky = 0; ky < KH; ++ky)
#pragma unroll
        for (int kx = 0; kx < KW; ++kx) {
          const float* a0 = sIn + ((2 * ms * p.sh + ky * p.dh) * FW + kx * p.dw) * CKP + aLane;
          const int tap = ky * KW + kx;
          const float* bp = sW + (kPacked ? tap * 512 : tap * CK * WROW) + bLane;
#pragma unroll
          for (int ks = 0; ks < kSteps; ++ks) {
            unsigned A0[4], A1[4];
            ldsm4(A0, a0 + ks * 8);
            ldsm4(A1, a0 + rowStep + ks * 8);
            if constexpr (kPacked) {  // the staged input is not rounded: its fragments are
#pragma unroll
              for (int e = 0; e < 4; ++e) {
                A0[e] = toTf32Bits(A0[e]);
                A1[e] = toTf32Bits(A1[e]);
              }
            }
#pragma unroll
            for (int nf = 0; nf < 4; ++nf) {
              unsigned b0, b1;
              if constexpr (kPacked) {  // k8 step kk = kk0 + ks: group kk / 2 of 16 channels, half kk % 2
                const int kk = kk0 + ks;
                const float2 v =
                    *reinterpret_cast<const float2*>(bp + ((kk >> 1) * taps * 2 + (kk & 1)) * 256 + nf * 64);
                b0 = __float_as_uint(v.x);
                b1 = __float_as_uint(v.y);
              } else {
                b0 = __float_as_uint(bp[ks * 8 * WROW + nf * 8]);
                b1 = __float_as_uint(bp[(ks * 8 + 4) * WROW + nf * 8]);
              }
              mma1688(acc[0][nf], A0, b0, b1);
              mma1688(acc[1][nf], A1, b0, b1);
            }
          }
        }
    }
    __syncthreads();  // every warp is done with this buffer
  }
}

// A channel block's sums (mmaChannelBlock's acc) into shared memory: pixel t's row at out + t * row, the block's
// channels from column col0; the two K halves summed where NB is 32 (the second half added to the first, in that
// order). Ends behind a barrier.
template <int NB>
__device__ __forceinline__ void mmaSumsToShared(const float (&acc)[2][4][4], float* out, int row, int col0) {
  constexpr bool kSplitK = NB == 32;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int ms = warp & 3, wk = warp >> 2, gid = lane >> 2, tig = lane & 3;
  const int nBase = kSplitK ? 0 : wk * 32;
  for (int pass = 0; pass < (kSplitK ? 2 : 1); ++pass) {
    if (!kSplitK || wk == pass) {
#pragma unroll
      for (int mf = 0; mf < 2; ++mf)
#pragma unroll
        for (int nf = 0; nf < 4; ++nf)
#pragma unroll
          for (int hr = 0; hr < 2; ++hr) {
            float2* o = reinterpret_cast<float2*>(out + ((2 * ms + mf) * kTW + gid + 8 * hr) * row + col0 + nBase +
                                                  nf * 8 + 2 * tig);
            float2 v = make_float2(acc[mf][nf][2 * hr], acc[mf][nf][2 * hr + 1]);
            if (pass == 1) {
              const float2 u = *o;
              v.x += u.x;
              v.y += u.y;
            }
            *o = v;
          }
    }
    __syncthreads();
  }
}

// Whether any output pixel of this warp's two output rows (mmaChannelBlock's rows) is active.
__device__ __forceinline__ bool warpRowsActive(const uint8_t* sAct) {
  return __any_sync(0xffffffffu, sAct[((threadIdx.x / 32) & 3) * 2 * kTW + threadIdx.x % 32] != 0);
}

template <int KH_, int KW_, int CK, int NB, bool kPacked, bool kListed>
__global__ void __launch_bounds__(kMThreads, mmaMinBlocks<KH_, KW_, CK>())
    deltaConvMmaKernel(DeltaConvParams p, int FH, int FW, int inFloats, int stageFloats, int headBytes,
                       const float* __restrict__ x, const uint8_t* __restrict__ mask, const float* __restrict__ w,
                       float* __restrict__ y, uint8_t* __restrict__ outMask, bool writeZeros, bool roundOperands,
                       ConvEpilogue ep, AccumulateList accList, TileItems work) {
  dependentLaunchPrologue();
  extern __shared__ __align__(128) float smem[];
  constexpr int OUTROW = NB + 4;
  const int KH = KH_ ? KH_ : p.kh, KW = KW_ ? KW_ : p.kw;
  const int fpix = FH * FW;
  int* sOff = reinterpret_cast<int*>(smem);
  uint8_t* sMask = reinterpret_cast<uint8_t*>(sOff + fpix);
  float* stages = smem + headBytes / 4;
  __shared__ uint8_t sAct[kTH * kTW];

  const int tilesW = (p.ow + kTW - 1) / kTW, tiles = tilesW * ((p.oh + kTH - 1) / kTH);
  const int co0 = blockIdx.y * NB;
  const int taps = KH * KW;
  // Output channels co .. co + 3 through the epilogue (a delta conv has none).
  const auto finish = [&](float4 v, const int co) {
    if (hasEpilogue(ep)) {
      v.x = applyEpilogue(ep, v.x, co);
      v.y = applyEpilogue(ep, v.y, co + 1);
      v.z = applyEpilogue(ep, v.z, co + 2);
      v.w = applyEpilogue(ep, v.w, co + 3);
    }
    return v;
  };
  // One output tile; an inactive one returns after its masks.
  const auto runTile = [&](const int tile, const int b) {
    const int oy0 = (tile / tilesW) * kTH, ox0 = (tile % tilesW) * kTW;
    const int iy0 = oy0 * p.sh - p.pt, ix0 = ox0 * p.sw - p.pl;

    // 1. footprint mask and source offsets, tile skip, first chunk's copies, output masks.
    const int any = stageFootprint(p, mask, sOff, sMask, fpix, FW, b, iy0, ix0);
    if (any) {
      mmaStage<false, kPacked, CK, NB>(p, stages, stages + inFloats, sOff, fpix, taps, 0, co0, x, w);
      commitCopies();
    }
    tileOutputFlags(p, sMask, FW, KH, KW, any, sAct, outMask, accList, b, oy0, ox0, kMThreads);
    if (!any) {
      if (writeZeros)
        for (int e = threadIdx.x; e < kTH * kTW * NB / 4; e += kMThreads) {
          const int t = e / (NB / 4), q = (e % (NB / 4)) * 4;
          const int oy = oy0 + t / kTW, ox = ox0 + t % kTW;
          if (oy < p.oh && ox < p.ow && co0 + q < p.co)
            *reinterpret_cast<float4*>(y + (((int64_t)b * p.oh + oy) * p.ow + ox) * p.co + co0 + q) =
                finish(make_float4(0.f, 0.f, 0.f, 0.f), co0 + q);
        }
      return;
    }
    __syncthreads();

    // 2. the MMAs over every chunk.
    float acc[2][4][4];
    mmaChannelBlock<KH_, KW_, CK, NB, kPacked>(p, FW, inFloats, stageFloats, stages, sOff, fpix, co0, x, w,
                                               roundOperands, warpRowsActive(sAct), acc);

    // 3. results in shared memory (the stages are free), then coalesced float4 NHWC stores of every valid output of
    //    the tile (inactive outputs of an active tile are exact zeros: their receptive field was staged as zeros).
    float* sOut = stages;  // [128 pixels][OUTROW]
    mmaSumsToShared<NB>(acc, sOut, OUTROW, 0);
    for (int e = threadIdx.x; e < kTH * kTW * NB / 4; e += kMThreads) {
      const int t = e / (NB / 4), q = (e % (NB / 4)) * 4;
      const int oy = oy0 + t / kTW, ox = ox0 + t % kTW;
      if (oy < p.oh && ox < p.ow && co0 + q < p.co)
        *reinterpret_cast<float4*>(y + (((int64_t)b * p.oh + oy) * p.ow + ox) * p.co + co0 + q) =
            finish(*reinterpret_cast<const float4*>(sOut + t * OUTROW + q), co0 + q);
    }
  };
  forEachTile<kListed>(work, tiles, runTile);
  // The first channel block's blocks append the accumulator's pixels.
  if (blockIdx.y == 0) publishListCount(accList.counters, accList.scratch, gridDim.x * gridDim.z);
}

// ---- The 1x1 delta conv with the accumulator as its epilogue (the mma kernel's tiles, every channel block) ----
// One block per 8x16 output tile computes all of the tile's output channels, one channel block after another (each
// as the mma kernel's), into a shared-memory tile of [128 pixels x the channel blocks' width]; then each active pixel
// of the tile runs the accumulator's per-pixel arithmetic (AccumulateRow) on its row there: A and R read and updated
// in place, the flush decision a max over the pixel's channels, outD written where it flushed (and zeros elsewhere
// with writeZeros), outMask at every output pixel. The conv's delta never reaches global memory, and the layer is
// one launch where the two kernels take two. The sums are the mma kernel's (the same chunk, channel block and K
// split; the kernel takes only the shapes the two kernels run on the mma kernel), and the arithmetic the
// accumulator's, so the results are the two kernels' bit for bit. A warp per pixel, a float4 of channels a lane
// (kAccVecs a lane: co <= 128 * kAccVecs). The tile list (work.items) runs as the mma
// kernel's; an inactive tile's pixels get their mask byte (and zeros) from the block or the list pass.
constexpr int kAccVecs = 2;
constexpr size_t kStaticSmem = 2 * kTH * kTW + 16;  // sAct, sList, sCount
template <int CK, int NB, bool kPacked, typename S>
__global__ void __launch_bounds__(kMThreads, 2)
    deltaConvMmaAccumulateKernel(DeltaConvParams p, int FH, int FW, int inFloats, int stageFloats, int headBytes,
                                 int tileRow, const float* __restrict__ x, const uint8_t* __restrict__ mask,
                                 const float* __restrict__ w, void* aState, void* rState, float* __restrict__ outD,
                                 uint8_t* __restrict__ outMask, bool writeZeros, bool roundOperands, double threshold,
                                 int act, double alpha, TileItems work) {
  dependentLaunchPrologue();
  extern __shared__ __align__(128) float smem[];
  S* const a = static_cast<S*>(aState);  // in place: read, then written by the same lane
  S* const r = static_cast<S*>(rState);
  const int fpix = FH * FW;
  int* sOff = reinterpret_cast<int*>(smem);
  uint8_t* sMask = reinterpret_cast<uint8_t*>(sOff + fpix);
  float* stages = smem + headBytes / 4;
  float* sTile = stages + 2 * stageFloats;  // [128 pixels][tileRow]: the tile's delta, every channel
  __shared__ uint8_t sAct[kTH * kTW], sList[kTH * kTW];
  __shared__ int sCount;
  const int tilesW = (p.ow + kTW - 1) / kTW, tiles = tilesW * ((p.oh + kTH - 1) / kTH);
  const int channelBlocks = (p.co + NB - 1) / NB, vecs = p.co / 4;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const Vec<4> zeros = {};
  const AccumulateList noList{nullptr, nullptr};
  // A listed pixel's state, loaded a pixel ahead of its use: the accumulator's pass is a chain of dependent loads per
  // warp, and the state of the warp's next pixel is in flight while the current one is decided and written.
  struct State {
    Vec<4> a[kAccVecs], r[kAccVecs];
  };
  const auto load = [&](int64_t o, State& st) {
#pragma unroll
    for (int j = 0; j < kAccVecs; ++j)
      if (lane + 32 * j < vecs) {
        st.a[j] = loadStored<4>(a + o + 4 * (lane + 32 * j));
        st.r[j] = loadStored<4>(r + o + 4 * (lane + 32 * j));
      }
  };
  const auto runTile = [&](const int tile, const int b) {
    const int oy0 = (tile / tilesW) * kTH, ox0 = (tile % tilesW) * kTW;
    const auto pixelOf = [&](int t) { return ((int64_t)b * p.oh + oy0 + t / kTW) * p.ow + ox0 + t % kTW; };
    const auto inside = [&](int t) { return oy0 + t / kTW < p.oh && ox0 + t % kTW < p.ow; };
    const int any = stageFootprint(p, mask, sOff, sMask, fpix, FW, b, oy0 * p.sh - p.pt, ox0 * p.sw - p.pl);
    if (any) {
      mmaStage<false, kPacked, CK, NB>(p, stages, stages + inFloats, sOff, fpix, 1, 0, 0, x, w);
      commitCopies();
    }
    tileOutputFlags(p, sMask, FW, 1, 1, any, sAct, nullptr, noList, b, oy0, ox0, kMThreads);
    __syncthreads();  // sAct
    // The pixels the accumulator passes over (the rest get their mask byte and, with writeZeros, zeros): the tile's
    // active ones, listed by the first warp (read after the barriers that end the channel blocks).
    for (int t = threadIdx.x; t < kTH * kTW; t += kMThreads)
      if (inside(t) && !(any && sAct[t])) outMask[pixelOf(t)] = 0;
    if (writeZeros)
      for (int e = threadIdx.x; e < kTH * kTW * vecs; e += kMThreads) {
        const int t = e / vecs;
        if (inside(t) && !(any && sAct[t])) storeVec<4>(outD + pixelOf(t) * p.co + 4 * (e % vecs), zeros);
      }
    if (!any) return;
    if (warp == 0) {
      int count = 0;
      for (int t0 = 0; t0 < kTH * kTW; t0 += 32) {
        const bool on = sAct[t0 + lane] && inside(t0 + lane);
        const unsigned ballot = __ballot_sync(kFullWarp, on);
        if (on) sList[count + __popc(ballot & ((1u << lane) - 1))] = (uint8_t)(t0 + lane);
        count += __popc(ballot);
      }
      if (lane == 0) sCount = count;
    }
    const bool warpActive = warpRowsActive(sAct);
    for (int cb = 0; cb < channelBlocks; ++cb) {
      float acc[2][4][4];
      mmaChannelBlock<1, 1, CK, NB, kPacked>(p, FW, inFloats, stageFloats, stages, sOff, fpix, cb * NB, x, w,
                                             roundOperands, warpActive, acc);
      if (cb + 1 < channelBlocks) {  // the next block's first chunk is copied while these sums are stored
        mmaStage<false, kPacked, CK, NB>(p, stages, stages + inFloats, sOff, fpix, 1, 0, (cb + 1) * NB, x, w);
        commitCopies();
      }
      mmaSumsToShared<NB>(acc, sTile, tileRow, cb * NB);
    }
    // The accumulator's pass over the listed pixels, a warp per pixel, a float4 of channels a lane.
    const int count = sCount;
    State cur, next;
    if (warp < count) load(pixelOf(sList[warp]) * p.co, cur);
    for (int k = warp; k < count; k += kMThreads / 32) {
      if (k + kMThreads / 32 < count) load(pixelOf(sList[k + kMThreads / 32]) * p.co, next);
      const int t = sList[k];
      const int64_t q = pixelOf(t), o = q * p.co;
      AccumulateRow<4, S, true> rows[kAccVecs];
      float largest = 0.f;
#pragma unroll
      for (int j = 0; j < kAccVecs; ++j)
        if (lane + 32 * j < vecs) {
          rows[j].a = cur.a[j];
          rows[j].r = cur.r[j];
          rows[j].d = loadVec<4>(sTile + t * tileRow + 4 * (lane + 32 * j));
          largest = fmaxf(largest, rows[j].largest(act, alpha));
        }
      largest = groupMax(largest, 32, nullptr);
      const bool flush = (double)largest > threshold;
#pragma unroll
      for (int j = 0; j < kAccVecs; ++j)
        if (lane + 32 * j < vecs)
          rows[j].write(outD, a, r, o + 4 * (lane + 32 * j), flush, true, writeZeros, act, alpha);
      if (lane == 0) outMask[q] = flush ? 1 : 0;
      cur = next;
    }
  };
  if (work.items != nullptr)
    forEachTile<true>(work, tiles, runTile);
  else
    forEachTile<false>(work, tiles, runTile);
}

// The packed TF32 filter of the mma kernel: [co / 32][ceil(c / 16)][tap][k8 half][n8 fragment][lane][2], i.e. per
// 32 output channels, 16 input channels and tap, the B fragments of two k8 steps in the order the lanes load them
// (lane = 4 * groupID + threadID_in_group holds B[k = tig][n = gid] and B[k = tig + 4][n = gid]); channels past c
// are zeros; values rounded to TF32 (round to nearest, as the in-kernel rounding).
__global__ void packFilterTf32Kernel(DeltaConvParams p, const float* __restrict__ w, float* __restrict__ out,
                                     int64_t total) {
  dependentLaunchPrologue();
  const int taps = p.kh * p.kw, c16 = (p.c + 15) / 16;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
    const int lane = (int)(e % 64) / 2, hi = (int)(e % 2);
    int64_t r = e / 64;
    const int nf = (int)(r % 4);
    r /= 4;
    const int k8 = (int)(r % 2);
    r /= 2;
    const int tap = (int)(r % taps);
    r /= taps;
    const int cg = (int)(r % c16);
    const int blk = (int)(r / c16);
    const int ci = cg * 16 + k8 * 8 + (lane & 3) + 4 * hi, co = blk * 32 + nf * 8 + (lane >> 2);
    out[e] = ci < p.c ? wmma::__float_to_tf32(w[((int64_t)tap * p.c + ci) * p.co + co]) : 0.f;
  }
}

}  // namespace

namespace {

// Output tiles of 8x16 pixels per image.
int64_t outputTiles(const DeltaConvParams& p) { return (int64_t)((p.oh + kTH - 1) / kTH) * ((p.ow + kTW - 1) / kTW); }

// How a tiled kernel launches: pick(std::true_type) / pick(std::false_type) give its instance over a tile list / over
// every tile. Over a list where there is a mask, lazy zeros and a list to write, and the grid over every tile exceeds
// tl.waves times the blocks the GPU holds at once (the listed instance's occupancy at `threads` and `smem`): the list
// pass runs first (listing the active tiles of the footprint fh x fw into tl.scratch, its count started, and writing
// the output masks of the others), and the grid is as many blocks as the GPU holds, split over the channel blocks.
// Otherwise a block per tile, channel block and image. The accumulator's list (acc.scratch), which the kernel's first
// channel block appends to, has its count zeroed here, or published by the kernel itself (acc.counters) where the
// stream's list counters are on and at most kCounterBlocks blocks append.
template <typename Kernel>
struct TiledLaunch {
  Kernel kernel;
  dim3 grid;
  TileItems work;
  bool listed;
  AccumulateList acc;
};
constexpr int64_t kCounterBlocks = 1 << 14;
template <typename Kernel, typename Pick>
TiledLaunch<Kernel> tiledLaunch(cudaStream_t s, const DeltaConvParams& p, int channelBlocks, int threads, size_t smem,
                                int fh, int fw, const uint8_t* mask, bool writeZeros, uint8_t* outMask,
                                const AccumulateList& acc, const TileList& tl, const Pick& pick) {
  const int64_t tiles = outputTiles(p), items = tiles * p.n;
  int* const counters = listCounters();
  const auto withList = [&](TiledLaunch<Kernel> l) {
    const bool publish =
        acc.scratch != nullptr && counters != nullptr && (int64_t)l.grid.x * l.grid.z <= kCounterBlocks;
    l.acc.counters = publish ? counters : nullptr;
    if (acc.scratch != nullptr && !publish) TD_CUDA("deltaConv", cudaMemsetAsync(acc.scratch, 0, sizeof(int), s));
    return l;
  };
  const auto perTile = [&] {
    return withList(TiledLaunch<Kernel>{pick(std::false_type{}),
                                        dim3((unsigned)tiles, (unsigned)channelBlocks, (unsigned)p.n),
                                        TileItems{nullptr, nullptr}, false, acc});
  };
  if (tl.scratch == nullptr || tl.waves < 0 || mask == nullptr || writeZeros || items >= INT32_MAX) return perTile();
  const Kernel overList = pick(std::true_type{});
  int perSM = 0;
  TD_CUDA("deltaConv", cudaOccupancyMaxActiveBlocksPerMultiprocessor(&perSM, overList, threads, smem));
  const int64_t resident = (int64_t)(perSM > 0 ? perSM : 1) * multiProcessors();
  if (items * channelBlocks <= (int64_t)tl.waves * resident) return perTile();
  const int64_t g = resident / channelBlocks > 1 ? resident / channelBlocks : 1;
  // The memsets before the list pass, so that the pass and the conv follow each other (their launches overlap).
  const auto listed =
      withList(TiledLaunch<Kernel>{overList, dim3((unsigned)(g < items ? g : items), (unsigned)channelBlocks, 1),
                                   TileItems{tl.scratch + 1, tl.scratch}, true, acc});
  int* const listCount = startListCount(s, tl.scratch, "deltaConvTileList");
  launchKernel(convTileListKernel, producerGrid(items, 8, listCount != nullptr), 256, 0, s, p, mask, fh, fw,
               (p.ow + kTW - 1) / kTW, (int)tiles, outMask, acc, tl.scratch + 1, tl.scratch, listCount);
  TD_LAUNCHED("deltaConvTileList");
  return listed;
}

}  // namespace

namespace {

using TcKernel = void (*)(DeltaConvParams, int, int, int, int, int, int, const float*, const uint8_t*, const float*,
                          float*, uint8_t*, bool, ConvEpilogue, AccumulateList, TileItems);

// Dynamic shared memory above 48 KiB needs an opt-in per kernel instance, once (`done` is the instance's flag).
template <typename Kernel>
Kernel withSharedMemory(Kernel k, size_t bytes, bool& done, const char* where) {
  if (!done) {
    TD_CUDA(where, cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
    done = true;
  }
  return k;
}

// Blocks per SM the registers are capped for: 1 (default; the unrolled 3x3 kernels use ~250 registers) or 2
// (TFJS_DELTA_CONV_MIN_BLOCKS=2: 128 registers, twice the resident warps).
int minBlocks() {
  static const int v = (int)envInt("TFJS_DELTA_CONV_MIN_BLOCKS", 1, 1, 2);
  return v;
}

template <int KH, int KW, int CK, bool kTf32, int kMin, bool kListed>
TcKernel kernelReady() {
  static bool optedIn = false;
  return withSharedMemory<TcKernel>(deltaConvTcKernel<KH, KW, CK, kTf32, kMin, kListed>, kSmemLimit, optedIn,
                                    "deltaConvTC");
}

template <bool kTf32, int kMin, bool kListed>
TcKernel pick(const DeltaConvParams& p, int ck) {
  if (p.kh == 3 && p.kw == 3) {
    if (ck == 32) return kernelReady<3, 3, 32, kTf32, kMin, kListed>();
    if (ck == 16) return kernelReady<3, 3, 16, kTf32, kMin, kListed>();
  }
  if (p.kh == 1 && p.kw == 1) {
    if (ck == 128) return kernelReady<1, 1, 128, kTf32, kMin, kListed>();
    if (ck == 64) return kernelReady<1, 1, 64, kTf32, kMin, kListed>();
    if (ck == 32) return kernelReady<1, 1, 32, kTf32, kMin, kListed>();
  }
  return kernelReady<0, 0, 0, kTf32, kMin, kListed>();
}

template <bool kListed>
TcKernel pickTc(const DeltaConvParams& p, int ck, bool tf32, bool two) {
  return tf32 ? (two ? pick<true, 2, kListed>(p, ck) : pick<true, 1, kListed>(p, ck))
              : (two ? pick<false, 2, kListed>(p, ck) : pick<false, 1, kListed>(p, ck));
}

}  // namespace

namespace {

using MmaKernel = void (*)(DeltaConvParams, int, int, int, int, int, const float*, const uint8_t*, const float*, float*,
                           uint8_t*, bool, bool, ConvEpilogue, AccumulateList, TileItems);

// TFJS_DELTA_CONV_MMA=0 (default on): TF32 convs take the WMMA kernel instead, for comparisons in one run.
bool mmaEnabled() {
  static const bool v = envFlag("TFJS_DELTA_CONV_MMA", true);
  return v;
}

// Output channels per block of the multi-tap convs: 32 (default: K split across warps, shortest critical path
// per tile) or TFJS_DELTA_CONV_MMA_NB=64 (N split across warps: half the blocks and staging), for comparisons.
int mmaMultiTapNB() {
  static const int v = [] {
    const int64_t nb = envInt("TFJS_DELTA_CONV_MMA_NB", 32, 32, 64);
    if (nb != 32 && nb != 64) throw Error("TFJS_DELTA_CONV_MMA_NB=" + std::to_string(nb) + ": expected 32 or 64");
    return (int)nb;
  }();
  return v;
}

// TFJS_DELTA_CONV_MMA_ROUND=0 (default on; measurements only): operands are not rounded to TF32 (the tensor cores then
// ignore their low mantissa bits), to see what the rounding pass costs.
bool mmaRound() {
  static const bool v = envFlag("TFJS_DELTA_CONV_MMA_ROUND", true);
  return v;
}

template <int KH, int KW, int CK, int NB, bool kPacked, bool kListed>
MmaKernel mmaReady() {
  static bool optedIn = false;
  return withSharedMemory<MmaKernel>(deltaConvMmaKernel<KH, KW, CK, NB, kPacked, kListed>, kMmaSmemLimit, optedIn,
                                     "deltaConvMMA");
}

template <int NB, bool kPacked, bool kListed>
MmaKernel mmaPick(bool pointwise, bool threeByThree, int ck) {
  if (pointwise)
    return ck == 64   ? mmaReady<1, 1, 64, NB, kPacked, kListed>()
           : ck == 32 ? mmaReady<1, 1, 32, NB, kPacked, kListed>()
                      : mmaReady<1, 1, 16, NB, kPacked, kListed>();
  if (threeByThree) return mmaReady<3, 3, 16, NB, kPacked, kListed>();
  return mmaReady<0, 0, 16, NB, kPacked, kListed>();
}

template <bool kListed>
MmaKernel mmaPickFor(bool packed, int nb, bool pointwise, bool three, int ck) {
  return packed ? (nb == 64 ? mmaPick<64, true, kListed>(pointwise, three, ck)
                            : mmaPick<32, true, kListed>(pointwise, three, ck))
                : (nb == 64 ? mmaPick<64, false, kListed>(pointwise, three, ck)
                            : mmaPick<32, false, kListed>(pointwise, three, ck));
}

// The mma kernel's shape for p: its chunk of input channels (ck), its channel block (nb), the footprint (fh x fw),
// the floats of a stage (input footprint and filter chunk) and of the input part, the footprint head's bytes and the
// dynamic shared memory; fits false where the kernel does not take p (TF32 is the caller's condition). The
// accumulating kernel takes the same choices, so that its sums are this kernel's.
struct MmaShape {
  bool fits;
  int ck, nb, fh, fw;
  size_t inFloats, stageFloats, headBytes, smem;
};
MmaShape mmaShape(const DeltaConvParams& p, bool packed, bool partial) {
  MmaShape m{};
  if (!mmaEnabled() || p.c % 4 != 0) return m;
  if (p.co % 32 != 0 && !(partial && !packed && p.co % 4 == 0)) return m;
  if ((int64_t)p.n * p.h * p.w >= ((int64_t)1 << 31)) return m;  // input pixel indices in 32 bits
  if (outputTiles(p) > 0x7fffffff) return m;
  const bool pointwise = p.kh == 1 && p.kw == 1;
  m.ck = pointwise ? (p.c > 32 ? 64 : p.c > 16 ? 32 : 16) : 16;
  m.nb = p.co % 64 == 0 && (pointwise || mmaMultiTapNB() == 64) ? 64 : 32;
  m.fh = (kTH - 1) * p.sh + (p.kh - 1) * p.dh + 1;
  m.fw = (kTW - 1) * p.sw + (p.kw - 1) * p.dw + 1;
  m.inFloats = (size_t)m.fh * m.fw * (m.ck + 4);
  m.stageFloats = m.inFloats + (size_t)p.kh * p.kw * m.ck * (packed ? m.nb : m.nb + 8);
  m.headBytes = ((size_t)m.fh * m.fw * 5 + 15) / 16 * 16;
  const size_t stages = m.headBytes + 2 * m.stageFloats * sizeof(float),
               outBytes = m.headBytes + (size_t)kTH * kTW * (m.nb + 4) * sizeof(float);
  m.smem = stages < outBytes ? outBytes : stages;
  m.fits = m.smem <= kMmaSmemLimit;
  return m;
}

// The mma.sync kernel when the shape suits it (TF32, c % 4 == 0, co % 32 == 0 or with `partial` co % 4 == 0 and the
// plain filter, two stages within the shared-memory cap): DC_RAN_MMA (with DC_TILE_LIST where it ran over a tile
// list), 0 when nothing was launched. A part-empty last channel block multiplies zeros and stores only the channels
// below co (float4 stores: co % 4 == 0).
int launchMma(cudaStream_t s, const DeltaConvParams& p, const float* x, const uint8_t* mask, const float* w,
              const ConvEpilogue& ep, const float* packed, float* y, uint8_t* outMask, bool writeZeros, bool partial,
              const AccumulateList& acc, const TileList& tl) {
  const MmaShape m = mmaShape(p, packed != nullptr, partial);
  if (!m.fits) return 0;
  const bool pointwise = p.kh == 1 && p.kw == 1, three = p.kh == 3 && p.kw == 3;
  const auto l = tiledLaunch<MmaKernel>(s, p, (p.co + m.nb - 1) / m.nb, kMThreads, m.smem, m.fh, m.fw, mask, writeZeros,
                                        outMask, acc, tl, [&](auto listed) {
                                          return mmaPickFor<decltype(listed)::value>(packed != nullptr, m.nb, pointwise,
                                                                                     three, m.ck);
                                        });
  launchKernel(l.kernel, l.grid, kMThreads, m.smem, s, p, m.fh, m.fw, (int)m.inFloats, (int)m.stageFloats,
               (int)m.headBytes, x, mask, packed ? packed : w, y, outMask, writeZeros, mmaRound(), ep, l.acc, l.work);
  TD_LAUNCHED("deltaConvMMA");
  return DC_RAN_MMA | (l.listed ? DC_TILE_LIST : 0);
}

}  // namespace

int64_t packedFilterTf32Floats(const DeltaConvParams& p) {
  return (int64_t)p.co * ((p.c + 15) / 16 * 16) * p.kh * p.kw;
}

void launchPackFilterTf32(cudaStream_t s, const DeltaConvParams& p, const float* w, float* out) {
  if (p.co % 32 != 0 || p.c <= 0 || p.kh <= 0 || p.kw <= 0) failArg("deltaConvPack", "needs co % 32 == 0");
  const int64_t total = packedFilterTf32Floats(p);
  launchKernel(packFilterTf32Kernel, gridFor(total, 256), 256, 0, s, p, w, out, total);
  TD_LAUNCHED("deltaConvPack");
}

int launchDeltaConvTC(cudaStream_t s, const DeltaConvParams& p, const float* x, const uint8_t* mask, const float* w,
                      const ConvEpilogue& ep, const float* packed, float* y, uint8_t* outMask, bool writeZeros,
                      bool tf32, bool mmaPartial, AccumulateList acc, TileList tl) {
  if (p.mode != DC_REGULAR || p.co < 16 || p.c * p.kh * p.kw < 16) return 0;
  if (hasEpilogue(ep) && mask != nullptr) failArg("deltaConvTC", "an epilogue needs a dense input");
  if (tf32) {
    const int ran = launchMma(s, p, x, mask, w, ep, packed, y, outMask, writeZeros, mmaPartial, acc, tl);
    if (ran != 0) return ran;
  }
  const int cmax = (p.c + 7) / 8 * 8;
  TcShape t{};
  bool ok = false;
  for (int ck : {128, 64, 32, 16, 8}) {
    if (ck > cmax && ck > 8) continue;
    t = shapeFor(p, ck);
    if (t.smem <= kSmemLimit) {
      ok = true;
      break;
    }
  }
  if (!ok) return 0;
  if (outputTiles(p) > 0x7fffffff) return 0;
  const bool two = minBlocks() == 2;
  const auto l =
      tiledLaunch<TcKernel>(s, p, (p.co + kNB - 1) / kNB, kThreads, t.smem, t.fh, t.fw, mask, writeZeros, outMask, acc,
                            tl, [&](auto listed) { return pickTc<decltype(listed)::value>(p, t.ck, tf32, two); });
  launchKernel(l.kernel, l.grid, kThreads, t.smem, s, p, t.fh, t.fw, t.ck, t.ckp, (int)t.inFloats, (int)t.wFloats, x,
               mask, w, y, outMask, writeZeros, ep, l.acc, l.work);
  TD_LAUNCHED("deltaConvTC");
  return DC_RAN_WMMA | (l.listed ? DC_TILE_LIST : 0);
}

int64_t tileListInts(const DeltaConvParams& p) { return 1 + p.n * outputTiles(p); }

namespace {

// The accumulating 1x1 kernel's shape for p: the mma kernel's (mmaShape), for the 1x1 convs the two kernels run on it
// (launchDeltaConvTC takes c and co from 16), and its shared memory: the mma kernel's head and two stages, then the
// [128 x channelBlocks * nb] tile (rows 4 floats longer, as the mma kernel's staging: fewer bank conflicts). fits
// false where the kernel does not take p.
struct MmaAccumulateShape {
  bool fits;
  MmaShape mma;
  int tileRow;
  size_t smem;
};
// The dynamic shared memory a block of the kernel may opt in to: the device's opt-in limit less the kernel's static
// shared memory as the compiler laid it out (cudaFuncGetAttributes; every instance declares the same), which can be
// more than the declarations add up to (kStaticSmem).
size_t mmaAccumulateDynamicSmemCap() {
  static const size_t cap = [] {
    cudaFuncAttributes attr{};
    TD_CUDA("deltaConvMmaAccumulate", cudaFuncGetAttributes(&attr, deltaConvMmaAccumulateKernel<16, 32, false, float>));
    const size_t used = attr.sharedSizeBytes > kStaticSmem ? attr.sharedSizeBytes : kStaticSmem;
    return sharedMemoryPerBlockOptIn() > used ? sharedMemoryPerBlockOptIn() - used : 0;
  }();
  return cap;
}

MmaAccumulateShape mmaAccumulateShape(const DeltaConvParams& p, bool packed, bool partial, bool tf32, int act) {
  MmaAccumulateShape m{};
  if (p.mode != DC_REGULAR || p.kh != 1 || p.kw != 1 || !tf32 || !activationExactInFloat(act)) return m;
  if (p.c < 16 || p.co < 16 || p.co > 128 * kAccVecs || (int64_t)p.n * p.oh * p.ow == 0) return m;
  m.mma = mmaShape(p, packed, partial);
  if (!m.mma.fits) return m;
  m.tileRow = (p.co + m.mma.nb - 1) / m.mma.nb * m.mma.nb + 4;
  m.smem = m.mma.headBytes + (2 * m.mma.stageFloats + (size_t)kTH * kTW * m.tileRow) * sizeof(float);
  m.fits = m.smem <= mmaAccumulateDynamicSmemCap();
  return m;
}

using MmaAccumulateKernel = void (*)(DeltaConvParams, int, int, int, int, int, int, const float*, const uint8_t*,
                                     const float*, void*, void*, float*, uint8_t*, bool, bool, double, int, double,
                                     TileItems);

template <int CK, int NB, bool kPacked, typename S>
MmaAccumulateKernel mmaAccumulateReady() {
  static bool optedIn = false;
  return withSharedMemory<MmaAccumulateKernel>(deltaConvMmaAccumulateKernel<CK, NB, kPacked, S>,
                                               mmaAccumulateDynamicSmemCap(), optedIn, "deltaConvMmaAccumulate");
}

template <typename S, bool kPacked>
MmaAccumulateKernel mmaAccumulatePick(int ck, int nb) {
  if (nb == 64)
    return ck == 64   ? mmaAccumulateReady<64, 64, kPacked, S>()
           : ck == 32 ? mmaAccumulateReady<32, 64, kPacked, S>()
                      : mmaAccumulateReady<16, 64, kPacked, S>();
  return ck == 64   ? mmaAccumulateReady<64, 32, kPacked, S>()
         : ck == 32 ? mmaAccumulateReady<32, 32, kPacked, S>()
                    : mmaAccumulateReady<16, 32, kPacked, S>();
}

}  // namespace

bool convMmaAccumulateFits(const DeltaConvParams& p, bool packed, bool mmaPartial, bool tf32, int act) {
  return mmaAccumulateShape(p, packed, mmaPartial, tf32, act).fits;
}

int launchConvMmaAccumulate(cudaStream_t s, const DeltaConvParams& p, const float* x, const uint8_t* mask,
                            const float* w, const float* packed, void* a, void* r, float* outD, uint8_t* outMask,
                            double threshold, int act, double alpha, bool writeZeros, bool halfState, bool tf32,
                            bool mmaPartial, TileList tl) {
  checkDeltaConvGeometry(p, "deltaConvMmaAccumulate");
  const MmaAccumulateShape m = mmaAccumulateShape(p, packed != nullptr, mmaPartial, tf32, act);
  if (!m.fits) failArg("deltaConvMmaAccumulate", "the geometry does not suit the kernel (convMmaAccumulateFits)");
  const int ck = m.mma.ck, nb = m.mma.nb;
  const MmaAccumulateKernel kernel =
      halfState ? (packed ? mmaAccumulatePick<__half, true>(ck, nb) : mmaAccumulatePick<__half, false>(ck, nb))
                : (packed ? mmaAccumulatePick<float, true>(ck, nb) : mmaAccumulatePick<float, false>(ck, nb));
  // One channel block: the kernel loops over them. The tile list pass writes the inactive tiles' mask bytes.
  const auto l =
      tiledLaunch<MmaAccumulateKernel>(s, p, 1, kMThreads, m.smem, m.mma.fh, m.mma.fw, mask, writeZeros, outMask,
                                       AccumulateList{nullptr, nullptr}, tl, [&](auto) { return kernel; });
  launchKernel(l.kernel, l.grid, kMThreads, m.smem, s, p, m.mma.fh, m.mma.fw, (int)m.mma.inFloats,
               (int)m.mma.stageFloats, (int)m.mma.headBytes, m.tileRow, x, mask, packed ? packed : w, a, r, outD,
               outMask, writeZeros, mmaRound(), threshold, act, alpha, l.work);
  TD_LAUNCHED("deltaConvMmaAccumulate");
  return DC_RAN_MMA | (l.listed ? DC_TILE_LIST : 0);
}

}  // namespace tfjs_delta
