// VEC consecutive floats loaded or stored as one access: float4 for VEC == 4 (the address 16-byte aligned: a
// tensor buffer is 256-byte aligned, so a row of channels % 4 == 0 floats starts aligned), else one at a time.
#pragma once
#include <cstdint>

namespace tfjs_delta {

// Whether rows of `channels` floats in these buffers can move as float4 (host side, before choosing a kernel).
template <typename... P>
inline bool float4Rows(int64_t channels, const P*... buffers) {
  return channels % 4 == 0 && ((reinterpret_cast<uintptr_t>(buffers) % 16 == 0) && ...);
}

template <int VEC>
struct Vec {
  float v[VEC];
};

template <int VEC>
__device__ __forceinline__ Vec<VEC> loadVec(const float* p) {
  Vec<VEC> out;
  if constexpr (VEC == 4) {
    const float4 t = *reinterpret_cast<const float4*>(p);
    out.v[0] = t.x, out.v[1] = t.y, out.v[2] = t.z, out.v[3] = t.w;
  } else {
#pragma unroll
    for (int i = 0; i < VEC; ++i) out.v[i] = p[i];
  }
  return out;
}

template <int VEC>
__device__ __forceinline__ void storeVec(float* p, const Vec<VEC>& x) {
  if constexpr (VEC == 4) {
    *reinterpret_cast<float4*>(p) = make_float4(x.v[0], x.v[1], x.v[2], x.v[3]);
  } else {
#pragma unroll
    for (int i = 0; i < VEC; ++i) p[i] = x.v[i];
  }
}

}  // namespace tfjs_delta
