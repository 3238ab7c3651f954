// Offsets of output element i in two strided operands (strides 0 on broadcast dimensions), for the
// element-wise, comparison and strided-copy kernels. Device code: include from .cu files only.
#pragma once
#include "common.h"

namespace tfjs_delta {

// The loop runs over kMaxRank with constant indices: a runtime-bounded loop indexes the Dims kernel parameters
// dynamically, which makes every thread copy them to local memory first (measured: Concat, Transpose and PadV2
// ran at ~30 GB/s on an H100, 1-2% of its bandwidth).
template <typename I>
__device__ __forceinline__ void stridedOffsets(I i, const Dims& shape, const Dims& a, const Dims& b, I& ia, I& ib) {
  I rem = i;
  ia = 0;
  ib = 0;
#pragma unroll
  for (int k = kMaxRank - 1; k >= 0; --k) {
    if (k >= shape.rank) continue;
    I c = rem % (I)shape.shape[k];
    rem /= (I)shape.shape[k];
    ia += c * (I)a.stride[k];
    ib += c * (I)b.stride[k];
  }
}

}  // namespace tfjs_delta
