// Stateful element-wise delta kernels: sparseAccumulate (the truncating accumulator: input sparsify, delta
// activation, densify), deltaSparsify (the input sparsify with a dilated change test) and deltaMaxPool. Semantics are
// those of src/kernels/cpu/{SparseAccumulate,DeltaSparsify,DeltaMaxPool}.ts, including their float32 roundings
// (s = r + d and A + s in float32, f(new) - f(old) evaluated in double and rounded to float32, the flush test
// `max_c |emitted| > threshold` on the rounded values).
#include <type_traits>

#include "delta.h"
#include "delta_accumulate_row.cuh"
#include "delta_activation.cuh"
#include "delta_state.cuh"
#include "pixel_group.cuh"
#include "pixel_list.cuh"
#include "storage.cuh"
#include "vec.cuh"
#include "launch.cuh"
#include "mma_tf32.cuh"

namespace tfjs_delta {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

inline int blocksFor(int64_t n, int perBlock) { return gridFor(n, perBlock); }

// A pixel group (pixel_group.cuh) per pixel, a lane per VEC channels: a 3-channel input does not leave 29 of 32
// lanes idle, and 512 channels are spread over 128 lanes instead of looping on 32. G: the group's width when at most
// a warp (compile-time), 0 for wider groups (`wide` lanes, whole warps; every thread of a block then runs the same
// iterations, as groupMax synchronises the block). An inactive pixel only carries its state over (when the state
// outputs are new buffers); an active one is evaluated twice: once for the flush decision (max over channels), once to
// write, the lane's first vector kept in registers between the two. In place (outA == a, outR == r; no __restrict__
// on them): each element is read before it is written, by the same lane. The arithmetic is AccumulateRow's
// (delta_accumulate_row.cuh). With a pixel list (pixel_list.cuh; `list` non-null) the groups take the listed pixels,
// all active, instead of every pixel.

template <int G, int VEC, typename S, bool kFloat>
__global__ void __launch_bounds__(kMaxGroupThreads)
    sparseAccumulateKernel(const S* a, const S* r, const float* __restrict__ d, const uint8_t* __restrict__ mask,
                           float* __restrict__ outD, S* outA, S* outR, uint8_t* __restrict__ outMask, int64_t pixels,
                           int channels, double threshold, int act, double alpha, bool writeZeros, int wide,
                           const int* __restrict__ list, const int* __restrict__ listCount) {
  dependentLaunchPrologue();
  __shared__ float warpMax[G > 0 ? 1 : kMaxGroupThreads / 32];
  const int group = G > 0 ? G : wide;
  const int lane = threadIdx.x % group, slots = blockDim.x / group, vecs = channels / VEC;
  const bool inPlace = outA == a && outR == r;  // the state is updated where it lies: inactive pixels cost nothing
  const Vec<VEC> zeros = {};
  const int64_t items = list != nullptr ? *listCount : pixels, stride = (int64_t)gridDim.x * slots;
  int64_t base = (int64_t)blockIdx.x * slots;
  // A listed pixel is loaded an iteration ahead, so that an iteration does not first wait on the list.
  int nextP = list != nullptr && base + threadIdx.x / group < items ? list[base + threadIdx.x / group] : 0;
  for (; base < items; base += stride) {
    const int64_t i = base + threadIdx.x / group;
    const bool valid = i < items, first = valid && lane < vecs;
    int64_t p = i;
    if (list != nullptr) {
      p = nextP;
      if (i + stride < items) nextP = list[i + stride];
    }
    const int64_t o = p * channels;
    const bool active = valid && (list != nullptr || mask == nullptr || mask[p]);
    AccumulateRow<VEC, S, kFloat> row;
    if (active && first) row.load(a, r, d, o + (int64_t)lane * VEC);
    if (valid && !active) {
      if (!inPlace || writeZeros) {
        for (int v = lane; v < vecs; v += group) {
          const int64_t e = o + (int64_t)v * VEC;
          if (!inPlace) {
            storeStored<VEC>(outA + e, loadStored<VEC>(a + e));
            storeStored<VEC>(outR + e, loadStored<VEC>(r + e));
          }
          if (writeZeros) storeVec<VEC>(outD + e, zeros);
        }
      }
      if (lane == 0) outMask[p] = 0;
    }
    float largest = 0.f;
    if (active && first) {
      largest = row.largest(act, alpha);
      for (int v = lane + group; v < vecs; v += group) {
        AccumulateRow<VEC, S, kFloat> more;
        more.load(a, r, d, o + (int64_t)v * VEC);
        largest = fmaxf(largest, more.largest(act, alpha));
      }
    }
    largest = groupMax(largest, group, warpMax);
    if (!active) continue;
    const bool flush = (double)largest > threshold;
    if (first) row.write(outD, outA, outR, o + (int64_t)lane * VEC, flush, inPlace, writeZeros, act, alpha);
    for (int v = lane + group; v < vecs; v += group) {
      AccumulateRow<VEC, S, kFloat> more;
      more.load(a, r, d, o + (int64_t)v * VEC);
      more.write(outD, outA, outR, o + (int64_t)v * VEC, flush, inPlace, writeZeros, act, alpha);
    }
    if (lane == 0) outMask[p] = flush ? 1 : 0;
  }
}

// The listed accumulator on wide pixels (float4 lanes, a whole-warp group) with its loads staged: each lane copies
// its vector of A, R and d for the pixel kStages - 1 items ahead into shared memory (cp.async), so that a block has
// kStages pixels in flight while it reduces, decides and writes the current one. The kernel above holds one pixel a
// group in registers and waits on it every iteration: at 62 registers and half occupancy that left the wide layers
// at a third to two thirds of the DRAM bandwidth. A block is one group; a lane reads back only what it copied itself,
// so the copies need no barrier of their own (groupMax's are the only ones). The state is in place and the zeros
// lazy (what a list implies); the arithmetic is AccumulateRow's, so the results are the kernel above's bit for bit.
template <typename S, bool kFloat, int kStages>
__global__ void __launch_bounds__(kMaxGroupThreads)
    sparseAccumulateStagedKernel(S* a, S* r, const float* __restrict__ d, float* __restrict__ outD,
                                 uint8_t* __restrict__ outMask, int channels, double threshold, int act, double alpha,
                                 const int* __restrict__ list, const int* __restrict__ listCount) {
  dependentLaunchPrologue();
  extern __shared__ __align__(16) unsigned char stages[];
  __shared__ float warpMax[kMaxGroupThreads / 32];
  constexpr int kStateBytes = 4 * (int)sizeof(S);  // a lane's vector of A or R
  const int lane = threadIdx.x, vecs = channels / 4;
  const bool mine = lane < vecs;
  // A stage: A (channels S), R (channels S), d (channels float); the lane's three vectors at these offsets.
  const int stageBytes = channels * (2 * (int)sizeof(S) + 4);
  const int offA = lane * kStateBytes, offR = channels * (int)sizeof(S) + offA,
            offD = 2 * channels * (int)sizeof(S) + lane * 16;
  const int items = *listCount, step = gridDim.x;
  // A lane's four state elements: 16 bytes of float32 (L1 bypassed: read once), 8 of half.
  const auto copyState = [](unsigned char* dst, const S* src) {
    if constexpr (sizeof(S) == 4)
      copy16(reinterpret_cast<float*>(dst), reinterpret_cast<const float*>(src), true);
    else
      copy8ca(dst, src, true);
  };
  // Copies item `it`'s vectors (pixel p, -1 past the list's end) into stage `k`, and commits them as one group.
  const auto issue = [&](int k, int p) {
    if (mine && p >= 0) {
      unsigned char* stage = stages + (size_t)k * stageBytes;
      const int64_t e = (int64_t)p * channels + lane * 4;
      copyState(stage + offA, a + e);
      copyState(stage + offR, r + e);
      copy16(reinterpret_cast<float*>(stage + offD), d + e, true);
    }
    commitCopies();
  };
  // ring: the pixels of the items issued and not yet decided, oldest first; next: the pixel of the next issue (the
  // list is read an issue ahead, so that an issue does not first wait on it).
  int ring[kStages - 1];
  int64_t it = blockIdx.x;
  int next = it < items ? list[it] : -1;
#pragma unroll
  for (int j = 0; j < kStages - 1; ++j) {
    ring[j] = next;
    issue(j, next);
    it += step;
    next = it < items ? list[it] : -1;
  }
  // The bound is the block's: every lane reaches groupMax's barriers.
  for (int64_t cur = blockIdx.x, i = 0; cur < items; cur += step, ++i) {
    const int p = ring[0];
#pragma unroll
    for (int j = 0; j + 1 < kStages - 1; ++j) ring[j] = ring[j + 1];
    ring[kStages - 2] = next;
    issue((int)((i + kStages - 1) % kStages), next);
    it += step;
    next = it < items ? list[it] : -1;
    waitCopies<kStages - 1>();  // this item's group has landed
    const unsigned char* stage = stages + (size_t)(i % kStages) * stageBytes;
    AccumulateRow<4, S, kFloat> row;
    float largest = 0.f;
    if (mine) {
      row.load(reinterpret_cast<const S*>(stage + offA), reinterpret_cast<const S*>(stage + offR),
               reinterpret_cast<const float*>(stage + offD), 0);
      largest = row.largest(act, alpha);
    }
    largest = groupMax(largest, blockDim.x, warpMax);
    const bool flush = (double)largest > threshold;
    if (mine) row.write(outD, a, r, (int64_t)p * channels + lane * 4, flush, true, false, act, alpha);
    if (lane == 0) outMask[p] = flush ? 1 : 0;
  }
  waitCopies<0>();  // no copy outlives the block
}

// sparseAccumulate's pixel list: a lane per pixel; an inactive pixel's output mask byte is written here.
__global__ void __launch_bounds__(kListThreads)
    accumulateListKernel(const uint8_t* __restrict__ mask, int pixels, int* __restrict__ list, int* __restrict__ count,
                         uint8_t* __restrict__ outMask, int* counters) {
  dependentLaunchPrologue();
  int* const tally = appendCount(counters, count);
  // The loop bound is uniform per warp (appendPixel's ballot); 64-bit steps, as a grid's stride can pass 2^31.
  for (int64_t base = (int64_t)blockIdx.x * kListThreads + (threadIdx.x & ~31); base < pixels;
       base += (int64_t)gridDim.x * kListThreads) {
    const int64_t i = base + (threadIdx.x & 31);
    const int p = i < pixels ? (int)i : 0;
    const bool active = i < pixels && mask[p] != 0;
    if (i < pixels && !active) outMask[p] = 0;
    appendPixel(active, p, 0, list, nullptr, tally);
  }
  publishListCount(counters, count, gridDim.x);
}

// deltaSparsify's write for one pixel, channels c0, c0 + step, ... below `channels` (o: its first element): a sent
// pixel's delta d = x - a and new state a + d; a held one's zeros where the delta is written whole, and its state
// copied where the state is not updated in place.
template <typename I>
__device__ __forceinline__ void sendPixel(const float* __restrict__ x, const float* a, float* __restrict__ outD,
                                          float* outA, I o, int c0, int step, int channels, bool send, bool inPlace,
                                          bool writeZeros) {
  for (int c = c0; c < channels; c += step) {
    const float av = a[o + c];
    if (send) {
      const float d = x[o + c] - av;
      outD[o + c] = d;
      outA[o + c] = av + d;
    } else {
      if (writeZeros) outD[o + c] = 0.f;
      if (!inPlace) outA[o + c] = av;
    }
  }
}

// deltaSparsify, a lane group of G lanes (at most a warp) per pixel. d = x - a; the pixel moved iff
// max_c |d| > threshold. Without dilation (`send`) the pixel is sent iff it moved, in this same pass and `moved` is
// the output mask; with dilation only the moved flags are written, and sparsifySendKernel sends.
// In place (outA == a): a sent pixel's state is read before it is written, by the same lane.
// I: the index type, 32 bits where the elements fit (the send kernel's row and column come from a division per pixel).
template <typename I, int G>
__global__ void sparsifyMovedKernel(const float* __restrict__ x, const float* a, uint8_t* __restrict__ moved,
                                    float* __restrict__ outD, float* outA, I pixels, int channels, double threshold,
                                    bool send, bool writeZeros) {
  dependentLaunchPrologue();
  constexpr int kPerWarp = 32 / G;
  const int lane = threadIdx.x % G;
  const I stride = (I)gridDim.x * kWarps * kPerWarp;
  const bool inPlace = outA == a;
  for (I base = ((I)blockIdx.x * kWarps + threadIdx.x / 32) * kPerWarp; base < pixels; base += stride) {
    const I p = base + (threadIdx.x % 32) / G;
    const bool valid = p < pixels;
    const I o = p * channels;
    float largest = 0.f;
    if (valid)
      for (int c = lane; c < channels; c += G) largest = fmaxf(largest, fabsf(x[o + c] - a[o + c]));
    for (int off = G / 2; off > 0; off >>= 1) largest = fmaxf(largest, __shfl_xor_sync(0xffffffffu, largest, off));
    if (!valid) continue;
    const bool hit = (double)largest > threshold;
    if (lane == 0) moved[p] = hit ? 1 : 0;
    if (!send || (!hit && inPlace && !writeZeros)) continue;  // an unsent pixel in place and lazy: nothing to write
    sendPixel(x, a, outD, outA, o, lane, G, channels, hit, inPlace, writeZeros);
  }
}

// rows[p] = OR of moved over the 2r+1 pixels of p's row centred on p (clipped at the row's ends).
template <typename I>
__global__ void dilateRowsKernel(const uint8_t* __restrict__ moved, uint8_t* __restrict__ rows, I n, int w, int r) {
  dependentLaunchPrologue();
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    const int x = (int)(i % w);
    const uint8_t* line = moved + (i - x);
    uint8_t any = 0;
    for (int xx = max(0, x - r); xx <= min(w - 1, x + r) && !any; ++xx) any = line[xx];
    rows[i] = any;
  }
}

// The dilated test's second half and the send: a pixel is sent iff some rows[] flag of its column within r rows
// (of its own image) is set. Lane groups per pixel as above.
template <typename I, int G>
__global__ void sparsifySendKernel(const float* __restrict__ x, const float* a, const uint8_t* __restrict__ rows,
                                   uint8_t* __restrict__ outMask, float* __restrict__ outD, float* outA, I pixels,
                                   int channels, int h, int w, int r, bool writeZeros) {
  dependentLaunchPrologue();
  constexpr int kPerWarp = 32 / G;
  const int lane = threadIdx.x % G;
  const I stride = (I)gridDim.x * kWarps * kPerWarp;
  const bool inPlace = outA == a;
  const I hw = (I)h * w;
  for (I base = ((I)blockIdx.x * kWarps + threadIdx.x / 32) * kPerWarp; base < pixels; base += stride) {
    const I p = base + (threadIdx.x % 32) / G;
    if (p >= pixels) continue;
    const int y = (int)((p % hw) / w);
    const uint8_t* column = rows + (p - (I)y * w);  // the pixel's column, at row 0 of its image
    bool send = false;
    for (int yy = max(0, y - r); yy <= min(h - 1, y + r) && !send; ++yy) send = column[(I)yy * w] != 0;
    if (lane == 0) outMask[p] = send ? 1 : 0;
    if (!send && inPlace && !writeZeros) continue;  // in place and lazy: an unsent pixel has nothing to write
    const I o = p * channels;
    sendPixel(x, a, outD, outA, o, lane, G, channels, send, inPlace, writeZeros);
  }
}

// The dilated test and the send in one pass, for frames of up to kTileChannels channels: a block per tile of TW x TH
// pixels of one image computes the moved flags of its tile and an r-pixel halo (outside the image: not moved) into
// shared memory, ORs them along rows and then along columns, and sends its own pixels. The halo's flags are computed
// twice (by this tile and its neighbour), a frame's few channels read again from L2, against the two launches and the
// flag buffers' round trips of sparsifyMoved / dilateRows / sparsifySend. The same decisions and arithmetic as those
// kernels. A wide tile reads a smaller share of halo (64 x 32 at r = 3: 1.30 flags a pixel, 32 x 8: 2.08) but makes
// an eighth of the blocks, so it is taken only where its grid still fills the GPU once.
constexpr int kTileChannels = 4, kTileThreads = 256;
constexpr int kNarrowTileW = 32, kNarrowTileH = 8, kWideTileW = 64, kWideTileH = 32;
// The halo's flags in shared memory: (TH + 2r) x (2 TW + 2r) bytes, within the 48 KiB default for the narrow tile at
// r = 80 and for the wide one at r = 32.
constexpr int kMaxNarrowTileRadius = 80, kMaxWideTileRadius = 32;
template <typename I, int TW, int TH>
__global__ void __launch_bounds__(kTileThreads)
    sparsifyTileKernel(const float* __restrict__ x, const float* a, uint8_t* __restrict__ outMask,
                       float* __restrict__ outD, float* outA, int h, int w, int channels, int r, double threshold,
                       bool writeZeros, int tilesW, int tiles) {
  dependentLaunchPrologue();
  extern __shared__ uint8_t tileFlags[];
  const int spanW = TW + 2 * r, spanH = TH + 2 * r;
  uint8_t* moved = tileFlags;                 // spanH x spanW
  uint8_t* rows = tileFlags + spanH * spanW;  // spanH x TW: OR over 2r + 1 columns
  const int b = blockIdx.x / tiles, tile = blockIdx.x % tiles;
  const int y0 = (tile / tilesW) * TH, x0 = (tile % tilesW) * TW;
  const I image = (I)b * h * w;
  const bool inPlace = outA == a;
  for (int i = threadIdx.x; i < spanH * spanW; i += kTileThreads) {
    const int y = y0 - r + i / spanW, xx = x0 - r + i % spanW;
    bool hit = false;
    if (y >= 0 && y < h && xx >= 0 && xx < w) {
      const I o = (image + (I)y * w + xx) * channels;
      float largest = 0.f;
      for (int c = 0; c < channels; ++c) largest = fmaxf(largest, fabsf(x[o + c] - a[o + c]));
      hit = (double)largest > threshold;
    }
    moved[i] = hit;
  }
  __syncthreads();
  for (int i = threadIdx.x; i < spanH * TW; i += kTileThreads) {
    const uint8_t* line = moved + (i / TW) * spanW + i % TW;
    uint8_t any = 0;
    for (int k = 0; k <= 2 * r && !any; ++k) any = line[k];
    rows[i] = any;
  }
  __syncthreads();
  for (int i = threadIdx.x; i < TW * TH; i += kTileThreads) {
    const int ty = i / TW, tx = i % TW, y = y0 + ty, xx = x0 + tx;
    if (y >= h || xx >= w) continue;
    bool send = false;
    for (int k = 0; k <= 2 * r && !send; ++k) send = rows[(ty + k) * TW + tx] != 0;
    const I p = image + (I)y * w + xx, o = p * channels;
    outMask[p] = send ? 1 : 0;
    if (!send && inPlace && !writeZeros) continue;  // in place and lazy: an unsent pixel has nothing to write
    sendPixel(x, a, outD, outA, o, 0, 1, channels, send, inPlace, writeZeros);
  }
}

template <int TW, int TH>
void launchSparsifyTiles(cudaStream_t s, const float* x, const float* a, float* outD, float* outA, uint8_t* outMask,
                         int64_t n, int64_t h, int64_t w, int c, int r, double threshold, bool writeZeros) {
  const int tilesW = (int)((w + TW - 1) / TW), tiles = tilesW * (int)((h + TH - 1) / TH);
  if ((int64_t)tiles * n >= INT32_MAX) failArg("deltaSparsify", "too many pixels for the dilated test");
  const size_t smem = (size_t)(TH + 2 * r) * (TW + 2 * r + TW);
  TD_INDEX_DISPATCH(n * h * w * c < kIndex32Limit, {
    launchKernel(sparsifyTileKernel<I, TW, TH>, (int)(tiles * n), kTileThreads, smem, s, x, a, outMask, outD, outA,
                 (int)h, (int)w, c, r, threshold, writeZeros, tilesW, tiles);
  });
  TD_LAUNCHED("deltaSparsify");
}

// accumulated' = A + delta at active pixels, A elsewhere (a lazily written delta may hold garbage there).
__global__ void maskedAddKernel(const float* __restrict__ a, const float* __restrict__ d,
                                const uint8_t* __restrict__ mask, float* __restrict__ out, int64_t n, int channels) {
  dependentLaunchPrologue();
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = (mask == nullptr || mask[i / channels]) ? a[i] + d[i] : a[i];
}

// One thread per output element; an output whose window holds no active input costs only its mask reads.
__global__ void deltaMaxPoolKernel(DeltaPoolParams p, const float* __restrict__ a, const float* __restrict__ d,
                                   const uint8_t* __restrict__ mask, float* __restrict__ outD,
                                   uint8_t* __restrict__ outMask, bool writeZeros) {
  dependentLaunchPrologue();
  const int64_t total = (int64_t)p.n * p.oh * p.ow * p.c;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int c = (int)(i % p.c);
    const int64_t pix = i / p.c;
    const int ox = (int)(pix % p.ow), oy = (int)((pix / p.ow) % p.oh), b = (int)(pix / ((int64_t)p.ow * p.oh));
    const int y0 = oy * p.sh - p.pt, x0 = ox * p.sw - p.pl;
    const int ya = max(y0, 0), yb = min(y0 + p.kh, p.h), xa = max(x0, 0), xb = min(x0 + p.kw, p.w);
    bool active = false;
    for (int yy = ya; yy < yb && !active; ++yy)
      for (int xx = xa; xx < xb; ++xx)
        if (mask == nullptr || mask[((int64_t)b * p.h + yy) * p.w + xx]) {
          active = true;
          break;
        }
    if (c == 0) outMask[pix] = active ? 1 : 0;
    if (!active) {
      if (writeZeros) outD[i] = 0.f;
      continue;
    }
    float maxNew = -INFINITY, maxOld = -INFINITY;
    for (int yy = ya; yy < yb; ++yy)
      for (int xx = xa; xx < xb; ++xx) {
        const int64_t q = ((int64_t)b * p.h + yy) * p.w + xx;
        const float av = a[q * p.c + c];
        const float nv = (mask == nullptr || mask[q]) ? av + d[q * p.c + c] : av;
        maxNew = nv > maxNew ? nv : maxNew;
        maxOld = av > maxOld ? av : maxOld;
      }
    outD[i] = (float)((double)maxNew - (double)maxOld);
  }
}

// Calls launch(std::integral_constant<int, G>) with the lane-group width G for `channels`: a power of two, at most a
// warp, with up to four channels a lane. An RGB frame takes a lane per pixel: a lane per channel left a warp 8 pixels,
// each lane repeating the pixel's flag and index work, and a quarter of the lanes idle.
template <typename Launch>
void withLaneGroup(int channels, Launch&& launch) {
  if (channels <= 4)
    launch(std::integral_constant<int, 1>{});
  else if (channels <= 8)
    launch(std::integral_constant<int, 2>{});
  else if (channels <= 16)
    launch(std::integral_constant<int, 4>{});
  else if (channels <= 32)
    launch(std::integral_constant<int, 8>{});
  else if (channels <= 64)
    launch(std::integral_constant<int, 16>{});
  else
    launch(std::integral_constant<int, 32>{});
}

}  // namespace

void launchAccumulateList(cudaStream_t s, const uint8_t* mask, int64_t pixels, int* scratch, uint8_t* outMask) {
  if (pixels >= kIndex32Limit) failArg("sparseAccumulate", "a pixel list needs fewer than 2^31 pixels");
  if (pixels == 0) {
    TD_CUDA("sparseAccumulate", cudaMemsetAsync(scratch, 0, sizeof(int), s));  // no producer: an empty list
    return;
  }
  int* const counters = startListCount(s, scratch, "sparseAccumulate");
  launchKernel(accumulateListKernel, producerGrid(pixels, kListThreads, counters != nullptr), kListThreads, 0, s, mask,
               (int)pixels, scratch + 1, scratch, outMask, counters);
  TD_LAUNCHED("sparseAccumulate");
}

namespace {

// The staged accumulator's pipeline depth, and the shared memory its stages may take (the default per-block limit:
// up to 1002 channels of float32 state, 1504 of half).
constexpr int kAccumulateStages = 4;
constexpr size_t kStagedSharedLimit = 47 * 1024;  // the 48 KiB default less the static shared memory, rounded

// TFJS_DELTA_CUDA_STAGED_ACCUMULATE=0: wide listed pixels on the register kernel instead (an A/B of the staging).
bool stagedAccumulate() {
  static const bool on = envFlag("TFJS_DELTA_CUDA_STAGED_ACCUMULATE", true);
  return on;
}

// The staged kernel over a ready pixel list, where it applies (float4 lanes of a wide group, its stages within
// kStagedSharedLimit, the knob on); false where it does not.
template <typename T>
bool launchStagedAccumulate(cudaStream_t s, T* a, T* r, const float* d, float* outD, uint8_t* outMask, int64_t pixels,
                            int c, double threshold, int act, double alpha, int* scratch) {
  const size_t smem = (size_t)kAccumulateStages * c * (2 * sizeof(T) + sizeof(float));
  const int threads = pixelGroupFor(c / 4, 1);
  if (c % 4 != 0 || threads <= 32 || smem > kStagedSharedLimit || !stagedAccumulate()) return false;
  const auto run = [&](auto kernel) {
    int perSM = 0;
    TD_CUDA("sparseAccumulate", cudaOccupancyMaxActiveBlocksPerMultiprocessor(&perSM, kernel, threads, smem));
    // TFJS_DELTA_CUDA_STAGED_ACCUMULATE_BLOCKS (read each launch; unset or 0: the resident count) caps the grid, so
    // that a test's few hundred pixels cycle each block through its stages many times.
    const int64_t cap = envInt("TFJS_DELTA_CUDA_STAGED_ACCUMULATE_BLOCKS", 0, 0, INT32_MAX);
    int64_t grid = (int64_t)(perSM > 0 ? perSM : 1) * multiProcessors();
    if (cap > 0 && cap < grid) grid = cap;
    launchKernel(kernel, (int)(grid < pixels ? grid : pixels), threads, smem, s, a, r, d, outD, outMask, c, threshold,
                 act, alpha, scratch + 1, scratch);
  };
  if (activationExactInFloat(act))
    run(sparseAccumulateStagedKernel<T, true, kAccumulateStages>);
  else
    run(sparseAccumulateStagedKernel<T, false, kAccumulateStages>);
  return true;
}

}  // namespace

bool launchSparseAccumulate(cudaStream_t s, const void* a, const void* r, const float* d, const uint8_t* mask,
                            float* outD, void* outA, void* outR, uint8_t* outMask, int64_t pixels, int64_t channels,
                            double threshold, int act, double alpha, bool writeZeros, bool halfState, int* scratch,
                            bool listReady) {
  if (pixels == 0 || channels == 0) return false;
  if (channels > (1 << 30)) failArg("sparseAccumulate", "too many channels");
  const int c = (int)channels;
  // A pixel list where an inactive pixel has nothing to do but its mask byte: a mask, the state in place, lazy zeros.
  const bool listed =
      scratch != nullptr && mask != nullptr && outA == a && outR == r && !writeZeros && pixels < kIndex32Limit;
  if (listed && !listReady) launchAccumulateList(s, mask, pixels, scratch, outMask);
  // VEC-element rows where the channels divide by 4 (a pixel group sized to them): a quarter of the loads and
  // stores. Tensor buffers start 256-byte aligned; the check keeps any other pointer on the scalar kernel.
  const auto bits = [](const void* p) { return reinterpret_cast<uintptr_t>(p); };
  const bool aligned = ((bits(a) | bits(r) | bits(d) | bits(outD) | bits(outA) | bits(outR)) & 15) == 0;
  TD_STORAGE_DISPATCH(halfState, {
    if (listed && aligned &&
        launchStagedAccumulate(s, static_cast<T*>(outA), static_cast<T*>(outR), d, outD, outMask, pixels, c, threshold,
                               act, alpha, scratch)) {
      TD_LAUNCHED("sparseAccumulate");
      return true;
    }
    const auto launch = [&](auto vec) {
      constexpr int kVec = decltype(vec)::value;
      const int vecs = c / kVec, group = pixelGroupFor(vecs, 1), threads = pixelGroupBlock(group, kThreads);
      const int grid = listed ? listGrid(pixels, threads / group, threads) : blocksFor(pixels, threads / group);
      const auto run = [&](auto kernel) {
        launchKernel(kernel, grid, threads, 0, s, static_cast<const T*>(a), static_cast<const T*>(r), d, mask, outD,
                     static_cast<T*>(outA), static_cast<T*>(outR), outMask, pixels, c, threshold, act, alpha,
                     writeZeros, group, listed ? scratch + 1 : nullptr, scratch);
      };
      withGroupWidth(group, [&](auto width) {
        constexpr int kG = decltype(width)::value;
        if (activationExactInFloat(act))
          run(sparseAccumulateKernel<kG, kVec, T, true>);
        else
          run(sparseAccumulateKernel<kG, kVec, T, false>);
      });
    };
    if (c % 4 == 0 && aligned)
      launch(std::integral_constant<int, 4>{});
    else
      launch(std::integral_constant<int, 1>{});
  });
  TD_LAUNCHED("sparseAccumulate");
  return listed;
}

void launchDeltaSparsify(cudaStream_t s, const float* x, const float* a, float* outD, float* outA, uint8_t* outMask,
                         uint8_t* rows, int64_t n, int64_t h, int64_t w, int64_t channels, double threshold,
                         int dilation, bool writeZeros) {
  const int64_t pixels = n * h * w;
  if (pixels == 0 || channels == 0) return;
  if (channels > (1 << 30) || h > (1 << 30) || w > (1 << 30)) failArg("deltaSparsify", "dimensions too large");
  if (dilation < 1 || dilation % 2 == 0) failArg("deltaSparsify", "dilation must be an odd integer >= 1");
  const int c = (int)channels, r = dilation / 2;
  const bool send = r == 0;
  if (!send && c <= kTileChannels && r <= kMaxNarrowTileRadius) {
    // The blocks the GPU holds at once (8 of kTileThreads a multiprocessor).
    const int64_t resident = (int64_t)multiProcessors() * (2048 / kTileThreads);
    const int64_t wideBlocks = n * ((h + kWideTileH - 1) / kWideTileH) * ((w + kWideTileW - 1) / kWideTileW);
    // TFJS_DELTA_CUDA_SPARSIFY_WIDE_TILES: 0 never, 1 wherever the radius fits (tests), unset where the grid fills the
    // GPU. Read at each launch: a test sets it mid-process.
    const int64_t wide = envInt("TFJS_DELTA_CUDA_SPARSIFY_WIDE_TILES", -1, 0, 1);
    if (r <= kMaxWideTileRadius && (wide == 1 || (wide == -1 && wideBlocks >= resident)))
      launchSparsifyTiles<kWideTileW, kWideTileH>(s, x, a, outD, outA, outMask, n, h, w, c, r, threshold, writeZeros);
    else
      launchSparsifyTiles<kNarrowTileW, kNarrowTileH>(s, x, a, outD, outA, outMask, n, h, w, c, r, threshold,
                                                      writeZeros);
    return;
  }
  if (!send && rows == nullptr) failArg("deltaSparsify", "a dilated test needs a row buffer");
  TD_INDEX_DISPATCH(pixels * channels < kIndex32Limit, {
    withLaneGroup(c, [&](auto lanes) {
      constexpr int kLanes = decltype(lanes)::value;
      launchKernel(sparsifyMovedKernel<I, kLanes>, blocksFor(pixels, kThreads / kLanes), kThreads, 0, s, x, a, outMask,
                   outD, outA, (I)pixels, c, threshold, send, writeZeros);
    });
    TD_LAUNCHED("deltaSparsify");
    if (send) return;
    launchKernel(dilateRowsKernel<I>, blocksFor(pixels, kThreads), kThreads, 0, s, outMask, rows, (I)pixels, (int)w, r);
    TD_LAUNCHED("deltaSparsify");
    withLaneGroup(c, [&](auto lanes) {
      constexpr int kLanes = decltype(lanes)::value;
      launchKernel(sparsifySendKernel<I, kLanes>, blocksFor(pixels, kThreads / kLanes), kThreads, 0, s, x, a, rows,
                   outMask, outD, outA, (I)pixels, c, (int)h, (int)w, r, writeZeros);
    });
    TD_LAUNCHED("deltaSparsify");
  });
}

void launchDeltaMaxPool(cudaStream_t s, const DeltaPoolParams& p, const float* a, const float* d, const uint8_t* mask,
                        float* outD, float* outA, uint8_t* outMask, bool writeZeros) {
  const int64_t n = (int64_t)p.n * p.h * p.w * p.c;
  if (n > 0) {
    launchKernel(maskedAddKernel, blocksFor(n, kThreads), kThreads, 0, s, a, d, mask, outA, n, p.c);
    TD_LAUNCHED("deltaMaxPool");
  }
  const int64_t total = (int64_t)p.n * p.oh * p.ow * p.c;
  if (total > 0) {
    launchKernel(deltaMaxPoolKernel, blocksFor(total, kThreads), kThreads, 0, s, p, a, d, mask, outD, outMask,
                 writeZeros);
    TD_LAUNCHED("deltaMaxPool");
  }
}

}  // namespace tfjs_delta
