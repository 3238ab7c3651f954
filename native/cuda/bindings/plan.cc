// Entries of the compiled-plan family (plan.cc): CUDA-graph capture and replay of one frame's kernels.
#include "../plan.h"
#include "binding.h"

namespace tfjs_delta {
namespace {

using Info = Napi::CallbackInfo;

struct PlanArgs {
  int plan;  // the id planBegin returned
};
PlanArgs planArgs(const Info& info) {
  const Fields f(info);
  PlanArgs a;
  a.plan = f.i32("plan");
  return a;
}

Napi::Value beginEntry(const Info& info) { return Napi::Number::New(info.Env(), planBegin(ctx())); }

// Returns the graph's node count.
Napi::Value endEntry(const Info& info) {
  const PlanArgs a = planArgs(info);
  return Napi::Number::New(info.Env(), (double)planEnd(ctx(), a.plan));
}

Napi::Value abortEntry(const Info& info) {
  const PlanArgs a = planArgs(info);
  planAbort(ctx(), a.plan);
  return info.Env().Undefined();
}

Napi::Value launchEntry(const Info& info) {
  const PlanArgs a = planArgs(info);
  planLaunch(ctx(), a.plan);
  return info.Env().Undefined();
}

Napi::Value destroyEntry(const Info& info) {
  const PlanArgs a = planArgs(info);
  planDestroy(ctx(), a.plan);
  return info.Env().Undefined();
}

Napi::Value bytesEntry(const Info& info) {
  const PlanArgs a = planArgs(info);
  return Napi::Number::New(info.Env(), (double)planBytes(ctx(), a.plan));
}

const Entry kEntries[] = {
    {"planBegin", beginEntry},   {"planEnd", endEntry},         {"planAbort", abortEntry},
    {"planLaunch", launchEntry}, {"planDestroy", destroyEntry}, {"planBytes", bytesEntry},
};

}  // namespace

void registerPlan(Napi::Env env, Napi::Object exports) { defineEntries(env, exports, kEntries); }

}  // namespace tfjs_delta
