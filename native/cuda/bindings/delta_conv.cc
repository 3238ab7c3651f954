// Entries of the delta convolution family (delta_conv.cu, delta_conv_tc.cu) and its fused blocks (delta_fused.cu,
// delta_pointwise.cu).
#include "../context.h"
#include "../delta.h"
#include "binding.h"

namespace tfjs_delta {
namespace {

using Info = Napi::CallbackInfo;

// The `geometry` object shared by deltaConv and deltaConvMask: mode (0 regular, 1 depthwise, 2 transposed), input
// n h w c, output oh ow co, window kh kw, strides sh sw, dilations dh dw, pads pt pl, depthwise multiplier mult.
DeltaConvParams geometry(const Fields& outer) {
  const Fields f = outer.object("geometry");
  DeltaConvParams p{};
  readWindowGeometry(f, p);
  p.mode = f.i32("mode");
  p.co = f.i32("co");
  p.mult = f.i32("mult");
  return p;
}

// A tiled launch's tile list (launchDeltaConv's `tiles`): its scratch in the context's workspace where a list may run
// (tileListWaves >= 0, `eligible`: a masked input and lazy zeros, and a non-empty output), else none.
TileList tileListFor(Context& c, const DeltaConvParams& p, int waves, bool eligible) {
  TileList tiles{nullptr, waves};
  if (waves >= 0 && eligible && p.n > 0 && p.oh > 0 && p.ow > 0)
    tiles.scratch = static_cast<int*>(c.ensureWorkspace((size_t)tileListInts(p) * sizeof(int)));
  return tiles;
}

// mask 0: dense input. bias non-zero: every output written (a dense result). act, alpha (optional; UnaryOp code,
// default linear): y = act(conv + bias) at every output written (a bias or a dense input). outMask 0: no output mask.
// packedFilter: the filter from deltaConvPackFilter (regular convs; with a bias on a dense input only), else 0.
// mmaPartial (optional): the mma kernel takes co % 4 == 0 too. accumulateList, accumulateMask (optional, 0: none): the
// list of the sparseAccumulate that follows (1 + output pixels int32s) and its output mask (launchDeltaConv's
// AccumulateList). tileListWaves (optional, default -1: never): the tiled kernel runs over a list of its active tiles
// where it would launch more than this many times the blocks the GPU holds at once (0: wherever it can); the list lives
// in the context's workspace.
struct DeltaConvArgs {
  DeltaConvParams p;
  const float* x;
  const uint8_t* mask;
  const float* filter;
  ConvEpilogue ep;
  const float* packedFilter;
  float* y;
  uint8_t* outMask;
  bool writeZeros;
  bool mmaPartial;
  AccumulateList acc;
  int tileListWaves;
};
// Returns which kernel ran: 0 CUDA cores, 1 TF32 WMMA, 2 TF32 mma.sync, plus 8 where it ran over a tile list
// (DeltaConvKernel).
Napi::Value deltaConv(const Info& info) {
  const Fields f(info);
  DeltaConvArgs a;
  a.p = geometry(f);
  a.x = f.ptr<const float>("x");
  a.mask = f.ptr<const uint8_t>("mask");
  a.filter = f.ptr<const float>("filter");
  a.ep.bias = f.ptr<const float>("bias");
  a.ep.act = f.missing("act") ? U_LINEAR : f.i32("act");
  a.ep.alpha = f.missing("alpha") ? 0.f : (float)f.number("alpha");
  a.packedFilter = f.ptr<const float>("packedFilter");
  a.y = f.ptr<float>("y");
  a.outMask = f.ptr<uint8_t>("outMask");
  a.writeZeros = f.flag("writeZeros");
  a.mmaPartial = f.optFlag("mmaPartial");
  a.acc.scratch = f.optPtr<int>("accumulateList");
  a.acc.outMask = f.optPtr<uint8_t>("accumulateMask");
  a.tileListWaves = f.missing("tileListWaves") ? -1 : f.i32("tileListWaves");
  Context& c = ctx();
  const TileList tiles = tileListFor(
      c, a.p, a.tileListWaves, a.mask != nullptr && !a.writeZeros && a.ep.bias == nullptr && a.p.mode == DC_REGULAR);
  const int ran = launchDeltaConv(c.stream, a.p, a.x, a.mask, a.filter, a.ep, a.packedFilter, a.y, a.outMask,
                                  a.writeZeros, c.allowTF32, a.mmaPartial, a.acc, tiles);
  return Napi::Number::New(info.Env(), ran);
}

// Only the output mask (mask 0: every input pixel active).
struct DeltaConvMaskArgs {
  DeltaConvParams p;
  const uint8_t* mask;
  uint8_t* outMask;
};
Napi::Value deltaConvMask(const Info& info) {
  const Fields f(info);
  DeltaConvMaskArgs a;
  a.p = geometry(f);
  a.mask = f.ptr<const uint8_t>("mask");
  a.outMask = f.ptr<uint8_t>("outMask");
  launchDeltaConvMask(ctx().stream, a.p, a.mask, a.outMask);
  return f.undefined();
}

// A regular conv's filter [kh, kw, c, co] (co % 32 == 0) rounded to TF32 into the mma kernel's layout; `out`
// holds co * ceil(c / 16) * 16 * kh * kw floats.
struct DeltaConvPackFilterArgs {
  DeltaConvParams p;  // kh, kw, c, co
  const float* filter;
  float* out;
};
Napi::Value deltaConvPackFilter(const Info& info) {
  const Fields f(info);
  DeltaConvPackFilterArgs a;
  a.p = DeltaConvParams{};
  a.p.mode = DC_REGULAR;
  a.p.kh = f.i32("kh");
  a.p.kw = f.i32("kw");
  a.p.c = f.i32("c");
  a.p.co = f.i32("co");
  a.filter = f.ptr<const float>("filter");
  a.out = f.ptr<float>("out");
  launchPackFilterTf32(ctx().stream, a.p, a.filter, a.out);
  return f.undefined();
}

// A depthwise or small regular delta conv with sparseAccumulate as its epilogue (launchConvAccumulate), updating a
// and r in place; mask 0: dense input. halfState: a and r hold IEEE halves. scratch: 1 + 2 x output pixels int32s for
// a pixel list (0: none); returns whether the list ran (pixel_list.cuh: where x has a mask).
struct ConvAccumulateArgs {
  DeltaConvParams p;
  const float* x;
  const uint8_t* mask;
  const float* w;
  void* a;
  void* r;
  float* outD;
  uint8_t* outMask;
  double threshold;
  int act;
  double alpha;
  bool writeZeros, halfState;
  int* scratch;
};
Napi::Value deltaConvAccumulate(const Info& info) {
  const Fields f(info);
  ConvAccumulateArgs a;
  a.p = geometry(f);
  a.x = f.ptr<const float>("x");
  a.mask = f.ptr<const uint8_t>("mask");
  a.w = f.ptr<const float>("w");
  a.a = f.ptr<void>("a");
  a.r = f.ptr<void>("r");
  a.outD = f.ptr<float>("outD");
  a.outMask = f.ptr<uint8_t>("outMask");
  a.threshold = f.number("threshold");
  a.act = f.i32("act");
  a.alpha = f.number("alpha");
  a.writeZeros = f.flag("writeZeros");
  a.halfState = f.flag("halfState");
  a.scratch = f.ptr<int>("scratch");
  const bool listed = launchConvAccumulate(ctx().stream, a.p, a.x, a.mask, a.w, a.a, a.r, a.outD, a.outMask,
                                           a.threshold, a.act, a.alpha, a.writeZeros, a.halfState, a.scratch);
  return Napi::Boolean::New(info.Env(), listed);
}

// Whether deltaConvAccumulate takes `geometry`.
Napi::Value deltaConvAccumulateFits(const Info& info) {
  const Fields f(info);
  return Napi::Boolean::New(info.Env(), convAccumulateFits(geometry(f)));
}

// A 1x1 delta conv with sparseAccumulate as the tiled kernel's epilogue (launchConvMmaAccumulate), updating a and r in
// place; mask 0: dense input; filter and packedFilter (0: none) as deltaConv's; halfState: a and r hold IEEE halves;
// mmaPartial, tileListWaves (optional) as deltaConv's. Returns deltaConv's kernel code (2, plus 8 over a tile list).
struct ConvMmaAccumulateArgs {
  DeltaConvParams p;
  const float* x;
  const uint8_t* mask;
  const float* filter;
  const float* packedFilter;
  void* a;
  void* r;
  float* outD;
  uint8_t* outMask;
  double threshold;
  int act;
  double alpha;
  bool writeZeros, halfState, mmaPartial;
  int tileListWaves;
};
Napi::Value deltaConvMmaAccumulate(const Info& info) {
  const Fields f(info);
  ConvMmaAccumulateArgs a;
  a.p = geometry(f);
  a.x = f.ptr<const float>("x");
  a.mask = f.ptr<const uint8_t>("mask");
  a.filter = f.ptr<const float>("filter");
  a.packedFilter = f.ptr<const float>("packedFilter");
  a.a = f.ptr<void>("a");
  a.r = f.ptr<void>("r");
  a.outD = f.ptr<float>("outD");
  a.outMask = f.ptr<uint8_t>("outMask");
  a.threshold = f.number("threshold");
  a.act = f.i32("act");
  a.alpha = f.number("alpha");
  a.writeZeros = f.flag("writeZeros");
  a.halfState = f.flag("halfState");
  a.mmaPartial = f.optFlag("mmaPartial");
  a.tileListWaves = f.missing("tileListWaves") ? -1 : f.i32("tileListWaves");
  Context& c = ctx();
  const TileList tiles = tileListFor(c, a.p, a.tileListWaves, a.mask != nullptr && !a.writeZeros);
  const int ran =
      launchConvMmaAccumulate(c.stream, a.p, a.x, a.mask, a.filter, a.packedFilter, a.a, a.r, a.outD, a.outMask,
                              a.threshold, a.act, a.alpha, a.writeZeros, a.halfState, c.allowTF32, a.mmaPartial, tiles);
  return Napi::Number::New(info.Env(), ran);
}

// Whether deltaConvMmaAccumulate takes `geometry` with these arguments (packed: a packed filter is passed).
Napi::Value deltaConvMmaAccumulateFits(const Info& info) {
  const Fields f(info);
  return Napi::Boolean::New(info.Env(), convMmaAccumulateFits(geometry(f), f.flag("packed"), f.optFlag("mmaPartial"),
                                                              ctx().allowTF32, f.i32("act")));
}

// The pointwise delta block (1x1, stride 1) with sparseAccumulate as its epilogue, updating a and r in place, over
// a work list of the active pixels; packedFilter from deltaConvPackFilter; scratch: deltaPointwiseScratchInts ints.
struct PointwiseAccumulateArgs {
  DeltaConvParams p;
  const float* x;
  const uint8_t* mask;
  const float* packedFilter;
  float* a;
  float* r;
  float* outD;
  uint8_t* outMask;
  int* scratch;
  double threshold;
  int act;
  double alpha;
  bool writeZeros;
};
Napi::Value deltaPointwiseAccumulate(const Info& info) {
  const Fields f(info);
  PointwiseAccumulateArgs a;
  a.p = geometry(f);
  a.x = f.ptr<const float>("x");
  a.mask = f.ptr<const uint8_t>("mask");
  a.packedFilter = f.ptr<const float>("packedFilter");
  a.a = f.ptr<float>("a");
  a.r = f.ptr<float>("r");
  a.outD = f.ptr<float>("outD");
  a.outMask = f.ptr<uint8_t>("outMask");
  a.scratch = f.ptr<int>("scratch");
  a.threshold = f.number("threshold");
  a.act = f.i32("act");
  a.alpha = f.number("alpha");
  a.writeZeros = f.flag("writeZeros");
  launchPointwiseAccumulate(ctx().stream, a.p, a.x, a.mask, a.packedFilter, a.a, a.r, a.outD, a.outMask, a.scratch,
                            a.threshold, a.act, a.alpha, a.writeZeros);
  return f.undefined();
}

// The int32 scratch deltaPointwiseAccumulate needs for `geometry`, or -1 when the kernel does not take it.
Napi::Value deltaPointwiseScratchInts(const Info& info) {
  const Fields f(info);
  const DeltaConvParams p = geometry(f);
  return Napi::Number::New(info.Env(), pointwiseAccumulateFits(p) ? (double)pointwiseAccumulateScratchInts(p) : -1.0);
}

const Entry kEntries[] = {
    {"deltaConv", deltaConv},
    {"deltaConvMask", deltaConvMask},
    {"deltaConvPackFilter", deltaConvPackFilter},
    {"deltaConvAccumulate", deltaConvAccumulate},
    {"deltaConvAccumulateFits", deltaConvAccumulateFits},
    {"deltaConvMmaAccumulate", deltaConvMmaAccumulate},
    {"deltaConvMmaAccumulateFits", deltaConvMmaAccumulateFits},
    {"deltaPointwiseAccumulate", deltaPointwiseAccumulate},
    {"deltaPointwiseScratchInts", deltaPointwiseScratchInts},
};

}  // namespace

void registerDeltaConv(Napi::Env env, Napi::Object exports) { defineEntries(env, exports, kEntries); }

}  // namespace tfjs_delta
