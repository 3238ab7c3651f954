// Kernel launches with programmatic dependent launch (sm_90+). Every kernel of the addon begins with
// dependentLaunchPrologue() and is launched through launchKernel(): the next kernel in the stream is then scheduled
// while this grid's last blocks run, and its blocks wait in the prologue until this grid has finished and its writes
// are visible. Results are those of plain serialised launches (every memory access follows the wait); what changes is
// that a launch's scheduling overlaps the previous kernel's tail instead of following it (1-3% of a MobileNetV2 delta
// frame on an H100: a small kernel's cost is mostly its own latency, not its launch). cuDNN's and cuBLAS's kernels are
// launched as they launch them: a kernel of ours after one of theirs starts when theirs ends. TFJS_DELTA_CUDA_PDL=0
// turns it off.
#pragma once
#include <cuda_runtime.h>

#include <utility>

#include "common.h"

namespace tfjs_delta {

__device__ __forceinline__ void dependentLaunchPrologue() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// kernel<<<grid, block, smem, s>>>(args...), with the attribute where dependentLaunches(). Errors surface through the
// caller's TD_LAUNCHED, as a <<<>>> launch's do.
template <typename... Params, typename... Args>
void launchKernel(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t s, Args&&... args) {
  cudaLaunchAttribute attribute;
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config = {};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem;
  config.stream = s;
  config.attrs = &attribute;
  config.numAttrs = dependentLaunches() ? 1 : 0;
  cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
}

}  // namespace tfjs_delta
