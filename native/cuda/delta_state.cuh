// Delta state (the accumulator's A and R) in its storage: float32, or IEEE half for half-precision state
// (statePrecision 'fp16'); loaded and stored with storage.cuh's loadStored / storeStored.
#pragma once
#include <cuda_fp16.h>

#include <type_traits>

#include "storage.cuh"

namespace tfjs_delta {

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
