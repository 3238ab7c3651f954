// Matrix-multiplication family through cuBLAS: row-major batched GEMM (MatMul, BatchMatMul, _FusedMatMul).
// Row-major C = A*B is computed as column-major C^T = B^T * A^T. TF32 tensor cores unless strict fp32.
#include "context.h"

namespace tfjs_delta {

void gemm(const float* a, const float* b, float* c, int64_t batch, int64_t m, int64_t n, int64_t k, bool transA,
          bool transB, int64_t strideA, int64_t strideB) {
  Context& cx = ctx();
  if (batch == 0 || m == 0 || n == 0) return;
  if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX || batch > INT32_MAX) failArg("gemm", "dimension too large");
  if (k == 0) {  // empty inner dimension: zeros
    launchFill(cx.stream, c, DT_FLOAT32, batch * m * n, 0.0);
    return;
  }
  const float one = 1.f, zero = 0.f;
  const int lda = (int)(transA ? m : k), ldb = (int)(transB ? k : n);
  TD_CUBLAS("gemm", cublasGemmStridedBatchedEx(
                        cx.cublas, transB ? CUBLAS_OP_T : CUBLAS_OP_N, transA ? CUBLAS_OP_T : CUBLAS_OP_N, (int)n,
                        (int)m, (int)k, &one, b, CUDA_R_32F, ldb, strideB, a, CUDA_R_32F, lda, strideA, &zero, c,
                        CUDA_R_32F, (int)n, m * n, (int)batch,
                        cx.allowTF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace tfjs_delta
