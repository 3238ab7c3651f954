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

// out[i] (float32) = the active share of bool mask i (masks[i]: device pointer, lengths[i]: bytes).
constexpr int kMaxMasks = 1024;
Napi::Value maskFractions(const Info& info) {
  const Fields f(info);
  int64_t masks[kMaxMasks], lengths[kMaxMasks];
  const int count = f.ints("masks", masks, kMaxMasks);
  if (f.ints("lengths", lengths, kMaxMasks) != count) throw Error("field 'lengths' differs in length from 'masks'");
  float* out = f.ptr<float>("out");
  if (count == 0) return f.undefined();
  if (!out) throw Error("field 'out' is a null pointer");
  const uint8_t* ptrs[kMaxMasks];
  for (int i = 0; i < count; ++i) ptrs[i] = reinterpret_cast<const uint8_t*>(static_cast<uintptr_t>(masks[i]));
  launchMaskFractions(ctx().stream, ptrs, lengths, count, out);
  return f.undefined();
}

const Entry kEntries[] = {{"reduce", reduce}, {"maskFractions", maskFractions}};

}  // namespace

void registerReduce(Napi::Env env, Napi::Object exports) { defineEntries(env, exports, kEntries); }

}  // namespace tfjs_delta
