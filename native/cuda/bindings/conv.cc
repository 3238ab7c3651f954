// Entries of the convolution family: cuDNN (conv.cc, conv_graph.cc) and the depthwise kernel (depthwise.cu).
#include <string>

#include "../context.h"
#include "binding.h"

namespace tfjs_delta {
namespace {

using Info = Napi::CallbackInfo;

// A spatial field of `nd` numbers; the dims past nd keep `unused` (ConvArgs holds three).
void spatial(const Fields& f, const char* field, int nd, int64_t unused, int64_t* out) {
  int64_t v[3];
  const int got = f.ints(field, v, 3);
  if (got != nd)
    throw Error(std::string("field '") + field + "' must hold nd = " + std::to_string(nd) + " numbers, got " +
                std::to_string(got));
  for (int i = 0; i < 3; ++i) out[i] = i < nd ? v[i] : unused;
}
void spatial(const Fields& f, const char* field, int nd, int unused, int* out) {
  int64_t v[3];
  spatial(f, field, nd, unused, v);
  for (int i = 0; i < 3; ++i) {
    if (v[i] < -(int64_t(1) << 30) || v[i] > (int64_t(1) << 30))
      throw Error(std::string("field '") + field + "' out of range");
    out[i] = static_cast<int>(v[i]);
  }
}

// x NDHWC, w KTRSC (filter), y NDHWC; backwardData: y is the input and x the output (the transposed conv).
// Spatial fields (xs, ys, ws, pad, stride, dil) hold nd numbers.
Napi::Value conv(const Info& info) {
  const Fields f(info);
  ConvArgs a{};
  a.nd = f.i32("nd");
  if (a.nd != 2 && a.nd != 3) throw Error("field 'nd' must be 2 or 3, got " + std::to_string(a.nd));
  a.backwardData = f.flag("backwardData");
  a.n = f.i64("n");
  a.c = f.i64("c");
  a.k = f.i64("k");
  a.groups = f.i64("groups");
  spatial(f, "xs", a.nd, int64_t(1), a.xs);
  spatial(f, "ys", a.nd, int64_t(1), a.ys);
  spatial(f, "ws", a.nd, int64_t(1), a.ws);
  spatial(f, "pad", a.nd, 0, a.pad);
  if (f.missing("padAfter"))
    for (int i = 0; i < 3; ++i) a.padAfter[i] = a.pad[i];
  else
    spatial(f, "padAfter", a.nd, 0, a.padAfter);
  spatial(f, "stride", a.nd, 1, a.stride);
  spatial(f, "dil", a.nd, 1, a.dil);
  a.x = f.ptr("x");
  a.w = f.ptr("w");
  a.y = f.ptr("y");
  a.half = f.optFlag("half");
  return Napi::Boolean::New(f.env(), convolution(a));
}

Napi::Value convPlansEntry(const Info& info) {
  auto plans = convPlans();
  Napi::Array a = Napi::Array::New(info.Env(), plans.size());
  for (size_t i = 0; i < plans.size(); ++i) {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("key", plans[i].key);
    o.Set("algo", plans[i].algo);
    o.Set("workspace", (double)plans[i].workspace);
    o.Set("mathType", plans[i].mathType);
    a.Set((uint32_t)i, o);
  }
  return a;
}

// y = act(depthwise(x, w) + bias), channel multiplier 1, NHWC (depthwise.cu): geometry n h w c oh ow kh kw sh sw dh dw
// pt pl; w [kh, kw, c]; bias 0 or [c]; act a UnaryOp; xHalf / yHalf: half storage.
Napi::Value depthwiseConv(const Info& info) {
  const Fields f(info);
  DepthwiseParams p{};
  readWindowGeometry(f.object("geometry"), p);
  launchDepthwiseConv(ctx().stream, p, f.ptr<const void>("x"), f.optFlag("xHalf"), f.ptr<const float>("w"),
                      f.ptr<const float>("bias"), f.ptr<void>("y"), f.optFlag("yHalf"), f.i32("act"), f.f32("alpha"));
  return f.undefined();
}

const Entry kEntries[] = {{"conv", conv}, {"convPlans", convPlansEntry}, {"depthwiseConv", depthwiseConv}};

}  // namespace

void registerConv(Napi::Env env, Napi::Object exports) { defineEntries(env, exports, kEntries); }

}  // namespace tfjs_delta
