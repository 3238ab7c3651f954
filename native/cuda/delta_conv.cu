// Direct delta convolutions (fp32, CUDA cores): regular, depthwise and transposed, any kernel size, stride,
// dilation and padding (regular convs use the tiled kernel of delta_conv_tc.cu when the shape suits it, in TF32 or
// fp32, unless a bias meets a masked input). Output-stationary with tile-level skipping: a block owns an 8x8 tile of
// output pixels; it first derives each output's mask (OR of the input mask over the in-bounds receptive field); a tile
// with no active output writes only its mask (and zeros when asked) and exits. Inactive inputs read as zeros, so a
// lazily written delta input (garbage at inactive pixels) is fine.
#include "delta.h"
#include "launch.cuh"
#include "unary_op.cuh"

namespace tfjs_delta {
namespace {

constexpr int kTile = 8;  // 8x8 output pixels per block
constexpr int kThreads = 256;

// The input pixel that tap (ky, kx) of output (oy, ox) reads; false when there is none (out of bounds, or for a
// transposed conv, a tap that no input pixel reaches).
__device__ __forceinline__ bool tapInput(const DeltaConvParams& p, int oy, int ox, int ky, int kx, int& iy, int& ix) {
  if (p.mode != DC_TRANSPOSED) {
    iy = oy * p.sh - p.pt + ky * p.dh;
    ix = ox * p.sw - p.pl + kx * p.dw;
  } else {
    const int ty = oy + p.pt - ky, tx = ox + p.pl - kx;
    if (ty < 0 || tx < 0 || ty % p.sh != 0 || tx % p.sw != 0) return false;
    iy = ty / p.sh;
    ix = tx / p.sw;
  }
  return iy >= 0 && iy < p.h && ix >= 0 && ix < p.w;
}

__device__ __forceinline__ uint8_t outputActive(const DeltaConvParams& p, const uint8_t* mask, int b, int oy, int ox) {
  for (int ky = 0; ky < p.kh; ++ky)
    for (int kx = 0; kx < p.kw; ++kx) {
      int iy, ix;
      if (tapInput(p, oy, ox, ky, kx, iy, ix) && (mask == nullptr || mask[((int64_t)b * p.h + iy) * p.w + ix]))
        return 1;
    }
  return 0;
}

__global__ void __launch_bounds__(kThreads)
    deltaConvDirectKernel(DeltaConvParams p, const float* __restrict__ x, const uint8_t* __restrict__ mask,
                          const float* __restrict__ w, ConvEpilogue ep, float* __restrict__ y,
                          uint8_t* __restrict__ outMask, bool writeZeros) {
  dependentLaunchPrologue();
  __shared__ uint8_t sAct[kTile * kTile];
  const int tilesW = (p.ow + kTile - 1) / kTile;
  const int oy0 = (blockIdx.x / tilesW) * kTile, ox0 = (blockIdx.x % tilesW) * kTile;
  const int b = blockIdx.y;
  int any = 0;
  for (int t = threadIdx.x; t < kTile * kTile; t += blockDim.x) {
    const int oy = oy0 + t / kTile, ox = ox0 + t % kTile;
    uint8_t a = 0;
    if (oy < p.oh && ox < p.ow) {
      a = outputActive(p, mask, b, oy, ox);
      if (outMask) outMask[((int64_t)b * p.oh + oy) * p.ow + ox] = a;
    }
    sAct[t] = a;
    any |= a;
  }
  any = __syncthreads_or(any);
  const bool all = hasEpilogue(ep);  // a bias (first frame) or a dense input's activation: every output written
  if (!any && !all && !writeZeros) return;
  const int64_t perTile = (int64_t)kTile * kTile * p.co;
  for (int64_t e = threadIdx.x; e < perTile; e += blockDim.x) {
    const int t = (int)(e / p.co), co = (int)(e % p.co);
    const int oy = oy0 + t / kTile, ox = ox0 + t % kTile;
    if (oy >= p.oh || ox >= p.ow) continue;
    float acc = 0.f;
    if (sAct[t]) {
      for (int ky = 0; ky < p.kh; ++ky)
        for (int kx = 0; kx < p.kw; ++kx) {
          int iy, ix;
          if (!tapInput(p, oy, ox, ky, kx, iy, ix)) continue;
          const int64_t q = ((int64_t)b * p.h + iy) * p.w + ix;
          if (mask != nullptr && !mask[q]) continue;
          const float* xp = x + q * p.c;
          const int tap = ky * p.kw + kx;
          if (p.mode == DC_DEPTHWISE) {
            const int ci = co / p.mult, j = co % p.mult;
            acc = fmaf(xp[ci], w[((int64_t)tap * p.c + ci) * p.mult + j], acc);
          } else {
            const float* wp = w + (int64_t)tap * p.c * p.co + co;
            for (int ci = 0; ci < p.c; ++ci) acc = fmaf(xp[ci], wp[(int64_t)ci * p.co], acc);
          }
        }
    }
    if (all) acc = applyEpilogue(ep, acc, co);
    y[(((int64_t)b * p.oh + oy) * p.ow + ox) * p.co + co] = acc;
  }
}

__global__ void deltaConvMaskKernel(DeltaConvParams p, const uint8_t* __restrict__ mask,
                                    uint8_t* __restrict__ outMask) {
  dependentLaunchPrologue();
  const int64_t total = (int64_t)p.n * p.oh * p.ow;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int ox = (int)(i % p.ow), oy = (int)((i / p.ow) % p.oh), b = (int)(i / ((int64_t)p.ow * p.oh));
    outMask[i] = outputActive(p, mask, b, oy, ox);
  }
}

}  // namespace

void checkDeltaConvGeometry(const DeltaConvParams& p, const char* where) {
  if (p.n < 0 || p.h <= 0 || p.w <= 0 || p.c <= 0 || p.oh < 0 || p.ow < 0 || p.co <= 0 || p.kh <= 0 || p.kw <= 0 ||
      p.sh <= 0 || p.sw <= 0 || p.dh <= 0 || p.dw <= 0 || p.mode < 0 || p.mode > DC_TRANSPOSED ||
      (p.mode == DC_DEPTHWISE && (p.mult <= 0 || p.co != p.c * p.mult)))
    failArg(where, "invalid convolution geometry");
  if (p.n > 65535) failArg(where, "batch above 65535");
}

int launchDeltaConv(cudaStream_t s, const DeltaConvParams& p, const float* x, const uint8_t* mask, const float* w,
                    const ConvEpilogue& ep, const float* packed, float* y, uint8_t* outMask, bool writeZeros,
                    bool allowTF32, bool mmaPartial, AccumulateList acc, TileList tileList) {
  checkDeltaConvGeometry(p, "deltaConv");
  if (packed != nullptr && (p.mode != DC_REGULAR || (ep.bias != nullptr && mask != nullptr)))
    failArg("deltaConv", "a packed filter is for regular convolutions, with a bias only on a dense input");
  if (ep.act < 0 || ep.act >= U_COUNT) failArg("deltaConv", "unknown activation code " + std::to_string(ep.act));
  if (ep.act != U_LINEAR && ep.bias == nullptr && mask != nullptr)
    failArg("deltaConv", "an activation needs a bias or a dense input (a masked delta's inactive outputs stay zero)");
  if (acc.scratch != nullptr && (outMask == nullptr || acc.outMask == nullptr))
    failArg("deltaConv", "an accumulator's list needs the output mask and the accumulator's");
  if (acc.scratch != nullptr && (int64_t)p.n * p.oh * p.ow >= kIndex32Limit)
    failArg("deltaConv", "an accumulator's list needs fewer than 2^31 output pixels");
  if (p.n == 0 || p.oh == 0 || p.ow == 0) return DC_RAN_CUDA_CORES;
  if (p.mode == DC_REGULAR && (ep.bias == nullptr || mask == nullptr)) {
    // The tiled launch starts the list's count (tiledLaunch); the fallback's list pass starts its own.
    // A dense input's epilogue reaches every output, those of tiles without an in-image input too.
    const int ran = launchDeltaConvTC(s, p, x, mask, w, ep, packed, y, outMask, writeZeros || hasEpilogue(ep),
                                      allowTF32, mmaPartial, acc, tileList);
    if (ran != 0) return allowTF32 ? ran : (ran & DC_TILE_LIST) | DC_RAN_CUDA_CORES;
  }
  const int64_t tiles = (int64_t)((p.oh + kTile - 1) / kTile) * ((p.ow + kTile - 1) / kTile);
  if (tiles > 0x7fffffff) failArg("deltaConv", "output too large");
  launchKernel(deltaConvDirectKernel, dim3((unsigned)tiles, (unsigned)p.n), kThreads, 0, s, p, x, mask, w, ep, y,
               outMask, writeZeros);
  TD_LAUNCHED("deltaConv");
  if (acc.scratch != nullptr) launchAccumulateList(s, outMask, (int64_t)p.n * p.oh * p.ow, acc.scratch, acc.outMask);
  return DC_RAN_CUDA_CORES;
}

void launchDeltaConvMask(cudaStream_t s, const DeltaConvParams& p, const uint8_t* mask, uint8_t* outMask) {
  checkDeltaConvGeometry(p, "deltaConvMask");
  const int64_t total = (int64_t)p.n * p.oh * p.ow;
  if (total == 0) return;
  launchKernel(deltaConvMaskKernel, gridFor(total, kThreads), kThreads, 0, s, p, mask, outMask);
  TD_LAUNCHED("deltaConvMask");
}

}  // namespace tfjs_delta
