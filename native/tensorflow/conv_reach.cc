// TfjsDeltaConvReach: a delta convolution's output mask (its reach: the output pixels whose window holds an active
// in-bounds input pixel) from its input mask, for a regular conv that the 'tensorflow' backend runs as TF's dense
// conv on the delta (a first layer of few channels, where TF's conv of the whole frame costs less than gathering
// tiles). The host computed it before, from a read of the mask, in JavaScript.
//
// Input: mask (bool [N, H, W]). Attributes: the window (conv_window.h) and its size (kernel_h, kernel_w). Output: the
// reach (bool [N, OH, OW]).
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "conv_window.h"
#include "ops.h"
#include "tf_kernel_util.h"

namespace tfjs_delta_tf {
namespace {

constexpr const char* kOp = "TfjsDeltaConvReach";

struct Attrs {
  ConvWindow window;
  int64_t kernelH, kernelW;
};

void* create(TF_OpKernelConstruction* ctx) {
  Attrs* at = new Attrs();
  reportFailures(kOp, ctx, TF_OpKernelConstruction_Failure, [&] {
    *at = {readConvWindow(ctx), attrInt(ctx, "kernel_h"), attrInt(ctx, "kernel_w")};
    if (at->kernelH < 1 || at->kernelW < 1)
      fail(TF_INVALID_ARGUMENT, "the kernel must be at least 1 x 1, got " + std::to_string(at->kernelH) + " x " +
                                    std::to_string(at->kernelW));
  });
  return at;
}

void destroy(void* kernel) { delete static_cast<Attrs*>(kernel); }

void compute(void* kernel, TF_OpKernelContext* ctx) {
  const Attrs& at = *static_cast<Attrs*>(kernel);
  const ConvWindow& g = at.window;
  reportFailures(kOp, ctx, TF_OpKernelContext_Failure, [&] {
    Tensor m = input(ctx, 0, "mask");
    const std::vector<int64_t> md = dimsOf(m.get());
    if (md.size() != 3) fail(TF_INVALID_ARGUMENT, "mask must be [batch, height, width], got " + shapeString(md));
    const int64_t N = md[0], H = md[1], W = md[2];
    Tensor reach =
        allocateOutput(ctx, 0, TF_BOOL, {N, g.outH, g.outW}, static_cast<size_t>(N * g.outH * g.outW), "reach");
    const auto* mv = static_cast<const uint8_t*>(TF_TensorData(m.get()));
    auto* rv = static_cast<bool*>(TF_TensorData(reach.get()));
    // Separably: which output columns see an active pixel of each input row, then which output rows see such a row.
    std::vector<uint8_t> columns(static_cast<size_t>(N * H * g.outW));
    parallelFor(N * H, g.outW * at.kernelW, [&](int64_t r0, int64_t r1) {
      for (int64_t row = r0; row < r1; row++) {
        const uint8_t* in = mv + row * W;
        uint8_t* out = columns.data() + row * g.outW;
        for (int64_t ow = 0; ow < g.outW; ow++) {
          const int64_t iw0 = ow * g.strideW - g.padLeft;
          uint8_t any = 0;
          if (iw0 >= 0 && iw0 + (at.kernelW - 1) * g.dilationW < W) {  // the window inside the row: no tests
            for (int64_t kw = 0; kw < at.kernelW; kw++) any |= in[iw0 + kw * g.dilationW];
          } else {
            for (int64_t kw = 0; kw < at.kernelW; kw++) {
              const int64_t iw = iw0 + kw * g.dilationW;
              if (iw >= 0 && iw < W) any |= in[iw];
            }
          }
          out[ow] = any != 0;
        }
      }
    });
    parallelFor(N * g.outH, g.outW * at.kernelH, [&](int64_t r0, int64_t r1) {
      std::vector<uint8_t> any(static_cast<size_t>(g.outW));
      for (int64_t row = r0; row < r1; row++) {
        const int64_t b = row / g.outH, oh = row % g.outH;
        std::fill(any.begin(), any.end(), 0);
        for (int64_t kh = 0; kh < at.kernelH; kh++) {
          const int64_t ih = oh * g.strideH - g.padTop + kh * g.dilationH;
          if (ih < 0 || ih >= H) continue;
          const uint8_t* in = columns.data() + (b * H + ih) * g.outW;
          for (int64_t ow = 0; ow < g.outW; ow++) any[ow] |= in[ow];
        }
        for (int64_t ow = 0; ow < g.outW; ow++) rv[row * g.outW + ow] = any[ow] != 0;
      }
    });
  });
}

}  // namespace

void registerConvReach() {
  std::vector<const char*> attrs = ConvWindow::attrs();
  attrs.push_back("kernel_h: int");
  attrs.push_back("kernel_w: int");
  registerOp({kOp, {"mask: bool"}, {"reach: bool"}, attrs, false}, create, compute, destroy);
}

}  // namespace tfjs_delta_tf
