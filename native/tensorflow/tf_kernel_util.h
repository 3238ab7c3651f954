// Helpers for kernels written against TensorFlow's C API (tensorflow/c/kernels.h): failures reported through the
// kernel context with the op's name, inputs that release themselves, and attribute reads.
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include "tf_c_api.h"

namespace tfjs_delta_tf {

struct StatusDeleter {
  void operator()(TF_Status* s) const { TF_DeleteStatus(s); }
};
using Status = std::unique_ptr<TF_Status, StatusDeleter>;
inline Status newStatus() { return Status(TF_NewStatus()); }

struct TensorDeleter {
  void operator()(TF_Tensor* t) const { TF_DeleteTensor(t); }
};
using Tensor = std::unique_ptr<TF_Tensor, TensorDeleter>;

// An error raised inside a kernel; the compute function turns it into the context's failure.
struct KernelError {
  TF_Code code;
  std::string message;
};

inline void fail(TF_Code code, const std::string& message) { throw KernelError{code, message}; }

inline void check(TF_Status* status, const std::string& what) {
  if (TF_GetCode(status) != TF_OK) fail(TF_GetCode(status), what + ": " + TF_Message(status));
}

inline Tensor input(TF_OpKernelContext* ctx, int i, const char* name) {
  auto status = newStatus();
  TF_Tensor* t = nullptr;
  TF_GetInput(ctx, i, &t, status.get());
  check(status.get(), std::string("reading input '") + name + "'");
  return Tensor(t);
}

inline Tensor allocateOutput(TF_OpKernelContext* ctx, int i, TF_DataType dtype, const std::vector<int64_t>& dims,
                             size_t bytes, const char* name) {
  auto status = newStatus();
  TF_Tensor* t = TF_AllocateOutput(ctx, i, dtype, dims.data(), static_cast<int>(dims.size()), bytes, status.get());
  check(status.get(), std::string("allocating output '") + name + "'");
  return Tensor(t);
}

inline void setOutput(TF_OpKernelContext* ctx, int i, TF_Tensor* t, const char* name) {
  auto status = newStatus();
  TF_SetOutput(ctx, i, t, status.get());
  check(status.get(), std::string("setting output '") + name + "'");
}

inline std::vector<int64_t> dimsOf(const TF_Tensor* t) {
  std::vector<int64_t> dims(TF_NumDims(t));
  for (size_t i = 0; i < dims.size(); i++) dims[i] = TF_Dim(t, static_cast<int>(i));
  return dims;
}

inline std::string shapeString(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); i++) s += (i ? "," : "") + std::to_string(dims[i]);
  return s + "]";
}

inline int64_t attrInt(TF_OpKernelConstruction* ctx, const char* name) {
  auto status = newStatus();
  int64_t v = 0;
  TF_OpKernelConstruction_GetAttrInt64(ctx, name, &v, status.get());
  check(status.get(), std::string("attribute '") + name + "'");
  return v;
}

inline float attrFloat(TF_OpKernelConstruction* ctx, const char* name) {
  auto status = newStatus();
  float v = 0;
  TF_OpKernelConstruction_GetAttrFloat(ctx, name, &v, status.get());
  check(status.get(), std::string("attribute '") + name + "'");
  return v;
}

inline bool attrBool(TF_OpKernelConstruction* ctx, const char* name) {
  auto status = newStatus();
  TF_Bool v = 0;
  TF_OpKernelConstruction_GetAttrBool(ctx, name, &v, status.get());
  check(status.get(), std::string("attribute '") + name + "'");
  return v != 0;
}

inline std::string attrString(TF_OpKernelConstruction* ctx, const char* name) {
  auto status = newStatus();
  int32_t listSize = 0;
  int32_t totalSize = 0;
  TF_OpKernelConstruction_GetAttrSize(ctx, name, &listSize, &totalSize, status.get());
  check(status.get(), std::string("attribute '") + name + "'");
  std::string v(static_cast<size_t>(totalSize), '\0');
  TF_OpKernelConstruction_GetAttrString(ctx, name, v.data(), v.size(), status.get());
  check(status.get(), std::string("attribute '") + name + "'");
  return v;
}

// Runs `body`, reporting a KernelError (or any other exception) through `failure` (the context's Failure
// function), the message prefixed by the op's name.
template <class Context, class Body>
void reportFailures(const char* op, Context* ctx, void (*failure)(Context*, TF_Status*), Body&& body) {
  auto status = newStatus();
  try {
    body();
    return;
  } catch (const KernelError& e) {
    TF_SetStatus(status.get(), e.code, (std::string(op) + ": " + e.message).c_str());
  } catch (const std::exception& e) {
    TF_SetStatus(status.get(), TF_INTERNAL, (std::string(op) + ": " + e.what()).c_str());
  }
  failure(ctx, status.get());
}

// The CPUs this process may run on (its affinity mask, as taskset and cpusets set it), at least 1.
inline int64_t usableCpus() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
  return std::max<int64_t>(1, std::thread::hardware_concurrency());
}

// Runs body(begin, end) over [0, items) split into contiguous ranges, one a thread, where the work (items x
// elementsPerItem) is large enough to pay for starting threads (tens of microseconds each): TF's own CPU kernels run
// on every core, and the C API lends no thread pool. Every thread is joined before this returns or rethrows the
// first exception a range threw; a range whose thread cannot be started runs on the calling thread.
template <class Body>
void parallelFor(int64_t items, int64_t elementsPerItem, Body&& body) {
  constexpr int64_t kElementsPerThread = 1 << 16;
  constexpr int64_t kMaxThreads = 16;
  static const int64_t cpus = std::min(usableCpus(), kMaxThreads);
  const int64_t threads = std::max<int64_t>(1, std::min(cpus, items * elementsPerItem / kElementsPerThread));
  const int64_t step = (items + threads - 1) / threads;
  std::mutex failed;
  std::exception_ptr error;
  auto guarded = [&](int64_t begin, int64_t end) {
    try {
      body(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(failed);
      if (!error) error = std::current_exception();
    }
  };
  std::vector<std::thread> helpers;
  for (int64_t t = 1; t < threads && t * step < items; t++) {
    const int64_t begin = t * step, end = std::min(items, (t + 1) * step);
    try {
      helpers.emplace_back(guarded, begin, end);
    } catch (...) {
      guarded(begin, end);
    }
  }
  guarded(0, std::min(items, step));
  for (auto& h : helpers) h.join();
  if (error) std::rethrow_exception(error);
}

// Clears the x86 flush-to-zero and denormals-are-zero modes for its scope (TF's executor sets them around kernels;
// threads started inside inherit them), so that subnormal values are computed as the JavaScript reference computes
// them.
class ExactSubnormals {
 public:
#if defined(__x86_64__) || defined(__i386__)
  ExactSubnormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ & ~(kFlushToZero | kDenormalsAreZero)); }
  ~ExactSubnormals() { _mm_setcsr(saved_); }

 private:
  static constexpr unsigned kFlushToZero = 1u << 15, kDenormalsAreZero = 1u << 6;
  unsigned saved_;
#endif
};

// An op and its CPU kernel, registered into TF. The specs are TF_OpDefinitionBuilder's ("name: type", "name: type =
// default"); `stateful` marks an op that writes an input (never merged or reordered as a pure function).
struct OpDefinition {
  const char* name;
  std::vector<const char*> inputs, outputs, attrs;
  bool stateful;
};

inline void registerOp(const OpDefinition& def, void* (*create)(TF_OpKernelConstruction*),
                       void (*compute)(void*, TF_OpKernelContext*), void (*destroy)(void*)) {
  auto status = newStatus();
  TF_OpDefinitionBuilder* op = TF_NewOpDefinitionBuilder(def.name);
  for (const char* spec : def.inputs) TF_OpDefinitionBuilderAddInput(op, spec);
  for (const char* spec : def.outputs) TF_OpDefinitionBuilderAddOutput(op, spec);
  for (const char* spec : def.attrs) TF_OpDefinitionBuilderAddAttr(op, spec);
  TF_OpDefinitionBuilderSetIsStateful(op, def.stateful);
  TF_OpDefinitionBuilderSetShapeInferenceFunction(op, TF_ShapeInferenceContextSetUnknownShape);
  TF_RegisterOpDefinition(op, status.get());
  check(status.get(), std::string("registering op ") + def.name);
  TF_KernelBuilder* builder = TF_NewKernelBuilder(def.name, "CPU", create, compute, destroy);
  TF_RegisterKernelBuilder(def.name, builder, status.get());
  check(status.get(), std::string("registering the CPU kernel of ") + def.name);
}

}  // namespace tfjs_delta_tf
