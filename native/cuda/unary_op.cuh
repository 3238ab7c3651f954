// The unary activations and maps of the elementwise family (UnaryOp), for kernels that apply one in an epilogue.
#pragma once
#include "common.h"

namespace tfjs_delta {

// Semantics follow tfjs-backend-cpu (NaN handling included: comparisons, not fmaxf).
__device__ __forceinline__ float unaryOp(int op, float x, float alpha) {
  switch (op) {
    case U_LINEAR: return x;
    case U_RELU: return x < 0.f ? 0.f : x;
    case U_RELU6: return x < 0.f ? 0.f : (x > 6.f ? 6.f : x);
    case U_LEAKYRELU: return x < 0.f ? alpha * x : x;
    case U_SIGMOID: return 1.f / (1.f + expf(-x));
    case U_TANH: return tanhf(x);
    case U_ELU: return x >= 0.f ? x : expf(x) - 1.f;
    case U_EXP: return expf(x);
    case U_NEG: return -x;
    case U_ABS: return fabsf(x);
    case U_SQRT: return sqrtf(x);
    case U_RSQRT: return rsqrtf(x);
    case U_SQUARE: return x * x;
    case U_LOG: return logf(x);
    case U_FLOOR: return floorf(x);
    case U_CEIL: return ceilf(x);
    case U_RECIPROCAL: return 1.f / x;
    case U_SELU: {
      const float scaleAlpha = 1.7580993408473768599402175208123f, scale = 1.0507009873554804934193349852946f;
      return x >= 0.f ? scale * x : scaleAlpha * (expf(x) - 1.f);
    }
    case U_SOFTPLUS: return x > 15.f ? x : log1pf(expf(x));
    case U_ROUND: return rintf(x);  // banker's rounding, as tf.round
    case U_SIGN: return x > 0.f ? 1.f : (x < 0.f ? -1.f : 0.f);
    case U_STEP: return x > 0.f ? 1.f : alpha;  // tf.step(x, alpha)
  }
  return x;
}

__host__ __device__ inline bool hasEpilogue(const ConvEpilogue& ep) { return ep.bias != nullptr || ep.act != U_LINEAR; }
__device__ __forceinline__ float applyEpilogue(const ConvEpilogue& ep, float v, int channel) {
  if (ep.bias != nullptr) v += ep.bias[channel];
  return unaryOp(ep.act, v, ep.alpha);
}

}  // namespace tfjs_delta
