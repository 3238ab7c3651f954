// Entries of the reduction family (reduce.cu).
#include <vector>

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

// out[i] (float32) = the active share of bool mask i (masks[i]: device pointer, lengths[i]: bytes), or with
// windows (13 ints a mask: n, h, w, oh, ow, kh, kw, sh, sw, pt, pl, dh, dw; lengths then unused) the share of the
// window's output pixels that reach a nonzero byte.
constexpr int kMaxMasks = 1024, kWindowInts = 13;
Napi::Value maskFractions(const Info& info) {
  const Fields f(info);
  std::vector<int64_t> masks(kMaxMasks), lengths(kMaxMasks), windowInts;
  const int count = f.ints("masks", masks.data(), kMaxMasks);
  const bool windowed = !f.missing("windows");
  if (windowed && !f.missing("lengths")) throw Error("give 'lengths' or 'windows', not both");
  if (windowed) {
    windowInts.resize((size_t)kMaxMasks * kWindowInts);
    if (f.ints("windows", windowInts.data(), kMaxMasks * kWindowInts) != count * kWindowInts)
      throw Error("field 'windows' must hold 13 integers a mask");
  } else if (f.ints("lengths", lengths.data(), kMaxMasks) != count) {
    throw Error("field 'lengths' differs in length from 'masks'");
  }
  float* out = f.ptr<float>("out");
  if (count == 0) return f.undefined();
  if (!out) throw Error("field 'out' is a null pointer");
  std::vector<const uint8_t*> ptrs(count);
  std::vector<MaskWindow> windows(count);
  for (int i = 0; i < count; ++i) {
    ptrs[i] = reinterpret_cast<const uint8_t*>(static_cast<uintptr_t>(masks[i]));
    if (!windowed) {
      windows[i] = maskWindowOf(lengths[i]);
      continue;
    }
    int v[kWindowInts];
    for (int k = 0; k < kWindowInts; ++k) {
      const int64_t x = windowInts[i * kWindowInts + k];
      if (x < INT32_MIN || x > INT32_MAX)
        throw Error("field 'windows' holds a value outside 32 bits (counts take fewer than 2^31 pixels a mask)");
      v[k] = (int)x;
    }
    windows[i] = MaskWindow{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12]};
  }
  Context& c = ctx();
  launchMaskFractions(c.stream, ptrs.data(), windows.data(), count, out,
                      c.ensureWorkspace(maskFractionsScratch(windows.data(), count)));
  return f.undefined();
}

const Entry kEntries[] = {{"reduce", reduce}, {"maskFractions", maskFractions}};

}  // namespace

void registerReduce(Napi::Env env, Napi::Object exports) { defineEntries(env, exports, kEntries); }

}  // namespace tfjs_delta
