// Pooling kernel family: MaxPool / AvgPool in 2-D (NHWC, d = 1) and 3-D (NDHWC). One thread per output element,
// channels innermost so a warp reads consecutive channels; or, for large windows on request (`split`), a block per
// output pixel and channel slice with the window divided among the block's rows (a global pool has few outputs: one
// thread each left MobileNetV2's 8 x 1280 on 40 blocks, and a pooled mask on one). Average pooling divides by the
// number of in-bounds window elements, as tfjs (padding excluded).
#include <type_traits>

#include "common.h"
#include "storage.cuh"
#include "launch.cuh"

namespace tfjs_delta {
namespace {

constexpr int kThreads = 256;

template <typename T, typename I>
__global__ void poolKernel(bool isMax, const T* __restrict__ x, T* __restrict__ y, PoolParams p, I total) {
  dependentLaunchPrologue();
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < total; i += (I)gridDim.x * blockDim.x) {
    I c = i % (I)p.c, rem = i / (I)p.c;
    int64_t ox = rem % (I)p.ow;
    rem /= (I)p.ow;
    int64_t oy = rem % (I)p.oh;
    rem /= (I)p.oh;
    int64_t oz = rem % (I)p.od, b = rem / (I)p.od;
    const int64_t z0 = oz * p.sd - p.pf, y0 = oy * p.sh - p.pt, x0 = ox * p.sw - p.pl;
    const T* xb = x + b * p.d * p.h * p.w * p.c + c;
    float acc = isMax ? -INFINITY : 0.f;
    int count = 0;
    for (int kz = 0; kz < p.kd; ++kz) {
      int64_t z = z0 + kz * p.dd;
      if (z < 0 || z >= p.d) continue;
      for (int ky = 0; ky < p.kh; ++ky) {
        int64_t yy = y0 + ky * p.dh;
        if (yy < 0 || yy >= p.h) continue;
        for (int kx = 0; kx < p.kw; ++kx) {
          int64_t xx = x0 + kx * p.dw;
          if (xx < 0 || xx >= p.w) continue;
          float v = toFloat(xb[((z * p.h + yy) * p.w + xx) * p.c]);
          if (isMax) {
            if (v > acc) acc = v;  // as tfjs-backend-cpu: a NaN never wins the window
          } else {
            acc += v;
          }
          ++count;
        }
      }
    }
    y[i] = fromFloat<T>(isMax ? acc : acc / (float)count);
  }
}

// Rows of the block take window positions row, row + kRows, ...; lanes take kVec * kLanes consecutive channels (kVec
// 4: a 16-byte load of float32, 8 of half). Each thread keeps kInFlight loads in flight (independent partial results,
// combined in a fixed order) and steps through the window without divisions: a global pool is a few blocks a
// multiprocessor whose threads would otherwise wait on one load at a time. The rows' partial results meet in shared
// memory (max: a NaN never wins, as above; the count is per position, so one per row).
constexpr int kInFlight = 4;
// kMasked (a delta's global average pool): a position adds only where `mask` (a byte per input pixel) is set, the
// mean still over every position (the inactive ones are the delta's zeros, unwritten when lazy), and slice 0 of each
// output pixel writes outMask = whether any position was active.
template <typename T, int kVec, int kLanes, bool kMasked>
__global__ void __launch_bounds__(kThreads)
    poolSplitKernel(bool isMax, const T* __restrict__ x, T* __restrict__ y, PoolParams p, int64_t pixels,
                    const uint8_t* __restrict__ mask, uint8_t* __restrict__ outMask) {
  dependentLaunchPrologue();
  constexpr int kRows = kThreads / kLanes, kWidth = kVec * kLanes;
  __shared__ float sAcc[kRows][kWidth];
  __shared__ int sCount[kRows];
  const int lane = threadIdx.x % kLanes, row = threadIdx.x / kLanes;
  const int64_t slices = (p.c + kWidth - 1) / kWidth;
  const int window = p.kd * p.kh * p.kw, planeK = p.kh * p.kw;
  // The step of kRows positions as (z, y, x) window offsets, each below its extent (carries below).
  const int stepZ = kRows / planeK, stepY = (kRows / p.kw) % p.kh, stepX = kRows % p.kw;
  const float empty = isMax ? -INFINITY : 0.f;
  for (int64_t blk = blockIdx.x; blk < pixels * slices; blk += gridDim.x) {
    const int64_t pix = blk / slices, c0 = (blk % slices) * kWidth + lane * kVec;
    int64_t rem = pix;
    const int64_t ox = rem % p.ow;
    rem /= p.ow;
    const int64_t oy = rem % p.oh;
    rem /= p.oh;
    const int64_t oz = rem % p.od, b = rem / p.od;
    const int64_t z0 = oz * p.sd - p.pf, y0 = oy * p.sh - p.pt, x0 = ox * p.sw - p.pl;
    float acc[kInFlight][kVec];
#pragma unroll
    for (int j = 0; j < kInFlight; ++j)
#pragma unroll
      for (int i = 0; i < kVec; ++i) acc[j][i] = empty;
    int count = 0;
    int kz = row / planeK, ky = (row / p.kw) % p.kh, kx = row % p.kw;
    const T* xb = x + b * p.d * p.h * p.w * p.c + c0;
    const uint8_t* mb = kMasked ? mask + b * p.d * p.h * p.w : nullptr;
    const bool inChannels = c0 < p.c;  // kVec divides p.c: a vector is inside or past the channels
    bool anyActive = false;
    for (int k = row; k < window; k += kInFlight * kRows) {
      Vec<kVec> v[kInFlight];
      bool valid[kInFlight], active[kInFlight];
#pragma unroll
      for (int j = 0; j < kInFlight; ++j) {
        const int64_t z = z0 + kz * p.dd, yy = y0 + ky * p.dh, xx = x0 + kx * p.dw;
        valid[j] = k + j * kRows < window && z >= 0 && z < p.d && yy >= 0 && yy < p.h && xx >= 0 && xx < p.w;
        const int64_t at = (z * p.h + yy) * p.w + xx;
        // Masked: the value is loaded beside its mask byte, not after it (a lazy delta's inactive values are
        // unwritten memory, read but never added).
        if (valid[j] && inChannels) v[j] = loadStored<kVec>(xb + at * p.c);
        active[j] = valid[j] && (!kMasked || mb[at] != 0);
        kx += stepX;
        if (kx >= p.kw) kx -= p.kw, ++ky;
        ky += stepY;
        if (ky >= p.kh) ky -= p.kh, ++kz;
        kz += stepZ;
      }
#pragma unroll
      for (int j = 0; j < kInFlight; ++j) {
        count += valid[j] ? 1 : 0;
        anyActive = anyActive || active[j];
        if (active[j] && inChannels) {
#pragma unroll
          for (int i = 0; i < kVec; ++i) {
            if (isMax) {
              if (v[j].v[i] > acc[j][i]) acc[j][i] = v[j].v[i];
            } else {
              acc[j][i] += v[j].v[i];
            }
          }
        }
      }
    }
#pragma unroll
    for (int i = 0; i < kVec; ++i) {
      float r = acc[0][i];
#pragma unroll
      for (int j = 1; j < kInFlight; ++j) {
        if (isMax) {
          if (acc[j][i] > r) r = acc[j][i];
        } else {
          r += acc[j][i];
        }
      }
      sAcc[row][lane * kVec + i] = r;
    }
    if (lane == 0) sCount[row] = count;
    if constexpr (kMasked) {
      const bool any = __syncthreads_or(anyActive);  // the barrier below, and the OR of the block's active positions
      if (threadIdx.x == 0 && blk % slices == 0) outMask[pix] = any ? 1 : 0;
    } else {
      (void)anyActive;
      __syncthreads();
    }
    for (int step = kRows / 2; step > 0; step >>= 1) {  // a fixed order: the same bits on every run
      if (row < step) {
#pragma unroll
        for (int i = 0; i < kVec; ++i) {
          const float o = sAcc[row + step][lane * kVec + i];
          float& r = sAcc[row][lane * kVec + i];
          if (isMax) {
            if (o > r) r = o;
          } else {
            r += o;
          }
        }
        if (lane == 0) sCount[row] += sCount[row + step];
      }
      __syncthreads();
    }
    if (row == 0 && inChannels) {
      Vec<kVec> out;
#pragma unroll
      for (int i = 0; i < kVec; ++i)
        out.v[i] = isMax ? sAcc[0][lane * kVec + i] : sAcc[0][lane * kVec + i] / (float)sCount[0];
      storeStored<kVec>(y + pix * p.c + c0, out);
    }
    __syncthreads();  // the next slice reuses the shared arrays
  }
}

// Channels a block's lanes take: a power of two up to a warp, no wider than the channels.
template <typename Launch>
void withPoolLanes(int64_t channels, Launch&& launch) {
  if (channels >= 32)
    launch(std::integral_constant<int, 32>{});
  else if (channels >= 16)
    launch(std::integral_constant<int, 16>{});
  else if (channels >= 8)
    launch(std::integral_constant<int, 8>{});
  else if (channels >= 4)
    launch(std::integral_constant<int, 4>{});
  else if (channels >= 2)
    launch(std::integral_constant<int, 2>{});
  else
    launch(std::integral_constant<int, 1>{});
}

// Windows of at least this many positions take the split kernel when it is asked for, where the one-thread-per-output
// kernel would launch fewer than two blocks per multiprocessor (a global pool; with many outputs that kernel fills the
// GPU and a block per output pixel would mostly idle).
constexpr int kSplitWindow = 32;

// The split kernel over `pixels` output pixels: vectors of 4 channels where rows of channels stay aligned to them (16
// channels a block: more blocks for the few outputs of a global pool); else a channel a lane. kMasked: float32 only.
template <bool kMasked>
void launchSplitPool(cudaStream_t s, bool isMax, const void* x, void* y, const PoolParams& p, int64_t pixels, bool half,
                     const uint8_t* mask, uint8_t* outMask) {
  const auto run = [&](auto vec, auto lanes) {
    constexpr int kVec = decltype(vec)::value, kLanes = decltype(lanes)::value;
    const int64_t blocks = pixels * ((p.c + kVec * kLanes - 1) / (kVec * kLanes));
    const int grid = (int)(blocks < (1 << 30) ? blocks : (1 << 30));
    TD_STORAGE_DISPATCH(half, {
      if constexpr (!kMasked || std::is_same_v<T, float>)
        launchKernel(poolSplitKernel<T, kVec, kLanes, kMasked>, grid, kThreads, 0, s, isMax, (const T*)x, (T*)y, p,
                     pixels, mask, outMask);
    });
  };
  const size_t align = half ? 8 : 16;
  if (p.c % 4 == 0 && (uintptr_t)x % align == 0 && (uintptr_t)y % align == 0)
    run(std::integral_constant<int, 4>{}, std::integral_constant<int, 4>{});
  else
    withPoolLanes(p.c, [&](auto lanes) { run(std::integral_constant<int, 1>{}, lanes); });
}

}  // namespace

bool launchPool(cudaStream_t s, bool isMax, const void* x, void* y, const PoolParams& p, bool half, bool split) {
  int64_t total = p.n * p.od * p.oh * p.ow * p.c;
  if (total == 0) return false;
  if (split && (int64_t)p.kd * p.kh * p.kw >= kSplitWindow && gridFor(total, kThreads) < 2 * multiProcessors()) {
    launchSplitPool<false>(s, isMax, x, y, p, p.n * p.od * p.oh * p.ow, half, nullptr, nullptr);
    TD_LAUNCHED("pool");
    return true;
  }
  const bool fits = total < kIndex32Limit && p.n * p.d * p.h * p.w * p.c < kIndex32Limit;
  const int grid = gridFor(total, kThreads);
  TD_STORAGE_DISPATCH(half, TD_INDEX_DISPATCH(fits, launchKernel(poolKernel<T, I>, grid, kThreads, 0, s, isMax,
                                                                 (const T*)x, (T*)y, p, total)));
  TD_LAUNCHED("pool");
  return false;
}

void launchDeltaGlobalAvgPool(cudaStream_t s, const float* x, const uint8_t* mask, float* y, uint8_t* outMask,
                              int64_t n, int64_t h, int64_t w, int64_t c) {
  if (n < 0 || h <= 0 || w <= 0 || c <= 0 || h * w > INT32_MAX || c > INT32_MAX)
    failArg("deltaGlobalAvgPool", "invalid geometry");
  if (mask == nullptr || outMask == nullptr) failArg("deltaGlobalAvgPool", "needs the input's mask and an output mask");
  if (n == 0) return;
  PoolParams p{};
  p.n = n, p.d = 1, p.h = h, p.w = w, p.c = c, p.od = p.oh = p.ow = 1;
  p.kd = 1, p.kh = (int)h, p.kw = (int)w, p.sd = p.sh = p.sw = 1, p.dd = p.dh = p.dw = 1;
  launchSplitPool<true>(s, false, x, y, p, n, false, mask, outMask);
  TD_LAUNCHED("deltaGlobalAvgPool");
}

}  // namespace tfjs_delta
