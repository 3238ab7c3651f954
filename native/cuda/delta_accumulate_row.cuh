// The truncating accumulator's arithmetic on one pixel's vector of VEC channels, shared by the kernels that run it
// (sparseAccumulate's, and the tiled conv's accumulating epilogue): s = r + d and A + s in float32, the emitted
// change f(A') - f(A) as the 'cpu' reference rounds it, the flush test on its largest magnitude over the pixel's
// channels. kFloat: the activation change in float32 (activationExactInFloat; the same bits). S: the state's storage
// (float, or __half: the rule of ops/sparse_accumulate.ts, where a flush keeps what the stored A lost, sum - A', in R;
// in float32 that is 0).
#pragma once
#include "delta_activation.cuh"
#include "delta_state.cuh"
#include "storage.cuh"
#include "vec.cuh"

namespace tfjs_delta {

template <int VEC, typename S, bool kFloat>
struct AccumulateRow {
  Vec<VEC> a, r, d;
  __device__ __forceinline__ void load(const S* pa, const S* pr, const float* pd, int64_t e) {
    a = loadStored<VEC>(pa + e), r = loadStored<VEC>(pr + e), d = loadVec<VEC>(pd + e);
  }
  __device__ __forceinline__ float largest(int act, double alpha) const {
    float m = 0.f;
#pragma unroll
    for (int i = 0; i < VEC; ++i) {
      const float s = r.v[i] + d.v[i], next = storedSum<S>(a.v[i] + s);
      m = fmaxf(m, fabsf(activationChange<kFloat>(act, next, a.v[i], alpha)));
    }
    return m;
  }
  __device__ __forceinline__ void write(float* outD, S* outA, S* outR, int64_t e, bool flush, bool inPlace,
                                        bool writeZeros, int act, double alpha) const {
    Vec<VEC> out, nextA, nextR;
#pragma unroll
    for (int i = 0; i < VEC; ++i) {
      const float s = r.v[i] + d.v[i], sum = a.v[i] + s, next = storedSum<S>(sum);
      out.v[i] = flush ? activationChange<kFloat>(act, next, a.v[i], alpha) : 0.f;
      nextA.v[i] = flush ? next : a.v[i];
      nextR.v[i] = flush ? sum - next : s;
    }
    if (flush || writeZeros) storeVec<VEC>(outD + e, out);
    if (flush || !inPlace) storeStored<VEC>(outA + e, nextA);  // in place, an unflushed pixel keeps its A as is
    storeStored<VEC>(outR + e, nextR);
  }
};

}  // namespace tfjs_delta
