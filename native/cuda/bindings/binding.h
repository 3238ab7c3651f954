// What the N-API binding files share: the reader of an entry's one argument (an object of named fields), the
// registration of a family's entries behind the common exception wrapper, and one register function per family.
// Device pointers travel as JS numbers (< 2^53); 0 is a null pointer.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "../common.h"

namespace tfjs_delta {

// Reads the fields of an entry's argument object by name. A missing or mistyped field throws an Error naming the
// field (the dispatch wrapper adds the entry's name), so a caller that misspells a field fails loudly instead of
// passing zeros. Each field should be read once: every read is one N-API property lookup.
class Fields {
 public:
  // The entry's single argument; throws when it is not an object.
  explicit Fields(const Napi::CallbackInfo& info);

  double number(const char* field) const;
  int64_t i64(const char* field) const { return static_cast<int64_t>(number(field)); }
  // Throws unless the value fits an int: the launchers' geometry structs hold ints.
  int i32(const char* field) const;
  float f32(const char* field) const { return static_cast<float>(number(field)); }
  bool flag(const char* field) const;
  // A boolean a caller may leave out (then `whenMissing`).
  bool optFlag(const char* field, bool whenMissing = false) const;
  template <typename T = void>
  T* ptr(const char* field) const {
    return reinterpret_cast<T*>(static_cast<uintptr_t>(number(field)));
  }
  // A pointer a caller may leave out (then null).
  template <typename T = void>
  T* optPtr(const char* field) const {
    return missing(field) ? nullptr : ptr<T>(field);
  }
  // Whether the field is absent (undefined).
  bool missing(const char* field) const;
  // An array of at most `max` numbers written to `out`; returns its length.
  int ints(const char* field, int64_t* out, int max) const;
  // A TypedArray's bytes (its view, not the whole buffer).
  void* bytes(const char* field, size_t* byteLength) const;
  // A nested object of named fields (errors name it as "outer.inner").
  Fields object(const char* field) const;

  Napi::Env env() const { return Napi::Env(env_); }
  Napi::Value undefined() const { return env().Undefined(); }

 private:
  Fields(napi_env env, napi_value obj, const char* path) : env_(env), obj_(obj), path_(path) {}
  napi_value get(const char* field) const;
  [[noreturn]] void bad(const char* field, napi_value v, const char* want) const;
  std::string pathOf(const char* field) const;  // for messages only: never built on the success path
  napi_env env_;
  napi_value obj_;
  const char* path_ = nullptr;  // the nested object's field name, for messages
};

// Shape and element strides for the kernels (`strides` null: contiguous).
Dims makeDims(const int64_t* shape, int rank, const int64_t* strides);

// The broadcast kernels' fields outShape, aStrides, bStrides (one rank, at most kMaxRank) as the Dims of a, b
// and the contiguous output.
void broadcastDims(const Fields& f, Dims* a, Dims* b, Dims* out);

// The 2-D window geometry a conv's `geometry` object carries: input n h w c, output oh ow, window kh kw, strides sh
// sw, dilations dh dw, pads pt pl, into any params struct with those members (the dense depthwise conv's, the delta
// convs').
template <typename P>
void readWindowGeometry(const Fields& g, P& p) {
  p.n = g.i32("n");
  p.h = g.i32("h");
  p.w = g.i32("w");
  p.c = g.i32("c");
  p.oh = g.i32("oh");
  p.ow = g.i32("ow");
  p.kh = g.i32("kh");
  p.kw = g.i32("kw");
  p.sh = g.i32("sh");
  p.sw = g.i32("sw");
  p.dh = g.i32("dh");
  p.dw = g.i32("dw");
  p.pt = g.i32("pt");
  p.pl = g.i32("pl");
}

using EntryFn = Napi::Value (*)(const Napi::CallbackInfo&);
struct Entry {
  const char* name;
  EntryFn fn;
};
// Exports each entry behind the wrapper that turns every C++ exception into a JS Error
// "tfjs-delta cuda.<entry>: <what>" (never a crash, never an "unknown exception"). `entries` must outlive the
// module (a static array).
void defineEntries(Napi::Env env, Napi::Object exports, const Entry* entries, size_t count);
template <size_t N>
void defineEntries(Napi::Env env, Napi::Object exports, const Entry (&entries)[N]) {
  defineEntries(env, exports, entries, N);
}

// One per family, each in the binding file of that name.
void registerContext(Napi::Env env, Napi::Object exports);
void registerAsyncRead(Napi::Env env, Napi::Object exports);
void registerFrameBytes(Napi::Env env, Napi::Object exports);
void registerElementwise(Napi::Env env, Napi::Object exports);
void registerCopy(Napi::Env env, Napi::Object exports);
void registerReduce(Napi::Env env, Napi::Object exports);
void registerPool(Napi::Env env, Napi::Object exports);
void registerConv(Napi::Env env, Napi::Object exports);
void registerMatmul(Napi::Env env, Napi::Object exports);
void registerDeltaMask(Napi::Env env, Napi::Object exports);
void registerDeltaAccumulate(Napi::Env env, Napi::Object exports);
void registerDeltaCompanion(Napi::Env env, Napi::Object exports);
void registerDeltaConv(Napi::Env env, Napi::Object exports);
void registerDeltaGated(Napi::Env env, Napi::Object exports);
void registerPlan(Napi::Env env, Napi::Object exports);

}  // namespace tfjs_delta
