// Entries of the reduction family (reduce.cu).
#include "../context.h"
#include "binding.h"

namespace tfjs_delta {
namespace {

using Info = Napi::CallbackInfo;

// x viewed as [outer, r, inner] reduced over r into float32 y; xHalf: x in half storage.
struct ReduceArgs {
  int op;
  const void* x;
  float* y;
  int64_t outer, r, inner;
  bool xHalf;
};
Napi::Value reduce(const Info& info) {
  const Fields f(info);
  ReduceArgs a;
  a.op = f.i32("op");
  a.x = f.ptr("x");
  a.y = f.ptr<float>("y");
  a.outer = f.i64("outer");
  a.r = f.i64("r");
  a.inner = f.i64("inner");
  a.xHalf = f.optFlag("xHalf");
  Context& c = ctx();
  const size_t scratch = reduceScratch(a.outer, a.r, a.inner);
  launchReduce(c.stream, a.op, a.x, a.xHalf, a.y, a.outer, a.r, a.inner,
               scratch ? c.ensureWorkspace(scratch) : nullptr);
  return f.undefined();
}

const Entry kEntries[] = {{"reduce", reduce}};

}  // namespace

void registerReduce(Napi::Env env, Napi::Object exports) { defineEntries(env, exports, kEntries); }

}  // namespace tfjs_delta
