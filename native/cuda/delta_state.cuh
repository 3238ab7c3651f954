// Delta state (the accumulator's A and R) in its storage: float32, or IEEE half for half-precision state
// (statePrecision 'fp16'). Loads give floats; stores round to the storage.
#pragma once
#include <cuda_fp16.h>

#include <type_traits>

#include "vec.cuh"

namespace tfjs_delta {

// VEC consecutive state elements as floats: float32 storage through vec.cuh, half storage as VEC halves (one 8-byte
// access for VEC == 4).
template <int VEC>
__device__ __forceinline__ Vec<VEC> loadState(const float* p) {
  return loadVec<VEC>(p);
}
template <int VEC>
__device__ __forceinline__ Vec<VEC> loadState(const __half* p) {
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
__device__ __forceinline__ void storeState(float* p, const Vec<VEC>& x) {
  storeVec<VEC>(p, x);
}
template <int VEC>
__device__ __forceinline__ void storeState(__half* p, const Vec<VEC>& x) {
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

// The value A' a flush stores: A + s itself in float32 state; in half state its rounding, so that the emitted
// f(A') - f(A) is the change between the values stored and the emitted deltas telescope.
template <typename S>
__device__ __forceinline__ float storedSum(float sum) {
  if constexpr (std::is_same_v<S, __half>)
    return __half2float(__float2half_rn(sum));
  else
    return sum;
}

}  // namespace tfjs_delta
