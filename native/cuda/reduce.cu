// Reduction kernel family (Sum, Mean, Max, Min, Prod) over a [outer, r, inner] view of the input. Reduced axes are
// made contiguous by the caller (a transpose when needed). Long reductions with little parallel work (global
// average pooling at batch 1) are split in two passes through `scratch`. Also the active fractions of many delta
// masks in one launch (a compiled stream's per-layer statistics: one graph node instead of three per layer).
#include <algorithm>

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

// Masks per launch: the pointers and lengths travel as kernel parameters (1 KiB, under the 4 KiB limit), so a
// captured graph holds them by value.
constexpr int kMaskBatch = 64;
struct MaskBatch {
  const uint8_t* mask[kMaskBatch];
  int64_t n[kMaskBatch];
};

// Block b: the share of nonzero bytes in mask b. Bytes are read four at a time where the buffer is 4-byte aligned
// (allocator blocks are), the head before that and the tail after the last whole word one by one.
__global__ void maskFractions(MaskBatch batch, float* __restrict__ out) {
  dependentLaunchPrologue();
  const uint8_t* m = batch.mask[blockIdx.x];
  const int64_t n = batch.n[blockIdx.x];
  const int64_t align = (int64_t)((4 - ((uintptr_t)m & 3)) & 3);
  const int64_t head = align < n ? align : n;
  const int64_t words = (n - head) / 4;
  const uint32_t* w = reinterpret_cast<const uint32_t*>(m + head);
  unsigned long long count = 0;
#pragma unroll 8
  for (int64_t i = threadIdx.x; i < words; i += blockDim.x) count += __popc(__vcmpne4(w[i], 0u)) >> 3;
  for (int64_t i = threadIdx.x; i < head; i += blockDim.x) count += m[i] != 0;
  for (int64_t i = head + 4 * words + threadIdx.x; i < n; i += blockDim.x) count += m[i] != 0;
  for (int o = 16; o > 0; o >>= 1) count += __shfl_down_sync(0xffffffffu, count, o);
  __shared__ unsigned long long warps[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warps[warp] = count;
  __syncthreads();
  if (threadIdx.x == 0) {
    unsigned long long total = 0;
    for (int k = 0; k < (int)(blockDim.x >> 5); ++k) total += warps[k];
    out[blockIdx.x] = n > 0 ? (float)((double)total / (double)n) : 0.f;
  }
}

}  // namespace

void launchMaskFractions(cudaStream_t s, const uint8_t* const* masks, const int64_t* lengths, int count, float* out) {
  for (int first = 0; first < count; first += kMaskBatch) {
    MaskBatch batch{};
    const int k = std::min(kMaskBatch, count - first);
    for (int i = 0; i < k; ++i) {
      if (lengths[first + i] < 0) failArg("maskFractions", "negative mask length");
      if (!masks[first + i] && lengths[first + i] > 0) failArg("maskFractions", "null mask pointer");
      batch.mask[i] = masks[first + i];
      batch.n[i] = lengths[first + i];
    }
    launchKernel(maskFractions, k, 1024, 0, s, batch, out + first);  // a block per mask: wide, so its loads overlap
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
