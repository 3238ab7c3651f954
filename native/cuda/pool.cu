// Pooling kernel family: MaxPool / AvgPool in 2-D (NHWC, d = 1) and 3-D (NDHWC). One thread per output element,
// channels innermost so a warp reads consecutive channels. Average pooling divides by the number of in-bounds
// window elements, as tfjs (padding excluded).
#include "common.h"
#include "storage.cuh"

namespace tfjs_delta {
namespace {

constexpr int kThreads = 256;

template <typename T, typename I>
__global__ void poolKernel(bool isMax, const T* __restrict__ x, T* __restrict__ y, PoolParams p, I total) {
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < total; i += (I)gridDim.x * blockDim.x) {
    I c = i % (I)p.c, rem = i / (I)p.c;
    int64_t ox = rem % (I)p.ow;
    rem /= (I)p.ow;
    int64_t oy = rem % (I)p.oh;
    rem /= (I)p.oh;
    int64_t oz = rem % (I)p.od, b = rem / (I)p.od;
    const int64_t z0 = oz * p.sd - p.pf, y0 = oy * p.sh - p.pt, x0 = ox * p.sw - p.pl;
    const T* xb = x + b * p.d * p.h * p.w * p.c + c;
    float acc = isMax ? -INFINITY : 0.f;
    int count = 0;
    for (int kz = 0; kz < p.kd; ++kz) {
      int64_t z = z0 + kz * p.dd;
      if (z < 0 || z >= p.d) continue;
      for (int ky = 0; ky < p.kh; ++ky) {
        int64_t yy = y0 + ky * p.dh;
        if (yy < 0 || yy >= p.h) continue;
        for (int kx = 0; kx < p.kw; ++kx) {
          int64_t xx = x0 + kx * p.dw;
          if (xx < 0 || xx >= p.w) continue;
          float v = toFloat(xb[((z * p.h + yy) * p.w + xx) * p.c]);
          if (isMax) {
            if (v > acc) acc = v;  // as tfjs-backend-cpu: a NaN never wins the window
          } else {
            acc += v;
          }
          ++count;
        }
      }
    }
    y[i] = fromFloat<T>(isMax ? acc : acc / (float)count);
  }
}

}  // namespace

void launchPool(cudaStream_t s, bool isMax, const void* x, void* y, const PoolParams& p, bool half) {
  int64_t total = p.n * p.od * p.oh * p.ow * p.c;
  if (total == 0) return;
  const bool fits = total < kIndex32Limit && p.n * p.d * p.h * p.w * p.c < kIndex32Limit;
  const int grid = gridFor(total, kThreads);
  TD_STORAGE_DISPATCH(
      half, TD_INDEX_DISPATCH(fits, poolKernel<T, I><<<grid, kThreads, 0, s>>>(isMax, (const T*)x, (T*)y, p, total)));
  TD_LAUNCHED("pool");
}

}  // namespace tfjs_delta
