// Data-movement kernel family: strided copies (Slice, Transpose, Concat), padding (PadV2, MirrorPad) and
// image resizing (ResizeNearestNeighbor, ResizeBilinear). Indices follow tfjs-backend-cpu exactly.
#include <cstring>

#include "common.h"
#include "broadcast.cuh"
#include "storage.cuh"
#include "launch.cuh"

namespace tfjs_delta {
namespace {

constexpr int kThreads = 256;
inline int blocksFor(int64_t n) { return gridFor(n, kThreads); }
int64_t sizeOf(const Dims& d) {
  int64_t n = 1;
  for (int k = 0; k < d.rank; ++k) n *= d.shape[k];
  return n;
}

template <typename T, typename I>
__global__ void stridedCopyKernel(const T* __restrict__ src, Dims sd, T* __restrict__ dst, Dims dd, I n) {
  dependentLaunchPrologue();
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    I is, id;
    stridedOffsets(i, sd, sd, dd, is, id);
    dst[id] = src[is];
  }
}

template <typename T, typename I>
__global__ void padKernel(const T* __restrict__ x, Dims in, T* __restrict__ y, Dims out, Dims before, int mode, T value,
                          I n) {
  dependentLaunchPrologue();
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    I rem = i;
    int64_t ix = 0;
    bool inside = true;
#pragma unroll
    for (int k = kMaxRank - 1; k >= 0; --k) {  // constant indices: see stridedOffsets
      if (k >= out.rank) continue;
      int64_t c = (int64_t)(rem % (I)out.shape[k]) - before.shape[k];
      rem /= (I)out.shape[k];
      const int64_t len = in.shape[k];
      if (c < 0 || c >= len) {
        if (mode == 0) {
          inside = false;
          continue;
        }
        const int64_t off = mode == 1 ? 0 : 1;  // reflect : symmetric (tfjs MirrorPad)
        c = c < 0 ? -c - off : 2 * (len - 1) - c + off;
      }
      ix += c * in.stride[k];
    }
    y[i] = inside ? x[ix] : value;
  }
}

__global__ void resizeKernel(bool bilinear, const float* __restrict__ x, float* __restrict__ y, int64_t n, int64_t h,
                             int64_t w, int64_t c, int64_t oh, int64_t ow, double rowRatio, double colRatio,
                             bool alignCorners, bool halfPixel) {
  dependentLaunchPrologue();
  const int64_t total = n * oh * ow * c;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t ch = i % c, rem = i / c;
    int64_t col = rem % ow;
    rem /= ow;
    int64_t row = rem % oh, b = rem / oh;
    const float* xb = x + b * h * w * c;
    if (bilinear) {
      double fr = halfPixel ? rowRatio * (row + 0.5) - 0.5 : rowRatio * row;
      double fc = halfPixel ? colRatio * (col + 0.5) - 0.5 : colRatio * col;
      int64_t r0 = max((int64_t)0, (int64_t)floor(fr)), c0 = max((int64_t)0, (int64_t)floor(fc));
      int64_t r1 = min(h - 1, (int64_t)ceil(fr)), c1 = min(w - 1, (int64_t)ceil(fc));
      float rf = (float)(fr - r0), cf = (float)(fc - c0);
      float tl = xb[(r0 * w + c0) * c + ch], tr = xb[(r0 * w + c1) * c + ch];
      float bl = xb[(r1 * w + c0) * c + ch], br = xb[(r1 * w + c1) * c + ch];
      float top = tl + (tr - tl) * cf, bot = bl + (br - bl) * cf;
      y[i] = top + (bot - top) * rf;
    } else {
      double fr = halfPixel ? rowRatio * (row + 0.5) : rowRatio * row;
      double fc = halfPixel ? colRatio * (col + 0.5) : colRatio * col;
      // Math.round rounds halves up: floor(v + 0.5)
      int64_t r = min(h - 1, (int64_t)(alignCorners ? floor(fr + 0.5) : floor(fr)));
      int64_t cc = min(w - 1, (int64_t)(alignCorners ? floor(fc + 0.5) : floor(fc)));
      if (halfPixel) {
        r = max((int64_t)0, r);
        cc = max((int64_t)0, cc);
      }
      y[i] = xb[(r * w + cc) * c + ch];
    }
  }
}

// A copy whose innermost dimension is contiguous on both sides, in units of `wide` bytes (16 or 8): one vector load
// and store per thread instead of one per element (FLAVR's channel concats, transposes and sub-pixel interleave
// move 2-byte halves in runs of 64-512 channels). False (d untouched) when sizes, strides, offsets or pointers do
// not divide.
bool widen(int elemBytes, int wide, const void* src, int64_t& srcOffset, Dims& sd, void* dst, int64_t& dstOffset,
           Dims& dd) {
  const int r = sd.rank - 1, f = wide / elemBytes;
  if (r < 0 || f <= 1 || sd.stride[r] != 1 || dd.stride[r] != 1 || sd.shape[r] % f || srcOffset % f || dstOffset % f ||
      (uintptr_t)src % wide || (uintptr_t)dst % wide)
    return false;
  for (int k = 0; k < r; ++k)
    if (sd.stride[k] % f || dd.stride[k] % f) return false;
  for (int k = 0; k < r; ++k) sd.stride[k] /= f, dd.stride[k] /= f;
  sd.shape[r] /= f;
  dd.shape[r] = sd.shape[r];
  srcOffset /= f;
  dstOffset /= f;
  return true;
}

template <typename T>
void stridedCopyAs(cudaStream_t s, const void* src, int64_t srcOffset, const Dims& sd, void* dst, int64_t dstOffset,
                   const Dims& dd) {
  int64_t n = sizeOf(sd);
  int64_t maxS = 0, maxD = 0;  // largest element offsets either side
  for (int k = 0; k < sd.rank; ++k) {
    maxS += (sd.shape[k] - 1) * sd.stride[k];
    maxD += (dd.shape[k] - 1) * dd.stride[k];
  }
  const bool fits = n < kIndex32Limit && maxS < kIndex32Limit && maxD < kIndex32Limit;
  TD_INDEX_DISPATCH(fits, launchKernel(stridedCopyKernel<T, I>, blocksFor(n), kThreads, 0, s, (const T*)src + srcOffset,
                                       sd, (T*)dst + dstOffset, dd, n));
}

}  // namespace

void launchStridedCopy(cudaStream_t s, int elemBytes, const void* src, int64_t srcOffset, const Dims& srcD, void* dst,
                       int64_t dstOffset, const Dims& dstD) {
  if (sizeOf(srcD) == 0) return;
  if (elemBytes != 1 && elemBytes != 2 && elemBytes != 4)
    failArg("stridedCopy", "element size must be 1, 2 or 4 bytes");
  Dims sd = srcD, dd = dstD;
  if (widen(elemBytes, 16, src, srcOffset, sd, dst, dstOffset, dd))
    stridedCopyAs<uint4>(s, src, srcOffset, sd, dst, dstOffset, dd);
  else if (widen(elemBytes, 8, src, srcOffset, sd, dst, dstOffset, dd))
    stridedCopyAs<uint2>(s, src, srcOffset, sd, dst, dstOffset, dd);
  else if (elemBytes == 4)
    stridedCopyAs<int32_t>(s, src, srcOffset, sd, dst, dstOffset, dd);
  else if (elemBytes == 2)
    stridedCopyAs<uint16_t>(s, src, srcOffset, sd, dst, dstOffset, dd);
  else
    stridedCopyAs<uint8_t>(s, src, srcOffset, sd, dst, dstOffset, dd);
  TD_LAUNCHED("stridedCopy");
}

// Copies of the element at `elem` (elemBytes each) filling a W.
template <typename W>
W repeated(const void* elem, int elemBytes) {
  W w;
  for (size_t i = 0; i < sizeof(W); i += elemBytes) std::memcpy(reinterpret_cast<char*>(&w) + i, elem, elemBytes);
  return w;
}

void launchPad(cudaStream_t s, int dtype, const void* x, const Dims& inD, void* y, const Dims& outD,
               const int64_t* before, int mode, double value) {
  int64_t n = sizeOf(outD);
  if (n == 0) return;
  Dims b{}, in = inD, out = outD;
  b.rank = out.rank;
  for (int k = 0; k < out.rank; ++k) b.shape[k] = before[k];
  const int r = out.rank - 1;
  const int elemBytes = dtype == DT_BOOL ? 1 : dtype == DT_FLOAT16 ? 2 : 4;
  // Channels not padded (NHWC spatial padding): move 16-byte runs of them, as the strided copies do.
  if (r >= 0 && before[r] == 0 && in.shape[r] == out.shape[r] && (in.shape[r] * elemBytes) % 16 == 0 &&
      (uintptr_t)x % 16 == 0 && (uintptr_t)y % 16 == 0) {
    const int f = 16 / elemBytes;
    if (dtype < DT_FLOAT32 || dtype > DT_FLOAT16) failArg("pad", "unsupported dtype " + std::to_string(dtype));
    float f32 = (float)value;
    int32_t i32 = (int32_t)value;
    uint8_t u8 = value != 0;
    __half f16 = __float2half_rn((float)value);
    const void* elem = dtype == DT_FLOAT32 ? (const void*)&f32
                       : dtype == DT_INT32 ? (const void*)&i32
                       : dtype == DT_BOOL  ? (const void*)&u8
                                           : (const void*)&f16;
    in.shape[r] /= f;
    out.shape[r] /= f;
    for (int k = 0; k < r; ++k) in.stride[k] /= f;  // contiguous: every outer stride is a multiple of the channels
    n /= f;
    TD_INDEX_DISPATCH(n < kIndex32Limit,
                      launchKernel(padKernel<uint4, I>, blocksFor(n), kThreads, 0, s, (const uint4*)x, in, (uint4*)y,
                                   out, b, mode, repeated<uint4>(elem, elemBytes), n));
    TD_LAUNCHED("pad");
    return;
  }
  const bool fits = n < kIndex32Limit;  // the input is no larger than the output
  if (dtype == DT_FLOAT32)
    TD_INDEX_DISPATCH(fits, launchKernel(padKernel<float, I>, blocksFor(n), kThreads, 0, s, (const float*)x, in,
                                         (float*)y, out, b, mode, (float)value, n));
  else if (dtype == DT_FLOAT16)
    TD_INDEX_DISPATCH(fits, launchKernel(padKernel<__half, I>, blocksFor(n), kThreads, 0, s, (const __half*)x, in,
                                         (__half*)y, out, b, mode, __float2half_rn((float)value), n));
  else if (dtype == DT_INT32)
    TD_INDEX_DISPATCH(fits, launchKernel(padKernel<int32_t, I>, blocksFor(n), kThreads, 0, s, (const int32_t*)x, in,
                                         (int32_t*)y, out, b, mode, (int32_t)value, n));
  else if (dtype == DT_BOOL)
    TD_INDEX_DISPATCH(fits, launchKernel(padKernel<uint8_t, I>, blocksFor(n), kThreads, 0, s, (const uint8_t*)x, in,
                                         (uint8_t*)y, out, b, mode, (uint8_t)(value != 0), n));
  else
    failArg("pad", "unsupported dtype " + std::to_string(dtype));
  TD_LAUNCHED("pad");
}

void launchResize(cudaStream_t s, bool bilinear, const float* x, float* y, int64_t n, int64_t h, int64_t w, int64_t c,
                  int64_t oh, int64_t ow, bool alignCorners, bool halfPixelCenters) {
  int64_t total = n * oh * ow * c;
  if (total == 0) return;
  double effInH = (alignCorners && oh > 1) ? h - 1 : h, effInW = (alignCorners && ow > 1) ? w - 1 : w;
  double effOutH = (alignCorners && oh > 1) ? oh - 1 : oh, effOutW = (alignCorners && ow > 1) ? ow - 1 : ow;
  launchKernel(resizeKernel, blocksFor(total), kThreads, 0, s, bilinear, x, y, n, h, w, c, oh, ow, effInH / effOutH,
               effInW / effOutW, alignCorners, halfPixelCenters);
  TD_LAUNCHED("resize");
}

}  // namespace tfjs_delta
