// TfjsDeltaDepthwiseConv2D: the depthwise delta convolution (ops/delta_depthwise_conv2d.ts) as one CPU kernel over
// TF's tensors. The 'tensorflow' backend's TF-op route reads the input mask back to the host, computes the reach
// there, and convolves gathered tiles (or the whole zero-filled delta); here an output pixel costs its window's mask
// bytes, and only a pixel whose window holds an active input is computed, from the active inputs only.
//
// Inputs: x (float32 [N, H, W, C], the delta: inactive pixels hold zeros), mask (bool [N, H, W], its active pixels),
// filter (float32 [KH, KW, C, M]). Attributes: the geometry as tfjs computed it (strides, dilations, the leading
// pads, the output size; pixels past the input are padding). Outputs: y (float32 [N, OH, OW, C * M]) and its mask,
// the reach: the output pixels whose window holds an active in-bounds input pixel. The sums run in float32 over the
// taps in the 'cpu' reference's order (which sums in double: they agree to float rounding, as TF's own kernel does),
// vectorized over the channels, with AVX2 where the CPU has it.
#include <cstring>
#include <string>
#include <vector>

#include "conv_window.h"
#include "ops.h"
#include "tf_kernel_util.h"

namespace tfjs_delta_tf {
namespace {

constexpr const char* kOp = "TfjsDeltaDepthwiseConv2D";

// acc[i] += x[i] * w[i] over the channels of one tap (channel multiplier 1).
__attribute__((target_clones("avx2", "default"))) void addTap(float* __restrict acc, const float* __restrict x,
                                                              const float* __restrict w, int64_t channels) {
  for (int64_t c = 0; c < channels; c++) acc[c] += x[c] * w[c];
}

// acc[c * M + j] += x[c] * w[c * M + j] (channel multiplier M).
__attribute__((target_clones("avx2", "default"))) void addTapMultiplier(float* __restrict acc,
                                                                        const float* __restrict x,
                                                                        const float* __restrict w, int64_t channels,
                                                                        int64_t M) {
  for (int64_t c = 0; c < channels; c++)
    for (int64_t j = 0; j < M; j++) acc[c * M + j] += x[c] * w[c * M + j];
}

void* create(TF_OpKernelConstruction* ctx) {
  ConvWindow* g = new ConvWindow();
  reportFailures(kOp, ctx, TF_OpKernelConstruction_Failure, [&] { *g = readConvWindow(ctx); });
  return g;
}

void destroy(void* kernel) { delete static_cast<ConvWindow*>(kernel); }

void compute(void* kernel, TF_OpKernelContext* ctx) {
  const ConvWindow& g = *static_cast<ConvWindow*>(kernel);
  reportFailures(kOp, ctx, TF_OpKernelContext_Failure, [&] {
    Tensor x = input(ctx, 0, "x");
    Tensor m = input(ctx, 1, "mask");
    Tensor w = input(ctx, 2, "filter");
    const std::vector<int64_t> xd = dimsOf(x.get()), md = dimsOf(m.get()), wd = dimsOf(w.get());
    if (xd.size() != 4) fail(TF_INVALID_ARGUMENT, "x must be [batch, height, width, channels], got " + shapeString(xd));
    const int64_t N = xd[0], H = xd[1], W = xd[2], C = xd[3];
    if (md != std::vector<int64_t>{N, H, W})
      fail(TF_INVALID_ARGUMENT, "mask has shape " + shapeString(md) + ", x " + shapeString(xd) + ": one value a pixel");
    if (wd.size() != 4 || wd[2] != C)
      fail(TF_INVALID_ARGUMENT,
           "filter must be [height, width, " + std::to_string(C) + ", multiplier], got " + shapeString(wd));
    const int64_t KH = wd[0], KW = wd[1], M = wd[3], CO = C * M;
    const int64_t OH = g.outH, OW = g.outW;
    Tensor y =
        allocateOutput(ctx, 0, TF_FLOAT, {N, OH, OW, CO}, static_cast<size_t>(N * OH * OW * CO) * sizeof(float), "y");
    Tensor ym = allocateOutput(ctx, 1, TF_BOOL, {N, OH, OW}, static_cast<size_t>(N * OH * OW), "mask");
    const auto* xv = static_cast<const float*>(TF_TensorData(x.get()));
    const auto* mv = static_cast<const uint8_t*>(TF_TensorData(m.get()));
    const auto* wv = static_cast<const float*>(TF_TensorData(w.get()));
    auto* yv = static_cast<float*>(TF_TensorData(y.get()));
    auto* ymv = static_cast<bool*>(TF_TensorData(ym.get()));
    // Output rows [r0, r1) of N * OH.
    auto rows = [&](int64_t r0, int64_t r1) {
      for (int64_t row = r0; row < r1; row++) {
        const int64_t b = row / OH, oh = row % OH;
        for (int64_t ow = 0; ow < OW; ow++) {
          const int64_t p = row * OW + ow;
          float* out = yv + p * CO;  // the sums build up in the output row itself
          bool active = false;
          for (int64_t kh = 0; kh < KH; kh++) {
            const int64_t ih = oh * g.strideH - g.padTop + kh * g.dilationH;
            if (ih < 0 || ih >= H) continue;
            for (int64_t kw = 0; kw < KW; kw++) {
              const int64_t iw = ow * g.strideW - g.padLeft + kw * g.dilationW;
              if (iw < 0 || iw >= W) continue;
              const int64_t pixel = (b * H + ih) * W + iw;
              if (!mv[pixel]) continue;
              if (!active) std::memset(out, 0, static_cast<size_t>(CO) * sizeof(float));
              active = true;
              const float* xp = xv + pixel * C;
              const float* wp = wv + (kh * KW + kw) * CO;
              if (M == 1)
                addTap(out, xp, wp, C);
              else
                addTapMultiplier(out, xp, wp, C, M);
            }
          }
          ymv[p] = active;
          if (!active) std::memset(out, 0, static_cast<size_t>(CO) * sizeof(float));
        }
      }
    };
    parallelFor(N * OH, OW * CO * KH * KW, rows);
  });
}

}  // namespace

void registerDeltaDepthwiseConv2D() {
  registerOp(
      {kOp, {"x: float", "mask: bool", "filter: float"}, {"y: float", "mask_out: bool"}, ConvWindow::attrs(), false},
      create, compute, destroy);
}

}  // namespace tfjs_delta_tf
