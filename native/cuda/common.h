// Shared declarations of the 'cuda' backend's native addon: the error helper and the launchers of the
// CUDA kernel families (one .cu file per family). Launchers take a stream and never synchronise.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace tfjs_delta {

// Every failing CUDA / cuDNN / cuBLAS call becomes one of these; the addon's dispatch layer turns it into a
// JS Error. The message names the native function, the library call and the library's own status string.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
[[noreturn]] void fail(const char* where, const char* call, const std::string& status);
[[noreturn]] void failArg(const char* where, const std::string& what);

// The addon's environment switches (TFJS_DELTA_*), read through these only. Booleans: "1", "true", "yes" are on;
// "0", "false", "no" are off; unset or empty gives `whenUnset` (off unless the variable's documentation says it
// defaults on); any other value throws an Error naming the variable. Integers: unset or empty gives `whenUnset`;
// a value that is not a whole decimal number in [min, max] throws an Error naming the variable.
bool envFlag(const char* name, bool whenUnset = false);
int64_t envInt(const char* name, int64_t whenUnset, int64_t min, int64_t max);

// The device's multiprocessors, and the shared memory a block may opt in to.
int multiProcessors();
size_t sharedMemoryPerBlockOptIn();

// The stream's list counters (pixel_list.cuh, publishListCount) where the context uses them
// (default; TFJS_DELTA_CUDA_LIST_COUNTERS=0 at init, or setOptions({listCounters: false}), turns them off), else null:
// a memset zeroes each list's count.
int* listCounters();

// Whether kernel launches carry programmatic dependent launch (launch.cuh): TFJS_DELTA_CUDA_PDL (default on) on a
// device of compute capability 9.0 or later.
bool dependentLaunches();

// A failed runtime call also leaves its error as the thread's last error; it is read (and so cleared) here, or the
// next kernel's TD_LAUNCHED would report it as its own (a refused cudaFuncSetAttribute failed the next Add).
#define TD_CUDA(where, call)                                                                                           \
  do {                                                                                                                 \
    cudaError_t td_e_ = (call);                                                                                        \
    if (td_e_ != cudaSuccess) {                                                                                        \
      (void)cudaGetLastError();                                                                                        \
      ::tfjs_delta::fail(where, #call, std::string(cudaGetErrorName(td_e_)) + " (" + cudaGetErrorString(td_e_) + ")"); \
    }                                                                                                                  \
  } while (0)
// After every kernel launch: catches bad launch configurations (and sticky errors of earlier kernels).
#define TD_LAUNCHED(where) TD_CUDA(where, cudaGetLastError())

// Index arithmetic (division / modulo) in 32 bits whenever every offset fits: 64-bit division is emulated on
// the GPU and made memory-bound kernels compute-bound (measured: batch norm at ResNet-50 batch 32).
#define TD_INDEX_DISPATCH(fits32, ...) \
  do {                                 \
    if (fits32) {                      \
      using I = uint32_t;              \
      __VA_ARGS__;                     \
    } else {                           \
      using I = int64_t;               \
      __VA_ARGS__;                     \
    }                                  \
  } while (0)
constexpr int64_t kIndex32Limit = int64_t(1) << 31;

// Grid size of a grid-stride kernel: enough blocks of `perBlock` items for `items`, at least one, capped (the loops
// cover the rest).
inline int gridFor(int64_t items, int64_t perBlock) {
  const int64_t b = (items + perBlock - 1) / perBlock;
  return static_cast<int>(b < 65535 * 8 ? (b < 1 ? 1 : b) : 65535 * 8);
}

constexpr int kMaxRank = 6;
struct Dims {  // shape and element strides, passed to kernels by value
  int rank;
  int64_t shape[kMaxRank];
  int64_t stride[kMaxRank];
};

// ---- elementwise.cu ----
enum UnaryOp {
  U_LINEAR = 0,
  U_RELU,
  U_RELU6,
  U_LEAKYRELU,
  U_SIGMOID,
  U_TANH,
  U_ELU,
  U_EXP,
  U_NEG,
  U_ABS,
  U_SQRT,
  U_RSQRT,
  U_SQUARE,
  U_LOG,
  U_FLOOR,
  U_CEIL,
  U_RECIPROCAL,
  U_SELU,
  U_SOFTPLUS,
  U_ROUND,
  U_SIGN,
  U_STEP,
  U_COUNT
};

// A convolution's epilogue, y = act(conv + bias[channel]) (bias null: none; act a UnaryOp code, alpha its parameter;
// applyEpilogue in unary_op.cuh).
struct ConvEpilogue {
  const float* bias;
  int act;
  float alpha;
};

enum BinaryOp { B_ADD = 0, B_SUB, B_MUL, B_DIV, B_MAX, B_MIN, B_SQDIFF, B_POW, B_PRELU, B_COUNT };
// DT_FLOAT16: the half storage of a float32 tensor (see storage.cuh); never a tfjs dtype of its own.
enum DType { DT_FLOAT32 = 0, DT_INT32 = 1, DT_BOOL = 2, DT_FLOAT16 = 3 };

// `half`: x, y (and the activations of the launchers below that take it) are stored as IEEE half.
void launchUnary(cudaStream_t s, int op, const void* x, void* y, int64_t n, float alpha, bool half);
// out = a (op) b with broadcasting; `out` is contiguous with shape o.shape, a/b strides are 0 on broadcast dims.
void launchBinary(cudaStream_t s, int op, int dtype, const void* a, const void* b, void* out, const Dims& a_,
                  const Dims& b_, const Dims& o);
// y[i] = act(y[i] + bias[i % biasLen]) (bias may be null); prelu alpha[i % preluLen] when act is leakyrelu
// and prelu is given.
void launchBiasAct(cudaStream_t s, void* y, int64_t n, const float* bias, int64_t biasLen, int act, float alpha,
                   const float* prelu, int64_t preluLen, bool half);
void launchBatchNorm(cudaStream_t s, const void* x, void* y, int64_t n, const float* mean, int64_t lm, const float* var,
                     int64_t lv, const float* offset, int64_t lo, const float* scale, int64_t ls, float eps, bool half);
void launchCast(cudaStream_t s, const void* x, int src, void* y, int dst, int64_t n);
void launchFill(cudaStream_t s, void* y, int dtype, int64_t n, double value);
void launchSoftmax(cudaStream_t s, const float* x, float* y, int64_t rows, int64_t cols);

// ---- copy.cu ----
// dst[dstOffset + sum(i_k * dst.stride[k])] = src[srcOffset + sum(i_k * src.stride[k])] over shape.
void launchStridedCopy(cudaStream_t s, int elemBytes, const void* src, int64_t srcOffset, const Dims& srcD, void* dst,
                       int64_t dstOffset, const Dims& dstD);
// mode 0 constant, 1 reflect, 2 symmetric. `in` and `out` hold contiguous shapes, before[k] = pad before dim k.
void launchPad(cudaStream_t s, int dtype, const void* x, const Dims& in, void* y, const Dims& out,
               const int64_t* before, int mode, double value);
// NHWC resize; bilinear or nearest, tfjs semantics.
void launchResize(cudaStream_t s, bool bilinear, const float* x, float* y, int64_t n, int64_t h, int64_t w, int64_t c,
                  int64_t oh, int64_t ow, bool alignCorners, bool halfPixelCenters);

// ---- reduce.cu ----
enum ReduceOp { R_SUM = 0, R_MAX, R_MIN, R_MEAN, R_PROD };
// in viewed as [outer, r, inner] reduced over r to [outer, inner]; scratch must hold reduceScratch() bytes.
size_t reduceScratch(int64_t outer, int64_t r, int64_t inner);
// x may be half (xHalf); y and the scratch are float32.
void launchReduce(cudaStream_t s, int op, const void* x, bool xHalf, float* y, int64_t outer, int64_t r, int64_t inner,
                  void* scratch);
// A window over an n x h x w mask: the output pixels (n x oh x ow) of a conv with this window, strides, top/left pads
// and dilations. {1, 1, L, 1, L, 1, 1, 1, 1, 0, 0, 1, 1} (maskWindowOf(L)): L bytes counted as they are.
struct MaskWindow {
  int n, h, w, oh, ow, kh, kw, sh, sw, pt, pl, dh, dw;
};
MaskWindow maskWindowOf(int64_t bytes);
// out[i] = the share of window i's output pixels whose window holds a nonzero byte of masks[i] (a conv's reach; the
// mask's own share for maskWindowOf; 0 where there are no outputs), i < count, in two launches per 32 masks; scratch
// holds maskFractionsScratch() bytes.
// Throws, naming the window, unless each is indexable in 32 bits with sizes, strides and dilations >= 1 (and, with
// masks, has a pointer where it has pixels to read); maskFractionsScratch and launchMaskFractions check all first.
void checkMaskWindows(const uint8_t* const* masks, const MaskWindow* windows, int count);
size_t maskFractionsScratch(const MaskWindow* windows, int count);
void launchMaskFractions(cudaStream_t s, const uint8_t* const* masks, const MaskWindow* windows, int count, float* out,
                         void* scratch);

// ---- pool.cu ----
struct PoolParams {
  int64_t n, d, h, w, c;                   // input NDHWC (2D: d = 1)
  int64_t od, oh, ow;                      // output spatial
  int kd, kh, kw, sd, sh, sw, dd, dh, dw;  // window, strides, dilations
  int pf, pt, pl;                          // pads front / top / left
};
// split: windows of 32 positions or more on the split kernel (a block per output pixel and channel slice) where one
// thread per output would launch fewer than two blocks per multiprocessor; returns whether it ran.
bool launchPool(cudaStream_t s, bool isMax, const void* x, void* y, const PoolParams& p, bool half, bool split);
// A delta's global average pool (NHWC, float32): y[b, c] = the mean over every pixel of x where `mask` (a byte per
// pixel) is set, zero elsewhere (x there is never read as a value: a lazily written delta); outMask[b] = any set.
void launchDeltaGlobalAvgPool(cudaStream_t s, const float* x, const uint8_t* mask, float* y, uint8_t* outMask,
                              int64_t n, int64_t h, int64_t w, int64_t c);

// ---- depthwise.cu ----
struct DepthwiseParams {
  int n, h, w, c;                      // input NHWC (channel multiplier 1: c output channels)
  int oh, ow;                          // output spatial
  int kh, kw, sh, sw, dh, dw, pt, pl;  // window, strides, dilations, pads top / left (bottom / right implied)
};
// y = act(depthwise(x, w) + bias): w [kh, kw, c] (tfjs's [kh, kw, c, 1]), bias [c] or null, act a UnaryOp. x and y
// each float32 or half storage.
void launchDepthwiseConv(cudaStream_t s, const DepthwiseParams& p, const void* x, bool xHalf, const float* w,
                         const float* bias, void* y, bool yHalf, int act, float alpha);

}  // namespace tfjs_delta
