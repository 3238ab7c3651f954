// Pixel groups: `group` threads own one pixel, a lane per VEC channels, each lane up to V vectors. Up to a warp a
// group is a power-of-two slice of one warp (32 / group pixels a warp); wider groups are whole warps, as many as the
// vectors need (a pixel of 576 channels takes 160 threads, not 256), so that a pixel of 512 channels is spread over
// 128 threads instead of looping over them on 32 (on small grids that loop, not memory, bounds a launch). Blocks
// hold whole groups, and every thread of a block runs the same iterations: groupMax may synchronise it.
#pragma once
#include <type_traits>

namespace tfjs_delta {

constexpr int kMaxGroupThreads = 512;

// The group width for `lanes` lanes of work per pixel at most `perLane` a lane: the power of two >= lanes / perLane up
// to a warp, whole warps above it, at most kMaxGroupThreads; and the block size: whole groups, at least `minBlock`
// threads where that fits in kMaxGroupThreads (else as many whole groups as fit).
inline int pixelGroupFor(int lanes, int perLane) {
  const int need = (lanes + perLane - 1) / perLane;
  if (need > 32) return need >= kMaxGroupThreads ? kMaxGroupThreads : (need + 31) / 32 * 32;
  int g = 1;
  while (g < need) g *= 2;
  return g;
}
inline int pixelGroupBlock(int group, int minBlock) {
  const int groups = (minBlock + group - 1) / group;
  return groups > 1 && groups * group > kMaxGroupThreads ? group * (kMaxGroupThreads / group) : groups * group;
}

// Calls f(std::integral_constant<int, G>) with G = `group` where it is at most a warp (1, 2, ..., 32), else G = 0
// (a wide group, whose width the kernel takes at run time).
template <typename F>
void withGroupWidth(int group, F&& f) {
  using std::integral_constant;
  switch (group) {
    case 1: return f(integral_constant<int, 1>{});
    case 2: return f(integral_constant<int, 2>{});
    case 4: return f(integral_constant<int, 4>{});
    case 8: return f(integral_constant<int, 8>{});
    case 16: return f(integral_constant<int, 16>{});
    case 32: return f(integral_constant<int, 32>{});
    default: return f(integral_constant<int, 0>{});
  }
}

// The max of v over the thread's group. Called by every thread of the block (with groups wider than a warp it
// synchronises the block through `warpMax`, blockDim.x / 32 floats of shared memory).
__device__ __forceinline__ float groupMax(float v, int group, float* warpMax) {
  const int width = group < 32 ? group : 32;
  for (int off = width / 2; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
  if (group <= 32) return v;
  const int warp = threadIdx.x / 32, warps = group / 32, first = warp / warps * warps;
  __syncthreads();  // the previous iteration's maxima have been read
  if (threadIdx.x % 32 == 0) warpMax[warp] = v;
  __syncthreads();
  float out = warpMax[first];
  for (int i = 1; i < warps; ++i) out = fmaxf(out, warpMax[first + i]);
  return out;
}

}  // namespace tfjs_delta
