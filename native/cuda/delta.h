// Launchers of the delta kernel families: per-pixel masks (uint8, one flag per pixel shared by all
// channels) kept on the GPU beside NHWC data. Launchers take a stream and never synchronise.
//   delta_mask.cu        comparisons, logical ops, select, tile, any/all, clip (what mask bookkeeping needs),
//                        and the lazy zeroing of inactive pixels
//   delta_accumulate.cu  sparseAccumulate (truncating accumulator), deltaSparsify (input sparsify), deltaMaxPool
//   delta_conv.cu        direct delta convolutions (regular, depthwise, transposed) and output masks
//   delta_conv_tc.cu     the tiled delta convolutions for regular convs (TF32 mma.sync / WMMA, strict-fp32 FFMA)
//   delta_gated.cu       the SE gate of conv3dGated
//   delta_companion.cu   delta batch-norm scale and residual add, at active pixels only
//   delta_fused.cu       fused delta blocks on pixel groups: a depthwise or small regular delta conv with
//                        sparseAccumulate as its epilogue
//   delta_pointwise.cu   the pointwise delta block: a 1x1 delta conv over a work list of active pixels, with
//                        sparseAccumulate as its epilogue
#pragma once
#include "common.h"

namespace tfjs_delta {

// ---- delta_mask.cu ----
enum CompareOp {
  C_GREATER = 0,
  C_GREATER_EQUAL,
  C_LESS,
  C_LESS_EQUAL,
  C_EQUAL,
  C_NOT_EQUAL,
  C_AND,
  C_OR,
  C_NOT,
  C_COUNT
};
// out (uint8) = a (op) b with broadcasting (strides 0 on broadcast dims); dtype of a and b: DType.
void launchCompare(cudaStream_t s, int op, int dtype, const void* a, const void* b, uint8_t* out, const Dims& a_,
                   const Dims& b_, const Dims& o);
// out[i] = cond[i / condInner] ? a[i] : b[i]; elemBytes 1 or 4.
void launchSelect(cudaStream_t s, int elemBytes, const uint8_t* cond, int64_t condInner, const void* a, const void* b,
                  void* out, int64_t n);
// out (shape o) = x (shape in) repeated: out[i] = x[coord_k % in.shape[k]].
void launchTile(cudaStream_t s, int elemBytes, const void* x, const Dims& in, void* out, const Dims& o);
// bool reduction of x viewed as [outer, r, inner] over r.
void launchAnyAll(cudaStream_t s, bool isAll, const uint8_t* x, uint8_t* y, int64_t outer, int64_t r, int64_t inner);
void launchClip(cudaStream_t s, const float* x, float* y, int64_t n, float lo, float hi);
// x[p * channels + c] = 0 wherever mask[p] == 0 (materialises a lazily written delta tensor).
void launchZeroInactive(cudaStream_t s, float* x, const uint8_t* mask, int64_t pixels, int64_t channels);
// Benchmarks: one thread busy for `microseconds` on the stream, so that work queued after it runs back to back.
void launchBusyWait(cudaStream_t s, double microseconds);

// ---- delta_accumulate.cu ----
// act: UnaryOp codes U_LINEAR, U_RELU, U_RELU6, U_LEAKYRELU, U_SIGMOID, U_TANH. mask may be null (dense delta).
// Inactive pixels copy a/r to outA/outR (nothing when outA == a and outR == r: in place); outD there is written
// (zeros) only when writeZeros. The state (a, r, outA, outR) is float32, or IEEE half with halfState (the half-state
// rule of src/ops/sparse_accumulate.ts). scratch (1 + pixels int32s, or null): the active pixels go through a pixel
// list (pixel_list.cuh) where that applies (a mask, in place, lazy zeros); the results are the same either way.
// Returns whether the list ran. listReady: scratch already holds the list of the pixels set in mask and outMask
// the zeros of the others (written by the conv that produced d, launchDeltaConv's AccumulateList), so the list pass
// is skipped where the list applies.
bool launchSparseAccumulate(cudaStream_t s, const void* a, const void* r, const float* d, const uint8_t* mask,
                            float* outD, void* outA, void* outR, uint8_t* outMask, int64_t pixels, int64_t channels,
                            double threshold, int act, double alpha, bool writeZeros, bool halfState, int* scratch,
                            bool listReady);
// sparseAccumulate's list pass: scratch = [count][the pixels set in mask], outMask zero at the others.
void launchAccumulateList(cudaStream_t s, const uint8_t* mask, int64_t pixels, int* scratch, uint8_t* outMask);
// NHWC [n, h, w, channels]: d = x - a; sent where max_c |d| > threshold holds somewhere in the dilation x dilation
// window (odd; clipped at the image); there outD = d and outA = a + d, elsewhere outA = a (nothing when outA == a)
// and outD zeros only when writeZeros. outMask: the sent pixels. rows: n*h*w bytes of scratch (dilation > 1 only).
void launchDeltaSparsify(cudaStream_t s, const float* x, const float* a, float* outD, float* outA, uint8_t* outMask,
                         uint8_t* rows, int64_t n, int64_t h, int64_t w, int64_t channels, double threshold,
                         int dilation, bool writeZeros);
struct DeltaPoolParams {
  int n, h, w, c, oh, ow, kh, kw, sh, sw, pt, pl;
};
void launchDeltaMaxPool(cudaStream_t s, const DeltaPoolParams& p, const float* a, const float* d, const uint8_t* mask,
                        float* outD, float* outA, uint8_t* outMask, bool writeZeros);

// ---- delta_companion.cu ----
// y = x * scale[channel] at active pixels (mask null: every pixel); inactive pixels of y are written (zeros) only
// when writeZeros.
void launchDeltaScale(cudaStream_t s, const float* x, const uint8_t* mask, const float* scale, float* y, int64_t pixels,
                      int64_t channels, bool writeZeros);
// y = a + b, each input counted only at its active pixels (a null mask: dense); outMask (null when either input is
// dense, the output then being dense) = ma | mb; inactive outputs written (zeros) only when writeZeros.
void launchDeltaAdd(cudaStream_t s, const float* a, const uint8_t* ma, const float* b, const uint8_t* mb, float* y,
                    uint8_t* outMask, int64_t pixels, int64_t channels, bool writeZeros);

// Zero padding of H and W: outMask = mask (all active when null) padded with inactive pixels; y at inactive pixels
// written (zeros) only when writeZeros.
struct DeltaPadParams {
  int n, h, w, c, oh, ow, top, left;
};
void launchDeltaPad(cudaStream_t s, const DeltaPadParams& q, const float* x, const uint8_t* mask, float* y,
                    uint8_t* outMask, bool writeZeros);

// ---- delta_conv.cu / delta_conv_tc.cu ----
enum DeltaConvMode { DC_REGULAR = 0, DC_DEPTHWISE = 1, DC_TRANSPOSED = 2 };
struct DeltaConvParams {
  int mode;
  int n, h, w, c;  // input NHWC
  int oh, ow, co;  // output
  int kh, kw, sh, sw, dh, dw, pt, pl;
  int mult;  // depthwise channel multiplier
};
// Regular / depthwise: output (oy, ox) reads input (oy*sh - pt + ky*dh, ox*sw - pl + kx*dw).
// Transposed: input (iy, ix) reaches output (iy*sh - pt + ky, ix*sw - pl + kx).
// Filter: regular [kh, kw, c, co]; depthwise [kh, kw, c, mult]; transposed [kh, kw, c, co] (already transposed
// from tfjs's [kh, kw, co, c]). mask null: dense input. ep: y = act(conv + bias) at every output written; with a bias
// every output is written (a dense result); an activation other than linear needs a bias or a dense input (a masked
// delta's inactive outputs are zeros, not act(0)). A regular conv with an epilogue and a dense input runs the tiled
// kernels (writeZeros: outputs whose receptive field lies outside the image get act(bias) too), a masked one with a
// bias the direct kernel. outMask null: no output mask. packed: the filter from launchPackFilterTf32 (regular convs,
// with a bias only on a dense input; null otherwise), read by the mma kernel; the other kernels read w. mmaPartial: the
// mma kernel takes output channel counts that are multiples of 4 but not of 32 too (its last channel block part empty).
// Returns which kernel ran: DC_RAN_CUDA_CORES, DC_RAN_WMMA (TF32 tensor cores, WMMA) or DC_RAN_MMA (TF32 tensor cores,
// mma.sync). acc (scratch non-null, with outMask): the list of the sparseAccumulate that follows
// (launchSparseAccumulate's listReady) is written too: scratch = [count][the active output pixels], acc.outMask zero at
// the inactive ones. The tiled kernels append their tiles' active pixels as they derive them; otherwise a list pass
// over outMask follows. tiles (scratch non-null: tileListInts(p) int32s, contents ignored): where the tiled kernel
// would launch more than `waves` times the blocks the GPU holds at once, with a mask and lazy zeros, a pass lists the
// active tiles (and writes the output masks of the others) and the kernel runs a fixed grid over that list
// (DC_TILE_LIST is then set in the result), so an inactive tile costs a warp of the pass instead of a block's turn.
enum DeltaConvKernel { DC_RAN_CUDA_CORES = 0, DC_RAN_WMMA = 1, DC_RAN_MMA = 2, DC_TILE_LIST = 8 };
struct AccumulateList {
  int* scratch;
  uint8_t* outMask;
  int* counters = nullptr;  // set by the tiled launch where its kernel publishes the count (publishListCount)
};
struct TileList {
  int* scratch;
  int waves;
};
int64_t tileListInts(const DeltaConvParams& p);
int launchDeltaConv(cudaStream_t s, const DeltaConvParams& p, const float* x, const uint8_t* mask, const float* w,
                    const ConvEpilogue& ep, const float* packed, float* y, uint8_t* outMask, bool writeZeros,
                    bool allowTF32, bool mmaPartial, AccumulateList acc, TileList tiles);
// Only the output mask (OR over each output's in-bounds receptive field; mask null = all input active).
void launchDeltaConvMask(cudaStream_t s, const DeltaConvParams& p, const uint8_t* mask, uint8_t* outMask);
// Throws (failArg, naming `where`) on an invalid geometry or a batch above 65535 (a grid's z).
void checkDeltaConvGeometry(const DeltaConvParams& p, const char* where);
// delta_conv_tc.cu, the tiled kernel (regular convs; an epilogue only on a dense input, mask null): tensor cores with
// tf32, else FFMA on the same tiles.
// 0 when the shape does not suit it (then nothing was launched), DC_RAN_MMA when the mma kernel ran, DC_RAN_WMMA when
// the tiled WMMA kernel did (its FFMA variant when tf32 is false). packed: the packed TF32 filter
// (launchPackFilterTf32) or null (the mma kernel then stages and rounds the plain filter). mmaPartial, acc: as
// launchDeltaConv, with acc.scratch's count zeroed by the caller; tiles as launchDeltaConv (DC_TILE_LIST set in the
// result when the list ran).
int launchDeltaConvTC(cudaStream_t s, const DeltaConvParams& p, const float* x, const uint8_t* mask, const float* w,
                      const ConvEpilogue& ep, const float* packed, float* y, uint8_t* outMask, bool writeZeros,
                      bool tf32, bool mmaPartial, AccumulateList acc, TileList tiles);
// A 1x1 regular delta conv then sparseAccumulate in place on a and r (output-shaped), as one tiled kernel (the mma
// kernel's sums, the accumulator as its epilogue; the same results as launchDeltaConvTC and launchSparseAccumulate in
// turn, where those run the mma kernel). Where convMmaAccumulateFits: TF32, c >= 16 and c % 4 == 0, 16 <= co <= 256
// and co % 32 == 0 (co % 4 == 0 with mmaPartial and the plain filter), an activation exact in float32 (linear, relu,
// relu6), the mma kernel's stages within its shared-memory cap and, with the [128 x co] tile, within what a block
// may take (at stride 1: co up to 256 over c <= 32, up to 192-224 over more). packed, mmaPartial, tiles: as
// launchDeltaConvTC. a and r: float32, or IEEE half with halfState. outD is written at flushed pixels (and zeros
// elsewhere when writeZeros), outMask at every output pixel. Returns DC_RAN_MMA, with DC_TILE_LIST where it ran over a
// tile list.
bool convMmaAccumulateFits(const DeltaConvParams& p, bool packed, bool mmaPartial, bool tf32, int act);
int launchConvMmaAccumulate(cudaStream_t s, const DeltaConvParams& p, const float* x, const uint8_t* mask,
                            const float* w, const float* packed, void* a, void* r, float* outD, uint8_t* outMask,
                            double threshold, int act, double alpha, bool writeZeros, bool halfState, bool tf32,
                            bool mmaPartial, TileList tiles);
// A regular conv's filter [kh, kw, c, co] (co % 32 == 0) as its TF32 copy in the layout of the mma kernel
// (packedFilterTf32Floats floats), built once per filter; only kh, kw, c, co are read.
int64_t packedFilterTf32Floats(const DeltaConvParams& p);
void launchPackFilterTf32(cudaStream_t s, const DeltaConvParams& p, const float* w, float* out);

// ---- delta_fused.cu ----
// A delta conv then sparseAccumulate in place on a and r (output-shaped), in one launch on pixel groups: depthwise
// convs (filter [kh, kw, c, 1]) and regular convs of a small reduction (filter [kh, kw, c, co]: 3x3 over 3 input
// channels, or 1x1 over 16, 24 or 32; co <= 512; float32 sums). outD is written at flushed pixels (and zeros
// elsewhere when writeZeros), outMask at every output pixel. mask null: dense input. a and r: float32, or IEEE half
// with halfState (the half-state rule). scratch (1 + 2 x output pixels int32s, or null): the output pixels with an
// active tap go through a pixel list (pixel_list.cuh) where the input has a mask (with writeZeros, after a memset of
// outD); the results are the same either way. Returns whether the list ran.
bool convAccumulateFits(const DeltaConvParams& p);
bool launchConvAccumulate(cudaStream_t s, const DeltaConvParams& p, const float* x, const uint8_t* mask, const float* w,
                          void* a, void* r, float* outD, uint8_t* outMask, double threshold, int act, double alpha,
                          bool writeZeros, bool halfState, int* scratch);

// ---- delta_pointwise.cu ----
// A 1x1, stride-1, unpadded regular delta conv (packed TF32 filter from launchPackFilterTf32, c % 4 == 0,
// co % 32 == 0) then sparseAccumulate in place on a and r (output-shaped), over a compacted list of the active
// input pixels (mask null: every pixel). outD is written at flushed pixels (and zeros elsewhere when writeZeros),
// outMask at every pixel. scratch: pointwiseAccumulateScratchInts(p) ints of device memory, contents ignored.
bool pointwiseAccumulateFits(const DeltaConvParams& p);
int64_t pointwiseAccumulateScratchInts(const DeltaConvParams& p);
void launchPointwiseAccumulate(cudaStream_t s, const DeltaConvParams& p, const float* x, const uint8_t* mask,
                               const float* packed, float* a, float* r, float* outD, uint8_t* outMask, int* scratch,
                               double threshold, int act, double alpha, bool writeZeros);

// ---- delta_gated.cu ----
// gate[n, co] = sigmoid(bg[co] + sum_ci mean[n, ci] * wg[ci, co]).
void launchGateSigmoid(cudaStream_t s, const float* mean, const float* wg, const float* bg, float* gate, int64_t n,
                       int64_t c);
// out[n, v, c] = act(y[n, v, c] * gate[n, c]); y and out half when `half`.
void launchApplyGate(cudaStream_t s, const void* y, const float* gate, void* out, int64_t n, int64_t voxels, int64_t c,
                     int act, float alpha, bool half);

}  // namespace tfjs_delta
