// Entries of the pooling family (pool.cu).
#include "../context.h"
#include "binding.h"

namespace tfjs_delta {
namespace {

using Info = Napi::CallbackInfo;

// 2D pools pass d = od = kd = sd = dd = 1 and pf = 0. splitWindow (optional): large windows on the split kernel.
// Returns whether the split kernel ran.
struct PoolArgs {
  bool isMax;
  const void* x;
  void* y;
  PoolParams p;
  bool half;
  bool splitWindow;
};
Napi::Value pool(const Info& info) {
  const Fields f(info);
  PoolArgs a;
  a.isMax = f.flag("isMax");
  a.x = f.ptr("x");
  a.y = f.ptr("y");
  PoolParams& p = a.p;
  p.n = f.i64("n");
  p.d = f.i64("d");
  p.h = f.i64("h");
  p.w = f.i64("w");
  p.c = f.i64("c");
  p.od = f.i64("od");
  p.oh = f.i64("oh");
  p.ow = f.i64("ow");
  p.kd = f.i32("kd");
  p.kh = f.i32("kh");
  p.kw = f.i32("kw");
  p.sd = f.i32("sd");
  p.sh = f.i32("sh");
  p.sw = f.i32("sw");
  p.dd = f.i32("dd");
  p.dh = f.i32("dh");
  p.dw = f.i32("dw");
  p.pf = f.i32("pf");
  p.pt = f.i32("pt");
  p.pl = f.i32("pl");
  a.half = f.optFlag("half");
  a.splitWindow = f.optFlag("splitWindow");
  const bool split = launchPool(ctx().stream, a.isMax, a.x, a.y, a.p, a.half, a.splitWindow);
  return Napi::Boolean::New(info.Env(), split);
}

const Entry kEntries[] = {{"pool", pool}};

}  // namespace

void registerPool(Napi::Env env, Napi::Object exports) { defineEntries(env, exports, kEntries); }

}  // namespace tfjs_delta
