#include "async_read.h"

#include <cstring>
#include <unordered_map>
#include <vector>

#include "common.h"
#include "plan.h"

namespace tfjs_delta {
namespace {

struct Staging {
  void* host = nullptr;
  size_t capacity = 0;
};

struct PendingRead {
  Staging staging;
  size_t bytes = 0;
  cudaEvent_t done = nullptr;
};

// Pinned buffers are slow to allocate (a page-locking system call), so they are kept for the next reads; a video
// pipeline reads the same few sizes over and over. Events are kept the same way.
constexpr size_t kKeep = 8;
std::vector<Staging> g_free;
std::vector<cudaEvent_t> g_events;
std::unordered_map<int, PendingRead> g_pending;
int g_next = 1;

Staging takeStaging(size_t bytes) {
  size_t best = g_free.size();
  for (size_t i = 0; i < g_free.size(); ++i)
    // Best fit, and at most twice the request: a small read must not hold a frame-sized buffer.
    if (g_free[i].capacity >= bytes && g_free[i].capacity <= 2 * bytes + 4096 &&
        (best == g_free.size() || g_free[i].capacity < g_free[best].capacity))
      best = i;
  if (best < g_free.size()) {
    Staging s = g_free[best];
    g_free.erase(g_free.begin() + best);
    return s;
  }
  Staging s;
  s.capacity = bytes < 4096 ? 4096 : bytes;
  TD_CUDA("readBegin", cudaMallocHost(&s.host, s.capacity));
  return s;
}

PendingRead& pending(int ticket, const char* where) {
  auto it = g_pending.find(ticket);
  if (it == g_pending.end()) failArg(where, "unknown read ticket " + std::to_string(ticket));
  return it->second;
}

void release(PendingRead& r) {
  g_free.push_back(r.staging);
  if (r.done) g_events.push_back(r.done);
  // Keep a few buffers, not one per size ever read: past kKeep the smallest goes back to the system.
  if (g_free.size() > kKeep) {
    size_t smallest = 0;
    for (size_t i = 1; i < g_free.size(); ++i)
      if (g_free[i].capacity < g_free[smallest].capacity) smallest = i;
    cudaFreeHost(g_free[smallest].host);
    g_free.erase(g_free.begin() + smallest);
  }
}

}  // namespace

int readBegin(Context& c, const void* src, size_t bytes) {
  refuseWhileCapturing("readBegin");
  PendingRead r;
  r.bytes = bytes;
  r.staging = takeStaging(bytes);
  if (!g_events.empty()) {
    r.done = g_events.back();
    g_events.pop_back();
  } else if (cudaError_t e = cudaEventCreateWithFlags(&r.done, cudaEventDisableTiming); e != cudaSuccess) {
    r.done = nullptr;
    release(r);
    TD_CUDA("readBegin", e);
  }
  cudaError_t e = bytes ? cudaMemcpyAsync(r.staging.host, src, bytes, cudaMemcpyDeviceToHost, c.stream) : cudaSuccess;
  if (e == cudaSuccess) e = cudaEventRecord(r.done, c.stream);
  if (e != cudaSuccess) {
    // Nothing was queued behind the event, or the copy failed to queue: the buffer is free again.
    release(r);
    TD_CUDA("readBegin", e);
  }
  const int ticket = g_next++;
  g_pending.emplace(ticket, r);
  return ticket;
}

bool readReady(int ticket) {
  PendingRead& r = pending(ticket, "readReady");
  cudaError_t e = cudaEventQuery(r.done);
  if (e == cudaErrorNotReady) {
    cudaGetLastError();  // not an error: clear it so the next launch check does not report it
    return false;
  }
  TD_CUDA("readReady", e);
  return true;
}

void readFinish(int ticket, void* out, size_t bytes) {
  PendingRead& r = pending(ticket, "readFinish");
  if (bytes != r.bytes)
    failArg("readFinish", "the output holds " + std::to_string(bytes) + " bytes, the read " + std::to_string(r.bytes));
  // On failure the ticket stays pending (its buffer may still be written by the copy); readCancel releases it.
  TD_CUDA("readFinish", cudaEventSynchronize(r.done));
  if (bytes) std::memcpy(out, r.staging.host, bytes);
  release(r);
  g_pending.erase(ticket);
}

void readCancel(int ticket) {
  auto it = g_pending.find(ticket);
  if (it == g_pending.end()) return;
  if (cudaEventSynchronize(it->second.done) != cudaSuccess) cudaGetLastError();
  release(it->second);
  g_pending.erase(it);
}

size_t readStagingBytes() {
  size_t total = 0;
  for (const Staging& s : g_free) total += s.capacity;
  for (const auto& [ticket, r] : g_pending) total += r.staging.capacity;
  return total;
}

}  // namespace tfjs_delta
