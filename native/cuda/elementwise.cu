// Elementwise kernel family: unary activations, broadcasting binary ops, fused bias + activation,
// batch norm (inference), cast, fill, softmax. All memory-bound: grid-stride loops, one pass each.
#include "common.h"
#include "broadcast.cuh"
#include "storage.cuh"
#include "unary_op.cuh"

#include <type_traits>
#include "launch.cuh"

namespace tfjs_delta {
namespace {

constexpr int kThreads = 256;

inline int blocksFor(int64_t n) { return gridFor(n, kThreads); }

template <typename T>
__global__ void unaryKernel(int op, const T* __restrict__ x, T* __restrict__ y, int64_t n, float alpha) {
  dependentLaunchPrologue();
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = fromFloat<T>(unaryOp(op, toFloat(x[i]), alpha));
}

__global__ void unaryHalf8(int op, const uint4* __restrict__ x, uint4* __restrict__ y, int64_t n8, float alpha) {
  dependentLaunchPrologue();
  mapHalf8(x, y, n8, [=](int64_t, float v) { return unaryOp(op, v, alpha); });
}

template <typename T>
__device__ __forceinline__ T binaryOp(int op, T a, T b) {
  switch (op) {
    case B_ADD: return a + b;
    case B_SUB: return a - b;
    case B_MUL: return a * b;
    case B_DIV: return a / b;
    case B_MAX: return a > b ? a : b;
    case B_MIN: return a < b ? a : b;
    case B_SQDIFF: return (a - b) * (a - b);
    case B_POW: return static_cast<T>(powf(static_cast<float>(a), static_cast<float>(b)));
    case B_PRELU: return a < 0 ? a * b : a;
  }
  return a;
}
template <>
__device__ __forceinline__ float binaryOp<float>(int op, float a, float b) {
  switch (op) {
    case B_ADD: return a + b;
    case B_SUB: return a - b;
    case B_MUL: return a * b;
    case B_DIV: return a / b;
    case B_MAX: return (a > b || isnan(a)) ? a : b;
    case B_MIN: return (a < b || isnan(a)) ? a : b;
    case B_SQDIFF: return (a - b) * (a - b);
    case B_POW: return powf(a, b);
    case B_PRELU: return a < 0.f ? a * b : a;
  }
  return a;
}
template <>
__device__ __forceinline__ __half binaryOp<__half>(int op, __half a, __half b) {
  return __float2half_rn(binaryOp<float>(op, __half2float(a), __half2float(b)));
}

template <typename T>
__global__ void binaryFlat(int op, const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ o, int64_t n,
                           int aScalar, int bScalar) {
  dependentLaunchPrologue();
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    o[i] = binaryOp<T>(op, a[aScalar ? 0 : i], b[bScalar ? 0 : i]);
}

__global__ void binaryHalf8(int op, const uint4* __restrict__ a, const uint4* __restrict__ b, uint4* __restrict__ o,
                            int64_t n8) {
  dependentLaunchPrologue();
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n8; i += (int64_t)gridDim.x * blockDim.x) {
    Half8 x, y;
    x.v = a[i];
    y.v = b[i];
#pragma unroll
    for (int j = 0; j < 8; ++j) x.h[j] = binaryOp<__half>(op, x.h[j], y.h[j]);
    o[i] = x.v;
  }
}

// b broadcast along the last dimension only (a bias-like [.., C] + [C]).
template <typename T, typename I>
__global__ void binaryInner(int op, const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ o, I n, I inner,
                            int swap) {
  dependentLaunchPrologue();
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    T av = a[i], bv = b[i % inner];
    o[i] = swap ? binaryOp<T>(op, bv, av) : binaryOp<T>(op, av, bv);
  }
}

template <typename T, typename I>
__global__ void binaryBroadcast(int op, const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ o, Dims ad,
                                Dims bd, Dims od, I n) {
  dependentLaunchPrologue();
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    I ia, ib;
    stridedOffsets(i, od, ad, bd, ia, ib);
    o[i] = binaryOp<T>(op, a[ia], b[ib]);
  }
}

bool contiguous(const Dims& d, const Dims& o) {
  int64_t s = 1;
  for (int k = o.rank - 1; k >= 0; --k) {
    if (o.shape[k] != 1 && d.stride[k] != s) return false;
    s *= o.shape[k];
  }
  return true;
}
bool allZero(const Dims& d, const Dims& o) {
  for (int k = 0; k < o.rank; ++k)
    if (o.shape[k] != 1 && d.stride[k] != 0) return false;
  return true;
}
// d broadcasts only over the leading dims and is contiguous over the trailing `inner` elements.
bool innerOnly(const Dims& d, const Dims& o, int64_t* inner) {
  int k = o.rank - 1;
  int64_t s = 1;
  for (; k >= 0 && d.stride[k] != 0; --k) {
    if (o.shape[k] != 1 && d.stride[k] != s) return false;
    s *= o.shape[k];
  }
  for (; k >= 0; --k)
    if (o.shape[k] != 1 && d.stride[k] != 0) return false;
  *inner = s;
  return true;
}

template <typename T>
void binaryT(cudaStream_t s, int op, const T* a, const T* b, T* o, const Dims& ad, const Dims& bd, const Dims& od) {
  int64_t n = 1, inner = 0;
  for (int k = 0; k < od.rank; ++k) n *= od.shape[k];
  if (n == 0) return;
  bool ac = contiguous(ad, od), bc = contiguous(bd, od), az = allZero(ad, od), bz = allZero(bd, od);
  if constexpr (std::is_same<T, __half>::value) {
    if (ac && bc && half8Ok(n, a, b) && half8Ok(n, o, o)) {
      launchKernel(binaryHalf8, blocksFor(n / 8), kThreads, 0, s, op, (const uint4*)a, (const uint4*)b, (uint4*)o,
                   n / 8);
      TD_LAUNCHED("binary");
      return;
    }
  }
  if ((ac || az) && (bc || bz)) {
    launchKernel(binaryFlat<T>, blocksFor(n), kThreads, 0, s, op, a, b, o, n, az && !ac, bz && !bc);
  } else if (ac && innerOnly(bd, od, &inner)) {
    TD_INDEX_DISPATCH(n < kIndex32Limit,
                      launchKernel(binaryInner<T, I>, blocksFor(n), kThreads, 0, s, op, a, b, o, n, inner, 0));
  } else if (bc && innerOnly(ad, od, &inner)) {
    TD_INDEX_DISPATCH(n < kIndex32Limit,
                      launchKernel(binaryInner<T, I>, blocksFor(n), kThreads, 0, s, op, b, a, o, n, inner, 1));
  } else {  // operands are no larger than the output, so their offsets fit whenever n does
    TD_INDEX_DISPATCH(n < kIndex32Limit,
                      launchKernel(binaryBroadcast<T, I>, blocksFor(n), kThreads, 0, s, op, a, b, o, ad, bd, od, n));
  }
  TD_LAUNCHED("binary");
}

template <typename T, typename I>
__global__ void biasActKernel(T* __restrict__ y, I n, const float* __restrict__ bias, I biasLen, int act, float alpha,
                              const float* __restrict__ prelu, I preluLen) {
  dependentLaunchPrologue();
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    float v = toFloat(y[i]);
    if (bias) v += bias[i % biasLen];
    if (prelu)
      v = v < 0.f ? prelu[i % preluLen] * v : v;
    else
      v = unaryOp(act, v, alpha);
    y[i] = fromFloat<T>(v);
  }
}

template <typename I>
__global__ void biasActHalf8(uint4* __restrict__ y, I n8, const float* __restrict__ bias, I biasLen, int act,
                             float alpha, const float* __restrict__ prelu, I preluLen) {
  dependentLaunchPrologue();
  mapHalf8(y, y, n8, [=](I e, float f) {
    if (bias) f += bias[e % biasLen];
    return prelu ? (f < 0.f ? prelu[e % preluLen] * f : f) : unaryOp(act, f, alpha);
  });
}

template <typename T, typename I>
__global__ void batchNormKernel(const T* __restrict__ x, T* __restrict__ y, I n, const float* __restrict__ mean, I lm,
                                const float* __restrict__ var, I lv, const float* __restrict__ offset, I lo,
                                const float* __restrict__ scale, I ls, float eps) {
  dependentLaunchPrologue();
  const bool same = lm == lv && (!offset || lo == lm) && (!scale || ls == lm);  // the usual per-channel case
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    const I c = i % lm;
    float sc = scale ? scale[same ? c : i % ls] : 1.f, of = offset ? offset[same ? c : i % lo] : 0.f;
    y[i] = fromFloat<T>(of + (toFloat(x[i]) - mean[c]) * sc / sqrtf(var[same ? c : i % lv] + eps));
  }
}

template <typename S, typename D>
__global__ void castKernel(const S* __restrict__ x, D* __restrict__ y, int64_t n) {
  dependentLaunchPrologue();
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = static_cast<D>(x[i]);
}
template <typename S, typename D>
__global__ void castFloat(const S* __restrict__ x, D* __restrict__ y, int64_t n) {  // float <-> half
  dependentLaunchPrologue();
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = fromFloat<D>(toFloat(x[i]));
}
template <typename S>
__global__ void castToBool(const S* __restrict__ x, uint8_t* __restrict__ y, int64_t n) {
  dependentLaunchPrologue();
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = x[i] != 0 ? 1 : 0;
}
// float -> int32 as JS Int32Array.from: truncation toward zero, NaN -> 0.
__global__ void floatToInt(const float* __restrict__ x, int32_t* __restrict__ y, int64_t n) {
  dependentLaunchPrologue();
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float v = x[i];
    y[i] = isnan(v) ? 0 : static_cast<int32_t>(static_cast<long long>(truncf(v)));
  }
}

template <typename T>
__global__ void fillKernel(T* __restrict__ y, int64_t n, T v) {
  dependentLaunchPrologue();
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = v;
}

// One block per row; rows of a softmax are short in CNN heads, so a plain block reduction suffices.
__global__ void softmaxKernel(const float* __restrict__ x, float* __restrict__ y, int64_t cols) {
  dependentLaunchPrologue();
  __shared__ float red[kThreads];
  const float* xr = x + blockIdx.x * cols;
  float* yr = y + blockIdx.x * cols;
  float m = -INFINITY;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, xr[j]);
  red[threadIdx.x] = m;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w >>= 1) {
    if (threadIdx.x < w) red[threadIdx.x] = fmaxf(red[threadIdx.x], red[threadIdx.x + w]);
    __syncthreads();
  }
  m = red[0];
  __syncthreads();
  float sum = 0.f;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) sum += expf(xr[j] - m);
  red[threadIdx.x] = sum;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w >>= 1) {
    if (threadIdx.x < w) red[threadIdx.x] += red[threadIdx.x + w];
    __syncthreads();
  }
  sum = red[0];
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = expf(xr[j] - m) / sum;
}

}  // namespace

void launchUnary(cudaStream_t s, int op, const void* x, void* y, int64_t n, float alpha, bool half) {
  if (op < 0 || op >= U_COUNT) failArg("unary", "unknown unary op " + std::to_string(op));
  if (n == 0) return;
  if (half && half8Ok(n, x, y)) {
    launchKernel(unaryHalf8, blocksFor(n / 8), kThreads, 0, s, op, (const uint4*)x, (uint4*)y, n / 8, alpha);
    TD_LAUNCHED("unary");
    return;
  }
  TD_STORAGE_DISPATCH(half,
                      launchKernel(unaryKernel<T>, blocksFor(n), kThreads, 0, s, op, (const T*)x, (T*)y, n, alpha));
  TD_LAUNCHED("unary");
}

void launchBinary(cudaStream_t s, int op, int dtype, const void* a, const void* b, void* out, const Dims& ad,
                  const Dims& bd, const Dims& od) {
  if (op < 0 || op >= B_COUNT) failArg("binary", "unknown binary op " + std::to_string(op));
  if (dtype == DT_FLOAT32)
    binaryT<float>(s, op, (const float*)a, (const float*)b, (float*)out, ad, bd, od);
  else if (dtype == DT_FLOAT16)
    binaryT<__half>(s, op, (const __half*)a, (const __half*)b, (__half*)out, ad, bd, od);
  else if (dtype == DT_INT32)
    binaryT<int32_t>(s, op, (const int32_t*)a, (const int32_t*)b, (int32_t*)out, ad, bd, od);
  else
    failArg("binary", "dtype must be float32, float16 or int32");
}

void launchBiasAct(cudaStream_t s, void* y, int64_t n, const float* bias, int64_t biasLen, int act, float alpha,
                   const float* prelu, int64_t preluLen, bool half) {
  if (act < 0 || act >= U_COUNT) failArg("biasAct", "unknown activation " + std::to_string(act));
  if (n == 0) return;
  if (half && half8Ok(n, y, y)) {
    TD_INDEX_DISPATCH(n < kIndex32Limit, launchKernel(biasActHalf8<I>, blocksFor(n / 8), kThreads, 0, s, (uint4*)y,
                                                      n / 8, bias, biasLen, act, alpha, prelu, preluLen));
    TD_LAUNCHED("biasAct");
    return;
  }
  TD_STORAGE_DISPATCH(
      half, TD_INDEX_DISPATCH(n < kIndex32Limit, launchKernel(biasActKernel<T, I>, blocksFor(n), kThreads, 0, s, (T*)y,
                                                              n, bias, biasLen, act, alpha, prelu, preluLen)));
  TD_LAUNCHED("biasAct");
}

void launchBatchNorm(cudaStream_t s, const void* x, void* y, int64_t n, const float* mean, int64_t lm, const float* var,
                     int64_t lv, const float* offset, int64_t lo, const float* scale, int64_t ls, float eps,
                     bool half) {
  if (n == 0) return;
  TD_STORAGE_DISPATCH(
      half, TD_INDEX_DISPATCH(n < kIndex32Limit,
                              launchKernel(batchNormKernel<T, I>, blocksFor(n), kThreads, 0, s, (const T*)x, (T*)y, n,
                                           mean, lm, var, lv, offset, lo, scale, ls, eps)));
  TD_LAUNCHED("batchNorm");
}

void launchCast(cudaStream_t s, const void* x, int src, void* y, int dst, int64_t n) {
  if (n == 0) return;
  int g = blocksFor(n);
  if (src == DT_FLOAT32 && dst == DT_INT32)
    launchKernel(floatToInt, g, kThreads, 0, s, (const float*)x, (int32_t*)y, n);
  else if (src == DT_INT32 && dst == DT_FLOAT32)
    launchKernel(castKernel<int32_t, float>, g, kThreads, 0, s, (const int32_t*)x, (float*)y, n);
  else if (src == DT_BOOL && dst == DT_FLOAT32)
    launchKernel(castKernel<uint8_t, float>, g, kThreads, 0, s, (const uint8_t*)x, (float*)y, n);
  else if (src == DT_BOOL && dst == DT_INT32)
    launchKernel(castKernel<uint8_t, int32_t>, g, kThreads, 0, s, (const uint8_t*)x, (int32_t*)y, n);
  else if (src == DT_FLOAT32 && dst == DT_FLOAT16)
    launchKernel(castFloat<float, __half>, g, kThreads, 0, s, (const float*)x, (__half*)y, n);
  else if (src == DT_FLOAT16 && dst == DT_FLOAT32)
    launchKernel(castFloat<__half, float>, g, kThreads, 0, s, (const __half*)x, (float*)y, n);
  else if (src == DT_FLOAT32 && dst == DT_BOOL)
    launchKernel(castToBool<float>, g, kThreads, 0, s, (const float*)x, (uint8_t*)y, n);
  else if (src == DT_INT32 && dst == DT_BOOL)
    launchKernel(castToBool<int32_t>, g, kThreads, 0, s, (const int32_t*)x, (uint8_t*)y, n);
  else
    failArg("cast", "unsupported cast " + std::to_string(src) + " -> " + std::to_string(dst));
  TD_LAUNCHED("cast");
}

void launchFill(cudaStream_t s, void* y, int dtype, int64_t n, double value) {
  if (n == 0) return;
  int g = blocksFor(n);
  if (dtype == DT_FLOAT32)
    launchKernel(fillKernel<float>, g, kThreads, 0, s, (float*)y, n, (float)value);
  else if (dtype == DT_FLOAT16)
    launchKernel(fillKernel<__half>, g, kThreads, 0, s, (__half*)y, n, __float2half_rn((float)value));
  else if (dtype == DT_INT32)
    launchKernel(fillKernel<int32_t>, g, kThreads, 0, s, (int32_t*)y, n, (int32_t)value);
  else if (dtype == DT_BOOL)
    launchKernel(fillKernel<uint8_t>, g, kThreads, 0, s, (uint8_t*)y, n, value != 0 ? 1 : 0);
  else
    failArg("fill", "unsupported dtype " + std::to_string(dtype));
  TD_LAUNCHED("fill");
}

void launchSoftmax(cudaStream_t s, const float* x, float* y, int64_t rows, int64_t cols) {
  if (rows == 0 || cols == 0) return;
  if (rows > 0x7fffffff) failArg("softmax", "too many rows");
  launchKernel(softmaxKernel, (unsigned)rows, kThreads, 0, s, x, y, cols);
  TD_LAUNCHED("softmax");
}

}  // namespace tfjs_delta
