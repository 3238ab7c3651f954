// Entries of the asynchronous reads (async_read.cc): begin, poll, finish, cancel.
#include "../async_read.h"
#include "binding.h"

namespace tfjs_delta {
namespace {

using Info = Napi::CallbackInfo;

struct ReadBeginArgs {
  const void* src;
  size_t bytes;
};
Napi::Value readBeginFn(const Info& info) {
  const Fields f(info);
  ReadBeginArgs a;
  a.src = f.ptr("src");
  const int64_t bytes = f.i64("bytes");
  if (bytes < 0) failArg("readBegin", "bytes must be >= 0, got " + std::to_string(bytes));
  a.bytes = static_cast<size_t>(bytes);
  return Napi::Number::New(f.env(), readBegin(ctx(), a.src, a.bytes));
}

Napi::Value readReadyFn(const Info& info) {
  const Fields f(info);
  return Napi::Boolean::New(f.env(), readReady(f.i32("ticket")));
}

struct ReadFinishArgs {
  int ticket;
  void* out;
  size_t bytes;
};
Napi::Value readFinishFn(const Info& info) {
  const Fields f(info);
  ReadFinishArgs a;
  a.ticket = f.i32("ticket");
  a.out = f.bytes("out", &a.bytes);
  readFinish(a.ticket, a.out, a.bytes);
  return f.undefined();
}

Napi::Value readCancelFn(const Info& info) {
  const Fields f(info);
  readCancel(f.i32("ticket"));
  return f.undefined();
}

const Entry kEntries[] = {
    {"readBegin", readBeginFn},
    {"readReady", readReadyFn},
    {"readFinish", readFinishFn},
    {"readCancel", readCancelFn},
};

}  // namespace

void registerAsyncRead(Napi::Env env, Napi::Object exports) { defineEntries(env, exports, kEntries); }

}  // namespace tfjs_delta
