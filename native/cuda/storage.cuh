// Element storage of float tensors: float32, or IEEE half for tensors written by kernels running with half
// storage (the 'fp16' precision of compiled streams). Kernels load either as float, compute in float and
// store back in the tensor's own storage, so only memory traffic changes with the storage type.
#pragma once
#include <cuda_fp16.h>

#include "vec.cuh"

namespace tfjs_delta {

__device__ __forceinline__ float toFloat(float v) { return v; }
__device__ __forceinline__ float toFloat(__half v) { return __half2float(v); }

template <typename T>
__device__ __forceinline__ T fromFloat(float v);
template <>
__device__ __forceinline__ float fromFloat<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __half fromFloat<__half>(float v) {
  return __float2half_rn(v);
}

// Eight halves in one 16-byte vector: memory-bound kernels on half data move 16 bytes a thread.
union Half8 {
  uint4 v;
  __half h[8];
};
inline bool half8Ok(int64_t n, const void* a, const void* b) {
  return n % 8 == 0 && (uintptr_t)a % 16 == 0 && (uintptr_t)b % 16 == 0;
}
// out[e] = f(e, in[e]) over n8 * 8 half elements, 8 per vector, grid-stride (in and out may alias).
template <typename I, typename F>
__device__ __forceinline__ void mapHalf8(const uint4* in, uint4* out, I n8, F f) {
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n8; i += (I)gridDim.x * blockDim.x) {
    Half8 v;
    v.v = in[i];
#pragma unroll
    for (int j = 0; j < 8; ++j) v.h[j] = __float2half_rn(f(i * 8 + j, __half2float(v.h[j])));
    out[i] = v.v;
  }
}

// Runs `body` with `T` bound to the storage type: __half when `half`, float otherwise.
#define TD_STORAGE_DISPATCH(half, ...) \
  do {                                 \
    if (half) {                        \
      using T = __half;                \
      __VA_ARGS__;                     \
    } else {                           \
      using T = float;                 \
      __VA_ARGS__;                     \
    }                                  \
  } while (0)

// VEC consecutive elements as floats: float32 storage through vec.cuh, half storage as VEC halves (one 8-byte access
// for VEC == 4). Stores round to the storage.
template <int VEC>
__device__ __forceinline__ Vec<VEC> loadStored(const float* p) {
  return loadVec<VEC>(p);
}
template <int VEC>
__device__ __forceinline__ Vec<VEC> loadStored(const __half* p) {
  Vec<VEC> out;
  if constexpr (VEC == 4) {
    const uint2 t = *reinterpret_cast<const uint2*>(p);
    const float2 lo = __half22float2(*reinterpret_cast<const __half2*>(&t.x));
    const float2 hi = __half22float2(*reinterpret_cast<const __half2*>(&t.y));
    out.v[0] = lo.x, out.v[1] = lo.y, out.v[2] = hi.x, out.v[3] = hi.y;
  } else {
#pragma unroll
    for (int i = 0; i < VEC; ++i) out.v[i] = __half2float(p[i]);
  }
  return out;
}
template <int VEC>
__device__ __forceinline__ void storeStored(float* p, const Vec<VEC>& x) {
  storeVec<VEC>(p, x);
}
template <int VEC>
__device__ __forceinline__ void storeStored(__half* p, const Vec<VEC>& x) {
  if constexpr (VEC == 4) {
    const __half2 lo = __floats2half2_rn(x.v[0], x.v[1]), hi = __floats2half2_rn(x.v[2], x.v[3]);
    uint2 t;
    t.x = *reinterpret_cast<const unsigned*>(&lo);
    t.y = *reinterpret_cast<const unsigned*>(&hi);
    *reinterpret_cast<uint2*>(p) = t;
  } else {
#pragma unroll
    for (int i = 0; i < VEC; ++i) p[i] = __float2half_rn(x.v[i]);
  }
}

}  // namespace tfjs_delta
