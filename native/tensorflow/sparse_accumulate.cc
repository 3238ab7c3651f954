// TfjsDeltaSparseAccumulate: the truncating accumulator (ops/sparse_accumulate.ts) as one CPU kernel over TF's
// tensors. The 'tensorflow' backend's TF-op routes run it as about a dozen full-size ops (or gathers and scatters
// with full copies of the state); here each active pixel is read and written once, inactive pixels cost a mask read,
// and with in_place the state is updated where it lies (as the 'cuda' kernel does), so a mostly still frame touches
// little beyond the zero-filled delta it must emit.
//
// Inputs: accumulated, residual, delta (float32, one shape [..., C]); mask (bool [...], the delta's active pixels;
// ignored unless has_mask). Outputs: the emitted delta, its mask, the new accumulated and residual (the inputs
// themselves when in_place). The arithmetic is the 'cpu' reference's: s = R + d and next = A + s in float32,
// out = f(next) - f(A) rounded once, with leakyRelu, sigmoid and tanh evaluated in double (leakyRelu's alpha
// passed as the decimal string JavaScript prints, which reads back as the same double; TF has no double attribute), so
// that the results match the reference bit for bit (sigmoid and tanh up to the last bit of the C library's exp and tanh
// against JavaScript's).
#include <cmath>
#include <charconv>
#include <cstring>
#include <string>
#include <vector>

#include "ops.h"
#include "tf_kernel_util.h"

namespace tfjs_delta_tf {
namespace {

constexpr const char* kOp = "TfjsDeltaSparseAccumulate";
constexpr const char* kListOp = "TfjsDeltaScatterAccumulate";

enum class Activation { Linear, Relu, Relu6, LeakyRelu, Sigmoid, Tanh };

struct Attrs {
  float threshold;  // compared as largest > threshold; the caller passes the largest float not above its threshold
  Activation activation;
  double alpha;
  bool hasMask;
  bool inPlace;
};

Activation parseActivation(const std::string& name) {
  if (name == "linear") return Activation::Linear;
  if (name == "relu") return Activation::Relu;
  if (name == "relu6") return Activation::Relu6;
  if (name == "leakyRelu") return Activation::LeakyRelu;
  if (name == "sigmoid") return Activation::Sigmoid;
  if (name == "tanh") return Activation::Tanh;
  fail(TF_INVALID_ARGUMENT, "activation '" + name + "' is not one of linear, relu, relu6, leakyRelu, sigmoid, tanh");
  return Activation::Linear;
}

// f as the reference evaluates it: exact in float for the piecewise-linear ones, in double for the others, whose
// values are subtracted in double and rounded once (out = fround(f(next) - f(A))).
struct Linear {
  float operator()(float v) const { return v; }
};
struct Relu {
  float operator()(float v) const { return v > 0 ? v : 0.f; }
};
struct Relu6 {
  float operator()(float v) const { return v < 0 ? 0.f : v > 6 ? 6.f : v; }
};
struct LeakyRelu {
  double alpha;
  double operator()(float v) const { return v > 0 ? static_cast<double>(v) : alpha * v; }
};
struct Sigmoid {
  double operator()(float v) const { return 1.0 / (1.0 + std::exp(-static_cast<double>(v))); }
};
struct Tanh {
  double operator()(float v) const { return std::tanh(static_cast<double>(v)); }
};

// One active pixel of C channels: its delta row dp, its state rows ap and rp (updated), its output row outD and
// flag (written when it flushes; zero already otherwise). `emitted` is a C-float scratch row.
template <class F>
inline void accumulatePixel(F f, float threshold, const float* dp, float* ap, float* rp, float* outD, bool* outFlag,
                            int64_t C, float* emitted) {
  float largest = 0;
  for (int64_t c = 0; c < C; c++) {
    const float s = rp[c] + dp[c];
    const float out = static_cast<float>(f(ap[c] + s) - f(ap[c]));
    emitted[c] = out;
    const float mag = std::fabs(out);
    // NaN propagates, as Math.max does in the reference, and then never flushes.
    largest = (mag > largest || std::isnan(mag)) ? mag : largest;
  }
  if (largest > threshold) {
    *outFlag = true;
    for (int64_t c = 0; c < C; c++) {
      outD[c] = emitted[c];
      ap[c] = ap[c] + (rp[c] + dp[c]);
      rp[c] = 0;
    }
  } else {
    for (int64_t c = 0; c < C; c++) rp[c] = rp[c] + dp[c];
  }
}

// Runs body(f) with the activation's functor.
template <class Body>
void withActivation(Activation activation, double alpha, Body&& body) {
  switch (activation) {
    case Activation::Linear: return body(Linear{});
    case Activation::Relu: return body(Relu{});
    case Activation::Relu6: return body(Relu6{});
    case Activation::LeakyRelu: return body(LeakyRelu{alpha});
    case Activation::Sigmoid: return body(Sigmoid{});
    case Activation::Tanh: return body(Tanh{});
  }
}

// The shortest decimal JavaScript prints reads back as the same double ("-0" included), whatever the C locale.
double parseAlpha(const std::string& text) {
  double v = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || error != std::errc() || end != text.data() + text.size())
    fail(TF_INVALID_ARGUMENT, "alpha '" + text + "' is not a number");
  return v;
}

// The attributes both ops take (and has_mask where the op has it).
template <bool kHasMaskAttr>
void* create(TF_OpKernelConstruction* ctx) {
  Attrs* attrs = new Attrs();
  reportFailures(kHasMaskAttr ? kOp : kListOp, ctx, TF_OpKernelConstruction_Failure, [&] {
    attrs->threshold = attrFloat(ctx, "threshold");
    attrs->activation = parseActivation(attrString(ctx, "activation"));
    attrs->alpha = parseAlpha(attrString(ctx, "alpha"));
    attrs->hasMask = kHasMaskAttr && attrBool(ctx, "has_mask");
    attrs->inPlace = attrBool(ctx, "in_place");
  });
  return attrs;
}

void destroy(void* kernel) { delete static_cast<Attrs*>(kernel); }

// The four outputs of both accumulator ops over state a, r of `dims` ([..., C]): the emitted delta and its mask, zero
// until a pixel flushes, and the new state, a and r themselves when in place, else copies. `clear(p0, p1)` zeroes
// (and copies) pixels [p0, p1), so that the callers do it in their own threads.
struct AccumulatorOutputs {
  Tensor delta, mask, a, r;
  float *outData, *aData, *rData;
  bool* outFlags;
  const float *aIn, *rIn;
  int64_t C;
  bool inPlace;

  AccumulatorOutputs(TF_OpKernelContext* ctx, TF_Tensor* a0, TF_Tensor* r0, const std::vector<int64_t>& dims,
                     bool inPlace_)
      : C(dims.back()), inPlace(inPlace_) {
    const std::vector<int64_t> maskDims(dims.begin(), dims.end() - 1);
    int64_t maskValues = 1;  // the pixels, unless C is 0
    for (int64_t v : maskDims) maskValues *= v;
    const size_t bytes = static_cast<size_t>(maskValues * C) * sizeof(float);
    delta = allocateOutput(ctx, 0, TF_FLOAT, dims, bytes, "delta");
    mask = allocateOutput(ctx, 1, TF_BOOL, maskDims, static_cast<size_t>(maskValues), "mask");
    if (C == 0) std::memset(TF_TensorData(mask.get()), 0, static_cast<size_t>(maskValues));
    if (inPlace) {
      setOutput(ctx, 2, a0, "accumulated");
      setOutput(ctx, 3, r0, "residual");
    } else {
      a = allocateOutput(ctx, 2, TF_FLOAT, dims, bytes, "accumulated");
      r = allocateOutput(ctx, 3, TF_FLOAT, dims, bytes, "residual");
    }
    outData = static_cast<float*>(TF_TensorData(delta.get()));
    outFlags = static_cast<bool*>(TF_TensorData(mask.get()));
    aIn = static_cast<const float*>(TF_TensorData(a0));
    rIn = static_cast<const float*>(TF_TensorData(r0));
    aData = inPlace ? const_cast<float*>(aIn) : static_cast<float*>(TF_TensorData(a.get()));
    rData = inPlace ? const_cast<float*>(rIn) : static_cast<float*>(TF_TensorData(r.get()));
  }

  void clear(int64_t p0, int64_t p1) const {
    const size_t o = static_cast<size_t>(p0 * C), n = static_cast<size_t>((p1 - p0) * C);
    std::memset(outData + o, 0, n * sizeof(float));
    std::memset(outFlags + p0, 0, static_cast<size_t>(p1 - p0));
    if (!inPlace) {
      std::memcpy(aData + o, aIn + o, n * sizeof(float));
      std::memcpy(rData + o, rIn + o, n * sizeof(float));
    }
  }
};

void compute(void* kernel, TF_OpKernelContext* ctx) {
  const Attrs& at = *static_cast<Attrs*>(kernel);
  reportFailures(kOp, ctx, TF_OpKernelContext_Failure, [&] {
    Tensor a = input(ctx, 0, "accumulated");
    Tensor r = input(ctx, 1, "residual");
    Tensor d = input(ctx, 2, "delta");
    const std::vector<int64_t> dims = dimsOf(d.get());
    if (dims.empty()) fail(TF_INVALID_ARGUMENT, "delta must have a channel dimension, got shape []");
    for (auto [t, name] : {std::pair{a.get(), "accumulated"}, std::pair{r.get(), "residual"}}) {
      if (dimsOf(t) != dims)
        fail(TF_INVALID_ARGUMENT, std::string(name) + " has shape " + shapeString(dimsOf(t)) + ", delta " +
                                      shapeString(dims) + ": they must be equal");
    }
    const int64_t C = dims.back();
    const int64_t elements = TF_TensorElementCount(d.get());
    const int64_t pixels = C == 0 ? 0 : elements / C;
    const std::vector<int64_t> maskDims(dims.begin(), dims.end() - 1);
    int64_t maskValues = 1;  // pixels, unless C is 0
    for (int64_t v : maskDims) maskValues *= v;
    const uint8_t* mask = nullptr;
    Tensor m;
    if (at.hasMask) {
      m = input(ctx, 3, "mask");
      // TF checks the dtypes against the op's definition before the kernel runs; the sizes are ours to check.
      if (TF_TensorElementCount(m.get()) != maskValues)
        fail(TF_INVALID_ARGUMENT, "mask has " + std::to_string(TF_TensorElementCount(m.get())) + " values, delta " +
                                      shapeString(dims) + " has " + std::to_string(maskValues) +
                                      " pixels: one value a pixel");
      mask = static_cast<const uint8_t*>(TF_TensorData(m.get()));
    }
    const AccumulatorOutputs out(ctx, a.get(), r.get(), dims, at.inPlace);
    const auto* dData = static_cast<const float*>(TF_TensorData(d.get()));
    parallelFor(pixels, C, [&](int64_t p0, int64_t p1) {
      const ExactSubnormals exact;
      out.clear(p0, p1);
      std::vector<float> emitted(static_cast<size_t>(C));
      withActivation(at.activation, at.alpha, [&](auto f) {
        for (int64_t p = p0; p < p1; p++) {
          if (mask != nullptr && !mask[p]) continue;  // delta zero, state kept, output already zero
          accumulatePixel(f, at.threshold, dData + p * C, out.aData + p * C, out.rData + p * C, out.outData + p * C,
                          out.outFlags + p, C, emitted.data());
        }
      });
    });
  });
}

// TfjsDeltaScatterAccumulate: the same accumulator for a delta given as the rows of its active pixels (rows [n, C],
// index [n]: increasing pixel numbers, as TfjsDeltaGatherRows lists them), so that a 1x1 delta conv's product on
// those rows never becomes a full-size tensor. Outputs as TfjsDeltaSparseAccumulate's.
void computeList(void* kernel, TF_OpKernelContext* ctx) {
  const Attrs& at = *static_cast<Attrs*>(kernel);
  reportFailures(kListOp, ctx, TF_OpKernelContext_Failure, [&] {
    Tensor rows = input(ctx, 0, "rows");
    Tensor index = input(ctx, 1, "index");
    Tensor a = input(ctx, 2, "accumulated");
    Tensor r = input(ctx, 3, "residual");
    const std::vector<int64_t> dims = dimsOf(a.get());
    if (dims.empty()) fail(TF_INVALID_ARGUMENT, "accumulated must have a channel dimension, got shape []");
    if (dimsOf(r.get()) != dims)
      fail(TF_INVALID_ARGUMENT, "residual has shape " + shapeString(dimsOf(r.get())) + ", accumulated " +
                                    shapeString(dims) + ": they must be equal");
    const int64_t C = dims.back();
    const int64_t n = TF_TensorElementCount(index.get());
    if (dimsOf(rows.get()) != std::vector<int64_t>{n, C})
      fail(TF_INVALID_ARGUMENT, "rows has shape " + shapeString(dimsOf(rows.get())) + ": it must be [" +
                                    std::to_string(n) + " (the index's length), " + std::to_string(C) + "]");
    const std::vector<int64_t> maskDims(dims.begin(), dims.end() - 1);
    int64_t pixels = 1;
    for (int64_t v : maskDims) pixels *= v;
    const auto* iv = static_cast<const int32_t*>(TF_TensorData(index.get()));
    for (int64_t i = 0; i < n; i++)
      if (iv[i] < 0 || iv[i] >= pixels || (i > 0 && iv[i] <= iv[i - 1]))
        fail(TF_INVALID_ARGUMENT, "index[" + std::to_string(i) + "] = " + std::to_string(iv[i]) +
                                      ": the pixels must be increasing and below " + std::to_string(pixels));
    const AccumulatorOutputs out(ctx, a.get(), r.get(), dims, at.inPlace);
    const auto* dRows = static_cast<const float*>(TF_TensorData(rows.get()));
    parallelFor(pixels, C, [&](int64_t p0, int64_t p1) { out.clear(p0, p1); });
    parallelFor(n, C * 4, [&](int64_t i0, int64_t i1) {
      const ExactSubnormals exact;
      std::vector<float> emitted(static_cast<size_t>(C));
      withActivation(at.activation, at.alpha, [&](auto f) {
        for (int64_t i = i0; i < i1; i++) {
          const int64_t p = iv[i];
          accumulatePixel(f, at.threshold, dRows + i * C, out.aData + p * C, out.rData + p * C, out.outData + p * C,
                          out.outFlags + p, C, emitted.data());
        }
      });
    });
  });
}

}  // namespace

void registerSparseAccumulate() {
  const std::vector<const char*> outputs = {"delta_out: float", "mask_out: bool", "accumulated_out: float",
                                            "residual_out: float"};
  // Both write their state inputs when in_place.
  registerOp({kOp,
              {"accumulated: float", "residual: float", "delta: float", "mask: bool"},
              outputs,
              {"threshold: float", "activation: string", "alpha: string = '0'", "has_mask: bool", "in_place: bool"},
              true},
             create<true>, compute, destroy);
  registerOp({kListOp,
              {"rows: float", "index: int32", "accumulated: float", "residual: float"},
              outputs,
              {"threshold: float", "activation: string", "alpha: string = '0'", "in_place: bool"},
              true},
             create<false>, computeList, destroy);
}

}  // namespace tfjs_delta_tf
