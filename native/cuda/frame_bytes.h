// Video frames between packed 8-bit bytes (four to an int32 element, as tfjs carries them) and float or half
// tensors: the conversions the video pipeline runs on the GPU so that only bytes cross PCIe.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace tfjs_delta {

// y[i] = x[i] * scale for i < n; x holds n bytes (ceil(n / 4) words), y is float32, or half when `half`.
void launchFramesFromBytes(cudaStream_t s, const uint8_t* x, void* y, int64_t n, float scale, bool half);
// y[i] = clamp(round(x[i] * scale), 0, 255) for i < n (half away from zero; NaN gives 0), 0 for the bytes up to the
// next multiple of 4; x is float32, or half when `half`.
void launchFramesToBytes(cudaStream_t s, const void* x, uint8_t* y, int64_t n, float scale, bool half);

}  // namespace tfjs_delta
