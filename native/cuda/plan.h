// Compiled plans (CUDA-graph capture and replay of one frame's kernels); see plan.cc.
#pragma once
#include "context.h"

namespace tfjs_delta {

int capturingPlan();  // the plan being captured, 0 when none
// Throws (naming `what`) while a capture runs: for reads, syncs and timers, which would break it.
void refuseWhileCapturing(const char* what);
// A host-to-device copy that happens now, outside the capture (a constant the captured kernels read).
void uploadNow(void* dst, const void* src, size_t bytes);

int planBegin(Context& c);             // starts capturing the stream into a new plan; returns its id
size_t planEnd(Context& c, int id);    // ends the capture, instantiates the graph; returns its node count
void planAbort(Context& c, int id);    // ends a failed capture and forgets the plan
void planLaunch(Context& c, int id);   // one replay, queued on the stream
void planDestroy(Context& c, int id);  // waits for replays, frees the graph and returns the pool's memory
size_t planBytes(Context& c, int id);  // device bytes owned by the plan's pool

}  // namespace tfjs_delta
