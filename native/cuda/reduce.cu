// Reduction kernel family (Sum, Mean, Max, Min, Prod) over a [outer, r, inner] view of the input. Reduced axes are
// made contiguous by the caller (a transpose when needed). Long reductions with little parallel work (global
// average pooling at batch 1) are split in two passes through `scratch`. Also the active fractions of many delta
// masks in one launch (a compiled stream's per-layer statistics: one graph node instead of three per layer).
#include <algorithm>
#include <string>

#include "common.h"
#include "storage.cuh"
#include "launch.cuh"

namespace tfjs_delta {
namespace {

constexpr int kTx = 32, kTy = 8;
constexpr int64_t kSplitMin = 2048;  // r above which a two-pass split pays off when outer*inner is small

__device__ __forceinline__ float initOf(int op) {
  return op == R_MAX ? -INFINITY : (op == R_MIN ? INFINITY : (op == R_PROD ? 1.f : 0.f));
}
// tfjs-backend-cpu: max/min via `value > acc` / `value < acc`, so a NaN never wins unless first; we match
// Math.max-free semantics by propagating NaN (tf.max of a NaN input is NaN on the CPU backend as well).
__device__ __forceinline__ float combine(int op, float a, float b) {
  switch (op) {
    case R_MAX: return (b > a || isnan(b)) ? b : a;
    case R_MIN: return (b < a || isnan(b)) ? b : a;
    case R_PROD: return a * b;
    default: return a + b;
  }
}

// inner == 1: one block per output row, block-wide reduction.
template <typename T>
__global__ void reduceRows(int op, const T* __restrict__ x, float* __restrict__ y, int64_t r, float scale) {
  dependentLaunchPrologue();
  __shared__ float red[kTx * kTy];
  const T* row = x + blockIdx.x * r;
  float acc = initOf(op);
  for (int64_t j = threadIdx.x; j < r; j += blockDim.x) acc = combine(op, acc, toFloat(row[j]));
  red[threadIdx.x] = acc;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w >>= 1) {
    if (threadIdx.x < w) red[threadIdx.x] = combine(op, red[threadIdx.x], red[threadIdx.x + w]);
    __syncthreads();
  }
  if (threadIdx.x == 0) y[blockIdx.x] = (op == R_SUM || op == R_MEAN) ? red[0] * scale : red[0];
}

// inner > 1: threadIdx.x walks `inner` (coalesced), threadIdx.y strides over r, shared-memory reduction over y.
template <typename T>
__global__ void reduceCols(int op, const T* __restrict__ x, float* __restrict__ y, int64_t r, int64_t inner,
                           float scale) {
  dependentLaunchPrologue();
  __shared__ float red[kTy][kTx + 1];
  const int64_t o = blockIdx.y, i = blockIdx.x * (int64_t)kTx + threadIdx.x;
  float acc = initOf(op);
  if (i < inner) {
    const T* base = x + o * r * inner + i;
    for (int64_t j = threadIdx.y; j < r; j += kTy) acc = combine(op, acc, toFloat(base[j * inner]));
  }
  red[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && i < inner) {
    for (int k = 1; k < kTy; ++k) acc = combine(op, acc, red[k][threadIdx.x]);
    y[o * inner + i] = (op == R_SUM || op == R_MEAN) ? acc * scale : acc;
  }
}

template <typename T>
void reduceOnce(cudaStream_t s, int op, const T* x, float* y, int64_t outer, int64_t r, int64_t inner, float scale) {
  if (outer > 0x7fffffff || (inner > 1 && outer > 65535)) failArg("reduce", "outer dimension too large");
  if (inner == 1) {
    launchKernel(reduceRows<T>, (unsigned)outer, kTx * kTy, 0, s, op, x, y, r, scale);
  } else {
    dim3 grid((unsigned)((inner + kTx - 1) / kTx), (unsigned)outer);
    launchKernel(reduceCols<T>, grid, dim3(kTx, kTy), 0, s, op, x, y, r, inner, scale);
  }
  TD_LAUNCHED("reduce");
}

// Number of chunks the r axis is split into (1: no split).
int64_t splitOf(int64_t outer, int64_t r, int64_t inner) {
  int64_t blocks = inner == 1 ? outer : outer * ((inner + kTx - 1) / kTx);
  if (r < kSplitMin || blocks >= 256) return 1;
  int64_t chunks = (256 + blocks - 1) / blocks;
  while (chunks > 1 && r % chunks != 0) --chunks;  // chunks must divide r so the view stays regular
  return chunks;
}

// Masks per launch: the pointers and windows travel as kernel parameters (1.9 KiB, under the 4 KiB limit), so a
// captured graph holds them by value.
constexpr int kMaskBatch = 32, kMaskThreads = 256, kMaskMaxBlocks = 128;
struct MaskBatch {
  const uint8_t* mask[kMaskBatch];
  MaskWindow win[kMaskBatch];
};
struct MaskTotals {
  int64_t outputs[kMaskBatch];
};

__device__ __forceinline__ unsigned long long blockSum(unsigned long long v) {
  __shared__ unsigned long long warps[32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  if ((threadIdx.x & 31) == 0) warps[threadIdx.x >> 5] = v;
  __syncthreads();
  unsigned long long total = 0;
  if (threadIdx.x == 0)
    for (int k = 0; k < (int)(blockDim.x >> 5); ++k) total += warps[k];
  return total;  // thread 0's
}

// Block (x, y): how many of window y's output pixels x, x + gridDim.x * blockDim.x, ... reach a nonzero byte of mask
// y, into counts[y * gridDim.x + x] (every slot written). Indices are 32-bit (the launcher checks); a window that is
// the mask itself (1x1, stride 1, no pads) reads its byte and nothing else.
__global__ void __launch_bounds__(kMaskThreads)
    maskReachCounts(MaskBatch batch, unsigned long long* __restrict__ counts) {
  dependentLaunchPrologue();
  const uint8_t* m = batch.mask[blockIdx.y];
  const MaskWindow g = batch.win[blockIdx.y];
  const int outputs = g.n * g.oh * g.ow;
  const bool identity =
      g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 && g.oh == g.h && g.ow == g.w;
  unsigned long long count = 0;
  // A 64-bit step: the last one may pass 2^31.
  for (int64_t step = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; step < outputs;
       step += (int64_t)gridDim.x * blockDim.x) {
    const int o = (int)step;
    if (identity) {
      count += m[o] != 0;
      continue;
    }
    const int ox = o % g.ow, rest = o / g.ow, oy = rest % g.oh, b = rest / g.oh;
    const int iy0 = oy * g.sh - g.pt, ix0 = ox * g.sw - g.pl;
    bool hit = false;
    for (int ky = 0; ky < g.kh && !hit; ++ky) {
      const int iy = iy0 + ky * g.dh;
      if (iy < 0 || iy >= g.h) continue;
      const uint8_t* row = m + (b * g.h + iy) * g.w;
      for (int kx = 0; kx < g.kw && !hit; ++kx) {
        const int ix = ix0 + kx * g.dw;
        hit = ix >= 0 && ix < g.w && row[ix] != 0;
      }
    }
    count += hit;
  }
  const unsigned long long total = blockSum(count);
  if (threadIdx.x == 0) counts[blockIdx.y * gridDim.x + blockIdx.x] = total;
}

// Block y: window y's share, from its blocks' counts.
__global__ void __launch_bounds__(kMaskThreads)
    maskReachShares(const unsigned long long* __restrict__ counts, int blocks, MaskTotals totals,
                    float* __restrict__ out) {
  dependentLaunchPrologue();
  unsigned long long count = 0;
  for (int i = threadIdx.x; i < blocks; i += blockDim.x) count += counts[blockIdx.x * blocks + i];
  const unsigned long long total = blockSum(count);
  const int64_t outputs = totals.outputs[blockIdx.x];
  if (threadIdx.x == 0) out[blockIdx.x] = outputs > 0 ? (float)((double)total / (double)outputs) : 0.f;
}

int maskBlocks(const MaskWindow* windows, int count) {
  int64_t most = 0;
  for (int i = 0; i < count; ++i) most = std::max(most, (int64_t)windows[i].n * windows[i].oh * windows[i].ow);
  // 16 outputs a thread before a second block: small masks take one block, large ones up to kMaskMaxBlocks each.
  const int64_t blocks = (most + kMaskThreads * 16 - 1) / (kMaskThreads * 16);
  return (int)std::min<int64_t>(std::max<int64_t>(blocks, 1), kMaskMaxBlocks);
}

}  // namespace

MaskWindow maskWindowOf(int64_t bytes) {
  if (bytes < 0) failArg("maskFractions", "negative mask length");
  if (bytes > INT32_MAX) failArg("maskFractions", "a mask of more than 2^31 - 1 bytes");
  return MaskWindow{1, 1, (int)bytes, 1, (int)bytes, 1, 1, 1, 1, 0, 0, 1, 1};
}

void checkMaskWindows(const uint8_t* const* masks, const MaskWindow* windows, int count) {
  // Products of values below 2^31, checked a factor at a time so that none wraps.
  const auto fits = [](int64_t a, int64_t b, int64_t c) { return a * b <= INT32_MAX && a * b * c <= INT32_MAX; };
  for (int i = 0; i < count; ++i) {
    const MaskWindow& g = windows[i];
    if (g.n < 0 || g.h < 0 || g.w < 0 || g.oh < 0 || g.ow < 0 || g.pt < 0 || g.pl < 0)
      failArg("maskFractions", "window " + std::to_string(i) + ": negative size or pad");
    if (g.kh < 1 || g.kw < 1 || g.sh < 1 || g.sw < 1 || g.dh < 1 || g.dw < 1)
      failArg("maskFractions", "window " + std::to_string(i) + ": sizes, strides and dilations must be at least 1");
    if (!fits(g.n, g.oh, g.ow) || !fits(g.n, g.h, g.w) ||
        (int64_t)std::max(g.oh - 1, 0) * g.sh + (int64_t)(g.kh - 1) * g.dh > INT32_MAX ||
        (int64_t)std::max(g.ow - 1, 0) * g.sw + (int64_t)(g.kw - 1) * g.dw > INT32_MAX)
      failArg("maskFractions", "window " + std::to_string(i) + ": 2^31 or more pixels (indices are 32-bit)");
    if (masks != nullptr && !masks[i] && (int64_t)g.n * g.oh * g.ow > 0 && (int64_t)g.n * g.h * g.w > 0)
      failArg("maskFractions", "window " + std::to_string(i) + ": null mask pointer");
  }
}

size_t maskFractionsScratch(const MaskWindow* windows, int count) {
  checkMaskWindows(nullptr, windows, count);
  return (size_t)std::min(count, kMaskBatch) * maskBlocks(windows, count) * sizeof(unsigned long long);
}

void launchMaskFractions(cudaStream_t s, const uint8_t* const* masks, const MaskWindow* windows, int count, float* out,
                         void* scratch) {
  checkMaskWindows(masks, windows, count);  // all of them before the first launch: no partly written out
  const int blocks = maskBlocks(windows, count);
  auto* counts = static_cast<unsigned long long*>(scratch);
  for (int first = 0; first < count; first += kMaskBatch) {
    MaskBatch batch{};
    MaskTotals totals{};
    const int k = std::min(kMaskBatch, count - first);
    for (int i = 0; i < k; ++i) {
      const MaskWindow& g = windows[first + i];
      batch.mask[i] = masks[first + i];
      batch.win[i] = g;
      totals.outputs[i] = (int64_t)g.n * g.oh * g.ow;
    }
    launchKernel(maskReachCounts, dim3((unsigned)blocks, (unsigned)k), kMaskThreads, 0, s, batch, counts);
    TD_LAUNCHED("maskFractions");
    launchKernel(maskReachShares, k, kMaskThreads, 0, s, counts, blocks, totals, out + first);
    TD_LAUNCHED("maskFractions");
  }
}

size_t reduceScratch(int64_t outer, int64_t r, int64_t inner) {
  int64_t chunks = splitOf(outer, r, inner);
  return chunks > 1 ? (size_t)(outer * chunks * inner) * sizeof(float) : 0;
}

void launchReduce(cudaStream_t s, int op, const void* x, bool xHalf, float* y, int64_t outer, int64_t r, int64_t inner,
                  void* scratch) {
  if (op < 0 || op > R_PROD) failArg("reduce", "unknown reduce op " + std::to_string(op));
  if (outer * inner == 0) return;
  if (r == 0) {  // empty reduction: the identity of the op
    launchFill(s, y, DT_FLOAT32, outer * inner,
               op == R_MAX    ? -INFINITY
               : op == R_MIN  ? INFINITY
               : op == R_PROD ? 1
                              : (op == R_MEAN ? NAN : 0));
    return;
  }
  const float scale = op == R_MEAN ? 1.f / (float)r : 1.f;
  int64_t chunks = splitOf(outer, r, inner);
  if (chunks <= 1) {
    TD_STORAGE_DISPATCH(xHalf, reduceOnce<T>(s, op, (const T*)x, y, outer, r, inner, scale));
    return;
  }
  if (!scratch) failArg("reduce", "scratch buffer missing for a split reduction");
  const int first = op == R_MEAN ? R_SUM : op;
  float* partial = static_cast<float*>(scratch);
  TD_STORAGE_DISPATCH(xHalf, reduceOnce<T>(s, first, (const T*)x, partial, outer * chunks, r / chunks, inner,
                                           1.f));  // [outer, chunks, inner]
  reduceOnce<float>(s, op == R_MEAN ? R_SUM : op, partial, y, outer, chunks, inner, scale);
}

}  // namespace tfjs_delta
