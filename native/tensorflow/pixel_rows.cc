// The rows of a delta's active pixels, and back: TfjsDeltaGatherRows lists the active pixels of x ([..., C], with
// its mask [...]) and copies their rows into a [n, C] block; TfjsDeltaScatterRows puts a [n, CO] block's rows back
// at those pixels of a zero [..., CO] output (mask: the output's pixels, for its shape). A 1x1 delta conv is then
// TF's MatMul on the block alone, with no host read of the mask: the active count is the block's shape.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "ops.h"
#include "tf_kernel_util.h"

namespace tfjs_delta_tf {
namespace {

constexpr const char* kGather = "TfjsDeltaGatherRows";
constexpr const char* kScatter = "TfjsDeltaScatterRows";

void* noAttrs(TF_OpKernelConstruction*) { return nullptr; }
void noDelete(void*) {}

void gather(void*, TF_OpKernelContext* ctx) {
  reportFailures(kGather, ctx, TF_OpKernelContext_Failure, [&] {
    Tensor x = input(ctx, 0, "x");
    Tensor m = input(ctx, 1, "mask");
    const std::vector<int64_t> dims = dimsOf(x.get());
    if (dims.empty()) fail(TF_INVALID_ARGUMENT, "x must have a channel dimension, got shape []");
    const int64_t C = dims.back();
    const int64_t pixels = TF_TensorElementCount(m.get());
    if (std::vector<int64_t>(dims.begin(), dims.end() - 1) != dimsOf(m.get()))
      fail(TF_INVALID_ARGUMENT,
           "mask has shape " + shapeString(dimsOf(m.get())) + ", x " + shapeString(dims) + ": one value a pixel");
    if (pixels > INT32_MAX) fail(TF_INVALID_ARGUMENT, "more than 2^31 - 1 pixels");
    const auto* mask = static_cast<const uint8_t*>(TF_TensorData(m.get()));
    int64_t n = 0;
    for (int64_t p = 0; p < pixels; p++) n += mask[p] != 0;
    Tensor rows = allocateOutput(ctx, 0, TF_FLOAT, {n, C}, static_cast<size_t>(n * C) * sizeof(float), "rows");
    Tensor index = allocateOutput(ctx, 1, TF_INT32, {n}, static_cast<size_t>(n) * sizeof(int32_t), "index");
    const auto* xv = static_cast<const float*>(TF_TensorData(x.get()));
    auto* rv = static_cast<float*>(TF_TensorData(rows.get()));
    auto* iv = static_cast<int32_t*>(TF_TensorData(index.get()));
    for (int64_t p = 0, i = 0; p < pixels; p++) {
      if (!mask[p]) continue;
      std::memcpy(rv + i * C, xv + p * C, static_cast<size_t>(C) * sizeof(float));
      iv[i++] = static_cast<int32_t>(p);
    }
  });
}

void scatter(void*, TF_OpKernelContext* ctx) {
  reportFailures(kScatter, ctx, TF_OpKernelContext_Failure, [&] {
    Tensor rows = input(ctx, 0, "rows");
    Tensor index = input(ctx, 1, "index");
    Tensor m = input(ctx, 2, "mask");
    const std::vector<int64_t> rd = dimsOf(rows.get());
    const int64_t n = TF_TensorElementCount(index.get());
    if (rd.size() != 2 || rd[0] != n)
      fail(TF_INVALID_ARGUMENT,
           "rows must be [" + std::to_string(n) + " (the index's length), channels], got " + shapeString(rd));
    const int64_t CO = rd[1];
    const int64_t pixels = TF_TensorElementCount(m.get());
    std::vector<int64_t> dims = dimsOf(m.get());
    dims.push_back(CO);
    Tensor y = allocateOutput(ctx, 0, TF_FLOAT, dims, static_cast<size_t>(pixels * CO) * sizeof(float), "y");
    const auto* iv = static_cast<const int32_t*>(TF_TensorData(index.get()));
    const auto* rv = static_cast<const float*>(TF_TensorData(rows.get()));
    auto* yv = static_cast<float*>(TF_TensorData(y.get()));
    std::memset(yv, 0, static_cast<size_t>(pixels * CO) * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
      if (iv[i] < 0 || iv[i] >= pixels || (i > 0 && iv[i] <= iv[i - 1]))
        fail(TF_INVALID_ARGUMENT, "index[" + std::to_string(i) + "] = " + std::to_string(iv[i]) +
                                      ": the pixels must be increasing and below " + std::to_string(pixels));
      std::memcpy(yv + static_cast<int64_t>(iv[i]) * CO, rv + i * CO, static_cast<size_t>(CO) * sizeof(float));
    }
  });
}

}  // namespace

void registerPixelRows() {
  registerOp({kGather, {"x: float", "mask: bool"}, {"rows: float", "index: int32"}, {}, false}, noAttrs, gather,
             noDelete);
  registerOp({kScatter, {"rows: float", "index: int32", "mask: bool"}, {"y: float"}, {}, false}, noAttrs, scatter,
             noDelete);
}

}  // namespace tfjs_delta_tf
