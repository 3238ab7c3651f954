// The activations of the truncating accumulator, evaluated in double as the 'cpu' reference kernel does (its
// f(new) - f(old) is taken in double and rounded to float32).
#pragma once
#include "common.h"

namespace tfjs_delta {

__device__ __forceinline__ double deltaActivate(int act, double v, double alpha) {
  switch (act) {
    case U_RELU: return v > 0 ? v : 0;
    case U_RELU6: return v < 0 ? 0 : (v > 6 ? 6 : v);
    case U_LEAKYRELU: return v > 0 ? v : alpha * v;
    case U_SIGMOID: return 1.0 / (1.0 + exp(-v));
    case U_TANH: return tanh(v);
  }
  return v;  // linear
}

}  // namespace tfjs_delta
