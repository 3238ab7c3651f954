// Offsets of output element i in two strided operands (strides 0 on broadcast dimensions), for the
// element-wise, comparison and strided-copy kernels. Device code: include from .cu files only.
#pragma once
#include "common.h"

namespace tfjs_delta {

template <typename I>
__device__ __forceinline__ void stridedOffsets(I i, const Dims& shape, const Dims& a, const Dims& b, I& ia, I& ib) {
  I rem = i;
  ia = 0;
  ib = 0;
  for (int k = shape.rank - 1; k >= 0; --k) {
    I c = rem % (I)shape.shape[k];
    rem /= (I)shape.shape[k];
    ia += c * (I)a.stride[k];
    ib += c * (I)b.stride[k];
  }
}

}  // namespace tfjs_delta
