// The window of a delta convolution as tfjs computed it (strides, dilations, the leading pads, the output size;
// pixels past the input are padding), read from an op's attributes.
#pragma once

#include <cstdint>
#include <vector>

#include "tf_kernel_util.h"

namespace tfjs_delta_tf {

struct ConvWindow {
  int64_t strideH, strideW, dilationH, dilationW, padTop, padLeft, outH, outW;

  // The attributes readConvWindow reads, for an op's definition.
  static std::vector<const char*> attrs() {
    return {"stride_h: int", "stride_w: int", "dilation_h: int", "dilation_w: int",
            "pad_top: int",  "pad_left: int", "out_height: int", "out_width: int"};
  }
};

inline ConvWindow readConvWindow(TF_OpKernelConstruction* ctx) {
  const ConvWindow g{attrInt(ctx, "stride_h"),   attrInt(ctx, "stride_w"), attrInt(ctx, "dilation_h"),
                     attrInt(ctx, "dilation_w"), attrInt(ctx, "pad_top"),  attrInt(ctx, "pad_left"),
                     attrInt(ctx, "out_height"), attrInt(ctx, "out_width")};
  if (g.strideH < 1 || g.strideW < 1 || g.dilationH < 1 || g.dilationW < 1 || g.outH < 0 || g.outW < 0)
    fail(TF_INVALID_ARGUMENT, "strides and dilations must be >= 1 and the output size >= 0");
  return g;
}

}  // namespace tfjs_delta_tf
