// Compiled plans: the kernels one frame queues on the backend's stream, captured once into a CUDA graph and
// replayed per frame with one launch (src/stream/compile_stream.ts drives it). While a capture runs, the
// allocator serves the plan's own pool (context.cc), host uploads go through a side stream so that they happen
// now instead of being recorded, and anything that would wait on the stream (a read, a sync, a timer) fails
// with a message naming it instead of breaking the capture silently.
#include "plan.h"

#include <map>

namespace tfjs_delta {
namespace {

struct Plan {
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  size_t nodes = 0;
};
std::map<int, Plan> g_plans;
int g_nextPlan = 1;
int g_capturing = 0;
cudaStream_t g_uploadStream = nullptr;

Plan& find(const char* where, int id) {
  auto it = g_plans.find(id);
  if (it == g_plans.end()) failArg(where, "unknown plan id " + std::to_string(id) + " (destroyed?)");
  return it->second;
}

void dropGraph(Plan& p) {
  if (p.exec) cudaGraphExecDestroy(p.exec);
  if (p.graph) cudaGraphDestroy(p.graph);
  p.exec = nullptr;
  p.graph = nullptr;
}

}  // namespace

int capturingPlan() { return g_capturing; }

void refuseWhileCapturing(const char* what) {
  if (g_capturing)
    failArg(what,
            "not allowed while a compiled plan is being captured (a frame of a compiled stream must not "
            "read tensor data on the host, synchronise or time itself)");
}

void uploadNow(void* dst, const void* src, size_t bytes) {
  if (!g_uploadStream) TD_CUDA("upload", cudaStreamCreateWithFlags(&g_uploadStream, cudaStreamNonBlocking));
  TD_CUDA("upload", cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, g_uploadStream));
  TD_CUDA("upload", cudaStreamSynchronize(g_uploadStream));
}

int planBegin(Context& c) {
  if (g_capturing) failArg("planBegin", "plan " + std::to_string(g_capturing) + " is already being captured");
  TD_CUDA("planBegin", cudaGetLastError());  // a sticky error would be blamed on the capture
  // Constants of the capture are uploaded at once on their own stream into blocks that may have been freed with
  // work (or an asynchronous read) still queued on c.stream: let that work finish first. Captures are rare.
  TD_CUDA("planBegin", cudaStreamSynchronize(c.stream));
  // The capture's new blocks cannot be made room for once it runs (emptying the cache synchronises, which would
  // break the capture): the cache goes back to the driver now, so a plan fits wherever its frame's blocks do.
  c.allocator.emptyCache();
  const int id = g_nextPlan++;
  g_plans[id];
  c.allocator.beginPool(id);
  cudaError_t e = cudaStreamBeginCapture(c.stream, cudaStreamCaptureModeRelaxed);
  if (e != cudaSuccess) {
    cudaGetLastError();
    c.allocator.destroyPool(id);
    g_plans.erase(id);
    fail("planBegin", "cudaStreamBeginCapture", std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) + ")");
  }
  g_capturing = id;
  return id;
}

size_t planEnd(Context& c, int id) {
  Plan& p = find("planEnd", id);
  if (g_capturing != id) failArg("planEnd", "plan " + std::to_string(id) + " is not being captured");
  g_capturing = 0;
  c.allocator.endPool();
  cudaError_t e = cudaStreamEndCapture(c.stream, &p.graph);
  if (e == cudaSuccess) e = cudaGraphGetNodes(p.graph, nullptr, &p.nodes);
  if (e == cudaSuccess) e = cudaGraphInstantiate(&p.exec, p.graph, 0);
  if (e != cudaSuccess) {
    cudaGetLastError();
    dropGraph(p);
    c.allocator.destroyPool(id);
    g_plans.erase(id);
    if (g_plans.empty()) c.noPlansLeft();
    fail("planEnd", "cudaStreamEndCapture/cudaGraphInstantiate",
         std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) +
             "): a kernel of the frame could not be captured; the plan was dropped");
  }
  return p.nodes;
}

void planAbort(Context& c, int id) {
  if (g_capturing == id) {
    g_capturing = 0;
    c.allocator.endPool();
    cudaGraph_t g = nullptr;
    cudaStreamEndCapture(c.stream, &g);  // may fail: the capture was invalidated by the error being reported
    if (g) cudaGraphDestroy(g);
    cudaGetLastError();
  }
  auto it = g_plans.find(id);
  if (it == g_plans.end()) return;
  dropGraph(it->second);
  // The capture's kernels never ran, and no replay exists: the pool's blocks are safe to share again.
  c.allocator.destroyPool(id);
  g_plans.erase(it);
  if (g_plans.empty()) c.noPlansLeft();
}

void planLaunch(Context& c, int id) {
  refuseWhileCapturing("planLaunch");
  Plan& p = find("planLaunch", id);
  TD_CUDA("planLaunch", cudaGraphLaunch(p.exec, c.stream));
}

void planDestroy(Context& c, int id) {
  if (g_capturing == id) return planAbort(c, id);
  auto it = g_plans.find(id);
  if (it == g_plans.end()) return;
  TD_CUDA("planDestroy", cudaStreamSynchronize(c.stream));  // a replay may still read the pool
  dropGraph(it->second);
  c.allocator.destroyPool(id);
  g_plans.erase(it);
  if (g_plans.empty()) c.noPlansLeft();
}

size_t planBytes(Context& c, int id) { return c.allocator.poolBytes(id); }

}  // namespace tfjs_delta
