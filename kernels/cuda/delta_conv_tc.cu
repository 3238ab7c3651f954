// Tensor-core delta convolution (regular convs, TF32 WMMA m16n16k8, fp32 accumulation): an implicit GEMM per
// output tile. A block owns 8x16 output pixels x 32 output channels (8 warps, each one output row = 16 pixels
// times 2 fragments of 16 channels). Per block:
//   1. the mask of the tile's input footprint goes to shared memory (the tile's one mask read); each output's
//      mask is the OR over its receptive field; a tile with no active output writes its mask and exits;
//   2. per chunk of CK input channels the footprint (inactive and out-of-image pixels as zeros) and the filter
//      taps of that chunk are copied to shared memory with cp.async (all copies in flight at once: run 1 staged
//      with plain loads and was bound by their latency, ~90 us per tile), then every warp runs its MMAs (operands
//      rounded to TF32 in registers); a warp whose 16 output pixels are all inactive skips its MMAs;
//   3. the accumulators go through shared memory to coalesced NHWC stores.
// The A operand of tap (ky, kx) for output row py is a strided view of the staged footprint: row m (pixel m of
// the row) starts at ((py*sh + ky*dh) * FW + kx*dw + m*sw) * CKP, so lda = sw * CKP.
// Templated on the filter size and chunk (3x3 and 1x1 common cases: loops fully unrolled so shared loads of later
// k-steps overlap the MMAs; 0 = runtime values) and on TF32: the strict-fp32 variant stages the same tiles and
// runs FFMAs instead (each lane one output channel, 16 pixel accumulators, float4 loads along channels).
#include <mma.h>

#include <cstdlib>

#include "delta.h"

namespace tfjs_delta {
namespace {

using namespace nvcuda;

constexpr int kTH = 8, kTW = 16, kNB = 32, kFrags = kNB / 16, kWarps = kTH, kThreads = kWarps * 32;
constexpr int kWRow = kNB + 8;                          // padded filter row (floats): fewer bank conflicts
constexpr int kStageFloats = kWarps * kFrags * 256;     // accumulator staging: 16 KiB
constexpr size_t kSmemLimit = 100 * 1024;

// Asynchronous global -> shared copies; src-size 0 writes zeros without reading (masked / out-of-range elements).
__device__ __forceinline__ void copy16(float* dst, const float* src, bool valid) {
  const unsigned d = (unsigned)__cvta_generic_to_shared(dst);
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(src), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void copy4(float* dst, const float* src, bool valid) {
  const unsigned d = (unsigned)__cvta_generic_to_shared(dst);
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(d), "l"(src), "r"(valid ? 4 : 0));
}
__device__ __forceinline__ void copiesDone() {
  asm volatile("cp.async.commit_group;\ncp.async.wait_group 0;\n" ::);
}
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

template <int KH_, int KW_, int CK_, bool kTf32, int kMinBlocks>
__global__ void __launch_bounds__(kThreads, kMinBlocks) deltaConvTcKernel(
    DeltaConvParams p, int FH, int FW, int ckRuntime, int CKP, int inFloats, int wFloats, const float* __restrict__ x,
    const uint8_t* __restrict__ mask, const float* __restrict__ w, float* __restrict__ y,
    uint8_t* __restrict__ outMask, bool writeZeros) {
  extern __shared__ __align__(128) float smem[];
  const int KH = KH_ ? KH_ : p.kh, KW = KW_ ? KW_ : p.kw, CK = CK_ ? CK_ : ckRuntime;
  float* sIn = smem;
  float* sW = smem + inFloats;
  uint8_t* sMask = reinterpret_cast<uint8_t*>(sW + wFloats);
  __shared__ uint8_t sAct[kTH * kTW];

  const int tilesW = (p.ow + kTW - 1) / kTW;
  const int oy0 = (blockIdx.x / tilesW) * kTH, ox0 = (blockIdx.x % tilesW) * kTW;
  const int co0 = blockIdx.y * kNB;
  const int b = blockIdx.z;
  const int iy0 = oy0 * p.sh - p.pt, ix0 = ox0 * p.sw - p.pl;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

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
  for (int t = threadIdx.x; t < kTH * kTW; t += kThreads) {
    const int py = t / kTW, px = t % kTW;
    uint8_t a = 0;
    if (any)
      for (int ky = 0; ky < p.kh && !a; ++ky)
        for (int kx = 0; kx < p.kw; ++kx)
          if (sMask[(py * p.sh + ky * p.dh) * FW + px * p.sw + kx * p.dw]) {
            a = 1;
            break;
          }
    sAct[t] = a;
    const int oy = oy0 + py, ox = ox0 + px;
    if (blockIdx.y == 0 && outMask != nullptr && oy < p.oh && ox < p.ow) outMask[((int64_t)b * p.oh + oy) * p.ow + ox] = a;
  }
  if (!any) {
    if (writeZeros)
      for (int e = threadIdx.x; e < kTH * kTW * kNB; e += kThreads) {
        const int t = e / kNB, n = e % kNB;
        const int oy = oy0 + t / kTW, ox = ox0 + t % kTW, co = co0 + n;
        if (oy < p.oh && ox < p.ow && co < p.co) y[(((int64_t)b * p.oh + oy) * p.ow + ox) * p.co + co] = 0.f;
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
        const float* src = valid ? x + (((int64_t)b * p.h + iy0 + pos / FW) * p.w + ix0 + pos % FW) * p.c + ci0 + ci : x;
        copy16(sIn + pos * CKP + ci, src, valid);
      }
    } else {
      for (int i = threadIdx.x; i < FH * FW * CK; i += kThreads) {
        const int pos = i / CK, ci = i % CK;
        const bool valid = sMask[pos] && ci0 + ci < p.c;
        const float* src = valid ? x + (((int64_t)b * p.h + iy0 + pos / FW) * p.w + ix0 + pos % FW) * p.c + ci0 + ci : x;
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
        y[(((int64_t)b * p.oh + oy) * p.ow + ox) * p.co + co] = stage[(n / 16) * 256 + px * 16 + n % 16];
    }
  } else {
    const int oy = oy0 + warp, co = co0 + lane;
    if (oy < p.oh && co < p.co)
#pragma unroll
      for (int m = 0; m < kTW; ++m)
        if (ox0 + m < p.ow) y[(((int64_t)b * p.oh + oy) * p.ow + ox0 + m) * p.co + co] = facc[m];
  }
}

}  // namespace

namespace {

using TcKernel = void (*)(DeltaConvParams, int, int, int, int, int, int, const float*, const uint8_t*, const float*,
                          float*, uint8_t*, bool);

// Blocks per SM the registers are capped for: 1 (default; the unrolled 3x3 kernels use ~250 registers) or 2
// (TFJS_DELTA_CONV_MIN_BLOCKS=2: 128 registers, twice the resident warps).
int minBlocks() {
  static int v = [] {
    const char* e = getenv("TFJS_DELTA_CONV_MIN_BLOCKS");
    return e != nullptr && e[0] == '2' ? 2 : 1;
  }();
  return v;
}

template <int KH, int KW, int CK, bool kTf32, int kMin>
TcKernel kernelReady() {
  static bool attributeSet = false;  // dynamic shared memory above 48 KiB needs the opt-in, once per instance
  TcKernel k = deltaConvTcKernel<KH, KW, CK, kTf32, kMin>;
  if (!attributeSet) {
    TD_CUDA("deltaConvTC", cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)kSmemLimit));
    attributeSet = true;
  }
  return k;
}

template <bool kTf32, int kMin>
TcKernel pick(const DeltaConvParams& p, int ck) {
  if (p.kh == 3 && p.kw == 3) {
    if (ck == 32) return kernelReady<3, 3, 32, kTf32, kMin>();
    if (ck == 16) return kernelReady<3, 3, 16, kTf32, kMin>();
  }
  if (p.kh == 1 && p.kw == 1) {
    if (ck == 128) return kernelReady<1, 1, 128, kTf32, kMin>();
    if (ck == 64) return kernelReady<1, 1, 64, kTf32, kMin>();
    if (ck == 32) return kernelReady<1, 1, 32, kTf32, kMin>();
  }
  return kernelReady<0, 0, 0, kTf32, kMin>();
}

}  // namespace

bool launchDeltaConvTC(cudaStream_t s, const DeltaConvParams& p, const float* x, const uint8_t* mask, const float* w,
                       float* y, uint8_t* outMask, bool writeZeros, bool tf32) {
  if (p.mode != DC_REGULAR || p.co < 16 || p.c * p.kh * p.kw < 16) return false;
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
  if (!ok) return false;
  const int64_t tiles = (int64_t)((p.oh + kTH - 1) / kTH) * ((p.ow + kTW - 1) / kTW);
  if (tiles > 0x7fffffff) return false;
  const bool two = minBlocks() == 2;
  const TcKernel k = tf32 ? (two ? pick<true, 2>(p, t.ck) : pick<true, 1>(p, t.ck))
                          : (two ? pick<false, 2>(p, t.ck) : pick<false, 1>(p, t.ck));
  dim3 grid((unsigned)tiles, (unsigned)((p.co + kNB - 1) / kNB), (unsigned)p.n);
  k<<<grid, kThreads, t.smem, s>>>(p, t.fh, t.fw, t.ck, t.ckp, (int)t.inFloats, (int)t.wFloats, x, mask, w, y, outMask,
                                   writeZeros);
  TD_LAUNCHED("deltaConvTC");
  return true;
}

}  // namespace tfjs_delta
