// TfjsDeltaSparsify: the input layer's change test (ops/delta_sparsify.ts) as one CPU kernel over TF's tensors. The
// 'tensorflow' backend's TF-op route is about a dozen full-size ops (the dilated window test as cumulative sums);
// here each pixel's difference and test is one pass, the dilation two running counts over a byte plane, and the
// state is updated in place where the caller allows it.
//
// Inputs: frame and sent (float32, one shape [..., C]; rank 4 [N, H, W, C] when dilation > 1). Outputs: the delta
// (d = frame - sent at the pixels sent, zeros elsewhere), its mask (the pixels whose d has a channel above threshold,
// dilated to the dilation x dilation window around them), and the new sent (sent + d at those pixels; sent itself
// when in_place). The arithmetic is the 'cpu' reference's, so the results are the same floats.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "ops.h"
#include "tf_kernel_util.h"

namespace tfjs_delta_tf {
namespace {

constexpr const char* kOp = "TfjsDeltaSparsify";

struct Attrs {
  float threshold;  // compared as largest > threshold (the caller passes the largest float not above its threshold)
  int64_t dilation;
  bool inPlace;
};

void* create(TF_OpKernelConstruction* ctx) {
  Attrs* at = new Attrs();
  reportFailures(kOp, ctx, TF_OpKernelConstruction_Failure, [&] {
    *at = {attrFloat(ctx, "threshold"), attrInt(ctx, "dilation"), attrBool(ctx, "in_place")};
    if (at->dilation < 1 || at->dilation % 2 == 0)
      fail(TF_INVALID_ARGUMENT, "dilation must be an odd number >= 1, got " + std::to_string(at->dilation));
  });
  return at;
}

void destroy(void* kernel) { delete static_cast<Attrs*>(kernel); }

// dst[i] = whether src holds a set flag among the 2r + 1 places centred on i along a row of `length`, clipped at its
// ends (a running count, so the cost does not grow with r).
void orAlongRow(const uint8_t* src, uint8_t* dst, int64_t length, int64_t r) {
  int64_t count = 0;
  for (int64_t i = 0; i < std::min(r, length); i++) count += src[i];
  for (int64_t i = 0; i < length; i++) {
    if (i + r < length) count += src[i + r];
    if (i - r - 1 >= 0) count -= src[i - r - 1];
    dst[i] = count > 0;
  }
}

// The same down the columns [x0, x1) of an H x W plane, a running count per column, row by row: each step reads
// and writes whole rows, not one byte a row apart.
void orDownColumns(const uint8_t* src, uint8_t* dst, int64_t H, int64_t W, int64_t x0, int64_t x1, int64_t r) {
  std::vector<int32_t> count(static_cast<size_t>(x1 - x0), 0);
  int32_t* n = count.data() - x0;
  for (int64_t y = 0; y < std::min(r, H); y++)
    for (int64_t x = x0; x < x1; x++) n[x] += src[y * W + x];
  for (int64_t y = 0; y < H; y++) {
    if (y + r < H)
      for (int64_t x = x0; x < x1; x++) n[x] += src[(y + r) * W + x];
    if (y - r - 1 >= 0)
      for (int64_t x = x0; x < x1; x++) n[x] -= src[(y - r - 1) * W + x];
    for (int64_t x = x0; x < x1; x++) dst[y * W + x] = n[x] > 0;
  }
}

void compute(void* kernel, TF_OpKernelContext* ctx) {
  const Attrs& at = *static_cast<Attrs*>(kernel);
  reportFailures(kOp, ctx, TF_OpKernelContext_Failure, [&] {
    Tensor frame = input(ctx, 0, "frame");
    Tensor sent = input(ctx, 1, "sent");
    const std::vector<int64_t> dims = dimsOf(frame.get());
    if (dims.empty()) fail(TF_INVALID_ARGUMENT, "frame must have a channel dimension, got shape []");
    if (dimsOf(sent.get()) != dims)
      fail(TF_INVALID_ARGUMENT, "sent has shape " + shapeString(dimsOf(sent.get())) + ", frame " + shapeString(dims) +
                                    ": they must be equal");
    if (at.dilation > 1 && dims.size() != 4)
      fail(TF_INVALID_ARGUMENT, "a dilated test needs an NHWC frame, got shape " + shapeString(dims));
    const int64_t C = dims.back();
    const std::vector<int64_t> maskDims(dims.begin(), dims.end() - 1);
    int64_t pixels = 1;
    for (int64_t v : maskDims) pixels *= v;
    const size_t bytes = static_cast<size_t>(pixels * C) * sizeof(float);
    Tensor delta = allocateOutput(ctx, 0, TF_FLOAT, dims, bytes, "delta");
    Tensor mask = allocateOutput(ctx, 1, TF_BOOL, maskDims, static_cast<size_t>(pixels), "mask");
    if (at.inPlace) setOutput(ctx, 2, sent.get(), "sent");
    Tensor outSent = at.inPlace ? Tensor() : allocateOutput(ctx, 2, TF_FLOAT, dims, bytes, "sent");
    const auto* xv = static_cast<const float*>(TF_TensorData(frame.get()));
    const auto* av = static_cast<const float*>(TF_TensorData(sent.get()));
    auto* dv = static_cast<float*>(TF_TensorData(delta.get()));
    auto* sv = static_cast<float*>(TF_TensorData(at.inPlace ? sent.get() : outSent.get()));
    auto* send = static_cast<uint8_t*>(TF_TensorData(mask.get()));
    std::vector<uint8_t> moved(static_cast<size_t>(pixels));
    // The differences (kept in the delta output) and which pixels moved.
    parallelFor(pixels, C, [&](int64_t p0, int64_t p1) {
      const ExactSubnormals exact;
      for (int64_t p = p0; p < p1; p++) {
        float largest = 0;
        for (int64_t c = p * C; c < (p + 1) * C; c++) {
          dv[c] = xv[c] - av[c];
          const float mag = std::fabs(dv[c]);
          largest = (mag > largest || std::isnan(mag)) ? mag : largest;  // NaN propagates, as Math.max does
        }
        moved[p] = largest > at.threshold;
      }
    });
    if (at.dilation > 1) {
      const int64_t N = dims[0], H = dims[1], W = dims[2], r = (at.dilation - 1) / 2;
      std::vector<uint8_t> rows(static_cast<size_t>(pixels));
      parallelFor(N * H, W, [&](int64_t l0, int64_t l1) {
        for (int64_t line = l0; line < l1; line++) orAlongRow(moved.data() + line * W, rows.data() + line * W, W, r);
      });
      // Column strips of 64 bytes (a cache line) a thread item, each image in turn.
      const int64_t strips = (W + 63) / 64;
      parallelFor(N * strips, 64 * H, [&](int64_t s0, int64_t s1) {
        for (int64_t s = s0; s < s1; s++) {
          const int64_t b = s / strips, x0 = (s % strips) * 64;
          orDownColumns(rows.data() + b * H * W, send + b * H * W, H, W, x0, std::min(W, x0 + 64), r);
        }
      });
    } else {
      std::memcpy(send, moved.data(), static_cast<size_t>(pixels));
    }
    // The pixels sent keep their difference and update the state; the others emit zeros and keep theirs.
    parallelFor(pixels, C, [&](int64_t p0, int64_t p1) {
      const ExactSubnormals exact;
      for (int64_t p = p0; p < p1; p++) {
        float* d = dv + p * C;
        float* s = sv + p * C;
        const float* a = av + p * C;
        if (send[p]) {
          for (int64_t c = 0; c < C; c++) s[c] = a[c] + d[c];
        } else {
          std::memset(d, 0, static_cast<size_t>(C) * sizeof(float));
          if (!at.inPlace) std::memcpy(s, a, static_cast<size_t>(C) * sizeof(float));
        }
      }
    });
  });
}

}  // namespace

void registerSparsify() {
  registerOp({kOp,
              {"frame: float", "sent: float"},
              {"delta: float", "mask: bool", "sent_out: float"},
              {"threshold: float", "dilation: int", "in_place: bool"},
              true},  // it writes its state input when in_place
             create, compute, destroy);
}

}  // namespace tfjs_delta_tf
