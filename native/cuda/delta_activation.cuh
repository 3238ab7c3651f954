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

// Linear, ReLU and ReLU6: f is exact on a float32, so f(new) - f(old) evaluated in float32 has the bits of the
// reference's double evaluation rounded to float32. A float32 subtraction is the correctly rounded difference; the
// double one is exact where the operands' exponents are within 29 of each other (one rounding, the same), and
// otherwise the smaller operand is under 1/64 of the larger's float32 ulp, so both round to the larger.
inline bool activationExactInFloat(int act) { return act == U_LINEAR || act == U_RELU || act == U_RELU6; }

// f(next) - f(old) as the reference rounds it: in float32 for kFloat (activationExactInFloat: fewer registers and no
// double conversions), else in double, then rounded.
template <bool kFloat>
__device__ __forceinline__ float activationChange(int act, float next, float old, double alpha) {
  if constexpr (kFloat) {
    const auto f = [act](float v) {
      if (act == U_RELU) return v > 0.f ? v : 0.f;
      if (act == U_RELU6) return v < 0.f ? 0.f : (v > 6.f ? 6.f : v);
      return v;
    };
    return f(next) - f(old);
  } else {
    return (float)(deltaActivate(act, next, alpha) - deltaActivate(act, old, alpha));
  }
}

}  // namespace tfjs_delta
