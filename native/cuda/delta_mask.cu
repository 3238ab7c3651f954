// Mask bookkeeping kernel family: comparisons and logical ops producing bool (uint8), select, tile, any/all,
// clip by value (the standard kernels the delta ops' masks and the companion ops need), and the lazy zeroing of
// inactive pixels of a delta tensor before a non-delta kernel reads it.
#include "delta.h"
#include "broadcast.cuh"
#include "launch.cuh"
#include "vec.cuh"

namespace tfjs_delta {
namespace {

constexpr int kThreads = 256;

inline int blocksFor(int64_t n) { return gridFor(n, kThreads); }

template <typename T>
__device__ __forceinline__ uint8_t compareOp(int op, T a, T b) {
  switch (op) {
    case C_GREATER: return a > b;
    case C_GREATER_EQUAL: return a >= b;
    case C_LESS: return a < b;
    case C_LESS_EQUAL: return a <= b;
    case C_EQUAL: return a == b;
    case C_NOT_EQUAL: return a != b;
    case C_AND: return (a != T(0)) && (b != T(0));
    case C_OR: return (a != T(0)) || (b != T(0));
    case C_NOT: return a == T(0);
  }
  return 0;
}

template <typename T, typename I>
__global__ void compareKernel(int op, const T* __restrict__ a, const T* __restrict__ b, uint8_t* __restrict__ o,
                              Dims ad, Dims bd, Dims od, I n) {
  dependentLaunchPrologue();
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    I ia, ib;
    stridedOffsets(i, od, ad, bd, ia, ib);
    o[i] = compareOp<T>(op, a[ia], b[ib]);
  }
}

template <typename T>
__global__ void selectKernel(const uint8_t* __restrict__ cond, int64_t condInner, const T* __restrict__ a,
                             const T* __restrict__ b, T* __restrict__ o, int64_t n) {
  dependentLaunchPrologue();
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    o[i] = cond[condInner == 1 ? i : i / condInner] ? a[i] : b[i];
}

template <typename T, typename I>
__global__ void tileKernel(const T* __restrict__ x, Dims in, T* __restrict__ o, Dims od, I n) {
  dependentLaunchPrologue();
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    I rem = i, ix = 0;
#pragma unroll
    for (int k = kMaxRank - 1; k >= 0; --k) {  // constant indices: see stridedOffsets (broadcast.cuh)
      if (k >= od.rank) continue;
      I c = rem % (I)od.shape[k];
      rem /= (I)od.shape[k];
      ix += (c % (I)in.shape[k]) * (I)in.stride[k];
    }
    o[i] = x[ix];
  }
}

__global__ void anyAllKernel(bool isAll, const uint8_t* __restrict__ x, uint8_t* __restrict__ y, int64_t outer,
                             int64_t r, int64_t inner) {
  dependentLaunchPrologue();
  const int64_t total = outer * inner;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t o = i / inner, in = i % inner;
    const uint8_t* p = x + o * r * inner + in;
    uint8_t acc = isAll ? 1 : 0;
    for (int64_t k = 0; k < r; ++k) {
      const uint8_t v = p[k * inner] != 0;
      if (isAll ? !v : v) {
        acc = v;
        break;
      }
    }
    y[i] = acc;
  }
}

__global__ void clipKernel(const float* __restrict__ x, float* __restrict__ y, int64_t n, float lo, float hi) {
  dependentLaunchPrologue();
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float v = x[i];
    y[i] = v > hi ? hi : (v < lo ? lo : v);  // as tfjs-backend-cpu (NaN passes through)
  }
}

// One thread per element (V = float) or per 4 channels (V = float4, channels % 4 == 0, x 16-byte aligned), channels
// innermost: a warp covers consecutive channels of few pixels. The vector form has a quarter of the threads, index
// divisions and stores; the scalar one took 10-23 us at MobileNetV2's 18x24 to 36x48 grids at batch 8.
template <typename V, typename I>
__global__ void zeroInactiveKernel(V* __restrict__ x, const uint8_t* __restrict__ mask, I n, I perPixel) {
  dependentLaunchPrologue();
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x)
    if (!mask[i / perPixel]) x[i] = V{};
}

// One thread that keeps the stream busy for `ns` nanoseconds (benchmarks: lets the host queue work ahead of the
// GPU, so events time the GPU and not the host's launch rate).
__global__ void busyWaitKernel(uint64_t ns) {
  dependentLaunchPrologue();
  uint64_t start, now;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  do {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  } while (now - start < ns);
}

int64_t count(const Dims& d) {
  int64_t n = 1;
  for (int k = 0; k < d.rank; ++k) n *= d.shape[k];
  return n;
}

}  // namespace

void launchCompare(cudaStream_t s, int op, int dtype, const void* a, const void* b, uint8_t* out, const Dims& a_,
                   const Dims& b_, const Dims& o) {
  if (op < 0 || op >= C_COUNT) failArg("compare", "unknown op " + std::to_string(op));
  const int64_t n = count(o);
  if (n == 0) return;
  const bool fits = n < kIndex32Limit;
  switch (dtype) {
    case DT_FLOAT32:
      TD_INDEX_DISPATCH(fits, launchKernel(compareKernel<float, I>, blocksFor(n), kThreads, 0, s, op, (const float*)a,
                                           (const float*)b, out, a_, b_, o, (I)n));
      break;
    case DT_INT32:
      TD_INDEX_DISPATCH(fits, launchKernel(compareKernel<int32_t, I>, blocksFor(n), kThreads, 0, s, op,
                                           (const int32_t*)a, (const int32_t*)b, out, a_, b_, o, (I)n));
      break;
    case DT_BOOL:
      TD_INDEX_DISPATCH(fits, launchKernel(compareKernel<uint8_t, I>, blocksFor(n), kThreads, 0, s, op,
                                           (const uint8_t*)a, (const uint8_t*)b, out, a_, b_, o, (I)n));
      break;
    default: failArg("compare", "unsupported dtype " + std::to_string(dtype));
  }
  TD_LAUNCHED("compare");
}

void launchSelect(cudaStream_t s, int elemBytes, const uint8_t* cond, int64_t condInner, const void* a, const void* b,
                  void* out, int64_t n) {
  if (n == 0) return;
  if (condInner < 1) failArg("select", "condInner must be >= 1");
  if (elemBytes == 4)
    launchKernel(selectKernel<uint32_t>, blocksFor(n), kThreads, 0, s, cond, condInner, (const uint32_t*)a,
                 (const uint32_t*)b, (uint32_t*)out, n);
  else if (elemBytes == 1)
    launchKernel(selectKernel<uint8_t>, blocksFor(n), kThreads, 0, s, cond, condInner, (const uint8_t*)a,
                 (const uint8_t*)b, (uint8_t*)out, n);
  else
    failArg("select", "elemBytes must be 1 or 4");
  TD_LAUNCHED("select");
}

void launchTile(cudaStream_t s, int elemBytes, const void* x, const Dims& in, void* out, const Dims& o) {
  const int64_t n = count(o);
  if (n == 0) return;
  const bool fits = n < kIndex32Limit;
  if (elemBytes == 4)
    TD_INDEX_DISPATCH(fits, launchKernel(tileKernel<uint32_t, I>, blocksFor(n), kThreads, 0, s, (const uint32_t*)x, in,
                                         (uint32_t*)out, o, (I)n));
  else if (elemBytes == 1)
    TD_INDEX_DISPATCH(fits, launchKernel(tileKernel<uint8_t, I>, blocksFor(n), kThreads, 0, s, (const uint8_t*)x, in,
                                         (uint8_t*)out, o, (I)n));
  else
    failArg("tile", "elemBytes must be 1 or 4");
  TD_LAUNCHED("tile");
}

void launchAnyAll(cudaStream_t s, bool isAll, const uint8_t* x, uint8_t* y, int64_t outer, int64_t r, int64_t inner) {
  if (outer * inner == 0) return;
  launchKernel(anyAllKernel, blocksFor(outer * inner), kThreads, 0, s, isAll, x, y, outer, r, inner);
  TD_LAUNCHED("anyAll");
}

void launchClip(cudaStream_t s, const float* x, float* y, int64_t n, float lo, float hi) {
  if (n == 0) return;
  launchKernel(clipKernel, blocksFor(n), kThreads, 0, s, x, y, n, lo, hi);
  TD_LAUNCHED("clip");
}

void launchZeroInactive(cudaStream_t s, float* x, const uint8_t* mask, int64_t pixels, int64_t channels) {
  const int64_t n = pixels * channels;
  if (n == 0) return;
  if (float4Rows(channels, x)) {
    const int64_t n4 = n / 4;
    TD_INDEX_DISPATCH(n4 < kIndex32Limit, launchKernel(zeroInactiveKernel<float4, I>, blocksFor(n4), kThreads, 0, s,
                                                       reinterpret_cast<float4*>(x), mask, (I)n4, (I)(channels / 4)));
  } else {
    TD_INDEX_DISPATCH(n < kIndex32Limit, launchKernel(zeroInactiveKernel<float, I>, blocksFor(n), kThreads, 0, s, x,
                                                      mask, (I)n, (I)channels));
  }
  TD_LAUNCHED("zeroInactive");
}

void launchBusyWait(cudaStream_t s, double microseconds) {
  if (!(microseconds > 0)) return;
  launchKernel(busyWaitKernel, 1, 1, 0, s, (uint64_t)(microseconds * 1000.0));
  TD_LAUNCHED("busyWait");
}

}  // namespace tfjs_delta
