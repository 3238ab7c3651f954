// Pixel lists: a cheap pass compacts a layer's active pixels into a list with a device-side count, and the kernel
// that does the per-pixel work then runs its pixel groups (pixel_group.cuh) over that list on a fixed grid (as many
// blocks as the GPU holds at once, so that a captured CUDA graph replays it unchanged), looping while the count has
// pixels. An inactive pixel so costs one lane of the list pass (its mask byte read, its output mask byte written),
// where a launch over every pixel spends a whole pixel group, its scheduling and a group reduction on it; an active
// pixel keeps the full parallelism of the pixel groups. The list's order is whatever the atomics give: every
// pixel's result is computed on its own, so the order changes nothing.
// Scratch layout (int32s): [count][list: pixels][payload: pixels, when the list carries one per pixel].
#pragma once

#include <cstdint>

#include "common.h"

namespace tfjs_delta {

constexpr unsigned kFullWarp = 0xffffffffu;
constexpr int kListThreads = 256;

// Appends this lane's pixel (and its payload, where `payloads` is non-null) when `active`: one atomicAdd per warp.
// Every lane of the warp calls it.
__device__ __forceinline__ void appendPixel(bool active, int pixel, unsigned payload, int* __restrict__ list,
                                            unsigned* __restrict__ payloads, int* __restrict__ count) {
  const unsigned ballot = __ballot_sync(kFullWarp, active);
  if (ballot == 0) return;
  const int lane = threadIdx.x & 31, leader = __ffs(ballot) - 1;
  int base = 0;
  if (lane == leader) base = atomicAdd(count, __popc(ballot));
  base = __shfl_sync(kFullWarp, base, leader);
  if (active) {
    const int slot = base + __popc(ballot & ((1u << lane) - 1u));
    list[slot] = pixel;
    if (payloads != nullptr) payloads[slot] = payload;
  }
}

// A list's count without a memset before its producer (default; counters null under TFJS_DELTA_CUDA_LIST_COUNTERS=0:
// the producer appends to *count, zeroed before it). The producer's blocks append to counters[0], which is zero when
// the grid starts; each of `blocks` blocks calls this once after its last append, and the last to arrive publishes the
// total to *count and zeroes both counters for the next producer on the stream (kernels on one stream never overlap: a
// dependent launch waits for its predecessor before any memory access). The consumer reads *count as before. Every
// thread of the block calls it (a barrier).
__device__ __forceinline__ void publishListCount(int* counters, int* count, unsigned blocks) {
  if (counters == nullptr) return;
  __syncthreads();  // the block's appends have returned (appendPixel uses each atomic's result)
  if (threadIdx.x == 0) {
    __threadfence();
    if (atomicAdd(reinterpret_cast<unsigned*>(counters + 1), 1u) == blocks - 1) {
      __threadfence();  // acquire: every block's appends before the total is read
      *count = atomicExch(counters, 0);
      atomicExch(counters + 1, 0);
    }
  }
}

// Where a producer's appends count: the stream's counter with counters, else the list's count itself.
__device__ __forceinline__ int* appendCount(int* counters, int* count) {
  return counters != nullptr ? counters : count;
}

// Starts a list's count before its producer's launch: the stream's counters where the context uses them (returned, for
// the producer to publish), else a memset of *count (null returned).
inline int* startListCount(cudaStream_t s, int* count, const char* where) {
  int* const counters = listCounters();
  if (counters == nullptr) TD_CUDA(where, cudaMemsetAsync(count, 0, sizeof(int), s));
  return counters;
}

// A producer's grid over `items` with counters: at most the blocks of 256 threads the GPU holds at once (its loop
// strides over the rest), so that the last-block count stays a few thousand atomics.
inline int producerGrid(int64_t items, int perBlock, bool counters) {
  const int need = gridFor(items, perBlock), full = multiProcessors() * 8;
  return counters && need > full ? full : need;
}

// The fixed grid of a list's consumer: blocks of `threads` that take `perBlock` pixels each, as many as the pixels
// need and at most what every multiprocessor holds at once.
inline int listGrid(int64_t pixels, int perBlock, int threads) {
  const int full = multiProcessors() * (2048 / threads);
  const int need = gridFor(pixels, perBlock);
  return need < full ? need : full;
}

}  // namespace tfjs_delta
